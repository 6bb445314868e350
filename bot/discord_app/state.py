"""What every handler needs, built once by ``create_bot`` and reached through the client."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import discord

from bot.settings import Settings
from index import Engine

from .pressure import Admission, Cooldown


@dataclass(slots=True)
class AppState:
    """The bot's dependencies and its shared limits (one per process)."""

    settings: Settings
    engine: Engine
    cooldown: Cooldown
    admission: Admission
    reindex_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def build(cls, settings: Settings, engine: Engine) -> AppState:
        """Limits from the settings; nothing read from the environment here."""
        cooldown = Cooldown(rate=settings.cooldown_rate, per=settings.cooldown_seconds)
        return cls(settings, engine, cooldown, Admission(settings.max_concurrent_answers))


def state_of(client: discord.Client) -> AppState:
    """The state of a client made by ``create_bot`` (components only get the client)."""
    state = client.__dict__.get("app_state")
    if not isinstance(state, AppState):
        raise TypeError("this client was not made by bot.discord_app.create_bot")
    return state
