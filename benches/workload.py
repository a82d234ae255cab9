"""Generated modules for swapscope's benchmarks: functions, classes with methods (some using
super()), classmethods/properties, and data (constants, a balance table of thousands of entries).

``source(lines, version)`` gives a module of about ``lines`` lines; each version changes every
function body and some constants, so a reload has real work to do.
"""


def source(lines, version, one=None):
    """``one`` = ``(kind, delta)`` changes one place of version ``version`` by ``delta``: ``"constant"``
    (``LIMIT``, which nothing reads), ``"function"`` (the body of ``func0``) or ``"method"`` (the
    body of ``Base3.value``): the one-line edits of the incremental-reload benchmarks."""
    kind, delta = one if one is not None else (None, 0)
    out = [f'"""Generated benchmark module, version {version}."""', "", "import functools", ""]
    # About 1/10 of the lines: data. A balance table with an entry per ~12 lines of module.
    entries = max(10, lines // 12)
    out.append(f"SCALE = {version}")
    out.append(f"LIMIT = {1000 + delta}" if kind == "constant" else f"LIMIT = {100 + version % 3}")
    out.append("BALANCE = {")
    for i in range(entries):
        out.append(f"    'item{i}': {{'cost': {i % 97}, 'weight': {i % 13 + version % 2}}},")
    out.append("}")
    out.append("")
    n = 0
    body = len(out)
    while body + n * 0 < lines:
        k = n
        if k % 4 == 3:
            out += [
                f"class Base{k}:",
                f"    RATE = {k % 7}",
                "    def __init__(self, x):",
                "        self.x = x",
                "    def value(self):",
                f"        return self.x * {version + 1} + self.RATE"
                + (f" + {delta}" if kind == "method" and n == 3 else ""),
                "",
                "",
                f"class Unit{k}(Base{k}):",
                "    @classmethod",
                "    def make(cls, x):",
                f"        return cls(x + {version})",
                "    @property",
                "    def doubled(self):",
                f"        return self.value() * 2 + {version}",
                "    def value(self):",
                f"        return super().value() + {version}",
                "",
                "",
            ]
        else:
            out += [
                f"def func{k}(a, b={k}):",
                f"    total = a + b + SCALE * {version + 1}"
                + (f" + {delta}" if kind == "function" and n == 0 else ""),
                "    for i in range(3):",
                "        total += i",
                "    return total",
                "",
                "",
            ]
        n += 1
        body = len(out)
    return "\n".join(out) + "\n"


def classes(module):
    """The classes of a generated module, to make live instances of."""
    return [v for k, v in vars(module).items() if k.startswith("Unit")]
