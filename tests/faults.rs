//! Panic boundaries, proven by injecting panics (`swapscope::fault`): a panic inside swapscope
//! becomes a Python exception at the API, a problem event in the worker (which goes on), a
//! message printed by the import hook (the import goes on), or a reported crash of the worker;
//! never a dead interpreter or a silent stop.
//!
//! The armed fault is process-wide, so the tests of this binary take turns (`SERIAL`).
#![cfg(feature = "embedded")]

mod common;

use std::sync::Mutex;

use common::engine::project;
use common::runtime::{LONG, Session, captured, idle_script};
use swapscope::fault::{Site, arm};
use swapscope::runtime::{Command, Event};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn panic_in_a_reload_becomes_a_runtime_error_and_restores_the_module() {
    let _turn = serial();
    let p = project();
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
    let p = project();
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

/// A session on a script that waits until stopped.
fn start() -> Session {
    Session::start(
        &[("fault_main.py", &idle_script())],
        "fault_main.py",
        captured(),
    )
}

#[test]
fn panic_in_a_worker_command_is_reported_and_the_worker_goes_on() {
    let _turn = serial();
    let mut s = start();
    s.wait_for("Started", LONG, |e| matches!(e, Event::Started { .. }));
    arm(Site::WorkerCommand);
    s.send(Command::ListModules);
    let Event::Problem(text) = s.wait_for("Problem", LONG, |e| matches!(e, Event::Problem(_)))
    else {
        unreachable!()
    };
    assert!(
        text.contains("swapscope failed while listing modules")
            && text.contains("injected fault at WorkerCommand")
            && text.contains("the worker goes on"),
        "{text}"
    );
    // The worker answers after the panic.
    s.send(Command::ListModules);
    s.wait_for("Modules", LONG, |e| matches!(e, Event::Modules(_)));
    s.stop();
}

#[test]
fn a_crashed_worker_says_why() {
    let _turn = serial();
    arm(Site::WorkerThread);
    let mut s = start();
    let Event::WorkerDied(text) =
        s.wait_for("WorkerDied", LONG, |e| matches!(e, Event::WorkerDied(_)))
    else {
        unreachable!()
    };
    assert!(
        text.contains("the Python worker crashed (injected fault at WorkerThread)")
            && text.contains("reloads are no longer possible"),
        "{text}"
    );
}

/// The loader prints the hook's failure and the module works, but nothing was recorded: it is
/// not tracked, and a reload goes through like one of a module loaded before tracking (no
/// baseline: live data stays, functions take the new code), after which it is tracked.
#[test]
fn a_panic_in_the_import_hook_is_printed_and_the_import_goes_on_untracked_until_reloaded() {
    let _turn = serial();
    let p = project();
    p.write(
        "fault_hook_m",
        "DAMAGE = 10\n\ndef f():\n    return 'old'\n",
    );
    arm(Site::ImportHook);
    p.run(
        r#"
        import contextlib, io
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            import fault_hook_m as m
        from fault_hook_m import f
        printed = err.getvalue()
        assert printed.startswith("swapscope: could not track 'fault_hook_m': "), printed
        assert 'swapscope failed inside its import hook' in printed, printed
        assert 'injected fault at ImportHook' in printed, printed
        assert m.DAMAGE == 10 and f() == 'old'
        # The hook recorded nothing: the module is listed as a project module, not tracked.
        (info,) = [i for i in swapscope.modules() if i['name'] == 'fault_hook_m']
        assert info['group'] == 'project' and not info['tracked'], info
        "#,
    );
    p.write(
        "fault_hook_m",
        "DAMAGE = 20\n\ndef f():\n    return 'new'\n",
    );
    p.run(
        r"
        r = swapscope.reload('fault_hook_m')
        assert r['outcome'] == 'applied', show(r)
        assert m.f is f and f() == 'new'
        e = expect(r, 'DAMAGE', 'kept_live')
        assert 'no baseline' in e['note'], e
        assert m.DAMAGE == 10
        (info,) = [i for i in swapscope.modules() if i['name'] == 'fault_hook_m']
        assert info['tracked'], info
        ",
    );
}
