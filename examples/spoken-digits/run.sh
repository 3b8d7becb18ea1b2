#!/usr/bin/env bash
# Spoken digits, end to end: make the clips (espeak-ng + sox), turn them into log-mel TFRecords with
# salvo prep, train a small CNN on them with Debian's PyTorch and export it to TorchScript.
#   examples/spoken-digits/run.sh [WORK_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${1:-$repo/build/spoken-digits}
salvo=${SALVO_BIN:-$repo/build/salvo}

[[ -d $work/clips ]] || /usr/bin/python3 "$repo/tools/data/make_spoken_digits.py" "$work/clips" --formats wav,flac,ogg
mkdir -p "$work/features"
for split in train test; do
  "$salvo" prep --input "$work/clips/$split" --output "$work/features/$split/" --features audio-logmel \
    --sample-rate 16000 --n-fft 512 --hop-length 160 --n-mels 40 --frames 101 \
    --label-from parent --num-shards 4 --compression gzip
done
/usr/bin/python3 "$here/train.py" --train "$work/features/train" --test "$work/features/test" --model "$work/digits.pt"

# The held-out clips, classified from their folder: the log-mel featurizer and the model in one session.
"$salvo" predict --model "$work/digits.pt" --input "$work/clips/test" --features audio-logmel \
  --sample-rate 16000 --n-fft 512 --hop-length 160 --n-mels 40 --frames 101 \
  --input-tensor-shapes '[[1,40,101]]' --label-from parent --keep-columns label,path --output "$work/predictions.jsonl"
/usr/bin/python3 - "$work/digits.json" "$work/predictions.jsonl" <<'PY'
import json, sys
labels = json.load(open(sys.argv[1]))["labels"]
rows = [json.loads(line) for line in open(sys.argv[2])]
right = sum(1 for r in rows if "output" in r and labels[r["output"].index(max(r["output"]))] == r["label"])
print(f"salvo predict: {right} of {len(rows)} held-out clips right ({right / len(rows):.3f})")
PY
