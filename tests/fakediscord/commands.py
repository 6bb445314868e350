"""Application command registration and invocation, checked the way Discord checks them.

Registration rejects what Discord's API rejects (bad names, missing descriptions, too many
options or choices, duplicates), so a sync that would fail in production fails here too.
Invocation fills in what the Discord client fills in (command id, ``guild_id`` for guild
commands, option types from the registered schema) and refuses options the client could
never send, so a test typo is reported in the test rather than as a bot bug.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from . import payloads as p
from .messages import FieldError, form_error

JSON = dict[str, Any]

NAME_RE = re.compile(r"^[-_\w]{1,32}$")
COMMANDS_LIMIT = 100
OPTIONS_LIMIT = 25
CHOICES_LIMIT = 25
DESCRIPTION_LIMIT = 100
SUBCOMMAND = 1
SUBCOMMAND_GROUP = 2
NUMBER = 10
INTEGER = 4


def _name_errors(path: tuple[str | int, ...], name: object, *, chat_input: bool) -> list[FieldError]:
    if not isinstance(name, str):
        return [FieldError((*path, "name"), "BASE_TYPE_REQUIRED", "This field is required")]
    if chat_input and (not NAME_RE.match(name) or name != name.lower()):
        return [FieldError((*path, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")]
    if not 1 <= len(name) <= 32:
        return [FieldError((*path, "name"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")]
    return []


def _description_errors(path: tuple[str | int, ...], description: object) -> list[FieldError]:
    if not isinstance(description, str) or not 1 <= len(description) <= DESCRIPTION_LIMIT:
        return [FieldError((*path, "description"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")]
    return []


def _option_errors(path: tuple[str | int, ...], options: Sequence[Mapping[str, Any]]) -> list[FieldError]:
    errors: list[FieldError] = []
    if len(options) > OPTIONS_LIMIT:
        errors.append(FieldError((*path, "options"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
    seen_optional = False
    names: set[str] = set()
    for i, option in enumerate(options):
        here = (*path, "options", i)
        errors += _name_errors(here, option.get("name"), chat_input=True)
        errors += _description_errors(here, option.get("description"))
        if option.get("name") in names:
            errors.append(FieldError((*here, "name"), "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Duplicate"))
        names.add(option.get("name", ""))
        if len(option.get("choices") or []) > CHOICES_LIMIT:
            errors.append(FieldError((*here, "choices"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
        if option.get("type") in (SUBCOMMAND, SUBCOMMAND_GROUP):
            errors += _option_errors(here, option.get("options") or [])
            continue
        if option.get("required"):
            if seen_optional:
                errors.append(
                    FieldError(
                        (*here, "required"),
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
                )
        else:
            seen_optional = True
    return errors


def validate_commands(commands: Sequence[Mapping[str, Any]]) -> None:
    """Raise the 400 Discord answers to an invalid bulk overwrite, if any."""
    errors: list[FieldError] = []
    if len(commands) > COMMANDS_LIMIT:
        errors.append(FieldError((), "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."))
    seen: set[tuple[str, int]] = set()
    for i, command in enumerate(commands):
        kind = int(command.get("type", p.COMMAND_CHAT_INPUT))
        chat_input = kind == p.COMMAND_CHAT_INPUT
        errors += _name_errors((i,), command.get("name"), chat_input=chat_input)
        if chat_input:
            errors += _description_errors((i,), command.get("description"))
            errors += _option_errors((i,), command.get("options") or [])
        key = (str(command.get("name")), kind)
        if key in seen:
            errors.append(FieldError((i, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", "Duplicate command name"))
        seen.add(key)
    if errors:
        raise form_error(errors)


def registered(command: Mapping[str, Any], *, command_id: int, guild_id: int | None) -> JSON:
    """The command object Discord echoes back after registering ``command``."""
    kind = int(command.get("type", p.COMMAND_CHAT_INPUT))
    data: JSON = {
        "id": str(command_id),
        "application_id": str(p.APPLICATION_ID),
        "version": str(p.new_snowflake()),
        "type": kind,
        "name": command["name"],
        "name_localizations": command.get("name_localizations"),
        "description": command.get("description", "") if kind == p.COMMAND_CHAT_INPUT else "",
        "description_localizations": command.get("description_localizations"),
        "default_member_permissions": command.get("default_member_permissions"),
        "nsfw": bool(command.get("nsfw", False)),
        "contexts": command.get("contexts"),
        "integration_types": command.get("integration_types") or [0],
    }
    if command.get("options"):
        data["options"] = copy.deepcopy(list(command["options"]))
    if guild_id is None:
        data["dm_permission"] = command.get("dm_permission", True)
    else:
        data["guild_id"] = str(guild_id)
    return data


class UnknownCommand(LookupError):
    """The test invoked a command the bot never registered (Discord could not send it)."""


def _conform(options: list[JSON], schema: Sequence[Mapping[str, Any]], where: str) -> None:
    """Fix option types from the schema and refuse unknown or missing options."""
    by_name = {s["name"]: s for s in schema}
    for option in options:
        spec = by_name.get(option["name"])
        if spec is None:
            raise UnknownCommand(f"{where}: no option {option['name']!r}; registered: {sorted(by_name)}")
        if option.get("type") in (SUBCOMMAND, SUBCOMMAND_GROUP):
            _conform(option.setdefault("options", []), spec.get("options") or [], f"{where} {option['name']}")
            continue
        kind = int(spec["type"])
        if kind == NUMBER and option.get("type") == INTEGER:
            option["type"] = NUMBER
            option["value"] = float(option["value"])
        elif option.get("type") != kind and not option.get("focused"):
            raise UnknownCommand(f"{where}: option {option['name']!r} is type {kind}, got {option.get('type')}")
    if options and options[0].get("type") in (SUBCOMMAND, SUBCOMMAND_GROUP):
        return
    given = {o["name"] for o in options}
    missing = [s["name"] for s in schema if s.get("required") and s["name"] not in given]
    if missing and not any(o.get("focused") for o in options):
        raise UnknownCommand(f"{where}: required options missing: {missing}")


def fill_invocation(payload: JSON, command: Mapping[str, Any]) -> None:
    """Complete an APPLICATION_COMMAND(_AUTOCOMPLETE) payload from the registered command."""
    data = payload["data"]
    data["id"] = command["id"]
    if command.get("guild_id") is not None:
        data["guild_id"] = command["guild_id"]
    else:
        data.pop("guild_id", None)
    if int(command.get("type", 1)) == p.COMMAND_CHAT_INPUT:
        _conform(data.setdefault("options", []), command.get("options") or [], f"/{data['name']}")
