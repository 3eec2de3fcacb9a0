"""A TCP fault proxy on loopback: a server that goes silent, refuses, or drops, on demand.

Put it in front of a rig server and point the code under test at it::

    with FaultProxy(dovecot.imaps_port) as proxy:
        account = ...(port=proxy.port)
        proxy.mode = "blackhole"   # from now on nothing gets through, either way
        ...
        proxy.mode = "pass"

Modes, switched at any time from the test's thread (the switch is in effect
when the assignment returns):

``pass``       bytes go both ways (after ``delay`` seconds per chunk, when set).
``blackhole``  connections are accepted and kept, and nothing goes through in
               either direction: open connections go silent, new ones connect
               and never see a greeting.  Nothing is thrown away: what was
               held goes on when the mode is ``pass`` again, as after a
               network partition heals.
``refuse``     the port stops listening, so new connections are refused (open
               ones go on).  ``pass`` listens on the same port again.
``drop``       every open connection is reset (both sides), and so is every new
               one while the mode lasts.  ``drop_all()`` resets the open ones
               and keeps the mode.

A TLS connection goes through unchanged (the proxy only copies bytes), so the
rig's certificate, which names 127.0.0.1, still verifies.

Bounded: it listens on 127.0.0.1 only, forwards only to a loopback address,
runs its own event loop in one daemon thread, and stops by itself after
``lifetime`` seconds (a test that forgets it leaks nothing for long).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import struct
import threading
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar, get_args

from tests.rig.tools import HOST, RigError

Mode = Literal["pass", "blackhole", "refuse", "drop"]
T = TypeVar("T")

CHUNK = 64 * 1024
#: a proxy nobody stops stops itself after this many seconds
LIFETIME = 60.0
_SWITCH_TIMEOUT = 5.0


class FaultProxy:
    """One listening port on 127.0.0.1 in front of ``upstream_host:upstream_port``."""

    host = HOST

    def __init__(
        self,
        upstream_port: int,
        upstream_host: str = HOST,
        *,
        lifetime: float = LIFETIME,
        delay: float = 0.0,
    ) -> None:
        if not ipaddress.ip_address(upstream_host).is_loopback:
            raise RigError(f"the fault proxy only forwards to loopback, not to {upstream_host}")
        self.upstream = (upstream_host, upstream_port)
        self.lifetime = lifetime
        #: seconds each chunk waits before it is forwarded (read at every chunk, so it may change any time)
        self.delay = delay
        self.port = 0
        #: bytes forwarded client -> server and server -> client; connections accepted
        self.bytes_up = 0
        self.bytes_down = 0
        self.accepted = 0
        #: True once the proxy stopped because its lifetime ran out
        self.expired = False
        self._mode: Mode = "pass"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        # created inside the loop's thread
        self._stopping: asyncio.Event | None = None
        self._flowing: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()

    # -- lifecycle (the test's thread) -------------------------------------------------
    def start(self) -> FaultProxy:
        if self._thread is not None:
            raise RigError("the fault proxy is already started")
        self._thread = threading.Thread(target=self._run, name=f"fault-proxy-{self.upstream[1]}", daemon=True)
        self._thread.start()
        if not self._ready.wait(_SWITCH_TIMEOUT) or self._failure is not None:
            self.stop()
            raise RigError(f"the fault proxy did not start: {self._failure!r}")
        return self

    def stop(self) -> None:
        """Close the port and every connection; idempotent."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (lifetime)
                loop.call_soon_threadsafe(self._request_stop)
            thread.join(_SWITCH_TIMEOUT)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # -- faults (the test's thread) -----------------------------------------------------
    @property
    def mode(self) -> Mode:
        return self._mode

    @mode.setter
    def mode(self, mode: Mode) -> None:
        if mode not in get_args(Mode):
            raise ValueError(f"unknown fault proxy mode {mode!r}; one of {', '.join(get_args(Mode))}")
        self._call(self._switch(mode))

    def drop_all(self) -> int:
        """Reset every open connection (both sides) and keep the mode; returns how many."""
        return self._call(self._drop_all())

    @property
    def connections(self) -> int:
        """Connections open right now."""
        return len(self._links)

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        loop = self._loop
        if loop is None or not self.running:
            coroutine.close()
            raise RigError("the fault proxy is not running (never started, stopped, or its lifetime ran out)")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(_SWITCH_TIMEOUT)

    # -- the loop's thread -----------------------------------------------------------------
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._failure = exc
            self._ready.set()
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stopping, self._flowing = asyncio.Event(), asyncio.Event()
        self._flowing.set()
        await self._listen()
        self._ready.set()
        try:
            await asyncio.wait_for(self._stopping.wait(), self.lifetime)
        except TimeoutError:
            self.expired = True
        if self._server is not None:
            self._server.close()
            self._server = None
        for link in list(self._links):
            link.reset()
        self._flowing.set()  # held pumps wake up to their closed connections and end
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        _done, pending = await asyncio.wait(others, timeout=1.0) if others else (set(), set())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _request_stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, self.host, self.port)
            self.port = int(self._server.sockets[0].getsockname()[1])

    async def _switch(self, mode: Mode) -> None:
        assert self._flowing is not None
        self._mode = mode
        if mode == "refuse":
            if self._server is not None:
                self._server.close()  # not wait_closed(): that would wait for the open connections
                self._server = None
        else:
            await self._listen()
        if mode == "blackhole":
            self._flowing.clear()
        else:
            self._flowing.set()
        if mode == "drop":
            await self._drop_all()

    async def _drop_all(self) -> int:
        links = list(self._links)
        for link in links:
            link.reset()
        return len(links)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self._mode in ("drop", "refuse"):  # refuse: accepted just before the port closed
            _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            _reset(writer)
            return
        link = _Link(writer, up_writer)
        self._links.add(link)
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, up=True),
                self._pump(up_reader, writer, up=False),
            )
        except asyncio.CancelledError:
            pass  # the proxy stops: asyncio's stream callback would log a cancelled task as an error
        finally:
            self._links.discard(link)
            link.close()

    async def _pump(self, source: asyncio.StreamReader, target: asyncio.StreamWriter, *, up: bool) -> None:
        """Copy one direction until either side closes; then close both."""
        assert self._flowing is not None
        try:
            while True:
                await self._flowing.wait()
                data = await source.read(CHUNK)
                if not data:
                    break
                if self.delay > 0:
                    await asyncio.sleep(self.delay)
                await self._flowing.wait()  # read just before a black hole: held, not lost
                if up:  # counted first: the test may look as soon as the bytes arrive
                    self.bytes_up += len(data)
                else:
                    self.bytes_down += len(data)
                target.write(data)
                await target.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            target.close()


class _Link:
    """Both ends of one proxied connection."""

    def __init__(self, client: asyncio.StreamWriter, server: asyncio.StreamWriter) -> None:
        self.client, self.server = client, server

    def reset(self) -> None:
        _reset(self.client)
        _reset(self.server)

    def close(self) -> None:
        self.client.close()
        self.server.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (linger 0), as a crashed host or a firewall's reset would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
