//! A module's top-level statements, found without parsing, and the match of an old module's
//! statements against a new one's (issue 14, the first building block of incremental reload).
//!
//! [`split`] reads the source once, byte by byte, knowing only what decides where a top-level
//! statement ends: strings of every kind (f-strings in Python 3.12's grammar, where a replacement
//! field may hold quotes, brackets, comments and newlines), brackets, backslash continuations,
//! comments, indentation, decorators and the clauses (`elif`, `else`, `except`, `finally`) that
//! continue a compound statement. It gives the same statements, with the same line ranges, as
//! `ast.parse(source).body` (a decorated `def` or `class` starts at its first decorator). What it
//! cannot split cleanly (an unterminated string, a bracket left open or closed twice, an indent
//! Python would reject) is a [`SplitError`]: the caller then reloads the whole module, which
//! reports the real `SyntaxError`.
//!
//! The decisions a caller needs to know:
//! - a statement's `text` runs from its first token to the end of its last token: comments and
//!   blank lines before it, after it, or after the last line of its block belong to no
//!   statement; comments inside it (between two lines of its block) are part of its text;
//! - simple statements separated by `;` on one line are separate statements, as in `ast`, with
//!   [`Statement::shares_line`] set: such a statement does not start at column 0, so it cannot be
//!   compiled on its own lines; a caller compiles the whole line or reloads the whole module. The
//!   `;` after a top-level simple statement is in no statement's text; inside a compound
//!   statement (`if x: a; b;`, or a block's last line) it is part of the text, and `ast` counts
//!   a trailing one in the compound statement's end too;
//! - the text keeps the source's own line ends and indentation, so the same statement with CRLF
//!   or LF line ends does not match; the same statement on other lines does;
//! - a byte-order mark is skipped; `\n`, `\r\n` and a lone `\r` all end a line, as in `CPython`;
//!   the form feed resets the indentation column and tabs count to the next multiple of 8 (with
//!   `CPython`'s check that tabs and spaces are not mixed inconsistently).
//!
//! [`matched`] pairs the statements of two versions by text, in order (a longest common
//! subsequence), so the caller learns which statements are unchanged, which are new or changed,
//! which are gone, and whether unchanged statements changed order.

use std::collections::VecDeque;

use foldhash::{HashMap, HashMapExt};

/// One top-level statement of a module, as `ast.parse(source).body` would give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statement<'a> {
    /// The source from the statement's first token (its first decorator for a decorated
    /// definition) to the end of its last token: `&source[start..end]`.
    pub text: &'a str,
    /// The line of the first token, 1-based (`lineno` in `ast`).
    pub first_line: usize,
    /// The line of the end of the last token, 1-based (`end_lineno` in `ast`).
    pub last_line: usize,
    /// Byte offset of the first token in the source.
    pub start: usize,
    /// Byte offset just past the last token.
    pub end: usize,
    /// Another statement is on one of this one's lines (`a = 1; b = 2`): this one may not start
    /// at column 0, so compiling its text alone on its lines is not the module's code.
    pub shares_line: bool,
}

/// Where a [`Statement`] is in its source, without the borrow: kept with a module's source so
/// that the next reload need not split it again ([`from_spans`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub first_line: usize,
    pub last_line: usize,
    pub shares_line: bool,
}

impl Statement<'_> {
    pub fn span(&self) -> Span {
        Span {
            start: self.start,
            end: self.end,
            first_line: self.first_line,
            last_line: self.last_line,
            shares_line: self.shares_line,
        }
    }
}

/// The statements of `source` from the spans an earlier [`split`] of the same text gave; `None`
/// if a span does not fit the text (another text).
pub fn from_spans<'a>(source: &'a str, spans: &[Span]) -> Option<Vec<Statement<'a>>> {
    spans
        .iter()
        .map(|s| {
            Some(Statement {
                text: source.get(s.start..s.end)?,
                first_line: s.first_line,
                last_line: s.last_line,
                start: s.start,
                end: s.end,
                shares_line: s.shares_line,
            })
        })
        .collect()
}

/// The statements of `new_text`, given those of `old_text` (`old`, from [`split`]): only the part
/// between the text the two have in common at the start and at the end is split again (a
/// one-line edit of a 50,000-line module splits a few lines). The statements around it are the
/// old ones, moved by the bytes and lines the edit added or removed. `None` when the edited
/// part does not split on its own (an edit that opens a bracket or string running into the
/// rest, a decorator left without its definition, a statement sharing a line at the edge): the
/// caller then splits the whole text.
pub fn resplit<'a>(
    old_text: &str,
    old: &[Statement<'_>],
    new_text: &'a str,
) -> Option<Vec<Statement<'a>>> {
    let (ob, nb) = (old_text.as_bytes(), new_text.as_bytes());
    let prefix = ob.iter().zip(nb).take_while(|(a, b)| a == b).count();
    let max_suffix = ob.len().min(nb.len()) - prefix;
    let suffix = ob
        .iter()
        .rev()
        .zip(nb.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    // The edited part starts at the last old statement starting at or before the first changed
    // byte (an indented line or a clause added after a statement extends it) and ends at the
    // first old statement that starts after it, in the common end. One unchanged statement more
    // on each side is split again with it, and must come out as it was: then the edit did not
    // change where the statements around it begin or end (a decorator added before one, a
    // clause or an indented line after one).
    let touched = old.partition_point(|s| s.start <= prefix).saturating_sub(1);
    let first = touched.saturating_sub(1);
    let tail_from = ob.len() - suffix;
    let after = old
        .iter()
        .skip(touched)
        .position(|s| s.start >= tail_from && s.start > prefix)
        .map_or(old.len(), |k| touched + k);
    let last = (after + 1).min(old.len());
    let start = old.get(first).map_or(0, |s| s.start);
    if old.get(first).is_some_and(|s| s.shares_line)
        || old.get(last).is_some_and(|s| s.shares_line)
        || (start > 0 && ob.get(start - 1) != Some(&b'\n'))
    {
        return None;
    }
    let delta = nb.len().cast_signed() - ob.len().cast_signed();
    let old_end = old.get(last).map_or(ob.len(), |s| s.start);
    let new_end = old_end.checked_add_signed(delta)?;
    if new_end < start || new_end > nb.len() {
        return None;
    }
    // The edited part must end where the common end begins: at a line start.
    if new_end < nb.len() && new_end > 0 && nb[new_end - 1] != b'\n' {
        return None;
    }
    let line_at = old.get(first).map_or(1, |s| s.first_line);
    let newlines = |b: &[u8]| memchr::memchr_iter(b'\n', b).count();
    let lines_delta =
        newlines(&nb[start..new_end]).cast_signed() - newlines(&ob[start..old_end]).cast_signed();
    let middle = split(new_text.get(start..new_end)?).ok()?;
    let same = |m: Option<&Statement<'_>>, o: &Statement<'_>, shift: isize| {
        m.is_some_and(|m| {
            m.text == o.text && o.start.checked_add_signed(shift) == Some(m.start + start)
        })
    };
    if first < touched && !same(middle.first(), &old[first], 0) {
        return None;
    }
    if after < old.len() && !same(middle.last(), &old[after], delta) {
        return None;
    }
    let mut out: Vec<Statement<'a>> = Vec::with_capacity(old.len() + middle.len());
    for s in &old[..first.min(old.len())] {
        out.push(Statement {
            text: new_text.get(s.start..s.end)?,
            first_line: s.first_line,
            last_line: s.last_line,
            start: s.start,
            end: s.end,
            shares_line: s.shares_line,
        });
    }
    for s in middle {
        out.push(Statement {
            text: new_text.get(s.start + start..s.end + start)?,
            first_line: s.first_line + line_at - 1,
            last_line: s.last_line + line_at - 1,
            start: s.start + start,
            end: s.end + start,
            shares_line: s.shares_line,
        });
    }
    for s in &old[last..] {
        let (from, to) = (
            s.start.checked_add_signed(delta)?,
            s.end.checked_add_signed(delta)?,
        );
        out.push(Statement {
            text: new_text.get(from..to)?,
            first_line: s.first_line.checked_add_signed(lines_delta)?,
            last_line: s.last_line.checked_add_signed(lines_delta)?,
            start: from,
            end: to,
            shares_line: s.shares_line,
        });
    }
    Some(out)
}

/// Why [`split`] gave up; the caller reloads the whole module instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct SplitError {
    /// The 1-based line where the problem was found (where an unterminated string or an
    /// unclosed bracket started).
    pub line: usize,
    pub kind: SplitErrorKind,
}

/// What [`split`] could not make sense of. Each of these is also a `SyntaxError` in `CPython`
/// (except [`SplitErrorKind::TooDeep`], a guard against pathological input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SplitErrorKind {
    #[error("unterminated string")]
    UnterminatedString,
    #[error("'{0}' was never closed")]
    UnclosedBracket(char),
    #[error("unmatched '{0}'")]
    UnmatchedBracket(char),
    #[error("closing '{close}' does not match '{open}'")]
    MismatchedBracket { open: char, close: char },
    #[error("unexpected indent")]
    UnexpectedIndent,
    #[error("expected an indented block")]
    ExpectedIndentedBlock,
    #[error("unindent does not match any outer indentation level")]
    BadDedent,
    #[error("inconsistent use of tabs and spaces in indentation")]
    InconsistentTabs,
    #[error("unexpected character after line continuation character")]
    StrayBackslash,
    #[error("unexpected end of file after a line continuation")]
    EofAfterBackslash,
    #[error("'{0}' without the statement it continues")]
    OrphanClause(&'static str),
    #[error("empty statement between semicolons")]
    EmptyStatement,
    #[error("f-strings nested too deeply")]
    TooDeep,
}

/// How deep f-strings may nest inside each other's replacement fields. `CPython` stops far
/// earlier; the bound only keeps hostile input from growing the frame stack without end.
const MAX_FSTRING_NESTING: usize = 200;

/// Splits `source` (a whole module) into its top-level statements, in order. An empty module,
/// or one of only comments, has none.
pub fn split(source: &str) -> Result<Vec<Statement<'_>>, SplitError> {
    Splitter::new(source).run()
}

/// The statement being read.
struct Open {
    start: usize,
    first_line: usize,
    end: usize,
    last_line: usize,
    /// Started with `if`, `while`, `for`, `try` or `async`: an `elif`/`else`/`except`/`finally`
    /// line at column 0 continues it.
    takes_clauses: bool,
    /// Only decorator lines so far: the next line at column 0 (the `def`/`class`) continues it.
    decorators_only: bool,
    shares_line: bool,
}

/// What the scanner is inside of, innermost last.
#[derive(Clone, Copy)]
enum Frame {
    /// `(`, `[` or `{` in code, opened on `line`.
    Bracket { open: u8, line: usize },
    /// The literal part of an f-string (or t-string) opened on `line`.
    FString {
        quote: u8,
        triple: bool,
        raw: bool,
        line: usize,
    },
    /// The expression of a replacement field `{...}`: code again.
    Field,
    /// The format spec after a field's `:`: literal text with nested fields.
    Spec,
}

/// The first token of a logical line, as far as statement boundaries care.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lead {
    Decorator,
    /// `elif`, `else`, `except`, `finally`.
    Clause(&'static str),
    /// `if`, `while`, `for`, `try`, `async`: compound statements that take clauses.
    CompoundWithClauses,
    /// `def`, `class`, `with`: compound statements without clauses.
    Compound,
    Simple,
}

#[allow(
    clippy::struct_excessive_bools,
    reason = "independent facts about the line being read, each set and read in one place"
)]
struct Splitter<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    /// The current line, 1-based.
    line: usize,
    frames: Vec<Frame>,
    fstrings: usize,
    /// Indentation levels of the open blocks: (column with tabs to multiples of 8, column with
    /// tabs as 1), `CPython`'s two measures for its tab-consistency check.
    indents: Vec<(usize, usize)>,
    /// The last logical line ended with `:`: the next must open an indented block.
    expect_indent: bool,
    out: Vec<Statement<'a>>,
    cur: Option<Open>,
    /// The last token of this logical line so far is a `:` outside brackets.
    last_colon: bool,
    /// This logical line began a new top-level simple statement: a `;` outside brackets ends
    /// the statement, and the next token starts another.
    line_simple: bool,
    /// A splitting `;` was read and no token has followed yet.
    after_semicolon: bool,
}

impl<'a> Splitter<'a> {
    fn new(src: &'a str) -> Self {
        Splitter {
            src,
            b: src.as_bytes(),
            pos: 0,
            line: 1,
            frames: Vec::new(),
            fstrings: 0,
            indents: vec![(0, 0)],
            expect_indent: false,
            out: Vec::new(),
            cur: None,
            last_colon: false,
            line_simple: false,
            after_semicolon: false,
        }
    }

    fn err(&self, kind: SplitErrorKind) -> SplitError {
        SplitError {
            line: self.line,
            kind,
        }
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.b.get(self.pos + ahead).copied()
    }

    fn run(mut self) -> Result<Vec<Statement<'a>>, SplitError> {
        if self.b.starts_with("\u{feff}".as_bytes()) {
            self.pos = 3;
        }
        // Each turn starts at the beginning of a physical line outside any bracket or string.
        while self.pos < self.b.len() {
            let (col, alt) = self.indentation();
            match self.peek(0) {
                None => break,
                Some(b'#') => {
                    self.skip_comment();
                    self.newline();
                }
                Some(b'\n' | b'\r') => self.newline(),
                Some(_) => {
                    self.begin_logical_line(col, alt)?;
                    self.scan_logical_line()?;
                }
            }
        }
        self.finish()
    }

    /// Reads the indentation of the line at `pos`, moving past it.
    fn indentation(&mut self) -> (usize, usize) {
        let (mut col, mut alt) = (0, 0);
        while let Some(c) = self.peek(0) {
            match c {
                b' ' => {
                    col += 1;
                    alt += 1;
                }
                b'\t' => {
                    col = (col / 8 + 1) * 8;
                    alt += 1;
                }
                b'\x0c' => {
                    col = 0;
                    alt = 0;
                }
                _ => break,
            }
            self.pos += 1;
        }
        (col, alt)
    }

    /// Moves to the end of the comment at `pos`, before its line end.
    fn skip_comment(&mut self) {
        let rest = &self.b[self.pos..];
        self.pos += rest
            .iter()
            .position(|&c| c == b'\n' || c == b'\r')
            .unwrap_or(rest.len());
    }

    /// Moves past the line end at `pos` (`\n`, `\r\n` or `\r`), if there is one.
    fn newline(&mut self) {
        match self.peek(0) {
            Some(b'\r') => {
                self.pos += if self.peek(1) == Some(b'\n') { 2 } else { 1 };
                self.line += 1;
            }
            Some(b'\n') => {
                self.pos += 1;
                self.line += 1;
            }
            _ => {}
        }
    }

    /// The kind of the first token at `pos`.
    fn lead(&self) -> Lead {
        if self.peek(0) == Some(b'@') {
            return Lead::Decorator;
        }
        let rest = &self.b[self.pos..];
        let word = &rest[..rest
            .iter()
            .position(|&c| !is_ident_byte(c))
            .unwrap_or(rest.len())];
        match word {
            b"elif" => Lead::Clause("elif"),
            b"else" => Lead::Clause("else"),
            b"except" => Lead::Clause("except"),
            b"finally" => Lead::Clause("finally"),
            b"if" | b"while" | b"for" | b"try" | b"async" => Lead::CompoundWithClauses,
            b"def" | b"class" | b"with" => Lead::Compound,
            _ => Lead::Simple,
        }
    }

    /// The indentation rules of `CPython`'s tokenizer, then the statement boundary: a line at
    /// column 0 starts a statement unless it is a clause of the current compound statement or
    /// the definition after its decorators.
    fn begin_logical_line(&mut self, col: usize, alt: usize) -> Result<(), SplitError> {
        // The tokenizer's rules first (so a tab error wins, as in CPython), then the parser's.
        let (top, top_alt) = self.indents.last().copied().unwrap_or((0, 0));
        let indented = col > top;
        if col == top {
            if alt != top_alt {
                return Err(self.err(SplitErrorKind::InconsistentTabs));
            }
        } else if indented {
            if alt <= top_alt {
                return Err(self.err(SplitErrorKind::InconsistentTabs));
            }
            self.indents.push((col, alt));
        } else {
            while self.indents.len() > 1 && self.indents.last().is_some_and(|&(c, _)| col < c) {
                self.indents.pop();
            }
            let (top, top_alt) = self.indents.last().copied().unwrap_or((0, 0));
            if col != top {
                return Err(self.err(SplitErrorKind::BadDedent));
            }
            if alt != top_alt {
                return Err(self.err(SplitErrorKind::InconsistentTabs));
            }
        }
        if self.expect_indent && !indented {
            return Err(self.err(SplitErrorKind::ExpectedIndentedBlock));
        }
        if indented && !self.expect_indent {
            return Err(self.err(SplitErrorKind::UnexpectedIndent));
        }
        self.expect_indent = false;
        self.last_colon = false;
        self.line_simple = false;
        self.after_semicolon = false;
        if self.indents.len() > 1 {
            return Ok(()); // a line of the current statement's block
        }
        let lead = self.lead();
        match (lead, self.cur.as_mut()) {
            (Lead::Clause(word), cur) => match cur {
                Some(cur) if cur.takes_clauses => {}
                _ => return Err(self.err(SplitErrorKind::OrphanClause(word))),
            },
            (_, Some(cur)) if cur.decorators_only => {
                cur.decorators_only = lead == Lead::Decorator;
            }
            _ => {
                self.close();
                self.open(false);
                if let Some(cur) = self.cur.as_mut() {
                    cur.takes_clauses = lead == Lead::CompoundWithClauses;
                    cur.decorators_only = lead == Lead::Decorator;
                }
                self.line_simple = lead == Lead::Simple;
            }
        }
        Ok(())
    }

    /// Starts a statement at `pos`.
    fn open(&mut self, shares_line: bool) {
        self.cur = Some(Open {
            start: self.pos,
            first_line: self.line,
            end: self.pos,
            last_line: self.line,
            takes_clauses: false,
            decorators_only: false,
            shares_line,
        });
    }

    /// Ends the current statement, if any, at its last token.
    fn close(&mut self) {
        if let Some(cur) = self.cur.take() {
            self.out.push(Statement {
                text: self.src.get(cur.start..cur.end).unwrap_or_default(),
                first_line: cur.first_line,
                last_line: cur.last_line,
                start: cur.start,
                end: cur.end,
                shares_line: cur.shares_line,
            });
        }
    }

    /// A token starts at `pos`: after a splitting `;` it starts the next statement.
    fn token_start(&mut self) {
        if self.after_semicolon {
            self.after_semicolon = false;
            if let Some(cur) = self.cur.as_mut() {
                cur.shares_line = true;
            }
            self.close();
            self.open(true);
        }
    }

    /// A token ended at `pos`: the current statement reaches at least here.
    fn token_end(&mut self) {
        self.last_colon = false;
        if let Some(cur) = self.cur.as_mut() {
            cur.end = self.pos;
            cur.last_line = self.line;
        }
    }

    /// Reads tokens up to the end of the logical line (its line end outside brackets and
    /// strings, consumed) or the end of the source.
    fn scan_logical_line(&mut self) -> Result<(), SplitError> {
        loop {
            if matches!(
                self.frames.last(),
                Some(Frame::FString { .. } | Frame::Spec)
            ) {
                self.scan_fstring_literal()?;
                continue;
            }
            let Some(c) = self.peek(0) else {
                return Ok(());
            };
            match c {
                b' ' | b'\t' | b'\x0c' => self.pos += 1,
                b'\n' | b'\r' => {
                    self.newline();
                    if self.frames.is_empty() {
                        self.expect_indent = self.last_colon;
                        self.after_semicolon = false;
                        return Ok(());
                    }
                }
                b'#' => self.skip_comment(),
                b'\\' => {
                    self.pos += 1;
                    match self.peek(0) {
                        Some(b'\n' | b'\r') => self.newline(),
                        Some(_) => return Err(self.err(SplitErrorKind::StrayBackslash)),
                        None => return Err(self.err(SplitErrorKind::EofAfterBackslash)),
                    }
                }
                b'"' | b'\'' => {
                    self.token_start();
                    self.plain_string()?;
                    self.token_end();
                }
                b'0'..=b'9' => {
                    self.token_start();
                    self.number();
                    self.token_end();
                }
                b'.' if self.peek(1).is_some_and(|d| d.is_ascii_digit()) => {
                    self.token_start();
                    self.number();
                    self.token_end();
                }
                c if is_ident_byte(c) => {
                    self.token_start();
                    self.word()?;
                    self.token_end();
                }
                b'(' | b'[' | b'{' => {
                    self.token_start();
                    self.frames.push(Frame::Bracket {
                        open: c,
                        line: self.line,
                    });
                    self.pos += 1;
                    self.token_end();
                }
                b')' | b']' | b'}' => {
                    self.token_start();
                    self.close_bracket(c)?;
                    self.token_end();
                }
                b':' => {
                    self.token_start();
                    self.pos += 1;
                    self.token_end();
                    match self.frames.last_mut() {
                        Some(top @ Frame::Field) => *top = Frame::Spec,
                        None => self.last_colon = true,
                        _ => {}
                    }
                }
                // Between top-level simple statements a `;` belongs to neither (as in `ast`);
                // inside a compound statement it is a token of its block, and a trailing one
                // ends the statement (`if x: a;` ends after the `;` in `ast` too).
                b';' if self.frames.is_empty() && self.line_simple => {
                    if self.after_semicolon {
                        return Err(self.err(SplitErrorKind::EmptyStatement));
                    }
                    self.after_semicolon = true;
                    self.pos += 1;
                    self.last_colon = false;
                }
                _ => {
                    self.token_start();
                    self.pos += 1;
                    self.token_end();
                }
            }
        }
    }

    fn close_bracket(&mut self, close: u8) -> Result<(), SplitError> {
        match self.frames.last().copied() {
            Some(Frame::Bracket { open, .. }) => {
                if closer(open) != close {
                    return Err(self.err(SplitErrorKind::MismatchedBracket {
                        open: char::from(open),
                        close: char::from(close),
                    }));
                }
                self.frames.pop();
            }
            Some(Frame::Field) if close == b'}' => {
                self.frames.pop(); // back in the f-string's literal part
            }
            Some(Frame::Field) => {
                return Err(self.err(SplitErrorKind::MismatchedBracket {
                    open: '{',
                    close: char::from(close),
                }));
            }
            _ => return Err(self.err(SplitErrorKind::UnmatchedBracket(char::from(close)))),
        }
        self.pos += 1;
        Ok(())
    }

    /// A number: its digits, letters, `_` and `.` (exponent signs read as operators, which is
    /// all the same here).
    fn number(&mut self) {
        while self
            .peek(0)
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
        {
            self.pos += 1;
        }
    }

    /// A name, or the prefix of a string literal when a quote follows and the name is one.
    fn word(&mut self) -> Result<(), SplitError> {
        let start = self.pos;
        while self.peek(0).is_some_and(is_ident_byte) {
            self.pos += 1;
        }
        if !matches!(self.peek(0), Some(b'"' | b'\'')) {
            return Ok(());
        }
        match string_prefix(&self.b[start..self.pos]) {
            Some(Prefix {
                formatted: false, ..
            }) => self.plain_string(),
            Some(Prefix {
                raw,
                formatted: true,
            }) => self.open_fstring(raw),
            None => Ok(()), // `else"x"`: the quote is read next, as a string of its own
        }
    }

    /// Reads a string literal without replacement fields, its opening quote at `pos`. A
    /// backslash keeps the next character from ending the string even in a raw string, as in
    /// `CPython`.
    fn plain_string(&mut self) -> Result<(), SplitError> {
        let start_line = self.line;
        let Some(quote) = self.peek(0) else {
            return Ok(());
        };
        let triple = self.peek(1) == Some(quote) && self.peek(2) == Some(quote);
        self.pos += if triple { 3 } else { 1 };
        let unterminated = SplitError {
            line: start_line,
            kind: SplitErrorKind::UnterminatedString,
        };
        loop {
            let Some(c) = self.peek(0) else {
                return Err(unterminated);
            };
            match c {
                b'\\' => {
                    self.pos += 1;
                    match self.peek(0) {
                        Some(b'\n' | b'\r') => self.newline(),
                        Some(_) => self.pos += 1,
                        None => return Err(unterminated),
                    }
                }
                b'\n' | b'\r' => {
                    if !triple {
                        return Err(unterminated);
                    }
                    self.newline();
                }
                c if c == quote => {
                    if !triple {
                        self.pos += 1;
                        return Ok(());
                    }
                    if self.peek(1) == Some(quote) && self.peek(2) == Some(quote) {
                        self.pos += 3;
                        return Ok(());
                    }
                    self.pos += 1;
                }
                _ => self.pos += 1,
            }
        }
    }

    /// Enters an f-string (or t-string) whose opening quote is at `pos`; [`Self::scan_logical_line`]
    /// reads on in its literal part.
    fn open_fstring(&mut self, raw: bool) -> Result<(), SplitError> {
        let Some(quote) = self.peek(0) else {
            return Ok(());
        };
        if self.fstrings >= MAX_FSTRING_NESTING {
            return Err(self.err(SplitErrorKind::TooDeep));
        }
        let triple = self.peek(1) == Some(quote) && self.peek(2) == Some(quote);
        self.frames.push(Frame::FString {
            quote,
            triple,
            raw,
            line: self.line,
        });
        self.fstrings += 1;
        self.pos += if triple { 3 } else { 1 };
        Ok(())
    }

    /// Reads the literal part of an f-string or of a format spec, at `pos`, until it opens a
    /// replacement field (pushing [`Frame::Field`]), closes the format spec, or closes the
    /// f-string.
    fn scan_fstring_literal(&mut self) -> Result<(), SplitError> {
        let in_spec = matches!(self.frames.last(), Some(Frame::Spec));
        let Some(&Frame::FString {
            quote,
            triple,
            raw,
            line,
        }) = self
            .frames
            .iter()
            .rev()
            .find(|f| matches!(f, Frame::FString { .. }))
        else {
            return Ok(());
        };
        let unterminated = SplitError {
            line,
            kind: SplitErrorKind::UnterminatedString,
        };
        loop {
            let Some(c) = self.peek(0) else {
                return Err(unterminated);
            };
            match c {
                b'\\' => {
                    self.pos += 1;
                    match self.peek(0) {
                        Some(b'\n' | b'\r') => self.newline(),
                        // `\N{NAME}`: the braces belong to the escape, not to a field.
                        Some(b'N') if !raw && !in_spec && self.peek(1) == Some(b'{') => {
                            let rest = &self.b[self.pos..];
                            match rest
                                .iter()
                                .position(|&c| matches!(c, b'}' | b'\n' | b'\r') || c == quote)
                            {
                                Some(i) if rest[i] == b'}' => self.pos += i + 1,
                                _ => self.pos += 1,
                            }
                        }
                        // A backslash does not keep a brace from opening or closing a field.
                        Some(b'{' | b'}') => {}
                        Some(_) => self.pos += 1,
                        None => return Err(unterminated),
                    }
                }
                b'\n' | b'\r' => {
                    if !triple {
                        return Err(unterminated);
                    }
                    self.newline();
                }
                b'{' => {
                    if !in_spec && self.peek(1) == Some(b'{') {
                        self.pos += 2;
                    } else {
                        self.pos += 1;
                        self.frames.push(Frame::Field);
                        return Ok(());
                    }
                }
                b'}' => {
                    if in_spec {
                        self.pos += 1;
                        self.frames.pop(); // the spec, and with it the field
                        return Ok(());
                    }
                    // `}}` is a literal brace; a lone `}` is CPython's error, not a boundary.
                    self.pos += if self.peek(1) == Some(b'}') { 2 } else { 1 };
                }
                c if c == quote => {
                    let closes =
                        !triple || (self.peek(1) == Some(quote) && self.peek(2) == Some(quote));
                    if !closes {
                        self.pos += 1;
                        continue;
                    }
                    if in_spec {
                        // `f"{x:>10"`: the field was never closed.
                        return Err(SplitError {
                            line: self.line,
                            kind: SplitErrorKind::UnclosedBracket('{'),
                        });
                    }
                    self.pos += if triple { 3 } else { 1 };
                    self.frames.pop();
                    self.fstrings -= 1;
                    self.token_end();
                    return Ok(());
                }
                _ => self.pos += 1,
            }
        }
    }

    /// The end of the source: whatever is still open is an error, else the last statement
    /// ends.
    fn finish(mut self) -> Result<Vec<Statement<'a>>, SplitError> {
        if let Some(frame) = self.frames.last() {
            let (line, kind) = if let Frame::Bracket { open, line } = *frame {
                (line, SplitErrorKind::UnclosedBracket(char::from(open)))
            } else {
                let line = self
                    .frames
                    .iter()
                    .rev()
                    .find_map(|f| match f {
                        Frame::FString { line, .. } => Some(*line),
                        _ => None,
                    })
                    .unwrap_or(self.line);
                (line, SplitErrorKind::UnterminatedString)
            };
            return Err(SplitError { line, kind });
        }
        if self.expect_indent || self.last_colon {
            return Err(self.err(SplitErrorKind::ExpectedIndentedBlock));
        }
        self.close();
        Ok(self.out)
    }
}

/// A byte of a name: ASCII letters, digits, `_`, and any byte of a non-ASCII character (`CPython`
/// accepts only some; the others are its error, not a boundary).
fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

fn closer(open: u8) -> u8 {
    match open {
        b'(' => b')',
        b'[' => b']',
        _ => b'}',
    }
}

struct Prefix {
    raw: bool,
    /// `f` or `t`: the string has replacement fields.
    formatted: bool,
}

/// The string prefix `word` spells, if any: `r`, `u`, `b`, `f`, `t` and the two-letter
/// combinations Python accepts (`rb`, `br`, `fr`, `rf`, `tr`, `rt`), in either case.
fn string_prefix(word: &[u8]) -> Option<Prefix> {
    if word.is_empty() || word.len() > 2 {
        return None;
    }
    let (mut raw, mut bytes, mut formatted, mut unicode) = (false, false, false, false);
    for &c in word {
        let flag = match c.to_ascii_lowercase() {
            b'r' => &mut raw,
            b'b' => &mut bytes,
            b'f' | b't' => &mut formatted,
            b'u' => &mut unicode,
            _ => return None,
        };
        if *flag {
            return None;
        }
        *flag = true;
    }
    if (unicode && word.len() > 1) || (bytes && formatted) {
        return None;
    }
    Some(Prefix { raw, formatted })
}

/// How one statement of the new version relates to the old version ([`matched`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// `new` has the text of `old`, and all `Unchanged` pairs keep their relative order.
    Unchanged { old: usize, new: usize },
    /// `new` has the text of `old`, but out of the order of the `Unchanged` ones: a statement
    /// moved, so statements ran in a different order.
    Moved { old: usize, new: usize },
    /// No old statement has `new`'s text: a changed or added statement.
    New { new: usize },
    /// No new statement has `old`'s text: a changed or removed statement.
    Removed { old: usize },
}

/// Above this many candidate pairs of equal texts, [`matched`] pairs the k-th occurrence of a
/// text in the old version with its k-th occurrence in the new one instead of trying all
/// pairs (only a module with thousands of copies of one statement gets there).
const MAX_PAIRS: usize = 1 << 20;

/// No previous node in [`matched`]'s chains.
const NONE: usize = usize::MAX;

/// Pairs `new`'s statements with `old`'s by text: the longest sequence of equal texts in the
/// same order are [`Match::Unchanged`]; other equal texts are [`Match::Moved`]; the rest are
/// [`Match::New`] and [`Match::Removed`]. The result has one entry per new statement, in the
/// new order, then one [`Match::Removed`] per unpaired old statement, in the old order. Indices
/// are into `old` and `new`.
pub fn matched(old: &[Statement], new: &[Statement]) -> Vec<Match> {
    // Common head and tail first: the usual edit touches a few statements in the middle.
    let head = old
        .iter()
        .zip(new)
        .take_while(|(a, b)| a.text == b.text)
        .count();
    let tail = old[head..]
        .iter()
        .rev()
        .zip(new[head..].iter().rev())
        .take_while(|(a, b)| a.text == b.text)
        .count();
    let (old_mid, new_mid) = (head..old.len() - tail, head..new.len() - tail);

    // Where each text occurs in the old middle, in order.
    let mut occurrences: HashMap<&str, Vec<usize>> = HashMap::new();
    for i in old_mid.clone() {
        occurrences.entry(old[i].text).or_default().push(i);
    }
    let pairs: usize = new_mid
        .clone()
        .map(|j| occurrences.get(new[j].text).map_or(0, Vec::len))
        .sum();
    // Per new statement, the old ones it may pair with: all with its text, or (past
    // `MAX_PAIRS`) the one at the same rank among the occurrences of its text.
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut candidates = |j: usize| -> &[usize] {
        let Some(list) = occurrences.get(new[j].text) else {
            return &[];
        };
        if pairs <= MAX_PAIRS {
            return list;
        }
        let k = seen.entry(new[j].text).or_insert(0);
        let pick = list.get(*k..=*k).unwrap_or_default();
        *k += 1;
        pick
    };

    // Hunt-Szymanski: the longest chain of pairs increasing in both versions.
    let mut nodes: Vec<(usize, usize, usize)> = Vec::new(); // (old, new, previous node)
    let mut tails: Vec<usize> = Vec::new(); // per chain length, the node ending it lowest
    for j in new_mid.clone() {
        for &i in candidates(j).iter().rev() {
            let k = tails.partition_point(|&n| nodes[n].0 < i);
            let prev = if k > 0 { tails[k - 1] } else { NONE };
            nodes.push((i, j, prev));
            if k == tails.len() {
                tails.push(nodes.len() - 1);
            } else {
                tails[k] = nodes.len() - 1;
            }
        }
    }
    let mut old_to_new: Vec<Option<usize>> = vec![None; old.len()];
    let mut new_to_old: Vec<Option<usize>> = vec![None; new.len()];
    for k in 0..head {
        old_to_new[k] = Some(k);
        new_to_old[k] = Some(k);
    }
    for k in 0..tail {
        let (i, j) = (old.len() - 1 - k, new.len() - 1 - k);
        old_to_new[i] = Some(j);
        new_to_old[j] = Some(i);
    }
    let mut node = tails.last().copied().unwrap_or(NONE);
    while let Some(&(i, j, prev)) = nodes.get(node) {
        old_to_new[i] = Some(j);
        new_to_old[j] = Some(i);
        node = prev;
    }

    // Equal texts left out of the chain moved: pair them in order.
    let mut left: HashMap<&str, VecDeque<usize>> = HashMap::new();
    for i in old_mid {
        if old_to_new[i].is_none() {
            left.entry(old[i].text).or_default().push_back(i);
        }
    }
    let mut moved: Vec<Option<usize>> = vec![None; new.len()];
    for j in new_mid {
        if new_to_old[j].is_none()
            && let Some(i) = left.get_mut(new[j].text).and_then(VecDeque::pop_front)
        {
            moved[j] = Some(i);
            old_to_new[i] = Some(j);
        }
    }

    let mut out: Vec<Match> = (0..new.len())
        .map(|j| match (new_to_old[j], moved[j]) {
            (Some(old), _) => Match::Unchanged { old, new: j },
            (None, Some(old)) => Match::Moved { old, new: j },
            (None, None) => Match::New { new: j },
        })
        .collect();
    out.extend(
        (0..old.len())
            .filter(|&i| old_to_new[i].is_none())
            .map(|old| Match::Removed { old }),
    );
    out
}

/// Whether any statement moved ([`Match::Moved`]): the module's statements would run in a new
/// order, which an incremental reload does not follow.
pub fn reordered(matches: &[Match]) -> bool {
    matches.iter().any(|m| matches!(m, Match::Moved { .. }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resplit_of_a_removed_line_moves_the_statements_after_it() {
        let old_text = "\"\"\"doc\"\"\"\nREVISION = 832\nDAMAGE = 64\n\n\ndef make_counter():\n    count = 0\n    step = 4\n\n    def bump():\n        nonlocal count\n        count += 1\n        return count * step\n\n    return bump\n\n\nbump = make_counter()\n\n\ndef shifter():\n    return 832\n";
        let new_text = "\"\"\"doc\"\"\"\nREVISION = 833\nDAMAGE = 64\n\n\ndef make_counter():\n    count = 0\n\n    def bump():\n        nonlocal count\n        count += 1\n        return count * 4\n\n    return bump\n\n\nbump = make_counter()\n\n\ndef shifter():\n    return 833\n";
        let old = split(old_text).expect("splits");
        let want = split(new_text).expect("splits");
        assert_eq!(resplit(old_text, &old, new_text), Some(want));
    }

    #[test]
    fn resplit_after_random_line_edits_gives_what_split_gives() {
        let base = "\"\"\"doc\"\"\"\nimport os\n\nA = 1\nB = [\n    1,\n    2,\n]\n\n@dec\n@dec2(3)\ndef f(x):\n    '''body\n    text'''\n    return x\n\nif A:\n    C = 2\nelif B:\n    C = 4\nelse:\n    C = 3\n\ntry:\n    import z\nexcept ImportError:\n    z = None\n\nclass K:\n    X = (1,\n         2)\n    def m(self):\n        return f\"{A}\"\n\nZ = 9  # end\n";
        let pool = [
            "",
            "Q = 1",
            "    Q = 2",
            "else:",
            "@dec",
            "def g():",
            "    pass",
            "# c",
            "(",
            ")",
            "x = \"\"\"",
            "\"\"\"",
            "class Q:",
            "elif A:",
            "    return 1",
            "Y = 2; W = 3",
        ];
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % (n as u64)).unwrap_or(0)
        };
        let (mut ok, mut local) = (0, 0);
        for _ in 0..3000 {
            let mut lines: Vec<String> = base.lines().map(str::to_string).collect();
            for _ in 0..=next(3) {
                let at = next(lines.len() + 1);
                match next(3) {
                    0 if at < lines.len() => {
                        lines.remove(at);
                    }
                    1 if at < lines.len() => lines[at].push_str(pool[next(pool.len())]),
                    _ => lines.insert(at, pool[next(pool.len())].to_string()),
                }
            }
            let new_text = lines.join("\n") + "\n";
            let Ok(want) = split(&new_text) else { continue };
            let old = split(base).expect("base splits");
            ok += 1;
            if let Some(got) = resplit(base, &old, &new_text) {
                local += 1;
                assert_eq!(got, want, "{new_text}");
            }
        }
        assert!(ok > 500 && local * 2 > ok, "{local} of {ok} split locally");
    }

    #[test]
    fn resplit_gives_what_split_gives() {
        let base = "import os\n\nA = 1\n\n@dec\ndef f(x):\n    return x\n\nif A:\n    B = 2\nelse:\n    B = 3\n\nclass C:\n    X = (1,\n         2)\n\nZ = 9\n";
        let edits: &[(&str, &str)] = &[
            ("A = 1", "A = 12"),
            ("A = 1\n", "A = 1\nA2 = 5\nA3 = 6\n"),
            ("    return x\n", "    return x\n    # more\n    y = 1\n"),
            ("@dec\n", ""),
            ("def f(x):", "@other\ndef f(x):"),
            ("else:\n    B = 3\n", ""),
            ("    B = 2\n", "    B = 2\n    B2 = 4\n"),
            ("Z = 9\n", ""),
            ("import os\n", "import os, sys\n\n\n"),
            ("         2)", "         2, 3)"),
            ("class C:", "class C(object):"),
            ("Z = 9", "Z = (9"),
            ("A = 1", "A = \"\"\"1"),
            ("A = 1", "A = 1; AA = 2"),
            ("\nZ = 9\n", "\n"),
            ("A = 1\n", "A = 1\n    A2 = 2\n"),
            ("Z = 9\n", "Z = 9\nelse_ = 1\n"),
        ];
        let old = split(base).expect("base splits");
        for (from, to) in edits {
            let new_text = base.replacen(from, to, 1);
            match (resplit(base, &old, &new_text), split(&new_text)) {
                (Some(got), Ok(want)) => assert_eq!(got, want, "edit {from:?} -> {to:?}"),
                (Some(got), Err(e)) => panic!("resplit {got:?} where split fails ({e}): {to:?}"),
                (None, _) => {} // the caller splits the whole text
            }
        }
        // A one-line edit in the middle is split again locally, not given up.
        let new_text = base.replacen("A = 1", "A = 12", 1);
        assert!(resplit(base, &old, &new_text).is_some());
    }

    /// (`first_line`, `last_line`, `text`) of each statement.
    fn spans(source: &str) -> Vec<(usize, usize, &str)> {
        split(source)
            .unwrap_or_else(|e| panic!("split failed: {e}\n{source}"))
            .iter()
            .map(|s| (s.first_line, s.last_line, s.text))
            .collect()
    }

    fn error(source: &str) -> SplitError {
        match split(source) {
            Ok(s) => panic!("expected an error, got {s:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn simple_statements_and_blank_lines() {
        assert_eq!(
            spans("import os\n\nx = 1\n# a comment\n\ny = x + 1\n"),
            [(1, 1, "import os"), (3, 3, "x = 1"), (6, 6, "y = x + 1")]
        );
        assert!(spans("").is_empty());
        assert!(spans("# only\n\n   # comments\n").is_empty());
    }

    #[test]
    fn compound_statement_with_its_block_and_clauses() {
        let src = "if a:\n    x = 1\n\n    # inside\n    y = 2\nelif b:\n    pass\nelse:\n    z = 3\n    # trailing\n# after\nw = 4\n";
        assert_eq!(
            spans(src),
            [
                (
                    1,
                    9,
                    "if a:\n    x = 1\n\n    # inside\n    y = 2\nelif b:\n    pass\nelse:\n    z = 3"
                ),
                (12, 12, "w = 4")
            ]
        );
        let src = "try:\n    f()\nexcept* E:\n    pass\nexcept F:\n    pass\nelse:\n    g()\nfinally:\n    h()\nfor i in x:\n    pass\nelse:\n    k()\nwhile 1:\n    break\nelse:\n    m()\n";
        let got = spans(src);
        assert_eq!(
            got.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>(),
            [(1, 10), (11, 14), (15, 18)]
        );
        // Nested blocks, and a simple suite on the header line.
        assert_eq!(
            spans("def f():\n    if x:\n        return 1\n    return 2\nclass A: pass\nx = 1\n")
                .iter()
                .map(|s| (s.0, s.1))
                .collect::<Vec<_>>(),
            [(1, 4), (5, 5), (6, 6)]
        );
        assert_eq!(
            spans("if x: a; b\nelse: c;\ndef f():\n    x;  # c\n"),
            [(1, 2, "if x: a; b\nelse: c;"), (3, 4, "def f():\n    x;")]
        );
    }

    #[test]
    fn match_statement_with_cases() {
        let src =
            "match p:\n    case [x, y]:\n        pass\n    case _:\n        pass\nmatch = 1\n";
        assert_eq!(
            spans(src).iter().map(|s| (s.0, s.1)).collect::<Vec<_>>(),
            [(1, 5), (6, 6)]
        );
    }

    #[test]
    fn decorators_start_the_statement() {
        let src = "@a\n\n# c\n@b(\n  1)\nasync def f(): pass\n@dataclass\nclass C:\n    x: int\n";
        assert_eq!(
            spans(src),
            [
                (1, 6, "@a\n\n# c\n@b(\n  1)\nasync def f(): pass"),
                (7, 9, "@dataclass\nclass C:\n    x: int")
            ]
        );
    }

    #[test]
    fn semicolons_split_simple_statements() {
        let got = split("a = 1; b = 2;  # c\nc = 3;\nif x: d; e;\n").unwrap_or_default();
        let texts: Vec<_> = got.iter().map(|s| (s.text, s.shares_line)).collect();
        assert_eq!(
            texts,
            [
                ("a = 1", true),
                ("b = 2", true),
                ("c = 3", false),
                ("if x: d; e;", false)
            ]
        );
        assert_eq!(got[1].start, 7);
        assert_eq!(
            error("a = 1;; b = 2\n").kind,
            SplitErrorKind::EmptyStatement
        );
    }

    #[test]
    fn continuation_lines() {
        assert_eq!(
            spans("x = 1 + \\\n    2\ny = (1,\n  2,\n\n)  # c\nz = [\n]\n"),
            [
                (1, 2, "x = 1 + \\\n    2"),
                (3, 6, "y = (1,\n  2,\n\n)"),
                (7, 8, "z = [\n]")
            ]
        );
        // A backslash before an empty line ends nothing but the join, as in CPython.
        assert_eq!(
            spans("x = 1 \\\n\ny = 2\n"),
            [(1, 1, "x = 1"), (3, 3, "y = 2")]
        );
        assert_eq!(error("x = 1 \\ y\n").kind, SplitErrorKind::StrayBackslash);
        assert_eq!(error("x = 1 \\").kind, SplitErrorKind::EofAfterBackslash);
    }

    #[test]
    fn strings_of_every_kind() {
        let src = concat!(
            "a = 'x # (' + \"y ) \\\" z\"\n",
            "b = '''one\n# not a comment\n)'''\n",
            "c = r'\\'' + rb\"\\\\\" + Br'(' + U'['\n",
            "d = b\"\"\"\n\"\"\"\n",
            "e = \"\"\n",
            "f = 'a\\\nb'\n",
            "g = x if y else\"(\"\n",
        );
        assert_eq!(
            spans(src).iter().map(|s| (s.0, s.1)).collect::<Vec<_>>(),
            [(1, 1), (2, 4), (5, 5), (6, 7), (8, 8), (9, 10), (11, 11)]
        );
    }

    #[test]
    fn f_strings_in_the_3_12_grammar() {
        let src = concat!(
            "a = f\"{x[\"k\"]}\"\n",
            "b = f'{x!r:>{width}} {{literal}} {y:%H:%M} {z:#x}'\n",
            "c = f\"{f'{1 + (2)}'}\" + rf'\\{x}' + F\"\\N{DASH}(\"\n",
            "d = f'''{\n  x # comment\n}'''\n",
            "e = f\"{ {'a': 1}['a'] } {(lambda q: q)(1)} {x=}\"\n",
            "g = f'{1 +\n 2}'\n",
            "h = t\"{x}\"\n",
        );
        assert_eq!(
            spans(src).iter().map(|s| (s.0, s.1)).collect::<Vec<_>>(),
            [(1, 1), (2, 2), (3, 3), (4, 6), (7, 7), (8, 9), (10, 10)]
        );
        assert_eq!(
            error("x = f'{x:>10'\n").kind,
            SplitErrorKind::UnclosedBracket('{')
        );
        assert_eq!(error("x = f'{x\n").kind, SplitErrorKind::UnterminatedString);
    }

    #[test]
    fn coding_line_crlf_tabs_bom_and_no_trailing_newline() {
        assert_eq!(
            spans(
                "# -*- coding: latin-1 -*-\r\nx = 1\r\nif x:\r\n\ty = 2\r\n\tz = (1,\r\n3)\r\nw = 3"
            ),
            [
                (2, 2, "x = 1"),
                (3, 6, "if x:\r\n\ty = 2\r\n\tz = (1,\r\n3)"),
                (7, 7, "w = 3")
            ]
        );
        assert_eq!(
            spans("a = 1\rb = '''\r'''\r"),
            [(1, 1, "a = 1"), (2, 3, "b = '''\r'''")]
        );
        let bom = split("\u{feff}x = 1\n").unwrap_or_default();
        assert_eq!((bom[0].text, bom[0].start), ("x = 1", 3));
        assert_eq!(
            spans("if x:\n\x0c  a\n  b\nc = 1"),
            [(1, 3, "if x:\n\x0c  a\n  b"), (4, 4, "c = 1")]
        );
    }

    #[test]
    fn errors_carry_their_line() {
        let e = error("x = 1\ny = 'abc\n");
        assert_eq!((e.line, e.kind), (2, SplitErrorKind::UnterminatedString));
        let e = error("x = 1\ny = '''abc\n\n");
        assert_eq!((e.line, e.kind), (2, SplitErrorKind::UnterminatedString));
        let e = error("x = (1,\n2\n");
        assert_eq!((e.line, e.kind), (1, SplitErrorKind::UnclosedBracket('(')));
        let e = error("x = 1)\n");
        assert_eq!((e.line, e.kind), (1, SplitErrorKind::UnmatchedBracket(')')));
        let e = error("x = (1]\n");
        assert_eq!(
            e.kind,
            SplitErrorKind::MismatchedBracket {
                open: '(',
                close: ']'
            }
        );
        let e = error("if x:\n        a\n    b\n");
        assert_eq!((e.line, e.kind), (3, SplitErrorKind::BadDedent));
        let e = error("x = 1\n  y = 2\n");
        assert_eq!((e.line, e.kind), (2, SplitErrorKind::UnexpectedIndent));
        let e = error("if x:\ny = 2\n");
        assert_eq!((e.line, e.kind), (2, SplitErrorKind::ExpectedIndentedBlock));
        assert_eq!(error("if x:\n").kind, SplitErrorKind::ExpectedIndentedBlock);
        let e = error("if 1:\n\tif 2:\n        a\n");
        assert_eq!((e.line, e.kind), (3, SplitErrorKind::InconsistentTabs));
        let e = error("x = 1\nelse:\n    pass\n");
        assert_eq!((e.line, e.kind), (2, SplitErrorKind::OrphanClause("else")));
        let deep = "f'{".repeat(300);
        assert_eq!(error(&deep).kind, SplitErrorKind::TooDeep);
    }

    #[test]
    fn offsets_and_text_agree() {
        let src = "a = 1\n\n@d\ndef f():\n    pass  # c\n";
        for s in split(src).unwrap_or_default() {
            assert_eq!(&src[s.start..s.end], s.text);
        }
    }

    /// Random cuts and byte deletions of real sources return `Ok` or `Err`, never panic.
    #[test]
    fn never_panics_on_cut_sources() {
        let sources = [
            include_str!("helpers.py"),
            include_str!("hotfix.py"),
            include_str!("loader.py"),
            "x = f\"{a[\"k\"]:{w}}\" + rb'\\'' ; y = '''\r\n''' \\\n + 1\n@d\nclass A:\n\tpass\n",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
        };
        for src in sources {
            for _ in 0..300 {
                let (a, b) = (next(src.len() + 1), next(src.len() + 1));
                let (a, b) = (a.min(b), a.max(b));
                if let (Some(head), Some(rest)) = (src.get(..a), src.get(a..)) {
                    let _ = split(head);
                    let _ = split(rest);
                    if let Some(tail) = src.get(b..) {
                        let _ = split(&format!("{head}{tail}"));
                    }
                }
            }
        }
    }

    fn texts(source: &str) -> Vec<Statement<'_>> {
        split(source).unwrap_or_default()
    }

    #[test]
    fn match_unchanged_changed_added_removed() {
        let old = texts("a = 1\ndef f():\n    return 1\nb = 2\nc = 3\n");
        let new = texts("a = 1\n\n# moved down a line\ndef f():\n    return 2\nb = 2\nd = 4\n");
        assert_eq!(
            matched(&old, &new),
            [
                Match::Unchanged { old: 0, new: 0 },
                Match::New { new: 1 },
                Match::Unchanged { old: 2, new: 2 },
                Match::New { new: 3 },
                Match::Removed { old: 1 },
                Match::Removed { old: 3 },
            ]
        );
        assert!(!reordered(&matched(&old, &new)));
    }

    #[test]
    fn match_reports_moves() {
        let old = texts("a = 1\nb = 2\nc = 3\nd = 4\n");
        let new = texts("a = 1\nc = 3\nd = 4\nb = 2\n");
        let m = matched(&old, &new);
        assert_eq!(
            m,
            [
                Match::Unchanged { old: 0, new: 0 },
                Match::Unchanged { old: 2, new: 1 },
                Match::Unchanged { old: 3, new: 2 },
                Match::Moved { old: 1, new: 3 },
            ]
        );
        assert!(reordered(&m));
    }

    #[test]
    fn match_duplicates_take_the_longest_order() {
        // In-order pairing of the two `x = 0` would cross `y = 1`; the longest chain does not.
        let old = texts("x = 0\ny = 1\nx = 0\n");
        let new = texts("y = 1\nx = 0\n");
        assert_eq!(
            matched(&old, &new),
            [
                Match::Unchanged { old: 1, new: 0 },
                Match::Unchanged { old: 2, new: 1 },
                Match::Removed { old: 0 },
            ]
        );
        let old = texts("x = 0\ny = 1\nx = 0\nz = 2\n");
        let new = texts("y = 1\nx = 0\nw = 3\n");
        assert_eq!(
            matched(&old, &new),
            [
                Match::Unchanged { old: 1, new: 0 },
                Match::Unchanged { old: 2, new: 1 },
                Match::New { new: 2 },
                Match::Removed { old: 0 },
                Match::Removed { old: 3 },
            ]
        );
        let same = texts("pass\npass\n");
        assert_eq!(
            matched(&same, &same),
            [
                Match::Unchanged { old: 0, new: 0 },
                Match::Unchanged { old: 1, new: 1 }
            ]
        );
        assert!(matched(&[], &[]).is_empty());
    }

    /// The 50,000-line benchmark module (`benches/workload.py`): run with
    /// `cargo test --release -p swapscope-engine --lib statements::tests::split_timing -- --ignored --nocapture`.
    #[test]
    #[ignore = "a timing, not a check; needs python3"]
    fn split_timing() {
        let benches = concat!(env!("CARGO_MANIFEST_DIR"), "/../../benches");
        let Ok(out) = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys; sys.path.insert(0, '.'); import workload; print(workload.source(50000, 1))",
            ])
            .current_dir(benches)
            .output()
        else {
            return;
        };
        let src = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut best = std::time::Duration::MAX;
        let mut count = 0;
        for _ in 0..20 {
            let t = std::time::Instant::now();
            count = split(&src).map_or(0, |s| s.len());
            best = best.min(t.elapsed());
        }
        let other = src.replacen("SCALE = 1", "SCALE = 2", 1);
        let (old, new) = (texts(&src), texts(&other));
        let t = std::time::Instant::now();
        let m = matched(&old, &new);
        let match_time = t.elapsed();
        println!(
            "{} lines, {} bytes: {count} statements, split best of 20 {best:?}; match {} vs {}: {match_time:?} ({} entries)",
            src.lines().count(),
            src.len(),
            old.len(),
            new.len(),
            m.len()
        );
    }
}
