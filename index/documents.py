"""Read source files into ``Document``s exactly as ``open(path, encoding="utf-8")`` would.

Offsets in citations index that text, so reading must match it byte for byte: strict UTF-8,
universal newlines (CRLF and CR become LF), a BOM kept as the first character.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from pathlib import Path

from .errors import DocumentError
from .types import Document

ALLOWED_SUFFIXES = (".txt", ".md", ".text", ".markdown")
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
_META = re.compile(
    r"^\s*(Posted|Published|Last Updated|Updated|Date|By|Author|Source|URL)\s*:\s*(\S.*?)\s*$",
    re.IGNORECASE,
)
_URL = re.compile(r"https?://\S+")
_META_SCAN_LINES = 12


def read_document(path: Path, max_bytes: int = DEFAULT_MAX_BYTES, source: str | None = None) -> Document:
    """Read and check one source file; raise ``DocumentError`` with a fix for anything unusable."""
    raw = _read_bytes(path, max_bytes)
    return parse_document(raw, source or display_name(path.name))


def display_name(name: str) -> str:
    """A file name as valid Unicode for citations: bytes that are not UTF-8 show as U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def parse_document(raw: bytes, source: str) -> Document:
    """Decode bytes the way Python's text mode does and pull out the title and metadata."""
    if b"\x00" in raw[:65536]:
        raise DocumentError(f"{source} looks like a binary file (it contains NUL bytes); give a UTF-8 text file.")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DocumentError(
            f"{source} is not valid UTF-8 (byte {err.start}: {raw[err.start : err.start + 1]!r}); "
            "save it as UTF-8 and try again."
        ) from None
    text = decoded.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip(" \t\n\ufeff\u00a0\u200b"):
        raise DocumentError(f"{source} is empty; there is nothing to index.")
    metadata = _metadata(text)
    return Document(
        source=source,
        title=_title(text),
        text=text,
        sha256=hashlib.sha256(raw).hexdigest(),
        metadata=metadata,
        url=_url(metadata),
    )


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """Refuse what is not a regular, readable, reasonably sized file on disk, without ever blocking.

    The checks are made on the open descriptor (no swap between check and open can get past
    them): opened without following a final symlink and without blocking (a FIFO would wait for
    a writer for ever), then it must be a regular file no bigger than ``max_bytes``, and exactly
    as many bytes as ``stat`` promised must be read. That last rule refuses files that change
    while being read and the pseudo-files of /proc and /sys (size 0 or 4096, other content):
    ``/proc/self/environ`` would otherwise index the bot's own environment, token included.
    """
    name = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise DocumentError(f"{name}: no such file.") from None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise DocumentError(f"{name} is a symbolic link; give the file it points to.") from None
        raise DocumentError(f"{name}: cannot read it ({err.strerror}).") from None
    except ValueError:
        raise DocumentError(f"{name!r} is not a usable file name.") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise DocumentError(f"{name} is a directory; name the text files inside it instead.")
        raise DocumentError(f"{name} is not a regular file (a device, pipe or socket); give a text file.")
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > max_bytes:
            raise DocumentError(
                f"{name} is {info.st_size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit; "
                "split it or raise the limit (--max-mb / MAX_DOCUMENT_MB)."
            )
        try:
            raw = handle.read(max_bytes + 1)
        except OSError as err:
            raise DocumentError(f"{name}: cannot read it ({err.strerror}).") from None
    if len(raw) > max_bytes:
        raise DocumentError(f"{name} grew past the {max_bytes / 1e6:.1f} MB limit while being read.")
    if len(raw) != info.st_size:
        raise DocumentError(
            f"{name} changed size while being read, or is not a file on disk (such as /proc files); "
            "give a finished text file."
        )
    return raw


def _title(text: str) -> str | None:
    """The first non-blank line, without markdown heading marks or a BOM."""
    for line in text.split("\n", 40)[:40]:
        clean = line.strip().lstrip("\ufeff").lstrip("#").strip()
        if clean:
            return clean[:300]
    return None


def _metadata(text: str) -> tuple[tuple[str, str], ...]:
    """``Key: value`` lines near the top, such as ``Posted: October 26, 2020``."""
    found: list[tuple[str, str]] = []
    for line in text.split("\n", _META_SCAN_LINES)[:_META_SCAN_LINES]:
        match = _META.match(line)
        if match:
            found.append((match.group(1).title(), match.group(2)))
    return tuple(found)


def _url(metadata: tuple[tuple[str, str], ...]) -> str | None:
    """The document's own address when its metadata gives one."""
    for key, value in metadata:
        match = _URL.search(value)
        if key in ("Url", "Source") and match:
            return match.group(0)
    return None
