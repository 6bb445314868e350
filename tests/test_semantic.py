"""Ranking by meaning: the numpy model equals sentence-transformers, and paraphrases find their passage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index import AnswerConfig, Engine, EngineConfig, IndexCorruptError, SemanticConfig, Tokenizer, semantic
from index.answer import coverage, coverage_all, parse
from index.documents import parse_document, read_document
from index.evaluate import first_rank
from index.minilm import erf
from index.snapshot import build_files, document_path
from index.store import Store
from tests.conftest import ARTICLE, ROOT, stored_snapshot

REFERENCE = ROOT / "tests" / "data" / "minilm_reference.json"
BM25_ONLY = EngineConfig(semantic=SemanticConfig(enabled=False))
UNALIGNED = EngineConfig(semantic=SemanticConfig(alignment=0.0))  # sentence vectors, no word-by-word reading


def generation_files(index_dir: Path) -> set[str]:
    current = (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    return {p.name for p in (index_dir / current).iterdir()}


def test_the_numpy_model_gives_sentence_transformers_vectors() -> None:
    """Reference vectors written by sentence-transformers itself (scripts/make_embedding_reference.py)."""
    items = json.loads(REFERENCE.read_text(encoding="utf-8"))["items"]
    ours = semantic.embed([item["text"] for item in items])
    theirs = np.array([item["vector"] for item in items], dtype=np.float32)
    assert ours.shape == theirs.shape == (len(items), semantic.DIMENSIONS)
    assert float(np.abs(ours - theirs).max()) < 2e-6
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_batching_and_order_do_not_change_a_vector() -> None:
    texts = ["When did the fighting erupt?", "x " * 400, "", "Nagorno-Karabakh", "ceasefire " * 30] * 9
    together = semantic.embed(texts, batch=4)  # several batches, in threads, padded differently
    alone = np.vstack([semantic.embed([t]) for t in texts[:5]])
    assert np.abs(together[:5] - alone).max() < 1e-5
    assert np.array_equal(together[:5], together[5:10])


def test_erf_matches_the_standard_library() -> None:
    import math

    xs = np.linspace(-6, 6, 2001, dtype=np.float32)
    expected = np.array([math.erf(float(x)) for x in xs])
    assert float(np.abs(erf(xs) - expected).max()) < 1e-6


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("is the washington-brokered ceasefire at risk?", "was in jeopardy on Monday"),
        ("How many soldiers did Karabakh lose?", "974 of its military personnel have been killed"),
        ("who actually lives in and runs nagorno-karabakh", "populated and controlled by ethnic"),
    ],
)
def test_a_paraphrase_finds_the_passage_bm25_alone_misses(tmp_path: Path, question: str, expected: str) -> None:
    hybrid = Engine.open(tmp_path / "hybrid", [ARTICLE]).ask(question, 3)
    words_only = Engine.open(tmp_path / "bm25", [ARTICLE], BM25_ONLY).ask(question, 3)
    assert first_rank(words_only, expected) is None
    assert first_rank(hybrid, expected) is not None


def test_small_index_stores_one_unit_vector_per_passage(tmp_path: Path) -> None:
    engine = Engine.open(tmp_path / "index", [ARTICLE])
    assert "emb.npy" in generation_files(tmp_path / "index")
    assert engine.info().params["semantic"]["model"] == semantic.MODEL_NAME
    reopened = Engine.open(tmp_path / "index")
    vectors = reopened._snapshot.embeddings
    assert vectors is not None and vectors.shape == (reopened.info().passages, semantic.DIMENSIONS)
    sentences = reopened._snapshot.sentence_embeddings
    count = sum(len(reopened.passage(pid).sentences) for pid in range(reopened.info().passages))
    assert sentences is not None and sentences.shape == (count, semantic.DIMENSIONS)


def test_an_index_past_the_size_limit_ranks_by_bm25_alone(tmp_path: Path) -> None:
    small_limit = EngineConfig(semantic=SemanticConfig(max_passages=5))
    answer = Engine.open(tmp_path / "big", [ARTICLE], small_limit).ask("When did the fighting erupt?")
    words_only = Engine.open(tmp_path / "bm25", [ARTICLE], BM25_ONLY).ask("When did the fighting erupt?")
    assert "emb.npy" not in generation_files(tmp_path / "big")
    assert [(h.passage.id, h.score) for h in answer.hits] == [(h.passage.id, h.score) for h in words_only.hits]


def test_switching_embeddings_on_rebuilds_the_index(tmp_path: Path) -> None:
    Engine.open(tmp_path / "index", [ARTICLE], BM25_ONLY)
    assert "emb.npy" not in generation_files(tmp_path / "index")
    Engine.open(tmp_path / "index", [ARTICLE])
    assert "emb.npy" in generation_files(tmp_path / "index")


def test_the_cache_serves_the_same_vectors_and_shrugs_off_damage(tmp_path: Path, small_article: Path) -> None:
    """Each build is a new process (nothing in memory): the second reads the cache, the third repairs it."""
    from tests.conftest import run_cli

    env = {"EMBEDDING_CACHE_DIR": str(tmp_path / "cache")}

    def build(name: str) -> np.ndarray:
        done = run_cli("reindex", str(small_article), "--index", str(tmp_path / name), env=env)
        assert done.returncode == 0, done.stderr
        return np.load(tmp_path / name / (tmp_path / name / "CURRENT").read_text().strip() / "emb.npy")

    first = build("first")
    files = sorted((tmp_path / "cache").rglob("*.f32"))
    assert files, "vectors were cached"
    assert np.array_equal(build("second"), first)
    files[0].write_bytes(b"\x00" * (semantic.DIMENSIONS * 4))  # zeros: not a unit vector
    files[-1].write_bytes(b"short")
    assert np.allclose(build("third"), first, atol=1e-6)
    assert all(f.stat().st_size == semantic.DIMENSIONS * 4 for f in files), "damaged entries are rewritten"


@pytest.mark.parametrize("name", ["emb.npy", "sent_emb.npy", "vocab_emb.npy"])
def test_embeddings_of_the_wrong_shape_are_a_clear_error(tmp_path: Path, name: str) -> None:
    engine = Engine.open(tmp_path / "index", [ARTICLE])
    generation = tmp_path / "index" / engine.generation
    manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embeddings"] is True
    np.save(generation / name, np.zeros((3, 7), np.float32))
    with pytest.raises(IndexCorruptError):
        Engine.open(tmp_path / "index")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many people has the conflict killed in the last month?", "killed hundreds in the last month"),
        ("will armenia just surrender karabakh?", "not for the capitulation of Karabakh"),
    ],
)
def test_the_passage_holding_more_of_the_question_comes_first(tmp_path: Path, question: str, expected: str) -> None:
    """BM25 and the cosine alone rank these below a passage with only part of the question."""
    no_coverage = EngineConfig(semantic=SemanticConfig(coverage=0.0))
    assert first_rank(Engine.open(tmp_path / "a", [ARTICLE], no_coverage).ask(question), expected) in (2, 3)
    assert first_rank(Engine.open(tmp_path / "b", [ARTICLE]).ask(question), expected) == 1


WIKI = sorted((ROOT / "tests" / "data" / "wiki").glob("*.txt"))


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How much does the Big Bertha rock weigh?", "20 pound (9 kg) Big Bertha rock"),
        ("What year did Yeager retire from the Air Force?", "retirement from the Air Force in 1975"),
    ],
)
def test_the_sentence_that_answers_lifts_a_long_passage(tmp_path: Path, question: str, expected: str) -> None:
    """In a long Wikipedia paragraph the passage's one vector blurs its facts; its best sentence does not.

    Word-by-word alignment, which reads sentences too, is off on both sides: it alone lifts these.
    """
    passage_only = EngineConfig(semantic=SemanticConfig(sentences=False, alignment=0.0))
    assert first_rank(Engine.open(tmp_path / "a", WIKI, passage_only).ask(question), expected) == 2
    assert first_rank(Engine.open(tmp_path / "b", WIKI, UNALIGNED).ask(question), expected) == 1


@pytest.mark.parametrize(
    ("sources", "question", "expected"),
    [
        ([ARTICLE], "how many ordinary people died on the azerbaijan side", "65 Azeri civilians"),
        (
            WIKI,
            "Did the pollution cuts made for the Games last?",
            "most of these improvements had disappeared one year",
        ),
    ],
)
def test_the_marked_sentence_is_the_one_that_answers_in_other_words(
    tmp_path: Path, sources: list[Path], question: str, expected: str
) -> None:
    words_only = EngineConfig(answer=AnswerConfig(sentence_meaning=0.0))
    for config, marked in ((words_only, False), (EngineConfig(), True)):
        answer = Engine.open(tmp_path / str(marked), sources, config).ask(question)
        hit = next(h for h in answer.hits if expected in h.passage.text)
        assert (expected in hit.sentence) is marked, hit.sentence


def test_an_index_from_before_sentence_vectors_is_rebuilt_from_its_own_sources(tmp_path: Path) -> None:
    """An upgrade must not count the old index as damaged and replace the corpus with the default one."""
    sources = WIKI[:2]
    documents = [read_document(path) for path in sources]
    files, manifest = build_files(documents, [document_path(p) for p in sources], EngineConfig().index_params)
    del files["sent_emb.npy"]
    manifest["params"]["pipeline"] = 6
    Store(tmp_path / "index").commit(files, manifest)
    engine = Engine.open(tmp_path / "index", [ARTICLE])  # as the CLI opens it: the default corpus as fallback
    assert [d.source for d in engine.info().documents] == [p.name for p in sources]
    assert engine._snapshot.sentence_embeddings is not None
    assert first_rank(engine.ask("How much does the Big Bertha rock weigh?"), "Big Bertha rock") == 1


def test_coverage_of_every_passage_at_once_equals_one_at_a_time(tmp_path: Path) -> None:
    snapshot = stored_snapshot([parse_document(ARTICLE.read_bytes(), "article.txt")], tmp_path)
    for question in ("How many soldiers did Karabakh lose?", "Who is Armenia's prime minister?", "Trump tweet"):
        query = parse(question, snapshot, Tokenizer(), AnswerConfig())
        every = coverage_all(snapshot, query.concepts)
        assert every.tolist() == pytest.approx(
            [coverage(snapshot, query.concepts, pid) for pid in range(snapshot.size)]
        )


def test_a_word_the_text_never_uses_finds_its_synonym(tmp_path: Path) -> None:
    question = "How many soldiers did Karabakh lose?"
    hybrid = Engine.open(tmp_path / "hybrid", [ARTICLE]).ask(question)
    words_only = Engine.open(tmp_path / "bm25", [ARTICLE], BM25_ONLY).ask(question)
    assert not words_only.answered and "soldiers" in (words_only.reason or "")
    assert hybrid.answered and first_rank(hybrid, "974 of its military personnel") == 1


def test_names_and_unrelated_questions_are_still_declined(article_engine: Engine) -> None:
    for question in ("What did Putin say about Ukraine?", "How do I bake bread?", "What is the capital of France?"):
        assert not article_engine.ask(question).answered, question


def test_semantic_search_can_be_switched_off_in_the_settings(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    question = "When did the fighting erupt?"
    off = run_cli("ask", question, "--json", "--index", str(tmp_path / "off"), env={"SEMANTIC_SEARCH": "false"})
    on = run_cli("ask", question, "--json", "--index", str(tmp_path / "on"))
    assert off.returncode == on.returncode == 0, off.stderr + on.stderr
    assert "emb.npy" not in generation_files(tmp_path / "off") and "emb.npy" in generation_files(tmp_path / "on")
    best_off, best_on = (json.loads(r.stdout)["results"][0] for r in (off, on))
    assert best_off["citation"] == best_on["citation"], "both find the passage that says 'erupted on Sept. 27'"
    assert best_off["score"] > 1 >= best_on["score"], "BM25's own score, or the blended 0-1 score"


def test_questions_asked_at_once_get_the_vectors_they_get_alone() -> None:
    """Concurrent questions are embedded together in one batch; each must still get its own vectors."""
    from concurrent.futures import ThreadPoolExecutor

    asks = [
        (f"When did the fighting erupt? ({n})", "soldiers") if n % 2 else (f"Who is Hami Aksoy? ({n})",)
        for n in range(24)
    ]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(semantic.embed_question, asks))
    for texts, (vectors, words) in zip(asks, together, strict=True):
        assert vectors.shape == (len(texts), semantic.DIMENSIONS)
        assert np.abs(vectors - semantic.embed(texts)).max() < 1e-5
        assert [w.shape[0] for w in words] == [w.shape[0] for w in semantic.content_words(list(texts))]


def test_without_the_model_it_ranks_by_bm25_and_says_how_to_install_it(tmp_path: Path) -> None:
    """A checkout installed without requirements-model.txt: the package is there but has no model."""
    from tests.conftest import run_cli

    shadow = tmp_path / "shadow" / semantic.MODEL_PACKAGE
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("", encoding="utf-8")
    env = {"PYTHONPATH": str(tmp_path / "shadow")}
    done = run_cli("ask", "When did the fighting erupt?", "--json", "--index", str(tmp_path / "index"), env=env)
    assert done.returncode == 0, done.stderr
    assert "requirements-model.txt" in done.stderr
    assert "emb.npy" not in generation_files(tmp_path / "index")
    assert "erupted on Sept. 27" in json.loads(done.stdout)["results"][0]["text"]


def test_a_title_line_does_not_speak_for_its_passage(tmp_path: Path) -> None:
    """ "Chuck Yeager" alone is close to any question naming him; the passage that answers must win."""
    answer = Engine.open(tmp_path / "wiki", WIKI).ask("Which actor played Chuck Yeager in the movie?")
    assert answer.answered, answer.reason
    assert first_rank(answer, "played by Sam Shepard") == 1


WARM_CHECK = """
import sys
from pathlib import Path
from index import Engine, semantic
from index.answer import background
engine = Engine.open(Path(sys.argv[1]))
assert semantic._load_encoder.cache_info().currsize == 0, "opening an index should not load the model"
if sys.argv[2] == "warm":
    engine.warm()
loaded = semantic._load_encoder.cache_info().misses
engine.ask("When did the fighting erupt?")
print(loaded, semantic._load_encoder.cache_info().misses, background.cache_info().misses)
"""


@pytest.mark.parametrize(("mode", "expected"), [("warm", "1 1 1"), ("cold", "0 1 1")])
def test_warming_up_leaves_the_first_question_nothing_to_load(tmp_path: Path, mode: str, expected: str) -> None:
    """What the bot and the console do at start (bot/runtime.py warm_up): the first answer waits for no model load."""
    Engine.open(tmp_path / "index", [ARTICLE])
    run = subprocess.run(
        [sys.executable, "-c", WARM_CHECK, str(tmp_path / "index"), mode],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == expected.split()


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("what rules does turkey's foreign ministry want the talks to follow", "Security Council resolutions"),
        ("Which country is Nagorno-Karabakh part of?", "a mountainous part of Azerbaijan"),
    ],
)
def test_reading_the_best_passages_word_by_word_puts_the_answer_first(
    tmp_path: Path, question: str, expected: str
) -> None:
    """A sentence vector blurs an answer among its other words; aligning word with word finds it."""
    aligned = Engine.open(tmp_path / "aligned", [ARTICLE]).ask(question, 3)
    pooled = Engine.open(tmp_path / "pooled", [ARTICLE], UNALIGNED).ask(question, 3)
    assert first_rank(pooled, expected) == 2
    assert first_rank(aligned, expected) == 1


def test_content_words_leave_out_stopwords_punctuation_and_stray_letters() -> None:
    (words,) = semantic.content_words(["The U.S.-backed truce's end, in 2020."])
    alone = semantic.embed_with_words(["backed truce end 2020"])[1][0]
    assert words.shape == alone.shape == (4, semantic.DIMENSIONS)  # backed, truce, end, 2020
    assert np.allclose(np.linalg.norm(words, axis=1), 1.0, atol=1e-3)
    assert semantic.content_words(["The U.S.-backed truce's end, in 2020."])[0].tobytes() == words.tobytes()


def test_a_sentence_that_says_it_in_other_words_aligns_better_than_one_that_does_not() -> None:
    question, answer, other = semantic.content_words(
        ["did the president give a speech on tv?", "He said in a televised address.", "Shelling hit the villages."]
    )
    assert semantic.aligned(question, [answer]) > semantic.aligned(question, [other]) + 0.1
    assert semantic.aligned(question, [other, answer]) == semantic.aligned(question, [answer])  # the best sentence
    assert semantic.aligned(question[:0], [answer]) == 0.0


@pytest.mark.parametrize("question", ["What about the U.S.?", "x y z"])
def test_a_question_with_no_word_to_read_ranks_as_it_would_unread(tmp_path: Path, question: str) -> None:
    """No content word (stopwords, stray letters) gives nothing to align: the best passages must not lose for it."""
    read = Engine.open(tmp_path / "read", [ARTICLE]).ask(question, 5)
    unread = Engine.open(tmp_path / "unread", [ARTICLE], UNALIGNED).ask(question, 5)
    assert [h.passage.id for h in read.hits] == [h.passage.id for h in unread.hits]
    assert [h.score for h in read.hits] == pytest.approx([h.score for h in unread.hits])


def test_several_documents_passages_are_read_with_their_title(tmp_path: Path) -> None:
    """The answer says "His own role in the movie"; only its document's title names Chuck Yeager."""
    question = "Which actor portrayed Chuck Yeager in the film?"
    assert first_rank(Engine.open(tmp_path / "wiki", WIKI).ask(question), "played by Sam Shepard") == 1


def test_remembered_sentence_words_stay_within_their_bound_least_recently_used_first() -> None:
    """A bot on a big index must not grow without end: past the bound the sentence read longest ago goes."""
    cache = semantic._WordCache(limit=10)
    four = np.zeros((4, semantic.DIMENSIONS), np.float16)
    cache.put({"first": four, "second": four})
    assert set(cache.get(["first"])) == {"first"}  # now the most recently used
    cache.put({"third": four})  # 12 vectors > 10: "second" goes, not "first"
    assert set(cache.get(["first", "second", "third"])) == {"first", "third"}
