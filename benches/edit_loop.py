"""Seven one-place edits of a generated module, each reloaded with swapscope.reload, timed.

    swapscope --headless --watch DIR benches/edit_loop.py DIR LINES KIND OTHER

KIND: constant | function | method (benches/workload.py's one-place edits). OTHER=1 also reloads
a second copy whole between two timed reloads, as the one-edit table's other tools do. Prints the
seven times (ms) and the last report's duration_ms. DIR must be an empty folder swapscope tracks.
"""
import sys, os, time, importlib, gc
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workload, swapscope
d = sys.argv[1]; sys.path.insert(0, d)
lines = int(sys.argv[2]); kind = sys.argv[3]; other = sys.argv[4] == "1"
def src(k):
    return workload.source(lines, 1, one=(kind, k))
for n in ("pa", "pb"):
    open(os.path.join(d, n + ".py"), "w").write(src(0)); importlib.import_module(n)
ts = []
for k in range(1, 8):
    if other:
        open(os.path.join(d, "pb.py"), "w").write(src(k)); swapscope.reload("pb", full=True)
    open(os.path.join(d, "pa.py"), "w").write(src(k))
    gc.collect()
    t = time.perf_counter(); r = swapscope.reload("pa"); dt = time.perf_counter() - t
    ts.append(dt * 1e3)
print(kind, lines, "other" if other else "alone", " ".join(f"{t:.1f}" for t in ts), "engine", f"{r['duration_ms']:.1f}", file=sys.stderr)
