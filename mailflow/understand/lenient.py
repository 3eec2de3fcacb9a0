"""Calendars one bad line cannot sink.

icalendar 7 reads a VEVENT leniently: a value it cannot parse is kept as a
``vBroken`` property.  Everything else is strict: one line it cannot split
into name, parameters and value, anywhere, or one value it cannot parse in a
VALARM, a VTODO or the VCALENDAR itself (``TRIGGER:P-15M``), fails the whole
file, and an END that skips one (a VALARM never closed) loses every event.
So, on the unfolded lines, before icalendar parses them:

- a calendar still quoted-printable encoded (a bare .ics saved from a QP
  part: ``=3D``, soft line breaks) is decoded (:func:`decoded_leftover_qp`);
  so are the soft breaks of vCalendar 1.0's ``ENCODING=QUOTED-PRINTABLE``
  values (:func:`joined_soft_breaks`; the value itself: :func:`qp_text`);
- a VALARM with a line icalendar cannot read is dropped whole, with the
  reason (:func:`lenient_lines`);
- any other line icalendar cannot read is dropped with the reason, except one
  that decides a VEVENT's identity, time, recurrence or status (:data:`DECISIVE`)
  or the calendar's METHOD: that one becomes an :data:`UNREAD` line holding it,
  so that reading the event says what was not read (:func:`unread`), and the
  meeting is never built on a guess;
- an END that closes an outer component closes the inner ones first; an END
  without its BEGIN is dropped.

After parsing, :func:`dropped_broken` drops a VEVENT's cosmetic properties
icalendar could not parse (CREATED, ATTACH, X-...), with the reason; its
decisive ones are left for ``events`` to doubt.  Each check is one small parse
of one line (or one alarm), so the work grows with the text, no more.
"""

from __future__ import annotations

import quopri
import re
from typing import Any

import icalendar
from icalendar.parser import Contentline
from icalendar.prop import vBroken, vText, vUnknown

from mailflow.text import one_line
from mailflow.understand.mime import decode_bytes

#: what decides a VEVENT's identity, time, recurrence or status: never dropped, never guessed
DECISIVE = frozenset(
    {"UID", "DTSTART", "DTEND", "DURATION", "RRULE", "EXDATE", "RDATE", "RECURRENCE-ID", "STATUS", "SEQUENCE"}
)
#: the same for the VCALENDAR itself
CALENDAR_DECISIVE = frozenset({"METHOD"})
#: the line that stands for a decisive line icalendar cannot read; only this module writes it
UNREAD = "X-MAILFLOW-UNREAD"
MAX_REASONS = 12
_READ_LENIENTLY = frozenset({"DTSTAMP"})  # events reads a loose DTSTAMP itself
_TAKEN_AS_IS = (vText, vUnknown)  # value types icalendar never fails to read
_NAME = re.compile(r"[A-Za-z0-9-]+")
_QP_EVIDENCE = re.compile(r"=3[Dd]|=\n(?![ \t])")  # on text whose lines end in "\n"
_NOT_QP = re.compile(r"=(?![0-9A-Fa-f]{2}|\n|\Z)")
_QP_PARAM = re.compile(r";[ \t]*ENCODING[ \t]*=[ \t]*\"?QUOTED-PRINTABLE", re.IGNORECASE)


def decoded_leftover_qp(text: str) -> tuple[str, list[str]]:
    """``text`` decoded when it is still quoted-printable as a whole, and the reason.

    Only when every ``=`` in it starts an escape or a soft line break, and it
    has at least one ``=3D`` or soft break: an iCalendar file always has a bare
    ``=`` somewhere (``TZID=Europe/...``, ``FREQ=WEEKLY``) unless it was encoded.
    """
    if not _QP_EVIDENCE.search(text) or _NOT_QP.search(text):
        return text, []
    data = quopri.decodestring(text.encode("utf-8", "replace"))
    decoded, _ = decode_bytes(data, "utf-8")
    return decoded, ["the calendar was still quoted-printable encoded (=3D, soft line breaks); decoded"]


def joined_soft_breaks(lines: list[str]) -> list[str]:
    """Lines with the soft breaks (a final ``=``) of ``ENCODING=QUOTED-PRINTABLE`` values joined."""
    out: list[str] = []
    pending: list[str] = []
    for line in lines:
        if pending:
            pending.append(line)
        elif line.endswith("=") and _QP_PARAM.search(line.split(":", 1)[0]):
            pending = [line]
        else:
            out.append(line)
            continue
        if not line.endswith("="):
            out.append("".join(part[:-1] for part in pending[:-1]) + pending[-1])
            pending = []
    if pending:
        out.append("".join(part[:-1] for part in pending))
    return out


def qp_text(text: str, charset: str) -> str:
    """A value written as quoted-printable (vCalendar 1.0), decoded."""
    data = quopri.decodestring(text.encode("utf-8", "replace"))
    return decode_bytes(data, charset or "utf-8")[0]


def name_of(line: str) -> str:
    """The property name a content line starts with, upper case."""
    found = _NAME.match(line)
    return found[0].upper() if found else ""


def lenient_lines(lines: list[str]) -> tuple[list[str], list[str]]:
    """The content lines (unfolded) icalendar can read in full, and what was dropped or changed."""
    reader = _Lines()
    for line in lines:
        reader.read(line)
    return reader.finish()


def unread(component: Any) -> list[str]:
    """The decisive lines of ``component`` that could not be read (see :func:`lenient_lines`)."""
    value = component.get(UNREAD)
    values = value if isinstance(value, list) else [] if value is None else [value]
    return [str(v) for v in values]


def dropped_broken(component: Any, what: str) -> list[str]:
    """Drop the properties icalendar could not parse, except the decisive ones; the reasons.

    ``what`` names the component in the reasons ("event").
    """
    reasons: list[str] = []
    for name in list(component.keys()):
        if name in DECISIVE or name in _READ_LENIENTLY:
            continue
        value = component[name]
        values = value if isinstance(value, list) else [value]
        broken = [v for v in values if isinstance(v, vBroken)]
        if not broken:
            continue
        kept = [v for v in values if not isinstance(v, vBroken)]
        if not kept:
            del component[name]
        else:
            component[name] = kept if len(kept) > 1 else kept[0]
        reasons.append(
            f"dropped {name} that cannot be read ({one_line(str(broken[0]), 40)!r}); the {what} is still read"
        )
    return reasons


def broken_values(component: Any, name: str) -> list[str]:
    """The raw values of ``name`` in ``component`` that icalendar could not parse."""
    value = component.get(name)
    values = value if isinstance(value, list) else [] if value is None else [value]
    return [str(v) for v in values if isinstance(v, vBroken)]


def _splits(line: str) -> bool:
    """Whether icalendar can split the line into name, parameters and value."""
    try:
        Contentline(line).parts()  # type: ignore[no-untyped-call]
    except Exception:
        return False
    return True


def _reads_in(component: str, line: str) -> bool:
    """Whether icalendar reads ``line`` in a ``component`` that is strict about its values."""
    try:
        name, params, _ = Contentline(line).parts()  # type: ignore[no-untyped-call]
        if icalendar.Component.types_factory.for_property(name, params.value) in _TAKEN_AS_IS:
            return True  # text is taken as written: no need for the costlier check below
        icalendar.Component.from_ical(f"BEGIN:{component}\r\n{line}\r\nEND:{component}\r\n")
    except Exception:
        return False
    return True


def _alarm_problem(block: list[str]) -> str:
    """Why icalendar cannot read the VALARM ``block`` (BEGIN to END), or ""."""
    try:
        icalendar.Component.from_ical("\r\n".join(block) + "\r\n")
    except Exception:
        pass
    else:
        return ""
    for line in block[1:-1]:
        name = name_of(line)
        if name not in {"BEGIN", "END"} and not _reads_in("VALARM", line):
            return f"{name} cannot be read ({one_line(line, 60)})"
    return "lines cannot be read together"


class _Lines:
    """The line-by-line pass of :func:`lenient_lines`: a stack of the open components."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.reasons: list[str] = []
        self.stack: list[str] = []
        self.open: dict[str, int] = {}  # how many of each name are on the stack
        self.alarm: list[str] | None = None  # the lines of the VALARM being read
        self.alarm_depth = 0

    def say(self, reason: str) -> None:
        if reason in self.reasons:
            return
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(reason)
        elif len(self.reasons) == MAX_REASONS:
            self.reasons.append("more lines that cannot be read were dropped")

    def emit(self, line: str) -> None:
        (self.alarm if self.alarm is not None else self.out).append(line)

    def read(self, line: str) -> None:
        name = name_of(line)
        if name == UNREAD:
            return
        if name not in {"BEGIN", "END"}:
            self._property(name, line)
            return
        head, _, value = line.partition(":")
        component = value.strip().upper()
        if head.strip().upper() != name or not component:
            self.say(f"dropped a line that cannot be read ({one_line(line, 60)})")
        elif name == "BEGIN":
            self._begin(component)
        else:
            self._end(component)

    def _begin(self, component: str) -> None:
        if component == "VALARM" and self.alarm is None and not self.open.get("VTIMEZONE"):
            self.alarm, self.alarm_depth = [], len(self.stack)
        self.stack.append(component)
        self.open[component] = self.open.get(component, 0) + 1
        self.emit(f"BEGIN:{component}")

    def _end(self, component: str) -> None:
        if not self.open.get(component):
            self.say(f"dropped END:{component} without its BEGIN")
            return
        while self.stack[-1] != component:
            inner = self.stack[-1]
            self.say(f"BEGIN:{inner} has no END; closed before END:{component}")
            self._close(inner)
        self._close(component)

    def _close(self, component: str) -> None:
        self.stack.pop()
        self.open[component] -= 1
        self.emit(f"END:{component}")
        if self.alarm is not None and len(self.stack) == self.alarm_depth:
            block, self.alarm = self.alarm, None
            problem = _alarm_problem(block)
            if problem:
                self.say(f"dropped an alarm whose {problem}; the event is still read")
            else:
                self.out.extend(block)

    def _property(self, name: str, line: str) -> None:
        if not self.stack:
            self.say(f"dropped a line outside any component ({one_line(line, 60)})")
            return
        if self.alarm is not None or self.open.get("VTIMEZONE"):
            self.emit(line)  # an alarm is checked whole; time zones: see vtimezones
            return
        top = self.stack[-1]
        # icalendar keeps a VEVENT's unparseable values as vBroken; elsewhere one fails the file
        if _splits(line) if top == "VEVENT" else _reads_in(top, line):
            self.emit(line)
        elif (top == "VEVENT" and name in DECISIVE) or (top == "VCALENDAR" and name in CALENDAR_DECISIVE):
            self.emit(f"{UNREAD}:{line}")
        else:
            what = {"VEVENT": "event", "VCALENDAR": "calendar"}.get(top, top)
            self.say(f"dropped a line that cannot be read ({one_line(line, 60)}); the {what} is still read")

    def finish(self) -> tuple[list[str], list[str]]:
        if self.alarm is not None:  # never closed: icalendar says so
            self.out.extend(self.alarm)
        return self.out, self.reasons
