#!/usr/bin/env bash
# Reproduce the shipped tiny CFINet checkpoint: generate a training set disjoint from data/sample, split it, train
# configs/cfinet/rotated-faster-rcnn_cfinet_tiny_release.py on CPU and publish the result (tools/model_converters/publish_model.py).
#
#     bash tools/misc/make_release_checkpoint.sh [ITERS] [NUM_IMAGES]     (the shipped checkpoint: see the README)
#
# ITERS (default 2000) training iterations of batch 1, lr step at 3/4; NUM_IMAGES (default 24) generated images
# (tools/data/make_sample.py --seed 1 --prefix train; data/sample is --seed 0). Environment: PYTHON (default
# .venv/bin/python), OUT (default checkpoints/rotated-faster-rcnn_cfinet_tiny_release.pth; the published file is
# OUT with -<sha256[:8]> before .pth), WORK (default work_dirs/release), RAW and SPLIT (default
# data/release_train and data/release_train_split, the generated set and its split).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
ITERS="${1:-2000}"
NUM_IMAGES="${2:-24}"
CONFIG=configs/cfinet/rotated-faster-rcnn_cfinet_tiny_release.py
RAW="${RAW:-data/release_train}"
SPLIT="${SPLIT:-data/release_train_split}"
WORK="${WORK:-work_dirs/release}"
OUT="${OUT:-checkpoints/rotated-faster-rcnn_cfinet_tiny_release.pth}"
STEP=$(( ITERS * 3 / 4 ))

echo "== 1/4 generate $NUM_IMAGES training images -> $RAW (seed 1; data/sample is seed 0)"
rm -rf "$RAW"
"$PY" tools/data/make_sample.py --out "$RAW" --num-images "$NUM_IMAGES" --seed 1 --prefix train
echo "== 2/4 split $RAW -> $SPLIT"
"$PY" tools/data/sodaa_split.py --src "$RAW" --dst "$SPLIT" --overwrite
echo "== 3/4 train $CONFIG for $ITERS iterations (lr step at $STEP)"
rm -rf "$WORK"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK" --cfg-options \
    train_dataloader.dataset.data_root="$SPLIT/" train_cfg.max_iters="$ITERS" \
    param_scheduler.1.end="$ITERS" param_scheduler.1.milestones="[$STEP]" \
    default_hooks.checkpoint.interval="$ITERS"
echo "== 4/4 publish $WORK/iter_$ITERS.pth"
"$PY" tools/model_converters/publish_model.py "$WORK/iter_$ITERS.pth" "$OUT"
