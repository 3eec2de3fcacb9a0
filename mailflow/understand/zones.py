"""Time zones as calendar clients write them, turned into aware datetimes.

Clients name zones in many ways: IANA ids (``Europe/Berlin``), Windows ids
(``W. Europe Standard Time``, ``FLE``), Windows display names
(``(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna``), vendor
prefixes (``/mozilla.org/20050126_1/Europe/Berlin``) and names that mean
nothing outside the message (``Customized Time Zone``).  :class:`ZoneResolver`
turns every DATE-TIME value of one calendar into an aware datetime and says
in ``reasons`` whenever it had to guess.

Order of preference for a value with a TZID: a known IANA zone whose offset
agrees with the inline VTIMEZONE (when there is one); else the inline
VTIMEZONE itself (RFC 5545 makes it authoritative); else the IANA zone alone;
else the owner's zone.  Floating values use the calendar's default zone
(X-WR-TIMEZONE, or its only VTIMEZONE), else the owner's zone.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import zoneinfo
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

# Windows display names (the text after "(UTC+hh:mm)"), keyed by their first words.
_DISPLAY_NAMES: dict[str, str] = {
    "international date line west": "Etc/GMT+12",
    "coordinated universal time-11": "Etc/GMT+11",
    "coordinated universal time": "UTC",
    "hawaii": "Pacific/Honolulu",
    "alaska": "America/Anchorage",
    "baja california": "America/Tijuana",
    "pacific time": "America/Los_Angeles",
    "arizona": "America/Phoenix",
    "mountain time": "America/Denver",
    "chihuahua": "America/Chihuahua",
    "central time": "America/Chicago",
    "central america": "America/Guatemala",
    "guadalajara": "America/Mexico_City",
    "saskatchewan": "America/Regina",
    "eastern time": "America/New_York",
    "bogota": "America/Bogota",
    "indiana": "America/Indiana/Indianapolis",
    "atlantic time": "America/Halifax",
    "santiago": "America/Santiago",
    "georgetown": "America/La_Paz",
    "caracas": "America/Caracas",
    "newfoundland": "America/St_Johns",
    "brasilia": "America/Sao_Paulo",
    "city of buenos aires": "America/Argentina/Buenos_Aires",
    "buenos aires": "America/Argentina/Buenos_Aires",
    "greenland": "America/Nuuk",
    "montevideo": "America/Montevideo",
    "dublin": "Europe/London",
    "greenwich mean time": "Europe/London",
    "monrovia": "Atlantic/Reykjavik",
    "casablanca": "Africa/Casablanca",
    "amsterdam": "Europe/Berlin",
    "belgrade": "Europe/Budapest",
    "brussels": "Europe/Paris",
    "sarajevo": "Europe/Warsaw",
    "west central africa": "Africa/Lagos",
    "athens": "Europe/Bucharest",
    "bucharest": "Europe/Bucharest",
    "cairo": "Africa/Cairo",
    "helsinki": "Europe/Helsinki",
    "jerusalem": "Asia/Jerusalem",
    "harare": "Africa/Johannesburg",
    "beirut": "Asia/Beirut",
    "amman": "Asia/Amman",
    "istanbul": "Europe/Istanbul",
    "moscow": "Europe/Moscow",
    "kuwait": "Asia/Riyadh",
    "nairobi": "Africa/Nairobi",
    "baghdad": "Asia/Baghdad",
    "tehran": "Asia/Tehran",
    "abu dhabi": "Asia/Dubai",
    "baku": "Asia/Baku",
    "kabul": "Asia/Kabul",
    "islamabad": "Asia/Karachi",
    "ekaterinburg": "Asia/Yekaterinburg",
    "ashgabat": "Asia/Tashkent",
    "chennai": "Asia/Kolkata",
    "sri jayawardenepura": "Asia/Colombo",
    "kathmandu": "Asia/Kathmandu",
    "dhaka": "Asia/Dhaka",
    "astana": "Asia/Almaty",
    "yangon": "Asia/Yangon",
    "bangkok": "Asia/Bangkok",
    "novosibirsk": "Asia/Novosibirsk",
    "beijing": "Asia/Shanghai",
    "kuala lumpur": "Asia/Singapore",
    "perth": "Australia/Perth",
    "taipei": "Asia/Taipei",
    "irkutsk": "Asia/Irkutsk",
    "osaka": "Asia/Tokyo",
    "seoul": "Asia/Seoul",
    "adelaide": "Australia/Adelaide",
    "darwin": "Australia/Darwin",
    "brisbane": "Australia/Brisbane",
    "canberra": "Australia/Sydney",
    "hobart": "Australia/Hobart",
    "guam": "Pacific/Port_Moresby",
    "auckland": "Pacific/Auckland",
    "fiji": "Pacific/Fiji",
    "nuku'alofa": "Pacific/Tongatapu",
}

# old names some clients still send; the canonical name reads better in output
_LINKS = {
    "US/Pacific": "America/Los_Angeles",
    "US/Mountain": "America/Denver",
    "US/Central": "America/Chicago",
    "US/Eastern": "America/New_York",
    "US/Hawaii": "Pacific/Honolulu",
    "US/Alaska": "America/Anchorage",
    "US/Arizona": "America/Phoenix",
    "Europe/Kiev": "Europe/Kyiv",
    "Asia/Calcutta": "Asia/Kolkata",
    "Asia/Saigon": "Asia/Ho_Chi_Minh",
    "America/Godthab": "America/Nuuk",
    "Etc/UTC": "UTC",
    "Etc/GMT": "UTC",
    "GMT": "UTC",
    "Z": "UTC",
}

_DISPLAY = re.compile(
    r"^\(\s*+(?:UTC|GMT)\s*+(?:([+-])\s*+(\d{1,2})[:.]?(\d{2})?)?\s*+\)\s*+(.*)$", re.IGNORECASE
)
MAX_TZID = 200


def clean_tzid(tzid: str) -> str:
    """A TZID without quotes, escapes and surrounding blanks."""
    text = str(tzid).strip().strip('"').strip("'").strip()
    return text.replace("\\,", ",").replace("\\;", ";")


def zone(name: str) -> ZoneInfo | None:
    """``ZoneInfo(name)``, or None for anything that is not an IANA key."""
    name = _LINKS.get(name, name)
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


@functools.lru_cache(maxsize=512)
def iana_for(tzid: str) -> str | None:
    """The IANA name a client meant by ``tzid``, or None when it cannot be told."""
    name = clean_tzid(tzid)
    if not name or len(name) > MAX_TZID:  # the longest Windows display name has ~90 characters
        return None
    for candidate in _candidates(name):
        found = zone(candidate)
        if found is not None:
            return str(found.key)
    return _from_display_name(name)


def _candidates(name: str) -> list[str]:
    found = [name, name.strip("/")]
    if name in WINDOWS_TO_OLSON:
        found.append(WINDOWS_TO_OLSON[name])
    if f"{name} Standard Time" in WINDOWS_TO_OLSON:
        found.append(WINDOWS_TO_OLSON[f"{name} Standard Time"])
    parts = name.strip("/").split("/")
    # vendor prefixes: "/mozilla.org/20050126_1/Europe/Berlin" -> "Europe/Berlin"
    found += ["/".join(parts[i:]) for i in range(1, len(parts))]
    return found


def _from_display_name(name: str) -> str | None:
    match = _DISPLAY.match(name)
    if not match:
        return None
    sign, hours, minutes, rest = match.groups()
    offset = timedelta(0)
    if sign:
        offset = timedelta(hours=int(hours), minutes=int(minutes or 0)) * (1 if sign == "+" else -1)
    text = _fold(rest)
    for key, iana in _DISPLAY_NAMES.items():
        if text.startswith(key):
            return iana
    return _city_zone(text, offset)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower().strip()


@functools.lru_cache(maxsize=1)
def _zones_by_city() -> dict[str, str]:
    cities: dict[str, str] = {}
    for key in sorted(zoneinfo.available_timezones()):
        if "/" in key and not key.startswith(("Etc/", "SystemV/", "US/")):
            cities.setdefault(key.rsplit("/", 1)[1].replace("_", " ").lower(), key)
    return cities


def _city_zone(text: str, offset: timedelta) -> str | None:
    """A city from the display name whose IANA zone has the stated standard offset."""
    for city in re.split(r"[,/&()]| and ", text):
        key = _zones_by_city().get(city.strip())
        if key and _has_offset(ZoneInfo(key), offset):
            return key
    return None


def _has_offset(zone_info: tzinfo, offset: timedelta) -> bool:
    # a fixed year: display names state today's standard offset, and this stays pure
    return any(datetime(2024, month, 15, 12, tzinfo=zone_info).utcoffset() == offset for month in (1, 7))


class ZoneResolver:
    """Makes the DATE-TIME values of one calendar aware, collecting reasons."""

    def __init__(
        self,
        inline: Mapping[str, tzinfo],
        owner_zone: ZoneInfo,
        default: tuple[tzinfo, str] | None = None,
    ) -> None:
        self.inline = inline  # keys are clean TZIDs; values may be built lazily
        self.owner_zone = owner_zone
        self.default = default
        self.reasons: list[str] = []

    def _say(self, reason: str) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)

    def aware(self, value: datetime, tzid: str | None) -> tuple[datetime, str]:
        """``value`` as an aware datetime and the name of its zone."""
        name = clean_tzid(tzid) if tzid else ""
        if value.tzinfo is not None and value.utcoffset() is not None:
            return self._known(value, name)
        naive = value.replace(tzinfo=None)
        if name:
            return self._named(naive, name)
        return self._floating(naive)

    def _known(self, value: datetime, name: str) -> tuple[datetime, str]:
        if isinstance(value.tzinfo, ZoneInfo):
            key = str(value.tzinfo.key)
            canonical = _LINKS.get(key, key)
            if canonical != key and zone(canonical) is not None:
                value = value.replace(tzinfo=ZoneInfo(canonical))
            return value, canonical
        # built by icalendar from the inline VTIMEZONE: prefer the IANA zone when it agrees
        iana = iana_for(name) if name else None
        if iana:
            named = value.replace(tzinfo=ZoneInfo(iana))
            if named.utcoffset() == value.utcoffset():
                return named, iana
            self._say(f'the inline definition of "{name}" disagrees with {iana}; used the inline one')
            return value, name
        if name:
            self._say(f'"{name}" is not a known zone name; used its inline definition')
        return value, name or "inline"

    def _named(self, naive: datetime, name: str) -> tuple[datetime, str]:
        try:
            inline: tzinfo | None = self.inline[name]
        except KeyError:
            inline = None
        iana = iana_for(name)
        if iana:
            named = naive.replace(tzinfo=ZoneInfo(iana))
            if inline is None or naive.replace(tzinfo=inline).utcoffset() == named.utcoffset():
                if name != iana:
                    self._say(f'zone "{name}" read as {iana}')
                return named, iana
        if inline is not None:
            self._say(f'"{name}" is not a known zone name; used its inline definition')
            return naive.replace(tzinfo=inline), name
        self._say(f'zone "{name}" is unknown and not defined in the invite; used the owner\'s zone')
        return naive.replace(tzinfo=self.owner_zone), str(self.owner_zone.key)

    def _floating(self, naive: datetime) -> tuple[datetime, str]:
        if self.default is not None:
            tz, name = self.default
            self._say(f"floating time read in the calendar's zone {name}")
            return naive.replace(tzinfo=tz), name
        self._say(f"floating time (no zone given) read in the owner's zone {self.owner_zone.key}")
        return naive.replace(tzinfo=self.owner_zone), str(self.owner_zone.key)


def to_utc(value: datetime | date) -> str:
    """A stable text key for a RECURRENCE-ID: UTC ISO 8601 for instants, the day for dates."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value.isoformat()
