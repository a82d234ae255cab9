import gc
import json
import sys
import threading
import time


def show(r):
    return json.dumps(r, indent=1)


def entries(r, qualname):
    return [c for c in r["changes"] if c["qualname"] == qualname]


def entry(r, qualname):
    found = entries(r, qualname)
    assert len(found) == 1, f"expected one entry for {qualname!r}, got {found}\n{show(r)}"
    return found[0]


def action(r, qualname):
    return entry(r, qualname)["action"]


def expect(r, qualname, wanted):
    got = action(r, qualname)
    assert got == wanted, f"{qualname}: expected {wanted}, got {got}\n{show(r)}"
    return entry(r, qualname)


def applied(r):
    assert r["outcome"] == "applied", show(r)
    return r


def snapshot(obj):
    """The attributes of a module or class, as a plain dict of the objects."""
    return dict(vars(obj))


def assert_identical(obj, snap):
    """Same keys, each the identical object."""
    now = vars(obj)
    added, removed = set(now) - set(snap), set(snap) - set(now)
    assert not added and not removed, f"{obj!r}: added {added}, removed {removed}"
    for k, v in snap.items():
        assert now[k] is v, f"{obj!r}.{k} is another object now: {now[k]!r} (was {v!r})"


def interpreter_state():
    return (sys.meta_path, list(sys.meta_path), gc.isenabled(), set(sys.modules),
            sys.getswitchinterval())


def assert_interpreter_state(before, new_modules=()):
    meta_obj, meta, gc_on, modules, interval = before
    assert sys.meta_path is meta_obj, "sys.meta_path was replaced"
    assert sys.meta_path == meta, f"sys.meta_path changed: {sys.meta_path} (was {meta})"
    assert gc.isenabled() == gc_on, f"gc.isenabled() changed to {gc.isenabled()}"
    now = set(sys.modules)
    assert modules - now == set(), f"modules removed from sys.modules: {modules - now}"
    assert now - modules == set(new_modules), f"modules added to sys.modules: {now - modules}"
    assert sys.getswitchinterval() == interval, sys.getswitchinterval()


def wait_for(cond, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)


def _differential_swapscope():
    """Under the differential test (tests/engine/differential.rs), `swapscope` in each test's
    namespace records every reload (tests/common/differential.py's record) to the file
    SWAPSCOPE_DIFF_LOG names, and with SWAPSCOPE_DIFF_MODE=full makes every reload whole."""
    import json
    import os
    import types

    log = os.environ.get("SWAPSCOPE_DIFF_LOG")
    if not log:
        return None
    real = sys.modules["swapscope"]
    diff = types.ModuleType("_swapscope_differential")
    helper = os.environ["SWAPSCOPE_DIFF_HELPER"]
    with open(helper, encoding="utf-8") as f:
        exec(compile(f.read(), helper, "exec"), diff.__dict__)
    whole = os.environ.get("SWAPSCOPE_DIFF_MODE") == "full"
    counts = {}

    def reload(module, **kw):
        name = module if isinstance(module, str) else getattr(module, "__name__", None)
        mod = sys.modules.get(name) if isinstance(name, str) else None
        before = diff.ids(mod) if mod is not None else {}
        if whole and not kw.get("full"):
            kw["full"] = True
        try:
            r = real.reload(module, **kw)
        except BaseException as e:
            rec = {"raised": f"{type(e).__name__}: {e}"}
            raise
        else:
            rec = diff.record(r, sys.modules.get(name, mod), before) if mod is not None else {}
            rec["mode"] = r.get("mode")
            return r
        finally:
            n = counts.get(name, 0)
            counts[name] = n + 1
            with open(log, "a", encoding="utf-8") as f:
                f.write(json.dumps({"key": f"{name}#{n}", "record": rec}) + "\n")

    proxy = types.SimpleNamespace(**{k: getattr(real, k) for k in dir(real)
                                     if not k.startswith("__")})
    proxy.reload = reload
    return proxy


_proxy = _differential_swapscope()
if _proxy is not None:
    swapscope = _proxy
del _proxy
