//! Key-level data merge (DESIGN.md "Data: key-level merge"): a dict the last load recorded key
//! by key, changed by the source, is merged in place — the three-way rule per key path, nested
//! dicts recursively — so the game's run-time additions and buffs survive the designer's edit of
//! another key, and every holder of the dict sees the result.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::{Both, Entry, Merge, Obj};
use crate::engine::baseline::{KEYS_MAX, Members, member_path, merge_pair};
use crate::engine::fingerprint::{Fingerprint, fingerprint};
use crate::engine::pyobj::{ptr, short_repr};
use crate::engine::rule::{Decision, decide};
use crate::protocol::{Action, Kind, Override};

use super::data::{same_value, shared_value};

const DELETED_BUT_EDITED: &str =
    "deleted at run time and changed in the source: took the source's value";

/// Key paths listed in the report per merged value; the others are counted in its own entry
/// (a generated table may change thousands of keys at once).
const KEY_ENTRIES_MAX: usize = 200;

/// What a key-level merge did, for the dict's own entry.
#[derive(Default)]
struct Tally {
    listed: usize,
    unlisted: usize,
    taken: usize,
    kept: usize,
    added: usize,
    removed: usize,
    conflicts: usize,
}

/// The keys of a merge under `path` with their key paths: the source's keys in its order, then
/// the keys only the program has. None when a key cannot be named (then the dict is one value).
fn named_keys<'py>(
    path: &str,
    live: &Bound<'py, PyDict>,
    fresh: &Bound<'py, PyDict>,
    members: Members,
) -> Option<Vec<(Obj<'py>, String)>> {
    let mut keys = Vec::with_capacity(fresh.len());
    for (k, _) in fresh.iter() {
        let kp = member_path(path, &k, members)?;
        keys.push((k, kp));
    }
    for (k, _) in live.iter() {
        if !fresh.contains(&k).unwrap_or(true) {
            let kp = member_path(path, &k, members)?;
            keys.push((k, kp));
        }
    }
    Some(keys)
}

/// Whether the source changed a value: its new fingerprint against the recorded one (a value the
/// fingerprint cannot see into counts as changed: there is no statement text per key).
fn source_changed(base: Fingerprint, new: Fingerprint) -> bool {
    match (base.hash(), new.hash()) {
        (Some(a), Some(b)) => a != b || new.is_partial(),
        _ => true,
    }
}

/// Whether the program changed a value since the last load.
fn live_changed(base: Fingerprint, live: &Obj<'_>) -> bool {
    match base {
        Fingerprint::Value(h) | Fingerprint::Partial(h) => fingerprint(live).hash() != Some(h),
        Fingerprint::Opaque(id) => ptr(live) != id,
    }
}

impl<'py> Merge<'py, '_> {
    /// The key-level rule for `both` when it applies: the last load recorded the dict key by key,
    /// both values are plain dicts, no override names the whole value, and the source changed
    /// it. Merges in place (when applying), reports each key path and the dict, and returns
    /// true; false leaves the value to the whole-value rule.
    pub(super) fn merge_dict_keys(
        &mut self,
        both: Both<'_, 'py>,
        kind: Kind,
        new_fp: Fingerprint,
    ) -> bool {
        let Both { qual, old, new } = both;
        let Some(base) = self.inp.base else {
            return false;
        };
        if !base.dicts.contains(qual) || self.inp.overrides.get(qual) != Override::Auto {
            return false;
        }
        let Some((live, fresh, members)) = merge_pair(old, new) else {
            return false;
        };
        let Some(&base_fp) = base.fps.get(qual) else {
            return false;
        };
        // The source must have changed the dict, by the same evidence as the whole-value rule:
        // equal fingerprints that saw everything are no change, and for ones that did not, an
        // unchanged statement is none either.
        let changed = match (base_fp.hash(), new_fp.hash()) {
            (Some(a), Some(b)) if a != b => true,
            (Some(_), Some(_)) if !base_fp.is_partial() && !new_fp.is_partial() => false,
            _ => self.texts.changed(self.py, qual).unwrap_or(true),
        };
        if !changed {
            return false;
        }
        // Keys the merge can name: otherwise the dict is one value.
        let Some(keys) = named_keys(qual, &live, &fresh, members) else {
            return false;
        };
        let before = short_repr(old);
        let mut tally = Tally::default();
        self.merge_keys((&live, &fresh), keys, &mut tally);
        self.next.dicts.insert(qual.to_string());
        // The live dict stays: the new one's holders (a default, a fix-up) get the live one.
        self.fix.kept_data.insert(ptr(new), old.clone());
        let action = if tally.taken + tally.added + tally.removed > 0 {
            Action::TookNew
        } else {
            Action::KeptLive
        };
        let after = if self.inp.apply {
            short_repr(old)
        } else {
            // Not merged yet: what the merge would do, by its key paths below.
            format!(
                "merged: {} taken, {} added, {} removed, {} kept",
                tally.taken, tally.added, tally.removed, tally.kept
            )
        };
        let mut note = format!(
            "merged key by key in place (the live object stays): {} taken, {} added, {} removed, \
             {} kept live, {} conflicts; see its key paths",
            tally.taken, tally.added, tally.removed, tally.kept, tally.conflicts
        );
        if tally.unlisted > 0 {
            note = format!(
                "{note} (the first {KEY_ENTRIES_MAX} are listed, {} more are not)",
                tally.unlisted
            );
        }
        self.journal.record(
            Entry::new(qual, kind, action)
                .texts(before, after)
                .note(note),
        );
        true
    }

    /// Merges `fresh` (the new source's dict) into `live`, key by key: `keys` as
    /// [`named_keys`] gives them.
    fn merge_keys(
        &mut self,
        (live, fresh): (&Bound<'py, PyDict>, &Bound<'py, PyDict>),
        keys: Vec<(Obj<'py>, String)>,
        tally: &mut Tally,
    ) {
        let Some(base) = self.inp.base else {
            return;
        };
        for (k, kp) in keys {
            let recorded = base.fps.get(&kp).copied();
            let l = live.get_item(&k).ok().flatten();
            let n = fresh.get_item(&k).ok().flatten();
            let ov = self.inp.overrides.get(&kp);
            // The next baseline is the new source's value: recorded here, each fingerprint taken
            // once (a nested value merged below records its own members).
            let nfp = n.as_ref().map(fingerprint);
            if let Some(f) = nfp {
                self.next.fps.insert(kp.clone(), f);
            }
            let mut members_recorded = false;
            match (recorded, l, n.clone()) {
                (Some(b), Some(l), Some(n)) => {
                    let nfp = nfp.unwrap_or_else(|| fingerprint(&n));
                    let nested = base.dicts.contains(&kp) && ov == Override::Auto;
                    if nested
                        && let Some((ld, nd, inner)) = merge_pair(&l, &n)
                        && let Some(inner_keys) = named_keys(&kp, &ld, &nd, inner)
                    {
                        if source_changed(b, nfp) {
                            self.merge_keys((&ld, &nd), inner_keys, tally);
                            self.next.dicts.insert(kp.clone());
                            members_recorded = true;
                        }
                        self.fix.kept_data.insert(ptr(&n), l.clone());
                    } else {
                        let d = decide(source_changed(b, nfp), live_changed(b, &l), ov);
                        self.key_decided(live, (&k, &kp), (&l, &n), d, tally);
                    }
                }
                (None, Some(l), Some(n)) => {
                    // Added by the source and by the program: the source's value, as a conflict.
                    if same_value(&l, &n) {
                        continue;
                    }
                    let d = decide(true, true, ov);
                    self.key_decided(live, (&k, &kp), (&l, &n), d, tally);
                }
                (None, None, Some(n)) => {
                    self.put(live, &k, &n);
                    tally.added += 1;
                    self.record_key(
                        tally,
                        Entry::new(&kp, Kind::Data, Action::Added)
                            .now(&n)
                            .note("new in the source"),
                    );
                }
                (Some(b), None, Some(n)) => {
                    // Deleted by the program: stays deleted unless the source changed it.
                    if source_changed(b, fingerprint(&n)) && ov != Override::Keep {
                        self.put(live, &k, &n);
                        tally.taken += 1;
                        tally.conflicts += 1;
                        self.record_key(
                            tally,
                            Entry::new(&kp, Kind::Data, Action::ConflictTookNew)
                                .now(&n)
                                .note(DELETED_BUT_EDITED),
                        );
                    } else {
                        tally.kept += 1;
                        self.record_key(
                            tally,
                            Entry::new(&kp, Kind::Data, Action::KeptLive)
                                .note("deleted at run time: stays deleted"),
                        );
                    }
                }
                (Some(b), Some(l), None) => {
                    // Removed from the source: goes, unless the program changed it (or keep).
                    let changed = live_changed(b, &l);
                    if (!changed && ov != Override::Keep) || ov == Override::Take {
                        if self.inp.apply {
                            live.del_item(&k).ok();
                        }
                        tally.removed += 1;
                        self.record_key(
                            tally,
                            Entry::new(&kp, Kind::Data, Action::Removed)
                                .was(&l)
                                .note("no longer in the source"),
                        );
                    } else {
                        tally.kept += 1;
                        let (action, note) = if changed {
                            tally.conflicts += 1;
                            (
                                Action::ConflictKeptLive,
                                "removed from the source but changed at run time: kept",
                            )
                        } else {
                            (
                                Action::KeptLive,
                                "removed from the source, kept by override",
                            )
                        };
                        self.record_key(
                            tally,
                            Entry::new(&kp, Kind::Data, action)
                                .values(&l, &l)
                                .note(note),
                        );
                    }
                }
                (None, Some(l), None) => {
                    tally.kept += 1;
                    self.record_key(
                        tally,
                        Entry::new(&kp, Kind::Data, Action::KeptLive)
                            .values(&l, &l)
                            .note("added at run time: live state kept"),
                    );
                }
                (_, None, None) => {}
            }
            if let Some(n) = &n
                && !members_recorded
            {
                let mut budget = KEYS_MAX;
                self.next.record_keys(&kp, n, 0, &mut budget);
            }
        }
    }

    /// Puts the source's value for `k` into the live dict (when applying); the fix-up then points
    /// it at surviving objects.
    fn put(&mut self, live: &Bound<'py, PyDict>, k: &Obj<'py>, n: &Obj<'py>) {
        if self.inp.apply && live.set_item(k, n).is_ok() {
            self.fix.taken_items.push((live.clone(), k.clone()));
        }
    }

    /// Lists a key path's entry, up to `KEY_ENTRIES_MAX` per merged value.
    fn record_key(&mut self, tally: &mut Tally, entry: Entry<'_, '_>) {
        if tally.listed < KEY_ENTRIES_MAX {
            tally.listed += 1;
            self.journal.record(entry);
        } else {
            tally.unlisted += 1;
        }
    }

    /// Applies and reports the rule's decision for one key present on both sides.
    fn key_decided(
        &mut self,
        live: &Bound<'py, PyDict>,
        (k, kp): (&Obj<'py>, &str),
        (l, n): (&Obj<'py>, &Obj<'py>),
        Decision {
            take_new,
            action,
            note,
        }: Decision,
        tally: &mut Tally,
    ) {
        if matches!(action, Action::ConflictTookNew | Action::ConflictKeptLive) {
            tally.conflicts += 1;
        }
        if take_new {
            tally.taken += 1;
            self.put(live, k, n);
        } else {
            if action != Action::Unchanged {
                tally.kept += 1;
            }
            if !l.is(n) && !shared_value(n) {
                self.fix.kept_data.insert(ptr(n), l.clone());
            }
        }
        if action != Action::Unchanged {
            self.record_key(
                tally,
                Entry::new(kp, Kind::Data, action).values(l, n).note(note),
            );
        }
    }
}
