"""Measure each chunking / tokenizing / scoring choice on an evaluation set (the README table).

Each row changes one choice from the defaults and reports recall@1, recall@3 and MRR of the
ranking (before the "not covered" decision), then false declines, decline rates and how often the
marked sentence holds the answer with it.
Both question sets are measured: the article (tests/data/qa.jsonl) and five Wikipedia articles
indexed together (tests/data/wiki/). Usage: python bench/eval_choices.py [--out FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index import Bm25Params, ChunkConfig, Engine, EngineConfig, SemanticConfig, TokenizerConfig  # noqa: E402
from index.evaluate import evaluate, load_qa  # noqa: E402

# Embeddings of a passage are the same in every variant that keeps its text: compute them once.
CACHE = Path(tempfile.gettempdir()) / "eval-choices-embeddings"
BASE = EngineConfig(semantic=SemanticConfig(cache_dir=CACHE))
NO_DECLINE = dataclasses.replace(BASE.answer, min_coverage=0.0)


def variants() -> list[tuple[str, EngineConfig]]:
    """The defaults, then one change at a time."""
    a = BASE.answer
    sem = BASE.semantic
    return [
        ("defaults", BASE),
        ("BM25 alone (no embeddings)", dataclasses.replace(BASE, semantic=dataclasses.replace(sem, enabled=False))),
        (
            "no coverage in the score (BM25 0.5)",
            dataclasses.replace(BASE, semantic=dataclasses.replace(sem, coverage=0.0)),
        ),
        ("coverage 0.15, BM25 0.35", dataclasses.replace(BASE, semantic=dataclasses.replace(sem, coverage=0.15))),
        ("coverage 0.35, BM25 0.15", dataclasses.replace(BASE, semantic=dataclasses.replace(sem, coverage=0.35))),
        ("coverage 0.5, no BM25", dataclasses.replace(BASE, semantic=dataclasses.replace(sem, coverage=0.5))),
        ("embedding share 0.4 (BM25 0.35)", dataclasses.replace(BASE, semantic=dataclasses.replace(sem, weight=0.4))),
        ("embedding share 0.6 (BM25 0.15)", dataclasses.replace(BASE, semantic=dataclasses.replace(sem, weight=0.6))),
        (
            "passage vectors only (no best sentence)",
            dataclasses.replace(BASE, semantic=dataclasses.replace(sem, sentences=False)),
        ),
        ("embeddings alone", dataclasses.replace(BASE, semantic=dataclasses.replace(sem, weight=1.0, coverage=0.0))),
        (
            "no word-by-word reading (sentence vectors only)",
            dataclasses.replace(BASE, semantic=dataclasses.replace(sem, alignment=0.0)),
        ),
        ("word-by-word share 0.3", dataclasses.replace(BASE, semantic=dataclasses.replace(sem, alignment=0.3))),
        ("word-by-word share 0.7", dataclasses.replace(BASE, semantic=dataclasses.replace(sem, alignment=0.7))),
        ("word-by-word: the best 10 passages", dataclasses.replace(BASE, semantic=dataclasses.replace(sem, rerank=10))),
        ("no related words", dataclasses.replace(BASE, answer=dataclasses.replace(a, related_min=2.0))),
        ("related words at cosine 0.75", dataclasses.replace(BASE, answer=dataclasses.replace(a, related_min=0.75))),
        ("related words at cosine 0.65", dataclasses.replace(BASE, answer=dataclasses.replace(a, related_min=0.65))),
        (
            "no other forms of names and known words (Turkish for Turkey)",
            dataclasses.replace(BASE, answer=dataclasses.replace(a, related_name_min=2.0)),
        ),
        (
            "other forms at cosine 0.8",
            dataclasses.replace(BASE, answer=dataclasses.replace(a, related_name_min=0.8)),
        ),
        (
            "paragraphs only (no merging of short ones)",
            dataclasses.replace(BASE, chunk=dataclasses.replace(BASE.chunk, merge_short=False)),
        ),
        (
            "no document title on passages (several documents)",
            dataclasses.replace(BASE, chunk=dataclasses.replace(BASE.chunk, title_terms=False)),
        ),
        (
            "passages of at most 40 words",
            dataclasses.replace(BASE, chunk=dataclasses.replace(BASE.chunk, max_words=40)),
        ),
        (
            "passages of at most 100 words",
            dataclasses.replace(BASE, chunk=dataclasses.replace(BASE.chunk, max_words=100)),
        ),
        (
            "passages of at most 300 words",
            dataclasses.replace(BASE, chunk=dataclasses.replace(BASE.chunk, max_words=300)),
        ),
        (
            "one passage per sentence",
            dataclasses.replace(BASE, chunk=ChunkConfig(min_words=0, max_words=1, merge_short=False)),
        ),
        ("no stemming", dataclasses.replace(BASE, tokenizer=TokenizerConfig(stem=False))),
        ("no stopword removal", dataclasses.replace(BASE, tokenizer=TokenizerConfig(stopwords=False))),
        ("no accent folding", dataclasses.replace(BASE, tokenizer=TokenizerConfig(fold_accents=False))),
        ("no spelling correction", dataclasses.replace(BASE, answer=dataclasses.replace(a, fuzzy=False))),
        ("no word-form variants", dataclasses.replace(BASE, answer=dataclasses.replace(a, variants=False))),
        (
            "names may be in another passage",
            dataclasses.replace(BASE, answer=dataclasses.replace(a, min_name_share=0.0)),
        ),
        (
            "the answer holds half the names' weight",
            dataclasses.replace(BASE, answer=dataclasses.replace(a, min_name_share=0.5)),
        ),
        ("the answer holds every name", dataclasses.replace(BASE, answer=dataclasses.replace(a, min_name_share=1.0))),
        ("no acronyms spelled out", dataclasses.replace(BASE, answer=dataclasses.replace(a, acronyms=False))),
        (
            "no other names of countries (American for U.S.)",
            dataclasses.replace(BASE, answer=dataclasses.replace(a, countries=False)),
        ),
        (
            "marked sentence by its words only",
            dataclasses.replace(BASE, answer=dataclasses.replace(a, sentence_meaning=0.0)),
        ),
        ("no expected-answer types", dataclasses.replace(BASE, answer=dataclasses.replace(a, answer_types=False))),
        ("BM25Okapi k1=1.5 b=0.75", dataclasses.replace(BASE, bm25=Bm25Params("okapi", 1.5, 0.75))),
        ("BM25L k1=1.5 b=0.75 delta=0.5", dataclasses.replace(BASE, bm25=Bm25Params("l", 1.5, 0.75, delta=0.5))),
        ("BM25Plus k1=1.5 (rank-bm25 default)", dataclasses.replace(BASE, bm25=Bm25Params("plus", 1.5, 0.75))),
        ("BM25Plus k1=0.9 b=0.4", dataclasses.replace(BASE, bm25=Bm25Params("plus", 0.9, 0.4))),
        ("BM25Plus b=0.9", dataclasses.replace(BASE, bm25=Bm25Params("plus", 1.2, 0.9))),
        (
            "decline on overall coverage only",
            dataclasses.replace(BASE, answer=dataclasses.replace(a, min_content_coverage=0.0)),
        ),
        (
            "coverage bars 0.4 / 0.4",
            dataclasses.replace(BASE, answer=dataclasses.replace(a, min_coverage=0.4, min_content_coverage=0.4)),
        ),
        (
            "coverage bars 0.2 / 0.2",
            dataclasses.replace(BASE, answer=dataclasses.replace(a, min_coverage=0.2, min_content_coverage=0.2)),
        ),
        (
            "non-name words' bar 0.3 (overall 0.3)",
            dataclasses.replace(BASE, answer=dataclasses.replace(a, min_content_coverage=0.3)),
        ),
    ]


def measure(config: EngineConfig, qa: Path, sources: list[Path]) -> dict[str, float]:
    items = load_qa(qa)
    with tempfile.TemporaryDirectory() as tmp:
        ranking = Engine.open(
            Path(tmp) / "a",
            sources,
            dataclasses.replace(config, answer=dataclasses.replace(config.answer, min_coverage=0.0)),
        )
        rank = evaluate(ranking.ask, items).to_json()
        full = evaluate(Engine.open(Path(tmp) / "b", sources, config).ask, items).to_json()
    return {
        "recall@1": rank["recall@1"],
        "recall@3": rank["recall@3"],
        "mrr": rank["mrr"],
        "false_declines": full["false_declines"],
        "declined_unrelated": full["decline_by_kind"].get("unrelated", 0.0),
        "declined_near_miss": full["decline_by_kind"].get("near_miss", 0.0),
        "sentence_accuracy": full["sentence_accuracy"],
        "final_recall@1": full["recall@1"],
        "final_recall@3": full["recall@3"],
    }


SETS = {
    "article": (ROOT / "tests" / "data" / "qa.jsonl", [ROOT / "article.txt"]),
    "wiki": (ROOT / "tests" / "data" / "wiki" / "qa.jsonl", sorted((ROOT / "tests" / "data" / "wiki").glob("*.txt"))),
}
COLUMNS = (
    "recall@1",
    "recall@3",
    "mrr",
    "false_declines",
    "declined_unrelated",
    "declined_near_miss",
    "sentence_accuracy",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "eval_choices.json")
    args = parser.parse_args()
    rows = []
    print(f"{'choice':45} " + "  ".join(f"{name}: r@1   r@3   MRR  f-dec unrel near  sent" for name in SETS))
    for name, config in variants():
        row: dict[str, object] = {"choice": name}
        cells = []
        for set_name, (qa, sources) in SETS.items():
            m = measure(config, qa, sources)
            row[set_name] = m
            cells.append(
                " ".join(
                    f"{m[c]:.3f}" if isinstance(m[c], float) and c != "false_declines" else f"{m[c]:>3}"
                    for c in COLUMNS
                )
            )
        rows.append(row)
        print(f"{name:45} " + "   ".join(cells), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
