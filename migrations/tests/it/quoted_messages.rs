//! Every message README.md and docs/*.md quote as program output is one the code can print.
//!
//! **What the docs quote** (the convention they follow):
//! - every line of a ` ```text ` or ` ```console ` block, except commands (console lines that
//!   start with `$ `, with their `\` continuation lines) and blank lines. A line that starts with
//!   `{` is a JSON body: its `"message"` and `"error"` strings are quotes, the rest is data;
//! - an inline code span that starts with a program's error prefix (`user-service: `, `migration: `,
//!   `seed: `), or comes right after one of [`INTRODUCING_WORDS`]
//!   ("the CLI prints `database: …`"), or is a JSON string with a space in it
//!   (API.md's `"Project not found"`);
//! - in docs/TROUBLESHOOTING.md, an inline code span in bold (``**`…`**``, ``**401 `…`**``), or
//!   one with a space in it that opens a list item.
//!
//! docs/BENCHMARKS.md is not read: `bench/run.sh` writes it, and its blocks are measurements.
//!
//! **When a quote matches the code.** In a quote, `…`, `...`, `<placeholder>`, `{placeholder}`
//! and every word with a digit in it (ports, addresses, counts, times, ids, migration names) stand
//! for anything. They cut the quote into fragments; a fragment of [`MIN_FRAGMENT`] characters or
//! more must be what the code prints. The code's text is its string literals in crates/,
//! migrations/ and seeds/ (tests and comments excluded), each cut into pieces at its `{…}` format
//! holes, and a fragment must be a concatenation, as formatting makes one, of:
//! - parts of pieces. Inside the fragment a part ends where its piece ends (a hole follows) and
//!   starts where its piece starts; it gives at least [`MIN_RUN`] characters unless it touches an
//!   end of the fragment, or it is a whole piece of a literal with holes (the `": "` of
//!   `"{variable}: {problem}"`);
//! - words a hole printed, without spaces (`APP_ENV`, `"staging"`, `postgres@localhost:`). A plain
//!   lower-case word (a field name, `up`) only next to a part of [`MIN_RUN`] characters: so
//!   `migration: migration failed (` does not pass for `"{} failed ({}): {}"`, and the docs
//!   write a word the program chooses as a `<placeholder>` (`migration: <command> failed (…)`);
//! - and at least one part with [`MIN_EVIDENCE`] letters or digits.
//!
//! What other software prints (the OS, sqlx, sea-orm, PostgreSQL, docker) comes from
//! [`THIRD_PARTY`], each phrase with its origin.
//!
//! What this cannot see: which word a hole prints (`Connection Error:` passes where the program
//! prints `Custom Error:`, both being sea-orm's), and messages a doc quotes outside the convention.

use std::path::{Path, PathBuf};

/// The shortest part of a piece that counts as evidence on its own.
const MIN_RUN: usize = 12;

/// Fragments shorter than this (after trimming) are not checked: they match almost anything.
const MIN_FRAGMENT: usize = 4;

/// A fragment must use a piece with at least this many letters or digits: what holes print
/// cannot make a message on their own.
const MIN_EVIDENCE: usize = 3;

/// The error prefixes of the three programs: an inline code span starting with one is a quote.
const PROGRAM_PREFIXES: &[&str] = &["user-service: ", "migration: ", "seed: "];

/// Words after which an inline code span is what a program prints: "it logs `…`".
const INTRODUCING_WORDS: &[&str] = &["logs", "prints", "print", "reads", "fails with", "line is"];

/// Text the docs quote that other software prints, with where it comes from: matched as if it
/// were a piece of the code.
const THIRD_PARTY: &[(&str, &str)] = &[
    ("Connection Error: ", "sea-orm: DbErr::Conn"),
    ("Execution Error: ", "sea-orm: DbErr::Exec"),
    ("Custom Error: ", "sea-orm: DbErr::Custom"),
    (
        "Failed to acquire connection from pool: ",
        "sea-orm: DbErr::ConnectionAcquire",
    ),
    (
        "Connection pool timed out",
        "sea-orm: ConnAcquireErr::Timeout",
    ),
    (
        "Migration file of version '",
        "sea-orm-migration: a recorded migration the code lacks",
    ),
    (
        "' is missing, this migration has been applied but its file is missing",
        "the same",
    ),
    ("INFO ", "tracing-subscriber: the level of a log line"),
    ("Applying all pending migrations", "sea-orm-migration's log"),
    ("Applying migration '", "sea-orm-migration's log"),
    ("No pending migrations", "sea-orm-migration's log"),
    (
        "Rolling back all applied migrations",
        "sea-orm-migration's log",
    ),
    ("Rolling back migration '", "sea-orm-migration's log"),
    (
        "applied migrations",
        "sea-orm-migration's log: Rolling back {} applied migrations",
    ),
    ("Migration '", "sea-orm-migration's log"),
    ("' has been applied", "sea-orm-migration's log"),
    ("' has been rolled back", "sea-orm-migration's log"),
    ("Dropping table '", "sea-orm-migration's log (fresh)"),
    ("error communicating with database: ", "sqlx: Error::Io"),
    ("error returned from database: ", "sqlx: Error::Database"),
    ("(code: ", "sqlx: a SQLite error code"),
    (") unable to open database file", "SQLite: SQLITE_CANTOPEN"),
    ("password authentication failed for user ", "PostgreSQL"),
    ("database ", "PostgreSQL: database \"…\" does not exist"),
    (
        " does not exist",
        "PostgreSQL: database \"…\" does not exist",
    ),
    ("type ", "PostgreSQL: type \"…\" already exists"),
    ("relation ", "PostgreSQL: relation \"…\" already exists"),
    (
        " already exists",
        "PostgreSQL: type/relation \"…\" already exists",
    ),
    ("Connection refused (os error ", "the OS: ECONNREFUSED"),
    ("Address already in use (os error ", "the OS: EADDRINUSE"),
    ("Permission denied (os error ", "the OS: EACCES"),
    ("File exists (os error ", "the OS: EEXIST"),
    ("Error response from daemon: ", "docker"),
    ("Bind for ", "docker"),
    (" failed: port is already allocated", "docker"),
    ("Not Found", "http: the reason phrase of 404"),
    ("Too Many Requests", "http: the reason phrase of 429"),
];

/// A message a doc quotes: where, and the text.
struct Quote {
    file: String,
    line: usize,
    text: String,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// README.md and docs/*.md, except the generated BENCHMARKS.md, as (name, text).
fn documents() -> Vec<(String, String)> {
    let root = workspace();
    let mut names = vec!["README.md".to_owned()];
    let docs =
        std::fs::read_dir(root.join("docs")).unwrap_or_else(|error| panic!("docs/: {error}"));
    let mut doc_names: Vec<String> = docs
        .map(|entry| {
            entry
                .unwrap_or_else(|error| panic!("docs/: {error}"))
                .file_name()
        })
        .filter_map(|name| name.to_str().map(str::to_owned))
        .filter(|name| name.ends_with(".md") && name != "BENCHMARKS.md")
        .map(|name| format!("docs/{name}"))
        .collect();
    doc_names.sort();
    names.extend(doc_names);
    names
        .into_iter()
        .map(|name| {
            let text = read(&root.join(&name));
            (name, text)
        })
        .collect()
}

/// The quotes of one document, by the convention above.
fn quotes_in(file: &str, text: &str) -> Vec<Quote> {
    let mut quotes = Vec::new();
    let mut push = |line: usize, text: &str| {
        quotes.push(Quote {
            file: file.to_owned(),
            line,
            text: text.to_owned(),
        })
    };
    let troubleshooting = file == "docs/TROUBLESHOOTING.md";
    // Prose outside fenced blocks, kept with its line numbers, for the inline code spans.
    let mut prose: Vec<(usize, &str)> = Vec::new();
    let mut fence: Option<String> = None;
    let mut continued = false;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim();
        if let Some(info) = trimmed.strip_prefix("```") {
            fence = match fence {
                Some(_) => None,
                None => Some(info.trim().to_owned()),
            };
            prose.push((number, ""));
            continue;
        }
        let Some(kind) = &fence else {
            prose.push((number, line));
            continue;
        };
        if kind != "text" && kind != "console" {
            continue;
        }
        let command = continued || trimmed.starts_with("$ ");
        continued = command && trimmed.ends_with('\\');
        if command || trimmed.is_empty() {
            continue;
        }
        if trimmed.starts_with('{') {
            for value in json_messages(trimmed) {
                push(number, &value);
            }
        } else {
            push(number, trimmed);
        }
    }
    for (number, span, before) in code_spans(&prose) {
        let bold = before.ends_with("**") || {
            // `**401 `…`**`: a status code between the bold mark and the span.
            let head = before.trim_end_matches(|c: char| c.is_ascii_digit() || c == ' ');
            head.ends_with("**") && head.len() < before.len()
        };
        let list_item = before.trim() == "-" && span.contains(' ');
        let prefixed = PROGRAM_PREFIXES
            .iter()
            .any(|prefix| span.starts_with(prefix));
        let introduced = INTRODUCING_WORDS
            .iter()
            .any(|words| before.ends_with(&format!(" {words} ")));
        let json_string =
            span.len() > 2 && span.starts_with('"') && span.ends_with('"') && span.contains(' ');
        if json_string {
            push(number, &span[1..span.len() - 1]);
        } else if prefixed || introduced || (troubleshooting && (bold || list_item)) {
            if span.starts_with('{') {
                for value in json_messages(&span) {
                    push(number, &value);
                }
            } else {
                push(number, &span);
            }
        }
    }
    quotes
}

/// Inline code spans of prose lines (a span may continue on the next line, not past a blank
/// one), each with its line number and the text of its line before it.
fn code_spans(prose: &[(usize, &str)]) -> Vec<(usize, String, String)> {
    let mut spans = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for &(number, line) in prose {
        if line.trim().is_empty() {
            open = None;
            continue;
        }
        let mut rest = line;
        let mut consumed = 0;
        if let Some((start, mut span, before)) = open.take() {
            match rest.find('`') {
                Some(end) => {
                    span.push(' ');
                    span.push_str(rest[..end].trim_start());
                    spans.push((start, span, before));
                    consumed = end + 1;
                    rest = &line[consumed..];
                }
                None => {
                    span.push(' ');
                    span.push_str(line.trim());
                    open = Some((start, span, before));
                    continue;
                }
            }
        }
        while let Some(start) = rest.find('`') {
            let before = line[..consumed + start].to_owned();
            let after = &rest[start + 1..];
            match after.find('`') {
                Some(end) => {
                    spans.push((number, after[..end].to_owned(), before));
                    consumed += start + 1 + end + 1;
                    rest = &line[consumed..];
                }
                None => {
                    open = Some((number, after.trim_end().to_owned(), before));
                    break;
                }
            }
        }
    }
    spans
}

/// The `"message"` (a string or an array of strings) and `"error"` strings of a JSON body
/// (which may be abridged with `…`, so this scans rather than parses).
fn json_messages(body: &str) -> Vec<String> {
    let mut values = Vec::new();
    for key in ["\"message\":", "\"error\":"] {
        let mut rest = body;
        while let Some(at) = rest.find(key) {
            rest = &rest[at + key.len()..];
            let array = rest.starts_with('[');
            let mut cursor = if array { &rest[1..] } else { rest };
            while let Some(string) = cursor.strip_prefix('"') {
                let Some(end) = closing_quote(string) else {
                    break;
                };
                values.push(string[..end].replace("\\\"", "\""));
                cursor = &string[end + 1..];
                match cursor.strip_prefix(',') {
                    Some(next) if array => cursor = next,
                    _ => break,
                }
            }
        }
    }
    values
}

fn closing_quote(string: &str) -> Option<usize> {
    let mut escaped = false;
    for (index, c) in string.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(index),
            _ => escaped = false,
        }
    }
    None
}

/// The fragments of a quote: what is left between placeholders and words with digits, trimmed.
fn fragments(quote: &str) -> Vec<String> {
    let chars: Vec<char> = quote.chars().collect();
    // None where the quote holds a placeholder or data.
    let mut kept: Vec<Option<char>> = chars.iter().copied().map(Some).collect();
    let mut i = 0;
    while i < chars.len() {
        let placeholder = match chars[i] {
            '…' => Some(i + 1),
            '.' if chars[i..].starts_with(&['.', '.', '.']) => Some(i + 3),
            open @ ('<' | '{') => {
                let close = if open == '<' { '>' } else { '}' };
                chars[i + 1..]
                    .iter()
                    .position(|&c| c == close)
                    .filter(|&len| {
                        len > 0
                            && chars[i + 1..i + 1 + len]
                                .iter()
                                .all(|&c| c.is_alphanumeric() || "_-… ".contains(c))
                    })
                    .map(|len| i + len + 2)
            }
            _ => None,
        };
        match placeholder {
            Some(end) => {
                kept[i..end].fill(None);
                i = end;
            }
            None => i += 1,
        }
    }
    // A word with a digit in it is data: a port, an address, a time, an id, a migration's name.
    let mut start = 0;
    while start < chars.len() {
        let end = chars[start..]
            .iter()
            .position(|c| c.is_whitespace())
            .map_or(chars.len(), |len| start + len);
        if chars[start..end].iter().any(char::is_ascii_digit) {
            kept[start..end].fill(None);
        }
        start = end + 1;
    }
    kept.split(Option::is_none)
        .map(|run| run.iter().flatten().collect::<String>().trim().to_owned())
        .filter(|fragment| fragment.chars().count() >= MIN_FRAGMENT)
        .collect()
}

/// The pieces of the code's string literals, and of [`THIRD_PARTY`].
struct Pieces {
    /// Every piece, each between two `\0`: `\0piece\0piece\0`.
    all: String,
    /// The pieces of literals that have format holes, the same way.
    of_formats: String,
}

impl Pieces {
    fn load() -> Self {
        let root = workspace();
        let mut files = Vec::new();
        for top in ["crates", "migrations", "seeds"] {
            rust_files(&root.join(top), &mut files);
        }
        let mut all = String::from("\0");
        let mut of_formats = String::from("\0");
        for file in files {
            for literal in string_literals(&read(&file)) {
                let pieces = format_pieces(&literal);
                for piece in &pieces {
                    all.push_str(piece);
                    all.push('\0');
                    if pieces.len() > 1 {
                        of_formats.push_str(piece);
                        of_formats.push('\0');
                    }
                }
            }
        }
        for (phrase, _origin) in THIRD_PARTY {
            all.push_str(phrase);
            all.push('\0');
            of_formats.push_str(phrase);
            of_formats.push('\0');
        }
        Self { all, of_formats }
    }

    /// Whether `fragment` can be printed: pieces and hole values, as the module says.
    fn produce(&self, fragment: &str) -> bool {
        let bounds: Vec<usize> = fragment
            .char_indices()
            .map(|(at, _)| at)
            .chain([fragment.len()])
            .collect();
        let n = bounds.len() - 1;
        let min_run = MIN_RUN.min(n);
        // states[i]: the ways fragment[..i] can be printed, as (how it ends, whether a piece with
        // MIN_FRAGMENT visible characters was used).
        let mut states: Vec<Vec<(End, bool)>> = vec![Vec::new(); n + 1];
        states[0].push((End::Start, false));
        for i in 0..n {
            if states[i].is_empty() {
                continue;
            }
            let open = if i > 0 { "\0" } else { "" };
            for j in i + 1..=n {
                let text = &fragment[bounds[i]..bounds[j]];
                let close = if j < n { "\0" } else { "" };
                let in_all = self.all.contains(&format!("{open}{text}"));
                let in_formats = self.of_formats.contains(&format!("\0{text}"));
                let word = !text.contains(char::is_whitespace);
                if !in_all && !in_formats && !word {
                    break;
                }
                // A piece used in part gives MIN_RUN characters, unless a cut in the quote (a
                // placeholder, data) ends the fragment on its open side.
                let part = in_all
                    && (j - i >= min_run || (i == 0) != (j == n))
                    && self.all.contains(&format!("{open}{text}{close}"));
                let long = part && j - i >= min_run;
                let short = in_formats && self.of_formats.contains(&format!("\0{text}\0"));
                let visible = text.chars().filter(|c| c.is_alphanumeric()).count() >= MIN_EVIDENCE;
                let lower = text.chars().all(|c| c.is_ascii_lowercase());
                let mut next = Vec::new();
                for &(end, evidence) in &states[i] {
                    if long {
                        next.push((End::LongPiece, evidence || visible));
                    } else if (short || part) && end != End::WordWantsLongPiece {
                        next.push((End::ShortPiece, evidence || visible));
                    }
                    if word && matches!(end, End::Start | End::LongPiece | End::ShortPiece) {
                        let after = if lower && end != End::LongPiece {
                            End::WordWantsLongPiece
                        } else {
                            End::Value
                        };
                        next.push((after, evidence));
                    }
                }
                for state in next {
                    if !states[j].contains(&state) {
                        states[j].push(state);
                    }
                }
            }
        }
        states[n]
            .iter()
            .any(|&(end, evidence)| evidence && end != End::WordWantsLongPiece)
    }
}

/// How a printable prefix of a fragment ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Nothing yet.
    Start,
    /// A piece giving at least MIN_RUN characters.
    LongPiece,
    /// A short piece, used whole.
    ShortPiece,
    /// A word a hole printed.
    Value,
    /// A plain lower-case word a hole printed after a short piece: only a long piece may follow.
    WordWantsLongPiece,
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
            .path();
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("");
        if path.is_dir() {
            if name != "tests" && name != "target" {
                rust_files(&path, files);
            }
        } else if name.ends_with(".rs") {
            files.push(path);
        }
    }
}

/// The string literals of a Rust file, unescaped; comments and char literals skipped.
fn string_literals(source: &str) -> Vec<String> {
    let bytes = source.as_bytes();
    let mut literals = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = source[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |end| i + 2 + end + 2);
            }
            b'\'' => {
                // A char literal ('"', '\'', '\u{…}') or a lifetime ('a): skip the literal only.
                let rest = &source[i + 1..];
                if let Some(end) = rest.strip_prefix('\\').map(|escaped| escaped.find('\'')) {
                    i += 2 + end.map_or(0, |end| end + 1);
                } else if rest.chars().nth(1) == Some('\'') {
                    i += 1 + rest.chars().next().map_or(0, char::len_utf8) + 1;
                } else {
                    i += 1;
                }
            }
            b'r' if (bytes.get(i + 1) == Some(&b'"') || bytes.get(i + 1) == Some(&b'#'))
                && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')) =>
            {
                let hashes = source[i + 1..].chars().take_while(|&c| c == '#').count();
                let open = i + 1 + hashes;
                if bytes.get(open) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let close = format!("\"{}", "#".repeat(hashes));
                let end = source[open + 1..]
                    .find(&close)
                    .map_or(bytes.len(), |end| open + 1 + end);
                literals.push(source[open + 1..end].to_owned());
                i = end + close.len();
            }
            b'"' => {
                let mut value = String::new();
                let mut chars = source[i + 1..].char_indices();
                let mut end = bytes.len();
                while let Some((at, c)) = chars.next() {
                    match c {
                        '"' => {
                            end = i + 1 + at + 1;
                            break;
                        }
                        '\\' => match chars.next().map(|(_, c)| c) {
                            Some('n') => value.push('\n'),
                            Some('t') => value.push('\t'),
                            Some('r') => value.push('\r'),
                            Some('0') => value.push('\0'),
                            Some('\n') => {
                                // A line continuation: the next line's indentation is dropped.
                                let rest = chars.as_str();
                                let skip = rest.len() - rest.trim_start().len();
                                for _ in rest[..skip].chars() {
                                    chars.next();
                                }
                            }
                            Some('u') => {
                                let rest = chars.as_str();
                                if let Some(close) = rest.find('}') {
                                    let code = rest[1..close].replace('_', "");
                                    if let Some(c) =
                                        u32::from_str_radix(&code, 16).ok().and_then(char::from_u32)
                                    {
                                        value.push(c);
                                    }
                                    for _ in rest[..=close].chars() {
                                        chars.next();
                                    }
                                }
                            }
                            Some(c) => value.push(c),
                            None => {}
                        },
                        c => value.push(c),
                    }
                }
                literals.push(value);
                i = end;
            }
            _ => i += 1,
        }
    }
    literals
}

/// A literal cut at its `{…}` format holes (`{{` and `}}` are braces, not holes).
fn format_pieces(literal: &str) -> Vec<String> {
    let mut pieces = vec![String::new()];
    let mut chars = literal.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                pieces.last_mut().expect("a piece").push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                pieces.last_mut().expect("a piece").push('}');
            }
            '{' => {
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                }
                pieces.push(String::new());
            }
            c => pieces.last_mut().expect("a piece").push(c),
        }
    }
    pieces
}

#[test]
fn every_message_the_docs_quote_is_printed_by_the_code() {
    let pieces = Pieces::load();
    let mut quotes = 0;
    let mut unmatched = Vec::new();
    for (file, text) in documents() {
        for quote in quotes_in(&file, &text) {
            quotes += 1;
            let missing: Vec<String> = fragments(&quote.text)
                .into_iter()
                .filter(|fragment| !pieces.produce(fragment))
                .collect();
            if !missing.is_empty() {
                unmatched.push(format!(
                    "{}:{}: {}\n    not printed by the code: {missing:?}",
                    quote.file, quote.line, quote.text
                ));
            }
        }
    }
    assert!(
        quotes > 50,
        "found only {quotes} quotes: has the convention changed?"
    );
    assert!(
        unmatched.is_empty(),
        "{} of {quotes} quoted messages match nothing in crates/, migrations/ or seeds/ \
         (fix the doc or the message; third-party text goes in THIRD_PARTY):\n{}",
        unmatched.len(),
        unmatched.join("\n")
    );
}
