//! Listing of loaded modules, for `swapscope.modules()` and the modules panel.

use super::tracker;
use crate::protocol::{AttrInfo, Group, Kind, ModuleInfo};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};

/// A frozen stdlib module (`os`, `codecs`, ... in 3.11+): no file, but the standard library.
fn frozen(module: &Bound<'_, PyModule>) -> bool {
    module
        .getattr("__spec__")
        .and_then(|s| s.getattr("origin"))
        .and_then(|o| o.extract::<String>())
        .is_ok_and(|o| o == "frozen")
}

/// All modules in `sys.modules`, project modules first, each group sorted by name.
pub fn modules(py: Python<'_>) -> PyResult<Vec<ModuleInfo>> {
    let all = py
        .import("sys")?
        .getattr("modules")?
        .cast_into::<PyDict>()?
        .copy()?;
    let mut out = Vec::with_capacity(all.len());
    for (name, module) in all.iter() {
        let (Ok(name), Ok(module)) = (name.extract::<String>(), module.cast::<PyModule>()) else {
            continue;
        };
        let record = tracker::get(&name);
        let file = super::source::module_file(module);
        let group = match (&record, &file) {
            (Some(_), _) => Group::Project,
            (None, Some(p)) if tracker::under_roots(p) => Group::Project,
            (None, Some(p)) => {
                let s = p.to_string_lossy();
                if s.contains("site-packages") || s.contains("dist-packages") {
                    Group::SitePackages
                } else {
                    Group::Stdlib
                }
            }
            (None, None) if frozen(module) => Group::Stdlib,
            (None, None) => Group::Builtin,
        };
        let changed_on_disk = record.as_ref().is_some_and(|r| r.changed_on_disk());
        out.push(ModuleInfo {
            tracked: record.is_some(),
            last_outcome: record.as_ref().and_then(|r| r.last_outcome),
            file: file.map(|p| p.to_string_lossy().into_owned()),
            name,
            group,
            changed_on_disk,
        });
    }
    out.sort_by(|a, b| (a.group, &a.name).cmp(&(b.group, &b.name)));
    Ok(out)
}

/// How much of a container's repr the attributes table gets (its entries are in the tree).
const ATTR_REPR_LIMIT: usize = 300;
/// How much of a string's (or other leaf's) repr the value view gets: the whole of any value a
/// person reads, without copying a megabyte blob every refresh.
const LEAF_REPR_LIMIT: usize = 4000;
/// How deep the tree under an attribute goes; deeper entries are counted.
const TREE_DEPTH: usize = 4;
/// Entries listed per container; the rest are counted.
const TREE_WIDTH: usize = 500;
/// Tree entries per module in all: the window asks every 0.7 s, so a module of huge tables costs
/// about what a small one does.
const TREE_NODES: usize = 20_000;

/// The attributes of module `name`: its globals, and the members of the classes it defines,
/// each class followed by its members. Dunder names are left out. Data values carry their
/// entries (bounded: see `TREE_*`), each with the key path the merge uses.
pub fn attributes(py: Python<'_>, name: &str) -> PyResult<Vec<AttrInfo>> {
    let module = py
        .import("sys")?
        .getattr("modules")?
        .get_item(name)
        .map_err(|_| {
            pyo3::exceptions::PyKeyError::new_err(format!("no module named {name:?} is loaded"))
        })?;
    let dict = module.getattr("__dict__")?.cast_into::<PyDict>()?.copy()?;
    let record = tracker::get(name);
    let mut walk = Walk {
        dicts: record
            .as_ref()
            .and_then(|r| r.baseline.as_ref())
            .map(|b| &b.dicts),
        budget: TREE_NODES,
    };
    let mut out = Vec::new();
    for (k, v) in dict.iter() {
        let Ok(key) = k.extract::<String>() else {
            continue;
        };
        if key.starts_with("__") && key.ends_with("__") {
            continue;
        }
        let kind = super::classify::classify_global(&v).report_kind(false);
        out.push(walk.attribute(key.clone(), key.clone(), kind, &v));
        if let Ok(cls) = v.cast::<pyo3::types::PyType>()
            && super::pyobj::owned_by(cls, name, &key)
        {
            for (mk, mv) in super::pyobj::class_items(cls)? {
                if super::classify::skip_member(&mk) || (mk.starts_with("__") && mk.ends_with("__"))
                {
                    continue;
                }
                let kind = super::classify::classify(&mv).report_kind(true);
                out.push(walk.attribute(mk.clone(), format!("{key}.{mk}"), kind, &mv));
            }
        }
    }
    Ok(out)
}

/// The walk of one module's values into trees.
struct Walk<'a> {
    /// The containers the module's last load recorded key by key (`Baseline::dicts`): the merge
    /// applies the rule to each of their entries. `None` for a module not loaded through the
    /// tracker yet (then the walk judges by the value's shape, as the baseline would).
    dicts: Option<&'a foldhash::HashSet<String>>,
    /// Tree entries left for the module.
    budget: usize,
}

impl Walk<'_> {
    /// One attribute with, for data, the tree of its entries.
    fn attribute(
        &mut self,
        name: String,
        qualname: String,
        kind: Kind,
        v: &Bound<'_, PyAny>,
    ) -> AttrInfo {
        if kind != Kind::Data {
            let repr = super::pyobj::repr_within(v, ATTR_REPR_LIMIT);
            return AttrInfo::new(name, qualname, kind, repr);
        }
        // A data attribute is what the merge records key by key, when it is a dict or a plain
        // instance.
        let mut info = self.node(name, qualname, v, true, 0);
        info.kind = kind;
        info
    }

    /// A value's node: its repr, and its entries down to `TREE_DEPTH`. `merged`: the merge
    /// treats this value member by member if it can (a data attribute, or a keyed entry).
    fn node(
        &mut self,
        name: String,
        path: String,
        v: &Bound<'_, PyAny>,
        merged: bool,
        depth: usize,
    ) -> AttrInfo {
        let kind = super::classify::classify(v).report_kind(false);
        let Some(mut entries) = entries(&path, v, merged) else {
            return AttrInfo::new(name, path, kind, leaf_repr(v));
        };
        if let Some(dicts) = self.dicts {
            // What the merge reads, exactly.
            entries.keyed = dicts.contains(&path);
        }
        let repr = super::pyobj::repr_within(v, ATTR_REPR_LIMIT);
        let mut info = AttrInfo::new(name, path, kind, repr);
        if depth >= TREE_DEPTH {
            info.more = entries.len;
            return info;
        }
        for e in entries.listed {
            if self.budget == 0 {
                break;
            }
            self.budget -= 1;
            let mut child = self.node(e.name, e.path, &e.value, entries.keyed, depth + 1);
            child.keyed = entries.keyed;
            info.children.push(child);
        }
        info.more = entries.len.saturating_sub(info.children.len());
        info
    }
}

/// One entry of a container, named for the tree.
struct Entry<'py> {
    /// The key as Python writes it (`'rifle'`, `3`) or the attribute's name.
    name: String,
    path: String,
    value: Bound<'py, PyAny>,
}

/// The entries of a container: the first `TREE_WIDTH`, how many there are, and whether the merge
/// applies the rule to each (`keyed`).
struct Entries<'py> {
    listed: Vec<Entry<'py>>,
    len: usize,
    keyed: bool,
}

/// The entries of a dict (exact or subclass), list or tuple, or plain instance; `None` for any
/// other value (a leaf). The entries are collected before any repr runs, since a user's
/// `__repr__` may let another thread change the container.
fn entries<'py>(path: &str, v: &Bound<'py, PyAny>, merged: bool) -> Option<Entries<'py>> {
    use super::baseline::{KEYS_MAX, Members, member_path, mergeable};
    use pyo3::types::{PyList, PyTuple};
    let dict_members = match mergeable(v) {
        Some((d, members)) => Some((d, members, merged)),
        // A dict subclass (`defaultdict`, `Counter`): shown, but merged as one value.
        None => v
            .cast::<PyDict>()
            .ok()
            .map(|d| (d.clone(), Members::Keys, false)),
    };
    if let Some((dict, members, merged)) = dict_members {
        let len = dict.len();
        // The merge goes key by key only when it can name every key (and the table is not
        // huge); then each entry takes its own policy.
        let mut named = len <= KEYS_MAX;
        let mut first = Vec::with_capacity(len.min(TREE_WIDTH));
        for (i, (k, value)) in dict.iter().enumerate() {
            let key_path = member_path(path, &k, members);
            named &= key_path.is_some();
            if i < TREE_WIDTH {
                first.push((k, key_path, value));
            } else if !named || len > KEYS_MAX {
                break;
            }
        }
        let listed = first
            .into_iter()
            .map(|(k, key_path, value)| {
                let key = match members {
                    Members::Keys => super::pyobj::repr_within(&k, 80),
                    Members::Attrs => k.extract::<String>().unwrap_or_else(|_| "?".into()),
                };
                // A key the merge cannot name still gets a path to show (no policy reads it).
                let path = key_path.unwrap_or_else(|| match members {
                    Members::Keys => format!("{path}[{key}]"),
                    Members::Attrs => format!("{path}.{key}"),
                });
                Entry {
                    name: key,
                    path,
                    value,
                }
            })
            .collect();
        return Some(Entries {
            listed,
            len,
            keyed: merged && named,
        });
    }
    let items: Option<(usize, Vec<Bound<'py, PyAny>>)> = if let Ok(list) = v.cast::<PyList>() {
        let n = list.len();
        Some((n, list.iter().take(TREE_WIDTH).collect()))
    } else if let Ok(tuple) = v.cast::<PyTuple>() {
        let n = tuple.len();
        Some((n, tuple.iter().take(TREE_WIDTH).collect()))
    } else {
        None
    };
    let (len, items) = items?;
    let listed = items
        .into_iter()
        .enumerate()
        .map(|(i, value)| Entry {
            name: i.to_string(),
            path: format!("{path}[{i}]"),
            value,
        })
        .collect();
    Some(Entries {
        listed,
        len,
        keyed: false,
    })
}

/// The repr of a value shown whole: a string up to `LEAF_REPR_LIMIT` characters (then cut, with
/// its length), a set by its items, anything else as the report shows it.
fn leaf_repr(v: &Bound<'_, PyAny>) -> String {
    use pyo3::types::{PyFrozenSet, PySet, PyString};
    use std::fmt::Write as _;
    if let Ok(s) = v.cast::<PyString>()
        && v.is_exact_instance_of::<PyString>()
        && let Ok(text) = s.to_cow()
    {
        let chars = text.chars().count();
        if chars <= LEAF_REPR_LIMIT {
            return v
                .repr()
                .and_then(|r| r.to_cow().map(std::borrow::Cow::into_owned))
                .unwrap_or_else(|_| super::pyobj::repr_within(v, LEAF_REPR_LIMIT));
        }
        let head: String = text.chars().take(LEAF_REPR_LIMIT).collect();
        let head = PyString::new(v.py(), &head)
            .repr()
            .and_then(|r| r.to_cow().map(std::borrow::Cow::into_owned))
            .unwrap_or(head);
        return format!("{head}… ({chars} characters)");
    }
    let set = v.is_exact_instance_of::<PySet>();
    if set || v.is_exact_instance_of::<PyFrozenSet>() {
        let Ok(iter) = v.try_iter() else {
            return super::pyobj::repr_within(v, LEAF_REPR_LIMIT);
        };
        let len = v.len().unwrap_or(0);
        // Items first, reprs after: a user's __repr__ must not run while the set is iterated.
        let items: Vec<Bound<'_, PyAny>> = iter.take(TREE_WIDTH).flatten().collect();
        let mut text = String::new();
        let mut shown = 0;
        for item in &items {
            if text.len() > LEAF_REPR_LIMIT {
                break;
            }
            if shown > 0 {
                text.push_str(", ");
            }
            text.push_str(&super::pyobj::repr_within(item, 200));
            shown += 1;
        }
        if len > shown {
            let _ = write!(text, ", … {} more", len - shown);
        }
        return match (set, len) {
            (true, 0) => "set()".into(),
            (true, _) => format!("{{{text}}}"),
            (false, 0) => "frozenset()".into(),
            (false, _) => format!("frozenset({{{text}}})"),
        };
    }
    super::pyobj::repr_within(v, LEAF_REPR_LIMIT)
}
