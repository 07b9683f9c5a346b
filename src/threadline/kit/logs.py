"""Logging that never prints a secret."""

from __future__ import annotations

import logging
import re

_PATTERNS = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1[redacted]"),
    (re.compile(r"\btl_[A-Za-z0-9_-]{16,}"), "tl_[redacted]"),
    (
        # A quoted value is hidden up to its closing quote: passphrases contain spaces.
        re.compile(
            r"(?i)((?:access_token|app_secret|secret|password|token)[\"']?\s*[=:]\s*)"
            r"(?:([\"'])(?:\\.|(?!\2).)*\2|[\"']?[^\s\"'&,}]+)"
        ),
        r"\1\2[redacted]\2",
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # One line per HTTP call is noise at INFO; keep its warnings.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
