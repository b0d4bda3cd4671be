#!/usr/bin/env bash
# Train on a Slurm cluster (MMRotate's slurm_train.sh, driving this project's tools/train.py):
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#     bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]
# e.g. GPUS=16 bash tools/slurm_train.sh gpu cfinet configs/cfinet/rotated-faster-rcnn_r50_fpn_cfinet_1x_sodaa.py \
#          work_dirs/cfinet_sodaa --auto-scale-lr
# srun starts one task per GPU; tools/train.py --launcher slurm reads the rank from Slurm (MMEngine's init_dist;
# MASTER_PORT, default 29500, when two jobs share a node). PYTHON: the interpreter (default: .venv's python).
set -euo pipefail
[ $# -ge 4 ] || { sed -n 2,8p "$0" >&2; exit 2; }
exec bash "$(dirname "$0")/slurm_launch.sh" train.py "$1" "$2" "$3" --work-dir="$4" --launcher=slurm "${@:5}"
