//! Data (DESIGN.md "The three-way data rule"): the evidence for one value — the last load's
//! fingerprint, the live value, the new one, the defining statements' texts — gathered here and
//! judged by the pure `rule::decide_data`.

use foldhash::{HashMap, HashMapExt};

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use super::{Both, Entry, Merge, Obj};
use crate::engine::fingerprint::{Fingerprint, fingerprint};
use crate::engine::names::name;
use crate::engine::pyobj::{helpers, ptr};
use crate::engine::rule::{DataFacts, Recorded, decide_data};
use crate::protocol::{Action, Kind};

/// Statement texts of the old and new source by qualname, parsed when first needed (only
/// values the fingerprint cannot see into, and conflicts, need them).
pub(super) struct StatementTexts<'a> {
    old_source: Option<&'a str>,
    new_source: &'a str,
    parsed: Option<(HashMap<String, String>, HashMap<String, String>)>,
}

impl<'a> StatementTexts<'a> {
    pub(super) fn new(old_source: Option<&'a str>, new_source: &'a str) -> Self {
        StatementTexts {
            old_source,
            new_source,
            parsed: None,
        }
    }

    fn parsed(&mut self, py: Python<'_>) -> &(HashMap<String, String>, HashMap<String, String>) {
        let (old_source, new_source) = (self.old_source, self.new_source);
        self.parsed.get_or_insert_with(|| {
            let parse = |src: Option<&str>| -> HashMap<String, String> {
                let Some(src) = src else {
                    return HashMap::new();
                };
                // A source that does not parse has no statements to compare: every
                // comparison then says "changed", the safe answer.
                helpers(py)
                    .and_then(|h| h.getattr(name!(h.py(), "statements")))
                    .and_then(|f| f.call1((src,)))
                    .and_then(|d| d.extract::<Option<HashMap<String, String>>>())
                    .ok()
                    .flatten()
                    .unwrap_or_default()
            };
            (parse(old_source), parse(Some(new_source)))
        })
    }

    /// Whether the statement defining `qual` differs; `None` when it is missing from either
    /// source.
    pub(super) fn changed(&mut self, py: Python<'_>, qual: &str) -> Option<bool> {
        let (old, new) = self.parsed(py);
        match (old.get(qual), new.get(qual)) {
            (Some(a), Some(b)) => Some(a.trim() != b.trim()),
            _ => None,
        }
    }

    /// Whether the old source has a statement defining `qual`.
    fn defined_in_old(&mut self, py: Python<'_>, qual: &str) -> bool {
        self.parsed(py).0.contains_key(qual)
    }
}

/// Values Python shares between unrelated places (small ints, interned strings, None, bools,
/// floats, bytes): one of them is never taken for another's identity.
pub(crate) fn shared_value(v: &Obj<'_>) -> bool {
    v.is_none()
        || v.is_instance_of::<PyInt>()
        || v.is_instance_of::<PyString>()
        || v.is_instance_of::<PyFloat>()
        || v.is_instance_of::<PyBool>()
        || v.is_instance_of::<PyBytes>()
}

/// True if `a` and `b` are one object or equal plain data.
pub(super) fn same_value(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> bool {
    if a.is(b) {
        return true;
    }
    match (fingerprint(a), fingerprint(b)) {
        (Fingerprint::Value(x), Fingerprint::Value(y)) => x == y,
        _ => false,
    }
}

/// The rule's questions about one value, answered from the merge's state.
struct Facts<'m, 'a, 'py> {
    py: Python<'py>,
    texts: &'m mut StatementTexts<'a>,
    qual: &'m str,
    live: &'m Obj<'py>,
    new: &'m Obj<'py>,
}

impl DataFacts for Facts<'_, '_, '_> {
    fn statement_changed(&mut self) -> Option<bool> {
        self.texts.changed(self.py, self.qual)
    }

    fn live_fingerprint(&mut self) -> Fingerprint {
        fingerprint(self.live)
    }

    fn live_id(&self) -> usize {
        ptr(self.live)
    }

    fn live_same_as_new(&mut self) -> bool {
        same_value(self.live, self.new)
    }
}

impl<'py> Merge<'py, '_> {
    /// Whether the last load's source defined `qual` (falls back to the old source's statements
    /// for a module registered after it was loaded).
    pub(super) fn defined_before(&mut self, qual: &str) -> bool {
        if let Some(b) = self.inp.base {
            return b.defined.contains(qual);
        }
        self.texts.defined_in_old(self.py, qual)
    }

    /// The three-way rule for one data value. Returns true when the new value is taken.
    pub(super) fn merge_data(&mut self, both: Both<'_, 'py>, kind: Kind) -> bool {
        let Both { qual, old, new } = both;
        let new_fp = fingerprint(new);
        self.next.fps.insert(qual.to_string(), new_fp);
        if self.merge_dict_keys(both, kind, new_fp) {
            // The merge recorded the new value's members for the next baseline.
            self.stale_holders
                .kept
                .push((qual.to_string(), old.clone()));
            return false;
        }
        self.next
            .record_keys(qual, new, 0, &mut { crate::engine::baseline::KEYS_MAX });
        let recorded = match self.inp.base {
            Some(b) => b
                .fps
                .get(qual)
                .copied()
                .map_or(Recorded::NotDefined, Recorded::Value),
            None => Recorded::NoBaseline {
                old_source: self.inp.old_source.is_some(),
            },
        };
        let mut facts = Facts {
            py: self.py,
            texts: &mut self.texts,
            qual,
            live: old,
            new,
        };
        let d = decide_data(recorded, new_fp, self.inp.overrides.get(qual), &mut facts);
        let action = d.decision.action;
        let mut note = d.decision.note.to_string();
        if let Some(evidence) = d.evidence_note {
            note = format!("{note}; {evidence}");
        }
        if action != Action::Unchanged
            && let Some(changes) = container_diff(old, new)
        {
            note = format!("{note}; changes: {changes}");
        }
        self.journal
            .record(Entry::new(qual, kind, action).values(old, new).note(note));
        if !d.decision.take_new {
            self.stale_holders
                .kept
                .push((qual.to_string(), old.clone()));
        }
        if !d.decision.take_new && !old.is(new) && !shared_value(new) {
            // The live value stays: a patched function's default that was this live value and
            // is now the new one (`registry=REGISTRY`) stays the live one (see the fix-up).
            self.fix.kept_data.insert(ptr(new), old.clone());
        }
        d.decision.take_new
    }
}

/// For two dicts, lists or tuples, where they differ (live → new), for the report's note.
fn container_diff(old: &Bound<'_, PyAny>, new: &Bound<'_, PyAny>) -> Option<String> {
    let container = |o: &Bound<'_, PyAny>| {
        o.is_instance_of::<PyDict>()
            || o.is_instance_of::<PyList>()
            || o.is_instance_of::<PyTuple>()
    };
    if !container(old) || !container(new) {
        return None;
    }
    helpers(old.py())
        .and_then(|h| h.getattr(name!(h.py(), "data_diff")))
        .and_then(|f| f.call1((old, new)))
        .and_then(|r| r.extract::<String>())
        .ok()
        .filter(|t| !t.is_empty())
}
