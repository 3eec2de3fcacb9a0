"""Health: what ``mailflow status`` shows, kept in the store's key-value table.

A problem that lasts (logins failing, steps failing) longer than
``[daemon] alert_after`` earns the owner one alert mail, not one per attempt;
when things work again the next problem may alert again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from mailflow import clock
from mailflow.store import Store
from mailflow.text import one_line

LAST_SYNC = "last_sync"
LAST_DISPATCH = "last_dispatch"
LAST_ERROR = "last_error"
LAST_ERROR_AT = "last_error_at"
FAILING_SINCE = "failing_since"
ALERT_SENT_AT = "alert_sent_at"
PAUSED = "paused"


@dataclass(frozen=True)
class Health:
    last_sync: datetime | None
    last_dispatch: datetime | None
    last_error: str
    last_error_at: datetime | None
    failing_since: datetime | None
    alert_sent_at: datetime | None
    paused: bool


def read_health(store: Store) -> Health:
    with store.read() as tx:
        values = tx.kv_all()
    return Health(
        last_sync=_instant(values.get(LAST_SYNC)),
        last_dispatch=_instant(values.get(LAST_DISPATCH)),
        last_error=values.get(LAST_ERROR, ""),
        last_error_at=_instant(values.get(LAST_ERROR_AT)),
        failing_since=_instant(values.get(FAILING_SINCE)),
        alert_sent_at=_instant(values.get(ALERT_SENT_AT)),
        paused=values.get(PAUSED) == "1",
    )


def is_paused(store: Store) -> bool:
    with store.read() as tx:
        return tx.kv_get(PAUSED) == "1"


def note_success(store: Store, what: str) -> None:
    """A sync or dispatch worked: stamp it, and end any failing spell."""
    with store.transaction() as tx:
        tx.kv_set(what, clock.now().isoformat())
        tx.kv_set(FAILING_SINCE, None)
        tx.kv_set(ALERT_SENT_AT, None)


def note_failure(store: Store, error: str, *, alert_after: timedelta) -> str | None:
    """Record a failure; returns the alert text when the owner should now be told (once)."""
    now = clock.now()
    with store.transaction() as tx:
        tx.kv_set(LAST_ERROR, one_line(error, 500))
        tx.kv_set(LAST_ERROR_AT, now.isoformat())
        since = _instant(tx.kv_get(FAILING_SINCE))
        if since is None:
            tx.kv_set(FAILING_SINCE, now.isoformat())
            return None
        if tx.kv_get(ALERT_SENT_AT) or now - since < alert_after:
            return None
        tx.kv_set(ALERT_SENT_AT, now.isoformat())
    return f"mailflow has been failing since {since.isoformat(timespec='minutes')}: {one_line(error, 300)}"


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
