"""Plain meeting requests: "could we grab coffee?", "auriez-vous 20 minutes ?", "lass uns mal telefonieren".

Precision first.  Each phrase family of :mod:`request_phrases` (English, French, German, Spanish)
adds or removes a fixed weight once and names itself in the reasons.  What asks adds up to at most
1, what speaks against it is taken off that, and the result, clamped to 0..1, is the confidence;
only a confidence at or above ``[trust] request_threshold`` (0.6 by default) makes a request.
A request to meet someone else ("my colleague would love to talk to you") is reported as
``on_behalf``: the meeting then needs that person as its counterpart.  Mail that only looks like one (newsletters, webinars, thanks for a coffee that
already happened, "are you available?" with nothing else, receipts, reminders) loses weight so it
stays below.  A day without a time ("next week", "mardi prochain") is a signal here only: times are
proposed by ``when.proposed_times``, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailflow.understand.replies import own_text
from mailflow.understand.request_phrases import ON_BEHALF, PHRASES

MAX_CHARS = 20000
MIN_WORDS = 15

#: (pattern, weight, label) for every row of the table; a label counts once
_SIGNALS: tuple[tuple[re.Pattern[str], float, str], ...] = tuple(
    (re.compile(row.pattern, re.IGNORECASE | re.MULTILINE), row.weight, row.label) for row in PHRASES
)
_WORD = re.compile(r"\w+")
_LINK = re.compile(r"https?://")


@dataclass(frozen=True)
class RequestScore:
    confidence: float
    reasons: tuple[str, ...]
    on_behalf: bool = False  # asks to meet someone else: the meeting needs that person as counterpart


def score(text: str, *, bulk: bool = False, proposed: int = 0) -> RequestScore:
    """How surely ``text`` (subject line first) asks for a meeting, with the signals that fired."""
    # only what the writer wrote counts: a forwarded thread keeps its history below the new text;
    # typographic apostrophes read as plain ones ("let’s", "j’aimerais")
    sample = own_text(text[:MAX_CHARS].replace("\u2019", "'").replace("\u02bc", "'"))
    found, against = 0.0, 0.0
    reasons: list[str] = []
    fired: set[str] = set()
    for pattern, weight, label in _SIGNALS:
        if label not in fired and pattern.search(sample):
            fired.add(label)
            found, against = (found + weight, against) if weight > 0 else (found, against + weight)
            reasons.append(f"{label} ({weight:+.2f})")
    if proposed:
        found += 0.15
        reasons.append(f"proposes {proposed} time(s) (+0.15)")
    # what asks saturates at 1: a newsletter quoting every phrase still loses what speaks against it
    total = min(1.0, found) + against
    words = len(_WORD.findall(sample))
    if words < MIN_WORDS:
        total -= 0.25
        reasons.append(f"only {words} words, no context (-0.25)")
    if len(_LINK.findall(sample)) > 5:
        total -= 0.2
        reasons.append("many links (-0.20)")
    if bulk:
        total -= 0.4
        reasons.append("sent as bulk or list mail (-0.40)")
    confidence = round(max(0.0, min(1.0, total)), 2)
    return RequestScore(confidence, tuple(reasons), on_behalf=ON_BEHALF in fired)
