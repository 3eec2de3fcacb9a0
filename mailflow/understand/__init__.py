"""Pure understanding: the bytes of one message in, an :class:`~mailflow.model.Understanding` out.

No I/O, no clock, no database: everything it needs comes in a
:class:`Context`.  :func:`understand` never raises; a message it cannot read
comes back with kind ``"unreadable"`` and the error.

Modules, one job each: ``mime`` (parts, charsets, sizes), ``headers``,
``calendar`` and ``events`` (icalendar parsing, choice of the main event,
recurrence), ``rules`` (which recurrence rules are walked, and how far),
``vtimezones`` (VTIMEZONEs made safe to build), ``zones``, ``people``,
``links``, ``forwards``, ``requests`` and ``when`` (plain requests and
proposed times), ``replies``, ``trust``, ``roles``, and ``facade`` (the order
of questions).

Every input is a stranger's: sizes are checked before parsing, patterns are
linear over bounded text, rules are expanded only when they keep matching and
only up to a horizon, and dates out of 1900-2200 are refused with a reason.
``bench/fuzz_understand.py`` and tests/fixtures/hostile keep it so.
"""

from __future__ import annotations

from mailflow.model import Understanding
from mailflow.understand.calendar import is_newer
from mailflow.understand.context import Context
from mailflow.understand.facade import understand

__all__ = ["Context", "Understanding", "is_newer", "understand"]
