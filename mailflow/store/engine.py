"""Engine set-up: one function that turns a URL into a configured engine.

SQLite needs care to be safe with two writers (the daemon and a command like
``mailflow note``):

- every connection gets ``busy_timeout`` (first, so the WAL switch itself can
  wait), ``journal_mode=WAL`` and ``foreign_keys=ON`` in a ``connect`` event;
- pysqlite's own transaction handling is switched off (``isolation_level =
  None``) and the ``begin`` event emits BEGIN itself: ``BEGIN IMMEDIATE`` for
  write transactions, because in WAL a deferred transaction that reads and then
  writes fails with SQLITE_BUSY whatever the busy timeout; plain ``BEGIN`` for
  reads.  Owning BEGIN also makes DDL transactional, which the migration runner
  relies on.

PostgreSQL needs nothing special: the same SQLAlchemy Core statements run
there, with the ``psycopg`` driver (``pip install 'mailflow[postgres]'``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from mailflow.errors import StoreError

#: execution option naming the BEGIN to emit on SQLite: "IMMEDIATE" or "DEFERRED"
BEGIN_OPTION = "mailflow_begin"


def parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(
            f'the database URL "{_redacted(url)}" is not a valid SQLAlchemy URL',
            hint='use e.g. "sqlite:////path/to/mailflow.db" or "postgresql+psycopg://user@host/mailflow"',
        ) from exc


def _redacted(url: str) -> str:
    """A URL that does not even parse, with anything like user:password@ hidden."""
    return re.sub(r"(//[^/:@]*:)[^@/]*@", r"\1***@", url)


def safe_url(url: str) -> str:
    """The URL for messages and logs: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _redacted(url)


def make_engine(url: str, *, busy_timeout: float = 30.0) -> Engine:
    """An engine for ``url``; SQLite files get their folder created and the pragmas above."""
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    if backend not in {"sqlite", "postgresql"}:
        raise StoreError(
            f'the database "{safe_url(url)}" is neither SQLite nor PostgreSQL',
            hint="set [database] url to a sqlite:/// or postgresql+psycopg:// URL",
        )
    if backend == "sqlite":
        _make_folder(parsed)
    try:
        engine = create_engine(parsed)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise StoreError(
            f'the driver for "{safe_url(url)}" is not installed ({exc})',
            hint="install it, e.g. pip install 'mailflow[postgres]' for PostgreSQL",
        ) from exc
    if backend == "sqlite":
        _sqlite_events(engine, int(busy_timeout * 1000))
    return engine


def _make_folder(parsed: URL) -> None:
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder {folder} for the database ({exc.strerror})",
                hint="set [data] folder or [database] url to a writable place",
            ) from exc


def _sqlite_events(engine: Engine, busy_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(BEGIN_OPTION, "IMMEDIATE")
        connection.exec_driver_sql("BEGIN DEFERRED" if mode == "DEFERRED" else "BEGIN IMMEDIATE")
