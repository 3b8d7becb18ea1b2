#!/usr/bin/env python3
"""Writes the seed corpora of the tokenizer fuzz targets:
  <out>/json/    small tokenizer.json files of every kind, cut down from tests/data/tokenizers
  <out>/encode/  texts (hard cases and corpus texts) prefixed by the target's two control bytes
Uses only Python's standard library.

  python3 make_seeds.py SOURCE_DIR OUT
"""
import gzip
import json
import os
import sys


def small(doc, keep=300):
    model = doc["model"]
    if model.get("type") == "Unigram":
        model["vocab"] = model["vocab"][:keep]
        if model.get("unk_id") is not None and model["unk_id"] >= keep:
            model["unk_id"] = 0
    else:
        ids = sorted(model["vocab"].items(), key=lambda kv: kv[1])[:keep]
        model["vocab"] = dict(ids)
        if "merges" in model:
            vocab = model["vocab"]
            kept = []
            for m in model["merges"]:
                a, b = m.split(" ") if isinstance(m, str) else m
                if a in vocab and b in vocab and a + b in vocab:
                    kept.append(m)
            model["merges"] = kept
    limit = len(model["vocab"])
    doc["added_tokens"] = [t for t in doc.get("added_tokens", []) if t["id"] < limit]
    return doc


def main():
    src, out = sys.argv[1], sys.argv[2]
    data = os.path.join(src, "tests", "data", "tokenizers")
    os.makedirs(os.path.join(out, "json"), exist_ok=True)
    os.makedirs(os.path.join(out, "encode"), exist_ok=True)
    for name in sorted(os.listdir(data)):
        path = os.path.join(data, name, "tokenizer.json")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        normalizer = doc.get("normalizer") or {}
        # The SentencePiece rules are large: keep them in one seed, drop them in another.
        if "Precompiled" in json.dumps(normalizer)[:200]:
            lean = small(json.loads(json.dumps(doc)))
            lean["normalizer"] = {"type": "NFKC"}
            with open(os.path.join(out, "json", name + "-lean.json"), "w", encoding="utf-8") as f:
                json.dump(lean, f, ensure_ascii=False)
        with open(os.path.join(out, "json", name + ".json"), "w", encoding="utf-8") as f:
            json.dump(small(doc), f, ensure_ascii=False)
    texts = []
    with open(os.path.join(data, "hard_cases.jsonl"), encoding="utf-8") as f:
        texts += [json.loads(line)["text"] for line in f if line.strip()]
    with gzip.open(os.path.join(src, "tests", "data", "texts", "debian_descriptions.jsonl.gz"),
                   "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i % 500 == 0:
                texts.append(json.loads(line)["text"][:600])
    for i, text in enumerate(texts):
        with open(os.path.join(out, "encode", f"seed-{i}"), "wb") as f:
            f.write(bytes([i % 6, (i * 37) % 256]) + text.encode("utf-8"))


if __name__ == "__main__":
    main()
