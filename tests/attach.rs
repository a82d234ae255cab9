//! Attach mode with real processes: the abi3 wheel in a venv of each `CPython` that pyenv has,
//! programs under `python -m swapscope` (or calling `swapscope.serve()`), and `swapscope attach`
//! or the library client (`swapscope::attach::connect`) or raw sockets as clients.
//!
//! A version pyenv does not have is skipped, and the test says so on stderr. Tests that are not
//! about versions run on the 3.11 venv (another version when 3.11 is missing).
#![cfg(feature = "embedded")]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::attach::{
    Program, VERSIONS, attrs_venv, demo_copy, poll, python, venv, wait_for, write,
};
use swapscope::attach::{self as client, Remote};
use swapscope::protocol::agents::AgentFile;
use swapscope::protocol::wire::{self, Token, WireError};
use swapscope::protocol::{Command, Event, ModuleName, Outcome, Overrides, ReloadReport};

const LIMIT: Duration = Duration::from_mins(1);

/// The bundled demo under `python -m swapscope` on every `CPython` 3.9–3.13 installed: a
/// window-less client reloads `balance`, the game's next lines use the new damage, and the
/// players' state (kills, levels) carries on.
#[test]
fn demo_reloads_through_the_wheel_on_every_version() {
    let mut ran = 0;
    for version in VERSIONS {
        let Some(python) = venv(version) else {
            eprintln!("skipped: CPython {version} (not installed under pyenv)");
            continue;
        };
        ran += 1;
        let demo = demo_copy();
        let mut program = Program::start(&python, demo.path(), &[], "game.py", &["--speed", "40"]);
        let agents = program.wait_agents(1, LIMIT);
        assert_eq!(agents[0].pid, program.child.id(), "{version}");
        assert_eq!(
            agents[0].python_version.rsplit_once('.').map(|v| v.0),
            Some(version),
            "the agent runs on the venv's interpreter"
        );
        program.wait_output("kills: 3)", LIMIT);

        let balance = demo.path().join("balance.py");
        let source = std::fs::read_to_string(&balance).expect("read balance");
        let edited = source.replace(
            r#""pistol": {"damage": 10,"#,
            r#""pistol": {"damage": 777,"#,
        );
        assert_ne!(source, edited, "the demo's pistol line moved");
        std::fs::write(&balance, edited).expect("write balance");

        let out = program.attach(&["--reload", "balance"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{version}: attach --reload failed: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
        assert_eq!(report["outcome"], "applied", "{version}: {stdout}");
        let weapons = report["changes"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["qualname"] == "WEAPONS"))
            .expect("WEAPONS in the report");
        assert_eq!(weapons["action"], "took_new", "{version}: {weapons}");

        // Ada carries the pistol: her next shots deal the new damage (plus 10% per level).
        program.wait_output("with the pistol for 7", LIMIT);
        let out = program.output();
        let after = out
            .split("with the pistol for 7")
            .nth(1)
            .expect("a line after the reload");
        // The kill count went on from where it was: state kept, not a restart.
        let kills: Vec<u32> = out
            .lines()
            .filter_map(|l| l.split("(kills: ").nth(1))
            .filter_map(|k| k.trim_end_matches(')').parse().ok())
            .collect();
        assert!(
            kills.windows(2).all(|w| w[1] == w[0] + 1),
            "{version}: kills restarted or skipped: {kills:?}"
        );
        assert!(
            !after.contains("kills: 1)"),
            "{version}: the game restarted"
        );
    }
    assert!(ran > 0, "no CPython 3.9–3.13 found under pyenv");
}

/// How long something that should happen promptly may take on a loaded machine.
const SOON: Duration = Duration::from_secs(10);

/// Under this, a connection was ended by the agent on what it read, not by the handshake's
/// timeout.
const QUICK: Duration = Duration::from_secs(4);

/// A program that ticks: `tick N value V` (V is `config.VALUE`), a safe point, 20 ms of sleep.
const TICKER: &str = r#"
    import time

    import swapscope

    import config
    import slow

    i = 0
    while True:
        i += 1
        print(f"tick {i} value {config.VALUE}", flush=True)
        swapscope.safepoint()
        time.sleep(0.02)
"#;

/// A module whose body sleeps 2 s while the file `slow.flag` exists (it says when it starts and
/// ends). The body is one statement: a reload of an edited version (`SLOW_EDITED`) runs it again.
const SLOW: &str = r#"
    import os
    import time

    if True:
        # version 1
        print("slow: body runs", flush=True)
        if os.path.exists("slow.flag"):
            time.sleep(2)
        print("slow: body done", flush=True)
"#;

/// Writes `slow.py` edited, so that the next reload runs its body again.
fn edit_slow(dir: &std::path::Path) {
    write(dir, "slow.py", &SLOW.replace("version 1", "version 2"));
}

/// The last `tick N value V` line: (N, V).
fn last_tick(output: &str) -> Option<(u32, String)> {
    output.lines().rev().find_map(|line| {
        let rest = line.strip_prefix("tick ")?;
        let (n, value) = rest.split_once(" value ")?;
        Some((n.parse().ok()?, value.to_owned()))
    })
}

/// A ticking program under `python -m swapscope`, in a temp folder of its own.
struct Ticker {
    program: Program,
    agent: AgentFile,
    _dir: tempfile::TempDir,
}

impl Ticker {
    fn start() -> Ticker {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "prog.py", TICKER);
        write(dir.path(), "config.py", "VALUE = 1");
        write(dir.path(), "slow.py", SLOW);
        let mut program = Program::start(&python(), dir.path(), &[], "prog.py", &[]);
        let agent = program.wait_agents(1, LIMIT).remove(0);
        assert_eq!(agent.pid, program.pid(), "the agent serves the program");
        program.wait_output("tick 1 value 1\n", LIMIT);
        Ticker {
            program,
            agent,
            _dir: dir,
        }
    }

    fn dir(&self) -> &Path {
        &self.program.dir
    }

    /// The last tick's number and value.
    fn tick(&self) -> (u32, String) {
        last_tick(&self.program.output()).expect("a tick")
    }

    /// Waits until the program printed tick `n` or later.
    fn wait_tick(&self, n: u32, what: &str) {
        wait_for(
            SOON,
            || format!("{what}: no tick {n}; output:\n{}", self.program.output()),
            || (self.tick().0 >= n).then_some(()),
        );
    }

    /// Waits until the program's ticks show `value`.
    fn wait_value(&self, value: &str, what: &str) {
        wait_for(
            SOON,
            || {
                format!(
                    "{what}: no tick with value {value}; output:\n{}",
                    self.program.output()
                )
            },
            || (self.tick().1 == value).then_some(()),
        );
    }

    /// Sets `config.VALUE` on disk, reloads `config` with `swapscope attach --reload` and waits
    /// for the program to use it.
    fn reload_to(&self, value: u32, what: &str) {
        write(self.dir(), "config.py", &format!("VALUE = {value}"));
        self.program.reload(None, "config").assert_applied(what);
        self.wait_value(&value.to_string(), what);
    }
}

// ---------------------------------------------------------------------------------------------
// Raw sockets

/// A raw TCP connection to an agent, before any handshake (reads time out after `SOON`).
fn raw(port: u16) -> (TcpStream, BufReader<TcpStream>) {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the agent");
    stream.set_read_timeout(Some(SOON)).expect("read timeout");
    stream.set_write_timeout(Some(SOON)).expect("write timeout");
    let reader = BufReader::new(stream.try_clone().expect("clone stream"));
    (stream, reader)
}

/// Reads the agent's first line and returns its challenge (checking the line's shape).
fn read_offer(reader: &mut BufReader<TcpStream>) -> String {
    let line = wire::read_line(reader, wire::MAX_HANDSHAKE_LINE)
        .expect("the agent's offer")
        .expect("the agent closed before its offer");
    let offer: serde_json::Value = serde_json::from_str(&line).expect("the offer is JSON");
    assert_eq!(offer["swapscope"], wire::PROTOCOL, "{line}");
    let challenge = offer["challenge"].as_str().expect("a challenge").to_owned();
    assert!(
        challenge.len() == 64 && challenge.bytes().all(|b| b.is_ascii_hexdigit()),
        "{line}"
    );
    challenge
}

/// Reads lines until the agent ends the connection (EOF or reset); returns them and how long it
/// took. Panics when the connection is still open after `limit`.
fn read_until_closed(
    reader: &mut BufReader<TcpStream>,
    limit: Duration,
) -> (Vec<String>, Duration) {
    let start = Instant::now();
    reader
        .get_ref()
        .set_read_timeout(Some(limit))
        .expect("read timeout");
    let mut lines = Vec::new();
    loop {
        match wire::read_line(reader, 1 << 20) {
            Ok(Some(line)) => lines.push(line),
            Ok(None) | Err(WireError::Closed) => break,
            Err(WireError::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!("the agent kept the connection open for {limit:?}; it sent {lines:?}")
            }
            Err(e) => panic!("reading from the agent: {e}; it sent {lines:?}"),
        }
    }
    (lines, start.elapsed())
}

/// No line is the agent's hello: the client was never let in.
fn assert_not_let_in(lines: &[String], what: &str) {
    assert!(
        lines.iter().all(|l| !l.contains("\"hello\"")),
        "{what}: the agent let the client in: {lines:?}"
    );
}

/// The lines are exactly one refusal, whose reason contains `reason`.
fn assert_refusal(lines: &[String], reason: &str, what: &str) {
    assert_eq!(lines.len(), 1, "{what}: one refusal expected: {lines:?}");
    let refusal: serde_json::Value = serde_json::from_str(&lines[0]).expect("a JSON refusal");
    let why = refusal["refused"].as_str().unwrap_or_default();
    assert!(why.contains(reason), "{what}: {lines:?}");
}

/// The sockets in /proc/net/FILE: (local address, local port, remote port, state), hex
/// address and state as the kernel prints them.
fn sockets(file: &str) -> Vec<(String, u16, u16, String)> {
    let text = std::fs::read_to_string(format!("/proc/net/{file}")).expect("read /proc/net");
    let port = |addr: &str| -> Option<(String, u16)> {
        let (host, port) = addr.rsplit_once(':')?;
        Some((host.to_owned(), u16::from_str_radix(port, 16).ok()?))
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (addr, local) = port(fields.get(1)?)?;
            let (_, remote) = port(fields.get(2)?)?;
            Some((addr, local, remote, (*fields.get(3)?).to_owned()))
        })
        .collect()
}

/// The state of the agent's side of the connection from our local port `client` to the agent's
/// `port` (`"01"` established), `None` once the socket is gone.
fn agent_side_state(port: u16, client: u16) -> Option<String> {
    sockets("tcp")
        .into_iter()
        .find(|(_, local, remote, _)| *local == port && *remote == client)
        .map(|(.., state)| state)
}

/// The resident memory of process `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb * 1024
}

// ---------------------------------------------------------------------------------------------
// The library client

fn connect(agent: &AgentFile) -> Remote {
    client::connect(agent, None).expect("connect with swapscope::attach::connect")
}

/// The events up to and including `Replayed`.
fn replay(remote: &Remote) -> Vec<Event> {
    let mut events = Vec::new();
    loop {
        match remote.events.recv_timeout(SOON) {
            Ok(Event::Replayed) => return events,
            Ok(Event::Disconnected(why)) => panic!("disconnected during the replay: {why}"),
            Ok(e) => events.push(e),
            Err(e) => panic!("no Replayed within {SOON:?} ({e}); events: {events:?}"),
        }
    }
}

/// The next event `pick` takes (others are skipped); panics on a disconnection or after
/// `limit`.
fn next_event<T>(
    remote: &Remote,
    limit: Duration,
    what: &str,
    mut pick: impl FnMut(Event) -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match remote
            .events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok(Event::Disconnected(why)) => panic!("{what}: disconnected: {why}"),
            Ok(e) => {
                if let Some(v) = pick(e) {
                    return v;
                }
            }
            Err(e) => panic!("{what}: not within {limit:?} ({e})"),
        }
    }
}

/// The next report of a reload of `module`.
fn finished(remote: &Remote, module: &str, limit: Duration) -> ReloadReport {
    next_event(
        remote,
        limit,
        &format!("the report of {module}"),
        |e| match e {
            Event::ReloadFinished(r) if r.module == module => Some(r),
            _ => None,
        },
    )
}

fn reload_command(module: &str) -> Command {
    Command::Reload {
        module: ModuleName(module.to_owned()),
        overrides: Overrides::default(),
        dry_run: false,
        replace_incompatible: false,
    }
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

// ---------------------------------------------------------------------------------------------
// Security

/// A client that answers the challenge with a wrong HMAC (a real client holding another token,
/// and a hand-made answer) is refused with "wrong token" and closed; the agent goes on serving.
#[test]
fn wrong_hmac_is_refused_and_the_agent_keeps_serving() {
    let t = Ticker::start();
    let other = Token::generate().expect("token");
    match wire::connect(t.agent.port, &other) {
        Err(WireError::Refused(why)) => assert!(why.contains("wrong token"), "{why}"),
        other => panic!("a client with another token was not refused: {other:?}"),
    }

    let (mut stream, mut reader) = raw(t.agent.port);
    read_offer(&mut reader);
    let answer = format!(
        "{{\"response\":\"{}\",\"challenge\":\"{}\"}}\n",
        "ab".repeat(32),
        "cd".repeat(32)
    );
    stream
        .write_all(answer.as_bytes())
        .expect("send the answer");
    let (lines, took) = read_until_closed(&mut reader, SOON);
    assert_refusal(&lines, "wrong token", "a made-up HMAC");
    assert!(took < QUICK, "the refusal took {took:?}");

    t.reload_to(2, "after two wrong HMACs");
}

/// An HTTP request (a browser, a DNS-rebinding page, curl) fails on its first line: the
/// connection is closed at once, never let in, and the agent goes on serving.
#[test]
fn http_request_is_refused_on_its_first_line() {
    let t = Ticker::start();
    let (mut stream, mut reader) = raw(t.agent.port);
    // An HTTP client speaks first, without reading.
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n")
        .expect("send the request");
    let (lines, took) = read_until_closed(&mut reader, SOON);
    assert_not_let_in(&lines, "an HTTP request");
    assert!(
        took < QUICK,
        "the HTTP request was answered by the handshake timeout, not its first line ({took:?})"
    );
    if let Some(last) = lines.get(1) {
        assert!(last.contains("refused"), "{lines:?}");
    }

    t.reload_to(2, "after an HTTP request");
}

/// A first line of 1 MB without a newline is cut off at the handshake's cap: the connection is
/// closed at once (the agent does not read the megabyte, nor wait for its end) and the agent goes
/// on serving.
#[test]
fn oversized_first_line_is_closed_at_once() {
    let t = Ticker::start();
    let (stream, mut reader) = raw(t.agent.port);
    let mut out = stream.try_clone().expect("clone stream");
    let writer = std::thread::spawn(move || {
        // Fails once the agent has closed the connection: that is the point.
        out.write_all(&vec![b'A'; 1 << 20]).ok();
    });
    let (lines, took) = read_until_closed(&mut reader, SOON);
    assert_not_let_in(&lines, "an oversized first line");
    assert!(
        took < QUICK,
        "the oversized line was ended by the handshake timeout, not the cap ({took:?})"
    );
    assert!(
        lines.len() <= 2,
        "only the offer and a refusal may come: {lines:?}"
    );
    drop(stream);
    writer.join().expect("writer thread");

    t.reload_to(2, "after an oversized line");
}

/// Without the token's HMAC there is no way in: a client that says nothing is closed after the
/// handshake timeout (and holds up nobody meanwhile), and answers without a valid response
/// (`{}`, a challenge alone, an empty response, `null`) are refused at once.
#[test]
fn no_token_is_refused() {
    let t = Ticker::start();
    let (silent, mut silent_reader) = raw(t.agent.port);
    read_offer(&mut silent_reader);
    let silent_since = Instant::now();
    let silent_thread = std::thread::spawn(move || {
        let (lines, _) = read_until_closed(&mut silent_reader, wire::HANDSHAKE_TIMEOUT + SOON);
        (lines, silent_since.elapsed())
    });

    // The silent connection waits for its handshake: others are served meanwhile.
    t.reload_to(2, "while a silent client holds its handshake");
    assert!(
        !silent_thread.is_finished(),
        "the silent client was closed early"
    );

    let challenge = "ef".repeat(32);
    for answer in [
        "{}".to_owned(),
        format!("{{\"challenge\":\"{challenge}\"}}"),
        format!("{{\"response\":\"\",\"challenge\":\"{challenge}\"}}"),
        "null".to_owned(),
    ] {
        let (mut stream, mut reader) = raw(t.agent.port);
        read_offer(&mut reader);
        stream
            .write_all(format!("{answer}\n").as_bytes())
            .expect("send the answer");
        let (lines, took) = read_until_closed(&mut reader, SOON);
        assert_refusal(&lines, "", &answer);
        assert!(took < QUICK, "{answer}: the refusal took {took:?}");
    }

    let (lines, took) = silent_thread.join().expect("silent reader");
    assert_refusal(&lines, "no handshake", "a silent client");
    assert!(
        took + Duration::from_millis(500) >= wire::HANDSHAKE_TIMEOUT,
        "the silent client was closed before the handshake timeout ({took:?})"
    );
    drop(silent);
}

/// The agent makes its folder 0700 and its file 0600 even under `umask 000`, both ours; the
/// token (in that file) is on no process's command line, not even while a client runs.
#[test]
fn agent_file_is_private_and_the_token_is_on_no_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "prog.py", TICKER);
    write(dir.path(), "config.py", "VALUE = 1");
    write(dir.path(), "slow.py", SLOW);
    let agents = tempfile::tempdir().expect("temp dir");
    let owner = std::fs::metadata(agents.path()).expect("stat").uid();
    // Not there yet: the agent makes it.
    let folder = agents.path().join("agents");
    let mut cmd = Process::new("sh");
    cmd.arg("-c")
        .arg(r#"umask 000; exec "$0" -m swapscope prog.py"#)
        .arg(python());
    let mut program = Program::spawn_with_agent_path(cmd, agents, folder.clone(), dir.path());
    let agent = program.wait_agents(1, LIMIT).remove(0);
    assert_eq!(agent.pid, program.pid());
    program.wait_output("tick 1 value 1\n", LIMIT);

    let meta = std::fs::symlink_metadata(&folder).expect("stat the folder");
    assert!(meta.is_dir());
    assert_eq!(meta.mode() & 0o7777, 0o700, "the agent folder's mode");
    assert_eq!(meta.uid(), owner);
    let file = program.agent_file_path(agent.pid);
    let meta = std::fs::symlink_metadata(&file).expect("stat the agent file");
    assert!(meta.is_file());
    assert_eq!(meta.mode() & 0o7777, 0o600, "the agent file's mode");
    assert_eq!(meta.uid(), owner);
    let entries: Vec<String> = std::fs::read_dir(&folder)
        .expect("list the folder")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        entries,
        [format!("agent-{}.json", agent.pid)],
        "no temp files left"
    );

    // A client holds a connection (a reload that takes 2 s) while every command line is read.
    std::fs::write(dir.path().join("slow.flag"), "").expect("flag");
    edit_slow(dir.path());
    let mut cli = program
        .attach_command(&["--reload", "slow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start attach");
    let started = poll(SOON, || {
        (count(&program.output(), "slow: body runs") == 2).then_some(())
    });
    if started.is_none() {
        cli.kill().ok();
        let out = cli.wait_with_output().expect("attach output");
        panic!(
            "the slow reload did not start within {SOON:?}; attach --reload slow said {out:?}; \
             the program:\n{}",
            program.output()
        );
    }
    let token = agent.token.to_lowercase();
    assert_eq!(token.len(), 64);
    let mut read = 0;
    let mut seen = Vec::new();
    for entry in std::fs::read_dir("/proc")
        .expect("list /proc")
        .filter_map(Result::ok)
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(pid) = name.parse::<u32>() else {
            continue;
        };
        // Processes come and go, and some are not ours to read.
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        read += 1;
        seen.push(pid);
        let text = String::from_utf8_lossy(&cmdline).to_lowercase();
        assert!(
            !text.contains(&token),
            "the token is on the command line of process {pid}: {text}"
        );
    }
    assert!(read > 2, "too few command lines read ({read})");
    for pid in [program.pid(), cli.id()] {
        assert!(
            seen.contains(&pid),
            "the command line of {pid} was not read"
        );
    }
    let out = cli.wait_with_output().expect("wait for attach");
    assert!(out.status.success(), "attach --reload slow: {out:?}");
}

/// The agent listens on 127.0.0.1 only: one listening socket on its port, in /proc/net/tcp with
/// local address 0100007F, none on IPv6.
#[test]
fn agent_listens_on_loopback_only() {
    let t = Ticker::start();
    let listening = |file| -> Vec<String> {
        sockets(file)
            .into_iter()
            .filter(|(_, port, _, state)| *port == t.agent.port && state == "0A")
            .map(|(addr, ..)| addr)
            .collect()
    };
    assert_eq!(
        listening("tcp"),
        ["0100007F"],
        "IPv4 listeners on the agent's port"
    );
    if Path::new("/proc/net/tcp6").exists() {
        assert_eq!(listening("tcp6"), Vec::<String>::new(), "IPv6 listeners");
    }
}

// ---------------------------------------------------------------------------------------------
// Several clients

/// Two library clients see the same report for a reload one of them asked for; then the asker
/// leaves while its next reload (whose module body sleeps 2 s) is under way: the other still
/// gets that report, is still served, and the program goes on.
#[test]
fn two_clients_share_reports_and_one_leaving_mid_reload_changes_nothing() {
    let t = Ticker::start();
    let a = connect(&t.agent);
    let b = connect(&t.agent);
    assert_eq!(a.hello.pid, t.agent.pid);
    replay(&a);
    replay(&b);

    write(t.dir(), "config.py", "VALUE = 2");
    a.commands.send(reload_command("config")).expect("send");
    let seen_by_a = finished(&a, "config", SOON);
    let seen_by_b = finished(&b, "config", SOON);
    assert_eq!(seen_by_a.outcome, Outcome::Applied, "{seen_by_a:?}");
    assert_eq!(seen_by_a, seen_by_b, "both clients see the same report");
    t.wait_value("2", "after the first reload");

    std::fs::write(t.dir().join("slow.flag"), "").expect("flag");
    edit_slow(t.dir());
    a.commands.send(reload_command("slow")).expect("send");
    wait_for(
        SOON,
        || format!("the slow reload did not start:\n{}", t.program.output()),
        || (count(&t.program.output(), "slow: body runs") == 2).then_some(()),
    );
    assert_eq!(
        count(&t.program.output(), "slow: body done"),
        1,
        "the slow reload is not in flight"
    );
    a.commands.send(Command::Shutdown).expect("send");
    drop(a);
    let before = t.tick().0;

    let report = finished(&b, "slow", SOON);
    assert_eq!(report.outcome, Outcome::Applied, "{report:?}");
    // The report comes over the socket, the program's line through its stdout pipe: the line
    // may be read a moment later (it was once, under nextest on a loaded machine).
    wait_for(
        SOON,
        || format!("the slow body did not finish:\n{}", t.program.output()),
        || (count(&t.program.output(), "slow: body done") == 2).then_some(()),
    );
    t.wait_tick(before + 25, "after the slow reload");
    b.commands.send(Command::ListModules).expect("send");
    let modules = next_event(&b, SOON, "the module list", |e| match e {
        Event::Modules(list) => Some(list),
        _ => None,
    });
    assert!(modules.iter().any(|m| m.name == "slow" && m.tracked));
    assert!(t.program.output().lines().all(|l| !l.contains("Traceback")));
}

/// A client that connects after reloads gets them in its replay, in order, with their sources,
/// before `Replayed`; so does one that reconnects. Live events follow the marker.
#[test]
fn late_client_gets_the_history_before_replayed() {
    let t = Ticker::start();
    t.reload_to(2, "first reload");
    t.reload_to(3, "second reload");

    for round in ["a late client", "a client reconnecting"] {
        let late = connect(&t.agent);
        let events = replay(&late);
        assert!(
            matches!(events.first(), Some(Event::Started { .. })),
            "{round}: the replay starts with Started: {events:?}"
        );
        let reports: Vec<&ReloadReport> = events
            .iter()
            .filter_map(|e| match e {
                Event::ReloadFinished(r) if r.module == "config" => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(reports.len(), 2, "{round}: {events:?}");
        assert!(reports.iter().all(|r| r.outcome == Outcome::Applied));
        assert!(
            reports[0].id < reports[1].id,
            "{round}: history out of order"
        );
        for (report, text) in reports.iter().zip(["VALUE = 2", "VALUE = 3"]) {
            let new = events.iter().find_map(|e| match e {
                Event::ReloadSources { id, new, .. } if *id == report.id => new.clone(),
                _ => None,
            });
            assert!(
                new.is_some_and(|n| n.contains(text)),
                "{round}: the sources of reload {} are missing",
                report.id
            );
        }
        // Live events come after the marker, and the history is not sent twice.
        late.commands.send(Command::ListModules).expect("send");
        let mut after = Vec::new();
        next_event(&late, SOON, "the module list", |e| {
            let done = matches!(e, Event::Modules(_));
            after.push(e);
            done.then_some(())
        });
        assert!(
            after
                .iter()
                .all(|e| !matches!(e, Event::ReloadFinished(_) | Event::Replayed)),
            "{round}: {after:?}"
        );
        late.commands.send(Command::Shutdown).ok();
    }
}

/// `tick N T`: the tick's number and the program's own monotonic clock.
const PACED: &str = r#"
    import time

    import swapscope

    import big
    import small

    i = 0
    while True:
        i += 1
        print(f"tick {i} {time.monotonic():.4f}", flush=True)
        swapscope.safepoint()
        time.sleep(0.02)
"#;

/// 600 attributes with long values (their reprs are cut at 300 characters): one `Inspect` answer
/// is some 90 KB.
const BIG: &str = r#"
    for _i in range(600):
        globals()[f"ATTRIBUTE_NUMBER_{_i:04d}"] = "x" * 400
"#;

/// 8 attributes of 100 characters: one `Inspect` answer is some 1.3 KB.
const SMALL: &str = r#"
    for _i in range(8):
        globals()[f"ATTRIBUTE_NUMBER_{_i:04d}"] = "x" * 100
"#;

/// The agent's caps on what waits for one client (crates/engine/src/agent.rs).
const CLIENT_QUEUE_LINES: u64 = 4096;
const CLIENT_QUEUE_BYTES: u64 = 64 * MB;
const MB: u64 = 1024 * 1024;

/// The last `tick N T` line: (N, T).
fn last_stamp(output: &str) -> Option<(u32, f64)> {
    output.lines().rev().find_map(|line| {
        let (n, t) = line.strip_prefix("tick ")?.split_once(' ')?;
        Some((n.parse().ok()?, t.parse().ok()?))
    })
}

/// Ticks per second between two stamps.
fn pace(from: (u32, f64), to: (u32, f64)) -> f64 {
    f64::from(to.0 - from.0) / (to.1 - from.1)
}

/// What a silent client's run measured.
struct Flood {
    /// `Attributes` answers the reading client had when the silent one was found dropped.
    answers: u64,
    /// Bytes the reading client had then.
    bytes: u64,
}

/// A client authenticates and then never reads, while another asks for the attributes of
/// `module` (`Inspect`, `window` questions in flight) and reads every answer, until the agent's
/// side of the silent connection is no longer established. Asserts that this happens, that the
/// silent client then finds the end of its stream, that meanwhile the program's loop kept at
/// least half its pace and its memory stayed within 200 MB of where it was, and that the
/// reading client and the program go on.
fn flood_a_silent_client(module: &str, window: u64) -> Flood {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "prog.py", PACED);
    write(dir.path(), "big.py", BIG);
    write(dir.path(), "small.py", SMALL);
    let mut program = Program::start(&python(), dir.path(), &[], "prog.py", &[]);
    let agent = program.wait_agents(1, LIMIT).remove(0);
    let pid = agent.pid;
    let token = agent.token().expect("the agent file's token");
    program.wait_output("tick 10 ", LIMIT);
    let stamp = || last_stamp(&program.output()).expect("a tick");

    // Baseline: the pace and the memory with nobody attached.
    let rss_before = rss(pid);
    let start = stamp();
    std::thread::sleep(Duration::from_secs(1));
    let baseline = pace(start, stamp());

    let (silent, _) = wire::connect(agent.port, &token).expect("the silent client connects");
    let silent_port = silent.local_addr().expect("local address").port();
    assert_eq!(
        agent_side_state(agent.port, silent_port).as_deref(),
        Some("01"),
        "the agent's side of the silent client's connection is not established"
    );

    let (loader, _) = wire::connect(agent.port, &token).expect("the reading client connects");
    let answers = Arc::new(AtomicU64::new(0));
    let received = Arc::new(AtomicU64::new(0));
    let loader_open = Arc::new(AtomicBool::new(true));
    let reader = {
        let stream = loader.try_clone().expect("clone");
        let (answers, received, open) = (
            Arc::clone(&answers),
            Arc::clone(&received),
            Arc::clone(&loader_open),
        );
        std::thread::spawn(move || {
            // `read_until` finds newlines with std's optimized search: this client must keep
            // up with the agent.
            let mut reader = BufReader::with_capacity(1 << 20, stream);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                received.fetch_add(line.len() as u64, Ordering::Relaxed);
                if line.starts_with(b"{\"Attributes\"") {
                    answers.fetch_add(1, Ordering::Relaxed);
                }
                line.clear();
            }
            open.store(false, Ordering::Relaxed);
        })
    };
    let inspect = Command::Inspect(ModuleName(module.into()));
    let mut out = BufWriter::new(loader.try_clone().expect("clone"));
    let mut sent = 0;
    let mut peak = rss_before;
    let load_start = stamp();
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut checked = Instant::now();
    let flood = loop {
        // Questions in flight: the worker always has the next one.
        if sent < answers.load(Ordering::Relaxed) + window {
            while sent < answers.load(Ordering::Relaxed) + window {
                serde_json::to_writer(&mut out, &inspect).expect("send Inspect");
                out.write_all(b"\n").expect("send Inspect");
                sent += 1;
            }
            out.flush().expect("send Inspect");
        }
        if checked.elapsed() > Duration::from_millis(50) {
            checked = Instant::now();
            peak = peak.max(rss(pid));
            if agent_side_state(agent.port, silent_port).is_none_or(|s| s != "01") {
                break Flood {
                    answers: answers.load(Ordering::Relaxed),
                    bytes: received.load(Ordering::Relaxed),
                };
            }
            assert!(
                Instant::now() < deadline,
                "the silent client is still connected after {} answers, {} MB",
                answers.load(Ordering::Relaxed),
                received.load(Ordering::Relaxed) / MB
            );
        }
        assert!(
            loader_open.load(Ordering::Relaxed),
            "the reading client was disconnected"
        );
        std::thread::sleep(Duration::from_millis(1));
    };
    let load_end = stamp();
    let under_load = pace(load_start, load_end);
    eprintln!(
        "{module}: the silent client was dropped after {} answers ({} MB) in {:.1} s; \
         {baseline:.1} ticks/s before, {under_load:.1} during; {} MB resident before, {} MB at most",
        flood.answers,
        flood.bytes / MB,
        load_end.1 - load_start.1,
        rss_before / MB,
        peak / MB
    );
    assert!(
        under_load >= baseline * 0.5,
        "the program's loop slowed from {baseline:.1} to {under_load:.1} ticks/s"
    );
    assert!(
        peak < rss_before + 200 * MB,
        "the program grew from {} MB to {} MB",
        rss_before / MB,
        peak / MB
    );

    // The silent client finds the end of its stream after what the kernel held for it.
    let mut silent = silent;
    silent.set_read_timeout(Some(SOON)).expect("read timeout");
    let mut buf = vec![0; 1 << 20];
    let mut got = 0u64;
    loop {
        match silent.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the silent client's connection did not end ({e}) after {got} bytes"),
        }
    }
    assert!(
        got < flood.bytes,
        "the silent client got everything ({got} bytes)"
    );

    // The reading client is still served, and the program goes on at its pace.
    wait_for(
        SOON,
        || "the reading client's questions were not all answered".to_owned(),
        || (answers.load(Ordering::Relaxed) >= sent).then_some(()),
    );
    wire::write_line(out.get_mut(), &inspect).expect("send Inspect");
    wait_for(
        SOON,
        || "the reading client is no longer answered".to_owned(),
        || (answers.load(Ordering::Relaxed) > sent).then_some(()),
    );
    let after_start = stamp();
    std::thread::sleep(Duration::from_secs(1));
    let after = pace(after_start, stamp());
    assert!(
        after >= baseline * 0.5,
        "after the drop the loop runs at {after:.1} ticks/s (baseline {baseline:.1})"
    );
    loader.shutdown(std::net::Shutdown::Both).ok();
    reader.join().expect("reader thread");
    assert!(
        program.child.try_wait().expect("wait").is_none(),
        "the program ended"
    );
    flood
}

/// Small answers (some 1.3 KB): the silent client is dropped when 4096 lines wait for it (its
/// socket's buffers hold some more), long before 64 MiB.
#[test]
fn client_that_never_reads_is_dropped_at_the_line_cap() {
    let flood = flood_a_silent_client("small", 64);
    assert!(
        flood.answers >= CLIENT_QUEUE_LINES,
        "dropped after {} answers: before its queue was full",
        flood.answers
    );
    assert!(flood.bytes < CLIENT_QUEUE_BYTES, "not the line cap");
}

/// Big answers (some 90 KB): the silent client is dropped when 64 MiB wait for it, long before
/// 4096 lines; the program's memory stays bounded.
#[test]
fn client_that_never_reads_is_dropped_at_the_byte_cap() {
    let flood = flood_a_silent_client("big", 4);
    assert!(
        flood.bytes >= CLIENT_QUEUE_BYTES,
        "dropped after {} MB: before its queue was full",
        flood.bytes / MB
    );
    assert!(flood.answers < CLIENT_QUEUE_LINES, "not the byte cap");
}

// ---------------------------------------------------------------------------------------------
// Many processes

/// A parent (plain `python`, not served) with four `multiprocessing` workers (spawn context)
/// that each call `swapscope.serve()` and print `config.VALUE`.
const PARENT: &str = r#"
    import multiprocessing
    import os
    import time


    def work(i):
        os.environ["WORKER"] = str(i)
        import swapscope

        swapscope.serve()
        import config

        while True:
            print(f"worker {i} pid {os.getpid()} value {config.VALUE}", flush=True)
            swapscope.safepoint()
            time.sleep(0.05)


    if __name__ == "__main__":
        ctx = multiprocessing.get_context("spawn")
        workers = [ctx.Process(target=work, args=(i,)) for i in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
"#;

/// Per worker pid: (worker number, values printed in order).
fn worker_lines(output: &str) -> BTreeMap<u32, (u32, Vec<String>)> {
    let mut workers: BTreeMap<u32, (u32, Vec<String>)> = BTreeMap::new();
    for line in output.lines() {
        let Some(rest) = line.strip_prefix("worker ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split(' ').collect();
        if let [n, "pid", pid, "value", value] = fields[..]
            && let (Ok(n), Ok(pid)) = (n.parse(), pid.parse())
        {
            workers
                .entry(pid)
                .or_insert_with(|| (n, Vec::new()))
                .1
                .push(value.to_owned());
        }
    }
    workers
}

/// The parent pid of process `pid`.
fn parent_of(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    // After the command name in parentheses: state, then the parent pid.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
        .and_then(|p| p.parse().ok())
        .expect("ppid")
}

/// Runs `swapscope attach --pid P --reload config` for every pid at once; the results by pid.
fn reload_all(program: &Program, pids: &[u32]) -> BTreeMap<u32, common::attach::Reloaded> {
    let children: Vec<(u32, std::process::Child)> = pids
        .iter()
        .map(|&pid| {
            let child = program
                .attach_command(&["--pid", &pid.to_string(), "--reload", "config"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start attach");
            (pid, child)
        })
        .collect();
    children
        .into_iter()
        .map(|(pid, child)| {
            let out = child.wait_with_output().expect("wait for attach");
            (pid, common::attach::Reloaded::from(out))
        })
        .collect()
}

/// Four worker processes of one program: `attach --list` shows the four (the parent does not
/// serve), a reload in each reaches each, and when the same reload fails in one of them (its
/// module body raises there) the other three take it and the failing one keeps its old value
/// and runs on.
#[test]
fn four_workers_are_listed_and_reloaded_and_one_failing_changes_nothing_in_the_others() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "parent.py", PARENT);
    write(dir.path(), "config.py", "VALUE = 1");
    let mut program = Program::start_plain(&python(), dir.path(), "parent.py", &[]);
    let agents = program.wait_agents(4, LIMIT);
    assert_eq!(agents.len(), 4, "{agents:?}");
    let pids: Vec<u32> = agents.iter().map(|a| a.pid).collect();
    let script = dir.path().join("parent.py");
    for a in &agents {
        assert_eq!(parent_of(a.pid), program.pid(), "{} is not a worker", a.pid);
        assert_eq!(Path::new(&a.script), script, "workers share the script");
    }

    let list = program.attach(&["--list"]);
    assert!(list.status.success(), "{list:?}");
    let listed: Vec<u32> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(|l| {
            assert!(l.ends_with(&script.display().to_string()), "{l}");
            l.split('\t')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("a pid")
        })
        .collect();
    assert_eq!(listed, pids, "attach --list");

    let printed = || worker_lines(&program.output());
    let all_print = |value: &str, which: &[u32]| {
        wait_for(
            SOON,
            || format!("not every worker prints {value}:\n{:?}", printed()),
            || {
                let now = printed();
                which
                    .iter()
                    .all(|pid| {
                        now.get(pid)
                            .is_some_and(|(_, v)| v.last().is_some_and(|l| l == value))
                    })
                    .then_some(())
            },
        );
    };
    all_print("1", &pids);

    write(dir.path(), "config.py", "VALUE = 2");
    for (pid, result) in reload_all(&program, &pids) {
        result.assert_applied(&format!("worker pid {pid}"));
    }
    all_print("2", &pids);

    // The same new source fails in worker 2 only.
    write(
        dir.path(),
        "config.py",
        r#"
        import os

        if os.environ["WORKER"] == "2":
            raise RuntimeError("config refuses worker 2")
        VALUE = 3
        "#,
    );
    let failing = *printed()
        .iter()
        .find(|(_, (n, _))| *n == 2)
        .map(|(pid, _)| pid)
        .expect("worker 2's lines");
    let results = reload_all(&program, &pids);
    for (pid, result) in &results {
        if *pid == failing {
            assert_eq!(result.code, Some(1), "{result:?}");
            assert_eq!(result.outcome(), "rolled_back", "{result:?}");
            assert!(
                result.stdout.contains("config refuses worker 2"),
                "{result:?}"
            );
        } else {
            result.assert_applied(&format!("worker pid {pid}"));
        }
    }
    let others: Vec<u32> = pids.iter().copied().filter(|p| *p != failing).collect();
    all_print("3", &others);
    let lines_then = printed()[&failing].1.len();
    wait_for(
        SOON,
        || format!("the failing worker stopped printing:\n{:?}", printed()),
        || (printed()[&failing].1.len() >= lines_then + 10).then_some(()),
    );
    let now = printed();
    assert!(
        now[&failing].1.iter().all(|v| v != "3"),
        "the failing worker took the new value"
    );
    assert_eq!(now[&failing].1.last().map(String::as_str), Some("2"));
    for pid in &pids {
        assert!(
            swapscope::protocol::agents::alive(*pid),
            "worker {pid} is gone"
        );
    }
    assert_eq!(program.agent_files().len(), 4);
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

/// Waits for the file `go`, then ends the way its argument says (or never, for `wait`).
const LIFE: &str = r#"
    import os
    import sys
    import time

    import swapscope

    import slow

    how = sys.argv[1]
    print("ready", flush=True)
    while how == "wait" or not os.path.exists("go"):
        swapscope.safepoint()
        time.sleep(0.02)
    if how == "exit":
        sys.exit(3)
    if how == "raise":
        raise RuntimeError("the script fails on purpose")
    if how == "os_exit":
        os._exit(5)
    print("returning", flush=True)
"#;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Return,
    SysExit,
    Raise,
    OsExit,
    Kill,
    KillDuringReload,
}

/// The program ends in the way `end` says while a library client is connected (and, for
/// `KillDuringReload`, while `swapscope attach --reload` waits for a reload whose module body
/// sleeps): the client gets `Disconnected` promptly, the CLI exits 3 with a message, the
/// program's exit status is the script's, and the agent file is removed (clean ends) or
/// ignored by `attach --list` (killed).
fn lifecycle(end: End) {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "life.py", LIFE);
    write(dir.path(), "slow.py", SLOW);
    let how = match end {
        End::Return => "return",
        End::SysExit => "exit",
        End::Raise => "raise",
        End::OsExit => "os_exit",
        End::Kill | End::KillDuringReload => "wait",
    };
    let mut program = Program::start(&python(), dir.path(), &[], "life.py", &[how]);
    let agent = program.wait_agents(1, LIMIT).remove(0);
    let pid = agent.pid;
    program.wait_output("ready", LIMIT);
    let remote = connect(&agent);
    replay(&remote);

    let mut cli = None;
    match end {
        End::Kill => program.child.kill().expect("kill"),
        End::KillDuringReload => {
            std::fs::write(dir.path().join("slow.flag"), "").expect("flag");
            edit_slow(dir.path());
            cli = Some(
                program
                    .attach_command(&["--reload", "slow"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("start attach"),
            );
            wait_for(
                SOON,
                || format!("the slow reload did not start:\n{}", program.output()),
                || (count(&program.output(), "slow: body runs") == 2).then_some(()),
            );
            program.child.kill().expect("kill");
        }
        _ => std::fs::write(dir.path().join("go"), "").expect("go"),
    }
    let started = Instant::now();
    let mut seen = Vec::new();
    let why = loop {
        match remote.events.recv_timeout(SOON) {
            Ok(Event::Disconnected(why)) => break why,
            Ok(e) => seen.push(e),
            Err(e) => panic!(
                "{end:?}: no Disconnected within {SOON:?} ({e}); events: {seen:?}\n{}",
                program.output()
            ),
        }
    };
    assert!(started.elapsed() < SOON, "{end:?}: {:?}", started.elapsed());
    assert!(!why.is_empty());
    let status = program.wait(SOON);
    let exited = seen.iter().find_map(|e| match e {
        Event::ScriptExited { code } => Some(*code),
        _ => None,
    });

    let file = program.agent_file_path(pid);
    let clean = match end {
        End::Return | End::SysExit | End::Raise => {
            let code = match end {
                End::Return => 0,
                End::SysExit => 3,
                _ => 1,
            };
            assert_eq!(status.code(), Some(code), "{end:?}: exit status");
            assert_eq!(
                exited,
                Some(code),
                "{end:?}: the client is told the exit code"
            );
            assert!(!file.exists(), "{end:?}: the agent file was left behind");
            true
        }
        End::OsExit => {
            assert_eq!(status.code(), Some(5), "{end:?}: exit status");
            false
        }
        End::Kill | End::KillDuringReload => {
            assert_eq!(status.signal(), Some(9), "{end:?}: exit status");
            false
        }
    };
    match end {
        End::Return => assert!(program.output().contains("returning")),
        End::Raise => assert!(
            program
                .output()
                .contains("RuntimeError: the script fails on purpose"),
            "the traceback is printed:\n{}",
            program.output()
        ),
        _ => {}
    }
    if !clean {
        // Nothing could remove it; listing skips it (and clears it away).
        assert!(
            file.exists(),
            "{end:?}: the stale file is gone before listing"
        );
        let list = program.attach(&["--list"]);
        assert!(list.status.success(), "{list:?}");
        let listed = String::from_utf8_lossy(&list.stdout).into_owned();
        assert!(
            listed.lines().all(|l| !l.starts_with(&format!("{pid}\t"))),
            "{end:?}: the dead pid is listed: {listed}"
        );
        assert!(!file.exists(), "{end:?}: the stale file was kept");
    }

    if let Some(mut cli) = cli {
        let status = wait_for(
            SOON,
            || "attach --reload hangs after the program died".to_owned(),
            || cli.try_wait().expect("wait"),
        );
        let mut stderr = String::new();
        cli.stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut stderr)
            .expect("read stderr");
        assert_eq!(status.code(), Some(3), "attach --reload: {stderr}");
        assert!(
            stderr.contains("swapscope:") && stderr.contains("connection"),
            "attach --reload says why: {stderr}"
        );
    }
}

#[test]
fn lifecycle_normal_return() {
    lifecycle(End::Return);
}

#[test]
fn lifecycle_sys_exit() {
    lifecycle(End::SysExit);
}

#[test]
fn lifecycle_uncaught_exception() {
    lifecycle(End::Raise);
}

#[test]
fn lifecycle_os_exit() {
    lifecycle(End::OsExit);
}

#[test]
fn lifecycle_sigkill() {
    lifecycle(End::Kill);
}

#[test]
fn lifecycle_sigkill_during_reload() {
    lifecycle(End::KillDuringReload);
}

// ---------------------------------------------------------------------------------------------
// Environments

/// A tracked module defining an `attrs` class.
const SHAPES: &str = r#"
    import attrs


    @attrs.define
    class Point:
        x: int
        y: int

        def describe(self):
            return f"{self.x} v1"
"#;

const SHAPES_PROG: &str = r#"
    import json
    import sys
    import time

    import attrs

    import swapscope

    import shapes

    facts = {"prefix": sys.prefix, "attrs": attrs.__file__, "path": sys.path}
    print("facts " + json.dumps(facts), flush=True)
    p = shapes.Point(0, 10)
    while True:
        p.x += 1
        print(f"shape {p.describe()} same-class {type(p) is shapes.Point}", flush=True)
        swapscope.safepoint()
        time.sleep(0.02)
"#;

/// A fresh venv with `attrs` from the registry: the program sees the venv's `sys.prefix`,
/// `sys.path` and `attrs`, and a module defining an `attrs` class reloads in place (the live
/// instance takes the new method and keeps its fields).
#[test]
fn venv_with_a_registry_package_reloads_and_uses_the_venvs_paths() {
    let python = match attrs_venv() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let venv_dir = python
        .parent()
        .and_then(Path::parent)
        .expect("venv folder")
        .canonicalize()
        .expect("canonical venv folder");
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "shapes.py", SHAPES);
    write(dir.path(), "prog.py", SHAPES_PROG);
    let mut program = Program::start(&python, dir.path(), &[], "prog.py", &[]);
    program.wait_agents(1, LIMIT);
    program.wait_output("same-class True", LIMIT);

    let output = program.output();
    let facts: serde_json::Value = output
        .lines()
        .find_map(|l| l.strip_prefix("facts "))
        .and_then(|f| serde_json::from_str(f).ok())
        .expect("the facts line");
    let canonical = |p: &serde_json::Value| -> PathBuf {
        let p = PathBuf::from(p.as_str().expect("a path"));
        p.canonicalize().unwrap_or(p)
    };
    assert_eq!(canonical(&facts["prefix"]), venv_dir, "sys.prefix: {facts}");
    let attrs_file = canonical(&facts["attrs"]);
    assert!(
        attrs_file.starts_with(&venv_dir)
            && attrs_file
                .components()
                .any(|c| c.as_os_str() == "site-packages"),
        "attrs comes from elsewhere: {}",
        attrs_file.display()
    );
    let path: Vec<PathBuf> = facts["path"]
        .as_array()
        .expect("sys.path")
        .iter()
        .map(canonical)
        .collect();
    assert!(
        path.iter()
            .any(|p| p.starts_with(&venv_dir) && p.ends_with("site-packages")),
        "no site-packages of the venv on sys.path: {path:?}"
    );
    assert!(
        path.iter()
            .filter(|p| p.ends_with("site-packages"))
            .all(|p| p.starts_with(&venv_dir)),
        "another site-packages on sys.path: {path:?}"
    );
    assert_eq!(path.first(), Some(&dir.path().canonicalize().expect("dir")));

    let last_x = |output: &str, version: &str| -> Option<u32> {
        output.lines().rev().find_map(|l| {
            let rest = l.strip_prefix("shape ")?;
            let (x, rest) = rest.split_once(' ')?;
            rest.starts_with(version).then(|| x.parse().ok())?
        })
    };
    let before = last_x(&program.output(), "v1").expect("a v1 line");
    let source = common::dedent(SHAPES).replace(
        "return f\"{self.x} v1\"",
        "return f\"{self.x} v2 y={self.y}\"",
    );
    std::fs::write(dir.path().join("shapes.py"), source).expect("write shapes");
    program.reload(None, "shapes").assert_applied("shapes");
    program.wait_output(" v2 y=10 same-class True", SOON);
    let after = last_x(&program.output(), "v2").expect("a v2 line");
    assert!(
        after > before,
        "the instance restarted: {before} then {after}"
    );
    assert!(
        !program.output().contains("same-class False"),
        "the class was replaced, not updated in place"
    );
}

/// A program that starts itself (`python prog.py`) and calls `swapscope.serve()` twice: both
/// calls return the port of its one agent, `attach --reload` works, and the agent file is
/// removed when the program ends.
#[test]
fn serve_in_a_program_that_starts_itself() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "prog.py",
        r#"
        import os
        import time

        import config
        import swapscope

        first = swapscope.serve()
        second = swapscope.serve()
        print(f"ports {first} {second}", flush=True)
        i = 0
        while not os.path.exists("stop"):
            i += 1
            print(f"tick {i} value {config.VALUE}", flush=True)
            swapscope.safepoint()
            time.sleep(0.02)
        print("bye", flush=True)
        "#,
    );
    write(dir.path(), "config.py", "VALUE = 1");
    let mut program = Program::start_plain(&python(), dir.path(), "prog.py", &[]);
    let agent = program.wait_agents(1, LIMIT).remove(0);
    assert_eq!(agent.pid, program.pid());
    assert_eq!(Path::new(&agent.script), dir.path().join("prog.py"));
    program.wait_output("tick 1 value 1\n", LIMIT);
    let ports = program
        .output()
        .lines()
        .find_map(|l| l.strip_prefix("ports ").map(str::to_owned))
        .expect("the ports line");
    assert_eq!(
        ports,
        format!("{0} {0}", agent.port),
        "serve() twice gives the agent's one port"
    );
    assert_eq!(program.agent_files().len(), 1);

    write(dir.path(), "config.py", "VALUE = 2");
    program.reload(None, "config").assert_applied("config");
    wait_for(
        SOON,
        || format!("no tick with value 2:\n{}", program.output()),
        || (last_tick(&program.output())?.1 == "2").then_some(()),
    );

    std::fs::write(dir.path().join("stop"), "").expect("stop");
    let status = program.wait(SOON);
    assert_eq!(status.code(), Some(0), "{}", program.output());
    assert!(program.output().contains("bye"));
    assert!(
        !program.agent_file_path(agent.pid).exists(),
        "the agent file was left behind"
    );
}

/// A child forked by the program (`os.fork()`, a fork-context pool) inherits the agent's state
/// but not its threads: the child ending through `python -m swapscope`, and a child calling
/// `serve()` for an agent of its own, leave the parent's agent file, its connected client and
/// its reloads alone.
#[test]
fn forked_children_leave_the_parents_agent_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "prog.py",
        r#"
        import os
        import sys
        import time

        import config
        import swapscope

        def child(serve):
            if serve:
                swapscope.serve()
                print(f"child {os.getpid()} serves", flush=True)
                time.sleep(0.5)
            sys.exit(0)

        i = 0
        children = 0
        while not os.path.exists("stop"):
            i += 1
            print(f"tick {i} value {config.VALUE}", flush=True)
            swapscope.safepoint()
            if os.path.exists("fork") and children < 2:
                children += 1
                pid = os.fork()
                if pid == 0:
                    child(serve=children == 2)
                os.waitpid(pid, 0)
                print(f"child {children} done", flush=True)
            time.sleep(0.02)
        "#,
    );
    write(dir.path(), "config.py", "VALUE = 1");
    let mut program = Program::start(&python(), dir.path(), &[], "prog.py", &[]);
    let agent = program.wait_agents(1, LIMIT).remove(0);
    program.wait_output("tick 1 value 1\n", LIMIT);
    let client = swapscope::attach::connect(&agent, None).expect("connect");

    std::fs::write(dir.path().join("fork"), "").expect("fork");
    program.wait_output("child 2 done", LIMIT);
    assert!(
        program.output().contains(" serves"),
        "the second child served: {}",
        program.output()
    );

    assert!(
        program.agent_file_path(agent.pid).exists(),
        "a child removed the parent's agent file"
    );
    write(dir.path(), "config.py", "VALUE = 2");
    program
        .reload(Some(agent.pid), "config")
        .assert_applied("config");
    let deadline = std::time::Instant::now() + SOON;
    let mut saw_report = false;
    while std::time::Instant::now() < deadline && !saw_report {
        match client.events.recv_timeout(Duration::from_millis(200)) {
            Ok(swapscope::protocol::Event::ReloadFinished(r)) => saw_report = r.module == "config",
            Ok(swapscope::protocol::Event::Disconnected(why)) => {
                panic!("a child cut the parent's client off: {why}")
            }
            _ => {}
        }
    }
    assert!(
        saw_report,
        "the client connected before the forks saw the reload"
    );
    wait_for(
        SOON,
        || format!("no tick with value 2:\n{}", program.output()),
        || (last_tick(&program.output())?.1 == "2").then_some(()),
    );
    std::fs::write(dir.path().join("stop"), "").expect("stop");
    assert_eq!(program.wait(SOON).code(), Some(0), "{}", program.output());
}
