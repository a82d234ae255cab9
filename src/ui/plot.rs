//! A numeric attribute (or key path) of a module plotted over time, with the moments of that
//! module's reloads marked: the designer sees a value drift while the game runs and where a
//! reload moved it.
//!
//! Samples come from the live values the window already receives for the selected module
//! (`Event::Attributes`, every refresh): every number of that module and of its entries is
//! recorded as it arrives, so a series has its recent past when the user asks for the plot.

use std::collections::{HashMap, VecDeque};
use std::time::SystemTime;

use egui::{RichText, Ui};
use egui_plot::{Line, Plot, VLine};

use super::UiCommand;
use super::state::UiState;
use super::theme;
use crate::protocol::{AttrInfo, Kind, Outcome};

/// Samples kept per series (at one refresh every 0.7 s: about seven minutes).
pub const SAMPLES_KEPT: usize = 600;
/// Series recorded per window: a module of thousands of numbers records its first ones only.
pub const SERIES_MAX: usize = 2000;

/// The recorded series, and the one shown.
#[derive(Debug, Default)]
pub struct Plots {
    /// Time 0 of every series: the first sample.
    origin: Option<SystemTime>,
    /// (module, qualname or key path) → (seconds, value), oldest first.
    series: HashMap<(String, String), VecDeque<[f64; 2]>>,
    /// The series the plot shows.
    pub shown: Option<(String, String)>,
}

impl Plots {
    /// Records every number among `attrs` (and their entries) of `module`, taken at `at`.
    pub fn sample(&mut self, module: &str, attrs: &[AttrInfo], at: SystemTime) {
        self.origin.get_or_insert(at);
        let t = self.seconds(at);
        let mut stack: Vec<&AttrInfo> = attrs.iter().collect();
        while let Some(a) = stack.pop() {
            stack.extend(a.children.iter());
            if a.kind != Kind::Data {
                continue;
            }
            let Some(v) = number(&a.repr) else { continue };
            let key = (module.to_string(), a.qualname.clone());
            if !self.series.contains_key(&key) && self.series.len() >= SERIES_MAX {
                continue;
            }
            let points = self.series.entry(key).or_default();
            points.push_back([t, v]);
            while points.len() > SAMPLES_KEPT {
                points.pop_front();
            }
        }
    }

    /// The recorded points of a series, oldest first.
    pub fn points(&self, module: &str, qualname: &str) -> Option<&VecDeque<[f64; 2]>> {
        self.series.get(&(module.to_string(), qualname.to_string()))
    }

    /// Whether a number of this attribute or key path has been recorded (it can be plotted).
    pub fn has(&self, module: &str, qualname: &str) -> bool {
        self.points(module, qualname).is_some()
    }

    /// `at` on the plots' time axis: seconds since the first sample (negative before it).
    pub fn seconds(&self, at: SystemTime) -> f64 {
        let Some(origin) = self.origin else {
            return 0.0;
        };
        match at.duration_since(origin) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        }
    }
}

/// The number a live value's repr shows: an int, a float or a bool (as 0 or 1).
pub fn number(repr: &str) -> Option<f64> {
    match repr {
        "True" => return Some(1.0),
        "False" => return Some(0.0),
        _ => {}
    }
    // Python writes `1_000` only in source; a repr never has underscores, but may say inf/nan.
    let v: f64 = repr.parse().ok()?;
    v.is_finite().then_some(v)
}

/// Where the shown module's applied reloads happened, on the plot's time axis.
pub fn reload_marks(state: &UiState, module: &str) -> Vec<f64> {
    state
        .history
        .iter()
        .filter(|h| h.report.module == module && h.report.outcome == Outcome::Applied)
        .map(|h| state.plots.seconds(h.at))
        .collect()
}

/// The plot window of the shown series, if any.
pub fn plot_ui(ctx: &egui::Context, state: &UiState, commands: &mut Vec<UiCommand>) {
    let Some((module, qualname)) = state.plots.shown.clone() else {
        return;
    };
    let marks = reload_marks(state, &module);
    let points: Vec<[f64; 2]> = state
        .plots
        .points(&module, &qualname)
        .map(|p| p.iter().copied().collect())
        .unwrap_or_default();
    let selected = state.selected.as_deref() == Some(module.as_str());
    let mut open = true;
    egui::Window::new(format!("Plot: {module}.{qualname}"))
        .id(egui::Id::unique("plot window"))
        .open(&mut open)
        .default_size([520.0, 260.0])
        .resizable(true)
        .show(ctx, |ui: &mut Ui| {
            let last = points
                .last()
                .map_or_else(|| "no number yet".to_string(), |p| format!("now {}", p[1]));
            ui.label(format!(
                "{last} · {} samples · dashed lines: reloads of {module}",
                points.len()
            ));
            if !selected {
                ui.label(
                    RichText::new(format!("Select {module} to go on sampling it."))
                        .color(theme::muted(ui.visuals())),
                );
            }
            let (line, mark) = (theme::ok(ui.visuals()), theme::changed(ui.visuals()));
            Plot::new("value plot")
                .x_axis_label("seconds")
                .allow_scroll(false)
                .show(ui, |p| {
                    p.line(Line::new(qualname.clone(), points).color(line));
                    for (i, x) in marks.iter().enumerate() {
                        p.vline(
                            VLine::new(format!("reload {}", i + 1), *x)
                                .color(mark)
                                .style(egui_plot::LineStyle::dashed_loose()),
                        );
                    }
                });
        });
    if !open {
        commands.push(UiCommand::ClosePlot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn attr(q: &str, repr: &str) -> AttrInfo {
        AttrInfo::new(q.into(), q.into(), Kind::Data, repr.into())
    }

    #[test]
    fn numbers_are_read_from_reprs() {
        assert_eq!(number("12"), Some(12.0));
        assert_eq!(number("-1.5"), Some(-1.5));
        assert_eq!(number("True"), Some(1.0));
        assert_eq!(number("'12'"), None, "a string is not a number");
        assert_eq!(number("nan"), None);
        assert_eq!(number("[1, 2]"), None);
    }

    #[test]
    fn samples_follow_time_and_key_paths_and_stay_bounded() {
        let mut plots = Plots::default();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let mut weapons = attr("WEAPONS", "{...}");
        weapons.children.push(attr("WEAPONS['rifle']", "20"));
        for i in 0..u32::try_from(SAMPLES_KEPT + 5).expect("small") {
            let at = t0 + Duration::from_millis(700 * u64::from(i));
            plots.sample(
                "balance",
                &[
                    attr("HP", &i.to_string()),
                    weapons.clone(),
                    attr("NAME", "'x'"),
                ],
                at,
            );
        }
        let hp = plots.points("balance", "HP").expect("HP recorded");
        assert_eq!(hp.len(), SAMPLES_KEPT, "the oldest are dropped");
        let last = f64::from(u32::try_from(SAMPLES_KEPT + 4).expect("small"));
        let back = hp.back().copied().unwrap_or_default();
        assert!(
            (back[0] - 0.7 * last).abs() < 1e-6 && (back[1] - last).abs() < 1e-9,
            "{back:?}"
        );
        assert!(plots.has("balance", "WEAPONS['rifle']"), "entries too");
        assert!(!plots.has("balance", "NAME"), "strings are not plotted");
    }
}
