#!/usr/bin/python3
"""Parity of salvo's native encoder with the PyTorch reference (salvo_ref.torch_bert).

For each case it writes a random checkpoint with tools/python/make_random_bert.py, runs bert_dump
on a batch that mixes very short and maximum-length (512) sequences, runs the reference on the
same batch padded with an attention mask, and requires every element of the hidden states,
embeddings and class probabilities to agree within 1e-4.

  /usr/bin/python3 encoder_parity_test.py --bert-dump build/tests/parity/encoder/bert_dump \
      [--shapes minilm,base]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "python"))
from salvo_ref import torch_bert  # noqa: E402

MAKE_RANDOM_BERT = os.path.join(ROOT, "tools", "python", "make_random_bert.py")
TOLERANCE = 1e-4

# name, shape, dtype, make_random_bert flags, sequence lengths (including [CLS] and [SEP]).
CASES = [
    ("minilm-f32-mean-normalize", "minilm", "f32", ["--pooling", "mean", "--normalize"],
     [3, 512, 4, 5, 512, 77, 2]),
    ("minilm-f16-prefix-cls", "minilm", "f16", ["--bert-prefix", "--pooling", "cls", "--normalize"],
     [5, 512, 3, 130]),
    ("minilm-bf16-max", "minilm", "bf16", ["--pooling", "max"], [4, 512, 3, 64]),
    ("minilm-f32-classifier", "minilm", "f32", ["--classifier", "3"], [3, 512, 5, 40]),
    ("base-f32-classifier-cls", "base", "f32", ["--classifier", "4", "--pooling", "cls"],
     [3, 512, 5, 512]),
    ("base-bf16-prefix-mean", "base", "bf16", ["--bert-prefix", "--pooling", "mean", "--normalize"],
     [4, 512, 3]),
    ("base-f16-max-normalize", "base", "f16", ["--pooling", "max", "--normalize"], [512, 5]),
]


def make_batch(lengths, vocab_size, rng):
    ids, types = [], []
    for i, n in enumerate(lengths):
        seq = [101] + rng.integers(999, vocab_size, size=n - 2).tolist() + [102] if n >= 2 else [101]
        ids.append(seq)
        # Every other sequence is a pair, so token type embeddings are exercised.
        types.append([0] * (n // 2) + [1] * (n - n // 2) if i % 2 else [0] * n)
    return ids, types


def reference(model_dir, ids, types, pooling, normalize):
    config, module = torch_bert.load(model_dir)
    width = max(len(s) for s in ids)
    input_ids = torch.zeros(len(ids), width, dtype=torch.long)
    type_ids = torch.zeros(len(ids), width, dtype=torch.long)
    mask = torch.zeros(len(ids), width, dtype=torch.long)
    for r, (s, t) in enumerate(zip(ids, types)):
        input_ids[r, :len(s)] = torch.tensor(s)
        type_ids[r, :len(s)] = torch.tensor(t)
        mask[r, :len(s)] = 1
    with torch.no_grad():
        if isinstance(module, torch_bert.BertForSequenceClassification):
            hidden = module.bert(input_ids, mask, type_ids)
            probs = torch.softmax(module.classifier(module.bert.pooler(hidden)), dim=-1).numpy()
        else:
            hidden = module(input_ids, mask, type_ids)
            probs = None
        embed = torch_bert.pool(hidden, mask, pooling, normalize).numpy()
    packed = np.concatenate([hidden[r, :len(s)].numpy() for r, s in enumerate(ids)])
    return config, packed, embed, probs


def run_case(case, bert_dump, work, rng):
    name, shape, dtype, flags, lengths = case
    model_dir = os.path.join(work, name)
    subprocess.run([sys.executable, MAKE_RANDOM_BERT, "--shape", shape, "--dtype", dtype,
                    "--seed", str(len(name)), "--out", model_dir] + flags,
                   check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(model_dir, "config.json")) as f:
        vocab_size = json.load(f)["vocab_size"]
    ids, types = make_batch(lengths, vocab_size, rng)
    batch_path = os.path.join(work, name + ".json")
    with open(batch_path, "w") as f:
        json.dump({"ids": ids, "type_ids": types}, f)

    out_dir = os.path.join(work, name + ".out")
    start = time.time()
    subprocess.run([bert_dump, model_dir, batch_path, out_dir], check=True)
    salvo_s = time.time() - start

    # What the model folder says, decided here independently of salvo's loader.
    pooling = flags[flags.index("--pooling") + 1] if "--pooling" in flags else "mean"
    normalize = "--normalize" in flags if "--pooling" in flags else True
    classifier = "--classifier" in flags
    start = time.time()
    _, hidden, embed, probs = reference(model_dir, ids, types, pooling, normalize)
    torch_s = time.time() - start

    with open(os.path.join(out_dir, "info.json")) as f:
        info = json.load(f)
    failures = []
    if (info["pooling"], info["normalize"], info["has_classifier"]) != (pooling, normalize, classifier):
        failures.append(f"info.json {info} does not match pooling={pooling} normalize={normalize} "
                        f"classifier={classifier}")
    diffs = {}
    outputs = [("hidden", hidden), ("embed", embed)] + ([("probs", probs)] if classifier else [])
    for what, want in outputs:
        got = np.load(os.path.join(out_dir, what + ".npy"))
        if got.shape != want.shape:
            failures.append(f"{what}: shape {got.shape}, reference {want.shape}")
            continue
        diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
        diffs[what] = float(diff.max()) if not np.isnan(diff).any() else float("nan")
        if not diffs[what] <= TOLERANCE:
            worst = np.unravel_index(np.nanargmax(diff), diff.shape) if not np.isnan(diff).all() else ()
            failures.append(f"{what}: max abs diff {diffs[what]:.3g} > {TOLERANCE} at {worst}")
    summary = "  ".join(f"{k} {v:.2e}" for k, v in diffs.items())
    print(f"{'FAIL' if failures else 'ok  '} {name:28s} lengths {lengths}: max |diff| {summary} "
          f"(salvo {salvo_s:.1f}s, torch {torch_s:.1f}s)", flush=True)
    for f in failures:
        print("     " + f, flush=True)
    return not failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bert-dump", required=True, help="path of the built bert_dump executable")
    ap.add_argument("--shapes", default="minilm,base",
                    help="comma-separated model shapes to test (minilm, base)")
    ap.add_argument("--keep", help="write checkpoints and outputs here and keep them")
    args = ap.parse_args()
    torch.set_num_threads(2)
    rng = np.random.default_rng(1234)
    shapes = args.shapes.split(",")
    cases = [c for c in CASES if c[1] in shapes]
    if not cases:
        ap.error(f"no cases for shapes {shapes}")
    with tempfile.TemporaryDirectory(prefix="salvo_parity_") as tmp:
        work = args.keep or tmp
        os.makedirs(work, exist_ok=True)
        results = [run_case(case, args.bert_dump, work, rng) for case in cases]
    print(f"{sum(results)}/{len(results)} cases within {TOLERANCE}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
