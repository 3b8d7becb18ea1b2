#!/bin/sh
# Makes a >= 1 GB Parquet file of real package descriptions (tests/data/texts, repeated) with
# DuckDB, then times reading its text column in salvo and in DuckDB in the same run (median of 3).
#   tools/bench/parquet_read_bench.sh BUILD_DIR [TARGET_GB] [COMPRESSION]
set -eu
build="$1"
gb="${2:-1}"
compression="${3:-snappy}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
file="${SALVO_BENCH_DIR:-/tmp}/salvo_bench_text_${gb}gb_${compression}.parquet"
node "$root/tools/bench/parquet_read_bench.js" make "$root/tests/data/texts/debian_descriptions.jsonl.gz" "$file" "$gb" "$compression"
ls -l "$file"
SALVO_BENCH_PARQUET="$file" "$build/tools/bench/parquet_read_bench" --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true
node "$root/tools/bench/parquet_read_bench.js" duckdb "$file"
