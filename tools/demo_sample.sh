#!/usr/bin/env bash
# Split the embedded SODA-A sample, train a tiny detector for a few iterations on CPU, test it and print
# the rotated AP by size subset.    bash tools/demo_sample.sh [CONFIG]   (what `make demo` runs)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
CONFIG="${1:-configs/baselines/rotated-faster-rcnn_tiny_sample.py}"
NAME="$(basename "$CONFIG" .py)"
WORK="work_dirs/demo/$NAME"

echo "== 1/3 split data/sample -> data/sample_split"
"$PY" tools/data/sodaa_split.py --src data/sample --dst data/sample_split --overwrite
echo "== 2/3 train $CONFIG"
rm -rf "$WORK"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK"
CKPT="$(cat "$WORK/last_checkpoint")"
echo "== 3/3 test $CKPT"
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK" --out "$WORK/results.pkl"
echo "== done: logs, checkpoint and raw predictions in $WORK"
