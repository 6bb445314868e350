"""The retrieval engine: documents, passages, BM25 (rank-bm25's scores), answers, storage.

Never imports ``discord`` and never reads the environment: front ends pass everything in.
"""

from .answer import AnswerConfig
from .bm25 import Bm25Params
from .chunking import ChunkConfig
from .engine import Engine, EngineConfig
from .errors import DocumentError, EngineError, IndexCorruptError, IndexNotFoundError, QuestionError
from .semantic import SemanticConfig
from .tokenize import Tokenizer, TokenizerConfig
from .types import Answer, Citation, Document, Hit, IndexInfo, Passage, ReindexSummary, Sentence, Span

__all__ = [
    "Answer",
    "AnswerConfig",
    "Bm25Params",
    "ChunkConfig",
    "Citation",
    "Document",
    "DocumentError",
    "Engine",
    "EngineConfig",
    "EngineError",
    "Hit",
    "IndexCorruptError",
    "IndexInfo",
    "IndexNotFoundError",
    "Passage",
    "QuestionError",
    "ReindexSummary",
    "SemanticConfig",
    "Sentence",
    "Span",
    "Tokenizer",
    "TokenizerConfig",
]
