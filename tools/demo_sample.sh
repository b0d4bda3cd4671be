#!/usr/bin/env bash
# Split the embedded SODA-A sample, train a tiny detector for a few iterations on CPU, test it and print
# the rotated AP by size subset.    bash tools/demo_sample.sh [CONFIG]   (what `make demo` runs)
# With a configs/sodad/ config: the SODA-D sample, horizontal boxes, the 14 SODA-D statistics.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
CONFIG="${1:-configs/baselines/rotated-faster-rcnn_tiny_sample.py}"
NAME="$(basename "$CONFIG" .py)"
WORK="work_dirs/demo/$NAME"

if [[ "$CONFIG" == *sodad/* ]]; then  # SODA-D configs: the SODA-D sample, split in train and test mode
  echo "== 1/3 split data/sample_sodad -> data/sample_sodad_split"
  for MODE in train test; do
    "$PY" tools/data/sodad_split.py --ann data/sample_sodad/Annotations/sample.json \
        --img-dir data/sample_sodad/Images --dst data/sample_sodad_split --mode "$MODE" --overwrite
  done
else
  echo "== 1/3 split data/sample -> data/sample_split"
  "$PY" tools/data/sodaa_split.py --src data/sample --dst data/sample_split --overwrite
fi
echo "== 2/3 train $CONFIG"
rm -rf "$WORK"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK"
CKPT="$(cat "$WORK/last_checkpoint")"
echo "== 3/3 test $CKPT"
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK" --out "$WORK/results.pkl"
echo "== done: logs, checkpoint and raw predictions in $WORK"
