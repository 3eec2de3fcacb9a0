"""A migrated store in tmp_path (SQLite), and on PostgreSQL too when MAILFLOW_TEST_PG_URL is set."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine

from mailflow.store import Store
from mailflow.store.schema import bookkeeping, metadata

PG_URL = os.environ.get("MAILFLOW_TEST_PG_URL", "")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]
T0 = datetime(2025, 3, 10, 14, 0, tzinfo=UTC)


def _reset_postgres(url: str) -> None:
    """Drop mailflow's tables (only those) so each test starts from an empty database."""
    engine = create_engine(url)
    with engine.begin() as connection:
        metadata.drop_all(connection)
        bookkeeping.drop_all(connection)
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty database: a new SQLite file, or the PostgreSQL test database emptied."""
    if request.param == "postgresql":
        _reset_postgres(PG_URL)
        return PG_URL
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'data' / 'mailflow.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store.open(db_url)
    yield store
    store.close()


@pytest.fixture
def other_store(db_url: str, store: Store) -> Iterator[Store]:
    """A second Store (its own engine and pool) on the same database, like a second process."""
    second = Store.open(db_url)
    yield second
    second.close()
