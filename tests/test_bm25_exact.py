"""The engine's BM25 scores are rank-bm25's ``get_scores``, bit for bit, on every passage.

Random corpora (hypothesis), the bundled article through the real indexing pipeline, and 2,000
passages of the benchmark corpus through the bulk builder, for BM25Okapi, BM25Plus and BM25L.
Also pinned: rank-bm25's own edge cases (issues #36, #39, #43), which are why the engine uses BM25Plus.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import rank_bm25
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index import EngineConfig, bm25, bulk
from index.bm25 import Bm25Index, Bm25Params
from index.chunking import chunk
from index.documents import read_document
from index.roles import passage_roles
from index.tokenize import Tokenizer, TokenizerConfig
from tests.bm25_reference import VARIANTS, corpus_texts, questions, reference
from tests.conftest import ARTICLE, stored_snapshot

WORDS = ["ab", "cd", "ef", "gh", "ij", "kl", "mn", "op"]


def assert_same_scores(index: Bm25Index, model: rank_bm25.BM25, query: Sequence[str]) -> None:
    """Dense scores and scores read from postings both equal rank-bm25's, bit for bit."""
    expected = model.get_scores(list(query))
    ids = index.term_ids(query)
    assert np.array_equal(index.scores(ids), expected)
    assert np.array_equal(index.exact_scores(ids, np.arange(index.size)), expected)


@st.composite
def corpora(draw: st.DrawFn) -> tuple[list[list[str]], Bm25Params]:
    """Small corpora over a small vocabulary (so terms repeat, tie and fill half the passages)."""
    vocab = WORDS[: draw(st.integers(1, len(WORDS)))]
    docs = draw(st.lists(st.lists(st.sampled_from(vocab), max_size=9), min_size=1, max_size=24))
    if not any(docs):
        docs[0] = [vocab[0]]
    variant = draw(st.sampled_from(["okapi", "plus", "l"]))
    # b = 1 only without empty passages: rank-bm25 computes 0/0 = nan for them, whatever the query
    b = draw(st.sampled_from([0.0, 0.3, 0.75, 1.0] if all(docs) else [0.0, 0.3, 0.75]))
    k1 = draw(st.sampled_from([0.5, 1.2, 1.5, 2.0]))
    delta = draw(st.sampled_from([0.5, 1.0, 1.7]))
    return docs, Bm25Params(variant, k1, b, delta=delta)


queries = st.lists(st.sampled_from([*WORDS, "zz", "unknown"]), max_size=7)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpora(), st.lists(queries, min_size=1, max_size=4))
def test_scores_equal_rank_bm25_on_random_corpora(
    case: tuple[list[list[str]], Bm25Params], qs: list[list[str]]
) -> None:
    docs, params = case
    index, model = bm25.build(docs, params), reference(docs, params)
    for query in qs:
        assert_same_scores(index, model, query)


@pytest.mark.parametrize("params", VARIANTS, ids=lambda p: p.variant)
@pytest.mark.parametrize(
    ("docs", "query"),
    [
        ([["x", "y"]], ["x"]),
        ([["x"], ["y"]], ["x", "y"]),
        ([["x", "a"], ["x"], ["b"], ["c", "b"]], ["x", "b"]),
        ([[], ["x", "x"], [], ["y"]], ["x", "y"]),
        ([["x", "y"], ["y"], ["x", "x", "x"]], ["x", "x", "y", "x"]),
        ([["x"], ["y"]], ["nowhere", "x", "nowhere"]),
        ([["x"], ["y"]], []),
        ([["x"] * 40, ["x"], ["y"] * 3], ["x", "y"]),
    ],
    ids=[
        "one-passage",
        "two-passages",
        "term-in-exactly-half",
        "empty-passages-among-others",
        "repeated-query-terms",
        "unknown-query-terms",
        "empty-query",
        "long-and-short-passages",
    ],
)
def test_scores_equal_rank_bm25_on_tiny_corpora(docs: list[list[str]], query: list[str], params: Bm25Params) -> None:
    assert_same_scores(bm25.build(docs, params), reference(docs, params), query)


def _article_index(params: Bm25Params, tmp: Path) -> tuple[Bm25Index, list[list[str]]]:
    """The article indexed as the engine does (chunks, tokens, role terms), stored and memory-mapped."""
    document = read_document(ARTICLE)
    index_params = EngineConfig(bm25=params).index_params
    snapshot = stored_snapshot([document], tmp, index_params, [str(ARTICLE)])
    tokenizer = Tokenizer(index_params.tokenizer)
    passages = chunk(document.text, 0, index_params.chunk)
    # what build_files indexes: the words and the role terms (one document: no title terms)
    found = passage_roles(passages, [document.text])
    tokens = [tokenizer(p.text) + terms for p, terms in zip(passages, found, strict=True)]
    return snapshot.index, tokens


@pytest.mark.parametrize("params", VARIANTS, ids=lambda p: p.variant)
def test_scores_equal_rank_bm25_on_the_article(params: Bm25Params, tmp_path: Path) -> None:
    index, tokens = _article_index(params, tmp_path)
    model = reference(tokens, params)
    tokenizer = Tokenizer()
    qa = (ARTICLE.parent / "tests" / "data" / "qa.jsonl").read_text(encoding="utf-8").splitlines()
    asked = [tokenizer(json.loads(line)["question"]) for line in qa if line.strip()]
    assert asked and index.size == len(tokens) > 10
    for query in [*asked, *([t] for t in index.vocab), list(index.vocab)]:
        assert_same_scores(index, model, query)


@pytest.fixture(scope="module")
def corpus_tokens() -> list[list[str]]:
    tokenizer = Tokenizer()
    return [tokenizer(text) for text in corpus_texts(2000)]


@pytest.mark.parametrize("params", VARIANTS, ids=lambda p: p.variant)
def test_scores_equal_rank_bm25_on_the_benchmark_corpus(params: Bm25Params, corpus_tokens: list[list[str]]) -> None:
    index = bulk.build(corpus_texts(2000), params, TokenizerConfig(), chunk_size=512, workers=1)
    model = reference(corpus_tokens, params)
    tokenizer, rng = Tokenizer(), random.Random(4)
    vocab = list(index.vocab)
    asked = [tokenizer(q) for q in questions()[:60]]
    sampled = [rng.sample(vocab, rng.randint(1, 6)) for _ in range(40)]
    common = sorted(vocab, key=lambda t: -index.df(index.vocab[t]))[:8]  # terms in most passages
    for query in [*asked, *sampled, common]:
        assert_same_scores(index, model, query)


# ---- rank-bm25's own edge cases: why the engine's default is BM25Plus ------------------------------


def test_rank_bm25_divides_by_zero_on_an_empty_corpus_issue_36() -> None:
    with pytest.raises(ZeroDivisionError):
        rank_bm25.BM25Okapi([])
    with pytest.raises(bm25.NoTermsError):
        bm25.build([], Bm25Params())


def test_okapi_gives_a_term_in_exactly_half_the_passages_idf_zero_issue_39() -> None:
    docs = [["windy", "london"], ["hello", "there"], ["windy", "athens"], ["weather", "today"]]
    okapi = rank_bm25.BM25Okapi(docs)
    assert okapi.idf["windy"] == 0.0
    assert okapi.get_scores(["windy"]).tolist() == [0.0, 0.0, 0.0, 0.0]  # the matches score like the rest
    plus = bm25.build(docs, Bm25Params("plus"))
    scores = plus.scores(plus.term_ids(["windy"]))
    assert scores[0] == scores[2] > scores[1] == scores[3]


def test_okapi_scores_a_two_passage_corpus_zero_issue_43() -> None:
    docs = [["hello", "there", "good", "man"], ["it", "is", "quite", "windy", "in", "london"]]
    assert rank_bm25.BM25Okapi(docs).get_scores(["windy", "london"]).tolist() == [0.0, 0.0]
    plus = bm25.build(docs, Bm25Params("plus"))
    assert plus.top_k(plus.term_ids(["windy", "london"]), 1)[0].tolist() == [1]


def test_okapi_scores_a_one_passage_corpus_negative() -> None:
    okapi = rank_bm25.BM25Okapi([["only", "passage"]])
    assert okapi.get_scores(["only"])[0] < 0  # idf log(0.5/1.5), floored at epsilon * itself
    plus = bm25.build([["only", "passage"]], Bm25Params("plus"))
    assert plus.scores(plus.term_ids(["only"]))[0] > 0


def test_plus_gives_every_passage_a_positive_score_so_no_answer_is_not_score_zero() -> None:
    docs = [["x"], ["y"], ["y", "z"]]
    plus = bm25.build(docs, Bm25Params("plus"))
    assert (plus.scores(plus.term_ids(["x"])) > 0).all()  # BM25Plus adds idf * delta to passages without x
