#!/usr/bin/env python3
"""salvo embed next to PyTorch, same machine, same run, same threads: rows/s, tokens/s and ratios.

Workloads, for the MiniLM-L6-H384 and BERT-base shapes (random weights, fp32):
  fixed  every row exactly --fixed-length tokens, batches of 32 rows (the classic 32 x 128 benchmark)
  text   real English Debian package descriptions, text in, L2-normalised mean-pooled embeddings out

salvo runs end to end through its CLI (read JSONL, tokenize, batch, infer, write .npy); its time is the
job time it reports (model loading excluded). PyTorch (Debian's python3-torch, salvo_ref.torch_bert)
runs the loop a Spark predict_batch_udf user writes: pre-tokenised ids (tokenisation not timed, which
favours PyTorch), batches of 64 in input order padded to the longest row, torch.inference_mode(),
mean pooling and normalisation. Each measurement is repeated and the median reported.

Usage: tools/bench/bench_embed.py [--salvo build/salvo] [--threads N] [--shapes minilm,base] [--repeats 3]
"""
import argparse
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tools", "python"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from salvo_ref import torch_bert  # noqa: E402

TOKENIZER = os.path.join(REPO, "examples", "debian-sections", "tokenizer.json")
CORPUS = os.path.join(REPO, "tests", "data", "texts", "debian_descriptions.jsonl.gz")
# Rows per workload and shape: enough for a stable rate, small enough for a 2-core machine.
ROWS = {("minilm", "fixed"): 1024, ("minilm", "text"): 2000, ("base", "fixed"): 256, ("base", "text"): 400}


def english_texts(n):
    out = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["lang"] == "en":
                out.append(row["text"])
                if len(out) == n:
                    return out
    return out


def write_jsonl(path, texts):
    with open(path, "w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n")


def salvo_run(salvo, args, threads):
    proc = subprocess.run([salvo, *args, "--threads", str(threads)], capture_output=True, text=True, check=True)
    m = re.search(r"salvo \w+: (\d+) rows, (\d+) errors, ([\d.]+) s", proc.stderr)
    if not m:
        raise RuntimeError(f"no summary line in salvo's stderr:\n{proc.stderr}")
    return float(m.group(3)), proc.stderr


def torch_embed(module, batches):
    with torch.inference_mode():
        for ids, mask in batches:
            torch_bert.pool(module(ids, mask), mask, "mean", True)


def padded_batches(token_rows, batch_rows):
    batches = []
    for i in range(0, len(token_rows), batch_rows):
        chunk = token_rows[i:i + batch_rows]
        longest = max(len(r) for r in chunk)
        ids = torch.zeros(len(chunk), longest, dtype=torch.long)
        mask = torch.zeros(len(chunk), longest, dtype=torch.long)
        for j, r in enumerate(chunk):
            ids[j, :len(r)] = torch.tensor(r)
            mask[j, :len(r)] = 1
        batches.append((ids, mask))
    return batches


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--salvo", default=os.path.join(REPO, "build", "salvo"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--shapes", default="minilm,base")
    ap.add_argument("--workloads", default="fixed,text")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fixed-length", type=int, default=128)
    ap.add_argument("--text-max-length", type=int, default=256)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the row counts")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    results = []
    with tempfile.TemporaryDirectory(prefix="salvo-bench-") as tmp:
        for shape in args.shapes.split(","):
            model = os.path.join(tmp, shape)
            subprocess.run([sys.executable, os.path.join(REPO, "tools", "python", "make_random_bert.py"), "--shape",
                            shape, "--tokenizer", TOKENIZER, "--out", model, "--seed", "1"], check=True,
                           capture_output=True)
            _, module = torch_bert.load(model)
            for workload in args.workloads.split(","):
                n = int(ROWS[(shape, workload)] * args.scale)
                inp = os.path.join(tmp, f"{shape}-{workload}.jsonl")
                if workload == "fixed":
                    write_jsonl(inp, ["the quick brown fox jumps over the lazy dog " * 40] * n)
                    max_len, batch = args.fixed_length, ["--batch-rows", "32",
                                                         "--batch-tokens", str(32 * args.fixed_length)]
                    torch_batch_rows = 32
                else:
                    write_jsonl(inp, english_texts(n))
                    max_len, batch, torch_batch_rows = args.text_max_length, [], 64
                tok = os.path.join(tmp, "tokens.jsonl")
                subprocess.run([args.salvo, "tokenize", "--model", model, "--input", inp, "--output", tok,
                                "--max-length", str(max_len), "--quiet"], check=True)
                token_rows = [json.loads(line)["input_ids"] for line in open(tok)]
                tokens = sum(len(r) for r in token_rows)
                batches = padded_batches(token_rows, torch_batch_rows)
                padded = sum(b[0].numel() for b in batches)
                salvo_times, torch_times = [], []
                for _ in range(args.repeats):
                    seconds, _ = salvo_run(args.salvo, ["embed", "--model", model, "--input", inp, "--output",
                                                        os.path.join(tmp, "out.npy"), "--max-length", str(max_len),
                                                        *batch], args.threads)
                    salvo_times.append(seconds)
                    start = time.perf_counter()
                    torch_embed(module, batches)
                    torch_times.append(time.perf_counter() - start)
                s, t = statistics.median(salvo_times), statistics.median(torch_times)
                results.append((shape, workload, n, tokens, padded, s, t))
                print(f"{shape:6} {workload:5} rows={n:5} tokens={tokens:7} | salvo {n / s:8.1f} rows/s "
                      f"{tokens / s:9.0f} tok/s | pytorch {n / t:8.1f} rows/s {tokens / t:9.0f} tok/s "
                      f"(padding {1 - tokens / padded:.0%}) | salvo/pytorch {t / s:5.2f}x", flush=True)

    print(f"\n| shape | workload | rows | tokens | salvo rows/s | salvo tokens/s | PyTorch rows/s | "
          f"PyTorch tokens/s | salvo / PyTorch |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for shape, workload, n, tokens, padded, s, t in results:
        print(f"| {shape} | {workload} | {n} | {tokens} | {n / s:.1f} | {tokens / s:.0f} | {n / t:.1f} | "
              f"{tokens / t:.0f} | {t / s:.2f}x |")
    print(f"\nthreads={args.threads} repeats={args.repeats} torch={torch.__version__} "
          f"date={time.strftime('%Y-%m-%d')}")


if __name__ == "__main__":
    main()
