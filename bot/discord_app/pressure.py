"""Behaviour under load: a per-user sliding-window cooldown and a non-blocking admission limit.

Both are plain objects with an injectable clock so they can be tested without sleeping, and both
are used only from the event loop thread (no locks needed).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class CooldownKey:
    """Who is asking: the server (0 in DMs) and the user; the same user is limited per server."""

    guild_id: int
    user_id: int


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether an ask may go ahead; if not, when to retry and whether to tell the user again."""

    allowed: bool
    retry_after: float = 0.0
    notify: bool = False  # first refusal in this window: worth a notice; later ones are ignored

    @property
    def retry_seconds(self) -> int:
        """Whole seconds to wait, never 0 for a refusal (users read "try again in 0 s" as broken)."""
        return max(1, math.ceil(self.retry_after))


class Cooldown:
    """At most ``rate`` asks per ``per`` seconds per key, counted over a sliding window."""

    def __init__(self, rate: int, per: float, clock: Clock = time.monotonic, max_keys: int = 50_000) -> None:
        self.rate = rate
        self.per = per
        self.clock = clock
        self.max_keys = max_keys
        self._hits: dict[CooldownKey, deque[float]] = {}
        self._notified: dict[CooldownKey, float] = {}

    def hit(self, key: CooldownKey) -> Decision:
        """Record an ask by ``key`` if allowed; otherwise say how long until the oldest one expires."""
        now = self.clock()
        hits = self._window(key, now)
        if len(hits) < self.rate or self.per <= 0:
            hits.append(now)
            return Decision(allowed=True)
        retry = hits[0] + self.per - now
        notify = self._notified.get(key, -math.inf) <= now - self.per
        if notify:
            self._notified[key] = now
        return Decision(allowed=False, retry_after=retry, notify=notify)

    def _window(self, key: CooldownKey, now: float) -> deque[float]:
        """The key's hits still inside the window, pruning expired ones (and idle keys when many)."""
        if key not in self._hits and len(self._hits) >= self.max_keys:
            self._prune(now)
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.per:
            hits.popleft()
        return hits

    def _prune(self, now: float) -> None:
        """Forget keys with no hit inside the window so memory stays bounded by active users."""
        idle = [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - self.per]
        for key in idle:
            del self._hits[key]
            self._notified.pop(key, None)


class Ticket:
    """One admitted answer; leaving the ``with`` block frees its slot."""

    def __init__(self, admission: Admission) -> None:
        self._admission = admission

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._admission.release()


class Admission:
    """At most ``limit`` answers in flight; past that, callers are turned away rather than queued."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    def try_enter(self) -> Ticket | None:
        """A ticket if there is a free slot, else None (the caller replies "busy")."""
        if self.in_flight >= self.limit:
            return None
        self.in_flight += 1
        return Ticket(self)

    def release(self) -> None:
        """Give a slot back."""
        self.in_flight = max(0, self.in_flight - 1)
