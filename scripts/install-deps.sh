#!/usr/bin/env bash
# Installs what salvo needs from Debian 12's archive (and, for tests, npm). Idempotent and quiet
# when everything is already there.
#   scripts/install-deps.sh build   # compiler and libraries
#   scripts/install-deps.sh test    # plus GoogleTest, Google Benchmark, PyTorch reference, node tools
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-build}
packages=(g++ cmake ninja-build pkg-config libdnnl-dev libopenblas-dev libutf8proc-dev nlohmann-json3-dev
          libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev libsnappy-dev libzstd-dev liblz4-dev zlib1g-dev
          libprotobuf-dev protobuf-compiler librdkafka-dev libzip-dev)
if [[ $what == test ]]; then
  # PyTorch is the numerical reference; protobuf for Python decodes TFRecords independently; clang builds the
  # libFuzzer targets; kcat is a real Kafka client for the streaming tests; Java runs PySpark in the Python package's
  # engine tests.
  packages+=(libblis-openmp-dev python3 python3-venv python3-dev python3-torch python3-numpy python3-protobuf clang-14 libclang-rt-14-dev kcat nodejs npm
            openjdk-17-jre-headless)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from elsewhere than Debian (e.g. a preinstalled Node.js): accept any that runs.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]:-}"
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  sudo_cmd=()
  [[ $(id -u) == 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ $what == test ]]; then
  # The Python the tests run: a virtual environment with the pinned packages of
  # tools/python/requirements-test.txt (PyTorch, transformers, PySpark, Ray, Dask, TensorFlow, ...).
  # Re-running is quick: pip skips what is installed.
  venv=${SALVO_VENV:-$PWD/.venv}
  if [[ ! -x $venv/bin/python ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check -r tools/python/requirements-test.txt

  # Test and benchmark reference tools (Hugging Face tokenizers, DuckDB, ONNX Runtime), pinned by
  # package.json and its lock file. `npm install`, not `npm ci`: npm 11 rejects its own lock file for
  # packages with per-platform optional dependencies (DuckDB's bindings), reporting the other platforms'
  # packages as missing. ONNXRUNTIME_NODE_INSTALL=skip (also in tools/node/.npmrc): onnxruntime-node's
  # install script would download GPU libraries; its CPU library ships inside the package.
  (cd tools/node && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
