"""Python-side helpers of swapscope's reload engine.

Loaded once into the module ``_swapscope_engine``. Only what Python says better than Rust lives
here: the import hook's finder (its loader is in ``loader.py``), exception descriptions, source
decoding, statement texts and short reprs.
"""

import ast
import collections.abc
import os
import reprlib
import sys
import traceback
import types
from importlib.machinery import SourceFileLoader
from importlib.util import decode_source as _decode_source

from _swapscope_loader import TrackingLoader


def _installed_dirs():
    """The folders of the interpreter and its installed packages: never project code."""
    import sysconfig

    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths = sysconfig.get_paths()
    dirs.update(paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib"))
    return sorted({os.path.realpath(d) for d in dirs if d})


def _under(real, folders):
    return any(real == f or real.startswith(f + os.sep) for f in folders)


class SwapscopeFinder:
    """Front of ``sys.meta_path``: asks the finders behind it, and hands project modules to
    ``TrackingLoader``: every module whose source is a ``.py`` file outside the interpreter's
    own folders and installed packages (the script's folder, ``--watch`` folders, a ``src/``
    layout, an editable install), except under the folders ``SWAPSCOPE_EXCLUDE`` lists
    (``os.pathsep``-separated)."""

    def __init__(self, record):
        self.roots = []
        self._record = record
        self.installed = _installed_dirs()
        self.exclude = [
            os.path.realpath(p)
            for p in os.environ.get("SWAPSCOPE_EXCLUDE", "").split(os.pathsep)
            if p
        ]

    def tracks(self, path):
        if not path or not path.endswith((".py", ".pyw")):
            return False
        real = os.path.realpath(path)
        # Installed packages are never project code, even in a watched folder (a .venv inside
        # the project): tracking them costs imports and they are not the user's to reload.
        parts = real.split(os.sep)
        if "site-packages" in parts or "dist-packages" in parts:
            return False
        if _under(real, self.exclude):
            return False
        return _under(real, self.roots) or not _under(real, self.installed)

    def find_spec(self, fullname, path=None, target=None):
        if not self.roots:
            return None
        spec = None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        if spec is None:
            return None
        loader = spec.loader
        if type(loader) is SourceFileLoader and self.tracks(spec.origin):
            tracking = TrackingLoader(loader.name, loader.path)
            tracking._swapscope_record = self._record
            spec.loader = tracking
        return spec

    def __repr__(self):
        return f"<swapscope finder, roots={self.roots!r}>"


def decode(data, path):
    """Source text of ``data`` (PEP 263 cookie, BOM) or an error dict naming the line."""
    try:
        text = _decode_source(data)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        col = exc.start - start + 1
        end = data.find(b"\n", exc.start)
        snippet = data[start : end if end >= 0 else len(data)].decode("utf-8", "replace")
        return None, _error(path, line, col, f"cannot decode source: {exc.reason} "
                            f"(byte 0x{data[exc.start]:02x}); save the file as UTF-8 "
                            f"or declare its encoding", snippet)
    except SyntaxError as exc:  # a bad coding cookie
        return None, describe(exc, path)
    nul = text.find("\0")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        col = nul - (text.rfind("\n", 0, nul) + 1) + 1
        return None, _error(path, line, col, "source contains a NUL byte; remove it", None)
    return text, None


def _error(path, line, col, message, text, tb=""):
    return {"file": path, "line": line, "col": col, "message": message, "text": text,
            "traceback": tb}


def describe(exc, path):
    """File, line, column, message, offending line and traceback of ``exc``."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if isinstance(exc, SyntaxError):
        text = (exc.text or "").rstrip("\r\n") or None
        return _error(exc.filename or path, exc.lineno, exc.offset,
                      f"{type(exc).__name__}: {exc.msg}", text, tb)
    line = text = None
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == path:
            line, text = frame.lineno, frame.line
            break
    return _error(path, line, None, f"{type(exc).__name__}: {exc}", text, tb)


def _bound_names(node):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield node.name
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        for alias in node.names:
            yield (alias.asname or alias.name).split(".")[0]
    else:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name):
                    yield sub.id


def statements(source):
    """``{qualname: text}`` of the statements binding each top-level and class-level name
    (``DAMAGE``, ``Player.MAX_HP``), several statements joined; ``None`` if it does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    lines = source.splitlines()
    out = {}

    def visit(body, prefix):
        for node in body:
            text = "\n".join(lines[node.lineno - 1 : node.end_lineno])
            for name in _bound_names(node):
                key = prefix + name
                out[key] = out[key] + "\n" + text if key in out else text
            if isinstance(node, ast.ClassDef):
                visit(node.body, prefix + node.name + ".")
            elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
                for field in ("body", "orelse", "finalbody"):
                    visit(getattr(node, field, []), prefix)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body, prefix)

    visit(tree.body, "")
    return out


class EditRefused(ValueError):
    """Why a value cannot be edited in the source: the message says where and what to do."""


def _path_steps(qualname):
    """``WEAPONS['rifle']['damage']`` -> ``['WEAPONS', ('key', 'rifle'), ('key', 'damage')]``;
    ``Player.MAX_HP`` -> ``['Player', ('attr', 'MAX_HP')]``."""
    try:
        node = ast.parse(qualname, mode="eval").body
    except SyntaxError:
        raise EditRefused(f"{qualname!r} is not a name or key path") from None
    steps = []
    while not isinstance(node, ast.Name):
        if isinstance(node, ast.Subscript):
            try:
                steps.append(("key", ast.literal_eval(node.slice)))
            except ValueError:
                raise EditRefused(f"{qualname!r}: a key must be a literal") from None
            node = node.value
        elif isinstance(node, ast.Attribute):
            steps.append(("attr", node.attr))
            node = node.value
        else:
            raise EditRefused(f"{qualname!r} is not a name or key path")
    return [node.id] + steps[::-1]


def _assigned_value(body, name, where):
    """The value node of the one plain assignment of ``name`` in ``body`` (a module's or a class
    body's statements)."""
    found = []
    for node in body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            if len(node.targets) != 1:
                raise EditRefused(f"{name} is assigned together with other names (line {node.lineno})")
            found.append(node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if node.target.id == name and node.value is not None:
                found.append(node.value)
        elif isinstance(node, ast.ClassDef) and node.name == name:
            found.append(node)
        elif name in set(_bound_names(node)):
            raise EditRefused(f"{name} is set by a statement that is not a plain assignment (line {node.lineno}) in {where}")
    if not found:
        raise EditRefused(f"{name} is not assigned in {where}")
    if len(found) > 1:
        lines = ", ".join(str(n.lineno) for n in found)
        raise EditRefused(f"{name} is assigned more than once in {where} (lines {lines}): edit it in your editor")
    return found[0]


def _is_literal(node):
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def edit_literal(source, qualname, new_text):
    """The source with the literal that gives ``qualname`` (``DAMAGE``, ``Player.MAX_HP``,
    ``WEAPONS['rifle']['damage']``, ``LEVELS[2]``) replaced by ``new_text``: only that literal's
    characters change (formatting and comments stay). Raises EditRefused with the reason and
    the line when the value is not a literal written in the source, or ``new_text`` is not one.
    Returns (new source, line of the edit)."""
    try:
        new_node = ast.parse(new_text.strip(), mode="eval").body
    except SyntaxError as e:
        raise EditRefused(f"{new_text!r} is not a Python literal ({e.msg})") from None
    if not _is_literal(new_node):
        raise EditRefused(f"{new_text!r} is not a literal (a number, string, True/False/None, or a list, tuple, dict or set of them)")
    new_value = ast.literal_eval(new_node)
    tree = ast.parse(source)
    steps = _path_steps(qualname)
    node = _assigned_value(tree.body, steps[0], "the module")
    for kind, key in steps[1:]:
        if isinstance(node, ast.ClassDef) and kind == "attr":
            node = _assigned_value(node.body, key, f"class {node.name}")
        elif isinstance(node, ast.Dict) and kind == "key":
            matches = [v for k, v in zip(node.keys, node.values) if k is not None and _is_literal(k) and ast.literal_eval(k) == key]
            if len(matches) != 1:
                raise EditRefused(f"{qualname}: the key {key!r} is not written in the dict literal at line {node.lineno}")
            node = matches[0]
        elif isinstance(node, (ast.List, ast.Tuple)) and kind == "key" and isinstance(key, int):
            if any(isinstance(e, ast.Starred) for e in node.elts) or not -len(node.elts) <= key < len(node.elts):
                raise EditRefused(f"{qualname}: no item {key} written in the list at line {node.lineno}")
            node = node.elts[key]
        else:
            what = "a class" if isinstance(node, ast.ClassDef) else f"`{ast.unparse(node)[:40]}`"
            raise EditRefused(f"{qualname}: its value at line {node.lineno} is {what}, not a literal written in the source; edit it in your editor")
    if isinstance(node, ast.ClassDef) or not _is_literal(node):
        text = "a class" if isinstance(node, ast.ClassDef) else f"`{ast.unparse(node)[:40]}`"
        raise EditRefused(f"{qualname} is computed ({text}, line {node.lineno}), not a literal in the source; edit it in your editor")
    # Columns are UTF-8 byte offsets: cut the bytes of the literal's lines.
    lines = source.encode("utf-8").splitlines(keepends=True)
    first, last = node.lineno - 1, node.end_lineno - 1
    head = b"".join(lines[:first]) + lines[first][: node.col_offset]
    tail = lines[last][node.end_col_offset :] + b"".join(lines[last + 1 :])
    text = new_text.strip()
    if isinstance(new_node, ast.Tuple) and not text.startswith("("):
        text = f"({text})"
    result = (head + text.encode("utf-8") + tail).decode("utf-8")
    # The edit must read back as the value asked for, at the same place.
    try:
        check = edit_check(result, steps)
    except (SyntaxError, EditRefused) as e:
        raise EditRefused(f"{qualname}: the edited source would not parse or read back ({e}); nothing was written") from None
    if check != new_value:
        raise EditRefused(f"{qualname}: the edited source reads back {check!r}, not {new_value!r}; nothing was written")
    return result, node.lineno


def edit_check(source, steps):
    """The literal value at ``steps`` (see ``_path_steps``) in ``source``."""
    tree = ast.parse(source)
    node = _assigned_value(tree.body, steps[0], "the module")
    for kind, key in steps[1:]:
        if isinstance(node, ast.ClassDef):
            node = _assigned_value(node.body, key, f"class {node.name}")
        elif isinstance(node, ast.Dict):
            node = next(v for k, v in zip(node.keys, node.values) if k is not None and _is_literal(k) and ast.literal_eval(k) == key)
        else:
            node = node.elts[key]
    return ast.literal_eval(node)


_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxfrozenset = 8
_repr.maxdict = 4
_repr.maxlevel = 3


def short_repr(obj, limit=80):
    """A repr of at most ``limit`` characters that never raises."""
    if isinstance(obj, type):
        return f"<class {obj.__qualname__}>"
    if isinstance(obj, (types.FunctionType, types.MethodType)):
        return f"<function {obj.__qualname__}>"
    try:
        text = _repr.repr(obj)
    except Exception as exc:  # noqa: BLE001 - a user __repr__ may raise anything
        text = f"<{type(obj).__qualname__} (repr raised {type(exc).__name__})>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def data_diff(old, new, limit=4):
    """Where two plain-data values differ: ``['pistol']['damage']: 10 → 14; ...``."""
    out = []

    def walk(a, b, path):
        if len(out) > limit:
            return
        if type(a) is type(b) and isinstance(a, dict):
            for k in list(a) + [k for k in b if k not in a]:
                if k not in b:
                    out.append(f"{path}[{k!r}] removed")
                elif k not in a:
                    out.append(f"{path}[{k!r}] added: {short_repr(b[k])}")
                else:
                    walk(a[k], b[k], f"{path}[{k!r}]")
        elif type(a) is type(b) and isinstance(a, (list, tuple)) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{path}[{i}]")
        else:
            try:
                same = type(a) is type(b) and bool(a == b)
            except Exception:  # noqa: BLE001 - a user __eq__ may raise
                same = False
            if not same:
                out.append(f"{path or 'value'}: {short_repr(a)} → {short_repr(b)}")

    walk(old, new, "")
    text = "; ".join(out[:limit])
    return text + ("; …" if len(out) > limit else "")


def _line_of(ins, current):
    """The source line of an instruction (3.13: line_number; 3.11/3.12: positions; older:
    starts_line opens a line), given the line the walk is on."""
    line = getattr(ins, "line_number", None)
    if line is None:
        positions = getattr(ins, "positions", None)
        line = getattr(positions, "lineno", None) if positions is not None else None
    if line is None and isinstance(getattr(ins, "starts_line", None), int):
        line = ins.starts_line
    return line if line is not None else current


def _code_objects(namespace, seen):
    """The code of every function and method reachable from a module's namespace (classes
    followed, nested code through co_consts)."""
    stack = []
    for value in list(namespace.values()):
        stack.append(value)
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, (staticmethod, classmethod)):
            stack.append(obj.__func__)
        elif isinstance(obj, property):
            stack.extend(f for f in (obj.fget, obj.fset, obj.fdel) if f is not None)
        elif isinstance(obj, types.FunctionType):
            stack.append(obj.__code__)
            wrapped = getattr(obj, "__wrapped__", None)
            if wrapped is not None:
                stack.append(wrapped)
        elif isinstance(obj, types.CodeType):
            yield obj
            stack.extend(c for c in obj.co_consts if isinstance(c, types.CodeType))
        elif isinstance(obj, type) and obj.__module__ == namespace.get("__name__"):
            stack.extend(vars(obj).values())


def users_of(module_name, names, tracked, new_namespace, moved=None, fresh=()):
    """Where the tracked modules' code still reads names a reload removes from ``module_name``:
    ``{name: ["players.py:42 reads balance.XP_PER_KILL", ...]}``. Attribute reads on a global
    bound to the module, and the module's own functions (in ``new_namespace``: its new code)
    reading the name as a global. ``moved`` (an incremental dry run's moved statements, see
    ``shift_namespace``) gives the module's own code that is still on its old lines its new
    ones; the names in ``fresh`` were bound by statements that ran, already on their new lines."""
    import dis

    names = set(names)
    found = {n: [] for n in names}
    target = sys.modules.get(module_name)
    for other in tracked:
        mod = sys.modules.get(other)
        own = other == module_name
        ns = new_namespace if own else getattr(mod, "__dict__", None)
        if not isinstance(ns, dict):
            continue
        aliases = {k for k, v in ns.items() if v is target and target is not None}
        if not aliases and not own:
            continue
        where = os.path.basename(getattr(mod, "__file__", None) or other)
        if own and moved:
            shift, seen, fresh = _line_shift(getattr(mod, "__file__", None), moved), set(), set(fresh)
            codes = [
                (code, 0 if k in fresh else shift(code))
                for k, v in ns.items()
                for code in _code_objects({k: v, "__name__": ns.get("__name__")}, seen)
            ]
        else:
            codes = [(code, 0) for code in _code_objects(ns, set())]
        for code, delta in codes:
            prev, raw = None, code.co_firstlineno
            for ins in dis.get_instructions(code):
                raw = _line_of(ins, raw)
                line = raw + delta if raw is not None else raw
                if (
                    ins.opname in ("LOAD_ATTR", "LOAD_METHOD")
                    and ins.argval in names
                    and prev is not None
                    and prev.opname in ("LOAD_GLOBAL", "LOAD_NAME")
                    and prev.argval in aliases
                ):
                    found[ins.argval].append(f"{where}:{line} reads {prev.argval}.{ins.argval}")
                elif own and ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval in names:
                    found[ins.argval].append(f"{where}:{line} uses {ins.argval}")
                prev = ins
    return {n: sorted(set(v)) for n, v in found.items() if v}


REGISTRY_MAX = 2_000


# What a registry can be: a mapping (by name), a list, a set.
_REGISTRY_TYPES = (collections.abc.MutableMapping, list, collections.abc.MutableSet)


def _may_register(cls):
    """Whether making ``cls`` can have run code that registers it: a metaclass, or a base's
    ``__init_subclass__`` (class decorators are the caller's to know)."""
    if type(cls) is not type:
        return True
    return any("__init_subclass__" in vars(b) for b in cls.__mro__[1:] if b is not object)


def rebind_registries(pairs, tracked, reloaded, undecorated=False):
    """After a reload: ``pairs`` are (throwaway, live) classes — the class statements' new
    classes and the live ones patched in their place. Registries that picked up a throwaway
    (a metaclass, ``__init_subclass__`` or a class decorator registering every class) are
    pointed at the live class. No heap walk: only the places such machinery keeps registries
    are looked into, one level deep — the attributes of the classes of other modules in the
    metaclass's and the bases' MROs, and the globals of their modules and of the tracked
    modules. Returns where something was rebound, as ``module.NAME['key']`` labels. With
    ``undecorated`` (no class decorator ran), only classes that ``_may_register`` are looked for:
    a plain class statement registers its class nowhere, and the search reads every tracked
    module's globals."""
    if undecorated:
        pairs = [(t, live) for t, live in pairs if _may_register(t)]
    swap = {id(t): live for t, live in pairs}
    if not swap:
        return []
    # The reloaded module's own registries (its globals, its classes' attributes) are its data,
    # already merged: the re-run body registered into the new namespace's objects, and the live
    # ones, kept by the data rule (a class fingerprints by name), hold the live classes.
    places, seen, modules = [], set(), set(tracked) - {reloaded}

    def add(label, namespace):
        if id(namespace) not in seen:
            seen.add(id(namespace))
            places.append((label, namespace))

    for _, live in pairs:
        for k in type(live).__mro__ + live.__mro__[1:]:
            if k is object or k is type or k.__module__ == reloaded:
                continue
            add(f"{k.__module__}.{k.__qualname__}", vars(k))
            modules.add(k.__module__)
    for name in sorted(modules):
        module = sys.modules.get(name)
        namespace = getattr(module, "__dict__", None)
        if isinstance(namespace, dict):
            add(name, namespace)

    done = []
    for label, namespace in places:
        for key, value in list(namespace.items()):
            if not isinstance(key, str) or not isinstance(value, _REGISTRY_TYPES):
                continue
            # A registry is small; a big table of game data is not one, and walking it on
            # every reload would make reloads grow with the program's data.
            try:
                if len(value) > REGISTRY_MAX:
                    continue
            except Exception:  # noqa: BLE001 - a user __len__ may raise anything
                continue
            where = f"{label}.{key}"
            try:
                if isinstance(value, collections.abc.MutableMapping):
                    for k2, v2 in list(value.items()):
                        if id(v2) in swap:
                            value[k2] = swap[id(v2)]
                            done.append(f"{where}[{k2!r}]")
                        if id(k2) in swap:
                            value[swap[id(k2)]] = value.pop(k2)
                            done.append(f"{where} key {k2.__qualname__}")
                elif isinstance(value, list):
                    for i, v2 in enumerate(value):
                        if id(v2) in swap:
                            value[i] = swap[id(v2)]
                            done.append(f"{where}[{i}]")
                elif isinstance(value, collections.abc.MutableSet):
                    for v2 in [v for v in value if id(v) in swap]:
                        value.discard(v2)
                        value.add(swap[id(v2)])
                        done.append(f"{where} member {v2.__qualname__}")
            except Exception:  # noqa: BLE001 - a registry that refuses stays as it is
                continue
    return done


def _nested_by_qualname(code, qualname):
    """The code objects nested in a function's ``code`` by the ``__qualname__`` a function made
    from them gets (``make.<locals>.handle``, ``make.<locals>.K.method``); names that more than
    one nested code shares (two lambdas) are left out: which is which cannot be told."""
    import inspect

    found, doubled = {}, set()

    def walk(code, qualname, in_function):
        for c in code.co_consts:
            if not isinstance(c, types.CodeType):
                continue
            child = getattr(c, "co_qualname", None)
            if child is None:
                child = f"{qualname}.<locals>.{c.co_name}" if in_function else f"{qualname}.{c.co_name}"
            if child in found:
                doubled.add(child)
            found[child] = c
            walk(c, child, bool(c.co_flags & inspect.CO_NEWLOCALS))

    walk(code, qualname, True)
    for name in doubled:
        del found[name]
    return found


def update_closures(functions):
    """``closures=True``: every function object (found by a scan of the objects the garbage
    collector tracks) made from the nested code of one of the patched ``functions`` — same file,
    same ``__qualname__``, same free variables, other code (from any earlier version) — gets the
    patched function's current nested code. Returns (updated, scanned)."""
    import gc

    wanted = {}
    for f in functions:
        code = f.__code__
        for name, nested in _nested_by_qualname(code, f.__qualname__).items():
            wanted[(code.co_filename, name)] = nested
    if not wanted:
        return 0, 0
    updated = 0
    objects = gc.get_objects()
    function = types.FunctionType
    for obj in objects:
        if type(obj) is not function:
            continue
        code = obj.__code__
        nested = wanted.get((code.co_filename, obj.__qualname__))
        if nested is not None and nested is not code and nested.co_freevars == code.co_freevars:
            obj.__code__ = nested
            updated += 1
    return updated, len(objects)


# --- Incremental reload (engine/incremental) ------------------------------------------------


def future_flags(texts):
    """The compiler flags of a module's ``from __future__ import`` statements (``texts``): each
    statement compiled on its own must compile as it does in the module."""
    import __future__

    flags = 0
    for text in texts:
        for node in ast.parse(text).body:
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                for alias in node.names:
                    feature = getattr(__future__, alias.name, None)
                    if feature is not None:
                        flags |= feature.compiler_flag
    return flags


def _shift_code(code, delta):
    consts = tuple(
        _shift_code(c, delta) if isinstance(c, types.CodeType) else c for c in code.co_consts
    )
    return code.replace(co_firstlineno=code.co_firstlineno + delta, co_consts=consts)


def _line_shift(filename, moved):
    """``code -> lines to move it by``: code of ``filename`` whose first line lies in one of the
    ``moved`` statements' old lines ``(first, last, delta)`` (sorted) moves by its delta."""
    import bisect

    starts = [m[0] for m in moved]
    real = os.path.realpath(filename) if filename else None
    same_file = {filename: True}

    def ours(name):
        if name not in same_file:
            same_file[name] = real is not None and os.path.realpath(name) == real
        return same_file[name]

    def delta(code):
        if not moved or not ours(code.co_filename):
            return 0
        i = bisect.bisect_right(starts, code.co_firstlineno) - 1
        return moved[i][2] if i >= 0 and code.co_firstlineno <= moved[i][1] else 0

    delta.ours = ours
    return delta


def shift_namespace(namespace, module_name, filename, moved):
    """Moves the line numbers of the code that unchanged statements below an edit made (lines
    were added or removed above them), where a whole reload would give it its new lines: the
    module's functions (what they wrap, and functions in their closure cells), and its classes'
    methods, properties, class and static methods and nested classes. Code is picked by its
    file and first line (``_line_shift``), so a wrapper from another statement or file, or a
    dataclass's generated methods, stay. Data (a lambda in a dict) keeps its code, as a whole
    reload keeps it. Everything is worked out before anything is set."""
    delta = _line_shift(filename, moved)
    seen = set()
    codes = []  # (function, new code)
    firsts = []  # (class, new __firstlineno__)

    def function(f):
        for _ in range(16):
            if not isinstance(f, types.FunctionType) or id(f) in seen:
                return
            seen.add(id(f))
            d = delta(f.__code__)
            if d:
                codes.append((f, _shift_code(f.__code__, d)))
            if delta.ours(f.__code__.co_filename):
                for cell in f.__closure__ or ():
                    try:
                        inner = cell.cell_contents
                    except ValueError:
                        continue
                    if isinstance(inner, types.FunctionType):
                        function(inner)
            f = getattr(f, "__wrapped__", None)

    def member(v):
        if isinstance(v, (staticmethod, classmethod)):
            function(v.__func__)
        elif isinstance(v, property):
            for acc in (v.fget, v.fset, v.fdel):
                function(acc)
        elif isinstance(v, type):
            klass(v)
        elif isinstance(v, types.FunctionType):
            function(v)
        elif callable(v):
            function(getattr(v, "__wrapped__", None))

    def klass(c):
        if id(c) in seen or getattr(c, "__module__", None) != module_name:
            return
        seen.add(id(c))
        first = c.__dict__.get("__firstlineno__")
        if isinstance(first, int) and moved:
            i = [m for m in moved if m[0] <= first <= m[1]]
            if i:
                firsts.append((c, first + i[0][2]))
        for v in list(c.__dict__.values()):
            member(v)

    for v in list(namespace.values()):
        member(v)
    undo = ([(f, f.__code__) for f, _ in codes], [(c, c.__dict__["__firstlineno__"]) for c, _ in firsts])
    for f, code in codes:
        f.__code__ = code
    for c, first in firsts:
        type.__setattr__(c, "__firstlineno__", first)
    return undo


def unshift(undo):
    """Puts back what ``shift_namespace`` moved (the reload did not finish)."""
    functions, classes = undo
    for f, code in functions:
        f.__code__ = code
    for c, first in classes:
        type.__setattr__(c, "__firstlineno__", first)


def compile_at(text, path, line, flags):
    """Compiles ``text`` (statements of a module, with their own blank lines between them) as
    the code they are when the text starts at ``line`` of ``path``: compiled from line 1, then
    every code object's first line moved (line tables count from it); a SyntaxError names the
    file's line. (Not through ``ast``: converting a tree to Python objects is not safe beside
    another thread doing the same on CPython 3.11.)"""
    try:
        code = compile(text, path, "exec", flags, dont_inherit=True)
    except SyntaxError as e:
        for attr in ("lineno", "end_lineno"):
            if isinstance(getattr(e, attr, None), int):
                setattr(e, attr, getattr(e, attr) + line - 1)
        raise
    return _shift_code(code, line - 1) if line > 1 else code


def same(f):
    """A decorator that changes nothing (see reload/incremental.rs, SAME)."""
    return f


def raw_function(obj, name):
    """The plain function whose code is named ``name`` that a decorated definition's value is
    or wraps (along ``__wrapped__``; a ``functools.wraps`` wrapper copies the name, not its
    code's); None when there is none."""
    for _ in range(16):
        if isinstance(obj, types.FunctionType) and obj.__code__.co_name == name:
            return obj
        obj = getattr(obj, "__wrapped__", None)
        if obj is None:
            return None
    return None
