#!/usr/bin/env python3
"""Baseline for `openzero bench memory`: embedding throughput of the Python
sentence-transformers package on the same texts, model files and thread
count. Called by the bench (not by hand) as

    python bench-embed-python.py MODEL_DIR TEXTS.json THREADS

TEXTS.json: {"short": [...], "paragraphs": [...]}. Prints one JSON object:
{"short_b1": texts/s, "short_b32": ..., "para_b1": ..., "para_b32": ...,
 "version": "..."}. The environment comes from scripts/bench (a venv in
~/.cache/openzero/benchvenv with CPU torch and sentence-transformers).
"""
import json
import sys
import time

import torch

torch.set_num_threads(int(sys.argv[3]))

import sentence_transformers  # noqa: E402  (after the thread count is set)
from sentence_transformers import SentenceTransformer  # noqa: E402


def rate(model, texts, batch):
    model.encode(texts[: max(batch, 4)], batch_size=batch)  # warm-up
    start = time.perf_counter()
    model.encode(texts, batch_size=batch, normalize_embeddings=True)
    return len(texts) / (time.perf_counter() - start)


def main():
    model_dir, texts_path = sys.argv[1], sys.argv[2]
    with open(texts_path) as f:
        texts = json.load(f)
    model = SentenceTransformer(model_dir, device="cpu")
    out = {
        "short_b1": rate(model, texts["short"], 1),
        "short_b32": rate(model, texts["short"], 32),
        "para_b1": rate(model, texts["paragraphs"], 1),
        "para_b32": rate(model, texts["paragraphs"], 32),
        "version": f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}",
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
