//! The per-attribute data policy (Auto / Keep / Take new) the designer sets in the attributes
//! table, saved in a human-readable file in the script's folder.
//!
//! Format (`swapscope-policy.txt`):
//! ```text
//! # comments start with '#'
//! [balance]
//! WEAPONS = keep
//! Player.MAX_HP = take
//! ```
//! A `[module]` header, then `qualname = keep|take` lines; `auto` entries are not written.
//! A malformed file is reported with its line and never overwritten.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Override, Overrides};

/// The policy file's name, in the script's folder.
pub const FILE_NAME: &str = "swapscope-policy.txt";

/// Per module, per attribute qualname, the override.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub modules: BTreeMap<String, BTreeMap<String, Override>>,
}

/// Why a policy file could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("policy file {}:{line}: {message}; fix or delete it (it will not be overwritten meanwhile)", path.display())]
pub struct PolicyError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

impl Policy {
    /// Parses the file format above; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Policy, PolicyError> {
        let mut policy = Policy::default();
        let mut module: Option<String> = None;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            let err = |message: String| PolicyError {
                path: path.to_path_buf(),
                line: i + 1,
                message,
            };
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix('[') {
                let name = rest
                    .strip_suffix(']')
                    .ok_or_else(|| err(format!("expected `[module]`, found {line:?}")))?
                    .trim();
                if name.is_empty() || name.contains(char::is_whitespace) {
                    return Err(err(format!("{name:?} is not a module name")));
                }
                module = Some(name.to_string());
                continue;
            }
            // The value has no `=`; a key path's key may (`T['a=b'] = keep`).
            let Some((key, value)) = line.rsplit_once('=') else {
                return Err(err(format!(
                    "expected `attribute = keep|take`, found {line:?}"
                )));
            };
            let Some(module) = &module else {
                return Err(err("an attribute line before any `[module]` header".into()));
            };
            let key = key.trim();
            // Only a key path's keys (inside the brackets) may hold spaces: `W['big gun']`.
            let name_part = key.split('[').next().unwrap_or(key);
            if key.is_empty() || name_part.is_empty() || name_part.contains(char::is_whitespace) {
                return Err(err(format!("{key:?} is not an attribute name")));
            }
            let ov = match value.trim() {
                "keep" => Override::Keep,
                "take" => Override::Take,
                "auto" => Override::Auto,
                other => {
                    return Err(err(format!(
                        "unknown choice {other:?}; use keep, take or auto"
                    )));
                }
            };
            policy.set(module, key, ov);
        }
        Ok(policy)
    }

    /// The file's text; `auto` entries and empty modules are left out.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# swapscope data policy: what a reload does with each attribute's live value.\n\
             # keep = always keep the live value, take = always take the source's value.\n\
             # Attributes not listed follow the three-way rule (auto).\n",
        );
        for (module, attrs) in &self.modules {
            if attrs.values().all(|o| *o == Override::Auto) {
                continue;
            }
            out.push_str("\n[");
            out.push_str(module);
            out.push_str("]\n");
            for (name, ov) in attrs {
                let word = match ov {
                    Override::Keep => "keep",
                    Override::Take => "take",
                    Override::Auto => continue,
                };
                out.push_str(name);
                out.push_str(" = ");
                out.push_str(word);
                out.push('\n');
            }
        }
        out
    }

    pub fn get(&self, module: &str, qualname: &str) -> Override {
        self.modules
            .get(module)
            .and_then(|m| m.get(qualname))
            .copied()
            .unwrap_or_default()
    }

    pub fn set(&mut self, module: &str, qualname: &str, ov: Override) {
        let attrs = self.modules.entry(module.to_string()).or_default();
        if ov == Override::Auto {
            attrs.remove(qualname);
        } else {
            attrs.insert(qualname.to_string(), ov);
        }
        if attrs.is_empty() {
            self.modules.remove(module);
        }
    }

    /// The overrides for one module's reload.
    pub fn overrides(&self, module: &str) -> Overrides {
        let mut o = Overrides::default();
        if let Some(attrs) = self.modules.get(module) {
            for (name, ov) in attrs {
                match ov {
                    Override::Keep => o.keep.push(name.clone()),
                    Override::Take => o.take.push(name.clone()),
                    Override::Auto => {}
                }
            }
        }
        o
    }
}

/// Explicit overrides win over the policy for the names they mention.
pub fn combine(policy: &Overrides, explicit: &Overrides) -> Overrides {
    let named = |n: &String| explicit.keep.contains(n) || explicit.take.contains(n);
    let mut out = explicit.clone();
    out.keep
        .extend(policy.keep.iter().filter(|n| !named(n)).cloned());
    out.take
        .extend(policy.take.iter().filter(|n| !named(n)).cloned());
    out
}

/// The policy file of a project, as loaded at start.
#[derive(Clone, Debug)]
pub struct PolicyFile {
    pub path: PathBuf,
    pub policy: Policy,
    /// Set when the file on disk is malformed: it is then never written.
    pub error: Option<PolicyError>,
}

/// Why a policy change was not saved (it still applies for this run).
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The file on disk is malformed: it is never overwritten.
    #[error("not saved: {0}")]
    Malformed(String),
    #[error("cannot save the policy file {}: {cause}", .path.display())]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
}

impl PolicyFile {
    /// Loads `dir/swapscope-policy.txt`; a missing file is an empty policy.
    pub fn load(dir: &Path) -> PolicyFile {
        let path = dir.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => match Policy::parse(&text, &path) {
                Ok(policy) => PolicyFile {
                    path,
                    policy,
                    error: None,
                },
                Err(e) => PolicyFile {
                    path,
                    policy: Policy::default(),
                    error: Some(e),
                },
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => PolicyFile {
                path,
                policy: Policy::default(),
                error: None,
            },
            Err(e) => {
                let error = PolicyError {
                    path: path.clone(),
                    line: 0,
                    message: format!("cannot read it: {e}"),
                };
                PolicyFile {
                    path,
                    policy: Policy::default(),
                    error: Some(error),
                }
            }
        }
    }

    /// One message per `[module]` section that names no module under the watched `roots`
    /// (no `a/b.py` nor `a/b/__init__.py` for `[a.b]`): a typo or a renamed module. The entries
    /// stay in the file (and are saved back with it); they apply to nothing.
    pub fn unknown_modules(&self, roots: &[PathBuf]) -> Vec<String> {
        if self.error.is_some() {
            // Its error is reported already, and none of its entries apply.
            return Vec::new();
        }
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let mut out = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let Some(name) = raw
                .trim()
                .strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .map(str::trim)
            else {
                continue;
            };
            let rel: PathBuf = name.split('.').collect();
            let exists = roots.iter().any(|root| {
                let base = root.join(&rel);
                base.with_extension("py").is_file() || base.join("__init__.py").is_file()
            });
            if !exists {
                let folders: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
                out.push(format!(
                    "policy file {}:{}: [{name}] names no module under the watched folders \
                     ({}); its settings apply to nothing. Check the module name",
                    self.path.display(),
                    i + 1,
                    folders.join(", ")
                ));
            }
        }
        out
    }

    /// Changes one entry and saves, unless the file on disk was malformed.
    pub fn set(&mut self, module: &str, qualname: &str, ov: Override) -> Result<(), SaveError> {
        self.policy.set(module, qualname, ov);
        if let Some(e) = &self.error {
            return Err(SaveError::Malformed(e.to_string()));
        }
        std::fs::write(&self.path, self.policy.render()).map_err(|cause| SaveError::Write {
            path: self.path.clone(),
            cause,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut p = Policy::default();
        p.set("balance", "WEAPONS", Override::Keep);
        p.set("balance", "Player.MAX_HP", Override::Take);
        p.set("players", "X", Override::Auto);
        let text = p.render();
        assert!(
            text.contains("[balance]\nPlayer.MAX_HP = take\nWEAPONS = keep\n"),
            "{text}"
        );
        assert!(!text.contains("[players]"));
        assert_eq!(Policy::parse(&text, Path::new("p")).expect("parses"), p);
    }

    #[test]
    fn key_paths_round_trip() {
        let mut p = Policy::default();
        p.set("balance", "WEAPONS['rifle']['damage']", Override::Keep);
        p.set("balance", "WEAPONS['big gun']", Override::Take);
        p.set("balance", "T['a=b']", Override::Keep);
        let text = p.render();
        assert_eq!(
            Policy::parse(&text, Path::new("p")).expect("parses"),
            p,
            "{text}"
        );
        let parsed = Policy::parse(
            "[balance]\nWEAPONS['rifle']['damage'] = keep\n",
            Path::new("p"),
        )
        .expect("a key path line");
        assert_eq!(
            parsed
                .overrides("balance")
                .get("WEAPONS['rifle']['damage']"),
            Override::Keep
        );
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let cases = [
            ("X = keep\n", 1, "before any"),
            ("[m]\nX = maybe\n", 2, "unknown choice"),
            ("[m]\n\nX keep\n", 3, "expected `attribute"),
            ("[m\n", 1, "expected `[module]`"),
        ];
        for (text, line, words) in cases {
            let e = Policy::parse(text, Path::new("dir/swapscope-policy.txt")).expect_err(text);
            assert_eq!(e.line, line, "{text:?}");
            assert!(e.to_string().contains(words), "{e}");
            assert!(e.to_string().contains("swapscope-policy.txt"), "{e}");
        }
    }

    #[test]
    fn explicit_overrides_win() {
        let policy = Overrides {
            keep: vec!["A".into(), "B".into()],
            take: vec![],
        };
        let explicit = Overrides {
            keep: vec![],
            take: vec!["A".into()],
        };
        let c = combine(&policy, &explicit);
        assert_eq!(c.take, vec!["A".to_string()]);
        assert_eq!(c.keep, vec!["B".to_string()]);
    }

    #[test]
    fn malformed_file_is_never_overwritten() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "[m]\nX = maybe\n").expect("write");
        let mut f = PolicyFile::load(dir.path());
        assert!(f.error.is_some());
        assert!(f.set("m", "Y", Override::Keep).is_err());
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "[m]\nX = maybe\n"
        );
    }
}
