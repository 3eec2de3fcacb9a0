"""The engine: one cycle is sync, plan, dispatch, with health kept in the store.

It knows only the seams (``MailSource``, the ``Sinks``), the store and the
pure layers.  Every error of one part is recorded and the next part still
runs: a mailbox that cannot be reached does not stop steps that are due, and
a failing SMTP server does not stop intake.  The two halves, :meth:`Engine.sync_mail`
and :meth:`Engine.routine`, touch different connections (the source; the
sinks), so the daemon runs each in a loop of its own.  A problem that lasts longer than
``[daemon] alert_after`` earns the owner one alert mail.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TypeVar

from mailflow import clock
from mailflow.compose.message import make_message_id, message_id_domain
from mailflow.config import Settings, parse_duration
from mailflow.engine import health
from mailflow.engine.dispatch import Dispatcher, DispatchReport
from mailflow.engine.intake import Intake, SyncSummary
from mailflow.engine.owner_mail import OwnerMailer, OwnerMailOutcome
from mailflow.engine.planning import PlanSummary, plan_all
from mailflow.engine.retention import expire_daily
from mailflow.engine.series import SeriesSummary, advance_series
from mailflow.errors import BackendError, MailflowError, StoreError
from mailflow.owners import settings_for, sync_owner
from mailflow.playbook import PlaybookConfig
from mailflow.sinks.factory import Sinks, build_sinks
from mailflow.sources.base import MailSource, open_source
from mailflow.store import Store
from mailflow.text import one_line

log = logging.getLogger("mailflow.engine")
T = TypeVar("T")


@dataclass
class CycleReport:
    """What one cycle did; ``errors`` are one sentence each."""

    sync: SyncSummary | None = None
    series: SeriesSummary | None = None
    plan: PlanSummary | None = None
    dispatch: DispatchReport | None = None
    owner_mail: list[OwnerMailOutcome] | None = None  # acknowledgements
    paused: bool = False
    errors: list[str] = field(default_factory=list)
    alert_sent: bool = False


class Engine:
    """Sync, plan and dispatch for one configuration; keep it for the life of the process."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        source: MailSource | None = None,
        sinks: Sinks | None = None,
        dry_run: bool = False,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        sync_owner(store, settings)  # the configuration's [owner] is owner 1's record
        with store.read() as tx:
            settings = settings_for(settings, tx.owner())  # what this engine does, it does as that owner
        self.settings, self.store, self.dry_run = settings, store, dry_run
        self.playbook = PlaybookConfig.from_settings(settings)
        self.source = source or open_source(settings)
        self.sinks = sinks or build_sinks(settings)
        self.intake = Intake(store, self.source, settings)
        self.dispatcher = Dispatcher(store, self.sinks, settings, dry_run=dry_run)
        self.owner_mailer = OwnerMailer(store, self.sinks, settings, dry_run=dry_run)
        self.alert_after = parse_duration(settings.daemon.alert_after)
        self.should_stop = should_stop or (lambda: False)
        self.last_report = CycleReport()
        #: alerts earned by either loop, sent by the routine (which owns the sinks)
        self._alerts: queue.SimpleQueue[str] = queue.SimpleQueue()

    def run_cycle(self) -> CycleReport:
        """One sync (to the end), recurring series moved on, one plan, one dispatch."""
        report = CycleReport()
        report.sync = self.sync_mail(report)
        return self.routine(report)

    def sync_mail(
        self, report: CycleReport | None = None, *, seconds: float | None = None
    ) -> SyncSummary | None:
        """One sync, with the mailbox's health kept; ``seconds`` bounds the time spent understanding.

        The daemon's intake loop calls this alone; an alert it earns is sent by
        the next :meth:`routine` (the loop that owns the sinks).
        """
        report = report if report is not None else CycleReport()
        before = len(report.errors)
        summary = self._part(
            report, "sync", lambda: self.intake.sync(seconds=seconds, should_stop=self.should_stop)
        )
        if summary is not None:
            health.note_success(self.store, health.LAST_SYNC, health.MAILBOX)
        else:
            problem = "; ".join(report.errors[before:]) or "sync: failed"
            alert = health.note_failure(
                self.store,
                problem,
                alert_after=self.alert_after,
                side=health.MAILBOX,
                since=self.source.down_since,  # when the connection was lost, not when retries ran out
            )
            if alert:
                self._alerts.put(alert)
        return summary

    def routine(self, report: CycleReport | None = None) -> CycleReport:
        """Recurring series moved on, one plan, one dispatch, the routine's health and any alert due."""
        report = report if report is not None else CycleReport()
        before = len(report.errors)
        report.series = self._part(
            report, "series", lambda: advance_series(self.store, self.settings.owner_zone(), clock.now())
        )
        self._part(
            report,
            "retention",
            lambda: expire_daily(self.store, self.settings, clock.now(), dry_run=self.dry_run),
        )
        report.plan = self._part(report, "plan", lambda: plan_all(self.store, self.playbook, clock.now()))
        if report.plan is not None:  # a meeting that cannot be planned shows in status and may alert
            report.errors += [f"plan: {error}" for error in report.plan.errors]
        report.paused = health.is_paused(self.store)
        if not report.paused and not self.should_stop():
            report.dispatch = self._part(report, "dispatch", self._dispatch)
        if not report.paused and not self.should_stop():
            report.owner_mail = self._part(report, "owner mail", self._owner_mail)
        self._keep_health(report, report.errors[before:])
        self.last_report = report
        _log_cycle(report)
        return report

    def wait_for_mail(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for new mail (IDLE, or a sleep when polling)."""
        try:
            return self.source.wait(timeout)
        except MailflowError as exc:
            log.warning("waiting for mail failed: %s", one_line(str(exc)))
            return False

    def close(self) -> None:
        self.source.close()
        self.sinks.close()

    # -- parts -------------------------------------------------------------
    def _dispatch(self) -> DispatchReport:
        return self.dispatcher.dispatch(clock.now(), should_stop=self.should_stop)

    def _owner_mail(self) -> list[OwnerMailOutcome]:
        try:
            return self.owner_mailer.deliver(clock.now(), should_stop=self.should_stop)
        finally:
            self.sinks.close()

    def _part(self, report: CycleReport, name: str, run: Callable[[], T]) -> T | None:
        try:
            return run()
        except StoreError:
            raise
        except MailflowError as exc:
            report.errors.append(f"{name}: {one_line(str(exc), 300)}")
            log.warning("%s failed: %s", name, one_line(str(exc), 300))
        except Exception as exc:  # a bug must not stop the other parts; it is logged in full
            report.errors.append(f"{name}: unexpected {type(exc).__name__}: {one_line(str(exc), 300)}")
            log.exception("%s failed unexpectedly", name)
        return None

    def _keep_health(self, report: CycleReport, errors: list[str]) -> None:
        stuck = []
        if report.dispatch is not None:  # refused logins and 4xx are deferred, not failed: they count too
            stuck = [o for o in report.dispatch.outcomes if o.result in ("failed", "deferred", "unresolved")]
        problems = errors + [f"step {o.step_id} ({o.step}) {o.result}: {o.detail}" for o in stuck]
        problems += [
            f"owner mail {o.mail_id} ({o.kind}) {o.result}: {o.detail}"
            for o in report.owner_mail or []
            if o.result in ("failed", "deferred", "unresolved")
        ]
        if report.dispatch is not None and not problems:
            health.note_success(self.store, health.LAST_DISPATCH, health.ROUTINE)
        elif problems:
            alert = health.note_failure(self.store, "; ".join(problems), alert_after=self.alert_after)
            if alert:
                self._alerts.put(alert)
        while not self._alerts.empty():
            text = self._alerts.get()
            if not self.dry_run:
                report.alert_sent = self._send_alert(text) or report.alert_sent

    def _send_alert(self, text: str) -> bool:
        """One mail to the owner; if even that cannot go out, the log and `status` still show it."""
        owner = self.settings.owner.addresses[0] if self.settings.owner.addresses else ""
        if not owner:
            return False
        message = alert_message(self.settings, owner, text)
        try:
            self.sinks.send.deliver(message)
            return True
        except BackendError as exc:
            log.error("the alert mail could not be sent either: %s", one_line(str(exc)))
            return False
        finally:
            self.sinks.send.close()


def _log_cycle(report: CycleReport) -> None:
    seen = report.sync.seen if report.sync else 0
    outcomes = report.dispatch.counts() if report.dispatch else {}
    planned = report.plan.added + report.plan.retimed + report.plan.cancelled if report.plan else 0
    line = f"cycle: {seen} new message(s), {planned} plan change(s), dispatch {outcomes or 'nothing due'}"
    if seen or planned or outcomes:
        log.info(line)
    else:
        log.debug(line)


def alert_message(settings: Settings, owner: str, text: str) -> EmailMessage:
    message = EmailMessage()
    sender = (settings.smtp.from_address if settings.smtp else "") or owner
    message["From"] = f"mailflow <{sender}>"
    message["To"] = owner
    message["Subject"] = "mailflow needs your attention"
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = make_message_id(message_id_domain(settings))
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        f"{text}\n\nmailflow keeps trying. `mailflow status` shows what is failing and\n"
        "`mailflow check` tests every server login. You get this mail once per problem.\n"
    )
    return message
