#!/usr/bin/env bash
# Prepare, on a machine with a package registry, what tools/device_check.sh installs on a GPU machine without one
# (issue 24): Python 3.12 manylinux wheels of the packages its image lacks and mmcv's source, in ./.device_bundle
# (git-ignored; about 7 MB, well inside a 64 MiB carry).
#
#   bash tools/setup/device_bundle.sh            # PYVER=3.12 by default (the GPU image's Python)
#   then, on the GPU machine, with .device_bundle carried:  bash tools/device_check.sh
#
# The image already has torch (CUDA), torchvision, numpy, scipy, opencv-python-headless, matplotlib, pyyaml, rich,
# tqdm, six, pytest, hypothesis (the list in docs/get_started.md, "On a GPU machine"); everything else of
# requirements/stack.txt comes from here, --no-deps so that nothing replaces the image's torch or numpy; setuptools
# < 82 too, because mmcv's setup.py and mmengine's `mmdet::` config lookup import pkg_resources (removed in 82).
# mmcv is shipped as its sdist: its CUDA ops must match the machine's torch and GPU, so device_check.sh builds them
# there, for the visible architecture only.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEST="${DEVICE_BUNDLE:-$ROOT/.device_bundle}"
PYVER="${PYVER:-3.12}"
PY="${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python3)}"
mkdir -p "$DEST"
PIP=("$PY" -m pip --disable-pip-version-check download -q --no-deps -d "$DEST")
# the versions of requirements/stack.txt; the small pure-Python dependencies of mmengine and mmdet at their newest
"${PIP[@]}" --only-binary=:all: --python-version "$PYVER" --implementation cp --platform manylinux_2_28_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
  mmengine==0.10.7 mmdet==3.3.0 mmrotate-dev==1.0.1 'shapely>=2.0,<3' 'pycocotools>=2.0.7' \
  addict yapf platformdirs termcolor terminaltables 'setuptools>=77,<82' 2> >(grep -v "^WARNING: Location '.*' is ignored" >&2)
"${PIP[@]}" --no-binary :all: --no-build-isolation mmcv==2.1.0 2> >(grep -v "^WARNING: Location '.*' is ignored" >&2)
ls -1 "$DEST"
SIZE="$(du -sm "$DEST" | cut -f1)"
echo "device_bundle: $(ls "$DEST" | wc -l) files, ${SIZE} MiB in $DEST"
[ "$SIZE" -le 60 ] || { echo "device_bundle: ERROR: ${SIZE} MiB is too close to the 64 MiB carry limit" >&2; exit 1; }
