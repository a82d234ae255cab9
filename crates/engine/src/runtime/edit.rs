//! "Edit a value in place": the window's number or string of a module, typed anew, is written
//! into the module's source file — only that literal's characters, so formatting and comments
//! stay — and then the module is reloaded like after a save (history, report, undo).

use std::io::Write;
use std::path::Path;

use pyo3::prelude::*;

use crate::engine::source::{edit_literal, read_source};
use crate::engine::tracker;

/// Rewrites the literal that gives `qualname` (`DAMAGE`, `Player.MAX_HP`,
/// `WEAPONS['rifle']['damage']`) in `module`'s source file as `literal`. An error says why in
/// words for the window (file, line, what to do); the file is then untouched. Returns the line
/// of the literal.
pub(crate) fn edit_value(module: &str, qualname: &str, literal: &str) -> Result<usize, String> {
    let Some(tracked) = tracker::get(module) else {
        return Err(format!(
            "{module} is not tracked by swapscope: only modules under a watched folder can be \
             edited from the window"
        ));
    };
    let path = tracked.path.clone();
    let shown = path.display().to_string();
    let data = read_source(&path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let text = String::from_utf8(data)
        .map_err(|_| format!("{shown} is not UTF-8: edit {qualname} in your editor instead"))?;
    let (new_text, line) = Python::attach(|py| edit_literal(py, &text, qualname, literal))
        .map_err(|why| format!("cannot edit {qualname} in {shown}: {why}"))?;
    write_replacing(&path, new_text.as_bytes())
        .map_err(|e| format!("cannot write {shown}: {e}; the file is unchanged"))?;
    Ok(line)
}

/// Writes `data` to a temporary file next to `path`, then renames it over `path`: a reader (the
/// watcher, an editor) sees the old file or the new one, never half of it. Keeps the file's
/// permissions.
fn write_replacing(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map_or_else(|| "module".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{file_name}.swapscope-edit"));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        std::fs::remove_file(&tmp).ok();
    }
    result
}
