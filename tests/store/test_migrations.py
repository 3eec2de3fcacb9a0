"""Migrations: from empty, re-run, newer database, a failing migration, the SQLite pragmas, `mailflow db`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Connection, inspect, select, text

from mailflow import clock
from mailflow.errors import StoreError
from mailflow.store import LATEST, Store, migrations
from mailflow.store.migrations import Migration
from mailflow.store.schema import metadata, schema_migrations
from tests.cli_helpers import run_cli

TABLES = {"contacts", "meetings", "messages", "cursors", "steps", "notes", "attachments", "daemon_state",
          "meeting_series", "intake_attempts"}  # fmt: skip


def test_migrate_from_empty_creates_every_table(db_url: str) -> None:
    store = Store(db_url)
    assert store.schema_status().current == 0
    assert store.upgrade() == list(range(1, LATEST + 1))
    names = set(inspect(store.engine).get_table_names())
    assert TABLES | {"schema_migrations"} <= names
    assert store.schema_status().up_to_date
    store.close()


def test_upgrade_again_is_a_no_op(store: Store) -> None:
    assert store.upgrade() == []
    with store.read() as tx:
        rows = tx.connection.execute(select(schema_migrations.c.version)).scalars().all()
    assert rows == list(range(1, LATEST + 1))


def test_migrated_columns_match_the_schema(store: Store) -> None:
    inspector = inspect(store.engine)
    for table in metadata.sorted_tables:
        assert {c["name"] for c in inspector.get_columns(table.name)} == set(table.columns.keys()), table.name


def test_a_newer_database_is_refused_with_a_sentence(store: Store, db_url: str) -> None:
    with store.transaction() as tx:
        tx.connection.execute(
            schema_migrations.insert().values(version=LATEST + 5, name="future", applied_at=clock.now())
        )
    with pytest.raises(StoreError, match=rf"schema version {LATEST + 5}, newer than this mailflow knows"):
        Store.open(db_url)


def test_a_failing_migration_leaves_nothing_behind(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(connection: Connection) -> None:
        connection.execute(text("CREATE TABLE half_done (id INTEGER PRIMARY KEY)"))
        connection.execute(text("INSERT INTO contacts_missing VALUES (1)"))  # fails

    monkeypatch.setattr(
        migrations, "MIGRATIONS", (*migrations.MIGRATIONS, Migration(LATEST + 1, "broken", broken))
    )
    monkeypatch.setattr(migrations, "LATEST", LATEST + 1)
    with pytest.raises(StoreError):
        store.upgrade()
    assert "half_done" not in inspect(store.engine).get_table_names()  # the DDL was rolled back too
    assert store.schema_status().current == LATEST


def test_sqlite_connections_get_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'pragmas.db'}")  # SQLite only: PostgreSQL has no pragmas
    with store.read() as tx:
        pragma = tx.connection.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA foreign_keys").scalar() == 1
        assert pragma("PRAGMA busy_timeout").scalar() == 30000
    store.close()


def test_cli_db_status_and_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli/mailflow.db"
    flag = ["--set", f'database.url="{url}"']
    status = run_cli([*flag, "db", "status", "--json"])
    assert status.exit_code == 0
    assert json.loads(status.output)["current"] == 0
    first = run_cli([*flag, "db", "upgrade"])
    assert first.exit_code == 0 and "applied migration(s) 1" in first.output
    again = run_cli([*flag, "db", "upgrade"])
    assert again.exit_code == 0 and "nothing to do" in again.output
    assert json.loads(run_cli([*flag, "db", "status", "--json"]).output)["up_to_date"] is True


def test_cli_reports_a_newer_database_without_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/mailflow.db"
    store = Store.open(url)
    with store.transaction() as tx:
        tx.connection.execute(
            schema_migrations.insert().values(version=LATEST + 1, name="future", applied_at=clock.now())
        )
    store.close()
    result = run_cli(["--set", f'database.url="{url}"', "db", "upgrade"])
    assert result.exit_code == 1
    assert "newer than this mailflow" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://u@h/x", "neither SQLite nor PostgreSQL"),
        ("not a url", "not a valid SQLAlchemy URL"),
        ("sqlite:////proc/no-such-folder/m.db", "cannot create the folder"),
    ],
)
def test_unusable_urls_are_a_store_error(url: str, words: str) -> None:
    with pytest.raises(StoreError, match=words):
        Store.open(url)
