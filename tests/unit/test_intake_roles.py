"""Who asked is the seeker; a contact's own invite reveals their time zone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from mailflow.demo import samples
from mailflow.engine.records import infer_role, revealed_zone
from mailflow.store.rows import ContactRow
from mailflow.understand import Context, understand

CONTEXT = Context(
    owner_addresses=frozenset({samples.OWNER[1]}), own_addresses=frozenset({samples.MAILFLOW[1]})
)

T = datetime(2031, 5, 1, 9, tzinfo=UTC)
START = datetime(2031, 5, 6, 9, tzinfo=UTC)


def contact(address: str) -> ContactRow:
    return ContactRow(1, address, "", (), False, "", "", None, T, T)


def test_owner_organised_invite_makes_the_owner_the_seeker() -> None:
    u = understand(samples.google_invite(START, T, uid="r1@google.com", guest=samples.BEN), CONTEXT)
    assert infer_role(u, None) == "seeker"
    assert revealed_zone(u, contact(samples.BEN[1])) == ""  # the owner's calendar, not Ben's


def test_contact_organised_invite_makes_the_owner_the_adviser_and_reveals_their_zone() -> None:
    u = understand(samples.forwarded_outlook_invite(START, T), CONTEXT)
    assert infer_role(replace(u, role_hint=None), None) == "adviser"
    assert revealed_zone(u, contact(samples.CARLA[1])) == "Europe/London"


def test_the_owners_hashtag_wins_but_a_strangers_does_not() -> None:
    u = understand(samples.google_invite(START, T, uid="r2@google.com", guest=samples.BEN), CONTEXT)
    assert infer_role(replace(u, role_hint="adviser", from_owner=True), None) == "adviser"
    assert infer_role(replace(u, role_hint="adviser", from_owner=False), None) == "seeker"


def test_a_forwarded_request_makes_the_owner_the_adviser() -> None:
    u = understand(samples.forwarded_coffee_request(T), CONTEXT)
    assert u.kind == "request"
    assert infer_role(u, None) == "adviser"


def test_a_junk_zone_reveals_nothing() -> None:
    u = understand(samples.forwarded_outlook_invite(START, T), CONTEXT)
    assert revealed_zone(replace(u, timezone="Customized Time Zone"), contact(samples.CARLA[1])) == ""
