"""The steps of the playbook, one row each: the single source of what a step is.

Each :class:`StepSpec` says who reads the step, its defaults, which planning
rule times it (by name; ``playbook/`` resolves the names), whether it is
planned per occurrence or once per meeting, whether it prepares the meeting,
whether a recurring series or a later meeting takes it over, what it attaches,
and what people see it called.  Everything else reads it from a
:class:`StepRegistry`: the config (defaults and validation), the planner,
dispatch, compose, ``check``, ``preview``, the notify sink, the feed, the demo
and README's step table (checked by ``tests/unit/test_step_table.py``).

Only steps of a meeting are here: owner-level mails (the weekly review,
acknowledgements, confirmations) are another kind.

This module is the ground floor: it imports nothing of mailflow.  A registry
is a value: :meth:`StepRegistry.register` returns a new one and leaves the
old one as it was.  Settings made for a registry
(``load_settings(..., steps=registry)``) carry it to everything built from
them, so nothing global changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Audience = Literal["owner", "contact"]
Mode = Literal["send", "draft", "notify", "off"]
#: one step per occurrence of a meeting (a series has one per occurrence), or one per meeting
Per = Literal["occurrence", "meeting"]
#: "reminders": the owner's reminders as an .ics; "proposal": the next coffee, proposed as an invite
Attachment = Literal["reminders", "proposal"]

#: the moments of a meeting a step can be timed from; steps marked ``anchor`` add their own
MEETING_ANCHORS = ("scheduled", "start", "end", "notes")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Labels:
    """What people see a step called."""

    cli: str  # what it is, in one line: `mailflow preview --help` and README's step table
    notice: str  # a draft mailed to the owner: "Ready to send: your <notice> to Ana"
    feed: str  # the title of its event in the calendar feed; {who} is the contact


@dataclass(frozen=True)
class StepSpec:
    """One step of the playbook: everything that is true of it whatever the configuration says.

    ``mode``, ``at``, ``time_of_day`` and ``every`` are the defaults of its
    ``[playbook.<name>]`` table; the rest is fixed.
    """

    name: str
    audience: Audience  # who reads it; not configurable
    mode: Mode
    at: str  # an anchor plus or minus a duration: "end + 3h"
    labels: Labels
    time_of_day: str = ""  # "HH:MM", or "" to keep the moment's own time
    rule: str = "at"  # the planning rule, by name: most are "at" (the anchor plus the offset)
    per: Per = "occurrence"
    prepares: bool = False  # goes out before the meeting or not at all: `at` is "scheduled" or "start - ..."
    series_takes_over: bool = False  # a recurring series has none: the series itself keeps in touch
    later_meeting_takes_over: bool = False  # a later meeting with the contact carries it instead
    anchor: bool = False  # its moment can time other steps: at = "<name> + 4mo"
    attaches: Attachment | None = None
    every: str = ""  # a step that repeats: the default of its table's `every`


class StepRegistry:
    """The steps, in the routine's order; a value: :meth:`register` returns a new registry."""

    def __init__(self, specs: tuple[StepSpec, ...] = ()) -> None:
        self._specs = tuple(specs)
        self._by_name = {spec.name: spec for spec in self._specs}
        problems = [p for spec in self._specs for p in _spec_problems(spec)]
        if len(self._by_name) != len(self._specs):
            problems.append("two steps share a name")
        if problems:
            raise ValueError("; ".join(problems))

    def register(self, spec: StepSpec) -> StepRegistry:
        """A new registry with ``spec`` after the others (ValueError for a name taken or not usable)."""
        if spec.name in self._by_name:
            raise ValueError(f"there is a step called {spec.name!r} already")
        return StepRegistry((*self._specs, spec))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self._specs)

    @property
    def anchors(self) -> tuple[str, ...]:
        """What ``at`` may start from: the meeting's moments, then the steps marked ``anchor``."""
        return MEETING_ANCHORS + tuple(spec.name for spec in self._specs if spec.anchor)

    def get(self, name: str) -> StepSpec | None:
        return self._by_name.get(name)

    def audience(self, name: str) -> Audience | None:
        """Who reads the step ``name``; None for a name that is not a step of this registry."""
        spec = self._by_name.get(name)
        return spec.audience if spec is not None else None

    def index(self, name: str) -> int:
        """The step's place in the routine (ValueError for an unknown name)."""
        return self.names.index(name)

    def attaching(self, attachment: Attachment) -> tuple[StepSpec, ...]:
        return tuple(spec for spec in self._specs if spec.attaches == attachment)

    def __getitem__(self, name: str) -> StepSpec:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[StepSpec]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StepRegistry) and self._specs == other._specs

    def __hash__(self) -> int:
        return hash(self._specs)

    def __repr__(self) -> str:
        return f"StepRegistry({', '.join(self.names)})"


def _spec_problems(spec: StepSpec) -> list[str]:
    problems = []
    if not _NAME.match(spec.name) or spec.name in MEETING_ANCHORS:
        problems.append(
            f"{spec.name!r} cannot name a step: use lower-case letters, digits and _ "
            f"(it is a config table and a template name), and none of {', '.join(MEETING_ANCHORS)}"
        )
    return problems


_PREP_REQUEST = StepSpec(
    name="prep_request",
    audience="contact",
    mode="send",
    at="scheduled",
    rule="ask_for_materials",
    per="meeting",
    prepares=True,
    labels=Labels(
        cli="their résumé or work samples, what they hope to get out of it, their questions",
        notice="prep request",
        feed="Prep request to {who}",
    ),
)
_HOMEWORK_BRIEF = StepSpec(
    name="homework_brief",
    audience="owner",
    mode="send",
    at="start - 1d",
    time_of_day="08:00",
    prepares=True,
    labels=Labels(
        cli="who they are, earlier meetings and notes, what they sent, smart questions, your story",
        notice="homework brief",
        feed="Homework brief: meeting with {who}",
    ),
)
_SUMMARY_PROMPT = StepSpec(
    name="summary_prompt",
    audience="owner",
    mode="send",
    at="end",
    rule="prompt_for_notes",
    labels=Labels(
        cli='"what were the most valuable insights?" (your reply becomes the notes)',
        notice="notes prompt",
        feed="Notes prompt: meeting with {who}",
    ),
)
_THANK_YOU = StepSpec(
    name="thank_you",
    audience="contact",
    mode="draft",
    at="end + 3h",
    rule="sooner_with_notes",
    labels=Labels(cli="personal, using your notes", notice="thank-you", feed="Thank-you to {who}"),
)
_TAKE_ACTION = StepSpec(
    name="take_action",
    audience="owner",
    mode="send",
    at="end + 1d",
    time_of_day="09:00",
    attaches="reminders",
    labels=Labels(
        cli="your notes, and one thing to do within three days",
        notice="take-action reminder",
        feed="Take-action reminder: meeting with {who}",
    ),
)
_FOLLOW_UP = StepSpec(
    name="follow_up",
    audience="contact",
    mode="draft",
    at="end + 60d",
    series_takes_over=True,
    later_meeting_takes_over=True,
    anchor=True,
    attaches="proposal",
    labels=Labels(
        cli='"what resonated with you, how are things going?", with a proposal for the next coffee',
        notice="follow-up",
        feed="Follow-up to {who}",
    ),
)
_STAY_IN_TOUCH = StepSpec(
    name="stay_in_touch",
    audience="contact",
    mode="draft",
    at="follow_up + 4mo",
    rule="check_ins",
    per="meeting",
    series_takes_over=True,
    later_meeting_takes_over=True,
    every="4mo",
    labels=Labels(cli="a check-in", notice="check-in", feed="Check-in with {who}"),
)

#: the playbook mailflow ships: the routine from the article it is built on
DEFAULT_STEPS = StepRegistry(
    (_PREP_REQUEST, _HOMEWORK_BRIEF, _SUMMARY_PROMPT, _THANK_YOU, _TAKE_ACTION, _FOLLOW_UP, _STAY_IN_TOUCH)
)
