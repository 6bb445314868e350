"""Behaviour under load: a per-user cooldown, an admission limit, and shedding by interaction age.

The admission limit counts answers in flight, but past capacity the backlog sits *in front of*
the handlers (gateway events waiting on the one event loop, in socket buffers, at Discord), where
in-flight stays low while interactions age. Discord stamps every interaction id with its creation
time, so each one's age is known on arrival: an old one is told "busy" before any scoring, and one
whose 3 s acknowledgement window is (nearly) gone costs no HTTP call at all.

All are plain objects with an injectable clock so they can be tested without sleeping, and all
are used only from the event loop thread (no locks needed).
"""

from __future__ import annotations

import enum
import math
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from discord.utils import DISCORD_EPOCH

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


def created_at(snowflake: int) -> float:
    """When Discord created the object with this id, in seconds since 1970 (ms since 2015 in bits 22+)."""
    return ((snowflake >> 22) + DISCORD_EPOCH) / 1000


class InteractionAges:
    """How long ago Discord created an interaction, by its id and our wall clock, allowing for skew.

    A host clock running ahead of Discord's would make every interaction look old, and shedding by
    age would then turn everybody away. So the smallest age seen over the last ``window`` seconds
    counts as clock offset (when positive) and is subtracted: the freshest interactions arrive
    within milliseconds unless the bot was overloaded for the whole window. The correction only
    ever lowers an age, so a wrong estimate makes shedding less eager, never more.
    """

    def __init__(self, window: float = 60.0, slots: int = 6, clock: Clock = time.time) -> None:
        self.slot = window / slots
        self.slots = slots
        self.clock = clock
        self._floors: dict[int, float] = {}  # slot number -> smallest raw age seen in it

    def age(self, snowflake: int) -> float:
        """Seconds since the interaction was created, never negative, with the clock offset removed."""
        now = self.clock()
        raw = now - created_at(snowflake)
        return max(0.0, raw - self._offset(now, raw))

    def _offset(self, now: float, raw: float) -> float:
        """Record ``raw`` in the current slot; the smallest recorded age in the window, at least 0."""
        key = int(now // self.slot)
        floors = self._floors
        if key not in floors:
            for old in [k for k in floors if not key - self.slots < k <= key]:
                del floors[old]
            floors[key] = raw
        elif raw < floors[key]:
            floors[key] = raw
        return max(0.0, min(floors.values()))


class Verdict(enum.Enum):
    """What to do with an interaction the moment it arrives."""

    SERVE = "serve"
    BUSY = "busy"  # old already: say "busy" at once instead of adding scoring to the backlog
    EXPIRED = "expired"  # a reply would land after Discord's deadline: send none
    RESTARTING = "restarting"  # shutting down: say so, start nothing
    CLOSED = "closed"  # the connection is closing: no reply can be sent any more


@dataclass(frozen=True, slots=True)
class AgeLimits:
    """Ages (seconds since creation) past which an interaction is shed; Discord allows 3 s to acknowledge.

    ``expired_after`` keeps half a second for the reply itself to reach Discord from a busy loop.
    ``defer_at`` is when admitted work that is still running gets its "thinking…" acknowledgement.
    """

    busy_after: float = 1.5
    defer_at: float = 2.0
    expired_after: float = 2.5


def verdict(age: float, *, accepting: bool, open_: bool, limits: AgeLimits) -> Verdict:
    """Serve, shed ("busy", "restarting") or drop an interaction of this ``age``, cheapest checks first."""
    if not open_:
        return Verdict.CLOSED
    if age >= limits.expired_after:
        return Verdict.EXPIRED
    if not accepting:
        return Verdict.RESTARTING
    if age >= limits.busy_after:
        return Verdict.BUSY
    return Verdict.SERVE


class ShedCounter:
    """Counts interactions shed by age or shutdown; offers a summary at most once per ``every`` seconds.

    A dropped interaction is logged at DEBUG only (under overload there are thousands); the
    periodic summary is what tells an operator that the bot is past capacity.
    """

    def __init__(self, every: float = 60.0, clock: Clock = time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self.total: Counter[Verdict] = Counter()
        self._since: Counter[Verdict] = Counter()
        self._reported = clock()

    def record(self, kind: Verdict) -> str | None:
        """Count one; return a summary of the counts since the last one when it is time for another."""
        self.total[kind] += 1
        self._since[kind] += 1
        now = self.clock()
        if now - self._reported < self.every:
            return None
        return self.flush(now)

    def flush(self, now: float | None = None) -> str | None:
        """A summary of the counts not yet reported (None when there are none), and start over."""
        now = self.clock() if now is None else now
        if not self._since:
            return None
        seconds = now - self._reported
        parts = ", ".join(f"{n} {kind.value}" for kind, n in sorted(self._since.items(), key=lambda kv: kv[0].value))
        self._since.clear()
        self._reported = now
        return f"shed {parts} interaction(s) in the last {seconds:.0f} s"
