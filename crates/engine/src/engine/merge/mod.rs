//! Step 4 of a reload: merge the old namespace and the new one in place (DESIGN.md "Merge, for
//! every name in old ∪ new"). This file holds the state of one merge, the walk over the module's
//! names and the dispatch by kind; each kind's rule lives in its own file:
//! `functions.rs` (functions, closures, wrappers, descriptors), `classes.rs` (pass 1 and class
//! members), `enums.rs`, `data.rs` (the three-way rule), `fixup.rs` (throwaway references) and
//! `journal.rs` (the report entries).

mod classes;
mod data;
mod enums;
mod fixup;
mod functions;
mod journal;
mod keys;

use foldhash::HashMap;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::baseline::Baseline;
use super::classify::{MACHINERY, ObjKind, classify, classify_global};
use super::fingerprint::fingerprint;
use super::names::name;
use super::pyobj::{helpers, named_items, ptr, python_instance};
use crate::protocol::{Action, Change, Kind, Override, Overrides};
use classes::ClassPlan;
use data::StatementTexts;
pub(crate) use data::shared_value;
use fixup::FixUps;
pub(crate) use journal::{Entry, Journal};

/// A Python object the merge handles (a shorter name for pyo3's `Bound<'py, PyAny>`).
pub(crate) type Obj<'py> = Bound<'py, PyAny>;

/// One thing met in both namespaces: where it is (qualname, or a path into a function) and its
/// old and new object.
pub(crate) struct Both<'b, 'py, T = PyAny> {
    pub qual: &'b str,
    pub old: &'b Bound<'py, T>,
    pub new: &'b Bound<'py, T>,
}

impl<'b, 'py, T> Both<'b, 'py, T> {
    pub(crate) fn new(qual: &'b str, old: &'b Bound<'py, T>, new: &'b Bound<'py, T>) -> Self {
        Both { qual, old, new }
    }
}

impl<T> Clone for Both<'_, '_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Both<'_, '_, T> {}

/// What a merge reads and never changes.
pub(crate) struct Inputs<'a> {
    pub module: &'a str,
    /// False for a dry run: decide and report, change nothing.
    pub apply: bool,
    pub overrides: &'a Overrides,
    /// The last load's baseline (`None` for a module registered after it was loaded).
    pub base: Option<&'a Baseline>,
    /// The last load's source text, when known.
    pub old_source: Option<&'a str>,
    pub new_source: &'a str,
    /// A package's submodules bound in its namespace: kept, never reported.
    pub submodules: Vec<&'a str>,
    /// Update closures made before the reload (a heap scan; see `ReloadOptions::closures`).
    pub closures: bool,
}

/// New objects paired with the old objects that stay in their place (classes, functions, enum
/// members): the body made the new ones, the program holds the old ones.
#[derive(Default)]
pub(crate) struct Identity<'py> {
    kept: HashMap<usize, Obj<'py>>,
}

impl<'py> Identity<'py> {
    /// `new` is replaced by `old`, which stays.
    fn keep(&mut self, new: &Obj<'py>, old: &Obj<'py>) {
        self.kept.insert(ptr(new), old.clone());
    }

    /// `new` turned out not to have an old counterpart after all.
    fn forget(&mut self, new: &Obj<'py>) {
        self.kept.remove(&ptr(new));
    }

    /// The old object kept in place of `new`, if any.
    fn old_of(&self, new: &Obj<'py>) -> Option<&Obj<'py>> {
        self.kept.get(&ptr(new))
    }

    /// `o`, or the old object that stays in its place.
    fn mapped<'b>(&'b self, o: &'b Obj<'py>) -> &'b Obj<'py> {
        self.kept.get(&ptr(o)).unwrap_or(o)
    }

    /// Whether `o` is a new object with an old counterpart.
    fn is_replaced(&self, o: &Obj<'py>) -> bool {
        self.kept.contains_key(&ptr(o))
    }
}

/// State of one merge, in parts with one job each.
pub(crate) struct Merge<'py, 'a> {
    py: Python<'py>,
    inp: Inputs<'a>,
    ids: Identity<'py>,
    classes: ClassPlan<'py>,
    journal: Journal,
    fix: FixUps<'py>,
    texts: StatementTexts<'a>,
    /// Code objects on some thread's stack (id -> thread name), read when first needed.
    running: Option<HashMap<usize, String>>,
    /// Top-level values replaced: (name, old object), for stale copies.
    replaced_globals: Vec<(String, Obj<'py>)>,
    /// The baseline of the new load, filled as values are met.
    next: Baseline,
    /// Replaced functions, and the data kept live that may still hold their old versions.
    stale_holders: StaleHolders<'py>,
    /// An incremental reload: the whole namespace after the statements ran (`new_ns` is only
    /// the names they bound), and the live names no statement touched.
    partial: Option<Partial<'py>>,
}

/// What an incremental reload adds to a merge (see [`Merge::partial`]).
pub(crate) struct Partial<'py> {
    /// The module's namespace after the statements ran.
    pub whole_new: Bound<'py, PyDict>,
    /// The live namespace before they ran.
    pub whole_old: Bound<'py, PyDict>,
    /// Names the statements bound, added or removed (the ones merged).
    pub merged: foldhash::HashSet<String>,
    /// Code of unchanged statements still on its old lines (a dry run does not move it): the
    /// statements' old lines and how far they moved (`Plan::moved`), for the lines reports name.
    pub shifts: Vec<(usize, usize, isize)>,
    /// A class statement that runs has a class decorator (`Plan::decorated_classes`).
    pub decorated_classes: bool,
}

/// Kept containers bigger than this are not looked into for replaced functions.
const HOLDERS_MAX: usize = 10_000;

/// Old functions this reload replaced (by their id, with their qualname), and the data values
/// kept live (qualname, value): a kept dict or list holding a replaced function still calls
/// the old code, which the report must say.
#[derive(Default)]
struct StaleHolders<'py> {
    replaced: HashMap<usize, String>,
    kept: Vec<(String, Obj<'py>)>,
}

/// What a finished merge hands back to the pipeline.
pub(crate) struct Merged<'py> {
    pub changes: Vec<Change>,
    pub replaced_globals: Vec<(String, Obj<'py>)>,
    pub baseline: Baseline,
}

fn is_dunder(name: &str) -> bool {
    name.starts_with("__") && name.ends_with("__")
}

impl<'py, 'a> Merge<'py, 'a> {
    pub(crate) fn new(py: Python<'py>, inp: Inputs<'a>) -> Self {
        let texts = StatementTexts::new(inp.old_source, inp.new_source);
        Merge {
            py,
            inp,
            ids: Identity::default(),
            classes: ClassPlan::default(),
            journal: Journal::default(),
            fix: FixUps::default(),
            texts,
            running: None,
            replaced_globals: Vec::new(),
            next: Baseline::default(),
            stale_holders: StaleHolders::default(),
            partial: None,
        }
    }

    /// Makes this the merge of an incremental reload (see [`Partial`]).
    pub(crate) fn partial(&mut self, partial: Partial<'py>) {
        self.partial = Some(partial);
    }

    /// The names no statement of an incremental reload touched: one entry each, as a whole
    /// reload would decide it for a statement that did not change and reads nothing that did —
    /// `unchanged`, or `kept_live` for a name created at run time. (Statements binding data
    /// the program changed run again, so those get the rule's real entries.) Kept data is
    /// looked into for replaced functions, as in a whole reload.
    fn report_untouched(&mut self) {
        let Some(p) = self.partial.take() else {
            return;
        };
        for (name, old) in named_items(&p.whole_old) {
            if p.merged.contains(&name)
                || MACHINERY.contains(&name.as_str())
                || is_dunder(&name)
                || self.inp.submodules.contains(&name.as_str())
            {
                continue;
            }
            let shape = classify_global(&old);
            let kind = shape.report_kind(false);
            if self.defined_before(&name) {
                self.journal
                    .record(Entry::new(&name, kind, Action::Unchanged));
                if matches!(shape, ObjKind::Data) {
                    self.stale_holders.kept.push((name.clone(), old.clone()));
                }
            } else {
                self.journal.record(
                    Entry::new(&name, kind, Action::KeptLive)
                        .values(&old, &old)
                        .note("created at run time, not by the source: live state kept"),
                );
            }
        }
        self.partial = Some(p);
    }

    pub(crate) fn finish(self) -> Merged<'py> {
        Merged {
            changes: self.journal.into_changes(),
            replaced_globals: self.replaced_globals,
            baseline: self.next,
        }
    }

    /// Merges every top-level name of old ∪ new into `dict` (which holds the new namespace).
    pub(crate) fn merge_module(
        &mut self,
        dict: &Bound<'py, PyDict>,
        old_ns: &Bound<'py, PyDict>,
        new_ns: &Bound<'py, PyDict>,
    ) -> PyResult<()> {
        for (name, new) in named_items(new_ns) {
            if self.inp.submodules.contains(&name.as_str())
                && old_ns.get_item(&name)?.is_some_and(|old| old.is(&new))
            {
                continue;
            }
            self.next.defined.insert(name.clone());
            // __doc__, __annotations__: follow the source, unreported.
            if MACHINERY.contains(&name.as_str()) || (is_dunder(&name) && name != "__all__") {
                continue;
            }
            match old_ns.get_item(&name)? {
                None => {
                    self.record_new_fps(&name, &new);
                    self.fix.fresh.push(new.clone());
                    let kind = classify_global(&new).report_kind(false);
                    self.journal
                        .record(Entry::new(&name, kind, Action::Added).now(&new));
                }
                Some(old) => {
                    let keep_old = self.merge_value(Both::new(&name, &old, &new), false)?;
                    if keep_old && self.inp.apply {
                        dict.set_item(&name, &old)?;
                    } else if !keep_old {
                        self.fix.taken.push((dict.clone().into_any(), name.clone()));
                        if !old.is(&new) {
                            self.replaced_globals.push((name.clone(), old.clone()));
                        }
                    }
                }
            }
        }
        self.report_untouched();
        let whole_new = self.partial.as_ref().map(|p| p.whole_new.clone());
        self.note_removed_names_in_use(old_ns, whole_new.as_ref().unwrap_or(new_ns));
        self.report_stale_holders();
        for (name, old) in named_items(old_ns) {
            if new_ns.contains(&name)? || MACHINERY.contains(&name.as_str()) {
                continue;
            }
            // Dunders the source no longer sets (a removed __all__) stay, unreported.
            let removed = !is_dunder(&name) && self.removed_or_kept(&name, &old, false);
            if !removed && self.inp.apply {
                dict.set_item(&name, &old)?;
            }
        }
        Ok(())
    }

    /// Kept data holding (one level deep: dict values, list and tuple items) an old function
    /// this reload replaced: an entry per place, `not_applied`, since calls through it run the
    /// old code.
    fn report_stale_holders(&mut self) {
        use pyo3::types::{PyList, PyTuple};
        let holders = std::mem::take(&mut self.stale_holders);
        if holders.replaced.is_empty() {
            return;
        }
        for (qual, value) in &holders.kept {
            // Handler tables are small; a big data table is not walked on every reload.
            if value.len().is_ok_and(|n| n > HOLDERS_MAX) {
                continue;
            }
            let mut hits: Vec<(String, String)> = Vec::new();
            if let Ok(d) = value.cast::<PyDict>() {
                for (k, v) in d.iter() {
                    if let Some(f) = holders.replaced.get(&ptr(&v)) {
                        let key = k.repr().map(|r| r.to_string()).unwrap_or_default();
                        hits.push((format!("{qual}[{key}]"), f.clone()));
                    }
                }
            } else if (value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>())
                && let Ok(items) = value.try_iter()
            {
                for (i, v) in items.flatten().enumerate() {
                    if let Some(f) = holders.replaced.get(&ptr(&v)) {
                        hits.push((format!("{qual}[{i}]"), f.clone()));
                    }
                }
            }
            for (place, f) in hits {
                self.journal
                    .record(
                        Entry::new(&place, Kind::Data, Action::NotApplied).note(format!(
                            "holds the old {f}, which this reload replaced: calls through it run \
                         the old code; take the module's {f} again"
                        )),
                    );
            }
        }
    }

    /// For each global the new source removes, where tracked code still reads it (this module's
    /// new functions, other modules' `balance.NAME`): a note on its entry, so a dry run warns
    /// before the reload that the game would fail on it.
    fn note_removed_names_in_use(
        &mut self,
        old_ns: &Bound<'py, PyDict>,
        new_ns: &Bound<'py, PyDict>,
    ) {
        let mut removed: Vec<String> = Vec::new();
        for (n, _) in named_items(old_ns) {
            let gone = !is_dunder(&n)
                && !MACHINERY.contains(&n.as_str())
                && !new_ns.contains(&n).unwrap_or(true)
                && self.inp.overrides.get(&n) != Override::Keep
                && self.defined_before(&n);
            if gone {
                removed.push(n);
            }
        }
        if removed.is_empty() {
            return;
        }
        // The script itself too: a removed name it reads kills the program as surely.
        let mut tracked = super::tracker::names();
        if !tracked.iter().any(|n| n == "__main__") {
            tracked.push("__main__".to_string());
        }
        let users = helpers(self.py)
            .and_then(|h| h.getattr(name!(self.py, "users_of")))
            .and_then(|f| {
                let (shifts, fresh) = match self.partial.as_ref() {
                    Some(p) => (Some(p.shifts.clone()), p.merged.iter().cloned().collect()),
                    None => (None, Vec::new()),
                };
                f.call1((self.inp.module, removed, tracked, new_ns, shifts, fresh))
            })
            .and_then(|d| d.extract::<HashMap<String, Vec<String>>>());
        // Finding users is advice: a failure to look leaves the entries as they were.
        let Ok(users) = users else {
            return;
        };
        for (name, places) in users {
            let shown: Vec<&str> = places.iter().take(5).map(String::as_str).collect();
            let more = places.len().saturating_sub(shown.len());
            let tail = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            self.journal.note_for(
                &name,
                format!(
                    "{}{}{tail}; those reads will fail with AttributeError or NameError",
                    crate::protocol::STILL_USED,
                    shown.join(", ")
                ),
            );
        }
    }

    /// A name the new source (module or class body) no longer binds: removed when the last load
    /// defined it and no `keep` override holds it, otherwise live state that stays. Records the
    /// entry; returns true if the name is to be removed.
    fn removed_or_kept(&mut self, qual: &str, old: &Obj<'py>, in_class: bool) -> bool {
        let shape = if in_class { classify } else { classify_global };
        let kind = shape(old).report_kind(in_class);
        let defined = self.defined_before(qual);
        if defined && self.inp.overrides.get(qual) != Override::Keep {
            let note = if in_class {
                "no longer in the class body"
            } else {
                "no longer in the source"
            };
            self.journal
                .record(Entry::new(qual, kind, Action::Removed).was(old).note(note));
            return true;
        }
        let note = match (defined, in_class) {
            (true, _) => "removed from the source, kept by override",
            (false, true) => "set at run time, not by the class body: kept",
            (false, false) => "created at run time, not by the source: live state kept",
        };
        self.journal.record(
            Entry::new(qual, kind, Action::KeptLive)
                .values(old, old)
                .note(note),
        );
        false
    }

    /// Records the fingerprints a freshly added value contributes to the next baseline.
    fn record_new_fps(&mut self, qual: &str, new: &Obj<'py>) {
        self.next.record(qual, new, self.inp.module, 0);
    }

    /// Merges one attribute present before and after. Returns true when the old object stays.
    fn merge_value(&mut self, both: Both<'_, 'py>, in_class: bool) -> PyResult<bool> {
        let Both { qual, old, new } = both;
        let shape = if in_class { classify } else { classify_global };
        let (ko, kn) = (shape(old), shape(new));
        let kind = kn.report_kind(in_class);
        if old.is(new) {
            if matches!(kn, ObjKind::Data) {
                self.next.fps.insert(qual.to_string(), fingerprint(new));
                let mut budget = super::baseline::KEYS_MAX;
                self.next.record_keys(qual, new, 0, &mut budget);
            }
            self.journal
                .record(Entry::new(qual, kind, Action::Unchanged));
            return Ok(true);
        }
        if ko != kn {
            self.record_new_fps(qual, new);
            self.fix.fresh.push(new.clone());
            let note = format!(
                "was a {}, now a {}: took the new object",
                ko.word(),
                kn.word()
            );
            self.journal.record(
                Entry::new(qual, kind, Action::Replaced)
                    .values(old, new)
                    .note(note),
            );
            return Ok(false);
        }
        match (ko, kn) {
            (ObjKind::Data, ObjKind::Data) => Ok(!self.merge_data(both, kind)),
            (ObjKind::Function, ObjKind::Function) => {
                let result = self.patch_function(both, 0);
                Ok(self.report_patched(both, kind, result, ""))
            }
            (ObjKind::Wrapper(oi), ObjKind::Wrapper(ni)) => {
                self.merge_wrapped(both, Both::new(qual, &oi, &ni), kind, true)
            }
            (ObjKind::ClassMethod(oi), ObjKind::ClassMethod(ni))
            | (ObjKind::StaticMethod(oi), ObjKind::StaticMethod(ni)) => {
                self.merge_wrapped(both, Both::new(qual, &oi, &ni), kind, false)
            }
            (ObjKind::Property(oa), ObjKind::Property(na)) => {
                Ok(self.merge_property(qual, kind, (old, &oa), (new, &na)))
            }
            (ObjKind::Class, ObjKind::Class) => self.merge_class_value(qual, old, new),
            // A builtin made anew by the same expression (`concat = "".join`) is equal to the old
            // one: nothing changed, the old object stays. Only objects of C types: comparing
            // runs no user `__eq__`.
            (ObjKind::Other, ObjKind::Other)
                if !python_instance(new) && old.eq(new).unwrap_or(false) =>
            {
                self.journal
                    .record(Entry::new(qual, kind, Action::Unchanged));
                Ok(true)
            }
            (ObjKind::Module, ObjKind::Module) | (ObjKind::Other, ObjKind::Other) => {
                self.fix.fresh.push(new.clone());
                self.journal
                    .record(Entry::new(qual, kind, Action::TookNew).values(old, new));
                Ok(false)
            }
            _ => unreachable!("kinds compared equal above"),
        }
    }
}
