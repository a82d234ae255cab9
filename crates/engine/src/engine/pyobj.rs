//! Small helpers on Python objects that every part of the engine uses: identity keys, short
//! reprs, class dict access that bypasses metaclasses, the engine's Python helpers module.
//!
//! A leaf: it imports nothing else from the engine but `names` and `classify` (leaves too), so
//! any engine file may use it.

use std::ffi::CString;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyFunction, PyModule, PyType};

use super::names::name;

/// An object's identity, as a map key (the object must be kept alive while the key is used).
pub(crate) fn ptr(o: &Bound<'_, PyAny>) -> usize {
    o.as_ptr() as usize
}

/// The engine's Python helpers (`helpers.py`), loaded once as `_swapscope_engine`.
pub(crate) fn helpers(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static HELPERS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    HELPERS
        .get_or_try_init(py, || {
            let code = |text: &str| {
                CString::new(text)
                    .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
            };
            // The loader first (helpers.py imports it), under importlib's file name: see
            // loader.py for why.
            PyModule::from_code(
                py,
                &code(include_str!("loader.py"))?,
                c"<frozen importlib._bootstrap_external>",
                c"_swapscope_loader",
            )?;
            Ok(PyModule::from_code(
                py,
                &code(include_str!("helpers.py"))?,
                c"<swapscope helpers.py>",
                c"_swapscope_engine",
            )?
            .unbind())
        })
        .map(|m| m.bind(py))
}

/// A repr for the report: at most 80 characters.
pub(crate) fn short_repr(o: &Bound<'_, PyAny>) -> String {
    repr_within(o, 80)
}

/// A repr of at most `limit` characters (user `__repr__` errors included).
pub(crate) fn repr_within(o: &Bound<'_, PyAny>, limit: usize) -> String {
    // Code is named by its qualname, without a call into Python (reloads list thousands).
    let kind = if o.is_instance_of::<PyFunction>() {
        Some("function")
    } else if o.is_instance_of::<PyType>() {
        Some("class")
    } else {
        None
    };
    if let Some(kind) = kind
        && let Ok(q) = o
            .getattr(name!(o.py(), "__qualname__"))
            .and_then(|q| q.extract::<String>())
    {
        return format!("<{kind} {q}>");
    }
    if let Some(text) = plain_repr(o).or_else(|| descriptor_repr(o)) {
        return text;
    }
    helpers(o.py())
        .and_then(|h| h.getattr(name!(h.py(), "short_repr")))
        .and_then(|f| f.call1((o, limit)))
        .and_then(|r| r.extract::<String>())
        .unwrap_or_else(|_| "<?>".into())
}

/// The repr of a plain scalar, as `helpers.short_repr` gives it, without a call into Python:
/// `None`, a bool, an int of at most 40 characters, a float or str of at most 60 (reprlib's
/// limits; longer ones are shortened there, in its own way).
fn plain_repr(o: &Bound<'_, PyAny>) -> Option<String> {
    use pyo3::types::{PyBool, PyFloat, PyInt, PyString};
    let limit = if o.is_none() || o.is_exact_instance_of::<PyBool>() {
        usize::MAX
    } else if o.is_exact_instance_of::<PyInt>() {
        40
    } else if o.is_exact_instance_of::<PyFloat>() || o.is_exact_instance_of::<PyString>() {
        60
    } else {
        return None;
    };
    let text = o.repr().ok()?.to_cow().ok()?.into_owned();
    (text.chars().count() <= limit).then_some(text)
}

/// A classmethod, staticmethod or property named by its function's qualname
/// (`<property Unit.doubled>`): Python's own repr shows an address, noise in a report.
fn descriptor_repr(o: &Bound<'_, PyAny>) -> Option<String> {
    use crate::engine::classify::{ObjKind, classify};
    let (kind, f) = match classify(o) {
        ObjKind::ClassMethod(f) => ("classmethod", f),
        ObjKind::StaticMethod(f) => ("staticmethod", f),
        ObjKind::Property(acc) => ("property", acc.into_iter().next()?.1),
        _ => return None,
    };
    let q = f
        .getattr(name!(o.py(), "__qualname__"))
        .and_then(|q| q.extract::<String>())
        .ok()?;
    Some(format!("<{kind} {q}>"))
}

/// Sets a class attribute through `type.__setattr__`: an Enum metaclass refuses setattr of
/// members on the class itself.
pub(crate) fn type_setattr(
    cls: &Bound<'_, PyType>,
    name: &str,
    value: &Bound<'_, PyAny>,
) -> PyResult<()> {
    cls.py()
        .get_type::<PyType>()
        .getattr("__setattr__")?
        .call1((cls, name, value))
        .map(|_| ())
}

/// Deletes a class attribute through `type.__delattr__` (see [`type_setattr`]).
pub(crate) fn type_delattr(cls: &Bound<'_, PyType>, name: &str) -> PyResult<()> {
    cls.py()
        .get_type::<PyType>()
        .getattr("__delattr__")?
        .call1((cls, name))
        .map(|_| ())
}

/// A class's own members (its `__dict__`), in definition order, string keys only.
pub(crate) fn class_items<'py>(
    cls: &Bound<'py, PyType>,
) -> PyResult<Vec<(String, Bound<'py, PyAny>)>> {
    let mut out = Vec::new();
    for item in cls
        .getattr(name!(cls.py(), "__dict__"))?
        .call_method0("items")?
        .try_iter()?
    {
        let (k, v): (Bound<'py, PyAny>, Bound<'py, PyAny>) = item?.extract()?;
        if let Ok(k) = k.extract::<String>() {
            out.push((k, v));
        }
    }
    Ok(out)
}

/// A namespace's entries with string keys, in order (other keys are not names: skipped).
pub(crate) fn named_items<'py>(
    ns: &Bound<'py, PyDict>,
) -> impl Iterator<Item = (String, Bound<'py, PyAny>)> {
    ns.iter()
        .filter_map(|(k, v)| k.extract::<String>().ok().map(|k| (k, v)))
}

/// True if `cls` is an `enum.Enum` subclass.
pub(crate) fn is_enum_class(cls: &Bound<'_, PyType>) -> bool {
    cls.py()
        .import("enum")
        .and_then(|e| e.getattr(name!(e.py(), "Enum")))
        .and_then(|enum_type| cls.is_subclass(&enum_type))
        .unwrap_or(false)
}

/// `Py_TPFLAGS_HEAPTYPE`: the type was made by a class statement (or `type()`), not in C.
pub(crate) const HEAPTYPE: u64 = 1 << 9;

/// True if `v` is an instance of a class defined in Python (a heap type), not of a builtin or C
/// type. (Extension types made with `PyType_FromSpec` are heap types too.)
pub(crate) fn python_instance(v: &Bound<'_, PyAny>) -> bool {
    let ty = v.get_type();
    ty.getattr(name!(ty.py(), "__flags__"))
        .and_then(|f| f.extract::<u64>())
        .is_ok_and(|flags| flags & HEAPTYPE != 0)
}

/// A class's `__qualname__` (through `name!`: pyo3's `qualname()` may release the GIL on first
/// use, see `names`).
pub(crate) fn qualname(cls: &Bound<'_, PyType>) -> Option<String> {
    cls.getattr(name!(cls.py(), "__qualname__"))
        .and_then(|q| q.extract::<String>())
        .ok()
}

/// True if `cls` was defined by this module's source at `path` (not an import or an alias).
pub(crate) fn owned_by(cls: &Bound<'_, PyType>, module_name: &str, path: &str) -> bool {
    let module_ok = cls
        .getattr("__module__")
        .and_then(|m| m.extract::<String>())
        .is_ok_and(|m| m == module_name);
    let qual_ok = qualname(cls).is_some_and(|q| q == path);
    module_ok && qual_ok
}

/// `sys.modules`.
pub(crate) fn sys_modules(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    Ok(py
        .import("sys")?
        .getattr(name!(py, "modules"))?
        .cast_into::<PyDict>()?)
}

/// A Python exception as plain data: its type, message and formatted traceback. What the engine
/// keeps of a `PyErr` that is swapscope's failure, not the user's (those become the report's
/// `ErrorInfo`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PyFailure {
    pub kind: String,
    pub message: String,
    pub traceback: String,
}

impl PyFailure {
    pub(crate) fn of(py: Python<'_>, e: &PyErr) -> PyFailure {
        PyFailure {
            kind: e
                .get_type(py)
                .name()
                .map_or_else(|_| "Exception".into(), |n| n.to_string()),
            message: e.value(py).to_string(),
            traceback: e
                .traceback(py)
                .and_then(|t| t.format().ok())
                .unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for PyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)?;
        if !self.traceback.is_empty() {
            write!(f, "\n{}", self.traceback.trim_end())?;
        }
        Ok(())
    }
}
