//! Fault injection for tests: makes one chosen place panic once, to prove that panics stop at
//! the boundaries (a Python exception at the API, a problem event in the worker, a reported
//! crash of the worker thread) and never take the app down silently.
//!
//! Armed from Rust (`arm`) or, for a whole process, with `SWAPSCOPE_INJECT_PANIC=<site>`
//! (`merge`, `classes`, `worker-command`, `worker-thread`, `import-hook`). Unarmed, `hit` is one atomic load.

use std::sync::atomic::{AtomicU8, Ordering};

/// A place that can be made to panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Site {
    /// Pass 2 of a reload, after the module body ran and before the merge.
    Merge = 1,
    /// Pass 1 of a reload (class compatibility), after the module body ran.
    Classes = 4,
    /// Inside the worker's handling of one command.
    WorkerCommand = 2,
    /// The worker thread itself, outside any command (as it starts the script).
    WorkerThread = 3,
    /// The import hook, as it records a module the user's code just imported.
    ImportHook = 5,
}

static ARMED: AtomicU8 = AtomicU8::new(0);

/// Makes `site` panic the next time it is reached (once).
pub fn arm(site: Site) {
    ARMED.store(site as u8, Ordering::SeqCst);
}

/// `SWAPSCOPE_INJECT_PANIC` names no fault site.
#[derive(Debug, thiserror::Error)]
#[error(
    "SWAPSCOPE_INJECT_PANIC={0:?} is not a fault site; use merge, classes, worker-command, \
     worker-thread or import-hook"
)]
pub struct UnknownSite(String);

/// Arms the site named by `SWAPSCOPE_INJECT_PANIC`, if set; an unknown name is an error.
pub fn arm_from_env() -> Result<(), UnknownSite> {
    let Ok(name) = std::env::var("SWAPSCOPE_INJECT_PANIC") else {
        return Ok(());
    };
    let site = match name.as_str() {
        "merge" => Site::Merge,
        "classes" => Site::Classes,
        "worker-command" => Site::WorkerCommand,
        "worker-thread" => Site::WorkerThread,
        "import-hook" => Site::ImportHook,
        other => return Err(UnknownSite(other.to_string())),
    };
    arm(site);
    Ok(())
}

/// Panics if `site` is armed (and disarms it).
pub(crate) fn hit(site: Site) {
    if ARMED.load(Ordering::Relaxed) == site as u8
        && ARMED
            .compare_exchange(site as u8, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    {
        panic!("injected fault at {site:?}");
    }
}

/// The message of a caught panic.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}
