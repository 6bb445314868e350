"""End to end: ``python run_bot.py`` as a subprocess against the fake Discord on 127.0.0.1.

One bot process serves the tests that do not change its index or lifetime (module-scoped, each
test asks as its own new user so per-user cooldowns never couple tests); restarts, reindexing,
signals and login failures get a process of their own.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SETTING_NAMES
from tests.fakediscord import BotProcess, FakeDiscord, InteractionHandle, InteractionResult, route
from tests.fakediscord import payloads as p

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "article.txt"
ARTICLE_TEXT = ARTICLE.read_text(encoding="utf-8")
RUN_BOT = (sys.executable, str(ROOT / "run_bot.py"))
CITATION = re.compile(r"¶(\d+) · sentence (\d+) · chars (\d+)–(\d+)")
NO_PINGS = {"parse": []}
JSON = dict[str, Any]

LIGHTHOUSE = (
    "Lighthouse keepers vote to strike\n\nPosted: March 3, 2024\n\n"
    "The keepers of the northern lighthouses voted on Tuesday to strike over pay, their union said. "
    "About 120 keepers took part.\n\n"
    '"We have kept the lamps lit for forty years," said union leader Mara Quill.\n'
)


# ---- harness ---------------------------------------------------------------------------------


def bot_env(fake: FakeDiscord, index_dir: Path, **extra: str) -> dict[str, str]:
    """The fake's environment with settings only from here (none leak from the developer's)."""
    base = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    settings = {
        "INDEX_DIR": str(index_dir),
        "SOURCES": str(ARTICLE),
        "DEV_GUILD_ID": str(p.GUILD_ID),
        "COOLDOWN_RATE": "3",
        "COOLDOWN_SECONDS": "60",
        "LOG_LEVEL": "INFO",
    }
    return fake.env(base, **{**settings, **extra})


def launch(fake: FakeDiscord, workdir: Path, name: str, **extra: str) -> BotProcess:
    """Start ``run_bot.py`` in ``workdir`` (no ``.env`` there) against ``fake``."""
    index_dir = Path(extra.pop("INDEX_DIR", str(workdir / "index")))
    return fake.start_bot(RUN_BOT, env=bot_env(fake, index_dir, **extra), cwd=workdir, log_dir=workdir, name=name)


def ready(fake: FakeDiscord, proc: BotProcess, since_gateway: int = 0, since_request: int = 0) -> None:
    """Wait for IDENTIFY/READY and the command sync of a freshly started bot."""
    fake.wait_ready(timeout=30, since=since_gateway)
    fake.wait_for_request(route("PUT", r"/guilds/\d+/commands$"), timeout=30, since=since_request)


def stop(fake: FakeDiscord, proc: BotProcess) -> None:
    fake.unwatch(proc)
    proc.stop()


def new_user(name: str = "asker") -> JSON:
    """A fresh member, so cooldowns of one test never affect another."""
    return p.user(p.new_snowflake(), name)


def answered(handle: InteractionHandle, followups: int = 0) -> InteractionResult:
    """The bot's answer, checked to be acknowledged within Discord's 3 s."""
    result = handle.wait(timeout=15, followups=followups)
    assert result.callback_status in (200, 204), result
    assert result.ack_seconds is not None and result.ack_seconds < 3.0
    return result


def ask(fake: FakeDiscord, question: str, user: JSON | None = None, **options: object) -> InteractionResult:
    handle = fake.interact(p.slash_command("ask", {"question": question, **options}, user=user or new_user()))
    return answered(handle)


def click(fake: FakeDiscord, message: JSON, label: str, user: JSON | None = None) -> InteractionResult:
    """Press the button labelled ``label`` on a message the bot sent."""
    custom_id = button_ids(message)[label]
    return answered(fake.interact(p.message_component(custom_id, message, user=user or new_user())))


def button_ids(message: JSON) -> dict[str, str]:
    return {c["label"]: c["custom_id"] for row in message.get("components", []) for c in row.get("components", [])}


def only_embed(message: JSON) -> JSON:
    assert len(message["embeds"]) == 1, message
    embed: JSON = message["embeds"][0]
    return embed


def final(result: InteractionResult) -> JSON:
    """The message that carries the answer (the response, or the deferred one once filled)."""
    assert result.messages, result
    return result.messages[-1]


def plain(text: str) -> str:
    """Rendered markdown back to the words: no bold markers, no escapes, plain spaces."""
    return re.sub(r"\*\*|\\(?=[^\w\s])", "", text).replace("\xa0", " ")


def citations(embed: JSON) -> list[re.Match[str]]:
    texts = [embed.get("description", "")] + [f["value"] for f in embed.get("fields", [])]
    return [m for text in texts for m in CITATION.finditer(text)]


def reply_to(fake: FakeDiscord, message: JSON) -> JSON:
    """The bot's reply to this very message (replies to others may come in between)."""

    def answers(m: JSON) -> bool:
        return bool(m.get("message_reference", {}).get("message_id") == message["id"])

    return fake.wait_for_message(answers, channel_id=int(message["channel_id"]), timeout=15)


def ephemeral(message: JSON) -> bool:
    return bool(int(message.get("flags", 0)) & p.MESSAGE_FLAG_EPHEMERAL)


# ---- the shared bot ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDiscord]:
    with FakeDiscord() as server:
        yield server


@pytest.fixture(scope="module")
def bot(fake: FakeDiscord, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    proc = launch(fake, tmp_path_factory.mktemp("shared-bot"), "shared-bot")
    ready(fake, proc)
    yield proc
    stop(fake, proc)


def test_login_identify_and_command_sync_are_recorded(fake: FakeDiscord, bot: BotProcess) -> None:
    bot.wait_for_output(r"connected as fakebot.* serving index generation", timeout=15)
    assert fake.identify_count == 1
    identify = fake.gateway_records("identify")[0].data
    assert not int(identify["intents"]) & p.INTENT_MESSAGE_CONTENT, "no privileged intent"
    commands = {c["name"]: c for c in fake.commands(p.GUILD_ID)}
    assert set(commands) == {"ask", "about", "reindex", "Check in article"}
    assert all(o.get("description") for o in commands["ask"]["options"])
    assert int(commands["reindex"]["default_member_permissions"]) == p.MANAGE_GUILD
    assert commands["Check in article"]["type"] == p.COMMAND_MESSAGE


def test_ask_answers_with_the_passage_and_exact_citations(fake: FakeDiscord, bot: BotProcess) -> None:
    result = ask(fake, "How many people were killed in the 1991-94 war?")
    message = final(result)
    assert not ephemeral(message)
    embed = only_embed(message)
    assert "About 30,000 **people** were **killed** in a **1991**" in embed["description"]
    found = citations(embed)
    assert len(found) == 3
    first = found[0]
    assert ARTICLE_TEXT[int(first[3]) : int(first[4])].startswith("About 30,000 people were killed")
    for field, match in zip(embed["fields"], found[1:], strict=True):
        sentence = plain(field["value"].split("\n— ")[0].removeprefix("> "))
        assert sentence in ARTICLE_TEXT[int(match[3]) : int(match[4])].replace("\xa0", " ")
    quoted = embed["description"].split("\n— ")[0].removeprefix("> ")
    assert ARTICLE_TEXT[int(first[3]) : int(first[4])].replace("\xa0", " ") == plain(quoted)
    assert set(button_ids(message)) == {"More results", "Context"}


def test_private_ask_is_ephemeral(fake: FakeDiscord, bot: BotProcess) -> None:
    result = ask(fake, "Who brokered the ceasefire?", private=True, results=1)
    message = final(result)
    assert ephemeral(message)
    assert len(citations(only_embed(message))) == 1


def test_question_the_article_does_not_cover_gets_a_friendly_decline(fake: FakeDiscord, bot: BotProcess) -> None:
    embed = only_embed(final(ask(fake, "What is the capital of Peru?")))
    assert embed["title"] == "Not covered by the article"
    assert "Peru" in embed["description"]
    assert "What it covers" in embed["description"]


def test_over_long_question_gets_a_polite_error(fake: FakeDiscord, bot: BotProcess) -> None:
    result = ask(fake, "Why?" * 400)
    message = final(result)
    assert ephemeral(message)
    assert "1,600 characters" in message["content"] and "1,000" in message["content"]


def test_over_long_mention_gets_a_polite_reply_not_a_search(fake: FakeDiscord, bot: BotProcess) -> None:
    question = fake.user_message(f"{p.mention(p.BOT_USER)} {'ceasefire ' * 150}", new_user())
    reply = reply_to(fake, question)
    assert not reply["embeds"]
    assert "1,499 characters" in reply["content"]


def minted_ago(seconds: float) -> str:
    """An interaction id as Discord would have minted it ``seconds`` ago (ids carry their creation time)."""
    stamp = int((time.time() - seconds) * 1000) - p.DISCORD_EPOCH_MS
    return str((stamp << 22) | (p.new_snowflake() & 0x3FFFFF))


def test_an_interaction_that_arrives_old_gets_busy_at_once_and_a_dead_one_costs_nothing(
    fake: FakeDiscord, bot: BotProcess
) -> None:
    """Age from the snowflake: past 1.5 s "busy" without scoring; past the deadline no HTTP call at all."""
    ask(fake, "Who brokered the ceasefire?")  # a fresh one first: the bot sees its clock agrees with Discord's
    since = fake.request_count
    old = p.slash_command("ask", {"question": "Who brokered the ceasefire?"}, user=new_user())
    old["id"] = minted_ago(2.0)  # the middle of the "busy" band, 1.5-2.5 s
    dead = p.slash_command("ask", {"question": "Who brokered the ceasefire?"}, user=new_user())
    dead["id"] = minted_ago(3.2)
    busy = answered(fake.interact(old))
    dead_handle = fake.interact(dead)
    after = ask(fake, "What did Pompeo say?")  # handled after the dead one passed the gate
    message = final(busy)
    assert "answering a lot of questions" in message["content"] and ephemeral(message)
    assert not p.message_pings(message)
    assert only_embed(final(after))["title"], "the bot still answers fresh questions"
    assert dead_handle.result().callback_status is None
    assert not [r.path for r in fake.requests[since:] if dead["id"] in r.path or dead["token"] in r.path]


def test_cooldown_tells_the_user_privately_when_to_try_again(fake: FakeDiscord, bot: BotProcess) -> None:
    user = new_user("eager")
    for _ in range(3):
        assert only_embed(final(ask(fake, "Who brokered the ceasefire?", user=user)))
    refused = final(ask(fake, "Who brokered the ceasefire?", user=user))
    assert ephemeral(refused)
    assert re.search(r"try again in \d+ s", refused["content"])


def test_mention_is_answered_in_reply_and_everyone_is_ignored(fake: FakeDiscord, bot: BotProcess) -> None:
    everyone = fake.user_message("@everyone what happened on Monday?", new_user(), mention_everyone=True)
    here = fake.user_message("@here who shelled villages?", new_user(), mention_everyone=True)
    role = fake.user_message(f"<@&{p.BOT_ROLE_ID}> who shelled villages?", new_user())
    question = fake.user_message(f"{p.mention(p.BOT_USER)} Who shelled villages in the Terter region?", new_user())
    reply = fake.wait_for_reply(question, timeout=15)
    assert reply["message_reference"]["message_id"] == question["id"]
    assert "Armenian forces had shelled villages in the Terter" in plain(only_embed(reply)["description"])
    replies = fake.messages_in(p.CHANNEL_ID, author_id=p.BOT_USER_ID)
    referenced = {m.get("message_reference", {}).get("message_id") for m in replies}
    assert not {everyone["id"], here["id"], role["id"]} & referenced


def test_a_bare_mention_suggests_a_question_that_is_answered(fake: FakeDiscord, bot: BotProcess) -> None:
    """The example in the help works on any text: the headline and the lead answer it."""
    hint = reply_to(fake, fake.user_message(p.mention(p.BOT_USER), new_user()))
    example = re.search(r"\*(.+\?)\*", hint["content"])
    assert not hint["embeds"] and example, hint["content"]
    reply = reply_to(fake, fake.user_message(f"{p.mention(p.BOT_USER)} {example.group(1)}", new_user()))
    quoted = plain(only_embed(reply)["description"])
    assert "ceasefire in Nagorno-Karabakh was in jeopardy" in quoted or "truce between Armenia" in quoted[:80]


def test_a_mention_with_custom_emoji_and_a_timestamp_is_answered(fake: FakeDiscord, bot: BotProcess) -> None:
    text = f"{p.mention(p.BOT_USER)} when did the fighting erupt? <:thinking:987654321098765432> <t:1603670400:R>"
    reply = reply_to(fake, fake.user_message(text, new_user()))
    assert "Sept. 27" in only_embed(reply)["description"]


def test_mention_with_nickname_syntax_in_a_thread_is_answered(fake: FakeDiscord, bot: BotProcess) -> None:
    question = fake.user_message(f"<@!{p.BOT_USER_ID}> When did the fighting erupt?", new_user(), thread=True)
    reply = reply_to(fake, question)
    assert int(reply["channel_id"]) == p.THREAD_ID
    assert "Sept. 27" in only_embed(reply)["description"]


def test_direct_message_is_answered(fake: FakeDiscord, bot: BotProcess) -> None:
    user = new_user("dm")
    question = fake.user_message("Who congratulated Pashinyan and Aliyev?", user, guild=False)
    reply = reply_to(fake, question)
    assert int(reply["channel_id"]) == p.dm_channel_id(int(user["id"]))
    assert "Congratulations" in only_embed(reply)["description"]


def test_mention_spam_gets_one_cooldown_notice(fake: FakeDiscord, bot: BotProcess) -> None:
    user = new_user("spammer")
    asked = [fake.user_message(f"{p.mention(p.BOT_USER)} who is Pashinyan?", user) for _ in range(5)]
    replies = [reply_to(fake, message) for message in asked[:4]]
    assert [bool(r["embeds"]) for r in replies] == [True, True, True, False]
    assert re.search(r"try again in \d+ s", replies[3]["content"])
    barrier = fake.user_message(f"{p.mention(p.BOT_USER)} who is Aliyev?", new_user())
    reply_to(fake, barrier)  # handled after the fifth, which returns without awaiting anything
    referenced = {m.get("message_reference", {}).get("message_id") for m in fake.messages_in(p.CHANNEL_ID)}
    assert asked[4]["id"] not in referenced


def test_context_menu_answers_privately_and_share_posts_publicly(fake: FakeDiscord, bot: BotProcess) -> None:
    target = fake.user_message("Turkey wants goal-oriented talks, apparently", new_user("poster"))
    checker = new_user("checker")
    result = answered(fake.interact(p.message_context_menu("Check in article", target, user=checker)))
    private = final(result)
    assert ephemeral(private)
    assert "Turkey calls for 'goal-oriented talks'" in plain(only_embed(private)["description"])
    assert "Share in channel" in button_ids(private)
    shared = final(click(fake, private, "Share in channel", user=checker))
    assert not ephemeral(shared)
    assert only_embed(shared)["description"] == only_embed(private)["description"]
    assert shared["content"].startswith("Shared by")
    assert set(button_ids(shared)) == {"More results", "Context"}


def test_more_results_shows_the_next_passages_with_citations(fake: FakeDiscord, bot: BotProcess) -> None:
    first = final(ask(fake, "Who brokered the ceasefire?"))
    more = final(click(fake, first, "More results"))
    assert ephemeral(more)
    embed = only_embed(more)
    assert embed["title"] == "More results (4–6)"
    seen = {(m[3], m[4]) for m in citations(only_embed(first))}
    fresh = {(m[3], m[4]) for m in citations(embed)}
    assert fresh and not seen & fresh


def test_context_shows_the_paragraphs_around_the_cited_one(fake: FakeDiscord, bot: BotProcess) -> None:
    first = final(ask(fake, "How many people were killed in the 1991-94 war?"))
    context = only_embed(final(click(fake, first, "Context")))
    assert context["description"].count("(cited)") == 1
    assert "About 30,000 people" in plain(context["description"])
    assert "Pashinyan, the Armenian prime minister" in plain(context["description"])


def test_about_lists_the_article_and_passage_count(fake: FakeDiscord, bot: BotProcess) -> None:
    result = answered(fake.interact(p.slash_command("about", user=new_user())))
    embed = only_embed(final(result))
    assert "passages from **1** document" in embed["description"]
    assert embed["fields"][0]["name"].startswith("U.S.\\-backed truce")


def test_reindex_is_refused_for_a_member(fake: FakeDiscord, bot: BotProcess) -> None:
    attachment = fake.attachment("takeover.txt", "Nothing to see here.")
    result = answered(fake.interact(p.slash_command("reindex", {"file": attachment}, user=p.MEMBER)))
    message = final(result)
    assert ephemeral(message)
    assert "Manage Server" in message["content"]
    assert not any(r.path.endswith("takeover.txt") for r in fake.requests), "the attachment was never fetched"


def test_rate_limit_429_is_waited_out_and_retried(fake: FakeDiscord, bot: BotProcess) -> None:
    since = fake.request_count
    injection = fake.rate_limit_next("POST", rf"^/channels/{p.CHANNEL_ID}/messages$", retry_after=0.6)
    question = fake.user_message(f"{p.mention(p.BOT_USER)} How many Azeri civilians were killed?", new_user())
    reply = reply_to(fake, question)
    assert "Azerbaijan says 65 Azeri civilians" in plain(only_embed(reply)["description"])
    # A request is logged once answered, which can be just after its message shows up: wait for both.
    posts = fake.wait_for_requests(route("POST", rf"^/channels/{p.CHANNEL_ID}/messages$"), 2, since=since)
    assert injection.hits == 1 and [r.status for r in posts] == [429, 200]
    assert posts[1].at - posts[0].at >= 0.5


def test_dropped_gateway_connection_is_resumed(fake: FakeDiscord, bot: BotProcess) -> None:
    since = fake.gateway_count
    assert fake.drop_gateway() == 1
    fake.wait_resumed(timeout=20, since=since)
    question = fake.user_message(f"{p.mention(p.BOT_USER)} Who is Hami Aksoy?", new_user())
    assert "Aksoy" in plain(only_embed(reply_to(fake, question))["description"])
    assert fake.identify_count == 1, "resumed, not re-identified"


def test_every_message_the_bot_sent_allows_no_mentions(fake: FakeDiscord, bot: BotProcess) -> None:
    bodies = fake.sent_bodies()
    assert len(bodies) >= 15
    assert [b.get("allowed_mentions") for b in bodies] == [NO_PINGS] * len(bodies)
    stored = fake.messages_in(p.CHANNEL_ID, author_id=p.BOT_USER_ID)
    assert not any(p.message_pings(m) for m in stored)


def test_no_token_in_the_logs(fake: FakeDiscord, bot: BotProcess) -> None:
    output = bot.output()
    assert fake.token not in output
    interaction_tokens = [r.path.split("/")[3] for r in fake.requests if r.path.startswith("/interactions/")]
    assert interaction_tokens and not any(t in output for t in interaction_tokens)


# ---- bots of their own: reindexing, restarts, signals, login failures ----------------------------


@pytest.fixture(scope="module")
def reindex_bot(fake: FakeDiscord, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReindexBot]:
    """A second bot whose index the tests below change (they run in file order)."""
    workdir = tmp_path_factory.mktemp("reindex-bot")
    since_gateway, since_request = fake.gateway_count, fake.request_count
    proc = launch(fake, workdir, "reindex-bot")
    ready(fake, proc, since_gateway, since_request)
    yield ReindexBot(proc, workdir / "index")
    stop(fake, proc)


@dataclass(frozen=True)
class ReindexBot:
    proc: BotProcess
    index_dir: Path


def reindex(fake: FakeDiscord, user: JSON, **options: object) -> JSON:
    """Run /reindex and return the message that finally answers it."""
    return final(answered(fake.interact(p.slash_command("reindex", options, user=user))))


def test_reindex_refuses_a_file_that_is_not_text(fake: FakeDiscord, reindex_bot: ReindexBot) -> None:
    attachment = fake.attachment("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00binary", content_type="image/png")
    message = reindex(fake, p.MODERATOR, file=attachment)
    assert ephemeral(message)
    assert "binary" in message["content"]
    assert not (reindex_bot.index_dir / "uploads" / "photo.txt").exists()


def test_moderator_reindexes_from_an_attachment_and_the_next_ask_uses_it(
    fake: FakeDiscord, reindex_bot: ReindexBot
) -> None:
    attachment = fake.attachment("Light house (v2).TXT", LIGHTHOUSE)
    message = reindex(fake, p.MODERATOR, file=attachment)
    assert ephemeral(message)
    summary = only_embed(message)
    assert summary["title"] == "Reindexed"
    assert "**Added:** Light\\_house\\_v2.txt" in summary["description"]
    assert "**Removed:** article.txt" in summary["description"]
    saved = reindex_bot.index_dir / "uploads" / "Light_house_v2.txt"
    assert saved.read_text(encoding="utf-8") == LIGHTHOUSE
    embed = only_embed(final(ask(fake, "How many keepers took part in the vote?")))
    first = citations(embed)[0]
    assert "About 120 keepers took part." in LIGHTHOUSE[int(first[3]) : int(first[4])]
    assert "About 120 **keepers** **took** **part**" in embed["description"]


def test_reindex_without_a_file_rereads_the_configured_sources(fake: FakeDiscord, reindex_bot: ReindexBot) -> None:
    summary = only_embed(reindex(fake, p.MODERATOR))
    assert summary["title"] == "Reindexed"
    assert "article.txt" in summary["description"]
    embed = only_embed(final(ask(fake, "How many people were killed in the 1991-94 war?")))
    assert "About 30,000" in plain(embed["description"])


def test_reindex_is_refused_in_direct_messages(fake: FakeDiscord, reindex_bot: ReindexBot) -> None:
    handle = fake.interact(p.slash_command("reindex", user=p.MODERATOR, guild=False), allow_unregistered=True)
    message = final(answered(handle))
    assert "server" in message["content"]


def test_a_reindex_from_the_cli_is_picked_up_without_a_restart(
    fake: FakeDiscord, reindex_bot: ReindexBot, tmp_path: Path
) -> None:
    source = tmp_path / "lighthouse.md"
    source.write_text(LIGHTHOUSE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    cli = [*RUN_BOT, "reindex", str(source), "--index", str(reindex_bot.index_dir)]
    subprocess.run(cli, env=env, cwd=tmp_path, check=True, capture_output=True, timeout=60)
    reindex_bot.proc.wait_for_output(r"now serving index generation", timeout=15)
    embed = only_embed(final(ask(fake, "Who leads the keepers' union?")))
    assert "Mara Quill" in plain(embed["description"])


def test_buttons_keep_working_after_the_bot_restarts(fake: FakeDiscord, tmp_path: Path) -> None:
    first_bot = launch(fake, tmp_path, "before-restart")
    ready(fake, first_bot, fake.gateway_count, fake.request_count)
    answer = final(ask(fake, "Who brokered the ceasefire?"))
    began = time.monotonic()
    assert first_bot.terminate(timeout=10) == 0
    assert time.monotonic() - began < 6.0, "SIGTERM shuts down within the bound"
    fake.unwatch(first_bot)
    second_bot = launch(fake, tmp_path, "after-restart", INDEX_DIR=str(tmp_path / "index"))
    try:
        ready(fake, second_bot, fake.gateway_count, fake.request_count)
        assert only_embed(final(click(fake, answer, "More results")))["title"] == "More results (4–6)"
        assert "(cited)" in only_embed(final(click(fake, answer, "Context")))["description"]
    finally:
        stop(fake, second_bot)


def test_sigterm_closes_the_gateway_cleanly_and_exits_zero(fake: FakeDiscord, tmp_path: Path) -> None:
    proc = launch(fake, tmp_path, "sigterm")
    since = fake.gateway_count
    ready(fake, proc, since, fake.request_count)
    began = time.monotonic()
    assert proc.terminate(timeout=10) == 0
    assert time.monotonic() - began < 6.0
    fake.unwatch(proc)
    assert [g.kind for g in fake.gateway_log[since:] if g.kind in ("close", "drop")] == ["close"]
    assert "stopped" in proc.stderr()


def test_a_rejected_token_exits_non_zero_without_retrying(fake: FakeDiscord, tmp_path: Path) -> None:
    since = fake.request_count
    proc = launch(fake, tmp_path, "bad-token", DISCORD_TOKEN="fake-token")
    fake.unwatch(proc)
    assert proc.proc.wait(timeout=30) == 2
    logins = [r for r in fake.requests[since:] if route("GET", r"^/users/@me$")(r)]
    assert len(logins) == 1, "a bad token is never retried"
    assert "rejected the token" in proc.stderr()
    assert "fake-token" not in proc.output()


def test_unreachable_discord_is_retried_with_growing_delays(fake: FakeDiscord, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    proc = launch(fake, tmp_path, "unreachable", FAKE_DISCORD_URL=f"http://127.0.0.1:{closed_port}")
    fake.unwatch(proc)
    proc.wait_for_output(r"retrying in [\d.]+ s(?s:.*)retrying in [\d.]+ s", timeout=20)
    delays = [float(d) for d in re.findall(r"retrying in ([\d.]+) s", proc.stderr())]
    assert 1.0 <= delays[0] <= 2.0 and 2.0 <= delays[1] <= 4.0
    assert proc.terminate(timeout=10) == 0, "a signal during the back-off wait stops it cleanly"
