//! Several programs in one window (attach mode): a server's worker processes, a pool. The window
//! shows one at a time; the others keep folding their events into their own state, a Reload
//! goes to every live process running the same script, and the processes strip shows each one's
//! latest outcome.

use std::collections::HashSet;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::state::UiState;
use crate::protocol::wire::AgentHello;
use crate::protocol::{Command, Event, Outcome};

/// Which program a state belongs to (attach mode only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerLabel {
    pub pid: u32,
    pub script: String,
    pub python: String,
}

impl From<&AgentHello> for PeerLabel {
    fn from(h: &AgentHello) -> Self {
        PeerLabel {
            pid: h.pid,
            script: h.script.clone(),
            python: h.python_version.clone(),
        }
    }
}

/// A program the window is connected to but not showing.
pub struct Peer {
    pub label: Option<PeerLabel>,
    pub state: UiState,
    pub commands: Sender<Command>,
    pub events: Receiver<Event>,
    pub last_attrs: Option<Instant>,
    pub last_modules: Option<Instant>,
    pub previewed: HashSet<String>,
}

impl Peer {
    pub fn new(label: PeerLabel, commands: Sender<Command>, events: Receiver<Event>) -> Self {
        Peer {
            label: Some(label),
            state: UiState::default(),
            commands,
            events,
            last_attrs: None,
            last_modules: None,
            previewed: HashSet::new(),
        }
    }
}

/// One row of the processes strip.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessSummary {
    pub label: PeerLabel,
    pub shown: bool,
    pub alive: bool,
    /// Its latest reload: module and outcome.
    pub last: Option<(String, Outcome)>,
    /// Runs the same script as the process shown (a Reload reaches it too).
    pub same_group: bool,
}

impl ProcessSummary {
    pub fn of(label: &PeerLabel, state: &UiState, shown: bool, group: Option<&str>) -> Self {
        ProcessSummary {
            label: label.clone(),
            shown,
            alive: state.worker_alive,
            last: state
                .history
                .last()
                .map(|h| (h.report.module.clone(), h.report.outcome)),
            same_group: group == Some(label.script.as_str()),
        }
    }
}
