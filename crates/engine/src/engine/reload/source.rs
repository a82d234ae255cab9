//! Step 1 of a reload: which module, which file, its text, its code; and how errors in the
//! user's source are described (file, line, column, message, traceback).

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};

use crate::engine::error::EngineError;
use crate::engine::names::name;
use crate::engine::pyobj::helpers;
use crate::protocol::ErrorInfo;

/// The Python source file a reload of `module` reads, or why it cannot be reloaded.
pub(super) fn reloadable_file(
    module: &Bound<'_, PyModule>,
    name: &str,
) -> Result<PathBuf, EngineError> {
    let not = |reason: &str| EngineError::NotReloadable {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    if name == "__main__" {
        return Err(not(
            "it is the running script; reloading would run its body (and its main loop) again. \
             Move the code to reload into a module the script imports",
        ));
    }
    if let Some(p) = crate::engine::source::module_file(module) {
        return Ok(p);
    }
    let file = module
        .getattr(name!(module.py(), "__file__"))
        .ok()
        .filter(|f| !f.is_none());
    match file.and_then(|f| f.extract::<String>().ok()) {
        Some(f)
            if [".so", ".pyd", ".dylib"].iter().any(|ext| f.ends_with(ext))
                || f.contains(".cpython-") =>
        {
            Err(not(&format!(
                "it is a C extension ({f}); only Python source modules can be reloaded"
            )))
        }
        Some(f) => Err(not(&format!("it was not loaded from Python source ({f})"))),
        None => {
            let namespace = module
                .getattr("__path__")
                .is_ok_and(|p| !p.is_none() && p.getattr(name!(p.py(), "_path")).is_ok());
            if namespace {
                Err(not(
                    "it is a namespace package (no __init__.py); reload its modules instead",
                ))
            } else {
                Err(not(
                    "it has no source file (a builtin module, or one created at run time)",
                ))
            }
        }
    }
}

/// Reads and decodes `path` (or takes `earlier`, a version kept for an undo). An error is the
/// report's error for a `failed` outcome: the module is not touched.
pub(super) fn read_text(
    py: Python<'_>,
    module: &Bound<'_, PyModule>,
    path: &std::path::Path,
    file: &str,
    earlier: Option<&str>,
) -> Result<String, ErrorInfo> {
    let text = if let Some(text) = earlier {
        text.to_string()
    } else {
        let data = crate::engine::source::read_source(path).map_err(|e| ErrorInfo {
            file: file.to_string(),
            message: format!(
                "cannot read the source file: {e}; check that it exists and is readable"
            ),
            ..ErrorInfo::default()
        })?;
        crate::engine::source::decode(py, &data, path).map_err(|e| error_info(&e, file))?
    };
    if text.trim().is_empty() && defines_names(module) {
        // An editor or tool that truncates before writing; a designer does not empty a module
        // by saving nothing. Running it would remove every name the game uses.
        return Err(ErrorInfo {
            file: file.to_string(),
            line: Some(1),
            message: "the file is empty, so a reload would remove every name the module defines \
                      (a save still in progress?); save the complete file again. To empty the \
                      module on purpose, leave a comment or `pass` in it"
                .to_string(),
            ..ErrorInfo::default()
        });
    }
    Ok(text)
}

/// Compiles a whole module's text, never through the `.pyc` cache; a `SyntaxError` is described
/// for a `failed` outcome.
pub(super) fn compile_module<'py>(
    py: Python<'py>,
    text: &str,
    file: &str,
) -> Result<Bound<'py, PyAny>, ErrorInfo> {
    compile(py, text, file, 0).map_err(|e| describe(py, &e, file))
}

/// True when the module has names of its own (not only the import machinery's dunders).
fn defines_names(module: &Bound<'_, PyModule>) -> bool {
    module.dict().keys().iter().any(|k| {
        k.extract::<String>()
            .map_or(true, |k| !(k.starts_with("__") && k.ends_with("__")))
    })
}

/// `compile(text, file, "exec", flags, dont_inherit=True)`.
pub(super) fn compile<'py>(
    py: Python<'py>,
    text: &str,
    file: &str,
    flags: u32,
) -> PyResult<Bound<'py, PyAny>> {
    let kwargs = PyDict::new(py);
    kwargs.set_item("dont_inherit", true)?;
    kwargs.set_item("flags", flags)?;
    py.import("builtins")?
        .getattr("compile")?
        .call((text, file, "exec"), Some(&kwargs))
}

/// An error dict from `helpers.py` (`file`, `line`, `col`, `message`, `text`, `traceback`).
fn error_info(err: &Bound<'_, PyAny>, file: &str) -> ErrorInfo {
    let get = |k: &str| err.get_item(k).ok().filter(|v| !v.is_none());
    ErrorInfo {
        file: get("file")
            .and_then(|v| v.extract().ok())
            .unwrap_or_else(|| file.to_string()),
        line: get("line").and_then(|v| v.extract().ok()),
        col: get("col").and_then(|v| v.extract().ok()),
        message: get("message")
            .and_then(|v| v.extract().ok())
            .or_else(|| err.str().ok().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_default(),
        text: get("text").and_then(|v| v.extract().ok()),
        traceback: get("traceback")
            .and_then(|v| v.extract().ok())
            .unwrap_or_default(),
    }
}

/// Describes a Python exception raised by the user's code (file, line, message, traceback).
pub(super) fn describe(py: Python<'_>, e: &PyErr, file: &str) -> ErrorInfo {
    let described = helpers(py)
        .and_then(|h| h.getattr(name!(h.py(), "describe")))
        // into_value attaches the traceback to the exception object (value() alone does not).
        .and_then(|d| d.call1((e.clone_ref(py).into_value(py), file)));
    match described {
        Ok(d) => error_info(&d, file),
        Err(_) => ErrorInfo {
            file: file.to_string(),
            message: e.to_string(),
            ..ErrorInfo::default()
        },
    }
}

/// The line of `class <last part of qual>` in the new source (first match; no imports needed).
pub(super) fn class_line(source: &str, qual: &str) -> Option<u32> {
    let name = qual.rsplit('.').next()?;
    source
        .lines()
        .position(|l| {
            l.trim_start().strip_prefix("class ").is_some_and(|rest| {
                rest.starts_with(name) && rest[name.len()..].starts_with(['(', ':'])
            })
        })
        .and_then(|i| u32::try_from(i + 1).ok())
}
