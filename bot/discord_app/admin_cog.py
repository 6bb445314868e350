"""Moderators: /about, /reindex, and picking up an index rebuilt by the CLI while the bot runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands, tasks

from index import ReindexSummary
from index.errors import EngineError

from . import render
from .flows import Outcome, engine_error_text, off_loop, reply
from .state import AppState, state_of
from .uploads import UploadError, check_attachment, decode_upload, save_upload

log = logging.getLogger(__name__)

REFRESH_SECONDS = 2.0
ALREADY_RUNNING = "A reindex is already running; try again when it has finished."
DOWNLOAD_FAILED = "I couldn't download that attachment from Discord; please try again."
STOPPED_BEFORE = (
    "I'm restarting, so I stopped before rebuilding anything; the old index still serves. "
    "Please run /reindex again in a minute."
)
STILL_BUILDING = (
    "I'm restarting and this reindex had not finished yet. The old index serves until the new one "
    "is fully written; run /about after the restart to see which one is live."
)


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
        self._outliving: set[asyncio.Future[Outcome[ReindexSummary]]] = set()  # builds past their handler

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
        if not self.state.lifecycle.accepting:
            await reply(interaction, content=STOPPED_BEFORE)
            return
        build = asyncio.ensure_future(off_loop(lambda: self.state.engine.reindex(paths)))
        if not await self._finished_before_shutdown(build):
            self._outliving.add(build)
            build.add_done_callback(self._outliving.discard)
            build.add_done_callback(lambda done: self._log_late(interaction.user.id, done))
            await reply(interaction, content=STILL_BUILDING)
            return
        outcome = build.result()
        await self._report(interaction, outcome.value, outcome.error)

    async def _finished_before_shutdown(self, build: asyncio.Future[Outcome[ReindexSummary]]) -> bool:
        """Wait for the build, unless a shutdown runs out of patience first (then False).

        The build cannot be interrupted in its worker thread: the process finishes it before exiting
        (the store commits it or leaves the old generation intact). What is bounded is how long the
        moderator's "thinking…" waits: it gets an honest status before the connection closes.
        """
        hurry = asyncio.ensure_future(self.state.lifecycle.hurry.wait())
        waiting: set[asyncio.Future[Any]] = {build, hurry}
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hurry.cancel()
        return build.done()

    @staticmethod
    def _log_late(user_id: int, build: asyncio.Future[Outcome[ReindexSummary]]) -> None:
        """Record how a reindex finished after its moderator was told the bot was restarting."""
        if build.cancelled():
            return
        outcome = build.result()
        if outcome.value is not None:
            log.info("reindex by %s finished during shutdown: generation %s", user_id, outcome.value.generation)
        else:
            log.warning("reindex by %s failed during shutdown: %s", user_id, outcome.error)

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
