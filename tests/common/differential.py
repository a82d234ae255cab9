"""Incremental reload against whole reload: what a reload did, reduced to what the two modes must
agree on, and the comparison.

A record of one reload is a JSON-able dict:
- ``outcome`` and the error's line and message (not the traceback: its frames differ);
- ``changes``: the report's entries that are not ``unchanged``, as ``[qualname, kind, action,
  old, new]`` sorted (notes differ: an incremental reload says why it did not run something);
- ``namespace``: per name of the module afterwards, a digest of its value: data by repr, a
  function by its code (bytecode, constants, names, line numbers, nested code) and defaults, a
  class by its members; and whether it is the same object it was before the reload.

Whole and incremental reloads must give equal records. Both sides compute them the same way, in
two programs that ran the same steps (see tests/engine/differential.rs and
examples/soak/differential.py).
"""

import re
import types

REPR_LIMIT = 200
_ATOMS = (str, bytes, int, float, complex, bool, type(None))
# What differs between two programs for the same value: addresses and temp folders.
_NOISE = re.compile(r"0x[0-9a-fA-F]+|(/tmp/)?\.?tmp[A-Za-z0-9_]{6,}")


def _clean(text):
    return _NOISE.sub("…", text) if isinstance(text, str) else text


def _short(value):
    try:
        text = repr(value)
    except Exception as e:  # a broken __repr__ is the user's; the type still says something
        text = f"<unrepresentable {type(value).__name__}: {type(e).__name__}>"
    return _clean(text)[:REPR_LIMIT]


def _code(code, depth=0):
    if depth > 8:
        return "..."
    consts = []
    for c in code.co_consts:
        consts.append(_code(c, depth + 1) if isinstance(c, types.CodeType) else _short(c))
    lines = sorted({line for _, _, line in code.co_lines() if line is not None}) if hasattr(
        code, "co_lines"
    ) else []
    return {
        "name": code.co_name,
        "bytes": code.co_code.hex(),
        "names": list(code.co_names),
        "vars": list(code.co_varnames),
        "free": list(code.co_freevars),
        "first": code.co_firstlineno,
        "lines": lines,
        "consts": consts,
    }


def _function(f):
    return {
        "code": _code(f.__code__),
        "defaults": _short(f.__defaults__),
        "kwdefaults": _short(f.__kwdefaults__),
        "doc": _short(f.__doc__),
        "wrapped": _function(f.__wrapped__) if isinstance(
            getattr(f, "__wrapped__", None), types.FunctionType
        ) else None,
    }


def _member(v, module, seen):
    if isinstance(v, types.FunctionType):
        return ["function", _function(v)]
    if isinstance(v, (classmethod, staticmethod)):
        inner = v.__func__
        return [type(v).__name__, _function(inner) if isinstance(inner, types.FunctionType)
                else _short(inner)]
    if isinstance(v, property):
        return ["property", [_function(a) if isinstance(a, types.FunctionType) else _short(a)
                             for a in (v.fget, v.fset, v.fdel)]]
    if isinstance(v, type):
        return ["class", _class(v, module, seen)]
    return ["data", _short(v)]


def _class(c, module, seen):
    if id(c) in seen or getattr(c, "__module__", None) != module:
        return {"ref": f"{getattr(c, '__module__', '?')}.{getattr(c, '__qualname__', '?')}"}
    seen.add(id(c))
    members = {}
    for k, v in sorted(vars(c).items()):
        if k in ("__dict__", "__weakref__", "__module__", "__firstlineno__",
                 "__static_attributes__"):
            continue
        members[k] = _member(v, module, seen)
    return {
        "bases": [f"{b.__module__}.{b.__qualname__}" for b in c.__bases__],
        "members": members,
    }


def namespace(module, before_ids):
    """Digest of ``module``'s names; ``before_ids`` maps each name to ``id()`` of its value
    before the reload (identity kept or not)."""
    out = {}
    name = module.__name__
    for k, v in sorted(vars(module).items()):
        if k in ("__builtins__", "__loader__", "__spec__", "__cached__", "__file__",
                 "__path__", "__package__"):
            continue
        if isinstance(v, types.ModuleType):
            digest = ["module", v.__name__]
        else:
            digest = _member(v, name, set())
        # An equal number or string may be a new object after a whole reload (a new docstring)
        # and the old one after an incremental one; no program can tell but by `is`.
        same = None if isinstance(v, _ATOMS) else before_ids.get(k) == id(v)
        out[k] = {"value": digest, "same": same}
    return out


def ids(module):
    return {k: id(v) for k, v in vars(module).items()}


def record(report, module, before_ids):
    error = report.get("error") or {}
    changes = sorted(
        [c["qualname"], c["kind"], c["action"], _clean(c["old"]), _clean(c["new"])]
        for c in report["changes"]
        if c["action"] != "unchanged"
    )
    return {
        "outcome": report["outcome"],
        "error": [error.get("line"), _clean((error.get("message") or "").split("\n")[0])]
        if error else None,
        "changes": changes,
        "namespace": namespace(module, before_ids),
    }


def differences(full, incremental, limit=20):
    """What differs between two records, as readable lines (empty when they agree)."""
    out = []
    for key in ("outcome", "error"):
        if full[key] != incremental[key]:
            out.append(f"{key}: full {full[key]!r}, incremental {incremental[key]!r}")
    fc, ic = full["changes"], incremental["changes"]
    if fc != ic:
        fs, is_ = {tuple(c) for c in fc}, {tuple(c) for c in ic}
        for c in sorted(fs - is_):
            out.append(f"only the full reload reports {list(c)}")
        for c in sorted(is_ - fs):
            out.append(f"only the incremental reload reports {list(c)}")
    fn, inn = full["namespace"], incremental["namespace"]
    for k in sorted(set(fn) | set(inn)):
        a, b = fn.get(k), inn.get(k)
        if a != b:
            where, x, y = _first_difference(a, b, f"namespace[{k!r}]")
            out.append(f"{where}: full {_short(x)}, incremental {_short(y)}")
    return out[:limit]


def _first_difference(a, b, path):
    """The innermost place where two digests differ, and the two values there."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{path}.{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return path, a, b
