"""pytest plugin: ``fake_discord`` and ``start_bot`` fixtures.

Load it with ``pytest_plugins = ["tests.fakediscord.fixtures"]`` in the root conftest.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from .harness import FakeDiscord
from .process import BotProcess

ROOT = Path(__file__).resolve().parents[2]
RUN_BOT = (sys.executable, str(ROOT / "run_bot.py"))

StartBot = Callable[..., BotProcess]


@pytest.fixture
def fake_discord(request: pytest.FixtureRequest) -> Iterator[FakeDiscord]:
    """A started FakeDiscord, stopped after the test.

    Options go through indirect parametrisation, e.g.
    ``@pytest.mark.parametrize("fake_discord", [{"shards": 2}], indirect=True)``.
    """
    options = dict(getattr(request, "param", None) or {})
    with FakeDiscord(**options) as fake:
        yield fake


def _report(request: pytest.FixtureRequest, procs: Sequence[BotProcess]) -> None:
    """Attach each bot's output to the test report (pytest shows it on failure)."""
    for proc in procs:
        request.node.add_report_section("teardown", f"{proc.name} output", proc.output())


@pytest.fixture
def start_bot(fake_discord: FakeDiscord, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[StartBot]:
    """A factory that starts a bot subprocess against ``fake_discord``.

    ``start_bot(args=RUN_BOT, *, env=None, cwd=None, name="bot")`` returns a running
    BotProcess whose stdout/stderr go to files under ``tmp_path``; ``env`` entries are added
    to ``fake_discord.env()``; ``cwd=None`` keeps the test's working directory (so a
    developer's ``.env`` in the checkout is not read). Waits on the fake fail fast if the bot dies. Every bot is
    stopped (SIGTERM, then SIGKILL) at teardown and its output attached to the report.
    """
    procs: list[BotProcess] = []

    def start(
        args: Sequence[str] = RUN_BOT,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        name: str = "bot",
    ) -> BotProcess:
        unique = name if all(p.name != name for p in procs) else f"{name}-{len(procs)}"
        proc = fake_discord.start_bot(
            args, env=fake_discord.env(**dict(env or {})), cwd=cwd, log_dir=tmp_path, name=unique
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        fake_discord.unwatch(proc)
        proc.stop()
    _report(request, procs)
