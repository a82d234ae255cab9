//! The history of reloads and the report of the one selected: what each reload did, per
//! attribute and key path, with source diffs, failures and stale copies.

use egui::{RichText, Ui};

use super::UiCommand;
use super::source::{DiffLine, definition, diff};
use super::state::{HistoryEntry, UiState};
use super::theme;
use crate::protocol::{Action, Change, Kind, ReloadReport};
use crate::protocol::{Command, ModuleName};

fn clock(at: std::time::SystemTime) -> String {
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "{:02}:{:02}:{:02}",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Every reload, newest first: time, module, outcome, counts, duration.
pub fn history_ui(ui: &mut Ui, state: &UiState, commands: &mut Vec<UiCommand>) {
    ui.heading("History");
    if state.history.is_empty() {
        ui.label(
            RichText::new("No reloads yet. Edit a file and click Reload.").color(theme::MUTED),
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
            .color(theme::MUTED),
        );
    }
    let entries: Vec<&HistoryEntry> = state.history.iter().rev().collect();
    egui::ScrollArea::vertical()
        .id_salt("history")
        .auto_shrink([false, false])
        .max_height(ui.available_height())
        .show_rows(ui, theme::ROW_HEIGHT, entries.len(), |ui, range| {
            for h in &entries[range] {
                let r = &h.report;
                let c = r.counts();
                let text = format!(
                    "{} UTC  {}  {}  swapped {} · patched {} · kept {} · taken {} · not applied {} · conflicts {}  {:.1} ms",
                    clock(h.at),
                    r.module,
                    theme::outcome_label(r.outcome),
                    c.swapped,
                    c.patched,
                    c.kept,
                    c.taken,
                    c.not_applied + c.replaced,
                    c.conflicts,
                    r.duration_ms
                );
                let selected = state.selected_report == Some(r.id);
                let label = RichText::new(text).color(theme::outcome_color(r.outcome));
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
                    .color(theme::DIFF_ADD),
            ),
            DiffLine::Removed(t) => ui.label(
                RichText::new(format!("- {t}"))
                    .monospace()
                    .color(theme::DIFF_DEL),
            ),
        };
    }
}

/// The whole report of the selected reload.
pub fn report_ui(ui: &mut Ui, state: &UiState, commands: &mut Vec<UiCommand>) {
    let Some(entry) = state.selected_report.and_then(|id| state.report(id)) else {
        ui.label(
            RichText::new("Select a reload in the history to see its report.").color(theme::MUTED),
        );
        return;
    };
    let r = &entry.report;
    ui.heading(format!("Reload #{} of {}", r.id, r.module));
    ui.colored_label(theme::outcome_color(r.outcome), r.summary());
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
                if ui.button("Propagate the new values").clicked() {
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
                            ui.label(RichText::new(&c.qualname).color(theme::MUTED));
                        }
                    });
            }
        });
}

fn change_ui(ui: &mut Ui, entry: &HistoryEntry, c: &Change) {
    ui.horizontal_wrapped(|ui| {
        ui.strong(&c.qualname);
        ui.label(RichText::new(c.kind.as_str()).color(theme::MUTED));
        ui.colored_label(theme::action_color(c.action), theme::action_label(c.action));
        if !c.old.is_empty() || !c.new.is_empty() {
            ui.monospace(format!("{} → {}", c.old, c.new));
        }
    });
    if !c.note.is_empty() {
        ui.label(
            RichText::new(format!("    {}", c.note))
                .color(theme::MUTED)
                .small(),
        );
    }
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
        theme::ERROR,
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
