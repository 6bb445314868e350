"""The streaming builder: the engine tokenizer's exact terms, the same index as ``bm25.build``, bounded memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index import bm25, bulk
from index.bm25 import Bm25Index, Bm25Params
from index.tokenize import Tokenizer, TokenizerConfig
from tests.bm25_reference import corpus_texts
from tests.conftest import ARTICLE

CONFIGS = [
    TokenizerConfig(),
    TokenizerConfig(stem=False),
    TokenizerConfig(stopwords=False),
    TokenizerConfig(fold_accents=False),
]
# Pieces where a faster path could part from the regex: acronyms, thousands, accents, ligatures,
# combining marks, curly quotes, other scripts, characters beyond the BMP, underscores, capitals.
PIECES = [
    "U.S.",
    "u.s.a.",
    "e.g.",
    "A.B",
    "5,000",
    "1,234,567",
    "12345,678",
    "3.14",
    "1,2",
    "café",
    "naïve",
    "Ångström",
    "ﬁnance",
    "’",
    "“quoted”",
    "—",
    "–",
    "…",
    "İstanbul",
    "straße",
    "ǅemal",
    "日本語",
    "Москва",
    "😀",
    "\u0301",
    "x\u0301y",
    "a_b",
    "Ⅻ",
    "x²",
    "١٢٣",
    "½",
    "ﬀ",
    "The",
    "THE",
    "running",
    "it's",
    "don't",
    "co-op",
    "\u00a0",
    "\t",
]
texts = st.lists(
    st.one_of(st.sampled_from(PIECES), st.text(max_size=6), st.sampled_from([" ", ". ", ", ", "\n"])), max_size=30
).map("".join)


def same_index(a: Bm25Index, b: Bm25Index) -> None:
    assert list(a.vocab) == list(b.vocab)  # first-occurrence order: BM25Okapi's epsilon sums idf in it
    for name, array in a.arrays().items():
        other = b.arrays()[name]
        assert array.dtype == other.dtype and np.array_equal(array, other), name
    assert a.avgdl == b.avgdl


@pytest.mark.parametrize("config", CONFIGS, ids=["default", "no-stem", "no-stopwords", "no-accent-folding"])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts)
def test_terms_are_exactly_the_tokenizers_on_any_text(config: TokenizerConfig, text: str) -> None:
    assert bulk.Terms(config)(text) == Tokenizer(config)(text)


@pytest.mark.parametrize("config", CONFIGS, ids=["default", "no-stem", "no-stopwords", "no-accent-folding"])
def test_terms_are_exactly_the_tokenizers_on_real_text(config: TokenizerConfig) -> None:
    terms, tokenizer = bulk.Terms(config), Tokenizer(config)
    article = ARTICLE.read_text(encoding="utf-8")
    for text in [article, *article.split("\n"), *corpus_texts(2000)]:
        assert terms(text) == tokenizer(text)


words = st.sampled_from(["Alpha", "beta", "the", "GAMMA", "delta's", "U.S.", "5,000", "café", "and", "run", "running"])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(words, max_size=12).map(" ".join), min_size=1, max_size=30),
    st.sampled_from(["okapi", "plus", "l"]),
    st.integers(1, 7),
    st.booleans(),
)
def test_bulk_build_equals_bm25_build(texts: list[str], variant: str, chunk_size: int, with_extra: bool) -> None:
    tokenizer, params = Tokenizer(), Bm25Params(variant)
    extra = [["⟨role⟩"] * (i % 3) for i in range(len(texts))] if with_extra else None
    tokens = [tokenizer(t) + (extra[i] if extra else []) for i, t in enumerate(texts)]
    if not any(tokens):
        with pytest.raises(bm25.NoTermsError):
            bulk.build(texts, params, TokenizerConfig(), extra=extra, chunk_size=chunk_size)
        return
    built = bulk.build(texts, params, TokenizerConfig(), extra=extra, chunk_size=chunk_size, workers=1)
    same_index(built, bm25.build(tokens, params))


def test_parallel_build_equals_in_process_build() -> None:
    """Two worker processes (each with its own term ids) give the very same index as one."""
    texts = corpus_texts(3000)
    one = bulk.build(texts, Bm25Params("okapi"), TokenizerConfig(), chunk_size=250, workers=1)
    two = bulk.build(iter(texts), Bm25Params("okapi"), TokenizerConfig(), chunk_size=250, workers=2)
    same_index(one, two)


@pytest.mark.parametrize("texts", [[], ["the and of", "!!!"]], ids=["no-passages", "only-stopwords"])
def test_nothing_to_index_is_a_clear_error(texts: list[str]) -> None:
    with pytest.raises(bm25.NoTermsError):
        bulk.build(texts, Bm25Params(), TokenizerConfig())


def test_postings_wait_in_a_few_bytes_each() -> None:
    """Until the CSR pass a posting costs a uint16 passage and a uint8 count, plus 8 bytes per term and chunk."""
    terms, postings = bulk.Terms(TokenizerConfig()), bulk.Postings()
    texts = corpus_texts(2000)
    for start in range(0, len(texts), 1000):
        postings.add(terms.chunk(texts[start : start + 1000]))
    count = sum(part.doc.shape[0] for part in postings.parts)
    assert postings.held_bytes() / count < 6


def test_the_progress_bar_appears_only_after_a_second(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = [100.0]
    monkeypatch.setattr(bulk.time, "monotonic", lambda: clock[0])
    with bulk.Progress(10, "indexing passages", enabled=True) as bar:
        bar.advance(3)
        assert bar._bar is None  # quick work shows nothing
        clock[0] += 1.5
        bar.advance(3)
        assert bar._bar is not None
    assert "indexing passages" in capsys.readouterr().err


def test_snapshot_builds_through_the_bulk_builder(tmp_path: Path) -> None:
    """The engine's own build (``snapshot.build_files``) goes through ``bulk.build``."""
    from index.documents import read_document
    from index.engine import EngineConfig
    from index.snapshot import build_files

    calls: list[int] = []
    original = bulk.build

    def spy(*args: object, **kwargs: object) -> Bm25Index:
        calls.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bulk, "build", spy)
        build_files([read_document(ARTICLE)], [None], EngineConfig().index_params)
    assert calls == [1]
