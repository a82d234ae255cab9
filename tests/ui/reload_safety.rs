//! Issue 13, items 4 and 5: a reload the dry run says breaks other modules asks first, Undo puts
//! the previous version back, and a disabled Reload says why.

use std::path::PathBuf;

use egui_kittest::kittest::{NodeT, Queryable};
use swapscope::engine::{Action, Group, Kind, Outcome};
use swapscope::runtime::{Command, Event, ModuleName};
use swapscope::ui::panels;
use swapscope::ui::state::UiState;

use super::{app_harness, change, module, report, started};

fn reloads(commands: &[Command], name: &str) -> usize {
    commands
        .iter()
        .filter(|c| matches!(c, Command::Reload { module, dry_run: false, .. } if module.0 == name))
        .count()
}

/// The dry run says `XP_PER_KILL` goes while players.py still reads it: the toolbar warns, Reload
/// asks "anyway?", Cancel sends nothing, "Reload anyway" reloads.
#[test]
fn a_reload_that_breaks_other_modules_asks_first() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(3);
    fake.send(Event::FilesChanged {
        modules: vec![ModuleName("balance".into())],
        paths: vec![PathBuf::from("/game/balance.py")],
    });
    h.run_steps(3);
    fake.drain();
    let mut removed = change("XP_PER_KILL", Kind::Data, Action::Removed, "10", "");
    removed.note = format!(
        "no longer in the source; {}players.py:12; those reads will fail with AttributeError",
        swapscope::protocol::STILL_USED
    );
    let mut preview = report(3, "balance", Outcome::Applied, vec![removed]);
    preview.dry_run = true;
    fake.send(Event::ReloadFinished(preview));
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("Reload would remove XP_PER_KILL, still used by players.py:12")
            .is_some(),
        "the toolbar warns before the reload"
    );
    h.get_by_label("Reload balance").click();
    h.run_steps(3);
    assert_eq!(reloads(&fake.drain(), "balance"), 0, "not reloaded yet");
    assert!(h.query_by_label("Reload balance anyway?").is_some());
    h.get_by_label("Cancel").click();
    h.run_steps(3);
    assert!(h.query_by_label("Reload balance anyway?").is_none());
    assert_eq!(reloads(&fake.drain(), "balance"), 0, "cancel sends nothing");
    h.get_by_label("Reload balance").click();
    h.run_steps(3);
    h.get_by_label("Reload anyway").click();
    h.run_steps(3);
    assert_eq!(
        reloads(&fake.drain(), "balance"),
        1,
        "reloaded once, on request"
    );
    assert!(h.query_by_label("Reload balance anyway?").is_none());
}

/// Undo is offered after an applied reload, sends `Command::Undo`, and the undone module reads
/// as changed on disk again (its file holds the newer version) with nothing left to undo.
#[test]
fn undo_puts_back_the_previous_version_and_marks_the_file_changed() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(3);
    assert!(
        h.get_by_label("Undo").accesskit_node().is_disabled(),
        "nothing to undo before a reload"
    );
    // A save first: its dry run is asked for once.
    fake.send(Event::FilesChanged {
        modules: vec![ModuleName("balance".into())],
        paths: vec![PathBuf::from("/game/balance.py")],
    });
    h.run_steps(3);
    fake.send(Event::ReloadFinished(report(
        5,
        "balance",
        Outcome::Applied,
        vec![change("DAMAGE", Kind::Data, Action::TookNew, "10", "12")],
    )));
    h.run_steps(3);
    assert!(h.query_by_label("Reload all changed (0)").is_some());
    h.get_by_label("Undo").click();
    h.run_steps(3);
    assert!(
        fake.drain()
            .contains(&Command::Undo(ModuleName("balance".into()))),
        "Undo asks the runtime to put the previous version back"
    );
    let mut undone = report(
        6,
        "balance",
        Outcome::Applied,
        vec![change("DAMAGE", Kind::Data, Action::TookNew, "12", "10")],
    );
    undone.undo = true;
    fake.send(Event::ReloadFinished(undone));
    h.run_steps(3);
    assert!(
        h.query_by_label("Reload all changed (1)").is_some(),
        "the file on disk is the newer version again"
    );
    assert!(
        fake.drain().iter().any(
            |c| matches!(c, Command::Reload { module, dry_run: true, .. } if module.0 == "balance")
        ),
        "what a reload would do now is asked again"
    );
    assert!(
        h.get_by_label("Undo").accesskit_node().is_disabled(),
        "one step, undone"
    );
}

/// A Reload that cannot happen is disabled and says why.
#[test]
fn a_disabled_reload_says_why() {
    let mut state = UiState::default();
    state.modules = vec![
        module("__main__", Group::Project),
        module("json", Group::Stdlib),
        module("balance", Group::Project),
    ];
    let why = |state: &mut UiState, name: &str| {
        state.selected = Some(name.into());
        panels::reload_blocker(state)
    };
    let main = why(&mut state, "__main__").unwrap_or_default();
    assert!(main.contains("running script"), "{main}");
    let json = why(&mut state, "json").unwrap_or_default();
    assert!(json.contains("not under a watched folder"), "{json}");
    assert_eq!(why(&mut state, "balance"), None);
    state.worker_alive = false;
    let dead = why(&mut state, "balance").unwrap_or_default();
    assert!(dead.contains("stopped"), "{dead}");
}

/// "Restart script" is offered when the window started the script, marked "restart needed" when
/// the script's own file changed (the modules list says so at `__main__`) or the script ended;
/// clicking it asks for the restart (the window closes; `main` runs swapscope again).
#[test]
fn restart_script_is_offered_and_marked_when_needed() {
    let (mut h, fake) = app_harness();
    started(&fake);
    let mut main = module("__main__", Group::Project);
    main.changed_on_disk = true;
    fake.send(Event::Modules(vec![
        main,
        module("balance", Group::Project),
    ]));
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("Restart script").is_none(),
        "attached to a program the window did not start: no restart"
    );
    h.state_mut().state.can_restart = true;
    h.run_steps(2);
    assert!(h.query_by_label("restart needed").is_some(), "at __main__");
    let button = h.get_by_label("Restart script (restart needed)");
    button.click();
    h.run_steps(2);
    assert!(h.state().state.restart_requested);
    assert!(swapscope::ui::restart_requested());
}

/// An incompatible class change gets a Replace class button that says what it means for
/// existing instances and reloads with `replace_incompatible`.
#[test]
fn an_incompatible_class_change_offers_replace_class() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(3);
    fake.send(Event::FilesChanged {
        modules: vec![ModuleName("balance".into())],
        paths: vec![PathBuf::from("/game/balance.py")],
    });
    h.run_steps(3);
    assert!(h.query_by_label("Replace class").is_none());
    let mut preview = report(8, "balance", Outcome::Incompatible, Vec::new());
    preview.dry_run = true;
    preview.error = Some(swapscope::engine::ErrorInfo {
        file: "/game/balance.py".into(),
        line: Some(3),
        message: "class Unit cannot change in place: its bases changed from (A) to (B); restart \
                  the program, or reload with replace_incompatible=True to bind the new class \
                  (existing instances keep the old one)"
            .into(),
        ..Default::default()
    });
    fake.send(Event::ReloadFinished(preview));
    h.run_steps(3);
    fake.drain();
    let button = h.get_by_label("Replace class");
    button.click();
    h.run_steps(3);
    assert!(
        fake.drain().iter().any(|c| matches!(
            c,
            Command::Reload { module, dry_run: false, replace_incompatible: true, .. }
                if module.0 == "balance"
        )),
        "Replace class reloads with replace_incompatible"
    );
}

/// An undo reads as one in the history and in its report's title.
#[test]
fn an_undo_reads_as_an_undo_in_the_history() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(3);
    let mut undone = report(2, "balance", Outcome::Applied, Vec::new());
    undone.undo = true;
    fake.send(Event::ReloadFinished(undone));
    h.run_steps(3);
    assert!(h.query_by_label_contains("undo: balance").is_some());
    assert!(h.query_by_label_contains("Undo #1 of balance").is_some());
}

/// After a reload of the module shown its live values are asked for at once: the table never
/// shows "did: took new" beside the value from before the reload.
#[test]
fn a_reload_of_the_module_shown_refreshes_its_values_at_once() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(3);
    fake.drain();
    fake.send(Event::ReloadFinished(report(
        3,
        "balance",
        Outcome::Applied,
        vec![change("DAMAGE", Kind::Data, Action::TookNew, "10", "12")],
    )));
    h.run_steps(2);
    assert!(
        fake.drain()
            .contains(&Command::Inspect(ModuleName("balance".into()))),
        "the values are asked for right after the report"
    );
}
