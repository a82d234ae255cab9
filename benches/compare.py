"""A/B of swapscope's reload time between two builds, on this machine, in one run.

    python3 benches/compare.py OLD_BINARY NEW_BINARY [ROUNDS]

Runs `BINARY --headless benches/reload_bench.py --mode reload` for each binary in turn, ROUNDS
times (default 3), alternating so that both see the same machine state, and prints for 5k and
50k lines the median over rounds of each run's median reload time, the floor (compile + exec)
measured in the same runs, and new/old. Build the binaries with
`cargo build --release --no-default-features` (the reload path does not depend on the window).
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run(binary, out):
    subprocess.run(
        [binary, "--headless", os.path.join(HERE, "reload_bench.py"), "--mode", "reload",
         "--out", out],
        check=True, stderr=subprocess.DEVNULL, cwd=os.path.dirname(HERE))
    with open(out) as f:
        return json.load(f)["rows"]


def main():
    old, new = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    seen = {}  # (label, size, tool) -> [median_ms per round]
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            for label, binary in (("old", old), ("new", new)):
                for row in run(binary, os.path.join(tmp, f"{label}{i}.json")):
                    key = (label, row["size"], row["tool"])
                    seen.setdefault(key, []).append(row["median_ms"])
                print(f"round {i + 1}/{rounds}: {label} done", file=sys.stderr, flush=True)
    print(f"| size | tool | old (ms) | new (ms) | new/old |")
    print("|---|---|---|---|---|")
    for size in ("5k", "50k"):
        for tool in ("floor (compile + exec)", "swapscope"):
            o = statistics.median(seen[("old", size, tool)])
            n = statistics.median(seen[("new", size, tool)])
            print(f"| {size} | {tool} | {o:.1f} | {n:.1f} | {n / o:.3f} |")


if __name__ == "__main__":
    main()
