"""BM25 scores defined by rank-bm25, answered from posting lists with an exact, pruned top-k.

rank-bm25 0.2.2 is the definition: the same idf (``math.log``, the same epsilon floor summed in
the same order), the same average length, and per passage the same floating-point expression,
added term by term in query order. ``scores`` evaluates exactly that expression densely and
equals ``rank_bm25.BM25*.get_scores`` bit for bit (tests/test_bm25_exact.py); ``exact_scores``
does the same for chosen passages from their postings only.

``top_k`` returns exactly the ``k`` best of those scores (higher score first, equal scores by
lower passage id) without scoring every passage. It reasons in excess space: a passage's score
is ``sum(const) + sum(excess)``, where ``const`` is what a term adds to a passage without it
(BM25Plus adds ``idf * delta`` to every passage) and ``excess >= 0`` the extra where it occurs.

1. MaxScore (Turtle and Flood, 1995) over exact per-term bounds: terms are taken from the highest
   bound down and their postings accumulated as 8-bit quantized excesses (lower bounds), until the
   bounds of the terms left add up to less than the k-th best lower bound. A passage holding none
   of the taken terms cannot reach the top-k, so long lists of common words are not scanned (a
   short next list is scanned anyway when that is cheaper than looking many candidates up in it).
2. The passages whose upper bound still reaches that threshold are scored exactly (a binary search
   per term into its postings); when there are many, the best by lower bound go first, and their
   k-th exact score rules out most of the rest. The survivors are sorted by the tie rule.

Every comparison keeps a margin far above floating-point rounding and quantization error, so a
passage is only ever dropped when it is strictly below k others: the result is exactly rank-bm25's
top-k (tests/test_bm25_topk.py checks it against rank-bm25 on random and real corpora).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Variant = Literal["okapi", "plus", "l"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
IMPACT_LEVELS = 255  # excesses are quantized to uint8 for the pruning pass only
_BLOCK = 1 << 21  # postings per slice when computing contributions (bounded memory)
_MARGIN = 1e-9  # relative safety margin: rounding error is ~1e-16 per operation
_REFINE = 8  # more candidates than this many times k: score the best few first to prune the rest
_HEAD = 3  # how many times k candidates that first round scores
_SCAN_RATIO = 2  # a candidate looked up in each term costs about this many scanned postings


class NoTermsError(ValueError):
    """Nothing to index: no passages, or not a single term in any of them."""


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
    """Posting lists (CSR by term) with the statistics rank-bm25 scores from, plus pruning bounds."""

    params: Bm25Params
    vocab: dict[str, int]  # term -> id, ids in first-occurrence order (rank-bm25's dict order)
    doc_len: IntArray  # tokens per passage
    avgdl: float
    idf: FloatArray  # per term id
    indptr: IntArray  # postings of term t are [indptr[t], indptr[t+1])
    doc_ids: npt.NDArray[np.int32]  # ascending within each term's postings
    tf: npt.NDArray[np.integer[Any]]  # term count per posting (uint8 unless a count passes 255)
    const: FloatArray  # per term: its score in a passage without it (BM25Plus: idf * delta)
    bound: FloatArray  # per term: the largest excess (score minus const) of any of its postings
    scale: FloatArray  # per term: excess per impact level
    impact: npt.NDArray[np.uint8]  # per posting: floor(excess / scale), for pruning only
    _local: threading.local = field(default_factory=threading.local, init=False, repr=False, compare=False)
    _prunable_params: bool = field(default=False, init=False, repr=False, compare=False)
    _idf_nonnegative: bool = field(default=False, init=False, repr=False, compare=False)
    _norm: FloatArray = field(default_factory=lambda: np.empty(0), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Plain views of the (memory-mapped) arrays; decide once whether pruning is sound (``_prunable``)."""
        for name in ("doc_len", "idf", "indptr", "doc_ids", "tf", "const", "bound", "scale", "impact"):
            # np.memmap slices run Python code on every operation; a plain view shares the same pages
            object.__setattr__(self, name, np.asarray(getattr(self, name)))
        p = self.params
        sane = p.k1 > 0 and 0 <= p.b <= 1 and p.delta >= 0
        if p.b == 1 and self.size and int(self.doc_len.min()) == 0:
            sane = False  # rank-bm25 scores an empty passage 0/0 = nan when b = 1
        object.__setattr__(self, "_prunable_params", sane)
        object.__setattr__(self, "_idf_nonnegative", bool(self.idf.size == 0 or float(self.idf.min()) >= 0))
        object.__setattr__(self, "_norm", _length_norm(np.asarray(self.doc_len), self.avgdl, p))

    @property
    def size(self) -> int:
        """Number of passages."""
        return int(self.doc_len.shape[0])

    def df(self, term_id: int) -> int:
        """Number of passages containing the term."""
        return int(self.indptr[term_id + 1] - self.indptr[term_id])

    def term_ids(self, terms: Sequence[str]) -> list[int]:
        """Ids of the known terms, in the given order (unknown terms add 0 in rank-bm25 too)."""
        vocab = self.vocab
        return [vocab[t] for t in terms if t in vocab]

    def scores(self, term_ids: Sequence[int]) -> FloatArray:
        """Every passage's score: rank-bm25's ``get_scores`` line, term by term, densely (the reference)."""
        scores = np.zeros(self.size)
        for t in term_ids:
            lo, hi = int(self.indptr[t]), int(self.indptr[t + 1])
            q_freq = np.zeros(self.size, np.int64)
            q_freq[self.doc_ids[lo:hi]] = self.tf[lo:hi]
            scores += _expression(float(self.idf[t]), q_freq, self.doc_len, self.avgdl, self.params)
        return scores

    def exact_scores(self, term_ids: Sequence[int], docs: npt.ArrayLike) -> FloatArray:
        """What ``scores`` gives these passages, from their postings only (a binary search per term).

        The same expression on the same operands as rank-bm25 (a term's count is 0 where it is
        absent), then added term by term in query order: bit for bit the same numbers.
        """
        docs = np.asarray(docs, np.intp)
        distinct = list(dict.fromkeys(term_ids))
        found = np.empty((len(distinct), docs.shape[0]), self.doc_ids.dtype)
        counts = np.empty((len(distinct), docs.shape[0]), self.tf.dtype)
        ends = self.indptr[distinct].tolist(), self.indptr[[t + 1 for t in distinct]].tolist()
        doc_ids, tf = self.doc_ids, self.tf
        for i, (lo, hi) in enumerate(zip(*ends, strict=True)):
            pos = doc_ids[lo:hi].searchsorted(docs)
            doc_ids[lo:hi].take(pos, out=found[i], mode="clip")
            tf[lo:hi].take(pos, out=counts[i], mode="clip")
        q_freq = np.where(found == docs, counts, 0)
        if len(distinct) < len(term_ids):
            where = {t: i for i, t in enumerate(distinct)}
            q_freq = q_freq[[where[t] for t in term_ids]]
        terms = _term_score(self.idf[list(term_ids)][:, None], q_freq, self._norm[docs], self.params)
        # rank-bm25 adds term by term in query order, from 0.0: a running sum, then + 0.0 (turns -0.0 into 0.0)
        return np.add.accumulate(terms, axis=0)[-1] + 0.0 if len(term_ids) else np.zeros(docs.shape[0])

    def top_k(self, term_ids: Sequence[int], k: int) -> tuple[IntArray, FloatArray]:
        """The ``k`` best passages: higher score first, equal scores by lower passage id."""
        k = max(0, min(int(k), self.size))
        terms = list(term_ids)
        if k == 0:
            return np.empty(0, np.int64), np.empty(0)
        if not terms:
            return np.arange(k, dtype=np.int64), np.zeros(k)
        if not self._prunable(terms):
            return _select_dense(self.scores(terms), k)
        docs, scores = _Pruner(self, terms, k).rank()
        return _select(docs, scores, k)

    def _prunable(self, terms: list[int]) -> bool:
        """Pruning needs excesses >= 0 and one const for all passages: true for sane parameters.

        With idf >= 0, k1 > 0, 0 <= b <= 1 and delta >= 0, a term adds at least its const to a passage
        that holds it (rounding is monotone). BM25Okapi's epsilon floor can make an idf negative, and
        with b = 1 rank-bm25 scores an empty passage 0/0 = nan: those queries take the dense path.
        """
        if not self._prunable_params:
            return False
        return self._idf_nonnegative or bool((self.idf[terms] >= 0).all())

    def scratch(self) -> tuple[FloatArray, IntArray]:
        """This thread's per-passage work arrays: an accumulator kept at zero between queries, and marks."""
        pair: tuple[FloatArray, IntArray] | None = getattr(self._local, "pair", None)
        if pair is None:
            pair = (np.zeros(self.size), np.zeros(self.size, np.int64))
            self._local.pair = pair
        return pair

    def arrays(self) -> dict[str, np.ndarray]:
        """The numpy arrays to persist."""
        return {
            "doc_len": self.doc_len,
            "idf": self.idf,
            "indptr": self.indptr,
            "doc_ids": self.doc_ids,
            "tf": self.tf,
            "const": self.const,
            "bound": self.bound,
            "scale": self.scale,
            "impact": self.impact,
        }


class _Pruner:
    """One query's MaxScore pass: the passages that can still be in the top ``k``, scored exactly."""

    def __init__(self, index: Bm25Index, terms: list[int], k: int) -> None:
        self.index, self.terms, self.k = index, terms, k
        mult: dict[int, int] = {}
        for t in terms:  # a repeated query term counts as many times as it is repeated
            mult[t] = mult.get(t, 0) + 1
        distinct = list(mult)
        bounds, steps = index.bound[distinct].tolist(), index.scale[distinct].tolist()
        if len(distinct) < len(terms):
            bounds = [b * mult[t] for b, t in zip(bounds, distinct, strict=True)]
            steps = [s * mult[t] for s, t in zip(steps, distinct, strict=True)]
        order = sorted(range(len(bounds)), key=lambda i: (-bounds[i], distinct[i]))
        self.order = [distinct[i] for i in order]  # highest bound first
        self.weight = [steps[i] for i in order]
        self.rest = [0.0] * (len(order) + 1)  # rest[j]: bound of the terms after the first j
        for j in range(len(order) - 1, -1, -1):
            self.rest[j] = self.rest[j + 1] + bounds[order[j]]
        self.const = sum(index.const[terms].tolist())  # for the margins only: any order will do
        self.margin = _MARGIN * (1.0 + self.rest[0] + self.const)
        self.taken: list[npt.NDArray[np.intp]] = []

    def rank(self) -> tuple[IntArray, FloatArray]:
        """Candidates with their exact scores: a superset of the top ``k``."""
        docs, lower, threshold = self._bounds()
        if threshold <= 2 * self.margin:  # fewer than k passages surely score: all of them, plus ties
            docs = np.concatenate([docs, _first_missing(docs, self.k, self.index.size)])
            return docs, self.index.exact_scores(self.terms, docs)
        keep = lower >= threshold - self._slack()
        docs, lower = docs[keep], lower[keep]
        if docs.shape[0] > _REFINE * self.k:
            return self._refine(docs, lower)
        return docs, self.index.exact_scores(self.terms, docs)

    def _bounds(self) -> tuple[IntArray, FloatArray, float]:
        """Passages holding a taken term, their lower bounds, and the k-th best lower bound."""
        index, first = self.index, self.order[0]
        lo, hi = int(index.indptr[first]), int(index.indptr[first + 1])
        threshold = _kth(index.impact[lo:hi], self.k) * self.weight[0]  # the top term's k-th lower bound
        upto = self._needed(threshold, 1)
        if upto == 1:
            lower = index.impact[lo:hi] * self.weight[0]
            upto = self._worth_scanning(lower, threshold, 1)
            if upto == 1:  # the top term alone decides
                self.taken.append(index.doc_ids[lo:hi].astype(np.intp))
                return self.taken[0], lower, threshold
        acc, seen = index.scratch()
        docs, gathered = np.empty(0, np.intp), 0
        try:
            while True:
                for j in range(len(self.taken), upto):
                    self._add(acc, self.order[j], self.weight[j])
                docs, lower = self._gather(acc, seen)
                gathered = len(self.taken)
                threshold = max(threshold, _kth(lower, self.k))
                upto = self._needed(threshold, len(self.taken))
                if upto <= len(self.taken):
                    upto = self._worth_scanning(lower, threshold, len(self.taken))
                    if upto == len(self.taken):
                        return docs, lower, threshold
        finally:  # leave the accumulator all zero for the next query
            if gathered == len(self.taken):
                acc[docs] = 0.0
            else:
                for taken in self.taken:
                    acc[taken] = 0.0

    def _worth_scanning(self, lower: FloatArray, threshold: float, taken: int) -> int:
        """How many terms to take in all, counting the next ones whose scan costs less than lookups.

        MaxScore may stop while many passages are within the untaken terms' bound of the threshold;
        each would then be searched for in every query term, so short next lists are worth a scan.
        """
        if taken >= len(self.order):
            return taken
        slack = math.fsum(self.weight[:taken]) + self.rest[taken] + 2 * self.margin
        budget = int(np.count_nonzero(lower >= threshold - slack)) * len(self.terms) * _SCAN_RATIO
        while taken < len(self.order) and self.index.df(self.order[taken]) < budget:
            taken += 1
        return taken

    def _add(self, acc: FloatArray, t: int, weight: float) -> None:
        """Add a term's quantized excesses (lower bounds) into the accumulator."""
        index = self.index
        lo, hi = int(index.indptr[t]), int(index.indptr[t + 1])
        ids = index.doc_ids[lo:hi].astype(np.intp)  # int32 fancy indexing is ~3x slower
        self.taken.append(ids)  # first, so the accumulator is reset even if the addition fails
        acc[ids] += index.impact[lo:hi] * weight

    def _gather(self, acc: FloatArray, seen: IntArray) -> tuple[IntArray, FloatArray]:
        """Each passage holding a taken term once, with its accumulated lower bound.

        ``seen[id] = position`` keeps one position per passage, whichever write wins.
        """
        ids = np.concatenate(self.taken) if len(self.taken) > 1 else self.taken[0]
        positions = np.arange(ids.shape[0])
        seen[ids] = positions
        docs = ids[seen[ids] == positions]
        return docs, acc[docs]

    def _needed(self, threshold: float, taken: int) -> int:
        """How many terms (from the highest bound) must be taken so the others are non-essential."""
        for j in range(taken, len(self.rest)):
            if self.rest[j] + 2 * self.margin < threshold:
                return max(j, 1)
        return len(self.order)

    def _slack(self) -> float:
        """How far above its lower bound a candidate's excess may be: quantization, untaken terms, rounding."""
        taken = len(self.taken)
        return float(math.fsum(self.weight[:taken]) + self.rest[taken] + 2 * self.margin)

    def _refine(self, docs: IntArray, lower: FloatArray) -> tuple[IntArray, FloatArray]:
        """Score the best lower bounds exactly first; their k-th score then rules out most of the rest."""
        n, head = docs.shape[0], _HEAD * self.k
        first = np.argpartition(lower, n - head)[n - head :]
        head_scores = self.index.exact_scores(self.terms, docs[first])
        kth = float(np.partition(head_scores, head - self.k)[head - self.k])
        keep = lower >= kth - self.const - self._slack() - self.margin
        keep[first] = False
        tail = docs[keep]
        scores = self.index.exact_scores(self.terms, tail)
        return np.concatenate([docs[first], tail]), np.concatenate([head_scores, scores])


def _kth(values: npt.NDArray[Any], k: int) -> float:
    """The k-th largest value, or 0 when there are fewer than k."""
    n = values.shape[0]
    return float(np.partition(values, n - k)[n - k]) if n >= k else 0.0


def _first_missing(present: IntArray, k: int, size: int) -> IntArray:
    """The ``k`` lowest passage ids not in ``present`` (distinct ids): the best of the equal-scoring rest."""
    ids = np.arange(min(size, k + present.shape[0]), dtype=np.int64)
    return ids[~np.isin(ids, present)][:k]


def _select(docs: npt.NDArray[np.int64], scores: FloatArray, k: int) -> tuple[IntArray, FloatArray]:
    """Top ``k`` of scored candidates: higher score first, then lower passage id."""
    order = np.lexsort((docs, -scores))[:k]
    return docs[order], scores[order]


def _select_dense(scores: FloatArray, k: int) -> tuple[IntArray, FloatArray]:
    """Top ``k`` of a full score vector with the same rule, without sorting everything."""
    size = scores.shape[0]
    if k < size:
        threshold = np.partition(scores, size - k)[size - k]
        pool = np.flatnonzero(scores >= threshold)
    else:
        pool = np.arange(size)
    return _select(pool.astype(np.int64), scores[pool], k)


def build(corpus: Iterable[Sequence[str]], params: Bm25Params) -> Bm25Index:
    """Index tokenized passages in memory (small inputs; ``index.bulk`` streams big ones)."""
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
        raise NoTermsError("cannot index an empty corpus (rank-bm25 divides by zero)")
    return from_postings(
        vocab,
        np.asarray(lengths, np.int64),
        np.asarray(term_col, np.int64),
        np.asarray(doc_col, np.int32),
        np.asarray(tf_col, np.int64),
        params,
    )


def from_postings(
    vocab: dict[str, int],
    doc_len: IntArray,
    term_col: IntArray,
    doc_col: npt.NDArray[np.int32],
    tf_col: IntArray,
    params: Bm25Params,
) -> Bm25Index:
    """Sort (term, doc, tf) triples (doc ascending per term) into CSR and finish the index."""
    order = np.lexsort((doc_col, term_col))
    df = np.bincount(term_col, minlength=len(vocab)).astype(np.int64)
    indptr = np.zeros(len(vocab) + 1, np.int64)
    np.cumsum(df, out=indptr[1:])
    return finish(vocab, doc_len, indptr, doc_col[order].astype(np.int32), compact_tf(tf_col[order]), params)


def compact_tf(tf: npt.ArrayLike) -> npt.NDArray[np.integer[Any]]:
    """Term counts in the smallest integer type that holds them (most are below 256)."""
    counts = np.asarray(tf)
    top = int(counts.max()) if counts.size else 0
    dtype = np.uint8 if top <= 0xFF else np.uint16 if top <= 0xFFFF else np.int32
    return counts.astype(dtype, copy=False)


def finish(
    vocab: dict[str, int],
    doc_len: IntArray,
    indptr: IntArray,
    doc_ids: npt.NDArray[np.int32],
    tf: npt.NDArray[Any],
    params: Bm25Params,
) -> Bm25Index:
    """rank-bm25's idf and average length from CSR postings, then each term's pruning bounds."""
    size = int(doc_len.shape[0])
    if size == 0:
        raise NoTermsError("cannot index an empty corpus (rank-bm25 divides by zero)")
    total = int(doc_len.sum())
    if total == 0:
        raise NoTermsError("cannot index passages without a single term (the average length is 0)")
    avgdl = total / size
    idf = idf_values(np.diff(indptr), size, params)
    const = _expression(idf, np.zeros(idf.shape[0], np.int64), np.ones(idf.shape[0], np.int64), avgdl, params)
    bound, scale, impact = impacts(_Postings(idf, const, indptr, doc_ids, tf, doc_len, avgdl, params))
    return Bm25Index(params, vocab, doc_len, avgdl, idf, indptr, doc_ids, tf, const, bound, scale, impact)


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
    for value in values:  # the same order as rank-bm25's dict: first occurrence in the corpus
        idf_sum += value
    eps = params.epsilon * (idf_sum / len(values)) if values else 0.0
    return np.array([eps if v < 0 else v for v in values], np.float64)


@dataclass(frozen=True, slots=True)
class _Postings:
    """What the per-posting excess is computed from: rank-bm25's statistics and the CSR postings."""

    idf: FloatArray
    const: FloatArray
    indptr: IntArray
    doc_ids: npt.NDArray[np.int32]
    tf: npt.NDArray[Any]
    doc_len: IntArray
    avgdl: float
    params: Bm25Params


def impacts(postings: _Postings) -> tuple[FloatArray, FloatArray, npt.NDArray[np.uint8]]:
    """Per term the largest excess and its quantization step; per posting its quantized excess.

    Computed a slice of terms at a time so a billion postings never need a float each in memory.
    """
    vocab_size, indptr = postings.idf.shape[0], postings.indptr
    bound, scale = np.zeros(vocab_size), np.ones(vocab_size)
    impact = np.zeros(postings.doc_ids.shape[0], np.uint8)
    first = 0
    while first < vocab_size:
        last = max(first + 1, int(np.searchsorted(indptr, indptr[first] + _BLOCK, side="right")) - 1)
        last = min(last, vocab_size)
        _impact_slice(postings, first, last, bound, scale, impact)
        first = last
    return bound, scale, impact


def _impact_slice(
    p: _Postings, first: int, last: int, bound: FloatArray, scale: FloatArray, impact: npt.NDArray[np.uint8]
) -> None:
    """Fill ``bound``, ``scale`` and ``impact`` for terms ``first..last-1`` (each has >= 1 posting)."""
    lo, hi = int(p.indptr[first]), int(p.indptr[last])
    counts = np.diff(p.indptr[first : last + 1])
    contrib = _expression(
        np.repeat(p.idf[first:last], counts),
        p.tf[lo:hi].astype(np.int64),
        p.doc_len[p.doc_ids[lo:hi]],
        p.avgdl,
        p.params,
    )
    excess = contrib - np.repeat(p.const[first:last], counts)
    starts = (p.indptr[first:last] - lo).astype(np.int64)
    top = np.maximum.reduceat(excess, starts)
    bound[first:last] = np.maximum(top, 0.0)
    step = np.where(top > 0, top / IMPACT_LEVELS, 1.0)
    scale[first:last] = step
    levels = np.floor(excess / np.repeat(step, counts))
    impact[lo:hi] = np.clip(levels, 0, IMPACT_LEVELS).astype(np.uint8)


def _expression(idf: Any, q_freq: Any, doc_len: Any, avgdl: float, p: Bm25Params) -> Any:
    """The per-term line of ``get_scores`` in rank-bm25 0.2.2, operand for operand (arrays broadcast)."""
    return _term_score(idf, q_freq, _length_norm(doc_len, avgdl, p), p)


def _length_norm(doc_len: Any, avgdl: float, p: Bm25Params) -> Any:
    """The length part of rank-bm25's denominator, evaluated as it does (``k1 * (...)`` except in BM25L)."""
    base = 1 - p.b + p.b * doc_len / avgdl
    return base if p.variant == "l" else p.k1 * base


def _term_score(idf: Any, q_freq: Any, norm: Any, p: Bm25Params) -> Any:
    """rank-bm25's per-term expression given ``_length_norm``: the same operations in the same order."""
    k1 = p.k1
    if p.variant == "okapi":
        return idf * (q_freq * (k1 + 1) / (q_freq + norm))
    if p.variant == "plus":
        return idf * (p.delta + (q_freq * (k1 + 1)) / (norm + q_freq))
    ctd = q_freq / norm
    return idf * q_freq * (k1 + 1) * (ctd + p.delta) / (k1 + ctd + p.delta)
