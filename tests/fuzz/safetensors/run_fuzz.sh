#!/bin/sh
# Builds the safetensors fuzz target with clang-14 (libFuzzer + ASan + UBSan) into a temporary
# folder and runs it with a fixed seed and run count.
#   run_fuzz.sh SOURCE_DIR SECONDS
set -eu
src="$1"
seconds="${2:-60}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$src/src" -I"$src/include" "$src/tests/fuzz/safetensors/safetensors_fuzz.cc" \
  "$src/src/model/safetensors.cc" "$src/src/core/error.cc" "$src/src/core/json_text.cc" -o "$work/safetensors_fuzz"
mkdir -p "$work/corpus"
# regressions/, when present, holds inputs that once crashed the reader; they are replayed first.
regressions="$src/tests/fuzz/safetensors/regressions"
[ -d "$regressions" ] || regressions=""
/usr/bin/python3 "$src/tests/fuzz/safetensors/make_seeds.py" "$src" "$work/corpus"
"$work/safetensors_fuzz" -seed=1 -runs=150000 -max_total_time="$seconds" -rss_limit_mb=2048 \
  -max_len=65536 -timeout=10 -print_final_stats=1 -artifact_prefix="$PWD/" \
  "$work/corpus" $regressions
