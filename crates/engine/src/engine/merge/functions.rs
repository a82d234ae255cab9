//! Functions (DESIGN.md "function", "decorated function"): the old function object stays and
//! gets the new code, defaults, docs and attributes; closure cells are matched by name and their
//! contents merged; `functools.wraps` chains and `lru_cache` wrappers are patched through
//! `__wrapped__`; classmethods, staticmethods and properties through their functions.

use foldhash::{HashMap, HashMapExt};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::data::same_value;
use super::fixup::Defaults;
use super::{Both, Entry, Merge, Obj};
use crate::engine::classify::{ObjKind, classify};
use crate::engine::names::name;
use crate::engine::pyobj::ptr;
use crate::protocol::{Action, Kind};

/// Wrappers and closures nested deeper than this are not followed.
const MAX_DEPTH: usize = 16;

/// The outcome of patching one function.
pub(super) enum Patched {
    Unchanged,
    Swapped,
    /// The code could not go into the old object (the reason): the new function is bound.
    Replaced(String),
}

/// An old object and the function (or accessors) inside it, likewise for the new one.
type Pair<'b, 'py, T> = (&'b Obj<'py>, &'b T);

impl<'py> Merge<'py, '_> {
    /// Reports a patched function (or descriptor); returns true when the old object stays.
    pub(super) fn report_patched(
        &mut self,
        both: Both<'_, 'py>,
        kind: Kind,
        result: Patched,
        swapped_note: &str,
    ) -> bool {
        let Both { qual, old, new } = both;
        match result {
            Patched::Unchanged => {
                self.ids.keep(new, old);
                self.journal
                    .record(Entry::new(qual, kind, Action::Unchanged));
                true
            }
            Patched::Swapped => {
                self.ids.keep(new, old);
                self.journal.record(
                    Entry::new(qual, kind, Action::CodeSwapped)
                        .values(old, new)
                        .note(swapped_note),
                );
                true
            }
            Patched::Replaced(why) => {
                // The new function is the module's now: its closure cells are what the next
                // reload compares with.
                self.record_new_fps(qual, new);
                self.fix.fresh.push(new.clone());
                self.stale_holders
                    .replaced
                    .entry(ptr(old))
                    .or_insert_with(|| qual.to_string());
                self.journal.record(
                    Entry::new(qual, kind, Action::Replaced)
                        .values(old, new)
                        .note(format!(
                            "{why}: calls through the module or class run the new code, \
                             references held elsewhere keep the old"
                        )),
                );
                false
            }
        }
    }

    /// A wrapper around a function — an `lru_cache` wrapper (`cache`: its cache is cleared when
    /// the function changed), a classmethod, a staticmethod: the function inside is patched. A
    /// classmethod or staticmethod around something other than a plain function is replaced.
    pub(super) fn merge_wrapped(
        &mut self,
        outer: Both<'_, 'py>,
        inner: Both<'_, 'py>,
        kind: Kind,
        cache: bool,
    ) -> PyResult<bool> {
        let functions =
            classify(inner.old) == ObjKind::Function && classify(inner.new) == ObjKind::Function;
        if !cache && !functions {
            self.fix.fresh.push(outer.new.clone());
            self.journal.record(
                Entry::new(outer.qual, kind, Action::Replaced)
                    .values(outer.old, outer.new)
                    .note("wraps something other than a plain function: took the new descriptor"),
            );
            return Ok(false);
        }
        let result = self.patch_function(inner, 0);
        let changed = matches!(result, Patched::Swapped | Patched::Replaced(_));
        if cache && changed && self.inp.apply {
            outer.old.call_method0("cache_clear")?;
        }
        let note = if cache { "cache cleared" } else { "" };
        Ok(self.report_patched(outer, kind, result, note))
    }

    /// A decorated function given new code without its decorators running (an incremental
    /// reload whose decorator lines did not change): `live`, the plain function inside `outer`
    /// (what the module binds), gets `new`'s code; caches along the way are cleared.
    pub(crate) fn merge_undecorated(
        &mut self,
        qual: &str,
        outer: &Obj<'py>,
        live: &Obj<'py>,
        new: &Obj<'py>,
    ) -> PyResult<()> {
        self.next.defined.insert(qual.to_string());
        let kind = crate::engine::classify::classify_global(outer).report_kind(false);
        // What `functools.wraps` copied onto the wrappers when the decorators ran: copied again
        // from the new definition, as running them would.
        let copied = [name!(self.py, "__doc__"), name!(self.py, "__annotations__")];
        let before: Vec<Option<Obj<'py>>> = copied.iter().map(|a| live.getattr(*a).ok()).collect();
        match self.patch_function(Both::new(qual, live, new), 0) {
            Patched::Unchanged => {
                self.journal
                    .record(Entry::new(qual, kind, Action::Unchanged));
            }
            Patched::Swapped => {
                let mut cleared = false;
                let mut o = outer.clone();
                for _ in 0..MAX_DEPTH {
                    if o.is(live) {
                        break;
                    }
                    if self.inp.apply && o.hasattr(name!(self.py, "cache_clear"))? {
                        o.call_method0("cache_clear")?;
                        cleared = true;
                    }
                    for (attr, was) in copied.iter().zip(&before) {
                        let on_wrapper = o.getattr(*attr).ok();
                        if self.inp.apply
                            && let (Some(w), Some(was)) = (on_wrapper, was)
                            && w.is(was)
                        {
                            // A wrapper whose attribute cannot be set keeps the old one.
                            let _ = o.setattr(*attr, live.getattr(*attr)?);
                        }
                    }
                    match o.getattr(name!(self.py, "__wrapped__")) {
                        Ok(inner) => o = inner,
                        Err(_) => break,
                    }
                }
                let note = if cleared {
                    "its decorators did not change and were not run again; cache cleared"
                } else {
                    "its decorators did not change and were not run again"
                };
                // Named as a whole reload names it: by what the module binds.
                self.journal.record(
                    Entry::new(qual, kind, Action::CodeSwapped)
                        .values(outer, outer)
                        .note(note),
                );
            }
            Patched::Replaced(why) => {
                self.journal.record(
                    Entry::new(qual, kind, Action::NotApplied)
                        .note(format!("{why}; reload the whole module (full=True)")),
                );
            }
        }
        Ok(())
    }

    /// A property: patch each accessor in place when both have the same plain-function
    /// accessors; otherwise take the new property.
    pub(super) fn merge_property(
        &mut self,
        qual: &str,
        kind: Kind,
        (old, old_acc): Pair<'_, 'py, Vec<(&'static str, Obj<'py>)>>,
        (new, new_acc): Pair<'_, 'py, Vec<(&'static str, Obj<'py>)>>,
    ) -> bool {
        let names =
            |v: &Vec<(&'static str, Obj<'py>)>| v.iter().map(|(n, _)| *n).collect::<Vec<_>>();
        let (old_names, new_names) = (names(old_acc), names(new_acc));
        let plain = old_acc
            .iter()
            .chain(new_acc.iter())
            .all(|(_, f)| classify(f) == ObjKind::Function);
        if old_names != new_names || !plain {
            self.record_new_fps(qual, new);
            self.fix.fresh.push(new.clone());
            let note = if old_names == new_names {
                "an accessor is not a plain function, so it cannot be patched in place: took the \
                 new property"
                    .to_string()
            } else {
                format!(
                    "accessors changed from {old_names:?} to {new_names:?}: took the new property"
                )
            };
            self.journal.record(
                Entry::new(qual, kind, Action::Replaced)
                    .values(old, new)
                    .note(note),
            );
            return false;
        }
        let mut any = Patched::Unchanged;
        for ((n, of), (_, nf)) in old_acc.iter().zip(new_acc.iter()) {
            match self.patch_function(Both::new(&format!("{qual}.{n}"), of, nf), 0) {
                Patched::Unchanged => {}
                Patched::Swapped => {
                    if matches!(any, Patched::Unchanged) {
                        any = Patched::Swapped;
                    }
                }
                Patched::Replaced(why) => any = Patched::Replaced(why),
            }
        }
        if let Patched::Replaced(why) = any {
            self.fix.fresh.push(new.clone());
            self.journal.record(
                Entry::new(qual, kind, Action::Replaced)
                    .values(old, new)
                    .note(format!(
                        "an accessor could not be patched ({why}): took the new property"
                    )),
            );
            return false;
        }
        self.report_patched(Both::new(qual, old, new), kind, any, "")
    }

    /// Puts the new function's code into the old function object (DESIGN.md "function").
    pub(super) fn patch_function(&mut self, both: Both<'_, 'py>, depth: usize) -> Patched {
        match self.try_patch_function(both, depth) {
            Ok(p) => p,
            Err(e) => Patched::Replaced(format!("could not patch in place ({e})")),
        }
    }

    fn try_patch_function(&mut self, both: Both<'_, 'py>, depth: usize) -> PyResult<Patched> {
        let Both {
            qual: path,
            old,
            new,
        } = both;
        if old.is(new) {
            return Ok(Patched::Unchanged);
        }
        let py = self.py;
        // Attribute names are interned: this runs for every function of a module.
        let (oc, nc) = (
            old.getattr(name!(py, "__code__"))?,
            new.getattr(name!(py, "__code__"))?,
        );
        let (ofv_t, nfv_t) = (
            oc.getattr(name!(py, "co_freevars"))?,
            nc.getattr(name!(py, "co_freevars"))?,
        );
        let same_freevars = ofv_t.is(&nfv_t) || ofv_t.eq(&nfv_t)?;
        let ofv: Vec<String> = ofv_t.extract()?;
        if !same_freevars {
            let nfv: Vec<String> = nfv_t.extract()?;
            return Ok(Patched::Replaced(format!(
                "its free variables changed from ({}) to ({})",
                ofv.join(", "),
                nfv.join(", ")
            )));
        }
        let mut changed = !code_equal(&oc, &nc)?;
        if changed {
            self.note_running(path, &oc)?;
            if self.inp.closures && self.inp.apply {
                self.fix.patched_code.push(old.clone());
            }
        }
        // Read once: compared here, kept for the fix-up, set below.
        let (defaults, kwdefaults) = (name!(py, "__defaults__"), name!(py, "__kwdefaults__"));
        let old_defaults = (old.getattr(defaults)?, old.getattr(kwdefaults)?);
        let new_defaults = (new.getattr(defaults)?, new.getattr(kwdefaults)?);
        if !same_value(&old_defaults.0, &new_defaults.0)
            || !same_value(&old_defaults.1, &new_defaults.1)
        {
            changed = true;
        }
        // __wrapped__ (functools.wraps): patch the inner function, keep the old object.
        let dict_name = name!(py, "__dict__");
        let new_dict = new.getattr(dict_name)?.cast_into::<PyDict>()?;
        let old_dict = old.getattr(dict_name)?.cast_into::<PyDict>()?;
        // Most functions have no attributes: then there is nothing to merge or assign.
        let plain = new_dict.is_empty() && old_dict.is_empty();
        let new_dict = if plain { new_dict } else { new_dict.copy()? };
        if !plain
            && let (Some(ow), Some(nw)) = (
                old_dict.get_item("__wrapped__")?,
                new_dict.get_item("__wrapped__")?,
            )
            && classify(&ow) == ObjKind::Function
            && classify(&nw) == ObjKind::Function
            && depth < MAX_DEPTH
        {
            let wpath = format!("{path}.__wrapped__");
            match self.patch_function(Both::new(&wpath, &ow, &nw), depth + 1) {
                Patched::Unchanged => {
                    new_dict.set_item("__wrapped__", &ow)?;
                }
                Patched::Swapped => {
                    changed = true;
                    new_dict.set_item("__wrapped__", &ow)?;
                }
                Patched::Replaced(why) => {
                    changed = true;
                    self.journal.record(
                        Entry::new(&wpath, Kind::Function, Action::Replaced)
                            .values(&ow, &nw)
                            .note(why),
                    );
                }
            }
        }
        // Closure cells, matched by name (the tuples are equal, so positions agree).
        let (ocl, ncl) = (
            old.getattr(name!(py, "__closure__"))?,
            new.getattr(name!(py, "__closure__"))?,
        );
        if !ocl.is_none() && !ncl.is_none() {
            let ocells: Vec<_> = ocl.try_iter()?.collect::<PyResult<_>>()?;
            let ncells: Vec<_> = ncl.try_iter()?.collect::<PyResult<_>>()?;
            for ((var, oc), nc) in ofv.iter().zip(ocells).zip(ncells) {
                if self.merge_cell(Both::new(&format!("{path}::{var}"), &oc, &nc), depth)? {
                    changed = true;
                }
            }
        }
        if self.inp.apply {
            // The defaults it had, for the fix-up (a default that was a kept global stays it).
            old.setattr(name!(py, "__code__"), &nc)?;
            for (attr, was, value) in [
                (defaults, &old_defaults.0, &new_defaults.0),
                (kwdefaults, &old_defaults.1, &new_defaults.1),
            ] {
                if !was.is(value) {
                    old.setattr(attr, value)?;
                }
            }
            for attr in [name!(py, "__doc__"), name!(py, "__annotations__")] {
                let (was, value) = (old.getattr(attr)?, new.getattr(attr)?);
                // Reading `__annotations__` of a function without any makes an empty dict.
                let both_empty = || {
                    was.cast::<PyDict>().is_ok_and(PyDictMethods::is_empty)
                        && value.cast::<PyDict>().is_ok_and(PyDictMethods::is_empty)
                };
                if !was.is(&value) && !both_empty() {
                    old.setattr(attr, value)?;
                }
            }
            let (positional, keyword) = old_defaults;
            let before = Defaults {
                positional,
                keyword,
            };
            if !plain {
                old.setattr(dict_name, new_dict)?;
            }
            self.fix.patched.push((old.clone(), before));
        }
        self.ids.keep(new, old);
        Ok(if changed {
            Patched::Swapped
        } else {
            Patched::Unchanged
        })
    }

    /// Notes what keeps running the old code of a changed function: frames on a thread's stack
    /// (reported `not_applied`), and generators or coroutines already created.
    fn note_running(&mut self, path: &str, code: &Obj<'py>) -> PyResult<()> {
        const GENERATOR_LIKE: u32 = 0x20 | 0x80 | 0x200; // CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR
        let flags: u32 = code.getattr(name!(self.py, "co_flags"))?.extract()?;
        if flags & GENERATOR_LIKE != 0 {
            self.journal.note_for(
                path,
                "generators/coroutines created before the reload keep running the old code",
            );
        }
        if self.running.is_none() {
            self.running = Some(running_code(self.py)?);
        }
        let thread = self
            .running
            .as_ref()
            .and_then(|r| r.get(&ptr(code)).cloned());
        if let Some(thread) = thread {
            let entry = format!("{path} (running)");
            self.journal
                .record(Entry::new(&entry, Kind::Function, Action::NotApplied).note(
                format!(
                    "a frame on thread {thread:?} is running the old code and finishes with it; \
                     the next call runs the new code"
                ),
            ));
        }
        Ok(())
    }

    /// Merges one closure cell's content; the old cell stays. True if something changed.
    fn merge_cell(&mut self, cells: Both<'_, 'py>, depth: usize) -> PyResult<bool> {
        let Both {
            qual: key,
            old: old_cell,
            new: new_cell,
        } = cells;
        let contents = name!(self.py, "cell_contents");
        let (Ok(o), Ok(n)) = (old_cell.getattr(contents), new_cell.getattr(contents)) else {
            return Ok(false);
        };
        if o.is(&n) || self.ids.mapped(&n).is(&o) {
            // The same value (a small int both times): still the new load's value of the
            // cell, which the next reload compares with (without it the next reload would
            // take the program's count for a value created at run time, and reset it).
            if o.is(&n) && classify(&n) == ObjKind::Data {
                self.next
                    .fps
                    .insert(key.to_string(), crate::engine::fingerprint::fingerprint(&n));
                let mut budget = crate::engine::baseline::KEYS_MAX;
                self.next.record_keys(key, &n, 0, &mut budget);
            }
            return Ok(false);
        }
        match (classify(&o), classify(&n)) {
            (ObjKind::Function, ObjKind::Function) if depth < MAX_DEPTH => {
                match self.patch_function(Both::new(key, &o, &n), depth + 1) {
                    Patched::Unchanged => Ok(false),
                    Patched::Swapped => {
                        self.journal.record(
                            Entry::new(key, Kind::Function, Action::CodeSwapped)
                                .values(&o, &n)
                                .note("closure cell"),
                        );
                        Ok(true)
                    }
                    Patched::Replaced(why) => {
                        if self.inp.apply {
                            old_cell.setattr(contents, &n)?;
                        }
                        self.fix.fresh.push(n.clone());
                        self.journal.record(
                            Entry::new(key, Kind::Function, Action::Replaced)
                                .values(&o, &n)
                                .note(why),
                        );
                        Ok(true)
                    }
                }
            }
            (ObjKind::Wrapper(oi), ObjKind::Wrapper(ni)) if depth < MAX_DEPTH => {
                let r = self.patch_function(Both::new(key, &oi, &ni), depth + 1);
                if !matches!(r, Patched::Unchanged) && self.inp.apply {
                    o.call_method0("cache_clear")?;
                }
                Ok(!matches!(r, Patched::Unchanged))
            }
            (ObjKind::Data, ObjKind::Data) => {
                let take = self.merge_data(Both::new(key, &o, &n), Kind::Data);
                if take && self.inp.apply {
                    old_cell.setattr(contents, &n)?;
                    self.fix
                        .taken
                        .push((old_cell.clone(), "cell_contents".into()));
                }
                Ok(take)
            }
            _ => {
                // A class or other object in a cell: follow the source.
                if self.inp.apply {
                    old_cell.setattr(contents, self.ids.mapped(&n))?;
                }
                Ok(true)
            }
        }
    }
}

/// The code objects on every thread's stack, with the thread's name.
fn running_code(py: Python<'_>) -> PyResult<HashMap<usize, String>> {
    let sys = py.import("sys")?;
    let active = py.import("threading")?.getattr("_active")?;
    let mut out = HashMap::new();
    for item in sys
        .call_method0("_current_frames")?
        .call_method0("items")?
        .try_iter()?
    {
        let (ident, frame): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
        let name = active
            .get_item(&ident)
            .and_then(|t| t.getattr(name!(t.py(), "name")))
            .and_then(|n| n.extract::<String>())
            .unwrap_or_else(|_| format!("{ident}"));
        let mut f = Some(frame);
        while let Some(frame) = f.filter(|f| !f.is_none()) {
            out.insert(
                ptr(&frame.getattr(name!(frame.py(), "f_code"))?),
                name.clone(),
            );
            f = frame.getattr(name!(frame.py(), "f_back")).ok();
        }
    }
    Ok(out)
}

/// Code compared by value, ignoring line numbers: "unchanged" means the same behaviour.
fn code_equal(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = a.py();
    // co_code first: it tells a changed body at once.
    for attr in [
        name!(py, "co_code"),
        name!(py, "co_names"),
        name!(py, "co_varnames"),
        name!(py, "co_freevars"),
        name!(py, "co_cellvars"),
        name!(py, "co_argcount"),
        name!(py, "co_posonlyargcount"),
        name!(py, "co_kwonlyargcount"),
        name!(py, "co_flags"),
    ] {
        if !a.getattr(attr)?.eq(b.getattr(attr)?)? {
            return Ok(false);
        }
    }
    let ca = a.getattr(name!(py, "co_consts"))?.cast_into::<PyTuple>()?;
    let cb = b.getattr(name!(py, "co_consts"))?.cast_into::<PyTuple>()?;
    if ca.len() != cb.len() {
        return Ok(false);
    }
    let code_type = a.get_type();
    for (x, y) in ca.iter().zip(cb.iter()) {
        if x.is_instance(&code_type)? && y.is_instance(&code_type)? {
            if !code_equal(&x, &y)? {
                return Ok(false);
            }
        } else if !x.get_type().is(y.get_type()) || !x.eq(&y)? {
            return Ok(false);
        }
    }
    Ok(true)
}
