//! Each rule's code is built in one place (issue 12): a scan of every Rust source of the
//! workspace lists each machine code a refusal is built with, and where, and fails when a
//! code is built in two crates, or twice outside `schemas` (a rule both sides judge lives
//! once, in `schemas`; a crate's own refusal is built by one function).
//!
//! What counts as building a code: a string literal passed first to `Violation::error`,
//! `Violation::warning` or `Violation::new`, or to any function of the workspace whose
//! first parameter is `code: &str` (found by the scan itself, so a new helper cannot hide
//! a copy), a literal given to a `code:` field of a struct expression, and a dotted literal
//! a match arm gives (an error type's `code()`). Test code is not
//! production: `tests/` and `benches/` directories and `#[cfg(test)]` items are skipped.
//!
//! Std only; it reads the workspace's sources next to this crate (`..` of the manifest).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Functions whose first parameter is named `code` but that build no refusal.
const NOT_BUILDERS: &[(&str, &str)] = &[(
    "of_code",
    "divisions: the kind of a GB/T 2260 administrative division code",
)];

/// Codes allowed to be built in more than one place, with why. None is a rule's: these
/// name a kind of failure of a file, a setting or a request, with a message per cause.
const EXCEPTIONS: &[(&str, &str)] = &[
    (
        "excel.not_spreadsheet",
        "the import's one code for a file that is not a readable .xlsx, with a message per \
         cause (a password, .ods, another zip, a web page, damage)",
    ),
    (
        "excel.empty",
        "the import's one code for a file with nothing to import: no sheet, or no rows",
    ),
    (
        "replica.exists",
        "`zhtj init` refuses before it asks a server, with advice on --data; creating the \
         replica refuses again should the file appear meanwhile",
    ),
    (
        "cli.unknown_field",
        "`zhtj set` and `zhtj history` each list the fields they take (the command line's \
         argument types are being rebuilt, issue 12 point 4)",
    ),
    (
        "config.tls",
        "the server's TLS settings: one code, a message per cause (one of the two files \
         missing, the pair not matching)",
    ),
    (
        "config.tls_cert",
        "the TLS certificate file: unreadable, or holding no certificate",
    ),
    (
        "config.tls_key",
        "the TLS key file: unreadable, or holding no key",
    ),
    (
        "request.too_large",
        "a JSON body or a push body over its limit, each message naming its limit",
    ),
    (
        "store.document",
        "a document Automerge cannot read: `wire::Error`'s code, and client-core's variant \
         that error converts into (the same failure, named the same)",
    ),
    (
        "auth.outside_subtree",
        "one refusal through two channels: the merge's violation for a pushed document \
         outside the admin's subtree, and `Error::Forbidden`'s code (HTTP 403) for the read \
         endpoints",
    ),
];

/// Directories never scanned, by name: build output, test, benchmark and example code.
const SKIP_DIRS: &[&str] = &[
    "target",
    "tests",
    "benches",
    "examples",
    "node_modules",
    ".git",
];

/// Directories never scanned, from the workspace root: the fuzz crate (not a workspace
/// member), the desktop front-end.
const SKIP_PATHS: &[&str] = &["fuzz", "desktop/ui"];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
}

/// A Rust lexer good enough to find calls and skip comments, strings and char literals.
fn lex(src: &str) -> Vec<Token> {
    let cs: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let n = cs.len();
    while i < n {
        let c = cs[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && cs.get(i + 1) == Some(&'/') {
            while i < n && cs[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && cs.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < n {
                if cs[i] == '/' && cs.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if cs[i] == '*' && cs.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if cs[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if c == '"' || ((c == 'r' || c == 'b') && starts_string(&cs, i)) {
            let start_line = line;
            let (s, next, lines) = string(&cs, i);
            out.push(Token {
                tok: Tok::Str(s),
                line: start_line,
            });
            line += lines;
            i = next;
        } else if c == '\'' {
            // A char literal ('a', '\n', '\u{3000}') or a lifetime ('static).
            if cs.get(i + 1) == Some(&'\\') {
                i += 2;
                while i < n && cs[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if cs.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                out.push(Token {
                    tok: Tok::Punct('\''),
                    line,
                });
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < n && (cs[i].is_alphanumeric() || cs[i] == '_') {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident(cs[start..i].iter().collect()),
                line,
            });
        } else {
            out.push(Token {
                tok: Tok::Punct(c),
                line,
            });
            i += 1;
        }
    }
    out
}

/// `r"`, `r#"`, `b"`, `br"`, `br#"` at `i` (and not the end of an identifier).
fn starts_string(cs: &[char], i: usize) -> bool {
    if i > 0 && (cs[i - 1].is_alphanumeric() || cs[i - 1] == '_') {
        return false;
    }
    let mut j = i;
    if cs[j] == 'b' {
        j += 1;
    }
    if cs.get(j) == Some(&'r') {
        j += 1;
        while cs.get(j) == Some(&'#') {
            j += 1;
        }
    }
    j > i && cs.get(j) == Some(&'"')
}

/// The literal starting at `i`: its text, the index after it, the newlines inside it.
fn string(cs: &[char], mut i: usize) -> (String, usize, usize) {
    let mut raw = false;
    let mut hashes = 0;
    while cs[i] != '"' {
        match cs[i] {
            'r' => raw = true,
            '#' => hashes += 1,
            _ => {}
        }
        i += 1;
    }
    i += 1;
    let mut s = String::new();
    let mut lines = 0;
    while i < cs.len() {
        let c = cs[i];
        if c == '\n' {
            lines += 1;
        }
        if !raw && c == '\\' {
            s.push(c);
            if let Some(&e) = cs.get(i + 1) {
                if e == '\n' {
                    lines += 1;
                }
                s.push(e);
            }
            i += 2;
            continue;
        }
        if c == '"' && (0..hashes).all(|k| cs.get(i + 1 + k) == Some(&'#')) {
            return (s, i + 1 + hashes, lines);
        }
        s.push(c);
        i += 1;
    }
    (s, i, lines)
}

fn is_punct(t: Option<&Token>, c: char) -> bool {
    matches!(t, Some(Token { tok: Tok::Punct(p), .. }) if *p == c)
}

fn is_ident(t: Option<&Token>, s: &str) -> bool {
    matches!(t, Some(Token { tok: Tok::Ident(x), .. }) if x == s)
}

/// The tokens outside `#[cfg(test)]` items (a test module, function or import).
fn without_tests(toks: Vec<Token>) -> Vec<Token> {
    let mut out = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let cfg_test = is_punct(toks.get(i), '#')
            && is_punct(toks.get(i + 1), '[')
            && is_ident(toks.get(i + 2), "cfg")
            && is_punct(toks.get(i + 3), '(')
            && is_ident(toks.get(i + 4), "test")
            && is_punct(toks.get(i + 5), ')')
            && is_punct(toks.get(i + 6), ']');
        if !cfg_test {
            out.push(toks[i].clone());
            i += 1;
            continue;
        }
        // Skip the item: up to a `;` before any brace, or to the brace matching the first.
        i += 7;
        let mut depth = 0usize;
        while i < toks.len() {
            match &toks[i].tok {
                Tok::Punct('{') => depth += 1,
                Tok::Punct('}') => {
                    depth -= 1;
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                Tok::Punct(';') if depth == 0 => {
                    i += 1;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
    }
    out
}

/// One scanned source file.
struct Source {
    /// Path from the workspace root, with `/`.
    path: String,
    /// The package the file belongs to (its nearest `Cargo.toml`'s directory).
    krate: String,
    toks: Vec<Token>,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("schemas sits in the workspace")
        .to_owned()
}

fn rust_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if p.is_dir() {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if !SKIP_DIRS.contains(&name.as_str()) && !SKIP_PATHS.contains(&rel.as_str()) {
                rust_files(root, &p, out);
            }
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

fn package_of(root: &Path, file: &Path) -> String {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d.join("Cargo.toml").is_file() {
            let rel = d
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            return if rel.is_empty() { ".".into() } else { rel };
        }
        dir = d.parent();
    }
    ".".into()
}

fn sources() -> Vec<Source> {
    let root = workspace_root();
    let mut files = Vec::new();
    rust_files(&root, &root, &mut files);
    files
        .into_iter()
        .map(|f| {
            let text = fs::read_to_string(&f).unwrap();
            Source {
                path: f
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/"),
                krate: package_of(&root, &f),
                toks: without_tests(lex(&text)),
            }
        })
        .collect()
}

/// Names of the functions whose first parameter is `code: &…` (builders of a coded refusal).
fn builders(sources: &[Source]) -> Vec<String> {
    let mut names = Vec::new();
    for s in sources {
        let t = &s.toks;
        for i in 0..t.len() {
            if !is_ident(t.get(i), "fn") {
                continue;
            }
            let Some(Token {
                tok: Tok::Ident(name),
                ..
            }) = t.get(i + 1)
            else {
                continue;
            };
            // Past generic parameters to the opening parenthesis.
            let mut j = i + 2;
            if is_punct(t.get(j), '<') {
                let mut depth = 0;
                while j < t.len() {
                    if is_punct(t.get(j), '<') {
                        depth += 1;
                    } else if is_punct(t.get(j), '>') {
                        depth -= 1;
                        if depth == 0 {
                            j += 1;
                            break;
                        }
                    }
                    j += 1;
                }
            }
            if is_punct(t.get(j), '(')
                && is_ident(t.get(j + 1), "code")
                && is_punct(t.get(j + 2), ':')
                && is_punct(t.get(j + 3), '&')
                && !NOT_BUILDERS.iter().any(|(n, _)| n == name)
                && !names.contains(name)
            {
                names.push(name.clone());
            }
        }
    }
    names.sort();
    names
}

/// Looks like a machine code: `area.reason` (lowercase, digits, `_`), or one such word.
fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        && s.starts_with(|c: char| c.is_ascii_lowercase())
}

/// Where a code is built.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Site {
    krate: String,
    path: String,
    line: usize,
}

/// Every code built, with its sites.
fn scan() -> BTreeMap<String, Vec<Site>> {
    let sources = sources();
    let builders = builders(&sources);
    // A builder must be one the scan recognizes: `Violation`'s own are named `error` and
    // `warning`, which are only builders after `Violation::`.
    for b in ["error", "warning", "invalid", "usage"] {
        assert!(
            builders.iter().any(|x| x == b),
            "the scan no longer finds `fn {b}(code: &str …)`: {builders:?}"
        );
    }
    let mut table: BTreeMap<String, Vec<Site>> = BTreeMap::new();
    for s in &sources {
        let t = &s.toks;
        for i in 0..t.len() {
            let Some(Token {
                tok: Tok::Str(lit),
                line,
            }) = t.get(i)
            else {
                continue;
            };
            let built = if i >= 2 && is_punct(t.get(i - 1), '(') {
                match &t[i - 2].tok {
                    Tok::Ident(f) if ["error", "warning", "new"].contains(&f.as_str()) => {
                        i >= 5
                            && is_ident(t.get(i - 5), "Violation")
                            && is_punct(t.get(i - 4), ':')
                            && is_punct(t.get(i - 3), ':')
                    }
                    Tok::Ident(f) => builders.contains(f),
                    _ => false,
                }
            } else if i >= 2 && is_punct(t.get(i - 1), '>') && is_punct(t.get(i - 2), '=') {
                // `Error::Forbidden(_) => "auth.outside_subtree"`: an error type's code
                // (dotted, so that a match giving other text is not taken for one).
                lit.contains('.')
            } else {
                // `code: "…"` in a struct expression (`Violation { code: … }`, an error body).
                i >= 2 && is_punct(t.get(i - 1), ':') && is_ident(t.get(i - 2), "code")
                    // not `x::code: …` nor a path
                    && !is_punct(t.get(i.wrapping_sub(3)), ':')
            };
            if built && is_code(lit) {
                table.entry(lit.clone()).or_default().push(Site {
                    krate: s.krate.clone(),
                    path: s.path.clone(),
                    line: *line,
                });
            }
        }
    }
    table
}

/// What is wrong with where `code` is built, if anything.
fn problem(sites: &[Site]) -> Option<String> {
    let mut crates: Vec<&str> = sites.iter().map(|s| s.krate.as_str()).collect();
    crates.sort();
    crates.dedup();
    if crates.len() > 1 {
        return Some(format!("built in {} crates", crates.len()));
    }
    if crates[0] != "schemas" && sites.len() > 1 {
        return Some(format!("built {} times outside schemas", sites.len()));
    }
    None
}

#[test]
fn each_code_is_built_in_one_place() {
    let table = scan();
    let mut problems = Vec::new();
    println!("builders: {}", builders(&sources()).join(", "));
    println!("{} codes:", table.len());
    for (code, sites) in &table {
        let places: Vec<String> = sites
            .iter()
            .map(|s| format!("{}:{}", s.path, s.line))
            .collect();
        println!("{code:32} → {}", places.join(", "));
        if let Some(p) = problem(sites)
            && !EXCEPTIONS.iter().any(|(c, _)| c == code)
        {
            problems.push(format!("{code}: {p} ({})", places.join(", ")));
        }
    }
    for (code, why) in EXCEPTIONS {
        let sites = table.get(*code);
        assert!(
            sites.is_some_and(|s| problem(s).is_some()),
            "exception {code} ({why}) is no longer needed: remove it"
        );
    }
    assert!(
        problems.is_empty(),
        "codes built in more than one place:\n{}",
        problems.join("\n")
    );
}

/// The scan finds what it claims to: the known homes of a few codes, and none in tests.
#[test]
fn the_scan_finds_known_sites() {
    let table = scan();
    let at = |code: &str| -> Vec<String> {
        table
            .get(code)
            .unwrap_or_else(|| panic!("{code} not found"))
            .iter()
            .map(|s| s.path.clone())
            .collect()
    };
    // Built by `Violation::error`, by a crate's helper found by its `code` parameter, by
    // a struct expression.
    assert_eq!(at("mobile.format"), ["schemas/src/contact.rs"]);
    assert_eq!(at("id_number.checksum"), ["schemas/src/id_number.rs"]);
    assert_eq!(at("code.unknown"), ["sync-server/src/identity.rs"]);
    assert_eq!(at("rate_limited"), ["schemas/wire/src/status.rs"]);
    // The rules both sides judge, in `schemas` only.
    for code in [
        "tree.parent_deleted",
        "category.not_allowed",
        "short_name.duplicate",
        "delete.has_children",
        "password.weak",
    ] {
        assert!(
            at(code).iter().all(|p| p.starts_with("schemas/src/")),
            "{code}: {:?}",
            at(code)
        );
    }
    assert!(
        table
            .values()
            .flatten()
            .all(|s| !s.path.contains("/tests/") && !s.path.starts_with("tests/")),
        "test code was scanned"
    );
}

/// A code in two crates, or twice outside `schemas`, is a problem; twice inside is not.
#[test]
fn where_a_code_may_be_built() {
    let site = |krate: &str, line| Site {
        krate: krate.into(),
        path: format!("{krate}/src/lib.rs"),
        line,
    };
    assert!(problem(&[site("schemas", 1)]).is_none());
    assert!(problem(&[site("schemas", 1), site("schemas", 9)]).is_none());
    assert!(problem(&[site("client-core", 1)]).is_none());
    assert!(problem(&[site("client-core", 1), site("client-core", 9)]).is_some());
    assert!(problem(&[site("schemas", 1), site("sync-server", 9)]).is_some());
    assert!(problem(&[site("sync-server", 1), site("client-core", 9)]).is_some());
}

#[test]
fn the_lexer_skips_comments_strings_and_test_items() {
    let src = r##"
        // Violation::error("a.comment", None, "")
        /* Violation::error("b.block", None, "") */
        fn f() { let _ = Violation::error("c.real", None, "x'y"); let c = '"'; }
        #[cfg(test)]
        mod tests { fn g() { Violation::error("d.test", None, ""); } }
        fn h<'a>(x: &'a str) { Violation::warning("e.real", None, r#"a"b"#); }
    "##;
    let toks = without_tests(lex(src));
    let strs: Vec<&str> = toks
        .iter()
        .filter_map(|t| match &t.tok {
            Tok::Str(s) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(strs, ["c.real", "x'y", "e.real", "a\"b"]);
}
