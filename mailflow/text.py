"""Making text from strangers safe to show, log or put in a header or a file name."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def one_line(text: str, limit: int = 200) -> str:
    """``text`` with control characters (CR, LF, bidi overrides...) made spaces, bounded."""
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def safe_filename(name: str, fallback: str = "attachment", limit: int = 120) -> str:
    """A file name with no directory part, no control characters and no leading dot."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/")).split("/")[-1]
    name = _CONTROL.sub("", name)
    name = re.sub(r'[<>:"|?*]', "_", name).strip().lstrip(".").strip()
    if not name or name in {".", ".."}:
        name = fallback
    if len(name) > limit:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: limit - len(ext) - 1] + dot + ext) if dot and len(ext) < 16 else name[:limit]
    return name
