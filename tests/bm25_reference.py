"""What the BM25 tests compare against: rank-bm25 itself, and a sample of the benchmark corpus."""

from __future__ import annotations

import functools
import json
import lzma
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import rank_bm25

from index.bm25 import Bm25Params

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "passages-250k.jsonl.xz"
QUESTIONS = ROOT / "bench" / "questions.txt"
VARIANTS = (
    Bm25Params("plus", 1.2, 0.75, delta=1.0),  # the engine's default
    Bm25Params("okapi", 1.5, 0.75, epsilon=0.25),  # rank-bm25's defaults for each class
    Bm25Params("l", 1.5, 0.75, delta=0.5),
)


def reference(corpus: Sequence[Sequence[str]], params: Bm25Params) -> rank_bm25.BM25:
    """rank-bm25's model of the variant, built from the same token lists."""
    docs = [list(tokens) for tokens in corpus]
    if params.variant == "okapi":
        return rank_bm25.BM25Okapi(docs, k1=params.k1, b=params.b, epsilon=params.epsilon)
    if params.variant == "plus":
        return rank_bm25.BM25Plus(docs, k1=params.k1, b=params.b, delta=params.delta)
    return rank_bm25.BM25L(docs, k1=params.k1, b=params.b, delta=params.delta)


def reference_top_k(scores: npt.NDArray[np.float64], k: int) -> npt.NDArray[np.int64]:
    """The documented rule on rank-bm25's scores: higher score first, equal scores by lower passage id."""
    return np.lexsort((np.arange(scores.shape[0]), -scores))[:k].astype(np.int64)


@functools.cache
def corpus_texts(count: int = 2000) -> tuple[str, ...]:
    """The first ``count`` passages of ../shared/corpus (a representative mix: the file is shuffled)."""
    if not CORPUS.is_file():
        pytest.fail(
            f"The benchmark corpus is missing: {CORPUS}. It sits next to the checkout (../shared/corpus, "
            "see its README); CI provides it, so these tests never skip.",
            pytrace=False,
        )
    texts: list[str] = []
    with lzma.open(CORPUS, "rt", encoding="utf-8") as handle:
        for line in handle:
            texts.append(json.loads(line)["text"])
            if len(texts) == count:
                break
    return tuple(texts)


@functools.cache
def questions() -> tuple[str, ...]:
    """The benchmark's 200 fixed questions."""
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return tuple(line for line in lines if line.strip() and not line.startswith("#"))
