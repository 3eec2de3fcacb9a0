"""Organizer, attendees and the person a meeting is with.

Calendar addresses arrive as ``mailto:``, ``MAILTO:``, bare addresses,
``CN=ORGANIZER:mailto:x@y`` (a parameter written into the value), or an
iCloud relay address (``2_...@imip.me.com``) with the real one in the
``EMAIL=`` parameter.  Everything here is normalised: lower case, no scheme.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from mailflow.model import Attendee, Person
from mailflow.text import one_line

_LOCAL = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]"
# the local part is tried from the start of a run only (lookbehind) and read once (++): else 50,000
# characters without an "@" are rescanned from each of them (quadratic); the match is the same
_ADDRESS = re.compile(rf"(?<!{_LOCAL}){_LOCAL}++@[A-Za-z0-9](?:[A-Za-z0-9.-]{{0,253}}[A-Za-z0-9])?")
_RELAY_DOMAINS = ("imip.me.com", "imip.icloud.com")
_RESOURCE_TYPES = {"ROOM", "RESOURCE"}


def normalise_address(text: str) -> str:
    """The first e-mail address in ``text``, lower case; "" when there is none."""
    value = re.sub(r"\s+", "", str(text))
    value = re.sub(r"^(?:mailto:)+", "", value, flags=re.IGNORECASE)
    match = _ADDRESS.search(value)
    return match.group(0).lower().rstrip(".") if match else ""


def clean_name(name: str, address: str = "") -> str:
    """A display name without quotes; "" when it only repeats the address."""
    text = one_line(str(name or ""), 120).strip().strip("\"'").strip()
    if not text or text.lower() == address or normalise_address(text) == text.lower():
        return ""
    return text


def is_relay(address: str) -> bool:
    """An address that only forwards calendar replies (iCloud's imip relays)."""
    return address.endswith(_RELAY_DOMAINS)


def _param(prop: Any, name: str) -> str:
    params = getattr(prop, "params", None) or {}
    value = params.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value)


def calendar_address(prop: Any) -> tuple[str, str]:
    """(address, name) of an ORGANIZER or ATTENDEE property; the EMAIL parameter wins over relays."""
    address = normalise_address(str(prop))
    email = normalise_address(_param(prop, "EMAIL"))
    if email and (not address or is_relay(address)):
        address = email
    return address, clean_name(_param(prop, "CN"), address)


def person_of(prop: Any) -> Person | None:
    """The organizer as a :class:`Person`, or None when it has no usable address."""
    if prop is None:
        return None
    if isinstance(prop, list):
        prop = prop[0] if prop else None
        if prop is None:
            return None
    address, name = calendar_address(prop)
    return Person(address, name) if address else None


def attendees_of(props: Any) -> tuple[Attendee, ...]:
    """Every ATTENDEE with an address, once each (first wins), resources left out."""
    if props is None:
        return ()
    items = props if isinstance(props, list) else [props]
    seen: set[str] = set()
    found: list[Attendee] = []
    for prop in items:
        address, name = calendar_address(prop)
        if not address or address in seen or _param(prop, "CUTYPE").upper() in _RESOURCE_TYPES:
            continue
        seen.add(address)
        found.append(Attendee(address, name, _param(prop, "PARTSTAT").upper(), _param(prop, "ROLE").upper()))
    return tuple(found)


def choose_counterpart(
    organizer: Person | None,
    attendees: Iterable[Attendee],
    ours: frozenset[str],
) -> tuple[Person | None, str]:
    """The person the meeting is with, and why (or why nobody).

    The organizer when it is not the owner (``ours`` holds the owner's and
    mailflow's own addresses); else the single other attendee.  With several
    others the owner must choose: mail never goes to every attendee.
    """
    if organizer is not None and organizer.address not in ours and not is_relay(organizer.address):
        return organizer, "counterpart: the organizer"
    others = [a for a in attendees if a.address not in ours and not is_relay(a.address)]
    if organizer is not None:
        others = [a for a in others if a.address != organizer.address]
    if len(others) == 1:
        return Person(others[0].address, others[0].name), "counterpart: the only attendee besides the owner"
    if not others:
        return None, "no counterpart: nobody besides the owner takes part"
    return None, (
        f"no counterpart: {len(others)} attendees besides the owner; "
        "choose one with `mailflow meeting counterpart ID ADDRESS`"
    )
