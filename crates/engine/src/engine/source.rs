//! A module's source file: reading it safely, decoding it like the import system, its mtime,
//! and which file a loaded module came from.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use pyo3::prelude::*;
use pyo3::types::PyModule;

use super::error::EngineError;
use super::names::name;
use super::pyobj::{helpers, sys_modules};

/// The module `name` in `sys.modules`.
pub fn find_module<'py>(py: Python<'py>, name: &str) -> Result<Bound<'py, PyModule>, EngineError> {
    let modules =
        sys_modules(py).map_err(|e| EngineError::python(py, "reading sys.modules", &e))?;
    let module = modules
        .get_item(name)
        .ok()
        .flatten()
        .ok_or_else(|| EngineError::UnknownModule(name.to_string()))?;
    module
        .cast_into::<PyModule>()
        .map_err(|_| EngineError::NotReloadable {
            name: name.to_string(),
            reason: "sys.modules holds something that is not a module under this name".into(),
        })
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
pub fn decode<'py>(py: Python<'py>, data: &[u8], path: &Path) -> Result<String, Bound<'py, PyAny>> {
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

/// `text` with the literal that gives `qualname` replaced by `literal` (see
/// `helpers.edit_literal`), and the line of that literal; or why not, in words.
pub(crate) fn edit_literal(
    py: Python<'_>,
    text: &str,
    qualname: &str,
    literal: &str,
) -> Result<(String, usize), String> {
    helpers(py)
        .and_then(|h| h.getattr(name!(py, "edit_literal")))
        .and_then(|f| f.call1((text, qualname, literal)))
        .and_then(|r| r.extract::<(String, usize)>())
        .map_err(|e| {
            e.value(py)
                .str()
                .map_or_else(|_| e.to_string(), |s| s.to_string())
        })
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
