"""B2 crash points (promises 1 and 2): SIGKILL a reindex at every step of the write protocol.

After each kill a fresh process opens the index with no sources and must answer *exactly* as
the old corpus or exactly as the new one (whole ``ask().to_json()``), never a mix and never an
error; which one is fixed by where the kill landed (before the ``CURRENT`` swap: old; after:
new, since SIGKILL keeps the page cache). The next reindex must succeed and leave no temporary
folder behind. The randomised variant kills after a random delay inside the write window:
3 runs by default, 200 with ``RUN_SLOW=1``.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from index import Engine
from tests.conftest import run_cli

from .faultfs import RecordingFs
from .support import (
    DRIVER,
    SLOW,
    Corpus,
    References,
    build_references,
    check_and_recover,
    clean_env,
    has_traceback,
    run_driver,
    served,
    stale_entries,
    write_corpus,
)

# The protocol's named steps, in order (index/store.py). "after_write:*" stands for every data file.
PROTOCOL = (
    "after_write:*",
    "before_manifest",
    "after_manifest",
    "before_rename_generation",
    "after_rename_generation",
    "before_current_replace",
    "before_current_fsync",
    "after_current_replace",
)
FIRST_NEW = "before_current_fsync"  # the first point at which CURRENT already names the new generation


@pytest.fixture(scope="module")
def refs(tmp_path_factory: pytest.TempPathFactory) -> References:
    return build_references(tmp_path_factory.mktemp("b2-refs"))


@pytest.fixture(scope="module")
def trace(refs: References, tmp_path_factory: pytest.TempPathFactory) -> RecordingFs:
    """One uninterrupted reindex, recorded: its checkpoints and the files it writes."""
    fs = RecordingFs()
    root = refs.fresh_old_index(tmp_path_factory.mktemp("b2-trace") / "index")
    Engine.open(root, (), fs=fs).reindex(list(refs.corpus.new))
    return fs


def written(trace: RecordingFs) -> list[str]:
    names: list[str] = []
    for op in trace.ops:
        if op.startswith("write:") and op[6:] not in names:
            names.append(op[6:])
    return names


def expected_after(point: str, trace: RecordingFs) -> str:
    """Where a kill at ``point`` must leave the index: "old" or "new"."""
    order = trace.checkpoints
    if point == "mid_rmtree":  # garbage collection runs after the swap
        return "new"
    if point.startswith("mid_write:") or point not in order:
        return "old"
    return "new" if order.index(point) >= order.index(FIRST_NEW) else "old"


def kill_and_check(refs: References, trace: RecordingFs, point: str, folder: Path) -> str | None:
    """Kill a reindex at ``point``, then check what serves and that a reindex recovers; a problem or None."""
    root = refs.fresh_old_index(folder / "index")
    killed = run_driver("reindex", "--index", str(root), "--kill-at", point, *map(str, refs.corpus.new))
    if killed.returncode != -signal.SIGKILL:
        return f"{point}: the reindex was not killed there (exit {killed.returncode}): {killed.stderr[-2000:]}"
    after_kill, after_recovery = check_and_recover(root, refs.corpus.new)
    got = refs.which(after_kill.get("answers", []))
    want = expected_after(point, trace)
    if got != want:
        return f"{point}: a restart serves {got or after_kill} instead of the {want} index"
    if refs.which(after_recovery.get("answers", [])) != "new" or after_recovery["stale"]:
        return f"{point}: the next reindex did not recover cleanly: {after_recovery}"
    if len(after_recovery["generations"]) > 2:
        return f"{point}: more than two generations kept after recovery: {after_recovery['generations']}"
    return None


def test_every_protocol_step_is_a_named_checkpoint(trace: RecordingFs) -> None:
    """The crash points below exist, in protocol order, with one per data file written."""
    points = trace.checkpoints
    data_files = [name for name in written(trace) if name not in ("manifest.json", ".tmp-CURRENT")]
    assert [p for p in points if p.startswith("after_write:")] == [f"after_write:{n}" for n in data_files]
    named = [p for p in points if not p.startswith("after_write:")]
    assert named == list(PROTOCOL[1:]), named
    assert points.index(f"after_write:{data_files[-1]}") < points.index("before_manifest")
    assert len(data_files) >= 5  # documents, vocabulary, passage columns, postings


@pytest.mark.parametrize("point", PROTOCOL[1:])
def test_kill_at_protocol_step_serves_old_or_new_and_recovers(
    refs: References, trace: RecordingFs, point: str, tmp_path: Path
) -> None:
    assert kill_and_check(refs, trace, point, tmp_path) is None


def test_kill_after_each_data_file_serves_the_old_index(refs: References, trace: RecordingFs, tmp_path: Path) -> None:
    points = [p for p in trace.checkpoints if p.startswith("after_write:")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        problems = list(
            pool.map(lambda ip: kill_and_check(refs, trace, ip[1], tmp_path / str(ip[0])), enumerate(points))
        )
    assert [p for p in problems if p] == []


@pytest.mark.parametrize("which", ["first data file", "last data file", "manifest.json", ".tmp-CURRENT"])
def test_kill_half_way_through_writing_a_file(refs: References, trace: RecordingFs, which: str, tmp_path: Path) -> None:
    data = [n for n in written(trace) if n not in ("manifest.json", ".tmp-CURRENT")]
    name = {"first data file": data[0], "last data file": data[-1]}.get(which, which)
    assert kill_and_check(refs, trace, f"mid_write:{name}", tmp_path) is None


def test_kill_half_way_through_removing_an_old_generation(refs: References, trace: RecordingFs, tmp_path: Path) -> None:
    """The garbage collector dies mid-way: CURRENT already names the new generation, which serves."""
    assert kill_and_check(refs, trace, "mid_rmtree", tmp_path) is None
    # The half-removed generation is never served, even when it is the only fallback left.
    root = tmp_path / "index"
    (root / "CURRENT").write_text("gen-missing\n", encoding="utf-8")
    assert refs.which(served(root)["answers"]) == "new"


def test_cli_reindex_after_a_kill_recovers_and_cleans_up(refs: References, tmp_path: Path) -> None:
    """The moderator's next ``run_bot.py reindex`` after a crash: exit 0, no traceback, no temp folder."""
    root = refs.fresh_old_index(tmp_path / "index")
    killed = run_driver("reindex", "--index", str(root), "--kill-at", "after_manifest", *map(str, refs.corpus.new))
    assert killed.returncode == -signal.SIGKILL
    assert stale_entries(root), "the kill should have left a temporary generation folder"
    result = run_cli("reindex", *map(str, refs.corpus.new), "--index", str(root))
    assert result.returncode == 0 and not has_traceback(result.stderr), result.stderr
    assert stale_entries(root) == []
    assert refs.which(served(root)["answers"]) == "new"


# ---- randomised kills -------------------------------------------------------------------------

RANDOM_RUNS = 200 if SLOW else 3


@pytest.fixture(scope="module")
def big_refs(tmp_path_factory: pytest.TempPathFactory) -> References:
    """The same corpora padded with filler documents, so the write lasts long enough to land in."""
    folder = tmp_path_factory.mktemp("b2-big")
    corpus = write_corpus(folder / "corpus")
    rng = random.Random(5)
    syllables = [a + b for a in ("ka", "lo", "mi", "nu", "po", "ra", "se", "tu") for b in ("bel", "dor", "fin", "gast")]
    for name in ("filler-old.txt", "filler-new.txt"):
        paragraphs = (
            " ".join(rng.choice(syllables) for _ in range(rng.randint(40, 120))).capitalize() + "." for _ in range(1500)
        )
        (folder / "corpus" / name).write_text("Filler\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    padded = Corpus(
        old=(*corpus.old, folder / "corpus" / "filler-old.txt"),
        new=(*corpus.new, folder / "corpus" / "filler-new.txt"),
    )
    return build_references(folder, padded)


def _reindex_process(root: Path, files: tuple[Path, ...]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(DRIVER), "reindex", "--announce", "--index", str(root), *map(str, files)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )


def _write_window(big_refs: References, folder: Path) -> float:
    """Seconds from the first file operation to the end of an uninterrupted reindex."""
    root = big_refs.fresh_old_index(folder / "timing")
    proc = _reindex_process(root, big_refs.corpus.new)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    began = time.monotonic()
    proc.communicate(timeout=120)
    assert proc.returncode == 0
    return time.monotonic() - began


@pytest.mark.slow
def test_random_kills_during_the_write_serve_old_or_new(big_refs: References, tmp_path: Path) -> None:
    window = _write_window(big_refs, tmp_path)
    rng = random.Random(int(os.environ.get("CRASH_SEED", "20240609")))
    outcomes: Counter[str] = Counter()
    for run in range(RANDOM_RUNS):
        root = big_refs.fresh_old_index(tmp_path / f"run{run}")
        proc = _reindex_process(root, big_refs.corpus.new)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "writing"
        time.sleep(rng.uniform(0, window * 1.1))  # the delay *is* the test: it decides where the kill lands
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        after_kill, after_recovery = check_and_recover(root, big_refs.corpus.new)
        got = big_refs.which(after_kill.get("answers", []))
        assert got in ("old", "new"), f"run {run}: a restart serves {after_kill}"
        assert big_refs.which(after_recovery["answers"]) == "new", after_recovery
        assert not after_recovery["stale"], after_recovery
        outcomes[f"{got} ({'killed' if proc.returncode == -signal.SIGKILL else 'finished'})"] += 1
        shutil.rmtree(root)
    print(f"{RANDOM_RUNS} random kills over a {window * 1000:.0f} ms write window: {dict(outcomes)}")
