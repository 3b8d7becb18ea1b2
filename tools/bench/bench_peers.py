#!/usr/bin/env python3
"""salvo next to the strongest CPU engines for encoders: one run, one machine, same inputs, same threads.

Set up once (PyPI peers into their own venv, checkpoints converted for each peer), build salvo, then run:

    tools/bench/setup_peers.sh
    nice ninja -C build salvo machine_peaks latency_bench
    ~/.cache/salvo/bench-venv/bin/python tools/bench/bench_peers.py

It prints one Markdown report on stdout (progress on stderr), draws docs/img/bench_peers.png and, with --json,
keeps every measurement. A rerun after a change is the same line.

Systems (--systems takes the families; --precisions filters the rows):
  salvo          build/salvo embed end to end (JSONL in, .npy out; tokenisation included; the job time salvo
                 reports, model loading excluded), --dtype f32|bf16|int8, --threads N, run with --replicas 1
                 and with --replicas 2 in every repeat, the better median reported (the table says which);
                 latency through the C++ Session API (build/tools/bench/latency_bench: Session::run on one text)
  torch          PyTorch 2.x from PyPI, transformers' AutoModel (SDPA attention): f32; bf16 under
                 torch.autocast; int8 by torch.ao.quantization.quantize_dynamic of the Linear layers
  torch-compile  the same under torch.compile(dynamic=True) (inductor), f32 and bf16 autocast
  zentorch       AMD's PyTorch extension: torch.compile(backend="zentorch", dynamic=True), f32 and bf16 autocast
  ort            ONNX Runtime for Python on the graph fused by onnxruntime.transformers' optimizer (f32) and
                 that graph quantised by quantize_dynamic (int8 weights per channel, uint8 activations)
  openvino       OpenVINO runtime: f32 and bf16 (INFERENCE_PRECISION_HINT) on the converted model, int8 weights
                 only (NNCF compress_weights), int8 weights and activations (NNCF quantize, 300 calibration rows)
  ct2            CTranslate2's Encoder: float32, int8_float32, bfloat16 (when its CPU build offers it)
  legacy         the previous benchmark's peers: Debian's PyTorch 1.13 (salvo_ref's BERT, batches in input
                 order) and onnxruntime-node from npm (tools/bench/ort_embed.js, batches of 64 in input order)
Every peer is a long-lived process (tools/bench/peer_worker.py) so that loading and compiling happen once;
each gets N threads (torch.set_num_threads, intra_op_num_threads, INFERENCE_NUM_THREADS, intra_threads,
OMP_NUM_THREADS, RAYON_NUM_THREADS for the tokenizer).

Workloads (--workloads):
  fixed    every row exactly 128 tokens (real text, truncated), batches of 32 rows: salvo end to end with
           --batch-rows 32, the peers on token ids (no tokenisation)
  text     real Debian package descriptions (tests/data/texts: English, German, Spanish, French, Russian,
           Japanese, Chinese, in corpus order), text in, L2-normalised mean-pooled embeddings out, truncated at
           --max-length. Peers: Hugging Face tokenizers, rows sorted by length, batches of --peer-batch rows
           padded to their longest (sentence-transformers' way), rows back in input order. Accuracy: the
           minimum per-row cosine of every system against PyTorch f32 on these rows
  latency  one row at a time, 16 and 128 tokens, text in, embedding out: p50 and p99 of --latency-iterations
           calls per system (split over the repeats)
Ceilings: build/tools/bench/machine_peaks (FMA, bf16 and VNNI dot-product loops); GFLOP/s count the useful work
as tools/bench/bench_embed.py does (dense layers per real token, two attention products per sequence).

Repeats are interleaved (every system once, in a rotated order, then again), medians reported. The conditions
(date, commit, CPU, load average before and after, every version) head the report.
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

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
CORPUS = os.path.join(REPO, "tests", "data", "texts", "debian_descriptions.jsonl.gz")
DEFAULT_CACHE = os.environ.get("SALVO_BENCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "salvo",
                                                                    "bench-peers")

import numpy as np  # noqa: E402

# (family, worker, variant, precision class, label). The worker is the peer_worker --system, or salvo /
# ort-node, which the driver runs itself.
SYSTEMS = [
    ("salvo", "salvo", "f32", "f32", "salvo f32"),
    ("salvo", "salvo", "bf16", "bf16", "salvo bf16"),
    ("salvo", "salvo", "int8", "int8", "salvo int8"),
    ("torch", "torch", "f32", "f32", "PyTorch f32"),
    ("torch", "torch", "bf16", "bf16", "PyTorch bf16 autocast"),
    ("torch", "torch", "int8", "int8", "PyTorch int8 dynamic"),
    ("torch-compile", "torch", "compile-f32", "f32", "torch.compile f32"),
    ("torch-compile", "torch", "compile-bf16", "bf16", "torch.compile bf16"),
    ("zentorch", "torch", "zentorch-f32", "f32", "zentorch f32"),
    ("zentorch", "torch", "zentorch-bf16", "bf16", "zentorch bf16"),
    ("ort", "ort", "f32", "f32", "ONNX Runtime f32 fused"),
    ("ort", "ort", "int8", "int8", "ONNX Runtime int8 dynamic"),
    ("openvino", "openvino", "f32", "f32", "OpenVINO f32"),
    ("openvino", "openvino", "bf16", "bf16", "OpenVINO bf16"),
    ("openvino", "openvino", "int8w", "int8", "OpenVINO int8 weights"),
    ("openvino", "openvino", "int8", "int8", "OpenVINO int8 w+a"),
    ("ct2", "ct2", "f32", "f32", "CTranslate2 float32"),
    ("ct2", "ct2", "int8", "int8", "CTranslate2 int8_float32"),
    ("ct2", "ct2", "bf16", "bf16", "CTranslate2 bfloat16"),
    ("legacy", "debian-torch", "f32", "f32", "PyTorch 1.13 (Debian)"),
    ("legacy", "ort-node", "f32", "f32", "onnxruntime-node"),
]
FAMILIES = ["salvo", "torch", "torch-compile", "zentorch", "ort", "openvino", "ct2", "legacy"]
PEAK_KEY = {"f32": ("fp32_fma_gflops", "FMA peak"), "bf16": ("bf16_dot_gflops", "bf16 dot peak"),
            "int8": ("int8_dot_gops", "VNNI peak")}
FIXED_LEN = 128
LATENCY_LENGTHS = (16, 128)
TARGETS = {"fixed": 1.3, "text": 2.0}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, env=None):
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-1500:]}")
    return proc


# ---------------------------------------------------------------------------------------------------------
# Inputs


def corpus_texts(n, lang=None):
    out = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if lang is None or row["lang"] == lang:
                out.append(row["text"])
                if len(out) == n:
                    break
    if len(out) < n:
        raise SystemExit(f"{CORPUS} has only {len(out)} rows{' in ' + lang if lang else ''}, {n} asked for")
    return out


def exact_length_texts(tok, length, n):
    """n texts (English descriptions joined end to end) each cut to a character prefix that the tokenizer,
    truncating at `length`, turns into exactly `length` tokens; and those ids."""
    tok.enable_truncation(length)
    texts, ids = [], []
    source = iter(corpus_texts(10000, "en"))
    buf = ""
    while len(texts) < n:
        while True:
            enc = tok.encode(buf)
            if len(enc.ids) >= length and buf:
                break
            buf = (buf + " " + next(source)).strip()
        # Cut after the last real token kept (the one before the final special token), then recheck.
        end = enc.offsets[length - 2][1]
        text = buf[:end]
        enc2 = tok.encode(text)
        if len(enc2.ids) != length:
            text, enc2 = buf, enc
        texts.append(text)
        ids.append(enc2.ids)
        buf = buf[end:].strip()
    return texts, np.array(ids, dtype=np.int64)


def write_jsonl(path, texts):
    with open(path, "w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n")


def model_flops(config, lengths):
    """Useful FLOPs, as bench_embed.py counts them: dense layers per real token, two attention products
    per sequence (no padding, no pooling, no layer norms)."""
    h, inter, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    tokens = int(sum(lengths))
    dense = 2 * tokens * (4 * h * h + 2 * h * inter)
    attention = sum(4 * int(n) * int(n) * h for n in lengths)
    return layers * (dense + attention)


def min_cosine(a, b):
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return float(np.min(np.sum(a * b, axis=1)))


# ---------------------------------------------------------------------------------------------------------
# Systems


class PeerProcess:
    """A tools/bench/peer_worker.py process serving JSON-line requests."""

    def __init__(self, system, python, threads):
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), RAYON_NUM_THREADS=str(threads),
                   TOKENIZERS_PARALLELISM="true", MKL_NUM_THREADS=str(threads))
        self.system = system
        self.proc = subprocess.Popen([python, os.path.join(HERE, "peer_worker.py"), "--system", system, "--threads",
                                      str(threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=env, stderr=None if os.environ.get("SALVO_BENCH_VERBOSE") else
                                     open(os.path.join(tempfile.gettempdir(), f"salvo-bench-{system}-{os.getpid()}"
                                                       ".log"), "w"))

    def ask(self, req):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"peer_worker {self.system} exited ({self.proc.wait()}); see its log in "
                               f"{tempfile.gettempdir()}/salvo-bench-{self.system}-{os.getpid()}.log")
        answer = json.loads(line)
        if not answer.get("ok"):
            raise RuntimeError(answer.get("error"))
        return answer

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write('{"op": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


class Bench:
    def __init__(self, args):
        self.args = args
        self.peers = {}
        self.failed = {}  # (model, label) -> reason; a system that failed once is not retried for that model
        self.notes = []

    def peer(self, family, worker):
        key = family if worker != "debian-torch" else "debian-torch"
        if key not in self.peers:
            python = "/usr/bin/python3" if worker == "debian-torch" else sys.executable
            self.peers[key] = PeerProcess(worker, python, self.args.threads)
        return self.peers[key]

    def close(self):
        for p in self.peers.values():
            p.close()

    # salvo -------------------------------------------------------------------------------------------------
    def salvo_embed(self, model, inp, out, max_len, dtype, replicas, extra):
        a = self.args
        proc = run([a.salvo, "embed", "--model", model, "--input", inp, "--output", out, "--max-length",
                    str(max_len), "--threads", str(a.threads), "--dtype", dtype, "--replicas", str(replicas), *extra])
        m = re.search(r"salvo \w+: (\d+) rows, (\d+) errors, ([\d.]+) s", proc.stderr)
        if not m:
            raise RuntimeError(f"no summary line in salvo's stderr: {proc.stderr[-1000:]}")
        if int(m.group(2)) != 0:
            raise RuntimeError(f"salvo reported {m.group(2)} error rows")
        if dtype != "f32" and re.search(r"fall(s|ing)? back|falls back to f", proc.stderr, re.I):
            raise RuntimeError(f"salvo fell back from {dtype}: {proc.stderr[-500:]}")
        return float(m.group(3))

    def salvo_latency(self, model, text_file, max_len, dtype, iterations):
        exe = os.path.join(os.path.dirname(os.path.abspath(self.args.salvo)), "tools", "bench", "latency_bench")
        if not os.path.exists(exe):
            raise RuntimeError(f"{exe} is not built (ninja -C build latency_bench)")
        proc = run([exe, "--model", model, "--text-file", text_file, "--dtype", dtype, "--threads",
                    str(self.args.threads), "--max-length", str(max_len), "--iterations", str(iterations)])
        return json.loads(proc.stdout.strip().splitlines()[-1])

    # onnxruntime-node ----------------------------------------------------------------------------------------
    def ort_node(self, onnx, workload, data, max_len, tokenizer, out=None):
        cmd = ["node", os.path.join(HERE, "ort_embed.js"), "--model", onnx, "--threads", str(self.args.threads),
               "--repeats", "1"]
        if workload == "fixed":
            cmd += ["--batch", "32", "--fixed", f"{data}x{FIXED_LEN}"]
        else:
            cmd += ["--batch", "64", "--texts", data, "--tokenizer", tokenizer, "--max-length", str(max_len)]
            if out:
                cmd += ["--out", out]
        res = json.loads(run(cmd).stdout.strip().splitlines()[-1])
        return res["seconds"][0], res.get("ort_version")


def selected_systems(args):
    fams = args.systems.split(",")
    for f in fams:
        if f not in FAMILIES:
            raise SystemExit(f"unknown system family {f!r}; known: {', '.join(FAMILIES)}")
    precs = args.precisions.split(",")
    return [s for s in SYSTEMS if s[0] in fams and s[3] in precs]


# ---------------------------------------------------------------------------------------------------------
# Measurements


def machine_peaks(args):
    exe = os.path.join(os.path.dirname(os.path.abspath(args.salvo)), "tools", "bench", "machine_peaks")
    proc = run([exe] + (["--quick"] if args.quick_peaks else []),
               env=dict(os.environ, OMP_NUM_THREADS=str(args.threads)))
    return json.loads(proc.stdout)


def bench_model(bench, name, systems, tmp, peaks, results):
    args = bench.args
    from tokenizers import Tokenizer

    folder = os.path.join(args.cache, name)
    hf = os.path.join(folder, "hf")
    manifest = json.load(open(os.path.join(folder, "manifest.json")))
    config = json.load(open(os.path.join(hf, "config.json")))
    tok_path = os.path.join(hf, "tokenizer.json")
    tok = Tokenizer.from_file(tok_path)
    tok.no_padding()
    is_bert = config["model_type"] == "bert"
    steps = manifest.get("steps", {})
    results["models"][name] = {"config": {k: config[k] for k in ("model_type", "num_hidden_layers", "hidden_size",
                                                                   "num_attention_heads", "intermediate_size")},
                               "ort_fusions": steps.get("ort_optimize", {}).get("fusions"),
                               "conversion_failures": {k: v["error"] for k, v in steps.items() if not v.get("ok")}}

    def usable(sys_entry):
        fam, worker, variant, _, label = sys_entry
        if worker == "salvo":
            return probe_salvo(bench, name, hf, tmp)
        if worker in ("debian-torch", "ort-node") and not is_bert:
            return "runs salvo_ref's BERT only"
        if worker == "ort-node" and not os.path.exists(os.path.join(folder, "legacy.onnx")):
            return "no legacy.onnx (setup_peers.sh)"
        need = {"ort": "ort_optimize" if variant == "f32" else "ort_quantize", "ct2": "ct2_convert",
                "openvino": {"f32": "ov_convert", "bf16": "ov_convert", "int8w": "ov_int8_weights",
                             "int8": "ov_int8"}.get(variant)}.get(worker)
        if need and not steps.get(need, {}).get("ok"):
            return f"conversion failed: {steps.get(need, {}).get('error', 'not converted')[:300]}"
        return None

    runnable = []
    for s in systems:
        why = usable(s)
        if why:
            bench.failed[(name, s[4])] = why
            log(f"[{name}] {s[4]}: skipped ({why})")
        else:
            runnable.append(s)

    for workload in args.workloads.split(","):
        if workload == "fixed":
            bench_throughput(bench, name, hf, folder, config, tok, runnable, "fixed", tmp, peaks, results)
        elif workload == "text":
            bench_throughput(bench, name, hf, folder, config, tok, runnable, "text", tmp, peaks, results)
        elif workload == "latency":
            bench_latency(bench, name, hf, folder, tok, runnable, tmp, results)
        else:
            raise SystemExit(f"unknown workload {workload!r} (fixed, text, latency)")
    for p in bench.peers.values():  # free this checkpoint's engines before the next one
        p.close()
    bench.peers.clear()


def probe_salvo(bench, name, hf, tmp):
    """None when salvo embed runs this checkpoint, else its error line (MPNet before it is supported)."""
    inp = os.path.join(tmp, f"probe-{name}.jsonl")
    write_jsonl(inp, ["probe"])
    try:
        bench.salvo_embed(hf, inp, os.path.join(tmp, "probe.npy"), 32, "f32", 1, ["--quiet"])
    except RuntimeError as e:
        if "no summary line" in str(e):
            return None  # --quiet has no summary line: it ran
        return str(e).splitlines()[-1][-300:]
    return None


def rotated(items, rep):
    k = rep % len(items) if items else 0
    return items[k:] + items[:k]


def bench_throughput(bench, name, hf, folder, config, tok, systems, workload, tmp, peaks, results):
    args = bench.args
    if workload == "fixed":
        n = args.fixed_rows if args.fixed_rows else (256 if config["hidden_size"] <= 384 else 64)
        texts, ids = exact_length_texts(tok, FIXED_LEN, n)
        max_len, peer_batch, salvo_extra = FIXED_LEN, 32, ["--batch-rows", "32", "--batch-tokens", str(32 * FIXED_LEN)]
        lengths = [FIXED_LEN] * n
        ids_path = os.path.join(tmp, f"{name}-fixed-ids.npy")
        np.save(ids_path, ids)
    else:
        n = args.text_rows if config["hidden_size"] <= 384 or not args.base_text_rows else args.base_text_rows
        texts = corpus_texts(n)
        max_len, peer_batch, salvo_extra = args.max_length, args.peer_batch, []
        tok.enable_truncation(max_len)
        encs = tok.encode_batch(texts)
        lengths = [len(e.ids) for e in encs]
        ids_path = os.path.join(tmp, f"{name}-text-ids.json")
        json.dump([e.ids for e in encs], open(ids_path, "w"))
    inp = os.path.join(tmp, f"{name}-{workload}.jsonl")
    write_jsonl(inp, texts)
    tokens = int(sum(lengths))
    flops = model_flops(config, lengths)
    log(f"\n[{name}] {workload}: {n} rows, {tokens} tokens, {flops / 1e9:.0f} GFLOP per pass")

    times = {}      # label -> [seconds]
    tok_times = {}  # label -> [tokenize seconds]
    salvo_rep = {}  # label -> {replicas: [seconds]}
    padded = {}
    outputs = {}
    extra_info = {}
    for rep in range(args.repeats):
        for s in rotated(systems, rep):
            fam, worker, variant, prec, label = s
            if (name, label) in bench.failed:
                continue
            out = os.path.join(tmp, f"out-{name}-{workload}-{fam}-{variant}.npy")
            try:
                if worker == "salvo":
                    per = salvo_rep.setdefault(label, {})
                    for r in args.replicas:
                        per.setdefault(r, []).append(bench.salvo_embed(hf, inp, out, max_len, variant, r, salvo_extra))
                        if workload == "text":
                            outputs[label] = np.load(out)
                    continue
                if worker == "ort-node":
                    data = n if workload == "fixed" else inp
                    sec, ver = bench.ort_node(os.path.join(folder, "legacy.onnx"), workload, data, max_len,
                                              os.path.join(hf, "tokenizer.json"), out if workload == "text" else None)
                    times.setdefault(label, []).append(sec)
                    extra_info["onnxruntime-node"] = ver
                    if workload == "text":
                        outputs[label] = np.load(out)
                    continue
                req = {"op": "run", "folder": folder, "variant": variant, "workload": workload, "batch": peer_batch,
                       "max_length": max_len, "out": out}
                if workload == "fixed":
                    req["ids"] = ids_path
                elif worker == "debian-torch":
                    req["ids"], req["batch"] = ids_path, 64
                else:
                    req["texts"] = inp
                ans = bench.peer(fam, worker).ask(req)
                times.setdefault(label, []).append(ans["seconds"])
                if ans.get("tokenize_seconds") is not None:
                    tok_times.setdefault(label, []).append(ans["tokenize_seconds"])
                elif workload == "text":
                    extra_info.setdefault("model_only", []).append(label)
                padded[label] = ans.get("padded_tokens")
                if "precision" in ans:
                    extra_info[f"{label} precision"] = ans["precision"]
                if workload == "text":
                    outputs[label] = np.load(out)
            except Exception as e:  # noqa: BLE001 - one failing system must not end the run
                bench.failed[(name, label)] = f"{workload}: {str(e).strip().splitlines()[-1][:400]}"
                log(f"[{name}] {label}: FAILED ({bench.failed[(name, label)]})")
        done = {**{k: v[-1] for k, v in times.items() if len(v) > rep},
                **{f"{k} r{r}": v[-1] for k, per in salvo_rep.items() for r, v in per.items() if len(v) > rep}}
        log(f"[{name}] {workload} repeat {rep + 1}/{args.repeats}: " +
            ", ".join(f"{k} {v:.2f}s" for k, v in done.items()))

    med = {k: statistics.median(v) for k, v in times.items()}
    salvo_choice = {}
    for label, per in salvo_rep.items():
        meds = {r: statistics.median(v) for r, v in per.items()}
        best = min(meds, key=meds.get)
        med[label] = meds[best]
        salvo_choice[label] = {"replicas": best, "medians": meds}
    # Debian's torch times the model on ids: add the tokenisation the PyTorch (PyPI) worker measured.
    if workload == "text":
        hf_tok = [t for k, v in tok_times.items() if k.startswith("PyTorch f32") for t in v]
        if hf_tok:
            for label in extra_info.get("model_only", []):
                if label in med:
                    med[label] += statistics.median(hf_tok)
            extra_info["hf_tokenize_seconds"] = statistics.median(hf_tok)
    cos = {}
    ref = outputs.get("PyTorch f32")
    if ref is not None:
        cos = {k: min_cosine(v, ref) for k, v in outputs.items()}
    r = dict(model=name, workload=workload, rows=n, tokens=tokens, flops=flops, seconds=med, all_seconds=times,
             salvo_runs={k: {str(rr): v for rr, v in per.items()} for k, per in salvo_rep.items()},
             salvo_replicas=salvo_choice, padded_tokens=padded, min_cosine=cos, info=extra_info,
             tokenize_seconds={k: statistics.median(v) for k, v in tok_times.items()},
             max_length=max_len, peer_batch=peer_batch)
    results["throughput"].append(r)
    print_throughput(r, peaks, sys.stderr)


def bench_latency(bench, name, hf, folder, tok, systems, tmp, results):
    args = bench.args
    per_rep = max(1, args.latency_iterations // args.repeats)
    for length in LATENCY_LENGTHS:
        texts, _ = exact_length_texts(tok, length, 1)
        text = texts[0]
        text_file = os.path.join(tmp, f"latency-{name}-{length}.txt")
        open(text_file, "w", encoding="utf-8").write(text)
        samples = {}
        for rep in range(args.repeats):
            for s in rotated(systems, rep):
                fam, worker, variant, prec, label = s
                if (name, label) in bench.failed or worker in ("ort-node", "debian-torch"):
                    continue
                try:
                    if worker == "salvo":
                        ans = bench.salvo_latency(hf, text_file, length, variant, per_rep)
                    else:
                        ans = bench.peer(fam, worker).ask({"op": "run", "folder": folder, "variant": variant,
                                                           "workload": "latency", "text": text, "max_length": length,
                                                           "iterations": per_rep})
                    if ans["tokens"] != length:
                        raise RuntimeError(f"the row has {ans['tokens']} tokens, not {length}")
                    samples.setdefault(label, []).extend(ans["samples"])
                except Exception as e:  # noqa: BLE001
                    bench.failed[(name, label)] = f"latency: {str(e).strip().splitlines()[-1][:400]}"
                    log(f"[{name}] {label}: FAILED ({bench.failed[(name, label)]})")
            log(f"[{name}] latency {length} tokens repeat {rep + 1}/{args.repeats}")
        stats = {k: {"p50": float(np.percentile(v, 50)), "p99": float(np.percentile(v, 99)), "n": len(v)}
                 for k, v in samples.items()}
        r = dict(model=name, length=length, latency=stats)
        results["latency"].append(r)
        for k, v in stats.items():
            log(f"  {k:28} p50 {v['p50'] * 1e3:8.2f} ms  p99 {v['p99'] * 1e3:8.2f} ms")


# ---------------------------------------------------------------------------------------------------------
# Report


def prec_of(label):
    for s in SYSTEMS:
        if s[4] == label:
            return s[3]
    return "f32"


def best_peer(seconds, prec, key=min):
    peers = {k: v for k, v in seconds.items() if not k.startswith("salvo") and prec_of(k) == prec}
    if not peers:
        return None, None
    k = key(peers, key=peers.get)
    return k, peers[k]


def print_throughput(r, peaks, f):
    s = r["seconds"]
    print(f"\n{r['model']} / {r['workload']}: {r['rows']} rows, {r['tokens']} tokens", file=f)
    for label in sorted(s, key=lambda k: s[k]):
        g = r["flops"] / s[label] / 1e9
        peak = peaks[PEAK_KEY[prec_of(label)][0]]
        line = (f"  {label:28} {r['rows'] / s[label]:9.1f} rows/s {r['tokens'] / s[label]:9.0f} tokens/s "
                f"{g:6.0f} GFLOP/s ({g / peak:.0%} of {PEAK_KEY[prec_of(label)][1]})")
        if label in r["min_cosine"]:
            line += f"  min cos {r['min_cosine'][label]:.5f}"
        print(line, file=f)


def fmt_rate(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def markdown(results, args, bench):
    peaks = results["peaks"]
    c = results["conditions"]
    lines = [f"Run {c['date']}, commit `{c['commit']}`, {c['cpu']} ({c['cores']} cores online), {args.threads} threads "
             f"for every system, {args.repeats} interleaved repeats (medians). Load average before: "
             f"{c['load_before']}; after: {c['load_after']}.", "",
             f"Ceilings measured in this run ({peaks['threads']} threads): fp32 FMA {peaks['fp32_fma_gflops']:.0f} GFLOP/s, "
             f"bf16 dot {peaks['bf16_dot_gflops']:.0f} GFLOP/s, int8 VNNI dot {peaks['int8_dot_gops']:.0f} GOP/s; "
             f"oneDNN matmul at its best shape: f32 {peaks['matmul_f32_gflops']:.0f}, bf16 {peaks['matmul_bf16_gflops']:.0f}, "
             f"int8 {peaks['matmul_int8_gops']:.0f}.", ""]
    lines += ["| model | workload | system | rows/s | tokens/s | GFLOP/s (% of peak) | salvo / best peer, same precision | min cosine vs PyTorch f32 |",
              "| --- | --- | --- | ---: | ---: | ---: | --- | ---: |"]
    for r in results["throughput"]:
        s = r["seconds"]
        for label in sorted(s, key=lambda k: ({"f32": 0, "bf16": 1, "int8": 2}[prec_of(k)], not k.startswith("salvo"), s[k])):
            prec = prec_of(label)
            g = r["flops"] / s[label] / 1e9
            gp = f"{g:.0f} ({g / peaks[PEAK_KEY[prec][0]]:.0%})"
            ratio = ""
            name = label
            if label.startswith("salvo"):
                bp, bs = best_peer(s, prec)
                if bp:
                    ratio = f"**{bs / s[label]:.2f}x** {bp}"
                rc = r["salvo_replicas"].get(label, {})
                if rc:
                    name = f"**{label}** (replicas {rc['replicas']})"
            cos = r["min_cosine"].get(label)
            lines.append(f"| {r['model']} | {r['workload']} ({r['rows']} rows) | {name} | {fmt_rate(r['rows'] / s[label])} | "
                         f"{r['tokens'] / s[label]:,.0f} | {gp} | {ratio} | {'' if cos is None else f'{cos:.5f}'} |")
    if results["latency"]:
        lines += ["", "Single-sequence latency (batch 1, text in, embedding out; salvo through `Session::run`):", "",
                  "| model | tokens | system | p50 ms | p99 ms | salvo p50 / best peer p50, same precision |",
                  "| --- | ---: | --- | ---: | ---: | --- |"]
        for r in results["latency"]:
            lat = r["latency"]
            p50 = {k: v["p50"] for k, v in lat.items()}
            for label in sorted(lat, key=lambda k: ({"f32": 0, "bf16": 1, "int8": 2}[prec_of(k)], not k.startswith("salvo"), p50[k])):
                ratio = ""
                if label.startswith("salvo"):
                    bp, bs = best_peer(p50, prec_of(label))
                    if bp:
                        ratio = f"**{p50[label] / bs:.2f}x** {bp}"
                lines.append(f"| {r['model']} | {r['length']} | {label} | {lat[label]['p50'] * 1e3:.2f} | "
                             f"{lat[label]['p99'] * 1e3:.2f} | {ratio} |")
    lines += ["", "Targets, from this run:", ""] + targets(results)
    if bench.failed:
        lines += ["", "Not measured:", ""]
        for (model, label), why in sorted(bench.failed.items()):
            lines.append(f"- {model}, {label}: {why}")
    fus = {m: v["ort_fusions"] for m, v in results["models"].items() if v.get("ort_fusions")}
    if fus:
        lines += ["", "ONNX Runtime transformer optimizer fusions (operator counts in the optimised graph): " +
                  "; ".join(f"{m}: " + ", ".join(f"{k} {v}" for k, v in d.items()) for m, d in fus.items()) + "."]
    for r in results["throughput"]:
        if r["salvo_replicas"]:
            lines.append(f"- {r['model']} {r['workload']}: salvo medians by --replicas: " + "; ".join(
                f"{k}: " + ", ".join(f"{rr} -> {v:.2f} s" for rr, v in sorted(c2['medians'].items()))
                for k, c2 in r["salvo_replicas"].items()))
        if r["info"].get("hf_tokenize_seconds"):
            lines.append(f"- {r['model']} text: Hugging Face tokenizers took {r['info']['hf_tokenize_seconds']:.2f} s of "
                         f"the PyTorch pass ({args.threads} threads); added to the Debian PyTorch row's model time")
        extra = {k: v for k, v in r["info"].items() if k.endswith("precision")}
        if extra:
            lines.append(f"- {r['model']} {r['workload']}: OpenVINO's effective inference precision: " +
                         ", ".join(f"{k[:-10]} {v}" for k, v in extra.items()))
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(c["versions"].items())) + "."]
    lines += [f"Command: `{c['command']}`"]
    return "\n".join(lines)


def targets(results):
    out = []
    for r in results["throughput"]:
        s = r["seconds"]
        goal = TARGETS[r["workload"]]
        for prec in ("f32", "bf16", "int8"):
            label = f"salvo {prec}"
            if label not in s:
                continue
            bp, bs = best_peer(s, prec)
            if not bp:
                continue
            ratio = bs / s[label]
            mark = "met" if ratio >= goal else f"MISSED by {(goal - ratio) / goal:.0%}"
            out.append(f"- {r['model']} {r['workload']} {prec}: salvo {ratio:.2f}x the best peer ({bp}); "
                       f"target >= {goal}x: {mark}")
    for r in results["latency"]:
        if r["length"] != 128:
            continue
        p50 = {k: v["p50"] for k, v in r["latency"].items()}
        for prec in ("f32", "bf16", "int8"):
            label = f"salvo {prec}"
            if label not in p50:
                continue
            bp, bs = best_peer(p50, prec)
            if not bp:
                continue
            mark = "met" if p50[label] <= bs else f"MISSED by {(p50[label] - bs) / bs:.0%}"
            out.append(f"- {r['model']} latency, 128 tokens, {prec}: salvo p50 {p50[label] * 1e3:.2f} ms, best peer "
                       f"{bs * 1e3:.2f} ms ({bp}); target <= the best peer: {mark}")
    return out


def chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("tp", r) for r in results["throughput"]] + [("lat", r) for r in results["latency"]]
    if not panels:
        return
    cols = 2
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(14, 4.2 * rows), squeeze=False)
    colors = {"f32": "#4c72b0", "bf16": "#dd8452", "int8": "#55a868"}
    for ax, (kind, r) in zip(axes.flat, panels):
        if kind == "tp":
            vals = {k: r["tokens"] / v for k, v in r["seconds"].items()}
            title = f"{r['model']} {r['workload']} ({r['rows']} rows): tokens/s"
        else:
            vals = {k: v["p50"] * 1e3 for k, v in r["latency"].items()}
            title = f"{r['model']} latency, batch 1, {r['length']} tokens: p50 ms (lower is better)"
        order = sorted(vals, key=lambda k: ({"f32": 0, "bf16": 1, "int8": 2}[prec_of(k)], vals[k]))
        ys = range(len(order))
        ax.barh(list(ys), [vals[k] for k in order], color=[colors[prec_of(k)] for k in order],
                edgecolor=["black" if k.startswith("salvo") else "none" for k in order], linewidth=1.5)
        ax.set_yticks(list(ys))
        ax.set_yticklabels(order, fontsize=8)
        for lbl in ax.get_yticklabels():
            if lbl.get_text().startswith("salvo"):
                lbl.set_fontweight("bold")
        for y, k in zip(ys, order):
            ax.text(vals[k], y, f" {vals[k]:,.0f}" if vals[k] >= 100 else f" {vals[k]:.1f}", va="center", fontsize=7)
        ax.set_title(title, fontsize=10)
        ax.margins(x=0.15)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors.values()]
    fig.legend(handles, list(colors), loc="upper right", ncol=3)
    c = results["conditions"]
    fig.suptitle(f"salvo next to CPU engines, {c['threads']} threads, {c['cpu']}, {c['date']}", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    log(f"chart: {path}")


def conditions(args):
    def git(*a):
        try:
            return subprocess.run(["git", "-C", REPO, *a], capture_output=True, text=True).stdout.strip()
        except OSError:
            return "?"

    cpu, flags = "unknown", set()
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name") and cpu == "unknown":
            cpu = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())
    dirty = " (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
    return {"date": time.strftime("%Y-%m-%d %H:%M"), "commit": git("rev-parse", "--short", "HEAD") + dirty,
            "cpu": cpu, "cores": os.cpu_count(), "threads": args.threads,
            "isa": " ".join(f for f in ("avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16") if f in flags),
            "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "command": " ".join([os.path.relpath(sys.executable) if False else "python"] +
                                [os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:])}


def versions(bench, systems):
    out = {}
    try:
        out["salvo"] = run([bench.args.salvo, "--version"]).stdout.strip().splitlines()[0]
    except Exception:  # noqa: BLE001
        out["salvo"] = "?"
    for fam in sorted({s[0] for s in systems}):
        worker = {"torch-compile": "torch", "zentorch": "torch"}.get(fam, fam)
        if fam in ("salvo",):
            continue
        if fam == "legacy":
            try:
                out["torch (Debian)"] = run(["/usr/bin/python3", "-c", "import torch; print(torch.__version__)"]
                                            ).stdout.strip()
                pkg = json.load(open(os.path.join(REPO, "tools", "node", "node_modules", "onnxruntime-node",
                                                  "package.json")))
                out["onnxruntime-node"] = pkg["version"]
            except Exception as e:  # noqa: BLE001
                out["legacy"] = f"? ({e})"
            continue
        try:
            p = PeerProcess(worker, sys.executable, bench.args.threads)
            out.update(p.ask({"op": "info"})["versions"])
            p.close()
        except Exception as e:  # noqa: BLE001
            out[fam] = f"? ({e})"
    import platform
    out["python"] = platform.python_version()
    out["numpy"] = np.__version__
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="minilm,bert-base",
                    help="checkpoints converted by setup_peers.sh: minilm, bert-base, mpnet (default minilm,bert-base)")
    ap.add_argument("--workloads", default="fixed,text,latency", help="fixed, text, latency (default all)")
    ap.add_argument("--systems", default=",".join(FAMILIES), help=f"families to run (default all: {','.join(FAMILIES)})")
    ap.add_argument("--precisions", default="f32,bf16,int8", help="precision classes to run (default f32,bf16,int8)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats per measurement (median reported)")
    ap.add_argument("--threads", type=int, default=2, help="threads for every system (default 2)")
    ap.add_argument("--replicas", default="1,2", help="salvo --replicas values tried; the better is reported")
    ap.add_argument("--fixed-rows", type=int, default=0, help="rows of the fixed workload (default 256 for "
                    "hidden <= 384, else 64; batches of 32)")
    ap.add_argument("--text-rows", type=int, default=5000, help="rows of real text (default 5000)")
    ap.add_argument("--base-text-rows", type=int, default=1000,
                    help="rows of real text for the base-sized (hidden 768) models (default 1000; 0: --text-rows)")
    ap.add_argument("--max-length", type=int, default=256, help="truncation of the text workload (default 256)")
    ap.add_argument("--peer-batch", type=int, default=32, help="rows per peer batch on text (default 32)")
    ap.add_argument("--latency-iterations", type=int, default=60, help="calls per latency measurement, split "
                    "over the repeats (default 60)")
    ap.add_argument("--salvo", default=os.path.join(REPO, "build", "salvo"))
    ap.add_argument("--cache", default=DEFAULT_CACHE, help=f"converted checkpoints (default {DEFAULT_CACHE})")
    ap.add_argument("--chart", default=os.path.join(REPO, "docs", "img", "bench_peers.png"),
                    help="PNG to draw ('' for none)")
    ap.add_argument("--json", help="also write every measurement here")
    ap.add_argument("--quick-peaks", action="store_true", help="machine_peaks --quick (for a smoke run)")
    args = ap.parse_args()
    args.replicas = [int(x) for x in args.replicas.split(",")]
    for m in args.models.split(","):
        if not os.path.exists(os.path.join(args.cache, m, "manifest.json")):
            raise SystemExit(f"{args.cache}/{m} is not prepared: run tools/bench/setup_peers.sh --models {m}")
    systems = selected_systems(args)
    bench = Bench(args)
    results = {"conditions": conditions(args), "throughput": [], "latency": [], "models": {}}
    results["conditions"]["versions"] = versions(bench, systems)
    log(f"conditions: {json.dumps(results['conditions'])}")
    results["peaks"] = machine_peaks(args)
    log(f"ceilings: {json.dumps(results['peaks'])}")
    tmp = tempfile.mkdtemp(prefix="salvo-bench-peers-")
    try:
        for name in args.models.split(","):
            bench_model(bench, name, systems, tmp, results["peaks"], results)
    finally:
        bench.close()
        shutil.rmtree(tmp, ignore_errors=True)
    results["conditions"]["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    results["failed"] = {f"{m} / {k}": v for (m, k), v in bench.failed.items()}
    print(markdown(results, args, bench))
    if args.chart:
        chart(results, args.chart)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
