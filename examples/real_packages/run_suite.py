"""A real package's own test suite, run after swapscope reloaded every module of the package.

Run inside swapscope, with the package's source folder watched (so its modules are tracked):

    swapscope --headless --watch SRC examples/real_packages/run_suite.py PACKAGES TESTS [--reload]

PACKAGES is one top-level package or several, comma-separated (attrs ships `attr,attrs`).
Imports every module of each package, reloads each in place with `swapscope.reload` when `--reload` is
given (files unchanged), then runs pytest on TESTS in the same process. Prints one JSON line:
the reload outcomes (and every reload that was not applied) and pytest's counts.
See run.sh beside this file for the whole comparison.
"""

import importlib
import json
import pkgutil
import sys

import pytest
import swapscope


class Counts:
    """pytest plugin: the summary counts."""

    def __init__(self):
        self.stats = {}

    def pytest_terminal_summary(self, terminalreporter):
        for key in ("passed", "failed", "error", "skipped", "xfailed", "xpassed"):
            self.stats[key] = len(terminalreporter.stats.get(key, []))


def main():
    packages, tests = sys.argv[1].split(","), sys.argv[2]
    reload = "--reload" in sys.argv[3:]
    for package in packages:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, package + "."):
            try:
                importlib.import_module(info.name)
            except Exception as exc:  # noqa: BLE001 - optional dependencies of some modules
                print(f"not imported: {info.name}: {exc}", file=sys.stderr)
    outcomes, not_applied = {}, []
    if reload:
        ours = lambda n: any(n == p or n.startswith(p + ".") for p in packages)  # noqa: E731
        names = sorted(n for n in sys.modules if ours(n))
        for name in names:
            try:
                outcome = swapscope.reload(name)["outcome"]
            except (KeyError, ValueError) as exc:
                outcome = "refused"
                not_applied.append(f"{name}: {exc}")
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if outcome not in ("applied", "refused"):
                not_applied.append(f"{name}: {outcome}")
    counts = Counts()
    code = pytest.main([tests, "-q", "-p", "no:cacheprovider"], plugins=[counts])
    print(json.dumps({"packages": packages, "reloaded": reload, "reloads": outcomes,
                      "not_applied": not_applied, "pytest": counts.stats,
                      "exit": int(code)}))


if __name__ == "__main__":
    main()
