#!/usr/bin/env bash
# Icons by category: PNGs of Debian's Adwaita icon theme (adwaita-icon-theme), labelled by their
# category folder (devices, places, status, ...), turned into normalised image tensors.
#   examples/icons/run.sh [WORK_DIR]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$repo/build/icons}
salvo=${SALVO_BIN:-$repo/build/salvo}

# The 96 x 96 icons, one folder per category: Spark's layout for labels.
mkdir -p "$work/icons"
for category in devices places status emblems emotes mimetypes; do
  mkdir -p "$work/icons/$category"
  cp /usr/share/icons/Adwaita/96x96/"$category"/*.png "$work/icons/$category/"
done
"$salvo" prep --input "$work/icons" --output "$work/icons.tfrecord" --features image \
  --resize 64 --crop 56 --label-from parent
"$salvo" prep --input "$work/icons" --output "$work/icons-raw.parquet" --features image \
  --resize 64 --crop 56 --raw --label-from parent --keep-columns length
