"""``top_k`` returns exactly the k best of rank-bm25's scores, with pruning on.

The rule: higher score first, equal scores by lower passage id. Checked against rank-bm25 itself
on random corpora built to tie a lot, and on 2,000 benchmark passages where MaxScore really skips
common terms (the tests check that it does), plus the question guards that bound a query's cost.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import rank_bm25
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index import Tokenizer, bm25, bulk
from index.answer import AnswerConfig, parse
from index.bm25 import Bm25Index, Bm25Params
from index.documents import parse_document
from index.snapshot import Snapshot
from index.tokenize import TokenizerConfig
from tests.bm25_reference import VARIANTS, corpus_texts, questions, reference, reference_top_k
from tests.conftest import stored_snapshot

WORDS = ["ab", "cd", "ef", "gh", "ij", "kl"]


def assert_exact_top_k(index: Bm25Index, model: rank_bm25.BM25, query: Sequence[str], k: int) -> None:
    """Same passages, same order, same scores as sorting rank-bm25's scores by the documented rule."""
    expected_scores = model.get_scores(list(query))
    expected = reference_top_k(expected_scores, k)
    ids, scores = index.top_k(index.term_ids(query), k)
    assert ids.tolist() == expected.tolist()
    assert np.array_equal(scores, expected_scores[expected])


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[list[str]], Bm25Params, list[str], int]:
    """Corpora with many equal scores (tiny vocabulary, repeated passages) and any k."""
    vocab = WORDS[: draw(st.integers(1, len(WORDS)))]
    pool = draw(st.lists(st.lists(st.sampled_from(vocab), max_size=6), min_size=1, max_size=6))
    docs = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=40))
    if not any(docs):
        docs = [*docs, [vocab[0]]]
    variant = draw(st.sampled_from(["okapi", "plus", "l"]))
    b = draw(st.sampled_from([0.0, 0.5, 0.75, 1.0] if all(docs) else [0.0, 0.5, 0.75]))
    params = Bm25Params(variant, draw(st.sampled_from([0.9, 1.2, 1.5])), b, delta=draw(st.sampled_from([0.5, 1.0])))
    query = draw(st.lists(st.sampled_from([*vocab, "unknown"]), max_size=5))
    return docs, params, query, draw(st.integers(0, len(docs) + 2))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_top_k_is_rank_bm25s_top_k_on_random_corpora(case: tuple[list[list[str]], Bm25Params, list[str], int]) -> None:
    docs, params, query, k = case
    assert_exact_top_k(bm25.build(docs, params), reference(docs, params), query, k)


@pytest.mark.parametrize(
    ("docs", "query", "k", "expected"),
    [
        ([["x"], ["x"], ["x"]], ["x"], 2, [0, 1]),
        ([["y"], ["x"], ["y"], ["x"]], ["x"], 3, [1, 3, 0]),
        ([["y"], ["z"], ["x"]], ["nowhere"], 2, [0, 1]),
        ([["x"], ["y"]], ["x"], 5, [0, 1]),
        ([["x"], ["y"]], ["x"], 0, []),
    ],
    ids=["equal-scores-by-lower-id", "then-the-rest-by-lower-id", "unknown-terms-only", "k-above-size", "k-zero"],
)
def test_top_k_tie_rule(docs: list[list[str]], query: list[str], k: int, expected: list[int]) -> None:
    index = bm25.build(docs, Bm25Params())
    assert index.top_k(index.term_ids(query), k)[0].tolist() == expected


def test_okapi_negative_idf_takes_the_exact_dense_path() -> None:
    docs = [["x", "y"], ["x"], ["x", "z"]]  # x in every passage: idf floored at a negative epsilon
    index = bm25.build(docs, Bm25Params("okapi"))
    assert float(index.idf[index.vocab["x"]]) < 0
    assert_exact_top_k(index, reference(docs, Bm25Params("okapi")), ["x", "z"], 2)


@pytest.fixture(scope="module")
def corpus_indexes() -> dict[str, tuple[Bm25Index, rank_bm25.BM25]]:
    """2,000 benchmark passages, indexed by the bulk builder and by rank-bm25, per variant."""
    tokenizer = Tokenizer()
    tokens = [tokenizer(text) for text in corpus_texts(2000)]
    built = {}
    for params in VARIANTS:
        index = bulk.build(corpus_texts(2000), params, TokenizerConfig(), chunk_size=700, workers=1)
        built[params.variant] = (index, reference(tokens, params))
    return built


@pytest.mark.parametrize("variant", ["plus", "okapi", "l"])
@pytest.mark.parametrize("k", [1, 3, 10, 50])
def test_top_k_is_rank_bm25s_top_k_on_the_benchmark_corpus(
    variant: str, k: int, corpus_indexes: dict[str, tuple[Bm25Index, rank_bm25.BM25]]
) -> None:
    index, model = corpus_indexes[variant]
    tokenizer = Tokenizer()
    for question in questions()[::2] if k > 1 else questions():
        assert_exact_top_k(index, model, tokenizer(question), k)


@pytest.fixture(scope="module")
def large_index() -> Bm25Index:
    """20,000 benchmark passages: enough for MaxScore to leave common terms unscanned."""
    return bulk.build(corpus_texts(20_000), Bm25Params(), TokenizerConfig(), workers=1)


@pytest.mark.parametrize("k", [1, 3, 10, 40])
def test_top_k_equals_the_dense_reference_on_20k_passages(large_index: Bm25Index, k: int) -> None:
    """Against ``scores`` (rank-bm25's numbers, tests/test_bm25_exact.py) sorted by the tie rule."""
    tokenizer = Tokenizer()
    for question in questions():
        terms = large_index.term_ids(tokenizer(question))
        ids, scores = large_index.top_k(terms, k)
        dense = large_index.scores(terms)
        assert ids.tolist() == reference_top_k(dense, k).tolist()
        assert np.array_equal(scores, dense[ids])


def test_pruning_skips_common_terms_and_refines(large_index: Bm25Index, monkeypatch: pytest.MonkeyPatch) -> None:
    """MaxScore leaves some terms' postings unscanned, and the exact-first round runs, on real text."""
    refined: list[int] = []
    original = bm25._Pruner._refine
    monkeypatch.setattr(bm25._Pruner, "_refine", lambda self, d, low: refined.append(1) or original(self, d, low))
    tokenizer, scanned, total, skipped = Tokenizer(), 0, 0, 0
    for question in questions():
        terms = large_index.term_ids(tokenizer(question))
        pruner = bm25._Pruner(large_index, terms, 10)
        pruner.rank()
        scanned += sum(len(ids) for ids in pruner.taken)
        total += sum(large_index.df(t) for t in set(terms))
        skipped += len(pruner.taken) < len(pruner.order)
    assert skipped >= 40, "common terms should often be left unscanned"
    assert scanned < 0.8 * total
    assert refined


def test_top_k_is_the_same_from_many_threads(corpus_indexes: dict[str, tuple[Bm25Index, rank_bm25.BM25]]) -> None:
    """Each thread has its own accumulator: concurrent questions don't see each other's sums."""
    index, _ = corpus_indexes["plus"]
    tokenizer = Tokenizer()
    queries = [index.term_ids(tokenizer(q)) for q in questions()]
    expected = [index.top_k(q, 10)[0].tolist() for q in queries]
    failures: list[int] = []

    def work() -> None:
        for _ in range(3):
            failures.extend(i for i, q in enumerate(queries) if index.top_k(q, 10)[0].tolist() != expected[i])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


# ---- question guards -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """The benchmark passages as one stored document, loaded like the engine loads it."""
    text = "Benchmark passages\n\n" + "\n\n".join(corpus_texts(2000))
    document = parse_document(text.encode("utf-8"), "passages.txt")
    return stored_snapshot([document], Path(tmp_path_factory.mktemp("corpus-index")))


def test_a_long_question_is_deduplicated_and_capped(corpus_snapshot: Snapshot) -> None:
    """A long (but allowed) question keeps its most informative terms only: it costs what a normal one does."""
    words = list(dict.fromkeys(w for text in corpus_texts(40) for w in text.lower().split() if w.isalpha()))
    question = " ".join(words[:110] + words[:30])  # 110 distinct words, 30 of them twice
    assert len(question) <= AnswerConfig().max_question_chars
    capped = parse(question, corpus_snapshot, Tokenizer(), AnswerConfig())
    every = parse(question, corpus_snapshot, Tokenizer(), AnswerConfig(max_terms=10_000))
    assert len(every.concepts) > len(capped.concepts) == AnswerConfig().max_terms
    assert len(set(capped.terms)) == len(capped.terms)
    kept = {c.word for c in capped.concepts}
    dropped = [c.weight for c in every.concepts if c.word not in kept]
    assert min(c.weight for c in capped.concepts) >= max(dropped)
    index = corpus_snapshot.index
    ids, _ = index.top_k(index.term_ids(capped.terms), 10)
    assert ids.shape == (10,)


def test_a_repeated_word_is_one_term(corpus_snapshot: Snapshot) -> None:
    query = parse("Who is the king? " + "king " * 150, corpus_snapshot, Tokenizer(), AnswerConfig())
    assert query.terms.count("king") == 1
