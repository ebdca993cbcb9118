//! Checks of the workspace's shape, over its sources (std only, no build of what is read):
//!
//! - every citation of the project's own documents resolves: `rules.md §N` names a
//!   `## §N …` heading of `docs/rules.md`, `design.md "Name"` a heading of `docs/design.md`
//!   (any level, case-insensitive), and no citation of the documents the project started
//!   from remains (the upper-case words `RULES` and `DESIGN`);
//! - no crate's top-level modules import one another in a circle.
//!
//! The workspace is walked from this package's parent folder; `target`, `node_modules`,
//! `.git` and `fuzz/target` are skipped. Citations are read in `.rs`, `.ts`, `.vue`, `.md`
//! and `.toml` files.
//!
//! Exceptions to "no old-style citation", each for a reason:
//! - this file, which names the old forms in order to find them;
//! - `scripts/rewrite-citations.py` (not scanned: `.py`), which rewrites them.
//!
//! Mentions of `../shared` (e.g. `schemas/data/SOURCE.md`, the provenance of the
//! divisions) are not citations and are not judged here.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

/// The workspace root: this package (`tests/`) is one of its folders.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Files (workspace-relative, `/`-separated) exempt from the old-citation check; see the
/// module doc for why.
const OLD_CITATION_EXCEPTIONS: &[&str] = &["tests/architecture/main.rs"];

/// The extensions whose text is searched for citations.
const CITING_EXTENSIONS: &[&str] = &["rs", "ts", "vue", "md", "toml"];

/// Every file under `dir` with one of `exts`, skipping build output and dependencies.
fn walk(root: &Path, dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            let rel = relative(root, &path);
            if matches!(name, "target" | "node_modules" | ".git") || rel == "fuzz/target" {
                continue;
            }
            walk(root, &path, exts, out);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| exts.contains(&e))
        {
            out.push(path);
        }
    }
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

// ---------------------------------------------------------------------------------------
// Citations

/// One citation found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Citation {
    /// `rules.md §N`.
    Rules(u32),
    /// `design.md "Name"`.
    Design(String),
}

/// Strip what starts a comment line (`//!`, `///`, `//`, `#`, `*`) and the indentation, to
/// join a quoted name that a comment wraps onto its next line.
fn comment_body(line: &str) -> &str {
    let t = line.trim_start();
    for prefix in ["//!", "///", "//", "#", "*"] {
        if let Some(rest) = t.strip_prefix(prefix) {
            return rest.trim_start();
        }
    }
    t
}

/// The citations on line `i` of `lines`: `rules.md` followed by a list or range of
/// sections (`§3`, `§3, §9`, `§7–§9`), and `design.md` followed by one or more quoted
/// names (`"Sync protocol", "Client replica"`), a name possibly wrapped onto the next
/// comment line.
fn citations(lines: &[&str], i: usize) -> Vec<Citation> {
    let line = lines[i];
    let mut out = Vec::new();
    for (at, _) in line.match_indices("rules.md") {
        let rest = &line[at + "rules.md".len()..];
        let rest = rest.trim_start_matches(' ');
        if !rest.starts_with('§') {
            continue;
        }
        // The run of sections: §, digits, and the separators of a list or range.
        let run: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || matches!(c, '§' | ',' | ' ' | '–' | '-' | '—'))
            .collect();
        for part in run.split('§').skip(1) {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(n) = digits.parse() {
                out.push(Citation::Rules(n));
            }
        }
    }
    for (at, _) in line.match_indices("design.md") {
        let mut rest = line[at + "design.md".len()..].to_owned();
        let mut next = i + 1;
        loop {
            let trimmed = rest.trim_start_matches(' ');
            let Some(body) = trimmed.strip_prefix('"') else {
                break;
            };
            // The closing quote, on this line or (a wrapped name) on the next one.
            let mut body = body.to_owned();
            let last = (next + 2).min(lines.len());
            while !body.contains('"') && next < last {
                body.push(' ');
                body.push_str(comment_body(lines[next]));
                next += 1;
            }
            let Some(end) = body.find('"') else {
                break;
            };
            out.push(Citation::Design(body[..end].trim().to_owned()));
            // A list goes on after a comma: `"A", "B"`, possibly on the next line.
            match body[end + 1..].trim_start().strip_prefix(',') {
                Some(after) if after.trim().is_empty() && next < lines.len() => {
                    rest = comment_body(lines[next]).to_owned();
                    next += 1;
                }
                Some(after) => rest = after.to_owned(),
                None => break,
            }
        }
    }
    out
}

/// The headings of a Markdown file (any level), lower-cased, without their `#`s.
fn headings(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| {
            let t = l.trim_start_matches('#');
            (t.len() < l.len() && t.starts_with(' ')).then(|| t.trim().to_lowercase())
        })
        .collect()
}

/// The sections `N` of `## §N …` headings.
fn rules_sections(text: &str) -> BTreeSet<u32> {
    text.lines()
        .filter_map(|l| l.strip_prefix("## §"))
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let after = &rest[digits.len()..];
            if after.starts_with(' ') {
                digits.parse().ok()
            } else {
                None
            }
        })
        .collect()
}

/// Whether `line` holds `word` (upper-case, as a whole word: not part of an identifier).
fn has_word(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

#[test]
fn every_rules_and_design_citation_points_into_the_docs() {
    let root = root();
    let rules = fs::read_to_string(root.join("docs/rules.md")).expect("docs/rules.md exists");
    let design = fs::read_to_string(root.join("docs/design.md")).expect("docs/design.md exists");
    let sections = rules_sections(&rules);
    assert_eq!(
        sections,
        (1..=11).collect::<BTreeSet<u32>>(),
        "docs/rules.md has the sections §1 to §11, each a `## §N …` heading"
    );
    let design_headings = headings(&design);

    let mut files = Vec::new();
    walk(&root, &root, CITING_EXTENSIONS, &mut files);
    let mut unresolved = Vec::new();
    let mut old = Vec::new();
    let mut cited = 0;
    for path in &files {
        let rel = relative(&root, path);
        let Ok(text) = fs::read_to_string(path) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        let exempt = OLD_CITATION_EXCEPTIONS.contains(&rel.as_str());
        for (i, line) in lines.iter().enumerate() {
            if exempt {
                continue;
            }
            for c in citations(&lines, i) {
                cited += 1;
                let ok = match &c {
                    Citation::Rules(n) => sections.contains(n),
                    Citation::Design(name) => design_headings.contains(&name.to_lowercase()),
                };
                if !ok {
                    unresolved.push(format!("{rel}:{}: {c:?}", i + 1));
                }
            }
            if has_word(line, "RULES") || has_word(line, "DESIGN") {
                old.push(format!("{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        cited > 0,
        "no citation found at all: is the walk reading the workspace?"
    );
    assert!(
        unresolved.is_empty() && old.is_empty(),
        "citations that do not resolve ({}):\n{}\n\nold-style citations (RULES/DESIGN; rewrite \
         with scripts/rewrite-citations.py) ({}):\n{}",
        unresolved.len(),
        unresolved.join("\n"),
        old.len(),
        old.join("\n")
    );
}

#[test]
fn citation_parser_reads_lists_ranges_and_wrapped_names() {
    let text = "//! Here (rules.md §3, §5–§7; docs/rules.md §11). See design.md \"Sync protocol\",\n\
                //! \"Client replica\" and design.md \"never hold a whole\n\
                //! subtree loaded\"; rules.md without a section; design.md: no name.";
    let lines: Vec<&str> = text.lines().collect();
    use Citation::*;
    assert_eq!(
        citations(&lines, 0),
        vec![
            Rules(3),
            Rules(5),
            Rules(7),
            Rules(11),
            Design("Sync protocol".into()),
            Design("Client replica".into()),
        ]
    );
    assert_eq!(
        citations(&lines, 1),
        vec![Design("never hold a whole subtree loaded".into())]
    );
    assert_eq!(citations(&lines, 2), vec![]);
    assert_eq!(
        rules_sections("# t\n## §1 The tree\n## §10 Excel\n## §2x no\n### §3 deeper"),
        [1, 10].into_iter().collect()
    );
    assert!(headings("# A\n## Sync protocol\n### Pull\nno # heading").contains("pull"));
    assert!(has_word("(DESIGN: x)", "DESIGN") && has_word("RULES §5", "RULES"));
    assert!(!has_word("MY_DESIGN_X DESIGNS", "DESIGN"));
}

// ---------------------------------------------------------------------------------------
// Module cycles

/// Rust source with comments, string literals and character literals blanked out (each
/// replaced by a space), so that braces and paths can be read from what is left.
fn code_only(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !b[..i]
                .last()
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string r"…" or r#"…"#, or an identifier starting with r (r#type).
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            i = j;
            out.push(' ');
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                i += if b[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push(' ');
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}'), or a lifetime ('a) left as is.
            if next == Some('\\') {
                // Past the backslash and the escaped character ('\'' included).
                let mut j = i + 3;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push(' ');
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push(' ');
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `code` without the items marked `#[cfg(test)]`: the attribute and the item after it
/// (up to its matching `}` or its `;`, whichever comes first), so test modules and
/// test-only helpers add no edge. Works on [`code_only`] output, where braces balance.
fn without_test_items(code: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let item = &rest[at + MARK.len()..];
        let mut depth = 0usize;
        let mut end = item.len();
        for (k, ch) in item.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = k + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = k + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// The leading identifier of `s` (after spaces).
fn ident(s: &str) -> &str {
    let s = s.trim_start();
    let n = s
        .char_indices()
        .find(|&(_, c)| !(c.is_alphanumeric() || c == '_'))
        .map_or(s.len(), |(k, _)| k);
    &s[..n]
}

/// The first identifiers of the items of a `{a, b::c, d as e}` group that starts `s`
/// (after the `{`), up to its matching `}`.
fn group_heads(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut item_start = true;
    for (k, ch) in s.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            }
            ',' if depth == 0 => item_start = true,
            c if item_start && depth == 0 && !c.is_whitespace() => {
                item_start = false;
                let id = ident(&s[k..]);
                if !id.is_empty() {
                    out.push(id.to_owned());
                }
            }
            _ => {}
        }
    }
    out
}

/// The top-level modules a file refers to: `crate::X`, `crate::{X, …}`, and `super::X` /
/// `super::{X, …}` when its `super`s climb exactly to the crate root (`depth` is the
/// file's module depth: 1 for `src/a.rs` and `src/a/mod.rs`, 2 for `src/a/b.rs`).
///
/// A heuristic, as said in [`module_graph`]: `super` inside an inline module is counted as
/// if the module were its file's.
fn references(src: &str, depth: usize) -> BTreeSet<String> {
    let code = without_test_items(&code_only(src));
    let mut out = BTreeSet::new();
    let mut take = |after: &str| {
        let after = after.trim_start();
        if let Some(group) = after.strip_prefix('{') {
            out.extend(group_heads(group));
        } else {
            let id = ident(after);
            if !id.is_empty() {
                out.insert(id.to_owned());
            }
        }
    };
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        // `crate::` itself, or `$crate::` in a macro; not `my_crate::`.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        take(&code[at + "crate::".len()..]);
    }
    let mut pos = 0;
    while let Some(found) = code[pos..].find("super::") {
        let at = pos + found;
        let before = code[..at].chars().next_back();
        let mut end = at;
        let mut supers = 0;
        while code[end..].starts_with("super::") {
            supers += 1;
            end += "super::".len();
        }
        pos = end;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if supers == depth {
            take(&code[end..]);
        }
    }
    out
}

/// The graph of a crate's top-level modules: each file or folder directly under `src`
/// (except `lib.rs`, `main.rs` and `bin/`, which are crate roots, not modules), with an
/// edge to every other top-level module it refers to ([`references`]).
///
/// Heuristics, deliberately simple: items marked `#[cfg(test)]` are left out (tests may
/// reach anywhere); `super` in an inline module counts as its file's; a reference
/// through a `pub use` of the crate root is not followed.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut nodes: BTreeMap<String, Vec<(PathBuf, usize)>> = BTreeMap::new();
    let Ok(entries) = fs::read_dir(src) else {
        return BTreeMap::new();
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned();
        if path.is_dir() {
            if name == "bin" {
                continue;
            }
            let mut files = Vec::new();
            walk(src, &path, &["rs"], &mut files);
            let list = nodes.entry(name.clone()).or_default();
            for f in files {
                let rel = f.strip_prefix(&path).expect("under the folder");
                let parts = rel.components().count();
                // dir/mod.rs is the module itself; dir/b.rs one deeper; dir/b/c.rs two.
                let depth = if rel.file_name().is_some_and(|n| n == "mod.rs") {
                    parts
                } else {
                    parts + 1
                };
                list.push((f, depth));
            }
        } else if let Some(stem) = name.strip_suffix(".rs") {
            if stem == "lib" || stem == "main" {
                continue;
            }
            nodes.entry(stem.to_owned()).or_default().push((path, 1));
        }
    }
    let names: BTreeSet<String> = nodes.keys().cloned().collect();
    nodes
        .iter()
        .map(|(node, files)| {
            let mut edges = BTreeSet::new();
            for (file, depth) in files {
                let src = fs::read_to_string(file).unwrap_or_default();
                for r in references(&src, *depth) {
                    if r != *node && names.contains(&r) {
                        edges.insert(r);
                    }
                }
            }
            (node.clone(), edges)
        })
        .collect()
}

/// The cycles of a graph: for each strongly connected component of more than one node
/// (Tarjan), the shortest cycle through each of its nodes, each written once as
/// `a -> b -> a` starting from its smallest node.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    struct Tarjan<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        sccs: Vec<Vec<&'g str>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut scc = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    scc.push(w);
                    if w == v {
                        break;
                    }
                }
                self.sccs.push(scc);
            }
        }
    }
    let mut t = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        sccs: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    let mut found = BTreeSet::new();
    for scc in t.sccs.iter().filter(|s| s.len() > 1) {
        let members: BTreeSet<&str> = scc.iter().copied().collect();
        for &start in &members {
            // Breadth-first from `start` inside the component, back to `start`.
            let mut prev: BTreeMap<&str, &str> = BTreeMap::new();
            let mut queue = VecDeque::from([start]);
            let mut last = None;
            'search: while let Some(v) = queue.pop_front() {
                for w in graph.get(v).into_iter().flatten() {
                    let w = w.as_str();
                    if w == start {
                        last = Some(v);
                        break 'search;
                    }
                    if members.contains(w) && !prev.contains_key(w) {
                        prev.insert(w, v);
                        queue.push_back(w);
                    }
                }
            }
            let Some(mut v) = last else { continue };
            let mut path = vec![v];
            while v != start {
                v = prev[v];
                path.push(v);
            }
            path.reverse();
            // Rotate to start at the smallest node, so each cycle is written once.
            let min = (0..path.len()).min_by_key(|&k| path[k]).expect("not empty");
            path.rotate_left(min);
            path.push(path[0]);
            found.insert(path.join(" -> "));
        }
    }
    found.into_iter().collect()
}

/// The source folders whose top-level modules must not form a cycle: each crate's `src`
/// (the nested `schemas/wire` when present) and the `zhtj` binary's folder.
const CRATE_SOURCES: &[&str] = &[
    "schemas/src",
    "schemas/wire/src",
    "client-core/src",
    "client-core/src/bin/zhtj",
    "sync-server/src",
    "desktop/src",
    "tests/src",
];

#[test]
fn no_module_cycle_inside_any_crate() {
    let root = root();
    let mut report = Vec::new();
    let (mut graphs, mut modules) = (0, 0);
    for dir in CRATE_SOURCES {
        let src = root.join(dir);
        if !src.is_dir() {
            continue;
        }
        let graph = module_graph(&src);
        graphs += 1;
        modules += graph.len();
        for c in cycles(&graph) {
            report.push(format!("{dir}: {c}"));
        }
    }
    assert!(
        graphs >= 5 && modules >= 30,
        "only {graphs} crates and {modules} modules found: is the walk reading the workspace?"
    );
    assert!(
        report.is_empty(),
        "module cycles ({}):\n{}",
        report.len(),
        report.join("\n")
    );
}

#[test]
fn cycle_finder_finds_each_cycle_and_nothing_else() {
    let graph = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for &(a, b) in edges {
            g.entry(a.to_owned()).or_default().insert(b.to_owned());
            g.entry(b.to_owned()).or_default();
        }
        g
    };
    // a → b → c → a, with c → d; d ⇄ e; f → a alone.
    let g = graph(&[
        ("a", "b"),
        ("b", "c"),
        ("c", "a"),
        ("c", "d"),
        ("d", "e"),
        ("e", "d"),
        ("f", "a"),
    ]);
    assert_eq!(cycles(&g), vec!["a -> b -> c -> a", "d -> e -> d"]);
    // Two cycles through one node: both are told.
    let g = graph(&[
        ("app", "progress"),
        ("progress", "app"),
        ("app", "tls"),
        ("tls", "app"),
    ]);
    assert_eq!(
        cycles(&g),
        vec!["app -> progress -> app", "app -> tls -> app"]
    );
    // A diamond is no cycle.
    let g = graph(&[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]);
    assert!(cycles(&g).is_empty());
}

#[test]
fn references_read_paths_groups_and_skip_tests_comments_and_strings() {
    let src = r#"
        //! See [`crate::commented`].
        use crate::{alpha, beta::{x, y}, gamma as g};
        use super::delta::Thing;
        fn f() -> char { let _ = "crate::in_string"; crate::epsilon::go(); '{' }
        #[cfg(test)]
        fn helper() { crate::test_helper::x(); }
        pub fn after() { crate::zeta::z(); }
        #[cfg(test)]
        mod tests {
            use crate::in_tests;
            use super::*;
        }
    "#;
    let refs = references(src, 1);
    let expected: BTreeSet<String> = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(refs, expected);
    // One level deeper (`src/a/b.rs`), `super::` is the sibling in `a`, not the crate root.
    assert!(!references("use super::delta;", 2).contains("delta"));
    assert!(references("use super::super::delta;", 2).contains("delta"));
}
