#!/usr/bin/env bash
# Configures and builds salvo (Release) into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
# The tests' Python: the virtual environment install-deps.sh test makes (SALVO_VENV moves it).
venv=${SALVO_VENV:-$PWD/.venv}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSALVO_PYTHON="$venv/bin/python" >/dev/null
ninja -C build "$@"
