"""``mailflow run``: the daemon, or one cycle with ``--once``."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape

from mailflow.cli.app import app, handles_errors, out, print_json, settings
from mailflow.cli.common import only_the_configured_owner
from mailflow.config import Settings
from mailflow.daemon import DaemonOptions, Stopper, run_forever, single_instance
from mailflow.engine.cycle import CycleReport, Engine
from mailflow.store import Store


def daemon_options(current: Settings) -> DaemonOptions:
    data = current.data_folder()
    return DaemonOptions(
        tick_seconds=current.daemon.tick_seconds,
        idle_slice_seconds=current.daemon.idle_slice_seconds,
        heartbeat_file=current.daemon.heartbeat_file or data / "heartbeat",
        lock_file=current.daemon.lock_file or data / "mailflow.lock",
        poll_seconds=float(current.mailbox.poll_interval),
        sync_seconds=current.intake.sync_seconds,
    )


@app.command()
@handles_errors
def run(
    once: bool = typer.Option(False, "--once", help="One sync, one plan, one dispatch, then exit."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Sync, plan and render; send, draft and mark nothing."
    ),
    json_: bool = typer.Option(False, "--json", help="With --once: print what the cycle did as JSON."),
) -> None:
    """Watch the mailbox and run the playbook (the daemon). Stop it with SIGTERM or Ctrl-C."""
    current = settings(required=True)
    only_the_configured_owner("run")
    options = daemon_options(current)
    stopper = Stopper()
    store = Store.open(current.database_url())
    try:
        engine = Engine(current, store, dry_run=dry_run, should_stop=lambda: stopper.stopping)
        if not once:
            stopper.install()
            run_forever(engine, options, stopper)
            return
        with single_instance(options.lock_file):
            try:
                report = engine.run_cycle()
            finally:
                engine.close()
    finally:
        store.close()
    if json_:
        print_json(report_json(report))
    else:
        print_report(report, dry_run=dry_run)
    if report.errors:
        raise typer.Exit(1)


def report_json(report: CycleReport) -> dict[str, Any]:
    return {
        "sync": report.sync.to_json() if report.sync else None,
        "series": vars(report.series) if report.series else None,
        "plan": vars(report.plan) if report.plan else None,
        "dispatch": [vars(o) for o in report.dispatch.outcomes] if report.dispatch else None,
        "paused": report.paused,
        "errors": report.errors,
        "alert_sent": report.alert_sent,
    }


def print_report(report: CycleReport, *, dry_run: bool) -> None:
    if report.sync is not None:
        s = report.sync
        out.print(
            f"sync: {s.seen} new message(s), {s.meetings_created} meeting(s) created, "
            f"{s.meetings_updated} updated, {s.requests_created} request(s), {s.notes_added} note(s), "
            f"{s.errors} unreadable"
        )
    if report.series is not None and (report.series.advanced or report.series.ended):
        out.print(
            f"series: {report.series.advanced} moved on to their next occurrence, "
            f"{report.series.ended} with none left"
        )
    if report.plan is not None:
        p = report.plan
        out.print(
            f"plan: {p.meetings} meeting(s); {p.added} step(s) added, {p.retimed} re-timed, "
            f"{p.cancelled} cancelled, {p.skipped} skipped"
        )
    if report.paused:
        out.print("dispatch: [yellow]paused[/yellow] (`mailflow resume`)")
    elif report.dispatch is not None:
        prefix = "dry run, would " if dry_run else ""
        for outcome in report.dispatch.outcomes:
            out.print(
                f"  {prefix}{outcome.result}: step {outcome.step_id} {outcome.step} " + escape(outcome.detail)
            )
        if not report.dispatch.outcomes:
            out.print("dispatch: nothing due")
    for error in report.errors:
        out.print(f"[red]error:[/red] {escape(error)}")
