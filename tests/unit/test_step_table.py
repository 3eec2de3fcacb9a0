"""The step table is the one source of what a step is: nothing else names a step, and the docs agree with it."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from mailflow.config import Settings, load_settings
from mailflow.errors import ConfigError
from mailflow.model import STEP_AUDIENCE
from mailflow.playbook import RULES, PlaybookConfig
from mailflow.steps import DEFAULT_STEPS, Labels, StepRegistry, StepSpec

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "mailflow"
TABLE = PACKAGE / "steps.py"
_NAMES = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(DEFAULT_STEPS.names) + r")(?![A-Za-z0-9_])")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def step_names_written(source: str) -> list[str]:
    """Strings (docstrings aside) in ``source`` that spell a step's name."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
        if _NAMES.search(node.value)
    ]


def test_no_step_is_named_outside_the_table() -> None:
    written = {
        str(path.relative_to(ROOT)): found
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != TABLE and (found := step_names_written(path.read_text(encoding="utf-8")))
    }
    assert written == {}, "read these from the step table (mailflow/steps.py) instead"


def test_the_check_sees_a_step_name_in_code_but_not_in_docs() -> None:
    assert step_names_written('if step == "follow_up":\n    pass\n') == ["follow_up"]
    assert step_names_written('key = f"{key}/thank_you"\n') == ["/thank_you"]
    assert step_names_written('"""The thank_you step."""\nx = "thank_your_host"\n') == []


# -- README's step table -------------------------------------------------------------


def _readme_rows() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## The playbook") :]
    lines = section[section.index("| step | to |") :].splitlines()
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_readme_step_table_is_the_step_table_column_by_column() -> None:
    header = (ROOT / "README.md").read_text(encoding="utf-8").split("| step | to |", 1)[1].splitlines()[0]
    assert header.strip() == "default `at` | time of day | default mode | when |"
    rows = _readme_rows()
    assert [re.match(r"`([a-z_]+)`", row[0]).group(1) for row in rows] == list(DEFAULT_STEPS.names)  # type: ignore[union-attr]
    for row, spec in zip(rows, DEFAULT_STEPS, strict=True):
        what, to, at, time_of_day, mode = row[:5]
        assert what == f"`{spec.name}`: {spec.labels.cli}"
        assert to == {"owner": "you", "contact": "contact"}[spec.audience], spec.name
        assert at == f"`{spec.at}`", spec.name
        assert time_of_day == spec.time_of_day, spec.name
        assert mode == spec.mode, spec.name


# -- the config reads its defaults from the table ---------------------------------------


def test_every_step_has_a_config_table_with_its_defaults() -> None:
    playbook = Settings().playbook
    assert list(type(playbook).model_fields) == list(DEFAULT_STEPS.names)
    for spec in DEFAULT_STEPS:
        table = playbook.table(spec.name)
        assert (table.mode, table.at, table.time_of_day) == (spec.mode, spec.at, spec.time_of_day)
        assert getattr(table, "every", "") == spec.every
        assert hasattr(table, "propose") == (spec.attaches == "proposal")


def test_config_example_shows_every_steps_defaults() -> None:
    example = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))["playbook"]
    assert list(example) == list(DEFAULT_STEPS.names)
    for spec in DEFAULT_STEPS:
        shown = example[spec.name]
        assert (shown["mode"], shown["at"], shown["time_of_day"]) == (spec.mode, spec.at, spec.time_of_day)
        assert shown.get("every", "") == spec.every


def test_the_anchors_are_the_meetings_moments_and_the_anchor_steps() -> None:
    assert DEFAULT_STEPS.anchors == ("scheduled", "start", "end", "notes", "follow_up")


def test_model_step_audience_is_a_view_of_the_table() -> None:
    assert {spec.name: spec.audience for spec in DEFAULT_STEPS} == STEP_AUDIENCE


def test_every_rule_the_table_names_exists() -> None:
    assert {spec.rule for spec in DEFAULT_STEPS} <= set(RULES)


# -- registering ------------------------------------------------------------------------

CARD = StepSpec(
    name="thank_you_card",
    audience="owner",
    mode="send",
    at="end + 1d",
    time_of_day="18:00",
    labels=Labels(cli="a reminder to post a card", notice="card reminder", feed="Card for {who}"),
)


def test_register_makes_a_new_registry_and_leaves_the_old_one() -> None:
    before = DEFAULT_STEPS.names
    more = DEFAULT_STEPS.register(CARD)
    assert more.names == (*before, CARD.name) and DEFAULT_STEPS.names == before
    assert (
        more[CARD.name] is CARD
        and more.audience(CARD.name) == "owner"
        and DEFAULT_STEPS.get(CARD.name) is None
    )


@pytest.mark.parametrize("name", ["thank_you", "Thank_You", "thank-you", "end", "", "1st"])
def test_a_name_that_is_taken_or_unusable_is_refused(name: str) -> None:
    with pytest.raises(ValueError):
        DEFAULT_STEPS.register(StepSpec(name, "owner", "send", "end", CARD.labels))


def test_settings_for_a_registry_have_its_table_and_leave_the_default_alone() -> None:
    settings = load_settings(
        None, {"playbook": {CARD.name: {"mode": "off"}}}, steps=DEFAULT_STEPS.register(CARD)
    )
    assert settings.playbook.table(CARD.name).mode == "off"
    assert settings.playbook.table(CARD.name).time_of_day == "18:00"
    assert PlaybookConfig.from_settings(settings).delivery_mode(CARD.name) is None
    with pytest.raises(ConfigError, match=r"playbook\.thank_you_card: unknown setting"):
        load_settings(None, {"playbook": {CARD.name: {"mode": "off"}}})
    assert Settings.steps is DEFAULT_STEPS


def test_a_step_may_be_timed_from_a_new_anchor_step_but_not_in_a_circle() -> None:
    first = StepSpec("first_card", "owner", "send", "second_card + 1d", CARD.labels, anchor=True)
    second = StepSpec("second_card", "owner", "send", "end + 1d", CARD.labels, anchor=True)
    steps = StepRegistry((*DEFAULT_STEPS, first, second))
    assert (
        PlaybookConfig.from_settings(load_settings(None, steps=steps)).rule("first_card").anchor
        == "second_card"
    )
    circle = {"playbook": {"second_card": {"at": "first_card + 1d"}}}
    with pytest.raises(ConfigError, match=r"timed from each other in a circle \(first_card -> second_card"):
        PlaybookConfig.from_settings(load_settings(None, circle, steps=steps))


def test_a_spec_naming_no_rule_is_refused() -> None:
    steps = DEFAULT_STEPS.register(StepSpec("odd", "owner", "send", "end", CARD.labels, rule="whenever"))
    with pytest.raises(ConfigError, match="no planning rule is called 'whenever'"):
        PlaybookConfig.from_settings(load_settings(None, steps=steps))
