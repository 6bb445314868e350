"""Read source files into ``Document``s exactly as ``open(path, encoding="utf-8")`` would.

Offsets in citations index that text, so reading must match it byte for byte: strict UTF-8,
universal newlines (CRLF and CR become LF), a BOM kept as the first character.
"""

from __future__ import annotations

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
    return parse_document(raw, source or path.name)


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
    """Refuse what is not a regular, readable, reasonably sized file before opening it."""
    name = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DocumentError(f"{name}: no such file.") from None
    except OSError as err:
        raise DocumentError(f"{name}: cannot read it ({err.strerror}).") from None
    if stat.S_ISDIR(info.st_mode):
        raise DocumentError(f"{name} is a directory; name the text files inside it instead.")
    if not stat.S_ISREG(info.st_mode):
        raise DocumentError(f"{name} is not a regular file (a device, pipe or socket); give a text file.")
    if info.st_size > max_bytes:
        raise DocumentError(
            f"{name} is {info.st_size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit; "
            "split it or raise the limit (--max-mb / MAX_DOCUMENT_MB)."
        )
    try:
        with open(path, "rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as err:
        raise DocumentError(f"{name}: cannot read it ({err.strerror}).") from None
    if len(raw) > max_bytes:
        raise DocumentError(f"{name} grew past the {max_bytes / 1e6:.1f} MB limit while being read.")
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
