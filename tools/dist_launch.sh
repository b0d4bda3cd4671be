#!/usr/bin/env bash
# torchrun launcher behind dist_train.sh and dist_test.sh:  dist_launch.sh SCRIPT GPUS [SCRIPT ARGS]
# Environment: NNODES, NODE_RANK, PORT, MASTER_ADDR (multi-node), PYTHON (default: .venv's python), MAX_RESTARTS
# (default 0). MAX_RESTARTS=N is torchrun's elastic mode (--max-restarts): a failed worker group is restarted up to
# N times, and with train.py --resume it continues from the work dir's last checkpoint
# (tests/test_engine/test_dist_resume.py; docs/reliability.md).
set -euo pipefail
SCRIPT=$1
GPUS=$2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python)}"
PYTHONPATH="$ROOT:${PYTHONPATH:-}" "$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$GPUS" --master_port="${PORT:-29500}" --max-restarts="${MAX_RESTARTS:-0}" \
    "$ROOT/tools/$SCRIPT" "${@:3}" --launcher pytorch
