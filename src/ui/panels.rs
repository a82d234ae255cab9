//! The panels of the inspector. Each is a function of `(&mut Ui, &UiState, &mut Vec<UiCommand>)`:
//! it draws from plain state and records what the user asked for.

use egui::{RichText, Ui};

use super::UiCommand;
use super::state::{ScriptState, UiState};
use super::theme;
use crate::protocol::{Command, Group, Outcome};

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
