"""The one handler for app-command errors: a polite private reply, never a traceback to the user."""

from __future__ import annotations

import logging

import aiohttp
import discord
from discord import app_commands

from index.errors import EngineError

from .flows import UNEXPECTED, engine_error_text, reply

log = logging.getLogger(__name__)

NOT_HERE = "That command works in a server, not in direct messages."
NEED_MANAGE = "You need the Manage Server permission to do that."
SIGNATURE = "That command changed since Discord last loaded it; please try again in a minute."
# Discord no longer knows the interaction (not acknowledged within 3 s) or its webhook (after 15 min).
EXPIRED_CODES = frozenset({10062, 10015})


def expired(error: app_commands.AppCommandError) -> bool:
    """Whether the command failed only because its interaction token had expired (no reply can land)."""
    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    return isinstance(original, discord.NotFound) and original.code in EXPIRED_CODES


def error_text(error: app_commands.AppCommandError) -> str | None:
    """The reply for an expected error; None for a bug (logged and answered generically)."""
    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    if isinstance(original, EngineError):
        return engine_error_text(original)
    if isinstance(error, app_commands.NoPrivateMessage):
        return NOT_HERE
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"You're asking quickly; please try again in {max(1, round(error.retry_after))} s."
    if isinstance(error, app_commands.MissingPermissions):
        return NEED_MANAGE
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or NEED_MANAGE
    if isinstance(error, app_commands.TransformerError):
        return "I couldn't read one of the options; please check it and try again."
    if isinstance(error, app_commands.CommandSignatureMismatch | app_commands.CommandNotFound):
        return SIGNATURE
    return None


async def on_app_command_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
    """Answer privately; log the unexpected with its traceback (the user never sees it)."""
    name = interaction.command.qualified_name if interaction.command else "?"
    if expired(error):
        log.debug("/%s: interaction %s expired before the reply reached Discord", name, interaction.id)
        return
    text = error_text(error)
    if text is None:
        log.error("unexpected error in /%s", name, exc_info=error)
        text = UNEXPECTED
    else:
        log.info("refused /%s for user %s: %s", name, interaction.user.id, text)
    try:
        await reply(interaction, content=text)
    except discord.HTTPException:
        log.warning("could not tell user %s about an error", interaction.user.id, exc_info=True)
    except (aiohttp.ClientError, RuntimeError) as err:  # the session is closed: we are shutting down
        log.warning("could not tell user %s about an error: %s", interaction.user.id, err)
