//! The inspector window (eframe, glow). Renders state built only from `Event`s and sends
//! `Command`s; it never calls Python and never blocks on a channel.

pub mod attributes;
pub mod capture;
pub mod console;
pub mod history;
pub mod hotfix;
pub mod modules;
pub mod panels;
pub mod peers;
pub mod plot;
pub mod settings;
pub mod source;
pub mod state;
pub mod theme;
pub mod wake;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};

use crate::protocol::{Command, Event, ModuleName};
use crate::protocol::{Group, Overrides};
#[cfg(feature = "embedded")]
use crate::runtime::{Config, Runtime};
pub use capture::CaptureScript;
use peers::{Peer, PeerLabel, ProcessSummary};
use state::UiState;

/// What a user did in a panel; applied after the UI pass (one path for buttons and shortcuts).
#[derive(Clone, Debug, PartialEq)]
pub enum UiCommand {
    Send(Command),
    SelectModule(String),
    SelectReport(u64),
    /// Show another attached process (by pid).
    SelectProcess(u32),
    ToggleGroup(Group),
    /// Open or close a package of the modules tree.
    TogglePackage(Group, String),
    SetFilter(String),
    Dismiss(usize),
    ReloadSelected,
    /// Reload this module although its dry run said the reload breaks other modules.
    ReloadConfirmed(String),
    /// Close the "reload anyway?" question without reloading.
    CancelReload,
    /// Plot this number of a module over time: (module, qualname or key path).
    Plot(String, String),
    /// Close the plot.
    ClosePlot,
    /// Put back the selected module's version before its last reload.
    UndoSelected,
    /// Reload the module binding the new classes whose change cannot be made in place
    /// (`replace_incompatible`): existing instances keep the old class.
    ReplaceClasses(String),
    /// Close the window and start swapscope again with the same command line: the script
    /// runs from the start (its state is lost; that is what a restart is).
    RestartScript,
    ReloadChanged,
}

/// How long one frame may spend draining events before it draws.
const EVENT_BUDGET: Duration = Duration::from_millis(10);
/// How often the live values of the selected module and the module list are refreshed.
const REFRESH_ATTRS: Duration = Duration::from_millis(700);
const REFRESH_MODULES: Duration = Duration::from_secs(3);
/// The longest wait between refreshes: each that finds what the window already shows doubles
/// the wait up to this (a script that exited or sits idle costs a frame every few seconds).
const REFRESH_ATTRS_IDLE: Duration = Duration::from_secs(4);
const REFRESH_MODULES_IDLE: Duration = Duration::from_secs(12);
/// How long after the window opened the module list is asked for every tick until the script's
/// own modules are in it.
const FIRST_MODULES_WAIT: Duration = Duration::from_secs(10);
/// How often values and modules are asked for once the script has ended.
const REFRESH_ENDED: Duration = Duration::from_mins(1);

/// The app: its state and its ends of the runtime's channels.
pub struct InspectorApp {
    pub state: UiState,
    commands: Sender<Command>,
    events: Receiver<Event>,
    last_attrs: Option<Instant>,
    last_modules: Option<Instant>,
    /// When the window was made (the first seconds list modules more often).
    created: Instant,
    /// The current waits between refreshes (see `REFRESH_ATTRS_IDLE`).
    attrs_every: Duration,
    modules_every: Duration,
    /// Changed modules whose dry run was already requested.
    previewed: HashSet<String>,
    /// Commands the panels emitted (kept for tests and for the capture script).
    pub sent: Vec<Command>,
    capture: Option<CaptureScript>,
    fonts_installed: bool,
    /// Keeps the runtime alive for as long as the window.
    #[cfg(feature = "embedded")]
    runtime: Option<Runtime>,
    /// The attached program shown (attach mode), and the others connected.
    pub label: Option<PeerLabel>,
    pub others: Vec<Peer>,
    /// Programs found after the window opened (attach mode's discovery).
    incoming: Option<Receiver<crate::attach::Remote>>,
    /// The process not shown whose events are read first next frame.
    pump_from: usize,
    /// The zoom of the last frame drawn, for `App::save` (which gets no context).
    zoom: f32,
    /// The theme of the last frame drawn, for the same reason.
    theme: egui::Theme,
    /// What the window remembers between runs (see `settings`), as loaded or last saved.
    settings: settings::Settings,
    /// The switches `restore` read, to send once the runtime said `Started`.
    restore_pending: Option<settings::Settings>,
    /// `restore` ran, so the settings are saved on exit (never in tests or the screenshot
    /// session, which must not touch the user's settings).
    remember: bool,
}

impl InspectorApp {
    /// An app on given channel ends (the real runtime's, or fakes in tests).
    pub fn new(commands: Sender<Command>, events: Receiver<Event>) -> Self {
        InspectorApp {
            state: UiState::default(),
            commands,
            events,
            last_attrs: None,
            last_modules: None,
            created: Instant::now(),
            attrs_every: REFRESH_ATTRS,
            modules_every: REFRESH_MODULES,
            previewed: HashSet::new(),
            sent: Vec::new(),
            capture: None,
            fonts_installed: false,
            #[cfg(feature = "embedded")]
            runtime: None,
            label: None,
            others: Vec::new(),
            incoming: None,
            pump_from: 0,
            zoom: 1.0,
            theme: egui::Theme::Dark,
            settings: settings::Settings::default(),
            restore_pending: None,
            remember: false,
        }
    }

    /// An app on a connection to an attached program.
    pub fn attached(remote: crate::attach::Remote) -> Self {
        let mut app = InspectorApp::new(remote.commands, remote.events);
        app.label = Some(PeerLabel::from(&remote.hello));
        app
    }

    /// Adds another attached program (shown in the processes strip).
    pub fn add_peer(&mut self, remote: crate::attach::Remote) {
        let label = PeerLabel::from(&remote.hello);
        let known = self.label.as_ref() == Some(&label)
            || self.others.iter().any(|p| p.label.as_ref() == Some(&label));
        if !known {
            self.others
                .push(Peer::new(label, remote.commands, remote.events));
        }
    }

    /// The processes strip's rows: the one shown first, then the others by pid.
    pub fn processes(&self) -> Vec<ProcessSummary> {
        let Some(label) = &self.label else {
            return Vec::new();
        };
        let group = Some(label.script.as_str());
        let mut rows = vec![ProcessSummary::of(label, &self.state, true, group)];
        let mut others: Vec<ProcessSummary> = self
            .others
            .iter()
            .filter_map(|p| {
                Some(ProcessSummary::of(
                    p.label.as_ref()?,
                    &p.state,
                    false,
                    group,
                ))
            })
            .collect();
        others.sort_by_key(|r| r.label.pid);
        rows.extend(others);
        rows
    }

    /// Shows the attached process `pid` (the one shown so far joins the others).
    fn show_process(&mut self, pid: u32) {
        let Some(i) = self
            .others
            .iter()
            .position(|p| p.label.as_ref().is_some_and(|l| l.pid == pid))
        else {
            return;
        };
        let peer = &mut self.others[i];
        std::mem::swap(&mut self.label, &mut peer.label);
        std::mem::swap(&mut self.state, &mut peer.state);
        std::mem::swap(&mut self.commands, &mut peer.commands);
        std::mem::swap(&mut self.events, &mut peer.events);
        std::mem::swap(&mut self.last_attrs, &mut peer.last_attrs);
        std::mem::swap(&mut self.last_modules, &mut peer.last_modules);
        std::mem::swap(&mut self.previewed, &mut peer.previewed);
        self.last_attrs = None;
        self.attrs_every = REFRESH_ATTRS;
        self.modules_every = REFRESH_MODULES;
    }

    /// Folds the events of the programs not shown into their states (and keeps their module
    /// lists fresh), within the frame's budget.
    fn pump_others(&mut self, start: Instant) {
        if let Some(incoming) = &self.incoming {
            let found: Vec<crate::attach::Remote> = incoming.try_iter().collect();
            for remote in found {
                self.add_peer(remote);
            }
        }
        // Half the frame's budget, starting where the last frame stopped: a chatty process
        // neither starves the others nor the one shown.
        let n = self.others.len();
        for k in 0..n {
            let i = (self.pump_from + k) % n;
            let peer = &mut self.others[i];
            loop {
                if start.elapsed() > EVENT_BUDGET / 2 {
                    self.pump_from = i;
                    return;
                }
                match peer.events.try_recv() {
                    Ok(event) => {
                        let started = matches!(event, Event::Started { .. });
                        let policy = matches!(event, Event::Policy { .. });
                        peer.state.apply(event);
                        if started {
                            peer.commands.try_send(Command::ListModules).ok();
                        }
                        if policy {
                            peer.previewed.clear();
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        peer.state.worker_died();
                        break;
                    }
                }
            }
        }
    }
    /// Drains events (within a time budget) and sends the periodic refreshes.
    pub fn pump(&mut self, ctx: &egui::Context) {
        let start = Instant::now();
        self.pump_others(start);
        loop {
            match self.events.try_recv() {
                Ok(event) => {
                    let started = matches!(event, Event::Started { .. });
                    let policy = matches!(event, Event::Policy { .. });
                    if matches!(event, Event::ScriptExited { .. }) {
                        // The values it left, once; then the refreshes all but stop.
                        self.last_attrs = None;
                        self.last_modules = None;
                    }
                    // The values a reload (or hotfix) of the module shown just changed: asked
                    // for at once, not at the next refresh, so "did: took new" never sits
                    // beside the old value.
                    if let Event::ReloadFinished(r) = &event
                        && !r.dry_run
                        && self.state.selected.as_deref() == Some(r.module.as_str())
                    {
                        self.last_attrs = None;
                        self.attrs_every = REFRESH_ATTRS;
                    }
                    // A save, or a reload that leaves the file ahead of the module (an undo):
                    // what a reload would do must be asked again.
                    let files = match &event {
                        Event::FilesChanged { modules, .. } => {
                            modules.iter().map(|m| m.0.clone()).collect()
                        }
                        Event::ReloadFinished(r) if !r.dry_run => vec![r.module.clone()],
                        _ => Vec::new(),
                    };
                    self.pace_refreshes(&event);
                    self.state.apply(event);
                    for f in files {
                        self.previewed.remove(&f);
                    }
                    if started {
                        self.send(Command::ListModules);
                        if let Some(saved) = self.restore_pending.take() {
                            self.send_restored(saved);
                        }
                    }
                    if policy {
                        // The state dropped its previews: dry-run the changed module again.
                        self.previewed.clear();
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.state.worker_died();
                    break;
                }
            }
            if start.elapsed() > EVENT_BUDGET {
                ctx.request_repaint();
                break;
            }
        }
        if !self.state.worker_alive || self.state.python_version.is_none() {
            return;
        }
        let due = |last: Option<Instant>, every: Duration| {
            last.is_none_or(|t| t.elapsed() + wake::EARLY >= every)
        };
        // Once the script has ended nothing changes by itself (a reload or a hotfix says so in
        // its own events): the refreshes all but stop, and with them the frames (software
        // rendering costs a whole repaint each).
        let ended = matches!(
            self.state.script_state,
            state::ScriptState::Exited(_) | state::ScriptState::FailedToStart(_)
        );
        if ended {
            self.modules_every = self.modules_every.max(REFRESH_ENDED);
            self.attrs_every = self.attrs_every.max(REFRESH_ENDED);
        }
        if due(self.last_modules, self.modules_every) {
            self.last_modules = Some(Instant::now());
            self.send(Command::ListModules);
        }
        if let Some(selected) = self.state.selected.clone() {
            if due(self.last_attrs, self.attrs_every) {
                self.last_attrs = Some(Instant::now());
                self.send(Command::Inspect(ModuleName(selected.clone())));
            }
            if self.state.changed.contains(&selected)
                && !self.state.auto_reload
                && self.previewed.insert(selected.clone())
            {
                self.send(Command::Reload {
                    module: ModuleName(selected),
                    overrides: Overrides::default(),
                    dry_run: true,
                    replace_incompatible: false,
                });
            }
        }
        // The next refresh waits for the console's tick, so the two share a frame.
        let left = |last: Option<Instant>, every: Duration| {
            last.map_or(Duration::ZERO, |t| every.saturating_sub(t.elapsed()))
        };
        let mut wait = left(self.last_modules, self.modules_every);
        if self.state.selected.is_some() {
            wait = wait.min(left(self.last_attrs, self.attrs_every));
        }
        ctx.request_repaint_after(wake::until_tick(wait));
    }

    /// A refresh that found what the window already shows doubles the wait for the next one (up
    /// to the idle rate); one that found a change brings back the normal rate.
    fn pace_refreshes(&mut self, event: &Event) {
        let next = |same: bool, every: Duration, normal: Duration, idle: Duration| {
            if same { (every * 2).min(idle) } else { normal }
        };
        match event {
            Event::Attributes { module, attrs }
                if self.state.selected.as_deref() == Some(module.0.as_str()) =>
            {
                // A plot samples at the normal rate: its line must show when a value moved.
                let same = self.state.attrs.get(&module.0) == Some(attrs)
                    && self.state.plots.shown.is_none();
                self.attrs_every = next(same, self.attrs_every, REFRESH_ATTRS, REFRESH_ATTRS_IDLE);
            }
            Event::Modules(list) => {
                // While the script has not imported its own modules yet (it starts after the
                // window), ask every tick: a designer's modules appear at once, not 3 s later.
                // Only while it runs, and for its first seconds: a one-file script has none.
                let waiting = !list
                    .iter()
                    .any(|m| m.group == Group::Project && m.name != "__main__")
                    && self.state.script_state == state::ScriptState::Running
                    && self.created.elapsed() < FIRST_MODULES_WAIT;
                let same = self.state.modules == *list;
                self.modules_every = if waiting {
                    wake::TICK
                } else {
                    next(
                        same,
                        self.modules_every,
                        REFRESH_MODULES,
                        REFRESH_MODULES_IDLE,
                    )
                };
            }
            _ => {}
        }
    }

    /// Applies what an earlier run saved (`storage` is eframe's, or a test's): the zoom and the
    /// theme at once; auto-reload and the closure scan once the runtime said `Started`, and only
    /// when the window started the program (`can_restart`, so set it first): attached to a
    /// program someone else started, the window does not change how it reloads behind its back.
    /// A saved switch is only ever turned on: a saved "off" leaves the program's own start-up
    /// choice (`--auto` on the command line) alone. From now on the settings are saved on exit.
    pub fn restore(&mut self, ctx: &egui::Context, storage: Option<&dyn eframe::Storage>) {
        self.remember = true;
        let Some(saved) = storage.and_then(settings::Settings::load) else {
            return;
        };
        ctx.set_zoom_factor(saved.zoom);
        self.zoom = saved.zoom;
        ctx.set_theme(saved.theme);
        self.theme = saved.theme;
        self.settings = saved;
        if self.state.can_restart
            && (saved.auto_reload || saved.closure_scan || saved.whole_reloads)
        {
            self.restore_pending = Some(saved);
        }
    }

    /// Writes the settings into `storage` (eframe calls `App::save` on exit and every 30 s).
    /// The switches are taken from the program only once the restored ones were sent, and only
    /// from a program the window started (see `restore`); otherwise the saved ones are kept.
    pub fn save_settings(&mut self, storage: &mut dyn eframe::Storage) {
        if !self.remember {
            return;
        }
        self.settings.zoom = self.zoom;
        self.settings.theme = self.theme;
        if self.state.can_restart
            && self.restore_pending.is_none()
            && self.state.python_version.is_some()
        {
            self.settings.auto_reload = self.state.auto_reload;
            self.settings.closure_scan = self.state.closure_scan;
            self.settings.whole_reloads = self.state.whole_reloads;
        }
        self.settings.store(storage);
    }

    /// Sends the switches `restore` read that the program does not have on yet.
    fn send_restored(&mut self, saved: settings::Settings) {
        if saved.auto_reload && !self.state.auto_reload {
            self.send(Command::SetAutoReload(true));
        }
        if saved.closure_scan && !self.state.closure_scan {
            self.send(Command::SetClosureScan(true));
        }
        if saved.whole_reloads && !self.state.whole_reloads {
            self.send(Command::SetWholeReloads(true));
        }
    }

    fn send(&mut self, cmd: Command) {
        match self.commands.try_send(cmd.clone()) {
            Ok(()) => self.sent.push(cmd),
            Err(TrySendError::Full(_)) => self
                .state
                .notify("the Python worker is busy; try again in a moment".into()),
            Err(TrySendError::Disconnected(_)) => self.state.worker_died(),
        }
        if self.sent.len() > 10_000 {
            self.sent.drain(..5_000);
        }
    }

    /// Applies what the panels asked for.
    pub fn run_commands(&mut self, commands: Vec<UiCommand>) {
        for command in commands {
            match command {
                UiCommand::Send(cmd) => self.send(cmd),
                UiCommand::SelectModule(name) => {
                    self.last_attrs = None;
                    self.attrs_every = REFRESH_ATTRS;
                    self.state.auto_selected = false;
                    self.state.selected = Some(name);
                }
                UiCommand::SelectReport(id) => self.state.select_report(id),
                UiCommand::SelectProcess(pid) => self.show_process(pid),
                UiCommand::ToggleGroup(g) => {
                    if !self.state.expanded.remove(&g) {
                        self.state.expanded.insert(g);
                    }
                }
                UiCommand::TogglePackage(g, name) => {
                    let toggled = self.state.toggled_packages.entry(g).or_default();
                    if !toggled.remove(&name) {
                        toggled.insert(name);
                    }
                }
                UiCommand::SetFilter(f) => self.state.filter = f,
                UiCommand::Dismiss(i) => {
                    if i < self.state.notifications.len() {
                        self.state.notifications.remove(i);
                    }
                }
                UiCommand::ReloadSelected => {
                    let tracked = self
                        .state
                        .selected
                        .as_deref()
                        .and_then(|s| self.state.module(s))
                        .filter(|m| panels::reloadable(m))
                        .map(|m| m.name.clone());
                    // A dry run that says the reload removes a name other modules still read
                    // asks first (the game would die at the next read).
                    if let Some(name) = tracked {
                        let harmful = self
                            .state
                            .previews
                            .get(&name)
                            .is_some_and(|p| !p.hazards().is_empty());
                        if harmful {
                            self.state.confirm_reload = Some(name);
                        } else {
                            self.request_reload(&name);
                        }
                    }
                }
                UiCommand::ReloadConfirmed(name) => {
                    self.state.confirm_reload = None;
                    self.request_reload(&name);
                }
                UiCommand::CancelReload => self.state.confirm_reload = None,
                UiCommand::Plot(module, qualname) => {
                    self.state.plots.shown = Some((module, qualname));
                }
                UiCommand::ClosePlot => self.state.plots.shown = None,
                UiCommand::ReplaceClasses(name) => {
                    self.state.follow_newest = true;
                    self.state.busy.insert(name.clone());
                    self.send(Command::Reload {
                        module: ModuleName(name),
                        overrides: Overrides::default(),
                        dry_run: false,
                        replace_incompatible: true,
                    });
                }
                UiCommand::RestartScript => {
                    if self.state.can_restart {
                        RESTART.store(true, std::sync::atomic::Ordering::SeqCst);
                        self.state.restart_requested = true;
                    }
                }
                UiCommand::UndoSelected => {
                    if let Some(name) = self.state.selected.clone()
                        && self.state.undo_steps(&name) > 0
                    {
                        self.state.follow_newest = true;
                        self.state.busy.insert(name.clone());
                        self.send(Command::Undo(ModuleName(name)));
                    }
                }
                UiCommand::ReloadChanged => {
                    let names = self.state.reloadable_changed();
                    if !names.is_empty() {
                        self.request_reloads(&names);
                    }
                }
            }
        }
    }

    /// Reloads a module in the process shown and in every live process running the same script
    /// (each reports on its own; one failing changes nothing in the others).
    fn request_reload(&mut self, name: &str) {
        self.request_reloads(&[name.to_string()]);
    }

    /// Reloads modules together (one command: the script's next safe point applies them all),
    /// in the process shown and in every live process running the same script.
    fn request_reloads(&mut self, names: &[String]) {
        // The user asked for this reload: its report is what they want to read next.
        self.state.follow_newest = true;
        self.state.busy.extend(names.iter().cloned());
        let command = match names {
            [name] => Command::Reload {
                module: ModuleName(name.clone()),
                overrides: Overrides::default(),
                dry_run: false,
                replace_incompatible: false,
            },
            _ => Command::ReloadModules(names.iter().cloned().map(ModuleName).collect()),
        };
        if let Some(script) = self.label.as_ref().map(|l| l.script.clone()) {
            for peer in &mut self.others {
                let same = peer.label.as_ref().is_some_and(|l| l.script == script);
                if same
                    && peer.state.worker_alive
                    && peer.commands.try_send(command.clone()).is_ok()
                {
                    peer.state.busy.extend(names.iter().cloned());
                }
            }
        }
        self.send(command);
    }

    /// Draws the whole window and returns what the user did.
    pub fn draw(&mut self, ui: &mut egui::Ui) -> Vec<UiCommand> {
        let mut commands = Vec::new();
        if !self.fonts_installed {
            self.fonts_installed = true;
            theme::install_fonts(ui.ctx());
            theme::install_visuals(ui.ctx());
        }
        self.zoom = ui.ctx().zoom_factor();
        self.theme = ui.ctx().theme();
        if ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::R)) {
            commands.push(UiCommand::ReloadSelected);
        }
        // Up, Down and Enter in the modules list, taken before a text field drawn first can
        // let go of them.
        modules::claim_keys(ui.ctx(), &self.state);
        let state = &self.state;
        let processes = self.processes();
        panels::confirm_ui(ui.ctx(), state, &mut commands);
        plot::plot_ui(ui.ctx(), state, &mut commands);
        egui::Panel::top("toolbar").show(ui, |ui| {
            panels::toolbar_ui(ui, state, &mut commands);
            if !processes.is_empty() {
                panels::processes_ui(ui, &processes, &mut commands);
            }
            panels::notifications_ui(ui, state, &mut commands);
        });
        egui::Panel::bottom("status").show(ui, |ui| panels::status_ui(ui, state));
        // On a small window (or at a high zoom) the console and side panels give way, so the
        // attribute table keeps room for its rows and toggles (issue 13).
        let room = ui.available_size();
        egui::Panel::bottom("console")
            .resizable(true)
            .default_size(150.0)
            .max_size((room.y * 0.3).max(60.0))
            .show(ui, |ui| {
                hotfix::hotfix_panel(ui, state, &mut commands);
                console::console_ui(ui, state);
            });
        egui::Panel::left("modules")
            .resizable(true)
            .default_size(210.0)
            .max_size((room.x * 0.2).max(120.0))
            .show(ui, |ui| modules::modules_ui(ui, state, &mut commands));
        egui::Panel::right("reports")
            .resizable(true)
            .default_size(400.0)
            .max_size((room.x * 0.32).max(180.0))
            .show(ui, |ui| {
                let h = ui.available_height();
                ui.allocate_ui(egui::vec2(ui.available_width(), h * 0.35), |ui| {
                    history::history_ui(ui, state, &mut commands);
                });
                ui.separator();
                history::report_ui(ui, state, &mut commands);
            });
        egui::CentralPanel::default()
            .show(ui, |ui| attributes::attributes_ui(ui, state, &mut commands));
        commands
    }
}

impl eframe::App for InspectorApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.pump(ctx);
        if let Some(mut capture) = self.capture.take() {
            let done = capture.step(self, ctx);
            if !done {
                self.capture = Some(capture);
            }
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let commands = self.draw(ui);
        self.run_commands(commands);
        if self.state.restart_requested {
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.save_settings(storage);
    }
}

/// Set when the user asked for a restart: the caller of [`run`] or [`run_launched`] starts
/// swapscope again once the window is closed (see `main.rs`).
static RESTART: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the window closed because the user asked to restart the script.
pub fn restart_requested() -> bool {
    RESTART.load(std::sync::atomic::Ordering::SeqCst)
}

/// Opens the window running `config` on the real runtime. With `capture`, runs the screenshot
/// script and closes when done.
#[cfg(feature = "embedded")]
pub fn run(config: Config, capture: Option<CaptureScript>) -> Result<(), WindowError> {
    let mut options = native_options("swapscope");
    if capture.is_some() {
        // The screenshots show the window as it opens by default: no size, panels or zoom of an
        // earlier session, and this one is kept in the demo's temporary copy, not the user's
        // storage.
        options.persistence_path = config
            .script
            .parent()
            .map(|dir| dir.join("swapscope-window.ron"));
    }
    // The runtime starts with `--auto` as asked but does not report it: the checkbox (and
    // `restore`) must know.
    let auto_reload = config.auto_reload;
    eframe::run_native(
        "swapscope",
        options,
        Box::new(move |cc| {
            let runtime = Runtime::start(config, None);
            // Events wake the window through the relay, only as soon as what they change needs
            // (a chatty script's lines share a few frames a second).
            let events = wake::relay(runtime.events.clone(), cc.egui_ctx.clone());
            let mut app = InspectorApp::new(runtime.commands.clone(), events);
            app.state.can_restart = capture.is_none();
            app.state.auto_reload = auto_reload;
            if capture.is_none() {
                app.restore(&cc.egui_ctx, cc.storage);
            }
            app.capture = capture;
            app.runtime = Some(runtime);
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| WindowError(e.to_string()))
}

/// Opens the window on a program running in its own interpreter (attach mode): the same panels,
/// fed by the agent's events over the socket.
pub fn run_attached(
    agents: &[crate::protocol::agents::AgentFile],
    discover: Option<crate::attach::Discover>,
) -> Result<(), WindowError> {
    run_remote(agents, discover, None)
}

/// Opens the window on a program it launched in the user's interpreter (`--python`): its output
/// in the console, its children that serve (same token) joining as they start. Closing the
/// window ends the program, as in embedded mode (Ctrl+C, then SIGKILL after 3 s).
pub fn run_launched(mut launched: crate::attach::Launched) -> Result<(), WindowError> {
    let agents = [launched.agent.clone()];
    let discover = crate::attach::Discover::Token(launched.token.clone());
    let result = run_remote(&agents, Some(discover), Some(&mut launched.child));
    crate::attach::end(&mut launched.child);
    result
}

fn run_remote(
    agents: &[crate::protocol::agents::AgentFile],
    discover: Option<crate::attach::Discover>,
    output_of: Option<&mut std::process::Child>,
) -> Result<(), WindowError> {
    let launched = output_of.is_some();
    let Some((first, rest)) = agents.split_first() else {
        return Err(WindowError("no program to attach to".into()));
    };
    // The connection is made first, so a refusal is an error here, not a blank window. The
    // program shown wakes the window through a relay once the window exists (see `wake`); the
    // others, shown only in the processes strip, at the next tick.
    let context: Arc<std::sync::OnceLock<egui::Context>> = Arc::default();
    let wake_context = Arc::clone(&context);
    let waker = move || {
        if let Some(ctx) = wake_context.get() {
            wake::wake(ctx, wake::Urgency::Paced);
        }
    };
    let waker: crate::attach::Waker = Arc::new(waker);
    let remote = crate::attach::connect(first, None).map_err(|e| WindowError(e.to_string()))?;
    if let Some(child) = output_of {
        crate::attach::forward_output(child, &remote.inject, None);
    }
    let mut app = InspectorApp::attached(remote);
    // A program the window launched can be launched again; one it attached to cannot.
    app.state.can_restart = launched;
    for agent in rest {
        match crate::attach::connect(agent, Some(Arc::clone(&waker))) {
            Ok(r) => app.add_peer(r),
            Err(e) => app.state.notify(e.to_string()),
        }
    }
    if let Some(discover) = discover {
        let known = agents.iter().map(|a| a.pid).collect();
        app.incoming = crate::attach::discover(discover, known, Arc::clone(&waker)).ok();
    }
    let title = format!(
        "swapscope — {} (pid {}, Python {}){}",
        first.script,
        first.pid,
        first.python_version,
        if rest.is_empty() {
            String::new()
        } else {
            format!(" and {} more", rest.len())
        }
    );
    let options = native_options(&title);
    eframe::run_native(
        "swapscope",
        options,
        Box::new(move |cc| {
            context.set(cc.egui_ctx.clone()).ok();
            let mut app = app;
            app.restore(&cc.egui_ctx, cc.storage);
            app.events = wake::relay(app.events.clone(), cc.egui_ctx.clone());
            cc.egui_ctx.request_repaint();
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| WindowError(e.to_string()))
}

/// The window's options: glow, 1400×860 (until eframe restores the size of the last session),
/// the title. The app id names the folder of the storage file (see `settings`) whatever the
/// title says.
fn native_options(title: &str) -> eframe::NativeOptions {
    eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(title)
            .with_app_id("swapscope")
            .with_inner_size([1400.0, 860.0]),
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    }
}

/// The window could not be opened (no display, no OpenGL, ...).
#[derive(Debug, thiserror::Error)]
#[error("cannot open the window: {0}")]
pub struct WindowError(String);
