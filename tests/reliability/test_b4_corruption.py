"""B4/B12 corruption (promise 1): damaged index files are detected, never served.

The index holds two generations: A (the old corpus) and B (the new one, current). Any byte of
any file of B flipped, or the file cut to any length, must leave an engine opened with no
sources answering *exactly* as A or as B's corpus (a rebuild from the recorded sources is also
fine), never serving B's damaged files, with a warning that names the damaged generation. The
manifest and ``CURRENT`` are small enough to damage exhaustively at every byte and every length.
Then the hostile cases: a planted pickle, a manifest from a newer format, ``CURRENT`` pointing
outside the folder or at nothing, everything damaged; and the CLI never prints a traceback.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import pickle
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index import Engine
from index.errors import IndexCorruptError
from index.store import CURRENT, FORMAT_VERSION, MANIFEST, Store
from tests.conftest import ROOT, run_cli

from .support import SLOW, References, answers, build_references, has_traceback

EXAMPLES = 400 if SLOW else 40


class Index:
    """A pristine two-generation index and what each generation answers."""

    def __init__(self, refs: References, folder: Path) -> None:
        self.refs = refs
        self.pristine = folder / "two-generations"
        engine = Engine.open(self.pristine, refs.corpus.old)
        self.old_gen = engine.generation
        engine.reindex(list(refs.corpus.new))
        self.new_gen = engine.generation
        store = Store(self.pristine)
        self.manifest = store.open(self.new_gen).manifest
        self.files = [*self.manifest["files"], MANIFEST]

    def copy(self, target: Path) -> Path:
        shutil.copytree(self.pristine, target)
        return target

    def path(self, root: Path, name: str) -> Path:
        """A file of generation B, or CURRENT."""
        return root / CURRENT if name == CURRENT else root / self.new_gen / name


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    folder = tmp_path_factory.mktemp("b4")
    return Index(build_references(folder), folder)


def flip(path: Path, offset: int, bit: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 1 << (bit % 8)
    path.write_bytes(bytes(data))


def truncate(path: Path, length: int) -> None:
    os.truncate(path, length)


def _manifest_unchanged(index: Index, root: Path) -> bool:
    """True when the damaged manifest still means exactly what was written (e.g. a flip that parses the same)."""
    try:
        return json.loads(index.path(root, MANIFEST).read_bytes()) == json.loads(
            index.path(index.pristine, MANIFEST).read_bytes()
        )
    except ValueError:
        return False


def check_served(index: Index, root: Path, target: str, caplog: pytest.LogCaptureFixture) -> None:
    """The engine opens, answers exactly as one corpus, and serves damaged B files never."""
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        engine = Engine.open(root)
    got = index.refs.which(answers(engine))
    assert got in ("old", "new"), f"damage to {target} changed the answers"
    if target == CURRENT:
        return
    if engine.generation == index.new_gen:
        assert target == MANIFEST and _manifest_unchanged(index, root), f"damaged {target} was served"
        return
    assert any(index.new_gen in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING), (
        "the damaged generation was skipped without a warning naming it"
    )


def test_every_file_flipped_or_cut_is_detected(index: Index, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Each file of B (and CURRENT): first, middle and last byte flipped; cut to 0, half and all but one byte."""
    damages: list[tuple[str, Callable[[Path], None]]] = [
        ("flip first", lambda p: flip(p, 0, 0)),
        ("flip middle", lambda p: flip(p, p.stat().st_size // 2, 3)),
        ("flip last", lambda p: flip(p, -1, 7)),
        ("empty", lambda p: truncate(p, 0)),
        ("half", lambda p: truncate(p, p.stat().st_size // 2)),
        ("all but one byte", lambda p: truncate(p, p.stat().st_size - 1)),
        ("deleted", lambda p: p.unlink()),
    ]
    for n, target in enumerate([*index.files, CURRENT]):
        for m, (label, damage) in enumerate(damages):
            root = index.copy(tmp_path / f"{n}-{m}")
            damage(index.path(root, target))
            try:
                check_served(index, root, target, caplog)
            except AssertionError as err:
                raise AssertionError(f"{target} {label}: {err}") from None
            shutil.rmtree(root)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_byte_flip_or_truncation_is_detected(
    index: Index, tmp_path_factory: pytest.TempPathFactory, caplog: pytest.LogCaptureFixture, data: st.DataObject
) -> None:
    target = data.draw(st.sampled_from([*index.files, CURRENT]), label="file")
    root = index.copy(tmp_path_factory.mktemp("b4-any") / "index")
    path = index.path(root, target)
    size = path.stat().st_size
    if data.draw(st.booleans(), label="truncate (else flip)"):
        truncate(path, data.draw(st.integers(0, size - 1), label="length"))
    else:
        flip(path, data.draw(st.integers(0, size - 1), label="offset"), data.draw(st.integers(0, 7), label="bit"))
    check_served(index, root, target, caplog)


def test_manifest_every_byte_and_every_length(index: Index, tmp_path: Path) -> None:
    """Exhaustive over the commit point: whatever verifies is exactly what was written."""
    root = index.copy(tmp_path / "index")
    path = index.path(root, MANIFEST)
    original = path.read_bytes()
    store = Store(root)
    accepted_changes = []
    for offset in range(len(original)):
        for bit in (offset % 8, (offset + 3) % 8):
            damaged = bytearray(original)
            damaged[offset] ^= 1 << bit
            path.write_bytes(bytes(damaged))
            try:
                manifest = store.open(index.new_gen).manifest
            except IndexCorruptError:
                continue
            if manifest != index.manifest:
                accepted_changes.append((offset, bit, chr(original[offset]), chr(damaged[offset])))
    for length in range(len(original)):
        path.write_bytes(original[:length])
        with pytest.raises(IndexCorruptError):
            store.open(index.new_gen)
    assert accepted_changes == [], (
        f"manifest changes that load silently (offset, bit, was, now): {accepted_changes[:10]}"
    )


def test_current_every_byte_and_every_length(index: Index, tmp_path: Path) -> None:
    """A damaged pointer never stops service: the newest generation that verifies serves."""
    root = index.copy(tmp_path / "index")
    path = root / CURRENT
    original = path.read_bytes()
    store = Store(root)
    variants = [original[:n] for n in range(len(original))]
    for offset in range(len(original)):
        for bit in range(8):
            damaged = bytearray(original)
            damaged[offset] ^= 1 << bit
            variants.append(bytes(damaged))
    for variant in variants:
        path.write_bytes(variant)
        assert store.open_latest().name in (index.new_gen, index.old_gen), variant


@pytest.mark.parametrize(
    "pointer",
    ["../../etc", "/etc", "gen-missing", "gen-x/../../etc", "", "\x00", "gen-\udcff", "CURRENT", "." * 300],
    ids=["traversal", "absolute", "missing", "gen-traversal", "empty", "nul", "not-utf8", "self", "long"],
)
def test_current_pointing_anywhere_serves_a_verified_generation(
    index: Index, tmp_path: Path, pointer: str, caplog: pytest.LogCaptureFixture
) -> None:
    root = index.copy(tmp_path / "index")
    (root / CURRENT).write_bytes(pointer.encode("utf-8", "surrogateescape"))
    check_served(index, root, CURRENT, caplog)
    result = run_cli("ask", "Who narrates the film about comets?", "--index", str(root), "--json")
    assert result.returncode == 0 and not has_traceback(result.stderr), result.stderr


def test_current_that_is_a_directory_or_huge(index: Index, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = index.copy(tmp_path / "dir")
    (root / CURRENT).unlink()
    (root / CURRENT).mkdir()
    check_served(index, root, CURRENT, caplog)
    root = index.copy(tmp_path / "huge")
    with open(root / CURRENT, "wb") as handle:
        handle.truncate(512 * 1024 * 1024)  # sparse: costs no disk
    began = time.monotonic()
    check_served(index, root, CURRENT, caplog)
    assert time.monotonic() - began < 5


def _reseal(index: Index, root: Path, manifest: dict[str, Any]) -> None:
    """Write a manifest for B as the writer would (valid checksums), to plant hostile content past them."""
    from index import store

    seal = getattr(store, "seal_manifest", None)
    data = seal(manifest) if seal else store.encode_json(manifest)
    index.path(root, MANIFEST).write_bytes(data)


def _refresh_checksum(manifest: dict[str, Any], name: str, data: bytes) -> None:
    import zlib

    manifest["files"][name] = {"bytes": len(data), "crc32": zlib.crc32(data)}


class _Boom:
    """Unpickling this creates a sentinel file: proof that pickle ran."""

    def __init__(self, sentinel: str) -> None:
        self.sentinel = sentinel

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.sentinel, "w"))


def test_planted_pickle_is_refused_and_never_run(
    index: Index, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = index.copy(tmp_path / "index")
    sentinel = tmp_path / "pwned"
    manifest = json.loads(index.path(root, MANIFEST).read_bytes())
    manifest.pop("manifest_crc32", None)
    for name in manifest["files"]:
        if name.endswith(".npy"):
            array = np.empty(2, dtype=object)
            array[0] = _Boom(str(sentinel))
            import io

            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=True)
            planted = buffer.getvalue()
            index.path(root, name).write_bytes(planted)
            _refresh_checksum(manifest, name, planted)
    raw = pickle.dumps(_Boom(str(sentinel)))
    index.path(root, "documents.json").write_bytes(raw)
    _refresh_checksum(manifest, "documents.json", raw)
    _reseal(index, root, manifest)
    check_served(index, root, "p_doc.npy", caplog)
    assert not sentinel.exists(), "a pickle in the index was executed"
    # With nothing to fall back to and no readable source, the refusal is one clear error, exit 1.
    shutil.rmtree(root / index.old_gen)
    result = ask_without_sources(root)
    assert result.returncode == 1 and not has_traceback(result.stderr), result.stderr
    assert result.stderr.count("error:") == 1 and index.new_gen in result.stderr
    assert not sentinel.exists()


def test_manifest_from_a_newer_format_is_refused_clearly(
    index: Index, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = index.copy(tmp_path / "index")
    manifest = json.loads(index.path(root, MANIFEST).read_bytes())
    manifest.pop("manifest_crc32", None)
    manifest["format_version"] = FORMAT_VERSION + 1
    _reseal(index, root, manifest)
    check_served(index, root, MANIFEST, caplog)
    assert any("newer" in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]
    shutil.rmtree(root / index.old_gen)
    result = ask_without_sources(root)
    assert result.returncode == 1 and not has_traceback(result.stderr), result.stderr
    assert "newer version" in result.stderr


def test_cli_serves_the_previous_generation_when_the_current_one_is_damaged(index: Index, tmp_path: Path) -> None:
    root = index.copy(tmp_path / "index")
    flip(index.path(root, "documents.json"), 10, 1)
    result = run_cli("ask", "When does the early boat leave the north pier?", "--index", str(root), "--json")
    assert result.returncode == 0 and not has_traceback(result.stderr), result.stderr
    assert json.loads(result.stdout) == index.refs.old[0]
    assert index.new_gen in result.stderr  # the operator is told which generation is damaged


def test_everything_damaged_rebuilds_from_sources_once(index: Index, tmp_path: Path) -> None:
    """No good generation: rebuild from the sources (no loop: the next start serves the rebuilt one)."""
    root = index.copy(tmp_path / "index")
    for gen in (index.old_gen, index.new_gen):
        flip(root / gen / "vocab.json", 3, 2)
    engine = Engine.open(root, index.refs.corpus.new)
    assert index.refs.which(answers(engine)) == "new"
    rebuilt = engine.generation
    assert rebuilt not in (index.old_gen, index.new_gen)
    assert Engine.open(root, index.refs.corpus.new).generation == rebuilt
    assert Engine.open(root).generation == rebuilt


def test_everything_damaged_and_no_sources_is_one_clear_error(index: Index, tmp_path: Path) -> None:
    root = index.copy(tmp_path / "index")
    for gen in (index.old_gen, index.new_gen):
        flip(root / gen / "vocab.json", 3, 2)
    began = time.monotonic()
    result = ask_without_sources(root)
    assert result.returncode == 1 and not has_traceback(result.stderr), result.stderr
    assert result.stderr.count("error:") == 1 and "damaged" in result.stderr
    assert time.monotonic() - began < 20
    # With its configured sources readable, the CLI rebuilds from them instead (once).
    result = run_cli(
        "ask",
        "Who narrates the film about comets?",
        "--index",
        str(root),
        "--json",
        env={"SOURCES": ",".join(map(str, index.refs.corpus.new))},
    )
    assert result.returncode == 0 and json.loads(result.stdout) == index.refs.new[1], result.stderr
    # The CLI's reindex still works on a folder whose every generation is damaged.
    result = run_cli("reindex", *map(str, index.refs.corpus.old), "--index", str(root))
    assert result.returncode == 0 and not has_traceback(result.stderr), result.stderr


def ask_without_sources(root: Path) -> subprocess.CompletedProcess[str]:
    """``ask`` with SOURCES naming a file that is gone: the CLI has nothing to rebuild from."""
    return run_cli(
        "ask",
        "Who narrates the film about comets?",
        "--index",
        str(root),
        timeout=30,
        env={"SOURCES": str(root / "gone.txt")},
    )


def test_no_pickle_anywhere_in_the_code() -> None:
    """B12: nothing in the bot or the engine can unpickle (``np.load`` keeps ``allow_pickle=False``)."""
    offenders = []
    for path in [*(ROOT / "index").rglob("*.py"), *(ROOT / "bot").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                if any(n and n.split(".")[0] in ("pickle", "dill", "joblib", "shelve", "marshal") for n in names):
                    offenders.append(f"{path.name}:{node.lineno} imports {names}")
            if (
                isinstance(node, ast.keyword)
                and node.arg == "allow_pickle"
                and not (isinstance(node.value, ast.Constant) and node.value.value is False)
            ):
                offenders.append(f"{path.name}:{node.value.lineno} allow_pickle not False")
    assert offenders == []


def test_refresh_with_a_damaged_current_keeps_serving_and_does_not_retry(
    index: Index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot polls ``refresh`` every few seconds: a damaged pointer or generation is tried once, not every poll."""
    root = index.copy(tmp_path / "index")
    engine = Engine.open(root)
    assert engine.generation == index.new_gen
    opened: list[str] = []
    real_open = Store.open

    def counting_open(self: Store, name: str) -> Any:
        opened.append(name)
        return real_open(self, name)

    monkeypatch.setattr(Store, "open", counting_open)
    (root / CURRENT).write_bytes(b"\xff\xfe garbage")
    assert [engine.refresh() for _ in range(3)] == [False, False, False]
    assert opened == [] and engine.generation == index.new_gen
    (root / CURRENT).write_text("gen-99999999999999999999-1\n", encoding="utf-8")  # names a missing folder
    assert [engine.refresh() for _ in range(3)] == [False, False, False]
    assert len(opened) <= len(Store(root).generations()) + 1, opened  # one look, not one per poll
    assert refs_answer(index, engine) == "new"


def refs_answer(index: Index, engine: Engine) -> str | None:
    return index.refs.which(answers(engine))
