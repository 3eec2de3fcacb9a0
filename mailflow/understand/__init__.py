"""Pure understanding: the bytes of one message in, an :class:`~mailflow.model.Understanding` out.

No I/O, no clock, no database: everything it needs comes in a
:class:`Context`.  :func:`understand` never raises; a message it cannot read
comes back with kind ``"unreadable"`` and the error.

Modules, one job each: ``mime`` (parts, charsets, sizes), ``headers``,
``calendar`` and ``events`` (icalendar parsing, choice of the main event,
recurrence), ``zones``, ``people``, ``links``, ``forwards``, ``requests`` and
``when`` (plain requests and proposed times), ``replies``, ``trust``,
``roles``, and ``facade`` (the order of questions).
"""

from __future__ import annotations

from mailflow.model import Understanding
from mailflow.understand.calendar import is_newer
from mailflow.understand.context import Context
from mailflow.understand.facade import understand

__all__ = ["Context", "Understanding", "is_newer", "understand"]
