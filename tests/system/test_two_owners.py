"""Two owners in one database (issue #19): each sees, and is mailed, only what is theirs.

Owner 1 is the configuration's ``[owner]`` (Ana); owner 2 (Bea) is inserted through the store,
since the command that adds owners comes with the team deployment.  Both met Ben, at the same
address.  Everything the CLI prints for one owner, and every mail written for one owner's meeting,
must hold nothing of the other's.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailflow import clock
from mailflow.config import load_settings
from mailflow.engine.outgoing import StepRenderer
from mailflow.store import MeetingData, OwnerData, Store
from tests.cli_helpers import run_cli

NOW = datetime(2031, 3, 10, 9, 0, tzinfo=UTC)
BEN = "ben@example.net"
SECRET = {1: "ana-secret-learned-about-rust", 2: "bea-secret-learned-about-go"}


@pytest.fixture
def world(tmp_path: Path) -> dict[str, object]:
    data = tmp_path / "data"
    config = tmp_path / "config.toml"
    config.write_text(
        '[owner]\nname = "Ana Lima"\naddresses = ["ana@example.org"]\ntimezone = "Europe/Berlin"\n'
        f'[data]\nfolder = "{data}"\n',
        encoding="utf-8",
    )
    store = Store.open(f"sqlite:///{data / 'mailflow.db'}")
    with store.transaction() as tx:
        bea = tx.add_owner(OwnerData(name="Bea Kim", addresses=("bea@example.com",), timezone="Asia/Seoul"))
    ids: dict[int, dict[str, int]] = {}
    for owner in (1, bea.id):
        with store.as_owner(owner).transaction() as tx:
            ben = tx.upsert_contact(BEN, "Ben Okafor")
            earlier, _ = tx.upsert_meeting(
                MeetingData(
                    ical_uid="shared-uid@calendar.example",  # both invited to one event
                    start_at=NOW - timedelta(days=30),
                    end_at=NOW - timedelta(days=30, hours=-1),
                    summary=f"Earlier coffee of owner {owner}",
                    state="done",
                    counterpart_id=ben.id,
                    trusted=True,
                )
            )
            tx.add_note(earlier.id, SECRET[owner])
            tx.add_contact_note(ben.id, f"note about Ben by owner {owner}")
            tx.add_attachment(
                f"attachments/{owner}/cv.pdf", meeting_id=earlier.id, filename=f"cv-for-{owner}.pdf"
            )
            upcoming, _ = tx.upsert_meeting(
                MeetingData(
                    ical_uid=f"next-{owner}@calendar.example",
                    start_at=NOW + timedelta(days=2),
                    end_at=NOW + timedelta(days=2, hours=1),
                    summary=f"Next coffee of owner {owner}",
                    state="scheduled",
                    counterpart_id=ben.id,
                    trusted=True,
                )
            )
            brief, _ = tx.plan_step(upcoming.id, "homework_brief", 0, NOW + timedelta(days=1), "send")
            ids[owner] = {"ben": ben.id, "earlier": earlier.id, "upcoming": upcoming.id, "brief": brief.id}
    store.close()
    return {"config": config, "ids": ids, "bea": bea.id, "url": f"sqlite:///{data / 'mailflow.db'}"}


def cli(world: dict[str, object], owner: int, *args: str) -> str:
    result = run_cli(
        ["--config", str(world["config"]), "--now", NOW.isoformat(), "--owner", str(owner), *args]
    )
    assert result.exit_code == 0, result.output
    return result.output


def owners(world: dict[str, object]) -> tuple[int, int]:
    return 1, int(world["bea"])  # type: ignore[call-overload]


def _other(world: dict[str, object], owner: int) -> int:
    one, two = owners(world)
    return two if owner == one else one


@pytest.mark.parametrize("index", [0, 1])
def test_records_upcoming_show_and_the_feed_hold_only_the_owners_own(
    world: dict[str, object], index: int
) -> None:
    owner = owners(world)[index]
    other = _other(world, owner)
    outputs = [
        cli(world, owner, "records", "--json"),
        cli(world, owner, "upcoming", "--json"),
        cli(world, owner, "show", BEN, "--json"),
        cli(world, owner, "show", str(world["ids"][owner]["earlier"]), "--json"),  # type: ignore[index]
        cli(world, owner, "export", "ics"),
    ]
    everything = "\n".join(outputs)
    assert f"owner {owner}" in everything and f"owner {other}" not in everything
    assert SECRET[owner] in outputs[3] and SECRET[other] not in everything
    assert f"cv-for-{owner}.pdf" in outputs[3] and f"cv-for-{other}.pdf" not in everything
    records = json.loads(outputs[0])
    assert [c["address"] for c in records["contacts"]] == [BEN]
    assert len(records["meetings"]) == 2


def test_another_owners_meeting_cannot_be_reached_by_its_number(world: dict[str, object]) -> None:
    theirs = world["ids"][int(world["bea"])]["upcoming"]  # type: ignore[index]
    result = run_cli(["--config", str(world["config"]), "--owner", "1", "show", str(theirs)])
    assert result.exit_code != 0 and "Next coffee of owner" not in result.output
    store = Store(str(world["url"]))
    try:
        with store.transaction() as tx:  # owner 1's transaction
            assert tx.get_meeting(theirs) is None  # type: ignore[arg-type]
            with pytest.raises(LookupError):
                tx.add_note(theirs, "slipped in")  # type: ignore[arg-type]
    finally:
        store.close()


def test_do_not_contact_is_per_owner(world: dict[str, object]) -> None:
    store = Store(str(world["url"]))
    try:
        with store.transaction() as tx:
            tx.set_do_not_contact(world["ids"][1]["ben"], "told Ana to stop")  # type: ignore[index]
        with store.as_owner(int(world["bea"])).read() as tx:  # type: ignore[call-overload]
            assert not tx.find_contact(BEN).do_not_contact  # type: ignore[union-attr]
        with store.read() as tx:
            assert tx.find_contact(BEN).do_not_contact  # type: ignore[union-attr]
    finally:
        store.close()


def test_each_owners_homework_brief_is_written_for_that_owner_from_that_owners_history(
    world: dict[str, object],
) -> None:
    settings = load_settings(Path(str(world["config"])))
    store = Store(str(world["url"]))
    clock.set_now(NOW)
    try:
        for owner in owners(world):
            scoped = store.as_owner(owner)
            with scoped.read() as tx:
                step = tx.get_step(world["ids"][owner]["brief"])  # type: ignore[index]
            assert step is not None
            message = StepRenderer(scoped, settings)(step, "<brief@x>")  # the configuration's settings...
            text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            other = _other(world, owner)
            # ...and yet written for the meeting's owner: their address and their time zone
            assert ("bea@example.com" in str(message["To"])) == (owner != 1)
            assert ("Asia/Seoul" in text) == (owner != 1) and ("Europe/Berlin" in text) == (owner == 1)
            assert SECRET[owner] in text and SECRET[other] not in text
            assert f"owner {other}" not in text and f"cv-for-{other}" not in text
            assert ("Bea" in text) == (owner != 1) and ("Ana" in text) == (owner == 1)
    finally:
        clock.set_now(None)
        store.close()


def test_an_owner_that_does_not_exist_is_one_sentence_and_exit_2(world: dict[str, object]) -> None:
    result = run_cli(["--config", str(world["config"]), "--owner", "7", "records"])
    assert result.exit_code == 2
    assert "there is no owner 7" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("index", [0, 1])
def test_the_json_and_csv_exports_hold_only_the_owners_own(
    world: dict[str, object], index: int, tmp_path: Path
) -> None:
    owner = owners(world)[index]
    other = _other(world, owner)
    exported = cli(world, owner, "export", "json")
    assert SECRET[owner] in exported and SECRET[other] not in exported
    assert f"note about Ben by owner {owner}" in exported and f"by owner {other}" not in exported
    cli(world, owner, "export", "csv", str(tmp_path / "csv"))
    sheets = "".join(p.read_text(encoding="utf-8-sig") for p in (tmp_path / "csv").glob("*.csv"))
    assert f"coffee of owner {owner}" in sheets and f"owner {other}" not in sheets


def test_a_file_both_owners_hold_stays_until_both_let_it_go(world: dict[str, object], tmp_path: Path) -> None:
    from mailflow.engine.retention import expire_files

    data = Path(str(world["config"])).parent / "data"
    shared = data / "attachments" / "ab" / "same-cv.pdf"
    shared.parent.mkdir(parents=True)
    shared.write_bytes(b"%PDF same bytes")
    store = Store(str(world["url"]))
    bea = int(world["bea"])  # type: ignore[call-overload]
    try:
        with store.transaction() as tx:
            tx.add_attachment(
                "attachments/ab/same-cv.pdf", contact_id=world["ids"][1]["ben"], filename="cv.pdf"
            )  # type: ignore[index]
        clock.set_now(NOW + timedelta(days=10))
        with store.as_owner(bea).transaction() as tx:
            tx.add_attachment(
                "attachments/ab/same-cv.pdf", contact_id=world["ids"][bea]["ben"], filename="cv.pdf"
            )  # type: ignore[index]
        later = NOW + timedelta(days=400)
        expire_files(store, data, timedelta(days=365), later)  # owner 1's file expired, Bea's not yet
        assert shared.exists()
        with store.read() as tx:
            assert all(a.path != "attachments/ab/same-cv.pdf" for a in tx.list_attachments())
        expire_files(store.as_owner(bea), data, timedelta(days=365), later + timedelta(days=30))
        assert not shared.exists()
    finally:
        clock.set_now(None)
        store.close()


# -- review findings: nothing of one owner reaches across to another -------------------------------------


@pytest.mark.parametrize("command", [["sync", "--once"], ["run", "--once"]])
def test_the_mailbox_commands_refuse_another_owner(world: dict[str, object], command: list[str]) -> None:
    result = run_cli(["--config", str(world["config"]), "--owner", str(world["bea"]), *command])
    assert result.exit_code == 2 and "owner 1's" in result.output and "Traceback" not in result.output


def test_the_whole_daemon_pause_is_owner_ones(world: dict[str, object]) -> None:
    result = run_cli(["--config", str(world["config"]), "--owner", str(world["bea"]), "pause"])
    assert result.exit_code == 2 and "pause one of owner" in result.output


def test_another_owners_feed_and_export_are_written_in_that_owners_name_and_zone(
    world: dict[str, object],
) -> None:
    bea = int(world["bea"])  # type: ignore[call-overload]
    feed = cli(world, bea, "export", "ics")
    assert "X-WR-CALNAME:mailflow: Bea Kim" in feed and "Asia/Seoul" in feed and "Ana Lima" not in feed
    document = json.loads(cli(world, bea, "export", "json"))
    assert (document["owner"]["name"], document["owner"]["timezone"]) == ("Bea Kim", "Asia/Seoul")


def test_no_write_under_another_owners_records_and_forget_stays_in_its_lane(world: dict[str, object]) -> None:
    from mailflow.store import MessageData

    bea = int(world["bea"])  # type: ignore[call-overload]
    ids = world["ids"]
    store = Store(str(world["url"]))
    try:
        with store.as_owner(bea).transaction() as tx:  # Bea follows a weekly series that names Ben
            tx.set_series(ids[bea]["upcoming"], "ATTENDEE:mailto:ben@example.net", "")  # type: ignore[index]
            queued = tx.queue_owner_mail("acknowledge", "acknowledge:<same@x>", due_at=NOW)
        with store.transaction() as tx:  # owner 1's
            theirs_meeting, theirs_contact = ids[bea]["upcoming"], ids[bea]["ben"]  # type: ignore[index]
            for write in (
                lambda: tx.create_request(theirs_contact),
                lambda: tx.upsert_meeting(MeetingData(ical_uid="x@y", counterpart_id=theirs_contact)),
                lambda: tx.set_counterpart(ids[1]["upcoming"], theirs_contact),  # type: ignore[index]
                lambda: tx.record_message(MessageData(ref=None, direction="out", meeting_id=theirs_meeting)),
                lambda: tx.set_series(theirs_meeting, "x", ""),
                lambda: tx.queue_owner_mail("acknowledge", "k", due_at=NOW, meeting_id=theirs_meeting),
            ):
                with pytest.raises(LookupError):
                    write()
            assert tx.forget_series(theirs_meeting) is False and tx.series_occurrence(theirs_meeting) is None
            # the same key is each owner's own
            assert tx.queue_owner_mail("acknowledge", "acknowledge:<same@x>", due_at=NOW) is not None
            tx.forget_contact(ids[1]["ben"])  # type: ignore[index]  # Ana forgets her Ben
        with store.as_owner(bea).read() as tx:
            assert tx.get_series(ids[bea]["upcoming"]) is not None  # type: ignore[index]  # Bea's series still followed
            assert [m.id for m in tx.list_owner_mail()] == [queued.id]  # type: ignore[union-attr]
            assert tx.find_contact(BEN) is not None
    finally:
        store.close()
