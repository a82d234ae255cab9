//! The statement splitter against `CPython`: for every module of the interpreter's standard
//! library, the repo's own Python files and the benchmark workload, `statements::split` gives
//! the line ranges (and the columns where a statement starts and ends) of `ast.parse(src).body`.
//! Cuts of the same files must split or fail, never panic.

use std::ffi::CString;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use swapscope::engine::statements::{Statement, split};

use crate::common::Project;

/// The Python side: the files to compare and `ast`'s view of each.
const HELPERS: &str = r#"
import ast, importlib.util, io, os, sysconfig, tokenize, warnings

def files(root):
    """Every .py file of the standard library (not site-packages), then the repo's own."""
    out = []
    stdlib = sysconfig.get_paths()["stdlib"]
    for folder, dirs, names in os.walk(stdlib):
        dirs[:] = sorted(d for d in dirs if d not in ("site-packages", "__pycache__"))
        out += [os.path.join(folder, n) for n in sorted(names) if n.endswith(".py")]
    for sub in ("crates/engine/src/engine", "benches", "assets/demo"):
        folder = os.path.join(root, sub)
        out += [os.path.join(folder, n) for n in sorted(os.listdir(folder)) if n.endswith(".py")]
    return out

def read(path):
    """The file's text, decoded as Python decodes a module (None if it cannot be)."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError):
        return None

def body(src):
    """(first line, last line, start column or -1, end column) of each top-level statement,
    a decorated definition starting at its first decorator; None if ast rejects the source."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(src)
    except (SyntaxError, ValueError):
        return None
    out = []
    for node in tree.body:
        decorators = getattr(node, "decorator_list", None)
        if decorators:
            out.append((decorators[0].lineno, node.end_lineno, -1, node.end_col_offset))
        else:
            out.append((node.lineno, node.end_lineno, node.col_offset, node.end_col_offset))
    return out

def workload(root, lines):
    path = os.path.join(root, "benches", "workload.py")
    spec = importlib.util.spec_from_file_location("_statements_workload", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.source(lines, 1)
"#;

/// Byte offsets where each line starts, with `CPython`'s line ends (`\n`, `\r\n`, `\r`).
fn line_starts(src: &str) -> Vec<usize> {
    let b = src.as_bytes();
    let mut starts = vec![0];
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\r' if b.get(i + 1) == Some(&b'\n') => {
                i += 2;
                starts.push(i);
            }
            b'\n' | b'\r' => {
                i += 1;
                starts.push(i);
            }
            _ => i += 1,
        }
    }
    starts
}

/// `split`'s statements in `ast`'s terms (see `body` in [`HELPERS`]).
fn ranges(src: &str, statements: &[Statement]) -> Vec<(usize, usize, i64, usize)> {
    let starts = line_starts(src);
    let col = |offset: usize, line: usize| offset - starts[line - 1];
    statements
        .iter()
        .map(|s| {
            let start = i64::try_from(col(s.start, s.first_line)).unwrap();
            (s.first_line, s.last_line, start, col(s.end, s.last_line))
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    files: usize,
    statements: usize,
    rejected_by_ast: usize,
    unreadable: usize,
    mismatches: Vec<String>,
}

impl Tally {
    /// Compares `split(src)` with `ast`'s `expected` body; `None` means ast rejected `src`.
    fn compare(
        &mut self,
        name: &str,
        src: &str,
        expected: Option<Vec<(usize, usize, i64, usize)>>,
    ) {
        let got = split(src);
        let Some(expected) = expected else {
            self.rejected_by_ast += 1;
            return;
        };
        self.files += 1;
        self.statements += expected.len();
        let got = match got {
            Ok(statements) => ranges(src, &statements),
            Err(e) => {
                self.mismatches.push(format!("{name}: split failed: {e}"));
                return;
            }
        };
        if got.len() != expected.len() {
            let first = got.iter().zip(&expected).position(|(g, e)| g != e);
            self.mismatches.push(format!(
                "{name}: {} statements, ast has {}; first difference at {first:?}: {:?} vs {:?}",
                got.len(),
                expected.len(),
                first.and_then(|i| got.get(i)),
                first.and_then(|i| expected.get(i)),
            ));
            return;
        }
        for (g, e) in got.iter().zip(&expected) {
            // A decorated definition's start column is not in ast (its decorator's is after '@').
            let same = (g.0, g.1, g.3) == (e.0, e.1, e.3) && (e.2 < 0 || g.2 == e.2);
            if !same {
                self.mismatches
                    .push(format!("{name}: split gives {g:?}, ast gives {e:?}"));
                return;
            }
        }
    }
}

/// A small xorshift, so the cuts are the same on every run.
struct Cuts(u64);

impl Cuts {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % u64::try_from(n.max(1)).unwrap()).unwrap()
    }

    /// A prefix, a suffix and the source with a random span deleted: `split` must not panic.
    fn try_cuts(&mut self, src: &str) {
        let (a, b) = (self.below(src.len() + 1), self.below(src.len() + 1));
        let (a, b) = (a.min(b), a.max(b));
        if let (Some(head), Some(tail)) = (src.get(..a), src.get(b..)) {
            let _ = split(head);
            let _ = split(tail);
            let _ = split(&format!("{head}{tail}"));
        }
    }
}

#[test]
fn statements_split_like_ast_parse_body() {
    // The project starts the interpreter and holds the tests' shared turn of it.
    let _p = Project::new();
    let root = env!("CARGO_MANIFEST_DIR");
    let mut tally = Tally::default();
    let mut cuts = Cuts(0x2545_f491_4f6c_dd1d);
    let started = std::time::Instant::now();
    Python::attach(|py| {
        let ns = PyDict::new(py);
        ns.set_item("__builtins__", py.import("builtins").unwrap())
            .unwrap();
        py.run(&CString::new(HELPERS).unwrap(), Some(&ns), None)
            .unwrap();
        let call = |f: &str, args: (String,)| ns.get_item(f).unwrap().unwrap().call1(args);
        let body = |src: &str| -> Option<Vec<(usize, usize, i64, usize)>> {
            ns.get_item("body")
                .unwrap()
                .unwrap()
                .call1((src,))
                .unwrap()
                .extract()
                .unwrap()
        };
        let files: Vec<String> = call("files", (root.to_owned(),))
            .unwrap()
            .extract()
            .unwrap();
        for path in &files {
            let src: Option<String> = call("read", (path.clone(),))
                .ok()
                .and_then(|s| s.extract().ok())
                .flatten();
            let Some(src) = src else {
                tally.unreadable += 1;
                continue;
            };
            tally.compare(path, &src, body(&src));
            cuts.try_cuts(&src);
            if !path.starts_with(root) {
                continue;
            }
            // The repo's files again with CRLF line ends.
            let crlf = src.replace('\n', "\r\n");
            tally.compare(&format!("{path} (CRLF)"), &crlf, body(&crlf));
        }
        let workload = ns.get_item("workload").unwrap().unwrap();
        for lines in [200, 5_000, 50_000] {
            let src: String = workload.call1((root, lines)).unwrap().extract().unwrap();
            tally.compare(&format!("workload {lines}"), &src, body(&src));
        }
    });
    println!(
        "statements: {} sources and {} statements compared with ast.parse(...).body \
         ({} rejected by ast, {} unreadable), {} mismatches, in {:.1?}",
        tally.files,
        tally.statements,
        tally.rejected_by_ast,
        tally.unreadable,
        tally.mismatches.len(),
        started.elapsed()
    );
    assert!(tally.files > 100, "too few files compared");
    assert!(
        tally.mismatches.is_empty(),
        "{} mismatches:\n{}",
        tally.mismatches.len(),
        tally.mismatches[..tally.mismatches.len().min(30)].join("\n")
    );
}
