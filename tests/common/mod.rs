//! The test harness every binary shares (`mod common;`): a temp project folder, tracked by
//! swapscope, with Python snippets run in one namespace per test (here); the engine tests'
//! Python helpers ([`engine`]); the runtime session ([`runtime`]); and the text helpers
//! [`dedent`] and [`canon`].
#![allow(
    dead_code,
    reason = "each test binary uses a different subset (of the submodules too)"
)]

pub mod attach;
pub mod engine;
pub mod runtime;

use std::cell::{Cell, RefCell};
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use pyo3::prelude::*;
use pyo3::types::PyDict;

pub struct Project {
    pub dir: tempfile::TempDir,
    ns: Py<PyDict>,
    /// Last, so it is released after the folder and the namespace are gone.
    _turn: Option<Rc<SharedTurn>>,
}

impl Project {
    /// A new folder on `sys.path`, under a watched root. The project holds a shared turn of the
    /// interpreter (see [`alone`]).
    pub fn new() -> Project {
        let turn = shared_turn();
        let dir = tempfile::tempdir().expect("temp dir");
        start_engine(dir.path());
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
        Project {
            dir,
            ns,
            _turn: turn,
        }
    }

    pub fn path(&self, module: &str) -> PathBuf {
        self.dir
            .path()
            .join(format!("{}.py", module.replace('.', "/")))
    }

    /// Writes `module`'s source ([`snippet`]) and makes sure its mtime moves.
    pub fn write(&self, module: &str, source: &str) {
        let path = self.path(module);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        let before = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        std::fs::write(&path, snippet(source)).unwrap();
        if let Some(before) = before {
            let f = std::fs::File::options().write(true).open(&path).unwrap();
            f.set_modified(before + std::time::Duration::from_secs(1))
                .unwrap();
        }
    }

    pub fn write_bytes(&self, module: &str, data: &[u8]) {
        std::fs::write(self.path(module), data).unwrap();
    }

    /// Runs Python statements ([`snippet`]) in this test's namespace; panics with the traceback.
    pub fn run(&self, code: &str) {
        Python::attach(|py| {
            let code = CString::new(snippet(code)).unwrap();
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

/// The tests of one binary share one interpreter. Each [`Project`] holds a shared turn of it, so
/// the tests run side by side; [`alone`] waits until no other test holds a project and keeps new
/// ones out, for a test that compares process-wide state (`sys.modules`, `sys.meta_path`, gc, the
/// switch interval) that the other tests' imports and reloads change, or that writes into other
/// modules than its own (`swapscope.propagate`).
static INTERPRETER: RwLock<()> = RwLock::new(());

type SharedTurn = RwLockReadGuard<'static, ()>;

thread_local! {
    /// This thread's shared turn while one of its projects lives: a second project of the same
    /// test reuses it (taking the lock again could wait behind a test waiting for [`alone`]).
    static SHARED: RefCell<Weak<SharedTurn>> = const { RefCell::new(Weak::new()) };
    /// Set while this thread has the interpreter [`alone`]: its projects take no shared turn.
    static ALONE: Cell<bool> = const { Cell::new(false) };
}

/// A shared turn of the interpreter for a new project of this thread.
fn shared_turn() -> Option<Rc<SharedTurn>> {
    if ALONE.get() {
        return None;
    }
    SHARED.with_borrow_mut(|held| {
        if let Some(turn) = held.upgrade() {
            return Some(turn);
        }
        let turn = Rc::new(INTERPRETER.read().unwrap_or_else(PoisonError::into_inner));
        *held = Rc::downgrade(&turn);
        Some(turn)
    })
}

/// The turn [`alone`] gives.
pub struct Alone {
    _turn: RwLockWriteGuard<'static, ()>,
}

/// The interpreter for this test alone until the result is dropped: waits for the other tests'
/// projects to go and keeps new ones out. Take it before the test's own projects.
pub fn alone() -> Alone {
    let turn = INTERPRETER.write().unwrap_or_else(PoisonError::into_inner);
    ALONE.set(true);
    Alone { _turn: turn }
}

impl Drop for Alone {
    fn drop(&mut self) {
        ALONE.set(false);
    }
}

/// Imports the stdlib modules tests use, once, before tests run in parallel: the tests of one
/// binary share an interpreter, and `dataclasses` reads `sys.modules["typing"]` without importing
/// it, so on 3.13 it could see a `typing` another test thread is still importing.
/// Starts the interpreter with the engine the tests drive, tracking `root`: the binary's own
/// (embedded mode, the default), or with `SWAPSCOPE_TEST_ENGINE=wheel` the abi3 wheel installed
/// in a venv of this interpreter's version — the same scenarios through the attach mode's engine.
fn start_engine(root: &Path) {
    static SITE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if std::env::var("SWAPSCOPE_TEST_ENGINE").as_deref() != Ok("wheel") {
        swapscope::interp::initialize_with_roots(&[root.to_path_buf()]).expect("install hook");
        return;
    }
    // No built-in `swapscope` module: `import swapscope` must find the wheel.
    Python::initialize();
    Python::attach(|py| {
        let sys = py.import("sys").unwrap();
        let site = SITE.get_or_init(|| {
            let (major, minor): (u32, u32) = sys
                .getattr("version_info")
                .unwrap()
                .extract::<(u32, u32, u32, String, u32)>()
                .map(|v| (v.0, v.1))
                .unwrap();
            let version = format!("{major}.{minor}");
            let python = attach::venv(&version).unwrap_or_else(|| {
                panic!("SWAPSCOPE_TEST_ENGINE=wheel: no CPython {version} under pyenv for the venv")
            });
            let venv = python.parent().and_then(Path::parent).expect("venv folder");
            let site = venv
                .join("lib")
                .join(format!("python{version}"))
                .join("site-packages");
            let site = site.to_string_lossy().into_owned();
            sys.getattr("path")
                .unwrap()
                .call_method1("insert", (0, &site))
                .unwrap();
            site
        });
        let swapscope = py
            .import("swapscope")
            .expect("import the wheel's swapscope");
        let file: String = swapscope.getattr("__file__").unwrap().extract().unwrap();
        assert!(
            file.starts_with(site.as_str()),
            "swapscope came from {file}, not the wheel in {site}"
        );
        swapscope
            .getattr("_native")
            .unwrap()
            .call_method1("_track", (vec![root.to_string_lossy().into_owned()],))
            .expect("install hook");
    });
}

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

/// Strips the indentation common to all non-blank lines (and trailing whitespace). A leading
/// blank line stays: in `r"\n    code"` the code is on line 2, as the tests that assert
/// traceback line numbers of scripts expect.
pub fn dedent(text: &str) -> String {
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(line.get(indent..).unwrap_or("").trim_end());
        out.push('\n');
    }
    out
}

/// A Python snippet as [`Project::write`] and [`Project::run`] take it: [`dedent`]ed, without its
/// leading blank lines, so that line 1 is the first line of code in `r"\n    code"` (the engine
/// tests assert line numbers counted this way).
fn snippet(text: &str) -> String {
    dedent(text).trim_start_matches('\n').to_string()
}

/// `p` canonicalised when it exists (temp folders may lie behind a symlink), else as it is.
pub fn canon(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}
