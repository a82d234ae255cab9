//! Everything that crosses from the runtime to a front end (the window, the headless driver, or
//! a socket in attach mode): commands, events, reports, module listings, overrides, the policy
//! file, and the wire that carries them between processes.
//!
//! Plain `serde` data and std sockets. This crate must not name pyo3 or the engine: a front end
//! that only reads and sends these messages needs no Python.

pub mod agents;
mod listing;
mod overrides;
pub mod policy;
mod report;
pub mod wire;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::policy::Policy;
pub use listing::{AttrInfo, Group, ModuleInfo};
pub use overrides::{Override, Overrides};
pub use report::{
    Action, Change, Counts, ErrorInfo, Hotfix, HotfixReport, Kind, Mode, Outcome, ReloadReport,
    STILL_USED, StaleRef,
};

/// A module's dotted name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ModuleName(pub String);

impl std::fmt::Display for ModuleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Earlier versions of a module the runtime keeps for `Command::Undo`: the newest this many.
pub const UNDO_STEPS: usize = 20;

/// What the UI asks the runtime to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Reload a module (at the script's next safe point if it has them).
    Reload {
        module: ModuleName,
        overrides: Overrides,
        dry_run: bool,
        replace_incompatible: bool,
    },
    /// Put back the version of a module before its last applied reload (or before the undo
    /// before that: several steps), in place, with its own report. The file is not touched.
    Undo(ModuleName),
    /// Write `literal` as the value of `qualname` (`DAMAGE`, `WEAPONS['rifle']['damage']`) in the
    /// module's source file — only that literal changes — then reload the module.
    EditValue {
        module: ModuleName,
        qualname: String,
        literal: String,
    },
    /// Reload these modules together: all at the same safe point when the script has them
    /// ("Reload all changed"), each with its own report.
    ReloadModules(Vec<ModuleName>),
    /// Reload the tracked modules whose files are these (from the watcher, auto mode).
    ReloadFiles(Vec<PathBuf>),
    /// Files changed on disk (from the watcher, with their saves counted): report them, and
    /// reload them in auto mode.
    FilesChanged(Vec<ChangedFile>),
    /// Turn reload-on-save on or off.
    SetAutoReload(bool),
    /// Turn the closure scan on or off for the reloads the window and saves ask for (see
    /// `swapscope.reload(closures=True)`).
    SetClosureScan(bool),
    /// Run the whole module body on every reload the window and saves ask for, instead of only
    /// the statements that changed and those depending on them (see
    /// `swapscope.reload(full=True)`).
    SetWholeReloads(bool),
    /// Send a fresh `Event::Modules`.
    ListModules,
    /// Send `Event::Attributes` for this module (live values).
    Inspect(ModuleName),
    /// Set one attribute's data policy and save the policy file.
    SetPolicy {
        module: ModuleName,
        qualname: String,
        choice: Override,
    },
    /// Copy a reload's new values into the stale copies its report listed.
    Propagate {
        module: ModuleName,
        stale: Vec<StaleRef>,
    },
    /// Run a few lines of Python in a module's namespace (`__main__` or a loaded module), at the
    /// script's next safe point if it has them, as reloads run: the hotfix console. Answered by
    /// `Event::HotfixFinished`, whatever happens.
    Hotfix { module: ModuleName, code: String },
    /// Stop the worker.
    Shutdown,
}

impl Command {
    /// What the worker is doing while it handles this command, for error messages.
    pub fn describe(&self) -> String {
        match self {
            Command::Reload { module, .. } => format!("reloading {module}"),
            Command::Undo(module) => format!("undoing the last reload of {module}"),
            Command::ReloadModules(modules) => format!("reloading {} module(s)", modules.len()),
            Command::EditValue {
                module, qualname, ..
            } => format!("editing {qualname} in {module}"),
            Command::ReloadFiles(paths) => format!("reloading {} file(s)", paths.len()),
            Command::FilesChanged(files) => {
                format!("handling changes of {} file(s)", files.len())
            }
            Command::SetAutoReload(_) => "switching auto-reload".into(),
            Command::SetClosureScan(_) => "switching the closure scan".into(),
            Command::SetWholeReloads(_) => "switching whole-module reloads".into(),
            Command::ListModules => "listing modules".into(),
            Command::Inspect(module) => format!("inspecting {module}"),
            Command::SetPolicy { module, .. } => format!("saving the policy of {module}"),
            Command::Propagate { module, .. } => format!("propagating {module}"),
            Command::Hotfix { module, .. } => format!("running a hotfix in {module}"),
            Command::Shutdown => "shutting down".into(),
        }
    }
}

/// Which output stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What the runtime tells the UI.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// The interpreter is up and the script started.
    Started {
        python_version: String,
        roots: Vec<PathBuf>,
        script: PathBuf,
    },
    /// The interpreter or the script could not start (the worker then stops).
    StartFailed(String),
    Modules(Vec<ModuleInfo>),
    /// Files of tracked modules changed on disk.
    FilesChanged {
        modules: Vec<ModuleName>,
        paths: Vec<PathBuf>,
    },
    /// A reload was queued for the script's next safe point.
    ReloadQueued {
        module: ModuleName,
    },
    ReloadFinished(ReloadReport),
    /// A hotfix snippet ran (or could not): its value, output, exception and what it changed.
    HotfixFinished(HotfixReport),
    /// The reloaded module's source before and after an applied reload (follows its report).
    ReloadSources {
        id: u64,
        old: Option<String>,
        new: Option<String>,
    },
    /// A reload could not start (unknown module, not reloadable, bad overrides).
    ReloadRefused {
        module: ModuleName,
        reason: String,
    },
    Propagated {
        module: ModuleName,
        count: usize,
    },
    AutoReload(bool),
    /// The closure scan setting in force.
    ClosureScan(bool),
    /// The whole-module reload setting in force (`Command::SetWholeReloads`).
    WholeReloads(bool),
    Attributes {
        module: ModuleName,
        attrs: Vec<AttrInfo>,
    },
    /// The data policy in force (at start and after each change); `error` when the file on disk
    /// is malformed (it is then not written).
    Policy {
        policy: Policy,
        path: PathBuf,
        error: Option<String>,
    },
    Output {
        stream: Stream,
        text: String,
    },
    ScriptExited {
        code: i32,
    },
    /// Something went wrong in the app itself (watch failed, ...), not in a reload.
    Problem(String),
    /// The worker thread crashed (a bug in swapscope): no more events will come and commands go
    /// nowhere. The reason is for the user.
    WorkerDied(String),
    /// To a client that connected to a running program (attach mode): the events before this
    /// one were the program's state and history so far; live events follow.
    Replayed,
    /// Made by a client, not an agent: the connection to the attached program ended (it exited,
    /// was killed, or closed the connection). No more events will come; the reason is for the
    /// user.
    Disconnected(String),
    /// Saves of a module's file whose text its last reload had already read (they landed while
    /// that reload waited or ran): they belong to that reload (the history adds them to it).
    SavesApplied {
        module: ModuleName,
        saves: u32,
    },
}

/// A changed source file and how many saves of it the batch holds (a close after writing, a
/// rename into place; 0 for a change without a save, such as a deletion).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChangedFile {
    pub path: PathBuf,
    pub saves: u32,
}

impl From<PathBuf> for ChangedFile {
    /// A change whose saves are not known (0).
    fn from(path: PathBuf) -> Self {
        ChangedFile { path, saves: 0 }
    }
}
