//! What one top-level statement reads and binds at module level, found from its text without
//! parsing (incremental reload's dependency analysis; the statements come from `statements.rs`).
//!
//! The answers are supersets, never subsets, because a name missed is a statement wrongly not
//! re-run, while a name too many only re-runs a statement a full reload would have run anyway:
//! - `reads`: every name in the statement outside comments, plain string literals, attribute
//!   positions (`x.name`) and the bodies of functions it defines. A function body runs when the
//!   function is called, not when the statement runs; its reads are found from the function's
//!   code instead (see `facts.py`'s `function_facts`). Decorators, default values, annotations,
//!   base classes and class bodies run with the statement and count. Names inside f-string
//!   replacement fields count.
//! - `binds`: for `def` and `class` their name; for imports the names bound; for a simple
//!   statement every name left of its last assignment operator (`x[0] = 1` counts `x`); for a
//!   compound statement (`if`, `for`, `try`, `with`, ...) every name in it.
//! - `trigger`: a construct whose effect the analysis cannot follow (`globals()`, `exec`, a star
//!   import, `del`, a module `__getattr__`): the caller reloads the whole module.

use foldhash::HashSet;

/// What kind of statement, as far as incremental reload cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StmtKind {
    /// `def` or `async def`, maybe decorated.
    Def,
    Class,
    /// `import` or `from ... import` (not `__future__`).
    Import,
    /// `from __future__ import ...`: changes how the whole module compiles.
    Future,
    /// `if __name__ == "__main__":` without other clauses: does nothing in an imported module.
    MainGuard,
    /// `if`, `for`, `while`, `try`, `with`, `match`.
    Compound,
    /// Everything else: assignments, expressions, `assert`, `global`, ...
    Simple,
}

/// The facts of one statement.
#[derive(Clone, Debug)]
pub struct Facts<'a> {
    pub kind: StmtKind,
    /// The name a `def` or `class` binds.
    pub name: Option<&'a str>,
    /// For a decorated `def`: the byte offset (in the statement's text) of the line holding
    /// `def`, after the decorators.
    pub def_offset: Option<usize>,
    pub reads: HashSet<&'a str>,
    pub binds: HashSet<&'a str>,
    /// Why the module must be reloaded whole because of this statement.
    pub trigger: Option<&'static str>,
}

const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// Names that reach the module's namespace as a whole, or run code the analysis never sees.
const DYNAMIC: &[(&str, &str)] = &[
    ("globals", "it calls globals()"),
    ("locals", "it calls locals() at module level"),
    ("vars", "it calls vars()"),
    ("exec", "it calls exec()"),
    ("eval", "it calls eval()"),
];

/// Whether `name` names the module's namespace or dynamic code (`globals`, `exec`, ...), and why.
pub fn dynamic(name: &str) -> Option<&'static str> {
    DYNAMIC
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, why)| *why)
}

/// One name met, with where: whether it follows a `.` (an attribute, not a read).
#[derive(Clone, Copy)]
struct Word<'a> {
    text: &'a str,
    after_dot: bool,
    /// Index of the assignment operators before it on its logical line (for binds).
    assign_before: usize,
    /// Followed by `:=`.
    walrus: bool,
}

/// One logical line: its indentation and the names in it (none for a skipped function body).
struct Line<'a> {
    indent: usize,
    start: usize,
    words: Vec<Word<'a>>,
    /// Assignment operators at bracket depth 0 (`=`, `+=`, an annotation's `:`).
    assigns: usize,
    /// The first name of the line is `def` (or `async def`) and the `:` ending its header was
    /// found at this word count: words after it are the one-line body.
    header_end: Option<usize>,
}

/// Scans `text` (one top-level statement, starting at column 0) into logical lines.
struct Scanner<'a> {
    text: &'a str,
    b: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn lines(mut self) -> Vec<Line<'a>> {
        let mut out = Vec::new();
        while self.pos < self.b.len() {
            if let Some(line) = self.line() {
                out.push(line);
            }
        }
        out
    }

    /// Reads one logical line from `pos` (at a line start); `None` for a blank or comment line.
    fn line(&mut self) -> Option<Line<'a>> {
        let start = self.pos;
        let mut indent = 0;
        while let Some(&c) = self.b.get(self.pos) {
            match c {
                b' ' => indent += 1,
                b'\t' => indent = (indent / 8 + 1) * 8,
                b'\x0c' => indent = 0,
                _ => break,
            }
            self.pos += 1;
        }
        let mut line = Line {
            indent,
            start,
            words: Vec::new(),
            assigns: 0,
            header_end: None,
        };
        let mut depth = 0usize;
        let mut after_dot = false;
        let mut any = false;
        while let Some(&c) = self.b.get(self.pos) {
            match c {
                b'\n' | b'\r' => {
                    self.pos += 1;
                    if c == b'\r' && self.b.get(self.pos) == Some(&b'\n') {
                        self.pos += 1;
                    }
                    if depth == 0 {
                        break;
                    }
                }
                b'#' => {
                    while self
                        .b
                        .get(self.pos)
                        .is_some_and(|&c| c != b'\n' && c != b'\r')
                    {
                        self.pos += 1;
                    }
                }
                b'\\' => {
                    // A continuation: the next physical line goes on this logical one.
                    self.pos += 1;
                    if self.b.get(self.pos) == Some(&b'\r') {
                        self.pos += 1;
                    }
                    if self.b.get(self.pos) == Some(&b'\n') {
                        self.pos += 1;
                    }
                }
                b' ' | b'\t' | b'\x0c' => self.pos += 1,
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    self.pos += 1;
                    after_dot = false;
                    any = true;
                }
                b')' | b']' | b'}' => {
                    depth = depth.saturating_sub(1);
                    self.pos += 1;
                    after_dot = false;
                }
                b'.' => {
                    // `...` is Ellipsis, not an attribute dot.
                    if self.b.get(self.pos + 1) == Some(&b'.') {
                        self.pos += 3.min(self.b.len() - self.pos);
                        after_dot = false;
                    } else if self.b.get(self.pos + 1).is_some_and(u8::is_ascii_digit) {
                        self.number();
                        after_dot = false;
                    } else {
                        self.pos += 1;
                        after_dot = true;
                    }
                    any = true;
                }
                b'\'' | b'"' => {
                    self.string(self.pos, false, &mut line.words);
                    after_dot = false;
                    any = true;
                }
                b'0'..=b'9' => {
                    self.number();
                    after_dot = false;
                    any = true;
                }
                c if c == b'_' || c.is_ascii_alphabetic() || c >= 0x80 => {
                    let s = self.pos;
                    let word = self.name();
                    if matches!(self.b.get(self.pos), Some(b'\'' | b'"'))
                        && let Some(formatted) = prefix(word)
                    {
                        self.string(s + word.len(), formatted, &mut line.words);
                    } else {
                        let walrus = self.peek_walrus();
                        line.words.push(Word {
                            text: word,
                            after_dot,
                            assign_before: line.assigns,
                            walrus,
                        });
                    }
                    after_dot = false;
                    any = true;
                }
                b':' => {
                    self.pos += 1;
                    if self.b.get(self.pos) == Some(&b'=') {
                        self.pos += 1;
                    } else if depth == 0 {
                        let first = line.words.first().map(|w| w.text);
                        let def_line = first == Some("def")
                            || (first == Some("async")
                                && line.words.get(1).map(|w| w.text) == Some("def"));
                        if def_line && line.header_end.is_none() {
                            line.header_end = Some(line.words.len());
                        } else if !starts_compound(first) {
                            // An annotation: `X: int = 1` binds X like an assignment.
                            line.assigns += 1;
                        }
                    }
                    after_dot = false;
                    any = true;
                }
                b'=' => {
                    self.pos += 1;
                    if self.b.get(self.pos) == Some(&b'=') {
                        self.pos += 1;
                    } else if depth == 0 {
                        line.assigns += 1;
                    }
                    after_dot = false;
                    any = true;
                }
                b'!' | b'<' | b'>' => {
                    // `!=`, `<=`, `>=` are comparisons; `<<=`, `>>=` assignments.
                    self.pos += 1;
                    let shift = matches!(c, b'<' | b'>') && self.b.get(self.pos) == Some(&c);
                    if shift {
                        self.pos += 1;
                    }
                    if self.b.get(self.pos) == Some(&b'=') {
                        self.pos += 1;
                        if shift && depth == 0 {
                            line.assigns += 1;
                        }
                    }
                    after_dot = false;
                    any = true;
                }
                b'+' | b'-' | b'*' | b'/' | b'%' | b'&' | b'|' | b'^' | b'@' => {
                    self.pos += 1;
                    if matches!(c, b'*' | b'/') && self.b.get(self.pos) == Some(&c) {
                        self.pos += 1;
                    }
                    if self.b.get(self.pos) == Some(&b'=') {
                        self.pos += 1;
                        if depth == 0 {
                            line.assigns += 1;
                        }
                    }
                    after_dot = false;
                    any = true;
                }
                _ => {
                    self.pos += 1;
                    after_dot = false;
                    any = true;
                }
            }
        }
        any.then_some(line)
    }

    /// Reads the name starting at `pos` (its first byte checked by the caller).
    fn name(&mut self) -> &'a str {
        let s = self.pos;
        while self
            .b
            .get(self.pos)
            .is_some_and(|&c| c == b'_' || c.is_ascii_alphanumeric() || c >= 0x80)
        {
            self.pos += 1;
        }
        &self.text[s..self.pos]
    }

    fn peek_walrus(&self) -> bool {
        let mut p = self.pos;
        while matches!(self.b.get(p), Some(b' ' | b'\t')) {
            p += 1;
        }
        self.b.get(p) == Some(&b':') && self.b.get(p + 1) == Some(&b'=')
    }

    fn number(&mut self) {
        while let Some(&c) = self.b.get(self.pos) {
            let exponent_sign = matches!(c, b'+' | b'-')
                && self.pos > 0
                && matches!(self.b[self.pos - 1], b'e' | b'E')
                && !self.text[..self.pos].ends_with("0x");
            if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || exponent_sign {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// Reads a string literal whose quote is at `at`; the names in an f-string's replacement
    /// fields go into `words` as reads.
    fn string(&mut self, at: usize, formatted: bool, words: &mut Vec<Word<'a>>) {
        let quote = self.b[at];
        let triple = self.b.get(at + 1) == Some(&quote) && self.b.get(at + 2) == Some(&quote);
        self.pos = at + if triple { 3 } else { 1 };
        let mut fields = 0usize;
        while let Some(&c) = self.b.get(self.pos) {
            if fields > 0 {
                // Code inside a replacement field: names, nested strings, brackets.
                match c {
                    b'{' | b'(' | b'[' => {
                        if c == b'{' {
                            fields += 1;
                        }
                        self.pos += 1;
                    }
                    b'}' => {
                        fields -= 1;
                        self.pos += 1;
                    }
                    b'\'' | b'"' => self.string(self.pos, false, words),
                    c if c == b'_' || c.is_ascii_alphabetic() || c >= 0x80 => {
                        let s = self.pos;
                        let text = self.name();
                        let after_dot = s > 0 && self.b[s - 1] == b'.';
                        words.push(Word {
                            text,
                            after_dot,
                            assign_before: usize::MAX,
                            walrus: false,
                        });
                    }
                    _ => self.pos += 1,
                }
                continue;
            }
            match c {
                b'\\' => self.pos += 2,
                b'{' if formatted => {
                    if self.b.get(self.pos + 1) == Some(&b'{') {
                        self.pos += 2;
                    } else {
                        fields = 1;
                        self.pos += 1;
                    }
                }
                b'\n' | b'\r' if !triple => return,
                c if c == quote => {
                    if !triple {
                        self.pos += 1;
                        return;
                    }
                    if self.b.get(self.pos + 1) == Some(&quote)
                        && self.b.get(self.pos + 2) == Some(&quote)
                    {
                        self.pos += 3;
                        return;
                    }
                    self.pos += 1;
                }
                _ => self.pos += 1,
            }
        }
        self.pos = self.pos.min(self.b.len());
    }
}

/// The string prefix `word` spells, if any, and whether it makes an f-string (or t-string).
fn prefix(word: &str) -> Option<bool> {
    if word.len() > 2 {
        return None;
    }
    let lower = word.to_ascii_lowercase();
    let ok = matches!(
        lower.as_str(),
        "r" | "u" | "b" | "f" | "t" | "br" | "rb" | "fr" | "rf" | "tr" | "rt"
    );
    ok.then(|| lower.contains('f') || lower.contains('t'))
}

fn starts_compound(first: Option<&str>) -> bool {
    matches!(
        first,
        Some(
            "if" | "elif"
                | "else"
                | "for"
                | "while"
                | "try"
                | "except"
                | "finally"
                | "with"
                | "async"
                | "class"
                | "def"
                | "match"
                | "case"
                | "lambda"
        )
    )
}

/// The `i`th name of a logical line.
fn word<'a>(l: &Line<'a>, i: usize) -> Option<&'a str> {
    l.words.get(i).map(|w| w.text)
}

/// The facts of one top-level statement (its text as `statements::split` gives it).
pub fn facts(text: &str) -> Facts<'_> {
    let lines = Scanner {
        text,
        b: text.as_bytes(),
        pos: 0,
    }
    .lines();
    let mut f = Facts {
        kind: StmtKind::Simple,
        name: None,
        def_offset: None,
        reads: HashSet::default(),
        binds: HashSet::default(),
        trigger: None,
    };
    let Some(first) = lines.first() else {
        return f;
    };
    // The line that says what the statement is: after any decorators.
    let head = lines
        .iter()
        .find(|l| l.indent == 0 && !text[l.start..].starts_with('@'))
        .unwrap_or(first);
    let lead = word(head, 0);
    f.kind = match lead {
        Some("def") => StmtKind::Def,
        Some("async") if word(head, 1) == Some("def") => StmtKind::Def,
        Some("class") => StmtKind::Class,
        Some("from") if word(head, 1) == Some("__future__") => StmtKind::Future,
        Some("import" | "from") => StmtKind::Import,
        Some("if") if main_guard(text, &lines) => StmtKind::MainGuard,
        Some("if" | "for" | "while" | "try" | "with" | "async" | "match") => StmtKind::Compound,
        _ => StmtKind::Simple,
    };
    match f.kind {
        StmtKind::Def | StmtKind::Class => {
            let skip = usize::from(lead == Some("async"));
            f.name = word(head, 1 + skip);
            if f.kind == StmtKind::Def && !std::ptr::eq(head, first) {
                f.def_offset = Some(head.start);
            }
            if let Some(n) = f.name {
                f.binds.insert(n);
                if matches!(n, "__getattr__" | "__dir__") {
                    f.trigger = Some("it defines a module-level __getattr__ or __dir__");
                }
            }
        }
        StmtKind::Import => {
            import_binds(text, head, &mut f);
        }
        StmtKind::MainGuard | StmtKind::Future => return f,
        _ => {}
    }
    // Reads: every name outside function bodies (a def's header and decorators count).
    let mut body_of: Option<usize> = None;
    for line in &lines {
        if let Some(indent) = body_of {
            if line.indent > indent {
                continue;
            }
            body_of = None;
        }
        let lead = word(line, 0);
        if lead == Some("del") {
            f.trigger = Some("it deletes a module-level name with del");
        }
        let upto = line.header_end.unwrap_or(line.words.len());
        for w in &line.words[..upto] {
            if w.after_dot || KEYWORDS.contains(&w.text) {
                continue;
            }
            f.reads.insert(w.text);
            if w.walrus {
                f.binds.insert(w.text);
            }
            if f.trigger.is_none() {
                f.trigger = dynamic(w.text);
            }
        }
        if line.header_end.is_some() {
            // The body: the rest of this line, or the deeper lines that follow.
            body_of = Some(line.indent);
        }
        if f.kind == StmtKind::Compound {
            // Any name in it may be bound by it.
            for w in &line.words[..upto] {
                if !w.after_dot && !KEYWORDS.contains(&w.text) {
                    f.binds.insert(w.text);
                }
            }
        } else if f.kind == StmtKind::Simple && line.assigns > 0 {
            for w in &line.words {
                if w.assign_before < line.assigns && !w.after_dot && !KEYWORDS.contains(&w.text) {
                    f.binds.insert(w.text);
                }
            }
        }
    }
    f
}

/// Every name in `text` (function bodies too) outside comments, plain strings and attribute
/// positions: what calling a function or class the statement defines may read.
pub fn words(text: &str) -> HashSet<&str> {
    Scanner {
        text,
        b: text.as_bytes(),
        pos: 0,
    }
    .lines()
    .iter()
    .flat_map(|l| l.words.iter())
    .filter(|w| !w.after_dot && !KEYWORDS.contains(&w.text))
    .map(|w| w.text)
    .collect()
}

/// Whether a decorator line stands directly before a `class` line in `text` (at any depth): a
/// class decorator may register the class a class statement makes.
pub fn decorates_class(text: &str) -> bool {
    let mut decorator_at: Option<usize> = None;
    for line in text.lines() {
        let body = line.trim_start();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = line.len() - body.len();
        if body.starts_with('@') {
            decorator_at.get_or_insert(indent);
        } else if decorator_at == Some(indent) {
            if body.starts_with("class ") || body.starts_with("class\t") {
                return true;
            }
            decorator_at = None;
        } else if decorator_at.is_some_and(|d| indent <= d) {
            decorator_at = None;
        }
    }
    false
}

/// `if __name__ == "__main__":` (either quote, either order) with no `elif`/`else`.
fn main_guard(text: &str, lines: &[Line<'_>]) -> bool {
    let first = text.lines().next().unwrap_or("").trim_end();
    let cond = first
        .strip_prefix("if")
        .and_then(|r| r.trim().strip_suffix(':'))
        .map(str::trim);
    let is_guard = matches!(
        cond,
        Some(
            "__name__ == \"__main__\""
                | "__name__ == '__main__'"
                | "\"__main__\" == __name__"
                | "'__main__' == __name__"
        )
    );
    is_guard
        && lines.iter().skip(1).all(|l| {
            l.indent > 0 || !matches!(l.words.first().map(|w| w.text), Some("elif" | "else"))
        })
}

/// The names an import binds: `import a.b` binds `a`, `import a as b` and `from m import a as
/// b` bind `b`, `from m import a` binds `a`; `from m import *` is a trigger.
fn import_binds<'a>(text: &'a str, head: &Line<'a>, f: &mut Facts<'a>) {
    let words = &head.words;
    let from = words.first().map(|w| w.text) == Some("from");
    let start = if from {
        match words
            .iter()
            .position(|w| w.text == "import" && !w.after_dot)
        {
            Some(i) => i + 1,
            None => return,
        }
    } else {
        1
    };
    if from && text[head.start..].contains('*') && words.len() == start {
        f.trigger = Some("it has a star import (from ... import *)");
        return;
    }
    // Items are runs of names separated by commas; `as` renames. Dots tell `a.b` apart.
    let mut i = start;
    while i < words.len() {
        let w = words[i];
        if w.after_dot {
            i += 1;
            continue;
        }
        if words.get(i + 1).map(|n| n.text) == Some("as") {
            if let Some(alias) = words.get(i + 2) {
                f.binds.insert(alias.text);
            }
            i += 3;
            continue;
        }
        f.binds.insert(w.text);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(set: &HashSet<&str>) -> Vec<String> {
        let mut v: Vec<String> = set.iter().map(|s| (*s).to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn an_assignment_reads_its_right_side_and_binds_its_target() {
        let f = facts("BOSS_HP = BASE_HP * 5  # BASE_HP x5\n");
        assert_eq!(f.kind, StmtKind::Simple);
        assert_eq!(sorted(&f.binds), ["BOSS_HP"]);
        assert_eq!(sorted(&f.reads), ["BASE_HP", "BOSS_HP"]);
    }

    #[test]
    fn comparisons_and_keyword_arguments_are_not_assignments() {
        let f = facts("ok = make(hp=3) == LIMIT or LIMIT <= 4");
        assert_eq!(sorted(&f.binds), ["ok"]);
        let g = facts("check(a == b, hp=3)");
        assert!(g.binds.is_empty(), "{:?}", g.binds);
        let h = facts("TOTAL += BONUS");
        assert_eq!(sorted(&h.binds), ["TOTAL"]);
        let i = facts("X: Dict[str, int] = {}");
        assert!(i.binds.contains("X"));
    }

    #[test]
    fn a_function_body_is_not_read_but_its_decorators_and_defaults_are() {
        let text =
            "@register(KIND)\ndef fire(self, dmg=DAMAGE) -> Result:\n    return dmg * SCALE\n";
        let f = facts(text);
        assert_eq!(f.kind, StmtKind::Def);
        assert_eq!(f.name, Some("fire"));
        assert_eq!(f.def_offset, Some(text.find("def").unwrap()));
        assert!(f.reads.contains("KIND") && f.reads.contains("DAMAGE"));
        assert!(f.reads.contains("Result"));
        assert!(!f.reads.contains("SCALE"), "{:?}", f.reads);
        assert_eq!(sorted(&f.binds), ["fire"]);
        let one_line = facts("def f(x=A): return B\n");
        assert!(one_line.reads.contains("A") && !one_line.reads.contains("B"));
    }

    #[test]
    fn a_class_body_is_read_but_its_methods_bodies_are_not() {
        let text = "class Unit(Base, metaclass=Meta):\n    HP = BASE_HP\n    @staticmethod\n    def \
                    make(n=COUNT):\n        return SECRET\n    TAIL = LAST\n";
        let f = facts(text);
        assert_eq!(f.kind, StmtKind::Class);
        for n in ["Base", "Meta", "BASE_HP", "staticmethod", "COUNT", "LAST"] {
            assert!(f.reads.contains(n), "{n}: {:?}", f.reads);
        }
        assert!(!f.reads.contains("SECRET"));
        assert_eq!(sorted(&f.binds), ["Unit"]);
    }

    #[test]
    fn strings_hide_names_but_f_string_fields_do_not() {
        let f = facts("MSG = 'HIDDEN' + f\"{SHOWN!r:>{WIDTH}} {{LITERAL}}\" + '''A\nB'''\n");
        assert!(f.reads.contains("SHOWN") && f.reads.contains("WIDTH"));
        assert!(!f.reads.contains("HIDDEN") && !f.reads.contains("LITERAL"));
        let nested = facts("X = f\"{D[\"key\"]}\" + NEXT\n");
        assert!(nested.reads.contains("D") && nested.reads.contains("NEXT"));
    }

    #[test]
    fn attributes_are_not_reads() {
        let f = facts("ITEMS.append(other.VALUE)");
        assert_eq!(sorted(&f.reads), ["ITEMS", "other"]);
        assert!(f.binds.is_empty());
    }

    #[test]
    fn imports_bind_their_names() {
        assert_eq!(
            sorted(&facts("import os.path, sys as system").binds),
            ["os", "system"]
        );
        assert_eq!(
            sorted(&facts("from .units import (Unit as U,\n    Base)").binds),
            ["Base", "U"]
        );
        assert!(facts("from x import *").trigger.is_some());
        assert_eq!(
            facts("from __future__ import annotations").kind,
            StmtKind::Future
        );
    }

    #[test]
    fn compound_statements_may_bind_every_name_in_them() {
        let f = facts("try:\n    import numpy\nexcept ImportError:\n    numpy = None\n");
        assert_eq!(f.kind, StmtKind::Compound);
        assert!(f.binds.contains("numpy"));
        let g = facts("for k in KEYS:\n    TABLE[k] = 1\n");
        assert!(g.binds.contains("TABLE") && g.reads.contains("KEYS"));
    }

    #[test]
    fn what_the_analysis_cannot_follow_is_a_trigger() {
        assert!(facts("globals()['X'] = 1").trigger.is_some());
        assert!(facts("exec(CODE)").trigger.is_some());
        assert!(facts("del TEMP").trigger.is_some());
        assert!(
            facts("def __getattr__(name):\n    return 1\n")
                .trigger
                .is_some()
        );
        assert!(facts("if X:\n    del Y\n").trigger.is_some());
        // Inside a function body it runs only when called; its code is checked then.
        assert!(facts("def f():\n    return globals()\n").trigger.is_none());
        assert!(facts("x = obj.eval(1)").trigger.is_none());
    }

    #[test]
    fn a_main_guard_reads_nothing() {
        let f = facts("if __name__ == \"__main__\":\n    main()\n");
        assert_eq!(f.kind, StmtKind::MainGuard);
        assert!(f.reads.is_empty());
        let g = facts("if __name__ == '__main__':\n    main()\nelse:\n    X = 1\n");
        assert_eq!(g.kind, StmtKind::Compound);
    }

    #[test]
    fn class_decorators_are_seen_at_any_depth() {
        assert!(decorates_class("@register\nclass A:\n    pass\n"));
        assert!(decorates_class(
            "class A:\n    @dataclass(\n        frozen=True)\n    class B:\n        x: int\n"
        ));
        assert!(!decorates_class(
            "class A:\n    @property\n    def x(self):\n        return 1\n"
        ));
        assert!(!decorates_class(
            "@dec\ndef f():\n    class Local:\n        pass\n"
        ));
    }

    #[test]
    fn walrus_binds() {
        let f = facts("print(y := compute())");
        assert!(f.binds.contains("y"));
    }
}
