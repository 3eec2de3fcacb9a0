"""What a database says through mailflow's commands, before and after an upgrade (issue #19).

:func:`observe` runs the same commands on the demo's database with whatever mailflow is imported:
the records, the upcoming meetings, every meeting and contact shown, the calendar feed, then the
story continued (``run --once`` at later moments, the follow-ups and check-ins falling due) and
the steps and mail that came of it.  tests/store/test_owner_upgrade.py compares what today's
mailflow says on a database the last release wrote (``tests/fixtures/db``) with what that release
said on it.  Only commands, never the store's Python API, so the same code runs on both.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

from tests.cli_helpers import run_cli

#: the demo's last day, and the moments its story is continued at (follow-ups, check-ins)
SEEN_AT = "2027-05-10T09:00:00+02:00"
LATER = ("2027-05-11T09:00:00+02:00", "2027-06-01T09:00:00+02:00", "2027-07-15T09:00:00+02:00",
         "2027-09-30T09:00:00+02:00", "2027-12-31T09:00:00+01:00")  # fmt: skip

CONFIG = """[owner]
name = "Ana Lima"
addresses = ["ana@example.org"]
timezone = "Europe/Berlin"
story = "Ten years in consulting, now a product manager in climate tech."
[mailbox]
kind = "maildir"
path = "{folder}/Maildir"
username = "mailflow@example.org"
[data]
folder = "{folder}/data"
[database]
url = "sqlite:///{folder}/data/mailflow.db"
"""


def restore(sql: str, folder: Path) -> Path:
    """The database of ``sql`` (an iterdump) as ``folder``/data/mailflow.db, with an empty Maildir."""
    (folder / "data").mkdir(parents=True)
    for box in ("cur", "new", "tmp"):
        (folder / "Maildir" / box).mkdir(parents=True)
    database = folder / "data" / "mailflow.db"
    with sqlite3.connect(database) as connection:
        connection.executescript(sql)
    (folder / "config.toml").write_text(CONFIG.format(folder=folder), encoding="utf-8")
    return database


def observe(folder: Path) -> dict[str, Any]:
    config = folder / "config.toml"

    def cli(*args: str, now: str = SEEN_AT) -> str:
        result = run_cli(["--config", str(config), "--now", now, *args])
        if result.exit_code != 0:
            raise AssertionError(f"mailflow {' '.join(args)} exited {result.exit_code}: {result.output}")
        return result.output

    seen: dict[str, Any] = {"records": json.loads(cli("records", "--json"))}
    seen["upcoming"] = json.loads(cli("upcoming", "--json", "--days", "400"))
    for meeting in seen["records"]["meetings"]:
        seen[f"show {meeting['id']}"] = json.loads(cli("show", str(meeting["id"]), "--json"))
    for contact in seen["records"]["contacts"]:
        seen[f"show {contact['address']}"] = json.loads(cli("show", contact["address"], "--json"))
    seen["feed"] = re.sub(r"(?m)^DTSTAMP:.*\r?\n", "", cli("export", "ics", "--days", "400"))
    for moment in LATER:
        cli("run", "--once", now=moment)
    with sqlite3.connect(folder / "data" / "mailflow.db") as connection:
        seen["steps"] = connection.execute(
            "SELECT meeting_id, step, occurrence, state, mode, due_at, sent_at IS NOT NULL FROM steps ORDER BY id"
        ).fetchall()
        seen["sent"] = connection.execute(
            "SELECT meeting_id, kind, subject FROM messages WHERE direction = 'out' ORDER BY id"
        ).fetchall()
    return json.loads(json.dumps(seen))  # tuples as lists, as a stored copy reads back


def missing(before: Any, after: Any, where: str = "") -> list[str]:
    """What ``before`` says that ``after`` does not say the same way (keys may only be added)."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [p for key, value in before.items() for p in (
            missing(value, after[key], f"{where}.{key}") if key in after else [f"{where}.{key} is gone"]
        )]  # fmt: skip
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            p
            for i, (b, a) in enumerate(zip(before, after, strict=True))
            for p in missing(b, a, f"{where}[{i}]")
        ]
    return [] if before == after else [f"{where}: {before!r} became {after!r}"]
