#![cfg(all(feature = "gui", feature = "embedded"))]
#![expect(
    clippy::field_reassign_with_default,
    reason = "each case sets the few fields it needs on a default state"
)]
//! The inspector with `egui_kittest`: each panel on fake state, the whole app on fake channel
//! ends, and one end-to-end run of the demo on the real runtime. No display needed. One binary:
//! the areas added later are submodules that share the helpers here.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use swapscope::engine::{
    Action, AttrInfo, Change, ErrorInfo, Group, Kind, ModuleInfo, Outcome, Override, ReloadReport,
    StaleRef,
};
use swapscope::runtime::{Command, Event, ModuleName};
use swapscope::ui::state::UiState;
use swapscope::ui::{InspectorApp, UiCommand, modules};

mod attributes;
mod console;
mod first_launch;
mod history;
mod hotfix;
mod navigation;
mod plot;
mod reload_safety;
mod theme;

const SIZE: [f32; 2] = [1400.0, 900.0];

fn module(name: &str, group: Group) -> ModuleInfo {
    ModuleInfo {
        name: name.into(),
        file: Some(format!("/game/{name}.py")),
        group,
        tracked: group == Group::Project,
        changed_on_disk: false,
        last_outcome: None,
    }
}

fn attr(qualname: &str, kind: Kind, repr: &str) -> AttrInfo {
    AttrInfo::new(
        qualname.rsplit('.').next().unwrap_or(qualname).into(),
        qualname.into(),
        kind,
        repr.into(),
    )
}

fn change(qualname: &str, kind: Kind, action: Action, old: &str, new: &str) -> Change {
    Change {
        name: qualname.rsplit('.').next().unwrap_or(qualname).into(),
        qualname: qualname.into(),
        kind,
        action,
        old: old.into(),
        new: new.into(),
        note: String::new(),
    }
}

fn report(id: u64, module: &str, outcome: Outcome, changes: Vec<Change>) -> ReloadReport {
    ReloadReport {
        saves: 0,
        id,
        module: module.into(),
        file: format!("/game/{module}.py"),
        outcome,
        error: None,
        duration_ms: 1.5,
        dry_run: false,
        undo: false,
        mode: swapscope::protocol::Mode::default(),
        mode_note: String::new(),
        changes,
        stale_refs: Vec::new(),
    }
}

/// eframe's storage, in memory.
#[derive(Default)]
struct MemoryStorage(std::collections::HashMap<String, String>);

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }

    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }

    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }

    fn flush(&mut self) {}
}

/// A harness drawing one panel on `(UiState, actions)`.
fn panel_harness(
    state: UiState,
    panel: fn(&mut egui::Ui, &UiState, &mut Vec<UiCommand>),
) -> Harness<'static, (UiState, Vec<UiCommand>)> {
    Harness::builder().with_size(SIZE).build_ui_state(
        move |ui, (state, actions)| panel(ui, state, actions),
        (state, Vec::new()),
    )
}

#[test]
fn modules_panel_lists_project_first_and_selects() {
    let mut state = UiState::default();
    state.modules = vec![
        module("balance", Group::Project),
        module("players", Group::Project),
        module("os", Group::Stdlib),
    ];
    state.changed.insert("balance".into());
    let mut h = panel_harness(state, modules::modules_ui);
    h.run();
    assert!(h.query_by_label("os").is_none(), "stdlib starts collapsed");
    h.get_by_label("players").click();
    h.run();
    assert_eq!(h.state().1, vec![UiCommand::SelectModule("players".into())]);
    h.get_by_label_contains("Standard library (1)").click();
    h.run();
    assert_eq!(
        h.state().1.last(),
        Some(&UiCommand::ToggleGroup(Group::Stdlib))
    );
}

#[test]
fn modules_panel_lays_out_only_visible_rows_of_10000() {
    let mut state = UiState::default();
    state.modules = (0..10_000)
        .map(|i| module(&format!("pkg_mod_{i:05}"), Group::Project))
        .collect();
    let mut h = panel_harness(state, modules::modules_ui);
    h.run();
    assert!(h.query_by_label("pkg_mod_00000").is_some());
    assert!(h.query_by_label("pkg_mod_09999").is_none());
    let laid_out = h.query_all_by_label_contains("pkg_mod_").count();
    assert!(
        laid_out < 100,
        "{laid_out} rows laid out for a 900 px window"
    );
}

#[test]
fn modules_filter_narrows_the_list() {
    let mut state = UiState::default();
    state.modules = vec![
        module("balance", Group::Project),
        module("players", Group::Project),
    ];
    state.filter = "play".into();
    let mut h = panel_harness(state, modules::modules_ui);
    h.run();
    assert!(h.query_by_label("players").is_some());
    assert!(h.query_by_label("balance").is_none());
}

fn balance_state() -> UiState {
    let mut state = UiState::default();
    state.modules = vec![module("balance", Group::Project)];
    state.selected = Some("balance".into());
    state.attrs.insert(
        "balance".into(),
        vec![
            attr("DIFFICULTY", Kind::Data, "1.45"),
            attr("damage_of", Kind::Function, "<function damage_of>"),
        ],
    );
    state
}

#[test]
fn attributes_panel_shows_preview_and_conflict_and_flips_policy() {
    let mut state = balance_state();
    state.changed.insert("balance".into());
    let mut preview = report(
        7,
        "balance",
        Outcome::Applied,
        vec![change(
            "DIFFICULTY",
            Kind::Data,
            Action::ConflictTookNew,
            "1.45",
            "2.0",
        )],
    );
    preview.dry_run = true;
    state.previews.insert("balance".into(), preview);
    let mut h = panel_harness(state, swapscope::ui::attributes::attributes_ui);
    h.run();
    assert!(h.query_by_label("1.45").is_some(), "live value");
    assert!(
        h.query_by_label("2.0").is_some(),
        "source value from the dry run"
    );
    assert!(h.query_by_label("would: conflict: took new").is_some());
    assert!(h.query_by_label_contains("1 conflicts").is_some());
    // Only data has a policy toggle: one row of Auto/Keep/Take.
    assert_eq!(h.query_all_by_label("Keep").count(), 1);
    h.get_by_label("Keep").click();
    h.run();
    assert_eq!(
        h.state().1,
        vec![UiCommand::Send(Command::SetPolicy {
            module: ModuleName("balance".into()),
            qualname: "DIFFICULTY".into(),
            choice: Override::Keep,
        })]
    );
}

#[test]
fn attributes_panel_shows_what_the_last_reload_did() {
    let mut state = balance_state();
    state.apply(Event::ReloadFinished(report(
        3,
        "balance",
        Outcome::Applied,
        vec![change(
            "damage_of",
            Kind::Function,
            Action::CodeSwapped,
            "",
            "",
        )],
    )));
    let mut h = panel_harness(state, swapscope::ui::attributes::attributes_ui);
    h.run();
    assert!(h.query_by_label("did: code swapped").is_some());
}

#[test]
fn report_panel_shows_function_diff_and_propagates_stale_copies() {
    let mut state = UiState::default();
    let mut r = report(
        5,
        "players",
        Outcome::Applied,
        vec![
            change(
                "Player",
                Kind::Class,
                Action::ClassPatched,
                "<class Player>",
                "<class Player>",
            ),
            change("Player.fire", Kind::Method, Action::CodeSwapped, "", ""),
            change("Player.heal", Kind::Method, Action::Unchanged, "", ""),
        ],
    );
    r.stale_refs = vec![StaleRef {
        module: "hud".into(),
        name: "DAMAGE".into(),
        source: "DAMAGE".into(),
        value: "10".into(),
    }];
    state.apply(Event::ReloadFinished(r));
    state.apply(Event::ReloadSources {
        id: 5,
        old: Some("class Player:\n    def fire(self):\n        return 1\n".into()),
        new: Some("class Player:\n    def fire(self):\n        return 2\n".into()),
    });
    let mut h = panel_harness(state, swapscope::ui::history::report_ui);
    h.run();
    assert!(
        h.query_by_label("-         return 1").is_some(),
        "removed line of the diff"
    );
    assert!(
        h.query_by_label("+         return 2").is_some(),
        "added line of the diff"
    );
    assert!(h.query_by_label_contains("1 unchanged").is_some());
    assert!(
        h.query_by_label_contains("hud.DAMAGE still holds the old DAMAGE")
            .is_some()
    );
    h.get_by_label("Propagate the new values").click();
    h.run();
    assert!(matches!(
        h.state().1.as_slice(),
        [UiCommand::Send(Command::Propagate { module, stale })] if module.0 == "players" && stale.len() == 1
    ));
}

#[test]
fn report_panel_shows_a_failed_reload_with_place_and_line() {
    let mut state = UiState::default();
    let mut r = report(9, "balance", Outcome::Failed, Vec::new());
    r.error = Some(ErrorInfo {
        file: "/game/balance.py".into(),
        line: Some(14),
        col: Some(18),
        message: "SyntaxError: '(' was never closed".into(),
        text: Some("def damage_of(weapon, level:".into()),
        traceback: "  File \"/game/balance.py\", line 14\nSyntaxError: '(' was never closed\n"
            .into(),
    });
    state.apply(Event::ReloadFinished(r));
    let mut h = panel_harness(state, swapscope::ui::history::report_ui);
    h.run();
    assert!(
        h.query_by_label("/game/balance.py:14: SyntaxError: '(' was never closed")
            .is_some()
    );
    assert!(
        h.query_by_label("    def damage_of(weapon, level:")
            .is_some()
    );
    assert!(h.query_by_label_contains("kept its old code").is_some());
}

#[test]
fn history_lists_reloads_newest_first_and_selects() {
    let mut state = UiState::default();
    state.apply(Event::ReloadFinished(report(
        1,
        "balance",
        Outcome::Applied,
        Vec::new(),
    )));
    state.apply(Event::ReloadFinished(report(
        2,
        "players",
        Outcome::RolledBack,
        Vec::new(),
    )));
    let mut h = panel_harness(state, swapscope::ui::history::history_ui);
    h.run();
    assert!(
        h.query_by_label_contains("#1  ").is_some() && h.query_by_label_contains("#2  ").is_some()
    );
    let newest = h.get_by_label_contains("players  rolled back").rect().min.y;
    let oldest = h.get_by_label_contains("balance  applied").rect().min.y;
    assert!(newest < oldest, "newest first");
    h.get_by_label_contains("balance  applied").click();
    h.run();
    assert_eq!(h.state().1, vec![UiCommand::SelectReport(1)]);
}

// ---- the whole app on fake channel ends ---------------------------------------------------------

struct Fake {
    events: Sender<Event>,
    commands: Receiver<Command>,
}

fn app_harness() -> (Harness<'static, InspectorApp>, Fake) {
    let (cmd_tx, cmd_rx) = bounded(1024);
    let (ev_tx, ev_rx) = bounded(1024);
    let app = InspectorApp::new(cmd_tx, ev_rx);
    let h = Harness::builder().with_size(SIZE).build_ui_state(
        |ui, app: &mut InspectorApp| {
            app.pump(ui.ctx());
            let actions = app.draw(ui);
            app.run_commands(actions);
        },
        app,
    );
    (
        h,
        Fake {
            events: ev_tx,
            commands: cmd_rx,
        },
    )
}

impl Fake {
    fn send(&self, e: Event) {
        self.events.send(e).expect("app alive");
    }

    fn drain(&self) -> Vec<Command> {
        self.commands.try_iter().collect()
    }
}

fn started(fake: &Fake) {
    fake.send(Event::Started {
        python_version: "3.11.7".into(),
        roots: vec![PathBuf::from("/game")],
        script: PathBuf::from("/game/game.py"),
    });
    fake.send(Event::Modules(vec![
        module("balance", Group::Project),
        module("players", Group::Project),
    ]));
}

#[test]
fn app_reload_button_and_ctrl_r_send_reload() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("Python 3.11.7").is_some(),
        "status bar"
    );
    assert!(h.query_by_label_contains("watching /game").is_some());
    let first = fake.drain();
    assert!(first.contains(&Command::ListModules), "{first:?}");
    assert!(
        first.contains(&Command::Inspect(ModuleName("balance".into()))),
        "{first:?}"
    );
    h.get_by_label("players").click();
    h.run_steps(2);
    h.get_by_label("Reload players").click();
    h.run_steps(2);
    let reloads: Vec<Command> = fake
        .drain()
        .into_iter()
        .filter(|c| matches!(c, Command::Reload { .. }))
        .collect();
    assert!(
        matches!(reloads.as_slice(), [Command::Reload { module, dry_run: false, .. }] if module.0 == "players"),
        "{reloads:?}"
    );
    assert!(
        h.query_by_label_contains("reloading players").is_some(),
        "busy indicator"
    );
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::R);
    h.run_steps(2);
    assert!(
        fake.drain().iter().any(
            |c| matches!(c, Command::Reload { module, dry_run: false, .. } if module.0 == "players")
        ),
        "Ctrl+R reloads the selected module"
    );
}

#[test]
fn app_events_fill_history_and_changed_modules_get_a_dry_run() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(3);
    fake.drain();
    fake.send(Event::FilesChanged {
        modules: vec![ModuleName("balance".into())],
        paths: vec![PathBuf::from("/game/balance.py")],
    });
    h.run_steps(3);
    assert!(h.query_by_label("Reload all changed (1)").is_some());
    assert!(
        fake.drain().iter().any(
            |c| matches!(c, Command::Reload { module, dry_run: true, .. } if module.0 == "balance")
        ),
        "the selected changed module is previewed with a dry run"
    );
    fake.send(Event::ReloadFinished(report(
        4,
        "balance",
        Outcome::Applied,
        vec![change("DAMAGE", Kind::Data, Action::TookNew, "10", "12")],
    )));
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("balance  applied").is_some(),
        "history row"
    );
    assert!(h.query_by_label("DAMAGE").is_some(), "its report is shown");
    assert!(h.query_by_label("Reload all changed (0)").is_some());
    h.get_by_label("Auto-reload on save").click();
    h.run_steps(2);
    assert!(fake.drain().contains(&Command::SetAutoReload(true)));
    h.get_by_label("Options").click();
    h.run_steps(2);
    h.get_by_label("Whole modules").click();
    h.run_steps(2);
    assert!(fake.drain().contains(&Command::SetWholeReloads(true)));
    fake.send(Event::WholeReloads(true));
    h.run_steps(2);
    assert!(
        h.state().state.whole_reloads,
        "the runtime's answer is what the box shows"
    );
}

#[test]
fn app_tells_when_the_worker_died() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(2);
    drop(fake);
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("the Python worker stopped")
            .is_some()
    );
    assert!(h.query_by_label("worker stopped").is_some());
}

#[test]
fn app_shows_why_the_worker_crashed() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(2);
    fake.send(Event::WorkerDied(
        "the Python worker crashed (injected fault); reloads are no longer possible".into(),
    ));
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("the Python worker crashed (injected fault)")
            .is_some()
    );
    assert!(h.query_by_label("worker stopped").is_some());
    assert!(!h.state().state.worker_alive);
}

// ---- end to end: the demo on the real runtime -----------------------------------------------------

fn step_until(
    h: &mut Harness<'static, InspectorApp>,
    what: &str,
    mut done: impl FnMut(&InspectorApp) -> bool,
) {
    let deadline = Instant::now() + Duration::from_mins(1);
    while !done(h.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `(name, level, hp, xp)` of each player in the demo's `party` repr.
fn party(app: &InspectorApp) -> Vec<(String, u32)> {
    let Some(attrs) = app.state.attrs.get("__main__") else {
        return Vec::new();
    };
    let Some(party) = attrs.iter().find(|a| a.qualname == "party") else {
        return Vec::new();
    };
    party
        .repr
        .split("), ")
        .filter_map(|p| {
            let (name, rest) = p.trim_start_matches('[').split_once("(lvl ")?;
            let level = rest.split(',').next()?.trim().parse().ok()?;
            Some((name.to_string(), level))
        })
        .collect()
}

fn kills(app: &InspectorApp) -> u32 {
    app.state
        .console
        .iter()
        .filter_map(|(_, l)| l.split("(kills: ").nth(1)?.split(')').next()?.parse().ok())
        .max()
        .unwrap_or(0)
}

#[test]
fn demo_end_to_end_designer_edit_lands_with_state_intact() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = swapscope::demo::write_copy(dir.path()).expect("demo copy");
    let runtime = swapscope::runtime::Runtime::start(
        swapscope::runtime::Config {
            script,
            args: vec!["--speed".into(), "60".into()],
            capture_output: true,
            watch_files: true,
            ..Default::default()
        },
        None,
    );
    let app = InspectorApp::new(runtime.commands.clone(), runtime.events.clone());
    let mut h = Harness::builder().with_size(SIZE).build_ui_state(
        |ui, app: &mut InspectorApp| {
            app.pump(ui.ctx());
            let actions = app.draw(ui);
            app.run_commands(actions);
        },
        app,
    );
    step_until(&mut h, "the demo to start", |a| {
        a.state.module("balance").is_some()
    });
    step_until(&mut h, "a few kills", |a| kills(a) >= 4);
    h.state_mut()
        .run_commands(vec![UiCommand::SelectModule("__main__".into())]);
    step_until(&mut h, "the party's live values", |a| party(a).len() == 3);
    let kills_before = kills(h.state());
    let levels_before = party(h.state());

    // The designer edits balance.py in an editor and saves.
    let balance = dir.path().join("balance.py");
    let text = std::fs::read_to_string(&balance).expect("read balance.py");
    std::fs::write(&balance, text.replace("\"damage\": 10,", "\"damage\": 99,")).expect("save");
    step_until(&mut h, "balance to be marked changed", |a| {
        a.state.changed.contains("balance")
    });
    h.state_mut()
        .run_commands(vec![UiCommand::SelectModule("balance".into())]);
    h.run_steps(2);
    h.get_by_label("Reload balance").click();
    step_until(&mut h, "the reload to finish", |a| {
        a.state.history.iter().any(|e| e.report.module == "balance")
    });
    let entry = &h.state().state.history[0];
    assert_eq!(
        entry.report.outcome,
        Outcome::Applied,
        "{}",
        entry.report.summary()
    );
    assert_eq!(
        entry.report.change("WEAPONS").map(|c| c.action),
        Some(Action::TookNew)
    );
    // The next combat lines use the new damage (99 at level 1, more at higher levels) ...
    step_until(&mut h, "a pistol shot with the new damage", |a| {
        a.state.console.iter().any(|(_, l)| {
            l.split("with the pistol for ")
                .nth(1)
                .and_then(|n| n.split_whitespace().next()?.parse::<u32>().ok())
                .is_some_and(|d| d >= 99)
        })
    });
    // ... while kills and every player's level carried on from where they were.
    h.state_mut()
        .run_commands(vec![UiCommand::SelectModule("__main__".into())]);
    step_until(&mut h, "fresh party values", |a| {
        kills(a) > kills_before && party(a).len() == 3
    });
    let levels_after = party(h.state());
    for ((name, before), (name_after, after)) in levels_before.iter().zip(&levels_after) {
        assert_eq!(name, name_after);
        assert!(
            after >= before,
            "{name} went from level {before} to {after}"
        );
    }
    runtime.shutdown();
}

// ---- several attached processes ------------------------------------------------------------------

fn remote(pid: u32, script: &str) -> (swapscope::attach::Remote, Fake) {
    let (cmd_tx, cmd_rx) = bounded(1024);
    let (ev_tx, ev_rx) = bounded(1024);
    let remote = swapscope::attach::Remote {
        commands: cmd_tx,
        events: ev_rx,
        hello: swapscope::protocol::wire::AgentHello {
            pid,
            script: script.into(),
            interpreter: "/srv/.venv/bin/python".into(),
            python_version: "3.12.1".into(),
            swapscope_version: "0.1.0".into(),
        },
        inject: ev_tx.clone(),
    };
    (
        remote,
        Fake {
            events: ev_tx,
            commands: cmd_rx,
        },
    )
}

fn reloads_of(fake: &Fake, name: &str) -> usize {
    fake.drain()
        .iter()
        .filter(|c| matches!(c, Command::Reload { module, dry_run: false, .. } if module.0 == name))
        .count()
}

#[test]
fn app_reloads_every_process_of_the_script_and_shows_each_outcome() {
    let (a, fa) = remote(101, "/srv/app.py");
    let (b, fb) = remote(102, "/srv/app.py");
    let (c, fc) = remote(103, "/srv/other.py");
    let mut app = InspectorApp::attached(a);
    app.add_peer(b);
    app.add_peer(c);
    let mut h = Harness::builder().with_size(SIZE).build_ui_state(
        |ui, app: &mut InspectorApp| {
            app.pump(ui.ctx());
            let actions = app.draw(ui);
            app.run_commands(actions);
        },
        app,
    );
    for f in [&fa, &fb, &fc] {
        started(f);
    }
    h.run_steps(3);
    assert!(h.query_by_label_contains("Processes (3)").is_some());
    for pid in [101, 102, 103] {
        assert!(
            h.query_by_label_contains(&format!("pid {pid} · "))
                .is_some(),
            "pid {pid} listed"
        );
    }

    h.get_by_label("players").click();
    h.run_steps(2);
    h.get_by_label("Reload players").click();
    h.run_steps(2);
    assert_eq!(reloads_of(&fa, "players"), 1, "the process shown");
    assert_eq!(reloads_of(&fb, "players"), 1, "same script: reloaded too");
    assert_eq!(reloads_of(&fc, "players"), 0, "another script: left alone");

    fa.send(Event::ReloadFinished(report(
        1,
        "players",
        Outcome::Applied,
        Vec::new(),
    )));
    fb.send(Event::ReloadFinished(report(
        1,
        "players",
        Outcome::Failed,
        Vec::new(),
    )));
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("pid 101 · app.py · 3.12.1 · players: applied")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("pid 102 · app.py · 3.12.1 · players: failed")
            .is_some(),
        "one failing is shown on its own row"
    );

    h.get_by_label_contains("pid 102 · ").click();
    h.run_steps(3);
    assert_eq!(h.state().label.as_ref().map(|l| l.pid), Some(102));
    assert!(
        h.query_by_label_contains("players  failed").is_some(),
        "its own history is shown"
    );

    fc.send(Event::Disconnected("/srv/other.py (pid 103) ended".into()));
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("pid 103 · other.py · 3.12.1 · ended")
            .is_some()
    );
}

/// A dict merged key by key: its key paths from the dry run get rows of their own under it,
/// each with the action, the live and source values and its own Keep toggle (a key path in
/// the policy).
#[test]
fn attributes_panel_lists_key_paths_with_their_own_toggles() {
    let mut state = balance_state();
    state.attrs.insert(
        "balance".into(),
        vec![attr(
            "WEAPONS",
            Kind::Data,
            "{'pistol': {...}, 'laser': {...}}",
        )],
    );
    state.changed.insert("balance".into());
    let mut preview = report(
        8,
        "balance",
        Outcome::Applied,
        vec![
            change("WEAPONS", Kind::Data, Action::TookNew, "{...}", "{...}"),
            change(
                "WEAPONS['pistol']['damage']",
                Kind::Data,
                Action::TookNew,
                "10",
                "14",
            ),
            change(
                "WEAPONS['laser']",
                Kind::Data,
                Action::KeptLive,
                "{'damage': 99}",
                "{'damage': 99}",
            ),
        ],
    );
    preview.dry_run = true;
    state.previews.insert("balance".into(), preview);
    let mut h = panel_harness(state, swapscope::ui::attributes::attributes_ui);
    h.run();
    // Under WEAPONS, each key path is named from there on.
    assert!(h.query_by_label("['pistol']['damage']").is_some());
    assert!(h.query_by_label("['laser']").is_some());
    assert!(h.query_by_label("14").is_some(), "the key's source value");
    assert_eq!(
        h.query_all_by_label("Keep").count(),
        3,
        "a toggle per key path"
    );
    // The rows are WEAPONS, then its key paths in report order: the pistol's is second.
    let mut ys: Vec<f32> = h
        .query_all_by_label("Keep")
        .map(|n| n.rect().min.y)
        .collect();
    ys.sort_by(f32::total_cmp);
    h.query_all_by_label("Keep")
        .find(|n| (n.rect().min.y - ys[1]).abs() < 0.5)
        .expect("the pistol's toggle")
        .click();
    h.run();
    assert_eq!(
        h.state().1,
        vec![UiCommand::Send(Command::SetPolicy {
            module: ModuleName("balance".into()),
            qualname: "WEAPONS['pistol']['damage']".into(),
            choice: Override::Keep,
        })]
    );
}

/// Issue 13, item 1: the preview is what Reload will do. A toggle changes the policy; the old
/// dry run is withdrawn at once (never shown as what Reload does), a new one is asked for, and
/// its answer is shown.
#[test]
fn app_preview_follows_a_policy_toggle() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(3);
    fake.send(Event::Attributes {
        module: ModuleName("balance".into()),
        attrs: vec![attr("DIFFICULTY", Kind::Data, "1.45")],
    });
    fake.send(Event::FilesChanged {
        modules: vec![ModuleName("balance".into())],
        paths: vec![PathBuf::from("/game/balance.py")],
    });
    h.run_steps(3);
    fake.drain();
    let preview = |action| {
        let mut r = report(
            9,
            "balance",
            Outcome::Applied,
            vec![change("DIFFICULTY", Kind::Data, action, "1.45", "2.0")],
        );
        r.dry_run = true;
        Event::ReloadFinished(r)
    };
    fake.send(preview(Action::ConflictKeptLive));
    h.run_steps(3);
    assert!(h.query_by_label("would: conflict: kept live").is_some());
    h.get_by_label("Take").click();
    h.run_steps(2);
    assert!(fake.drain().contains(&Command::SetPolicy {
        module: ModuleName("balance".into()),
        qualname: "DIFFICULTY".into(),
        choice: Override::Take,
    }));
    // The worker saved the policy and says so.
    let mut policy = swapscope::policy::Policy::default();
    policy
        .modules
        .entry("balance".into())
        .or_default()
        .insert("DIFFICULTY".into(), Override::Take);
    fake.send(Event::Policy {
        policy,
        path: PathBuf::from("/game/.swapscope-policy"),
        error: None,
    });
    h.run_steps(3);
    assert!(
        h.query_by_label("would: conflict: kept live").is_none(),
        "the old preview is gone"
    );
    assert!(
        h.query_by_label("Working out what a reload would do…")
            .is_some()
    );
    assert!(
        fake.drain().iter().any(
            |c| matches!(c, Command::Reload { module, dry_run: true, .. } if module.0 == "balance")
        ),
        "a new dry run is asked for under the new policy"
    );
    fake.send(preview(Action::ConflictTookNew));
    h.run_steps(3);
    assert!(h.query_by_label("would: conflict: took new").is_some());
}
