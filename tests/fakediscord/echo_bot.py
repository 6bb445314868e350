"""A tiny discord.py bot used to test the fake itself (run as a script, like run_bot.py).

Environment: ``DISCORD_TOKEN``; ``ECHO_GUILD_ID`` (sync commands to that guild);
``ECHO_SHARDS=1`` to run as an AutoShardedBot taking its shard count from /gateway/bot.

Commands (global, and copied to the guild): ``/ping`` defers then follows up "pong";
``/echo text`` answers at once; ``/slow seconds`` waits before answering (to trip the 3 s
deadline); ``/button`` posts a message with a button that edits it when pressed;
``/shout file`` downloads an attachment and answers with it upper-cased as a file;
``/whoami`` describes the guild and the caller as the bot sees them; the message menu
"Quote" quotes its target. Mentioning the bot gets a typing indicator, a reaction and a
reply. SIGTERM closes the gateway and exits 0.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal

import discord
from discord import app_commands
from discord.ext import commands

_log = logging.getLogger("echo_bot")
NO_PINGS = discord.AllowedMentions.none()


class PressView(discord.ui.View):
    """One button; pressing it edits the message in place (callback type 7).

    Registered as a persistent view at start-up: a view bound to its message is only stored
    once the bot has read the callback response, and a test may click before that.
    """

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Press", custom_id="echo:press", style=discord.ButtonStyle.primary)
    async def press(self, interaction: discord.Interaction, _button: discord.ui.Button[PressView]) -> None:
        await interaction.response.edit_message(content=f"pressed by {interaction.user.name}", view=None)


def build_bot(guild_id: int | None, sharded: bool) -> commands.Bot | commands.AutoShardedBot:
    """The bot with its commands and listeners."""
    kind = commands.AutoShardedBot if sharded else commands.Bot
    bot: commands.Bot | commands.AutoShardedBot = kind(
        command_prefix=commands.when_mentioned,
        intents=discord.Intents.default(),
        allowed_mentions=NO_PINGS,
        guild_ready_timeout=0.05,
    )
    guild = discord.Object(guild_id) if guild_id else None

    if sharded:

        async def before_identify_hook(shard_id: int | None, *, initial: bool = False) -> None:
            """No 5 s pause between shard IDENTIFYs: the fake has no identify rate limit."""

        bot.before_identify_hook = before_identify_hook  # type: ignore[method-assign]

    async def setup_hook() -> None:
        bot.add_view(PressView())
        synced = await bot.tree.sync()
        if guild is not None:
            bot.tree.copy_global_to(guild=guild)
            synced += await bot.tree.sync(guild=guild)
        _log.info("synced %d commands", len(synced))

    bot.setup_hook = setup_hook  # type: ignore[method-assign]

    @bot.tree.command(description="Defer, then follow up with pong")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("pong", allowed_mentions=NO_PINGS)

    @bot.tree.command(description="Say it back")
    @app_commands.describe(text="What to say")
    async def echo(interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text, allowed_mentions=NO_PINGS)

    @bot.tree.command(description="Answer after a delay")
    @app_commands.describe(seconds="How long to wait first")
    async def slow(interaction: discord.Interaction, seconds: float) -> None:
        await asyncio.sleep(seconds)
        try:
            await interaction.response.send_message("finally")
        except discord.NotFound:
            _log.warning("too late to answer /slow")

    @bot.tree.command(description="Post a button")
    async def button(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("press it", view=PressView())

    @bot.tree.command(description="Shout a text file back")
    @app_commands.describe(file="A text file")
    async def shout(interaction: discord.Interaction, file: discord.Attachment) -> None:
        data = await file.read()
        loud = discord.File(io.BytesIO(data.upper()), filename=f"loud-{file.filename}")
        await interaction.response.send_message(f"{file.filename}: {len(data)} bytes", file=loud)

    @bot.tree.command(description="How the bot sees this guild and you")
    async def whoami(interaction: discord.Interaction) -> None:
        where = interaction.guild
        perms = interaction.permissions
        if where is None:
            text = f"dm user={interaction.user.name}"
        else:
            roles = ",".join(r.name for r in where.roles)
            text = (
                f"guild={where.name} owner={where.owner_id} channels={len(where.text_channels)} "
                f"threads={len(where.threads)} roles={roles} user={interaction.user.name} "
                f"manage_guild={perms.manage_guild}"
            )
        await interaction.response.send_message(text, ephemeral=True)

    @bot.tree.context_menu(name="Quote")
    async def quote(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.send_message(f"> {message.content}", allowed_mentions=NO_PINGS)

    @bot.event
    async def on_ready() -> None:
        _log.info("echo bot ready as %s in %d guild(s)", bot.user, len(bot.guilds))

    @bot.event
    async def on_resumed() -> None:
        _log.info("echo bot resumed")

    @bot.event
    async def on_message(message: discord.Message) -> None:
        if message.author.bot or bot.user is None or bot.user not in message.mentions:
            return
        async with message.channel.typing():
            await message.add_reaction("\N{EYES}")
            await message.reply(f"echo: {message.clean_content}", mention_author=False, allowed_mentions=NO_PINGS)

    return bot


async def main() -> None:
    """Run until SIGTERM/SIGINT, then close the gateway cleanly."""
    guild_id = int(os.environ["ECHO_GUILD_ID"]) if os.environ.get("ECHO_GUILD_ID") else None
    bot = build_bot(guild_id, sharded=os.environ.get("ECHO_SHARDS") == "1")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: loop.create_task(bot.close()))
    async with bot:
        await bot.start(os.environ["DISCORD_TOKEN"])
    _log.info("echo bot closed")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(main())
