//! The report as a Python dict: what `swapscope.reload()` returns and `on_reload` listeners get.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use super::names::name;
use crate::protocol::ReloadReport;

/// The report as the Python dict `reload()` returns (the JSON shape, built directly).
pub fn report_dict<'py>(py: Python<'py>, r: &ReloadReport) -> PyResult<Bound<'py, PyAny>> {
    let d = PyDict::new(py);
    d.set_item(name!(py, "id"), r.id)?;
    d.set_item(name!(py, "module"), &r.module)?;
    d.set_item(name!(py, "file"), &r.file)?;
    d.set_item(name!(py, "outcome"), r.outcome.as_str())?;
    match &r.error {
        Some(e) => {
            let ed = PyDict::new(py);
            ed.set_item(name!(py, "file"), &e.file)?;
            ed.set_item(name!(py, "line"), e.line)?;
            ed.set_item(name!(py, "col"), e.col)?;
            ed.set_item(name!(py, "message"), &e.message)?;
            ed.set_item(name!(py, "text"), &e.text)?;
            ed.set_item(name!(py, "traceback"), &e.traceback)?;
            d.set_item(name!(py, "error"), ed)?;
        }
        None => d.set_item(name!(py, "error"), py.None())?,
    }
    d.set_item(name!(py, "duration_ms"), r.duration_ms)?;
    d.set_item(name!(py, "dry_run"), r.dry_run)?;
    d.set_item(name!(py, "saves"), r.saves)?;
    d.set_item(name!(py, "undo"), r.undo)?;
    let mode = match r.mode {
        crate::protocol::Mode::Full => "full",
        crate::protocol::Mode::Incremental => "incremental",
    };
    d.set_item(name!(py, "mode"), mode)?;
    d.set_item(name!(py, "mode_note"), &r.mode_note)?;
    let changes = PyList::empty(py);
    // A 50,000-line module's report has thousands of entries: the kind and action words are
    // interned once, a top-level entry's name is its qualname, and empty texts are one object.
    let mut words: foldhash::HashMap<&'static str, Bound<'py, PyString>> =
        foldhash::HashMap::default();
    let mut word = |w: &'static str| {
        words
            .entry(w)
            .or_insert_with(|| PyString::intern(py, w))
            .clone()
    };
    let empty = PyString::new(py, "");
    let text = |t: &str| {
        if t.is_empty() {
            empty.clone()
        } else {
            PyString::new(py, t)
        }
    };
    for c in &r.changes {
        let cd = PyDict::new(py);
        let qualname = PyString::new(py, &c.qualname);
        let name = if c.name == c.qualname {
            qualname.clone()
        } else {
            PyString::new(py, &c.name)
        };
        cd.set_item(name!(py, "name"), name)?;
        cd.set_item(name!(py, "qualname"), qualname)?;
        cd.set_item(name!(py, "kind"), word(c.kind.as_str()))?;
        cd.set_item(name!(py, "action"), word(c.action.as_str()))?;
        cd.set_item(name!(py, "old"), text(&c.old))?;
        cd.set_item(name!(py, "new"), text(&c.new))?;
        cd.set_item(name!(py, "note"), text(&c.note))?;
        changes.append(cd)?;
    }
    d.set_item(name!(py, "changes"), changes)?;
    let stale = PyList::empty(py);
    for s in &r.stale_refs {
        let sd = PyDict::new(py);
        sd.set_item(name!(py, "module"), &s.module)?;
        sd.set_item(name!(py, "name"), &s.name)?;
        sd.set_item(name!(py, "source"), &s.source)?;
        sd.set_item(name!(py, "value"), &s.value)?;
        stale.append(sd)?;
    }
    d.set_item(name!(py, "stale_refs"), stale)?;
    Ok(d.into_any())
}
