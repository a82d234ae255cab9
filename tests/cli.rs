//! The `swapscope` binary run as a user runs it: `--headless SCRIPT ARGS` must behave like
//! `python SCRIPT ARGS`, plus reports, auto reload and clear errors.
//!
//! Each test has its own temp folder and module names; every run has a time limit and a child
//! that overstays is killed.
#![cfg(feature = "embedded")]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{canon, dedent};

/// Generous: two cores, other builds may be running.
const LIMIT: Duration = Duration::from_mins(1);

fn swapscope() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_swapscope"));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // The script must not depend on the caller's Python settings.
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONSTARTUP");
    cmd
}

/// What a finished run left.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn show(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        r.read_to_string(&mut s).ok();
        s
    })
}

/// Waits for `child` at most `limit` (kills it after that and panics).
fn finish(mut child: Child, stdout: std::thread::JoinHandle<String>, limit: Duration) -> Run {
    let stderr = drain(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!(
                "swapscope did not exit within {limit:?}\n--- stderr\n{}",
                stderr.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Runs swapscope with `args` in `cwd` to the end.
fn run_in(cwd: &Path, args: &[&str]) -> Run {
    let mut child = swapscope()
        .current_dir(cwd)
        .args(args)
        .spawn()
        .expect("spawn swapscope");
    let stdout = drain(child.stdout.take().expect("stdout"));
    finish(child, stdout, LIMIT)
}

fn write(dir: &Path, name: &str, source: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, dedent(source)).expect("write");
    path
}

fn json_line(stdout: &str) -> serde_json::Value {
    let line = stdout.lines().next().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// A script that prints, as one JSON line, what `python SCRIPT ARGS` decides for it.
const ENV_SCRIPT: &str = r#"
    import json, sys
    import swapscope
    import cli_env_helper
    print(json.dumps({
        "argv": sys.argv,
        "path0": sys.path[0],
        "name": __name__,
        "file": __file__,
        "helper": cli_env_helper.VALUE,
        "swapscope": [swapscope.__name__, callable(swapscope.reload), callable(swapscope.safepoint)],
    }))
"#;

#[test]
fn headless_runs_the_script_like_python() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = write(dir.path(), "cli_env_main.py", ENV_SCRIPT);
    write(dir.path(), "cli_env_helper.py", "VALUE = 41\n");
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let given = script.to_str().expect("utf-8 path");
    let args = ["--ticks", "3", "-v", "a b", "x=1", "-"];
    let mut cli = vec!["--headless", given];
    cli.extend(args);
    let run = run_in(elsewhere.path(), &cli);
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert_eq!(run.stderr, "", "nothing of swapscope's own: {}", run.show());
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.show());
    let seen = json_line(&run.stdout);
    let mut expected_argv = vec![given];
    expected_argv.extend(args);
    assert_eq!(
        seen["argv"],
        serde_json::json!(expected_argv),
        "{}",
        run.show()
    );
    assert_eq!(
        canon(Path::new(seen["path0"].as_str().expect("path0"))),
        canon(dir.path()),
        "sys.path[0] is the script's folder"
    );
    assert_eq!(seen["name"], "__main__");
    assert_eq!(seen["file"], given);
    assert_eq!(seen["helper"], 41, "modules beside the script import");
    assert_eq!(
        seen["swapscope"],
        serde_json::json!(["swapscope", true, true])
    );
}

#[test]
fn argv0_is_the_script_path_as_given() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "sub/cli_argv0_main.py", ENV_SCRIPT);
    write(dir.path(), "sub/cli_env_helper.py", "VALUE = 1\n");
    let run = run_in(dir.path(), &["--headless", "sub/cli_argv0_main.py", "one"]);
    assert_eq!(run.code, Some(0), "{}", run.show());
    let seen = json_line(&run.stdout);
    // `python sub/cli_argv0_main.py one` gives ['sub/cli_argv0_main.py', 'one'].
    assert_eq!(
        seen["argv"],
        serde_json::json!(["sub/cli_argv0_main.py", "one"])
    );
    // __file__ is absolute for __main__ since Python 3.9, and sys.path[0] is the folder.
    assert_eq!(
        seen["file"],
        dir.path()
            .join("sub/cli_argv0_main.py")
            .to_str()
            .expect("utf-8")
    );
    assert_eq!(
        canon(Path::new(seen["path0"].as_str().expect("path0"))),
        canon(&dir.path().join("sub"))
    );
}

#[test]
fn every_argument_after_the_script_goes_to_the_script() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "cli_args_main.py",
        "import json, sys\nprint(json.dumps(sys.argv[1:]))\n",
    );
    let args = [
        "--auto",
        "--help",
        "-h",
        "--report",
        "r.jsonl",
        "--watch",
        ".",
        "--",
        "--headless",
    ];
    let mut cli = vec!["--headless", "cli_args_main.py"];
    cli.extend(args);
    let run = run_in(dir.path(), &cli);
    assert_eq!(run.code, Some(0), "{}", run.show());
    // `python cli_args_main.py ARGS` hands every one of them to the script, `--` included.
    assert_eq!(
        json_line(&run.stdout),
        serde_json::json!(args),
        "{}",
        run.show()
    );
    assert!(
        !dir.path().join("r.jsonl").exists(),
        "--report was the script's"
    );
}

#[test]
fn exit_codes_and_tracebacks_like_python() {
    // (name, source, exit code, exact stdout, stderr must contain)
    let cases: [(&str, &str, i32, &str, &[&str]); 6] = [
        ("cli_exit_normal", "print('done')\n", 0, "done\n", &[]),
        ("cli_exit_three", "import sys\nsys.exit(3)\n", 3, "", &[]),
        ("cli_exit_minus", "import sys\nsys.exit(-1)\n", 255, "", &[]),
        (
            "cli_exit_message",
            "import sys\nsys.exit('cli exit message')\n",
            1,
            "",
            &["cli exit message"],
        ),
        (
            "cli_exit_raises",
            "print('before', flush=True)\ndef cli_f():\n    raise ValueError('cli boom')\ncli_f()\n",
            1,
            "before\n",
            &[
                "Traceback (most recent call last):",
                "cli_exit_raises.py\", line 4, in <module>",
                "cli_exit_raises.py\", line 3, in cli_f",
                "ValueError: cli boom",
            ],
        ),
        (
            "cli_exit_syntax",
            "print('never')\nx = (\n",
            1,
            "",
            &["cli_exit_syntax.py\", line 2", "SyntaxError"],
        ),
    ];
    for (name, source, code, stdout, stderr_has) in cases {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = format!("{name}.py");
        write(dir.path(), &file, source);
        let run = run_in(dir.path(), &["--headless", &file]);
        assert_eq!(run.code, Some(code), "{name}\n{}", run.show());
        assert_eq!(run.stdout, stdout, "{name}\n{}", run.show());
        for needle in stderr_has {
            assert!(
                run.stderr.contains(needle),
                "{name}: stderr lacks {needle:?}\n{}",
                run.show()
            );
        }
        if stderr_has.is_empty() {
            assert_eq!(run.stderr, "", "{name}");
        }
    }
}

#[test]
fn traceback_shows_only_the_script_frames() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "cli_tb_main.py", "raise KeyError('cli tb')\n");
    let run = run_in(dir.path(), &["--headless", "cli_tb_main.py"]);
    assert_eq!(run.code, Some(1), "{}", run.show());
    let path = dir.path().join("cli_tb_main.py");
    // What `python cli_tb_main.py` prints (3.11).
    let expected = format!(
        "Traceback (most recent call last):\n  File \"{}\", line 1, in <module>\n    raise KeyError('cli tb')\nKeyError: 'cli tb'\n",
        path.display()
    );
    assert_eq!(run.stderr, expected);
}

#[test]
fn threads_started_by_the_script_are_waited_for() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "cli_thread_main.py",
        r#"
        import threading, time
        def work():
            time.sleep(0.3)
            print("worker done", flush=True)
        t = threading.Thread(target=work)
        print("daemon", t.daemon, flush=True)
        t.start()
        print("main done", flush=True)
        "#,
    );
    let run = run_in(dir.path(), &["--headless", "cli_thread_main.py"]);
    assert_eq!(run.code, Some(0), "{}", run.show());
    // Like python: a new thread is not a daemon, and the interpreter waits for it.
    assert_eq!(
        run.stdout,
        "daemon False\nmain done\nworker done\n",
        "{}",
        run.show()
    );
}

#[test]
fn stdout_holds_only_the_script_output() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "cli_quiet_mod.py", "VALUE = 1\n");
    write(
        dir.path(),
        "cli_quiet_main.py",
        r#"
        import pathlib, swapscope
        import cli_quiet_mod
        print("before", cli_quiet_mod.VALUE)
        pathlib.Path(cli_quiet_mod.__file__).write_text("VALUE = 2\n")
        report = swapscope.reload("cli_quiet_mod")
        print("after", cli_quiet_mod.VALUE, report["outcome"])
        "#,
    );
    let run = run_in(dir.path(), &["--headless", "cli_quiet_main.py"]);
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert_eq!(run.stdout, "before 1\nafter 2 applied\n");
    assert_eq!(run.stderr, "", "an applied reload is silent");
}

#[test]
fn report_file_gets_one_json_line_per_reload() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "cli_rep_mod.py", "VALUE = 1\n");
    write(
        dir.path(),
        "cli_rep_main.py",
        r#"
        import pathlib, swapscope
        import cli_rep_mod
        src = pathlib.Path(cli_rep_mod.__file__)
        src.write_text("VALUE = 2\n")
        first = swapscope.reload("cli_rep_mod")
        src.write_text("VALUE = 3\nif True\n    pass\n")
        second = swapscope.reload(cli_rep_mod)
        print(first["outcome"], second["outcome"], cli_rep_mod.VALUE)
        "#,
    );
    let reports = dir.path().join("out/reports.jsonl");
    std::fs::create_dir(dir.path().join("out")).expect("mkdir");
    let report_arg = reports.to_str().expect("utf-8");
    for round in 1..=2 {
        write(dir.path(), "cli_rep_mod.py", "VALUE = 1\n");
        let run = run_in(
            dir.path(),
            &["--headless", "--report", report_arg, "cli_rep_main.py"],
        );
        assert_eq!(run.code, Some(0), "{}", run.show());
        assert_eq!(
            run.stdout, "applied failed 2\n",
            "stdout is the script's only"
        );
        assert!(
            run.stderr.contains("cli_rep_mod") && run.stderr.contains("cli_rep_mod.py:2"),
            "a failed reload is told on stderr with file and line\n{}",
            run.show()
        );
        let text = std::fs::read_to_string(&reports).expect("report file");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(lines.len(), 2 * round, "appended, one per reload:\n{text}");
        let new = &lines[lines.len() - 2..];
        for r in new {
            assert_eq!(r["module"], "cli_rep_mod", "{r}");
            assert_eq!(
                canon(Path::new(r["file"].as_str().expect("file"))),
                canon(&dir.path().join("cli_rep_mod.py"))
            );
            assert!(r["changes"].is_array() && r["id"].is_u64(), "{r}");
        }
        assert_eq!(new[0]["outcome"], "applied");
        assert!(
            new[0]["changes"]
                .as_array()
                .expect("changes")
                .iter()
                .any(|c| c["name"] == "VALUE" && c["new"] == "2"),
            "{}",
            new[0]
        );
        assert_eq!(new[1]["outcome"], "failed");
        assert_eq!(new[1]["error"]["line"], 2, "{}", new[1]);
        assert_ne!(new[0]["id"], new[1]["id"]);
    }
}

/// Spawns swapscope and hands its stdout over line by line.
fn spawn_lines(
    cwd: &Path,
    args: &[&str],
) -> (
    Child,
    mpsc::Receiver<String>,
    std::thread::JoinHandle<String>,
) {
    let mut child = swapscope()
        .current_dir(cwd)
        .args(args)
        .spawn()
        .expect("spawn swapscope");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            all.push_str(&line);
            all.push('\n');
            tx.send(line).ok();
        }
        all
    });
    (child, rx, reader)
}

/// Waits for a stdout line equal to `wanted`; kills the child and panics after `limit`.
fn wait_line(child: &mut Child, lines: &mpsc::Receiver<String>, wanted: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left.min(Duration::from_millis(200))) {
            Ok(line) if line == wanted => return,
            Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) if !left.is_zero() => {}
            _ => {
                child.kill().ok();
                child.wait().ok();
                panic!("no line {wanted:?} within {limit:?}");
            }
        }
    }
}

/// A script that waits up to `seconds` for `cli_*_mod.VALUE` to become 2.
fn polling_script(module: &str, seconds: u32) -> String {
    format!(
        r#"
        import sys, time
        import {module}
        print("ready", flush=True)
        deadline = time.monotonic() + {seconds}
        while time.monotonic() < deadline:
            if {module}.VALUE == 2:
                print("saw 2", flush=True)
                sys.exit(0)
            time.sleep(0.05)
        print("still", {module}.VALUE, flush=True)
        "#
    )
}

#[test]
fn auto_reloads_a_module_saved_while_the_script_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let module = write(dir.path(), "cli_auto_mod.py", "VALUE = 1\n");
    write(
        dir.path(),
        "cli_auto_main.py",
        &polling_script("cli_auto_mod", 20),
    );
    let (mut child, lines, reader) =
        spawn_lines(dir.path(), &["--headless", "--auto", "cli_auto_main.py"]);
    wait_line(&mut child, &lines, "ready", LIMIT);
    // The watcher starts right after the script; give it a moment.
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&module, "VALUE = 2\n").expect("save");
    let run = finish(child, reader, LIMIT);
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert_eq!(run.stdout, "ready\nsaw 2\n", "{}", run.show());
    assert!(
        run.stderr.contains("reloaded \"cli_auto_mod\""),
        "--auto tells each reload on stderr\n{}",
        run.show()
    );
}

#[test]
fn without_auto_a_save_does_not_reload() {
    let dir = tempfile::tempdir().expect("temp dir");
    let module = write(dir.path(), "cli_noauto_mod.py", "VALUE = 1\n");
    write(
        dir.path(),
        "cli_noauto_main.py",
        &polling_script("cli_noauto_mod", 2),
    );
    let (mut child, lines, reader) = spawn_lines(dir.path(), &["--headless", "cli_noauto_main.py"]);
    wait_line(&mut child, &lines, "ready", LIMIT);
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&module, "VALUE = 2\n").expect("save");
    let run = finish(child, reader, LIMIT);
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert_eq!(run.stdout, "ready\nstill 1\n", "{}", run.show());
    assert_eq!(run.stderr, "", "{}", run.show());
}

#[test]
fn bad_input_exits_non_zero_naming_the_culprit() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "cli_bad_ok.py", "print('should not run')\n");
    std::fs::create_dir(dir.path().join("cli_bad_folder")).expect("mkdir");
    std::os::unix::fs::symlink("cli_bad_loop.py", dir.path().join("cli_bad_loop.py"))
        .expect("symlink");
    let fifo = std::process::Command::new("mkfifo")
        .arg(dir.path().join("cli_bad_fifo.py"))
        .status();
    assert!(fifo.is_ok_and(|s| s.success()), "mkfifo");
    // (args, stderr must contain)
    let cases: [(&[&str], &[&str]); 8] = [
        (
            &["--headless", "cli_bad_missing.py"],
            &["cli_bad_missing.py", "no such file"],
        ),
        (
            &["--headless", "cli_bad_folder"],
            &["cli_bad_folder", "directory"],
        ),
        (
            &["--headless", "cli_bad_loop.py"],
            &["cannot run cli_bad_loop.py", "symbolic links"],
        ),
        (
            &["--headless", "cli_bad_fifo.py"],
            &["cannot run cli_bad_fifo.py: not a regular file"],
        ),
        // The window too refuses before opening.
        (
            &["cli_bad_missing.py"],
            &["cli_bad_missing.py", "no such file"],
        ),
        (&["--headless", "--bogus", "cli_bad_ok.py"], &["--bogus"]),
        (
            &["--headless", "--watch", "cli_bad_nowhere", "cli_bad_ok.py"],
            &["cli_bad_nowhere"],
        ),
        (
            &[
                "--headless",
                "--report",
                "cli_bad_nodir/r.jsonl",
                "cli_bad_ok.py",
            ],
            &["cli_bad_nodir/r.jsonl"],
        ),
    ];
    for (args, stderr_has) in cases {
        let run = run_in(dir.path(), args);
        assert!(
            run.code.is_some_and(|c| c != 0),
            "{args:?} must fail\n{}",
            run.show()
        );
        assert_eq!(run.stdout, "", "{args:?}");
        for needle in stderr_has {
            assert!(
                run.stderr.contains(needle),
                "{args:?}: stderr lacks {needle:?}\n{}",
                run.show()
            );
        }
    }
}

#[test]
fn help_documents_every_flag() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = run_in(dir.path(), &["--help"]);
    assert_eq!(run.code, Some(0), "{}", run.show());
    for needle in [
        "--headless",
        "--watch <DIR>",
        "--auto",
        "--report <FILE>",
        "SCRIPT",
        "[ARGS]",
        "--capture <DIR>",
        "--help",
        "--version",
    ] {
        assert!(
            run.stdout.contains(needle),
            "--help lacks {needle}\n{}",
            run.stdout
        );
    }
    assert_eq!(run.stderr, "");
}

fn demo_game() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/game.py")
}

#[test]
fn demo_game_runs_headless_with_its_arguments() {
    let dir = tempfile::tempdir().expect("temp dir");
    let game = demo_game();
    let game = game.to_str().expect("utf-8");
    let run = run_in(
        dir.path(),
        &["--headless", game, "--ticks", "5", "--speed", "100"],
    );
    assert_eq!(run.code, Some(0), "{}", run.show());
    let lines: Vec<&str> = run.stdout.lines().collect();
    let combat = lines.iter().filter(|l| l.contains(" hits ")).count();
    assert_eq!(combat, 5, "one combat line per tick\n{}", run.show());
    assert!(
        run.stdout
            .starts_with("Ada hits goblin #1 with the pistol for "),
        "{}",
        run.show()
    );
    assert!(
        lines.last().is_some_and(|l| l.starts_with("party: Ada(")),
        "{}",
        run.show()
    );
    assert_eq!(run.stderr, "", "{}", run.show());
}

#[test]
fn without_a_script_the_demo_game_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, lines, _reader) = spawn_lines(dir.path(), &["--headless"]);
    let deadline = Instant::now() + LIMIT;
    let first = loop {
        match lines.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => break Some(line),
            Err(_) if Instant::now() < deadline => {}
            Err(_) => break None,
        }
    };
    // The demo runs until stopped.
    let still_running = child.try_wait().expect("wait").is_none();
    child.kill().ok();
    child.wait().ok();
    let first = first.expect("a line from the demo");
    assert!(first.starts_with("Ada hits goblin #1"), "{first}");
    assert!(still_running);
}

#[test]
fn arguments_without_a_script_are_refused() {
    // Trailing arguments belong to SCRIPT; without one, `--ticks` is an unknown flag, not a
    // script argument and not a script name.
    let dir = tempfile::tempdir().expect("temp dir");
    let run = run_in(dir.path(), &["--headless", "--ticks", "3", "--speed", "50"]);
    assert!(run.code.is_some_and(|c| c != 0), "{}", run.show());
    assert!(run.stderr.contains("--ticks"), "{}", run.show());
    assert_eq!(run.stdout, "");
}

#[test]
fn crashed_worker_exits_non_zero_with_the_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "cli_crash_main.py",
        "import time\ntime.sleep(0.5)\n",
    );
    let mut child = swapscope()
        .current_dir(dir.path())
        .env("SWAPSCOPE_INJECT_PANIC", "worker-thread")
        .args(["--headless", "cli_crash_main.py"])
        .spawn()
        .expect("spawn swapscope");
    let stdout = drain(child.stdout.take().expect("stdout"));
    let run = finish(child, stdout, LIMIT);
    assert!(run.code.is_some_and(|c| c != 0), "{}", run.show());
    assert!(
        run.stderr
            .contains("the Python worker crashed (injected fault at WorkerThread)"),
        "{}",
        run.show()
    );
}

#[test]
fn policy_file_problems_are_reported_and_the_file_left_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "cli_pol_known.py", "DAMAGE = 1\n");
    write(
        dir.path(),
        "cli_pol_main.py",
        "import cli_pol_known\nprint('ran', cli_pol_known.DAMAGE)\n",
    );
    let policy = dir.path().join("swapscope-policy.txt");
    let cases = [
        (
            "[cli_pol_known]\nDAMAGE = keep\n\n[cli_pol_typo]\nX = take\n",
            "swapscope-policy.txt:4: [cli_pol_typo] names no module under the watched folders",
        ),
        (
            "[cli_pol_known\nDAMAGE = keep\n",
            "swapscope-policy.txt:1: expected `[module]`",
        ),
        (
            "[cli_pol_known]\nDAMAGE = maybe\n",
            "swapscope-policy.txt:2: unknown choice \"maybe\"; use keep, take or auto",
        ),
    ];
    for (text, message) in cases {
        std::fs::write(&policy, text).expect("write policy");
        let run = run_in(dir.path(), &["--headless", "cli_pol_main.py"]);
        assert_eq!(run.code, Some(0), "{}", run.show());
        assert_eq!(run.stdout, "ran 1\n", "the script runs with defaults");
        assert!(run.stderr.contains(message), "{text:?}\n{}", run.show());
        assert_eq!(
            std::fs::read_to_string(&policy).expect("read policy"),
            text,
            "the policy file is never rewritten"
        );
    }
}

#[test]
fn a_watched_folder_that_disappears_is_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let extra = dir.path().join("cli_gone_extra");
    std::fs::create_dir(&extra).expect("mkdir");
    write(
        dir.path(),
        "cli_gone_main.py",
        &format!(
            "import os, time\ntime.sleep(0.3)\nos.rmdir({:?})\ntime.sleep(0.5)\nprint('done')\n",
            extra.to_string_lossy()
        ),
    );
    let extra_arg = extra.to_string_lossy().into_owned();
    let run = run_in(
        dir.path(),
        &["--headless", "--watch", &extra_arg, "cli_gone_main.py"],
    );
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert_eq!(run.stdout, "done\n");
    assert!(
        run.stderr.contains(&format!(
            "watched folder {} disappeared; changes in it are no longer seen",
            extra.display()
        )),
        "{}",
        run.show()
    );
}

#[test]
fn headless_runs_the_script_on_the_main_thread_so_signal_handlers_work() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "cli_signal.py",
        r#"
        import signal
        # Raises ValueError anywhere but on the thread that started the interpreter.
        signal.signal(signal.SIGTERM, lambda *args: None)
        print("installed")
        "#,
    );
    let run = run_in(dir.path(), &["--headless", "cli_signal.py"]);
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert_eq!(run.stdout, "installed\n", "{}", run.show());
}

#[test]
fn ctrl_c_raises_keyboard_interrupt_in_the_script() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "cli_sigint.py",
        r#"
        import time
        # "ready" is printed inside the try: the test sends SIGINT as soon as it reads the line,
        # which may be before print() has returned.
        try:
            print("ready", flush=True)
            time.sleep(30)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            raise SystemExit(3)
        "#,
    );
    let (mut child, lines, reader) = spawn_lines(dir.path(), &["--headless", "cli_sigint.py"]);
    wait_line(&mut child, &lines, "ready", LIMIT);
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -INT failed");
    let run = finish(child, reader, LIMIT);
    assert_eq!(run.code, Some(3), "{}", run.show());
    assert_eq!(run.stdout, "ready\ninterrupted\n", "{}", run.show());
}

/// A virtual environment of the `python3` on PATH (the one swapscope is built against), without
/// pip (fast); `edit` may rewrite its `pyvenv.cfg`.
fn make_venv(dir: &Path, edit: impl Fn(&str) -> String) -> PathBuf {
    let venv = dir.join("venv");
    let made = Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .expect("run python3 -m venv");
    assert!(made.success(), "python3 -m venv failed");
    let cfg = venv.join("pyvenv.cfg");
    let text = std::fs::read_to_string(&cfg).expect("read pyvenv.cfg");
    std::fs::write(&cfg, edit(&text)).expect("write pyvenv.cfg");
    venv
}

/// `PATH` with the venv's `bin` first, as `activate` sets it.
fn activated_path(venv: &Path) -> std::ffi::OsString {
    let mut paths = vec![venv.join("bin")];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).expect("join PATH")
}

fn run_with_env(cwd: &Path, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Run {
    let mut cmd = swapscope();
    cmd.current_dir(cwd).args(args).env_remove("VIRTUAL_ENV");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn swapscope");
    let stdout = drain(child.stdout.take().expect("stdout"));
    finish(child, stdout, LIMIT)
}

const PRINT_PREFIX: &str = "import sys\nprint(sys.prefix)\n";

#[test]
fn an_activated_virtual_env_is_the_one_the_script_runs_in() {
    let dir = tempfile::tempdir().expect("temp dir");
    let venv = make_venv(dir.path(), str::to_string);
    write(dir.path(), "cli_venv_ok.py", PRINT_PREFIX);
    let path = activated_path(&venv);
    let env = [
        ("PATH", path.as_os_str()),
        ("VIRTUAL_ENV", venv.as_os_str()),
    ];
    let run = run_with_env(dir.path(), &["--headless", "cli_venv_ok.py"], &env);
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert_eq!(
        canon(Path::new(run.stdout.trim())),
        canon(&venv),
        "{}",
        run.show()
    );
}

#[test]
fn virtual_env_set_but_not_active_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().expect("temp dir");
    let venv = make_venv(dir.path(), str::to_string);
    write(dir.path(), "cli_venv_off.py", PRINT_PREFIX);
    let env = [("VIRTUAL_ENV", venv.as_os_str())];
    let run = run_with_env(dir.path(), &["--headless", "cli_venv_off.py"], &env);
    assert_eq!(run.code, Some(2), "{}", run.show());
    assert!(
        run.stdout.is_empty(),
        "the script must not run: {}",
        run.show()
    );
    let activate = format!("source {}/bin/activate", venv.display());
    assert!(
        run.stderr.contains("is not the active environment") && run.stderr.contains(&activate),
        "{}",
        run.show()
    );
}

#[test]
fn a_virtual_env_of_another_python_version_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let venv = make_venv(dir.path(), |cfg| {
        cfg.lines()
            .map(|l| {
                if l.starts_with("version") {
                    "version = 3.99.0"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    write(dir.path(), "cli_venv_ver.py", PRINT_PREFIX);
    let path = activated_path(&venv);
    let env = [
        ("PATH", path.as_os_str()),
        ("VIRTUAL_ENV", venv.as_os_str()),
    ];
    let run = run_with_env(dir.path(), &["--headless", "cli_venv_ver.py"], &env);
    assert_eq!(run.code, Some(2), "{}", run.show());
    assert!(
        run.stderr.contains("is for Python 3.99.0") && run.stderr.contains("PYO3_PYTHON="),
        "{}",
        run.show()
    );
}

#[test]
fn pythonpath_into_a_virtual_env_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let venv = make_venv(dir.path(), str::to_string);
    let site = std::fs::read_dir(venv.join("lib"))
        .expect("venv lib")
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .next()
        .expect("lib/pythonX.Y");
    write(dir.path(), "cli_venv_pp.py", PRINT_PREFIX);
    let env = [("PYTHONPATH", site.as_os_str())];
    let run = run_with_env(dir.path(), &["--headless", "cli_venv_pp.py"], &env);
    assert_eq!(run.code, Some(2), "{}", run.show());
    assert!(
        run.stderr.contains("PYTHONPATH names") && run.stderr.contains("activate the venv"),
        "{}",
        run.show()
    );
}

#[test]
fn packages_in_a_venv_inside_the_project_are_not_tracked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let site = dir.path().join(".venv/lib/python3.11/site-packages");
    write(&site, "cli_venv_pkg.py", "VALUE = 1\n");
    write(dir.path(), "cli_venv_mine.py", "VALUE = 2\n");
    write(
        dir.path(),
        "cli_venv_main.py",
        &format!(
            r#"
            import sys
            sys.path.insert(0, {site:?})
            import cli_venv_pkg, cli_venv_mine, swapscope
            listed = {{m["name"]: (m["tracked"], m["group"]) for m in swapscope.modules()}}
            print(listed["cli_venv_pkg"], listed["cli_venv_mine"])
            "#,
            site = site.to_string_lossy()
        ),
    );
    let run = run_in(dir.path(), &["--headless", "cli_venv_main.py"]);
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert_eq!(
        run.stdout.trim(),
        "(False, 'site_packages') (True, 'project')",
        "{}",
        run.show()
    );
}

/// The script's own `from balance import DAMAGE` copies (in `__main__`, which swapscope does not
/// track as a module) are listed as stale after a reload, and `propagate` updates them.
#[test]
fn the_scripts_own_copies_are_listed_and_propagated() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "cli_main_copies_bal.py",
        "DAMAGE = 10\nRATE = 123456789\n",
    );
    let script = write(
        dir.path(),
        "cli_main_copies.py",
        r#"
        import pathlib
        import swapscope
        from cli_main_copies_bal import DAMAGE, RATE as R

        here = pathlib.Path(__file__).parent
        (here / "cli_main_copies_bal.py").write_text("DAMAGE = 12\nRATE = 987654321\n")
        r = swapscope.reload("cli_main_copies_bal")
        stale = sorted((s["module"], s["name"], s["source"]) for s in r["stale_refs"])
        print(stale)
        swapscope.propagate(r)
        print(DAMAGE, R)
        "#,
    );
    let run = run_in(dir.path(), &["--headless", script.to_str().expect("utf-8")]);
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert_eq!(
        run.stdout,
        "[('__main__', 'DAMAGE', 'DAMAGE'), ('__main__', 'R', 'RATE')]\n12 987654321\n",
        "{}",
        run.show()
    );
}

/// Project modules outside the script's folder are tracked (a `src/` layout), except under a
/// folder `SWAPSCOPE_EXCLUDE` names.
#[test]
fn modules_outside_the_script_folder_are_tracked_unless_excluded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = tempfile::tempdir().expect("temp dir");
    let vendored = tempfile::tempdir().expect("temp dir");
    write(src.path(), "cli_outside_src.py", "X = 1\n");
    write(vendored.path(), "cli_outside_vendored.py", "Y = 1\n");
    let script = write(
        dir.path(),
        "cli_outside.py",
        &format!(
            r#"
            import sys
            sys.path[1:1] = [{:?}, {:?}]
            import swapscope
            import cli_outside_src, cli_outside_vendored
            tracked = {{m["name"]: m["tracked"] for m in swapscope.modules()}}
            print(tracked["cli_outside_src"], tracked["cli_outside_vendored"])
            "#,
            src.path().to_string_lossy(),
            vendored.path().to_string_lossy()
        ),
    );
    let out = swapscope()
        .current_dir(dir.path())
        .arg("--headless")
        .arg(&script)
        .env("SWAPSCOPE_EXCLUDE", vendored.path())
        .output()
        .expect("run swapscope");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, "True False\n");
}
