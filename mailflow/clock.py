"""The one place that reads "now".

Everything that schedules asks :func:`now`.  Tests move time with
time-machine; ``--now ISO`` / ``MAILFLOW_NOW`` shift the clock so that it
starts at that instant and then moves with real time.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant; a naive one is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 date and time: {text!r}") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def set_now(instant: datetime | str | None) -> None:
    """Make the clock start at ``instant`` (None: real time again)."""
    global _offset
    if instant is None:
        _offset = timedelta(0)
        return
    if isinstance(instant, str):
        instant = parse_instant(instant)
    _offset = instant - _real_now()


def set_from_environment() -> None:
    """Honour ``MAILFLOW_NOW`` when it is set."""
    value = os.environ.get("MAILFLOW_NOW")
    if value:
        set_now(value)


def now() -> datetime:
    """The current instant, aware, in UTC."""
    return _real_now() + _offset


def monotonic() -> float:
    """Seconds for measuring intervals (never shifted)."""
    return time.monotonic()


def _real_now() -> datetime:
    return datetime.now(UTC)
