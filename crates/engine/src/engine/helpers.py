"""Python-side helpers of swapscope's reload engine.

Loaded once into the module ``_swapscope_engine``. Only what Python says better than Rust lives
here: the import hook's finder (its loader is in ``loader.py``), exception descriptions, source
decoding, statement texts and short reprs.
"""

import ast
import os
import reprlib
import sys
import traceback
import types
from importlib.machinery import SourceFileLoader
from importlib.util import decode_source as _decode_source

from _swapscope_loader import TrackingLoader


class SwapscopeFinder:
    """Front of ``sys.meta_path``: asks the finders behind it, and hands modules whose source
    lies under a watched root to ``TrackingLoader``."""

    def __init__(self, record):
        self.roots = []
        self._record = record

    def tracks(self, path):
        if not path or not path.endswith((".py", ".pyw")):
            return False
        real = os.path.realpath(path)
        # Installed packages are never project code, even in a watched folder (a .venv inside
        # the project): tracking them costs imports and they are not the user's to reload.
        parts = real.split(os.sep)
        if "site-packages" in parts or "dist-packages" in parts:
            return False
        return any(real == r or real.startswith(r + os.sep) for r in self.roots)

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
