//! The runtime harness: a [`Session`] is one `Runtime` on a temp folder, with every event it
//! sent so far, and the scripts and modules the runtime tests run in it.
//!
//! Every `Runtime` of one process shares one interpreter: one `sys.modules`, `sys.stdout`,
//! `sys.argv`, `__main__`, and the process's reload service (`swapscope::runtime::ReloadService`),
//! which each `Runtime::start` connects to itself. So sessions take `ONE_AT_A_TIME` and run one
//! runtime after the other; every script stops at a stop file (or a deadline) and a session waits
//! for it before the next one starts. Under `cargo nextest` (a process per test) the lock is free.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use swapscope::engine::{Overrides, ReloadReport};
use swapscope::runtime::{Command, Config, Event, ModuleName, Runtime, Stream};

use super::dedent;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Scripts stop looping when this file appears in their folder.
const STOP_FILE: &str = "stop.flag";

/// Generous: the machine has two cores and other builds may run.
pub const LONG: Duration = Duration::from_secs(20);

/// The Python lines scripts use to loop until the test is done with them (or 30 s passed, so a
/// failed test never leaves a script running under the next one).
pub const LOOP_PRELUDE: &str = r#"
import os, sys, threading, time
STOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stop.flag")
DEADLINE = time.monotonic() + 30
def running():
    return not os.path.exists(STOP) and time.monotonic() < DEADLINE
def say(line):
    # One write per line: print() writes the text and the newline separately, so a line
    # printed by another thread (a module body run by a reload) can land between them.
    sys.stdout.write(f"{line}\n")
    sys.stdout.flush()
"#;

/// A counter module: its body prints the thread it runs on, `step()` advances live state.
pub fn counter_module(version: &str) -> String {
    dedent(&format!(
        r#"
        import sys, threading
        sys.stdout.write(f"body {version} on {{threading.get_ident()}}\n")
        sys.stdout.flush()
        count = 0
        def step():
            global count
            count += 1
            return f"{version} count={{count}}"
        "#
    ))
}

/// A script that imports `module`, prints its thread, then prints `module.step()` every 20 ms
/// until stopped, calling `swapscope.safepoint()` first in each iteration if `safepoints`.
pub fn looping_script(module: &str, safepoints: bool) -> String {
    let safepoint = if safepoints {
        "swapscope.safepoint()"
    } else {
        "pass"
    };
    format!(
        "{LOOP_PRELUDE}{}",
        dedent(&format!(
            r#"
            import swapscope
            import {module} as m
            print(f"script on {{threading.get_ident()}}", flush=True)
            while running():
                {safepoint}
                say(m.step())
                time.sleep(0.02)
            "#
        ))
    )
}

/// A script that prints `ready`, then waits until stopped.
pub fn idle_script() -> String {
    format!("{LOOP_PRELUDE}print('ready', flush=True)\nwhile running():\n    time.sleep(0.02)\n")
}

/// One runtime on one temp folder, with everything it said so far.
pub struct Session {
    runtime: Option<Runtime>,
    pub dir: tempfile::TempDir,
    /// Every event received, in order (outputs included).
    pub log: Vec<Event>,
    pub stdout: String,
    pub stderr: String,
    exited: Option<i32>,
    /// The worker said it crashed or could not start: no script will exit.
    worker_gone: bool,
    /// The event channel closed: nothing more will come.
    closed: bool,
    _turn: MutexGuard<'static, ()>,
}

impl Session {
    /// Writes `files` (name, source) into a new temp folder and starts `script` there.
    pub fn start(files: &[(&str, &str)], script: &str, config: Config) -> Session {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, source) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, source).expect("write source");
        }
        let config = Config {
            script: dir.path().join(script),
            ..config
        };
        let runtime = Runtime::start(config, None);
        Session {
            runtime: Some(runtime),
            dir,
            log: Vec::new(),
            stdout: String::new(),
            stderr: String::new(),
            exited: None,
            worker_gone: false,
            closed: false,
            _turn: turn,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn runtime(&self) -> &Runtime {
        self.runtime.as_ref().expect("runtime")
    }

    pub fn send(&self, command: Command) {
        self.runtime().commands.send(command).expect("send command");
    }

    /// The next event within `timeout`, recorded; `None` on timeout or when the worker is gone.
    pub fn next(&mut self, timeout: Duration) -> Option<Event> {
        match self.runtime().events.recv_timeout(timeout) {
            Ok(event) => {
                match &event {
                    Event::Output {
                        stream: Stream::Stdout,
                        text,
                    } => self.stdout.push_str(text),
                    Event::Output {
                        stream: Stream::Stderr,
                        text,
                    } => self.stderr.push_str(text),
                    Event::ScriptExited { code } => self.exited = Some(*code),
                    Event::WorkerDied(_) | Event::StartFailed(_) => self.worker_gone = true,
                    _ => {}
                }
                self.log.push(event.clone());
                Some(event)
            }
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                self.closed = true;
                None
            }
        }
    }

    /// What was seen so far, for failure messages.
    pub fn story(&self) -> String {
        let mut s = String::new();
        for e in self
            .log
            .iter()
            .filter(|e| !matches!(e, Event::Output { .. }))
        {
            let _ = writeln!(s, "  {}", short(e));
        }
        format!(
            "events (outputs left out):\n{s}stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        )
    }

    /// Receives events until one matches; panics naming `what` after `timeout`.
    pub fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pred: impl FnMut(&Event) -> bool,
    ) -> Event {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no {what} within {timeout:?}\n{}",
                self.story()
            );
            if let Some(e) = self.next(left.min(Duration::from_millis(100)))
                && pred(&e)
            {
                return e;
            }
            assert!(
                !self.closed,
                "the runtime closed its event channel before {what}\n{}",
                self.story()
            );
        }
    }

    /// Receives events until the script's stdout contains `needle`.
    pub fn wait_stdout(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.stdout.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "stdout has no {needle:?} within {timeout:?}\n{}",
                self.story()
            );
            self.next(left.min(Duration::from_millis(100)));
            assert!(
                !self.closed,
                "the runtime closed its event channel before stdout had {needle:?}\n{}",
                self.story()
            );
        }
    }

    /// Receives events for `period` and returns those that came.
    pub fn collect_for(&mut self, period: Duration) -> Vec<Event> {
        let deadline = Instant::now() + period;
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return got;
            }
            if let Some(e) = self.next(left) {
                got.push(e);
            }
        }
    }

    pub fn wait_report(&mut self, module: &str, timeout: Duration) -> ReloadReport {
        match self.wait_for(
            &format!("report for {module}"),
            timeout,
            |e| matches!(e, Event::ReloadFinished(r) if r.module == module),
        ) {
            Event::ReloadFinished(r) => r,
            _ => unreachable!(),
        }
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> i32 {
        if let Some(code) = self.exited {
            return code;
        }
        match self.wait_for("ScriptExited", timeout, |e| {
            matches!(e, Event::ScriptExited { .. })
        }) {
            Event::ScriptExited { code } => code,
            _ => unreachable!(),
        }
    }

    /// Tells a looping script to stop and waits for it.
    pub fn stop(&mut self) -> i32 {
        std::fs::write(self.path(STOP_FILE), "").expect("write stop file");
        self.wait_exit(LONG)
    }

    /// The `step()` lines printed so far: (version, count) in order.
    pub fn steps(&self) -> Vec<(String, u32)> {
        steps_in(&self.stdout)
    }

    /// The thread idents printed by lines starting with `prefix` ("script on", "body v2 on").
    pub fn idents(&self, prefix: &str) -> Vec<u64> {
        self.stdout
            .lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .map(|n| n.trim().parse().expect("thread ident"))
            .collect()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Stop the script before the next test takes the interpreter (also after a failure).
        std::fs::write(self.path(STOP_FILE), "").ok();
        let deadline = Instant::now() + LONG;
        while self.exited.is_none() && !self.worker_gone && Instant::now() < deadline {
            match self
                .runtime()
                .events
                .recv_timeout(Duration::from_millis(100))
            {
                Ok(Event::ScriptExited { code }) => self.exited = Some(code),
                Ok(Event::WorkerDied(_) | Event::StartFailed(_)) => self.worker_gone = true,
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown();
        }
    }
}

pub fn steps_in(text: &str) -> Vec<(String, u32)> {
    text.lines()
        .filter_map(|l| {
            let (version, count) = l.split_once(" count=")?;
            Some((version.to_string(), count.trim().parse().ok()?))
        })
        .collect()
}

/// Asserts the step lines count 1, 2, 3, ... without a gap or reset (live state kept), switch
/// once from `old` to `new`, and reach at least `min_new` lines of `new`.
pub fn assert_switched_keeping_count(
    steps: &[(String, u32)],
    old: &str,
    new: &str,
    min_new: usize,
) {
    let counts: Vec<u32> = steps.iter().map(|(_, c)| *c).collect();
    let expected: Vec<u32> = (1..).take(counts.len()).collect();
    assert_eq!(counts, expected, "the counter must go on: {steps:?}");
    let first_new = steps
        .iter()
        .position(|(v, _)| v == new)
        .unwrap_or_else(|| panic!("no {new} line: {steps:?}"));
    assert!(first_new > 0, "{old} lines come first: {steps:?}");
    assert!(
        steps[..first_new].iter().all(|(v, _)| v == old),
        "{steps:?}"
    );
    assert!(
        steps[first_new..].iter().all(|(v, _)| v == new),
        "once reloaded, every line is {new}: {steps:?}"
    );
    assert!(steps.len() - first_new >= min_new, "{steps:?}");
}

fn short(e: &Event) -> String {
    match e {
        Event::ReloadFinished(r) => format!(
            "ReloadFinished({} {:?} {:?})",
            r.module,
            r.outcome,
            r.error.as_ref().map(|e| &e.message)
        ),
        Event::Modules(list) => format!("Modules({} entries)", list.len()),
        other => {
            let mut s = format!("{other:?}");
            s.truncate(300);
            s
        }
    }
}

/// The default config, with the script's output sent as events.
pub fn captured() -> Config {
    Config {
        capture_output: true,
        ..Config::default()
    }
}

/// A reload of `module`, without overrides.
pub fn reload_cmd(module: &str) -> Command {
    Command::Reload {
        module: ModuleName(module.into()),
        overrides: Overrides::default(),
        dry_run: false,
        replace_incompatible: false,
    }
}
