//! swapscope: in-place hot reload for Python, with a report of every swap.
pub mod demo;
pub mod engine;
pub mod fault;
pub mod headless;
pub mod interp;
pub mod policy;
pub mod protocol;
pub mod python_api;
pub mod runtime;
#[cfg(feature = "gui")]
pub mod ui;
pub mod watch;
