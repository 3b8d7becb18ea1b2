#!/bin/sh
# Writes the loader's fixtures with each given Python's PyTorch into a temporary folder, then runs
# the unit tests that read every writer's files on them.
#   run_writers.sh UNIT_TESTS MAKE_FIXTURES PYTHON...
set -eu
tests="$1"
make_fixtures="$2"
shift 2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dirs=""
i=0
for python in "$@"; do
  i=$((i + 1))
  "$python" "$make_fixtures" "$work/writer$i"
  echo "writer$i: $python, $(cat "$work/writer$i/writer.txt")"
  dirs="$dirs${dirs:+:}$work/writer$i"
done
SALVO_TORCH_FIXTURES="$dirs" "$tests" --gtest_filter='Writers/*'
