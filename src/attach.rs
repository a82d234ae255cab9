//! Attach mode, window side: find the agents running in users' own interpreters, connect to one
//! (the same `Command`/`Event` channels as the embedded runtime, carried over the socket), and
//! the window-less client (`swapscope attach --list`, `--reload`).
//!
//! Uses the protocol crate only: nothing here needs libpython.

use std::io::BufReader;
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};

use crate::protocol::agents::{self, AgentFile};
use crate::protocol::wire::{self, AgentHello, WireError};
use crate::protocol::{Command, Event, ModuleName, Outcome, Overrides};

/// Wakes the window when an event arrived.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// How many events may wait for the window before the connection's reader waits (and the
/// agent, seeing its queue fill, eventually drops us).
const EVENT_QUEUE: usize = 8192;

/// Why attaching failed; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("{0}")]
    Registry(#[from] agents::RegistryError),
    #[error(
        "no swapscope agent is running for this user; start the program with `python -m \
         swapscope SCRIPT` or call `swapscope.serve()` in it"
    )]
    NoAgent,
    #[error(
        "no swapscope agent runs in process {0}; `swapscope attach --list` shows those that do"
    )]
    NoSuchPid(u32),
    #[error("{count} programs run with swapscope; choose one with --pid:\n{list}")]
    Several { count: usize, list: String },
    #[error("the agent file of process {0} holds no valid token; restart that program")]
    BadToken(u32),
    #[error("cannot connect to process {pid} (port {port}): {cause}")]
    Connect {
        pid: u32,
        port: u16,
        cause: WireError,
    },
    #[error("cannot start the connection's {0} thread")]
    Thread(&'static str),
}

/// An open connection to an agent: the window's ends of it.
pub struct Remote {
    pub commands: Sender<Command>,
    pub events: Receiver<Event>,
    pub hello: AgentHello,
    /// Puts events of the window's own making in line with the agent's (the launched
    /// program's output).
    pub inject: Sender<Event>,
}

/// Every agent running for this user (their files, dead ones skipped).
pub fn agents() -> Result<Vec<AgentFile>, AttachError> {
    Ok(agents::list()?)
}

/// The agent to attach to: the one with `pid`, or the only one.
pub fn choose(pid: Option<u32>) -> Result<AgentFile, AttachError> {
    let mut all = agents()?;
    if let Some(pid) = pid {
        return all
            .into_iter()
            .find(|a| a.pid == pid)
            .ok_or(AttachError::NoSuchPid(pid));
    }
    match all.len() {
        0 => Err(AttachError::NoAgent),
        1 => Ok(all.remove(0)),
        count => Err(AttachError::Several {
            count,
            list: all.iter().map(list_line).collect::<Vec<_>>().join("\n"),
        }),
    }
}

/// One line of `--list`: pid, Python version, interpreter, script (tab-separated).
pub fn list_line(a: &AgentFile) -> String {
    format!(
        "{}\t{}\t{}\t{}",
        a.pid, a.python_version, a.interpreter, a.script
    )
}

/// Connects and authenticates, then carries commands and events on two threads. When the
/// connection ends the event channel gets `Event::Disconnected` and closes.
pub fn connect(agent: &AgentFile, waker: Option<Waker>) -> Result<Remote, AttachError> {
    let token = agent.token().ok_or(AttachError::BadToken(agent.pid))?;
    let (stream, hello) =
        wire::connect(agent.port, &token).map_err(|cause| AttachError::Connect {
            pid: agent.pid,
            port: agent.port,
            cause,
        })?;
    stream.set_nodelay(true).ok();
    let (cmd_tx, cmd_rx) = bounded::<Command>(EVENT_QUEUE);
    let (ev_tx, ev_rx) = bounded::<Event>(EVENT_QUEUE);
    let reader_stream = stream.try_clone().map_err(|cause| AttachError::Connect {
        pid: agent.pid,
        port: agent.port,
        cause: WireError::Io(cause),
    })?;
    let who = format!("{} (pid {})", hello.script, hello.pid);
    let inject = ev_tx.clone();
    std::thread::Builder::new()
        .name("swapscope-remote-in".into())
        .spawn(move || read_events(reader_stream, &ev_tx, waker.as_ref(), &who))
        .map_err(|_| AttachError::Thread("reader"))?;
    std::thread::Builder::new()
        .name("swapscope-remote-out".into())
        .spawn(move || write_commands(&stream, &cmd_rx))
        .map_err(|_| AttachError::Thread("writer"))?;
    Ok(Remote {
        commands: cmd_tx,
        events: ev_rx,
        hello,
        inject,
    })
}

fn read_events(stream: TcpStream, events: &Sender<Event>, waker: Option<&Waker>, who: &str) {
    let wake = || {
        if let Some(w) = waker {
            w();
        }
    };
    let mut reader = BufReader::new(stream);
    let why = loop {
        match wire::read_line(&mut reader, wire::MAX_LINE) {
            Ok(Some(line)) => match serde_json::from_str::<Event>(&line) {
                Ok(event) => {
                    if events.send(event).is_err() {
                        return; // the window is gone
                    }
                    wake();
                }
                Err(e) => {
                    break format!(
                        "the agent in {who} sent something this swapscope cannot read ({e}); \
                         are both the same version?"
                    );
                }
            },
            // A reset (the program killed) is `Closed` too.
            Ok(None) | Err(WireError::Closed) => {
                break format!("{who} ended or closed the connection");
            }
            Err(e) => break format!("the connection to {who} failed: {e}"),
        }
    };
    reader.get_ref().shutdown(Shutdown::Both).ok();
    events
        .send(Event::Disconnected(format!(
            "{why}; reloads are no longer possible, the history stays here"
        )))
        .ok();
    wake();
}

fn write_commands(stream: &TcpStream, commands: &Receiver<Command>) {
    let mut out = stream;
    for cmd in commands {
        if matches!(cmd, Command::Shutdown) || wire::write_line(&mut out, &cmd).is_err() {
            break;
        }
    }
    stream.shutdown(Shutdown::Write).ok();
}

/// `swapscope attach --reload`: what to reload and how.
#[derive(Clone, Debug, Default)]
pub struct ReloadRequest {
    pub pid: Option<u32>,
    pub module: String,
    pub overrides: Overrides,
    pub dry_run: bool,
    pub timeout: Duration,
}

/// Why a window-less reload did not produce a report.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Attach(#[from] AttachError),
    #[error("the reload of {module} was refused: {reason}")]
    Refused { module: String, reason: String },
    #[error("{0}")]
    Lost(String),
    #[error(
        "no report for {module} within {secs} s; the program may be busy (a reload waits for its next safepoint)"
    )]
    Timeout { module: String, secs: u64 },
}

impl ClientError {
    /// The process exit code for it: 1 refused, 3 connection lost, 4 timeout, 2 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            ClientError::Refused { .. } => 1,
            ClientError::Lost(_) => 3,
            ClientError::Timeout { .. } => 4,
            ClientError::Attach(_) => 2,
        }
    }
}

/// Reloads a module in an attached process and returns its report (whatever its outcome).
pub fn reload(req: &ReloadRequest) -> Result<crate::protocol::ReloadReport, ClientError> {
    let agent = choose(req.pid)?;
    let remote = connect(&agent, None)?;
    let deadline = Instant::now() + req.timeout;
    let next = |deadline: Instant| -> Result<Event, ClientError> {
        match remote
            .events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok(Event::Disconnected(why)) => Err(ClientError::Lost(why)),
            Ok(e) => Ok(e),
            Err(RecvTimeoutError::Timeout) => Err(ClientError::Timeout {
                module: req.module.clone(),
                secs: req.timeout.as_secs(),
            }),
            Err(RecvTimeoutError::Disconnected) => {
                Err(ClientError::Lost("the connection ended".into()))
            }
        }
    };
    // The history first: reports in it are not the answer.
    while !matches!(next(deadline)?, Event::Replayed) {}
    let sent = remote.commands.send(Command::Reload {
        module: ModuleName(req.module.clone()),
        overrides: req.overrides.clone(),
        dry_run: req.dry_run,
        replace_incompatible: false,
    });
    if sent.is_err() {
        return Err(ClientError::Lost("the connection ended".into()));
    }
    loop {
        match next(deadline)? {
            Event::ReloadFinished(report) if report.module == req.module => {
                remote.commands.send(Command::Shutdown).ok();
                return Ok(report);
            }
            Event::ReloadRefused { module, reason } if module.0 == req.module => {
                return Err(ClientError::Refused {
                    module: module.0,
                    reason,
                });
            }
            _ => {}
        }
    }
}

/// Whether a report counts as success for `--reload`'s exit code.
pub fn applied(report: &crate::protocol::ReloadReport) -> bool {
    report.outcome == Outcome::Applied
}

/// Which programs that start after the window opened it connects to as well.
#[derive(Clone)]
pub enum Discover {
    /// Every new agent of this user (`swapscope attach` without --pid).
    All,
    /// Agents holding this token: the program the window launched and the children that
    /// inherited its environment (a server's workers, a pool).
    Token(String),
}

impl std::fmt::Debug for Discover {
    /// Never prints the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Discover::All => f.write_str("All"),
            Discover::Token(_) => f.write_str("Token(..)"),
        }
    }
}

/// How often discovery looks for new agents.
const DISCOVER_EVERY: Duration = Duration::from_secs(1);

/// Looks for new agents on a thread of its own and hands over a connection to each; stops when
/// the receiver is dropped.
pub fn discover(
    which: Discover,
    mut known: std::collections::BTreeSet<u32>,
    waker: Waker,
) -> std::io::Result<Receiver<Remote>> {
    let (tx, rx) = bounded(64);
    std::thread::Builder::new()
        .name("swapscope-discover".into())
        .spawn(move || {
            loop {
                std::thread::sleep(DISCOVER_EVERY);
                let Ok(all) = agents() else { continue };
                for agent in all {
                    let wanted = match &which {
                        Discover::All => true,
                        Discover::Token(t) => agent.token == *t,
                    };
                    if !wanted || known.contains(&agent.pid) {
                        continue;
                    }
                    // Known once connected: a refused try is tried again next round.
                    if let Ok(remote) = connect(&agent, Some(Arc::clone(&waker))) {
                        known.insert(agent.pid);
                        if tx.send(remote).is_err() {
                            return;
                        }
                        waker();
                    }
                }
            }
        })?;
    Ok(rx)
}

/// A program the window started in the user's interpreter (`swapscope --python PYTHON SCRIPT`).
pub struct Launched {
    pub child: std::process::Child,
    pub agent: AgentFile,
    /// The token it was given (in its environment): its children that serve share it.
    pub token: String,
}

/// Why launching failed.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("cannot run {python}: {cause}")]
    Spawn {
        python: String,
        cause: std::io::Error,
    },
    #[error("cannot make a token for the agent: {0}")]
    Token(std::io::Error),
    #[error("{python} -m swapscope ended before it could be attached ({status}):\n{stderr}{hint}")]
    Ended {
        python: String,
        status: String,
        stderr: String,
        hint: &'static str,
    },
    #[error(
        "{python} -m swapscope published no agent within {secs} s; is the script waiting for input?"
    )]
    NoAgent { python: String, secs: u64 },
}

/// How long a launched program may take to publish its agent.
const LAUNCH_WAIT: Duration = Duration::from_secs(30);

/// Starts `PYTHON -m swapscope [--watch DIR].. [--auto] SCRIPT ARGS` with a fresh token in its
/// environment (never on its command line) and waits for its agent. Its output is piped: hand
/// it to [`forward_output`] once connected.
pub fn launch(
    python: &std::path::Path,
    script: &std::path::Path,
    args: &[String],
    watch: &[PathBuf],
    auto: bool,
) -> Result<Launched, LaunchError> {
    let token = wire::Token::generate()
        .map_err(LaunchError::Token)?
        .to_hex();
    let mut cmd = std::process::Command::new(python);
    cmd.args(["-m", "swapscope"]);
    for dir in watch {
        cmd.arg("--watch").arg(dir);
    }
    if auto {
        cmd.arg("--auto");
    }
    cmd.arg(script)
        .args(args)
        .env("SWAPSCOPE_TOKEN", &token)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let shown = python.display().to_string();
    let mut child = cmd.spawn().map_err(|cause| LaunchError::Spawn {
        python: shown.clone(),
        cause,
    })?;
    let deadline = Instant::now() + LAUNCH_WAIT;
    loop {
        // Its token, not its pid, finds it: a launcher may fork before Python starts.
        if let Some(agent) = agents()
            .ok()
            .and_then(|all| all.into_iter().find(|a| a.token == token))
        {
            return Ok(Launched {
                child,
                agent,
                token,
            });
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                std::io::Read::read_to_string(&mut e, &mut stderr).ok();
            }
            let hint = if stderr.contains("No module named swapscope") {
                "\ninstall swapscope into that interpreter first (see the README: `pip install` the \
                 wheel built with maturin)"
            } else {
                ""
            };
            return Err(LaunchError::Ended {
                python: shown,
                status: status.to_string(),
                stderr,
                hint,
            });
        }
        if Instant::now() > deadline {
            child.kill().ok();
            return Err(LaunchError::NoAgent {
                python: shown,
                secs: LAUNCH_WAIT.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The longest piece of a launched program's output sent as one event.
const OUTPUT_CHUNK: u64 = 64 * 1024;

/// Sends a launched program's stdout and stderr to the window as `Event::Output`, line by line.
pub fn forward_output(child: &mut std::process::Child, to: &Sender<Event>, waker: Option<Waker>) {
    use std::io::{BufRead, Read};
    fn pump(
        stream: impl std::io::Read + Send + 'static,
        kind: crate::protocol::Stream,
        to: Sender<Event>,
        waker: Option<Waker>,
    ) {
        std::thread::Builder::new()
            .name("swapscope-output".into())
            .spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut line = Vec::new();
                // Whatever the program writes: any bytes, progress bars without a newline.
                while (&mut reader)
                    .take(OUTPUT_CHUNK)
                    .read_until(b'\n', &mut line)
                    .is_ok_and(|n| n > 0)
                {
                    let text = String::from_utf8_lossy(&line).into_owned();
                    line.clear();
                    if to.send(Event::Output { stream: kind, text }).is_err() {
                        break;
                    }
                    if let Some(w) = &waker {
                        w();
                    }
                }
            })
            .ok();
    }
    if let Some(out) = child.stdout.take() {
        pump(
            out,
            crate::protocol::Stream::Stdout,
            to.clone(),
            waker.clone(),
        );
    }
    if let Some(err) = child.stderr.take() {
        pump(err, crate::protocol::Stream::Stderr, to.clone(), waker);
    }
}

/// Ends a launched program: SIGINT (Ctrl+C: `KeyboardInterrupt`, so its `finally` blocks and
/// atexit handlers run and its agent file goes), then SIGKILL if it still runs after 3 s.
pub fn end(child: &mut std::process::Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let asked = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if asked {
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    child.kill().ok();
    child.wait().ok();
}
