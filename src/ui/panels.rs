//! The panels of the inspector. Each is a function of `(&mut Ui, &UiState, &mut Vec<UiCommand>)`:
//! it draws from plain state and records what the user asked for.

use egui::{RichText, Ui};

use super::UiCommand;
use super::state::{ScriptState, UiState};
use super::theme;
use crate::protocol::{Command, Group, Outcome};

/// True for a module the Reload button can reload (tracked, not the running script).
pub fn reloadable(m: &crate::protocol::ModuleInfo) -> bool {
    m.group == Group::Project && m.name != "__main__"
}

/// Why the file of `module` cannot be reloaded in place — a class change its dry run (or, when
/// it is still changed, its last reload) found incompatible — or None.
pub fn incompatible_reason(state: &UiState, module: &str) -> Option<String> {
    let pending = state.changed.contains(module);
    let report = match state.previews.get(module) {
        Some(p) => p,
        None if pending => state.last_reload(module)?,
        None => return None,
    };
    if report.outcome != Outcome::Incompatible {
        return None;
    }
    Some(report.error.as_ref().map_or_else(
        || "A class cannot take the change in place".to_string(),
        |e| {
            // The engine's message ends with advice for the Python API; the button is the
            // window's way to follow it.
            let text = e
                .message
                .split("; restart the program")
                .next()
                .unwrap_or(&e.message);
            text.trim_end_matches('.').to_string()
        },
    ))
}

/// Whether the script's own file (`__main__`) changed on disk since it started.
fn main_changed(state: &UiState) -> bool {
    state.changed.contains("__main__")
        || state.module("__main__").is_some_and(|m| m.changed_on_disk)
}

/// Why the script needs a restart to pick up what the user did, or None.
pub fn restart_reason(state: &UiState) -> Option<&'static str> {
    match &state.script_state {
        ScriptState::Exited(_) => Some("the script has ended"),
        ScriptState::FailedToStart(_) => Some("the script failed to start"),
        _ if main_changed(state) => Some("the script's own file changed"),
        _ => None,
    }
}

/// What the dry run of `module` says a reload would break: names it removes that other modules
/// still read (`XP_PER_KILL, still used by players.py:12`), or None.
pub fn hazard_text(state: &UiState, module: &str) -> Option<String> {
    let preview = state.previews.get(module)?;
    let hazards = preview.hazards();
    let (name, places) = hazards.first()?;
    let more = match hazards.len() {
        1 => String::new(),
        n => format!(" (and {} more names)", n - 1),
    };
    Some(format!(
        "Reload would remove {name}, still used by {places}{more}: the game fails at the next \
         read"
    ))
}

/// The "reload anyway?" question for a reload whose dry run said it breaks other modules.
pub fn confirm_ui(ctx: &egui::Context, state: &UiState, commands: &mut Vec<UiCommand>) {
    let Some(module) = state.confirm_reload.as_deref() else {
        return;
    };
    let modal = egui::Modal::new(egui::Id::unique("confirm_reload")).show(ctx, |ui| {
        ui.heading(format!("Reload {module} anyway?"));
        if let Some(text) = hazard_text(state, module) {
            ui.colored_label(theme::error(ui.visuals()), text);
        }
        ui.label(
            "Undo puts the current version back afterwards. To keep the name, restore it in \
             the source or set it to Keep.",
        );
        ui.horizontal(|ui| {
            if ui.button("Reload anyway").clicked() {
                commands.push(UiCommand::ReloadConfirmed(module.to_string()));
            }
            if ui.button("Cancel").clicked() {
                commands.push(UiCommand::CancelReload);
            }
        });
    });
    if modal.should_close() {
        commands.push(UiCommand::CancelReload);
    }
}

/// Why the selected module cannot be reloaded now, for a disabled button's hover text.
pub fn reload_blocker(state: &UiState) -> Option<String> {
    if !state.worker_alive {
        return Some("The Python worker has stopped: nothing can be reloaded.".into());
    }
    let Some(name) = state.selected.as_deref() else {
        return Some("Select a module on the left first.".into());
    };
    let Some(m) = state.module(name) else {
        return Some(format!("{name} is not loaded (any more)."));
    };
    if m.name == "__main__" {
        return Some(
            "__main__ is the running script: reloading it would run its body and main loop \
             again. Move the code to reload into a module the script imports."
                .into(),
        );
    }
    if m.group != Group::Project {
        return Some(format!(
            "{} is not under a watched folder (standard library, site-packages or an \
             extension): swapscope does not track it, so it cannot be reloaded from here.",
            m.name
        ));
    }
    None
}

/// Toolbar: reload and undo buttons, a warning when the dry run says the reload breaks other
/// modules, auto-reload switch, busy indicator.
pub fn toolbar_ui(ui: &mut Ui, state: &UiState, commands: &mut Vec<UiCommand>) {
    ui.horizontal(|ui| {
        let selected = state.selected.as_deref().and_then(|s| state.module(s));
        let blocker = reload_blocker(state);
        let label = selected.map_or_else(|| "Reload".to_string(), |m| format!("Reload {}", m.name));
        if ui
            .add_enabled(blocker.is_none(), egui::Button::new(label))
            .on_hover_text("Reload the selected module in place (Ctrl+R)")
            .on_disabled_hover_text(blocker.as_deref().unwrap_or_default())
            .clicked()
        {
            commands.push(UiCommand::ReloadSelected);
        }
        let steps = selected.map_or(0, |m| state.undo_steps(&m.name));
        let undo_blocker = if let Some(b) = &blocker {
            Some(b.clone())
        } else if steps == 0 {
            Some(
                "Nothing to undo: no reload of this module was applied in this session (or \
                 all were undone)."
                    .to_string(),
            )
        } else {
            None
        };
        if ui
            .add_enabled(undo_blocker.is_none(), egui::Button::new("Undo"))
            .on_hover_text(format!(
                "Put back the version before the last reload, in place (live state stays; the \
                 file is not touched: Reload brings the newer version back). {steps} step(s) \
                 available."
            ))
            .on_disabled_hover_text(undo_blocker.as_deref().unwrap_or_default())
            .clicked()
        {
            commands.push(UiCommand::UndoSelected);
        }
        if state.can_restart {
            let reason = restart_reason(state);
            let button = match reason {
                Some(_) => egui::Button::new(
                    RichText::new("Restart script (restart needed)")
                        .color(theme::changed(ui.visuals())),
                ),
                None => egui::Button::new("Restart script"),
            };
            let hover = format!(
                "{}Closes the window and runs swapscope again with the same command line: the \
                 script starts over (its state is lost).",
                reason.map_or_else(String::new, |r| format!("Needed: {r}. "))
            );
            if ui.add(button).on_hover_text(hover).clicked() {
                commands.push(UiCommand::RestartScript);
            }
        }
        if let Some(m) = selected
            && blocker.is_none()
            && let Some(reason) = incompatible_reason(state, &m.name)
        {
            let hover = format!(
                "{reason}. Replace binds the new class under the module's name: new instances \
                 are of the new class; existing instances keep the old class and its old code \
                 (isinstance checks against the new class fail for them). Restart the script \
                 to have every instance of the new class."
            );
            if ui
                .button(RichText::new("Replace class").color(theme::changed(ui.visuals())))
                .on_hover_text(hover)
                .clicked()
            {
                commands.push(UiCommand::ReplaceClasses(m.name.clone()));
            }
        }
        let changed = state.reloadable_changed().len();
        if ui
            .add_enabled(
                changed > 0 && state.worker_alive,
                egui::Button::new(format!("Reload all changed ({changed})")),
            )
            .on_hover_text(
                "Reload every changed project module, all at the script's next safe point",
            )
            .on_disabled_hover_text(if state.worker_alive {
                "No project module has changed on disk since it was loaded."
            } else {
                "The Python worker has stopped: nothing can be reloaded."
            })
            .clicked()
        {
            commands.push(UiCommand::ReloadChanged);
        }
        let mut auto = state.auto_reload;
        if ui.checkbox(&mut auto, "Auto-reload on save").changed() {
            commands.push(UiCommand::Send(Command::SetAutoReload(auto)));
        }
        // The two rarer switches share one menu: beside the others they did not fit a
        // 1024-pixel window at 150%.
        let on = usize::from(state.closure_scan) + usize::from(state.whole_reloads);
        let options = if on > 0 {
            format!("Options ({on} on)")
        } else {
            "Options".to_string()
        };
        ui.menu_button(options, |ui| {
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
            let mut whole = state.whole_reloads;
            if ui
                .checkbox(&mut whole, "Whole modules")
                .on_hover_text(
                    "Reloads run the whole module body, as importlib does, instead of only the \
                     statements that changed and those that depend on them. The results are \
                     the same; a reload of a big module takes longer, and every statement's \
                     side effects (a decorator registering a function) happen again",
                )
                .changed()
            {
                commands.push(UiCommand::Send(Command::SetWholeReloads(whole)));
            }
        });
        if !state.busy.is_empty() {
            ui.add(egui::Spinner::new());
            let names: Vec<&str> = state.busy.iter().map(String::as_str).collect();
            ui.label(format!("reloading {}…", names.join(", ")));
        }
    });
    // A reload that would break the program: on a line of its own, so that the buttons and
    // switches keep their places (beside them it pushed the last ones out of a narrow window).
    let selected = state.selected.as_deref().and_then(|s| state.module(s));
    if let Some(text) = selected.and_then(|m| hazard_text(state, &m.name)) {
        ui.colored_label(theme::error(ui.visuals()), format!("⚠ {text}"));
    }
    // First steps, until the first reload: what to do, in one line.
    if state.history.is_empty() && state.worker_alive && state.project_listed() {
        let file = state
            .selected
            .as_deref()
            .and_then(|s| state.module(s))
            .filter(|m| m.name != "__main__")
            .and_then(|m| m.file.as_deref())
            .and_then(|f| std::path::Path::new(f).file_name())
            .map_or_else(
                || "a project file".to_string(),
                |f| f.to_string_lossy().into_owned(),
            );
        ui.label(
            RichText::new(format!(
                "Edit {file} in your editor and save it, then click Reload (or turn on \
                 Auto-reload on save)."
            ))
            .color(theme::muted(ui.visuals())),
        );
    }
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
                (_, false) => theme::muted(ui.visuals()),
                (Some((_, crate::protocol::Outcome::Applied)) | None, _) => {
                    ui.visuals().text_color()
                }
                (Some(_), _) => theme::error(ui.visuals()),
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

/// Problems of the app itself and news of what worked, each dismissable.
pub fn notifications_ui(ui: &mut Ui, state: &UiState, commands: &mut Vec<UiCommand>) {
    for (i, n) in state.notifications.iter().enumerate().rev().take(3) {
        // Success is news, not a warning: green with a tick.
        let (icon, color) = match n.level {
            super::state::Level::Problem => ("⚠", theme::error(ui.visuals())),
            super::state::Level::Success => ("✔", theme::ok(ui.visuals())),
        };
        ui.horizontal(|ui| {
            ui.colored_label(color, icon);
            ui.label(RichText::new(&n.text).color(color));
            if ui.small_button("Dismiss").clicked() {
                commands.push(UiCommand::Dismiss(i));
            }
        });
    }
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
            ScriptState::Running => ui.colored_label(theme::ok(ui.visuals()), "script running"),
            ScriptState::Exited(code) => {
                let color = if *code == 0 {
                    theme::muted(ui.visuals())
                } else {
                    theme::error(ui.visuals())
                };
                ui.colored_label(color, format!("script exited with code {code}"))
            }
            ScriptState::FailedToStart(_) => {
                ui.colored_label(theme::error(ui.visuals()), "script failed to start")
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
            ui.colored_label(theme::error(ui.visuals()), "worker stopped");
        }
        if let Some(e) = &state.policy_error {
            ui.separator();
            ui.colored_label(theme::error(ui.visuals()), "policy file malformed")
                .on_hover_text(e);
        } else if let Some(p) = &state.policy_path {
            ui.separator();
            ui.label(
                RichText::new(format!("policy: {}", p.display())).color(theme::muted(ui.visuals())),
            );
        }
        ui.separator();
        zoom_ui(ui);
        theme_ui(ui);
    });
}

/// The theme switch, beside the zoom: one button naming the other theme (dark is the default;
/// light suits a bright room or a projector). One button, not a Dark | Light pair, so that the
/// status bar still fits one line at 1024 px and 150%. Every colour of the window has a version
/// for each theme (see `theme`); the choice is remembered between runs (see `settings`).
fn theme_ui(ui: &mut Ui) {
    let ctx = ui.ctx().clone();
    let (label, hover, other) = match ctx.theme() {
        egui::Theme::Dark => (
            "☀ Light",
            "Switch to the light theme: dark text on a light background",
            egui::Theme::Light,
        ),
        egui::Theme::Light => (
            "🌙 Dark",
            "Switch to the dark theme: light text on a dark background",
            egui::Theme::Dark,
        ),
    };
    if ui
        .add(egui::Button::new(label).small())
        .on_hover_text(hover)
        .clicked()
    {
        ctx.set_theme(other);
    }
}

/// The zoom, where users look for it: smaller, the current size (click for 100%), larger. The
/// keyboard's Ctrl+= / Ctrl+- / Ctrl+0 (egui's own) do the same; the zoom is remembered between
/// runs (see `settings`).
fn zoom_ui(ui: &mut Ui) {
    let ctx = ui.ctx().clone();
    let zoom = ctx.zoom_factor();
    if ui
        .add_enabled(zoom > 0.5, egui::Button::new("A−").small())
        .on_hover_text("Smaller text and controls (Ctrl+-)")
        .clicked()
    {
        egui::gui_zoom::zoom_out(&ctx);
    }
    if ui
        .add(egui::Button::new(format!("{:.0}%", zoom * 100.0)).small())
        .on_hover_text("Zoom: click for 100% (Ctrl+0)")
        .clicked()
    {
        ctx.set_zoom_factor(1.0);
    }
    if ui
        .add_enabled(zoom < 3.0, egui::Button::new("A+").small())
        .on_hover_text("Larger text and controls (Ctrl+=)")
        .clicked()
    {
        egui::gui_zoom::zoom_in(&ctx);
    }
}
