"""BM25 scores defined by rank-bm25, answered from posting lists.

rank-bm25 is the definition: the same idf (``math.log``, the same epsilon floor summed in the
same order), the same average length, and per passage the same floating-point expression, added
term by term in query order. ``scores`` therefore equals ``rank_bm25.BM25*.get_scores`` bit for
bit (tests/test_bm25_exact.py), while a question touches only its own terms' postings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Variant = Literal["okapi", "plus", "l"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Bm25Params:
    """rank-bm25's parameters; ``variant`` picks BM25Okapi, BM25Plus or BM25L."""

    variant: Variant = "plus"
    k1: float = 1.2
    b: float = 0.75
    epsilon: float = 0.25  # BM25Okapi only
    delta: float = 1.0  # BM25Plus and BM25L

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Bm25Index:
    """Posting lists (CSR by term) plus each posting's precomputed score contribution."""

    params: Bm25Params
    vocab: dict[str, int]  # term -> id, ids in first-occurrence order (rank-bm25's dict order)
    doc_len: IntArray  # tokens per passage
    avgdl: float
    idf: FloatArray  # per term id
    indptr: IntArray  # postings of term t are [indptr[t], indptr[t+1])
    doc_ids: npt.NDArray[np.int32]
    tf: npt.NDArray[np.int32]
    contrib: FloatArray  # rank-bm25's per-term score of that passage
    const: FloatArray  # per term: the contribution to passages without it (BM25Plus/L add delta)

    @property
    def size(self) -> int:
        """Number of passages."""
        return int(self.doc_len.shape[0])

    def df(self, term_id: int) -> int:
        """Number of passages containing the term."""
        return int(self.indptr[term_id + 1] - self.indptr[term_id])

    def term_ids(self, terms: Sequence[str]) -> list[int]:
        """Ids of the known terms, in the given order (unknown terms score 0 in rank-bm25 too)."""
        vocab = self.vocab
        return [vocab[t] for t in terms if t in vocab]

    def scores(self, term_ids: Sequence[int]) -> FloatArray:
        """Every passage's score, exactly ``get_scores`` of rank-bm25 for these terms in this order."""
        scores = np.zeros(self.size)
        for t in term_ids:
            lo, hi = int(self.indptr[t]), int(self.indptr[t + 1])
            ids, contrib, const = self.doc_ids[lo:hi], self.contrib[lo:hi], float(self.const[t])
            if const == 0.0:
                scores[ids] += contrib
            else:
                before = scores[ids]
                scores += const
                scores[ids] = before + contrib
        return scores

    def top_k(self, term_ids: Sequence[int], k: int) -> tuple[IntArray, FloatArray]:
        """The ``k`` best passages: higher score first, equal scores by lower passage id."""
        scores = self.scores(term_ids)
        k = max(0, min(k, self.size))
        if k == 0:
            return np.empty(0, np.int64), np.empty(0)
        candidates = np.argpartition(-scores, k - 1)[:k] if k < self.size else np.arange(self.size)
        threshold = scores[candidates].min()
        pool = np.flatnonzero(scores >= threshold)
        order = pool[np.lexsort((pool, -scores[pool]))][:k]
        return order.astype(np.int64), scores[order]

    def arrays(self) -> dict[str, np.ndarray]:
        """The numpy arrays to persist."""
        return {
            "doc_len": self.doc_len,
            "idf": self.idf,
            "indptr": self.indptr,
            "doc_ids": self.doc_ids,
            "tf": self.tf,
            "contrib": self.contrib,
            "const": self.const,
        }


def build(corpus: Iterable[Sequence[str]], params: Bm25Params) -> Bm25Index:
    """Index tokenized passages with rank-bm25's statistics, without rank-bm25's Python loops at query time."""
    vocab: dict[str, int] = {}
    lengths: list[int] = []
    term_col: list[int] = []
    doc_col: list[int] = []
    tf_col: list[int] = []
    for doc_id, tokens in enumerate(corpus):
        counts: dict[int, int] = {}
        for token in tokens:
            tid = vocab.setdefault(token, len(vocab))
            counts[tid] = counts.get(tid, 0) + 1
        lengths.append(len(tokens))
        term_col.extend(counts)
        doc_col.extend([doc_id] * len(counts))
        tf_col.extend(counts.values())
    if not lengths:
        raise ValueError("cannot index an empty corpus")
    return from_postings(
        vocab,
        np.asarray(lengths, np.int64),
        np.asarray(term_col, np.int64),
        np.asarray(doc_col, np.int32),
        np.asarray(tf_col, np.int32),
        params,
    )


def from_postings(
    vocab: dict[str, int],
    doc_len: IntArray,
    term_col: IntArray,
    doc_col: npt.NDArray[np.int32],
    tf_col: npt.NDArray[np.int32],
    params: Bm25Params,
) -> Bm25Index:
    """Sort (term, doc, tf) triples into CSR and precompute contributions."""
    order = np.argsort(term_col, kind="stable")
    doc_ids, tf = doc_col[order], tf_col[order]
    df = np.bincount(term_col, minlength=len(vocab)).astype(np.int64)
    indptr = np.zeros(len(vocab) + 1, np.int64)
    np.cumsum(df, out=indptr[1:])
    size = int(doc_len.shape[0])
    avgdl = int(doc_len.sum()) / size
    idf = idf_values(df, size, params)
    contrib, const = contributions(idf, indptr, doc_ids, tf, doc_len, avgdl, params)
    return Bm25Index(params, vocab, doc_len, avgdl, idf, indptr, doc_ids, tf, contrib, const)


def idf_values(df: IntArray, size: int, params: Bm25Params) -> FloatArray:
    """rank-bm25's ``_calc_idf`` for the variant, term by term with ``math.log`` (numpy's log may round differently)."""
    log = math.log
    freqs = df.tolist()
    if params.variant == "plus":
        return np.array([log((size + 1) / f) for f in freqs], np.float64)
    if params.variant == "l":
        return np.array([log(size + 1) - log(f + 0.5) for f in freqs], np.float64)
    values = [log(size - f + 0.5) - log(f + 0.5) for f in freqs]
    idf_sum = 0.0
    for value in values:
        idf_sum += value
    eps = params.epsilon * (idf_sum / len(values)) if values else 0.0
    return np.array([eps if v < 0 else v for v in values], np.float64)


def contributions(
    idf: FloatArray,
    indptr: IntArray,
    doc_ids: npt.NDArray[np.int32],
    tf: npt.NDArray[np.int32],
    doc_len: IntArray,
    avgdl: float,
    params: Bm25Params,
) -> tuple[FloatArray, FloatArray]:
    """Each posting's term score and each term's score at tf=0, with rank-bm25's exact expressions."""
    per_posting_idf = np.repeat(idf, np.diff(indptr))
    q_freq = tf.astype(np.int64)
    dl = doc_len[doc_ids]
    contrib = _expression(per_posting_idf, q_freq, dl, avgdl, params)
    const = _expression(idf, np.zeros(idf.shape[0], np.int64), np.ones(idf.shape[0], np.int64), avgdl, params)
    return contrib, const


def _expression(idf: FloatArray, q_freq: IntArray, doc_len: IntArray, avgdl: float, p: Bm25Params) -> FloatArray:
    """The per-term line of ``get_scores`` in rank-bm25 0.2.2, operand for operand."""
    k1, b = p.k1, p.b
    if p.variant == "okapi":
        return idf * (q_freq * (k1 + 1) / (q_freq + k1 * (1 - b + b * doc_len / avgdl)))
    if p.variant == "plus":
        return idf * (p.delta + (q_freq * (k1 + 1)) / (k1 * (1 - b + b * doc_len / avgdl) + q_freq))
    ctd = q_freq / (1 - b + b * doc_len / avgdl)
    return idf * q_freq * (k1 + 1) * (ctd + p.delta) / (k1 + ctd + p.delta)
