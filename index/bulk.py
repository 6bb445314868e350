"""Build a BM25 index from a stream of passages: tokens to integer ids, bounded memory, both cores.

Why not ``bm25.build``: at a million passages its ``list[list[str]]`` input alone is gigabytes and
its Python loop takes minutes. Here passages arrive in chunks of 8,192; each chunk is tokenized (in
worker processes for big inputs) straight into postings of that process's integer term ids; the
main process maps them to global ids (keeping rank-bm25's first-occurrence order) and holds about
3 bytes per posting, plus 8 per term and chunk, until the end, when a counting sort lays them out
as CSR. A million passages (44M postings) peak at about 0.8 GB for the whole process tree
(bench/results/scale.json); tokens are never held as lists of strings.

Tokens are exactly ``Tokenizer(config)(text)`` (tests/test_bulk.py checks it on random and real
text): each distinct word goes through the real tokenizer once and is memoised, and words are found
faster than by the tokenizer's regular expression but identically: ASCII text (no normalisation to
do) is split by a bytes translation unless it holds an acronym ("u.s.") or a thousands separator
("5,000"); typographic quotes and dashes become spaces; accents are folded by table lookups.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import re
import sys
import time
import unicodedata
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from . import bm25
from .tokenize import _TOKEN, Tokenizer, TokenizerConfig

log = logging.getLogger(__name__)

CHUNK = 8192  # passages per task: big enough to amortise the hand-over and term ids, small enough to stream
PARALLEL_MIN = 20_000  # below this many passages a process pool costs more than it saves
MEMO_LIMIT = 2_000_000  # distinct words remembered per process before the memo starts over
_SPACES = bytes(c if c < 0x80 and chr(c).isalnum() else 0x20 for c in range(256))  # [^\W_] in ASCII
_SHAPE = bytes(0x61 if chr(c).isalpha() and c < 0x80 else 0x30 if 0x30 <= c <= 0x39 else c for c in range(256))
_NO_TERM = -1


def _separator(char: str) -> bool:
    """A character the tokenizer's regex never puts in a word, and that accent folding leaves alone."""
    word = re.match(r"[^\W_]", char) is not None
    return not word and unicodedata.normalize("NFKD", char) == char and unicodedata.combining(char) == 0


# The commonest non-ASCII characters of real text after NFKC; replacing them by a space changes no token.
_MARKS = tuple(c for c in "\u2019\u201c\u201d\u2013\u2014\u2018\u2212\u00b0\u00a3" if _separator(c))

Chunk = tuple[list[str], list[Sequence[str]] | None]


@dataclass(frozen=True, slots=True)
class ChunkPostings:
    """One chunk's postings in the tokenizing process's term ids, grouped by term, passages ascending."""

    worker: int  # the process whose term ids these are
    new_terms: list[str]  # terms that process met for the first time in this chunk, in id order
    terms: npt.NDArray[np.int64]  # the process's id of each term group
    counts: npt.NDArray[np.int64]  # postings per group
    doc: npt.NDArray[np.uint16]  # passage within the chunk, per posting
    tf: npt.NDArray[Any]  # term count, per posting
    lengths: npt.NDArray[np.int64]  # terms per passage

    @property
    def passages(self) -> int:
        return int(self.lengths.shape[0])


class _WordIds(dict[str | bytes, int]):
    """Word as found in the text -> term id (``_NO_TERM`` for stopwords), filled on demand."""

    def __init__(self, terms: Terms) -> None:
        super().__init__()
        self.terms = terms

    def __missing__(self, word: str | bytes) -> int:
        term = self.terms.term(word)
        tid = _NO_TERM if term is None else self.terms.term_id(term)
        if len(self) >= MEMO_LIMIT:
            self.clear()
        self[word] = tid
        return tid


class Terms:
    """The engine tokenizer's terms as integer ids: memoised per distinct word, ASCII split without regex."""

    def __init__(self, config: TokenizerConfig) -> None:
        self.tokenizer = Tokenizer(config)
        self.fold = config.fold_accents
        self.ids: dict[str, int] = {}  # term -> id in this process, in first-occurrence order
        self.order: list[str] = []  # term by id
        self.sent = 0  # terms already reported with a chunk
        self.word_ids = _WordIds(self)
        self.split: dict[str | bytes, list[str]] = {}  # words the tokenizer turns into several terms

    def __call__(self, text: str) -> list[str]:
        """Exactly ``Tokenizer(config)(text)``."""
        return [t for word in self.words(text) for t in self.terms_of(word)]

    def term_id(self, term: str) -> int:
        """This process's id for ``term``, a new one at its first occurrence."""
        tid = self.ids.get(term)
        if tid is None:
            tid = self.ids[term] = len(self.order)
            self.order.append(term)
        return tid

    def words(self, text: str) -> list[str] | list[bytes]:
        """The tokenizer's words (before stopwords and stemming), as str or ASCII bytes."""
        if text.isascii():
            return _ascii_words(text.lower().encode("ascii"))  # NFKC and casefold are lower() on ASCII
        normal = unicodedata.normalize("NFKC", text).casefold()
        for mark in _MARKS:  # typographic quotes and dashes: word separators, whatever the folding
            if mark in normal:
                normal = normal.replace(mark, " ")
        if normal.isascii():
            return _ascii_words(normal.encode("ascii"))
        return self._unicode_words(text, normal)

    def _unicode_words(self, text: str, normal: str) -> list[str] | list[bytes]:
        """Fold accents by table; when no letter or digit is left outside ASCII, split as ASCII."""
        folded = unicodedata.normalize("NFKD", normal) if self.fold else normal
        points = np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), np.uint32)
        if int(points.max()) >= _PLANE:  # beyond the tables: the tokenizer's own way
            return _TOKEN.findall(self.tokenizer.normalize(text))
        combining, word = _tables()
        if self.fold:
            points = points[~combining[points]]
        outside = points >= 0x80
        if word[points[outside]].any():
            return _TOKEN.findall(points.tobytes().decode("utf-32-le", "surrogatepass"))
        return _ascii_words(np.where(outside, 0x20, points).astype(np.uint8).tobytes())

    def term(self, word: str | bytes) -> str | None:
        """The index term of one normalised word, or None for a stopword."""
        if word in self.split:
            raise _SplitWordError(repr(word))
        text = word.decode("ascii") if isinstance(word, bytes) else word
        terms = self.tokenizer(text)
        if len(terms) > 1:  # not expected (a token the regex found is one token alone); stay exact anyway
            self.split[word] = terms
            raise _SplitWordError(text)
        return terms[0] if terms else None

    def terms_of(self, word: str | bytes) -> list[str]:
        """All terms of one word: none, one, or (never seen) several."""
        if word not in self.split:
            try:
                tid = self.word_ids[word]
                return [] if tid == _NO_TERM else [self.order[tid]]
            except _SplitWordError:
                pass
        return self.split[word]

    def chunk(self, texts: Sequence[str], extra: Sequence[Sequence[str]] | None = None) -> ChunkPostings:
        """Tokenize passages (plus extra terms per passage, after its words) into postings."""
        try:
            flat, sizes = self._ids(texts, extra, fast=not self.split)
        except _SplitWordError:
            flat, sizes = self._ids(texts, extra, fast=False)
        new_terms, self.sent = self.order[self.sent :], len(self.order)
        return _postings(new_terms, np.array(flat, np.int64), np.array(sizes, np.int64))

    def _ids(
        self, texts: Sequence[str], extra: Sequence[Sequence[str]] | None, fast: bool
    ) -> tuple[list[int], list[int]]:
        """Term ids of every passage, concatenated; the fast path is one dict lookup per word."""
        lookup, term_id, words = self.word_ids.__getitem__, self.term_id, self.words
        flat: list[int] = []
        sizes: list[int] = []
        for i, text in enumerate(texts):
            before = len(flat)
            if fast:
                flat.extend(map(lookup, words(text)))  # C-level loop: the hot path
            else:
                flat.extend(term_id(t) for t in self(text))
            if extra is not None and extra[i]:
                flat.extend(term_id(t) for t in extra[i])
            sizes.append(len(flat) - before)
        return flat, sizes


class _SplitWordError(Exception):
    """A word the tokenizer turns into several terms: the chunk is redone word by word."""


_PLANE = 0x10000  # the character tables cover the Basic Multilingual Plane


@functools.cache
def _tables() -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per BMP code point: is it a combining mark (dropped by accent folding), is it a word character."""
    word_char = re.compile(r"[^\W_]")
    chars = [chr(i) for i in range(_PLANE)]
    combining = np.array([unicodedata.combining(c) != 0 for c in chars])
    word = np.array([word_char.match(c) is not None for c in chars])
    return combining, word


def _ascii_words(raw: bytes) -> list[str] | list[bytes]:
    """Words of lower-case ASCII text: bytes translation unless an acronym or 5,000 needs the regex."""
    shape = raw.translate(_SHAPE)
    if b"a.a." not in shape and b"0,0" not in shape:
        return raw.translate(_SPACES).split()
    return _TOKEN.findall(raw.decode("ascii"))


def _postings(new_terms: list[str], ids: npt.NDArray[np.int64], sizes: npt.NDArray[np.int64]) -> ChunkPostings:
    """Count (term, passage) pairs of one chunk with a sort, not a Python loop."""
    n = sizes.shape[0]
    doc = np.repeat(np.arange(n, dtype=np.int64), sizes)
    kept = ids != _NO_TERM
    ids, doc = ids[kept], doc[kept]
    lengths = np.bincount(doc, minlength=n).astype(np.int64)
    keys, tf = np.unique(ids * n + doc, return_counts=True)
    terms, counts = np.unique(keys // n, return_counts=True)
    doc_in_chunk = (keys % n).astype(np.uint16)
    return ChunkPostings(os.getpid(), new_terms, terms, counts, doc_in_chunk, bm25.compact_tf(tf), lengths)


class _IdMap:
    """One tokenizing process's term ids -> global ids."""

    def __init__(self) -> None:
        self.ids = np.zeros(1 << 12, np.int64)
        self.size = 0

    def extend(self, gids: npt.NDArray[np.int64]) -> None:
        if self.size + gids.shape[0] > self.ids.shape[0]:
            grown = np.zeros(2 * (self.size + gids.shape[0]), np.int64)
            grown[: self.size] = self.ids[: self.size]
            self.ids = grown
        self.ids[self.size : self.size + gids.shape[0]] = gids
        self.size += gids.shape[0]


@dataclass(frozen=True, slots=True)
class _Part:
    """A chunk's postings as kept until the CSR pass: ~3 bytes per posting plus 8 per term group."""

    gids: npt.NDArray[np.int32]  # global term id per group
    counts: npt.NDArray[np.int32]  # postings per group
    doc: npt.NDArray[np.uint16]  # passage within the chunk, per posting
    tf: npt.NDArray[Any]  # term count per posting (uint8 unless a count passes 255)
    lengths: npt.NDArray[np.int64]  # terms per passage


class Postings:
    """Global vocabulary and postings, gathered chunk by chunk in compact form."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.df = np.zeros(1 << 16, np.int64)
        self.maps: dict[int, _IdMap] = {}
        self.parts: deque[_Part] = deque()
        self.passages = 0

    def add(self, chunk: ChunkPostings) -> None:
        """Give the chunk's new terms the next global ids (first-occurrence order, as rank-bm25's dict).

        A term new to the corpus is new to the process that tokenized its chunk, and that process
        lists its new terms in order of first occurrence, so chunk order keeps the global order.
        """
        vocab = self.vocab
        fresh = np.fromiter((vocab.setdefault(t, len(vocab)) for t in chunk.new_terms), np.int64)
        mapping = self.maps.setdefault(chunk.worker, _IdMap())
        mapping.extend(fresh)
        gids = mapping.ids[chunk.terms]
        if len(vocab) > self.df.shape[0]:
            self.df = np.concatenate([self.df, np.zeros(max(len(vocab), self.df.shape[0]), np.int64)])
        self.df[gids] += chunk.counts
        counts = chunk.counts.astype(np.int32)
        self.parts.append(_Part(gids.astype(np.int32), counts, chunk.doc, chunk.tf, chunk.lengths))
        self.passages += chunk.passages

    def held_bytes(self) -> int:
        """Memory the waiting postings take (what bounds the build's peak with the final arrays)."""
        return sum(p.gids.nbytes + p.counts.nbytes + p.doc.nbytes + p.tf.nbytes for p in self.parts)

    def finish(self, params: bm25.Bm25Params) -> bm25.Bm25Index:
        """Lay the postings out as CSR (a counting sort by term), then compute scores' statistics."""
        if not self.passages:
            raise bm25.NoTermsError("there are no passages to index")
        df = self.df[: len(self.vocab)]
        indptr = np.zeros(len(self.vocab) + 1, np.int64)
        np.cumsum(df, out=indptr[1:])
        doc_ids = np.empty(int(indptr[-1]), np.int32)
        tf = np.empty(int(indptr[-1]), np.result_type(*[p.tf.dtype for p in self.parts]))
        lengths = np.concatenate([p.lengths for p in self.parts])
        cursor, offset = indptr[:-1].copy(), 0
        while self.parts:
            part = self.parts.popleft()  # freed as soon as it is placed
            _place(part, offset, cursor, doc_ids, tf)
            offset += part.lengths.shape[0]
        return bm25.finish(self.vocab, lengths, indptr, doc_ids, tf, params)


def _place(
    part: _Part, offset: int, cursor: npt.NDArray[np.int64], doc_ids: npt.NDArray[np.int32], tf: npt.NDArray[Any]
) -> None:
    """Append a chunk's postings after each term's earlier ones (chunks come in passage order)."""
    counts = part.counts.astype(np.int64)
    starts = np.cumsum(counts) - counts
    pos = np.repeat(cursor[part.gids] - starts, counts) + np.arange(part.doc.shape[0], dtype=np.int64)
    doc_ids[pos] = part.doc.astype(np.int32) + offset
    tf[pos] = part.tf
    cursor[part.gids] += counts


# ---- worker processes -----------------------------------------------------------------------
_WORKER: Terms | None = None


def _start_worker(stem: bool, stopwords: bool, fold_accents: bool, version: int) -> None:
    """Pool initializer: one memoising tokenizer per process."""
    global _WORKER
    _WORKER = Terms(TokenizerConfig(stem, stopwords, fold_accents, version))


def _work(chunk: Chunk) -> ChunkPostings:
    if _WORKER is None:
        raise RuntimeError("worker used before its initializer ran")
    return _WORKER.chunk(*chunk)


def _chunks(texts: Iterable[str], extra: Iterable[Sequence[str]] | None, size: int) -> Iterator[Chunk]:
    """Group the passage stream (and its extra terms) into lists of ``size``."""
    batch: list[str] = []
    more: list[Sequence[str]] = []
    extras = iter(extra) if extra is not None else None
    for text in texts:
        batch.append(text)
        if extras is not None:
            more.append(next(extras))
        if len(batch) == size:
            yield batch, (more if extras is not None else None)
            batch, more = [], []
    if batch:
        yield batch, (more if extras is not None else None)


def _tokenized(chunks: Iterator[Chunk], config: TokenizerConfig, workers: int) -> Iterator[ChunkPostings]:
    """Chunks tokenized in order, in this process or a pool with a bounded number in flight."""
    if workers <= 1:
        terms = Terms(config)
        for chunk in chunks:
            yield terms.chunk(*chunk)
        return
    args = (config.stem, config.stopwords, config.fold_accents, config.version)
    # spawn, not fork: the bot calls this from a thread of a process that runs an event loop
    with multiprocessing.get_context("spawn").Pool(workers, _start_worker, args) as pool:
        pending: deque[Any] = deque()
        for chunk in chunks:
            pending.append(pool.apply_async(_work, (chunk,)))
            if len(pending) > 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


class Progress:
    """A rich progress bar on the console (stderr) that appears once the work has taken a second."""

    def __init__(self, total: int | None, label: str, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total, self.label, self.done = total, label, 0
        self.began = time.monotonic()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, amount: int) -> None:
        """Count ``amount`` more items done; show the bar once a second has passed."""
        self.done += amount
        if self._bar is None and self.enabled and time.monotonic() - self.began > 1.0:
            self._show()
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)

    def _show(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._bar.add_task(self.label, total=self.total, completed=self.done)
        self._bar.start()


def build(
    texts: Iterable[str],
    params: bm25.Bm25Params,
    tokenizer: TokenizerConfig,
    *,
    extra: Iterable[Sequence[str]] | None = None,
    total: int | None = None,
    workers: int | None = None,
    progress: bool | None = None,
    chunk_size: int = CHUNK,
) -> bm25.Bm25Index:
    """Tokenize and index a stream of passages; ``extra[i]`` are terms added after passage i's words.

    ``total`` (if known) sizes the progress bar and keeps small inputs in this process; ``workers``
    defaults to every core for big or unknown-sized inputs. ``progress`` None means: on a terminal.
    """
    if not 0 < chunk_size <= 0xFFFF:
        raise ValueError("chunk_size must be between 1 and 65535 passages")
    if workers is None:
        workers = 1 if total is not None and total < PARALLEL_MIN else max(1, os.cpu_count() or 1)
    began = time.perf_counter()
    postings = Postings()
    with Progress(total, "indexing passages", progress) as bar:
        for chunk in _tokenized(_chunks(texts, extra, chunk_size), tokenizer, workers):
            postings.add(chunk)
            bar.advance(chunk.passages)
    tokenized = time.perf_counter()
    index = postings.finish(params)
    log.info(
        "indexed %d passages (%d terms, %d postings) in %.1f s (%.1f s tokenizing with %d process(es))",
        index.size,
        len(index.vocab),
        index.doc_ids.shape[0],
        time.perf_counter() - began,
        tokenized - began,
        workers,
    )
    return index
