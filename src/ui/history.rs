//! The history of reloads and the report of the one selected: what each reload did, per
//! attribute and key path, with source diffs, failures and stale copies.

use std::time::{SystemTime, UNIX_EPOCH};

use egui::{RichText, Ui};

use super::UiCommand;
use super::source::{DiffLine, definition, diff};
use super::state::{HistoryEntry, UiState};
use super::theme;
use crate::protocol::{Action, Change, Kind, ReloadReport};
use crate::protocol::{Command, ModuleName};

/// The wall-clock time of `at` in a zone `utc_offset` seconds east of UTC, as `14:03:07`.
/// Pure (the zone is an argument) so that it can be tested in any zone.
pub fn clock(at: SystemTime, utc_offset: i64) -> String {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let of_day = (secs + utc_offset).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}",
        of_day / 3600,
        (of_day / 60) % 60,
        of_day % 60
    )
}

/// How many seconds east of UTC the local time zone is at `at` (summer time included), from
/// the C library (`TZ`, `/etc/localtime`), so the history shows the user's own clock. 0 (UTC)
/// when the C library cannot tell.
#[expect(
    unsafe_code,
    reason = "localtime_r is how to read the local time zone without a new dependency"
)]
pub fn local_offset(at: SystemTime) -> i64 {
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let Ok(t) = libc::time_t::try_from(secs) else {
        return 0;
    };
    // SAFETY: `libc::tm` is plain integers and one pointer, for which all zeroes (null) is a
    // valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r (the thread-safe variant) reads `t` and writes only into the `tm` it
    // is given; both outlive the call.
    let done = unsafe { libc::localtime_r(&raw const t, &raw mut tm) };
    if done.is_null() {
        return 0;
    }
    #[allow(
        clippy::useless_conversion,
        reason = "the same type on 64-bit targets, not on 32-bit ones"
    )]
    i64::from(tm.tm_gmtoff)
}

/// A value repr cut for a history row (the report panel shows it whole).
fn short(repr: &str) -> String {
    const MAX: usize = 24;
    if repr.chars().count() <= MAX {
        repr.to_string()
    } else {
        let cut: String = repr.chars().take(MAX - 1).collect();
        format!("{cut}…")
    }
}

/// The words for a value the reload kept: `kept 4.5 (source 3.0)`. "4.5 → 3.0" would read as a
/// change to 3.0, which is what did not happen. None for the other actions.
fn kept_text(c: &Change, value: impl Fn(&str) -> String) -> Option<String> {
    if !matches!(c.action, Action::KeptLive | Action::ConflictKeptLive) || c.old.is_empty() {
        return None;
    }
    Some(if c.new.is_empty() {
        format!("kept {}", value(&c.old))
    } else {
        format!("kept {} (source {})", value(&c.old), value(&c.new))
    })
}

/// One data entry in a history row: `DIFFICULTY 1.45 → 2.0`, `SPEED kept 4.5 (source 3.0)`.
fn data_text(c: &Change) -> String {
    let what = match c.action {
        Action::Added => "added".to_string(),
        Action::Removed => "removed".to_string(),
        // A conflict is counted at the end of the row.
        _ => {
            kept_text(c, short).unwrap_or_else(|| format!("{} → {}", short(&c.old), short(&c.new)))
        }
    };
    format!("{} {what}", c.qualname)
}

/// `1 function`, `2 functions`.
fn count(n: usize, one: &str, many: &str) -> Option<String> {
    match n {
        0 => None,
        1 => Some(format!("1 {one}")),
        n => Some(format!("{n} {many}")),
    }
}

/// What a reload changed, in a few words for its history row: the first two data values with
/// their old and new values, then how many functions, classes and other attributes changed,
/// and what could not be done (`DIFFICULTY 1.45 → 2.0, 1 function`). For a reload that did not
/// apply, why.
pub fn what_changed(r: &ReloadReport) -> String {
    if let Some(e) = &r.error {
        let message = e.message.lines().next().unwrap_or_default();
        return match e.line {
            Some(line) => format!("{message} (line {line})"),
            None => message.to_string(),
        };
    }
    let mut data = Vec::new();
    let (mut functions, mut classes, mut others) = (0, 0, 0);
    let (mut replaced, mut not_applied, mut conflicts) = (0, 0, 0);
    for c in &r.changes {
        if c.action.is_conflict() {
            conflicts += 1;
        }
        match (c.action, c.kind) {
            (Action::Unchanged, _) => {}
            (Action::NotApplied, _) => not_applied += 1,
            (Action::Replaced, _) => replaced += 1,
            (_, Kind::Data) => data.push(c),
            (_, Kind::Class) => classes += 1,
            (
                _,
                Kind::Function
                | Kind::Method
                | Kind::Classmethod
                | Kind::Staticmethod
                | Kind::Property,
            ) => functions += 1,
            (_, Kind::Module | Kind::Other) => others += 1,
        }
    }
    let mut parts: Vec<String> = data.iter().take(2).map(|c| data_text(c)).collect();
    parts.extend(count(
        data.len().saturating_sub(2),
        "more value",
        "more values",
    ));
    parts.extend(count(functions, "function", "functions"));
    parts.extend(count(classes, "class", "classes"));
    parts.extend(count(others, "other attribute", "other attributes"));
    parts.extend(count(replaced, "replaced", "replaced"));
    parts.extend(count(not_applied, "not applied", "not applied"));
    parts.extend(count(conflicts, "conflict", "conflicts"));
    if parts.is_empty() {
        "no changes".into()
    } else {
        parts.join(", ")
    }
}

/// A history row: `#3  14:03:07  balance  applied  DIFFICULTY 1.45 → 2.0 · 3 saves · 1.2 ms`.
fn row_text(h: &HistoryEntry) -> String {
    if let Some(hotfix) = &h.hotfix {
        return super::hotfix::row_text(h, hotfix);
    }
    let r = &h.report;
    let saves = if r.saves > 1 {
        format!(" · {} saves", r.saves)
    } else {
        String::new()
    };
    // An undo is a reload of an earlier text: said first, it is not read as the file's edit.
    let undo = if r.undo { "undo: " } else { "" };
    format!(
        "#{}  {}  {undo}{}  {}  {}{saves} · {:.1} ms",
        h.number,
        clock(h.at, local_offset(h.at)),
        r.module,
        theme::outcome_label(r.outcome),
        what_changed(r),
        r.duration_ms
    )
}

/// Every reload, newest first: number, local time, module, outcome, what changed, saves and
/// duration. A click shows its report (and pins the panel to it, see `UiState::select_report`).
pub fn history_ui(ui: &mut Ui, state: &UiState, commands: &mut Vec<UiCommand>) {
    ui.heading("History");
    if state.history.is_empty() {
        ui.label(
            RichText::new("No reloads yet. Edit a file and click Reload.")
                .color(theme::muted(ui.visuals())),
        );
        return;
    }
    if state.history_dropped > 0 {
        ui.label(
            RichText::new(format!(
                "{} older reloads not kept (the newest {} are)",
                state.history_dropped,
                state.history.len()
            ))
            .color(theme::muted(ui.visuals())),
        );
    }
    // Pinned to an older report: newer reloads are listed, and one click goes back to them.
    if let Some(newest) = state.history.last()
        && state
            .selected_report
            .is_some_and(|id| id != newest.report.id)
        && ui
            .button(format!("Show the newest reload (#{})", newest.number))
            .clicked()
    {
        commands.push(UiCommand::SelectReport(newest.report.id));
    }
    let entries: Vec<&HistoryEntry> = state.history.iter().rev().collect();
    egui::ScrollArea::vertical()
        .id_salt("history")
        .auto_shrink([false, false])
        .max_height(ui.available_height())
        .show_rows(ui, theme::ROW_HEIGHT, entries.len(), |ui, range| {
            for h in &entries[range] {
                let r = &h.report;
                let selected = state.selected_report == Some(r.id);
                // On the selection's blue no red or green reads (2.2:1): the selected row is in
                // the strong text colour; its outcome is in its words ("failed").
                let label = if selected {
                    RichText::new(row_text(h)).strong()
                } else {
                    RichText::new(row_text(h)).color(theme::outcome_color(ui.visuals(), r.outcome))
                };
                if ui.selectable_label(selected, label).clicked() {
                    commands.push(UiCommand::SelectReport(r.id));
                }
            }
        });
}

fn diff_ui(ui: &mut Ui, old: &str, new: &str) {
    for line in diff(old, new) {
        match line {
            DiffLine::Same(t) => ui.monospace(format!("  {t}")),
            DiffLine::Added(t) => ui.label(
                RichText::new(format!("+ {t}"))
                    .monospace()
                    .color(theme::diff_add(ui.visuals())),
            ),
            DiffLine::Removed(t) => ui.label(
                RichText::new(format!("- {t}"))
                    .monospace()
                    .color(theme::diff_del(ui.visuals())),
            ),
        };
    }
}

/// The whole report of the selected reload.
pub fn report_ui(ui: &mut Ui, state: &UiState, commands: &mut Vec<UiCommand>) {
    let Some(entry) = state.selected_report.and_then(|id| state.report(id)) else {
        ui.label(
            RichText::new("Select a reload in the history to see its report.")
                .color(theme::muted(ui.visuals())),
        );
        return;
    };
    if let Some(hotfix) = &entry.hotfix {
        super::hotfix::report_ui(ui, entry, hotfix);
        return;
    }
    let r = &entry.report;
    ui.heading(format!(
        "{} #{} of {} at {}",
        if r.undo { "Undo" } else { "Reload" },
        entry.number,
        r.module,
        clock(entry.at, local_offset(entry.at))
    ));
    ui.colored_label(theme::outcome_color(ui.visuals(), r.outcome), r.summary());
    if !r.mode_note.is_empty() {
        // Which statements ran: only those that changed and depend on them, or the whole
        // module and why.
        let mode = match r.mode {
            crate::protocol::Mode::Incremental => format!("incremental: {}", r.mode_note),
            crate::protocol::Mode::Full => format!("whole module: {}", r.mode_note),
        };
        ui.label(RichText::new(mode).color(theme::muted(ui.visuals())));
    }
    egui::ScrollArea::vertical()
        .id_salt("report")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            if let Some(e) = &r.error {
                failure_ui(ui, r, e);
                return;
            }
            if !r.stale_refs.is_empty() {
                ui.separator();
                ui.strong("Stale copies (other modules still hold the old values)");
                for s in &r.stale_refs {
                    ui.label(format!(
                        "{}.{} still holds the old {} = {}",
                        s.module, s.name, s.source, s.value
                    ));
                }
                let button = match entry.propagated {
                    Some(n) => {
                        let copies = if n == 1 { "copy" } else { "copies" };
                        ui.colored_label(
                            theme::ok(ui.visuals()),
                            format!("✔ propagated: {n} stale {copies} updated"),
                        );
                        "Propagate again"
                    }
                    None => "Propagate the new values",
                };
                if ui.button(button).clicked() {
                    commands.push(UiCommand::Send(Command::Propagate {
                        module: ModuleName(r.module.clone()),
                        stale: r.stale_refs.clone(),
                    }));
                }
            }
            ui.separator();
            let (changed, unchanged): (Vec<&Change>, Vec<&Change>) = r
                .changes
                .iter()
                .partition(|c| c.action != Action::Unchanged);
            for c in changed {
                change_ui(ui, entry, c);
            }
            if !unchanged.is_empty() {
                egui::CollapsingHeader::new(format!("{} unchanged", unchanged.len()))
                    .id_salt(("unchanged", r.id))
                    .show(ui, |ui| {
                        for c in unchanged {
                            ui.label(RichText::new(&c.qualname).color(theme::muted(ui.visuals())));
                        }
                    });
            }
        });
}

/// One entry of a report: what, its kind, what was done (old → new, or "kept 4.5 (source
/// 3.0)"), and its note. Also the hotfix result's list of changed names.
pub fn change_lines(ui: &mut Ui, c: &Change) {
    ui.horizontal_wrapped(|ui| {
        ui.strong(&c.qualname);
        ui.label(RichText::new(c.kind.as_str()).color(theme::muted(ui.visuals())));
        let color = theme::action_color(ui.visuals(), c.action);
        if let Some(kept) = kept_text(c, str::to_string) {
            let conflict = if c.action.is_conflict() {
                "conflict: "
            } else {
                ""
            };
            ui.label(
                RichText::new(format!("{conflict}{kept}"))
                    .monospace()
                    .color(color),
            );
        } else {
            ui.colored_label(color, theme::action_label(c.action));
            if !c.old.is_empty() || !c.new.is_empty() {
                ui.monospace(format!("{} → {}", c.old, c.new));
            }
        }
    });
    if !c.note.is_empty() {
        ui.label(
            RichText::new(format!("    {}", c.note))
                .color(theme::muted(ui.visuals()))
                .small(),
        );
    }
}

fn change_ui(ui: &mut Ui, entry: &HistoryEntry, c: &Change) {
    change_lines(ui, c);
    if c.action == Action::CodeSwapped
        && matches!(c.kind, Kind::Function | Kind::Method)
        && let (Some(old), Some(new)) = (&entry.old_source, &entry.new_source)
    {
        let q = c.qualname.split("::").next().unwrap_or(&c.qualname);
        if let (Some(o), Some(n)) = (definition(old, q), definition(new, q)) {
            egui::CollapsingHeader::new(format!("source diff of {}", c.qualname))
                .id_salt(("diff", entry.report.id, &c.qualname))
                .default_open(true)
                .show(ui, |ui| diff_ui(ui, &o, &n));
        }
    }
}

fn failure_ui(ui: &mut Ui, r: &ReloadReport, e: &crate::protocol::ErrorInfo) {
    let place = match e.line {
        Some(line) => format!("{}:{line}", e.file),
        None => e.file.clone(),
    };
    ui.colored_label(
        theme::error(ui.visuals()),
        RichText::new(format!("{place}: {}", e.message)).strong(),
    );
    if let Some(text) = &e.text {
        ui.monospace(format!("    {}", text.trim_end()));
        if let Some(col) = e.col.filter(|c| *c > 0) {
            let pad = text.len() - text.trim_start().len();
            let caret = (col as usize).saturating_sub(1 + pad);
            ui.monospace(format!("    {}^", " ".repeat(caret)));
        }
    }
    ui.label(format!(
        "The module {:?} kept its old code: nothing was changed.",
        r.module
    ));
    if !e.traceback.is_empty() {
        egui::CollapsingHeader::new("Traceback")
            .id_salt(("tb", r.id))
            .default_open(true)
            .show(ui, |ui| {
                ui.monospace(&e.traceback);
            });
    }
}
