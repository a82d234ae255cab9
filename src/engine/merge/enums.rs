//! Enum classes (DESIGN.md "Enum classes"): members keep their identity, new members join the old
//! class, removed members leave it (held references keep them), value changes apply to plain
//! enums and are refused, with the reason, for int/str-based ones.

use std::collections::HashSet;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyType};

use super::data::same_value;
use super::{Entry, Merge};
use crate::engine::names::name;
use crate::engine::pyobj::{type_delattr, type_setattr};
use crate::protocol::{Action, Kind};

/// Enum bookkeeping on the class (`_member_map_`, `_value2member_map_`, ...); members are merged
/// separately.
pub(super) fn enum_internal(name: &str) -> bool {
    name.starts_with('_') && name.ends_with('_') && !name.starts_with("__") && name.len() > 2
}

/// The lookup tables of an enum class that list its members.
struct Tables<'py> {
    /// `_member_map_`: name -> member.
    members: Bound<'py, PyDict>,
    /// `_value2member_map_`: value -> member.
    values: Bound<'py, PyDict>,
    /// `_member_names_`, in definition order.
    names: Bound<'py, PyList>,
}

impl<'py> Tables<'py> {
    fn of(cls: &Bound<'py, PyType>) -> PyResult<Self> {
        let py = cls.py();
        Ok(Tables {
            members: cls.getattr(name!(py, "_member_map_"))?.cast_into()?,
            values: cls.getattr(name!(py, "_value2member_map_"))?.cast_into()?,
            names: cls.getattr(name!(py, "_member_names_"))?.cast_into()?,
        })
    }

    /// Forgets `value` as the value of `member` (only if the table maps it to that member: an
    /// alias or an unhashable value is not in it).
    fn forget_value(&self, value: &Bound<'py, PyAny>, member: &Bound<'py, PyAny>) -> PyResult<()> {
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
    fn remember_value(&self, value: &Bound<'py, PyAny>, member: &Bound<'py, PyAny>) {
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
        let tables = Tables::of(old)?;
        let new_members: Bound<'py, PyDict> =
            new.getattr(name!(new.py(), "_member_map_"))?.cast_into()?;
        let object = self.py.import("builtins")?.getattr("object")?;
        let plain_members = old
            .getattr(name!(old.py(), "_member_type_"))
            .is_ok_and(|t| t.is(&object));
        let mut names = HashSet::new();
        for (k, n) in new_members.iter() {
            let name: String = k.extract()?;
            let mq = format!("{qual}.{name}");
            names.insert(name.clone());
            self.next.defined.insert(mq.clone());
            let new_value = n.getattr(name!(n.py(), "_value_"))?;
            match tables.members.get_item(&name)? {
                Some(o) => {
                    self.merge_member_value(&mq, &tables, &o, &n, &new_value, plain_members)?;
                }
                None => self.add_member(&mq, &tables, old, &name, &n, &new_value),
            }
        }
        for (k, o) in tables.members.copy()?.iter() {
            let name: String = k.extract()?;
            if names.insert(name.clone()) {
                self.remove_member(&format!("{qual}.{name}"), &tables, old, &name, &o)?;
            }
        }
        Ok(names)
    }

    /// A member in both: the old member stays; its value follows the source where it can.
    fn merge_member_value(
        &mut self,
        mq: &str,
        tables: &Tables<'py>,
        o: &Bound<'py, PyAny>,
        n: &Bound<'py, PyAny>,
        new_value: &Bound<'py, PyAny>,
        plain_members: bool,
    ) -> PyResult<()> {
        self.ids.keep(n, o);
        let old_value = o.getattr(name!(o.py(), "_value_"))?;
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
            tables.forget_value(&old_value, o)?;
            o.setattr(name!(o.py(), "_value_"), new_value)?;
            tables.remember_value(new_value, o);
        }
        self.journal.record(
            Entry::new(mq, Kind::Data, Action::TookNew)
                .values(&old_value, new_value)
                .note("enum member value changed; the member object is the same"),
        );
        Ok(())
    }

    /// A new member: made a member of the old class.
    fn add_member(
        &mut self,
        mq: &str,
        tables: &Tables<'py>,
        old: &Bound<'py, PyType>,
        name: &str,
        n: &Bound<'py, PyAny>,
        new_value: &Bound<'py, PyAny>,
    ) {
        let added: PyResult<()> = if self.inp.apply {
            (|| {
                self.py
                    .import("builtins")?
                    .getattr("object")?
                    .getattr("__setattr__")?
                    .call1((n, "__class__", old))?;
                tables.members.set_item(name, n)?;
                tables.names.append(name)?;
                tables.remember_value(new_value, n);
                type_setattr(old, name, n)
            })()
        } else {
            Ok(())
        };
        let entry = match added {
            Ok(()) => Entry::new(mq, Kind::Data, Action::Added)
                .now(n)
                .note("new enum member"),
            Err(e) => Entry::new(mq, Kind::Data, Action::NotApplied)
                .now(n)
                .note(format!("could not add the member to the old class: {e}")),
        };
        self.journal.record(entry);
    }

    /// A member gone from the source: removed from the class; held references keep it.
    fn remove_member(
        &mut self,
        mq: &str,
        tables: &Tables<'py>,
        old: &Bound<'py, PyType>,
        name: &str,
        o: &Bound<'py, PyAny>,
    ) -> PyResult<()> {
        if self.inp.apply {
            tables.members.del_item(name)?;
            if let Ok(i) = tables.names.index(name) {
                tables.names.del_item(i)?;
            }
            if let Ok(v) = o.getattr(name!(o.py(), "_value_")) {
                tables.forget_value(&v, o)?;
            }
            if old.getattr(name!(old.py(), "__dict__"))?.contains(name)? {
                type_delattr(old, name)?;
            }
        }
        self.journal.record(
            Entry::new(mq, Kind::Data, Action::Removed)
                .was(o)
                .note("enum member no longer in the source; held references keep it"),
        );
        Ok(())
    }
}
