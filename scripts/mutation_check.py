"""Mutation check: remove one safeguard at a time and show that a named test turns red.

    .venv/bin/python scripts/mutation_check.py            # every mutation
    .venv/bin/python scripts/mutation_check.py -k fsync   # the mutations whose name contains "fsync"
    .venv/bin/python scripts/mutation_check.py --list     # what would run

Each mutation is one exact text replacement in one file, applied to a temporary copy of the
repository (never to this checkout); then the named tests run in that copy. "caught" means
pytest reported a failing test (exit code 1); a mutation the tests pass is "MISSED", and the
script exits 1. First the named tests run once on an unmutated copy: they must pass there.
Prints a table and writes ``bench/results/mutation.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = {".venv", ".git", ".index", "__pycache__", ".mypy_cache", ".hypothesis", ".pytest_cache", ".ruff_cache"}
B3 = "tests/reliability/test_b3_power_loss.py::test_power_loss_at_every_step_worst_case"


@dataclass(frozen=True)
class Mutation:
    name: str  # the safeguard removed
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    also: tuple[tuple[str, str, str], ...] = ()  # further (path, old, new) edits of the same mutation


MUTATIONS = (
    # ---- the index write protocol (index/store.py) ----
    Mutation(
        "fsync of every file written (Fs.write)",
        "index/store.py",
        "                view = view[os.write(fd, view[:_CHUNK]) :]\n            os.fsync(fd)\n",
        "                view = view[os.write(fd, view[:_CHUNK]) :]\n",
        (B3,),
    ),
    Mutation(
        "fsync of the new generation's folder",
        "index/store.py",
        "        self.fs.fsync_dir(tmp)\n",
        "",
        (B3,),
    ),
    Mutation(
        "fsync of the index folder after the generation rename",
        "index/store.py",
        "            self.fs.replace(tmp, self.root / name)\n            self.fs.fsync_dir(self.root)\n",
        "            self.fs.replace(tmp, self.root / name)\n",
        (B3,),
    ),
    Mutation(
        "fsync of the index folder after the CURRENT swap",
        "index/store.py",
        '        self.fs.checkpoint("before_current_fsync")\n        self.fs.fsync_dir(self.root)\n',
        '        self.fs.checkpoint("before_current_fsync")\n',
        (B3,),
    ),
    Mutation(
        "CRC32 check of every index file",
        "index/store.py",
        '    if crc != meta.get("crc32"):',
        "    if False:",
        ("tests/reliability/test_b4_corruption.py::test_every_file_flipped_or_cut_is_detected",),
    ),
    Mutation(
        "the manifest's own checksum",
        "index/store.py",
        "    if not sealed:",
        "    if False:",
        ("tests/reliability/test_b4_corruption.py::test_manifest_every_byte_and_every_length",),
    ),
    Mutation(
        "fallback when CURRENT itself is damaged",
        "index/store.py",
        '            log.warning("%s; looking for the newest generation that verifies", err)\n'
        "            current = None\n",
        "            raise\n",
        ("tests/reliability/test_b4_corruption.py::test_current_every_byte_and_every_length",),
    ),
    Mutation(
        "fallback when a verified generation does not load (planted pickle)",
        "index/engine.py",
        "            loaded = store.load_latest(snap.load)\n        except IndexNotFoundError:",
        "            loaded = snap.load(store.open_latest())\n        except IndexNotFoundError:",
        ("tests/reliability/test_b4_corruption.py::test_planted_pickle_is_refused_and_never_run",),
    ),
    Mutation(
        "refresh (the bot's 5 s poll) tolerates a damaged CURRENT and tries it once",
        "index/engine.py",
        "        if name is None or name in (self._snapshot.generation, self._refused):",
        "        if name is None or name == self._snapshot.generation:",
        (
            "tests/reliability/test_b4_corruption.py::"
            "test_refresh_with_a_damaged_current_keeps_serving_and_does_not_retry",
        ),
    ),
    Mutation(
        "roll-back of a failed commit",
        "index/store.py",
        "            self._roll_back(name, previous)\n",
        "            self.fs.rmtree(self.root / (TMP_PREFIX + name))\n",
        (
            "tests/reliability/test_b5_io_errors.py::test_fault_at_every_operation_keeps_the_old_index[ENOSPC-persistent]",
        ),
    ),
    Mutation(
        "disk errors reported as a typed IndexWriteError",
        "index/store.py",
        "        except OSError as err:\n            raise IndexWriteError(",
        "        except ZeroDivisionError as err:\n            raise IndexWriteError(",
        (
            "tests/reliability/test_b5_io_errors.py::test_fault_at_every_operation_keeps_the_old_index[ENOSPC-once]",
            "tests/reliability/test_b5_io_errors.py::test_cli_reindex_on_a_full_disk_is_one_clear_error",
        ),
    ),
    # ---- reading sources (index/documents.py) ----
    Mutation(
        "size read must match fstat (/proc, growing files)",
        "index/documents.py",
        "    if len(raw) != info.st_size:",
        "    if False:",
        ("tests/reliability/test_b10_paths.py::test_pseudo_files_and_devices_are_refused",),
    ),
    Mutation(
        "non-blocking open + fstat (FIFO swapped in)",
        "index/documents.py",
        "os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC",
        "os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC",
        ("tests/reliability/test_b10_paths.py::test_fifo_is_refused_even_when_swapped_in_after_the_check",),
    ),
    Mutation(
        "symlinks refused (O_NOFOLLOW)",
        "index/documents.py",
        "os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC",
        "os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC",
        ("tests/reliability/test_b10_paths.py::test_symlink_is_refused",),
    ),
    # ---- the CLI ----
    Mutation(
        "SIGTERM handler of the CLI",
        "bot/cli.py",
        "    handle_sigterm()\n    settings = load_settings()\n",
        "    settings = load_settings()\n",
        ("tests/reliability/test_a12_shutdown.py::test_real_cli_reindex_sigterm_anywhere",),
    ),
    # ---- the Discord bot (bot/discord_app) ----
    # (Dropping only the per-reply AllowedMentions.none() changes nothing on the wire: discord.py
    # merges a reply's unset fields with the client's none(). Hence these three.)
    Mutation(
        "AllowedMentions.none() on the client",
        "bot/discord_app/client.py",
        '        "allowed_mentions": discord.AllowedMentions.none(),',
        '        "allowed_mentions": discord.AllowedMentions(),',
        ("tests/test_discord_client.py::test_default_bot_is_a_plain_bot_that_can_never_ping",),
    ),
    Mutation(
        "AllowedMentions.none() on the client and on every reply",
        "bot/discord_app/client.py",
        '        "allowed_mentions": discord.AllowedMentions.none(),',
        '        "allowed_mentions": discord.AllowedMentions(),',
        ("tests/reliability/test_a2_mentions.py::test_hostile_article_and_questions_never_ping",),
        also=(
            (
                "bot/discord_app/flows.py",
                "NO_MENTIONS = discord.AllowedMentions.none()",
                "NO_MENTIONS = discord.AllowedMentions()",
            ),
        ),
    ),
    Mutation(
        "replies sent with AllowedMentions.all() instead of none()",
        "bot/discord_app/flows.py",
        "NO_MENTIONS = discord.AllowedMentions.none()",
        "NO_MENTIONS = discord.AllowedMentions.all()",
        ("tests/reliability/test_a2_mentions.py::test_hostile_article_and_questions_never_ping",),
    ),
    Mutation(
        "off-loop scoring (asyncio.to_thread)",
        "bot/discord_app/flows.py",
        "    return await asyncio.to_thread(_capture, work)",
        "    return _capture(work)",
        ("tests/test_discord_client.py::test_engine_work_runs_in_a_worker_thread_and_errors_come_back_as_values",),
    ),
    Mutation(
        "question term cap",
        "index/answer.py",
        "    ordered = _cap(list(concepts.values()), config.max_terms)",
        "    ordered = list(concepts.values())",
        ("tests/test_bm25_topk.py::test_a_long_question_is_deduplicated_and_capped",),
    ),
    Mutation(
        "per-user cooldown",
        "bot/discord_app/pressure.py",
        "        if len(hits) < self.rate or self.per <= 0:",
        "        if True:",
        (
            "tests/test_discord_pressure.py::test_cooldown_allows_rate_asks_per_window_then_says_when_to_retry",
            "tests/test_discord_e2e.py::test_cooldown_tells_the_user_privately_when_to_try_again",
        ),
    ),
    Mutation(
        "admission limit ('busy' past capacity)",
        "bot/discord_app/pressure.py",
        "        if self.in_flight >= self.limit:",
        "        if False:",
        ("tests/reliability/test_d2_load.py::test_twice_capacity_sheds_load_politely_and_misses_no_deadline",),
    ),
    Mutation(
        "local admin check (/reindex permission)",
        "bot/discord_app/admin_cog.py",
        "    if may_reindex(interaction.permissions, role_keys(interaction.user), role):",
        "    if True:",
        ("tests/test_discord_e2e.py::test_reindex_is_refused_for_a_member",),
    ),
    Mutation(
        "admin commands refused in DMs",
        "bot/discord_app/admin_cog.py",
        "    if interaction.guild is None:\n        raise app_commands.NoPrivateMessage(",
        "    if False:\n        raise app_commands.NoPrivateMessage(",
        ("tests/test_discord_e2e.py::test_reindex_is_refused_in_direct_messages",),
    ),
    Mutation(
        "login back-off",
        "bot/discord_app/client.py",
        "        return self.rng.uniform(ceiling / 2, ceiling)",
        "        return 0.0",
        ("tests/reliability/test_a12_shutdown.py::test_repeated_login_failures_back_off",),
    ),
    Mutation(
        "drain in-flight answers before closing on SIGTERM",
        "bot/discord_app/client.py",
        "        await drain(bot)\n",
        "",
        ("tests/reliability/test_a12_shutdown.py::test_bot_sigterm_during_a_burst_drains_quietly",),
    ),
    Mutation(
        "busy reply by interaction age (deadline-aware shedding)",
        "bot/discord_app/pressure.py",
        "    if age >= limits.busy_after:",
        "    if False:",
        (
            "tests/test_discord_e2e.py::"
            "test_an_interaction_that_arrives_old_gets_busy_at_once_and_a_dead_one_costs_nothing",
        ),
    ),
)


@dataclass
class Outcome:
    safeguard: str
    file: str
    tests: list[str]
    caught: bool
    result: str  # "failed" (caught), "passed" (missed), or what else pytest said
    seconds: float


def copy_repo(target: Path) -> Path:
    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n in SKIP or n.endswith(".egg-info")}
        if Path(folder) == ROOT / "bench":
            skipped |= {"work"}
        return skipped

    shutil.copytree(ROOT, target, ignore=ignore, symlinks=True)
    return target


def run_tests(repo: Path, tests: tuple[str, ...], timeout: float) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "RUN_SLOW"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--hypothesis-seed=0", *tests]
    try:
        done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return -1, "timed out"
    return done.returncode, done.stdout[-3000:] + done.stderr[-2000:]


def apply(repo: Path, mutation: Mutation) -> None:
    for relative, old, new in ((mutation.path, mutation.old, mutation.new), *mutation.also):
        path = repo / relative
        text = path.read_text(encoding="utf-8")
        count = text.count(old)
        if count != 1:
            raise SystemExit(f"{mutation.name}: expected the text once in {relative}, found it {count} times")
        path.write_text(text.replace(old, new), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", dest="select", default="", help="only mutations whose name contains this")
    parser.add_argument("--list", action="store_true", help="list the mutations and their tests, run nothing")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per pytest run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "mutation.json")
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS if args.select.lower() in m.name.lower()]
    if args.list:
        for m in chosen:
            print(f"{m.name}  [{m.path}]\n    " + "\n    ".join(m.tests))
        return 0

    with tempfile.TemporaryDirectory(prefix="mutation-") as folder:
        shared = ROOT.parent / "shared"  # some tests read ../shared (the benchmark corpus) next to the checkout
        if shared.is_dir():
            (Path(folder) / "shared").symlink_to(shared)
        baseline = copy_repo(Path(folder) / "baseline")
        for m in chosen:
            apply(copy_repo(Path(folder) / "check"), m)  # every mutation applies cleanly
            shutil.rmtree(Path(folder) / "check")
        tests = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
        began = time.monotonic()
        code, output = run_tests(baseline, tests, args.timeout * 2)
        took = time.monotonic() - began
        print(f"baseline: {len(tests)} named tests on the unmutated copy -> exit {code} ({took:.0f} s)")
        if code != 0:
            print(output)
            print("The named tests must pass before anything is mutated.")
            return 2
        outcomes: list[Outcome] = []
        print(f"{'safeguard removed':<62} {'caught':<7} {'s':>5}  test")
        for n, m in enumerate(chosen):
            repo = copy_repo(Path(folder) / f"m{n}")
            apply(repo, m)
            began = time.monotonic()
            code, output = run_tests(repo, m.tests, args.timeout)
            took = time.monotonic() - began
            result = {0: "passed", 1: "failed"}.get(code, f"exit {code}")
            outcome = Outcome(m.name, m.path, list(m.tests), code == 1, result, round(took, 1))
            outcomes.append(outcome)
            print(f"{m.name:<62} {'yes' if outcome.caught else 'MISSED':<7} {took:>5.0f}  {m.tests[0].split('/')[-1]}")
            if code not in (0, 1):
                print("    " + output[-800:].replace("\n", "\n    "))
            shutil.rmtree(repo)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps([asdict(o) for o in outcomes], indent=1) + "\n", encoding="utf-8")
    missed = [o.safeguard for o in outcomes if not o.caught]
    print(f"{len(outcomes) - len(missed)}/{len(outcomes)} caught; written {args.out.relative_to(ROOT)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
