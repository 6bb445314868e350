"""Subprocess driver for the crash tests: reindex (and die on cue), or reopen and answer.

    python tests/reliability/driver.py reindex --index DIR [--kill-at POINT | --pause-at POINT] [--announce] FILE...
    python tests/reliability/driver.py check --index DIR --questions JSON [--then-reindex FILE...]

``reindex`` runs exactly what ``python run_bot.py reindex`` runs (``Engine.open(dir)`` then
``engine.reindex(files)``) with a ``KillingFs`` that SIGKILLs the process at ``POINT``.
``--announce`` prints ``writing`` when the first file operation starts, for the random-delay kills.
``--pause-at POINT`` installs the CLI's SIGTERM handler and holds the reindex at ``POINT`` (it
prints ``paused at POINT``) until a signal arrives; exit 143 after a SIGTERM.
``check`` opens the index in this fresh process with no sources (what a restart serves) and
prints one JSON line: the generation and every answer (or the error type and message), the
temporary entries left in the folder and the generation folders; ``--then-reindex`` then
reindexes as the CLI does and prints a second line.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from index import Engine, EngineError, IndexCorruptError, IndexNotFoundError
from index.store import TMP_PREFIX, Store
from tests.reliability.faultfs import KillingFs


def reindex(index: Path, files: list[Path], kill_at: str | None, announce: bool, pause_at: str | None) -> int:
    if pause_at:  # the CLI's SIGTERM handling, with the reindex held at a checkpoint
        from bot.cli import Terminated, handle_sigterm

        handle_sigterm()
        engine = Engine.open(index, (), fs=KillingFs(pause_at, pause=True))
        try:
            engine.reindex(files)
        except Terminated:
            print("terminated", flush=True)
            return 143
        return 0
    engine = Engine.open(index, (), fs=KillingFs(kill_at, announce))
    summary = engine.reindex(files)
    print(json.dumps({"generation": summary.generation}), flush=True)
    return 0


def check(index: Path, questions: list[str], then_reindex: list[Path]) -> int:
    """Print what a restart serves; with ``then_reindex``, reindex and print what is served then."""
    _report(index, questions)
    if then_reindex:
        try:  # what ``run_bot.py reindex`` does
            Engine.open(index).reindex(then_reindex)
        except (IndexNotFoundError, IndexCorruptError):
            Engine.create(index, then_reindex)
        _report(index, questions)
    return 0


def _report(index: Path, questions: list[str]) -> None:
    try:
        engine = Engine.open(index)
        result = {"generation": engine.generation, "answers": [engine.ask(q).to_json() for q in questions]}
    except EngineError as err:
        result = {"error": type(err).__name__, "message": str(err)}
    result["stale"] = sorted(p.name for p in index.iterdir() if p.name.startswith(TMP_PREFIX))
    result["generations"] = Store(index).generations()
    print(json.dumps(result), flush=True)  # ASCII: any lone surrogate survives as an escape


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("reindex")
    r.add_argument("--index", type=Path, required=True)
    r.add_argument("--kill-at")
    r.add_argument("--announce", action="store_true")
    r.add_argument("--pause-at")
    r.add_argument("files", nargs="+", type=Path)
    c = sub.add_parser("check")
    c.add_argument("--index", type=Path, required=True)
    c.add_argument("--questions", required=True)
    c.add_argument("--then-reindex", nargs="*", type=Path, default=[])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.command == "reindex":
        return reindex(args.index, args.files, args.kill_at, args.announce, args.pause_at)
    return check(args.index, json.loads(args.questions), args.then_reindex)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
