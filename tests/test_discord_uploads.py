"""/reindex attachments: only UTF-8 .txt/.md within the size cap, saved under a safe name."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.discord_app.uploads import UploadError, check_attachment, decode_upload, safe_basename, save_upload


@pytest.mark.parametrize(
    ("given_name", "safe"),
    [
        ("article.txt", "article.txt"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\boot.ini.md", "boot.ini.md"),
        ("Light house (v2).TXT", "Light_house_v2.txt"),
        ("naïve café.md", "naive_cafe.md"),
        (".hidden.txt", "hidden.txt"),
        ("$(rm -rf ~).txt", "rm_-rf.txt"),
        ("..txt", "upload.txt"),
        ("   ", "upload"),
    ],
    ids=["plain", "traversal", "windows-traversal", "spaces", "accents", "dotfile", "shell", "only-dots", "blank"],
)
def test_file_names_are_sanitised(given_name: str, safe: str) -> None:
    assert safe_basename(given_name) == safe


@given(st.text())
def test_a_sanitised_name_is_always_a_plain_basename(name: str) -> None:
    safe = safe_basename(name)
    assert safe and "/" not in safe and "\\" not in safe
    assert not safe.startswith(".") and safe not in (".", "..")
    assert len(safe) <= 80
    assert all(ch.isascii() and (ch.isalnum() or ch in "._-") for ch in safe)


@pytest.mark.parametrize("name", ["notes.pdf", "script.py", "archive.txt.exe", "README"], ids=str)
def test_only_text_and_markdown_files_are_accepted(name: str) -> None:
    with pytest.raises(UploadError, match=r"\.txt"):
        check_attachment(name, 10, 1000)


def test_a_file_over_the_cap_is_refused_before_download() -> None:
    with pytest.raises(UploadError, match="2,001 bytes; the limit is 2,000"):
        check_attachment("big.txt", 2001, 2000)


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(UploadError, match="empty"):
        check_attachment("empty.md", 0, 2000)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe\x00h\x00i", "binary"),
        (b"caf\xe9 au lait", "not UTF-8"),
        (b"   \n\t  ", "no text"),
        (b"x" * 3000, "limit"),
    ],
    ids=["binary", "latin-1", "blank", "too-big-after-download"],
)
def test_contents_that_cannot_be_indexed_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(UploadError, match=message):
        decode_upload(data, 2000)


def test_utf8_with_a_byte_order_mark_decodes() -> None:
    assert decode_upload("\ufeffHello".encode(), 100) == "Hello"


def test_saving_writes_atomically_inside_the_uploads_folder(tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    path = save_upload(folder, "../escape.txt", b"text")
    assert path == folder / "escape.txt"
    assert path.read_bytes() == b"text"
    assert [p.name for p in folder.iterdir()] == ["escape.txt"], "no temporary file left behind"
