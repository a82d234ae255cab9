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
//! - `hotfix.rs`: a snippet run in a module's namespace (the window's hotfix console);
//! - `modules.rs`: listings for the window; `pyobj.rs`, `names.rs`: leaf helpers.

mod baseline;
mod classify;
mod error;
pub mod fingerprint;
mod hotfix;
pub mod incremental;
mod merge;
mod modules;
pub(crate) mod names;
mod pyobj;
mod reload;
mod report_dict;
pub mod rule;
pub mod source;
mod stale;
pub mod statements;
pub mod tracker;

pub use error::EngineError;
pub use hotfix::{FIRST_HOTFIX_ID, HotfixRun, hotfix};
pub use modules::{attributes, modules};
pub use pyobj::PyFailure;
pub use reload::{ReloadOptions, reload};
pub use report_dict::report_dict;
pub use stale::propagate;

pub use crate::protocol::{
    Action, AttrInfo, Change, ErrorInfo, Group, Kind, ModuleInfo, Outcome, Override, Overrides,
    ReloadReport, StaleRef,
};
