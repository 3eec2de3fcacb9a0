"""What people see of the steps, byte for byte: `demo`, `check`, `preview`, the feed and the notices.

Captured before the step table (#27) became the one source of what a step is,
so moving every step fact into it shows here as a diff if anything changed.
Temp paths, timings, Message-IDs and MIME boundaries are the only parts
normalised away.  Regenerate, after a deliberate change, with
``MAILFLOW_UPDATE_GOLDEN=1 pytest tests/system/test_step_table_golden.py``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailflow.compose.feed import FeedStep, build_feed
from mailflow.sinks.notify import STEP_HEADER, build_notice
from tests.cli_helpers import run_cli

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
#: the steps as they were when the goldens were written, in the routine's order
STEP_NAMES = (
    "prep_request",
    "homework_brief",
    "summary_prompt",
    "thank_you",
    "take_action",
    "follow_up",
    "stay_in_touch",
)
BERLIN = ZoneInfo("Europe/Berlin")
UPDATE = bool(os.environ.get("MAILFLOW_UPDATE_GOLDEN"))  # read before conftest clears MAILFLOW_*


def _compare(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; see the module docstring"


class _Ids:
    """Random Message-IDs and boundaries, numbered in order of appearance."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        text = re.sub(r"\.([0-9a-f]{16})@", lambda m: f".{self._number(m.group(1))}@", text)
        return re.sub(r"={15}\d+==", "==boundary==", text)

    def _number(self, token: str) -> str:
        return self.seen.setdefault(token, f"id{len(self.seen) + 1:03d}")


# -- the demo --------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    folder = tmp_path_factory.mktemp("golden") / "demo"
    result = run_cli(["demo", "--folder", str(folder)])
    assert result.exit_code == 0, result.output
    yield folder, result.output


def test_the_demo_prints_what_it_printed(demo: tuple[Path, str]) -> None:
    folder, output = demo
    text = output.replace(str(folder), "<folder>")
    text = re.sub(r"(\d{8}T\d{6}Z)-[0-9a-f]+\.eml", r"\1-<id>.eml", text)
    text = re.sub(r"\(\d+\.\d s\)", "(<seconds> s)", text)
    _compare("demo.txt", text)


def test_the_demo_writes_the_mail_it_wrote(demo: tuple[Path, str]) -> None:
    folder, _ = demo
    files = sorted((folder / "data" / "outbox").glob("*.eml"))
    ids = _Ids()
    parts = []
    for path in sorted(files, key=lambda p: (p.name.split("-")[0], p.read_bytes())):
        stamp = path.name.split("-")[0]
        parts.append(f"==== {stamp}\n" + ids(path.read_bytes().decode("utf-8")).replace("\r\n", "\n"))
    _compare("demo_outbox.txt", "\n".join(parts))


def _demo_config(folder: Path) -> Path:
    """The demo's own settings as a file, for commands run over its records afterwards."""
    path = folder.parent / "demo.toml"
    path.write_text(
        '[owner]\nname = "Ana Lima"\naddresses = ["ana@example.org"]\ntimezone = "Europe/Berlin"\n'
        'story = "Ten years in consulting, now a product manager in climate tech."\n'
        f'[mailbox]\nkind = "maildir"\npath = "{folder / "Maildir"}"\nusername = "mailflow@example.org"\n'
        f'[data]\nfolder = "{folder / "data"}"\n'
        f'[database]\nurl = "sqlite:///{folder / "data" / "mailflow.db"}"\n',
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("meeting", ["1", "2"])
def test_preview_shows_every_step_as_before(demo: tuple[Path, str], meeting: str) -> None:
    folder, _ = demo
    config = _demo_config(folder)
    ids, parts = _Ids(), []
    for step in STEP_NAMES:
        result = run_cli(
            ["--config", str(config), "--now", "2027-03-02T10:00:00+01:00", "preview", step, meeting]
        )
        assert result.exit_code == 0, result.output
        parts.append(f"==== {step}\n" + ids(result.output))
    _compare(f"preview_meeting{meeting}.txt", "\n".join(parts))


def test_preview_refuses_an_unknown_step_as_before(demo: tuple[Path, str]) -> None:
    folder, _ = demo
    result = run_cli(["--config", str(_demo_config(folder)), "preview", "thank_yuo", "1"])
    _compare("preview_unknown_step.txt", f"exit {result.exit_code}\n{result.output}")


def test_the_feed_of_the_demo_is_as_before(demo: tuple[Path, str]) -> None:
    folder, _ = demo
    config = _demo_config(folder)
    result = run_cli(["--config", str(config), "--now", "2027-03-01T12:00:00+01:00", "export", "ics"])
    assert result.exit_code == 0, result.output
    _compare("demo_feed.ics", result.output.replace("\r\n", "\n"))


# -- every step's labels -----------------------------------------------------------


def test_every_step_has_its_feed_title_as_before() -> None:
    due = datetime(2027, 3, 1, 9, 0, tzinfo=BERLIN)
    steps = [
        FeedStep(f"1/{name}/0", name, "Ben Okafor", due + timedelta(hours=n), "draft")
        for n, name in enumerate((*STEP_NAMES, "not_a_step"))
    ]
    data = build_feed([], steps, zone="Europe/Berlin", domain="example.org", now=due)
    _compare("feed_every_step.ics", data.decode("utf-8").replace("\r\n", "\n"))


def test_every_step_has_its_notice_subject_as_before() -> None:
    lines = []
    for name in (*STEP_NAMES, "not_a_step"):
        draft = EmailMessage()
        draft["Message-ID"] = "<mailflow.20270301T080000.0123456789abcdef@example.org>"
        draft["From"] = "Ana Lima <ana@example.org>"
        draft["To"] = "Ben Okafor <ben.okafor@example.net>"
        draft["Subject"] = "Hello"
        draft[STEP_HEADER] = name
        draft.set_content("Hi Ben,\n")
        notice = build_notice(draft, "ana@example.org", "Ana Lima", "ana@example.org")
        lines.append(f"{name}: {notice['Subject']}")
    _compare("notice_subjects.txt", "\n".join(lines) + "\n")


# -- mailflow check --------------------------------------------------------------------


def _check_config(tmp_path: Path, extra: str = "") -> Path:
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "Maildir" / sub).mkdir(parents=True, exist_ok=True)
    path = tmp_path / "config.toml"
    path.write_text(
        '[owner]\nname = "Ana"\naddresses = ["ana@example.org"]\n'
        f'[mailbox]\nkind = "maildir"\npath = "{tmp_path / "Maildir"}"\n'
        f'[data]\nfolder = "{tmp_path / "data"}"\n' + extra,
        encoding="utf-8",
    )
    return path


def _check(tmp_path: Path, config: Path, *args: str) -> str:
    result = run_cli(["--config", str(config), "check", *args])
    return f"exit {result.exit_code}\n" + result.output.replace(str(tmp_path), "<tmp>")


def test_check_on_defaults_prints_what_it_printed(tmp_path: Path) -> None:
    config = _check_config(tmp_path)
    _compare("check_defaults.txt", _check(tmp_path, config) + _check(tmp_path, config, "--json"))


def test_check_with_every_step_changed_prints_what_it_printed(tmp_path: Path) -> None:
    tables = (
        '[playbook.prep_request]\nmode = "notify"\n'
        '[playbook.homework_brief]\nmode = "draft"\nat = "start - 2d"\ntime_of_day = "07:30"\n'
        '[playbook.summary_prompt]\nmode = "off"\n'
        '[playbook.thank_you]\nmode = "send"\nat = "notes"\n'
        '[playbook.take_action]\nmode = "draft"\n'
        '[playbook.follow_up]\nmode = "send"\npropose = "publish"\n'
        '[playbook.stay_in_touch]\nevery = "6mo"\n'
    )
    config = _check_config(tmp_path, tables)
    _compare("check_steps_changed.txt", _check(tmp_path, config) + _check(tmp_path, config, "--json"))


def test_check_of_bad_step_tables_prints_what_it_printed(tmp_path: Path) -> None:
    tables = (
        '[playbook.prep_request]\nat = "start + 1h"\n'
        '[playbook.homework_brief]\nat = "end"\n'
        '[playbook.follow_up]\nat = "follow_up + 1d"\n'
        '[playbook.stay_in_touch]\nevery = "3h"\n'
    )
    config = _check_config(tmp_path, tables)
    at = _check_config(tmp_path / "at", '[playbook.thank_you]\nat = "lunch"\ntime_of_day = "25:00"\n')
    unknown = _check_config(tmp_path / "unknown", '[playbook.thank_yuo]\nmode = "send"\n')
    key = _check_config(tmp_path / "key", '[playbook.thank_you]\nevery = "1d"\nmode = "later"\n')
    parts = [_check(tmp_path, path) for path in (config, at, unknown, key)]
    _compare("check_bad_steps.txt", "\n".join(parts))


def test_check_of_a_template_folder_prints_what_it_printed(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "thank_you.txt").write_text(
        "Subject: Thanks\n\nHi {{ contact.frist_name }},\n", encoding="utf-8"
    )
    (folder / "follow_up.adviser.txt").write_text("Subject: {{ proposal.wen }}\n\nHi,\n", encoding="utf-8")
    (folder / "thankyou.txt").write_text("Subject: x\n\nx\n", encoding="utf-8")
    (folder / "prep_request.boss.txt").write_text("Subject: x\n\nx\n", encoding="utf-8")
    (folder / "take_action.html").write_text("<p>x</p>\n", encoding="utf-8")
    (folder / "short.txt").write_text("Subject: Short\n\n{{ step }}\n", encoding="utf-8")
    config = _check_config(
        tmp_path, f'[templates]\nfolder = "{folder}"\n[playbook.stay_in_touch]\ntemplate = "short"\n'
    )
    _compare("check_templates.txt", _check(tmp_path, config) + _check(tmp_path, config, "--json"))


def test_the_settings_in_effect_are_shown_as_before(tmp_path: Path) -> None:
    config = _check_config(
        tmp_path, '[playbook.follow_up]\nat = "end + 30d"\n[playbook.take_action]\nmode = "off"\n'
    )
    parts = [run_cli(["--config", str(config), "config", *args]).output for args in ([], ["--json"])]
    _compare("config_playbook.txt", "\n".join(parts).replace(str(tmp_path), "<tmp>"))
