"""``understand(raw, ctx)``: one message in, an :class:`Understanding` out, never an exception.

The order of questions matters and is the policy:

1. unreadable (empty, too large, not mail at all);
2. a copy of mailflow's own mail, or a bounce (even one wrapping an invite);
3. calendar data anywhere (invite, update, cancel, reply, counter);
4. an automatic reply;
5. a reply to mailflow's mail (the owner's notes, or the contact's answer);
6. a plain meeting request above the confidence threshold, or any plain mail
   the owner forwards (the owner's forward says it is one; the text still
   gives the confidence shown and the proposed times), and an owner's
   forward whose calendar holds no event;
7. anything else is "ignored", with the reasons that were weighed.

The owner's tags (``#ignore``, ``#note``, ``#seeker``, ``#adviser``) count
only in the lines the owner wrote above the forward boundary (``tags``).
"""

from __future__ import annotations

import email
from dataclasses import replace
from datetime import UTC, date, datetime
from email.message import Message
from typing import Any

from mailflow.model import Kind, Person, Understanding
from mailflow.text import one_line
from mailflow.understand import headers as hdr
from mailflow.understand import mime
from mailflow.understand.calendar import CalendarReading, kind_of, read_calendars
from mailflow.understand.choice import Chosen, choose, following
from mailflow.understand.context import Context
from mailflow.understand.events import tracking_uid
from mailflow.understand.forwards import Forward, find_forward, forward_subject, strip_subject_prefixes
from mailflow.understand.links import find_meeting_url, meeting_url
from mailflow.understand.people import choose_counterpart, is_relay
from mailflow.understand.replies import auto_reply, bounce, do_not_contact, own_text, reply_target
from mailflow.understand.requests import score
from mailflow.understand.tags import OwnerTags, owner_tags
from mailflow.understand.trust import judge
from mailflow.understand.when import loose_date, proposed_times
from mailflow.understand.zones import to_utc

#: how much of a forwarded text a ``#note`` keeps
MAX_NOTE_QUOTE = 4000
#: a series' calendar text is kept up to this size (a real one is a few KB; Outlook's with HTML, tens)
MAX_SERIES_CHARS = 256 * 1024


def understand(raw: bytes, ctx: Context) -> Understanding:
    """What ``raw`` (a whole RFC 5322 message, or a bare .ics file) is.  Never raises."""
    try:
        return _understand(bytes(raw), ctx)
    except Exception as exc:  # the promise of this layer: a bad message is a result, not a crash
        return unreadable(f"cannot be understood ({type(exc).__name__}: {one_line(str(exc), 160)})")


def unreadable(error: str) -> Understanding:
    return Understanding(kind="unreadable", error=error, reasons=(error,))


class _Draft:
    """The fields found so far, and the reasons in the order they were found."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.reasons: list[str] = []

    def say(self, *reasons: str) -> None:
        for reason in reasons:
            if reason and reason not in self.reasons:
                self.reasons.append(reason)

    def done(self, kind: Kind, *reasons: str) -> Understanding:
        self.say(*reasons)
        return Understanding(kind=kind, reasons=tuple(self.reasons), **self.fields)


def _understand(raw: bytes, ctx: Context) -> Understanding:
    if not raw or raw.isspace():
        return unreadable("the message is empty")
    if mime.is_bare_calendar(raw):
        refusal = mime.calendar_refusal(raw)  # sizes first: the parsers' cost grows with them
        if refusal:
            return unreadable(refusal)
        draft = _Draft()
        found = _calendar(draft, [(mime.bare_calendar(raw) or "", "")], ctx, None, ("", "", ""))
        return found or draft.done("ignored", "calendar data without any event")
    screened = mime.screen(raw)
    if screened.refusal:
        return unreadable(screened.refusal)
    message = mime.parse(screened.raw)
    if not mime.looks_like_mail(message):
        return unreadable("not an e-mail message (no mail headers)")
    return _message(message, ctx, screened.notes)


def _message(message: Message, ctx: Context, notes: tuple[str, ...] = ()) -> Understanding:
    facts = hdr.facts(message)
    draft = _Draft()
    draft.say(*notes, *facts.notes)
    sender = facts.sender.address if facts.sender else ""
    verdict = judge(
        sender, ctx.owner_addresses, ctx.authserv_id, hdr.raw_headers(message, "Authentication-Results")
    )
    draft.fields.update(
        message_id=facts.message_id,
        in_reply_to=facts.in_reply_to[0] if facts.in_reply_to else "",
        references=facts.references,
        sender=facts.sender,
        subject=facts.subject,
        sent_at=facts.sent_at,
        from_owner=verdict.from_owner,
        trusted=verdict.from_owner,
    )
    draft.say(verdict.reason)
    target = reply_target(facts.in_reply_to, facts.references, ctx.is_ours)
    if target:
        draft.fields["replied_to"] = target
    if facts.message_id and ctx.is_ours(facts.message_id):
        return draft.done("ignored", "a copy of mail mailflow sent")
    if sender in ctx.own_addresses and not ctx.is_owner(sender):
        return draft.done("ignored", "sent from mailflow's own address")
    why_bounce = bounce(message, sender, facts.subject)
    if why_bounce:
        _bounced_original(message, ctx, draft)
        return draft.done("ignored", why_bounce + "; not a new message")
    return _by_content(message, facts, ctx, draft)


def _by_content(message: Message, facts: hdr.Facts, ctx: Context, draft: _Draft) -> Understanding:
    body = mime.body_text(message)
    parts, unread = mime.find_calendars(message)
    draft.say(*unread)
    if parts:
        return _calendar_mail(message, facts, ctx, draft, body, parts)
    why_auto = auto_reply(message, facts.subject)
    if why_auto:
        return draft.done("ignored", f"an automatic reply ({why_auto})")
    if draft.fields.get("replied_to"):
        return _reply(message, facts, ctx, draft, body)
    return _request(message, facts, ctx, draft, body)


def _calendar_mail(
    message: Message, facts: hdr.Facts, ctx: Context, draft: _Draft, body: str, parts: list[mime.CalendarPart]
) -> Understanding:
    forward = _forward(message, body, ctx)
    if forward is not None or any(p.forwarded for p in parts) or forward_subject(facts.subject):
        draft.fields.update(
            forwarded=True,
            forwarded_from=forward.sender if forward else None,
            original_message_id=forward.message_id if forward else "",
        )
    draft.say(*(p.charset_note for p in parts))
    own = forward.preface if forward is not None else own_text(body)
    tags = owner_tags(own) if draft.fields.get("from_owner") else OwnerTags()
    if tags.ignore:
        return draft.done("ignored", *tags.reasons)
    ref = facts.sent_at or ctx.received_at
    texts = [(p.text, p.mime_method) for p in parts]
    found = _calendar(draft, texts, ctx, ref, (facts.subject, own, body), tags)
    if found is None and draft.fields.get("from_owner"):
        draft.say("the calendar holds no event: read as the owner's forwarded request")
        return _request(message, facts, ctx, draft, body)
    if found is None:
        return draft.done("ignored", "calendar data without any event")
    if tags.note:
        return _as_contact_note(found, tags, forward, ctx)
    return found


# -- calendar ----------------------------------------------------------------


def _calendar(
    draft: _Draft,
    texts: list[tuple[str, str]],
    ctx: Context,
    ref: datetime | None,
    mail: tuple[str, str, str],
    tags: OwnerTags | None = None,
) -> Understanding | None:
    """An invite, update, cancel, reply or counter; None when the calendar holds no event.

    ``mail`` is (subject, what the sender wrote themselves, the whole body text).
    """
    subject, own, body = mail
    reading = read_calendars(texts, ctx.owner_zone)
    if ref is None:
        ref = next((e.dtstamp for e in reading.events if e.dtstamp), None)
    chosen = choose(reading, ref)
    draft.say(*reading.reasons)
    if chosen is None:
        return None
    kind, why = kind_of(reading.method, chosen.event, subject)
    draft.say(why, *chosen.reasons, *chosen.event.reasons)
    _doubts(draft, reading, chosen)
    _event_fields(draft, chosen, reading.method)
    _times(draft, chosen)
    _series(draft, chosen, texts, reading, ref)
    event = chosen.event
    draft.fields["meeting_url"] = meeting_url(
        event.link_properties, event.location, [event.description, event.html_description, body]
    )
    if kind == "counter" and isinstance(chosen.start, datetime):
        draft.fields["proposed_times"] = (chosen.start,)
    _calendar_counterpart(draft, chosen, ctx)
    if draft.fields.get("from_owner"):
        _tagged_role(draft, tags if tags is not None else owner_tags(own))
    draft.fields["confidence"] = 1.0
    return draft.done(kind)


def _doubts(draft: _Draft, reading: CalendarReading, chosen: Chosen) -> None:
    """Broken properties that decide identity, time, recurrence or status: never guessed, so the
    meeting waits for the owner's confirm."""
    doubts = tuple(getattr(reading, "doubts", ())) + tuple(getattr(chosen.event, "doubts", ()))
    if doubts:
        draft.fields["doubts"] = doubts
        draft.say(*doubts, "a property that decides the meeting is broken: it waits for `mailflow confirm`")


def _tagged_role(draft: _Draft, tags: OwnerTags) -> None:
    draft.fields["role_hint"] = tags.role
    draft.say(*(r for r in tags.reasons if "#adviser" in r or "#seeker" in r))


def _as_contact_note(
    found: Understanding, tags: OwnerTags, forward: Forward | None, ctx: Context
) -> Understanding:
    """The owner's ``#note``: the forward is kept as a note on its contact; no meeting opens or changes."""
    counterpart = found.counterpart
    if forward is not None and forward.sender is not None:
        counterpart = _forwarded_person(forward, ctx)  # the recipient, when the owner wrote that mail
    written = [tags.text] if tags.text else []
    if forward is not None and forward.body:
        who = forward.sender.address if forward.sender else "someone"
        written.append(f"Forwarded from {who}: {forward.subject}\n{forward.body[:MAX_NOTE_QUOTE]}".strip())
    elif found.summary:
        written.append(f"Invitation: {found.summary}")
    why = "the owner tagged it #note: kept as a note on the contact; no meeting is opened or changed"
    return replace(
        found,
        kind="contact_note",
        counterpart=counterpart,
        notes="\n\n".join(written),
        reasons=(*found.reasons, why) if why not in found.reasons else found.reasons,
    )


def _event_fields(draft: _Draft, chosen: Chosen, method: str) -> None:
    event = chosen.event
    uid, why = tracking_uid(event)
    draft.say(why)
    draft.fields.update(
        method=method,
        uid=uid,
        sequence=event.sequence,
        dtstamp=event.dtstamp,
        recurrence_id=to_utc(event.recurrence_id) if event.recurrence_id is not None else "",
        recurring=chosen.recurring,
        summary=event.summary,
        description=event.description,
        organizer=event.organizer,
        attendees=event.attendees,
        location=event.location,
        status=event.status,
        other_events=tuple(e.label() for e in chosen.others[:50]),
    )


def _series(
    draft: _Draft,
    chosen: Chosen,
    texts: list[tuple[str, str]],
    reading: CalendarReading,
    ref: datetime | None,
) -> None:
    """A series' calendar, kept so that its next occurrence can be read again as time passes, and
    the RECURRENCE-ID of the occurrence chosen (an override may have moved it off its slot)."""
    if not (chosen.recurring and chosen.event.recurs and chosen.event.recurrence_id is None):
        return
    calendar = "\r\n".join(text for text, _method in texts)
    if len(calendar) > MAX_SERIES_CHARS:
        draft.say("the series' calendar is too large to keep; later occurrences come only with new mail")
        return
    draft.fields["series_calendar"] = calendar
    upcoming = following(reading, ref) if ref is not None else []
    slot = next((o.recurrence_id for o in upcoming if o.start == chosen.start), chosen.start)
    draft.fields["series_occurrence"] = to_utc(slot) if slot is not None else ""


def _times(draft: _Draft, chosen: Chosen) -> None:
    start, end = chosen.start, chosen.end
    if isinstance(start, datetime):
        draft.fields.update(start=start, end=end if isinstance(end, datetime) else None)
        draft.fields["timezone"] = chosen.event.timezone or _zone_label(start)
    elif isinstance(start, date):
        draft.fields.update(date=start, end_date=end if isinstance(end, date) else None, all_day=True)
    else:
        draft.say("no start time could be read")


def _zone_label(value: datetime) -> str:
    return str(getattr(value.tzinfo, "key", "") or value.tzname() or "")


def _calendar_counterpart(draft: _Draft, chosen: Chosen, ctx: Context) -> None:
    event = chosen.event
    counterpart, why = choose_counterpart(event.organizer, event.attendees, ctx.not_counterparts)
    sender: Person | None = draft.fields.get("sender")
    relayed = event.organizer is not None and is_relay(event.organizer.address)
    # iCloud without EMAIL=: the relay address stands for the person who sent the mail
    if counterpart is None and relayed and sender and sender.address not in ctx.not_counterparts:
        counterpart, why = sender, "counterpart: the sender (the organizer is an iCloud relay address)"
    draft.fields["counterpart"] = counterpart
    draft.say(why)
    organizer_side = _sent_by_organizer(draft.fields.get("method", ""))
    if (
        organizer_side
        and event.organizer
        and ctx.is_owner(event.organizer.address)
        and not draft.fields["from_owner"]
    ):
        draft.say(
            "the owner organizes this meeting, but the message itself is not authenticated as the owner's"
        )


def _sent_by_organizer(method: str) -> bool:
    """Whether the organizer sends messages of this METHOD (attendees send REPLY and COUNTER)."""
    return method not in {"REPLY", "COUNTER", "REFRESH"}


# -- bounces -----------------------------------------------------------------


def _bounced_original(message: Message, ctx: Context, draft: _Draft) -> None:
    """Link a bounce to the message of ours it returns, when it says which."""
    candidates = [hdr.facts(inner).message_id for inner in mime.attached_messages(message)]
    for walked in mime.walk(message):
        if mime.content_type(walked.part) == "text/rfc822-headers":
            inner = email.message_from_string(mime.part_text(walked.part, 100_000))
            candidates.append(hdr.facts(inner).message_id)
    for candidate in candidates:
        if candidate and ctx.is_ours(candidate):
            draft.fields["replied_to"] = candidate
            draft.say(f"returns our message {candidate}")
            return


# -- replies -----------------------------------------------------------------


def _reply(message: Message, facts: hdr.Facts, ctx: Context, draft: _Draft, body: str) -> Understanding:
    sender = facts.sender
    written = own_text(body)
    if sender is not None and ctx.is_owner(sender.address):
        if not draft.fields.get("from_owner"):
            return draft.done(
                "ignored", "claims to come from the owner but is not authenticated as the owner's"
            )
        draft.fields["notes"] = written
        _tagged_role(draft, owner_tags(written))  # never the subject: it repeats ours, and a stranger's words
        return draft.done("owner_notes", f"the owner's answer to {draft.fields['replied_to']}")
    kept, skipped = mime.attachments(message, ctx.max_attachment_bytes)
    wish = do_not_contact(body)
    draft.fields.update(
        counterpart=sender, description=written, attachments=tuple(kept), do_not_contact=bool(wish)
    )
    draft.say(*skipped)
    if wish:
        draft.say(f'asks not to be contacted ("{one_line(wish, 60)}")')
    return draft.done("contact_reply", f"an answer to {draft.fields['replied_to']}")


# -- plain requests ----------------------------------------------------------


def _request(message: Message, facts: hdr.Facts, ctx: Context, draft: _Draft, body: str) -> Understanding:
    forward = _forward(message, body, ctx)
    written_at = facts.sent_at or ctx.received_at
    if forward is not None:
        draft.fields.update(
            forwarded=True, forwarded_from=forward.sender, original_message_id=forward.message_id
        )
        text, subject, own = (
            forward.body,
            forward.subject or strip_subject_prefixes(facts.subject),
            forward.preface,
        )
        written_at = _forward_date(forward.date_text, ctx) or written_at
    else:
        text, subject = own_text(body), facts.subject
        own = text
    owner = bool(draft.fields.get("from_owner"))
    tags = owner_tags(own) if owner else OwnerTags()
    if tags.ignore:
        return draft.done("ignored", *tags.reasons)
    if owner:
        _tagged_role(draft, tags)
    proposals = _proposals(draft, text, written_at, ctx)
    bulk = bool(hdr.header(message, "List-Unsubscribe") or hdr.header(message, "List-Id")) or hdr.header(
        message, "Precedence"
    ).lower() in {"bulk", "list"}
    result = score(f"{subject}\n{text}", bulk=bulk, proposed=len(proposals))
    draft.fields.update(confidence=result.confidence, summary=strip_subject_prefixes(subject))
    draft.say(*result.reasons)
    # a "Fwd:" whose forwarded block no client pattern reads is still the owner's forward: a request
    # with nobody named yet (the owner chooses), never a body address guessed
    owner_forward = owner and (forward is not None or forward_subject(facts.subject))
    if owner_forward:
        draft.fields["forwarded"] = True  # mail to the contact never threads onto the owner's own forward
    if owner_forward and tags.note:
        draft.fields["counterpart"] = _forwarded_person(forward, ctx)
        return _as_contact_note(draft.done("contact_note"), tags, forward, ctx)
    if result.confidence < ctx.request_threshold and not owner_forward:
        return draft.done("ignored", f"not a meeting request (confidence {result.confidence:.2f})")
    draft.fields["proposed_times"] = tuple(proposals)
    draft.fields["meeting_url"] = find_meeting_url(text)
    if owner_forward:
        kept, skipped = mime.attachments(message, ctx.max_attachment_bytes)  # a résumé forwarded with it
        draft.fields["attachments"] = tuple(kept)
        draft.say(*skipped)
    _request_counterpart(draft, forward, facts, ctx, on_behalf=result.on_behalf)
    if result.confidence < ctx.request_threshold:
        return draft.done(
            "request",
            f"the owner forwarded it: a meeting request whatever its confidence ({result.confidence:.2f})",
        )
    return draft.done("request", f"a meeting request (confidence {result.confidence:.2f})")


def _forward(message: Message, body: str, ctx: Context) -> Forward | None:
    found = find_forward(body)
    if found is not None:
        return found
    for inner in mime.attached_messages(message)[:3]:
        facts = hdr.facts(inner)
        return Forward(
            preface=own_text(body),
            sender=facts.sender,
            subject=facts.subject,
            date_text=hdr.header(inner, "Date", 200),
            body=mime.body_text(inner),
            style="rfc822",
            message_id=facts.message_id,
            recipients=facts.recipients,
        )
    return None


def _forward_date(text: str, ctx: Context) -> datetime | None:
    if not text:
        return None
    # RFC 5322 dates (Thunderbird, rfc822 parts) first, then what Gmail/Outlook/Apple print
    return hdr.parse_date(text) or loose_date(text, ctx.owner_zone)


def _proposals(draft: _Draft, text: str, written_at: datetime | None, ctx: Context) -> list[datetime]:
    if written_at is None:
        draft.say("the message has no date, so relative days cannot be resolved; no times proposed")
        return []
    found = proposed_times(text, written_at.astimezone(UTC), ctx.owner_zone)
    if found:
        draft.say(f"times without a zone read in the owner's zone {ctx.owner_zone.key}")
    return found


def _request_counterpart(
    draft: _Draft, forward: Forward | None, facts: hdr.Facts, ctx: Context, *, on_behalf: bool = False
) -> None:
    """Who the request is with: the writer of the forwarded message (its own header block only, never an
    address in a body), the recipient when that writer is the owner, else the sender."""
    if on_behalf:
        draft.say("asks on someone else's behalf: choose whom the meeting is with")
        return
    if forward is not None and forward.sender is not None and ctx.is_owner(forward.sender.address):
        person = _forwarded_person(forward, ctx)
        draft.fields["counterpart"] = person
        if draft.fields.get("role_hint") is None:
            draft.fields["role_hint"] = "seeker"
            draft.say(
                "the forwarded mail is the owner's own request: the owner asks for the meeting (seeker)"
            )
        draft.say(
            "counterpart: the recipient of the owner's forwarded mail"
            if person
            else "no counterpart: the owner's forwarded mail names nobody else"
        )
        return
    candidates = [forward.sender if forward else None] if forward is not None else [facts.sender]
    for person in candidates:
        if person is not None and person.address not in ctx.not_counterparts:
            draft.fields["counterpart"] = person
            draft.say(
                "counterpart: the writer of the forwarded message" if forward else "counterpart: the sender"
            )
            return
    draft.say("no counterpart: the request names nobody but the owner")


def _forwarded_person(forward: Forward | None, ctx: Context) -> Person | None:
    """The person a forward is about: its writer, or, when the owner wrote it, its first other recipient."""
    if forward is None or forward.sender is None:
        return None
    if not ctx.is_owner(forward.sender.address):
        return forward.sender if forward.sender.address not in ctx.not_counterparts else None
    return next((p for p in forward.recipients if p.address not in ctx.not_counterparts), None)
