//! Step 6 of a reload (DESIGN.md "Stale copies"): other tracked modules whose globals still hold
//! a value the reload replaced (`from balance import DAMAGE`), and `propagate`, which copies the
//! new value into them.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::PyModule;

use super::error::EngineError;
use super::pyobj::{ptr, short_repr, sys_modules};
use super::source::find_module;
use super::tracker;
use crate::protocol::StaleRef;

/// The globals of other tracked modules that still hold one of `replaced` (name, old object).
pub(crate) fn stale_refs(
    py: Python<'_>,
    module: &str,
    replaced: &[(String, Bound<'_, PyAny>)],
) -> Vec<StaleRef> {
    let mut out = Vec::new();
    if replaced.is_empty() {
        return out;
    }
    // sys.modules is a dict unless a program replaced it; then there is nothing to look in.
    let Ok(modules) = sys_modules(py) else {
        return out;
    };
    // One pass over each other module's globals, looking objects up by identity.
    let by_ptr: HashMap<usize, (&str, bool)> = replaced
        .iter()
        .map(|(name, old)| {
            // Small ints, interned strings, None: shared by everyone, so only a copy under the
            // same name counts.
            let shared = super::merge::shared_value(old);
            (ptr(old), (name.as_str(), shared))
        })
        .collect();
    for other in tracker::names() {
        if other == module {
            continue;
        }
        let Some(m) = modules.get_item(&other).ok().flatten() else {
            continue;
        };
        let Ok(m) = m.cast::<PyModule>() else {
            continue;
        };
        for (k, v) in m.dict().iter() {
            let Some((source, shared)) = by_ptr.get(&ptr(&v)) else {
                continue;
            };
            let Ok(k) = k.extract::<String>() else {
                continue;
            };
            if !shared || k == *source {
                out.push(StaleRef {
                    module: other.clone(),
                    name: k,
                    source: (*source).to_string(),
                    value: short_repr(&v),
                });
            }
        }
    }
    out
}

/// Sets `module.name` in every stale copy to the reloaded module's current `source` attribute.
pub fn propagate(py: Python<'_>, module: &str, stale: &[StaleRef]) -> Result<usize, EngineError> {
    let source = find_module(py, module)?;
    let mut n = 0;
    for s in stale {
        let target = find_module(py, &s.module)?;
        let value = source
            .getattr(s.source.as_str())
            .map_err(|_| EngineError::UnknownModule(format!("{module}.{}", s.source)))?;
        target
            .setattr(s.name.as_str(), value)
            .map_err(|e| EngineError::python(py, format!("setting {}.{}", s.module, s.name), &e))?;
        n += 1;
    }
    Ok(n)
}
