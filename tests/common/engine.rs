//! Shared set-up of the engine tests: a [`Project`] whose namespace also holds the Python
//! helpers of `prelude.py` (report look-ups, identity snapshots, interpreter hygiene).
#![allow(dead_code, reason = "each test binary uses a different subset")]

use crate::common::Project;

/// A new project whose namespace has the prelude's helpers.
pub fn project() -> Project {
    let p = Project::new();
    p.run(include_str!("prelude.py"));
    p
}
