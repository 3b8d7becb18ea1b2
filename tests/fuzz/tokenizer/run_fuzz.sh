#!/bin/sh
# Builds the tokenizer fuzz targets with clang-14 (libFuzzer, ASan, UBSan) and runs each for a
# bounded time with a fixed seed: tokenizer.json loading (seeds: small tokenizer.json files of
# every kind cut from tests/data/tokenizers) and encode/encode_pair on arbitrary bytes.
# Usage: run_fuzz.sh SOURCE_DIR BUILD_DIR [SECONDS per target]
set -eu
src=$1
build=$2
seconds=${3:-60}
out=$build/fuzz/tokenizer
mkdir -p "$out/corpus-json" "$out/corpus-encode" "$out/obj"
flags="-std=c++20 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -I$src/src -I$src/include"
# The library's text sources are compiled once, two at a time, for both targets.
ls "$src"/src/text/*.cc "$src"/src/text/models/*.cc "$src/src/core/error.cc" "$src/src/core/json_text.cc" "$src/src/core/utf8.cc" "$src/src/core/base64.cc" |
  xargs -P 2 -I{} sh -c 'clang++-14 '"$flags"' -c "{}" -o "'"$out/obj/"'$(echo "{}" | tr / _).o"'
for target in tokenizer_json_fuzz tokenizer_encode_fuzz; do
  clang++-14 $flags -fsanitize=fuzzer "$src/tests/fuzz/tokenizer/$target.cc" "$out"/obj/*.o \
    -lutf8proc -lonig -o "$out/$target"
done
/usr/bin/python3 "$src/tests/fuzz/tokenizer/make_seeds.py" "$src" "$out/seeds"
# regressions/ holds inputs that once crashed; they are replayed first with the seeds.
"$out/tokenizer_json_fuzz" -seed=1 -runs=20000 -max_total_time="$seconds" -max_len=400000 \
  -rss_limit_mb=3072 -timeout=20 -print_final_stats=1 -artifact_prefix="$out/" \
  "$out/corpus-json" "$out/seeds/json" "$src/tests/fuzz/tokenizer/regressions"
SALVO_TOKENIZERS_DIR="$src/tests/data/tokenizers" "$out/tokenizer_encode_fuzz" -seed=1 -runs=300000 \
  -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=3072 -timeout=20 -print_final_stats=1 \
  -artifact_prefix="$out/" "$out/corpus-encode" "$out/seeds/encode"
