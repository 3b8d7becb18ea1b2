#!/bin/sh
# Builds tfrecord_fuzz with clang-14 (libFuzzer, ASan, UBSan) and runs it for a bounded time.
# Usage: run_fuzz.sh SOURCE_DIR BUILD_DIR [SECONDS]
set -eu
src=$1
build=$2
seconds=${3:-60}
out=$build/fuzz/tfrecord
mkdir -p "$out/corpus"
clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -DNDEBUG \
  -I"$src/src" -I"$src/include" -I"$build/proto" \
  "$src/tests/fuzz/tfrecord/tfrecord_fuzz.cc" \
  "$src/src/io/tfrecord/tfrecord_source.cc" "$src/src/io/tfrecord/tfrecord_file.cc" \
  "$src/src/io/tfrecord/crc32c.cc" "$src/src/io/tfrecord/feature_value.cc" \
  "$src/src/io/output_file.cc" "$src/src/core/utf8.cc" "$src/src/core/error.cc" "$src/src/core/json_text.cc" \
  "$build/proto/io/tfrecord/example.pb.cc" \
  -lprotobuf -lz -o "$out/tfrecord_fuzz"
/usr/bin/python3 "$src/tests/fuzz/tfrecord/make_seeds.py" "$out/seeds"
"$out/tfrecord_fuzz" -seed=1 -runs=150000 -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
  -print_final_stats=1 "$out/corpus" "$out/seeds"
