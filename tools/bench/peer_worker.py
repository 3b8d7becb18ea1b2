#!/usr/bin/env python3
"""One peer engine of tools/bench/bench_peers.py, kept alive for a whole benchmark run so that loading,
compiling and warming up happen once and the repeats of every system can be interleaved.

    peer_worker.py --system torch|ort|openvino|ct2|debian-torch --threads N

Requests and answers are JSON lines on stdin / the original stdout (everything the engines print goes to
stderr). A request names a checkpoint folder (the conversions of tools/bench/peer_models.py), a variant
(torch: f32, bf16, int8, compile-f32, compile-bf16, zentorch-f32, zentorch-bf16; ort: f32, int8; openvino:
f32, bf16, int8w, int8; ct2: f32, int8, bf16; debian-torch: f32) and a workload:

  fixed    "ids": a .npy of int64 [rows, len] token ids; batches of "batch" rows; the time is the model and
           the pooling (no tokenisation), as every peer is run on ids here
  text     "texts": a JSONL file of {"text": ...}; timed end to end from the strings in memory: the
           Hugging Face tokenizers library (encode_batch, truncation at "max_length", RAYON_NUM_THREADS=N),
           rows sorted by length and cut into batches of "batch" rows padded to their longest row (what
           sentence-transformers' encode does), the model, masked mean pooling and L2 normalisation, rows
           put back in input order; "out" receives the embeddings (.npy, after the clock stops).
           debian-torch has no tokenizers binding: it gets "ids" (a JSON list of lists), keeps the older
           bench_embed.py's batching (input order, "batch" rows) and reports only its model time
  latency  "text" and "max_length": one row, tokenised and run "iterations" times one after another; the
           answer holds every iteration's seconds

The first request for a (checkpoint, variant, workload) warms up untimed: one batch, or for torch.compile
and zentorch a whole pass (they compile per shape family).
"""
import argparse
import json
import os
import sys
import time
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))


def log(msg):
    print(f"peer_worker: {msg}", file=sys.stderr, flush=True)


def mean_pool(hidden, mask):
    """Masked mean over tokens, then L2 normalisation, in float32 numpy."""
    hidden = np.asarray(hidden, dtype=np.float32)
    m = mask[:, :, None].astype(np.float32)
    pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def pad(rows, pad_id=0):
    longest = max(len(r) for r in rows)
    ids = np.full((len(rows), longest), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), longest), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = r
        mask[i, :len(r)] = 1
    return ids, mask


class Engine:
    """One loaded variant of one checkpoint: embed(list of id lists) -> float32 [rows, hidden]."""

    compiled = False  # warm up with a whole pass (per-shape compilation)

    def embed(self, rows):
        raise NotImplementedError


class TorchEngine(Engine):
    def __init__(self, folder, variant, threads):
        import torch
        from transformers import AutoModel

        self.torch = torch
        torch.set_num_threads(threads)
        hf = os.path.join(folder, "hf")
        model = AutoModel.from_pretrained(hf, attn_implementation="sdpa").eval()
        self.has_types = model.config.model_type == "bert"
        self.pad_id = model.config.pad_token_id or 0
        self.autocast = variant.endswith("bf16")
        kind = variant.rsplit("-", 1)[0] if "-" in variant else ""
        if variant == "int8":
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        if kind == "compile":
            model = torch.compile(model, dynamic=True)
            self.compiled = True
        elif kind == "zentorch":
            import zentorch  # noqa: F401 - registers the "zentorch" backend

            model = torch.compile(model, backend="zentorch", dynamic=True)
            self.compiled = True
        self.model = model

    def embed(self, rows):
        torch = self.torch
        ids, mask = pad(rows, self.pad_id)
        ids, mask = torch.from_numpy(ids), torch.from_numpy(mask)
        kwargs = dict(input_ids=ids, attention_mask=mask)
        if self.has_types:
            kwargs["token_type_ids"] = torch.zeros_like(ids)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.autocast):
            hidden = self.model(**kwargs).last_hidden_state
            m = mask.unsqueeze(-1).to(torch.float32)
            pooled = (hidden.float() * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()


class DebianTorchEngine(Engine):
    """Debian's torch 1.13 on salvo_ref's BERT, as tools/bench/bench_embed.py runs it."""

    def __init__(self, folder, variant, threads):
        import torch

        sys.path.insert(0, os.path.join(REPO, "tools", "python"))
        from salvo_ref import torch_bert

        self.torch, self.torch_bert = torch, torch_bert
        torch.set_num_threads(threads)
        _, self.model = torch_bert.load(os.path.join(folder, "hf"))

    def embed(self, rows):
        torch = self.torch
        ids, mask = pad(rows)
        ids, mask = torch.from_numpy(ids), torch.from_numpy(mask)
        with torch.inference_mode():
            return self.torch_bert.pool(self.model(ids, mask), mask, "mean", True).numpy()


class OrtEngine(Engine):
    def __init__(self, folder, variant, threads):
        import onnxruntime as ort

        path = os.path.join(folder, "onnx", {"f32": "model_opt.onnx", "int8": "model_opt_int8.onnx"}[variant])
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        self.names = [i.name for i in self.session.get_inputs()]

    def embed(self, rows):
        ids, mask = pad(rows)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.names:
            feed["token_type_ids"] = np.zeros_like(ids)
        return mean_pool(self.session.run(None, feed)[0], mask)


class OpenVinoEngine(Engine):
    def __init__(self, folder, variant, threads):
        import openvino as ov

        xml = {"f32": "model.xml", "bf16": "model.xml", "int8w": "model_int8w.xml", "int8": "model_int8.xml"}[variant]
        core = ov.Core()
        config = {"INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
                  "INFERENCE_PRECISION_HINT": "bf16" if variant == "bf16" else "f32"}
        self.compiled_model = core.compile_model(os.path.join(folder, "ov", xml), "CPU", config)
        self.request = self.compiled_model.create_infer_request()
        self.names = [p.get_any_name() for p in self.compiled_model.inputs]
        self.precision = str(self.compiled_model.get_property("INFERENCE_PRECISION_HINT"))

    def embed(self, rows):
        ids, mask = pad(rows)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.names:
            feed["token_type_ids"] = np.zeros_like(ids)
        self.request.infer(feed)
        return mean_pool(self.request.get_output_tensor(0).data, mask)


class Ct2Engine(Engine):
    COMPUTE = {"f32": "float32", "int8": "int8_float32", "bf16": "bfloat16"}

    def __init__(self, folder, variant, threads):
        import ctranslate2

        compute = self.COMPUTE[variant]
        supported = ctranslate2.get_supported_compute_types("cpu")
        if compute not in supported:
            raise RuntimeError(f"CTranslate2 {ctranslate2.__version__} on this CPU supports {sorted(supported)}, "
                               f"not {compute}")
        self.encoder = ctranslate2.Encoder(os.path.join(folder, "ct2"), device="cpu", compute_type=compute,
                                           intra_threads=threads, inter_threads=1)

    def embed(self, rows):
        out = self.encoder.forward_batch([list(map(int, r)) for r in rows])
        hidden = np.array(out.last_hidden_state)
        _, mask = pad(rows)
        return mean_pool(hidden[:, :mask.shape[1]], mask)


ENGINES = {"torch": TorchEngine, "ort": OrtEngine, "openvino": OpenVinoEngine, "ct2": Ct2Engine,
           "debian-torch": DebianTorchEngine}


class Worker:
    def __init__(self, system, threads):
        self.system, self.threads = system, threads
        self.engines, self.tokenizers, self.warm, self.data = {}, {}, set(), {}

    def engine(self, folder, variant):
        key = (folder, variant)
        if key not in self.engines:
            start = time.perf_counter()
            self.engines[key] = ENGINES[self.system](folder, variant, self.threads)
            log(f"{self.system} {variant}: loaded {folder} in {time.perf_counter() - start:.1f} s")
        return self.engines[key]

    def tokenizer(self, folder, max_length):
        key = (folder, max_length)
        if key not in self.tokenizers:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(os.path.join(folder, "hf", "tokenizer.json"))
            tok.no_padding()
            tok.enable_truncation(max_length)
            self.tokenizers[key] = tok
        return self.tokenizers[key]

    def load(self, path):
        if path not in self.data:
            if path.endswith(".npy"):
                self.data[path] = np.load(path)
            elif path.endswith(".json"):
                self.data[path] = json.load(open(path))
            else:
                self.data[path] = [json.loads(line)["text"] for line in open(path, encoding="utf-8")]
        return self.data[path]

    def run_fixed(self, eng, req):
        ids = self.load(req["ids"])
        batch = req["batch"]
        batches = [ids[i:i + batch] for i in range(0, len(ids), batch)]
        warm_key = (req["folder"], req["variant"], "fixed")
        if warm_key not in self.warm:
            for b in (batches if eng.compiled else batches[:1]):
                eng.embed(list(b))
            self.warm.add(warm_key)
        start = time.perf_counter()
        for b in batches:
            eng.embed(list(b))
        return {"seconds": time.perf_counter() - start, "tokenize_seconds": 0.0,
                "padded_tokens": int(ids.size)}

    def run_text(self, eng, req):
        batch = req["batch"]
        if self.system == "debian-torch":
            rows = self.load(req["ids"])
            batches = [rows[i:i + batch] for i in range(0, len(rows), batch)]
            warm_key = (req["folder"], req["variant"], "text")
            if warm_key not in self.warm:
                eng.embed(batches[0])
                self.warm.add(warm_key)
            start = time.perf_counter()
            outs = [eng.embed(b) for b in batches]
            seconds = time.perf_counter() - start
            np.save(req["out"], np.concatenate(outs))
            return {"seconds": seconds, "tokenize_seconds": None, "model_only": True,
                    "padded_tokens": sum(len(b) * max(len(r) for r in b) for b in batches)}
        texts = self.load(req["texts"])
        tok = self.tokenizer(req["folder"], req["max_length"])
        warm_key = (req["folder"], req["variant"], "text")
        if warm_key not in self.warm:
            self.warm.add(warm_key)
            self.text_pass(eng, tok, texts if eng.compiled else texts[:batch], batch)
        result, emb = self.text_pass(eng, tok, texts, batch)
        np.save(req["out"], emb)
        return result

    @staticmethod
    def text_pass(eng, tok, texts, batch):
        start = time.perf_counter()
        rows = [e.ids for e in tok.encode_batch(texts)]
        tokenized = time.perf_counter()
        order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))
        out = None
        padded = 0
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            chunk = [rows[j] for j in idx]
            emb = eng.embed(chunk)
            if out is None:
                out = np.empty((len(rows), emb.shape[1]), dtype=np.float32)
            out[idx] = emb
            padded += len(chunk) * len(chunk[0])
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "tokenize_seconds": tokenized - start, "padded_tokens": padded}, out

    def run_latency(self, eng, req):
        tok = self.tokenizer(req["folder"], req["max_length"])
        text = req["text"]
        warm_key = (req["folder"], req["variant"], "latency", req["max_length"])
        if warm_key not in self.warm:
            for _ in range(3):
                eng.embed([tok.encode(text).ids])
            self.warm.add(warm_key)
        samples = []
        for _ in range(req["iterations"]):
            start = time.perf_counter()
            eng.embed([tok.encode(text).ids])
            samples.append(time.perf_counter() - start)
        return {"samples": samples, "tokens": len(tok.encode(text).ids)}

    def handle(self, req):
        op = req.get("op")
        if op == "info":
            return {"versions": versions(self.system)}
        if op != "run":
            raise ValueError(f"unknown op {op!r}")
        eng = self.engine(req["folder"], req["variant"])
        extra = {"precision": eng.precision} if hasattr(eng, "precision") else {}
        workload = req["workload"]
        if workload == "fixed":
            return {**self.run_fixed(eng, req), **extra}
        if workload == "text":
            return {**self.run_text(eng, req), **extra}
        if workload == "latency":
            return {**self.run_latency(eng, req), **extra}
        raise ValueError(f"unknown workload {workload!r}")


def versions(system):
    mods = {"torch": ["torch", "transformers", "tokenizers", "zentorch"], "ort": ["onnxruntime", "tokenizers"],
            "openvino": ["openvino", "nncf", "tokenizers"], "ct2": ["ctranslate2", "tokenizers"],
            "debian-torch": ["torch"]}[system]
    out = {}
    for m in mods:
        try:
            if m == "zentorch":
                from importlib import metadata
                out[m] = metadata.version("zentorch")
            else:
                out[m] = __import__(m).__version__
        except Exception as e:  # noqa: BLE001 - reported, not fatal
            out[m] = f"unavailable ({type(e).__name__})"
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--system", required=True, choices=sorted(ENGINES))
    ap.add_argument("--threads", type=int, required=True)
    args = ap.parse_args()
    # Answers go to the original stdout; anything an engine prints (C++ included) goes to stderr.
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    worker = Worker(args.system, args.threads)
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        if req.get("op") == "quit":
            break
        try:
            answer = {"ok": True, **worker.handle(req)}
        except Exception as e:  # noqa: BLE001 - the driver reports the failure and goes on with the others
            traceback.print_exc(file=sys.stderr)
            answer = {"ok": False, "error": f"{type(e).__name__}: {e}"[:1500]}
        answers.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
