"""The fault proxy of the rig (tests/rig/proxy.py), against a tiny echo server on loopback."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from tests.rig.proxy import FaultProxy
from tests.rig.tools import HOST, RigError, free_port

QUIET = 0.3  # how long "nothing arrives" is watched


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            while data := self.request.recv(4096):
                self.request.sendall(data)
        except ConnectionError:
            pass  # the proxy reset it: that is what the drop tests do


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = _EchoServer((HOST, 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(echo_port: int) -> Iterator[FaultProxy]:
    with FaultProxy(echo_port, lifetime=20.0) as running:
        yield running


def _connect(proxy: FaultProxy) -> socket.socket:
    return socket.create_connection((proxy.host, proxy.port), timeout=2.0)


def _echoes(conn: socket.socket, data: bytes = b"ping") -> bool:
    conn.sendall(data)
    received = b""
    while len(received) < len(data):
        chunk = conn.recv(4096)
        if not chunk:
            return False
        received += chunk
    return received == data


def _silent(conn: socket.socket) -> bool:
    conn.settimeout(QUIET)
    try:
        conn.recv(4096)  # data, or the end of the stream: not silent
        return False
    except TimeoutError:
        return True
    finally:
        conn.settimeout(2.0)


def _closed(conn: socket.socket) -> bool:
    """True when the peer reset or closed the connection."""
    try:
        conn.sendall(b"x")
        return conn.recv(4096) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def _refused_or_closed(proxy: FaultProxy) -> bool:
    """A new connection is reset: on loopback the reset may come before ``connect`` returns."""
    try:
        conn = _connect(proxy)
    except ConnectionError:
        return True
    with conn:
        return _closed(conn)


def test_pass_forwards_both_ways_and_counts_bytes(proxy: FaultProxy) -> None:
    with _connect(proxy) as conn:
        assert _echoes(conn, b"hello world")
        assert _echoes(conn, b"x" * 100_000)
    assert (proxy.bytes_up, proxy.bytes_down) == (100_011, 100_011)
    assert proxy.accepted == 1 and proxy.mode == "pass"


def test_blackhole_silences_open_and_new_connections_and_holds_what_was_sent(proxy: FaultProxy) -> None:
    with _connect(proxy) as old:
        assert _echoes(old)
        proxy.mode = "blackhole"
        old.sendall(b"held")
        assert _silent(old)
        with _connect(proxy) as new:  # the port still accepts
            new.sendall(b"late")
            assert _silent(new)
            proxy.mode = "pass"
            assert new.recv(4096) == b"late"  # nothing was thrown away
        assert old.recv(4096) == b"held"
        assert _echoes(old)


def test_refuse_closes_the_port_and_pass_opens_it_again(proxy: FaultProxy) -> None:
    with _connect(proxy) as old:
        assert _echoes(old)  # through the proxy: a connection still queued when the port closes is lost
        proxy.mode = "refuse"
        with pytest.raises(ConnectionRefusedError):
            _connect(proxy)
        assert _echoes(old)  # open connections go on
        proxy.mode = "pass"
        with _connect(proxy) as new:
            assert _echoes(new)


def test_drop_resets_open_connections_and_new_ones_while_it_lasts(proxy: FaultProxy) -> None:
    first, second = _connect(proxy), _connect(proxy)
    assert _echoes(first) and _echoes(second)
    proxy.mode = "drop"
    assert _closed(first) and _closed(second)
    assert _refused_or_closed(proxy)
    proxy.mode = "pass"
    with _connect(proxy) as after:
        assert _echoes(after)
        assert proxy.drop_all() == 1  # drops, and keeps the mode
        assert _closed(after)
    with _connect(proxy) as again:
        assert _echoes(again)
    first.close()
    second.close()


def test_delay_holds_every_chunk(proxy: FaultProxy) -> None:
    proxy.delay = 0.2
    with _connect(proxy) as conn:
        started = time.monotonic()
        assert _echoes(conn)
        assert time.monotonic() - started >= 0.4  # once each way


def test_it_stops_by_itself_when_its_lifetime_runs_out(echo_port: int) -> None:
    proxy = FaultProxy(echo_port, lifetime=0.3).start()
    with _connect(proxy) as conn:
        assert _echoes(conn)
        deadline = time.monotonic() + 5
        while proxy.running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not proxy.running and proxy.expired
        assert _closed(conn)
    with pytest.raises(ConnectionRefusedError):
        _connect(proxy)
    with pytest.raises(RigError, match="not running"):
        proxy.mode = "blackhole"
    proxy.stop()  # harmless


def test_leaving_the_block_closes_everything(echo_port: int) -> None:
    with FaultProxy(echo_port) as proxy:
        conn = _connect(proxy)
        assert _echoes(conn)
        proxy.mode = "blackhole"
    assert not proxy.running and not proxy.expired
    assert _closed(conn)
    conn.close()
    with pytest.raises(ConnectionRefusedError):
        _connect(proxy)


def test_it_forwards_only_to_loopback_and_knows_its_modes(echo_port: int, proxy: FaultProxy) -> None:
    with pytest.raises(RigError, match="only forwards to loopback"):
        FaultProxy(echo_port, "192.0.2.1")
    with pytest.raises(ValueError, match="unknown fault proxy mode"):
        proxy.mode = "slow"  # type: ignore[assignment]


def test_a_dead_upstream_resets_the_client(proxy: FaultProxy) -> None:
    with FaultProxy(free_port(), lifetime=5.0) as nowhere:
        assert _refused_or_closed(nowhere)
