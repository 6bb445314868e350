"""From a question to an ``Answer``: terms, spelling fixes, ranking, the "not covered" decision.

The decision to decline uses how much of the question's *meaning* the best passages contain.
Each question term weighs by how rare it is in general English (background document frequencies
from 250,000 Wikipedia and Gutenberg passages, ``data/background.json.gz``): "capital" and "say"
weigh little, "Ukraine" and "bread" a lot. When the best passage holds too little of that weight,
or the text never mentions the heavy words, the engine says so instead of quoting noise.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import extract

from . import roles, semantic
from .snapshot import Snapshot
from .tokenize import Tokenizer
from .types import Answer, Citation, Hit, Passage, Sentence, Span

BACKGROUND = Path(__file__).resolve().parent / "data" / "background.json.gz"


@dataclass(frozen=True, slots=True)
class AnswerConfig:
    """Question handling; thresholds chosen on tests/data/qa.jsonl (README table)."""

    max_question_chars: int = 1000
    max_terms: int = 32  # a long question costs no more than this many postings scans
    min_coverage: float = 0.3  # share of the question's weight the best passage must hold
    min_content_coverage: float = 0.3  # the same, counting only the words that are not names
    fuzzy: bool = True
    common_word_df: int = 40  # a word this common in English is a word, not a typo
    variants: bool = True  # "armenia" also finds "armenian"
    answer_types: bool = True  # "how many" prefers passages with numbers, "when" with dates
    related_min: float = 0.7  # a missing word matches the text's words this similar (cosine); > 1: off


@dataclass(frozen=True, slots=True)
class Concept:
    """One content word of the question and the index terms that stand for it."""

    word: str  # as the user wrote it
    terms: tuple[str, ...]  # its stem, a spelling fix, a role term: any of them counts as found
    weight: float  # how much of the question's meaning it carries
    name: bool  # written as a proper name (capitalised mid-question, or an acronym)
    related: tuple[str, ...] = ()  # index terms of words that mean nearly the same (not written in the text)


@dataclass(frozen=True, slots=True)
class Query:
    """A question reduced to what the index searches."""

    concepts: tuple[Concept, ...]
    focus: Concept | None  # X in "what is the X of Y": the text must have it to answer
    terms: tuple[str, ...]  # de-duplicated, capped, in question order: what BM25 scores
    corrections: tuple[tuple[str, str], ...]
    vector: npt.NDArray[np.float32] | None = None  # the question's embedding, where passages have them


# Words that frame a question rather than carry its subject (stems): they weigh a quarter.
FRAMING = frozenset(
    """say said tell told think know happen mean mani much thing kind actual realli anyth someth someon
    anyon get got take took give gave come came go went make made use like ever still way lot stuff
    find explain describ detail inform question answer exact whi anyway els name""".split()
)
FRAMING_FACTOR = 0.25
VARIANT_MIN = 4
DEMONYM_SUFFIXES = ("n", "an", "ian", "i", "ns", "ans", "is")


class Background:
    """General-English document frequencies: how much a question word carries."""

    def __init__(self, df: dict[str, int], passages: int) -> None:
        self.df = df
        self.passages = passages
        self._max = math.log(passages + 1)

    def weight(self, term: str) -> float:
        """Inverse document frequency in general English; unseen words weigh the most."""
        return math.log((self.passages + 1) / (self.df.get(term, 0) + 1)) if term in self.df else self._max

    def is_common(self, term: str, threshold: int) -> bool:
        return self.df.get(term, 0) >= threshold


@lru_cache(maxsize=1)
def background() -> Background:
    """Load the shipped frequency table once per process."""
    with gzip.open(BACKGROUND, "rt", encoding="utf-8") as handle:
        payload = json.load(handle)
    return Background(payload["df"], int(payload["passages"]))


def parse(question: str, snapshot: Snapshot, tokenizer: Tokenizer, config: AnswerConfig, blend: float = 0.0) -> Query:
    """Concepts of the question: stems, typo fixes, role terms, related words; capped; its embedding.

    The question and its words the text lacks are embedded in one call: the model's fixed cost per
    call, not the few tokens, is what a question pays.
    """
    bg = background()
    words = list(tokenizer.words_with_position(question))
    caps_informative = tokenizer.capitalised_share(question) <= 0.6  # Title Case Says Nothing
    concepts: dict[str, Concept] = {}
    corrections: list[tuple[str, str]] = []
    for word, term, first in words:
        if term in concepts:
            continue
        alternatives = [term]
        if config.fuzzy and term not in snapshot.index.vocab and not bg.is_common(term, config.common_word_df):
            fixed = _correct(term, snapshot)
            if fixed:
                alternatives = [fixed]
                corrections.append((word, fixed))
        if config.variants:
            alternatives += [v for v in variants(alternatives[0], snapshot) if v not in alternatives]
        if term in roles.TRIGGERS:
            alternatives.append(roles.TRIGGERS[term])
        name = caps_informative and _looks_like_name(word, first)
        concepts[term] = Concept(word, tuple(alternatives), _weight(term, snapshot, bg), name)
    meaning = snapshot.embeddings is not None and semantic.available()
    lonely = _lonely(concepts, snapshot) if meaning and config.related_min <= 1 else []
    wants_vector = meaning and blend > 0
    vectors = semantic.embed_question([question] * wants_vector + [concepts[k].word.casefold() for k in lonely])
    if lonely:
        _add_related(concepts, lonely, vectors[int(wants_vector) :], snapshot, config.related_min)
    ordered = _cap(list(concepts.values()), config.max_terms)
    wanted = roles.question_types(question) if config.answer_types else []
    terms = tuple(dict.fromkeys([t for c in ordered for t in c.terms + c.related] + wanted))
    focus = _focus(question, tokenizer, concepts)
    return Query(tuple(ordered), focus, terms, tuple(corrections), vectors[0] if wants_vector else None)


def _lonely(concepts: dict[str, Concept], snapshot: Snapshot) -> list[str]:
    """Words of the question the text never uses (names excepted: a missing name must decline)."""
    vocab = snapshot.index.vocab
    return [key for key, c in concepts.items() if not c.name and not any(t in vocab for t in c.terms)]


def _add_related(
    concepts: dict[str, Concept],
    lonely: list[str],
    vectors: npt.NDArray[np.float32],
    snapshot: Snapshot,
    minimum: float,
) -> None:
    """Let a word the text never uses stand for the text's synonyms of it ("soldiers": "military")."""
    if snapshot.vocab_embeddings is None:
        return
    terms = lexicon(snapshot).terms
    for key, ids in zip(lonely, semantic.related_terms(vectors, snapshot.vocab_embeddings, minimum), strict=True):
        concepts[key] = dataclasses.replace(concepts[key], related=tuple(terms[i] for i in ids))


_FOCUS = (
    re.compile(
        r"^\W*(?:what|who)(?:'s|\u2019s|\s+(?:is|was|are|were))\s+(?:the\s+|a\s+|an\s+)?([\w-]+)\s+(?:of|in|for)\b",
        re.I,
    ),
    re.compile(r"^\W*what(?:'s|\u2019s|\s+(?:is|was|are|were))\s+[\w-]+(?:'s|\u2019s)\s+([\w-]+)", re.I),
)


def _focus(question: str, tokenizer: Tokenizer, concepts: dict[str, Concept]) -> Concept | None:
    """The attribute a "what is the X of Y" question asks for, unless it is a framing word ("kind of")."""
    for pattern in _FOCUS:
        match = pattern.match(question)
        if match:
            terms = tokenizer(match.group(1))
            concept = concepts.get(terms[0]) if len(terms) == 1 else None
            return concept if concept is not None and terms[0] not in FRAMING else None
    return None


def _looks_like_name(word: str, first: bool) -> bool:
    """``Ukraine`` mid-sentence or ``NATO`` anywhere; a capital at the start proves nothing."""
    if len(word) > 1 and word.isupper() and word.isalpha():
        return True
    return not first and word[:1].isupper()


def _weight(term: str, snapshot: Snapshot, bg: Background) -> float:
    """General-English rarity, reduced for question framing and for words naming the document."""
    if term in roles.DOCUMENT_WORDS and term not in snapshot.index.vocab:
        return 0.0
    weight = bg.weight(term)
    return weight * FRAMING_FACTOR if term in FRAMING else weight


def _cap(concepts: list[Concept], limit: int) -> list[Concept]:
    """Keep the ``limit`` weightiest concepts, in question order."""
    if len(concepts) <= limit:
        return concepts
    keep = {id(c) for c in sorted(concepts, key=lambda c: -c.weight)[:limit]}
    return [c for c in concepts if id(c) in keep]


def _correct(term: str, snapshot: Snapshot) -> str | None:
    """The closest index term within 1 edit (2 for long words), the more frequent on ties."""
    if len(term) < 4 or not term.isalpha():
        return None
    limit = 1 if len(term) < 7 else 2
    candidates = lexicon(snapshot).by_length
    pool = [t for n in range(len(term) - limit, len(term) + limit + 1) for t in candidates.get(n, ())]
    matches = extract(term, pool, scorer=Levenshtein.distance, score_cutoff=limit, limit=None)
    if not matches:
        return None
    index = snapshot.index
    best = min(matches, key=lambda m: (m[1], -index.df(index.vocab[m[0]]), m[0]))
    return str(best[0])


class Lexicon:
    """The index vocabulary grouped by length for typo look-ups, built once per generation."""

    def __init__(self, vocab: dict[str, int]) -> None:
        self.terms = list(vocab)  # by term id
        self.by_length: dict[int, list[str]] = {}
        for term in vocab:
            if term.isalpha():
                self.by_length.setdefault(len(term), []).append(term)


_LEXICONS: dict[str, Lexicon] = {}


def lexicon(snapshot: Snapshot) -> Lexicon:
    """The snapshot's lexicon (only the newest generation's is kept)."""
    found = _LEXICONS.get(snapshot.generation)
    if found is None:
        found = Lexicon(snapshot.index.vocab)
        _LEXICONS.clear()
        _LEXICONS[snapshot.generation] = found
    return found


def variants(term: str, snapshot: Snapshot) -> list[str]:
    """The same name in its nationality form and back: "armenia"/"armenian", "azerbaijani"/"azerbaijan"."""
    if len(term) < VARIANT_MIN or not term.isalpha():
        return []
    vocab = snapshot.index.vocab
    longer = [term + suffix for suffix in DEMONYM_SUFFIXES if term + suffix in vocab]
    shorter = [
        term[: -len(suffix)]
        for suffix in DEMONYM_SUFFIXES
        if term.endswith(suffix) and len(term) - len(suffix) >= VARIANT_MIN and term[: -len(suffix)] in vocab
    ]
    return longer + shorter


def contains(snapshot: Snapshot, term: str, pid: int) -> bool:
    """Whether passage ``pid`` contains ``term`` (postings are sorted by passage id)."""
    index = snapshot.index
    tid = index.vocab.get(term)
    if tid is None:
        return False
    lo, hi = int(index.indptr[tid]), int(index.indptr[tid + 1])
    pos = lo + int(np.searchsorted(index.doc_ids[lo:hi], pid))
    return pos < hi and int(index.doc_ids[pos]) == pid


def found(snapshot: Snapshot, concept: Concept, pid: int) -> bool:
    """Whether any of the concept's terms, or of its related words, is in passage ``pid``."""
    return any(contains(snapshot, t, pid) for t in concept.terms + concept.related)


def coverage(snapshot: Snapshot, concepts: Sequence[Concept], pid: int) -> float:
    """Share of the concepts' weight that passage ``pid`` contains (a related word counts in full)."""
    total = sum(c.weight for c in concepts)
    held = sum(c.weight for c in concepts if found(snapshot, c, pid))
    return held / total if total else 0.0


def covered(snapshot: Snapshot, query: Query, pids: Sequence[int], config: AnswerConfig) -> bool:
    """Whether one of the passages holds enough of the question, and of its non-name words.

    A question's names are usually what the document is about ("When was Hobart founded?"), so
    finding them says little; the rest of the question ("founded") must be there too.
    """
    content = [c for c in query.concepts if not c.name and c.weight > 0] or list(query.concepts)
    overall = max((coverage(snapshot, query.concepts, pid) for pid in pids), default=0.0)
    rest = max((coverage(snapshot, content, pid) for pid in pids), default=0.0)
    return overall >= config.min_coverage and rest >= config.min_content_coverage


def answer(
    question: str, snapshot: Snapshot, tokenizer: Tokenizer, config: AnswerConfig, k: int, blend: float = 0.0
) -> Answer:
    """Rank passages for an already validated question and decide whether they answer it.

    ``blend`` is the embedding cosine's share of the score where the index has embeddings.
    """
    query = parse(question, snapshot, tokenizer, config, blend)
    index = snapshot.index
    ranked = _ranked(query, snapshot, k, blend)
    matched = [(pid, score) for pid, score in ranked if any(found(snapshot, c, pid) for c in query.concepts)][:k]
    unknown = [c for c in query.concepts if not any(t in index.vocab for t in c.terms + c.related) and c.weight > 0]
    names_missing = [c for c in unknown if c.name]
    focus_missing = query.focus is not None and not any(found(snapshot, query.focus, pid) for pid, _ in matched)
    if focus_missing and query.focus is not None:
        names_missing.append(query.focus)
    answered = bool(matched) and not names_missing and covered(snapshot, query, [p for p, _ in matched], config)
    if not answered:
        matched = matched[:1]
    hits = tuple(_hit(snapshot, tokenizer, query, rank, pid, score) for rank, (pid, score) in enumerate(matched, 1))
    missing = tuple(c.word for c in unknown)
    reason = None if answered else _reason(snapshot, query, names_missing or unknown, bool(matched))
    fixes = tuple((typed, _as_written(snapshot, tokenizer, term, hits)) for typed, term in query.corrections)
    return Answer(question, answered, reason, hits, query.terms, missing, fixes)


def _ranked(query: Query, snapshot: Snapshot, k: int, blend: float) -> list[tuple[int, float]]:
    """Passages best first: BM25's top ``k``, or every passage by BM25 blended with meaning."""
    index = snapshot.index
    term_ids = index.term_ids(query.terms)
    if snapshot.embeddings is None or query.vector is None:
        ids, scores = index.top_k(term_ids, k)
        return [(int(i), float(s)) for i, s in zip(ids, scores, strict=True)]
    ids, scores = index.top_k(term_ids, snapshot.size)
    lexical = np.zeros(snapshot.size)
    lexical[ids] = scores
    fused = semantic.fuse(lexical, snapshot.embeddings @ query.vector, blend)
    order = np.argsort(-fused, kind="stable")
    return [(int(i), float(fused[i])) for i in order]


def _as_written(snapshot: Snapshot, tokenizer: Tokenizer, term: str, hits: Sequence[Hit]) -> str:
    """A corrected term as the text spells it ("ceasefire", not the stem "ceasefir"), when a hit shows it."""
    for hit in hits:
        for span in tokenizer.spans(hit.passage.text, frozenset((term,))):
            return hit.passage.text[span.start : span.end]
    return term


def _reason(snapshot: Snapshot, query: Query, missing: Sequence[Concept], any_match: bool) -> str:
    """Why the text does not answer, in the reader's words."""
    what = "the indexed texts" if len(snapshot.documents) > 1 else "the article"
    if not any_match:
        return f"None of the question's words ({_join([c.word for c in query.concepts])}) appear in {what}."
    if missing:
        verb = "mention" if len(snapshot.documents) > 1 else "mentions"
        return f"{what.capitalize()} never {verb} {_join([c.word for c in missing])}."
    heavy = sorted(query.concepts, key=lambda c: -c.weight)[:4]
    return f"No passage of {what} talks about {_join([c.word for c in heavy])} together."


def _join(words: Sequence[str]) -> str:
    items = [f'"{w}"' for w in words[:6]]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _hit(snapshot: Snapshot, tokenizer: Tokenizer, query: Query, rank: int, pid: int, score: float) -> Hit:
    """A ranked passage with its best sentence and highlights, from one tokenizing pass over it."""
    passage = snapshot.passage(pid)
    text = snapshot.documents[passage.doc].text
    terms = frozenset(query.terms)
    words = [(passage.start + s, passage.start + e, t) for s, e, t in tokenizer.located(passage.text) if t in terms]
    sentence = max(passage.sentences, key=lambda s: (_sentence_weight(snapshot, text, s, words, terms), -s.start))
    return Hit(
        rank=rank,
        score=score,
        passage=passage,
        citation=citation(snapshot, passage),
        sentence=text[sentence.start : sentence.end],
        sentence_citation=sentence,
        highlights=tuple(
            Span(s - sentence.start, e - sentence.start)
            for s, e, _ in words
            if sentence.start <= s and e <= sentence.end
        ),
        passage_highlights=tuple(Span(s - passage.start, e - passage.start) for s, e, _ in words),
    )


def _sentence_weight(
    snapshot: Snapshot, text: str, sentence: Sentence, words: Sequence[tuple[int, int, str]], terms: frozenset[str]
) -> float:
    """Sum of the corpus idf of the question terms (and role terms) a sentence holds."""
    present = {t for s, e, t in words if sentence.start <= s and e <= sentence.end}
    present |= roles.sentence_roles(text, sentence) & terms
    index = snapshot.index
    return sum(float(index.idf[index.vocab[t]]) for t in present if t in index.vocab)


def citation(snapshot: Snapshot, passage: Passage) -> Citation:
    """The reader-facing address of a passage."""
    document = snapshot.documents[passage.doc]
    return Citation(
        source=document.source,
        title=document.title,
        paragraph=passage.paragraph,
        paragraph_end=passage.paragraph_end,
        sentence_start=passage.sentences[0].number,
        sentence_end=passage.sentences[-1].number,
        start=passage.start,
        end=passage.end,
        url=document.url,
    )
