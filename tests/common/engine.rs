//! Shared set-up of the engine tests (and the fault tests): a [`Project`] whose namespace also
//! holds the Python helpers of `prelude.py` (report look-ups, identity snapshots, interpreter
//! hygiene).

use super::Project;

/// A new project whose namespace has the prelude's helpers.
pub fn project() -> Project {
    let p = Project::new();
    p.run(include_str!("prelude.py"));
    p
}
