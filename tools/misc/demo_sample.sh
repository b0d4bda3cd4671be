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
# a newcomer's output: no deprecation noise of the stack (mmengine imports pkg_resources), and the training and
# testing logs (with MMEngine's environment dump) in files; the console gets the steps, the AP tables and where
# the results are
export PYTHONWARNINGS="ignore:pkg_resources is deprecated,ignore::DeprecationWarning"
run_logged() {  # run_logged LOG CMD...: the command's output to LOG; on failure, its last 40 lines and exit
  local log="$1"; shift
  if ! "$@" > "$log" 2>&1; then
    echo "failed: $* (last lines of $log):"; tail -n 40 "$log"; exit 1
  fi
}
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
  "$PY" tools/data/sodaa_split.py --src data/sample --dst data/sample_split --overwrite | grep -v '^\['  # no bar
fi
echo "== 2/5 train $CONFIG (log: $WORK/train.log)"
rm -rf "$WORK"
mkdir -p "$WORK"
run_logged "$WORK/train.log" "$PY" tools/train.py "$CONFIG" --work-dir "$WORK"
grep "Iter(train)" "$WORK/train.log" | tail -n 1 | sed 's/^.*Iter(train)/   last logged iteration:/' | cut -c1-160
CKPT="$(cat "$WORK/last_checkpoint")"
echo "== 3/5 test $CKPT (log: $WORK/test.log)"
run_logged "$WORK/test.log" "$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK" --out "$WORK/results.pkl"
# the metric's tables (SODA-A: 12 statistics and AP per class; SODA-D: 14 statistics), not the log prefixes
sed -n '/Average Precision/,/^images=/p' "$WORK/test.log" | grep -v "mmengine - INFO"
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
  run_logged "$WORK/infer.log" "$PY" tools/infer.py data/sample/Images "$RELEASE_CONFIG" "$RELEASE" \
      --out-dir "$FULL" --show-dir "$FULL/vis" --ignore-ann data/sample/Annotations
  sed -n '/^image /,$p' "$WORK/infer.log"
  echo "   (the shipped checkpoint is trained on synthetic scenes, as data/sample; on real imagery its detections" \
       "mean nothing)"
  echo "== 5/5 evaluate the merged full-image detections (DOTA Task1 files) against data/sample/Annotations"
  run_logged "$WORK/eval.log" "$PY" tools/analysis_tools/eval_sodaa.py --ann data/sample/Annotations \
      --pred "$FULL/Task1" --out "$FULL/metrics.json"
  sed -n '/Average Precision/,$p' "$WORK/eval.log"
  echo "== done: pictures of the detections in $FULL/vis, metrics in $FULL/metrics.json"
fi
