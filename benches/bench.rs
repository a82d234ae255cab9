//! `cargo bench`: every swapscope benchmark in one run, printed as one table (the README's
//! "Benchmarks" section is this output).
//!
//! - reload vs the floor (compile + exec into a fresh dict) at ~200, 5,000 and 50,000 lines, and
//!   the alternatives on the same workload (`importlib.reload`; `IPython`'s autoreload and jurigged
//!   in a virtual environment this bench creates with pip);
//! - the same reload with 0, 1 and 5 million live instances;
//! - import time with and without tracking; peak RSS added by tracking and by one reload;
//! - save → applied latency in auto mode (plain write and atomic rename);
//! - the window's frame time with 10,000 modules listed and 5,000 attributes shown.
//!
//! The Python side is `benches/reload_bench.py` and `benches/latency_bench.py`; results are also
//! written to `target/bench/*.json`.

#![expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    reason = "statistics over small counts and millisecond floats"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde::Deserialize;
use swapscope::engine::{AttrInfo, Group, Kind, ModuleInfo};
use swapscope::runtime::{Event, ModuleName};
use swapscope::ui::InspectorApp;

#[derive(Debug, Deserialize)]
struct Row {
    measure: String,
    size: String,
    tool: String,
    median_ms: Option<f64>,
    min_ms: Option<f64>,
    max_ms: Option<f64>,
    peak_kib: Option<i64>,
    /// Set when one reload took longer than this many seconds and was stopped.
    over_s: Option<u64>,
    /// For the one-edit table: which edit (`one constant`, `one function`, ...).
    edit: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Info {
    python: String,
}

#[derive(Debug, Deserialize)]
struct Results {
    rows: Vec<Row>,
    notes: Vec<String>,
    info: Info,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(program: &Path, args: &[&str], what: &str) -> Result<(), String> {
    eprintln!("bench: {what}");
    // A folder swapscope does not track, for the benchmarks' untracked imports and the other
    // tools' copies of a module (`reload_bench.py` uses it when this names it).
    let untracked = root().join("target/bench/untracked");
    let _ = std::fs::create_dir_all(&untracked);
    let status = Command::new(program)
        .args(args)
        .current_dir(root())
        .env("SWAPSCOPE_EXCLUDE", &untracked)
        .status()
        .map_err(|e| format!("{what}: cannot run {}: {e}", program.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what}: {} exited with {status}",
            program.display()
        ))
    }
}

fn load(path: &Path) -> Result<Results, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// A virtual environment with `IPython` and jurigged, made once under target/bench.
fn venv(dir: &Path) -> Result<PathBuf, String> {
    let python = dir.join("venv/bin/python");
    let ready = dir.join("venv/.swapscope-ready");
    if ready.exists() {
        return Ok(python);
    }
    run(
        Path::new("python3"),
        &["-m", "venv", &dir.join("venv").to_string_lossy()],
        "creating the venv",
    )?;
    run(
        &python,
        &["-m", "pip", "install", "-q", "ipython", "jurigged"],
        "pip install ipython jurigged",
    )?;
    std::fs::write(&ready, "").map_err(|e| e.to_string())?;
    Ok(python)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// CPU work of one frame of the window (layout, painting, tessellation; the GPU upload excluded):
/// 10,000 modules listed with every group expanded, 5,000 attributes in the table.
fn ui_frames() -> (f64, f64, usize) {
    let (cmd_tx, cmd_rx) = crossbeam_channel::bounded(1 << 16);
    let (ev_tx, ev_rx) = crossbeam_channel::bounded(1 << 16);
    let mut app = InspectorApp::new(cmd_tx, ev_rx);
    let groups = [
        Group::Project,
        Group::SitePackages,
        Group::Stdlib,
        Group::Builtin,
    ];
    let modules: Vec<ModuleInfo> = (0..10_000)
        .map(|i| ModuleInfo {
            name: format!("package_{}.module_{i:05}", i % 37),
            file: Some(format!("/srv/game/package_{}/module_{i:05}.py", i % 37)),
            group: groups[i % 4],
            tracked: i % 4 == 0,
            changed_on_disk: i % 50 == 0,
            last_outcome: None,
        })
        .collect();
    let selected = modules[0].name.clone();
    let attrs: Vec<AttrInfo> = (0..5_000)
        .map(|i| {
            AttrInfo::new(
                format!("ATTR_{i}"),
                format!("ATTR_{i}"),
                if i % 3 == 0 {
                    Kind::Function
                } else {
                    Kind::Data
                },
                format!("{{'cost': {i}, 'weight': {}}}", i % 13),
            )
        })
        .collect();
    let send = |e: Event| ev_tx.send(e).expect("app alive");
    send(Event::Started {
        python_version: "3.11".into(),
        roots: vec![PathBuf::from("/srv/game")],
        script: PathBuf::from("/srv/game/main.py"),
    });
    send(Event::Modules(modules));
    send(Event::Attributes {
        module: ModuleName(selected.clone()),
        attrs,
    });
    app.state.expanded = groups.into_iter().collect();
    app.state.selected = Some(selected);
    let ctx = egui::Context::default();
    let mut times = Vec::new();
    let frames = 600;
    for i in 0..frames {
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(1400.0, 900.0),
            )),
            time: Some(f64::from(i) / 60.0),
            ..Default::default()
        };
        let t = Instant::now();
        let out = ctx.run_ui(input, |ui| {
            app.pump(ui.ctx());
            let actions = app.draw(ui);
            app.run_commands(actions);
        });
        let _ = ctx.tessellate(out.shapes, out.pixels_per_point);
        let dt = t.elapsed();
        while cmd_rx.try_recv().is_ok() {}
        if i >= 60 {
            times.push(dt.as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    (
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.len(),
    )
}

/// `median [min–max]`, and the ratio to `floor`'s median when given.
fn cell(row: Option<&Row>, floor: Option<&Row>) -> String {
    let Some(r) = row else { return "—".into() };
    if let Some(limit) = r.over_s {
        return format!("over {limit} s (stopped)");
    }
    let Some(ms) = r.median_ms else {
        return "—".into();
    };
    let spread = match (r.min_ms, r.max_ms) {
        (Some(lo), Some(hi)) => format!(" [{}–{}]", ms_text(lo), ms_text(hi)),
        _ => String::new(),
    };
    match floor.and_then(|f| f.median_ms) {
        Some(f) => format!("{}{spread} ({:.2}×)", ms_text(ms), ms / f),
        None => format!("{}{spread}", ms_text(ms)),
    }
}

fn ms_text(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

fn find<'a>(rows: &'a [Row], measure: &str, size: &str, tool: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.measure == measure && r.size == size && r.tool.starts_with(tool))
}

/// The one-edit row of `tool` (a prefix: `IPython`'s label carries its version).
fn find_edit<'a>(rows: &'a [Row], size: &str, edit: &str, tool: &str) -> Option<&'a Row> {
    rows.iter().find(|r| {
        r.measure == "edit"
            && r.size == size
            && r.edit.as_deref() == Some(edit)
            && (r.tool == tool || (r.tool.starts_with(tool) && !r.tool.contains(',')))
    })
}

/// The one-edit table (incremental reload): each tool's median, × its ratio to the floor
/// measured in the same process.
fn print_edits(ours: &[Row], alts: Option<&[Row]>) {
    println!(
        "\n**One edit, then reload** (median; × = ratio to the floor measured in the same process)\n"
    );
    println!(
        "| lines | edit | floor: compile + exec | swapscope | swapscope, full=True | importlib.reload | IPython superreload | IPython autoreload (default) | jurigged |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for size in ["200", "5k", "50k"] {
        for edit in [
            "one constant",
            "one function",
            "one method",
            "every function",
        ] {
            let f = find_edit(ours, size, edit, "floor");
            let af = alts.and_then(|a| find_edit(a, size, edit, "floor"));
            let alt = |tool: &str| cell(alts.and_then(|a| find_edit(a, size, edit, tool)), af);
            let ipy = |suffix: &str| {
                cell(
                    alts.and_then(|a| {
                        a.iter().find(|r| {
                            r.measure == "edit"
                                && r.size == size
                                && r.edit.as_deref() == Some(edit)
                                && r.tool.ends_with(suffix)
                        })
                    }),
                    af,
                )
            };
            println!(
                "| {size} | {edit} | {} | {} | {} | {} | {} | {} | {} |",
                cell(f, None),
                cell(find_edit(ours, size, edit, "swapscope"), f),
                cell(find_edit(ours, size, edit, "swapscope, full=True"), f),
                cell(find_edit(ours, size, edit, "importlib.reload"), f),
                ipy("superreload"),
                ipy("(default)"),
                alt("jurigged"),
            );
        }
    }
}

/// `SWAPSCOPE_BENCH_EDITS=1 cargo bench`: only the one-edit table (with
/// `SWAPSCOPE_BENCH_REUSE_ALT=1`, the alternatives' part from the last run).
fn bench_edits() -> Result<(), String> {
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let exe = Path::new(env!("CARGO_BIN_EXE_swapscope"));
    let started = Instant::now();
    let ours_path = dir.join("edits.json");
    run(
        exe,
        &[
            "--headless",
            "benches/reload_bench.py",
            "--mode",
            "edits",
            "--out",
            &ours_path.to_string_lossy(),
        ],
        "swapscope: one edit",
    )?;
    let ours = load(&ours_path)?;
    let alt_path = dir.join("alt-edits.json");
    // `SWAPSCOPE_BENCH_REUSE_ALT=1`: the alternatives' figures of the last run (they take 15
    // minutes and do not depend on swapscope).
    let reuse = std::env::var_os("SWAPSCOPE_BENCH_REUSE_ALT").is_some() && alt_path.exists();
    let alts = if reuse {
        load(&alt_path)
    } else {
        venv(&dir).and_then(|py| {
            run(
                &py,
                &[
                    "benches/reload_bench.py",
                    "--mode",
                    "alt-edits",
                    "--out",
                    &alt_path.to_string_lossy(),
                ],
                "alternatives: one edit",
            )?;
            load(&alt_path)
        })
    };
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!(
        "Machine: {cores} cores; swapscope on CPython {}; took {:.0} s.",
        ours.info.python,
        started.elapsed().as_secs_f64()
    );
    match &alts {
        Ok(a) => print_edits(&ours.rows, Some(&a.rows)),
        Err(e) => {
            print_edits(&ours.rows, None);
            println!("\nIPython and jurigged: skipped ({e})");
        }
    }
    for n in ours
        .notes
        .iter()
        .chain(alts.iter().flat_map(|a| a.notes.iter()))
    {
        println!("- {n}");
    }
    Ok(())
}

fn main() {
    // `SWAPSCOPE_BENCH_WINDOW=1 cargo bench`: only the window's frame times (seconds, not
    // minutes: for working on the window).
    if std::env::var_os("SWAPSCOPE_BENCH_WINDOW").is_some() {
        let (p50, p99, n) = ui_frames();
        println!("window frames: n={n} p50 {p50:.2} ms p99 {p99:.2} ms");
        return;
    }
    if std::env::var_os("SWAPSCOPE_BENCH_EDITS").is_some() {
        if let Err(e) = bench_edits() {
            eprintln!("bench failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    if let Err(e) = bench() {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}

fn bench() -> Result<(), String> {
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let exe = Path::new(env!("CARGO_BIN_EXE_swapscope"));
    let started = Instant::now();

    let ours_path = dir.join("swapscope.json");
    run(
        exe,
        &[
            "--headless",
            "benches/reload_bench.py",
            "--mode",
            "swapscope",
            "--out",
            &ours_path.to_string_lossy(),
        ],
        "swapscope: reload, heap, import, memory",
    )?;
    let ours = load(&ours_path)?;

    let mut notes = ours.notes.clone();
    // Memory: each case in a fresh process, so its peak is its own.
    let mut memory = Vec::new();
    for case in [
        "import, untracked",
        "import, tracked",
        "one swapscope reload",
    ] {
        let path = dir.join("memory.json");
        run(
            exe,
            &[
                "--headless",
                "benches/reload_bench.py",
                "--mode",
                "memory",
                "--case",
                case,
                "--out",
                &path.to_string_lossy(),
            ],
            &format!("memory: {case}"),
        )?;
        memory.extend(load(&path)?.rows);
    }
    let alt_path = dir.join("alternatives.json");
    let alts = match venv(&dir).and_then(|py| {
        run(
            &py,
            &[
                "benches/reload_bench.py",
                "--mode",
                "alternatives",
                "--out",
                &alt_path.to_string_lossy(),
            ],
            "alternatives",
        )?;
        load(&alt_path)
    }) {
        Ok(a) => Some(a),
        Err(e) => {
            notes.push(format!("IPython and jurigged: skipped ({e})"));
            None
        }
    };

    let lat_path = dir.join("latency.json");
    run(
        exe,
        &[
            "--headless",
            "--auto",
            "benches/latency_bench.py",
            "--out",
            &lat_path.to_string_lossy(),
        ],
        "save → applied latency",
    )?;
    let lat: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&lat_path).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;

    eprintln!("bench: window frames");
    let (ui_p50, ui_p99, ui_n) = ui_frames();

    // ---- the table --------------------------------------------------------------------------
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!(
        "Machine: {cores} cores; swapscope on CPython {}{}; `cargo bench` took {:.0} s.\n",
        ours.info.python,
        alts.as_ref().map_or(String::new(), |a| format!(
            ", the alternatives on CPython {}",
            a.info.python
        )),
        started.elapsed().as_secs_f64()
    );
    println!("**Reload** (median; × = ratio to the floor measured in the same process and run)\n");
    println!(
        "| lines | floor: compile + exec | swapscope | importlib.reload | IPython superreload | IPython autoreload (default) | jurigged |"
    );
    println!("|---|---|---|---|---|---|---|");
    for size in ["200", "5k", "50k"] {
        let f = find(&ours.rows, "reload", size, "floor");
        let af = alts
            .as_ref()
            .and_then(|a| find(&a.rows, "reload", size, "floor"));
        let alt = |tool: &str| {
            cell(
                alts.as_ref()
                    .and_then(|a| find(&a.rows, "reload", size, tool)),
                af,
            )
        };
        let ipy_super = alts.as_ref().and_then(|a| {
            a.rows
                .iter()
                .find(|r| r.size == size && r.tool.ends_with("superreload"))
        });
        let ipy_default = alts.as_ref().and_then(|a| {
            a.rows
                .iter()
                .find(|r| r.size == size && r.tool.ends_with("(default)"))
        });
        println!(
            "| {size} | {} | {} | {} | {} | {} | {} |",
            cell(f, None),
            cell(find(&ours.rows, "reload", size, "swapscope"), f),
            cell(find(&ours.rows, "reload", size, "importlib"), f),
            cell(ipy_super, af),
            cell(ipy_default, af),
            alt("jurigged"),
        );
    }
    print_edits(&ours.rows, alts.as_ref().map(|a| a.rows.as_slice()));
    println!("\n**Heap independence** (5k-line module, live instances of its classes in a list)\n");
    println!("| live instances | floor | swapscope | swapscope vs 0 |");
    println!("|---|---|---|---|");
    let heap0 = find(&ours.rows, "heap", "0", "swapscope").and_then(|r| r.median_ms);
    for size in ["0", "1M", "5M"] {
        let s = find(&ours.rows, "heap", size, "swapscope");
        let vs = match (s.and_then(|r| r.median_ms), heap0) {
            (Some(a), Some(b)) => format!("{:.2}×", a / b),
            _ => "—".into(),
        };
        println!(
            "| {size} | {} | {} | {vs} |",
            cell(find(&ours.rows, "heap", size, "floor"), None),
            cell(s, None)
        );
    }
    println!("\n**Import overhead of tracking** (baselines and fingerprints taken at import)\n");
    println!("| module | import, untracked | import, tracked | overhead |");
    println!("|---|---|---|---|");
    for size in ["200", "5k", "50k", "cfg100k"] {
        let u = find(&ours.rows, "import", size, "import, untracked");
        let t = find(&ours.rows, "import", size, "import, tracked");
        let over = match (u.and_then(|r| r.median_ms), t.and_then(|r| r.median_ms)) {
            (Some(a), Some(b)) => format!("{:+.0}%", (b / a - 1.0) * 100.0),
            _ => "—".into(),
        };
        let label = if size == "cfg100k" {
            "100,000-entry config dict".to_string()
        } else {
            format!("{size} lines")
        };
        println!(
            "| {label} | {} | {} | {over} |",
            cell(u, None),
            cell(t, None)
        );
    }
    println!(
        "\n**Save → applied latency** (auto mode, 100 saves, write returned → new value visible at the game loop's safe point)\n"
    );
    println!("| save | n | p50 | p99 | max |");
    println!("|---|---|---|---|---|");
    for kind in ["plain", "rename"] {
        let mut v: Vec<f64> = lat
            .get(kind)
            .and_then(|x| x.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(serde_json::Value::as_f64)
                    .map(|s| s * 1000.0)
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by(f64::total_cmp);
        println!(
            "| {} | {} | {:.1} ms | {:.1} ms | {:.1} ms |",
            if kind == "plain" {
                "plain write"
            } else {
                "atomic rename"
            },
            v.len(),
            percentile(&v, 0.5),
            percentile(&v, 0.99),
            v.last().copied().unwrap_or(f64::NAN)
        );
    }
    if let Some(missed) = lat
        .get("missed")
        .and_then(serde_json::Value::as_i64)
        .filter(|m| *m > 0)
    {
        notes.push(format!(
            "latency: {missed} saves were not applied within 5 s"
        ));
    }
    println!(
        "\n**Window** (CPU time of one frame: layout, paint, tessellation; 10,000 modules listed, 5,000 attributes)\n"
    );
    println!("| frames | p50 | p99 |");
    println!("|---|---|---|");
    println!("| {ui_n} | {ui_p50:.2} ms | {ui_p99:.2} ms |");
    println!("\n**Memory** (peak RSS added, 50k-line module, each in a fresh process)\n");
    println!("| what | peak RSS added |");
    println!("|---|---|");
    for r in &memory {
        println!(
            "| {} | {:.1} MiB |",
            r.tool,
            r.peak_kib.unwrap_or(0) as f64 / 1024.0
        );
    }
    for n in alts.iter().flat_map(|a| a.notes.iter()).chain(notes.iter()) {
        println!("\n- {n}");
    }
    Ok(())
}
