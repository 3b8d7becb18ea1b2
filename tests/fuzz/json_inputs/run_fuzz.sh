#!/bin/sh
# Builds one of the JSON/CSV/Kafka input fuzz targets with clang-14 (libFuzzer + ASan + UBSan)
# into a temporary folder and runs it with a fixed seed and run count on a generated seed corpus.
#   run_fuzz.sh SOURCE_DIR TARGET RUNS [SECONDS]
#   TARGET: model_json | text_rows | stream_message
# For a longer campaign, run it by hand with more runs and seconds.
set -eu
src=$1
target=$2
runs=$3
seconds=${4:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
core="$src/src/core/json_text.cc $src/src/core/error.cc $src/src/core/base64.cc"
case $target in
  model_json) sources="$(echo $src/src/model/architectures/*.cc) $src/src/model/sentence_transformers.cc $core" ;;
  text_rows) sources="$src/src/io/record_reader.cc $src/src/io/csv.cc $src/src/io/json_rows.cc $src/src/core/utf8.cc
                      $src/src/core/table.cc $core" ;;
  stream_message) sources="$src/src/stream/stream_request.cc $src/src/io/json_rows.cc $src/src/core/utf8.cc
                           $src/src/core/table.cc $core" ;;
  *) echo "run_fuzz.sh: unknown target $target" >&2; exit 2 ;;
esac
# shellcheck disable=SC2086 # word splitting of the source list is wanted
clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$src/src" -I"$src/include" "$src/tests/fuzz/json_inputs/${target}_fuzz.cc" $sources -o "$work/fuzz"
mkdir -p "$work/corpus" "$work/seeds"
/usr/bin/python3 "$src/tests/fuzz/json_inputs/make_seeds.py" "$src" "$target" "$work/seeds"
# regressions/<target>/, when present, holds inputs that once failed; they are replayed first.
regressions="$src/tests/fuzz/json_inputs/regressions/$target"
[ -d "$regressions" ] || regressions=""
"$work/fuzz" -seed=1 -runs="$runs" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=262144 -timeout=10 \
  -print_final_stats=1 -artifact_prefix="$PWD/$target-" "$work/corpus" "$work/seeds" $regressions
