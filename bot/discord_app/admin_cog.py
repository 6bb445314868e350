"""Moderators: /about, /reindex, and picking up an index rebuilt by the CLI while the bot runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path

import discord
from discord import app_commands
from discord.ext import commands, tasks

from index import ReindexSummary
from index.errors import EngineError

from . import render
from .flows import acked, engine_error_text, reply
from .state import AppState, state_of
from .uploads import UploadError, check_attachment, decode_upload, save_upload

log = logging.getLogger(__name__)

REFRESH_SECONDS = 2.0
ALREADY_RUNNING = "A reindex is already running; try again when it has finished."
DOWNLOAD_FAILED = "I couldn't download that attachment from Discord; please try again."


class NotModerator(app_commands.CheckFailure):
    """The user may not run a moderator command here."""

    def __init__(self, role: str | None) -> None:
        self.role = role
        extra = f" or the **{render.fit_markdown(role, 100)}** role" if role else ""
        super().__init__(f"You need the Manage Server permission{extra} to do that.")


def may_reindex(permissions: discord.Permissions, roles: Iterable[str], role: str | None) -> bool:
    """Manage Server (or Administrator), or the configured role by name or id."""
    if permissions.manage_guild or permissions.administrator:
        return True
    return role is not None and role in set(roles)


def role_keys(user: discord.abc.User) -> list[str]:
    """The names and ids of a member's roles (a plain user, as in DMs, has none)."""
    if not isinstance(user, discord.Member):
        return []
    return [key for r in user.roles for key in (r.name, str(r.id))]


async def moderator_check(interaction: discord.Interaction) -> bool:
    """Enforced by the bot itself: ``default_permissions`` is only a hint to Discord's client."""
    if interaction.guild is None:
        raise app_commands.NoPrivateMessage("Reindexing works in a server, not in direct messages.")
    role = state_of(interaction.client).settings.reindex_role
    if may_reindex(interaction.permissions, role_keys(interaction.user), role):
        return True
    raise NotModerator(role)


class AdminCog(commands.Cog):
    """What the index holds, rebuilding it, and following rebuilds made elsewhere."""

    def __init__(self, bot: commands.Bot, state: AppState) -> None:
        self.bot = bot
        self.state = state

    async def cog_load(self) -> None:
        """Start following the index folder for generations committed by other processes."""
        self.refresher.start()

    async def cog_unload(self) -> None:
        """Stop following the index folder."""
        self.refresher.cancel()

    @tasks.loop(seconds=REFRESH_SECONDS)
    async def refresher(self) -> None:
        """Re-open the index when the CLI (or another shard process) committed a newer generation."""
        try:
            changed = await asyncio.to_thread(self.state.engine.refresh)
        except Exception:
            log.exception(
                "checking for a newer index generation failed; still serving %s", self.state.engine.generation
            )
            return
        if changed:
            log.info("now serving index generation %s", self.state.engine.generation)

    @app_commands.command(name="about")
    async def about(self, interaction: discord.Interaction) -> None:
        """What the bot answers from: the documents, passage count and when they were indexed."""
        await reply(interaction, embed=render.about_embed(self.state.engine.info()))

    @app_commands.command(name="reindex")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.check(moderator_check)
    @app_commands.describe(file="A .txt or .md file to index instead of the configured sources")
    async def reindex(self, interaction: discord.Interaction, file: discord.Attachment | None = None) -> None:
        """Rebuild the index from an attached file, or from the configured source files."""
        lock = self.state.reindex_lock
        if lock.locked():
            await reply(interaction, content=ALREADY_RUNNING)
            return
        async with lock:
            await self._reindex(interaction, file)

    async def _reindex(self, interaction: discord.Interaction, file: discord.Attachment | None) -> None:
        """Check the attachment, defer, save it, build off the loop, and report what changed."""
        limit = self.state.settings.max_attachment_bytes
        try:
            name = check_attachment(file.filename, file.size, limit) if file else None
        except UploadError as err:
            await reply(interaction, content=str(err))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            paths = await self._paths(file, name, limit)
        except UploadError as err:
            await reply(interaction, content=str(err))
            return
        outcome = await acked(interaction, lambda: self.state.engine.reindex(paths), ephemeral=True)
        await self._report(interaction, outcome.value, outcome.error)

    async def _paths(self, file: discord.Attachment | None, name: str | None, limit: int) -> list[Path]:
        """The files to index: the saved attachment, or the configured sources."""
        if file is None or name is None:
            return list(self.state.settings.sources)
        try:
            data = await file.read()
        except discord.HTTPException:
            log.warning("downloading attachment %s failed", file.id, exc_info=True)
            raise UploadError(DOWNLOAD_FAILED) from None
        decode_upload(data, limit)
        folder = self.state.settings.index_dir / "uploads"
        return [await asyncio.to_thread(save_upload, folder, name, data)]

    async def _report(
        self, interaction: discord.Interaction, summary: ReindexSummary | None, error: EngineError | None
    ) -> None:
        """Tell the moderator what changed, or why nothing did (the old index keeps serving)."""
        if summary is None:
            text = engine_error_text(error or EngineError("reindex failed"), "reindex")
            await reply(interaction, content=text + " The previous index is still being served.")
            return
        log.info(
            "reindexed by %s: generation %s, %d passages", interaction.user.id, summary.generation, summary.passages
        )
        await reply(interaction, embed=render.reindex_embed(summary))
