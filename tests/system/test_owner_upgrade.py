"""A database the last release wrote is upgraded, and reads and goes on exactly as before (issue #19).

``tests/fixtures/db/demo_release.sql`` is the demo's database as the release before owners were
rows wrote it; ``demo_release_seen.json`` is what that release's commands said on it, and what its
story became when continued (tests/upgrade_story.py made both, run with that release's code).
Today's mailflow migrates it (owner 1 takes every record) and must say the same: keys may only
be added.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from mailflow import clock
from tests.upgrade_story import missing, observe, restore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "db"


def test_the_releases_database_upgrades_and_the_story_goes_on_as_before(tmp_path: Path) -> None:
    sql = (FIXTURES / "demo_release.sql").read_text(encoding="utf-8")
    database = restore(sql, tmp_path)
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT max(version) FROM schema_migrations").fetchone() == (3,)
    before = json.loads((FIXTURES / "demo_release_seen.json").read_text(encoding="utf-8"))
    try:
        after = observe(tmp_path)
    finally:
        clock.set_now(None)
    assert missing(before, after) == []
    with sqlite3.connect(database) as connection:
        for table in ("contacts", "meetings", "messages"):
            owners = connection.execute(f"SELECT DISTINCT owner_id FROM {table}").fetchall()
            assert owners == [(1,)], table
        (name, addresses) = connection.execute("SELECT name, addresses FROM owners WHERE id = 1").fetchone()
    assert (name, json.loads(addresses)) == (
        "Ana Lima",
        ["ana@example.org"],
    )  # the config's [owner], written at start
