//! The report entries a merge writes, one per attribute (and key path), in the order met.

use foldhash::HashMap;

use super::Obj;
use crate::engine::pyobj::short_repr;
use crate::protocol::{Action, Change, Kind};

/// One report entry being written: what, its kind, what was done; old and new value and a note
/// when there is something to say.
pub(crate) struct Entry<'a, 'py> {
    qual: &'a str,
    kind: Kind,
    action: Action,
    old: Option<&'a Obj<'py>>,
    new: Option<&'a Obj<'py>>,
    /// Reprs taken earlier (a value merged in place has changed since).
    texts: Option<(String, String)>,
    note: String,
}

impl<'a, 'py> Entry<'a, 'py> {
    pub(crate) fn new(qual: &'a str, kind: Kind, action: Action) -> Self {
        Entry {
            qual,
            kind,
            action,
            old: None,
            new: None,
            texts: None,
            note: String::new(),
        }
    }

    /// The value before and after, as reprs taken when they were true.
    pub(crate) fn texts(mut self, old: String, new: String) -> Self {
        self.texts = Some((old, new));
        self
    }

    /// The value before and after.
    pub(crate) fn values(self, old: &'a Obj<'py>, new: &'a Obj<'py>) -> Self {
        self.was(old).now(new)
    }

    /// The value before.
    pub(crate) fn was(mut self, old: &'a Obj<'py>) -> Self {
        self.old = Some(old);
        self
    }

    /// The value after.
    pub(crate) fn now(mut self, new: &'a Obj<'py>) -> Self {
        self.new = Some(new);
        self
    }

    pub(crate) fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }
}

/// The entries of one merge, and notes waiting for an entry not written yet.
#[derive(Default)]
pub(crate) struct Journal {
    changes: Vec<Change>,
    /// Notes for entries not written yet (generators, running frames), by qualname.
    pending: HashMap<String, String>,
}

impl Journal {
    /// Writes an entry (reprs only for something that changed: reloads list thousands).
    pub(crate) fn record(&mut self, e: Entry<'_, '_>) {
        let (old, new) = if e.action == Action::Unchanged {
            (String::new(), String::new())
        } else if let Some(texts) = e.texts {
            texts
        } else {
            (
                e.old.map(short_repr).unwrap_or_default(),
                e.new.map(short_repr).unwrap_or_default(),
            )
        };
        let mut note = e.note;
        if let Some(extra) = self.pending.remove(e.qual) {
            note = if note.is_empty() {
                extra
            } else {
                format!("{note}; {extra}")
            };
        }
        self.changes.push(Change {
            name: e
                .qual
                .rsplit(['.', ':'])
                .next()
                .unwrap_or(e.qual)
                .to_string(),
            qualname: e.qual.to_string(),
            kind: e.kind,
            action: e.action,
            old,
            new,
            note,
        });
    }

    /// Adds `note` to the entry for `qual` when it is written.
    pub(crate) fn note_for(&mut self, qual: &str, note: impl Into<String>) {
        self.pending.insert(qual.to_string(), note.into());
    }

    /// How many entries are written; a mark for [`Journal::any_change_since`].
    pub(crate) fn len(&self) -> usize {
        self.changes.len()
    }

    /// Whether an entry after `mark` records a change.
    pub(crate) fn any_change_since(&self, mark: usize) -> bool {
        self.changes[mark..]
            .iter()
            .any(|c| c.action != Action::Unchanged)
    }

    /// Rewrites the entry at `index` (written earlier as a placeholder).
    pub(crate) fn amend(&mut self, index: usize, action: Action, old: String, new: String) {
        if let Some(c) = self.changes.get_mut(index) {
            c.action = action;
            c.old = old;
            c.new = new;
        }
    }

    pub(crate) fn into_changes(self) -> Vec<Change> {
        self.changes
    }
}
