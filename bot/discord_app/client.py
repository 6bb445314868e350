"""The bot itself: construction from settings and engine, set-up, and a supervised run loop.

``Client.run`` only handles KeyboardInterrupt, so the process runs under ``asyncio.run`` with
signal handlers for SIGINT and SIGTERM. Shutdown drains before it closes (``lifecycle.py``): new
interactions are refused politely, answers in flight get ``DRAIN_SECONDS`` to finish, and only
then are the gateway and the HTTP session closed, all within ``SHUTDOWN_SECONDS``. Login is retried
with jittered exponential back-off on connection errors (Discord resets a token after 1000
IDENTIFYs a day), but a rejected token is final.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from dataclasses import dataclass, field

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.runtime import warm_up
from bot.settings import Settings
from index import Engine

from .admin_cog import AdminCog
from .answering import DYNAMIC_ITEMS
from .ask_cog import AskCog
from .errors import on_app_command_error
from .flows import gate
from .logs import configure_logging
from .state import AppState, state_of

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 5.0
DRAIN_SECONDS = 5.0  # answers in flight at SIGTERM get this long to finish
HURRY_SECONDS = 1.0  # then handlers still running get this long to say where they stand
SHUTDOWN_SECONDS = 9.0  # SIGTERM to a closed connection: inside the 10 s a supervisor waits
EXIT_OK, EXIT_BAD_TOKEN, EXIT_FATAL, EXIT_CONFIG = 0, 2, 3, 4
# Gateway close codes that no retry can fix: authentication failed, invalid shard, sharding
# required, invalid API version, invalid intents, disallowed intents.
FINAL_CLOSE_CODES = frozenset({4004, 4010, 4011, 4012, 4013, 4014})
RETRYABLE = (
    OSError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
    discord.GatewayNotFound,
    discord.ConnectionClosed,
    discord.HTTPException,
)


def intents() -> discord.Intents:
    """Only what is used: servers (channels, roles), and messages in servers and DMs.

    No privileged intent: without Message Content, Discord still delivers the text of DMs and of
    messages that mention the bot, which is all the mention and DM paths read.
    """
    return discord.Intents(guilds=True, guild_messages=True, dm_messages=True)


def sync_here(settings: Settings) -> bool:
    """Only one process syncs commands when shards are split across processes (the one with shard 0)."""
    return settings.shard_ids is None or 0 in settings.shard_ids


async def sync_commands(tree: app_commands.CommandTree[discord.Client], settings: Settings) -> None:
    """Sync once at start-up: to the development server (instant) if set, else globally."""
    if settings.dev_guild_id is not None:
        guild = discord.Object(id=settings.dev_guild_id)
        tree.copy_global_to(guild=guild)
        synced = await tree.sync(guild=guild)
        log.info("synced %d command(s) to development server %s", len(synced), settings.dev_guild_id)
        return
    synced = await tree.sync()
    log.info("synced %d global command(s) (they can take up to an hour to appear)", len(synced))


async def set_up(bot: commands.Bot) -> None:
    """Cogs (listed explicitly, dependencies passed in), persistent buttons, error handler, sync."""
    state = state_of(bot)
    await bot.add_cog(AskCog(bot, state))
    await bot.add_cog(AdminCog(bot, state))
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
    bot.tree.error(on_app_command_error)
    if not sync_here(state.settings):
        return
    try:
        await sync_commands(bot.tree, state.settings)
    except discord.Forbidden:
        log.error("Discord refused the command sync: invite the bot with the applications.commands scope")


class GatedTree(app_commands.CommandTree[discord.Client]):
    """The command tree with ``flows.gate`` in front of every slash command and context menu."""

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """Shed old interactions and refuse new ones while shutting down, before options are parsed."""
        return await gate(interaction)


class ArticleBot(commands.Bot):
    """A ``commands.Bot`` that answers questions about the indexed article."""

    def __init__(self, state: AppState, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.app_state = state
        self.was_ready = False

    async def setup_hook(self) -> None:
        """Async set-up runs once per login, before the gateway connects."""
        self.app_state.quick.start(self.http.user_agent)
        await set_up(self)

    async def close(self) -> None:
        """Close the gateway and discord.py's session, then the session used for quick refusals."""
        try:
            await super().close()
        finally:
            await self.app_state.quick.close()

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: the ask cog's listener reads mentions and DMs."""

    async def on_ready(self) -> None:
        """Log who we are; never sync here (READY repeats on every reconnect)."""
        self.was_ready = True
        user = self.user
        log.info(
            "connected as %s (id %s) to %d server(s); serving index generation %s",
            user,
            user.id if user else "?",
            len(self.guilds),
            self.app_state.engine.generation,
        )


class ShardedArticleBot(ArticleBot, commands.AutoShardedBot):
    """The same bot over several shards (required past 2,500 servers)."""


def shard_options(settings: Settings) -> dict[str, object]:
    """``shard_count`` / ``shard_ids`` for ``AutoShardedBot``; raises on an impossible combination."""
    if settings.shard_ids is not None and settings.shard_count is None:
        raise ValueError("SHARD_IDS needs SHARD_COUNT (the total number of shards across all processes)")
    if settings.shard_ids is not None and settings.shard_count is not None:
        bad = [i for i in settings.shard_ids if not 0 <= i < settings.shard_count]
        if bad:
            raise ValueError(f"SHARD_IDS {bad} are outside 0..{settings.shard_count - 1} (SHARD_COUNT is the total)")
    return {"shard_count": settings.shard_count, "shard_ids": settings.shard_ids}


def is_sharded(settings: Settings) -> bool:
    """Use ``AutoShardedBot`` when asked to, or when a shard count or ids are given."""
    return settings.auto_shard or settings.shard_count is not None or settings.shard_ids is not None


def create_bot(settings: Settings, engine: Engine) -> commands.Bot:
    """A bot wired to ``engine`` and ``settings``; ``AutoShardedBot`` when sharding is configured."""
    options: dict[str, object] = {
        "command_prefix": commands.when_mentioned,
        "help_command": None,
        "intents": intents(),
        "allowed_mentions": discord.AllowedMentions.none(),
        "tree_cls": GatedTree,
    }
    state = AppState.build(settings, engine)
    if is_sharded(settings):
        return ShardedArticleBot(state, **options, **shard_options(settings))
    return ArticleBot(state, **options)


@dataclass(slots=True)
class Backoff:
    """Exponential back-off with jitter: delay n is uniform in [cap_n / 2, cap_n], cap_n = base * 2^n."""

    base: float = 2.0
    cap: float = 300.0
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = 0

    def next_delay(self) -> float:
        """The delay before the next attempt, growing each time up to ``cap``."""
        ceiling = min(self.cap, self.base * 2**self.attempts)
        self.attempts += 1
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """Start over after a run that got connected."""
        self.attempts = 0


def failure_exit(exc: BaseException) -> int | None:
    """The exit code for an error no retry can fix, or None when it is worth retrying."""
    if isinstance(exc, discord.LoginFailure):
        log.error("Discord rejected the token: check DISCORD_TOKEN (Developer Portal > your app > Bot)")
        return EXIT_BAD_TOKEN
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        log.error("Discord refused an intent this bot asked for; enable it in the Developer Portal")
        return EXIT_FATAL
    if isinstance(exc, discord.ConnectionClosed) and exc.code in FINAL_CLOSE_CODES:
        log.error("Discord closed the gateway with code %s (%s)", exc.code, exc.reason)
        return EXIT_FATAL
    if isinstance(exc, discord.HTTPException) and 400 <= exc.status < 500 and exc.status != 429:
        log.error("Discord refused a start-up request (HTTP %s): %s", exc.status, exc.text)
        return EXIT_FATAL
    if not isinstance(exc, RETRYABLE):
        log.error("the bot stopped on an unexpected error", exc_info=exc)
        return EXIT_FATAL
    return None


async def close_bot(bot: commands.Bot, timeout: float = CLOSE_TIMEOUT) -> None:
    """Close the gateway and HTTP session, bounded so shutdown never hangs."""
    try:
        await asyncio.wait_for(bot.close(), timeout=timeout)
    except TimeoutError:
        log.warning("closing the Discord connection took over %.1f s; exiting anyway", timeout)


async def drain(bot: commands.Bot) -> None:
    """Let the answers in flight finish (bounded) before the connection closes under them."""
    state = state_of(bot)
    log.info(
        "shutting down: refusing new questions, finishing %d in flight (at most %.0f s)",
        state.lifecycle.in_flight,
        DRAIN_SECONDS,
    )
    await state.lifecycle.drain(DRAIN_SECONDS, HURRY_SECONDS)
    summary = state.shed.flush()
    if summary is not None:
        log.info("%s", summary)


def install_signal_handlers(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM ask for a clean shutdown instead of killing the process mid-write."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def run_once(bot: commands.Bot, token: str, stop: asyncio.Event) -> BaseException | None:
    """Run until stopped (None) or the bot fails (its exception); the bot is closed either way."""
    runner = asyncio.create_task(bot.start(token), name="discord-bot")
    stopper = asyncio.create_task(stop.wait(), name="stop-signal")
    await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    began = asyncio.get_running_loop().time()
    if not runner.done():
        await drain(bot)
        log.info("shutting down: closing the Discord connection")
    left = SHUTDOWN_SECONDS - (asyncio.get_running_loop().time() - began)
    await close_bot(bot, timeout=min(CLOSE_TIMEOUT, max(1.0, left)))
    if not runner.done():
        runner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait({runner}, timeout=CLOSE_TIMEOUT)
    if runner.done() and not runner.cancelled():
        return runner.exception()
    return None


async def supervise(settings: Settings, engine: Engine, token: str, backoff: Backoff | None = None) -> int:
    """Run the bot, retrying connection failures with back-off, until a signal or a final error."""
    stop = asyncio.Event()
    install_signal_handlers(stop)
    backoff = backoff or Backoff()
    while not stop.is_set():
        bot = create_bot(settings, engine)
        error = await run_once(bot, token, stop)
        if stop.is_set() or error is None:
            break
        code = failure_exit(error)
        if code is not None:
            return code
        if isinstance(bot, ArticleBot) and bot.was_ready:
            backoff.reset()
        delay = backoff.next_delay()
        log.warning("could not reach Discord (%s: %s); retrying in %.1f s", type(error).__name__, error, delay)
        with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
    log.info("stopped")
    return EXIT_OK


def run_discord(settings: Settings, engine: Engine) -> int:
    """Run the bot until SIGINT/SIGTERM (exit 0) or an unrecoverable error (non-zero)."""
    if settings.discord_token is None:
        log.error("DISCORD_TOKEN is not set")
        return EXIT_CONFIG
    token = settings.discord_token.get_secret_value()
    configure_logging(settings.log_level, secrets=[token])
    try:
        shard_options(settings)
    except ValueError as err:
        log.error("%s", err)
        return EXIT_CONFIG
    warm_up(engine)
    return asyncio.run(supervise(settings, engine, token))
