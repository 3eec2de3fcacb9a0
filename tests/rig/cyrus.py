"""A private Cyrus IMAP 3.6 for the tests: Debian 12's packages unpacked into a private root.

``cyrus-imapd`` conflicts with ``dovecot-imapd`` in apt, so Cyrus is never
installed system-wide: ``make cyrus`` (``python -m tests.rig.cyrus install``)
downloads Debian's ``cyrus-common``, ``cyrus-imapd`` and ``sasl2-bin``, plus the
libraries they need that the machine lacks, with ``apt-get download`` (no root
needed), and ``dpkg -x`` unpacks them into ``.cache/cyrus-root`` (or
``$CYRUS_TEST_ROOT``).  The programs run from there with ``LD_LIBRARY_PATH``.

Each ``Cyrus`` is a ``master`` started with ``-C imapd.conf -M cyrus.conf``
from a throwaway temp dir (every command in cyrus.conf gets ``-C`` too, or it
would read /etc/imapd.conf): 127.0.0.1 only, two free ports (plain IMAP with
STARTTLS, and IMAPS) with the rig's certificate, ``idled`` so IDLE wakes at
once, the alternate namespace with ``/`` as separator (``.`` allowed in names).

Users: Cyrus checks passwords only through SASL.  ``auxprop`` with a private
sasldb is the one saslauthd-free way that still refuses a wrong password
(``alwaystrue`` would let the wrong-password tests pass by accident), so
``new_user()`` adds each ``test-*`` user with ``saslpasswd2`` (10-30 ms) before
it is used; alice and bob are added at start.  ``autocreate_quota: 0`` makes
the INBOX at the first login, with Drafts/Sent/Trash (subscribed) and
Junk/Archive, each with its SPECIAL-USE flag (``xlist-*``).

A small library preloaded into every Cyrus process (``PRELOAD_SOURCE``, built
by ``make cyrus`` with ``cc``) writes what Cyrus logs through syslog(3) to
``<dir>/cyrus.log`` (a container has no /dev/log; ``log_errors()`` reads it),
makes fsync a no-op and sets TCP_NODELAY (see its comment for why).

As with Dovecot, every process runs as one unprivileged user (``nobody`` when
pytest is root, named to Cyrus by ``cyrus_user``), in its own process group,
and dies with pytest (PDEATHSIG).

Differences from Dovecot met by the tests: Cyrus refuses an APPEND with a NUL
byte, a bare LF or a header line that is not a header; ``seed`` is MULTIAPPEND
(there is no Maildir to write); LOGOUT is logged as ``USAGE <user>``.
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.rig.dovecot import DOMAIN, FIXED_USERS, TEST_PASSWORD, ImapClients, ImapUser
from tests.rig.tools import (
    HOST,
    Certificate,
    RigError,
    RunAs,
    ToolMissing,
    die_with_parent,
    free_port,
    greets,
    make_tmpdir,
    port_is_open,
)

PROJECT = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = PROJECT / ".cache" / "cyrus-root"
ROOT_VARIABLE = "CYRUS_TEST_ROOT"
INSTALL_HINT = (
    "run `make cyrus` (it unpacks Debian 12's cyrus-imapd into .cache/cyrus-root, no system install), "
    "then rerun the tests"
)
#: what the rig runs; the libraries come from their dependencies
PACKAGES = ("cyrus-common", "cyrus-imapd", "sasl2-bin")
#: dependencies only tools the rig never runs link (cyr_virusscan, notifyd's zephyr method)
NOT_NEEDED = frozenset({"libclamav12", "libzephyr4"})
PROGRAMS = ("master", "imapd", "idled", "ctl_cyrusdb")
VERSION = "3.6."
SERVERNAME = f"rig.{DOMAIN}"  # also the SASL realm of every user
START_TIMEOUT = 10.0
STOP_GRACE = 1.0
_PRELOAD = "rig/preload.so"
_MARKER = ".mailflow-rig"
_LOG_VARIABLE = "CYRUS_RIG_LOG"
_ERROR_LINE = re.compile(r"^\S+\[\d+\]: (error|crit|alert|emerg): ")
# what master says when a stop kills a child or a restart waits for its port
_SHUTDOWN_NOISE = re.compile(r"signaled to death by signal|unable to (bind|create \S+ listener)")
_CRLF = re.compile(rb"\r?\n")
_unique = itertools.count(1)


# -- the private root ------------------------------------------------------------


@dataclass(frozen=True)
class CyrusRoot:
    """Debian's Cyrus unpacked under ``path``: its programs, libraries and the rig's preload library."""

    path: Path

    @classmethod
    def default(cls) -> CyrusRoot:
        return cls(Path(os.environ.get(ROOT_VARIABLE) or DEFAULT_ROOT))

    @classmethod
    def find(cls) -> CyrusRoot:
        """The installed root (``$CYRUS_TEST_ROOT`` or .cache/cyrus-root), else ``ToolMissing``."""
        root = cls.default()
        if not root.unpacked:
            raise ToolMissing(f"Cyrus IMAP is not unpacked in {root.path}: {INSTALL_HINT}")
        if not root.version.startswith(VERSION):
            raise ToolMissing(
                f"the Cyrus in {root.path} is {root.version}, the tests need 3.6: {INSTALL_HINT}"
            )
        if not root.preload_built:
            raise ToolMissing(f"the rig's preload library in {root.path} is missing or old: {INSTALL_HINT}")
        return root

    @property
    def unpacked(self) -> bool:
        return (self.path / _MARKER).is_file() and all(
            os.access(p, os.X_OK) for p in (*map(self.program, PROGRAMS), self.saslpasswd2)
        )

    @property
    def preload_built(self) -> bool:
        source = self.preload.with_suffix(".c")
        return self.preload.is_file() and source.is_file() and source.read_text() == PRELOAD_SOURCE

    @property
    def version(self) -> str:
        """The Debian package version unpacked (3.6.1-4+deb12u5)."""
        return (self.path / _MARKER).read_text().strip()

    @property
    def bin_dir(self) -> Path:
        return self.path / "usr" / "lib" / "cyrus" / "bin"

    def program(self, name: str) -> Path:
        return self.bin_dir / name

    @property
    def saslpasswd2(self) -> Path:
        return self.path / "usr" / "sbin" / "saslpasswd2"

    @property
    def preload(self) -> Path:
        return self.path / _PRELOAD

    @property
    def library_path(self) -> str:
        dirs = sorted(self.path.glob("usr/lib/*-linux-gnu")) + sorted(self.path.glob("lib/*-linux-gnu"))
        return os.pathsep.join(str(d) for d in dirs)

    def environment(self, log_file: Path | None = None) -> dict[str, str]:
        """The environment to run its programs in; with ``log_file``, the server's (preload, log)."""
        env = {k: v for k, v in os.environ.items() if k not in ("CYRUS_USER", "CYRUS_GROUP", "CYRUS_VERBOSE")}
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (self.library_path, os.environ.get("LD_LIBRARY_PATH", "")) if p
        )
        if log_file is not None:
            env["LD_PRELOAD"] = str(self.preload)
            env[_LOG_VARIABLE] = str(log_file)
        return env


def install(root: CyrusRoot | None = None, say: Callable[[str], None] = print) -> CyrusRoot:
    """Download and unpack Cyrus, and build the preload library, unless done already (idempotent)."""
    target = root or CyrusRoot.default()
    cache = PROJECT / ".cache"
    if target.path.is_relative_to(cache) and not (cache / ".gitignore").exists():
        cache.mkdir(parents=True, exist_ok=True)
        (cache / ".gitignore").write_text("# downloads for the tests (make cyrus): never committed\n*\n")
    if not target.unpacked:
        _unpack(target, say)
    if not target.preload_built:
        _build_preload(target, say)
    return target


def _unpack(target: CyrusRoot, say: Callable[[str], None]) -> None:
    for tool in ("apt-get", "apt-cache", "dpkg", "dpkg-query"):
        if shutil.which(tool) is None:
            raise ToolMissing(
                f"`{tool}` is missing: the Cyrus tests unpack Debian 12's cyrus-imapd, so they need "
                "Debian or Ubuntu (or set CYRUS_TEST_ROOT to a root with Debian's cyrus-imapd 3.6 unpacked)"
            )
    packages = _packages_to_fetch()
    say(f"unpacking {' '.join(packages)} into {target.path}")
    staging = CyrusRoot(target.path.with_name(target.path.name + ".new"))
    shutil.rmtree(staging.path, ignore_errors=True)
    staging.path.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="mailflow-cyrus-debs-") as downloads:
        os.chmod(downloads, 0o777)  # apt's _apt user writes the .debs when this runs as root
        try:
            _run(["apt-get", "download", *packages], cwd=downloads, hint="run `sudo apt-get update` first")
        except RigError:
            if os.geteuid() != 0:
                raise
            say("apt-get download failed; updating the package lists once")
            _run(["apt-get", "update", "-q"])
            _run(["apt-get", "download", *packages], cwd=downloads)
        for deb in sorted(Path(downloads).glob("*.deb")):
            _run(["dpkg", "-x", str(deb), str(staging.path)])
    missing = _missing_libraries(staging)
    if missing:
        raise RigError(f"Cyrus still lacks {', '.join(missing)} after unpacking {', '.join(packages)}")
    (staging.path / _MARKER).write_text(_unpacked_version(staging.path) + "\n")
    shutil.rmtree(target.path, ignore_errors=True)
    target.path.parent.mkdir(parents=True, exist_ok=True)
    staging.path.rename(target.path)


def _build_preload(target: CyrusRoot, say: Callable[[str], None]) -> None:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise ToolMissing(
            "no C compiler: the rig builds a small preload library to read Cyrus's log; "
            "install one with `sudo apt-get install gcc libc6-dev`"
        )
    say(f"building {target.preload}")
    source = target.preload.with_suffix(".c")
    source.parent.mkdir(parents=True, exist_ok=True)
    built = target.preload.with_suffix(".new")
    source.write_text("")  # not current until the library is built
    _run([compiler, "-shared", "-fPIC", "-O2", "-Wall", "-o", str(built), "-x", "c", "-", "-ldl"],
         stdin=PRELOAD_SOURCE)  # fmt: skip
    built.chmod(0o755)
    built.rename(target.preload)
    source.write_text(PRELOAD_SOURCE)


def _unpacked_version(staging: Path) -> str:
    """The Debian version from the unpacked changelog (``cyrus-imapd (3.6.1-4+deb12u5) ...``)."""
    changelog = staging / "usr" / "share" / "doc" / "cyrus-common" / "changelog.Debian.gz"
    with gzip.open(changelog, "rt", errors="replace") as text:
        first = text.readline()
    found = re.search(r"\(([^)]+)\)", first)
    if not found:
        raise RigError(f"cannot read the Cyrus version from {changelog}")
    return found.group(1).split(":")[-1]


def _packages_to_fetch() -> list[str]:
    """PACKAGES plus every library they depend on (recursively) that is not installed."""
    wanted, seen, frontier = list(PACKAGES), set(PACKAGES), list(PACKAGES)
    while frontier:
        listed = _run(
            ["apt-cache", "depends", "--no-recommends", "--no-suggests", "--no-conflicts",
             "--no-breaks", "--no-replaces", "--no-enhances", *frontier],
        )  # fmt: skip
        found = re.findall(r"^\s*\|?(?:Pre)?Depends: ([^<\s]+)\s*$", listed, re.MULTILINE)
        new = sorted({d.split(":")[0] for d in found if d.startswith("lib")} - seen - NOT_NEEDED)
        seen.update(new)
        frontier = sorted(set(new) - _installed(new))
        wanted += frontier
    return wanted


def _installed(packages: Sequence[str]) -> set[str]:
    if not packages:
        return set()
    shown = _run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n", *packages], check=False)
    return {line.split()[0] for line in shown.splitlines() if line.split()[1:2] == ["ii"]}


def _missing_libraries(root: CyrusRoot) -> list[str]:
    """Shared libraries the programs the rig runs cannot find, even with the unpacked ones."""
    missing: set[str] = set()
    for program in (*map(root.program, PROGRAMS), root.saslpasswd2):
        shown = _run(["ldd", str(program)], env=root.environment(), check=False)
        missing.update(re.findall(r"^\s*(\S+) => not found", shown, re.MULTILINE))
    return sorted(missing)


def _run(
    command: Sequence[str],
    *,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
    hint: str = "",
    stdin: str = "",
) -> str:
    done = subprocess.run(
        list(command), cwd=cwd, env=env, input=stdin, capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()[-2000:]
        raise RigError(f"`{' '.join(command)}` failed: {detail}" + (f" ({hint})" if hint else ""))
    return done.stdout


# -- one running Cyrus --------------------------------------------------------------


class Cyrus(ImapClients):
    """One running Cyrus; ``start()``, ``stop()``, ``restart()`` (same ports), ``close()``.

    Offers what the tests use of ``Dovecot``: ports, users, ``connect``,
    ``append``, the log; ``seed`` is MULTIAPPEND (there is no Maildir to write).
    """

    host = HOST

    def __init__(self, certificate: Certificate, *, run_as: RunAs | None = None) -> None:
        self.install = CyrusRoot.find()
        self.run_as = run_as or RunAs.for_tests()
        self.certificate = certificate
        self.root = make_tmpdir("mailflow-cyrus-", self.run_as)
        self.imap_port = 0
        self.imaps_port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._users: set[str] = set()
        self._stopped_at: list[int] = []  # log positions of stops: shutdown noise after them is expected
        self.started_in = 0.0  # seconds from launch to both ports answering, for the record

    # -- paths ------------------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.root / "imapd.conf"

    @property
    def master_config(self) -> Path:
        return self.root / "cyrus.conf"

    @property
    def log_file(self) -> Path:
        return self.root / "cyrus.log"

    @property
    def sasldb(self) -> Path:
        return self.root / "sasldb2"

    @property
    def ca_file(self) -> Path:
        return self.certificate.ca_file

    # -- lifecycle --------------------------------------------------------
    def start(self) -> None:
        """Start on new free ports (retrying when another process takes one first)."""
        self._write_files()
        for user, password in FIXED_USERS.items():
            self._add_user(user, password)
        for _attempt in range(5):
            self.imap_port, self.imaps_port = free_port(), free_port()
            if self.imap_port != self.imaps_port and self._launch():
                return
        raise RigError(f"Cyrus did not start; see {self.log_file}:\n{self._startup_output()}")

    def restart(self) -> None:
        """Stop, then start again on the same ports (mail, users and config are kept)."""
        self.stop()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._launch():
                return
            time.sleep(0.05)
        raise RigError(f"Cyrus did not restart on its ports:\n{self._startup_output()}")

    def stop(self) -> None:
        """SIGTERM to master (it stops its children; about 40 ms), SIGKILL to the group after ``STOP_GRACE``."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        self._stopped_at.append(self.log_mark())
        process.send_signal(signal.SIGTERM)  # master stops its children and its databases cleanly
        try:
            process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        _signal_group(process.pid, signal.SIGKILL)  # anything that outlived the master

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _launch(self) -> bool:
        self.master_config.write_text(self._master_config_text())
        self.run_as.own(self.master_config)
        started = time.monotonic()
        with (self.root / "master.out").open("ab") as output:
            self._process = subprocess.Popen(
                [
                    str(self.install.program("master")),
                    "-C", str(self.config_file),
                    "-M", str(self.master_config),
                    "-p", str(self.root / "run" / "master.pid"),
                    "-D",  # keep stdout/stderr: early errors go there, before syslog is set up
                ],
                cwd=self.root,
                env=self.install.environment(self.log_file),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(),
                **self.run_as.popen_args(),
            )  # fmt: skip
        serving = self._wait_until_serving()
        if serving:
            self.started_in = time.monotonic() - started
        return serving

    def _wait_until_serving(self) -> bool:
        mark = self.log_mark()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                self._process = None
                return False
            # the greeting means master and an imapd are up, not just the socket
            if greets(self.imap_port, b"* OK") and port_is_open(self.imaps_port):
                return True
            if "unable to bind" in self._log_since(mark):  # lost the race for a port: other ports
                self.stop()
                return False
            time.sleep(0.01)
        self.stop()
        return False

    def _startup_output(self) -> str:
        texts = [
            p.read_text(errors="replace") for p in (self.root / "master.out", self.log_file) if p.exists()
        ]
        return "\n".join(texts)[-3000:]

    def _write_files(self) -> None:
        dirs = [
            self.root / name for name in ("tls", "run", "spool", "conf", *(f"conf/{d}" for d in CONFIG_DIRS))
        ]
        for path in dirs:
            path.mkdir(exist_ok=True)
        tls = self.root / "tls"
        # the key is 0600: Cyrus's user needs its own copy
        shutil.copyfile(self.certificate.cert_file, tls / "cert.pem")
        shutil.copyfile(self.certificate.key_file, tls / "key.pem")
        (tls / "key.pem").chmod(0o600)
        self.config_file.write_text(
            IMAPD_CONF.format(
                root=self.root, user=self.run_as.name, servername=SERVERNAME, sasldb=self.sasldb
            )
        )
        for path in [self.root, *dirs, self.config_file, tls / "cert.pem", tls / "key.pem"]:
            self.run_as.own(path)

    def _master_config_text(self) -> str:
        return CYRUS_CONF.format(
            bin=self.install.bin_dir,
            conf=self.config_file,
            imap_port=self.imap_port,
            imaps_port=self.imaps_port,
            root=self.root,
        )

    # -- the log ------------------------------------------------------------
    def log_mark(self) -> int:
        """A position in the log; pass it to ``log_errors(since=...)``."""
        return self.log_file.stat().st_size if self.log_file.exists() else 0

    def log_errors(self, since: int = 0) -> list[str]:
        """error, crit, alert and emerg lines logged after ``since``.

        A LOGIN can answer OK while the session then fails; the cause is only here.
        """
        stopped = any(at >= since for at in self._stopped_at)
        return [
            line
            for line in self._log_since(since).splitlines()
            if _ERROR_LINE.search(line) and not (stopped and _SHUTDOWN_NOISE.search(line))
        ]

    def _log_since(self, since: int) -> str:
        if not self.log_file.exists():
            return ""
        with self.log_file.open("rb") as handle:
            handle.seek(since)
            return handle.read().decode("utf-8", "replace")

    # -- users and mail -------------------------------------------------------
    def password_for(self, user: str) -> str:
        if user.startswith("test-"):
            return TEST_PASSWORD
        if user in FIXED_USERS:
            return FIXED_USERS[user]
        raise KeyError(f"{user} is not a user of the rig (use test-* or alice/bob)")

    def user_for_address(self, address: str) -> str | None:
        local = address.strip("<> ").rpartition("@")[0] or address.strip("<> ")
        local = local.lower()
        return local if local in self._users else None

    def new_user(self, hint: str = "") -> CyrusUser:
        """A user nobody has used yet: its INBOX is made at its first login."""
        tag = re.sub(r"[^a-z0-9]+", "-", hint.lower()).strip("-")[:24]
        name = f"test-{next(_unique)}-{os.getpid()}" + (f"-{tag}" if tag else "")
        self._add_user(name, TEST_PASSWORD)
        return CyrusUser(self, name)

    def _add_user(self, name: str, password: str) -> None:
        """Into the private sasldb, as the server's user (so the file stays readable to it)."""
        done = subprocess.run(
            [str(self.install.saslpasswd2), "-f", str(self.sasldb), "-u", SERVERNAME, "-c", "-p", name],
            input=password.encode(),
            env=self.install.environment(),
            capture_output=True,
            check=False,
            timeout=10,
            **self.run_as.popen_args(),
        )
        if done.returncode != 0:
            detail = done.stderr.decode("utf-8", "replace").strip()
            raise RigError(f"saslpasswd2 could not add {name}: {detail}")
        self._users.add(name)

    def seed(self, user: str, folder: str, messages: Iterable[bytes], flags: Sequence[str] = ()) -> int:
        """MULTIAPPEND the messages, 500 per command (Cyrus has no Maildir to write); how many.

        Line ends become CRLF first, as imaplib's APPEND does: Cyrus refuses a bare LF.
        """
        batch = [{"msg": _CRLF.sub(b"\r\n", raw), "flags": tuple(flags)} for raw in messages]
        client = self.connect(user, security="none")
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for start in range(0, len(batch), 500):
                status, said = client.multiappend(folder, batch[start : start + 500])
                if status != "OK":  # imapclient returns a NO instead of raising it
                    raise RigError(f"MULTIAPPEND to {folder} failed: {said!r}")
        finally:
            client.logout()
        return len(batch)

    def deliver(self, user: str, raw: bytes, *, folder: str = "INBOX", sender: str = "") -> None:
        """What an MTA's local delivery would do; here an APPEND (no LMTP in the rig)."""
        self.append(user, folder, raw)


@dataclass(frozen=True)
class CyrusUser(ImapUser):
    """A rig user of a ``Cyrus``: ``ImapUser``'s face, with Cyrus's seeding and no Maildir."""

    server: Cyrus  # type: ignore[assignment]  # the same face as Dovecot's, duck-typed

    def seed(self, folder: str, messages: Iterable[bytes], flags: Sequence[str] = ()) -> int:
        return self.server.seed(self.name, folder, messages, flags)

    def maildir(self, folder: str = "INBOX") -> Path:
        raise RigError("Cyrus keeps mail in its own spool, not in a Maildir")


#: a user of either rig server, as the tests that run on both get it (``server_user``)
RigUser = ImapUser | CyrusUser
#: the rig's IMAP servers, by fixture name (and pytest mark)
IMAP_SERVERS = ("dovecot", "cyrus")


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


#: what Debian's makedirs script would make under configdirectory (Cyrus makes the rest itself)
CONFIG_DIRS = ("db", "proc", "socket", "log", "msg", "user", "quota", "lock", "sieve")

# Everything under the temp dir; the defaults not set here are Cyrus 3.6's (altnamespace and
# unixhierarchysep on: folders sit next to INBOX, "/" separates levels).  The last block is for
# the tests: a deleted folder is gone at once (no DELETED.* copies), a wrong password is answered
# at once (not after 3 s), and without idled IDLE would poll every second (not 60 s).
IMAPD_CONF = """\
configdirectory: {root}/conf
defaultpartition: default
partition-default: {root}/spool
sievedir: {root}/conf/sieve
cyrus_user: {user}
servername: {servername}
idlesocket: {root}/run/idle
lmtpsocket: {root}/run/lmtp
notifysocket: {root}/run/notify

sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: {sasldb}
sasl_mech_list: PLAIN LOGIN
allowplaintext: yes
tls_server_cert: {root}/tls/cert.pem
tls_server_key: {root}/tls/key.pem

autocreate_quota: 0
autocreate_inbox_folders: Drafts | Sent | Trash | Junk | Archive
autocreate_subscribe_folders: Drafts | Sent | Trash
xlist-drafts: Drafts
xlist-sent: Sent
xlist-trash: Trash
xlist-junk: Junk
xlist-archive: Archive

delete_mode: immediate
failedloginpause: 0
imapidlepoll: 1
"""

# every command needs -C: children do not inherit master's config path
CYRUS_CONF = """\
START {{
  recover cmd="{bin}/ctl_cyrusdb -C {conf} -r"
}}
SERVICES {{
  imap cmd="{bin}/imapd -C {conf}" listen="127.0.0.1:{imap_port}" proto="tcp4" prefork=1
  imaps cmd="{bin}/imapd -s -C {conf}" listen="127.0.0.1:{imaps_port}" proto="tcp4" prefork=1
}}
DAEMON {{
  idled cmd="{bin}/idled -C {conf}"
}}
"""

# LD_PRELOAD into every Cyrus process (built by `make cyrus`); nothing here changes what IMAP says.
PRELOAD_SOURCE = r"""/* mailflow test rig: preloaded into the Cyrus processes.
 * syslog(3) appends to $CYRUS_RIG_LOG: Cyrus logs only through syslog, and a container has no
 *   /dev/log (Cassandane, Cyrus's own test suite, preloads a library for this too).
 * fsync/fdatasync do nothing: a test server needs no durability (Dovecot's rig: mail_fsync = never).
 * accept() sets TCP_NODELAY: Cyrus 3.6 leaves Nagle on, so after the two TLS 1.3 session tickets its
 *   greeting waits for the client's delayed ACK, 40 ms on every IMAPS connection and STARTTLS. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

static char rig_ident[64] = "cyrus";
static int rig_mask = 0xff;
static const char *const rig_levels[] = {"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"};

void openlog(const char *ident, int option, int facility) {
    (void)option; (void)facility;
    if (ident) snprintf(rig_ident, sizeof rig_ident, "%s", ident);
}
void closelog(void) {}
int setlogmask(int mask) { int old = rig_mask; if (mask) rig_mask = mask; return old; }

static void rig_log(int priority, const char *format, va_list args) {
    int saved = errno;
    const char *path = getenv("CYRUS_RIG_LOG");
    if (!path || !(LOG_MASK(LOG_PRI(priority)) & rig_mask)) return;
    char line[16384];
    int n = snprintf(line, sizeof line - 2, "%s[%d]: %s: ", rig_ident, (int)getpid(), rig_levels[LOG_PRI(priority)]);
    errno = saved; /* for %m */
    vsnprintf(line + n, sizeof line - 2 - n, format, args);
    n = (int)strlen(line);
    line[n++] = '\n';
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) { ssize_t written = write(fd, line, n); (void)written; close(fd); }
    errno = saved;
}

void vsyslog(int priority, const char *format, va_list args) { rig_log(priority, format, args); }
void __vsyslog_chk(int priority, int flag, const char *format, va_list args) {
    (void)flag; rig_log(priority, format, args);
}
void syslog(int priority, const char *format, ...) {
    va_list args; va_start(args, format); rig_log(priority, format, args); va_end(args);
}
void __syslog_chk(int priority, int flag, const char *format, ...) {
    (void)flag; va_list args; va_start(args, format); rig_log(priority, format, args); va_end(args);
}

int fsync(int fd) { (void)fd; return 0; }
int fdatasync(int fd) { (void)fd; return 0; }

int accept(int socket_fd, struct sockaddr *address, socklen_t *length) {
    static int (*real_accept)(int, struct sockaddr *, socklen_t *);
    if (!real_accept) real_accept = (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
    int connection = real_accept(socket_fd, address, length);
    if (connection >= 0) {
        int saved = errno, one = 1;
        setsockopt(connection, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* fails quietly on a UNIX socket */
        errno = saved;
    }
    return connection;
}
"""


def main(argv: Sequence[str]) -> int:
    """``python -m tests.rig.cyrus install``: what ``make cyrus`` runs."""
    if list(argv) != ["install"]:
        print("usage: python -m tests.rig.cyrus install", file=sys.stderr)
        return 2
    try:
        root = install()
    except (ToolMissing, RigError) as exc:
        print(f"Cyrus for the tests could not be set up: {exc}", file=sys.stderr)
        print("the Cyrus tests are skipped without it (and fail under CI=true)", file=sys.stderr)
        return 1
    print(f"Cyrus IMAP {root.version} for the tests is in {root.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
