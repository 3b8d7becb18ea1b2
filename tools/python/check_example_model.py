#!/usr/bin/python3
"""Checks the exported example model with the PyTorch reference (salvo_ref.torch_bert.load).

1. Classifies examples/descriptions.jsonl and scores it against descriptions.labels.jsonl.
2. With --full (needs the apt lists the model was trained from), rebuilds the held-out test split
   exactly as train_example_model.py does and reports its accuracy, which should equal the model
   card's.
3. Prints cosine similarities of mean-pooled, normalised embeddings: a few hand-written pairs, and
   the average over the sample of same-section versus different-section pairs.

Texts are tokenized with the exported tokenizer.json by the Hugging Face tokenizers library
(tools/node/example_tokenizer.js), as in training.

Usage: /usr/bin/python3 tools/python/check_example_model.py [--examples examples] [--full]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import example_data  # noqa: E402
from salvo_ref import torch_bert  # noqa: E402

NODE_SCRIPT = os.path.join(HERE, "..", "node", "example_tokenizer.js")

PAIRS = [
    ("Real-time strategy game set in ancient Rome, with a campaign and network play",
     "Turn-based fantasy strategy game with multiplayer support"),
    ("Audio player for the GNOME desktop that plays MP3 and Ogg files",
     "Command-line tool to convert audio between WAV, FLAC and Ogg Vorbis"),
    ("TrueType fonts covering Latin, Greek and Cyrillic scripts",
     "A monospaced font family designed for programming"),
    ("Real-time strategy game set in ancient Rome, with a campaign and network play",
     "TrueType fonts covering Latin, Greek and Cyrillic scripts"),
    ("Audio player for the GNOME desktop that plays MP3 and Ogg files",
     "Python 3 library for parsing command-line arguments"),
    ("IMAP and POP3 mail server with SSL support",
     "Molecular dynamics simulation package for chemistry and biophysics"),
]


def encode(model_dir, texts):
    """Token ids for each text, from the tokenizers library with the exported tokenizer.json."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.jsonl"), os.path.join(tmp, "out.jsonl")
        with open(src, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
        tokenizer = os.path.join(model_dir, "tokenizer.json")
        subprocess.run(["node", NODE_SCRIPT, "encode", tokenizer, src, dst], check=True)
        with open(dst) as f:
            return [json.loads(line) for line in f]


def padded(ids):
    width = max(len(x) for x in ids)
    x = torch.zeros(len(ids), width, dtype=torch.long)
    mask = torch.zeros(len(ids), width, dtype=torch.long)
    for i, row in enumerate(ids):
        x[i, :len(row)] = torch.tensor(row)
        mask[i, :len(row)] = 1
    return x, mask


@torch.no_grad()
def run(model, ids, batch_size=64):
    """Returns (predicted label ids, mean-pooled normalised embeddings)."""
    preds, embs = [], []
    for b in range(0, len(ids), batch_size):
        x, mask = padded(ids[b:b + batch_size])
        hidden = model.bert(x, mask)
        preds.append(model.classifier(model.bert.pooler(hidden)).argmax(-1))
        embs.append(torch_bert.pool(hidden, mask, "mean", normalize=True))
    return torch.cat(preds).tolist(), torch.cat(embs)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", default=os.path.join(HERE, "..", "..", "examples"))
    ap.add_argument("--full", action="store_true", help="also rebuild and score the whole test split")
    ap.add_argument("--lists", default="/var/lib/apt/lists")
    ap.add_argument("--seed", type=int, default=example_data.DEFAULT_SEED,
                    help="as given to train_example_model.py")
    ap.add_argument("--per-class", type=int, default=example_data.DEFAULT_PER_CLASS,
                    help="as given to train_example_model.py")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model_dir = os.path.join(args.examples, "debian-sections")
    config, model = torch_bert.load(model_dir)
    label2id = config["label2id"]

    rows = read_jsonl(os.path.join(args.examples, "descriptions.jsonl"))
    labels_path = os.path.join(args.examples, "descriptions.labels.jsonl")
    gold = {r["id"]: r["label"] for r in read_jsonl(labels_path)}
    pred, emb = run(model, encode(model_dir, [r["text"] for r in rows]))
    y = [label2id[gold[r["id"]]] for r in rows]
    correct = sum(p == t for p, t in zip(pred, y))
    print(f"examples/descriptions.jsonl: {correct}/{len(rows)} = {correct / len(rows):.4f} correct")

    if args.full:
        _, _, test = example_data.build(args.lists, args.seed, args.per_class)
        test_pred, _ = run(model, encode(model_dir, [r["text"] for r in test]))
        ok = sum(p == label2id[r["label"]] for p, r in zip(test_pred, test))
        print(f"rebuilt test split: {ok}/{len(test)} = {ok / len(test):.4f} correct")

    print("cosine similarity of mean-pooled embeddings:")
    _, pair_emb = run(model, encode(model_dir, [t for pair in PAIRS for t in pair]))
    for k, (a, b) in enumerate(PAIRS):
        cos = float(pair_emb[2 * k] @ pair_emb[2 * k + 1])
        print(f"  {cos:+.3f}  {a[:45]!r} ~ {b[:45]!r}")
    sim = emb @ emb.T
    labels = torch.tensor(y)
    same = labels[:, None] == labels[None, :]
    off_diag = ~torch.eye(len(y), dtype=torch.bool)
    print(f"  sample mean: same section {sim[same & off_diag].mean():.3f}, "
          f"different sections {sim[~same].mean():.3f}")


if __name__ == "__main__":
    main()
