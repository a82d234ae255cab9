//! The three-way data rule and per-attribute overrides (DESIGN.md "The three-way data rule").
//!
//! Pure decisions, no Python: the merge asks "did the source change?" and "did the live value
//! change?" and this module says what to do and how to report it.

use serde::{Deserialize, Serialize};

use super::report::Action;

/// A user's choice for one attribute: follow the rule, always keep the live value, or always take
/// the value the new source produces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Override {
    #[default]
    Auto,
    Keep,
    Take,
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
    let d = |take_new, action, note| Decision {
        take_new,
        action,
        note,
    };
    match (ov, source_changed, live_changed) {
        (_, false, false) => d(false, Action::Unchanged, ""),
        (Override::Auto, false, true) => d(
            false,
            Action::KeptLive,
            "source unchanged, live value differs: live state kept",
        ),
        (Override::Auto | Override::Take, true, false) => {
            d(true, Action::TookNew, "source changed")
        }
        (Override::Auto, true, true) => d(
            true,
            Action::ConflictTookNew,
            "source changed and live value changed too: took the source's value",
        ),
        (Override::Keep, false, true) => d(false, Action::KeptLive, "override: keep"),
        (Override::Keep, true, false) => d(
            false,
            Action::KeptLive,
            "override: keep (source changed, live value kept)",
        ),
        (Override::Keep, true, true) => d(
            false,
            Action::ConflictKeptLive,
            "source changed and live value changed too: override keeps live",
        ),
        (Override::Take, false, true) => d(
            true,
            Action::TookNew,
            "override: take (live state replaced by the source's value)",
        ),
        (Override::Take, true, true) => d(
            true,
            Action::ConflictTookNew,
            "source changed and live value changed too: override takes the source's value",
        ),
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

/// The user's overrides for one reload, looked up by exact qualname (`DAMAGE`, `Player.MAX_HP`,
/// `make_counter::n`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overrides {
    pub keep: Vec<String>,
    pub take: Vec<String>,
}

impl Overrides {
    /// The override for an attribute; `keep` wins if a name is in both lists.
    pub fn get(&self, qualname: &str) -> Override {
        let has = |list: &[String], key: &str| list.iter().any(|k| k == key);
        if has(&self.keep, qualname) {
            return Override::Keep;
        }
        if has(&self.take, qualname) {
            return Override::Take;
        }
        Override::Auto
    }

    /// Names that are both kept and taken: a contradiction the caller must reject.
    pub fn contradictions(&self) -> Vec<String> {
        self.keep
            .iter()
            .filter(|k| self.take.contains(k))
            .cloned()
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.keep.is_empty() && self.take.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_table() {
        use Action::*;
        use Override::*;
        // (override, source changed, live changed) -> (take new, action)
        let table = [
            (Auto, false, false, false, Unchanged),
            (Auto, false, true, false, KeptLive),
            (Auto, true, false, true, TookNew),
            (Auto, true, true, true, ConflictTookNew),
            (Keep, false, false, false, Unchanged),
            (Keep, false, true, false, KeptLive),
            (Keep, true, false, false, KeptLive),
            (Keep, true, true, false, ConflictKeptLive),
            (Take, false, false, false, Unchanged),
            (Take, false, true, true, TookNew),
            (Take, true, false, true, TookNew),
            (Take, true, true, true, ConflictTookNew),
        ];
        for (ov, sc, lc, take, action) in table {
            let d = decide(sc, lc, ov);
            assert_eq!(
                (d.take_new, d.action),
                (take, action),
                "override {ov:?}, source changed {sc}, live changed {lc}"
            );
        }
    }

    #[test]
    fn unchanged_statement_keeps_live_state_only_in_a_conflict_without_override() {
        use Action::*;
        use Override::*;
        // (override, source changed, live changed) -> (take new, action) when the statement's
        // text is the same in both sources.
        let table = [
            (Auto, true, true, false, ConflictKeptLive),
            (Auto, true, false, true, TookNew),
            (Auto, false, true, false, KeptLive),
            (Take, true, true, true, ConflictTookNew),
            (Keep, true, true, false, ConflictKeptLive),
        ];
        for (ov, sc, lc, take, action) in table {
            let d = refine_for_unchanged_statement(decide(sc, lc, ov), ov);
            assert_eq!(
                (d.take_new, d.action),
                (take, action),
                "override {ov:?}, source changed {sc}, live changed {lc}"
            );
        }
    }

    #[test]
    fn overrides_match_qualname_exactly() {
        let o = Overrides {
            keep: vec!["Player.MAX_HP".into()],
            take: vec!["DAMAGE".into()],
        };
        assert_eq!(o.get("Player.MAX_HP"), Override::Keep);
        assert_eq!(o.get("DAMAGE"), Override::Take);
        assert_eq!(o.get("MAX_HP"), Override::Auto);
        assert!(o.contradictions().is_empty());
        let bad = Overrides {
            keep: vec!["X".into()],
            take: vec!["X".into()],
        };
        assert_eq!(bad.contradictions(), vec!["X".to_string()]);
    }
}
