//! The bundled demo game (`assets/demo/`): used when no script is given.
//!
//! From a source checkout the files are used in place, so a designer edits
//! `assets/demo/balance.py`. An installed binary writes its embedded copy to the user's data
//! folder once and never overwrites the designer's edits there.

use std::path::{Path, PathBuf};

const FILES: [(&str, &str); 3] = [
    ("game.py", include_str!("../assets/demo/game.py")),
    ("balance.py", include_str!("../assets/demo/balance.py")),
    ("players.py", include_str!("../assets/demo/players.py")),
];

/// The demo's files could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot {what} {}: {cause}", .path.display())]
pub struct DemoError {
    what: &'static str,
    path: PathBuf,
    cause: std::io::Error,
}

/// The demo's `game.py`, extracting the demo first if needed.
pub fn script() -> Result<PathBuf, DemoError> {
    let in_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/game.py");
    if in_tree.is_file() {
        return Ok(in_tree);
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir);
    write_copy(&base.join("swapscope/demo"))
}

/// Writes the demo's files into `dir` (those not already there) and returns its `game.py`.
pub fn write_copy(dir: &Path) -> Result<PathBuf, DemoError> {
    std::fs::create_dir_all(dir).map_err(|cause| DemoError {
        what: "create the demo folder",
        path: dir.to_path_buf(),
        cause,
    })?;
    for (name, text) in FILES {
        let path = dir.join(name);
        if !path.exists() {
            std::fs::write(&path, text).map_err(|cause| DemoError {
                what: "write the demo file",
                path: path.clone(),
                cause,
            })?;
        }
    }
    Ok(dir.join("game.py"))
}
