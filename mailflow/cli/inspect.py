"""``mailflow inspect FILE|-``: what mailflow understands of one message, as JSON."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import typer

from mailflow import clock
from mailflow.cli.app import app, handles_errors, print_json, settings
from mailflow.errors import UsageError
from mailflow.understand import Context, understand


@app.command()
@handles_errors
def inspect(
    file: str = typer.Argument(
        ..., metavar="FILE|-", help="A message (.eml) or calendar (.ics) file; - reads stdin."
    ),
    json_: bool = typer.Option(True, "--json", help="Print JSON (the only format; accepted for uniformity)."),
) -> None:
    """Show, as JSON, what mailflow understands of one message (schema in the README)."""
    raw = _read(file)
    # a message without a Date header is read as received now (--now moves it)
    context = replace(Context.from_settings(settings(required=False)), received_at=clock.now())
    print_json(understand(raw, context).to_json())


def _read(file: str) -> bytes:
    if file == "-":
        return sys.stdin.buffer.read()
    path = Path(file)
    if not path.exists():
        raise UsageError(
            f"{path} does not exist", hint="give the path of a saved message (.eml) or - for stdin"
        )
    if not path.is_file():
        raise UsageError(
            f"{path} is not a file", hint="give the path of a saved message (.eml) or - for stdin"
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path} cannot be read ({exc.strerror})") from None
