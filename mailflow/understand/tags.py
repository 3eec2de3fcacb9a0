"""The owner's tags: ``#ignore``, ``#note``, ``#seeker``, ``#adviser``.

A tag counts only in lines the owner wrote: above the forward boundary, not
quoted (``>``), never in the subject (a stranger wrote most of it) and never
in the forwarded text.  The caller passes those lines (a forward's preface,
or the owner's own text of a reply); this module drops quoted lines itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailflow.model import Role
from mailflow.understand.roles import role_hint

MAX_OWNER_TEXT = 20_000
_IGNORE = re.compile(r"(?<![\w#])#ignore\b", re.IGNORECASE)
_NOTE = re.compile(r"(?<![\w#])#note\b", re.IGNORECASE)
_ANY_TAG = re.compile(r"(?<![\w#])#(?:ignore|note|seeker|advis[eo]r)\b[ \t]*+", re.IGNORECASE)


@dataclass(frozen=True)
class OwnerTags:
    """What the owner's tags ask for, and the owner's words without them."""

    ignore: bool = False
    note: bool = False
    role: Role | None = None
    text: str = ""  # the owner's own lines, tags removed
    reasons: tuple[str, ...] = ()


def owner_lines(text: str) -> str:
    """The lines of ``text`` that are not quoted."""
    # split on newlines only: a lone CR or U+2028 inside a quoted line must not start an unquoted one
    lines = text[:MAX_OWNER_TEXT].replace("\r\n", "\n").split("\n")
    kept = [line for line in lines if not line.lstrip().startswith(">")]
    return "\n".join(kept).strip()


def owner_tags(text: str) -> OwnerTags:
    """The tags in the owner's own ``text``."""
    own = owner_lines(text)
    ignore, note = bool(_IGNORE.search(own)), bool(_NOTE.search(own))
    role, why = role_hint(own)
    reasons = [why] if why else []
    if ignore:
        reasons.append("the owner tagged it #ignore")
    elif note:
        reasons.append("the owner tagged it #note")
    words = "\n".join(_ANY_TAG.sub("", line).rstrip() for line in own.split("\n")).strip()
    return OwnerTags(ignore, note and not ignore, role, words, tuple(reasons))
