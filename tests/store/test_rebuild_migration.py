"""A migration that rebuilds a SQLite table keeps every row and every reference, or changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Index, Integer, MetaData, Table, Text, UniqueConstraint, text

from mailflow.errors import StoreError
from mailflow.store import LATEST, MeetingData, Store, migrations
from mailflow.store.migrations import Migration, rebuild
from mailflow.store.schema import NAMING, Clipped, UTCDateTime


def _contacts_with_a_team_column() -> Table:
    """``contacts`` as a later version might want it: unique per (team, address) instead of per address."""
    return Table(
        "contacts",
        MetaData(naming_convention=NAMING),
        Column("id", Integer, primary_key=True),
        Column("owner_id", Integer, nullable=False, default=1),
        Column("team", Integer, nullable=False, default=1),
        Column("address", Clipped(320), nullable=False),
        Column("name", Text, nullable=False, default=""),
        Column("names", Text, nullable=False, default=""),
        Column("do_not_contact", Integer, nullable=False, default=0),
        Column("do_not_contact_reason", Text, nullable=False, default=""),
        Column("timezone", Clipped(64), nullable=False, default=""),
        Column("last_reply_at", UTCDateTime, nullable=True),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        UniqueConstraint("team", "address"),
        Index(None, "team"),
    )


COPIED = {
    "id": "id", "owner_id": "owner_id", "team": "1", "address": "address", "name": "name", "names": "names",
    "do_not_contact": "do_not_contact", "do_not_contact_reason": "do_not_contact_reason",
    "timezone": "timezone", "last_reply_at": "last_reply_at", "created_at": "created_at",
    "updated_at": "updated_at",
}  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    made = Store.open(f"sqlite:///{tmp_path / 'mailflow.db'}")
    with made.transaction() as tx:
        ben = tx.upsert_contact("ben@example.net", "Ben")
        meeting, _ = tx.upsert_meeting(MeetingData(ical_uid="m@x", counterpart_id=ben.id))
        tx.add_note(meeting.id, "kept")
    yield made
    made.close()


def _with(monkeypatch: pytest.MonkeyPatch, apply: migrations.Migration) -> None:
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, apply))
    monkeypatch.setattr(migrations, "LATEST", apply.version)


def test_a_rebuilt_parent_keeps_its_rows_and_its_children_keep_their_references(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    new = _contacts_with_a_team_column()
    _with(monkeypatch, Migration(LATEST + 1, "team column", lambda c: rebuild(c, new, COPIED), rebuilds=True))
    assert store.upgrade() == [LATEST + 1]
    with store.read() as tx:
        (meeting,) = tx.list_meetings()
        assert (
            meeting.counterpart_id is not None
        )  # dropping the old table did not SET NULL (foreign keys were off)
        assert tx.get_contact(meeting.counterpart_id).address == "ben@example.net"  # type: ignore[union-attr]
        assert [n.text for n in tx.list_notes(meeting.id)] == ["kept"]
        connection = tx.connection
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1  # back on for everyone after
        ddl = connection.execute(text("SELECT sql FROM sqlite_master WHERE name = 'contacts'")).scalar()
        indexes = {r[1] for r in connection.execute(text("PRAGMA index_list('contacts')"))}
    assert "team" in str(ddl) and "ix_contacts_team" in indexes
    with store.transaction() as tx:  # the new unique constraint holds: one address, two teams
        tx.connection.execute(
            text(
                "INSERT INTO contacts (owner_id, team, address, name, names, do_not_contact, do_not_contact_reason,"
                " timezone, created_at, updated_at) SELECT 1, 2, address, name, names, do_not_contact, do_not_contact_reason,"
                " timezone, created_at, updated_at FROM contacts"
            )
        )


def test_a_rebuild_that_would_break_a_reference_changes_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    new = _contacts_with_a_team_column()

    def lossy(connection: object) -> None:
        rebuild(connection, new, COPIED)  # type: ignore[arg-type]
        connection.execute(text("DELETE FROM contacts"))  # type: ignore[attr-defined]  # a meeting now points nowhere

    _with(monkeypatch, Migration(LATEST + 1, "lossy", lossy, rebuilds=True))
    with pytest.raises(StoreError, match=r"would break 1 reference\(s\).*nothing was changed"):
        store.upgrade()
    assert store.schema_status().current == LATEST
    with store.read() as tx:
        assert [c.address for c in tx.list_contacts()] == ["ben@example.net"]
        assert tx.connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
