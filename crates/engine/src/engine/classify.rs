//! What an attribute is, as the merge sees it: function, wrapper, descriptor, class, data; and
//! which class members are bookkeeping, never merged.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyCFunction, PyFunction, PyModule, PyType};

use crate::protocol::Kind;

/// An attribute's shape, carrying the functions inside descriptors and wrappers.
pub enum ObjKind<'py> {
    Data,
    Function,
    /// `functools.lru_cache` (and `cache`) wrapper; carries `__wrapped__`.
    Wrapper(Bound<'py, PyAny>),
    ClassMethod(Bound<'py, PyAny>),
    StaticMethod(Bound<'py, PyAny>),
    /// A property with its accessors present (`fget`, `fset`, `fdel`).
    Property(Vec<(&'static str, Bound<'py, PyAny>)>),
    Class,
    Module,
    /// Builtins and other descriptors: taken new.
    Other,
}

impl ObjKind<'_> {
    /// The report's kind for this shape, in a class (`in_class`) or at module level.
    pub fn report_kind(&self, in_class: bool) -> Kind {
        match self {
            ObjKind::Data => Kind::Data,
            ObjKind::Function | ObjKind::Wrapper(_) if in_class => Kind::Method,
            ObjKind::Function | ObjKind::Wrapper(_) => Kind::Function,
            ObjKind::ClassMethod(_) => Kind::Classmethod,
            ObjKind::StaticMethod(_) => Kind::Staticmethod,
            ObjKind::Property(_) => Kind::Property,
            ObjKind::Class => Kind::Class,
            ObjKind::Module => Kind::Module,
            ObjKind::Other => Kind::Other,
        }
    }

    /// A word for messages ("function", "property", ...).
    pub fn word(&self) -> &'static str {
        match self {
            ObjKind::Data => "data",
            ObjKind::Function => "function",
            ObjKind::Wrapper(_) => "cached function",
            ObjKind::ClassMethod(_) => "classmethod",
            ObjKind::StaticMethod(_) => "staticmethod",
            ObjKind::Property(_) => "property",
            ObjKind::Class => "class",
            ObjKind::Module => "module",
            ObjKind::Other => "descriptor or builtin",
        }
    }

    fn tag(&self) -> u8 {
        match self {
            ObjKind::Data => 0,
            ObjKind::Function => 1,
            ObjKind::Wrapper(_) => 2,
            ObjKind::ClassMethod(_) => 3,
            ObjKind::StaticMethod(_) => 4,
            ObjKind::Property(_) => 5,
            ObjKind::Class => 6,
            ObjKind::Module => 7,
            ObjKind::Other => 8,
        }
    }
}

impl PartialEq for ObjKind<'_> {
    /// Same shape (the carried objects are not compared).
    fn eq(&self, other: &Self) -> bool {
        self.tag() == other.tag()
    }
}

pub(crate) struct Types {
    classmethod: Py<PyType>,
    staticmethod: Py<PyType>,
    property: Py<PyType>,
    lru_wrapper: Py<PyType>,
}

pub(crate) fn types(py: Python<'_>) -> PyResult<&Types> {
    static TYPES: PyOnceLock<Types> = PyOnceLock::new();
    TYPES.get_or_try_init(py, || {
        let b = py.import("builtins")?;
        let t = |m: &Bound<'_, PyModule>, n: &str| -> PyResult<Py<PyType>> {
            Ok(m.getattr(n)?.cast_into::<PyType>()?.unbind())
        };
        Ok(Types {
            classmethod: t(&b, "classmethod")?,
            staticmethod: t(&b, "staticmethod")?,
            property: t(&b, "property")?,
            lru_wrapper: t(&py.import("functools")?, "_lru_cache_wrapper")?,
        })
    })
}

/// Classifies `v` without calling user code.
pub fn classify<'py>(v: &Bound<'py, PyAny>) -> ObjKind<'py> {
    let py = v.py();
    if v.is_instance_of::<PyFunction>() {
        return ObjKind::Function;
    }
    if v.is_instance_of::<PyType>() {
        return ObjKind::Class;
    }
    if v.is_instance_of::<PyModule>() {
        return ObjKind::Module;
    }
    if v.is_instance_of::<PyCFunction>() {
        return ObjKind::Other;
    }
    let Ok(t) = types(py) else {
        return ObjKind::Other;
    };
    let ty = v.get_type();
    let inner = |attr: &str| v.getattr(attr).ok();
    if ty.is(t.lru_wrapper.bind(py)) {
        if let Some(w) = inner("__wrapped__") {
            return ObjKind::Wrapper(w);
        }
        return ObjKind::Other;
    }
    if ty.is_subclass(t.classmethod.bind(py)).unwrap_or(false) {
        return inner("__func__").map_or(ObjKind::Other, ObjKind::ClassMethod);
    }
    if ty.is_subclass(t.staticmethod.bind(py)).unwrap_or(false) {
        return inner("__func__").map_or(ObjKind::Other, ObjKind::StaticMethod);
    }
    if ty.is_subclass(t.property.bind(py)).unwrap_or(false) {
        let mut acc = Vec::new();
        for name in ["fget", "fset", "fdel"] {
            if let Some(f) = inner(name).filter(|f| !f.is_none()) {
                acc.push((name, f));
            }
        }
        return ObjKind::Property(acc);
    }
    // Other descriptors (method descriptors, slots, cached_property, ...) are code, not data.
    if ty.hasattr("__get__").unwrap_or(false) {
        return ObjKind::Other;
    }
    ObjKind::Data
}

/// Module attributes that belong to the import system, not to the source: kept through a reload.
pub(crate) const MACHINERY: [&str; 8] = [
    "__name__",
    "__file__",
    "__spec__",
    "__loader__",
    "__package__",
    "__builtins__",
    "__cached__",
    "__path__",
];

/// Classifies a value bound at module level. A descriptor only acts as one in a class body: at
/// module level an instance of a Python class that defines `__get__` (a `toolz.curry`) is data
/// like any other instance, merged by the data rule instead of replaced on every reload.
pub fn classify_global<'py>(v: &Bound<'py, PyAny>) -> ObjKind<'py> {
    match classify(v) {
        ObjKind::Other if super::pyobj::python_instance(v) => ObjKind::Data,
        kind => kind,
    }
}

/// Class attributes that are layout or bookkeeping, neither merged nor reported.
pub(crate) fn skip_member(name: &str) -> bool {
    matches!(
        name,
        "__dict__"
            | "__weakref__"
            | "__module__"
            | "__qualname__"
            | "__slots__"
            | "__slotnames__"
            | "__abstractmethods__"
            | "_abc_impl"
            | "__orig_bases__"
            | "__parameters__"
            | "__firstlineno__"
            | "__static_attributes__"
            | "__doc__"
    )
}
