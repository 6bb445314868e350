"""The engine's exceptions: each says, in plain words, what went wrong and how to fix it.

Front ends translate them: the console prints the message and exits non-zero, Discord replies
politely and privately. Never name one ``IndexError``: it would shadow the builtin.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base class: a problem the user can act on; ``str(err)`` is the message to show."""


class DocumentError(EngineError):
    """A source file cannot be indexed: missing, a directory, binary, not UTF-8, empty, too big."""


class QuestionError(EngineError):
    """A question that cannot be searched: empty, only punctuation or emoji."""


class IndexCorruptError(EngineError):
    """An index on disk failed its checks (checksum, format version, shape)."""


class IndexNotFoundError(EngineError):
    """No index has been written yet and there are no sources to build one from."""
