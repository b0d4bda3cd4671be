#!/usr/bin/env bash
# srun launcher behind slurm_train.sh and slurm_test.sh:  slurm_launch.sh SCRIPT PARTITION JOB_NAME [SCRIPT ARGS]
# One srun task per GPU with MMRotate's srun options. Environment: GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5),
# SRUN_ARGS, PYTHON (default: .venv's python).
set -euo pipefail
set -x
SCRIPT=$1
PARTITION=$2
JOB_NAME=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python)}"

# shellcheck disable=SC2086  # SRUN_ARGS is a list of srun options
PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u "$ROOT/tools/$SCRIPT" "${@:4}"
