"""mailflow: runs the informational-interview routine for its owner, by e-mail."""

from __future__ import annotations

__version__ = "0.1.0"
