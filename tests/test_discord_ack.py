"""The 3-second rule, in process: slow work is deferred in time and its answer fills the deferral.

The e2e suite's engine answers in milliseconds, so its interactions never need the deferral. Here
a real bot from ``create_bot`` runs in this process against the fake Discord (its API base and
gateway pointed there), with one extra command whose work is slow, and the fake records when the
interaction was acknowledged and what finally filled it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import discord
import pytest
import yarl

from bot.discord_app import create_bot
from bot.discord_app.flows import ACK_BUDGET, acked, reply
from bot.settings import Settings
from index import Engine
from tests.fakediscord import FakeDiscord, InteractionResult
from tests.fakediscord import payloads as p

ROOT = Path(__file__).resolve().parent.parent
SLOW_SECONDS = ACK_BUDGET + 0.6


def slow_answer() -> str:
    """Engine-like blocking work that takes longer than the acknowledgement budget."""
    time.sleep(SLOW_SECONDS)
    return "the slow answer"


async def run_slow_command(fake: FakeDiscord, engine: Engine, private: bool) -> InteractionResult:
    """Start a real bot with a /slow command, invoke it through the fake, return the outcome."""
    settings = Settings(_env_file=None, discord_token=fake.token, dev_guild_id=p.GUILD_ID)  # type: ignore[call-arg]
    bot = create_bot(settings, engine)

    @bot.tree.command(name="slow", description="Work that outlasts the acknowledgement budget")
    async def slow(interaction: discord.Interaction) -> None:
        outcome = await acked(interaction, slow_answer, ephemeral=private)
        await reply(interaction, content=outcome.value, ephemeral=private)

    runner = asyncio.create_task(bot.start(fake.token))
    try:
        await asyncio.to_thread(fake.wait_ready, 15)
        handle = await asyncio.to_thread(fake.interact, p.slash_command("slow"))
        return await asyncio.to_thread(handle.wait, 15)
    finally:
        await bot.close()
        await asyncio.wait({runner}, timeout=5)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscord]:
    with FakeDiscord() as server:
        monkeypatch.setattr(discord.http.Route, "BASE", server.api_url)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url))
        yield server


@pytest.mark.parametrize("private", [False, True], ids=["public", "private"])
def test_slow_work_is_deferred_within_the_budget_and_fills_the_deferral(
    fake: FakeDiscord, tmp_path: Path, private: bool
) -> None:
    engine = Engine.open(tmp_path / "index", [ROOT / "article.txt"])
    result = asyncio.run(run_slow_command(fake, engine, private))
    assert result.callback_type == p.CALLBACK_DEFERRED_CHANNEL_MESSAGE
    assert result.ack_seconds is not None and result.ack_seconds < ACK_BUDGET + 0.5 < 3.0
    assert result.original is not None and not result.loading
    assert result.original["content"] == "the slow answer"
    assert result.ephemeral is private
    assert result.edits and result.edits[-1]["allowed_mentions"] == {"parse": []}
    assert not result.followups
