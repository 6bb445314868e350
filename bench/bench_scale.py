"""Scale benchmark: this engine vs rank-bm25 and bm25s on 1k to 1M real passages, in one run.

For each size and system, in its own subprocess (so memory peaks don't mix): build time
(tokenizing included), index size on disk, load time, query p50/p95 over 200 fixed questions,
peak memory (RSS of the process tree, sampled). Every system gets the same tokens: the engine's
tokenizer (stopwords dropped, Snowball stems), de-duplicated per question. Then the engine end to
end (``Engine.ask``) at 100k passages against rank-bm25 (tokenize + ``get_scores`` + top-k), and a
warm ``ask`` on the bundled article. Writes bench/results/scale.json and prints a table.

1M passages are the 250k-passage corpus (../shared/corpus) read four times with distinct ids: the
postings grow like real text, the vocabulary does not.

Usage:
    python bench/bench_scale.py                   # 1k, 10k, 100k, 1M: about 20 minutes on 2 cores
    python bench/bench_scale.py --sizes 1k,10k    # a quick run (writes bench/results/scale-quick.json)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import io
import json
import lzma
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index import bm25, bulk  # noqa: E402
from index.snapshot import BM25_ARRAYS  # noqa: E402
from index.store import Generation, Store, encode_array, encode_json, load_array  # noqa: E402
from index.tokenize import Tokenizer, TokenizerConfig  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "passages-250k.jsonl.xz"
QUESTIONS = ROOT / "bench" / "questions.txt"
WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "results"
SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000, "1m": 1_000_000}
SYSTEMS = ("engine", "rank-bm25", "bm25s")
CORPUS_SIZE = 250_000
K = 10
PARAMS = bm25.Bm25Params("plus", k1=1.2, b=0.75, delta=1.0)  # the engine's default, for all three
RANK_SAMPLE = {1_000: 200, 10_000: 200, 100_000: 40, 1_000_000: 12}  # rank-bm25 questions timed per size
RANK_MAX = 1_000_000  # largest size rank-bm25 is built at (about 4 GB and a few minutes at 1M)


# ---- measuring ---------------------------------------------------------------------------------
class TreeRss:
    """Peak resident memory of a process and its children (the engine tokenizes in worker processes).

    Sampled from outside every 50 ms, listing the children only every half second: the sampler
    must not steal much of the two cores from what it measures.
    """

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.members: list[psutil.Process] = [self.root]
        self.peak = 0
        self.samples = 0

    def sample(self) -> None:
        if self.samples % 10 == 0:
            with contextlib.suppress(psutil.Error):
                self.members = [self.root, *self.root.children(recursive=True)]
        self.samples += 1
        total = 0
        for member in self.members:
            with contextlib.suppress(psutil.Error):  # it may have just ended
                total += member.memory_info().rss
        self.peak = max(self.peak, total)


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)), "n": len(seconds)}


def timed(func: Callable[[], Any]) -> tuple[Any, float]:
    began = time.perf_counter()
    result = func()
    return result, time.perf_counter() - began


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


# ---- inputs ------------------------------------------------------------------------------------
def plain_corpus() -> Path:
    """The corpus as one passage per line (bench/work, made once): decompressing is not anyone's build."""
    path = WORK / "passages-250k.txt"
    if path.is_file():
        return path
    if not CORPUS.is_file():
        raise SystemExit(f"The benchmark corpus is missing: {CORPUS} (see ../shared/corpus/README.md).")
    WORK.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with lzma.open(CORPUS, "rt", encoding="utf-8") as src, open(tmp, "w", encoding="utf-8") as out:
        for line in src:
            out.write(json.loads(line)["text"].replace("\n", " ") + "\n")
    tmp.replace(path)
    return path


def passages(path: Path, count: int) -> Iterator[str]:
    """The first ``count`` passages; past 250k the corpus is read again (distinct passage ids)."""
    left = count
    while left > 0:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                yield line.rstrip("\n")
                left -= 1
                if left == 0:
                    return


def questions() -> list[str]:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def query_tokens() -> list[list[str]]:
    """Every system gets these: the engine's terms of each question, de-duplicated as the engine does."""
    tokenizer = Tokenizer()
    return [list(dict.fromkeys(tokenizer(q))) for q in questions()]


def corpus_tokens(path: Path, count: int) -> list[list[str]]:
    """The same terms for the other systems, with the engine's (memoised, exact) tokenizer on one core."""
    terms = bulk.Terms(TokenizerConfig())
    with bulk.Progress(count, "tokenizing") as bar:
        tokens = []
        for text in passages(path, count):
            tokens.append(terms(text))
            if len(tokens) % 10_000 == 0:
                bar.advance(10_000)
    return tokens


# ---- the engine --------------------------------------------------------------------------------
class LazyFiles(Mapping[str, bytes]):
    """A generation's files, each encoded only when the store writes it (one copy in memory at a time)."""

    def __init__(self, index: bm25.Bm25Index) -> None:
        self.index = index
        self.names = ["vocab.json", *(f"bm25_{name}.npy" for name in BM25_ARRAYS)]

    def __getitem__(self, name: str) -> bytes:
        if name == "vocab.json":
            return encode_json(list(self.index.vocab))
        return encode_array(self.index.arrays()[name[len("bm25_") : -len(".npy")]])

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def load_bm25(generation: Generation) -> bm25.Bm25Index:
    """The BM25 part of ``index.snapshot.load``: arrays memory-mapped, vocabulary from JSON."""
    manifest = generation.manifest
    return bm25.Bm25Index(
        params=bm25.Bm25Params(**manifest["bm25"]),
        vocab={term: i for i, term in enumerate(generation.json("vocab.json"))},
        avgdl=float(manifest["avgdl"]),
        **{name: load_array(generation, f"bm25_{name}.npy") for name in BM25_ARRAYS},
    )


def engine_build(path: Path, count: int, folder: Path) -> dict[str, Any]:
    shutil.rmtree(folder, ignore_errors=True)
    began = time.perf_counter()
    index = bulk.build(passages(path, count), PARAMS, TokenizerConfig(), total=count)
    indexed = time.perf_counter()
    manifest = {"bm25": PARAMS.to_json(), "avgdl": index.avgdl, "passages": index.size}
    generation = Store(folder).commit(LazyFiles(index), manifest)  # writes, then verifies by reading back
    done = time.perf_counter()
    return {
        "build_s": done - began,
        "index_build_s": indexed - began,
        "write_s": done - indexed,
        "disk_mb": folder_mb(generation.path),
        "postings": int(index.doc_ids.shape[0]),
        "vocabulary": len(index.vocab),
        "generation": generation.name,
    }


def engine_query(folder: Path, name: str) -> dict[str, Any]:
    tokens = query_tokens()
    gc.collect()
    base = rss_mb()
    generation, crc_s = timed(lambda: Store(folder).open(name))
    index, map_s = timed(lambda: load_bm25(generation))
    loaded = rss_mb() - base
    ids = [index.term_ids(t) for t in tokens]
    cold = [timed(lambda q=q: index.top_k(q, K))[1] for q in ids]
    warm = [timed(lambda t=t: index.top_k(index.term_ids(t), K))[1] for t in tokens]
    return {
        "load_s": crc_s + map_s,
        "load_crc_s": crc_s,
        "load_map_s": map_s,
        **percentiles(warm),
        "cold_p50_ms": percentiles(cold)["p50_ms"],
        "rss_loaded_mb": loaded,
        "rss_after_queries_mb": rss_mb() - base,
        "postings_scanned_share": _scanned_share(index, ids),
    }


def _scanned_share(index: bm25.Bm25Index, queries: list[list[int]]) -> float:
    """Share of the questions' postings that MaxScore actually scanned (the rest were only looked up)."""
    scanned = total = 0
    for terms in queries:
        if not terms:
            continue
        pruner = bm25._Pruner(index, terms, K)
        pruner.rank()
        scanned += sum(len(ids) for ids in pruner.taken)
        total += sum(index.df(t) for t in set(terms))
    return scanned / max(1, total)


# ---- rank-bm25 and bm25s -----------------------------------------------------------------------
def rank_bm25_run(path: Path, count: int) -> dict[str, Any]:
    import rank_bm25

    every = query_tokens()
    tokens = every[:: len(every) // RANK_SAMPLE[count]][: RANK_SAMPLE[count]]
    began = time.perf_counter()
    corpus = corpus_tokens(path, count)
    model = rank_bm25.BM25Plus(corpus, k1=PARAMS.k1, b=PARAMS.b, delta=PARAMS.delta)
    build_s = time.perf_counter() - began
    del corpus
    gc.collect()
    built = rss_mb()
    times = [timed(lambda t=t: _rank_top_k(model.get_scores(t)))[1] for t in tokens]
    return {"build_s": build_s, **percentiles(times), "rss_loaded_mb": built}


def _rank_top_k(scores: np.ndarray) -> np.ndarray:
    """rank-bm25 has no top-k of its own beyond argsort (``get_top_n``): this is the cheap way."""
    best = np.argpartition(-scores, K - 1)[:K]
    return best[np.lexsort((best, -scores[best]))]


def bm25s_build(path: Path, count: int, folder: Path) -> dict[str, Any]:
    import bm25s

    shutil.rmtree(folder, ignore_errors=True)
    began = time.perf_counter()
    corpus = corpus_tokens(path, count)
    retriever = bm25s.BM25(method="bm25+", k1=PARAMS.k1, b=PARAMS.b, delta=PARAMS.delta)
    retriever.index(corpus, show_progress=False)
    indexed = time.perf_counter()
    retriever.save(folder, show_progress=False)
    done = time.perf_counter()
    return {"build_s": done - began, "index_build_s": indexed - began, "disk_mb": folder_mb(folder)}


def bm25s_query(folder: Path) -> dict[str, Any]:
    import bm25s

    tokens = query_tokens()
    gc.collect()
    base = rss_mb()
    retriever, load_s = timed(lambda: bm25s.BM25.load(folder, mmap=True, show_progress=False))
    loaded = rss_mb() - base
    known = [k for k in ([t for t in q if t in retriever.vocab_dict] for q in tokens) if k]  # it refuses others
    ask = lambda q: retriever.retrieve([q], k=K, show_progress=False, n_threads=1)  # noqa: E731
    for q in known:
        ask(q)
    warm = [timed(lambda q=q: ask(q))[1] for q in known]
    return {"load_s": load_s, **percentiles(warm), "rss_loaded_mb": loaded, "rss_after_queries_mb": rss_mb() - base}


# ---- end to end ----------------------------------------------------------------------------------
def end_to_end(path: Path, count: int) -> dict[str, Any]:
    """``Engine.ask`` on ``count`` passages (10 files of one passage per paragraph) vs rank-bm25 on them."""
    import rank_bm25

    from index import Engine, EngineConfig

    folder = WORK / f"e2e-{count}"
    shutil.rmtree(folder, ignore_errors=True)
    sources = _write_sources(path, count, folder / "sources")
    config = EngineConfig(max_document_bytes=256 * 1024 * 1024)
    engine, build_s = timed(lambda: Engine.open(folder / "index", sources, config))
    built_rss = rss_mb()
    asked = questions()
    for q in asked:
        engine.ask(q)
    warm = [timed(lambda q=q: engine.ask(q))[1] for q in asked]
    generation_mb = folder_mb(folder / "index" / engine.generation)
    tokenizer = Tokenizer()
    texts = [engine.passage(i).text for i in range(engine.info().passages)]
    model = rank_bm25.BM25Plus([tokenizer(t) for t in texts], k1=PARAMS.k1, b=PARAMS.b, delta=PARAMS.delta)
    sample = asked[:: len(asked) // RANK_SAMPLE[count]][: RANK_SAMPLE[count]]
    rank = [timed(lambda q=q: _rank_top_k(model.get_scores(tokenizer(q))))[1] for q in sample]
    engine_p, rank_p = percentiles(warm), percentiles(rank)
    return {
        "passages": engine.info().passages,
        "engine_build_s": build_s,
        "engine_rss_after_build_mb": built_rss,
        "engine_generation_mb": generation_mb,
        "engine_ask": engine_p,
        "rank_bm25": rank_p,
        "speedup_p50": rank_p["p50_ms"] / engine_p["p50_ms"],
    }


def _write_sources(path: Path, count: int, folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    texts = list(passages(path, count))
    files = []
    for part in range(10):
        chunk = texts[part * len(texts) // 10 : (part + 1) * len(texts) // 10]
        file = folder / f"passages-{part:02d}.txt"
        file.write_text(f"Benchmark passages, part {part + 1}\n\n" + "\n\n".join(chunk) + "\n", encoding="utf-8")
        files.append(file)
    return files


def article() -> dict[str, Any]:
    """A warm console ``ask`` on article.txt: the engine alone, and with the console's rendering."""
    import tempfile

    from rich.console import Console

    from bot.console import render_answer
    from index import Engine

    qa = [json.loads(line)["question"] for line in (ROOT / "tests" / "data" / "qa.jsonl").open(encoding="utf-8")]
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.open(Path(tmp), [ROOT / "article.txt"])
        console = Console(file=io.StringIO(), width=100)
        for q in qa:
            render_answer(console, engine.ask(q))
        ask = [timed(lambda q=q: engine.ask(q))[1] for q in qa]
        shown = [timed(lambda q=q: render_answer(console, engine.ask(q)))[1] for q in qa]
    return {"ask": percentiles(ask), "ask_and_render": percentiles(shown), "max_ms": max(shown) * 1e3}


# ---- the driver ----------------------------------------------------------------------------------
def child(job: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in this (fresh) process."""
    path, count = Path(job.get("path", "")), int(job.get("count", 0))
    folder = Path(job.get("folder", "."))
    jobs: dict[str, Callable[[], dict[str, Any]]] = {
        "engine-build": lambda: engine_build(path, count, folder),
        "engine-query": lambda: engine_query(folder, job["generation"]),
        "rank-bm25": lambda: rank_bm25_run(path, count),
        "bm25s-build": lambda: bm25s_build(path, count, folder),
        "bm25s-query": lambda: bm25s_query(folder),
        "e2e": lambda: end_to_end(path, count),
        "article": article,
    }
    return jobs[job["job"]]()


def spawn(job: dict[str, Any]) -> dict[str, Any]:
    """One job in its own Python process; its last stdout line is the JSON result.

    This process samples the child's memory (its whole process tree), so the measured process
    runs no sampling thread of its own that could disturb its timings.
    """
    began = time.perf_counter()
    with subprocess.Popen([sys.executable, __file__, "--child", json.dumps(job)], stdout=subprocess.PIPE) as proc:
        memory = TreeRss(proc.pid)
        reader = threading.Thread(target=lambda: setattr(proc, "output", proc.stdout.read() if proc.stdout else b""))
        reader.start()
        while proc.poll() is None:
            memory.sample()
            time.sleep(0.05)
        reader.join()
    if proc.returncode:
        raise SystemExit(f"{job['job']} failed (exit code {proc.returncode})")
    result: dict[str, Any] = json.loads(proc.output.decode().strip().splitlines()[-1])  # type: ignore[attr-defined]
    print(f"  {job['job']:<13} {job.get('count', '')!s:>8}  {time.perf_counter() - began:6.1f} s", flush=True)
    return {**result, "peak_mb": memory.peak / 1e6}


def measure(system: str, path: Path, count: int) -> dict[str, Any]:
    folder = WORK / f"{system}-{count}"
    base = {"path": str(path), "count": count, "folder": str(folder)}
    if system == "rank-bm25":  # no file format: built, kept in memory and asked in one process
        result = spawn({**base, "job": "rank-bm25"})
        return {**result, "peak_build_mb": result.pop("peak_mb")}
    built = spawn({**base, "job": f"{system}-build"})
    built["peak_build_mb"] = built.pop("peak_mb")
    extra = {"generation": built["generation"]} if system == "engine" else {}
    asked = spawn({**base, "job": f"{system}-query", **extra})
    asked["peak_query_mb"] = asked.pop("peak_mb")
    if system == "bm25s":
        shutil.rmtree(folder, ignore_errors=True)
    return {**built, **asked}


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), platform.processor())
    import bm25s
    import rank_bm25  # noqa: F401

    return {
        "cpus": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "bm25s": bm25s.__version__,
        "rank_bm25": "0.2.2",
    }


def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'passages':>9} {'system':<10} {'build s':>8} {'disk MB':>8} {'load s':>7} {'p50 ms':>8} {'p95 ms':>8}"
    head += f" {'peak MB':>8} {'RSS MB':>7} {'timed':>5}"
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = [
            f"{r['label']:>9}",
            f"{r['system']:<10}",
            _num(r.get("build_s"), 8, 1),
            _num(r.get("disk_mb"), 8, 1),
            _num(r.get("load_s"), 7, 3),
            _num(r.get("p50_ms"), 8, 3),
            _num(r.get("p95_ms"), 8, 3),
            _num(r.get("peak_build_mb"), 8, 0),
            _num(r.get("rss_after_queries_mb", r.get("rss_loaded_mb")), 7, 0),
            f"{r.get('n', ''):>5}",
        ]
        lines.append(" ".join(cells))
    return "\n".join(lines)


def _num(value: float | None, width: int, digits: int) -> str:
    return f"{'n/a':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def ratios(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per size, how many times faster the engine's p50 is than each peer's."""
    by = {(r["count"], r["system"]): r for r in rows}
    out: dict[str, dict[str, float]] = {}
    for (count, system), row in by.items():
        engine = by.get((count, "engine"))
        if system != "engine" and engine and row.get("p50_ms"):
            out.setdefault(row["label"], {})[f"vs_{system}"] = row["p50_ms"] / engine["p50_ms"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1k,10k,100k,1m", help="comma-separated: 1k, 10k, 100k, 1m")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated: engine, rank-bm25, bm25s")
    parser.add_argument("--no-e2e", action="store_true", help="skip Engine.ask at 100k and on the article")
    parser.add_argument("--out", type=Path, help="default: bench/results/scale.json (scale-quick.json for a subset)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    sizes = [SIZES[s.strip().lower()] for s in args.sizes.split(",")]
    systems = [s.strip() for s in args.systems.split(",")]
    full = sorted(sizes) == sorted(SIZES.values()) and set(systems) == set(SYSTEMS) and not args.no_e2e
    out = (args.out or RESULTS / ("scale.json" if full else "scale-quick.json")).resolve()
    path = plain_corpus()
    began = time.perf_counter()
    rows = []
    for count in sizes:
        for system in systems:
            if system == "rank-bm25" and count > RANK_MAX:
                continue
            label = "1M (4x250k)" if count > CORPUS_SIZE else f"{count // 1000}k"
            rows.append({"system": system, "count": count, "label": label, **measure(system, path, count)})
    extra: dict[str, Any] = {}
    if not args.no_e2e:
        if 100_000 in sizes:
            extra["end_to_end_100k"] = spawn({"job": "e2e", "path": str(path), "count": 100_000})
        extra["article"] = spawn({"job": "article"})
    report = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "corpus": "../shared/corpus/passages-250k.jsonl.xz; 1M = the 250k passages read 4 times, distinct ids",
        "tokens": "the engine's tokenizer (NFKC, case folding, stopwords dropped, Snowball stems) for every system; "
        "each question's terms de-duplicated",
        "k": K,
        "notes": [
            "query = term ids + top-k for the engine; retrieve(k=10) for bm25s (numpy backend, one thread); "
            "get_scores + argpartition top-k for rank-bm25, on a sample of questions at 100k and 1M (see n)",
            "p50/p95 over the 200 questions after one warm-up pass (cold_p50_ms: the first pass)",
            "build includes tokenizing and writing; the engine tokenizes on every core, peers on one "
            "(the same memoised tokenizer); peak = RSS of the process tree (with tokenizing workers), "
            "sampled every 50 ms from outside the measured process",
            "engine load = Store.open (CRC32 of every file: load_crc_s) + memory-mapping (load_map_s), "
            "files in the page cache; RSS MB = resident memory added by the index after the questions",
            "rank-bm25 keeps everything in memory (no file format, so no disk size or load time)",
        ],
        "rows": rows,
        "ratios_p50": ratios(rows),
        **extra,
        "seconds": time.perf_counter() - began,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print()
    print(table(rows))
    for label, rat in report["ratios_p50"].items():
        print(f"{label}: engine p50 is " + ", ".join(f"{v:.0f}x faster than {k[3:]}" for k, v in rat.items()))
    for key in ("end_to_end_100k", "article"):
        if key in extra:
            print(f"{key}: {json.dumps(extra[key])}")
    print(f"wrote {out.relative_to(ROOT)} in {report['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
