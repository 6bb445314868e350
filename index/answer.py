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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from rapidfuzz.distance import OSA
from rapidfuzz.process import extract

from . import acronyms, countries, roles, semantic
from .snapshot import Snapshot, shared_title
from .tokenize import Tokenizer
from .types import Answer, Citation, Hit, Passage, Sentence, Span

BACKGROUND = Path(__file__).resolve().parent / "data" / "background.json.gz"


@dataclass(frozen=True, slots=True)
class AnswerConfig:
    """Question handling; thresholds chosen on tests/data/qa.jsonl (README table)."""

    max_question_chars: int = 1000
    max_terms: int = 32  # a long question costs no more than this many postings scans
    min_coverage: float = 0.3  # share of the question's weight the best passage must hold
    min_content_coverage: float = 0.2  # the same, counting only the words that are not names
    dominant_share: float = 0.5  # a word the text never uses that carries this share of the question declines it
    fuzzy: bool = True
    common_word_df: int = 40  # a word this common in English is a word, not a typo
    variants: bool = True  # "armenia" also finds "armenian"
    answer_types: bool = True  # "how many" prefers passages with numbers, "when" with dates
    related_min: float = 0.7  # a missing word matches the text's words this similar (cosine); > 1: off
    min_name_share: float = 0.6  # the answering passage (or its title) holds this share of the names' weight
    acronyms: bool = True  # "WWII" finds "World War II" when the text never writes "WWII"
    countries: bool = True  # "American" finds "U.S." when the text never writes "American" (countryinfo)
    sentence_meaning: float = 0.7  # share of the cosine in choosing the marked sentence (the rest: its terms)
    related_name_min: float = 0.7  # the same for a name or a word the text has; matches must start like it


@dataclass(frozen=True, slots=True)
class Concept:
    """One content word of the question and the index terms that stand for it."""

    word: str  # as the user wrote it
    terms: tuple[str, ...]  # its stem, a spelling fix, a role term: any of them counts as found
    weight: float  # how much of the question's meaning it carries
    name: bool  # written as a proper name (capitalised mid-question, or an acronym)
    related: tuple[str, ...] = ()  # index terms of words that mean nearly the same (not written in the text)
    framing: bool = False  # frames the question ("tell me about", "what happened"): searched, never required


@dataclass(frozen=True, slots=True)
class Query:
    """A question reduced to what the index searches."""

    concepts: tuple[Concept, ...]
    focus: Concept | None  # X in "what is the X of Y": the text must have it to answer
    terms: tuple[str, ...]  # de-duplicated, capped, in question order: what BM25 scores
    corrections: tuple[tuple[str, str], ...]
    vector: npt.NDArray[np.float32] | None = None  # the question's embedding, where passages have them
    words: npt.NDArray[np.float32] | None = None  # its content words in context, where alignment is on


# Words that frame a question rather than carry its subject (stems): they weigh a quarter.
FRAMING = frozenset(
    """say said tell told think know happen mean mani much thing kind actual realli anyth someth someon
    anyon get got take took give gave come came go went make made use like ever still way lot stuff
    find explain describ detail inform question answer exact whi anyway els name mention involv
    posit stanc view opinion role reaction attitud hey hi hello pleas thank okay bot""".split()
)
FRAMING_FACTOR = 0.25
# Stems of words that name the kind of answer wanted ("publish date"), not what the question is about.
ANSWER_KINDS = frozenset("date time year day month number amount place reason".split())
Located = tuple[int, int, str]  # a question term's start and end in the document, and the term
RELATED_LIMIT = 2  # related words per question word
DOCUMENT_ASK_WEIGHT = 5.0  # "what is the article about": as much as a fairly rare word ("washington")
NO_BLEND = semantic.Blend()
VARIANT_MIN = 4
DEMONYM_SUFFIXES = ("n", "an", "ian", "i", "ns", "ans", "is")
DEGREE_SUFFIXES = ("er", "est", "r", "st")  # older, oldest; later, latest (stems: "late" + "st")
MIN_SENTENCE_WORDS = 3  # a shorter line (a title, "Chuck Yeager") is a name, not what a passage says
WARM_SENTENCES = 1024  # an index of up to this many sentences has all their words read at start (~20 s at most)
VARIANT_MIN_COSINE = 0.5  # a variant must mean about the same: "old"/"oldest" 0.61, "form"/"former" 0.22


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


def parse(
    question: str, snapshot: Snapshot, tokenizer: Tokenizer, config: AnswerConfig, blend: semantic.Blend = NO_BLEND
) -> Query:
    """Concepts of the question: stems, typo fixes, acronyms, role terms, related words; capped; its embedding."""
    bg = background()
    ordinals = roles.photo_ordinals(question)  # "second" in "the second photo" is a place, not a subject
    words = [w for w in tokenizer.words_with_position(question) if w[0].casefold() not in ordinals]
    caps_informative = tokenizer.capitalised_share(question) <= 0.6  # Title Case Says Nothing
    concepts: dict[str, Concept] = {}
    corrections: list[tuple[str, str]] = []
    for word, term, first in words:
        if term in concepts:
            continue
        alternatives = [term]
        if config.fuzzy and term not in snapshot.index.vocab and not bg.is_common(term, config.common_word_df):
            fixed = _correct(word, term, snapshot, tokenizer)
            if fixed:
                alternatives = [fixed]
                corrections.append((word, fixed))
        if config.variants:
            alternatives += [v for v in variants(alternatives[0], snapshot) if v not in alternatives]
        if config.acronyms and alternatives[0] not in snapshot.index.vocab and acronyms.looks_like_acronym(word):
            alternatives += _spelled_out(word, snapshot, tokenizer, alternatives)
        alternatives += [t for t in roles.triggered(word, term) if t not in alternatives]
        name = caps_informative and _looks_like_name(word, first)
        concepts[term] = Concept(word, tuple(alternatives), _weight(term, snapshot, bg), name, framing=term in FRAMING)
    if config.acronyms:
        _abbreviated(question, concepts, snapshot, tokenizer)
    _ask_of_the_document(question, concepts, tokenizer)
    meaning = snapshot.embeddings is not None and semantic.available()
    keys = _to_relate(concepts, snapshot) if meaning and config.related_min <= 1 else []
    embedded = question if meaning and blend.meaning > 0 else None
    vector, in_context = _embed_and_relate(embedded, concepts, keys, snapshot, config)
    if config.countries:
        _add_country_names(concepts, snapshot, tokenizer)
    ordered = _cap(list(concepts.values()), config.max_terms)
    wanted = roles.question_types(question) if config.answer_types else []
    terms = tuple(dict.fromkeys([t for c in ordered for t in c.terms + c.related] + wanted))
    focus = _focus(question, tokenizer, concepts) or _byline_asked(concepts)
    return Query(tuple(ordered), focus, terms, tuple(corrections), vector, in_context)


def _add_country_names(concepts: dict[str, Concept], snapshot: Snapshot, tokenizer: Tokenizer) -> None:
    """A country's name the text never writes stands for the names of it the text does ("American": "U.S.")."""
    vocab = snapshot.index.vocab
    for key, concept in concepts.items():
        if any(t in vocab for t in concept.terms + concept.related):
            continue
        names = sorted(t for t in countries.other_names(concept.terms[0], concept.word, tokenizer.config) if t in vocab)
        if names:
            concepts[key] = dataclasses.replace(concept, related=(*concept.related, *names))


def _abbreviated(question: str, concepts: dict[str, Concept], snapshot: Snapshot, tokenizer: Tokenizer) -> None:
    """Let a name the question spells out find the acronym the text also writes for it.

    The article writes "the United States" once and "U.S." six times; "What did the United States
    president write?" was declined, the passage saying "U.S. President Donald Trump". The acronym
    counts only where the text itself spells it so (its long form), as for "WWII" the other way.
    """
    lexicon_ = lexicon(snapshot)
    for words, initials in acronyms.names(question):
        long_form = lexicon_.long_form(initials)
        term = tokenizer.term_of(initials)
        if long_form is None or long_form.casefold() != " ".join(words).casefold() or term not in snapshot.index.vocab:
            continue
        for key in filter(None, map(tokenizer.term_of, words)):
            concept = concepts.get(key)
            if concept is not None and term not in concept.terms:
                concepts[key] = dataclasses.replace(concept, terms=(*concept.terms, term))


def _ask_of_the_document(question: str, concepts: dict[str, Concept], tokenizer: Tokenizer) -> None:
    """Add the role a question about the whole document asks for; its asking words only frame it.

    "Summarize the article" asks for the title and the lead, not for a passage that says
    "summarize"; without this, "summarize" (a word no text uses) declined the question.
    """
    for word, role_terms, asking in roles.document_asks(question):
        said = {w.casefold() for w, _, _ in tokenizer.words_with_position(asking)}
        for key, c in concepts.items():
            if not c.name and not c.framing and c.word.casefold() in said:
                concepts[key] = dataclasses.replace(c, weight=c.weight * FRAMING_FACTOR, framing=True)
        concepts.setdefault(role_terms[0], Concept(word, role_terms, DOCUMENT_ASK_WEIGHT, False))


def _embed_and_relate(
    question: str | None, concepts: dict[str, Concept], keys: list[str], snapshot: Snapshot, config: AnswerConfig
) -> tuple[npt.NDArray[np.float32] | None, npt.NDArray[np.float32] | None]:
    """Embed the question and the words to relate in one model call, relate the words.

    Returns the question's vector and its content words in context (None when not embedded).

    One call, because the model's fixed cost per call, not the few tokens, is what a question pays;
    words the index has take their stored vectors and cost nothing.
    """
    known = _indexed_vectors(concepts, keys, snapshot)
    asked = [concepts[k].word.casefold() for k in keys if k not in known]
    vectors, words = semantic.embed_question([question, *asked] if question is not None else asked)
    if keys:
        fresh = iter(vectors[int(question is not None) :])
        table = np.stack([known[k] if k in known else next(fresh) for k in keys])
        _add_related(concepts, keys, table, snapshot, config)
    return (vectors[0], words[0]) if question is not None else (None, None)


def _to_relate(concepts: dict[str, Concept], snapshot: Snapshot) -> list[str]:
    """Names, words the text never uses (for its synonyms), and words it uses that have a stored vector.

    A word the text uses is related only for other forms of it, and one without a stored vector
    (a number) has none: embedding it would only lengthen the question's model call. A word the
    text has only in another form ("recipe": "recipient") is related too, so the form is checked.
    """
    vocab = snapshot.index.vocab
    return [
        key
        for key, c in concepts.items()
        if c.name or c.terms[0] not in vocab or _stored_vector(snapshot, c.terms[0]) is not None
    ]


def _stored_vector(snapshot: Snapshot, term: str) -> npt.NDArray[np.float32] | None:
    """The vector the index holds for ``term``'s word, or None (no vectors, unknown term, no word: a number)."""
    table, row = snapshot.vocab_embeddings, snapshot.index.vocab.get(term)
    return table[row] if table is not None and row is not None and table[row].any() else None


def _indexed_vectors(
    concepts: dict[str, Concept], keys: list[str], snapshot: Snapshot
) -> dict[str, npt.NDArray[np.float32]]:
    """Vectors the index already holds for the question's words it knows (names, mostly).

    Embedding them again would add a sequence per name to every question's model call: capacity
    on the article fell from 52 to 45 answers/s before this.
    """
    stored = {key: _stored_vector(snapshot, concepts[key].terms[0]) for key in keys}
    return {key: vector for key, vector in stored.items() if vector is not None}


def _add_related(
    concepts: dict[str, Concept],
    keys: list[str],
    vectors: npt.NDArray[np.float32],
    snapshot: Snapshot,
    config: AnswerConfig,
) -> None:
    """Let a word the text never uses stand for the text's synonyms of it ("soldiers": "military").

    A name stands only for other forms of itself ("Turkey": "Turkish", "Indy": "Indianapolis"):
    the model also puts different names close ("ukraine"/"russia" 0.75, "sydney"/"melbourne"
    0.85), and a missing name must decline ("What did Putin say about Ukraine?"). So its matches
    must also begin with the same three letters. So must those of a word the text already uses:
    it only gains the forms the stemmer does not join ("turkey" typed in lower case: "Turkish").
    """
    if snapshot.vocab_embeddings is None:
        return
    terms = lexicon(snapshot).terms
    vocab = snapshot.index.vocab
    by_form = {key: concepts[key].name or concepts[key].terms[0] in vocab for key in keys}
    minimums = [config.related_name_min if by_form[key] else config.related_min for key in keys]
    candidates = semantic.related_terms(vectors, snapshot.vocab_embeddings, minimums, limit=8)
    for key, vector, ids in zip(keys, vectors, candidates, strict=True):
        concept = concepts[key]
        found = [terms[i] for i in ids if terms[i] not in concept.terms]
        if by_form[key]:
            found = [t for t in found if t[:3] == concept.word.casefold()[:3]]
        unlike = _unlike_forms(concept, vector, snapshot)
        kept = tuple(t for t in concept.terms if t not in unlike)
        concepts[key] = dataclasses.replace(concept, terms=kept, related=tuple(found[:RELATED_LIMIT]))


def _unlike_forms(concept: Concept, vector: npt.NDArray[np.float32], snapshot: Snapshot) -> set[str]:
    """The concept's word-form variants whose words do not mean what the question's word means."""
    forms = set(variants(concept.terms[0], snapshot)) & set(concept.terms[1:])
    stored = {t: _stored_vector(snapshot, t) for t in forms}
    return {t for t, form in stored.items() if form is not None and float(form @ vector) < VARIANT_MIN_COSINE}


# What may come before the question proper: "hello, what is the capital of France?"
_LEAD = r"^\W*(?:(?:hi|hey|hello|ok|okay|so|and|but|well|please|thanks|thank\s+you|bot)\b\W*)*"
_FOCUS = (
    re.compile(
        _LEAD + r"(?:what|who)(?:'s|\u2019s|\s+(?:is|was|are|were))\s+(the\s+|a\s+|an\s+)?([\w-]+)\s+(?:of|in|for)\b",
        re.I,
    ),
    re.compile(_LEAD + r"what(?:'s|\u2019s|\s+(?:is|was|are|were))\s+[\w-]+(?:'s|\u2019s)\s+()([\w-]+)", re.I),
)
_VERB_FORM = re.compile(r"(?:ed|en|wn|ing)$", re.I)  # "Who is credited for": a verb, not the thing asked for


def _focus(question: str, tokenizer: Tokenizer, concepts: dict[str, Concept]) -> Concept | None:
    """The attribute a "what is the X of Y" question asks for, unless it is a framing word ("kind of").

    Without an article X may be a verb ("Who is credited for the photo?"), which is no attribute.
    """
    for pattern in _FOCUS:
        match = pattern.match(question)
        if match and (match.group(1) or not _VERB_FORM.search(match.group(2))):
            terms = tokenizer(match.group(2))
            concept = concepts.get(terms[0]) if len(terms) == 1 else None
            return concept if concept is not None and terms[0] not in FRAMING else None
    return None


def _byline_asked(concepts: dict[str, Concept]) -> Concept | None:
    """ "Who wrote this article?" must be answered by a byline; other metadata lines only stand closest.

    Without one the text does not say who wrote it, and the answer says so ("Posted: October 26,
    2020" had been given as the author).
    """
    for concept in concepts.values():
        if roles.BYLINE in concept.terms:
            return dataclasses.replace(concept, terms=(roles.BYLINE,), related=())
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


def _correct(word: str, term: str, snapshot: Snapshot, tokenizer: Tokenizer) -> str | None:
    """The index term of the text's closest word within 1 edit (2 for long words), the commonest on ties.

    Edits count a swap of two letters as one ("Yaeger": "Yeager"). Words are compared as the text
    writes them where the text is small enough to list them: the stems of "Colider" and "cold"
    are as close as those of "Colider" and "collider". Otherwise the index's terms are compared.
    """
    if len(term) < 4 or not term.isalpha():
        return None
    written = lexicon(snapshot).words(tokenizer)
    typed, pool = (word.casefold(), written) if written is not None else (term, lexicon(snapshot).by_length)
    limit = 1 if len(typed) < 7 else 2
    near = [w for n in range(len(typed) - limit, len(typed) + limit + 1) for w in pool.get(n, ())]
    matches = extract(typed, near, scorer=OSA.distance, score_cutoff=limit, limit=None)
    if not matches:
        return None
    index, term_of = snapshot.index, lexicon(snapshot).term_of
    terms = {m[0]: term_of.get(m[0], m[0]) for m in matches}
    best = min(matches, key=lambda m: (m[1], -index.df(index.vocab[terms[m[0]]]), m[0]))
    return terms[best[0]]


class Lexicon:
    """Look-up tables of one generation: terms by length (typos), title terms, acronyms' long forms."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.terms = list(snapshot.index.vocab)  # by term id
        self.by_length = _by_length(t for t in self.terms if t.isalpha())
        self._texts = [document.text for document in snapshot.documents]
        self._titles = [document.title or "" for document in snapshot.documents]
        self._title_terms: dict[int, frozenset[str]] = {}
        self._long_forms: dict[str, str] | None = None
        self._columns = snapshot.columns
        self._words: dict[int, list[str]] | None = None
        self.term_of: dict[str, str] = {}  # the text's words (case folded) to their terms, once ``words`` ran
        self._short: npt.NDArray[np.bool_] | None = None
        self._small = sum(map(len, self._texts)) <= acronyms.MAX_CHARS

    def title_terms(self, doc: int, tokenizer: Tokenizer) -> frozenset[str]:
        """The terms of document ``doc``'s title, tokenized on first need."""
        found = self._title_terms.get(doc)
        if found is None:
            found = self._title_terms[doc] = frozenset(tokenizer(self._titles[doc]))
        return found

    def short_sentences(self) -> npt.NDArray[np.bool_]:
        """Which sentences are too short to stand for their passage's meaning (a title line, a name)."""
        if self._short is None:
            c = self._columns
            owner = np.searchsorted(c["p_sent"], np.arange(len(c["s_start"])), side="right") - 1
            spans = zip(c["p_doc"][owner], c["s_start"], c["s_end"], strict=True)
            self._short = np.array([len(self._texts[d][s:e].split()) < MIN_SENTENCE_WORDS for d, s, e in spans], bool)
        return self._short

    def words(self, tokenizer: Tokenizer) -> dict[int, list[str]] | None:
        """The text's indexed words as written (case folded), by length; None past ``acronyms.MAX_CHARS``.

        Read on the first typo: a pass of the tokenizer over the text (~0.3 s per million characters).
        """
        if self._words is None and self._small:  # built whole, then published: questions run in threads
            vocab = set(self.terms)
            term_of = {
                text[start:end].casefold(): term
                for text in self._texts
                for start, end, term in tokenizer.located(text)
                if term in vocab and text[start:end].isalpha()
            }
            self.term_of = term_of
            self._words = _by_length(sorted(term_of))
        return self._words

    def long_form(self, acronym: str) -> str | None:
        """The name the text spells out for ``acronym`` ("WWII": "World War II"), read on first need.

        Reading the names costs ~0.3 s per million characters, so texts past ``acronyms.MAX_CHARS``
        (a thousand passages or so) are not read: the first such question would stall for seconds.
        """
        if self._long_forms is None:
            self._long_forms = acronyms.long_forms(self._texts) if self._small else {}
        return self._long_forms.get(acronym.replace(".", ""))


def _by_length(words: Iterable[str]) -> dict[int, list[str]]:
    """Words grouped by length, in the given order: a typo is compared with words of about its length."""
    groups: dict[int, list[str]] = {}
    for word in words:
        groups.setdefault(len(word), []).append(word)
    return groups


_LEXICONS: dict[str, Lexicon] = {}


def lexicon(snapshot: Snapshot) -> Lexicon:
    """The snapshot's lexicon (only the newest generation's is kept)."""
    found = _LEXICONS.get(snapshot.generation)
    if found is None:
        found = Lexicon(snapshot)
        _LEXICONS.clear()
        _LEXICONS[snapshot.generation] = found
    return found


def _spelled_out(word: str, snapshot: Snapshot, tokenizer: Tokenizer, known: list[str]) -> list[str]:
    """The terms of the name an acronym stands for in the text, if the text spells one out."""
    long_form = lexicon(snapshot).long_form(word)
    return [t for t in dict.fromkeys(tokenizer(long_form)) if t not in known] if long_form else []


def variants(term: str, snapshot: Snapshot) -> list[str]:
    """Other forms of a word the stemmer keeps apart, where the text has them.

    A name in its nationality form and back ("armenia"/"armenian", "azerbaijani"/"azerbaijan"),
    and an adjective's comparative and superlative ("old"/"oldest", "big"/"biggest", "late"/"latest").
    Where words have vectors, ``_add_related`` keeps only the forms that mean the same: "form" is
    no form of "former", nor "recipe" of "recipient".
    """
    if len(term) < 3 or not term.isalpha():
        return []
    vocab = snapshot.index.vocab
    found = []
    if snapshot.vocab_embeddings is not None:  # only where meaning can rule out "former" for "form"
        found += [term + s for s in DEGREE_SUFFIXES] + [term + term[-1] + s for s in DEGREE_SUFFIXES[:2]]
        found += [term[: -len(s)] for s in DEGREE_SUFFIXES if term.endswith(s) and len(term) - len(s) >= 3]
    if len(term) >= VARIANT_MIN:
        found += [term + suffix for suffix in DEMONYM_SUFFIXES]
        found += [
            term[: -len(suffix)]
            for suffix in DEMONYM_SUFFIXES
            if term.endswith(suffix) and len(term) - len(suffix) >= VARIANT_MIN
        ]
    return [t for t in dict.fromkeys(found) if t != term and t in vocab]


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


def coverage(snapshot: Snapshot, concepts: Sequence[Concept], pid: int, framing_held: bool = False) -> float:
    """Share of the concepts' weight that passage ``pid`` contains (a related word counts in full).

    With ``framing_held`` a framing word counts as held wherever it is, as the not-covered rule
    wants ("tell me about Aliyev" asks only for Aliyev); ranking counts it where it is written
    ("What did they name the landing site?" prefers the passage that says "named").
    """
    total = sum(c.weight for c in concepts)
    held = sum(c.weight for c in concepts if (framing_held and c.framing) or found(snapshot, c, pid))
    return held / total if total else 0.0


def coverage_all(snapshot: Snapshot, concepts: Sequence[Concept]) -> npt.NDArray[np.float64]:
    """``coverage`` of every passage at once, from the concepts' posting lists."""
    held = np.zeros(snapshot.size)
    for concept in concepts:
        held += concept.weight * holding(snapshot, concept.terms + concept.related)
    total = sum(c.weight for c in concepts)
    return held / total if total else held


def holding(snapshot: Snapshot, terms: Sequence[str]) -> npt.NDArray[np.bool_]:
    """Which passages hold any of ``terms``, from their posting lists."""
    index = snapshot.index
    has = np.zeros(snapshot.size, dtype=bool)
    for term in terms:
        tid = index.vocab.get(term)
        if tid is not None:
            has[index.doc_ids[index.indptr[tid] : index.indptr[tid + 1]]] = True
    return has


def covered(snapshot: Snapshot, tokenizer: Tokenizer, query: Query, pids: Sequence[int], config: AnswerConfig) -> bool:
    """Whether one of the passages holds enough of the question, and of its non-name words.

    A question's names are usually what the document is about ("When was Hobart founded?"), so
    finding them says little; the rest of the question ("founded") must be there too, and in a
    passage that names them as well (or whose document's title does): "Who is the president of
    France?" is not answered by a passage about another president.
    """
    content = [c for c in query.concepts if not c.name and c.weight > 0] or list(query.concepts)
    names = [c for c in query.concepts if c.name and c.weight > 0]
    if names and len(content) < len(query.concepts):
        least = config.min_name_share * sum(c.weight for c in names)
        pids = [pid for pid in pids if sum(c.weight for c in names if _named(snapshot, tokenizer, c, pid)) >= least]
    overall = max((coverage(snapshot, query.concepts, pid, framing_held=True) for pid in pids), default=0.0)
    rest = max((coverage(snapshot, content, pid, framing_held=True) for pid in pids), default=0.0)
    return overall >= config.min_coverage and rest >= config.min_content_coverage


def _dominant(concepts: Sequence[Concept], unknown: Sequence[Concept], config: AnswerConfig) -> list[Concept]:
    """A word the text never uses that carries most of the question by itself: what it is about.

    "How do I make a sourdough starter?" is about sourdough, which a text about a city never
    mentions, however often it says "start".
    """
    total = sum(c.weight for c in concepts)
    return [
        c
        for c in unknown
        if not (c.name or c.framing)
        and c.terms[0] not in ANSWER_KINDS
        and total
        and c.weight >= config.dominant_share * total
    ]


def _named(snapshot: Snapshot, tokenizer: Tokenizer, concept: Concept, pid: int) -> bool:
    """Whether passage ``pid`` or its document's title holds the name ``concept``."""
    if found(snapshot, concept, pid):
        return True
    title = lexicon(snapshot).title_terms(snapshot.passage(pid).doc, tokenizer)
    return any(t in title for t in concept.terms + concept.related)


def prepare(snapshot: Snapshot, tokenizer: Tokenizer) -> None:
    """Load what a process's first question would otherwise wait for.

    The general-English word weights, the embedding model (loading it and its first call take
    ~0.3 s each) and the text's word list for typos: on the article the first question of a
    process took ~0.6 s, the next ones ~15 ms.
    """
    background()
    lexicon(snapshot).words(tokenizer)
    if snapshot.embeddings is not None and semantic.available():
        semantic.embed_question(["warm"])
        if len(snapshot.columns["s_start"]) <= WARM_SENTENCES:  # an article: ~0.4 s
            semantic.content_words(_sentence_texts(snapshot, range(snapshot.size)))


def answer(
    question: str,
    snapshot: Snapshot,
    tokenizer: Tokenizer,
    config: AnswerConfig,
    k: int,
    blend: semantic.Blend = NO_BLEND,
) -> Answer:
    """Rank passages for an already validated question and decide whether they answer it.

    ``blend`` holds the shares of meaning and coverage in the score where the index has embeddings.
    """
    query = parse(question, snapshot, tokenizer, config, blend)
    index = snapshot.index
    ranked = _ranked(query, snapshot, k, blend)
    matched = [(pid, score) for pid, score in ranked if any(found(snapshot, c, pid) for c in query.concepts)][:k]
    unknown = [c for c in query.concepts if not any(t in index.vocab for t in c.terms + c.related) and c.weight > 0]
    declining = [c for c in unknown if c.name] + _dominant(query.concepts, unknown, config)  # missing: not covered
    focus_missing = query.focus is not None and not any(found(snapshot, query.focus, pid) for pid, _ in matched)
    if focus_missing and query.focus is not None and query.focus not in declining:  # "capital": dominant and focus
        declining.append(query.focus)
    answered = bool(matched) and not declining and covered(snapshot, tokenizer, query, [p for p, _ in matched], config)
    if not answered:
        matched = matched[:1]
    hits = tuple(
        _hit(snapshot, tokenizer, query, rank, pid, score, config.sentence_meaning)
        for rank, (pid, score) in enumerate(matched, 1)
    )
    missing = tuple(c.word for c in unknown)
    said = declining or [c for c in unknown if not c.framing] or unknown  # "death", "toll"; not "know"
    reason = None if answered else _reason(snapshot, query, said, bool(matched))
    fixes = tuple((typed, _as_written(snapshot, tokenizer, term, hits)) for typed, term in query.corrections)
    return Answer(question, answered, reason, hits, query.terms, missing, fixes)


def _ranked(query: Query, snapshot: Snapshot, k: int, blend: semantic.Blend) -> list[tuple[int, float]]:
    """Passages best first: BM25's top ``k``, or every passage by BM25 blended with meaning and coverage."""
    index = snapshot.index
    term_ids = index.term_ids(query.terms)
    if snapshot.embeddings is None or query.vector is None:
        ids, scores = index.top_k(term_ids, k)
        return [(int(i), float(s)) for i, s in zip(ids, scores, strict=True)]
    ids, scores = index.top_k(term_ids, snapshot.size)
    lexical = np.zeros(snapshot.size)
    lexical[ids] = scores
    held = coverage_all(snapshot, query.concepts)
    meaning = _meaning(snapshot, snapshot.embeddings, query.vector, blend)
    fused = _realigned(query, snapshot, semantic.fuse(lexical, meaning, held, blend), meaning, blend)
    named = holding(snapshot, [t for t in query.terms if roles.is_nth_caption(t)])  # "the second photo": that one
    order = np.lexsort((-fused, ~named))
    return [(int(i), float(fused[i])) for i in order]


def _realigned(
    query: Query,
    snapshot: Snapshot,
    fused: npt.NDArray[np.float64],
    meaning: npt.NDArray[np.float32],
    blend: semantic.Blend,
) -> npt.NDArray[np.float64]:
    """The best few passages scored again, with part of their meaning read word by word.

    A sentence vector averages all its words, so an answer worded differently from the question
    loses to a sentence that repeats the question's names; aligning word with word finds it ("what
    rules does turkey's foreign ministry want the talks to follow": "resolutions and international
    laws", in a quote about "the Minsk group co-chairs"). Only the best ``blend.rerank`` passages are read so: it
    costs a model pass over their sentences the first time, and the answer is almost always there.
    """
    if query.words is None or not len(query.words) or not blend.alignment or not blend.rerank:
        return fused  # "What about the U.S.?" has no word to read: reading would only lower the best
    best = [int(pid) for pid in np.argsort(-fused, kind="stable")[: blend.rerank]]
    words = iter(semantic.content_words(_sentence_texts(snapshot, best)))
    for pid in best:
        sentences = _with_title(snapshot, pid, [next(words) for _ in range(_sentence_count(snapshot, pid))])
        fused[pid] += blend.meaning * blend.alignment * (semantic.aligned(query.words, sentences) - float(meaning[pid]))
    return fused


def _with_title(
    snapshot: Snapshot, pid: int, sentences: list[npt.NDArray[np.float32]]
) -> list[npt.NDArray[np.float32]]:
    """Each sentence's words joined by its document's title's, where BM25 reads passages with it too.

    "His own role in the movie was played by Sam Shepard" answers "Which actor portrayed Chuck
    Yeager in the film?" only with its title, "Chuck Yeager" (Wikipedia set recall@1 0.914 to 0.924).
    """
    title = shared_title(
        snapshot.documents, snapshot.params["chunk"]["title_terms"], int(snapshot.columns["p_doc"][pid])
    )
    if title is None:
        return sentences
    (held,) = semantic.content_words([title])
    return [np.vstack([words, held]) for words in sentences]


def _sentence_count(snapshot: Snapshot, pid: int) -> int:
    pointer = snapshot.columns["p_sent"]
    return int(pointer[pid + 1] - pointer[pid])


def _sentence_texts(snapshot: Snapshot, pids: Iterable[int]) -> list[str]:
    """The text of every sentence of passages ``pids``, in order."""
    c = snapshot.columns
    texts = []
    for pid in pids:
        text = snapshot.documents[int(c["p_doc"][pid])].text
        for i in range(int(c["p_sent"][pid]), int(c["p_sent"][pid + 1])):
            texts.append(text[int(c["s_start"][i]) : int(c["s_end"][i])])
    return texts


def _meaning(
    snapshot: Snapshot, embeddings: npt.NDArray[np.float32], vector: npt.NDArray[np.float32], blend: semantic.Blend
) -> npt.NDArray[np.float32]:
    """Each passage's cosine with the question, averaged with its best sentence's.

    A 200-word passage holds many facts and its one vector blurs them; the sentence that states
    the answer stands out on its own (Wikipedia set recall@1 0.89 -> 0.91, README table). Lines
    of one or two words do not count: the title line "Chuck Yeager" is close to any question
    naming him, and lifted the title passage over the answer to "Which actor played Chuck Yeager?".
    """
    passages = embeddings @ vector
    if not blend.sentences or snapshot.sentence_embeddings is None or snapshot.size == 0:
        return passages
    cosines = snapshot.sentence_embeddings @ vector
    cosines[lexicon(snapshot).short_sentences()] = -np.inf
    best = np.maximum.reduceat(cosines, snapshot.columns["p_sent"][:-1])
    best = np.where(np.isfinite(best), best, passages)
    return ((passages + best) / 2).astype(np.float32)


def _as_written(snapshot: Snapshot, tokenizer: Tokenizer, term: str, hits: Sequence[Hit]) -> str:
    """A corrected term as the text spells it ("ceasefire", not the stem "ceasefir"), when a hit shows it."""
    for hit in hits:
        for span in tokenizer.spans(hit.passage.text, frozenset((term,))):
            return hit.passage.text[span.start : span.end]
    return term


def _reason(snapshot: Snapshot, query: Query, missing: Sequence[Concept], any_match: bool) -> str:
    """Why the text does not answer, in the reader's words."""
    several = len(snapshot.documents) > 1
    what = "the indexed texts" if several else "the article"
    if all(c.framing for c in query.concepts):  # "hi", "thanks", "tell me something"
        return f"That asks nothing about {what}: ask about a person, a place or an event in it."
    if not any_match:
        return f"None of the question's words ({_join([c.word for c in query.concepts])}) appear in {what}."
    if any(c.terms == (roles.BYLINE,) for c in missing):  # "Who wrote this article?" and no byline
        return f"{what.capitalize()} {'do not say who wrote them' if several else 'does not say who wrote it'}."
    if missing:
        return f"{what.capitalize()} never {'mention' if several else 'mentions'} {_join([c.word for c in missing])}."
    heavy = sorted(query.concepts, key=lambda c: -c.weight)[:4]
    return f"No passage of {what} talks about {_join([c.word for c in heavy])} together."


def _join(words: Sequence[str]) -> str:
    items = [f'"{w}"' for w in words[:6]]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _hit(
    snapshot: Snapshot, tokenizer: Tokenizer, query: Query, rank: int, pid: int, score: float, sentence_meaning: float
) -> Hit:
    """A ranked passage with its best sentence and highlights, from one tokenizing pass over it."""
    passage = snapshot.passage(pid)
    text = snapshot.documents[passage.doc].text
    terms = frozenset(query.terms)
    words = [(passage.start + s, passage.start + e, t) for s, e, t in tokenizer.located(passage.text) if t in terms]
    sentence = _best_sentence(snapshot, text, passage, query, words, terms, sentence_meaning)
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


def _best_sentence(
    snapshot: Snapshot,
    text: str,
    passage: Passage,
    query: Query,
    words: Sequence[Located],
    terms: frozenset[str],
    share: float,
) -> Sentence:
    """The sentence to mark: the one holding the most (rarest) question terms, blended with meaning.

    Where sentences have vectors, the cosine with the question takes ``share`` of the choice: the
    sentence that answers in other words ("974 of its military personnel" for "soldiers") wins
    over one that repeats the question's names. The first sentence wins ties. "Who took the
    photo" marks the caption's credit; "the second photo", that caption's words.
    """
    groups = roles.caption_groups(text, passage.sentences)
    marks = roles.sentence_roles(text, passage.sentences, groups)
    weights = np.array(
        [_sentence_weight(snapshot, s, m & terms, words) for s, m in zip(passage.sentences, marks, strict=True)]
    )
    vectors = snapshot.sentence_embeddings
    if vectors is not None and query.vector is not None and share > 0:
        first = int(snapshot.columns["p_sent"][passage.id])
        cosines = vectors[first : first + len(passage.sentences)] @ query.vector
        top = weights.max()
        weights = (1 - share) * (weights / top if top > 0 else weights) + share * cosines
    caption = _asked_caption(snapshot, groups, passage.id, terms, weights)
    if caption and roles.CREDIT in terms:
        return passage.sentences[caption[-1]]
    if len(caption) > 1 and any(roles.is_nth_caption(t) for t in terms):
        return passage.sentences[max(caption[:-1], key=lambda i: float(weights[i]))]
    return passage.sentences[int(np.argmax(weights))]


def _asked_caption(
    snapshot: Snapshot, groups: list[list[int]], pid: int, terms: frozenset[str], weights: npt.NDArray[np.float64]
) -> list[int]:
    """Sentence indices (credit last) of the caption a question is about, among a passage's ``groups``.

    "The second photo" is the caption its place term numbers so; otherwise the caption holding
    the best sentence (two captions can share a passage).
    """
    asked = [t for t in terms if roles.is_nth_caption(t)]
    if not groups:
        return []
    if not asked:
        return max(groups, key=lambda group: max(float(weights[i]) for i in group))
    if asked[0] == roles.nth_caption(0):
        return groups[-1]
    held = [t for t in map(roles.nth_caption, roles.ASKABLE_PLACES) if contains(snapshot, t, pid)]
    return groups[held.index(asked[0])] if asked[0] in held[: len(groups)] else groups[0]


def _sentence_weight(snapshot: Snapshot, sentence: Sentence, marks: set[str], words: Sequence[Located]) -> float:
    """Sum of the corpus idf of the question terms (and the role terms ``marks``) a sentence holds."""
    present = {t for s, e, t in words if sentence.start <= s and e <= sentence.end} | marks
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
