"""The one settings object, read once from the environment and ``.env`` (documented in .env.example)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


def _cache_home() -> Path:
    """``$XDG_CACHE_HOME``, or ``~/.cache`` as the XDG base directory specification says."""
    configured = os.environ.get("XDG_CACHE_HOME")
    return Path(configured) if configured else Path.home() / ".cache"


class Settings(BaseSettings):
    """Every knob of the bot and the console; each has a safe default except the token."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    discord_token: SecretStr | None = Field(default=None, description="Bot token; unset opens the console.")
    dev_guild_id: int | None = Field(default=None, description="Sync commands to this guild instantly.")
    index_dir: Path = Field(default=ROOT / ".index", description="Where the index generations live.")
    sources: Annotated[list[Path], NoDecode] = Field(
        default_factory=lambda: [ROOT / "article.txt"],
        description="Comma-separated files indexed by default and by /reindex without attachment.",
    )
    results: int = Field(default=3, ge=1, le=5, description="Passages per answer.")
    cooldown_seconds: float = Field(default=10.0, ge=0, description="Per-user window for COOLDOWN_RATE asks.")
    cooldown_rate: int = Field(default=3, ge=1, description="Asks allowed per user per window.")
    reindex_role: str | None = Field(default=None, description="Role name that may /reindex besides Manage Server.")
    max_document_mb: float = Field(default=16.0, gt=0, description="Largest source file reindex accepts, in MiB.")
    max_attachment_bytes: int = Field(default=2_000_000, ge=1, description="Largest /reindex attachment.")
    max_concurrent_answers: int = Field(default=64, ge=1, description="Answers in flight before 'busy'.")
    semantic_search: bool = Field(
        default=True, description="Blend BM25 with sentence embeddings for indexes of up to 1,000 passages."
    )
    embedding_cache_dir: Path | None = Field(
        default_factory=lambda: _cache_home() / "article-qa-bot" / "embeddings",
        description="Where passage embeddings are kept between builds (rebuilding unchanged text is free).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    shard_count: int | None = Field(default=None, ge=1, description="Total shards; unset: one, or auto.")
    shard_ids: Annotated[list[int] | None, NoDecode] = Field(
        default=None, description="Comma-separated shard ids this process runs (needs SHARD_COUNT)."
    )
    auto_shard: bool = Field(default=False, description="Use AutoShardedBot and Discord's shard count.")

    @field_validator("sources", mode="before")
    @classmethod
    def _split_sources(cls, value: object) -> object:
        """Accept ``a.txt,b.md`` from the environment; relative paths are from the checkout."""
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            return [p if Path(p).is_absolute() else ROOT / p for p in value]
        return value

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """Accept ``0,1`` from the environment."""
        if isinstance(value, str):
            return [int(part) for part in value.split(",") if part.strip()] or None
        return value

    @field_validator("index_dir", mode="after")
    @classmethod
    def _anchor_index_dir(cls, value: Path) -> Path:
        """A relative index directory is taken from the checkout, not from wherever it is run."""
        return value if value.is_absolute() else ROOT / value
