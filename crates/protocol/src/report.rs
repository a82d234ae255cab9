//! The reload report: one shape for Rust, JSON and the Python dict (DESIGN.md "Report").
//!
//! Plain data only; no pyo3 here, so the runtime and the UI can use it without Python.

use serde::{Deserialize, Serialize};

/// How a reload ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The new code is in place (some entries may still say `replaced` or `not_applied`).
    Applied,
    /// The new source could not be read, decoded or compiled; the module was not touched.
    Failed,
    /// The module body raised; the namespace was restored to exactly the old mapping.
    RolledBack,
    /// A class cannot take the change in place (bases, `__slots__`, metaclass, layout); the module
    /// was restored exactly, as on a failure.
    Incompatible,
}

/// What kind of attribute an entry describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Function,
    Class,
    Method,
    Classmethod,
    Staticmethod,
    Property,
    Data,
    Module,
    Other,
}

/// What the reload did (or, in a dry run, would do) with an attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    CodeSwapped,
    ClassPatched,
    Added,
    Removed,
    KeptLive,
    TookNew,
    ConflictTookNew,
    ConflictKeptLive,
    Replaced,
    NotApplied,
    Unchanged,
}

/// The `snake_case` names serde gives the variants, without going through serde (the Python API
/// builds thousands of dicts per reload).
macro_rules! names {
    ($ty:ty { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$(<$ty>::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(<$ty>::$variant => $name),*
                }
            }
        }
    };
}

names!(Outcome { Applied => "applied", Failed => "failed", RolledBack => "rolled_back", Incompatible => "incompatible" });
names!(Kind {
    Function => "function", Class => "class", Method => "method", Classmethod => "classmethod",
    Staticmethod => "staticmethod", Property => "property", Data => "data", Module => "module",
    Other => "other",
});
names!(Action {
    CodeSwapped => "code_swapped", ClassPatched => "class_patched", Added => "added",
    Removed => "removed", KeptLive => "kept_live", TookNew => "took_new",
    ConflictTookNew => "conflict_took_new", ConflictKeptLive => "conflict_kept_live",
    Replaced => "replaced", NotApplied => "not_applied", Unchanged => "unchanged",
});

impl Action {
    /// True for the two conflict actions: the source and the live value both moved.
    pub fn is_conflict(self) -> bool {
        matches!(self, Action::ConflictTookNew | Action::ConflictKeptLive)
    }
}

/// Where and why a reload failed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    pub file: String,
    pub line: Option<u32>,
    pub col: Option<u32>,
    pub message: String,
    /// The offending source line, when known.
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub traceback: String,
}

/// One attribute's fate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The attribute's own name (`fire`).
    pub name: String,
    /// Its path from the module (`Player.fire`, `make_counter::n` for a closure cell).
    pub qualname: String,
    pub kind: Kind,
    pub action: Action,
    /// Short repr of the value before the reload (empty when there was none).
    pub old: String,
    /// Short repr of the value the new source produced (empty when there is none).
    pub new: String,
    /// Why, when the action needs a reason (replaced, not applied, conflicts, overrides).
    #[serde(default)]
    pub note: String,
}

/// Another tracked module still holding an object this reload replaced
/// (`from balance import DAMAGE` in `players`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleRef {
    /// The module holding the stale copy.
    pub module: String,
    /// The global name there.
    pub name: String,
    /// The attribute of the reloaded module it copied.
    pub source: String,
    /// Short repr of the stale value it holds.
    pub value: String,
}

/// How a report's note starts the list of places that still read a removed name (`players.py:12,
/// ...`): the engine writes it, [`ReloadReport::hazards`] reads it.
pub const STILL_USED: &str = "still used: ";

/// Everything one reload did, in DESIGN.md's shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReloadReport {
    pub id: u64,
    pub module: String,
    pub file: String,
    pub outcome: Outcome,
    pub error: Option<ErrorInfo>,
    pub duration_ms: f64,
    /// True when nothing was changed because the caller asked for a dry run.
    #[serde(default)]
    pub dry_run: bool,
    /// How many saves of the file this reload applied: saves made while a reload was queued or
    /// running are coalesced into the next one. 0 when no save triggered it (a button, an API
    /// call, a deleted file).
    #[serde(default)]
    pub saves: u32,
    /// True when this reload put back the version before the last one (an undo), not the file.
    #[serde(default)]
    pub undo: bool,
    /// Whether only the statements that changed (and those depending on them) ran, or the
    /// whole module body.
    #[serde(default)]
    pub mode: Mode,
    /// For an incremental reload, how many statements ran; for a full one, why it was full.
    #[serde(default)]
    pub mode_note: String,
    pub changes: Vec<Change>,
    pub stale_refs: Vec<StaleRef>,
}

/// How a reload ran the new source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The whole module body ran.
    #[default]
    Full,
    /// Only the top-level statements that changed, and those that depend on them, ran.
    Incremental,
}

/// Per-action totals, as the history row shows them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub swapped: usize,
    pub patched: usize,
    pub kept: usize,
    pub taken: usize,
    pub added: usize,
    pub removed: usize,
    pub replaced: usize,
    pub not_applied: usize,
    pub conflicts: usize,
    pub unchanged: usize,
}

impl ReloadReport {
    /// Totals of the entries by action.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for ch in &self.changes {
            match ch.action {
                Action::CodeSwapped => c.swapped += 1,
                Action::ClassPatched => c.patched += 1,
                Action::KeptLive | Action::ConflictKeptLive => c.kept += 1,
                Action::TookNew | Action::ConflictTookNew => c.taken += 1,
                Action::Added => c.added += 1,
                Action::Removed => c.removed += 1,
                Action::Replaced => c.replaced += 1,
                Action::NotApplied => c.not_applied += 1,
                Action::Unchanged => c.unchanged += 1,
            }
            if ch.action.is_conflict() {
                c.conflicts += 1;
            }
        }
        c
    }

    /// The entry for `qualname`, if the report has one.
    pub fn change(&self, qualname: &str) -> Option<&Change> {
        self.changes.iter().find(|c| c.qualname == qualname)
    }

    /// Names this reload removes (or would remove) while other tracked modules still read them:
    /// the game dies with `AttributeError` at the next read. Each with where it is still used.
    pub fn hazards(&self) -> Vec<(&str, &str)> {
        self.changes
            .iter()
            .filter(|c| c.action == Action::Removed)
            .filter_map(|c| {
                let at = c.note.find(STILL_USED)?;
                let rest = &c.note[at + STILL_USED.len()..];
                let places = rest.split(';').next().unwrap_or(rest);
                Some((c.qualname.as_str(), places))
            })
            .collect()
    }

    /// One line for a log or a status bar: `reloaded "balance": 2 taken, 1 kept (3.1 ms)`.
    pub fn summary(&self) -> String {
        let saves = if self.saves > 1 {
            format!(" ({} saves)", self.saves)
        } else {
            String::new()
        };
        match (&self.outcome, &self.error) {
            (Outcome::Applied, _) => {
                let c = self.counts();
                let mut parts = Vec::new();
                for (n, label) in [
                    (c.swapped, "swapped"),
                    (c.patched, "patched"),
                    (c.taken, "taken"),
                    (c.kept, "kept"),
                    (c.added, "added"),
                    (c.removed, "removed"),
                    (c.replaced, "replaced"),
                    (c.not_applied, "not applied"),
                    (c.conflicts, "conflicts"),
                ] {
                    if n > 0 {
                        parts.push(format!("{n} {label}"));
                    }
                }
                if parts.is_empty() {
                    parts.push("no changes".into());
                }
                let verb = if self.dry_run {
                    "would reload"
                } else if self.undo {
                    "put back the previous version of"
                } else {
                    "reloaded"
                };
                format!(
                    "{verb} {:?}{saves}: {} ({:.1} ms)",
                    self.module,
                    parts.join(", "),
                    self.duration_ms
                )
            }
            (outcome, error) => {
                let what = match outcome {
                    Outcome::Failed => "failed to reload",
                    Outcome::RolledBack => "rolled back reload of",
                    _ => "refused reload of",
                };
                let detail = error.as_ref().map_or_else(String::new, |e| {
                    let place = match e.line {
                        Some(line) => format!("{}:{line}", short_path(&e.file)),
                        None => short_path(&e.file).to_string(),
                    };
                    format!(": {} ({place})", e.message)
                });
                format!(
                    "{what} {:?}{saves}{detail}; the module keeps its old code",
                    self.module
                )
            }
        }
    }
}

/// What a hotfix snippet said beyond what its report's changes and error say: the snippet, what
/// it printed, and the value of its last line when that was an expression (as a Python console
/// shows it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hotfix {
    pub code: String,
    /// Its stdout and stderr, interleaved as written (cut at a limit the engine names).
    #[serde(default)]
    pub output: String,
    /// `repr()` of the last line's value, when the last line is an expression that is not
    /// `None`.
    #[serde(default)]
    pub value: Option<String>,
}

/// One hotfix: a report in the reload history's shape, so the history lists it among the
/// reloads (`outcome` applied, `rolled_back` when it raised, `failed` when it did not compile
/// or the module is not loaded; `changes` are the module's names it added, rebound, removed or
/// changed in place), and the snippet's own results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HotfixReport {
    pub report: ReloadReport,
    pub hotfix: Hotfix,
}

impl HotfixReport {
    /// One line for a log or a status bar: `hotfix in "balance": DAMAGE 10 → 14 (0.2 ms)`.
    pub fn summary(&self) -> String {
        let r = &self.report;
        if let Some(e) = &r.error {
            let place = e.line.map_or_else(String::new, |l| format!(" (line {l})"));
            let what = if r.outcome == Outcome::RolledBack {
                "the module's names were put back"
            } else {
                "nothing ran"
            };
            return format!(
                "hotfix in {:?} failed: {}{place}; {what}",
                r.module,
                e.message.lines().next().unwrap_or_default()
            );
        }
        let changed: Vec<String> = r
            .changes
            .iter()
            .take(3)
            .map(|c| match c.action {
                Action::Added => format!("{} added", c.qualname),
                Action::Removed => format!("{} removed", c.qualname),
                Action::CodeSwapped => format!("{} code swapped", c.qualname),
                _ => format!("{} {} → {}", c.qualname, c.old, c.new),
            })
            .collect();
        let more = r.changes.len().saturating_sub(changed.len());
        let what = match (changed.is_empty(), more) {
            (true, _) => "no names changed".to_string(),
            (false, 0) => changed.join(", "),
            (false, more) => format!("{} and {more} more", changed.join(", ")),
        };
        format!("hotfix in {:?}: {what} ({:.1} ms)", r.module, r.duration_ms)
    }
}

fn short_path(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_matches_serde() {
        let json = |v: &dyn erased::Ser| v.json();
        for o in Outcome::ALL {
            assert_eq!(json(o), format!("\"{}\"", o.as_str()));
        }
        for k in Kind::ALL {
            assert_eq!(json(k), format!("\"{}\"", k.as_str()));
        }
        for a in Action::ALL {
            assert_eq!(json(a), format!("\"{}\"", a.as_str()));
        }
    }

    #[test]
    fn summary_names_coalesced_saves_and_the_failure_place() {
        let mut r = ReloadReport {
            id: 1,
            module: "balance".into(),
            file: "/game/balance.py".into(),
            outcome: Outcome::Applied,
            error: None,
            duration_ms: 2.0,
            dry_run: false,
            saves: 3,
            undo: false,
            mode: Mode::default(),
            mode_note: String::new(),
            changes: Vec::new(),
            stale_refs: Vec::new(),
        };
        assert_eq!(
            r.summary(),
            "reloaded \"balance\" (3 saves): no changes (2.0 ms)"
        );
        r.saves = 1;
        r.outcome = Outcome::Failed;
        r.error = Some(ErrorInfo {
            file: r.file.clone(),
            line: Some(4),
            message: "invalid syntax".into(),
            ..ErrorInfo::default()
        });
        assert_eq!(
            r.summary(),
            "failed to reload \"balance\": invalid syntax (balance.py:4); the module keeps its \
             old code"
        );
    }

    /// A hotfix crosses the socket in attach mode: it survives JSON, and a report from an agent
    /// that does not send output or value yet still reads.
    #[test]
    fn hotfix_report_round_trips_and_summarises() {
        let h = HotfixReport {
            report: ReloadReport {
                id: 1 << 40,
                module: "balance".into(),
                file: "/game/balance.py".into(),
                outcome: Outcome::Applied,
                error: None,
                duration_ms: 0.25,
                dry_run: false,
                saves: 0,
                undo: false,
                mode: Mode::default(),
                mode_note: String::new(),
                changes: vec![Change {
                    name: "DAMAGE".into(),
                    qualname: "DAMAGE".into(),
                    kind: Kind::Data,
                    action: Action::TookNew,
                    old: "10".into(),
                    new: "14".into(),
                    note: String::new(),
                }],
                stale_refs: Vec::new(),
            },
            hotfix: Hotfix {
                code: "DAMAGE = 14".into(),
                output: String::new(),
                value: None,
            },
        };
        let json = serde_json::to_string(&h).expect("serialises");
        assert_eq!(
            serde_json::from_str::<HotfixReport>(&json).expect("parses"),
            h
        );
        let bare = json.replace(r#","output":"","value":null"#, "");
        assert_ne!(bare, json);
        assert_eq!(
            serde_json::from_str::<HotfixReport>(&bare).expect("parses"),
            h
        );
        assert_eq!(
            h.summary(),
            "hotfix in \"balance\": DAMAGE 10 → 14 (0.2 ms)"
        );
    }

    mod erased {
        pub trait Ser {
            fn json(&self) -> String;
        }
        impl<T: serde::Serialize> Ser for T {
            fn json(&self) -> String {
                serde_json::to_string(self).expect("serialises")
            }
        }
    }
}
