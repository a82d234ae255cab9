//! The inspector window (eframe, glow). Renders state built only from `Event`s and sends
//! `Command`s; it never calls Python and never blocks on a channel.

pub mod capture;
pub mod panels;
pub mod source;
pub mod state;
pub mod theme;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};

use crate::protocol::{Group, Overrides};
use crate::runtime::{Command, Config, Event, ModuleName, Runtime};
pub use capture::CaptureScript;
use state::UiState;

/// What a user did in a panel; applied after the UI pass (one path for buttons and shortcuts).
#[derive(Clone, Debug, PartialEq)]
pub enum UiCommand {
    Send(Command),
    SelectModule(String),
    SelectReport(u64),
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
    runtime: Option<Runtime>,
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
            runtime: None,
        }
    }

    /// Drains events (within a time budget) and sends the periodic refreshes.
    pub fn pump(&mut self, ctx: &egui::Context) {
        let start = Instant::now();
        loop {
            match self.events.try_recv() {
                Ok(event) => {
                    let started = matches!(event, Event::Started { .. });
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
                        self.request_reload(name);
                    }
                }
                UiCommand::ReloadChanged => {
                    for name in self.state.changed.clone() {
                        self.request_reload(name);
                    }
                }
            }
        }
    }

    fn request_reload(&mut self, name: String) {
        self.state.busy.insert(name.clone());
        self.send(Command::Reload {
            module: ModuleName(name),
            overrides: Overrides::default(),
            dry_run: false,
            replace_incompatible: false,
        });
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
        egui::Panel::top("toolbar").show(ui, |ui| {
            panels::toolbar_ui(ui, state, &mut commands);
            panels::notifications_ui(ui, state, &mut commands);
        });
        egui::Panel::bottom("status").show(ui, |ui| panels::status_ui(ui, state));
        egui::Panel::bottom("console")
            .resizable(true)
            .default_size(150.0)
            .show(ui, |ui| {
                ui.strong("Console");
                panels::console_ui(ui, state);
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
                    panels::history_ui(ui, state, &mut commands);
                });
                ui.separator();
                panels::report_ui(ui, state, &mut commands);
            });
        egui::CentralPanel::default()
            .show(ui, |ui| panels::attributes_ui(ui, state, &mut commands));
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
pub fn run(config: Config, capture: Option<CaptureScript>) -> Result<(), WindowError> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("swapscope")
            .with_inner_size([1400.0, 860.0]),
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
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
pub fn run_attached(agent: &crate::protocol::agents::AgentFile) -> Result<(), WindowError> {
    // The connection is made first, so a refusal is an error here, not a blank window; it
    // wakes the window once the window exists.
    let context: Arc<std::sync::OnceLock<egui::Context>> = Arc::default();
    let wake_context = Arc::clone(&context);
    let waker = move || {
        if let Some(ctx) = wake_context.get() {
            ctx.request_repaint_after(WAKE_COALESCE);
        }
    };
    let remote = crate::attach::connect(agent, Some(Arc::new(waker)))
        .map_err(|e| WindowError(e.to_string()))?;
    let title = format!(
        "swapscope — {} (pid {}, Python {})",
        remote.hello.script, remote.hello.pid, remote.hello.python_version
    );
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(title)
            .with_inner_size([1400.0, 860.0]),
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
    eframe::run_native(
        "swapscope",
        options,
        Box::new(move |cc| {
            context.set(cc.egui_ctx.clone()).ok();
            cc.egui_ctx.request_repaint();
            Ok(Box::new(InspectorApp::new(remote.commands, remote.events)))
        }),
    )
    .map_err(|e| WindowError(e.to_string()))
}

/// The window could not be opened (no display, no OpenGL, ...).
#[derive(Debug, thiserror::Error)]
#[error("cannot open the window: {0}")]
pub struct WindowError(String);
