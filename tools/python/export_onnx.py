#!/usr/bin/env python3
"""Exports a salvo/Hugging Face BERT folder (config.json + model.safetensors) to ONNX, as a
sentence-transformers user does: ids in, pooled and L2-normalised embeddings out.

The graph is salvo_ref.torch_bert's BertModel (Hugging Face parameter names, padding keys masked out
of attention with a finfo.min bias, as transformers' BertModel does) followed by the folder's
sentence-transformers pooling (1_Pooling/config.json, 2_Normalize in modules.json); a folder without
those files gets masked mean pooling and L2 normalisation, as `salvo embed` does. A classifier
checkpoint is exported without its head (the encoder's embeddings, like `salvo embed`).

  inputs   input_ids, attention_mask, token_type_ids   int64 [batch, seq] (both axes dynamic)
  output   embedding                                   float32 [batch, hidden]

Run with /usr/bin/python3 (Debian's torch 1.13; no `onnx` package needed):

  tools/python/export_onnx.py --model /tmp/minilm --out /tmp/minilm.onnx [--opset 17] [--check]

--check runs the exported model in onnxruntime-node (tools/node/node_modules, through `node`) on a
padded batch of mixed lengths and compares it with the PyTorch reference; it also checks that every
row's padded embedding equals the embedding of the row alone. Exit code 1 if a difference is over
--tolerance (default 1e-4).
"""
import argparse
import json
import os
import subprocess
import sys

import warnings

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from salvo_ref import torch_bert  # noqa: E402


def pooling_of(model_dir):
    """(mode, normalize) from the folder's sentence-transformers files; ('mean', True) without them."""
    modules_path = os.path.join(model_dir, "modules.json")
    if not os.path.exists(modules_path):
        return "mean", True
    with open(modules_path) as f:
        modules = json.load(f)
    mode, normalize = "mean", False
    for m in modules:
        kind = m.get("type", "")
        if kind.endswith("Pooling"):
            with open(os.path.join(model_dir, m.get("path", ""), "config.json")) as f:
                p = json.load(f)
            modes = [k for k in ("cls", "mean", "max") if p.get(f"pooling_mode_{k}_token" if k == "cls"
                                                                else f"pooling_mode_{k}_tokens")]
            if len(modes) != 1 or p.get("pooling_mode_mean_sqrt_len_tokens"):
                raise SystemExit(f"{model_dir}: unsupported pooling configuration {p}")
            mode = modes[0]
        elif kind.endswith("Normalize"):
            normalize = True
    return mode, normalize


class Embedder(nn.Module):
    def __init__(self, bert, mode, normalize):
        super().__init__()
        self.bert, self.mode, self.normalize = bert, mode, normalize

    def forward(self, input_ids, attention_mask, token_type_ids):
        hidden = self.bert(input_ids, attention_mask, token_type_ids)
        return torch_bert.pool(hidden, attention_mask, self.mode, self.normalize)


def load_embedder(model_dir):
    config, module = torch_bert.load(model_dir)
    bert = module.bert if isinstance(module, torch_bert.BertForSequenceClassification) else module
    mode, normalize = pooling_of(model_dir)
    return config, Embedder(bert, mode, normalize).eval(), mode, normalize


def export(embedder, out, opset):
    warnings.filterwarnings("ignore", message="The shape inference of prim::Constant")
    b, s = 2, 16
    ids = torch.randint(1000, 2000, (b, s))
    mask = torch.ones(b, s, dtype=torch.long)
    mask[1, 10:] = 0
    types = torch.zeros(b, s, dtype=torch.long)
    axes = {0: "batch", 1: "seq"}
    with torch.no_grad():
        torch.onnx.export(embedder, (ids, mask, types), out, opset_version=opset,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["embedding"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                        "embedding": {0: "batch"}},
                          do_constant_folding=True)


# Runs the model in onnxruntime-node: JSON {ids, mask, types, rows, cols} on stdin, JSON embeddings out.
ORT_RUNNER = r"""
const path = require('path');
const ort = require(path.join(process.argv[1], 'tools', 'node', 'node_modules', 'onnxruntime-node'));
let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', async () => {
  const x = JSON.parse(input);
  const session = await ort.InferenceSession.create(process.argv[2], {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: 2,
    interOpNumThreads: 1, executionMode: 'sequential'});
  const t = (a) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [x.rows, x.cols]);
  const out = await session.run({input_ids: t(x.ids), attention_mask: t(x.mask), token_type_ids: t(x.types)});
  const e = out.embedding;
  process.stdout.write(JSON.stringify({dims: e.dims, data: Array.from(e.data)}));
});
"""


def check(embedder, config, onnx_path, tolerance):
    lengths = [5, 128, 1, 37, 2, 64, 77, 3]
    gen = torch.Generator().manual_seed(1)
    rows, cols = len(lengths), max(lengths)
    ids = torch.zeros(rows, cols, dtype=torch.long)
    mask = torch.zeros(rows, cols, dtype=torch.long)
    types = torch.zeros(rows, cols, dtype=torch.long)
    for r, n in enumerate(lengths):
        ids[r, :n] = torch.randint(1000, config["vocab_size"], (n,), generator=gen)
        ids[r, 0] = 101 if config["vocab_size"] > 102 else 2
        if n > 1:
            ids[r, n - 1] = 102 if config["vocab_size"] > 102 else 3
        mask[r, :n] = 1
        types[r, n // 2:n] = 1 if config.get("type_vocab_size", 2) > 1 else 0  # exercise token types
    with torch.no_grad():
        ref = embedder(ids, mask, types)
        alone = torch.cat([embedder(ids[r:r + 1, :n], mask[r:r + 1, :n], types[r:r + 1, :n])
                           for r, n in enumerate(lengths)])
    payload = json.dumps({"ids": ids.flatten().tolist(), "mask": mask.flatten().tolist(),
                          "types": types.flatten().tolist(), "rows": rows, "cols": cols})
    proc = subprocess.run(["node", "-e", ORT_RUNNER, REPO, onnx_path], input=payload, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise SystemExit(f"onnxruntime-node failed:\n{proc.stderr}")
    res = json.loads(proc.stdout)
    ort_out = torch.tensor(res["data"], dtype=torch.float32).reshape(res["dims"])
    d_ref = (ort_out - ref).abs().max().item()
    d_alone = (ort_out - alone).abs().max().item()
    d_pad = (ref - alone).abs().max().item()
    ok = max(d_ref, d_alone) < tolerance
    print(f"check: batch of {rows} rows padded to {cols} (lengths {lengths}): max |ORT - PyTorch| = "
          f"{d_ref:.3g}, max |ORT - PyTorch row alone| = {d_alone:.3g}, max |PyTorch padded - alone| = "
          f"{d_pad:.3g}: {'ok' if ok else 'FAILED'} (tolerance {tolerance:g})")
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="folder with config.json and model.safetensors")
    ap.add_argument("--out", required=True, help="the .onnx file to write")
    ap.add_argument("--opset", type=int, default=17,
                    help="ONNX opset (default 17, the newest torch 1.13 exports; LayerNormalization op)")
    ap.add_argument("--check", action="store_true", help="compare onnxruntime-node with PyTorch")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args(argv)

    torch.manual_seed(0)
    config, embedder, mode, normalize = load_embedder(args.model)
    export(embedder, args.out, args.opset)
    print(f"wrote {args.out}: {config['num_hidden_layers']} layers, hidden {config['hidden_size']}, "
          f"{mode} pooling{', L2-normalised' if normalize else ''}, opset {args.opset}")
    if args.check and not check(embedder, config, args.out, args.tolerance):
        sys.exit(1)


if __name__ == "__main__":
    main()
