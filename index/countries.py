"""A country's other one-word names, from ``countryinfo``: its demonym and short forms.

"What did the American president post online?" asks about what the article calls "U.S. President
Donald Trump": "American" is the United States' demonym and "US" one of its short names. So a
question word the text never writes stands for the other names of its country that the text
does write. Names of several words ("United States of America") are left out: a term stands for
one word, and "united" alone would find any union.

ISO codes ("ARM" for Armenia, "CAN" for Canada, "PER" for Peru) are ordinary words when written
in lower case: a code asks for its country only when the question writes it in capitals ("USA").
"""

from __future__ import annotations

from functools import lru_cache

import countryinfo

from .tokenize import Tokenizer, TokenizerConfig

Groups = dict[str, frozenset[str]]


def other_names(term: str, written: str, config: TokenizerConfig) -> frozenset[str]:
    """Index terms of the other names of the country that ``term`` (written as ``written``) names."""
    by_name, by_code = _groups(config)
    found = by_name.get(term)
    if found is None and written.isupper():
        found = by_code.get(term)
    return found or frozenset()


@lru_cache(maxsize=4)
def _groups(config: TokenizerConfig) -> tuple[Groups, Groups]:
    """For each one-word name (and, apart, each code) of a country, the terms of its other names.

    Read once per tokenizer configuration: 256 countries, ~40 ms. A name several countries share
    is the most populous one's: "American" is also the Northern Mariana Islands' demonym.
    """
    tokenizer = Tokenizer(config)
    names: Groups = {}
    codes: Groups = {}
    for country in sorted(countryinfo.all_countries(), key=lambda c: -(c.population() or 0)):
        demonym = country.demonym()
        iso = {str(code).casefold() for code in (country.iso() or {}).values()}
        written = [country.name(), demonym, f"{demonym}s" if demonym else None, *(country.alt_spellings() or [])]
        forms = [(form, form.casefold() in iso) for form in written if form]
        terms = {term: code for form, code in forms if len(found := tokenizer(form)) == 1 for term in found}
        for term, code in terms.items():  # a name several share is the most populous one's: "American"
            (codes if code else names).setdefault(term, frozenset(terms) - {term})
    return names, codes
