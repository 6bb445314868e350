"""A12/A10/A1 shutdown and restarts (promises 1 and 9): SIGTERM finishes or rolls back, then exits.

* The CLI (``run_bot.py reindex``) held at every step of the write protocol: SIGTERM rolls the
  reindex back (the old index serves, nothing left behind) and exits 143 within 10 s; once the
  new generation is committed (garbage collection), the new one stays.
* The real CLI, SIGTERMed at several points of a long reindex: exit 0 or 143, old or new index.
* The bot, SIGTERMed during a /reindex and during a burst of 200 questions: exit 0 within 10 s,
  the index old or new, nothing left behind; the moderator's "thinking…" gets its answer; the
  burst drains: answers in flight finish, later ones are told "restarting" or never started, and
  nothing is cut off mid-answer or logs a traceback.
* Repeated login failures (Discord answering 502) are retried with growing delays, not hammered.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from index import snapshot as snap
from index.store import Store
from tests.conftest import ROOT
from tests.fakediscord import FakeDiscord, InteractionHandle, InteractionResult, route
from tests.fakediscord import payloads as p

from .support import (
    DRIVER,
    NEW_TEXT,
    OLD_TEXT,
    References,
    build_references,
    clean_env,
    running_bot,
    served,
    stale_entries,
    terminate_timed,
)

PAUSE_POINTS = (
    "after_write:documents.json",
    "before_manifest",
    "mid_write:manifest.json",
    "after_manifest",
    "after_rename_generation",
    "before_current_replace",
    "before_current_fsync",
    "after_current_replace",
    "mid_rmtree",  # garbage collection: the new generation is already committed
)


@pytest.fixture(scope="module")
def refs(tmp_path_factory: pytest.TempPathFactory) -> References:
    return build_references(tmp_path_factory.mktemp("a12-refs"))


def sigterm_at(refs: References, point: str, folder: Path) -> str | None:
    """Hold a CLI-style reindex at ``point``, SIGTERM it, check the outcome; a problem or None."""
    root = refs.fresh_old_index(folder / "index")
    proc = subprocess.Popen(
        [sys.executable, str(DRIVER), "reindex", "--index", str(root), "--pause-at", point, *map(str, refs.corpus.new)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != f"paused at {point}":
        proc.kill()
        return f"{point}: never paused there ({line!r}): {proc.communicate()[1][-1500:]}"
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=15)
    took = time.monotonic() - began
    if proc.returncode != 143 or took > 10 or "Traceback" in err:
        return f"{point}: exit {proc.returncode} after {took:.1f}s: {err[-1500:]}"
    want = "new" if point == "mid_rmtree" else "old"
    state = served(root)
    if refs.which(state.get("answers", [])) != want or state["stale"]:
        return f"{point}: after SIGTERM the index serves {refs.which(state.get('answers', []))}, left {state['stale']}"
    return None


def test_sigterm_at_each_step_rolls_back_and_exits(refs: References, tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        problems = list(pool.map(lambda ip: sigterm_at(refs, ip[1], tmp_path / str(ip[0])), enumerate(PAUSE_POINTS)))
    assert [p for p in problems if p] == []


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _served_shas(index: Path) -> set[str]:
    """The documents (by content hash) of the generation a restart would serve, without rebuilding it."""
    snapshot = Store(index).load_latest(snap.load)
    return {d.sha256 for d in snapshot.documents}


def _long_article(text: str, copies: int) -> str:
    title, _, body = text.partition("\n\n")
    return title + "\n\n" + "\n\n".join(f"Part {i}.\n\n{body.strip()}" for i in range(copies)) + "\n"


def _handles_sigterm(pid: int) -> bool:
    """Whether the process has a SIGTERM handler installed (the caught-signals mask in /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(caught & (1 << (signal.SIGTERM - 1)))


def _start_cli(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """Start the CLI and wait until it handles SIGTERM (what the test observes, not a guess)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 15
    while not _handles_sigterm(proc.pid):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            err = proc.communicate()[1]
            raise AssertionError(f"the CLI never installed a SIGTERM handler: {err[-2000:]}")
        time.sleep(0.005)
    return proc


def test_real_cli_reindex_sigterm_anywhere(refs: References, tmp_path: Path) -> None:
    """``run_bot.py reindex`` SIGTERMed at several moments of a long reindex: 143 (or 0 when done), old or new."""
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text(_long_article(OLD_TEXT, 300), encoding="utf-8")
    new.write_text(_long_article(NEW_TEXT, 3000), encoding="utf-8")
    cli = [sys.executable, str(ROOT / "run_bot.py"), "reindex"]
    env = {**clean_env(), "LOG_LEVEL": "WARNING"}
    template = tmp_path / "template"
    subprocess.run([*cli, str(old), "--index", str(template)], env=env, check=True, capture_output=True, timeout=120)
    timing = _start_cli([*cli, str(new), "--index", str(tmp_path / "timing")], env)
    began = time.monotonic()
    timing.communicate(timeout=120)
    full = time.monotonic() - began
    assert timing.returncode == 0
    outcomes = []
    for n, fraction in enumerate((0.0, 0.3, 0.6, 0.9)):
        root = tmp_path / f"run{n}"
        shutil.copytree(template, root)
        proc = _start_cli([*cli, str(new), "--index", str(root)], env)
        time.sleep(full * fraction)  # where the signal lands is the test's variable, not a synchronisation
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert time.monotonic() - sent < 10
        assert "Traceback" not in err, err
        shas = _served_shas(root)
        assert shas in ({_sha(old.read_text(encoding="utf-8"))}, {_sha(new.read_text(encoding="utf-8"))})
        assert stale_entries(root) == []
        # 143: stopped and rolled back; 0: finished first; -15: the signal landed after the work was
        # done, while the interpreter was exiting (Python restores default handlers then).
        finished = shas == {_sha(new.read_text(encoding="utf-8"))}
        assert proc.returncode == 143 or (proc.returncode in (0, -signal.SIGTERM) and finished), (
            proc.returncode,
            err[-2000:],
        )
        outcomes.append(proc.returncode)
    assert 143 in outcomes, "no SIGTERM landed during the reindex"
    print(f"reindex of {full:.2f}s SIGTERMed at 0/30/60/90%: exit codes {outcomes}")


FINISHED_COMMAND = """
import threading
from bot.cli import friendly, handle_sigterm

handle_sigterm()
worker = threading.Thread(target=threading.Event().wait, args=(5,))  # a pool worker still running

@friendly
def command():
    worker.start()

command()
print("done", flush=True)  # the command is over; the interpreter now waits for the worker
"""


def test_sigterm_after_the_command_ends_kills_quietly_while_threads_are_joined() -> None:
    """Once the work is done a SIGTERM just ends the process: no "Exception ignored" traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-c", FINISHED_COMMAND],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "done\n"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGTERM, err
    assert "Traceback" not in err, err


# ---- the bot ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDiscord]:
    with FakeDiscord() as server:
        yield server


def test_bot_sigterm_during_a_reindex_finishes_it_and_exits_zero(fake: FakeDiscord, tmp_path: Path) -> None:
    """SIGTERM while /reindex builds in its worker thread: the build finishes (or never started), exit 0 in 10 s."""
    import psutil

    source = tmp_path / "article.txt"
    old_text, new_text = _long_article(OLD_TEXT, 200), _long_article(NEW_TEXT, 10_000)
    source.write_text(old_text, encoding="utf-8")
    with running_bot(fake, tmp_path, "reindex-sigterm", [source]) as bot:
        source.write_text(new_text, encoding="utf-8")
        since = fake.request_count
        process = psutil.Process(bot.pid)
        busy_before = sum(process.cpu_times()[:2])
        handle = fake.interact(p.slash_command("reindex", {}, user=p.MODERATOR))
        fake.wait_for_request(route("POST", r"/interactions/\d+/[^/]+/callback$"), timeout=30, since=since)
        deadline = time.monotonic() + 30
        while sum(process.cpu_times()[:2]) - busy_before < 0.5:  # the build is using the CPU: it is running
            assert time.monotonic() < deadline, "the reindex never started"
            time.sleep(0.01)
        code, took = terminate_timed(bot)
    assert code == 0, bot.output()[-3000:]
    assert took < 10, f"shutdown took {took:.1f}s"
    assert _served_shas(tmp_path / "index") in ({_sha(old_text)}, {_sha(new_text)})
    assert stale_entries(tmp_path / "index") == []
    result = handle.result()
    assert result.callback_type == p.CALLBACK_DEFERRED_CHANNEL_MESSAGE and not result.loading, (
        "the moderator's deferred 'thinking…' was never filled",
        bot.output()[-3000:],
    )
    told = _kind(result)
    assert told in ("answer", "still building", "stopped before"), result.messages
    print(f"SIGTERM during a /reindex: exit {code} after {took:.1f} s; the moderator was told: {told}")


def _kind(result: InteractionResult) -> str:
    """What an interaction finally got: an answer (embed), a polite refusal, an error, or nothing yet."""
    if result.callback_status is None:
        return "not started"
    if result.loading:
        return "cut off"  # deferred, never filled
    text = json.dumps(result.messages[-1] if result.messages else {}, ensure_ascii=False)
    for marker, kind in (
        ("answering a lot of questions", "busy"),
        ("restarting right now", "restarting"),
        ("had not finished yet", "still building"),
        ("stopped before rebuilding", "stopped before"),
    ):
        if marker in text:
            return kind
    return "answer" if '"embeds": [{' in text else f"other: {text[:200]}"


def _burst_then_sigterm(
    fake: FakeDiscord, tmp_path: Path, name: str
) -> tuple[int, float, str, list[InteractionHandle]]:
    source = tmp_path / "article.txt"
    source.write_text(_long_article(OLD_TEXT, 50), encoding="utf-8")
    handles = []
    with running_bot(fake, tmp_path, name, [source]) as bot:
        for i in range(200):
            handles.append(
                fake.interact(
                    p.slash_command(
                        "ask",
                        {"question": f"When does the early boat leave? {i}"},
                        user=p.user(p.new_snowflake(), f"u{i}"),
                    )
                )
            )
        code, took = terminate_timed(bot)
    return code, took, bot.output(), handles


def test_bot_sigterm_during_a_burst_exits_zero(fake: FakeDiscord, tmp_path: Path) -> None:
    code, took, output, _ = _burst_then_sigterm(fake, tmp_path, "burst-sigterm")
    assert code == 0, output[-3000:]
    assert took < 10, f"shutdown took {took:.1f}s"


def test_bot_sigterm_during_a_burst_drains_quietly(fake: FakeDiscord, tmp_path: Path) -> None:
    """In flight: finished. Arriving during the drain: "restarting" (or never started). Nothing cut off."""
    code, took, output, handles = _burst_then_sigterm(fake, tmp_path, "burst-drain")
    assert code == 0
    assert took < 10, f"shutdown took {took:.1f}s"
    assert output.count("Traceback") == 0, f"{output.count('Traceback')} tracebacks during shutdown"
    assert "unexpected error" not in output and "never retrieved" not in output, output[-3000:]
    kinds = [_kind(h.result()) for h in handles]
    tally = {kind: kinds.count(kind) for kind in sorted(set(kinds))}
    assert set(tally) <= {"answer", "busy", "restarting", "not started"}, tally
    assert tally.get("answer", 0) + tally.get("busy", 0) + tally.get("restarting", 0) > 0, tally
    print(f"burst of 200, SIGTERM: exit {code} after {took:.1f} s; {tally}")


class _CountingServer:
    """A TCP server on 127.0.0.1 that accepts each connection, counts it and drops it at once."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.times: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.times.append(time.monotonic())
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


def test_repeated_login_failures_back_off(fake: FakeDiscord, tmp_path: Path) -> None:
    """Discord dropping every connection: a handful of login attempts in 8 s, not a hammering loop."""
    from tests.fakediscord import BotProcess

    from .support import bot_env

    source = tmp_path / "article.txt"
    source.write_text(OLD_TEXT, encoding="utf-8")
    server = _CountingServer()
    env = bot_env(fake, tmp_path / "index", [source], FAKE_DISCORD_URL=server.url)
    proc = BotProcess(
        [sys.executable, str(ROOT / "run_bot.py")], env=env, cwd=tmp_path, log_dir=tmp_path, name="login-dropped"
    )
    proc.start()
    try:
        proc.wait_for_output(r"retrying in [\d.]+ s", timeout=30)
        first = server.times[0]
        deadline = first + 8
        while time.monotonic() < deadline and proc.alive():
            time.sleep(0.25)  # observing the connection rate over a fixed window
        times = [t for t in server.times if t <= deadline]
    finally:
        code = proc.terminate(timeout=10)
        server.close()
    # One login is up to two connections (aiohttp retries a dropped idempotent request once).
    attempts = 1 + sum(1 for a, b in itertools.pairwise(times) if b - a > 0.5)
    # Jittered exponential back-off from 2 s: attempts at 0, 1-2, 3-6, 7-14 s.
    assert attempts <= 4, f"{attempts} logins ({len(times)} connections) to Discord in 8 s: no back-off"
    assert code == 0, proc.output()[-2000:]
