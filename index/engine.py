"""The engine: open or build the index, answer questions, reindex without losing what serves.

Thread-safety: a ``Snapshot`` is immutable and replaced whole (one attribute assignment), so
``ask`` can run in worker threads while ``reindex`` or ``refresh`` swaps in a new generation.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import snapshot as snap
from .answer import AnswerConfig, answer, citation, prepare
from .bm25 import Bm25Params
from .chunking import ChunkConfig
from .documents import DEFAULT_MAX_BYTES, display_name, read_document
from .errors import DocumentError, IndexCorruptError, IndexNotFoundError, QuestionError
from .semantic import SemanticConfig
from .store import Fs, Store
from .tokenize import Tokenizer, TokenizerConfig
from .types import Answer, Citation, Document, IndexInfo, Passage, ReindexSummary

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """All engine choices in one place; the front ends build it from their settings."""

    chunk: ChunkConfig = field(default_factory=ChunkConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    bm25: Bm25Params = field(default_factory=Bm25Params)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    semantic: SemanticConfig = field(default_factory=SemanticConfig)
    max_document_bytes: int = DEFAULT_MAX_BYTES

    @property
    def index_params(self) -> snap.IndexParams:
        return snap.IndexParams(self.chunk, self.tokenizer, self.bm25, self.semantic)


class Engine:
    """Answers questions from the current index generation of one index folder."""

    def __init__(self, store: Store, config: EngineConfig, snapshot: snap.Snapshot) -> None:
        self.store = store
        self.config = config
        self.tokenizer = Tokenizer(config.tokenizer)
        self._snapshot = snapshot
        self._swap = threading.Lock()
        self._refused: str | None = None  # a CURRENT that named an unusable generation

    # ---- lifecycle -----------------------------------------------------------------------
    @classmethod
    def open(
        cls, index_dir: Path, sources: Sequence[Path] = (), config: EngineConfig | None = None, fs: Fs | None = None
    ) -> Engine:
        """Load the newest good generation; build one from ``sources`` if there is none or it is stale."""
        config = config or EngineConfig()
        store = Store(Path(index_dir), fs)
        try:
            loaded = store.load_latest(snap.load)
        except IndexNotFoundError:
            if not sources:
                raise IndexNotFoundError(f"No index in {index_dir} and no source files to build one from.") from None
            log.info("no index in %s yet: building it from %d file(s)", index_dir, len(sources))
            return cls._built(store, config, sources)
        except IndexCorruptError as err:
            if not sources:
                raise
            log.warning("index unusable (%s): rebuilding from the source files", err)
            return cls._built(store, config, sources)
        engine = cls(store, config, loaded)
        engine._rebuild_if_stale()
        return engine

    @classmethod
    def create(
        cls, index_dir: Path, paths: Sequence[Path], config: EngineConfig | None = None
    ) -> tuple[Engine, ReindexSummary]:
        """Build an index straight from ``paths``, replacing whatever the folder holds (even a damaged one)."""
        began = time.perf_counter()
        engine = cls._built(Store(Path(index_dir)), config or EngineConfig(), paths)
        return engine, _summary(None, engine._snapshot, time.perf_counter() - began)

    @classmethod
    def _built(cls, store: Store, config: EngineConfig, sources: Sequence[Path]) -> Engine:
        documents, paths = _read_all(sources, config.max_document_bytes)
        files, manifest = snap.build_files(documents, paths, config.index_params)
        return cls(store, config, snap.load(store.commit(files, manifest)))

    def _rebuild_if_stale(self) -> None:
        """Rebuild from the recorded source files when a parameter or a source's content changed."""
        current = self._snapshot
        reason = _staleness(current, self.config)
        if reason is None:
            return
        log.info("index %s is stale (%s): rebuilding", current.generation, reason)
        documents, paths = self._current_sources(current)
        files, manifest = snap.build_files(documents, paths, self.config.index_params)
        self._snapshot = snap.load(self.store.commit(files, manifest))

    def _current_sources(self, current: snap.Snapshot) -> tuple[list[Document], list[str | None]]:
        """Re-read each recorded source; a source that is gone is kept from the stored text."""
        documents: list[Document] = []
        for document, path in zip(current.documents, current.paths, strict=True):
            if path and Path(path).is_file():
                try:
                    documents.append(read_document(Path(path), self.config.max_document_bytes, document.source))
                    continue
                except DocumentError as err:
                    log.warning("keeping the indexed copy of %s: %s", document.source, err)
            documents.append(document)
        return documents, list(current.paths)

    # ---- questions -----------------------------------------------------------------------
    def ask(self, question: str, k: int = 3) -> Answer:
        """The ``k`` best passages for ``question``, or a reasoned "not covered"."""
        text = question.strip()
        limit = self.config.answer.max_question_chars
        if not text:
            raise QuestionError("The question is empty: type what you want to know about the text.")
        if len(text) > limit:
            raise QuestionError(f"The question is {len(text):,} characters long; ask in at most {limit:,}.")
        if not self.tokenizer(text):
            raise QuestionError(
                "The question has no words to search for (only punctuation, emoji or very common words); "
                "ask with a name, a place or a subject."
            )
        k = max(1, min(int(k), 50))
        return answer(text, self._snapshot, self.tokenizer, self.config.answer, k, self.config.semantic.blend())

    def warm(self) -> None:
        """Load the model and tables the first question needs, so that it answers as fast as the rest.

        Front ends call it in a background thread at start: a question that comes first waits for
        nothing more than it would have.
        """
        began = time.perf_counter()
        prepare(self._snapshot, self.tokenizer)
        log.debug("ready to answer in %.2f s", time.perf_counter() - began)

    def passage(self, passage_id: int) -> Passage:
        current = self._snapshot
        if not 0 <= passage_id < current.size:
            raise QuestionError(f"There is no passage {passage_id} in this index.")
        return current.passage(passage_id)

    def context(self, passage_id: int, before: int = 1, after: int = 1) -> tuple[Passage, ...]:
        """The passage with its neighbours from the same document, in order."""
        current = self._snapshot
        center = self.passage(passage_id)
        ids = range(max(0, passage_id - before), min(current.size, passage_id + after + 1))
        return tuple(p for p in (current.passage(i) for i in ids) if p.doc == center.doc)

    def document(self, doc: int) -> Document:
        return self._snapshot.documents[doc]

    def citation(self, passage: Passage) -> Citation:
        return citation(self._snapshot, passage)

    @property
    def generation(self) -> str:
        return self._snapshot.generation

    def info(self) -> IndexInfo:
        current = self._snapshot
        return IndexInfo(current.documents, current.size, current.generation, current.created_at, current.params)

    # ---- changes -------------------------------------------------------------------------
    def reindex(self, paths: Sequence[Path]) -> ReindexSummary:
        """Replace the corpus with these files; the old index serves until the new one is committed."""
        began = time.perf_counter()
        if not paths:
            raise DocumentError("Name at least one file to index.")
        documents, recorded = _read_all(paths, self.config.max_document_bytes)
        files, manifest = snap.build_files(documents, recorded, self.config.index_params)
        generation = self.store.commit(files, manifest)
        previous = self._snapshot
        with self._swap:
            self._snapshot = snap.load(generation)
        log.info("reindexed %d document(s) into %s", len(documents), generation.name)
        return _summary(previous, self._snapshot, time.perf_counter() - began)

    def refresh(self) -> bool:
        """Pick up a generation another process committed (e.g. a CLI reindex while the bot runs)."""
        try:
            name = self.store.current_name()
        except IndexCorruptError:
            name = None  # a damaged pointer: keep serving what is loaded
        if name is None or name in (self._snapshot.generation, self._refused):
            return False
        with self._swap:
            try:
                loaded = self.store.load_latest(snap.load)
            except IndexCorruptError as err:
                log.error("new index generation %s is unusable, still serving %s: %s", name, self.generation, err)
                self._refused = name  # tried once; try again only when CURRENT changes
                return False
            if loaded.generation == self._snapshot.generation:
                self._refused = name
                return False
            self._snapshot = loaded
        log.info("now serving index generation %s", self._snapshot.generation)
        return True


def _read_all(paths: Sequence[Path], max_bytes: int) -> tuple[list[Document], list[str | None]]:
    """Read every source or none: a bad file stops the reindex before anything is written."""
    documents = [read_document(Path(p), max_bytes) for p in paths]
    names = [d.source for d in documents]
    if len(set(names)) != len(names):
        documents = [read_document(Path(p), max_bytes, _unique_name(Path(p), names)) for p in paths]
    return documents, [snap.document_path(Path(p)) for p in paths]


def _unique_name(path: Path, names: list[str]) -> str:
    """Two files with the same base name are cited by their parent folder too."""
    name = display_name(path.name)
    return name if names.count(name) == 1 else display_name(f"{path.parent.name}{os.sep}{path.name}")


def _staleness(current: snap.Snapshot, config: EngineConfig) -> str | None:
    """Why the loaded generation no longer matches the configuration or its sources, if it doesn't."""
    if current.params != config.index_params.to_json():
        return "index parameters changed"
    for document, path in zip(current.documents, current.paths, strict=True):
        if path and Path(path).is_file() and _file_changed(Path(path), document.sha256):
            return f"{document.source} changed"
    return None


def _file_changed(path: Path, sha256: str) -> bool:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest() != sha256


def _summary(previous: snap.Snapshot | None, current: snap.Snapshot, seconds: float) -> ReindexSummary:
    """Compare two generations by source name and content hash."""
    old = {d.source: d.sha256 for d in previous.documents} if previous else {}
    new = {d.source: d.sha256 for d in current.documents}
    return ReindexSummary(
        documents=len(current.documents),
        passages=current.size,
        added=tuple(s for s in new if s not in old),
        removed=tuple(s for s in old if s not in new),
        changed=tuple(s for s in new if s in old and old[s] != new[s]),
        unchanged=tuple(s for s in new if s in old and old[s] == new[s]),
        previous_passages=previous.size if previous else None,
        generation=current.generation,
        seconds=seconds,
    )
