#!/bin/sh
# Builds features_fuzz with clang-14 (libFuzzer, ASan, UBSan) and runs it for a bounded time, from
# seeds of every format the featurizers read (made with sox and copied from the Adwaita icons).
# Usage: run_fuzz.sh SOURCE_DIR BUILD_DIR [SECONDS]
set -eu
src=$1
build=$2
seconds=${3:-60}
out=$build/fuzz/features
mkdir -p "$out/corpus" "$out/seeds"
clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -DNDEBUG \
  -I"$src/src" -I"$src/include" \
  "$src/tests/fuzz/features/features_fuzz.cc" \
  "$src/src/features/image.cc" "$src/src/features/audio_logmel.cc" "$src/src/core/error.cc" \
  -lsndfile -lsoxr -lfftw3f -ljpeg -lpng16 -lwebp -lwebpdemux -lgif -lexif -o "$out/features_fuzz"
# regressions/ holds inputs that once failed (replayed as part of the corpus). Seeds: a short tone in each audio format, small icons as PNG; JPEG, GIF and WebP when the tools
# that make them are there.
sox -n -r 8000 -c 1 -b 16 "$out/seeds/tone.wav" synth 0.1 sine 440
for ext in flac ogg mp3; do sox "$out/seeds/tone.wav" "$out/seeds/tone.$ext" 2>/dev/null || true; done
cp /usr/share/icons/Adwaita/16x16/devices/*.png "$out/seeds/" 2>/dev/null || true
if command -v convert >/dev/null && convert -version 2>/dev/null | grep -q ImageMagick; then
  for ext in jpg gif webp; do convert /usr/share/icons/Adwaita/16x16/devices/audio-headphones.png "$out/seeds/icon.$ext" || true; done
fi
# The live heap stays small (under 100 MB); ASan's quarantine of freed blocks is what grew past
# libFuzzer's 2 GB limit, so it is kept small, and any single allocation over 1 GB is a finding.
ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=64 LSAN_OPTIONS=suppressions="$src/tests/fuzz/features/lsan.supp" \
  "$out/features_fuzz" -artifact_prefix="$out/" -seed=1 -runs=100000 -max_total_time="$seconds" -max_len=65536 \
  -rss_limit_mb=3072 -malloc_limit_mb=1024 -timeout=10 -print_final_stats=1 "$out/corpus" "$out/seeds" \
  "$src/tests/fuzz/features/regressions"
