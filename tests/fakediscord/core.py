"""The fake's shared state: what was asked of it, what exists, and how to wait for either.

Everything here is mutated only on the server's event-loop thread, always under ``cond``
(a ``threading.Condition``) and followed by ``notify_all``, so the synchronous test thread
can wait for "a request like this arrived" without sleeping.
"""

from __future__ import annotations

import copy
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import payloads as p

JSON = dict[str, Any]


@dataclass(frozen=True)
class RecordedPart:
    """One part of a multipart body (``payload_json`` or ``files[n]``)."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def text(self) -> str:
        """The part decoded as UTF-8 (replacement characters for bad bytes)."""
        return self.data.decode("utf-8", "replace")


@dataclass
class RecordedRequest:
    """One HTTP request the fake received, and how it answered.

    ``path`` is relative to ``/api/v10`` for API calls (``/channels/1/messages``) and the
    full path otherwise (CDN downloads, unknown prefixes). ``json`` is the parsed JSON body,
    or the ``payload_json`` part of a multipart body.
    """

    index: int
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    parts: list[RecordedPart]
    at: float
    status: int = 0
    response: Any = None
    matched: bool = True
    injected: bool = False

    @property
    def route(self) -> str:
        """``"METHOD /path"``, handy in assertion messages."""
        return f"{self.method} {self.path}"

    @property
    def files(self) -> list[RecordedPart]:
        """The uploaded file parts."""
        return [part for part in self.parts if part.filename is not None]


@dataclass(frozen=True)
class GatewayRecord:
    """One gateway happening: ``kind`` is ``connect``, ``identify``, ``resume``,
    ``heartbeat``, ``ready``, ``resumed``, ``invalid_session``, ``request_members``,
    ``presence``, ``close`` (client closed; ``data['code']``) or ``drop`` (fake closed)."""

    kind: str
    shard: tuple[int, int] | None
    session_id: str | None
    data: Any
    at: float


@dataclass
class Injection:
    """A canned failure for the next ``remaining`` requests matching method and path."""

    method: str
    pattern: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    remaining: int
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether this injection applies to the request (``*`` matches any method)."""
        return self.remaining > 0 and self.method in ("*", method) and bool(self.pattern.search(path))


@dataclass
class InteractionRecord:
    """What the fake knows about one interaction it dispatched."""

    id: int
    token: str
    payload: JSON
    guild_id: int | None
    channel_id: int
    target_message_id: int | None
    dispatched_at: float | None = None
    callback: Any = None
    callback_type: int | None = None
    callback_status: int | None = None
    callback_at: float | None = None
    callback_attempts: int = 0
    original_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    edits: list[JSON] = field(default_factory=list)
    original_deleted: bool = False
    target_edits_at_ack: int = 0

    @property
    def acknowledged(self) -> bool:
        """Whether a callback was accepted."""
        return self.callback_status == 200 or self.callback_status == 204


@dataclass(frozen=True)
class InteractionResult:
    """A snapshot of how the bot answered an interaction.

    ``callback`` is the body the bot POSTed to the callback route; ``original`` the current
    ``@original`` message (for a deferred response it stays ``loading`` until edited);
    ``followups`` the current follow-up messages; ``edits`` the PATCH bodies sent to
    ``@original``.
    """

    interaction_id: int
    callback_type: int | None
    callback: Any
    callback_status: int | None
    ack_seconds: float | None
    original: JSON | None
    followups: list[JSON]
    edits: list[JSON]

    @property
    def messages(self) -> list[JSON]:
        """The original response (if any) and the follow-ups, in order."""
        return ([self.original] if self.original is not None else []) + self.followups

    @property
    def contents(self) -> list[str]:
        """The text of every message the interaction produced."""
        return [m.get("content", "") for m in self.messages]

    @property
    def loading(self) -> bool:
        """Whether the original response is still the "thinking…" placeholder."""
        return self.original is not None and bool(int(self.original.get("flags", 0)) & p.MESSAGE_FLAG_LOADING)

    @property
    def ephemeral(self) -> bool:
        """Whether the original response is ephemeral."""
        return self.original is not None and bool(int(self.original.get("flags", 0)) & p.MESSAGE_FLAG_EPHEMERAL)

    @property
    def modal(self) -> JSON | None:
        """The modal the bot opened (callback type 9), if any."""
        if self.callback_type == p.CALLBACK_MODAL and isinstance(self.callback, Mapping):
            return self.callback.get("data")
        return None

    @property
    def choices(self) -> list[JSON] | None:
        """The autocomplete choices the bot offered (callback type 8), if any."""
        if self.callback_type == p.CALLBACK_AUTOCOMPLETE_RESULT and isinstance(self.callback, Mapping):
            return list((self.callback.get("data") or {}).get("choices") or [])
        return None


class Watched(Protocol):
    """A process the fake watches so that waits fail fast when the bot dies."""

    def exited_unexpectedly(self) -> str | None:
        """A description if the process ended without being asked to, else None."""
        ...


class WaitTimeout(AssertionError):
    """A wait on the fake ran out of time; the message says what was seen instead."""


class BotDied(AssertionError):
    """A watched bot process exited while a test was waiting on the fake."""


class Core:
    """All state of one fake Discord, guarded by ``cond``."""

    def __init__(self, *, token: str, shards: int, interaction_deadline: float | None) -> None:
        self.cond = threading.Condition(threading.RLock())
        self.token = token
        self.shards = shards
        self.interaction_deadline = interaction_deadline
        self.base_url = ""
        self.requests: list[RecordedRequest] = []
        self.gateway_log: list[GatewayRecord] = []
        self.messages: dict[int, JSON] = {}
        self.channel_messages: dict[int, list[int]] = {}
        self.deleted: set[int] = set()
        self.edit_counts: dict[int, int] = {}
        self.channels: dict[int, JSON] = {}
        self.commands: dict[int | None, dict[int, JSON]] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self.tokens: dict[str, int] = {}
        self.blobs: dict[str, tuple[bytes, str]] = {}
        self.injections: list[Injection] = []
        self.watched: list[Watched] = []
        self.ready_shards: dict[tuple[int, int], str] = {}
        for channel in (*p.CHANNELS, *p.THREADS):
            self.channels[int(channel["id"])] = copy.deepcopy(channel)

    # -- mutation and waiting -------------------------------------------------------------

    @contextmanager
    def changing(self) -> Iterator[None]:
        """Hold the lock for a mutation and wake every waiter afterwards."""
        with self.cond:
            yield
            self.cond.notify_all()

    def notify(self) -> None:
        """Wake waiters (e.g. because a watched process exited)."""
        with self.cond:
            self.cond.notify_all()

    def wait_until(self, probe: Callable[[], Any], timeout: float, describe: Callable[[], str]) -> Any:
        """Block until ``probe()`` (called under the lock) is truthy; return its value.

        Raises WaitTimeout with ``describe()`` after ``timeout`` seconds, or BotDied as soon
        as a watched process exits on its own.
        """
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = probe()
                if value:
                    return value
                for proc in self.watched:
                    why = proc.exited_unexpectedly()
                    if why:
                        raise BotDied(f"{why}\nwhile waiting for: {describe()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WaitTimeout(describe())
                self.cond.wait(left)

    # -- messages --------------------------------------------------------------------------

    def store_message(self, message: JSON) -> None:
        """Remember a message (lock held by caller)."""
        message_id = int(message["id"])
        channel_id = int(message["channel_id"])
        self.messages[message_id] = message
        order = self.channel_messages.setdefault(channel_id, [])
        if message_id not in order:
            order.append(message_id)

    def count_edit(self, message: Mapping[str, Any]) -> None:
        """Note that a message was edited, whichever route did it (lock held by caller)."""
        message_id = int(message["id"])
        self.edit_counts[message_id] = self.edit_counts.get(message_id, 0) + 1

    def live_message(self, channel_id: int | None, message_id: int) -> JSON | None:
        """The stored, undeleted message (optionally checked to be in ``channel_id``)."""
        message = self.messages.get(message_id)
        if message is None or message_id in self.deleted:
            return None
        if channel_id is not None and int(message["channel_id"]) != channel_id:
            return None
        return message

    def is_guild_channel(self, channel_id: int) -> bool:
        """Whether the channel belongs to the guild (not a DM)."""
        channel = self.channels.get(channel_id)
        return channel is not None and channel.get("type") != 1

    def ensure_dm_channel(self, who: Mapping[str, Any]) -> JSON:
        """The DM channel with a user, created on first use like Discord does."""
        channel_id = p.dm_channel_id(int(who["id"]))
        if channel_id not in self.channels:
            self.channels[channel_id] = p.dm_channel(who)
        return self.channels[channel_id]

    # -- application commands ---------------------------------------------------------------

    def find_command(self, name: str, kind: int, guild_id: int | None) -> JSON | None:
        """The registered command a client would invoke: guild first, then global."""
        for scope in (guild_id, None) if guild_id is not None else (None,):
            for command in self.commands.get(scope, {}).values():
                if command["name"] == name and int(command.get("type", 1)) == kind:
                    return command
        return None

    # -- interactions ---------------------------------------------------------------------

    def interaction_by_token(self, token: str) -> InteractionRecord | None:
        """The interaction with this token (tokens double as webhook tokens)."""
        interaction_id = self.tokens.get(token)
        return None if interaction_id is None else self.interactions.get(interaction_id)

    def snapshot(self, record: InteractionRecord) -> InteractionResult:
        """An immutable copy of an interaction's outcome (lock held by caller)."""
        original = None
        if record.original_id is not None and not record.original_deleted:
            found = self.messages.get(record.original_id)
            original = copy.deepcopy(found) if found is not None else None
        followups = [
            copy.deepcopy(self.messages[i]) for i in record.followup_ids if i in self.messages and i not in self.deleted
        ]
        ack = None
        if record.callback_at is not None and record.dispatched_at is not None:
            ack = record.callback_at - record.dispatched_at
        return InteractionResult(
            interaction_id=record.id,
            callback_type=record.callback_type,
            callback=copy.deepcopy(record.callback),
            callback_status=record.callback_status,
            ack_seconds=ack,
            original=original,
            followups=followups,
            edits=copy.deepcopy(record.edits),
        )

    # -- injections -----------------------------------------------------------------------

    def take_injection(self, method: str, path: str) -> Injection | None:
        """Consume one matching canned failure, if any (lock held by caller)."""
        for injection in self.injections:
            if injection.matches(method, path):
                injection.remaining -= 1
                injection.hits += 1
                return injection
        return None

    # -- descriptions for timeouts ------------------------------------------------------------

    def describe_recent(self, limit: int = 15) -> str:
        """The last requests and gateway records, for timeout messages."""
        lines = [f"  {r.status} {r.route}" for r in self.requests[-limit:]]
        gw = [f"  gw {g.kind} shard={g.shard}" for g in self.gateway_log if g.kind != "heartbeat"][-limit:]
        return "recent requests:\n" + "\n".join(lines or ["  (none)"]) + "\ngateway:\n" + "\n".join(gw or ["  (none)"])
