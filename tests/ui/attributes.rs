//! The attributes panel (issue 13, items 2, 3 and part of 5): every control reachable on a small
//! window and at 150% zoom, nested data as a tree with a toggle per key path, the whole value one
//! click away, one tooltip per cell, no toggles where no reload can happen; and the tree the
//! engine sends for it.

use crossbeam_channel::bounded;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use swapscope::engine::{Action, AttrInfo, Group, Kind, Outcome, Override};
use swapscope::runtime::{Command, Event, ModuleName};
use swapscope::ui::InspectorApp;
use swapscope::ui::UiCommand;
use swapscope::ui::state::UiState;

use super::{Fake, attr, balance_state, change, module, report, started};

/// The panel drawn alone, in a window of `size` points.
fn panel(state: UiState, size: [f32; 2]) -> Harness<'static, (UiState, Vec<UiCommand>)> {
    Harness::builder().with_size(size).build_ui_state(
        |ui, (state, actions)| {
            swapscope::ui::attributes::attributes_ui(ui, state, actions);
        },
        (state, Vec::new()),
    )
}

/// The whole app on fake channel ends, in a window of `pixels` physical pixels at `zoom`.
fn app(pixels: [f32; 2], zoom: f32) -> (Harness<'static, InspectorApp>, Fake) {
    let (cmd_tx, cmd_rx) = bounded(1024);
    let (ev_tx, ev_rx) = bounded(1024);
    let app = InspectorApp::new(cmd_tx, ev_rx);
    let h = Harness::builder()
        .with_size([pixels[0] / zoom, pixels[1] / zoom])
        .with_pixels_per_point(zoom)
        .build_ui_state(
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

/// An entry of a value, as the engine sends it.
fn entry(path: &str, name: &str, repr: &str, keyed: bool) -> AttrInfo {
    let mut a = AttrInfo::new(name.into(), path.into(), Kind::Data, repr.into());
    a.keyed = keyed;
    a
}

/// `WEAPONS = {'pistol': {'damage': 10}, 'rifle': {'range': 30}}` as a tree.
fn weapons() -> AttrInfo {
    let mut pistol = entry("WEAPONS['pistol']", "'pistol'", "{'damage': 10}", true);
    pistol
        .children
        .push(entry("WEAPONS['pistol']['damage']", "'damage'", "10", true));
    let mut rifle = entry("WEAPONS['rifle']", "'rifle'", "{'range': 30}", true);
    rifle
        .children
        .push(entry("WEAPONS['rifle']['range']", "'range'", "30", true));
    let mut w = attr(
        "WEAPONS",
        Kind::Data,
        "{'pistol': {'damage': 10}, 'rifle': {'range': 30}}",
    );
    w.children = vec![pistol, rifle];
    w
}

/// The rows of the reachability check: (name as shown, qualname) of every data row.
const ROWS: [(&str, &str); 9] = [
    ("DIFFICULTY", "DIFFICULTY"),
    ("BASE_HP", "BASE_HP"),
    ("BOSS_HP", "BOSS_HP"),
    ("XP_PER_KILL", "XP_PER_KILL"),
    ("WEAPONS", "WEAPONS"),
    ("['pistol']", "WEAPONS['pistol']"),
    ("['damage']", "WEAPONS['pistol']['damage']"),
    ("['rifle']", "WEAPONS['rifle']"),
    ("['range']", "WEAPONS['rifle']['range']"),
];

/// Scrolls the table (down, then up) until a row named `label` is laid out.
fn find_row<State>(h: &mut Harness<'_, State>, label: &str) -> bool {
    for i in 0..60 {
        if h.query_by_label(label).is_some() {
            return true;
        }
        let Some(row) = h.query_all_by_label("Take").next() else {
            return false;
        };
        row.hover();
        if i < 30 {
            row.scroll_down();
        } else {
            row.scroll_up();
        }
        h.run_steps(4);
    }
    false
}

/// Issue 13, item 2: at 1024×640, and at 150% zoom on the same screen, every row's Take toggle
/// and its Reload column are in view once the row is scrolled to (no sideways scrolling: on a
/// narrow panel the values give way, not the controls), and the toggle works.
#[test]
fn every_row_control_is_reachable_at_1024x640_and_at_150_percent() {
    for zoom in [1.0, 1.5] {
        let (mut h, fake) = app([1024.0, 640.0], zoom);
        started(&fake);
        h.run_steps(3);
        fake.send(Event::Attributes {
            module: ModuleName("balance".into()),
            attrs: vec![
                attr("DIFFICULTY", Kind::Data, "1.45"),
                attr("BASE_HP", Kind::Data, "40"),
                attr("BOSS_HP", Kind::Data, "200"),
                attr("XP_PER_KILL", Kind::Data, "30"),
                weapons(),
                attr("damage_of", Kind::Function, "<function damage_of>"),
            ],
        });
        fake.send(Event::FilesChanged {
            modules: vec![ModuleName("balance".into())],
            paths: vec!["/game/balance.py".into()],
        });
        h.run_steps(3);
        let mut preview = report(
            9,
            "balance",
            Outcome::Applied,
            vec![
                change(
                    "DIFFICULTY",
                    Kind::Data,
                    Action::ConflictTookNew,
                    "1.45",
                    "2.0",
                ),
                change(
                    "WEAPONS['pistol']['damage']",
                    Kind::Data,
                    Action::TookNew,
                    "10",
                    "14",
                ),
            ],
        );
        preview.dry_run = true;
        fake.send(Event::ReloadFinished(preview));
        h.run_steps(3);
        fake.drain();
        // What of the table is visible: between the modules panel and the history panel, above
        // the console.
        let screen = egui::Rect::from_x_y_ranges(
            h.get_by_label("Name").rect().min.x - 4.0
                ..=h.get_by_label("History").rect().min.x - 8.0,
            0.0..=h.get_by_label("Console").rect().min.y - 4.0,
        );
        // Every key of WEAPONS shown: the rifle is not changed, so it starts closed.
        assert!(find_row(&mut h, "Expand WEAPONS['rifle']"));
        h.get_by_label("Expand WEAPONS['rifle']").click();
        h.run_steps(4);
        for (label, qualname) in ROWS {
            assert!(
                find_row(&mut h, label),
                "{label} laid out at zoom {zoom}; takes {:?}; screen {screen:?}",
                h.query_all_by_label("Take")
                    .map(|n| n.rect())
                    .collect::<Vec<_>>()
            );
            h.get_by_label(label).scroll_to_me();
            h.run_steps(4);
            let y = h.get_by_label(label).rect().center().y;
            let take = |h: &Harness<'_, InspectorApp>| {
                h.query_all_by_label("Take")
                    .map(|n| n.rect())
                    .find(|r| (r.center().y - y).abs() < 4.0)
            };
            let rect = take(&h).unwrap_or_else(|| panic!("{label}: a Take toggle"));
            assert!(
                screen.contains_rect(rect),
                "{label}: Take at {rect:?} outside {screen:?} at zoom {zoom}"
            );
            h.hover_at(rect.center());
            h.run_steps(4);
            h.query_all_by_label("Take")
                .find(|n| n.rect() == rect)
                .unwrap_or_else(|| panic!("{label}: Take"))
                .click();
            h.run_steps(4);
            assert!(
                fake.drain().contains(&Command::SetPolicy {
                    module: ModuleName("balance".into()),
                    qualname: qualname.into(),
                    choice: Override::Take,
                }),
                "{label}: the click on Take sets {qualname}'s policy at zoom {zoom}"
            );
        }
        // The Reload column of the changed rows is in view too.
        for (label, action) in [
            ("DIFFICULTY", "would: conflict: took new"),
            ("['damage']", "would: took new"),
        ] {
            assert!(find_row(&mut h, label));
            h.get_by_label(label).scroll_to_me();
            h.run_steps(4);
            let y = h.get_by_label(label).rect().center().y;
            let rect = h
                .query_all_by_label(action)
                .map(|n| n.rect())
                .find(|r| (r.center().y - y).abs() < 4.0)
                .unwrap_or_else(|| panic!("{label}: {action}"));
            // The words may be cut to the column, but the cell is in view.
            let rect = Some(rect).filter(|r| screen.contains(r.left_center()));
            assert!(rect.is_some(), "{label}: {action} on screen at zoom {zoom}");
        }
    }
}

/// A 300-key config: every key can be reached in the tree, each with its own toggle writing its
/// key path, and the last one's toggle works.
#[test]
fn a_300_key_table_can_be_read_to_its_last_key() {
    let mut state = balance_state();
    let mut config = attr("CONFIG", Kind::Data, "{'key_000': 0, 'key_001': 1, ...}");
    config.children = (0..300)
        .map(|i| {
            entry(
                &format!("CONFIG['key_{i:03}']"),
                &format!("'key_{i:03}'"),
                &i.to_string(),
                true,
            )
        })
        .collect();
    state.attrs.insert("balance".into(), vec![config]);
    let mut h = panel(state, [1024.0, 640.0]);
    h.run();
    h.get_by_label("Expand CONFIG").click();
    h.run();
    // Each key in turn, scrolling down when it is not laid out yet.
    let mut scrolls = 0;
    for i in 0..300 {
        let key = format!("['key_{i:03}']");
        while h.query_by_label(&key).is_none() {
            scrolls += 1;
            assert!(scrolls < 200, "{key} reached");
            h.query_all_by_label_contains("['key_")
                .last()
                .expect("a key laid out")
                .scroll_down();
            h.run();
        }
    }
    let last = h.get_by_label("['key_299']").rect();
    h.query_all_by_label("Keep")
        .find(|n| (n.rect().center().y - last.center().y).abs() < 4.0)
        .expect("the last key's toggle")
        .click();
    h.run();
    assert_eq!(
        h.state().1,
        vec![UiCommand::Send(Command::SetPolicy {
            module: ModuleName("balance".into()),
            qualname: "CONFIG['key_299']".into(),
            choice: Override::Keep,
        })]
    );
}

/// Entries the engine did not list (a 100k-entry table) are counted, not dropped silently; list
/// items take no toggle of their own, and say why on hover.
#[test]
fn unlisted_entries_are_counted_and_list_items_say_why_they_have_no_toggle() {
    let mut state = balance_state();
    let mut big = attr("BIG", Kind::Data, "{0: 0, 1: 1, ...}");
    big.children = (0..500)
        .map(|i| entry(&format!("BIG[{i}]"), &i.to_string(), &i.to_string(), false))
        .collect();
    big.more = 99_500;
    let mut levels = attr("LEVELS", Kind::Data, "[10, 20]");
    levels.children = vec![
        entry("LEVELS[0]", "0", "10", false),
        entry("LEVELS[1]", "1", "20", false),
    ];
    state.attrs.insert("balance".into(), vec![levels, big]);
    let mut h = panel(state, [1024.0, 640.0]);
    h.run();
    h.get_by_label("Expand LEVELS").click();
    h.run();
    // LEVELS and BIG have toggles; LEVELS[0] and LEVELS[1] do not.
    assert_eq!(h.query_all_by_label("Keep").count(), 2);
    let dash = h
        .query_all_by_label("—")
        .next()
        .expect("a dash for a list item");
    dash.hover();
    h.run();
    assert!(
        h.query_by_label_contains("Merged as part of LEVELS")
            .is_some(),
        "the reason on hover"
    );
    h.get_by_label("Expand BIG").click();
    h.run();
    let mut found = false;
    for _ in 0..300 {
        if h.query_by_label("… 99,500 more not listed").is_some() {
            found = true;
            break;
        }
        let row = h
            .query_all_by_label_contains("[")
            .last()
            .expect("an entry of BIG laid out");
        row.hover();
        row.scroll_down();
        h.run();
    }
    assert!(found, "the count of entries not listed");
}

/// Issue 13, item 3: a click on a cut-off value shows the whole of it (live and source, and why
/// the reload would do what it says).
#[test]
fn the_value_view_shows_the_whole_value() {
    let mut state = balance_state();
    let lore = format!("'{}'", "a long line of lore ".repeat(150));
    let lore_new = format!("'{}'", "a new line of lore ".repeat(150));
    state.attrs.insert(
        "balance".into(),
        vec![
            attr("LORE", Kind::Data, &lore),
            attr("DIFFICULTY", Kind::Data, "1.45"),
        ],
    );
    state.changed.insert("balance".into());
    let mut c = change(
        "LORE",
        Kind::Data,
        Action::ConflictTookNew,
        &lore,
        &lore_new,
    );
    c.note = "source changed and live value changed too: took the source's value".into();
    let mut preview = report(4, "balance", Outcome::Applied, vec![c]);
    preview.dry_run = true;
    state.previews.insert("balance".into(), preview);
    let mut h = panel(state, [1024.0, 640.0]);
    h.run();
    assert!(h.query_by_label(&lore).is_none(), "the cell holds a part");
    h.get_by_label("LORE").click();
    h.run();
    assert!(h.query_by_label(&lore).is_some(), "the whole live value");
    assert!(
        h.query_by_label(&lore_new).is_some(),
        "the whole source value"
    );
    assert!(
        h.query_by_label("source changed and live value changed too: took the source's value")
            .is_some(),
        "why"
    );
    h.get_by_label("Close").click();
    h.run();
    assert!(h.query_by_label(&lore).is_none(), "closed");
}

/// Issue 13, item 3: hovering a cut-off cell shows one tooltip, not two; a Reload cell with a
/// reason shows one tooltip holding both.
#[test]
fn a_cell_shows_one_tooltip() {
    let mut state = balance_state();
    let long = format!("{{{}}}", "'pistol': {'damage': 10}, ".repeat(6));
    state
        .attrs
        .insert("balance".into(), vec![attr("WEAPONS", Kind::Data, &long)]);
    state.changed.insert("balance".into());
    let mut c = change(
        "WEAPONS",
        Kind::Data,
        Action::ConflictTookNew,
        &long,
        "{'pistol': {'damage': 14}}",
    );
    c.note = "source changed and live value changed too".into();
    let mut preview = report(5, "balance", Outcome::Applied, vec![c]);
    preview.dry_run = true;
    state.previews.insert("balance".into(), preview);
    let mut h = panel(state, [700.0, 400.0]);
    h.run();
    h.get_by_label(&long).hover();
    h.run();
    assert_eq!(
        h.query_all_by_label(&long).count(),
        2,
        "the cell and one tooltip"
    );
    h.get_by_label("would: conflict: took new").hover();
    h.run();
    assert_eq!(
        h.query_all_by_label_contains("source changed and live value changed too")
            .count(),
        1,
        "one tooltip with the reason"
    );
    assert_eq!(
        h.query_all_by_label_contains(&long).count(),
        1,
        "the first is gone"
    );
}

/// Issue 13, item 5: `__main__`, standard-library and extension modules get no toggles (their
/// policy entries would fail at start), and the panel says why.
#[test]
fn modules_no_reload_reaches_have_no_toggles_and_say_why() {
    for (name, group, why) in [
        ("__main__", Group::Project, "__main__ is the running script"),
        ("json", Group::Stdlib, "Standard-library module"),
        ("_socket", Group::Builtin, "Builtin or extension module"),
        ("requests", Group::SitePackages, "Installed package"),
    ] {
        let mut state = UiState::default();
        state.modules = vec![module(name, group), module("balance", Group::Project)];
        state.selected = Some(name.into());
        state.attrs.insert(
            name.into(),
            vec![
                attr("DEBUG", Kind::Data, "False"),
                attr("main", Kind::Function, "<function main>"),
            ],
        );
        let mut h = panel(state, [1024.0, 640.0]);
        h.run();
        assert!(
            h.query_by_label("DEBUG").is_some(),
            "{name}: its values shown"
        );
        assert_eq!(h.query_all_by_label("Keep").count(), 0, "{name}: no toggle");
        assert!(
            h.query_by_label_contains(why).is_some(),
            "{name}: the panel says why"
        );
    }
    let mut h = panel(balance_state(), [1024.0, 640.0]);
    h.run();
    assert_eq!(h.query_all_by_label("Keep").count(), 1, "balance has one");
}

/// Key paths the dry run names beside the live tree (a key the source adds) sit under their
/// parent, with its toggle writing the same key path the merge reads.
#[test]
fn a_key_only_the_source_has_sits_under_its_parent() {
    let mut state = balance_state();
    state.attrs.insert("balance".into(), vec![weapons()]);
    state.changed.insert("balance".into());
    let mut preview = report(
        6,
        "balance",
        Outcome::Applied,
        vec![
            change("WEAPONS", Kind::Data, Action::TookNew, "{...}", "merged"),
            change(
                "WEAPONS['pistol']['spread']",
                Kind::Data,
                Action::Added,
                "",
                "0.2",
            ),
        ],
    );
    preview.dry_run = true;
    state.previews.insert("balance".into(), preview);
    let mut h = panel(state, [1024.0, 640.0]);
    h.run();
    let pistol = h.get_by_label("['pistol']").rect();
    let spread = h.get_by_label("['spread']").rect();
    assert!(spread.min.y > pistol.min.y && spread.min.x > pistol.min.x);
    assert!(h.query_by_label("0.2").is_some(), "its source value");
    h.query_all_by_label("Keep")
        .find(|n| (n.rect().center().y - spread.center().y).abs() < 4.0)
        .expect("its toggle")
        .click();
    h.run();
    assert_eq!(
        h.state().1,
        vec![UiCommand::Send(Command::SetPolicy {
            module: ModuleName("balance".into()),
            qualname: "WEAPONS['pistol']['spread']".into(),
            choice: Override::Keep,
        })]
    );
}

/// The tree the engine sends: key paths spelled as the merge spells them, `keyed` where the merge
/// reads a policy per key, lists as whole values, caps on width and depth with counts, and a
/// long string whole up to its limit.
#[test]
fn the_engine_sends_bounded_trees_with_merge_key_paths() {
    use pyo3::prelude::*;
    swapscope::interp::initialize();
    let attrs = Python::attach(|py| -> PyResult<Vec<AttrInfo>> {
        let code = c"
class Stats:
    def __init__(self):
        self.hp = 10
        self.name = 'ada'

WEAPONS = {'rifle': {'damage': 20, 'tags': ['a', 'b']}, 3: 'three'}
ODD = {(1, 2): 'a tuple key'}
BIG = {i: i for i in range(100_000)}
DEEP = {'a': {'b': {'c': {'d': {'e': 1}}}}}
DEFAULTS = Stats()
LORE = 'x' * 5000
TAGS = {'solo'}

def helper():
    pass
";
        let m = PyModule::from_code(py, code, c"ui_attrs_tree.py", c"ui_attrs_tree")?;
        py.import("sys")?
            .getattr("modules")?
            .set_item("ui_attrs_tree", m)?;
        swapscope::engine::attributes(py, "ui_attrs_tree")
    })
    .expect("attributes");
    let get = |q: &str| {
        attrs
            .iter()
            .find(|a| a.qualname == q)
            .unwrap_or_else(|| panic!("{q}"))
    };
    let paths = |a: &AttrInfo| -> Vec<(String, bool)> {
        a.children
            .iter()
            .map(|c| (c.qualname.clone(), c.keyed))
            .collect()
    };
    let weapons = get("WEAPONS");
    assert_eq!(
        paths(weapons),
        [
            ("WEAPONS['rifle']".into(), true),
            ("WEAPONS[3]".into(), true)
        ]
    );
    let rifle = &weapons.children[0];
    assert_eq!(
        paths(rifle),
        [
            ("WEAPONS['rifle']['damage']".into(), true),
            ("WEAPONS['rifle']['tags']".into(), true)
        ]
    );
    assert_eq!(
        paths(&rifle.children[1]),
        [
            ("WEAPONS['rifle']['tags'][0]".into(), false),
            ("WEAPONS['rifle']['tags'][1]".into(), false)
        ],
        "list items merge with their list"
    );
    assert_eq!(paths(get("ODD")), [("ODD[(1, 2)]".into(), false)]);
    let big = get("BIG");
    assert_eq!((big.children.len(), big.more), (500, 99_500));
    assert!(
        !big.children[0].keyed,
        "a table past the merge's limit is one value"
    );
    assert_eq!(
        paths(get("DEFAULTS")),
        [("DEFAULTS.hp".into(), true), ("DEFAULTS.name".into(), true)]
    );
    let mut deep = get("DEEP");
    for _ in 0..4 {
        deep = &deep.children[0];
    }
    assert_eq!(deep.qualname, "DEEP['a']['b']['c']['d']");
    assert_eq!(
        (deep.children.len(), deep.more),
        (0, 1),
        "counted past the depth cap"
    );
    let lore = &get("LORE").repr;
    assert!(lore.starts_with(&format!("'{}", "x".repeat(4000))));
    assert!(
        lore.ends_with("(5000 characters)"),
        "{}",
        &lore[lore.len() - 40..]
    );
    assert_eq!(get("TAGS").repr, "{'solo'}");
    let helper = get("helper");
    assert_eq!(helper.kind, Kind::Function);
    assert!(helper.children.is_empty());
}

/// A 3,000-attribute module with one change: "Changed only" shows that row alone, the filter
/// finds a name in closed branches too (listed with its full path), and "by name" sorts.
#[test]
fn attributes_filter_changed_only_and_order() {
    let mut state = balance_state();
    let mut attrs: Vec<AttrInfo> = (0..3000)
        .map(|i| attr(&format!("K{i:04}"), Kind::Data, &i.to_string()))
        .collect();
    let mut weapons = attr("WEAPONS", Kind::Data, "{...}");
    weapons
        .children
        .push(attr("WEAPONS['rifle']", Kind::Data, "20"));
    attrs.insert(0, weapons);
    attrs.push(attr("AARDVARK", Kind::Data, "1"));
    state.attrs.insert("balance".into(), attrs);
    state.changed.insert("balance".into());
    let mut preview = report(
        2,
        "balance",
        Outcome::Applied,
        vec![change("K2500", Kind::Data, Action::TookNew, "2500", "7")],
    );
    preview.dry_run = true;
    state.previews.insert("balance".into(), preview);
    let mut h = panel(state, [1400.0, 900.0]);
    h.run();
    assert!(h.query_by_label("K2500").is_none(), "2,500 rows down");
    h.get_by_label("Changed only").click();
    h.run();
    assert!(h.query_by_label("K2500").is_some(), "the one changed row");
    assert!(h.query_by_label("K0001").is_none());
    h.get_by_label("Changed only").click();
    h.run();
    h.get_by_role(egui::accesskit::Role::TextInput).click();
    h.run_steps(2);
    h.get_by_role(egui::accesskit::Role::TextInput)
        .type_text("rifle");
    h.run_steps(3);
    assert!(
        h.query_by_label("WEAPONS['rifle']").is_some(),
        "found in a closed branch, with its full path"
    );
    assert!(h.query_by_label("K0001").is_none());
}

/// "by name" puts the module's attributes in alphabetical order.
#[test]
fn attributes_order_by_name() {
    let mut state = balance_state();
    state.attrs.insert(
        "balance".into(),
        vec![
            attr("ZEBRA", Kind::Data, "1"),
            attr("apple", Kind::Function, "<function apple>"),
            attr("MIDDLE", Kind::Data, "2"),
        ],
    );
    let mut h = panel(state, [1400.0, 900.0]);
    h.run();
    let top = |h: &Harness<'static, (UiState, Vec<UiCommand>)>, name: &str| {
        h.get_by_label(name).rect().top()
    };
    assert!(top(&h, "ZEBRA") < top(&h, "apple"), "source order first");
    h.get_by_label("Order:").click();
    h.run();
    h.get_by_label("by name").click();
    h.run();
    assert!(top(&h, "apple") < top(&h, "MIDDLE"));
    assert!(top(&h, "MIDDLE") < top(&h, "ZEBRA"));
}

/// With a hazard warning shown, every toolbar control still lies inside a 1024×640 window, at
/// 100% and at 150% (the warning has its own line; the rarer switches are in Options), and a
/// switch in Options works.
#[test]
fn every_toolbar_control_is_reachable_with_a_warning_at_1024x640_and_at_150_percent() {
    for zoom in [1.0, 1.5] {
        let (mut h, fake) = app([1024.0, 640.0], zoom);
        started(&fake);
        h.run_steps(3);
        fake.send(Event::FilesChanged {
            modules: vec![ModuleName("balance".into())],
            paths: vec!["/game/balance.py".into()],
        });
        h.run_steps(3);
        let mut removed = change("XP_PER_KILL", Kind::Data, Action::Removed, "30", "");
        removed.note = format!(
            "no longer in the source; {}game.py:35 reads balance.XP_PER_KILL; those reads will \
             fail with AttributeError",
            swapscope::protocol::STILL_USED
        );
        let mut preview = report(9, "balance", Outcome::Applied, vec![removed]);
        preview.dry_run = true;
        fake.send(Event::ReloadFinished(preview));
        h.run_steps(4);
        assert!(
            h.query_by_label_contains("Reload would remove XP_PER_KILL")
                .is_some(),
            "the warning is shown"
        );
        let width = 1024.0 / zoom;
        for label in [
            "Reload balance",
            "Undo",
            "Reload all changed (1)",
            "Auto-reload on save",
            "Options",
        ] {
            let rect = h.get_by_label(label).rect();
            assert!(
                rect.min.x >= 0.0 && rect.max.x <= width,
                "{label} at {zoom}: {rect:?} is not inside the {width}-point window"
            );
        }
        fake.drain();
        h.get_by_label("Options").click();
        h.run_steps(2);
        h.get_by_label("Whole modules").click();
        h.run_steps(2);
        assert!(fake.drain().contains(&Command::SetWholeReloads(true)));
    }
}
