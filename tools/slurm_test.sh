#!/usr/bin/env bash
# Test on a Slurm cluster (MMRotate's slurm_test.sh, driving this project's tools/test.py):
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#     bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options]
# e.g. GPUS=4 GPUS_PER_NODE=4 bash tools/slurm_test.sh gpu test configs/cfinet/rotated-faster-rcnn_r50_fpn_cfinet_1x_sodaa.py \
#          work_dirs/cfinet_sodaa/epoch_12.pth --out work_dirs/cfinet_sodaa/results.pkl
# srun starts one task per GPU; tools/test.py --launcher slurm reads the rank from Slurm (MMEngine's init_dist).
# PYTHON: the interpreter (default: .venv's python).
set -euo pipefail
[ $# -ge 4 ] || { sed -n 2,8p "$0" >&2; exit 2; }
exec bash "$(dirname "$0")/slurm_launch.sh" test.py "$1" "$2" "$3" "$4" --launcher=slurm "${@:5}"
