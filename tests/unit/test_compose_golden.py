"""Golden tests: a few rendered mails, byte for byte.

A deliberate change to a default template shows up here as a diff to review;
regenerate with ``MAILFLOW_UPDATE_GOLDEN=1 pytest tests/unit/test_compose_golden.py``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailflow.compose import ComposeContext, ContactInfo, MeetingInfo, OwnerInfo, compose_step, html_to_text
from mailflow.config import Settings

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2024, 5, 14, 10, 0, tzinfo=BERLIN)
MID = "<mailflow.20240514T100000.0123456789abcdef@example.org>"
SETTINGS = Settings(
    owner={
        "name": "Ben Okafor",
        "addresses": ["ben@example.org"],
        "timezone": "Europe/Berlin",
        "story": "I design payment systems, and I want to move into product management.",
    }
)
CTX = ComposeContext(
    owner=OwnerInfo("Ben Okafor", "ben@example.org", "Europe/Berlin", SETTINGS.owner.story),
    contact=ContactInfo("Pérez, Ana", "ana.perez@acme.example", timezone="Europe/Madrid"),
    meeting=MeetingInfo(
        summary="Coffee: Ana / Ben",
        start=START,
        end=START + timedelta(minutes=45),
        location="Café Einstein, Unter den Linden",
        subject="Could we grab a coffee?",
        files=("Ana_Perez_CV.pdf",),
    ),
    role="adviser",
    notes='- Talk to the product team before applying\n- Read "Inspired" by Marty Cagan',
    follow_up_at=START + timedelta(days=60),
)


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("MAILFLOW_UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
    assert path.is_file(), f"{path} is missing: run with MAILFLOW_UPDATE_GOLDEN=1 to create it"
    assert actual == path.read_text(encoding="utf-8")


def shown(step: str, ctx: ComposeContext, now: datetime) -> str:
    """The mail as a person reads it: headers, text, HTML as text, attachments."""
    out = compose_step(step, ctx, SETTINGS, message_id=MID, key=f"7/{step}/0", now=now)
    msg = out.message
    head = "".join(
        f"{k}: {msg[k]}\n" for k in ("From", "To", "Reply-To", "Subject", "Date", "Auto-Submitted") if msg[k]
    )
    parts = [head, out.rendered.text]
    if out.rendered.html is not None:
        parts.append("--- HTML as text ---\n" + html_to_text(out.rendered.html))
    parts += [
        f"--- attachment: {a.get_filename()} ({a.get_content_type()})\n" for a in msg.iter_attachments()
    ]
    return "\n".join(parts)


CASES = [
    (
        "prep_request.adviser.txt",
        "prep_request",
        dataclasses.replace(CTX, notes=""),
        START - timedelta(days=5),
    ),
    (
        "homework_brief.seeker.txt",
        "homework_brief",
        dataclasses.replace(CTX, role="seeker", notes=""),
        START - timedelta(days=1),
    ),
    (
        "thank_you.seeker.txt",
        "thank_you",
        dataclasses.replace(CTX, role="seeker"),
        START + timedelta(hours=3),
    ),
    (
        "take_action.seeker.txt",
        "take_action",
        dataclasses.replace(CTX, role="seeker"),
        START + timedelta(days=1),
    ),
    ("follow_up.adviser.txt", "follow_up", CTX, START + timedelta(days=60)),
]


@pytest.mark.parametrize(("name", "step", "ctx", "now"), CASES, ids=[c[0] for c in CASES])
def test_rendered_mail_matches_its_golden_file(
    name: str, step: str, ctx: ComposeContext, now: datetime
) -> None:
    check_golden(name, shown(step, ctx, now))


def test_whole_follow_up_message_matches_its_golden_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every header and MIME part of one real message (boundaries and version made stable)."""
    monkeypatch.setattr("mailflow.compose.ics.PRODID", "-//mailflow//mailflow VERSION//EN")
    out = compose_step(
        "follow_up", CTX, SETTINGS, message_id=MID, key="7/follow_up/0", now=START + timedelta(days=60)
    )
    raw = out.message.as_bytes().decode("ascii")
    boundaries: dict[str, str] = {}
    stable = re.sub(
        r"=+\d+==", lambda m: boundaries.setdefault(m.group(0), f"BOUNDARY-{len(boundaries)}"), raw
    )
    check_golden("follow_up.adviser.eml", stable.replace("\r\n", "\n"))
