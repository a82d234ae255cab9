//! The built-in module `swapscope` that scripts import: `reload`, `safepoint`, `modules`,
//! `propagate`, `on_reload`/`off_reload`.
//!
//! Registered with `append_to_inittab!` before the interpreter starts. Bad arguments raise
//! `TypeError`/`ValueError`/`KeyError`; failures of the user's code never raise out of `reload`:
//! they are the report's outcome and error.

use std::sync::{Arc, RwLock};

use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyModule, PyString};

use crate::engine::names::name;
use crate::engine::{self, EngineError, Overrides, ReloadOptions, ReloadReport};

/// The module's source before and after a reload (for source diffs).
#[derive(Clone, Debug, Default)]
pub struct Sources {
    pub old: Option<Arc<str>>,
    pub new: Option<Arc<str>>,
}

type ReportHook = Arc<dyn Fn(&ReloadReport, Sources) + Send + Sync>;
type SafepointHook = Arc<dyn Fn(Python<'_>) -> usize + Send + Sync>;
type PolicyHook = Arc<dyn Fn(&str) -> Overrides + Send + Sync>;

static REPORT_HOOK: RwLock<Option<ReportHook>> = RwLock::new(None);
static SAFEPOINT_HOOK: RwLock<Option<SafepointHook>> = RwLock::new(None);
static POLICY_HOOK: RwLock<Option<PolicyHook>> = RwLock::new(None);
/// Python callables registered with `swapscope.on_reload`.
static LISTENERS: std::sync::Mutex<Vec<Py<PyAny>>> = std::sync::Mutex::new(Vec::new());

fn listeners() -> std::sync::MutexGuard<'static, Vec<Py<PyAny>>> {
    LISTENERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Calls the `on_reload` listeners with the report (not for dry runs). A listener that raises is
/// reported through `sys.unraisablehook` and the others still run.
fn notify_listeners(py: Python<'_>, report: &ReloadReport) {
    if report.dry_run {
        return;
    }
    // Copied out so a listener may register or remove listeners without deadlocking.
    let current: Vec<Py<PyAny>> = listeners().iter().map(|l| l.clone_ref(py)).collect();
    if current.is_empty() {
        return;
    }
    let dict = match report_dict(py, report) {
        Ok(d) => d,
        Err(e) => {
            e.write_unraisable(py, None);
            return;
        }
    };
    for listener in current {
        let listener = listener.bind(py);
        if let Err(e) = listener.call1((dict.clone(),)) {
            e.write_unraisable(py, Some(listener));
        }
    }
}

/// Gives the saved per-attribute policy of a module; explicit `keep`/`take` win over it.
pub fn set_policy_hook(hook: Option<PolicyHook>) {
    *POLICY_HOOK
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = hook;
}

/// Called with every report of a reload made through the Python API (the runtime turns them into
/// events).
pub fn set_report_hook(hook: Option<ReportHook>) {
    *REPORT_HOOK
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = hook;
}

/// What `swapscope.safepoint()` runs; returns how many reloads it applied.
pub fn set_safepoint_hook(hook: Option<SafepointHook>) {
    *SAFEPOINT_HOOK
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = hook;
}

/// Converts an engine error into the Python exception the API documents.
pub fn to_pyerr(e: &EngineError) -> PyErr {
    match e {
        EngineError::UnknownModule(_) => PyKeyError::new_err(e.to_string()),
        EngineError::NotReloadable { .. } | EngineError::BadOverrides(_) => {
            PyValueError::new_err(e.to_string())
        }
        EngineError::Internal(_) => PyRuntimeError::new_err(e.to_string()),
    }
}

/// The switch interval during a reload, in seconds: long enough for any reload, short enough
/// that a CPU-bound thread which takes the GIL at the hand-over delays the reload only this long.
const RELOAD_SWITCH_INTERVAL: f64 = 2.0;

/// Runs `f` with the switch interval raised, so other Python threads do not run (and see a
/// half-merged module) while the GIL is held by a reload.
pub fn with_switch_interval<T>(py: Python<'_>, f: impl FnOnce() -> T) -> T {
    let sys = py.import("sys").ok();
    let previous = sys
        .as_ref()
        .and_then(|s| s.call_method0("getswitchinterval").ok())
        .and_then(|v| v.extract::<f64>().ok());
    if let (Some(sys), Some(_)) = (&sys, previous) {
        // Raising it can only fail on a broken sys; the reload then runs with the default.
        sys.call_method1("setswitchinterval", (RELOAD_SWITCH_INTERVAL,))
            .ok();
        // A thread already waiting for the GIL still waits with the old interval and would ask
        // for it back mid-reload. Hand the GIL over once: every waiter then waits anew, with the
        // raised interval, and a pending drop request is cleared.
        py.detach(std::thread::yield_now);
    }
    let out = f();
    if let (Some(sys), Some(prev)) = (&sys, previous) {
        sys.call_method1("setswitchinterval", (prev,)).ok();
    }
    out
}

/// Reloads `name` through the engine with the switch interval raised, and tells the report hook.
pub fn reload_and_notify(
    py: Python<'_>,
    name: &str,
    opts: &ReloadOptions,
) -> Result<ReloadReport, EngineError> {
    let policy = POLICY_HOOK
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let combined;
    let opts = match policy {
        Some(hook) => {
            combined = ReloadOptions {
                overrides: crate::policy::combine(&hook(name), &opts.overrides),
                ..opts.clone()
            };
            &combined
        }
        None => opts,
    };
    let old = engine::tracker::get(name).and_then(|t| t.source.clone());
    let report = with_switch_interval(py, || engine::reload(py, name, opts))?;
    let hook = REPORT_HOOK
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if let Some(hook) = hook {
        let new = if report.dry_run || report.outcome != engine::Outcome::Applied {
            None
        } else {
            engine::tracker::get(name).and_then(|t| t.source.clone())
        };
        hook(&report, Sources { old, new });
    }
    notify_listeners(py, &report);
    Ok(report)
}

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

/// The report as the Python dict `reload()` returns (the JSON shape, built directly).
fn report_dict<'py>(py: Python<'py>, r: &ReloadReport) -> PyResult<Bound<'py, PyAny>> {
    use pyo3::types::{PyDict, PyList};
    let d = PyDict::new(py);
    d.set_item(name!(py, "id"), r.id)?;
    d.set_item(name!(py, "module"), &r.module)?;
    d.set_item(name!(py, "file"), &r.file)?;
    d.set_item(name!(py, "outcome"), r.outcome.as_str())?;
    match &r.error {
        Some(e) => {
            let ed = PyDict::new(py);
            ed.set_item(name!(py, "file"), &e.file)?;
            ed.set_item(name!(py, "line"), e.line)?;
            ed.set_item(name!(py, "col"), e.col)?;
            ed.set_item(name!(py, "message"), &e.message)?;
            ed.set_item(name!(py, "text"), &e.text)?;
            ed.set_item(name!(py, "traceback"), &e.traceback)?;
            d.set_item(name!(py, "error"), ed)?;
        }
        None => d.set_item(name!(py, "error"), py.None())?,
    }
    d.set_item(name!(py, "duration_ms"), r.duration_ms)?;
    d.set_item(name!(py, "dry_run"), r.dry_run)?;
    d.set_item(name!(py, "saves"), r.saves)?;
    let changes = PyList::empty(py);
    for c in &r.changes {
        let cd = PyDict::new(py);
        cd.set_item(name!(py, "name"), &c.name)?;
        cd.set_item(name!(py, "qualname"), &c.qualname)?;
        cd.set_item(name!(py, "kind"), c.kind.as_str())?;
        cd.set_item(name!(py, "action"), c.action.as_str())?;
        cd.set_item(name!(py, "old"), &c.old)?;
        cd.set_item(name!(py, "new"), &c.new)?;
        cd.set_item(name!(py, "note"), &c.note)?;
        changes.append(cd)?;
    }
    d.set_item(name!(py, "changes"), changes)?;
    let stale = PyList::empty(py);
    for s in &r.stale_refs {
        let sd = PyDict::new(py);
        sd.set_item(name!(py, "module"), &s.module)?;
        sd.set_item(name!(py, "name"), &s.name)?;
        sd.set_item(name!(py, "source"), &s.source)?;
        sd.set_item(name!(py, "value"), &s.value)?;
        stale.append(sd)?;
    }
    d.set_item(name!(py, "stale_refs"), stale)?;
    Ok(d.into_any())
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
    use super::Overrides;
    use super::{
        Bound, Py, PyAny, PyAnyMethods, PyModule, PyModuleMethods, PyResult, PyString, PyTypeError,
        PyTypeMethods, Python, ReloadOptions, ReloadReport, SAFEPOINT_HOOK, engine, guarded,
        listeners, names, pyfunction, reload_and_notify, report_dict, to_dict, to_pyerr,
    };

    /// reload(module, *, keep=(), take=(), dry_run=False, replace_incompatible=False) -> dict
    ///
    /// Reloads a module in place and returns the report. `module` is a module object or its
    /// name. `keep`/`take` name attributes (`"DAMAGE"`, `"Player.MAX_HP"`) whose live value to
    /// keep or whose new value to take, whatever the data rule says.
    #[pyfunction]
    #[pyo3(signature = (module, *, keep = None, take = None, dry_run = false, replace_incompatible = false))]
    fn reload<'py>(
        py: Python<'py>,
        module: &Bound<'py, PyAny>,
        keep: Option<&Bound<'py, PyAny>>,
        take: Option<&Bound<'py, PyAny>>,
        dry_run: bool,
        replace_incompatible: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let name = if let Ok(m) = module.cast::<PyModule>() {
            m.name()?.to_string()
        } else if let Ok(s) = module.cast::<PyString>() {
            s.to_string()
        } else {
            return Err(PyTypeError::new_err(format!(
                "reload() takes a module or a module name, got {}",
                module.get_type().name()?
            )));
        };
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
        };
        guarded("reload", || {
            let report = reload_and_notify(py, &name, &opts).map_err(|e| to_pyerr(&e))?;
            report_dict(py, &report)
        })
    }

    /// `safepoint()` -> int
    ///
    /// Call it in your main loop: reloads queued by swapscope run here, between two iterations,
    /// where no code of the reloaded module is half-way through. Returns how many ran.
    #[pyfunction]
    fn safepoint(py: Python<'_>) -> PyResult<usize> {
        let hook = SAFEPOINT_HOOK
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        guarded("safepoint", || Ok(hook.map_or(0, |h| h(py))))
    }

    /// `modules()` -> list[dict]
    ///
    /// Every loaded module: name, file, group (project, `site_packages`, stdlib, builtin), whether
    /// swapscope tracks it, whether its file changed since it was loaded, the last reload outcome.
    #[pyfunction]
    fn modules(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        guarded("modules", || to_dict(py, &engine::modules(py)?))
    }

    /// on_reload(callback) -> callback
    ///
    /// Calls `callback(report)` after every reload swapscope runs, whatever its outcome (saves
    /// with auto-reload, the window's Reload button, `reload()` calls; not dry runs), on the
    /// thread that ran it. Usable as a decorator. An exception in the callback is printed
    /// (`sys.unraisablehook`) and does not affect the reload.
    #[pyfunction]
    fn on_reload<'py>(callback: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        if !callback.is_callable() {
            return Err(PyTypeError::new_err(format!(
                "on_reload() takes a function to call with each report, got {}",
                callback.get_type().name()?
            )));
        }
        listeners().push(callback.clone().unbind());
        Ok(callback.clone())
    }

    /// off_reload(callback) -> bool
    ///
    /// Removes a callback registered with `on_reload`; returns whether it was registered.
    #[pyfunction]
    fn off_reload(callback: &Bound<'_, PyAny>) -> bool {
        let removed: Vec<Py<PyAny>> = {
            let mut list = listeners();
            let (gone, kept) = std::mem::take(&mut *list)
                .into_iter()
                .partition(|l| l.is(callback));
            *list = kept;
            gone
        };
        // Dropped after the lock is released: a finaliser may call back into swapscope.
        !removed.is_empty()
    }

    /// propagate(report) -> int
    ///
    /// Copies the new values of a reload into the stale copies its report lists
    /// (`from balance import DAMAGE` elsewhere). Returns how many names were updated.
    #[pyfunction]
    fn propagate(py: Python<'_>, report: &Bound<'_, PyAny>) -> PyResult<usize> {
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
            engine::propagate(py, &report.module, &report.stale_refs).map_err(|e| to_pyerr(&e))
        })
    }
}
