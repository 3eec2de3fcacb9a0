"""What understanding needs to know about its owner, set once per run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from mailflow.config import Settings

DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Context:
    """The owner and the rules of trust; frozen so one value serves a whole run.

    ``is_our_message_id`` is supplied by the store: it answers whether a
    Message-ID (written ``<id>``) is one mailflow sent.  Without it, a
    Message-ID in ``message_id_domain`` counts as ours.
    """

    owner_addresses: frozenset[str] = frozenset()
    owner_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    authserv_id: str = ""
    request_threshold: float = 0.6
    is_our_message_id: Callable[[str], bool] | None = None
    message_id_domain: str = ""
    #: mailflow's own addresses (the dedicated mailbox, the SMTP sender): never a counterpart
    own_addresses: frozenset[str] = frozenset()
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
    #: used when a message has no usable Date header (the engine passes the fetch time)
    received_at: datetime | None = None

    def is_ours(self, message_id: str) -> bool:
        """Whether ``message_id`` is one mailflow sent."""
        if self.is_our_message_id is not None:
            return bool(self.is_our_message_id(message_id))
        domain = self.message_id_domain.strip().lower()
        return bool(domain) and message_id.lower().rstrip(">").endswith("@" + domain)

    def is_owner(self, address: str) -> bool:
        return address.lower() in self.owner_addresses

    @property
    def not_counterparts(self) -> frozenset[str]:
        return self.owner_addresses | self.own_addresses

    @classmethod
    def from_settings(
        cls, settings: Settings, is_our_message_id: Callable[[str], bool] | None = None
    ) -> Context:
        """The context for ``settings`` (owner, [trust], [sending], [data], the mailbox addresses)."""
        own = {
            settings.mailbox.address,
            settings.mailbox.username,
            settings.smtp.from_address if settings.smtp else "",
        }
        if settings.drafts is not None:
            own.add(settings.drafts.username)
        return cls(
            owner_addresses=frozenset(a.lower() for a in settings.owner.addresses),
            owner_zone=settings.owner_zone(),
            authserv_id=settings.trust.authserv_id.strip(),
            request_threshold=settings.trust.request_threshold,
            is_our_message_id=is_our_message_id,
            message_id_domain=settings.sending.message_id_domain.strip().lower(),
            own_addresses=frozenset(a.strip().lower() for a in own if a and "@" in a),
            max_attachment_bytes=settings.data.max_attachment_bytes,
        )
