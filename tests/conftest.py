"""Shared fixtures; the real-server rig (Dovecot, Cyrus, aiosmtpd) comes from tests/rig/fixtures.py."""

import os
from collections.abc import Iterator

import pytest

from mailflow import clock

pytest_plugins = ["tests.rig.fixtures"]


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
