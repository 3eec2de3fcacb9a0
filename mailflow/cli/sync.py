"""``mailflow sync [--once]``: read new mail into the records (intake only)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from mailflow.cli.app import app, err, handles_errors, out, print_json, settings
from mailflow.cli.common import only_the_configured_owner, open_store
from mailflow.engine.intake import Intake, SyncSummary, watch
from mailflow.sources import open_source

#: a backlog at least this large gets a progress bar (on stderr)
LARGE_BACKLOG = 1000


@app.command()
@handles_errors
def sync(
    once: bool = typer.Option(False, "--once", help="Read what is new, then exit (default: keep watching)."),
    json_: bool = typer.Option(False, "--json", help="Print each sync's summary as JSON."),
) -> None:
    """Read new mail into the records: meetings, contacts, notes; plans and sends nothing.

    Only messages that can matter are read in full (calendar data, forwards, mail from
    the owner or a known contact, replies to mailflow's mail); nothing in the mailbox
    is changed or deleted.  Without --once it keeps waiting for new mail (IMAP IDLE)
    until interrupted.
    """
    cfg = settings(required=True)
    only_the_configured_owner("sync")
    with open_store() as store:
        source = open_source(cfg)
        try:
            intake = Intake(store, source, cfg)
            if once:
                with _progress_bar(json_) as progress:
                    _report(intake.sync(progress=progress), json_, quiet=False)
                return
            _watch(intake, json_, cfg.daemon.idle_slice_seconds)
        finally:
            source.close()


def _watch(intake: Intake, json_: bool, slice_seconds: float) -> None:
    stop = threading.Event()
    with _stop_on_signals(stop):
        if not json_:
            err.print(f"watching {escape(intake.source.key)} for new mail; Ctrl-C stops")
        watch(
            intake,
            stop=stop,
            slice_seconds=slice_seconds,
            on_summary=lambda summary: _report(summary, json_, quiet=True),
            on_error=lambda exc: err.print(f"[yellow]warning:[/yellow] {escape(str(exc))}; trying again"),
        )


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Bar:
    """A rich progress bar that appears only once the backlog is large."""

    def __init__(self) -> None:
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, done: int, total: int | None) -> None:
        if self.progress is None:
            if total is None or total < LARGE_BACKLOG:
                return
            self.progress = Progress(
                TextColumn("reading the mailbox"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                console=err, transient=True,
            )  # fmt: skip
            self.progress.start()
            self.task = self.progress.add_task("sync", total=total)
        assert self.task is not None
        self.progress.update(self.task, completed=done, total=total)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


@contextmanager
def _progress_bar(json_: bool) -> Iterator[_Bar | None]:
    if json_:
        yield None
        return
    bar = _Bar()
    try:
        yield bar
    finally:
        bar.close()


def _report(summary: SyncSummary, json_: bool, *, quiet: bool) -> None:
    if json_:
        print_json(summary.to_json())
        return
    if quiet and not summary.seen:
        return
    out.print(describe(summary))
    if summary.errors:
        out.print("  see `mailflow messages --errors` for the messages that could not be handled")


def describe(summary: SyncSummary) -> str:
    """One line for people: what a sync read and what it recorded."""
    if not summary.seen:
        return "no new mail"
    parts = [
        f"{summary.seen} new message{'s' if summary.seen != 1 else ''}",
        f"{summary.parsed} read in full",
        f"{summary.meetings_created} meeting(s) created",
        f"{summary.meetings_updated} updated",
        f"{summary.requests_created} request(s)",
        f"{summary.notes_added} note(s)",
        f"{summary.contact_replies} contact repl{'y' if summary.contact_replies == 1 else 'ies'}",
    ]
    if summary.duplicates:
        parts.append(f"{summary.duplicates} already known")
    parts.append(f"{summary.errors} error{'s' if summary.errors != 1 else ''}")
    return ", ".join(parts)
