"""Reading sources: exactly what open(path, encoding="utf-8") gives, and clear refusals."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from index.documents import read_document
from index.errors import DocumentError


def test_article_is_read_byte_for_byte_like_python_text_mode(article_text: str) -> None:
    from tests.conftest import ARTICLE

    document = read_document(ARTICLE)
    assert document.text == article_text
    assert (
        document.title == "U.S.-backed truce between Armenia, Azerbaijan crumbles as Nagorno-Karabakh fighting resumes"
    )
    assert ("Posted", "October 26, 2020") in document.metadata
    assert ("Last Updated", "October 26, 2020") in document.metadata


def test_bom_and_crlf_are_read_as_text_mode_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "crlf.txt"
    path.write_bytes("\ufeffTitle here\r\n\r\nFirst \u201cquoted\u201d\u00a0text.\rSecond line.\r\n".encode())
    document = read_document(path)
    with open(path, encoding="utf-8") as handle:
        assert document.text == handle.read()
    assert document.title == "Title here"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.txt", b" \n\n\t\n", "empty"),
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary"),
        ("latin1.txt", "caf\u00e9 na\u00efve".encode("latin-1"), "not valid UTF-8"),
    ],
    ids=["empty", "whitespace-only", "binary", "invalid-utf8"],
)
def test_unusable_files_are_refused_with_a_reason(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=message):
        read_document(path)


def test_missing_file_and_directory_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="no such file"):
        read_document(tmp_path / "nope.txt")
    with pytest.raises(DocumentError, match="is a directory"):
        read_document(tmp_path)


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(DocumentError, match="not a regular file"):
        read_document(fifo)


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    with open(path, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    with pytest.raises(DocumentError, match=r"over the 16\.8 MB limit"):
        read_document(path)
