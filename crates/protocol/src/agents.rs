//! Where agents publish themselves: one `agent-<pid>.json` per running agent in a per-user
//! folder only that user can read, holding the port and the token a client needs.
//!
//! The folder and the files are the only thing that keeps other users out (the token is the
//! whole secret), so this module refuses a folder that is a symlink, someone else's or open to
//! others, and ignores files that are not ours with mode 0600. It never changes the permissions
//! of a folder it did not create. It does not talk to agents: see `wire`.

use std::ffi::OsString;
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::wire::Token;

/// Environment variable that overrides the agent folder.
pub const DIR_VAR: &str = "SWAPSCOPE_AGENT_DIR";
/// Agent files are tiny; anything bigger is not one and is not read whole.
const MAX_FILE: u64 = 64 * 1024;

/// One agent's file: what a client needs to find and authenticate to it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentFile {
    pub pid: u32,
    pub port: u16,
    /// The agent's `Token` in hex.
    pub token: String,
    pub script: String,
    pub interpreter: String,
    pub python_version: String,
    pub cwd: String,
    pub started_unix: u64,
}

impl std::fmt::Debug for AgentFile {
    /// Everything but the token, which must not reach a log or a test's failure message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentFile")
            .field("pid", &self.pid)
            .field("port", &self.port)
            .field("token", &"..")
            .field("script", &self.script)
            .field("interpreter", &self.interpreter)
            .field("python_version", &self.python_version)
            .field("cwd", &self.cwd)
            .field("started_unix", &self.started_unix)
            .finish()
    }
}

impl AgentFile {
    /// The token, if the file holds a well-formed one.
    pub fn token(&self) -> Option<Token> {
        Token::from_hex(&self.token)
    }
}

/// Why the agent folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The folder exists but others could read or plant files in it.
    #[error(
        "the agent folder {} {why}; remove it or set SWAPSCOPE_AGENT_DIR to a folder only you can read",
        path.display()
    )]
    UnsafeDir { path: PathBuf, why: String },
    #[error(
        "cannot {action} {}: {cause}; check its permissions or set SWAPSCOPE_AGENT_DIR to a folder you own",
        path.display()
    )]
    Io {
        /// What failed, e.g. "create the agent folder".
        action: &'static str,
        path: PathBuf,
        cause: io::Error,
    },
}

/// The per-user folder: `$SWAPSCOPE_AGENT_DIR` if set, else `$XDG_RUNTIME_DIR/swapscope` if
/// `XDG_RUNTIME_DIR` is set and exists, else `/tmp/swapscope-<euid>`; created with mode 0700 if
/// missing. An existing folder must be a real directory (not a symlink) owned by the current
/// user with no group or other permission bits, otherwise `UnsafeDir`.
pub fn agent_dir() -> Result<PathBuf, RegistryError> {
    let dir = choose_dir(
        std::env::var_os(DIR_VAR),
        std::env::var_os("XDG_RUNTIME_DIR"),
        euid(),
    );
    prepare_dir(&dir)?;
    Ok(dir)
}

/// Writes `agent-<pid>.json` in `agent_dir()`, mode 0600 from creation. Returns the path.
pub fn publish(file: &AgentFile) -> Result<PathBuf, RegistryError> {
    publish_in(&agent_dir()?, file)
}

/// Removes this pid's file (missing is fine).
pub fn unpublish(pid: u32) -> Result<(), RegistryError> {
    unpublish_in(&agent_dir()?, pid)
}

/// Every live agent, sorted by pid.
///
/// Skips (and deletes, best effort) our files whose pid is dead; skips unreadable or malformed
/// files, files with other permissions than 0600 or another owner, and temp files.
pub fn list() -> Result<Vec<AgentFile>, RegistryError> {
    list_in(&agent_dir()?)
}

/// Whether a process with this pid exists (`kill(pid, 0)`: ESRCH → false, success or EPERM →
/// true). Pids that name no single process (0, or over `i32::MAX`) are not alive.
pub fn alive(pid: u32) -> bool {
    match libc::pid_t::try_from(pid) {
        Ok(pid) if pid > 0 => match probe(pid) {
            Ok(()) => true,
            // EPERM: it exists but belongs to someone else. Anything else: keep the file.
            Err(e) => e.raw_os_error() != Some(libc::ESRCH),
        },
        _ => false,
    }
}

#[expect(
    unsafe_code,
    reason = "kill(pid, 0) is the only way to ask whether another user's pid exists"
)]
fn probe(pid: libc::pid_t) -> io::Result<()> {
    // SAFETY: signal 0 delivers nothing; the call only checks that `pid` exists and whether we
    // may signal it. It takes plain integers and touches no memory of ours.
    let rc = unsafe { libc::kill(pid, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[expect(unsafe_code, reason = "geteuid has no std equivalent")]
fn euid() -> u32 {
    // SAFETY: geteuid takes no arguments, always succeeds and touches no memory.
    unsafe { libc::geteuid() }
}

/// The folder the environment asks for (see `agent_dir`); empty variables count as unset.
fn choose_dir(
    agent_dir: Option<OsString>,
    xdg_runtime_dir: Option<OsString>,
    euid: u32,
) -> PathBuf {
    if let Some(dir) = agent_dir.filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(runtime) = xdg_runtime_dir.filter(|d| !d.is_empty()).map(PathBuf::from)
        && runtime.is_dir()
    {
        return runtime.join("swapscope");
    }
    PathBuf::from(format!("/tmp/swapscope-{euid}"))
}

/// Creates `dir` with mode 0700 if it is missing (its parent must exist), then `check_dir`.
fn prepare_dir(dir: &Path) -> Result<(), RegistryError> {
    match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        // Someone (maybe another user, in /tmp) made it first: the check below decides.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(cause) => {
            return Err(RegistryError::Io {
                action: "create the agent folder",
                path: dir.to_path_buf(),
                cause,
            });
        }
    }
    check_dir(dir)
}

/// `dir` must be a real directory owned by us with no group or other permission bits.
fn check_dir(dir: &Path) -> Result<(), RegistryError> {
    let meta = fs::symlink_metadata(dir).map_err(|cause| RegistryError::Io {
        action: "inspect the agent folder",
        path: dir.to_path_buf(),
        cause,
    })?;
    let unsafe_dir = |why: String| {
        Err(RegistryError::UnsafeDir {
            path: dir.to_path_buf(),
            why,
        })
    };
    if meta.file_type().is_symlink() {
        return unsafe_dir("is a symbolic link".into());
    }
    if !meta.is_dir() {
        return unsafe_dir("is not a folder".into());
    }
    let me = euid();
    if meta.uid() != me {
        return unsafe_dir(format!(
            "belongs to another user (uid {}, you are {me})",
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return unsafe_dir(format!(
            "is open to other users (mode {mode:04o}; `chmod 700` it if it is yours)"
        ));
    }
    Ok(())
}

fn file_name(pid: u32) -> String {
    format!("agent-{pid}.json")
}

/// The pid in an agent file's name; `None` for anything else (temp files included).
fn pid_of(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("agent-")?.strip_suffix(".json")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `publish` into a folder that `prepare_dir` accepted.
fn publish_in(dir: &Path, file: &AgentFile) -> Result<PathBuf, RegistryError> {
    let path = dir.join(file_name(file.pid));
    let temp = dir.join(format!(".agent-{}.tmp", file.pid));
    let io_err = |action, path: &Path| {
        let path = path.to_path_buf();
        move |cause| RegistryError::Io {
            action,
            path,
            cause,
        }
    };
    // A leftover from an earlier process with our pid that died mid-publish.
    match fs::remove_file(&temp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("remove the stale temp file", &temp)(e)),
    }
    let mut bytes = serde_json::to_vec_pretty(file)
        .map_err(io::Error::other)
        .map_err(io_err("write the agent file", &temp))?;
    bytes.push(b'\n');
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .and_then(|mut f| {
            // The umask can only have removed bits; make the mode exactly what `list` expects.
            f.set_permissions(Permissions::from_mode(0o600))?;
            f.write_all(&bytes)
        })
        .map_err(io_err("write the agent file", &temp))
        .and_then(|()| fs::rename(&temp, &path).map_err(io_err("write the agent file", &path)));
    if written.is_err() {
        // Best effort: the write error below is what matters; a leftover is removed next time.
        fs::remove_file(&temp).ok();
    }
    written.map(|()| path)
}

/// `unpublish` in `dir`.
fn unpublish_in(dir: &Path, pid: u32) -> Result<(), RegistryError> {
    let path = dir.join(file_name(pid));
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(cause) => Err(RegistryError::Io {
            action: "remove the agent file",
            path,
            cause,
        }),
    }
}

/// `list` in a folder that `prepare_dir` accepted.
fn list_in(dir: &Path) -> Result<Vec<AgentFile>, RegistryError> {
    let entries = fs::read_dir(dir).map_err(|cause| RegistryError::Io {
        action: "list the agent folder",
        path: dir.to_path_buf(),
        cause,
    })?;
    let mut agents = Vec::new();
    // An entry that vanished or cannot be read is someone else's business (an agent exiting).
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(pid_of) else {
            continue;
        };
        let path = entry.path();
        let Some(file) = open_ours(&path) else {
            continue;
        };
        if !alive(pid) {
            // Best effort: a file we cannot remove is skipped all the same.
            fs::remove_file(&path).ok();
            continue;
        }
        if let Some(agent) = read_agent(file).filter(|agent| agent.pid == pid) {
            agents.push(agent);
        }
    }
    agents.sort_by_key(|agent| agent.pid);
    Ok(agents)
}

/// Opens `path` if it is a regular file of ours with mode 0600 (checked on the open file, so
/// it cannot be swapped between the check and the read).
fn open_ours(path: &Path) -> Option<File> {
    let file = OpenOptions::new()
        .read(true)
        // Never follow a link out of the folder; never block on a FIFO.
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    (meta.is_file() && meta.uid() == euid() && meta.mode() & 0o7777 == 0o600).then_some(file)
}

/// The agent file's content, if it is one.
fn read_agent(file: File) -> Option<AgentFile> {
    let mut text = String::new();
    file.take(MAX_FILE).read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn sample(pid: u32) -> AgentFile {
        AgentFile {
            pid,
            port: 40123,
            token: Token::generate().unwrap().to_hex(),
            script: "/home/me/game.py".into(),
            interpreter: "/usr/bin/python3".into(),
            python_version: "3.13.1".into(),
            cwd: "/home/me".into(),
            started_unix: 1_700_000_000,
        }
    }

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    /// A fresh agent folder inside a temp dir (the temp dir must outlive it).
    fn folder() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("agents");
        prepare_dir(&dir).unwrap();
        (tmp, dir)
    }

    /// A pid that was alive a moment ago and is now dead and reaped.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[test]
    fn publish_writes_private_file_and_list_returns_it() {
        let (_tmp, dir) = folder();
        assert_eq!(mode(&dir), 0o700);
        let me = sample(std::process::id());
        let path = publish_in(&dir, &me).unwrap();
        assert_eq!(path, dir.join(format!("agent-{}.json", me.pid)));
        assert_eq!(mode(&path), 0o600);
        assert!(!dir.join(format!(".agent-{}.tmp", me.pid)).exists());
        assert_eq!(list_in(&dir).unwrap(), vec![me.clone()]);
        assert_eq!(
            list_in(&dir).unwrap()[0].token(),
            Token::from_hex(&me.token)
        );
        assert!(me.token().is_some());
        // Publishing again replaces the file.
        let moved = AgentFile { port: 40124, ..me };
        publish_in(&dir, &moved).unwrap();
        assert_eq!(list_in(&dir).unwrap(), vec![moved]);
    }

    #[test]
    fn list_is_sorted_by_pid() {
        let (_tmp, dir) = folder();
        // pid 1 always exists (init), and so do we.
        let ours = sample(std::process::id());
        let init = sample(1);
        publish_in(&dir, &ours).unwrap();
        publish_in(&dir, &init).unwrap();
        assert_eq!(list_in(&dir).unwrap(), vec![init, ours]);
    }

    #[test]
    fn dead_pid_is_skipped_and_removed() {
        let (_tmp, dir) = folder();
        let pid = dead_pid();
        assert!(!alive(pid));
        let path = publish_in(&dir, &sample(pid)).unwrap();
        assert!(path.exists());
        assert_eq!(list_in(&dir).unwrap(), vec![]);
        assert!(!path.exists(), "the dead agent's file was kept");
    }

    #[test]
    fn malformed_file_is_skipped_and_kept() {
        let (_tmp, dir) = folder();
        let pid = std::process::id();
        let path = publish_in(&dir, &sample(pid)).unwrap();
        fs::write(&path, "{\"pid\": 1, not json").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(list_in(&dir).unwrap(), vec![]);
        assert!(path.exists(), "a live pid's file was removed");
    }

    #[test]
    fn file_with_another_pid_inside_is_skipped() {
        let (_tmp, dir) = folder();
        let path = publish_in(&dir, &sample(std::process::id())).unwrap();
        fs::rename(&path, dir.join("agent-1.json")).unwrap();
        assert_eq!(list_in(&dir).unwrap(), vec![]);
    }

    #[test]
    fn file_readable_by_others_is_skipped() {
        let (_tmp, dir) = folder();
        let me = sample(std::process::id());
        let path = publish_in(&dir, &me).unwrap();
        assert_eq!(list_in(&dir).unwrap(), vec![me]);
        fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        assert_eq!(list_in(&dir).unwrap(), vec![]);
        assert!(path.exists());
    }

    #[test]
    fn other_owners_are_refused() {
        let (tmp, dir) = folder();
        let me = sample(std::process::id());
        let path = publish_in(&dir, &me).unwrap();
        if euid() != 0 {
            // Only root can give a file away; "/" is root's, so not ours.
            let err = check_dir(Path::new("/")).unwrap_err();
            assert!(
                matches!(&err, RegistryError::UnsafeDir { why, .. } if why.contains("another user")),
                "{err:?}"
            );
            return;
        }
        let nobody = 65534;
        std::os::unix::fs::chown(&path, Some(nobody), None).unwrap();
        assert_eq!(list_in(&dir).unwrap(), vec![]);
        assert!(path.exists());
        let theirs = tmp.path().join("theirs");
        DirBuilder::new().mode(0o700).create(&theirs).unwrap();
        std::os::unix::fs::chown(&theirs, Some(nobody), None).unwrap();
        let err = prepare_dir(&theirs).unwrap_err();
        assert!(
            matches!(&err, RegistryError::UnsafeDir { why, .. } if why.contains("another user")),
            "{err:?}"
        );
    }

    #[test]
    fn symlinked_file_is_skipped() {
        let (tmp, dir) = folder();
        let me = sample(std::process::id());
        let outside = tmp.path().join("elsewhere.json");
        fs::write(&outside, serde_json::to_vec(&me).unwrap()).unwrap();
        fs::set_permissions(&outside, Permissions::from_mode(0o600)).unwrap();
        symlink(&outside, dir.join(file_name(me.pid))).unwrap();
        assert_eq!(list_in(&dir).unwrap(), vec![]);
    }

    #[test]
    fn temp_files_and_other_names_are_skipped() {
        let (_tmp, dir) = folder();
        let me = sample(std::process::id());
        let text = serde_json::to_vec(&me).unwrap();
        for name in [
            format!(".agent-{}.tmp", me.pid),
            format!("agent-{}.json.bak", me.pid),
            format!("agent-+{}.json", me.pid),
            "agent-.json".to_owned(),
            "notes.txt".to_owned(),
        ] {
            let path = dir.join(name);
            fs::write(&path, &text).unwrap();
            fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();
        }
        assert_eq!(list_in(&dir).unwrap(), vec![]);
    }

    #[test]
    fn unpublish_removes_and_tolerates_missing() {
        let (_tmp, dir) = folder();
        let pid = std::process::id();
        let path = publish_in(&dir, &sample(pid)).unwrap();
        unpublish_in(&dir, pid).unwrap();
        assert!(!path.exists());
        unpublish_in(&dir, pid).unwrap();
        assert_eq!(list_in(&dir).unwrap(), vec![]);
    }

    #[test]
    fn open_folder_is_unsafe() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("open");
        DirBuilder::new().mode(0o755).create(&dir).unwrap();
        fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        for result in [check_dir(&dir), prepare_dir(&dir)] {
            let err = result.unwrap_err();
            assert!(
                matches!(&err, RegistryError::UnsafeDir { path, .. } if *path == dir),
                "{err:?}"
            );
            let message = err.to_string();
            assert!(message.contains("0755"), "{message}");
            assert!(message.contains("SWAPSCOPE_AGENT_DIR"), "{message}");
        }
        // Never repaired behind the user's back.
        assert_eq!(mode(&dir), 0o755);
        fs::set_permissions(&dir, Permissions::from_mode(0o700)).unwrap();
        check_dir(&dir).unwrap();
    }

    #[test]
    fn symlinked_folder_is_unsafe() {
        let (tmp, dir) = folder();
        let link = tmp.path().join("link");
        symlink(&dir, &link).unwrap();
        let err = prepare_dir(&link).unwrap_err();
        assert!(
            matches!(&err, RegistryError::UnsafeDir { why, .. } if why.contains("symbolic link")),
            "{err:?}"
        );
    }

    #[test]
    fn file_in_place_of_folder_is_unsafe() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("plain");
        fs::write(&path, "").unwrap();
        let err = prepare_dir(&path).unwrap_err();
        assert!(
            matches!(&err, RegistryError::UnsafeDir { why, .. } if why.contains("not a folder")),
            "{err:?}"
        );
    }

    #[test]
    fn missing_parent_is_an_io_error_naming_the_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("no/such/agents");
        let err = prepare_dir(&dir).unwrap_err();
        assert!(
            matches!(&err, RegistryError::Io { path, .. } if *path == dir),
            "{err:?}"
        );
        assert!(
            err.to_string().contains(&dir.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn choose_dir_prefers_the_variable_then_xdg_then_tmp() {
        let runtime = tempfile::tempdir().unwrap();
        let xdg = Some(runtime.path().as_os_str().to_owned());
        let missing = Some(OsString::from("/no/such/runtime/dir"));
        let cases = [
            (
                Some("/my/agents".into()),
                xdg.clone(),
                PathBuf::from("/my/agents"),
            ),
            (
                Some(OsString::new()),
                xdg.clone(),
                runtime.path().join("swapscope"),
            ),
            (None, xdg, runtime.path().join("swapscope")),
            (None, missing, PathBuf::from("/tmp/swapscope-1000")),
            (
                None,
                Some(OsString::new()),
                PathBuf::from("/tmp/swapscope-1000"),
            ),
            (None, None, PathBuf::from("/tmp/swapscope-1000")),
        ];
        for (var, xdg, want) in cases {
            assert_eq!(
                choose_dir(var.clone(), xdg.clone(), 1000),
                want,
                "{var:?} {xdg:?}"
            );
        }
    }

    #[test]
    fn alive_tells_live_from_dead() {
        assert!(alive(std::process::id()));
        assert!(alive(1), "pid 1 exists (EPERM when not root)");
        assert!(!alive(dead_pid()));
        assert!(!alive(0), "0 is our process group, not a process");
        assert!(!alive(u32::MAX));
    }

    #[test]
    fn pid_of_reads_only_agent_file_names() {
        assert_eq!(pid_of("agent-123.json"), Some(123));
        for name in [
            "agent-.json",
            "agent-12a.json",
            "agent--1.json",
            ".agent-1.tmp",
            "agent-1.json~",
        ] {
            assert_eq!(pid_of(name), None, "{name}");
        }
    }
}
