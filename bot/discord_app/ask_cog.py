"""The ways to ask: /ask, mentioning the bot, a direct message, and "Check in article"."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

import discord
from discord import app_commands
from discord.ext import commands

from . import render
from .answering import answer_interaction, answer_message, reply_to
from .flows import UNEXPECTED, Page, reply
from .state import AppState

log = logging.getLogger(__name__)

NO_TEXT = "That message has no text to check against the article."
MENTION_HELP = "Ask me something about the article after the mention, for example: *What is this article about?*"


def mention_pattern(bot_id: int) -> re.Pattern[str]:
    """Matches a real user mention of the bot, ``<@id>`` or the legacy ``<@!id>``."""
    return re.compile(rf"<@!?{bot_id}>")


def addressed_to_bot(content: str, mentioned_ids: Iterable[int], bot_id: int, *, in_dm: bool) -> bool:
    """A DM, or a message naming the bot itself: ``@everyone``, ``@here``, roles and reply pings do not."""
    if in_dm:
        return True
    return bot_id in set(mentioned_ids) and mention_pattern(bot_id).search(content) is not None


def question_in_text(content: str, bot_id: int) -> str:
    """The message text without the bot's mentions."""
    return mention_pattern(bot_id).sub(" ", content).strip()


def is_question_message(message: discord.Message, bot_id: int) -> bool:
    """A person's ordinary message addressed to the bot (not a bot, webhook or system message)."""
    if message.author.bot or message.webhook_id is not None or message.author.id == bot_id:
        return False
    if message.type not in (discord.MessageType.default, discord.MessageType.reply):
        return False
    mentioned = (user.id for user in message.mentions)
    in_dm = isinstance(message.channel, discord.DMChannel)
    return addressed_to_bot(message.content, mentioned, bot_id, in_dm=in_dm)


def question_from_target(content: str) -> str:
    """The text of a message the context menu was used on, cut to a searchable length."""
    text = content.strip()
    if len(text) <= render.QUESTION_MAX:
        return text
    return text[: render.cut_point(text, render.QUESTION_MAX)].rstrip()


class AskCog(commands.Cog):
    """Questions in all their forms, answered from the engine with cited passages."""

    def __init__(self, bot: commands.Bot, state: AppState) -> None:
        self.bot = bot
        self.state = state
        self.check_menu = app_commands.ContextMenu(name="Check in article", callback=self.check_in_article)

    async def cog_load(self) -> None:
        """Context menus cannot live in a cog class body: register it with the tree here."""
        self.bot.tree.add_command(self.check_menu)

    async def cog_unload(self) -> None:
        """Take the context menu away with the cog."""
        self.bot.tree.remove_command(self.check_menu.name, type=self.check_menu.type)

    @app_commands.command(name="ask")
    @app_commands.describe(
        question="What you want to know about the article",
        results="How many passages to show (1-5)",
        private="Only you see the answer",
    )
    async def ask(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, render.QUESTION_MAX],
        results: app_commands.Range[int, 1, 5] | None = None,
        private: bool = False,
    ) -> None:
        """Ask a question about the article; get the passages that answer it, with citations."""
        size = results or self.state.settings.results
        await answer_interaction(interaction, question, Page(0, size), ephemeral=private)

    async def check_in_article(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Look up the passages for someone's message; answer privately with a Share button."""
        question = question_from_target(message.content)
        if not question:
            await reply(interaction, content=NO_TEXT)
            return
        page = Page(0, self.state.settings.results)
        await answer_interaction(interaction, question, page, ephemeral=True, share=True)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Answer mentions of the bot (in channels and threads) and direct messages."""
        me = self.bot.user
        if me is None or not self.state.lifecycle.open or not is_question_message(message, me.id):
            return
        self.state.lifecycle.track()
        question = question_in_text(message.content, me.id)
        try:
            if not question:
                await reply_to(message, content=MENTION_HELP)
                return
            await answer_message(self.state, message, question)
        except discord.HTTPException:
            log.exception("could not reply to message %s in channel %s", message.id, message.channel.id)
        except Exception:
            log.exception("unexpected error answering message %s", message.id)
            await reply_to(message, content=UNEXPECTED)
