#!/usr/bin/env bash
# Create ./.venv with the verified MMRotate 1.x stack and this package (idempotent).
#
#   bash tools/setup_env.sh          # or: make setup
#
# The slow step is building mmcv 2.1.0 with its compiled ops (12-17 min on 2 cores). The wheel is cached
# outside the repository (CFINET_WHEEL_CACHE, default ~/.cache/cfinet_rotated/wheels), keyed by the mmcv,
# torch and Python versions and by CPU/CUDA, so a second setup on the same machine takes seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
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

want_stamp="$(cat requirements/stack.txt requirements/tests.txt tools/setup_env.sh setup.py | sha256sum | cut -c1-16)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want_stamp" ] && [ -x "$VENV/bin/python" ]; then
  say "environment up to date ($VENV)"; exit 0
fi

command -v g++ >/dev/null 2>&1 || die "a C++ compiler (g++ >= 10, for -std=c++20) is needed to build mmcv's ops and dotadevkit (Debian: apt-get install g++)."
GXX_MAJOR="$(g++ -dumpversion | cut -d. -f1)"
[ "$GXX_MAJOR" -ge 10 ] || die "g++ $GXX_MAJOR is too old: torch $TORCH_VER extensions need C++20 (g++ >= 10)."

# ---- virtual environment ---------------------------------------------------------------------------
[ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PY" -m venv "$VENV"; }
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip --disable-pip-version-check)
"${PIP[@]}" install -q --upgrade pip 'setuptools>=77,<82' wheel

say "installing torch $TORCH_VER + torchvision $TV_VER"
"${PIP[@]}" install -q "torch==$TORCH_VER" "torchvision==$TV_VER"

# ---- mmcv with compiled ops ------------------------------------------------------------------------
# (its runtime dependencies, opencv and mmengine, come with the requirements below)
have_mmcv() { [ "$("$VPY" -c "import importlib.metadata as m; print(m.version('mmcv'))" 2>/dev/null)" = "$MMCV_VER" ]; }
if have_mmcv; then
  say "mmcv $MMCV_VER already installed"
else
  FLAVOUR=cpu
  if command -v nvcc >/dev/null 2>&1 && "$VPY" -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    FLAVOUR=cuda; export FORCE_CUDA=1
  fi
  KEY="mmcv-$MMCV_VER-torch$TORCH_VER-py$PYV-$FLAVOUR"
  WDIR="$CACHE/$KEY"
  WHEEL="$(ls "$WDIR"/mmcv-*.whl 2>/dev/null | head -n1 || true)"
  if [ -z "$WHEEL" ]; then
    say "building mmcv $MMCV_VER ($FLAVOUR ops) from source: 12-17 minutes on 2 cores, once per machine"
    TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
    "${PIP[@]}" download -q --no-deps --no-build-isolation --no-binary :all: "mmcv==$MMCV_VER" -d "$TMP"
    tar -xzf "$TMP"/mmcv-"$MMCV_VER".tar.gz -C "$TMP"
    # torch >= 2.13 headers need C++20; mmcv 2.1.0 forces -std=c++17 (open-mmlab/mmcv#3341).
    sed -i 's/-std=c++17/-std=c++20/g' "$TMP/mmcv-$MMCV_VER/setup.py"
    mkdir -p "$WDIR"
    ( cd "$TMP/mmcv-$MMCV_VER" && MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" \
        "${PIP[@]}" wheel -q --no-deps --no-build-isolation . -w "$TMP/wheel" )
    mv "$TMP"/wheel/mmcv-*.whl "$WDIR/"
    WHEEL="$(ls "$WDIR"/mmcv-*.whl | head -n1)"
  else
    say "using cached mmcv wheel $WHEEL"
  fi
  "${PIP[@]}" install -q --no-deps "$WHEEL"
fi
# ---- the rest of the stack -------------------------------------------------------------------------
say "installing requirements/stack.txt"
"${PIP[@]}" install -q -r requirements/stack.txt
say "installing requirements/tests.txt"
"${PIP[@]}" install -q -r requirements/tests.txt

# dotadevkit (DOTA_devkit): an independent check of polygon IoU in tests. --no-deps: its declared
# opencv_contrib_python would clash with opencv-python-headless.
if ! "$VPY" -c 'from dotadevkit.polyiou import polyiou' >/dev/null 2>&1; then
  say "installing dotadevkit 1.3.0 (small SWIG extension)"
  "${PIP[@]}" install -q swig
  "${PIP[@]}" install -q --no-deps --no-build-isolation --no-binary dotadevkit "dotadevkit==1.3.0" \
    || say "WARNING: dotadevkit did not build; the tests that cross-check against it will be skipped"
fi

"$VPY" -c "import mmcv.ops" \
  || die "mmcv $MMCV_VER is installed but 'import mmcv.ops' fails (see above); remove $CACHE and rerun."

say "installing cfinet_rotated (editable)"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e .

"$VPY" - <<'PY'
import torch, torchvision, mmcv, mmcv.ops, mmengine, mmdet, mmrotate, cfinet_rotated
print('setup: torch', torch.__version__, '| torchvision', torchvision.__version__, '| mmcv', mmcv.__version__,
      '| mmengine', mmengine.__version__, '| mmdet', mmdet.__version__, '| mmrotate', mmrotate.__version__,
      '| cuda', torch.cuda.is_available())
PY
echo "$want_stamp" > "$STAMP"
say "done: activate with 'source .venv/bin/activate'"
