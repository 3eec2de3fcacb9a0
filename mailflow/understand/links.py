"""The online-meeting link of an invite: Teams, Zoom, Google Meet, Webex.

Looked for, in this order, in the properties clients reserve for it
(``X-MICROSOFT-SKYPETEAMSMEETINGURL``, ``X-GOOGLE-CONFERENCE``, RFC 7986
``CONFERENCE``...), then in LOCATION, DESCRIPTION and the HTML description,
then in the mail body.  Only links of known meeting services count; a
LOCATION that is any other https URL is kept as a last resort.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

_SERVICES = re.compile(
    r"https://(?:"
    r"teams\.microsoft\.com/l/meetup-join/[^\s<>\"']+"
    r"|teams\.microsoft\.com/meet/[^\s<>\"']+"
    r"|teams\.live\.com/meet/[^\s<>\"']+"
    r"|(?:[\w-]+\.)*zoom(?:gov)?\.(?:us|com)/(?:j|my|w|s)/[^\s<>\"']+"
    r"|meet\.google\.com/[a-z]{3,4}-[a-z]{4}-[a-z]{3,4}(?:\?[^\s<>\"']*)?"
    r"|meet\.google\.com/lookup/[^\s<>\"']+"
    r"|(?:[\w-]+\.)*webex\.com/(?:meet|join|[\w-]+/j\.php|[\w-]+/e\.php|wbxmjs)[^\s<>\"']*"
    r"|(?:[\w-]+\.)*whereby\.com/[^\s<>\"']+"
    r"|(?:[\w-]+\.)*gotomeeting\.com/join/[^\s<>\"']+"
    r"|meet\.jit\.si/[^\s<>\"']+"
    r"|(?:[\w-]+\.)*chime\.aws/\d+[^\s<>\"']*"
    r")",
    re.IGNORECASE,
)
_ANY_URL = re.compile(r"^https://[^\s<>\"']+$", re.IGNORECASE)
_LINK = re.compile(r"https://[^\s<>\"']+", re.IGNORECASE)

#: X- and RFC 7986 properties that hold nothing but the link, best first
LINK_PROPERTIES = (
    "X-MICROSOFT-SKYPETEAMSMEETINGURL",
    "X-GOOGLE-CONFERENCE",
    "CONFERENCE",
    "X-ZOOM-MEETING-URL",
    "X-MICROSOFT-ONLINEMEETINGEXTERNALLINK",
    "X-WEBEX-MEETING-URL",
)


def _tidy(url: str) -> str:
    for _ in range(4):  # Safe Links inside Safe Links, a few deep at most (a loop: no recursion to exhaust)
        url = url[:8000].rstrip(").,;>]\\")
        # Outlook's plain text wraps links as "<https://...>"; Safe Links wrap them entirely
        inner = re.search(r"url=([^&]+)", url) if "safelinks.protection.outlook.com" in url else None
        if inner is None:
            break
        url = unquote(inner.group(1))
    return url[:2000]


def find_meeting_url(text: str) -> str:
    """The first meeting-service link in ``text``, or ""."""
    for match in _SERVICES.finditer(_unwrap(text)):
        return _tidy(match.group(0))
    # each link once, then a substring test: "https://[^\s]*safelinks" is retried from every "https://"
    for match in _LINK.finditer(text):
        if "safelinks" not in match.group(0).lower():
            continue
        inner = _tidy(match.group(0))
        if _SERVICES.match(inner):
            return inner
    return ""


def _unwrap(text: str) -> str:
    # DESCRIPTION values sometimes keep the escaped line breaks of the ics
    return text.replace("\\n", "\n").replace("\\,", ",").replace("\\;", ";")


def meeting_url(properties: Iterable[tuple[str, str]], location: str, texts: Iterable[str]) -> str:
    """The meeting link from an event's properties, its location, then other texts."""
    for _name, value in properties:
        found = find_meeting_url(value)
        if found:
            return found
    for text in (location, *texts):
        found = find_meeting_url(text or "")
        if found:
            return found
    for _name, value in properties:
        if _ANY_URL.match(value.strip()):
            return value.strip()[:2000]
    if _ANY_URL.match((location or "").strip()):
        return location.strip()[:2000]
    return ""
