"""What the rig needs from the machine: tools, an unprivileged user, ports, a certificate.

Kept apart from the servers so that ``dovecot.py`` and ``smtp.py`` share one
certificate and one idea of "the user the servers run as".
"""

from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"  # Dovecot listens on IPv4 only; "localhost" may try ::1 first
TOOL_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/lib/dovecot", "/usr/libexec/dovecot", "/sbin")
INSTALL_HINT = "install it with `sudo apt-get install dovecot-imapd` (Debian/Ubuntu), then rerun the tests"


class RigError(RuntimeError):
    """The rig itself could not do its job (not a failure of the code under test)."""


class ToolMissing(RigError):
    """A program the rig needs is not installed; the message says how to install it."""


def find_tool(name: str) -> Path | None:
    """``name`` on PATH or in the sbin/libexec dirs a normal user's PATH lacks."""
    found = shutil.which(name)
    if found:
        return Path(found)
    for directory in TOOL_DIRS:
        candidate = Path(directory) / name
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def require_tool(name: str, hint: str = INSTALL_HINT) -> Path:
    path = find_tool(name)
    if path is None:
        raise ToolMissing(f"`{name}` is not installed: {hint}")
    return path


@dataclass(frozen=True)
class RunAs:
    """The one unprivileged user every server process runs as.

    Dovecot refuses to serve mail as root, so under root it is ``nobody``
    (or ``$DOVECOT_TEST_USER``); otherwise it is the current user.
    """

    name: str
    uid: int
    gid: int

    @classmethod
    def for_tests(cls) -> RunAs:
        if os.geteuid() != 0:
            entry = pwd.getpwuid(os.geteuid())
            return cls(entry.pw_name, entry.pw_uid, os.getegid())
        entry = pwd.getpwnam(os.environ.get("DOVECOT_TEST_USER", "nobody"))
        if entry.pw_uid == 0 or entry.pw_gid == 0:
            raise RigError(
                f"DOVECOT_TEST_USER={entry.pw_name} is root; Dovecot refuses to serve mail as root"
            )
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)

    @property
    def switches(self) -> bool:
        """True when processes must be started as another user (pytest runs as root)."""
        return os.geteuid() != self.uid

    def popen_args(self) -> dict[str, Any]:
        if not self.switches:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def own(self, path: Path) -> None:
        if self.switches:
            os.chown(path, self.uid, self.gid)


def make_tmpdir(prefix: str, run_as: RunAs) -> Path:
    """A private temp dir that ``run_as`` can traverse (mode 0711, every parent +x)."""
    for parent in (tempfile.gettempdir(), "/tmp"):
        if not run_as.switches or _traversable_by_others(Path(parent)):
            path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
            path.chmod(0o711)
            return path
    raise RigError(f"no temp dir that user {run_as.name} can traverse; set TMPDIR to one (like /tmp)")


def _traversable_by_others(path: Path) -> bool:
    return all(part.stat().st_mode & 0o001 for part in (path, *path.parents))


def free_port() -> int:
    """A port free right now on 127.0.0.1 (the caller retries if it loses the race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def port_is_open(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def greets(port: int, prefix: bytes, host: str = HOST) -> bool:
    """True once a server on ``port`` sends a greeting starting with ``prefix``."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as conn:
            return conn.recv(256).startswith(prefix)
    except OSError:
        return False


_PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn``: the child gets SIGTERM when pytest dies, even by ``kill -9``.

    Set after the user switch (Popen does that first), because changing
    credentials clears the parent-death signal.
    """
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)

    return preexec


@dataclass(frozen=True)
class Certificate:
    """A self-signed P-256 certificate for localhost and 127.0.0.1; it is its own CA."""

    cert_file: Path
    key_file: Path

    @property
    def ca_file(self) -> Path:
        return self.cert_file

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert_file))


def make_certificate(directory: Path) -> Certificate:
    """Make a fresh certificate in ``directory`` with openssl (a few ms)."""
    openssl = require_tool("openssl", "install it with `sudo apt-get install openssl`")
    cert, key = directory / "rig-cert.pem", directory / "rig-key.pem"
    command = [
        str(openssl), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-days", "7", "-subj", "/CN=mailflow test rig",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout", str(key), "-out", str(cert),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, check=False, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RigError(f"openssl could not make a certificate: {done.stderr.decode(errors='replace')}")
    cert.chmod(0o644)
    return Certificate(cert, key)
