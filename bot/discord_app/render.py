"""Pure rendering of engine values into Discord embeds that fit Discord's limits by construction.

Every piece of text gets a budget before it is placed, the budgets add up to less than Discord's
limits, and ``fit`` / ``fit_markdown`` never exceed a budget. Article and user text is escaped
(``escape.py``) so it shows literally; only the markup this module adds is live.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import discord

from index.types import Answer, Citation, Document, Hit, IndexInfo, Passage, ReindexSummary, Span

from .escape import clean_text, escape_markdown

ELLIPSIS = "…"
BOLD = "**"
QUESTION_PREFIX = "Asked: "


@dataclass(frozen=True, slots=True)
class Limits:
    """Discord's documented limits, counted in code points."""

    content: int = 2000
    title: int = 256
    description: int = 4096
    field_name: int = 256
    field_value: int = 1024
    footer: int = 2048
    author: int = 256
    fields: int = 25
    total: int = 6000


LIMITS = Limits()

# Budgets chosen so that any answer adds up below LIMITS.total:
# title 256 + description 2200 + 4 x (field name 20 + value 600) + footer 1007 = 5943.
QUESTION_MAX = 1000
DESCRIPTION_BUDGET = 2200
FIELD_NAME_BUDGET = 20
FIELD_VALUE_BUDGET = 600
MAX_EXTRA_FIELDS = 4
CITATION_TITLE_BUDGET = 48
URL_MAX = 200
CONTEXT_PASSAGE_BUDGET = 1300
CONTEXT_PASSAGES = 5
ABOUT_DOCUMENTS = 8
FOOTER_BUDGET = len(QUESTION_PREFIX) + QUESTION_MAX

ANSWER_COLOUR = discord.Colour(0x5865F2)
DECLINED_COLOUR = discord.Colour(0x99AAB5)
ADMIN_COLOUR = discord.Colour(0x57F287)

_SENTENCE_ENDS = ".!?…"
_DANGLING = ",;:"  # never left just before the ellipsis ("Armenia,…")
_JOINERS = {"\u200d", "\u034f"}  # zero-width joiner, grapheme joiner: never end a cut on these


def _is_attached(ch: str) -> bool:
    """True for a character that belongs to the one before it (combining mark, selector, joiner)."""
    return bool(unicodedata.combining(ch)) or unicodedata.category(ch) in ("Mn", "Me") or ch in _JOINERS


def _sentence_cut(text: str, budget: int) -> int:
    """Largest cut <= budget right after sentence punctuation followed by a space, or 0."""
    for p in range(budget, 0, -1):
        if text[p - 1] in _SENTENCE_ENDS and (p == len(text) or text[p].isspace()):
            return p
    return 0


def _word_cut(text: str, budget: int) -> int:
    """Largest cut <= budget that falls on whitespace, or 0 when the first word is longer."""
    for p in range(budget, 0, -1):
        if p == len(text) or text[p].isspace():
            return p
    return 0


def _hard_cut(text: str, budget: int) -> int:
    """Cut inside an unbreakable run, but never between a character and its combining marks."""
    p = budget
    while 0 < p < len(text) and _is_attached(text[p]):
        p -= 1
    return p if p > 0 else budget


def cut_point(text: str, budget: int) -> int:
    """Where to cut ``text`` to keep at most ``budget`` characters: a sentence end, else a word end."""
    if budget >= len(text):
        return len(text)
    if budget <= 0:
        return 0
    sentence = _sentence_cut(text, budget)
    if sentence >= budget * 0.6:
        return sentence
    word = _word_cut(text, budget)
    return word if word > 0 else _hard_cut(text, budget)


def fit(text: str, limit: int) -> str:
    """Plain text within ``limit`` code points, cut at a sentence or word boundary with an ellipsis."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if len(text) <= limit:
        return text
    cut = cut_point(text, limit - len(ELLIPSIS))
    return text[:cut].rstrip().rstrip(_DANGLING).rstrip() + ELLIPSIS


@dataclass(frozen=True, slots=True)
class _Pieces:
    """Escaped output per raw character, with running lengths and open-bold state."""

    pieces: list[str]
    ends: list[int]  # total output length after piece i
    open_after: list[bool]  # a bold span is still open after piece i
    complete: bool  # every raw character was rendered


def _merge_spans(spans: Sequence[Span], text: str) -> list[Span]:
    """Clip, trim whitespace off, sort and merge spans so bold markers never nest or touch."""
    clipped: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        start, end = max(0, span.start), min(len(text), span.end)
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start >= end:
            continue
        if clipped and start <= clipped[-1].end:
            clipped[-1] = Span(clipped[-1].start, max(end, clipped[-1].end))
        else:
            clipped.append(Span(start, end))
    return clipped


def _piece(ch: str, newline: str) -> str:
    """One raw character as it appears in the output."""
    if ch == "\n":
        return newline
    if ch == "\r":
        return ""
    return escape_markdown(ch)


def _render_pieces(text: str, bold: Sequence[Span], newline: str, stop_after: int) -> _Pieces:
    """Render character by character, stopping once the output is longer than ``stop_after``."""
    starts = {s.start for s in bold}
    lasts = {s.end - 1 for s in bold}
    pieces: list[str] = []
    ends: list[int] = []
    open_after: list[bool] = []
    total, is_open = 0, False
    for i, ch in enumerate(text):
        piece = _piece(ch, newline)
        if i in starts:
            piece, is_open = BOLD + piece, True
        if i in lasts:
            piece, is_open = piece + BOLD, False
        total += len(piece)
        pieces.append(piece)
        ends.append(total)
        open_after.append(is_open)
        if total > stop_after:
            return _Pieces(pieces, ends, open_after, complete=False)
    return _Pieces(pieces, ends, open_after, complete=True)


def fit_markdown(text: str, limit: int, bold: Sequence[Span] = (), newline: str = "\n") -> str:
    """Escape ``text``, bold the ``bold`` spans and fit it in ``limit``, cutting at a boundary."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    spans = _merge_spans(bold, text)
    rendered = _render_pieces(text, spans, newline, stop_after=limit)
    if rendered.complete:
        return "".join(rendered.pieces)
    room = limit - len(BOLD) - len(ELLIPSIS)
    cut = cut_point(text, bisect_right(rendered.ends, room)) if room > 0 else 0
    while cut > 0 and (text[cut - 1].isspace() or text[cut - 1] in _DANGLING):
        cut -= 1
    closing = BOLD if cut > 0 and rendered.open_after[cut - 1] else ""
    return "".join(rendered.pieces[:cut]) + closing + ELLIPSIS


def quote_block(text: str, limit: int, bold: Sequence[Span] = ()) -> str:
    """A ``> `` quote of ``text`` (every line quoted) within ``limit`` (at least 3)."""
    return "> " + fit_markdown(text, max(1, limit - 2), bold, newline="\n> ")


def safe_url(url: str | None) -> str | None:
    """An http(s) URL safe inside a markdown link, or None: no spaces, parentheses or brackets."""
    if not url or not url.startswith(("https://", "http://")):
        return None
    encoded = quote(clean_text(url), safe=":/?#@!$&'*+,;=%-._~")
    return encoded if len(encoded) <= URL_MAX else None


def display_name(title: str | None, source: str) -> str:
    """What to call a document on one line: its title, else its file name, else "Untitled"."""
    for name in (title, source):
        line = " ".join(clean_text(name or "").split())
        if line:
            return line
    return "Untitled"


def source_label(title: str | None, source: str, url: str | None) -> str:
    """The document's title (or file name), escaped, linked when it has a usable URL."""
    name = fit_markdown(display_name(title, source), CITATION_TITLE_BUDGET)
    link = safe_url(url)
    return f"[{name}]({link})" if link else name


def citation_line(hit: Hit) -> str:
    """ "¶7 · sentence 2 · chars 812–1040 · Title": where the answer stands and the quoted span."""
    c, s = hit.citation, hit.sentence_citation
    where = f"¶{s.paragraph} · sentence {s.number} · chars {c.start}–{c.end}"
    return f"{where} · {source_label(c.title, c.source, c.url)}"


def passage_line(citation: Citation) -> str:
    """ "¶7–8 · chars 812–1040 · Title" for a passage shown without a best sentence."""
    paras = f"¶{citation.paragraph}"
    if citation.paragraph_end != citation.paragraph:
        paras += f"–{citation.paragraph_end}"
    label = source_label(citation.title, citation.source, citation.url)
    return f"{paras} · chars {citation.start}–{citation.end} · {label}"


def sentence_spans_in_passage(hit: Hit) -> list[Span]:
    """The question's terms inside the answering sentence, as offsets into the passage text."""
    shift = hit.sentence_citation.start - hit.passage.start
    return [Span(shift + s.start, shift + s.end) for s in hit.highlights]


@dataclass(frozen=True, slots=True)
class Window:
    """The part of a passage to quote, with the spans to bold inside it."""

    text: str
    bold: tuple[Span, ...]


def passage_window(hit: Hit, budget: int) -> Window:
    """The passage, or when too long the part from its answering sentence on (so it stays in view)."""
    text, spans = hit.passage.text, sentence_spans_in_passage(hit)
    shift = hit.sentence_citation.start - hit.passage.start
    if len(text) <= budget or not 0 < shift < len(text):
        return Window(text, tuple(spans))
    lead = ELLIPSIS + " "
    moved = tuple(Span(s.start - shift + len(lead), s.end - shift + len(lead)) for s in spans)
    return Window(lead + text[shift:], moved)


def footer_for(question: str) -> str:
    """The footer carries the question verbatim: footers render no markdown and no mentions."""
    return fit(QUESTION_PREFIX + question, FOOTER_BUDGET)


def question_from_footer(text: str | None) -> str | None:
    """The question an answer embed was made for, read back from its footer."""
    if not text or not text.startswith(QUESTION_PREFIX):
        return None
    return text[len(QUESTION_PREFIX) :]


def _best_passage_description(hit: Hit) -> str:
    """The best passage as a quote with its answering sentence's terms bold, then its citation."""
    cite = "— " + citation_line(hit)
    room = DESCRIPTION_BUDGET - len(cite) - 1
    window = passage_window(hit, room)
    return quote_block(window.text, room, window.bold) + "\n" + cite


def _result_field(hit: Hit) -> dict[str, Any]:
    """One further result: its answering sentence quoted, terms bold, and its citation."""
    cite = "— " + citation_line(hit)
    sentence = quote_block(hit.sentence, FIELD_VALUE_BUDGET - len(cite) - 1, hit.highlights)
    return {"name": f"Result {hit.rank}", "value": sentence + "\n" + cite, "inline": False}


def answer_embed(answer: Answer, documents: Sequence[Document] = ()) -> discord.Embed:
    """The one embed answering a question, or the friendly decline when the article lacks it."""
    if not answer.answered or not answer.hits:
        return declined_embed(answer, documents)
    best = answer.hits[0]
    embed = discord.Embed(
        title=fit_markdown(display_name(best.citation.title, best.citation.source), LIMITS.title),
        url=safe_url(best.citation.url),
        description=_best_passage_description(best),
        colour=ANSWER_COLOUR,
    )
    for hit in answer.hits[1 : 1 + MAX_EXTRA_FIELDS]:
        field = _result_field(hit)
        embed.add_field(name=field["name"], value=field["value"], inline=False)
    embed.set_footer(text=footer_for(answer.question))
    return embed


def covers_line(documents: Sequence[Document]) -> str:
    """What the index covers: each title with its first line of body text, escaped."""
    lines = [_document_summary(doc) for doc in documents[:3]]
    if len(documents) > 3:
        lines.append(f"…and {len(documents) - 3} more documents.")
    return "\n".join(lines)


def _document_summary(doc: Document) -> str:
    """“Title” — first line of the body."""
    title = fit_markdown(display_name(doc.title, doc.source), 150)
    first = first_line(doc)
    return f"**{title}**" + (f" — {fit_markdown(first, 150)}" if first else "")


def first_line(doc: Document) -> str:
    """The first non-empty line of the body that is neither the title nor a ``Key: value`` line."""
    keys = {key for key, _ in doc.metadata}
    for line in doc.text.splitlines():
        line = line.strip()
        if not line or line == (doc.title or "").strip():
            continue
        if line.split(":", 1)[0] in keys:
            continue
        return line
    return ""


def declined_embed(answer: Answer, documents: Sequence[Document]) -> discord.Embed:
    """The article does not cover it: say so and why, what it covers, and the closest passage."""
    reason = fit_markdown(answer.reason or "none of its passages match the question", 300)
    parts = [f"The article doesn't seem to cover that: {reason}"]
    covers = covers_line(documents)
    if covers:
        parts.append("**What it covers:**\n" + covers)
    embed = discord.Embed(title="Not covered by the article", description="\n\n".join(parts), colour=DECLINED_COLOUR)
    if answer.hits:
        field = _result_field(answer.hits[0])
        embed.add_field(name="Closest passage (not an answer)", value=field["value"], inline=False)
    embed.set_footer(text=footer_for(answer.question))
    return embed


def more_results_embed(answer: Answer, offset: int, documents: Sequence[Document] = ()) -> discord.Embed:
    """The next page of results: the answer embed of hits from ``offset`` on, titled as such."""
    page = Answer(
        question=answer.question,
        answered=answer.answered,
        reason=answer.reason,
        hits=answer.hits[offset:],
        terms=answer.terms,
    )
    embed = answer_embed(page, documents)
    if page.hits and answer.answered:
        last = page.hits[min(len(page.hits), 1 + MAX_EXTRA_FIELDS) - 1].rank
        embed.title = fit(f"More results ({page.hits[0].rank}–{last})", LIMITS.title)
    return embed


def no_more_results_text() -> str:
    """What a "More results" click says when the index has nothing further."""
    return "That's everything: no further passages match this question."


def context_embed(passages: Sequence[Passage], cited_id: int, citations: Sequence[Citation]) -> discord.Embed:
    """The cited passage with its neighbours, in document order, each with where it stands."""
    blocks: list[str] = []
    shown = list(zip(passages, citations, strict=True))[:CONTEXT_PASSAGES]
    budget = min(CONTEXT_PASSAGE_BUDGET, (LIMITS.description - 100) // max(1, len(shown)))
    for passage, citation in shown:
        marker = " (cited)" if passage.id == cited_id else ""
        head = f"**{passage_line(citation)}**{marker}"
        blocks.append(head + "\n" + quote_block(passage.text, max(10, budget - len(head) - 1)))
    return discord.Embed(title="Context", description="\n\n".join(blocks), colour=ANSWER_COLOUR)


def _when(created_at: str) -> str:
    """A Discord timestamp for an ISO 8601 time (readers see it in their own time zone)."""
    try:
        moment = datetime.fromisoformat(created_at)
    except ValueError:
        return fit_markdown(created_at, 64)
    return f"<t:{int(moment.timestamp())}:f>"


def about_embed(info: IndexInfo) -> discord.Embed:
    """The documents loaded, the passage count, the generation and when it was indexed."""
    summary = (
        f"**{info.passages}** passages from **{len(info.documents)}** document(s)\n"
        f"Generation `{fit(clean_text(info.generation).replace('`', ''), 64)}` · indexed {_when(info.created_at)}"
    )
    embed = discord.Embed(title="About the index", description=summary, colour=ADMIN_COLOUR)
    for doc in info.documents[:ABOUT_DOCUMENTS]:
        name = fit_markdown(display_name(doc.title, doc.source), 100)
        embed.add_field(name=name, value=_document_value(doc), inline=False)
    if len(info.documents) > ABOUT_DOCUMENTS:
        embed.add_field(name="More", value=f"…and {len(info.documents) - ABOUT_DOCUMENTS} more documents.")
    return embed


def _document_value(doc: Document) -> str:
    """Source file, size and checksum of one document, with its link when it has one."""
    value = f"Source: {fit_markdown(doc.source, 100)} · {len(doc.text):,} characters · sha256 {doc.sha256[:12]}"
    link = safe_url(doc.url)
    return value + (f"\n[Link]({link})" if link else "")


def _names(label: str, names: Sequence[str]) -> str:
    """ "Added: a.txt, b.md" with escaped names, or empty when there are none."""
    if not names:
        return ""
    return f"**{label}:** " + fit_markdown(", ".join(names), 400)


def reindex_embed(summary: ReindexSummary) -> discord.Embed:
    """What a reindex changed: counts before and after, and which sources came, went or changed."""
    was = "" if summary.previous_passages is None else f" (was {summary.previous_passages})"
    head = (
        f"**{summary.passages}** passages{was} from **{summary.documents}** document(s) "
        f"in {summary.seconds:.1f} s · generation `{fit(clean_text(summary.generation).replace('`', ''), 64)}`"
    )
    lists = [
        _names("Added", summary.added),
        _names("Removed", summary.removed),
        _names("Changed", summary.changed),
        _names("Unchanged", summary.unchanged),
    ]
    body = "\n".join([head, *[line for line in lists if line]])
    return discord.Embed(title="Reindexed", description=body, colour=ADMIN_COLOUR)


def embed_size(data: dict[str, Any]) -> int:
    """Discord's total-length count of an embed payload: title, description, fields, footer, author."""
    total = len(data.get("title") or "") + len(data.get("description") or "")
    total += sum(len(f.get("name") or "") + len(f.get("value") or "") for f in data.get("fields") or [])
    total += len((data.get("footer") or {}).get("text") or "")
    return total + len((data.get("author") or {}).get("name") or "")


def limit_violations(data: dict[str, Any]) -> list[str]:
    """Every Discord limit an embed payload breaks (empty when it is valid); used by the tests."""
    checks = [
        ("title", len(data.get("title") or ""), LIMITS.title),
        ("description", len(data.get("description") or ""), LIMITS.description),
        ("footer", len((data.get("footer") or {}).get("text") or ""), LIMITS.footer),
        ("fields", len(data.get("fields") or []), LIMITS.fields),
        ("total", embed_size(data), LIMITS.total),
    ]
    for f in data.get("fields") or []:
        checks.append(("field name", len(f.get("name") or ""), LIMITS.field_name))
        checks.append(("field value", len(f.get("value") or ""), LIMITS.field_value))
    return [f"{name} {size} > {limit}" for name, size, limit in checks if size > limit]


def message(text: str) -> str:
    """A plain reply of ours within the content limit."""
    return fit(text, LIMITS.content)
