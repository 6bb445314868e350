"""Index generations on disk: immutable folders, a manifest written last, one atomic pointer.

The write protocol is SQLite's and Lucene's: build the new generation in a temporary folder,
fsync every file, write the manifest (the commit point, with every file's size and CRC32) last,
rename the folder into place, then swap ``CURRENT`` with write-temp/fsync/``os.replace``/fsync-dir.
A crash anywhere before the swap leaves the previous generation serving; readers only ever follow
``CURRENT`` to a complete, verified generation. Files are JSON and ``.npy`` (never pickle).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import logging
import os
import shutil
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .errors import EngineError, IndexCorruptError, IndexNotFoundError

log = logging.getLogger(__name__)

FORMAT = "article-qa-index"
FORMAT_VERSION = 3  # 2: the manifest carries its own checksum; 3: BM25 impacts replace contributions
MANIFEST = "manifest.json"
MANIFEST_CHECKSUM = "manifest_crc32"  # CRC32 of the manifest's canonical JSON without this field
CURRENT = "CURRENT"
GEN_PREFIX = "gen-"
TMP_PREFIX = ".tmp-"
_CHUNK = 1 << 20
_POINTER_MAX = 4096  # CURRENT holds one folder name; anything longer is damage
T = TypeVar("T")


class IndexWriteError(EngineError):
    """Writing a new generation failed (disk full, I/O error); the previous generation still serves."""


class Fs:
    """The file operations the writer uses, one method each, so tests can inject faults and power loss."""

    def write(self, path: Path, data: bytes) -> None:
        """Create ``path`` (it must not exist), write all of ``data``, fsync, close."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view[:_CHUNK]) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    def mkdir(self, path: Path) -> None:
        os.mkdir(path, 0o755)

    def replace(self, src: Path, dst: Path) -> None:
        os.replace(src, dst)

    def fsync_dir(self, path: Path) -> None:
        """Make a rename or create inside ``path`` durable."""
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def rmtree(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def remove(self, path: Path) -> None:
        """Delete one file if it exists."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    def checkpoint(self, name: str) -> None:
        """A named step of the protocol; a no-op here, a crash point in the fault tests."""


@dataclass(frozen=True, slots=True)
class Generation:
    """A verified generation: its folder and its manifest."""

    path: Path
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name

    def json(self, name: str) -> Any:
        """Load one JSON file of the generation (verified when the generation was opened)."""
        try:
            with open(self._verified(name), encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError) as err:
            raise IndexCorruptError(f"{self.name}/{name} is not valid JSON ({err}).") from None

    def array(self, name: str) -> np.ndarray:
        """Memory-map one ``.npy`` file read-only, so processes share its pages."""
        array: np.ndarray = np.load(self._verified(name), mmap_mode="r", allow_pickle=False)
        return array

    def _verified(self, name: str) -> Path:
        """Only files the manifest lists (and ``Store.open`` checked) are ever read."""
        if name not in self.manifest["files"]:
            raise IndexCorruptError(f"{self.name}: {name} is not listed in its manifest.")
        return self.path / name


def encode_array(array: np.ndarray) -> bytes:
    """``.npy`` bytes without pickle (object arrays are refused)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON; a lone surrogate (a non-UTF-8 file name) is written as its ``\\udcXX`` escape."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "backslashreplace")


def seal_manifest(manifest: Mapping[str, Any]) -> bytes:
    """The manifest's bytes with its own checksum added, so any change to it is detected on load."""
    body = {k: v for k, v in manifest.items() if k != MANIFEST_CHECKSUM}
    return encode_json({**body, MANIFEST_CHECKSUM: zlib.crc32(encode_json(body))})


class Store:
    """The index folder: reads the current generation, writes new ones, keeps the previous one."""

    def __init__(self, root: Path, fs: Fs | None = None, keep: int = 2) -> None:
        self.root = Path(root)
        self.fs = fs or Fs()
        self.keep = max(1, keep)

    # ---- reading -------------------------------------------------------------------------
    def current_name(self) -> str | None:
        """The generation ``CURRENT`` points to, or None when nothing was committed yet."""
        try:
            with open(self.root / CURRENT, "rb") as handle:
                raw = handle.read(_POINTER_MAX + 1)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as err:
            raise IndexCorruptError(f"{self.root / CURRENT} is unreadable ({err.strerror}).") from None
        try:
            name = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise IndexCorruptError(f"{self.root / CURRENT} is damaged (not text).") from None
        if len(raw) > _POINTER_MAX:
            raise IndexCorruptError(f"{self.root / CURRENT} is damaged (too long for a folder name).")
        return name or None

    def generations(self) -> list[str]:
        """Committed generation folders, newest first."""
        try:
            names = [p.name for p in self.root.iterdir() if p.name.startswith(GEN_PREFIX) and p.is_dir()]
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(names, reverse=True)

    def open(self, name: str) -> Generation:
        """Verify a generation (format, version, every file's size and CRC32) and return it."""
        path = self.root / name
        if not name.startswith(GEN_PREFIX) or "/" in name or "\0" in name or not path.is_dir():
            raise IndexCorruptError(f"{self.root}: {name[:80]!r} is not a generation folder.")
        manifest = _read_manifest(path)
        for file_name, meta in manifest["files"].items():
            _verify_file(path / file_name, meta)
        return Generation(path, manifest)

    def open_latest(self) -> Generation:
        """The current generation, or the newest other one that verifies when the current one is damaged."""
        return self.load_latest(lambda generation: generation)

    def load_latest(self, load: Callable[[Generation], T]) -> T:
        """``load`` the current generation; fall back to the newest other one that verifies *and* loads.

        ``load`` raises ``IndexCorruptError`` for content that passed its checksums but is still
        unusable (a planted pickle, arrays that disagree): that generation is skipped too.
        """
        try:
            current = self.current_name()
        except IndexCorruptError as err:
            log.warning("%s; looking for the newest generation that verifies", err)
            current = None
        candidates = ([current] if current else []) + [g for g in self.generations() if g != current]
        if not candidates:
            raise IndexNotFoundError(f"No index in {self.root} yet.")
        errors: list[str] = []
        for name in candidates:
            try:
                loaded = load(self.open(name))
            except IndexCorruptError as err:
                log.warning("skipping damaged index generation %s: %s", name, err)
                errors.append(str(err))
                continue
            if name != current:
                log.warning("serving generation %s: CURRENT names no usable generation", name)
            return loaded
        raise IndexCorruptError("Every index generation is damaged: " + "; ".join(errors))

    # ---- writing -------------------------------------------------------------------------
    def commit(self, files: Mapping[str, bytes], manifest: dict[str, Any]) -> Generation:
        """Write a new generation and make it current; on any error the previous one stays current.

        A failing disk (full, I/O error) raises ``IndexWriteError``; whatever this commit wrote is
        then removed again and ``CURRENT`` names the previous generation, as before the call.
        """
        try:
            self._ensure_root()
            with self._lock():
                name = _new_name(self.generations())
                self._commit_locked(name, files, manifest)
        except OSError as err:
            raise IndexWriteError(
                f"Could not write the new index in {self.root} ({err.strerror or err}); "
                "the previous index is still being served."
            ) from err
        return self.open(name)

    def _commit_locked(self, name: str, files: Mapping[str, bytes], manifest: dict[str, Any]) -> None:
        tmp = self.root / (TMP_PREFIX + name)
        previous = self._readable_current()
        try:
            self._write_folder(tmp, files, {**manifest, "generation": name})
            self.fs.checkpoint("before_rename_generation")
            self.fs.replace(tmp, self.root / name)
            self.fs.fsync_dir(self.root)
            self.fs.checkpoint("after_rename_generation")
            self._point_current_to(name)
        except BaseException:
            self._roll_back(name, previous)
            raise
        self._collect_garbage(name)

    def _roll_back(self, name: str, previous: str | None) -> None:
        """Undo a failed commit (best effort): ``CURRENT`` back to ``previous``, the new folder removed.

        Once CURRENT no longer names it, the new generation goes; if CURRENT cannot be swapped
        back, removing the folder still makes readers fall back to ``previous``.
        """
        with contextlib.suppress(OSError):
            if self._readable_current() == name:
                if previous is None:
                    self.fs.remove(self.root / CURRENT)
                else:
                    self._point_current_to(previous)
        self.fs.remove(self.root / (TMP_PREFIX + CURRENT))
        self.fs.rmtree(self.root / (TMP_PREFIX + name))
        self.fs.rmtree(self.root / name)

    def _readable_current(self) -> str | None:
        try:
            return self.current_name()
        except IndexCorruptError:
            return None

    def _write_folder(self, tmp: Path, files: Mapping[str, bytes], manifest: dict[str, Any]) -> None:
        """Every data file first, fsynced; the manifest with their checksums last."""
        self.fs.mkdir(tmp)
        checksums: dict[str, dict[str, int]] = {}
        for file_name, data in files.items():
            self.fs.write(tmp / file_name, data)
            checksums[file_name] = {"bytes": len(data), "crc32": zlib.crc32(data)}
            self.fs.checkpoint(f"after_write:{file_name}")
        self.fs.checkpoint("before_manifest")
        full = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest, "files": checksums}
        self.fs.write(tmp / MANIFEST, seal_manifest(full))
        self.fs.fsync_dir(tmp)
        self.fs.checkpoint("after_manifest")

    def _point_current_to(self, name: str) -> None:
        """Swap the ``CURRENT`` pointer atomically and durably."""
        tmp = self.root / (TMP_PREFIX + CURRENT)
        self.fs.remove(tmp)
        self.fs.write(tmp, (name + "\n").encode("ascii"))
        self.fs.checkpoint("before_current_replace")
        self.fs.replace(tmp, self.root / CURRENT)
        self.fs.checkpoint("before_current_fsync")
        self.fs.fsync_dir(self.root)
        self.fs.checkpoint("after_current_replace")

    def _collect_garbage(self, current: str) -> None:
        """Keep the newest ``keep`` generations (the previous one is the fallback); drop stale temp folders."""
        for old in self.generations()[self.keep :]:
            if old != current:
                self.fs.rmtree(self.root / old)
        for path in self.root.glob(TMP_PREFIX + GEN_PREFIX + "*"):
            self.fs.rmtree(path)

    def _ensure_root(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise IndexCorruptError(f"{self.root} exists and is not a folder; choose another --index.") from None

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """One writer at a time across processes (the bot and the CLI may both reindex)."""
        with open(self.root / ".lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _new_name(existing: list[str]) -> str:
    """A sortable, unique generation name newer than every existing one."""
    stamp = time.time_ns()
    if existing:
        newest = int(existing[0][len(GEN_PREFIX) :].split("-")[0] or 0)
        stamp = max(stamp, newest + 1)
    return f"{GEN_PREFIX}{stamp:020d}-{os.getpid()}"


def _read_manifest(path: Path) -> dict[str, Any]:
    """Parse and check a manifest: the right format, a version this code reads, a file list."""
    try:
        with open(path / MANIFEST, "rb") as handle:
            manifest = json.loads(handle.read(16 * 1024 * 1024).decode("utf-8"))
    except FileNotFoundError:
        raise IndexCorruptError(f"{path.name} has no manifest (an interrupted write?).") from None
    except (OSError, ValueError) as err:
        raise IndexCorruptError(f"{path.name}: the manifest is unreadable ({err}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexCorruptError(f"{path.name} is not an index of this bot.")
    sealed = isinstance(manifest.get(MANIFEST_CHECKSUM), int) and seal_manifest(manifest) == encode_json(manifest)
    version = manifest.get("format_version")
    if version != FORMAT_VERSION and (sealed or version == 1):
        newer = isinstance(version, int) and version > FORMAT_VERSION
        raise IndexCorruptError(
            f"{path.name} has index format {version!r}, written by "
            f"{'a newer' if newer else 'an older'} version of this bot; this version reads format "
            f"{FORMAT_VERSION}. {'Upgrade the bot, or run' if newer else 'Run'} "
            "`python run_bot.py reindex` to rebuild it."
        )
    if not sealed:
        raise IndexCorruptError(f"{path.name}: the manifest fails its checksum (the file is damaged).")
    if not isinstance(manifest.get("files"), dict):
        raise IndexCorruptError(f"{path.name}: the manifest lists no files.")
    return manifest


def _verify_file(path: Path, meta: Any) -> None:
    """Size and CRC32 must match what the manifest recorded when the file was written."""
    if not isinstance(meta, dict) or "/" in path.name or path.name.startswith("."):
        raise IndexCorruptError(f"{path.parent.name}: bad manifest entry for {path.name}.")
    try:
        size = path.stat().st_size
        if size != meta.get("bytes"):
            raise IndexCorruptError(f"{path.parent.name}/{path.name} has {size} bytes, expected {meta.get('bytes')}.")
        crc = 0
        with open(path, "rb") as handle:
            while block := handle.read(_CHUNK):
                crc = zlib.crc32(block, crc)
    except OSError as err:
        raise IndexCorruptError(f"{path.parent.name}/{path.name} is unreadable ({err.strerror}).") from None
    if crc != meta.get("crc32"):
        raise IndexCorruptError(f"{path.parent.name}/{path.name} fails its checksum (the file is damaged).")


def load_array(generation: Generation, name: str, check: Callable[[np.ndarray], bool] | None = None) -> np.ndarray:
    """Map an array and reject a wrong dtype/shape with a clear error instead of a crash later."""
    try:
        array = generation.array(name)
    except (OSError, ValueError) as err:
        raise IndexCorruptError(f"{generation.name}/{name} is not a valid array ({err}).") from None
    if check is not None and not check(array):
        raise IndexCorruptError(f"{generation.name}/{name} has the wrong type or shape.")
    return array
