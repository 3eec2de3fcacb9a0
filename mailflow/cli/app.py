"""The typer application, its global options and the error boundary."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from mailflow import __version__, clock
from mailflow.cli.errors import EXIT_USAGE, report
from mailflow.config import Settings, find_config, load_settings
from mailflow.errors import ConfigError, MailflowError, UsageError

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="mailflow",
    help="Runs the informational-interview routine for you, by e-mail.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

NO_CONFIG = "no configuration found: run `mailflow init`, or `mailflow demo` to see it work on sample mail"


@dataclass
class State:
    """What the global options chose; commands read it through the helpers below."""

    config_path: Path | None = None
    overrides: list[str] = field(default_factory=list)
    settings: Settings | None = None
    owner_id: int = 1  # whose records the commands show and change (owner 1: the configuration's [owner])


state = State()


def handles_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn every error a command raises into a sentence and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except (MailflowError, Exception) as exc:  # the one error boundary
            raise typer.Exit(report(exc, err)) from None

    return wrapper


def settings(*, required: bool = False) -> Settings:
    """The settings, loaded once; ``required`` refuses to run on defaults alone."""
    if state.settings is None:
        path = find_config(state.config_path)
        if path is None and required and not _environment_configured():
            raise ConfigError(NO_CONFIG, hint="")
        state.settings = load_settings(path, parse_overrides(state.overrides))
    return state.settings


def _environment_configured() -> bool:
    import os

    return any(key.startswith("MAILFLOW_") and "__" in key for key in os.environ)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``--set section.key=value`` flags as nested settings (TOML values)."""
    import tomllib

    result: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f'--set expects KEY=VALUE like "mailbox.port=993", got "{item}"')
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        node = result
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return result


def print_json(data: Any) -> None:
    """Machine-readable output for ``--json``."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _version(value: bool) -> None:
    if value:
        out.print(f"mailflow {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help="Config file (default: $MAILFLOW_CONFIG, then ~/.config/mailflow/config.toml).",
    ),
    set_: list[str] = typer.Option(
        [], "--set", help='Override one setting, highest precedence: --set "mailbox.port=993".'
    ),
    now: str | None = typer.Option(
        None, "--now", help="Start the clock at this ISO 8601 instant (also MAILFLOW_NOW)."
    ),
    owner: int = typer.Option(
        1, "--owner", min=1, help="Whose records: owner 1 is the configuration's [owner] (the default)."
    ),
    log_level: str = typer.Option("warning", "--log-level", help="debug, info, warning or error."),
    log_format: str = typer.Option("text", "--log-format", help="text (human-readable) or json."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Runs the informational-interview routine for you, by e-mail."""
    state.config_path, state.overrides, state.settings = config, list(set_), None
    state.owner_id = owner
    try:
        if now:
            clock.set_now(now)
        else:
            clock.set_from_environment()
    except ValueError as exc:
        err.print(f"[red]error:[/red] --now: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    from mailflow.cli.logs import setup_logging

    try:
        setup_logging(log_level, log_format)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from None


def configure_for_tests() -> None:
    """Reset global state between CliRunner invocations."""
    state.config_path, state.overrides, state.settings = None, [], None
    state.owner_id = 1
    logging.getLogger("mailflow").handlers.clear()
