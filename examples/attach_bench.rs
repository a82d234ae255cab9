//! Attach-mode figures: attach time, save → applied latency through the socket, the agent's idle
//! CPU and memory.
//!
//! ```text
//! cargo run --example attach_bench -- PYTHON
//! ```
//! PYTHON is a venv's interpreter with the swapscope wheel installed (the README builds one with
//! `maturin build --release`). The bench writes a small game loop (a safe point every
//! millisecond) and a module into a temp folder, runs it under `PYTHON -m swapscope --auto`,
//! and measures from this process, as the window would:
//! - attach: connect + authenticate, and until the program's state has arrived (`Replayed`);
//! - 100 saves of the module, alternating a plain write and an atomic rename, each from the
//!   write returning to its report arriving over the socket (p50/p99/max);
//! - idle: CPU time and resident memory of the program over 10 s with a client attached,
//!   against the same loop run by plain `PYTHON prog.py` (swapscope imported, no agent).
//!
//! Prints a Markdown table.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "figures: float arithmetic on small counts"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use swapscope::attach;
use swapscope::protocol::{Event, Outcome};

const SAVES: usize = 100;
const IDLE: Duration = Duration::from_secs(10);

const PROGRAM: &str = r"
import time
import swapscope
import bench_mod

while True:
    swapscope.safepoint()
    bench_mod.tick(1)
    time.sleep(0.001)
";

fn module(version: usize) -> String {
    format!("VERSION = {version}\n\n\ndef tick(x):\n    return x + {version}\n")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let python =
        std::path::absolute(PathBuf::from(std::env::args().nth(1).ok_or(
            "usage: attach_bench PYTHON (a venv's python with the wheel installed)",
        )?))?;
    let dir = tempfile::tempdir()?;
    let agents = tempfile::tempdir()?;
    std::fs::set_permissions(
        agents.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )?;
    // The children get the agent folder in their environment; this process reads the agent's
    // file itself (no global environment change).
    let prog = dir.path().join("prog.py");
    std::fs::write(&prog, PROGRAM)?;
    let module_path = dir.path().join("bench_mod.py");
    std::fs::write(&module_path, module(0))?;

    let mut child = spawn(
        &python,
        &["-m", "swapscope", "--auto"],
        &prog,
        agents.path(),
    )?;
    let agent = wait_agent(agents.path(), child.id(), Duration::from_secs(30))?;

    let start = Instant::now();
    let remote = attach::connect(&agent, None)?;
    let connected = start.elapsed();
    loop {
        match remote.events.recv_timeout(Duration::from_secs(10))? {
            Event::Replayed => break,
            Event::Disconnected(why) => return Err(why.into()),
            _ => {}
        }
    }
    let state = start.elapsed();

    let mut plain = Vec::new();
    let mut rename = Vec::new();
    for i in 1..=SAVES {
        // A save in the same second as the last must still be seen as new.
        std::thread::sleep(Duration::from_millis(20));
        let text = module(i);
        let t0 = if i % 2 == 0 {
            let tmp = dir.path().join(".bench_mod.py.tmp");
            std::fs::write(&tmp, &text)?;
            std::fs::rename(&tmp, &module_path)?;
            Instant::now()
        } else {
            std::fs::write(&module_path, &text)?;
            Instant::now()
        };
        let took = loop {
            match remote.events.recv_timeout(Duration::from_secs(10))? {
                Event::ReloadFinished(r) if r.module == "bench_mod" => {
                    if r.outcome != Outcome::Applied {
                        return Err(format!("save {i} was not applied: {:?}", r.error).into());
                    }
                    if r.changes
                        .iter()
                        .any(|c| c.name == "VERSION" && c.new == i.to_string())
                    {
                        break t0.elapsed();
                    }
                }
                Event::Disconnected(why) => return Err(why.into()),
                _ => {}
            }
        };
        if i % 2 == 0 { &mut rename } else { &mut plain }.push(took);
    }

    let with_agent = idle(child.id())?;
    child.kill().ok();
    child.wait().ok();
    let mut bare = spawn(&python, &[], &prog, agents.path())?;
    std::thread::sleep(Duration::from_secs(2));
    let without = idle(bare.id())?;
    bare.kill().ok();
    bare.wait().ok();

    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| attach: connect + authenticate | {:.2} ms |",
        ms(connected)
    );
    println!(
        "| attach: until the program's state arrived | {:.2} ms |",
        ms(state)
    );
    for (name, mut v) in [("plain write", plain), ("atomic rename", rename)] {
        v.sort();
        let p = |q: f64| {
            let i = ((v.len() as f64 - 1.0) * q).round() as usize;
            ms(v[i])
        };
        println!(
            "| save → report at the client, {name} (n={}) | p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms |",
            v.len(),
            p(0.5),
            p(0.99),
            ms(v[v.len() - 1])
        );
    }
    println!(
        "| idle CPU over {} s, client attached (plain python: same loop) | {:.2}% ({:.2}%) |",
        IDLE.as_secs(),
        with_agent.cpu_percent,
        without.cpu_percent
    );
    println!(
        "| resident memory (plain python: same loop) | {:.1} MiB ({:.1} MiB) |",
        with_agent.rss_mib, without.rss_mib
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn spawn(python: &Path, args: &[&str], prog: &Path, agents: &Path) -> std::io::Result<Child> {
    Command::new(python)
        .args(args)
        .arg(prog)
        .current_dir(prog.parent().unwrap_or(Path::new(".")))
        .env("SWAPSCOPE_AGENT_DIR", agents)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
}

fn wait_agent(
    agents: &Path,
    pid: u32,
    limit: Duration,
) -> Result<swapscope::protocol::agents::AgentFile, Box<dyn std::error::Error>> {
    let deadline = Instant::now() + limit;
    let file = agents.join(format!("agent-{pid}.json"));
    loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            return Ok(serde_json::from_str(&text)?);
        }
        if Instant::now() > deadline {
            return Err(format!("no agent file {} within {limit:?}", file.display()).into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

struct Idle {
    cpu_percent: f64,
    rss_mib: f64,
}

/// CPU share and resident memory of `pid` over `IDLE`.
fn idle(pid: u32) -> Result<Idle, Box<dyn std::error::Error>> {
    let ticks = |pid: u32| -> Result<u64, Box<dyn std::error::Error>> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        let after = stat.rsplit_once(')').ok_or("odd /proc stat")?.1;
        let f: Vec<&str> = after.split_whitespace().collect();
        Ok(f[11].parse::<u64>()? + f[12].parse::<u64>()?)
    };
    let t0 = ticks(pid)?;
    let start = Instant::now();
    std::thread::sleep(IDLE);
    let used = ticks(pid)? - t0;
    // Clock ticks are 1/100 s on Linux.
    let cpu_percent = used as f64 / 100.0 / start.elapsed().as_secs_f64() * 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .ok_or("no VmRSS")?
        .parse()?;
    Ok(Idle {
        cpu_percent,
        rss_mib: kib / 1024.0,
    })
}
