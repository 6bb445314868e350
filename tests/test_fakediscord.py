"""The fake Discord, tested against a real discord.py bot (tests/fakediscord/echo_bot.py).

Most tests share one fake and one bot (module scope) to keep the suite fast; each looks
only at what happened after it started (``since`` indexes, ``after`` messages). The
function-scoped fixtures are exercised by the shard, SIGTERM and crash tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import discord
import pytest

from tests.fakediscord import BotDied, BotProcess, FakeDiscord, UnknownCommand, route
from tests.fakediscord import payloads as p

pytest_plugins = ["tests.fakediscord.fixtures"]
StartBot = Callable[..., BotProcess]

ECHO_BOT = (sys.executable, str(Path(__file__).resolve().parent / "fakediscord" / "echo_bot.py"))
ECHO_ENV = {"ECHO_GUILD_ID": str(p.GUILD_ID)}
SEND = route("POST", r"^/channels/\d+/messages$")
COMMANDS = {"ping", "echo", "slow", "button", "shout", "whoami", "Quote"}


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeDiscord]:
    """One fake for the module, with the echo bot logged in and ready."""
    logs = tmp_path_factory.mktemp("echo-bot")
    with FakeDiscord() as server:
        bot = BotProcess(ECHO_BOT, env=server.env(**ECHO_ENV), cwd=logs, log_dir=logs, on_exit=server.notify)
        bot.start()
        server.watch(bot)
        try:
            server.wait_ready(15)
            yield server
        finally:
            server.unwatch(bot)
            bot.stop()


def _http(fake: FakeDiscord, method: str, path: str, token: str | None) -> tuple[int, str, object]:
    """A raw request to the fake: status, Content-Type, parsed body."""
    request = urllib.request.Request(fake.api_url + path, method=method)
    if token is not None:
        request.add_header("Authorization", f"Bot {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers["Content-Type"], json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers["Content-Type"], json.loads(exc.read())


@pytest.mark.timeout(30)
def test_sitecustomize_redirects_discord_and_guards_the_network(fake: FakeDiscord) -> None:
    """Patched lazily on import: REST base, default gateway, CDN; non-loopback refused."""
    probe = (
        "import socket, discord\n"
        "from discord.http import Route, _set_api_version\n"
        "from discord.gateway import DiscordWebSocket\n"
        "from discord.asset import Asset\n"
        "print(Route.BASE); print(DiscordWebSocket.DEFAULT_GATEWAY); print(Asset.BASE)\n"
        "_set_api_version(9); print(Route.BASE)\n"
        "for attempt in (lambda: socket.getaddrinfo('discord.com', 443),\n"
        "                lambda: socket.socket().connect(('162.159.128.233', 443))):\n"
        "    try:\n        attempt()\n    except OSError as e:\n        print('network guard' in str(e))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=fake.env(), capture_output=True, text=True, timeout=20, check=True
    )
    lines = done.stdout.splitlines()
    assert lines[:4] == [fake.api_url, fake.gateway_url, fake.url, fake.url + "/api/v9"]
    assert lines[4:] == ["True", "True"]
    plain = subprocess.run(
        [sys.executable, "-c", "from discord.http import Route; print(Route.BASE)"],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    assert plain.stdout.strip() == "https://discord.com/api/v10"


@pytest.mark.timeout(30)
def test_login_identify_and_command_sync_are_recorded(fake: FakeDiscord) -> None:
    me = fake.wait_for_request(route("GET", "^/users/@me$"))
    assert me.headers["Authorization"] == f"Bot {fake.token}"
    fake.wait_for_request(route("GET", "^/oauth2/applications/@me$"))
    sync = fake.wait_for_request(route("PUT", rf"^/applications/{p.APPLICATION_ID}/guilds/{p.GUILD_ID}/commands$"))
    assert sync.status == 200
    assert {c["name"] for c in sync.json} == COMMANDS
    assert {c["name"] for c in fake.commands(p.GUILD_ID)} == COMMANDS
    assert {c["name"] for c in fake.commands()} == COMMANDS
    assert next(c for c in fake.commands() if c["name"] == "Quote")["type"] == p.COMMAND_MESSAGE
    identify = fake.gateway_records("identify")[0]
    assert identify.data["intents"] == discord.Intents.default().value
    assert identify.shard == (0, 1) and "shard" not in identify.data
    connect = fake.gateway_records("connect")[0]
    assert connect.data["query"] == {"v": "10", "encoding": "json", "compress": "zlib-stream"}
    assert fake.gateway_records("heartbeat"), "discord.py heartbeats right after HELLO"
    assert fake.unknown_requests == []


@pytest.mark.timeout(30)
def test_ping_defers_then_follows_up(fake: FakeDiscord) -> None:
    since = fake.request_count
    result = fake.interact(p.slash_command("ping")).wait()
    assert (result.callback_type, result.callback_status) == (p.CALLBACK_DEFERRED_CHANNEL_MESSAGE, 200)
    assert result.ack_seconds is not None and result.ack_seconds < 3
    assert [m["content"] for m in result.followups] == ["pong"]
    assert result.loading, "a follow-up does not resolve the thinking message; editing @original does"
    callback = fake.wait_for_request(route("POST", "/callback$"), since=since)
    assert callback.query == {"with_response": "1"}
    assert {"interaction", "resource"} <= set(callback.response)


@pytest.mark.timeout(30)
def test_echo_answers_at_once_without_pinging(fake: FakeDiscord) -> None:
    text = f"@everyone {p.mention(p.MODERATOR)} <@&{p.MODERATOR_ROLE_ID}>"
    result = fake.interact(p.slash_command("echo", {"text": text}, user=p.MODERATOR)).wait()
    assert result.callback_type == p.CALLBACK_CHANNEL_MESSAGE
    assert result.original is not None and result.original["content"] == text
    assert not p.message_pings(result.original)
    assert result.original in fake.messages_in(p.CHANNEL_ID)


@pytest.mark.timeout(30)
def test_fake_rejects_what_discord_rejects(fake: FakeDiscord) -> None:
    """Over-long content gets 400 50035; unregistered commands cannot be invoked."""
    result = fake.interact(p.slash_command("echo", {"text": "x" * 2001})).wait()
    assert result.callback_status == 400
    rejected = fake.wait_for_request(lambda r: r.path.endswith("/callback") and r.status == 400)
    assert rejected.response["code"] == 50035 and "content" in rejected.response["errors"]["data"]
    with pytest.raises(UnknownCommand):
        fake.interact(p.slash_command("nosuch"))
    with pytest.raises(UnknownCommand):
        fake.interact(p.slash_command("echo", {"txt": "typo"}))
    presence = {"guild_id": str(p.GUILD_ID), "user": {"id": str(p.MEMBER_ID)}, "status": "online"}
    assert fake.dispatch("PRESENCE_UPDATE", presence) is None, "default intents exclude presences"


@pytest.mark.timeout(30)
def test_mention_gets_a_reply_and_plain_chatter_does_not(fake: FakeDiscord) -> None:
    chatter = fake.user_message("just chatting")
    asked = fake.user_message(f"{p.mention(p.BOT_USER)} hello there")
    reply = fake.wait_for_reply(asked)
    assert reply["content"] == "echo: @Fake Bot hello there"
    assert reply["message_reference"]["message_id"] == asked["id"]
    assert not p.message_pings(reply)
    assert fake.wait_for_request(route("POST", rf"^/channels/{p.CHANNEL_ID}/typing$"))
    reacted = fake.wait_for_request(route("PUT", rf"/messages/{asked['id']}/reactions/"))
    assert reacted.path.endswith("/reactions/\N{EYES}/@me") and reacted.status == 204
    stored = fake.message(asked["id"])
    assert stored is not None and stored["reactions"][0]["emoji"]["name"] == "\N{EYES}"
    later = [m for m in fake.messages_in(p.CHANNEL_ID, author_id=p.BOT_USER_ID) if int(m["id"]) > int(chatter["id"])]
    assert later == [reply]


@pytest.mark.timeout(30)
def test_rate_limited_requests_are_retried(fake: FakeDiscord) -> None:
    since = fake.request_count
    limited = fake.rate_limit_next("POST", r"^/channels/\d+/messages$", retry_after=0.3)
    hook = fake.rate_limit_next("POST", r"^/webhooks/\d+/[^/]+$", retry_after=0.2)
    asked = fake.user_message(f"{p.mention(p.BOT_USER)} again")
    assert fake.wait_for_reply(asked)["content"].startswith("echo:")
    first, second = fake.wait_for_requests(SEND, 2, since=since)
    assert (first.status, second.status) == (429, 200)
    assert first.response["retry_after"] == 0.3
    assert second.at - first.at >= 0.3
    result = fake.interact(p.slash_command("ping")).wait()
    assert [m["content"] for m in result.followups] == ["pong"]
    assert (limited.hits, hook.hits) == (1, 1)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("code", [None, 4000], ids=["abrupt", "close-4000"])
def test_dropped_gateway_is_resumed_and_missed_events_replayed(fake: FakeDiscord, code: int | None) -> None:
    since = fake.gateway_count
    identifies = fake.identify_count
    assert fake.drop_gateway(code) == 1
    asked = fake.user_message(f"{p.mention(p.BOT_USER)} are you back?")  # buffered until RESUME
    resume = fake.wait_for_gateway("resume", since=since)
    assert resume.data["path"] == "/resume-gateway"
    fake.wait_resumed(since=since)
    assert fake.wait_for_reply(asked)["content"] == "echo: @Fake Bot are you back?"
    assert fake.interact(p.slash_command("echo", {"text": "still here"})).wait().contents == ["still here"]
    assert fake.identify_count == identifies


@pytest.mark.timeout(30)
def test_reconnect_request_is_resumed(fake: FakeDiscord) -> None:
    since = fake.gateway_count
    assert fake.reconnect_gateway() == 1
    fake.wait_resumed(since=since)
    assert fake.interact(p.slash_command("echo", {"text": "after op 7"})).wait().contents == ["after op 7"]


@pytest.mark.timeout(30)
def test_attachment_option_is_downloaded_and_file_reply_uploaded(fake: FakeDiscord) -> None:
    since = fake.request_count
    notes = fake.attachment("notes.txt", "quiet words")
    result = fake.interact(p.slash_command("shout", {"file": notes})).wait()
    assert result.callback_status == 200 and result.contents == ["notes.txt: 11 bytes"]
    download = fake.wait_for_request(route("GET", r"^/attachments/"), since=since)
    assert download.status == 200
    callback = fake.wait_for_request(route("POST", "/callback$"), since=since)
    assert callback.json["type"] == p.CALLBACK_CHANNEL_MESSAGE
    assert [part.name for part in callback.parts] == ["payload_json", "files[0]"]
    assert callback.files[0].data == b"QUIET WORDS"
    assert result.original is not None
    uploaded = result.original["attachments"][0]
    assert uploaded["filename"] == "loud-notes.txt"
    with urllib.request.urlopen(uploaded["url"], timeout=5) as response:
        assert response.read() == b"QUIET WORDS"


@pytest.mark.timeout(30)
def test_guild_member_and_dm_views(fake: FakeDiscord) -> None:
    """GUILD_CREATE and interaction members parse into the guild, roles and permissions."""
    mod = fake.interact(p.slash_command("whoami", user=p.MODERATOR)).wait()
    assert mod.ephemeral and mod.contents == [
        f"guild=Fake Guild owner={p.OWNER_ID} channels=2 threads=1 roles=@everyone,Moderator,fakebot "
        "user=moderator manage_guild=True"
    ]
    member = fake.interact(p.slash_command("whoami", user=p.MEMBER)).wait()
    assert member.contents[0].endswith("user=member manage_guild=False")
    dm = fake.interact(p.slash_command("whoami", guild=False)).wait()
    assert dm.contents == ["dm user=member"]
    assert dm.original is not None and dm.original["channel_id"] == str(p.dm_channel_id(p.MEMBER_ID))
    in_thread = fake.interact(p.slash_command("echo", {"text": "threaded"}, channel_id=p.THREAD_ID)).wait()
    assert in_thread.original is not None and in_thread.original["channel_id"] == str(p.THREAD_ID)


@pytest.mark.timeout(30)
def test_message_context_menu_gets_its_target(fake: FakeDiscord) -> None:
    target = fake.user_message("a quotable line", author=p.OWNER)
    result = fake.interact(p.message_context_menu("Quote", target)).wait()
    assert result.contents == ["> a quotable line"]


@pytest.mark.timeout(30)
def test_button_click_updates_the_message(fake: FakeDiscord) -> None:
    posted = fake.interact(p.slash_command("button")).wait().original
    assert posted is not None and posted["components"]
    click = fake.interact(p.message_component("echo:press", posted, user=p.MODERATOR)).wait()
    assert click.callback_type == p.CALLBACK_UPDATE_MESSAGE
    updated = fake.message(posted["id"])
    assert updated is not None and updated["content"] == "pressed by moderator"
    assert updated["components"] == [] and updated["edited_timestamp"]


@pytest.mark.timeout(30)
def test_late_acknowledgement_gets_unknown_interaction(fake: FakeDiscord) -> None:
    fake.interaction_deadline = 0.2
    try:
        result = fake.interact(p.slash_command("slow", {"seconds": 0.4})).wait()
    finally:
        fake.interaction_deadline = 3.0
    assert result.callback_status == 404
    assert result.ack_seconds is not None and result.ack_seconds > 0.2


@pytest.mark.timeout(30)
def test_unknown_routes_and_bad_tokens_answer_like_discord(fake: FakeDiscord) -> None:
    assert _http(fake, "GET", "/no/such/route", fake.token) == (
        404,
        "application/json",
        {"message": "Unknown", "code": 0},
    )
    assert fake.unknown_requests[-1].route == "GET /no/such/route"
    status, ctype, body = _http(fake, "GET", "/users/@me", "wrong")
    assert (status, ctype, body) == (401, "application/json", {"message": "401: Unauthorized", "code": 0})
    attachment = fake.attachment("notes.txt", "hello")
    with urllib.request.urlopen(attachment["url"], timeout=5) as response:
        assert response.read() == b"hello"


def test_payload_builders_match_discord_shapes() -> None:
    guild = p.slash_command("echo", {"text": "hi", "n": 2, "x": 1.5, "flag": True}, user=p.MODERATOR)
    assert int(guild["member"]["permissions"]) & p.MANAGE_GUILD
    assert [o["type"] for o in guild["data"]["options"]] == [3, 4, 10, 5]
    assert "user" not in guild and guild["guild_id"] == str(p.GUILD_ID)
    dm = p.slash_command("echo", {"text": "hi"}, guild=False)
    assert "guild_id" not in dm and "member" not in dm and dm["user"]["id"] == str(p.MEMBER_ID)
    assert dm["channel"]["type"] == 1 and dm["context"] == 1
    assert not int(p.slash_command("echo", user=p.MEMBER)["member"]["permissions"]) & p.MANAGE_GUILD
    sub = p.slash_command("admin reindex", {"force": True})
    assert sub["data"]["options"][0] == {
        "name": "reindex",
        "type": 1,
        "options": [{"name": "force", "type": 5, "value": True}],
    }
    assert len({p.slash_command("ping")["token"] for _ in range(50)}) == 50
    att = p.attachment("a.txt", "http://127.0.0.1/a.txt", size=3)
    with_file = p.slash_command("reindex", {"file": att})
    assert with_file["data"]["resolved"]["attachments"][att["id"]] == att
    msg = p.message_create(f"{p.mention(p.BOT_USER)} hi", thread=True)
    assert msg["channel_id"] == str(p.THREAD_ID) and msg["mentions"][0]["id"] == str(p.BOT_USER_ID)
    assert "guild_id" not in p.message_create("hi", guild=False)
    menu = p.message_context_menu("Ask", msg)
    assert menu["data"]["target_id"] == msg["id"] and menu["data"]["type"] == p.COMMAND_MESSAGE


@pytest.mark.timeout(30)
@pytest.mark.parametrize("fake_discord", [{"shards": 2}], indirect=True)
def test_sharded_bot_gets_one_session_per_shard(fake_discord: FakeDiscord, start_bot: StartBot) -> None:
    start_bot(ECHO_BOT, env={**ECHO_ENV, "ECHO_SHARDS": "1"})
    assert fake_discord.wait_ready(15, shards=2) == [(0, 2), (1, 2)]
    fake_discord.wait_for_request(route("GET", "^/gateway/bot$"))
    assert sorted(tuple(g.data["shard"]) for g in fake_discord.gateway_records("identify")) == [(0, 2), (1, 2)]
    assert fake_discord.interact(p.slash_command("echo", {"text": "sharded"})).wait().contents == ["sharded"]
    dm = fake_discord.user_message(f"{p.mention(p.BOT_USER)} in a DM", guild=False)
    assert fake_discord.wait_for_reply(dm)["channel_id"] == str(p.dm_channel_id(p.MEMBER_ID))


@pytest.mark.timeout(30)
def test_sigterm_closes_the_gateway_cleanly(fake_discord: FakeDiscord, start_bot: StartBot) -> None:
    """The fake records how the client closed the gateway.

    discord.py 2.7.1 on aiohttp 3.14 closes with 4000, not the 1000 ``Client.close`` asks
    for: aiohttp first wakes the reader blocked in ``poll_event``, whose handler closes the
    socket with 4000 before ``close(code=1000)`` gets to send its frame.
    """
    bot = start_bot(ECHO_BOT, env=ECHO_ENV)
    fake_discord.wait_ready(15)
    started = time.monotonic()
    assert bot.terminate(timeout=10) == 0
    assert time.monotonic() - started < 10
    close = fake_discord.wait_for_gateway("close")
    assert close.data["code"] in (1000, 4000)


@pytest.mark.timeout(30)
def test_waits_fail_fast_when_the_bot_dies(fake_discord: FakeDiscord, start_bot: StartBot) -> None:
    start_bot([sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"])
    started = time.monotonic()
    with pytest.raises(BotDied, match="exited with 3"):
        fake_discord.wait_ready(15)
    assert time.monotonic() - started < 5
