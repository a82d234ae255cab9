//! The reload pipeline (DESIGN.md "A reload of module M"): read and compile, run the body in the
//! module's dict, check classes, merge, record. Every outcome — `applied`, `failed`,
//! `rolled_back`, `incompatible` — is shaped here, in one place.

mod incremental;
mod namespace;
mod source;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::error::EngineError;
use super::merge::{Inputs, Merge, Partial};
use super::source::find_module;
use super::tracker::{self, TrackedModule};
use crate::protocol::Overrides;
use crate::protocol::{Action, Change, ErrorInfo, Kind, Mode, Outcome, ReloadReport};
use namespace::RestoreOnExit;

/// How to reload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent options of one call, as `swapscope.reload()` takes them"
)]
pub struct ReloadOptions {
    pub overrides: Overrides,
    /// Report what a reload would do; change nothing.
    pub dry_run: bool,
    /// Bind new classes whose change cannot be applied in place instead of refusing the reload.
    pub replace_incompatible: bool,
    /// The saves this reload applies (recorded in the report; see `ReloadReport::saves`).
    pub saves: u32,
    /// Also give closures made before the reload by a patched function (`h =
    /// make_handler()`) the new code: a scan of every object the garbage collector tracks.
    pub closures: bool,
    /// Put back the version before the last applied reload (see `ReloadService`, which keeps
    /// the versions and fills `source`).
    pub undo: bool,
    /// The text to reload from instead of the file (an undo's earlier version).
    pub source: Option<Arc<str>>,
    /// Run the whole module body, even where running only the changed statements (and what
    /// depends on them) would do.
    pub full: bool,
}

/// What runs: the whole module's code, or the statements an incremental plan runs.
enum Code<'py> {
    Whole(Bound<'py, PyAny>),
    Statements(Vec<incremental::Ready<'py>>),
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Reloads module `name` in place (or, with `dry_run`, reports what a reload would do).
///
/// A panic inside (a bug in swapscope) is caught here and returned as `EngineError::Panicked`:
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
        Err(EngineError::Panicked(format!(
            "swapscope panicked while reloading {name} ({}); this is a bug in swapscope: \
                 please report it",
            crate::fault::panic_message(&*panic)
        )))
    })
}

fn reload_unguarded(
    py: Python<'_>,
    name: &str,
    opts: &ReloadOptions,
) -> Result<ReloadReport, EngineError> {
    let started = Instant::now();
    let contradictions = opts.overrides.contradictions();
    if !contradictions.is_empty() {
        return Err(EngineError::ContradictoryOverrides {
            names: contradictions,
        });
    }
    let module = find_module(py, name)?;
    let path = source::reloadable_file(&module, name)?;
    let mut report = ReloadReport {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        module: name.to_string(),
        file: path.to_string_lossy().into_owned(),
        outcome: Outcome::Applied,
        error: None,
        duration_ms: 0.0,
        dry_run: opts.dry_run,
        saves: opts.saves,
        undo: opts.undo,
        mode: Mode::Full,
        mode_note: String::new(),
        changes: Vec::new(),
        stale_refs: Vec::new(),
    };
    let ended = |mut report: ReloadReport, outcome: Outcome, error: ErrorInfo| {
        report.outcome = outcome;
        report.error = Some(error);
        report.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        if !report.dry_run {
            tracker::set_outcome(&report.module, outcome);
        }
        report
    };
    let internal = |during: &str, e: PyErr| EngineError::python(py, during, &e);

    // 1. Read and decode. The modification time is taken first: a save landing during the
    // reload then leaves the file newer than the record, so it is seen as a change.
    let mtime_read = super::source::mtime(&path);
    let text = match source::read_text(py, &module, &path, &report.file, opts.source.as_deref()) {
        Ok(text) => text,
        Err(error) => return Ok(ended(report, Outcome::Failed, error)),
    };
    let record = tracker::get(name);
    let dict = module.dict();

    // Incremental when the last load's text and values are known and nothing in the module
    // defeats the analysis; otherwise (or when asked) the whole module.
    let mut plan = match (opts.full, &record) {
        (true, _) => Err("a whole-module reload was asked for".to_string()),
        (false, None) => Err("the module is not tracked".to_string()),
        (false, Some(r)) => incremental::plan_for(r, &text, &dict, &opts.overrides),
    };
    match &mut plan {
        Ok(p) => {
            incremental::resolve_undecorated(py, p, &dict)
                .map_err(|e| internal("finding decorated functions", e))?;
            report.mode = Mode::Incremental;
            report.mode_note = format!(
                "{} of {} statements ran ({} changed)",
                p.runs(),
                p.index.len(),
                p.changed
            );
        }
        Err(why) => {
            report.mode = Mode::Full;
            report.mode_note.clone_from(why);
        }
    }
    // Compile: the statements that run, or the whole module. A SyntaxError ends it here.
    let code = match &plan {
        Ok(p) => incremental::compile_statements(py, p, &report.file).map(Code::Statements),
        Err(_) => source::compile_module(py, &text, &report.file).map(Code::Whole),
    };
    let code = match code {
        Ok(c) => c,
        Err(error) => return Ok(ended(report, Outcome::Failed, error)),
    };

    // 2-3. Execute in the module's dict (a scratch dict for a dry run).
    // The lazily initialised Python objects the merge uses are created now: a first
    // initialisation releases the GIL, which must not happen once the dict is emptied (engine
    // code reads attributes through `name!`, never pyo3's `intern!`; see `names`).
    super::fingerprint::warm(py).map_err(|e| internal("loading the enum type", e))?;
    super::classify::types(py).map_err(|e| internal("loading the descriptor types", e))?;
    super::pyobj::helpers(py).map_err(|e| internal("loading helpers.py", e))?;
    let old_ns = dict
        .copy()
        .map_err(|e| internal("copying the module dict", e))?;
    // A dry run works on a copy: the whole body in an empty dict, statements in a copy of the
    // live one.
    let target = match (&code, opts.dry_run) {
        (_, false) => dict.clone(),
        (Code::Whole(_), true) => PyDict::new(py),
        (Code::Statements(_), true) => old_ns
            .copy()
            .map_err(|e| internal("copying the module dict", e))?,
    };
    // From the moment the dict is changed, every way out that is not a finished merge (an
    // early return, an error, a panic unwinding) puts the old mapping back.
    let mut guard = RestoreOnExit::new(&dict, &old_ns, !opts.dry_run);
    // Code of unchanged statements below added or removed lines moves with them, before the
    // statements run: a function they call then makes new functions on the new lines too (a
    // decorator's wrapper), and what the merge reports names the file's lines. Put back with
    // the namespace on every way out that is not a finished merge.
    if let (Ok(p), false) = (&plan, opts.dry_run) {
        let undo = incremental::shift_lines(py, p, name, &report.file, &old_ns).map_err(|e| {
            let _ = guard.restore_now();
            internal("moving the line numbers of unchanged definitions", e)
        })?;
        guard.undo_with(undo);
    }
    let submodules = namespace::submodules(name, &old_ns);
    // Errors of swapscope's own calls below are described (which may release the GIL: a
    // traceback is formatted) only after the dict is restored.
    let executed = match code {
        Code::Whole(code) => {
            namespace::execute(py, &code, &target, &old_ns, &submodules, !opts.dry_run)
                .map(|r| r.map(|()| Vec::new()))
        }
        Code::Statements(ready) => match &plan {
            Ok(p) => incremental::execute(py, p, ready, &target, &submodules),
            Err(_) => unreachable!("statements are compiled only for a plan"),
        },
    }
    .map_err(|e| {
        let _ = guard.restore_now();
        internal("preparing the module dict", e)
    })?;
    let undecorated = match executed {
        Ok(u) => u,
        Err(e) => {
            guard
                .restore_now()
                .map_err(|e| internal("restoring the module dict", e))?;
            if e.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) {
                return Err(EngineError::Interrupted(name.to_string()));
            }
            let mut info = source::describe(py, &e, &report.file);
            info.message = format!("the module body raised {}", info.message);
            return Ok(ended(report, Outcome::RolledBack, info));
        }
    };
    // What the merge compares: the whole namespaces, or only the names the statements bound.
    let (old_side, new_side, rebound) = match &plan {
        Err(_) => {
            let new_ns = target.copy().map_err(|e| {
                let _ = guard.restore_now();
                internal("copying the new namespace", e)
            })?;
            (old_ns.clone(), new_ns, None)
        }
        Ok(p) => {
            let sides = incremental::rebound(&old_ns, &target).and_then(|mut names| {
                incremental::in_source_order(&mut names, p);
                Ok((
                    incremental::subset(py, &old_ns, &names)?,
                    incremental::subset(py, &target, &names)?,
                    names,
                ))
            });
            let (o, n, names) = sides.map_err(|e| {
                let _ = guard.restore_now();
                internal("finding the names the statements bound", e)
            })?;
            (o, n, Some(names))
        }
    };
    let (old_source, new_source) = match &plan {
        Ok(p) => (Some(p.old_texts.as_str()), p.new_texts.as_str()),
        Err(_) => (
            record.as_ref().and_then(|r| r.source.as_deref()),
            text.as_str(),
        ),
    };

    let mut merge = Merge::new(
        py,
        Inputs {
            module: name,
            apply: !opts.dry_run,
            overrides: &opts.overrides,
            base: record.as_ref().and_then(|r| r.baseline.as_ref()),
            old_source,
            new_source,
            submodules: submodules.iter().map(|(n, _)| n.as_str()).collect(),
            closures: opts.closures,
        },
    );

    // Pass 1: class compatibility, before anything is changed.
    crate::fault::hit(crate::fault::Site::Classes);
    merge.map_classes(&old_side, &new_side).map_err(|e| {
        let _ = guard.restore_now();
        internal("comparing classes", e)
    })?;
    let incompatible = merge.incompatible();
    if !incompatible.is_empty() && !opts.replace_incompatible {
        guard
            .restore_now()
            .map_err(|e| internal("restoring the module dict", e))?;
        let (qual, reason) = &incompatible[0];
        let others = match incompatible.len() - 1 {
            0 => String::new(),
            n => format!(" (and {n} more)"),
        };
        let error = ErrorInfo {
            file: report.file.clone(),
            line: source::class_line(&text, qual),
            message: format!(
                "class {qual} cannot change in place: {reason}{others}; restart the program, or \
                 reload with replace_incompatible=True to bind the new class (existing instances \
                 keep the old one)"
            ),
            ..ErrorInfo::default()
        };
        report.changes = incompatible
            .iter()
            .map(|(qual, reason)| Change {
                name: qual.rsplit('.').next().unwrap_or(qual).to_string(),
                qualname: qual.clone(),
                kind: Kind::Class,
                action: Action::NotApplied,
                old: String::new(),
                new: String::new(),
                note: reason.clone(),
            })
            .collect();
        return Ok(ended(report, Outcome::Incompatible, error));
    }

    if let (Some(names), Ok(p)) = (&rebound, &plan) {
        // Unchanged definitions below added or removed lines move with them (before the merge,
        // so what it reports names the file's lines); a dry run moves nothing and says where
        // they would be.
        // (Moved before the statements ran; see there.) A dry run moves nothing and says where
        // they would be.
        let shifts = if opts.dry_run {
            p.moved.clone()
        } else {
            Vec::new()
        };
        merge.partial(Partial {
            whole_new: target.clone(),
            whole_old: old_ns.clone(),
            merged: names
                .iter()
                .cloned()
                .chain(undecorated.iter().map(|u| u.name.clone()))
                .collect(),
            shifts,
            decorated_classes: p.decorated_classes,
        });
    }

    // Pass 2: merge, then point the new objects at the surviving ones.
    let merged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::fault::hit(crate::fault::Site::Merge);
        merge.merge_module(&dict, &old_side, &new_side)?;
        for u in &undecorated {
            merge.merge_undecorated(&u.name, &u.outer, &u.live, &u.new)?;
        }
        merge.fix_up();
        Ok::<(), PyErr>(())
    }));
    match merged {
        Ok(Ok(())) => {}
        // The merge guards every attribute; reaching here is a bug in swapscope. Undo.
        Ok(Err(e)) => {
            let _ = guard.restore_now();
            return Err(internal("merging", e));
        }
        Err(panic) => {
            let _ = guard.restore_now();
            return Err(EngineError::Panicked(format!(
                "swapscope panicked while merging {name} ({}); the module's namespace was \
                 restored, but functions and classes patched before the panic keep their new \
                 code. This is a bug in swapscope: please report it",
                crate::fault::panic_message(&*panic)
            )));
        }
    }
    guard.disarm();
    let done = merge.finish();
    report.changes = done.changes;
    // The statements of the new text, kept for the next reload; then the plan and the record
    // (which the plan borrows) are let go, so that the record's baseline can be updated in
    // place rather than copied (a 50,000-line module's baseline has tens of thousands of paths).
    let spans: Option<Arc<[crate::engine::statements::Span]>> = plan.as_ref().ok().map(|p| {
        p.index
            .new
            .iter()
            .map(crate::engine::statements::Statement::span)
            .collect()
    });
    drop(plan);
    let baseline = match rebound {
        // A dry run records nothing (and must not take the record's baseline).
        _ if opts.dry_run => done.baseline,
        Some(names) => {
            drop(record);
            let mut base = match tracker::take_baseline(name) {
                Some(b) => b,
                None => tracker::get(name)
                    .and_then(|r| r.baseline.clone())
                    .unwrap_or_default(),
            };
            incremental::next_baseline(&mut base, &names, done.baseline);
            base
        }
        None => done.baseline,
    };
    if !opts.dry_run {
        let added: Vec<String> = report
            .changes
            .iter()
            .filter(|c| c.action == Action::Added && !c.qualname.contains(['.', ':', '[']))
            .map(|c| c.qualname.clone())
            .collect();
        report.stale_refs = super::stale::stale_refs(py, name, &done.replaced_globals, &added);
        tracker::store(TrackedModule {
            name: name.to_string(),
            // Reloaded from an earlier text: the file on disk is not the source now, and the
            // comparison by content must say so.
            mtime: if opts.source.is_some() {
                None
            } else {
                mtime_read
            },
            path,
            source: Some(Arc::from(text)),
            baseline: Some(baseline),
            last_outcome: Some(Outcome::Applied),
            spans,
            loaded_seq: 0,
        });
    }
    report.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(report)
}
