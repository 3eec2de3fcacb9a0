"""Plain meeting requests: "could we grab coffee?", "an informational interview".

Precision first.  Each signal adds or removes a fixed weight and names
itself in the reasons; the sum, clamped to 0..1, is the confidence, and
only a confidence at or above ``[trust] request_threshold`` (0.6 by default)
makes a request.  Spam-like mail ("are you available to speak now?" with no
context, sales pitches, urgency) loses weight so it stays below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FLAGS = re.IGNORECASE

#: (pattern, weight, what it means); each counts once
_SIGNALS: tuple[tuple[re.Pattern[str], float, str], ...] = tuple(
    (re.compile(pattern, _FLAGS), weight, label)
    for pattern, weight, label in (
        (r"informational\s+(?:interview|chat|call|meeting|conversation)|info(?:rmational)?\s+interview",
         0.55, "asks for an informational interview"),
        (r"pick\s+your\s+brain|tap\s+your\s+brain", 0.45, 'wants to "pick your brain"'),
        (r"(?:grab|get|have|buy you|over|for|virtual|quick|a)\s+(?:a\s+)?coffee|coffee\s+(?:chat|meeting|break)"
         r"|auf einen kaffee|un café|un caffè|een kop koffie|een koffie", 0.4, "suggests coffee"),
        (r"would\s+you\s+(?:have|be\s+(?:open|available|free|willing)|mind|like)|do\s+you\s+have\s+(?:some\s+)?time"
         r"|could\s+we\s+(?:set\s+up|schedule|find|arrange|meet|talk|chat)|are\s+you\s+(?:free|open\s+to)"
         r"|hätten\s+sie\b.{0,30}\bzeit|hättest\s+du\b.{0,30}\bzeit|haben\s+sie\b.{0,30}\bzeit|auriez-vous|seriez-vous\s+disponible|tendrías\s+tiempo"
         r"|tendría\s+tiempo|avresti\s+tempo|heeft\s+u\s+tijd|heb\s+je\s+tijd", 0.25, "asks whether you have time"),
        (r"\b(?:15|20|30|45|fifteen|twenty|thirty)\s*(?:-\s*)?min(?:ute)?s?\b|half\s+an\s+hour|(?<!\d)\d+\s*minuten",
         0.2, "names a short duration"),
        (r"\b(?:chat|call|talk|meet(?:ing)?|connect|catch\s+up|conversation|gespräch|échanger|charlar)\b",
         0.1, "mentions a chat, call or meeting"),
        (r"\b(?:career|advice|your\s+(?:experience|path|journey|work|role|team)|learn\s+(?:more\s+)?(?:about|from)"
         r"|transition(?:ing)?\s+(?:into|to)|breaking\s+into|mentor|insights?|guidance|beruf|karriere|carrière"
         r"|erfahrung|expérience|experiencia|esperienza)\b",
         0.15, "gives a reason about career or advice"),
        (r"\b(?:introduc(?:ed|tion)|referred|suggested\s+(?:i|that\s+i)\s+(?:reach|contact|talk)|we\s+met\s+at"
         r"|mutual|alumn[ia]|linkedin|your\s+(?:talk|post|article))", 0.1, "gives a context for the contact"),
        (r"are\s+you\s+available\s+(?:to\s+(?:speak|talk|chat)\s+)?(?:now|right\s+now|today)\b"
         r"|can\s+you\s+(?:talk|speak)\s+now|call\s+me\s+(?:now|asap|back)", -0.45, "asks to speak right now"),
        (r"\b(?:urgent(?:ly)?|asap|immediately|right\s+away|act\s+now|limited\s+time)\b", -0.3, "sounds urgent"),
        (r"\b(?:gift\s*cards?|wire\s+transfer|bitcoin|crypto|invoice|payment|bank\s+details|password|verify\s+your)\b",
         -0.5, "mentions money or credentials"),
        (r"\b(?:our\s+(?:product|platform|solution|services|agency)|demo|webinar|pricing|free\s+trial|seo|leads"
         r"|book\s+a\s+(?:demo|call\s+with\s+our)|sales)\b", -0.35, "reads like a sales pitch"),
        (r"\bunsubscribe\b|view\s+(?:this\s+email\s+)?in\s+(?:your\s+)?browser|no\s+longer\s+wish\s+to\s+receive",
         -0.4, "has a mailing-list footer"),
    )
)  # fmt: skip

MIN_WORDS = 15


@dataclass(frozen=True)
class RequestScore:
    confidence: float
    reasons: tuple[str, ...]


def score(text: str, *, bulk: bool = False, proposed: int = 0) -> RequestScore:
    """How surely ``text`` asks for a meeting, with the signals that fired."""
    sample = text[:20000]
    total = 0.0
    reasons: list[str] = []
    for pattern, weight, label in _SIGNALS:
        if pattern.search(sample):
            total += weight
            reasons.append(f"{label} ({weight:+.2f})")
    if proposed:
        total += 0.15
        reasons.append(f"proposes {proposed} time(s) (+0.15)")
    words = len(re.findall(r"\w+", sample))
    if words < MIN_WORDS:
        total -= 0.25
        reasons.append(f"only {words} words, no context (-0.25)")
    if len(re.findall(r"https?://", sample)) > 5:
        total -= 0.2
        reasons.append("many links (-0.20)")
    if bulk:
        total -= 0.4
        reasons.append("sent as bulk or list mail (-0.40)")
    return RequestScore(round(max(0.0, min(1.0, total)), 2), tuple(reasons))
