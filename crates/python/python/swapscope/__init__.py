"""swapscope: in-place hot reload for Python, with a report of every swap.

Attach mode: this package runs swapscope's engine inside your own interpreter. Start a program
with ``python -m swapscope game.py [ARGS]``, or call ``swapscope.serve()`` from a program that
starts itself (a server, a notebook); then ``swapscope attach`` connects the window.

The API is the same as in the window's embedded mode: ``reload``, ``undo``, ``safepoint``,
``modules``, ``propagate``, ``on_reload`` / ``off_reload``.
"""

import atexit as _atexit
import os as _os
import sys as _sys

from swapscope import _native
from swapscope._native import (
    __version__,
    modules,
    off_reload,
    on_reload,
    propagate,
    reload,
    safepoint,
    undo,
)

__all__ = [
    "modules",
    "off_reload",
    "on_reload",
    "propagate",
    "reload",
    "safepoint",
    "serve",
    "undo",
]

_stop_registered = False


def _installed(path):
    """Whether a file belongs to the interpreter or its packages, not to the project."""
    path = _os.path.realpath(path)
    for prefix in {_sys.prefix, _sys.base_prefix, _sys.exec_prefix}:
        if path.startswith(_os.path.realpath(prefix) + _os.sep):
            return True
    return "site-packages" in path.split(_os.sep)


def _program_file(caller):
    """The file whose folder is the project: the one calling serve() (a server's app module), else
    __main__'s, unless that is installed code (a multiprocessing initializer, `gunicorn`), else a
    name in the current folder."""
    candidates = [caller.f_code.co_filename if caller is not None else None]
    candidates.append(getattr(_sys.modules.get("__main__"), "__file__", None))
    for candidate in candidates:
        if candidate and _os.path.isfile(candidate) and not _installed(candidate):
            return _os.path.abspath(candidate)
    return _os.path.join(_os.getcwd(), "<interactive>")


def serve(*, watch=(), auto=False):
    """serve(*, watch=(), auto=False) -> int

    Starts swapscope in this process, for a program that starts itself: modules under the folder
    of the file calling it (else of ``__main__``, else the current folder; never installed code)
    and each ``watch`` folder are tracked and watched,
    and an agent on a loopback port, published in a file only you can read, waits for
    ``swapscope attach``. Returns the port. Calling it again in the same process does nothing
    more; a forked child (a worker of a server or a multiprocessing pool) that calls it gets its
    own agent. With ``auto=True`` a save reloads its module at once.
    """
    global _stop_registered
    if isinstance(watch, (str, bytes, _os.PathLike)):
        watch = [watch]
    folders = [_os.fspath(w) for w in watch]
    for folder in folders:
        if not _os.path.isdir(folder):
            raise ValueError(f"serve(watch=...): {folder!r} is not a folder")
    port = _native._serve(_program_file(_sys._getframe(1)), folders, bool(auto))
    if not _stop_registered:
        _atexit.register(_native._stop)
        _stop_registered = True
    return port
