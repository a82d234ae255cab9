//! The engine tests, one binary: `swapscope.reload` called from Python on temp projects
//! (`common::Project` with the helpers of `common/prelude.py`), a module per area — functions,
//! classes, closures, decorators, data, enums and dataclasses, code still running, threads,
//! failures, interpreter hygiene and the Python API's argument checks; and the statement
//! splitter of incremental reload against `ast.parse` on the standard library (`statements`).
//!
//! All these tests share one interpreter (one `sys.modules`, one set of tracked modules), so each
//! test uses module names of its own, prefixed by its area (`cls_`, `data_`, `fail_`, ...). A test
//! that reads or writes state beyond its own modules takes the interpreter alone
//! (`common::alone`): the hygiene tests, and the stale-copies test of `data`, whose `propagate`
//! writes into any tracked module holding the replaced value.
#![cfg(feature = "embedded")]

#[path = "../common/mod.rs"]
mod common;

mod api;
mod classes;
mod closures;
mod data;
mod decorators;
mod differential;
mod enum_dataclass;
mod failures;
mod functions;
mod hygiene;
mod incremental;
mod keys;
mod packages;
mod running;
mod smoke;
mod statements;
mod threads;
