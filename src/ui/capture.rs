//! Screenshot capture: a scripted session on a copy of the demo (edit files, reload, select
//! reports) that saves real captures of the running window as PNG files. Run by
//! `swapscope --capture DIR` (under Xvfb on a machine without a display).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::InspectorApp;
use crate::protocol::Outcome;

/// The screenshots the script takes, in order.
pub const SHOTS: [&str; 6] = [
    "main.png",
    "report.png",
    "failed.png",
    "plot.png",
    "warning.png",
    "undo.png",
];

/// Gives up if a step waits longer than this.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    WaitStart,
    EditBalance,
    WaitPreview,
    ShotMain,
    EditPlayers,
    WaitPlayersReport,
    ShotReport,
    BreakBalance,
    WaitFailed,
    ShotFailed,
    FixBalance,
    WaitFixed,
    ShotPlot,
    RemoveXp,
    WaitHazard,
    ShotWarning,
    RestoreXp,
    WaitSafePreview,
    WaitRestored,
    WaitUndo,
    ShotUndo,
    Close,
}

/// The capture script's progress.
pub struct CaptureScript {
    out_dir: PathBuf,
    demo_dir: PathBuf,
    step: Step,
    since: Instant,
    /// Screenshots written so far (set by the screenshot callbacks).
    written: Arc<AtomicUsize>,
    requested: bool,
    /// History entries before the reload a step waits for.
    since_reports: usize,
    /// Why the script stopped early, if it did.
    pub error: Arc<Mutex<Option<String>>>,
}

fn edit(path: &Path, from: &str, to: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !text.contains(from) {
        return Err(format!("{} does not contain {from:?}", path.display()));
    }
    std::fs::write(path, text.replacen(from, to, 1))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn save_png(path: &Path, image: &egui::ColorImage) -> Result<(), String> {
    let file = std::fs::File::create(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let [w, h] = image.size;
    let mut encoder = png::Encoder::new(
        std::io::BufWriter::new(file),
        u32::try_from(w).unwrap_or(0),
        u32::try_from(h).unwrap_or(0),
    );
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    let bytes: Vec<u8> = image
        .pixels
        .iter()
        .flat_map(egui::Color32::to_array)
        .collect();
    writer.write_image_data(&bytes).map_err(|e| e.to_string())
}

/// The id of an applied reload of `module` among the history entries after the first `since`.
fn applied_since(app: &InspectorApp, module: &str, since: usize) -> Option<u64> {
    app.state
        .history
        .iter()
        .skip(since)
        .find(|h| h.report.module == module && h.report.outcome == Outcome::Applied)
        .map(|h| h.report.id)
}

impl CaptureScript {
    /// A script that edits the demo copy in `demo_dir` and writes PNGs to `out_dir`.
    pub fn new(out_dir: PathBuf, demo_dir: PathBuf) -> Self {
        CaptureScript {
            out_dir,
            demo_dir,
            step: Step::WaitStart,
            since: Instant::now(),
            written: Arc::new(AtomicUsize::new(0)),
            requested: false,
            since_reports: 0,
            error: Arc::new(Mutex::new(None)),
        }
    }

    fn next(&mut self, step: Step) {
        self.step = step;
        self.since = Instant::now();
        self.requested = false;
    }

    fn fail(&mut self, message: String, ctx: &egui::Context) -> bool {
        *self
            .error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(message);
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        true
    }

    fn shot(&mut self, ctx: &egui::Context, index: usize, then: Step) {
        if !self.requested {
            // Let a few frames settle (layout, fonts) before capturing.
            if self.since.elapsed() < Duration::from_millis(1500) {
                return;
            }
            self.requested = true;
            let path = self.out_dir.join(SHOTS[index]);
            let written = Arc::clone(&self.written);
            let error = Arc::clone(&self.error);
            ctx.request_screenshot(move |image| match save_png(&path, &image) {
                Ok(()) => {
                    written.fetch_add(1, Ordering::SeqCst);
                }
                Err(e) => {
                    *error
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                }
            });
        } else if self.written.load(Ordering::SeqCst) > index {
            self.next(then);
        }
    }

    /// Advances the script by one frame; true when finished.
    pub fn step(&mut self, app: &mut InspectorApp, ctx: &egui::Context) -> bool {
        ctx.request_repaint_after(Duration::from_millis(50));
        if self.since.elapsed() > STEP_TIMEOUT {
            return self.fail(format!("capture step {:?} timed out", self.step), ctx);
        }
        let balance = self.demo_dir.join("balance.py");
        let players = self.demo_dir.join("players.py");
        let result = match self.step {
            Step::WaitStart => {
                // Some kills first, so DIFFICULTY has moved live.
                if app.state.module("balance").is_some() && self.since.elapsed() > Duration::from_secs(4) {
                    app.run_commands(vec![super::UiCommand::SelectModule("balance".into())]);
                    self.next(Step::EditBalance);
                }
                Ok(())
            }
            Step::EditBalance => edit(&balance, "\"damage\": 10,", "\"damage\": 14,")
                .and_then(|()| edit(&balance, "DIFFICULTY = 1.0", "DIFFICULTY = 2.0"))
                .map(|()| self.next(Step::WaitPreview)),
            Step::WaitPreview => {
                if app.state.previews.contains_key("balance") && app.state.attrs.contains_key("balance") {
                    self.next(Step::ShotMain);
                }
                Ok(())
            }
            Step::ShotMain => {
                self.shot(ctx, 0, Step::EditPlayers);
                Ok(())
            }
            Step::EditPlayers => edit(
                &players,
                "        dealt = balance.damage_of(self.weapon, self.level) * rate\n",
                "        dealt = balance.damage_of(self.weapon, self.level) * rate\n        if self.kills % 3 == 2:\n            dealt *= 2  # critical hit every third kill\n",
            )
            .map(|()| {
                app.run_commands(vec![super::UiCommand::SelectModule("players".into()), super::UiCommand::ReloadSelected]);
                self.next(Step::WaitPlayersReport);
            }),
            Step::WaitPlayersReport => {
                let done = app.state.history.iter().rev().find(|h| h.report.module == "players").filter(|h| h.new_source.is_some()).map(|h| h.report.id);
                if let Some(id) = done {
                    app.run_commands(vec![super::UiCommand::SelectReport(id)]);
                    self.next(Step::ShotReport);
                }
                Ok(())
            }
            Step::ShotReport => {
                self.shot(ctx, 1, Step::BreakBalance);
                Ok(())
            }
            Step::BreakBalance => edit(&balance, "def damage_of(weapon, level):", "def damage_of(weapon, level:").map(|()| {
                self.since_reports = app.state.history.len();
                app.run_commands(vec![super::UiCommand::SelectModule("balance".into()), super::UiCommand::ReloadSelected]);
                self.next(Step::WaitFailed);
            }),
            Step::WaitFailed => {
                let failed = app.state.history.iter().rev().find(|h| h.report.module == "balance" && h.report.outcome == Outcome::Failed).map(|h| h.report.id);
                if let Some(id) = failed {
                    app.run_commands(vec![super::UiCommand::SelectReport(id)]);
                    self.next(Step::ShotFailed);
                }
                Ok(())
            }
            Step::ShotFailed => {
                self.shot(ctx, 2, Step::FixBalance);
                Ok(())
            }
            Step::FixBalance => edit(
                &balance,
                "def damage_of(weapon, level:",
                "def damage_of(weapon, level):",
            )
            .map(|()| {
                app.run_commands(vec![
                    super::UiCommand::SelectModule("balance".into()),
                    super::UiCommand::ReloadSelected,
                    super::UiCommand::Plot("balance".into(), "DIFFICULTY".into()),
                ]);
                self.next(Step::WaitFixed);
            }),
            Step::WaitFixed => {
                // The plot needs some samples on both sides of the reload mark.
                let fixed = applied_since(app, "balance", self.since_reports);
                if fixed.is_some() && self.since.elapsed() > Duration::from_secs(6) {
                    self.next(Step::ShotPlot);
                }
                Ok(())
            }
            Step::ShotPlot => {
                self.shot(ctx, 3, Step::RemoveXp);
                Ok(())
            }
            Step::RemoveXp => edit(&balance, "XP_PER_KILL = 30\n", "").map(|()| {
                app.run_commands(vec![super::UiCommand::ClosePlot]);
                self.next(Step::WaitHazard);
            }),
            Step::WaitHazard => {
                let warned = app
                    .state
                    .previews
                    .get("balance")
                    .is_some_and(|p| !p.hazards().is_empty());
                if warned {
                    app.run_commands(vec![super::UiCommand::ReloadSelected]);
                    self.next(Step::ShotWarning);
                }
                Ok(())
            }
            Step::ShotWarning => {
                self.shot(ctx, 4, Step::RestoreXp);
                Ok(())
            }
            Step::RestoreXp => edit(
                &balance,
                "XP_PER_LEVEL = 100",
                "XP_PER_KILL = 30\nXP_PER_LEVEL = 100",
            )
            .and_then(|()| edit(&balance, "DIFFICULTY = 2.0", "DIFFICULTY = 1.5"))
            .map(|()| {
                app.run_commands(vec![super::UiCommand::CancelReload]);
                self.next(Step::WaitSafePreview);
            }),
            Step::WaitSafePreview => {
                // The dry run of the restored file, without the warning: then Reload reloads.
                let safe = app
                    .state
                    .previews
                    .get("balance")
                    .is_some_and(|p| p.hazards().is_empty());
                if safe {
                    self.since_reports = app.state.history.len();
                    app.run_commands(vec![super::UiCommand::ReloadSelected]);
                    self.next(Step::WaitRestored);
                }
                Ok(())
            }
            Step::WaitRestored => {
                if applied_since(app, "balance", self.since_reports).is_some() {
                    self.since_reports = app.state.history.len();
                    app.run_commands(vec![super::UiCommand::UndoSelected]);
                    self.next(Step::WaitUndo);
                }
                Ok(())
            }
            Step::WaitUndo => {
                let undone = app
                    .state
                    .history
                    .iter()
                    .skip(self.since_reports)
                    .find(|h| h.report.module == "balance" && h.report.undo)
                    .map(|h| h.report.id);
                if let Some(id) = undone {
                    app.run_commands(vec![super::UiCommand::SelectReport(id)]);
                    self.next(Step::ShotUndo);
                }
                Ok(())
            }
            Step::ShotUndo => {
                self.shot(ctx, 5, Step::Close);
                Ok(())
            }
            Step::Close => {
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                return true;
            }
        };
        match result {
            Ok(()) => false,
            Err(e) => self.fail(e, ctx),
        }
    }
}
