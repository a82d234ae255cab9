//! The script's console: its stdout and stderr as they arrive.

use egui::{RichText, Ui};

use super::state::UiState;
use super::theme;
use crate::protocol::Stream;

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
