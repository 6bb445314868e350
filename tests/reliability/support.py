"""Shared by the reliability suites: an old and a new corpus, reference answers, helpers.

Every storage test reindexes from the OLD corpus to the NEW one and then requires the index to
answer *exactly* (the whole ``Answer.to_json()``) as an index built from scratch on one of them.
The two corpora are different files (and a different number of them) so a reopened engine never
sees a changed source and rebuilds by itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index import Engine
from index.store import TMP_PREFIX
from tests.conftest import ROOT, SETTING_NAMES

SLOW = os.environ.get("RUN_SLOW") == "1"
DRIVER = Path(__file__).with_name("driver.py")

OLD_TEXT = (
    "Harbour council approves new ferry timetable\n"
    "\n"
    "Posted: May 2, 2024\n"
    "\n"
    "The harbour council approved a new ferry timetable on Monday after a long debate about the winter "
    "crossings to Kestrel Island. Councillor Ines Varga said the early boat would leave at six o'clock "
    "from the north pier.\n"
    "\n"
    "Fares for the crossing will rise by ten percent in September, the council said, to pay for a second "
    "engine on the old ferry Marigold. Pensioners and schoolchildren will keep travelling free of charge "
    "all year.\n"
    "\n"
    "Fishermen complained that the new timetable leaves the north pier crowded in the mornings. The "
    "harbour master promised to mark a separate berth for the fishing fleet before the summer.\n"
)

NEW_TEXT = (
    "Observatory on Mount Tallis reopens after storm repairs\n"
    "\n"
    "Posted: June 9, 2024\n"
    "\n"
    "The observatory on Mount Tallis reopened on Saturday after eight months of repairs to its dome, "
    "which a winter storm had torn open. Director Oskar Lindqvist said the main telescope was undamaged.\n"
    "\n"
    "Visitors can book night tours again from July, and the planetarium will show a new film about comets"
    " narrated by the astronomer Priya Raman. Tickets cost twelve euros for adults.\n"
    "\n"
    "The repairs were paid for by the regional government and a crowdfunding campaign that raised forty "
    "thousand euros from stargazers in eleven countries.\n"
)

NEW_EXTRA = (
    "Kestrel Island ferry gets a second engine\n"
    "\n"
    "The ferry Marigold returned to service on Friday with a second engine, the harbour master said. "
    "Crossings to Kestrel Island now take twenty minutes instead of forty, and the early boat leaves the "
    "north pier at half past five.\n"
)

# Answered only by OLD, only by NEW, by both (differently), by neither.
QUESTIONS = (
    "When does the early boat leave the north pier?",
    "Who narrates the film about comets?",
    "How much money did the crowdfunding campaign raise?",
    "What did the fishermen complain about?",
    "What is the capital of France?",
)


@dataclass(frozen=True, slots=True)
class Corpus:
    old: tuple[Path, ...]
    new: tuple[Path, ...]


def write_corpus(folder: Path) -> Corpus:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"harbour.txt": OLD_TEXT, "observatory.txt": NEW_TEXT, "ferry.txt": NEW_EXTRA}
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return Corpus(old=(folder / "harbour.txt",), new=(folder / "observatory.txt", folder / "ferry.txt"))


def answers(engine: Engine, questions: Sequence[str] = QUESTIONS) -> list[dict[str, Any]]:
    """The full JSON answer to each question, as the CLI's ``ask --json`` prints it."""
    return [engine.ask(q).to_json() for q in questions]


@dataclass(frozen=True, slots=True)
class References:
    """What an index built from scratch on each corpus answers."""

    corpus: Corpus
    old: list[dict[str, Any]]
    new: list[dict[str, Any]]
    old_index: Path  # a pristine index holding two generations of the old corpus

    def which(self, got: list[dict[str, Any]]) -> str | None:
        """ "old", "new", or None when the answers match neither corpus exactly."""
        if got == self.old:
            return "old"
        if got == self.new:
            return "new"
        return None

    def fresh_old_index(self, target: Path) -> Path:
        """A copy of the pristine old index at ``target``."""
        shutil.copytree(self.old_index, target)
        return target


def build_references(folder: Path, corpus: Corpus | None = None) -> References:
    """Reference answers for both corpora, and a pristine two-generation index of the old one."""
    corpus = corpus or write_corpus(folder / "corpus")
    old_engine = Engine.open(folder / "old-index", corpus.old)
    old_engine.reindex(corpus.old)  # two generations, so a commit also removes one (garbage collection)
    new_engine = Engine.open(folder / "new-index", corpus.new)
    refs = References(corpus, answers(old_engine), answers(new_engine), folder / "old-index")
    assert refs.old != refs.new
    return refs


def stale_entries(root: Path) -> list[str]:
    """Temporary folders and files the writer left behind."""
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if p.name.startswith(TMP_PREFIX))


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES and k != "RUN_SLOW"}
    env.update({"PYTHONIOENCODING": "utf-8", "PYTHONPATH": str(ROOT), **extra})
    return env


def run_driver(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python tests/reliability/driver.py ARGS`` in a fresh process."""
    return subprocess.run(
        [sys.executable, str(DRIVER), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_env(),
        cwd=ROOT,
        check=False,
    )


def served(index: Path, questions: Sequence[str] = QUESTIONS) -> dict[str, Any]:
    """Open ``index`` in a fresh process with no sources and answer ``questions``: what a restart serves.

    The result has ``generation`` and ``answers`` (or ``error`` and ``message``), plus ``stale``
    (temporary entries in the folder) and ``generations`` (generation folders, newest first).
    """
    return check_and_recover(index, (), questions)[0]


def check_and_recover(
    index: Path, recover_with: Sequence[Path], questions: Sequence[str] = QUESTIONS
) -> list[dict[str, Any]]:
    """What a restart serves, then (with ``recover_with``) what it serves after a normal reindex."""
    args = ["check", "--index", str(index), "--questions", json.dumps(list(questions))]
    if recover_with:
        args += ["--then-reindex", *map(str, recover_with)]
    result = run_driver(*args)
    assert result.returncode == 0, result.stderr
    assert not has_traceback(result.stderr), result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def has_traceback(text: str) -> bool:
    return "Traceback (most recent call last)" in text


# ---- the bot against the fake Discord -----------------------------------------------------------

SITE = Path(__file__).with_name("site")  # sitecustomize: the fake's redirection plus a loop-lag probe


def bot_env(fake: Any, index_dir: Path, sources: Sequence[Path], **extra: str) -> dict[str, str]:
    """Environment for ``run_bot.py`` against ``fake``: settings only from here, the probe site first."""
    base = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES and k != "RUN_SLOW"}
    settings = {
        "INDEX_DIR": str(index_dir),
        "SOURCES": ",".join(map(str, sources)),
        "DEV_GUILD_ID": str(fake_payloads().GUILD_ID),
        "LOG_LEVEL": "INFO",
    }
    env = fake.env(base, **{**settings, **extra})
    env["PYTHONPATH"] = os.pathsep.join([str(SITE), env["PYTHONPATH"]])
    return env


def fake_payloads() -> Any:
    from tests.fakediscord import payloads

    return payloads


def launch_bot(fake: Any, workdir: Path, name: str, sources: Sequence[Path], **extra: str) -> Any:
    """Start ``python run_bot.py`` in ``workdir`` against ``fake`` and wait until it is ready."""
    from tests.fakediscord import route

    index_dir = Path(extra.pop("INDEX_DIR", str(workdir / "index")))
    since_gateway, since_request = fake.gateway_count, fake.request_count
    env = bot_env(fake, index_dir, sources, **extra)
    proc = fake.start_bot([sys.executable, str(ROOT / "run_bot.py")], env=env, cwd=workdir, log_dir=workdir, name=name)
    fake.wait_ready(timeout=60, since=since_gateway)
    fake.wait_for_request(route("PUT", r"/guilds/\d+/commands$"), timeout=60, since=since_request)
    return proc


@contextlib.contextmanager
def running_bot(fake: Any, workdir: Path, name: str, sources: Sequence[Path], **extra: str) -> Iterator[Any]:
    """``launch_bot``, then stop watching and stop the bot (SIGTERM, then SIGKILL) however the block ends."""
    bot = launch_bot(fake, workdir, name, sources, **extra)
    try:
        yield bot
    finally:
        fake.unwatch(bot)
        bot.stop()


def terminate_timed(bot: Any, timeout: float = 15) -> tuple[int, float]:
    """SIGTERM the bot and wait for it: its exit code and how long it took to exit."""
    began = time.monotonic()
    code = bot.terminate(timeout=timeout)
    return code, time.monotonic() - began
