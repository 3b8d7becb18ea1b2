#!/usr/bin/env python3
"""salvo next to PyTorch and ONNX Runtime: same machine, same run, same inputs, same thread count.

One command prints, per model shape and workload, rows/s and tokens/s of every system, salvo's ratio
to each peer, and salvo's achieved GFLOP/s against the machine's ceilings measured in the same run
(an FMA loop for the fp32 instruction peak, the GEMM library at its best shape for the matmul ceiling).

Systems
  salvo        build/salvo embed, end to end (read JSONL, tokenize, batch, infer, write .npy), once per
               --dtypes entry; its time is the job time it reports (model loading excluded)
  pytorch      Debian's python3-torch running tools/python/salvo_ref/torch_bert.py (BERT in PyTorch with
               Hugging Face names) the way a Spark predict_batch_udf user does: batches in input order (32
               rows for the fixed shape, 64 for text), padded to the longest row, torch.inference_mode(),
               masked mean pooling, L2 normalisation. "model" times pre-tokenised ids. "e2e" adds the time the
               Hugging Face tokenizers library (Rust) took on the same texts with the same threads
               (measured inside the ONNX Runtime runner), since Debian packages no Python binding of it
  onnxruntime  onnxruntime-node (npm) on the same weights exported to ONNX by tools/python/export_onnx.py,
               graph optimisation "all", same batching as PyTorch; end to end with tokenisation by the
               Hugging Face tokenizers library through @anush008/tokenizers (tools/bench/ort_embed.js).
               "model" is its time minus its tokenisation time
  tokenize     salvo tokenize --threads 1 against the Hugging Face tokenizers library on one thread
               (tools/bench/hf_tokenize.js), ids checked identical

Workloads, for the MiniLM-L6-H384 and BERT-base shapes (random weights, tokenizer of the bundled example):
  fixed  every row exactly 128 tokens, batches of 32 rows (the classic 32 x 128 benchmark)
  text   real English Debian package descriptions (tests/data/texts), text in, normalised embeddings out

Every measurement is repeated --repeats times (interleaved across systems) and the median reported.
Per-row cosine of each --dtypes output against salvo's f32 output is reported as its minimum.

Usage: tools/bench/bench_embed.py [--shapes minilm,base] [--workloads fixed,text,tokenize]
                                  [--dtypes f32,bf16,int8] [--repeats 3] [--peer-repeats N]
                                  [--text-rows 5000] [--base-text-rows N] [--threads N] [--json FILE]
Run it with /usr/bin/python3 (Debian's torch); tools/node must be installed (scripts/install-deps.sh test).
"""
import argparse
import gzip
import json
import os
import re
import shutil
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
FIXED_TEXT = "the quick brown fox jumps over the lazy dog " * 40
FIXED_ROWS = {"minilm": 512, "base": 128}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def english_texts(n):
    out = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["lang"] == "en":
                out.append(row["text"])
                if len(out) == n:
                    break
    if len(out) < n:
        raise SystemExit(f"{CORPUS} has only {len(out)} English rows, {n} asked for")
    return out


def write_jsonl(path, texts):
    with open(path, "w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n")


def run(cmd, env=None):
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def machine_peaks(build, threads):
    exe = os.path.join(build, "tools", "bench", "machine_peaks")
    proc = run([exe], env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    return json.loads(proc.stdout)


def model_flops(config, lengths):
    """Useful FLOPs of the encoder on sequences of these lengths: the dense layers per token and the
    two attention products per sequence (no padding, no pooling, no layer norms)."""
    h, inter, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    tokens = sum(lengths)
    dense = 2 * tokens * (4 * h * h + 2 * h * inter)
    attention = sum(4 * n * n * h for n in lengths)
    return layers * (dense + attention)


def salvo_embed(salvo, model, inp, out, max_len, threads, dtype, extra):
    proc = run([salvo, "embed", "--model", model, "--input", inp, "--output", out, "--max-length", str(max_len),
                "--threads", str(threads), "--dtype", dtype, *extra])
    m = re.search(r"salvo \w+: (\d+) rows, (\d+) errors, ([\d.]+) s", proc.stderr)
    if not m:
        raise RuntimeError(f"no summary line in salvo's stderr:\n{proc.stderr}")
    if int(m.group(2)) != 0:
        raise RuntimeError(f"salvo reported {m.group(2)} error rows:\n{proc.stderr}")
    compute = re.search(r"hidden \d+, ([^)]*\)?[^)]*)\)", proc.stderr)
    return float(m.group(3)), compute.group(1) if compute else dtype


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


def torch_embed(module, batches):
    start = time.perf_counter()
    with torch.inference_mode():
        for ids, mask in batches:
            torch_bert.pool(module(ids, mask), mask, "mean", True)
    return time.perf_counter() - start


def ort_embed(onnx, inp, max_len, threads, batch_rows, repeats):
    proc = run(["node", os.path.join(REPO, "tools", "bench", "ort_embed.js"), "--model", onnx, "--threads",
                str(threads), "--repeats", str(repeats), "--batch", str(batch_rows), "--texts", inp, "--tokenizer",
                TOKENIZER, "--max-length", str(max_len)])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def min_cosine(a, b):
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return float(np.min(np.sum(a * b, axis=1)))


def bench_embedding(args, tmp, shape, workload, peaks, results):
    model = os.path.join(tmp, shape)
    if not os.path.isdir(model):
        run([sys.executable, os.path.join(REPO, "tools", "python", "make_random_bert.py"), "--shape", shape,
             "--tokenizer", TOKENIZER, "--out", model, "--seed", "1"])
        run([sys.executable, os.path.join(REPO, "tools", "python", "export_onnx.py"), "--model", model, "--out",
             os.path.join(model, "model.onnx")])
    config = json.load(open(os.path.join(model, "config.json")))
    if workload == "fixed":
        n = int(FIXED_ROWS[shape] * args.scale)
        texts, max_len, batch_rows = [FIXED_TEXT] * n, 128, 32
        salvo_extra = ["--batch-rows", "32", "--batch-tokens", str(32 * 128)]
    else:
        rows = args.base_text_rows if shape == "base" and args.base_text_rows else args.text_rows
        n = int(rows * args.scale)
        texts, max_len, batch_rows, salvo_extra = english_texts(n), args.text_max_length, 64, []
    inp = os.path.join(tmp, f"{shape}-{workload}.jsonl")
    write_jsonl(inp, texts)
    tok = os.path.join(tmp, "tokens.jsonl")
    run([args.salvo, "tokenize", "--model", model, "--input", inp, "--output", tok, "--max-length", str(max_len),
         "--quiet"])
    token_rows = [json.loads(line)["input_ids"] for line in open(tok)]
    lengths = [len(r) for r in token_rows]
    tokens = sum(lengths)
    flops = model_flops(config, lengths)
    batches = padded_batches(token_rows, batch_rows)
    padded = sum(b[0].numel() for b in batches)
    _, module = torch_bert.load(model)
    torch_embed(module, batches[:1])  # warm-up

    times = {f"salvo {d}": [] for d in args.dtypes}
    compute = {}
    times.update({"pytorch model": [], "ort e2e": [], "ort model": [], "hf tokenize": []})
    outputs = {}
    peer_repeats = args.peer_repeats if workload == "text" else args.repeats
    for rep in range(args.repeats):
        for dtype in args.dtypes:
            out = os.path.join(tmp, f"out-{dtype}.npy")
            seconds, compute[dtype] = salvo_embed(args.salvo, model, inp, out, max_len, args.threads, dtype,
                                                  salvo_extra)
            times[f"salvo {dtype}"].append(seconds)
            outputs[dtype] = np.load(out)
        if "pytorch" in args.peers and rep < peer_repeats:
            times["pytorch model"].append(torch_embed(module, batches))
        if "onnxruntime" in args.peers and rep < peer_repeats:
            ort = ort_embed(os.path.join(model, "model.onnx"), inp, max_len, args.threads, batch_rows, 1)
            times["ort e2e"].append(ort["seconds"][0])
            times["hf tokenize"].append(ort["tokenize_seconds"][0])
            times["ort model"].append(ort["seconds"][0] - ort["tokenize_seconds"][0])
        log(f"  {shape} {workload} repeat {rep + 1}: " +
            ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items() if len(v) > rep))

    med = {k: statistics.median(v) for k, v in times.items() if v}
    if "pytorch model" in med and "hf tokenize" in med:
        med["pytorch e2e"] = med["pytorch model"] + med["hf tokenize"]
    cosines = {d: min_cosine(outputs[d], outputs["f32"]) for d in args.dtypes if d != "f32" and "f32" in outputs}
    results.append(dict(shape=shape, workload=workload, rows=n, tokens=tokens, padded_tokens=padded, flops=flops,
                        seconds=med, compute=compute, min_cosine=cosines, repeats=args.repeats))
    print_embedding_result(results[-1], peaks, sys.stderr)


def dtype_peak(peaks, name):
    """The instruction peak of the number format salvo ran in, for "salvo bf16" etc."""
    dtype = name.split()[1]
    if dtype == "bf16":
        return peaks["bf16_dot_gflops"], "bf16 dot peak"
    if dtype == "int8":
        return peaks["int8_dot_gops"], "int8 dot peak"
    return peaks["fp32_fma_gflops"], "FMA peak"


def print_embedding_result(r, peaks, f):
    s = r["seconds"]
    ceiling = peaks["matmul_f32_gflops"]
    print(f"\n{r['shape']} / {r['workload']}: {r['rows']} rows, {r['tokens']} tokens "
          f"(peers pad to {r['padded_tokens']}: {1 - r['tokens'] / r['padded_tokens']:.0%} padding)", file=f)
    for name, seconds in s.items():
        line = f"  {name:15} {r['rows'] / seconds:9.1f} rows/s {r['tokens'] / seconds:10.0f} tokens/s"
        if name.startswith("salvo"):
            gflops = r["flops"] / seconds / 1e9
            peak, peak_name = dtype_peak(peaks, name)
            line += f"  {gflops:6.1f} GFLOP/s = {gflops / peak:.0%} of {peak_name}"
            if name == "salvo f32":
                line += f", {gflops / ceiling:.0%} of the f32 matmul ceiling"
        print(line, file=f)
    if "salvo f32" in s:
        for peer in ("pytorch model", "pytorch e2e", "ort model", "ort e2e"):
            if peer in s:
                print(f"  salvo f32 / {peer}: {s[peer] / s['salvo f32']:.2f}x", file=f)
        for name in s:
            if name.startswith("salvo ") and name != "salvo f32":
                dtype = name.split()[1]
                print(f"  salvo {dtype} / salvo f32: {s['salvo f32'] / s[name]:.2f}x, min per-row cosine "
                      f"{r['min_cosine'].get(dtype, float('nan')):.5f}", file=f)


def bench_tokenize(args, tmp, results):
    n = args.tokenize_rows
    inp = os.path.join(tmp, "tokenize.jsonl")
    write_jsonl(inp, english_texts(n))
    out = os.path.join(tmp, "salvo-ids.jsonl")
    hf_ids = os.path.join(tmp, "hf-ids.jsonl")
    # A folder with only the tokenizer: no model positions to cap the length at the example's 128.
    tok_dir = os.path.join(tmp, "tokenizer-only")
    os.makedirs(tok_dir, exist_ok=True)
    shutil.copy(TOKENIZER, tok_dir)
    salvo_times, hf_times = [], []
    for _ in range(args.repeats):
        proc = run([args.salvo, "tokenize", "--model", tok_dir, "--input", inp, "--output", out,
                    "--threads", "1", "--max-length", "512"])
        salvo_times.append(float(re.search(r"errors, ([\d.]+) s", proc.stderr).group(1)))
        proc = run(["node", os.path.join(REPO, "tools", "bench", "hf_tokenize.js"), "--tokenizer", TOKENIZER,
                    "--texts", inp, "--repeats", "1", "--max-length", "512", "--ids-out", hf_ids])
        hf = json.loads(proc.stdout.strip().splitlines()[-1])
        hf_times.append(hf["seconds"][0])
    ours = [json.loads(line)["input_ids"] for line in open(out)]
    theirs = [json.loads(line)["input_ids"] for line in open(hf_ids)]
    identical = ours == theirs
    tokens = sum(len(r) for r in ours)
    r = dict(workload="tokenize", rows=n, tokens=tokens, seconds={"salvo": statistics.median(salvo_times),
                                                                  "hf tokenizers": statistics.median(hf_times)},
             identical_ids=identical)
    results.append(r)
    s = r["seconds"]
    print(f"\ntokenize (one thread): {n} rows, {tokens} tokens, ids identical: {identical}", file=sys.stderr)
    for name, seconds in s.items():
        print(f"  {name:15} {n / seconds:9.1f} rows/s {tokens / seconds:10.0f} tokens/s", file=sys.stderr)
    print(f"  salvo / hf tokenizers: {s['hf tokenizers'] / s['salvo']:.2f}x", file=sys.stderr)
    if not identical:
        raise SystemExit("token ids differ between salvo and the Hugging Face tokenizers library")


def markdown(results, peaks, args):
    fma, ceiling = peaks["fp32_fma_gflops"], peaks["matmul_f32_gflops"]
    lines = [f"Ceilings, measured in this run on {peaks['threads']} threads: fp32 FMA loop {fma:.0f} GFLOP/s, "
             f"oneDNN f32 matmul at its best shape ({peaks['matmul_f32_shape']}) {ceiling:.0f} GFLOP/s, "
             f"bf16 dot-product loop {peaks['bf16_dot_gflops']:.0f} GFLOP/s, int8 dot-product loop "
             f"{peaks['int8_dot_gops']:.0f} GOP/s.", "",
             "| shape | workload | rows | tokens | system | rows/s | tokens/s | ratio | salvo GFLOP/s (% of peak) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        if r["workload"] == "tokenize":
            continue
        s = r["seconds"]
        for name, seconds in s.items():
            ratio, gf = "", ""
            if name.startswith("salvo"):
                g = r["flops"] / seconds / 1e9
                peak, peak_name = dtype_peak(peaks, name)
                gf = f"{g:.0f} ({g / peak:.0%} of {peak_name})"
                if name != "salvo f32" and "salvo f32" in s:
                    dtype = name.split()[1]
                    ratio = (f"{s['salvo f32'] / seconds:.2f}x salvo f32 (min cosine "
                             f"{r['min_cosine'].get(dtype, float('nan')):.5f})")
            elif name == "hf tokenize":
                ratio = "tokenisation inside ort e2e, added to pytorch model for pytorch e2e"
            elif "salvo f32" in s:
                ratio = f"salvo f32 is {seconds / s['salvo f32']:.2f}x faster"
            lines.append(f"| {r['shape']} | {r['workload']} | {r['rows']} | {r['tokens']} | {name} | "
                         f"{r['rows'] / seconds:.1f} | {r['tokens'] / seconds:.0f} | {ratio} | {gf} |")
    for r in results:
        if r["workload"] == "tokenize":
            s = r["seconds"]
            lines += ["", f"Tokenisation alone, one thread, {r['rows']} rows, {r['tokens']} tokens, ids identical: "
                      f"{r['identical_ids']}: salvo {r['tokens'] / s['salvo']:.0f} tokens/s, Hugging Face tokenizers "
                      f"{r['tokens'] / s['hf tokenizers']:.0f} tokens/s, ratio {s['hf tokenizers'] / s['salvo']:.2f}x."]
    lines += ["", "Targets (issue 5), each from this run:", ""] + targets(results, peaks)
    lines += ["", f"threads={args.threads} repeats={args.repeats} (peers on text: {args.peer_repeats}) torch={torch.__version__} "
              f"date={time.strftime('%Y-%m-%d')} cpu={cpu_name()}"]
    return "\n".join(lines)


def targets(results, peaks):
    """One line per target of the performance issue: the measured value and whether it is met."""
    out = []

    def check(what, value, target, unit="x"):
        mark = "met" if value >= target else f"MISSED by {(target - value) / target:.0%}"
        fmt = f"{value:.0%}" if unit == "%" else f"{value:.2f}x"
        goal = f"{target:.0%}" if unit == "%" else f"{target:.2f}x"
        out.append(f"- {what}: {fmt} (target >= {goal}): {mark}")

    for r in results:
        s = r.get("seconds", {})
        if r["workload"] == "tokenize":
            check("tokenisation alone, one thread, vs Hugging Face tokenizers", s["hf tokenizers"] / s["salvo"], 2.0)
            continue
        if "salvo f32" not in s:
            continue
        f32 = s["salvo f32"]
        label = f"{r['shape']} {r['workload']}"
        if r["workload"] == "fixed":
            if r["shape"] == "base":
                check(f"{label} f32 share of the FMA peak", r["flops"] / f32 / 1e9 / peaks["fp32_fma_gflops"], 0.85, "%")
                if "ort model" in s:
                    check(f"{label} f32 vs ONNX Runtime", s["ort model"] / f32, 1.15)
            else:
                if "ort model" in s:
                    check(f"{label} f32 vs ONNX Runtime", s["ort model"] / f32, 1.2)
                if "pytorch model" in s:
                    check(f"{label} f32 vs PyTorch", s["pytorch model"] / f32, 2.0)
        else:
            if "ort e2e" in s:
                check(f"{label} f32 vs ONNX Runtime + HF tokenizers", s["ort e2e"] / f32, 2.0)
            if "pytorch e2e" in s:
                check(f"{label} f32 vs the PyTorch loop (+ HF tokenizers)", s["pytorch e2e"] / f32, 4.0)
        for dtype, speedup, bound in (("bf16", 1.8, 0.999), ("int8", 3.0, 0.99)):
            if f"salvo {dtype}" in s:
                cos = r["min_cosine"].get(dtype, float("nan"))
                check(f"{label} {dtype} vs salvo f32 (min cosine {cos:.5f}, bound {bound})", f32 / s[f"salvo {dtype}"],
                      speedup)
                if not cos >= bound:
                    out.append(f"  - {label} {dtype}: min cosine {cos:.5f} is BELOW the bound {bound}")
    return out


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--salvo", default=os.path.join(REPO, "build", "salvo"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--shapes", default="minilm,base")
    ap.add_argument("--workloads", default="fixed,text,tokenize")
    ap.add_argument("--dtypes", default="f32,bf16,int8", help="salvo --dtype values to run (f32 first)")
    ap.add_argument("--peers", default="pytorch,onnxruntime")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--peer-repeats", type=int, default=None,
                    help="repeats of the (slow) peers on the text workload; default --repeats")
    ap.add_argument("--text-rows", type=int, default=5000)
    ap.add_argument("--base-text-rows", type=int, default=None,
                    help="text rows for the BERT-base shape (default --text-rows; PyTorch takes ~6 min per 1,000)")
    ap.add_argument("--text-max-length", type=int, default=256)
    ap.add_argument("--tokenize-rows", type=int, default=10000)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the row counts (fixed and text)")
    ap.add_argument("--json", help="also write the raw results here")
    args = ap.parse_args()
    args.dtypes = args.dtypes.split(",")
    args.peers = args.peers.split(",")
    args.peer_repeats = args.repeats if args.peer_repeats is None else args.peer_repeats
    torch.set_num_threads(args.threads)
    build = os.path.dirname(os.path.abspath(args.salvo))

    peaks = machine_peaks(build, args.threads)
    log(f"ceilings: {json.dumps(peaks)}")
    results = []
    with tempfile.TemporaryDirectory(prefix="salvo-bench-") as tmp:
        for workload in args.workloads.split(","):
            if workload == "tokenize":
                bench_tokenize(args, tmp, results)
                continue
            for shape in args.shapes.split(","):
                bench_embedding(args, tmp, shape, workload, peaks, results)
    print(markdown(results, peaks, args))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(peaks=peaks, results=results), f, indent=1)


if __name__ == "__main__":
    main()
