//! Source of one function or method inside a module's text, and its diff (pure Rust: the UI
//! never asks Python).

use similar::{ChangeTag, TextDiff};

/// One line of a diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiffLine {
    Same(String),
    Added(String),
    Removed(String),
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The text of the `def`/`class` named by `qualname` (`fire`, `Player.fire`, `Outer.Inner.m`),
/// decorators included, found by indentation.
pub fn definition(text: &str, qualname: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut start = 0;
    let mut end = lines.len();
    let mut indent = 0;
    let parts: Vec<&str> = qualname.split('.').collect();
    for (depth, part) in parts.iter().enumerate() {
        let found = (start..end).find(|&i| {
            let l = lines[i];
            let t = l.trim_start();
            indent_of(l) == indent
                && ["def ", "async def ", "class "].iter().any(|kw| {
                    t.strip_prefix(kw).is_some_and(|rest| {
                        rest.starts_with(part) && rest[part.len()..].starts_with(['(', ':'])
                    })
                })
        })?;
        // The block ends at the first non-blank line indented no deeper than its header.
        let mut block_end = found + 1;
        while block_end < end {
            let l = lines[block_end];
            let blank = l.trim().is_empty() || l.trim_start().starts_with('#');
            if !blank && indent_of(l) <= indent {
                break;
            }
            block_end += 1;
        }
        while block_end > found + 1 && lines[block_end - 1].trim().is_empty() {
            block_end -= 1;
        }
        let mut first = found;
        while first > start
            && lines[first - 1].trim_start().starts_with('@')
            && indent_of(lines[first - 1]) == indent
        {
            first -= 1;
        }
        if depth + 1 == parts.len() {
            return Some(lines[first..block_end].join("\n"));
        }
        // Descend into the class body.
        start = found + 1;
        end = block_end;
        indent = (start..end)
            .map(|i| lines[i])
            .find(|l| !l.trim().is_empty())
            .map_or(indent + 4, indent_of);
    }
    None
}

/// Line diff of two texts.
pub fn diff(old: &str, new: &str) -> Vec<DiffLine> {
    TextDiff::from_lines(old, new)
        .iter_all_changes()
        .map(|c| {
            let text = c.value().trim_end_matches('\n').to_string();
            match c.tag() {
                ChangeTag::Equal => DiffLine::Same(text),
                ChangeTag::Insert => DiffLine::Added(text),
                ChangeTag::Delete => DiffLine::Removed(text),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "import x\n\n@deco\ndef fire(a):\n    return a\n\n\nclass Player:\n    HP = 1\n\n    def fire(self):\n        # comment\n        return 2\n\n    @property\n    def alive(self):\n        return True\n\nclass Other:\n    pass\n";

    #[test]
    fn finds_definitions_by_qualname() {
        let cases = [
            ("fire", Some("@deco\ndef fire(a):\n    return a")),
            (
                "Player.fire",
                Some("    def fire(self):\n        # comment\n        return 2"),
            ),
            (
                "Player.alive",
                Some("    @property\n    def alive(self):\n        return True"),
            ),
            ("Other", Some("class Other:\n    pass")),
            ("Player.missing", None),
            ("fir", None),
        ];
        for (q, want) in cases {
            assert_eq!(definition(SRC, q).as_deref(), want, "{q}");
        }
    }

    #[test]
    fn diff_marks_lines() {
        let d = diff("a\nb\n", "a\nc\n");
        assert_eq!(
            d,
            vec![
                DiffLine::Same("a".into()),
                DiffLine::Removed("b".into()),
                DiffLine::Added("c".into())
            ]
        );
    }
}
