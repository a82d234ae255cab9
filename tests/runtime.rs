//! The runtime driven over its channels: `Runtime::start`, then `Command`s in and `Event`s out.
//!
//! Every `Runtime` of one process shares one interpreter: one `sys.modules`, `sys.stdout`,
//! `sys.argv`, `__main__`, and the process's reload service (`swapscope::runtime::ReloadService`),
//! which each `Runtime::start` connects to itself. So under `cargo test` (one process, test
//! threads) the tests run one runtime after the other (`common::runtime::Session`); every script
//! stops at a stop file (or a deadline) and a session waits for it before the next one starts.
//! Each test has its own temp folder and module names, so the modules left in `sys.modules` do not
//! collide. `cargo nextest` runs each test in its own process, where the lock is free.
#![cfg(feature = "embedded")]

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::runtime::{
    LONG, LOOP_PRELUDE, Session, assert_switched_keeping_count, captured, counter_module,
    idle_script, looping_script, reload_cmd, steps_in,
};
use common::{canon, dedent};
use crossbeam_channel::RecvTimeoutError;
use swapscope::engine::{Group, Outcome, ReloadReport};
use swapscope::runtime::{Command, Config, Event, ModuleName, Runtime};

#[test]
fn first_event_is_started_with_the_python_version() {
    // The pause keeps this test about Started's content; the order against a script that prints
    // at once is `started_comes_before_any_script_output`.
    let script =
        "import sys, time\ntime.sleep(0.3)\nprint('version', sys.version.split()[0], flush=True)\n";
    let mut s = Session::start(
        &[("rt_started_main.py", script)],
        "rt_started_main.py",
        captured(),
    );
    let first = s.next(LONG).expect("an event");
    let Event::Started {
        python_version,
        roots,
        script,
    } = first
    else {
        panic!("first event must be Started, got {first:?}\n{}", s.story());
    };
    assert_eq!(script, s.path("rt_started_main.py"));
    assert!(script.is_absolute(), "{script:?}");
    assert_eq!(
        roots.first().map(|r| canon(r)),
        Some(canon(s.dir.path())),
        "the script's folder is the first root: {roots:?}"
    );
    assert_eq!(s.wait_exit(LONG), 0, "{}", s.story());
    assert_eq!(
        s.stdout,
        format!("version {python_version}\n"),
        "Started names the interpreter's own version"
    );
    assert!(python_version.starts_with("3."), "{python_version}");
}

#[test]
fn started_comes_before_any_script_output() {
    // The race is narrow; with a warm interpreter it shows within a few runs.
    for round in 0..100 {
        let file = format!("rt_order_main_{round}.py");
        let mut s = Session::start(&[(&file, "print('at once')\n")], &file, captured());
        let first = s.next(LONG).expect("an event");
        assert!(
            matches!(first, Event::Started { .. }),
            "round {round}: the first event must be Started, got {first:?}"
        );
        assert_eq!(s.wait_exit(LONG), 0, "{}", s.story());
        assert_eq!(s.stdout, "at once\n");
    }
}

#[test]
fn start_fails_for_a_missing_script() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("rt_no_such_script.py");
    let rt = Runtime::start(
        Config {
            script: missing.clone(),
            ..captured()
        },
        None,
    );
    let first = rt.events.recv_timeout(LONG).expect("an event");
    let Event::StartFailed(message) = first else {
        panic!("expected StartFailed, got {first:?}");
    };
    assert!(
        message.contains(&missing.display().to_string()),
        "the message names the path: {message}"
    );
    assert!(message.contains("no such file"), "{message}");
    // The worker stops: no more events, the channel closes.
    assert!(matches!(
        rt.events.recv_timeout(LONG),
        Err(RecvTimeoutError::Disconnected)
    ));
}

#[test]
fn start_fails_for_a_directory_as_script() {
    let dir = tempfile::tempdir().expect("temp dir");
    let folder = dir.path().join("rt_a_folder.py");
    std::fs::create_dir(&folder).expect("mkdir");
    let rt = Runtime::start(
        Config {
            script: folder.clone(),
            ..captured()
        },
        None,
    );
    let first = rt.events.recv_timeout(LONG).expect("an event");
    let Event::StartFailed(message) = first else {
        panic!("expected StartFailed, got {first:?}");
    };
    assert!(
        message.contains(&folder.display().to_string()),
        "the message names the path: {message}"
    );
    assert!(message.contains("directory"), "{message}");
    assert!(matches!(
        rt.events.recv_timeout(LONG),
        Err(RecvTimeoutError::Disconnected)
    ));
}

#[test]
fn captured_output_arrives_as_events_per_stream() {
    let script = dedent(
        r#"
        import sys
        print("rt-out one")
        print("rt-err one", file=sys.stderr)
        sys.stdout.write("rt-out two\n")
        print("rt-out three", end="")
        "#,
    );
    let mut s = Session::start(
        &[("rt_capture_main.py", &script)],
        "rt_capture_main.py",
        captured(),
    );
    assert_eq!(s.wait_exit(LONG), 0, "{}", s.story());
    assert_eq!(s.stdout, "rt-out one\nrt-out two\nrt-out three");
    assert_eq!(s.stderr, "rt-err one\n");
}

#[test]
fn script_exited_carries_the_exit_code() {
    let cases: [(&str, &str, i32, &[&str]); 4] = [
        ("rt_exit_normal", "print('done')\n", 0, &[]),
        ("rt_exit_three", "import sys\nsys.exit(3)\n", 3, &[]),
        (
            "rt_exit_message",
            "import sys\nsys.exit('rt exit message here')\n",
            1,
            &["rt exit message here"],
        ),
        (
            "rt_exit_raises",
            "def rt_exit_f():\n    raise ValueError('rt boom value')\nrt_exit_f()\n",
            1,
            &[
                "Traceback (most recent call last)",
                "rt_exit_raises.py\", line 2, in rt_exit_f",
                "ValueError: rt boom value",
            ],
        ),
    ];
    for (name, source, code, stderr_has) in cases {
        let file = format!("{name}.py");
        let mut s = Session::start(&[(&file, source)], &file, captured());
        assert_eq!(s.wait_exit(LONG), code, "{name}\n{}", s.story());
        for needle in stderr_has {
            assert!(
                s.stderr.contains(needle),
                "{name}: stderr lacks {needle:?}\n{}",
                s.story()
            );
        }
        if stderr_has.is_empty() {
            assert_eq!(s.stderr, "", "{name}");
        }
        // The script ended (even by an exception); the app did not: the worker still answers.
        s.send(Command::ListModules);
        s.wait_for("Modules after the script ended", LONG, |e| {
            matches!(e, Event::Modules(_))
        });
    }
}

#[test]
fn reload_is_applied_at_the_next_safepoint_and_keeps_live_state() {
    let module = "rt_sp_counter";
    let mut s = Session::start(
        &[
            (&format!("{module}.py"), &counter_module("v1")),
            ("rt_sp_main.py", &looping_script(module, true)),
        ],
        "rt_sp_main.py",
        captured(),
    );
    s.wait_stdout("v1 count=3\n", LONG);
    std::fs::write(s.path(&format!("{module}.py")), counter_module("v2")).expect("write");
    s.send(reload_cmd(module));
    let queued_at = s.log.len();
    let report = s.wait_report(module, LONG);
    let stdout_at_report = s.stdout.clone();
    assert_eq!(report.outcome, Outcome::Applied, "{}", s.story());
    assert!(
        s.log[queued_at..]
            .iter()
            .any(|e| matches!(e, Event::ReloadQueued { module: m } if m.0 == module)),
        "ReloadQueued comes before ReloadFinished\n{}",
        s.story()
    );
    s.wait_stdout("v2 count=", LONG);
    let target = s.steps().len() + 3;
    s.wait_stdout(&format!(" count={target}\n"), LONG);
    assert_eq!(s.stop(), 0, "{}", s.story());

    // Applied on the script's own thread, between two iterations: every line printed before the
    // report is v1, every one after is v2.
    let script_thread = s.idents("script on");
    assert_eq!(s.idents("body v2 on"), script_thread, "{}", s.story());
    assert!(
        steps_in(&stdout_at_report).iter().all(|(v, _)| v == "v1"),
        "{}",
        s.story()
    );
    assert!(
        steps_in(&s.stdout[stdout_at_report.len()..])
            .iter()
            .all(|(v, _)| v == "v2"),
        "{}",
        s.story()
    );
    assert_switched_keeping_count(&s.steps(), "v1", "v2", 3);
}

#[test]
fn reload_without_safepoints_is_applied_at_once() {
    let module = "rt_now_counter";
    let mut s = Session::start(
        &[
            (&format!("{module}.py"), &counter_module("v1")),
            ("rt_now_main.py", &looping_script(module, false)),
        ],
        "rt_now_main.py",
        captured(),
    );
    s.wait_stdout("v1 count=3\n", LONG);
    std::fs::write(s.path(&format!("{module}.py")), counter_module("v2")).expect("write");
    s.send(reload_cmd(module));
    let sent = Instant::now();
    let report = s.wait_report(module, LONG);
    assert_eq!(report.outcome, Outcome::Applied, "{}", s.story());
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "not held back waiting for a safe point: {:?}",
        sent.elapsed()
    );
    s.wait_stdout("v2 count=", LONG);
    assert_eq!(s.stop(), 0, "{}", s.story());
    assert!(
        !s.log
            .iter()
            .any(|e| matches!(e, Event::ReloadQueued { .. })),
        "a script without safe points gets no queued reloads\n{}",
        s.story()
    );
    let script_thread = s.idents("script on");
    let body_thread = s.idents("body v2 on");
    assert_eq!(body_thread.len(), 1, "{}", s.story());
    assert_ne!(body_thread, script_thread, "applied by the worker itself");
    assert_switched_keeping_count(&s.steps(), "v1", "v2", 1);
}

#[test]
fn queued_reload_is_applied_by_the_worker_when_safepoints_stop() {
    let module = "rt_stall_counter";
    let script = format!(
        "{LOOP_PRELUDE}{}",
        dedent(&format!(
            r#"
            import swapscope
            import {module} as m
            print(f"script on {{threading.get_ident()}}", flush=True)
            for _ in range(3):
                swapscope.safepoint()
                say(m.step())
                time.sleep(0.02)
            print("paused", flush=True)
            # No safe point for a while (a long level load, say).
            while running():
                time.sleep(0.01)
            print("resumed", flush=True)
            say(m.step())
            "#
        ))
    );
    let mut s = Session::start(
        &[
            (&format!("{module}.py"), &counter_module("v1")),
            ("rt_stall_main.py", &script),
        ],
        "rt_stall_main.py",
        captured(),
    );
    s.wait_stdout("paused\n", LONG);
    std::fs::write(s.path(&format!("{module}.py")), counter_module("v2")).expect("write");
    // Within the safe-point freshness window: the reload is queued first.
    s.send(reload_cmd(module));
    s.wait_for(
        "ReloadQueued",
        LONG,
        |e| matches!(e, Event::ReloadQueued { module: m } if m.0 == module),
    );
    let report = s.wait_report(module, LONG);
    assert_eq!(report.outcome, Outcome::Applied, "{}", s.story());
    assert!(
        !s.stdout.contains("resumed"),
        "applied while the script is still away from its safe points"
    );
    assert_eq!(s.stop(), 0, "{}", s.story());
    assert_ne!(
        s.idents("body v2 on"),
        s.idents("script on"),
        "{}",
        s.story()
    );
    assert_switched_keeping_count(&s.steps(), "v1", "v2", 1);
    assert_eq!(s.steps().last(), Some(&("v2".to_string(), 4)));
}

#[test]
fn saving_a_watched_file_reloads_it_in_auto_mode() {
    let module = "rt_auto_counter";
    let mut s = Session::start(
        &[
            (&format!("{module}.py"), &counter_module("v1")),
            ("rt_auto_main.py", &looping_script(module, true)),
        ],
        "rt_auto_main.py",
        Config {
            watch_files: true,
            auto_reload: true,
            ..captured()
        },
    );
    s.wait_stdout("v1 count=3\n", LONG);
    // The worker sends Policy once its watcher runs; the watcher starts after the script, so a
    // save before that would go unseen.
    if !s.log.iter().any(|e| matches!(e, Event::Policy { .. })) {
        s.wait_for("Policy", LONG, |e| matches!(e, Event::Policy { .. }));
    }
    let file = s.path(&format!("{module}.py"));
    std::fs::write(&file, counter_module("v2")).expect("save");
    let changed = s.wait_for("FilesChanged", LONG, |e| {
        matches!(e, Event::FilesChanged { .. })
    });
    let Event::FilesChanged { modules, paths } = changed else {
        unreachable!()
    };
    assert_eq!(modules, vec![ModuleName(module.into())]);
    assert!(paths.iter().any(|p| canon(p) == canon(&file)), "{paths:?}");
    let report = s.wait_report(module, Duration::from_secs(5));
    assert_eq!(report.outcome, Outcome::Applied, "{}", s.story());
    // One save, one reload.
    let more = s.collect_for(Duration::from_millis(500));
    assert!(
        !more.iter().any(|e| matches!(e, Event::ReloadFinished(_))),
        "{}",
        s.story()
    );
    s.wait_stdout("v2 count=", LONG);
    assert_eq!(s.stop(), 0, "{}", s.story());
    assert_switched_keeping_count(&s.steps(), "v1", "v2", 1);
}

#[test]
fn files_changed_and_reload_files_commands() {
    let module = "rt_cmd_counter";
    let mut s = Session::start(
        &[
            (&format!("{module}.py"), &counter_module("v1")),
            ("rt_cmd_main.py", &looping_script(module, false)),
        ],
        "rt_cmd_main.py",
        captured(),
    );
    s.wait_stdout("v1 count=2\n", LONG);
    let file = s.path(&format!("{module}.py"));
    std::fs::write(&file, counter_module("v2")).expect("save");

    // Auto reload is off: the change is reported, nothing is reloaded.
    s.send(Command::FilesChanged(vec![file.clone().into()]));
    let changed = s.wait_for("FilesChanged", LONG, |e| {
        matches!(e, Event::FilesChanged { .. })
    });
    assert_eq!(
        changed,
        Event::FilesChanged {
            modules: vec![ModuleName(module.into())],
            paths: vec![file.clone()],
        }
    );
    let more = s.collect_for(Duration::from_millis(500));
    assert!(
        !more.iter().any(|e| matches!(e, Event::ReloadFinished(_))),
        "auto reload is off\n{}",
        s.story()
    );
    assert!(!s.stdout.contains("v2 count="), "{}", s.story());

    // ReloadFiles reloads the modules of those files.
    s.send(Command::ReloadFiles(vec![file.clone()]));
    let report = s.wait_report(module, LONG);
    assert_eq!(report.outcome, Outcome::Applied, "{}", s.story());
    s.wait_stdout("v2 count=", LONG);

    // With auto reload turned on, FilesChanged reloads too.
    std::fs::write(&file, counter_module("v3")).expect("save");
    s.send(Command::SetAutoReload(true));
    s.wait_for("AutoReload(true)", LONG, |e| *e == Event::AutoReload(true));
    s.send(Command::FilesChanged(vec![file.clone().into()]));
    let report = s.wait_report(module, LONG);
    assert_eq!(report.outcome, Outcome::Applied, "{}", s.story());
    s.wait_stdout("v3 count=", LONG);
    assert_eq!(s.stop(), 0, "{}", s.story());

    let steps = s.steps();
    let counts: Vec<u32> = steps.iter().map(|(_, c)| *c).collect();
    assert_eq!(counts, (1..).take(counts.len()).collect::<Vec<u32>>());
    let versions: Vec<&str> = steps.iter().map(|(v, _)| v.as_str()).collect();
    let mut order = versions.clone();
    order.dedup();
    assert_eq!(order, ["v1", "v2", "v3"], "{versions:?}");
}

#[test]
fn unknown_module_is_refused_by_name() {
    let mut s = Session::start(
        &[("rt_refuse_main.py", &idle_script())],
        "rt_refuse_main.py",
        captured(),
    );
    s.wait_stdout("ready\n", LONG);
    s.send(reload_cmd("rt_refuse_no_such_module"));
    let refused = s.wait_for("ReloadRefused", LONG, |e| {
        matches!(e, Event::ReloadRefused { .. })
    });
    let Event::ReloadRefused { module, reason } = refused else {
        unreachable!()
    };
    assert_eq!(module.0, "rt_refuse_no_such_module");
    assert!(reason.contains("rt_refuse_no_such_module"), "{reason}");
    assert!(
        !s.log.iter().any(|e| matches!(e, Event::ReloadFinished(_))),
        "{}",
        s.story()
    );
    assert_eq!(s.stop(), 0, "{}", s.story());
}

#[test]
fn list_modules_puts_the_script_modules_in_project() {
    let script = format!(
        "{LOOP_PRELUDE}{}",
        dedent(
            r"
            import json
            import rt_list_alpha
            import rt_list_pkg.beta
            print('ready', flush=True)
            while running():
                time.sleep(0.02)
            "
        )
    );
    let mut s = Session::start(
        &[
            ("rt_list_alpha.py", "A = 1\n"),
            ("rt_list_pkg/__init__.py", ""),
            ("rt_list_pkg/beta.py", "B = 2\n"),
            ("rt_list_main.py", &script),
        ],
        "rt_list_main.py",
        captured(),
    );
    s.wait_stdout("ready\n", LONG);
    s.send(Command::ListModules);
    let Event::Modules(list) = s.wait_for("Modules", LONG, |e| matches!(e, Event::Modules(_)))
    else {
        unreachable!()
    };
    assert_eq!(s.stop(), 0, "{}", s.story());
    let find = |name: &str| {
        list.iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name} not listed"))
    };
    for (name, file) in [
        ("rt_list_alpha", "rt_list_alpha.py"),
        ("rt_list_pkg", "rt_list_pkg/__init__.py"),
        ("rt_list_pkg.beta", "rt_list_pkg/beta.py"),
    ] {
        let m = find(name);
        assert_eq!(m.group, Group::Project, "{m:?}");
        assert!(m.tracked, "{m:?}");
        assert!(!m.changed_on_disk, "{m:?}");
        let listed = PathBuf::from(m.file.as_deref().expect("file"));
        assert_eq!(canon(&listed), canon(&s.path(file)), "{m:?}");
    }
    assert_eq!(find("json").group, Group::Stdlib);
    assert_eq!(find("sys").group, Group::Builtin);
    // Project modules come first.
    let first_other = list
        .iter()
        .position(|m| m.group != Group::Project)
        .unwrap_or(list.len());
    assert!(
        list[first_other..]
            .iter()
            .all(|m| m.group != Group::Project)
    );
}

#[test]
fn frozen_stdlib_modules_are_listed_as_stdlib() {
    let script = format!(
        "{LOOP_PRELUDE}import os\nprint('ready', flush=True)\nwhile running():\n    time.sleep(0.02)\n"
    );
    let mut s = Session::start(
        &[("rt_frozen_main.py", &script)],
        "rt_frozen_main.py",
        captured(),
    );
    s.wait_stdout("ready\n", LONG);
    s.send(Command::ListModules);
    let Event::Modules(list) = s.wait_for("Modules", LONG, |e| matches!(e, Event::Modules(_)))
    else {
        unreachable!()
    };
    assert_eq!(s.stop(), 0, "{}", s.story());
    // `os` has a source file (os.__file__), it is only loaded frozen since Python 3.11.
    let os = list.iter().find(|m| m.name == "os").expect("os listed");
    assert_eq!(os.group, Group::Stdlib, "{os:?}");
    assert!(
        os.file.as_deref().is_some_and(|f| f.ends_with("os.py")),
        "{os:?}"
    );
}

#[test]
fn hundred_saves_in_a_second_are_coalesced_applied_in_order_and_all_counted() {
    let module = "rt_burst_counter";
    let mut s = Session::start(
        &[
            (&format!("{module}.py"), &counter_module("v0")),
            ("rt_burst_main.py", &looping_script(module, true)),
        ],
        "rt_burst_main.py",
        Config {
            watch_files: true,
            auto_reload: true,
            ..captured()
        },
    );
    s.wait_stdout("v0 count=3\n", LONG);
    if !s.log.iter().any(|e| matches!(e, Event::Policy { .. })) {
        s.wait_for("Policy", LONG, |e| matches!(e, Event::Policy { .. }));
    }
    let file = s.path(&format!("{module}.py"));
    let tmp = s.path(&format!("{module}.py.tmp"));
    let started = Instant::now();
    // Atomic saves (the editor way): a plain write can be read half-done under load, and that
    // reload would rightly fail; this test is about ordering and counting.
    for i in 1..=100 {
        std::fs::write(&tmp, counter_module(&format!("v{i}"))).expect("save");
        std::fs::rename(&tmp, &file).expect("rename into place");
        std::thread::sleep(Duration::from_millis(10));
    }
    let burst = started.elapsed();
    s.wait_stdout("v100 count=", LONG);
    // Anything still on its way.
    s.collect_for(Duration::from_millis(500));
    let reports: Vec<&ReloadReport> = s
        .log
        .iter()
        .filter_map(|e| match e {
            Event::ReloadFinished(r) if r.module == module => Some(r),
            _ => None,
        })
        .collect();
    let seen: Vec<(Outcome, u32)> = reports.iter().map(|r| (r.outcome, r.saves)).collect();
    assert!(
        reports.iter().all(|r| r.outcome == Outcome::Applied),
        "{seen:?}\n{}",
        s.story()
    );
    // Saves that landed while a reload ran (which read their text) come as SavesApplied.
    let late: u32 = s
        .log
        .iter()
        .filter_map(|e| match e {
            Event::SavesApplied { module: m, saves } if m.0 == module => Some(*saves),
            _ => None,
        })
        .sum();
    let saves: u32 = reports.iter().map(|r| r.saves).sum();
    assert_eq!(
        saves + late,
        100,
        "every save is counted once: {seen:?} + {late} applied late"
    );
    assert!(
        reports.len() < 50,
        "100 saves in {burst:?} made {} reloads: not coalesced",
        reports.len()
    );
    // In order: each reload ran a later version than the one before, ending with the last save.
    let versions: Vec<u32> = s
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("body v"))
        .map(|l| {
            l.split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("version")
        })
        .collect();
    assert!(
        versions.windows(2).all(|w| w[0] < w[1]),
        "versions out of order: {versions:?}"
    );
    assert_eq!(versions.last(), Some(&100));
    assert_eq!(versions.len(), reports.len() + 1, "one body run per reload");
    // The live counter was carried through every reload.
    let counts: Vec<u32> = s.steps().iter().map(|(_, c)| *c).collect();
    assert!(counts.windows(2).all(|w| w[1] == w[0] + 1), "{counts:?}");
    assert_eq!(s.stop(), 0, "{}", s.story());
}

#[test]
fn a_reload_waits_for_a_save_still_being_written() {
    use std::io::Write;
    let module = "rt_halfway_counter";
    let mut s = Session::start(
        &[
            (&format!("{module}.py"), &counter_module("v1")),
            ("rt_halfway_main.py", &looping_script(module, false)),
        ],
        "rt_halfway_main.py",
        Config {
            watch_files: true,
            ..captured()
        },
    );
    s.wait_stdout("v1 count=3\n", LONG);
    if !s.log.iter().any(|e| matches!(e, Event::Policy { .. })) {
        s.wait_for("Policy", LONG, |e| matches!(e, Event::Policy { .. }));
    }
    // A slow writer: the first half of the new source (valid Python without `step`), then the
    // rest later, and only then the close. A reload requested in between must not apply the
    // first half (which would remove `step` and break the script).
    let text = counter_module("v2");
    let cut = text.find("def step").expect("step in the source");
    let mut file = std::fs::File::create(s.path(&format!("{module}.py"))).expect("open");
    file.write_all(&text.as_bytes()[..cut]).expect("first half");
    file.flush().expect("flush");
    // Time for the watcher's thread to see the write (it may lag on a loaded machine: with
    // 60 ms this failed once under nextest with a build running beside it), well inside the
    // ~300 ms the watcher holds an open file as being written.
    std::thread::sleep(Duration::from_millis(100));
    s.send(reload_cmd(module));
    std::thread::sleep(Duration::from_millis(120));
    file.write_all(&text.as_bytes()[cut..])
        .expect("second half");
    drop(file);
    let report = s.wait_report(module, LONG);
    assert_eq!(report.outcome, Outcome::Applied, "{}", s.story());
    assert!(
        !report
            .changes
            .iter()
            .any(|c| c.name == "step" && c.action != swapscope::engine::Action::CodeSwapped),
        "step was swapped in place, not removed: {:?}",
        report.changes
    );
    s.wait_stdout("v2 count=", LONG);
    assert_eq!(s.stop(), 0, "{}", s.story());
    assert_switched_keeping_count(&s.steps(), "v1", "v2", 1);
}

/// The window's Undo (`Command::Undo`) on the real runtime: the running script goes back to the
/// version before the last reload (same objects, live count kept), reported with `undo`; with
/// nothing left to undo the runtime refuses and says why.
#[test]
fn undo_command_puts_back_the_previous_version_in_the_running_script() {
    let module = "rt_undo_counter";
    let mut s = Session::start(
        &[
            (&format!("{module}.py"), &counter_module("alpha")),
            ("rt_undo_main.py", &looping_script(module, false)),
        ],
        "rt_undo_main.py",
        captured(),
    );
    s.wait_stdout("alpha count=3\n", LONG);
    std::fs::write(s.path(&format!("{module}.py")), counter_module("beta")).expect("write");
    s.send(reload_cmd(module));
    let report = s.wait_report(module, LONG);
    assert_eq!(report.outcome, Outcome::Applied, "{}", s.story());
    assert!(!report.undo);
    s.wait_stdout("beta count=", LONG);
    s.send(Command::Undo(ModuleName(module.into())));
    let report = s.wait_report(module, LONG);
    assert_eq!(report.outcome, Outcome::Applied, "{}", s.story());
    assert!(report.undo, "{}", s.story());
    let deadline = Instant::now() + LONG;
    while s.stdout.rfind("alpha count=") < s.stdout.rfind("beta count=") {
        assert!(Instant::now() < deadline, "still beta\n{}", s.story());
        s.next(Duration::from_millis(100));
    }
    let steps = s.steps();
    let counts: Vec<u32> = steps.iter().map(|(_, c)| *c).collect();
    let expected: Vec<u32> = (1..).take(counts.len()).collect();
    assert_eq!(counts, expected, "the live count goes on: {steps:?}");
    let versions: Vec<&str> = steps.iter().map(|(v, _)| v.as_str()).collect();
    let mut phases = versions.clone();
    phases.dedup();
    assert_eq!(phases, ["alpha", "beta", "alpha"], "{steps:?}");
    s.send(Command::Undo(ModuleName(module.into())));
    let refused = s.wait_for(
        "refusal",
        LONG,
        |e| matches!(e, Event::ReloadRefused { module: m, .. } if m.0 == module),
    );
    let Event::ReloadRefused { reason, .. } = refused else {
        unreachable!()
    };
    assert!(reason.contains("nothing to undo"), "{reason}");
    assert_eq!(s.stop(), 0, "{}", s.story());
}

/// "Reload all changed" (`Command::ReloadModules`) queues every module before the script's next
/// safe point, which applies them all at once: not one module per iteration of a slow loop.
#[test]
fn reloading_several_modules_lands_at_one_safe_point() {
    let names: Vec<String> = (0..5).map(|i| format!("rt_many_{i}")).collect();
    let files: Vec<(String, String)> = names
        .iter()
        .map(|n| (format!("{n}.py"), "V = 1\n".to_string()))
        .collect();
    let imports = names.join(", ");
    let script = format!(
        "{LOOP_PRELUDE}{}",
        dedent(&format!(
            r#"
            import swapscope
            import {imports}
            print("ready", flush=True)
            while running():
                n = swapscope.safepoint()
                if n:
                    print(f"applied {{n}} at once", flush=True)
                time.sleep(0.1)
            "#
        ))
    );
    let mut all: Vec<(&str, &str)> = files
        .iter()
        .map(|(f, t)| (f.as_str(), t.as_str()))
        .collect();
    all.push(("rt_many_main.py", &script));
    let mut s = Session::start(&all, "rt_many_main.py", captured());
    s.wait_stdout("ready\n", LONG);
    for n in &names {
        std::fs::write(s.path(&format!("{n}.py")), "V = 2\n").expect("write");
    }
    s.send(Command::ReloadModules(
        names.iter().cloned().map(ModuleName).collect(),
    ));
    for n in &names {
        let report = s.wait_report(n, LONG);
        assert_eq!(report.outcome, Outcome::Applied, "{}", s.story());
    }
    s.wait_stdout("applied ", LONG);
    assert!(
        s.stdout.contains("applied 5 at once"),
        "one safe point applied all five\n{}",
        s.story()
    );
    assert_eq!(s.stop(), 0, "{}", s.story());
}

/// The hotfix console (issue 13): snippets run in a live module's namespace on the real
/// runtime, each answered by `Event::HotfixFinished`.
mod hotfix_console {
    use super::*;
    use swapscope::engine::Action;
    use swapscope::protocol::HotfixReport;

    fn hotfix(s: &mut Session, module: &str, code: &str) -> HotfixReport {
        s.send(Command::Hotfix {
            module: ModuleName(module.into()),
            code: code.into(),
        });
        match s.wait_for("a hotfix report", LONG, |e| {
            matches!(e, Event::HotfixFinished(_))
        }) {
            Event::HotfixFinished(h) => h,
            _ => unreachable!(),
        }
    }

    const BALANCE: &str = "DAMAGE = 10\ndef fire():\n    return DAMAGE\n";

    /// A script holding `fire` itself (as an event bus would) and printing what it returns
    /// whenever that changes; no safe points.
    fn script(module: &str) -> String {
        format!(
            "{LOOP_PRELUDE}{}",
            dedent(&format!(
                r#"
                import {module} as b
                held = b.fire
                print(f"script on {{threading.get_ident()}}", flush=True)
                last = None
                while running():
                    if held() != last:
                        last = held()
                        print(f"fire {{last}}", flush=True)
                    time.sleep(0.02)
                "#
            ))
        )
    }

    /// Values come back, assignments change the live module and are listed old → new, output is
    /// the snippet's own, an exception changes nothing and names its line, a redefined function
    /// keeps its identity (the script's held reference runs the fix), and without safe points
    /// it all runs at once on the worker.
    #[test]
    fn hotfixes_run_in_the_live_module_and_report_what_they_changed() {
        let module = "rt_hotfix_balance";
        let mut s = Session::start(
            &[
                (&format!("{module}.py"), BALANCE),
                ("rt_hotfix_main.py", &script(module)),
            ],
            "rt_hotfix_main.py",
            captured(),
        );
        s.wait_stdout("fire 10\n", LONG);

        let h = hotfix(&mut s, module, "DAMAGE * 2");
        assert_eq!(h.report.outcome, Outcome::Applied, "{h:?}");
        assert_eq!(h.hotfix.value.as_deref(), Some("20"));
        assert!(h.report.changes.is_empty(), "{h:?}");
        assert_eq!(h.report.module, module);

        let h = hotfix(&mut s, module, "DAMAGE = 14");
        assert_eq!(h.report.outcome, Outcome::Applied, "{h:?}");
        assert_eq!(h.hotfix.value, None, "an assignment has no value");
        let c = h.report.change("DAMAGE").expect("DAMAGE listed");
        assert_eq!(
            (c.action, c.old.as_str(), c.new.as_str()),
            (Action::TookNew, "10", "14")
        );
        assert_eq!(h.report.changes.len(), 1, "{h:?}");
        s.wait_stdout("fire 14\n", LONG);

        let h = hotfix(
            &mut s,
            module,
            "import sys; print('rt-hotfix out'); print('rt-hotfix err', file=sys.stderr)",
        );
        assert!(h.hotfix.output.contains("rt-hotfix out\n"), "{h:?}");
        assert!(h.hotfix.output.contains("rt-hotfix err\n"), "{h:?}");
        assert_eq!(
            h.report.change("sys").map(|c| c.action),
            Some(Action::Added),
            "{h:?}"
        );

        let h = hotfix(
            &mut s,
            module,
            "DAMAGE = 99\nNEW_NAME = 1\n1 / 0\nDAMAGE = 5",
        );
        assert_eq!(h.report.outcome, Outcome::RolledBack, "{h:?}");
        let e = h.report.error.as_ref().expect("the exception");
        assert_eq!(e.line, Some(3), "{e:?}");
        assert!(e.message.contains("ZeroDivisionError"), "{e:?}");
        assert_eq!(e.text.as_deref(), Some("1 / 0"));
        assert!(e.traceback.contains("<hotfix"), "{}", e.traceback);
        assert!(
            !e.traceback.contains("hotfix.py"),
            "the traceback is the snippet's only: {}",
            e.traceback
        );
        assert!(h.report.changes.is_empty(), "names put back: {h:?}");
        let h = hotfix(&mut s, module, "(DAMAGE, 'NEW_NAME' in globals())");
        assert_eq!(h.hotfix.value.as_deref(), Some("(14, False)"));

        let h = hotfix(&mut s, module, "DAMAGE = = 3");
        assert_eq!(h.report.outcome, Outcome::Failed, "{h:?}");
        assert_eq!(h.report.error.as_ref().and_then(|e| e.line), Some(1));

        let h = hotfix(&mut s, module, "def fire():\n    return DAMAGE + 1000");
        assert_eq!(h.report.outcome, Outcome::Applied, "{h:?}");
        assert_eq!(
            h.report.change("fire").map(|c| c.action),
            Some(Action::CodeSwapped),
            "{h:?}"
        );
        s.wait_stdout("fire 1014\n", LONG);

        let h = hotfix(&mut s, "rt_hotfix_no_such_module", "1");
        assert_eq!(h.report.outcome, Outcome::Failed, "{h:?}");
        assert!(
            h.report
                .error
                .as_ref()
                .is_some_and(|e| e.message.contains("no module named")),
            "{h:?}"
        );

        let h = hotfix(
            &mut s,
            "__main__",
            "import threading; threading.get_ident()",
        );
        assert_eq!(h.report.outcome, Outcome::Applied, "{h:?}");
        let script_thread = s.idents("script on ")[0].to_string();
        assert_ne!(
            h.hotfix.value.as_deref(),
            Some(script_thread.as_str()),
            "no safe points: it ran on the worker"
        );
        assert!(
            !s.stdout.contains("rt-hotfix"),
            "the snippet's output is in its report, not the console"
        );
        assert_eq!(s.stop(), 0, "{}", s.story());
    }

    /// With safe points the snippet runs at one, on the script's own thread (between two
    /// iterations of its loop, like a reload).
    #[test]
    fn a_hotfix_runs_at_the_scripts_next_safe_point() {
        let module = "rt_hotfix_sp_balance";
        let script = format!(
            "{LOOP_PRELUDE}{}",
            dedent(&format!(
                r#"
                import swapscope
                import {module} as b
                print(f"script on {{threading.get_ident()}}", flush=True)
                while running():
                    b.IN_LOOP = True
                    swapscope.safepoint()
                    b.IN_LOOP = False
                    time.sleep(0.02)
                "#
            ))
        );
        let mut s = Session::start(
            &[
                (&format!("{module}.py"), BALANCE),
                ("rt_hotfix_sp_main.py", &script),
            ],
            "rt_hotfix_sp_main.py",
            captured(),
        );
        s.wait_stdout("script on ", LONG);
        // Give the loop time to call safepoint() at least once, so the runtime waits for it.
        std::thread::sleep(Duration::from_millis(200));
        let h = hotfix(
            &mut s,
            module,
            "import threading; (threading.get_ident(), IN_LOOP)",
        );
        assert_eq!(h.report.outcome, Outcome::Applied, "{h:?}");
        let script_thread = s.idents("script on ")[0];
        assert_eq!(
            h.hotfix.value,
            Some(format!("({script_thread}, True)")),
            "ran on the script's thread, inside its safepoint() call"
        );
        assert_eq!(s.stop(), 0, "{}", s.story());
    }
}

/// "Edit a value in place" (`Command::EditValue`): the literal is rewritten in the file — only
/// it: comments and layout stay — and the module is reloaded, so the running script uses the
/// new value; a value computed in the source is refused with the reason, and the file stays.
#[test]
fn editing_a_value_rewrites_its_literal_and_reloads() {
    let balance = dedent(
        r#"
        DAMAGE = 10  # base damage, tuned by design
        WEAPONS = {
            "rifle": {"damage": 20, "range": 3.5},  # long range
        }
        BOSS = DAMAGE * 5
        "#,
    );
    let script = format!(
        "{LOOP_PRELUDE}{}",
        dedent(
            r#"
            import rt_edit_balance as b
            while running():
                print(f"damage={b.DAMAGE} rifle={b.WEAPONS['rifle']['damage']}", flush=True)
                time.sleep(0.05)
            "#
        )
    );
    let mut s = Session::start(
        &[
            ("rt_edit_balance.py", &balance),
            ("rt_edit_main.py", &script),
        ],
        "rt_edit_main.py",
        captured(),
    );
    s.wait_stdout("damage=10 rifle=20\n", LONG);
    let edit = |qualname: &str, literal: &str| Command::EditValue {
        module: ModuleName("rt_edit_balance".into()),
        qualname: qualname.into(),
        literal: literal.into(),
    };
    s.send(edit("WEAPONS['rifle']['damage']", "25"));
    let report = s.wait_report("rt_edit_balance", LONG);
    assert_eq!(report.outcome, Outcome::Applied, "{}", s.story());
    s.wait_stdout("damage=10 rifle=25\n", LONG);
    let file = s.path("rt_edit_balance.py");
    let text = std::fs::read_to_string(&file).expect("read");
    assert_eq!(
        text,
        balance.replace("\"damage\": 20", "\"damage\": 25"),
        "only the literal changed"
    );
    s.send(edit("BOSS", "3"));
    let problem = s.wait_for("refusal", LONG, |e| matches!(e, Event::Problem(_)));
    let Event::Problem(why) = problem else {
        unreachable!()
    };
    assert!(
        why.contains("BOSS") && why.contains("not a literal") && why.contains("line 6"),
        "{why}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        text,
        "a refused edit leaves the file"
    );
    assert_eq!(s.stop(), 0, "{}", s.story());
}

/// A name the reload removes while the script itself (`__main__`) still reads it is reported
/// with the script's line, as for any other module: the dry run that the window shows warns.
#[test]
fn a_removed_name_the_script_reads_is_reported() {
    let script = format!(
        "{LOOP_PRELUDE}{}",
        dedent(
            r#"
            import rt_main_users_balance as balance
            def gain():
                return balance.XP_PER_KILL
            print("ready", flush=True)
            while running():
                time.sleep(0.05)
            "#
        )
    );
    let mut s = Session::start(
        &[
            (
                "rt_main_users_balance.py",
                "XP_PER_KILL = 30\nLEVEL = 100\n",
            ),
            ("rt_main_users.py", &script),
        ],
        "rt_main_users.py",
        captured(),
    );
    s.wait_stdout("ready\n", LONG);
    std::fs::write(s.path("rt_main_users_balance.py"), "LEVEL = 100\n").expect("write");
    s.send(Command::Reload {
        module: ModuleName("rt_main_users_balance".into()),
        overrides: swapscope::engine::Overrides::default(),
        dry_run: true,
        replace_incompatible: false,
    });
    let report = s.wait_report("rt_main_users_balance", LONG);
    let hazards = report.hazards();
    assert_eq!(hazards.len(), 1, "{report:?}");
    let (name, places) = hazards[0];
    assert_eq!(name, "XP_PER_KILL");
    assert!(places.contains("rt_main_users.py:"), "{places}");
    assert_eq!(s.stop(), 0, "{}", s.story());
}

/// The window's "Whole modules" switch (`Command::SetWholeReloads`): the runtime confirms it,
/// and its reloads run the whole module body until it is switched off again; the default is
/// incremental.
#[test]
fn whole_reloads_switch_runs_whole_modules_until_switched_off() {
    use swapscope::protocol::Mode;
    let module = "rt_whole_counter";
    let mut s = Session::start(
        &[
            (&format!("{module}.py"), &counter_module("one")),
            ("rt_whole_main.py", &looping_script(module, false)),
        ],
        "rt_whole_main.py",
        captured(),
    );
    s.wait_stdout("one count=2\n", LONG);
    std::fs::write(s.path(&format!("{module}.py")), counter_module("two")).expect("write");
    s.send(reload_cmd(module));
    let report = s.wait_report(module, LONG);
    assert_eq!(report.mode, Mode::Incremental, "{report:?}");
    s.wait_stdout("two count=", LONG);
    s.send(Command::SetWholeReloads(true));
    s.wait_for("the switch", LONG, |e| {
        matches!(e, Event::WholeReloads(true))
    });
    std::fs::write(s.path(&format!("{module}.py")), counter_module("three")).expect("write");
    s.send(reload_cmd(module));
    let report = s.wait_report(module, LONG);
    assert_eq!(report.outcome, Outcome::Applied, "{}", s.story());
    assert_eq!(report.mode, Mode::Full, "{report:?}");
    assert!(report.mode_note.contains("asked"), "{}", report.mode_note);
    s.wait_stdout("three count=", LONG);
    s.send(Command::SetWholeReloads(false));
    s.wait_for("the switch", LONG, |e| {
        matches!(e, Event::WholeReloads(false))
    });
    std::fs::write(s.path(&format!("{module}.py")), counter_module("four")).expect("write");
    s.send(reload_cmd(module));
    assert_eq!(s.wait_report(module, LONG).mode, Mode::Incremental);
    s.wait_stdout("four count=", LONG);
    assert_eq!(s.stop(), 0, "{}", s.story());
    assert_switched_keeping_count_through(&s.steps(), &["one", "two", "three", "four"]);
}

/// The step lines count 1, 2, 3, ... without a gap and go through `versions` in order.
fn assert_switched_keeping_count_through(steps: &[(String, u32)], versions: &[&str]) {
    let counts: Vec<u32> = steps.iter().map(|(_, c)| *c).collect();
    let expected: Vec<u32> = (1..).take(counts.len()).collect();
    assert_eq!(counts, expected, "the live count goes on: {steps:?}");
    let mut seen: Vec<&str> = steps.iter().map(|(v, _)| v.as_str()).collect();
    seen.dedup();
    assert_eq!(seen, versions, "{steps:?}");
}

/// A module body that prints during a reload does not let the script's thread run against the
/// half-built module: captured output is sent without letting the GIL go while a reload runs.
/// (Whole reloads empty the module's dict first: a thread let in misses `get` or `VALUE`.)
#[test]
fn a_body_that_prints_during_a_reload_keeps_other_threads_out() {
    let module = "rt_printing_body";
    let body = |version: u32| {
        format!(
            "import sys\nfor i in range(300):\n    sys.stdout.write(f'body line {{i}}\\n')\nVALUE = {version}\ndef get():\n    return VALUE\n"
        )
    };
    let script = format!(
        "{LOOP_PRELUDE}{}",
        dedent(&format!(
            r#"
            import {module} as m
            say("script started")
            while running():
                try:
                    m.get()
                except (NameError, AttributeError) as e:
                    say(f"BROKE {{e}}")
            "#
        ))
    );
    let mut s = Session::start(
        &[
            (&format!("{module}.py"), &body(0)),
            ("rt_printing_main.py", &script),
        ],
        "rt_printing_main.py",
        captured(),
    );
    s.wait_stdout("script started\n", LONG);
    s.send(Command::SetWholeReloads(true));
    s.wait_for("the switch", LONG, |e| {
        matches!(e, Event::WholeReloads(true))
    });
    for version in 1..=5 {
        std::fs::write(s.path(&format!("{module}.py")), body(version)).expect("write");
        s.send(reload_cmd(module));
        let report = s.wait_report(module, LONG);
        assert_eq!(report.outcome, Outcome::Applied, "{}", s.story());
    }
    assert_eq!(s.stop(), 0, "{}", s.story());
    assert!(
        !s.stdout.contains("BROKE"),
        "a thread ran inside a reload:\n{}",
        s.stdout
            .lines()
            .filter(|l| l.starts_with("BROKE"))
            .take(3)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        s.stdout.matches("body line 299").count() >= 6,
        "every body ran"
    );
}
