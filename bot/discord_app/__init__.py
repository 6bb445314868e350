"""The Discord front end: /ask, mentions, DMs and "Check in article" answered with cited passages.

``run_bot.py`` calls ``run_discord(settings, engine)`` when a token is set; tests and tools build a
bot without running it with ``create_bot(settings, engine)``.
"""

from __future__ import annotations

from .client import create_bot, run_discord

__all__ = ["create_bot", "run_discord"]
