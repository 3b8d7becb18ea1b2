#!/usr/bin/env node
// Tokenizer parity: salvo's `tokenize` command against Hugging Face tokenizers (the Rust library
// through @anush008/tokenizers) on every text of tests/data/texts/debian_descriptions.jsonl.gz and
// tests/data/tokenizers/hard_cases.jsonl, for each tokenizer variant. Compares input_ids and
// token_type_ids row by row; fails on any difference, printing the first few with their text.
// Also prints both tokenizers' single-thread throughput (information only).
//
//   node tokenizer_parity.js <salvo binary> [--variant NAME]... [--limit N] [--keep DIR]
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { spawnSync } = require('child_process');

// Single-threaded HF library, for a fair throughput figure (read when the library starts).
process.env.TOKENIZERS_PARALLELISM = 'false';
process.env.RAYON_NUM_THREADS = '1';

const repo = path.resolve(__dirname, '..', '..', '..');
const tk = require(path.join(repo, 'tools', 'node', 'node_modules', '@anush008', 'tokenizers'));
const dataDir = path.join(repo, 'tests', 'data', 'tokenizers');
const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

// The oracle for a bare vocab.txt: what transformers' BertTokenizerFast converts BertTokenizer to.
function vocabTxtOracle(dir, lowercase) {
  const vocabPath = path.join(dir, 'vocab.txt');
  const tokens = fs.readFileSync(vocabPath, 'utf8').split('\n');
  if (tokens[tokens.length - 1] === '') tokens.pop();
  const vocab = {};
  tokens.forEach((t, i) => { vocab[t.trimEnd()] = i; });
  const t = new tk.Tokenizer(tk.WordPiece.init(vocab, {
    unkToken: '[UNK]', continuingSubwordPrefix: '##', maxInputCharsPerWord: 100,
  }));
  t.setNormalizer(tk.bertNormalizer({
    cleanText: true, handleChineseChars: true, stripAccents: lowercase, lowercase,
  }));
  t.setPreTokenizer(tk.bertPreTokenizer());
  t.setPostProcessor(tk.templateProcessing(
      '[CLS]:0 $A:0 [SEP]:0', '[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1',
      [['[CLS]', vocab['[CLS]']], ['[SEP]', vocab['[SEP]']]]));
  t.addSpecialTokens(SPECIALS.filter((s) => s in vocab));
  return t;
}

function truncated(tokenizer, maxLength) {
  tokenizer.setTruncation(maxLength);
  return tokenizer;
}

function jsonOracle(dir, maxLength) {
  const t = tk.Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
  if (maxLength === null) t.disableTruncation();
  else if (maxLength !== undefined) t.setTruncation(maxLength);
  return t;
}

// Each variant: the model folder salvo reads, extra CLI flags, and the equivalent HF tokenizer.
// Without --max-length the CLI uses tokenizer.json's truncation, else 512 (no config.json here).
const VARIANTS = {
  uncased: { dir: 'bert-uncased', args: [], oracle: (d) => jsonOracle(d) },
  cased: {
    dir: 'bert-cased', args: ['--max-length', '1000000'], oracle: (d) => jsonOracle(d, null),
  },
  'vocab-uncased': {
    dir: 'vocab-uncased', args: [], oracle: (d) => truncated(vocabTxtOracle(d, true), 512),
  },
  'vocab-cased': {
    dir: 'vocab-cased', args: [], oracle: (d) => truncated(vocabTxtOracle(d, false), 512),
  },
  'uncased-128': {
    dir: 'bert-uncased', args: ['--max-length', '128'], oracle: (d) => jsonOracle(d, 128),
  },
};

function loadTexts(limit) {
  const corpus = zlib.gunzipSync(fs.readFileSync(
      path.join(repo, 'tests', 'data', 'texts', 'debian_descriptions.jsonl.gz'))).toString('utf8');
  const rows = [];
  for (const line of corpus.split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line);
    rows.push({ source: `corpus id ${r.id} (${r.lang})`, text: r.text });
  }
  const texts = limit ? rows.slice(0, limit) : rows;
  for (const line of fs.readFileSync(path.join(dataDir, 'hard_cases.jsonl'), 'utf8').split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line);
    texts.push({ source: r.id, text: r.text });
  }
  return texts;
}

function runSalvo(binary, modelDir, args, inputPath, outputPath) {
  const start = process.hrtime.bigint();
  const res = spawnSync(binary, ['tokenize', '--model', modelDir, '--input', inputPath,
                                 '--output', outputPath, '--threads', '1', '--quiet', ...args],
                        { encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (res.status !== 0) {
    throw new Error(`salvo tokenize failed (exit ${res.status}): ${res.stderr || res.error}`);
  }
  const out = new Map();
  for (const line of fs.readFileSync(outputPath, 'utf8').split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line);
    out.set(Number(r.id), r);
  }
  return { out, seconds };
}

async function runOracle(tokenizer, texts) {
  const start = process.hrtime.bigint();
  const encodings = [];
  for (let i = 0; i < texts.length; i += 1000) {
    const batch = await tokenizer.encodeBatch(texts.slice(i, i + 1000).map((t) => t.text));
    encodings.push(...batch);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { encodings, seconds };
}

function sameArray(a, b) {
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function describe(tokenizer, ids) {
  return (ids || []).map((id) => tokenizer.idToToken(id) ?? `<${id}>`).join(' ');
}

async function main() {
  const argv = process.argv.slice(2);
  const binary = argv[0];
  if (!binary || binary.startsWith('--')) {
    console.error('usage: tokenizer_parity.js <salvo binary> ' +
                  '[--variant NAME]... [--limit N] [--keep DIR]');
    process.exit(2);
  }
  const chosen = [];
  let limit = 0;
  let keep = null;
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === '--variant') chosen.push(argv[++i]);
    else if (argv[i] === '--limit') limit = Number(argv[++i]);
    else if (argv[i] === '--keep') keep = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  const names = chosen.length ? chosen : Object.keys(VARIANTS);
  const texts = loadTexts(limit);
  const work = keep || fs.mkdtempSync(path.join(os.tmpdir(), 'salvo-tokenizer-parity-'));
  fs.mkdirSync(work, { recursive: true });
  const inputPath = path.join(work, 'input.jsonl');
  const rows = texts.map((t, i) => JSON.stringify({ id: i, text: t.text }));
  fs.writeFileSync(inputPath, rows.join('\n') + '\n');
  const chars = texts.reduce((n, t) => n + t.text.length, 0);
  console.log(`${texts.length} texts (${chars} UTF-16 units) per variant`);

  let failed = false;
  for (const name of names) {
    const v = VARIANTS[name];
    if (!v) throw new Error(`unknown variant ${name}; known: ${Object.keys(VARIANTS).join(', ')}`);
    const dir = path.join(dataDir, v.dir);
    const oracle = v.oracle(dir);
    const hf = await runOracle(oracle, texts);
    const salvo = runSalvo(binary, dir, v.args, inputPath, path.join(work, `${name}.out.jsonl`));
    const mismatches = [];
    let tokens = 0;
    texts.forEach((t, i) => {
      const e = hf.encodings[i];
      const ids = e.getIds();
      const typeIds = e.getTypeIds();
      tokens += ids.length;
      const got = salvo.out.get(i);
      if (!got || !sameArray(got.input_ids, ids) || !sameArray(got.token_type_ids, typeIds)) {
        mismatches.push({ i, t, ids, typeIds, got });
      }
    });
    console.log(`${name}: ${mismatches.length} mismatches of ${texts.length} texts, ` +
                `${tokens} HF tokens; ` +
                `HF ${(texts.length / hf.seconds).toFixed(0)} texts/s (one thread, in process), ` +
                `salvo ${(texts.length / salvo.seconds).toFixed(0)} texts/s ` +
                `(CLI --threads 1, including start-up and file I/O)`);
    for (const m of mismatches.slice(0, 5)) {
      console.log(`  mismatch at ${m.t.source}: ${JSON.stringify(m.t.text.slice(0, 200))}`);
      if (!m.got) {
        console.log('    salvo wrote no row for it');
        continue;
      }
      if (m.got.error) console.log(`    salvo error: ${m.got.error}`);
      const ours = m.got.input_ids || [];
      let k = 0;
      while (k < ours.length && k < m.ids.length && ours[k] === m.ids[k]) k++;
      console.log(`    ${m.ids.length} HF ids, ${ours.length} salvo ids, first difference at ${k}:`);
      const from = Math.max(0, k - 3);
      console.log(`      HF    ... ${describe(oracle, m.ids.slice(from, k + 8))}`);
      console.log(`      salvo ... ${describe(oracle, ours.slice(from, k + 8))}`);
      if (sameArray(ours, m.ids)) {
        console.log(`    type ids differ: HF ${JSON.stringify(m.typeIds).slice(0, 120)} ` +
                    `salvo ${JSON.stringify(m.got.token_type_ids).slice(0, 120)}`);
      }
    }
    if (mismatches.length) failed = true;
  }
  if (!keep) fs.rmSync(work, { recursive: true, force: true });
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
