//! The panels of the inspector. Each is a function of `(&mut Ui, &UiState, &mut Vec<UiCommand>)`:
//! it draws from plain state and records what the user asked for.

use egui::{Align, Layout, RichText, Ui};
use egui_extras::{Column, TableBuilder};

use super::UiCommand;
use super::source::{DiffLine, definition, diff};
use super::state::{HistoryEntry, ScriptState, UiState};
use super::theme;
use crate::protocol::{Action, Change, Group, Kind, Outcome, Override, ReloadReport};
use crate::protocol::{Command, ModuleName, Stream};

fn group_label(g: Group) -> &'static str {
    match g {
        Group::Project => "Project",
        Group::SitePackages => "site-packages",
        Group::Stdlib => "Standard library",
        Group::Builtin => "Builtin and extension",
    }
}

/// A row of the modules list: a group header or a module.
enum Row<'a> {
    Header(Group, usize),
    Module(&'a crate::protocol::ModuleInfo),
}

/// True for a module the Reload button can reload (tracked, not the running script).
pub fn reloadable(m: &crate::protocol::ModuleInfo) -> bool {
    m.group == Group::Project && m.name != "__main__"
}

/// Toolbar: reload buttons, auto-reload switch, busy indicator.
pub fn toolbar_ui(ui: &mut Ui, state: &UiState, commands: &mut Vec<UiCommand>) {
    ui.horizontal(|ui| {
        let selected = state.selected.as_deref().and_then(|s| state.module(s));
        let can_reload = selected.is_some_and(reloadable) && state.worker_alive;
        let label = selected.map_or_else(|| "Reload".to_string(), |m| format!("Reload {}", m.name));
        if ui
            .add_enabled(can_reload, egui::Button::new(label))
            .on_hover_text("Reload the selected module in place (Ctrl+R)")
            .clicked()
        {
            commands.push(UiCommand::ReloadSelected);
        }
        let changed = state.changed.len();
        if ui
            .add_enabled(
                changed > 0 && state.worker_alive,
                egui::Button::new(format!("Reload all changed ({changed})")),
            )
            .clicked()
        {
            commands.push(UiCommand::ReloadChanged);
        }
        let mut auto = state.auto_reload;
        if ui.checkbox(&mut auto, "Auto-reload on save").changed() {
            commands.push(UiCommand::Send(Command::SetAutoReload(auto)));
        }
        let mut closures = state.closure_scan;
        if ui
            .checkbox(&mut closures, "Update closures")
            .on_hover_text(
                "Reloads also give functions a changed factory made before the reload \
                 (h = make_handler()) the new code. Scans every object Python's garbage \
                 collector tracks: about 60 ms per million objects",
            )
            .changed()
        {
            commands.push(UiCommand::Send(Command::SetClosureScan(closures)));
        }
        if !state.busy.is_empty() {
            ui.add(egui::Spinner::new());
            let names: Vec<&str> = state.busy.iter().map(String::as_str).collect();
            ui.label(format!("reloading {}…", names.join(", ")));
        }
    });
}

/// The attached processes: one button each (pid, script, Python, its latest outcome); the one
/// shown is selected. Processes running the same script as the one shown are marked: a Reload
/// reaches them all.
pub fn processes_ui(
    ui: &mut Ui,
    processes: &[super::peers::ProcessSummary],
    commands: &mut Vec<UiCommand>,
) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(format!("Processes ({})", processes.len())).strong());
        for p in processes {
            let script = std::path::Path::new(&p.label.script)
                .file_name()
                .map_or_else(
                    || p.label.script.clone(),
                    |n| n.to_string_lossy().into_owned(),
                );
            let last = p
                .last
                .as_ref()
                .map_or_else(String::new, |(module, outcome)| {
                    format!(" · {module}: {}", outcome.as_str().replace('_', " "))
                });
            let mut text = format!(
                "pid {} · {} · {}{last}",
                p.label.pid, script, p.label.python
            );
            if !p.alive {
                text.push_str(" · ended");
            }
            let color = match (&p.last, p.alive) {
                (_, false) => theme::MUTED,
                (Some((_, crate::protocol::Outcome::Applied)) | None, _) => {
                    ui.visuals().text_color()
                }
                (Some(_), _) => theme::ERROR,
            };
            let mut rich = RichText::new(text).color(color);
            if p.same_group {
                rich = rich.strong();
            }
            let hover = if p.same_group {
                format!(
                    "{}\nRuns the same script as the process shown: a Reload reaches it too",
                    p.label.script
                )
            } else {
                format!(
                    "{}\nAnother script: reloads here do not reach it",
                    p.label.script
                )
            };
            if ui
                .selectable_label(p.shown, rich)
                .on_hover_text(hover)
                .clicked()
                && !p.shown
            {
                commands.push(UiCommand::SelectProcess(p.label.pid));
            }
        }
    });
}

/// Problems of the app itself, each dismissable.
pub fn notifications_ui(ui: &mut Ui, state: &UiState, commands: &mut Vec<UiCommand>) {
    for (i, n) in state.notifications.iter().enumerate().rev().take(3) {
        ui.horizontal(|ui| {
            ui.colored_label(theme::ERROR, "⚠");
            ui.label(RichText::new(&n.text).color(theme::ERROR));
            if ui.small_button("Dismiss").clicked() {
                commands.push(UiCommand::Dismiss(i));
            }
        });
    }
}

/// Every loaded module, project first, other groups collapsed; only visible rows are laid out.
pub fn modules_ui(ui: &mut Ui, state: &UiState, commands: &mut Vec<UiCommand>) {
    ui.heading("Modules");
    let mut filter = state.filter.clone();
    if ui
        .add(egui::TextEdit::singleline(&mut filter).hint_text("filter modules"))
        .changed()
    {
        commands.push(UiCommand::SetFilter(filter));
    }
    ui.separator();
    let grouped = state.grouped();
    let mut rows: Vec<Row<'_>> = Vec::new();
    for (group, list) in &grouped {
        rows.push(Row::Header(*group, list.len()));
        if state.expanded.contains(group) || !state.filter.is_empty() {
            rows.extend(list.iter().map(|m| Row::Module(m)));
        }
    }
    egui::ScrollArea::vertical()
        .id_salt("modules")
        .auto_shrink([false, false])
        .show_rows(ui, theme::ROW_HEIGHT, rows.len(), |ui, range| {
            for row in &rows[range] {
                match row {
                    Row::Header(group, n) => {
                        let open = state.expanded.contains(group);
                        let arrow = if open { "⏷" } else { "⏵" };
                        if ui
                            .selectable_label(
                                false,
                                RichText::new(format!("{arrow} {} ({n})", group_label(*group)))
                                    .strong(),
                            )
                            .clicked()
                        {
                            commands.push(UiCommand::ToggleGroup(*group));
                        }
                    }
                    Row::Module(m) => {
                        ui.horizontal(|ui| {
                            ui.add_space(12.0);
                            let selected = state.selected.as_deref() == Some(m.name.as_str());
                            let r = ui.selectable_label(selected, &m.name);
                            if r.clicked() {
                                commands.push(UiCommand::SelectModule(m.name.clone()));
                            }
                            if state.changed.contains(&m.name) {
                                ui.label(RichText::new("●").monospace().color(theme::CHANGED))
                                    .on_hover_text("changed on disk since loaded");
                            }
                            if let Some(outcome) = m.last_outcome {
                                let mark = if outcome == Outcome::Applied {
                                    "✔"
                                } else {
                                    "✖"
                                };
                                ui.colored_label(theme::outcome_color(outcome), mark)
                                    .on_hover_text(format!(
                                        "last reload: {}",
                                        theme::outcome_label(outcome)
                                    ));
                            }
                        });
                    }
                }
            }
        });
}

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

/// The script's stdout and stderr.
pub fn console_ui(ui: &mut Ui, state: &UiState) {
    egui::ScrollArea::vertical()
        .id_salt("console")
        .stick_to_bottom(true)
        .auto_shrink([false, false])
        .show_rows(ui, 16.0, state.console.len(), |ui, range| {
            for (stream, line) in state.console.range(range) {
                let text = RichText::new(line.trim_end_matches('\n')).monospace();
                match stream {
                    Stream::Stdout => ui.label(text),
                    Stream::Stderr => ui.label(text.color(theme::STDERR)),
                };
            }
        });
}

/// Python version, watched folders, script state, policy file.
pub fn status_ui(ui: &mut Ui, state: &UiState) {
    ui.horizontal_wrapped(|ui| {
        ui.label(format!(
            "Python {}",
            state.python_version.as_deref().unwrap_or("…")
        ));
        ui.separator();
        let roots: Vec<String> = state
            .roots
            .iter()
            .map(|r| r.display().to_string())
            .collect();
        ui.label(format!(
            "watching {}",
            if roots.is_empty() {
                "nothing".into()
            } else {
                roots.join(", ")
            }
        ));
        ui.separator();
        match &state.script_state {
            ScriptState::Starting => ui.label("starting…"),
            ScriptState::Running => ui.colored_label(theme::OK, "script running"),
            ScriptState::Exited(code) => {
                let color = if *code == 0 {
                    theme::MUTED
                } else {
                    theme::ERROR
                };
                ui.colored_label(color, format!("script exited with code {code}"))
            }
            ScriptState::FailedToStart(_) => {
                ui.colored_label(theme::ERROR, "script failed to start")
            }
        };
        ui.separator();
        ui.label(if state.auto_reload {
            "auto-reload on"
        } else {
            "auto-reload off"
        });
        if !state.worker_alive {
            ui.separator();
            ui.colored_label(theme::ERROR, "worker stopped");
        }
        if let Some(e) = &state.policy_error {
            ui.separator();
            ui.colored_label(theme::ERROR, "policy file malformed")
                .on_hover_text(e);
        } else if let Some(p) = &state.policy_path {
            ui.separator();
            ui.label(RichText::new(format!("policy: {}", p.display())).color(theme::MUTED));
        }
    });
}
