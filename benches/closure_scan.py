"""Cost of ``swapscope.reload(..., closures=True)``: the heap scan, with N extra objects the
garbage collector tracks.

    swapscope --headless benches/closure_scan.py 1000000

Writes a factory module into a temp folder, makes 100 closures with it, edits the factory and
reloads it twice (without the scan, then with it) and prints each reload's time and the scan's
own report line.
"""

import pathlib
import sys
import tempfile

import swapscope

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
folder = pathlib.Path(tempfile.mkdtemp())
sys.path.insert(0, str(folder))
path = folder / "bench_factory.py"
path.write_text("def make(tag):\n    def h(x):\n        return (tag, x)\n    return h\n")
import bench_factory  # noqa: E402

data = [[i] for i in range(n)]
handlers = [bench_factory.make(i) for i in range(100)]
for closures, body in ((False, "(x, tag)"), (True, "(tag, x, 1)")):
    path.write_text(f"def make(tag):\n    def h(x):\n        return {body}\n    return h\n")
    r = swapscope.reload("bench_factory", closures=closures)
    note = [c["note"] for c in r["changes"] if c["qualname"] == "closures"]
    print(f"{n} objects, closures={closures}: {r['duration_ms']:.1f} ms {note}")
assert handlers[0](5) == (0, 5, 1), handlers[0](5)
