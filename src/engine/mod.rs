//! The reload engine: in-place reload of one Python module, with DESIGN.md's semantics.
//!
//! Knows Python (through pyo3) and nothing about threads, channels or the GUI. Every entry point
//! takes `Python<'_>` and returns plain Rust data.

mod classify;
pub mod fingerprint;
mod merge;
mod modules;
pub(crate) mod names;
pub mod report;
pub mod rule;
pub mod tracker;

pub use merge::{propagate, reload};
pub use modules::{AttrInfo, Group, ModuleInfo, attributes, modules};
pub use report::{Action, Change, ErrorInfo, Kind, Outcome, ReloadReport, StaleRef};
pub use rule::{Override, Overrides};

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

/// Why a reload could not even start. Failures of the user's code are not errors: they are the
/// report's outcome.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no module named {0:?} is loaded (see sys.modules)")]
    UnknownModule(String),
    #[error("cannot reload {name:?}: {reason}")]
    NotReloadable { name: String, reason: String },
    #[error("invalid overrides: {0}")]
    BadOverrides(String),
    #[error("internal error in swapscope (please report it): {0}")]
    Internal(String),
}
