"""The one function that turns an error into words for a person and an exit code."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.markup import escape

from mailflow.errors import (
    AuthError,
    BackendError,
    ConfigError,
    MailflowError,
    PermanentError,
    StoreError,
    TemplateError,
    TransientError,
    UnreadableMessage,
    UsageError,
)

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2

log = logging.getLogger("mailflow")

_NEXT_STEP: list[tuple[type[MailflowError], str, int]] = [
    (ConfigError, "fix the configuration (every key is explained in config.example.toml)", EXIT_USAGE),
    (UsageError, "see `mailflow --help`", EXIT_USAGE),
    (AuthError, "check the username and password (or the command that prints them)", EXIT_RUNTIME),
    (TransientError, "this is usually temporary: try again in a while", EXIT_RUNTIME),
    (PermanentError, "check the server settings with `mailflow check`", EXIT_RUNTIME),
    (BackendError, "check the server settings with `mailflow check`", EXIT_RUNTIME),
    (TemplateError, "fix the template named above, then run `mailflow check`", EXIT_RUNTIME),
    (UnreadableMessage, "the message is kept; see `mailflow messages --errors`", EXIT_RUNTIME),
    (StoreError, "check the [database] url and that the disk is writable", EXIT_RUNTIME),
]


def exit_code_for(error: MailflowError) -> int:
    for cls, _hint, code in _NEXT_STEP:
        if isinstance(error, cls):
            return code
    return EXIT_RUNTIME


def next_step_for(error: MailflowError) -> str:
    if error.hint:
        return error.hint
    for cls, hint, _code in _NEXT_STEP:
        if isinstance(error, cls):
            return hint
    return ""


def report(error: BaseException, console: Console) -> int:
    """Print ``error`` as a person would want to read it; return the exit code."""
    if not isinstance(error, MailflowError):
        log.debug("unexpected error", exc_info=error)
        console.print(
            f"[red]error:[/red] unexpected {escape(type(error).__name__)}: {escape(_one_line(str(error)))}"
        )
        console.print("  rerun with --log-level debug to see where it happened, and report it")
        return EXIT_RUNTIME
    lines = error.problems if isinstance(error, ConfigError) else [str(error)]
    prefix = "configuration error" if isinstance(error, ConfigError) else "error"
    for line in lines:
        console.print(f"[red]{prefix}:[/red] {escape(line)}", soft_wrap=True)
    hint = next_step_for(error)
    if hint:
        console.print(f"  {escape(hint)}", soft_wrap=True)
    return exit_code_for(error)


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text[:300]
