#!/usr/bin/env bash
# Captures screenshots/attached.png: the window attached to two copies of the demo running in
# the user's own Pythons (two venvs with the wheel), after one `swapscope attach --reload`
# of balance in each. A real capture of the X screen under Xvfb.
#
#   examples/attach_capture.sh PYTHON_A PYTHON_B
#
# PYTHON_A/B: venv interpreters with the swapscope wheel installed (`cargo test --test attach`
# leaves them in target/attach-tests/venv-X.Y). Needs xvfb, x11-apps (xwd) and netpbm.
set -euo pipefail
cd "$(dirname "$0")/.."
a=${1:?PYTHON_A}
b=${2:?PYTHON_B}
cargo build --quiet
work=$(mktemp -d)
export SWAPSCOPE_AGENT_DIR="$work/agents"
mkdir -m 700 "$SWAPSCOPE_AGENT_DIR"
cp -r assets/demo "$work/demo"
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
"$a" -m swapscope "$work/demo/game.py" >/dev/null 2>&1 & pids+=($!)
"$b" -m swapscope "$work/demo/game.py" >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 100); do
  [ "$(ls "$SWAPSCOPE_AGENT_DIR" | wc -l)" -ge 2 ] && break
  sleep 0.1
done
Xvfb :91 -screen 0 1400x900x24 >/dev/null 2>&1 & pids+=($!)
sleep 1
DISPLAY=:91 target/debug/swapscope attach >/dev/null 2>&1 & pids+=($!)
sleep 4
sed -i 's/"pistol": {"damage": 10,/"pistol": {"damage": 55,/' "$work/demo/balance.py"
for p in $(target/debug/swapscope attach --list | cut -f1); do
  target/debug/swapscope attach --pid "$p" --reload balance >/dev/null
done
sleep 2
DISPLAY=:91 xwd -root -silent | xwdtopnm 2>/dev/null | pnmtopng > screenshots/attached.png
echo "wrote screenshots/attached.png"
