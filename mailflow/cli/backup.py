"""``mailflow backup PATH``: a copy of the SQLite database, taken while the daemon runs, then checked.

SQLite's online backup API (``sqlite3.Connection.backup``) copies the database
in one read transaction: with WAL, the daemon goes on writing meanwhile, and
the copy is the database as it was when the copy began (what a write still
open at that moment adds is not in it).  The copy is written next to PATH
under a temporary name, switched out of WAL (one self-contained file), checked
(``PRAGMA integrity_check``, the schema version readable) and only then given
its name, so PATH is either a good copy or not there.  PATH is never
overwritten without ``--force``.  PostgreSQL has its own tool for this:
``pg_dump`` (README, "Your data").
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote

import typer

from mailflow.cli.app import app, handles_errors, out, print_json, settings
from mailflow.errors import StoreError, UsageError
from mailflow.store.engine import parse_url, safe_url

#: tables whose rows the report counts (those a copy is made for)
COUNTED = ("contacts", "meetings", "messages", "steps", "notes", "attachments")
#: seconds the copy waits for a lock (the daemon's writes are short)
BUSY_SECONDS = 30.0


@dataclass(frozen=True)
class BackupReport:
    """What was written, and what the check of the copy found."""

    source: str
    path: str
    size: int
    schema_version: int
    integrity: str
    rows: dict[str, int] = field(default_factory=dict)


@app.command()
@handles_errors
def backup(
    path: Path = typer.Argument(
        ..., metavar="PATH", help="The file to write: a new one (an existing file needs --force)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace PATH if it exists."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Copy the database to PATH while the daemon runs, and check the copy (SQLite; PostgreSQL: pg_dump)."""
    url = settings().database_url()
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise UsageError(
            f"mailflow backup copies SQLite databases; back up {safe_url(url)} with pg_dump instead "
            '(README, "Your data")',
            hint="e.g. pg_dump --format=custom --file=mailflow.dump 'postgresql://user@host/mailflow'",
        )
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        raise UsageError(f"the database {safe_url(url)} is not a file that can be copied")
    report = copy_database(Path(database).expanduser(), path.expanduser(), force=force)
    if json_:
        print_json(asdict(report))
        return
    counts = ", ".join(f"{count} {table}" for table, count in report.rows.items())
    out.print(
        f"copied {report.source} to {report.path} ({report.size} bytes): integrity {report.integrity}, "
        f"schema version {report.schema_version}; {counts}",
        markup=False,
    )


def copy_database(source: Path, target: Path, *, force: bool = False) -> BackupReport:
    """Copy the SQLite database ``source`` to the new file ``target``, checked; see the module doc."""
    if not source.is_file():
        raise UsageError(
            f"there is no database at {source}",
            hint="mailflow creates it on its first run; check [data] folder",
        )
    _check_target(source, target, force=force)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        os.chmod(temporary, 0o600)  # the owner's records: readable by them only
        _backup(source, temporary)
        version, integrity, rows = _verify(temporary)
        _sync(temporary)
        _put_in_place(temporary, target, force=force)
    finally:
        for leftover in (temporary, *_sidecars(temporary)):
            leftover.unlink(missing_ok=True)
    return BackupReport(str(source), str(target), target.stat().st_size, version, integrity, rows)


def _check_target(source: Path, target: Path, *, force: bool) -> None:
    if target.is_dir():
        raise UsageError(
            f"{target} is a folder", hint="give the name of the file to write, e.g. mailflow-backup.db"
        )
    if not target.parent.is_dir():
        raise UsageError(f"cannot write {target}: the folder {target.parent} does not exist")
    live = source.resolve()
    if target.resolve() in {live, *_sidecars(live)}:
        raise UsageError(f"{target} is the database itself", hint="give another file name")
    if target.exists() and not force:
        raise UsageError(f"{target} exists", hint="choose a new file name, or add --force to replace it")


def _sidecars(database: Path) -> list[Path]:
    return [database.with_name(database.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def _backup(source: Path, temporary: Path) -> None:
    # read-only: the copy never writes to the live database (WAL lets it read while the daemon writes)
    uri = f"file:{quote(str(source.resolve()))}?mode=ro"
    try:
        with (
            contextlib.closing(sqlite3.connect(uri, uri=True, timeout=BUSY_SECONDS)) as live,
            contextlib.closing(sqlite3.connect(temporary)) as copy,
        ):
            live.backup(copy)  # all pages in one step: one consistent snapshot
            copy.execute("PRAGMA journal_mode = DELETE")  # the copy is one file, no -wal beside it
    except sqlite3.Error as exc:
        raise StoreError(f"could not copy the database {source}: {exc}") from exc


def _verify(copy_path: Path) -> tuple[int, str, dict[str, int]]:
    """The copy's schema version, integrity ("ok") and row counts; StoreError when it is not sound."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{quote(str(copy_path))}?mode=ro", uri=True)) as copy:
            problems = [row[0] for row in copy.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise StoreError(f"the copy failed its integrity check: {'; '.join(problems)[:300]}")
            version = copy.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
            tables = {row[0] for row in copy.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            rows = {
                table: int(copy.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
                for table in COUNTED
                if table in tables
            }
    except sqlite3.Error as exc:
        raise StoreError(f"the copy cannot be read back as a mailflow database: {exc}") from exc
    if not isinstance(version, int):
        raise StoreError("the copy has no schema version: is the database a mailflow database?")
    return version, "ok", rows


def _sync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _put_in_place(temporary: Path, target: Path, *, force: bool) -> None:
    """Give the checked copy its name: replacing ``target`` only with ``force``, never racing into one."""
    try:
        if force:
            os.replace(temporary, target)
        else:
            try:
                os.link(temporary, target)  # fails if target appeared meanwhile: nothing is overwritten
            except FileExistsError:
                raise UsageError(f"{target} exists", hint="choose a new file name, or add --force") from None
            except OSError:  # a file system without hard links
                if target.exists():
                    raise UsageError(
                        f"{target} exists", hint="choose a new file name, or add --force"
                    ) from None
                os.replace(temporary, target)
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror}") from exc
    with contextlib.suppress(OSError):  # the new name survives a power cut
        _sync(target.parent)
