//! What the window shows of the program's modules: the module list and one module's attributes.
//!
//! Plain data; the engine fills it in (`engine::modules`, `engine::attributes`).

use serde::{Deserialize, Serialize};

use super::report::{Kind, Outcome};

/// Where a module comes from, for grouping in the UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// Under a watched root: tracked and reloadable.
    Project,
    SitePackages,
    Stdlib,
    /// No source file (builtin, C extension, namespace package, made at run time).
    Builtin,
}

/// A snapshot of one loaded module.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleInfo {
    pub name: String,
    pub file: Option<String>,
    pub group: Group,
    pub tracked: bool,
    /// The file's mtime differs from the one of the last load or reload.
    pub changed_on_disk: bool,
    pub last_outcome: Option<Outcome>,
}

/// A snapshot of one attribute of a module (or of a class the module defines), or of one entry
/// inside a data value (then `qualname` is its key path).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttrInfo {
    /// `DAMAGE`, `fire`; for an entry, its key as Python writes it (`'rifle'`, `3`, `hp`).
    pub name: String,
    /// `DAMAGE`, `Player.fire`; for an entry, its key path spelled as the merge spells it
    /// (`WEAPONS['rifle']`, `LEVELS[3]`, `DEFAULTS.hp`), so a toggle on it names what the merge
    /// reads from the policy file.
    pub qualname: String,
    pub kind: Kind,
    /// Repr of the live value: short for containers (their entries are in `children`), up to a
    /// few thousand characters for a string or number.
    pub repr: String,
    /// What the value holds, for the window's tree: dict entries, list and tuple items, a plain
    /// instance's attributes. Bounded in depth and count (the window asks every 0.7 s, and a
    /// table may have 100k entries); empty for code and scalars, and from older agents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<AttrInfo>,
    /// Entries of the value not in `children` (past the per-level cap, or too deep to list).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub more: usize,
    /// The merge applies the three-way rule to this entry on its own (it is a key of a dict, or
    /// an attribute of a plain instance, recorded key by key): a policy entry for its key path
    /// is read. False for list and tuple items, which merge as part of the whole value.
    #[serde(default, skip_serializing_if = "is_false")]
    pub keyed: bool,
}

impl AttrInfo {
    /// A module attribute or class member with no entries listed.
    pub fn new(name: String, qualname: String, kind: Kind, repr: String) -> AttrInfo {
        AttrInfo {
            name,
            qualname,
            kind,
            repr,
            children: Vec::new(),
            more: 0,
            keyed: false,
        }
    }
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde passes a reference"
)]
fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde passes a reference"
)]
fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An agent built before the tree existed sends attributes without its fields; the window
    /// reads them as values with no entries listed.
    #[test]
    fn attributes_from_an_older_agent_still_parse() {
        let old = r#"{"name":"DAMAGE","qualname":"DAMAGE","kind":"data","repr":"10"}"#;
        let a: AttrInfo = serde_json::from_str(old).expect("old shape parses");
        assert_eq!(
            a,
            AttrInfo::new("DAMAGE".into(), "DAMAGE".into(), Kind::Data, "10".into())
        );
    }

    #[test]
    fn a_tree_round_trips_and_leaves_stay_compact() {
        let mut a = AttrInfo::new(
            "WEAPONS".into(),
            "WEAPONS".into(),
            Kind::Data,
            "{...}".into(),
        );
        let mut rifle = AttrInfo::new(
            "'rifle'".into(),
            "WEAPONS['rifle']".into(),
            Kind::Data,
            "{'damage': 20}".into(),
        );
        rifle.keyed = true;
        a.children.push(rifle);
        a.more = 3;
        let text = serde_json::to_string(&a).expect("serialises");
        assert_eq!(serde_json::from_str::<AttrInfo>(&text).ok(), Some(a));
        let leaf = AttrInfo::new("X".into(), "X".into(), Kind::Data, "1".into());
        let text = serde_json::to_string(&leaf).expect("serialises");
        assert!(!text.contains("children") && !text.contains("more") && !text.contains("keyed"));
    }
}
