// Writes Parquet files with DuckDB (an independent implementation) in every encoding, page
// version and compression it offers, reads them with salvo's Parquet source (the parquet_dump
// driver) and checks that every value is identical to what DuckDB reads.
//   node parquet_read_test.js path/to/parquet_dump
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { DuckDBInstance } = require(path.join(__dirname, '../../../tools/node/node_modules/@duckdb/node-api'));

const dump = process.argv[2];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'salvo-pq-read-'));

// Columns: nullable and NOT NULL, every flat type salvo carries. Texts include unicode, empty,
// null and long values; `cat` has few distinct values so that writers choose dictionaries.
const TABLE = `
CREATE TABLE t (
  text VARCHAR, req_s VARCHAR NOT NULL, i INTEGER, req_i INTEGER NOT NULL, b BIGINT, f FLOAT, d DOUBLE,
  flag BOOLEAN, req_flag BOOLEAN NOT NULL, small TINYINT, ui UINTEGER, ub UBIGINT, blob BLOB, cat VARCHAR,
  sorted VARCHAR);
INSERT INTO t SELECT
  CASE WHEN n % 7 = 3 THEN NULL
       WHEN n % 11 = 0 THEN ''
       WHEN n % 13 = 0 THEN repeat('long ünïcödé text ' || n, 300)
       WHEN n % 5 = 0 THEN 'Grüße 日本語 ' || n || ' Привет 🎉'
       ELSE 'row ' || n || ' plain text' END,
  'req' || (n * 7919 % 1000),
  CASE WHEN n % 9 = 4 THEN NULL ELSE (n * 2654435761) % 2147483647 - 1073741823 END,
  n - 2500,
  CASE WHEN n % 6 = 1 THEN NULL ELSE n * 1000000007 * (CASE WHEN n % 2 = 0 THEN -1 ELSE 1 END) END,
  CASE WHEN n % 8 = 2 THEN NULL ELSE (n / 7.0)::FLOAT END,
  CASE WHEN n % 10 = 5 THEN NULL ELSE n * 3.14159265358979 - 1e5 END,
  CASE WHEN n % 4 = 3 THEN NULL ELSE n % 3 = 0 END,
  n % 2 = 0,
  (n % 200 - 100)::TINYINT,
  (n * 123457 % 4294967295)::UINTEGER,
  CASE WHEN n % 3 = 0 THEN 18446744073709551615 - n ELSE n END::UBIGINT,
  CASE WHEN n % 5 = 1 THEN NULL ELSE ('\\x00\\xff' || n)::BLOB END,
  CASE WHEN n % 12 = 0 THEN NULL ELSE 'category ' || (n % 4) END,
  'https://example.org/packages/' || lpad(n::VARCHAR, 6, '0')
FROM range(5000) r(n);`;
const COLUMNS = ['req_s', 'i', 'req_i', 'b', 'f', 'd', 'flag', 'req_flag', 'small', 'ui', 'ub', 'blob', 'cat', 'sorted'];
// ub (UBIGINT) is carried as JSON numbers ("dynamic"): its values past int64 stay exact.
const EXPECTED_TYPES = ['string', 'int32', 'int32', 'int64', 'float', 'double', 'bool', 'bool', 'int32', 'int64',
                        'dynamic', 'binary', 'string', 'string'];

const CONFIGS = [];
for (const compression of ['uncompressed', 'snappy', 'gzip', 'zstd', 'lz4', 'lz4_raw']) {
  for (const version of ['v1', 'v2']) {
    CONFIGS.push({ compression, version, rowGroup: 100000 });
  }
}
CONFIGS.push({ compression: 'snappy', version: 'v1', rowGroup: 777 });
CONFIGS.push({ compression: 'zstd', version: 'v2', rowGroup: 1000 });
CONFIGS.push({ compression: 'snappy', version: 'v1', rowGroup: 100000, extra: 'DICTIONARY_SIZE_LIMIT 1' });
CONFIGS.push({ compression: 'zstd', version: 'v2', rowGroup: 2048, extra: 'DICTIONARY_SIZE_LIMIT 1' });

function jsValue(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  return v;
}

function sameValue(got, want, column) {
  if (want === null) return got === null;
  if (column === 'blob') return got !== null && typeof got === 'object' && got.hex === want;
  if (typeof want === 'number' && ['f', 'd'].includes(column)) return typeof got === 'number' && got === want;
  if (typeof want === 'number' || typeof want === 'bigint') return got === String(want);
  return got === want;
}

(async () => {
  const db = await DuckDBInstance.create();
  const c = await db.connect();
  await c.run(TABLE);
  const select = 'SELECT text, ' + COLUMNS.map((col) => (col === 'blob' ? 'hex(blob) AS blob' : col)).join(', ');
  const encodingsSeen = new Set();
  let failures = 0;
  let files = 0;
  for (const cfg of CONFIGS) {
    const file = path.join(dir, `t_${cfg.compression}_${cfg.version}_${cfg.rowGroup}${cfg.extra ? '_nodict' : ''}.parquet`);
    const options = [`FORMAT parquet`, `COMPRESSION ${cfg.compression}`, `ROW_GROUP_SIZE ${cfg.rowGroup}`,
                     `PARQUET_VERSION ${cfg.version}`];
    if (cfg.extra) options.push(cfg.extra);
    try {
      await c.run(`COPY t TO '${file}' (${options.join(', ')})`);
    } catch (e) {
      console.log(`SKIP ${path.basename(file)}: DuckDB cannot write it (${e.message.split('\n')[0]})`);
      continue;
    }
    files++;
    const meta = (await c.runAndReadAll(
        `SELECT DISTINCT encodings, compression FROM parquet_metadata('${file}')`)).getRowObjectsJS();
    const encodings = new Set();
    for (const m of meta) for (const e of String(m.encodings).split(',')) encodings.add(e.trim());
    encodings.forEach((e) => encodingsSeen.add(e));
    const groups = (await c.runAndReadAll(`SELECT count(DISTINCT row_group_id) AS n FROM parquet_metadata('${file}')`))
        .getRowObjectsJS()[0].n;
    const want = (await c.runAndReadAll(`${select} FROM read_parquet('${file}')`)).getRowObjectsJS();
    const out = execFileSync(dump, [file, 'text', '-', ...COLUMNS], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'inherit'] }).toString();
    const lines = out.trim().split('\n').map((l) => JSON.parse(l));
    const header = lines.shift();
    let bad = 0;
    const complain = (msg) => {
      if (bad++ < 5) console.log(`  ${path.basename(file)}: ${msg}`);
    };
    if (JSON.stringify(header.types) !== JSON.stringify(EXPECTED_TYPES)) {
      complain(`carried types ${JSON.stringify(header.types)}`);
    }
    if (lines.length !== want.length) complain(`${lines.length} rows, DuckDB reads ${want.length}`);
    for (let r = 0; r < Math.min(lines.length, want.length); r++) {
      const got = lines[r];
      const row = want[r];
      if (got.line !== r + 1) complain(`row ${r}: line ${got.line}`);
      if (row.text === null) {
        if (got.error !== 'text is null') complain(`row ${r}: null text gave ${JSON.stringify(got.error)}`);
      } else if (got.text !== row.text) {
        complain(`row ${r}: text ${JSON.stringify(got.text).slice(0, 80)} != ${JSON.stringify(row.text).slice(0, 80)}`);
      }
      COLUMNS.forEach((col, k) => {
        const w = jsValue(row[col]);
        if (!sameValue(got.values[k], w, col)) {
          complain(`row ${r} column ${col}: ${JSON.stringify(got.values[k])} != ${JSON.stringify(w)}`);
        }
      });
    }
    console.log(`${bad ? 'FAIL' : 'ok  '} ${path.basename(file)}: ${lines.length} rows, ${groups} row groups, ` +
                `encodings ${[...encodings].sort().join(' ')}`);
    if (bad) failures++;
  }

  // Spark's layout: a folder of part files in key=value folders, plus files that must be ignored.
  const spark = path.join(dir, 'spark');
  await c.run(`COPY (SELECT text, i, coalesce(cat, 'none/x') AS part FROM t) TO '${spark}' ` +
              `(FORMAT parquet, PARTITION_BY (part), COMPRESSION snappy)`);
  fs.writeFileSync(path.join(spark, '_SUCCESS'), '');
  fs.writeFileSync(path.join(spark, '.hidden.parquet.crc'), 'junk');
  const sparkWant = (await c.runAndReadAll(
      `SELECT text, i, part FROM read_parquet('${spark}/**/*.parquet', hive_partitioning = true) ORDER BY filename, file_row_number`))
      .getRowObjectsJS().length;
  const sparkOut = execFileSync(dump, [spark, 'text', '-', 'i', 'part'], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'inherit'] }).toString().trim().split('\n');
  const sparkHeader = JSON.parse(sparkOut.shift());
  const parts = new Set(sparkOut.map((l) => JSON.parse(l).values[1]));
  const sparkOk = sparkOut.length === sparkWant && sparkHeader.types[1] === 'string' && parts.size >= 4 &&
                  [...parts].every((p) => String(p).startsWith('category ') || p === 'none/x');
  console.log(`${sparkOk ? 'ok  ' : 'FAIL'} partitioned folder: ${sparkOut.length} rows (DuckDB ${sparkWant}), partition values ${[...parts].join(' | ')}`);
  if (!sparkOk) failures++;

  // A glob over two of the files reads both in order.
  const globOut = execFileSync(dump, [path.join(dir, 't_snappy_v*_100000.parquet'), 'text'], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'inherit'] })
      .toString().trim().split('\n').length - 1;
  console.log(`${globOut === 10000 ? 'ok  ' : 'FAIL'} glob: ${globOut} rows`);
  if (globOut !== 10000) failures++;

  const required = ['PLAIN', 'RLE_DICTIONARY', 'DELTA_BINARY_PACKED', 'DELTA_LENGTH_BYTE_ARRAY'];
  const missing = required.filter((e) => !encodingsSeen.has(e));
  console.log(`encodings covered: ${[...encodingsSeen].sort().join(' ')}`);
  if (missing.length) {
    console.log(`FAIL: DuckDB wrote no ${missing.join(', ')}`);
    failures++;
  }
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(failures ? `${failures} FAILED of ${files + 2}` : `all ${files + 2} checks passed`);
  process.exit(failures ? 1 : 0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
