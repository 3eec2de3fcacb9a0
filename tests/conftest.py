"""Shared fixtures; the real-server rig (Dovecot, aiosmtpd) comes from tests/rig/fixtures.py."""

pytest_plugins = ["tests.rig.fixtures"]
