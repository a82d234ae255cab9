//! The runtime: the worker thread that owns the interpreter, the thread that runs the user's
//! script, the queue of reloads waiting for a safe point. Receives `Command`s, sends `Event`s.
//!
//! This is the only place that attaches to Python for the app; the UI never does.

mod protocol;
mod worker;

pub use protocol::{Command, Event, ModuleName, Stream};
pub use worker::{Config, Runtime, Waker, check_script};
