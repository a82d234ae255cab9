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

use std::cell::{OnceCell, RefCell};

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use crate::engine::statements::{self, Match, Statement};
use scan::{Facts, StmtKind, facts};

/// Above this many changed statements, a change of more than half of a module's statements
/// reloads it whole: the statements to run are most of the module, and planning would only
/// add to the cost.
const MOSTLY: usize = 8;

/// After this many word searches, an index of every statement's words is built instead.
const SEARCHES: usize = 64;

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
    /// Other modules loaded or reloaded since this one last was: its import statements that
    /// name one run again (and so what reads the names they bind), as a whole reload would
    /// read their present values (`X = a.VALUE` after `a` was reloaded).
    fn reloaded_since(&mut self) -> Vec<String>;
}

/// A changed decorated `def` whose decorators did not change: its function gets the new code
/// without the decorators running again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undecorated<'s> {
    /// Index into the new statements.
    pub index: usize,
    pub name: &'s str,
    /// Where the `def` line starts in the statement's text.
    pub def_offset: usize,
}

/// The statements an incremental reload runs, and what it does around them.
#[derive(Debug)]
pub struct Plan<'s> {
    /// The new source's statements (`index.new`), and what the planning found out about them.
    pub index: Index<'s>,
    /// Per new statement: whether it runs.
    pub run: Vec<bool>,
    /// Statements whose text changed (or that are new).
    pub changed: usize,
    pub undecorated: Vec<Undecorated<'s>>,
    /// Names taken out of the namespace before the statements run.
    pub delete: Vec<&'s str>,
    /// Unchanged statements that did not run and moved: their lines in the last load (first,
    /// last) and by how many lines they moved, in order. Code made by them moves with them.
    pub moved: Vec<(usize, usize, isize)>,
    /// The texts of the module's `from __future__` imports (each statement compiles with them).
    pub future: Vec<&'s str>,
    /// The names the module's import statements bind. A statement compiles in their company:
    /// `CPython` 3.11+ compiles `module.f(x)` differently when `module` is imported in the same
    /// unit, and a statement's code must be the code the whole module would have.
    pub imported: Vec<&'s str>,
    /// A statement that runs has a decorated class: it may register the class it makes, so
    /// registries are looked for after the merge whatever the class's machinery.
    pub decorated_classes: bool,
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
    old_spans: Option<&[statements::Span]>,
    live: &mut impl Live,
    take: &[&str],
) -> Result<Plan<'s>, String> {
    let old = match old_spans.and_then(|s| statements::from_spans(old_text, s)) {
        Some(old) => old,
        None => statements::split(old_text).map_err(|e| {
            format!("the last load's source could not be split into statements ({e})")
        })?,
    };
    let new = match statements::resplit(old_text, &old, new_text) {
        Some(new) => new,
        None => statements::split(new_text)
            .map_err(|e| format!("the new source could not be split into statements ({e})"))?,
    };
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
    let edited = changed.iter().filter(|c| **c).count();
    if edited > MOSTLY && edited * 2 > new.len() {
        return Err(format!(
            "{edited} of {} statements changed: running the whole module costs no more",
            new.len()
        ));
    }
    let index = Index::new(new_text, new);
    let facts_old: HashMap<usize, Facts<'s>> =
        removed.iter().map(|&i| (i, facts(old[i].text))).collect();
    if let Some((line, why)) = index.trigger() {
        return Err(format!("line {line}: {why}"));
    }
    let future_changed = removed
        .iter()
        .any(|i| facts_old[i].kind == StmtKind::Future)
        || (0..index.len()).any(|j| changed[j] && index.head(j).0 == StmtKind::Future);
    if future_changed {
        return Err(
            "a `from __future__` import changed: it changes how every statement compiles"
                .to_string(),
        );
    }

    let mut planner = Planner {
        index: &index,
        live,
        run: vec![false; index.len()],
        dirty: HashSet::new(),
        tainted: HashSet::new(),
        queue: Vec::new(),
        stable: HashMap::new(),
    };
    for i in &removed {
        for b in &facts_old[i].binds {
            planner.make_dirty(b);
        }
    }
    for (j, c) in changed.iter().enumerate() {
        if *c {
            planner.mark_run(j);
        }
    }
    for module in planner.live.reloaded_since() {
        let mut words: Vec<&str> = module.split('.').collect();
        words.dedup();
        for word in [words.first(), words.last()].into_iter().flatten() {
            for j in index.containing(word) {
                if index.head(j).0 == StmtKind::Import {
                    planner.mark_run(j);
                }
            }
        }
    }
    let diverged = planner.live.diverged();
    for name in take
        .iter()
        .copied()
        .chain(diverged.iter().map(String::as_str))
    {
        for b in index.binders(name) {
            planner.mark_run(b);
        }
    }
    planner.settle();
    let Planner { run, dirty, .. } = planner;

    // Changed decorated defs whose decorators are the same and read nothing dirty, and whose
    // name no other statement that runs reads: patched without running the decorators.
    let mut undecorated = Vec::new();
    for (j, c) in changed.iter().enumerate() {
        if !*c {
            continue;
        }
        let f = index.facts(j);
        let (StmtKind::Def, Some(name), Some(offset)) = (f.kind, f.name, f.def_offset) else {
            continue;
        };
        let decorators = &index.new[j].text[..offset];
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
            .any(|n| *n != name && dirty.contains(n));
        let read_elsewhere = index
            .containing(name)
            .into_iter()
            .any(|k| k != j && run[k] && index.facts(k).reads.contains(name));
        let bound_elsewhere = index.binders(name).len() > 1;
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

    let mut moved = Vec::new();
    for (j, s) in index.new.iter().enumerate() {
        let Some(i) = old_of[j] else { continue };
        let delta = s.first_line.cast_signed() - old[i].first_line.cast_signed();
        if delta != 0 && !run[j] {
            moved.push((old[i].first_line, old[i].last_line, delta));
        }
    }
    let mut future = Vec::new();
    let mut imported: Vec<&'s str> = Vec::new();
    for j in 0..index.len() {
        match index.head(j).0 {
            StmtKind::Future => future.push(index.new[j].text),
            StmtKind::Import => imported.extend(index.facts(j).binds.iter().copied()),
            _ => {}
        }
    }
    imported.sort_unstable();
    imported.dedup();
    let mut old_texts = String::new();
    for &i in &removed {
        old_texts.push_str(old[i].text);
        old_texts.push('\n');
    }
    let mut new_texts = String::new();
    for (j, s) in index.new.iter().enumerate() {
        if run[j] {
            new_texts.push_str(s.text);
            new_texts.push('\n');
            if let Some(i) = old_of[j] {
                old_texts.push_str(old[i].text);
                old_texts.push('\n');
            }
        }
    }
    let decorated_classes =
        (0..index.len()).any(|j| run[j] && scan::decorates_class(index.new[j].text));
    Ok(Plan {
        decorated_classes,
        imported,
        changed: changed.iter().filter(|c| **c).count(),
        run,
        undecorated,
        delete,
        moved,
        future,
        old_texts,
        new_texts,
        index,
    })
}

/// The new source's statements, and what is known of them, worked out when first needed: a
/// one-line edit of a 50,000-line module looks at the few statements that mention the names it
/// touches, found by a word search of the whole text.
#[derive(Debug)]
pub struct Index<'s> {
    text: &'s str,
    pub new: Vec<Statement<'s>>,
    facts: Vec<OnceCell<Facts<'s>>>,
    words: Vec<OnceCell<HashSet<&'s str>>>,
    /// Word -> the statements whose text holds it (as a whole word), in order.
    containing: RefCell<HashMap<String, Vec<usize>>>,
    /// Word -> the statements whose code names it, for every word: built instead of more
    /// searches once many names are looked for (an edit of many statements).
    all_words: OnceCell<HashMap<&'s str, Vec<usize>>>,
    /// Name of a `def` or `class` -> its statement.
    callables: OnceCell<HashMap<&'s str, usize>>,
}

impl<'s> Index<'s> {
    fn new(text: &'s str, new: Vec<Statement<'s>>) -> Self {
        let n = new.len();
        Index {
            text,
            new,
            facts: (0..n).map(|_| OnceCell::new()).collect(),
            words: (0..n).map(|_| OnceCell::new()).collect(),
            containing: RefCell::new(HashMap::new()),
            all_words: OnceCell::new(),
            callables: OnceCell::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.new.len()
    }

    pub fn is_empty(&self) -> bool {
        self.new.is_empty()
    }

    fn facts(&self, j: usize) -> &Facts<'s> {
        self.facts[j].get_or_init(|| facts(self.new[j].text))
    }

    fn words(&self, j: usize) -> &HashSet<&'s str> {
        self.words[j].get_or_init(|| scan::words(self.new[j].text))
    }

    /// What a statement is and the name it defines, from its first words (the whole facts
    /// only for a decorated one).
    fn head(&self, j: usize) -> (StmtKind, Option<&'s str>) {
        fn keyword<'t>(text: &'t str, kw: &str) -> Option<&'t str> {
            text.strip_prefix(kw)
                .filter(|r| r.starts_with([' ', '\t']))
                .map(str::trim_start)
        }
        fn name(rest: &str) -> &str {
            &rest[..rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len())]
        }
        let text = self.new[j].text;
        if text.starts_with('@') {
            let f = self.facts(j);
            return (f.kind, f.name);
        }
        let def =
            keyword(text, "def").or_else(|| keyword(text, "async").and_then(|r| keyword(r, "def")));
        if let Some(rest) = def {
            return (StmtKind::Def, Some(name(rest)));
        }
        if let Some(rest) = keyword(text, "class") {
            return (StmtKind::Class, Some(name(rest)));
        }
        if keyword(text, "from").is_some_and(|r| r.starts_with("__future__")) {
            return (StmtKind::Future, None);
        }
        if keyword(text, "import").is_some() || keyword(text, "from").is_some() {
            return (StmtKind::Import, None);
        }
        (StmtKind::Simple, None)
    }

    fn callables(&self) -> &HashMap<&'s str, usize> {
        self.callables.get_or_init(|| {
            let mut out = HashMap::new();
            for j in 0..self.len() {
                if let (StmtKind::Def | StmtKind::Class, Some(n)) = self.head(j) {
                    out.insert(n, j);
                }
            }
            out
        })
    }

    /// The statements whose text holds `word` as a whole word (in code, a string or a comment:
    /// a superset of those that read it).
    fn containing(&self, word: &str) -> Vec<usize> {
        if let Some(found) = self.containing.borrow().get(word) {
            return found.clone();
        }
        if self.all_words.get().is_some() || self.containing.borrow().len() >= SEARCHES {
            let all = self.all_words.get_or_init(|| {
                let mut all: HashMap<&'s str, Vec<usize>> = HashMap::new();
                for j in 0..self.len() {
                    for w in self.words(j) {
                        all.entry(*w).or_default().push(j);
                    }
                }
                all
            });
            let mut found = all.get(word).cloned().unwrap_or_default();
            found.sort_unstable();
            return found;
        }
        let b = self.text.as_bytes();
        let ident = |c: u8| c == b'_' || c.is_ascii_alphanumeric() || c >= 0x80;
        let mut out: Vec<usize> = Vec::new();
        if !word.is_empty() {
            for at in memchr::memmem::find_iter(b, word.as_bytes()) {
                let end = at + word.len();
                if (at > 0 && ident(b[at - 1])) || b.get(end).is_some_and(|c| ident(*c)) {
                    continue;
                }
                let j = self.new.partition_point(|s| s.start <= at);
                if j > 0 && at < self.new[j - 1].end && out.last() != Some(&(j - 1)) {
                    out.push(j - 1);
                }
            }
        }
        self.containing
            .borrow_mut()
            .insert(word.to_string(), out.clone());
        out
    }

    /// The statements that may bind `name`.
    fn binders(&self, name: &str) -> Vec<usize> {
        self.containing(name)
            .into_iter()
            .filter(|j| self.facts(*j).binds.contains(name))
            .collect()
    }

    /// The first construct in the module the analysis cannot follow: its line and why.
    fn trigger(&self) -> Option<(usize, &'static str)> {
        let mut candidates: Vec<usize> = Vec::new();
        for word in [
            "globals",
            "locals",
            "vars",
            "exec",
            "eval",
            "del",
            "__getattr__",
            "__dir__",
        ] {
            candidates.extend(self.containing(word));
        }
        for (j, s) in self.new.iter().enumerate() {
            if s.text.starts_with("from") && s.text.contains('*') {
                candidates.push(j);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates.into_iter().find_map(|j| {
            self.facts(j)
                .trigger
                .map(|why| (self.new[j].first_line, why))
        })
    }
}

impl Plan<'_> {
    /// The names the statements that run bind, in their order (a definition's name first):
    /// the merge meets names in this order, as a whole reload meets them.
    pub fn bind_order(&self) -> HashMap<&str, usize> {
        let mut order = HashMap::new();
        for (j, runs) in self.run.iter().enumerate() {
            if !*runs {
                continue;
            }
            let f = self.index.facts(j);
            let mut binds: Vec<&str> = f
                .binds
                .iter()
                .copied()
                .filter(|b| Some(*b) != f.name)
                .collect();
            binds.sort_unstable();
            for n in f.name.into_iter().chain(binds) {
                let next = order.len();
                order.entry(n).or_insert(next);
            }
        }
        order
    }
}

/// The fixpoint over the new statements: which run, which names are dirty (a statement that
/// runs may bind them) or tainted (a function or class whose text mentions a dirty or tainted
/// name: calling it may give another result).
struct Planner<'p, 's, L> {
    index: &'p Index<'s>,
    live: &'p mut L,
    run: Vec<bool>,
    dirty: HashSet<&'s str>,
    tainted: HashSet<&'s str>,
    /// Names that became dirty or tainted, whose readers are still to be looked at.
    queue: Vec<&'s str>,
    stable: HashMap<&'s str, Option<bool>>,
}

impl<'s, L: Live> Planner<'_, 's, L> {
    fn make_dirty(&mut self, name: &'s str) {
        if self.dirty.insert(name) {
            self.queue.push(name);
        }
    }

    /// Statement `j` runs: what it binds is dirty, and the data it reads that may have changed
    /// in place is made afresh first (its binders run too).
    fn mark_run(&mut self, j: usize) {
        if self.run[j] {
            return;
        }
        self.run[j] = true;
        let index = self.index;
        for b in &index.facts(j).binds {
            self.make_dirty(b);
        }
        let mut reads: Vec<&'s str> = self.reads_deep(j).into_iter().collect();
        reads.sort_unstable();
        for n in reads {
            if self.stable(n) != Some(false) {
                continue;
            }
            for b in index.binders(n) {
                self.mark_run(b);
            }
        }
    }

    /// What statement `j` may read when it runs: its module-level reads, and every name in the
    /// callables it reads (transitively).
    fn reads_deep(&self, j: usize) -> HashSet<&'s str> {
        let index = self.index;
        let mut out: HashSet<&'s str> = index.facts(j).reads.iter().copied().collect();
        let mut todo: Vec<&'s str> = out.iter().copied().collect();
        let mut seen: HashSet<usize> = HashSet::new();
        while let Some(n) = todo.pop() {
            let Some(&c) = index.callables().get(n) else {
                continue;
            };
            if c == j || !seen.insert(c) {
                continue;
            }
            for w in index.words(c) {
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

    /// Follows every dirty or tainted name to the statements that mention it, until none is
    /// left: a callable mentioning it is tainted; a statement reading it runs.
    fn settle(&mut self) {
        let index = self.index;
        while let Some(name) = self.queue.pop() {
            for j in index.containing(name) {
                if let (StmtKind::Def | StmtKind::Class, Some(f)) = index.head(j)
                    && f != name
                    && !self.dirty.contains(f)
                    && self.tainted.insert(f)
                {
                    self.queue.push(f);
                }
                if self.run[j] {
                    continue;
                }
                let facts = index.facts(j);
                // A tainted callable re-runs the statements that call it, not its own.
                let hit = facts.reads.contains(name)
                    && (self.dirty.contains(name) || !facts.binds.contains(name));
                if hit {
                    self.mark_run(j);
                }
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

        fn reloaded_since(&mut self) -> Vec<String> {
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
        let p = plan(old, new, None, live, &[]).expect("incremental");
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
        let p = plan(old, new, None, &mut live, &[]).expect("plan");
        assert_eq!(p.delete, ["B"]);
        assert_eq!(p.run, [false, true]);
    }

    #[test]
    fn moved_lines_shift_unchanged_definitions() {
        let old = "X = 1\ndef f():\n    return 1\nclass C:\n    pass\n";
        let new = "X = (1 +\n     0)\ndef f():\n    return 1\nclass C:\n    pass\n";
        let mut live = Values(&[], &["X"]);
        let p = plan(old, new, None, &mut live, &[]).expect("plan");
        assert_eq!(p.moved, [(2, 3, 1), (4, 5, 1)]);
    }

    #[test]
    fn a_changed_decorated_def_skips_its_unchanged_decorators() {
        let old = "@register\ndef on_hit():\n    return 1\n";
        let new = "@register\ndef on_hit():\n    return 2\n";
        let mut live = Values(&[], &[]);
        let p = plan(old, new, None, &mut live, &[]).expect("plan");
        assert_eq!(p.undecorated.len(), 1);
        assert_eq!(p.undecorated[0].name, "on_hit");
        assert!(p.delete.is_empty());
        let changed_decorator = "@register(2)\ndef on_hit():\n    return 2\n";
        let p = plan(old, changed_decorator, None, &mut live, &[]).expect("plan");
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
            assert!(plan(old, new, None, &mut live, &[]).is_err(), "{new}");
        }
    }

    #[test]
    fn a_take_override_runs_the_statement_of_its_name() {
        let old = "COUNT = 0\nX = 1\n";
        let new = "COUNT = 0\nX = 2\n";
        let mut live = Values(&[], &["X", "COUNT"]);
        let p = plan(old, new, None, &mut live, &["COUNT"]).expect("plan");
        assert_eq!(p.run, [true, true]);
    }
}
