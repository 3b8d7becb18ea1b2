// Writes small valid Parquet files (every encoding, page version and compression DuckDB offers;
// flat and LIST columns) as the fuzzer's seed corpus:  node make_seeds.js OUT_DIR
'use strict';
const path = require('path');
const { DuckDBInstance } = require(path.join(__dirname, '../../../tools/node/node_modules/@duckdb/node-api'));

(async () => {
  const out = process.argv[2];
  const c = await (await DuckDBInstance.create()).connect();
  await c.run(`CREATE TABLE t AS SELECT CASE WHEN n % 5 = 0 THEN NULL ELSE 'text ' || (n % 7) END AS text,
      n::INTEGER AS i, n * 3 AS b, n / 3.0 AS d, (n / 3.0)::FLOAT AS f, n % 2 = 0 AS flag FROM range(40) r(n)`);
  // LIST columns: nulls at each level, empty lists, lists of lists, a list longer than the others.
  await c.run(`CREATE TABLE l AS SELECT
      CASE WHEN n % 6 = 0 THEN NULL WHEN n % 6 = 1 THEN []::FLOAT[]
           ELSE [CASE WHEN n % 4 = 2 THEN NULL ELSE n / 2.0 END, n::FLOAT]::FLOAT[] END AS f,
      CASE WHEN n % 5 = 0 THEN NULL ELSE [[n, NULL], [], NULL, [n * 2]]::INTEGER[][] END AS nested,
      CASE WHEN n % 7 = 3 THEN range(n * 5)::BIGINT[] ELSE [n]::BIGINT[] END AS long,
      CASE WHEN n % 3 = 0 THEN NULL ELSE ['w' || (n % 4), NULL] END AS words,
      [n % 2 = 0]::BOOLEAN[] AS flags FROM range(40) r(n)`);
  for (const compression of ['uncompressed', 'snappy', 'gzip', 'zstd', 'lz4_raw']) {
    for (const version of ['v1', 'v2']) {
      await c.run(`COPY t TO '${out}/${compression}_${version}.parquet' ` +
                  `(FORMAT parquet, COMPRESSION ${compression}, PARQUET_VERSION ${version}, ROW_GROUP_SIZE 16)`);
      await c.run(`COPY l TO '${out}/lists_${compression}_${version}.parquet' ` +
                  `(FORMAT parquet, COMPRESSION ${compression}, PARQUET_VERSION ${version}, ROW_GROUP_SIZE 16)`);
    }
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
