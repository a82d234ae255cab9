//! Issue 13, item 7: the first launch. Before the script imported its modules the list says it
//! waits for them; then the first project module a designer would edit is selected (not
//! `__main__`), and a one-line hint says what to do.

use egui_kittest::kittest::Queryable;
use swapscope::engine::Group;
use swapscope::runtime::{Command, Event};
use swapscope::ui::UiCommand;

use super::{app_harness, module};

#[test]
fn first_launch_waits_for_the_project_then_selects_what_a_designer_edits() {
    let (mut h, fake) = app_harness();
    fake.send(Event::Started {
        python_version: "3.11.7".into(),
        roots: vec![std::path::PathBuf::from("/game")],
        script: std::path::PathBuf::from("/game/game.py"),
    });
    fake.send(Event::Modules(vec![module("json", Group::Stdlib)]));
    h.run_steps(3);
    assert!(
        h.query_by_label("Waiting for the script to import its modules…")
            .is_some()
    );
    fake.send(Event::Modules(vec![
        module("__main__", Group::Project),
        module("json", Group::Stdlib),
    ]));
    h.run_steps(3);
    assert!(
        h.query_by_label("Waiting for the script to import its modules…")
            .is_none(),
        "the script is listed: a one-file script has nothing more to wait for"
    );
    assert_eq!(h.state().state.selected.as_deref(), Some("__main__"));
    assert!(
        h.query_by_label_contains("in your editor and save it")
            .is_none(),
        "no hint yet"
    );
    fake.send(Event::Modules(vec![
        module("__main__", Group::Project),
        module("balance", Group::Project),
        module("players", Group::Project),
        module("json", Group::Stdlib),
    ]));
    h.run_steps(3);
    assert_eq!(
        h.state().state.selected.as_deref(),
        Some("balance"),
        "the stand-in selection gives way to the first project module"
    );
    assert!(
        h.query_by_label("Waiting for the script to import its modules…")
            .is_none()
    );
    assert!(
        h.query_by_label_contains("Edit balance.py in your editor and save it, then click Reload")
            .is_some(),
        "the hint names the file to edit"
    );
    // A choice of the user's stays.
    h.state_mut()
        .run_commands(vec![UiCommand::SelectModule("__main__".into())]);
    fake.send(Event::Modules(vec![
        module("__main__", Group::Project),
        module("balance", Group::Project),
    ]));
    h.run_steps(3);
    assert_eq!(h.state().state.selected.as_deref(), Some("__main__"));
    // `__main__` changed on disk is not something Reload all changed can reload.
    let mut main = module("__main__", Group::Project);
    main.changed_on_disk = true;
    fake.send(Event::Modules(vec![
        main,
        module("balance", Group::Project),
    ]));
    h.run_steps(3);
    assert!(h.query_by_label("Reload all changed (0)").is_some());
    let _: Vec<Command> = fake.drain();
}
