"""``[playbook.<step>]`` parsing: clear errors naming the key, modes, defaults kept."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest

from mailflow.config import Settings, load_settings, parse_at
from mailflow.errors import ConfigError
from mailflow.playbook import PlaybookConfig


def config(drafts: bool | None = None, **playbook: Any) -> PlaybookConfig:
    return PlaybookConfig.from_settings(
        load_settings(None, {"playbook": playbook}), has_drafts_account=drafts
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("scheduled", ("scheduled", timedelta(0))),
        ("start - 1d", ("start", -timedelta(days=1))),
        ("end+3h", ("end", timedelta(hours=3))),
        (" end + 60d ", ("end", timedelta(days=60))),
        ("follow_up + 4mo", ("follow_up", timedelta(days=120))),
        ("notes", ("notes", timedelta(0))),
    ],
)
def test_at_strings(text: str, expected: tuple[str, timedelta]) -> None:
    assert parse_at(text) == expected


@pytest.mark.parametrize("text", ["lunch", "end + 3", "end * 2", "end + 3 hours", "start - -1d", "END"])
def test_a_bad_at_is_one_line_naming_the_key(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config(thank_you={"at": text})
    [line] = caught.value.problems
    assert line.startswith(
        "playbook.thank_you.at: expected an anchor (scheduled, start, end, notes, follow_up)"
    )
    assert f'got "{text}"' in line


def test_a_bad_at_in_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[playbook.take_action]\nat = "tomorrow"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r'^playbook\.take_action\.at: .*got "tomorrow"'):
        load_settings(path)


def test_preparation_steps_must_come_before_the_meeting() -> None:
    with pytest.raises(ConfigError) as caught:
        config(homework_brief={"at": "end"}, prep_request={"at": "start + 1h"})
    assert caught.value.problems == [
        'playbook.prep_request.at: prep_request prepares the meeting: use "scheduled" or '
        '"start - <duration>", got "start + 1h"',
        'playbook.homework_brief.at: homework_brief prepares the meeting: use "scheduled" or '
        '"start - <duration>", got "end"',
    ]


def test_the_follow_up_cannot_hang_on_itself_and_check_ins_need_a_day() -> None:
    with pytest.raises(ConfigError) as caught:
        config(follow_up={"at": "follow_up + 1d"}, stay_in_touch={"every": "3h"})
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "playbook.follow_up.at",
        "playbook.stay_in_touch.every",
    ]


def test_a_table_that_sets_one_key_keeps_the_step_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[playbook.follow_up]\nat = "end + 30d"\n', encoding="utf-8")
    follow_up = load_settings(path).playbook.follow_up
    assert (follow_up.mode, follow_up.at) == ("draft", "end + 30d")  # not the class default "send"
    brief = load_settings(None, {"playbook": {"homework_brief": {"mode": "notify"}}}).playbook.homework_brief
    assert (brief.mode, brief.at, brief.time_of_day) == ("notify", "start - 1d", "08:00")


def test_modes_draft_without_a_drafts_account_is_notify_and_off_is_none() -> None:
    cfg = config(drafts=False, take_action={"mode": "off"})
    assert cfg.delivery_mode("thank_you") == "notify"
    assert cfg.delivery_mode("take_action") is None
    assert cfg.delivery_mode("prep_request") == "send"
    assert config(drafts=True).delivery_mode("thank_you") == "draft"


def test_a_drafts_table_means_a_drafts_account_by_default() -> None:
    assert PlaybookConfig.from_settings(Settings()).has_drafts_account is False
    assert PlaybookConfig.from_settings(Settings(drafts={"host": "imap.example.org"})).has_drafts_account


def test_rules_are_parsed() -> None:
    cfg = config()
    brief = cfg.rule("homework_brief")
    assert (brief.anchor, brief.offset, brief.time_of_day) == ("start", -timedelta(days=1), time(8, 0))
    assert cfg.stay_every == timedelta(days=120) and cfg.max_lateness == timedelta(days=2)
    assert cfg.window.days == frozenset(range(5))
