"""One tokenizer for passages and questions, so both sides of BM25 see the same terms.

Steps, each kept because the evaluation says it helps (README table): Unicode NFKC, case
folding, accents folded, acronyms and thousands joined ("U.S." -> "us", "5,000" -> "5000"),
hyphens and apostrophes split, English stopwords dropped (typed without the apostrophe too:
"whos"), chat shorthand spelled out ("ppl"), Snowball stemming (PyStemmer).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

import Stemmer

from .types import Span

# Snowball's English stopword list (the one its stemmer is designed for), plus contractions' stubs.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me
    more most my myself no nor not now of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these they
    this those through to too under until up very was we were what when where which while who whom
    why will with would you your yours yourself yourselves s t d ll m re ve don isn aren wasn weren
    hasn haven hadn doesn didn won wouldn shan shouldn couldn mustn let shall may might must also""".split()
) | frozenset(  # the same words as typed in chat, without the apostrophe or spelled short
    """whats whos wheres whens hows whys thats theres im ive youre theyre dont didnt doesnt isnt arent
    wasnt werent hasnt havent hadnt shouldnt couldnt wouldnt wat wut abt pls plz thx cuz coz b4 u""".split()
)
# Chat shorthand for words that carry meaning: "how many ppl died" asks about people.
SHORTHAND = {"ppl": "people", "govt": "government", "yrs": "years", "hrs": "hours", "mins": "minutes"}
# Acronyms with dots (U.S., a.m.), numbers with thousands separators, then runs of letters/digits.
_TOKEN = re.compile(r"(?:[^\W\d_]\.){2,}|\d{1,3}(?:,\d{3})+(?![\d,])|[^\W_]+", re.UNICODE)
_STRIP = re.compile(r"[.,]")


@dataclass(frozen=True, slots=True)
class TokenizerConfig:
    """The tokenizing choices; stored in the index manifest so a change forces a rebuild."""

    stem: bool = True
    stopwords: bool = True
    fold_accents: bool = True
    version: int = 2  # 2: chat shorthand ("whos", "ppl")


class Tokenizer:
    """Turns text into index terms; the same object serves passages and questions."""

    def __init__(self, config: TokenizerConfig | None = None) -> None:
        self.config = config or TokenizerConfig()
        self._stemmer = Stemmer.Stemmer("english") if self.config.stem else None
        self._stop = STOPWORDS if self.config.stopwords else frozenset()
        self._cache: dict[str, str] = {}
        self._written: dict[str, str | None] = {}  # a word as written -> its term (None: a stopword)

    def __call__(self, text: str) -> list[str]:
        """Index terms of ``text`` in order (repeats kept: BM25 counts them)."""
        words = _TOKEN.findall(self.normalize(text))
        stop, cache, term = self._stop, self._cache, self._term
        return [cache.get(w) or term(w) for w in words if w not in stop and _bare(w) not in stop]

    def normalize(self, text: str) -> str:
        """NFKC, case folding and (optionally) accent folding of a whole text."""
        text = unicodedata.normalize("NFKC", text).casefold()
        if self.config.fold_accents and not text.isascii():
            text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        return text

    def _term(self, word: str) -> str:
        """Stem one word (cached: text repeats its words)."""
        bare = _bare(word)
        bare = SHORTHAND.get(bare, bare)
        stemmed = self._stemmer.stemWord(bare) if self._stemmer else bare
        if len(self._cache) < 1_000_000:
            self._cache[word] = stemmed
        return stemmed

    def term_of(self, word: str) -> str | None:
        """The term of one word as written in a text, or None for a stopword (cached: texts repeat words)."""
        try:
            return self._written[word]
        except KeyError:
            terms = self(word)
            term = terms[0] if terms else None
            if len(self._written) < 1_000_000:
                self._written[word] = term
            return term

    def located(self, text: str) -> list[tuple[int, int, str]]:
        """``(start, end, term)`` of every content word of ``text``, offsets into the original."""
        term_of = self.term_of
        found = []
        for match in _TOKEN.finditer(text):
            term = term_of(match.group(0))
            if term:
                found.append((match.start(), match.end(), term))
        return found

    def spans(self, text: str, terms: frozenset[str]) -> tuple[Span, ...]:
        """Where words whose term is in ``terms`` stand in ``text`` (offsets into the original)."""
        return tuple(Span(start, end) for start, end, term in self.located(text) if term in terms)

    def capitalised_share(self, text: str) -> float:
        """Share of all words (stopwords too) that start with a capital letter."""
        words = _TOKEN.findall(text)
        return sum(w[:1].isupper() for w in words) / len(words) if words else 0.0

    def words_with_position(self, text: str) -> Iterator[tuple[str, str, bool]]:
        """``(word as written, term, is first word)`` for each content word of ``text``."""
        for number, match in enumerate(_TOKEN.finditer(text)):
            term = self.term_of(match.group(0))
            if term:
                yield match.group(0), term, number == 0


def _bare(word: str) -> str:
    """A token without acronym dots or thousands commas."""
    return _STRIP.sub("", word) if ("." in word or "," in word) else word
