"""What several commands share: opening the store, naming things, showing times."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

from mailflow.cli.app import settings, state
from mailflow.errors import UsageError
from mailflow.owners import settings_for, sync_owner
from mailflow.store import Store
from mailflow.store.rows import ContactRow, MeetingRow
from mailflow.store.store import StoreTx


@contextmanager
def open_store() -> Iterator[Store]:
    """The configured database, migrated, scoped to the chosen owner (``--owner``); closed afterwards.

    The configuration's ``[owner]`` is written into owner 1's record first; with another owner the
    settings the command reads are that owner's (their zone, name, templates).
    """
    config = settings()
    store = Store.open(config.database_url(), owner_id=state.owner_id)
    try:
        sync_owner(store, config)
        with store.read() as tx:
            owner = tx.get_owner(state.owner_id)
        if owner is None:
            raise UsageError(
                f"there is no owner {state.owner_id} in {store.url}; owner 1 is the configuration's"
            )
        state.settings = settings_for(config, owner)
        yield store
    finally:
        store.close()


def only_the_configured_owner(command: str) -> None:
    """``sync`` and ``run`` read the configuration's mailbox, which is owner 1's (the team deployment gives
    other owners theirs): refused for another owner rather than filing owner 1's mail as theirs."""
    if state.owner_id != 1:
        raise UsageError(
            f"`{command}` reads the configured mailbox, which is owner 1's; owner {state.owner_id} has no mailbox "
            "of their own yet: run it without --owner"
        )


def owner_zone() -> ZoneInfo:
    return settings().owner_zone()


def shown(instant: datetime | None, zone: ZoneInfo | None = None) -> str:
    """An instant in the owner's zone, with the zone named."""
    if instant is None:
        return "-"
    local = instant.astimezone(zone or owner_zone())
    return local.strftime("%a %Y-%m-%d %H:%M ") + (local.tzname() or "")


def iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat()


def meeting_by_ref(tx: StoreTx, ref: str) -> MeetingRow:
    """``12`` or ``m12``: a meeting by its id."""
    text = ref.strip().lower().removeprefix("m")
    if not text.isdigit():
        raise UsageError(f'"{ref}" is not a meeting id (a number like 12, as `mailflow records` shows)')
    meeting = tx.get_meeting(int(text))
    if meeting is None:
        raise UsageError(f"there is no meeting {text}", hint="`mailflow records` lists them")
    return meeting


def contact_by_ref(tx: StoreTx, ref: str) -> ContactRow:
    """``c3`` or an e-mail address: a contact."""
    text = ref.strip()
    contact = None
    if "@" in text:
        contact = tx.find_contact(text)
    elif text.lower().removeprefix("c").isdigit():
        contact = tx.get_contact(int(text.lower().removeprefix("c")))
    if contact is None:
        raise UsageError(
            f'there is no contact "{ref}"', hint="`mailflow records` lists them (c<id> or an address)"
        )
    return contact


def contact_label(contact: ContactRow | None) -> str:
    if contact is None:
        return "(no counterpart yet)"
    return f"{contact.name} <{contact.address}>" if contact.name else contact.address
