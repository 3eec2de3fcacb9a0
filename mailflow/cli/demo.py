"""``mailflow demo``: the real daemon code path over sample mail, seventy days in seconds."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape

from mailflow.cli.app import app, handles_errors, out, print_json
from mailflow.demo.runner import DemoResult, run_demo
from mailflow.demo.story import DAYS
from mailflow.errors import UsageError

STYLE = {
    "arrived": "cyan", "understood": "blue", "step": "green", "to_owner": "green", "error": "bold red",
    "failed": "bold red",
}  # fmt: skip
ZONE = ZoneInfo("Europe/Berlin")


@app.command()
@handles_errors
def demo(
    folder: Path | None = typer.Option(
        None, "--folder", help="An empty folder to run in (default: a new temp folder)."
    ),
    json_: bool = typer.Option(False, "--json", help="Print the timeline as JSON."),
) -> None:
    """Watch mailflow work through 70 days of sample mail, offline, in a temp folder."""
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="mailflow-demo-"))
    elif folder.exists() and any(folder.iterdir()):
        raise UsageError(f"{folder} is not empty; the demo needs an empty folder")
    started = time.monotonic()
    result = run_demo(folder)
    seconds = time.monotonic() - started
    if json_:
        print_json(
            {
                "folder": str(result.folder),
                "outbox": str(result.outbox),
                "cycles": result.cycles,
                "seconds": round(seconds, 2),
                "events": [
                    {"at": e.at.isoformat(), "kind": e.kind, "text": e.text, "detail": e.detail}
                    for e in result.events
                ],
            }
        )
        return
    _print(result, seconds)


def _print(result: DemoResult, seconds: float) -> None:
    out.print(
        f"[bold]mailflow demo[/bold]: {DAYS} days of Ana Lima's networking coffees, run by the real daemon code"
    )
    out.print(
        "(a Maildir of sample mail in, the file outbox out, the clock stepping forward; nothing leaves this machine)\n"
    )
    for event in result.events:
        style = STYLE.get(event.kind, "yellow")
        when = event.at.astimezone(ZONE).strftime("%a %d %b %H:%M")
        line = f"{when}  [{style}]{event.kind:<10}[/{style}] {escape(event.text)}"
        if event.kind in ("step", "to_owner"):
            line += f"  [dim]-> {escape(Path(event.detail.split(';')[0]).name)}[/dim]"
        elif event.detail:
            line += f"  [dim]{escape(event.detail)}[/dim]"
        out.print(line)
    fired, acknowledged = result.steps_fired(), len(result.mailed()) - len(result.steps_fired())
    also = f" (and {acknowledged} acknowledgement(s) to Ana)" if acknowledged else ""
    out.print(
        f"\n{len(fired)} steps went out{also} in {result.cycles} cycles ({seconds:.1f} s). Every mail is a file in\n"
        f"  {result.outbox}\n"
        f"and the records are in {result.folder / 'data' / 'mailflow.db'}: try\n"
        f"  {_me()} --set 'database.url=\"sqlite:///{result.folder / 'data' / 'mailflow.db'}\"' records"
    )


def _me() -> str:
    """How this mailflow was started, so the hint can be pasted as it is (.venv/bin/mailflow, say)."""
    import shlex
    import sys

    command = sys.argv[0] if sys.argv and Path(sys.argv[0]).name == "mailflow" else "mailflow"
    return shlex.quote(command)
