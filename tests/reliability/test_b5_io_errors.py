"""B5 I/O errors (promise 1): ENOSPC / EIO at the k-th disk operation, once or for good, for every k.

SQLite's loop: fail operation k (a write or an fsync, also the renames and the mkdir), raise k
until the reindex runs to completion. After each failure the reindex must raise a typed,
user-facing error (never a bare ``OSError``), the engine that tried must keep serving the old
index, a fresh process must open the old index, and nothing may be left behind (no temporary
folder or file, no half-committed generation). A transient fault is followed by a retry that
must succeed. The CLI is checked end to end with a real limit (``RLIMIT_FSIZE``).
"""

from __future__ import annotations

import errno
import resource
import signal
from pathlib import Path

import pytest

from index import Engine
from index.errors import EngineError
from index.store import Store
from tests.conftest import run_cli

from .faultfs import FaultyFs, RecordingFs
from .support import References, answers, build_references, has_traceback, stale_entries


@pytest.fixture(scope="module")
def refs(tmp_path_factory: pytest.TempPathFactory) -> References:
    return build_references(tmp_path_factory.mktemp("b5-refs"))


@pytest.fixture(scope="module")
def operations(refs: References, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    fs = RecordingFs()
    Engine.open(refs.fresh_old_index(tmp_path_factory.mktemp("b5-ops") / "i"), (), fs=fs).reindex(list(refs.corpus.new))
    return fs.file_ops()


@pytest.mark.parametrize("persistent", [False, True], ids=["once", "persistent"])
@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EIO], ids=["ENOSPC", "EIO"])
def test_fault_at_every_operation_keeps_the_old_index(
    refs: References, operations: list[str], tmp_path: Path, err: int, persistent: bool
) -> None:
    problems: list[str] = []
    k = 0
    while True:
        root = refs.fresh_old_index(tmp_path / f"k{k}")
        before = Store(root).generations()
        fs = FaultyFs(k, err, persistent)
        engine = Engine.open(root, (), fs=fs)
        old = engine.generation
        try:
            engine.reindex(list(refs.corpus.new))
        except EngineError as error:
            where = f"fault at operation {k} ({operations[k] if k < len(operations) else '?'})"
            if fs.failed == 0:
                problems.append(f"{where}: the reindex failed without a fault: {error}")
            if "still" not in str(error) and "previous" not in str(error):
                problems.append(f"{where}: the error does not say the old index still serves: {error}")
            if engine.generation != old or refs.which(answers(engine)) != "old":
                problems.append(f"{where}: the engine that failed no longer serves the old index")
            reopened = Engine.open(root)
            if reopened.generation != old or refs.which(answers(reopened)) != "old":
                problems.append(f"{where}: a restart serves {reopened.generation}, not the old {old}")
            if stale_entries(root) or Store(root).generations() != before:
                problems.append(f"{where}: left {stale_entries(root)} / {Store(root).generations()} behind")
            if not persistent:
                engine.reindex(list(refs.corpus.new))  # the fault has passed: a retry succeeds
                if refs.which(answers(Engine.open(root))) != "new" or stale_entries(root):
                    problems.append(f"{where}: the retry after a transient fault did not commit cleanly")
            k += 1
            continue
        except OSError as error:
            problems.append(f"fault at operation {k} ({operations[k]}): a bare {error!r} escaped the reindex")
            k += 1
            continue
        assert fs.failed == 0, f"operation {k} failed but the reindex reported success"
        break
    assert k == len(operations), f"the reindex completed after {k} faults but makes {len(operations)} operations"
    assert refs.which(answers(Engine.open(root))) == "new"
    assert stale_entries(root) == []
    assert problems == []


def _limit_file_size(limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_cli_reindex_on_a_full_disk_is_one_clear_error(refs: References, tmp_path: Path) -> None:
    """A real write failure (file size limit) in ``run_bot.py reindex``: exit 1, no traceback, old index serves."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    root = refs.fresh_old_index(tmp_path / "index")
    big = tmp_path / "big.txt"
    big.write_text(("The observatory dome was repaired again. " * 40 + "\n\n") * 400, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD", "SOURCES", "INDEX"))}
    result = subprocess.run(
        [sys.executable, str(ROOT / "run_bot.py"), "reindex", str(big), "--index", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "PYTHONIOENCODING": "utf-8"},
        preexec_fn=lambda: _limit_file_size(64 * 1024),
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert not has_traceback(result.stderr), result.stderr
    assert result.stderr.count("error:") == 1 and "File too large" in result.stderr, result.stderr
    assert stale_entries(root) == []
    assert refs.which(answers(Engine.open(root))) == "old"
    result = run_cli("reindex", *map(str, refs.corpus.new), "--index", str(root))
    assert result.returncode == 0, result.stderr
