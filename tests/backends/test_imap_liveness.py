"""A silently dead IMAP connection is noticed by mailflow itself, and a dead server never holds it up.

Real Dovecot behind the rig's fault proxy (tests/rig/proxy.py): the faults are
the network's, never patched code.  A black hole accepts connections and lets
nothing through, which is what TCP keepalive cannot see when a proxy or load
balancer on the way answers it.  The bounds asserted are behaviour
(QUIET_SECONDS + LIVENESS_SECONDS = 13 s to notice), with room for a slow machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

from mailflow import clock
from mailflow.errors import TransientError
from mailflow.net.imap import LIVENESS_SECONDS
from mailflow.sources.imap import QUIET_SECONDS, ImapSource
from tests import intake_support as support
from tests.rig.dovecot import Dovecot, ImapUser
from tests.rig.proxy import FaultProxy

NOTICED_WITHIN = 15.0  # the target; QUIET_SECONDS + LIVENESS_SECONDS is 13


@pytest.fixture
def proxy(dovecot: Dovecot) -> Iterator[FaultProxy]:
    with FaultProxy(dovecot.imaps_port, lifetime=60.0) as running:
        yield running


Make = Callable[..., ImapSource]


@pytest.fixture
def make(imap_user: ImapUser, proxy: FaultProxy) -> Iterator[Make]:
    """Sources for ``imap_user`` through ``proxy`` (``timeout``, and so liveness, among the options)."""
    support.create_folder(imap_user)
    made: list[ImapSource] = []

    def source(**options: Any) -> ImapSource:
        account = support.imap_mailbox(imap_user, timeout=options.pop("timeout", 30.0))
        made.append(ImapSource(account.model_copy(update={"port": proxy.port}), **options))
        return made[-1]

    yield source
    for each in made:
        each.close()


def _idling(source: ImapSource) -> str:
    """Caught up, then in IDLE; returns the cursor."""
    _items, cursor = source.poll(None)
    assert source.wait(0.3) is False
    return cursor


def _seconds_since(moment: datetime, later: datetime | None) -> float:
    assert later is not None, "the source never noticed"
    return (later - moment).total_seconds()


def test_the_bounds_add_up_to_the_target() -> None:
    assert QUIET_SECONDS + LIVENESS_SECONDS < NOTICED_WITHIN


def test_a_black_hole_under_idle_is_noticed_by_waiting_alone(make: Make, proxy: FaultProxy) -> None:
    source = make()
    _idling(source)
    proxy.mode = "blackhole"
    switched, started = clock.now(), time.monotonic()
    while source.down_since is None and time.monotonic() - started < NOTICED_WITHIN + 5:
        assert source.wait(5.0) is False  # the daemon's slices, and no poll in between
    assert _seconds_since(switched, source.down_since) < NOTICED_WITHIN
    assert "did not answer DONE" in source.last_error


def test_a_black_hole_is_noticed_by_a_poll_and_the_poll_gives_up_soon(make: Make, proxy: FaultProxy) -> None:
    source = make()
    _items, cursor = source.poll(None)
    proxy.mode = "blackhole"
    switched, started = clock.now(), time.monotonic()
    with pytest.raises(TransientError, match="did not answer the connection with a greeting"):
        source.poll(cursor)  # NOOP unanswered; one new connection, never greeted; no more
    assert _seconds_since(switched, source.down_since) < LIVENESS_SECONDS + 2
    assert time.monotonic() - started < 2 * LIVENESS_SECONDS + 3  # was 120 s of retries
    started = time.monotonic()
    with pytest.raises(TransientError, match="down since"):
        source.poll(cursor)  # down and backing off: at once, the caller's loop goes on
    assert time.monotonic() - started < 1


def test_after_the_black_hole_the_source_reconnects_and_sees_new_mail(
    make: Make, proxy: FaultProxy, imap_user: ImapUser
) -> None:
    source = make(timeout=3.0)  # a short [mailbox] timeout shortens liveness
    cursor = _idling(source)
    proxy.mode = "blackhole"
    imap_user.deliver(support.plain(subject="while away"), folder=support.FOLDER)  # not proxied
    started = time.monotonic()
    while source.down_since is None and time.monotonic() - started < 15:
        source.wait(2.0)
    assert source.down_since is not None and time.monotonic() - started < QUIET_SECONDS + 3 + 2
    proxy.mode = "pass"
    assert source.wait(2.0) is True  # back: mail may have come meanwhile
    items, _cursor = source.poll(cursor)
    assert [i.subject for i in items] == ["while away"]
    assert source.down_since is None and "did not answer DONE" in source.last_error


def test_a_refusing_server_is_retried_with_backoff_then_a_clear_error(make: Make, proxy: FaultProxy) -> None:
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        time.sleep(seconds)

    source = make(retry_for=2.0, max_backoff=0.5, sleep=sleep)
    _items, cursor = source.poll(None)
    proxy.mode = "refuse"
    proxy.drop_all()
    with pytest.raises(TransientError, match="connection refused") as caught:
        source.poll(cursor)
    assert "mailbox.host" in caught.value.hint
    assert len(pauses) >= 3 and max(pauses) <= 0.5 and pauses[-1] >= pauses[0]
    down_since = source.down_since
    assert down_since is not None and source.next_attempt is not None

    pauses.clear()
    started = time.monotonic()
    with pytest.raises(TransientError, match=r"connection refused.*down since"):
        source.poll(cursor)  # no retry loop while down: at once
    assert time.monotonic() - started < 0.5 and pauses == []
    assert source.wait(1.0) is False and len(pauses) == 1 and pauses[0] <= 0.5  # sleeps until the next try

    proxy.mode = "pass"
    deadline = time.monotonic() + 5
    while source.down_since is not None and time.monotonic() < deadline:
        source.wait(0.5)
    assert source.down_since is None
    assert source.poll(cursor)[0] == []


def test_a_server_that_never_greets_costs_one_short_timeout(make: Make, proxy: FaultProxy) -> None:
    source = make(timeout=2.0, retry_for=30.0)
    proxy.mode = "blackhole"
    started = time.monotonic()
    with pytest.raises(TransientError, match="greeting within 2 s"):
        source.poll(None)
    assert time.monotonic() - started < 2 + 2  # not retry_for
    before, started = proxy.accepted, time.monotonic()
    with pytest.raises(TransientError, match="down since"):
        source.poll(None)
    assert time.monotonic() - started < 0.5 and proxy.accepted == before


def test_a_quiet_idle_is_checked_and_stays_up(make: Make, proxy: FaultProxy, imap_user: ImapUser) -> None:
    source = make()
    _idling(source)
    sent = proxy.bytes_up
    assert source.wait(QUIET_SECONDS + 1) is False
    assert proxy.bytes_up > sent  # DONE (and IDLE again) went out while nothing came in
    assert source.down_since is None and proxy.accepted == 1
    imap_user.deliver(support.plain(subject="still here"), folder=support.FOLDER)
    deadline, woke = time.monotonic() + 10, False
    while not woke and time.monotonic() < deadline:
        woke = source.wait(1.0)
    assert woke


def test_closing_a_silent_connection_takes_the_short_timeout(make: Make, proxy: FaultProxy) -> None:
    source = make(timeout=2.0)
    _idling(source)
    proxy.mode = "blackhole"
    started = time.monotonic()
    source.close()  # DONE and LOGOUT unanswered: the socket is shut after the short timeout
    assert time.monotonic() - started < 2 + 1.5
