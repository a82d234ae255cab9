//! The user's per-attribute choices: follow the data rule, keep the live value, take the new one.

use serde::{Deserialize, Serialize};

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
