"""B10/B8 paths (promise 10): what ``read_document`` refuses, quickly and without ever blocking.

Decisions tested here: a symbolic link is refused (give the file itself); a FIFO, a device or a
directory is refused without opening it for a blocking read (also when a regular file is
swapped for a FIFO between the check and the open); a file whose content does not match its
size is refused, which covers files that change while being read and every /proc and /sys
pseudo-file (``/proc/self/status`` says 0 bytes and has content; ``/proc/self/environ`` holds
the token); a huge sparse file is refused before any read. Attachment names from Discord can
never leave the uploads folder.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.discord_app.uploads import UploadError, save_upload
from index import Engine
from index import documents as documents_module
from index.documents import read_document
from index.errors import DocumentError

from .support import OLD_TEXT, has_traceback, run_driver

TEXT = "Harbour news\n\nThe ferry Marigold leaves the north pier at six o'clock every morning.\n"


def refused_quickly(path: Path, match: str, seconds: float = 1.0) -> None:
    began = time.monotonic()
    with pytest.raises(DocumentError, match=match):
        read_document(path)
    assert time.monotonic() - began < seconds


def test_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "real.txt"
    target.write_text(TEXT, encoding="utf-8")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    refused_quickly(link, "symbolic link")
    (tmp_path / "to-proc.txt").symlink_to("/proc/self/environ")
    refused_quickly(tmp_path / "to-proc.txt", "symbolic link")
    assert read_document(target).text == TEXT  # the file itself is fine


@pytest.mark.parametrize(
    ("path", "match"),
    [
        ("/proc/self/status", "not a file on disk"),
        ("/proc/self/environ", "not a file on disk"),
        ("/proc/self/cmdline", "not a file on disk"),
        ("/proc/self/fd/0", "symbolic link"),
        ("/dev/zero", "not a regular file"),
        ("/dev/null", "not a regular file"),
        ("/sys/kernel/mm/transparent_hugepage/enabled", "not a file on disk|no such file|cannot read"),
    ],
)
def test_pseudo_files_and_devices_are_refused(path: str, match: str) -> None:
    refused_quickly(Path(path), match)


def test_fifo_is_refused_even_when_swapped_in_after_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A regular file replaced by a FIFO between any check and the open must not block the reader."""
    path = tmp_path / "article.txt"
    path.write_text(TEXT, encoding="utf-8")
    real_open = os.open

    def swap_then_open(target: object, flags: int, *args: object) -> int:
        if Path(str(target)) == path and path.is_file():
            path.unlink()
            os.mkfifo(path)
        return real_open(target, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(documents_module.os, "open", swap_then_open)
    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            read_document(path)
            outcome.append(None)
        except BaseException as err:
            outcome.append(err)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=3)
    if reader.is_alive():  # unblock it so the test process can end, then fail
        with open(path, "wb"):
            pass
        reader.join(timeout=3)
        pytest.fail("read_document blocked on a FIFO")
    assert isinstance(outcome[0], DocumentError) and "not a regular file" in str(outcome[0])


def test_huge_sparse_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with open(path, "wb") as handle:
        handle.truncate(500 * 1024 * 1024)
    refused_quickly(path, "over the", seconds=0.1)


def test_file_that_grows_or_shrinks_while_read_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file appended to (a log) or truncated between ``fstat`` and ``read`` is refused, not half-indexed."""
    path = tmp_path / "growing.txt"
    path.write_text(TEXT, encoding="utf-8")
    real_fstat = os.fstat

    for change in ("grow", "shrink"):
        path.write_text(TEXT, encoding="utf-8")

        def fstat_then_change(fd: int, change: str = change) -> os.stat_result:
            info = real_fstat(fd)
            if change == "grow":
                with open(path, "a", encoding="utf-8") as handle:
                    handle.write("A line appended while the reader was reading.\n")
            else:
                os.truncate(path, 10)
            return info

        monkeypatch.setattr(documents_module.os, "fstat", fstat_then_change)
        refused_quickly(path, "changed size while being read")
    monkeypatch.undo()
    # Growing past the limit is refused by the bounded read too (never reads more than max + 1).
    path.write_text("x" * 50, encoding="utf-8")
    with pytest.raises(DocumentError):
        read_document(path, max_bytes=10)


@pytest.mark.parametrize("name", ["a\x00b.txt", "x" * 5000 + ".txt", "\udcff\udcfe.txt"])
def test_odd_names_are_a_clear_error_or_read(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    try:
        read_document(path)
    except DocumentError as err:
        assert str(err)


def test_non_utf8_file_name_indexes_and_answers(tmp_path: Path) -> None:
    """A source whose name is not UTF-8 (surrogate-escaped by Python) is indexed, reopened and cited as U+FFFD."""
    import json

    from tests.conftest import run_cli

    name = os.fsdecode(b"caf\xe9-harbour.txt")
    path = tmp_path / name
    path.write_text(OLD_TEXT, encoding="utf-8")
    Engine.open(tmp_path / "index", [path])
    result = run_driver(
        "check", "--index", str(tmp_path / "index"), "--questions", '["When does the early boat leave?"]'
    )
    assert result.returncode == 0 and not has_traceback(result.stderr), result.stderr
    served = json.loads(result.stdout)
    assert served["answers"][0]["answered"]
    assert served["answers"][0]["results"][0]["citation"]["source"] == "caf\ufffd-harbour.txt"
    cli = run_cli("ask", "When does the early boat leave?", "--index", str(tmp_path / "index"))
    assert cli.returncode == 0 and not has_traceback(cli.stderr), cli.stderr
    assert "caf\ufffd-harbour.txt" in cli.stdout


def test_index_never_holds_the_environment_of_the_bot(tmp_path: Path) -> None:
    """A documents.json that records /proc/self/environ as a source path (a planted index) is not re-read."""
    import json
    import zlib

    from index.store import MANIFEST, Store, seal_manifest

    source = tmp_path / "harbour.txt"
    source.write_text(OLD_TEXT, encoding="utf-8")
    engine = Engine.open(tmp_path / "index", [source])
    gen = Store(tmp_path / "index").open(engine.generation)
    docs = json.loads((gen.path / "documents.json").read_text(encoding="utf-8"))
    docs[0]["path"] = "/proc/self/environ"
    raw = json.dumps(docs).encode()
    (gen.path / "documents.json").write_bytes(raw)
    manifest = dict(gen.manifest)
    manifest["files"] = {**manifest["files"], "documents.json": {"bytes": len(raw), "crc32": zlib.crc32(raw)}}
    (gen.path / MANIFEST).write_bytes(seal_manifest(manifest))
    canary = "MTAxNTk2NDQ3Nzg4OTk5OTk5OQ.GcAnAr.y_canary_token_never_index_me_000"
    import subprocess
    import sys

    from .support import DRIVER, clean_env

    result = subprocess.run(
        [sys.executable, str(DRIVER), "check", "--index", str(tmp_path / "index"), "--questions", '["canary token"]'],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(DISCORD_TOKEN=canary),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "never_index_me" not in result.stdout
    for path in (tmp_path / "index").rglob("*"):
        if path.is_file():
            assert b"canary_token" not in path.read_bytes()


hostile_names = st.one_of(
    st.text(min_size=1, max_size=300),
    st.sampled_from(
        [
            "../../etc/passwd",
            "/etc/passwd",
            "..",
            ".",
            "\u2024\u2024/x.txt",
            "a/../../b.txt",
            "C:\\x\\..\\y.md",
            "CON",
            "a\x00b.txt",
            "\u202etxt.exe",
            "...",
            " .txt",
            "~/.bashrc",
        ]
    ),
)


@settings(max_examples=300, deadline=None)
@given(name=hostile_names, data=st.binary(max_size=64))
def test_upload_names_never_leave_the_uploads_folder(
    tmp_path_factory: pytest.TempPathFactory, name: str, data: bytes
) -> None:
    folder = tmp_path_factory.mktemp("uploads") / "uploads"
    try:
        saved = save_upload(folder, name, data)
    except UploadError:
        return
    assert saved.parent == folder and saved.resolve().parent == folder.resolve()
    assert saved.read_bytes() == data and not saved.is_symlink()
    assert sorted(p.name for p in folder.parent.rglob("*")) == sorted(["uploads", saved.name])
