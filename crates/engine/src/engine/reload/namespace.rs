//! Steps 2–3 of a reload: run the new body in the module's own dict, with the old mapping kept
//! aside and put back exactly on every way out that is not a finished merge.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};

use crate::engine::classify::MACHINERY;
use crate::engine::names::name;
use crate::engine::pyobj::named_items;

/// The package's submodules bound in its namespace (`pkg.sub` is `sys.modules["pkg.sub"]`):
/// part of the package's namespace, not names its source defines.
pub(super) fn submodules<'py>(
    package: &str,
    old_ns: &Bound<'py, PyDict>,
) -> Vec<(String, Bound<'py, PyAny>)> {
    if !old_ns.contains("__path__").unwrap_or(false) {
        return Vec::new();
    }
    named_items(old_ns)
        .filter(|(name, v)| {
            v.cast::<PyModule>()
                .ok()
                .and_then(|m| m.name().ok())
                .is_some_and(|full| full.to_string_lossy() == format!("{package}.{name}"))
        })
        .collect()
}

/// Puts a module's old mapping back when dropped armed: on an early return, an error or a panic
/// unwinding between emptying the dict and a finished merge.
pub(super) struct RestoreOnExit<'a, 'py> {
    dict: &'a Bound<'py, PyDict>,
    old: &'a Bound<'py, PyDict>,
    armed: bool,
    /// Line numbers moved before the statements ran, to move back (`helpers.unshift`).
    undo: Option<Bound<'py, PyAny>>,
}

impl<'a, 'py> RestoreOnExit<'a, 'py> {
    /// Guards `dict` with its copy `old`; a dry run (`armed` false) never touches the dict.
    pub(super) fn new(
        dict: &'a Bound<'py, PyDict>,
        old: &'a Bound<'py, PyDict>,
        armed: bool,
    ) -> Self {
        RestoreOnExit {
            dict,
            old,
            armed,
            undo: None,
        }
    }

    /// Restores now (once); later drops do nothing.
    pub(super) fn restore_now(&mut self) -> PyResult<()> {
        if !self.armed {
            return Ok(());
        }
        self.armed = false;
        if let Some(undo) = self.undo.take() {
            // Code moved to new lines goes back to its old ones with the old namespace.
            let py = undo.py();
            crate::engine::pyobj::helpers(py)
                .and_then(|h| h.getattr(name!(py, "unshift")))
                .and_then(|f| f.call1((undo,)))?;
        }
        self.dict.clear();
        self.dict.update(self.old.as_mapping())
    }

    /// Also undoes `undo` (what `helpers.shift_namespace` returned) when restoring.
    pub(super) fn undo_with(&mut self, undo: Option<Bound<'py, PyAny>>) {
        self.undo = undo;
    }

    /// The merge finished: the module keeps its new state whatever happens next.
    pub(super) fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for RestoreOnExit<'_, '_> {
    fn drop(&mut self) {
        // Drop cannot return the error; what could be restored is restored, and the callers
        // that can report (every early exit) call `restore_now` themselves.
        let _ = self.restore_now();
    }
}

/// Empties `target` but for the import machinery of `old_ns` and a package's `submodules` (a name
/// removed from the source then no longer exists, so a use of it fails the body), and runs `code`
/// in it.
///
/// `Err(Outer)` is swapscope's own failure; `Ok(Err(e))` is the user's body raising `e`.
pub(super) fn execute<'py>(
    py: Python<'py>,
    code: &Bound<'py, PyAny>,
    target: &Bound<'py, PyDict>,
    old_ns: &Bound<'py, PyDict>,
    submodules: &[(String, Bound<'py, PyAny>)],
    emptied: bool,
) -> PyResult<Result<(), PyErr>> {
    if emptied {
        target.clear();
    }
    for key in MACHINERY {
        if let Some(v) = old_ns.get_item(key)? {
            target.set_item(key, v)?;
        }
    }
    // The import system bound them when they were first imported; running `from .sub import x`
    // again does not bind `sub` again, and the body may read it.
    for (name, module) in submodules {
        target.set_item(name, module)?;
    }
    let exec = py.import("builtins")?.getattr(name!(py, "exec"))?;
    Ok(exec.call1((code, target)).map(|_| ()))
}
