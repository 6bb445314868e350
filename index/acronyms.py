"""Acronyms a question uses for names the text spells out: "WWII" for "World War II".

People write the short form; an encyclopedia article or a news report often gives only the long
one. Without this, "WWII" is a name the text never mentions, and the question is declined. The
long forms are read off the text itself (runs of capitalised words, small linking words allowed
inside), so nothing is guessed: an acronym stands only for a name the text contains.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

_WORD = re.compile(r"[^\W_](?:[\w'\u2019.-]*\w)?")
_LINKS = frozenset("of for and the in on de du la von van to at &".split())
_ROMAN = re.compile(r"^(?:I{1,3}|IV|V|VI{1,3}|IX|X)$")
MAX_WORDS = 8
MAX_CHARS = 2_000_000  # texts read for long forms; beyond, acronyms are not expanded


def looks_like_acronym(word: str) -> bool:
    """``WWII``, ``IOC``, ``U.S.``: two to eight capitals, dots allowed."""
    bare = word.replace(".", "")
    return 2 <= len(bare) <= MAX_WORDS and bare.isalpha() and bare.isupper()


def long_forms(texts: Iterable[str]) -> dict[str, str]:
    """Each acronym the texts' capitalised names spell, with its commonest long form."""
    seen: dict[str, Counter[str]] = {}
    for text in texts:
        for words, initials in names(text):
            seen.setdefault(initials, Counter())[" ".join(words)] += 1
    return {key: forms.most_common(1)[0][0] for key, forms in seen.items()}


def names(text: str) -> Iterable[tuple[list[str], str]]:
    """Every name of two to eight capitalised words in ``text`` (linking words inside), with its initials."""
    for run in _runs(text):
        for start in range(len(run)):
            if run[start].casefold() in _LINKS:
                continue
            for end in range(start + 2, min(len(run), start + MAX_WORDS) + 1):
                if run[end - 1].casefold() not in _LINKS:
                    words = run[start:end]
                    yield words, _initials(words)


def _runs(text: str) -> Iterable[list[str]]:
    """Maximal runs of capitalised words and the linking words between them."""
    run: list[str] = []
    end = 0
    for match in _WORD.finditer(text):
        word = match.group()
        capital = word[:1].isupper()
        if run and text[end : match.start()].strip():  # punctuation ends a name
            yield run
            run = []
        end = match.end()
        if capital or (run and word.casefold() in _LINKS):
            run.append(word)
            continue
        if run:
            yield run
            run = []
    if run:
        yield run


def _initials(words: list[str]) -> str:
    """ "World War II" -> "WWII"; linking words add nothing, roman numerals count whole."""
    letters = []
    for word in words:
        if word.casefold() in _LINKS:
            continue
        letters.append(word if _ROMAN.match(word) else word[0].upper())
    return "".join(letters)
