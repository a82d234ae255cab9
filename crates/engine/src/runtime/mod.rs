//! The runtime: the worker thread that owns the interpreter, the thread that runs the user's
//! script, and the reload service every reload goes through (policy, listeners, safe points).
//! Receives `Command`s, sends `Event`s (both in `crate::protocol`).
//!
//! This is the only place that attaches to Python for the app; the UI never does.

mod edit;
pub mod environment;
mod service;
mod worker;

pub use crate::protocol::{Command, Event, ModuleName, Stream};
pub use service::{ReloadService, Waker, with_switch_interval};
pub use worker::{Config, Host, Runtime, ScriptError, ScriptThread, check_script};
