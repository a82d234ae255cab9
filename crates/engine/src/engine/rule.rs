//! The three-way data rule and per-attribute overrides (DESIGN.md "The three-way data rule").
//!
//! Pure decisions, no Python: the merge says what the last load recorded and answers "did the
//! statement change?", "what is the live value's fingerprint?" when asked; this module decides
//! what to do and how to report it. Fingerprints are computed elsewhere (`fingerprint.rs`); here
//! they are only compared.

use crate::protocol::{Action, Override};

/// A value's fingerprint (see `fingerprint.rs`, which computes them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fingerprint {
    /// Structural hash of plain data.
    Value(u64),
    /// Structural hash of data holding something hashed by its type only: equal hashes do not
    /// prove equal values.
    Partial(u64),
    /// Not plain data (or too big to walk); carries the object's `id()` when it was taken.
    Opaque(usize),
}

/// What the merge must do with a data value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Put the new value in place (otherwise the live object stays, identical).
    pub take_new: bool,
    pub action: Action,
    pub note: &'static str,
}

/// Applies the rule: `source_changed` is new-vs-baseline, `live_changed` is live-vs-baseline.
pub fn decide(source_changed: bool, live_changed: bool, ov: Override) -> Decision {
    use Action::{ConflictKeptLive, ConflictTookNew, KeptLive, TookNew, Unchanged};
    use Override::{Auto, Keep, Take};
    const LIVE_KEPT: &str = "source unchanged, live value differs: live state kept";
    const BOTH_TOOK: &str = "source changed and live value changed too: took the source's value";
    const KEEP_SOURCE: &str = "override: keep (source changed, live value kept)";
    const KEEP_BOTH: &str = "source changed and live value changed too: override keeps live";
    const TAKE_LIVE: &str = "override: take (live state replaced by the source's value)";
    const TAKE_BOTH: &str =
        "source changed and live value changed too: override takes the source's value";
    let (take_new, action, note) = match (ov, source_changed, live_changed) {
        (_, false, false) => (false, Unchanged, ""),
        (Auto, false, true) => (false, KeptLive, LIVE_KEPT),
        (Auto | Take, true, false) => (true, TookNew, "source changed"),
        (Auto, true, true) => (true, ConflictTookNew, BOTH_TOOK),
        (Keep, false, true) => (false, KeptLive, "override: keep"),
        (Keep, true, false) => (false, KeptLive, KEEP_SOURCE),
        (Keep, true, true) => (false, ConflictKeptLive, KEEP_BOTH),
        (Take, false, true) => (true, TookNew, TAKE_LIVE),
        (Take, true, true) => (true, ConflictTookNew, TAKE_BOTH),
    };
    Decision {
        take_new,
        action,
        note,
    }
}

/// Refines a decision when the statement that defines the value has the same text in the old
/// and new source: its value differs only because code it runs changed elsewhere (a class it
/// instantiates gained a field, a factory's body changed). The designer did not edit this
/// statement, so a value the program changed is live state and stays; a value nobody changed
/// takes the new one as before. Overrides are never second-guessed.
pub fn refine_for_unchanged_statement(d: Decision, ov: Override) -> Decision {
    if ov == Override::Auto && d.action == Action::ConflictTookNew {
        return Decision {
            take_new: false,
            action: Action::ConflictKeptLive,
            note: "its statement is unchanged (the value differs because code it runs changed) \
                   and the live value changed: live state kept; take it with `take` or the \
                   Take toggle",
        };
    }
    d
}

impl Fingerprint {
    /// The structural hash, unless opaque.
    pub fn hash(self) -> Option<u64> {
        match self {
            Fingerprint::Value(h) | Fingerprint::Partial(h) => Some(h),
            Fingerprint::Opaque(_) => None,
        }
    }

    pub fn is_partial(self) -> bool {
        matches!(self, Fingerprint::Partial(_))
    }
}

/// What the last load recorded about one data value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The fingerprint of the value the last load's source produced.
    Value(Fingerprint),
    /// The last load did not define the name: the live value was created at run time.
    NotDefined,
    /// The module was registered after it was loaded: no values of its source were recorded.
    /// `old_source` says whether the text of that load is known (then statements are compared).
    NoBaseline { old_source: bool },
}

/// The questions the data rule may ask about one value. Answers cost Python work (a parse, a
/// fingerprint walk), so each is asked only when the decision needs it.
pub trait DataFacts {
    /// Whether the value's defining statement differs between the old and the new source;
    /// `None` when either text or statement is unknown (a class's `__annotations__`, a value set
    /// by a loop).
    fn statement_changed(&mut self) -> Option<bool>;
    /// The live value's fingerprint.
    fn live_fingerprint(&mut self) -> Fingerprint;
    /// The live value's identity.
    fn live_id(&self) -> usize;
    /// Whether the live value and the new one are the same object or equal plain data.
    fn live_same_as_new(&mut self) -> bool;
}

/// The data rule for one value: its decision and, beside the decision's own note, what the
/// evidence was when it was not a recorded value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataDecision {
    pub decision: Decision,
    pub evidence_note: Option<&'static str>,
}

/// Applies the three-way rule to one data value (DESIGN.md), with the evidence at hand: the last
/// load's fingerprint when recorded, else the source statements, else nothing (the live value
/// stays unless overridden).
pub fn decide_data(
    recorded: Recorded,
    new: Fingerprint,
    ov: Override,
    facts: &mut impl DataFacts,
) -> DataDecision {
    let (source_changed, live_changed, evidence_note) = match recorded {
        Recorded::Value(base) => {
            let source_changed = match (base.hash(), new.hash()) {
                (Some(a), Some(b)) if a != b => true,
                // Equal plain data is unchanged; equal but partly unseen, the text decides (and
                // with no text to compare, the equal hashes are the best evidence there is).
                (Some(_), Some(_)) if !base.is_partial() && !new.is_partial() => false,
                (Some(_), Some(_)) => facts.statement_changed().unwrap_or(false),
                // Nothing seen: a change unless the text says otherwise.
                _ => facts.statement_changed().unwrap_or(true),
            };
            let live_changed = match base {
                Fingerprint::Value(a) | Fingerprint::Partial(a) => {
                    facts.live_fingerprint().hash() != Some(a)
                }
                Fingerprint::Opaque(id) => facts.live_id() != id,
            };
            (source_changed, live_changed, None)
        }
        Recorded::NotDefined => (
            true,
            true,
            Some("the last load did not define it; the live value was created at run time"),
        ),
        Recorded::NoBaseline { old_source: true } => {
            let source_changed = facts.statement_changed().unwrap_or(true);
            let live_changed = !facts.live_same_as_new();
            (
                source_changed,
                live_changed && !source_changed,
                Some(
                    "no baseline values (module loaded before tracking): compared source statements",
                ),
            )
        }
        Recorded::NoBaseline { old_source: false } => (
            false,
            true,
            Some("no baseline (module loaded before tracking): live value kept; use take to force"),
        ),
    };
    let mut decision = decide(source_changed, live_changed, ov);
    if decision.action == Action::ConflictTookNew
        && matches!(recorded, Recorded::Value(_))
        && facts.statement_changed() == Some(false)
    {
        decision = refine_for_unchanged_statement(decision, ov);
    }
    DataDecision {
        decision,
        evidence_note: evidence_note.filter(|_| decision.action != Action::Unchanged),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_table() {
        use Action::*;
        use Override::*;
        // (override, source changed, live changed, statement text unchanged) -> (take new,
        // action). With the statement's text the same in both sources, a conflict without an
        // override keeps the live state; overrides are never second-guessed.
        let table = [
            (Auto, false, false, false, false, Unchanged),
            (Auto, false, true, false, false, KeptLive),
            (Auto, true, false, false, true, TookNew),
            (Auto, true, true, false, true, ConflictTookNew),
            (Keep, false, false, false, false, Unchanged),
            (Keep, false, true, false, false, KeptLive),
            (Keep, true, false, false, false, KeptLive),
            (Keep, true, true, false, false, ConflictKeptLive),
            (Take, false, false, false, false, Unchanged),
            (Take, false, true, false, true, TookNew),
            (Take, true, false, false, true, TookNew),
            (Take, true, true, false, true, ConflictTookNew),
            (Auto, true, true, true, false, ConflictKeptLive),
            (Auto, true, false, true, true, TookNew),
            (Auto, false, true, true, false, KeptLive),
            (Take, true, true, true, true, ConflictTookNew),
            (Keep, true, true, true, false, ConflictKeptLive),
        ];
        for (ov, sc, lc, same_statement, take, action) in table {
            let mut d = decide(sc, lc, ov);
            if same_statement {
                d = refine_for_unchanged_statement(d, ov);
            }
            assert_eq!(
                (d.take_new, d.action),
                (take, action),
                "override {ov:?}, source changed {sc}, live changed {lc}, same statement \
                 {same_statement}"
            );
        }
    }

    /// Answers fixed in advance, counting the questions asked.
    struct Facts {
        statement_changed: Option<bool>,
        live: Fingerprint,
        live_id: usize,
        live_same_as_new: bool,
        asked_statement: usize,
    }

    impl DataFacts for Facts {
        fn statement_changed(&mut self) -> Option<bool> {
            self.asked_statement += 1;
            self.statement_changed
        }
        fn live_fingerprint(&mut self) -> Fingerprint {
            self.live
        }
        fn live_id(&self) -> usize {
            self.live_id
        }
        fn live_same_as_new(&mut self) -> bool {
            self.live_same_as_new
        }
    }

    fn facts(statement_changed: bool, live: Fingerprint, live_same_as_new: bool) -> Facts {
        Facts {
            statement_changed: Some(statement_changed),
            live,
            live_id: 7,
            live_same_as_new,
            asked_statement: 0,
        }
    }

    #[test]
    fn data_rule_table_by_evidence() {
        use Action::*;
        use Fingerprint::{Opaque as O, Partial as P, Value as V};
        use Recorded::{NoBaseline, NotDefined, Value as Rec};
        let (known, unknown) = (
            NoBaseline { old_source: true },
            NoBaseline { old_source: false },
        );
        // (case, recorded, new, facts(statement changed, live, live same as new), expected)
        #[rustfmt::skip] // one case a line
        let table = [
            ("untouched", Rec(V(1)), V(1), facts(false, V(1), true), (false, Unchanged)),
            ("partial, same text", Rec(P(1)), P(1), facts(false, P(1), false), (false, Unchanged)),
            ("partial, edited text", Rec(P(1)), P(1), facts(true, P(1), false), (true, TookNew)),
            ("partial, seen change", Rec(P(1)), P(2), facts(false, P(1), false), (true, TookNew)),
            ("partial, live state", Rec(P(1)), P(1), facts(false, P(5), false), (false, KeptLive)),
            ("designer edit", Rec(V(1)), V(2), facts(true, V(1), false), (true, TookNew)),
            ("live state", Rec(V(1)), V(1), facts(false, V(5), false), (false, KeptLive)),
            ("both, edited", Rec(V(1)), V(2), facts(true, V(5), false), (true, ConflictTookNew)),
            ("both, same", Rec(V(1)), V(2), facts(false, V(5), false), (false, ConflictKeptLive)),
            ("opaque, same", Rec(O(7)), O(9), facts(false, O(7), false), (false, Unchanged)),
            ("opaque, edited", Rec(O(7)), O(9), facts(true, O(7), false), (true, TookNew)),
            ("opaque, rebound", Rec(O(8)), O(9), facts(false, O(7), false), (false, KeptLive)),
            ("run time", NotDefined, V(2), facts(false, V(5), false), (true, ConflictTookNew)),
            ("statements, edited", known, V(2), facts(true, V(1), false), (true, TookNew)),
            ("statements, live", known, V(2), facts(false, V(1), false), (false, KeptLive)),
            ("statements, same", known, V(2), facts(false, V(2), true), (false, Unchanged)),
            ("nothing known", unknown, V(2), facts(true, V(1), false), (false, KeptLive)),
        ];
        for (case, recorded, new, mut f, (take, action)) in table {
            let d = decide_data(recorded, new, Override::Auto, &mut f);
            assert_eq!(
                (d.decision.take_new, d.decision.action),
                (take, action),
                "{case}"
            );
            let noted = !matches!(recorded, Rec(_)) && action != Unchanged;
            assert_eq!(d.evidence_note.is_some(), noted, "{case}: evidence note");
        }
    }

    #[test]
    fn data_rule_without_a_statement_to_compare() {
        let unknown = |live: Fingerprint| Facts {
            statement_changed: None,
            ..facts(false, live, false)
        };
        let rule = |rec, new, live| decide_data(rec, new, Override::Auto, &mut unknown(live));
        let (p, o) = (Fingerprint::Partial(1), Fingerprint::Opaque(7));
        let partial = rule(Recorded::Value(p), p, p);
        assert_eq!(
            partial.decision.action,
            Action::Unchanged,
            "equal hashes are the evidence"
        );
        let opaque = rule(Recorded::Value(o), Fingerprint::Opaque(9), o);
        assert_eq!(
            opaque.decision.action,
            Action::TookNew,
            "nothing seen: assume a change"
        );
    }

    #[test]
    fn data_rule_asks_for_statements_only_when_it_needs_them() {
        let asked = |live: Fingerprint, same: bool| {
            let mut f = facts(false, live, same);
            let rec = Recorded::Value(Fingerprint::Value(1));
            decide_data(rec, Fingerprint::Value(2), Override::Auto, &mut f);
            f.asked_statement
        };
        let plain = asked(Fingerprint::Value(1), true);
        assert_eq!(plain, 0, "plain data, no conflict: fingerprints decide");
        let conflict = asked(Fingerprint::Value(5), false);
        assert_eq!(conflict, 1, "a conflict checks the statement once");
    }

    #[test]
    fn data_rule_overrides_win_over_the_evidence() {
        let both = || facts(true, Fingerprint::Value(5), false);
        let rec = Recorded::Value(Fingerprint::Value(1));
        let keep = decide_data(rec, Fingerprint::Value(2), Override::Keep, &mut both());
        assert_eq!(keep.decision.action, Action::ConflictKeptLive);
        let nothing = Recorded::NoBaseline { old_source: false };
        let take = decide_data(nothing, Fingerprint::Value(2), Override::Take, &mut both());
        assert!(
            take.decision.take_new,
            "take forces the new value without a baseline"
        );
    }
}
