#!/usr/bin/env bash
# The GPU check (issue 24, part 2): one command, on a machine with a CUDA GPU and no package registry.
#
#   here (with a registry):   bash tools/setup/device_bundle.sh      # -> .device_bundle/ (~9 MB)
#   on the GPU machine:       bash tools/device_check.sh [STEP ...]  # default: all steps, in this order
#
# Steps (each skipped when already done in DEVICE_WORK, so a second call on the same machine goes on where the
# first stopped; each has its own time limit so that the whole call ends inside ~10 minutes):
#   install  the bundle's wheels into DEVICE_WORK/site (--no-deps: the image's torch, numpy, opencv stay)
#   mmcv     mmcv 2.1.0's ops built with CUDA for the visible GPU's architecture only (TORCH_CUDA_ARCH_LIST),
#            MAX_JOBS = the machine's cores, in place (ninja: a build cut off by its limit continues next call)
#   ops      mmcv's compiled CUDA version against torch's (cfinet_rotated/ops_check.py)
#   tests    pytest -m cuda: every device-parametrized test on CUDA, CPU == CUDA for the rotated ops and for our
#            deformable convolution against mmcv's CUDA DeformConv2d (tests/test_device/)
#   speed    tools/analysis_tools/benchmark_speed.py --device cuda, without and with --amp: s/iter and s/img of
#            baseline, CRPN, FI, CFINet, reconstruction, the ratios to the baseline and peak GPU memory
#   train    tools/train.py on the embedded sample (split first), tiny CFINet, TRAIN_ITERS iterations (default 300),
#            without and with --amp: the last logged s/iter and MMEngine's peak memory
# The report (every step's result and time) goes to $OUT/device_check.txt when OUT is set, else to DEVICE_WORK.
# Environment: PYTHON (default python3), DEVICE_BUNDLE (default ./.device_bundle), DEVICE_WORK (default
# /tmp/cfinet_device), MAX_JOBS, MMCV_BUILD_LIMIT (s, default 420), TRAIN_ITERS.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
BUNDLE="${DEVICE_BUNDLE:-$ROOT/.device_bundle}"
WORK="${DEVICE_WORK:-/tmp/cfinet_device}"
SITE="$WORK/site"
MMCV_SRC="$WORK/mmcv-2.1.0"
mkdir -p "$WORK"
REPORT="${OUT:-$WORK}/device_check.txt"
T0=$(date +%s)
FAILED=()
log() { echo "device_check [$(( $(date +%s) - T0 )) s] $*" | tee -a "$REPORT"; }
fail() { log "FAILED: $*"; FAILED+=("$1"); }
export PYTHONPATH="$ROOT:$MMCV_SRC:$SITE${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
STEPS=("$@")
[ ${#STEPS[@]} -gt 0 ] || STEPS=(install mmcv ops tests speed train)

"$PY" - <<'PY' 2>&1 | tee -a "$REPORT" || { log "$PY has no torch that sees a CUDA GPU: nothing to check (PYTHON= another interpreter?)"; exit 1; }
import os, torch
assert torch.cuda.is_available(), 'torch.cuda.is_available() is False'
print('device_check: torch', torch.__version__, 'CUDA', torch.version.cuda, '|', torch.cuda.get_device_name(),
      'sm_%d%d' % torch.cuda.get_device_capability(), '|', os.cpu_count(), 'cores')
PY

step_install() {
  [ -f "$SITE/.installed" ] && { log "install: done before"; return 0; }
  ls "$BUNDLE"/*.whl >/dev/null 2>&1 || { fail install "no wheels in $BUNDLE (run tools/setup/device_bundle.sh where pip works and carry .device_bundle)"; return 1; }
  "$PY" -m pip install -q --no-index --no-deps --no-compile --disable-pip-version-check --target "$SITE" \
    "$BUNDLE"/*.whl && touch "$SITE/.installed" && log "install: $(ls "$BUNDLE"/*.whl | wc -l) wheels into $SITE" \
    || fail install "pip install of the bundle"
}

mmcv_has_cuda() {
  "$PY" -c "from mmcv.ops import get_compiling_cuda_version as v; import sys; sys.exit(v() == 'not available')" \
    >/dev/null 2>&1
}

step_mmcv() {
  mmcv_has_cuda && { log "mmcv: CUDA ops present"; return 0; }
  if [ ! -d "$MMCV_SRC" ]; then
    tar -xzf "$BUNDLE"/mmcv-2.1.0.tar.gz -C "$WORK" || { fail mmcv "no mmcv-2.1.0.tar.gz in $BUNDLE"; return 1; }
    # torch >= 2.13's headers need C++20 and mmcv 2.1.0 forces C++17 (open-mmlab/mmcv#3341; setup_env.sh does the same)
    if "$PY" -c "import sys, torch; sys.exit(tuple(map(int, torch.__version__.split('.')[:2])) < (2, 13))"; then
      sed -i 's/-std=c++17/-std=c++20/g' "$MMCV_SRC/setup.py"
    fi
  fi
  local arch jobs nv_inc
  arch="$("$PY" -c "import torch; print('%d.%d' % torch.cuda.get_device_capability())")"
  jobs="${MAX_JOBS:-$(nproc)}"
  # torch's nvidia-* packages carry the cuSPARSE/cuBLAS headers an nvcc-only toolkit may lack (as setup_env.sh)
  nv_inc="$("$PY" -c 'import glob, os, site; print(":".join(sorted(glob.glob(os.path.join(site.getsitepackages()[0], "nvidia", "*", "include")))))')"
  log "mmcv: building the CUDA ops for sm_${arch/./} with MAX_JOBS=$jobs (limit ${MMCV_BUILD_LIMIT:-420} s)"
  ( cd "$MMCV_SRC" && export MMCV_WITH_OPS=1 FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$arch" MAX_JOBS="$jobs" \
      CPATH="${CPATH:+$CPATH:}$nv_inc" && \
      timeout "${MMCV_BUILD_LIMIT:-420}" "$PY" setup.py build_ext --inplace >"$WORK/mmcv_build.log" 2>&1 )
  local rc=$?
  if [ $rc -eq 124 ]; then fail mmcv "build cut off at its limit (call again: it continues; log $WORK/mmcv_build.log)"; return 1; fi
  [ $rc -eq 0 ] || { tail -n 30 "$WORK/mmcv_build.log"; fail mmcv "build failed (log $WORK/mmcv_build.log)"; return 1; }
  mmcv_has_cuda && log "mmcv: built" || fail mmcv "built, but mmcv.ops reports no CUDA"
}

step_ops() {
  "$PY" -c "from cfinet_rotated.ops_check import check_ops_for_device as c; c(); import mmcv.ops as o; \
print('mmcv ops compiled with CUDA', o.get_compiling_cuda_version())" 2>&1 | tee -a "$REPORT" | tail -n 3
  [ "${PIPESTATUS[0]}" -eq 0 ] && log "ops: ok" || fail ops "mmcv's ops do not fit this torch / GPU"
}

step_tests() {
  timeout 240 "$PY" -m pytest -q -m cuda tests -p no:cacheprovider -rs 2>&1 | tail -n 25 | tee -a "$REPORT"
  [ "${PIPESTATUS[0]}" -eq 0 ] && log "tests: passed" || fail tests "pytest -m cuda"
}

step_speed() {
  local amp
  for amp in "" --amp; do
    timeout 150 "$PY" tools/analysis_tools/benchmark_speed.py --device cuda $amp --iters 10 --rounds 3 \
      --models baseline crpn fi cfinet recon 2>&1 | grep -v "^round" | tail -n 10 | tee -a "$REPORT"
    [ "${PIPESTATUS[0]}" -eq 0 ] && log "speed${amp:+ ($amp)}: done" || fail speed "benchmark_speed.py --device cuda $amp"
  done
}

step_train() {
  local split="$WORK/sample_split" amp work
  [ -d "$split/Images" ] || "$PY" tools/data/sodaa_split.py --src data/sample --dst "$split" --workers 4 >/dev/null \
    || { fail train "splitting data/sample"; return 1; }
  for amp in "" --amp; do
    work="$WORK/train${amp:+_amp}"
    rm -rf "$work"
    timeout 180 "$PY" tools/train.py configs/cfinet/rotated-faster-rcnn_cfinet_tiny_sample.py --work-dir "$work" $amp \
      --cfg-options train_cfg.max_iters="${TRAIN_ITERS:-300}" default_hooks.logger.interval=50 \
      default_hooks.checkpoint.interval=100000 \
      train_dataloader.dataset.data_root="$split/" test_dataloader.dataset.data_root="$split/" >"$work.log" 2>&1
    local rc=$?
    grep "Iter(train)" "$work.log" | tail -n 1 | sed -E 's/.*(Iter\(train\) \[[^]]*\]).*( time: [0-9.]+).*( memory: [0-9]+).*/\1\2\3 MB/' \
      | tee -a "$REPORT"
    [ $rc -eq 0 ] && log "train${amp:+ ($amp)}: ${TRAIN_ITERS:-300} iterations" \
      || { tail -n 20 "$work.log"; fail train "tools/train.py $amp (log $work.log)"; }
  done
}

for s in "${STEPS[@]}"; do
  case "$s" in
    install|mmcv|ops|tests|speed|train) "step_$s" ;;
    *) log "unknown step '$s' (install mmcv ops tests speed train)"; exit 2 ;;
  esac
  # without the wheels or CUDA ops nothing after them can run
  if [ "$s" = install ] || [ "$s" = mmcv ]; then
    for f in "${FAILED[@]}"; do [ "$f" = "$s" ] && { log "stopping: the later steps need '$s'"; exit 1; }; done
  fi
done
[ ${#FAILED[@]} -eq 0 ] && log "all steps passed (report: $REPORT)" || { log "failed: ${FAILED[*]}"; exit 1; }
