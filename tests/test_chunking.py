"""Passages are exact, contiguous spans; short paragraphs keep their context; sentences split right."""

from __future__ import annotations

import itertools
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from index.chunking import ChunkConfig, chunk, sentence_spans

WORDS = st.sampled_from(["truce", "Mr.", "U.S.", "said", "Sept.", "27", "end.", "why?", "\u201cno,\u201d", "a.m.", "-"])
TEXT = st.one_of(
    st.text(),
    st.lists(st.one_of(WORDS, st.sampled_from([" ", "\n", "\n\n", "\r\n", "\u00a0", "\t"])), max_size=300).map("".join),
)


def _check_partition(text: str, config: ChunkConfig) -> None:
    passages = chunk(text, 0, config)
    for p in passages:
        assert text[p.start : p.end] == p.text, "offsets must round-trip to the source"
        assert p.text.strip(), "no empty passage"
        assert p.sentences[0].start == p.start and p.sentences[-1].end == p.end
    for a, b in itertools.pairwise(passages):
        assert a.end <= b.start, "passages must not overlap"
        assert not text[a.end : b.start].strip(), "only white space may fall between passages"
    covered = "".join(p.text for p in passages)
    assert re.sub(r"\s", "", covered) == re.sub(r"\s", "", text.replace("\ufeff", "").replace("\u200b", ""))


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_passages_partition_any_text_exactly(text: str) -> None:
    _check_partition(text, ChunkConfig())


@settings(max_examples=150, deadline=None)
@given(TEXT, st.integers(1, 60), st.integers(0, 30), st.booleans())
def test_partition_holds_for_any_sizes(text: str, max_words: int, min_words: int, merge: bool) -> None:
    _check_partition(text, ChunkConfig(min_words=min_words, max_words=max_words, merge_short=merge))


def test_heading_joins_the_paragraph_it_introduces(article_text: str) -> None:
    passages = chunk(article_text, 0, ChunkConfig())
    heading = next(p for p in passages if "Turkey calls for 'goal-oriented talks'" in p.text)
    assert heading.text.startswith("Turkey calls for")
    assert "Representatives of the OSCE Minsk Group" in heading.text


def test_short_quote_paragraph_keeps_its_speaker(article_text: str) -> None:
    passages = chunk(article_text, 0, ChunkConfig())
    quote = next(p for p in passages if "can only be sustainable this way" in p.text)
    assert "Hami Aksoy said in a statement" in quote.text
    assert quote.paragraph == 16 and quote.paragraph_end == 17


def test_title_and_subtitle_form_the_first_passage(article_text: str) -> None:
    first = chunk(article_text, 0, ChunkConfig())[0]
    assert first.paragraph == 1
    assert "The 3rd truce in just over 2 weeks was shattered within minutes" in first.text


def test_long_paragraph_splits_between_sentences() -> None:
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(40))
    passages = chunk(text, 0, ChunkConfig(max_words=50))
    assert len(passages) > 1
    assert all(p.text.endswith("words.") for p in passages)
    assert all(len(p.text.split()) <= 50 for p in passages)


def test_abbreviations_and_initials_do_not_end_sentences() -> None:
    text = (
        "The U.S. Secretary met J. Smith at 8 a.m. local time on Sept. 27 in Washington, D.C., on Friday. Then he left."
    )
    spans = sentence_spans(text, 0, len(text))
    assert [text[s:e] for s, e in spans] == [
        "The U.S. Secretary met J. Smith at 8 a.m. local time on Sept. 27 in Washington, D.C., on Friday.",
        "Then he left.",
    ]


def test_sentence_numbers_are_one_based_within_each_paragraph(article_text: str) -> None:
    passages = chunk(article_text, 0, ChunkConfig())
    caption = next(p for p in passages if "Pompeo to discuss" in p.text)
    assert [(s.paragraph, s.number) for s in caption.sentences] == [(11, 1), (11, 2)]
