//! Tracked modules: their source, path, mtime and baselines, and the import hook that records
//! them (DESIGN.md "Tracked modules").
//!
//! The registry is a process-wide table locked only for short, Python-free sections, so that no
//! thread ever waits for it while holding the GIL and the GIL while holding it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyModule};

pub use super::baseline::Baseline;
use super::names::name;
use super::pyobj::{helpers, sys_modules};
use super::source::{decode, module_file, mtime, read_source};
use crate::protocol::Outcome;

/// One module under a watched root.
#[derive(Clone, Debug)]
pub struct TrackedModule {
    pub name: String,
    pub path: PathBuf,
    /// The source text of the last load; `None` when it could not be read.
    pub source: Option<Arc<str>>,
    pub mtime: Option<SystemTime>,
    /// `None` for a module registered after it was loaded (no values of its source to compare).
    pub baseline: Option<Baseline>,
    pub last_outcome: Option<Outcome>,
    /// The top-level statements of `source`, when an incremental reload split it (the next one
    /// then need not split it again).
    pub spans: Option<Arc<[super::statements::Span]>>,
    /// When this record was stored, in the order of all records' stores (set by `store`): a
    /// module loaded or reloaded after this one may hold other values than its statements
    /// read when they ran.
    pub loaded_seq: u64,
}

impl TrackedModule {
    /// True when the file on disk is not the source of the last load or reload (edited,
    /// deleted or unreadable). A save that rewrote the same text is not a change.
    pub fn changed_on_disk(&self) -> bool {
        if self.mtime.is_some() && self.mtime == mtime(&self.path) {
            return false;
        }
        match (read_source(&self.path), &self.source) {
            (Ok(data), Some(source)) => data != source.as_bytes(),
            _ => true,
        }
    }
}

static TRACKED: Mutex<BTreeMap<String, Arc<TrackedModule>>> = Mutex::new(BTreeMap::new());
static ROOTS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn tracked() -> MutexGuard<'static, BTreeMap<String, Arc<TrackedModule>>> {
    // A panic while holding the lock cannot leave the map half-written (single inserts), so a
    // poisoned lock is still consistent.
    TRACKED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn roots_lock() -> MutexGuard<'static, Vec<PathBuf>> {
    ROOTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Takes the baseline out of the record of `name` (to update it in place) when nothing else
/// holds the record; `None` otherwise (the caller then copies it).
pub fn take_baseline(name: &str) -> Option<Baseline> {
    tracked()
        .get_mut(name)
        .and_then(Arc::get_mut)
        .and_then(|m| m.baseline.take())
}

/// A copy of the record of `name`, if it is tracked.
pub fn get(name: &str) -> Option<Arc<TrackedModule>> {
    tracked().get(name).cloned()
}

/// Copies of all records.
pub fn all() -> Vec<Arc<TrackedModule>> {
    tracked().values().cloned().collect()
}

/// The names of the tracked modules.
pub fn names() -> Vec<String> {
    tracked().keys().cloned().collect()
}

static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

pub(crate) fn store(mut module: TrackedModule) {
    module.loaded_seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracked().insert(module.name.clone(), Arc::new(module));
}

/// Stores `module` unless a record of its name is there already: the check and the insert
/// under one lock, so a load recorded by another thread meanwhile is never replaced.
fn store_if_absent(mut module: TrackedModule) {
    module.loaded_seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracked()
        .entry(module.name.clone())
        .or_insert_with(|| Arc::new(module));
}

/// The tracked modules other than `name` stored (loaded or reloaded) after `seq`.
pub fn stored_after(name: &str, seq: u64) -> Vec<String> {
    tracked()
        .values()
        .filter(|m| m.name != name && m.loaded_seq > seq)
        .map(|m| m.name.clone())
        .collect()
}

pub(crate) fn set_outcome(name: &str, outcome: Outcome) {
    if let Some(m) = tracked().get_mut(name) {
        Arc::make_mut(m).last_outcome = Some(outcome);
    }
}

/// The watched roots, canonicalised.
pub fn roots() -> Vec<PathBuf> {
    roots_lock().clone()
}

/// True if `path` lies under a watched root.
/// Installed packages are never project code, even inside a watched folder (a `.venv` in the
/// project): their files are not tracked.
pub fn under_roots(path: &Path) -> bool {
    let real = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let installed = real.components().any(|c| {
        matches!(
            c.as_os_str().to_str(),
            Some("site-packages" | "dist-packages")
        )
    });
    !installed && roots_lock().iter().any(|r| real.starts_with(r))
}

/// Installs the tracking finder at the front of `sys.meta_path` (once) and adds `roots`.
/// Modules already imported from under the roots are registered lazily (no baseline values).
pub fn install(py: Python<'_>, roots: &[PathBuf]) -> PyResult<()> {
    let finder = finder(py)?;
    let meta_path = py
        .import("sys")?
        .getattr("meta_path")?
        .cast_into::<PyList>()?;
    if !meta_path.contains(finder)? {
        meta_path.insert(0, finder)?;
    }
    {
        let mut current = roots_lock();
        for root in roots {
            let real = root.canonicalize().unwrap_or_else(|_| root.clone());
            if !current.contains(&real) {
                current.push(real);
            }
        }
    }
    let strs: Vec<String> = self::roots()
        .iter()
        .map(|r| r.to_string_lossy().into_owned())
        .collect();
    finder.setattr(name!(finder.py(), "roots"), strs)?;
    register_loaded(py)
}

fn finder(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static FINDER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    FINDER
        .get_or_try_init(py, || {
            let record = pyo3::wrap_pyfunction!(record_module, py)?;
            Ok(helpers(py)?
                .getattr("SwapscopeFinder")?
                .call1((record,))?
                .unbind())
        })
        .map(|f| f.bind(py))
}

/// Called by the tracking loader after a module under a root was executed. A panic inside (a bug
/// in swapscope) becomes a `RuntimeError` the loader prints: the user's `import` goes on.
#[pyfunction]
fn record_module(module: &Bound<'_, PyModule>) -> PyResult<()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| record_unguarded(module)))
        .unwrap_or_else(|panic| {
            Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                "swapscope failed inside its import hook ({}); this is a bug in swapscope: \
                 please report it",
                crate::fault::panic_message(&*panic)
            )))
        })
}

fn record_unguarded(module: &Bound<'_, PyModule>) -> PyResult<()> {
    crate::fault::hit(crate::fault::Site::ImportHook);
    let name = module.name()?.to_string();
    let Some(path) = module_file(module) else {
        return Ok(());
    };
    let source = read_source(&path)
        .ok()
        .and_then(|b| decode(module.py(), &b, &path).ok())
        .map(Arc::from);
    let baseline = Baseline::of(module.dict().as_any(), &name)?;
    store(TrackedModule {
        name,
        mtime: mtime(&path),
        path,
        source,
        baseline: Some(baseline),
        last_outcome: None,
        spans: None,
        loaded_seq: 0,
    });
    Ok(())
}

/// Registers modules imported before the hook whose files lie under a root (source text only).
fn register_loaded(py: Python<'_>) -> PyResult<()> {
    let modules = sys_modules(py)?.copy()?;
    for (name, module) in modules.iter() {
        let (Ok(name), Ok(module)) = (name.extract::<String>(), module.cast::<PyModule>()) else {
            continue;
        };
        if name == "__main__" || get(&name).is_some() {
            continue;
        }
        let Some(path) = module_file(module) else {
            continue;
        };
        let tracked = finder(py)?
            .call_method1(name!(py, "tracks"), (path.to_string_lossy(),))?
            .is_truthy()?;
        if !tracked {
            continue;
        }
        let source = read_source(&path)
            .ok()
            .and_then(|b| decode(py, &b, &path).ok())
            .map(Arc::from);
        // Another thread may have finished importing it (and recorded its baseline) since the
        // check above: `tracks` and `decode` run Python, which can switch threads.
        store_if_absent(TrackedModule {
            name,
            mtime: mtime(&path),
            path,
            source,
            baseline: None,
            last_outcome: None,
            spans: None,
            loaded_seq: 0,
        });
    }
    Ok(())
}
