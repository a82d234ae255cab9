"""Save -> applied latency in auto mode (run by `cargo bench` under `swapscope --headless --auto`).

A writer thread saves a tracked module 100 times, alternating a plain write and an atomic rename
(write a temp file, rename it over), each time waiting for the previous save to be applied. The
main loop is a game loop: it calls swapscope.safepoint() and checks the module's VERSION every
millisecond. Latency is from the write returning to the new VERSION being visible.
Writes {"plain": [s...], "rename": [s...]} to --out.
"""

import argparse
import json
import os
import sys
import tempfile
import threading
import time

import swapscope

HERE = os.path.dirname(os.path.abspath(__file__))
SAVES = 100


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=HERE) as folder:
        sys.path.insert(0, folder)
        path = os.path.join(folder, "lat_mod.py")

        def source(v):
            return f"VERSION = {v}\n\ndef tick(x):\n    return x + {v}\n"

        with open(path, "w") as f:
            f.write(source(0))
        import lat_mod

        results = {"plain": [], "rename": []}
        saved = {}
        done = threading.Event()

        def writer():
            time.sleep(0.5)  # let the watcher settle
            for v in range(1, SAVES + 1):
                kind = "plain" if v % 2 else "rename"
                if kind == "plain":
                    with open(path, "w") as f:
                        f.write(source(v))
                else:
                    tmp = path + ".tmp"
                    with open(tmp, "w") as f:
                        f.write(source(v))
                    os.replace(tmp, path)
                saved[v] = (kind, time.perf_counter())
                deadline = time.perf_counter() + 5
                while lat_mod.VERSION != v and time.perf_counter() < deadline:
                    time.sleep(0.005)
                time.sleep(0.05)  # separate saves, as an editor would
            done.set()

        threading.Thread(target=writer, name="bench-writer", daemon=True).start()
        seen = 0
        while not done.is_set():
            swapscope.safepoint()
            v = lat_mod.VERSION
            if v != seen and v in saved:
                kind, t0 = saved[v]
                results[kind].append(time.perf_counter() - t0)
                seen = v
            time.sleep(0.001)
        missed = SAVES - len(results["plain"]) - len(results["rename"])
        results["missed"] = missed
        with open(args.out, "w") as f:
            json.dump(results, f)


if __name__ == "__main__":
    main()
