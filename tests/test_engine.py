"""Asking the article: right passages, exact citations, honest declines, reindex that never loses data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from index import Engine, EngineConfig, QuestionError
from index.errors import DocumentError, IndexCorruptError
from index.evaluate import first_rank
from tests.conftest import ARTICLE, SMALL_ARTICLE


def test_fighting_question_cites_the_sentence_that_answers(article_engine: Engine, article_text: str) -> None:
    answer = article_engine.ask("When did the fighting erupt?")
    assert answer.answered
    best = answer.hits[0]
    assert "erupted on Sept. 27" in best.sentence
    c = best.citation
    assert article_text[c.start : c.end] == best.passage.text
    s = best.sentence_citation
    assert article_text[s.start : s.end] == best.sentence
    assert (c.source, c.paragraph, s.paragraph, s.number) == ("article.txt", 10, 10, 1)
    assert [h.rank for h in answer.hits] == [1, 2, 3]
    assert answer.hits[0].score >= answer.hits[1].score >= answer.hits[2].score


def test_question_terms_are_highlighted_in_the_answering_sentence(article_engine: Engine) -> None:
    hit = article_engine.ask("When did the fighting erupt?").hits[0]
    marked = {hit.sentence[s.start : s.end] for s in hit.highlights}
    assert {"fighting", "erupted"} <= marked


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When was the article published?", "Posted: October 26, 2020"),
        ("What's the headline?", "U.S.-backed truce between Armenia"),
        ("Pashinian facebook", "wrote on his Facebook page"),
        ("how many people did putin say were killed", "5,000 people might have been killed"),
        ("Geneva", "meet again in Geneva on Oct. 29"),
        ("Who is Armenia's prime minister?", "Prime Minister Nikol Pashinyan"),
    ],
    ids=["metadata", "title", "misspelled-name", "number", "one-keyword", "demonym"],
)
def test_answerable_questions_are_answered_from_the_right_passage(
    article_engine: Engine, question: str, expected: str
) -> None:
    answer = article_engine.ask(question)
    assert answer.answered, answer.reason
    assert any(expected in h.passage.text for h in answer.hits)


TITLE = "U.S.-backed truce between Armenia, Azerbaijan crumbles as Nagorno-Karabakh fighting resumes"
LEAD = "A U.S.-backed ceasefire in Nagorno-Karabakh was in jeopardy on Monday"  # below the photo's caption


@pytest.mark.parametrize(
    ("question", "marked"),
    [
        ("What's the headline?", TITLE),
        ("what's the subtitle of the article", "The 3rd truce in just over 2 weeks was shattered within minutes"),
        ("What is the section heading in the middle of the article?", "Turkey calls for 'goal-oriented talks'"),
        ("What are the headings?", "Turkey calls for 'goal-oriented talks'"),
        ("What is the heading of the article?", TITLE),  # an article's heading is its headline
    ],
)
def test_the_headline_subtitle_and_section_heading_are_told_apart(
    article_engine: Engine, question: str, marked: str
) -> None:
    answer = article_engine.ask(question)
    assert answer.answered and answer.hits[0].sentence == marked, answer.hits[0].sentence


def test_markdown_headings_and_short_open_lines_head_sections_but_quotes_and_last_lines_do_not(tmp_path: Path) -> None:
    body = (
        "The harbour was dredged and the wharves were rebuilt in stone over the next ten years. "
        "Ships from London and Sydney called there every month, carrying wool, timber and grain."
    )
    text = (
        "# Hobart\n\nA port city on the River Derwent, in the south of Tasmania.\n\n"
        f"## Early history\n{body}\n\n"
        f'"We will stay," he said.\n\n{body}\n\n'
        f"Whaling and trade\n\n{body}\n\nSee also\n"
    )
    (tmp_path / "hobart.md").write_text(text, encoding="utf-8")
    engine = Engine.open(tmp_path / "index", [tmp_path / "hobart.md"])
    answer = engine.ask("What are the section headings?", k=5)
    assert answer.answered
    assert {h.sentence for h in answer.hits} == {"## Early history", "Whaling and trade"}


def test_a_text_without_headings_says_so(tmp_path: Path) -> None:
    text = "Hobart\n\nHobart grew along the River Derwent, with ships and mills and a busy port.\n"
    (tmp_path / "hobart.txt").write_text(text, encoding="utf-8")
    engine = Engine.open(tmp_path / "index", [tmp_path / "hobart.txt"])
    answer = engine.ask("What are the section headings?")
    assert not answer.answered and "headings" in (answer.reason or "")


@pytest.mark.parametrize("sentences", [3, 16], ids=["one-passage-lead", "lead-split-with-a-short-tail"])
def test_a_text_without_a_subtitle_says_so(tmp_path: Path, sentences: int) -> None:
    lead = " ".join(
        f"Hobart grew along the River Derwent in its year {n}, with ships and mills." for n in range(sentences)
    )
    (tmp_path / "hobart.txt").write_text(f"Hobart\n\n{lead}\n\nThe city has a port.\n", encoding="utf-8")
    engine = Engine.open(tmp_path / "index", [tmp_path / "hobart.txt"])
    assert engine.info().passages == (2 if sentences > 3 else 1)
    answer = engine.ask("What is the subtitle?")
    assert not answer.answered and "subtitle" in (answer.reason or "")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What does the first photo show?", "People try to remove car tires"),
        ("What does the second photo show?", "Jeyhun Bayramov meets with U.S. Secretary of State"),
        ("what's in the last picture", "Jeyhun Bayramov meets with U.S. Secretary of State"),
    ],
)
def test_the_nth_photo_is_the_nth_caption(article_engine: Engine, question: str, expected: str) -> None:
    answer = article_engine.ask(question)
    assert answer.answered and expected in answer.hits[0].passage.text, answer.hits[0].passage.text
    assert expected in answer.hits[0].sentence  # what the photo shows, not who took it


@pytest.mark.parametrize(
    ("question", "credit"),
    [
        ("who took the photo of the burning car shop", "(The Associated Press)"),
        ("Who took the second photo?", "(Hannah McKay/Pool/Reuters)"),
        ("photo credit for the picture of Bayramov and Pompeo", "(Hannah McKay/Pool/Reuters)"),
        ("Who is credited for the photo of the burning car shop?", "(The Associated Press)"),  # a verb, no attribute
    ],
)
def test_who_took_a_photo_marks_its_credit(article_engine: Engine, question: str, credit: str) -> None:
    answer = article_engine.ask(question)
    assert answer.answered and answer.hits[0].sentence == credit, answer.hits[0].sentence


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who is in the second photo?", "Jeyhun Bayramov meets"),
        ("Which agency reported the shelling?", "defence ministry said in a statement"),  # no photo: no credit
    ],
)
def test_only_a_question_about_a_photo_asks_for_its_credit(
    article_engine: Engine, question: str, expected: str
) -> None:
    answer = article_engine.ask(question)
    assert answer.answered and expected in answer.hits[0].sentence, answer.hits[0].sentence


def test_captions_are_counted_in_document_order_even_two_in_one_passage(tmp_path: Path) -> None:
    text = (
        "Storm damage\n\n"
        "A tree fell on a red car near the river bridge.\n(Jane Doe/Reuters)\n\n"
        "Rain flooded the market square for a whole day, the stalls closed early and traders carried "
        "their goods to higher ground while the water kept rising across the old town centre.\n\n"
        "Firefighters pumped water out of a school basement.\n(The Associated Press)\n\n"
        "A dog waited on a roof for rescue.\n(John Roe/CBC)\n"
    )
    (tmp_path / "storm.txt").write_text(text, encoding="utf-8")
    engine = Engine.open(tmp_path / "index", [tmp_path / "storm.txt"])
    for question, expected in (
        ("What does the first photo show?", "red car"),
        ("What does the second photo show?", "school basement"),
        ("What does the third photo show?", "dog waited"),
        ("What is in the last picture?", "dog waited"),
    ):
        assert expected in engine.ask(question).hits[0].sentence, question
    assert engine.ask("Who took the picture of the dog?").hits[0].sentence == "(John Roe/CBC)"


def test_a_credit_on_its_own_line_still_leaves_the_caption_to_the_words_above(tmp_path: Path) -> None:
    text = "Storm damage\n\nA tree fell on a red car near the river bridge.\n\n(Jane Doe/Reuters)\n"
    (tmp_path / "storm.txt").write_text(text, encoding="utf-8")
    engine = Engine.open(tmp_path / "index", [tmp_path / "storm.txt"])
    assert engine.ask("What does the photo show?").hits[0].sentence.startswith("A tree fell")
    assert engine.ask("Who took the photo?").hits[0].sentence == "(Jane Doe/Reuters)"


def test_a_paraphrase_holding_a_fifth_of_its_other_words_is_answered(article_engine: Engine) -> None:
    """ "death", "toll" and "suggest" are not in the article; "Putin" and "fighting" are, in the answer."""
    answer = article_engine.ask("What death toll did Putin suggest for the fighting?")
    assert answer.answered, answer.reason
    assert first_rank(answer, "5,000 people might have been killed") == 1


@pytest.mark.parametrize(
    "question", ["What is this article about?", "Summarize the article", "What happened?", "What are the main points?"]
)
def test_what_the_article_is_about_is_its_headline_and_lead(article_engine: Engine, question: str) -> None:
    """No word of these is in the text: the headline and the first paragraph of running text state the gist."""
    answer = article_engine.ask(question)
    assert answer.answered, answer.reason
    assert {h.sentence[:30] for h in answer.hits[:2]} == {TITLE[:30], LEAD[:30]}


@pytest.mark.parametrize("question", ["Who wrote this article?", "who is the author", "What is the byline?"])
def test_an_article_without_a_byline_says_it_does_not_name_its_author(article_engine: Engine, question: str) -> None:
    """Its metadata lines stand closest, but "Posted: October 26, 2020" is no author."""
    answer = article_engine.ask(question)
    assert not answer.answered
    assert answer.reason == "The article does not say who wrote it."
    assert answer.hits[0].sentence == "Posted: October 26, 2020"


@pytest.mark.parametrize("question", ["Who wrote this article?", "who is the author", "Who was the story written by?"])
def test_a_byline_answers_who_wrote_the_article(tmp_path: Path, question: str) -> None:
    path = tmp_path / "lighthouse.txt"
    path.write_text(SMALL_ARTICLE.replace("Posted: March 3, 2024", "Posted: March 3, 2024\nBy: Ann Example"), "utf-8")
    answer = Engine.open(tmp_path / "index", [path]).ask(question)
    assert answer.answered, answer.reason
    assert answer.hits[0].sentence == "By: Ann Example"


def test_the_authorities_are_no_author(article_engine: Engine, tmp_path: Path) -> None:
    """ "authorities" shares the stem "author": it must neither find the metadata lines nor need a byline."""
    assert not article_engine.ask("What did the authorities say?").answered  # the article never says it
    path = tmp_path / "lighthouse.txt"
    path.write_text(SMALL_ARTICLE.replace("their union said", "the port authorities said"), "utf-8")
    answer = Engine.open(tmp_path / "index", [path]).ask("What did the authorities say?")
    assert answer.answered, answer.reason
    assert first_rank(answer, "the port authorities said") == 1


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("tell me about Aliyev", "Ilham Aliyev said in a televised address"),
        ("What happened on Monday?", "came into force at 8 a.m. local time on Monday"),
        ("Which people are mentioned as killed?", "974 of its military personnel"),
        ("What is Turkey's position?", "we see the need for goal-oriented talks"),  # not "the position of"
        ("whos aliyev", "Ilham Aliyev said in a televised address"),  # typed in chat, no apostrophe
        ("how many ppl died", "5,000 people might have been killed"),
        ("hey bot, who is Pashinyan?", "Nikol Pashinyan said he did not believe"),
        ("can u tell me who Bayramov is", "Foreign Minister Jeyhun Bayramov meets"),
    ],
)
def test_words_that_only_frame_a_question_are_never_required(
    article_engine: Engine, question: str, expected: str
) -> None:
    """ "tell", "happened", "mentioned", "position", "whos" are not in the article; what the question is about is."""
    answer = article_engine.ask(question)
    assert answer.answered, answer.reason
    assert first_rank(answer, expected) is not None


@pytest.mark.parametrize("question", ["hi", "thanks!", "hey bot", "tell me something"])
def test_a_message_that_asks_nothing_is_told_what_to_ask(article_engine: Engine, question: str) -> None:
    answer = article_engine.ask(question)
    assert not answer.answered and not answer.hits
    assert answer.reason == "That asks nothing about the article: ask about a person, a place or an event in it."


def test_the_document_a_summary_question_names_is_the_one_summarised(tmp_path: Path) -> None:
    for name, text in (
        ("hobart.txt", "Hobart\n\nHobart is the capital of Tasmania, on the River Derwent, with a deep port.\n"),
        ("quark.txt", "Quark\n\nA quark is an elementary particle and a constituent of matter, bound by gluons.\n"),
    ):
        (tmp_path / name).write_text(text, encoding="utf-8")
    engine = Engine.open(tmp_path / "index", [tmp_path / "hobart.txt", tmp_path / "quark.txt"])
    answer = engine.ask("What is the quark article about?")
    assert answer.answered and answer.hits[0].citation.source == "quark.txt"


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("How do I bake bread?", "bake"),
        ("What is the capital of France?", "capital"),
        ("What did Putin say about Ukraine?", "Ukraine"),
        ("What is the population of Baku?", "Baku"),
        ("hello, what is the capital of France?", "capital"),  # a greeting does not hide what is asked
        ("I want to know the death toll", "death"),
    ],
)
def test_questions_the_article_does_not_cover_are_declined_with_the_reason(
    article_engine: Engine, question: str, missing: str
) -> None:
    answer = article_engine.ask(question)
    assert not answer.answered
    assert answer.reason and answer.reason.count(f'"{missing}"') == 1, answer.reason  # named once
    assert '"know"' not in answer.reason  # a framing word is never what is missing
    assert len(answer.hits) <= 1


def test_spelling_fix_is_reported(article_engine: Engine) -> None:
    answer = article_engine.ask("what did hami aksoi say")
    assert ("aksoi", "Aksoy") in answer.corrections
    assert "Hami Aksoy" in answer.hits[0].passage.text


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("?!...", "no words"),
        ("\U0001f600\U0001f525", "no words"),
        ("what is it?", "no words"),
        ("x" * 10_000, "10,000 characters"),
    ],
    ids=["empty", "blank", "punctuation", "emoji", "stopwords", "too-long"],
)
def test_unsearchable_questions_raise_a_clear_error(article_engine: Engine, question: str, message: str) -> None:
    with pytest.raises(QuestionError, match=message):
        article_engine.ask(question)


def test_context_returns_neighbours_in_order(article_engine: Engine) -> None:
    hit = article_engine.ask("When did the fighting erupt?").hits[0]
    around = article_engine.context(hit.passage.id)
    assert [p.id for p in around] == [hit.passage.id - 1, hit.passage.id, hit.passage.id + 1]


def test_reindex_several_documents_cites_each_by_its_own_name(tmp_path: Path, small_article: Path) -> None:
    engine = Engine.open(tmp_path / "idx", [ARTICLE])
    summary = engine.reindex([ARTICLE, small_article])
    assert (summary.documents, summary.added, summary.unchanged) == (2, ("lighthouse.txt",), ("article.txt",))
    answer = engine.ask("When will the lighthouse keepers strike?")
    best = answer.hits[0]
    assert best.citation.source == "lighthouse.txt"
    assert best.citation.title == "Lighthouse keepers vote to strike"
    assert SMALL_ARTICLE[best.citation.start : best.citation.end] == best.passage.text
    assert engine.ask("When did the fighting erupt?").hits[0].citation.source == "article.txt"


def test_bad_file_stops_reindex_and_the_old_index_keeps_serving(tmp_path: Path, small_article: Path) -> None:
    engine = Engine.open(tmp_path / "idx", [ARTICLE])
    before = engine.generation
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(DocumentError):
        engine.reindex([small_article, bad])
    assert engine.generation == before
    reopened = Engine.open(tmp_path / "idx")
    assert reopened.generation == before
    assert reopened.ask("When did the fighting erupt?").answered


def test_another_process_reindex_is_picked_up_by_refresh(tmp_path: Path, small_article: Path) -> None:
    serving = Engine.open(tmp_path / "idx", [ARTICLE])
    Engine.open(tmp_path / "idx").reindex([small_article])
    assert serving.refresh()
    assert serving.info().documents[0].source == "lighthouse.txt"
    assert not serving.refresh()


def test_changed_source_is_rebuilt_on_open(tmp_path: Path, small_article: Path) -> None:
    engine = Engine.open(tmp_path / "idx", [small_article])
    first = engine.generation
    small_article.write_text(SMALL_ARTICLE.replace("April 1", "May 9"), encoding="utf-8")
    again = Engine.open(tmp_path / "idx", [small_article])
    assert again.generation != first
    assert "May 9" in again.ask("When will the strike begin?").hits[0].passage.text


def test_corrupt_current_generation_falls_back_to_the_previous_one(tmp_path: Path, small_article: Path) -> None:
    engine = Engine.open(tmp_path / "idx", [ARTICLE])
    old = engine.generation
    engine.reindex([small_article])
    array = sorted((tmp_path / "idx" / engine.generation).glob("bm25_*.npy"))[0]
    data = bytearray(array.read_bytes())
    data[-1] ^= 0x01
    array.write_bytes(bytes(data))
    reopened = Engine.open(tmp_path / "idx")
    assert reopened.generation == old


def test_every_generation_corrupt_without_sources_is_a_clear_error(tmp_path: Path) -> None:
    engine = Engine.open(tmp_path / "idx", [ARTICLE])
    (tmp_path / "idx" / engine.generation / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="manifest is unreadable"):
        Engine.open(tmp_path / "idx")
    rebuilt = Engine.open(tmp_path / "idx", [ARTICLE])
    assert rebuilt.ask("When did the fighting erupt?").answered


def test_parameter_change_rebuilds_instead_of_serving_a_mismatched_index(tmp_path: Path) -> None:
    from index import Bm25Params

    first = Engine.open(tmp_path / "idx", [ARTICLE])
    second = Engine.open(tmp_path / "idx", [ARTICLE], EngineConfig(bm25=Bm25Params("okapi", 1.5, 0.75)))
    assert second.generation != first.generation
    assert second.info().params["bm25"]["variant"] == "okapi"


def test_reindex_keeps_serving_when_the_source_file_is_deleted(tmp_path: Path, small_article: Path) -> None:
    copy = tmp_path / "copy.txt"
    shutil.copy(small_article, copy)
    Engine.open(tmp_path / "idx", [copy])
    copy.unlink()
    reopened = Engine.open(tmp_path / "idx")
    assert reopened.ask("When will the strike begin?").answered


def test_spelling_fix_is_shown_as_the_text_writes_the_word(article_engine: Engine) -> None:
    answer = article_engine.ask("when did the azeri side violate the ceasfire")
    assert ("ceasfire", "ceasefire") in answer.corrections
