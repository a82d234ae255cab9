//! One reload of one module: read, compile, execute in the module's dict, merge old and new
//! namespaces in place (DESIGN.md "A reload of module M"), or restore the dict exactly.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use pyo3::prelude::*;

use super::names::name;
use pyo3::types::{PyDict, PyFunction, PyList, PyModule, PyString, PyTuple, PyType};

use super::classify::{Kind2, classify};
use super::fingerprint::{Fingerprint, fingerprint};
use super::report::{Action, Change, ErrorInfo, Kind, Outcome, ReloadReport, StaleRef};
use super::rule::{Override, Overrides, decide, refine_for_unchanged_statement};
use super::tracker::{self, Baseline, TrackedModule};
use super::{EngineError, ReloadOptions};

/// Module attributes that belong to the import system, not to the source: kept through a reload.
const MACHINERY: [&str; 8] = [
    "__name__",
    "__file__",
    "__spec__",
    "__loader__",
    "__package__",
    "__builtins__",
    "__cached__",
    "__path__",
];

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

/// Dataclass machinery: always regenerated from the new class.
const DATACLASS_MACHINERY: [&str; 3] = [
    "__dataclass_fields__",
    "__dataclass_params__",
    "__match_args__",
];

/// Puts a module's old mapping back when dropped armed: on an early return, an error or a panic
/// unwinding between emptying the dict and a finished merge.
struct RestoreOnExit<'a, 'py> {
    dict: &'a Bound<'py, PyDict>,
    old: &'a Bound<'py, PyDict>,
    armed: bool,
}

impl RestoreOnExit<'_, '_> {
    /// Restores now (once); later drops do nothing.
    fn restore_now(&mut self) -> PyResult<()> {
        if !self.armed {
            return Ok(());
        }
        self.armed = false;
        self.dict.clear();
        self.dict.update(self.old.as_mapping())
    }
}

impl Drop for RestoreOnExit<'_, '_> {
    fn drop(&mut self) {
        // Nothing better to do with a failure here than to leave what could be restored.
        let _ = self.restore_now();
    }
}

/// True when the module has names of its own (not only the import machinery's dunders).
fn defines_names(module: &Bound<'_, PyModule>) -> bool {
    module.dict().keys().iter().any(|k| {
        k.extract::<String>()
            .map_or(true, |k| !(k.starts_with("__") && k.ends_with("__")))
    })
}

/// Enum bookkeeping on the class (members are merged separately).
fn enum_internal(name: &str) -> bool {
    name.starts_with('_') && name.ends_with('_') && !name.starts_with("__") && name.len() > 2
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Reloads module `name` in place (or, with `dry_run`, reports what a reload would do).
///
/// A panic inside (a bug in swapscope) is caught here and returned as `EngineError::Internal`:
/// it never unwinds into the interpreter or the caller's thread.
pub fn reload(
    py: Python<'_>,
    name: &str,
    opts: &ReloadOptions,
) -> Result<ReloadReport, EngineError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        reload_unguarded(py, name, opts)
    }))
    .unwrap_or_else(|panic| {
        Err(EngineError::Internal(format!(
            "swapscope panicked while reloading {name} ({}); this is a bug in swapscope: \
                 please report it",
            crate::fault::panic_message(&*panic)
        )))
    })
}

#[expect(
    clippy::too_many_lines,
    reason = "DESIGN.md's steps in order, each short"
)]
fn reload_unguarded(
    py: Python<'_>,
    name: &str,
    opts: &ReloadOptions,
) -> Result<ReloadReport, EngineError> {
    let started = Instant::now();
    let contradictions = opts.overrides.contradictions();
    if !contradictions.is_empty() {
        return Err(EngineError::BadOverrides(format!(
            "{contradictions:?} are both in keep and take; name each attribute in one of them"
        )));
    }
    let module = find_module(py, name)?;
    let path = reloadable_file(&module, name)?;
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut report = ReloadReport {
        id,
        module: name.to_string(),
        file: path.to_string_lossy().into_owned(),
        outcome: Outcome::Applied,
        error: None,
        duration_ms: 0.0,
        dry_run: opts.dry_run,
        saves: opts.saves,
        changes: Vec::new(),
        stale_refs: Vec::new(),
    };
    let finish = |mut report: ReloadReport| {
        report.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        // An applied reload stored its record (outcome included) already.
        if !report.dry_run && report.outcome != Outcome::Applied {
            tracker::set_outcome(&report.module, report.outcome);
        }
        report
    };

    // 1. Read, decode and compile, never through the .pyc cache. The modification time is
    // taken first: a save landing during the reload then leaves the file newer than the record,
    // so it is seen as a change (never lost).
    let mtime_read = tracker::mtime(&path);
    let data = match tracker::read_source(&path) {
        Ok(d) => d,
        Err(e) => {
            report.outcome = Outcome::Failed;
            report.error = Some(ErrorInfo {
                file: report.file.clone(),
                message: format!(
                    "cannot read the source file: {e}; check that it exists and is readable"
                ),
                ..ErrorInfo::default()
            });
            return Ok(finish(report));
        }
    };
    let text = match tracker::decode(py, &data, &path) {
        Ok(t) => t,
        Err(err) => {
            report.outcome = Outcome::Failed;
            report.error = Some(error_info(&err, &report.file));
            return Ok(finish(report));
        }
    };
    if text.trim().is_empty() && defines_names(&module) {
        // An editor or tool that truncates before writing; a designer does not empty a module
        // by saving nothing. Running it would remove every name the game uses.
        report.outcome = Outcome::Failed;
        report.error = Some(ErrorInfo {
            file: report.file.clone(),
            line: Some(1),
            message: "the file is empty, so a reload would remove every name the module defines \
                      (a save still in progress?); save the complete file again. To empty the \
                      module on purpose, leave a comment or `pass` in it"
                .to_string(),
            ..ErrorInfo::default()
        });
        return Ok(finish(report));
    }
    let code = match compile(py, &text, &report.file) {
        Ok(c) => c,
        Err(e) => {
            report.outcome = Outcome::Failed;
            report.error = Some(describe(py, &e, &report.file));
            return Ok(finish(report));
        }
    };

    // 2-3. Execute the new body in the module's dict (a scratch dict for a dry run).
    let dict = module.dict();
    let internal = |e: PyErr| EngineError::Internal(e.to_string());
    // Every lazily initialised Python object the merge uses is created now: a first
    // initialisation releases the GIL, which must not happen once the dict is emptied.
    super::fingerprint::warm(py).map_err(internal)?;
    super::classify::types(py).map_err(internal)?;
    tracker::helpers(py).map_err(internal)?;
    let old_ns = dict.copy().map_err(internal)?;
    let target = if opts.dry_run {
        PyDict::new(py)
    } else {
        dict.clone()
    };
    // From the moment the dict is emptied, every way out that is not a finished merge (an
    // early return, an error, a panic unwinding) puts the old mapping back.
    let mut guard = RestoreOnExit {
        dict: &dict,
        old: &old_ns,
        armed: !opts.dry_run,
    };
    if !opts.dry_run {
        target.clear();
    }
    for key in MACHINERY {
        let kept = old_ns
            .get_item(key)
            .and_then(|v| v.map_or(Ok(()), |v| target.set_item(key, v)));
        if let Err(e) = kept {
            let _ = guard.restore_now();
            return Err(internal(e));
        }
    }
    let executed = py
        .import("builtins")
        .and_then(|b| b.getattr(name!(b.py(), "exec")))
        .and_then(|exec| exec.call1((&code, &target)));
    if let Err(e) = executed {
        guard.restore_now().map_err(internal)?;
        report.outcome = Outcome::RolledBack;
        let mut info = describe(py, &e, &report.file);
        info.message = format!("the module body raised {}", info.message);
        report.error = Some(info);
        return Ok(finish(report));
    }
    let new_ns = target.copy().map_err(internal)?;

    let record = tracker::get(name);
    let mut m = Merge::new(py, name, record.as_deref(), &text, opts);

    // Pass 1: class compatibility, before anything is changed.
    crate::fault::hit(crate::fault::Site::Classes);
    m.map_classes(&old_ns, &new_ns).map_err(internal)?;
    if !m.incompatible.is_empty() && !opts.replace_incompatible {
        guard.restore_now().map_err(internal)?;
        report.outcome = Outcome::Incompatible;
        let (qual, reason) = m.incompatible[0].clone();
        let others = m.incompatible.len() - 1;
        report.error = Some(ErrorInfo {
            file: report.file.clone(),
            line: class_line(&text, &qual),
            col: None,
            message: format!(
                "class {qual} cannot change in place: {reason}{}; restart the program, or reload \
                 with replace_incompatible=True to bind the new class (existing instances keep the old one)",
                if others > 0 {
                    format!(" (and {others} more)")
                } else {
                    String::new()
                }
            ),
            text: None,
            traceback: String::new(),
        });
        for (qual, reason) in &m.incompatible {
            report.changes.push(Change {
                name: qual.rsplit('.').next().unwrap_or(qual).to_string(),
                qualname: qual.clone(),
                kind: Kind::Class,
                action: Action::NotApplied,
                old: String::new(),
                new: String::new(),
                note: reason.clone(),
            });
        }
        return Ok(finish(report));
    }

    // Pass 2: merge.
    let merged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::fault::hit(crate::fault::Site::Merge);
        let r = m.merge_module(&dict, &old_ns, &new_ns);
        if r.is_ok() {
            m.fix_up();
        }
        r
    }));
    match merged {
        Ok(Ok(())) => {}
        // The merge itself guards every attribute; reaching here is a bug in swapscope. Undo.
        Ok(Err(e)) => {
            let _ = guard.restore_now();
            return Err(internal(e));
        }
        Err(panic) => {
            let _ = guard.restore_now();
            return Err(EngineError::Internal(format!(
                "swapscope panicked while merging {name} ({}); the module's namespace was \
                 restored, but functions and classes patched before the panic keep their new \
                 code. This is a bug in swapscope: please report it",
                crate::fault::panic_message(&*panic)
            )));
        }
    }
    // The merge is done: the module keeps its new state whatever happens next.
    guard.armed = false;
    report.changes = std::mem::take(&mut m.changes);
    if !opts.dry_run {
        report.stale_refs = m.stale_refs(name);
        let baseline = Baseline {
            fps: std::mem::take(&mut m.new_fps),
            defined: std::mem::take(&mut m.defined),
        };
        tracker::store(TrackedModule {
            name: name.to_string(),
            mtime: mtime_read,
            path,
            source: Some(Arc::from(text)),
            baseline: Some(baseline),
            last_outcome: Some(Outcome::Applied),
        });
    }
    Ok(finish(report))
}

fn find_module<'py>(py: Python<'py>, name: &str) -> Result<Bound<'py, PyModule>, EngineError> {
    let modules = py
        .import("sys")
        .and_then(|s| s.getattr(name!(s.py(), "modules")))
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    let module = modules
        .get_item(name)
        .map_err(|_| EngineError::UnknownModule(name.to_string()))?;
    module
        .cast_into::<PyModule>()
        .map_err(|_| EngineError::NotReloadable {
            name: name.to_string(),
            reason: "sys.modules holds something that is not a module under this name".into(),
        })
}

fn reloadable_file(module: &Bound<'_, PyModule>, name: &str) -> Result<PathBuf, EngineError> {
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
    if let Some(p) = tracker::module_file(module) {
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

fn compile<'py>(py: Python<'py>, text: &str, file: &str) -> PyResult<Bound<'py, PyAny>> {
    let kwargs = PyDict::new(py);
    kwargs.set_item("dont_inherit", true)?;
    py.import("builtins")?
        .getattr("compile")?
        .call((text, file, "exec"), Some(&kwargs))
}

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
pub(crate) fn describe(py: Python<'_>, e: &PyErr, file: &str) -> ErrorInfo {
    let described = tracker::helpers(py)
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
fn class_line(source: &str, qual: &str) -> Option<u32> {
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

/// The outcome of patching one function.
enum Patched {
    Unchanged,
    Swapped,
    Replaced(String),
}

/// The members of an old and a new class, by name.
type ClassItems<'py> = (
    Vec<(String, Bound<'py, PyAny>)>,
    Vec<(String, Bound<'py, PyAny>)>,
);

/// State of one merge.
struct Merge<'py, 'a> {
    py: Python<'py>,
    module: &'a str,
    apply: bool,
    overrides: &'a Overrides,
    base: Option<&'a Baseline>,
    old_source: Option<&'a str>,
    new_source: &'a str,
    /// Statement texts of old and new source, computed when first needed (opaque values).
    statements: Option<(HashMap<String, String>, HashMap<String, String>)>,
    /// New object -> the old object that stays in its place (classes, functions, enum members).
    kept: HashMap<usize, Bound<'py, PyAny>>,
    incompatible: Vec<(String, String)>,
    /// Members of the class pairs (old, new), read in pass 1 and used again in pass 2.
    items: HashMap<usize, ClassItems<'py>>,
    /// Old classes already merged (aliases are merged once).
    merged_classes: HashSet<usize>,
    /// New functions and classes now bound somewhere: their cells, defaults and bases may still
    /// point at throwaway objects.
    fresh: Vec<Bound<'py, PyAny>>,
    /// Patched old functions: their new defaults may hold throwaway objects.
    patched: Vec<Bound<'py, PyAny>>,
    /// New data values now bound: (owner, name).
    taken: Vec<(Bound<'py, PyAny>, String)>,
    /// Top-level values replaced: (name, old object), for stale copies.
    replaced_globals: Vec<(String, Bound<'py, PyAny>)>,
    changes: Vec<Change>,
    /// Extra notes for entries not pushed yet (generators, running frames).
    notes: HashMap<String, String>,
    /// Code objects on some thread's stack (id -> thread name), read when first needed.
    running: Option<HashMap<usize, String>>,
    new_fps: HashMap<String, Fingerprint>,
    defined: HashSet<String>,
}

fn ptr(o: &Bound<'_, PyAny>) -> usize {
    o.as_ptr() as usize
}

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
    tracker::helpers(o.py())
        .and_then(|h| h.getattr(name!(h.py(), "short_repr")))
        .and_then(|f| f.call1((o, limit)))
        .and_then(|r| r.extract::<String>())
        .unwrap_or_else(|_| "<?>".into())
}

fn type_setattr(cls: &Bound<'_, PyType>, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
    // Through type itself: an Enum metaclass refuses setattr of members on the class.
    cls.py()
        .get_type::<PyType>()
        .getattr("__setattr__")?
        .call1((cls, name, value))
        .map(|_| ())
}

fn type_delattr(cls: &Bound<'_, PyType>, name: &str) -> PyResult<()> {
    cls.py()
        .get_type::<PyType>()
        .getattr("__delattr__")?
        .call1((cls, name))
        .map(|_| ())
}

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

fn is_enum_class(cls: &Bound<'_, PyType>) -> bool {
    cls.py()
        .import("enum")
        .and_then(|e| e.getattr(name!(e.py(), "Enum")))
        .and_then(|enum_type| cls.is_subclass(&enum_type))
        .unwrap_or(false)
}

/// For two dicts, lists or tuples, where they differ (live → new), for the report's note.
fn container_diff(old: &Bound<'_, PyAny>, new: &Bound<'_, PyAny>) -> Option<String> {
    let container = |o: &Bound<'_, PyAny>| {
        o.is_instance_of::<PyDict>()
            || o.is_instance_of::<PyList>()
            || o.is_instance_of::<PyTuple>()
    };
    if !container(old) || !container(new) {
        return None;
    }
    tracker::helpers(old.py())
        .and_then(|h| h.getattr(name!(h.py(), "data_diff")))
        .and_then(|f| f.call1((old, new)))
        .and_then(|r| r.extract::<String>())
        .ok()
        .filter(|t| !t.is_empty())
}

/// The code objects on every thread's stack, with the thread's name.
fn running_code(py: Python<'_>) -> PyResult<HashMap<usize, String>> {
    let sys = py.import("sys")?;
    let active = py.import("threading")?.getattr("_active")?;
    let mut out = HashMap::new();
    for item in sys
        .call_method0("_current_frames")?
        .call_method0("items")?
        .try_iter()?
    {
        let (ident, frame): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
        let name = active
            .get_item(&ident)
            .and_then(|t| t.getattr(name!(t.py(), "name")))
            .and_then(|n| n.extract::<String>())
            .unwrap_or_else(|_| format!("{ident}"));
        let mut f = Some(frame);
        while let Some(frame) = f.filter(|f| !f.is_none()) {
            out.insert(
                ptr(&frame.getattr(name!(frame.py(), "f_code"))?),
                name.clone(),
            );
            f = frame.getattr(name!(frame.py(), "f_back")).ok();
        }
    }
    Ok(out)
}

/// Code compared by value, ignoring line numbers: "unchanged" means the same behaviour.
fn code_equal(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = a.py();
    // co_code first: it tells a changed body at once.
    for attr in [
        name!(py, "co_code"),
        name!(py, "co_names"),
        name!(py, "co_varnames"),
        name!(py, "co_freevars"),
        name!(py, "co_cellvars"),
        name!(py, "co_argcount"),
        name!(py, "co_posonlyargcount"),
        name!(py, "co_kwonlyargcount"),
        name!(py, "co_flags"),
    ] {
        if !a.getattr(attr)?.eq(b.getattr(attr)?)? {
            return Ok(false);
        }
    }
    let ca = a.getattr(name!(py, "co_consts"))?.cast_into::<PyTuple>()?;
    let cb = b.getattr(name!(py, "co_consts"))?.cast_into::<PyTuple>()?;
    if ca.len() != cb.len() {
        return Ok(false);
    }
    let code_type = a.get_type();
    for (x, y) in ca.iter().zip(cb.iter()) {
        if x.is_instance(&code_type)? && y.is_instance(&code_type)? {
            if !code_equal(&x, &y)? {
                return Ok(false);
            }
        } else if !x.get_type().is(y.get_type()) || !x.eq(&y)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn same_value(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> bool {
    if a.is(b) {
        return true;
    }
    match (fingerprint(a), fingerprint(b)) {
        (Fingerprint::Value(x), Fingerprint::Value(y)) => x == y,
        _ => false,
    }
}

impl<'py, 'a> Merge<'py, 'a> {
    fn new(
        py: Python<'py>,
        module: &'a str,
        record: Option<&'a TrackedModule>,
        new_source: &'a str,
        opts: &'a ReloadOptions,
    ) -> Self {
        Merge {
            py,
            module,
            apply: !opts.dry_run,
            overrides: &opts.overrides,
            base: record.and_then(|r| r.baseline.as_ref()),
            old_source: record.and_then(|r| r.source.as_deref()),
            new_source,
            statements: None,
            kept: HashMap::new(),
            incompatible: Vec::new(),
            items: HashMap::new(),
            merged_classes: HashSet::new(),
            fresh: Vec::new(),
            patched: Vec::new(),
            taken: Vec::new(),
            replaced_globals: Vec::new(),
            changes: Vec::new(),
            notes: HashMap::new(),
            running: None,
            new_fps: HashMap::new(),
            defined: HashSet::new(),
        }
    }

    fn push(
        &mut self,
        qual: &str,
        kind: Kind,
        action: Action,
        old: Option<&Bound<'_, PyAny>>,
        new: Option<&Bound<'_, PyAny>>,
        note: impl Into<String>,
    ) {
        let (old, new) = if action == Action::Unchanged {
            (String::new(), String::new())
        } else {
            (
                old.map(short_repr).unwrap_or_default(),
                new.map(short_repr).unwrap_or_default(),
            )
        };
        let name = qual.rsplit(['.', ':']).next().unwrap_or(qual).to_string();
        let mut note: String = note.into();
        if let Some(extra) = self.notes.remove(qual) {
            note = if note.is_empty() {
                extra
            } else {
                format!("{note}; {extra}")
            };
        }
        self.changes.push(Change {
            name,
            qualname: qual.to_string(),
            kind,
            action,
            old,
            new,
            note,
        });
    }

    // ---- pass 1: classes -------------------------------------------------------------------

    fn map_classes(
        &mut self,
        old_ns: &Bound<'py, PyDict>,
        new_ns: &Bound<'py, PyDict>,
    ) -> PyResult<()> {
        for (k, new) in new_ns.iter() {
            let Ok(name) = k.extract::<String>() else {
                continue;
            };
            if let Some(old) = old_ns.get_item(&name)? {
                self.map_class_pair(&name, &old, &new, 0)?;
            }
        }
        Ok(())
    }

    fn map_class_pair(
        &mut self,
        qual: &str,
        old: &Bound<'py, PyAny>,
        new: &Bound<'py, PyAny>,
        depth: usize,
    ) -> PyResult<()> {
        let (Ok(old), Ok(new)) = (old.cast::<PyType>(), new.cast::<PyType>()) else {
            return Ok(());
        };
        if old.is(new) || depth > 16 || self.kept.contains_key(&ptr(new.as_any())) {
            return Ok(());
        }
        // Only classes this module defines are patched; an imported class is just rebound.
        if !tracker::owned_by(old, self.module, qual) || !tracker::owned_by(new, self.module, qual)
        {
            return Ok(());
        }
        self.kept.insert(ptr(new.as_any()), old.clone().into_any());
        if let Some(reason) = self.incompatibility(old, new)? {
            self.incompatible.push((qual.to_string(), reason));
        }
        let (old_list, new_list) = (class_items(old)?, class_items(new)?);
        let old_items: HashMap<&str, &Bound<'py, PyAny>> =
            old_list.iter().map(|(k, v)| (k.as_str(), v)).collect();
        for (k, v) in &new_list {
            if let Some(o) = old_items.get(k.as_str()) {
                self.map_class_pair(&format!("{qual}.{k}"), o, v, depth + 1)?;
            }
        }
        drop(old_items);
        self.items.insert(ptr(new.as_any()), (old_list, new_list));
        Ok(())
    }

    fn mapped<'b>(&'b self, o: &'b Bound<'py, PyAny>) -> &'b Bound<'py, PyAny> {
        self.kept.get(&ptr(o)).unwrap_or(o)
    }

    fn incompatibility(
        &self,
        old: &Bound<'py, PyType>,
        new: &Bound<'py, PyType>,
    ) -> PyResult<Option<String>> {
        let name = |t: &Bound<'py, PyAny>| -> String {
            t.getattr(name!(t.py(), "__qualname__"))
                .map_or_else(|_| "?".into(), |q| q.to_string())
        };
        let (old_meta, new_meta) = (old.get_type().into_any(), new.get_type().into_any());
        if !self.mapped(&new_meta).is(&old_meta) {
            return Ok(Some(format!(
                "its metaclass changed from {} to {}",
                name(&old_meta),
                name(&new_meta)
            )));
        }
        let old_bases = old
            .getattr(name!(old.py(), "__bases__"))?
            .cast_into::<PyTuple>()?;
        let new_bases = new
            .getattr(name!(new.py(), "__bases__"))?
            .cast_into::<PyTuple>()?;
        let same_bases = old_bases.len() == new_bases.len()
            && old_bases
                .iter()
                .zip(new_bases.iter())
                .all(|(o, n)| self.mapped(&n).is(&o));
        if !same_bases {
            let list =
                |t: &Bound<'py, PyTuple>| t.iter().map(|b| name(&b)).collect::<Vec<_>>().join(", ");
            return Ok(Some(format!(
                "its bases changed from ({}) to ({})",
                list(&old_bases),
                list(&new_bases)
            )));
        }
        let slots = |c: &Bound<'py, PyType>| -> PyResult<Option<String>> {
            match c.getattr(name!(c.py(), "__dict__"))?.get_item("__slots__") {
                Ok(s) => Ok(Some(s.repr()?.to_string())),
                Err(_) => Ok(None),
            }
        };
        let (os, ns) = (slots(old)?, slots(new)?);
        if os != ns {
            return Ok(Some(format!(
                "its __slots__ changed from {} to {}",
                os.as_deref().unwrap_or("(none)"),
                ns.as_deref().unwrap_or("(none)")
            )));
        }
        for attr in [
            "__basicsize__",
            "__itemsize__",
            "__dictoffset__",
            "__weakrefoffset__",
        ] {
            if !old.getattr(attr)?.eq(new.getattr(attr)?)? {
                return Ok(Some(format!("its instance layout changed ({attr})")));
            }
        }
        let is_tuple = old.is_subclass(&self.py.get_type::<PyTuple>())?;
        if is_tuple {
            let (of, nf) = (
                old.getattr(name!(old.py(), "_fields")).ok(),
                new.getattr(name!(new.py(), "_fields")).ok(),
            );
            if let (Some(of), Some(nf)) = (of, nf)
                && !of.eq(&nf)?
            {
                return Ok(Some(format!(
                    "its NamedTuple fields changed from {} to {}: existing instances are tuples of the old shape",
                    of.repr()?,
                    nf.repr()?
                )));
            }
        }
        Ok(None)
    }

    // ---- pass 2: merge -----------------------------------------------------------------------

    fn merge_module(
        &mut self,
        dict: &Bound<'py, PyDict>,
        old_ns: &Bound<'py, PyDict>,
        new_ns: &Bound<'py, PyDict>,
    ) -> PyResult<()> {
        for (k, new) in new_ns.iter() {
            let Ok(name) = k.extract::<String>() else {
                continue;
            };
            self.defined.insert(name.clone());
            if MACHINERY.contains(&name.as_str()) {
                continue;
            }
            let old = old_ns.get_item(&name)?;
            let silent = name.starts_with("__") && name.ends_with("__") && name != "__all__";
            if silent {
                // __doc__, __annotations__: follow the source, unreported.
                continue;
            }
            match old {
                None => {
                    self.record_new_fps(&name, &new);
                    self.fresh.push(new.clone());
                    self.push(
                        &name,
                        classify(&new).report_kind(false),
                        Action::Added,
                        None,
                        Some(&new),
                        "",
                    );
                }
                Some(old) => {
                    let keep_old = self.merge_value(&name, &old, &new, false)?;
                    if keep_old && self.apply {
                        dict.set_item(&name, &old)?;
                    } else if !keep_old {
                        self.taken.push((dict.clone().into_any(), name.clone()));
                        if !old.is(&new) {
                            self.replaced_globals.push((name.clone(), old.clone()));
                        }
                    }
                }
            }
        }
        for (k, old) in old_ns.iter() {
            let Ok(name) = k.extract::<String>() else {
                continue;
            };
            if new_ns.contains(&name)? || MACHINERY.contains(&name.as_str()) {
                continue;
            }
            let kind = classify(&old).report_kind(false);
            let defined_by_source = self.defined_before(&name);
            let ov = self.overrides.get(&name);
            let dunder = name.starts_with("__") && name.ends_with("__");
            if defined_by_source && ov != Override::Keep && !dunder {
                self.push(
                    &name,
                    kind,
                    Action::Removed,
                    Some(&old),
                    None,
                    "no longer in the source",
                );
            } else {
                let note = if defined_by_source && !dunder {
                    "removed from the source, kept by override"
                } else {
                    "created at run time, not by the source: live state kept"
                };
                if self.apply {
                    dict.set_item(&name, &old)?;
                }
                if !dunder {
                    self.push(&name, kind, Action::KeptLive, Some(&old), Some(&old), note);
                }
            }
        }
        Ok(())
    }

    /// Whether the last load's source defined `qual` (falls back to the old source's statements
    /// for a module registered after it was loaded).
    fn defined_before(&mut self, qual: &str) -> bool {
        if let Some(b) = self.base {
            return b.defined.contains(qual);
        }
        self.statement_texts().0.contains_key(qual)
    }

    fn statement_texts(&mut self) -> &(HashMap<String, String>, HashMap<String, String>) {
        if self.statements.is_none() {
            let parse = |src: Option<&str>| -> HashMap<String, String> {
                let Some(src) = src else {
                    return HashMap::new();
                };
                tracker::helpers(self.py)
                    .and_then(|h| h.getattr(name!(h.py(), "statements")))
                    .and_then(|f| f.call1((src,)))
                    .and_then(|d| d.extract::<Option<HashMap<String, String>>>())
                    .ok()
                    .flatten()
                    .unwrap_or_default()
            };
            let old = parse(self.old_source);
            let new = parse(Some(self.new_source));
            self.statements = Some((old, new));
        }
        self.statements.as_ref().expect("just set")
    }

    /// Records the fingerprints a freshly added value contributes to the next baseline.
    fn record_new_fps(&mut self, qual: &str, new: &Bound<'py, PyAny>) {
        let mut b = Baseline::default();
        b.record(qual, new, self.module, 0);
        self.new_fps.extend(b.fps);
        self.defined.extend(b.defined);
    }

    /// Merges one attribute present before and after. Returns true when the old object stays.
    fn merge_value(
        &mut self,
        qual: &str,
        old: &Bound<'py, PyAny>,
        new: &Bound<'py, PyAny>,
        in_class: bool,
    ) -> PyResult<bool> {
        let (ko, kn) = (classify(old), classify(new));
        let kind = kn.report_kind(in_class);
        if old.is(new) {
            if matches!(kn, Kind2::Data) {
                self.new_fps.insert(qual.to_string(), fingerprint(new));
            }
            self.push(qual, kind, Action::Unchanged, None, None, "");
            return Ok(true);
        }
        if ko != kn {
            self.record_new_fps(qual, new);
            self.fresh.push(new.clone());
            let note = format!(
                "was a {}, now a {}: took the new object",
                ko.word(),
                kn.word()
            );
            self.push(qual, kind, Action::Replaced, Some(old), Some(new), note);
            return Ok(false);
        }
        match (ko, kn) {
            (Kind2::Data, Kind2::Data) => Ok(!self.merge_data(qual, kind, old, new)),
            (Kind2::Function, Kind2::Function) => Ok(self.merge_function(qual, kind, old, new)),
            (Kind2::Wrapper(oi), Kind2::Wrapper(ni)) => {
                let result = self.patch_function(qual, &oi, &ni, 0);
                let changed = matches!(result, Patched::Swapped | Patched::Replaced(_));
                if changed && self.apply {
                    old.call_method0("cache_clear")?;
                }
                Ok(self.report_patched(qual, kind, old, new, result, "cache cleared"))
            }
            (Kind2::ClassMethod(oi), Kind2::ClassMethod(ni))
            | (Kind2::StaticMethod(oi), Kind2::StaticMethod(ni)) => {
                if classify(&oi) == Kind2::Function && classify(&ni) == Kind2::Function {
                    let result = self.patch_function(qual, &oi, &ni, 0);
                    Ok(self.report_patched(qual, kind, old, new, result, ""))
                } else {
                    self.fresh.push(new.clone());
                    self.push(
                        qual,
                        kind,
                        Action::Replaced,
                        Some(old),
                        Some(new),
                        "wraps something other than a plain function: took the new descriptor",
                    );
                    Ok(false)
                }
            }
            (Kind2::Property(oa), Kind2::Property(na)) => {
                let names = |v: &Vec<(&'static str, Bound<'py, PyAny>)>| {
                    v.iter().map(|(n, _)| *n).collect::<Vec<_>>()
                };
                if names(&oa) != names(&na)
                    || !oa
                        .iter()
                        .chain(na.iter())
                        .all(|(_, f)| classify(f) == Kind2::Function)
                {
                    self.record_new_fps(qual, new);
                    self.fresh.push(new.clone());
                    let note = format!(
                        "accessors changed from {:?} to {:?}: took the new property",
                        names(&oa),
                        names(&na)
                    );
                    self.push(qual, kind, Action::Replaced, Some(old), Some(new), note);
                    return Ok(false);
                }
                let mut any = Patched::Unchanged;
                for ((n, of), (_, nf)) in oa.iter().zip(na.iter()) {
                    match self.patch_function(&format!("{qual}.{n}"), of, nf, 0) {
                        Patched::Unchanged => {}
                        Patched::Swapped => {
                            if matches!(any, Patched::Unchanged) {
                                any = Patched::Swapped;
                            }
                        }
                        Patched::Replaced(why) => any = Patched::Replaced(why),
                    }
                }
                if let Patched::Replaced(why) = any {
                    self.fresh.push(new.clone());
                    self.push(
                        qual,
                        kind,
                        Action::Replaced,
                        Some(old),
                        Some(new),
                        format!("an accessor could not be patched ({why}): took the new property"),
                    );
                    return Ok(false);
                }
                Ok(self.report_patched(qual, kind, old, new, any, ""))
            }
            (Kind2::Class, Kind2::Class) => self.merge_class_value(qual, old, new),
            (Kind2::Module, Kind2::Module) | (Kind2::Other, Kind2::Other) => {
                self.fresh.push(new.clone());
                self.push(qual, kind, Action::TookNew, Some(old), Some(new), "");
                Ok(false)
            }
            _ => unreachable!("kinds compared equal above"),
        }
    }

    fn report_patched(
        &mut self,
        qual: &str,
        kind: Kind,
        old: &Bound<'py, PyAny>,
        new: &Bound<'py, PyAny>,
        result: Patched,
        swapped_note: &str,
    ) -> bool {
        match result {
            Patched::Unchanged => {
                self.kept.insert(ptr(new), old.clone());
                self.push(qual, kind, Action::Unchanged, None, None, "");
                true
            }
            Patched::Swapped => {
                self.kept.insert(ptr(new), old.clone());
                self.push(
                    qual,
                    kind,
                    Action::CodeSwapped,
                    Some(old),
                    Some(new),
                    swapped_note,
                );
                true
            }
            Patched::Replaced(why) => {
                self.fresh.push(new.clone());
                self.push(qual, kind, Action::Replaced, Some(old), Some(new), format!("{why}: calls through the module or class run the new code, references held elsewhere keep the old"));
                false
            }
        }
    }

    fn merge_function(
        &mut self,
        qual: &str,
        kind: Kind,
        old: &Bound<'py, PyAny>,
        new: &Bound<'py, PyAny>,
    ) -> bool {
        let result = self.patch_function(qual, old, new, 0);
        self.report_patched(qual, kind, old, new, result, "")
    }

    /// Puts the new function's code into the old function object (DESIGN.md "function").
    fn patch_function(
        &mut self,
        path: &str,
        old: &Bound<'py, PyAny>,
        new: &Bound<'py, PyAny>,
        depth: usize,
    ) -> Patched {
        match self.try_patch_function(path, old, new, depth) {
            Ok(p) => p,
            Err(e) => Patched::Replaced(format!("could not patch in place ({e})")),
        }
    }

    fn try_patch_function(
        &mut self,
        path: &str,
        old: &Bound<'py, PyAny>,
        new: &Bound<'py, PyAny>,
        depth: usize,
    ) -> PyResult<Patched> {
        if old.is(new) {
            return Ok(Patched::Unchanged);
        }
        let py = self.py;
        // Attribute names are interned: this runs for every function of a module.
        let (oc, nc) = (
            old.getattr(name!(py, "__code__"))?,
            new.getattr(name!(py, "__code__"))?,
        );
        let (ofv_t, nfv_t) = (
            oc.getattr(name!(py, "co_freevars"))?,
            nc.getattr(name!(py, "co_freevars"))?,
        );
        let same_freevars = ofv_t.is(&nfv_t) || ofv_t.eq(&nfv_t)?;
        let ofv: Vec<String> = ofv_t.extract()?;
        if !same_freevars {
            let nfv: Vec<String> = nfv_t.extract()?;
            return Ok(Patched::Replaced(format!(
                "its free variables changed from ({}) to ({})",
                ofv.join(", "),
                nfv.join(", ")
            )));
        }
        let mut changed = !code_equal(&oc, &nc)?;
        if changed {
            self.note_running(path, &oc)?;
        }
        let defaults = [name!(py, "__defaults__"), name!(py, "__kwdefaults__")];
        for attr in defaults {
            let (a, b) = (old.getattr(attr)?, new.getattr(attr)?);
            if !same_value(&a, &b) {
                changed = true;
            }
        }
        // __wrapped__ (functools.wraps): patch the inner function, keep the old object.
        let dict_name = name!(py, "__dict__");
        let new_dict = new.getattr(dict_name)?.cast_into::<PyDict>()?;
        let old_dict = old.getattr(dict_name)?.cast_into::<PyDict>()?;
        // Most functions have no attributes: then there is nothing to merge or assign.
        let plain = new_dict.is_empty() && old_dict.is_empty();
        let new_dict = if plain { new_dict } else { new_dict.copy()? };
        if !plain
            && let (Some(ow), Some(nw)) = (
                old_dict.get_item("__wrapped__")?,
                new_dict.get_item("__wrapped__")?,
            )
            && classify(&ow) == Kind2::Function
            && classify(&nw) == Kind2::Function
            && depth < 16
        {
            let wpath = format!("{path}.__wrapped__");
            match self.patch_function(&wpath, &ow, &nw, depth + 1) {
                Patched::Unchanged => {
                    new_dict.set_item("__wrapped__", &ow)?;
                }
                Patched::Swapped => {
                    changed = true;
                    new_dict.set_item("__wrapped__", &ow)?;
                }
                Patched::Replaced(why) => {
                    changed = true;
                    self.push(
                        &wpath,
                        Kind::Function,
                        Action::Replaced,
                        Some(&ow),
                        Some(&nw),
                        why,
                    );
                }
            }
        }
        // Closure cells, matched by name (the tuples are equal, so positions agree).
        let (ocl, ncl) = (
            old.getattr(name!(py, "__closure__"))?,
            new.getattr(name!(py, "__closure__"))?,
        );
        if !ocl.is_none() && !ncl.is_none() {
            let ocells: Vec<_> = ocl.try_iter()?.collect::<PyResult<_>>()?;
            let ncells: Vec<_> = ncl.try_iter()?.collect::<PyResult<_>>()?;
            for ((var, oc), nc) in ofv.iter().zip(ocells).zip(ncells) {
                if self.merge_cell(&format!("{path}::{var}"), &oc, &nc, depth)? {
                    changed = true;
                }
            }
        }
        if self.apply {
            old.setattr(name!(py, "__code__"), &nc)?;
            for attr in [
                name!(py, "__defaults__"),
                name!(py, "__kwdefaults__"),
                name!(py, "__doc__"),
                name!(py, "__annotations__"),
            ] {
                let value = new.getattr(attr)?;
                if !old.getattr(attr)?.is(&value) {
                    old.setattr(attr, value)?;
                }
            }
            if !plain {
                old.setattr(dict_name, new_dict)?;
            }
            self.patched.push(old.clone());
        }
        self.kept.insert(ptr(new), old.clone());
        Ok(if changed {
            Patched::Swapped
        } else {
            Patched::Unchanged
        })
    }

    /// Notes what keeps running the old code of a changed function: frames on a thread's stack
    /// (reported `not_applied`), and generators or coroutines already created.
    fn note_running(&mut self, path: &str, code: &Bound<'py, PyAny>) -> PyResult<()> {
        const GENERATOR_LIKE: u32 = 0x20 | 0x80 | 0x200; // CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR
        let flags: u32 = code.getattr(name!(self.py, "co_flags"))?.extract()?;
        if flags & GENERATOR_LIKE != 0 {
            self.notes.insert(
                path.to_string(),
                "generators/coroutines created before the reload keep running the old code".into(),
            );
        }
        if self.running.is_none() {
            self.running = Some(running_code(self.py)?);
        }
        let thread = self
            .running
            .as_ref()
            .and_then(|r| r.get(&ptr(code)).cloned());
        if let Some(thread) = thread {
            let entry = format!("{path} (running)");
            self.push(
                &entry,
                Kind::Function,
                Action::NotApplied,
                None,
                None,
                format!(
                    "a frame on thread {thread:?} is running the old code and finishes with it; \
                     the next call runs the new code"
                ),
            );
        }
        Ok(())
    }

    /// Merges one closure cell's content; the old cell stays. True if something changed.
    fn merge_cell(
        &mut self,
        key: &str,
        old_cell: &Bound<'py, PyAny>,
        new_cell: &Bound<'py, PyAny>,
        depth: usize,
    ) -> PyResult<bool> {
        let (Ok(o), Ok(n)) = (
            old_cell.getattr(name!(old_cell.py(), "cell_contents")),
            new_cell.getattr(name!(new_cell.py(), "cell_contents")),
        ) else {
            return Ok(false);
        };
        if o.is(&n) || self.mapped(&n).is(&o) {
            return Ok(false);
        }
        match (classify(&o), classify(&n)) {
            (Kind2::Function, Kind2::Function) if depth < 16 => {
                match self.patch_function(key, &o, &n, depth + 1) {
                    Patched::Unchanged => Ok(false),
                    Patched::Swapped => {
                        self.push(
                            key,
                            Kind::Function,
                            Action::CodeSwapped,
                            Some(&o),
                            Some(&n),
                            "closure cell",
                        );
                        Ok(true)
                    }
                    Patched::Replaced(why) => {
                        if self.apply {
                            old_cell.setattr(name!(old_cell.py(), "cell_contents"), &n)?;
                        }
                        self.fresh.push(n.clone());
                        self.push(
                            key,
                            Kind::Function,
                            Action::Replaced,
                            Some(&o),
                            Some(&n),
                            why,
                        );
                        Ok(true)
                    }
                }
            }
            (Kind2::Wrapper(oi), Kind2::Wrapper(ni)) if depth < 16 => {
                let r = self.patch_function(key, &oi, &ni, depth + 1);
                if !matches!(r, Patched::Unchanged) && self.apply {
                    o.call_method0("cache_clear")?;
                }
                Ok(!matches!(r, Patched::Unchanged))
            }
            (Kind2::Data, Kind2::Data) => {
                let take = self.merge_data(key, Kind::Data, &o, &n);
                if take && self.apply {
                    old_cell.setattr(name!(old_cell.py(), "cell_contents"), &n)?;
                    self.taken.push((old_cell.clone(), "cell_contents".into()));
                }
                Ok(take)
            }
            _ => {
                // A class or other object in a cell: follow the source.
                if self.apply {
                    old_cell.setattr(name!(old_cell.py(), "cell_contents"), self.mapped(&n))?;
                }
                Ok(true)
            }
        }
    }

    /// The three-way rule for one data value. Returns true when the new value is taken.
    fn merge_data(
        &mut self,
        qual: &str,
        kind: Kind,
        old: &Bound<'py, PyAny>,
        new: &Bound<'py, PyAny>,
    ) -> bool {
        let new_fp = fingerprint(new);
        self.new_fps.insert(qual.to_string(), new_fp);
        let ov = self.overrides.get(qual);
        let base = self.base.map(|b| b.fps.get(qual).copied());
        let (source_changed, live_changed, note) = match base {
            Some(Some(base_fp)) => {
                let sc = match (base_fp, new_fp) {
                    (Fingerprint::Value(a), Fingerprint::Value(b)) => a != b,
                    _ => self.statement_changed(qual),
                };
                let lc = match base_fp {
                    Fingerprint::Value(a) => fingerprint(old) != Fingerprint::Value(a),
                    Fingerprint::Opaque(id) => ptr(old) != id,
                };
                (sc, lc, None)
            }
            // Defined now but not by the last load: it was created at run time.
            Some(None) => (
                true,
                true,
                Some("the last load did not define it; the live value was created at run time"),
            ),
            None => {
                if self.old_source.is_some() {
                    let sc = self.statement_changed(qual);
                    let lc = !same_value(old, new);
                    (
                        sc,
                        lc && !sc,
                        Some(
                            "no baseline values (module loaded before tracking): compared source statements",
                        ),
                    )
                } else {
                    (
                        false,
                        true,
                        Some(
                            "no baseline (module loaded before tracking): live value kept; use take to force",
                        ),
                    )
                }
            }
        };
        let mut d = decide(source_changed, live_changed, ov);
        if d.action == Action::ConflictTookNew
            && self.old_source.is_some()
            && base.is_some_and(|b| b.is_some())
            && !self.statement_changed(qual)
        {
            d = refine_for_unchanged_statement(d, ov);
        }
        let mut note_text = d.note.to_string();
        if let Some(n) = note
            && d.action != Action::Unchanged
        {
            note_text = format!("{note_text}; {n}");
        }
        if d.action != Action::Unchanged
            && let Some(changes) = container_diff(old, new)
        {
            note_text = format!("{note_text}; changes: {changes}");
        }
        self.push(qual, kind, d.action, Some(old), Some(new), note_text);
        d.take_new
    }

    fn statement_changed(&mut self, qual: &str) -> bool {
        let (old, new) = self.statement_texts();
        match (old.get(qual), new.get(qual)) {
            (Some(a), Some(b)) => a.trim() != b.trim(),
            _ => true,
        }
    }

    fn merge_class_value(
        &mut self,
        qual: &str,
        old: &Bound<'py, PyAny>,
        new: &Bound<'py, PyAny>,
    ) -> PyResult<bool> {
        let is_pair = self.kept.get(&ptr(new)).is_some_and(|o| o.is(old));
        if !is_pair {
            // An imported class, or a name rebound to another class: take the new one.
            self.fresh.push(new.clone());
            self.push(
                qual,
                Kind::Class,
                Action::TookNew,
                Some(old),
                Some(new),
                "not a class this module defines here: rebound",
            );
            return Ok(false);
        }
        let (oc, nc) = (old.cast::<PyType>()?.clone(), new.cast::<PyType>()?.clone());
        if self.incompatible.iter().any(|(q, _)| q == qual) {
            let reason = self
                .incompatible
                .iter()
                .find(|(q, _)| q == qual)
                .map(|(_, r)| r.clone())
                .unwrap_or_default();
            self.kept.remove(&ptr(new));
            self.record_new_fps(qual, new);
            self.fresh.push(new.clone());
            self.push(qual, Kind::Class, Action::Replaced, Some(old), Some(new), format!("{reason}; replace_incompatible: bound the new class, existing instances keep the old one"));
            return Ok(false);
        }
        if !self.merged_classes.insert(ptr(old)) {
            self.push(
                qual,
                Kind::Class,
                Action::Unchanged,
                None,
                None,
                "alias of a class merged above",
            );
            return Ok(true);
        }
        let before = self.changes.len();
        let idx = self.changes.len();
        self.push(qual, Kind::Class, Action::Unchanged, None, None, "");
        self.merge_class(qual, &oc, &nc)?;
        let changed = self.changes[before + 1..]
            .iter()
            .any(|c| c.action != Action::Unchanged);
        if changed {
            self.changes[idx].action = Action::ClassPatched;
            self.changes[idx].old = short_repr(old);
            self.changes[idx].new = short_repr(old);
        }
        Ok(true)
    }

    fn merge_class(
        &mut self,
        qual: &str,
        old: &Bound<'py, PyType>,
        new: &Bound<'py, PyType>,
    ) -> PyResult<()> {
        let is_enum = is_enum_class(old);
        let mut member_names: HashSet<String> = HashSet::new();
        if is_enum {
            member_names = self.merge_enum_members(qual, old, new)?;
        }
        let (old_items, new_items) = match self.items.remove(&ptr(new.as_any())) {
            Some(lists) => lists,
            None => (class_items(old)?, class_items(new)?),
        };
        let old_map: HashMap<&str, &Bound<'py, PyAny>> =
            old_items.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let new_keys: HashSet<&str> = new_items.iter().map(|(k, _)| k.as_str()).collect();
        let skip = |k: &str, v: &Bound<'py, PyAny>| -> bool {
            if skip_member(k) || member_names.contains(k) {
                return true;
            }
            if is_enum && enum_internal(k) && classify(v) == Kind2::Data {
                return true;
            }
            let tn = v
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default();
            tn == "member_descriptor" || tn == "getset_descriptor"
        };
        for (k, n) in &new_items {
            let mq = format!("{qual}.{k}");
            if skip(k, n) {
                if k == "__doc__" && self.apply {
                    type_setattr(old, k, n)?;
                }
                continue;
            }
            self.defined.insert(mq.clone());
            if DATACLASS_MACHINERY.contains(&k.as_str()) {
                if self.apply {
                    type_setattr(old, k, n)?;
                }
                let repr = |x: &Bound<'py, PyAny>| x.repr().map(|r| r.to_string()).ok();
                let changed = old_map
                    .get(k.as_str())
                    .is_none_or(|o| repr(o).is_none() || repr(o) != repr(n));
                let action = if changed {
                    Action::TookNew
                } else {
                    Action::Unchanged
                };
                self.push(
                    &mq,
                    Kind::Other,
                    action,
                    old_map.get(k.as_str()).copied(),
                    Some(n),
                    if changed {
                        "dataclass machinery regenerated"
                    } else {
                        ""
                    },
                );
                continue;
            }
            match old_map.get(k.as_str()) {
                None => {
                    self.record_new_fps(&mq, n);
                    if self.apply {
                        type_setattr(old, k, n)?;
                    }
                    self.fresh.push(n.clone());
                    self.push(
                        &mq,
                        classify(n).report_kind(true),
                        Action::Added,
                        None,
                        Some(n),
                        "",
                    );
                }
                Some(o) => {
                    let keep_old = match self.merge_value(&mq, o, n, true) {
                        Ok(k) => k,
                        Err(e) => {
                            self.push(
                                &mq,
                                classify(n).report_kind(true),
                                Action::NotApplied,
                                Some(o),
                                Some(n),
                                format!("could not merge: {e}"),
                            );
                            true
                        }
                    };
                    // A kept member is still in the old class's dict (the class statement built
                    // a separate class): only a taken one is set, sparing CPython's slot updates.
                    if self.apply && !keep_old {
                        if let Err(e) = type_setattr(old, k, n) {
                            self.push(
                                &mq,
                                classify(n).report_kind(true),
                                Action::NotApplied,
                                Some(o),
                                Some(n),
                                format!("could not set on the class: {e}"),
                            );
                        }
                        self.taken.push((old.clone().into_any(), k.clone()));
                    }
                }
            }
        }
        for (k, o) in &old_items {
            if new_keys.contains(k.as_str()) || skip(k, o) {
                continue;
            }
            let mq = format!("{qual}.{k}");
            let kind = classify(o).report_kind(true);
            let defined = self.defined_before(&mq);
            if defined && self.overrides.get(&mq) != Override::Keep {
                if self.apply {
                    type_delattr(old, k)?;
                }
                self.push(
                    &mq,
                    kind,
                    Action::Removed,
                    Some(o),
                    None,
                    "no longer in the class body",
                );
            } else {
                let note = if defined {
                    "removed from the source, kept by override"
                } else {
                    "set at run time, not by the class body: kept"
                };
                self.push(&mq, kind, Action::KeptLive, Some(o), Some(o), note);
            }
        }
        if self.apply {
            if let Ok(doc) = new.getattr(name!(new.py(), "__doc__")) {
                type_setattr(old, "__doc__", &doc).ok();
            }
            if old.hasattr("__abstractmethods__")? {
                // abc.update_abstractmethods exists from 3.10; older versions keep the old set.
                if let Ok(update) = self
                    .py
                    .import("abc")
                    .and_then(|abc| abc.getattr(name!(abc.py(), "update_abstractmethods")))
                {
                    update.call1((old,))?;
                }
            }
        }
        Ok(())
    }

    /// Enum members keep their identity; new members join the old class; value changes apply.
    fn merge_enum_members(
        &mut self,
        qual: &str,
        old: &Bound<'py, PyType>,
        new: &Bound<'py, PyType>,
    ) -> PyResult<HashSet<String>> {
        let old_map = old
            .getattr(name!(old.py(), "_member_map_"))?
            .cast_into::<PyDict>()?;
        let new_map = new
            .getattr(name!(new.py(), "_member_map_"))?
            .cast_into::<PyDict>()?;
        let value_map = old
            .getattr(name!(old.py(), "_value2member_map_"))?
            .cast_into::<PyDict>()?;
        let names_list = old
            .getattr(name!(old.py(), "_member_names_"))?
            .cast_into::<PyList>()?;
        let mut names = HashSet::new();
        let object = self.py.import("builtins")?.getattr("object")?;
        let plain_members = old
            .getattr(name!(old.py(), "_member_type_"))
            .is_ok_and(|t| t.is(&object));
        for (k, n) in new_map.iter() {
            let name: String = k.extract()?;
            let mq = format!("{qual}.{name}");
            names.insert(name.clone());
            self.defined.insert(mq.clone());
            let new_value = n.getattr(name!(n.py(), "_value_"))?;
            if let Some(o) = old_map.get_item(&name)? {
                self.kept.insert(ptr(&n), o.clone());
                let old_value = o.getattr(name!(o.py(), "_value_"))?;
                if same_value(&old_value, &new_value) {
                    self.push(&mq, Kind::Data, Action::Unchanged, None, None, "");
                } else if !plain_members {
                    // An IntEnum/StrEnum member *is* its value: it cannot change in place.
                    self.push(
                        &mq,
                        Kind::Data,
                        Action::NotApplied,
                        Some(&old_value),
                        Some(&new_value),
                        "the value of a member of an int/str-based enum cannot change in place \
                         (the member is its value); restart to apply it",
                    );
                } else {
                    if self.apply {
                        if value_map
                            .get_item(&old_value)
                            .ok()
                            .flatten()
                            .is_some_and(|m| m.is(&o))
                        {
                            value_map.del_item(&old_value).ok();
                        }
                        o.setattr(name!(o.py(), "_value_"), &new_value)?;
                        value_map.set_item(&new_value, &o).ok();
                    }
                    self.push(
                        &mq,
                        Kind::Data,
                        Action::TookNew,
                        Some(&old_value),
                        Some(&new_value),
                        "enum member value changed; the member object is the same",
                    );
                }
            } else {
                let added = if self.apply {
                    let r: PyResult<()> = (|| {
                        self.py
                            .import("builtins")?
                            .getattr("object")?
                            .getattr("__setattr__")?
                            .call1((&n, "__class__", old))?;
                        old_map.set_item(&name, &n)?;
                        names_list.append(&name)?;
                        value_map.set_item(&new_value, &n).ok();
                        type_setattr(old, &name, &n)?;
                        Ok(())
                    })();
                    r
                } else {
                    Ok(())
                };
                match added {
                    Ok(()) => self.push(
                        &mq,
                        Kind::Data,
                        Action::Added,
                        None,
                        Some(&n),
                        "new enum member",
                    ),
                    Err(e) => self.push(
                        &mq,
                        Kind::Data,
                        Action::NotApplied,
                        None,
                        Some(&n),
                        format!("could not add the member to the old class: {e}"),
                    ),
                }
            }
        }
        for (k, o) in old_map.copy()?.iter() {
            let name: String = k.extract()?;
            if names.contains(&name) {
                continue;
            }
            names.insert(name.clone());
            let mq = format!("{qual}.{name}");
            if self.apply {
                old_map.del_item(&name)?;
                if let Ok(i) = names_list.index(&name) {
                    names_list.del_item(i)?;
                }
                if let Ok(v) = o.getattr(name!(o.py(), "_value_"))
                    && value_map
                        .get_item(&v)
                        .ok()
                        .flatten()
                        .is_some_and(|m| m.is(&o))
                {
                    value_map.del_item(&v).ok();
                }
                if old.getattr(name!(old.py(), "__dict__"))?.contains(&name)? {
                    type_delattr(old, &name)?;
                }
            }
            self.push(
                &mq,
                Kind::Data,
                Action::Removed,
                Some(&o),
                None,
                "enum member no longer in the source; held references keep it",
            );
        }
        Ok(names)
    }

    // ---- after the merge: point new objects at the surviving ones ------------------------------

    fn fix_up(&mut self) {
        if !self.apply {
            return;
        }
        let mut budget = 100_000usize;
        for (owner, name) in std::mem::take(&mut self.taken) {
            let Ok(v) = (if let Ok(d) = owner.cast::<PyDict>() {
                d.get_item(&name).and_then(|v| {
                    v.ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(name.clone()))
                })
            } else {
                owner.getattr(name.as_str())
            }) else {
                continue;
            };
            if let Some(fixed) = self.fix_value(&v, 0, &mut budget) {
                let done = if let Ok(d) = owner.cast::<PyDict>() {
                    d.set_item(&name, fixed)
                } else if let Ok(cls) = owner.cast::<PyType>() {
                    type_setattr(cls, &name, &fixed)
                } else {
                    owner.setattr(name.as_str(), fixed)
                };
                done.ok();
            }
        }
        for f in std::mem::take(&mut self.patched) {
            self.fix_defaults(&f, &mut budget);
        }
        for obj in std::mem::take(&mut self.fresh) {
            self.fix_fresh(&obj, 0, &mut budget);
        }
    }

    fn fix_defaults(&self, f: &Bound<'py, PyAny>, budget: &mut usize) {
        for attr in ["__defaults__", "__kwdefaults__"] {
            if let Ok(v) = f.getattr(attr)
                && let Some(fixed) = self.fix_value(&v, 0, budget)
            {
                f.setattr(attr, fixed).ok();
            }
        }
    }

    /// Points a new function's cells and defaults, or a new class's bases and members, at the
    /// surviving objects instead of the throwaway ones.
    fn fix_fresh(&self, obj: &Bound<'py, PyAny>, depth: usize, budget: &mut usize) {
        if depth > 8 || *budget == 0 {
            return;
        }
        *budget -= 1;
        match classify(obj) {
            Kind2::Function => {
                self.fix_defaults(obj, budget);
                if let Ok(cl) = obj.getattr(name!(obj.py(), "__closure__"))
                    && let Ok(cells) = cl.try_iter()
                {
                    for cell in cells.flatten() {
                        if let Ok(c) = cell.getattr(name!(cell.py(), "cell_contents"))
                            && let Some(fixed) = self.fix_value(&c, 0, budget)
                        {
                            cell.setattr(name!(cell.py(), "cell_contents"), fixed).ok();
                        }
                    }
                }
            }
            Kind2::Wrapper(inner) | Kind2::ClassMethod(inner) | Kind2::StaticMethod(inner) => {
                self.fix_fresh(&inner, depth + 1, budget);
            }
            Kind2::Property(acc) => {
                for (_, f) in acc {
                    self.fix_fresh(&f, depth + 1, budget);
                }
            }
            Kind2::Class => {
                if let Ok(cls) = obj.cast::<PyType>() {
                    if let Ok(bases) = cls
                        .getattr("__bases__")
                        .and_then(|b| b.cast_into::<PyTuple>().map_err(Into::into))
                        && bases.iter().any(|b| self.kept.contains_key(&ptr(&b)))
                    {
                        let mapped: Vec<Bound<'py, PyAny>> =
                            bases.iter().map(|b| self.mapped(&b).clone()).collect();
                        if let Ok(t) = PyTuple::new(self.py, mapped) {
                            cls.setattr(name!(cls.py(), "__bases__"), t).ok();
                        }
                    }
                    if let Ok(items) = class_items(cls) {
                        for (_, v) in items {
                            if matches!(
                                classify(&v),
                                Kind2::Function
                                    | Kind2::ClassMethod(_)
                                    | Kind2::StaticMethod(_)
                                    | Kind2::Property(_)
                            ) {
                                self.fix_fresh(&v, depth + 1, budget);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// A value with throwaway objects replaced by the surviving ones: `Some` when the value itself
    /// must be replaced; containers are fixed in place (lists, dicts) or rebuilt (tuples).
    fn fix_value(
        &self,
        v: &Bound<'py, PyAny>,
        depth: usize,
        budget: &mut usize,
    ) -> Option<Bound<'py, PyAny>> {
        if *budget == 0 || depth > 4 {
            return None;
        }
        *budget -= 1;
        if let Some(old) = self.kept.get(&ptr(v)) {
            return Some(old.clone());
        }
        let ty = v.get_type().into_any();
        if let Some(old_cls) = self.kept.get(&ptr(&ty)) {
            // An instance the new module body made of a throwaway class: give it the real class.
            v.setattr(name!(v.py(), "__class__"), old_cls).ok();
            return None;
        }
        if let Ok(l) = v.cast_exact::<PyList>() {
            for i in 0..l.len() {
                if let Ok(item) = l.get_item(i)
                    && let Some(f) = self.fix_value(&item, depth + 1, budget)
                {
                    l.set_item(i, f).ok();
                }
            }
        } else if let Ok(d) = v.cast::<PyDict>() {
            let items: Vec<_> = d.iter().collect();
            for (k, item) in items {
                if let Some(f) = self.fix_value(&item, depth + 1, budget) {
                    d.set_item(k, f).ok();
                }
            }
        } else if let Ok(t) = v.cast_exact::<PyTuple>() {
            let fixed: Vec<Option<Bound<'py, PyAny>>> = t
                .iter()
                .map(|i| self.fix_value(&i, depth + 1, budget))
                .collect();
            if fixed.iter().any(Option::is_some) {
                let items: Vec<Bound<'py, PyAny>> =
                    t.iter().zip(fixed).map(|(i, f)| f.unwrap_or(i)).collect();
                return PyTuple::new(self.py, items).ok().map(Bound::into_any);
            }
        }
        None
    }

    // ---- stale copies --------------------------------------------------------------------------

    fn stale_refs(&self, module: &str) -> Vec<StaleRef> {
        let mut out = Vec::new();
        if self.replaced_globals.is_empty() {
            return out;
        }
        let Ok(modules) = self
            .py
            .import("sys")
            .and_then(|s| s.getattr(name!(s.py(), "modules")))
        else {
            return out;
        };
        // One pass over each other module's globals, looking objects up by identity.
        let by_ptr: HashMap<usize, (&str, bool)> = self
            .replaced_globals
            .iter()
            .map(|(name, old)| {
                // Small ints, interned strings, None: shared by everyone, so only a copy under
                // the same name counts.
                let shared = old.is_none()
                    || old.is_instance_of::<pyo3::types::PyInt>()
                    || old.is_instance_of::<PyString>()
                    || old.is_instance_of::<pyo3::types::PyFloat>()
                    || old.is_instance_of::<pyo3::types::PyBool>();
                (ptr(old), (name.as_str(), shared))
            })
            .collect();
        for other in tracker::names() {
            if other == module {
                continue;
            }
            let Ok(m) = modules.get_item(&other) else {
                continue;
            };
            let Ok(m) = m.cast::<PyModule>() else {
                continue;
            };
            for (k, v) in m.dict().iter() {
                let Some((source, shared)) = by_ptr.get(&ptr(&v)) else {
                    continue;
                };
                let Ok(k) = k.extract::<String>() else {
                    continue;
                };
                if !shared || k == *source {
                    out.push(StaleRef {
                        module: other.clone(),
                        name: k,
                        source: (*source).to_string(),
                        value: short_repr(&v),
                    });
                }
            }
        }
        out
    }
}

/// Sets `module.name` in every stale copy to the reloaded module's current `source` attribute.
pub fn propagate(py: Python<'_>, module: &str, stale: &[StaleRef]) -> Result<usize, EngineError> {
    let source = find_module(py, module)?;
    let mut n = 0;
    for s in stale {
        let target = find_module(py, &s.module)?;
        let value = source
            .getattr(s.source.as_str())
            .map_err(|_| EngineError::UnknownModule(format!("{module}.{}", s.source)))?;
        target
            .setattr(s.name.as_str(), value)
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        n += 1;
    }
    Ok(n)
}
