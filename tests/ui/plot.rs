//! Issue 13: a number plotted over time, with its module's reloads marked.

use egui_kittest::kittest::Queryable;
use swapscope::engine::{Action, Kind, Outcome};
use swapscope::runtime::{Event, ModuleName};
use swapscope::ui::UiCommand;
use swapscope::ui::plot::reload_marks;

use super::{app_harness, attr, change, report, started};

#[test]
fn a_plotted_number_follows_the_live_value_and_marks_reloads() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(3);
    let live = |v: &str| Event::Attributes {
        module: ModuleName("balance".into()),
        attrs: vec![
            attr("DIFFICULTY", Kind::Data, v),
            attr("NAME", Kind::Data, "'easy'"),
        ],
    };
    fake.send(live("1.0"));
    h.run_steps(2);
    h.state_mut()
        .run_commands(vec![UiCommand::Plot("balance".into(), "DIFFICULTY".into())]);
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("Plot: balance.DIFFICULTY")
            .is_some()
    );
    fake.send(live("1.5"));
    h.run_steps(2);
    fake.send(Event::ReloadFinished(report(
        4,
        "balance",
        Outcome::Applied,
        vec![change(
            "DIFFICULTY",
            Kind::Data,
            Action::TookNew,
            "1.5",
            "2.0",
        )],
    )));
    fake.send(live("2.0"));
    h.run_steps(3);
    let state = &h.state().state;
    let values: Vec<f64> = state
        .plots
        .points("balance", "DIFFICULTY")
        .expect("recorded")
        .iter()
        .map(|p| p[1])
        .collect();
    assert_eq!(values, [1.0, 1.5, 2.0]);
    assert!(
        state.plots.points("balance", "NAME").is_none(),
        "not a number"
    );
    let marks = reload_marks(state, "balance");
    assert_eq!(marks.len(), 1, "one reload marked");
    assert!(marks[0] >= 0.0);
    assert!(
        h.query_by_label_contains("now 2").is_some(),
        "the latest value"
    );
    h.state_mut().run_commands(vec![UiCommand::ClosePlot]);
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("Plot: balance.DIFFICULTY")
            .is_none()
    );
}

/// The value view of a number offers Plot and "Set in source": typing a new value and Enter
/// asks the runtime to rewrite that literal and reload (`Command::EditValue`).
#[test]
fn a_number_can_be_plotted_and_set_in_the_source_from_its_value_view() {
    use swapscope::runtime::Command;
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(3);
    fake.send(Event::Attributes {
        module: ModuleName("balance".into()),
        attrs: vec![attr("DIFFICULTY", Kind::Data, "1.0")],
    });
    h.run_steps(3);
    h.get_by_label("DIFFICULTY").click();
    h.run_steps(3);
    h.get_by_label("Plot").click();
    h.run_steps(2);
    assert_eq!(
        h.state().state.plots.shown,
        Some(("balance".into(), "DIFFICULTY".into()))
    );
    let field = || egui::accesskit::Role::TextInput;
    h.get_by_role_and_label(field(), "Set in source:").click();
    h.run_steps(2);
    h.get_by_role_and_label(field(), "Set in source:")
        .type_text("5");
    h.run_steps(2);
    fake.drain();
    h.key_press(egui::Key::Enter);
    h.run_steps(3);
    let sent = fake.drain();
    assert!(
        sent.iter().any(|c| matches!(
            c,
            Command::EditValue { module, qualname, literal }
                if module.0 == "balance" && qualname == "DIFFICULTY" && literal == "1.05"
        )),
        "typed after the live value, sent on Enter: {sent:?}"
    );
}
