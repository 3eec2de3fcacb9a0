"""The test rig: private servers on loopback (Dovecot, aiosmtpd) and a fault proxy to put in front of them."""

from tests.rig.proxy import FaultProxy

__all__ = ["FaultProxy"]
