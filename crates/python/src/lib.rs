//! `swapscope._native`: the engine as an abi3 extension for `CPython` 3.9+, the attach mode's way
//! into the user's own interpreter. The package around it (`python/swapscope/`) re-exports the
//! API and adds `serve()` and `python -m swapscope`.
//!
//! A thin binding: the API functions are the embedded module's own
//! (`swapscope_engine::python_api::add_api`), the agent is `swapscope_engine::attach`.
#![expect(
    clippy::doc_markdown,
    reason = "the function docs are the Python docstrings users read"
)]

use std::path::PathBuf;

use pyo3::prelude::*;
use swapscope_engine::attach::{self, Options};

/// _serve(script, watch, auto) -> int
///
/// Starts swapscope's worker and agent in this process (once; a forked child gets its own) and
/// returns the agent's loopback port. `swapscope.serve()` is the public way in.
#[pyfunction]
fn _serve(py: Python<'_>, script: PathBuf, watch: Vec<PathBuf>, auto: bool) -> PyResult<u16> {
    let opts = Options {
        script,
        args: Vec::new(),
        watch,
        auto_reload: auto,
    };
    attach::serve(py, &opts)
}

/// _run(script, args, watch, auto) -> int
///
/// Runs `script` as `__main__` on this thread, served by swapscope's agent, and returns its exit
/// code (`python -m swapscope` calls it).
#[pyfunction]
fn _run(
    py: Python<'_>,
    script: PathBuf,
    args: Vec<String>,
    watch: Vec<PathBuf>,
    auto: bool,
) -> PyResult<i32> {
    let opts = Options {
        script,
        args,
        watch,
        auto_reload: auto,
    };
    attach::run(py, &opts)
}

/// _stop()
///
/// Stops this process's agent: its file is removed and its clients are disconnected after the
/// last events reached them. Registered with `atexit` by `serve()`.
#[pyfunction]
fn _stop(py: Python<'_>) {
    py.detach(attach::stop);
}

/// _port() -> int | None
///
/// The port of this process's agent, if it serves.
#[pyfunction]
fn _port() -> Option<u16> {
    attach::port()
}

/// _track(roots)
///
/// Installs the tracking finder for these folders (the agent does this itself; the engine tests
/// call it to drive the wheel's engine without an agent).
#[pyfunction]
#[expect(
    clippy::needless_pass_by_value,
    reason = "pyo3 extracts arguments as owned values"
)]
fn _track(py: Python<'_>, roots: Vec<PathBuf>) -> PyResult<()> {
    swapscope_engine::engine::tracker::install(py, &roots)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    swapscope_engine::python_api::add_api(m)?;
    m.add_function(wrap_pyfunction!(_serve, m)?)?;
    m.add_function(wrap_pyfunction!(_run, m)?)?;
    m.add_function(wrap_pyfunction!(_stop, m)?)?;
    m.add_function(wrap_pyfunction!(_port, m)?)?;
    m.add_function(wrap_pyfunction!(_track, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
