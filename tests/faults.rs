//! Panic boundaries, proven by injecting panics (`swapscope::fault`): a panic inside swapscope
//! becomes a Python exception at the API, a problem event in the worker (which goes on), or a
//! reported crash of the worker; never a dead interpreter or a silent stop.
//!
//! The armed fault is process-wide, so the tests of this binary take turns (`SERIAL`).

mod common;
mod engine_support;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use swapscope::fault::{Site, arm};
use swapscope::runtime::{Command, Config, Event, Runtime};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn panic_in_a_reload_becomes_a_runtime_error_and_restores_the_module() {
    let _turn = serial();
    let p = engine_support::project();
    p.write(
        "fault_merge_m",
        "DAMAGE = 10\n\ndef f():\n    return 'old'\n",
    );
    p.run(
        r"
        import fault_merge_m as m
        from fault_merge_m import f
        before = snapshot(m)
        ",
    );
    p.write(
        "fault_merge_m",
        "DAMAGE = 20\n\ndef f():\n    return 'new'\n",
    );
    arm(Site::Merge);
    p.run(
        r"
        try:
            swapscope.reload('fault_merge_m')
        except RuntimeError as e:
            message = str(e)
        else:
            raise AssertionError('the panic did not surface')
        assert 'swapscope panicked while merging fault_merge_m' in message, message
        assert 'injected fault at Merge' in message and 'please report it' in message, message
        assert_identical(m, before)
        assert m.DAMAGE == 10 and f() == 'old'
        # The interpreter and swapscope go on: the same reload now applies.
        r = swapscope.reload('fault_merge_m')
        assert r['outcome'] == 'applied', show(r)
        assert m.DAMAGE == 20 and f() == 'new'
        ",
    );
}

#[test]
fn panic_after_the_body_ran_unwinds_to_a_restored_module() {
    let _turn = serial();
    let p = engine_support::project();
    p.write(
        "fault_pass1_m",
        "DAMAGE = 10\n\ndef f():\n    return 'old'\n",
    );
    p.run(
        r"
        import fault_pass1_m as m
        from fault_pass1_m import f
        before = snapshot(m)
        ",
    );
    p.write(
        "fault_pass1_m",
        "DAMAGE = 20\nEXTRA = 1\n\ndef f():\n    return 'new'\n",
    );
    // The panic unwinds out of the reload with the new body's objects in the module's dict;
    // the restore guard puts the old mapping back on the way out.
    arm(Site::Classes);
    p.run(
        r"
        try:
            swapscope.reload('fault_pass1_m')
        except RuntimeError as e:
            message = str(e)
        else:
            raise AssertionError('the panic did not surface')
        assert 'swapscope panicked while reloading fault_pass1_m' in message, message
        assert 'injected fault at Classes' in message, message
        assert_identical(m, before)
        assert not hasattr(m, 'EXTRA') and m.DAMAGE == 10 and f() == 'old'
        ",
    );
}

/// A runtime on a script that waits for a stop file.
fn start(dir: &std::path::Path) -> Runtime {
    let script = dir.join("fault_main.py");
    let stop = dir.join("stop");
    std::fs::write(
        &script,
        format!(
            "import os, time\nwhile not os.path.exists({:?}):\n    time.sleep(0.02)\n",
            stop.to_string_lossy()
        ),
    )
    .expect("write script");
    Runtime::start(
        Config {
            script,
            capture_output: true,
            ..Config::default()
        },
        None,
    )
}

/// Events until `pred` matches; `None` when the channel closed first.
fn wait(rt: &Runtime, what: &str, mut pred: impl FnMut(&Event) -> bool) -> Option<Event> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no {what} within 30 s");
        match rt.events.recv_timeout(left) {
            Ok(e) if pred(&e) => return Some(e),
            Ok(_) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return None,
        }
    }
}

fn stop(dir: &std::path::Path, rt: &Runtime) {
    std::fs::write(dir.join("stop"), "").expect("write stop file");
    wait(rt, "ScriptExited", |e| {
        matches!(e, Event::ScriptExited { .. })
    });
}

#[test]
fn panic_in_a_worker_command_is_reported_and_the_worker_goes_on() {
    let _turn = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = start(dir.path());
    wait(&rt, "Started", |e| matches!(e, Event::Started { .. })).expect("started");
    arm(Site::WorkerCommand);
    rt.commands.send(Command::ListModules).expect("send");
    let problem = wait(&rt, "Problem", |e| matches!(e, Event::Problem(_)));
    let Some(Event::Problem(text)) = problem else {
        panic!("the worker closed its channel instead of reporting the panic");
    };
    assert!(
        text.contains("swapscope failed while listing modules")
            && text.contains("injected fault at WorkerCommand")
            && text.contains("the worker goes on"),
        "{text}"
    );
    rt.commands.send(Command::ListModules).expect("send");
    let modules = wait(&rt, "Modules", |e| matches!(e, Event::Modules(_)));
    assert!(modules.is_some(), "the worker answers after the panic");
    stop(dir.path(), &rt);
    rt.shutdown();
}

#[test]
fn a_crashed_worker_says_why() {
    let _turn = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    arm(Site::WorkerThread);
    let rt = start(dir.path());
    let died = wait(&rt, "WorkerDied", |e| matches!(e, Event::WorkerDied(_)));
    let Some(Event::WorkerDied(text)) = died else {
        panic!("the channel closed without WorkerDied");
    };
    assert!(
        text.contains("the Python worker crashed (injected fault at WorkerThread)")
            && text.contains("reloads are no longer possible"),
        "{text}"
    );
    rt.shutdown();
}
