"""Logging set-up: every line that leaves the process has phone numbers masked.

The filter sits on the root handlers, so it covers our loggers, uvicorn's, rq's and alembic's alike,
and it masks tracebacks too (an exception message may quote a number).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

from gateway.phone import mask

PHONE_LIKE = re.compile(r"(?<!\d)\+?\d{9,15}(?!\d)")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def mask_numbers(text: str) -> str:
    return PHONE_LIKE.sub(lambda match: mask(match.group()), text)


class MaskPhoneNumbers(logging.Filter):
    """Rewrites the record in place, so later handlers see the masked text as well."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_numbers(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_numbers(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_numbers(record.stack_info)
        return True


def configure(level: int | str = logging.INFO, stream: TextIO | None = None) -> logging.Handler:
    """Log to stderr (or `stream`) through the mask; calling it again replaces our handler."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_gateway", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._gateway = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # start-up chatter
    masking = MaskPhoneNumbers()
    for each in root.handlers:
        if not any(isinstance(f, MaskPhoneNumbers) for f in each.filters):
            each.addFilter(masking)
    return handler
