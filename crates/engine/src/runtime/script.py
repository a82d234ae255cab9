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


def run(path, argv, fresh_main=False):
    sys.argv[:] = argv
    if fresh_main:
        # `python -m swapscope`: __main__ is swapscope's own module; the script gets a new one,
        # as `python SCRIPT` would give it (the old one stays referenced, so its globals live).
        import types
        import builtins

        run.replaced_main = sys.modules["__main__"]
        fresh = types.ModuleType("__main__")
        fresh.__builtins__ = builtins
        sys.modules["__main__"] = fresh
    main = sys.modules["__main__"]
    main.__dict__.update(__file__=path, __cached__=None, __package__=None, __spec__=None)
    import signal
    try:
        # The embedded interpreter starts without signal handlers; like python, Ctrl+C raises
        # KeyboardInterrupt in the script. Only the thread that started the interpreter may set
        # one (`threading.main_thread()` is not that test: it is whichever thread imported
        # threading first).
        signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:
        pass  # the script runs on a thread of its own (the window's case)
    if isinstance(threading.current_thread(), threading._DummyThread):
        # A thread started outside Python counts as a dummy (daemon) thread to `threading`;
        # threads the script starts inherit that flag, so make it a normal one: they are then
        # waited for at exit.
        threading.current_thread()._daemonic = False
    try:
        with open(path, "rb") as f:
            source = f.read()
        code = compile(source, path, "exec", dont_inherit=True)
        exec(code, main.__dict__)
        status = 0
    except SystemExit as exc:
        status = _exit_code(exc)
    except BaseException:  # noqa: BLE001 - like the interpreter: print and exit 1
        kind, exc, tb = sys.exc_info()
        # Start the traceback at the script, as python does, not at this runner.
        if tb is not None and tb.tb_frame.f_code is run.__code__:
            tb = tb.tb_next
        sys.excepthook(kind, exc.with_traceback(tb), tb)
        # An uncaught KeyboardInterrupt ends python with 130 (128 + SIGINT), like a shell sees.
        status = 130 if issubclass(kind, KeyboardInterrupt) else 1
    # Like interpreter shutdown: wait for non-daemon threads, then run atexit handlers.
    me = threading.current_thread()
    for t in threading.enumerate():
        # Dummy threads are other foreign (Rust) threads; they cannot be joined.
        dummy = isinstance(t, threading._DummyThread)
        if t is not me and not t.daemon and not dummy and t is not threading.main_thread():
            t.join()
    import atexit
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    return status
