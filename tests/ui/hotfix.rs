//! The hotfix console (issue 13): the input line under the console sends `Command::Hotfix`,
//! Up/Down recall earlier snippets, and a `HotfixFinished` event shows its result under the line
//! and a "hotfix" entry in the history.

use egui::accesskit::Role;
use swapscope::protocol::{Hotfix, HotfixReport};

use super::*;

fn input(h: &Harness<'static, InspectorApp>) -> String {
    h.get_by_role_and_label(Role::TextInput, "Hotfix")
        .value()
        .unwrap_or_default()
}

fn type_line(h: &mut Harness<'static, InspectorApp>, text: &str) {
    h.get_by_role_and_label(Role::TextInput, "Hotfix").click();
    h.run_steps(2);
    h.get_by_role_and_label(Role::TextInput, "Hotfix")
        .type_text(text);
    h.run_steps(2);
}

fn enter(h: &mut Harness<'static, InspectorApp>) {
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
}

fn hotfixes(fake: &Fake) -> Vec<(String, String)> {
    fake.drain()
        .into_iter()
        .filter_map(|c| match c {
            Command::Hotfix { module, code } => Some((module.0, code)),
            _ => None,
        })
        .collect()
}

fn finished(id: u64, value: Option<&str>, changes: Vec<Change>) -> Event {
    Event::HotfixFinished(HotfixReport {
        report: report(id, "balance", Outcome::Applied, changes),
        hotfix: Hotfix {
            code: "DAMAGE = 14; DAMAGE".into(),
            output: "hello from the fix\n".into(),
            value: value.map(str::to_string),
        },
    })
}

#[test]
fn enter_sends_the_line_to_the_selected_module_and_clears_it() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(3);
    fake.drain();
    type_line(&mut h, "DAMAGE = 14");
    assert_eq!(input(&h), "DAMAGE = 14");
    enter(&mut h);
    assert_eq!(
        hotfixes(&fake),
        [("balance".to_string(), "DAMAGE = 14".to_string())]
    );
    assert_eq!(input(&h), "", "the line is cleared for the next one");
    assert!(
        h.query_by_label_contains("running…").is_some(),
        "waiting for the report"
    );
    // Still focused: the next line goes in without a click.
    h.get_by_role_and_label(Role::TextInput, "Hotfix")
        .type_text("DAMAGE");
    h.run_steps(2);
    enter(&mut h);
    assert_eq!(
        hotfixes(&fake),
        [("balance".to_string(), "DAMAGE".to_string())]
    );
    // A blank line sends nothing.
    type_line(&mut h, "   ");
    enter(&mut h);
    assert!(hotfixes(&fake).is_empty());
}

#[test]
fn up_and_down_walk_the_snippets_sent() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(3);
    for line in ["A = 1", "B = 2"] {
        type_line(&mut h, line);
        enter(&mut h);
    }
    assert_eq!(hotfixes(&fake).len(), 2);
    type_line(&mut h, "draft");
    h.key_press(egui::Key::ArrowUp);
    h.run_steps(2);
    assert_eq!(input(&h), "B = 2", "Up: the newest first");
    h.key_press(egui::Key::ArrowUp);
    h.run_steps(2);
    assert_eq!(input(&h), "A = 1");
    h.key_press(egui::Key::ArrowUp);
    h.run_steps(2);
    assert_eq!(input(&h), "A = 1", "stays at the oldest");
    h.key_press(egui::Key::ArrowDown);
    h.run_steps(2);
    assert_eq!(input(&h), "B = 2");
    h.key_press(egui::Key::ArrowDown);
    h.run_steps(2);
    assert_eq!(input(&h), "draft", "past the newest: the line being typed");
    h.key_press(egui::Key::ArrowUp);
    h.run_steps(2);
    enter(&mut h);
    assert_eq!(
        hotfixes(&fake),
        [("balance".to_string(), "B = 2".to_string())],
        "a recalled line runs again"
    );
}

#[test]
fn the_target_can_be_main() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(3);
    fake.drain();
    // The combo box shows the target; pick `__main__` in it.
    h.get_all_by_role(Role::ComboBox)
        .find(|n| n.value().as_deref() == Some("balance"))
        .expect("the target selector, showing the selected module")
        .click();
    h.run_steps(2);
    h.get_by_label("__main__").click();
    h.run_steps(2);
    type_line(&mut h, "player.hp = 100");
    enter(&mut h);
    assert_eq!(
        hotfixes(&fake),
        [("__main__".to_string(), "player.hp = 100".to_string())]
    );
}

#[test]
fn a_result_shows_under_the_line_and_as_a_hotfix_in_the_history() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(3);
    type_line(&mut h, "DAMAGE = 14; DAMAGE");
    enter(&mut h);
    fake.send(finished(
        1 << 40,
        Some("14"),
        vec![change("DAMAGE", Kind::Data, Action::TookNew, "10", "14")],
    ));
    h.run_steps(3);
    assert!(h.query_by_label_contains("running…").is_none());
    assert!(h.query_by_label("= 14").is_some(), "the value");
    assert_eq!(
        h.query_all_by_label_contains("hello from the fix").count(),
        2,
        "the output, under the line and in the report"
    );
    assert!(
        h.query_by_label_contains("hotfix balance: DAMAGE 10 → 14")
            .is_some(),
        "the history row"
    );
    assert!(
        h.query_by_label_contains("Hotfix #1 in balance").is_some(),
        "its report is shown"
    );
    let state = &h.state().state;
    assert!(
        state.changed.is_empty() && state.undo_steps("balance") == 0,
        "a hotfix is not a reload: no undo step, the file is not marked"
    );
    assert!(state.last_reload("balance").is_none());

    // An exception: its message and line, and that the names were put back.
    let mut failed = report((1 << 40) + 1, "balance", Outcome::RolledBack, Vec::new());
    failed.error = Some(ErrorInfo {
        file: "<hotfix 2>".into(),
        line: Some(1),
        message: "ZeroDivisionError: division by zero".into(),
        text: Some("1 / 0".into()),
        traceback: "Traceback (most recent call last):\n  File \"<hotfix 2>\", line 1\n".into(),
        ..ErrorInfo::default()
    });
    fake.send(Event::HotfixFinished(HotfixReport {
        report: failed,
        hotfix: Hotfix {
            code: "1 / 0".into(),
            ..Hotfix::default()
        },
    }));
    h.run_steps(3);
    assert_eq!(
        h.query_all_by_label("ZeroDivisionError: division by zero (line 1)")
            .count(),
        2,
        "the exception, under the line and in the report"
    );
    assert!(
        h.query_by_label("the module's names were put back")
            .is_some(),
        "the console says nothing stayed half-done"
    );
    assert!(
        h.query_by_label_contains("hotfix balance: ZeroDivisionError")
            .is_some(),
        "its history row"
    );
    assert!(
        h.query_by_label_contains("#1  ").is_some() && h.query_by_label_contains("#2  ").is_some(),
        "numbered with the reloads"
    );
}
