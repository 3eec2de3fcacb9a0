"""`mailflow inspect` matches replies against the mail mailflow sent, when its database exists."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailflow.demo import samples
from mailflow.store import Store
from mailflow.store.rows import MeetingData
from tests.cli_helpers import run_cli

T = datetime(2031, 3, 3, 9, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[owner]\naddresses = ["{samples.OWNER[1]}"]\n[data]\nfolder = "{tmp_path / "data"}"\n',
        encoding="utf-8",
    )
    return path


def inspect(config: Path, raw: bytes, tmp_path: Path) -> dict[str, object]:
    mail = tmp_path / "reply.eml"
    mail.write_bytes(raw)
    result = run_cli(["--config", str(config), "inspect", str(mail)])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.output)
    return data


def test_a_reply_to_our_prep_request_is_a_contact_reply(config: Path, tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'mailflow.db'}")
    with store.transaction() as tx:
        carla = tx.upsert_contact(samples.CARLA[1])
        meeting, _ = tx.upsert_meeting(
            MeetingData(ical_uid="i-1@x", start_at=T, end_at=T + timedelta(hours=1), counterpart_id=carla.id)
        )
        step, _ = tx.plan_step(meeting.id, "prep_request", 0, T, "send")
        tx.claim_step(step.id, "<prep-42@mailflow.test>")
    store.close()
    reply = samples.contact_reply_with_resume(T, "<prep-42@mailflow.test>", "Before our coffee")
    data = inspect(config, reply, tmp_path)
    assert data["kind"] == "contact_reply"
    assert data["replied_to"] == "<prep-42@mailflow.test>"
    stranger = samples.contact_reply_with_resume(T, "<someone-else@example.com>", "Before our coffee")
    assert inspect(config, stranger, tmp_path)["kind"] != "contact_reply"


def test_without_a_database_inspect_still_works(config: Path, tmp_path: Path) -> None:
    reply = samples.contact_reply_with_resume(T, "<prep-42@mailflow.test>", "Before our coffee")
    data = inspect(config, reply, tmp_path)
    assert data["kind"] in {"ignored", "request"}
    assert not (tmp_path / "data" / "mailflow.db").exists()  # inspect creates no database
