"""Shared fixtures; the real-server rig (Dovecot, aiosmtpd) comes from tests/rig/fixtures.py.

Here too: the second IMAP server, Cyrus (tests/rig/cyrus.py), and what runs a test
against both servers:

``cyrus``        session: the running ``Cyrus`` (skipped with how to get it when it is missing
                 on a developer machine: `make cyrus`; fails instead under CI=true)
``imap_server``  function, parametrised: the session's Dovecot, then its Cyrus
                 (test ids end in ``[dovecot]`` / ``[cyrus]``, marked ``dovecot`` / ``cyrus``)
``server_user``  function: a fresh user on ``imap_server``, its log checked like ``imap_user``
``rig_user``     function: ``rig_user("cyrus")`` (or a server) makes such a user on demand,
                 for fixtures that are parametrised themselves (the contract suites)

``-m "not cyrus"`` leaves the Cyrus runs out; ``-m "not dovecot and not cyrus"`` every real server.
"""

import os
from collections.abc import Callable, Iterator

import pytest

from mailflow import clock
from tests.rig.cyrus import IMAP_SERVERS, Cyrus, RigUser
from tests.rig.dovecot import Dovecot
from tests.rig.tools import Certificate, ToolMissing

pytest_plugins = ["tests.rig.fixtures"]

ImapServer = Dovecot | Cyrus


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "cyrus: needs the private Cyrus IMAP 3.6 (`make cyrus`; skipped without it on a developer machine, "
        "fails under CI=true)",
    )


@pytest.fixture(autouse=True)
def _isolated_from_the_developers_setup(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test reads the developer's own config, data or MAILFLOW_* variables."""
    for key in list(os.environ):
        if key.startswith("MAILFLOW_") and key != "MAILFLOW_TEST_PG_URL":
            monkeypatch.delenv(key)
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))


@pytest.fixture(autouse=True)
def _real_time_after_each_test() -> Iterator[None]:
    """A command run in-process with ``--now`` shifts the one clock; the next test must not inherit it."""
    yield
    clock.set_now(None)


# -- a second IMAP server ----------------------------------------------------------------


@pytest.fixture(scope="session")
def cyrus(rig_certificate: Certificate) -> Iterator[Cyrus]:
    from tests.rig.fixtures import missing  # imported by pytest_plugins: not before, or not rewritten

    try:
        server = Cyrus(rig_certificate)
    except ToolMissing as exc:
        missing(str(exc))
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(params=[pytest.param(name, marks=getattr(pytest.mark, name)) for name in IMAP_SERVERS])
def imap_server(request: pytest.FixtureRequest) -> ImapServer:
    server: ImapServer = request.getfixturevalue(request.param)
    return server


@pytest.fixture
def rig_user(request: pytest.FixtureRequest) -> Callable[[str | ImapServer], RigUser]:
    """Makes fresh users; after the test each server that made one must have logged no error."""

    def make(server: str | ImapServer) -> RigUser:
        if isinstance(server, str):
            server = request.getfixturevalue(server)
        mark = server.log_mark()
        user = server.new_user(request.node.name)

        def check_the_log() -> None:
            if not server.running:
                server.restart()  # a test that stopped it must not break the ones after
            errors = server.log_errors(since=mark)
            if errors:
                name = type(server).__name__
                pytest.fail(f"{name} logged errors during the test:\n" + "\n".join(errors), pytrace=False)

        request.addfinalizer(check_the_log)
        return user

    return make


@pytest.fixture
def server_user(imap_server: ImapServer, rig_user: Callable[[ImapServer], RigUser]) -> RigUser:
    return rig_user(imap_server)
