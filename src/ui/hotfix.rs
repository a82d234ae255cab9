//! The hotfix console: an input line under the console that runs a few lines of Python inside
//! the running program (in `__main__` or the selected module), to fix data or a function on the
//! spot. Enter sends `Command::Hotfix`; the runtime runs it where reloads run (at the script's
//! next safe point, or at once) and answers with `Event::HotfixFinished`, which the history
//! lists as a "hotfix" entry. Up and Down walk the snippets sent, as in a shell.
//!
//! The line being typed and the snippets sent live in egui's memory (like the console's own
//! view), not in `UiState`: they are the input widget's, and nothing else reads them.

use egui::text::{CCursor, CCursorRange};
use egui::{Id, Key, Modifiers, RichText, ScrollArea, TextEdit, Ui};

use super::UiCommand;
use super::history::{clock, local_offset, what_changed};
use super::state::{HistoryEntry, UiState};
use super::theme;
use crate::protocol::{Command, Hotfix, ModuleName, Outcome};

/// Snippets kept for Up/Down (the oldest go first).
pub const SNIPPETS_KEPT: usize = 500;
/// The module a snippet runs in when the user picks the program itself.
pub const MAIN: &str = "__main__";
/// A value or output longer than this is cut in the console's result (the report panel shows it
/// whole).
const SHOWN_MAX: usize = 4000;

/// The console's input state, kept in egui's memory between frames.
#[derive(Clone, Debug, Default)]
struct Console {
    input: String,
    /// Snippets sent, oldest first.
    snippets: Vec<String>,
    /// Where Up/Down stand in `snippets`; None while typing a new line.
    walking: Option<usize>,
    /// The line typed before Up was pressed, given back by Down past the newest snippet.
    draft: String,
    /// Run in `__main__` rather than the selected module.
    in_main: bool,
    /// A snippet was sent and its report has not come: the newest hotfix id the history had
    /// then (0 for none). Hotfix ids only grow, so a newer one is its answer.
    waiting: Option<u64>,
}

impl Console {
    /// Up: the snippet before the one shown (the newest first).
    fn older(&mut self) {
        let Some(last) = self.snippets.len().checked_sub(1) else {
            return;
        };
        let at = match self.walking {
            None => {
                self.draft = std::mem::take(&mut self.input);
                last
            }
            Some(i) => i.saturating_sub(1),
        };
        self.walking = Some(at);
        self.input = self.snippets.get(at).cloned().unwrap_or_default();
    }

    /// Down: the snippet after the one shown, then the line that was being typed.
    fn newer(&mut self) {
        let Some(i) = self.walking else {
            return;
        };
        if i + 1 < self.snippets.len() {
            self.walking = Some(i + 1);
            self.input = self.snippets.get(i + 1).cloned().unwrap_or_default();
        } else {
            self.walking = None;
            self.input = std::mem::take(&mut self.draft);
        }
    }

    /// Takes the line as a snippet to send (None when blank), remembering it for Up.
    fn take(&mut self) -> Option<String> {
        let code = self.input.trim().to_string();
        if code.is_empty() {
            return None;
        }
        if self.snippets.last() != Some(&code) {
            self.snippets.push(code.clone());
        }
        if self.snippets.len() > SNIPPETS_KEPT {
            let excess = self.snippets.len() - SNIPPETS_KEPT;
            self.snippets.drain(..excess);
        }
        self.input.clear();
        self.draft.clear();
        self.walking = None;
        Some(code)
    }
}

/// The module a snippet runs in: the selected module, or `__main__` when the user picked it or
/// nothing is selected.
fn target(state: &UiState, console: &Console) -> String {
    match &state.selected {
        Some(module) if !console.in_main => module.clone(),
        _ => MAIN.to_string(),
    }
}

/// The newest hotfix in the history.
pub fn last_hotfix(state: &UiState) -> Option<(&HistoryEntry, &Hotfix)> {
    state
        .history
        .iter()
        .rev()
        .find_map(|h| h.hotfix.as_ref().map(|f| (h, f)))
}

/// The input line, the target, and the newest hotfix's result below them.
pub fn hotfix_ui(ui: &mut Ui, state: &UiState, commands: &mut Vec<UiCommand>) {
    let id = Id::unique("swapscope hotfix console");
    let edit_id = id.with("input");
    let mut console: Console = ui.data(|d| d.get_temp(id)).unwrap_or_default();
    let newest = last_hotfix(state).map_or(0, |(h, _)| h.report.id);
    if console.waiting.is_some_and(|w| w != newest) || !state.worker_alive {
        console.waiting = None;
    }

    // Up and Down are taken before the line is drawn, so it shows the recalled snippet now.
    let mut recalled = false;
    if ui.memory(|m| m.has_focus(edit_id)) {
        if ui.input_mut(|i| i.consume_key(Modifiers::NONE, Key::ArrowUp)) {
            console.older();
            recalled = true;
        }
        if ui.input_mut(|i| i.consume_key(Modifiers::NONE, Key::ArrowDown)) {
            console.newer();
            recalled = true;
        }
    }
    if recalled && let Some(mut edit) = egui::text_edit::TextEditState::load(ui.ctx(), edit_id) {
        let end = CCursor::new(console.input.chars().count());
        edit.cursor.set_char_range(Some(CCursorRange::one(end)));
        edit.store(ui.ctx(), edit_id);
    }

    let module = target(state, &console);
    let mut run = false;
    ui.horizontal(|ui| {
        let label = ui.strong("Hotfix").on_hover_text(
            "Run Python inside the running program, where reloads run (at the script's next \
             safe point): fix data or a function on the spot. Enter runs it; Up/Down recall \
             earlier lines. Each run is listed in the history.",
        );
        egui::ComboBox::from_id_salt(id.with("target"))
            .selected_text(&module)
            .show_ui(ui, |ui| {
                if let Some(selected) = state.selected.as_deref().filter(|s| *s != MAIN) {
                    ui.selectable_value(&mut console.in_main, false, selected);
                }
                ui.selectable_value(&mut console.in_main, true, MAIN);
            })
            .response
            .on_hover_text("The module whose namespace the line runs in");
        let width = (ui.available_width() - 60.0).max(120.0);
        let line = ui
            .add_enabled(
                state.worker_alive,
                TextEdit::singleline(&mut console.input)
                    .id(edit_id)
                    .code_editor()
                    .hint_text(format!(">>> Python in {module}, e.g. DAMAGE = 14"))
                    .desired_width(width),
            )
            .labelled_by(label.id);
        if line.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) {
            run = true;
            // Keep typing: the next fix usually follows the first.
            line.request_focus();
        }
        if ui
            .add_enabled(
                state.worker_alive && !console.input.trim().is_empty(),
                egui::Button::new("Run"),
            )
            .clicked()
        {
            run = true;
        }
    });
    if run
        && state.worker_alive
        && let Some(code) = console.take()
    {
        console.waiting = Some(newest);
        commands.push(UiCommand::Send(Command::Hotfix {
            module: ModuleName(module.clone()),
            code,
        }));
    }

    if console.waiting.is_some() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(
                RichText::new("running… (at the script's next safe point, or at once)")
                    .color(theme::muted(ui.visuals())),
            );
        });
    } else if let Some((entry, hotfix)) = last_hotfix(state) {
        result_ui(ui, entry, hotfix);
    }
    ui.data_mut(|d| d.insert_temp(id, console));
}

/// `s` cut to `max` characters, saying so.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let head: String = s.chars().take(max).collect();
        format!("{head}… (cut; the report shows it whole)")
    }
}

/// The newest hotfix's result: one line (value, exception, or what changed), then its output
/// and traceback, scrolled within a few lines.
fn result_ui(ui: &mut Ui, entry: &HistoryEntry, hotfix: &Hotfix) {
    let r = &entry.report;
    ui.horizontal_wrapped(|ui| {
        ui.label(
            RichText::new(format!("#{} {}:", entry.number, r.module))
                .color(theme::muted(ui.visuals())),
        );
        if let Some(e) = &r.error {
            let place = e.line.map_or_else(String::new, |l| format!(" (line {l})"));
            let first = e.message.lines().next().unwrap_or_default();
            ui.colored_label(theme::error(ui.visuals()), format!("{first}{place}"));
            if r.outcome == Outcome::RolledBack {
                ui.label(
                    RichText::new("the module's names were put back")
                        .color(theme::muted(ui.visuals())),
                );
            }
            return;
        }
        if let Some(value) = &hotfix.value {
            ui.monospace(format!("= {}", cut(value, 200)));
        }
        if !r.changes.is_empty() || hotfix.value.is_none() {
            ui.colored_label(theme::ok(ui.visuals()), what_changed(r));
        }
    });
    let traceback = r
        .error
        .as_ref()
        .filter(|_| r.outcome == Outcome::RolledBack)
        .map(|e| e.traceback.as_str())
        .unwrap_or_default();
    let long_value = hotfix.value.as_ref().filter(|v| v.chars().count() > 200);
    if hotfix.output.is_empty() && traceback.is_empty() && long_value.is_none() {
        return;
    }
    ScrollArea::vertical()
        .id_salt("hotfix result")
        .max_height(64.0)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            if !hotfix.output.is_empty() {
                ui.monospace(cut(hotfix.output.trim_end(), SHOWN_MAX));
            }
            if let Some(value) = long_value {
                ui.monospace(cut(value, SHOWN_MAX));
            }
            if !traceback.is_empty() {
                ui.label(
                    RichText::new(cut(traceback.trim_end(), SHOWN_MAX))
                        .monospace()
                        .color(theme::stderr(ui.visuals())),
                );
            }
        });
}

/// A hotfix's history row: `#4  14:03:07  hotfix balance: DAMAGE 10 → 14 · 0.2 ms`.
pub fn row_text(h: &HistoryEntry, hotfix: &Hotfix) -> String {
    let r = &h.report;
    let what = match &hotfix.value {
        Some(value) if r.error.is_none() && r.changes.is_empty() => {
            let value: String = value.chars().take(24).collect();
            format!("= {value}")
        }
        _ => what_changed(r),
    };
    format!(
        "#{}  {}  hotfix {}: {what} · {:.1} ms",
        h.number,
        clock(h.at, local_offset(h.at)),
        r.module,
        r.duration_ms
    )
}

/// A hotfix's whole report (the report panel, when its history row is selected): the snippet,
/// its value, output and exception, and every name it changed.
pub fn report_ui(ui: &mut Ui, entry: &HistoryEntry, hotfix: &Hotfix) {
    let r = &entry.report;
    ui.heading(format!(
        "Hotfix #{} in {} at {}",
        entry.number,
        r.module,
        clock(entry.at, local_offset(entry.at))
    ));
    ScrollArea::vertical()
        .id_salt("hotfix report")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for line in hotfix.code.lines() {
                ui.monospace(format!(">>> {line}"));
            }
            if let Some(value) = &hotfix.value {
                ui.monospace(value);
            }
            if !hotfix.output.is_empty() {
                ui.separator();
                ui.strong("Output");
                ui.monospace(hotfix.output.trim_end());
            }
            if let Some(e) = &r.error {
                ui.separator();
                let place = e.line.map_or_else(String::new, |l| format!(" (line {l})"));
                ui.colored_label(
                    theme::error(ui.visuals()),
                    RichText::new(format!("{}{place}", e.message)).strong(),
                );
                if let Some(text) = &e.text {
                    ui.monospace(format!("    {}", text.trim_end()));
                }
                ui.label(match r.outcome {
                    Outcome::RolledBack => {
                        "The module's names were put back as they were before the snippet \
                         (changes it made inside objects stay, and are listed below)."
                    }
                    _ => "Nothing ran: the module is unchanged.",
                });
                if !e.traceback.is_empty() {
                    egui::CollapsingHeader::new("Traceback")
                        .id_salt(("hotfix tb", r.id))
                        .default_open(true)
                        .show(ui, |ui| {
                            ui.monospace(&e.traceback);
                        });
                }
            }
            ui.separator();
            if r.changes.is_empty() {
                ui.label(
                    RichText::new("No names of the module changed.")
                        .color(theme::muted(ui.visuals())),
                );
            }
            for c in &r.changes {
                super::history::change_lines(ui, c);
            }
        });
}

/// The hotfix console as the console panel's bottom strip: a panel of its own inside the
/// console panel, drawn before the console's lines, because those fill whatever height they are
/// given; this way they keep the rest of the panel above the input line.
pub fn hotfix_panel(ui: &mut Ui, state: &UiState, commands: &mut Vec<UiCommand>) {
    egui::Panel::bottom("hotfix console")
        .resizable(false)
        .frame(egui::Frame::NONE.inner_margin(egui::Margin::symmetric(0, 4)))
        .show(ui, |ui| hotfix_ui(ui, state, commands));
}
