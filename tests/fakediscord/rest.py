"""The fake REST API v10 (plus CDN downloads), recording every request it gets.

Responses carry exactly ``Content-Type: application/json`` (discord.py compares the header
verbatim and treats anything else as text), a ``Via`` header and ``X-RateLimit-*`` headers
like Discord's, so the client's rate-limit code runs as in production. Injected 429s have
``Via`` and a JSON ``retry_after``, without which discord.py assumes a Cloudflare ban.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from . import commands as c
from . import messages as m
from . import payloads as p
from .core import Core, InteractionRecord, RecordedPart, RecordedRequest
from .gateway import Gateway, NoGatewaySession
from .messages import ApiError, unknown

JSON = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
WS_PATHS = ("/gateway", "/resume-gateway")
RATE_LIMIT = 50
# A 1x1 transparent PNG, served for avatars and icons.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da6360000002000001e221bc330000000049454e44ae426082"
)
_NO_AUTH_PREFIXES = ("/interactions/", "/webhooks/")


@dataclass
class Exchange:
    """Per-request scratch space: the parsed body, the answer, follow-on gateway events."""

    body: Any = None
    parts: list[RecordedPart] = field(default_factory=list)
    response_json: Any = None
    unmatched: bool = False
    after: list[tuple[str, JSON]] = field(default_factory=list)


EXCHANGE = web.RequestKey("fakediscord_exchange", Exchange)


def exchange(request: web.Request) -> Exchange:
    """The request's Exchange (created on first use, e.g. for gateway upgrades)."""
    found = request.get(EXCHANGE)
    if found is None:
        found = Exchange()
        request[EXCHANGE] = found
    return found


def _bucket(request: web.Request) -> str:
    """A stable per-route bucket hash, like Discord's ``X-RateLimit-Bucket``."""
    resource = request.match_info.route.resource
    template = resource.canonical if resource is not None else request.path
    return hashlib.sha1(f"{request.method} {template}".encode()).hexdigest()[:16]


def _rate_headers(bucket: str, *, remaining: int, reset_after: float) -> dict[str, str]:
    return {
        "X-RateLimit-Bucket": bucket,
        "X-RateLimit-Limit": str(RATE_LIMIT),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
    }


def json_response(
    request: web.Request, data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON response with Discord's exact content type and headers; remembers ``data``."""
    exchange(request).response_json = data
    merged = {"Content-Type": "application/json", "Via": "1.1 google"}
    if request.path.startswith(API_PREFIX):
        merged.update(_rate_headers(_bucket(request), remaining=RATE_LIMIT - 1, reset_after=1.0))
    merged.update(headers or {})
    return web.Response(body=json.dumps(data).encode(), status=status, headers=merged)


def no_content(request: web.Request) -> web.Response:
    """204 No Content, as Discord answers deletes, typing and reactions."""
    exchange(request).response_json = None
    return web.Response(status=204, headers={"Via": "1.1 google"})


def _snowflake(request: web.Request, key: str) -> int:
    try:
        return int(request.match_info[key])
    except ValueError:
        raise ApiError(
            400,
            50035,
            "Invalid Form Body",
            {key: {"_errors": [{"code": "NUMBER_TYPE_COERCE", "message": "Not a snowflake."}]}},
        ) from None


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true")


class RestApi:
    """aiohttp handlers for the REST routes; state lives in ``Core``."""

    def __init__(self, core: Core, gateway: Gateway) -> None:
        self.core = core
        self.gateway = gateway

    # -- app wiring -------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        """The aiohttp application: REST routes, CDN, gateway, catch-all 404."""
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        a = API_PREFIX
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/resume-gateway", self.gateway.handle)
        app.router.add_get(a + "/users/@me", self.get_me)
        app.router.add_post(a + "/users/@me/channels", self.create_dm)
        app.router.add_get(a + "/users/{user_id}", self.get_user)
        app.router.add_get(a + "/gateway", self.get_gateway)
        app.router.add_get(a + "/gateway/bot", self.get_gateway_bot)
        app.router.add_get(a + "/oauth2/applications/@me", self.get_application)
        app.router.add_get(a + "/applications/@me", self.get_application)
        for prefix in ("/applications/{app_id}", "/applications/{app_id}/guilds/{guild_id}"):
            app.router.add_get(a + prefix + "/commands", self.list_commands)
            app.router.add_put(a + prefix + "/commands", self.overwrite_commands)
            app.router.add_post(a + prefix + "/commands", self.create_command)
            app.router.add_get(a + prefix + "/commands/permissions", self.command_permissions)
            app.router.add_get(a + prefix + "/commands/{command_id}", self.get_command)
            app.router.add_patch(a + prefix + "/commands/{command_id}", self.edit_command)
            app.router.add_delete(a + prefix + "/commands/{command_id}", self.delete_command)
        app.router.add_post(a + "/interactions/{interaction_id}/{token}/callback", self.interaction_callback)
        app.router.add_post(a + "/webhooks/{app_id}/{token}", self.webhook_execute)
        hook_message = a + "/webhooks/{app_id}/{token}/messages/{message_id}"
        app.router.add_get(hook_message, self.webhook_get)
        app.router.add_patch(hook_message, self.webhook_edit)
        app.router.add_delete(hook_message, self.webhook_delete)
        app.router.add_get(a + "/channels/{channel_id}", self.get_channel)
        app.router.add_get(a + "/channels/{channel_id}/messages", self.list_messages)
        app.router.add_post(a + "/channels/{channel_id}/messages", self.create_message)
        app.router.add_get(a + "/channels/{channel_id}/messages/{message_id}", self.get_message)
        app.router.add_patch(a + "/channels/{channel_id}/messages/{message_id}", self.edit_message)
        app.router.add_delete(a + "/channels/{channel_id}/messages/{message_id}", self.delete_message)
        app.router.add_post(a + "/channels/{channel_id}/typing", self.typing)
        reaction = a + "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{who}"
        app.router.add_put(reaction, self.add_reaction)
        app.router.add_delete(reaction, self.remove_reaction)
        app.router.add_get(a + "/guilds/{guild_id}", self.get_guild)
        app.router.add_get(a + "/guilds/{guild_id}/channels", self.get_guild_channels)
        app.router.add_get(a + "/guilds/{guild_id}/roles", self.get_roles)
        app.router.add_get(a + "/guilds/{guild_id}/members/{user_id}", self.get_member)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self.cdn_attachment)
        app.router.add_get("/{kind:avatars|icons|embed/avatars|banners}/{tail:.*}", self.cdn_image)
        app.router.add_route("*", "/{tail:.*}", self.not_found)
        return app

    # -- recording, auth, injection ------------------------------------------------------------

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[Any, list[RecordedPart]]:
        """Parse a JSON or multipart body; the ``payload_json`` part stands in for JSON."""
        if not request.body_exists:
            return None, []
        ctype = request.content_type
        if ctype.startswith("multipart/"):
            parts: list[RecordedPart] = []
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):
                    continue  # nested multipart: Discord clients never send one
                data = await part.read()
                parts.append(
                    RecordedPart(
                        name=part.name or "",
                        filename=part.filename,
                        content_type=part.headers.get("Content-Type"),
                        data=bytes(data),
                    )
                )
            payload = next((json.loads(x.data) for x in parts if x.name == "payload_json"), None)
            return payload, parts
        raw = await request.read()
        if not raw:
            return None, []
        try:
            return json.loads(raw), []
        except ValueError:
            return raw.decode("utf-8", "replace"), []

    def _authorised(self, request: web.Request, rel: str) -> bool:
        if not request.path.startswith(API_PREFIX) or rel.startswith(_NO_AUTH_PREFIXES):
            return True
        return request.headers.get("Authorization") == f"Bot {self.core.token}"

    def _injected(self, request: web.Request, rel: str) -> web.Response | None:
        with self.core.changing():
            injection = self.core.take_injection(request.method, rel)
        if injection is None:
            return None
        headers = dict(injection.headers)
        if isinstance(injection.body, (dict, list)):
            return json_response(request, injection.body, injection.status, headers)
        exchange(request).response_json = injection.body
        body = injection.body.encode() if isinstance(injection.body, str) else bytes(injection.body or b"")
        return web.Response(body=body, status=injection.status, headers=headers)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Record the request, then answer with an injection, a 401, or the handler."""
        if request.path in WS_PATHS:
            return await handler(request)
        rel = request.path[len(API_PREFIX) :] if request.path.startswith(API_PREFIX) else request.path
        body, parts = await self._read_body(request)
        exchange(request).body = body
        exchange(request).parts = parts
        record = RecordedRequest(
            index=-1,
            method=request.method,
            path=rel,
            query=dict(request.query),
            headers=dict(request.headers),
            json=body,
            parts=parts,
            at=time.monotonic(),
        )
        response: web.StreamResponse
        try:
            injected = self._injected(request, rel)
            if injected is not None:
                record.injected = True
                response = injected
            elif not self._authorised(request, rel):
                response = json_response(request, {"message": "401: Unauthorized", "code": 0}, 401)
            else:
                response = await handler(request)
        except ApiError as exc:
            response = json_response(request, exc.body(), exc.status)
        record.status = response.status
        record.response = exchange(request).response_json
        record.matched = not exchange(request).unmatched
        with self.core.changing():
            record.index = len(self.core.requests)
            self.core.requests.append(record)
        _log.debug("%s %s -> %s", request.method, rel, response.status)
        for event, data in exchange(request).after:
            await self._dispatch_quietly(event, data)
        return response

    async def _dispatch_quietly(self, event: str, data: JSON) -> None:
        """Echo an event to the bot's gateway; fine if no session is there to get it."""
        try:
            await self.gateway.dispatch(event, data)
        except NoGatewaySession:
            _log.debug("no gateway session for echoed %s", event)

    @staticmethod
    def _after(request: web.Request, event: str, data: JSON) -> None:
        """Queue a gateway event to send once the response is recorded."""
        exchange(request).after.append((event, data))

    async def not_found(self, request: web.Request) -> web.Response:
        """Unknown route: 404 JSON, recorded with ``matched=False`` for tests to spot."""
        exchange(request).unmatched = True
        _log.warning("fake discord: unknown route %s %s", request.method, request.path)
        return json_response(request, {"message": "Unknown", "code": 0}, 404)

    # -- users, gateway, application ------------------------------------------------------------

    async def get_me(self, request: web.Request) -> web.Response:
        """GET /users/@me: the bot user (discord.py's login call)."""
        me = {**p.BOT_USER, "verified": True, "mfa_enabled": False, "email": None, "locale": "en-US", "flags": 0}
        return json_response(request, me)

    async def get_user(self, request: web.Request) -> web.Response:
        """GET /users/{id}."""
        found = p.USERS.get(_snowflake(request, "user_id"))
        if found is None:
            raise unknown("User", 10013)
        return json_response(request, found)

    async def create_dm(self, request: web.Request) -> web.Response:
        """POST /users/@me/channels: open (or return) the DM channel with a user."""
        body = exchange(request).body or {}
        who = p.USERS.get(int(body.get("recipient_id", 0)))
        if who is None:
            raise unknown("User", 10013)
        with self.core.changing():
            channel = copy.deepcopy(self.core.ensure_dm_channel(who))
        return json_response(request, channel)

    async def get_gateway(self, request: web.Request) -> web.Response:
        """GET /gateway."""
        return json_response(request, {"url": self.gateway.ws_url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        """GET /gateway/bot: the fake's websocket URL and recommended shard count."""
        limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        return json_response(
            request, {"url": self.gateway.ws_url, "shards": self.core.shards, "session_start_limit": limit}
        )

    async def get_application(self, request: web.Request) -> web.Response:
        """GET /oauth2/applications/@me: the application (id, flags, owner)."""
        app: JSON = {
            "id": str(p.APPLICATION_ID),
            "name": "Fake Bot",
            "icon": None,
            "description": "",
            "summary": "",
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "owner": p.OWNER,
            "team": None,
            "bot": p.BOT_USER,
            "approximate_guild_count": 1,
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "tags": [],
        }
        return json_response(request, app)

    # -- application commands -------------------------------------------------------------------

    def _scope(self, request: web.Request) -> int | None:
        if _snowflake(request, "app_id") != p.APPLICATION_ID:
            raise unknown("Application", 10002)
        guild = request.match_info.get("guild_id")
        if guild is None:
            return None
        if int(guild) != p.GUILD_ID:
            raise ApiError(403, 50001, "Missing Access")
        return int(guild)

    def _register(self, scope: int | None, command: Mapping[str, Any]) -> JSON:
        """Register or update one command, keeping its id like Discord (lock held)."""
        existing = self.core.commands.setdefault(scope, {})
        kind = int(command.get("type", 1))
        same = next((x for x in existing.values() if x["name"] == command["name"] and x["type"] == kind), None)
        command_id = int(same["id"]) if same else p.new_snowflake()
        stored = c.registered(command, command_id=command_id, guild_id=scope)
        existing[command_id] = stored
        return stored

    async def list_commands(self, request: web.Request) -> web.Response:
        """GET .../commands."""
        scope = self._scope(request)
        with self.core.cond:
            listed = copy.deepcopy(list(self.core.commands.get(scope, {}).values()))
        return json_response(request, listed)

    async def overwrite_commands(self, request: web.Request) -> web.Response:
        """PUT .../commands: bulk overwrite (what ``CommandTree.sync`` calls)."""
        scope = self._scope(request)
        body = exchange(request).body
        if not isinstance(body, list):
            raise m.form_error([m.FieldError((), "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")])
        c.validate_commands(body)
        with self.core.changing():
            previous = list(self.core.commands.get(scope, {}).values())
            fresh: dict[int, JSON] = {}
            for command in body:
                kind = int(command.get("type", 1))
                same = next((x for x in previous if x["name"] == command["name"] and x["type"] == kind), None)
                command_id = int(same["id"]) if same else p.new_snowflake()
                fresh[command_id] = c.registered(command, command_id=command_id, guild_id=scope)
            self.core.commands[scope] = fresh
            listed = copy.deepcopy(list(fresh.values()))
        return json_response(request, listed)

    async def create_command(self, request: web.Request) -> web.Response:
        """POST .../commands: create or update one command."""
        scope = self._scope(request)
        body = exchange(request).body or {}
        c.validate_commands([body])
        with self.core.changing():
            existed = any(x["name"] == body.get("name") for x in self.core.commands.get(scope, {}).values())
            stored = copy.deepcopy(self._register(scope, body))
        return json_response(request, stored, 200 if existed else 201)

    def _command(self, request: web.Request, scope: int | None) -> JSON:
        found = self.core.commands.get(scope, {}).get(_snowflake(request, "command_id"))
        if found is None:
            raise unknown("application command", 10063)
        return found

    async def get_command(self, request: web.Request) -> web.Response:
        """GET .../commands/{id}."""
        scope = self._scope(request)
        with self.core.cond:
            return json_response(request, copy.deepcopy(self._command(request, scope)))

    async def edit_command(self, request: web.Request) -> web.Response:
        """PATCH .../commands/{id}."""
        scope = self._scope(request)
        with self.core.changing():
            found = self._command(request, scope)
            merged = {**found, **(exchange(request).body or {})}
            c.validate_commands([merged])
            stored = copy.deepcopy(self._register(scope, merged))
        return json_response(request, stored)

    async def delete_command(self, request: web.Request) -> web.Response:
        """DELETE .../commands/{id}."""
        scope = self._scope(request)
        with self.core.changing():
            found = self._command(request, scope)
            del self.core.commands[scope][int(found["id"])]
        return no_content(request)

    async def command_permissions(self, request: web.Request) -> web.Response:
        """GET .../commands/permissions: none configured."""
        self._scope(request)
        return json_response(request, [])

    # -- attachments and uploads ------------------------------------------------------------------

    def register_blob(self, channel_id: int, filename: str, data: bytes, content_type: str) -> JSON:
        """Serve ``data`` from the fake CDN and return its attachment object (lock held)."""
        attachment_id = p.new_snowflake()
        self.core.blobs[f"{channel_id}/{attachment_id}/{filename}"] = (data, content_type)
        stamp = int(time.time())
        url = (
            f"{self.core.base_url}/attachments/{channel_id}/{attachment_id}/{quote(filename)}"
            f"?ex={stamp + 86400:x}&is={stamp:x}&hm={hashlib.sha1(data).hexdigest()}&"
        )
        return p.attachment(filename, url, size=len(data), content_type=content_type, attachment_id=attachment_id)

    def _uploads(self, request: web.Request, channel_id: int) -> list[JSON]:
        """Attachment objects for the ``files[n]`` parts of a multipart body (lock held)."""
        body = exchange(request).body or {}
        described = {str(a.get("id")): a for a in (body.get("attachments") or []) if isinstance(a, Mapping)}
        uploaded = []
        for part in exchange(request).parts:
            if part.filename is None:
                continue
            index = part.name[len("files[") : -1] if part.name.startswith("files[") else ""
            meta = described.get(index, {})
            filename = str(meta.get("filename") or part.filename)
            att = self.register_blob(channel_id, filename, part.data, part.content_type or "application/octet-stream")
            if meta.get("description"):
                att["description"] = meta["description"]
            uploaded.append(att)
        return uploaded

    async def cdn_attachment(self, request: web.Request) -> web.Response:
        """GET /attachments/...: bytes registered by a test or uploaded by the bot."""
        info = request.match_info
        key = f"{info['channel_id']}/{info['attachment_id']}/{info['filename']}"
        with self.core.cond:
            found = self.core.blobs.get(key)
        if found is None:
            exchange(request).response_json = None
            return web.Response(status=404, text="This content is no longer available.")
        data, content_type = found
        exchange(request).response_json = None
        return web.Response(body=data, headers={"Content-Type": content_type})

    async def cdn_image(self, request: web.Request) -> web.Response:
        """Avatars, icons, banners: a 1x1 PNG for any of them."""
        exchange(request).response_json = None
        return web.Response(body=TINY_PNG, headers={"Content-Type": "image/png"})

    # -- channels and messages --------------------------------------------------------------------

    def _channel(self, request: web.Request) -> int:
        channel_id = _snowflake(request, "channel_id")
        if channel_id not in self.core.channels:
            raise unknown("Channel", 10003)
        return channel_id

    def _gateway_copy(self, message: JSON) -> JSON:
        """The message as MESSAGE_CREATE/UPDATE carries it (guild id and author member)."""
        event = copy.deepcopy(message)
        if self.core.is_guild_channel(int(message["channel_id"])):
            event["guild_id"] = str(p.GUILD_ID)
            event["member"] = p.partial_member(message["author"])
        return event

    def _echo(self, request: web.Request, event: str, message: JSON) -> None:
        if int(message.get("flags", 0)) & p.MESSAGE_FLAG_EPHEMERAL:
            return
        self._after(request, event, self._gateway_copy(message))

    def _echo_delete(self, request: web.Request, message: JSON) -> None:
        data = {"id": message["id"], "channel_id": message["channel_id"]}
        if self.core.is_guild_channel(int(message["channel_id"])):
            data["guild_id"] = str(p.GUILD_ID)
        if not int(message.get("flags", 0)) & p.MESSAGE_FLAG_EPHEMERAL:
            self._after(request, "MESSAGE_DELETE", data)

    async def get_channel(self, request: web.Request) -> web.Response:
        """GET /channels/{id}."""
        with self.core.cond:
            channel = copy.deepcopy(self.core.channels[self._channel(request)])
        return json_response(request, channel)

    async def list_messages(self, request: web.Request) -> web.Response:
        """GET /channels/{id}/messages: newest first, ``limit`` honoured."""
        limit = int(request.query.get("limit", "50"))
        with self.core.cond:
            channel_id = self._channel(request)
            ids = [i for i in self.core.channel_messages.get(channel_id, []) if i not in self.core.deleted]
            listed = [copy.deepcopy(self.core.messages[i]) for i in reversed(ids)][:limit]
        return json_response(request, listed)

    def _message(self, request: web.Request) -> JSON:
        channel_id = self._channel(request)
        found = self.core.live_message(channel_id, _snowflake(request, "message_id"))
        if found is None:
            raise unknown("Message", 10008)
        return found

    async def get_message(self, request: web.Request) -> web.Response:
        """GET /channels/{id}/messages/{id}."""
        with self.core.cond:
            return json_response(request, copy.deepcopy(self._message(request)))

    def _referenced(self, body: Mapping[str, Any], channel_id: int) -> JSON | None:
        ref = body.get("message_reference")
        if not ref:
            return None
        found = self.core.live_message(None, int(ref.get("message_id", 0)))
        if found is None and ref.get("fail_if_not_exists", True):
            raise m.form_error(
                [m.FieldError(("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")]
            )
        return copy.deepcopy(found) if found is not None else None

    async def create_message(self, request: web.Request) -> web.Response:
        """POST /channels/{id}/messages: the bot posts (text, embeds, files, replies)."""
        body = exchange(request).body or {}
        with self.core.changing():
            channel_id = self._channel(request)
            m.validate_message(body, creating=True, files=sum(1 for x in exchange(request).parts if x.filename))
            referenced = self._referenced(body, channel_id)
            message = m.build_message(
                channel_id=channel_id,
                author=p.BOT_USER,
                body=body,
                attachments=self._uploads(request, channel_id),
                referenced=referenced,
                guild=self.core.is_guild_channel(channel_id),
            )
            self.core.store_message(message)
            reply = copy.deepcopy(message)
        self._echo(request, "MESSAGE_CREATE", reply)
        return json_response(request, reply)

    async def edit_message(self, request: web.Request) -> web.Response:
        """PATCH /channels/{id}/messages/{id}: only the bot's own messages."""
        body = exchange(request).body or {}
        with self.core.changing():
            message = self._message(request)
            if int(message["author"]["id"]) != p.BOT_USER_ID:
                raise ApiError(403, 50005, "Cannot edit a message authored by another user")
            m.validate_message(body, creating=False)
            channel_id = int(message["channel_id"])
            uploads = self._uploads(request, channel_id)
            m.apply_edit(message, body, uploads, guild=self.core.is_guild_channel(channel_id))
            self.core.count_edit(message)
            reply = copy.deepcopy(message)
        self._echo(request, "MESSAGE_UPDATE", reply)
        return json_response(request, reply)

    async def delete_message(self, request: web.Request) -> web.Response:
        """DELETE /channels/{id}/messages/{id}."""
        with self.core.changing():
            message = self._message(request)
            self.core.deleted.add(int(message["id"]))
        self._echo_delete(request, message)
        return no_content(request)

    async def typing(self, request: web.Request) -> web.Response:
        """POST /channels/{id}/typing."""
        with self.core.cond:
            self._channel(request)
        return no_content(request)

    async def add_reaction(self, request: web.Request) -> web.Response:
        """PUT .../reactions/{emoji}/@me."""
        if request.match_info["who"] != "@me":
            raise unknown("route", 0)
        emoji = request.match_info["emoji"]
        with self.core.changing():
            message = self._message(request)
            reactions = message.setdefault("reactions", [])
            entry = next((r for r in reactions if r["emoji"]["name"] == emoji), None)
            if entry is None:
                reactions.append({"count": 1, "me": True, "emoji": {"id": None, "name": emoji}, "burst_colors": []})
            elif not entry["me"]:
                entry["me"] = True
                entry["count"] += 1
        return no_content(request)

    async def remove_reaction(self, request: web.Request) -> web.Response:
        """DELETE .../reactions/{emoji}/@me (or a user id)."""
        emoji = request.match_info["emoji"]
        with self.core.changing():
            message = self._message(request)
            reactions = message.get("reactions", [])
            for entry in reactions:
                if entry["emoji"]["name"] == emoji:
                    entry["count"] -= 1
                    entry["me"] = entry["me"] and request.match_info["who"] != "@me"
            message["reactions"] = [r for r in reactions if r["count"] > 0]
        return no_content(request)

    # -- guild ------------------------------------------------------------------------------

    def _guild(self, request: web.Request) -> None:
        if _snowflake(request, "guild_id") != p.GUILD_ID:
            raise unknown("Guild", 10004)

    async def get_guild(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}: the guild without its gateway-only fields."""
        self._guild(request)
        guild = p.guild_create()
        for key in (
            "members",
            "channels",
            "threads",
            "presences",
            "voice_states",
            "joined_at",
            "large",
            "member_count",
        ):
            guild.pop(key, None)
        return json_response(request, guild)

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}/channels."""
        self._guild(request)
        return json_response(request, [copy.deepcopy(x) for x in p.CHANNELS])

    async def get_roles(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}/roles."""
        self._guild(request)
        return json_response(request, copy.deepcopy(list(p.ROLES)))

    async def get_member(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}/members/{user_id}."""
        self._guild(request)
        who = p.USERS.get(_snowflake(request, "user_id"))
        if who is None:
            raise unknown("Member", 10007)
        return json_response(request, p.guild_member(who))

    # -- interactions -------------------------------------------------------------------------

    def _interaction_extra(self, record: InteractionRecord) -> JSON:
        """Fields Discord puts on messages created by an interaction response."""
        payload = record.payload
        who = payload.get("member", {}).get("user") or payload.get("user")
        extra: JSON = {
            "webhook_id": str(p.APPLICATION_ID),
            "application_id": str(p.APPLICATION_ID),
            "interaction_metadata": {
                "id": str(record.id),
                "type": payload["type"],
                "user": who,
                "authorizing_integration_owners": payload.get("authorizing_integration_owners", {}),
            },
        }
        if payload["type"] == p.INTERACTION_APPLICATION_COMMAND:
            extra["interaction"] = {"id": str(record.id), "type": 2, "name": payload["data"]["name"], "user": who}
        return extra

    def _new_interaction_message(
        self, request: web.Request, record: InteractionRecord, data: Mapping[str, Any], *, flags: int = 0
    ) -> JSON:
        """Create and store a message produced by an interaction (lock held)."""
        message = m.build_message(
            channel_id=record.channel_id,
            author=p.BOT_USER,
            body=data,
            attachments=self._uploads(request, record.channel_id),
            guild=record.guild_id is not None,
            flags=flags,
            extra=self._interaction_extra(record),
        )
        self.core.store_message(message)
        return message

    def _callback_effect(self, request: web.Request, record: InteractionRecord, body: Mapping[str, Any]) -> JSON:
        """Apply one callback and return the ``with_response`` body (lock held)."""
        kind = int(body.get("type", 0))
        data = body.get("data") or {}
        files = sum(1 for x in exchange(request).parts if x.filename)
        interaction: JSON = {"id": str(record.id), "type": record.payload["type"]}
        reply: JSON = {"interaction": interaction}
        if kind == p.CALLBACK_CHANNEL_MESSAGE:
            m.validate_message(data, creating=True, files=files, prefix=("data",))
            message = self._new_interaction_message(request, record, data)
            record.original_id = int(message["id"])
            self._echo(request, "MESSAGE_CREATE", message)
        elif kind == p.CALLBACK_DEFERRED_CHANNEL_MESSAGE:
            ephemeral = int(data.get("flags") or 0) & p.MESSAGE_FLAG_EPHEMERAL
            message = self._new_interaction_message(request, record, {}, flags=ephemeral | p.MESSAGE_FLAG_LOADING)
            record.original_id = int(message["id"])
            interaction["response_message_loading"] = True
            self._echo(request, "MESSAGE_CREATE", message)
        elif kind in (p.CALLBACK_DEFERRED_UPDATE_MESSAGE, p.CALLBACK_UPDATE_MESSAGE):
            target = self.core.live_message(None, record.target_message_id or 0)
            if target is None:
                raise ApiError(400, 40043, "Interaction callback type not valid for this interaction")
            record.original_id = int(target["id"])
            record.target_edits_at_ack = self.core.edit_counts.get(record.original_id, 0)
            message = target
            if kind == p.CALLBACK_UPDATE_MESSAGE:
                m.validate_message(data, creating=False, prefix=("data",))
                m.apply_edit(target, data, self._uploads(request, record.channel_id), guild=record.guild_id is not None)
                self.core.count_edit(target)
                self._echo(request, "MESSAGE_UPDATE", target)
        elif kind == p.CALLBACK_AUTOCOMPLETE_RESULT:
            if len(data.get("choices") or []) > c.CHOICES_LIMIT:
                raise m.form_error(
                    [m.FieldError(("data", "choices"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")]
                )
            return reply
        elif kind == p.CALLBACK_MODAL:
            self._check_modal(data)
            return reply
        else:
            raise m.form_error(
                [m.FieldError(("type",), "BASE_TYPE_CHOICES", f"Value must be one of (4, 5, 6, 7, 8, 9), got {kind}")]
            )
        interaction["response_message_id"] = message["id"]
        interaction["response_message_ephemeral"] = bool(int(message.get("flags", 0)) & p.MESSAGE_FLAG_EPHEMERAL)
        reply["resource"] = {"type": kind, "message": copy.deepcopy(message)}
        return reply

    @staticmethod
    def _check_modal(data: Mapping[str, Any]) -> None:
        errors = []
        if not 1 <= len(str(data.get("title") or "")) <= 45:
            errors.append(
                m.FieldError(("data", "title"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length.")
            )
        if not 1 <= len(str(data.get("custom_id") or "")) <= 100:
            errors.append(
                m.FieldError(("data", "custom_id"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
            )
        if not 1 <= len(data.get("components") or []) <= 5:
            errors.append(
                m.FieldError(("data", "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
            )
        if errors:
            raise m.form_error(errors)

    async def interaction_callback(self, request: web.Request) -> web.Response:
        """POST /interactions/{id}/{token}/callback: acknowledge within the deadline, once."""
        body = exchange(request).body or {}
        interaction_id = _snowflake(request, "interaction_id")
        with self.core.changing():
            record = self.core.interactions.get(interaction_id)
            if record is None or record.token != request.match_info["token"]:
                raise unknown("interaction", 10062)
            record.callback_attempts += 1
            if record.acknowledged:
                raise ApiError(400, 40060, "Interaction has already been acknowledged.")
            now = time.monotonic()
            record.callback, record.callback_at = copy.deepcopy(body), now
            record.callback_type = int(body.get("type", 0)) if isinstance(body, Mapping) else None
            deadline = self.core.interaction_deadline
            try:
                if deadline is not None and record.dispatched_at is not None and now - record.dispatched_at > deadline:
                    _log.warning("interaction %s acknowledged after %.2fs", record.id, now - record.dispatched_at)
                    raise unknown("interaction", 10062)
                reply = self._callback_effect(request, record, body)
            except ApiError as exc:
                record.callback_status = exc.status
                raise
            record.callback_status = 200 if _flag(request.query.get("with_response")) else 204
        if record.callback_status == 204:
            return no_content(request)
        return json_response(request, reply)

    # -- interaction webhooks (follow-ups and @original) -----------------------------------------

    def _webhook(self, request: web.Request) -> InteractionRecord:
        if _snowflake(request, "app_id") != p.APPLICATION_ID:
            raise unknown("Webhook", 10015)
        record = self.core.interaction_by_token(request.match_info["token"])
        if record is None or not record.acknowledged:
            raise unknown("Webhook", 10015)
        return record

    def _webhook_message(self, request: web.Request, record: InteractionRecord) -> JSON:
        ref = request.match_info["message_id"]
        if ref == "@original":
            if record.original_id is None or record.original_deleted:
                raise unknown("Message", 10008)
            message_id = record.original_id
        else:
            message_id = int(ref) if ref.isdigit() else -1
            if message_id not in record.followup_ids and message_id != record.original_id:
                raise unknown("Message", 10008)
        found = self.core.live_message(None, message_id)
        if found is None:
            raise unknown("Message", 10008)
        return found

    async def webhook_execute(self, request: web.Request) -> web.Response:
        """POST /webhooks/{app}/{token}: an interaction follow-up message."""
        body = exchange(request).body or {}
        with self.core.changing():
            record = self._webhook(request)
            m.validate_message(body, creating=True, files=sum(1 for x in exchange(request).parts if x.filename))
            message = self._new_interaction_message(request, record, body)
            record.followup_ids.append(int(message["id"]))
            reply = copy.deepcopy(message)
        self._echo(request, "MESSAGE_CREATE", reply)
        if not _flag(request.query.get("wait")):
            return no_content(request)
        return json_response(request, reply)

    async def webhook_get(self, request: web.Request) -> web.Response:
        """GET /webhooks/{app}/{token}/messages/{@original|id}."""
        with self.core.cond:
            return json_response(request, copy.deepcopy(self._webhook_message(request, self._webhook(request))))

    async def webhook_edit(self, request: web.Request) -> web.Response:
        """PATCH /webhooks/{app}/{token}/messages/{@original|id}: edits the response."""
        body = exchange(request).body or {}
        with self.core.changing():
            record = self._webhook(request)
            message = self._webhook_message(request, record)
            m.validate_message(body, creating=False)
            uploads = self._uploads(request, record.channel_id)
            m.apply_edit(message, body, uploads, guild=record.guild_id is not None)
            self.core.count_edit(message)
            if int(message["id"]) == record.original_id:
                record.edits.append(copy.deepcopy(body))
            reply = copy.deepcopy(message)
        self._echo(request, "MESSAGE_UPDATE", reply)
        return json_response(request, reply)

    async def webhook_delete(self, request: web.Request) -> web.Response:
        """DELETE /webhooks/{app}/{token}/messages/{@original|id}."""
        with self.core.changing():
            record = self._webhook(request)
            message = self._webhook_message(request, record)
            self.core.deleted.add(int(message["id"]))
            if int(message["id"]) == record.original_id:
                record.original_deleted = True
        self._echo_delete(request, message)
        return no_content(request)
