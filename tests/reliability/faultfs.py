"""``Fs`` subclasses for the fault tests: kill at a named step, fail at operation k, lose power.

``index.store.Fs`` is the one object through which the index writer touches the disk. These
subclasses call the real methods but, while one runs, swap the ``os`` module that
``index/store.py`` sees for a tracer (``_SyscallTracer``), so they observe exactly the system
calls the production code makes: a mutated ``store.py`` that drops an ``os.fsync`` is seen to
drop it. Nothing here is imported by production code.
"""

from __future__ import annotations

import contextlib
import errno as errno_module
import os
import shutil
import signal
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index import store as store_module
from index.store import CURRENT, MANIFEST, TMP_PREFIX, Fs

_REAL_OS = os


class PowerCut(BaseException):
    """The machine "lost power": raised at the chosen step, and by every file operation after it."""


class _SyscallTracer:
    """Stands in for the ``os`` module inside ``index/store.py``; forwards everything, reports mutations."""

    def __init__(self, hook: Callable[..., Any]) -> None:
        self._hook = hook

    def __getattr__(self, name: str) -> Any:
        return getattr(_REAL_OS, name)

    def open(self, path: Any, flags: int, mode: int = 0o777) -> int:
        return self._hook("open", path, flags, mode)

    def write(self, fd: int, data: Any) -> int:
        return self._hook("write", fd, data)

    def fsync(self, fd: int) -> None:
        return self._hook("fsync", fd)

    def replace(self, src: Any, dst: Any) -> None:
        return self._hook("replace", src, dst)

    def mkdir(self, path: Any, mode: int = 0o777) -> None:
        return self._hook("mkdir", path, mode)


class TracingFs(Fs):
    """Runs the real ``Fs`` methods with every system call they make going through ``syscall``."""

    def __init__(self) -> None:
        self.ops: list[str] = []  # "open:NAME", "write:NAME", "fsync:NAME", "replace:A>B", "mkdir:NAME"
        self.checkpoints: list[str] = []
        self._fd_paths: dict[int, Path] = {}
        self._half: set[int] = set()  # fds whose first (short) write has been made

    @contextlib.contextmanager
    def _traced(self) -> Iterator[None]:
        previous = store_module.os
        store_module.os = _SyscallTracer(self.syscall)  # type: ignore[assignment]
        try:
            yield
        finally:
            store_module.os = previous

    # The Fs API, traced.
    def write(self, path: Path, data: bytes) -> None:
        with self._traced():
            super().write(path, data)

    def mkdir(self, path: Path) -> None:
        with self._traced():
            super().mkdir(path)

    def replace(self, src: Path, dst: Path) -> None:
        with self._traced():
            super().replace(src, dst)

    def fsync_dir(self, path: Path) -> None:
        with self._traced():
            super().fsync_dir(path)

    def checkpoint(self, name: str) -> None:
        self.checkpoints.append(name)

    # The system calls: subclasses decorate ``before``/``perform``.
    def syscall(self, kind: str, *args: Any) -> Any:
        label = self.describe(kind, *args)
        self.before(kind, label, *args)
        result = self.perform(kind, *args)
        if kind == "open":
            self._fd_paths[result] = Path(args[0])
            self._half.discard(result)
        self.ops.append(label)
        return result

    def describe(self, kind: str, *args: Any) -> str:
        if kind in ("write", "fsync"):
            path = self._fd_paths.get(args[0])
            return f"{kind}:{path.name if path else '?'}"
        if kind == "replace":
            return f"replace:{Path(args[0]).name}>{Path(args[1]).name}"
        return f"{kind}:{Path(args[0]).name}"

    def before(self, kind: str, label: str, *args: Any) -> None:
        """Called before each system call; raise here to inject a fault."""

    def perform(self, kind: str, *args: Any) -> Any:
        if kind == "write":
            fd, data = args
            # Short writes are legal: take at most half of a buffer the first time round, so every
            # file is written in at least two calls and a fault can land in the middle of one.
            if fd not in self._half and len(data) > 1:
                self._half.add(fd)
                return _REAL_OS.write(fd, bytes(data[: len(data) // 2]))
            return _REAL_OS.write(fd, data)
        return getattr(_REAL_OS, kind)(*args)

    def file_ops(self) -> list[str]:
        """Only the operations that write to the disk (what fault injection counts)."""
        return [op for op in self.ops if not op.startswith("open:")]


class RecordingFs(TracingFs):
    """Records the checkpoints and system calls of one commit (to enumerate crash points and steps)."""


class KillingFs(Fs):
    """SIGKILLs its own process at a named checkpoint, or half-way through a file or a removal.

    ``point`` is a checkpoint name from ``index/store.py`` (``before_manifest``,
    ``after_write:vocab.json``, ...), ``mid_write:FILE`` (the file exists with half its bytes) or
    ``mid_rmtree`` (half the files of the first folder removed). ``announce`` prints ``writing``
    on stdout when the first file operation starts (the random-delay kills time from it).
    """

    def __init__(self, point: str | None = None, announce: bool = False, pause: bool = False) -> None:
        self.point = point
        self.announce = announce
        self.pause = pause  # at ``point``, print "paused at POINT" and wait for a signal instead of dying

    def mkdir(self, path: Path) -> None:
        if self.announce:
            self.announce = False
            print("writing", flush=True)
        super().mkdir(path)

    def write(self, path: Path, data: bytes) -> None:
        if self.point == f"mid_write:{path.name}":
            with open(path, "xb") as handle:
                handle.write(data[: len(data) // 2])
            self._stop(self.point)
        super().write(path, data)

    def rmtree(self, path: Path) -> None:
        if self.point == "mid_rmtree" and path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            for doomed in files[: max(1, len(files) // 2)]:
                doomed.unlink()
            self._stop("mid_rmtree")
        super().rmtree(path)

    def checkpoint(self, name: str) -> None:
        if name == self.point:
            self._stop(name)

    def _stop(self, name: str) -> None:
        if not self.pause:
            _die()
        self.point = None  # once: the roll-back passes the same checkpoints again
        print(f"paused at {name}", flush=True)
        while True:  # the test's signal handler raises out of here; short naps, because a signal that
            time.sleep(0.05)  # lands just before a blocking pause() would leave it waiting for ever


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class FaultyFs(TracingFs):
    """Fails the ``fail_at``-th disk operation (0-based; writes and fsyncs count) with ``err``.

    ``persistent``: every later operation fails too (a full disk); otherwise only that one (a
    transient error). ``only`` restricts counting to operations whose label starts with it
    (``"write"`` or ``"fsync"``).
    """

    def __init__(self, fail_at: int, err: int = errno_module.ENOSPC, persistent: bool = False, only: str = "") -> None:
        super().__init__()
        self.fail_at = fail_at
        self.err = err
        self.persistent = persistent
        self.only = only
        self.counted = 0
        self.failed = 0

    def before(self, kind: str, label: str, *args: Any) -> None:
        if kind == "open" or not label.startswith(self.only):
            return
        index = self.counted
        self.counted += 1
        if index == self.fail_at or (self.persistent and index > self.fail_at):
            self.failed += 1
            raise OSError(self.err, os.strerror(self.err))


# ---- power loss --------------------------------------------------------------------------------

DAMAGES = ("delete", "zero", "half", "empty", "flip", "leave")  # Lucene MockDirectoryWrapper.crash()
FSYNC_SITES = ("data", "manifest", "current", "dir:tmp", "dir:root:rename", "dir:root:current")


@dataclass(slots=True)
class _DirOp:
    """A directory change not yet made durable by an fsync of its directory (or directories)."""

    kind: str  # "create", "mkdir", "rename"
    ino: int  # the inode created or moved
    src: tuple[int, str] | None  # (directory inode, name) before a rename
    dst: tuple[int, str]  # (directory inode, name) it now has
    replaced: bytes | None = None  # a file the rename replaced, to put back if it is reverted
    unsynced_dirs: set[int] = field(default_factory=set)


class PowerLossFs(TracingFs):
    """Records unsynced data and directory changes; ``power_loss`` then undoes them as a crash might.

    ``cut_at``: the 0-based disk operation before which power fails (``PowerCut`` is raised and
    every later operation raises it too, so no clean-up code can run); ``cut_point``: a checkpoint
    name to cut at instead. ``skip_fsync``: fsync sites (``FSYNC_SITES``) to silently not perform,
    to prove the tests notice a missing one.
    """

    def __init__(
        self, cut_at: int | None = None, cut_point: str | None = None, skip_fsync: frozenset[str] = frozenset()
    ):
        super().__init__()
        self.cut_at = cut_at
        self.cut_point = cut_point
        self.skip_fsync = skip_fsync
        self.dead = False
        self.steps = 0
        self.dirty: dict[int, Path] = {}  # inode -> path when written, for unsynced file data
        self.pending: list[_DirOp] = []
        self._root_syncs = 0

    # Fault plumbing.
    def _die(self) -> None:
        self.dead = True
        raise PowerCut(f"power lost at step {self.steps}")

    def before(self, kind: str, label: str, *args: Any) -> None:
        if self.dead:
            raise PowerCut("no power")
        if kind == "open":
            return
        if self.cut_at is not None and self.steps == self.cut_at:
            self._die()
        self.steps += 1

    def checkpoint(self, name: str) -> None:
        super().checkpoint(name)
        if self.dead:
            raise PowerCut("no power")
        if name == self.cut_point:
            self._die()

    def rmtree(self, path: Path) -> None:
        if self.dead:
            raise PowerCut("no power")
        super().rmtree(path)

    def remove(self, path: Path) -> None:
        if self.dead:
            raise PowerCut("no power")
        super().remove(path)

    # Recording.
    def perform(self, kind: str, *args: Any) -> Any:
        if kind == "replace":
            src, dst = Path(args[0]), Path(args[1])
            ino = _REAL_OS.lstat(src).st_ino
            replaced = dst.read_bytes() if dst.is_file() else None
            result = super().perform(kind, *args)
            op = _DirOp("rename", ino, (_ino(src.parent), src.name), (_ino(dst.parent), dst.name), replaced)
            op.unsynced_dirs = {op.src[0], op.dst[0]}  # type: ignore[index]
            self.pending.append(op)
            return result
        if kind == "fsync":
            return self._fsync(args[0])
        result = super().perform(kind, *args)
        if kind == "open" and args[1] & _REAL_OS.O_CREAT:
            path = Path(args[0])
            info = _REAL_OS.fstat(result)
            self.pending.append(_DirOp("create", info.st_ino, None, (_ino(path.parent), path.name)))
            self.pending[-1].unsynced_dirs = {self.pending[-1].dst[0]}
        elif kind == "mkdir":
            path = Path(args[0])
            op = _DirOp("mkdir", _ino(path), None, (_ino(path.parent), path.name))
            op.unsynced_dirs = {op.dst[0]}
            self.pending.append(op)
        elif kind == "write":
            path = self._fd_paths.get(args[0])
            self.dirty[_REAL_OS.fstat(args[0]).st_ino] = path or Path("?")
        return result

    def _fsync(self, fd: int) -> None:
        info = _REAL_OS.fstat(fd)
        site = self._site(fd, info)
        if site in self.skip_fsync:
            return
        _REAL_OS.fsync(fd)
        if stat.S_ISDIR(info.st_mode):
            for op in self.pending:
                op.unsynced_dirs.discard(info.st_ino)
            self.pending = [op for op in self.pending if op.unsynced_dirs]
        else:
            self.dirty.pop(info.st_ino, None)

    def _site(self, fd: int, info: os.stat_result) -> str:
        path = self._fd_paths.get(fd, Path("?"))
        if stat.S_ISDIR(info.st_mode):
            if path.name.startswith(TMP_PREFIX):
                return "dir:tmp"
            self._root_syncs += 1
            return "dir:root:rename" if self._root_syncs == 1 else "dir:root:current"
        if path.name == MANIFEST:
            return "manifest"
        if path.name == TMP_PREFIX + CURRENT:
            return "current"
        return "data"

    # The crash itself.
    def power_loss(
        self, root: Path, revert: Callable[[_DirOp], bool], damage: Callable[[Path], tuple[str, int]]
    ) -> list[str]:
        """Undo unsynced directory changes (newest first) where ``revert(op)``, then damage unsynced files.

        ``damage(path)`` returns a mode from ``DAMAGES`` and a number used as the bit offset for
        "flip". Returns a description of what was done (for failure messages).
        """
        done: list[str] = []
        for op in reversed(self.pending):
            if revert(op):
                what = _revert(root, op)
                if what:
                    done.append(what)
        where = _inode_paths(root)
        for ino, written_as in self.dirty.items():
            path = where.get(ino)
            if path is None or not path.is_file():
                continue
            mode, number = damage(path)
            _damage(path, mode, number)
            done.append(f"{mode} {path.relative_to(root)} (written as {written_as.name})")
        self.dead = True
        return done


def _ino(path: Path) -> int:
    return _REAL_OS.lstat(path).st_ino


def _inode_paths(root: Path) -> dict[int, Path]:
    found = {_ino(root): root}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            with contextlib.suppress(FileNotFoundError):
                found[_ino(path)] = path
    return found


def _revert(root: Path, op: _DirOp) -> str | None:
    """Undo one directory change on disk, if it still applies; describe it."""
    where = _inode_paths(root)
    dst_dir = where.get(op.dst[0])
    if dst_dir is None:
        return None
    dst = dst_dir / op.dst[1]
    if (not dst.exists() and not dst.is_symlink()) or _ino(dst) != op.ino:
        return None
    if op.kind == "create":
        dst.unlink()
        return f"unmade create of {dst.relative_to(root)}"
    if op.kind == "mkdir":
        shutil.rmtree(dst)
        return f"unmade mkdir of {dst.relative_to(root)}"
    assert op.src is not None
    src_dir = where.get(op.src[0])
    if src_dir is None or (src_dir / op.src[1]).exists():
        return None
    _REAL_OS.rename(dst, src_dir / op.src[1])
    if op.replaced is not None:
        dst.write_bytes(op.replaced)
    return f"unmade rename {op.src[1]} -> {dst.relative_to(root)}"


def _damage(path: Path, mode: str, number: int) -> None:
    size = path.stat().st_size
    if mode == "delete":
        path.unlink()
    elif mode == "zero":
        path.write_bytes(bytes(size))
    elif mode == "half":
        os.truncate(path, size // 2)
    elif mode == "empty":
        os.truncate(path, 0)
    elif mode == "flip" and size:
        data = bytearray(path.read_bytes())
        bit = number % (size * 8)
        data[bit // 8] ^= 1 << (bit % 8)
        path.write_bytes(bytes(data))
