"""Retrieval quality on a question set: recall@1, recall@3, MRR, and how often it declines.

A question set is JSONL: ``{"question", "answer", "kind"}``; ``answer`` is a string the
answering passage contains, a list of them when several passages answer ("Who is Armenia's prime
minister?" is answered wherever the text names him so), or null for a question the text does not
answer.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DocumentError, EngineError
from .types import Answer, Hit

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class QaItem:
    question: str
    answer: str | None  # the first accepted answer text, as shown in reports
    kind: str
    also: tuple[str, ...] = ()  # texts of other passages that answer it as well


@dataclass(frozen=True, slots=True)
class ItemResult:
    item: QaItem
    rank: int | None  # 1-based rank of the first passage holding the answer, among those shown
    answered: bool
    sentence: bool | None = None  # whether that passage's marked sentence holds (part of) the answer


@dataclass(frozen=True, slots=True)
class EvalReport:
    """The numbers the README and the closing note quote."""

    answerable: int
    unanswerable: int
    recall_at_1: float
    recall_at_3: float
    mrr: float
    false_declines: int  # answerable questions the engine declined
    sentence_accuracy: float  # of the answers found in the top k, the share whose marked sentence holds them
    decline_rate: float  # share of unanswerable questions declined
    decline_by_kind: dict[str, float]
    results: tuple[ItemResult, ...] = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "answerable": self.answerable,
            "unanswerable": self.unanswerable,
            "recall@1": round(self.recall_at_1, 4),
            "recall@3": round(self.recall_at_3, 4),
            "mrr": round(self.mrr, 4),
            "false_declines": self.false_declines,
            "sentence_accuracy": round(self.sentence_accuracy, 4),
            "decline_rate": round(self.decline_rate, 4),
            "decline_by_kind": {k: round(v, 4) for k, v in self.decline_by_kind.items()},
        }


def load_qa(path: Path) -> list[QaItem]:
    """Parse a question set; a bad line is a ``DocumentError`` naming the line."""
    items: list[QaItem] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DocumentError(f"{path}: cannot read the question set ({err}).") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            items.append(_item(raw))
        except (ValueError, KeyError, TypeError) as err:
            raise DocumentError(f"{path}:{number}: not a question object ({err}).") from None
    if not items:
        raise DocumentError(f"{path} holds no questions.")
    return items


def _item(raw: dict[str, Any]) -> QaItem:
    expected = raw.get("answer")
    if expected is None or isinstance(expected, str):
        return QaItem(str(raw["question"]), expected, str(raw.get("kind", "unknown")))
    if not isinstance(expected, list) or not expected or not all(isinstance(text, str) for text in expected):
        raise ValueError("answer must be a string, a non-empty list of strings or null")
    return QaItem(str(raw["question"]), expected[0], str(raw.get("kind", "unknown")), tuple(expected[1:]))


def _norm(text: str) -> str:
    return _SPACES.sub(" ", text).strip().casefold()


def first_rank(answer: Answer, expected: str | Sequence[str]) -> int | None:
    """Rank of the first shown passage that contains the expected text, or any of them (white space folded)."""
    hit = _first_hit(answer, _texts(expected))
    return hit.rank if hit else None


def _texts(expected: str | Sequence[str]) -> tuple[str, ...]:
    return (expected,) if isinstance(expected, str) else tuple(expected)


def _first_hit(answer: Answer, expected: Sequence[str]) -> Hit | None:
    needles = [_norm(text) for text in expected]
    return next((hit for hit in answer.hits if any(n in _norm(hit.passage.text) for n in needles)), None)


def marks_answer(hit: Hit, expected: str | Sequence[str]) -> bool:
    """Whether the hit's marked sentence overlaps an expected text inside its passage."""
    start = hit.sentence_citation.start - hit.passage.start
    end = hit.sentence_citation.end - hit.passage.start
    for text in _texts(expected):
        pattern = r"\s+".join(re.escape(word) for word in text.split())
        found = re.search(pattern, hit.passage.text, re.IGNORECASE)
        if found and found.start() < end and start < found.end():
            return True
    return False


def evaluate(ask: Callable[[str, int], Answer], items: Sequence[QaItem], k: int = 3) -> EvalReport:
    """Ask every question and score the answers."""
    results = [_judge(ask, item, k) for item in items]
    good = [r for r in results if r.item.answer is not None]
    bad = [r for r in results if r.item.answer is None]
    ranks = [r.rank if r.answered else None for r in good]
    marked = [r.sentence for r in good if r.answered and r.sentence is not None]
    return EvalReport(
        answerable=len(good),
        unanswerable=len(bad),
        recall_at_1=_share(r == 1 for r in ranks),
        recall_at_3=_share(r is not None and r <= 3 for r in ranks),
        mrr=sum(1 / r for r in ranks if r) / len(good) if good else 0.0,
        false_declines=sum(1 for r in good if not r.answered),
        sentence_accuracy=_share(marked),
        decline_rate=_share(not r.answered for r in bad),
        decline_by_kind=_by_kind(bad),
        results=tuple(results),
    )


def _judge(ask: Callable[[str, int], Answer], item: QaItem, k: int) -> ItemResult:
    try:
        answer = ask(item.question, k)
    except EngineError:
        return ItemResult(item, None, False)
    if item.answer is None:
        return ItemResult(item, None, answer.answered)
    expected = (item.answer, *item.also)
    hit = _first_hit(answer, expected)
    if hit is None:
        return ItemResult(item, None, answer.answered)
    return ItemResult(item, hit.rank, answer.answered, marks_answer(hit, expected))


def _share(flags: Iterable[bool]) -> float:
    values = list(flags)
    return sum(values) / len(values) if values else 0.0


def _by_kind(results: Sequence[ItemResult]) -> dict[str, float]:
    totals = Counter(r.item.kind for r in results)
    declined = Counter(r.item.kind for r in results if not r.answered)
    return {kind: declined[kind] / n for kind, n in sorted(totals.items())}
