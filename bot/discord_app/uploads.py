"""Checks and storage for a /reindex attachment: type, size, encoding and a safe file name.

Everything here is plain Python on bytes and strings so it is tested without Discord; the cog
only downloads the attachment and calls these.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from pathlib import Path

ALLOWED_SUFFIXES = (".txt", ".md")
NAME_MAX = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UploadError(ValueError):
    """An attachment we will not index; ``str(err)`` is the polite message for the moderator."""


def safe_basename(filename: str) -> str:
    """A file name that cannot leave the uploads folder or surprise a shell: ``[A-Za-z0-9._-]``."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = _UNSAFE.sub("", suffix).lower()[:10]
    stem = _UNSAFE.sub("_", stem).strip("._-")[: NAME_MAX - len(suffix) - 1].strip("._-") or "upload"
    return f"{stem}.{suffix}" if suffix else stem


def check_attachment(filename: str, size: int, max_bytes: int) -> str:
    """The sanitised name if the attachment may be indexed; raise ``UploadError`` otherwise."""
    name = safe_basename(filename)
    if not name.lower().endswith(ALLOWED_SUFFIXES):
        raise UploadError("Attach a plain-text `.txt` or Markdown `.md` file.")
    if size <= 0:
        raise UploadError("That file is empty.")
    if size > max_bytes:
        raise UploadError(f"That file is {size:,} bytes; the limit is {max_bytes:,} bytes.")
    return name


def decode_upload(data: bytes, max_bytes: int) -> str:
    """The attachment's text; raise ``UploadError`` if it is too big, binary or not UTF-8."""
    if len(data) > max_bytes:
        raise UploadError(f"That file is {len(data):,} bytes; the limit is {max_bytes:,} bytes.")
    if b"\x00" in data:
        raise UploadError("That file looks binary, not text.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UploadError(f"That file is not UTF-8 text (bad byte at position {err.start}).") from None
    if not text.strip():
        raise UploadError("That file has no text in it.")
    return text


def save_upload(folder: Path, name: str, data: bytes) -> Path:
    """Write the bytes to ``folder/name`` atomically (temp file, fsync, replace) and return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / safe_basename(name)
    if target.resolve().parent != folder.resolve():
        raise UploadError("That file name is not allowed.")
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target
