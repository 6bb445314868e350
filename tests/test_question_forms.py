"""The question's words in other forms: typos, comparatives, and look-alikes that mean something else."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import Engine, EngineConfig, SemanticConfig
from index.evaluate import first_rank

BM25_ONLY = EngineConfig(semantic=SemanticConfig(enabled=False))

PHYSICS = (
    "Colliders\n\n"
    "The Relativistic Heavy Ion Collider found that quark matter behaves like a nearly perfect liquid.\n\n"
    "Cold winters slowed the building work: cold nights froze the ground.\n\n"
    "The cold stopped the cranes, and the cold came back every year.\n\n"
    "Cold air from the south kept the cold in the valley.\n\n"
    "Chuck Yeager flew the chase plane when the new aircraft first went past the speed of sound.\n\n"
    "The Royal Botanic Gardens, the second-oldest in the country, hold a collection of rare plants.\n\n"
    "He was the recipient of an award for his flying, given at a dinner in the capital.\n"
)


def engine(tmp_path: Path, config: EngineConfig | None = None) -> Engine:
    path = tmp_path / "physics.txt"
    path.write_text(PHYSICS, encoding="utf-8")
    return Engine.open(tmp_path / "index", [path], config)


@pytest.mark.parametrize("config", [BM25_ONLY, None], ids=["bm25", "hybrid"])
@pytest.mark.parametrize(
    ("question", "typed", "fixed", "expected"),
    [
        ("What did Yaeger fly?", "Yaeger", "yeager", "Chuck Yeager flew"),  # two letters swapped: one edit
        (
            "what did the Heavy Ion Colider find about quark matter",
            "Colider",
            "collider",
            "perfect liquid",
        ),  # not "cold"
    ],
)
def test_a_typo_is_read_as_the_word_the_text_writes(
    tmp_path: Path, config: EngineConfig | None, question: str, typed: str, fixed: str, expected: str
) -> None:
    answer = engine(tmp_path, config).ask(question)
    assert answer.answered, answer.reason
    assert first_rank(answer, expected) == 1
    assert dict(answer.corrections)[typed].casefold().startswith(fixed)


def test_how_old_finds_the_oldest(tmp_path: Path) -> None:
    """ "old" is the only word of the question besides its names, so it must be found."""
    answer = engine(tmp_path).ask("How old are the Royal Botanic Gardens?")
    assert answer.answered, answer.reason
    assert first_rank(answer, "second-oldest in the country") == 1


def test_a_word_that_only_looks_like_the_texts_does_not_stand_for_it(tmp_path: Path) -> None:
    """ "recipe" and "recipient" share a stem's first letters, not a meaning."""
    answer = engine(tmp_path).ask("What is a good recipe for banana bread?")
    assert not answer.answered, [h.passage.text for h in answer.hits]


RACE = (
    "Sydney to Hobart\n\n"
    "The yacht race starts in Sydney on Boxing Day and finishes in Hobart a few days later.\n\n"
    "It was first held in 1945, when nine boats started; the fastest took six days.\n"
)


def test_a_question_about_something_the_text_never_mentions_is_declined(tmp_path: Path) -> None:
    """ "sourdough" carries most of the question; that the text says "starts" does not make it an answer."""
    path = tmp_path / "race.txt"
    path.write_text(RACE, encoding="utf-8")
    index = Engine.open(tmp_path / "index", [path])
    answer = index.ask("How do I make a sourdough starter?")
    assert not answer.answered and "sourdough" in (answer.reason or ""), [h.passage.text for h in answer.hits]
    assert index.ask("start date").answered  # "date" names the kind of answer wanted, not a subject
