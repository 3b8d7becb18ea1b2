#!/usr/bin/python3
"""Trains the bundled example model examples/debian-sections: a tiny BERT that predicts a Debian
package's archive section from its English description, and writes the sample inputs beside it.

Needs (all offline):
  * Debian's archive indexes in /var/lib/apt/lists: *_main_i18n_Translation-en.lz4 and
    *_main_binary-amd64_Packages.lz4, which `apt-get update -o Acquire::Languages=en` fetches
    (read with lz4cat; see example_data.py for how they are joined and split);
  * node with tools/node's `npm install` done: the tokenizer is built and applied with the
    Hugging Face tokenizers library (tools/node/example_tokenizer.js), so training sees exactly
    the token ids that inference with the exported tokenizer.json produces;
  * /usr/bin/python3 with torch (Debian's python3-torch).

Steps: data set -> word counts -> WordPiece vocabulary -> tokenizer.json -> token ids ->
BertForSequenceClassification (salvo_ref.torch_bert) trained from scratch -> test evaluation ->
Hugging Face / sentence-transformers folder, model card, and sample inputs.

Everything is seeded and single-process, so a rerun on the same lists gives the same files.

Usage (from the repository root):
  /usr/bin/python3 tools/python/train_example_model.py [--out examples] [--threads 1]
"""
import argparse
import csv
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import example_data  # noqa: E402
import wordpiece_vocab  # noqa: E402
from salvo_ref import safetensors_io, torch_bert  # noqa: E402

NODE_SCRIPT = os.path.join(HERE, "..", "node", "example_tokenizer.js")
MODEL_NAME = "debian-sections"


def node(*args):
    subprocess.run(["node", NODE_SCRIPT, *args], check=True)


def read_ids(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def model_config(vocab_size, labels, args):
    c = torch_bert.default_config(
        architectures=["BertForSequenceClassification"], vocab_size=vocab_size,
        hidden_size=args.hidden, num_hidden_layers=args.layers, num_attention_heads=args.heads,
        intermediate_size=4 * args.hidden, max_position_embeddings=args.max_length,
        hidden_dropout_prob=args.dropout, attention_probs_dropout_prob=0.0)
    c["id2label"] = {str(i): name for i, name in enumerate(labels)}
    c["label2id"] = {name: i for i, name in enumerate(labels)}
    c["problem_type"] = "single_label_classification"
    c["torch_dtype"] = "float32"
    return c


def init_weights(module, std):
    """Hugging Face's BERT initialisation: N(0, std) weights, zero biases, unit LayerNorms."""
    for m in module.modules():
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.normal_(m.weight, std=std)
            torch.nn.init.zeros_(m.bias)
        elif isinstance(m, torch.nn.Embedding):
            torch.nn.init.normal_(m.weight, std=std)
        elif isinstance(m, torch.nn.LayerNorm):
            torch.nn.init.ones_(m.weight)
            torch.nn.init.zeros_(m.bias)
    with torch.no_grad():
        module.bert.embeddings.word_embeddings.weight[0].zero_()


def add_dropout(model, p):
    """torch_bert has no dropout (it is an inference reference), so training adds it with hooks
    after the embeddings and after every encoder layer; they do nothing in eval mode."""
    def hook(mod, inputs, output):
        return F.dropout(output, p, mod.training)
    model.bert.embeddings.register_forward_hook(hook)
    for layer in model.bert.encoder.layer:
        layer.attention.register_forward_hook(hook)
        layer.register_forward_hook(hook)


def batches(ids, labels, batch_size, rng=None):
    """Yields (rows, input_ids, attention_mask, labels) batches of similar length (less padding)."""
    order = list(range(len(ids)))
    if rng is not None:
        rng.shuffle(order)
    # Sort by length inside chunks of 50 batches, then shuffle the batches.
    chunk = batch_size * 50
    groups = []
    for c in range(0, len(order), chunk):
        part = sorted(order[c:c + chunk], key=lambda i: len(ids[i]))
        groups += [part[b:b + batch_size] for b in range(0, len(part), batch_size)]
    if rng is not None:
        rng.shuffle(groups)
    for g in groups:
        width = max(len(ids[i]) for i in g)
        x = torch.zeros(len(g), width, dtype=torch.long)
        mask = torch.zeros(len(g), width, dtype=torch.long)
        for r, i in enumerate(g):
            x[r, :len(ids[i])] = torch.tensor(ids[i])
            mask[r, :len(ids[i])] = 1
        yield g, x, mask, torch.tensor([labels[i] for i in g])


def mean_pool(hidden, mask):
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1)


@torch.no_grad()
def predict(model, ids, batch_size=128):
    model.eval()
    pred = [0] * len(ids)
    for rows, x, mask, _ in batches(ids, [0] * len(ids), batch_size):
        for i, p in zip(rows, model(x, mask).argmax(-1).tolist()):
            pred[i] = p
    return pred


def accuracy_table(pred, gold, labels):
    """Returns {"overall", "majority_baseline", "majority_label", "per_class": {label: (n, acc)}}."""
    per_class = {}
    for k, name in enumerate(labels):
        idx = [i for i, g in enumerate(gold) if g == k]
        per_class[name] = (len(idx), sum(pred[i] == k for i in idx) / max(1, len(idx)))
    majority = max(range(len(labels)), key=lambda k: sum(g == k for g in gold))
    return {"overall": sum(p == g for p, g in zip(pred, gold)) / len(gold),
            "majority_baseline": sum(g == majority for g in gold) / len(gold),
            "majority_label": labels[majority], "per_class": per_class}


def train(config, train_ids, train_y, val_ids, val_y, args):
    torch.manual_seed(args.seed)
    model = torch_bert.BertForSequenceClassification(config)
    init_weights(model, config["initializer_range"])
    add_dropout(model, args.dropout)
    # An auxiliary head on the mean-pooled last hidden states (dropped on export) makes the
    # sentence embeddings that `salvo embed` computes carry the topic, not only the [CLS] pooler.
    mean_head = torch.nn.Linear(config["hidden_size"], len(config["id2label"]))
    params = list(model.parameters()) + list(mean_head.parameters())
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    steps = args.epochs * math.ceil(len(train_ids) / args.batch_size)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup))))
    # Rare sections get more weight (inverse square root of their frequency), so that the model does
    # not learn to ignore them.
    freq = torch.bincount(torch.tensor(train_y), minlength=len(config["id2label"])).float()
    weight = (freq.clamp(min=1) ** -0.5)
    weight = weight * len(weight) / weight.sum()
    rng = random.Random(args.seed)
    best, best_state = -1.0, None
    for epoch in range(args.epochs):
        model.train()
        t0, total, n = time.time(), 0.0, 0
        for _, x, mask, y in batches(train_ids, train_y, args.batch_size, rng):
            hidden = model.bert(x, mask)
            logits = model.classifier(model.bert.pooler(hidden))
            loss = F.cross_entropy(logits, y, weight) + args.mean_loss * F.cross_entropy(
                mean_head(F.dropout(mean_pool(hidden, mask), args.dropout, True)), y, weight)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            total += loss.item() * len(y)
            n += len(y)
        val_acc = accuracy_table(predict(model, val_ids), val_y, list(config["id2label"].values()))
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / n:.4f}, "
              f"val accuracy {val_acc['overall']:.4f} ({time.time() - t0:.0f} s)", flush=True)
        if val_acc["overall"] > best:
            best = val_acc["overall"]
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return model.eval()


def write_json(obj, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def export(model, config, model_dir):
    tensors = {k: v.float().contiguous() for k, v in model.state_dict().items()}
    safetensors_io.save(tensors, os.path.join(model_dir, "model.safetensors"), {"format": "pt"})
    write_json(config, os.path.join(model_dir, "config.json"))
    write_json({"tokenizer_class": "BertTokenizer", "do_lower_case": True,
                "tokenize_chinese_chars": True, "strip_accents": None,
                "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                "cls_token": "[CLS]", "mask_token": "[MASK]",
                "model_max_length": config["max_position_embeddings"], "clean_up_tokenization_spaces": True},
               os.path.join(model_dir, "tokenizer_config.json"))
    write_json({"max_seq_length": config["max_position_embeddings"], "do_lower_case": False},
               os.path.join(model_dir, "sentence_bert_config.json"))
    write_json([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {"idx": 2, "name": "2", "path": "2_Normalize",
                 "type": "sentence_transformers.models.Normalize"}],
               os.path.join(model_dir, "modules.json"))
    os.makedirs(os.path.join(model_dir, "1_Pooling"), exist_ok=True)
    write_json({"word_embedding_dimension": config["hidden_size"], "pooling_mode_cls_token": False,
                "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
                "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
                "pooling_mode_lasttoken": False, "include_prompt": True},
               os.path.join(model_dir, "1_Pooling", "config.json"))
    # sentence-transformers' Normalize has no files; .gitkeep keeps the folder in git.
    os.makedirs(os.path.join(model_dir, "2_Normalize"), exist_ok=True)
    open(os.path.join(model_dir, "2_Normalize", ".gitkeep"), "w").close()


def write_samples(test, out_dir, n_jsonl, n_csv, seed):
    """Writes examples/descriptions.{jsonl,labels.jsonl,csv} from held-out test records, spread
    over the sections in proportion to the test split."""
    rows = sorted(test, key=lambda r: r["id"])
    random.Random(seed).shuffle(rows)
    rows = rows[:n_jsonl]
    example_data.write_jsonl(rows, os.path.join(out_dir, "descriptions.jsonl"), ["id", "text"])
    with open(os.path.join(out_dir, "descriptions.labels.jsonl"), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({"id": r["id"], "label": r["label"]}, ensure_ascii=False) + "\n")
    with open(os.path.join(out_dir, "descriptions.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        w.writerow(["id", "text"])
        for r in rows[:n_csv]:
            w.writerow([r["id"], r["text"]])


def model_card(config, sizes, table, args, seconds, cpu_seconds, n_params, file_bytes):
    labels = list(config["id2label"].values())
    lines = [
        "# debian-sections: a tiny BERT that files Debian packages into archive sections",
        "",
        "A small uncased BERT (`BertForSequenceClassification`), trained from scratch, that reads a",
        "package's English description and predicts its Debian archive section. Its mean-pooled,",
        "normalised embeddings (the sentence-transformers files `modules.json`, `1_Pooling/`,",
        "`2_Normalize/`) put descriptions of related software close together. It is salvo's bundled",
        "example: small enough to ship in the repository, trained on real text.",
        "",
        "## Data",
        "Debian 12 (bookworm) `main`: `Translation-en` (descriptions) joined with the amd64 `Packages`",
        "index (sections) on package name and description md5, from `/var/lib/apt/lists`. Identical",
        "descriptions are kept once; the split is by source package (no source package on both sides),",
        f"at most {args.per_class} training records per section. Records: {sizes['train']} train, "
        f"{sizes['val']} validation",
        f"(epoch selection), {sizes['test']} test.",
        "",
        f"Labels ({len(labels)}): " + ", ".join(f"`{x}`" for x in labels) + ".",
        "",
        "## Model",
        f"- vocabulary: {config['vocab_size']} uncased WordPiece tokens learnt from the training texts",
        "  (`tokenizer.json` for the Hugging Face tokenizers library, `vocab.txt`); at most",
        f"  {config['max_position_embeddings']} tokens per text, longer ones are truncated",
        f"- encoder: {config['num_hidden_layers']} layers, hidden {config['hidden_size']}, "
        f"{config['num_attention_heads']} heads, intermediate {config['intermediate_size']}, GELU",
        f"- {n_params / 1e6:.2f} M parameters; `model.safetensors` is {file_bytes / 2**20:.1f} MiB (F32)",
        "",
        "## Accuracy on the held-out test split",
        f"Overall **{table['overall']:.1%}**; always predicting the most frequent test label "
        f"(`{table['majority_label']}`) scores {table['majority_baseline']:.1%}.",
        "",
        "| section | test records | accuracy |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {n} | {acc:.1%} |" for name, (n, acc) in table["per_class"].items()]
    lines += [
        "",
        "## Training",
        f"AdamW (lr {args.lr}, weight decay 0.01, linear warm-up and decay), batch {args.batch_size},",
        f"{args.epochs} epochs (the best on validation kept), dropout {args.dropout}, seed {args.seed},",
        "class-weighted (1/sqrt(frequency)) cross-entropy on the `[CLS]` pooler head plus, with",
        f"weight {args.mean_loss}, on a linear head over the mean-pooled hidden states (not exported;",
        "it shapes the sentence embeddings). The whole script took "
        f"{seconds / 60:.1f} minutes wall clock, {cpu_seconds / 60:.1f}",
        f"minutes of CPU time, with {args.threads} torch thread(s) on a 2-core machine shared with",
        "other jobs.",
        "",
        "Retrain (needs `apt-get update -o Acquire::Languages=en`, node with `tools/node` installed,",
        "and Debian's python3-torch):",
        "",
        "```",
        "/usr/bin/python3 tools/python/train_example_model.py --out examples",
        "```",
        "",
        "Check the exported folder with the PyTorch reference (`--full` rescores the whole test split):",
        "",
        "```",
        "/usr/bin/python3 tools/python/check_example_model.py --full",
        "```",
        "",
        "## Limits",
        "Sections are fuzzy (a Python library for astronomy may be `python` or `science`; a game's",
        "data package may be `games` or `doc`), so some errors are disagreements a human would share.",
        "Only English is seen in training.",
        "",
    ]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "examples"))
    ap.add_argument("--lists", default="/var/lib/apt/lists")
    ap.add_argument("--work", default="/tmp/salvo-example-work", help="scratch folder for ids")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=example_data.DEFAULT_SEED)
    ap.add_argument("--per-class", type=int, default=example_data.DEFAULT_PER_CLASS)
    ap.add_argument("--vocab-size", type=int, default=6000)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--mean-loss", type=float, default=0.5)
    args = ap.parse_args()
    start = time.time()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    random.seed(args.seed)

    out_dir = os.path.abspath(args.out)
    model_dir = os.path.join(out_dir, MODEL_NAME)
    if os.path.isdir(model_dir):
        shutil.rmtree(model_dir)
    os.makedirs(model_dir)
    os.makedirs(args.work, exist_ok=True)

    train_rows, val_rows, test_rows = example_data.build(args.lists, args.seed, args.per_class)
    labels = example_data.SECTIONS
    sizes = {"train": len(train_rows), "val": len(val_rows), "test": len(test_rows)}
    print(f"data: {sizes}", flush=True)
    paths = {}
    for name, rows in [("train", train_rows), ("val", val_rows), ("test", test_rows)]:
        paths[name] = os.path.join(args.work, name + ".jsonl")
        example_data.write_jsonl(rows, paths[name], ["id", "text", "label"])

    words_path = os.path.join(args.work, "words.json")
    node("words", paths["train"], words_path)
    with open(words_path) as f:
        vocab = wordpiece_vocab.learn(json.load(f), args.vocab_size)
    with open(os.path.join(model_dir, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    tokenizer_path = os.path.join(model_dir, "tokenizer.json")
    node("build", os.path.join(model_dir, "vocab.txt"), tokenizer_path, str(args.max_length))
    ids = {}
    for name in paths:
        node("encode", tokenizer_path, paths[name], paths[name] + ".ids")
        ids[name] = read_ids(paths[name] + ".ids")
    print(f"tokenizer: {len(vocab)} tokens ({time.time() - start:.0f} s)", flush=True)

    label_id = {name: i for i, name in enumerate(labels)}
    y = {name: [label_id[r["label"]] for r in rows]
         for name, rows in [("train", train_rows), ("val", val_rows), ("test", test_rows)]}
    config = model_config(len(vocab), labels, args)
    model = train(config, ids["train"], y["train"], ids["val"], y["val"], args)

    table = accuracy_table(predict(model, ids["test"]), y["test"], labels)
    print(f"test accuracy {table['overall']:.4f}, majority baseline {table['majority_baseline']:.4f} "
          f"({table['majority_label']})")
    for name, (n, acc) in table["per_class"].items():
        print(f"  {name:10s} {n:5d} {acc:.4f}")

    export(model, config, model_dir)
    write_samples(test_rows, out_dir, 300, 50, args.seed)
    n_params = sum(p.numel() for p in model.parameters())
    file_bytes = os.path.getsize(os.path.join(model_dir, "model.safetensors"))
    seconds = time.time() - start
    cpu_seconds = sum(os.times()[:4])
    with open(os.path.join(model_dir, "README.md"), "w", encoding="utf-8") as f:
        f.write(model_card(config, sizes, table, args, seconds, cpu_seconds, n_params, file_bytes))
    print(f"wrote {model_dir} ({n_params} parameters, {file_bytes} bytes) in {seconds:.0f} s "
          f"({cpu_seconds:.0f} s CPU)")


if __name__ == "__main__":
    main()
