"""Build index/data/background.json.gz: how common each term is in general English.

Why: to decide that a question is not covered, the engine must know which of its words matter.
"capital" is common everywhere, "Ukraine" is not; missing the second is what makes "What did Putin
say about Ukraine?" unanswerable. Document frequencies over 250,000 Wikipedia and Gutenberg
passages (../shared/corpus) give that without a language model. Rerun after a tokenizer change.
"""

from __future__ import annotations

import argparse
import gzip
import json
import lzma
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.tokenize import Tokenizer

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "passages-250k.jsonl.xz"
OUT = Path(__file__).resolve().parent.parent / "index" / "data" / "background.json.gz"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--min-df", type=int, default=3)
    args = parser.parse_args()
    tokenizer = Tokenizer()
    df: Counter[str] = Counter()
    passages = 0
    with lzma.open(args.corpus, "rt", encoding="utf-8") as handle:
        for line in handle:
            df.update(set(tokenizer(json.loads(line)["text"])))
            passages += 1
    kept = {term: n for term, n in df.most_common() if n >= args.min_df}
    payload = {"passages": passages, "tokenizer_version": tokenizer.config.version, "df": kept}
    with gzip.open(OUT, "wt", encoding="utf-8", compresslevel=9) as out:
        json.dump(payload, out, ensure_ascii=False, separators=(",", ":"))
    print(f"{passages} passages, {len(kept)} terms -> {OUT} ({OUT.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
