"""Linear-time cleaning and escaping of text the bot echoes back into Discord markdown.

discord.py's own markdown escaper is a regex with nested alternatives that goes super-linear on
hostile input (``"[]("`` repeated), so this module escapes with one ``str.translate`` pass: every
character is looked up once, whatever the input.
"""

from __future__ import annotations

import hashlib

ZWSP = "\u200b"

# Bidi embeddings, overrides and isolates, plus the implicit marks: they would let echoed text
# reorder what follows it on screen (the citation line, the next field).
_BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_SURROGATES = range(0xD800, 0xE000)
REPLACEMENT = "\ufffd"

# Characters Discord's markdown gives meaning to: emphasis, code, spoilers, quotes, headings,
# lists and subtext, masked links, and the "<" that opens user, role and channel mentions, custom
# emoji and timestamps. Discord drops a backslash before any ASCII punctuation, so escaping them
# all displays the text unchanged.
MARKDOWN_SPECIALS = "\\*_~`|>#-[]()<"


def _clean_table() -> dict[int, str | None]:
    """Lone surrogates become U+FFFD (JSON would otherwise carry invalid Unicode); controls go."""
    table: dict[int, str | None] = {code: REPLACEMENT for code in _SURROGATES}
    table.update({ord(ch): None for ch in _BIDI_CONTROLS})
    table[0] = None
    return table


def _escape_table() -> dict[int, str | None]:
    """Cleaning plus a backslash before each special and a zero-width space after each ``@``."""
    table = _clean_table()
    table.update({ord(ch): "\\" + ch for ch in MARKDOWN_SPECIALS})
    table[ord("@")] = "@" + ZWSP
    return table


_CLEAN = _clean_table()
_ESCAPE = _escape_table()


def clean_text(text: str) -> str:
    """Make text safe to serialise and display: no lone surrogates, NULs or bidi controls."""
    return text.translate(_CLEAN)


def escape_markdown(text: str) -> str:
    """Escape user or article text so Discord shows it literally and no mention can form."""
    return text.translate(_ESCAPE)


def escaped_length(ch: str) -> int:
    """Length of one character after ``escape_markdown``; lets callers budget without escaping."""
    out = _ESCAPE.get(ord(ch), ch)
    return 0 if out is None else len(out)


def question_hash(question: str) -> str:
    """A short stable fingerprint of a question, carried in button ids to check what is recovered."""
    return hashlib.sha256(question.encode("utf-8", "surrogatepass")).hexdigest()[:10]
