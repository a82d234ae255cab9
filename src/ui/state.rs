//! Everything the window shows, built only from runtime `Event`s (plain data, no Python).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::time::SystemTime;

use crate::policy::Policy;
use crate::protocol::{AttrInfo, Group, ModuleInfo, Override, ReloadReport};
use crate::protocol::{Event, Stream};

/// How many console lines are kept.
pub const CONSOLE_LINES: usize = 5000;
/// Reloads kept in the history; older ones are dropped (and counted), so a long session with
/// auto-reload does not grow without bound.
pub const HISTORY_LEN: usize = 2000;
/// Reloads whose old and new source text are kept for diffs (the newest ones).
pub const SOURCES_KEPT: usize = 50;
/// Notifications kept (the window shows the newest three).
pub const NOTIFICATIONS_KEPT: usize = 100;

/// The user's script, as the status bar shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScriptState {
    Starting,
    Running,
    Exited(i32),
    FailedToStart(String),
}

/// One reload in the history.
#[derive(Clone, Debug)]
pub struct HistoryEntry {
    pub report: ReloadReport,
    pub at: SystemTime,
    pub old_source: Option<String>,
    pub new_source: Option<String>,
}

/// A problem of the app itself (not of a reload).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub text: String,
    pub at: SystemTime,
}

/// The whole state of the inspector.
#[derive(Debug)]
pub struct UiState {
    pub python_version: Option<String>,
    pub script: Option<PathBuf>,
    pub roots: Vec<PathBuf>,
    pub script_state: ScriptState,
    /// False once the worker's channel disconnected.
    pub worker_alive: bool,
    pub modules: Vec<ModuleInfo>,
    /// Tracked modules whose file changed since their last load or reload.
    pub changed: BTreeSet<String>,
    pub selected: Option<String>,
    pub filter: String,
    /// Groups shown expanded in the modules panel.
    pub expanded: BTreeSet<Group>,
    /// Live attribute snapshots, by module.
    pub attrs: HashMap<String, Vec<AttrInfo>>,
    /// The latest dry-run report of a changed module: what a reload would do.
    pub previews: HashMap<String, ReloadReport>,
    pub history: Vec<HistoryEntry>,
    /// Reloads dropped from the front of `history` (see `HISTORY_LEN`).
    pub history_dropped: usize,
    pub selected_report: Option<u64>,
    pub console: VecDeque<(Stream, String)>,
    pub notifications: Vec<Notification>,
    pub auto_reload: bool,
    /// Reloads also update closures made before them (a heap scan).
    pub closure_scan: bool,
    /// Modules with a reload requested and not finished.
    pub busy: BTreeSet<String>,
    pub policy: Policy,
    pub policy_path: Option<PathBuf>,
    pub policy_error: Option<String>,
}

impl Default for UiState {
    fn default() -> Self {
        UiState {
            python_version: None,
            script: None,
            roots: Vec::new(),
            script_state: ScriptState::Starting,
            worker_alive: true,
            modules: Vec::new(),
            changed: BTreeSet::new(),
            selected: None,
            filter: String::new(),
            expanded: [Group::Project].into_iter().collect(),
            attrs: HashMap::new(),
            previews: HashMap::new(),
            history: Vec::new(),
            history_dropped: 0,
            selected_report: None,
            console: VecDeque::new(),
            notifications: Vec::new(),
            auto_reload: false,
            closure_scan: false,
            busy: BTreeSet::new(),
            policy: Policy::default(),
            policy_path: None,
            policy_error: None,
        }
    }
}

impl UiState {
    /// Folds one event into the state.
    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Started {
                python_version,
                roots,
                script,
            } => {
                self.python_version = Some(python_version);
                self.roots = roots;
                self.script = Some(script);
                self.script_state = ScriptState::Running;
            }
            Event::StartFailed(message) => {
                self.notify(format!("could not start: {message}"));
                self.script_state = ScriptState::FailedToStart(message);
            }
            Event::Modules(list) => {
                for m in &list {
                    if m.changed_on_disk {
                        self.changed.insert(m.name.clone());
                    }
                }
                if self.selected.is_none() {
                    self.selected = list
                        .iter()
                        .find(|m| m.group == Group::Project)
                        .map(|m| m.name.clone());
                }
                self.modules = list;
            }
            Event::FilesChanged { modules, .. } => {
                for m in modules {
                    self.previews.remove(&m.0);
                    self.changed.insert(m.0);
                }
            }
            Event::ReloadQueued { module } => {
                self.busy.insert(module.0);
            }
            Event::ReloadFinished(report) => self.finish(report),
            Event::ReloadSources { id, old, new } => {
                if let Some(h) = self.history.iter_mut().rev().find(|h| h.report.id == id) {
                    h.old_source = old;
                    h.new_source = new;
                }
                // Older diffs go: a source can be megabytes, and a session thousands of reloads.
                let with_sources = self
                    .history
                    .iter()
                    .filter(|h| h.new_source.is_some())
                    .count();
                let mut excess = with_sources.saturating_sub(SOURCES_KEPT);
                for h in &mut self.history {
                    if excess == 0 {
                        break;
                    }
                    if h.new_source.is_some() {
                        h.old_source = None;
                        h.new_source = None;
                        excess -= 1;
                    }
                }
            }
            Event::ReloadRefused { module, reason } => {
                self.busy.remove(&module.0);
                self.notify(reason);
            }
            Event::Propagated { module, count } => {
                self.notify(format!(
                    "propagated {count} stale copies of {module}'s values"
                ));
            }
            Event::Output { stream, text } => self.push_output(stream, &text),
            Event::ScriptExited { code } => self.script_state = ScriptState::Exited(code),
            Event::Problem(text) => self.notify(text),
            Event::SavesApplied { module, saves } => {
                if let Some(h) = self
                    .history
                    .iter_mut()
                    .rev()
                    .find(|h| h.report.module == module.0)
                {
                    h.report.saves += saves;
                }
            }
            Event::WorkerDied(reason) => {
                self.notify(reason);
                self.worker_died();
            }
            Event::AutoReload(on) => self.auto_reload = on,
            Event::ClosureScan(on) => self.closure_scan = on,
            Event::Replayed => {}
            Event::Disconnected(reason) => {
                self.notify(reason);
                self.worker_alive = false;
            }
            Event::Attributes { module, attrs } => {
                self.attrs.insert(module.0, attrs);
            }
            Event::Policy {
                policy,
                path,
                error,
            } => {
                // What a dry run said depends on the policy: a new one makes it stale (the app
                // asks for a new one), and a stale preview must not be shown as what Reload does.
                self.previews.clear();
                self.policy = policy;
                self.policy_path = Some(path);
                self.policy_error = error;
            }
        }
    }

    fn finish(&mut self, report: ReloadReport) {
        self.busy.remove(&report.module);
        if report.dry_run {
            self.previews.insert(report.module.clone(), report);
            return;
        }
        if report.outcome == crate::protocol::Outcome::Applied {
            self.changed.remove(&report.module);
            self.previews.remove(&report.module);
        }
        if let Some(m) = self.modules.iter_mut().find(|m| m.name == report.module) {
            m.last_outcome = Some(report.outcome);
            if report.outcome == crate::protocol::Outcome::Applied {
                m.changed_on_disk = false;
            }
        }
        self.selected_report = Some(report.id);
        self.history.push(HistoryEntry {
            report,
            at: SystemTime::now(),
            old_source: None,
            new_source: None,
        });
        if self.history.len() > HISTORY_LEN {
            let excess = self.history.len() - HISTORY_LEN;
            self.history.drain(..excess);
            self.history_dropped += excess;
        }
    }

    fn push_output(&mut self, stream: Stream, text: &str) {
        // Append to the last line of the same stream until a newline ends it.
        let mut rest = text;
        while !rest.is_empty() {
            let (piece, tail) = match rest.find('\n') {
                Some(i) => (&rest[..=i], &rest[i + 1..]),
                None => (rest, ""),
            };
            match self.console.back_mut() {
                Some((s, line)) if *s == stream && !line.ends_with('\n') => line.push_str(piece),
                _ => self.console.push_back((stream, piece.to_string())),
            }
            rest = tail;
        }
        while self.console.len() > CONSOLE_LINES {
            self.console.pop_front();
        }
    }

    pub fn notify(&mut self, text: String) {
        self.notifications.push(Notification {
            text,
            at: SystemTime::now(),
        });
        if self.notifications.len() > NOTIFICATIONS_KEPT {
            self.notifications.remove(0);
        }
    }

    /// The worker's channel closed: say so, once.
    pub fn worker_died(&mut self) {
        if self.worker_alive {
            self.worker_alive = false;
            self.notify(
                "the Python worker stopped: reloads are no longer possible; restart swapscope"
                    .into(),
            );
        }
    }

    pub fn module(&self, name: &str) -> Option<&ModuleInfo> {
        self.modules.iter().find(|m| m.name == name)
    }

    /// Modules grouped for the modules panel, filtered by `filter` (case-insensitive substring).
    pub fn grouped(&self) -> BTreeMap<Group, Vec<&ModuleInfo>> {
        let needle = self.filter.to_lowercase();
        let mut out: BTreeMap<Group, Vec<&ModuleInfo>> = BTreeMap::new();
        for m in &self.modules {
            if needle.is_empty() || m.name.to_lowercase().contains(&needle) {
                out.entry(m.group).or_default().push(m);
            }
        }
        out
    }

    pub fn report(&self, id: u64) -> Option<&HistoryEntry> {
        self.history.iter().find(|h| h.report.id == id)
    }

    /// The last (real) reload of `module`, if any.
    pub fn last_reload(&self, module: &str) -> Option<&ReloadReport> {
        self.history
            .iter()
            .rev()
            .map(|h| &h.report)
            .find(|r| r.module == module)
    }

    pub fn choice(&self, module: &str, qualname: &str) -> Override {
        self.policy.get(module, qualname)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Outcome;

    fn report(id: u64) -> ReloadReport {
        ReloadReport {
            id,
            module: "balance".into(),
            file: "/game/balance.py".into(),
            outcome: Outcome::Applied,
            error: None,
            duration_ms: 1.0,
            dry_run: false,
            saves: 1,
            changes: Vec::new(),
            stale_refs: Vec::new(),
        }
    }

    #[test]
    fn saves_applied_late_are_added_to_the_modules_last_reload() {
        let mut s = UiState::default();
        s.apply(Event::ReloadFinished(report(1)));
        let mut other = report(2);
        other.module = "players".into();
        s.apply(Event::ReloadFinished(other));
        s.apply(Event::SavesApplied {
            module: crate::protocol::ModuleName("balance".into()),
            saves: 2,
        });
        assert_eq!(s.history[0].report.saves, 3);
        assert_eq!(s.history[1].report.saves, 1);
        assert!(s.history[0].report.summary().contains("(3 saves)"));
    }

    #[test]
    fn a_long_session_keeps_history_sources_and_notifications_bounded() {
        let mut s = UiState::default();
        let total = HISTORY_LEN + 150;
        for id in 1..=total as u64 {
            s.apply(Event::ReloadFinished(report(id)));
            s.apply(Event::ReloadSources {
                id,
                old: Some("X = 1\n".into()),
                new: Some("X = 2\n".into()),
            });
            s.apply(Event::Problem(format!("problem {id}")));
        }
        assert_eq!(s.history.len(), HISTORY_LEN);
        assert_eq!(s.history_dropped, 150);
        assert_eq!(s.history.last().map(|h| h.report.id), Some(total as u64));
        let with_sources: Vec<u64> = s
            .history
            .iter()
            .filter(|h| h.new_source.is_some())
            .map(|h| h.report.id)
            .collect();
        assert_eq!(with_sources.len(), SOURCES_KEPT);
        assert_eq!(with_sources.first(), Some(&(total as u64 - 49)));
        assert_eq!(s.notifications.len(), NOTIFICATIONS_KEPT);
        assert_eq!(
            s.notifications.last().map(|n| n.text.as_str()),
            Some(format!("problem {total}").as_str())
        );
    }
}
