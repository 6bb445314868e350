"""The CLI as a user runs it: a real subprocess, real files, exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ARTICLE, ROOT, run_cli


def test_ask_prints_the_answer_and_its_citation(cli_index: Path) -> None:
    result = run_cli("ask", "When did the fighting erupt?", "--index", str(cli_index))
    assert result.returncode == 0, result.stderr
    assert "erupted on Sept. 27" in result.stdout
    assert "article.txt · ¶10" in result.stdout
    assert "Traceback" not in result.stderr


def test_ask_json_has_the_documented_shape(cli_index: Path, article_text: str) -> None:
    result = run_cli("ask", "Who mediates the conflict?", "-k", "2", "--json", "--index", str(cli_index))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) >= {"question", "answered", "reason", "results"}
    assert answer["answered"] is True and answer["reason"] is None
    assert [r["rank"] for r in answer["results"]] == [1, 2]
    for result_ in answer["results"]:
        c = result_["citation"]
        assert set(c) >= {"source", "title", "paragraph", "start", "end"}
        assert article_text[c["start"] : c["end"]] == result_["text"]
        assert result_["sentence"] in result_["text"]
    assert answer["results"][0]["score"] >= answer["results"][1]["score"]


def test_ask_from_stdin_answers_each_line_in_order_one_json_per_line(cli_index: Path) -> None:
    questions = ["When did the fighting erupt?", "How do I bake bread?", "Who is Hami Aksoy?"]
    result = run_cli("ask", "-", "--json", "--index", str(cli_index), stdin="\n".join(questions) + "\n")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["question"] for a in lines] == questions
    assert [a["answered"] for a in lines] == [True, False, True]
    assert lines[1]["reason"]


def test_batch_with_a_bad_question_reports_it_in_place_and_exits_non_zero(cli_index: Path) -> None:
    result = run_cli("ask", "-", "--json", "--index", str(cli_index), stdin="???\nWho is Hami Aksoy?\n")
    assert result.returncode == 1
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert "no words" in first["error"] and second["answered"]


def test_declined_question_says_not_covered(cli_index: Path) -> None:
    result = run_cli("ask", "What is the capital of France?", "--index", str(cli_index))
    assert result.returncode == 0
    assert "Not covered" in result.stdout and "capital" in result.stdout


def test_reindex_prints_what_changed_and_ask_uses_the_new_corpus(cli_index: Path, small_article: Path) -> None:
    run_cli("ask", "Geneva", "--index", str(cli_index))
    result = run_cli("reindex", str(ARTICLE), str(small_article), "--index", str(cli_index))
    assert result.returncode == 0, result.stderr
    assert "2 document(s)" in result.stdout and "added: lighthouse.txt" in result.stdout
    assert "unchanged: article.txt" in result.stdout
    answer = json.loads(run_cli("ask", "lighthouse strike", "--json", "--index", str(cli_index)).stdout)
    assert answer["results"][0]["citation"]["source"] == "lighthouse.txt"


def _bad_file(kind: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{kind}.txt"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "binary":
        path.write_bytes(bytes(range(256)))
    elif kind == "invalid-utf8":
        path.write_bytes(b"caf\xe9 au lait\n")
    elif kind == "huge":
        with open(path, "wb") as handle:
            handle.write(b"word " * (10 * 1024 * 1024))
    elif kind == "directory":
        path = tmp_path / "folder"
        path.mkdir()
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("empty", "is empty"),
        ("binary", "binary"),
        ("invalid-utf8", "not valid UTF-8"),
        ("huge", "over the"),
        ("missing", "no such file"),
        ("directory", "is a directory"),
    ],
)
def test_reindex_refuses_bad_files_and_loses_nothing(cli_index: Path, tmp_path: Path, kind: str, message: str) -> None:
    assert run_cli("ask", "Geneva", "--index", str(cli_index)).returncode == 0
    bad = _bad_file(kind, tmp_path)
    result = run_cli("reindex", str(bad), "--index", str(cli_index))
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    after = run_cli("ask", "When did the fighting erupt?", "--json", "--index", str(cli_index))
    assert json.loads(after.stdout)["results"][0]["citation"]["source"] == "article.txt"


@pytest.mark.parametrize(
    ("question", "message"),
    [("x" * 10_000, "10,000 characters"), ("?!?! ...", "no words"), ("\U0001f600\U0001f680", "no words")],
    ids=["10k-chars", "punctuation", "emoji"],
)
def test_unsearchable_questions_exit_non_zero_with_a_message(cli_index: Path, question: str, message: str) -> None:
    result = run_cli("ask", question, "--index", str(cli_index))
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_corrupt_index_without_sources_is_reported_with_a_fix(tmp_path: Path) -> None:
    index = tmp_path / "idx"
    assert run_cli("reindex", str(ARTICLE), "--index", str(index)).returncode == 0
    for manifest in index.glob("gen-*/manifest.json"):
        manifest.write_bytes(b"\x80garbage")
    result = run_cli("ask", "Geneva", "--index", str(index), env={"SOURCES": str(tmp_path / "gone.txt")})
    assert result.returncode == 1, result.stdout
    assert "error:" in result.stderr and "Traceback" not in result.stderr


def test_eval_reports_recall_mrr_and_declines(cli_index: Path) -> None:
    result = run_cli("eval", str(ROOT / "tests" / "data" / "qa.jsonl"), "--json", "--index", str(cli_index))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["answerable"] >= 60 and report["unanswerable"] >= 25
    assert report["decline_by_kind"]["unrelated"] == 1.0
    assert report["recall@3"] >= 0.85 and report["recall@1"] >= 0.75
    assert report["false_declines"] <= 5
    assert report["sentence_accuracy"] >= 0.85  # the marked sentence holds the answer


def test_eval_accepts_any_of_several_answering_passages(cli_index: Path, tmp_path: Path) -> None:
    """A question answered in several places counts wherever the top passage answers it."""
    question, live, later = (
        "Who is Armenia's prime minister?",
        "Prime Minister Nikol Pashinyan said",
        "the Armenian prime",
    )
    qa = tmp_path / "qa.jsonl"
    rows = [{"question": question, "answer": live}, {"question": question, "answer": [live, later]}]
    qa.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    report = json.loads(run_cli("eval", str(qa), "--json", "--index", str(cli_index)).stdout)
    assert report["answerable"] == 2 and report["recall@1"] == 0.5  # only the row that accepts both is at rank 1


@pytest.mark.parametrize("answer", ["7", "[]", '["ok", 3]', '{"text": "ok"}'])
def test_eval_refuses_an_answer_that_is_no_text_naming_the_line(cli_index: Path, tmp_path: Path, answer: str) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text('{"question": "Geneva?", "answer": "Geneva"}\n{"question": "x", "answer": ' + answer + "}\n")
    result = run_cli("eval", str(qa), "--index", str(cli_index))
    assert result.returncode != 0 and "qa.jsonl:2" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["ask", "chat", "reindex", "eval", "about"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = run_cli(command, "--help")
    assert result.returncode == 0
    assert "Example" in result.stdout and "python run_bot.py" in result.stdout


def test_chat_answers_typed_questions_until_quit(cli_index: Path) -> None:
    result = run_cli("chat", "--index", str(cli_index), stdin="When did the fighting erupt?\n/k 1\nGeneva\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "erupted on Sept. 27" in result.stdout and "meet again in Geneva" in result.stdout


def test_chat_explains_its_commands_and_refuses_unknown_ones(cli_index: Path) -> None:
    result = run_cli("chat", "--index", str(cli_index), stdin="/help\n/k 2\n/kk\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("/k N: passages per answer") == 2
    assert "Now 3 passages per answer" in result.stdout and "No command /kk." in result.stdout
    assert "Now 2 passages per answer" in result.stdout


def test_no_token_opens_the_console_with_a_one_line_hint(cli_index: Path) -> None:
    result = run_cli(stdin="Geneva\n", env={"INDEX_DIR": str(cli_index)})
    assert result.returncode == 0, result.stderr
    assert "No DISCORD_TOKEN set" in result.stderr
    assert "meet again in Geneva" in result.stdout


def test_bad_setting_is_a_clear_error(cli_index: Path) -> None:
    result = run_cli("ask", "Geneva", env={"RESULTS": "lots"})
    assert result.returncode == 2
    assert "RESULTS" in result.stderr and "Traceback" not in result.stderr


def test_first_reindex_into_an_empty_folder_builds_only_the_given_files(tmp_path: Path, small_article: Path) -> None:
    result = run_cli("reindex", str(small_article), "--index", str(tmp_path / "new"))
    assert result.returncode == 0, result.stderr
    assert "(before: none)" in result.stdout and "added: lighthouse.txt" in result.stdout
    assert "removed" not in result.stdout
    assert len(list((tmp_path / "new").glob("gen-*"))) == 1


def test_reindex_repairs_an_index_whose_every_generation_is_damaged(tmp_path: Path, small_article: Path) -> None:
    index = tmp_path / "idx"
    assert run_cli("reindex", str(ARTICLE), "--index", str(index)).returncode == 0
    for manifest in index.glob("gen-*/manifest.json"):
        manifest.write_text("{}", encoding="utf-8")
    result = run_cli("reindex", str(small_article), "--index", str(index))
    assert result.returncode == 0, result.stderr
    assert json.loads(run_cli("ask", "strike", "--json", "--index", str(index)).stdout)["answered"]
