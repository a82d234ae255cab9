//! Listing of loaded modules, for `swapscope.modules()` and the modules panel.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};
use serde::{Deserialize, Serialize};

use super::report::Outcome;
use super::tracker;

/// Where a module comes from, for grouping in the UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// Under a watched root: tracked and reloadable.
    Project,
    SitePackages,
    Stdlib,
    /// No source file (builtin, C extension, namespace package, made at run time).
    Builtin,
}

/// A snapshot of one loaded module.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleInfo {
    pub name: String,
    pub file: Option<String>,
    pub group: Group,
    pub tracked: bool,
    /// The file's mtime differs from the one of the last load or reload.
    pub changed_on_disk: bool,
    pub last_outcome: Option<Outcome>,
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
        let file = tracker::module_file(module);
        let group = match (&record, &file) {
            (Some(_), _) => Group::Project,
            (None, Some(p)) if tracker::under_roots(p) && name != "__main__" => Group::Project,
            (None, Some(p)) => {
                let s = p.to_string_lossy();
                if s.contains("site-packages") || s.contains("dist-packages") {
                    Group::SitePackages
                } else {
                    Group::Stdlib
                }
            }
            (None, None) => Group::Builtin,
        };
        let changed_on_disk = record
            .as_ref()
            .is_some_and(|r| r.mtime != tracker::mtime(&r.path));
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
