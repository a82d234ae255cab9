"""Runs the user's script as ``__main__``, the way ``python SCRIPT ARGS`` does."""

import sys
import threading


def _exit_code(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def run(path, argv):
    sys.argv[:] = argv
    main = sys.modules["__main__"]
    main.__dict__.update(__file__=path, __cached__=None, __package__=None, __spec__=None)
    try:
        with open(path, "rb") as f:
            source = f.read()
        code = compile(source, path, "exec", dont_inherit=True)
        exec(code, main.__dict__)
        status = 0
    except SystemExit as exc:
        status = _exit_code(exc)
    except BaseException:  # noqa: BLE001 - like the interpreter: print and exit 1
        sys.excepthook(*sys.exc_info())
        status = 1
    # Like interpreter shutdown: wait for non-daemon threads, then run atexit handlers.
    me = threading.current_thread()
    for t in threading.enumerate():
        if t is not me and not t.daemon and t is not threading.main_thread():
            t.join()
    import atexit
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    return status
