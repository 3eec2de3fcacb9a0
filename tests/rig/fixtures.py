"""pytest fixtures for the real servers (loaded by ``tests/conftest.py``).

``dovecot``       session: the running ``Dovecot`` (tests.rig.dovecot)
``cyrus``         session: the running ``Cyrus`` (tests.rig.cyrus; `make cyrus` gets it)
``imap_user``     function: a fresh ``ImapUser`` on Dovecot with an empty mailbox; the
                  server log must show no error during the test
``imap_server``   function, parametrised: Dovecot, then Cyrus (ids ``[dovecot]`` / ``[cyrus]``,
                  marked ``dovecot`` / ``cyrus``: ``-m "not cyrus"`` leaves Cyrus out)
``server_user``   function: a fresh user on ``imap_server``, its log checked likewise
``rig_user``      function: ``rig_user("cyrus")`` (or a server) makes such a user on demand,
                  for fixtures that are parametrised themselves (the contract suites)
``smtp_server``   function: the session's STARTTLS ``SmtpServer``, reset
``smtps_server``  function: the session's implicit-TLS ``SmtpServer``, reset
``ca_file``       session: the CA file that verifies both servers
``rig_certificate`` session: that certificate with its key

Without Dovecot, Cyrus (or openssl) a test using these is skipped with a message
saying how to install it; with ``CI=true`` it fails instead, so CI never
passes by skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from tests.rig.cyrus import IMAP_SERVERS, Cyrus, RigUser
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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "cyrus: needs the private Cyrus IMAP 3.6 (`make cyrus`; skipped without it on a developer machine, "
        "fails under CI=true)",
    )


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


def _running(server: Dovecot | Cyrus) -> Iterator[Dovecot | Cyrus]:
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def dovecot(rig_certificate: Certificate) -> Iterator[Dovecot]:
    try:
        server = Dovecot(rig_certificate)
    except ToolMissing as exc:
        missing(str(exc))
    yield from _running(server)  # type: ignore[misc]


@pytest.fixture(scope="session")
def cyrus(rig_certificate: Certificate) -> Iterator[Cyrus]:
    try:
        server = Cyrus(rig_certificate)
    except ToolMissing as exc:
        missing(str(exc))
    yield from _running(server)  # type: ignore[misc]


def _log_checked(server: Dovecot | Cyrus, request: pytest.FixtureRequest) -> None:
    """After the test, ``server`` must have logged no error since now (and runs again if it was stopped)."""
    mark = server.log_mark()

    def check_the_log() -> None:
        if not server.running:
            server.restart()  # a test that stopped it must not break the ones after
        errors = server.log_errors(since=mark)
        if errors:
            name = type(server).__name__
            pytest.fail(f"{name} logged errors during the test:\n" + "\n".join(errors), pytrace=False)

    request.addfinalizer(check_the_log)


@pytest.fixture
def imap_user(dovecot: Dovecot, request: pytest.FixtureRequest) -> ImapUser:
    _log_checked(dovecot, request)
    return dovecot.new_user(request.node.name)


@pytest.fixture(params=[pytest.param(name, marks=getattr(pytest.mark, name)) for name in IMAP_SERVERS])
def imap_server(request: pytest.FixtureRequest) -> Dovecot | Cyrus:
    """The session's Dovecot, then its Cyrus: the test runs on both."""
    server: Dovecot | Cyrus = request.getfixturevalue(request.param)
    return server


@pytest.fixture
def rig_user(request: pytest.FixtureRequest) -> Callable[[str | Dovecot | Cyrus], RigUser]:
    """Makes fresh users on a server (by fixture name, or the server), each server's log checked."""

    def make(server: str | Dovecot | Cyrus) -> RigUser:
        if isinstance(server, str):
            server = request.getfixturevalue(server)
        _log_checked(server, request)
        user: RigUser = server.new_user(request.node.name)
        return user

    return make


@pytest.fixture
def server_user(imap_server: Dovecot | Cyrus, rig_user: Callable[[Dovecot | Cyrus], RigUser]) -> RigUser:
    """A fresh user on ``imap_server``."""
    return rig_user(imap_server)


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
