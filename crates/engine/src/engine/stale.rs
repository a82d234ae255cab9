//! Step 6 of a reload (DESIGN.md "Stale copies"): other tracked modules whose globals still hold
//! a value the reload replaced (`from balance import DAMAGE`), and `propagate`, which copies the
//! new value into them.

use foldhash::HashMap;

use pyo3::prelude::*;
use pyo3::types::PyModule;

use super::error::EngineError;
use super::pyobj::{ptr, short_repr, sys_modules};
use super::source::find_module;
use super::tracker;
use crate::protocol::StaleRef;

/// The globals of other tracked modules (and of the script, `__main__`) that still hold one of
/// `replaced` (name, old object), and, in modules that did `from module import *`, the public
/// names this reload `added` that they lack.
pub(crate) fn stale_refs(
    py: Python<'_>,
    module: &str,
    replaced: &[(String, Bound<'_, PyAny>)],
    added: &[String],
) -> Vec<StaleRef> {
    let mut out = Vec::new();
    if replaced.is_empty() && added.is_empty() {
        return out;
    }
    // sys.modules is a dict unless a program replaced it; then there is nothing to look in.
    let Ok(modules) = sys_modules(py) else {
        return out;
    };
    // One pass over each other module's globals, looking objects up by identity.
    let by_ptr: HashMap<usize, (&str, bool)> = replaced
        .iter()
        .map(|(name, old)| (ptr(old), (name.as_str(), super::merge::shared_value(old))))
        .collect();
    let mut others = tracker::names();
    others.push("__main__".to_string());
    for other in others {
        if other == module {
            continue;
        }
        let Some(m) = modules.get_item(&other).ok().flatten() else {
            continue;
        };
        let Ok(m) = m.cast::<PyModule>() else {
            continue;
        };
        // Small ints, interned strings, None, bools: shared by everyone, so holding the same
        // object proves nothing. Such a copy counts only where the other module's source imports
        // it from this one (`from balance import DAMAGE`, `... import DAMAGE as D`).
        let imported = std::cell::OnceCell::new();
        let imports = || {
            imported.get_or_init(|| {
                source_of(&other, m)
                    .map(|src| imported_names(&src, module, &other))
                    .unwrap_or_default()
            })
        };
        let star = || imports().iter().any(|(bound, _)| bound == "*");
        for (k, v) in m.dict().iter() {
            let Some((source, shared)) = by_ptr.get(&ptr(&v)) else {
                continue;
            };
            let Ok(k) = k.extract::<String>() else {
                continue;
            };
            if !shared
                || imports()
                    .iter()
                    .any(|(bound, name)| *bound == k && name == source)
                || (k == *source && star())
            {
                out.push(StaleRef {
                    module: other.clone(),
                    name: k,
                    source: (*source).to_string(),
                    value: short_repr(&v),
                });
            }
        }
        if !added.is_empty() && star() {
            for name in public_added(py, module, added) {
                if !m.dict().contains(&name).unwrap_or(true) {
                    out.push(StaleRef {
                        module: other.clone(),
                        name: name.clone(),
                        source: name,
                        value: "(missing: new since its `import *`)".into(),
                    });
                }
            }
        }
    }
    out
}

/// A module's source text: the tracker's copy, or for the script (`__main__`, not tracked) its
/// file.
fn source_of(name: &str, m: &Bound<'_, PyModule>) -> Option<String> {
    if let Some(src) = tracker::get(name).and_then(|t| t.source.clone()) {
        return Some(src.to_string());
    }
    let file: String = m.getattr("__file__").ok()?.extract().ok()?;
    std::fs::read_to_string(file).ok()
}

/// The names of `added` that `from module import *` binds: those in its `__all__` when it has
/// one, else those not starting with `_`.
fn public_added(py: Python<'_>, module: &str, added: &[String]) -> Vec<String> {
    let all: Option<Vec<String>> = find_module(py, module)
        .ok()
        .and_then(|m| m.getattr("__all__").ok())
        .and_then(|a| a.extract().ok());
    added
        .iter()
        .filter(|n| match &all {
            Some(all) => all.contains(n),
            None => !n.starts_with('_'),
        })
        .cloned()
        .collect()
}

/// The names `source` (module `importer`) binds by importing them from module `from`:
/// (bound name, name in `from`). Reads `from X import a, b as c` statements, parenthesised or
/// not, absolute or relative; `from X import *` gives `("*", "*")`.
fn imported_names(source: &str, from: &str, importer: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.trim_start().strip_prefix("from ") else {
            continue;
        };
        let Some((target, names)) = rest.split_once(" import ") else {
            continue;
        };
        let mut names = names.split('#').next().unwrap_or("").trim().to_string();
        if names.starts_with('(') {
            while !names.contains(')') {
                let Some(next) = lines.next() else {
                    break;
                };
                names.push(' ');
                names.push_str(next.split('#').next().unwrap_or(""));
            }
        }
        if resolve(target.trim(), importer) != from {
            continue;
        }
        let names = names.trim_matches(|c: char| c == '(' || c == ')' || c.is_whitespace());
        for item in names.split(',') {
            let mut words = item.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some(name), None, _) => out.push((name.into(), name.into())),
                (Some(name), Some("as"), Some(alias)) => out.push((alias.into(), name.into())),
                _ => {}
            }
        }
    }
    out
}

/// The absolute name of `target` (`.balance`, `..util`, `game.balance`) imported by module
/// `importer` (a module, not a package `__init__`).
fn resolve(target: &str, importer: &str) -> String {
    let dots = target.len() - target.trim_start_matches('.').len();
    if dots == 0 {
        return target.to_string();
    }
    // The importer's package, then one level up per further dot; a top-level module has none
    // (its relative imports name nothing).
    let mut package: Vec<&str> = importer.split('.').collect();
    package.pop();
    for _ in 1..dots {
        package.pop();
    }
    if package.is_empty() {
        return String::new();
    }
    let rest = &target[dots..];
    if !rest.is_empty() {
        package.push(rest);
    }
    package.join(".")
}

/// Sets `module.name` in every stale copy to the reloaded module's current `source` attribute.
pub fn propagate(py: Python<'_>, module: &str, stale: &[StaleRef]) -> Result<usize, EngineError> {
    let source = find_module(py, module)?;
    let mut n = 0;
    for s in stale {
        let target = find_module(py, &s.module)?;
        let value = source
            .getattr(s.source.as_str())
            .map_err(|_| EngineError::UnknownModule(format!("{module}.{}", s.source)))?;
        target
            .setattr(s.name.as_str(), value)
            .map_err(|e| EngineError::python(py, format!("setting {}.{}", s.module, s.name), &e))?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_from_a_module_are_read() {
        let source = "import os\nfrom balance import DAMAGE, SPEED as S  # tuned\n\
                      from other import DAMAGE as X\nfrom .balance import (\n    LOOT,\n    \
                      HP as LIFE,\n)\nfrom balance import *\n";
        let mut got = imported_names(source, "game.balance", "game.players");
        got.sort();
        let want: Vec<(String, String)> = [("LIFE", "HP"), ("LOOT", "LOOT")]
            .iter()
            .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
            .collect();
        assert_eq!(
            got, want,
            "relative imports resolve against the importer's package"
        );
        let mut got = imported_names(source, "balance", "players");
        got.sort();
        assert_eq!(
            got,
            vec![
                ("*".to_string(), "*".to_string()),
                ("DAMAGE".to_string(), "DAMAGE".to_string()),
                ("S".to_string(), "SPEED".to_string())
            ],
            "a star import is read as `*`"
        );
        assert_eq!(resolve("..util", "a.b.c"), "a.util");
        assert_eq!(resolve(".", "a.b"), "a");
    }
}
