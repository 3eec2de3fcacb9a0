"""The owner's hint about their role: ``#adviser`` (they give advice) or ``#seeker`` (they ask)."""

from __future__ import annotations

import re

from mailflow.model import Role

_ADVISER = re.compile(r"(?<![\w#])#advis[eo]r\b", re.IGNORECASE)
_SEEKER = re.compile(r"(?<![\w#])#seeker\b", re.IGNORECASE)


def role_hint(*texts: str) -> tuple[Role | None, str]:
    """The role the owner tagged, and a reason when the tags were contradictory."""
    text = "\n".join(t[:20000] for t in texts)
    adviser, seeker = bool(_ADVISER.search(text)), bool(_SEEKER.search(text))
    if adviser and seeker:
        return None, "both #adviser and #seeker given; role left open"
    if adviser:
        return "adviser", "the owner tagged the meeting #adviser"
    if seeker:
        return "seeker", "the owner tagged the meeting #seeker"
    return None, ""
