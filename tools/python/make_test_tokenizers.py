#!/usr/bin/env python3
"""Trains the small tokenizers of tests/data/tokenizers/ with the Hugging Face tokenizers library's
own trainers on the test corpus (tests/data/texts/debian_descriptions.jsonl.gz):

  trained-bpe-bytelevel  RoBERTa style: ByteLevel pre-tokenizer, byte-level BPE, RobertaProcessing,
                         <mask> with lstrip
  trained-unigram        XLM-R style: Precompiled (SentencePiece's nmt_nfkc rules, taken from a
                         SentencePiece model trained here) + Replace, Metaspace, Unigram,
                         TemplateProcessing
  trained-wordpiece      NFD + Lowercase + StripAccents, Whitespace + Digits, WordPiece,
                         BertProcessing
  trained-bpe-bytefallback  Llama style: Prepend + Replace normalizer, BPE with byte_fallback and
                         fuse_unk, TemplateProcessing

  /work/venv/bin/python tools/python/make_test_tokenizers.py [--out tests/data/tokenizers]

Needs tokenizers and sentencepiece (tools/python/requirements-test.txt). The output is
deterministic for a given library version.
"""
import argparse
import base64
import gzip
import json
import os
import tempfile

from tokenizers import (Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers,
                        processors, trainers, AddedToken)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def corpus():
    path = os.path.join(REPO, "tests", "data", "texts", "debian_descriptions.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def nmt_nfkc_charsmap(texts):
    """SentencePiece's default normalization rules, from a small model trained on the texts."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as model_pb2
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "corpus.txt")
        with open(data, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(t.replace("\n", " ") + "\n")
        prefix = os.path.join(tmp, "spm")
        spm.SentencePieceTrainer.train(input=data, model_prefix=prefix, vocab_size=1000, character_coverage=0.98,
                                       model_type="unigram", normalization_rule_name="nmt_nfkc",
                                       minloglevel=2, num_threads=1)
        proto = model_pb2.ModelProto()
        with open(prefix + ".model", "rb") as f:
            proto.ParseFromString(f.read())
        return proto.normalizer_spec.precompiled_charsmap


def save(tokenizer, out, name):
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    # Compact but stable: one line per vocabulary entry keeps diffs readable.
    tokenizer.save(os.path.join(folder, "tokenizer.json"), pretty=True)
    print(name, tokenizer.get_vocab_size(), "tokens")


def bpe_bytelevel(texts, out):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=4000, min_frequency=2,
                                  special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer)
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")),
                                                      ("<s>", tok.token_to_id("<s>")),
                                                      trim_offsets=True, add_prefix_space=False)
    save(tok, out, "trained-bpe-bytelevel")


def unigram(texts, out):
    charsmap = nmt_nfkc_charsmap(texts)
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(charsmap),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(vocab_size=4000, special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                                      unk_token="<unk>", show_progress=False)
    tok.train_from_iterator(texts, trainer)
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    save(tok, out, "trained-unigram")


def wordpiece(texts, out):
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.Lowercase(),
                                           normalizers.StripAccents()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(),
                                                 pre_tokenizers.Digits(individual_digits=True)])
    trainer = trainers.WordPieceTrainer(vocab_size=4000,
                                        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                                        show_progress=False)
    tok.train_from_iterator(texts, trainer)
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")),
                                                   ("[CLS]", tok.token_to_id("[CLS]")))
    save(tok, out, "trained-wordpiece")


def bpe_bytefallback(texts, out):
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    trainer = trainers.BpeTrainer(vocab_size=3000, min_frequency=2,
                                  special_tokens=["<unk>", "<s>", "</s>"], show_progress=False,
                                  limit_alphabet=200)
    tok.train_from_iterator(texts, trainer)
    # SentencePiece-style byte tokens, appended after the trained vocabulary.
    doc = json.loads(tok.to_str())
    vocab = doc["model"]["vocab"]
    for b in range(256):
        name = "<0x%02X>" % b
        if name not in vocab:
            vocab[name] = len(vocab)
    tok = Tokenizer.from_str(json.dumps(doc))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s>:1 $B:1",
        special_tokens=[("<s>", tok.token_to_id("<s>"))])
    save(tok, out, "trained-bpe-bytefallback")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO, "tests", "data", "tokenizers"))
    args = parser.parse_args()
    texts = corpus()
    bpe_bytelevel(texts, args.out)
    unigram(texts, args.out)
    wordpiece(texts, args.out)
    bpe_bytefallback(texts, args.out)


if __name__ == "__main__":
    main()
