//! Everything the window shows, built only from runtime `Event`s (plain data, no Python).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::time::SystemTime;

use crate::policy::Policy;
use crate::protocol::{AttrInfo, Group, Hotfix, HotfixReport, ModuleInfo, Override, ReloadReport};
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
    /// The reload's place in this session's history (1, 2, 3 …), as the window shows it. The
    /// report's own `id` is not shown: the runtime numbers dry runs from the same counter, and
    /// the window dry-runs every changed module it shows, so ids skip (#2, #4, #6).
    pub number: u64,
    pub at: SystemTime,
    /// How many stale copies a Propagate from this report updated, once it succeeded.
    pub propagated: Option<usize>,
    pub old_source: Option<String>,
    pub new_source: Option<String>,
    /// Set for a hotfix (a snippet run from the hotfix console), not a reload: the snippet, its
    /// output and value. Its `report` then lists the names it changed.
    pub hotfix: Option<Hotfix>,
}

/// A banner: a problem of the app itself (not of a reload), or the news that something the
/// user asked for worked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub text: String,
    pub at: SystemTime,
    pub level: Level,
}

/// What a banner tells, which decides its colour and whether it stacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Something went wrong: kept until dismissed, each one its own banner.
    Problem,
    /// Something asked for worked: only the newest is kept, so repeating it does not stack.
    Success,
}

/// The whole state of the inspector.
#[derive(Debug)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent switches of the window, each set by its own event or button"
)]
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
    /// Packages of the modules tree the user opened or closed, by group: project packages start
    /// open (they are what a designer edits), the others closed (site-packages can hold
    /// thousands of modules). See `modules::package_open`.
    pub toggled_packages: BTreeMap<Group, BTreeSet<String>>,
    /// Live attribute snapshots, by module.
    pub attrs: HashMap<String, Vec<AttrInfo>>,
    /// The latest dry-run report of a changed module: what a reload would do.
    pub previews: HashMap<String, ReloadReport>,
    pub history: Vec<HistoryEntry>,
    /// Reloads dropped from the front of `history` (see `HISTORY_LEN`).
    pub history_dropped: usize,
    pub selected_report: Option<u64>,
    /// The report panel shows each new reload as it lands. False once the user picked an older
    /// report: an auto-reload must not take the panel away from the one being read (see
    /// `select_report`).
    pub follow_newest: bool,
    pub console: VecDeque<(Stream, String)>,
    pub notifications: Vec<Notification>,
    pub auto_reload: bool,
    /// Reloads also update closures made before them (a heap scan).
    pub closure_scan: bool,
    /// Reloads run whole module bodies (no incremental reload).
    pub whole_reloads: bool,
    /// Modules with a reload requested and not finished.
    pub busy: BTreeSet<String>,
    pub policy: Policy,
    pub policy_path: Option<PathBuf>,
    pub policy_error: Option<String>,
    /// Per module, how many earlier versions an undo can put back.
    pub undo: HashMap<String, usize>,
    /// A module whose reload waits for "reload anyway?" (its dry run said it breaks others).
    pub confirm_reload: Option<String>,
    /// The window started the script (embedded, or `--python`), so it can start it again;
    /// attached to a program someone else started, it cannot.
    pub can_restart: bool,
    /// The user asked for a restart: the window closes and swapscope starts again.
    pub restart_requested: bool,
    /// The selection is the window's stand-in (`__main__` before the project's modules were
    /// imported), to be replaced by the first project module; false once the user chose.
    pub auto_selected: bool,
    /// Numbers of the selected module recorded over time, and the one plotted.
    pub plots: super::plot::Plots,
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
            toggled_packages: BTreeMap::new(),
            attrs: HashMap::new(),
            previews: HashMap::new(),
            history: Vec::new(),
            history_dropped: 0,
            selected_report: None,
            follow_newest: true,
            console: VecDeque::new(),
            notifications: Vec::new(),
            auto_reload: false,
            closure_scan: false,
            whole_reloads: false,
            busy: BTreeSet::new(),
            policy: Policy::default(),
            policy_path: None,
            policy_error: None,
            undo: HashMap::new(),
            confirm_reload: None,
            can_restart: false,
            restart_requested: false,
            auto_selected: false,
            plots: super::plot::Plots::default(),
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
            Event::Modules(mut list) => {
                // Sorted here, once, in the order the modules panel's tree needs.
                list.sort_by(|a, b| super::modules::tree_order(&a.name, &b.name));
                for m in &list {
                    if m.changed_on_disk {
                        self.changed.insert(m.name.clone());
                    }
                }
                // The first module a designer would edit: a project module other than the
                // script itself (the list may hold only `__main__` while the script starts).
                if self.selected.is_none() || self.auto_selected {
                    let editable = |m: &&ModuleInfo| m.group == Group::Project;
                    let pick = list
                        .iter()
                        .filter(editable)
                        .find(|m| m.name != "__main__")
                        .or_else(|| list.iter().find(editable));
                    if let Some(m) = pick {
                        self.selected = Some(m.name.clone());
                        self.auto_selected = m.name == "__main__";
                    }
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
            Event::HotfixFinished(HotfixReport { report, hotfix }) => {
                // Not a reload: the file, the undo steps and the module's outcome stay as they
                // were; it only joins the history.
                self.record(report, Some(hotfix));
            }
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
                // The newest report of the module that listed stale copies is the one the
                // button was on (a reload without stale copies has no button).
                if let Some(h) = self
                    .history
                    .iter_mut()
                    .rev()
                    .find(|h| h.report.module == module.0 && !h.report.stale_refs.is_empty())
                {
                    h.propagated = Some(count);
                }
                let copies = if count == 1 { "copy" } else { "copies" };
                self.notify_success(format!(
                    "propagated the new values of {module} to {count} stale {copies}"
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
                    .find(|h| h.report.module == module.0 && h.hotfix.is_none())
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
            Event::WholeReloads(on) => self.whole_reloads = on,
            Event::Replayed => {}
            Event::Disconnected(reason) => {
                self.notify(reason);
                self.worker_alive = false;
            }
            Event::Attributes { module, attrs } => {
                self.plots.sample(&module.0, &attrs, SystemTime::now());
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

    /// The changed modules a reload can reach (not `__main__`, not untracked ones).
    pub fn reloadable_changed(&self) -> Vec<String> {
        self.changed
            .iter()
            .filter(|name| {
                self.module(name)
                    .is_some_and(|m| m.group == Group::Project && m.name != "__main__")
            })
            .cloned()
            .collect()
    }

    /// Whether the project's own modules (other than the script) are listed yet.
    pub fn project_listed(&self) -> bool {
        self.modules
            .iter()
            .any(|m| m.group == Group::Project && m.name != "__main__")
    }

    /// How many earlier versions of `module` an undo can put back.
    pub fn undo_steps(&self, module: &str) -> usize {
        self.undo.get(module).copied().unwrap_or(0)
    }

    fn finish(&mut self, report: ReloadReport) {
        self.busy.remove(&report.module);
        if report.dry_run {
            // A dry run that lands after the module was reloaded (by another client, or a
            // reload that overtook it) describes a change no longer pending: not shown.
            if self.changed.contains(&report.module) {
                self.previews.insert(report.module.clone(), report);
            }
            return;
        }
        if report.outcome == crate::protocol::Outcome::Applied {
            // What an undo can put back, as the runtime counts it (see `UNDO_STEPS`).
            let steps = self.undo.entry(report.module.clone()).or_default();
            *steps = if report.undo {
                steps.saturating_sub(1)
            } else {
                (*steps + 1).min(crate::protocol::UNDO_STEPS)
            };
            // An undo runs an earlier text: the file on disk is now the newer one, a change
            // that a Reload brings back.
            if report.undo {
                self.changed.insert(report.module.clone());
            } else {
                self.changed.remove(&report.module);
            }
            self.previews.remove(&report.module);
        }
        if let Some(m) = self.modules.iter_mut().find(|m| m.name == report.module) {
            m.last_outcome = Some(report.outcome);
            if report.outcome == crate::protocol::Outcome::Applied {
                m.changed_on_disk = report.undo;
            }
        }
        self.record(report, None);
    }

    /// Adds a reload (or a hotfix) to the history, numbered, and shows it if the report panel
    /// follows the newest.
    fn record(&mut self, report: ReloadReport, hotfix: Option<Hotfix>) {
        // A selection that left the history (dropped as too old) follows again.
        if self.follow_newest
            || self
                .selected_report
                .and_then(|id| self.report(id))
                .is_none()
        {
            self.follow_newest = true;
            self.selected_report = Some(report.id);
        }
        // Counted here, not taken from the report: dry runs never reach the history.
        let number = (self.history_dropped + self.history.len()) as u64 + 1;
        self.history.push(HistoryEntry {
            report,
            number,
            at: SystemTime::now(),
            propagated: None,
            old_source: None,
            new_source: None,
            hotfix,
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

    /// Shows a problem as a banner (they stack until dismissed).
    pub fn notify(&mut self, text: String) {
        self.push_notification(text, Level::Problem);
    }

    /// Shows that something the user asked for worked. It replaces the previous success
    /// banner: a second Propagate is news that replaces the first, not a second banner.
    pub fn notify_success(&mut self, text: String) {
        self.notifications.retain(|n| n.level != Level::Success);
        self.push_notification(text, Level::Success);
    }

    fn push_notification(&mut self, text: String, level: Level) {
        self.notifications.push(Notification {
            text,
            at: SystemTime::now(),
            level,
        });
        if self.notifications.len() > NOTIFICATIONS_KEPT {
            self.notifications.remove(0);
        }
    }

    /// The user picked a report in the history. Picking an older one pins the panel to it (new
    /// reloads are listed but not shown); picking the newest follows each new one again.
    pub fn select_report(&mut self, id: u64) {
        self.selected_report = Some(id);
        self.follow_newest = self.history.last().is_some_and(|h| h.report.id == id);
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

    /// The module of that name: a binary search in the list as `Event::Modules` leaves it (in
    /// tree order; the toolbar asks for every changed module every frame, among 10,000), else a
    /// scan (a list set directly, in tests).
    pub fn module(&self, name: &str) -> Option<&ModuleInfo> {
        let order = |m: &ModuleInfo| super::modules::tree_order(&m.name, name);
        match self.modules.binary_search_by(order) {
            Ok(i) => self.modules.get(i),
            Err(_) => self.modules.iter().find(|m| m.name == name),
        }
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

    /// The last (real) reload of `module`, if any (hotfixes are not reloads).
    pub fn last_reload(&self, module: &str) -> Option<&ReloadReport> {
        self.history
            .iter()
            .rev()
            .filter(|h| h.hotfix.is_none())
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
            undo: false,
            mode: crate::protocol::Mode::default(),
            mode_note: String::new(),
            changes: Vec::new(),
            stale_refs: Vec::new(),
        }
    }

    /// A dry run is shown only while its module's change is pending: one that lands after the
    /// module was reloaded (by another client) would say "would" about nothing.
    #[test]
    fn a_dry_run_for_a_module_no_longer_changed_is_not_shown() {
        let mut s = UiState::default();
        let mut dry = report(1);
        dry.dry_run = true;
        s.apply(Event::ReloadFinished(dry.clone()));
        assert!(s.previews.is_empty(), "balance has no pending change");
        s.changed.insert("balance".into());
        s.apply(Event::ReloadFinished(dry));
        assert!(s.previews.contains_key("balance"));
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
