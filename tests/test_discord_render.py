"""Rendering: every reply fits Discord's limits for any text, cuts fall on boundaries, citations are exact."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.discord_app import render
from bot.discord_app.escape import escape_markdown
from bot.discord_app.render import ELLIPSIS, fit, fit_markdown, limit_violations
from index import Engine
from index.types import Answer, Citation, Document, Hit, IndexInfo, Passage, ReindexSummary, Sentence, Span

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "article.txt"

# Every kind of character that has broken a Discord bot: astral emoji, lone surrogates, bidi
# controls, zero-width and combining marks, markdown and mention syntax, newlines.
hostile_chars = st.one_of(
    st.characters(codec="utf-8"),
    st.characters(categories=["Cs"]),
    st.sampled_from(list("\u202e\u2066\u200f\u200b\u200d\ufe0f\u0301\u20e3 \n\t.!?*_~`|>#-[]()<@:&\\")),
    st.sampled_from(["@everyone", "@here", "<@123>", "<@!1>", "<@&9>", "<#5>", "<:x:1>", "```", "||", "](", "🇺🇸"]),
)
hostile_text = st.lists(hostile_chars, max_size=400).map("".join)
wordy_text = st.lists(st.one_of(st.sampled_from([" ", "  ", "\n", ". ", "! "]), hostile_text), max_size=12).map("".join)
urls = st.one_of(st.none(), hostile_text, hostile_text.map(lambda t: "https://example.com/" + t))


@st.composite
def hits(draw: st.DrawFn, rank: int) -> Hit:
    """A hit with arbitrary passage text, a sentence inside it and highlights inside the sentence."""
    text = draw(st.one_of(wordy_text, st.text(min_size=1, max_size=3000)).filter(bool))
    s_start = draw(st.integers(0, len(text) - 1))
    s_end = draw(st.integers(s_start + 1, len(text)))
    sentence = text[s_start:s_end]
    spans = draw(st.lists(st.tuples(st.integers(-2, len(sentence) + 2), st.integers(0, 8)), max_size=12))
    start = draw(st.integers(0, 10**7))
    para = draw(st.integers(1, 10**4))
    passage = Passage(rank, 0, text, start, start + len(text), para, para, (Sentence(para, 1, start, start + 1),))
    title = draw(st.none() | hostile_text)
    cite = Citation(draw(hostile_text), title, para, para, 1, 1, start, start + len(text), url=draw(urls))
    return Hit(
        rank=rank,
        score=1.0,
        passage=passage,
        citation=cite,
        sentence=sentence,
        sentence_citation=Sentence(para, draw(st.integers(1, 999)), start + s_start, start + s_end),
        highlights=tuple(Span(a, a + n) for a, n in spans),
    )


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    count = draw(st.integers(0, 5))
    answered = draw(st.booleans()) and count > 0
    return Answer(
        question=draw(st.one_of(hostile_text, st.text(max_size=1200))),
        answered=answered,
        reason=None if answered else draw(st.none() | hostile_text),
        hits=tuple(draw(hits(rank)) for rank in range(1, count + 1)),
    )


@st.composite
def documents(draw: st.DrawFn) -> Document:
    return Document(
        source=draw(hostile_text),
        title=draw(st.none() | hostile_text),
        text=draw(wordy_text),
        sha256="0" * 64,
        url=draw(urls),
    )


def unescaped_bold_markers(text: str) -> int:
    """How many ``**`` markers are live (not part of an escaped ``\\*``)."""
    return re.sub(r"\\.", "", text, flags=re.DOTALL).count("**")


# ---- fit -------------------------------------------------------------------------------------


@given(st.text(), st.integers(1, 3000))
def test_fit_never_exceeds_the_limit(text: str, limit: int) -> None:
    assert len(fit(text, limit)) <= limit


@given(st.text(), st.integers(1, 3000))
def test_fit_keeps_short_text_and_cuts_long_text_to_a_prefix_with_an_ellipsis(text: str, limit: int) -> None:
    out = fit(text, limit)
    if len(text) <= limit:
        assert out == text
    else:
        assert out.endswith(ELLIPSIS) and text.startswith(out[: -len(ELLIPSIS)])


@given(wordy_text, st.integers(2, 600))
def test_fit_cuts_at_a_word_boundary_whenever_there_is_one(text: str, limit: int) -> None:
    out = fit(text, limit)
    if out == text:
        return
    kept = len(out) - len(ELLIPSIS)
    if any(ch.isspace() for ch in text[1:limit]):
        assert re.match(r"[\s,;:]*\s", text[kept:]), (text[:kept], text[kept:])


def test_fit_prefers_a_sentence_end() -> None:
    text = "The truce held for an hour. Then shelling resumed across the line of contact and villages."
    assert fit(text, 40) == "The truce held for an hour.…"


def test_fit_leaves_no_comma_before_the_ellipsis() -> None:
    assert fit("Armenia, Azerbaijan and Turkey", 12) == "Armenia…"


def test_fit_does_not_separate_a_letter_from_its_combining_mark() -> None:
    word = "e\u0301" * 50
    out = fit(word, 20)
    kept = out[: -len(ELLIPSIS)]
    assert word[len(kept)] == "e", "the cut fell between a letter and its accent"
    assert kept.count("e") == kept.count("\u0301")


# ---- fit_markdown ----------------------------------------------------------------------------


@st.composite
def spans_for(draw: st.DrawFn, text: str) -> list[Span]:
    pairs = draw(st.lists(st.tuples(st.integers(-3, len(text) + 3), st.integers(0, 10)), max_size=10))
    return [Span(a, a + n) for a, n in pairs]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), wordy_text, st.integers(1, 800), st.sampled_from(["\n", "\n> "]))
def test_fit_markdown_is_a_prefix_of_the_full_rendering_within_the_limit(
    data: st.DataObject, text: str, limit: int, newline: str
) -> None:
    spans = data.draw(spans_for(text))
    out = fit_markdown(text, limit, spans, newline)
    full = fit_markdown(text, 10**9, spans, newline)
    assert len(out) <= limit
    if out == full:
        return
    assert out.endswith(ELLIPSIS)
    body = out[: -len(ELLIPSIS)]
    body = body[:-2] if body.endswith("**") and not full.startswith(body) else body
    assert full.startswith(body)
    assert (len(body) - len(body.rstrip("\\"))) % 2 == 0, "cut inside an escape sequence"
    assert unescaped_bold_markers(out) % 2 == 0, "unbalanced bold"


def test_fit_markdown_bolds_spans_and_escapes_the_rest() -> None:
    assert fit_markdown("a *b* c", 100, [Span(3, 4)]) == "a \\***b**\\* c"


# ---- whole embeds: limits hold for anything --------------------------------------------------


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(answers(), st.lists(documents(), max_size=5))
def test_answer_embed_fits_every_discord_limit(answer: Answer, docs: list[Document]) -> None:
    data = render.answer_embed(answer, docs).to_dict()
    assert limit_violations(data) == []
    assert data.get("description")
    assert all(f["name"].strip() and f["value"].strip() for f in data.get("fields", []))


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(answers(), st.integers(0, 5))
def test_more_results_embed_fits_every_discord_limit(answer: Answer, offset: int) -> None:
    assert limit_violations(render.more_results_embed(answer, offset).to_dict()) == []


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(answers())
def test_answer_embed_quotes_every_line_and_balances_bold(answer: Answer) -> None:
    data = render.answer_embed(answer).to_dict()
    if answer.answered:
        quote, _, citation = data["description"].rpartition("\n— ")
        assert all(line.startswith("> ") for line in quote.split("\n"))
        assert "\n" not in citation
    assert unescaped_bold_markers(data["description"]) % 2 == 0
    for field in data.get("fields", []):
        assert unescaped_bold_markers(field["value"]) % 2 == 0


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(hits(1), min_size=1, max_size=8))
def test_context_embed_fits_every_discord_limit(found: list[Hit]) -> None:
    passages = [h.passage for h in found]
    embed = render.context_embed(passages, passages[0].id, [h.citation for h in found])
    assert limit_violations(embed.to_dict()) == []


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(documents(), max_size=30), hostile_text, hostile_text)
def test_about_embed_fits_every_discord_limit(docs: list[Document], generation: str, created: str) -> None:
    info = IndexInfo(tuple(docs), 10**6, generation, created, {})
    assert limit_violations(render.about_embed(info).to_dict()) == []


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(hostile_text, max_size=200), hostile_text)
def test_reindex_embed_fits_every_discord_limit(names: list[str], generation: str) -> None:
    lists = tuple(names)
    summary = ReindexSummary(len(names), 10**6, lists, lists, lists, lists, 5, generation, 1.5)
    assert limit_violations(render.reindex_embed(summary).to_dict()) == []


@given(hostile_text)
def test_footer_carries_the_question_for_the_buttons_to_read_back(question: str) -> None:
    question = question[: render.QUESTION_MAX]
    assert render.question_from_footer(render.footer_for(question)) == question


# ---- real answers from the bundled article ---------------------------------------------------


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine.open(tmp_path_factory.mktemp("index"), [ARTICLE])


CITATION = re.compile(r"¶(\d+) · sentence (\d+) · chars (\d+)–(\d+) · (.+)")


def test_answer_cites_the_exact_span_of_the_quoted_passage(engine: Engine) -> None:
    answer = engine.ask("How many people were killed in the 1991-94 war?", 3)
    data = render.answer_embed(answer, engine.info().documents).to_dict()
    match = CITATION.search(data["description"])
    assert match is not None
    start, end = int(match[3]), int(match[4])
    article = ARTICLE.read_text(encoding="utf-8")
    assert article[start:end] == answer.hits[0].passage.text
    assert "About 30,000 **people** were **killed** in a **1991**" in data["description"]


def test_answer_lists_a_citation_for_every_result(engine: Engine) -> None:
    answer = engine.ask("Who brokered the ceasefire?", 3)
    data = render.answer_embed(answer).to_dict()
    citations = [CITATION.search(data["description"])] + [CITATION.search(f["value"]) for f in data["fields"]]
    assert [m is not None for m in citations] == [True, True, True]
    article = ARTICLE.read_text(encoding="utf-8")
    for hit, match in zip(answer.hits, citations, strict=True):
        assert match is not None
        assert article[int(match[3]) : int(match[4])] == hit.passage.text
        assert (int(match[1]), int(match[2])) == (hit.sentence_citation.paragraph, hit.sentence_citation.number)


def test_not_covered_says_so_with_the_reason_and_what_the_article_covers(engine: Engine) -> None:
    answer = engine.ask("What is the capital of Peru?", 3)
    data = render.answer_embed(answer, engine.info().documents).to_dict()
    assert data["title"] == "Not covered by the article"
    assert "Peru" in data["description"]
    assert "U.S.\\-backed truce" in data["description"]
    assert "The 3rd truce in just over 2 weeks" in data["description"]
    assert len(data.get("fields", [])) <= 1


def test_the_closest_passage_is_labelled_as_not_an_answer() -> None:
    hit = _article_hit()
    answer = Answer("Is it raining?", answered=False, reason="The article does not mention rain.", hits=(hit,))
    fields = render.answer_embed(answer).to_dict()["fields"]
    assert [f["name"] for f in fields] == ["Closest passage (not an answer)"]


def test_user_and_article_text_cannot_mention_or_format() -> None:
    hit = _article_hit(text="Ping <@123> and @everyone with **bold** [x](http://evil)")
    answer = Answer("@here <@&5>?", answered=False, reason="<@1> @everyone", hits=(hit,))
    data = render.answer_embed(answer).to_dict()
    for text in [data["description"], *[f["value"] for f in data["fields"]]]:
        assert re.search(r"(?<!\\)<", text) is None
        assert re.search("@(?!\u200b)", text) is None


def test_long_passage_keeps_the_answering_sentence_in_view() -> None:
    filler = "Nothing to see here at all. " * 200
    text = filler + "The ceasefire was agreed on Sunday."
    hit = _article_hit(text=text, sentence_at=len(filler))
    description = render.answer_embed(Answer("When?", True, None, (hit,))).to_dict()["description"]
    assert "The ceasefire was agreed on Sunday" in description
    assert description.startswith("> … The ceasefire")


def test_more_results_embed_is_titled_with_the_ranks_it_shows(engine: Engine) -> None:
    answer = engine.ask("Who brokered the ceasefire?", 6)
    assert render.more_results_embed(answer, 3).title == "More results (4–6)"


def test_context_embed_marks_the_cited_passage(engine: Engine) -> None:
    around = engine.context(5, 1, 1)
    embed = render.context_embed(around, 5, [engine.citation(p) for p in around])
    assert embed.description is not None and embed.description.count("(cited)") == 1


def test_about_embed_names_the_documents_and_counts_passages(engine: Engine) -> None:
    data = render.about_embed(engine.info()).to_dict()
    assert f"**{engine.info().passages}** passages" in data["description"]
    assert data["fields"][0]["name"].startswith("U.S.\\-backed truce")
    assert "article.txt" in data["fields"][0]["value"]


def _article_hit(text: str = "A plain passage.", sentence_at: int = 0) -> Hit:
    sentence = text[sentence_at:]
    passage = Passage(0, 0, text, 100, 100 + len(text), 3, 3, (Sentence(3, 1, 100, 100 + len(text)),))
    cite = Citation("article.txt", "Title", 3, 3, 1, 1, 100, 100 + len(text))
    return Hit(1, 1.0, passage, cite, sentence, Sentence(3, 2, 100 + sentence_at, 100 + len(text)))


def test_escaped_question_is_shown_literally() -> None:
    assert escape_markdown("*really*?") == "\\*really\\*?"


def test_citation_links_the_title_when_the_document_has_a_url() -> None:
    hit = _article_hit()
    linked = replace(hit, citation=replace(hit.citation, url="https://example.com/a b)"))
    line = render.citation_line(linked)
    assert line == "¶3 · sentence 2 · chars 100–116 · [Title](https://example.com/a%20b%29)"


def test_a_url_that_is_not_http_is_not_linked() -> None:
    assert render.safe_url("javascript:alert(1)") is None and render.safe_url(None) is None
