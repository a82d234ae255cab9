//! The console panel (follow, jump to newest, filter, copy) and how often the window asks to be
//! drawn while little happens.

use egui::accesskit::Role;
use swapscope::protocol::Stream;
use swapscope::ui::console;

use super::*;

fn console_panel(ui: &mut egui::Ui, state: &UiState, _: &mut Vec<UiCommand>) {
    console::console_ui(ui, state);
}

fn line(i: usize) -> String {
    format!("line {i:04}")
}

fn push(state: &mut UiState, from: usize, to: usize) {
    for i in from..to {
        state
            .console
            .push_back((Stream::Stdout, format!("{}\n", line(i))));
    }
}

fn with_lines(n: usize) -> Harness<'static, (UiState, Vec<UiCommand>)> {
    let mut state = UiState::default();
    push(&mut state, 0, n);
    let mut h = panel_harness(state, console_panel);
    h.run();
    h
}

/// Whether the row with `text` is laid out and lies wholly inside the window (not cut by its
/// bottom edge, where the status bar sits in the app).
fn fully_shown(h: &Harness<'static, (UiState, Vec<UiCommand>)>, text: &str) -> bool {
    h.query_by_label(text).is_some_and(|n| {
        let r = n.rect();
        r.min.y >= 0.0 && r.max.y <= SIZE[1]
    })
}

fn wheel(h: &mut Harness<'static, (UiState, Vec<UiCommand>)>, dy: f32) {
    h.hover_at(egui::pos2(400.0, 450.0));
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(0.0, dy),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: egui::Modifiers::NONE,
    });
    // The wheel scrolls smoothly, over several frames.
    h.run_steps(20);
}

fn add_lines(h: &mut Harness<'static, (UiState, Vec<UiCommand>)>, from: usize, to: usize) {
    push(&mut h.state_mut().0, from, to);
    h.run();
}

#[test]
fn console_follows_new_output_while_at_the_bottom() {
    let mut h = with_lines(300);
    assert!(fully_shown(&h, &line(299)), "the newest line, whole");
    assert!(
        h.query_by_label(&line(0)).is_none(),
        "old lines not laid out"
    );
    for n in [300, 301, 340] {
        add_lines(&mut h, n, n + 1);
        assert!(fully_shown(&h, &line(n)), "line {n} scrolled into view");
    }
    assert!(h.query_by_label_contains("Jump to newest").is_none());
}

#[test]
fn console_scrolled_up_stays_put_and_jump_to_newest_brings_it_back() {
    let mut h = with_lines(300);
    wheel(&mut h, 600.0);
    assert!(!fully_shown(&h, &line(299)), "scrolled up");
    add_lines(&mut h, 300, 320);
    assert!(
        h.query_by_label(&line(319)).is_none(),
        "new output does not pull the view down"
    );
    h.get_by_label_contains("Jump to newest").click();
    h.run();
    assert!(fully_shown(&h, &line(319)));
    assert!(h.query_by_label_contains("Jump to newest").is_none());
    add_lines(&mut h, 320, 321);
    assert!(fully_shown(&h, &line(320)), "follows again");
}

#[test]
fn console_scrolled_back_down_follows_again() {
    let mut h = with_lines(300);
    wheel(&mut h, 600.0);
    add_lines(&mut h, 300, 310);
    assert!(h.query_by_label_contains("Jump to newest").is_some());
    wheel(&mut h, -100_000.0);
    assert!(fully_shown(&h, &line(309)));
    add_lines(&mut h, 310, 330);
    assert!(
        fully_shown(&h, &line(329)),
        "new output scrolls into view again"
    );
    assert!(h.query_by_label_contains("Jump to newest").is_none());
}

fn goblins_and_orcs() -> Harness<'static, (UiState, Vec<UiCommand>)> {
    let mut state = UiState::default();
    for i in 0..40 {
        let who = if i % 4 == 0 { "Goblin" } else { "orc" };
        state
            .console
            .push_back((Stream::Stdout, format!("{who} {i} attacks\n")));
    }
    state
        .console
        .push_back((Stream::Stderr, "goblin warning\n".into()));
    let mut h = panel_harness(state, console_panel);
    h.run();
    h
}

fn type_filter(h: &mut Harness<'static, (UiState, Vec<UiCommand>)>, text: &str) {
    h.get_by_role(Role::TextInput).click();
    h.run();
    h.get_by_role(Role::TextInput).type_text(text);
    h.run();
}

#[test]
fn console_filter_narrows_the_lines_ignoring_case() {
    let mut h = goblins_and_orcs();
    assert!(h.query_by_label("orc 1 attacks").is_some());
    type_filter(&mut h, "GOBLIN");
    assert!(h.query_by_label("orc 1 attacks").is_none());
    assert!(h.query_by_label("Goblin 36 attacks").is_some());
    assert!(h.query_by_label("goblin warning").is_some(), "stderr too");
    assert!(h.query_by_label("11 of 41 lines").is_some());
    h.get_by_label("Clear").click();
    h.run();
    assert!(
        h.query_by_label("orc 1 attacks").is_some(),
        "filter cleared"
    );
}

/// Clicks Copy and returns the text the frames after the click put on the clipboard.
fn click_copy(h: &mut Harness<'static, (UiState, Vec<UiCommand>)>) -> Vec<String> {
    h.get_by_label("Copy").click();
    let mut copied = Vec::new();
    for _ in 0..4 {
        h.step();
        for command in &h.output().platform_output.commands {
            if let egui::OutputCommand::CopyText(text) = command {
                copied.push(text.clone());
            }
        }
    }
    copied
}

#[test]
fn console_copy_puts_the_lines_shown_on_the_clipboard() {
    let mut h = goblins_and_orcs();
    type_filter(&mut h, "goblin");
    let copied = click_copy(&mut h);
    let expected: String = (0..40)
        .step_by(4)
        .map(|i| format!("Goblin {i} attacks\n"))
        .chain(["goblin warning\n".to_string()])
        .collect();
    assert_eq!(copied, vec![expected]);
}

#[test]
fn console_in_the_app_shows_output_and_copies_all_of_it() {
    let (mut h, fake) = app_harness();
    started(&fake);
    fake.send(Event::Output {
        stream: Stream::Stdout,
        text: "Ada hits goblin #1\nBrick hits".into(),
    });
    fake.send(Event::Output {
        stream: Stream::Stdout,
        text: " goblin #1\n".into(),
    });
    h.run_steps(3);
    assert!(h.query_by_label("Ada hits goblin #1").is_some());
    h.get_by_label("Copy").click();
    let mut copied = Vec::new();
    for _ in 0..4 {
        h.step();
        for command in &h.output().platform_output.commands {
            if let egui::OutputCommand::CopyText(text) = command {
                copied.push(text.clone());
            }
        }
    }
    assert_eq!(
        copied,
        vec!["Ada hits goblin #1\nBrick hits goblin #1\n".to_string()]
    );
}

fn repaint_delay(h: &Harness<'static, InspectorApp>) -> Duration {
    h.output()
        .viewport_output
        .get(&egui::ViewportId::ROOT)
        .map_or(Duration::ZERO, |v| v.repaint_delay)
}

#[test]
fn app_refreshes_less_often_while_nothing_changes_and_at_once_when_it_does() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(3);
    let values = |repr: &str| Event::Attributes {
        module: ModuleName("balance".into()),
        attrs: vec![attr("hp", Kind::Data, repr)],
    };
    assert!(
        repaint_delay(&h) >= Duration::from_millis(300),
        "a started app waits for its next refresh: {:?}",
        repaint_delay(&h)
    );
    // The same values and module list, refresh after refresh: the waits double.
    for _ in 0..4 {
        fake.send(values("10"));
        fake.send(Event::Modules(vec![
            module("balance", Group::Project),
            module("players", Group::Project),
        ]));
        h.step();
    }
    assert!(
        repaint_delay(&h) >= Duration::from_secs(2),
        "idle: {:?}",
        repaint_delay(&h)
    );
    // The values moved: back to the normal rate.
    fake.send(values("11"));
    h.step();
    let delay = repaint_delay(&h);
    assert!(
        delay <= REFRESH_NORMAL_WITH_TICK,
        "after a change: {delay:?}"
    );
}

/// The normal refresh wait (700 ms) rounded up to the next tick (`wake::TICK`).
const REFRESH_NORMAL_WITH_TICK: Duration = Duration::from_millis(700 + 900);
