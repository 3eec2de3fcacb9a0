"""Migration 1 must not change once released.

Migration 1 builds the tables of ``V1_TABLES`` in ``mailflow/store/schema.py``.
If one of them changes, a database created by an older mailflow would no
longer match a fresh one, so this test pins their DDL.  When it fails: copy
version 1's tables into their own frozen module for migration 1, add a
migration with the change, and only then update ``schema_v1.sql`` (set
MAILFLOW_WRITE_SNAPSHOT=1 to rewrite it).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

from mailflow.store.schema import V1_TABLES, metadata

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
    if os.environ.get("MAILFLOW_WRITE_SNAPSHOT"):
        SNAPSHOT.write_text(_ddl())
    assert _ddl() == SNAPSHOT.read_text(), (
        "schema.py changed: freeze migration 1 and add a migration (see docstring)"
    )
