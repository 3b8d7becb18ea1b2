// Reads Parquet files written by salvo with DuckDB (an independent implementation) and checks the
// values against the same rows written by salvo's JSONL sink, and the column types DuckDB sees.
// Env: SALVO_BIN, PARQUET_WRITE_DRIVER, SALVO_NODE_MODULES (tools/node/node_modules).
'use strict';
const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');

const ROOT = path.resolve(__dirname, '../../..');
const NODE_MODULES = path.resolve(process.env.SALVO_NODE_MODULES || path.join(ROOT, 'tools/node/node_modules'));
const { DuckDBInstance } = require(path.join(NODE_MODULES, '@duckdb/node-api'));
const SALVO = path.resolve(process.env.SALVO_BIN);
const DRIVER = path.resolve(process.env.PARQUET_WRITE_DRIVER);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'salvo-parquet-write-'));
let conn;

async function query(sql) {
  return (await conn.runAndReadAll(sql)).getRowObjectsJson();
}

function readJsonl(file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
}

function sqlPath(p) {
  return `'${p.replace(/'/g, "''")}'`;
}

// A JSONL value as DuckDB's JSON rendering shows it for a column of `type`.
function expectedAs(value, type) {
  if (value === null || value === undefined) return null;
  if (type.endsWith('[]')) return value.map((v) => expectedAs(v, type.slice(0, -2)));
  switch (type) {
    case 'BIGINT': case 'INTEGER': return String(value);
    case 'FLOAT': return Math.fround(value);
    case 'DOUBLE': return value;
    case 'BOOLEAN': return value;
    case 'VARCHAR': return typeof value === 'string' ? value : JSON.stringify(value);
    case 'BLOB': return Buffer.from(value, 'base64').toString('latin1');  // JSON Lines: base64
    default: throw new Error(`unexpected column type ${type}`);
  }
}

function actualAs(value, type) {
  if (value === null) return null;
  if (type.endsWith('[]')) return value.map((v) => actualAs(v, type.slice(0, -2)));
  if (type === 'BIGINT' || type === 'INTEGER') return String(value);
  return value;
}

// Checks `file` (a .parquet, or a glob of part files) against the JSONL rows. `types` are the
// expected DuckDB types by column name, in column order.
async function check(label, file, expectedFile, types, labels) {
  const source = `read_parquet(${sqlPath(file)}, filename=true, file_row_number=true)`;
  const described = await query(`DESCRIBE SELECT * EXCLUDE (filename, file_row_number) FROM ${source}`);
  assert.deepEqual(described.map((c) => [c.column_name, c.column_type]), Object.entries(types), `${label}: schema`);
  const rows = await query(`SELECT * FROM ${source} ORDER BY filename, file_row_number`);
  const expected = readJsonl(expectedFile);
  assert.equal(rows.length, expected.length, `${label}: row count`);
  let errors = 0;
  for (let i = 0; i < rows.length; ++i) {
    const row = rows[i];
    const want = expected[i];
    const where = `${label}: row ${i}`;
    const isError = 'error' in want;
    errors += isError;
    assert.equal(row.error, isError ? want.error : null, `${where}: error`);
    for (const [name, type] of Object.entries(types)) {
      let value;
      if (isError && !(name in want) && name !== 'error') {
        value = null;  // results of an error row
      } else if (name === 'error') {
        continue;
      } else {
        value = want[name] === undefined ? null : want[name];
      }
      assert.deepEqual(actualAs(row[name], type), expectedAs(value, type), `${where}: column ${name}`);
    }
  }
  return { rows: rows.length, errors };
}

async function metadata(file) {
  return query(`SELECT * FROM parquet_metadata(${sqlPath(file)})`);
}

const TYPED = { id: 'VARCHAR', n32: 'INTEGER', n64: 'BIGINT', f: 'FLOAT', x: 'DOUBLE', b: 'BOOLEAN', s: 'VARCHAR',
                bin: 'BLOB' };
const DYNAMIC = { id: 'BIGINT', di: 'BIGINT', dd: 'DOUBLE', db: 'BOOLEAN', dm: 'VARCHAR', dn: 'VARCHAR' };
const RESULTS = {
  embed: { embedding: 'FLOAT[]' },
  classify: { label: 'VARCHAR', score: 'FLOAT', top_labels: 'VARCHAR[]', top_scores: 'FLOAT[]', scores: 'FLOAT[]' },
  tokenize: { input_ids: 'INTEGER[]', token_type_ids: 'INTEGER[]' },
};
const DRIVER_LABELS = ['admin', 'devel', 'libs', 'x11 & gui'];
const CODECS = { none: 'UNCOMPRESSED', snappy: 'SNAPPY', gzip: 'GZIP', zstd: 'ZSTD', lz4_raw: 'LZ4_RAW' };

function driver(out, expected, task, codec, rowGroupBytes, partRows, rows, mode) {
  return spawnSync(DRIVER, [out, expected, task, codec, String(rowGroupBytes), String(partRows), String(rows), mode],
                   { encoding: 'utf8' });
}

async function driverCases() {
  for (const task of ['embed', 'classify', 'tokenize']) {
    for (const codec of Object.keys(CODECS)) {
      for (const [mode, carried] of [['typed', TYPED], ['dynamic', DYNAMIC]]) {
        const name = `${task}-${codec}-${mode}`;
        const out = path.join(work, `${name}.parquet`);
        const expected = path.join(work, `${name}.jsonl`);
        // Small row groups (about 4 KB) give many row groups and several pages' worth of rows.
        const r = driver(out, expected, task, codec, 4000, 1 << 30, 700, mode);
        assert.equal(r.status, 0, `${name}: driver failed: ${r.stderr}`);
        const left = fs.readdirSync(work).filter((n) => n.startsWith(`${name}.parquet.`) && n.endsWith('.partial'));
        assert.deepEqual(left, [], `${name}: partial file left behind`);
        const stats = await check(name, out, expected, { ...carried, ...RESULTS[task], error: 'VARCHAR' },
                                  DRIVER_LABELS);
        const meta = await metadata(out);
        const groups = new Set(meta.map((m) => m.row_group_id)).size;
        assert.ok(groups > 3, `${name}: expected several row groups, got ${groups}`);
        for (const m of meta) assert.equal(m.compression, CODECS[codec], `${name}: codec of ${m.path_in_schema}`);
        if (mode === 'typed') {
          const s = meta.filter((m) => m.path_in_schema === 's');
          assert.ok(s.every((m) => m.encodings.includes('RLE_DICTIONARY')), `${name}: s is dictionary-encoded`);
        }
        if (task === 'classify') {
          const kv = await query(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(${sqlPath(out)})`);
          assert.deepEqual(JSON.parse(kv.find((e) => e.k === 'salvo.labels').v), DRIVER_LABELS, `${name}: labels`);
        }
        console.log(`ok ${name}: ${stats.rows} rows (${stats.errors} error rows), ${groups} row groups`);
      }
    }
  }
}

async function partFileCases() {
  const dir = path.join(work, 'parts') + '/';
  const expected = path.join(work, 'parts.jsonl');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'part-00099.parquet'), 'stale part of an earlier run');
  const r = driver(dir, expected, 'embed', 'zstd', 3000, 500, 3000, 'typed');
  assert.equal(r.status, 0, `parts: driver failed: ${r.stderr}`);
  const names = fs.readdirSync(dir).sort();
  const parts = names.filter((n) => /^part-\d{5}\.parquet$/.test(n));
  assert.equal(parts.length, 6, `parts: expected 3000 / 500 part files, got ${names}`);
  assert.deepEqual(names, [...parts, '_SUCCESS', '_salvo_lock', '_salvo_manifest.json'].sort(),
                   'parts: folder holds only parts, the manifest, its lock and _SUCCESS');
  assert.ok(!parts.includes('part-00099.parquet'), 'parts: stale part removed');
  const stats = await check('parts', path.join(dir, 'part-*.parquet'), expected,
                            { ...TYPED, embedding: 'FLOAT[]', error: 'VARCHAR' });
  console.log(`ok parts: ${stats.rows} rows in ${parts.length} part files`);

  const empty = path.join(work, 'empty') + '/';
  const e = driver(empty, path.join(work, 'empty.jsonl'), 'embed', 'snappy', 3000, 500, 0, 'typed');
  assert.equal(e.status, 0, `empty: driver failed: ${e.stderr}`);
  assert.deepEqual(fs.readdirSync(empty).sort(), ['_SUCCESS', '_salvo_lock', '_salvo_manifest.json', 'part-00000.parquet']);
  await check('empty', path.join(empty, 'part-*.parquet'), path.join(work, 'empty.jsonl'),
              { ...TYPED, embedding: 'FLOAT[]', error: 'VARCHAR' });
  console.log('ok empty output: one part file with the schema and no rows');
}

async function killCases() {
  const out = path.join(work, 'killed.parquet');
  const r = driver(out, path.join(work, 'killed.jsonl'), 'embed', 'snappy', 3000, 1 << 30, 2000, 'kill');
  assert.equal(r.signal, 'SIGKILL', 'kill: driver was killed');
  assert.ok(!fs.existsSync(out), 'kill: no file under the final name');
  const partials = fs.readdirSync(work).filter((n) => n.startsWith('killed.parquet.') && n.endsWith('.partial'));
  assert.equal(partials.length, 1, `kill: the job's own partial file is what remains (${partials})`);

  const dir = path.join(work, 'killed-parts') + '/';
  const k = driver(dir, path.join(work, 'killed-parts.jsonl'), 'embed', 'snappy', 3000, 500, 3000, 'kill');
  assert.equal(k.signal, 'SIGKILL', 'kill parts: driver was killed');
  const names = fs.readdirSync(dir);
  assert.ok(!names.includes('_SUCCESS'), 'kill parts: no _SUCCESS');
  const parts = names.filter((n) => /^part-\d{5}\.parquet$/.test(n));
  assert.equal(parts.length, 3, `kill parts: the first 1500 rows are in complete parts: ${names}`);
  for (const p of parts) await query(`SELECT count(*) FROM ${sqlPath(path.join(dir, p))}`);  // each is whole
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, '_salvo_manifest.json'), 'utf8'));
  assert.equal(manifest.rows, 1500, 'kill parts: the manifest records the complete parts');
  assert.equal(manifest.complete, false);
  console.log(`ok killed writer: no final file; ${parts.length} complete parts, no _SUCCESS`);
}

// The CLI end to end: the same run written as .parquet and .jsonl.
async function cliCases() {
  const lines = zlib.gunzipSync(fs.readFileSync(path.join(ROOT, 'tests/data/texts/debian_descriptions.jsonl.gz')))
                    .toString('utf8').split('\n').filter((l) => l).slice(0, 120).map((l) => JSON.parse(l));
  lines[3].text = null;           // an error row
  delete lines[5].id;             // a null id
  lines.forEach((l, i) => { l.n = i * 3; l.ok = i % 2 === 0; });
  const input = path.join(work, 'cli-input.jsonl');
  fs.writeFileSync(input, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const model = path.join(ROOT, 'examples/debian-sections');
  const labels = Object.entries(JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8')).id2label || {})
                     .sort((a, b) => Number(a[0]) - Number(b[0])).map((e) => e[1]);
  const cases = [
    ['embed', [], 'zstd', RESULTS.embed],
    ['classify', ['--top-k', '3', '--all-scores'], 'gzip', RESULTS.classify],
    ['classify', [], 'snappy', { label: 'VARCHAR', score: 'FLOAT' }],
    ['tokenize', [], 'none', RESULTS.tokenize],
  ];
  for (const [task, extra, codec, results] of cases) {
    const name = `cli-${task}-${codec}`;
    const outputs = {};
    for (const ext of ['parquet', 'jsonl']) {
      outputs[ext] = path.join(work, `${name}.${ext}`);
      // The codec is Parquet's; JSONL is written plain (and refuses one).
      const codecFlags = ext === 'parquet' ? ['--compression', codec] : [];
      execFileSync(SALVO, [task, '--model', model, '--input', input, '--output', outputs[ext], '--keep-columns',
                           'package,lang,n,ok', ...codecFlags, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
    }
    const types = { id: 'BIGINT', package: 'VARCHAR', lang: 'VARCHAR', n: 'BIGINT', ok: 'BOOLEAN', ...results,
                    error: 'VARCHAR' };
    const stats = await check(name, outputs.parquet, outputs.jsonl, types, labels);
    assert.ok(stats.errors >= 1, `${name}: the null text is an error row`);
    console.log(`ok ${name}: ${stats.rows} rows (${stats.errors} error rows)`);
  }
}

(async () => {
  const db = await DuckDBInstance.create(':memory:');
  conn = await db.connect();
  await driverCases();
  await partFileCases();
  await killCases();
  await cliCases();
  fs.rmSync(work, { recursive: true, force: true });
  console.log('all Parquet write interop checks passed');
})().catch((e) => {
  console.error(e);
  console.error(`files kept in ${work}`);
  process.exit(1);
});
