#!/bin/sh
# Builds the Parquet fuzz target with clang (libFuzzer + ASan + UBSan) into a temporary folder and
# runs it for a bounded time on a seed corpus of small valid files written by DuckDB.
#   run_fuzz.sh SOURCE_DIR SECONDS
set -eu
src="$1"
seconds="${2:-60}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$src/src" -I"$src/include" "$src/tests/fuzz/parquet/parquet_fuzz.cc" \
  "$src/src/io/parquet/parquet_file_reader.cc" "$src/src/io/parquet/parquet_decoder.cc" \
  "$src/src/io/parquet/parquet_metadata.cc" "$src/src/io/parquet/thrift_compact.cc" \
  "$src/src/io/parquet/page_buffer.cc" "$src/src/io/compression.cc" "$src/src/core/error.cc" \
  "$src/src/core/utf8.cc" \
  -lsnappy -lzstd -llz4 -lz -o "$work/parquet_fuzz"
mkdir -p "$work/corpus"
node "$src/tests/fuzz/parquet/make_seeds.js" "$work/corpus"
# pyarrow's and DuckDB's LIST files of the unit tests (legacy naming, dictionary-encoded lists).
cp "$src"/tests/data/parquet/*.parquet "$work/corpus/"
# regressions/ holds inputs that once crashed the reader; they are replayed first as part of the corpus.
"$work/parquet_fuzz" -seed=1 -runs=200000 -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
  -artifact_prefix="$PWD/" "$work/corpus" "$src/tests/fuzz/parquet/regressions"
