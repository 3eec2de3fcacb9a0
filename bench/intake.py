"""Intake benchmark against a real Dovecot: prints figures (run by hand; not a test).

    python bench/intake.py [--messages 10000] [--large 100000] [--idle-samples 20] [--workers N] [--json]

In one run, on a private Dovecot (tests/rig) over verified IMAPS on loopback:

1. seeds a folder with N realistic messages by MULTIAPPEND (bench/intake_mail.py: ~5 % invites
   with the owner as attendee or forwarded by the owner, the rest ordinary mail of a few KB, some
   with large attachments);
2. mailflow's first sync, in a child process (messages/s, every invite became a meeting, peak RSS of it
   and of its largest worker process);
3. the naive path on the same folder: every BODY.PEEK[] in batches of 500, each parsed with
   ``email.policy.default``;
4. a no-new-mail poll: IMAP round trips and milliseconds (median, p95), next to a bare imaplib
   NOOP on the same server (the floor: what the machine and Dovecot cost, nothing of mailflow);
5. IDLE latency from APPEND to record (Dovecot adds a fixed 0.5 s);
6. the folder topped up to ``--large`` messages: first sync (rate, peak RSS) and the poll again.

Targets (issue 8): first sync >= 4x the naive path; a no-new-mail poll <= 2 round trips and under
1 ms, the same at 10k and 100k; IDLE p95 under 1 s; peak RSS under 150 MB at 100k.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import os
import queue
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from imapclient import IMAPClient  # noqa: E402
from intake_mail import AUTHSERV, OWNER, generate  # noqa: E402

from mailflow.config import MailboxSettings, Settings  # noqa: E402
from mailflow.engine.intake import Intake, SyncSummary, watch  # noqa: E402
from mailflow.net.imap import connect_imap  # noqa: E402
from mailflow.sources.imap import ImapSource  # noqa: E402
from mailflow.store import Store  # noqa: E402
from tests.rig.dovecot import Dovecot, ImapUser  # noqa: E402
from tests.rig.tools import RunAs, make_certificate, make_tmpdir  # noqa: E402

FOLDER = "Bench"
BATCH = 500


@dataclass
class Seeded:
    messages: int = 0
    invites: int = 0
    size: int = 0
    seconds: float = 0.0


# -- the server ------------------------------------------------------------------


@contextmanager
def rig() -> Iterator[tuple[Dovecot, ImapUser]]:
    directory = make_tmpdir("mailflow-bench-tls-", RunAs.for_tests())
    server = Dovecot(make_certificate(directory))
    server.start()
    try:
        yield server, server.new_user("bench")
    finally:
        server.close()
        shutil.rmtree(directory, ignore_errors=True)


def seed(user: ImapUser, count: int, start: int, seeded: Seeded) -> None:
    """MULTIAPPEND ``count`` generated messages, 500 per command, generated as we go."""
    client = user.connect("none")
    try:
        if not client.folder_exists(FOLDER):
            client.create_folder(FOLDER)
        started = time.perf_counter()
        batch: list[bytes] = []
        for message in generate(count, start=start):
            batch.append(message.raw)
            seeded.invites += message.invite
            seeded.size += len(message.raw)
            if len(batch) == BATCH:
                client.multiappend(FOLDER, batch)
                batch = []
        if batch:
            client.multiappend(FOLDER, batch)
        seeded.messages += count
        seeded.seconds += time.perf_counter() - started
        client.select_folder(FOLDER)  # Dovecot indexes the new mail now; then let it settle (pitfall 22)
        time.sleep(1.1)
        client.select_folder(FOLDER)
    finally:
        client.logout()


def mailbox(user: ImapUser) -> MailboxSettings:
    return MailboxSettings(
        kind="imap", host=user.host, port=user.imaps_port, security="tls", ca_file=user.ca_file,
        username=user.name, password=user.password, folder=FOLDER,
    )  # fmt: skip


def settings_for(user: ImapUser, data: Path) -> Settings:
    return Settings(
        owner={"addresses": [OWNER], "timezone": "Europe/Berlin"},
        trust={"authserv_id": AUTHSERV},
        data={"folder": str(data)},
        mailbox=mailbox(user),
    )


# -- 2. mailflow's first sync, in a child process (for its own peak RSS) ------------------


def first_sync(user: ImapUser, data: Path, workers: int | None = None) -> dict[str, Any]:
    request = {"host": user.host, "port": user.imaps_port, "ca_file": str(user.ca_file), "user": user.name,
               "password": user.password, "data": str(data), "workers": workers}  # fmt: skip
    done = subprocess.run(
        [sys.executable, __file__, "--child-sync", json.dumps(request)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"the child sync failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def child_sync(request: dict[str, Any]) -> None:
    data = Path(request["data"])
    config = Settings(
        owner={"addresses": [OWNER], "timezone": "Europe/Berlin"},
        trust={"authserv_id": AUTHSERV},
        data={"folder": str(data)},
        mailbox={"kind": "imap", "host": request["host"], "port": request["port"], "security": "tls",
                 "ca_file": request["ca_file"], "username": request["user"], "password": request["password"],
                 "folder": FOLDER},
    )  # fmt: skip
    store = Store.open(config.database_url())
    spent = {"source": 0.0, "understand": 0.0, "records": 0.0}

    def timed(key: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = function(*args, **kwargs)
                return list(result) if key == "source" and not isinstance(result, tuple) else result
            finally:
                spent[key] += time.perf_counter() - started

        return wrapper

    with ImapSource(config.mailbox) as source:
        source.poll = timed("source", source.poll)  # type: ignore[method-assign]
        source.fetch_many = timed("source", source.fetch_many)  # type: ignore[method-assign]
        intake = Intake(store, source, config, workers=request.get("workers"))
        # the time spent understanding, or waiting for the worker processes (which parse while the
        # next batch is polled), plus hashing and saving attachments
        intake._settle = timed("understand", intake._settle)  # type: ignore[method-assign]
        intake._write = timed("records", intake._write)  # type: ignore[method-assign]  # the write transactions
        started = time.perf_counter()
        summary = intake.sync()
        seconds = time.perf_counter() - started
    with store.read() as tx:
        meetings = len(tx.list_meetings())
    store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest worker process
    split = {**spent, "rest": seconds - sum(spent.values())}
    print(json.dumps({**summary.to_json(), "seconds": seconds, "meetings": meetings, "peak_rss_mb": peak / 1024,
                      "worker_rss_mb": workers / 1024, "split": split}))  # fmt: skip


# -- 3. the naive path ----------------------------------------------------------------------


def naive(user: ImapUser) -> dict[str, float]:
    client: IMAPClient = user.connect("tls")
    try:
        client.select_folder(FOLDER, readonly=True)
        uids = client.search(["ALL"])
        started = time.perf_counter()
        fetched = parsed = 0.0
        for start in range(0, len(uids), BATCH):
            t0 = time.perf_counter()
            bodies = client.fetch(uids[start : start + BATCH], ["BODY.PEEK[]"])
            t1 = time.perf_counter()
            for item in bodies.values():
                email.message_from_bytes(item[b"BODY[]"], policy=email.policy.default)
            fetched, parsed = fetched + t1 - t0, parsed + time.perf_counter() - t1
        return {
            "seconds": time.perf_counter() - started,
            "fetch": fetched,
            "parse": parsed,
            "messages": len(uids),
        }
    finally:
        client.logout()


# -- 4. the no-new-mail poll -------------------------------------------------------------------


class CountingConnect:
    """Connects like mailflow does and counts commands and round trips (a wait after sending)."""

    def __init__(self) -> None:
        self.commands = 0
        self.round_trips = 0
        self._waiting = False

    def __call__(self, account: MailboxSettings, section: str) -> IMAPClient:
        client = connect_imap(account, section)
        imap = client._imap
        send, readline = imap.send, imap.readline

        def counted_send(data: bytes) -> Any:
            tag = bytes(data).split(b" ", 1)[0]
            if tag.isalnum() and tag != b"DONE":  # a tagged command (not a literal or IDLE's DONE)
                self.commands += 1
            self._waiting = True
            return send(data)

        def counted_readline() -> bytes:
            if self._waiting:
                self.round_trips += 1
                self._waiting = False
            line: bytes = readline()
            return line

        imap.send, imap.readline = counted_send, counted_readline
        return client


def polls(user: ImapUser, data: Path, count: int) -> dict[str, float]:
    config = settings_for(user, data)
    store = Store.open(config.database_url())
    with store.read() as tx:
        cursor = tx.get_cursor(ImapSource(config.mailbox).key)
    store.close()
    counting = CountingConnect()
    bare = connect_imap(config.mailbox, "mailbox")  # the floor: imaplib's NOOP, nothing of mailflow
    bare.select_folder(FOLDER, readonly=True)
    with ImapSource(config.mailbox, connect=counting) as source:
        items, cursor = source.poll(cursor)  # connect, select; the SELECT alone answers this one
        assert not items, "the first sync left messages behind"
        for _ in range(5):
            source.poll(cursor)  # warm up
        timings, floor, commands, trips = [], [], counting.commands, counting.round_trips
        for _ in range(count):  # interleaved, so that both see the same machine
            started = time.perf_counter()
            items, cursor = source.poll(cursor)
            timings.append((time.perf_counter() - started) * 1000)
            assert not items
            started = time.perf_counter()
            bare._imap.noop()
            floor.append((time.perf_counter() - started) * 1000)
        bare.logout()
        return {
            "commands": (counting.commands - commands) / count,
            "round_trips": (counting.round_trips - trips) / count,
            "median_ms": statistics.median(timings),
            "p95_ms": _p95(timings),
            "bare_noop_median_ms": statistics.median(floor),
        }


# -- 5. IDLE latency ------------------------------------------------------------------------------


def idle_latency(user: ImapUser, data: Path, samples: int) -> dict[str, float]:
    config = settings_for(user, data)
    store = Store.open(config.database_url())
    source = ImapSource(config.mailbox)
    summaries: queue.Queue[tuple[float, SyncSummary]] = queue.Queue()
    stop = threading.Event()
    worker = threading.Thread(
        target=watch,
        kwargs={"intake": Intake(store, source, config), "stop": stop, "slice_seconds": 5.0,
                "on_summary": lambda s: summaries.put((time.perf_counter(), s)), "on_error": print},
    )  # fmt: skip
    worker.start()
    appender = user.connect("none")
    latencies: list[float] = []
    try:
        summaries.get(timeout=60)  # the first (empty) sync
        for number in range(samples):
            time.sleep(0.3)  # let the watcher go back into IDLE
            raw = _invite(10_000_000 + number)
            started = time.perf_counter()
            appender.append(FOLDER, raw)
            while True:
                at, summary = summaries.get(timeout=30)
                if summary.meetings_created:
                    latencies.append((at - started) * 1000)
                    break
    finally:
        stop.set()
        appender.logout()
        worker.join(30)
        source.close()
        store.close()
    return {"p50_ms": statistics.median(latencies), "p95_ms": _p95(latencies), "samples": len(latencies)}


def _invite(number: int) -> bytes:
    return next(m.raw for m in generate(200, start=number, invite_share=1.0))


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# -- the run ----------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {"cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}
    with rig() as (_server, user), tempfile.TemporaryDirectory(prefix="mailflow-bench-") as scratch:
        seeded = Seeded()
        seed(user, args.messages, 0, seeded)
        figures["seed"] = vars(seeded).copy()
        small = Path(scratch) / "small"
        figures["sync"] = first_sync(user, small, args.workers)
        figures["naive"] = naive(user)
        figures["poll"] = polls(user, small, args.polls)
        figures["idle"] = idle_latency(user, small, args.idle_samples)
        seeded.messages += args.idle_samples  # each sample appended one more invite
        seeded.invites += args.idle_samples
        if args.large > args.messages:
            seed(user, args.large - seeded.messages, seeded.messages, seeded)
            figures["seed_large"] = vars(seeded).copy()
            large = Path(scratch) / "large"
            figures["sync_large"] = first_sync(user, large, args.workers)
            figures["poll_large"] = polls(user, large, args.polls)
    figures["load_after"] = os.getloadavg()[0]
    return figures


def report(figures: dict[str, Any]) -> None:
    seed_, sync, naive_ = figures["seed"], figures["sync"], figures["naive"]
    speedup = naive_["seconds"] / sync["seconds"]
    print(f"mailflow intake benchmark: Dovecot on loopback over IMAPS, {figures['cpus']} CPUs, "
          f"load {figures['load_before']:.1f} before / {figures['load_after']:.1f} after")  # fmt: skip
    print(f"seeded {seed_['messages']:,} messages ({seed_['invites']} invites, {seed_['size'] / 1e6:.1f} MB) "
          f"by MULTIAPPEND at {seed_['messages'] / seed_['seconds']:,.0f} msg/s")  # fmt: skip
    _line("first sync (mailflow)", f"{sync['seen']:,} msgs in {sync['seconds']:.2f} s = "
          f"{sync['seen'] / sync['seconds']:,.0f} msg/s; parsed {sync['parsed']}; "
          f"{sync['meetings']}/{seed_['invites']} invites -> meetings; errors {sync['errors']}; "
          f"peak RSS {sync['peak_rss_mb']:.0f} MB (a worker {sync['worker_rss_mb']:.0f} MB)",
          sync["meetings"] == seed_["invites"])  # fmt: skip
    split = sync["split"]
    _line("  where the time went", f"source (look + fetch) {split['source']:.2f} s, understanding "
          f"{split['understand']:.2f} s ({split['understand'] / max(1, sync['parsed']) * 1000:.1f} ms per message "
          f"read), records {split['records']:.2f} s, the rest (triage, ...) {split['rest']:.2f} s", None)  # fmt: skip
    _line("naive path", f"{naive_['messages']:,} msgs in {naive_['seconds']:.2f} s = "
          f"{naive_['messages'] / naive_['seconds']:,.0f} msg/s (fetch {naive_['fetch']:.2f} s, "
          f"parse {naive_['parse']:.2f} s)", None)  # fmt: skip
    _line("speed-up", f"{speedup:.1f}x (target >= 4x)", speedup >= 4)
    _poll_line(f"no-new-mail poll @{seed_['messages'] // 1000}k", figures["poll"])
    idle = figures["idle"]
    _line("IDLE APPEND -> record", f"p50 {idle['p50_ms']:.0f} ms, p95 {idle['p95_ms']:.0f} ms "
          f"(n={idle['samples']}; target p95 < 1000 ms)", idle["p95_ms"] < 1000)  # fmt: skip
    if "sync_large" in figures:
        large, count = figures["sync_large"], figures["seed_large"]
        _line(f"first sync @{count['messages'] // 1000}k", f"{large['seen']:,} msgs in {large['seconds']:.1f} s = "
              f"{large['seen'] / large['seconds']:,.0f} msg/s; {large['meetings']}/{count['invites']} meetings; "
              f"peak RSS {large['peak_rss_mb']:.0f} MB, a worker {large['worker_rss_mb']:.0f} MB (target < 150 MB)",
              large["peak_rss_mb"] < 150 and large["meetings"] == count["invites"])  # fmt: skip
        _poll_line(f"no-new-mail poll @{count['messages'] // 1000}k", figures["poll_large"])


def _poll_line(label: str, poll: dict[str, float]) -> None:
    ok = poll["round_trips"] <= 2 and poll["median_ms"] < 1
    _line(label, f"{poll['commands']:g} commands in {poll['round_trips']:g} round trip(s), median {poll['median_ms']:.2f} ms, "
          f"p95 {poll['p95_ms']:.2f} ms; a bare imaplib NOOP {poll['bare_noop_median_ms']:.2f} ms "
          "(target <= 2 and < 1 ms)", ok)  # fmt: skip


def _line(label: str, text: str, ok: bool | None) -> None:
    mark = "" if ok is None else ("  ok" if ok else "  MISSED")
    print(f"  {label:<26} {text}{mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000, help="messages for the first comparison")
    parser.add_argument("--large", type=int, default=100_000, help="top the folder up to this many (0: skip)")
    parser.add_argument("--idle-samples", type=int, default=20)
    parser.add_argument("--polls", type=int, default=200)
    parser.add_argument(
        "--workers", type=int, help="worker processes of the sync (default: mailflow's choice)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--child-sync", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_sync:
        child_sync(json.loads(args.child_sync))
        return
    figures = run(args)
    report(figures)
    if args.json:
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
