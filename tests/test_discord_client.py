"""The bot's construction and wiring: classes, intents, commands, buttons, checks, retries."""

from __future__ import annotations

import asyncio
import random
import threading
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from hypothesis import given
from hypothesis import strategies as st

from bot.discord_app import create_bot
from bot.discord_app.admin_cog import AdminCog, NotModerator, may_reindex
from bot.discord_app.answering import (
    CUSTOM_ID_MAX,
    MoreResults,
    ShareAnswer,
    ShowContext,
    answer_view,
    find_passage,
    item_for,
)
from bot.discord_app.ask_cog import AskCog, addressed_to_bot, question_from_target, question_in_text
from bot.discord_app.client import Backoff, failure_exit, is_sharded, shard_options
from bot.discord_app.errors import NEED_MANAGE, NOT_HERE, error_text
from bot.discord_app.flows import Page, clean_question, off_loop
from bot.discord_app.render import QUESTION_MAX
from bot.discord_app.state import state_of
from bot.settings import Settings
from index import Engine
from index.errors import QuestionError

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "article.txt"
BOT_ID = 1234


def settings(**values: Any) -> Settings:
    """Settings from explicit values only (no environment, no .env)."""
    return Settings(_env_file=None, discord_token="x", **values)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine.open(tmp_path_factory.mktemp("index"), [ARTICLE])


# ---- construction --------------------------------------------------------------------------------


def test_default_bot_is_a_plain_bot_that_can_never_ping(engine: Engine) -> None:
    bot = create_bot(settings(), engine)
    assert type(bot).__mro__[1] is commands.Bot and not isinstance(bot, commands.AutoShardedBot)
    assert bot.allowed_mentions is not None and bot.allowed_mentions.to_dict() == {"parse": []}
    assert state_of(bot).engine is engine


def test_intents_are_minimal_and_unprivileged(engine: Engine) -> None:
    intents = create_bot(settings(), engine).intents
    assert (intents.guilds, intents.guild_messages, intents.dm_messages) == (True, True, True)
    assert not (intents.message_content or intents.members or intents.presences)
    assert not (intents.typing or intents.guild_reactions or intents.voice_states)


@pytest.mark.parametrize(
    ("values", "count", "ids"),
    [
        ({"auto_shard": True}, None, None),
        ({"shard_count": 4}, 4, None),
        ({"shard_count": 4, "shard_ids": [2, 3]}, 4, [2, 3]),
    ],
    ids=["auto", "count", "count-and-ids"],
)
def test_sharding_settings_make_an_auto_sharded_bot(
    engine: Engine, values: dict[str, Any], count: int | None, ids: list[int] | None
) -> None:
    bot = create_bot(settings(**values), engine)
    assert isinstance(bot, commands.AutoShardedBot)
    assert (bot.shard_count, bot.shard_ids) == (count, ids)


@pytest.mark.parametrize(
    "values", [{"shard_ids": [0]}, {"shard_count": 2, "shard_ids": [2]}], ids=["ids-without-count", "id-out-of-range"]
)
def test_impossible_shard_settings_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="SHARD"):
        shard_options(settings(**values))


def test_no_shard_settings_means_no_sharding() -> None:
    assert not is_sharded(settings())


async def _commands(engine: Engine) -> dict[str, dict[str, Any]]:
    """The application commands exactly as they would be synced."""
    bot = create_bot(settings(), engine)
    state = state_of(bot)
    await bot.add_cog(AskCog(bot, state))
    await bot.add_cog(AdminCog(bot, state))
    try:
        return {c.name: c.to_dict(bot.tree) for c in bot.tree.get_commands()}
    finally:
        await bot.remove_cog("AdminCog")
        await bot.remove_cog("AskCog")


def test_every_command_and_parameter_is_described(engine: Engine) -> None:
    synced = asyncio.run(_commands(engine))
    assert set(synced) == {"ask", "about", "reindex", "Check in article"}
    for name in ("ask", "about", "reindex"):
        assert synced[name]["description"], name
        assert all(option["description"] for option in synced[name].get("options", [])), name


def test_ask_bounds_its_options(engine: Engine) -> None:
    options = {o["name"]: o for o in asyncio.run(_commands(engine))["ask"]["options"]}
    assert options["question"]["max_length"] == QUESTION_MAX and options["question"]["required"]
    assert (options["results"]["min_value"], options["results"]["max_value"]) == (1, 5)
    assert options["private"]["type"] == discord.AppCommandOptionType.boolean.value


def test_reindex_defaults_to_manage_server_and_servers_only(engine: Engine) -> None:
    reindex = asyncio.run(_commands(engine))["reindex"]
    assert int(reindex["default_member_permissions"]) == discord.Permissions(manage_guild=True).value
    assert reindex["contexts"] == [0]


# ---- moderator check and error texts ---------------------------------------------------------


@pytest.mark.parametrize(
    ("permissions", "roles", "role", "allowed"),
    [
        (discord.Permissions(manage_guild=True), [], None, True),
        (discord.Permissions(administrator=True), [], None, True),
        (discord.Permissions.none(), ["Librarian"], "Librarian", True),
        (discord.Permissions.none(), ["42"], "42", True),
        (discord.Permissions.none(), ["Librarian"], None, False),
        (discord.Permissions(send_messages=True), ["Member"], "Librarian", False),
    ],
    ids=["manage-server", "admin", "role-name", "role-id", "role-not-configured", "member"],
)
def test_who_may_reindex(permissions: discord.Permissions, roles: list[str], role: str | None, allowed: bool) -> None:
    assert may_reindex(permissions, roles, role) is allowed


def test_error_texts_are_polite_and_never_tracebacks() -> None:
    assert error_text(app_commands.NoPrivateMessage()) == NOT_HERE
    assert error_text(NotModerator("Librarian")) == (
        "You need the Manage Server permission or the **Librarian** role to do that."
    )
    assert error_text(app_commands.MissingPermissions(["manage_guild"])) == NEED_MANAGE
    assert error_text(app_commands.CheckFailure()) == NEED_MANAGE
    assert error_text(app_commands.AppCommandError("boom")) is None


# ---- who the bot answers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "mentioned", "in_dm", "answered"),
    [
        (f"<@{BOT_ID}> when?", [BOT_ID], False, True),
        (f"<@!{BOT_ID}> when?", [BOT_ID], False, True),
        ("any text at all", [], True, True),
        ("@everyone when?", [], False, False),
        ("@here when?", [], False, False),
        ("<@&99> when?", [], False, False),
        ("thanks!", [BOT_ID], False, False),  # a reply that pings the bot is not a question
        (f"`<@{BOT_ID}>` in code", [], False, False),
        ("<@555> when?", [555], False, False),
    ],
    ids=["mention", "nick-mention", "dm", "everyone", "here", "role", "reply-ping", "code-span", "someone-else"],
)
def test_which_messages_are_questions(content: str, mentioned: list[int], in_dm: bool, answered: bool) -> None:
    assert addressed_to_bot(content, mentioned, BOT_ID, in_dm=in_dm) is answered


def test_the_question_is_the_text_without_the_bot_mentions() -> None:
    assert question_in_text(f"<@{BOT_ID}> who won? <@!{BOT_ID}>", BOT_ID) == "who won?"


def test_client_markup_is_not_part_of_the_question() -> None:
    """Custom emoji, timestamps, other mentions and command links are what clients write, not words."""
    raw = "<@123> who is <a:wave:42> Aliyev <:thinking:987654321>\n<t:1603670400:R> <#77> <@&9> </ask:555>?"
    assert clean_question(raw) == "who is Aliyev ?"
    assert clean_question("<:pepe:1>") == ""  # nothing left: the bot asks for a question


def test_a_long_message_is_cut_to_a_question_at_a_word_boundary() -> None:
    text = "word " * 400
    question = question_from_target(text)
    assert len(question) <= QUESTION_MAX and question.endswith("word")


# ---- buttons -----------------------------------------------------------------------------------


def test_custom_ids_fit_discord_at_their_largest() -> None:
    items = [MoreResults(99, 5, "f" * 10), ShowContext("a" * 12, 9_999_999_999, 999_999_999), ShareAnswer()]
    assert all(len(item.custom_id) <= CUSTOM_ID_MAX for item in items)


@pytest.mark.parametrize(
    "item",
    [MoreResults(3, 3, "0123456789"), ShowContext("abcdef012345", 812, 7), ShareAnswer()],
    ids=["more", "context", "share"],
)
def test_a_custom_id_rebuilds_the_same_button(item: discord.ui.DynamicItem[Any]) -> None:
    rebuilt = item_for(item.custom_id)
    assert rebuilt is not None and type(rebuilt) is type(item) and rebuilt.custom_id == item.custom_id


@given(st.text(max_size=120))
def test_foreign_custom_ids_are_ignored(custom_id: str) -> None:
    item = item_for(custom_id)
    assert item is None or item.custom_id == custom_id


def test_answer_buttons_offer_more_and_context_and_share_when_private(engine: Engine) -> None:
    answer = engine.ask("Who brokered the ceasefire?", 3)
    documents = engine.info().documents
    view = answer_view(answer, Page(0, 3), documents, share=True)
    assert view is not None
    assert [type(i).__name__ for i in view.children] == ["MoreResults", "ShowContext", "ShareAnswer"]
    assert view.timeout is None


def test_no_more_results_button_when_the_page_was_not_full(engine: Engine) -> None:
    answer = engine.ask("Who brokered the ceasefire?", 3)
    view = answer_view(answer, Page(0, 5), engine.info().documents, share=False)
    assert view is not None and [type(i).__name__ for i in view.children] == ["ShowContext"]


def test_a_declined_answer_has_no_buttons(engine: Engine) -> None:
    answer = engine.ask("What is the capital of Peru?", 3)
    assert answer_view(answer, Page(0, 3), engine.info().documents, share=False) is None


def test_context_finds_its_passage_in_a_later_generation(tmp_path: Path) -> None:
    engine = Engine.open(tmp_path / "index", [ARTICLE])
    passage = engine.passage(12)
    sha = engine.document(passage.doc).sha256[:12]
    before = tmp_path / "aaa-first.txt"
    before.write_text("A short note indexed before the article.\n\nIt has two paragraphs.", encoding="utf-8")
    engine.reindex([before, ARTICLE])
    found = find_passage(engine, sha, passage.start, passage.id)
    assert found is not None and found.text == passage.text and found.id != passage.id


def test_context_of_a_changed_document_is_reported_gone(tmp_path: Path) -> None:
    engine = Engine.open(tmp_path / "index", [ARTICLE])
    passage = engine.passage(3)
    sha = engine.document(passage.doc).sha256[:12]
    edited = tmp_path / "article.txt"
    edited.write_text(ARTICLE.read_text(encoding="utf-8") + "\n\nA correction was added.", encoding="utf-8")
    engine.reindex([edited])
    assert find_passage(engine, sha, passage.start, passage.id) is None


# ---- engine work runs off the event loop ------------------------------------------------------


def test_engine_work_runs_in_a_worker_thread_and_errors_come_back_as_values() -> None:
    def work() -> str:
        return threading.current_thread().name

    def failing() -> str:
        raise QuestionError("The question is empty.")

    loop_thread = threading.current_thread().name
    done = asyncio.run(off_loop(work))
    failed = asyncio.run(off_loop(failing))
    assert done.value is not None and done.value != loop_thread
    assert failed.value is None and isinstance(failed.error, QuestionError)


# ---- start-up failures and retries ---------------------------------------------------------------


class Response:
    """The two attributes discord.py reads from an HTTP response to build an HTTPException."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.reason = "fake"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (discord.LoginFailure("Improper token has been passed."), 2),
        (discord.PrivilegedIntentsRequired(None), 3),
        (discord.ConnectionClosed(None, shard_id=None, code=4004), 3),  # type: ignore[arg-type]
        (discord.HTTPException(Response(403), "Missing Access"), 3),
        (TypeError("a bug"), 3),
        (discord.ConnectionClosed(None, shard_id=None, code=1006), None),  # type: ignore[arg-type]
        (discord.HTTPException(Response(503), "unavailable"), None),
        (discord.HTTPException(Response(429), "slow down"), None),
        (aiohttp.ClientConnectionError("refused"), None),
        (ConnectionRefusedError(111, "refused"), None),
        (TimeoutError(), None),
        (discord.GatewayNotFound(), None),
    ],
    ids=[
        "bad-token", "privileged-intent", "auth-failed", "forbidden", "bug",
        "abnormal-close", "server-error", "rate-limited", "aiohttp", "refused", "timeout", "no-gateway",
    ],
)  # fmt: skip
def test_which_start_up_failures_are_final(error: BaseException, code: int | None) -> None:
    assert failure_exit(error) == code


def test_backoff_grows_with_jitter_up_to_a_cap_and_resets() -> None:
    backoff = Backoff(base=2.0, cap=60.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(10)]
    ceilings = [min(60.0, 2.0 * 2**n) for n in range(10)]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays), "jittered, so restarts do not stampede"
    backoff.reset()
    assert 1.0 <= backoff.next_delay() <= 2.0


# ---- architecture guards ---------------------------------------------------------------------------

APP_FILES = sorted((ROOT / "bot" / "discord_app").glob("*.py"))


@pytest.mark.parametrize("path", APP_FILES, ids=lambda path: path.name)
def test_the_discord_app_takes_settings_only_from_the_settings_object(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert "os.environ" not in source and "getenv" not in source and "Settings()" not in source


@pytest.mark.parametrize("path", APP_FILES, ids=lambda path: path.name)
def test_the_super_linear_escaper_is_never_used(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert "utils.escape_markdown" not in source and "escape_mentions" not in source


@pytest.mark.parametrize("path", APP_FILES, ids=lambda path: path.name)
def test_mentioned_in_is_never_the_trigger(path: Path) -> None:
    """``ClientUser.mentioned_in`` is true for any @everyone message."""
    assert "mentioned_in" not in path.read_text(encoding="utf-8")
