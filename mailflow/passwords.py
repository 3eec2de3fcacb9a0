"""Secrets: a password from the config or the environment, or a command's output.

A command runs like mbsync's PassCmd: through the shell, its first line of
standard output is the secret.  Neither the secret, nor the command's output,
nor its arguments (``echo hunter2`` is a command too) ever reach a log or an
error message: errors name the setting and the program only.
"""

from __future__ import annotations

import os
import shlex
import subprocess

from mailflow.config import Credentials
from mailflow.errors import ConfigError

COMMAND_TIMEOUT = 60.0


def run_secret_command(command: str, *, key: str) -> str:
    """Run ``command`` and return the first line it prints."""
    what = f"{key}: the command ({program_of(command)} ...)"
    try:
        done = subprocess.run(
            command,
            shell=True,
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{what} did not finish within {COMMAND_TIMEOUT:.0f} s") from None
    except OSError as exc:
        raise ConfigError(f"{what} could not be started ({exc.strerror})") from None
    if done.returncode != 0:
        raise ConfigError(
            f"{what} failed with exit code {done.returncode}",
            hint=f"run {key} by hand to see why",
        )
    secret = done.stdout.decode("utf-8", "replace").splitlines()
    if not secret or not secret[0].strip():
        raise ConfigError(f"{what} printed nothing")
    return secret[0].strip()


def program_of(command: str) -> str:
    """The program a shell command starts (``pass`` of ``pass show mail``), without its arguments."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    name = os.path.basename(words[0]) if words else ""
    return name[:60] if name.isprintable() and name else "?"


def password_for(credentials: Credentials, section: str) -> str | None:
    """The password (or None) of ``credentials``; ``section`` names it in errors."""
    if credentials.password is not None:
        return credentials.password.get_secret_value()
    if credentials.password_command:
        return run_secret_command(credentials.password_command, key=f"{section}.password_command")
    return None


def oauth2_token_for(credentials: Credentials, section: str) -> str | None:
    """A fresh XOAUTH2 token; the command is re-run at every login."""
    if not credentials.oauth2_token_command:
        return None
    return run_secret_command(credentials.oauth2_token_command, key=f"{section}.oauth2_token_command")
