#!/usr/bin/env bash
# Split the embedded SODA-A sample, train a tiny detector for a few iterations on CPU, test it and print
# the rotated AP by size subset (a smoke run of the plumbing); then run the shipped tiny CFINet checkpoint
# (checkpoints/, trained on a generated set disjoint from data/sample) through the full-image API on the original
# sample images, print the 12 statistics and draw the detections.
#     bash tools/misc/demo_sample.sh [CONFIG]   (what `make demo` runs)
# With a configs/sodad/ config: the SODA-D sample, horizontal boxes, the 14 SODA-D statistics; there is no SODA-D
# checkpoint, so the last part is skipped.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
CONFIG="${1:-configs/baselines/rotated-faster-rcnn_tiny_sample.py}"
NAME="$(basename "$CONFIG" .py)"
WORK="work_dirs/demo/$NAME"

if [[ "$CONFIG" == *sodad/* ]]; then  # SODA-D configs: the SODA-D sample, split in train and test mode
  echo "== 1/5 split data/sample_sodad -> data/sample_sodad_split"
  for MODE in train test; do
    "$PY" tools/data/sodad_split.py --ann data/sample_sodad/Annotations/sample.json \
        --img-dir data/sample_sodad/Images --dst data/sample_sodad_split --mode "$MODE" --overwrite
  done
else
  echo "== 1/5 split data/sample -> data/sample_split"
  "$PY" tools/data/sodaa_split.py --src data/sample --dst data/sample_split --overwrite
fi
echo "== 2/5 train $CONFIG"
rm -rf "$WORK"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK"
CKPT="$(cat "$WORK/last_checkpoint")"
echo "== 3/5 test $CKPT"
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK" --out "$WORK/results.pkl"
echo "== smoke run done: logs, checkpoint and raw predictions in $WORK"

RELEASE_CONFIG=configs/cfinet/rotated-faster-rcnn_cfinet_tiny_release.py
RELEASE="$(ls checkpoints/rotated-faster-rcnn_cfinet_tiny_release-*.pth 2>/dev/null | head -n 1 || true)"
if [[ "$CONFIG" == *sodad/* ]]; then
  echo "== 4/5, 5/5 skipped: the shipped checkpoint is a SODA-A (rotated) model and there is no SODA-D checkpoint"
elif [[ -z "$RELEASE" ]]; then
  echo "== 4/5, 5/5 skipped: no checkpoints/rotated-faster-rcnn_cfinet_tiny_release-*.pth (make it with" \
       "bash tools/misc/make_release_checkpoint.sh)"
else
  FULL="$WORK/full_image"
  echo "== 4/5 the shipped checkpoint $RELEASE on the whole images of data/sample (held out from its training)"
  "$PY" tools/infer.py data/sample/Images "$RELEASE_CONFIG" "$RELEASE" --out-dir "$FULL" --show-dir "$FULL/vis" \
      --ignore-ann data/sample/Annotations
  echo "== 5/5 evaluate the merged full-image detections (DOTA Task1 files) against data/sample/Annotations"
  "$PY" tools/analysis_tools/eval_sodaa.py --ann data/sample/Annotations --pred "$FULL/Task1" --out "$FULL/metrics.json"
  echo "== done: pictures of the detections in $FULL/vis, metrics in $FULL/metrics.json"
fi
