#!/usr/bin/env node
// Tokenisation alone, on one thread: the Hugging Face tokenizers library (Rust, through
// @anush008/tokenizers) encoding every text of a JSONL file, the peer of `salvo tokenize --threads 1`.
//
// Usage:
//   node tools/bench/hf_tokenize.js --tokenizer tokenizer.json --texts FILE.jsonl[.gz] [--repeats R]
//       [--max-length 512] [--mode batch|loop] [--ids-out FILE.jsonl]
//
// --mode batch (default): encodeBatch over chunks of 1024 texts with RAYON_NUM_THREADS=1 (set here
//   before the library first runs): one Rayon worker encodes while the JS thread waits.
// --mode loop: `await encode(text)` per text (each call a task on Node's libuv pool; slower).
// The timed region is encoding plus reading the ids out of each Encoding (getIds), as a user does.
// One untimed warm-up chunk, then --repeats passes; one JSON line on stdout:
//   {"system":"hf-tokenizers","mode":..,"rows":..,"tokens":..,"seconds":[..],"rows_per_s":median,
//    "tokens_per_s":median}
// --ids-out writes what `salvo tokenize --output FILE.jsonl` writes, byte for byte:
//   {"id":<the input's id, when present>,"input_ids":[..],"token_type_ids":[..]} per row.
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const CHUNK = 1024;

function usage(msg) {
  if (msg) process.stderr.write(`hf_tokenize.js: ${msg}\n`);
  process.stderr.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(4, 7)
      .map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
  process.exit(2);
}

function parseArgs(argv) {
  const a = {repeats: 3, maxLength: 512, mode: 'batch'};
  const flags = {'--tokenizer': 'tokenizer', '--texts': 'texts', '--repeats': 'repeats',
    '--max-length': 'maxLength', '--ids-out': 'idsOut', '--mode': 'mode'};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--help' || argv[i] === '-h') usage();
    const key = flags[argv[i]];
    if (!key || i + 1 >= argv.length) usage(`bad argument ${argv[i]}`);
    a[key] = argv[++i];
  }
  for (const k of ['repeats', 'maxLength']) {
    a[k] = Number(a[k]);
    if (!Number.isInteger(a[k]) || a[k] < 1) usage(`--${k} must be a positive integer`);
  }
  if (!a.tokenizer || !a.texts) usage('--tokenizer and --texts are required');
  if (a.mode !== 'batch' && a.mode !== 'loop') usage('--mode is batch or loop');
  return a;
}

function readRows(file) {
  let buf = fs.readFileSync(file);
  if (file.endsWith('.gz')) buf = zlib.gunzipSync(buf);
  return buf.toString('utf8').split('\n').filter((l) => l.trim() !== '').map((l, i) => {
    const row = JSON.parse(l);
    if (typeof row.text !== 'string') throw new Error(`${file}:${i + 1}: no string field "text"`);
    return row;
  });
}

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const a = parseArgs(process.argv.slice(2));
  // One thread: Rayon's pool is built on the library's first parallel call and reads this then
  // (Node's process.env assignment calls setenv()).
  process.env.RAYON_NUM_THREADS = '1';
  const tk = require(path.join(__dirname, '..', 'node', 'node_modules', '@anush008', 'tokenizers'));
  const tokenizer = tk.Tokenizer.fromFile(a.tokenizer);
  tokenizer.setTruncation(a.maxLength);
  tokenizer.disablePadding();
  const rows = readRows(a.texts);
  const texts = rows.map((r) => r.text);

  // Encodes `list` (getIds() read for every row: the ids a user gets); returns the token count and,
  // when `keep`, the encodings.
  async function encodeAll(list, keep) {
    const out = [];
    let tokens = 0;
    if (a.mode === 'batch') {
      for (let i = 0; i < list.length; i += CHUNK) {
        for (const e of await tokenizer.encodeBatch(list.slice(i, i + CHUNK))) {
          tokens += e.getIds().length;
          if (keep) out.push(e);
        }
      }
    } else {
      for (const t of list) {
        const e = await tokenizer.encode(t);
        tokens += e.getIds().length;
        if (keep) out.push(e);
      }
    }
    return {encodings: out, tokens};
  }

  await encodeAll(texts.slice(0, CHUNK), false);  // warm-up
  const times = [];
  let last;
  for (let r = 0; r < a.repeats; r++) {
    const t0 = process.hrtime.bigint();
    last = await encodeAll(texts, a.idsOut && r === a.repeats - 1);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  if (a.idsOut) {
    const lines = last.encodings.map((e, i) => {
      const id = rows[i].id;
      return `{${id === undefined || id === null ? '' : `"id":${JSON.stringify(id)},`}"input_ids":${JSON.stringify(e.getIds())},` +
          `"token_type_ids":${JSON.stringify(e.getTypeIds())}}`;
    });
    fs.writeFileSync(a.idsOut, lines.join('\n') + '\n');
  }
  const med = median(times);
  process.stdout.write(JSON.stringify({system: 'hf-tokenizers', mode: a.mode, threads: 1, rows: texts.length,
    tokens: last.tokens, seconds: times.map((t) => +t.toFixed(4)), rows_per_s: +(texts.length / med).toFixed(1),
    tokens_per_s: +(last.tokens / med).toFixed(0)}) + '\n');
}

main().catch((e) => {
  process.stderr.write(`hf_tokenize.js: ${e.stack || e.message}\n`);
  process.exit(1);
});
