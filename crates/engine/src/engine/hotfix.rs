//! Hotfixes: a few lines of Python run in a module's namespace inside the running program (the
//! window's hotfix console), reported in the reload history's shape.
//!
//! The snippet runs in the module's own dict, so what it assigns is the module's (`DAMAGE = 14`
//! in `balance`). Around it the engine snapshots the namespace (names → objects and short
//! reprs) and reports what changed: names added, rebound, removed, or changed in place (same
//! object, different repr). Like a reload it never half-applies: a snippet that raises has its
//! name bindings put back (changes made inside objects stay, and are listed). A function the
//! snippet redefines keeps its identity when it can, as in a reload, so that callbacks and
//! `from m import f` copies run the fix too.
//!
//! Threads, safe points and the switch interval are the caller's (the reload service); here it
//! is one call with the GIL held.

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyFunction, PyModule};

use super::classify::classify_global;
use super::pyobj::{named_items, short_repr};
use super::source::find_module;
use crate::protocol::{Action, Change, ErrorInfo, Hotfix, HotfixReport, Outcome, ReloadReport};

/// Hotfix report ids start here. The history finds reports by id, and reload ids come from the
/// reload pipeline's own counter (from 1): a separate range keeps the two from ever colliding.
pub const FIRST_HOTFIX_ID: u64 = 1 << 40;

static NEXT_ID: AtomicU64 = AtomicU64::new(FIRST_HOTFIX_ID);

/// What running a snippet gave: the report for the front end, and whether it ended in Ctrl+C
/// (a `KeyboardInterrupt`), which a safe point passes on to the program.
#[derive(Clone, Debug, PartialEq)]
pub struct HotfixRun {
    pub report: HotfixReport,
    pub interrupted: bool,
}

/// Runs `code` in module `name`'s namespace (`__main__` included) and reports it. Never fails
/// and never raises into the caller: an unknown module, a syntax error, an exception in the
/// snippet and swapscope's own failures all end up in the report.
pub fn hotfix(py: Python<'_>, name: &str, code: &str) -> HotfixRun {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let mut run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_unguarded(py, id, name, code)
    }))
    .unwrap_or_else(|panic| {
        failed(
            id,
            name,
            code,
            format!(
                "internal error in swapscope (please report it): {}",
                crate::fault::panic_message(&*panic)
            ),
        )
    });
    run.report.report.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    run
}

/// The snippet's file name in tracebacks and `linecache`: one per hotfix, so a function a
/// snippet defined shows its own lines in later tracebacks.
fn file_name(id: u64) -> String {
    format!("<hotfix {}>", id.saturating_sub(FIRST_HOTFIX_ID) + 1)
}

fn empty_report(id: u64, name: &str) -> ReloadReport {
    ReloadReport {
        id,
        module: name.to_string(),
        file: String::new(),
        outcome: Outcome::Applied,
        error: None,
        duration_ms: 0.0,
        dry_run: false,
        saves: 0,
        undo: false,
        mode: crate::protocol::Mode::default(),
        mode_note: String::new(),
        changes: Vec::new(),
        stale_refs: Vec::new(),
    }
}

/// A hotfix that did not run: `message` says why.
fn failed(id: u64, name: &str, code: &str, message: String) -> HotfixRun {
    let mut report = empty_report(id, name);
    report.outcome = Outcome::Failed;
    report.error = Some(ErrorInfo {
        file: file_name(id),
        message,
        ..ErrorInfo::default()
    });
    HotfixRun {
        report: HotfixReport {
            report,
            hotfix: Hotfix {
                code: code.to_string(),
                ..Hotfix::default()
            },
        },
        interrupted: false,
    }
}

/// The hotfix helpers (`hotfix.py`), loaded once as `_swapscope_hotfix`.
fn helpers(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static HELPERS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    HELPERS
        .get_or_try_init(py, || {
            let code = CString::new(include_str!("hotfix.py"))
                .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
            Ok(
                PyModule::from_code(py, &code, c"<swapscope hotfix.py>", c"_swapscope_hotfix")?
                    .unbind(),
            )
        })
        .map(|m| m.bind(py))
}

/// A global before the snippet ran: the object (kept alive, so identity comparisons hold) and
/// its short repr (so a change made inside the same object shows).
struct Before {
    name: String,
    value: Py<PyAny>,
    repr: String,
}

/// Dunder names (`__builtins__`, `__doc__`, `__annotations__` …) are the module's machinery,
/// not what a hotfix is about: neither listed nor put back.
fn listed(name: &str) -> bool {
    !(name.starts_with("__") && name.ends_with("__"))
}

fn snapshot(ns: &Bound<'_, PyDict>) -> Vec<Before> {
    named_items(ns)
        .filter(|(name, _)| listed(name))
        .map(|(name, value)| Before {
            repr: short_repr(&value),
            name,
            value: value.unbind(),
        })
        .collect()
}

/// Puts the snapshot's bindings back: names the snippet added are deleted, rebound or deleted
/// ones get their old object again. Objects changed in place stay as they are.
fn restore(ns: &Bound<'_, PyDict>, before: &[Before]) -> PyResult<()> {
    let py = ns.py();
    let old: HashSet<&str> = before.iter().map(|b| b.name.as_str()).collect();
    let added: Vec<String> = named_items(ns)
        .filter(|(name, _)| listed(name) && !old.contains(name.as_str()))
        .map(|(name, _)| name)
        .collect();
    for name in added {
        ns.del_item(name)?;
    }
    for b in before {
        let same = ns
            .get_item(&b.name)?
            .is_some_and(|now| now.is(b.value.bind(py)));
        if !same {
            ns.set_item(&b.name, b.value.bind(py))?;
        }
    }
    Ok(())
}

fn run_unguarded(py: Python<'_>, id: u64, name: &str, code: &str) -> HotfixRun {
    let module = match find_module(py, name) {
        Ok(m) => m,
        Err(e) => return failed(id, name, code, e.to_string()),
    };
    let helpers = match helpers(py) {
        Ok(h) => h,
        Err(e) => {
            return failed(
                id,
                name,
                code,
                format!("internal error in swapscope (please report it): loading hotfix.py: {e}"),
            );
        }
    };
    let mut report = empty_report(id, name);
    report.file = module
        .getattr("__file__")
        .and_then(|f| f.extract::<String>())
        .unwrap_or_default();
    let ns = module.dict();
    let before = snapshot(&ns);
    let filename = file_name(id);
    let result = helpers
        .getattr("run")
        .and_then(|run| run.call1((code, &ns, &filename)))
        .and_then(|r| r.cast_into::<PyDict>().map_err(PyErr::from));
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            // `run` catches everything the snippet raises: this is swapscope's own failure.
            let names = match restore(&ns, &before) {
                Ok(()) => "the module's names were put back".to_string(),
                Err(e) => format!("the module's names could not all be put back: {e}"),
            };
            return failed(
                id,
                name,
                code,
                format!(
                    "internal error in swapscope (please report it): running the hotfix: {e}; \
                     {names}"
                ),
            );
        }
    };
    let text = |key: &str| -> Option<String> {
        result
            .get_item(key)
            .ok()
            .flatten()
            .and_then(|v| v.extract::<Option<String>>().ok())
            .flatten()
    };
    let flag = |key: &str| -> bool {
        result
            .get_item(key)
            .ok()
            .flatten()
            .and_then(|v| v.extract::<bool>().ok())
            .unwrap_or(false)
    };
    let hotfix = Hotfix {
        code: code.to_string(),
        output: text("output").unwrap_or_default(),
        value: text("value"),
    };
    let interrupted = flag("interrupted");
    let mut error = result
        .get_item("error")
        .ok()
        .flatten()
        .filter(|e| !e.is_none())
        .map(|e| error_info(&e, &filename));
    let mut patched = HashSet::new();
    match &mut error {
        None => patched = keep_function_identity(helpers, &ns, &before),
        Some(_) if !flag("compiled") => report.outcome = Outcome::Failed,
        Some(e) => {
            report.outcome = Outcome::RolledBack;
            // Only a failing dict operation (out of memory) lands here; the changes listed
            // below then show what stayed.
            if let Err(put_back) = restore(&ns, &before) {
                e.message = format!(
                    "{}; the module's names could not all be put back: {put_back}",
                    e.message
                );
            }
        }
    }
    report.error = error;
    report.changes.extend(changes(&ns, &before, &patched));
    HotfixRun {
        report: HotfixReport { report, hotfix },
        interrupted,
    }
}

/// An error dict from `hotfix.py` as the report's `ErrorInfo`.
fn error_info(e: &Bound<'_, PyAny>, filename: &str) -> ErrorInfo {
    let get = |key: &str| e.get_item(key).ok().filter(|v| !v.is_none());
    let string = |key: &str| get(key).and_then(|v| v.extract::<String>().ok());
    let number = |key: &str| get(key).and_then(|v| v.extract::<u32>().ok());
    ErrorInfo {
        file: string("file").unwrap_or_else(|| filename.to_string()),
        line: number("line"),
        col: number("col"),
        message: string("message").unwrap_or_else(|| "the hotfix raised".into()),
        text: string("text"),
        traceback: string("traceback").unwrap_or_default(),
    }
}

/// For each of the module's own functions the snippet redefined (`def fire(): ...`), puts the
/// new code into the old function object and binds that again, as a reload does: callbacks and
/// copies held elsewhere run the fix too. Returns the names done; the others keep the new
/// object (reported as replaced).
fn keep_function_identity(
    helpers: &Bound<'_, PyModule>,
    ns: &Bound<'_, PyDict>,
    before: &[Before],
) -> HashSet<String> {
    let py = ns.py();
    let mut done = HashSet::new();
    let Ok(patch) = helpers.getattr("patch_function") else {
        return done;
    };
    for b in before {
        let old = b.value.bind(py);
        let Ok(Some(new)) = ns.get_item(&b.name) else {
            continue;
        };
        if new.is(old) || !old.is_instance_of::<PyFunction>() || !new.is_instance_of::<PyFunction>()
        {
            continue;
        }
        // Only the module's own functions: one imported from elsewhere belongs to its module.
        let own = old.getattr("__globals__").is_ok_and(|g| g.is(ns.as_any()));
        if !own {
            continue;
        }
        let patched = patch
            .call1((old, &new))
            .and_then(|r| r.extract::<bool>())
            .unwrap_or(false);
        if patched && ns.set_item(&b.name, old).is_ok() {
            done.insert(b.name.clone());
        }
    }
    done
}

/// What the namespace says now against the snapshot: one entry per name added, removed,
/// rebound or changed in place, in the module's order (the snapshot's, then new names).
fn changes(ns: &Bound<'_, PyDict>, before: &[Before], patched: &HashSet<String>) -> Vec<Change> {
    let py = ns.py();
    let now: HashMap<String, Bound<'_, PyAny>> =
        named_items(ns).filter(|(name, _)| listed(name)).collect();
    let change = |name: &str, value: &Bound<'_, PyAny>, action, old: String, new: String| Change {
        name: name.to_string(),
        qualname: name.to_string(),
        kind: classify_global(value).report_kind(false),
        action,
        old,
        new,
        note: String::new(),
    };
    let mut out = Vec::new();
    for b in before {
        let old = b.value.bind(py);
        let Some(value) = now.get(&b.name) else {
            out.push(change(
                &b.name,
                old,
                Action::Removed,
                b.repr.clone(),
                String::new(),
            ));
            continue;
        };
        let repr = short_repr(value);
        if value.is(old) {
            if patched.contains(&b.name) {
                let mut c = change(&b.name, value, Action::CodeSwapped, b.repr.clone(), repr);
                c.note = "the same function object runs the new code: references held \
                          elsewhere run it too"
                    .into();
                out.push(c);
            } else if repr != b.repr {
                let mut c = change(&b.name, value, Action::TookNew, b.repr.clone(), repr);
                c.note = "changed in place (the same object)".into();
                out.push(c);
            }
            continue;
        }
        let functions = old.is_instance_of::<PyFunction>() && value.is_instance_of::<PyFunction>();
        let mut c = change(
            &b.name,
            value,
            if functions {
                Action::Replaced
            } else {
                Action::TookNew
            },
            b.repr.clone(),
            repr,
        );
        if functions {
            c.note = "bound to a new function object: references held elsewhere keep the old \
                      code"
                .into();
        }
        out.push(c);
    }
    let old: HashSet<&str> = before.iter().map(|b| b.name.as_str()).collect();
    for (name, value) in named_items(ns) {
        if listed(&name) && !old.contains(name.as_str()) {
            out.push(change(
                &name,
                &value,
                Action::Added,
                String::new(),
                short_repr(&value),
            ));
        }
    }
    out
}
