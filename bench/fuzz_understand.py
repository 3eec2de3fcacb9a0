"""Fuzz ``understand``: mutations of the project's own mail and crafted hostile generators, each under a budget.

    .venv/bin/python bench/fuzz_understand.py --seconds 300 --seed 1

Every input runs in a child process (tests/fixtures/hostile/runner.py) that is
killed when it hangs.  A failure is an input for which an exception escapes
``understand`` or reaches its last-resort catch, the answer is not a valid
Understanding, or the budget is exceeded: ``--cpu`` seconds of CPU, and a
peak memory growth of ``--memory`` MB plus 8 bytes per byte of input.
Failing inputs are saved under ``--save`` to be replayed.  Prints the slowest
inputs and one summary line; exits 1 on any failure.

Inputs: first every crafted class of tests/fixtures/hostile (unless
``--no-crafted``), then, until the time is up, random mutations of
tests/fixtures/mail (bytes, lines, headers, charsets, nesting, calendars'
rules, dates and zones) and invites generated from a grammar of hostile
details.  Deterministic for a given ``--seed``.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from tests.fixtures.hostile import CRAFTED, calendar, event, invite, mail, multipart, zone  # noqa: E402
from tests.fixtures.hostile.runner import Outcome, Runner  # noqa: E402

MAIL = ROOT / "tests" / "fixtures" / "mail"
MAX_INPUT = 34 * 1024 * 1024  # a little over what understand reads at all (32 MB): mutations stop there

FREQS = ["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY", "FORTNIGHTLY", ""]
YEARS = [1, 2, 99, 1601, 1899, 1900, 1970, 2024, 2025, 2026, 2100, 2200, 2201, 9998, 9999]
CHARSETS = ["utf-8", "rot13", "bz2", "hex", "punycode", "idna", "undefined", "utf-7", "utf-16", "utf-8\x00",
            "unicode_escape", "zlib", "latin-1", "x-nope", "", '"', "uu"]  # fmt: skip
TOKENS = [
    "RRULE:FREQ=DAILY;BYSETPOS=2", "RRULE:FREQ=YEARLY;INTERVAL=0", "RRULE:FREQ=SECONDLY;INTERVAL=0",
    "DTSTART:00010101T000000Z", "DTSTART:99991231T235959Z", "DURATION:P99999999W", "DTSTART;VALUE=DATE:99991231",
    "BEGIN:VTIMEZONE", "END:VTIMEZONE", "BEGIN:DAYLIGHT", "BEGIN:STANDARD", "TZOFFSETTO:+9999", "UID:",
    "Content-Type: multipart/mixed; boundary=b", "Content-Type: message/rfc822", "--b", "--b--",
    "Content-Transfer-Encoding: base64", "Content-Transfer-Encoding: quoted-printable", "charset=rot13",
    "=?utf-8?B?AAAA?=", "=?rot13?q?x?=", "-------- Forwarded Message --------", "Begin forwarded message:",
    "From: " + " " * 500, "On Monday wrote:", "Monday 1pm", "https://zoom.us/j/1", "(" * 200, "\x00", "\udcff",
]  # fmt: skip


@dataclass(frozen=True)
class Case:
    name: str
    raw: bytes | None  # None: the crafted input of that name, built by the child


# -- generators ------------------------------------------------------------------------


def _rule(rng: random.Random) -> str:
    parts = [f"FREQ={rng.choice(FREQS)}"]
    options: dict[str, Callable[[], str]] = {
        "INTERVAL": lambda: str(rng.choice([0, 1, 1, 2, 3, 4, 5, 7, 12, 24, 28, 1000, 1001, -1, 2**40])),
        "COUNT": lambda: str(rng.choice([1, 3, 10, 10**6, 0, -3])),
        "UNTIL": lambda: f"{rng.choice(YEARS):04d}0101T000000Z",
        "BYDAY": lambda: ",".join(
            f"{rng.choice(['', '1', '-1', '2', '4', '5', '-5', '6', '53'])}{rng.choice(['MO', 'TU', 'FR', 'SU'])}"
            for _ in range(rng.randint(1, 4))
        ),
        "BYMONTH": lambda: ",".join(str(rng.randint(0, 13)) for _ in range(rng.randint(1, 3))),
        "BYMONTHDAY": lambda: ",".join(str(rng.randint(-32, 32)) for _ in range(rng.randint(1, 3))),
        "BYSETPOS": lambda: str(rng.choice([1, -1, 2, 3, 4, 5, -6, 0])),
        "WKST": lambda: rng.choice(["MO", "SU", "XX"]),
        "BYHOUR": lambda: str(rng.randint(0, 25)),
        "BYWEEKNO": lambda: str(rng.randint(-54, 54)),
        "BYYEARDAY": lambda: str(rng.randint(-367, 367)),
    }
    for key in rng.sample(sorted(options), rng.randint(0, 4)):
        parts.append(f"{key}={options[key]()}")
    rng.shuffle(parts)
    return ";".join(parts)


def _start(rng: random.Random, tzid: str = "") -> str:
    year = rng.choice(YEARS)
    stamp = f"{year:04d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    if rng.random() < 0.2:
        return f"DTSTART;VALUE=DATE:{stamp}"
    if tzid:
        return f"DTSTART;TZID={tzid}:{stamp}T{rng.randint(0, 23):02d}0000"
    return f"DTSTART:{stamp}T{rng.randint(0, 23):02d}0000Z"


def generated_invite(rng: random.Random) -> bytes:
    """An invite with a random selection of hostile details."""
    lines: list[str] = []
    components: list[str] = []
    tzid = ""
    if rng.random() < 0.5:
        tzid = rng.choice(
            ["Hostile Zone", "Europe/Berlin", "W. Europe Standard Time", "(UTC+01:00) x", "Z" * 300]
        )
        components.append(zone(_rule(rng), start=f"{rng.choice(YEARS):04d}0101T020000", tzid=tzid))
    for _ in range(rng.choice([0, 1, 1, 1, 2, 5])):
        lines.append(f"RRULE:{_rule(rng)}")
    if rng.random() < 0.3:
        lines.append(rng.choice(["EXDATE", "RDATE", "RECURRENCE-ID"]) + ":" + _start(rng).split(":", 1)[1])
    if rng.random() < 0.3:
        lines.append(
            rng.choice(["DURATION:P1D", "DURATION:-PT1H", "DURATION:P99999W", "DTEND:99991231T000000Z"])
        )
    if rng.random() < 0.2:
        lines.append(f"ATTENDEE:mailto:{'a' * rng.choice([10, 1000, 60_000])}")
    uid = "" if rng.random() < 0.2 else f"fuzz-{rng.randint(0, 10**9)}@x"
    components.append(event(*lines, uid=uid, start=_start(rng, tzid)))
    method = rng.choice(["REQUEST", "CANCEL", "REPLY", "PUBLISH", "COUNTER", ""])
    raw = invite(calendar(*components, method=method), charset=rng.choice(CHARSETS))
    return _wrapped(rng, raw) if rng.random() < 0.1 else raw


def _wrapped(rng: random.Random, raw: bytes) -> bytes:
    depth = rng.choice([1, 2, 50, 150, 600]) if len(raw) < 100_000 else rng.choice([1, 2, 3])
    for level in range(depth):
        if rng.random() < 0.5:
            raw = mail(raw, content_type="message/rfc822", subject=f"Fwd {level}")
        else:
            raw = multipart([("text/plain", b"see below"), ("message/rfc822", raw)], subject=f"Fwd {level}")
    return raw


def mutated(rng: random.Random, seeds: list[bytes]) -> tuple[str, bytes]:
    """One fixture changed by one to four random mutations, named after them."""
    raw = rng.choice(seeds)
    names = []
    for _ in range(rng.randint(1, 4)):
        mutation = rng.choice(MUTATIONS)
        raw = mutation(rng, raw, seeds)[:MAX_INPUT]
        names.append(mutation.__name__.strip("_"))
    return "+".join(names), raw


def _flip(rng: random.Random, raw: bytes, _seeds: list[bytes]) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 20)):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def _cut(rng: random.Random, raw: bytes, _seeds: list[bytes]) -> bytes:
    start = rng.randrange(len(raw) + 1)
    return raw[:start] + raw[start + rng.randint(1, 2000) :]


def _splice(rng: random.Random, raw: bytes, seeds: list[bytes]) -> bytes:
    other = rng.choice(seeds)
    return raw[: rng.randrange(len(raw) + 1)] + other[rng.randrange(len(other) + 1) :]


def _repeat_line(rng: random.Random, raw: bytes, _seeds: list[bytes]) -> bytes:
    lines = raw.split(b"\n")
    index = rng.randrange(len(lines))
    times = min(rng.choice([2, 100, 5000, 30_000]), MAX_INPUT // (len(lines[index]) + 1))
    lines[index:index] = [lines[index]] * times
    return b"\n".join(lines)


def _token(rng: random.Random, raw: bytes, _seeds: list[bytes]) -> bytes:
    lines = raw.split(b"\n")
    token = rng.choice(TOKENS).encode("utf-8", "surrogateescape") * rng.choice([1, 1, 3, 1000])
    lines.insert(rng.randrange(len(lines) + 1), token + b"\r")
    return b"\n".join(lines)


def _blow_up(rng: random.Random, raw: bytes, _seeds: list[bytes]) -> bytes:
    char = rng.choice([b" ", b"\n", b"\t", b">", b"\r\n", b"-", b"=", b"_"])
    at = rng.randrange(len(raw) + 1)
    return raw[:at] + char * rng.choice([100, 10_000, 300_000, 3_000_000]) + raw[at:]


def _header(rng: random.Random, raw: bytes, _seeds: list[bytes]) -> bytes:
    name = rng.choice([b"Subject", b"From", b"Date", b"Content-Type", b"To", b"Message-ID", b"In-Reply-To"])
    values = [
        b"=?utf-8?q?" + b"=C3=A4" * rng.choice([10, 50_000]) + b"?=",
        b"Fri, 31 Dec 9999 23:59:59 -1200",
        b"Mon, 01 Jan 0001 00:00:00 +1400",
        b'text/calendar; charset="' + rng.choice(CHARSETS).encode("utf-8", "surrogateescape") + b'"',
        b"a" * rng.choice([100, 100_000]),
        b"<" + b"x" * 10_000 + b"@y>",
    ]
    value = rng.choice(values)
    changed, count = re.subn(
        rb"(?im)^" + name + rb":[^\r\n]*", name + b": " + value.replace(b"\\", b"\\\\"), raw, count=1
    )
    return changed if count else name + b": " + value + b"\r\n" + raw


def _charset(rng: random.Random, raw: bytes, _seeds: list[bytes]) -> bytes:
    charset = rng.choice(CHARSETS).encode("utf-8", "surrogateescape").replace(b"\\", b"")
    return re.sub(rb'(?i)charset="?[\w-]+"?', b'charset="' + charset + b'"', raw)


def _rules(rng: random.Random, raw: bytes, _seeds: list[bytes]) -> bytes:
    rule = _rule(rng).encode()
    if rng.random() < 0.5 and b"RRULE:" in raw:
        return re.sub(rb"RRULE:[^\r\n]*", b"RRULE:" + rule, raw)
    return raw.replace(b"BEGIN:VEVENT", b"BEGIN:VEVENT\r\nRRULE:" + rule, 1)


def _years(rng: random.Random, raw: bytes, _seeds: list[bytes]) -> bytes:
    year = f"{rng.choice(YEARS):04d}".encode()
    return re.sub(
        rb"(DTSTART[^:\r\n]*:|DTEND[^:\r\n]*:|DTSTAMP:|RECURRENCE-ID[^:\r\n]*:)\d{4}", rb"\g<1>" + year, raw
    )


def _nest(rng: random.Random, raw: bytes, _seeds: list[bytes]) -> bytes:
    return _wrapped(rng, raw)


MUTATIONS = [_flip, _cut, _splice, _repeat_line, _token, _blow_up, _header, _charset, _rules, _years, _nest]


def cases(rng: random.Random, crafted: bool) -> Callable[[], Case]:
    """A source of cases: the crafted ones first, then mutations and generated invites."""
    seeds = [path.read_bytes() for path in sorted(MAIL.glob("*.eml"))]
    queue = [Case(h.name, None) for h in CRAFTED] if crafted else []
    queue.reverse()
    counter = 0

    def next_case() -> Case:
        nonlocal counter
        if queue:
            return queue.pop()
        counter += 1
        if rng.random() < 0.35:
            return Case(f"generated#{counter}", generated_invite(rng))
        name, raw = mutated(rng, seeds)
        return Case(f"{name}#{counter}", raw)

    return next_case


# -- the loop ------------------------------------------------------------------------------


def failure(outcome: Outcome, cpu: float, memory: int) -> str:
    if outcome.problem:
        return outcome.problem
    if outcome.cpu > cpu:
        return f"{outcome.cpu:.2f} s of CPU (budget {cpu:.1f} s)"
    allowed = memory + 8 * outcome.size
    if outcome.mem > allowed:
        return f"memory grew {outcome.mem // 2**20} MB (budget {allowed // 2**20} MB)"
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to fuzz (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="the random seed (default 0)")
    parser.add_argument("--cpu", type=float, default=2.0, help="CPU seconds allowed per message (default 2)")
    parser.add_argument(
        "--memory", type=int, default=64, help="MB of memory growth allowed, plus 8 bytes a byte"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="wall seconds before an input counts as hung"
    )
    parser.add_argument("--no-crafted", action="store_true", help="skip the crafted classes")
    parser.add_argument(
        "--save", type=Path, default=Path("/tmp/fuzz_understand"), help="where failing inputs go"
    )
    parser.add_argument("--top", type=int, default=10, help="how many of the slowest inputs to print")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    next_case = cases(rng, not args.no_crafted)
    results: list[Outcome] = []
    failures: list[tuple[Outcome, str]] = []
    started = time.monotonic()
    with Runner(args.timeout) as runner:
        while time.monotonic() - started < args.seconds:
            case = next_case()
            outcome = runner.run(case.name, case.raw)
            results.append(outcome)
            why = failure(outcome, args.cpu, args.memory * 2**20)
            if why:
                failures.append((outcome, why))
                _save(args.save, case, why)
                print(f"FAIL {case.name}: {why}", flush=True)
            elif outcome.cpu > args.cpu / 2:  # close to the budget: worth a look
                _save(args.save / "slow", case, f"{outcome.cpu:.2f} s of CPU")
    _report(results, failures, time.monotonic() - started, args)
    return 1 if failures else 0


def _save(folder: Path, case: Case, why: str) -> None:
    if case.raw is None:
        return  # a crafted input: rebuilt from its name
    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^\w.#+-]", "_", case.name)[:120]
    (folder / f"{stem}.eml").write_bytes(case.raw)
    (folder / f"{stem}.why").write_text(why + "\n")


def _report(
    results: list[Outcome], failures: list[tuple[Outcome, str]], took: float, args: argparse.Namespace
) -> None:
    if not results:
        print("fuzz_understand: no input ran")
        return
    print(f"\nslowest {args.top} (CPU s, memory growth MB, size KB, kind, name):")
    for outcome in sorted(results, key=lambda o: o.cpu, reverse=True)[: args.top]:
        print(
            f"  {outcome.cpu:6.3f}  {outcome.mem / 2**20:6.1f}  {outcome.size / 1024:9.1f}  {outcome.kind:12} {outcome.name}"
        )
    cpus = sorted(o.cpu for o in results)
    biggest = max(results, key=lambda o: o.mem)
    print(
        f"fuzz_understand: {len(results):,} inputs in {took:.0f} s (seed {args.seed}): {len(failures)} failure(s); "
        f"CPU median {statistics.median(cpus) * 1000:.1f} ms, p99 {cpus[int(len(cpus) * 0.99)] * 1000:.0f} ms, "
        f"max {cpus[-1]:.2f} s; most memory +{biggest.mem / 2**20:.0f} MB ({biggest.name})"
    )


if __name__ == "__main__":
    sys.exit(main())
