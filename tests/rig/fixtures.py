"""pytest fixtures for the real servers (loaded by ``tests/conftest.py``).

``dovecot``       session: the running ``Dovecot`` (tests.rig.dovecot)
``imap_user``     function: a fresh ``ImapUser`` with an empty mailbox; the
                  server log must show no error during the test
``smtp_server``   function: the session's STARTTLS ``SmtpServer``, reset
``smtps_server``  function: the session's implicit-TLS ``SmtpServer``, reset
``ca_file``       session: the CA file that verifies both servers
``rig_certificate`` session: that certificate with its key

Without Dovecot (or openssl) a test using these is skipped with a message
saying how to install it; with ``CI=true`` it fails instead, so CI never
passes by skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from tests.rig.dovecot import Dovecot, ImapUser
from tests.rig.smtp import SmtpServer
from tests.rig.tools import Certificate, RunAs, ToolMissing, make_certificate, make_tmpdir

_DOVECOT_FIXTURES = {"dovecot", "imap_user"}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def missing(reason: str) -> NoReturn:
    """Skip on a developer machine; fail under CI=true."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: integration tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs Dovecot, so ``-m "not dovecot"`` leaves them out."""
    for item in items:
        if _DOVECOT_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.dovecot)


@pytest.fixture(scope="session")
def rig_certificate() -> Iterator[Certificate]:
    directory = make_tmpdir("mailflow-rig-tls-", RunAs.for_tests())
    try:
        certificate = make_certificate(directory)
    except ToolMissing as exc:
        shutil.rmtree(directory, ignore_errors=True)
        missing(str(exc))
    yield certificate
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def ca_file(rig_certificate: Certificate) -> Path:
    return rig_certificate.ca_file


@pytest.fixture(scope="session")
def dovecot(rig_certificate: Certificate) -> Iterator[Dovecot]:
    try:
        server = Dovecot(rig_certificate)
    except ToolMissing as exc:
        missing(str(exc))
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def imap_user(dovecot: Dovecot, request: pytest.FixtureRequest) -> Iterator[ImapUser]:
    mark = dovecot.log_mark()
    yield dovecot.new_user(request.node.name)
    if not dovecot.running:
        dovecot.restart()  # a test that stopped it must not break the ones after
    errors = dovecot.log_errors(since=mark)
    if errors:
        pytest.fail("Dovecot logged errors during the test:\n" + "\n".join(errors), pytrace=False)


def _smtp(certificate: Certificate, *, implicit_tls: bool) -> Iterator[SmtpServer]:
    server = SmtpServer(certificate, implicit_tls=implicit_tls)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def _smtp_starttls(rig_certificate: Certificate) -> Iterator[SmtpServer]:
    yield from _smtp(rig_certificate, implicit_tls=False)


@pytest.fixture(scope="session")
def _smtp_implicit_tls(rig_certificate: Certificate) -> Iterator[SmtpServer]:
    yield from _smtp(rig_certificate, implicit_tls=True)


@pytest.fixture
def smtp_server(_smtp_starttls: SmtpServer) -> Iterator[SmtpServer]:
    _smtp_starttls.reset()
    yield _smtp_starttls
    _smtp_starttls.reset()


@pytest.fixture
def smtps_server(_smtp_implicit_tls: SmtpServer) -> Iterator[SmtpServer]:
    _smtp_implicit_tls.reset()
    yield _smtp_implicit_tls
    _smtp_implicit_tls.reset()
