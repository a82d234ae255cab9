//! Issue 13, "expected by users": the modules list as a package tree (open and close, the
//! filter shows a deep match with the packages above it, still only the visible rows of 10,000
//! laid out), arrow keys and Enter in the list, and the settings remembered between runs (zoom,
//! auto-reload, closure scan) through an in-memory storage (the user's own is never touched).

use egui::{Key, Modifiers};
use egui_kittest::kittest::Queryable;
use swapscope::engine::Group;
use swapscope::runtime::{Command, Event};
use swapscope::ui::UiCommand;
use swapscope::ui::modules::modules_ui;
use swapscope::ui::settings::{KEY, Settings};
use swapscope::ui::state::UiState;

use super::{MemoryStorage, app_harness, module, panel_harness, started};

/// A game with packages: `game` (a module itself), `game.units`, `game.stats`, and
/// `game.ai.brain` under `game.ai`, which is not loaded itself; `os` and `os.path` in the
/// standard library.
fn tree_modules() -> Vec<swapscope::engine::ModuleInfo> {
    vec![
        module("__main__", Group::Project),
        module("game", Group::Project),
        module("game.units", Group::Project),
        module("game.stats", Group::Project),
        module("game.ai.brain", Group::Project),
        module("os", Group::Stdlib),
        module("os.path", Group::Stdlib),
    ]
}

#[test]
fn the_modules_list_is_a_package_tree_that_opens_and_closes() {
    let (mut h, fake) = app_harness();
    started(&fake);
    fake.send(Event::Modules(tree_modules()));
    h.run_steps(3);
    for name in ["game", "units", "stats", "ai", "brain"] {
        assert!(h.query_by_label(name).is_some(), "{name} listed");
    }
    assert!(
        h.query_by_label("game.units").is_none(),
        "children show their last part"
    );
    // The package is a module itself: its name selects it.
    h.get_by_label("game").click();
    h.run_steps(2);
    assert_eq!(h.state().state.selected.as_deref(), Some("game"));

    // Closed, it hides its modules and counts its changed ones.
    h.state_mut().state.changed.insert("game.units".into());
    h.state_mut().state.changed.insert("game.ai.brain".into());
    h.get_by_label("Close game").click();
    h.run_steps(2);
    assert!(h.query_by_label("units").is_none());
    assert!(h.query_by_label("brain").is_none());
    assert!(
        h.query_by_label("Open game").is_some(),
        "the package row stays"
    );
    assert!(h.query_by_label("(3)").is_some(), "modules below");
    assert!(h.query_by_label("● 2").is_some(), "changed below");

    h.get_by_label("Open game").click();
    h.run_steps(2);
    assert!(h.query_by_label("units").is_some());
    assert!(
        h.query_by_label("● 2").is_none(),
        "open: each row has its own ●"
    );

    // `game.ai` is only a package: its name opens and closes it.
    h.get_by_label("ai").click();
    h.run_steps(2);
    assert!(h.query_by_label("brain").is_none());
    assert!(h.query_by_label("units").is_some());

    // Other groups' packages start closed.
    h.get_by_label_contains("Standard library (2)").click();
    h.run_steps(2);
    assert!(h.query_by_label("os").is_some());
    assert!(h.query_by_label("path").is_none());
    h.get_by_label("Open os").click();
    h.run_steps(2);
    assert!(h.query_by_label("path").is_some());
}

#[test]
fn the_filter_shows_a_deep_match_with_the_packages_above_it() {
    let mut state = UiState::default();
    let mut modules = tree_modules();
    modules.push(module("encodings", Group::Stdlib));
    modules.push(module("encodings.idna", Group::Stdlib));
    state.modules = modules;
    state.filter = "brain".into();
    let mut h = panel_harness(state, modules_ui);
    h.run();
    assert!(h.query_by_label("brain").is_some());
    assert!(h.query_by_label("ai").is_some(), "its package");
    assert!(h.query_by_label("game").is_some(), "and the package above");
    assert!(h.query_by_label("units").is_none());
    assert!(h.query_by_label("balance").is_none());
    assert!(h.query_by_label_contains("Standard library").is_none());
    assert!(h.query_by_label_contains("Project (1)").is_some());

    // In a closed group, below a package that starts closed.
    h.state_mut().0.filter = "idna".into();
    h.run();
    assert!(h.query_by_label("idna").is_some());
    assert!(h.query_by_label("encodings").is_some());
    assert!(h.query_by_label("game").is_none());
}

#[test]
fn a_tree_of_10000_modules_lays_out_only_visible_rows() {
    let mut state = UiState::default();
    state.modules = (0..10_000)
        .map(|i| {
            let group = if i % 2 == 0 {
                Group::Project
            } else {
                Group::SitePackages
            };
            module(&format!("pkg_{:02}.mod_{i:05}", i % 100), group)
        })
        .collect();
    state.expanded.insert(Group::SitePackages);
    let mut h = panel_harness(state, modules_ui);
    h.run();
    assert!(h.query_by_label("pkg_00").is_some());
    assert!(h.query_by_label("mod_00000").is_some());
    let laid_out = h.query_all_by_label_contains("mod_").count();
    assert!(laid_out > 10, "{laid_out} rows");
    assert!(
        laid_out < 100,
        "{laid_out} rows laid out for a 900 px window"
    );
    assert!(h.query_by_label("mod_09998").is_none());
}

#[test]
fn arrow_keys_move_the_selection_and_enter_reloads_it() {
    let (mut h, fake) = app_harness();
    started(&fake);
    fake.send(Event::Modules(vec![
        module("balance", Group::Project),
        module("players", Group::Project),
        module("game", Group::Project),
        module("game.units", Group::Project),
    ]));
    h.run_steps(3);
    assert_eq!(h.state().state.selected.as_deref(), Some("balance"));
    // The rows: balance, game, units, players.
    h.key_press(Key::ArrowDown);
    h.run_steps(2);
    assert_eq!(h.state().state.selected.as_deref(), Some("game"));
    h.key_press(Key::ArrowDown);
    h.run_steps(2);
    assert_eq!(h.state().state.selected.as_deref(), Some("game.units"));
    h.key_press(Key::ArrowDown);
    h.key_press(Key::ArrowDown);
    h.run_steps(2);
    assert_eq!(
        h.state().state.selected.as_deref(),
        Some("players"),
        "stops at the last row"
    );
    h.key_press(Key::ArrowUp);
    h.run_steps(2);
    assert_eq!(h.state().state.selected.as_deref(), Some("game.units"));
    fake.drain();
    h.key_press(Key::Enter);
    h.run_steps(2);
    let reloads: Vec<Command> = fake
        .drain()
        .into_iter()
        .filter(|c| matches!(c, Command::Reload { dry_run: false, .. }))
        .collect();
    assert!(
        matches!(reloads.as_slice(), [Command::Reload { module, .. }] if module.0 == "game.units"),
        "{reloads:?}"
    );
}

#[test]
fn arrow_keys_leave_a_focused_text_field_alone() {
    let mut state = UiState::default();
    state.modules = vec![
        module("balance", Group::Project),
        module("players", Group::Project),
    ];
    state.selected = Some("balance".into());
    let mut h = panel_harness(state, modules_ui);
    h.run();
    h.get_by_role(egui::accesskit::Role::TextInput).click();
    h.run();
    h.key_press(Key::ArrowDown);
    h.key_press(Key::Enter);
    h.run();
    assert!(
        !h.state()
            .1
            .iter()
            .any(|c| matches!(c, UiCommand::SelectModule(_) | UiCommand::ReloadSelected)),
        "{:?}",
        h.state().1
    );
}

#[test]
fn arrow_keys_scroll_the_selection_into_view() {
    let (mut h, fake) = app_harness();
    started(&fake);
    fake.send(Event::Modules(
        (0..2_000)
            .map(|i| module(&format!("pkg_mod_{i:05}"), Group::Project))
            .collect(),
    ));
    h.run_steps(3);
    h.state_mut().state.selected = Some("pkg_mod_00000".into());
    for _ in 0..80 {
        h.key_press(Key::ArrowDown);
        h.run_steps(1);
    }
    h.run_steps(30);
    assert_eq!(h.state().state.selected.as_deref(), Some("pkg_mod_00080"));
    assert!(
        h.query_by_label("pkg_mod_00079").is_some(),
        "the rows around the selection are laid out"
    );
    assert!(
        h.query_by_label("pkg_mod_00000").is_none(),
        "the list scrolled"
    );
}

#[test]
fn zoom_and_switches_survive_a_save_and_restore() {
    let mut storage = MemoryStorage::default();

    // A session the window started: zoom in twice, turn both switches on.
    let (mut h, fake) = app_harness();
    let ctx = h.ctx.clone();
    h.state_mut().state.can_restart = true;
    h.state_mut().restore(&ctx, None);
    started(&fake);
    h.run_steps(3);
    assert!(
        fake.drain()
            .iter()
            .all(|c| !matches!(c, Command::SetAutoReload(_))),
        "nothing saved: nothing restored"
    );
    h.get_by_label("A+").click();
    h.run_steps(2);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Equals);
    h.run_steps(2);
    assert!(
        (h.ctx.zoom_factor() - 1.2).abs() < 1e-4,
        "A+ and Ctrl+= zoom in"
    );
    assert!(
        h.query_by_label("120%").is_some(),
        "the status bar shows it"
    );
    fake.send(Event::AutoReload(true));
    fake.send(Event::ClosureScan(true));
    fake.send(Event::WholeReloads(true));
    h.run_steps(2);
    h.state_mut().save_settings(&mut storage);
    assert_eq!(
        Settings::load(&storage),
        Some(Settings {
            zoom: 1.2,
            auto_reload: true,
            closure_scan: true,
            whole_reloads: true,
            ..Settings::default()
        })
    );

    // The next run restores the zoom at once, and the switches once the runtime started.
    let (mut h, fake) = app_harness();
    let ctx = h.ctx.clone();
    h.state_mut().state.can_restart = true;
    h.state_mut().restore(&ctx, Some(&storage));
    h.run_steps(2);
    assert!((h.ctx.zoom_factor() - 1.2).abs() < 1e-4);
    assert!(fake.drain().is_empty(), "nothing before Started");
    // Closed before the program started: the saved switches are kept, not the program's.
    let mut early = MemoryStorage::default();
    h.state_mut().save_settings(&mut early);
    assert_eq!(Settings::load(&early).map(|s| s.auto_reload), Some(true));
    started(&fake);
    h.run_steps(3);
    let sent = fake.drain();
    assert!(sent.contains(&Command::SetAutoReload(true)), "{sent:?}");
    assert!(sent.contains(&Command::SetClosureScan(true)), "{sent:?}");
    assert!(sent.contains(&Command::SetWholeReloads(true)), "{sent:?}");
    let listed = sent.iter().position(|c| *c == Command::ListModules);
    let auto = sent.iter().position(|c| *c == Command::SetAutoReload(true));
    assert!(listed < auto, "after Started: {sent:?}");

    // Attached to someone else's program: the zoom comes back, its auto-reload is left alone.
    let (mut h, fake) = app_harness();
    let ctx = h.ctx.clone();
    h.state_mut().restore(&ctx, Some(&storage));
    started(&fake);
    h.run_steps(3);
    assert!((h.ctx.zoom_factor() - 1.2).abs() < 1e-4);
    let sent = fake.drain();
    assert!(
        !sent.iter().any(|c| matches!(
            c,
            Command::SetAutoReload(_) | Command::SetClosureScan(_) | Command::SetWholeReloads(_)
        )),
        "{sent:?}"
    );
    // Its (off) switches are not saved over the user's.
    h.state_mut().save_settings(&mut storage);
    assert_eq!(Settings::load(&storage).map(|s| s.auto_reload), Some(true));
}

#[test]
fn settings_from_a_damaged_or_older_file_are_safe() {
    let mut storage = MemoryStorage::default();
    eframe::Storage::set_string(&mut storage, KEY, "not ron at all".into());
    assert_eq!(Settings::load(&storage), None);
    eframe::Storage::set_string(&mut storage, KEY, "(zoom: 40.0)".into());
    assert_eq!(
        Settings::load(&storage),
        Some(Settings {
            zoom: 3.0,
            auto_reload: false,
            closure_scan: false,
            ..Settings::default()
        }),
        "missing fields take the defaults, the zoom stays usable"
    );
    // Tests never save: only `restore` (called by the real window) turns saving on.
    let (mut h, _fake) = app_harness();
    let mut untouched = MemoryStorage::default();
    h.state_mut().save_settings(&mut untouched);
    assert!(untouched.0.is_empty());
}
