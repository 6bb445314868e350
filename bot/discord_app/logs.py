"""Logging for the bot process: one format, INFO by default, and the token redacted everywhere.

discord.py at DEBUG logs whole gateway payloads and URLs carrying interaction tokens, so its
loggers stay at INFO unless LOG_LEVEL=DEBUG is asked for explicitly. The redaction filter sits on
the handlers (logger filters do not see records propagated from child loggers).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"
REDACTED = "[redacted]"
QUIET_LOGGERS = ("discord", "discord.gateway", "discord.http", "discord.client", "discord.state")


class RedactFilter(logging.Filter):
    """Replace every secret in a record's message, arguments and traceback text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced."""
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Freeze the formatted message and traceback with secrets removed; never drops a record."""
        if not self.secrets:
            return True
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """Set levels and, if the entry point has not, a stderr handler; add redaction to all handlers."""
    root = logging.getLogger()
    if not root.handlers:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(stream)
    root.setLevel(level)
    quiet = logging.DEBUG if level == "DEBUG" else max(logging.INFO, logging.getLevelName(level))
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
    redactor = RedactFilter(secrets)
    for handler in root.handlers:
        handler.filters = [f for f in handler.filters if not isinstance(f, RedactFilter)]
        handler.addFilter(redactor)
