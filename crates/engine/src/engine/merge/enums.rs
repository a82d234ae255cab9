//! Enum classes (DESIGN.md "Enum classes"): members keep their identity, new members join the old
//! class, removed members leave it (held references keep them), value changes apply to plain
//! enums and are refused, with the reason, for int/str-based ones.

use foldhash::{HashSet, HashSetExt};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyType};

use super::data::same_value;
use super::{Entry, Merge, Obj};
use crate::engine::names::name;
use crate::engine::pyobj::{type_delattr, type_setattr};
use crate::protocol::{Action, Kind};

/// Enum bookkeeping on the class (`_member_map_`, `_value2member_map_`, ...); members are merged
/// separately.
pub(super) fn enum_internal(name: &str) -> bool {
    name.starts_with('_') && name.ends_with('_') && !name.starts_with("__") && name.len() > 2
}

/// An old enum class being merged, with the lookup tables that list its members.
struct EnumClass<'q, 'py> {
    qual: &'q str,
    cls: &'q Bound<'py, PyType>,
    /// `_member_map_`: name -> member.
    members: Bound<'py, PyDict>,
    /// `_value2member_map_`: value -> member.
    values: Bound<'py, PyDict>,
    /// `_member_names_`, in definition order.
    names: Bound<'py, PyList>,
}

impl<'q, 'py> EnumClass<'q, 'py> {
    fn py(&self) -> Python<'py> {
        self.cls.py()
    }

    fn of(qual: &'q str, cls: &'q Bound<'py, PyType>) -> PyResult<Self> {
        let py = cls.py();
        Ok(EnumClass {
            qual,
            cls,
            members: cls.getattr(name!(py, "_member_map_"))?.cast_into()?,
            values: cls.getattr(name!(py, "_value2member_map_"))?.cast_into()?,
            names: cls.getattr(name!(py, "_member_names_"))?.cast_into()?,
        })
    }

    /// Forgets `value` as the value of `member` (only if the table maps it to that member: an
    /// alias or an unhashable value is not in it).
    fn forget_value(&self, value: &Obj<'py>, member: &Obj<'py>) -> PyResult<()> {
        // An unhashable value is not in the table (enum keeps those in a list): nothing to do.
        let Ok(current) = self.values.get_item(value) else {
            return Ok(());
        };
        if current.is_some_and(|m| m.is(member)) {
            self.values.del_item(value)?;
        }
        Ok(())
    }

    /// Records `member` under `value`; an unhashable value cannot be a key and is left out, as
    /// enum itself does.
    fn remember_value(&self, value: &Obj<'py>, member: &Obj<'py>) {
        if value.hash().is_ok() {
            // Hashable: setting a dict item cannot fail but for memory.
            let _ = self.values.set_item(value, member);
        }
    }
}

impl<'py> Merge<'py, '_> {
    /// Merges the members of enum class `old` with those of `new`; returns every member name
    /// (old and new), which the class member merge then leaves alone.
    pub(super) fn merge_enum_members(
        &mut self,
        qual: &str,
        old: &Bound<'py, PyType>,
        new: &Bound<'py, PyType>,
    ) -> PyResult<HashSet<String>> {
        let e = EnumClass::of(qual, old)?;
        let new_members: Bound<'py, PyDict> =
            new.getattr(name!(new.py(), "_member_map_"))?.cast_into()?;
        let object = self.py.import("builtins")?.getattr("object")?;
        let plain_members = old
            .getattr(name!(old.py(), "_member_type_"))
            .is_ok_and(|t| t.is(&object));
        let mut names = HashSet::new();
        for (k, n) in new_members.iter() {
            let name: String = k.extract()?;
            names.insert(name.clone());
            self.next.defined.insert(format!("{qual}.{name}"));
            match e.members.get_item(&name)? {
                Some(o) => self.merge_member_value(&e, &name, &o, &n, plain_members)?,
                None => self.add_member(&e, &name, &n)?,
            }
        }
        for (k, o) in e.members.copy()?.iter() {
            let name: String = k.extract()?;
            if names.insert(name.clone()) {
                self.remove_member(&e, &name, &o)?;
            }
        }
        Ok(names)
    }

    /// A member in both: the old member stays; its value follows the source where it can.
    fn merge_member_value(
        &mut self,
        e: &EnumClass<'_, 'py>,
        name: &str,
        o: &Obj<'py>,
        n: &Obj<'py>,
        plain_members: bool,
    ) -> PyResult<()> {
        let mq = format!("{}.{name}", e.qual);
        let mq = mq.as_str();
        self.ids.keep(n, o);
        let old_value = o.getattr(name!(o.py(), "_value_"))?;
        let new_value = &n.getattr(name!(n.py(), "_value_"))?;
        if same_value(&old_value, new_value) {
            self.journal
                .record(Entry::new(mq, Kind::Data, Action::Unchanged));
            return Ok(());
        }
        if !plain_members {
            // An IntEnum/StrEnum member *is* its value: it cannot change in place.
            self.journal.record(
                Entry::new(mq, Kind::Data, Action::NotApplied)
                    .values(&old_value, new_value)
                    .note(
                        "the value of a member of an int/str-based enum cannot change in place \
                         (the member is its value); restart to apply it",
                    ),
            );
            return Ok(());
        }
        if self.inp.apply {
            e.forget_value(&old_value, o)?;
            o.setattr(name!(o.py(), "_value_"), new_value)?;
            e.remember_value(new_value, o);
        }
        self.journal.record(
            Entry::new(mq, Kind::Data, Action::TookNew)
                .values(&old_value, new_value)
                .note("enum member value changed; the member object is the same"),
        );
        Ok(())
    }

    /// A new member: made a member of the old class.
    fn add_member(&mut self, e: &EnumClass<'_, 'py>, name: &str, n: &Obj<'py>) -> PyResult<()> {
        let mq = format!("{}.{name}", e.qual);
        let mq = mq.as_str();
        let new_value = n.getattr(name!(n.py(), "_value_"))?;
        let added: PyResult<()> = if self.inp.apply {
            (|| {
                self.py
                    .import("builtins")?
                    .getattr("object")?
                    .getattr("__setattr__")?
                    .call1((n, "__class__", e.cls))?;
                e.members.set_item(name, n)?;
                e.names.append(name)?;
                e.remember_value(&new_value, n);
                type_setattr(e.cls, name, n)
            })()
        } else {
            Ok(())
        };
        let entry = match added {
            Ok(()) => Entry::new(mq, Kind::Data, Action::Added)
                .now(n)
                .note("new enum member"),
            Err(err) => Entry::new(mq, Kind::Data, Action::NotApplied)
                .now(n)
                .note(format!("could not add the member to the old class: {err}")),
        };
        self.journal.record(entry);
        Ok(())
    }

    /// A member gone from the source: removed from the class; held references keep it.
    fn remove_member(&mut self, e: &EnumClass<'_, 'py>, name: &str, o: &Obj<'py>) -> PyResult<()> {
        if self.inp.apply {
            e.members.del_item(name)?;
            if let Ok(i) = e.names.index(name) {
                e.names.del_item(i)?;
            }
            if let Ok(v) = o.getattr(name!(o.py(), "_value_")) {
                e.forget_value(&v, o)?;
            }
            if e.cls.getattr(name!(e.py(), "__dict__"))?.contains(name)? {
                type_delattr(e.cls, name)?;
            }
        }
        let mq = format!("{}.{name}", e.qual);
        self.journal.record(
            Entry::new(&mq, Kind::Data, Action::Removed)
                .was(o)
                .note("enum member no longer in the source; held references keep it"),
        );
        Ok(())
    }
}
