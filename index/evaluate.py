"""Retrieval quality on a question set: recall@1, recall@3, MRR, and how often it declines.

A question set is JSONL: ``{"question", "answer", "kind"}``; ``answer`` is a string the
answering passage contains, or null for a question the text does not answer.
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
from .types import Answer

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class QaItem:
    question: str
    answer: str | None
    kind: str


@dataclass(frozen=True, slots=True)
class ItemResult:
    item: QaItem
    rank: int | None  # 1-based rank of the first passage holding the answer, among those shown
    answered: bool


@dataclass(frozen=True, slots=True)
class EvalReport:
    """The numbers the README and the closing note quote."""

    answerable: int
    unanswerable: int
    recall_at_1: float
    recall_at_3: float
    mrr: float
    false_declines: int  # answerable questions the engine declined
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
            items.append(QaItem(str(raw["question"]), raw.get("answer"), str(raw.get("kind", "unknown"))))
        except (ValueError, KeyError, TypeError) as err:
            raise DocumentError(f"{path}:{number}: not a question object ({err}).") from None
    if not items:
        raise DocumentError(f"{path} holds no questions.")
    return items


def _norm(text: str) -> str:
    return _SPACES.sub(" ", text).strip().casefold()


def first_rank(answer: Answer, expected: str) -> int | None:
    """Rank of the first shown passage that contains the expected text (white space folded)."""
    needle = _norm(expected)
    for hit in answer.hits:
        if needle in _norm(hit.passage.text):
            return hit.rank
    return None


def evaluate(ask: Callable[[str, int], Answer], items: Sequence[QaItem], k: int = 3) -> EvalReport:
    """Ask every question and score the answers."""
    results = [_judge(ask, item, k) for item in items]
    good = [r for r in results if r.item.answer is not None]
    bad = [r for r in results if r.item.answer is None]
    ranks = [r.rank if r.answered else None for r in good]
    return EvalReport(
        answerable=len(good),
        unanswerable=len(bad),
        recall_at_1=_share(r == 1 for r in ranks),
        recall_at_3=_share(r is not None and r <= 3 for r in ranks),
        mrr=sum(1 / r for r in ranks if r) / len(good) if good else 0.0,
        false_declines=sum(1 for r in good if not r.answered),
        decline_rate=_share(not r.answered for r in bad),
        decline_by_kind=_by_kind(bad),
        results=tuple(results),
    )


def _judge(ask: Callable[[str, int], Answer], item: QaItem, k: int) -> ItemResult:
    try:
        answer = ask(item.question, k)
    except EngineError:
        return ItemResult(item, None, False)
    rank = first_rank(answer, item.answer) if item.answer is not None else None
    return ItemResult(item, rank, answer.answered)


def _share(flags: Iterable[bool]) -> float:
    values = list(flags)
    return sum(values) / len(values) if values else 0.0


def _by_kind(results: Sequence[ItemResult]) -> dict[str, float]:
    totals = Counter(r.item.kind for r in results)
    declined = Counter(r.item.kind for r in results if not r.answered)
    return {kind: declined[kind] / n for kind, n in sorted(totals.items())}
