//! The selected module's attributes: live value, source value, what a reload would do or did,
//! per attribute and key path, with the Auto / Keep / Take toggle for data.

use egui::{Align, Layout, RichText, Ui};
use egui_extras::{Column, TableBuilder};

use super::UiCommand;
use super::state::UiState;
use super::theme;
use crate::protocol::{Action, Change, Group, Kind, Outcome, Override};
use crate::protocol::{Command, ModuleName};

/// One row of the attributes table.
struct AttrRow<'a> {
    qualname: &'a str,
    kind: Kind,
    live: &'a str,
    preview: Option<&'a Change>,
    last: Option<&'a Change>,
}

/// The selected module's attributes: live value, source value, what a reload would do or did,
/// and the Auto / Keep / Take new toggle for data.
pub fn attributes_ui(ui: &mut Ui, state: &UiState, commands: &mut Vec<UiCommand>) {
    let Some(module) = state.selected.clone() else {
        ui.label("Select a module on the left.");
        return;
    };
    let info = state.module(&module);
    ui.horizontal(|ui| {
        ui.heading(&module);
        if state.changed.contains(&module) {
            ui.label(RichText::new("●").monospace().color(theme::CHANGED));
            ui.colored_label(theme::CHANGED, "changed on disk");
        }
    });
    if let Some(file) = info.and_then(|m| m.file.as_deref()) {
        ui.label(RichText::new(file).color(theme::MUTED).small());
    }
    if info.is_some_and(|m| m.group != Group::Project) {
        ui.label("Not under a watched folder: shown for reference, not tracked.");
    }
    let preview = state.previews.get(&module);
    if let Some(p) = preview {
        if p.outcome == Outcome::Applied {
            let c = p.counts();
            ui.label(format!(
                "A reload would: {} swap, {} take new, {} keep live, {} add, {} remove, {} conflicts.",
                c.swapped, c.taken, c.kept, c.added, c.removed, c.conflicts
            ));
        } else {
            ui.colored_label(
                theme::ERROR,
                format!("The file on disk would not reload: {}", p.summary()),
            );
        }
    } else if state.changed.contains(&module) && !state.auto_reload {
        // Asked for (a save, a policy change): never the old answer in its place.
        ui.label("Working out what a reload would do…");
    }
    let last = state.last_reload(&module);
    let live = state.attrs.get(&module);
    let mut rows: Vec<AttrRow<'_>> = Vec::new();
    if let Some(attrs) = live {
        let names: std::collections::HashSet<&str> =
            attrs.iter().map(|a| a.qualname.as_str()).collect();
        for a in attrs {
            rows.push(AttrRow {
                qualname: &a.qualname,
                kind: a.kind,
                live: &a.repr,
                preview: preview.and_then(|p| p.change(&a.qualname)),
                last: last.and_then(|r| r.change(&a.qualname)),
            });
            // Its key paths (a dict or plain instance merged member by member), from the dry
            // run if there is one, else from the last reload: each with its own toggle.
            let (source, is_preview) = match (preview, last) {
                (Some(p), _) => (Some(p), true),
                (None, Some(l)) => (Some(l), false),
                _ => (None, false),
            };
            let Some(report) = source else { continue };
            let keyed = format!("{}[", a.qualname);
            let dotted = format!("{}.", a.qualname);
            for c in report.changes.iter().filter(|c| {
                c.action != Action::Unchanged
                    && (c.qualname.starts_with(&keyed)
                        || (c.qualname.starts_with(&dotted)
                            && !names.contains(c.qualname.as_str())))
            }) {
                rows.push(AttrRow {
                    qualname: &c.qualname,
                    kind: c.kind,
                    live: &c.old,
                    preview: is_preview.then_some(c),
                    last: (!is_preview).then_some(c),
                });
            }
        }
    }
    if let Some(p) = preview {
        for c in p.changes.iter().filter(|c| c.action == Action::Added) {
            rows.push(AttrRow {
                qualname: &c.qualname,
                kind: c.kind,
                live: "",
                preview: Some(c),
                last: None,
            });
        }
    }
    if rows.is_empty() {
        ui.label("No attributes yet.");
        return;
    }
    let table = TableBuilder::new(ui)
        .id_salt("attributes")
        .striped(true)
        .resizable(true)
        .cell_layout(Layout::left_to_right(Align::Center))
        .column(Column::initial(130.0).at_least(80.0).clip(true))
        .column(Column::initial(58.0).clip(true))
        .column(Column::initial(130.0).clip(true))
        .column(Column::initial(150.0).clip(true))
        .column(Column::initial(115.0).clip(true))
        .column(Column::remainder().at_least(150.0));
    table
        .header(theme::ROW_HEIGHT, |mut h| {
            for title in [
                "Name",
                "Kind",
                "Live value",
                "Source value",
                "Reload",
                "Data policy",
            ] {
                h.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(theme::ROW_HEIGHT, rows.len(), |mut row| {
                let r = &rows[row.index()];
                // Conflicts, and removed names other code still reads, stand out before a
                // reload.
                let conflict = r
                    .preview
                    .is_some_and(|c| c.action.is_conflict() || c.note.contains("still used:"));
                let paint = |ui: &mut Ui| {
                    if conflict {
                        ui.painter()
                            .rect_filled(ui.max_rect(), 0.0, theme::CONFLICT_BG);
                    }
                };
                row.col(|ui| {
                    paint(ui);
                    let indent = if r.qualname.contains(['.', '[']) {
                        "    "
                    } else {
                        ""
                    };
                    ui.label(format!("{indent}{}", r.qualname));
                });
                row.col(|ui| {
                    paint(ui);
                    ui.label(RichText::new(r.kind.as_str()).color(theme::MUTED));
                });
                row.col(|ui| {
                    paint(ui);
                    let cell = ui.monospace(r.live);
                    if r.live.len() > 20 {
                        cell.on_hover_text(r.live);
                    }
                });
                row.col(|ui| {
                    paint(ui);
                    if let Some(c) = r.preview.filter(|c| c.action != Action::Unchanged) {
                        // For tables, what changed says more than the start of the new value.
                        match c.note.split_once("changes: ") {
                            Some((_, changes)) => ui.monospace(changes).on_hover_text(&c.new),
                            None => ui.monospace(&c.new),
                        };
                    }
                });
                row.col(|ui| {
                    paint(ui);
                    let (prefix, change) = match (r.preview, r.last) {
                        (Some(c), _) => ("would: ", Some(c)),
                        (None, Some(c)) => ("did: ", Some(c)),
                        _ => ("", None),
                    };
                    if let Some(c) = change.filter(|c| c.action != Action::Unchanged) {
                        let resp = ui.colored_label(
                            theme::action_color(c.action),
                            format!("{prefix}{}", theme::action_label(c.action)),
                        );
                        if !c.note.is_empty() {
                            resp.on_hover_text(&c.note);
                        }
                    }
                });
                row.col(|ui| {
                    paint(ui);
                    if r.kind == Kind::Data {
                        let current = state.choice(&module, r.qualname);
                        for (choice, label) in [
                            (Override::Auto, "Auto"),
                            (Override::Keep, "Keep"),
                            (Override::Take, "Take"),
                        ] {
                            if ui.selectable_label(current == choice, label).clicked()
                                && current != choice
                            {
                                commands.push(UiCommand::Send(Command::SetPolicy {
                                    module: ModuleName(module.clone()),
                                    qualname: r.qualname.to_string(),
                                    choice,
                                }));
                            }
                        }
                    }
                });
            });
        });
}
