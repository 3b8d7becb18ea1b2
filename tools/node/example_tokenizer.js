#!/usr/bin/env node
// Builds and applies the example model's BERT WordPiece tokenizer with the Hugging Face tokenizers
// library (Rust, through @anush008/tokenizers), so that the training ids are exactly the ids that
// inference with the exported tokenizer.json sees.
//
// Usage:
//   node example_tokenizer.js words IN.jsonl OUT.json
//       Word counts of the "text" fields after BertNormalizer + BertPreTokenizer (vocab input).
//   node example_tokenizer.js build VOCAB.txt OUT_tokenizer.json [MAX_LENGTH]
//       Writes tokenizer.json for a vocab.txt (one token a line, line number = id).
//   node example_tokenizer.js encode TOKENIZER.json IN.jsonl OUT.jsonl
//       One JSON array of token ids per input line ([CLS] ... [SEP], truncated as configured).
'use strict';

const fs = require('fs');
const path = require('path');
const tk = require(path.join(__dirname, 'node_modules', '@anush008', 'tokenizers'));

const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

function readTexts(file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '')
      .map((l, i) => {
        const row = JSON.parse(l);
        if (typeof row.text !== 'string') {
          throw new Error(`${file}:${i + 1}: no string field "text"`);
        }
        return row.text;
      });
}

function words(inFile, outFile) {
  const normalizer = tk.bertNormalizer({cleanText: true, handleChineseChars: true, lowercase: true});
  const preTokenizer = tk.bertPreTokenizer();
  const counts = new Map();
  for (const text of readTexts(inFile)) {
    for (const [word] of preTokenizer.preTokenizeString(normalizer.normalizeString(text))) {
      counts.set(word, (counts.get(word) || 0) + 1);
    }
  }
  fs.writeFileSync(outFile, JSON.stringify(Object.fromEntries(counts)));
}

function build(vocabFile, outFile, maxLength) {
  const tokens = fs.readFileSync(vocabFile, 'utf8').split('\n').filter((t) => t !== '');
  SPECIAL.forEach((t, i) => {
    if (tokens[i] !== t) throw new Error(`${vocabFile}: line ${i + 1} must be ${t}, is ${tokens[i]}`);
  });
  const vocab = Object.fromEntries(tokens.map((t, i) => [t, i]));
  const model = tk.WordPiece.init(vocab, {
    unkToken: '[UNK]', continuingSubwordPrefix: '##', maxInputCharsPerWord: 100});
  const tokenizer = new tk.Tokenizer(model);
  tokenizer.setNormalizer(tk.bertNormalizer({cleanText: true, handleChineseChars: true, lowercase: true}));
  tokenizer.setPreTokenizer(tk.bertPreTokenizer());
  tokenizer.setPostProcessor(tk.templateProcessing(
      '[CLS] $A [SEP]', '[CLS] $A [SEP] $B:1 [SEP]:1',
      [['[CLS]', vocab['[CLS]']], ['[SEP]', vocab['[SEP]']]]));
  tokenizer.setDecoder(tk.wordPieceDecoder('##', true));
  tokenizer.addSpecialTokens(SPECIAL);
  tokenizer.setTruncation(maxLength);
  tokenizer.save(outFile, true);
}

async function encode(tokenizerFile, inFile, outFile) {
  const tokenizer = tk.Tokenizer.fromFile(tokenizerFile);
  const texts = readTexts(inFile);
  const out = fs.openSync(outFile, 'w');
  const batch = 512;
  for (let i = 0; i < texts.length; i += batch) {
    const encodings = await tokenizer.encodeBatch(texts.slice(i, i + batch));
    fs.writeSync(out, encodings.map((e) => JSON.stringify(e.getIds())).join('\n') + '\n');
  }
  fs.closeSync(out);
}

async function main() {
  const [command, ...args] = process.argv.slice(2);
  if (command === 'words' && args.length === 2) {
    words(args[0], args[1]);
  } else if (command === 'build' && (args.length === 2 || args.length === 3)) {
    build(args[0], args[1], Number(args[2] || 128));
  } else if (command === 'encode' && args.length === 3) {
    await encode(args[0], args[1], args[2]);
  } else {
    process.stderr.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(4, 12)
        .map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
    process.exit(2);
  }
}

main().catch((e) => {
  process.stderr.write(`example_tokenizer.js: ${e.message}\n`);
  process.exit(1);
});
