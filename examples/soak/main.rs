//! Soak test: random valid, broken and hostile edits saved into a running game through the real
//! watcher with auto-reload on, with the invariants checked after every edit.
//!
//! ```text
//! cargo run --release --example soak -- --edits 10000 --seed 7
//! ```
//!
//! Runs `examples/soak/soak.py` (the game and the edit driver) as the script of swapscope's
//! runtime, in a fresh temporary folder. Every argument is passed to it (`--help` lists them).
//! Exits with the script's status: 0 when every invariant held, 1 on a violation (the output
//! names it and the command that replays the same edits).
//!
//! Attached mode: `--python PYTHON` first runs the same driver as `PYTHON -m swapscope --auto`
//! in that interpreter (a venv with the swapscope wheel installed), so the agent's worker and
//! watcher in the user's process do the reloads.

use std::process::ExitCode;

use swapscope::runtime::{Config, Event, Runtime};

const DRIVER: &str = include_str!("soak.py");

fn main() -> ExitCode {
    let dir = match tempfile::Builder::new().prefix("swapscope-soak-").tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("soak: cannot create a temporary folder: {e}");
            return ExitCode::from(2);
        }
    };
    let script = dir.path().join("soak_main.py");
    if let Err(e) = std::fs::write(&script, DRIVER) {
        eprintln!("soak: cannot write {}: {e}", script.display());
        return ExitCode::from(2);
    }
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--python") {
        let Some(python) = args.get(1).cloned() else {
            eprintln!("soak: --python needs an interpreter");
            return ExitCode::from(2);
        };
        let status = std::process::Command::new(&python)
            .args(["-m", "swapscope", "--auto"])
            .arg(&script)
            .args(&args[2..])
            .status();
        return match status {
            Ok(s) => ExitCode::from(u8::try_from(s.code().unwrap_or(3)).unwrap_or(1)),
            Err(e) => {
                eprintln!("soak: cannot run {python}: {e}");
                ExitCode::from(2)
            }
        };
    }
    let config = Config {
        script,
        args: std::mem::take(&mut args),
        watch: Vec::new(),
        capture_output: false,
        watch_files: true,
        auto_reload: true,
        ..Config::default()
    };
    let runtime = Runtime::start(config, None);
    let code = loop {
        match runtime.events.recv() {
            Ok(Event::StartFailed(reason)) => {
                eprintln!("soak: swapscope did not start: {reason}");
                break 2;
            }
            Ok(Event::Problem(message)) => eprintln!("soak: swapscope says: {message}"),
            Ok(Event::ScriptExited { code }) => break code,
            Ok(Event::WorkerDied(reason)) => {
                eprintln!("soak: {reason}");
                break 3;
            }
            Ok(_) => {}
            Err(_) => {
                eprintln!("soak: the swapscope worker stopped before the script finished");
                break 3;
            }
        }
    };
    runtime.shutdown();
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
