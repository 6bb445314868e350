"""What every handler needs, built once by ``create_bot`` and reached through the client."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import discord

from bot.settings import Settings
from index import Engine

from .lifecycle import Lifecycle
from .pressure import Admission, AgeLimits, Cooldown, InteractionAges, ShedCounter
from .quick import QuickReplies


@dataclass(slots=True)
class AppState:
    """The bot's dependencies, its shared limits and its lifecycle (one per process)."""

    settings: Settings
    engine: Engine
    cooldown: Cooldown
    admission: Admission
    reindex_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    ages: InteractionAges = field(default_factory=InteractionAges)
    limits: AgeLimits = field(default_factory=AgeLimits)
    shed: ShedCounter = field(default_factory=ShedCounter)
    quick: QuickReplies = field(default_factory=QuickReplies)

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
