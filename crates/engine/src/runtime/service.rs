//! The reload service: the one path every reload takes, whoever asks for it — the worker (the
//! window's Reload, auto-reload on save), the program (`swapscope.reload()`), a safe point, and
//! later the attach agent.
//!
//! It owns what a reload needs beyond the engine: the policy file's overrides, the `on_reload`
//! listeners, atomicity (safe points, or the switch interval raised for the reload), and where
//! reports go (events for the front end). The runtime connects it when it starts
//! ([`ReloadService::connect`]); without a connection (a bare interpreter, the engine tests) it
//! reloads with no policy and sends no events. It never calls a layer above it: reports leave as
//! `Event`s on a channel.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, bounded};
use pyo3::prelude::*;

use crate::engine::{self, EngineError, ReloadOptions, ReloadReport, tracker};
use crate::policy::PolicyFile;
use crate::protocol::{Event, ModuleName, Outcome, UNDO_STEPS};

/// Wakes the UI when an event was sent (`ctx.request_repaint()` in the GUI).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// Sends events and wakes the UI.
#[derive(Clone)]
pub(crate) struct Sink {
    pub tx: Sender<Event>,
    pub waker: Option<Waker>,
}

impl Sink {
    pub(crate) fn send(&self, event: Event) {
        // The receiver is gone only when the app is shutting down; nothing to tell then.
        if self.tx.send(event).is_ok()
            && let Some(w) = &self.waker
        {
            w();
        }
    }
}

/// How long after the script's last `safepoint()` call reloads still wait for the next one.
const SAFEPOINT_FRESH: Duration = Duration::from_millis(500);
/// How long a queued reload waits for a safe point before the worker applies it itself.
const SAFEPOINT_WAIT: Duration = Duration::from_secs(2);
/// How long a reload waits for a save still being written to its file: the watcher's longest
/// hold, and a little.
const WRITE_WAIT: Duration = Duration::from_millis(400);
/// The switch interval during a reload, in seconds: long enough for any reload, short enough
/// that a CPU-bound thread which takes the GIL at the hand-over delays the reload only this long.
const RELOAD_SWITCH_INTERVAL: f64 = 2.0;

/// Sources longer than this are not sent for the window's diff.
const DIFF_SOURCE_MAX: usize = 2 * 1024 * 1024;

/// A reload waiting for a safe point.
struct Job {
    id: u64,
    module: String,
    work: Work,
    done: Sender<()>,
}

/// What a queued job does in its module at the safe point.
enum Work {
    Reload(ReloadOptions),
    /// A hotfix snippet (`Command::Hotfix`): it runs where reloads run, for the same reason.
    Hotfix(String),
}

/// Reloads waiting for the script's next `swapscope.safepoint()`.
pub(crate) struct Safepoints {
    queue: Mutex<VecDeque<Job>>,
    /// Milliseconds since `epoch` of the last `safepoint()` call; 0 = never.
    last_call: AtomicU64,
    epoch: Instant,
    next_id: AtomicU64,
    /// Files the watcher sees being written: a reload waits for them (see `wait_for_save`).
    pub writing: crate::watch::WritingFiles,
}

impl Safepoints {
    fn new() -> Self {
        Safepoints {
            queue: Mutex::new(VecDeque::new()),
            last_call: AtomicU64::new(0),
            epoch: Instant::now(),
            next_id: AtomicU64::new(1),
            writing: crate::watch::WritingFiles::default(),
        }
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<Job>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether the script called `safepoint()` recently enough to be waited for.
    fn active(&self) -> bool {
        let last = self.last_call.load(Ordering::Relaxed);
        let fresh = u64::try_from(SAFEPOINT_FRESH.as_millis()).unwrap_or(u64::MAX);
        last != 0 && self.now_ms() <= last.saturating_add(fresh)
    }

    fn mark(&self) {
        self.last_call
            .store(self.now_ms().max(1), Ordering::Relaxed);
    }

    fn anything_being_written(&self) -> bool {
        !self
            .writing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    fn take(&self, id: u64) -> Option<Job> {
        let mut q = self.queue();
        let pos = q.iter().position(|j| j.id == id)?;
        q.remove(pos)
    }
}

/// What a running runtime gives the service: where events go, the policy, the safe points.
pub(crate) struct Connection {
    pub sink: Sink,
    pub policy: Arc<Mutex<PolicyFile>>,
    pub safepoints: Safepoints,
    /// Send each applied reload's old and new source (only the window shows diffs).
    pub with_sources: bool,
}

impl Connection {
    pub(crate) fn new(sink: Sink, policy: PolicyFile, with_sources: bool) -> Self {
        Connection {
            sink,
            policy: Arc::new(Mutex::new(policy)),
            safepoints: Safepoints::new(),
            with_sources,
        }
    }

    pub(crate) fn policy(&self) -> MutexGuard<'_, PolicyFile> {
        self.policy.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The process's reload service (one interpreter, one service). See the module doc.
pub struct ReloadService {
    connection: RwLock<Option<Arc<Connection>>>,
    /// Python callables registered with `swapscope.on_reload`.
    listeners: Mutex<Vec<Py<PyAny>>>,
    /// Per module, the source texts it had before each applied reload, oldest first: what an
    /// undo puts back (texts are shared with the tracker, not copied).
    versions: Mutex<std::collections::HashMap<String, Vec<Arc<str>>>>,
}

impl ReloadService {
    /// The service of this process.
    pub fn get() -> &'static ReloadService {
        static SERVICE: OnceLock<ReloadService> = OnceLock::new();
        SERVICE.get_or_init(|| ReloadService {
            connection: RwLock::new(None),
            listeners: Mutex::new(Vec::new()),
            versions: Mutex::new(std::collections::HashMap::new()),
        })
    }

    /// From now on reports go to this runtime, with its policy and safe points.
    pub(crate) fn connect(&self, connection: Arc<Connection>) {
        *self
            .connection
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(connection);
    }

    fn connection(&self) -> Option<Arc<Connection>> {
        self.connection
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn versions(&self) -> MutexGuard<'_, std::collections::HashMap<String, Vec<Arc<str>>>> {
        self.versions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many earlier versions of `module` an undo can put back.
    pub fn undo_steps(&self, module: &str) -> usize {
        self.versions().get(module).map_or(0, Vec::len)
    }

    fn listeners(&self) -> MutexGuard<'_, Vec<Py<PyAny>>> {
        self.listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Calls `callback(report)` after every reload (not dry runs).
    pub fn on_reload(&self, callback: Py<PyAny>) {
        self.listeners().push(callback);
    }

    /// Removes a listener; true if it was registered.
    pub fn off_reload(&self, callback: &Bound<'_, PyAny>) -> bool {
        let removed: Vec<Py<PyAny>> = {
            let mut list = self.listeners();
            let (gone, kept) = std::mem::take(&mut *list)
                .into_iter()
                .partition(|l| l.is(callback));
            *list = kept;
            gone
        };
        // Dropped after the lock is released: a finaliser may call back into swapscope.
        !removed.is_empty()
    }

    /// Reloads `name` now, on this thread: the policy's overrides under the explicit ones, the
    /// switch interval raised, the report sent to the front end and to the listeners.
    pub fn reload(
        &self,
        py: Python<'_>,
        name: &str,
        opts: &ReloadOptions,
    ) -> Result<ReloadReport, EngineError> {
        let connection = self.connection();
        let combined;
        let opts = match &connection {
            Some(c) => {
                let saved = c.policy().policy.overrides(name);
                combined = ReloadOptions {
                    overrides: crate::policy::combine(&saved, &opts.overrides),
                    ..opts.clone()
                };
                &combined
            }
            None => opts,
        };
        let old = tracker::get(name).and_then(|t| t.source.clone());
        // An undo reloads the newest earlier version; it is taken off the list only when the
        // undo applied, so that a failed one can be tried again.
        let undoing;
        let opts = if opts.undo && !opts.dry_run {
            let earlier = self
                .versions()
                .get(name)
                .and_then(|v| v.last().cloned())
                .ok_or_else(|| EngineError::NothingToUndo(name.to_string()))?;
            undoing = ReloadOptions {
                source: Some(earlier),
                ..opts.clone()
            };
            &undoing
        } else {
            opts
        };
        let report = with_switch_interval(py, || engine::reload(py, name, opts))?;
        if !report.dry_run && report.outcome == Outcome::Applied {
            let mut versions = self.versions();
            let list = versions.entry(name.to_string()).or_default();
            if report.undo {
                list.pop();
            } else if let Some(old) = old.clone() {
                list.push(old);
                if list.len() > UNDO_STEPS {
                    list.remove(0);
                }
            }
        }
        if let Some(c) = &connection {
            c.sink.send(Event::ReloadFinished(report.clone()));
            let applied = !report.dry_run && report.outcome == Outcome::Applied;
            if c.with_sources && applied {
                let new = tracker::get(name).and_then(|t| t.source.clone());
                // A diff of a generated multi-megabyte file helps nobody and costs every
                // client (and the socket) its size twice.
                let shown = |s: Option<Arc<str>>| {
                    s.filter(|s| s.len() <= DIFF_SOURCE_MAX)
                        .map(|s| s.to_string())
                };
                c.sink.send(Event::ReloadSources {
                    id: report.id,
                    old: shown(old),
                    new: shown(new),
                });
            }
        }
        self.notify_listeners(py, &report);
        Ok(report)
    }

    /// Calls the `on_reload` listeners with the report (not for dry runs). A listener that
    /// raises is reported through `sys.unraisablehook` and the others still run.
    fn notify_listeners(&self, py: Python<'_>, report: &ReloadReport) {
        if report.dry_run {
            return;
        }
        // Copied out so a listener may register or remove listeners without deadlocking.
        let current: Vec<Py<PyAny>> = self.listeners().iter().map(|l| l.clone_ref(py)).collect();
        if current.is_empty() {
            return;
        }
        let dict = match engine::report_dict(py, report) {
            Ok(d) => d,
            Err(e) => {
                e.write_unraisable(py, None);
                return;
            }
        };
        for listener in current {
            let listener = listener.bind(py);
            if let Err(e) = listener.call1((dict.clone(),)) {
                e.write_unraisable(py, Some(listener));
            }
        }
    }

    /// Reloads `module` for the front end: at the script's next safe point when it has them,
    /// otherwise now. Waits until it ran; a reload that cannot start is sent as
    /// `Event::ReloadRefused`. Call it without the GIL.
    pub(crate) fn request(&self, module: String, opts: ReloadOptions) {
        self.request_all(vec![(module, opts)]);
    }

    /// Reloads modules for the front end, in order, each with its options: queued together, so
    /// that the script's next safe point applies them all (not one per iteration of its loop);
    /// otherwise now. Waits until they ran, as [`ReloadService::request`] does.
    pub(crate) fn request_all(&self, jobs: Vec<(String, ReloadOptions)>) {
        let Some(c) = self.connection() else {
            return;
        };
        let safepoints = &c.safepoints;
        let (queued, now): (Vec<_>, Vec<_>) = jobs
            .into_iter()
            .partition(|(_, opts)| !opts.dry_run && safepoints.active());
        for (module, opts) in &now {
            self.run_now(&c, module, opts);
        }
        let mut waiting = Vec::with_capacity(queued.len());
        for (module, opts) in queued {
            let (done_tx, done_rx) = bounded(1);
            let id = safepoints.next_id.fetch_add(1, Ordering::Relaxed);
            // Told before it is queued: the script may apply it at once.
            c.sink.send(Event::ReloadQueued {
                module: ModuleName(module.clone()),
            });
            safepoints.queue().push_back(Job {
                id,
                module,
                work: Work::Reload(opts),
                done: done_tx,
            });
            waiting.push((id, done_rx));
        }
        let deadline = Instant::now() + SAFEPOINT_WAIT;
        for (id, done_rx) in waiting {
            let left = deadline.saturating_duration_since(Instant::now());
            if done_rx.recv_timeout(left).is_ok() {
                continue;
            }
            // The script stopped calling safepoint(): apply it here, unless it just started there.
            match safepoints.take(id) {
                Some(job) => self.run_job_now(&c, &job.module, &job.work),
                None => {
                    done_rx.recv().ok();
                }
            }
        }
    }

    /// Runs a hotfix snippet for the front end, as reloads run: at the script's next safe point
    /// when it has them, otherwise now, with the switch interval raised. Waits until it ran;
    /// its report is sent as `Event::HotfixFinished` either way. Call it without the GIL.
    pub(crate) fn request_hotfix(&self, module: String, code: String) {
        let Some(c) = self.connection() else {
            return;
        };
        let safepoints = &c.safepoints;
        if !safepoints.active() {
            Python::attach(|py| self.hotfix(py, &module, &code));
            return;
        }
        let (done_tx, done_rx) = bounded(1);
        let id = safepoints.next_id.fetch_add(1, Ordering::Relaxed);
        safepoints.queue().push_back(Job {
            id,
            module,
            work: Work::Hotfix(code),
            done: done_tx,
        });
        if done_rx.recv_timeout(SAFEPOINT_WAIT).is_ok() {
            return;
        }
        // The script stopped calling safepoint(): run it here, unless it just started there.
        match safepoints.take(id) {
            Some(job) => self.run_job_now(&c, &job.module, &job.work),
            None => {
                done_rx.recv().ok();
            }
        }
    }

    /// Runs a hotfix snippet now, on this thread, with the switch interval raised (other
    /// threads must not see it half-run), and sends its report to the front end.
    pub fn hotfix(&self, py: Python<'_>, module: &str, code: &str) -> engine::HotfixRun {
        let run = with_switch_interval(py, || engine::hotfix(py, module, code));
        if let Some(c) = self.connection() {
            c.sink.send(Event::HotfixFinished(run.report.clone()));
        }
        run
    }

    /// A queued job the script's safe point did not take in time, run here.
    fn run_job_now(&self, c: &Connection, module: &str, work: &Work) {
        match work {
            Work::Reload(opts) => self.run_now(c, module, opts),
            Work::Hotfix(code) => {
                Python::attach(|py| self.hotfix(py, module, code));
            }
        }
    }

    fn run_now(&self, c: &Connection, module: &str, opts: &ReloadOptions) {
        if !opts.dry_run {
            wait_for_save(&c.safepoints.writing, module);
        }
        if let Err(e) = Python::attach(|py| self.reload(py, module, opts)) {
            c.sink.send(Event::ReloadRefused {
                module: ModuleName(module.to_string()),
                reason: e.to_string(),
            });
        }
    }

    /// `swapscope.safepoint()`: runs the queued reloads on the script's own thread; returns how
    /// many ran. A Ctrl+C during one of them is raised to the script (the rest stay queued).
    pub fn safepoint(&self, py: Python<'_>) -> PyResult<usize> {
        let Some(c) = self.connection() else {
            return Ok(0);
        };
        let safepoints = &c.safepoints;
        safepoints.mark();
        let mut n = 0;
        loop {
            let Some(job) = safepoints.queue().pop_front() else {
                break;
            };
            let opts = match &job.work {
                Work::Reload(opts) => opts,
                Work::Hotfix(code) => {
                    let run = self.hotfix(py, &job.module, code);
                    job.done.send(()).ok();
                    n += 1;
                    if run.interrupted {
                        // The user's Ctrl+C (or a snippet that raised KeyboardInterrupt) goes on
                        // to the program, as for a reload; the other jobs stay queued.
                        return Err(pyo3::exceptions::PyKeyboardInterrupt::new_err(format!(
                            "the hotfix in {:?} was interrupted",
                            job.module
                        )));
                    }
                    continue;
                }
            };
            if safepoints.anything_being_written() {
                py.detach(|| wait_for_save(&safepoints.writing, &job.module));
            }
            let result = self.reload(py, &job.module, opts);
            job.done.send(()).ok();
            match result {
                Ok(_) => {}
                Err(e @ EngineError::Interrupted(_)) => return Err(e.into()),
                Err(e) => c.sink.send(Event::ReloadRefused {
                    module: ModuleName(job.module.clone()),
                    reason: e.to_string(),
                }),
            }
            n += 1;
        }
        Ok(n)
    }
}

/// Waits (without the GIL) while the module's file is being written, so a reload that runs
/// later than the save it was queued for (at a safe point) does not read the next save half-way.
fn wait_for_save(writing: &crate::watch::WritingFiles, module: &str) {
    if let Some(tracked) = tracker::get(module) {
        crate::watch::wait_until_written(writing, &tracked.path, WRITE_WAIT);
    }
}

/// What the reloads running now (on any thread) changed, for the last one to put back.
struct Raised {
    /// How many reloads are running.
    count: usize,
    /// The switch interval to restore.
    interval: Option<f64>,
    /// True when the first reload turned the garbage collector off (it was on).
    collector_off: bool,
}

static RAISED: Mutex<Raised> = Mutex::new(Raised {
    count: 0,
    interval: None,
    collector_off: false,
});

fn raised() -> std::sync::MutexGuard<'static, Raised> {
    RAISED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether a reload (or hotfix) is running now, on any thread: code it runs must not let the GIL
/// go (see `OutputWriter::write`).
pub(crate) fn reloading() -> bool {
    raised().count > 0
}

/// Runs `f` so that other Python threads do not run (and see a half-merged module) while the
/// GIL is held by a reload: the switch interval raised, and the garbage collector off (a
/// collection runs the finalizers of whatever garbage the program left, and one that blocks
/// (closes a file, sleeps) lets the GIL go; the collection runs after the reload instead).
/// Reloads may overlap (the worker's and a safe point's hand the GIL over between them): the
/// first raises, the last restores.
pub fn with_switch_interval<T>(py: Python<'_>, f: impl FnOnce() -> T) -> T {
    /// Ends this reload's share on every way out (a panic included).
    struct Lowered<'py> {
        sys: Option<Bound<'py, PyModule>>,
        gc: Option<Bound<'py, PyModule>>,
    }
    impl Drop for Lowered<'_> {
        fn drop(&mut self) {
            let mut raised = raised();
            raised.count = raised.count.saturating_sub(1);
            if raised.count > 0 {
                return;
            }
            // Restoring what sys and gc gave can only fail on a broken interpreter.
            if let (Some(previous), Some(sys)) = (raised.interval.take(), &self.sys) {
                sys.call_method1("setswitchinterval", (previous,)).ok();
            }
            if let (true, Some(gc)) = (std::mem::take(&mut raised.collector_off), &self.gc) {
                gc.call_method0("enable").ok();
            }
        }
    }
    let lowered = Lowered {
        sys: py.import("sys").ok(),
        gc: py.import("gc").ok(),
    };
    let first = {
        let mut raised = raised();
        raised.count += 1;
        if raised.count == 1 {
            if let Some(sys) = &lowered.sys {
                raised.interval = sys
                    .call_method0("getswitchinterval")
                    .and_then(|v| v.extract())
                    .ok();
                // Raising it can only fail on a broken sys; the reload then runs with the
                // default.
                if raised.interval.is_some() {
                    sys.call_method1("setswitchinterval", (RELOAD_SWITCH_INTERVAL,))
                        .ok();
                }
            }
            if let Some(gc) = &lowered.gc {
                let on = gc
                    .call_method0("isenabled")
                    .and_then(|v| v.is_truthy())
                    .unwrap_or(false);
                raised.collector_off = on && gc.call_method0("disable").is_ok();
            }
        }
        raised.count == 1
    };
    if first && others_run_python(py) {
        // A thread already waiting for the GIL waits with the old interval: when that wait runs
        // out and no other thread has taken the GIL since it began, it asks for the GIL back,
        // mid-reload. So make another thread take the GIL once: every waiter then waits anew,
        // with the raised interval. A waiter may take it first (a switch all the same); the
        // helper thread then takes it after. A mere yield was not enough: the waiters had often
        // not woken before this thread took the GIL back (3.9 saw it most).
        py.detach(|| {
            let helper = std::thread::Builder::new()
                .name("swapscope-handover".into())
                .spawn(|| Python::attach(|_| ()));
            match helper {
                Ok(helper) => {
                    let _ = helper.join();
                }
                // No thread to be had: a yield, which often makes the switch too.
                Err(_) => std::thread::yield_now(),
            }
        });
    }
    f()
}

/// Whether a thread other than this one has Python code running (or waiting for the GIL).
fn others_run_python(py: Python<'_>) -> bool {
    let frames = py
        .import("sys")
        .and_then(|sys| sys.call_method0("_current_frames"));
    let me = py
        .import("_thread")
        .and_then(|t| t.call_method0("get_ident"));
    let (Ok(frames), Ok(me)) = (frames, me) else {
        return true;
    };
    frames.try_iter().map_or(true, |ids| {
        ids.flatten().any(|id| !id.eq(&me).unwrap_or(false))
    })
}
