//! Colours and spacing of the inspector, in one place.

use egui::Color32;

use crate::protocol::{Action, Outcome};

pub const OK: Color32 = Color32::from_rgb(0x4c, 0xaf, 0x50);
pub const WARN: Color32 = Color32::from_rgb(0xe0, 0xa0, 0x20);
pub const ERROR: Color32 = Color32::from_rgb(0xe5, 0x48, 0x4d);
pub const CHANGED: Color32 = Color32::from_rgb(0x3d, 0x9b, 0xe9);
pub const MUTED: Color32 = Color32::from_gray(140);
pub const CONFLICT_BG: Color32 = Color32::from_rgba_premultiplied(0x60, 0x40, 0x00, 0x60);
pub const DIFF_ADD: Color32 = Color32::from_rgb(0x6a, 0xc0, 0x6a);
pub const DIFF_DEL: Color32 = Color32::from_rgb(0xe0, 0x70, 0x70);
pub const STDERR: Color32 = Color32::from_rgb(0xf0, 0x90, 0x70);

/// Height of one row in lists and tables.
pub const ROW_HEIGHT: f32 = 20.0;

pub fn outcome_color(outcome: Outcome) -> Color32 {
    match outcome {
        Outcome::Applied => OK,
        Outcome::Failed | Outcome::RolledBack => ERROR,
        Outcome::Incompatible => WARN,
    }
}

pub fn action_color(action: Action) -> Color32 {
    match action {
        Action::Unchanged => MUTED,
        Action::ConflictTookNew | Action::ConflictKeptLive | Action::Replaced => WARN,
        Action::NotApplied => ERROR,
        Action::CodeSwapped | Action::ClassPatched | Action::TookNew | Action::Added => CHANGED,
        Action::KeptLive | Action::Removed => egui::Color32::from_gray(200),
    }
}

/// The words the UI uses for an action.
pub fn action_label(action: Action) -> &'static str {
    match action {
        Action::CodeSwapped => "code swapped",
        Action::ClassPatched => "class patched",
        Action::Added => "added",
        Action::Removed => "removed",
        Action::KeptLive => "kept live",
        Action::TookNew => "took new",
        Action::ConflictTookNew => "conflict: took new",
        Action::ConflictKeptLive => "conflict: kept live",
        Action::Replaced => "replaced",
        Action::NotApplied => "not applied",
        Action::Unchanged => "unchanged",
    }
}

pub fn outcome_label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Applied => "applied",
        Outcome::Failed => "failed",
        Outcome::RolledBack => "rolled back",
        Outcome::Incompatible => "incompatible",
    }
}

/// Lets proportional text fall back to the monospace font, which has the arrows, bullets and
/// box-drawing characters reports use (`10 → 14`).
pub fn install_fonts(ctx: &egui::Context) {
    let mut fonts = egui::FontDefinitions::default();
    let mono: Vec<String> = fonts
        .families
        .get(&egui::FontFamily::Monospace)
        .cloned()
        .unwrap_or_default();
    if let Some(prop) = fonts.families.get_mut(&egui::FontFamily::Proportional) {
        for f in mono {
            if !prop.contains(&f) {
                prop.push(f);
            }
        }
    }
    ctx.set_fonts(fonts);
}
