//! What an attribute is, as the merge sees it: function, wrapper, descriptor, class, data.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyCFunction, PyFunction, PyModule, PyType};

use super::report::Kind;

/// An attribute's shape, carrying the functions inside descriptors and wrappers.
pub enum Kind2<'py> {
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

impl Kind2<'_> {
    /// The report's kind for this shape, in a class (`in_class`) or at module level.
    pub fn report_kind(&self, in_class: bool) -> Kind {
        match self {
            Kind2::Data => Kind::Data,
            Kind2::Function | Kind2::Wrapper(_) if in_class => Kind::Method,
            Kind2::Function | Kind2::Wrapper(_) => Kind::Function,
            Kind2::ClassMethod(_) => Kind::Classmethod,
            Kind2::StaticMethod(_) => Kind::Staticmethod,
            Kind2::Property(_) => Kind::Property,
            Kind2::Class => Kind::Class,
            Kind2::Module => Kind::Module,
            Kind2::Other => Kind::Other,
        }
    }

    /// A word for messages ("function", "property", ...).
    pub fn word(&self) -> &'static str {
        match self {
            Kind2::Data => "data",
            Kind2::Function => "function",
            Kind2::Wrapper(_) => "cached function",
            Kind2::ClassMethod(_) => "classmethod",
            Kind2::StaticMethod(_) => "staticmethod",
            Kind2::Property(_) => "property",
            Kind2::Class => "class",
            Kind2::Module => "module",
            Kind2::Other => "descriptor or builtin",
        }
    }

    fn tag(&self) -> u8 {
        match self {
            Kind2::Data => 0,
            Kind2::Function => 1,
            Kind2::Wrapper(_) => 2,
            Kind2::ClassMethod(_) => 3,
            Kind2::StaticMethod(_) => 4,
            Kind2::Property(_) => 5,
            Kind2::Class => 6,
            Kind2::Module => 7,
            Kind2::Other => 8,
        }
    }
}

impl PartialEq for Kind2<'_> {
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
pub fn classify<'py>(v: &Bound<'py, PyAny>) -> Kind2<'py> {
    let py = v.py();
    if v.is_instance_of::<PyFunction>() {
        return Kind2::Function;
    }
    if v.is_instance_of::<PyType>() {
        return Kind2::Class;
    }
    if v.is_instance_of::<PyModule>() {
        return Kind2::Module;
    }
    if v.is_instance_of::<PyCFunction>() {
        return Kind2::Other;
    }
    let Ok(t) = types(py) else {
        return Kind2::Other;
    };
    let ty = v.get_type();
    let inner = |attr: &str| v.getattr(attr).ok();
    if ty.is(t.lru_wrapper.bind(py)) {
        if let Some(w) = inner("__wrapped__") {
            return Kind2::Wrapper(w);
        }
        return Kind2::Other;
    }
    if ty.is_subclass(t.classmethod.bind(py)).unwrap_or(false) {
        return inner("__func__").map_or(Kind2::Other, Kind2::ClassMethod);
    }
    if ty.is_subclass(t.staticmethod.bind(py)).unwrap_or(false) {
        return inner("__func__").map_or(Kind2::Other, Kind2::StaticMethod);
    }
    if ty.is_subclass(t.property.bind(py)).unwrap_or(false) {
        let mut acc = Vec::new();
        for name in ["fget", "fset", "fdel"] {
            if let Some(f) = inner(name).filter(|f| !f.is_none()) {
                acc.push((name, f));
            }
        }
        return Kind2::Property(acc);
    }
    // Other descriptors (method descriptors, slots, cached_property, ...) are code, not data.
    if ty.hasattr("__get__").unwrap_or(false) {
        return Kind2::Other;
    }
    Kind2::Data
}
