"""The one tokenizer: the same terms for passages and questions, robust to any Unicode."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.tokenize import Tokenizer

TOKENIZE = Tokenizer()


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("U.S.-backed truce", ["us", "back", "truce"]),
        ("5,000 people", ["5000", "peopl"]),
        ("Azerbaijan's defence ministry", ["azerbaijan", "defenc", "ministri"]),
        ("Nagorno-Karabakh", ["nagorno", "karabakh"]),
        ("CEASEFIRE ceasefires Ceasefire", ["ceasefir"] * 3),
        ("\u201cAl\u00edyev\u201d", ["aliyev"]),
        ("\ufb01re", ["fire"]),
        ("What is it?", []),
        ("whos aliyev, how many ppl died", ["aliyev", "mani", "peopl", "die"]),
    ],
    ids=[
        "acronym-hyphen",
        "thousands",
        "possessive",
        "hyphen",
        "case-plural",
        "accents-quotes",
        "ligature",
        "stopwords",
        "chat-shorthand",
    ],
)
def test_terms(text: str, terms: list[str]) -> None:
    assert TOKENIZE(text) == terms


def test_questions_and_passages_meet_on_the_same_terms() -> None:
    assert set(TOKENIZE("When did fighting erupt?")) <= set(TOKENIZE("The fighting erupted on Sept. 27"))


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.characters(codec=None)) | st.text(alphabet=st.characters(categories=["Cs", "Cf", "Mn", "So"]))
)
def test_any_unicode_tokenizes_without_error(text: str) -> None:
    terms = TOKENIZE(text)
    assert all(isinstance(t, str) and t for t in terms)


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_highlight_spans_point_inside_the_text(text: str) -> None:
    terms = frozenset(TOKENIZE(text))
    for span in TOKENIZE.spans(text, terms):
        assert 0 <= span.start < span.end <= len(text)
        assert TOKENIZE(text[span.start : span.end])
