//! The selected module's attributes as a tree: live value, source value, what a reload would do
//! or did, per attribute and per key path inside data (dict keys, list items, a plain instance's
//! attributes), with the Auto / Keep / Take toggle wherever a reload reads one; and a value view
//! that shows the clicked row whole.
//!
//! Layout rules (issue 13): the toggles never shrink; the name, values and Reload columns shrink
//! to a minimum and truncate (the whole text is one click away, in the value view), and only then
//! does the table scroll sideways. Each cell has at most one tooltip.

use std::borrow::Cow;
// Built every frame for thousands of rows: a fast hash, not a DoS-resistant one (the keys are
// the program's own names).
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use egui::{Align, Color32, Id, Label, Layout, RichText, ScrollArea, Sense, Stroke, Ui};
use egui_extras::{Column, TableBuilder};

use super::UiCommand;
use super::panels::reloadable;
use super::state::UiState;
use super::theme::{self, Palette};
use crate::protocol::{Action, AttrInfo, Change, Group, Kind, ModuleInfo, Outcome, Override};
use crate::protocol::{Command, ModuleName, ReloadReport};

/// Characters of a value a cell holds; the value view shows all the engine sent.
const CELL_CHARS: usize = 200;
/// Indentation per tree level.
const INDENT: f32 = 12.0;
/// Width of the open/close arrow.
const ARROW: f32 = 14.0;
/// The toggles, in order.
const CHOICES: [(Override, &str); 3] = [
    (Override::Auto, "Auto"),
    (Override::Keep, "Keep"),
    (Override::Take, "Take"),
];

/// What the tree remembers between frames, per module (egui's memory: the panel only reads the
/// state).
#[derive(Clone, Debug, Default)]
struct TreeMemory {
    /// Rows the user opened or closed; the others follow `Builder::default_open`.
    open: HashMap<String, bool>,
    /// The row shown in the value view.
    selected: Option<String>,
    /// Only rows whose path contains this (any case); the tree is searched whole, closed
    /// branches included, and the matches listed with their full paths.
    filter: String,
    /// Only rows a reload would change or did change (and conflicts).
    changed_only: bool,
    /// The order of the module's attributes.
    order: Order,
}

/// The order of a module's attributes (entries and members stay under their parent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Order {
    /// As the module defines them.
    #[default]
    Source,
    /// By name.
    Name,
    /// Data first, then functions, then classes; by name within each.
    Kind,
}

impl Order {
    const ALL: [Order; 3] = [Order::Source, Order::Name, Order::Kind];

    fn label(self) -> &'static str {
        match self {
            Order::Source => "source order",
            Order::Name => "by name",
            Order::Kind => "by kind",
        }
    }
}

/// Where a kind goes in `Order::Kind`.
fn kind_rank(kind: Kind) -> u8 {
    match kind {
        Kind::Data => 0,
        Kind::Function | Kind::Method | Kind::Classmethod | Kind::Staticmethod => 1,
        Kind::Property => 2,
        Kind::Class => 3,
        Kind::Module | Kind::Other => 4,
    }
}

/// The lines as the user asked to see them: filtered (`filter`, `changed_only`: matching rows
/// only, each with its full path, as a flat list) or the tree with its top-level attributes in
/// `order`.
fn arrange<'a>(lines: Vec<Line<'a>>, memory: &TreeMemory) -> Vec<Line<'a>> {
    let needle = memory.filter.trim().to_lowercase();
    if !needle.is_empty() || memory.changed_only {
        let mut rows: Vec<Line<'a>> = lines
            .into_iter()
            .filter_map(|l| match l {
                Line::Row(mut r) => {
                    let text = needle.is_empty() || r.path.to_lowercase().contains(&needle);
                    let changed = !memory.changed_only || r.action().is_some() || r.conflict();
                    (text && changed).then(|| {
                        r.depth = 0;
                        r.label = Cow::Borrowed(r.path);
                        r.open = None;
                        Line::Row(r)
                    })
                }
                Line::More { .. } => None,
            })
            .collect();
        if memory.order != Order::Source {
            rows.sort_by(|a, b| compare(a, b, memory.order));
        }
        return rows;
    }
    if memory.order == Order::Source {
        return lines;
    }
    // Top-level attributes with everything under them, sorted as groups.
    let mut groups: Vec<Vec<Line<'a>>> = Vec::new();
    for l in lines {
        let top = matches!(&l, Line::Row(r) if r.depth == 0);
        match groups.last_mut() {
            Some(g) if !top => g.push(l),
            _ => groups.push(vec![l]),
        }
    }
    groups.sort_by(|a, b| match (a.first(), b.first()) {
        (Some(x), Some(y)) => compare(x, y, memory.order),
        _ => std::cmp::Ordering::Equal,
    });
    groups.into_iter().flatten().collect()
}

fn compare(a: &Line<'_>, b: &Line<'_>, order: Order) -> std::cmp::Ordering {
    let key = |l: &Line<'_>| match l {
        Line::Row(r) => (kind_rank(r.kind), r.path.to_lowercase()),
        Line::More { .. } => (u8::MAX, String::new()),
    };
    let ((ka, pa), (kb, pb)) = (key(a), key(b));
    match order {
        Order::Kind => ka.cmp(&kb).then(pa.cmp(&pb)),
        Order::Name | Order::Source => pa.cmp(&pb),
    }
}

fn memory_id(module: &str) -> Id {
    Id::unique(("attributes tree", module))
}

/// Where a row comes from, which decides whether it gets a policy toggle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// A module global or class member: data takes a policy.
    Attr,
    /// An entry inside a value: takes a policy when the merge reads its key path (`keyed`).
    Entry { keyed: bool },
    /// A key path only the report names (an older agent, a key the source adds).
    Report,
}

/// One row of the table.
struct Row<'a> {
    /// Qualname or key path: what the policy file and the reports name.
    path: &'a str,
    /// What the name column shows: the name, or the key path below the parent (`['rifle']`).
    label: Cow<'a, str>,
    depth: u16,
    kind: Kind,
    /// The live value; `None` for a name the program does not have yet.
    live: Option<&'a str>,
    /// `Some(open)` for a row with entries or members below it.
    open: Option<bool>,
    preview: Option<&'a Change>,
    last: Option<&'a Change>,
    origin: Origin,
    /// The live node, for the value view.
    node: Option<&'a AttrInfo>,
}

impl Row<'_> {
    /// A reload would resolve it as a conflict, or remove a name other code still reads.
    fn conflict(&self) -> bool {
        self.preview
            .is_some_and(|c| c.action.is_conflict() || c.note.contains(crate::protocol::STILL_USED))
    }

    /// Whether it gets the Auto / Keep / Take toggle (in a module a reload can reach).
    fn toggle(&self) -> bool {
        match self.origin {
            Origin::Attr | Origin::Report => self.kind == Kind::Data,
            Origin::Entry { keyed } => keyed,
        }
    }

    /// What a reload would do (`would`) or did (`did`), if anything.
    fn action(&self) -> Option<(&'static str, &Change)> {
        match (self.preview, self.last) {
            (Some(c), _) => Some(("would", c)),
            (None, Some(c)) => Some(("did", c)),
            _ => None,
        }
        .filter(|(_, c)| c.action != Action::Unchanged)
    }

    /// The source value a dry run found, if it differs from the live one.
    fn source(&self) -> Option<&str> {
        let c = self.preview.filter(|c| c.action != Action::Unchanged)?;
        // For tables, what changed says more than the start of the new value.
        Some(match c.note.split_once("changes: ") {
            Some((_, changes)) => changes,
            None => &c.new,
        })
    }
}

/// A line of the table: a row, or the count of entries not listed under one.
enum Line<'a> {
    Row(Row<'a>),
    More { depth: u16, count: usize },
}

/// The dry run and the last reload of the module, by qualname.
struct Reports<'a> {
    preview: Option<&'a ReloadReport>,
    last: Option<&'a ReloadReport>,
    preview_by: HashMap<&'a str, &'a Change>,
    last_by: HashMap<&'a str, &'a Change>,
}

impl<'a> Reports<'a> {
    fn new(preview: Option<&'a ReloadReport>, last: Option<&'a ReloadReport>) -> Self {
        let by = |r: Option<&'a ReloadReport>| {
            r.map(|r| {
                r.changes
                    .iter()
                    .map(|c| (c.qualname.as_str(), c))
                    .collect::<HashMap<_, _>>()
            })
            .unwrap_or_default()
        };
        Reports {
            preview,
            last,
            preview_by: by(preview),
            last_by: by(last),
        }
    }

    /// The report whose key paths become rows: the dry run if there is one, else the last
    /// reload (true for the dry run).
    fn keyed(&self) -> Option<(&'a ReloadReport, bool)> {
        match (self.preview, self.last) {
            (Some(p), _) => Some((p, true)),
            (None, Some(l)) => Some((l, false)),
            _ => None,
        }
    }
}

/// The ends of a path's segments: `W['a'].b` gives the ends of `W`, `W['a']` and `W['a'].b`.
/// Quoted keys may hold `]`, `.` or `[` (`W['a.b']`), so quotes are skipped whole.
fn segment_ends(path: &str) -> Vec<usize> {
    let b = path.as_bytes();
    let head = |mut i: usize| {
        while i < b.len() && b[i] != b'[' && b[i] != b'.' {
            i += 1;
        }
        i
    };
    let mut i = head(0);
    let mut ends = vec![i];
    while i < b.len() {
        if b[i] == b'[' {
            i += 1;
            if i < b.len() && (b[i] == b'\'' || b[i] == b'"') {
                let quote = b[i];
                i += 1;
                while i < b.len() && b[i] != quote {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            while i < b.len() && b[i] != b']' {
                i += 1;
            }
            i = (i + 1).min(b.len());
        } else {
            i = head(i + 1);
        }
        ends.push(i);
    }
    ends
}

/// The paths above `path` (`W`, `W['a']` for `W['a']['b']`), nearest last.
fn parents(path: &str) -> impl DoubleEndedIterator<Item = &str> {
    let ends = segment_ends(path);
    let n = ends.len().saturating_sub(1);
    ends.into_iter().take(n).filter_map(move |e| path.get(..e))
}

/// Every live path (attributes, members, entries) with its node.
fn index<'a>(attrs: &'a [AttrInfo], out: &mut HashMap<&'a str, &'a AttrInfo>) {
    for a in attrs {
        out.insert(a.qualname.as_str(), a);
        index(&a.children, out);
    }
}

/// Builds the table's lines from the live tree and the reports.
struct Builder<'a, 'm> {
    reports: &'m Reports<'a>,
    memory: &'m TreeMemory,
    /// Key paths only the report names, under the nearest live path above them.
    extras: HashMap<&'a str, Vec<&'a Change>>,
    /// Paths with a change somewhere below: open unless the user closed them.
    changed_below: HashSet<&'a str>,
    lines: Vec<Line<'a>>,
}

impl<'a> Builder<'a, '_> {
    fn default_open(&self, path: &str, kind: Kind) -> bool {
        kind == Kind::Class || self.changed_below.contains(path)
    }

    fn is_open(&self, path: &str, kind: Kind) -> bool {
        // A filter searches the whole tree.
        if !self.memory.filter.trim().is_empty() || self.memory.changed_only {
            return true;
        }
        self.memory
            .open
            .get(path)
            .copied()
            .unwrap_or_else(|| self.default_open(path, kind))
    }

    /// The module's attributes, each class with its members under it.
    fn attrs(&mut self, attrs: &'a [AttrInfo]) {
        let mut i = 0;
        while i < attrs.len() {
            let a = &attrs[i];
            let mut end = i + 1;
            if a.kind == Kind::Class {
                while end < attrs.len()
                    && attrs[end]
                        .qualname
                        .strip_prefix(a.qualname.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
                {
                    end += 1;
                }
            }
            self.node(
                a,
                &attrs[i + 1..end],
                0,
                Cow::Borrowed(&a.qualname),
                Origin::Attr,
            );
            i = end;
        }
    }

    fn node(
        &mut self,
        node: &'a AttrInfo,
        members: &'a [AttrInfo],
        depth: u16,
        label: Cow<'a, str>,
        origin: Origin,
    ) {
        let path = node.qualname.as_str();
        let extras = self.extras.get(path).cloned().unwrap_or_default();
        let has_below =
            !members.is_empty() || !node.children.is_empty() || node.more > 0 || !extras.is_empty();
        let open = has_below.then(|| self.is_open(path, node.kind));
        self.lines.push(Line::Row(Row {
            path,
            label,
            depth,
            kind: node.kind,
            live: Some(&node.repr),
            open,
            preview: self.reports.preview_by.get(path).copied(),
            last: self.reports.last_by.get(path).copied(),
            origin,
            node: Some(node),
        }));
        if open != Some(true) {
            return;
        }
        for m in members {
            self.node(m, &[], depth + 1, Cow::Borrowed(&m.name), Origin::Attr);
        }
        for c in &node.children {
            let label = c
                .qualname
                .strip_prefix(path)
                .filter(|rest| !rest.is_empty())
                .unwrap_or(&c.name);
            let origin = Origin::Entry { keyed: c.keyed };
            self.node(c, &[], depth + 1, Cow::Borrowed(label), origin);
        }
        if node.more > 0 {
            self.lines.push(Line::More {
                depth: depth + 1,
                count: node.more,
            });
        }
        let is_preview = self.reports.preview.is_some();
        for c in extras {
            let label = c.qualname.strip_prefix(path).unwrap_or(&c.qualname);
            self.lines
                .push(Line::Row(report_row(c, label, depth + 1, is_preview)));
        }
    }
}

/// A row for a key path only the report names. Its live value is the report's: before the
/// reload for a dry run, what the reload left for a done one.
fn report_row<'a>(c: &'a Change, label: &'a str, depth: u16, is_preview: bool) -> Row<'a> {
    let took_new = matches!(
        c.action,
        Action::TookNew | Action::ConflictTookNew | Action::Added
    );
    let live = if is_preview && c.action == Action::Added {
        None
    } else if !is_preview && took_new {
        Some(c.new.as_str())
    } else {
        Some(c.old.as_str())
    };
    Row {
        path: &c.qualname,
        label: Cow::Borrowed(label),
        depth,
        kind: c.kind,
        live,
        open: None,
        preview: is_preview.then_some(c),
        last: (!is_preview).then_some(c),
        origin: Origin::Report,
        node: None,
    }
}

/// The lines of the table for `attrs` and the module's reports.
fn build<'a>(
    attrs: &'a [AttrInfo],
    reports: &Reports<'a>,
    memory: &TreeMemory,
    live: &HashMap<&'a str, &'a AttrInfo>,
) -> Vec<Line<'a>> {
    let mut b = Builder {
        reports,
        memory,
        extras: HashMap::new(),
        changed_below: HashSet::new(),
        lines: Vec::new(),
    };
    let mut added = Vec::new();
    if let Some((report, is_preview)) = reports.keyed() {
        for c in report
            .changes
            .iter()
            .filter(|c| c.action != Action::Unchanged)
        {
            for p in parents(&c.qualname) {
                b.changed_below.insert(p);
            }
            if live.contains_key(c.qualname.as_str()) {
                continue;
            }
            match parents(&c.qualname).rev().find(|p| live.contains_key(p)) {
                Some(p) => b.extras.entry(p).or_default().push(c),
                None if is_preview && c.action == Action::Added => added.push(c),
                None => {}
            }
        }
    }
    b.attrs(attrs);
    for c in added {
        b.lines.push(Line::Row(report_row(c, &c.qualname, 0, true)));
    }
    b.lines
}

/// Why the module's values have no Keep / Take toggles, if they have none: the policy file may
/// only name modules a reload can reach.
fn no_policy_reason(module: &str, info: Option<&ModuleInfo>) -> Option<String> {
    let Some(info) = info else {
        return Some("Waiting for the module list.".into());
    };
    if reloadable(info) {
        return None;
    }
    Some(if module == "__main__" {
        "__main__ is the running script: it cannot be reloaded, so its values take no Keep / \
         Take policy."
            .into()
    } else {
        match info.group {
            Group::Stdlib => "Standard-library module: swapscope does not reload it, so its \
                              values take no Keep / Take policy."
                .into(),
            Group::SitePackages => "Installed package, not under a watched folder: swapscope \
                                    does not reload it, so its values take no Keep / Take \
                                    policy."
                .into(),
            Group::Builtin => "Builtin or extension module: there is no Python source to \
                               reload, so its values take no Keep / Take policy."
                .into(),
            Group::Project => "This module cannot be reloaded, so its values take no Keep / \
                               Take policy."
                .into(),
        }
    })
}

/// A column of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    Name,
    Kind,
    Live,
    Source,
    /// Live and source in one (`10 → 14`), on a narrow panel.
    Value,
    Reload,
    Policy,
}

impl Col {
    fn title(self) -> &'static str {
        match self {
            Col::Name => "Name",
            Col::Kind => "Kind",
            Col::Live => "Live value",
            Col::Source => "Source value",
            Col::Value => "Live → source",
            Col::Reload => "Reload",
            Col::Policy => "Data policy",
        }
    }
}

/// The columns and their widths for `avail` points. The toggles keep their size; the others
/// shrink from what they want to a minimum. When even the minimums do not fit (a small window,
/// a high zoom) the live and source values share one column placed last, after the controls, so
/// the controls stay in view and only values are cut; sideways scrolling is the last resort.
fn columns(ui: &Ui, avail: f32, policy: bool) -> Vec<(Col, f32)> {
    let font = egui::TextStyle::Body.resolve(ui.style());
    let text = |s: &str| {
        ui.ctx().fonts_mut(|f| {
            f.layout_no_wrap(s.to_owned(), font.clone(), Color32::WHITE)
                .size()
                .x
        })
    };
    let spacing = ui.spacing();
    let gap = spacing.item_spacing.x;
    let policy_w = policy.then(|| {
        CHOICES
            .iter()
            .map(|(_, l)| text(l) + 2.0 * spacing.button_padding.x)
            .sum::<f32>()
            + 2.0 * gap
            + 6.0
    });
    let reload_want = text("would: conflict: kept live") + 6.0;
    let kind_want = text("staticmethod") + 6.0;
    // (column, minimum, wanted, share of any extra room)
    let wide = [
        (Col::Name, 96.0, 180.0, 0.2),
        (Col::Live, 56.0, 200.0, 0.4),
        (Col::Source, 56.0, 200.0, 0.4),
        (Col::Reload, 72.0, reload_want, 0.0),
    ];
    let narrow = [
        (Col::Name, 72.0, 160.0, 0.3),
        (Col::Reload, 64.0, reload_want, 0.0),
        (Col::Value, 56.0, 260.0, 0.7),
    ];
    // The gaps around the columns: one per column and two at the edges.
    let fixed = |n: &[(Col, f32, f32, f32)]| {
        policy_w.unwrap_or(0.0) + gap * (n.iter().map(|_| 1.0).sum::<f32>() + 2.0)
    };
    let least = |cols: &[(Col, f32, f32, f32)]| cols.iter().map(|c| c.1).sum::<f32>();
    let compact = avail < fixed(&wide) + least(&wide);
    let cols: &[(Col, f32, f32, f32)] = if compact { &narrow } else { &wide };
    let wanted: f32 = cols.iter().map(|c| c.2).sum();
    let mut space = avail - fixed(cols);
    // The kind is also in the name's tooltip and the value view: it is the first to go.
    let kind = (!compact && space >= wanted + kind_want + gap).then(|| {
        space -= kind_want + gap;
        (Col::Kind, kind_want)
    });
    let mut out: Vec<(Col, f32)> = if space >= wanted {
        cols.iter()
            .map(|&(col, _, want, share)| (col, want + (space - wanted) * share))
            .collect()
    } else {
        // Short of room: the values give way first, then the name, the Reload words last.
        let mut out: Vec<(Col, f32)> = cols.iter().map(|c| (c.0, c.2)).collect();
        let mut short = wanted - space;
        for stage in [
            &[Col::Live, Col::Source, Col::Value][..],
            &[Col::Name],
            &[Col::Reload],
        ] {
            let room: f32 = cols
                .iter()
                .filter(|c| stage.contains(&c.0))
                .map(|c| c.2 - c.1)
                .sum();
            let cut = short.min(room);
            if cut <= 0.0 {
                continue;
            }
            for (w, c) in out.iter_mut().zip(cols) {
                if stage.contains(&c.0) {
                    w.1 -= (c.2 - c.1) * cut / room;
                }
            }
            short -= cut;
        }
        out
    };
    if let Some(k) = kind {
        out.insert(1, k);
    }
    if let Some(p) = policy_w {
        // After the Reload column: last on a wide panel, before the values on a narrow one.
        let at = out
            .iter()
            .position(|c| c.0 == Col::Reload)
            .map_or(out.len(), |i| i + 1);
        out.insert(at, (Col::Policy, p));
    }
    out
}

/// A value as a cell holds it: at most `CELL_CHARS` characters.
fn cell_text(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(CELL_CHARS) {
        Some((i, _)) => Cow::Owned(format!("{}…", &s[..i])),
        None => Cow::Borrowed(s),
    }
}

/// `12345` as `12,345`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// What the user did in the table this frame, applied after it is drawn.
#[derive(Default)]
struct Clicks {
    select: Option<String>,
    open: Vec<(String, bool)>,
}

/// The selected module's attributes: live value, source value, what a reload would do or did,
/// and the Auto / Keep / Take toggle for data, as a tree; the clicked row whole below.
pub fn attributes_ui(ui: &mut Ui, state: &UiState, commands: &mut Vec<UiCommand>) {
    let Some(module) = state.selected.clone() else {
        ui.label("Select a module on the left.");
        return;
    };
    let palette = Palette::of(ui.visuals());
    let info = state.module(&module);
    ui.horizontal_wrapped(|ui| {
        ui.heading(&module);
        if state.changed.contains(&module) {
            ui.label(RichText::new("●").monospace().color(palette.changed));
            ui.colored_label(palette.changed, "changed on disk");
        }
    });
    if let Some(file) = info.and_then(|m| m.file.as_deref()) {
        ui.add(Label::new(RichText::new(file).color(palette.muted)).truncate());
    }
    let no_policy = no_policy_reason(&module, info);
    if let Some(reason) = no_policy.as_deref().filter(|_| info.is_some()) {
        ui.add(Label::new(RichText::new(reason).color(palette.muted)).wrap());
    }
    let preview = state.previews.get(&module);
    if let Some(p) = preview {
        if p.outcome == Outcome::Applied {
            let c = p.counts();
            ui.add(
                Label::new(format!(
                    "A reload would: {} swap, {} take new, {} keep live, {} add, {} remove, {} \
                     conflicts.",
                    c.swapped, c.taken, c.kept, c.added, c.removed, c.conflicts
                ))
                .wrap(),
            );
        } else {
            ui.add(
                Label::new(
                    RichText::new(format!(
                        "The file on disk would not reload: {}",
                        p.summary()
                    ))
                    .color(palette.error),
                )
                .wrap(),
            );
        }
    } else if state.changed.contains(&module) && !state.auto_reload {
        // Asked for (a save, a policy change): never the old answer in its place.
        ui.label("Working out what a reload would do…");
    }
    let no_attrs: &[AttrInfo] = &[];
    let attrs = state.attrs.get(&module).map_or(no_attrs, Vec::as_slice);
    let reports = Reports::new(preview, state.last_reload(&module));
    let id = memory_id(&module);
    let mut memory: TreeMemory = ui.ctx().data(|d| d.get_temp(id)).unwrap_or_default();
    // In a narrow panel (a small window, a high zoom) the controls fold into one button, so
    // that the table keeps its height.
    let changed = if ui.available_width() < 520.0 {
        let active = !memory.filter.trim().is_empty() || memory.changed_only;
        let title = if active { "View (filtered)" } else { "View" };
        ui.menu_button(title, |ui| view_controls(ui, &mut memory))
            .inner
            .unwrap_or(false)
    } else {
        view_controls(ui, &mut memory)
    };
    if changed {
        ui.ctx().data_mut(|d| d.insert_temp(id, memory.clone()));
    }
    let mut live = HashMap::with_capacity(attrs.len());
    index(attrs, &mut live);
    let lines = arrange(build(attrs, &reports, &memory, &live), &memory);
    if lines.is_empty() {
        if memory.filter.trim().is_empty() && !memory.changed_only {
            ui.label("No attributes yet.");
        } else {
            ui.label(RichText::new("Nothing matches.").color(palette.muted));
        }
        return;
    }
    let mut clicks = Clicks::default();
    let selected = memory.selected.as_deref();
    let selected_row = selected.and_then(|s| {
        lines.iter().find_map(|l| match l {
            Line::Row(r) if r.path == s => Some(r),
            _ => None,
        })
    });
    if let Some(s) = selected {
        let h = ui.available_height();
        egui::Panel::bottom(id.with("value view"))
            .resizable(true)
            .default_size((h * 0.35).max(90.0))
            .size_range(60.0..=(h * 0.75).max(60.0))
            .show(ui, |ui| {
                // Above the value: the value's scroll area takes the rest of the panel.
                value_actions(
                    ui,
                    (&module, s),
                    live.get(s).copied(),
                    state,
                    no_policy.is_none(),
                    commands,
                );
                value_view(
                    ui,
                    s,
                    selected_row,
                    live.get(s).copied(),
                    &palette,
                    &mut clicks,
                );
            });
    } else {
        ui.label(RichText::new("Click a row to see its whole value.").color(palette.muted));
    }
    let policy = no_policy.is_none();
    table(
        ui,
        &module,
        state,
        &lines,
        selected,
        policy,
        &palette,
        &mut clicks,
        commands,
    );
    if clicks.select.is_some() || !clicks.open.is_empty() {
        let mut memory = memory;
        for (path, open) in clicks.open {
            memory.open.insert(path, open);
        }
        if let Some(s) = clicks.select {
            memory.selected = (!s.is_empty()).then_some(s);
        }
        ui.ctx().data_mut(|d| d.insert_temp(id, memory));
    }
}

/// The table, in a sideways scroll area for when even the narrowest columns do not fit.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site; the pieces are drawn from"
)]
fn table(
    ui: &mut Ui,
    module: &str,
    state: &UiState,
    lines: &[Line<'_>],
    selected: Option<&str>,
    policy: bool,
    palette: &Palette,
    clicks: &mut Clicks,
    commands: &mut Vec<UiCommand>,
) {
    let cols = columns(ui, ui.available_width(), policy);
    ScrollArea::horizontal()
        .id_salt(("attributes sideways", module))
        .auto_shrink([false, false])
        .show(ui, |ui| {
            let mut builder = TableBuilder::new(ui)
                .id_salt(("attributes", module))
                .striped(true)
                .sense(Sense::click())
                .cell_layout(Layout::left_to_right(Align::Center))
                .auto_shrink([false, false])
                .min_scrolled_height(0.0)
                .max_scroll_height(f32::INFINITY);
            for &(_, w) in &cols {
                builder = builder.column(Column::exact(w).clip(true));
            }
            builder
                .header(theme::ROW_HEIGHT, |mut h| {
                    for &(col, _) in &cols {
                        h.col(|ui| {
                            ui.strong(col.title());
                        });
                    }
                })
                .body(|body| {
                    body.rows(theme::ROW_HEIGHT, lines.len(), |mut row| {
                        row.set_hovered(false);
                        let r = match &lines[row.index()] {
                            Line::Row(r) => r,
                            Line::More { depth, count } => {
                                row.col(|ui| {
                                    ui.add_space(f32::from(*depth) * INDENT + ARROW);
                                    ui.label(
                                        RichText::new(format!(
                                            "… {} more not listed",
                                            thousands(*count)
                                        ))
                                        .color(palette.muted),
                                    );
                                });
                                return;
                            }
                        };
                        let cells = Cells {
                            row: r,
                            selected: selected == Some(r.path),
                            palette,
                        };
                        for &(col, _) in &cols {
                            row.col(|ui| match col {
                                Col::Name => cells.name(ui, clicks),
                                Col::Kind => {
                                    cells.paint(ui);
                                    ui.label(RichText::new(r.kind.as_str()).color(palette.muted));
                                }
                                Col::Live => {
                                    cells.paint(ui);
                                    cells.live(ui, clicks);
                                }
                                Col::Source => {
                                    cells.paint(ui);
                                    if let Some(v) = r.source() {
                                        cells.value(ui, v, None, clicks);
                                    }
                                }
                                Col::Value => {
                                    cells.paint(ui);
                                    match (r.live, r.source()) {
                                        (Some(live), Some(source)) => {
                                            let both = format!("{live} → {source}");
                                            cells.value(ui, &both, None, clicks);
                                        }
                                        _ => cells.live(ui, clicks),
                                    }
                                }
                                Col::Reload => cells.reload(ui, clicks),
                                Col::Policy => cells.policy(ui, module, state, commands),
                            });
                        }
                        if row.response().clicked() {
                            clicks.select = Some(r.path.to_string());
                        }
                    });
                });
        });
}

/// The cells of one row.
struct Cells<'r, 'a> {
    row: &'r Row<'a>,
    selected: bool,
    palette: &'r Palette,
}

impl Cells<'_, '_> {
    /// The row's background: the value view's row, or a conflict. Covers the gaps between cells
    /// too, as egui's stripes do.
    fn paint(&self, ui: &Ui) {
        let rect = ui.max_rect();
        let whole = rect.expand2(0.5 * ui.spacing().item_spacing);
        let mut painter = ui.painter().clone();
        painter.set_clip_rect(ui.clip_rect().expand2(0.5 * ui.spacing().item_spacing));
        if self.selected {
            painter.rect_filled(whole, 0.0, self.palette.selected_bg);
            let stroke = Stroke::new(1.0, self.palette.accent);
            painter.hline(whole.x_range(), whole.top() + 0.5, stroke);
            painter.hline(whole.x_range(), whole.bottom() - 0.5, stroke);
        } else if self.row.conflict() {
            painter.rect_filled(whole, 0.0, self.palette.conflict_bg);
        }
    }

    /// Indentation, the open/close arrow, and the name (its full path and kind on hover).
    fn name(&self, ui: &mut Ui, clicks: &mut Clicks) {
        self.paint(ui);
        let r = self.row;
        if r.conflict() {
            let rect = ui.max_rect();
            let bar = egui::Rect::from_min_size(rect.min, egui::vec2(3.0, rect.height()));
            ui.painter().rect_filled(bar, 0.0, self.palette.warn);
        }
        ui.add_space(f32::from(r.depth) * INDENT);
        match r.open {
            Some(open) => {
                let (rect, resp) = ui.allocate_exact_size(egui::vec2(ARROW, ARROW), Sense::click());
                let words = if open { "Collapse" } else { "Expand" };
                resp.widget_info(|| {
                    egui::WidgetInfo::labeled(
                        egui::Role::Button,
                        true,
                        format!("{words} {}", r.path),
                    )
                });
                if ui.is_rect_visible(rect) {
                    egui::collapsing_header::paint_default_icon(
                        ui,
                        if open { 1.0 } else { 0.0 },
                        &resp,
                    );
                }
                if resp.clicked() {
                    clicks.open.push((r.path.to_string(), !open));
                }
            }
            None => ui.add_space(ARROW),
        }
        let color = if r.live.is_none() {
            self.palette.changed
        } else {
            ui.visuals().text_color()
        };
        let resp = ui
            .add(
                Label::new(RichText::new(r.label.as_ref()).color(color))
                    .truncate()
                    .selectable(false)
                    .show_tooltip_when_elided(false)
                    .sense(Sense::click()),
            )
            .on_hover_text(format!("{} · {}", r.path, r.kind.as_str()));
        if resp.clicked() {
            clicks.select = Some(r.path.to_string());
            // A click on a closed row opens it; only the arrow closes one.
            if r.open == Some(false) {
                clicks.open.push((r.path.to_string(), true));
            }
        }
    }

    /// The live value, or a dash for a name only the source has.
    fn live(&self, ui: &mut Ui, clicks: &mut Clicks) {
        match self.row.live {
            Some(v) => self.value(ui, v, None, clicks),
            None => self.value(ui, "—", Some(self.palette.muted), clicks),
        }
    }

    /// A value, cut to the cell (one tooltip, only when cut); a click shows it whole.
    fn value(&self, ui: &mut Ui, text: &str, color: Option<Color32>, clicks: &mut Clicks) {
        let mut rich = RichText::new(cell_text(text)).monospace();
        if let Some(c) = color {
            rich = rich.color(c);
        }
        let resp = ui.add(
            Label::new(rich)
                .truncate()
                .selectable(false)
                .sense(Sense::click()),
        );
        if resp.clicked() {
            clicks.select = Some(self.row.path.to_string());
        }
    }

    /// What a reload would do or did, with its reason on hover.
    fn reload(&self, ui: &mut Ui, clicks: &mut Clicks) {
        self.paint(ui);
        let Some((tense, c)) = self.row.action() else {
            return;
        };
        let text = format!("{tense}: {}", theme::action_label(c.action));
        let label = Label::new(RichText::new(&text).color(self.palette.action(c.action)))
            .truncate()
            .selectable(false)
            .sense(Sense::click());
        let resp = if c.note.is_empty() {
            ui.add(label)
        } else {
            // One tooltip: the words (the cell may cut them) and why.
            ui.add(label.show_tooltip_when_elided(false))
                .on_hover_text(format!("{text}: {}", c.note))
        };
        if resp.clicked() {
            clicks.select = Some(self.row.path.to_string());
        }
    }

    /// Auto / Keep / Take, or why there is none for a part of a value merged whole.
    fn policy(&self, ui: &mut Ui, module: &str, state: &UiState, commands: &mut Vec<UiCommand>) {
        self.paint(ui);
        let r = self.row;
        if !r.toggle() {
            if matches!(r.origin, Origin::Entry { keyed: false }) {
                let parent = parents(r.path).next_back().unwrap_or(r.path);
                ui.label(RichText::new("—").color(self.palette.muted))
                    .on_hover_text(format!(
                        "Merged as part of {parent}, not on its own (lists, tuples, sets and \
                         tables with keys a path cannot name merge whole): set the policy on \
                         {parent}"
                    ));
            }
            return;
        }
        let current = state.choice(module, r.path);
        for (choice, label) in CHOICES {
            let hover = match choice {
                Override::Auto => "The three-way rule decides".to_string(),
                Override::Keep => format!("A reload keeps the live value of {}", r.path),
                Override::Take => format!("A reload takes the source's value of {}", r.path),
            };
            if ui
                .selectable_label(current == choice, label)
                .on_hover_text(hover)
                .clicked()
                && current != choice
            {
                commands.push(UiCommand::Send(Command::SetPolicy {
                    module: ModuleName(module.to_string()),
                    qualname: r.path.to_string(),
                    choice,
                }));
            }
        }
    }
}

/// What the value view offers for a number or string of a module a reload reaches: plot it over
/// time, and edit it in the source (the literal is rewritten in the file, then the module is
/// reloaded; refused, with the reason, when the value is not a literal there).
fn value_actions(
    ui: &mut Ui,
    (module, path): (&str, &str),
    node: Option<&AttrInfo>,
    state: &UiState,
    reloadable: bool,
    commands: &mut Vec<UiCommand>,
) {
    let Some(node) = node.filter(|n| n.kind == Kind::Data && n.children.is_empty()) else {
        return;
    };
    ui.horizontal(|ui| {
        if state.plots.has(module, path)
            && ui
                .button("Plot")
                .on_hover_text("Plot this number over time, with the reloads of the module marked")
                .clicked()
        {
            commands.push(UiCommand::Plot(module.to_string(), path.to_string()));
        }
        if !reloadable {
            return;
        }
        let id = Id::unique(("edit value", module, path));
        let mut draft: String = ui
            .ctx()
            .data(|d| d.get_temp(id))
            .unwrap_or_else(|| node.repr.clone());
        let label = ui.label("Set in source:");
        let edit = ui
            .add(
                egui::TextEdit::singleline(&mut draft)
                    .desired_width(160.0)
                    .font(egui::TextStyle::Monospace),
            )
            .labelled_by(label.id);
        let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let write = ui
            .button("Write and reload")
            .on_hover_text(
                "Rewrites only this literal in the module's file (formatting and comments \
                 stay), then reloads the module; Undo puts the old version back",
            )
            .clicked();
        if (enter || write) && !draft.trim().is_empty() {
            commands.push(UiCommand::Send(Command::EditValue {
                module: ModuleName(module.to_string()),
                qualname: path.to_string(),
                literal: draft.trim().to_string(),
            }));
            ui.ctx().data_mut(|d| d.remove::<String>(id));
        } else {
            ui.ctx().data_mut(|d| d.insert_temp(id, draft));
        }
    });
}

/// The filter box, the "changed only" switch and the order; true when one of them changed.
fn view_controls(ui: &mut Ui, memory: &mut TreeMemory) -> bool {
    let mut changed = false;
    // Wrapped: at 150% zoom in a narrow window the controls take two lines, never the table's
    // width.
    ui.horizontal_wrapped(|ui| {
        changed |= ui
            .add(
                egui::TextEdit::singleline(&mut memory.filter)
                    .hint_text("filter attributes")
                    .desired_width(120.0),
            )
            .changed();
        changed |= ui
            .checkbox(&mut memory.changed_only, "Changed only")
            .on_hover_text("Only what a reload would change or did change, and conflicts")
            .changed();
        let label = ui.label("Order:");
        egui::ComboBox::from_id_salt("attribute order")
            .selected_text(memory.order.label())
            .show_ui(ui, |ui| {
                for order in Order::ALL {
                    changed |= ui
                        .selectable_value(&mut memory.order, order, order.label())
                        .changed();
                }
            })
            .response
            .labelled_by(label.id);
    });
    changed
}

/// The selected row whole: its path, the live value, the source value, what a reload would do
/// or did and why, wrapped and scrollable.
fn value_view(
    ui: &mut Ui,
    path: &str,
    row: Option<&Row<'_>>,
    node: Option<&AttrInfo>,
    palette: &Palette,
    clicks: &mut Clicks,
) {
    let node = row.and_then(|r| r.node).or(node);
    ui.horizontal(|ui| {
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if ui.button("Close").clicked() {
                clicks.select = Some(String::new());
            }
            ui.with_layout(Layout::left_to_right(Align::Center), |ui| {
                let kind = row.map(|r| r.kind).or(node.map(|n| n.kind));
                let title = match kind {
                    Some(k) => format!("{path} · {}", k.as_str()),
                    None => path.to_string(),
                };
                ui.add(Label::new(RichText::new(title).strong()).truncate());
            });
        });
    });
    ScrollArea::vertical()
        .id_salt("value view")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            let live = row.and_then(|r| r.live).or(node.map(|n| n.repr.as_str()));
            ui.label(RichText::new("Live value").strong());
            match live {
                Some(v) => ui.add(Label::new(RichText::new(v).monospace()).wrap()),
                None => ui.label(
                    RichText::new("not in the program yet: the source adds it")
                        .color(palette.muted),
                ),
            };
            if let Some(n) = node.filter(|n| !n.children.is_empty() || n.more > 0) {
                let listed = n.children.len();
                ui.label(
                    RichText::new(format!(
                        "{} entries: {} in the tree above{}",
                        thousands(listed + n.more),
                        thousands(listed),
                        if n.more > 0 {
                            format!(", {} not listed", thousands(n.more))
                        } else {
                            String::new()
                        }
                    ))
                    .color(palette.muted),
                );
            }
            let Some(r) = row else {
                return;
            };
            if let Some(c) = r.preview.filter(|c| c.action != Action::Unchanged) {
                ui.label(RichText::new("Source value").strong());
                ui.add(Label::new(RichText::new(&c.new).monospace()).wrap());
                ui.label(RichText::new("A reload would").strong());
                ui.colored_label(palette.action(c.action), theme::action_label(c.action));
                if !c.note.is_empty() {
                    ui.add(Label::new(&c.note).wrap());
                }
            }
            if let Some(c) = r.last.filter(|c| c.action != Action::Unchanged) {
                ui.label(RichText::new("The last reload").strong());
                ui.colored_label(palette.action(c.action), theme::action_label(c.action));
                ui.add(
                    Label::new(RichText::new(format!("{} → {}", c.old, c.new)).monospace()).wrap(),
                );
                if !c.note.is_empty() {
                    ui.add(Label::new(&c.note).wrap());
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_follow_the_merge_spelling() {
        let p: Vec<&str> = parents("WEAPONS['rifle']['damage']").collect();
        assert_eq!(p, ["WEAPONS", "WEAPONS['rifle']"]);
        let p: Vec<&str> = parents("T['a.b]['].x").collect();
        assert_eq!(p, ["T", "T['a.b][']"]);
        let p: Vec<&str> = parents("LEVELS[3][0]").collect();
        assert_eq!(p, ["LEVELS", "LEVELS[3]"]);
        let p: Vec<&str> = parents("Player.MAX_HP").collect();
        assert_eq!(p, ["Player"]);
        let p: Vec<&str> = parents(r#"W["it's"]"#).collect();
        assert_eq!(p, ["W"]);
        assert_eq!(parents("DAMAGE").count(), 0);
        // Broken text never panics.
        assert_eq!(parents("W['open").count(), 1);
    }

    #[test]
    fn cells_hold_at_most_their_share() {
        let long = "x".repeat(5000);
        assert_eq!(cell_text(&long).chars().count(), CELL_CHARS + 1);
        assert_eq!(cell_text("10"), "10");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }
}
