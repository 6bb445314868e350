"""Logging: the token never reaches a log line, and discord.py stays out of DEBUG unless asked."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.discord_app.logs import REDACTED, RedactFilter, configure_logging

TOKEN = "MTIzNDU2Nzg5.secret-token.value"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """A root handler writing to a string, removed (with levels restored) afterwards."""
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    saved_handlers, saved_level = root.handlers[:], root.level
    saved = {name: logging.getLogger(name).level for name in ("discord", "discord.gateway", "discord.http")}
    root.handlers = [handler]
    yield stream
    root.handlers, root.level = saved_handlers, saved_level
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def test_token_is_redacted_from_messages_arguments_and_tracebacks(captured: io.StringIO) -> None:
    configure_logging("INFO", secrets=[TOKEN])
    log = logging.getLogger("discord.http")
    log.info("Authorization: Bot %s", TOKEN)
    log.warning("plain " + TOKEN)
    try:
        raise RuntimeError(f"bad header {TOKEN}")
    except RuntimeError:
        log.exception("request failed")
    text = captured.getvalue()
    assert TOKEN not in text
    assert text.count(REDACTED) == 3


def test_discord_loggers_stay_at_info_unless_debug_is_asked_for(captured: io.StringIO) -> None:
    configure_logging("INFO", secrets=[TOKEN])
    logging.getLogger("discord.gateway").debug("whole gateway payload with %s", TOKEN)
    assert captured.getvalue() == ""
    assert logging.getLogger("discord").getEffectiveLevel() == logging.INFO


def test_debug_level_opens_discord_debug_still_redacted(captured: io.StringIO) -> None:
    configure_logging("DEBUG", secrets=[TOKEN])
    logging.getLogger("discord.gateway").debug("payload %s", TOKEN)
    assert captured.getvalue() == f"DEBUG discord.gateway: payload {REDACTED}\n"


def test_configuring_twice_keeps_one_redaction_filter(captured: io.StringIO) -> None:
    configure_logging("INFO", secrets=[TOKEN])
    configure_logging("INFO", secrets=[TOKEN])
    handler = logging.getLogger().handlers[0]
    assert sum(isinstance(f, RedactFilter) for f in handler.filters) == 1


def test_filter_without_secrets_leaves_records_alone() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "a %s", ("b",), None)
    assert RedactFilter([]).filter(record)
    assert record.args == ("b",)
