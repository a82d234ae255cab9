#!/bin/bash
# The window's CPU use while it idles, as the README quotes it: runs `swapscope` on the bundled
# demo (its game loop prints a line about every 85 ms) and on a script that prints a few lines
# and exits, each under Xvfb with Mesa's software OpenGL, and prints the share of one core the
# process used over 20 s after a 5 s warm-up (utime + stime from /proc/PID/stat).
#
#     benches/idle_cpu.sh [BINARY]      # default: target/release/swapscope
#
# Needs Xvfb (apt-get install -y xvfb); runs itself under `xvfb-run -a` if no DISPLAY is set.
set -euo pipefail
bin=${1:-target/release/swapscope}
if [ -z "${DISPLAY:-}" ]; then
  exec xvfb-run -a -s "-screen 0 1400x900x24" "$0" "$bin"
fi
export LIBGL_ALWAYS_SOFTWARE=1
exits=$(mktemp -d)
printf 'for i in range(5):\n    print("line", i)\n' > "$exits/exits.py"
measure() {
  local label=$1; shift
  "$bin" "$@" >/dev/null 2>&1 &
  local pid=$!
  sleep 5
  local tck t0 t1
  tck=$(getconf CLK_TCK)
  t0=$(awk '{print $14+$15}' "/proc/$pid/stat")
  sleep 20
  t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$label: $(echo "scale=2; 100*($t1-$t0)/$tck/20" | bc)% of one core"
}
measure "demo running" 
measure "script exited" "$exits/exits.py"
rm -rf "$exits"
