"""Logs: human-readable on stderr by default, one JSON object per line with --log-format json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _run(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "Maildir" / sub).mkdir(parents=True, exist_ok=True)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[owner]\naddresses = ["ana@example.org"]\n'
        f'[mailbox]\nkind = "maildir"\npath = "{tmp_path / "Maildir"}"\npassword = "s3cret-never-logged"\n'
        f'[data]\nfolder = "{tmp_path / "data"}"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILFLOW_")}
    return subprocess.run(
        [sys.executable, "-m", "mailflow", "--config", str(config), *flags, "run", "--once"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    done = _run(tmp_path, "--log-level", "debug", "--log-format", "json")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines, "debug logging printed nothing"
    records = [json.loads(line) for line in lines]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert all(r["logger"].startswith("mailflow") for r in records)
    assert "s3cret-never-logged" not in done.stderr + done.stdout


def test_text_logs_by_default_and_quiet_at_warning(tmp_path: Path) -> None:
    done = _run(tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""  # nothing to warn about
    assert "sync:" in done.stdout
