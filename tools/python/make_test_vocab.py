#!/usr/bin/env python3
"""Builds the small WordPiece test tokenizers in tests/data/tokenizers/ from the shipped corpus.

No real BERT vocabulary is available offline, so this makes realistic stand-ins: special tokens,
single characters (accented, Cyrillic, CJK, ...) and their "##" forms, frequent whole words,
frequent word-initial prefixes and frequent "##" suffixes, ranked by corpus frequency. Characters
seen fewer than MIN_CHAR_COUNT times are left out on purpose so that [UNK] occurs in real text.

Writes, under tests/data/tokenizers/:
  bert-uncased/tokenizer.json   lowercase, truncation max_length 512
  bert-cased/tokenizer.json     cased, no truncation
  vocab-uncased/vocab.txt + tokenizer_config.json (do_lower_case true)
  vocab-cased/vocab.txt + tokenizer_config.json (do_lower_case false)

Usage: /usr/bin/python3 tools/python/make_test_vocab.py [repo_root]
"""

import collections
import gzip
import json
import os
import sys
import unicodedata

VOCAB_SIZE = 8000
MIN_CHAR_COUNT = 3
SPECIALS = ["[PAD]"] + [f"[unused{i}]" for i in range(10)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SPECIAL_NAMES = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def is_cjk(ch):
    cp = ord(ch)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0xF900 <= cp <= 0xFAFF)


def is_punct(ch):
    return (ch.isascii() and not ch.isalnum() and ch.isprintable() and not ch.isspace()) or \
        unicodedata.category(ch).startswith("P")


def words_of(text, lowercase):
    """Approximates BertNormalizer + BertPreTokenizer (good enough to pick vocabulary)."""
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Co", "Cs") and ch not in "\t\n\r":
            continue
        if is_cjk(ch):
            out.append(" " + ch + " ")
            continue
        if lowercase:
            ch = "".join(c for c in unicodedata.normalize("NFD", ch)
                         if unicodedata.category(c) != "Mn").lower()
        out.append(ch)
    words = []
    for chunk in "".join(out).split():
        cur = ""
        for ch in chunk:
            if is_punct(ch):
                if cur:
                    words.append(cur)
                words.append(ch)
                cur = ""
            else:
                cur += ch
        if cur:
            words.append(cur)
    return words


def ranked(counter, limit, exclude):
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    out = []
    for tok, _ in items:
        if len(out) >= limit:
            break
        if tok not in exclude:
            out.append(tok)
            exclude.add(tok)
    return out


def build_vocab(texts, lowercase):
    word_counts = collections.Counter()
    for text in texts:
        word_counts.update(words_of(text, lowercase))

    initial_chars = collections.Counter()
    inner_chars = collections.Counter()
    for word, n in word_counts.items():
        initial_chars[word[0]] += n
        for ch in word[1:]:
            inner_chars[ch] += n

    vocab = list(SPECIALS)
    seen = set(vocab)
    chars = sorted((c for c, n in initial_chars.items() if n >= MIN_CHAR_COUNT),
                   key=lambda c: (-initial_chars[c], c))
    for ch in chars:
        seen.add(ch)
        vocab.append(ch)
    inner = sorted((c for c, n in inner_chars.items() if n >= MIN_CHAR_COUNT),
                   key=lambda c: (-inner_chars[c], c))
    for ch in inner:
        if ch not in seen:
            seen.add(ch)
            vocab.append(ch)
        seen.add("##" + ch)
        vocab.append("##" + ch)

    budget = VOCAB_SIZE - len(vocab)
    if budget < 1000:
        raise SystemExit(f"too many characters ({len(vocab)}) for a {VOCAB_SIZE}-token vocabulary")
    whole = ranked(collections.Counter({w: n for w, n in word_counts.items() if len(w) > 1}),
                   budget * 55 // 100, seen)
    vocab.extend(whole)

    prefixes = collections.Counter()
    suffixes = collections.Counter()
    whole_set = set(whole)
    for word, n in word_counts.items():
        if word in whole_set or len(word) < 4:
            continue
        for k in range(2, min(7, len(word))):
            prefixes[word[:k]] += n
            suffixes["##" + word[-k:]] += n
            if k + 2 <= len(word) - 1:
                suffixes["##" + word[2:2 + k]] += n
    remaining = VOCAB_SIZE - len(vocab)
    vocab.extend(ranked(prefixes, remaining * 40 // 100, seen))
    vocab.extend(ranked(suffixes, VOCAB_SIZE - len(vocab), seen))
    return vocab


def tokenizer_json(vocab, lowercase, max_length):
    ids = {tok: i for i, tok in enumerate(vocab)}
    added = [{"id": ids[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for t in SPECIAL_NAMES]
    truncation = None
    if max_length:
        truncation = {"direction": "Right", "max_length": max_length, "strategy": "LongestFirst",
                      "stride": 0}
    cls, sep = ids["[CLS]"], ids["[SEP]"]
    return {
        "version": "1.0",
        "truncation": truncation,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": lowercase},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [cls], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [sep], "tokens": ["[SEP]"]},
            },
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids},
    }


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    corpus = os.path.join(root, "tests", "data", "texts", "debian_descriptions.jsonl.gz")
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    out = os.path.join(root, "tests", "data", "tokenizers")
    for name, lowercase, max_length in (("uncased", True, 512), ("cased", False, None)):
        vocab = build_vocab(texts, lowercase)
        assert len(vocab) == len(set(vocab)) == VOCAB_SIZE, len(vocab)
        doc = tokenizer_json(vocab, lowercase, max_length)
        write(os.path.join(out, f"bert-{name}", "tokenizer.json"),
              json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        write(os.path.join(out, f"vocab-{name}", "vocab.txt"), "".join(t + "\n" for t in vocab))
        write(os.path.join(out, f"vocab-{name}", "tokenizer_config.json"),
              json.dumps({"do_lower_case": lowercase, "tokenizer_class": "BertTokenizer"},
                         indent=2) + "\n")
        print(f"{name}: {len(vocab)} tokens")


if __name__ == "__main__":
    main()
