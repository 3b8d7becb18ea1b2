#!/usr/bin/env python3
"""Peak memory of salvo embed against input size: it should be the model's weights plus a working set
bounded by the batch budget, whatever the size of the input.

Writes JSONL inputs of the given sizes (real Debian package descriptions, repeated with fresh ids), runs
`salvo embed` on each with a random-weight model of the given shape, and prints the peak resident set
(getrusage of the child) next to the size of the weights as loaded (float32) and the input size.

Usage: tools/bench/bench_memory.py [--shape tiny] [--sizes-mb 10,1024] [--dtype f32] [--salvo build/salvo]
"""
import argparse
import gzip
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOKENIZER = os.path.join(REPO, "examples", "debian-sections", "tokenizer.json")
CORPUS = os.path.join(REPO, "tests", "data", "texts", "debian_descriptions.jsonl.gz")


def write_input(path, size_bytes):
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    written, i = 0, 0
    with open(path, "w", encoding="utf-8") as out:
        while written < size_bytes:
            line = json.dumps({"id": i, "text": texts[i % len(texts)]}, ensure_ascii=False) + "\n"
            out.write(line)
            written += len(line.encode("utf-8"))
            i += 1
    return i


def peak_rss_of(cmd):
    """Runs cmd in a fresh process and returns (peak RSS in MiB, stderr, wall seconds)."""
    # A small wrapper process so that getrusage(RUSAGE_CHILDREN) covers this run only.
    code = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
            "sys.stderr.write(p.stderr); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(p.returncode)")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return int(proc.stdout.strip()) / 1024.0, proc.stderr, seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--salvo", default=os.path.join(REPO, "build", "salvo"))
    ap.add_argument("--shape", default="tiny")
    ap.add_argument("--sizes-mb", default="10,1024")
    ap.add_argument("--dtype", default="f32")
    ap.add_argument("--output", default="npy", choices=["npy", "jsonl", "parquet"])
    ap.add_argument("--tmp", default=None, help="folder for the inputs and outputs (default: a temporary one)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="salvo-mem-", dir=args.tmp) as tmp:
        model = os.path.join(tmp, "model")
        subprocess.run(["/usr/bin/python3", os.path.join(REPO, "tools", "python", "make_random_bert.py"), "--shape",
                        args.shape, "--tokenizer", TOKENIZER, "--out", model, "--seed", "1"], check=True,
                       capture_output=True)
        weights_mib = os.path.getsize(os.path.join(model, "model.safetensors")) / 2**20
        print(f"model: {args.shape}, model.safetensors {weights_mib:.1f} MiB (float32), dtype {args.dtype}",
              flush=True)
        print("| input | rows | speed | wall s | peak RSS MiB |")
        print("| --- | --- | --- | --- | --- |")
        for size_mb in (float(s) for s in args.sizes_mb.split(",")):
            inp = os.path.join(tmp, "in.jsonl")
            rows = write_input(inp, int(size_mb * 2**20))
            out = os.path.join(tmp, "out." + args.output) if args.output != "parquet" else os.path.join(tmp, "out/")
            rss, err, seconds = peak_rss_of([args.salvo, "embed", "--model", model, "--input", inp, "--output", out,
                                             "--dtype", args.dtype])
            m = re.search(r"salvo embed: (\d+) rows, (\d+) errors, ([\d.]+) s, ([\d.]+) rows/s, ([\d.]+[kMG]?) tokens/s",
                          err)
            tokens = m.group(5) + " tokens/s" if m else "?"
            print(f"| {size_mb:g} MiB | {rows} | {tokens} | {seconds:.0f} | {rss:.0f} |", flush=True)
            os.remove(inp)
            if os.path.isfile(out):
                os.remove(out)


if __name__ == "__main__":
    main()
