//! swapscope: in-place hot reload for Python, with a report of every swap.
pub mod engine;
pub mod interp;
pub mod python_api;
