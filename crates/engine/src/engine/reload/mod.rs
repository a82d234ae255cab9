//! The reload pipeline (DESIGN.md "A reload of module M"): read and compile, run the body in the
//! module's dict, check classes, merge, record. Every outcome — `applied`, `failed`,
//! `rolled_back`, `incompatible` — is shaped here, in one place.

mod namespace;
mod source;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::error::EngineError;
use super::merge::{Inputs, Merge};
use super::source::find_module;
use super::tracker::{self, TrackedModule};
use crate::protocol::Overrides;
use crate::protocol::{Action, Change, ErrorInfo, Kind, Outcome, ReloadReport};
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

    // 1. Read, decode and compile. The modification time is taken first: a save landing during
    // the reload then leaves the file newer than the record, so it is seen as a change.
    let mtime_read = super::source::mtime(&path);
    let new = match source::load(py, &module, &path, &report.file, opts.source.as_deref()) {
        Ok(new) => new,
        Err(error) => return Ok(ended(report, Outcome::Failed, error)),
    };

    // 2-3. Execute the new body in the module's dict (a scratch dict for a dry run).
    let dict = module.dict();
    // The lazily initialised Python objects the merge uses are created now: a first
    // initialisation releases the GIL, which must not happen once the dict is emptied (engine
    // code reads attributes through `name!`, never pyo3's `intern!`; see `names`).
    super::fingerprint::warm(py).map_err(|e| internal("loading the enum type", e))?;
    super::classify::types(py).map_err(|e| internal("loading the descriptor types", e))?;
    super::pyobj::helpers(py).map_err(|e| internal("loading helpers.py", e))?;
    let old_ns = dict
        .copy()
        .map_err(|e| internal("copying the module dict", e))?;
    let target = if opts.dry_run {
        PyDict::new(py)
    } else {
        dict.clone()
    };
    // From the moment the dict is emptied, every way out that is not a finished merge (an
    // early return, an error, a panic unwinding) puts the old mapping back.
    let mut guard = RestoreOnExit::new(&dict, &old_ns, !opts.dry_run);
    let submodules = namespace::submodules(name, &old_ns);
    // Errors of swapscope's own calls below are described (which may release the GIL: a
    // traceback is formatted) only after the dict is restored.
    let executed = namespace::execute(py, &new.code, &target, &old_ns, &submodules, !opts.dry_run)
        .map_err(|e| {
            let _ = guard.restore_now();
            internal("preparing the module dict", e)
        })?;
    if let Err(e) = executed {
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
    let new_ns = target.copy().map_err(|e| {
        let _ = guard.restore_now();
        internal("copying the new namespace", e)
    })?;

    let record = tracker::get(name);
    let mut merge = Merge::new(
        py,
        Inputs {
            module: name,
            apply: !opts.dry_run,
            overrides: &opts.overrides,
            base: record.as_ref().and_then(|r| r.baseline.as_ref()),
            old_source: record.as_ref().and_then(|r| r.source.as_deref()),
            new_source: &new.text,
            submodules: submodules.iter().map(|(n, _)| n.as_str()).collect(),
            closures: opts.closures,
        },
    );

    // Pass 1: class compatibility, before anything is changed.
    crate::fault::hit(crate::fault::Site::Classes);
    merge.map_classes(&old_ns, &new_ns).map_err(|e| {
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
            line: source::class_line(&new.text, qual),
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

    // Pass 2: merge, then point the new objects at the surviving ones.
    let merged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::fault::hit(crate::fault::Site::Merge);
        merge.merge_module(&dict, &old_ns, &new_ns)?;
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
            source: Some(Arc::from(new.text)),
            baseline: Some(done.baseline),
            last_outcome: Some(Outcome::Applied),
        });
    }
    report.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(report)
}
