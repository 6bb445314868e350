"""C3/A3/A4/B9 hostile input (promises 3, 4, 10): any text, through the whole pipeline, stays inert.

Documents and questions drawn from every kind of character that breaks text handling (lone
surrogates, bidi controls, zero-width and combining marks, astral emoji, markdown and mention
syntax, NUL-free binary-ish noise) go through the real pipeline: ``parse_document`` -> chunk ->
tokenize -> BM25 build -> commit -> load -> ``ask`` -> the Discord renderer. The only allowed
failures are the typed ``DocumentError`` / ``QuestionError``; citations stay exact; every
rendered embed fits Discord's limits and carries no raw mass or role mention. Pathological
inputs of 4x the size take at most ~8x the time (linear, not quadratic).
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.discord_app import render
from bot.discord_app.flows import clean_question
from index import Engine, EngineConfig, Tokenizer
from index import snapshot as snap
from index.chunking import ChunkConfig, chunk
from index.documents import parse_document
from index.errors import DocumentError, QuestionError
from index.store import Store

from .support import SLOW

EXAMPLES = 600 if SLOW else 80

BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u034f\u00ad"
COMBINING = "\u0301\u0308\u0327\u20e3\u0489\ufe0f"
SYNTAX = [
    "@everyone",
    "@here",
    "<@123456789012345678>",
    "<@!1>",
    "<@&42>",
    "<#7>",
    "</ask:1>",
    "<t:0:R>",
    "```",
    "`",
    "||",
    "**",
    "__",
    "~~",
    "> ",
    "# ",
    "-# ",
    "[x](https://evil.example)",
    "](",
    "\\",
    "\n\n",
    ". ",
    "? ",
    "U.S.",
    "5,000",
    "Mr. ",
    "\u2026 ",
]
hostile_char = st.one_of(
    st.characters(codec="utf-8"),
    st.characters(categories=["Cs"]),
    st.sampled_from(list(BIDI + INVISIBLE + COMBINING)),
    st.sampled_from(["\U0001f1fa\U0001f1f8", "\U0001f469\u200d\U0001f4bb", "\u00df", "\ufb01", "\uff21", "\u0130"]),
)
hostile_text = st.lists(
    st.one_of(hostile_char, st.sampled_from(SYNTAX), st.sampled_from(["the", "ferry", "Marigold", " "])), max_size=300
).map("".join)
MENTION = re.compile(r"@(everyone|here)|<@[!&]?\d+>")


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(text=hostile_text)
def test_tokenizer_is_total_and_spans_stay_inside(text: str) -> None:
    tokenizer = Tokenizer()
    terms = tokenizer(text)
    assert all(isinstance(t, str) and t and not any(c.isspace() for c in t) for t in terms)
    for span in tokenizer.spans(text, frozenset(terms)):
        assert 0 <= span.start < span.end <= len(text)


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(text=hostile_text, max_words=st.integers(1, 50), min_words=st.integers(0, 20))
def test_chunks_partition_any_text_and_lose_nothing(text: str, max_words: int, min_words: int) -> None:
    passages = chunk(text, 0, ChunkConfig(min_words=min_words, max_words=max_words))
    covered = [False] * len(text)
    previous_end = 0
    for p in passages:
        assert p.text == text[p.start : p.end] and p.text.strip()
        assert previous_end <= p.start < p.end
        previous_end = p.end
        for s in p.sentences:
            assert p.start <= s.start < s.end <= p.end
        for i in range(p.start, p.end):
            covered[i] = True
    lost = [
        c for c, seen in zip(text, covered, strict=True) if not seen and not c.isspace() and c not in "\u200b\ufeff"
    ]
    assert lost == [], f"characters in no passage: {lost[:20]!r}"


def _engine_for(text: str, folder: Path) -> Engine | None:
    """An engine over one hostile document, built through the real write path; None when it is refused."""
    try:
        document = parse_document(text.encode("utf-8", "surrogatepass"), "hostile.txt")
    except DocumentError:
        return None
    config = EngineConfig()
    try:
        files, manifest = snap.build_files([document], [None], config.index_params)
    except DocumentError:
        return None
    store = Store(folder)
    return Engine(store, config, snap.load(store.commit(files, manifest)))


def check_rendered(embed: object) -> None:
    """Limits hold; no bidi control or lone surrogate anywhere; no live mention syntax in markdown parts.

    (Footers are plain text that Discord never parses for mentions or markdown.)
    """
    data = embed.to_dict()  # type: ignore[attr-defined]
    assert render.limit_violations(data) == []
    markdown = [data.get("title") or "", data.get("description") or ""]
    markdown += [f.get("name", "") + f.get("value", "") for f in data.get("fields") or []]
    for text in [*markdown, (data.get("footer") or {}).get("text") or ""]:
        assert not any(c in BIDI for c in text), text
        assert not any(0xD800 <= ord(c) < 0xE000 for c in text), text
    for text in markdown:
        assert not MENTION.search(text), text


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    document=st.lists(hostile_text, min_size=1, max_size=8).map("\n\n".join),
    questions=st.lists(hostile_text, max_size=3),
)
def test_hostile_documents_and_questions_through_the_whole_pipeline(document: str, questions: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = _engine_for(document, Path(folder))
        if engine is None:
            return
        text = engine.document(0).text
        for raw in [*questions, document[:200], "Marigold ferry"]:
            question = clean_question(raw)  # what every bot path does before searching and echoing
            try:
                answer = engine.ask(question)
            except QuestionError:
                continue
            for hit in answer.hits:
                c = hit.citation
                assert text[c.start : c.end] == hit.passage.text
                s = hit.sentence_citation
                assert text[s.start : s.end] == hit.sentence
            check_rendered(render.answer_embed(answer, [engine.document(0)]))
            if not answer.answered:
                check_rendered(render.declined_embed(answer, [engine.document(0)]))


# ---- linear time -------------------------------------------------------------------------------

PATHOLOGICAL: dict[str, Callable[[int], str]] = {
    "one giant word": lambda n: "x" * n,
    "giant word with marks": lambda n: "e\u0301" * (n // 2),
    "sentences of one letter": lambda n: "a. " * (n // 3),
    "abbreviations": lambda n: "Mr. U.S. " * (n // 9),
    "blank lines": lambda n: "w\n\n" * (n // 3),
    "markdown and mentions": lambda n: "[](@everyone <@&1> ||`" * (n // 22),
    "distinct words": lambda n: " ".join(f"w{i:x}" for i in range(n // 7)),
    "zero-width between letters": lambda n: "a\u200b" * (n // 2),
}


def _best_time(work: Callable[[], object], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        began = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - began)
    return best


@pytest.mark.parametrize("kind", PATHOLOGICAL)
def test_chunking_and_tokenizing_stay_linear(kind: str) -> None:
    small, large = PATHOLOGICAL[kind](50_000), PATHOLOGICAL[kind](200_000)
    tokenizer = Tokenizer()

    def pipeline(text: str) -> Callable[[], object]:
        return lambda: [tokenizer(p.text) for p in chunk(text, 0, ChunkConfig())]

    t_small, t_large = _best_time(pipeline(small)), _best_time(pipeline(large))
    assert t_large < max(8 * t_small, 0.05), f"{kind}: 50k chars {t_small:.3f}s, 200k chars {t_large:.3f}s"
    assert t_large < 10


def test_rendering_a_hostile_answer_is_fast(tmp_path: Path) -> None:
    """A real answer over a document of pathological markdown, for the longest allowed question."""
    paragraph = "The ferry Marigold " + "[](" * 400 + " @everyone <@&1> " + "*_~`|" * 200 + "."
    engine = _engine_for("Hostile harbour\n\n" + "\n\n".join([paragraph] * 30), tmp_path / "index")
    assert engine is not None
    question = ("ferry Marigold [](" * 100)[: engine.config.answer.max_question_chars]
    answer = engine.ask(question)
    began = time.perf_counter()
    embed = render.answer_embed(answer, [engine.document(0)])
    assert time.perf_counter() - began < 0.25
    check_rendered(embed)
