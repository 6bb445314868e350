"""Guards on the shape of the code: the engine stays independent of Discord and of the environment."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

ENGINE_FILES = sorted((ROOT / "index").glob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: p.name)
def test_engine_never_imports_discord_or_pickle(path: Path) -> None:
    assert not _imports(path) & {"discord", "pickle", "joblib", "bot"}


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: p.name)
def test_engine_never_reads_the_environment(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert "os.environ" not in source and "getenv" not in source


def test_arrays_are_never_loaded_with_pickle() -> None:
    for path in ENGINE_FILES:
        source = path.read_text(encoding="utf-8")
        assert "allow_pickle=True" not in source


def test_article_is_the_shared_original_byte_for_byte() -> None:
    original = ROOT.parent / "shared" / "article.txt"
    assert original.exists(), "../shared/article.txt must be beside the checkout"
    assert (ROOT / "article.txt").read_bytes() == original.read_bytes()
