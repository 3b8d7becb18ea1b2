#!/usr/bin/env python3
"""Writes a random-weight Hugging Face BERT checkpoint folder (config.json + model.safetensors).

Used by parity tests and benchmarks; the weights come from salvo_ref.torch_bert's modules, so the
parameter names are exactly Hugging Face's. Run with /usr/bin/python3 (needs torch).

  make_random_bert.py --shape minilm --dtype f16 --pooling mean --normalize --out /tmp/m
  make_random_bert.py --shape base --classifier 3 --out /tmp/clf
"""
import argparse
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from salvo_ref import safetensors_io, torch_bert  # noqa: E402

SHAPES = {
    "tiny": dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=128,
                 max_position_embeddings=512),
    "minilm": dict(num_hidden_layers=6, hidden_size=384, num_attention_heads=12,
                   intermediate_size=1536, max_position_embeddings=512),
    "base": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12,
                 intermediate_size=3072, max_position_embeddings=512),
}
DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


def tokenizer_vocab_size(path):
    """One more than the largest id in the tokenizer's vocabulary and added tokens."""
    with open(path, encoding="utf-8") as f:
        tok = json.load(f)
    ids = list((tok.get("model") or {}).get("vocab", {}).values())
    vocab = (tok.get("model") or {}).get("vocab")
    if isinstance(vocab, list):  # Unigram: a list of [piece, score]
        ids = [len(vocab) - 1]
    ids += [t["id"] for t in tok.get("added_tokens", [])]
    if not ids:
        raise SystemExit(f"{path}: no vocabulary found")
    return max(ids) + 1


def randomize(module, std, generator):
    """Normal(0, std) weights and biases; LayerNorm scale 1 + N(0, 0.1), shift N(0, 0.1), so that
    every parameter is exercised by parity tests."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "LayerNorm" in name:
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=generator))
            else:
                p.copy_(std * torch.randn(p.shape, generator=generator))


def write_sentence_transformers(out, pooling, normalize, hidden):
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
        os.makedirs(os.path.join(out, "2_Normalize"), exist_ok=True)
    with open(os.path.join(out, "modules.json"), "w") as f:
        json.dump(modules, f, indent=2)
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    with open(os.path.join(out, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": hidden,
                   "pooling_mode_cls_token": pooling == "cls",
                   "pooling_mode_mean_tokens": pooling == "mean",
                   "pooling_mode_max_tokens": pooling == "max",
                   "pooling_mode_mean_sqrt_len_tokens": False}, f, indent=2)
    with open(os.path.join(out, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": 512, "do_lower_case": False}, f, indent=2)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="f32")
    ap.add_argument("--classifier", type=int, default=0, metavar="N",
                    help="write BertForSequenceClassification with N labels")
    ap.add_argument("--pooling", choices=["cls", "mean", "max"],
                    help="write sentence-transformers modules.json with this pooling")
    ap.add_argument("--normalize", action="store_true", help="add a 2_Normalize module (with --pooling)")
    ap.add_argument("--bert-prefix", action="store_true",
                    help="name base-model tensors 'bert.*' (always so with --classifier)")
    ap.add_argument("--hidden-act", default="gelu", help="config hidden_act (default gelu)")
    ap.add_argument("--std", type=float, default=0.02, help="weight standard deviation")
    ap.add_argument("--tokenizer", help="tokenizer.json to copy; sets vocab_size from it")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    if args.normalize and not args.pooling:
        ap.error("--normalize needs --pooling")

    os.makedirs(args.out, exist_ok=True)
    overrides = dict(SHAPES[args.shape], hidden_act=args.hidden_act)
    if args.tokenizer:
        overrides["vocab_size"] = tokenizer_vocab_size(args.tokenizer)
        shutil.copyfile(args.tokenizer, os.path.join(args.out, "tokenizer.json"))
    if args.classifier:
        overrides["architectures"] = ["BertForSequenceClassification"]
        overrides["id2label"] = {str(i): f"class_{i}" for i in range(args.classifier)}
        overrides["label2id"] = {f"class_{i}": i for i in range(args.classifier)}
    config = torch_bert.default_config(**overrides)
    config["torch_dtype"] = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}[args.dtype]

    generator = torch.Generator().manual_seed(args.seed)
    if args.classifier:
        module = torch_bert.BertForSequenceClassification(config)
    else:
        module = torch_bert.BertModel(config, with_pooler=True)
    randomize(module, args.std, generator)
    tensors = {name: t.detach().to(DTYPES[args.dtype]) for name, t in module.state_dict().items()}
    if args.bert_prefix and not args.classifier:
        tensors = {"bert." + k: v for k, v in tensors.items()}
    safetensors_io.save(tensors, os.path.join(args.out, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    if args.pooling:
        write_sentence_transformers(args.out, args.pooling, args.normalize, config["hidden_size"])
    print(f"wrote {args.shape} {args.dtype} BERT ({sum(t.numel() for t in tensors.values()):,} "
          f"parameters) to {args.out}")


if __name__ == "__main__":
    main()
