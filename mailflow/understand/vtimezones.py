"""A calendar's VTIMEZONEs made safe before icalendar builds them.

icalendar turns each VTIMEZONE into a dateutil ``tzical`` zone while it
parses, and one it cannot build fails the whole calendar: a missing
TZOFFSETFROM would make a good invite unreadable.  dateutil then walks an
observance's rule from its start at every offset lookup, so a rule that is
not a plain yearly one (``INTERVAL=0`` never ends, a daily rule from 1601
costs seconds) is the sender's to pay for, not ours.  So, on the text:

- each observance keeps one RRULE, and only a yearly one that keeps matching
  (see ``rules``); any other is dropped, and the observance is one change;
- an open-ended yearly rule starts the year before the calendar's first date;
- a zone with observances but no STANDARD one gets one (dateutil fails for
  times before every DAYLIGHT onset otherwise);
- a zone dateutil still cannot build or look up is dropped, with the reason;
- no more than :data:`MAX_TIMEZONES` zones, :data:`MAX_OBSERVANCES` each.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date, datetime

from dateutil.tz import tzical  # type: ignore[import-untyped]

from mailflow.text import one_line
from mailflow.understand.headers import EARLIEST_YEAR, LATEST_YEAR
from mailflow.understand.rules import observance_rule_is_sane, rule_parts, walk_cost

MAX_TIMEZONES = 20
MAX_OBSERVANCES = 50  # full historical definitions (tzurl.org) have a few dozen
#: days of candidates one lookup may walk in an observance's rule: a yearly rule from 1601 to 2203
MAX_OBSERVANCE_WALK = 250_000
_LAST_LOOKUP = date(LATEST_YEAR + 3, 12, 31)  # the horizon of a series read in the last year believed
_LAST_UNTIL = f"{_LAST_LOOKUP:%Y%m%d}T235959Z"
DATE_PROPS = "DTSTART|DTEND|DTSTAMP|RECURRENCE-ID|EXDATE|RDATE|DUE|CREATED|LAST-MODIFIED"
_RULE_START = re.compile(r"^(DTSTART[^:]*:)(\d{4})(\d{4}T\d{6})$", re.IGNORECASE)
_DATE_LINE = re.compile(rf"^(?:{DATE_PROPS})[;:]", re.IGNORECASE)
_YEARS = re.compile(r"(?<![\d])(\d{4})\d{4}(?![\d])")
_START_DAY = re.compile(r"^DTSTART[^:]*:(\d{4})(\d{2})(\d{2})", re.IGNORECASE)
_OBSERVANCE_BEGIN = {"BEGIN:STANDARD", "BEGIN:DAYLIGHT"}
_OBSERVANCE_END = {"END:STANDARD", "END:DAYLIGHT"}


def made_safe(lines: list[str]) -> tuple[list[str], list[str]]:
    """The content lines (unfolded) with every VTIMEZONE made safe, and what was changed."""
    year = _first_year(lines)
    reasons: list[str] = []
    result: list[str] = []
    kept = 0
    for block, is_zone in _blocks(lines):
        if not is_zone:
            result.extend(block)
        elif kept >= MAX_TIMEZONES:
            _say(reasons, f"more than {MAX_TIMEZONES} VTIMEZONEs; the rest ignored")
        else:
            safe = _safe_zone(block, year, reasons)
            kept += bool(safe)
            result.extend(safe)
    return result, reasons


def _say(reasons: list[str], reason: str) -> None:
    if reason not in reasons:
        reasons.append(reason)


def _blocks(lines: list[str]) -> Iterator[tuple[list[str], bool]]:
    """Runs of lines: each whole VTIMEZONE (True), and what lies between them (False)."""
    block: list[str] = []
    inside = False
    for line in lines:
        upper = line.upper()
        if upper == "BEGIN:VTIMEZONE" and not inside:
            if block:
                yield block, False
            block, inside = [line], True
            continue
        block.append(line)
        if inside and upper == "END:VTIMEZONE":
            yield block, True
            block, inside = [], False
    if block:
        yield block, False  # an unfinished VTIMEZONE stays as it was: icalendar reports it


def _safe_zone(block: list[str], year: int, reasons: list[str]) -> list[str]:
    tzid = next((line.split(":", 1)[1] for line in block if line.upper().startswith("TZID")), "")
    name = one_line(tzid.strip().strip('"'), 60)
    parts = _observances(block)
    if len(parts) - 2 > MAX_OBSERVANCES:
        _say(reasons, f'the VTIMEZONE "{name}" has more than {MAX_OBSERVANCES} observances; the rest ignored')
        parts = [*parts[: MAX_OBSERVANCES + 1], parts[-1]]
    observances = [_sane_observance(p, name, reasons) for p in parts[1:-1]]
    observances = [_affordable(_ended(_rebased(o, year - 1)), name, reasons) for o in observances]
    observances = _with_standard(observances, name, reasons)
    zone = [*parts[0], *(line for o in observances for line in o), *parts[-1]]
    problem = _problem(zone, year)
    if problem:
        _say(reasons, f'the VTIMEZONE "{name}" cannot be read ({problem}); ignored')
        return []
    return zone


def _observances(block: list[str]) -> list[list[str]]:
    """[lines before the first observance, each observance..., lines after the last one]."""
    parts: list[list[str]] = [[]]
    current: list[str] | None = None
    tail: list[str] = []
    for line in block:
        upper = line.upper()
        if current is None and upper in _OBSERVANCE_BEGIN:
            current = [line]
        elif current is not None:
            current.append(line)
            if upper in _OBSERVANCE_END:
                parts.append(current)
                current = None
        elif len(parts) == 1:
            parts[0].append(line)
        else:
            tail.append(line)
    return [*parts, tail + (current or [])]


def _sane_observance(lines: list[str], name: str, reasons: list[str]) -> list[str]:
    """The observance with at most one RRULE, and only a plain yearly one."""
    start = _start_day(lines)
    kept: list[str] = []
    ruled = False
    for line in lines:
        if not line.upper().startswith("RRULE"):
            kept.append(line)
            continue
        if not ruled and start is not None and observance_rule_is_sane(line.split(":", 1)[-1], start):
            kept.append(line)
            ruled = True
        else:
            _say(
                reasons, f'the VTIMEZONE "{name}" has a rule that is not a plain yearly one; read without it'
            )
    return kept


def _ended(lines: list[str]) -> list[str]:
    """The observance's rule ending after the last year believed, where it would go on (or count) past it.

    dateutil walks a rule up to the time it looks up; one time in year 9998 (an EXDATE, an end a
    huge DURATION gives) would walk eight thousand years.  No offset this reads lies beyond, and the
    last observance's offset holds after its last change.
    """
    start = _start_day(lines)
    kept: list[str] = []
    for line in lines:
        if line.upper().startswith("RRULE") and start is not None:
            head, _, rule = line.partition(":")
            parts = rule_parts(rule)
            until, count = parts.get("UNTIL", ""), parts.get("COUNT", "")
            past = until[:8] > _LAST_UNTIL[:8] if until[:8].isdigit() else not count
            # a COUNT that cannot run out before then: at most 366 changes a year
            past = past or (count.isdigit() and int(count) > (_LAST_LOOKUP.year - start.year + 1) * 366)
            if past:
                rest = [f"{k}={v}" for k, v in rule_parts(rule).items() if k not in {"UNTIL", "COUNT"} and k]
                line = f"{head}:{';'.join([*rest, f'UNTIL={_LAST_UNTIL}'])}"
        kept.append(line)
    return kept


def _affordable(lines: list[str], name: str, reasons: list[str]) -> list[str]:
    """The observance without its rule when walking it from its start to the last year read costs too much.

    Open-ended rules start the year before the calendar's dates by now; one with COUNT or UNTIL
    keeps its start (from year 1, each lookup would walk two thousand years).
    """
    start = _start_day(lines)
    rule = next((line.split(":", 1)[-1] for line in lines if line.upper().startswith("RRULE")), None)
    if rule is None or start is None:
        return lines
    cost = walk_cost(rule, start, _LAST_LOOKUP)
    if cost is not None and cost <= MAX_OBSERVANCE_WALK:
        return lines
    _say(reasons, f'the VTIMEZONE "{name}" has a rule that starts too early to follow; read without it')
    return [line for line in lines if not line.upper().startswith("RRULE")]


def _start_day(lines: list[str]) -> date | None:
    for line in lines:
        found = _START_DAY.match(line)
        if found:
            try:
                return date(int(found[1]), int(found[2]), int(found[3]))
            except ValueError:
                return None
    return None


def _with_standard(observances: list[list[str]], name: str, reasons: list[str]) -> list[list[str]]:
    """dateutil picks the first STANDARD observance for a time before every onset, and fails without one."""
    if len(observances) < 2 or any(o[0].upper() == "BEGIN:STANDARD" for o in observances):
        return observances
    _say(reasons, f'the VTIMEZONE "{name}" has no STANDARD observance; its first one read as standard time')
    first = ["BEGIN:STANDARD", *observances[0][1:-1], "END:STANDARD"]
    return [first, *observances[1:]]


def _problem(zone: list[str], year: int) -> str:
    """Why dateutil cannot build the zone, or look up an offset in the calendar's year; "" when it can."""
    try:
        built = tzical(io.StringIO("\r\n".join(zone) + "\r\n")).get()
        for month in (1, 7):
            built.utcoffset(datetime(min(max(year, 1900), 2200), month, 15, 12))
    except Exception as exc:  # dateutil's errors are ValueError, TypeError, IndexError...
        return type(exc).__name__
    return ""


def _first_year(lines: list[str]) -> int:
    """The earliest year (from 1900) a date of the calendar (outside its VTIMEZONEs) names; 1971 when one cannot be read.

    A date value never holds a colon, so it is what follows the line's last
    one (a TZID parameter may hold colons: ``"(UTC-05:00) Eastern Time"``).
    """
    years: list[int] = []
    for line in _outside_timezones(lines):
        if _DATE_LINE.match(line):
            found = [int(year) for year in _YEARS.findall(line.rsplit(":", 1)[-1])]
            if not found:
                return 1971
            years.extend(found)
    # a date out of the years believed (an EXDATE in year 1) is ignored anyway: it must not keep
    # every observance at 1601, to be walked again at each lookup
    return max(min(years, default=1971), EARLIEST_YEAR)


def _outside_timezones(lines: list[str]) -> Iterator[str]:
    inside = False
    for line in lines:
        upper = line.upper()
        inside = (inside or upper == "BEGIN:VTIMEZONE") and upper != "END:VTIMEZONE"
        if not inside:
            yield line


def _rebased(block: list[str], year: int) -> list[str]:
    """An open-ended yearly observance starting in ``year`` at the latest.

    A yearly rule without UNTIL or COUNT gives the same transitions every year,
    so moving its start changes no offset the calendar uses.  dateutil walks
    every year from a rule's start at each lookup: Outlook's rules start in
    1601, and even from 1970 one lookup costs milliseconds (three per invite).
    """
    rules = [line.upper() for line in block if line.upper().startswith("RRULE")]
    if len(rules) != 1 or "UNTIL=" in rules[0] or "COUNT=" in rules[0] or "FREQ=YEARLY" not in rules[0]:
        return block
    if re.search(r"INTERVAL=(?!1(?:;|$))", rules[0]):  # every other year: moving by one would shift it
        return block
    return [_moved_start(line, year) for line in block]


def _moved_start(line: str, year: int) -> str:
    found = _RULE_START.match(line)
    if found is None or int(found[2]) >= year or found[3].startswith("0229"):
        return line  # only ever earlier starts move, and 29 February exists only in some years
    return f"{found[1]}{year:04d}{found[3]}"
