//! The reload engine: in-place reload of one Python module, with DESIGN.md's semantics.
//!
//! Knows Python (through pyo3) and nothing about threads, channels or the GUI. Every entry point
//! takes `Python<'_>` and returns plain Rust data (the `protocol` types).
//!
//! The files, in the order a reload meets them:
//! - `reload/`: the pipeline (`mod.rs`), finding and reading the source (`source.rs`), running
//!   the body in the module's dict and restoring it (`namespace.rs`);
//! - `merge/`: putting the new code into the old objects, one file per DESIGN.md rule
//!   (`functions.rs`, `classes.rs`, `enums.rs`, `data.rs`), the report entries (`journal.rs`) and
//!   the repair of throwaway references (`fixup.rs`);
//! - `rule.rs`: the three-way data rule, pure; `fingerprint.rs`, `classify.rs`: what a value is;
//! - `stale.rs`: copies of replaced values in other modules, and `propagate`;
//! - `tracker.rs` (the import hook and the registry), `baseline.rs`, `source.rs` (files);
//! - `modules.rs`: listings for the window; `pyobj.rs`, `names.rs`: leaf helpers.

mod baseline;
mod classify;
pub mod fingerprint;
mod merge;
mod modules;
pub(crate) mod names;
mod pyobj;
mod reload;
mod report_dict;
pub mod rule;
pub mod source;
mod stale;
pub mod tracker;

use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

pub use modules::{attributes, modules};
pub use pyobj::PyFailure;
pub use reload::reload;
pub use report_dict::report_dict;
pub use stale::propagate;

pub use crate::protocol::{
    Action, AttrInfo, Change, ErrorInfo, Group, Kind, ModuleInfo, Outcome, Override, Overrides,
    ReloadReport, StaleRef,
};

/// How to reload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReloadOptions {
    pub overrides: Overrides,
    /// Report what a reload would do; change nothing.
    pub dry_run: bool,
    /// Bind new classes whose change cannot be applied in place instead of refusing the reload.
    pub replace_incompatible: bool,
    /// The saves this reload applies (recorded in the report; see `ReloadReport::saves`).
    pub saves: u32,
}

/// Why a reload could not even start, or swapscope's own failure. Failures of the user's code
/// are not errors: they are the report's outcome.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no module named {0:?} is loaded (see sys.modules)")]
    UnknownModule(String),
    #[error("cannot reload {name:?}: {reason}")]
    NotReloadable { name: String, reason: String },
    #[error(
        "invalid overrides: {names:?} are both in keep and take; name each attribute in one of them"
    )]
    ContradictoryOverrides { names: Vec<String> },
    /// A Python call swapscope makes for itself failed (not the user's code).
    #[error("internal error in swapscope (please report it) while {during}: {failure}")]
    Python { during: String, failure: PyFailure },
    /// A panic inside swapscope, caught at an entry point.
    #[error("internal error in swapscope (please report it): {0}")]
    Panicked(String),
}

impl EngineError {
    /// Wraps a failed Python call of swapscope's own, keeping its traceback.
    pub(crate) fn python(py: Python<'_>, during: impl Into<String>, e: &PyErr) -> EngineError {
        EngineError::Python {
            during: during.into(),
            failure: PyFailure::of(py, e),
        }
    }
}

/// The Python exception the `swapscope` API documents for each error.
impl From<EngineError> for PyErr {
    fn from(e: EngineError) -> PyErr {
        match e {
            EngineError::UnknownModule(_) => PyKeyError::new_err(e.to_string()),
            EngineError::NotReloadable { .. } | EngineError::ContradictoryOverrides { .. } => {
                PyValueError::new_err(e.to_string())
            }
            EngineError::Python { .. } | EngineError::Panicked(_) => {
                PyRuntimeError::new_err(e.to_string())
            }
        }
    }
}
