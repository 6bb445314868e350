"""A2/A3 mentions (promise 3): a hostile article and hostile questions, end to end: nothing can ping.

The bot (a subprocess) serves an article full of mention and markdown syntax; questions come by
/ask, by mention and by DM, some made of mention syntax themselves, and a moderator reindexes
from an attachment whose name and text are hostile too. Every body the bot sends must carry
``allowed_mentions == {"parse": []}``, no stored message may notify anyone (the fake computes
that as Discord does, from content and ``allowed_mentions``), and, as defence in depth, no
markdown text the bot wrote contains a live ``@everyone``, ``@here`` or role/user mention.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakediscord import FakeDiscord
from tests.fakediscord import payloads as p

from .support import running_bot

HOSTILE_ARTICLE = (
    "@everyone Harbour council <@&1200000000000000300> approves ferry timetable\n"
    "\n"
    "Posted: May 2, 2024\n"
    "\n"
    "The harbour council @here approved a new ferry timetable on Monday, <@1200000000000000400> said, "
    "after a debate about the winter crossings to Kestrel Island. Councillor [Ines "
    "Varga](https://evil.example/login) said the early boat would leave at six o'clock from the north "
    "pier @everyone.\n"
    "\n"
    "Fares will rise by ten percent in September ```to pay for``` a second engine on the ferry Marigold "
    "||spoiler|| \u202eevil\u202c and <@&1200000000000000300> pensioners travel free. # heading -# "
    "subtext </ask:1> <t:0:R>\n"
    "\n"
    "Fishermen @everyone complained that the north pier is crowded; the harbour master "
    "<@!1200000000000000400> promised a separate berth @here.\n"
)
LIVE_MENTION = re.compile(r"(?<![\\\u200b])@(everyone|here)|<@[!&]?\d+>")
NO_PINGS = {"parse": []}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDiscord]:
    with FakeDiscord() as server:
        yield server


def _markdown_texts(body: dict[str, Any]) -> list[str]:
    texts = [body.get("content") or ""]
    for embed in body.get("embeds") or []:
        texts += [embed.get("title") or "", embed.get("description") or ""]
        texts += [(f.get("name") or "") + "\n" + (f.get("value") or "") for f in embed.get("fields") or []]
    return texts


def test_hostile_article_and_questions_never_ping(fake: FakeDiscord, tmp_path: Path) -> None:
    article = tmp_path / "harbour.txt"
    article.write_text(HOSTILE_ARTICLE, encoding="utf-8")
    with running_bot(fake, tmp_path, "hostile", [article], COOLDOWN_RATE="100"):
        since = fake.request_count
        questions = [
            "When does the early boat leave the north pier?",
            "What did the fishermen complain about?",
            "@everyone who approved the timetable? <@&1200000000000000300>",
            "<@1200000000000000400> @here what is Ines Varga's [link](https://evil.example)?",
            "What about @everyone?",
        ]
        for n, question in enumerate(questions):
            asker = p.user(p.new_snowflake(), f"asker{n}")
            result = fake.interact(p.slash_command("ask", {"question": question}, user=asker)).wait(timeout=20)
            assert result.callback_status in (200, 204)
        mention = fake.user_message(
            f"{p.mention(p.BOT_USER)} @everyone who promised a berth?", p.user(p.new_snowflake(), "mentioner")
        )
        fake.wait_for_reply(mention, timeout=20)
        upload = fake.attachment("@everyone <@&1>.txt", HOSTILE_ARTICLE.replace("Harbour", "@here Harbour").encode())
        result = fake.interact(p.slash_command("reindex", {"file": upload}, user=p.MODERATOR)).wait(timeout=30)
        assert result.callback_status in (200, 204)
        after = fake.interact(
            p.slash_command(
                "ask", {"question": "Who promised a separate berth?"}, user=p.user(p.new_snowflake(), "late")
            )
        ).wait(timeout=20)
        assert after.callback_status in (200, 204)
    bodies = fake.sent_bodies(since)
    assert len(bodies) >= len(questions) + 2
    assert [b.get("allowed_mentions") for b in bodies] == [NO_PINGS] * len(bodies)
    stored = fake.messages_in(p.CHANNEL_ID, author_id=p.BOT_USER_ID)
    assert stored and not any(p.message_pings(m) for m in stored)
    live = [m.group(0) for b in bodies for text in _markdown_texts(b) for m in LIVE_MENTION.finditer(text)]
    assert live == [], f"unescaped mention syntax in what the bot wrote: {live[:10]}"
