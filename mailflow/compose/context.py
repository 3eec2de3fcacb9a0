"""What a template may use: plain inputs in, documented template variables out.

The caller (the engine, ``mailflow preview``, ``mailflow check``) fills a
:class:`ComposeContext` from whatever it keeps; this module never touches the
store.  :func:`template_variables` turns it into the variables listed in the
README (owner, contact, meeting, notes, role, earlier_meetings, links,
proposal, moments, step), with every date written in the reader's time zone
and the zone named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailflow.text import one_line

Role = Literal["seeker", "adviser"]

# Addresses at these domains say nothing about where a person works.
_FREEMAIL = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "gmx.de",
        "gmx.net",
        "gmx.com",
        "web.de",
        "mail.com",
        "yandex.ru",
        "yandex.com",
        "qq.com",
        "163.com",
        "fastmail.com",
        "hey.com",
        "zoho.com",
        "t-online.de",
        "orange.fr",
        "free.fr",
    ]
)
_REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|fw|aw|wg|sv|vs|tr)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
# Subjects of calendar notifications: a reply to one reads like a machine's, so templates pick their own.
_CALENDAR_SUBJECT = re.compile(
    r"^\s*(updated |new |aktualisierte )?(invitation|invite|einladung|invitación|meeting request|"
    r"accepted|declined|tentative|tentatively accepted|canceled|cancelled|event|termin|zoom meeting)\b",
    re.IGNORECASE,
)
_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$")


# -- inputs ---------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerInfo:
    """The person mailflow works for."""

    name: str
    address: str
    timezone: str = "UTC"
    story: str = ""


@dataclass(frozen=True)
class ContactInfo:
    """The other person of a meeting."""

    name: str
    address: str
    timezone: str = ""  # IANA zone, when an invite revealed it
    organisation: str = ""  # "" : guessed from the address's domain


@dataclass(frozen=True)
class MeetingInfo:
    """One meeting (or request for one); also used for earlier meetings."""

    summary: str = ""
    start: datetime | None = None  # aware
    end: datetime | None = None
    all_day: bool = False
    location: str = ""
    url: str = ""  # the online-meeting link
    subject: str = ""  # subject of the original invite or request mail
    files: tuple[str, ...] = ()  # what the contact sent: résumé, work samples
    notes: str = ""  # the owner's notes of that meeting (earlier meetings)


@dataclass(frozen=True)
class Links:
    """Places worth a look before a meeting."""

    meeting: str = ""
    search: str = ""
    linkedin: str = ""
    organisation: str = ""


@dataclass(frozen=True)
class ProposalInfo:
    """The next coffee a follow-up proposes."""

    start: datetime
    end: datetime
    method: Literal["request", "publish"] = "request"


@dataclass(frozen=True)
class ComposeContext:
    """Everything a template can know about one mail."""

    owner: OwnerInfo
    contact: ContactInfo
    meeting: MeetingInfo
    role: Role
    notes: str = ""
    earlier_meetings: tuple[MeetingInfo, ...] = ()
    links: Links | None = None  # None: derived from the contact and the meeting
    reader_timezone: str = ""  # "": the owner's zone (the caller picks the contact's for their mail)
    action_by: datetime | None = None  # the take-action deadline
    follow_up_at: datetime | None = None  # when the follow-up is due
    proposal: ProposalInfo | None = None


# -- what templates see ---------------------------------------------------------
# Small read-only views: attribute names are the documented variables, and
# ``_label`` lets a misspelt attribute be reported as "contact.nmae".


@dataclass(frozen=True)
class OwnerView:
    _label: ClassVar[str] = "owner"
    name: str
    first_name: str
    address: str
    timezone: str
    story: str


@dataclass(frozen=True)
class ContactView:
    _label: ClassVar[str] = "contact"
    name: str
    first_name: str
    address: str
    organisation: str
    timezone: str


@dataclass(frozen=True)
class MeetingView:
    _label: ClassVar[str] = "meeting"
    summary: str
    subject: str
    reply_subject: str
    when: str
    day: str
    time: str
    timezone: str
    start: datetime | None
    end: datetime | None
    all_day: bool
    location: str
    url: str
    files: tuple[str, ...]
    notes: str


@dataclass(frozen=True)
class LinksView:
    _label: ClassVar[str] = "links"
    meeting: str
    search: str
    linkedin: str
    organisation: str


@dataclass(frozen=True)
class ProposalView:
    _label: ClassVar[str] = "proposal"
    when: str
    day: str
    time: str
    minutes: int
    start: datetime
    end: datetime
    method: str


@dataclass(frozen=True)
class MomentsView:
    _label: ClassVar[str] = "moments"
    action_by: str
    follow_up: str


VARIABLES = (
    "owner",
    "contact",
    "meeting",
    "notes",
    "role",
    "earlier_meetings",
    "links",
    "proposal",
    "moments",
    "step",
)


def view_fields(obj: object) -> list[str]:
    """The attribute names a template may use on ``obj`` (for suggestions)."""
    return [f.name for f in fields(obj)] if is_dataclass(obj) else []


def template_variables(ctx: ComposeContext, step: str) -> dict[str, Any]:
    """The documented template variables for ``ctx``."""
    zone = reader_zone(ctx)
    return {
        "owner": _owner(ctx.owner),
        "contact": _contact(ctx.contact),
        "meeting": _meeting(ctx.meeting, zone),
        "notes": clean_notes(ctx.notes),
        "role": ctx.role,
        "earlier_meetings": [_meeting(m, zone) for m in ctx.earlier_meetings],
        "links": _links(ctx.links or default_links(ctx.contact, ctx.meeting)),
        "proposal": _proposal(ctx.proposal, zone) if ctx.proposal else None,
        "moments": MomentsView(
            action_by=format_day(ctx.action_by, zone) if ctx.action_by else "",
            follow_up=format_day(ctx.follow_up_at, zone) if ctx.follow_up_at else "",
        ),
        "step": step,
    }


def reader_zone(ctx: ComposeContext) -> ZoneInfo:
    """The zone dates are written in: the reader's, else the owner's, else UTC."""
    for name in (ctx.reader_timezone, ctx.owner.timezone):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


_SUFFIXES = frozenset(
    [
        "jr",
        "jr.",
        "sr",
        "sr.",
        "ii",
        "iii",
        "iv",
        "phd",
        "ph.d.",
        "md",
        "m.d.",
        "mba",
        "apr",
        "esq",
        "esq.",
        "cpa",
        "pe",
        "dds",
        "dvm",
        "msc",
        "bsc",
        "ma",
        "ba",
    ]
)


def display_name(name: str) -> str:
    """A name as written in prose: Outlook's "Pérez, Ana" -> "Ana Pérez"; "Ana Pérez, PhD" kept."""
    name = one_line(name, 120).strip().strip('"').strip()
    family, comma, given = name.partition(",")
    if not comma or "," in given or "@" in name:
        return name
    if given.strip().lower() in _SUFFIXES or not given.strip() or not family.strip():
        return name
    return f"{given.strip()} {family.strip()}"


def first_name(name: str) -> str:
    """ "Ana Pérez" -> "Ana"; Outlook's "Pérez, Ana" -> "Ana"; an address -> ""."""
    name = display_name(name)
    if "@" in name:
        return ""
    parts = name.split(",", 1)[0].split()
    return parts[0] if parts else ""


def clean_notes(notes: str) -> str:
    """Notes with line endings normalised and outer blank lines dropped."""
    lines = notes.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def reply_subject(subject: str) -> str:
    """``"Fwd: Re: coffee?"`` -> ``"Re: coffee?"``; "" for "" and for calendar notifications."""
    rest = _REPLY_PREFIX.sub("", one_line(subject, 300)).strip()
    if not rest or _CALENDAR_SUBJECT.match(rest):
        return ""
    return f"Re: {rest}"


def first_point(notes: str) -> str:
    """The first line of ``notes`` with any list marker dropped: the insight written first."""
    for line in clean_notes(notes).split("\n"):
        point = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip()
        if point:
            return point
    return ""


def organisation_domain(address: str) -> str:
    """The domain of a work address, "" for free-mail providers and odd domains."""
    domain = address.rpartition("@")[2].strip().lower()
    if domain in _FREEMAIL or not _DOMAIN.match(domain):
        return ""
    return domain


def default_links(contact: ContactInfo, meeting: MeetingInfo) -> Links:
    """Search links for the homework: the article's "quick Google search", LinkedIn, their website."""
    domain = organisation_domain(contact.address)
    who = display_name(contact.name) or contact.address
    org = contact.organisation or domain
    query = quote_plus(f"{who} {org}".strip())
    return Links(
        meeting=meeting.url,
        search=f"https://www.google.com/search?q={query}" if who else "",
        linkedin=f"https://www.linkedin.com/search/results/people/?keywords={quote_plus(display_name(contact.name))}"
        if contact.name
        else "",
        organisation=f"https://{domain}" if domain else "",
    )


# -- dates ----------------------------------------------------------------------


def zone_label(moment: datetime, zone: ZoneInfo) -> str:
    """``"CEST (Europe/Berlin)"``, or just ``"UTC"``."""
    abbreviation = moment.astimezone(zone).tzname() or ""
    if zone.key in {"UTC", "Etc/UTC"}:
        return "UTC"
    return f"{abbreviation} ({zone.key})" if abbreviation else zone.key


def format_day(moment: datetime, zone: ZoneInfo) -> str:
    """``"Tuesday 14 May 2024"`` in ``zone``."""
    local = moment.astimezone(zone)
    return f"{local:%A} {local.day} {local:%B %Y}"


def format_time(moment: datetime, zone: ZoneInfo) -> str:
    """``"10:00 CEST (Europe/Berlin)"``."""
    return f"{moment.astimezone(zone):%H:%M} {zone_label(moment, zone)}"


def format_when(start: datetime, end: datetime | None, zone: ZoneInfo) -> str:
    """``"Tuesday 14 May 2024, 10:00–10:30 CEST (Europe/Berlin)"``."""
    local_start = start.astimezone(zone)
    label = zone_label(start, zone)
    if end is None or end <= start:
        return f"{format_day(start, zone)}, {local_start:%H:%M} {label}"
    local_end = end.astimezone(zone)
    if local_end.date() == local_start.date():
        return f"{format_day(start, zone)}, {local_start:%H:%M}–{local_end:%H:%M} {label}"
    return (
        f"{format_day(start, zone)}, {local_start:%H:%M} – {format_day(end, zone)}, {local_end:%H:%M} {label}"
    )


# -- builders -------------------------------------------------------------------


def _owner(owner: OwnerInfo) -> OwnerView:
    return OwnerView(
        name=display_name(owner.name),
        first_name=first_name(owner.name) or display_name(owner.name),
        address=owner.address,
        timezone=owner.timezone,
        story=owner.story.strip(),
    )


def _contact(contact: ContactInfo) -> ContactView:
    domain = organisation_domain(contact.address)
    return ContactView(
        name=display_name(contact.name),
        first_name=first_name(contact.name),
        address=contact.address,
        organisation=one_line(contact.organisation, 120) or domain,
        timezone=contact.timezone,
    )


def _meeting(meeting: MeetingInfo, zone: ZoneInfo) -> MeetingView:
    start, end = meeting.start, meeting.end
    when = day = time = ""
    if start is not None and meeting.all_day:
        day = f"{start:%A} {start.day} {start:%B %Y}"
        when = f"{day} (all day)"
    elif start is not None:
        when, day, time = format_when(start, end, zone), format_day(start, zone), format_time(start, zone)
    return MeetingView(
        summary=one_line(meeting.summary, 200),
        subject=one_line(meeting.subject, 200),
        reply_subject=reply_subject(meeting.subject),
        when=when,
        day=day,
        time=time,
        timezone=zone.key,
        start=start.astimezone(zone) if start and not meeting.all_day else start,
        end=end.astimezone(zone) if end and not meeting.all_day else end,
        all_day=meeting.all_day,
        location=one_line(meeting.location, 300),
        url=one_line(meeting.url, 500),
        files=tuple(one_line(f, 120) for f in meeting.files),
        notes=clean_notes(meeting.notes),
    )


def _links(links: Links) -> LinksView:
    return LinksView(
        meeting=links.meeting, search=links.search, linkedin=links.linkedin, organisation=links.organisation
    )


def _proposal(proposal: ProposalInfo, zone: ZoneInfo) -> ProposalView:
    minutes = int((proposal.end - proposal.start) / timedelta(minutes=1))
    return ProposalView(
        when=format_when(proposal.start, proposal.end, zone),
        day=format_day(proposal.start, zone),
        time=format_time(proposal.start, zone),
        minutes=minutes,
        start=proposal.start.astimezone(zone),
        end=proposal.end.astimezone(zone),
        method=proposal.method,
    )
