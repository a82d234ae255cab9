//! File watching: notify on the watched folders, with editor saves (plain write, atomic rename,
//! several raw events per save) coalesced into one "these files changed" batch.
//!
//! Never talks to Python; it reports changed paths.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, bounded};
use notify::{EventKind, RecursiveMode, Watcher as _};

pub use crate::protocol::ChangedFile;

/// How long the folder must be quiet after an event before the batch is reported: editors
/// write a save as 3–7 raw events within a few milliseconds.
pub const QUIET: Duration = Duration::from_millis(30);
/// The longest a change waits while the folder never goes quiet (a tool saving many times a
/// second): the batch is released anyway, so reloads keep up with the latest text.
pub const MAX_WAIT: Duration = Duration::from_millis(300);
/// How long a rename cookie is remembered (inotify reports one rename as `To` and as `Both`).
const RENAME_MEMORY: Duration = Duration::from_secs(2);

/// The kinds of raw event the coalescer cares about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawKind {
    Create,
    Modify,
    Remove,
    /// A rename whose destination is not known to be the last path.
    Rename,
    /// A rename into place (the last path is the destination): an atomic save.
    RenamedTo,
    /// A file closed after writing: a plain save.
    ClosedWrite,
    /// Access and anything else: ignored.
    Other,
}

impl From<&EventKind> for RawKind {
    fn from(kind: &EventKind) -> Self {
        use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
        match kind {
            EventKind::Create(_) => RawKind::Create,
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => RawKind::ClosedWrite,
            EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both)) => {
                RawKind::RenamedTo
            }
            EventKind::Modify(ModifyKind::Name(_)) => RawKind::Rename,
            EventKind::Modify(notify::event::ModifyKind::Metadata(_))
            | EventKind::Access(_)
            | EventKind::Any
            | EventKind::Other => RawKind::Other,
            EventKind::Modify(_) => RawKind::Modify,
            EventKind::Remove(_) => RawKind::Remove,
        }
    }
}

/// True for a Python source file, not an editor's temporary or backup file.
pub fn is_source(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let python = path.extension().is_some_and(|e| e == "py" || e == "pyw");
    python && !name.starts_with(".#") && !name.starts_with('#')
}

/// Collects raw events and releases them as one batch once the folder is quiet (or a change has
/// waited `max_wait`). Every save is counted, so it can be accounted for downstream.
#[derive(Debug)]
pub struct Coalescer {
    quiet: Duration,
    max_wait: Duration,
    /// Path → saves seen, in the order the files first changed.
    pending: Vec<(PathBuf, u32)>,
    /// Rename cookies already counted: one rename arrives as `To` and again as `Both`.
    /// Kept for `RENAME_MEMORY`, across batches: the pair can straddle a release.
    renames: Vec<(usize, Instant)>,
    /// Files modified and not closed since, with the time of their last modification: a save
    /// still being written (held back, up to `max_wait`, so a slow write of a big file is not
    /// reloaded half-way). Kept across batches; an entry older than `max_wait` is forgotten (a
    /// close that never comes).
    writing: Vec<(PathBuf, Instant)>,
    /// Whether the platform reports closes after writing at all (inotify does); only then is a
    /// file without its close held back.
    closes_seen: bool,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Coalescer {
    pub fn new(quiet: Duration) -> Self {
        Coalescer {
            quiet,
            max_wait: MAX_WAIT.max(quiet),
            pending: Vec::new(),
            renames: Vec::new(),
            writing: Vec::new(),
            closes_seen: false,
            first: None,
            last: None,
        }
    }

    /// Takes one raw event.
    pub fn push(&mut self, kind: RawKind, paths: &[PathBuf], at: Instant) {
        self.push_tracked(kind, paths, None, at);
    }

    /// Takes one raw event with its rename cookie (notify's `tracker`), if it has one.
    pub fn push_tracked(
        &mut self,
        kind: RawKind,
        paths: &[PathBuf],
        tracker: Option<usize>,
        at: Instant,
    ) {
        if kind == RawKind::Other {
            return;
        }
        if kind == RawKind::ClosedWrite {
            self.closes_seen = true;
        }
        // A rename seen before under the same cookie is not another save.
        let new_rename =
            kind != RawKind::RenamedTo || tracker.is_none_or(|t| self.first_sight(t, at));
        let mut any = false;
        for (i, p) in paths.iter().enumerate().filter(|(_, p)| is_source(p)) {
            let index = if let Some(i) = self.pending.iter().position(|(q, _)| q == p) {
                i
            } else {
                self.pending.push((p.clone(), 0));
                self.pending.len() - 1
            };
            let count = &mut self.pending[index].1;
            let saved = match kind {
                RawKind::ClosedWrite => true,
                RawKind::RenamedTo => new_rename && i + 1 == paths.len(),
                _ => false,
            };
            match kind {
                RawKind::Modify => {
                    self.writing.retain(|(q, _)| q != p);
                    self.writing.push((p.clone(), at));
                }
                RawKind::ClosedWrite | RawKind::RenamedTo | RawKind::Remove | RawKind::Rename => {
                    self.writing.retain(|(q, _)| q != p);
                }
                RawKind::Create | RawKind::Other => {}
            }
            if saved {
                *count += 1;
            }
            any = true;
        }
        if any {
            self.last = Some(at);
            self.first.get_or_insert(at);
        }
    }

    /// Whether a rename cookie is new (and remembers it).
    fn first_sight(&mut self, cookie: usize, at: Instant) -> bool {
        self.renames
            .retain(|(_, seen)| at.saturating_duration_since(*seen) < RENAME_MEMORY);
        if self.renames.iter().any(|(c, _)| *c == cookie) {
            return false;
        }
        self.renames.push((cookie, at));
        true
    }

    /// A coalescer for this platform: on Linux, inotify reports closes after writing from the
    /// start, so a file being written is held back from the first save on.
    pub fn for_platform(quiet: Duration) -> Self {
        let mut c = Coalescer::new(quiet);
        c.closes_seen = cfg!(target_os = "linux");
        c
    }

    /// The files modified and not closed since, with their last modification (see `writing`).
    pub fn writing(&self) -> &[(PathBuf, Instant)] {
        &self.writing
    }

    /// When the pending batch will be ready, if there is one.
    pub fn deadline(&self) -> Option<Instant> {
        let quiet = self.last? + self.quiet;
        let longest = self.first.map_or(quiet, |f| f + self.max_wait);
        let pending_written = self
            .writing
            .iter()
            .any(|(w, _)| self.pending.iter().any(|(p, _)| p == w));
        if self.closes_seen && pending_written {
            return Some(longest.max(quiet));
        }
        Some(quiet.min(longest))
    }

    /// The batch, if the folder has been quiet long enough (or the oldest change waited
    /// `max_wait`).
    pub fn ready(&mut self, now: Instant) -> Option<Vec<ChangedFile>> {
        let deadline = self.deadline()?;
        if now < deadline {
            return None;
        }
        self.last = None;
        self.first = None;
        let max_wait = self.max_wait;
        self.writing
            .retain(|(_, since)| now.saturating_duration_since(*since) < max_wait);
        let batch: Vec<ChangedFile> = std::mem::take(&mut self.pending)
            .into_iter()
            .map(|(path, saves)| ChangedFile { path, saves })
            .collect();
        (!batch.is_empty()).then_some(batch)
    }
}

/// The files a watcher currently sees being written (modified, not yet closed; with the time of
/// the last modification), shared with whoever is about to read one.
pub type WritingFiles = std::sync::Arc<std::sync::Mutex<Vec<(PathBuf, Instant)>>>;

/// Waits while `path` is being written (as the watcher sees it), at most `limit`; returns
/// whether it had to wait. Reloads call it before reading a file, so a save still being written
/// is not read half-way.
pub fn wait_until_written(writing: &WritingFiles, path: &Path, limit: Duration) -> bool {
    let real = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let target = real(path);
    let busy = || {
        writing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            // A close that never came (a writer holding the file open) stops counting.
            .any(|(p, since)| since.elapsed() < MAX_WAIT && real(p) == target)
    };
    let deadline = Instant::now() + limit;
    let mut waited = false;
    while busy() && Instant::now() < deadline {
        waited = true;
        std::thread::sleep(Duration::from_millis(5));
    }
    waited
}

/// Why watching could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch {path:?}: {source}")]
    Folder {
        path: PathBuf,
        source: notify::Error,
    },
    #[error("cannot start the file watcher: {0}")]
    Start(notify::Error),
    #[error("cannot start the watch thread: {0}")]
    Thread(std::io::Error),
}

/// A running watcher; dropping it stops watching.
pub struct FolderWatcher {
    _watcher: notify::RecommendedWatcher,
}

/// Watches `folders` recursively; calls `on_change` with each coalesced batch of changed source
/// files and `on_problem` with errors (a folder that disappeared, ...).
pub fn watch(
    folders: &[PathBuf],
    writing: WritingFiles,
    on_change: impl Fn(Vec<ChangedFile>) + Send + 'static,
    on_problem: impl Fn(String) + Send + 'static,
) -> Result<FolderWatcher, WatchError> {
    let (tx, rx) = bounded::<notify::Result<notify::Event>>(4096);
    let mut watcher = notify::recommended_watcher(move |res| {
        // The receiver only goes away when the watcher is being dropped.
        tx.send(res).ok();
    })
    .map_err(WatchError::Start)?;
    let roots: Vec<PathBuf> = folders.to_vec();
    std::thread::Builder::new()
        .name("swapscope-watch".into())
        .spawn(move || {
            let mut coalescer = Coalescer::for_platform(QUIET);
            loop {
                let timeout = coalescer.deadline().map_or(Duration::from_hours(1), |d| d.saturating_duration_since(Instant::now()));
                match rx.recv_timeout(timeout) {
                    Ok(Ok(event)) => {
                        if matches!(event.kind, EventKind::Remove(_)) {
                            for gone in event.paths.iter().filter(|p| roots.contains(p)) {
                                on_problem(format!("watched folder {} disappeared; changes in it are no longer seen", gone.display()));
                            }
                        }
                        coalescer.push_tracked(RawKind::from(&event.kind), &event.paths, event.attrs.tracker(), Instant::now());
                    }
                    Ok(Err(e)) => on_problem(format!("file watching failed: {e}")),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
                if let Some(batch) = coalescer.ready(Instant::now()) {
                    on_change(batch);
                }
                let mut shared = writing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if shared.as_slice() != coalescer.writing() {
                    *shared = coalescer.writing().to_vec();
                }
            }
        })
        .map_err(WatchError::Thread)?;
    // Watches are added once the thread above drains the channel: adding a recursive watch on a
    // big tree makes events of its own (thousands of folders opened), and with nobody reading,
    // the channel filled and the watcher's own thread blocked forever inside `watch`.
    for folder in folders {
        watcher
            .watch(folder, RecursiveMode::Recursive)
            .map_err(|source| WatchError::Folder {
                path: folder.clone(),
                source,
            })?;
    }
    Ok(FolderWatcher { _watcher: watcher })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    /// (events at millisecond offsets, poll time, expected batch)
    #[test]
    fn coalescing_table() {
        use RawKind::*;
        type Case = (
            &'static str,
            Vec<(u64, RawKind, Vec<&'static str>)>,
            u64,
            Option<Vec<(&'static str, u32)>>,
        );
        let cases: Vec<Case> = vec![
            (
                "plain write: one batch after quiet",
                vec![(0, Modify, vec!["/p/a.py"]), (2, Modify, vec!["/p/a.py"])],
                40,
                Some(vec![("/p/a.py", 0)]),
            ),
            (
                "still within the quiet window",
                vec![(0, Modify, vec!["/p/a.py"]), (20, Modify, vec!["/p/a.py"])],
                40,
                None,
            ),
            (
                "atomic save: temp created, written, renamed over",
                vec![
                    (0, Create, vec!["/p/.a.py.swp"]),
                    (1, Modify, vec!["/p/a.py.tmp"]),
                    (2, Rename, vec!["/p/a.py.tmp", "/p/a.py"]),
                    (3, Remove, vec!["/p/a.py~"]),
                ],
                40,
                Some(vec![("/p/a.py", 0)]),
            ),
            (
                "emacs lock files ignored",
                vec![(0, Create, vec!["/p/.#a.py"])],
                40,
                None,
            ),
            (
                "access and metadata ignored",
                vec![(0, Other, vec!["/p/a.py"])],
                40,
                None,
            ),
            (
                "two files in one save burst, in the order they changed",
                vec![(0, Modify, vec!["/p/b.py"]), (1, Modify, vec!["/p/a.py"])],
                40,
                Some(vec![("/p/b.py", 0), ("/p/a.py", 0)]),
            ),
            (
                "three plain saves of one file: counted three times",
                vec![
                    (0, Modify, vec!["/p/a.py"]),
                    (1, ClosedWrite, vec!["/p/a.py"]),
                    (10, Modify, vec!["/p/a.py"]),
                    (11, ClosedWrite, vec!["/p/a.py"]),
                    (20, ClosedWrite, vec!["/p/a.py"]),
                ],
                60,
                Some(vec![("/p/a.py", 3)]),
            ),
            (
                "atomic save counted once, for the destination",
                vec![
                    (0, ClosedWrite, vec!["/p/a.py.tmp"]),
                    (1, RenamedTo, vec!["/p/b.py", "/p/a.py"]),
                ],
                40,
                Some(vec![("/p/b.py", 0), ("/p/a.py", 1)]),
            ),
            (
                "a folder that never goes quiet is released after the longest wait",
                (0..40).map(|i| (i * 10, Modify, vec!["/p/a.py"])).collect(),
                301,
                Some(vec![("/p/a.py", 0)]),
            ),
            (
                "a file modified and not closed yet is held back",
                vec![
                    (0, ClosedWrite, vec!["/p/b.py"]),
                    (1, Modify, vec!["/p/a.py"]),
                ],
                100,
                None,
            ),
            (
                "until it is closed",
                vec![
                    (0, ClosedWrite, vec!["/p/b.py"]),
                    (1, Modify, vec!["/p/a.py"]),
                    (80, ClosedWrite, vec!["/p/a.py"]),
                ],
                111,
                Some(vec![("/p/b.py", 1), ("/p/a.py", 1)]),
            ),
            (
                "or for the longest wait",
                vec![
                    (0, ClosedWrite, vec!["/p/b.py"]),
                    (1, Modify, vec!["/p/a.py"]),
                ],
                301,
                Some(vec![("/p/b.py", 1), ("/p/a.py", 0)]),
            ),
            (
                "non-python files ignored",
                vec![(0, Modify, vec!["/p/notes.txt"])],
                40,
                None,
            ),
        ];
        for (name, events, poll, expected) in cases {
            let t0 = Instant::now();
            let mut c = Coalescer::new(Duration::from_millis(30));
            for (at, kind, paths) in events {
                let paths: Vec<PathBuf> = paths.into_iter().map(p).collect();
                c.push(kind, &paths, t0 + Duration::from_millis(at));
            }
            let got = c.ready(t0 + Duration::from_millis(poll));
            let expected = expected.map(|v| {
                v.into_iter()
                    .map(|(path, saves)| ChangedFile {
                        path: p(path),
                        saves,
                    })
                    .collect::<Vec<_>>()
            });
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn a_rename_reported_twice_under_one_cookie_is_one_save() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(Duration::from_millis(30));
        let paths = [p("/p/.a.py.tmp"), p("/p/a.py")];
        c.push_tracked(RawKind::RenamedTo, &paths[1..], Some(7), t0);
        c.push_tracked(RawKind::RenamedTo, &paths, Some(7), t0);
        c.push_tracked(RawKind::RenamedTo, &paths, Some(8), t0);
        let got = c.ready(t0 + Duration::from_millis(40));
        // The second report of cookie 8 comes after the batch went out: still the same save.
        c.push_tracked(
            RawKind::RenamedTo,
            &paths[1..],
            Some(8),
            t0 + Duration::from_millis(41),
        );
        let late = c.ready(t0 + Duration::from_millis(80));
        assert_eq!(
            late,
            Some(vec![ChangedFile {
                path: p("/p/a.py"),
                saves: 0
            }])
        );
        assert_eq!(
            got,
            Some(vec![ChangedFile {
                path: p("/p/a.py"),
                saves: 2
            }])
        );
    }

    #[test]
    fn batch_is_released_once() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(Duration::from_millis(30));
        c.push(RawKind::Modify, &[p("/p/a.py")], t0);
        assert!(c.ready(t0 + Duration::from_millis(31)).is_some());
        assert_eq!(c.ready(t0 + Duration::from_millis(100)), None);
        assert_eq!(c.deadline(), None);
    }

    #[test]
    fn real_folder_save_arrives_as_one_batch() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("mod_a.py");
        std::fs::write(&file, "x = 1\n").expect("write");
        let (tx, rx) = bounded(16);
        let _w = watch(
            &[dir.path().to_path_buf()],
            WritingFiles::default(),
            move |b| {
                tx.send(b).ok();
            },
            |_| {},
        )
        .expect("watch");
        std::thread::sleep(Duration::from_millis(50));
        // An atomic save: write a temp file, rename it over.
        let tmp = dir.path().join("mod_a.py.tmp");
        std::fs::write(&tmp, "x = 2\n").expect("write temp");
        std::fs::rename(&tmp, &file).expect("rename");
        let batch = rx.recv_timeout(Duration::from_secs(5)).expect("a batch");
        let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        assert!(
            batch
                .iter()
                .any(|c| canon(&c.path) == canon(&file) && c.saves == 1),
            "{batch:?}"
        );
        assert!(
            rx.recv_timeout(Duration::from_millis(200)).is_err(),
            "one save, one batch"
        );
    }

    #[test]
    fn a_first_folder_of_5000_directories_and_a_second_folder_start_watching() {
        let big = tempfile::tempdir().expect("temp dir");
        for i in 0..5000 {
            std::fs::create_dir(big.path().join(format!("d{i}"))).expect("mkdir");
        }
        let second = tempfile::tempdir().expect("temp dir");
        let folders = vec![big.path().to_path_buf(), second.path().to_path_buf()];
        // On its own thread: a hang must fail the test, not stop the suite.
        let (done_tx, done_rx) = bounded(1);
        std::thread::Builder::new()
            .name("watch-start".into())
            .spawn(move || {
                let w = watch(&folders, WritingFiles::default(), |_| {}, |_| {});
                done_tx.send(w.is_ok()).ok();
                // Kept alive until the test ends reading the result.
                std::thread::sleep(Duration::from_millis(100));
            })
            .expect("thread");
        let started = done_rx.recv_timeout(Duration::from_mins(1));
        assert_eq!(
            started,
            Ok(true),
            "watching both folders did not start within 60 s"
        );
    }
}
