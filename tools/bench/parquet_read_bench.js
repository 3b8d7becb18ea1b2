// Helper of parquet_read_bench.sh:
//   node parquet_read_bench.js make CORPUS.jsonl.gz OUT.parquet GB COMPRESSION
//   node parquet_read_bench.js duckdb FILE.parquet     (median of 3 timed text-column scans)
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { DuckDBInstance } = require(path.join(__dirname, '../node/node_modules/@duckdb/node-api'));

(async () => {
  const [mode, a, b, gb, compression] = process.argv.slice(2);
  const c = await (await DuckDBInstance.create()).connect();
  if (mode === 'make') {
    if (fs.existsSync(b)) return;
    const texts = zlib.gunzipSync(fs.readFileSync(a)).toString().trim().split('\n').map((l) => JSON.parse(l).text);
    const bytes = texts.reduce((s, t) => s + Buffer.byteLength(t), 0);
    const repeats = Math.ceil((Number(gb) * 1.15 * (1 << 30)) / bytes);
    const tmp = `${b}.corpus.jsonl`;
    fs.writeFileSync(tmp, texts.map((t, i) => JSON.stringify({ i, text: t })).join('\n') + '\n');
    await c.run(`CREATE TABLE corpus AS SELECT * FROM read_json('${tmp}', columns = {i: 'BIGINT', text: 'VARCHAR'})`);
    fs.unlinkSync(tmp);
    // Each copy gets its repeat number appended, so dictionaries cannot collapse the column.
    await c.run(`COPY (SELECT r * ${texts.length} + i AS id, text || ' #' || r AS text FROM corpus, range(${repeats}) t(r))
                 TO '${b}' (FORMAT parquet, COMPRESSION ${compression})`);
    return;
  }
  const times = [];
  let sum = 0;
  for (let k = 0; k < 3; k++) {
    const start = process.hrtime.bigint();
    const r = await c.runAndReadAll(`SELECT sum(strlen(text))::BIGINT AS n FROM read_parquet('${a}')`);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    sum = r.getRowObjectsJS()[0].n;
  }
  times.sort((x, y) => x - y);
  console.log(`duckdb: text bytes ${sum}, median ${times[1].toFixed(0)} ms (runs ${times.map((t) => t.toFixed(0)).join(', ')} ms)`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
