//! Tracked modules: their source, path, mtime and baselines, and the import hook that records
//! them (DESIGN.md "Tracked modules").
//!
//! The registry is a process-wide table locked only for short, Python-free sections, so that no
//! thread ever waits for it while holding the GIL and the GIL while holding it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use pyo3::prelude::*;

use super::names::name;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyModule, PyType};

use super::classify::{Kind2, classify};
use super::fingerprint::{Fingerprint, fingerprint};
use super::report::Outcome;

/// What the last load of a module produced, for the three-way rule.
#[derive(Clone, Debug, Default)]
pub struct Baseline {
    /// Fingerprints of data, keyed by path (`DAMAGE`, `Player.MAX_HP`, `make_counter::n`).
    pub fps: HashMap<String, Fingerprint>,
    /// Every global and class member the source defined (`DAMAGE`, `Player.fire`): what a later
    /// source may remove. Names not in it were created at run time and are live state.
    pub defined: HashSet<String>,
}

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

/// Reads a source file's bytes; refuses what is not a regular file (a directory, a FIFO that
/// would block the reader forever, a device) with an error that says so. The file is opened
/// without blocking and checked through the open handle, so a FIFO swapped in between cannot
/// hang the reader.
pub fn read_source(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let mut file = match options.open(path) {
        Ok(f) => f,
        // Opening a directory for reading fails on some platforms: say what it is.
        Err(e) if path.is_dir() => {
            return Err(std::io::Error::new(
                e.kind(),
                format!("{} is a directory", path.display()),
            ));
        }
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file"
        };
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is {what}", path.display()),
        ));
    }
    let mut data = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.read_to_end(&mut data)?;
    Ok(data)
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

pub(crate) fn store(module: TrackedModule) {
    tracked().insert(module.name.clone(), Arc::new(module));
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
pub fn under_roots(path: &Path) -> bool {
    let real = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    roots_lock().iter().any(|r| real.starts_with(r))
}

/// The engine's Python helpers (`helpers.py`), loaded once as `_swapscope_engine`.
pub(crate) fn helpers(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static HELPERS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    HELPERS
        .get_or_try_init(py, || {
            let code = CString::new(include_str!("helpers.py"))
                .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
            Ok(
                PyModule::from_code(py, &code, c"<swapscope helpers.py>", c"_swapscope_engine")?
                    .unbind(),
            )
        })
        .map(|m| m.bind(py))
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

/// Called by the tracking loader after a module under a root was executed.
#[pyfunction]
fn record_module(module: &Bound<'_, PyModule>) -> PyResult<()> {
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
    });
    Ok(())
}

/// Registers modules imported before the hook whose files lie under a root (source text only).
fn register_loaded(py: Python<'_>) -> PyResult<()> {
    let modules = py
        .import("sys")?
        .getattr("modules")?
        .cast_into::<PyDict>()?
        .copy()?;
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
        if !under_roots(&path) {
            continue;
        }
        let source = read_source(&path)
            .ok()
            .and_then(|b| decode(py, &b, &path).ok())
            .map(Arc::from);
        store(TrackedModule {
            name,
            mtime: mtime(&path),
            path,
            source,
            baseline: None,
            last_outcome: None,
        });
    }
    Ok(())
}

/// The `.py` file a module was loaded from, if it has one.
pub fn module_file(module: &Bound<'_, PyModule>) -> Option<PathBuf> {
    let python_source = |o: Bound<'_, PyAny>| -> Option<PathBuf> {
        let p = PathBuf::from(o.extract::<String>().ok()?);
        matches!(p.extension().and_then(|e| e.to_str()), Some("py" | "pyw")).then_some(p)
    };
    // The spec's origin first; a frozen stdlib module (origin "frozen") still has __file__.
    module
        .getattr("__spec__")
        .ok()
        .filter(|s| !s.is_none())
        .and_then(|s| s.getattr(name!(s.py(), "origin")).ok())
        .and_then(python_source)
        .or_else(|| {
            module
                .getattr(name!(module.py(), "__file__"))
                .ok()
                .and_then(python_source)
        })
}

pub fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The common case without a call into Python: UTF-8 without a BOM issue, `\r` or NUL, and no
/// coding cookie naming another encoding. Anything else goes through the import system's decoder.
fn plain_utf8(data: &[u8]) -> Option<String> {
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    if data.iter().any(|&b| b == b'\r' || b == 0) {
        return None;
    }
    let text = std::str::from_utf8(data).ok()?;
    // PEP 263: a cookie on the first two lines; only utf-8 spellings stay on the fast path.
    for line in text.lines().take(2) {
        let line = line.trim_start();
        if !line.starts_with('#') {
            continue;
        }
        if let Some(i) = line
            .find("coding")
            .filter(|&i| matches!(line.as_bytes().get(i + 6), Some(b':' | b'=')))
        {
            let name: String = line[i + 7..]
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect::<String>()
                .to_ascii_lowercase()
                .replace('_', "-");
            if !matches!(name.as_str(), "utf-8" | "utf8") {
                return None;
            }
        }
    }
    Some(text.to_string())
}

/// Decodes source bytes like the import system does (PEP 263, BOM). The error is a dict with
/// file, line, col, message, text.
pub(crate) fn decode<'py>(
    py: Python<'py>,
    data: &[u8],
    path: &Path,
) -> Result<String, Bound<'py, PyAny>> {
    if let Some(text) = plain_utf8(data) {
        return Ok(text);
    }
    let fail = |e: PyErr| e.value(py).clone().into_any();
    let result = helpers(py)
        .map_err(fail)?
        .getattr("decode")
        .and_then(|f| f.call1((pyo3::types::PyBytes::new(py, data), path.to_string_lossy())))
        .map_err(fail)?;
    let (text, err): (Option<String>, Bound<'py, PyAny>) = result.extract().map_err(fail)?;
    text.ok_or(err)
}

impl Baseline {
    /// The baseline of a namespace just produced by a module body.
    pub fn of(ns: &Bound<'_, PyAny>, module_name: &str) -> PyResult<Baseline> {
        let mut b = Baseline::default();
        let ns = ns.cast::<PyDict>()?;
        for (k, v) in ns.iter() {
            let Ok(name) = k.extract::<String>() else {
                continue;
            };
            b.record(&name, &v, module_name, 0);
        }
        Ok(b)
    }

    pub(crate) fn record(
        &mut self,
        path: &str,
        value: &Bound<'_, PyAny>,
        module_name: &str,
        depth: usize,
    ) {
        self.defined.insert(path.to_string());
        match classify(value) {
            Kind2::Data => {
                self.fps.insert(path.to_string(), fingerprint(value));
            }
            Kind2::Function => self.record_function(path, value, depth),
            Kind2::Wrapper(inner) | Kind2::ClassMethod(inner) | Kind2::StaticMethod(inner) => {
                self.record_function(path, &inner, depth);
            }
            Kind2::Property(accessors) => {
                for (name, f) in accessors {
                    self.record_function(&format!("{path}.{name}"), &f, depth);
                }
            }
            Kind2::Class => {
                if let Ok(cls) = value.cast::<PyType>()
                    && owned_by(cls, module_name, path)
                    && depth < 16
                    && let Ok(d) = cls.getattr(name!(cls.py(), "__dict__"))
                    && let Ok(items) = d.call_method0("items").and_then(|i| i.try_iter())
                {
                    for item in items.flatten() {
                        if let Ok((k, v)) = item.extract::<(String, Bound<'_, PyAny>)>()
                            && !super::merge::skip_member(&k)
                        {
                            self.record(&format!("{path}.{k}"), &v, module_name, depth + 1);
                        }
                    }
                }
            }
            Kind2::Module | Kind2::Other => {}
        }
    }

    fn record_function(&mut self, path: &str, f: &Bound<'_, PyAny>, depth: usize) {
        if depth > 16 {
            return;
        }
        if let Ok(wrapped) = f
            .getattr("__dict__")
            .and_then(|d| d.get_item("__wrapped__"))
            && classify(&wrapped) == Kind2::Function
        {
            self.record_function(&format!("{path}.__wrapped__"), &wrapped, depth + 1);
        }
        let Ok(closure) = f.getattr(name!(f.py(), "__closure__")) else {
            return;
        };
        if closure.is_none() {
            return;
        }
        let Ok(freevars) = f
            .getattr("__code__")
            .and_then(|c| c.getattr(name!(c.py(), "co_freevars")))
            .and_then(|v| v.extract::<Vec<String>>())
        else {
            return;
        };
        let Ok(cells) = closure.try_iter() else {
            return;
        };
        for (var, cell) in freevars.iter().zip(cells.flatten()) {
            let Ok(content) = cell.getattr(name!(cell.py(), "cell_contents")) else {
                continue;
            };
            let key = format!("{path}::{var}");
            match classify(&content) {
                Kind2::Data => {
                    self.fps.insert(key, fingerprint(&content));
                }
                Kind2::Function => self.record_function(&key, &content, depth + 1),
                Kind2::Wrapper(inner) => self.record_function(&key, &inner, depth + 1),
                _ => {}
            }
        }
    }
}

/// True if `cls` was defined by this module's source at `path` (not an import or an alias).
pub(crate) fn owned_by(cls: &Bound<'_, PyType>, module_name: &str, path: &str) -> bool {
    let module_ok = cls
        .getattr("__module__")
        .and_then(|m| m.extract::<String>())
        .is_ok_and(|m| m == module_name);
    let qual_ok = cls.qualname().is_ok_and(|q| q.to_string_lossy() == path);
    module_ok && qual_ok
}

#[cfg(test)]
mod tests {
    use super::plain_utf8;

    #[test]
    fn fast_decode_takes_only_plain_utf8() {
        assert_eq!(plain_utf8(b"x = 1\n").as_deref(), Some("x = 1\n"));
        assert_eq!(
            plain_utf8(b"\xef\xbb\xbfx = 1\n").as_deref(),
            Some("x = 1\n")
        );
        assert_eq!(
            plain_utf8("# -*- coding: utf-8 -*-\nx = 'é'\n".as_bytes()).as_deref(),
            Some("# -*- coding: utf-8 -*-\nx = 'é'\n")
        );
        assert_eq!(
            plain_utf8(b"# coding=latin-1\nx = 1\n"),
            None,
            "another encoding: the slow path"
        );
        assert_eq!(plain_utf8(b"x = 1\r\n"), None, "newlines to translate");
        assert_eq!(plain_utf8(b"x = \xff\n"), None, "not UTF-8");
        assert_eq!(
            plain_utf8(b"x = 1\0\n"),
            None,
            "NUL: the slow path reports it"
        );
    }
}
