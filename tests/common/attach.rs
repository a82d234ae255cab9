//! Attach-mode harness: the abi3 wheel (built once per run with maturin), a venv per CPython
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

/// The CPython versions the wheel supports.
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
                        .env_remove("CARGO_TARGET_DIR"),
                    "building the wheel (needs maturin: `pip install maturin`)",
                );
                let wheel = std::fs::read_dir(&out)
                    .expect("wheels folder")
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .find(|p| p.extension().is_some_and(|x| x == "whl"))
                    .expect("maturin made no wheel");
                // Kept out of the folder the next build empties, for processes still using it.
                let kept = cache().join(wheel.file_name().expect("wheel name"));
                std::fs::copy(&wheel, &kept).expect("copy wheel");
                kept
            })
        })
        .clone()
}

/// The interpreter of CPython `version` under pyenv (the highest patch release), if installed.
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
        if !python.is_file() {
            std::fs::remove_dir_all(&dir).ok();
            run_ok(
                Command::new(&base).args(["-m", "venv"]).arg(&dir),
                "creating a venv",
            );
        }
        let stamp = dir.join("swapscope-wheel.stamp");
        let id = wheel_id(&wheel);
        if std::fs::read_to_string(&stamp).ok().as_deref() != Some(id.as_str()) {
            run_ok(
                Command::new(&python)
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--no-deps",
                        "--force-reinstall",
                        "--no-index",
                    ])
                    .arg(&wheel),
                "installing the wheel",
            );
            std::fs::write(&stamp, id).expect("stamp");
        }
    });
    Some(python)
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

/// A program running under `python -m swapscope` in a venv, with a private agent folder.
pub struct Program {
    pub child: Child,
    pub agents: tempfile::TempDir,
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
        let agents = agent_dir();
        let mut cmd = Command::new(python);
        cmd.arg("-m")
            .arg("swapscope")
            .args(extra)
            .arg(script)
            .args(args)
            .current_dir(dir)
            .env("SWAPSCOPE_AGENT_DIR", agents.path())
            .env_remove("PYTHONPATH")
            .env_remove("SWAPSCOPE_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Program::spawn(cmd, agents, dir)
    }

    /// Runs `cmd` (its agent folder set to `agents`) and collects its output.
    pub fn spawn(mut cmd: Command, agents: tempfile::TempDir, dir: &Path) -> Program {
        cmd.env("SWAPSCOPE_AGENT_DIR", agents.path())
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
            dir: dir.to_path_buf(),
            output,
        }
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
        std::fs::read_dir(self.agents.path())
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
        Command::new(env!("CARGO_BIN_EXE_swapscope"))
            .arg("attach")
            .args(args)
            .env("SWAPSCOPE_AGENT_DIR", self.agents.path())
            .stdin(Stdio::null())
            .output()
            .expect("run swapscope attach")
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
        self.child.kill().ok();
        self.child.wait().ok();
    }
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
