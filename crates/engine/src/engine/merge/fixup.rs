//! After the merge: the new body made throwaway classes and functions, and new objects that
//! point at them (a new function's defaults and closure cells, a new subclass's bases, an
//! instance the body created, a list of classes). Those references are pointed at the surviving
//! old objects. A reference that cannot be repaired is reported `not_applied`, never skipped.

use foldhash::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};

use super::{Entry, Identity, Journal, Merge, Obj};
use crate::engine::classify::{ObjKind, classify};
use crate::engine::names::name;
use crate::engine::pyobj::{class_items, helpers, ptr, short_repr, type_setattr};
use crate::protocol::{Action, Kind};

/// How many objects one fix-up may visit: a reload never walks a big heap.
const BUDGET: usize = 100_000;

/// A function's `__defaults__` and `__kwdefaults__` (each may be None).
pub(super) struct Defaults<'py> {
    pub positional: Obj<'py>,
    pub keyword: Obj<'py>,
}

/// Work lists the merge fills for the fix-up.
#[derive(Default)]
pub(super) struct FixUps<'py> {
    /// New functions and classes now bound somewhere: their cells, defaults and bases may still
    /// point at throwaway objects.
    pub fresh: Vec<Obj<'py>>,
    /// Patched old functions, with the defaults they had: their new defaults may hold throwaway
    /// objects, or new values of globals whose live value was kept.
    pub patched: Vec<(Obj<'py>, Defaults<'py>)>,
    /// Data kept live: new object → the live object that stays.
    pub kept_data: HashMap<usize, Obj<'py>>,
    /// New data values now bound: (owner — a dict, a class or a cell —, name).
    pub taken: Vec<(Obj<'py>, String)>,
    /// New values put into a live dict by the key-level merge: (dict, key).
    pub taken_items: Vec<(Bound<'py, PyDict>, Obj<'py>)>,
    /// Classes patched in place: (the class statement's new class, the live one).
    pub classes: Vec<(Obj<'py>, Obj<'py>)>,
    /// Functions whose code changed, when closures made before are to be updated.
    pub patched_code: Vec<Obj<'py>>,
}

impl Merge<'_, '_> {
    /// Points every new object the merge bound at the surviving old objects.
    pub(crate) fn fix_up(&mut self) {
        if !self.inp.apply {
            return;
        }
        let work = std::mem::take(&mut self.fix);
        let mut fixer = Fixer {
            ids: &self.ids,
            journal: &mut self.journal,
            budget: BUDGET,
        };
        for (owner, name) in &work.taken {
            fixer.fix_binding(owner, name);
        }
        for (dict, key) in &work.taken_items {
            fixer.fix_item(dict, key);
        }
        for (f, before) in &work.patched {
            fixer.keep_live_defaults(f, before, &work.kept_data);
            fixer.fix_defaults(f);
        }
        for obj in &work.fresh {
            fixer.fix_fresh(obj, 0);
        }
        self.rebind_registries(&work.classes);
        if self.inp.closures {
            self.update_closures(&work.patched_code);
        }
    }

    /// The opt-in heap scan (`closures=True`): functions made before the reload from a patched
    /// function's nested code (`h = make_handler("ui")`) get the new nested code. Reported as
    /// one entry with the count and the time the scan took.
    fn update_closures(&mut self, functions: &[Obj<'_>]) {
        let started = std::time::Instant::now();
        let functions: Vec<Obj<'_>> = functions.to_vec();
        let result = helpers(self.py)
            .and_then(|h| h.getattr(name!(self.py, "update_closures")))
            .and_then(|f| f.call1((functions,)))
            .and_then(|r| r.extract::<(usize, usize)>());
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let entry = match result {
            Ok((updated, scanned)) => Entry::new("closures", Kind::Function, Action::CodeSwapped)
                .note(format!(
                    "closures=True: {updated} closures made before the reload now run the new \
                     code ({scanned} objects scanned in {ms:.1} ms)"
                )),
            Err(e) => Entry::new("closures", Kind::Function, Action::NotApplied)
                .note(format!("closures=True: the scan failed: {e}")),
        };
        self.journal.record(entry);
    }

    /// Registries that picked up a class statement's new class (a metaclass, an
    /// `__init_subclass__`, a class decorator) get the live class instead (see
    /// `helpers.rebind_registries`); each rebinding is reported.
    fn rebind_registries(&mut self, classes: &[(Obj<'_>, Obj<'_>)]) {
        if classes.is_empty() {
            return;
        }
        let pairs: Vec<(Obj<'_>, Obj<'_>)> = classes.to_vec();
        // An incremental reload knows whether a class decorator ran; without one, only
        // classes with a metaclass or an `__init_subclass__` can have registered themselves.
        let undecorated = self.partial.as_ref().is_some_and(|p| !p.decorated_classes);
        let done = helpers(self.py)
            .and_then(|h| h.getattr(name!(self.py, "rebind_registries")))
            .and_then(|f| {
                f.call1((
                    pairs,
                    super::super::tracker::names(),
                    self.inp.module,
                    undecorated,
                ))
            })
            .and_then(|r| r.extract::<Vec<String>>());
        match done {
            Ok(places) => {
                for place in places {
                    self.journal
                        .record(Entry::new(&place, Kind::Class, Action::KeptLive).note(
                            "a registry held the class the re-run class statement made; it now \
                             holds the live class",
                        ));
                }
            }
            Err(e) => self.journal.record(
                Entry::new("registries", Kind::Other, Action::NotApplied).note(format!(
                    "could not look for registries holding the new classes: {e}"
                )),
            ),
        }
    }
}

/// One fix-up pass: the identity map to apply, where to report what failed, the visit budget.
struct Fixer<'m, 'py> {
    ids: &'m Identity<'py>,
    journal: &'m mut Journal,
    budget: usize,
}

/// A name for an object in a report entry: its qualname, or a short repr.
fn label(o: &Bound<'_, PyAny>) -> String {
    o.getattr(name!(o.py(), "__qualname__"))
        .and_then(|q| q.extract::<String>())
        .unwrap_or_else(|_| short_repr(o))
}

impl<'py> Fixer<'_, 'py> {
    fn failed(&mut self, what: &str, obj: &Obj<'py>, e: &PyErr) {
        self.journal.record(
            Entry::new(what, Kind::Other, Action::NotApplied)
                .now(obj)
                .note(format!(
                    "still refers to a throwaway object the new module body made (the module \
                     keeps the old one in its place): could not repair it: {e}"
                )),
        );
    }

    /// `owner[name]` (or `owner.name`), a new value the merge took.
    /// A value the key-level merge put into a live dict.
    fn fix_item(&mut self, dict: &Bound<'py, PyDict>, key: &Obj<'py>) {
        let Ok(Some(value)) = dict.get_item(key) else {
            return;
        };
        let what = || short_repr(key);
        let Some(fixed) = self.fix_value(&value, &what, 0) else {
            return;
        };
        if let Err(e) = dict.set_item(key, fixed) {
            self.failed(&what(), &value, &e);
        }
    }

    fn fix_binding(&mut self, owner: &Obj<'py>, name: &str) {
        let value = if let Ok(d) = owner.cast::<PyDict>() {
            d.get_item(name).ok().flatten()
        } else if owner.is_instance_of::<PyType>() {
            // The class's own entry, not what it gives through the descriptor protocol (a
            // classmethod would come back bound, a `__doc__` descriptor as its text).
            owner
                .getattr(name!(owner.py(), "__dict__"))
                .and_then(|d| d.get_item(name))
                .ok()
        } else {
            owner.getattr(name).ok()
        };
        // Gone since (a class body's own later statements): nothing left to repair.
        let Some(value) = value else {
            return;
        };
        let Some(fixed) = self.fix_value(&value, &|| name.to_string(), 0) else {
            return;
        };
        let done = if let Ok(d) = owner.cast::<PyDict>() {
            d.set_item(name, fixed)
        } else if let Ok(cls) = owner.cast::<PyType>() {
            type_setattr(cls, name, &fixed)
        } else {
            owner.setattr(name, fixed)
        };
        if let Err(e) = done {
            self.failed(name, &value, &e);
        }
    }

    /// A default that was the live value of a global the merge kept (`def register(...,
    /// registry=REGISTRY)`) and is now that global's new value stays the live value, as the
    /// global does. Only where the old default was that very object: a default that merely
    /// equals a global's new object (a shared sentinel) is left alone.
    fn keep_live_defaults(
        &mut self,
        f: &Obj<'py>,
        before: &Defaults<'py>,
        kept: &HashMap<usize, Obj<'py>>,
    ) {
        if kept.is_empty() {
            return;
        }
        let live = |new: &Obj<'py>, old: Option<Obj<'py>>| -> Option<Obj<'py>> {
            let kept_live = kept.get(&ptr(new))?;
            old.filter(|o| o.is(kept_live))
        };
        let py = f.py();
        if let (Ok(new), Ok(old)) = (
            f.getattr(name!(py, "__defaults__"))
                .and_then(|d| d.cast_into::<PyTuple>().map_err(Into::into)),
            before.positional.cast::<PyTuple>(),
        ) && new.len() == old.len()
        {
            let items: Vec<(Obj<'py>, bool)> = new
                .iter()
                .zip(old.iter())
                .map(|(n, o)| match live(&n, Some(o)) {
                    Some(l) => (l, true),
                    None => (n, false),
                })
                .collect();
            if items.iter().any(|(_, changed)| *changed) {
                let done = PyTuple::new(py, items.into_iter().map(|(v, _)| v))
                    .and_then(|t| f.setattr(name!(py, "__defaults__"), t));
                if let Err(e) = done {
                    self.failed(&format!("{}.__defaults__", label(f)), f, &e);
                }
            }
        }
        if let (Ok(new), Ok(old)) = (
            f.getattr(name!(py, "__kwdefaults__"))
                .and_then(|d| d.cast_into::<PyDict>().map_err(Into::into)),
            before.keyword.cast::<PyDict>(),
        ) {
            for (k, n) in new.iter() {
                if let Some(l) = live(&n, old.get_item(&k).ok().flatten())
                    && let Err(e) = new.set_item(&k, l)
                {
                    self.failed(&format!("{}.__kwdefaults__", label(f)), f, &e);
                }
            }
        }
    }

    fn fix_defaults(&mut self, f: &Obj<'py>) {
        for attr in ["__defaults__", "__kwdefaults__"] {
            let Ok(v) = f.getattr(attr) else {
                continue;
            };
            // Named only when something is to be reported: a reload fixes thousands.
            let what = || format!("{}.{attr}", label(f));
            if let Some(fixed) = self.fix_value(&v, &what, 0)
                && let Err(e) = f.setattr(attr, fixed)
            {
                self.failed(&what(), f, &e);
            }
        }
    }

    /// Points a new function's cells and defaults, or a new class's bases and members, at the
    /// surviving objects instead of the throwaway ones.
    fn fix_fresh(&mut self, obj: &Obj<'py>, depth: usize) {
        if depth > 8 || self.budget == 0 {
            return;
        }
        self.budget -= 1;
        match classify(obj) {
            ObjKind::Function => {
                self.fix_defaults(obj);
                self.fix_cells(obj);
            }
            ObjKind::Wrapper(inner)
            | ObjKind::ClassMethod(inner)
            | ObjKind::StaticMethod(inner) => {
                self.fix_fresh(&inner, depth + 1);
            }
            ObjKind::Property(acc) => {
                for (_, f) in acc {
                    self.fix_fresh(&f, depth + 1);
                }
            }
            ObjKind::Class => {
                if let Ok(cls) = obj.cast::<PyType>() {
                    self.fix_bases(cls);
                    // A class's own members: readable unless its metaclass forbids it.
                    for (_, v) in class_items(cls).unwrap_or_default() {
                        if matches!(
                            classify(&v),
                            ObjKind::Function
                                | ObjKind::ClassMethod(_)
                                | ObjKind::StaticMethod(_)
                                | ObjKind::Property(_)
                        ) {
                            self.fix_fresh(&v, depth + 1);
                        }
                    }
                }
            }
            ObjKind::Data | ObjKind::Module | ObjKind::Other => {}
        }
    }

    fn fix_cells(&mut self, f: &Obj<'py>) {
        let py = f.py();
        let Ok(cells) = f
            .getattr(name!(py, "__closure__"))
            .and_then(|cl| cl.try_iter().map(|it| it.flatten().collect::<Vec<_>>()))
        else {
            // No closure (None is not iterable): nothing to repair.
            return;
        };
        for cell in cells {
            // An empty cell (a variable not assigned yet) has no contents to repair.
            let Ok(c) = cell.getattr(name!(py, "cell_contents")) else {
                continue;
            };
            let what = || format!("{} (closure)", label(f));
            if let Some(fixed) = self.fix_value(&c, &what, 0)
                && let Err(e) = cell.setattr(name!(py, "cell_contents"), fixed)
            {
                self.failed(&what(), f, &e);
            }
        }
    }

    fn fix_bases(&mut self, cls: &Bound<'py, PyType>) {
        let Ok(bases) = cls
            .getattr(name!(cls.py(), "__bases__"))
            .and_then(|b| b.cast_into::<PyTuple>().map_err(Into::into))
        else {
            return;
        };
        if !bases.iter().any(|b| self.ids.is_replaced(&b)) {
            return;
        }
        let mapped: Vec<Obj<'py>> = bases.iter().map(|b| self.ids.mapped(&b).clone()).collect();
        let done = PyTuple::new(cls.py(), mapped)
            .and_then(|t| cls.setattr(name!(cls.py(), "__bases__"), t));
        if let Err(e) = done {
            let what = format!("{}.__bases__", label(cls.as_any()));
            self.failed(&what, cls.as_any(), &e);
        }
    }

    /// A value with throwaway objects replaced by the surviving ones: `Some` when the value itself
    /// must be replaced; containers are fixed in place (lists, dicts) or rebuilt (tuples).
    /// `what` names where the value lives, for the report.
    fn fix_value(
        &mut self,
        v: &Obj<'py>,
        what: &dyn Fn() -> String,
        depth: usize,
    ) -> Option<Obj<'py>> {
        if self.budget == 0 || depth > 4 {
            return None;
        }
        self.budget -= 1;
        if let Some(old) = self.ids.old_of(v) {
            return Some(old.clone());
        }
        let ty = v.get_type().into_any();
        if let Some(old_cls) = self.ids.old_of(&ty) {
            // An instance the new module body made of a throwaway class: give it the real class.
            if let Err(e) = v.setattr(name!(v.py(), "__class__"), old_cls) {
                self.failed(&what(), v, &e);
            }
            return None;
        }
        if let Ok(l) = v.cast_exact::<PyList>() {
            for i in 0..l.len() {
                if let Ok(item) = l.get_item(i)
                    && let Some(f) = self.fix_value(&item, what, depth + 1)
                    && let Err(e) = l.set_item(i, f)
                {
                    self.failed(&what(), v, &e);
                }
            }
        } else if let Ok(d) = v.cast::<PyDict>() {
            let items: Vec<_> = d.iter().collect();
            for (k, item) in items {
                if let Some(f) = self.fix_value(&item, what, depth + 1)
                    && let Err(e) = d.set_item(k, f)
                {
                    self.failed(&what(), v, &e);
                }
            }
        } else if let Ok(t) = v.cast_exact::<PyTuple>() {
            let fixed: Vec<Option<Obj<'py>>> = t
                .iter()
                .map(|i| self.fix_value(&i, what, depth + 1))
                .collect();
            if fixed.iter().any(Option::is_some) {
                let items: Vec<Obj<'py>> =
                    t.iter().zip(fixed).map(|(i, f)| f.unwrap_or(i)).collect();
                match PyTuple::new(v.py(), items) {
                    Ok(t) => return Some(t.into_any()),
                    Err(e) => self.failed(&what(), v, &e),
                }
            }
        }
        None
    }
}
