"""Shared by the test_understand_* modules: the fixtures folder and the owner's context."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from mailflow.model import Understanding
from mailflow.understand import Context, understand

MAIL = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
OWNER = "ana@owner.example"
MAILBOX = "mailflow@owner.example"

CONTEXT = Context(
    owner_addresses=frozenset({OWNER}),
    owner_zone=ZoneInfo("Europe/Berlin"),
    authserv_id="mx.owner.example",
    message_id_domain="mailflow.owner.example",
    own_addresses=frozenset({MAILBOX}),
)


def fixture(name: str) -> bytes:
    return (MAIL / name).read_bytes()


def read(name: str, context: Context = CONTEXT) -> Understanding:
    return understand(fixture(name), context)
