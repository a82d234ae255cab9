//! The headless driver: runs the script on the runtime like `python SCRIPT ARGS`, writes reports
//! to `--report FILE`, tells reload failures on stderr, exits with the script's code.

use std::io::Write;
use std::path::PathBuf;

use crate::protocol::Outcome;
use crate::runtime::{Config, Event, Runtime};

/// Options of `--headless`.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub config: Config,
    /// Append one JSON report per line.
    pub report: Option<PathBuf>,
}

/// Runs until the script exits; returns the process exit code.
pub fn run(opts: &Options) -> Result<i32, String> {
    let mut report_file = match &opts.report {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("cannot open the report file {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let runtime = Runtime::start(opts.config.clone(), None);
    let verbose = opts.config.auto_reload;
    let mut last_problem: Option<String> = None;
    while let Ok(event) = runtime.events.recv() {
        match event {
            Event::StartFailed(message) => return Err(message),
            Event::ReloadFinished(report) => {
                if let Some(f) = report_file.as_mut() {
                    let line = serde_json::to_string(&report).map_err(|e| e.to_string())?;
                    writeln!(f, "{line}")
                        .and_then(|()| f.flush())
                        .map_err(|e| format!("cannot write the report file: {e}"))?;
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
            Event::WorkerDied(reason) => return Err(reason),
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
            | Event::SavesApplied { .. } => {}
        }
    }
    Err(match last_problem {
        Some(reason) => format!("the Python worker stopped before the script ended: {reason}"),
        None => "the Python worker stopped before the script ended, without saying why".into(),
    })
}
