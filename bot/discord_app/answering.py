"""Answers and their buttons: the flow from a question to a reply, and the clicks that follow.

The buttons are ``DynamicItem``s: their custom ids carry what a click needs (the next rank, the
passage's document checksum and character offset, a fingerprint of the question, which is read
back from the answer's footer), so they keep working after the bot restarts. Custom ids stay far
below Discord's 100-character limit.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import discord

from index import Answer, Citation, Document, Engine, Passage
from index.errors import EngineError

from . import render
from .escape import question_hash
from .flows import (
    BUSY,
    NO_MENTIONS,
    RESTARTING,
    Page,
    acked,
    admit_interaction,
    clean_question,
    cooldown_text,
    engine_error_text,
    gate,
    interaction_key,
    off_loop,
    question_problem,
    refuse,
    reply,
)
from .pressure import CooldownKey
from .state import AppState, state_of

log = logging.getLogger(__name__)

MAX_RANK = 25  # "More results" stops offering further pages here
CUSTOM_ID_MAX = 100
STALE_QUESTION = "I can't recover the question this answer was for; please ask it again."
STALE_PASSAGE = "That passage is no longer in the index (it was rebuilt since); please ask again."
NOTHING_TO_SHARE = "There is no answer on that message to share."


@dataclass(frozen=True, slots=True)
class Reply:
    """A rendered answer: its one embed and its buttons (None when there are none)."""

    embed: discord.Embed
    view: discord.ui.View | None


class MoreResults(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"ca:more:(?P<offset>[0-9]{1,2}):(?P<size>[1-5]):(?P<qhash>[0-9a-f]{10})",
):
    """ "More results": the next ``size`` passages after rank ``offset`` for the same question."""

    def __init__(self, offset: int, size: int, qhash: str) -> None:
        custom_id = f"ca:more:{offset}:{size}:{qhash}"
        super().__init__(
            discord.ui.Button(label="More results", style=discord.ButtonStyle.secondary, custom_id=custom_id)
        )
        self.offset, self.size, self.qhash = offset, size, qhash

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> MoreResults:
        """Rebuild the button from a click (also after a restart)."""
        return cls(int(match["offset"]), int(match["size"]), match["qhash"])

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """Buttons pass the same entry gate as commands (shed when old, refused while restarting)."""
        return await gate(interaction)

    async def callback(self, interaction: discord.Interaction) -> None:
        """Read the question back from the answer's footer and show the next page privately."""
        question = question_of(interaction.message)
        if question is None or question_hash(question) != self.qhash:
            log.info("More results on message %s: question not recoverable", getattr(interaction.message, "id", "?"))
            await reply(interaction, content=STALE_QUESTION)
            return
        await answer_interaction(interaction, question, Page(self.offset, self.size), ephemeral=True)


class ShowContext(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"ca:ctx:(?P<sha>[0-9a-f]{12}):(?P<start>[0-9]{1,10}):(?P<pid>[0-9]{1,9})",
):
    """ "Context": the paragraphs around a passage named by document checksum and start offset."""

    def __init__(self, sha: str, start: int, pid: int) -> None:
        custom_id = f"ca:ctx:{sha}:{start}:{pid}"
        super().__init__(discord.ui.Button(label="Context", style=discord.ButtonStyle.secondary, custom_id=custom_id))
        self.sha, self.start, self.pid = sha, start, pid

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ShowContext:
        """Rebuild the button from a click (also after a restart)."""
        return cls(match["sha"], int(match["start"]), int(match["pid"]))

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """Buttons pass the same entry gate as commands (shed when old, refused while restarting)."""
        return await gate(interaction)

    async def callback(self, interaction: discord.Interaction) -> None:
        """Find the passage in the current index and show it with its neighbours, privately."""
        state = state_of(interaction.client)
        decision = state.cooldown.hit(interaction_key(interaction))
        if not decision.allowed:
            await reply(interaction, content=cooldown_text(decision))
            return
        outcome = await acked(
            interaction, lambda: context_of(state.engine, self.sha, self.start, self.pid), ephemeral=True
        )
        found = outcome.value
        if found is None:
            await reply(interaction, content=engine_error_text(outcome.error) if outcome.error else STALE_PASSAGE)
            return
        embed = render.context_embed(found.passages, found.cited, found.citations)
        await reply(interaction, embed=embed)


class ShareAnswer(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"ca:share"):
    """ "Share in channel": post a private answer publicly, with its other buttons."""

    def __init__(self) -> None:
        button: discord.ui.Button[Any] = discord.ui.Button(
            label="Share in channel", style=discord.ButtonStyle.primary, custom_id="ca:share"
        )
        super().__init__(button)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ShareAnswer:
        """Rebuild the button from a click (also after a restart)."""
        return cls()

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """Buttons pass the same entry gate as commands (shed when old, refused while restarting)."""
        return await gate(interaction)

    async def callback(self, interaction: discord.Interaction) -> None:
        """Repost the message's answer embed in the channel, crediting who shared it."""
        message = interaction.message
        if message is None or not message.embeds:
            await reply(interaction, content=NOTHING_TO_SHARE)
            return
        decision = state_of(interaction.client).cooldown.hit(interaction_key(interaction))
        if not decision.allowed:
            await reply(interaction, content=cooldown_text(decision))
            return
        embed = discord.Embed.from_dict(message.embeds[0].to_dict())
        name = render.fit_markdown(interaction.user.display_name, 64)
        view = view_of(items_from_message(message, exclude=("ca:share",)))
        await reply(interaction, content=f"Shared by {name}", embed=embed, view=view, ephemeral=False)


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (MoreResults, ShowContext, ShareAnswer)


def question_of(message: discord.Message | None) -> str | None:
    """The question an answer message was for, from its embed footer."""
    if message is None or not message.embeds:
        return None
    return render.question_from_footer(message.embeds[0].footer.text)


def items_from_message(message: discord.Message, exclude: Sequence[str] = ()) -> list[discord.ui.Item[Any]]:
    """Our buttons on a message, rebuilt from their custom ids (any we do not know are dropped)."""
    items: list[discord.ui.Item[Any]] = []
    for row in message.components:
        for child in getattr(row, "children", ()):
            custom_id = getattr(child, "custom_id", None)
            item = item_for(custom_id) if custom_id and custom_id not in exclude else None
            if item is not None:
                items.append(item)
    return items


def item_for(custom_id: str) -> discord.ui.Item[Any] | None:
    """The button a custom id stands for, or None if it is not one of ours."""
    if match := re.fullmatch(MoreResults.__discord_ui_compiled_template__, custom_id):
        return MoreResults(int(match["offset"]), int(match["size"]), match["qhash"])
    if match := re.fullmatch(ShowContext.__discord_ui_compiled_template__, custom_id):
        return ShowContext(match["sha"], int(match["start"]), int(match["pid"]))
    if re.fullmatch(ShareAnswer.__discord_ui_compiled_template__, custom_id):
        return ShareAnswer()
    return None


def view_of(items: Sequence[discord.ui.Item[Any]]) -> discord.ui.View | None:
    """A never-expiring view of these items, or None when there are none."""
    if not items:
        return None
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    return view


def answer_view(
    answer: Answer, page: Page, documents: Sequence[Document], *, share: bool, max_rank: int = MAX_RANK
) -> discord.ui.View | None:
    """The buttons under one page of an answer: More results, Context, and Share when private."""
    items: list[discord.ui.Item[Any]] = []
    shown = answer.hits[page.offset :]
    if answer.answered and len(shown) >= page.size and page.offset + page.size < max_rank:
        items.append(MoreResults(page.offset + page.size, page.size, question_hash(answer.question)))
    if answer.answered and shown and 0 <= shown[0].passage.doc < len(documents):
        best = shown[0].passage
        items.append(ShowContext(documents[best.doc].sha256[:12], best.start, best.id))
    if share:
        items.append(ShareAnswer())
    return view_of(items)


@dataclass(frozen=True, slots=True)
class Context:
    """A passage with its neighbours and their citations, ready to render."""

    passages: tuple[Passage, ...]
    citations: tuple[Citation, ...]
    cited: int


def find_passage(engine: Engine, sha: str, start: int, hint: int) -> Passage | None:
    """The passage of the document with checksum prefix ``sha`` starting at ``start``, in any generation."""
    documents = engine.info().documents
    doc = next((i for i, d in enumerate(documents) if d.sha256.startswith(sha)), None)
    if doc is None:
        return None
    try:
        candidate = engine.passage(hint)
    except EngineError:
        candidate = None
    if candidate is not None and (candidate.doc, candidate.start) == (doc, start):
        return candidate
    return _bisect_passage(engine, doc, start)


def _bisect_passage(engine: Engine, doc: int, start: int) -> Passage | None:
    """Binary search of passages, which the engine numbers in (document, offset) order."""
    lo, hi = 0, engine.info().passages
    while lo < hi:
        mid = (lo + hi) // 2
        p = engine.passage(mid)
        if (p.doc, p.start) < (doc, start):
            lo = mid + 1
        else:
            hi = mid
    if lo >= engine.info().passages:
        return None
    found = engine.passage(lo)
    return found if (found.doc, found.start) == (doc, start) else None


def context_of(engine: Engine, sha: str, start: int, hint: int) -> Context | None:
    """The neighbourhood of a passage (blocking: run it off the loop), or None if it is gone."""
    passage = find_passage(engine, sha, start, hint)
    if passage is None:
        return None
    around = engine.context(passage.id, before=1, after=1)
    return Context(around, tuple(engine.citation(p) for p in around), passage.id)


def rendered(state: AppState, answer: Answer, page: Page, *, share: bool) -> Reply:
    """The embed and buttons for one page of an answer."""
    documents = state.engine.info().documents
    if page.offset:
        embed = render.more_results_embed(answer, page.offset, documents)
    else:
        embed = render.answer_embed(answer, documents)
    return Reply(embed, answer_view(answer, page, documents, share=share))


async def answer_interaction(
    interaction: discord.Interaction, question: str, page: Page, *, ephemeral: bool, share: bool = False
) -> None:
    """Answer ``question`` for an interaction: checks, cooldown, admission, off-loop scoring, reply."""
    state = state_of(interaction.client)
    question = clean_question(question)
    if not await admit_interaction(interaction, state, question):
        return
    ticket = state.admission.try_enter()
    if ticket is None:
        await refuse(interaction, BUSY)
        return
    with ticket:
        k = page.offset + page.size
        outcome = await acked(interaction, lambda: state.engine.ask(question, k), ephemeral=ephemeral)
    if outcome.value is None:
        await reply(interaction, content=engine_error_text(outcome.error or EngineError("no answer")))
        return
    log.debug(
        "answered %d-char question for user %s: %d hit(s)", len(question), interaction.user.id, len(outcome.value.hits)
    )
    if page.offset and len(outcome.value.hits) <= page.offset:
        await reply(interaction, content=render.no_more_results_text())
        return
    out = rendered(state, outcome.value, page, share=share)
    await reply(interaction, embed=out.embed, view=out.view, ephemeral=ephemeral)


async def reply_to(
    message: discord.Message, *, content: str | None = None, answer: Reply | None = None
) -> discord.Message:
    """Reply to a message without pinging its author or anyone named in it (``AllowedMentions.none()``)."""
    kwargs: dict[str, Any] = {
        "reference": message.to_reference(fail_if_not_exists=False),
        "allowed_mentions": NO_MENTIONS,
    }
    if content is not None:
        kwargs["content"] = render.message(content)
    if answer is not None:
        kwargs["embed"] = answer.embed
        if answer.view is not None:
            kwargs["view"] = answer.view
    return await message.channel.send(**kwargs)


async def answer_message(state: AppState, message: discord.Message, question: str) -> None:
    """Answer a mention or a DM in the channel, replying to the question."""
    question = clean_question(question)
    problem = question_problem(question)
    if problem is not None:
        await reply_to(message, content=problem)
        return
    decision = state.cooldown.hit(CooldownKey(message.guild.id if message.guild else 0, message.author.id))
    if not decision.allowed:
        if decision.notify:  # one notice per window: a spammer cannot make the bot spam
            await reply_to(message, content=cooldown_text(decision))
        return
    if not state.lifecycle.accepting:
        await reply_to(message, content=RESTARTING)
        return
    ticket = state.admission.try_enter()
    if ticket is None:
        await reply_to(message, content=BUSY)
        return
    with ticket:
        outcome = await off_loop(lambda: state.engine.ask(question, state.settings.results))
    if outcome.value is None:
        await reply_to(message, content=engine_error_text(outcome.error or EngineError("no answer")))
        return
    await reply_to(message, answer=rendered(state, outcome.value, Page(0, state.settings.results), share=False))
