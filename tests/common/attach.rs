//! Attach-mode harness: the abi3 wheel (built once per run with maturin), a venv per `CPython`
//! version that pyenv has, and a program started under `python -m swapscope` with its own agent
//! folder.
//!
//! The wheel and the venvs live under `target/attach-tests/`; a file lock makes parallel test
//! processes (nextest) build them once.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use swapscope::protocol::agents::AgentFile;

/// The `CPython` versions the wheel supports.
pub const VERSIONS: [&str; 5] = ["3.9", "3.10", "3.11", "3.12", "3.13"];

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cache() -> PathBuf {
    let dir = workspace().join("target").join("attach-tests");
    std::fs::create_dir_all(&dir).expect("create target/attach-tests");
    dir
}

/// Holds an exclusive lock on `target/attach-tests/NAME.lock` while `f` runs.
fn locked<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let file = File::create(cache().join(format!("{name}.lock"))).expect("lock file");
    file.lock().expect("lock");
    let out = f();
    file.unlock().ok();
    out
}

fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The wheel, built from this checkout (once per test process; the build itself is
/// incremental).
pub fn wheel() -> PathBuf {
    static WHEEL: OnceLock<PathBuf> = OnceLock::new();
    WHEEL
        .get_or_init(|| {
            locked("wheel", || {
                let out = cache().join("wheels");
                std::fs::remove_dir_all(&out).ok();
                let maturin = std::env::var_os("MATURIN").unwrap_or_else(|| "maturin".into());
                run_ok(
                    Command::new(&maturin)
                        .args(["build", "--quiet", "-m"])
                        .arg(workspace().join("crates/python/Cargo.toml"))
                        .arg("-o")
                        .arg(&out)
                        // One wheel whatever Python the test binary embeds: no rebuild per
                        // version (the wheel is abi3 and does not link libpython).
                        .env_remove("CARGO_TARGET_DIR")
                        .env_remove("PYO3_PYTHON"),
                    "building the wheel (needs maturin: `pip install maturin`)",
                );
                let wheel = std::fs::read_dir(&out)
                    .expect("wheels folder")
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .find(|p| p.extension().is_some_and(|x| x == "whl"))
                    .expect("maturin made no wheel");
                // Kept out of the folder the next build empties, for processes still using it.
                // Renamed into place: a process installing the previous wheel (under its venv's
                // lock, not this one) goes on reading the old file.
                let kept = cache().join(wheel.file_name().expect("wheel name"));
                let part = cache().join(format!("wheel-{}.part", std::process::id()));
                std::fs::copy(&wheel, &part).expect("copy wheel");
                std::fs::rename(&part, &kept).expect("rename wheel");
                kept
            })
        })
        .clone()
}

/// The interpreter of `CPython` `version` under pyenv (the highest patch release), if installed.
pub fn pyenv_python(version: &str) -> Option<PathBuf> {
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pyenv")))?;
    let mut found: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(root.join("versions"))
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let rest = name.strip_prefix(&format!("{version}."))?;
            let patch: u32 = rest.parse().ok()?;
            let python = e.path().join("bin").join(format!("python{version}"));
            python.is_file().then(|| (vec![patch], python))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p)
}

/// A venv of `version` with the wheel installed (cached under target/attach-tests); `None` when
/// pyenv does not have that version (the caller says it skipped).
pub fn venv(version: &str) -> Option<PathBuf> {
    let base = pyenv_python(version)?;
    let wheel = wheel();
    let dir = cache().join(format!("venv-{version}"));
    let python = dir.join("bin").join("python");
    locked(&format!("venv-{version}"), || {
        create_venv(&base, &dir);
        install_wheel(&dir, &wheel);
    });
    Some(python)
}

/// The interpreter for tests that are not about versions: the 3.11 venv, else the first other
/// version pyenv has (said on stderr).
pub fn python() -> PathBuf {
    for version in ["3.11", "3.12", "3.13", "3.10", "3.9"] {
        if let Some(python) = venv(version) {
            if version != "3.11" {
                eprintln!("CPython 3.11 is not installed under pyenv; using {version}");
            }
            return python;
        }
    }
    panic!("no CPython 3.9–3.13 found under pyenv");
}

/// A 3.11 venv (or the first other version pyenv has) with `attrs` installed from the package
/// registry and the wheel, cached under target/attach-tests; `Err` says why not (no such
/// Python, or pip could not install `attrs`: offline).
pub fn attrs_venv() -> Result<PathBuf, String> {
    let (version, base) = ["3.11", "3.12", "3.13", "3.10", "3.9"]
        .into_iter()
        .find_map(|v| pyenv_python(v).map(|p| (v, p)))
        .ok_or("no CPython 3.9–3.13 found under pyenv")?;
    let wheel = wheel();
    let dir = cache().join(format!("venv-{version}-attrs"));
    let python = dir.join("bin").join("python");
    locked(&format!("venv-{version}-attrs"), || {
        create_venv(&base, &dir);
        let stamp = dir.join("attrs.stamp");
        if !stamp.is_file() {
            let out = Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--timeout",
                    "20",
                    "--retries",
                    "1",
                    "attrs",
                ])
                .output()
                .map_err(|e| format!("cannot run pip: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "`pip install attrs` failed ({}), offline?\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            std::fs::write(&stamp, "").expect("stamp");
        }
        install_wheel(&dir, &wheel);
        Ok(python)
    })
}

/// Makes a venv at `dir` from `base` unless one is there.
fn create_venv(base: &Path, dir: &Path) {
    if !dir.join("bin").join("python").is_file() {
        std::fs::remove_dir_all(dir).ok();
        run_ok(
            Command::new(base).args(["-m", "venv"]).arg(dir),
            "creating a venv",
        );
    }
}

/// Installs `wheel` into the venv at `dir` unless that very wheel is installed already.
fn install_wheel(dir: &Path, wheel: &Path) {
    let stamp = dir.join("swapscope-wheel.stamp");
    let id = wheel_id(wheel);
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(id.as_str()) {
        run_ok(
            Command::new(dir.join("bin").join("python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-deps",
                    "--force-reinstall",
                    "--no-index",
                ])
                .arg(wheel),
            "installing the wheel",
        );
        std::fs::write(&stamp, id).expect("stamp");
    }
}

/// What identifies a wheel's contents for the install stamp.
fn wheel_id(wheel: &Path) -> String {
    let bytes = std::fs::read(wheel).expect("read wheel");
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A program running under `python -m swapscope` (or plain `python`) in a venv, with a private
/// agent folder. It leads a process group of its own: dropping it kills the whole group (the
/// workers a program started too).
pub struct Program {
    pub child: Child,
    /// Owns the temp folder the agent folder is in (or is it).
    pub agents: tempfile::TempDir,
    /// `SWAPSCOPE_AGENT_DIR` of the program and of `attach`.
    pub agent_path: PathBuf,
    pub dir: PathBuf,
    /// Everything it printed so far (stdout and stderr), read on background threads.
    pub output: Arc<Mutex<String>>,
}

impl Program {
    /// Starts `python -m swapscope [EXTRA] SCRIPT ARGS` in `dir`.
    pub fn start(
        python: &Path,
        dir: &Path,
        extra: &[&str],
        script: &str,
        args: &[&str],
    ) -> Program {
        let mut cmd = Command::new(python);
        cmd.arg("-m")
            .arg("swapscope")
            .args(extra)
            .arg(script)
            .args(args);
        Program::spawn(cmd, agent_dir(), dir)
    }

    /// Starts `python SCRIPT ARGS` in `dir` (a program that calls `swapscope.serve()` itself).
    pub fn start_plain(python: &Path, dir: &Path, script: &str, args: &[&str]) -> Program {
        let mut cmd = Command::new(python);
        cmd.arg(script).args(args);
        Program::spawn(cmd, agent_dir(), dir)
    }

    /// Runs `cmd` in `dir` (its agent folder set to `agents`) and collects its output.
    pub fn spawn(cmd: Command, agents: tempfile::TempDir, dir: &Path) -> Program {
        let path = agents.path().to_path_buf();
        Program::spawn_with_agent_path(cmd, agents, path, dir)
    }

    /// Runs `cmd` in `dir` with `SWAPSCOPE_AGENT_DIR=agent_path` (inside `agents`, or it) and
    /// collects its output.
    pub fn spawn_with_agent_path(
        mut cmd: Command,
        agents: tempfile::TempDir,
        agent_path: PathBuf,
        dir: &Path,
    ) -> Program {
        use std::os::unix::process::CommandExt;
        cmd.current_dir(dir)
            .env("SWAPSCOPE_AGENT_DIR", &agent_path)
            .env("PYTHONUNBUFFERED", "1")
            .env_remove("PYTHONPATH")
            .env_remove("SWAPSCOPE_TOKEN")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start python");
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let out = Arc::clone(&output);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    let mut o = out.lock().expect("output");
                    o.push_str(&line);
                    o.push('\n');
                }
            });
        }
        Program {
            child,
            agents,
            agent_path,
            dir: dir.to_path_buf(),
            output,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn output(&self) -> String {
        self.output.lock().expect("output").clone()
    }

    /// Waits until the output contains `needle` (panics with the output after `limit`).
    pub fn wait_output(&self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.output().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} within {limit:?}; output:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The agent files in this program's agent folder (dead pids skipped).
    pub fn agent_files(&self) -> Vec<AgentFile> {
        std::fs::read_dir(&self.agent_path)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .filter_map(|s| serde_json::from_str::<AgentFile>(&s).ok())
                    .filter(|a| swapscope::protocol::agents::alive(a.pid))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The path of the agent file of process `pid` (whether or not it exists).
    pub fn agent_file_path(&self, pid: u32) -> PathBuf {
        self.agent_path.join(format!("agent-{pid}.json"))
    }

    /// Waits until `n` agents published themselves; returns them sorted by pid.
    pub fn wait_agents(&mut self, n: usize, limit: Duration) -> Vec<AgentFile> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                panic!("the program exited ({status}); output:\n{}", self.output());
            }
            let mut all = self.agent_files();
            if all.len() >= n {
                all.sort_by_key(|a| a.pid);
                return all;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} agents within {limit:?}; output:\n{}",
                all.len(),
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `swapscope attach ARGS` against this program's agent folder.
    pub fn attach(&self, args: &[&str]) -> std::process::Output {
        self.attach_command(args)
            .output()
            .expect("run swapscope attach")
    }

    /// The command `swapscope attach ARGS` against this program's agent folder, not started.
    pub fn attach_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_swapscope"));
        cmd.arg("attach")
            .args(args)
            .env("SWAPSCOPE_AGENT_DIR", &self.agent_path)
            .stdin(Stdio::null());
        cmd
    }

    /// `swapscope attach [--pid PID] --reload MODULE`: its exit code, the report it printed (if
    /// one) and its stderr.
    pub fn reload(&self, pid: Option<u32>, module: &str) -> Reloaded {
        let pid = pid.map(|p| p.to_string());
        let mut args = Vec::new();
        if let Some(pid) = &pid {
            args.extend(["--pid", pid.as_str()]);
        }
        args.extend(["--reload", module]);
        Reloaded::from(self.attach(&args))
    }

    /// Waits for the exit (kills after `limit` and panics).
    pub fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                self.child.kill().ok();
                panic!("still running after {limit:?}; output:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        // The whole group: workers it started must not outlive the test.
        Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status()
            .ok();
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// What `swapscope attach --reload` did.
#[derive(Debug)]
pub struct Reloaded {
    pub code: Option<i32>,
    /// The report it printed on stdout, parsed.
    pub report: Option<serde_json::Value>,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Reloaded {
    fn from(out: std::process::Output) -> Reloaded {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        Reloaded {
            code: out.status.code(),
            report: serde_json::from_str(stdout.trim()).ok(),
            stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Reloaded {
    /// The report's outcome (`"applied"`, `"failed"`, ...), or "" without a report.
    pub fn outcome(&self) -> &str {
        self.report
            .as_ref()
            .and_then(|r| r["outcome"].as_str())
            .unwrap_or("")
    }

    /// Panics (with everything it said) unless the reload was applied and it exited 0.
    pub fn assert_applied(&self, what: &str) {
        assert!(
            self.code == Some(0) && self.outcome() == "applied",
            "{what}: attach --reload did not apply: {self:?}"
        );
    }
}

/// Polls `f` every 20 ms until it gives `Some`, for at most `limit`; panics with `what()`
/// after that.
pub fn wait_for<T>(limit: Duration, what: impl Fn() -> String, f: impl FnMut() -> Option<T>) -> T {
    poll(limit, f).unwrap_or_else(|| panic!("not within {limit:?}: {}", what()))
}

/// Polls `f` every 20 ms until it gives `Some`, for at most `limit`.
pub fn poll<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes `text` (dedented) to `dir/name`.
pub fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), super::dedent(text))
        .unwrap_or_else(|e| panic!("write {name}: {e}"));
}

/// A new private agent folder (0700, as the agent requires).
pub fn agent_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("agent dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
        .expect("chmod agent dir");
    dir
}

/// A copy of the bundled demo game in a new temp folder.
pub fn demo_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["game.py", "balance.py", "players.py"] {
        std::fs::copy(
            workspace().join("assets/demo").join(name),
            dir.path().join(name),
        )
        .expect("copy demo");
    }
    dir
}
