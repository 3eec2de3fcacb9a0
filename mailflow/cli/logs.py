"""Logging: human-readable lines on stderr by default, JSON lines with ``--log-format json``."""

from __future__ import annotations

import json
import logging
import sys

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def setup_logging(level: str, fmt: str) -> None:
    if level not in LEVELS:
        raise ValueError(f'--log-level: expected one of {", ".join(LEVELS)}, got "{level}"')
    if fmt not in {"text", "json"}:
        raise ValueError(f'--log-format: expected text or json, got "{fmt}"')
    logger = logging.getLogger("mailflow")
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(LEVELS[level])
    logger.propagate = False
