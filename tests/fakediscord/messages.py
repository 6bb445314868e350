"""Building, checking and editing message objects the way Discord's API does.

The fake answers bot posts with full message objects, rejects what Discord would reject
(over-long content or embeds, empty messages) with the same ``50035 Invalid Form Body``
shape, and computes who a message actually pings from its content and
``allowed_mentions``, so tests can assert on pings rather than on request bodies.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import payloads as p

JSON = dict[str, Any]

CONTENT_LIMIT = 2000
EMBEDS_LIMIT = 10
EMBED_TOTAL_LIMIT = 6000
EMBED_FIELDS_LIMIT = 25
EMBED_TEXT_LIMITS: dict[tuple[str, ...], int] = {
    ("title",): 256,
    ("description",): 4096,
    ("footer", "text"): 2048,
    ("author", "name"): 256,
}
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
ACTION_ROWS_LIMIT = 5
ROW_COMPONENTS_LIMIT = 5
CUSTOM_ID_LIMIT = 100
BUTTON_LABEL_LIMIT = 80


@dataclass(frozen=True)
class FieldError:
    """One invalid field: its path in the body, Discord's error code and message."""

    path: tuple[str | int, ...]
    code: str
    message: str


class ApiError(Exception):
    """An error the fake answers with Discord's status, code and JSON body."""

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> JSON:
        """The JSON body Discord sends for this error."""
        data: JSON = {"message": self.message, "code": self.code}
        if self.errors:
            data["errors"] = self.errors
        return data


def unknown(what: str, code: int) -> ApiError:
    """A 404 such as ``Unknown Channel`` (10003) or ``Unknown Message`` (10008)."""
    return ApiError(404, code, f"Unknown {what}")


def form_error(errors: Sequence[FieldError]) -> ApiError:
    """A 400 ``Invalid Form Body`` with the nested ``errors`` tree discord.py flattens."""
    tree: JSON = {}
    for error in errors:
        node = tree
        for key in error.path:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": error.code, "message": error.message})
    return ApiError(400, 50035, "Invalid Form Body", tree)


def _too_long(path: tuple[str | int, ...], limit: int) -> FieldError:
    return FieldError(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _embed_errors(index: int, embed: Mapping[str, Any]) -> tuple[list[FieldError], int]:
    """Errors of one embed and the characters it counts towards the 6000 total."""
    errors: list[FieldError] = []
    total = 0
    for keys, limit in EMBED_TEXT_LIMITS.items():
        node: Any = embed
        for key in keys:
            node = node.get(key) if isinstance(node, Mapping) else None
        if isinstance(node, str):
            total += len(node)
            if len(node) > limit:
                errors.append(_too_long(("embeds", index, *keys), limit))
    fields = embed.get("fields") or []
    if len(fields) > EMBED_FIELDS_LIMIT:
        errors.append(_too_long(("embeds", index, "fields"), EMBED_FIELDS_LIMIT))
    for j, field in enumerate(fields):
        for key, limit in (("name", FIELD_NAME_LIMIT), ("value", FIELD_VALUE_LIMIT)):
            text = field.get(key)
            if not isinstance(text, str) or not text:
                errors.append(
                    FieldError(("embeds", index, "fields", j, key), "BASE_TYPE_REQUIRED", "This field is required")
                )
                continue
            total += len(text)
            if len(text) > limit:
                errors.append(_too_long(("embeds", index, "fields", j, key), limit))
    return errors, total


def _component_errors(components: Sequence[Mapping[str, Any]]) -> list[FieldError]:
    """The few component limits bots actually trip: rows, buttons per row, ids, labels."""
    errors: list[FieldError] = []
    if len(components) > ACTION_ROWS_LIMIT:
        errors.append(_too_long(("components",), ACTION_ROWS_LIMIT))
    for i, row in enumerate(components):
        children = row.get("components") or []
        if row.get("type") == 1 and len(children) > ROW_COMPONENTS_LIMIT:
            errors.append(_too_long(("components", i, "components"), ROW_COMPONENTS_LIMIT))
        for j, child in enumerate(children):
            custom_id = child.get("custom_id")
            if isinstance(custom_id, str) and len(custom_id) > CUSTOM_ID_LIMIT:
                errors.append(_too_long(("components", i, "components", j, "custom_id"), CUSTOM_ID_LIMIT))
            label = child.get("label")
            if isinstance(label, str) and len(label) > BUTTON_LABEL_LIMIT:
                errors.append(_too_long(("components", i, "components", j, "label"), BUTTON_LABEL_LIMIT))
    return errors


def validate_message(body: Mapping[str, Any], *, creating: bool, files: int = 0, prefix: tuple[str, ...] = ()) -> None:
    """Raise the ApiError Discord would answer for this create/edit body, if any.

    ``creating`` also enforces that a new message is not empty (code 50006); ``prefix``
    nests error paths (an interaction callback's message is under ``data``).
    """
    errors: list[FieldError] = []
    content = body.get("content")
    if isinstance(content, str) and len(content) > CONTENT_LIMIT:
        errors.append(_too_long(("content",), CONTENT_LIMIT))
    embeds = body.get("embeds") or []
    if len(embeds) > EMBEDS_LIMIT:
        errors.append(_too_long(("embeds",), EMBEDS_LIMIT))
    total = 0
    for i, embed in enumerate(embeds):
        embed_errors, chars = _embed_errors(i, embed)
        errors.extend(embed_errors)
        total += chars
    if total > EMBED_TOTAL_LIMIT:
        errors.append(FieldError(("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"))
    errors.extend(_component_errors(body.get("components") or []))
    if errors:
        raise form_error([FieldError((*prefix, *e.path), e.code, e.message) for e in errors])
    if creating and not (
        content
        or embeds
        or files
        or body.get("attachments")
        or body.get("components")
        or body.get("sticker_ids")
        or body.get("poll")
    ):
        raise ApiError(400, 50006, "Cannot send an empty message")


@dataclass(frozen=True)
class Pings:
    """Who a message notifies once ``allowed_mentions`` is applied to its content."""

    users: list[int]
    roles: list[int]
    everyone: bool


def resolve_pings(
    content: str,
    allowed: Mapping[str, Any] | None,
    *,
    replied_author: int | None = None,
) -> Pings:
    """Apply Discord's allowed-mentions rules to ``content``.

    Without ``allowed_mentions`` everything parses (and a reply pings its author); with it,
    only what ``parse``/``users``/``roles``/``replied_user`` allow does.
    """
    users = [u for u in p.mentioned_user_ids(content) if u in p.USERS]
    roles = [r for r in p.mentioned_role_ids(content) if r in {int(x["id"]) for x in p.ROLES}]
    everyone = "@everyone" in content or "@here" in content
    if allowed is None:
        chosen_users = users
        chosen_roles = roles
        replied = True
    else:
        parse = set(allowed.get("parse") or [])
        listed_users = {int(u) for u in allowed.get("users") or []}
        listed_roles = {int(r) for r in allowed.get("roles") or []}
        chosen_users = [u for u in users if "users" in parse or u in listed_users]
        chosen_roles = [r for r in roles if "roles" in parse or r in listed_roles]
        everyone = everyone and "everyone" in parse
        replied = bool(allowed.get("replied_user", False))
    if replied and replied_author is not None and replied_author not in chosen_users:
        chosen_users = [*chosen_users, replied_author]
    return Pings(chosen_users, chosen_roles, everyone)


def _mention_entries(user_ids: Sequence[int], guild: bool) -> list[JSON]:
    entries: list[JSON] = []
    for user_id in user_ids:
        entry: JSON = copy.deepcopy(p.USERS[user_id]) if user_id in p.USERS else {"id": str(user_id)}
        if guild and user_id in p.USERS:
            entry["member"] = p.partial_member(p.USERS[user_id])
        entries.append(entry)
    return entries


def apply_pings(message: JSON, allowed: Mapping[str, Any] | None, *, guild: bool) -> None:
    """Set ``mentions``/``mention_roles``/``mention_everyone`` from content and rules."""
    referenced = message.get("referenced_message")
    replied_author = int(referenced["author"]["id"]) if isinstance(referenced, Mapping) else None
    pings = resolve_pings(message.get("content") or "", allowed, replied_author=replied_author)
    message["mentions"] = _mention_entries(pings.users, guild)
    message["mention_roles"] = [str(r) for r in pings.roles]
    message["mention_everyone"] = pings.everyone


def _embed(data: Mapping[str, Any]) -> JSON:
    embed = copy.deepcopy(dict(data))
    embed.setdefault("type", "rich")
    embed.setdefault("content_scan_version", 0)
    return embed


def build_message(
    *,
    channel_id: int,
    author: Mapping[str, Any],
    body: Mapping[str, Any],
    attachments: Sequence[JSON] = (),
    referenced: JSON | None = None,
    guild: bool,
    flags: int = 0,
    extra: Mapping[str, Any] | None = None,
) -> JSON:
    """A message object as Discord returns it from a create, with pings resolved."""
    message: JSON = {
        "id": str(p.new_snowflake()),
        "type": 19 if referenced is not None else 0,
        "channel_id": str(channel_id),
        "author": copy.deepcopy(dict(author)),
        "content": body.get("content") or "",
        "timestamp": p.iso_now(),
        "edited_timestamp": None,
        "tts": bool(body.get("tts", False)),
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": list(attachments),
        "embeds": [_embed(e) for e in body.get("embeds") or []],
        "components": copy.deepcopy(body.get("components") or []),
        "pinned": False,
        "flags": (int(body.get("flags") or 0) | flags),
    }
    if body.get("nonce") is not None:
        message["nonce"] = body["nonce"]
    if body.get("poll") is not None:
        message["poll"] = copy.deepcopy(body["poll"])
    if referenced is not None:
        message["message_reference"] = {
            "type": 0,
            "message_id": referenced["id"],
            "channel_id": referenced["channel_id"],
        }
        if guild:
            message["message_reference"]["guild_id"] = str(p.GUILD_ID)
        message["referenced_message"] = copy.deepcopy(referenced)
    message.update(copy.deepcopy(dict(extra or {})))
    apply_pings(message, body.get("allowed_mentions"), guild=guild)
    return message


def apply_edit(message: JSON, body: Mapping[str, Any], new_attachments: Sequence[JSON], *, guild: bool) -> None:
    """Edit ``message`` in place like PATCH does: only the fields present change.

    ``attachments`` in the body lists the existing attachments to keep (by id); uploaded
    files are appended. The loading flag of a deferred response is cleared.
    """
    if "content" in body:
        message["content"] = body["content"] or ""
    if "embeds" in body:
        message["embeds"] = [_embed(e) for e in body["embeds"] or []]
    if "components" in body:
        message["components"] = copy.deepcopy(body["components"] or [])
    if "flags" in body and body["flags"] is not None:
        message["flags"] = int(body["flags"]) | (int(message.get("flags", 0)) & p.MESSAGE_FLAG_EPHEMERAL)
    if "attachments" in body:
        keep = {str(a.get("id")) for a in body["attachments"] or []}
        message["attachments"] = [a for a in message.get("attachments", []) if a["id"] in keep]
    message["attachments"] = [*message.get("attachments", []), *new_attachments]
    message["flags"] = int(message.get("flags", 0)) & ~p.MESSAGE_FLAG_LOADING
    message["edited_timestamp"] = p.iso_now()
    apply_pings(message, body.get("allowed_mentions"), guild=guild)


def strip_content(message: JSON) -> JSON:
    """The message as an app without the MESSAGE_CONTENT intent receives it."""
    stripped = copy.deepcopy(message)
    stripped["content"] = ""
    stripped["embeds"] = []
    stripped["attachments"] = []
    stripped["components"] = []
    stripped.pop("poll", None)
    return stripped


def needs_content_intent(message: Mapping[str, Any], bot_user_id: int) -> bool:
    """Whether Discord would blank this message for an app lacking MESSAGE_CONTENT.

    Exempt: the app's own messages, DMs, and messages that mention the app's user.
    """
    if "guild_id" not in message:
        return False
    if int(message.get("author", {}).get("id", 0)) == bot_user_id:
        return False
    return all(int(m["id"]) != bot_user_id for m in message.get("mentions", []))
