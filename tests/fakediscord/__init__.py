"""A fake Discord (REST v10, gateway, CDN) on 127.0.0.1 for end-to-end tests of a real bot.

Start it with ``FakeDiscord()`` (or the ``fake_discord`` fixture from
``tests.fakediscord.fixtures``), run the bot with ``fake.env()`` so the bundled
``sitecustomize`` redirects discord.py to it, then drive the bot with ``payloads`` builders
and wait on what it sends back.
"""

from . import payloads
from .commands import UnknownCommand
from .core import (
    BotDied,
    GatewayRecord,
    Injection,
    InteractionResult,
    RecordedPart,
    RecordedRequest,
    WaitTimeout,
)
from .gateway import NoGatewaySession
from .harness import SITE_DIR, FakeDiscord, InteractionHandle, route
from .process import BotProcess

__all__ = [
    "SITE_DIR",
    "BotDied",
    "BotProcess",
    "FakeDiscord",
    "GatewayRecord",
    "Injection",
    "InteractionHandle",
    "InteractionResult",
    "NoGatewaySession",
    "RecordedPart",
    "RecordedRequest",
    "UnknownCommand",
    "WaitTimeout",
    "payloads",
    "route",
]
