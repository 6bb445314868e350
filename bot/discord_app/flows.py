"""The one path every question takes: gate it, check it, rate-limit it, admit it, score it off the loop, reply.

Slash commands, the context menu and buttons reply through an interaction; mentions and DMs
reply to a message. Both share the checks and the polite texts here. Every interaction meets
``gate`` first (from the command tree and from each button), before any option is parsed.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import discord

from index.errors import EngineError

from . import render
from .escape import clean_text, escape_markdown
from .pressure import CooldownKey, Decision, Verdict, verdict
from .state import AppState, state_of

log = logging.getLogger(__name__)

T = TypeVar("T")

NO_MENTIONS = discord.AllowedMentions.none()
FILLED = "deferred response filled"  # key in Interaction.extras once a deferral got its content
ARRIVAL = "arrival"  # key in Interaction.extras: (age in seconds when admitted, time.monotonic() then)
ACK_BUDGET = 1.0  # seconds of work before we defer; Discord allows 3 s for the first response

BUSY = "I'm answering a lot of questions right now; please try again in a moment."
EMPTY = "Ask me something about the article, for example: *What is this article about?*"
UNEXPECTED = "Something went wrong on my side while answering; it has been logged. Please try again."
RESTARTING = "I'm restarting right now; please try again in a moment."


def too_long(length: int) -> str:
    """The polite refusal for an over-long question."""
    return f"That question is {length:,} characters long; please ask in at most {render.QUESTION_MAX:,}."


def cooldown_text(decision: Decision) -> str:
    """The private "slow down" notice."""
    return f"You're asking quickly; please try again in {decision.retry_seconds} s."


def engine_error_text(err: EngineError, action: str = "search that") -> str:
    """An engine error as a reply: its message is written for users already."""
    return render.message(f"Sorry, I couldn't {action}: {escape_markdown(str(err))}")


# What Discord clients write for mentions of people, roles and channels, custom emoji, timestamps
# and command links: markup, not words of the question ("<:thinking:9876>" would be searched).
_CLIENT_MARKUP = re.compile(r"<(?:@[!&]?\d+|#\d+|a?:\w+:\d+|t:-?\d+(?::[tTdDfFR])?|/[\w -]+:\d+)>")


def clean_question(text: str) -> str:
    """The question as searched and echoed: without client markup, controls and surrounding blanks."""
    return " ".join(_CLIENT_MARKUP.sub(" ", clean_text(text)).split())


def question_problem(question: str) -> str | None:
    """Why a question will not be searched (empty, too long), or None."""
    if not question:
        return EMPTY
    if len(question) > render.QUESTION_MAX:
        return too_long(len(question))
    return None


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """A finished piece of engine work: its value, or the user-facing error it raised."""

    value: T | None = None
    error: EngineError | None = None


def _capture(work: Callable[[], T]) -> Outcome[T]:
    """Run engine work (in a worker thread), turning an ``EngineError`` into a value."""
    try:
        return Outcome(value=work())
    except EngineError as err:
        return Outcome(error=err)


async def off_loop(work: Callable[[], T]) -> Outcome[T]:
    """Engine work in a worker thread, so the event loop keeps heartbeating and acking."""
    return await asyncio.to_thread(_capture, work)


async def gate(interaction: discord.Interaction) -> bool:
    """The first check every interaction meets: track it for shutdown, and shed it while that is cheap.

    Runs before discord.py parses the options. Past capacity the backlog is in front of the
    handlers, so the interaction's age (from its id) decides, not the answers in flight: old ones
    are told "busy" without scoring, ones past the deadline cost nothing at all.
    """
    state = state_of(interaction.client)
    state.lifecycle.track()
    age = state.ages.age(interaction.id)
    decision = verdict(age, accepting=state.lifecycle.accepting, open_=state.lifecycle.open, limits=state.limits)
    if decision is Verdict.SERVE:
        interaction.extras[ARRIVAL] = (age, time.monotonic())
        return True
    summary = state.shed.record(decision)
    if summary is not None:
        log.warning("overloaded or stopping: %s", summary)
    if decision in (Verdict.EXPIRED, Verdict.CLOSED):
        log.debug("interaction %s dropped unanswered (%s, %.2f s old)", interaction.id, decision.value, age)
        return False
    await refuse(interaction, RESTARTING if decision is Verdict.RESTARTING else BUSY)
    return False


async def refuse(interaction: discord.Interaction, text: str) -> None:
    """A private one-line refusal by the cheapest route; through discord.py if that is not open."""
    quick = state_of(interaction.client).quick
    if quick.ready and not interaction.response.is_done():
        await quick.refuse(interaction.id, interaction.token, text)
        return
    await reply(interaction, content=text)


def defer_budget(interaction: discord.Interaction) -> float:
    """Seconds of work before deferring: ``ACK_BUDGET``, less for an interaction that arrived old."""
    arrival: tuple[float, float] | None = interaction.extras.get(ARRIVAL)
    if arrival is None:
        return ACK_BUDGET
    age, seen = arrival
    left = state_of(interaction.client).limits.defer_at - (age + time.monotonic() - seen)
    return max(0.0, min(ACK_BUDGET, left))


async def acked(interaction: discord.Interaction, work: Callable[[], T], *, ephemeral: bool) -> Outcome[T]:
    """Run ``work`` off the loop; if it is not done within ``defer_budget``, defer so Discord waits."""
    task = asyncio.ensure_future(off_loop(work))
    budget = defer_budget(interaction)
    done, _ = await asyncio.wait({task}, timeout=budget)
    if not done and not interaction.response.is_done():
        log.debug("interaction %s: work outlasted %.2f s, deferring", interaction.id, budget)
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)
    return await task


async def reply(
    interaction: discord.Interaction,
    *,
    content: str | None = None,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
    ephemeral: bool = True,
) -> None:
    """Answer an interaction by whichever route is open, never able to ping anyone."""
    kwargs: dict[str, Any] = {"allowed_mentions": NO_MENTIONS, "ephemeral": ephemeral}
    if content is not None:
        kwargs["content"] = render.message(content)
    if embed is not None:
        kwargs["embed"] = embed
    if view is not None:
        kwargs["view"] = view
    if not interaction.response.is_done():
        await interaction.response.send_message(**kwargs)
    elif is_unfilled_deferral(interaction):
        kwargs.pop("ephemeral")  # fixed by the deferral
        interaction.extras[FILLED] = True
        await interaction.edit_original_response(**kwargs)
    else:
        await interaction.followup.send(**kwargs)


def is_unfilled_deferral(interaction: discord.Interaction) -> bool:
    """A "thinking…" response still waiting for its content (which goes in by editing it)."""
    deferred = interaction.response.type is discord.InteractionResponseType.deferred_channel_message
    return deferred and not interaction.extras.get(FILLED, False)


def interaction_key(interaction: discord.Interaction) -> CooldownKey:
    """Cooldown key of whoever triggered an interaction."""
    return CooldownKey(interaction.guild_id or 0, interaction.user.id)


async def admit_interaction(interaction: discord.Interaction, state: AppState, question: str) -> bool:
    """Apply the question checks and the cooldown, replying privately when refused."""
    problem = question_problem(question)
    if problem is not None:
        await reply(interaction, content=problem)
        return False
    decision = state.cooldown.hit(interaction_key(interaction))
    if not decision.allowed:
        await reply(interaction, content=cooldown_text(decision))
        return False
    return True


@dataclass(frozen=True, slots=True)
class Page:
    """Which results to show: ``size`` of them starting after ``offset`` ranks."""

    offset: int
    size: int
