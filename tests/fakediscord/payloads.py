"""Discord payloads shaped like the real ones, for driving a bot through the fake.

Every builder returns plain JSON-able dicts in the v10 wire format (snowflakes as strings,
permissions as decimal strings) so that discord.py parses them exactly as it parses
Discord's. Field sets follow discord.py's ``types/`` TypedDicts and the API docs.

The world is small and fixed: one guild (``GUILD_ID``) owned by ``OWNER``, a text channel
``CHANNEL_ID`` with a public thread ``THREAD_ID``, a second channel ``OTHER_CHANNEL_ID``,
roles @everyone and "Moderator", and the users ``BOT_USER``, ``OWNER``, ``MEMBER`` and
``MODERATOR`` (who has Manage Server through the Moderator role).
"""

from __future__ import annotations

import copy
import itertools
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeGuard

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000

# --- ids -------------------------------------------------------------------------------------

APPLICATION_ID = 1_200_000_000_000_000_001
BOT_USER_ID = APPLICATION_ID  # modern applications share the id with their bot user
GUILD_ID = 1_200_000_000_000_000_100
CHANNEL_ID = 1_200_000_000_000_000_200
OTHER_CHANNEL_ID = 1_200_000_000_000_000_201
THREAD_ID = 1_200_000_000_000_000_300
MODERATOR_ROLE_ID = 1_200_000_000_000_000_400
BOT_ROLE_ID = 1_200_000_000_000_000_401
OWNER_ID = 1_200_000_000_000_000_500
MEMBER_ID = 1_200_000_000_000_000_501
MODERATOR_ID = 1_200_000_000_000_000_502
EVERYONE_ROLE_ID = GUILD_ID  # the @everyone role shares the guild's id

# --- permission bits (https://discord.com/developers/docs/topics/permissions) ----------------

ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_APPLICATION_COMMANDS = 1 << 31
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1

EVERYONE_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
)
MODERATOR_PERMISSIONS = EVERYONE_PERMISSIONS | MANAGE_GUILD | MANAGE_MESSAGES
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | MENTION_EVERYONE

# --- gateway intents (https://discord.com/developers/docs/events/gateway#gateway-intents) ---

INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_GUILD_MESSAGE_REACTIONS = 1 << 10
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_DIRECT_MESSAGE_REACTIONS = 1 << 13
INTENT_MESSAGE_CONTENT = 1 << 15

# --- interaction and callback types -----------------------------------------------------------

INTERACTION_PING = 1
INTERACTION_APPLICATION_COMMAND = 2
INTERACTION_MESSAGE_COMPONENT = 3
INTERACTION_AUTOCOMPLETE = 4
INTERACTION_MODAL_SUBMIT = 5

CALLBACK_PONG = 1
CALLBACK_CHANNEL_MESSAGE = 4
CALLBACK_DEFERRED_CHANNEL_MESSAGE = 5
CALLBACK_DEFERRED_UPDATE_MESSAGE = 6
CALLBACK_UPDATE_MESSAGE = 7
CALLBACK_AUTOCOMPLETE_RESULT = 8
CALLBACK_MODAL = 9

COMMAND_CHAT_INPUT = 1
COMMAND_USER = 2
COMMAND_MESSAGE = 3

MESSAGE_FLAG_EPHEMERAL = 1 << 6
MESSAGE_FLAG_LOADING = 1 << 7

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

# --- snowflakes and tokens --------------------------------------------------------------------

_snowflake_lock = threading.Lock()
_last_snowflake = 0


def new_snowflake() -> int:
    """A fresh, time-ordered snowflake, so ``snowflake_time`` of fake ids is plausible."""
    global _last_snowflake
    stamp = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
    with _snowflake_lock:
        _last_snowflake = max(_last_snowflake + 1, stamp)
        return _last_snowflake


_token_counter = itertools.count(1)


def new_interaction_token() -> str:
    """A unique interaction token with Discord's look (long, URL-safe, dotted)."""
    return f"aW50ZXJhY3Rpb246{next(_token_counter)}.{secrets.token_urlsafe(48)}"


def iso_now() -> str:
    """The current time in Discord's ISO 8601 form."""
    return datetime.now(UTC).isoformat()


GUILD_JOINED_AT = "2024-01-01T00:00:00.000000+00:00"

# --- users, roles, members ---------------------------------------------------------------------


def user(user_id: int, username: str, *, bot: bool = False, global_name: str | None = None) -> JSON:
    """A user object as embedded in messages, members and interactions."""
    data: JSON = {
        "id": str(user_id),
        "username": username,
        "discriminator": "0",
        "global_name": global_name if global_name is not None else username.title(),
        "avatar": None,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
        "collectibles": None,
        "primary_guild": None,
    }
    if bot:
        data["bot"] = True
    return data


BOT_USER = user(BOT_USER_ID, "fakebot", bot=True, global_name="Fake Bot")
OWNER = user(OWNER_ID, "owner")
MEMBER = user(MEMBER_ID, "member")
MODERATOR = user(MODERATOR_ID, "moderator")

EVERYONE_ROLE: JSON = {
    "id": str(EVERYONE_ROLE_ID),
    "name": "@everyone",
    "color": 0,
    "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
    "hoist": False,
    "icon": None,
    "unicode_emoji": None,
    "position": 0,
    "permissions": str(EVERYONE_PERMISSIONS),
    "managed": False,
    "mentionable": False,
    "flags": 0,
}
MODERATOR_ROLE: JSON = {
    **EVERYONE_ROLE,
    "id": str(MODERATOR_ROLE_ID),
    "name": "Moderator",
    "color": 3447003,
    "colors": {"primary_color": 3447003, "secondary_color": None, "tertiary_color": None},
    "position": 1,
    "permissions": str(MODERATOR_PERMISSIONS),
    "mentionable": True,
}
BOT_ROLE: JSON = {
    **EVERYONE_ROLE,
    "id": str(BOT_ROLE_ID),
    "name": "fakebot",
    "position": 2,
    "permissions": str(BOT_PERMISSIONS),
    "managed": True,
    "tags": {"bot_id": str(BOT_USER_ID)},
}
ROLES: tuple[JSON, ...] = (EVERYONE_ROLE, MODERATOR_ROLE, BOT_ROLE)

USER_ROLES: dict[int, tuple[int, ...]] = {
    BOT_USER_ID: (BOT_ROLE_ID,),
    OWNER_ID: (),
    MEMBER_ID: (),
    MODERATOR_ID: (MODERATOR_ROLE_ID,),
}
USERS: dict[int, JSON] = {
    BOT_USER_ID: BOT_USER,
    OWNER_ID: OWNER,
    MEMBER_ID: MEMBER,
    MODERATOR_ID: MODERATOR,
}


def role_ids_of(user_id: int) -> tuple[int, ...]:
    """The guild roles a known user holds (unknown users hold none)."""
    return USER_ROLES.get(user_id, ())


def permissions_of(user_id: int) -> int:
    """Guild-level permissions computed like Discord: owner and admins get everything."""
    if user_id == OWNER_ID:
        return ALL_PERMISSIONS
    perms = EVERYONE_PERMISSIONS
    by_id = {int(r["id"]): int(r["permissions"]) for r in ROLES}
    for role_id in role_ids_of(user_id):
        perms |= by_id.get(role_id, 0)
    return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms


def _user_id(who: Mapping[str, Any]) -> int:
    return int(who["id"])


def partial_member(who: Mapping[str, Any], *, permissions: int | None = None) -> JSON:
    """A member object without ``user`` (as in MESSAGE_CREATE.member and mentions[].member)."""
    data: JSON = {
        "roles": [str(r) for r in role_ids_of(_user_id(who))],
        "joined_at": GUILD_JOINED_AT,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "nick": None,
        "avatar": None,
        "banner": None,
        "communication_disabled_until": None,
    }
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def guild_member(who: Mapping[str, Any], *, permissions: int | None = None) -> JSON:
    """A full member object with ``user`` (GUILD_CREATE.members, interaction ``member``)."""
    return {**partial_member(who, permissions=permissions), "user": copy.deepcopy(dict(who))}


# --- channels and the guild ---------------------------------------------------------------------


def text_channel(channel_id: int, name: str, position: int) -> JSON:
    """A guild text channel (type 0)."""
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(GUILD_ID),
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "default_auto_archive_duration": 1440,
        "flags": 0,
    }


def thread_channel(thread_id: int, name: str, parent_id: int) -> JSON:
    """A public thread (type 11) under a text channel."""
    return {
        "id": str(thread_id),
        "type": 11,
        "guild_id": str(GUILD_ID),
        "parent_id": str(parent_id),
        "owner_id": str(MEMBER_ID),
        "name": name,
        "nsfw": False,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "total_message_sent": 0,
        "flags": 0,
        "applied_tags": [],
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": GUILD_JOINED_AT,
            "locked": False,
            "invitable": True,
            "create_timestamp": GUILD_JOINED_AT,
        },
    }


CHANNELS: tuple[JSON, ...] = (
    text_channel(CHANNEL_ID, "general", 0),
    text_channel(OTHER_CHANNEL_ID, "random", 1),
)
THREADS: tuple[JSON, ...] = (thread_channel(THREAD_ID, "questions", CHANNEL_ID),)


def dm_channel_id(user_id: int) -> int:
    """The DM channel between the bot and ``user_id`` (stable, so tests can name it)."""
    return 1_300_000_000_000_000_000 + user_id % 1_000_000_000


def dm_channel(who: Mapping[str, Any]) -> JSON:
    """The DM channel object (type 1) with a user, as POST /users/@me/channels returns it."""
    return {
        "id": str(dm_channel_id(_user_id(who))),
        "type": 1,
        "last_message_id": None,
        "flags": 0,
        "recipients": [copy.deepcopy(dict(who))],
    }


def guild_channel(channel_id: int) -> JSON | None:
    """The guild channel or thread with this id, or None."""
    for channel in (*CHANNELS, *THREADS):
        if int(channel["id"]) == channel_id:
            return copy.deepcopy(channel)
    return None


def guild_create(*, members_intent: bool = True) -> JSON:
    """The GUILD_CREATE payload for the one guild.

    Without the privileged GUILD_MEMBERS intent Discord only lists the bot itself while
    ``member_count`` stays the true total, exactly as here.
    """
    everyone = list(USERS.values())
    members = everyone if members_intent else [BOT_USER]
    return {
        "id": str(GUILD_ID),
        "name": "Fake Guild",
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(OWNER_ID),
        "region": None,
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": "en-US",
        "system_channel_id": str(CHANNEL_ID),
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "max_members": 500000,
        "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50,
        "features": [],
        "roles": copy.deepcopy(list(ROLES)),
        "emojis": [],
        "stickers": [],
        "joined_at": GUILD_JOINED_AT,
        "large": False,
        "unavailable": False,
        "lazy": True,
        "member_count": len(everyone),
        "members": [guild_member(u) for u in members],
        "channels": [{k: v for k, v in c.items() if k != "guild_id"} for c in CHANNELS],
        "threads": copy.deepcopy(list(THREADS)),
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "embedded_activities": [],
        "application_command_counts": {},
        "incidents_data": None,
    }


def shard_for(guild_id: int | None, shard_count: int) -> int:
    """The shard Discord routes a guild's events to; DMs go to shard 0."""
    if guild_id is None or shard_count <= 1:
        return 0
    return (guild_id >> 22) % shard_count


def mention(who: Mapping[str, Any] | int) -> str:
    """The ``<@id>`` markup that mentions a user."""
    user_id = who if isinstance(who, int) else _user_id(who)
    return f"<@{user_id}>"


# --- attachments ---------------------------------------------------------------------------


def attachment(
    filename: str,
    url: str,
    *,
    size: int,
    content_type: str | None = "text/plain; charset=utf-8",
    attachment_id: int | None = None,
    ephemeral: bool = False,
) -> JSON:
    """An attachment object; use ``FakeDiscord.attachment`` to get one whose bytes are served."""
    data: JSON = {
        "id": str(attachment_id or new_snowflake()),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
        "flags": 0,
    }
    if content_type is not None:
        data["content_type"] = content_type
    if ephemeral:
        data["ephemeral"] = True
    return data


def _is_attachment(value: object) -> TypeGuard[Mapping[str, Any]]:
    return isinstance(value, Mapping) and "filename" in value and "url" in value


def _is_user(value: object) -> TypeGuard[Mapping[str, Any]]:
    return isinstance(value, Mapping) and "username" in value and "id" in value


# --- interactions ----------------------------------------------------------------------------


def _interaction_channel(channel_id: int, who: Mapping[str, Any], guild: bool) -> JSON:
    if not guild:
        return dm_channel(who)
    channel = guild_channel(channel_id)
    if channel is None:
        raise ValueError(f"unknown guild channel {channel_id}")
    channel["permissions"] = str(permissions_of(_user_id(who)))
    return channel


def _interaction(
    kind: int,
    data: JSON | None,
    *,
    who: Mapping[str, Any],
    guild: bool,
    channel_id: int | None,
    permissions: int | None,
    locale: str,
) -> JSON:
    """The envelope shared by every interaction type, guild or DM."""
    user_id = _user_id(who)
    if channel_id is None:
        channel_id = CHANNEL_ID if guild else dm_channel_id(user_id)
    payload: JSON = {
        "id": str(new_snowflake()),
        "application_id": str(APPLICATION_ID),
        "type": kind,
        "token": new_interaction_token(),
        "version": 1,
        "channel_id": str(channel_id),
        "channel": _interaction_channel(channel_id, who, guild),
        "app_permissions": str(permissions_of(BOT_USER_ID)),
        "locale": locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if data is not None:
        payload["data"] = data
    if guild:
        perms = permissions_of(user_id) if permissions is None else permissions
        payload["guild_id"] = str(GUILD_ID)
        payload["guild"] = {"id": str(GUILD_ID), "locale": "en-US", "features": []}
        payload["guild_locale"] = "en-US"
        payload["member"] = guild_member(who, permissions=perms)
        payload["authorizing_integration_owners"] = {"0": str(GUILD_ID)}
        payload["context"] = 0
    else:
        payload["user"] = copy.deepcopy(dict(who))
        payload["authorizing_integration_owners"] = {"0": "0"}
        payload["context"] = 1
    return payload


def _option(name: str, value: object, resolved: JSON, guild: bool) -> JSON:
    """One command option, its type inferred from the Python value (bool before int)."""
    if isinstance(value, bool):
        return {"name": name, "type": 5, "value": value}
    if isinstance(value, int):
        return {"name": name, "type": 4, "value": value}
    if isinstance(value, float):
        return {"name": name, "type": 10, "value": value}
    if isinstance(value, str):
        return {"name": name, "type": 3, "value": value}
    if _is_attachment(value):
        att = copy.deepcopy(dict(value))
        resolved.setdefault("attachments", {})[att["id"]] = att
        return {"name": name, "type": 11, "value": att["id"]}
    if _is_user(value):
        who = copy.deepcopy(dict(value))
        resolved.setdefault("users", {})[who["id"]] = who
        if guild:
            resolved.setdefault("members", {})[who["id"]] = partial_member(
                who, permissions=permissions_of(int(who["id"]))
            )
        return {"name": name, "type": 6, "value": who["id"]}
    raise TypeError(f"cannot infer a command option type for {name}={value!r}")


def command_options(options: Mapping[str, object] | None, *, guild: bool = True) -> tuple[list[JSON], JSON]:
    """Options and ``resolved`` data for a chat-input command from ``{name: value}``."""
    resolved: JSON = {}
    built = [_option(k, v, resolved, guild) for k, v in (options or {}).items()]
    return built, resolved


def slash_command(
    name: str,
    options: Mapping[str, object] | None = None,
    *,
    user: Mapping[str, Any] = MEMBER,
    permissions: int | str | None = None,
    guild: bool = True,
    channel_id: int | None = None,
    command_id: int | None = None,
    command_guild_id: int | None = None,
    locale: str = "en-US",
) -> JSON:
    """An APPLICATION_COMMAND interaction for a chat-input (slash) command.

    ``name`` may be ``"group sub"`` or ``"cmd sub"`` for subcommands. Option types come from
    the values: str, int, bool, float, an attachment dict (``FakeDiscord.attachment``, put in
    ``resolved.attachments``) or a user dict (put in ``resolved.users``/``members``).
    ``permissions`` overrides the invoking member's permission bitfield (guild only).
    ``command_id``/``command_guild_id`` are normally left out: ``FakeDiscord.interact`` fills
    them from the commands the bot registered, as Discord does.
    """
    parts = name.split()
    built, resolved = command_options(options, guild=guild)
    if len(parts) == 3:
        built = [{"name": parts[1], "type": 2, "options": [{"name": parts[2], "type": 1, "options": built}]}]
    elif len(parts) == 2:
        built = [{"name": parts[1], "type": 1, "options": built}]
    elif len(parts) != 1:
        raise ValueError(f"bad command name {name!r}")
    data: JSON = {"name": parts[0], "type": COMMAND_CHAT_INPUT, "options": built}
    if command_id is not None:
        data["id"] = str(command_id)
    if command_guild_id is not None:
        data["guild_id"] = str(command_guild_id)
    if resolved:
        data["resolved"] = resolved
    perms = int(permissions) if permissions is not None else None
    return _interaction(
        INTERACTION_APPLICATION_COMMAND,
        data,
        who=user,
        guild=guild,
        channel_id=channel_id,
        permissions=perms,
        locale=locale,
    )


def autocomplete(
    name: str,
    options: Mapping[str, object],
    focused: str,
    *,
    user: Mapping[str, Any] = MEMBER,
    guild: bool = True,
    channel_id: int | None = None,
) -> JSON:
    """An APPLICATION_COMMAND_AUTOCOMPLETE interaction with ``focused`` marked."""
    payload = slash_command(name, options, user=user, guild=guild, channel_id=channel_id)
    payload["type"] = INTERACTION_AUTOCOMPLETE
    leaf = payload["data"]
    while leaf.get("options") and leaf["options"][0]["type"] in (1, 2):
        leaf = leaf["options"][0]
    for option in leaf.get("options", []):
        if option["name"] == focused:
            option["focused"] = True
            option["value"] = str(option["value"])
    return payload


def _find_component(components: Iterable[Mapping[str, Any]], custom_id: str) -> Mapping[str, Any] | None:
    for component in components:
        if component.get("custom_id") == custom_id:
            return component
        for key in ("components", "accessory", "component"):
            child = component.get(key)
            children = child if isinstance(child, list) else [child] if isinstance(child, Mapping) else []
            found = _find_component(children, custom_id)
            if found is not None:
                return found
    return None


def _message_guild(message: Mapping[str, Any]) -> bool:
    channel_id = int(message["channel_id"])
    return guild_channel(channel_id) is not None


def message_component(
    custom_id: str,
    message: Mapping[str, Any],
    *,
    user: Mapping[str, Any] = MEMBER,
    values: Sequence[str] | None = None,
    permissions: int | None = None,
) -> JSON:
    """A MESSAGE_COMPONENT interaction: a click (or select) on a message the bot sent.

    ``message`` is the message object the fake recorded (``FakeDiscord.messages_in``); the
    component type is read from it, so a wrong ``custom_id`` fails here, not in the bot.
    """
    component = _find_component(message.get("components", []), custom_id)
    if component is None:
        raise ValueError(f"no component {custom_id!r} on message {message.get('id')}")
    data: JSON = {"custom_id": custom_id, "component_type": component["type"]}
    if component["type"] != 2:
        data["values"] = list(values or [])
    guild = _message_guild(message)
    payload = _interaction(
        INTERACTION_MESSAGE_COMPONENT,
        data,
        who=user,
        guild=guild,
        channel_id=int(message["channel_id"]),
        permissions=permissions,
        locale="en-US",
    )
    payload["message"] = copy.deepcopy(dict(message))
    return payload


def modal_submit(
    custom_id: str,
    values: Mapping[str, str],
    *,
    user: Mapping[str, Any] = MEMBER,
    guild: bool = True,
    channel_id: int | None = None,
    message: Mapping[str, Any] | None = None,
) -> JSON:
    """A MODAL_SUBMIT interaction; ``values`` maps each text input's custom_id to its text."""
    rows = [{"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]} for k, v in values.items()]
    payload = _interaction(
        INTERACTION_MODAL_SUBMIT,
        {"custom_id": custom_id, "components": rows},
        who=user,
        guild=guild,
        channel_id=channel_id,
        permissions=None,
        locale="en-US",
    )
    if message is not None:
        payload["message"] = copy.deepcopy(dict(message))
    return payload


def message_context_menu(
    name: str,
    target_message: Mapping[str, Any],
    *,
    user: Mapping[str, Any] = MEMBER,
    permissions: int | None = None,
) -> JSON:
    """An APPLICATION_COMMAND interaction for a message context-menu command."""
    target = copy.deepcopy(dict(target_message))
    guild = _message_guild(target)
    data: JSON = {
        "name": name,
        "type": COMMAND_MESSAGE,
        "target_id": target["id"],
        "resolved": {"messages": {target["id"]: target}},
    }
    return _interaction(
        INTERACTION_APPLICATION_COMMAND,
        data,
        who=user,
        guild=guild,
        channel_id=int(target["channel_id"]),
        permissions=permissions,
        locale="en-US",
    )


def user_context_menu(
    name: str,
    target_user: Mapping[str, Any],
    *,
    user: Mapping[str, Any] = MEMBER,
    guild: bool = True,
) -> JSON:
    """An APPLICATION_COMMAND interaction for a user context-menu command."""
    target = copy.deepcopy(dict(target_user))
    resolved: JSON = {"users": {target["id"]: target}}
    if guild:
        resolved["members"] = {target["id"]: partial_member(target)}
    data: JSON = {"name": name, "type": COMMAND_USER, "target_id": target["id"], "resolved": resolved}
    return _interaction(
        INTERACTION_APPLICATION_COMMAND,
        data,
        who=user,
        guild=guild,
        channel_id=None,
        permissions=None,
        locale="en-US",
    )


# --- messages ----------------------------------------------------------------------------------

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


def mentioned_user_ids(content: str) -> list[int]:
    """User ids mentioned in ``content``, in order, without repeats."""
    seen: dict[int, None] = {}
    for match in _USER_MENTION.finditer(content):
        seen.setdefault(int(match.group(1)), None)
    return list(seen)


def mentioned_role_ids(content: str) -> list[int]:
    """Role ids mentioned in ``content``, in order, without repeats."""
    seen: dict[int, None] = {}
    for match in _ROLE_MENTION.finditer(content):
        seen.setdefault(int(match.group(1)), None)
    return list(seen)


def message_create(
    content: str,
    author: Mapping[str, Any] = MEMBER,
    *,
    mentions: Sequence[Mapping[str, Any]] | None = None,
    mention_roles: Sequence[int] | None = None,
    mention_everyone: bool = False,
    channel: int | None = None,
    guild: bool = True,
    thread: bool = False,
    attachments: Sequence[Mapping[str, Any]] = (),
    reference: Mapping[str, Any] | None = None,
    message_id: int | None = None,
) -> JSON:
    """A MESSAGE_CREATE event from a user, in a guild channel, a thread or a DM.

    ``mentions`` defaults to the known users mentioned in ``content`` (``<@id>``), which is
    what Discord computes; pass a list to override. ``reference`` is the message replied to.
    """
    author_id = _user_id(author)
    if channel is None:
        channel = (THREAD_ID if thread else CHANNEL_ID) if guild else dm_channel_id(author_id)
    if mentions is None:
        mentions = [USERS[i] for i in mentioned_user_ids(content) if i in USERS]
    if mention_roles is None:
        mention_roles = mentioned_role_ids(content) if guild else []
    data: JSON = {
        "id": str(message_id or new_snowflake()),
        "type": 19 if reference is not None else 0,
        "channel_id": str(channel),
        "author": copy.deepcopy(dict(author)),
        "content": content,
        "timestamp": iso_now(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": mention_everyone,
        "mentions": [],
        "mention_roles": [str(r) for r in mention_roles],
        "attachments": [copy.deepcopy(dict(a)) for a in attachments],
        "embeds": [],
        "components": [],
        "pinned": False,
        "flags": 0,
        "nonce": str(new_snowflake()),
    }
    for who in mentions:
        entry = copy.deepcopy(dict(who))
        if guild:
            entry["member"] = partial_member(who)
        data["mentions"].append(entry)
    if reference is not None:
        data["message_reference"] = {
            "type": 0,
            "message_id": reference["id"],
            "channel_id": reference["channel_id"],
        }
        data["referenced_message"] = copy.deepcopy(dict(reference))
        if guild:
            data["message_reference"]["guild_id"] = str(GUILD_ID)
    if guild:
        data["guild_id"] = str(GUILD_ID)
        data["member"] = partial_member(author)
    return data


def message_pings(message: Mapping[str, Any]) -> bool:
    """Whether a message (as the fake stored it) would notify anyone when posted."""
    return bool(message.get("mention_everyone") or message.get("mentions") or message.get("mention_roles"))
