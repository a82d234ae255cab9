"""Instruction count of tracked imports, repeatable (valgrind counts instructions, not time).

    mkdir -p target/bench/untracked
    SWAPSCOPE_EXCLUDE=$PWD/target/bench/none valgrind --tool=callgrind \
        --callgrind-out-file=/tmp/tracked BINARY --headless benches/callgrind_import.py
    SWAPSCOPE_EXCLUDE=$PWD/target/bench/untracked valgrind --tool=callgrind \
        --callgrind-out-file=/tmp/untracked BINARY --headless benches/callgrind_import.py

Imports IMPORTS (default 3) copies of a generated module of LINES lines (default 5,000;
benches/workload.py), each under a new name, from a temp folder under target/bench/untracked:
tracked in the first run (SWAPSCOPE_EXCLUDE names another folder), not tracked in the second.
The difference of the two "Collected" totals is what tracking costs those imports (the
baseline: the source read and a fingerprint of every value); with IMPORTS=0 the same run gives
the cost of everything else, so (tracked - untracked) / (untracked - untracked at IMPORTS=0) is
the overhead per import in instructions.
"""

import atexit
import os
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import workload  # noqa: E402

base = os.path.join(HERE, "..", "target", "bench", "untracked")
os.makedirs(base, exist_ok=True)
folder = tempfile.mkdtemp(dir=base)
atexit.register(shutil.rmtree, folder, True)
sys.path.insert(0, folder)

LINES = int(os.environ.get("LINES", "5000"))
IMPORTS = int(os.environ.get("IMPORTS", "3"))
SOURCE = workload.source(LINES, 1)
for i in range(IMPORTS):
    with open(os.path.join(folder, f"cg_import_{i}.py"), "w") as f:
        f.write(SOURCE)
for i in range(IMPORTS):
    __import__(f"cg_import_{i}")
