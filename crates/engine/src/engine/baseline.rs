//! Baselines: what the last load of a module produced (fingerprints of its data, the names its
//! source defined), walked from the namespace the module body just filled.

use std::collections::{HashMap, HashSet};

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
