"""``check_templates``: render every template before anything is due.

Each step is rendered for both roles, with and without notes (and, for the
step that proposes the next coffee, with and without a proposal), against a
sample meeting, so a misspelt variable shows up in ``mailflow check`` rather
than on the day.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from mailflow.compose.context import (
    ComposeContext,
    ContactInfo,
    MeetingInfo,
    OwnerInfo,
    ProposalInfo,
    Role,
)
from mailflow.compose.environment import base_name, folders, render
from mailflow.config import Settings
from mailflow.errors import TemplateError

ROLES: tuple[Role, ...] = ("seeker", "adviser")
_SUFFIXES = (".txt", ".html")


def sample_context(settings: Settings, *, notes: bool, proposal: bool = False) -> ComposeContext:
    """A plausible meeting for trying templates out."""
    zone = ZoneInfo(settings.owner.timezone)
    start = datetime(2024, 5, 14, 10, 0, tzinfo=zone)
    owner = OwnerInfo(
        name=settings.owner.name,
        address=settings.owner.addresses[0] if settings.owner.addresses else "owner@example.org",
        timezone=settings.owner.timezone,
        story=settings.owner.story,
    )
    earlier = MeetingInfo("First coffee", start - timedelta(days=200), notes="Suggested I talk to Priya.")
    return ComposeContext(
        owner=owner,
        contact=ContactInfo("Ana Pérez", "ana.perez@example.com", "Europe/Madrid"),
        meeting=MeetingInfo(
            summary="Coffee with Ana",
            start=start,
            end=start + timedelta(minutes=45),
            location="Café Central",
            url="https://meet.example.com/abc-defg-hij",
            subject="Could we grab a coffee?",
            files=("Ana Pérez CV.pdf",),
        ),
        role="seeker",
        notes='- Talk to the product team before applying\n- Read "Inspired" by Marty Cagan' if notes else "",
        earlier_meetings=(earlier,),
        action_by=start + timedelta(days=3),
        follow_up_at=start + timedelta(days=60),
        proposal=ProposalInfo(start + timedelta(days=67), start + timedelta(days=67, minutes=30))
        if proposal
        else None,
    )


def check_templates(settings: Settings) -> list[str]:
    """Every problem with the templates, one sentence each; empty when all render."""
    try:
        searched = folders(settings)
    except TemplateError as exc:
        return [str(exc)]
    problems = _stray_files(searched, settings)
    for step in settings.steps.names:
        for role in ROLES:
            for ctx in _samples(settings, step):
                try:
                    render(step, role, dataclasses.replace(ctx, role=role), settings)
                except TemplateError as exc:
                    if str(exc) not in problems:
                        problems.append(str(exc))
    return problems


def _samples(settings: Settings, step: str) -> list[ComposeContext]:
    samples = [sample_context(settings, notes=False), sample_context(settings, notes=True)]
    spec = settings.steps.get(step)
    if spec is not None and spec.attaches == "proposal":
        samples += [sample_context(settings, notes=n, proposal=True) for n in (False, True)]
    return samples


def _stray_files(searched: list[tuple[str, Path]], settings: Settings) -> list[str]:
    """Files in the user's folder that no step will ever use (a misspelt name, say)."""
    problems: list[str] = []
    if len(searched) < 2:
        return problems
    _, folder = searched[0]
    steps = settings.steps.names
    names = set(steps) | {_template_name(step, settings) for step in steps}
    for path in sorted(folder.iterdir()):
        if path.name.startswith((".", "_")) or path.suffix not in _SUFFIXES:
            continue
        stem = path.name[: -len(path.suffix)]
        name, _, role = stem.partition(".")
        if name not in names:
            problems.append(
                f"Template {path} matches no step ({', '.join(steps)}), so it is never used; "
                "rename it, or start its name with _ if it is a partial."
            )
        elif role and role not in ROLES:
            problems.append(f"Template {path} names the role {role!r}; the roles are seeker and adviser.")
        elif path.suffix == ".html" and not path.with_suffix(".txt").is_file():
            problems.append(
                f"Template {path} has no {path.with_suffix('.txt').name} beside it, so it is never used: "
                "an HTML body goes out only with the text template next to it."
            )
    return problems


def _template_name(step: str, settings: Settings) -> str:
    try:
        return base_name(step, settings)
    except TemplateError:
        return step
