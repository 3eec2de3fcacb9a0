"""``mailflow status``: is it alive, what comes next, what needs you."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.markup import escape

from mailflow import clock
from mailflow.cli.app import app, handles_errors, out, print_json, settings
from mailflow.cli.common import iso, open_store, shown
from mailflow.cli.records import step_json
from mailflow.config import parse_duration
from mailflow.engine.health import held_reason, read_health, stale_since
from mailflow.text import one_line


@app.command()
@handles_errors
def status(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Last sync and dispatch, the next step due, failed or uncertain steps, the last error."""
    heartbeat = _heartbeat()
    with open_store() as store:
        current = settings()  # after open_store: the chosen owner's (--owner)
        health = read_health(store)
        stale = stale_since(store, parse_duration(current.intake.stale_after))
        with store.read() as tx:
            next_step = tx.next_pending_step()
            attention = tx.steps_in_state("failed", "uncertain")
            counts = tx.count_steps_by_state()
            owner_mail = tx.owner_mail_in_state("failed", "uncertain")
    held = (
        held_reason(stale.astimezone(current.owner_zone()), clock.now(), current.intake.stale_after)
        if stale
        else ""
    )
    if json_:
        print_json(
            {
                "heartbeat": iso(heartbeat),
                "last_sync": iso(health.last_sync),
                "last_dispatch": iso(health.last_dispatch),
                "last_error": health.last_error,
                "last_error_at": iso(health.last_error_at),
                "failing_since": iso(health.failing_since),
                "down": [{"side": d.side, "since": iso(d.since), "error": d.error} for d in health.down],
                "paused": health.paused,
                "contact_mail_held": held if stale else None,
                "next_step": step_json(next_step) if next_step else None,
                "needs_attention": [step_json(s) for s in attention],
                "owner_mail_needs_attention": [
                    {
                        "id": m.id,
                        "kind": m.kind,
                        "meeting_id": m.meeting_id,
                        "state": m.state,
                        "message_id": m.message_id,
                        "error": m.last_error,
                    }
                    for m in owner_mail
                ],
                "steps": counts,
            }
        )
        return
    out.print(f"daemon heartbeat  {_ago(heartbeat)}")
    out.print(f"last sync         {_ago(health.last_sync)}")
    out.print(f"last dispatch     {_ago(health.last_dispatch)}")
    out.print(
        "paused            "
        + ("[yellow]yes, everything[/yellow] (`mailflow resume`)" if health.paused else "no")
    )
    if next_step:
        out.print(
            f"next step         {next_step.step} for meeting {next_step.meeting_id}, {shown(next_step.due_at)}"
        )
    else:
        out.print("next step         none pending")
    out.print(
        "steps             " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        if counts
        else "steps             none"
    )
    if held:
        out.print(f"[yellow]held[/yellow]              {escape(held)}", soft_wrap=True)
    for down in health.down:
        out.print(
            f"[red]{_SIDES[down.side]} failing[/red] since {shown(down.since)} ({_ago(down.since)}): "
            f"{escape(one_line(down.error, 300))}",
            soft_wrap=True,
        )
    if health.last_error:
        out.print(f"[red]last error[/red]        {_ago(health.last_error_at)}: {escape(health.last_error)}")
    for step in attention:
        detail = one_line(step.last_error or step.reason, 120)
        out.print(
            f"[bold yellow]{step.state}[/bold yellow] step {step.id} ({step.step}, meeting {step.meeting_id}): "
            f"{escape(detail)}; `mailflow retry {step.id}` or `mailflow skip {step.id}`"
        )
    for mail in owner_mail:  # an acknowledgement whose fate is unknown, or that could not go
        out.print(
            f"[bold yellow]{mail.state}[/bold yellow] mail {mail.id} to you ({mail.kind}, meeting {mail.meeting_id}): "
            f"{escape(one_line(mail.last_error, 160))}; `mailflow retry --mail {mail.id}` or "
            f"`mailflow skip --mail {mail.id}`",
            soft_wrap=True,
        )


_SIDES = {"mailbox": "reading the mailbox", "routine": "the routine (planning, sending)"}


def _heartbeat() -> datetime | None:
    current = settings()
    path = current.daemon.heartbeat_file or current.data_folder() / "heartbeat"
    try:
        return datetime.fromisoformat(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def _ago(instant: datetime | None) -> str:
    if instant is None:
        return "never"
    seconds = int((clock.now() - instant).total_seconds())
    if seconds < 120:
        span = f"{seconds} s ago"
    elif seconds < 7200:
        span = f"{seconds // 60} min ago"
    else:
        span = f"{seconds // 3600} h ago"
    return f"{shown(instant)} ({span})"
