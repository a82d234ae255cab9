//! Test helpers: a temp project folder, tracked by swapscope, with Python snippets run in one
//! namespace per test.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::ffi::CString;
use std::path::{Path, PathBuf};

use pyo3::prelude::*;
use pyo3::types::PyDict;

pub struct Project {
    pub dir: tempfile::TempDir,
    ns: Py<PyDict>,
}

impl Project {
    /// A new folder on `sys.path`, under a watched root.
    pub fn new() -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        swapscope::interp::initialize_with_roots(&[dir.path().to_path_buf()])
            .expect("install hook");
        preimport();
        let ns = Python::attach(|py| {
            let sys = py.import("sys").unwrap();
            sys.getattr("path")
                .unwrap()
                .call_method1("insert", (0, dir.path().to_string_lossy().to_string()))
                .unwrap();
            let ns = PyDict::new(py);
            ns.set_item("__builtins__", py.import("builtins").unwrap())
                .unwrap();
            py.run(c"import swapscope", Some(&ns), None).unwrap();
            ns.unbind()
        });
        Project { dir, ns }
    }

    pub fn path(&self, module: &str) -> PathBuf {
        self.dir
            .path()
            .join(format!("{}.py", module.replace('.', "/")))
    }

    /// Writes `module`'s source (dedented) and makes sure its mtime moves.
    pub fn write(&self, module: &str, source: &str) {
        let path = self.path(module);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        let before = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        std::fs::write(&path, dedent(source)).unwrap();
        if let Some(before) = before {
            let f = std::fs::File::options().write(true).open(&path).unwrap();
            f.set_modified(before + std::time::Duration::from_secs(1))
                .unwrap();
        }
    }

    pub fn write_bytes(&self, module: &str, data: &[u8]) {
        std::fs::write(self.path(module), data).unwrap();
    }

    /// Runs Python statements (dedented) in this test's namespace; panics with the traceback.
    pub fn run(&self, code: &str) {
        Python::attach(|py| {
            let code = CString::new(dedent(code)).unwrap();
            if let Err(e) = py.run(&code, Some(self.ns.bind(py)), None) {
                let tb = e
                    .traceback(py)
                    .and_then(|t| t.format().ok())
                    .unwrap_or_default();
                panic!("Python failed:\n{tb}{e}");
            }
        });
    }

    /// Evaluates a Python expression in this test's namespace, as a Rust value.
    pub fn eval<T: for<'a, 'py> FromPyObjectOwned<'py>>(&self, expr: &str) -> T {
        Python::attach(|py| {
            let code = CString::new(expr).unwrap();
            match py
                .eval(&code, Some(self.ns.bind(py)), None)
                .and_then(|v| v.extract::<T>().map_err(Into::into))
            {
                Ok(v) => v,
                Err(e) => panic!("evaluating {expr:?} failed: {e}"),
            }
        })
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

/// Imports the stdlib modules tests use, once, before tests run in parallel: the tests of one
/// binary share an interpreter, and `dataclasses` reads `sys.modules["typing"]` without importing
/// it, so on 3.13 it could see a `typing` another test thread is still importing.
fn preimport() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        Python::attach(|py| {
            for m in [
                "typing",
                "dataclasses",
                "enum",
                "functools",
                "inspect",
                "threading",
                "json",
                "collections",
                "abc",
                "gc",
                "importlib",
                "time",
            ] {
                py.import(m).expect("stdlib import");
            }
        });
    });
}

pub fn dedent(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out: String = lines
        .iter()
        .map(|l| {
            if l.len() >= indent {
                &l[indent..]
            } else {
                l.trim_start()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    out.push('\n');
    out.trim_start_matches('\n').to_string()
}
