"""python -m swapscope [--watch DIR] [--auto] SCRIPT [ARGS]: runs SCRIPT like ``python SCRIPT
ARGS`` (same sys.argv, sys.path[0], __main__ and exit code), with swapscope tracking its modules
and an agent waiting for ``swapscope attach``."""

import os
import sys

USAGE = """usage: python -m swapscope [--watch DIR]... [--auto] SCRIPT [ARGS...]

Run a Python script with swapscope's in-place reload; connect the window with `swapscope attach`.

options:
  --watch DIR  also track and watch this folder (repeatable); the script's folder always is
  --auto       reload a tracked module as soon as its file is saved
  -h, --help   show this help and exit

Everything after SCRIPT is the script's own (sys.argv[1:]), exactly as given."""


def _fail(message):
    print(f"python -m swapscope: {message}\n\n{USAGE}", file=sys.stderr)
    sys.exit(2)


def parse(argv):
    """(watch, auto, script, args): options only before SCRIPT, like python's own."""
    watch, auto, i = [], False, 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            print(USAGE)
            sys.exit(0)
        elif arg == "--auto":
            auto = True
        elif arg == "--watch" or arg.startswith("--watch="):
            if arg == "--watch":
                i += 1
                if i == len(argv):
                    _fail("--watch needs a folder")
                folder = argv[i]
            else:
                folder = arg.split("=", 1)[1]
            if not os.path.isdir(folder):
                _fail(f"cannot watch {folder}: not a folder")
            watch.append(folder)
        elif arg == "--":
            i += 1
            break
        elif arg.startswith("-"):
            _fail(f"unknown option {arg}")
        else:
            break
        i += 1
    if i == len(argv):
        _fail("no script given")
    return watch, auto, argv[i], argv[i + 1 :]


def main(argv=None):
    watch, auto, script, args = parse(sys.argv[1:] if argv is None else argv)
    if not os.path.isfile(script):
        _fail(f"cannot run {script}: no such file")
    # Like `python SCRIPT`: the script's folder, not the current one, comes first on sys.path
    # (unless python was told not to add it: -P, PYTHONSAFEPATH).
    if not getattr(sys.flags, "safe_path", False):
        sys.path[0] = os.path.dirname(os.path.realpath(script))
    from swapscope import _native

    return _native._run(script, args, watch, auto)


if __name__ == "__main__":
    sys.exit(main())
