//! The built-in module `swapscope` that scripts import: `reload`, `safepoint`, `modules`,
//! `propagate`, `on_reload`/`off_reload`.
//!
//! Registered with `append_to_inittab!` before the interpreter starts. A thin binding: each
//! function checks its arguments and calls the reload service (`runtime::ReloadService`) or the
//! engine. Bad arguments raise `TypeError`/`ValueError`/`KeyError`; failures of the user's code
//! never raise out of `reload`: they are the report's outcome and error.

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyModule, PyString};

use crate::engine::{self, Overrides, ReloadOptions, ReloadReport};
use crate::runtime::ReloadService;

/// Runs the body of an API function; a panic inside (a bug in swapscope) becomes a
/// `RuntimeError` naming the function, instead of unwinding into the interpreter.
fn guarded<T>(what: &str, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        Err(PyRuntimeError::new_err(format!(
            "swapscope.{what}() failed inside swapscope ({}); this is a bug in swapscope: please \
             report it",
            crate::fault::panic_message(&*panic)
        )))
    })
}

/// A list of names from `keep=`/`take=`: any iterable of str, but not a bare str.
fn names(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if value.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{arg} must be a list of attribute names, not a single string; write {arg}=[{:?}]",
            value.to_string()
        )));
    }
    let iter = value.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "{arg} must be a list of attribute names, got {}",
            value
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    iter.map(|item| {
        let item = item?;
        item.extract::<String>().map_err(|_| {
            PyTypeError::new_err(format!(
                "{arg} must contain attribute names (str), got {}",
                item.repr().map(|r| r.to_string()).unwrap_or_default()
            ))
        })
    })
    .collect()
}

fn to_dict<'py, T: serde::Serialize>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let json = serde_json::to_string(value).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (json,))
}

/// The Python module.
#[pymodule]
#[pyo3(name = "swapscope")]
#[expect(
    clippy::doc_markdown,
    reason = "these doc comments are the Python docstrings users read"
)]
pub mod swapscope_module {
    use super::{
        Bound, Overrides, PyAny, PyAnyMethods, PyModule, PyModuleMethods, PyResult, PyString,
        PyTypeError, PyTypeMethods, Python, ReloadOptions, ReloadReport, ReloadService, engine,
        guarded, names, pyfunction, to_dict,
    };

    /// reload(module, *, keep=(), take=(), dry_run=False, replace_incompatible=False,
    ///        closures=False, full=False) -> dict
    ///
    /// Reloads a module in place and returns the report. `module` is a module object or its
    /// name. `keep`/`take` name attributes (`"DAMAGE"`, `"Player.MAX_HP"`, key paths such as
    /// `"WEAPONS['rifle']"`) whose live value to keep or whose new value to take, whatever the
    /// data rule says. `closures=True` also gives functions made before the reload by a changed
    /// factory (`h = make_handler()`) the new code: a scan of every object Python's garbage
    /// collector tracks, so off by default. A reload runs only the top-level statements that
    /// changed and those that depend on them (the report's `mode` is `"incremental"`) unless
    /// the module does something that analysis cannot follow, or `full=True`: then the whole
    /// module body runs (`mode` `"full"`, `mode_note` says why).
    #[pyfunction]
    #[pyo3(signature = (module, *, keep = None, take = None, dry_run = false, replace_incompatible = false, closures = false, full = false))]
    #[expect(
        clippy::too_many_arguments,
        clippy::fn_params_excessive_bools,
        reason = "the keyword arguments of `swapscope.reload()`, as Python callers pass them"
    )]
    pub fn reload<'py>(
        py: Python<'py>,
        module: &Bound<'py, PyAny>,
        keep: Option<&Bound<'py, PyAny>>,
        take: Option<&Bound<'py, PyAny>>,
        dry_run: bool,
        replace_incompatible: bool,
        closures: bool,
        full: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let name = module_name("reload", module)?;
        let overrides = Overrides {
            keep: keep
                .map(|k| names("keep", k))
                .transpose()?
                .unwrap_or_default(),
            take: take
                .map(|t| names("take", t))
                .transpose()?
                .unwrap_or_default(),
        };
        let opts = ReloadOptions {
            overrides,
            dry_run,
            replace_incompatible,
            saves: 0,
            closures,
            full,
            ..ReloadOptions::default()
        };
        guarded("reload", || {
            let report = ReloadService::get().reload(py, &name, &opts)?;
            engine::report_dict(py, &report)
        })
    }

    /// undo(module) -> dict
    ///
    /// Puts back the version the module had before its last applied reload, in place (the same
    /// objects, the earlier code; data by the same rule as a reload), and returns the report
    /// (`"undo": True`). Called again, it goes one more step back (up to 20). The file on disk
    /// is not touched: saving it again, or `reload()`, brings the newer version back. Raises
    /// ValueError when there is nothing to undo.
    #[pyfunction]
    pub fn undo<'py>(py: Python<'py>, module: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let name = module_name("undo", module)?;
        let opts = ReloadOptions {
            undo: true,
            ..ReloadOptions::default()
        };
        guarded("undo", || {
            let report = ReloadService::get().reload(py, &name, &opts)?;
            engine::report_dict(py, &report)
        })
    }

    /// A module argument: a module object or its name.
    fn module_name(function: &str, module: &Bound<'_, PyAny>) -> PyResult<String> {
        if let Ok(m) = module.cast::<PyModule>() {
            Ok(m.name()?.to_string())
        } else if let Ok(s) = module.cast::<PyString>() {
            Ok(s.to_string())
        } else {
            Err(PyTypeError::new_err(format!(
                "{function}() takes a module or a module name, got {}",
                module.get_type().name()?
            )))
        }
    }

    /// serve(*, watch=(), auto=False) -> None
    ///
    /// With the swapscope wheel in your own Python, starts the agent the window attaches to.
    /// Under the swapscope app the program is served already: this does nothing and returns
    /// None, so one program runs both ways.
    #[pyfunction]
    #[pyo3(signature = (*, watch = None, auto = false))]
    pub fn serve(watch: Option<&Bound<'_, PyAny>>, auto: bool) -> Option<u16> {
        let _ = (watch, auto);
        None
    }

    /// `safepoint()` -> int
    ///
    /// Call it in your main loop: reloads queued by swapscope run here, between two iterations,
    /// where no code of the reloaded module is half-way through. Returns how many ran.
    #[pyfunction]
    pub fn safepoint(py: Python<'_>) -> PyResult<usize> {
        guarded("safepoint", || ReloadService::get().safepoint(py))
    }

    /// `modules()` -> list[dict]
    ///
    /// Every loaded module: name, file, group (project, `site_packages`, stdlib, builtin), whether
    /// swapscope tracks it, whether its file changed since it was loaded, the last reload outcome.
    #[pyfunction]
    pub fn modules(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        guarded("modules", || to_dict(py, &engine::modules(py)?))
    }

    /// on_reload(callback) -> callback
    ///
    /// Calls `callback(report)` after every reload swapscope runs, whatever its outcome (saves
    /// with auto-reload, the window's Reload button, `reload()` calls; not dry runs), on the
    /// thread that ran it. Usable as a decorator. An exception in the callback is printed
    /// (`sys.unraisablehook`) and does not affect the reload.
    #[pyfunction]
    pub fn on_reload<'py>(callback: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        if !callback.is_callable() {
            return Err(PyTypeError::new_err(format!(
                "on_reload() takes a function to call with each report, got {}",
                callback.get_type().name()?
            )));
        }
        ReloadService::get().on_reload(callback.clone().unbind());
        Ok(callback.clone())
    }

    /// off_reload(callback) -> bool
    ///
    /// Removes a callback registered with `on_reload`; returns whether it was registered.
    #[pyfunction]
    pub fn off_reload(callback: &Bound<'_, PyAny>) -> bool {
        ReloadService::get().off_reload(callback)
    }

    /// propagate(report) -> int
    ///
    /// Copies the new values of a reload into the stale copies its report lists
    /// (`from balance import DAMAGE` elsewhere). Returns how many names were updated.
    #[pyfunction]
    pub fn propagate(py: Python<'_>, report: &Bound<'_, PyAny>) -> PyResult<usize> {
        let json: String = py
            .import("json")?
            .call_method1("dumps", (report,))?
            .extract()?;
        let report: ReloadReport = serde_json::from_str(&json).map_err(|e| {
            PyTypeError::new_err(format!(
                "propagate() takes a report from swapscope.reload(): {e}"
            ))
        })?;
        guarded("propagate", || {
            Ok(engine::propagate(py, &report.module, &report.stale_refs)?)
        })
    }
}

/// Adds the API functions (`reload`, `safepoint`, `modules`, `on_reload`, `off_reload`,
/// `propagate`) to another module: the extension's `swapscope._native`, so both modes offer the
/// same functions with the same docstrings.
pub fn add_api(m: &Bound<'_, PyModule>) -> PyResult<()> {
    use pyo3::wrap_pyfunction;
    m.add_function(wrap_pyfunction!(swapscope_module::reload, m)?)?;
    m.add_function(wrap_pyfunction!(swapscope_module::undo, m)?)?;
    m.add_function(wrap_pyfunction!(swapscope_module::safepoint, m)?)?;
    m.add_function(wrap_pyfunction!(swapscope_module::modules, m)?)?;
    m.add_function(wrap_pyfunction!(swapscope_module::on_reload, m)?)?;
    m.add_function(wrap_pyfunction!(swapscope_module::off_reload, m)?)?;
    m.add_function(wrap_pyfunction!(swapscope_module::propagate, m)?)?;
    Ok(())
}
