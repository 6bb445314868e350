"""Names in questions: acronyms the text spells out, other forms of a name, and names that must be in the answer."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from index import AnswerConfig, Engine, EngineConfig, SemanticConfig
from index.acronyms import long_forms, looks_like_acronym
from index.evaluate import first_rank

BM25_ONLY = EngineConfig(semantic=SemanticConfig(enabled=False))


def engine(tmp_path: Path, texts: dict[str, str], config: EngineConfig | None = None) -> Engine:
    tmp_path.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in texts.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return Engine.open(tmp_path / "index", paths, config)


@pytest.mark.parametrize(
    ("acronym", "long_form"),
    [
        ("WWII", "World War II"),
        ("IOC", "International Olympic Committee"),
        ("OSCE", "Organization for Security and Co-operation in Europe"),
        ("USAF", "United States Air Force"),
    ],
)
def test_an_acronym_is_read_off_the_name_the_text_spells_out(acronym: str, long_form: str) -> None:
    text = f"In 1944, during a meeting, the {long_form} said, in a statement, that it would act."
    assert long_forms([text])[acronym] == long_form


def test_punctuation_ends_a_name_and_plain_words_are_no_acronym() -> None:
    forms = long_forms(["Armenia, Azerbaijan and Russia met."])
    assert "AA" not in forms
    assert looks_like_acronym("U.S.") and looks_like_acronym("WWII")
    assert not looks_like_acronym("Ok") and not looks_like_acronym("A")


YEAGER = (
    "Chuck Yeager\n\n"
    "During World War II, Yeager flew fighter planes over Europe and shot down a dozen aircraft.\n\n"
    "After the war he became a test pilot in California and broke the sound barrier in 1947.\n"
)


def test_an_acronym_finds_the_name_the_text_spells_out(tmp_path: Path) -> None:
    answer = engine(tmp_path, {"yeager.txt": YEAGER}, BM25_ONLY).ask("What did Yeager do in WWII?")
    assert answer.answered, answer.reason
    assert first_rank(answer, "During World War II") == 1


def test_an_acronym_the_text_never_spells_out_still_declines(tmp_path: Path) -> None:
    answer = engine(tmp_path, {"yeager.txt": YEAGER}, BM25_ONLY).ask("Did Yeager play in the NBA?")
    assert not answer.answered
    assert "NBA" in (answer.reason or "")


ENVOYS = (
    "Border talks\n\n"
    "Delegates of the United States and of Canada met in Geneva on Monday to discuss the long border "
    "dispute over fishing waters, with observers from several European countries.\n\n"
    "Later that day the U.S. envoy said the talks had failed, blamed the other side for the deadlock "
    "and left the city that evening without a date for another round.\n"
)


@pytest.mark.parametrize("config", [BM25_ONLY, None], ids=["bm25", "meaning"])
def test_a_name_spelled_out_finds_the_acronym_the_text_writes_for_it(
    tmp_path: Path, config: EngineConfig | None
) -> None:
    """The answer writes "U.S."; the text spells it "United States" elsewhere, so the two are one name."""
    answer = engine(tmp_path, {"envoys.txt": ENVOYS}, config).ask("What did the United States envoy say?")
    assert answer.answered, answer.reason
    assert first_rank(answer, "the U.S. envoy said") == 1


def test_a_name_spelled_out_gains_no_acronym_the_text_does_not_spell_so(tmp_path: Path) -> None:
    """ "U.S." in a text that never writes "United States" is not read as it: nothing is guessed."""
    text = ENVOYS.replace("the United States and of Canada", "Mexico and of Canada")
    answer = engine(tmp_path, {"envoys.txt": text}, BM25_ONLY).ask("What did the United States envoy say?")
    assert not answer.answered


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("What arms did Turkey send to Azerbaijan?", '"arms"'),  # ARM is Armenia's code only in capitals
        ("What did the British government say?", '"British"'),  # a country the article never names
    ],
)
def test_a_word_that_is_no_name_of_a_country_in_the_text_still_declines(
    article_engine: Engine, question: str, missing: str
) -> None:
    answer = article_engine.ask(question)
    assert not answer.answered
    assert missing in (answer.reason or "")


def test_a_demonym_several_countries_share_is_the_most_populous_ones(tmp_path: Path) -> None:
    """ "American" is also the Northern Mariana Islands' demonym, whose code "MP" a text writes as a title."""
    text = (
        "Budget vote\n\n"
        "The local MP said on Friday that the budget bill would pass the chamber before the summer recess, "
        "despite protests from farmers and teachers over the cuts.\n"
    )
    answer = engine(tmp_path, {"vote.txt": text}, BM25_ONLY).ask("What did the American senator say?")
    assert not answer.answered
    assert '"American"' in (answer.reason or "")


TALKS = (
    "Talks resume\n\n"
    "The Turkish Foreign Ministry said the ceasefire must respect international law and the borders.\n\n"
    "Russia urged both sides to stop shelling civilian areas near the front line during the ceasefire.\n"
)


def test_a_name_finds_another_form_of_itself(tmp_path: Path) -> None:
    """By the model's word vectors; countryinfo's names, which also join "Turkey" and "Turkish", are off."""
    question = "What did Turkey say about the ceasefire?"
    no_countries = AnswerConfig(countries=False)
    words_only = engine(tmp_path / "a", {"talks.txt": TALKS}, dataclasses.replace(BM25_ONLY, answer=no_countries))
    with_meaning = engine(tmp_path / "b", {"talks.txt": TALKS}, EngineConfig(answer=no_countries))
    words_only, with_meaning = words_only.ask(question), with_meaning.ask(question)
    assert not words_only.answered and "Turkey" in (words_only.reason or "")
    assert with_meaning.answered, with_meaning.reason
    assert first_rank(with_meaning, "Turkish Foreign Ministry") == 1


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # "turkey" typed in lower case is no name and the article has it; the answer says "Turkish".
        ("will the ceasefires hold in turkey's view", "Turkish Foreign Ministry"),
        # The article says "U.S. President Donald Trump", never "American" (countryinfo: the demonym, "US").
        ("what did the american president post online about the deal", 'wrote on Twitter: "Congratulations'),
    ],
    ids=["other-form", "demonym"],
)
def test_a_word_finds_the_form_or_name_the_article_writes_for_it(
    article_engine: Engine, question: str, expected: str
) -> None:
    answer = article_engine.ask(question)
    assert answer.answered, answer.reason
    assert first_rank(answer, expected) == 1


@pytest.mark.parametrize(
    ("texts", "question"),
    [
        ({"talks.txt": TALKS}, "What did Ukraine say about the ceasefire?"),
        (
            {"sydney.txt": "Sydney\n\nSydney is the largest city in Australia, with a population of five million.\n"},
            "What is the population of Melbourne?",
        ),
    ],
)
def test_a_different_name_close_in_meaning_still_declines(tmp_path: Path, texts: dict[str, str], question: str) -> None:
    answer = engine(tmp_path, texts).ask(question)
    assert not answer.answered, [h.passage.text for h in answer.hits]


PRESIDENTS = (
    "Leaders meet\n\n"
    "The president of Armenia, Armen Sarkissian, spoke on Monday about the ceasefire and the talks. He said "
    "that the shelling of towns near the front line had to stop before any lasting agreement was possible.\n\n"
    "France sent diplomats to the talks in Geneva, where mediators discussed the fighting at length. The "
    "delegation stayed for three days and met officials from both sides in closed sessions at a hotel.\n"
)


@pytest.mark.parametrize("config", [BM25_ONLY, None], ids=["bm25", "hybrid"])
def test_the_answer_must_name_what_the_question_names(tmp_path: Path, config: EngineConfig | None) -> None:
    index = engine(tmp_path, {"leaders.txt": PRESIDENTS}, config)
    assert not index.ask("Who is the president of France?").answered
    armenia = index.ask("Who is the president of Armenia?")
    assert armenia.answered and first_rank(armenia, "Armen Sarkissian") == 1


def test_a_name_in_the_document_title_counts(tmp_path: Path) -> None:
    texts = {
        "hobart.txt": "Hobart\n\nThe city was founded in 1804 as a penal colony on the River Derwent.\n",
        "perth.txt": "Perth\n\nThe city lies on the Swan River and has a warm climate with dry summers.\n",
    }
    answer = engine(tmp_path, texts, BM25_ONLY).ask("When was Hobart founded?")
    assert answer.answered, answer.reason
    assert first_rank(answer, "founded in 1804") == 1
