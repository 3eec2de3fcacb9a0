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
    # bound by characters and by UTF-8 bytes: file systems allow 255 bytes, and a name may get a prefix
    stem, dot, ext = name.rpartition(".")
    if len(name) > limit:
        name = (stem[:limit] + dot + ext) if dot and stem and len(ext) < 16 else name[:limit]
    while len(name) > limit or len(name.encode("utf-8")) > limit:
        stem, dot, ext = name.rpartition(".")
        name = stem[:-1] + dot + ext if dot and stem and len(ext) < 16 else name[:-1]
    return name
