"""Benchmark: sustained `salvo stream` throughput on the mock cluster against `salvo embed` on the
same texts, and consume-to-delivery latency under paced load at fractions of that throughput.

    SALVO_BIN=build/salvo SALVO_MOCK_CLUSTER=build/tests/kafka/salvo_mock_cluster \
        /usr/bin/python3 tests/kafka/bench_stream.py [--rows 4000] [--threads 2]
"""
import argparse
import gzip
import json
import os
import re
import subprocess
import tempfile
import time

from kafka_harness import MODEL, ROOT, SALVO, MockCluster, Worker, consume, produce, wait_for

CORPUS = os.path.join(ROOT, "tests", "data", "texts", "debian_descriptions.jsonl.gz")


def requests(n):
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return [json.dumps({"id": i, "text": rows[i % len(rows)]["text"]}).encode() for i in range(n)]


def embed_rate(lines, threads, max_length):
    with tempfile.TemporaryDirectory() as tmp:
        src, out = os.path.join(tmp, "in.jsonl"), os.path.join(tmp, "out.jsonl")
        with open(src, "wb") as f:
            f.write(b"\n".join(lines) + b"\n")
        err = subprocess.run([SALVO, "embed", "--model", MODEL, "--input", src, "--output", out, "--threads",
                              str(threads), "--max-length", str(max_length)], check=True, capture_output=True,
                             text=True).stderr
    return float(re.search(r"([\d.]+) rows/s", err).group(1))


def stream_rate(lines, threads, max_length):
    """Rows/s between the 10th percentile and the last response of a backlog of `lines`."""
    cluster = MockCluster({"in": 4, "out": 4})
    try:
        produce(cluster, "in", lines)
        w = Worker(cluster, threads=threads, extra=["--max-length", str(max_length)])
        try:
            ok = wait_for(lambda: len(consume(cluster, "out", committed_only=False)) >= len(lines), 600, 1)
            assert ok, w.stderr()[-2000:]
            w.terminate()
        finally:
            w.close()
        ts = sorted(m["ts"] for m in consume(cluster, "out", committed_only=False))
        start = len(ts) // 10
        return (len(ts) - start) / ((ts[-1] - ts[start]) / 1000.0)
    finally:
        cluster.stop()


def paced_latency(lines, rate, seconds, threads, max_length):
    """Produces at `rate` requests/s for `seconds`; returns the worker's exit statistics."""
    cluster = MockCluster({"in": 4, "out": 4})
    try:
        # The mock broker holds an empty fetch for fetch.wait.max.ms even when data arrives (a real
        # broker answers at once); without a short wait, requests arrive in 500 ms bursts.
        w = Worker(cluster, threads=threads, extra=["--max-length", str(max_length), "-X", "fetch.wait.max.ms=5"])
        try:
            produce(cluster, "in", lines[:4])  # warm-up: wait until the worker has joined and answers
            assert wait_for(lambda: len(consume(cluster, "out", committed_only=False)) >= 4, 120, 0.5)
            n = int(rate * seconds)
            kcat = subprocess.Popen(["kcat", "-P", "-q", "-b", cluster.bootstrap, "-t", "in", "-X", "linger.ms=1"],
                                    stdin=subprocess.PIPE)
            start = time.time()
            for i in range(n):
                delay = start + i / rate - time.time()
                if delay > 0:
                    time.sleep(delay)
                kcat.stdin.write(lines[(4 + i) % len(lines)] + b"\n")
                kcat.stdin.flush()
            kcat.stdin.close()
            kcat.wait()
            wait_for(lambda: len(consume(cluster, "out", committed_only=False)) >= n + 4, 120, 0.5)
            w.terminate()
            return [s for s in w.stats() if s["event"] == "exit"][0]
        finally:
            w.close()
    finally:
        cluster.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    lines = requests(args.rows)
    ratios, streams = [], []
    for _ in range(args.repeat):
        embed = embed_rate(lines, args.threads, args.max_length)
        stream = stream_rate(lines, args.threads, args.max_length)
        ratios.append(stream / embed)
        streams.append(stream)
        print(f"embed {embed:.0f} rows/s, stream {stream:.0f} rows/s, ratio {stream / embed:.2f}", flush=True)
    stream = sorted(streams)[len(streams) // 2]
    print(f"median ratio {sorted(ratios)[len(ratios) // 2]:.2f}, median stream {stream:.0f} rows/s", flush=True)
    for fraction in (0.5, 0.9):
        s = paced_latency(lines, fraction * stream, args.seconds, args.threads, args.max_length)
        print(f"load {fraction:.0%} ({fraction * stream:.0f} req/s): p50 {s['p50_ms']:.1f} ms, "
              f"p99 {s['p99_ms']:.1f} ms, {s['responses']} responses, {s['batches']} batches", flush=True)


if __name__ == "__main__":
    main()
