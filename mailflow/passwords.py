"""Secrets: a password from the config or the environment, or a command's output.

A command runs like mbsync's PassCmd: through the shell, its first line of
standard output is the secret.  Neither the secret nor the command's output
ever reaches a log or an error message.
"""

from __future__ import annotations

import subprocess

from mailflow.config import Credentials
from mailflow.errors import ConfigError

COMMAND_TIMEOUT = 60.0


def run_secret_command(command: str, *, key: str) -> str:
    """Run ``command`` and return the first line it prints."""
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
        raise ConfigError(
            f"{key}: the command `{command}` did not finish within {COMMAND_TIMEOUT:.0f} s"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{key}: the command `{command}` could not be started ({exc.strerror})") from None
    if done.returncode != 0:
        raise ConfigError(
            f"{key}: the command `{command}` failed with exit code {done.returncode}",
            hint="run the command by hand to see why",
        )
    secret = done.stdout.decode("utf-8", "replace").splitlines()
    if not secret or not secret[0].strip():
        raise ConfigError(f"{key}: the command `{command}` printed nothing")
    return secret[0].strip()


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
