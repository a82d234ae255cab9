#!/usr/bin/env bash
# Real packages' own test suites, after swapscope reloaded every module of the package in place.
#
#   examples/real_packages/run.sh [WORKDIR]
#
# Needs PyPI (pip) and a swapscope binary: $SWAPSCOPE, default target/release/swapscope (build it
# with `cargo build --release`). Makes a virtual environment with the python3 swapscope was built
# against, installs click and attrs from their source distributions (editable, with their tests),
# and runs each suite three ways: plain python, under swapscope, and under swapscope after
# reloading every module of the package (run_suite.py). Each swapscope run prints one JSON line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-$(mktemp -d)}
bin=${SWAPSCOPE:-$here/../../target/release/swapscope}
mkdir -p "$work"
python3 -m venv "$work/venv"
# shellcheck disable=SC1091
source "$work/venv/bin/activate"
pip install -q pytest hypothesis pympler cloudpickle
pip download -q --no-binary :all: --no-deps click==8.5.1 attrs==26.1.0 -d "$work/sdist"
for f in "$work"/sdist/*.tar.gz; do tar xzf "$f" -C "$work"; done
pip install -q -e "$work/click-8.5.1" -e "$work/attrs-26.1.0"

suite() { # FOLDER PACKAGES
  echo "== $2: plain python"
  (cd "$work/$1" && python -m pytest tests -q -p no:cacheprovider | tail -n 1) || true
  echo "== $2: swapscope, no reload"
  (cd "$work/$1" && "$bin" --headless --watch src "$here/run_suite.py" "$2" tests | tail -n 1) || true
  echo "== $2: swapscope, every module reloaded first"
  (cd "$work/$1" && "$bin" --headless --watch src "$here/run_suite.py" "$2" tests --reload | tail -n 1) || true
}
suite click-8.5.1 click
suite attrs-26.1.0 attr,attrs
