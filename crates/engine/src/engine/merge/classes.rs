//! Classes (DESIGN.md "class"): pass 1 pairs every class of the old namespace with its new
//! counterpart and finds changes a class cannot take in place (bases, `__slots__`, metaclass,
//! layout) before anything is touched; pass 2 merges members into the old class object —
//! methods patched, class data by the data rule, members gone removed, dataclass machinery
//! regenerated, enum members kept (`enums.rs`).

use foldhash::{HashMap, HashSet, HashSetExt};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple, PyType};

use super::{Both, Entry, Merge, Obj};
use crate::engine::classify::{ObjKind, classify, skip_member};
use crate::engine::names::name;
use crate::engine::pyobj::{
    class_items, is_enum_class, named_items, owned_by, ptr, qualname, short_repr, type_delattr,
    type_setattr,
};
use crate::protocol::{Action, Kind};

/// Nested classes deeper than this are not paired.
const MAX_NESTING: usize = 16;

/// Dataclass machinery: always regenerated from the new class.
const DATACLASS_MACHINERY: [&str; 3] = [
    "__dataclass_fields__",
    "__dataclass_params__",
    "__match_args__",
];

/// The members of an old and a new class, by name.
type ClassItems<'py> = (Vec<(String, Obj<'py>)>, Vec<(String, Obj<'py>)>);

/// What pass 1 found, and which classes pass 2 merged already.
#[derive(Default)]
pub(super) struct ClassPlan<'py> {
    /// Classes that cannot change in place: (qualname, reason).
    incompatible: Vec<(String, String)>,
    /// Members of each class pair, by the new class: read in pass 1, used again in pass 2.
    items: HashMap<usize, ClassItems<'py>>,
}

impl<'py> Merge<'py, '_> {
    /// Pass 1: pairs old and new classes (nested ones too) and records incompatible changes.
    pub(crate) fn map_classes(
        &mut self,
        old_ns: &Bound<'py, PyDict>,
        new_ns: &Bound<'py, PyDict>,
    ) -> PyResult<()> {
        for (name, new) in named_items(new_ns) {
            if let Some(old) = old_ns.get_item(&name)? {
                self.map_class_pair(Both::new(&name, &old, &new), 0)?;
            }
        }
        Ok(())
    }

    /// The classes pass 1 found that cannot change in place: (qualname, reason).
    pub(crate) fn incompatible(&self) -> &[(String, String)] {
        &self.classes.incompatible
    }

    fn map_class_pair(&mut self, both: Both<'_, 'py>, depth: usize) -> PyResult<()> {
        let Both { qual, old, new } = both;
        let (Ok(old), Ok(new)) = (old.cast::<PyType>(), new.cast::<PyType>()) else {
            return Ok(());
        };
        if old.is(new) || depth > MAX_NESTING || self.ids.is_replaced(new.as_any()) {
            return Ok(());
        }
        // Only classes this module defines are patched; an imported class is just rebound.
        let module = self.inp.module;
        if !owned_by(old, module, qual) || !owned_by(new, module, qual) {
            return Ok(());
        }
        self.ids.keep(new.as_any(), old.as_any());
        if let Some(reason) = self.incompatibility(old, new)? {
            self.classes.incompatible.push((qual.to_string(), reason));
        }
        let (old_list, new_list) = (class_items(old)?, class_items(new)?);
        let old_items: HashMap<&str, &Obj<'py>> =
            old_list.iter().map(|(k, v)| (k.as_str(), v)).collect();
        for (k, v) in &new_list {
            // Nested classes only (the path is built for those alone: a class has many members).
            if let Some(o) = old_items.get(k.as_str())
                && v.is_instance_of::<PyType>()
                && o.is_instance_of::<PyType>()
            {
                self.map_class_pair(Both::new(&format!("{qual}.{k}"), o, v), depth + 1)?;
            }
        }
        drop(old_items);
        self.classes
            .items
            .insert(ptr(new.as_any()), (old_list, new_list));
        Ok(())
    }

    /// Why `old` cannot become `new` in place, if it cannot.
    fn incompatibility(
        &self,
        old: &Bound<'py, PyType>,
        new: &Bound<'py, PyType>,
    ) -> PyResult<Option<String>> {
        let name = |t: &Obj<'py>| -> String {
            t.getattr(name!(t.py(), "__qualname__"))
                .map_or_else(|_| "?".into(), |q| q.to_string())
        };
        let (old_meta, new_meta) = (old.get_type().into_any(), new.get_type().into_any());
        if !self.ids.mapped(&new_meta).is(&old_meta) {
            return Ok(Some(format!(
                "its metaclass changed from {} to {}",
                name(&old_meta),
                name(&new_meta)
            )));
        }
        let old_bases = old
            .getattr(name!(old.py(), "__bases__"))?
            .cast_into::<PyTuple>()?;
        let new_bases = new
            .getattr(name!(new.py(), "__bases__"))?
            .cast_into::<PyTuple>()?;
        let same_bases = old_bases.len() == new_bases.len()
            && old_bases
                .iter()
                .zip(new_bases.iter())
                .all(|(o, n)| self.ids.mapped(&n).is(&o));
        if !same_bases {
            let list =
                |t: &Bound<'py, PyTuple>| t.iter().map(|b| name(&b)).collect::<Vec<_>>().join(", ");
            return Ok(Some(format!(
                "its bases changed from ({}) to ({})",
                list(&old_bases),
                list(&new_bases)
            )));
        }
        let slots = |c: &Bound<'py, PyType>| -> PyResult<Option<String>> {
            match c.getattr(name!(c.py(), "__dict__"))?.get_item("__slots__") {
                Ok(s) => Ok(Some(s.repr()?.to_string())),
                Err(_) => Ok(None),
            }
        };
        let (os, ns) = (slots(old)?, slots(new)?);
        if os != ns {
            return Ok(Some(format!(
                "its __slots__ changed from {} to {}",
                os.as_deref().unwrap_or("(none)"),
                ns.as_deref().unwrap_or("(none)")
            )));
        }
        let py = old.py();
        for attr in [
            name!(py, "__basicsize__"),
            name!(py, "__itemsize__"),
            name!(py, "__dictoffset__"),
            name!(py, "__weakrefoffset__"),
        ] {
            if !old.getattr(attr)?.eq(new.getattr(attr)?)? {
                return Ok(Some(format!("its instance layout changed ({attr})")));
            }
        }
        if old.is_subclass(&self.py.get_type::<PyTuple>())? {
            let (of, nf) = (
                old.getattr(name!(old.py(), "_fields")).ok(),
                new.getattr(name!(new.py(), "_fields")).ok(),
            );
            if let (Some(of), Some(nf)) = (of, nf)
                && !of.eq(&nf)?
            {
                return Ok(Some(format!(
                    "its NamedTuple fields changed from {} to {}: existing instances are tuples of the old shape",
                    of.repr()?,
                    nf.repr()?
                )));
            }
        }
        Ok(None)
    }

    /// Pass 2 for a name bound to a class in both namespaces. Returns true when the old class
    /// stays.
    pub(super) fn merge_class_value(
        &mut self,
        qual: &str,
        old: &Obj<'py>,
        new: &Obj<'py>,
    ) -> PyResult<bool> {
        let is_pair = self.ids.old_of(new).is_some_and(|o| o.is(old));
        if !is_pair {
            // An imported class, or a name rebound to another class: take the new one.
            self.fix.fresh.push(new.clone());
            self.journal.record(
                Entry::new(qual, Kind::Class, Action::TookNew)
                    .values(old, new)
                    .note("not a class this module defines here: rebound"),
            );
            return Ok(false);
        }
        let (oc, nc) = (old.cast::<PyType>()?.clone(), new.cast::<PyType>()?.clone());
        // Paired in pass 1 under its own name; `qual` may be another name for it (jinja2's
        // `Environment.template_class = Template`).
        let own = qualname(&oc).unwrap_or_default();
        let incompatible = self
            .classes
            .incompatible
            .iter()
            .find(|(q, _)| *q == own)
            .map(|(_, reason)| reason.clone());
        if let Some(reason) = incompatible {
            if own == qual {
                self.ids.forget(new);
                self.record_new_fps(qual, new);
            }
            self.fix.fresh.push(new.clone());
            self.journal.record(
                Entry::new(qual, Kind::Class, Action::Replaced)
                    .values(old, new)
                    .note(format!(
                        "{reason}; replace_incompatible: bound the new class, existing \
                         instances keep the old one"
                    )),
            );
            return Ok(false);
        }
        if own != qual {
            // Merged once, under its own name.
            let note = format!("refers to class {own}, merged under its own name");
            self.journal
                .record(Entry::new(qual, Kind::Class, Action::Unchanged).note(note));
            return Ok(true);
        }
        // The class's own entry comes first; it says `class_patched` if a member changed.
        let entry = self.journal.len();
        self.journal
            .record(Entry::new(qual, Kind::Class, Action::Unchanged));
        self.merge_class(Both::new(qual, &oc, &nc))?;
        self.fix.classes.push((new.clone(), old.clone()));
        if self.journal.any_change_since(entry + 1) {
            let repr = short_repr(old);
            self.journal
                .amend(entry, Action::ClassPatched, repr.clone(), repr);
        }
        Ok(true)
    }

    fn merge_class(&mut self, classes: Both<'_, 'py, PyType>) -> PyResult<()> {
        let Both { qual, old, new } = classes;
        let is_enum = is_enum_class(old);
        let member_names: HashSet<String> = if is_enum {
            self.merge_enum_members(qual, old, new)?
        } else {
            HashSet::new()
        };
        let (old_items, new_items) = match self.classes.items.remove(&ptr(new.as_any())) {
            Some(lists) => lists,
            None => (class_items(old)?, class_items(new)?),
        };
        let old_map: HashMap<&str, &Obj<'py>> =
            old_items.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let new_keys: HashSet<&str> = new_items.iter().map(|(k, _)| k.as_str()).collect();
        let skip = |k: &str, v: &Obj<'py>| -> bool {
            if skip_member(k) || member_names.contains(k) {
                return true;
            }
            if is_enum && super::enums::enum_internal(k) && classify(v) == ObjKind::Data {
                return true;
            }
            let tn = v
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default();
            tn == "member_descriptor" || tn == "getset_descriptor"
        };
        for (k, n) in &new_items {
            if skip(k, n) {
                // The docstring follows the source: the value in the new class's own dict (a
                // descriptor there stays a descriptor, not the value it gives on the class).
                // The same object (None, an interned text) needs no setting.
                let same = old_map.get(k.as_str()).is_some_and(|o| o.is(n));
                if k == "__doc__" && self.inp.apply && !same {
                    let mq = format!("{qual}.{k}");
                    match type_setattr(old, k, n) {
                        // A descriptor the new body made is of a throwaway class: fixed up.
                        Ok(()) => self.fix.taken.push((old.clone().into_any(), k.clone())),
                        Err(e) => self.journal.record(
                            Entry::new(&mq, Kind::Data, Action::NotApplied)
                                .now(n)
                                .note(format!("could not set the class docstring: {e}")),
                        ),
                    }
                }
                continue;
            }
            let mq = format!("{qual}.{k}");
            self.next.defined.insert(mq.clone());
            if DATACLASS_MACHINERY.contains(&k.as_str()) {
                self.merge_dataclass_machinery(&mq, old, k, old_map.get(k.as_str()).copied(), n)?;
                continue;
            }
            match old_map.get(k.as_str()) {
                None => {
                    self.record_new_fps(&mq, n);
                    if self.inp.apply {
                        type_setattr(old, k, n)?;
                    }
                    self.fix.fresh.push(n.clone());
                    let kind = classify(n).report_kind(true);
                    self.journal
                        .record(Entry::new(&mq, kind, Action::Added).now(n));
                }
                Some(o) => self.merge_member(&mq, old, k, o, n),
            }
        }
        for (k, o) in &old_items {
            if new_keys.contains(k.as_str()) || skip(k, o) {
                continue;
            }
            let mq = format!("{qual}.{k}");
            if self.removed_or_kept(&mq, o, true) && self.inp.apply {
                type_delattr(old, k)?;
            }
        }
        // `type.__abstractmethods__` reads the class's own dict: set there or not at all.
        if self.inp.apply && old_map.contains_key("__abstractmethods__") {
            self.refresh_abstract_methods(old)?;
        }
        Ok(())
    }

    /// One member present in the old and the new class body.
    fn merge_member(
        &mut self,
        mq: &str,
        old_cls: &Bound<'py, PyType>,
        k: &str,
        o: &Obj<'py>,
        n: &Obj<'py>,
    ) {
        let keep_old = match self.merge_value(Both::new(mq, o, n), true) {
            Ok(k) => k,
            Err(e) => {
                let kind = classify(n).report_kind(true);
                self.journal.record(
                    Entry::new(mq, kind, Action::NotApplied)
                        .values(o, n)
                        .note(format!("could not merge: {e}")),
                );
                true
            }
        };
        // A kept member is still in the old class's dict (the class statement built a separate
        // class): only a taken one is set, sparing CPython's slot updates.
        if self.inp.apply && !keep_old {
            if let Err(e) = type_setattr(old_cls, k, n) {
                let kind = classify(n).report_kind(true);
                self.journal.record(
                    Entry::new(mq, kind, Action::NotApplied)
                        .values(o, n)
                        .note(format!("could not set on the class: {e}")),
                );
            }
            self.fix
                .taken
                .push((old_cls.clone().into_any(), k.to_string()));
        }
    }

    /// `__dataclass_fields__` and friends: always the new class's, reported when they changed.
    fn merge_dataclass_machinery(
        &mut self,
        mq: &str,
        old_cls: &Bound<'py, PyType>,
        k: &str,
        o: Option<&Obj<'py>>,
        n: &Obj<'py>,
    ) -> PyResult<()> {
        if self.inp.apply {
            type_setattr(old_cls, k, n)?;
        }
        let repr = |x: &Obj<'py>| x.repr().map(|r| r.to_string()).ok();
        let changed = o.is_none_or(|o| repr(o).is_none() || repr(o) != repr(n));
        let mut entry = Entry::new(mq, Kind::Other, Action::Unchanged);
        if changed {
            entry = Entry::new(mq, Kind::Other, Action::TookNew)
                .now(n)
                .note("dataclass machinery regenerated");
        }
        if let Some(o) = o {
            entry = entry.was(o);
        }
        self.journal.record(entry);
        Ok(())
    }

    /// The abstract-method set follows the new body.
    fn refresh_abstract_methods(&self, old: &Bound<'py, PyType>) -> PyResult<()> {
        if old.hasattr("__abstractmethods__")? {
            // abc.update_abstractmethods exists from 3.10; older versions keep the old set.
            if let Ok(update) = self
                .py
                .import("abc")
                .and_then(|abc| abc.getattr(name!(abc.py(), "update_abstractmethods")))
            {
                update.call1((old,))?;
            }
        }
        Ok(())
    }
}
