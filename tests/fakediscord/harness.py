"""``FakeDiscord``: the synchronous face of the fake, for pytest.

The server (REST + gateway) runs on its own event loop in a background thread, bound to
127.0.0.1 on a free port. Test code calls plain methods; waits block on a condition that
the server notifies on every change, so nothing sleeps in place of synchronisation.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from . import commands as c
from . import payloads as p
from .core import Core, GatewayRecord, Injection, InteractionRecord, InteractionResult, RecordedRequest, Watched
from .gateway import Gateway
from .process import BotProcess
from .rest import RestApi

JSON = dict[str, Any]
T = TypeVar("T")
_log = logging.getLogger(__name__)

SITE_DIR = Path(__file__).resolve().parent / "site"
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True, eq=False)
class InteractionHandle:
    """An interaction the fake dispatched; use it to wait for the bot's answer."""

    id: int
    token: str
    payload: JSON = field(repr=False)
    fake: FakeDiscord = field(repr=False)

    def wait(self, timeout: float = DEFAULT_TIMEOUT, *, followups: int = 0) -> InteractionResult:
        """Same as ``FakeDiscord.wait_for_interaction_response(self, ...)``."""
        return self.fake.wait_for_interaction_response(self, timeout, followups=followups)

    def result(self) -> InteractionResult:
        """What the bot has answered so far, without waiting."""
        return self.fake.interaction_result(self)


def route(method: str, path_regex: str) -> Callable[[RecordedRequest], bool]:
    """A request predicate: method (``*`` for any) and a regex searched in the path."""
    pattern = re.compile(path_regex)
    return lambda r: method in ("*", r.method) and bool(pattern.search(r.path))


_CALLBACK = re.compile(r"^/interactions/\d+/[^/]+/callback$")
_MESSAGE_ROUTE = re.compile(r"^/webhooks/\d+/[^/]+(/messages/[^/]+)?$|^/channels/\d+/messages(/\d+)?$")


class FakeDiscord:
    """A fake Discord (REST v10, gateway, CDN) on 127.0.0.1 for end-to-end tests.

    ``shards`` is what GET /gateway/bot recommends; ``interaction_deadline`` is how long a
    callback may take before it gets Discord's 10062 Unknown interaction (None: no limit).
    """

    def __init__(
        self,
        *,
        shards: int = 1,
        interaction_deadline: float | None = 3.0,
        heartbeat_interval_ms: int = 41_250,
        token: str | None = None,
    ) -> None:
        self.token = token or f"FAKE.{secrets.token_urlsafe(8)}.{secrets.token_urlsafe(27)}"
        self._core = Core(token=self.token, shards=shards, interaction_deadline=interaction_deadline)
        self._gateway = Gateway(self._core, heartbeat_interval_ms=heartbeat_interval_ms)
        self._rest = RestApi(self._core, self._gateway)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self.url = ""

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeDiscord:
        """Start serving; returns once the port is bound (``.url`` is set)."""
        if self._thread is not None:
            raise RuntimeError("FakeDiscord already started")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="fake-discord", daemon=True)
        self._thread.start()
        if not self._started.wait(DEFAULT_TIMEOUT):
            raise RuntimeError("fake discord did not start")
        if self._start_error is not None:
            raise RuntimeError("fake discord failed to start") from self._start_error
        _log.info("fake discord serving at %s", self.url)
        return self

    def _run(self) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start()
            self._start_error = exc
            self._started.set()
            return
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()

    async def _serve(self) -> None:
        self._runner = web.AppRunner(self._rest.build_app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._core.base_url = self.url
        self._gateway.ws_url = f"ws://127.0.0.1:{port}/gateway"
        self._gateway.resume_url = f"ws://127.0.0.1:{port}/resume-gateway"

    async def _shutdown(self) -> None:
        await self._gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        """Close gateway connections, stop the server and its thread."""
        if self._loop is None or self._thread is None:
            return
        try:
            self._call(self._shutdown(), timeout=DEFAULT_TIMEOUT)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(DEFAULT_TIMEOUT)
            self._thread = None
            self._loop = None

    def __enter__(self) -> FakeDiscord:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = DEFAULT_TIMEOUT) -> T:
        """Run a coroutine on the server loop and wait for its result."""
        if self._loop is None:
            coro.close()
            raise RuntimeError("FakeDiscord is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @property
    def interaction_deadline(self) -> float | None:
        """Seconds a callback may take after dispatch before 404 10062 (None: no limit)."""
        return self._core.interaction_deadline

    @interaction_deadline.setter
    def interaction_deadline(self, seconds: float | None) -> None:
        with self._core.changing():
            self._core.interaction_deadline = seconds

    # -- environment for the bot -------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """The REST base the bot is redirected to."""
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """The gateway websocket URL."""
        return self._gateway.ws_url

    def env(self, base: Mapping[str, str] | None = None, /, **extra: str) -> dict[str, str]:
        """Environment for a bot subprocess: ``base`` (default ``os.environ``) plus

        ``PYTHONPATH`` (this package's ``site`` dir first, for the redirecting
        ``sitecustomize``, then any existing entries), ``FAKE_DISCORD_URL``,
        ``DISCORD_TOKEN`` (the token the fake accepts), ``PYTHONUNBUFFERED=1``,
        ``NO_PROXY`` for loopback, then ``extra``.
        """
        env = dict(os.environ if base is None else base)
        existing = env.get("PYTHONPATH")
        env["PYTHONPATH"] = os.pathsep.join([str(SITE_DIR), *([existing] if existing else [])])
        env["FAKE_DISCORD_URL"] = self.url
        env["DISCORD_TOKEN"] = self.token
        env["PYTHONUNBUFFERED"] = "1"
        env["NO_PROXY"] = "127.0.0.1,localhost"
        env.update(extra)
        return env

    def start_bot(
        self, args: Sequence[str], *, env: Mapping[str, str], cwd: Path | str | None, log_dir: Path, name: str
    ) -> BotProcess:
        """Start a bot subprocess and watch it: its exit wakes every wait, which then fails fast."""
        proc = BotProcess(args, env=env, cwd=cwd, log_dir=log_dir, name=name, on_exit=self.notify)
        proc.start()
        self.watch(proc)
        return proc

    def watch(self, proc: Watched) -> None:
        """Make every wait fail fast (BotDied) if ``proc`` exits on its own."""
        with self._core.changing():
            self._core.watched.append(proc)

    def unwatch(self, proc: Watched) -> None:
        """Stop watching ``proc``."""
        with self._core.changing():
            if proc in self._core.watched:
                self._core.watched.remove(proc)

    def notify(self) -> None:
        """Wake all waits (a watched process uses this when it exits)."""
        self._core.notify()

    # -- records -----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every HTTP request answered so far, in the order they were answered.

        A request is logged after its handler ran, so its effects (a stored message, say) can be
        visible a moment before it is: to assert on requests, wait for them (``wait_for_requests``).
        """
        with self._core.cond:
            return list(self._core.requests)

    @property
    def unknown_requests(self) -> list[RecordedRequest]:
        """Requests to routes the fake does not implement (answered 404)."""
        return [r for r in self.requests if not r.matched]

    def sent_bodies(self, since: int = 0) -> list[dict[str, Any]]:
        """Every message body the bot sent after request ``since``: responses, follow-ups, edits, messages."""
        bodies = []
        for r in self.requests[since:]:
            if r.method not in ("POST", "PATCH") or not isinstance(r.json, dict):
                continue
            if _CALLBACK.search(r.path):
                if r.json.get("type") in (4, 7):
                    bodies.append(r.json["data"])
            elif _MESSAGE_ROUTE.search(r.path):
                bodies.append(r.json)
        return bodies

    @property
    def request_count(self) -> int:
        """How many requests so far; pass as ``since`` to ignore earlier ones."""
        with self._core.cond:
            return len(self._core.requests)

    @property
    def gateway_log(self) -> list[GatewayRecord]:
        """Every gateway happening so far (see ``GatewayRecord.kind``)."""
        with self._core.cond:
            return list(self._core.gateway_log)

    @property
    def gateway_count(self) -> int:
        """How many gateway records so far; pass as ``since`` to ignore earlier ones."""
        with self._core.cond:
            return len(self._core.gateway_log)

    def gateway_records(self, kind: str) -> list[GatewayRecord]:
        """The gateway records of one kind (``identify``, ``resume``, ...)."""
        return [g for g in self.gateway_log if g.kind == kind]

    @property
    def identify_count(self) -> int:
        """Successful IDENTIFYs (new sessions)."""
        return sum(1 for g in self.gateway_records("identify") if g.data.get("token_ok"))

    @property
    def resume_count(self) -> int:
        """Accepted RESUMEs."""
        return len(self.gateway_records("resume"))

    def commands(self, guild_id: int | None = None) -> list[JSON]:
        """The application commands registered globally (None) or for a guild."""
        with self._core.cond:
            return copy.deepcopy(list(self._core.commands.get(guild_id, {}).values()))

    def messages_in(
        self, channel_id: int, *, author_id: int | None = None, include_deleted: bool = False
    ) -> list[JSON]:
        """Messages in a channel, oldest first: bot posts, interaction responses, user posts."""
        with self._core.cond:
            ids = self._core.channel_messages.get(channel_id, [])
            found = [
                copy.deepcopy(self._core.messages[i]) for i in ids if include_deleted or i not in self._core.deleted
            ]
        return [x for x in found if author_id is None or int(x["author"]["id"]) == author_id]

    def message(self, message_id: int | str) -> JSON | None:
        """One stored message by id (deleted ones too), or None."""
        with self._core.cond:
            found = self._core.messages.get(int(message_id))
            return copy.deepcopy(found) if found is not None else None

    # -- waiting ----------------------------------------------------------------------------------

    def _wait(self, probe: Callable[[], T | None], timeout: float, what: str) -> T:
        def describe() -> str:
            return f"{what} (after {timeout}s)\n{self._core.describe_recent()}"

        found: T = self._core.wait_until(probe, timeout, describe)
        return found

    def wait_for_request(
        self, predicate: Callable[[RecordedRequest], bool], timeout: float = DEFAULT_TIMEOUT, *, since: int = 0
    ) -> RecordedRequest:
        """The first request (from index ``since``) matching ``predicate``."""

        def probe() -> RecordedRequest | None:
            return next((r for r in self._core.requests[since:] if predicate(r)), None)

        return self._wait(probe, timeout, "no matching request")

    def wait_for_requests(
        self,
        predicate: Callable[[RecordedRequest], bool],
        count: int,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        since: int = 0,
    ) -> list[RecordedRequest]:
        """The first ``count`` requests (from index ``since``) matching ``predicate``."""

        def probe() -> list[RecordedRequest] | None:
            found = [r for r in self._core.requests[since:] if predicate(r)]
            return found[:count] if len(found) >= count else None

        return self._wait(probe, timeout, f"fewer than {count} matching requests")

    def wait_for_gateway(
        self,
        kind: str,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        since: int = 0,
        predicate: Callable[[GatewayRecord], bool] | None = None,
    ) -> GatewayRecord:
        """The first gateway record of ``kind`` (from index ``since``) matching ``predicate``."""

        def probe() -> GatewayRecord | None:
            return next(
                (g for g in self._core.gateway_log[since:] if g.kind == kind and (predicate is None or predicate(g))),
                None,
            )

        return self._wait(probe, timeout, f"no gateway {kind!r}")

    def wait_ready(self, timeout: float = DEFAULT_TIMEOUT, *, shards: int = 1, since: int = 0) -> list[tuple[int, int]]:
        """Wait until ``shards`` distinct shards IDENTIFYed and were sent READY + GUILD_CREATE.

        Also asserts the client logged in through this fake (GET /users/@me), i.e. that
        discord.py's REST base really was redirected, not only its gateway.
        """

        def probe() -> list[tuple[int, int]] | None:
            ready = sorted({g.shard for g in self._core.gateway_log[since:] if g.kind == "ready" and g.shard})
            return ready if len(ready) >= shards else None

        ready = self._wait(probe, timeout, f"fewer than {shards} shard(s) ready")
        logged_in = any(r.method == "GET" and r.path == "/users/@me" and r.status == 200 for r in self.requests)
        assert logged_in, "gateway reached without GET /users/@me here: is discord.http.Route.BASE patched?"
        return ready

    def wait_resumed(self, timeout: float = DEFAULT_TIMEOUT, *, since: int = 0) -> GatewayRecord:
        """Wait for an accepted RESUME (after gateway index ``since``) to be answered."""
        return self.wait_for_gateway("resumed", timeout, since=since)

    def wait_for_message(
        self,
        predicate: Callable[[JSON], bool] | None = None,
        *,
        channel_id: int | None = None,
        author_id: int | None = p.BOT_USER_ID,
        after: Mapping[str, Any] | int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> JSON:
        """The first live message (newer than ``after``) by ``author_id`` matching ``predicate``."""
        floor = int(after["id"]) if isinstance(after, Mapping) else int(after or 0)

        def probe() -> JSON | None:
            for message_id, message in self._core.messages.items():  # creation order
                if (
                    message_id > floor
                    and message_id not in self._core.deleted
                    and (channel_id is None or int(message["channel_id"]) == channel_id)
                    and (author_id is None or int(message["author"]["id"]) == author_id)
                    and (predicate is None or predicate(message))
                ):
                    return copy.deepcopy(message)
            return None

        return self._wait(probe, timeout, "no matching message")

    def wait_for_reply(self, to: Mapping[str, Any], timeout: float = DEFAULT_TIMEOUT) -> JSON:
        """The bot's first message in ``to``'s channel posted after ``to``."""
        return self.wait_for_message(channel_id=int(to["channel_id"]), after=to, timeout=timeout)

    # -- driving the bot ----------------------------------------------------------------------------

    def dispatch(
        self, event: str, data: Any, *, shard: int | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> int | None:
        """Send a gateway DISPATCH to the shard owning it; returns its sequence number.

        Returns None when the session's intents exclude the event (Discord would not send
        it). MESSAGE_CREATE messages are also stored, so the bot can fetch and reply to them.
        Raises NoGatewaySession if no client has IDENTIFYed on that shard.
        """
        if event == "MESSAGE_CREATE" and isinstance(data, Mapping):
            self._remember_user_message(data)
        return self._call(self._gateway.dispatch(event, copy.deepcopy(data), shard=shard), timeout)

    def _remember_user_message(self, data: Mapping[str, Any]) -> None:
        stored = {k: copy.deepcopy(v) for k, v in data.items() if k not in ("guild_id", "member")}
        with self._core.changing():
            if "guild_id" not in data:
                self._core.ensure_dm_channel(data["author"])
            self._core.store_message(stored)

    def user_message(self, content: str, author: Mapping[str, Any] = p.MEMBER, **kwargs: Any) -> JSON:
        """Post a user message (``payloads.message_create`` arguments) and return it."""
        data = p.message_create(content, author, **kwargs)
        self.dispatch("MESSAGE_CREATE", data)
        return data

    def interact(
        self, payload: Mapping[str, Any], *, shard: int | None = None, allow_unregistered: bool = False
    ) -> InteractionHandle:
        """Dispatch INTERACTION_CREATE and return a handle to wait for the answer.

        Application commands are completed from what the bot registered (command id,
        ``data.guild_id`` for guild commands, option types); invoking an unregistered command
        or unknown option raises ``UnknownCommand`` unless ``allow_unregistered``.
        """
        data = copy.deepcopy(dict(payload))
        self._complete_command(data, allow_unregistered)
        record = self._register_interaction(data)

        async def send() -> int | None:
            with self._core.changing():
                record.dispatched_at = time.monotonic()
            return await self._gateway.dispatch("INTERACTION_CREATE", data, shard=shard)

        self._call(send())
        return InteractionHandle(record.id, record.token, data, self)

    def _complete_command(self, payload: JSON, allow_unregistered: bool) -> None:
        if payload["type"] not in (p.INTERACTION_APPLICATION_COMMAND, p.INTERACTION_AUTOCOMPLETE):
            return
        data = payload["data"]
        if "id" in data:
            return
        guild_id = int(payload["guild_id"]) if "guild_id" in payload else None
        with self._core.cond:
            command = self._core.find_command(data["name"], int(data.get("type", 1)), guild_id)
            known = sorted({x["name"] for scope in self._core.commands.values() for x in scope.values()})
        if command is not None:
            c.fill_invocation(payload, command)
        elif allow_unregistered:
            data["id"] = str(p.new_snowflake())
        else:
            raise c.UnknownCommand(f"/{data['name']} is not registered (registered: {known})")

    def _register_interaction(self, payload: JSON) -> InteractionRecord:
        message = payload.get("message")
        record = InteractionRecord(
            id=int(payload["id"]),
            token=payload["token"],
            payload=payload,
            guild_id=int(payload["guild_id"]) if "guild_id" in payload else None,
            channel_id=int(payload["channel_id"]),
            target_message_id=int(message["id"]) if message else None,
        )
        with self._core.changing():
            if record.guild_id is None:
                self._core.ensure_dm_channel(payload["user"])
            if message and int(message["id"]) not in self._core.messages:
                self._core.store_message(copy.deepcopy(message))
            self._core.interactions[record.id] = record
            self._core.tokens[record.token] = record.id
        return record

    def interaction_result(self, handle: InteractionHandle) -> InteractionResult:
        """What the bot has answered to an interaction so far."""
        with self._core.cond:
            return self._core.snapshot(self._core.interactions[handle.id])

    def _deferral_resolved(self, record: InteractionRecord) -> bool:
        """Whether a deferred callback has been followed by the real answer (lock held)."""
        if record.callback_type == p.CALLBACK_DEFERRED_CHANNEL_MESSAGE:
            return bool(record.edits or record.followup_ids or record.original_deleted)
        if record.callback_type == p.CALLBACK_DEFERRED_UPDATE_MESSAGE:
            edited = self._core.edit_counts.get(record.original_id or 0, 0) > record.target_edits_at_ack
            return edited or bool(record.followup_ids)
        return True

    def _answered(self, record: InteractionRecord, followups: int) -> bool:
        """Whether the wait for this interaction is over (lock held)."""
        if record.callback_status is None:
            return False
        if record.callback_status >= 300:
            return True
        return self._deferral_resolved(record) and len(record.followup_ids) >= followups

    def wait_for_interaction_response(
        self, handle: InteractionHandle, timeout: float = DEFAULT_TIMEOUT, *, followups: int = 0
    ) -> InteractionResult:
        """Wait for the bot's answer to an interaction and return it.

        Done when the callback arrived and, for a deferred callback (5 or 6), the deferral
        was resolved (``@original`` edited, the target message edited, or a follow-up
        sent), and at least ``followups`` follow-ups exist. A rejected callback (e.g. too late:
        404 10062) also ends the wait; check ``callback_status``.
        """

        def probe() -> InteractionResult | None:
            record = self._core.interactions[handle.id]
            return self._core.snapshot(record) if self._answered(record, followups) else None

        name = handle.payload.get("data", {}).get("name") or handle.payload.get("data", {}).get("custom_id")
        return self._wait(probe, timeout, f"interaction {handle.id} ({name!r}) not answered")

    def attachment(
        self,
        filename: str,
        data: bytes | str,
        content_type: str = "text/plain; charset=utf-8",
        *,
        channel_id: int = p.CHANNEL_ID,
    ) -> JSON:
        """Serve ``data`` from the fake CDN; returns the attachment object (for options)."""
        raw = data.encode() if isinstance(data, str) else bytes(data)
        with self._core.changing():
            return self._rest.register_blob(channel_id, filename, raw, content_type)

    # -- failures ---------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int = 500,
        body: Any = None,
        *,
        count: int = 1,
        headers: Mapping[str, str] | None = None,
    ) -> Injection:
        """Answer the next ``count`` matching requests with ``status`` and ``body``.

        ``body`` may be a dict/list (sent as JSON), str or bytes (sent as is, e.g. to mimic a
        Cloudflare HTML page). Default body: Discord's error shape. Returns the injection,
        whose ``hits`` counts the requests it answered.
        """
        if body is None:
            body = {"message": f"{status}: injected by the fake", "code": 0}
        injection = Injection(
            method=method.upper(),
            pattern=re.compile(path_regex),
            status=status,
            body=body,
            headers=dict(headers or {}),
            remaining=count,
        )
        with self._core.changing():
            self._core.injections.append(injection)
        return injection

    def rate_limit_next(
        self, method: str, path_regex: str, retry_after: float = 0.25, count: int = 1, *, is_global: bool = False
    ) -> Injection:
        """Answer the next matching request(s) 429 exactly as Discord's rate limiter does."""
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(max(1, round(retry_after))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": "fake-rate-limited",
            "X-RateLimit-Scope": "shared" if not is_global else "global",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
        return self.fail_next(method, path_regex, 429, body, count=count, headers=headers)

    # -- gateway disruption ---------------------------------------------------------------------------

    def drop_gateway(self, code: int | None = None, *, shard: int | None = None) -> int:
        """Close the bot's gateway connection(s): abruptly if ``code`` is None, else with it.

        The sessions stay resumable; events dispatched meanwhile are replayed on RESUME.
        Returns how many connections were closed.
        """
        return self._call(self._gateway.drop(code, shard))

    def reconnect_gateway(self, *, shard: int | None = None) -> int:
        """Send op 7 RECONNECT (the client should reconnect and RESUME)."""
        return self._call(self._gateway.reconnect(shard))

    def invalidate_session(self, *, shard: int | None = None, resumable: bool = False) -> int:
        """Send op 9 INVALID_SESSION; non-resumable forces a fresh IDENTIFY.

        Note: discord.py waits 5 s (``before_identify_hook``) before re-IDENTIFYing.
        """
        return self._call(self._gateway.invalidate(shard, resumable))

    def has_gateway_session(self) -> bool:
        """Whether a client has IDENTIFYed (events can be dispatched)."""

        async def probe() -> bool:
            return self._gateway.has_session()

        return self._call(probe())
