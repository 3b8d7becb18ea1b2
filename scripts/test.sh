#!/usr/bin/env bash
# README command 2: installs dependencies, builds salvo and its tests, and runs the whole suite.
#   scripts/test.sh [ctest arguments, e.g. -L unit]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
scripts/build.sh
jobs=$(nproc)
ctest --test-dir build --output-on-failure -j "$jobs" "$@"
