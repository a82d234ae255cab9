//! Listing of loaded modules, for `swapscope.modules()` and the modules panel.

use super::tracker;
use crate::protocol::{AttrInfo, Group, ModuleInfo};
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

/// How much of a live value the attributes table gets (the cell clips; hovering shows it all).
const ATTR_REPR_LIMIT: usize = 300;

/// The attributes of module `name`: its globals, and the members of the classes it defines,
/// each class followed by its members. Dunder names are left out.
pub fn attributes(py: Python<'_>, name: &str) -> PyResult<Vec<AttrInfo>> {
    let module = py
        .import("sys")?
        .getattr("modules")?
        .get_item(name)
        .map_err(|_| {
            pyo3::exceptions::PyKeyError::new_err(format!("no module named {name:?} is loaded"))
        })?;
    let dict = module.getattr("__dict__")?.cast_into::<PyDict>()?.copy()?;
    let mut out = Vec::new();
    for (k, v) in dict.iter() {
        let Ok(key) = k.extract::<String>() else {
            continue;
        };
        if key.starts_with("__") && key.ends_with("__") {
            continue;
        }
        let kind = super::classify::classify_global(&v);
        out.push(AttrInfo {
            name: key.clone(),
            qualname: key.clone(),
            kind: kind.report_kind(false),
            repr: super::pyobj::repr_within(&v, ATTR_REPR_LIMIT),
        });
        if let Ok(cls) = v.cast::<pyo3::types::PyType>()
            && super::pyobj::owned_by(cls, name, &key)
        {
            for (mk, mv) in super::pyobj::class_items(cls)? {
                if super::classify::skip_member(&mk) || (mk.starts_with("__") && mk.ends_with("__"))
                {
                    continue;
                }
                out.push(AttrInfo {
                    name: mk.clone(),
                    qualname: format!("{key}.{mk}"),
                    kind: super::classify::classify(&mv).report_kind(true),
                    repr: super::pyobj::repr_within(&mv, ATTR_REPR_LIMIT),
                });
            }
        }
    }
    Ok(out)
}
