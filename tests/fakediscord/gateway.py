"""The fake gateway: HELLO, IDENTIFY/READY, RESUME with replay, heartbeats, dispatches.

It speaks what discord.py's ``DiscordWebSocket`` expects: JSON frames, zlib-stream
compressed (one shared deflate context, each message ending in a Z_SYNC_FLUSH) when the
client asks for ``compress=zlib-stream`` and plain text otherwise. Sessions outlive their
connections so a dropped client can RESUME and get every dispatch it missed.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import secrets
import time
import zlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from . import messages as m
from . import payloads as p
from .core import Core, GatewayRecord

JSON = dict[str, Any]
_log = logging.getLogger(__name__)

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE = 3
OP_VOICE_STATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

BACKLOG = 5000

# Which intent an event needs, as (in a guild, in a DM).
_EVENT_INTENTS: dict[str, tuple[int, int]] = {
    "MESSAGE_CREATE": (p.INTENT_GUILD_MESSAGES, p.INTENT_DIRECT_MESSAGES),
    "MESSAGE_UPDATE": (p.INTENT_GUILD_MESSAGES, p.INTENT_DIRECT_MESSAGES),
    "MESSAGE_DELETE": (p.INTENT_GUILD_MESSAGES, p.INTENT_DIRECT_MESSAGES),
    "MESSAGE_DELETE_BULK": (p.INTENT_GUILD_MESSAGES, p.INTENT_GUILD_MESSAGES),
    "MESSAGE_REACTION_ADD": (p.INTENT_GUILD_MESSAGE_REACTIONS, p.INTENT_DIRECT_MESSAGE_REACTIONS),
    "MESSAGE_REACTION_REMOVE": (p.INTENT_GUILD_MESSAGE_REACTIONS, p.INTENT_DIRECT_MESSAGE_REACTIONS),
    "GUILD_MEMBER_ADD": (p.INTENT_GUILD_MEMBERS, p.INTENT_GUILD_MEMBERS),
    "GUILD_MEMBER_UPDATE": (p.INTENT_GUILD_MEMBERS, p.INTENT_GUILD_MEMBERS),
    "GUILD_MEMBER_REMOVE": (p.INTENT_GUILD_MEMBERS, p.INTENT_GUILD_MEMBERS),
    "PRESENCE_UPDATE": (p.INTENT_GUILD_PRESENCES, p.INTENT_GUILD_PRESENCES),
}


class NoGatewaySession(RuntimeError):
    """No client has IDENTIFYed on the shard an event would go to."""


class GatewayConnection:
    """One websocket; serialises sends so sequence order is wire order."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, compress: bool) -> None:
        self.ws = ws
        self.transport = request.transport
        self.path = request.path
        self.compressor = zlib.compressobj() if compress else None
        self.lock = asyncio.Lock()
        self.session: Session | None = None
        self.dropped = False

    async def send(self, payload: Mapping[str, Any]) -> None:
        """Send one gateway message (compressed like Discord when asked for)."""
        text = json.dumps(payload, separators=(",", ":"))
        async with self.lock:
            if self.ws.closed:
                raise ConnectionResetError("gateway connection closed")
            if self.compressor is None:
                await self.ws.send_str(text)
            else:
                data = self.compressor.compress(text.encode()) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(data)


@dataclass
class Session:
    """A gateway session: survives disconnects until replaced or invalidated."""

    session_id: str
    shard: tuple[int, int]
    sharded: bool
    intents: int
    seq: int = 0
    backlog: deque[JSON] = field(default_factory=lambda: deque(maxlen=BACKLOG))
    conn: GatewayConnection | None = None
    valid: bool = True


class Gateway:
    """Serves the gateway websocket and routes dispatches to shard sessions."""

    def __init__(self, core: Core, *, heartbeat_interval_ms: int) -> None:
        self.core = core
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: dict[str, Session] = {}
        self.current: dict[int, Session] = {}
        self.conns: set[GatewayConnection] = set()
        self.ws_url = ""
        self.resume_url = ""

    # -- recording --------------------------------------------------------------------------

    def _record(self, kind: str, session: Session | None, data: Any = None) -> None:
        record = GatewayRecord(
            kind=kind,
            shard=session.shard if session else None,
            session_id=session.session_id if session else None,
            data=data,
            at=time.monotonic(),
        )
        with self.core.changing():
            self.core.gateway_log.append(record)

    # -- the websocket handler -----------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one gateway connection until either side closes it."""
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        conn = GatewayConnection(ws, request, request.query.get("compress") == "zlib-stream")
        self.conns.add(conn)
        self._record("connect", None, {"path": request.path, "query": dict(request.query)})
        try:
            await conn.send(
                {"op": OP_HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}, "s": None, "t": None}
            )
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT and msg.type is not WSMsgType.BINARY:
                    continue
                try:
                    frame = json.loads(msg.data)
                except ValueError:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                await self._on_frame(conn, frame)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._detach(conn)
        return ws

    def _detach(self, conn: GatewayConnection) -> None:
        self.conns.discard(conn)
        session = conn.session
        if session is not None and session.conn is conn:
            session.conn = None
        if not conn.dropped:
            self._record("close", session, {"code": conn.ws.close_code})

    async def _on_frame(self, conn: GatewayConnection, frame: Mapping[str, Any]) -> None:
        op = frame.get("op")
        data = frame.get("d")
        if op == OP_HEARTBEAT:
            self._record("heartbeat", conn.session, data)
            await conn.send({"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == OP_IDENTIFY:
            await self._identify(conn, data or {})
        elif op == OP_RESUME:
            await self._resume(conn, data or {})
        elif conn.session is None:
            await conn.ws.close(code=4003, message=b"Not authenticated.")
        elif op == OP_PRESENCE:
            self._record("presence", conn.session, data)
        elif op == OP_VOICE_STATE:
            self._record("voice_state", conn.session, data)
        elif op == OP_REQUEST_MEMBERS:
            await self._request_members(conn, data or {})
        else:
            await conn.ws.close(code=4001, message=b"Unknown opcode.")

    async def _identify(self, conn: GatewayConnection, data: Mapping[str, Any]) -> None:
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated.")
            return
        if data.get("token") != self.core.token:
            self._record("identify", None, {"token_ok": False})
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if "intents" not in data:
            await conn.ws.close(code=4013, message=b"Invalid intent(s).")
            return
        raw_shard = data.get("shard")
        shard = (int(raw_shard[0]), int(raw_shard[1])) if raw_shard else (0, 1)
        if shard[0] >= shard[1]:
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return
        session = Session(secrets.token_hex(16), shard, raw_shard is not None, int(data["intents"]))
        old = self.current.get(shard[0])
        if old is not None:
            old.valid = False
        self.sessions[session.session_id] = session
        self.current[shard[0]] = session
        session.conn = conn
        conn.session = session
        recorded = {k: v for k, v in data.items() if k != "token"}
        self._record("identify", session, {**recorded, "token_ok": True})
        await self._emit(session, "READY", self._ready(session))
        for guild in self._guilds_on(shard):
            await self._emit(session, "GUILD_CREATE", guild)
        with self.core.changing():
            self.core.ready_shards[shard] = session.session_id
        self._record("ready", session)

    def _ready(self, session: Session) -> JSON:
        shard = session.shard
        guilds = [{"id": str(p.GUILD_ID), "unavailable": True}] if p.shard_for(p.GUILD_ID, shard[1]) == shard[0] else []
        me = {**p.BOT_USER, "verified": True, "mfa_enabled": False, "email": None, "flags": 0}
        ready: JSON = {
            "v": 10,
            "user": me,
            "guilds": guilds,
            "session_id": session.session_id,
            "resume_gateway_url": self.resume_url,
            "application": {"id": str(p.APPLICATION_ID), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "session_type": "normal",
            "auth": {},
            "_trace": ['["fake-gateway",{"micros":0}]'],
        }
        if session.sharded:
            ready["shard"] = list(shard)
        return ready

    def _guilds_on(self, shard: tuple[int, int]) -> list[JSON]:
        if p.shard_for(p.GUILD_ID, shard[1]) != shard[0]:
            return []
        session = self.current[shard[0]]
        return [p.guild_create(members_intent=bool(session.intents & p.INTENT_GUILD_MEMBERS))]

    async def _resume(self, conn: GatewayConnection, data: Mapping[str, Any]) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if data.get("token") != self.core.token or session is None or not session.valid:
            self._record("invalid_session", session, {"resumable": False})
            await conn.send({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        if session.conn is not None and session.conn is not conn:
            stale = session.conn  # not yet noticed gone; never wait on its close handshake
            stale.dropped = True
            if stale.transport is not None:
                stale.transport.abort()
        session.conn = conn
        conn.session = session
        seq = data.get("seq")
        self._record("resume", session, {"seq": seq, "path": conn.path})
        for frame in list(session.backlog):
            if seq is None or frame["s"] > seq:
                await conn.send(frame)
        await self._emit(session, "RESUMED", {"_trace": ['["fake-gateway",{"micros":0}]']})
        self._record("resumed", session)

    async def _request_members(self, conn: GatewayConnection, data: Mapping[str, Any]) -> None:
        assert conn.session is not None
        self._record("request_members", conn.session, data)
        wanted = {int(u) for u in data.get("user_ids") or []}
        query = str(data.get("query") or "").lower()
        members = [
            p.guild_member(u)
            for uid, u in p.USERS.items()
            if (not wanted or uid in wanted) and u["username"].lower().startswith(query)
        ]
        limit = int(data.get("limit") or 0)
        chunk: JSON = {
            "guild_id": str(data.get("guild_id", p.GUILD_ID)),
            "members": members[:limit] if limit else members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self._emit(conn.session, "GUILD_MEMBERS_CHUNK", chunk)

    # -- dispatching -----------------------------------------------------------------------

    async def _emit(self, session: Session, event: str, data: Any) -> int:
        """Give the event the session's next sequence number, keep it for replay, send it."""
        with self.core.changing():
            session.seq += 1
            frame = {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data}
            session.backlog.append(frame)
        conn = session.conn
        if conn is not None:
            try:
                await conn.send(frame)
            except (ConnectionResetError, RuntimeError):
                _log.debug("dispatch %s s=%s buffered: connection went away", event, frame["s"])
        return int(frame["s"])

    def _target(self, data: Any, shard: int | None) -> Session | None:
        if shard is not None:
            return self.current.get(shard)
        if not self.current:
            return None
        count = next(iter(self.current.values())).shard[1]
        guild_id = data.get("guild_id") if isinstance(data, Mapping) else None
        return self.current.get(p.shard_for(int(guild_id) if guild_id else None, count))

    @staticmethod
    def _filter(session: Session, event: str, data: Any) -> Any:
        """The event as this session may see it: None if its intents exclude it."""
        if not isinstance(data, Mapping):
            return data
        in_guild = "guild_id" in data
        needed = _EVENT_INTENTS.get(event)
        if needed is not None and not session.intents & needed[0 if in_guild else 1]:
            return None
        if (
            event in ("MESSAGE_CREATE", "MESSAGE_UPDATE")
            and not session.intents & p.INTENT_MESSAGE_CONTENT
            and m.needs_content_intent(data, p.BOT_USER_ID)
        ):
            return m.strip_content(dict(data))
        return data

    def has_session(self) -> bool:
        """Whether any shard has a session to dispatch to."""
        return bool(self.current)

    async def dispatch(self, event: str, data: Any, *, shard: int | None = None) -> int | None:
        """Send a DISPATCH to the shard that owns it; None if its intents filter it out.

        A disconnected session buffers the event and replays it on RESUME, like Discord.
        """
        session = self._target(data, shard)
        if session is None:
            raise NoGatewaySession(f"no gateway session for {event} (shard {shard})")
        visible = self._filter(session, event, copy.deepcopy(data))
        if visible is None:
            _log.debug("%s not sent: intents %s exclude it", event, session.intents)
            return None
        return await self._emit(session, event, visible)

    # -- disruption -------------------------------------------------------------------------

    def _live(self, shard: int | None) -> list[tuple[Session, GatewayConnection]]:
        return [
            (s, s.conn) for s in self.current.values() if s.conn is not None and (shard is None or s.shard[0] == shard)
        ]

    async def drop(self, code: int | None, shard: int | None) -> int:
        """Close live connections: abruptly (TCP abort) if ``code`` is None, else with it."""
        live = self._live(shard)
        for session, conn in live:
            conn.dropped = True
            session.conn = None
            self._record("drop", session, {"code": code})
            if code is not None:
                try:
                    await asyncio.wait_for(conn.ws.close(code=code, message=b"fake drop"), timeout=2)
                    continue
                except (TimeoutError, ConnectionError):
                    _log.debug("close handshake with code %s timed out; aborting", code)
            if conn.transport is not None:
                conn.transport.abort()
        return len(live)

    async def reconnect(self, shard: int | None) -> int:
        """Ask clients to reconnect (op 7), as Discord does before maintenance."""
        live = self._live(shard)
        for _session, conn in live:
            await conn.send({"op": OP_RECONNECT, "d": None, "s": None, "t": None})
        return len(live)

    async def invalidate(self, shard: int | None, resumable: bool) -> int:
        """Send op 9; a non-resumable one also forgets the session, forcing a new IDENTIFY."""
        live = self._live(shard)
        for session, conn in live:
            if not resumable:
                session.valid = False
            self._record("invalid_session", session, {"resumable": resumable})
            await conn.send({"op": OP_INVALID_SESSION, "d": resumable, "s": None, "t": None})
        return len(live)

    async def close_all(self) -> None:
        """Close every connection on shutdown (Going Away)."""
        for conn in list(self.conns):
            conn.dropped = True
            if not conn.ws.closed:
                try:
                    await asyncio.wait_for(conn.ws.close(code=1001, message=b"fake shutting down"), timeout=2)
                except (TimeoutError, ConnectionError):
                    if conn.transport is not None:
                        conn.transport.abort()
