//! Colours and spacing of the inspector, in one place.

use egui::Color32;

use crate::protocol::{Action, Outcome};

pub const OK: Color32 = Color32::from_rgb(0x4c, 0xaf, 0x50);
pub const WARN: Color32 = Color32::from_rgb(0xe0, 0xa0, 0x20);
/// 5.2:1 on the dark panel (the earlier 0xe5484d was 4.4:1).
pub const ERROR: Color32 = Color32::from_rgb(0xf0, 0x5a, 0x5e);
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

/// The colours of the attributes table, for egui's dark or light visuals: every text colour here
/// keeps WCAG's 4.5:1 against the panel, the striped rows and the two row highlights (the tests
/// below check each pair; a conflict row once measured 2.1:1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Palette {
    pub muted: Color32,
    pub ok: Color32,
    pub warn: Color32,
    pub error: Color32,
    pub changed: Color32,
    /// A row a reload would resolve as a conflict (or that removes a name still in use).
    pub conflict_bg: Color32,
    /// The row shown in the value view (egui's selection blue is too light under coloured
    /// text); drawn with an outline of `accent`.
    pub selected_bg: Color32,
    pub accent: Color32,
}

impl Palette {
    pub fn of(visuals: &egui::Visuals) -> Palette {
        if visuals.dark_mode {
            Palette {
                muted: Color32::from_gray(150),
                ok: OK,
                warn: WARN,
                error: ERROR,
                changed: CHANGED,
                conflict_bg: Color32::from_rgb(48, 34, 0),
                selected_bg: Color32::from_rgb(16, 36, 56),
                accent: Color32::from_rgb(90, 170, 255),
            }
        } else {
            Palette {
                muted: Color32::from_gray(100),
                ok: Color32::from_rgb(20, 120, 40),
                warn: Color32::from_rgb(150, 80, 0),
                error: Color32::from_rgb(190, 20, 30),
                changed: Color32::from_rgb(0, 90, 170),
                conflict_bg: Color32::from_rgb(255, 232, 170),
                selected_bg: Color32::from_rgb(220, 235, 250),
                accent: Color32::from_rgb(0, 110, 200),
            }
        }
    }

    /// The colour of an action's words (as `action_color`, readable on this palette's rows).
    pub fn action(&self, action: Action) -> Color32 {
        match action {
            Action::Unchanged | Action::KeptLive | Action::Removed => self.muted,
            Action::ConflictTookNew | Action::ConflictKeptLive | Action::Replaced => self.warn,
            Action::NotApplied => self.error,
            Action::CodeSwapped | Action::ClassPatched | Action::TookNew | Action::Added => {
                self.changed
            }
        }
    }
}

/// WCAG 2 contrast ratio of two opaque colours (1 to 21).
pub fn contrast(a: Color32, b: Color32) -> f32 {
    fn luminance(c: Color32) -> f32 {
        let channel = |v: u8| {
            let v = f32::from(v) / 255.0;
            if v <= 0.04045 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(c.r()) + 0.7152 * channel(c.g()) + 0.0722 * channel(c.b())
    }
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `top` drawn over `under` (egui's colours are premultiplied).
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "the mix of two channels stays within 0..=255"
    )]
    fn over(top: Color32, under: Color32) -> Color32 {
        let a = f32::from(top.a()) / 255.0;
        let mix = |t: u8, u: u8| (f32::from(t) + f32::from(u) * (1.0 - a)).round().min(255.0) as u8;
        Color32::from_rgb(
            mix(top.r(), under.r()),
            mix(top.g(), under.g()),
            mix(top.b(), under.b()),
        )
    }

    /// Every text colour the attributes table uses, on every background it draws, in egui's
    /// dark and light visuals: at least 4.5:1.
    #[test]
    fn attribute_table_text_keeps_4_5_to_1() {
        let mut failures = Vec::new();
        for visuals in [egui::Visuals::dark(), egui::Visuals::light()] {
            let p = Palette::of(&visuals);
            let panel = visuals.panel_fill;
            let backgrounds = [
                ("panel", panel),
                ("striped row", over(visuals.faint_bg_color, panel)),
                ("conflict row", p.conflict_bg),
                ("selected row", p.selected_bg),
            ];
            let texts = [
                ("body text", visuals.text_color()),
                ("strong text", visuals.strong_text_color()),
                ("muted", p.muted),
                ("ok", p.ok),
                ("warn", p.warn),
                ("error", p.error),
                ("changed", p.changed),
                ("toggle", visuals.widgets.inactive.fg_stroke.color),
                ("hovered toggle", visuals.widgets.hovered.fg_stroke.color),
            ];
            for (bg_name, bg) in backgrounds {
                for (fg_name, fg) in texts {
                    let ratio = contrast(fg, bg);
                    if ratio < 4.5 {
                        failures.push(format!(
                            "{} {fg_name} on {bg_name}: {ratio:.2}",
                            if visuals.dark_mode { "dark" } else { "light" }
                        ));
                    }
                }
            }
            // The chosen toggle: egui's selection colours.
            let chosen = contrast(visuals.selection.stroke.color, visuals.selection.bg_fill);
            if chosen < 4.5 {
                failures.push(format!("selected toggle: {chosen:.2}"));
            }
            let hovered = contrast(
                visuals.widgets.hovered.fg_stroke.color,
                visuals.widgets.hovered.weak_bg_fill,
            );
            if hovered < 4.5 {
                failures.push(format!("hovered toggle on its fill: {hovered:.2}"));
            }
        }
        assert!(failures.is_empty(), "below 4.5:1: {failures:#?}");
    }

    #[test]
    fn contrast_matches_the_wcag_examples() {
        assert!((contrast(Color32::BLACK, Color32::WHITE) - 21.0).abs() < 0.01);
        assert!((contrast(Color32::WHITE, Color32::WHITE) - 1.0).abs() < 0.01);
        // The conflict row before the fix: grey 140 on the old amber wash over the dark panel.
        let old = over(CONFLICT_BG, egui::Visuals::dark().panel_fill);
        assert!(contrast(MUTED, old) < 2.5);
    }
}
