"""Shared fixtures: the real article, a small three-paragraph article, built indexes in tmp_path."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import Settings
from index import Document, Engine, EngineConfig
from index.snapshot import IndexParams, Snapshot, build_files, load
from index.store import Store

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "article.txt"
SETTING_NAMES = frozenset(name.upper() for name in Settings.model_fields)  # environment variables of settings
SMALL_ARTICLE = """Lighthouse keepers vote to strike

Posted: March 3, 2024

The keepers of the northern lighthouses voted on Tuesday to strike over pay, their union said.
About 120 keepers took part.

"We have kept the lamps lit for forty years," said union leader Mara Quill.

The strike will begin on April 1 unless the ministry of transport makes a new offer.
"""


def stored_snapshot(
    documents: list[Document], folder: Path, params: IndexParams | None = None, paths: list[str | None] | None = None
) -> Snapshot:
    """Documents indexed, committed and loaded as the engine does it, for tests that need a ``Snapshot``."""
    files, manifest = build_files(documents, paths or [None] * len(documents), params or EngineConfig().index_params)
    return load(Store(folder).commit(files, manifest))


@pytest.fixture(scope="session", autouse=True)
def _session_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every process the tests start shares one embedding cache, away from the developer's ~/.cache.

    The first build of a text embeds it; the many crash, signal and fault runs that rebuild the
    same text then read the vectors back instead of spending a second per build on them.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache-home")))
        yield


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's environment or .env: settings come only from what the test sets."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def article_text() -> str:
    """article.txt exactly as ``open(path, encoding="utf-8")`` reads it: citations index this."""
    with open(ARTICLE, encoding="utf-8") as handle:
        return handle.read()


@pytest.fixture(scope="session")
def article_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """One engine over the bundled article, built once for the read-only tests."""
    return Engine.open(tmp_path_factory.mktemp("article-index"), [ARTICLE])


@pytest.fixture
def small_article(tmp_path: Path) -> Path:
    path = tmp_path / "lighthouse.txt"
    path.write_text(SMALL_ARTICLE, encoding="utf-8")
    return path


def run_cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python run_bot.py ARGS`` as a user would, in a clean environment."""
    base = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    base.update({"PYTHONIOENCODING": "utf-8", "COLUMNS": "100"})
    return subprocess.run(
        [sys.executable, str(ROOT / "run_bot.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**base, **(env or {})},
        check=False,
    )


@pytest.fixture
def cli_index(tmp_path: Path) -> Iterator[Path]:
    """An index folder the CLI tests pass with --index."""
    yield tmp_path / "index"
