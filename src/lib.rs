//! swapscope: in-place hot reload for Python, with a report of every swap.
//!
//! This crate is the app: the command line, the headless driver, the bundled demo and the
//! window. The engine, worker and Python module live in `swapscope-engine`; the messages and the
//! wire in `swapscope-protocol`. Both are re-exported here under their old paths.
pub mod attach;
pub mod demo;
#[cfg(feature = "embedded")]
pub mod headless;
#[cfg(feature = "gui")]
pub mod ui;

#[cfg(feature = "embedded")]
pub use swapscope_engine::{engine, fault, interp, python_api, runtime, watch};
pub use swapscope_protocol::{self as protocol, policy};
