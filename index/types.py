"""Typed, immutable values the engine hands to its front ends (console, Discord, eval)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Document:
    """One source text as read by ``open(path, encoding="utf-8")``; offsets index ``text``."""

    source: str  # the name a reader sees and the citation uses, e.g. "article.txt"
    title: str | None
    text: str
    sha256: str  # of the raw bytes on disk
    metadata: tuple[tuple[str, str], ...] = ()  # leading "Key: value" lines, e.g. ("Posted", "October 26, 2020")
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence span inside a document; ``number`` is 1-based within its paragraph."""

    paragraph: int
    number: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Passage:
    """A contiguous span of one document: ``document.text[start:end] == text``."""

    id: int  # position in the index, 0-based
    doc: int  # index into the engine's document list
    text: str
    start: int
    end: int
    paragraph: int  # 1-based paragraph of the first character
    paragraph_end: int  # 1-based paragraph of the last character
    sentences: tuple[Sentence, ...]  # every sentence of the passage, in order


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a passage stands: enough for a reader to find it and for a test to check it."""

    source: str
    title: str | None
    paragraph: int
    paragraph_end: int
    sentence_start: int
    sentence_end: int
    start: int
    end: int
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Span:
    """A ``[start, end)`` range inside some string, e.g. a question term found in a sentence."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked passage of an answer, with the sentence that best answers the question."""

    rank: int  # 1-based
    score: float
    passage: Passage
    citation: Citation
    sentence: str  # the best-answering sentence's text
    sentence_citation: Sentence  # paragraph / number / exact offsets of that sentence
    highlights: tuple[Span, ...] = ()  # question terms inside ``sentence`` (offsets into it)
    passage_highlights: tuple[Span, ...] = ()  # question terms inside ``passage.text``

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of a result (see the README)."""
        return {
            "rank": self.rank,
            "score": self.score,
            "text": self.passage.text,
            "sentence": self.sentence,
            "citation": asdict(self.citation),
            "sentence_citation": asdict(self.sentence_citation),
            "passage_id": self.passage.id,
        }


@dataclass(frozen=True, slots=True)
class Answer:
    """What the engine says to a question; ``answered`` is False when the text does not cover it."""

    question: str
    answered: bool
    reason: str | None  # why it was declined, in plain words; None when answered
    hits: tuple[Hit, ...]  # best first; when declined, at most the closest passage
    terms: tuple[str, ...] = ()  # the question's index terms, as searched
    missing: tuple[str, ...] = ()  # important question words the text never mentions
    corrections: tuple[tuple[str, str], ...] = field(default=())  # (typed, used) spelling fixes

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of an answer: one object per question."""
        return {
            "question": self.question,
            "answered": self.answered,
            "reason": self.reason,
            "results": [h.to_json() for h in self.hits],
            "terms": list(self.terms),
            "missing": list(self.missing),
            "corrections": [list(c) for c in self.corrections],
        }


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """What a moderator sees in /about and what reindex compares against."""

    documents: tuple[Document, ...]
    passages: int
    generation: str
    created_at: str  # ISO 8601, UTC
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReindexSummary:
    """What changed between the previous index and the new one."""

    documents: int
    passages: int
    added: tuple[str, ...]  # sources new in this index
    removed: tuple[str, ...]  # sources gone from it
    changed: tuple[str, ...]  # same source, other content
    unchanged: tuple[str, ...]
    previous_passages: int | None
    generation: str
    seconds: float
