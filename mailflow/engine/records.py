"""What one understood message writes to the store, inside the batch's transaction.

By kind:

- invite / update / cancel: the counterpart as a contact; the meeting by iCal
  UID + RECURRENCE-ID (SEQUENCE/DTSTAMP ordering is the store's).  An invite
  without a UID comes with one that understanding derived from its organizer
  and summary (``derived-<sha256>``), so its reschedule and cancel find it.
  A new UID from a contact with an open plain request upgrades that request's meeting.
  A meeting is trusted only when the owner sent or forwarded the invite (or
  the meeting was trusted or confirmed before); an untrusted new invite is
  "pending" and sends nothing until the owner confirms it.
- reply / counter (iTIP): linked to their meeting.
- request: a "requested" meeting with the counterpart, unless a meeting with
  them is open (requested, waiting, or still to come): then the request (a
  résumé, "see you Tuesday") joins that one.  A new meeting from the owner's
  forward queues one acknowledgement to the owner (``owner_mail``).
- contact_reply: the contact's reply time, their do-not-contact wish, attachments.
- owner_notes: a note on the meeting the owner answered about, and the role;
  an answer to an acknowledgement is never a note.
- contact_note: the owner's ``#note`` forward, a note on the contact.

Trust never widens: an invite that fills a request is trusted on its own or
waits for ``confirm`` (the request may rest on a forward alone), and an
invite whose identity, time, recurrence or status cannot be read (``doubts``)
opens a meeting that waits for ``confirm``, and changes no meeting it names.
- ignored / unreadable: only the message log (with the error).

Every message gets one row in the message log.  Dedupe: a message whose
Message-ID (or, without one, content hash) is already logged without error
writes nothing again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from mailflow import clock
from mailflow.engine.attachments import SavedFile
from mailflow.engine.series import STALE_AFTER
from mailflow.engine.triage import Known
from mailflow.model import Person, Understanding
from mailflow.sources import Incoming
from mailflow.store import (
    ContactRow,
    MeetingData,
    MeetingRow,
    MessageData,
    MessageRow,
    StoreTx,
    normalise_address,
)
from mailflow.text import one_line

log = logging.getLogger("mailflow.engine.intake")

INVITE_KINDS = ("invite", "update", "cancel")


@dataclass
class Prepared:
    """One fetched message, understood, its attachments already saved; the raw bytes dropped."""

    item: Incoming
    content_hash: str
    understanding: Understanding
    files: list[SavedFile] = field(default_factory=list)


@dataclass
class Tally:
    """What the records of one sync did (added into the summary)."""

    meetings_created: int = 0
    meetings_updated: int = 0
    requests_created: int = 0
    notes_added: int = 0
    contact_notes: int = 0
    acknowledgements: int = 0
    contact_replies: int = 0
    attachments_saved: int = 0
    duplicates: int = 0
    errors: int = 0


@dataclass
class _Links:
    meeting: MeetingRow | None = None
    contact: ContactRow | None = None


class Recorder:
    """Writes prepared messages through one open :class:`StoreTx`.

    ``known`` (what the sync loaded before) spares a lookup for what cannot
    exist yet: a meeting whose UID was never seen, an open request of a brand
    new contact.  ``prechecked`` are Message-IDs found unrecorded just before
    this transaction (the caller guarantees nobody wrote meanwhile).
    """

    def __init__(
        self,
        tx: StoreTx,
        zone: ZoneInfo,
        tally: Tally,
        known: Known | None = None,
        prechecked: frozenset[str] = frozenset(),
        *,
        acknowledge: bool = True,
    ) -> None:
        self.tx, self.zone, self.tally = tx, zone, tally
        self.acknowledge = acknowledge  # [intake] acknowledge: tell the owner what their forward became
        self.known = known if known is not None else Known()
        self.prechecked = prechecked
        self.new_contacts: set[str] = set()
        self.new_meetings: set[tuple[str, str]] = set()
        self._in_batch: set[str] = set()

    # -- dedupe ---------------------------------------------------------------
    def already_recorded(self, message_id: str, content_hash: str = "") -> MessageRow | None:
        """The earlier log row of this message, when it was recorded without error."""
        if message_id:
            rows = self.tx.find_messages_by_message_id(message_id)
            return next((r for r in rows if r.direction == "in" and not r.error), None)
        if content_hash:
            row = self.tx.find_message_by_hash(content_hash)
            if row is not None and row.direction == "in" and not row.error:
                return row
        return None

    def _duplicate(self, message_id: str, content_hash: str) -> bool:
        key = message_id or (f"#{content_hash}" if content_hash else "")
        if key in self._in_batch:
            return True
        if key:
            self._in_batch.add(key)
        if message_id and message_id in self.prechecked:
            return False
        return self.already_recorded(message_id, content_hash) is not None

    # -- one message ------------------------------------------------------------
    def record(self, prepared: Prepared) -> MessageRow | None:
        """Write what ``prepared`` says; None when it was a duplicate."""
        u = prepared.understanding
        if self._duplicate(u.message_id or prepared.item.message_id, prepared.content_hash):
            self.tally.duplicates += 1
            return None
        links = self._apply(u, prepared)
        return self.log(prepared, links.meeting, links.contact)

    def log(
        self,
        prepared: Prepared,
        meeting: MeetingRow | None = None,
        contact: ContactRow | None = None,
        *,
        error: str = "",
    ) -> MessageRow:
        u, item = prepared.understanding, prepared.item
        error = error or (u.error or "the message cannot be understood" if u.kind == "unreadable" else "")
        if error:
            self.tally.errors += 1
            log.warning("message at %s could not be handled: %s", item.ref.location, one_line(error, 300))
        data = MessageData(
            ref=item.ref,
            direction="in",
            message_id=u.message_id or item.message_id,
            content_hash=prepared.content_hash,
            kind=u.kind,
            meeting_id=meeting.id if meeting else None,
            contact_id=contact.id if contact else None,
            sender=(u.sender.address if u.sender else item.sender),
            subject=one_line(u.subject or item.subject, 500),
            in_reply_to=u.in_reply_to or (item.in_reply_to[0] if item.in_reply_to else ""),
            sent_at=u.sent_at,
            error=one_line(error, 1000),
        )
        row, _new = self.tx.record_message(data)
        return row

    def _apply(self, u: Understanding, prepared: Prepared) -> _Links:
        if u.kind in INVITE_KINDS:
            links = self._invite(u)
        elif u.kind in ("reply", "counter"):
            links = _Links(meeting=self._meeting_of(u), contact=self._contact(u.sender))
        elif u.kind == "request":
            links = self._request(u)
        elif u.kind == "contact_reply":
            links = self._contact_reply(u)
        elif u.kind == "owner_notes":
            links = self._owner_notes(u)
        elif u.kind == "contact_note":
            links = self._contact_note(u)
        else:
            return _Links()
        self._attach(prepared, links)
        return links

    # -- meetings -----------------------------------------------------------------
    def _invite(self, u: Understanding) -> _Links:
        if not u.uid:  # understanding derives one from the organizer and summary when it can
            raise ValueError("the invite has no UID, and no organizer and summary to track it by")
        key = (u.uid, u.recurrence_id)
        seen_before = key in self.known.meetings or key in self.new_meetings
        existing = self.tx.find_meeting(*key) if seen_before else None
        series = None
        if existing is None and u.recurrence_id and self._knows((u.uid, "")):
            # one occurrence moved or cancelled: a change to the series, so the series' rule applies,
            # and the occurrence's own row takes the series' trust and role
            series = self.tx.find_meeting(u.uid, "")
            if series is not None and not self._may_change(series, u):
                log.info(
                    "ignored an %s of one occurrence of meeting %d from %s, who neither organises it nor is "
                    "the owner", u.kind, series.id, one_line(u.sender.address if u.sender else "?", 120),
                )  # fmt: skip
                return _Links(meeting=series)
        named = existing or series
        if u.doubts and named is not None:
            # never guessed: the meeting stays as it was, and when its organizer (or the owner) sent the
            # message (an unreadable cancel, say), mail to the contact waits for the owner's confirm
            if self._may_change(named, u):
                self.tx.set_doubts(named.id, u.doubts, message_id=u.message_id)
                self.tx.hold_for_confirm(named.id)
            log.info(
                "kept meeting %d as it was: the %s cannot be read for sure (%s)",
                named.id,
                u.kind,
                one_line("; ".join(u.doubts), 300),
            )
            return _Links(meeting=named)
        if existing is not None and not self._may_change(existing, u):
            log.info(
                "ignored an %s of meeting %d from %s, who neither organises it nor is the owner",
                u.kind,
                existing.id,
                one_line(u.sender.address if u.sender else "?", 120),
            )
            return _Links(meeting=existing)
        contact_known = self._is_known(u.counterpart)
        contact = self._contact(u.counterpart)
        request = None
        if (
            existing is None
            and series is None
            and contact is not None
            and contact_known
            and u.kind != "cancel"
        ):
            request = self.tx.find_open_request(contact.id)
        keeps = existing is not None and self._keeps_its_occurrence(existing, u)
        occurrence = u.series_occurrence
        if keeps and existing is not None:  # the row stays on its occurrence, so does its RECURRENCE-ID
            occurrence = self.tx.series_occurrence(existing.id) or occurrence
        # the request lends its role, never its trust: an invite is trusted on its own or waits for confirm
        data = self._meeting_data(
            u, contact, existing or request or series, keep_times=keeps, lends_trust=request is None
        )
        if request is not None:
            meeting, applied = self.tx.attach_invite(request.id, data), True
            self.tally.meetings_updated += 1
            log.info("the invite %s answers the request of meeting %d", one_line(u.uid, 80), request.id)
        else:
            meeting, applied = self.tx.upsert_meeting(data)
            if existing is None and applied:
                self.tally.meetings_created += 1
            elif applied:
                self.tally.meetings_updated += 1
        if applied and u.series_calendar:  # the occurrences after this one are read from it (engine.series)
            self.tx.set_series(meeting.id, u.series_calendar, occurrence)
        elif applied and existing is not None:  # no longer a series, or one too large to keep: not followed
            self.tx.forget_series(meeting.id)
        self.new_meetings.add(key)
        if u.doubts and applied:  # shown by `show` until the owner confirms
            self.tx.set_doubts(meeting.id, u.doubts, message_id=u.message_id)
        meeting = self._trust(meeting, data, u)
        return _Links(meeting=meeting, contact=contact)

    def _keeps_its_occurrence(self, before: MeetingRow, u: Understanding) -> bool:
        """An update of a followed series while its current occurrence is under way, or just over:
        the row stays on that occurrence (engine.series moves it on, with the new calendar)."""
        now = clock.now()
        return (
            before.recurring
            and not before.recurrence_id
            and u.recurring
            and not u.recurrence_id
            and bool(u.series_calendar)
            and u.kind != "cancel"
            and before.start_at is not None
            and before.start_at <= now
            and (before.end_at or before.start_at) > now - STALE_AFTER
            and self.tx.get_series(before.id) is not None
        )

    def _knows(self, key: tuple[str, str]) -> bool:
        return key in self.known.meetings or key in self.new_meetings

    def _may_change(self, meeting: MeetingRow, u: Understanding) -> bool:
        """An update or cancellation counts from the owner, or from the organizer when that is not the owner.

        Every attendee knows the UID: without this, anyone could move a trusted meeting,
        add a victim as its counterpart, or cancel it.
        """
        if u.trusted:
            return True
        sender = u.sender.address.lower() if u.sender else ""
        organizer = meeting.organizer.lower()
        return bool(sender) and sender == organizer and organizer not in self.known.owners

    def _meeting_data(
        self,
        u: Understanding,
        contact: ContactRow | None,
        before: MeetingRow | None,
        *,
        keep_times: bool = False,
        lends_trust: bool = True,
    ) -> MeetingData:
        inherited = lends_trust and before is not None and (before.trusted or before.confirmed)
        trusted = (u.trusted or inherited) and not u.doubts
        state = "cancelled" if u.kind == "cancel" else ("scheduled" if trusted else "pending")
        start, end = self._times(u)
        if keep_times and before is not None:
            # an update of a series whose current occurrence has begun: the row stays on that
            # occurrence (its after-meeting steps are written from its times); engine.series moves it on
            start, end = before.start_at, before.end_at
        return MeetingData(
            ical_uid=u.uid,
            recurrence_id=u.recurrence_id,
            sequence=u.sequence,
            dtstamp=u.dtstamp,
            start_at=start,
            end_at=end,
            all_day=u.all_day,
            timezone=u.timezone,
            summary=u.summary,
            description=u.description,
            location=u.location,
            meeting_url=u.meeting_url,
            organizer=u.organizer.address if u.organizer else "",
            state=state,
            role=infer_role(u, before),
            contact_timezone=revealed_zone(u, contact),
            counterpart_id=contact.id if contact else None,
            needs_counterpart=contact is None,
            trusted=trusted,
            recurring=u.recurring,
            source_message_id=thread_root(u),
        )

    def _trust(self, meeting: MeetingRow, data: MeetingData, u: Understanding) -> MeetingRow:
        """The owner's forward of a known invite vouches for it even when nothing else changed."""
        changed = False
        if data.trusted and not meeting.trusted:
            changed = self.tx.set_trusted(meeting.id) or changed
            changed = self.tx.schedule_meeting(meeting.id) or changed  # only a pending one moves
        if u.from_owner and u.role_hint and meeting.role != u.role_hint:
            changed = self.tx.set_role(meeting.id, u.role_hint, by_owner=True) or changed
        return (self.tx.get_meeting(meeting.id) or meeting) if changed else meeting

    def _times(self, u: Understanding) -> tuple[datetime | None, datetime | None]:
        if u.start is not None:
            return _aware(u.start, self.zone), _aware(u.end, self.zone) if u.end else None
        if u.date is not None:  # all-day: midnight in the owner's zone
            end_day = u.end_date or (u.date + timedelta(days=1))
            start = datetime.combine(u.date, time(0), tzinfo=self.zone).astimezone(UTC)
            return start, datetime.combine(end_day, time(0), tzinfo=self.zone).astimezone(UTC)
        return None, None

    def _request(self, u: Understanding) -> _Links:
        contact = self._contact(u.counterpart)
        open_meeting = self._open_meeting(contact) if contact else None
        if open_meeting is not None:
            if u.from_owner and u.role_hint and open_meeting.role != u.role_hint:
                self.tx.set_role(open_meeting.id, u.role_hint, by_owner=True)
            if u.trusted and open_meeting.state == "requested" and not open_meeting.trusted:
                self.tx.set_trusted(open_meeting.id)  # the owner's own forward of the contact's request
            log.info(
                "the request in %s joins the open meeting %d", one_line(u.message_id, 200), open_meeting.id
            )
            if self.acknowledge and u.from_owner and u.forwarded and u.message_id:
                self._acknowledge(open_meeting, contact, u)
            return _Links(meeting=open_meeting, contact=contact)
        meeting = self.tx.create_request(
            contact.id if contact else None,
            summary=one_line(u.summary or u.subject, 500),
            role=infer_role(u, None),
            trusted=u.trusted,
            source_message_id=thread_root(u),
        )
        if u.from_owner and u.role_hint:
            self.tx.set_role(meeting.id, u.role_hint, by_owner=True)
        self.tally.requests_created += 1
        if self.acknowledge and u.from_owner and u.forwarded and u.message_id:
            self._acknowledge(meeting, contact, u)
        return _Links(meeting=meeting, contact=contact)

    def _open_meeting(self, contact: ContactRow) -> MeetingRow | None:
        """The contact's meeting a new request about them belongs to: a request no invite answered, or a
        meeting the owner vouched for that is still to come.  Never a stranger's pending invite: the
        owner's forward would vouch for it by the back door."""
        mine = self.tx.list_meetings(contact_id=contact.id, states=("requested", "pending", "scheduled"))
        now = clock.now()
        live = [
            m
            for m in mine
            if (m.state == "requested" or m.trusted or m.confirmed)
            and (m.start_at is None or m.start_at >= now)
        ]
        return max(live, key=lambda m: (m.created_at, m.id), default=None)

    def _acknowledge(self, meeting: MeetingRow, contact: ContactRow | None, u: Understanding) -> None:
        """One short mail to the owner, threaded onto their forward, saying what it became."""
        queued = self.tx.queue_owner_mail(
            "acknowledge",
            f"acknowledge:{one_line(u.message_id, 180)}",  # one per forward, whichever meeting it opened or joined
            due_at=clock.now(),
            meeting_id=meeting.id,
            contact_id=contact.id if contact else None,
            in_reply_to=u.message_id,
            reference_ids=(*u.references[-20:], u.message_id),
        )
        if queued is not None:
            self.tally.acknowledgements += 1

    # -- replies ---------------------------------------------------------------------
    def _contact_reply(self, u: Understanding) -> _Links:
        contact = self._contact(u.sender or u.counterpart)
        meeting = self._meeting_of(u)
        if (
            meeting is not None
            and meeting.counterpart_id is not None
            and (contact is None or contact.id != meeting.counterpart_id)
        ):
            meeting = (
                None  # someone else answered our mail (a forward, a stranger): not this meeting's contact
            )
        if meeting is None and contact is not None:
            mine = self.tx.list_meetings(contact_id=contact.id)
            meeting = mine[-1] if mine else None
        if contact is not None:
            at = u.sent_at or clock.now()
            self.tx.record_contact_reply(contact.id, at, meeting_id=meeting.id if meeting else None)
            self.tally.contact_replies += 1
            if u.do_not_contact:
                reason = f"asked to stop in {one_line(u.message_id or 'a reply', 200)}"
                self.tx.set_do_not_contact(contact.id, reason)
                log.info("contact %s asked not to be contacted", contact.address)
        return _Links(meeting=meeting, contact=contact)

    def _owner_notes(self, u: Understanding) -> _Links:
        acknowledged = self.tx.owner_mail_for_message_id(u.replied_to) if u.replied_to else None
        if acknowledged is not None:  # "thanks!" to an acknowledgement is not what was learned in a meeting
            log.info(
                "the owner answered an acknowledgement (%s); not taken as notes", one_line(u.message_id, 200)
            )
            meeting = self.tx.get_meeting(acknowledged.meeting_id) if acknowledged.meeting_id else None
            return _Links(meeting=meeting)
        meeting = self._meeting_of(u)
        if meeting is None:
            log.warning("the owner's notes in %s answer no known meeting; kept in the log only", u.message_id)
            return _Links()
        if u.notes.strip():
            self.tx.add_note(meeting.id, u.notes, source="mail", message_id=u.message_id)
            self.tally.notes_added += 1
        if u.role_hint:
            self.tx.set_role(meeting.id, u.role_hint, by_owner=True)
        return _Links(meeting=meeting)

    def _contact_note(self, u: Understanding) -> _Links:
        contact = self._contact(u.counterpart)
        if contact is None:
            log.warning(
                "the owner's #note in %s names nobody; kept in the log only", one_line(u.message_id, 200)
            )
            return _Links()
        if u.notes.strip():
            self.tx.add_contact_note(contact.id, u.notes, source="mail", message_id=u.message_id)
            self.tally.contact_notes += 1
        return _Links(contact=contact)

    def _meeting_of(self, u: Understanding) -> MeetingRow | None:
        if u.replied_to:
            meeting = self.tx.meeting_for_message_id(u.replied_to)
            if meeting is not None:
                return meeting
        if u.uid:
            return self.tx.find_meeting(u.uid, u.recurrence_id) or self.tx.find_meeting(u.uid)
        return None

    # -- contacts and files --------------------------------------------------------------
    def _is_known(self, person: Person | None) -> bool:
        """Whether the person was a contact before this message (else no request of theirs can exist)."""
        if person is None:
            return False
        address = normalise_address(person.address)
        return address in self.known.contacts or address in self.new_contacts

    def _contact(self, person: Person | None) -> ContactRow | None:
        if person is None or "@" not in person.address:
            return None
        contact = self.tx.upsert_contact(person.address, one_line(person.name, 200))
        self.new_contacts.add(contact.address)
        return contact

    def _attach(self, prepared: Prepared, links: _Links) -> None:
        if not prepared.files or (links.meeting is None and links.contact is None):
            return
        for saved in prepared.files:
            self.tx.add_attachment(
                saved.path,
                meeting_id=links.meeting.id if links.meeting else None,
                contact_id=links.contact.id if links.contact else None,
                filename=saved.filename,
                content_type=saved.content_type,
                size=saved.size,
                sha256=saved.sha256,
                message_id=prepared.understanding.message_id,
            )
            self.tally.attachments_saved += 1


def _aware(value: datetime, zone: ZoneInfo) -> datetime:
    """Understanding promises aware datetimes; a naive one is read in the owner's zone."""
    return (value if value.tzinfo is not None else value.replace(tzinfo=zone)).astimezone(UTC)


def without_attachment_data(u: Understanding) -> Understanding:
    """The understanding without the attachment bytes (saved already), to keep a batch small."""
    return replace(u, attachments=()) if u.attachments else u


def thread_root(u: Understanding) -> str:
    """The message that mail about this meeting threads onto.

    For the owner's forward, the forwarded original (which the contact has
    seen), or nothing: a contact must never get a reply to a mail they never saw.
    """
    return u.original_message_id if u.forwarded else u.message_id


def infer_role(u: Understanding, before: MeetingRow | None) -> str:
    """The owner's side of the table: who asked is the seeker.

    The owner's own ``#adviser`` / ``#seeker`` wins; an update, or an invite that
    answers a request, keeps the role the meeting already has; a request the
    contact wrote, or an invite the contact organised, makes the owner the
    adviser; an invite the owner organised makes the owner the seeker.
    """
    if u.from_owner and u.role_hint:
        return u.role_hint
    if before is not None:
        return before.role
    if u.kind == "request":
        return "adviser" if u.forwarded or not u.from_owner else "seeker"
    organizer = u.organizer.address.lower() if u.organizer else ""
    counterpart = u.counterpart.address.lower() if u.counterpart else ""
    return "adviser" if organizer and organizer == counterpart else "seeker"


def revealed_zone(u: Understanding, contact: ContactRow | None) -> str:
    """The contact's time zone, when their own invite names a real one."""
    if contact is None or u.organizer is None or u.organizer.address.lower() != contact.address:
        return ""
    if not u.timezone:
        return ""
    try:
        ZoneInfo(u.timezone)
    except (KeyError, ValueError, OSError):  # not an IANA name ("Customized Time Zone", junk)
        return ""
    return u.timezone
