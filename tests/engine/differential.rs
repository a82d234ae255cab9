//! Incremental reload against whole reload on every engine scenario (issue 14's proof of
//! equivalence): this test runs the other engine tests twice in child processes of this binary
//! — once with every reload whole (`SWAPSCOPE_DIFF_MODE=full`), once as they are, incremental
//! where the engine can — and has each record what every reload did (`common/prelude.py` wraps
//! `swapscope.reload`; `common/differential.py` reduces a reload to outcome, error line, the
//! report's entries that are not `unchanged`, and a digest of the module's namespace: values,
//! code with its line numbers, identities). The two records of each reload must be equal.
//!
//! The thread tests' reloads are compared for nothing: their live counters advance with the
//! scheduler. The scenarios that check incremental reload itself (`incremental::`) assert what only that
//! mode does, and the splitter's test (`statements::`) reloads nothing: both are left out.

use std::path::Path;
use std::process::Command;

use pyo3::prelude::*;

use crate::common::engine::project;

fn run_children(log: &Path, mode: &str) -> String {
    let exe = std::env::current_exe().expect("the test binary");
    let helper = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/differential.py");
    let out = Command::new(exe)
        .args(["--skip", "differential::", "--skip", "incremental::"])
        .args(["--skip", "statements::", "--test-threads", "4"])
        .env("SWAPSCOPE_DIFF_LOG", log)
        .env("SWAPSCOPE_DIFF_MODE", mode)
        .env("SWAPSCOPE_DIFF_HELPER", &helper)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run the engine tests");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the engine tests failed with every reload {mode}:\n{text}"
    );
    text
}

#[test]
fn whole_and_incremental_reloads_agree_on_every_engine_scenario() {
    if std::env::var_os("SWAPSCOPE_DIFF_LOG").is_some() {
        return; // a child of this very test
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (full_log, inc_log) = (dir.path().join("full.jsonl"), dir.path().join("inc.jsonl"));
    run_children(&full_log, "full");
    run_children(&inc_log, "incremental");
    let helper = include_str!("../common/differential.py");
    // The interpreter, for the comparison (it touches no module of the other tests).
    let _p = project();
    let verdict: (usize, usize, Vec<String>) = Python::attach(|py| {
        let ns = pyo3::types::PyDict::new(py);
        ns.set_item("__builtins__", py.import("builtins")?)?;
        py.run(&std::ffi::CString::new(helper)?, Some(&ns), None)?;
        ns.set_item("full_log", full_log.to_string_lossy().as_ref())?;
        ns.set_item("inc_log", inc_log.to_string_lossy().as_ref())?;
        py.run(
            cr#"
import json

def load(path):
    with open(path, encoding="utf-8") as f:
        return {r["key"]: r["record"] for r in map(json.loads, f)}

# The thread tests' live counters advance with the scheduler, not with the reloads.
skip = ("thr_",)
full, inc = load(full_log), load(inc_log)
full = {k: v for k, v in full.items() if not k.startswith(skip)}
inc = {k: v for k, v in inc.items() if not k.startswith(skip)}
problems = []
for key in sorted(set(full) | set(inc)):
    if key not in full or key not in inc:
        problems.append(f"{key}: recorded in one run only (full: {key in full})")
        continue
    a, b = full[key], inc[key]
    if "raised" in a or "raised" in b:
        if a.get("raised") != b.get("raised"):
            problems.append(f"{key}: raised {a.get('raised')!r} / {b.get('raised')!r}")
        continue
    for d in differences(a, b):
        problems.append(f"{key}: {d}")
incremental = sum(1 for r in inc.values() if r.get("mode") == "incremental")
"#,
            Some(&ns),
            None,
        )?;
        let get = |k: &str| ns.get_item(k).ok().flatten();
        let reloads = get("full").map_or(0, |f| f.len().unwrap_or(0));
        let incremental = get("incremental")
            .and_then(|v| v.extract().ok())
            .unwrap_or(0);
        let problems = get("problems")
            .and_then(|v| v.extract().ok())
            .unwrap_or_default();
        Ok::<_, PyErr>((reloads, incremental, problems))
    })
    .expect("comparing the records");
    let (reloads, incremental, problems) = verdict;
    println!("{reloads} reloads compared, {incremental} of them incremental");
    assert!(reloads > 100, "too few reloads recorded: {reloads}");
    assert!(
        incremental * 2 > reloads,
        "most reloads should be incremental: {incremental} of {reloads}"
    );
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
