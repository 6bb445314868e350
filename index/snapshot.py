"""One loaded index generation: documents, passage spans and BM25 postings, read-only.

Passages are stored as numpy columns (not one JSON object each) so a million of them load by
memory-mapping in milliseconds; ``Passage`` objects are made only for the passages shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from . import bm25, bulk, semantic
from .chunking import ChunkConfig, chunk
from .errors import DocumentError, IndexCorruptError
from .roles import passage_roles
from .store import Generation, encode_array, encode_json, load_array
from .tokenize import Tokenizer, TokenizerConfig
from .types import Document, Passage, Sentence

I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]
# Bump when chunking, tokenizing or role terms change what an index holds: old indexes rebuild.
TITLE_MAX_WORDS = 12
PIPELINE_VERSION = 13  # 6: titles of 12 words at most; 7: sentence embeddings; 8: nth caption; 9: credit; 10: subtitle;
# 11: section headings; 12: the lead; 13: the byline
PASSAGE_COLUMNS = ("p_doc", "p_start", "p_end", "p_para", "p_para_end", "p_sent")
SENTENCE_COLUMNS = ("s_para", "s_num", "s_start", "s_end")
BM25_ARRAYS = ("doc_len", "idf", "indptr", "doc_ids", "tf", "const", "bound", "scale", "impact")


@dataclass(frozen=True, slots=True)
class IndexParams:
    """Everything that shapes an index; a change means the stored one is stale."""

    chunk: ChunkConfig
    tokenizer: TokenizerConfig
    bm25: bm25.Bm25Params
    semantic: semantic.SemanticConfig

    def to_json(self) -> dict[str, Any]:
        return {
            "pipeline": PIPELINE_VERSION,
            "chunk": {
                "min_words": self.chunk.min_words,
                "max_words": self.chunk.max_words,
                "merge_short": self.chunk.merge_short,
                "title_terms": self.chunk.title_terms,
            },
            "tokenizer": {
                "stem": self.tokenizer.stem,
                "stopwords": self.tokenizer.stopwords,
                "fold_accents": self.tokenizer.fold_accents,
                "version": self.tokenizer.version,
            },
            "bm25": self.bm25.to_json(),
            # Recorded only where the model runs, so installing it later rebuilds the index with it.
            "semantic": self.semantic.to_json() if self.semantic.enabled and semantic.available() else None,
        }


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An immutable, fully loaded generation; the engine swaps whole snapshots, never parts."""

    generation: str
    created_at: str
    documents: tuple[Document, ...]
    paths: tuple[str | None, ...]  # where each document was read from, for staleness checks
    columns: dict[str, I64]  # passage and sentence columns
    index: bm25.Bm25Index
    params: dict[str, Any]
    embeddings: F32 | None = None  # one unit vector per passage (small indexes with the model only)
    vocab_embeddings: F32 | None = None  # one per index term: its commonest word form in the text
    sentence_embeddings: F32 | None = None  # one per sentence, in the order of the sentence columns

    @property
    def size(self) -> int:
        return int(self.columns["p_doc"].shape[0])

    def passage(self, pid: int) -> Passage:
        """Materialise one passage with its sentences."""
        c = self.columns
        doc, start, end = int(c["p_doc"][pid]), int(c["p_start"][pid]), int(c["p_end"][pid])
        lo, hi = int(c["p_sent"][pid]), int(c["p_sent"][pid + 1])
        sentences = tuple(
            Sentence(int(c["s_para"][i]), int(c["s_num"][i]), int(c["s_start"][i]), int(c["s_end"][i]))
            for i in range(lo, hi)
        )
        text = self.documents[doc].text[start:end]
        return Passage(pid, doc, text, start, end, int(c["p_para"][pid]), int(c["p_para_end"][pid]), sentences)


def build_files(
    documents: Sequence[Document], paths: Sequence[str | None], params: IndexParams
) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Chunk, tokenize and index documents; return the generation's files and manifest fields."""
    passages: list[Passage] = []
    for doc_no, document in enumerate(documents):
        passages.extend(chunk(document.text, doc_no, params.chunk, first_id=len(passages)))
    tokenizer = Tokenizer(params.tokenizer)
    # A long first line is a paragraph, not a title (``shared_title``).
    titles = [tokenizer(shared_title(documents, params.chunk.title_terms, doc) or "") for doc in range(len(documents))]
    found = passage_roles(passages, [d.text for d in documents])
    extra = [terms + (titles[p.doc] if p.paragraph > 1 else []) for p, terms in zip(passages, found, strict=True)]
    try:  # the same terms as tokenizer(p.text) + extra, tokenized in bulk (both cores for big inputs)
        index = bulk.build([p.text for p in passages], params.bm25, params.tokenizer, extra=extra, total=len(extra))
    except bm25.NoTermsError:
        names = ", ".join(d.source for d in documents)
        why = "only punctuation, numbers-free symbols or stopwords"
        raise DocumentError(f"{names} has no words to search ({why}).") from None
    files = {f"{name}.npy": encode_array(array) for name, array in _columns(passages).items()}
    files.update({f"bm25_{name}.npy": encode_array(array) for name, array in index.arrays().items()})
    if semantic.wanted(params.semantic, len(passages)):
        texts = [p.text for p in passages]
        files["emb.npy"] = encode_array(semantic.embed_passages(texts, params.semantic.cache_dir))
        sentences = [documents[p.doc].text[s.start : s.end] for p in passages for s in p.sentences]
        files["sent_emb.npy"] = encode_array(semantic.embed_passages(sentences, params.semantic.cache_dir, "sentences"))
        words = semantic.surface_words(texts, tokenizer.located, index.vocab)
        files["vocab_emb.npy"] = encode_array(semantic.embed_words(words, params.semantic.cache_dir))
    files["vocab.json"] = encode_json(list(index.vocab))
    files["documents.json"] = encode_json([_document_json(d, p) for d, p in zip(documents, paths, strict=True)])
    manifest = {
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "params": params.to_json(),
        "documents": [
            {"source": d.source, "sha256": d.sha256, "path": p} for d, p in zip(documents, paths, strict=True)
        ],
        "passages": len(passages),
        "avgdl": index.avgdl,
        "embeddings": "emb.npy" in files,
    }
    return files, manifest


def _columns(passages: Sequence[Passage]) -> dict[str, I64]:
    """Passage and sentence fields as int64 columns; ``p_sent`` is the CSR pointer into sentences."""
    sentences = [s for p in passages for s in p.sentences]
    pointer = np.zeros(len(passages) + 1, np.int64)
    np.cumsum([len(p.sentences) for p in passages], out=pointer[1:])
    return {
        "p_doc": np.array([p.doc for p in passages], np.int64),
        "p_start": np.array([p.start for p in passages], np.int64),
        "p_end": np.array([p.end for p in passages], np.int64),
        "p_para": np.array([p.paragraph for p in passages], np.int64),
        "p_para_end": np.array([p.paragraph_end for p in passages], np.int64),
        "p_sent": pointer,
        "s_para": np.array([s.paragraph for s in sentences], np.int64),
        "s_num": np.array([s.number for s in sentences], np.int64),
        "s_start": np.array([s.start for s in sentences], np.int64),
        "s_end": np.array([s.end for s in sentences], np.int64),
    }


def _document_json(document: Document, path: str | None) -> dict[str, Any]:
    return {
        "source": document.source,
        "title": document.title,
        "text": document.text,
        "sha256": document.sha256,
        "metadata": [list(pair) for pair in document.metadata],
        "url": document.url,
        "path": path,
    }


def shared_title(documents: Sequence[Document], title_terms: bool, doc: int) -> str | None:
    """The title that document ``doc``'s passages are read with, or None.

    Only where several documents share the index: the title tells them apart ("Chuck Yeager" for
    a passage that says "he"), while in a one-document index it is on every passage and says nothing.
    """
    title = documents[doc].title
    return title if title_terms and len(documents) > 1 and _is_title(title) else None


def _is_title(title: str | None) -> bool:
    """A heading (at most ``TITLE_MAX_WORDS`` words) rather than a first paragraph."""
    return title is not None and len(title.split()) <= TITLE_MAX_WORDS


def load(generation: Generation) -> Snapshot:
    """Turn a verified generation into a snapshot; any inconsistency is ``IndexCorruptError``."""
    try:
        return _load(generation)
    except IndexCorruptError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise IndexCorruptError(f"{generation.name} is inconsistent ({type(err).__name__}: {err}).") from None


def _load(generation: Generation) -> Snapshot:
    manifest = generation.manifest
    raw_docs = generation.json("documents.json")
    documents = tuple(
        Document(d["source"], d["title"], d["text"], d["sha256"], tuple(tuple(m) for m in d["metadata"]), d["url"])
        for d in raw_docs
    )
    columns = {
        name: load_array(generation, f"{name}.npy", _is_int_vector) for name in PASSAGE_COLUMNS + SENTENCE_COLUMNS
    }
    arrays = {name: load_array(generation, f"bm25_{name}.npy") for name in BM25_ARRAYS}
    vocab_list = generation.json("vocab.json")
    params = manifest["params"]
    index = bm25.Bm25Index(
        params=bm25.Bm25Params(**params["bm25"]),
        vocab={term: i for i, term in enumerate(vocab_list)},
        avgdl=float(manifest["avgdl"]),
        **arrays,
    )
    snapshot = Snapshot(
        generation=generation.name,
        created_at=str(manifest["created_at"]),
        documents=documents,
        paths=tuple(d.get("path") for d in raw_docs),
        columns=columns,
        index=index,
        params=params,
        embeddings=load_array(generation, "emb.npy", _is_embedding) if manifest.get("embeddings") else None,
        vocab_embeddings=load_array(generation, "vocab_emb.npy", _is_embedding) if manifest.get("embeddings") else None,
        sentence_embeddings=_optional_embeddings(generation, "sent_emb.npy"),
    )
    _check_shapes(snapshot, len(vocab_list))
    return snapshot


def _optional_embeddings(generation: Generation, name: str) -> F32 | None:
    """Vectors a newer pipeline added: a generation from before them loads without them.

    It must load, so that the engine sees it is stale and rebuilds it from its own recorded
    sources; failing here would count it as damaged and rebuild from the default sources instead.
    """
    listed = name in generation.manifest.get("files", {})
    return load_array(generation, name, _is_embedding) if generation.manifest.get("embeddings") and listed else None


def _is_int_vector(array: np.ndarray) -> bool:
    return array.ndim == 1 and array.dtype == np.int64


def _is_embedding(array: np.ndarray) -> bool:
    return array.ndim == 2 and array.dtype == np.float32 and array.shape[1] == semantic.DIMENSIONS


def _check_shapes(snapshot: Snapshot, vocab_size: int) -> None:
    """Cross-check sizes so a hand-edited or mismatched file is caught at load, not mid-answer."""
    c, idx = snapshot.columns, snapshot.index
    n = snapshot.size
    ok = (
        all(c[name].shape[0] == n for name in PASSAGE_COLUMNS if name != "p_sent")
        and c["p_sent"].shape[0] == n + 1
        and idx.doc_len.shape[0] == n
        and idx.indptr.shape[0] == vocab_size + 1
        and idx.idf.shape[0] == vocab_size
        and idx.const.shape[0] == idx.bound.shape[0] == idx.scale.shape[0] == vocab_size
        and idx.doc_ids.shape[0] == idx.impact.shape[0] == idx.tf.shape[0] == int(idx.indptr[-1])
        and (n == 0 or int(c["p_doc"].max()) < len(snapshot.documents))
        and (snapshot.embeddings is None or snapshot.embeddings.shape[0] == n)
        and (snapshot.vocab_embeddings is None or snapshot.vocab_embeddings.shape[0] == vocab_size)
        and (snapshot.sentence_embeddings is None or snapshot.sentence_embeddings.shape[0] == c["s_start"].shape[0])
    )
    if not ok:
        raise IndexCorruptError(f"{snapshot.generation}: its files disagree about the number of passages or terms.")


def document_path(path: Path) -> str:
    """How a source path is recorded: absolute, so staleness checks work from any folder."""
    return str(path.resolve())
