"""Instruction count of swapscope reloads, repeatable (valgrind counts instructions, not time).

    RELOADS=3 valgrind --tool=callgrind --callgrind-out-file=/tmp/with BINARY --headless \
        benches/callgrind_reload.py
    RELOADS=0 valgrind --tool=callgrind --callgrind-out-file=/tmp/without BINARY --headless \
        benches/callgrind_reload.py

Imports a generated 5,000-line module (benches/workload.py) from a temp folder under benches/
(tracked: it lies under the script's folder), then reloads it
RELOADS times, each time with a new version written. The difference of the two "Collected"
totals is the reloads' own cost; run both for two builds to compare them.
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


def write(version):
    with open(os.path.join(folder, "cg_mod.py"), "w") as f:
        f.write(workload.source(5000, version))


write(1)
import cg_mod  # noqa: E402,F401

for v in range(2, 2 + int(os.environ.get("RELOADS", "3"))):
    write(v)
    r = swapscope.reload("cg_mod")
    assert r["outcome"] == "applied", r["error"]
