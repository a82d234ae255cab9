//! What the window shows of the program's modules: the module list and one module's attributes.
//!
//! Plain data; the engine fills it in (`engine::modules`, `engine::attributes`).

use serde::{Deserialize, Serialize};

use super::report::{Kind, Outcome};

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

/// A snapshot of one attribute of a module (or of a class the module defines).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttrInfo {
    pub name: String,
    /// `DAMAGE`, `Player.fire`.
    pub qualname: String,
    pub kind: Kind,
    /// Short repr of the live value.
    pub repr: String,
}
