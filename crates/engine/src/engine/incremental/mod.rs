//! Incremental reload (DESIGN.md "Incremental reload"): which top-level statements a reload
//! must run again, decided from the texts of the last load and the new source, before anything
//! runs. The reload pipeline (`reload/`) runs them in the module's dict and merges the names
//! they bound with the same merge a whole reload uses.
//!
//! A statement runs again when
//! - its text changed (or it is new);
//! - it reads, at module level, a *dirty* name: one that a statement running again may bind, or
//!   that a statement gone from the source bound; or a *tainted* name: a function or class whose
//!   text mentions a dirty or tainted name (calling it may give another result now);
//! - it binds data that a statement running again reads, when that data can be changed in place
//!   or the program changed it (`ITEMS.append(6)` edited: the list is made afresh first, as a
//!   whole reload would, or the old list would get a second item).
//!
//! Names gone with a statement are taken out of the namespace before anything runs, so a
//! statement that still reads one fails as it would in a whole reload. Everything here is a
//! superset: a statement run needlessly costs time, never correctness. What the analysis cannot
//! follow makes the whole module reload (`Err(reason)`).

pub mod scan;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use crate::engine::statements::{self, Match, Statement};
use scan::{Facts, StmtKind, facts};

/// What planning asks about the live module.
pub trait Live {
    /// For a name the module binds now: `Some(true)` for data no statement can change in place
    /// that still has the value the last load gave it; `Some(false)` for other data; `None` for
    /// functions, classes, modules, or a name not bound.
    fn stable_data(&mut self, name: &str) -> Option<bool>;
    /// Names whose live value is not the one the last load gave them (the program changed or
    /// rebound it, or deleted it), and classes whose class-level data changed: their statements
    /// run again, so the data rule decides them exactly as a whole reload would.
    fn diverged(&mut self) -> Vec<String>;
}

/// A changed decorated `def` whose decorators did not change: its function gets the new code
/// without the decorators running again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undecorated<'s> {
    /// Index into [`Plan::new`].
    pub index: usize,
    pub name: &'s str,
    /// Where the `def` line starts in the statement's text.
    pub def_offset: usize,
}

/// The statements an incremental reload runs, and what it does around them.
#[derive(Debug)]
pub struct Plan<'s> {
    /// The new source's statements.
    pub new: Vec<Statement<'s>>,
    /// Per new statement: whether it runs.
    pub run: Vec<bool>,
    /// Statements whose text changed (or that are new).
    pub changed: usize,
    /// Statements gone from the source (or changed: their old text is gone).
    pub removed: usize,
    pub undecorated: Vec<Undecorated<'s>>,
    /// Names taken out of the namespace before the statements run.
    pub delete: Vec<&'s str>,
    /// Unchanged definitions that moved: their name and by how many lines.
    pub shifted: Vec<(&'s str, isize)>,
    /// The texts of the module's `from __future__` imports (each statement compiles with them).
    pub future: Vec<&'s str>,
    /// The names the module's import statements bind. A statement compiles in their company:
    /// `CPython` 3.11+ compiles `module.f(x)` differently when `module` is imported in the same
    /// unit, and a statement's code must be the code the whole module would have.
    pub imported: Vec<&'s str>,
    /// The names the new statements bind, in the order of the statements (a definition's name
    /// first): the merge meets names in this order, as a whole reload meets them.
    pub bind_order: Vec<&'s str>,
    /// Text of the old statements gone and of the new statements that run, for the data
    /// rule's statement comparison.
    pub old_texts: String,
    pub new_texts: String,
}

impl Plan<'_> {
    /// How many statements run.
    pub fn runs(&self) -> usize {
        self.run.iter().filter(|r| **r).count()
    }
}

/// Plans an incremental reload from `old` (the last load's text) to `new`; `take` are the
/// top-level names a `take` override holds (their statements run, so the source's value exists
/// to be taken). `Err` says why the whole module must be reloaded instead.
pub fn plan<'s>(
    old_text: &'s str,
    new_text: &'s str,
    live: &mut impl Live,
    take: &[&str],
) -> Result<Plan<'s>, String> {
    let old = statements::split(old_text)
        .map_err(|e| format!("the last load's source could not be split into statements ({e})"))?;
    let new = statements::split(new_text)
        .map_err(|e| format!("the new source could not be split into statements ({e})"))?;
    let matches = statements::matched(&old, &new);
    let mut changed = vec![false; new.len()];
    let mut old_of: Vec<Option<usize>> = vec![None; new.len()];
    let mut removed: Vec<usize> = Vec::new();
    for m in &matches {
        match *m {
            Match::Unchanged { old, new } => old_of[new] = Some(old),
            Match::New { new } => changed[new] = true,
            Match::Removed { old } => removed.push(old),
            Match::Moved { new: moved, .. } => {
                return Err(format!(
                    "statements changed order (line {}): they would run in a new order",
                    new[moved].first_line
                ));
            }
        }
    }
    for (j, s) in new.iter().enumerate() {
        if changed[j] && s.shares_line {
            return Err(format!(
                "line {}: a changed statement shares its line with another (`a = 1; b = 2`)",
                s.first_line
            ));
        }
    }
    for &i in &removed {
        if old[i].shares_line {
            return Err(format!(
                "line {} of the last load: a changed statement shared its line with another",
                old[i].first_line
            ));
        }
    }
    let facts_new: Vec<Facts<'s>> = new.iter().map(|s| facts(s.text)).collect();
    let facts_old: HashMap<usize, Facts<'s>> =
        removed.iter().map(|&i| (i, facts(old[i].text))).collect();
    for (s, f) in new.iter().zip(&facts_new) {
        if let Some(why) = f.trigger {
            return Err(format!("line {}: {why}", s.first_line));
        }
    }
    let future_changed = removed
        .iter()
        .any(|i| facts_old[i].kind == StmtKind::Future)
        || facts_new
            .iter()
            .zip(&changed)
            .any(|(f, c)| *c && f.kind == StmtKind::Future);
    if future_changed {
        return Err(
            "a `from __future__` import changed: it changes how every statement compiles"
                .to_string(),
        );
    }

    let mut planner = Planner::new(&new, &facts_new, live);
    let mut run = changed.clone();
    for i in &removed {
        planner.dirty.extend(facts_old[i].binds.iter().copied());
    }
    for (j, c) in changed.iter().enumerate() {
        if *c {
            planner.dirty.extend(facts_new[j].binds.iter().copied());
        }
    }
    let diverged = planner.live.diverged();
    for name in take
        .iter()
        .copied()
        .chain(diverged.iter().map(String::as_str))
    {
        for &b in planner
            .binders
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if !run[b] {
                run[b] = true;
                planner.dirty.extend(facts_new[b].binds.iter().copied());
            }
        }
    }
    planner.settle(&mut run);

    // Changed decorated defs whose decorators are the same and read nothing dirty, and whose
    // name no other statement that runs reads: patched without running the decorators.
    let mut undecorated = Vec::new();
    for (j, f) in facts_new.iter().enumerate() {
        let (true, StmtKind::Def, Some(name), Some(offset)) =
            (changed[j], f.kind, f.name, f.def_offset)
        else {
            continue;
        };
        let decorators = &new[j].text[..offset];
        let same_before = removed.iter().any(|i| {
            let of = &facts_old[i];
            of.kind == StmtKind::Def
                && of.name == Some(name)
                && of
                    .def_offset
                    .is_some_and(|o| &old[*i].text[..o] == decorators)
        });
        let reads_dirty = facts(decorators)
            .reads
            .iter()
            .any(|n| *n != name && planner.dirty.contains(n));
        let read_elsewhere =
            (0..new.len()).any(|k| k != j && run[k] && facts_new[k].reads.contains(name));
        let bound_elsewhere = planner.binders.get(name).is_some_and(|b| b.len() > 1);
        if same_before && !reads_dirty && !read_elsewhere && !bound_elsewhere {
            undecorated.push(Undecorated {
                index: j,
                name,
                def_offset: offset,
            });
        }
    }
    let mut delete: Vec<&'s str> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for i in &removed {
        for n in &facts_old[i].binds {
            if seen.insert(*n) && !undecorated.iter().any(|u| u.name == *n) {
                delete.push(n);
            }
        }
    }
    delete.sort_unstable();

    let mut shifted = Vec::new();
    for (j, s) in new.iter().enumerate() {
        let f = &facts_new[j];
        if let (Some(i), false, StmtKind::Def | StmtKind::Class, Some(name)) =
            (old_of[j], run[j], f.kind, f.name)
        {
            let delta = s.first_line.cast_signed() - old[i].first_line.cast_signed();
            if delta != 0 {
                shifted.push((name, delta));
            }
        }
    }

    let future = new
        .iter()
        .zip(&facts_new)
        .filter(|(_, f)| f.kind == StmtKind::Future)
        .map(|(s, _)| s.text)
        .collect();
    let mut old_texts = String::new();
    for &i in &removed {
        old_texts.push_str(old[i].text);
        old_texts.push('\n');
    }
    let mut new_texts = String::new();
    for (j, s) in new.iter().enumerate() {
        if run[j] {
            new_texts.push_str(s.text);
            new_texts.push('\n');
            if let Some(i) = old_of[j] {
                old_texts.push_str(old[i].text);
                old_texts.push('\n');
            }
        }
    }
    let mut imported: Vec<&'s str> = facts_new
        .iter()
        .filter(|f| f.kind == StmtKind::Import)
        .flat_map(|f| f.binds.iter().copied())
        .collect();
    imported.sort_unstable();
    imported.dedup();
    let mut bind_order = Vec::new();
    for f in &facts_new {
        bind_order.extend(f.name);
        let mut binds: Vec<&'s str> = f
            .binds
            .iter()
            .copied()
            .filter(|b| Some(*b) != f.name)
            .collect();
        binds.sort_unstable();
        bind_order.extend(binds);
    }
    Ok(Plan {
        imported,
        bind_order,
        changed: changed.iter().filter(|c| **c).count(),
        removed: removed.len(),
        new,
        run,
        undecorated,
        delete,
        shifted,
        future,
        old_texts,
        new_texts,
    })
}

/// The fixpoint over the new statements: dirty and tainted names, and who binds what.
struct Planner<'p, 's, L> {
    new: &'p [Statement<'s>],
    facts: &'p [Facts<'s>],
    live: &'p mut L,
    /// Name -> the statements that may bind it.
    binders: HashMap<&'s str, Vec<usize>>,
    /// Name of a `def` or `class` -> its statement.
    callables: HashMap<&'s str, usize>,
    dirty: HashSet<&'s str>,
    /// Every name in a callable's statement (its body too), when first needed.
    words: HashMap<usize, HashSet<&'s str>>,
    stable: HashMap<&'s str, Option<bool>>,
}

impl<'p, 's, L: Live> Planner<'p, 's, L> {
    fn new(new: &'p [Statement<'s>], facts: &'p [Facts<'s>], live: &'p mut L) -> Self {
        let mut binders: HashMap<&'s str, Vec<usize>> = HashMap::new();
        let mut callables = HashMap::new();
        for (j, f) in facts.iter().enumerate() {
            for b in &f.binds {
                binders.entry(*b).or_default().push(j);
            }
            if let (StmtKind::Def | StmtKind::Class, Some(n)) = (f.kind, f.name) {
                callables.insert(n, j);
            }
        }
        Planner {
            new,
            facts,
            live,
            binders,
            callables,
            dirty: HashSet::new(),
            words: HashMap::new(),
            stable: HashMap::new(),
        }
    }

    fn words(&mut self, j: usize) -> &HashSet<&'s str> {
        let text = self.new[j].text;
        self.words.entry(j).or_insert_with(|| scan::words(text))
    }

    /// Callables whose text mentions a dirty name, or a tainted one (transitively).
    fn tainted(&mut self) -> HashSet<&'s str> {
        let mut tainted: HashSet<&'s str> = HashSet::new();
        if self.dirty.is_empty() {
            return tainted;
        }
        let callables: Vec<(&'s str, usize)> =
            self.callables.iter().map(|(n, j)| (*n, *j)).collect();
        loop {
            let mut grew = false;
            for &(name, j) in &callables {
                if tainted.contains(name) {
                    continue;
                }
                let dirty = &self.dirty;
                let hit = {
                    let words = self
                        .words
                        .entry(j)
                        .or_insert_with(|| scan::words(self.new[j].text));
                    words
                        .iter()
                        .any(|w| *w != name && (dirty.contains(w) || tainted.contains(w)))
                };
                if hit {
                    tainted.insert(name);
                    grew = true;
                }
            }
            if !grew {
                return tainted;
            }
        }
    }

    /// What statement `j` may read when it runs: its module-level reads, and every name in the
    /// callables it reads (transitively).
    fn reads_deep(&mut self, j: usize) -> HashSet<&'s str> {
        let mut out: HashSet<&'s str> = self.facts[j].reads.iter().copied().collect();
        let mut todo: Vec<&'s str> = out.iter().copied().collect();
        let mut seen: HashSet<usize> = HashSet::new();
        while let Some(n) = todo.pop() {
            let Some(&c) = self.callables.get(n) else {
                continue;
            };
            if c == j || !seen.insert(c) {
                continue;
            }
            let words: Vec<&'s str> = self.words(c).iter().copied().collect();
            for w in words {
                if out.insert(w) {
                    todo.push(w);
                }
            }
        }
        out
    }

    fn stable(&mut self, name: &'s str) -> Option<bool> {
        if let Some(s) = self.stable.get(name) {
            return *s;
        }
        let s = self.live.stable_data(name);
        self.stable.insert(name, s);
        s
    }

    /// Marks statements to run until nothing more changes.
    fn settle(&mut self, run: &mut [bool]) {
        let mut backward_done: HashSet<usize> = HashSet::new();
        loop {
            let mut grew = false;
            // Forward: statements reading a dirty or tainted name.
            let tainted = self.tainted();
            for (j, runs) in run.iter_mut().enumerate() {
                if *runs {
                    continue;
                }
                // A tainted callable re-runs the statements that call it, not its own.
                let f = &self.facts[j];
                let hit = f.reads.iter().any(|n| {
                    self.dirty.contains(n) || (tainted.contains(n) && !f.binds.contains(n))
                });
                if hit {
                    *runs = true;
                    grew = true;
                    self.dirty.extend(self.facts[j].binds.iter().copied());
                }
            }
            // Backward: data that statements running read, made afresh first when it can
            // have changed in place.
            for j in 0..self.new.len() {
                if !run[j] || !backward_done.insert(j) {
                    continue;
                }
                let mut reads: Vec<&'s str> = self.reads_deep(j).into_iter().collect();
                reads.sort_unstable();
                for n in reads {
                    if self.stable(n) != Some(false) {
                        continue;
                    }
                    let binders = self.binders.get(n).cloned().unwrap_or_default();
                    for b in binders {
                        if !run[b] {
                            run[b] = true;
                            grew = true;
                            self.dirty.extend(self.facts[b].binds.iter().copied());
                        }
                    }
                }
            }
            if !grew {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Live values for the planner: names listed are data that can change (or changed).
    struct Values(&'static [&'static str], &'static [&'static str]);

    impl Live for Values {
        fn diverged(&mut self) -> Vec<String> {
            Vec::new()
        }

        fn stable_data(&mut self, name: &str) -> Option<bool> {
            if self.0.contains(&name) {
                Some(false)
            } else if self.1.contains(&name) {
                Some(true)
            } else {
                None
            }
        }
    }

    fn runs(old: &str, new: &str, live: &mut Values) -> Vec<usize> {
        let p = plan(old, new, live, &[]).expect("incremental");
        p.run
            .iter()
            .enumerate()
            .filter(|(_, r)| **r)
            .map(|(j, _)| j)
            .collect()
    }

    #[test]
    fn a_constant_edit_runs_its_statement_and_what_reads_it() {
        let old = "BASE_HP = 100\nBOSS_HP = BASE_HP * 5\nOTHER = 3\ndef f():\n    return BASE_HP\n";
        let new = "BASE_HP = 120\nBOSS_HP = BASE_HP * 5\nOTHER = 3\ndef f():\n    return BASE_HP\n";
        let mut live = Values(&[], &["BASE_HP", "BOSS_HP", "OTHER"]);
        assert_eq!(runs(old, new, &mut live), [0, 1]);
    }

    #[test]
    fn a_function_body_edit_runs_only_the_def() {
        let old = "X = 1\ndef f():\n    return X\nY = 2\n";
        let new = "X = 1\ndef f():\n    return X + 1\nY = 2\n";
        let mut live = Values(&[], &["X", "Y"]);
        assert_eq!(runs(old, new, &mut live), [1]);
    }

    #[test]
    fn a_call_of_a_changed_function_runs_again() {
        let old = "def f():\n    return 1\nX = f()\n";
        let new = "def f():\n    return 2\nX = f()\n";
        let mut live = Values(&[], &["X"]);
        assert_eq!(runs(old, new, &mut live), [0, 1]);
        // Through another function that calls it.
        let old = "def f():\n    return 1\ndef g():\n    return f()\nX = g()\n";
        let new = "def f():\n    return 2\ndef g():\n    return f()\nX = g()\n";
        assert_eq!(runs(old, new, &mut live), [0, 2]);
    }

    #[test]
    fn an_edited_mutation_makes_its_data_afresh_with_every_mutation() {
        let old = "ITEMS = []\nITEMS.append(5)\nITEMS.append(7)\nN = 1\n";
        let new = "ITEMS = []\nITEMS.append(6)\nITEMS.append(7)\nN = 1\n";
        let mut live = Values(&["ITEMS"], &["N"]);
        assert_eq!(runs(old, new, &mut live), [0, 1, 2]);
    }

    #[test]
    fn stable_inputs_are_not_made_again() {
        let old = "A = 2\nB = A * 3\n";
        let new = "A = 2\nB = A * 4\n";
        let mut live = Values(&[], &["A", "B"]);
        assert_eq!(runs(old, new, &mut live), [1]);
        let mut changed = Values(&["A"], &["B"]);
        assert_eq!(runs(old, new, &mut changed), [0, 1]);
    }

    #[test]
    fn a_removed_statement_deletes_its_names_and_runs_their_readers() {
        let old = "A = 1\nB = 2\nC = B\n";
        let new = "A = 1\nC = B\n";
        let mut live = Values(&[], &["A", "B", "C"]);
        let p = plan(old, new, &mut live, &[]).expect("plan");
        assert_eq!(p.delete, ["B"]);
        assert_eq!(p.run, [false, true]);
    }

    #[test]
    fn moved_lines_shift_unchanged_definitions() {
        let old = "X = 1\ndef f():\n    return 1\nclass C:\n    pass\n";
        let new = "X = (1 +\n     0)\ndef f():\n    return 1\nclass C:\n    pass\n";
        let mut live = Values(&[], &["X"]);
        let p = plan(old, new, &mut live, &[]).expect("plan");
        assert_eq!(p.shifted, [("f", 1), ("C", 1)]);
    }

    #[test]
    fn a_changed_decorated_def_skips_its_unchanged_decorators() {
        let old = "@register\ndef on_hit():\n    return 1\n";
        let new = "@register\ndef on_hit():\n    return 2\n";
        let mut live = Values(&[], &[]);
        let p = plan(old, new, &mut live, &[]).expect("plan");
        assert_eq!(p.undecorated.len(), 1);
        assert_eq!(p.undecorated[0].name, "on_hit");
        assert!(p.delete.is_empty());
        let changed_decorator = "@register(2)\ndef on_hit():\n    return 2\n";
        let p = plan(old, changed_decorator, &mut live, &[]).expect("plan");
        assert!(p.undecorated.is_empty());
    }

    #[test]
    fn what_cannot_be_followed_reloads_the_whole_module() {
        let mut live = Values(&[], &[]);
        for (old, new) in [
            ("A = 1\nB = 2\n", "B = 2\nA = 1\n"),
            ("A = 1; B = 2\n", "A = 1; B = 3\n"),
            ("X = 1\n", "X = 1\nglobals()['Y'] = 2\n"),
            ("from __future__ import annotations\n", "X = 1\n"),
            ("X = 1\n", "X = (1\n"),
        ] {
            assert!(plan(old, new, &mut live, &[]).is_err(), "{new}");
        }
    }

    #[test]
    fn a_take_override_runs_the_statement_of_its_name() {
        let old = "COUNT = 0\nX = 1\n";
        let new = "COUNT = 0\nX = 2\n";
        let mut live = Values(&[], &["X", "COUNT"]);
        let p = plan(old, new, &mut live, &["COUNT"]).expect("plan");
        assert_eq!(p.run, [true, true]);
    }
}
