"""Immediate one-line refusals ("busy", "restarting") at the lowest cost to the event loop.

Past capacity the bot must turn interactions away faster than they arrive, on the same loop that
reads the gateway. discord.py's ``send_message`` builds and serialises a fresh payload, asks Discord
to send the created message back (``?with_response=1``) and parses it into a ``Message``; a refusal
needs none of that. Here it is one POST of a body serialised once, answered by a bare 204.
"""

from __future__ import annotations

import json
import logging
from functools import cache

import aiohttp
from discord.http import Route

from . import render

log = logging.getLogger(__name__)

CHANNEL_MESSAGE = 4  # interaction callback type: reply with a message
EPHEMERAL = 1 << 6
TIMEOUT = aiohttp.ClientTimeout(total=5.0)
CALLBACK = "/interactions/{webhook_id}/{webhook_token}/callback"


@cache
def refusal_body(text: str) -> bytes:
    """The callback body for a private, never-pinging text reply (serialised once per text)."""
    data = {"content": render.message(text), "flags": EPHEMERAL, "allowed_mentions": {"parse": []}}
    return json.dumps({"type": CHANNEL_MESSAGE, "data": data}, separators=(",", ":")).encode()


class QuickReplies:
    """A small HTTP session of the bot's own for refusals; closed after the drain, with the bot."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._headers: dict[str, str] = {}

    @property
    def ready(self) -> bool:
        """Whether refusals can go out this way (else the caller uses the ordinary reply)."""
        return self._session is not None and not self._session.closed

    def start(self, user_agent: str) -> None:
        """Open the session (inside the running loop), identifying as discord.py does."""
        if not self.ready:
            self._headers = {"Content-Type": "application/json", "User-Agent": user_agent}
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)

    async def close(self) -> None:
        """Close the session (idempotent)."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def refuse(self, interaction_id: int, token: str, text: str) -> bool:
        """Answer an interaction with ``text`` privately; whether Discord took it (failures logged at DEBUG)."""
        if self._session is None:
            return False
        route = Route("POST", CALLBACK, webhook_id=interaction_id, webhook_token=token)
        try:
            async with self._session.post(route.url, data=refusal_body(text), headers=self._headers) as response:
                if response.status < 300:
                    return True
                detail = await response.text()
        except (aiohttp.ClientError, OSError, TimeoutError) as err:
            log.debug("refusing interaction %s failed: %s: %s", interaction_id, type(err).__name__, err)
            return False
        log.debug("refusing interaction %s: HTTP %s %s", interaction_id, response.status, detail[:200])
        return False
