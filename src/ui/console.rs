//! The script's console: its stdout and stderr as they arrive.
//!
//! It follows the newest line while scrolled to the bottom and stays where the user scrolled to
//! otherwise (a button brings it back); a filter keeps the lines that contain some text; Copy puts
//! the lines shown on the system clipboard. What it remembers between frames (the filter, whether
//! it follows) lives in egui's memory under the panel's id, so the panel needs nothing from the
//! app but the lines.

use egui::{Id, Label, RichText, ScrollArea, TextEdit, TextStyle, Ui};

use super::state::UiState;
use super::theme;
use crate::protocol::Stream;

/// How far (in points) the scroll offset may be from the bottom and still count as "at the
/// bottom": a wheel that springs back or a dragged scroll bar rarely lands on the exact pixel.
const AT_BOTTOM: f32 = 1.0;

/// What the console keeps between frames.
#[derive(Clone, Debug)]
struct View {
    filter: String,
    /// Scrolled to the newest line: new lines scroll into view.
    follow: bool,
    /// Last frame's scroll geometry, to put the newest line at the bottom in the same frame it
    /// arrives (the window may not draw again for a while, so a frame's lag would show).
    seen: Option<Geometry>,
}

impl Default for View {
    fn default() -> Self {
        View {
            filter: String::new(),
            follow: true,
            seen: None,
        }
    }
}

/// The scroll area's sizes in one frame.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    rows: usize,
    content: f32,
    viewport: f32,
    /// Height the panel gave the scroll area (it changes when the panel is resized).
    available: f32,
}

impl View {
    /// The scroll offset that puts the last of `rows` rows at the bottom, from last frame's
    /// geometry: the rows' height changes as `show_rows` computes it, the viewport as the panel
    /// was resized.
    fn bottom(&self, rows: usize, row: f32, spacing: f32, available: f32) -> Option<f32> {
        #[expect(
            clippy::cast_precision_loss,
            reason = "row counts are capped at CONSOLE_LINES"
        )]
        let height = |rows: usize| (rows as f32 * (row + spacing) - spacing).max(0.0);
        let seen = self.seen?;
        let content = seen.content + height(rows) - height(seen.rows);
        let viewport = seen.viewport + (available - seen.available);
        Some((content - viewport).max(0.0))
    }
}

/// Whether `line` contains `needle_lower` (already lowercase), ignoring case. Allocates only
/// for non-ASCII filters: it runs over every kept line each frame.
fn matches(line: &str, needle_lower: &str) -> bool {
    if needle_lower.is_empty() {
        return true;
    }
    if needle_lower.is_ascii() {
        let needle = needle_lower.as_bytes();
        line.as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    } else {
        line.to_lowercase().contains(needle_lower)
    }
}

/// The script's stdout and stderr, with a filter, Copy, and "Jump to newest" when scrolled up.
pub fn console_ui(ui: &mut Ui, state: &UiState) {
    let id = Id::unique("swapscope console");
    let mut view: View = ui.data(|d| d.get_temp(id)).unwrap_or_default();
    let needle = view.filter.to_lowercase();
    let shown: Vec<usize> = state
        .console
        .iter()
        .enumerate()
        .filter(|(_, (_, line))| matches(line, &needle))
        .map(|(i, _)| i)
        .collect();

    let mut jump = false;
    ui.horizontal(|ui| {
        ui.strong("Console");
        ui.add(
            TextEdit::singleline(&mut view.filter)
                .hint_text("Filter")
                .desired_width(220.0),
        )
        .on_hover_text("Show only the lines that contain this text (any case)");
        if !view.filter.is_empty() {
            if ui
                .small_button("Clear")
                .on_hover_text("Show every line again")
                .clicked()
            {
                view.filter.clear();
            }
            ui.weak(format!("{} of {} lines", shown.len(), state.console.len()));
        }
        if ui
            .button("Copy")
            .on_hover_text("Copy the lines shown to the clipboard")
            .clicked()
        {
            let mut text = String::new();
            for &i in &shown {
                if let Some((_, line)) = state.console.get(i) {
                    text.push_str(line.trim_end_matches('\n'));
                    text.push('\n');
                }
            }
            ui.ctx().copy_text(text);
        }
        if !view.follow
            && ui
                .button("⏬ Jump to newest")
                .on_hover_text("Scroll to the newest line and follow new output again")
                .clicked()
        {
            jump = true;
        }
    });

    // One line per row, never wrapped: every row is exactly one monospace line high, so the rows
    // not on screen are neither laid out nor mis-measured (a wrapped line would push the newest
    // one under the status bar).
    let row = ui.text_style_height(&TextStyle::Monospace);
    let spacing = ui.spacing().item_spacing.y;
    let available = ui.available_height();
    let forced = (view.follow || jump)
        .then(|| view.bottom(shown.len(), row, spacing, available))
        .flatten();
    // No rubber band: while following, the offset set below is past last frame's end whenever
    // lines arrived, and egui would spring it back there (taking the newest lines out of view).
    ui.spacing_mut().scroll.kinetic.rubber_band = false;
    let mut area = ScrollArea::both()
        .id_salt("console")
        .auto_shrink([false, false]);
    if let Some(y) = forced {
        area = area.vertical_scroll_offset(y);
    } else if view.follow || jump {
        area = area.stick_to_bottom(true);
    }
    let out = area.show_rows(ui, row, shown.len(), |ui, range| {
        for &i in shown.get(range).unwrap_or_default() {
            let Some((stream, line)) = state.console.get(i) else {
                continue;
            };
            let text = RichText::new(line.trim_end_matches('\n')).monospace();
            let text = match stream {
                Stream::Stdout => text,
                Stream::Stderr => text.color(theme::stderr(ui.visuals())),
            };
            ui.add(Label::new(text).extend());
        }
    });

    let max = (out.content_size.y - out.inner_rect.height()).max(0.0);
    let offset = out.state.clamped_offset().y;
    view.follow = match forced {
        // Placed at the bottom this frame: it follows unless the user scrolled up from there.
        Some(y) => (offset - y).abs() <= AT_BOTTOM || offset >= max - AT_BOTTOM,
        None => offset >= max - AT_BOTTOM,
    };
    view.seen = Some(Geometry {
        rows: shown.len(),
        content: out.content_size.y,
        viewport: out.inner_rect.height(),
        available,
    });
    ui.data_mut(|d| d.insert_temp(id, view));
}
