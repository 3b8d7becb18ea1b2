"""Parity of salvo's native encoder with Hugging Face transformers, architecture by architecture.

Each case builds a random-weight model with AutoConfig + AutoModel / AutoModelFor... .from_config
(deterministic seeds), saves it with save_pretrained into a temporary folder (plus the
sentence-transformers files its pooling needs), runs encoder_dump on a batch that mixes very short
and maximum-length sequences, and compares with transformers reloading the same folder:
  hidden   the base model's last_hidden_state (padded batch, attention mask), every element;
  embed    sentence-transformers' own Pooling (+ Normalize) modules on those states;
  logits / probs   the sequence-classification head, softmax or (multi-label) sigmoid;
  score    sentence-transformers' CrossEncoder.predict on text pairs, tokenized by the folder's
           tokenizer into [CLS] a [SEP] b [SEP] with token types, for one-output heads.
Every element must agree within 1e-4.

  transformers_parity_test.py --encoder-dump build/tests/parity/encoder/encoder_dump [--size small|real]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TOKENIZER_DIR = os.path.join(ROOT, "tests", "data", "tokenizers")
TOLERANCE = 1e-4

# The architectures whose tokenizers send token type ids (transformers gets them); the others are
# run without, as their tokenizers do, while salvo gets the pair's types and must ignore them.
USES_TOKEN_TYPES = {"bert", "electra"}
PADDING_IDX = {"roberta": 1, "xlm-roberta": 1, "mpnet": 1}

SMALL = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96)
DISTIL_SMALL = dict(dim=64, n_layers=2, n_heads=4, hidden_dim=96)


def case(name, model_type, head, lengths, config=None, pooling="mean", normalize=True, dtype="float32",
         safetensors=True, pairs=None, st_activation=None, std=0.2, size="small"):
    """head: "base" (AutoModel), "mlm" (AutoModelForMaskedLM), "pretraining" (AutoModelForPreTraining),
    "classifier" (AutoModelForSequenceClassification), "cross-encoder" (one label, scored on pairs)."""
    return dict(name=name, model_type=model_type, head=head, lengths=lengths, config=config or {},
                pooling=pooling, normalize=normalize, dtype=dtype, safetensors=safetensors, pairs=pairs,
                st_activation=st_activation, std=std, size=size)


CASES = [
    case("bert-base-mean", "bert", "base", [3, 160, 1, 5, 77, 2],
         dict(SMALL, vocab_size=500, max_position_embeddings=160)),
    case("bert-mlm-cls-bf16", "bert", "mlm", [4, 160, 3, 64],
         dict(SMALL, vocab_size=500, max_position_embeddings=160, hidden_act="gelu_new"), pooling="cls",
         dtype="bfloat16"),
    case("bert-classifier-max-bin", "bert", "classifier", [3, 160, 5, 40],
         dict(SMALL, vocab_size=500, max_position_embeddings=160, num_labels=3), pooling="max",
         normalize=False, safetensors=False),
    case("bert-multilabel", "bert", "classifier", [6, 120, 2],
         dict(SMALL, vocab_size=500, max_position_embeddings=160, num_labels=4,
              problem_type="multi_label_classification")),
    case("roberta-base-padding-inside", "roberta", "base", [3, 128, 5, 9, 2],
         dict(SMALL, vocab_size=500, max_position_embeddings=130, type_vocab_size=1)),
    case("roberta-mlm-f16", "roberta", "mlm", [128, 4, 30],
         dict(SMALL, vocab_size=500, max_position_embeddings=130), dtype="float16"),
    case("roberta-classifier", "roberta", "classifier", [3, 128, 5, 40],
         dict(SMALL, vocab_size=500, max_position_embeddings=130, num_labels=3), pooling="cls"),
    case("xlm-roberta-classifier", "xlm-roberta", "classifier", [7, 128, 2],
         dict(SMALL, vocab_size=700, max_position_embeddings=130, type_vocab_size=1, num_labels=2)),
    case("distilbert-base", "distilbert", "base", [3, 150, 5, 1],
         dict(DISTIL_SMALL, vocab_size=500, max_position_embeddings=150)),
    case("distilbert-classifier-relu", "distilbert", "classifier", [4, 150, 17],
         dict(DISTIL_SMALL, vocab_size=500, max_position_embeddings=150, activation="relu", num_labels=3),
         pooling="max"),
    case("electra-discriminator-projected", "electra", "pretraining", [3, 140, 5, 33],
         dict(SMALL, embedding_size=32, vocab_size=500, max_position_embeddings=140)),
    case("electra-classifier", "electra", "classifier", [5, 140, 2],
         dict(SMALL, embedding_size=64, vocab_size=500, max_position_embeddings=140, num_labels=2)),
    case("electra-classifier-projected", "electra", "classifier", [3, 140, 9],
         dict(SMALL, embedding_size=48, vocab_size=500, max_position_embeddings=140, num_labels=3)),
    # Longer than 128 tokens, so the relative buckets saturate; padding id inside a row.
    case("mpnet-base-long", "mpnet", "base", [3, 298, 150, 5, 1],
         dict(SMALL, vocab_size=500, max_position_embeddings=300)),
    case("mpnet-classifier", "mpnet", "classifier", [298, 4, 66],
         dict(SMALL, vocab_size=500, max_position_embeddings=300, num_labels=3), pooling="cls"),
    # Cross-encoders: CrossEncoder.predict on pairs tokenized by tests/data/tokenizers/bert-uncased.
    case("cross-encoder-bert-sigmoid", "bert", "cross-encoder", None,
         dict(SMALL, vocab_size=8000, max_position_embeddings=160, num_labels=1), pairs="short+long"),
    case("cross-encoder-electra-identity", "electra", "cross-encoder", None,
         dict(SMALL, embedding_size=32, vocab_size=8000, max_position_embeddings=160, num_labels=1),
         pairs="short+long", st_activation=("config.json", "torch.nn.modules.linear.Identity")),
    case("cross-encoder-bert-tanh-st6", "bert", "cross-encoder", None,
         dict(SMALL, vocab_size=8000, max_position_embeddings=160, num_labels=1), pairs="short+long",
         st_activation=("config_sentence_transformers.json", "torch.nn.modules.activation.Tanh")),
    # BERT-base sized (12 x 768), 512-token rows.
    case("bert-real-size-classifier", "bert", "classifier", [3, 512, 5, 512, 40],
         dict(num_labels=4), pooling="cls", std=0.05, size="real"),
    case("bert-real-size-mean", "bert", "base", [512, 4, 300], {}, std=0.05, size="real"),
]

WORDS = ("the package provides a library for reading and writing image files with command line tools "
         "fonts network server daemon python bindings documentation kernel driver firmware data").split()


def model_class(head):
    import transformers
    return {"base": transformers.AutoModel, "mlm": transformers.AutoModelForMaskedLM,
            "pretraining": transformers.AutoModelForPreTraining,
            "classifier": transformers.AutoModelForSequenceClassification,
            "cross-encoder": transformers.AutoModelForSequenceClassification}[head]


def perturb(model, seed, std):
    """Weights far from transformers' 0.02 init, so attention is not uniform and every tensor
    (layer norms and biases included) moves the outputs."""
    gen = torch.Generator().manual_seed(seed % (1 << 31))
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if ("LayerNorm" in name or "layer_norm" in name) and name.endswith("weight"):
                p.copy_(1 + 0.2 * noise)
            elif "relative_attention_bias" in name:
                p.copy_(1.0 * noise)
            else:
                p.copy_(std * noise)


def write_sentence_transformers(folder, hidden, pooling, normalize):
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
    with open(os.path.join(folder, "modules.json"), "w") as f:
        json.dump(modules, f)
    os.makedirs(os.path.join(folder, "1_Pooling"), exist_ok=True)
    with open(os.path.join(folder, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": hidden, "pooling_mode_cls_token": pooling == "cls",
                   "pooling_mode_mean_tokens": pooling == "mean", "pooling_mode_max_tokens": pooling == "max"}, f)


def make_model(c, folder, seed):
    import transformers
    torch.manual_seed(seed)
    config = transformers.AutoConfig.for_model(c["model_type"], **c["config"])
    model = model_class(c["head"]).from_config(config)
    perturb(model, seed, c["std"])
    model.to({"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[c["dtype"]])
    model.save_pretrained(folder, safe_serialization=c["safetensors"])
    if not c["safetensors"]:
        # transformers 5 writes safetensors whatever it is asked; pytorch_model.bin the way torch.save
        # makes it (salvo reads either).
        if os.path.exists(os.path.join(folder, "model.safetensors")):
            os.remove(os.path.join(folder, "model.safetensors"))
            torch.save(model.state_dict(), os.path.join(folder, "pytorch_model.bin"))
    hidden = config.to_dict().get("hidden_size") or config.to_dict().get("dim")
    if c["head"] == "cross-encoder":
        for f in ("tokenizer.json",):
            shutil.copy(os.path.join(TOKENIZER_DIR, "bert-uncased", f), folder)
        for f in ("vocab.txt", "tokenizer_config.json"):
            shutil.copy(os.path.join(TOKENIZER_DIR, "vocab-uncased", f), folder)
        if c["st_activation"]:
            where, path = c["st_activation"]
            if where == "config.json":
                with open(os.path.join(folder, "config.json")) as f:
                    cfg = json.load(f)
                cfg["sentence_transformers"] = {"activation_fn": path, "version": "4.1.0"}
                with open(os.path.join(folder, "config.json"), "w") as f:
                    json.dump(cfg, f, indent=2)
            else:
                # As sentence-transformers 6 saves a CrossEncoder: the file is read only with
                # modules.json beside it. A legacy key in config.json that it must outrank:
                with open(os.path.join(folder, where), "w") as f:
                    json.dump({"model_type": "CrossEncoder", "activation_fn": path}, f)
                with open(os.path.join(folder, "modules.json"), "w") as f:
                    json.dump([{"idx": 0, "name": "0", "path": "",
                                "type": "sentence_transformers.base.modules.transformer.Transformer"}], f)
                with open(os.path.join(folder, "sentence_bert_config.json"), "w") as f:
                    json.dump({"transformer_task": "sequence-classification",
                               "modality_config": {"text": {"method": "forward", "method_output_name": "logits"}},
                               "module_output_name": "scores"}, f)
                with open(os.path.join(folder, "config.json")) as f:
                    cfg = json.load(f)
                cfg["sbert_ce_default_activation_function"] = "torch.nn.modules.linear.Identity"
                with open(os.path.join(folder, "config.json"), "w") as f:
                    json.dump(cfg, f, indent=2)
    else:
        write_sentence_transformers(folder, hidden, c["pooling"], c["normalize"])
    return config


def make_ids(c, config, rng):
    """Random sequences of the case's lengths: [CLS]-like first and [SEP]-like last token, pairs'
    type ids on every other row, and for RoBERTa / MPNet a padding id inside one row."""
    vocab = config.vocab_size
    pad = PADDING_IDX.get(c["model_type"])
    ids, types = [], []
    for i, n in enumerate(c["lengths"]):
        seq = rng.integers(5, vocab, size=n).tolist()
        seq[0] = 0 if pad is not None else 2
        if n > 1:
            seq[-1] = 2 if pad is not None else 3
        if pad is not None and i == 0 and n >= 3:
            seq[1] = pad
        if pad is not None and i == 3 and n >= 5:
            seq[2] = seq[4] = pad
        ids.append(seq)
        types.append([0] * (n // 2) + [1] * (n - n // 2) if i % 2 else [0] * n)
    return ids, types


def make_pairs(rng):
    pairs = []
    for n_a, n_b in [(2, 3), (40, 60), (1, 1), (5, 120), (12, 7)]:
        a = " ".join(rng.choice(WORDS, size=n_a))
        b = " ".join(rng.choice(WORDS, size=n_b))
        pairs.append((a, b))
    return pairs


def padded(seqs, pad_id):
    width = max(len(s) for s in seqs)
    out = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros(len(seqs), width, dtype=torch.long)
    for r, s in enumerate(seqs):
        out[r, :len(s)] = torch.tensor(s)
        mask[r, :len(s)] = 1
    return out, mask


def reference(c, folder, ids, types):
    """transformers (and sentence-transformers' pooling modules) on the saved folder, in float32."""
    from sentence_transformers.base.modules.normalize import Normalize
    from sentence_transformers.sentence_transformer.modules.pooling import Pooling
    model = model_class(c["head"]).from_pretrained(folder, dtype=torch.float32).eval()
    pad_id = model.config.pad_token_id if model.config.pad_token_id is not None else 0
    input_ids, mask = padded(ids, pad_id)
    kwargs = {"attention_mask": mask}
    if c["model_type"] in USES_TOKEN_TYPES:
        kwargs["token_type_ids"] = padded(types, 0)[0]
    out = {}
    with torch.no_grad():
        hidden = model.base_model(input_ids, **kwargs).last_hidden_state
        out["hidden"] = np.concatenate([hidden[r, :len(s)].numpy() for r, s in enumerate(ids)])
        features = Pooling(hidden.shape[-1], pooling_mode=c["pooling"])(
            {"token_embeddings": hidden, "attention_mask": mask})
        if c["normalize"]:
            features = Normalize()(features)
        out["embed"] = features["sentence_embedding"].numpy()
        if c["head"] in ("classifier", "cross-encoder"):
            logits = model(input_ids, **kwargs).logits
            out["logits"] = logits.numpy()
            multi = model.config.problem_type == "multi_label_classification"
            out["probs"] = (torch.sigmoid(logits) if multi else torch.softmax(logits, dim=-1)).numpy()
    return out


def cross_encoder_reference(folder, pairs):
    """CrossEncoder.predict, and the ids and type ids its tokenizer gave each pair."""
    from sentence_transformers import CrossEncoder
    model = CrossEncoder(folder, device="cpu")
    scores = model.predict(pairs, batch_size=len(pairs), show_progress_bar=False)
    encoded = model.tokenizer([a for a, _ in pairs], [b for _, b in pairs], truncation=True)
    return np.asarray(scores, dtype=np.float32).reshape(-1, 1), encoded["input_ids"], encoded["token_type_ids"]


def compare(name, got_dir, want):
    failures, diffs = [], {}
    for what, expected in want.items():
        path = os.path.join(got_dir, what + ".npy")
        if not os.path.exists(path):
            failures.append(f"{what}: salvo wrote no {what}.npy")
            continue
        got = np.load(path)
        if got.shape != expected.shape:
            failures.append(f"{what}: shape {got.shape}, transformers {expected.shape}")
            continue
        diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
        diffs[what] = float(diff.max()) if not np.isnan(diff).any() else float("nan")
        if not diffs[what] <= TOLERANCE:
            worst = np.unravel_index(np.nanargmax(diff), diff.shape) if not np.isnan(diff).all() else ()
            failures.append(f"{what}: max abs diff {diffs[what]:.3g} > {TOLERANCE} at {worst}")
    return failures, diffs


def run_case(c, dump, work):
    # Seeds from the name, so a case is the same whichever others run.
    seed = zlib.crc32(c["name"].encode())
    rng = np.random.default_rng(seed)
    folder = os.path.join(work, c["name"])
    config = make_model(c, folder, seed)
    start = time.time()
    if c["head"] == "cross-encoder":
        pairs = make_pairs(rng)
        scores, ids, types = cross_encoder_reference(folder, pairs)
        want = {"score": scores}
        lengths = [len(s) for s in ids]
    else:
        ids, types = make_ids(c, config, rng)
        lengths = c["lengths"]
    batch_path = os.path.join(work, c["name"] + ".json")
    with open(batch_path, "w") as f:
        json.dump({"ids": ids, "type_ids": types}, f)
    if c["head"] != "cross-encoder":
        want = reference(c, folder, ids, types)
    else:
        want.update(reference(dict(c, pooling="mean", normalize=True), folder, ids, types))
        del want["embed"]  # a cross-encoder folder has no pooling files: salvo's default pooling
    ref_s = time.time() - start

    out_dir = os.path.join(work, c["name"] + ".out")
    start = time.time()
    subprocess.run([dump, folder, batch_path, out_dir], check=True)
    salvo_s = time.time() - start
    with open(os.path.join(out_dir, "info.json")) as f:
        info = json.load(f)

    failures, diffs = compare(c["name"], out_dir, want)
    expect = {"model_type": c["model_type"],
              "has_classifier": c["head"] in ("classifier", "cross-encoder"),
              "has_score": c["head"] == "cross-encoder"}
    if c["head"] != "cross-encoder":
        expect.update(pooling=c["pooling"], normalize=c["normalize"])
    if c["head"] == "cross-encoder":
        activation = (c["st_activation"] or (None, "Sigmoid"))[1].rsplit(".", 1)[-1].lower()
        expect["score_activation"] = activation
    for key, value in expect.items():
        if info.get(key) != value:
            failures.append(f"info.json {key} = {info.get(key)!r}, expected {value!r}")
    summary = "  ".join(f"{k} {v:.1e}" for k, v in diffs.items())
    print(f"{'FAIL' if failures else 'ok  '} {c['name']:34s} lengths {lengths}: max |diff| {summary} "
          f"(transformers {ref_s:.1f}s, salvo {salvo_s:.1f}s)", flush=True)
    for f in failures:
        print("     " + f, flush=True)
    return not failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--encoder-dump", required=True, help="path of the built encoder_dump executable")
    ap.add_argument("--size", default="small", choices=["small", "real", "all"])
    ap.add_argument("--only", help="run only the cases whose name contains this")
    ap.add_argument("--keep", help="write checkpoints and outputs here and keep them")
    args = ap.parse_args()
    torch.set_num_threads(2)
    cases = [c for c in CASES if args.size in ("all", c["size"]) and (not args.only or args.only in c["name"])]
    if not cases:
        ap.error("no cases selected")
    with tempfile.TemporaryDirectory(prefix="salvo_parity_") as tmp:
        work = args.keep or tmp
        os.makedirs(work, exist_ok=True)
        results = [run_case(c, args.encoder_dump, work) for c in cases]
    print(f"{sum(results)}/{len(results)} cases within {TOLERANCE}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
