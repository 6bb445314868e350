"""Shutting down without cutting answers off: stop admitting, let work in flight finish (bounded), close.

Closing the bot closes its HTTP session, and any handler still replying then fails with "Session is
closed". So on SIGTERM the bot first *drains*: new interactions get a quick "restarting" reply (or
none once too old), work in flight gets ``bound`` seconds to finish, then those still running are
told to hurry (a /reindex posts where it stands) and, after ``grace`` seconds, are cancelled, which
ends them quietly. Only then is the connection closed.

Every handler registers its own task (``track``) on entry, so nothing needs to know discord.py's
internal task names.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from typing import Any

log = logging.getLogger(__name__)


class Phase(enum.Enum):
    """Where the bot is in its life: serving, draining after SIGTERM, or closing the connection."""

    SERVING = "serving"
    DRAINING = "draining"
    CLOSED = "closed"


class Lifecycle:
    """The tasks answering Discord right now, and whether new ones may start."""

    def __init__(self) -> None:
        self.phase = Phase.SERVING
        self.hurry = asyncio.Event()  # set when the drain bound has passed: finish up now
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def accepting(self) -> bool:
        """Whether new work may start (false from SIGTERM on)."""
        return self.phase is Phase.SERVING

    @property
    def open(self) -> bool:
        """Whether replies can still be sent (false once the connection is being closed)."""
        return self.phase is not Phase.CLOSED

    @property
    def in_flight(self) -> int:
        """How many tracked handlers have not finished."""
        return len(self._tasks)

    def track(self) -> None:
        """Count the calling task as in flight until it ends (idempotent)."""
        task = asyncio.current_task()
        if task is None or task in self._tasks:
            return
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()

    async def drain(self, bound: float, grace: float) -> int:
        """Stop admitting, wait up to ``bound`` s for work in flight, then ``grace`` s more after asking it
        to hurry; cancel what is left and wait for it to unwind. Returns how many were cancelled."""
        self.phase = Phase.DRAINING
        if not await self._wait_idle(bound):
            log.info("%d handler(s) still running after %.0f s; asking them to finish up", self.in_flight, bound)
            self.hurry.set()
            await self._wait_idle(grace)
        self.phase = Phase.CLOSED
        left = list(self._tasks)
        for task in left:
            task.cancel()
        if left:
            log.warning("cancelled %d handler(s) still running at shutdown", len(left))
            await asyncio.wait(left, timeout=grace)
        return len(left)

    async def _wait_idle(self, timeout: float) -> bool:
        """Whether every tracked handler finished within ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True
