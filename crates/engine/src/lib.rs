//! The engine of swapscope and everything that runs next to the user's Python: the reload
//! engine, the worker and safe points, the `swapscope` Python module, the file watcher and the
//! agent that serves the window over a socket.
//!
//! Links no libpython of its own: the desktop binary (embedded mode) links one, the abi3
//! extension (attach mode) runs inside the user's.
pub mod agent;
pub mod attach;
pub mod engine;
pub mod fault;
pub mod interp;
pub mod python_api;
pub mod runtime;
pub mod watch;

pub use swapscope_protocol as protocol;
pub use swapscope_protocol::policy;
