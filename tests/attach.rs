//! Attach mode with real processes: the abi3 wheel in a venv of each CPython that pyenv has,
//! programs under `python -m swapscope`, and `swapscope attach` as the client.
//!
//! A version pyenv does not have is skipped, and the test says so on stderr.

mod common;

use std::time::Duration;

use common::attach::{Program, VERSIONS, demo_copy, venv};

const LIMIT: Duration = Duration::from_mins(1);

/// The bundled demo under `python -m swapscope` on every CPython 3.9–3.13 installed: a
/// window-less client reloads `balance`, the game's next lines use the new damage, and the
/// players' state (kills, levels) carries on.
#[test]
fn demo_reloads_through_the_wheel_on_every_version() {
    let mut ran = 0;
    for version in VERSIONS {
        let Some(python) = venv(version) else {
            eprintln!("skipped: CPython {version} (not installed under pyenv)");
            continue;
        };
        ran += 1;
        let demo = demo_copy();
        let mut program = Program::start(&python, demo.path(), &[], "game.py", &["--speed", "40"]);
        let agents = program.wait_agents(1, LIMIT);
        assert_eq!(agents[0].pid, program.child.id(), "{version}");
        assert_eq!(
            agents[0].python_version.rsplit_once('.').map(|v| v.0),
            Some(version),
            "the agent runs on the venv's interpreter"
        );
        program.wait_output("kills: 3)", LIMIT);

        let balance = demo.path().join("balance.py");
        let source = std::fs::read_to_string(&balance).expect("read balance");
        let edited = source.replace(
            r#""pistol": {"damage": 10,"#,
            r#""pistol": {"damage": 777,"#,
        );
        assert_ne!(source, edited, "the demo's pistol line moved");
        std::fs::write(&balance, edited).expect("write balance");

        let out = program.attach(&["--reload", "balance"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{version}: attach --reload failed: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
        assert_eq!(report["outcome"], "applied", "{version}: {stdout}");
        let weapons = report["changes"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["qualname"] == "WEAPONS"))
            .expect("WEAPONS in the report");
        assert_eq!(weapons["action"], "took_new", "{version}: {weapons}");

        // Ada carries the pistol: her next shots deal the new damage (plus 10% per level).
        program.wait_output("with the pistol for 7", LIMIT);
        let out = program.output();
        let after = out
            .split("with the pistol for 7")
            .nth(1)
            .expect("a line after the reload");
        // The kill count went on from where it was: state kept, not a restart.
        let kills: Vec<u32> = out
            .lines()
            .filter_map(|l| l.split("(kills: ").nth(1))
            .filter_map(|k| k.trim_end_matches(')').parse().ok())
            .collect();
        assert!(
            kills.windows(2).all(|w| w[1] == w[0] + 1),
            "{version}: kills restarted or skipped: {kills:?}"
        );
        assert!(
            !after.contains("kills: 1)"),
            "{version}: the game restarted"
        );
    }
    assert!(ran > 0, "no CPython 3.9–3.13 found under pyenv");
}
