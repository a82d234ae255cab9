//! The agent: serves one runtime to any number of clients (windows, `swapscope attach`) over an
//! authenticated loopback socket, in the user's own process (attach mode).
//!
//! Threads, none of which the program ever waits for:
//! - `swapscope-accept` takes connections; each one gets a thread that runs the handshake
//!   (`wire::accept`) and then reads the client's commands into the runtime;
//! - `swapscope-hub` takes the runtime's events, remembers what a client connecting later needs
//!   (the start, the policy, the module list, the history) and hands each event to every
//!   client's queue without waiting: a client whose queue is full (it stopped reading) is
//!   disconnected;
//! - one writer per client empties its queue onto the socket.
//!
//! A client cannot stop the program: its `Shutdown` only ends its own connection.

use std::collections::VecDeque;
use std::io::{BufReader, BufWriter, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};

use crate::protocol::agents::{self, AgentFile};
use crate::protocol::wire::{self, AgentHello, Token};
use crate::protocol::{Command, Event};

/// Lines a client may have waiting before it counts as not reading.
const CLIENT_QUEUE_LINES: usize = 4096;
/// Bytes a client may have waiting before it counts as not reading.
const CLIENT_QUEUE_BYTES: usize = 64 * 1024 * 1024;
/// Events of the history a client connecting later is sent (reports, refusals, problems).
const HISTORY: usize = 1000;
/// Bytes of that history, at most: the oldest events go first.
const HISTORY_BYTES: usize = 8 * 1024 * 1024;
/// A diff's sources bigger than this are sent live but not kept for later clients.
const HISTORY_SOURCES_MAX: usize = 512 * 1024;
/// Connections still in their handshake, at most: more are closed at once, so a flood of idle
/// connections cannot take the program's threads or file descriptors.
const HANDSHAKES: usize = 16;
/// How long stopping waits for the last events to reach the clients.
const DRAIN: Duration = Duration::from_millis(500);

/// Why an agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot open the agent's socket on 127.0.0.1: {0}")]
    Bind(std::io::Error),
    #[error("cannot make the agent's token: {0}")]
    Token(std::io::Error),
    #[error("{0}")]
    Registry(#[from] agents::RegistryError),
    #[error("cannot start the agent's {what} thread: {cause}")]
    Thread {
        what: &'static str,
        cause: std::io::Error,
    },
}

/// What the agent says about its process (in its file and to each client).
#[derive(Clone, Debug)]
pub struct AgentInfo {
    pub script: String,
    pub interpreter: String,
    pub python_version: String,
    pub cwd: String,
}

/// A running agent. Dropping it stops it (see [`Agent::stop`]).
pub struct Agent {
    port: u16,
    pid: u32,
    file: Option<PathBuf>,
    stopping: Arc<AtomicBool>,
    hub: Arc<Hub>,
    events_pending: Receiver<Event>,
}

impl Agent {
    /// Serves a runtime: `commands` is where clients' commands go, `events` the runtime's
    /// events (the agent is their only reader from now on). The token is the one the window
    /// passed in `SWAPSCOPE_TOKEN`, else a new random one; it is published, with the port, in a
    /// file only this user can read.
    pub fn start(
        commands: Sender<Command>,
        events: Receiver<Event>,
        info: &AgentInfo,
        token: Option<Token>,
    ) -> Result<Agent, AgentError> {
        let token = match token {
            Some(t) => t,
            None => Token::generate().map_err(AgentError::Token)?,
        };
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(AgentError::Bind)?;
        let port = listener.local_addr().map_err(AgentError::Bind)?.port();
        let pid = std::process::id();
        let hello = AgentHello {
            pid,
            script: info.script.clone(),
            interpreter: info.interpreter.clone(),
            python_version: info.python_version.clone(),
            swapscope_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        let hub = Arc::new(Hub::default());
        let stopping = Arc::new(AtomicBool::new(false));

        let hub_events = events.clone();
        let hub_ref = Arc::clone(&hub);
        spawn("swapscope-hub", move || hub_ref.run(&hub_events))?;

        let accept_hub = Arc::clone(&hub);
        let accept_stop = Arc::clone(&stopping);
        let accept_token = token.clone();
        spawn("swapscope-accept", move || {
            accept_loop(
                &listener,
                &accept_stop,
                &accept_hub,
                &commands,
                &accept_token,
                &hello,
            );
        })?;

        let file = AgentFile {
            pid,
            port,
            token: token.to_hex(),
            script: info.script.clone(),
            interpreter: info.interpreter.clone(),
            python_version: info.python_version.clone(),
            cwd: info.cwd.clone(),
            started_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        let mut agent = Agent {
            port,
            pid,
            file: None,
            stopping,
            hub,
            events_pending: events,
        };
        agent.file = Some(agents::publish(&file)?);
        Ok(agent)
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process it serves (a forked child has another and must start its own agent).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The runtime's first event (`Started`, `StartFailed`), once the hub has seen it.
    pub fn start_event(&self) -> Option<Event> {
        let state = self.hub.state();
        let line = state.replay.started.as_ref()?;
        serde_json::from_str(line).ok()
    }

    /// Removes the agent's file, stops taking connections, gives the last events a moment to
    /// reach the clients, then closes their connections.
    pub fn stop(&mut self) {
        // In a forked child this is the parent's agent: its sockets are shared with the parent
        // and its threads are gone; touching either would harm the parent.
        if self.pid != std::process::id() || self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        if self.file.take().is_some() {
            agents::unpublish(self.pid).ok();
        }
        // Wakes the accept loop, which then sees `stopping`.
        TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).ok();
        let deadline = Instant::now() + DRAIN;
        while Instant::now() < deadline {
            let drained = self.events_pending.is_empty()
                && self
                    .hub
                    .state()
                    .clients
                    .iter()
                    .all(|c| c.queued.load(Ordering::Relaxed) == 0);
            if drained {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        for client in self.hub.state().clients.drain(..) {
            client.stream.shutdown(Shutdown::Both).ok();
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn(name: &'static str, f: impl FnOnce() + Send + 'static) -> Result<(), AgentError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(drop)
        .map_err(|cause| AgentError::Thread { what: name, cause })
}

/// One connected client, as the hub sees it.
struct Client {
    id: u64,
    tx: Sender<Arc<str>>,
    /// Bytes in its queue, not yet written.
    queued: Arc<AtomicUsize>,
    stream: TcpStream,
}

impl Client {
    /// Queues a line without waiting; false when the client must go (gone, or not reading).
    fn offer(&self, line: &Arc<str>) -> bool {
        let bytes = self.queued.fetch_add(line.len(), Ordering::Relaxed) + line.len();
        if bytes > CLIENT_QUEUE_BYTES {
            return false;
        }
        match self.tx.try_send(Arc::clone(line)) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }
}

/// What a client connecting later is told first, in this order.
#[derive(Default)]
struct Replay {
    started: Option<Arc<str>>,
    policy: Option<Arc<str>>,
    auto: Option<Arc<str>>,
    closures: Option<Arc<str>>,
    whole: Option<Arc<str>>,
    history: VecDeque<Arc<str>>,
    /// Bytes in `history`.
    history_bytes: usize,
    modules: Option<Arc<str>>,
    exited: Option<Arc<str>>,
}

impl Replay {
    fn record(&mut self, event: &Event, line: &Arc<str>) {
        let slot = match event {
            Event::Started { .. } | Event::StartFailed(_) | Event::WorkerDied(_) => {
                &mut self.started
            }
            Event::Policy { .. } => &mut self.policy,
            Event::AutoReload(_) => &mut self.auto,
            Event::ClosureScan(_) => &mut self.closures,
            Event::WholeReloads(_) => &mut self.whole,
            Event::Modules(_) => &mut self.modules,
            Event::ScriptExited { .. } => &mut self.exited,
            Event::ReloadFinished(_)
            | Event::HotfixFinished(_)
            | Event::ReloadSources { .. }
            | Event::ReloadRefused { .. }
            | Event::SavesApplied { .. }
            | Event::Propagated { .. }
            | Event::Problem(_) => {
                if matches!(event, Event::ReloadSources { .. }) && line.len() > HISTORY_SOURCES_MAX
                {
                    return;
                }
                self.history.push_back(Arc::clone(line));
                self.history_bytes += line.len();
                while self.history.len() > HISTORY || self.history_bytes > HISTORY_BYTES {
                    let Some(old) = self.history.pop_front() else {
                        break;
                    };
                    self.history_bytes -= old.len();
                }
                return;
            }
            // Answers to one request, or passing news the next list will include.
            Event::Attributes { .. }
            | Event::FilesChanged { .. }
            | Event::ReloadQueued { .. }
            | Event::Output { .. }
            | Event::Replayed
            | Event::Disconnected(_) => return,
        };
        *slot = Some(Arc::clone(line));
    }

    fn lines(&self) -> impl Iterator<Item = &Arc<str>> {
        let head = [
            &self.started,
            &self.policy,
            &self.auto,
            &self.closures,
            &self.whole,
        ];
        let tail = [&self.modules, &self.exited];
        head.into_iter()
            .flatten()
            .chain(self.history.iter())
            .chain(tail.into_iter().flatten())
    }
}

#[derive(Default)]
struct HubState {
    clients: Vec<Client>,
    replay: Replay,
}

#[derive(Default)]
struct Hub {
    state: Mutex<HubState>,
    next_id: AtomicU64,
}

impl Hub {
    fn state(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands every event to every client, until the runtime's channel closes.
    fn run(&self, events: &Receiver<Event>) {
        for event in events {
            let line: Arc<str> = match serde_json::to_string(&event) {
                Ok(s) => s.into(),
                Err(e) => format!(
                    "{{\"Problem\":{}}}",
                    serde_json::Value::String(format!("the agent cannot send an event: {e}"))
                )
                .into(),
            };
            let mut state = self.state();
            state.replay.record(&event, &line);
            state.clients.retain(|c| {
                let keep = c.offer(&line);
                if !keep {
                    c.stream.shutdown(Shutdown::Both).ok();
                }
                keep
            });
        }
        for client in self.state().clients.drain(..) {
            client.stream.shutdown(Shutdown::Both).ok();
        }
    }

    /// Registers an authenticated client: its queue starts with the replay, then the live
    /// events (both under one lock, so none is missed or doubled).
    fn join(
        &self,
        stream: &TcpStream,
    ) -> std::io::Result<(u64, Receiver<Arc<str>>, Arc<AtomicUsize>)> {
        let (tx, rx) = bounded(CLIENT_QUEUE_LINES);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let client = Client {
            id,
            tx,
            queued: Arc::new(AtomicUsize::new(0)),
            stream: stream.try_clone()?,
        };
        let queued = Arc::clone(&client.queued);
        let mut state = self.state();
        for line in state.replay.lines() {
            client.offer(line);
        }
        client.offer(&Arc::from(r#""Replayed""#));
        state.clients.push(client);
        Ok((id, rx, queued))
    }

    fn leave(&self, id: u64) {
        self.state().clients.retain(|c| c.id != id);
    }
}

fn accept_loop(
    listener: &TcpListener,
    stopping: &Arc<AtomicBool>,
    hub: &Arc<Hub>,
    commands: &Sender<Command>,
    token: &Token,
    hello: &AgentHello,
) {
    let handshaking = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else {
            // Out of file descriptors, say: wait instead of spinning.
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        if handshaking.fetch_add(1, Ordering::SeqCst) >= HANDSHAKES {
            handshaking.fetch_sub(1, Ordering::SeqCst);
            stream.shutdown(Shutdown::Both).ok();
            continue;
        }
        let in_handshake = Arc::clone(&handshaking);
        let hub = Arc::clone(hub);
        let commands = commands.clone();
        let token = token.clone();
        let hello = hello.clone();
        // A thread per connection: a slow or hostile handshake holds up nobody else.
        std::thread::Builder::new()
            .name("swapscope-client".into())
            .spawn(move || {
                serve_client(&stream, &hub, &commands, &token, &hello, &in_handshake);
            })
            .ok();
    }
}

/// Authenticates a client, then forwards its commands until it leaves.
fn serve_client(
    stream: &TcpStream,
    hub: &Hub,
    commands: &Sender<Command>,
    token: &Token,
    hello: &AgentHello,
    handshaking: &AtomicUsize,
) {
    let accepted = wire::accept(stream, token, hello);
    handshaking.fetch_sub(1, Ordering::SeqCst);
    if accepted.is_err() {
        // Refused (the handshake told the client why); the agent goes on serving the others.
        stream.shutdown(Shutdown::Both).ok();
        return;
    }
    stream.set_nodelay(true).ok();
    let Ok(writer_stream) = stream.try_clone() else {
        return;
    };
    let Ok((id, rx, queued)) = hub.join(stream) else {
        return;
    };
    let writer = std::thread::Builder::new()
        .name("swapscope-writer".into())
        .spawn(move || write_lines(&writer_stream, &rx, &queued));
    if writer.is_err() {
        hub.leave(id);
        return;
    }
    let mut reader = BufReader::new(stream);
    while let Ok(Some(line)) = wire::read_line(&mut reader, wire::MAX_LINE) {
        // `Shutdown` ends this connection only: a client never stops the program. A line that
        // is no command ends it too: a client speaking another protocol is done.
        let Ok(cmd) = serde_json::from_str::<Command>(&line) else {
            break;
        };
        if matches!(cmd, Command::Shutdown) || commands.send(cmd).is_err() {
            break;
        }
    }
    hub.leave(id);
    stream.shutdown(Shutdown::Both).ok();
}

/// Writes a client's queue onto its socket, flushing whenever the queue runs dry.
fn write_lines(stream: &TcpStream, rx: &Receiver<Arc<str>>, queued: &AtomicUsize) {
    let mut out = BufWriter::new(stream);
    for line in rx {
        let ok = out.write_all(line.as_bytes()).is_ok() && out.write_all(b"\n").is_ok();
        queued.fetch_sub(line.len(), Ordering::Relaxed);
        if !ok || (rx.is_empty() && out.flush().is_err()) {
            break;
        }
    }
    out.flush().ok();
    stream.shutdown(Shutdown::Both).ok();
}
