//! The modules list: every loaded module by group, dotted names as a package tree (`game`, then
//! `game.units` and `game.balance` under it). A program can load 10,000 modules, so the visible
//! part of the tree is flattened into rows and only the rows on screen are laid out; the arrow
//! keys move the selection through the same rows, and Enter reloads it.

use std::collections::BTreeMap;

use egui::{Key, Modifiers, RichText, Ui};

use super::UiCommand;
use super::state::UiState;
use super::theme;
use crate::protocol::{Group, ModuleInfo, Outcome};

/// How far each level of the tree is indented.
const INDENT: f32 = 14.0;
/// The width of a package's open/close arrow (leaves keep the same room, so names line up).
const ARROW_WIDTH: f32 = 14.0;

fn group_label(g: Group) -> &'static str {
    match g {
        Group::Project => "Project",
        Group::SitePackages => "site-packages",
        Group::Stdlib => "Standard library",
        Group::Builtin => "Builtin and extension",
    }
}

/// A row of the modules list: a group header, or a name of the tree (a module, a package, or
/// both when the package's `__init__` is loaded).
enum Row<'a> {
    Header {
        group: Group,
        /// Modules in the group (those matching the filter while it is set).
        count: usize,
        /// Changed modules in the group, shown while it is closed.
        changed: usize,
    },
    Name(Entry<'a>),
}

/// A name of the tree, as its row shows it.
struct Entry<'a> {
    group: Group,
    /// The full dotted name.
    name: &'a str,
    depth: usize,
    /// None for a package known only from its modules' names (a namespace package, or one
    /// listed in another group).
    module: Option<&'a ModuleInfo>,
    /// Set for a name with modules under it.
    package: Option<Package>,
    /// Shown only because a name below it matches the filter.
    dim: bool,
}

/// What a package row shows besides its name.
#[derive(Clone, Copy)]
struct Package {
    open: bool,
    /// Modules below it (at any depth).
    size: usize,
    /// Changed modules below it, shown while it is closed.
    changed: usize,
}

impl Row<'_> {
    /// The module a row selects, if it is one.
    fn module(&self) -> Option<&ModuleInfo> {
        match self {
            Row::Name(n) => n.module,
            Row::Header { .. } => None,
        }
    }
}

/// Whether `package` of `group` is shown open (see `UiState::toggled_packages`).
pub fn package_open(state: &UiState, group: Group, package: &str) -> bool {
    let toggled = state
        .toggled_packages
        .get(&group)
        .is_some_and(|s| s.contains(package));
    (group == Group::Project) != toggled
}

/// One name of a group's tree.
struct Node<'a> {
    name: &'a str,
    module: Option<&'a ModuleInfo>,
    parent: Option<usize>,
    depth: usize,
    /// One past its last node below: the nodes are in tree order, each package followed by
    /// everything below it, so a closed package's subtree is skipped in one step.
    end: usize,
    /// Modules below (not counting itself).
    size: usize,
    /// Changed modules below (not counting itself).
    changed: usize,
    /// It or a name below it matches the filter.
    shown: bool,
    /// It matches the filter itself.
    matches: bool,
}

/// The names of one group as a tree: the modules, and the packages their dotted names imply,
/// in tree order (see `tree_order`). Built each frame for the open groups with no hashing and
/// one allocation, as 10,000 modules must not slow the window down.
struct Tree<'a> {
    nodes: Vec<Node<'a>>,
}

/// Dotted names in tree order: by their parts, so a package comes right before what is below
/// it (`game`, `game.units`, `game_tools`). Comparing with the dot as the lowest byte does that
/// without splitting.
pub(crate) fn tree_order(a: &str, b: &str) -> std::cmp::Ordering {
    let lowered = |c: &u8| if *c == b'.' { 0 } else { *c };
    a.as_bytes()
        .iter()
        .map(lowered)
        .cmp(b.as_bytes().iter().map(lowered))
}

/// Whether `name` is below `package` (`game.units` is below `game`, `game_tools` is not).
fn is_below(name: &str, package: &str) -> bool {
    name.len() > package.len()
        && name.starts_with(package)
        && name.as_bytes()[package.len()] == b'.'
}

impl<'a> Tree<'a> {
    fn build(modules: &[&'a ModuleInfo], state: &UiState, needle: &str) -> Self {
        let mut sorted = modules.to_vec();
        // The state keeps the list in tree order (sorted once when it arrives, see
        // `UiState::apply`): then this is one pass over it, not a sort per frame.
        if !sorted.is_sorted_by(|a, b| tree_order(&a.name, &b.name).is_le()) {
            sorted.sort_by(|a, b| tree_order(&a.name, &b.name));
        }
        let mut nodes: Vec<Node<'a>> = Vec::with_capacity(sorted.len() + sorted.len() / 8);
        // The packages above the last name, innermost last.
        let mut path: Vec<usize> = Vec::new();
        let push = |nodes: &mut Vec<Node<'a>>, path: &mut Vec<usize>, name, module| {
            nodes.push(Node {
                name,
                module,
                parent: path.last().copied(),
                depth: path.len(),
                end: 0,
                size: 0,
                changed: 0,
                shown: false,
                matches: false,
            });
            path.push(nodes.len() - 1);
        };
        for m in sorted {
            let name = m.name.as_str();
            while let Some(&top) = path.last() {
                if nodes[top].name == name || is_below(name, nodes[top].name) {
                    break;
                }
                nodes[top].end = nodes.len();
                path.pop();
            }
            if path.last().is_some_and(|&top| nodes[top].name == name) {
                continue; // listed twice
            }
            // The packages between the innermost one above and the name, not loaded themselves.
            let start = path.last().map_or(0, |&top| nodes[top].name.len() + 1);
            for (i, _) in name[start..].match_indices('.') {
                push(&mut nodes, &mut path, &name[..start + i], None);
            }
            push(&mut nodes, &mut path, name, Some(m));
        }
        for top in path {
            nodes[top].end = nodes.len();
        }
        // Sizes and changed counts go up to every package above.
        let mut changed = vec![false; nodes.len()];
        for name in &state.changed {
            if let Ok(i) = nodes.binary_search_by(|n| tree_order(n.name, name)) {
                changed[i] = nodes[i].module.is_some();
            }
        }
        for i in 0..nodes.len() {
            if nodes[i].module.is_none() {
                continue;
            }
            let mut up = nodes[i].parent;
            while let Some(p) = up {
                nodes[p].size += 1;
                nodes[p].changed += usize::from(changed[i]);
                up = nodes[p].parent;
            }
        }
        if !needle.is_empty() {
            for i in 0..nodes.len() {
                if nodes[i].module.is_none() || !contains_ignoring_case(nodes[i].name, needle) {
                    continue;
                }
                nodes[i].matches = true;
                let mut up = Some(i);
                while let Some(p) = up {
                    if nodes[p].shown {
                        break;
                    }
                    nodes[p].shown = true;
                    up = nodes[p].parent;
                }
            }
        }
        Tree { nodes }
    }

    /// Appends the rows of the names shown: open packages' children, or while filtering the
    /// matches and the packages above them (all open).
    fn flatten(&self, group: Group, state: &UiState, filtering: bool, rows: &mut Vec<Row<'a>>) {
        let mut i = 0;
        while let Some(node) = self.nodes.get(i) {
            if filtering && !node.shown {
                // Nothing below matches either.
                i = node.end;
                continue;
            }
            let package = (node.end > i + 1).then(|| Package {
                open: filtering || package_open(state, group, node.name),
                size: node.size,
                changed: node.changed,
            });
            rows.push(Row::Name(Entry {
                group,
                name: node.name,
                depth: node.depth,
                module: node.module,
                package,
                dim: filtering && !node.matches,
            }));
            i = match package {
                Some(p) if !p.open => node.end,
                _ => i + 1,
            };
        }
    }
}

/// Whether `name` contains `needle` (lower case), ignoring case.
fn contains_ignoring_case(name: &str, needle: &str) -> bool {
    if name.is_ascii() && needle.is_ascii() {
        let (name, needle) = (name.as_bytes(), needle.as_bytes());
        needle.is_empty()
            || name
                .windows(needle.len())
                .any(|w| w.eq_ignore_ascii_case(needle))
    } else {
        name.to_lowercase().contains(needle)
    }
}

/// The last part of a dotted name (`units` of `game.units`).
fn short(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(_, last)| last)
}

/// The rows of the list: each group's header, then its tree when the group is open (every
/// group is open while filtering, and shows only the matches with the packages above them).
fn rows(state: &UiState) -> Vec<Row<'_>> {
    let needle = state.filter.to_lowercase();
    let filtering = !needle.is_empty();
    let mut groups: BTreeMap<Group, Vec<&ModuleInfo>> = BTreeMap::new();
    for m in &state.modules {
        groups.entry(m.group).or_default().push(m);
    }
    let mut rows = Vec::new();
    for (group, list) in &groups {
        let open = state.expanded.contains(group);
        if !open && !filtering {
            // A closed group costs one row, whatever its size.
            let changed = if state.changed.is_empty() {
                0
            } else {
                list.iter()
                    .filter(|m| state.changed.contains(&m.name))
                    .count()
            };
            rows.push(Row::Header {
                group: *group,
                count: list.len(),
                changed,
            });
            continue;
        }
        let tree = Tree::build(list, state, &needle);
        let count = if filtering {
            tree.nodes.iter().filter(|n| n.matches).count()
        } else {
            list.len()
        };
        if count == 0 {
            continue;
        }
        rows.push(Row::Header {
            group: *group,
            count,
            changed: 0,
        });
        tree.flatten(*group, state, filtering, &mut rows);
    }
    rows
}

/// Whether the arrow keys and Enter belong to the list this frame: not while a text field is
/// typed in, nor while another widget has the keyboard (egui moves the focus between widgets
/// with the arrows, and Enter presses a focused button), nor under the "reload anyway?"
/// question. Escape takes the focus away from any widget.
fn keys_free(ctx: &egui::Context, state: &UiState) -> bool {
    state.confirm_reload.is_none() && ctx.memory(|m| m.focused().is_none())
}

/// The list's keys of one pass (see `claim_keys`).
#[derive(Clone, Copy, Debug, Default)]
struct ListKeys {
    pass: u64,
    down: usize,
    up: usize,
    enter: bool,
}

fn keys_id() -> egui::Id {
    egui::Id::unique("modules list keys")
}

/// Takes Up, Down and Enter for the list when they are its (see `keys_free`), before any panel
/// is drawn: a text field drawn earlier in the frame gives up the keyboard on Enter (the filter,
/// the hotfix line), and that Enter must not reach the list too. `InspectorApp::draw` calls it
/// first thing, as it takes Ctrl+R; `modules_ui` calls it itself when drawn alone.
pub fn claim_keys(ctx: &egui::Context, state: &UiState) {
    let mut keys = ListKeys {
        pass: ctx.cumulative_pass_nr(),
        ..ListKeys::default()
    };
    if keys_free(ctx, state) {
        ctx.input_mut(|i| {
            keys.down = i.count_and_consume_key(Modifiers::NONE, Key::ArrowDown);
            keys.up = i.count_and_consume_key(Modifiers::NONE, Key::ArrowUp);
            keys.enter = i.consume_key(Modifiers::NONE, Key::Enter);
        });
    }
    ctx.data_mut(|d| d.insert_temp(keys_id(), keys));
}

/// The keys `claim_keys` took in this pass (claiming them now if it has not run).
fn claimed_keys(ctx: &egui::Context, state: &UiState) -> ListKeys {
    let pass = ctx.cumulative_pass_nr();
    let stashed = ctx.data(|d| d.get_temp::<ListKeys>(keys_id()));
    if let Some(keys) = stashed.filter(|k| k.pass == pass) {
        return keys;
    }
    claim_keys(ctx, state);
    ctx.data(|d| d.get_temp::<ListKeys>(keys_id()))
        .unwrap_or_default()
}

/// The row the arrow keys move the selection to (Down from no visible selection starts at the
/// top, Up at the bottom), or None when no key was pressed or no module is listed.
fn moved_selection(keys: ListKeys, state: &UiState, rows: &[Row<'_>]) -> Option<usize> {
    let ListKeys { down, up, .. } = keys;
    if down == up {
        return None;
    }
    let modules: Vec<usize> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.module().is_some())
        .map(|(i, _)| i)
        .collect();
    let last = modules.len().checked_sub(1)?;
    let current = state.selected.as_deref().and_then(|s| {
        modules
            .iter()
            .position(|&i| rows[i].module().is_some_and(|m| m.name == s))
    });
    let at = match current {
        Some(at) if down > up => (at + (down - up)).min(last),
        Some(at) => at.saturating_sub(up - down),
        None if down > up => (down - up - 1).min(last),
        None => last.saturating_sub(up - down - 1),
    };
    Some(modules[at])
}

/// Every loaded module, project first, other groups closed; only visible rows are laid out.
/// With no widget holding the keyboard, Up and Down move the selection (scrolling to it) and
/// Enter reloads it, as the Reload button and Ctrl+R do.
pub fn modules_ui(ui: &mut Ui, state: &UiState, commands: &mut Vec<UiCommand>) {
    let keys = claimed_keys(ui.ctx(), state);
    ui.heading("Modules");
    let mut filter = state.filter.clone();
    if ui
        .add(egui::TextEdit::singleline(&mut filter).hint_text("filter modules"))
        .changed()
    {
        commands.push(UiCommand::SetFilter(filter));
    }
    ui.separator();
    if state.worker_alive && !state.modules.iter().any(|m| m.group == Group::Project) {
        // The script (and what it imports) comes after the interpreter's own modules: say so
        // rather than show the standard library as if it were the project. Once the script is
        // listed the list speaks for itself (a one-file script has nothing more).
        ui.label(
            RichText::new("Waiting for the script to import its modules…")
                .color(theme::muted(ui.visuals())),
        );
    }
    let rows = rows(state);
    let filtering = !state.filter.is_empty();
    let mut scroll_to = None;
    let mut selected = state.selected.as_deref();
    if let Some(i) = moved_selection(keys, state, &rows)
        && let Some(m) = rows[i].module()
    {
        if selected != Some(m.name.as_str()) {
            commands.push(UiCommand::SelectModule(m.name.clone()));
        }
        selected = Some(m.name.as_str());
        scroll_to = Some(i);
    }
    if keys.enter {
        commands.push(UiCommand::ReloadSelected);
    }
    // `__main__` is the script: a change to it needs a restart, not a reload.
    let main_changed = state.changed.contains("__main__")
        || state.module("__main__").is_some_and(|m| m.changed_on_disk);
    egui::ScrollArea::vertical()
        .id_salt("modules")
        .auto_shrink([false, false])
        .show_rows(ui, theme::ROW_HEIGHT, rows.len(), |ui, range| {
            if let Some(i) = scroll_to {
                // The row may be off screen (not laid out): its place follows from its index.
                let step = theme::ROW_HEIGHT + ui.spacing().item_spacing.y;
                let top = ui.max_rect().top() + (points(i) - points(range.start)) * step;
                let rect = egui::Rect::from_x_y_ranges(
                    ui.max_rect().x_range(),
                    top..=top + theme::ROW_HEIGHT,
                );
                ui.scroll_to_rect(rect, None);
            }
            for row in &rows[range] {
                match row {
                    Row::Header {
                        group,
                        count,
                        changed,
                    } => header_ui(ui, state, *group, *count, *changed, commands),
                    Row::Name(row) => {
                        entry_ui(ui, state, row, selected, filtering, main_changed, commands);
                    }
                }
            }
        });
}

/// A module or package row: indented by its depth, a package's arrow, the name, the markers, and
/// a closed package's size and changed count.
fn entry_ui(
    ui: &mut Ui,
    state: &UiState,
    row: &Entry<'_>,
    selected: Option<&str>,
    filtering: bool,
    main_changed: bool,
    commands: &mut Vec<UiCommand>,
) {
    ui.horizontal(|ui| {
        ui.set_min_height(theme::ROW_HEIGHT);
        ui.add_space(12.0 + points(row.depth) * INDENT);
        match row.package {
            Some(p) => arrow_ui(ui, row, p.open, filtering, commands),
            None => ui.add_space(ARROW_WIDTH + ui.spacing().item_spacing.x),
        }
        name_ui(ui, row, selected, filtering, commands);
        if let Some(m) = row.module {
            markers_ui(ui, state, m, main_changed);
        }
        if let Some(p) = row.package.filter(|p| !p.open) {
            ui.label(RichText::new(format!("({})", p.size)).color(theme::muted(ui.visuals())));
            if p.changed > 0 {
                ui.label(
                    RichText::new(format!("● {}", p.changed)).color(theme::changed(ui.visuals())),
                )
                .on_hover_text(format!(
                    "{} changed on disk since loaded",
                    modules_count(p.changed)
                ));
            }
        }
    });
}

/// A count of rows or levels as a length in points.
#[expect(
    clippy::cast_precision_loss,
    reason = "row counts and depths are far below 2^23, where f32 stops being exact"
)]
fn points(n: usize) -> f32 {
    n as f32
}

/// "1 module", "3 modules".
fn modules_count(n: usize) -> String {
    if n == 1 {
        "1 module".into()
    } else {
        format!("{n} modules")
    }
}

/// A group's header: click to open or close it.
fn header_ui(
    ui: &mut Ui,
    state: &UiState,
    group: Group,
    count: usize,
    changed: usize,
    commands: &mut Vec<UiCommand>,
) {
    let open = state.expanded.contains(&group);
    let arrow = if open { "⏷" } else { "⏵" };
    ui.horizontal(|ui| {
        if ui
            .selectable_label(
                false,
                RichText::new(format!("{arrow} {} ({count})", group_label(group))).strong(),
            )
            .clicked()
        {
            commands.push(UiCommand::ToggleGroup(group));
        }
        if changed > 0 {
            ui.label(RichText::new(format!("● {changed}")).color(theme::changed(ui.visuals())))
                .on_hover_text(format!(
                    "{} changed on disk since loaded",
                    modules_count(changed)
                ));
        }
    });
}

/// A package's open/close arrow. Screen readers (and tests) read it as "Close game" or "Open
/// game". While filtering every package shown is open, and the arrow does nothing.
fn arrow_ui(
    ui: &mut Ui,
    row: &Entry<'_>,
    open: bool,
    filtering: bool,
    commands: &mut Vec<UiCommand>,
) {
    let name = row.name;
    let arrow = if open { "⏷" } else { "⏵" };
    let response = ui.add_enabled_ui(!filtering, |ui| {
        ui.add_sized(
            [ARROW_WIDTH, theme::ROW_HEIGHT],
            egui::Button::new(arrow).frame(false),
        )
    });
    let response = response.inner;
    let action = if open { "Close" } else { "Open" };
    response.widget_info(|| {
        egui::WidgetInfo::labeled(egui::Role::Button, !filtering, format!("{action} {name}"))
    });
    if response
        .on_hover_text(format!("{action} package {name}"))
        .on_disabled_hover_text("Every package with a match is open while filtering")
        .clicked()
    {
        commands.push(UiCommand::TogglePackage(row.group, name.to_string()));
    }
}

/// The name of a row: selects its module when it is one; a package known only from its
/// modules' names opens or closes instead (except while filtering, see `arrow_ui`).
fn name_ui(
    ui: &mut Ui,
    row: &Entry<'_>,
    selected: Option<&str>,
    filtering: bool,
    commands: &mut Vec<UiCommand>,
) {
    let name = row.name;
    let mut text = RichText::new(short(name));
    if row.dim || row.module.is_none() {
        text = text.color(theme::muted(ui.visuals()));
    }
    let is_selected = row.module.is_some() && selected == Some(name);
    let response = ui.selectable_label(is_selected, text);
    let hover = match (row.module, row.package) {
        (None, Some(p)) => format!(
            "package {name}: not loaded itself; {} below",
            modules_count(p.size)
        ),
        _ => name.to_string(),
    };
    if response.on_hover_text(hover).clicked() {
        if row.module.is_some() {
            commands.push(UiCommand::SelectModule(name.to_string()));
        } else if row.package.is_some() && !filtering {
            commands.push(UiCommand::TogglePackage(row.group, name.to_string()));
        }
    }
}

/// A module's markers: changed on disk (or "restart needed" at `__main__`), the last reload's
/// outcome.
fn markers_ui(ui: &mut Ui, state: &UiState, m: &ModuleInfo, main_changed: bool) {
    if m.name == "__main__" && main_changed {
        ui.colored_label(theme::changed(ui.visuals()), "restart needed")
            .on_hover_text(
                "The script's own file changed: a reload cannot run it again; Restart script \
                 does.",
            );
    } else if state.changed.contains(&m.name) {
        ui.label(
            RichText::new("●")
                .monospace()
                .color(theme::changed(ui.visuals())),
        )
        .on_hover_text("changed on disk since loaded");
    }
    if let Some(outcome) = m.last_outcome {
        let mark = if outcome == Outcome::Applied {
            "✔"
        } else {
            "✖"
        };
        ui.colored_label(theme::outcome_color(ui.visuals(), outcome), mark)
            .on_hover_text(format!("last reload: {}", theme::outcome_label(outcome)));
    }
}
