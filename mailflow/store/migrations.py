"""Versioned migrations: a list, and a small runner.

Why not Alembic: mailflow ships as an application with one linear history of
schema versions and no autogenerate workflow; a runner of about a hundred
lines that applies each migration *in one transaction together with its
bookkeeping row* has fewer moving parts (no env.py, no ini file, no
script directory inside the wheel) and gives the guarantee that matters: a
crash mid-migration leaves the database at the previous version, because both
SQLite (once we own BEGIN, see ``engine.py``) and PostgreSQL have transactional
DDL.  Two processes upgrading at once are serialised by ``BEGIN IMMEDIATE`` on
SQLite and a transaction-scoped advisory lock on PostgreSQL, and each
re-reads the version inside its transaction, so a migration runs once.

Adding a migration: append ``Migration(n, "what", function)`` to
:data:`MIGRATIONS`; the function gets the connection inside the open
transaction and uses SQLAlchemy Core (``op``-style helpers are not needed for
a handful of ALTERs).  A database newer than the last entry is refused with a
clear :class:`~mailflow.errors.StoreError`.

SQLite cannot alter a constraint in place (a UNIQUE that gains a column): such
a migration sets ``rebuilds=True`` and calls :func:`rebuild` for the table,
SQLite's documented procedure (create the new table, copy, drop, rename).  The
runner turns foreign keys off around that migration's transaction (dropping a
parent table with them on would cascade into its children, and the pragma is a
no-op inside a transaction) and runs ``PRAGMA foreign_key_check`` before it
commits: a rebuild that breaks a reference is rolled back whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, Index, MetaData, Table, func, inspect, select, text

from mailflow import clock
from mailflow.errors import StoreError
from mailflow.store import schema, schema_frozen
from mailflow.store.engine import BEGIN_OPTION

#: any constant: the key of the PostgreSQL advisory lock held while migrating
_PG_LOCK_KEY = 0x6D61696C  # "mail"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]
    rebuilds: bool = False  # rebuilds SQLite tables: foreign keys off around it, checked before commit


@dataclass(frozen=True)
class AppliedMigration:
    version: int
    name: str
    applied_at: datetime


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database stands: ``current`` 0 means never migrated."""

    current: int
    latest: int
    applied: tuple[AppliedMigration, ...]
    pending: tuple[tuple[int, str], ...]

    @property
    def up_to_date(self) -> bool:
        return self.current == self.latest


def _v1_initial(connection: Connection) -> None:
    schema_frozen.metadata.create_all(connection, tables=list(schema_frozen.V1_TABLES))


def _v2_meeting_series(connection: Connection) -> None:
    schema.meeting_series.create(connection)


def _v3_intake_attempts(connection: Connection) -> None:
    schema.intake_attempts.create(connection)


def _v4_contact_notes_owner_mail(connection: Connection) -> None:
    schema.contact_notes.create(connection)
    schema_frozen.owner_mail_v4.create(connection)
    schema.meeting_doubts.create(connection)


def _v5_owners(connection: Connection) -> None:
    """Owners as rows: owner 1 stands for today's ``[owner]`` (its values are written at every start),
    and every contact, meeting, message and mail to the owner is owner 1's."""
    schema.owners.create(connection)
    now = clock.now()
    connection.execute(schema.owners.insert().values(id=1, created_at=now, updated_at=now))
    resume_ids(connection, "owners")
    added = ["messages", "owner_mail"]
    if connection.dialect.name == "sqlite":  # a UNIQUE changes: the table is rebuilt (foreign keys off)
        rebuild(connection, schema.contacts, {**_same(schema.contacts), "owner_id": "1"})
        rebuild(connection, schema.meetings, {**_same(schema.meetings), "owner_id": "1"})
    else:
        added += ["contacts", "meetings"]
    for name in added:
        connection.execute(
            text(f"ALTER TABLE {name} ADD COLUMN owner_id INTEGER NOT NULL DEFAULT 1 REFERENCES owners (id)")
        )
        _owner_index(schema.metadata.tables[name]).create(connection)
    if connection.dialect.name != "sqlite":
        for name, old, columns in (
            ("contacts", "uq_contacts_address", "owner_id, address"),
            ("meetings", "uq_meetings_ical_uid_recurrence_id", "owner_id, ical_uid, recurrence_id"),
        ):
            new = f"uq_{name}_" + columns.replace(", ", "_")
            connection.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT {old}"))
            connection.execute(text(f"ALTER TABLE {name} ADD CONSTRAINT {new} UNIQUE ({columns})"))


def _owner_index(table: Table) -> Index:
    return next(i for i in table.indexes if [c.name for c in i.columns] == ["owner_id"])


def resume_ids(connection: Connection, table: str) -> None:
    """After rows were inserted with their ids given, PostgreSQL's sequence must go on after the largest."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        )


def _same(table: Table) -> dict[str, str]:
    """Each column of ``table`` copied from the column of the same name."""
    return {column.name: f'"{column.name}"' for column in table.columns}


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1, "contacts, meetings, messages, cursors, steps, notes, attachments, daemon_state", _v1_initial
    ),
    Migration(2, "meeting_series: the calendar of a recurring meeting", _v2_meeting_series),
    Migration(3, "intake_attempts: messages being understood, counted across crashes", _v3_intake_attempts),
    Migration(
        4,
        "contact_notes, owner_mail, meeting_doubts: notes about a person, mail to the owner, why a meeting waits",
        _v4_contact_notes_owner_mail,
    ),
    Migration(
        5,
        "owners: the owner as a record; contacts, meetings, messages and owner mail are an owner's",
        _v5_owners,
        rebuilds=True,
    ),
)
LATEST = MIGRATIONS[-1].version


def status(engine: Engine) -> SchemaStatus:
    """The schema version of the database behind ``engine``, without changing it."""
    with engine.connect().execution_options(**{BEGIN_OPTION: "DEFERRED"}) as connection, connection.begin():
        applied = _applied(connection)
    current = max((a.version for a in applied), default=0)
    pending = tuple((m.version, m.name) for m in MIGRATIONS if m.version > current)
    return SchemaStatus(current, LATEST, applied, pending)


def upgrade(engine: Engine) -> list[int]:
    """Apply every pending migration, each in its own transaction; return the versions applied."""
    done: list[int] = []
    with engine.connect() as connection:
        while (version := _apply_next(connection, engine)) is not None:
            done.append(version)
    return done


def rebuild(connection: Connection, table: Table, copied: dict[str, str]) -> None:
    """Give the SQLite ``table`` its definition from ``schema.py``, keeping its rows.

    ``copied`` maps each column of the new table to an SQL expression over the
    old one (usually its own name; a new column's default value).  Indexes are
    made again by their own names.  Run only in a migration with ``rebuilds=True``.
    """
    holder = MetaData(naming_convention=schema.NAMING)
    for other in table.metadata.sorted_tables:  # what its foreign keys refer to
        if other is not table:
            other.to_metadata(holder)
    temporary = table.to_metadata(holder, name=f"_new_{table.name}")
    for index in list(temporary.indexes):  # made again after the rename, under their real names
        temporary.indexes.discard(index)
    temporary.create(connection)
    columns = ", ".join(f'"{name}"' for name in copied)
    values = ", ".join(copied.values())
    connection.execute(
        text(f'INSERT INTO "{temporary.name}" ({columns}) SELECT {values} FROM "{table.name}"')
    )
    connection.execute(text(f'DROP TABLE "{table.name}"'))
    connection.execute(text(f'ALTER TABLE "{temporary.name}" RENAME TO "{table.name}"'))
    for index in table.indexes:
        index.create(connection)


def _apply_next(connection: Connection, engine: Engine) -> int | None:
    pending = _pending(connection, engine)
    if pending is not None and pending.rebuilds and connection.dialect.name == "sqlite":
        return _with_foreign_keys_off(connection, engine)
    return _apply_one(connection, engine)


def _pending(connection: Connection, engine: Engine) -> Migration | None:
    """The next migration to apply, as read now (the runner reads it again inside its transaction)."""
    with connection.begin():
        current = _current(connection)
    return next((m for m in MIGRATIONS if m.version > current), None) if current <= LATEST else None


def _with_foreign_keys_off(connection: Connection, engine: Engine) -> int | None:
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys = OFF")  # outside any transaction: inside one it does nothing
    try:
        return _apply_one(connection, engine, check_foreign_keys=True)
    finally:
        raw.execute("PRAGMA foreign_keys = ON")


def _current(connection: Connection) -> int:
    if not inspect(connection).has_table(schema.schema_migrations.name):
        return 0
    return int(connection.scalar(select(func.coalesce(func.max(schema.schema_migrations.c.version), 0))) or 0)


def _apply_one(connection: Connection, engine: Engine, *, check_foreign_keys: bool = False) -> int | None:
    with connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        schema.bookkeeping.create_all(connection)
        current = connection.scalar(select(func.coalesce(func.max(schema.schema_migrations.c.version), 0)))
        check_not_newer(int(current or 0), engine)
        pending = [m for m in MIGRATIONS if m.version > (current or 0)]
        if not pending:
            return None
        migration = pending[0]
        migration.apply(connection)
        if check_foreign_keys:
            broken = connection.execute(text("PRAGMA foreign_key_check")).all()
            if broken:
                raise StoreError(
                    f"migration {migration.version} ({migration.name}) would break {len(broken)} reference(s) "
                    f"(first: table {broken[0][0]}, row {broken[0][1]}); nothing was changed",
                    hint="report this with `mailflow db status`; the database is as it was",
                )
        connection.execute(
            schema.schema_migrations.insert().values(
                version=migration.version, name=migration.name, applied_at=clock.now()
            )
        )
        return migration.version


def check_not_newer(current: int, engine: Engine) -> None:
    if current > LATEST:
        raise StoreError(
            f"the database {engine.url.render_as_string(hide_password=True)} is at schema "
            f"version {current}, newer than this mailflow knows (version {LATEST})",
            hint="upgrade mailflow to the version that wrote this database, or set [database] url to another one",
        )


def _applied(connection: Connection) -> tuple[AppliedMigration, ...]:
    if not inspect(connection).has_table(schema.schema_migrations.name):
        return ()
    table = schema.schema_migrations
    rows = connection.execute(select(table).order_by(table.c.version)).all()
    return tuple(AppliedMigration(r.version, r.name, r.applied_at) for r in rows)
