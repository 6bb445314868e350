"""Terminal rendering of answers with rich: wrapped passages, question terms highlighted.

rich detects whether the output is a terminal: colours and bold go to a TTY, plain text to a
pipe, so ``ask`` output stays greppable.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from index import Answer, Hit, IndexInfo, ReindexSummary, Span
from index.evaluate import EvalReport


def citation_line(hit: Hit) -> str:
    """``article.txt · ¶10 · sentence 1 · chars 1912–2150 · <title>``: enough to find the passage."""
    c, s = hit.citation, hit.sentence_citation
    paragraphs = f"¶{c.paragraph}" if c.paragraph == c.paragraph_end else f"¶{c.paragraph}–{c.paragraph_end}"
    parts = [c.source, paragraphs, f"answer: ¶{s.paragraph} sentence {s.number}", f"chars {c.start}–{c.end}"]
    if c.title:
        parts.append(c.title)
    return " · ".join(parts)


def _marked(text: str, spans: Sequence[Span], offset: int = 0) -> Text:
    """``text`` with the given spans in bold yellow."""
    rendered = Text(text)
    for span in spans:
        rendered.stylize("bold yellow", span.start - offset, span.end - offset)
    return rendered


def hit_panel(hit: Hit, title: str | None = None) -> Panel:
    """One result: the passage with the answering sentence underlined and terms highlighted."""
    body = _marked(hit.passage.text, hit.passage_highlights)
    start = hit.sentence_citation.start - hit.passage.start
    body.stylize("underline", start, start + len(hit.sentence))
    label = title or f"#{hit.rank}  score {hit.score:.2f}"
    return Panel(Group(body, Text(citation_line(hit), style="dim")), title=label, title_align="left")


def render_answer(console: Console, answer: Answer) -> None:
    """Print an answer as a reader sees it in the terminal."""
    if answer.corrections:
        fixes = ", ".join(f"{typed} → {used}" for typed, used in answer.corrections)
        console.print(Text(f"(searched with spelling fixes: {fixes})", style="dim"))
    if not answer.answered:
        console.print(Text(f"Not covered: {answer.reason}", style="bold red"))
        for hit in answer.hits:
            console.print(hit_panel(hit, "Closest passage (not an answer)"))
        return
    for hit in answer.hits:
        console.print(hit_panel(hit))


def render_info(console: Console, info: IndexInfo) -> None:
    table = Table(title=f"Index {info.generation} · {info.passages} passages · built {info.created_at}")
    table.add_column("source")
    table.add_column("title")
    for document in info.documents:
        table.add_row(document.source, document.title or "")
    console.print(table)


def render_summary(console: Console, summary: ReindexSummary) -> None:
    """What a reindex changed, in one glance."""
    before = "none" if summary.previous_passages is None else str(summary.previous_passages)
    lines = [
        f"Indexed {summary.documents} document(s), {summary.passages} passages (before: {before}) "
        f"in {summary.seconds:.2f} s; generation {summary.generation}.",
    ]
    for label, names in (
        ("added", summary.added),
        ("changed", summary.changed),
        ("unchanged", summary.unchanged),
        ("removed", summary.removed),
    ):
        if names:
            lines.append(f"  {label}: {', '.join(names)}")
    console.print("\n".join(lines), highlight=False, soft_wrap=True)


def render_eval(console: Console, report: EvalReport, show_misses: bool) -> None:
    table = Table(title="Retrieval quality")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in report.to_json().items():
        if isinstance(value, dict):
            for kind, share in value.items():
                table.add_row(f"declined ({kind})", f"{share:.2f}")
        else:
            table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    console.print(table)
    if show_misses:
        misses = [r for r in report.results if (r.item.answer is None) == r.answered or (r.item.answer and r.rank != 1)]
        console.print(
            Group(*(Text(f"[{r.item.kind}] {r.item.question} → rank {r.rank}, answered {r.answered}") for r in misses))
        )
