"""Split a document into passages: contiguous spans that keep paragraphs and sentences whole.

Why paragraph-aware: a news paragraph is the unit a reader cites. Headings, captions' credits
and one-line quote paragraphs ("...," he said.) are too short to be found alone and lose their
speaker, so they are merged into a neighbour; long paragraphs are split between sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .types import Passage, Sentence

_BLANK_LINES = re.compile(r"\n[ \t\u00a0\u200b\ufeff]*\n(?:[ \t\u00a0\u200b\ufeff]*\n)*")
_INVISIBLE = "\u200b\ufeff"  # not white space to str.isspace(), but nothing to read either
# A sentence ends at . ! ? (or …), optionally closed by quotes/brackets, before white space.
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s)")
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st mt ft gen col lt sgt capt gov sen rep pres rev hon jan feb mar apr
    jun jul aug sep sept oct nov dec no nos vol vs etc al approx est dept inc ltd co corp univ fig p
    pp a.m p.m u.s u.k u.n e.g i.e d.c u.s.a""".split()
)


@dataclass(frozen=True, slots=True)
class ChunkConfig:
    """Passage sizes in words; chosen by the evaluation (see the README's table)."""

    min_words: int = 20
    max_words: int = 200
    merge_short: bool = True
    title_terms: bool = True  # index each passage with its document's title (only when there are several)


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each block between blank lines, trimmed of surrounding white space."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for match in _BLANK_LINES.finditer(text):
        _add_trimmed(text, pos, match.start(), spans)
        pos = match.end()
    _add_trimmed(text, pos, len(text), spans)
    return spans


def _add_trimmed(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    """Append ``[start, end)`` without leading/trailing white space, unless nothing is left."""
    while start < end and (text[start].isspace() or text[start] in _INVISIBLE):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in _INVISIBLE):
        end -= 1
    if start < end:
        spans.append((start, end))


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentences of ``text[start:end]``: split at end punctuation and at line breaks."""
    spans: list[tuple[int, int]] = []
    for line_start, line_end in _lines(text, start, end):
        cut = line_start
        for match in _SENTENCE_END.finditer(text, line_start, line_end):
            if _is_boundary(text, match.start(), match.end(), line_end):
                _add_trimmed(text, cut, match.end(), spans)
                cut = match.end()
        _add_trimmed(text, cut, line_end, spans)
    return spans


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Line spans inside ``[start, end)``."""
    lines: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl
        lines.append((pos, stop))
        pos = stop + 1
    return lines


def _is_boundary(text: str, punct: int, after: int, limit: int) -> bool:
    """True unless the period belongs to an abbreviation or initial, or lower case follows."""
    nxt = after
    while nxt < limit and text[nxt].isspace():
        nxt += 1
    if nxt >= limit:
        return True
    following = text[nxt]
    if following.islower() or following in ",;:":
        return False
    if text[punct] != ".":
        return True
    word_start = punct
    while word_start > 0 and not text[word_start - 1].isspace() and text[word_start - 1] not in "(\"'\u201c":
        word_start -= 1
    word = text[word_start:punct].lower()
    if word in _ABBREVIATIONS:
        return False
    if len(word) == 1 and word.isalpha():
        return False  # an initial: "J. Smith"
    return not (following.isdigit() and word in ("no", "sept", "oct", "nov", "dec", "jan", "feb"))


@dataclass(slots=True)
class _Unit:
    """A run of whole sentences, possibly several paragraphs, on its way to be a passage."""

    sentences: list[Sentence]
    words: int  # white-space separated words, counted once per sentence

    @property
    def start(self) -> int:
        return self.sentences[0].start

    @property
    def end(self) -> int:
        return self.sentences[-1].end

    def __add__(self, other: _Unit) -> _Unit:
        return _Unit(self.sentences + other.sentences, self.words + other.words)


def chunk(text: str, doc: int, config: ChunkConfig, first_id: int = 0) -> list[Passage]:
    """Passages of one document, in order, ids from ``first_id``."""
    units: list[_Unit] = []
    for number, (start, end) in enumerate(paragraph_spans(text), 1):
        sentences = [
            _Unit([Sentence(paragraph=number, number=i, start=s, end=e)], len(text[s:e].split()))
            for i, (s, e) in enumerate(sentence_spans(text, start, end), 1)
        ]
        units.extend(_split_long(sentences, config.max_words))
    if config.merge_short:
        units = _merge_short(text, units, config)
    return [_passage(text, doc, unit, first_id + i) for i, unit in enumerate(units)]


def _split_long(sentences: list[_Unit], max_words: int) -> list[_Unit]:
    """Pack a paragraph's sentences greedily into units of at most ``max_words`` (one sentence may exceed it)."""
    units: list[_Unit] = []
    current: _Unit | None = None
    for sentence in sentences:
        if current is not None and current.words + sentence.words > max_words:
            units.append(current)
            current = None
        current = sentence if current is None else current + sentence
    if current is not None:
        units.append(current)
    return units


def ends_open(line: str) -> bool:
    """No closing punctuation: a short line so ended introduces what follows (title, heading, dateline)."""
    tail = line.rstrip("\"'\u201d\u2019)]*_ ")
    return not tail or tail[-1] not in ".!?\u2026:;"


def _merge_short(text: str, units: list[_Unit], config: ChunkConfig) -> list[_Unit]:
    """Fold units under ``min_words`` into a neighbour: headings forward, the rest backward."""
    merged: list[_Unit] = []
    carry: _Unit | None = None
    room = config.max_words + config.min_words
    for unit in units:
        candidate = unit if carry is None else carry + unit
        carry = None
        if candidate.words >= config.min_words:
            merged.append(candidate)
        elif ends_open(text[candidate.start : candidate.end]):
            carry = candidate
        elif merged and merged[-1].words + candidate.words <= room:
            merged[-1] = merged[-1] + candidate
        else:
            merged.append(candidate)
    if carry is not None:
        if merged and merged[-1].words + carry.words <= room:
            merged[-1] = merged[-1] + carry
        else:
            merged.append(carry)
    return merged


def _passage(text: str, doc: int, unit: _Unit, passage_id: int) -> Passage:
    """Freeze a unit into a ``Passage`` whose text is exactly its span of the document."""
    return Passage(
        id=passage_id,
        doc=doc,
        text=text[unit.start : unit.end],
        start=unit.start,
        end=unit.end,
        paragraph=unit.sentences[0].paragraph,
        paragraph_end=unit.sentences[-1].paragraph,
        sentences=tuple(unit.sentences),
    )
