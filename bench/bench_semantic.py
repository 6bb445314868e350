"""What ranking by meaning costs: build time, answer time and memory, with and without embeddings.

On the article and on the five Wikipedia articles of tests/data/wiki, in one run: the engine with
BM25 alone, the engine with embeddings (cold cache, then warm), and plain rank-bm25 (tokenize +
``get_scores`` + sort) on the same passages for reference. Answer times are over the questions of
each set's evaluation file. Usage: python bench/bench_semantic.py [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # as run_bot.py does
    os.environ.setdefault(_variable, "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import psutil  # noqa: E402
from eval_choices import SETS  # noqa: E402  (the same two question sets, beside this script)
from rank_bm25 import BM25Plus  # noqa: E402

from index import Engine, EngineConfig, SemanticConfig, Tokenizer  # noqa: E402
from index.evaluate import load_qa  # noqa: E402


def timed(work: Callable[[], object]) -> tuple[object, float]:
    began = time.perf_counter()
    result = work()
    return result, time.perf_counter() - began


def latencies_ms(ask: Callable[[str], object], questions: list[str]) -> dict[str, float]:
    for n in range(5):  # warm-up (first-call costs are build/load), with questions not measured after
        ask(f"warm-up question number {n}")
    samples = []
    for question in questions:
        began = time.perf_counter()
        ask(question)
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return {"p50": round(statistics.median(samples), 3), "p95": round(samples[int(0.95 * (len(samples) - 1))], 3)}


def rank_bm25_ask(engine: Engine) -> Callable[[str], object]:
    """Plain rank-bm25 over the engine's passages: tokenize, get_scores, sort."""
    tokenizer = Tokenizer()
    snapshot = engine._snapshot
    model = BM25Plus([tokenizer(snapshot.passage(i).text) for i in range(snapshot.size)], k1=1.2, b=0.75, delta=1)
    return lambda question: np.argsort(-model.get_scores(tokenizer(question)))[:3]


def measure(sources: list[Path], qa: Path, scratch: Path) -> dict[str, object]:
    questions = [item.question for item in load_qa(qa)]
    bm25_only = EngineConfig(semantic=SemanticConfig(enabled=False))
    with_cache = EngineConfig(semantic=SemanticConfig(cache_dir=scratch / "cache"))
    words, bm25_build = timed(lambda: Engine.open(scratch / "bm25", sources, bm25_only))
    rss_before = psutil.Process().memory_info().rss
    meaning, cold_build = timed(lambda: Engine.open(scratch / "cold", sources, with_cache))
    rss_after = psutil.Process().memory_info().rss
    _, warm_build = timed(lambda: Engine.open(scratch / "warm", sources, with_cache))
    assert isinstance(words, Engine) and isinstance(meaning, Engine)
    meaning.warm()  # as the bot and chat do when they start: the model and the sentences' words
    return {
        "passages": meaning.info().passages,
        "questions": len(questions),
        "build_s": {
            "bm25_only": round(bm25_build, 3),
            "embeddings_cold": round(cold_build, 3),
            "embeddings_cached": round(warm_build, 3),
        },
        "ask_ms": {
            "bm25_only": latencies_ms(lambda q: words.ask(q), questions),
            "embeddings": latencies_ms(lambda q: meaning.ask(q), questions),
            "rank_bm25": latencies_ms(rank_bm25_ask(words), questions),
        },
        "model_rss_mb": round((rss_after - rss_before) / 2**20, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "semantic.json")
    args = parser.parse_args()
    results = {}
    for name, (qa, sources) in SETS.items():
        with tempfile.TemporaryDirectory() as tmp:
            results[name] = measure(sources, qa, Path(tmp))
        r = results[name]
        print(f"{name}: {r['passages']} passages, {r['questions']} questions")
        print(f"  build s   {r['build_s']}")
        print(f"  ask ms    {r['ask_ms']}")
        print(f"  model RSS {r['model_rss_mb']} MB (first load in this process)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
