//! When the window draws a frame.
//!
//! A frame lays out and rasterizes the whole window (in software on a machine without a GPU:
//! about 20 ms of a core), while most events that could ask for one are a console line or a
//! refreshed live value that did not change. So events are sorted on their way from the runtime to
//! the window: one that changes nothing on screen wakes nothing; the console's stream and changing
//! live values are shown on a coarse clock (at most one frame per tick however chatty the script);
//! the rest (a reload's report, a problem, the script ending) are shown at once. The periodic
//! refreshes wait for the same ticks, so they share frames with the console.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, bounded};

use crate::protocol::{AttrInfo, Event, ModuleInfo, ModuleName};

/// How soon an event that must be seen at once is shown: events arriving meanwhile share the frame.
pub const PROMPT: Duration = Duration::from_millis(30);
/// The clock of streamed changes (console output, live values): at most one frame per tick.
/// Measured under Xvfb with Mesa's software GL, a frame of the demo costs about 30 ms of a core
/// (more since the attribute tree): 900 ms keeps the running demo well under 5% of a core
/// (`benches/idle_cpu.sh`), and the console still moves about once a second. Reports, problems
/// and a new selection do not wait for it (`PROMPT`).
pub const TICK: Duration = Duration::from_millis(900);
/// A refresh due this soon after a tick is sent at the tick (frames run a few ms late or early
/// of the instant they were asked for; without this, a refresh due at every tick would wait
/// for every other one).
pub const EARLY: Duration = Duration::from_millis(50);

/// How soon an event needs a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Urgency {
    /// Nothing on screen changes (a refresh that found the same values).
    Quiet,
    /// Shown at the next tick.
    Paced,
    /// Shown within `PROMPT`.
    Prompt,
}

/// The ticks' origin, one for the process: the relay threads and the frames then wait for the
/// same instants, and their requests make one frame.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// How long from now to the first tick at least `at_least` from now.
pub fn until_tick(at_least: Duration) -> Duration {
    let now = epoch().elapsed();
    let tick = TICK.as_nanos();
    let target = (now + at_least).as_nanos();
    let at = target.div_ceil(tick) * tick;
    let at = Duration::from_nanos(u64::try_from(at).unwrap_or(u64::MAX));
    at.saturating_sub(now)
}

/// Asks `ctx` for the frame an event of `urgency` needs.
pub fn wake(ctx: &egui::Context, urgency: Urgency) {
    match urgency {
        Urgency::Quiet => {}
        Urgency::Paced => ctx.request_repaint_after(until_tick(PROMPT)),
        Urgency::Prompt => ctx.request_repaint_after(PROMPT),
    }
}

/// Sorts events by urgency; remembers the last live values and module list passed on, to tell a
/// refresh that changed something from one that did not.
#[derive(Debug, Default)]
pub struct Sorter {
    attrs: Option<(ModuleName, Vec<AttrInfo>)>,
    modules: Option<Vec<ModuleInfo>>,
}

impl Sorter {
    pub fn urgency(&mut self, event: &Event) -> Urgency {
        match event {
            Event::Output { .. } => Urgency::Paced,
            Event::Attributes { module, attrs } => {
                let urgency = match &self.attrs {
                    Some((m, a)) if m == module && a == attrs => return Urgency::Quiet,
                    // The same module's values moved on: the next tick shows them.
                    Some((m, _)) if m == module => Urgency::Paced,
                    // Another module: the user just selected it.
                    _ => Urgency::Prompt,
                };
                self.attrs = Some((module.clone(), attrs.clone()));
                urgency
            }
            Event::Modules(list) => {
                let urgency = match &self.modules {
                    Some(old) if old == list => return Urgency::Quiet,
                    Some(_) => Urgency::Paced,
                    None => Urgency::Prompt,
                };
                self.modules = Some(list.clone());
                urgency
            }
            _ => Urgency::Prompt,
        }
    }
}

/// Passes the events of `from` on to the returned channel, waking the window as each needs.
/// The new channel has the same capacity, so a script that prints faster than the window reads
/// still feels the back-pressure. If no thread can be started, `from` itself is returned (the
/// window then sees events at its periodic refreshes only).
pub fn relay(from: Receiver<Event>, ctx: egui::Context) -> Receiver<Event> {
    let (tx, rx) = bounded(from.capacity().unwrap_or(8192));
    let fallback = from.clone();
    let spawned = std::thread::Builder::new()
        .name("swapscope-wake".into())
        .spawn(move || {
            let mut sorter = Sorter::default();
            for event in &from {
                let urgency = sorter.urgency(&event);
                if tx.send(event).is_err() {
                    return; // the window is gone
                }
                wake(&ctx, urgency);
            }
        });
    match spawned {
        Ok(_) => rx,
        Err(_) => fallback,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Group, Kind, Stream};

    fn attrs(repr: &str) -> Event {
        Event::Attributes {
            module: ModuleName("balance".into()),
            attrs: vec![AttrInfo::new(
                "hp".into(),
                "hp".into(),
                Kind::Data,
                repr.into(),
            )],
        }
    }

    #[test]
    fn refreshes_that_change_nothing_wake_nothing() {
        let mut s = Sorter::default();
        assert_eq!(s.urgency(&attrs("10")), Urgency::Prompt, "first values");
        assert_eq!(s.urgency(&attrs("10")), Urgency::Quiet);
        assert_eq!(s.urgency(&attrs("11")), Urgency::Paced);
        let list = vec![ModuleInfo {
            name: "balance".into(),
            file: None,
            group: Group::Project,
            tracked: true,
            changed_on_disk: false,
            last_outcome: None,
        }];
        assert_eq!(s.urgency(&Event::Modules(list.clone())), Urgency::Prompt);
        assert_eq!(s.urgency(&Event::Modules(list)), Urgency::Quiet);
        let line = Event::Output {
            stream: Stream::Stdout,
            text: "hi\n".into(),
        };
        assert_eq!(s.urgency(&line), Urgency::Paced);
        assert_eq!(s.urgency(&Event::ScriptExited { code: 0 }), Urgency::Prompt);
    }

    #[test]
    fn ticks_are_shared_instants() {
        let a = until_tick(Duration::ZERO);
        assert!(a <= TICK, "{a:?}");
        let b = until_tick(TICK);
        assert!(b >= TICK && b <= 2 * TICK, "{b:?}");
    }
}
