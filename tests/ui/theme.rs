//! Issue 13: the theme switch in the status bar (Dark, the default, or Light), applied at once
//! and remembered between runs through an in-memory storage (the user's own is never touched).

use egui::Theme;
use egui_kittest::kittest::Queryable;
use swapscope::ui::settings::{KEY, Settings};
use swapscope::ui::theme::visuals;

use super::{MemoryStorage, app_harness, started};

/// The switch names the theme it switches to.
const LIGHT: &str = "☀ Light";
const DARK: &str = "🌙 Dark";

fn dark_mode(ctx: &egui::Context) -> bool {
    ctx.global_style().visuals.dark_mode
}

#[test]
fn the_window_opens_dark_and_light_switches_it_and_back() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(3);
    assert!(dark_mode(&h.ctx), "dark by default");
    assert_eq!(
        h.ctx.global_style().visuals.selection.bg_fill,
        visuals(Theme::Dark).selection.bg_fill,
        "with the window's selection colour"
    );

    h.get_by_label(LIGHT).click();
    h.run_steps(2);
    assert!(!dark_mode(&h.ctx), "Light switches the whole window");
    assert_eq!(
        h.ctx.global_style().visuals.selection.bg_fill,
        visuals(Theme::Light).selection.bg_fill
    );
    assert!(
        h.query_by_label(LIGHT).is_none(),
        "the switch now offers dark"
    );
    h.get_by_label(DARK).click();
    h.run_steps(2);
    assert!(dark_mode(&h.ctx), "and Dark back");
}

#[test]
fn the_theme_survives_a_save_and_restore() {
    let mut storage = MemoryStorage::default();

    // A session the window started, switched to light.
    let (mut h, fake) = app_harness();
    let ctx = h.ctx.clone();
    h.state_mut().restore(&ctx, None);
    started(&fake);
    h.run_steps(3);
    h.get_by_label(LIGHT).click();
    h.run_steps(2);
    h.state_mut().save_settings(&mut storage);
    assert_eq!(
        Settings::load(&storage).map(|s| s.theme),
        Some(Theme::Light)
    );

    // The next run opens light at once.
    let (mut h, fake) = app_harness();
    let ctx = h.ctx.clone();
    h.state_mut().restore(&ctx, Some(&storage));
    started(&fake);
    h.run_steps(3);
    assert!(!dark_mode(&h.ctx), "restored light");
    // Back to dark, saved and restored again.
    h.get_by_label(DARK).click();
    h.run_steps(2);
    h.state_mut().save_settings(&mut storage);
    assert_eq!(Settings::load(&storage).map(|s| s.theme), Some(Theme::Dark));
    let (mut h, _fake) = app_harness();
    let ctx = h.ctx.clone();
    h.state_mut().restore(&ctx, Some(&storage));
    h.run_steps(2);
    assert!(dark_mode(&h.ctx), "restored dark");
}

#[test]
fn settings_from_before_the_theme_switch_open_dark() {
    let mut storage = MemoryStorage::default();
    eframe::Storage::set_string(
        &mut storage,
        KEY,
        "(zoom: 1.5, auto_reload: true, closure_scan: false)".into(),
    );
    let loaded = Settings::load(&storage).expect("an older file still loads");
    assert_eq!(loaded.theme, Theme::Dark);
    assert!((loaded.zoom - 1.5).abs() < 1e-6 && loaded.auto_reload);

    let (mut h, _fake) = app_harness();
    let ctx = h.ctx.clone();
    h.state_mut().restore(&ctx, Some(&storage));
    h.run_steps(2);
    assert!(dark_mode(&h.ctx));
}
