"""swapscope's reload benchmark driver (run by `cargo bench`, see benches/bench.rs).

Modes:
  --mode swapscope     inside `swapscope --headless`: the floor, swapscope's reload and
                       importlib.reload at three sizes; the same reload with 0, 1 and 5 million
                       live instances; import time with and without tracking; peak RSS.
  --mode reload        inside `swapscope --headless`: only the floor and swapscope's reload at
                       5k and 50k lines (what benches/compare.py runs for an A/B of two builds).
  --mode alternatives  in a plain (venv) python: the floor, importlib.reload, IPython's
                       autoreload (superreload and the default mode) and jurigged.
  --mode edits         inside `swapscope --headless`: only the one-edit table (below).
  --mode imports       inside `swapscope --headless`, with SWAPSCOPE_EXCLUDE naming a folder:
                       only the import overhead of tracking.
  --mode alt-edits     in the venv's python: only the alternatives' part of that table.

The one-edit table (issue 14, incremental reload): at each size, one constant, one function
body, one method body, or every function edited, then reloaded; each tool on its own copy of
the module, the tools taking turns so that they see the same machine state.
Writes one JSON object to --out: {"rows": [...], "notes": [...]}.

The floor is compiling the new source and executing it into a fresh dict: the least any
exec-based reload costs. Every measurement writes a new version of the module first; each version
changes every function body and some constants (benches/workload.py).
"""

import argparse
import gc
import importlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no .pyc: every reload and the floor compile from source

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import workload  # noqa: E402

SIZES = {"200": 200, "5k": 5000, "50k": 50000}
EDITS = ("one constant", "one function", "one method", "every function")
EDIT_REPS = {"200": 15, "5k": 9, "50k": 5}
LIMIT_S = 120  # a reload slower than this is reported as "over 120 s"
if os.environ.get("SWAPSCOPE_BENCH_QUICK"):  # a smoke run of the drivers, not a measurement
    SIZES = {"200": 200}
REPS = {"200": 21, "5k": 15, "50k": 7}


class TimeLimit(Exception):
    pass


class time_limit:
    """Raises TimeLimit in the main thread after `seconds` (SIGALRM); a no-op off the main thread."""

    def __init__(self, seconds):
        self.seconds = seconds

    def __enter__(self):
        import signal
        import threading
        self.armed = threading.current_thread() is threading.main_thread()
        if self.armed:
            def fire(_sig, _frame):
                raise TimeLimit()
            self.previous = signal.signal(signal.SIGALRM, fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc):
        if self.armed:
            import signal
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False


class Bench:
    def __init__(self, folder):
        self.folder = folder
        self.rows = []
        self.notes = []
        self.version = 0
        if folder not in sys.path:
            sys.path.insert(0, folder)

    def path(self, name):
        return os.path.join(self.folder, name + ".py")

    def write(self, name, lines):
        self.version += 1
        src = workload.source(lines, self.version)
        with open(self.path(name), "w") as f:
            f.write(src)
        return src

    def load(self, name, lines):
        self.write(name, lines)
        return importlib.import_module(name)

    def row(self, measure, size, tool, times, **extra):
        if extra.get("edit"):
            tool_shown = f"{tool} [{extra['edit']}]"
        else:
            tool_shown = tool
        if times == [None]:
            row = {"measure": measure, "size": size, "tool": tool, "median_ms": None,
                   "over_s": LIMIT_S}
            row.update(extra)
            self.rows.append(row)
            print(f"  {measure:10} {size:>5} {tool_shown:28} over {LIMIT_S} s", file=sys.stderr,
                  flush=True)
            return row
        times = sorted(times)
        row = {
            "measure": measure,
            "size": size,
            "tool": tool,
            "median_ms": statistics.median(times) * 1e3,
            "min_ms": times[0] * 1e3,
            "max_ms": times[-1] * 1e3,
            "reps": len(times),
        }
        row.update(extra)
        self.rows.append(row)
        print(f"  {measure:10} {size:>5} {tool_shown:28} {row['median_ms']:9.2f} ms "
              f"[{row['min_ms']:.2f}..{row['max_ms']:.2f}]", file=sys.stderr, flush=True)
        return row

    def timed(self, name, lines, reps, action):
        """Median-ready list of times of `action(src)` after writing a new version each time.
        A reload still running after LIMIT_S seconds is stopped; the list is then [None]."""
        times = []
        i = 0
        while i <= reps:  # one warm-up
            src = self.write(name, lines)
            gc.collect()  # the garbage of the run before is not this run's cost
            t0 = time.perf_counter()
            try:
                with time_limit(LIMIT_S):
                    action(src)
            except TimeLimit:
                return [None]
            dt = time.perf_counter() - t0
            if i:
                times.append(dt)
            elif dt > 20.0:
                reps = 1  # most of a minute per reload: one timed run after the warm-up
            elif dt > 2.0:
                reps = min(reps, 3)  # seconds per reload: three are enough for a median
            i += 1
        return times

    def paired(self, name, lines, reps, action):
        """The floor and `action` measured in alternation, a new version written before each:
        both see the same machine state (this VM's speed drifts by ±10% within a minute), so
        their ratio is steadier than that of two runs one after the other. Returns
        (floor times, action times); a warm-up of each is not counted."""
        path = self.path(name)

        def floor_run(src):
            code = compile(src, path, "exec", dont_inherit=True)
            exec(code, {"__name__": name, "__builtins__": __builtins__})

        floor_times, times = [], []
        for i in range(reps + 1):
            for run, out in ((floor_run, floor_times), (action, times)):
                src = self.write(name, lines)
                gc.collect()  # the garbage of the run before is not this run's cost
                t0 = time.perf_counter()
                run(src)
                dt = time.perf_counter() - t0
                if i:
                    out.append(dt)
        return floor_times, times

    def floor(self, name, lines, reps):
        path = self.path(name)

        def run(src):
            code = compile(src, path, "exec", dont_inherit=True)
            exec(code, {"__name__": name, "__builtins__": __builtins__})

        return self.timed(name, lines, reps, run)


def rss_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def swapscope_mode(b, untracked, reload_only=False):
    import swapscope

    def reload_fn(name):
        def run(_src):
            r = swapscope.reload(name)
            if r["outcome"] != "applied":
                raise SystemExit(f"reload of {name} failed: {r['error']}")
        return run

    for size, lines in SIZES.items():
        name = f"bench_s{size}"
        b.load(name, lines)
        floor, own = b.paired(name, lines, REPS[size], reload_fn(name))
        b.row("reload", size, "floor (compile + exec)", floor)
        b.row("reload", size, "swapscope", own)
        if reload_only:
            continue
        iname = f"bench_i{size}"
        b.load(iname, lines)
        mod = sys.modules[iname]
        b.row("reload", size, "importlib.reload", b.timed(iname, lines, REPS[size],
                                                          lambda _s: importlib.reload(mod)))
    if reload_only:
        return

    # Heap independence: the 5k module with live instances of its classes held in a list.
    name, lines = "bench_heap", SIZES["5k"]
    mod = b.load(name, lines)
    classes = workload.classes(mod)
    live = []
    for count in (0, 1_000_000, 5_000_000):
        while len(live) < count:
            live.extend(classes[i % len(classes)](i) for i in range(len(live), min(count, len(live) + 100_000)))
        gc.collect()
        b.row("heap", f"{count // 1_000_000}M" if count else "0", "floor (compile + exec)",
              b.floor(name, lines, 5))
        b.row("heap", f"{count // 1_000_000}M" if count else "0", "swapscope",
              b.timed(name, lines, 7, reload_fn(name)))
    assert all(type(x) in classes for x in live[:1000])
    del live
    gc.collect()

    import_overhead(b, untracked)


def import_overhead(b, untracked):
    """The same module imported from a tracked and an untracked folder: the two in turn, each
    import after a `gc.collect()`, so that both see the same machine state."""
    def config_source(n):
        return "CONFIG = {\n" + "".join(f"    'key{i}': {{'v': {i}, 'tag': 't{i % 7}'}},\n" for i in range(n)) + "}\n"

    for size, lines in list(SIZES.items()) + [("cfg100k", None)]:
        reps = 5 if size in ("50k", "cfg100k") else 9
        text = config_source(100_000) if lines is None else workload.source(lines, 1)
        times = {"tracked": [], "untracked": []}
        for i in range(reps):
            for label, folder in (("tracked", b.folder), ("untracked", untracked)):
                nm = f"imp_{label}_{size}_{i}"
                with open(os.path.join(folder, nm + ".py"), "w") as f:
                    f.write(text)
                gc.collect()
                t0 = time.perf_counter()
                importlib.import_module(nm)
                times[label].append(time.perf_counter() - t0)
        b.row("import", size, "import, untracked", times["untracked"])
        b.row("import", size, "import, tracked (swapscope)", times["tracked"])


def edit_source(lines, edit, k):
    """Version 1 of the workload with `edit` number `k` applied (k counts from 1)."""
    if edit == "every function":
        return workload.source(lines, 1 + k)
    return workload.source(lines, 1, one=(edit.split()[1], k))


def edits(b, tools, sizes=None, untracked=None):
    """The one-edit table's rows for `tools`: {label: make(name, path) -> action()}. Each tool
    gets its own copy of the module; per repetition every tool's copy gets the same edit, then
    the tools run in turn. The copies of tools whose labels are in `untracked` (a dict label ->
    folder) live in that folder, which swapscope does not track: a reload looks through the
    other tracked modules' globals (for stale copies of what it replaced), and a program has
    one copy of its module, not one per tool. The copies leave sys.modules after each edit."""
    untracked = untracked or {}
    for size, lines in (sizes or SIZES).items():
        for edit in EDITS:
            copies = {}
            for i, (label, make) in enumerate(tools.items()):
                name = f"edit_{size}_{EDITS.index(edit)}_{i}"
                folder = untracked.get(label, b.folder)
                path = os.path.join(folder, name + ".py")
                with open(path, "w") as f:
                    f.write(edit_source(lines, edit, 0) if edit != "every function"
                            else workload.source(lines, 1))
                importlib.import_module(name)
                copies[label] = (name, make(name, path), path)
            times = {label: [] for label in tools}
            done = set()  # tools measured enough: stopped, or seconds per reload
            reps = EDIT_REPS[size]
            for k in range(1, reps + 2):  # the first is a warm-up
                for label, (name, action, path) in copies.items():
                    if label in done:
                        continue
                    with open(path, "w") as f:
                        f.write(edit_source(lines, edit, k))
                    gc.collect()
                    t0 = time.perf_counter()
                    try:
                        with time_limit(LIMIT_S):
                            action()
                    except TimeLimit:
                        times[label] = [None]
                        done.add(label)
                        continue
                    dt = time.perf_counter() - t0
                    if k > 1:
                        times[label].append(dt)
                    # Seconds per reload: three (one after a minute) are enough for a median.
                    if (dt > 20.0 and k > 1) or (dt > 2.0 and len(times[label]) >= 3):
                        done.add(label)
            for label in tools:
                b.row("edit", size, label, times[label] or [None], edit=edit)
            for name, _, _ in copies.values():
                sys.modules.pop(name, None)


def floor_tool(name, path):
    def run():
        with open(path) as f:
            src = f.read()
        code = compile(src, path, "exec", dont_inherit=True)
        exec(code, {"__name__": name, "__builtins__": __builtins__})
    return run


def edits_swapscope(b, untracked, sizes=None):
    import swapscope

    modes = {}

    def ours(full):
        def make(name, _path):
            def run():
                r = swapscope.reload(name, full=full)
                if r["outcome"] != "applied":
                    raise SystemExit(f"reload of {name} failed: {r['error']}")
                if not full:
                    modes[name] = f"{r['mode']}: {r['mode_note']}"
            return run
        return make

    def importlib_tool(name, _path):
        return lambda: importlib.reload(sys.modules[name])

    edits(b, {
        "floor (compile + exec)": floor_tool,
        "swapscope": ours(False),
        "swapscope, full=True": ours(True),
        "importlib.reload": importlib_tool,
    }, sizes, untracked={"floor (compile + exec)": untracked, "importlib.reload": untracked})
    # What each edit's reload did: one statement (or two) incrementally; every function edited
    # is most of the module, which reloads whole.
    for name, mode in sorted(modes.items()):
        b.notes.append(f"{name}: {mode}")


def edits_alternatives(b, sizes=None):
    tools = {"floor (compile + exec)": floor_tool}
    try:
        from IPython.extensions import autoreload as ipy_autoreload
        import IPython
        label = f"IPython {IPython.__version__}"

        def superreload(name, _path):
            return lambda: ipy_autoreload.superreload(sys.modules[name])

        def default_mode(name, path):
            reloader = ipy_autoreload.ModuleReloader(shell=None)
            reloader.enabled = True
            reloader.check_all = True
            reloader.check(do_reload=False)  # record the current mtimes
            bump = [0]

            def run():
                # The file's mtime must move for the reloader to see the change.
                bump[0] += 1
                st = os.stat(path)
                os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000 * bump[0]))
                reloader.check(check_all=True)
            return run

        tools[f"{label} superreload"] = superreload
        tools[f"{label} autoreload (default)"] = default_mode
    except Exception as exc:  # noqa: BLE001
        b.notes.append(f"IPython autoreload: skipped ({type(exc).__name__}: {exc})")
    try:
        import jurigged
        from jurigged.codetools import CodeFile
        jur = f"jurigged {getattr(jurigged, '__version__', '')}".strip()

        def jurigged_tool(name, path):
            cf = CodeFile(path, module_name=name)
            cf.associate(sys.modules[name])
            return cf.refresh

        # A minute and more per reload at 5k lines already: not run at 50k.
        small = {k: v for k, v in (sizes or SIZES).items() if v <= 5000}
        edits(b, {jur: jurigged_tool}, small)
        if len(small) < len(sizes or SIZES):
            b.notes.append(f"{jur} at 50k: skipped in the one-edit table (a minute per reload "
                           "at 5k lines)")
    except Exception as exc:  # noqa: BLE001
        b.notes.append(f"jurigged: skipped ({type(exc).__name__}: {exc})")
    edits(b, tools, sizes)


def memory_mode(b, untracked, case):
    """Peak RSS added (VmHWM after - VmHWM before) by one operation, in a fresh process."""
    lines = SIZES["50k"]
    folder = untracked if case == "import, untracked" else b.folder
    name = "mem_" + case.split(",")[-1].strip().replace(" ", "_")
    with open(os.path.join(folder, name + ".py"), "w") as f:
        f.write(workload.source(lines, 1))
    if case == "one swapscope reload":
        import swapscope
        importlib.import_module(name)
        b.write(name, lines)
        gc.collect()
        before = rss_kib("VmHWM")
        r = swapscope.reload(name)
        assert r["outcome"] == "applied", r["error"]
    else:
        gc.collect()
        before = rss_kib("VmHWM")
        importlib.import_module(name)
    b.rows.append({"measure": "memory", "size": "50k", "tool": case,
                   "peak_kib": rss_kib("VmHWM") - before})


def alternatives_mode(b):
    try:
        from IPython.extensions import autoreload as ipy_autoreload
        import IPython
        ipython = f"IPython {IPython.__version__}"
    except Exception as exc:  # noqa: BLE001
        ipy_autoreload = None
        b.notes.append(f"IPython autoreload: skipped ({type(exc).__name__}: {exc})")
    try:
        import jurigged
        from jurigged.codetools import CodeFile
        jur = f"jurigged {getattr(jurigged, '__version__', '')}".strip()
    except Exception as exc:  # noqa: BLE001
        CodeFile = None
        b.notes.append(f"jurigged: skipped ({type(exc).__name__}: {exc})")

    for size, lines in SIZES.items():
        name = f"alt_f{size}"
        b.load(name, lines)
        b.row("reload", size, "floor (compile + exec)", b.floor(name, lines, REPS[size]))
        if ipy_autoreload is not None:
            iname = f"alt_ipy{size}"
            mod = b.load(iname, lines)
            b.row("reload", size, f"{ipython} superreload", b.timed(
                iname, lines, REPS[size], lambda _s: ipy_autoreload.superreload(mod)))
            dname = f"alt_ipyd{size}"
            b.load(dname, lines)
            reloader = ipy_autoreload.ModuleReloader(shell=None)
            reloader.enabled = True
            reloader.check_all = True
            reloader.check(do_reload=False)  # record the current mtimes

            def default_mode(_s):
                # The file's mtime must move for the reloader to see the change.
                st = os.stat(b.path(dname))
                os.utime(b.path(dname), ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000 * b.version))
                reloader.check(check_all=True)

            b.row("reload", size, f"{ipython} autoreload (default)", b.timed(
                dname, lines, REPS[size], default_mode))
        if CodeFile is not None and lines <= 5000:
            jname = f"alt_jur{size}"
            mod = b.load(jname, lines)
            cf = CodeFile(b.path(jname), module_name=jname)
            cf.associate(mod)

            def jurigged_reload(_s):
                cf.refresh()

            reps = REPS[size] if lines <= 200 else 3
            b.row("reload", size, jur, b.timed(jname, lines, reps, jurigged_reload))
        elif CodeFile is not None:
            b.notes.append(f"jurigged at {size}: skipped (minutes per reload; measured at 200 and 5k)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["swapscope", "reload", "alternatives", "memory", "edits",
                                       "alt-edits", "imports"],
                    required=True)
    ap.add_argument("--case", default="")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    # An untracked folder: under the one SWAPSCOPE_EXCLUDE names (benches/bench.rs sets it; the
    # tracker reads it at start), else a temp folder (tracked like any folder outside the
    # interpreter's own: then "untracked" rows are not).
    excluded = os.environ.get("SWAPSCOPE_EXCLUDE", "").split(os.pathsep)[0] or None
    with tempfile.TemporaryDirectory(dir=HERE if args.mode != "alternatives" else None) as tracked, \
            tempfile.TemporaryDirectory(dir=excluded) as untracked:
        b = Bench(tracked)
        sys.path.insert(0, untracked)
        if args.mode == "swapscope":
            swapscope_mode(b, untracked)
            edits_swapscope(b, untracked)
        elif args.mode == "reload":
            swapscope_mode(b, untracked, reload_only=True)
        elif args.mode == "memory":
            memory_mode(b, untracked, args.case)
        elif args.mode == "edits":
            edits_swapscope(b, untracked)
        elif args.mode == "imports":
            import_overhead(b, untracked)
        elif args.mode == "alt-edits":
            edits_alternatives(b)
        else:
            alternatives_mode(b)
            edits_alternatives(b)
    info = {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count()}
    with open(args.out, "w") as f:
        json.dump({"rows": b.rows, "notes": b.notes, "info": info}, f, indent=1)


if __name__ == "__main__":
    main()
