#!/usr/bin/env node
// ONNX Runtime (onnxruntime-node, CPU) peer of `salvo embed` for tools/bench: runs a model exported by
// tools/python/export_onnx.py (input_ids, attention_mask, token_type_ids -> embedding) and times it.
//
// Usage:
//   node tools/bench/ort_embed.js --model M.onnx --threads N [--repeats R] [--batch 64]
//       (--fixed ROWSxLEN [--vocab-size V] | --texts FILE.jsonl[.gz] --tokenizer tokenizer.json
//        [--max-length 512]) [--out FILE.npy] [--no-spin]
//
// --fixed: ROWS rows of exactly LEN deterministic pseudo-random ids in [1000, V) ([CLS]=101 first,
//   [SEP]=102 last), batches of --batch rows. V defaults to vocab_size from the config.json next to the
//   model (or one folder up), else 30522.
// --texts: the "text" field of each JSONL line, tokenised with the Hugging Face tokenizers library
//   (@anush008/tokenizers, encodeBatch, truncation at --max-length), batches of --batch rows in input
//   order padded to the batch's longest row, as a Spark predict_batch_udf user runs it. Tokenisation is
//   timed (end to end); RAYON_NUM_THREADS is set to --threads before the library first runs (the
//   library's thread pool reads it then), unless already set in the environment.
// Session: CPU execution provider, graphOptimizationLevel "all", intraOpNumThreads N, interOpNumThreads
//   1, sequential execution (--no-spin also turns off the intra-op threads' spin-waiting).
// One warm-up batch (not timed), then --repeats timed passes over all rows; one JSON line on stdout:
//   {"system":"onnxruntime","ort_version":..,"rows":..,"tokens":..,"padded_tokens":..,"seconds":[..],
//    "rows_per_s":median,"tokens_per_s":median[,"tokenize_seconds":[..]]}
// --out writes the last pass's embeddings as a float32 .npy [rows, hidden], in input order.
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const NODE_MODULES = path.join(__dirname, '..', 'node', 'node_modules');

function usage(msg) {
  if (msg) process.stderr.write(`ort_embed.js: ${msg}\n`);
  process.stderr.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(3, 8)
      .map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
  process.exit(2);
}

function parseArgs(argv) {
  const a = {repeats: 3, batch: 64, maxLength: 512, spin: true};
  const flags = {'--model': 'model', '--threads': 'threads', '--repeats': 'repeats', '--batch': 'batch',
    '--fixed': 'fixed', '--vocab-size': 'vocabSize', '--texts': 'texts', '--tokenizer': 'tokenizer',
    '--max-length': 'maxLength', '--out': 'out'};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--no-spin') { a.spin = false; continue; }
    if (argv[i] === '--help' || argv[i] === '-h') usage();
    const key = flags[argv[i]];
    if (!key || i + 1 >= argv.length) usage(`bad argument ${argv[i]}`);
    a[key] = argv[++i];
  }
  for (const k of ['threads', 'repeats', 'batch', 'maxLength', 'vocabSize']) {
    if (a[k] !== undefined) {
      a[k] = Number(a[k]);
      if (!Number.isInteger(a[k]) || a[k] < 1) usage(`--${k} must be a positive integer`);
    }
  }
  if (!a.model || !a.threads) usage('--model and --threads are required');
  if (!!a.fixed === !!a.texts) usage('give exactly one of --fixed and --texts');
  if (a.texts && !a.tokenizer) usage('--texts needs --tokenizer');
  if (a.fixed) {
    const m = /^(\d+)x(\d+)$/.exec(a.fixed);
    if (!m || Number(m[2]) < 2) usage('--fixed is ROWSxLEN, LEN >= 2');
    a.fixedRows = Number(m[1]);
    a.fixedLen = Number(m[2]);
  }
  return a;
}

function defaultVocabSize(model) {
  for (const dir of [path.dirname(model), path.dirname(path.dirname(model))]) {
    const f = path.join(dir, 'config.json');
    if (fs.existsSync(f)) {
      const v = JSON.parse(fs.readFileSync(f, 'utf8')).vocab_size;
      if (Number.isInteger(v)) return v;
    }
  }
  return 30522;
}

function readTexts(file) {
  let buf = fs.readFileSync(file);
  if (file.endsWith('.gz')) buf = zlib.gunzipSync(buf);
  return buf.toString('utf8').split('\n').filter((l) => l.trim() !== '').map((l, i) => {
    const row = JSON.parse(l);
    if (typeof row.text !== 'string') throw new Error(`${file}:${i + 1}: no string field "text"`);
    return row.text;
  });
}

// Deterministic ids (xorshift32), the same for every run.
function fixedRows(rows, len, vocab) {
  let s = 0x9e3779b9;
  const next = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
  const out = [];
  for (let r = 0; r < rows; r++) {
    const ids = new Array(len);
    ids[0] = 101;
    for (let j = 1; j < len - 1; j++) ids[j] = 1000 + (next() % (vocab - 1000));
    ids[len - 1] = 102;
    out.push(ids);
  }
  return out;
}

// Padded int64 feeds for a batch of id rows.
function feeds(ort, rows) {
  const n = rows.length;
  const width = Math.max(...rows.map((r) => r.length));
  const ids = new BigInt64Array(n * width);
  const mask = new BigInt64Array(n * width);
  for (let r = 0; r < n; r++) {
    const row = rows[r];
    const base = r * width;
    for (let j = 0; j < row.length; j++) {
      ids[base + j] = BigInt(row[j]);
      mask[base + j] = 1n;
    }
  }
  const dims = [n, width];
  return {input_ids: new ort.Tensor('int64', ids, dims), attention_mask: new ort.Tensor('int64', mask, dims),
    token_type_ids: new ort.Tensor('int64', new BigInt64Array(n * width), dims)};
}

function writeNpy(file, data, rows, cols) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;

async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (a.texts && process.env.RAYON_NUM_THREADS === undefined) {
    // Node's process.env assignment calls setenv(), so Rayon's pool (built on first use) sees it.
    process.env.RAYON_NUM_THREADS = String(a.threads);
  }
  const ort = require(path.join(NODE_MODULES, 'onnxruntime-node'));
  const ortVersion = require(path.join(NODE_MODULES, 'onnxruntime-node', 'package.json')).version;
  const options = {executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: a.threads,
    interOpNumThreads: 1, executionMode: 'sequential'};
  if (!a.spin) options.extra = {session: {intra_op: {allow_spinning: '0'}, inter_op: {allow_spinning: '0'}}};
  const session = await ort.InferenceSession.create(a.model, options);

  // Batches of inputs: id rows (fixed) or texts (tokenised inside the timed pass).
  let batches;
  let tokenizer = null;
  if (a.fixed) {
    const rows = fixedRows(a.fixedRows, a.fixedLen, a.vocabSize || defaultVocabSize(a.model));
    batches = [];
    for (let i = 0; i < rows.length; i += a.batch) batches.push(rows.slice(i, i + a.batch));
  } else {
    const tk = require(path.join(NODE_MODULES, '@anush008', 'tokenizers'));
    tokenizer = tk.Tokenizer.fromFile(a.tokenizer);
    tokenizer.setTruncation(a.maxLength);
    tokenizer.disablePadding();
    const texts = readTexts(a.texts);
    batches = [];
    for (let i = 0; i < texts.length; i += a.batch) batches.push(texts.slice(i, i + a.batch));
  }
  if (batches.length === 0) throw new Error('no rows');
  const rowCount = batches.reduce((n, b) => n + b.length, 0);

  let out = null;
  let hidden = 0;
  let tokens = 0;
  let paddedTokens = 0;
  let tokenizeSeconds = 0;
  // One pass over `list` (all batches, or the warm-up batch); keeps embeddings when `keep`.
  async function pass(list, keep) {
    let row = 0;
    tokens = 0;
    paddedTokens = 0;
    tokenizeSeconds = 0;
    for (const batch of list) {
      let ids = batch;
      if (tokenizer) {
        const t0 = process.hrtime.bigint();
        const encodings = await tokenizer.encodeBatch(batch);
        ids = encodings.map((e) => e.getIds());
        tokenizeSeconds += seconds(t0);
      }
      const width = Math.max(...ids.map((r) => r.length));
      for (const r of ids) tokens += r.length;
      paddedTokens += ids.length * width;
      const result = await session.run(feeds(ort, ids));
      const e = result.embedding;
      if (keep) {
        if (!out) {
          hidden = e.dims[1];
          out = new Float32Array(rowCount * hidden);
        }
        out.set(e.data, row * hidden);
      }
      row += ids.length;
    }
  }

  await pass([batches[0]], false);  // warm-up
  const times = [];
  const tokenizeTimes = [];
  for (let r = 0; r < a.repeats; r++) {
    const t0 = process.hrtime.bigint();
    await pass(batches, a.out && r === a.repeats - 1);
    times.push(seconds(t0));
    tokenizeTimes.push(tokenizeSeconds);
  }
  if (a.out) writeNpy(a.out, out, rowCount, hidden);

  const med = median(times);
  const result = {system: 'onnxruntime', ort_version: ortVersion, threads: a.threads, batch: a.batch,
    rows: rowCount, tokens, padded_tokens: paddedTokens, seconds: times.map((t) => +t.toFixed(4)),
    rows_per_s: +(rowCount / med).toFixed(2), tokens_per_s: +(tokens / med).toFixed(1)};
  if (tokenizer) result.tokenize_seconds = tokenizeTimes.map((t) => +t.toFixed(4));
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
  process.stderr.write(`ort_embed.js: ${e.stack || e.message}\n`);
  process.exit(1);
});
