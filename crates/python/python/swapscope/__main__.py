"""python -m swapscope [--watch DIR] [--auto] SCRIPT [ARGS]: runs SCRIPT like ``python SCRIPT
ARGS`` (same sys.argv, sys.path[0], __main__ and exit code), with swapscope tracking its modules
and an agent waiting for ``swapscope attach``."""

import argparse
import os
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m swapscope",
        description="Run a Python script with swapscope's in-place reload; connect the window "
        "with `swapscope attach`.",
    )
    parser.add_argument(
        "--watch",
        action="append",
        default=[],
        metavar="DIR",
        help="also track and watch this folder (repeatable); the script's folder always is",
    )
    parser.add_argument(
        "--auto", action="store_true", help="reload a tracked module as soon as its file is saved"
    )
    parser.add_argument("script", metavar="SCRIPT", help="the Python script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments (sys.argv[1:])")
    ns = parser.parse_args(argv)
    if not os.path.isfile(ns.script):
        parser.error(f"cannot run {ns.script}: no such file")
    for folder in ns.watch:
        if not os.path.isdir(folder):
            parser.error(f"cannot watch {folder}: not a folder")
    # Like `python SCRIPT`: the script's folder, not the current one, comes first on sys.path.
    sys.path[0] = os.path.dirname(os.path.abspath(ns.script))
    from swapscope import _native

    return _native._run(ns.script, ns.args, ns.watch, ns.auto)


if __name__ == "__main__":
    sys.exit(main())
