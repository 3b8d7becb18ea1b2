#!/usr/bin/env bash
# README command 1: installs dependencies, builds salvo, and runs it on the bundled example (offline).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
scripts/build.sh salvo
mkdir -p out
set -x
build/salvo classify --model examples/debian-sections --input examples/descriptions.jsonl \
    --output out/sections.jsonl --top-k 3
build/salvo embed --model examples/debian-sections --input examples/descriptions.jsonl \
    --output out/embeddings.jsonl
{ set +x; } 2>/dev/null
echo
echo "First predictions (out/sections.jsonl; true sections are in examples/descriptions.labels.jsonl):"
head -n 5 out/sections.jsonl | cut -c1-160
