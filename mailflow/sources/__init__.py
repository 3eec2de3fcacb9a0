"""Where mail comes from: an IMAP folder or a local Maildir.

Import the seam from here: ``from mailflow.sources import MailSource, Incoming, open_source``.
The kinds (``imap``, ``maildir``, ``memory``) load lazily through :func:`source_class`.
"""

from __future__ import annotations

from mailflow.sources.base import DEFAULT_BATCH, Incoming, MailSource, UidCursor, open_source, source_class

__all__ = ["DEFAULT_BATCH", "Incoming", "MailSource", "UidCursor", "open_source", "source_class"]
