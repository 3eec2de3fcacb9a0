"""A step registered from outside the step table is planned, rendered and drafted like a built-in one.

The throwaway ``postcard`` (to the contact, a draft, one per occurrence) goes in through the public
API, ``DEFAULT_STEPS.register``, on a registry of its own, with its template in a temp folder; the
settings made for that registry carry it to the engine.  The built-in steps are turned off, so every
mail seen here is the postcard's.  Do-not-contact, trust and confirmation, the counterpart, the send
window, the sending limits and the draft-to-notify fallback apply to it only because the table says
it goes to the contact as a draft: nothing in mailflow names it.  No global is touched (no
monkeypatching): the default registry and settings are checked unchanged at the end.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailflow import clock
from mailflow.compose import check_templates
from mailflow.compose.feed import FeedStep, build_feed
from mailflow.config import Settings, load_settings
from mailflow.demo import samples
from mailflow.engine.cycle import Engine
from mailflow.playbook import PlaybookConfig
from mailflow.sinks.factory import Sinks
from mailflow.sinks.memory import MemorySink
from mailflow.sinks.notify import NotifySink
from mailflow.sources.memory import MemorySource
from mailflow.steps import DEFAULT_STEPS, Labels, StepRegistry, StepSpec
from mailflow.store import MeetingData, StepRow, Store

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2030, 1, 7, 9, 0, tzinfo=BERLIN)
THURSDAY = datetime(2030, 1, 10, 15, 0, tzinfo=BERLIN)  # the coffee: 15:00-15:45
FRIDAY_TEN = datetime(2030, 1, 11, 10, 0, tzinfo=BERLIN)  # end + 1d at 10:00: the postcard is due
POSTCARD = StepSpec(
    name="postcard",
    audience="contact",
    mode="draft",
    at="end + 1d",
    time_of_day="10:00",
    labels=Labels(cli="a picture postcard, the day after", notice="postcard", feed="Postcard to {who}"),
)
TEMPLATE = (
    'Subject: A postcard for {{ contact.first_name or "you" }}\n\n'
    'Dear {{ contact.first_name or "friend" }},\n\n'
    "greetings after our coffee on {{ meeting.day }}.\n\n"
    "{{ owner.first_name }} ({{ step }})\n"
)


class DraftsTwin(MemorySink):
    """Stands in for the owner's Drafts folder."""

    kind = "drafts"


def registry() -> StepRegistry:
    return DEFAULT_STEPS.register(POSTCARD)


class World:
    """One owner, the postcard registered, a memory source, and either memory sinks or the real factory's."""

    def __init__(self, folder: Path, *, extra: str = "", drafts: bool = True, factory: bool = False) -> None:
        (folder / "templates").mkdir(parents=True)
        (folder / "templates" / "postcard.txt").write_text(TEMPLATE, encoding="utf-8")
        built_ins_off = "".join(f'[playbook.{spec.name}]\nmode = "off"\n' for spec in DEFAULT_STEPS)
        self.config = folder / "config.toml"
        self.config.write_text(
            f'[owner]\nname = "Ana Lima"\naddresses = ["{samples.OWNER[1]}"]\ntimezone = "Europe/Berlin"\n'
            f'[mailbox]\naddress = "{samples.MAILFLOW[1]}"\n[data]\nfolder = "{folder / "data"}"\n'
            f'[outbox]\nfolder = "{folder / "outbox"}"\n[templates]\nfolder = "{folder / "templates"}"\n'
            + ('[drafts]\nhost = "imap.example.org"\n' if drafts else "")
            + built_ins_off
            + extra,
            encoding="utf-8",
        )
        self.settings = load_settings(self.config, steps=registry())
        self.store = Store.open(self.settings.database_url())
        self.source = MemorySource()
        self.sent, self.drafts = MemorySink(), DraftsTwin()
        notify = NotifySink(self.sent, owner_address=samples.OWNER[1], steps=self.settings.steps)
        sinks = None if factory else Sinks(self.sent, self.drafts, notify, steps=self.settings.steps)
        self.engine = Engine(self.settings, self.store, source=self.source, sinks=sinks)

    def cycle_at(self, at: datetime) -> None:
        clock.set_now(at)
        self.engine.run_cycle()

    def invite(self, guest: tuple[str, str] = samples.BEN, *, uid: str = "ben@google.com") -> None:
        self.source.add(samples.google_invite(THURSDAY, MONDAY, uid=uid, guest=guest))

    def postcards(self) -> list[StepRow]:
        with self.store.read() as tx:
            return [s for m in tx.list_meetings() for s in tx.list_steps(m.id) if s.step == POSTCARD.name]

    def contact_id(self, address: str) -> int:
        with self.store.read() as tx:
            contact = tx.find_contact(address)
        assert contact is not None
        return contact.id

    def close(self) -> None:
        self.engine.close()
        self.store.close()


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[type[World]]:
    made: list[World] = []

    def build(**options: object) -> World:
        world = World(tmp_path / f"world{len(made)}", **options)  # type: ignore[arg-type]
        made.append(world)
        return world

    yield build  # type: ignore[misc]
    for world in made:
        world.close()
    clock.set_now(None)
    assert Settings.steps is DEFAULT_STEPS and POSTCARD.name not in DEFAULT_STEPS  # nothing global changed
    with pytest.raises(KeyError):
        load_settings(None).playbook.table(POSTCARD.name)


def _parsed(message: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _text(message: EmailMessage) -> str:
    body = _parsed(message).get_body(preferencelist=("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content()).replace("\r\n", "\n")


def test_it_is_planned_from_its_spec_rendered_from_its_template_and_drafted(make_world: type[World]) -> None:
    world = make_world()
    world.invite()
    world.cycle_at(MONDAY)
    [row] = world.postcards()
    assert (row.state, row.mode, row.occurrence) == ("pending", "draft", 0)
    assert row.due_at == FRIDAY_TEN  # end + 1d, at 10:00
    world.cycle_at(FRIDAY_TEN - timedelta(minutes=1))
    assert world.drafts.delivered == [] and world.sent.delivered == []
    world.cycle_at(FRIDAY_TEN)
    [draft] = world.drafts.delivered
    assert world.sent.delivered == []  # a draft: nothing is sent
    assert draft["To"] == "Ben Okafor <ben.okafor@example.net>" and draft["Subject"] == "A postcard for Ben"
    assert "Dear Ben,\n\ngreetings after our coffee on Thursday 10 January 2030." in _text(draft)
    assert "Ana (postcard)" in _text(draft)
    assert [r.state for r in world.postcards()] == ["sent"]


def test_check_and_the_feed_know_it(make_world: type[World]) -> None:
    world = make_world()
    assert check_templates(world.settings) == []
    (world.config.parent / "templates" / "postcard.txt").write_text("Subject: x\n\n{{ contact.nmae }}\n")
    [problem] = check_templates(world.settings)
    assert "postcard.txt" in problem and "contact.nmae" in problem
    feed = build_feed(
        [], [FeedStep("1/postcard/0", POSTCARD.name, "Ben Okafor", FRIDAY_TEN, "draft")],
        zone="Europe/Berlin", domain="example.org", now=MONDAY, table=world.settings.steps,
    )  # fmt: skip
    assert b"SUMMARY:Postcard to Ben Okafor" in feed
    assert PlaybookConfig.from_settings(world.settings).delivery_mode(POSTCARD.name) == "draft"


def test_its_table_takes_settings_and_keeps_its_defaults(make_world: type[World]) -> None:
    world = make_world(extra='[playbook.postcard]\nat = "end + 2d"\n')
    table = world.settings.playbook.table(POSTCARD.name)
    assert (table.mode, table.at, table.time_of_day) == ("draft", "end + 2d", "10:00")


def test_nothing_goes_to_a_contact_who_asked_to_stop(make_world: type[World]) -> None:
    world = make_world()
    world.invite()
    world.cycle_at(MONDAY)
    with world.store.transaction() as tx:  # the wish arrives after planning, before the postcard is due
        tx.set_do_not_contact(world.contact_id(samples.BEN[1]), "asked to stop")
    clock.set_now(FRIDAY_TEN)
    report = world.engine.dispatcher.dispatch()  # dispatch alone: its own guard, not the planner's
    assert [o.result for o in report.outcomes] == ["cancelled"]
    assert "asked not to be contacted" in report.outcomes[0].detail
    world.invite(uid="ben-again@google.com")
    world.cycle_at(FRIDAY_TEN + timedelta(hours=1))
    assert world.drafts.delivered == [] and [r.state for r in world.postcards()] == ["cancelled"]


def test_a_strangers_invite_gets_it_only_once_the_owner_confirms(make_world: type[World]) -> None:
    world = make_world()
    invite = samples.google_invite(THURSDAY, MONDAY, uid="carla@google.com", guest=samples.BEN)
    world.source.add(invite.replace(b"From: Ana Lima <ana@example.org>", b"From: Carla <carla@contoso.com>"))
    world.cycle_at(MONDAY)
    assert world.postcards() == []
    with world.store.transaction() as tx:
        [meeting] = tx.list_meetings()
        assert meeting.state == "pending"
        tx.set_confirmed(meeting.id)
        tx.schedule_meeting(meeting.id)
    world.cycle_at(MONDAY + timedelta(hours=1))
    world.cycle_at(FRIDAY_TEN)
    assert [m["To"] for m in world.drafts.delivered] == ["Ben Okafor <ben.okafor@example.net>"]


def test_a_meeting_with_several_guests_waits_for_the_counterpart(make_world: type[World]) -> None:
    world = make_world()
    clock.set_now(MONDAY)
    with world.store.transaction() as tx:  # a group coffee: nobody chosen yet
        tx.upsert_contact(samples.BEN[1], samples.BEN[0])
        tx.upsert_contact(samples.CARLA[1], samples.CARLA[0])
        end = THURSDAY + timedelta(minutes=45)
        data = MeetingData("group@x", start_at=THURSDAY, end_at=end, needs_counterpart=True, trusted=True)
        tx.upsert_meeting(data)
    world.cycle_at(MONDAY)
    assert world.postcards() == []
    with world.store.transaction() as tx:
        [meeting] = tx.list_meetings()
        tx.set_counterpart(meeting.id, world.contact_id(samples.CARLA[1]))
    world.cycle_at(MONDAY + timedelta(hours=1))
    world.cycle_at(FRIDAY_TEN)
    assert [m["To"] for m in world.drafts.delivered] == ["Carla Mendes <carla.mendes@contoso.com>"]


def test_sent_it_waits_for_the_send_window_and_drafted_it_does_not(make_world: type[World]) -> None:
    saturday = FRIDAY_TEN + timedelta(days=1)
    monday = datetime(2030, 1, 14, 8, 0, tzinfo=BERLIN)  # the window opens: Mon-Fri 08:00-18:00
    sent = make_world(extra='[playbook.postcard]\nmode = "send"\nat = "end + 2d"\n')
    drafted = make_world(extra='[playbook.postcard]\nat = "end + 2d"\n')
    for world in (sent, drafted):
        world.invite()
        world.cycle_at(MONDAY)
        world.cycle_at(saturday)
    [row] = sent.postcards()
    assert row.due_at == monday  # Saturday 10:00, held for the window
    assert sent.sent.delivered == [] and len(drafted.drafts.delivered) == 1
    sent.cycle_at(monday)
    assert [m["Subject"] for m in sent.sent.delivered] == ["A postcard for Ben"]


def test_sent_it_counts_against_the_sending_limits_and_drafted_it_does_not(make_world: type[World]) -> None:
    limits = "[sending]\nper_hour = 1\n"
    sent = make_world(extra=limits + '[playbook.postcard]\nmode = "send"\n')
    drafted = make_world(extra=limits)
    for world in (sent, drafted):
        world.invite()
        world.invite(samples.CARLA, uid="carla@google.com")
        world.cycle_at(MONDAY)
        world.cycle_at(FRIDAY_TEN)
    assert len(sent.sent.delivered) == 1 and len(drafted.drafts.delivered) == 2
    sent.cycle_at(FRIDAY_TEN + timedelta(minutes=30))
    assert len(sent.sent.delivered) == 1  # the hour is not over
    sent.cycle_at(FRIDAY_TEN + timedelta(hours=1, minutes=1))
    assert len(sent.sent.delivered) == 2


def test_without_a_drafts_account_it_is_mailed_to_the_owner(make_world: type[World]) -> None:
    world = make_world(drafts=False, factory=True)  # the sinks the configuration makes: the file outbox
    world.invite()
    world.cycle_at(MONDAY)
    assert [r.mode for r in world.postcards()] == ["notify"]
    world.cycle_at(FRIDAY_TEN)
    [path] = sorted((world.config.parent / "outbox").glob("*.eml"))
    notice = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert notice["To"] == "Ana Lima <ana@example.org>"
    assert notice["Subject"] == "Ready to send: your postcard to Ben Okafor"  # its notice label
    [draft] = [part for part in notice.iter_attachments() if part.get_content_type() == "message/rfc822"]
    assert "A postcard for Ben" in draft.as_string()
