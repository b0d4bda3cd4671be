#!/usr/bin/env bash
# torchrun launcher behind dist_train.sh and dist_test.sh:  dist_launch.sh SCRIPT GPUS [SCRIPT ARGS]
# Environment: NNODES, NODE_RANK, PORT, MASTER_ADDR (multi-node), PYTHON (default: .venv's python).
set -euo pipefail
SCRIPT=$1
GPUS=$2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python)}"
PYTHONPATH="$ROOT:${PYTHONPATH:-}" "$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$GPUS" --master_port="${PORT:-29500}" \
    "$ROOT/tools/$SCRIPT" "${@:3}" --launcher pytorch
