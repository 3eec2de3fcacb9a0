"""The exception tree of mailflow.

Every error a user can meet is one of these; ``mailflow.cli.errors`` turns each
class into one sentence, a next step and an exit code.

    MailflowError
    ├─ ConfigError(problems=[...])   user-fixable: exit 2, one line per problem
    ├─ UsageError                    a bad argument or missing file: exit 2
    ├─ BackendError(backend=...)
    │  ├─ TransientError             timeouts, 4xx, dropped connections: back off, retry
    │  └─ PermanentError             5xx, missing folder: the item is marked failed
    │     └─ AuthError               that backend stops; the others go on
    ├─ UnreadableMessage(ref=...)    kept with the reason; the cycle goes on
    ├─ TemplateError(template=...)   fails that message only
    └─ StoreError                    fatal: exit 1 so the service manager restarts it

Library exceptions are wrapped once, at the boundary of the backend that
raised them, with ``raise ... from exc``.  This module imports nothing of
mailflow.
"""

from __future__ import annotations


class MailflowError(Exception):
    """Base of every error mailflow raises on purpose."""

    #: what the user can do about it; shown after the sentence
    hint: str = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint


class ConfigError(MailflowError):
    """The configuration is wrong; one line per problem."""

    hint = "fix the configuration file (see config.example.toml) and try again"

    def __init__(self, problems: list[str] | str, *, hint: str = "") -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems), hint=hint)


class UsageError(MailflowError):
    """A command was called wrongly (a missing file, a bad argument)."""


class BackendError(MailflowError):
    """A mail server or folder did not do what was asked."""

    def __init__(self, message: str, *, backend: str = "", hint: str = "") -> None:
        self.backend = backend
        super().__init__(message, hint=hint)


class TransientError(BackendError):
    """Worth retrying later: timeouts, 4xx replies, dropped connections."""


class PermanentError(BackendError):
    """Retrying will not help: 5xx replies, a missing folder."""


class AuthError(PermanentError):
    """The server refused the credentials."""


class UnreadableMessage(MailflowError):
    """A message that cannot be understood; it is kept, never dropped."""

    def __init__(self, message: str, *, ref: str = "") -> None:
        self.ref = ref
        super().__init__(message)


class TemplateError(MailflowError):
    """A template failed to load or render."""

    def __init__(self, message: str, *, template: str = "", hint: str = "") -> None:
        self.template = template
        super().__init__(message, hint=hint)


class StoreError(MailflowError):
    """The database cannot be used; fatal for the process."""
