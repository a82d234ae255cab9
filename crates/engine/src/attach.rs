//! Attach mode, process side: the runtime and its agent inside the user's own interpreter, as
//! the extension's `swapscope.serve()` and `python -m swapscope SCRIPT` start them.
//!
//! One agent per process. A child forked after `serve()` has no agent threads (fork copies only
//! the calling thread) and a new pid: its own `serve()` starts a fresh runtime and agent.
//!
//! Attaching to a process that did not opt in is not offered: before `CPython` 3.14 it means
//! gdb-style code injection, which can deadlock or crash the target. `CPython` 3.14's
//! `sys.remote_exec(pid, script)` can later run a script calling `swapscope.serve()` in a
//! running process; [`serve`] is what that script would call.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::agent::{Agent, AgentInfo};
use crate::protocol::Event;
use crate::protocol::wire::Token;
use crate::runtime::{Config, Host, Runtime, ScriptThread};

/// The environment variable through which a window that launches the program passes the agent's
/// token (never on the command line, where every user can read it).
pub const TOKEN_ENV: &str = "SWAPSCOPE_TOKEN";

/// What to serve.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The program's script (`__main__.__file__`), or the folder it runs in.
    pub script: PathBuf,
    /// `sys.argv[1:]` (for [`run`]).
    pub args: Vec<String>,
    /// Extra folders to track and watch.
    pub watch: Vec<PathBuf>,
    /// Reload a tracked module when its file is saved.
    pub auto_reload: bool,
}

/// The process's agent, with the pid it was started in.
struct Serving {
    agent: Agent,
    /// The worker's handle (`serve`; `run` keeps its own), shut down by [`stop`].
    runtime: Option<Runtime>,
}

static SERVING: Mutex<Option<Serving>> = Mutex::new(None);

fn serving() -> MutexGuard<'static, Option<Serving>> {
    SERVING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the runtime and the agent for a program that is already running, unless this process
/// has them already; returns the agent's port.
pub fn serve(py: Python<'_>, opts: &Options) -> PyResult<u16> {
    if let Some(s) = serving().as_ref()
        && s.agent.pid() == std::process::id()
    {
        return Ok(s.agent.port());
    }
    forget_inherited();
    let (agent, runtime) = start(py, opts, ScriptThread::Running)?;
    let port = agent.port();
    *serving() = Some(Serving {
        agent,
        runtime: Some(runtime),
    });
    Ok(port)
}

/// Runs `opts.script` as `__main__` on this thread (the main thread, under `python -m
/// swapscope`) with the runtime and the agent serving it; returns its exit code. The agent stops
/// when the script ends, after its last events reached the clients.
pub fn run(py: Python<'_>, opts: &Options) -> PyResult<i32> {
    let (agent, mut runtime) = start(py, opts, ScriptThread::Caller)?;
    *serving() = Some(Serving {
        agent,
        runtime: None,
    });
    // The worker needs the interpreter to get ready, and the script takes it back itself.
    let pid = std::process::id();
    let code = py.detach(|| runtime.run_script());
    if std::process::id() == pid {
        py.detach(|| {
            stop();
            runtime.shutdown();
        });
    } else {
        // A child forked by the script, returning through here: the worker and the agent are
        // its parent's (their threads do not exist here), so leave them be.
        forget_inherited();
        std::mem::forget(runtime);
    }
    code.ok_or_else(|| PyRuntimeError::new_err("swapscope stopped before the script could start"))
}

/// Stops this process's agent (its file is removed, clients are told the last events and
/// disconnected). Registered with `atexit` by `serve()`.
pub fn stop() {
    forget_inherited();
    let taken = serving().take();
    if let Some(mut s) = taken {
        s.agent.stop();
        // The worker ends before the interpreter does: no reload may start during finalization.
        if let Some(runtime) = s.runtime.take() {
            runtime.shutdown();
        }
    }
}

/// In a forked child: forgets the parent's agent and worker without stopping them. Stopping
/// would remove the parent's agent file and shut down its clients' sockets (shared with the
/// parent), and their threads do not exist here (nor may a lock they held be taken).
fn forget_inherited() {
    let mut serving = serving();
    if serving
        .as_ref()
        .is_some_and(|s| s.agent.pid() != std::process::id())
    {
        std::mem::forget(serving.take());
    }
}

/// The port of this process's agent, if it serves.
pub fn port() -> Option<u16> {
    serving()
        .as_ref()
        .filter(|s| s.agent.pid() == std::process::id())
        .map(|s| s.agent.port())
}

fn start(py: Python<'_>, opts: &Options, thread: ScriptThread) -> PyResult<(Agent, Runtime)> {
    let token = match std::env::var(TOKEN_ENV) {
        Ok(hex) => Some(Token::from_hex(hex.trim()).ok_or_else(|| {
            PyValueError::new_err(format!(
                "{TOKEN_ENV} is set but is not a swapscope token (64 hex digits); unset it to \
                 let the agent make its own"
            ))
        })?),
        Err(_) => None,
    };
    let info = info(py, opts)?;
    let config = Config {
        script: opts.script.clone(),
        args: opts.args.clone(),
        watch: opts.watch.clone(),
        capture_output: false,
        watch_files: true,
        auto_reload: opts.auto_reload,
        script_thread: thread,
        host: Host::Attached,
    };
    let mut runtime = Runtime::start(config, None);
    let agent = match Agent::start(
        runtime.commands.clone(),
        runtime.events.clone(),
        &info,
        token,
    ) {
        Ok(a) => a,
        Err(e) => {
            // No worker is left behind (a retry would otherwise add another).
            py.detach(|| runtime.shutdown());
            return Err(PyRuntimeError::new_err(e.to_string()));
        }
    };
    if thread == ScriptThread::Running && !py.detach(|| runtime.wait_ready()) {
        let why = start_failure(&agent).unwrap_or_else(|| "the worker stopped".to_string());
        let mut agent = agent;
        py.detach(|| {
            agent.stop();
            runtime.shutdown();
        });
        return Err(PyRuntimeError::new_err(format!(
            "swapscope could not start: {why}"
        )));
    }
    Ok((agent, runtime))
}

/// Why the runtime did not start, from the event the agent recorded (it may take a moment).
fn start_failure(agent: &Agent) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        if let Some(Event::StartFailed(why) | Event::WorkerDied(why)) = agent.start_event() {
            return Some(why);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn info(py: Python<'_>, opts: &Options) -> PyResult<AgentInfo> {
    let sys = py.import("sys")?;
    let version: String = sys.getattr("version")?.extract()?;
    Ok(AgentInfo {
        script: std::path::absolute(&opts.script)
            .unwrap_or_else(|_| opts.script.clone())
            .to_string_lossy()
            .into_owned(),
        interpreter: sys.getattr("executable")?.extract()?,
        python_version: version
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
        cwd: std::env::current_dir()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_default(),
    })
}
