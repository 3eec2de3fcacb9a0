"""The owner's forwards through the whole engine (issue #26): requests, trust, tags, acknowledgements.

A real SQLite store and the real engine; the mailbox and the sinks are in memory (the same
scenarios over Dovecot and aiosmtpd are in test_acknowledge_live.py).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailflow import clock
from mailflow.config import load_settings
from mailflow.demo import samples
from mailflow.engine.cycle import Engine
from mailflow.errors import PermanentError
from mailflow.sinks.factory import Sinks
from mailflow.sinks.memory import MemorySink
from mailflow.sources.memory import MemorySource
from mailflow.store import Store
from tests.cli_helpers import run_cli

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2030, 1, 7, 9, 0, tzinfo=BERLIN)
THURSDAY = datetime(2030, 1, 10, 15, 0, tzinfo=BERLIN)
OWNER_NAME, OWNER = samples.OWNER
AUTHSERV = "mx.example.org"
SIGNED = f"{AUTHSERV}; dkim=pass header.d=example.org; spf=pass smtp.mailfrom={OWNER}"
DAN = ("Dan Brooks", "dan@brooks.example")
VICTIM = ("Vic Tim", "vic@third.example")
DAN_TEXT = (
    "Hi Alice, would you have half an hour sometime next week? I'd love to hear how you moved into product."
)


class World:
    def __init__(self, folder: Path, extra: str = "") -> None:
        self.config = folder / "config.toml"
        self.config.write_text(
            f'[owner]\nname = "{OWNER_NAME}"\naddresses = ["{OWNER}"]\ntimezone = "Europe/Berlin"\n'
            f'[mailbox]\naddress = "{samples.MAILFLOW[1]}"\n[data]\nfolder = "{folder / "data"}"\n'
            f'[trust]\nauthserv_id = "{AUTHSERV}"\n[sending]\nwindow = "Mon-Sun 00:00-23:59"\n' + extra,
            encoding="utf-8",
        )
        self.settings = load_settings(self.config)
        self.store = Store.open(self.settings.database_url())
        self.source = MemorySource()
        self.sink = MemorySink()
        self.engine = Engine(
            self.settings, self.store, source=self.source, sinks=Sinks(self.sink, self.sink, self.sink)
        )

    def cycle_at(self, at: datetime) -> None:
        clock.set_now(at)
        self.engine.run_cycle()

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.sink.delivered if address in str(m["To"])]


@pytest.fixture
def world() -> Iterator[World]:
    folder = Path(tempfile.mkdtemp(prefix="mailflow-fwd-"))
    made = World(folder)
    yield made
    made.engine.close()
    made.store.close()
    clock.set_now(None)
    shutil.rmtree(folder, ignore_errors=True)


def forward(
    preface: str,
    writer: tuple[str, str],
    text: str,
    *,
    message_id: str = "<fwd-1@mail.example.org>",
    signed: bool = True,
    resume: bool = False,
) -> bytes:
    """The owner's Gmail-style forward of ``writer``'s plain mail."""
    message = EmailMessage()
    if signed:
        message["Authentication-Results"] = SIGNED
    message["From"] = f"{OWNER_NAME} <{OWNER}>"
    message["To"] = samples.MAILFLOW[1]
    message["Subject"] = "Fwd: Quick question"
    message["Date"] = format_datetime(MONDAY)
    message["Message-ID"] = message_id
    message.set_content(
        f"{preface}\n\n---------- Forwarded message ---------\nFrom: {writer[0]} <{writer[1]}>\n"
        f"Date: Sun, 6 Jan 2030 at 18:02\nSubject: Quick question\nTo: {OWNER_NAME} <{OWNER}>\n\n{text}\n"
    )
    if resume:
        message.add_attachment(b"%PDF-1.4 resume", maintype="application", subtype="pdf", filename="cv.pdf")
    return message.as_bytes()


def invite_by(organizer: tuple[str, str], sender: tuple[str, str], uid: str) -> bytes:
    """An invite organised by ``organizer`` (as the calendar says), sent from ``sender``'s address."""
    raw = samples.google_invite(THURSDAY, MONDAY, uid=uid, guest=organizer)
    raw = raw.replace(
        f"ORGANIZER;CN={OWNER_NAME}:mailto:{OWNER}".encode(),
        f"ORGANIZER;CN={organizer[0]}:mailto:{organizer[1]}".encode(),
    )
    return raw.replace(f"From: {OWNER_NAME} <{OWNER}>".encode(), f"From: {sender[0]} <{sender[1]}>".encode())


def only_meeting(world: World) -> object:
    with world.store.read() as tx:
        (meeting,) = tx.list_meetings()
    return meeting


# -- item 1 and 4: a request, and the owner hears about it -------------------------------------------


def test_dans_forward_opens_a_request_and_one_acknowledgement_threaded_to_the_forward(world: World) -> None:
    world.source.add(forward("", DAN, DAN_TEXT))
    world.cycle_at(MONDAY)
    meeting = only_meeting(world)
    assert meeting.state == "requested"  # type: ignore[attr-defined]
    (ack,) = world.to(OWNER)
    assert str(ack["In-Reply-To"]) == "<fwd-1@mail.example.org>"
    assert f"meeting {meeting.id}" in str(ack["Subject"]) and "waiting for a time" in str(ack["Subject"])  # type: ignore[attr-defined]
    assert world.to(DAN[1]) == []
    world.cycle_at(MONDAY + timedelta(hours=1))
    assert len(world.sink.delivered) == 1  # once per request


def test_no_acknowledgement_when_turned_off() -> None:
    folder = Path(tempfile.mkdtemp(prefix="mailflow-fwd-"))
    world = World(folder, "[intake]\nacknowledge = false\n")
    try:
        world.source.add(forward("", DAN, DAN_TEXT))
        world.cycle_at(MONDAY)
        assert only_meeting(world).state == "requested"  # type: ignore[attr-defined]
        assert world.sink.delivered == []
    finally:
        world.engine.close()
        world.store.close()
        clock.set_now(None)
        shutil.rmtree(folder, ignore_errors=True)


def test_the_owners_answer_to_the_acknowledgement_is_never_notes(world: World) -> None:
    world.source.add(forward("", DAN, DAN_TEXT))
    world.cycle_at(MONDAY)
    (ack,) = world.to(OWNER)
    reply = samples.owner_notes_reply(
        MONDAY + timedelta(minutes=5), str(ack["Message-ID"]), "Re: " + str(ack["Subject"])
    )
    world.source.add(f"Authentication-Results: {SIGNED}\r\n".encode() + reply)
    world.cycle_at(MONDAY + timedelta(minutes=10))
    meeting = only_meeting(world)
    with world.store.read() as tx:
        assert tx.list_notes(meeting.id) == []  # type: ignore[attr-defined]
    assert len(world.sink.delivered) == 1


def test_a_forward_about_an_open_meeting_joins_it_with_its_files(world: World) -> None:
    world.source.add(forward("", DAN, DAN_TEXT))
    world.cycle_at(MONDAY)
    world.source.add(
        forward("", DAN, "See you Tuesday! My CV is attached.", message_id="<fwd-2@x>", resume=True)
    )
    world.cycle_at(MONDAY + timedelta(hours=1))
    meeting = only_meeting(world)  # still one meeting
    with world.store.read() as tx:
        files = tx.list_attachments(meeting_id=meeting.id)  # type: ignore[attr-defined]
    assert [f.filename for f in files] == ["cv.pdf"]
    assert len(world.to(OWNER)) == 2  # each forward is acknowledged, the joining one too


# -- item 2: trust never widens ------------------------------------------------------------------------


def test_the_two_step_attack_never_mails_a_third_party(world: World) -> None:
    """A forged owner forward names the victim, then a stranger's invite claims the victim organises."""
    world.source.add(forward("", VICTIM, "Could we grab a coffee next week? 30 minutes?", signed=False))
    world.cycle_at(MONDAY)
    world.source.add(invite_by(VICTIM, ("Mallory", "mallory@evil.example"), "attack-1@evil.example"))
    world.cycle_at(MONDAY + timedelta(hours=1))
    world.cycle_at(THURSDAY + timedelta(days=2))  # past every step's moment
    assert world.to(VICTIM[1]) == []
    with world.store.read() as tx:
        meeting = tx.find_meeting("attack-1@evil.example")
    assert meeting is not None and (meeting.state, meeting.trusted) == ("pending", False)


def test_an_invite_filling_the_owners_real_request_waits_for_confirm(world: World) -> None:
    world.source.add(forward("", VICTIM, "Could we grab a coffee next week? 30 minutes?"))
    world.cycle_at(MONDAY)
    with world.store.read() as tx:
        (request,) = tx.list_meetings()
    assert request.trusted  # the owner's forward vouches for the request itself...
    world.source.add(invite_by(VICTIM, ("Mallory", "mallory@evil.example"), "attack-2@evil.example"))
    world.cycle_at(MONDAY + timedelta(hours=1))
    with world.store.read() as tx:
        meeting = tx.find_meeting("attack-2@evil.example")
    assert meeting is not None and meeting.id == request.id  # ...the invite fills it...
    assert (meeting.state, meeting.trusted) == ("pending", False)  # ...but never borrows its trust
    world.cycle_at(THURSDAY + timedelta(days=2))
    assert world.to(VICTIM[1]) == []


# -- item 3: tags ----------------------------------------------------------------------------------------


def test_ignore_records_nothing_and_sends_nothing(world: World) -> None:
    world.source.add(forward("#ignore", DAN, DAN_TEXT))
    world.cycle_at(MONDAY)
    with world.store.read() as tx:
        assert tx.list_meetings() == [] and tx.list_contacts() == []
        (logged,) = tx.list_messages()
    assert logged.kind == "ignored" and world.sink.delivered == []


def test_note_is_kept_on_the_contact_and_opens_no_meeting(world: World) -> None:
    world.source.add(forward("#note Dan is Carla's brother", DAN, "Thanks for yesterday!"))
    world.cycle_at(MONDAY)
    with world.store.read() as tx:
        assert tx.list_meetings() == []
        (contact,) = tx.list_contacts()
        (note,) = tx.list_contact_notes(contact.id)
    assert contact.address == DAN[1]
    assert note.text.startswith("Dan is Carla's brother") and "Thanks for yesterday!" in note.text
    assert world.sink.delivered == []


# -- the outbox rule for mail to the owner ---------------------------------------------------------------


def test_an_acknowledgement_whose_fate_is_unknown_is_uncertain_and_shown(world: World) -> None:
    world.sink.fail = _crash  # the process "dies" inside the send: the claim was committed first
    world.source.add(forward("", DAN, DAN_TEXT))
    with pytest.raises(SystemExit):
        world.cycle_at(MONDAY)
    with world.store.read() as tx:
        (row,) = tx.list_owner_mail()
    assert row.state == "sending" and row.message_id  # claimed, with its Message-ID, before the send
    world.sink.fail = None
    world.cycle_at(MONDAY + timedelta(minutes=5))  # the restart: no copy anywhere, so never sent blindly
    with world.store.read() as tx:
        assert tx.get_owner_mail(row.id).state == "uncertain"  # type: ignore[union-attr]
    assert world.sink.delivered == []
    result = run_cli(
        ["--config", str(world.config), "--now", (MONDAY + timedelta(minutes=6)).isoformat(), "status"]
    )
    assert f"uncertain mail {row.id} to you (acknowledge" in result.output
    assert f"mailflow retry --mail {row.id}" in result.output


def test_a_copy_found_after_a_crash_makes_the_acknowledgement_sent_without_sending_again(
    world: World,
) -> None:
    world.sink.fail = _deliver_then_crash(world.sink)
    world.source.add(forward("", DAN, DAN_TEXT))
    with pytest.raises(SystemExit):
        world.cycle_at(MONDAY)
    world.sink.fail = None
    world.cycle_at(MONDAY + timedelta(minutes=5))
    with world.store.read() as tx:
        (row,) = tx.list_owner_mail()
    assert row.state == "sent" and "found after a restart" in row.receipt
    assert len(world.sink.delivered) == 1


def _crash(message: EmailMessage) -> None:
    raise SystemExit("killed while sending")


def _deliver_then_crash(sink: MemorySink) -> Callable[[EmailMessage], None]:
    def fail(message: EmailMessage) -> None:
        sink.delivered.append(message)  # it reached the server...
        raise SystemExit("killed before the sent mark")  # ...and mailflow died before writing so

    return fail


# -- item 7: a calendar that decides nothing for sure waits for confirm ----------------------------------


def owners_invite(
    dtstart: str, *, uid: str = "odd-1@example.org", sequence: int = 0, summary: str = "Coffee"
) -> bytes:
    """The owner's own authenticated invite to Dan, its DTSTART written as given."""
    message = EmailMessage()
    message["Authentication-Results"] = SIGNED
    message["From"] = f"{OWNER_NAME} <{OWNER}>"
    message["To"] = f"{DAN[1]}, {samples.MAILFLOW[1]}"
    message["Subject"] = f"Invitation: {summary}"
    message["Date"] = format_datetime(MONDAY)
    message["Message-ID"] = f"<inv-{uid}-{sequence}@example.org>"
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20300107T080000Z\r\nSEQUENCE:{sequence}\r\nDTSTART:{dtstart}\r\n"
        f"DURATION:PT45M\r\nSUMMARY:{summary}\r\nORGANIZER:mailto:{OWNER}\r\n"
        f"ATTENDEE;CN={DAN[0]}:mailto:{DAN[1]}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    message.set_content("Coffee?")
    message.add_alternative(ics, subtype="calendar", params={"method": "REQUEST"})
    return message.as_bytes()


def test_the_owners_invite_dated_30_february_waits_for_confirm_with_the_reason(world: World) -> None:
    world.source.add(owners_invite("20300230T100000Z"))
    world.cycle_at(MONDAY)
    with world.store.read() as tx:
        meeting = tx.find_meeting("odd-1@example.org")
        assert meeting is not None and (meeting.state, meeting.trusted, meeting.start_at) == (
            "pending",
            False,
            None,
        )
        assert any("DTSTART" in d for d in tx.doubts_of(meeting.id))
    shown = run_cli(["--config", str(world.config), "show", str(meeting.id)])
    assert "not read for sure" in shown.output and "DTSTART" in shown.output
    confirmed = run_cli(["--config", str(world.config), "confirm", str(meeting.id)])
    assert confirmed.exit_code == 0, confirmed.output
    with world.store.read() as tx:
        assert tx.doubts_of(meeting.id) == ()
    assert world.to(DAN[1]) == []


def test_an_update_that_cannot_be_read_for_sure_changes_nothing(world: World) -> None:
    world.source.add(owners_invite("20300110T140000Z"))
    world.cycle_at(MONDAY)
    with world.store.read() as tx:
        before = tx.find_meeting("odd-1@example.org")
    assert before is not None and before.state == "scheduled"
    world.source.add(owners_invite("20300231T140000Z", sequence=1, summary="Moved?"))
    world.cycle_at(MONDAY + timedelta(hours=1))
    with world.store.read() as tx:
        after = tx.find_meeting("odd-1@example.org")
    assert after is not None
    assert (after.state, after.start_at, after.summary, after.sequence) == (
        "scheduled",
        before.start_at,
        "Coffee",
        0,
    )


# -- review findings -------------------------------------------------------------------------------------


def _confirm(world: World, meeting_id: int) -> None:
    result = run_cli(["--config", str(world.config), "confirm", str(meeting_id)])
    assert result.exit_code == 0, result.output


def test_a_confirmed_request_lends_its_confirmation_to_no_strangers_invite(world: World) -> None:
    world.source.add(forward("", VICTIM, "Could we grab a coffee next week? 30 minutes?"))
    world.cycle_at(MONDAY)
    with world.store.read() as tx:
        (request,) = tx.list_meetings()
    _confirm(world, request.id)  # the owner confirmed the request: a meeting with Vic, no time yet
    world.source.add(invite_by(VICTIM, ("Mallory", "mallory@evil.example"), "attack-3@evil.example"))
    world.cycle_at(MONDAY + timedelta(hours=1))
    with world.store.read() as tx:
        meeting = tx.get_meeting(request.id)
    assert meeting is not None and (meeting.state, meeting.trusted, meeting.confirmed) == (
        "pending",
        False,
        False,
    )
    world.cycle_at(THURSDAY + timedelta(days=2))
    assert world.to(VICTIM[1]) == []


def test_an_unreadable_cancel_from_the_organizer_holds_mail_to_the_contact_and_says_why(world: World) -> None:
    world.source.add(owners_invite("20300110T140000Z"))
    world.cycle_at(MONDAY)
    before = len(world.to(DAN[1]))  # the prep request went when the meeting was scheduled
    cancel = owners_invite("20300110T140000Z", sequence=1).replace(b"SEQUENCE:1", b"SEQUENCE:1x")
    world.source.add(
        cancel.replace(b"METHOD:REQUEST", b"METHOD:CANCEL").replace(b"inv-odd-1@example.org-1", b"c-1")
    )
    world.cycle_at(MONDAY + timedelta(minutes=30))
    with world.store.read() as tx:
        meeting = tx.find_meeting("odd-1@example.org")
        assert meeting is not None and meeting.state == "scheduled"  # never guessed into a cancellation...
        assert any("SEQUENCE" in d for d in tx.doubts_of(meeting.id))  # ...kept with why...
    assert (meeting.trusted, meeting.confirmed) == (False, False)  # ...and nothing goes to Dan until confirm
    world.cycle_at(THURSDAY + timedelta(days=2))
    assert len(world.to(DAN[1])) == before
    assert "not read for sure" in run_cli(["--config", str(world.config), "show", str(meeting.id)]).output


def test_the_owners_forward_never_joins_a_strangers_pending_invite(world: World) -> None:
    world.source.add(invite_by(DAN, DAN, "dan-direct@brooks.example"))  # Dan's own invite, straight: pending
    world.cycle_at(MONDAY)
    world.source.add(forward("", DAN, DAN_TEXT, resume=True))
    world.cycle_at(MONDAY + timedelta(minutes=5))
    with world.store.read() as tx:
        meetings = tx.list_meetings()
        states = sorted(m.state for m in meetings)
        request = next(m for m in meetings if m.state == "requested")
        files = tx.list_attachments(meeting_id=request.id)
    assert states == ["pending", "requested"]
    assert [f.filename for f in files] == ["cv.pdf"] and len(world.to(OWNER)) == 1


def test_a_forward_joining_the_open_request_is_acknowledged_too(world: World) -> None:
    world.source.add(forward("", DAN, DAN_TEXT))
    world.cycle_at(MONDAY)
    world.source.add(forward("", DAN, "My CV, as promised.", message_id="<fwd-2@x>", resume=True))
    world.cycle_at(MONDAY + timedelta(minutes=5))
    acks = world.to(OWNER)
    assert [str(m["In-Reply-To"]) for m in acks] == ["<fwd-1@mail.example.org>", "<fwd-2@x>"]
    with world.store.read() as tx:
        assert len(tx.list_meetings()) == 1


def test_a_fwd_with_no_readable_block_is_the_owners_forward_in_full(world: World) -> None:
    message = EmailMessage()
    message["Authentication-Results"] = SIGNED
    message["From"] = f"{OWNER_NAME} <{OWNER}>"
    message["To"] = samples.MAILFLOW[1]
    message["Subject"] = "Fwd: kahve?"
    message["Date"] = format_datetime(MONDAY)
    message["Message-ID"] = "<fwd-tr@mail.example.org>"
    message.set_content("Kimden: Dan Brooks\nKonu: kahve?\n\nMerhaba, gelecek hafta bir kahve?")
    world.source.add(message.as_bytes())
    world.cycle_at(MONDAY)
    with world.store.read() as tx:
        (meeting,) = tx.list_meetings()
    assert (meeting.state, meeting.role, meeting.source_message_id) == ("requested", "adviser", "")
    assert len(world.to(OWNER)) == 1  # acknowledged: "whom is it with?"


def test_note_on_the_owners_own_sent_mail_is_filed_on_its_recipient(world: World) -> None:
    text = f"{OWNER_NAME} <{OWNER}>"
    raw = forward("#note she wants an intro to Ben", (OWNER_NAME, OWNER), "Hi Carla, coffee soon?")
    world.source.add(raw.replace(f"To: {text}".encode(), b"To: Carla Diaz <carla@diaz.example>"))
    world.cycle_at(MONDAY)
    with world.store.read() as tx:
        (contact,) = tx.list_contacts()
        (note,) = tx.list_contact_notes(contact.id)
    assert contact.address == "carla@diaz.example" and note.text.startswith("she wants an intro to Ben")


def test_the_seeker_acknowledgement_names_the_owners_own_request(world: World) -> None:
    text = f"{OWNER_NAME} <{OWNER}>"
    raw = forward("", (OWNER_NAME, OWNER), "Hi Carla, could we find 30 minutes for a coffee?")
    world.source.add(raw.replace(f"To: {text}".encode(), b"To: Carla Diaz <carla@diaz.example>"))
    world.cycle_at(MONDAY)
    (ack,) = world.to(OWNER)
    assert str(ack["Subject"]).startswith("Your request to Carla Diaz: meeting")


def test_a_failed_acknowledgement_can_be_retried_and_skipped_by_its_id(world: World) -> None:
    def refuse(message: EmailMessage) -> None:
        raise PermanentError("550 mailbox full", backend="memory")

    world.sink.fail = refuse
    world.source.add(forward("", DAN, DAN_TEXT))
    world.cycle_at(MONDAY)
    with world.store.read() as tx:
        (row,) = tx.list_owner_mail()
    assert row.state == "failed"
    retried = run_cli(["--config", str(world.config), "retry", "--mail", str(row.id)])
    assert retried.exit_code == 0, retried.output
    world.sink.fail = None
    world.cycle_at(MONDAY + timedelta(minutes=5))
    assert len(world.to(OWNER)) == 1
    again = run_cli(["--config", str(world.config), "skip", "--mail", str(row.id)])
    assert again.exit_code == 2 and "is sent" in again.output
    missing = run_cli(["--config", str(world.config), "retry", "--mail", "99"])
    assert missing.exit_code == 2 and "there is no mail 99" in missing.output
