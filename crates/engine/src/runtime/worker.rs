//! The worker thread, the script thread and safe points.

use std::collections::VecDeque;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyModule};

use super::service::{Connection, ReloadService, Sink, Waker};
use crate::engine::{self, ReloadOptions, tracker};
use crate::policy::PolicyFile;
use crate::protocol::{ChangedFile, Command, Event, ModuleName, Stream};

/// What to run and how.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The script run as `__main__`.
    pub script: PathBuf,
    /// `sys.argv[1:]`.
    pub args: Vec<String>,
    /// Extra watched roots (the script's folder is always one).
    pub watch: Vec<PathBuf>,
    /// Send the script's stdout/stderr as `Event::Output` instead of to the process's own.
    pub capture_output: bool,
    /// Watch the roots for saves (`Event::FilesChanged`).
    pub watch_files: bool,
    /// Reload changed modules on save (needs `watch_files`).
    pub auto_reload: bool,
    /// Which thread runs the script.
    pub script_thread: ScriptThread,
    /// Whose interpreter this is.
    pub host: Host,
}

/// Whose interpreter the runtime runs in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Host {
    /// swapscope's own (embedded mode): the worker starts it, checks the environment and puts
    /// the script's folder first on `sys.path`.
    #[default]
    Embedded,
    /// The user's, already running, with its own `sys.path` (attach mode: the extension).
    Attached,
}

/// Which thread runs the user's script.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ScriptThread {
    /// A thread of its own, `swapscope-script` (the window keeps the main thread).
    #[default]
    Own,
    /// The thread that calls [`Runtime::run_script`]. It must have started the interpreter
    /// (`interp::initialize`) — the process's main thread — so the script runs on Python's main
    /// thread: `signal.signal` works and Ctrl+C raises `KeyboardInterrupt`, as under `python`.
    Caller,
    /// None: the program is running already and called `swapscope.serve()`.
    Running,
}

impl Config {
    /// The watched roots: the script's folder, then each `--watch` folder.
    pub fn roots(&self) -> Vec<PathBuf> {
        let mut roots = vec![script_dir(&self.script)];
        roots.extend(self.watch.iter().cloned());
        roots
    }
}

fn script_dir(script: &Path) -> PathBuf {
    let abs = std::path::absolute(script).unwrap_or_else(|_| script.to_path_buf());
    abs.parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Handle on a running runtime.
pub struct Runtime {
    pub commands: Sender<Command>,
    pub events: Receiver<Event>,
    worker: Option<JoinHandle<()>>,
    /// The script, when the caller runs it (`ScriptThread::Caller`).
    script: Option<CallerScript>,
    /// With `ScriptThread::Caller` or `Running`: gets a message once the worker is ready for
    /// the script (or the program), closed without one when it stopped before.
    ready: Option<Receiver<()>>,
}

/// What the caller needs to run the script itself, once the worker is ready for it.
struct CallerScript {
    /// Only a caller-run script holds one: the event channel closes when the worker stops.
    sink: Sink,
    /// Run it in a new `__main__` module (under `python -m swapscope`, the current one is
    /// swapscope's own).
    fresh_main: bool,
    script: PathBuf,
    argv: Vec<String>,
}

/// How many messages may wait in each direction before the sender feels back-pressure.
const CHANNEL_CAPACITY: usize = 8192;

impl Runtime {
    /// Starts the worker (which starts the interpreter and the script). The first event is
    /// `Started` or `StartFailed`.
    pub fn start(config: Config, waker: Option<Waker>) -> Runtime {
        let (cmd_tx, cmd_rx) = bounded(CHANNEL_CAPACITY);
        let (ev_tx, ev_rx) = bounded(CHANNEL_CAPACITY);
        let sink = Sink { tx: ev_tx, waker };
        let commands = cmd_tx.clone();
        let own = cmd_tx;
        let (ready_tx, ready_rx) = bounded(1);
        let on_caller = config.script_thread == ScriptThread::Caller;
        let script = on_caller.then(|| {
            let (script, argv) = script_and_argv(&config);
            CallerScript {
                sink: sink.clone(),
                script,
                argv,
                fresh_main: config.host == Host::Attached,
            }
        });
        let waits = config.script_thread != ScriptThread::Own;
        let ready = waits.then_some(ready_tx);
        let ready_rx = waits.then_some(ready_rx);

        let worker = std::thread::Builder::new()
            .name("swapscope-python".into())
            .spawn(move || {
                let run = || worker_main(&config, &cmd_rx, &own, &sink, ready);
                if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
                    // Front ends stop on this event (other threads hold event senders, so
                    // the channel itself may stay open).
                    sink.send(Event::WorkerDied(format!(
                        "the Python worker crashed ({}); reloads are no longer possible. This is \
                         a bug in swapscope: please report it",
                        crate::fault::panic_message(&*panic)
                    )));
                }
            });
        let worker = match worker {
            Ok(h) => Some(h),
            Err(e) => {
                // Report through the channel so every front end shows it the same way.
                let (tx, rx) = bounded(1);
                tx.send(Event::StartFailed(format!(
                    "cannot start the Python worker thread: {e}"
                )))
                .ok();
                return Runtime {
                    commands,
                    events: rx,
                    worker: None,
                    script: None,
                    ready: None,
                };
            }
        };
        Runtime {
            commands,
            events: ev_rx,
            worker,
            script,
            ready: ready_rx,
        }
    }

    /// With `ScriptThread::Caller` or `Running`: waits until the worker has connected the
    /// reload service and installed the tracker; false when it stopped first (its event says
    /// why). Waits only once; true at once for `ScriptThread::Own`.
    pub fn wait_ready(&mut self) -> bool {
        match self.ready.take() {
            Some(ready) => ready.recv().is_ok(),
            None => true,
        }
    }

    /// With `ScriptThread::Caller`: waits until the worker is ready, runs the script on this
    /// thread and returns its exit code (`Event::ScriptExited` is sent too). `None` when the
    /// worker stopped before the script could start (its event says why), or when the script
    /// runs on a thread of its own.
    pub fn run_script(&mut self) -> Option<i32> {
        let caller = self.script.take()?;
        if !self.wait_ready() {
            return None;
        }
        Some(run_and_report(
            &caller.sink,
            &caller.script,
            &caller.argv,
            caller.fresh_main,
        ))
    }

    /// Asks the worker to stop and waits for it (the script thread is left to the process).
    pub fn shutdown(mut self) {
        self.commands.send(Command::Shutdown).ok();
        if let Some(h) = self.worker.take() {
            h.join().ok();
        }
    }
}

fn worker_main(
    config: &Config,
    commands: &Receiver<Command>,
    own: &Sender<Command>,
    sink: &Sink,
    ready: Option<Sender<()>>,
) {
    let connection = Arc::new(Connection::new(
        sink.clone(),
        PolicyFile::load(&script_dir(&config.script)),
        // The window shows diffs; an attached program's window is across the socket.
        config.capture_output || config.host == Host::Attached,
    ));
    let started = start(config, sink, &connection);
    match started {
        Ok(event) => sink.send(event),
        Err(message) => {
            sink.send(Event::StartFailed(message));
            return;
        }
    }
    // Watching and the policy come first: a save made as the script starts is not missed.
    // The watcher is kept alive for as long as the worker runs.
    let _watcher = if config.watch_files {
        start_watcher(config, own, sink, &connection.safepoints.writing)
    } else {
        None
    };
    let mut settings = Settings {
        auto: config.auto_reload,
        closures: false,
        whole: false,
    };
    send_policy(&connection);
    for unknown in connection.policy().unknown_modules(&config.roots()) {
        sink.send(Event::Problem(unknown));
    }
    crate::fault::hit(crate::fault::Site::WorkerThread);
    if let Some(ready) = ready {
        // The caller runs the script (on the main thread), or the program runs already: it
        // may go on now.
        ready.send(()).ok();
    } else if let Err(message) = launch_script(config, sink) {
        // `Started` was sent already: the script is what failed.
        sink.send(Event::Problem(message));
        sink.send(Event::ScriptExited { code: 1 });
    }
    // Commands taken off the channel while coalescing saves, handled before the next `recv`.
    let mut deferred: VecDeque<Command> = VecDeque::new();
    loop {
        let cmd = match deferred.pop_front() {
            Some(c) => c,
            None => match commands.recv() {
                Ok(c) => c,
                Err(_) => break,
            },
        };
        if matches!(cmd, Command::Shutdown) {
            break;
        }
        let what = cmd.describe();
        let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handle(cmd, commands, &mut deferred, &mut settings, &connection);
        }));
        if let Err(panic) = handled {
            sink.send(Event::Problem(format!(
                "swapscope failed while {what} ({}); the worker goes on. This is a bug in \
                 swapscope: please report it",
                crate::fault::panic_message(&*panic)
            )));
        }
    }
}

/// What the front end switched on for the reloads the worker asks for.
struct Settings {
    /// Reload on save.
    auto: bool,
    /// Update closures made before a reload (`ReloadOptions::closures`).
    closures: bool,
    /// Run whole module bodies (`ReloadOptions::full`).
    whole: bool,
}

/// Handles one command (not `Shutdown`).
fn handle(
    cmd: Command,
    commands: &Receiver<Command>,
    deferred: &mut VecDeque<Command>,
    settings: &mut Settings,
    connection: &Connection,
) {
    let sink = &connection.sink;
    let service = ReloadService::get();
    crate::fault::hit(crate::fault::Site::WorkerCommand);
    match cmd {
        Command::Inspect(module) => {
            let attrs =
                Python::attach(|py| engine::attributes(py, &module.0).map_err(|e| e.to_string()));
            match attrs {
                Ok(attrs) => sink.send(Event::Attributes { module, attrs }),
                Err(e) => sink.send(Event::Problem(format!("cannot inspect {module}: {e}"))),
            }
        }
        Command::SetPolicy {
            module,
            qualname,
            choice,
        } => {
            let saved = connection.policy().set(&module.0, &qualname, choice);
            if let Err(e) = saved {
                sink.send(Event::Problem(e.to_string()));
            }
            send_policy(connection);
        }
        Command::Shutdown => {}
        Command::SetClosureScan(on) => {
            settings.closures = on;
            sink.send(Event::ClosureScan(on));
        }
        Command::SetWholeReloads(on) => {
            settings.whole = on;
            sink.send(Event::WholeReloads(on));
        }
        Command::SetAutoReload(on) => {
            settings.auto = on;
            sink.send(Event::AutoReload(on));
        }
        Command::FilesChanged(files) => {
            // Saves that arrived while the last reload ran are taken together: one reload
            // per module, in the order of their first save, each counting its saves. Taking
            // stops at the first other command, which keeps its place in line.
            let mut saves = SaveCount::default();
            saves.add(&files);
            if deferred.is_empty() {
                while let Ok(next) = commands.try_recv() {
                    if let Command::FilesChanged(more) = next {
                        saves.add(&more);
                    } else {
                        deferred.push_back(next);
                        break;
                    }
                }
            }
            let mut modules = Vec::new();
            for module in modules_for(&saves.paths()) {
                if tracker::get(&module.0).is_some_and(|t| t.changed_on_disk()) {
                    modules.push(module);
                    continue;
                }
                let n = saves.of(&module.0);
                if n > 0 {
                    sink.send(Event::SavesApplied { module, saves: n });
                }
            }
            if modules.is_empty() {
                return;
            }
            sink.send(Event::FilesChanged {
                modules: modules.clone(),
                paths: saves.paths(),
            });
            if settings.auto {
                // All at one safe point: a save of several files (a formatter, a `git
                // checkout`) lands in one iteration of the script's loop.
                let jobs = modules
                    .into_iter()
                    .map(|module| {
                        let opts = ReloadOptions {
                            saves: saves.of(&module.0),
                            closures: settings.closures,
                            full: settings.whole,
                            ..ReloadOptions::default()
                        };
                        (module.0, opts)
                    })
                    .collect();
                service.request_all(jobs);
            }
        }
        Command::ListModules => {
            let modules = Python::attach(|py| engine::modules(py).map_err(|e| e.to_string()));
            match modules {
                Ok(list) => sink.send(Event::Modules(list)),
                Err(e) => sink.send(Event::Problem(format!("cannot list modules: {e}"))),
            }
        }
        Command::Reload {
            module,
            overrides,
            dry_run,
            replace_incompatible,
        } => {
            let opts = ReloadOptions {
                overrides,
                dry_run,
                replace_incompatible,
                saves: 0,
                closures: settings.closures,
                full: settings.whole,
                ..ReloadOptions::default()
            };
            service.request(module.0, opts);
        }
        Command::Undo(module) => {
            let opts = ReloadOptions {
                undo: true,
                closures: settings.closures,
                full: settings.whole,
                ..ReloadOptions::default()
            };
            service.request(module.0, opts);
        }
        Command::ReloadFiles(paths) => {
            let opts = ReloadOptions {
                closures: settings.closures,
                full: settings.whole,
                ..ReloadOptions::default()
            };
            let jobs = modules_for(&paths)
                .into_iter()
                .map(|m| (m.0, opts.clone()))
                .collect();
            service.request_all(jobs);
        }
        Command::EditValue {
            module,
            qualname,
            literal,
        } => match super::edit::edit_value(&module.0, &qualname, &literal) {
            Ok(_) => {
                let opts = ReloadOptions {
                    closures: settings.closures,
                    full: settings.whole,
                    ..ReloadOptions::default()
                };
                service.request(module.0, opts);
            }
            Err(why) => sink.send(Event::Problem(why)),
        },
        Command::ReloadModules(modules) => {
            let opts = ReloadOptions {
                closures: settings.closures,
                full: settings.whole,
                ..ReloadOptions::default()
            };
            let jobs = modules.into_iter().map(|m| (m.0, opts.clone())).collect();
            service.request_all(jobs);
        }
        Command::Propagate { module, stale } => {
            let result = Python::attach(|py| engine::propagate(py, &module.0, &stale));
            match result {
                Ok(count) => sink.send(Event::Propagated { module, count }),
                Err(e) => sink.send(Event::Problem(format!("cannot propagate {module}: {e}"))),
            }
        }
        Command::Hotfix { module, code } => service.request_hotfix(module.0, code),
    }
}

fn start_watcher(
    config: &Config,
    commands: &Sender<Command>,
    sink: &Sink,
    writing: &crate::watch::WritingFiles,
) -> Option<crate::watch::FolderWatcher> {
    let tx = commands.clone();
    let problems = sink.clone();
    match crate::watch::watch(
        &config.roots(),
        Arc::clone(writing),
        move |files| {
            tx.send(Command::FilesChanged(files)).ok();
        },
        move |message| problems.send(Event::Problem(message)),
    ) {
        Ok(w) => Some(w),
        Err(e) => {
            sink.send(Event::Problem(format!(
                "{e}; saves will not be noticed, reload by hand"
            )));
            None
        }
    }
}

/// Saves per file, in the order the files first changed.
#[derive(Default)]
struct SaveCount {
    files: Vec<(PathBuf, u32)>,
}

impl SaveCount {
    fn add(&mut self, changed: &[ChangedFile]) {
        for c in changed {
            match self.files.iter_mut().find(|(q, _)| *q == c.path) {
                Some((_, n)) => *n += c.saves,
                None => self.files.push((c.path.clone(), c.saves)),
            }
        }
    }

    fn paths(&self) -> Vec<PathBuf> {
        self.files.iter().map(|(p, _)| p.clone()).collect()
    }

    /// The saves of a module's file.
    fn of(&self, module: &str) -> u32 {
        let Some(tracked) = tracker::get(module) else {
            return 0;
        };
        let real = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        let target = real(&tracked.path);
        self.files
            .iter()
            .filter(|(p, _)| real(p) == target)
            .map(|(_, n)| *n)
            .sum()
    }
}

/// The tracked modules whose source files are among `paths`, in the order of `paths`.
pub(crate) fn modules_for(paths: &[PathBuf]) -> Vec<ModuleName> {
    let real = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let tracked: Vec<(PathBuf, String)> = tracker::all()
        .into_iter()
        .map(|m| (real(&m.path), m.name.clone()))
        .collect();
    let mut out: Vec<ModuleName> = Vec::new();
    for p in paths {
        let p = real(p);
        for (path, name) in &tracked {
            if *path == p && !out.iter().any(|m| m.0 == *name) {
                out.push(ModuleName(name.clone()));
            }
        }
    }
    out
}

/// Sends the policy in force (and its file's error as a problem).
fn send_policy(connection: &Connection) {
    let sink = &connection.sink;
    let (event, problem) = {
        let file = connection.policy();
        let error = file.error.as_ref().map(ToString::to_string);
        (
            Event::Policy {
                policy: file.policy.clone(),
                path: file.path.clone(),
                error: error.clone(),
            },
            error,
        )
    };
    sink.send(event);
    if let Some(p) = problem {
        sink.send(Event::Problem(p));
    }
}

/// Why a script cannot be run; the message names it and says what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("cannot run {}: no such file", .0.display())]
    Missing(PathBuf),
    #[error("cannot run {}: it is a directory; give a Python script", .0.display())]
    Directory(PathBuf),
    #[error("cannot run {}: not a regular file; give a Python script", .0.display())]
    NotAFile(PathBuf),
    #[error("cannot run {}: {cause}", .path.display())]
    Unreadable {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("cannot run {}: cannot read it: {cause}", .path.display())]
    CannotOpen {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// Whether `script` is something python could run: it exists, is a regular file and can be
/// read.
pub fn check_script(script: &Path) -> Result<(), ScriptError> {
    let path = script.to_path_buf();
    match std::fs::metadata(script) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ScriptError::Missing(path));
        }
        Err(cause) => return Err(ScriptError::Unreadable { path, cause }),
        Ok(m) if m.is_dir() => return Err(ScriptError::Directory(path)),
        // Opening a FIFO to check it would block until someone writes to it.
        Ok(m) if !m.is_file() => return Err(ScriptError::NotAFile(path)),
        Ok(_) => {}
    }
    std::fs::File::open(script)
        .map(drop)
        .map_err(|cause| ScriptError::CannotOpen { path, cause })
}

/// Starts the interpreter, the hooks and the script thread.
fn start(config: &Config, sink: &Sink, connection: &Arc<Connection>) -> Result<Event, String> {
    let script = std::path::absolute(&config.script).unwrap_or_else(|_| config.script.clone());
    let embedded = config.host == Host::Embedded;
    if config.script_thread != ScriptThread::Running {
        check_script(&script).map_err(|e| e.to_string())?;
    }
    let roots = config.roots();
    if embedded {
        crate::interp::initialize();
        let facts = Python::attach(environment_facts)
            .map_err(|e| format!("cannot read the Python environment: {e}"))?;
        super::environment::check(&facts, super::environment::read_venv_config)
            .map_err(|e| e.to_string())?;
    }
    // From here on every reload, whoever asks, reports to this runtime.
    ReloadService::get().connect(Arc::clone(connection));
    let python_version = Python::attach(|py| -> PyResult<String> {
        tracker::install(py, &roots)?;
        let sys = py.import("sys")?;
        if embedded {
            let path = sys.getattr("path")?.cast_into::<PyList>()?;
            path.insert(0, script_dir(&script).to_string_lossy())?;
        }
        if config.capture_output {
            for (name, stream) in [("stdout", Stream::Stdout), ("stderr", Stream::Stderr)] {
                let writer = Bound::new(
                    py,
                    OutputWriter {
                        stream,
                        sink: sink.clone(),
                    },
                )?;
                sys.setattr(name, writer)?;
            }
        }
        Ok(sys
            .getattr("version")?
            .extract::<String>()?
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string())
    })
    .map_err(|e| format!("cannot set up the Python interpreter: {e}"))?;

    Ok(Event::Started {
        python_version,
        roots,
        script,
    })
}

/// The script's absolute path and its `sys.argv` (like python: `sys.argv[0]` is the path as
/// given, `__file__` the absolute one).
fn script_and_argv(config: &Config) -> (PathBuf, Vec<String>) {
    let script = std::path::absolute(&config.script).unwrap_or_else(|_| config.script.clone());
    let mut argv = vec![config.script.to_string_lossy().into_owned()];
    argv.extend(config.args.iter().cloned());
    (script, argv)
}

/// What the interpreter and the process say about the Python environment.
fn environment_facts(py: Python<'_>) -> PyResult<super::environment::Facts> {
    let sys = py.import("sys")?;
    let path = |name: &str| -> PyResult<PathBuf> {
        Ok(PathBuf::from(sys.getattr(name)?.extract::<String>()?))
    };
    let version = sys.getattr("version_info")?;
    let (major, minor): (u32, u32) = (
        version.get_item(0)?.extract()?,
        version.get_item(1)?.extract()?,
    );
    Ok(super::environment::Facts {
        prefix: path("prefix")?,
        base_prefix: path("base_prefix")?,
        version: (major, minor),
        virtual_env: std::env::var_os("VIRTUAL_ENV")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
        pythonpath: std::env::var_os("PYTHONPATH")
            .map(|p| {
                std::env::split_paths(&p)
                    .filter(|e| !e.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Starts the thread that runs the user's script (after `Started` was sent, so the script's
/// first output never comes before it).
fn launch_script(config: &Config, sink: &Sink) -> Result<(), String> {
    let (script, argv) = script_and_argv(config);
    let script_sink = sink.clone();
    std::thread::Builder::new()
        .name("swapscope-script".into())
        .spawn(move || {
            run_and_report(&script_sink, &script, &argv, false);
        })
        .map(|_| ())
        .map_err(|e| format!("cannot start the script thread: {e}"))
}

/// Runs the script on this thread, tells its exit code as `Event::ScriptExited` and returns it.
fn run_and_report(sink: &Sink, script: &Path, argv: &[String], fresh_main: bool) -> i32 {
    let run = || Python::attach(|py| run_script(py, script, argv, fresh_main));
    let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            sink.send(Event::Output {
                stream: Stream::Stderr,
                text: format!("swapscope: cannot run the script: {e}\n"),
            });
            1
        }
        Err(panic) => {
            sink.send(Event::Output {
                stream: Stream::Stderr,
                text: format!(
                    "swapscope: the script thread failed inside swapscope ({}); this is a bug \
                     in swapscope: please report it\n",
                    crate::fault::panic_message(&*panic)
                ),
            });
            1
        }
    };
    sink.send(Event::ScriptExited { code });
    code
}

fn run_script(py: Python<'_>, script: &Path, argv: &[String], fresh_main: bool) -> PyResult<i32> {
    let code = CString::new(include_str!("script.py"))
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    let runner = PyModule::from_code(py, &code, c"<swapscope script.py>", c"_swapscope_script")?;
    runner
        .getattr("run")?
        .call1((script.to_string_lossy(), argv.to_vec(), fresh_main))?
        .extract()
}

/// `sys.stdout`/`sys.stderr` replacement that turns writes into events.
#[pyclass(module = "swapscope")]
struct OutputWriter {
    stream: Stream,
    sink: Sink,
}

#[pymethods]
#[expect(
    clippy::unused_self,
    reason = "Python's file protocol: these are methods"
)]
impl OutputWriter {
    fn write(&self, py: Python<'_>, text: String) -> usize {
        let n = text.chars().count();
        let event = Event::Output {
            stream: self.stream,
            text,
        };
        // Sending may wait for a slow UI: let other Python threads run meanwhile, except during
        // a reload (a module body that prints): another thread would run against the module
        // half-built. The UI never needs the GIL, so waiting with it only stalls.
        if super::service::reloading() {
            self.sink.send(event);
        } else {
            py.detach(|| self.sink.send(event));
        }
        n
    }

    fn flush(&self) {}

    fn isatty(&self) -> bool {
        false
    }

    fn writable(&self) -> bool {
        true
    }

    #[getter]
    fn encoding(&self) -> &'static str {
        "utf-8"
    }
}
