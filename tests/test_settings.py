"""The one settings object: read from the environment and .env, typed, the token kept secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import ROOT, Settings


def test_defaults_are_safe_and_point_at_the_bundled_article() -> None:
    settings = Settings()
    assert settings.discord_token is None
    assert settings.sources == [ROOT / "article.txt"]
    assert settings.index_dir == ROOT / ".index"
    assert settings.results == 3 and settings.log_level == "INFO"


def test_environment_values_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES", "a.txt, /abs/b.md")
    monkeypatch.setenv("SHARD_IDS", "0,2")
    monkeypatch.setenv("DEV_GUILD_ID", "123")
    settings = Settings()
    assert settings.sources == [ROOT / "a.txt", Path("/abs/b.md")]
    assert settings.shard_ids == [0, 2] and settings.dev_guild_id == 123


def test_dotenv_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DISCORD_TOKEN=abc.def.ghi\nRESULTS=5\n", encoding="utf-8")
    settings = Settings()
    assert settings.discord_token is not None
    assert settings.discord_token.get_secret_value() == "abc.def.ghi"
    assert settings.results == 5


def test_token_never_shows_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "super-secret-token")
    settings = Settings()
    assert "super-secret-token" not in repr(settings) and "super-secret-token" not in str(settings.model_dump())


def test_out_of_range_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESULTS", "9")
    with pytest.raises(ValidationError):
        Settings()


def test_env_example_documents_every_setting() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"{name.upper()}=" in example, f"{name.upper()} is missing from .env.example"


def test_env_example_copied_verbatim_gives_the_defaults(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text(encoding="utf-8"), encoding="utf-8")
    settings = Settings()
    assert settings.discord_token is None and settings.dev_guild_id is None and settings.shard_ids is None
    assert settings.sources == [ROOT / "article.txt"]
