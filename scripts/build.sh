#!/usr/bin/env bash
# Configures and builds salvo (Release) into build/, or with --sanitize into its own folder:
# build-asan/ (address: ASan + UBSan) or build-tsan/ (thread: TSan).
#   scripts/build.sh [--sanitize address|thread] [ninja targets]
set -euo pipefail
cd "$(dirname "$0")/.."
# The tests' Python: the virtual environment install-deps.sh test makes (SALVO_VENV moves it).
venv=${SALVO_VENV:-$PWD/.venv}
dir=build
options=()
if [[ ${1:-} == --sanitize ]]; then
  case ${2:-} in
    address) dir=build-asan ;;
    thread) dir=build-tsan ;;
    *) echo "build.sh: --sanitize takes address or thread" >&2; exit 2 ;;
  esac
  options=(-DSALVO_SANITIZE="$2" -DSALVO_BUILD_BENCHMARKS=OFF)
  shift 2
fi
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSALVO_PYTHON="$venv/bin/python" "${options[@]}" >/dev/null
ninja -C "$dir" "$@"
