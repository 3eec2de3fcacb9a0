"""Health: what ``mailflow status`` shows, kept in the store's key-value table.

A problem that lasts (logins failing, steps failing) longer than
``[daemon] alert_after`` earns the owner one alert mail, not one per attempt;
when things work again the next problem may alert again.  The mailbox and the
routine (series, planning, sending) fail and recover apart, each with its
own spell, so ``status`` can say which side is down and since when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from mailflow import clock
from mailflow.store import Store, StoreTx
from mailflow.text import one_line

LAST_SYNC = "last_sync"
LAST_DISPATCH = "last_dispatch"
LAST_ERROR = "last_error"
LAST_ERROR_AT = "last_error_at"
FAILING_SINCE = "failing_since"
ALERT_SENT_AT = "alert_sent_at"
PAUSED = "paused"

#: the daemon's two loops, each with its own failing spell: reading mail, and the routine
#: (series, planning, sending); one working never hides the other failing
MAILBOX = "mailbox"
ROUTINE = "routine"
SIDES = (MAILBOX, ROUTINE)


def _key(name: str, side: str) -> str:
    return f"{name}.{side}"


@dataclass(frozen=True)
class Down:
    """One side that has been failing: since when, and its latest error."""

    side: str
    since: datetime
    error: str


@dataclass(frozen=True)
class Health:
    last_sync: datetime | None
    last_dispatch: datetime | None
    last_error: str
    last_error_at: datetime | None
    failing_since: datetime | None
    alert_sent_at: datetime | None
    paused: bool
    #: the sides failing now, mailbox first
    down: tuple[Down, ...] = ()


def read_health(store: Store) -> Health:
    with store.read() as tx:
        values = tx.kv_all()
    down = []
    for side in SIDES:
        since = _instant(values.get(_key(FAILING_SINCE, side)))
        if since is not None:
            down.append(Down(side, since, values.get(_key(LAST_ERROR, side), "")))
    alerts = [a for a in (_instant(values.get(_key(ALERT_SENT_AT, s))) for s in SIDES) if a is not None]
    return Health(
        last_sync=_instant(values.get(LAST_SYNC)),
        last_dispatch=_instant(values.get(LAST_DISPATCH)),
        last_error=values.get(LAST_ERROR, ""),
        last_error_at=_instant(values.get(LAST_ERROR_AT)),
        failing_since=min((d.since for d in down), default=None),
        alert_sent_at=max(alerts, default=None),
        paused=values.get(PAUSED) == "1",
        down=tuple(down),
    )


def is_paused(store: Store) -> bool:
    with store.read() as tx:
        return tx.kv_get(PAUSED) == "1"


def note_success(store: Store, what: str, side: str = ROUTINE) -> None:
    """A sync or dispatch worked: stamp it, and end ``side``'s failing spell."""
    with store.transaction() as tx:
        tx.kv_set(what, clock.now().isoformat())
        end_spell(tx, side)


def end_spell(tx: StoreTx, side: str) -> None:
    for name in (FAILING_SINCE, ALERT_SENT_AT, LAST_ERROR):
        tx.kv_set(_key(name, side), None)


def note_failure(
    store: Store, error: str, *, alert_after: timedelta, side: str = ROUTINE, since: datetime | None = None
) -> str | None:
    """Record a failure of ``side`` (that began at ``since``, when the caller knows better than now);
    returns the alert text when the owner should now be told (once)."""
    now = clock.now()
    with store.transaction() as tx:
        tx.kv_set(LAST_ERROR, one_line(error, 500))
        tx.kv_set(LAST_ERROR_AT, now.isoformat())
        tx.kv_set(_key(LAST_ERROR, side), one_line(error, 500))
        began, since = since, _instant(tx.kv_get(_key(FAILING_SINCE, side)))
        if since is None:
            tx.kv_set(_key(FAILING_SINCE, side), (began or now).isoformat())
            return None
        if tx.kv_get(_key(ALERT_SENT_AT, side)) or now - since < alert_after:
            return None
        tx.kv_set(_key(ALERT_SENT_AT, side), now.isoformat())
    return f"mailflow has been failing since {since.isoformat(timespec='minutes')}: {one_line(error, 300)}"


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def stale_since(store: Store, stale_after: timedelta, now: datetime | None = None) -> datetime | None:
    """The last successful sync, when it is more than ``stale_after`` ago; None while the mailbox is fresh.

    A cancellation or a "please stop" may be waiting unread, so mail to contacts
    is held meanwhile.  None too when no sync was ever recorded: a mailbox never
    read has nothing waiting that mailflow acted on (and tests and tools that
    dispatch without syncing are not held).
    """
    with store.read() as tx:
        last = _instant(tx.kv_get(LAST_SYNC))
    if last is None or (now or clock.now()) - last <= stale_after:
        return None
    return last


def held_reason(since: datetime, now: datetime, stale_after: str) -> str:
    """Why mail to contacts is held, for a step's outcome and ``status``; shown in ``since``'s zone."""
    same_day = since.date() == now.astimezone(since.tzinfo).date()
    shown = since.strftime("%H:%M %Z" if same_day else "%Y-%m-%d %H:%M %Z")
    return (
        f"mail to contacts is held: the mailbox has not been read since {shown} "
        f"(stale_after {stale_after.strip()}); it waits for the next successful sync"
    )
