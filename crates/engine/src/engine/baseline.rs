//! Baselines: what the last load of a module produced (fingerprints of its data, the names its
//! source defined), walked from the namespace the module body just filled.

use foldhash::{HashMap, HashSet};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};

use super::classify::{ObjKind, classify, classify_global, skip_member};
use super::fingerprint::{Fingerprint, fingerprint};
use super::names::name;
use super::pyobj::{named_items, owned_by};

/// What the last load of a module produced, for the three-way rule.
#[derive(Clone, Debug, Default)]
pub struct Baseline {
    /// Fingerprints of data, keyed by path (`DAMAGE`, `Player.MAX_HP`, `make_counter::n`).
    pub fps: HashMap<String, Fingerprint>,
    /// Every global and class member the source defined (`DAMAGE`, `Player.fire`): what a later
    /// source may remove. Names not in it were created at run time and are live state.
    pub defined: HashSet<String>,
    /// Dicts recorded key by key (their key paths are in `fps`, as `WEAPONS['rifle']`): the
    /// three-way rule then applies per key path.
    pub dicts: HashSet<String>,
}

/// Entries of one data value recorded key by key, at most; a bigger table is one value.
pub const KEYS_MAX: usize = 10_000;
/// How deep key paths go.
pub const KEYS_DEPTH: usize = 8;

/// The key path of `key` inside the dict at `path` (`WEAPONS['rifle']`), for keys whose repr
/// names them exactly (str, int, bool, None); `None` for other keys.
pub fn key_path(path: &str, key: &Bound<'_, PyAny>) -> Option<String> {
    use pyo3::types::{PyBool, PyInt, PyString};
    let plain = key.is_none()
        || key.is_exact_instance_of::<PyString>()
        || key.is_exact_instance_of::<PyInt>()
        || key.is_exact_instance_of::<PyBool>();
    if !plain {
        return None;
    }
    // Python's repr, written here for the common keys (a reload names thousands of them):
    // a str of printable ASCII without quotes or backslashes is '...', an int its digits.
    if let Ok(s) = key.cast::<PyString>()
        && let Ok(s) = s.to_cow()
        && s.bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'\'' && b != b'\\')
    {
        return Some(format!("{path}['{s}']"));
    }
    if key.is_exact_instance_of::<PyInt>()
        && let Ok(i) = key.extract::<i64>()
    {
        return Some(format!("{path}[{i}]"));
    }
    let repr = key.repr().ok()?;
    Some(format!("{path}[{repr}]"))
}

/// How a merged container names its members in key paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Members {
    /// A dict: `WEAPONS['rifle']`.
    Keys,
    /// A plain instance's `__dict__`: `DEFAULTS.hp`.
    Attrs,
}

/// A value merged member by member, with the dict its members live in: an exact `dict`, or a
/// plain instance (a class defined in Python whose whole state is its `__dict__`: no slots, no
/// C base; not a class, function or module).
pub fn mergeable<'py>(v: &Bound<'py, PyAny>) -> Option<(Bound<'py, PyDict>, Members)> {
    if v.is_exact_instance_of::<PyDict>() {
        return Some((v.cast::<PyDict>().ok()?.clone(), Members::Keys));
    }
    if v.is_instance_of::<PyType>() || !super::fingerprint::state_in_dict_only(v) {
        return None;
    }
    if super::classify::classify(v) != ObjKind::Data {
        return None;
    }
    Some((super::fingerprint::instance_dict(v)?, Members::Attrs))
}

/// The path of one member: `path[key]` for a dict's plain key, `path.name` for an attribute.
pub fn member_path(path: &str, key: &Bound<'_, PyAny>, members: Members) -> Option<String> {
    match members {
        Members::Keys => key_path(path, key),
        Members::Attrs => {
            let name: String = key.extract().ok()?;
            (name.chars().all(|c| c.is_alphanumeric() || c == '_') && !name.is_empty())
                .then(|| format!("{path}.{name}"))
        }
    }
}

/// Whether two values are merged member by member together: both mergeable the same way, and
/// instances of classes with the same name (the new one may be the class statement's).
pub fn merge_pair<'py>(
    live: &Bound<'py, PyAny>,
    new: &Bound<'py, PyAny>,
) -> Option<(Bound<'py, PyDict>, Bound<'py, PyDict>, Members)> {
    let (ld, lm) = mergeable(live)?;
    let (nd, nm) = mergeable(new)?;
    if lm != nm {
        return None;
    }
    if lm == Members::Attrs {
        let name = |v: &Bound<'py, PyAny>| {
            let t = v.get_type();
            (
                super::pyobj::qualname(&t),
                t.getattr("__module__").ok().map(|m| m.to_string()),
            )
        };
        if name(live) != name(new) {
            return None;
        }
    }
    Some((ld, nd, lm))
}

impl Baseline {
    /// The baseline of a namespace just produced by a module body.
    pub fn of(ns: &Bound<'_, PyAny>, module_name: &str) -> PyResult<Baseline> {
        let mut b = Baseline::default();
        let ns = ns.cast::<PyDict>()?;
        for (name, v) in named_items(ns) {
            b.record(&name, &v, module_name, 0);
        }
        Ok(b)
    }

    pub(crate) fn record(
        &mut self,
        path: &str,
        value: &Bound<'_, PyAny>,
        module_name: &str,
        depth: usize,
    ) {
        self.defined.insert(path.to_string());
        // A module-level name has no `.` (class member) or `::` (closure variable) in its path.
        let global = depth == 0 && !path.contains(['.', ':']);
        let kind = if global {
            classify_global(value)
        } else {
            classify(value)
        };
        match kind {
            ObjKind::Data => {
                self.fps.insert(path.to_string(), fingerprint(value));
                let mut budget = KEYS_MAX;
                self.record_keys(path, value, 0, &mut budget);
            }
            ObjKind::Function => self.record_function(path, value, depth),
            ObjKind::Wrapper(inner)
            | ObjKind::ClassMethod(inner)
            | ObjKind::StaticMethod(inner) => {
                self.record_function(path, &inner, depth);
            }
            ObjKind::Property(accessors) => {
                for (name, f) in accessors {
                    self.record_function(&format!("{path}.{name}"), &f, depth);
                }
            }
            ObjKind::Class => {
                if let Ok(cls) = value.cast::<PyType>()
                    && owned_by(cls, module_name, path)
                    && depth < 16
                    && let Ok(d) = cls.getattr(name!(cls.py(), "__dict__"))
                    && let Ok(items) = d.call_method0("items").and_then(|i| i.try_iter())
                {
                    for item in items.flatten() {
                        if let Ok((k, v)) = item.extract::<(String, Bound<'_, PyAny>)>()
                            && !skip_member(&k)
                        {
                            self.record(&format!("{path}.{k}"), &v, module_name, depth + 1);
                        }
                    }
                }
            }
            ObjKind::Module | ObjKind::Other => {}
        }
    }

    /// Records a dict's entries key by key (nested dicts too), within `budget` entries in all;
    /// a dict that does not fit, or has a key without a plain repr, stays one value.
    pub(crate) fn record_keys(
        &mut self,
        path: &str,
        value: &Bound<'_, PyAny>,
        depth: usize,
        budget: &mut usize,
    ) -> bool {
        let Some((dict, members)) = mergeable(value) else {
            return false;
        };
        if depth >= KEYS_DEPTH || dict.len() > *budget {
            return false;
        }
        let mut entries = Vec::with_capacity(dict.len());
        for (k, v) in dict.iter() {
            let Some(kp) = member_path(path, &k, members) else {
                return false;
            };
            entries.push((kp, v));
        }
        *budget -= entries.len();
        for (kp, v) in entries {
            self.fps.insert(kp.clone(), fingerprint(&v));
            self.record_keys(&kp, &v, depth + 1, budget);
        }
        self.dicts.insert(path.to_string());
        true
    }

    fn record_function(&mut self, path: &str, f: &Bound<'_, PyAny>, depth: usize) {
        if depth > 16 {
            return;
        }
        if let Ok(wrapped) = f
            .getattr("__dict__")
            .and_then(|d| d.get_item("__wrapped__"))
            && classify(&wrapped) == ObjKind::Function
        {
            self.record_function(&format!("{path}.__wrapped__"), &wrapped, depth + 1);
        }
        let Ok(closure) = f.getattr(name!(f.py(), "__closure__")) else {
            return;
        };
        if closure.is_none() {
            return;
        }
        let Ok(freevars) = f
            .getattr("__code__")
            .and_then(|c| c.getattr(name!(c.py(), "co_freevars")))
            .and_then(|v| v.extract::<Vec<String>>())
        else {
            return;
        };
        let Ok(cells) = closure.try_iter() else {
            return;
        };
        for (var, cell) in freevars.iter().zip(cells.flatten()) {
            let Ok(content) = cell.getattr(name!(cell.py(), "cell_contents")) else {
                continue;
            };
            let key = format!("{path}::{var}");
            match classify(&content) {
                ObjKind::Data => {
                    self.fps.insert(key, fingerprint(&content));
                }
                ObjKind::Function => self.record_function(&key, &content, depth + 1),
                ObjKind::Wrapper(inner) => self.record_function(&key, &inner, depth + 1),
                _ => {}
            }
        }
    }
}
