//! The engine's errors: a reload that cannot start, or swapscope's own failure; and the Python
//! exception each becomes at the `swapscope` API.

use pyo3::exceptions::{PyKeyError, PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use super::pyobj::PyFailure;

/// Why a reload could not even start, or swapscope's own failure. Failures of the user's code
/// are not errors: they are the report's outcome.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no module named {0:?} is loaded (see sys.modules)")]
    UnknownModule(String),
    #[error("cannot reload {name:?}: {reason}")]
    NotReloadable { name: String, reason: String },
    /// `undo` with no earlier version kept (no applied reload since the start, or all undone).
    #[error(
        "nothing to undo for {0:?}: no reload of it was applied in this session (or all were undone)"
    )]
    NothingToUndo(String),
    #[error(
        "invalid overrides: {names:?} are both in keep and take; name each attribute in one of them"
    )]
    ContradictoryOverrides { names: Vec<String> },
    /// A Python call swapscope makes for itself failed (not the user's code).
    #[error("internal error in swapscope (please report it) while {during}: {failure}")]
    Python { during: String, failure: PyFailure },
    /// Ctrl+C (a `KeyboardInterrupt`) arrived while the module body ran: the module is restored
    /// and the interrupt goes on to the program, as it would without swapscope.
    #[error("the reload of {0:?} was interrupted (KeyboardInterrupt); the module is unchanged")]
    Interrupted(String),
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
            EngineError::NotReloadable { .. }
            | EngineError::NothingToUndo(_)
            | EngineError::ContradictoryOverrides { .. } => PyValueError::new_err(e.to_string()),
            EngineError::Interrupted(_) => PyKeyboardInterrupt::new_err(e.to_string()),
            EngineError::Python { .. } | EngineError::Panicked(_) => {
                PyRuntimeError::new_err(e.to_string())
            }
        }
    }
}
