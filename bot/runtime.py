"""Glue shared by every front end: logging set-up and the engine built from the settings."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

from index import Engine, EngineConfig, SemanticConfig

from .settings import Settings

log = logging.getLogger(__name__)
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(level: str, stream: object = None) -> None:
    """Only the entry point configures handlers; discord.py's DEBUG firehose stays off unless asked."""
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=stream or sys.stderr, force=True)
    if level != "DEBUG":
        logging.getLogger("discord").setLevel(max(logging.INFO, logging.getLevelName(level)))


def engine_config(settings: Settings) -> EngineConfig:
    """The engine's configuration as the settings ask for it."""
    semantic = SemanticConfig(enabled=settings.semantic_search, cache_dir=settings.embedding_cache_dir)
    return EngineConfig(max_document_bytes=int(settings.max_document_mb * 1024 * 1024), semantic=semantic)


def open_engine(settings: Settings, index_dir: Path | None = None) -> Engine:
    """Open (building on first use) the index the settings or ``--index`` name."""
    return Engine.open(index_dir or settings.index_dir, settings.sources, engine_config(settings))


def warm_up(engine: Engine) -> threading.Thread:
    """Load the model and tables in the background while the front end starts, and return the thread.

    A daemon: a console closed before it ends does not wait for it.
    """
    thread = threading.Thread(target=_warm, args=(engine,), name="warm-up", daemon=True)
    thread.start()
    return thread


def _warm(engine: Engine) -> None:
    """``engine.warm``, whose failure only means the first question loads what it needs itself."""
    try:
        engine.warm()
    except Exception as err:  # a head start, never a reason to stop the front end
        log.warning("could not prepare for the first question (%s); it will load what it needs", err)
