"""Instruction count of swapscope reloads, repeatable (valgrind counts instructions, not time).

    RELOADS=3 valgrind --tool=callgrind --callgrind-out-file=/tmp/with BINARY --headless \
        benches/callgrind_reload.py
    RELOADS=0 valgrind --tool=callgrind --callgrind-out-file=/tmp/without BINARY --headless \
        benches/callgrind_reload.py
    FLOOR=1 RELOADS=3 valgrind --tool=callgrind --callgrind-out-file=/tmp/floor BINARY \
        --headless benches/callgrind_reload.py

Imports a generated module of LINES lines (default 5,000; benches/workload.py) from a temp
folder under benches/ (tracked: it lies under the script's folder), then reloads it RELOADS
times, each time with a new version written. The difference of the first two "Collected" totals is the reloads' own
cost; the third minus the second is the floor's (each new version compiled and executed into a
fresh dict, as `cargo bench` measures it), so (with - without) / (floor - without) is the ratio
to the floor in instructions. Run the first two for two builds to compare them.
"""

import atexit
import os
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workload  # noqa: E402

import swapscope  # noqa: E402

folder = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(__file__)))
atexit.register(shutil.rmtree, folder, True)
sys.path.insert(0, folder)


# Every version is generated up front, in both runs, so that the difference is the reloads alone.
LINES = int(os.environ.get("LINES", "5000"))
SOURCES = [workload.source(LINES, v) for v in range(1, 5)]
RELOADS = int(os.environ.get("RELOADS", "3"))
assert RELOADS < len(SOURCES), f"RELOADS is at most {len(SOURCES) - 1}"


def write(version):
    with open(os.path.join(folder, "cg_mod.py"), "w") as f:
        f.write(SOURCES[version - 1])


write(1)
import cg_mod  # noqa: E402,F401

FLOOR = os.environ.get("FLOOR") == "1"

for v in range(2, 2 + RELOADS):
    write(v)
    if FLOOR:
        # The floor: the new version compiled and executed into a fresh dict.
        code = compile(SOURCES[v - 1], os.path.join(folder, "cg_mod.py"), "exec", dont_inherit=True)
        exec(code, {"__name__": "cg_mod", "__builtins__": __builtins__})
        continue
    r = swapscope.reload("cg_mod")
    assert r["outcome"] == "applied", r["error"]
