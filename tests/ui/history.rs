//! The history and report panels (issue 13, item 8): reloads numbered without gaps, local time,
//! rows that say what changed, a report panel that stays on the report being read, kept values
//! worded as kept, and a Propagate that shows success once.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use swapscope::engine::{Action, ErrorInfo, Kind, Outcome, ReloadReport, StaleRef};
use swapscope::runtime::{Command, Event, ModuleName};
use swapscope::ui::UiCommand;
use swapscope::ui::history::{clock, history_ui, local_offset, report_ui, what_changed};
use swapscope::ui::state::{HISTORY_LEN, Level, UiState};

use super::{app_harness, change, panel_harness, report, started};

/// The history panel on `state` with the fonts the window installs (rows show arrows). Fonts
/// take effect from the next frame, so the first one is drawn empty.
fn history_harness(state: UiState) -> Harness<'static, (UiState, Vec<UiCommand>)> {
    let mut h = panel_harness(UiState::default(), history_ui);
    swapscope::ui::theme::install_fonts(&h.ctx);
    h.run();
    h.state_mut().0 = state;
    h.run();
    h
}

fn dry(id: u64, module: &str) -> ReloadReport {
    let mut r = report(id, module, Outcome::Applied, Vec::new());
    r.dry_run = true;
    r
}

/// The runtime numbers dry runs and reloads from one counter, and the window dry-runs every
/// changed module it shows: the history numbers its own rows, 1, 2, 3, and still finds a
/// reload's sources by the runtime's id.
#[test]
fn reloads_are_numbered_without_gaps_when_dry_runs_interleave() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(2);
    for id in 1..=6 {
        if id % 2 == 1 {
            fake.send(Event::ReloadFinished(dry(id, "balance")));
        } else {
            fake.send(Event::ReloadFinished(report(
                id,
                "balance",
                Outcome::Applied,
                Vec::new(),
            )));
        }
    }
    fake.send(Event::ReloadSources {
        id: 6,
        old: Some("X = 1\n".into()),
        new: Some("X = 2\n".into()),
    });
    h.run_steps(3);
    for n in 1..=3 {
        assert!(
            h.query_by_label_contains(&format!("#{n}  ")).is_some(),
            "row #{n}"
        );
    }
    for n in [4, 5, 6] {
        assert!(
            h.query_by_label_contains(&format!("#{n}  ")).is_none(),
            "no row #{n}: dry runs are not reloads"
        );
    }
    assert!(
        h.query_by_label_contains("Reload #3 of balance at ")
            .is_some(),
        "the report is titled with the same number"
    );
    let history = &h.state().state.history;
    let numbers: Vec<u64> = history.iter().map(|e| e.number).collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert!(
        history[2].new_source.is_some(),
        "sources still reach their reload by the runtime's id"
    );
}

#[test]
fn times_are_shown_in_local_time() {
    let at = UNIX_EPOCH + Duration::from_secs(20_000 * 86_400 + 13 * 3600 + 3 * 60 + 7);
    assert_eq!(clock(at, 0), "13:03:07");
    assert_eq!(clock(at, 2 * 3600), "15:03:07", "east of UTC");
    assert_eq!(clock(at, -5 * 3600), "08:03:07", "west of UTC");
    assert_eq!(clock(at, 11 * 3600), "00:03:07", "past midnight");
    assert_eq!(
        clock(at, -(13 * 3600 + 30 * 60)),
        "23:33:07",
        "the day before"
    );
    assert_eq!(clock(at, 5 * 3600 + 30 * 60), "18:33:07", "half-hour zones");

    // The offset is the C library's local zone: the same as `date` says, in this environment.
    let now = SystemTime::now();
    let offset = local_offset(now);
    assert!(offset.abs() <= 14 * 3600, "{offset}");
    if let Ok(out) = std::process::Command::new("date").arg("+%z").output() {
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if let (Some(sign), Ok(hours), Ok(minutes)) = (
            text.chars().next(),
            text.get(1..3).unwrap_or("").parse::<i64>(),
            text.get(3..5).unwrap_or("").parse::<i64>(),
        ) {
            let secs = hours * 3600 + minutes * 60;
            let expected = if sign == '-' { -secs } else { secs };
            assert_eq!(offset, expected, "date +%z said {text}");
        }
    }

    let mut state = UiState::default();
    state.apply(Event::ReloadFinished(report(
        1,
        "balance",
        Outcome::Applied,
        Vec::new(),
    )));
    let at = state.history[0].at;
    let mut h = panel_harness(state, history_ui);
    h.run();
    let row = format!("#1  {}  balance  applied", clock(at, local_offset(at)));
    assert!(h.query_by_label_contains(&row).is_some(), "{row}");
    assert!(h.query_by_label_contains("UTC").is_none());
}

#[test]
fn rows_say_what_changed_how_many_saves_and_why_a_reload_failed() {
    let mut state = UiState::default();
    let mut edited = report(
        1,
        "balance",
        Outcome::Applied,
        vec![
            change("DIFFICULTY", Kind::Data, Action::TookNew, "1.45", "2.0"),
            change("damage_of", Kind::Function, Action::CodeSwapped, "", ""),
            change("heal", Kind::Function, Action::Unchanged, "", ""),
        ],
    );
    edited.saves = 3;
    state.apply(Event::ReloadFinished(edited));
    let mut once = report(
        2,
        "players",
        Outcome::Applied,
        vec![change(
            "Player",
            Kind::Class,
            Action::ClassPatched,
            "<class Player>",
            "<class Player>",
        )],
    );
    once.saves = 1;
    state.apply(Event::ReloadFinished(once));
    let mut failed = report(3, "balance", Outcome::Failed, Vec::new());
    failed.error = Some(ErrorInfo {
        file: "/game/balance.py".into(),
        line: Some(14),
        message: "SyntaxError: '(' was never closed".into(),
        ..ErrorInfo::default()
    });
    state.apply(Event::ReloadFinished(failed));
    let h = history_harness(state);
    assert!(
        h.query_by_label_contains(
            "balance  applied  DIFFICULTY 1.45 → 2.0, 1 function · 3 saves · 1.5 ms"
        )
        .is_some()
    );
    assert!(
        h.query_by_label_contains("players  applied  1 class · 1.5 ms")
            .is_some(),
        "one save is not worth saying"
    );
    assert!(
        h.query_by_label_contains("balance  failed  SyntaxError: '(' was never closed (line 14)")
            .is_some()
    );

    // The first two values are named, the rest counted; what did not apply is said.
    let long = "x".repeat(40);
    let many = report(
        4,
        "balance",
        Outcome::Applied,
        vec![
            change("A", Kind::Data, Action::TookNew, "1", "2"),
            change("B", Kind::Data, Action::ConflictTookNew, "3", &long),
            change("C", Kind::Data, Action::Added, "", "5"),
            change("Player", Kind::Class, Action::ClassPatched, "", ""),
            change("Player.fire", Kind::Method, Action::CodeSwapped, "", ""),
            change("Player.heal", Kind::Method, Action::CodeSwapped, "", ""),
            change("spawn", Kind::Function, Action::NotApplied, "", ""),
        ],
    );
    assert_eq!(
        what_changed(&many),
        format!(
            "A 1 → 2, B 3 → {}…, 1 more value, 2 functions, 1 class, 1 not applied, 1 conflict",
            "x".repeat(23)
        )
    );
    assert_eq!(
        what_changed(&report(5, "balance", Outcome::Applied, Vec::new())),
        "no changes"
    );
}

/// The panel follows each new reload until the user picks an older report; then reloads that
/// arrive (auto-reload on save) are listed but do not take the panel away. Picking the newest
/// again, the "Show the newest reload" button or a reload the user asks for follows again.
#[test]
fn an_auto_reload_keeps_the_report_being_read() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(2);
    let reload = |id: u64, module: &str| {
        Event::ReloadFinished(report(id, module, Outcome::Applied, Vec::new()))
    };
    fake.send(reload(1, "balance"));
    fake.send(reload(3, "players"));
    h.run_steps(3);
    assert_eq!(
        h.state().state.selected_report,
        Some(3),
        "follows the newest"
    );

    h.get_by_label_contains("#1  ").click();
    h.run_steps(2);
    assert_eq!(h.state().state.selected_report, Some(1));
    fake.send(reload(5, "balance"));
    h.run_steps(3);
    assert_eq!(
        h.state().state.selected_report,
        Some(1),
        "an auto-reload does not move the panel"
    );
    assert!(h.query_by_label_contains("Reload #1 of balance").is_some());
    assert!(h.query_by_label_contains("#3  ").is_some(), "listed");

    h.get_by_label("Show the newest reload (#3)").click();
    h.run_steps(2);
    assert_eq!(h.state().state.selected_report, Some(5));
    fake.send(reload(7, "players"));
    h.run_steps(3);
    assert_eq!(h.state().state.selected_report, Some(7), "following again");

    // Pinned, then the user reloads: the report of what they asked for is shown.
    h.get_by_label_contains("#2  ").click();
    h.run_steps(2);
    assert_eq!(h.state().state.selected_report, Some(3));
    h.get_by_label("Reload balance").click();
    h.run_steps(2);
    fake.send(reload(9, "balance"));
    h.run_steps(3);
    assert_eq!(h.state().state.selected_report, Some(9));

    // Picking the newest row is following too.
    h.get_by_label_contains("#4  ").click();
    h.run_steps(2);
    h.get_by_label_contains("#5  ").click();
    h.run_steps(2);
    fake.send(reload(11, "balance"));
    h.run_steps(3);
    assert_eq!(h.state().state.selected_report, Some(11));
}

/// A value the reload kept reads as kept, with the source's value aside, not as `4.5 → 3.0`.
#[test]
fn kept_values_read_as_kept_not_as_a_change() {
    let mut state = UiState::default();
    state.apply(Event::ReloadFinished(report(
        1,
        "balance",
        Outcome::Applied,
        vec![
            change("SPEED", Kind::Data, Action::KeptLive, "4.5", "3.0"),
            change(
                "DIFFICULTY",
                Kind::Data,
                Action::ConflictKeptLive,
                "1.45",
                "2.0",
            ),
        ],
    )));
    let mut h = panel_harness(state, report_ui);
    h.run();
    assert!(h.query_by_label("kept 4.5 (source 3.0)").is_some());
    assert!(
        h.query_by_label("conflict: kept 1.45 (source 2.0)")
            .is_some()
    );
    assert!(h.query_by_label_contains("4.5 → 3.0").is_none());
    assert!(h.query_by_label_contains("1.45 → 2.0").is_none());

    let state = std::mem::take(&mut h.state_mut().0);
    let h = history_harness(state);
    assert!(
        h.query_by_label_contains(
            "SPEED kept 4.5 (source 3.0), DIFFICULTY kept 1.45 (source 2.0), 1 conflict"
        )
        .is_some()
    );
}

/// A Propagate that worked is a green banner with a tick, and the report says it was done; a
/// second one replaces the first banner. Problems still stack and stay.
#[test]
fn a_successful_propagate_shows_success_once() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(2);
    let mut r = report(2, "balance", Outcome::Applied, Vec::new());
    r.stale_refs = vec![StaleRef {
        module: "hud".into(),
        name: "DAMAGE".into(),
        source: "DAMAGE".into(),
        value: "10".into(),
    }];
    fake.send(Event::ReloadFinished(r));
    fake.send(Event::Problem("the policy file is malformed".into()));
    h.run_steps(3);
    fake.drain();
    h.get_by_label("Propagate the new values").click();
    h.run_steps(2);
    assert!(
        fake.drain()
            .iter()
            .any(|c| matches!(c, Command::Propagate { module, .. } if module.0 == "balance"))
    );
    let propagated = || Event::Propagated {
        module: ModuleName("balance".into()),
        count: 1,
    };
    fake.send(propagated());
    h.run_steps(3);
    assert!(
        h.query_by_label("propagated the new values of balance to 1 stale copy")
            .is_some()
    );
    assert!(
        h.query_by_label("✔ propagated: 1 stale copy updated")
            .is_some()
    );

    h.get_by_label("Propagate again").click();
    h.run_steps(2);
    fake.send(propagated());
    h.run_steps(3);
    assert_eq!(
        h.query_all_by_label_contains("propagated the new values of balance")
            .count(),
        1,
        "a second success replaces the first banner"
    );
    assert!(
        h.query_by_label("the policy file is malformed").is_some(),
        "the problem stays"
    );
    let levels: Vec<Level> = h
        .state()
        .state
        .notifications
        .iter()
        .map(|n| n.level)
        .collect();
    assert_eq!(levels, [Level::Problem, Level::Success]);
}

/// Numbers keep counting when the oldest reloads leave a long session's history, and a report
/// the panel was pinned to that left it gives the panel back to the newest.
#[test]
fn numbers_and_a_pinned_report_survive_a_long_session() {
    let mut state = UiState::default();
    let reload = |id: u64| Event::ReloadFinished(report(id, "balance", Outcome::Applied, vec![]));
    state.apply(reload(1));
    state.apply(reload(2));
    state.select_report(1);
    state.apply(reload(3));
    assert_eq!(state.selected_report, Some(1), "pinned");
    let total = HISTORY_LEN as u64 + 10;
    for id in 4..=total {
        state.apply(reload(id));
    }
    assert_eq!(state.history.last().map(|h| h.number), Some(total));
    assert_eq!(state.history.first().map(|h| h.number), Some(11));
    assert_eq!(
        state.selected_report,
        Some(total),
        "the pinned report left the history: the panel follows again"
    );
}

/// The report says which statements ran: incrementally, how many; whole, and why.
#[test]
fn the_report_says_whether_the_reload_ran_part_or_all_of_the_module() {
    let (mut h, fake) = app_harness();
    started(&fake);
    h.run_steps(2);
    let mut part = report(2, "balance", Outcome::Applied, Vec::new());
    part.mode = swapscope::protocol::Mode::Incremental;
    part.mode_note = "1 of 40 statements ran (1 changed)".into();
    fake.send(Event::ReloadFinished(part));
    h.run_steps(3);
    assert!(
        h.query_by_label("incremental: 1 of 40 statements ran (1 changed)")
            .is_some()
    );
    let mut whole = report(3, "balance", Outcome::Applied, Vec::new());
    whole.mode_note = "line 3: it calls globals()".into();
    fake.send(Event::ReloadFinished(whole));
    h.run_steps(3);
    assert!(
        h.query_by_label("whole module: line 3: it calls globals()")
            .is_some()
    );
}
