#!/usr/bin/env bash
# Set up timbrelab on a Debian machine with Python >= 3.11:
#   1. Debian packages it uses, installed only where missing (FluidSynth and TiMidity++, the GM soundfonts and freepats,
#      ffmpeg, SoX (bench fx compares against it), libsndfile, CC0/free instrument samples, WordNet data for antonyms, Chromium + its driver for the
#      studio's browser test);
#   2. a virtual environment in .venv with PyTorch 2.13.0 (CPU build) installed FIRST and pinned,
#      so no dependency can pull a multi-GB CUDA build;
#   3. timbrelab itself, editable, with its test/benchmark extras and Ray (the --ray option; its tests run).
# Rerunnable: steps already done are skipped quickly.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="fluidsynth fluid-soundfont-gm musescore-general-soundfont timgm6mb-soundfont freepats csound-soundfont timidity ffmpeg sox libsndfile1 sonic-pi-samples lmms-common wordnet-base chromium chromium-driver"
missing=()
for pkg in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.11 python3.12 python3.13 python3; do
    if command -v "$cand" >/dev/null 2>&1; then PY="$cand"; break; fi
  done
fi
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || { echo "setup: Python >= 3.11 is needed (found $("$PY" --version))" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $("$PY" --version)"
  "$PY" -m venv .venv
fi
PIP=(.venv/bin/python -m pip -q --disable-pip-version-check)
if ! .venv/bin/python -c 'import torch, sys; sys.exit(0 if torch.__version__.startswith("2.13.0") else 1)' 2>/dev/null; then
  echo "setup: installing torch==2.13.0 (CPU)"
  "${PIP[@]}" install torch==2.13.0
fi
echo "setup: installing timbrelab and its dependencies"
"${PIP[@]}" install -e ".[dev,ray]"
.venv/bin/python -c 'import timbrelab, torch; print(f"setup: timbrelab {timbrelab.__version__} ready (torch {torch.__version__})")'
