//! The headless driver: runs the script on the runtime like `python SCRIPT ARGS`, writes reports
//! to `--report FILE`, tells reload failures on stderr, exits with the script's code.

use std::io::Write;
use std::path::PathBuf;

use crate::protocol::Outcome;
use crate::runtime::{Config, Event, Runtime, ScriptThread};

/// Options of `--headless`.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub config: Config,
    /// Append one JSON report per line.
    pub report: Option<PathBuf>,
}

/// Why a headless run ended without the script's exit code.
#[derive(Debug, thiserror::Error)]
pub enum HeadlessError {
    /// The interpreter or the script could not start (the runtime's message).
    #[error("{0}")]
    StartFailed(String),
    /// The worker crashed (its message says why and that it is a bug).
    #[error("{0}")]
    WorkerDied(String),
    #[error("the Python worker stopped before the script ended: {0}")]
    WorkerStopped(String),
    #[error("the Python worker stopped before the script ended, without saying why")]
    WorkerStoppedSilently,
    #[error("cannot open the report file {}: {cause}", .path.display())]
    OpenReport {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("cannot write the report file: {0}")]
    WriteReport(std::io::Error),
    #[error("cannot start the event thread: {0}")]
    Thread(std::io::Error),
    /// The thread printing events panicked (a bug in swapscope).
    #[error("the event printer failed ({0}); this is a bug in swapscope: please report it")]
    Printer(String),
}

/// Runs until the script exits; returns the process exit code.
pub fn run(opts: &Options) -> Result<i32, HeadlessError> {
    let mut report_file = match &opts.report {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|cause| HeadlessError::OpenReport {
                    path: path.clone(),
                    cause,
                })?,
        ),
        None => None,
    };
    // The interpreter starts on this thread, the process's main thread, and the script runs
    // here too: Python's main thread, where `signal.signal` works and Ctrl+C is a
    // KeyboardInterrupt. The events are printed on a thread of their own meanwhile.
    crate::interp::initialize();
    let config = Config {
        script_thread: ScriptThread::Caller,
        ..opts.config.clone()
    };
    let verbose = config.auto_reload;
    let mut runtime = Runtime::start(config, None);
    let events = runtime.events.clone();
    let printer = std::thread::Builder::new()
        .name("swapscope-events".into())
        .spawn(move || {
            let result = print_events(&events, report_file.as_mut(), verbose);
            if let Err(e) = &result {
                // The script runs on the main thread and cannot be stopped from here; with no
                // one reading events it would soon block. End the process as before, at once
                // (nothing was started yet, or the worker is gone, or reports cannot be written).
                eprintln!("swapscope: {e}");
                std::process::exit(2);
            }
            result
        })
        .map_err(HeadlessError::Thread)?;
    // `None`: the worker stopped before the script could start; the printer tells why.
    runtime.run_script();
    printer
        .join()
        .unwrap_or_else(|panic| Err(HeadlessError::Printer(crate::fault::panic_message(&*panic))))
}

/// Prints what the runtime says until the script exits; returns its exit code.
fn print_events(
    events: &crossbeam_channel::Receiver<Event>,
    mut report_file: Option<&mut std::fs::File>,
    verbose: bool,
) -> Result<i32, HeadlessError> {
    let mut last_problem: Option<String> = None;
    while let Ok(event) = events.recv() {
        match event {
            Event::StartFailed(message) => return Err(HeadlessError::StartFailed(message)),
            Event::ReloadFinished(report) => {
                if let Some(f) = report_file.as_mut() {
                    let line = serde_json::to_string(&report)
                        .map_err(|e| HeadlessError::WriteReport(e.into()))?;
                    writeln!(f, "{line}")
                        .and_then(|()| f.flush())
                        .map_err(HeadlessError::WriteReport)?;
                }
                if report.outcome != Outcome::Applied || verbose {
                    eprintln!("swapscope: {}", report.summary());
                    if let Some(err) = report
                        .error
                        .as_ref()
                        .filter(|_| report.outcome != Outcome::Applied)
                        && let Some(text) = &err.text
                    {
                        eprintln!("swapscope:     {}", text.trim());
                    }
                }
            }
            Event::ReloadRefused { reason, .. } => eprintln!("swapscope: {reason}"),
            Event::Problem(message) => {
                eprintln!("swapscope: {message}");
                last_problem = Some(message);
            }
            Event::ScriptExited { code } => return Ok(code),
            Event::WorkerDied(reason) => return Err(HeadlessError::WorkerDied(reason)),
            Event::Output { stream, text } => {
                // Only when capture was asked for; headless normally leaves stdio alone.
                match stream {
                    crate::runtime::Stream::Stdout => print!("{text}"),
                    crate::runtime::Stream::Stderr => eprint!("{text}"),
                }
            }
            Event::Started { .. }
            | Event::Modules(_)
            | Event::FilesChanged { .. }
            | Event::ReloadQueued { .. }
            | Event::Propagated { .. }
            | Event::AutoReload(_)
            | Event::Attributes { .. }
            | Event::Policy { .. }
            | Event::ReloadSources { .. }
            | Event::HotfixFinished(_)
            | Event::SavesApplied { .. }
            | Event::Replayed
            | Event::ClosureScan(_)
            | Event::WholeReloads(_)
            | Event::Disconnected(_) => {}
        }
    }
    Err(match last_problem {
        Some(reason) => HeadlessError::WorkerStopped(reason),
        None => HeadlessError::WorkerStoppedSilently,
    })
}
