"""Differential soak: incremental reload against whole reload, on the soak's edits.

Two copies of the soak's three modules (rendered by examples/soak/soak.py) run in one
interpreter: ``incrN_soak_*`` reloaded with ``swapscope.reload(m)``, ``fullN_soak_*`` with
``swapscope.reload(m, full=True)``. Each step draws an edit from the soak's catalogue (valid
edits, bursts, a syntax error, a raising body, a name gone, a closure changing shape, a new base
class) or pads a module with comments and constants (so unchanged definitions move), saves both
copies and reloads each changed module in both. Between steps the game changes its state the
same way in both: ticks, the closure counter, the live config, rebound data, class data.

Checked: tests/common/differential.py's records of the two reloads are equal (outcome, error,
reported changes, every name's value and identity), and so is the program's state (players,
closure cells, what functions return). After a step that differs both copies are imported
afresh (generation N+1), so each failing step shown is a difference of its own, not an echo.
No threads, no timing: a run depends only on --seed. Exits 1 if the modes differed.

    cargo build
    target/debug/swapscope --headless examples/soak/differential.py --edits 2000 --seed 7
"""

import argparse
import collections
import difflib
import importlib
import json
import os
import random
import re
import sys
import tempfile
import time

import swapscope

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "common"))
import differential  # noqa: E402 - tests/common/differential.py
import soak  # noqa: E402

# Prefixes of equal length: reports cut reprs (which name the module) at a fixed width.
COPIES = ("full", "incr")
NAMES = re.compile(r"\b(" + "|".join(soak.MODULES) + r")\b")
PREFIXED = re.compile(r"\b(?:incr|full)\d+_(" + "|".join(soak.MODULES) + r")\b")
ATOMS = (str, bytes, int, float, complex, bool, type(None))


class Editor(soak.Driver):
    """The soak's edit catalogue (valid_edit, burst_edit, broken_edit) without its game:
    only the model and the random generator."""

    def __init__(self, seed):  # noqa: D107 - Driver's game, files and reports are not used
        self.rng = random.Random(seed)
        self.model = soak.Model()


def pad(text, padding):
    """Puts ``comments`` comment lines and ``constants`` constants before the top-level
    statement number ``at`` (picked as soak.finish picks): unchanged definitions below move,
    and constants come and go as statements."""
    at, comments, constants = padding
    lines = text.split("\n")
    starts = [i for i, t in enumerate(lines) if t and not t[0].isspace() and i > 0
              and not t.startswith('"""') and not lines[i - 1].startswith("@")]
    i = starts[at % len(starts)]
    extra = [f"# padding {k}" for k in range(comments)] + [f"PAD_{k} = {k}"
                                                          for k in range(constants)]
    return "\n".join(lines[:i] + extra + lines[i:])


def neutral(value):
    """``value`` (JSON-able) with the copies' module names back to the soak's."""
    return json.loads(PREFIXED.sub(r"\1", json.dumps(value)))


def compared(report, module, before):
    """differential.record(), without the identity of equal immutable values: a whole reload
    gives the module the new docstring object (dunders follow the source), an incremental one
    keeps the old, equal, string; no program can tell but by ``is``."""
    rec = differential.record(report, module, before)
    for k, digest in rec["namespace"].items():
        if isinstance(vars(module)[k], ATOMS):
            digest["same"] = None
    return neutral(rec)


def probe(mods):
    """The program's state and behaviour, beyond the namespace digests (which show neither
    instances' attributes nor closure cells)."""
    b, u, w = (mods[m] for m in soak.MODULES)

    def attempt(f):
        try:
            return repr(f())
        except Exception as e:  # noqa: BLE001 - a difference to report, not a crash
            return f"raised {type(e).__name__}: {e}"

    cells = getattr(getattr(b, "bump", None), "__closure__", None) or ()
    return neutral({
        "players": [[p.name, p.kills, p.level, p.dealt, repr(p.stats)] for p in w.players],
        "scores": w.scores,
        "bump cells": [attempt(lambda c=c: c.cell_contents) for c in cells],
        "damage_for(2)": attempt(lambda: b.damage_for(2)),
        "hero attack": attempt(lambda: u.Hero("probe").attack()),
        "Stats()": attempt(u.Stats),
        "Element": attempt(lambda: [(e.name, e.value) for e in u.Element]),
    })


class Soak:
    def __init__(self, args, folder):
        self.args = args
        self.rng = random.Random(args.seed ^ 0xD1FF)
        self.editor = Editor(args.seed)
        self.folder = folder
        self.padding = {m: (0, 0, 0) for m in soak.MODULES}
        self.texts = {m: soak.RENDER[m](self.editor.model)[0] for m in soak.MODULES}
        self.generation = self.steps = self.reloads = 0
        self.failures = []
        self.edits, self.modes, self.fallbacks, self.outcomes = (collections.Counter()
                                                                 for _ in range(4))
        sys.path.insert(0, folder)
        self.start(dict(self.texts))

    def start(self, texts):
        """Both copies imported afresh from ``texts``, as the next generation."""
        for mod in (m for mods in getattr(self, "mods", {}).values() for m in mods.values()):
            del sys.modules[mod.__name__]  # the last generation's: no longer run or reloaded
        self.generation += 1
        self.loaded = {c: dict(texts) for c in COPIES}  # what each copy last loaded
        for copy in COPIES:
            for m, text in texts.items():
                self.write(copy, m, text)
        self.mods = {c: {m: importlib.import_module(self.name(c, m)) for m in soak.MODULES}
                     for c in COPIES}
        if self.generation == 1:  # a temporary folder is tracked (outside site-packages)
            tracked = {t["name"] for t in swapscope.modules() if t["tracked"]}
            assert all(self.name(c, m) in tracked for c in COPIES for m in soak.MODULES)
        self.raised = {c: [] for c in COPIES}  # what the game's ticks raised

    def name(self, copy, module):
        return f"{copy}{self.generation}_{module}"

    def source(self, module):
        """The module's text as saved (padded), with the soak's module names."""
        return pad(self.texts[module], self.padding[module])

    def write(self, copy, module, text):
        text = NAMES.sub(lambda m: self.name(copy, m.group(1)), text)
        with open(os.path.join(self.folder, self.name(copy, module) + ".py"), "w") as f:
            f.write(text)

    def pick(self):
        """One step's edit: its name, the changed modules' texts and the outcome expected."""
        ed, rng = self.editor, self.editor.rng
        r = rng.random()
        if r < 0.1:
            # The module as the model says (a broken text before is mended), padded anew.
            module = rng.choice(soak.MODULES)
            self.padding[module] = (rng.randrange(8), rng.choice([0, 0, 1, 3]),
                                    rng.choice([0, 0, 1, 2]))
            return "padding", {module: soak.RENDER[module](ed.model)[0]}, "applied"
        if r < 0.75:
            name = rng.choice(soak.VALID)
            if name == "burst":  # several saves, one reload: the last text
                module, burst, expect = ed.burst_edit()
                return name, {module: burst.texts[-1]}, expect.outcome
            module, text, expect = ed.valid_edit(name)
            return name, {module: text}, expect.outcome
        if r < 0.85:
            # Several modules in one step: the world reads both others.
            changes = {}
            for name in rng.sample(sorted(soak.EDITS_OF), 3):
                module, text, _ = ed.valid_edit(name)
                changes[module] = text
            return "several", changes, "applied"
        name = rng.choice(soak.BROKEN)
        module, text, expect = ed.broken_edit(name)
        return name, {module: text}, expect.outcome

    def live(self, n):
        """The game's own changes, the same in both copies (one draw of the generator)."""
        seed = self.rng.random()
        for copy in COPIES:
            rng = random.Random(seed)
            b, u, w = (self.mods[copy][m] for m in soak.MODULES)
            for _ in range(rng.randint(0, 3)):
                try:
                    w.tick()
                except Exception as e:  # noqa: BLE001 - compared between the copies
                    self.raised[copy].append(f"{type(e).__name__}: {e}")
            if rng.random() < 0.3:
                b.bump()
            if rng.random() < 0.5:
                soak.mutate_config(rng, b.CONFIG, n)
            if rng.random() < 0.1:
                b.DAMAGE = rng.randint(100, 200)
            if rng.random() < 0.1:
                b.TABLE[rng.choice(["sword", "bow", "axe"])] = rng.randint(100, 200)
            if rng.random() < 0.05:
                u.Unit.KIND = f"elite{n}"
            if rng.random() < 0.05:
                w.LAST_STEP = n  # a global no source defines: live state that stays

    def reload(self, copy, module):
        """Reloads one copy of ``module``: the report and its record."""
        mod = self.mods[copy][module]
        before = differential.ids(mod)
        try:
            report = swapscope.reload(mod, full=copy == "full")
        except Exception as e:  # noqa: BLE001 - swapscope's own failure: a difference
            first = str(e).splitlines()[0] if str(e) else ""
            report = {"outcome": f"raised {type(e).__name__}: {first}", "mode": "?",
                      "mode_note": "", "changes": [], "error": None}
        if report["outcome"] == "applied":
            self.loaded[copy][module] = self.source(module)
        return report, compared(report, mod, before)

    def step(self, n):
        self.live(n)
        name, changes, expect = self.pick()
        self.edits[name] += 1
        self.texts.update(changes)
        before = dict(self.loaded["full"])
        problems = []
        for module in changes:
            for copy in COPIES:
                self.write(copy, module, self.source(module))
            (full, full_record), (inc, inc_record) = (self.reload(c, module) for c in COPIES)
            self.reloads += 1
            self.modes[inc["mode"]] += 1
            if inc["mode"] == "full":
                self.fallbacks[re.sub(r"line \d+", "line N", inc["mode_note"])] += 1
            self.outcomes[full["outcome"]] += 1
            found = differential.differences(full_record, inc_record)
            if full["outcome"] != expect:
                found.append(f"the whole reload ended {full['outcome']}, the edit expects "
                             f"{expect}")
            if found:
                problems.append((module, inc, found))
        whole, part = ({**probe(self.mods[c]), "ticks raised": self.raised[c]} for c in COPIES)
        found = [f"state[{k!r}]: full {whole[k]!r}, incremental {v!r}"
                 for k, v in part.items() if whole[k] != v]
        if found:
            problems.append(("(state after the step)", None, found))
        if problems:
            self.failures.append(n)
            self.show(n, name, problems, before)
            self.start(self.loaded["full"])

    def show(self, n, name, problems, before):
        print(f"differential soak: step {n} ({name}) differs", flush=True)
        for module, inc, found in problems:
            print(f"  {module}" + (f": incremental mode {inc['mode']} ({inc['mode_note']}), "
                                   f"outcome {inc['outcome']}" if inc else ""))
            for line in found[:12]:
                print(f"    {line}")
            if inc is not None:  # the edit (both copies start each step from one text)
                diff = difflib.unified_diff(before[module].splitlines(),
                                            self.source(module).splitlines(),
                                            "last loaded", "saved", n=1, lineterm="")
                print("\n".join(f"    | {d}" for d in list(diff)[:40]), flush=True)

    def run(self):
        for n in range(1, self.args.edits + 1):
            self.step(n)
            self.steps = n
            if len(self.failures) >= self.args.max_failures:
                print(f"differential soak: stopping after {len(self.failures)} failing steps")
                break
            if n % 500 == 0:
                print(f"differential soak: {n}/{self.args.edits} edits", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-failures", type=int, default=10,
                        help="stop after this many failing steps (default 10)")
    args = parser.parse_args()
    sys.dont_write_bytecode = True
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="swapscope-differential-") as folder:
        run = Soak(args, folder)
        run.run()
    print(f"differential soak: edits by kind {dict(sorted(run.edits.items()))}")
    if run.fallbacks:
        print("differential soak: incremental reloads that ran the whole module, by reason: "
              + "; ".join(f"{v}x {k}" for k, v in run.fallbacks.most_common()))
    print(f"differential soak: {run.steps} edits, {run.reloads} reloads "
          f"({run.modes.get('incremental', 0)} incremental, {run.modes.get('full', 0)} full "
          f"by mode), outcomes {dict(sorted(run.outcomes.items()))}, {len(run.failures)} "
          f"differences, seed {args.seed}, {time.monotonic() - start:.0f} s", flush=True)
    sys.exit(1 if run.failures else 0)


if __name__ == "__main__":
    main()
