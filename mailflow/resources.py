"""Files shipped with mailflow: the default templates and the example config.

In a wheel they live inside the package (``mailflow/_shipped``); in a source
checkout they are read from the top-level ``templates/`` and
``config.example.toml``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_SHIPPED = _PACKAGE / "_shipped"
_CHECKOUT = _PACKAGE.parent


def default_templates_dir() -> Path:
    for candidate in (_SHIPPED / "templates", _CHECKOUT / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the default templates are missing from this installation")


def example_config_path() -> Path:
    for candidate in (_SHIPPED / "config.example.toml", _CHECKOUT / "config.example.toml"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("config.example.toml is missing from this installation")


def example_config_text() -> str:
    return example_config_path().read_text(encoding="utf-8")
