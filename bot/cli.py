"""The command line: one thin command per job over the engine (ask, chat, reindex, eval, about).

Each command parses, calls one engine function, prints, and turns engine errors into a clear
message on stderr and exit code 1 (usage errors exit 2), never a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from rich.console import Console

from index import Answer, Engine, EngineError, IndexCorruptError, IndexNotFoundError
from index.evaluate import evaluate, load_qa

from . import console as view
from .runtime import configure_logging, engine_config, open_engine, warm_up
from .settings import Settings

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
TOKEN_HINT = (
    "No DISCORD_TOKEN set: opening the question console on the bundled article "
    "(create a bot at https://discord.com/developers/applications and put its token in .env to run the bot)."
)

index_option = click.option(
    "--index",
    "index_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Index folder (default: INDEX_DIR from the settings, .index/ in the checkout).",
)


class Terminated(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C (a reindex in progress rolls back), then exit 143."""


def _on_sigterm(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not interrupt the roll-back
    raise Terminated


def _exit_quietly_when_terminated(kind: type[BaseException], value: BaseException, tb: object) -> None:
    """A SIGTERM outside a command (while settings load, say): no traceback, exit 143 all the same."""
    if issubclass(kind, Terminated):
        sys.stderr.write("stopped by SIGTERM.\n")
        sys.stderr.flush()
        os._exit(143)
    sys.__excepthook__(kind, value, tb)  # type: ignore[arg-type]


def handle_sigterm() -> None:
    """Make SIGTERM (systemd, docker stop) end a command cleanly instead of killing it mid-write.

    The Discord bot replaces this with its own handler once its event loop runs.
    """
    sys.excepthook = _exit_quietly_when_terminated
    signal.signal(signal.SIGTERM, _on_sigterm)


def friendly(func: F) -> F:
    """Turn engine and settings errors into one line on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except EngineError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("", err=True)
            sys.exit(130)
        except Terminated:
            click.echo("stopped by SIGTERM; an unfinished reindex was rolled back.", err=True)
            sys.exit(143)
        finally:
            _work_done()

    return wrapper  # type: ignore[return-value]


def _work_done() -> None:
    """The command's work is over: a SIGTERM from now on just ends the process.

    Raised as ``Terminated`` while the interpreter exits (joining worker threads), it would be
    printed as an ignored exception with a traceback; nothing is left to roll back by then.
    """
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in err.errors())
        click.echo(f"error: bad setting in the environment or .env: {problems}", err=True)
        sys.exit(2)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """Answer questions about an article with cited passages, in Discord or in the terminal.

    \b
    With no command: runs the Discord bot when DISCORD_TOKEN is set, else opens the console.
    Example:
      python run_bot.py ask "When did the fighting erupt?"
    """
    handle_sigterm()
    settings = load_settings()
    configure_logging(settings.log_level)
    ctx.obj = settings
    if ctx.invoked_subcommand is not None:
        return
    if settings.discord_token is None:
        click.echo(TOKEN_HINT, err=True)
        ctx.invoke(chat)
        return
    sys.exit(_run_discord(settings))


@friendly
def _run_discord(settings: Settings) -> int:
    from .discord_app import run_discord  # imported here: the console never needs discord.py

    return run_discord(settings, open_engine(settings))


@main.command()
@click.argument("question")
@click.option("-k", "--results", "k", type=click.IntRange(1, 50), default=None, help="Passages to show (default 3).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question.")
@index_option
@click.pass_obj
@friendly
def ask(settings: Settings, question: str, k: int | None, as_json: bool, index_dir: Path | None) -> None:
    """Answer QUESTION with the best passages and their citations.

    \b
    QUESTION "-" reads questions from standard input, one per line, answering each in order.
    Examples:
      python run_bot.py ask "When did the fighting erupt?"
      python run_bot.py ask "Who mediates?" -k 5 --json
      printf 'Who is Aliyev?\\nWhat is BM25?\\n' | python run_bot.py ask - --json
    """
    engine = open_engine(settings, index_dir)
    k = k or settings.results
    if question != "-":
        _print_answer(engine.ask(question, k), as_json)
        return
    failures = 0
    for line in sys.stdin:
        if line.strip():
            failures += _answer_line(engine, line.rstrip("\n"), k, as_json)
    sys.exit(1 if failures else 0)


def _answer_line(engine: Engine, question: str, k: int, as_json: bool) -> int:
    """Answer one line of a batch; a bad question is reported in place and counted, not fatal."""
    try:
        _print_answer(engine.ask(question, k), as_json)
        return 0
    except EngineError as err:
        if as_json:
            click.echo(
                json.dumps(
                    {"question": question, "answered": False, "reason": None, "results": [], "error": str(err)},
                    ensure_ascii=False,
                )
            )
        else:
            click.echo(f"error: {err}", err=True)
        return 1


def _print_answer(answer: Answer, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        view.render_answer(Console(), answer)


@main.command()
@click.option("-k", "--results", "k", type=click.IntRange(1, 50), default=None, help="Passages per answer.")
@index_option
@click.pass_obj
@friendly
def chat(settings: Settings, k: int | None, index_dir: Path | None) -> None:
    """Ask questions interactively, with history (up/down arrows) and highlighted terms.

    \b
    Type a question and press Enter; /k N changes the number of passages, /about lists the
    documents, /help lists these, /quit (or Ctrl-D) leaves.
    Example:
      python run_bot.py chat
    """
    engine = open_engine(settings, index_dir)
    warm_up(engine)
    console = Console()
    k = k or settings.results
    title = engine.document(0).title or engine.document(0).source
    console.print(
        f"[bold]Ask about:[/bold] {title}  ({engine.info().passages} passages). /quit to leave.", highlight=False
    )
    with _history(engine.store.root / ".chat_history"):
        for line in _prompts(console):
            k = _chat_turn(engine, console, line, k)


CHAT_HELP = "Type a question about the text. /k N: passages per answer (1-50); /about: the documents; /quit: leave."


def _chat_turn(engine: Engine, console: Console, line: str, k: int) -> int:
    """Handle one line of the console; returns the (possibly changed) number of results."""
    command = line.split()[0] if line.startswith("/") else None
    if command is not None and (command == "/k" or (command.startswith("/k") and command[2:].isdigit())):
        value = line[2:].strip()
        if value.isdigit() and 1 <= int(value) <= 50:
            return int(value)
        console.print("usage: /k N (1-50)")
    elif command == "/about":
        view.render_info(console, engine.info())
    elif command is not None:
        unknown = "" if command in ("/help", "/?") else f"No command {command}. "
        console.print(f"{unknown}{CHAT_HELP} Now {k} passages per answer.", highlight=False, markup=False)
    else:
        try:
            view.render_answer(console, engine.ask(line, k))
        except EngineError as err:
            console.print(f"[red]{err}[/red]", highlight=False)
    return k


def _prompts(console: Console) -> Iterator[str]:
    """Lines typed at the prompt until /quit or end of input; Ctrl-C clears the line."""
    while True:
        try:
            line = console.input("[bold cyan]ask>[/bold cyan] ").strip()
        except EOFError:
            console.print()
            return
        except KeyboardInterrupt:
            console.print()
            continue
        if line in ("/quit", "/exit", "/q"):
            return
        if line:
            yield line


@contextlib.contextmanager
def _history(path: Path) -> Iterator[None]:
    """Up-arrow history across sessions when the platform has readline."""
    try:
        import readline
    except ImportError:  # pragma: no cover - Windows without pyreadline
        yield
        return
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            readline.set_history_length(1000)
            readline.write_history_file(path)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@index_option
@click.option(
    "--max-mb",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Largest file accepted, in MiB (default MAX_DOCUMENT_MB, 16).",
)
@click.pass_obj
@friendly
def reindex(settings: Settings, files: tuple[Path, ...], index_dir: Path | None, max_mb: float | None) -> None:
    """Replace the indexed corpus with FILES (UTF-8 .txt or .md) and show what changed.

    \b
    The index that serves now keeps serving until the new one is completely written; a bad
    file stops the reindex before anything changes. A running bot picks the new index up.
    Examples:
      python run_bot.py reindex article.txt
      python run_bot.py reindex notes/a.md notes/b.txt --index /srv/bot-index
    """
    if max_mb is not None:
        settings = settings.model_copy(update={"max_document_mb": max_mb})
    folder = index_dir or settings.index_dir
    try:
        engine = Engine.open(folder, (), engine_config(settings))
    except (IndexNotFoundError, IndexCorruptError) as err:
        log.info("starting a new index in %s (%s)", folder, err)
        view.render_summary(Console(), Engine.create(folder, list(files), engine_config(settings))[1])
        return
    view.render_summary(Console(), engine.reindex(list(files)))


@main.command(name="eval")
@click.argument("qa_file", type=click.Path(path_type=Path, dir_okay=False))
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as one JSON object.")
@click.option("--misses", is_flag=True, help="List the questions it got wrong.")
@click.pass_obj
@friendly
def eval_command(settings: Settings, qa_file: Path, index_dir: Path | None, as_json: bool, misses: bool) -> None:
    """Measure recall@1, recall@3, MRR, decline rates and marked-sentence accuracy on a JSONL question set.

    \b
    Each line: {"question": "...", "answer": "text the right passage contains" or null, "kind": "..."}.
    "answer" may list several texts when several passages answer: ["...", "..."].
    Example:
      python run_bot.py eval tests/data/qa.jsonl
    """
    items = load_qa(qa_file)
    engine = open_engine(settings, index_dir)
    report = evaluate(engine.ask, items, k=3)
    if as_json:
        click.echo(json.dumps(report.to_json()))
    else:
        view.render_eval(Console(), report, misses)


@main.command()
@index_option
@click.pass_obj
@friendly
def about(settings: Settings, index_dir: Path | None) -> None:
    """List the indexed documents, the passage count and when the index was built.

    \b
    Example:
      python run_bot.py about
    """
    view.render_info(Console(), open_engine(settings, index_dir).info())
