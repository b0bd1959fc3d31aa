"""Structured logs (structlog, JSON lines) that never show a full phone number, email address or message body."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Ten or more digit-ish characters ending in four digits: every phone format people type.
_PHONE = re.compile(r"\+?\(?\d[\d\-\s().]{5,}(\d{4})\b")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
# Fields that carry what a person wrote; shown only at debug level.
_CONTENT_KEYS = frozenset({"body", "text", "html", "subject", "message_body"})


def mask(value: str) -> str:
    """``+14165550199`` -> ``+*******0199``; ``jane@x.com`` -> ``j***@x.com``."""
    value = _EMAIL.sub(r"\1***@\2", value)
    return _PHONE.sub(lambda m: "+*******" + m.group(1), value)


def _mask_processor(_logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if key in _CONTENT_KEYS and method != "debug":
            event[key] = f"<{len(value)} chars>" if isinstance(value, str) else "<hidden>"
        elif isinstance(value, str) and key not in ("event", "timestamp", "level"):
            event[key] = mask(value)
    return event


def configure(level: str = "info", fmt: str = "json") -> None:
    renderer = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask_processor,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    # aiohttp's own access log is replaced by our structured one.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
