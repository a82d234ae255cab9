//! Interned attribute names that never release the GIL.
//!
//! pyo3's `intern!` caches in a `PyOnceLock`, whose first initialisation detaches from the
//! interpreter (to avoid a deadlock). During a reload that would let another thread run in the
//! middle of the merge and see a half-built module. Interning a `str` runs no Python code, so a
//! plain `OnceLock` initialised while attached cannot deadlock: the GIL is never released inside.

/// `name!(py, "__code__")`: a `&Bound<PyString>` interned once per call site.
macro_rules! name {
    ($py:expr, $text:literal) => {{
        static CELL: std::sync::OnceLock<pyo3::Py<pyo3::types::PyString>> =
            std::sync::OnceLock::new();
        let py: pyo3::Python<'_> = $py;
        CELL.get_or_init(|| pyo3::types::PyString::intern(py, $text).unbind())
            .bind(py)
    }};
}

pub(crate) use name;
