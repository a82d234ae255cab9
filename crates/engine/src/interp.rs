//! Starting the embedded interpreter: the `swapscope` module is registered first, then `CPython`
//! starts once per process.

use std::path::PathBuf;
use std::sync::Once;

use pyo3::prelude::*;

/// Registers the `swapscope` module and starts the interpreter (once per process).
pub fn initialize() {
    static START: Once = Once::new();
    START.call_once(|| {
        pyo3::append_to_inittab!(swapscope_module);
        Python::initialize();
    });
}

use crate::python_api::swapscope_module;

/// Starts the interpreter if needed and installs the tracking finder for `roots`.
pub fn initialize_with_roots(roots: &[PathBuf]) -> PyResult<()> {
    initialize();
    Python::attach(|py| crate::engine::tracker::install(py, roots))
}
