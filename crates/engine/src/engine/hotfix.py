"""Runs a hotfix snippet (the window's hotfix console) in a module's namespace.

Loaded once as ``_swapscope_hotfix``. The Rust side (``hotfix.rs``) snapshots the namespace,
calls ``run`` and works out what changed; here is only what Python says better: compiling so the
last line's value is shown (as a Python console does), capturing the snippet's own output, and
describing its exception with the traceback cut to the snippet's frames.
"""

import ast
import contextlib
import io
import linecache
import traceback

# The longest value repr and output kept: a snippet that prints a million lines must not make a
# report (and a message over the socket) of that size.
VALUE_LIMIT = 10_000
OUTPUT_LIMIT = 100_000


class _Output(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` while the snippet runs: keeps the first ``OUTPUT_LIMIT``
    characters, counts the rest."""

    def __init__(self):
        super().__init__()
        self._parts = []
        self._size = 0
        self._dropped = 0

    def writable(self):
        return True

    def isatty(self):
        return False

    @property
    def encoding(self):
        return "utf-8"

    def write(self, text):
        text = str(text)
        room = max(OUTPUT_LIMIT - self._size, 0)
        kept = text[:room]
        if kept:
            self._parts.append(kept)
            self._size += len(kept)
        self._dropped += len(text) - len(kept)
        return len(text)

    def text(self):
        out = "".join(self._parts)
        if self._dropped:
            out += f"\n... {self._dropped} more characters of output not kept\n"
        return out


def _compile(code, filename):
    """The snippet as (statements, last expression or None): ``DAMAGE = 14; DAMAGE`` runs the
    assignment, then shows 14."""
    tree = ast.parse(code, filename, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    body = compile(tree, filename, "exec")
    expr = compile(last, filename, "eval") if last is not None else None
    return body, expr


def _line(code, lineno):
    lines = code.splitlines()
    if lineno and 0 < lineno <= len(lines):
        return lines[lineno - 1]
    return None


def _syntax_error(e, filename, code):
    lineno = getattr(e, "lineno", None)
    text = getattr(e, "text", None) or _line(code, lineno)
    return {
        "file": filename,
        "line": lineno,
        "col": getattr(e, "offset", None),
        "message": f"{type(e).__name__}: {getattr(e, 'msg', None) or e}",
        "text": text.rstrip("\n") if text else None,
        "traceback": "".join(traceback.format_exception_only(type(e), e)),
    }


def _raised(e, filename, code):
    # The frames above the snippet's first are this helper's: cut them.
    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    lineno = None
    t = tb
    while t is not None:
        if t.tb_frame.f_code.co_filename == filename:
            lineno = t.tb_lineno
        t = t.tb_next
    message = "".join(traceback.format_exception_only(type(e), e)).strip()
    return {
        "file": filename,
        "line": lineno,
        "col": None,
        "message": message,
        "text": _line(code, lineno),
        "traceback": "".join(traceback.format_exception(type(e), e, tb)),
    }


def _repr(value):
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - a user __repr__ may raise anything
        return f"<{type(value).__qualname__} (repr raised {type(exc).__name__}: {exc})>"
    if len(text) > VALUE_LIMIT:
        text = text[:VALUE_LIMIT] + f"... ({len(text) - VALUE_LIMIT} more characters)"
    return text


def run(code, namespace, filename):
    """Runs ``code`` in ``namespace``; never raises. Returns a dict: ``value`` (repr of the last
    line's value, or None), ``output``, ``error`` (an error dict or None), ``compiled`` (False for
    a syntax error: nothing ran), ``interrupted`` (it ended in KeyboardInterrupt)."""
    # Registered so tracebacks, and functions the snippet defines, show its lines later too.
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    result = {
        "value": None,
        "output": "",
        "error": None,
        "compiled": True,
        "interrupted": False,
    }
    try:
        body, expr = _compile(code, filename)
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError) as e:
        # ValueError: a null byte; the others: a pathological snippet.
        result["error"] = _syntax_error(e, filename, code)
        result["compiled"] = False
        return result
    out = _Output()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            exec(body, namespace)
            if expr is not None:
                value = eval(expr, namespace)
                if value is not None:
                    result["value"] = _repr(value)
        except BaseException as e:  # noqa: BLE001 - SystemExit and Ctrl+C are reported too
            result["error"] = _raised(e, filename, code)
            result["interrupted"] = isinstance(e, KeyboardInterrupt)
    result["output"] = out.text()
    return result


def patch_function(old, new):
    """Puts ``new``'s code into ``old`` (the module's own function, which the snippet redefined)
    so references held elsewhere (a bound callback, ``from m import f``) run the new code, as a
    reload does. False when that cannot be done plainly (closures): the new function stays bound.
    """
    if old.__closure__ or new.__closure__:
        return False
    if old.__code__.co_freevars != new.__code__.co_freevars:
        return False
    # Read first (3.14 evaluates annotations lazily: a NameError there), then assign: the code
    # is the only assignment that can refuse, and it goes first, so a refusal changes nothing.
    try:
        annotations = dict(new.__annotations__)
    except Exception:  # noqa: BLE001 - annotations may name anything
        annotations = None
    try:
        old.__code__ = new.__code__
    except (TypeError, ValueError):
        return False
    old.__defaults__ = new.__defaults__
    old.__kwdefaults__ = new.__kwdefaults__
    old.__doc__ = new.__doc__
    if annotations is not None:
        old.__annotations__ = annotations
    old.__dict__.update(new.__dict__)
    return True
