//! The inspector window (eframe, glow). Renders state built only from `Event`s and sends
//! `Command`s; it never calls Python and never blocks on a channel.

pub mod attributes;
pub mod capture;
pub mod console;
pub mod history;
pub mod panels;
pub mod peers;
pub mod source;
pub mod state;
pub mod theme;

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
    SetFilter(String),
    Dismiss(usize),
    ReloadSelected,
    ReloadChanged,
}

/// How long one frame may spend draining events before it draws.
const EVENT_BUDGET: Duration = Duration::from_millis(10);
/// How long after an event the window repaints: events arriving meanwhile share the frame.
const WAKE_COALESCE: Duration = Duration::from_millis(30);
/// How often the live values of the selected module and the module list are refreshed.
const REFRESH_ATTRS: Duration = Duration::from_millis(700);
const REFRESH_MODULES: Duration = Duration::from_secs(3);

/// The app: its state and its ends of the runtime's channels.
pub struct InspectorApp {
    pub state: UiState,
    commands: Sender<Command>,
    events: Receiver<Event>,
    last_attrs: Option<Instant>,
    last_modules: Option<Instant>,
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
                    let files = if let Event::FilesChanged { modules, .. } = &event {
                        modules.iter().map(|m| m.0.clone()).collect()
                    } else {
                        Vec::new()
                    };
                    self.state.apply(event);
                    for f in files {
                        self.previewed.remove(&f);
                    }
                    if started {
                        self.send(Command::ListModules);
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
        let due =
            |last: Option<Instant>, every: Duration| last.is_none_or(|t| t.elapsed() >= every);
        if due(self.last_modules, REFRESH_MODULES) {
            self.last_modules = Some(Instant::now());
            self.send(Command::ListModules);
        }
        if let Some(selected) = self.state.selected.clone() {
            if due(self.last_attrs, REFRESH_ATTRS) {
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
        ctx.request_repaint_after(REFRESH_ATTRS);
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
                    self.state.selected = Some(name);
                }
                UiCommand::SelectReport(id) => self.state.selected_report = Some(id),
                UiCommand::SelectProcess(pid) => self.show_process(pid),
                UiCommand::ToggleGroup(g) => {
                    if !self.state.expanded.remove(&g) {
                        self.state.expanded.insert(g);
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
                    if let Some(name) = tracked {
                        self.request_reload(&name);
                    }
                }
                UiCommand::ReloadChanged => {
                    for name in self.state.changed.clone() {
                        self.request_reload(&name);
                    }
                }
            }
        }
    }

    /// Reloads a module in the process shown and in every live process running the same script
    /// (each reports on its own; one failing changes nothing in the others).
    fn request_reload(&mut self, name: &str) {
        self.state.busy.insert(name.to_string());
        let command = Command::Reload {
            module: ModuleName(name.to_string()),
            overrides: Overrides::default(),
            dry_run: false,
            replace_incompatible: false,
        };
        if let Some(script) = self.label.as_ref().map(|l| l.script.clone()) {
            for peer in &mut self.others {
                let same = peer.label.as_ref().is_some_and(|l| l.script == script);
                if same
                    && peer.state.worker_alive
                    && peer.commands.try_send(command.clone()).is_ok()
                {
                    peer.state.busy.insert(name.to_string());
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
        }
        if ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::R)) {
            commands.push(UiCommand::ReloadSelected);
        }
        let state = &self.state;
        let processes = self.processes();
        egui::Panel::top("toolbar").show(ui, |ui| {
            panels::toolbar_ui(ui, state, &mut commands);
            if !processes.is_empty() {
                panels::processes_ui(ui, &processes, &mut commands);
            }
            panels::notifications_ui(ui, state, &mut commands);
        });
        egui::Panel::bottom("status").show(ui, |ui| panels::status_ui(ui, state));
        egui::Panel::bottom("console")
            .resizable(true)
            .default_size(150.0)
            .show(ui, |ui| {
                ui.strong("Console");
                console::console_ui(ui, state);
            });
        egui::Panel::left("modules")
            .resizable(true)
            .default_size(210.0)
            .show(ui, |ui| panels::modules_ui(ui, state, &mut commands));
        egui::Panel::right("reports")
            .resizable(true)
            .default_size(400.0)
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
    }
}

/// Opens the window running `config` on the real runtime. With `capture`, runs the screenshot
/// script and closes when done.
#[cfg(feature = "embedded")]
pub fn run(config: Config, capture: Option<CaptureScript>) -> Result<(), WindowError> {
    let options = native_options("swapscope");
    eframe::run_native(
        "swapscope",
        options,
        Box::new(move |cc| {
            let ctx = cc.egui_ctx.clone();
            // A burst of events (a chatty script prints many lines) becomes one frame.
            let waker = move || ctx.request_repaint_after(WAKE_COALESCE);
            let runtime = Runtime::start(config, Some(Arc::new(waker)));
            let mut app = InspectorApp::new(runtime.commands.clone(), runtime.events.clone());
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
    let Some((first, rest)) = agents.split_first() else {
        return Err(WindowError("no program to attach to".into()));
    };
    // The connection is made first, so a refusal is an error here, not a blank window; it
    // wakes the window once the window exists.
    let context: Arc<std::sync::OnceLock<egui::Context>> = Arc::default();
    let wake_context = Arc::clone(&context);
    let waker = move || {
        if let Some(ctx) = wake_context.get() {
            ctx.request_repaint_after(WAKE_COALESCE);
        }
    };
    let waker: crate::attach::Waker = Arc::new(waker);
    let remote = crate::attach::connect(first, Some(Arc::clone(&waker)))
        .map_err(|e| WindowError(e.to_string()))?;
    if let Some(child) = output_of {
        crate::attach::forward_output(child, &remote.inject, Some(Arc::clone(&waker)));
    }
    let mut app = InspectorApp::attached(remote);
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
            cc.egui_ctx.request_repaint();
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| WindowError(e.to_string()))
}

/// The window's options: glow, 1400×860, the title.
fn native_options(title: &str) -> eframe::NativeOptions {
    eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(title)
            .with_inner_size([1400.0, 860.0]),
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    }
}

/// The window could not be opened (no display, no OpenGL, ...).
#[derive(Debug, thiserror::Error)]
#[error("cannot open the window: {0}")]
pub struct WindowError(String);
