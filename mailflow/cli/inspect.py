"""``mailflow inspect FILE|-``: what mailflow understands of one message, as JSON."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import typer

from mailflow import clock
from mailflow.cli.app import app, handles_errors, print_json, settings
from mailflow.config import Settings
from mailflow.errors import MailflowError, UsageError
from mailflow.store import Store
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
    current = settings(required=False)
    with _our_message_ids(current) as is_ours:
        # a message without a Date header is read as received now (--now moves it)
        context = replace(Context.from_settings(current, is_ours), received_at=clock.now())
        print_json(understand(raw, context).to_json())


@contextmanager
def _our_message_ids(current: Settings) -> Iterator[Callable[[str], bool] | None]:
    """Replies are matched against the mail mailflow sent, when its database exists."""
    url = current.database_url()
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        yield None
        return
    try:
        store = Store.open(url)
    except MailflowError:
        yield None  # inspect works without records; only reply matching falls back to the domain
        return
    try:

        def is_ours(message_id: str) -> bool:
            with store.read() as tx:
                if tx.find_step_by_message_id(message_id) is not None:
                    return True
                return any(m.direction == "out" for m in tx.find_messages_by_message_id(message_id))

        yield is_ours
    finally:
        store.close()


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
