#!/usr/bin/env bash
# Create ./.venv with the verified MMRotate 1.x stack and this package (idempotent).
#
#   bash tools/setup/setup_env.sh          # or: make setup
#   FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=9.0 bash tools/setup/setup_env.sh   # CUDA ops, also without a visible GPU
#
# The slow step is building mmcv 2.1.0 with its compiled ops (12-17 min on 2 cores for the CPU ops; the CUDA
# kernels take longer). The wheel is cached outside the repository (CFINET_WHEEL_CACHE, default
# ~/.cache/cfinet_rotated/wheels), keyed by the mmcv, torch and Python versions and by the ops flavour (cpu, or
# cuda + CUDA version + architectures), so a second setup on the same machine takes seconds.
#
# Which ops (tools/setup/mmcv_build.py decides, tests/test_tools/test_setup_checks.py tests it):
#   FORCE_CUDA=1           CUDA kernels, with or without a visible GPU (nvcc of torch's CUDA major required)
#   FORCE_CUDA=0           CPU-only ops on purpose
#   unset                  CUDA if a GPU is visible (then nvcc is required), else CPU-only with a warning
#   TORCH_CUDA_ARCH_LIST   GPU architectures to compile for (default: the visible GPUs, else all of torch's)
#   MAX_JOBS               parallel compile jobs (default 2; more is faster, each needs ~1.5 GB of memory)
# The build is recorded in $VENV/.cfinet-mmcv-build.json; when the request no longer matches it (e.g. FORCE_CUDA=1
# after a CPU-only build) mmcv is rebuilt or taken from the cache. tools/train.py and tools/test.py refuse to run
# on a GPU with CPU-only ops.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="${CFINET_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
TORCH_VER=2.14.1
TV_VER=0.29.1
MMCV_VER=2.1.0
CACHE="${CFINET_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cfinet_rotated/wheels}"
STAMP="$VENV/.cfinet-setup-stamp"

die() { echo "setup: ERROR: $*" >&2; exit 1; }
say() { echo "setup: $*"; }

# ---- prerequisites, checked before anything slow happens -------------------------------------------
command -v "$PY" >/dev/null 2>&1 || die "'$PY' not found. Install Python 3.11 (or set PYTHON=/path/to/python3.11)."
PYV="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ "$PYV" = "3.11" ] || die "Python 3.11 is required (torch $TORCH_VER/torchvision $TV_VER wheels, mmcv $MMCV_VER); '$PY' is $PYV. Set PYTHON=/path/to/python3.11."
"$PY" -c 'import venv, ensurepip' 2>/dev/null || die "Python's venv/ensurepip modules are missing (Debian: apt-get install python3.11-venv)."

want_stamp="$(cat requirements/stack.txt requirements/optional.txt requirements/tests.txt tools/setup/setup_env.sh tools/setup/mmcv_build.py cfinet_rotated/ops_check.py setup.py | sha256sum | cut -c1-16)"
# mmcv build decisions (tools/setup/mmcv_build.py; run before this package is installed)
mmcv_plan() {
  "$VENV/bin/python" "$ROOT/tools/setup/mmcv_build.py" plan --venv "$VENV" --mmcv "$MMCV_VER" \
    --torch "$TORCH_VER" --py "$PYV"
}
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want_stamp" ] && [ -x "$VENV/bin/python" ]; then
  PLAN="$(mmcv_plan)" || die "see above"
  eval "$PLAN"
  if [ "$MMCV_OK" = 1 ]; then say "environment up to date ($VENV; mmcv ops: $INSTALLED)"; exit 0; fi
  say "mmcv ops installed: $INSTALLED; requested: $FLAVOUR ($REASON): installing that"
fi

command -v g++ >/dev/null 2>&1 || die "a C++ compiler (g++ >= 10, for -std=c++20) is needed to build mmcv's ops and dotadevkit (Debian: apt-get install g++)."
GXX_MAJOR="$(g++ -dumpversion | cut -d. -f1)"
[ "$GXX_MAJOR" -ge 10 ] || die "g++ $GXX_MAJOR is too old: torch $TORCH_VER extensions need C++20 (g++ >= 10)."

# ---- virtual environment ---------------------------------------------------------------------------
[ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PY" -m venv "$VENV"; }
VPY="$VENV/bin/python"
PIP_RAW=("$VPY" -m pip --disable-pip-version-check)
# pip without the mirror's noise: "WARNING: Location '...' is ignored" lines come from index entries of the machine's
# pip configuration that its package mirror does not have (nothing is wrong with the install); the exit status is
# pip's, every other line is kept
pip_quiet() { "${PIP_RAW[@]}" "$@" 2> >(grep -v "^WARNING: Location '.*' is ignored" >&2); }
PIP=(pip_quiet)
# source builds (mmcv's sdist, dotadevkit, this package) print setuptools' deprecation notices and compiler lines
# through pip: they go to a log (the last 40 lines shown when a step fails)
SETUP_LOG="$VENV/setup-build.log"
: >"$SETUP_LOG"
pip_logged() {
  echo "+ pip $*" >>"$SETUP_LOG"
  "${PIP_RAW[@]}" "$@" >>"$SETUP_LOG" 2>&1 || { tail -n 40 "$SETUP_LOG" >&2; return 1; }
}
"${PIP[@]}" install -q --upgrade pip 'setuptools>=77,<82' wheel

say "installing torch $TORCH_VER + torchvision $TV_VER"
"${PIP[@]}" install -q "torch==$TORCH_VER" "torchvision==$TV_VER"

# ---- mmcv with compiled ops ------------------------------------------------------------------------
# (its runtime dependencies, opencv and mmengine, come with the requirements below)
PLAN="$(mmcv_plan)" || die "see above"
eval "$PLAN"   # FLAVOUR, KEY, BUILD_ARCH_LIST, BUILD_CUDA_HOME, REASON, MMCV_OK, INSTALLED
if [ "$MMCV_OK" = 1 ]; then
  say "mmcv $MMCV_VER already installed (ops: $INSTALLED)"
else
  WDIR="$CACHE/$KEY"
  WHEEL="$(ls "$WDIR"/mmcv-*.whl 2>/dev/null | head -n1 || true)"
  if [ -z "$WHEEL" ]; then
    if [ "$FLAVOUR" = cuda ]; then
      export FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$BUILD_ARCH_LIST" CUDA_HOME="${CUDA_HOME:-$BUILD_CUDA_HOME}"
      # torch's headers include cuSPARSE/cuBLAS headers, which an nvcc-only toolkit lacks; torch's own nvidia-*
      # packages carry them (searched after the toolkit's -I folders, so a full toolkit still wins)
      NV_INC="$("$VPY" -c 'import glob, os, site; print(":".join(sorted(glob.glob(os.path.join(site.getsitepackages()[0], "nvidia", "*", "include")))))')"
      [ -z "$NV_INC" ] || export CPATH="${CPATH:+$CPATH:}$NV_INC"
      say "building mmcv $MMCV_VER with CUDA ops ($REASON; TORCH_CUDA_ARCH_LIST=$BUILD_ARCH_LIST) from source:"
      say "  about 1 CPU-hour per architecture (58 .cu files, ~50 s each); MAX_JOBS=${MAX_JOBS:-2} (raise it on a big node)"
    else
      # mmcv's setup.py also compiles CUDA when torch sees a GPU: the CPU-only build hides it (below)
      export FORCE_CUDA=0
      say "building mmcv $MMCV_VER (cpu ops; $REASON) from source: 12-17 minutes on 2 cores, once per machine"
    fi
    TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
    pip_logged download -q --no-deps --no-build-isolation --no-binary :all: "mmcv==$MMCV_VER" -d "$TMP" \
      || die "downloading mmcv $MMCV_VER's source failed (log: $SETUP_LOG)"
    tar -xzf "$TMP"/mmcv-"$MMCV_VER".tar.gz -C "$TMP"
    # torch >= 2.13 headers need C++20; mmcv 2.1.0 forces -std=c++17 (open-mmlab/mmcv#3341).
    sed -i 's/-std=c++17/-std=c++20/g' "$TMP/mmcv-$MMCV_VER/setup.py"
    say "  build log: $SETUP_LOG"
    ( cd "$TMP/mmcv-$MMCV_VER" && export MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" && \
        { [ "$FLAVOUR" = cuda ] || export CUDA_VISIBLE_DEVICES=; } && \
        pip_logged wheel -q --no-deps --no-build-isolation . -w "$TMP/wheel" ) \
      || die "building mmcv $MMCV_VER failed (full log: $SETUP_LOG)"
    mkdir -p "$WDIR"
    mv "$TMP"/wheel/mmcv-*.whl "$WDIR/"
    WHEEL="$(ls "$WDIR"/mmcv-*.whl | head -n1)"
  else
    say "using cached mmcv wheel $WHEEL ($FLAVOUR ops)"
  fi
  "${PIP[@]}" install -q --force-reinstall --no-deps "$WHEEL"
fi
# ---- the rest of the stack -------------------------------------------------------------------------
say "installing requirements/stack.txt, requirements/optional.txt and requirements/tests.txt"
"${PIP[@]}" install -q -r requirements/stack.txt -r requirements/optional.txt -r requirements/tests.txt

# dotadevkit (DOTA_devkit): an independent check of polygon IoU in tests. --no-deps: its declared
# opencv_contrib_python would clash with opencv-python-headless.
if ! "$VPY" -c 'from dotadevkit.polyiou import polyiou' >/dev/null 2>&1; then
  say "installing dotadevkit 1.3.0 (small SWIG extension)"
  pip_logged install -q swig
  pip_logged install -q --no-deps --no-build-isolation --no-binary dotadevkit "dotadevkit==1.3.0" \
    || say "WARNING: dotadevkit did not build; the tests that cross-check against it will be skipped"
fi

"$VPY" -c "import mmcv.ops" \
  || die "mmcv $MMCV_VER is installed but 'import mmcv.ops' fails (see above); remove $CACHE and rerun."
# record which ops are installed (kept when it already says so; checks that a fresh build has the requested ops)
"$VPY" "$ROOT/tools/setup/mmcv_build.py" record --venv "$VENV" --mmcv "$MMCV_VER" --torch "$TORCH_VER" \
  --py "$PYV" || die "see above"

say "installing cfinet_rotated (editable)"
pip_logged install -q --no-deps --no-build-isolation -e . || die "installing cfinet_rotated failed (log: $SETUP_LOG)"

"$VPY" - <<'PY'
import torch, torchvision, mmcv, mmcv.ops, mmengine, mmdet, mmrotate, cfinet_rotated
print('setup: torch', torch.__version__, '| torchvision', torchvision.__version__, '| mmcv', mmcv.__version__,
      '| mmengine', mmengine.__version__, '| mmdet', mmdet.__version__, '| mmrotate', mmrotate.__version__,
      '| cuda', torch.cuda.is_available())
PY
echo "$want_stamp" > "$STAMP"
say "done: activate with 'source .venv/bin/activate'"
