"""A private Dovecot 2.3 for the tests, started from a throwaway config in a temp dir.

Loopback only, two free ports (plain IMAP that offers STARTTLS, and IMAPS),
Maildir++ with ``/`` as separator and ``listescape`` (so ``.`` is allowed in
names), Drafts/Sent/Trash with their SPECIAL-USE flags, IDLE/CONDSTORE/QRESYNC.

Users: any ``test-*`` name logs in with ``test-password`` (a static passdb, so
each test gets a fresh empty mailbox just by picking a new name), plus
``alice``/``secret1`` and ``bob``/``secret2``.

Every Dovecot process runs as one unprivileged user (see ``RunAs``): Dovecot
refuses to serve mail as root.  The master runs in its own process group and
dies with pytest (PDEATHSIG), so no server outlives a test run.
"""

from __future__ import annotations

import contextlib
import grp
import itertools
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from imapclient import IMAPClient
from imapclient.imap_utf7 import encode as utf7_encode

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
    require_tool,
)

TEST_PASSWORD = "test-password"
FIXED_USERS = {"alice": "secret1", "bob": "secret2"}
DOMAIN = "example.org"
START_TIMEOUT = 5.0
STOP_GRACE = 0.3  # Dovecot's master reaps its children in 100 ms steps
Security = Literal["tls", "starttls", "none"]

_ERROR_LINE = re.compile(r": (Error|Fatal|Panic): ")
# what a login process says when the server is stopped under it (it loses anvil before its own SIGTERM)
_SHUTDOWN_NOISE = re.compile(r"read\(anvil\) failed: EOF")
_APPENDUID = re.compile(rb"APPENDUID \d+ (\d+)")
_MAILDIR_FLAGS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S", "\\Deleted": "T"}
_unique = itertools.count(1)


def dovecot_binary() -> Path:
    """The ``dovecot`` program, if it is version 2.3 (the config below is 2.3 syntax)."""
    binary = require_tool("dovecot")
    done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False)
    version = done.stdout.strip()
    if not version.startswith("2.3."):
        raise ToolMissing(
            f"Dovecot {version or '(unknown version)'} is installed but the tests need 2.3 "
            "(2.4 renamed the settings they use): install Debian 12's dovecot-imapd"
        )
    return binary


class ImapClients:
    """What every rig IMAP server offers a test: a verified, logged-in client and one APPEND.

    Needs ``host``, ``imap_port``, ``imaps_port``, ``certificate`` and ``password_for``.
    """

    host: str
    imap_port: int
    imaps_port: int
    certificate: Certificate

    def password_for(self, user: str) -> str:
        raise NotImplementedError

    def connect(
        self, user: str, *, security: Security = "tls", password: str | None = None, timeout: float = 10.0
    ) -> IMAPClient:
        """A logged-in client; TLS is verified against the rig's CA."""
        port = self.imaps_port if security == "tls" else self.imap_port
        context = self.certificate.client_context()
        client = IMAPClient(self.host, port, ssl=security == "tls", ssl_context=context, timeout=timeout)
        if security == "starttls":
            client.starttls(context)
        client.login(user, password if password is not None else self.password_for(user))
        return client

    def append(self, user: str, folder: str, raw: bytes, flags: Sequence[str] = ()) -> int:
        """APPEND one message (creating the folder if needed); returns its UID."""
        client = self.connect(user, security="none")
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            response = client.append(folder, raw, flags=tuple(flags))
        finally:
            client.logout()
        found = _APPENDUID.search(response if isinstance(response, bytes) else str(response).encode())
        if not found:
            raise RigError(f"APPEND to {folder} returned no APPENDUID: {response!r}")
        return int(found.group(1))


class Dovecot(ImapClients):
    """One running Dovecot; ``start()``, ``stop()``, ``restart()`` (same ports), ``close()``."""

    host = HOST

    def __init__(self, certificate: Certificate, *, run_as: RunAs | None = None) -> None:
        self.binary = dovecot_binary()
        self.lda = require_tool("dovecot-lda")
        self.run_as = run_as or RunAs.for_tests()
        self.certificate = certificate
        self.root = make_tmpdir("mailflow-dovecot-", self.run_as)
        self.imap_port = 0
        self.imaps_port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._stopped_at: list[int] = []  # log positions of stops: shutdown noise after them is expected

    # -- paths ------------------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def log_file(self) -> Path:
        return self.root / "dovecot.log"

    @property
    def ca_file(self) -> Path:
        """The CA bundle a client must trust to verify this server."""
        return self.certificate.ca_file

    def home(self, user: str) -> Path:
        return self.root / "mail" / user

    def maildir(self, user: str, folder: str = "INBOX") -> Path:
        """The Maildir++ directory holding ``folder`` (``cur``/``new``/``tmp``)."""
        base = self.home(user) / "Maildir"
        if folder.upper() == "INBOX":
            return base
        return base / ("." + ".".join(_storage_name(part) for part in folder.split("/")))

    # -- lifecycle --------------------------------------------------------
    def start(self) -> None:
        """Start on new free ports (retrying when another process takes one first)."""
        for _attempt in range(5):
            self.imap_port, self.imaps_port = free_port(), free_port()
            if self.imap_port != self.imaps_port and self._launch():
                return
        raise RigError(f"Dovecot did not start; see {self.log_file}:\n{self._startup_output()}")

    def restart(self) -> None:
        """Stop, then start again on the same ports (mail and config are kept)."""
        self.stop()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._launch():
                return
            time.sleep(0.05)
        raise RigError(f"Dovecot did not restart on its ports:\n{self._startup_output()}")

    def stop(self) -> None:
        """SIGTERM to the whole process group (about 0.1 s; the master alone takes 1 s), then SIGKILL."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        self._stopped_at.append(self.log_mark())
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline:
            # again and again: a login process forked just after a signal would keep the master waiting
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=0.02)
                return
            except subprocess.TimeoutExpired:
                continue
        _signal_group(process.pid, signal.SIGKILL)
        process.wait(timeout=5)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _launch(self) -> bool:
        self._write_files()
        with (self.root / "master.out").open("wb") as output:
            self._process = subprocess.Popen(
                [str(self.binary), "-F", "-c", str(self.config_file)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(),
                **self.run_as.popen_args(),
            )
        return self._wait_until_serving()

    def _wait_until_serving(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                self._process = None
                return False
            # the greeting means the master and a login process are up, not just the socket
            if greets(self.imap_port, b"* OK") and port_is_open(self.imaps_port):
                return True
            time.sleep(0.01)
        self.stop()
        return False

    def _startup_output(self) -> str:
        texts = [
            p.read_text(errors="replace") for p in (self.root / "master.out", self.log_file) if p.exists()
        ]
        return "\n".join(texts)[-3000:]

    def _write_files(self) -> None:
        for name in ("tls", "mail", "run", "state"):
            (self.root / name).mkdir(exist_ok=True)
        tls = self.root / "tls"
        # the key is 0600: Dovecot's user needs its own copy
        shutil.copyfile(self.certificate.cert_file, tls / "cert.pem")
        shutil.copyfile(self.certificate.key_file, tls / "key.pem")
        (tls / "key.pem").chmod(0o600)
        (self.root / "users").write_text("".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in FIXED_USERS.items()))
        self.config_file.write_text(self._config_text())
        written = [self.config_file, self.root / "users", tls / "cert.pem", tls / "key.pem"]
        for path in [self.root, *(self.root / n for n in ("tls", "mail", "run", "state")), *written]:
            self.run_as.own(path)

    def _config_text(self) -> str:
        return DOVECOT_CONF.format(
            root=self.root,
            user=self.run_as.name,
            uid=self.run_as.uid,
            gid=self.run_as.gid,
            imap_port=self.imap_port,
            imaps_port=self.imaps_port,
            instance=self.root.name,
            domain=DOMAIN,
            gid_name=grp.getgrgid(self.run_as.gid).gr_name,
            password=TEST_PASSWORD,
        )

    # -- the log ------------------------------------------------------------
    def log_mark(self) -> int:
        """A position in the log; pass it to ``log_errors(since=...)``."""
        return self.log_file.stat().st_size if self.log_file.exists() else 0

    def log_errors(self, since: int = 0) -> list[str]:
        """Error, Fatal and Panic lines logged after ``since``.

        A LOGIN can answer OK while the mail session then fails; the cause is only here.
        """
        if not self.log_file.exists():
            return []
        with self.log_file.open("rb") as handle:
            handle.seek(since)
            text = handle.read().decode("utf-8", "replace")
        stopped = any(at >= since for at in self._stopped_at)
        return [
            line
            for line in text.splitlines()
            if _ERROR_LINE.search(line) and not (stopped and _SHUTDOWN_NOISE.search(line))
        ]

    # -- users and mail -------------------------------------------------------
    def password_for(self, user: str) -> str:
        if user.startswith("test-"):
            return TEST_PASSWORD
        if user in FIXED_USERS:
            return FIXED_USERS[user]
        raise KeyError(f"{user} is not a user of the rig (use test-* or alice/bob)")

    def user_for_address(self, address: str) -> str | None:
        """The mailbox an address delivers to: its local part, when that is a rig user."""
        local = address.strip("<> ").rpartition("@")[0] or address.strip("<> ")
        local = local.lower()
        return local if local.startswith("test-") or local in FIXED_USERS else None

    def new_user(self, hint: str = "") -> ImapUser:
        """A user nobody has used yet: its mailbox is empty (no reload, no cleanup)."""
        tag = re.sub(r"[^a-z0-9]+", "-", hint.lower()).strip("-")[:24]
        name = f"test-{next(_unique)}-{os.getpid()}" + (f"-{tag}" if tag else "")
        return ImapUser(self, name)

    def seed_maildir(
        self, user: str, folder: str, messages: Iterable[bytes], flags: Sequence[str] = ()
    ) -> int:
        """Write messages straight into the Maildir (about 18k msg/s); returns how many.

        Files get LF line endings, Maildir++ names with S= and W= sizes, and the
        Dovecot user as owner, so Dovecot indexes them on the next SELECT.
        """
        target = self._make_folder(user, folder)
        info = "".join(sorted(_MAILDIR_FLAGS[f] for f in flags if f in _MAILDIR_FLAGS))
        count = 0
        for raw in messages:
            body = raw.replace(b"\r\n", b"\n")
            size, vsize = len(body), len(body) + body.count(b"\n")
            name = f"{int(time.time())}.M{next(_unique)}P{os.getpid()}.rig,S={size},W={vsize}:2,{info}"
            path = target / "cur" / name
            path.write_bytes(body)
            self.run_as.own(path)
            count += 1
        return count

    def _make_folder(self, user: str, folder: str) -> Path:
        home = self.home(user)
        made = [p for p in (home, home / "Maildir") if not p.exists()]
        target = self.maildir(user, folder)
        if not target.exists():
            made.append(target)
        for path in made:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.run_as.own(path)
        for sub in ("cur", "new", "tmp"):
            if not (target / sub).exists():
                (target / sub).mkdir(mode=0o700)
                self.run_as.own(target / sub)
        if target != home / "Maildir" and not (target / "maildirfolder").exists():
            (target / "maildirfolder").touch()
            self.run_as.own(target / "maildirfolder")
        return target

    def deliver(self, user: str, raw: bytes, *, folder: str = "INBOX", sender: str = "") -> None:
        """Deliver like an MTA would, through ``dovecot-lda`` (one process, about 8 ms)."""
        command = [str(self.lda), "-c", str(self.config_file), "-d", user, "-m", folder]
        if sender:
            command += ["-f", sender]
        done = subprocess.run(
            command, input=raw, capture_output=True, check=False, timeout=10, **self.run_as.popen_args()
        )
        if done.returncode != 0:
            detail = done.stderr.decode("utf-8", "replace").strip()
            raise RigError(f"dovecot-lda to {user} failed with exit code {done.returncode}: {detail}")


@dataclass(frozen=True)
class ImapUser:
    """A rig user bound to its server; what the ``imap_user`` fixture gives a test."""

    server: Dovecot
    name: str

    @property
    def password(self) -> str:
        return self.server.password_for(self.name)

    @property
    def address(self) -> str:
        return f"{self.name}@{DOMAIN}"

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def imap_port(self) -> int:
        return self.server.imap_port

    @property
    def imaps_port(self) -> int:
        return self.server.imaps_port

    @property
    def ca_file(self) -> Path:
        return self.server.ca_file

    def connect(self, security: Security = "tls") -> IMAPClient:
        return self.server.connect(self.name, security=security)

    def append(self, folder: str, raw: bytes, flags: Sequence[str] = ()) -> int:
        return self.server.append(self.name, folder, raw, flags)

    def seed(self, folder: str, messages: Iterable[bytes], flags: Sequence[str] = ()) -> int:
        return self.server.seed_maildir(self.name, folder, messages, flags)

    def deliver(self, raw: bytes, *, folder: str = "INBOX", sender: str = "") -> None:
        self.server.deliver(self.name, raw, folder=folder, sender=sender)

    def maildir(self, folder: str = "INBOX") -> Path:
        return self.server.maildir(self.name, folder)


def _storage_name(part: str) -> str:
    """One folder-name level as Maildir++ stores it: modified UTF-7, listescape'd."""
    encoded = utf7_encode(part).decode("ascii")
    encoded = encoded.replace("\\", "\\5c").replace(".", "\\2e")
    return "\\7e" + encoded[1:] if encoded.startswith("~") else encoded


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


# `{` must end its line in Dovecot 2.3 ("Garbage after '{'" otherwise).
DOVECOT_CONF = """\
instance_name = {instance}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
hostname = rig.{domain}
postmaster_address = postmaster@{domain}

default_internal_user = {user}
default_internal_group = {gid_name}
default_login_user = {user}
first_valid_uid = 1
first_valid_gid = 1

ssl = yes
ssl_cert = <{root}/tls/cert.pem
ssl_key = <{root}/tls/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_verbose = yes

mail_location = maildir:~/Maildir
mail_plugins = $mail_plugins listescape
mail_fsync = never
mailbox_list_index = no
mailbox_idle_check_interval = 1 secs
lda_mailbox_autocreate = yes
lda_mailbox_autosubscribe = yes

passdb {{
  driver = static
  args = password={password}
  username_filter = test-*
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}

namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
  mailbox Junk {{
    special_use = \\Junk
    auto = create
  }}
  mailbox Archive {{
    special_use = \\Archive
    auto = create
  }}
}}

protocol imap {{
  mail_max_userip_connections = 100
}}

service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}

service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""
