//! Colours and spacing of the inspector, in one place. Every text colour comes in a dark and a
//! light version, picked by the `Visuals` it is drawn with, so that it keeps WCAG's 4.5:1 in
//! both themes (the tests below check each colour on every background the window draws it on).

use egui::{Color32, Theme, ThemePreference, Visuals};

use crate::protocol::{Action, Outcome};

/// Height of one row in lists and tables.
pub const ROW_HEIGHT: f32 = 20.0;

/// The colour for the theme of `visuals`: `dark` on egui's dark panel, `light` on its light one.
fn pick(visuals: &Visuals, dark: Color32, light: Color32) -> Color32 {
    if visuals.dark_mode { dark } else { light }
}

/// Success: an applied reload, a running script.
pub fn ok(visuals: &Visuals) -> Color32 {
    pick(
        visuals,
        Color32::from_rgb(0x4c, 0xaf, 0x50),
        Color32::from_rgb(16, 112, 36),
    )
}

/// A conflict, or a change that needs a second look.
pub fn warn(visuals: &Visuals) -> Color32 {
    pick(
        visuals,
        Color32::from_rgb(0xe0, 0xa0, 0x20),
        Color32::from_rgb(150, 80, 0),
    )
}

/// A failure. The dark one is 5.2:1 on the dark panel (the earlier 0xe5484d was 4.4:1).
pub fn error(visuals: &Visuals) -> Color32 {
    pick(
        visuals,
        Color32::from_rgb(0xf0, 0x5a, 0x5e),
        Color32::from_rgb(190, 20, 30),
    )
}

/// Changed on disk, or changed by a reload.
pub fn changed(visuals: &Visuals) -> Color32 {
    pick(
        visuals,
        Color32::from_rgb(0x3d, 0x9b, 0xe9),
        Color32::from_rgb(0, 90, 170),
    )
}

/// Secondary words (kinds, hints, empty lists). In dark it is egui's body grey, already the
/// quietest grey that keeps 4.5:1 on the dark panel; in light it is a step lighter than body text.
pub fn muted(visuals: &Visuals) -> Color32 {
    pick(visuals, Color32::from_gray(140), Color32::from_gray(100))
}

/// An added line of a source diff.
pub fn diff_add(visuals: &Visuals) -> Color32 {
    pick(
        visuals,
        Color32::from_rgb(0x6a, 0xc0, 0x6a),
        Color32::from_rgb(10, 110, 34),
    )
}

/// A removed line of a source diff.
pub fn diff_del(visuals: &Visuals) -> Color32 {
    pick(
        visuals,
        Color32::from_rgb(0xe0, 0x70, 0x70),
        Color32::from_rgb(180, 30, 40),
    )
}

/// What the script wrote to stderr, told apart from its stdout without reading as a failure.
pub fn stderr(visuals: &Visuals) -> Color32 {
    pick(
        visuals,
        Color32::from_rgb(0xf0, 0x90, 0x70),
        Color32::from_rgb(165, 60, 0),
    )
}

/// A name a reload deliberately left as it was (kept live, removed): a touch stronger than body
/// text, so that it is not read as "nothing happened".
pub fn kept(visuals: &Visuals) -> Color32 {
    pick(visuals, Color32::from_gray(200), Color32::from_gray(40))
}

/// The colour of a reload's outcome (history rows, report summaries, module marks).
pub fn outcome_color(visuals: &Visuals, outcome: Outcome) -> Color32 {
    match outcome {
        Outcome::Applied => ok(visuals),
        Outcome::Failed | Outcome::RolledBack => error(visuals),
        Outcome::Incompatible => warn(visuals),
    }
}

/// The colour of what a reload did to a name, in reports (the attributes table has
/// `Palette::action`).
pub fn action_color(visuals: &Visuals, action: Action) -> Color32 {
    match action {
        Action::Unchanged => muted(visuals),
        Action::ConflictTookNew | Action::ConflictKeptLive | Action::Replaced => warn(visuals),
        Action::NotApplied => error(visuals),
        Action::CodeSwapped | Action::ClassPatched | Action::TookNew | Action::Added => {
            changed(visuals)
        }
        Action::KeptLive | Action::Removed => kept(visuals),
    }
}

/// egui's visuals for `theme`, as the window draws them (see `adjust`).
pub fn visuals(theme: Theme) -> Visuals {
    let mut visuals = theme.default_visuals();
    adjust(&mut visuals);
    visuals
}

/// Gives egui's visuals a selection colour under which every text colour above still reads:
/// egui's own blues (0,92,128 dark, 144,209,255 light) left the coloured text of a selected row
/// at 2.2:1 to 3.6:1. Nothing else changes, so the dark theme looks as it did.
pub fn adjust(visuals: &mut Visuals) {
    visuals.selection.bg_fill = pick(
        visuals,
        Color32::from_rgb(12, 38, 66),
        Color32::from_rgb(210, 232, 252),
    );
}

/// Adjusts the visuals of both themes (see `adjust`), and picks the dark one when nothing chose
/// a theme yet (neither the user's saved setting nor the status bar's switch): egui would
/// otherwise follow the system's theme, and the window opens dark unless the user picked light.
pub fn install_visuals(ctx: &egui::Context) {
    ctx.all_styles_mut(|style| adjust(&mut style.visuals));
    if ctx.options(|o| o.theme_preference) == ThemePreference::System {
        ctx.set_theme(Theme::Dark);
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
        Palette {
            // A touch brighter than `muted` in dark: the table's rows are tinted too.
            muted: pick(visuals, Color32::from_gray(150), muted(visuals)),
            ok: ok(visuals),
            warn: warn(visuals),
            error: error(visuals),
            changed: changed(visuals),
            conflict_bg: pick(
                visuals,
                Color32::from_rgb(48, 34, 0),
                Color32::from_rgb(255, 232, 170),
            ),
            selected_bg: pick(
                visuals,
                Color32::from_rgb(16, 36, 56),
                Color32::from_rgb(220, 235, 250),
            ),
            accent: pick(
                visuals,
                Color32::from_rgb(90, 170, 255),
                Color32::from_rgb(0, 110, 200),
            ),
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

    /// Every text colour the attributes table uses, on every background it draws, in the
    /// window's dark and light visuals: at least 4.5:1.
    #[test]
    fn attribute_table_text_keeps_4_5_to_1() {
        let mut failures = Vec::new();
        for visuals in [visuals(Theme::Dark), visuals(Theme::Light)] {
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

    /// Every text colour of the window (each named colour, so each outcome and action too, and
    /// egui's own body, strong and selected text) on every background it is drawn on (the
    /// panels, windows, striped rows, egui's selection and text fields), in both themes: at
    /// least 4.5:1. Prints the lowest ratio on each background (`--nocapture`).
    #[test]
    fn every_text_colour_keeps_4_5_to_1_in_both_themes() {
        const OUTCOMES: [Outcome; 4] = [
            Outcome::Applied,
            Outcome::Failed,
            Outcome::RolledBack,
            Outcome::Incompatible,
        ];
        const ACTIONS: [Action; 11] = [
            Action::CodeSwapped,
            Action::ClassPatched,
            Action::Added,
            Action::Removed,
            Action::KeptLive,
            Action::TookNew,
            Action::ConflictTookNew,
            Action::ConflictKeptLive,
            Action::Replaced,
            Action::NotApplied,
            Action::Unchanged,
        ];
        let mut failures = Vec::new();
        for theme in [Theme::Dark, Theme::Light] {
            let v = visuals(theme);
            let backgrounds = [
                ("panel", v.panel_fill),
                ("window", v.window_fill),
                ("striped row", over(v.faint_bg_color, v.panel_fill)),
                ("selection", v.selection.bg_fill),
                ("text field", v.text_edit_bg_color()),
            ];
            let mut texts = vec![
                ("body text".to_string(), v.text_color()),
                ("strong text".to_string(), v.strong_text_color()),
                ("selected text".to_string(), v.selection.stroke.color),
                ("muted".to_string(), muted(&v)),
                ("ok".to_string(), ok(&v)),
                ("warn".to_string(), warn(&v)),
                ("error".to_string(), error(&v)),
                ("changed".to_string(), changed(&v)),
                ("diff add".to_string(), diff_add(&v)),
                ("diff del".to_string(), diff_del(&v)),
                ("stderr".to_string(), stderr(&v)),
                ("kept".to_string(), kept(&v)),
                ("table muted".to_string(), Palette::of(&v).muted),
            ];
            texts.extend(
                OUTCOMES
                    .iter()
                    .map(|&o| (format!("outcome {o:?}"), outcome_color(&v, o))),
            );
            texts.extend(
                ACTIONS
                    .iter()
                    .map(|&a| (format!("action {a:?}"), action_color(&v, a))),
            );
            for (bg_name, bg) in backgrounds {
                let mut lowest = (f32::INFINITY, "");
                for (fg_name, fg) in &texts {
                    let ratio = contrast(*fg, bg);
                    if ratio < lowest.0 {
                        lowest = (ratio, fg_name);
                    }
                    if ratio < 4.5 {
                        failures.push(format!("{theme:?} {fg_name} on {bg_name}: {ratio:.2}"));
                    }
                }
                println!(
                    "{theme:?}, on the {bg_name}: lowest {:.2}:1 ({})",
                    lowest.0, lowest.1
                );
            }
        }
        assert!(failures.is_empty(), "below 4.5:1: {failures:#?}");
    }

    /// Dark is the default and keeps today's colours: only the selection changed.
    #[test]
    fn dark_visuals_are_egui_s_but_for_the_selection() {
        let mut ours = visuals(Theme::Dark);
        assert!(ours.dark_mode && !visuals(Theme::Light).dark_mode);
        assert_ne!(ours.selection.bg_fill, Visuals::dark().selection.bg_fill);
        ours.selection.bg_fill = Visuals::dark().selection.bg_fill;
        assert_eq!(ours, Visuals::dark());
        assert_eq!(error(&ours), Color32::from_rgb(0xf0, 0x5a, 0x5e));
    }

    /// Left to egui, a window on a light desktop would open light; it opens dark, and a theme
    /// the user chose stays.
    #[test]
    fn the_window_opens_dark_whatever_the_system_prefers() {
        let ctx = egui::Context::default();
        let input = egui::RawInput {
            system_theme: Some(Theme::Light),
            ..Default::default()
        };
        // A frame: egui reads the system's theme (the font atlas it makes is not drawn).
        let frame = || ctx.run_ui(input.clone(), |_| {}).textures_delta.clear();
        frame();
        assert_eq!(ctx.theme(), Theme::Light, "egui follows the system");
        install_visuals(&ctx);
        frame();
        assert_eq!(ctx.theme(), Theme::Dark);
        assert_eq!(ctx.global_style().visuals, visuals(Theme::Dark));
        ctx.set_theme(Theme::Light);
        install_visuals(&ctx);
        frame();
        assert_eq!(ctx.theme(), Theme::Light, "a chosen theme stays");
        assert_eq!(ctx.global_style().visuals, visuals(Theme::Light));
    }

    #[test]
    fn contrast_matches_the_wcag_examples() {
        assert!((contrast(Color32::BLACK, Color32::WHITE) - 21.0).abs() < 0.01);
        assert!((contrast(Color32::WHITE, Color32::WHITE) - 1.0).abs() < 0.01);
        // The conflict row before the fix: grey 140 on the old amber wash over the dark panel.
        let old_wash = Color32::from_rgba_premultiplied(0x60, 0x40, 0x00, 0x60);
        let old = over(old_wash, egui::Visuals::dark().panel_fill);
        assert!(contrast(muted(&egui::Visuals::dark()), old) < 2.5);
    }
}
