"""Which of an encoder's matrix products a number format hurts, on real multilingual text.

Tokenizes rows of tests/data/texts/debian_descriptions.jsonl.gz with the model's own tokenizer
(the Hugging Face library, truncated to sentence-transformers' max_seq_length), runs encoder_dump
once in float32 and once per plan (encoder_dump --plan: a default format with per-product,
per-layer exceptions), and prints each plan's smallest and mean row cosine to float32, and the
language of the worst row. With --activations it also prints, per layer and product, how far the
largest |input| of a row sits above the row's typical magnitude (the outlier ratio that per-row
int8 quantisation pays for), from transformers' forward hooks.

  precision_study.py --encoder-dump build/tests/parity/encoder/encoder_dump --model DIR \\
      [--per-language 20] [--plans "int8" "int8,output=bf16" ...] [--activations]
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CORPUS = os.path.join(ROOT, "tests", "data", "texts", "debian_descriptions.jsonl.gz")


def load_rows(per_language):
    rows, counts = [], {}
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if counts.get(row["lang"], 0) < per_language:
                counts[row["lang"]] = counts.get(row["lang"], 0) + 1
                rows.append(row)
    return rows


def max_seq_length(model_dir):
    path = os.path.join(model_dir, "sentence_bert_config.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f).get("max_seq_length")
    return None


def run_dump(dump, model_dir, batch, out, plan):
    start = time.time()
    subprocess.run([dump, model_dir, batch, out] + (["--plan", plan] if plan else []), check=True,
                   stdout=subprocess.DEVNULL)
    return np.load(os.path.join(out, "embed.npy")), time.time() - start


def cosines(a, b):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def activation_outliers(model_dir, encodings, rows):
    """For each linear layer of the encoder: the median over rows of max|x| / rms(x) of its input."""
    import torch
    from transformers import AutoModel
    model = AutoModel.from_pretrained(model_dir, dtype=torch.float32).eval()
    stats = {}

    def hook(name):
        def record(module, inputs, output):
            x = inputs[0].detach()[0]  # one row at a time: [tokens, features]
            ratio = (x.abs().amax(dim=-1) / x.pow(2).mean(dim=-1).sqrt()).median().item()
            top = x.abs().amax(dim=0).topk(3)
            stats.setdefault(name, []).append((ratio, top.indices.tolist(), top.values.tolist()))
        return record

    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and "layer." in name:
            module.register_forward_hook(hook(name))
    with torch.no_grad():
        for ids in encodings[:rows]:
            model(torch.tensor([ids]))
    for name, values in stats.items():
        ratios = [v[0] for v in values]
        channels = {}
        for _, idx, val in values:
            for i, v in zip(idx, val):
                channels[i] = max(channels.get(i, 0.0), v)
        top = sorted(channels.items(), key=lambda kv: -kv[1])[:3]
        print(f"  {name:55s} max/rms median {np.median(ratios):7.1f}  largest channels "
              + ", ".join(f"{i}:{v:.1f}" for i, v in top))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--encoder-dump", required=True)
    ap.add_argument("--model", required=True, help="a model folder (e.g. from tools/models/fetch_models.py)")
    ap.add_argument("--per-language", type=int, default=20)
    ap.add_argument("--plans", nargs="+", default=["bf16", "int8"])
    ap.add_argument("--activations", action="store_true")
    ap.add_argument("--ids", help="only these corpus ids (comma-separated), e.g. a previous run's worst rows")
    args = ap.parse_args()

    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    rows = load_rows(args.per_language)
    if args.ids:
        wanted = {int(i) for i in args.ids.split(",")}
        rows = [r for r in rows if r["id"] in wanted]
    limit = max_seq_length(args.model) or tokenizer.model_max_length
    encodings = tokenizer([r["text"] for r in rows], truncation=True, max_length=limit)["input_ids"]
    langs = [r["lang"] for r in rows]
    print(f"{len(rows)} rows, {sum(map(len, encodings))} tokens, max length {limit}", flush=True)
    if args.activations:
        activation_outliers(args.model, encodings, 40)

    with tempfile.TemporaryDirectory(prefix="salvo_precision_") as work:
        batch = os.path.join(work, "batch.json")
        with open(batch, "w") as f:
            json.dump({"ids": encodings}, f)
        reference, seconds = run_dump(args.encoder_dump, args.model, batch, os.path.join(work, "f32"), "f32")
        print(f"f32 {seconds:.1f}s", flush=True)
        for plan in args.plans:
            got, seconds = run_dump(args.encoder_dump, args.model, batch, os.path.join(work, "plan"), plan)
            cos = cosines(got, reference)
            worst = int(np.argmin(cos))
            print(f"{plan:50s} min {cos.min():.5f} mean {cos.mean():.5f} worst {langs[worst]} "
                  f"(row {rows[worst]['id']}, {len(encodings[worst])} tokens)  {seconds:.1f}s", flush=True)
            if args.ids:
                print("    " + "  ".join(f"{r['id']}:{c:.5f}" for r, c in zip(rows, cos)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
