//! What the window remembers between runs: the zoom, the theme (dark or light), and the
//! auto-reload and closure-scan switches. eframe keeps them with the window's size and position and egui's memory (panel
//! sizes) in its per-user storage file (`$XDG_DATA_HOME/swapscope/app.ron`, by default
//! `~/.local/share/swapscope/app.ron`, on Linux,
//! `~/Library/Application Support/swapscope/app.ron` on macOS, `%APPDATA%\swapscope\data\app.ron`
//! on Windows).

use serde::{Deserialize, Serialize};

/// The key of the settings in eframe's storage.
pub const KEY: &str = "swapscope.settings";

/// The zoom range restored: a damaged or hand-edited file must not open an unusable window.
const ZOOM_RANGE: std::ops::RangeInclusive<f32> = 0.5..=3.0;

/// The remembered settings. Missing fields (a file from an older swapscope) take the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// egui's zoom factor (1.0 is 100%).
    pub zoom: f32,
    /// Dark or light, as chosen in the status bar (dark for a file from before the switch).
    pub theme: egui::Theme,
    pub auto_reload: bool,
    pub closure_scan: bool,
    /// Whole-module reloads (`Command::SetWholeReloads`).
    pub whole_reloads: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            zoom: 1.0,
            theme: egui::Theme::Dark,
            auto_reload: false,
            closure_scan: false,
            whole_reloads: false,
        }
    }
}

impl Settings {
    /// The settings `storage` holds, if any (unreadable ones count as none).
    pub fn load(storage: &dyn eframe::Storage) -> Option<Settings> {
        let mut settings: Settings = eframe::get_value(storage, KEY)?;
        settings.zoom = if settings.zoom.is_finite() {
            settings.zoom.clamp(*ZOOM_RANGE.start(), *ZOOM_RANGE.end())
        } else {
            1.0
        };
        Some(settings)
    }

    /// Writes the settings into `storage` (eframe writes the file to disk itself).
    pub fn store(&self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, KEY, self);
    }
}
