"""Migration 1 must not change once released.

Migration 1 builds the tables of ``V1_TABLES`` in ``mailflow/store/schema_frozen.py``,
a frozen copy: if one of them changed, a database created by an older mailflow
would no longer match a fresh one, so this test pins their DDL.  A change to
those tables goes into ``schema.py`` together with a migration that makes it
on existing databases; this snapshot never changes.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

from mailflow.store.schema_frozen import V1_TABLES, metadata

SNAPSHOT = Path(__file__).with_name("schema_v1.sql")


def _ddl() -> str:
    dialect = sqlite.dialect()
    parts = []
    for table in (t for t in metadata.sorted_tables if t in V1_TABLES):
        parts.append(str(CreateTable(table).compile(dialect=dialect)).strip() + ";")
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            parts.append(str(CreateIndex(index).compile(dialect=dialect)).strip() + ";")
    return "\n\n".join(parts) + "\n"


def test_schema_of_migration_1_is_unchanged() -> None:
    assert _ddl() == SNAPSHOT.read_text(), (
        "schema_frozen.py changed: migration 1 must build what it always built (see docstring)"
    )
