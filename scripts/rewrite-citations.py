#!/usr/bin/env python3
"""Rewrite the citations of the documents the project started from into citations of its
own docs (issue 12): `RULES §5` -> `rules.md §5`, `RULES.md` -> `docs/rules.md`,
`DESIGN "X"` -> `design.md "X"`, `DESIGN.md` and a bare `DESIGN` -> `docs/design.md`,
plus the few citations that quoted a sentence instead of a heading.

Idempotent: the new forms match none of the patterns, so a second run changes nothing.
Prints every line it changes (`path:line`, old, new) and, at the end, any upper-case
`RULES`/`DESIGN` it left for a human. `tests/architecture` (the test
`every_rules_and_design_citation_points_into_the_docs`) checks the result.

    python3 scripts/rewrite-citations.py            # rewrite the workspace
    python3 scripts/rewrite-citations.py --check    # only tell; exit 1 if anything would change
    python3 scripts/rewrite-citations.py --root DIR # another copy of the workspace
"""

import argparse
import os
import re
import sys

EXTENSIONS = (".rs", ".ts", ".vue", ".md", ".toml")
SKIP_DIRS = {"target", "node_modules", ".git"}
# Files that name the old forms on purpose (workspace-relative).
EXEMPT = {"tests/architecture/main.rs", "scripts/rewrite-citations.py"}

# A comment's line break inside a wrapped phrase: newline, indentation, `//!`/`///`/`//`.
WRAP = r"(\s*(?://[!/]?)?\s*)"

# Specific rewrites first: each keeps the number of lines (the wrap is kept as captured).
SPECIFIC = [
    # sync-server tls: a quoted sentence, not a heading.
    (
        re.compile(r'DESIGN: "TLS is available \(rustls\) for anything beyond loopback"'),
        r'design.md "Identity and access": TLS (rustls) for anything beyond loopback',
    ),
    # sync-server limits: likewise.
    (
        re.compile(
            r'(?:docs/)?design\.md "Attempts to guess codes or passwords are' + WRAP + r'rate-limited"'
        ),
        r'design.md "Identity and access": guessing codes or passwords is\1rate-limited',
    ),
    # schemas lib.rs: the crate doc said where the rules live twice.
    (
        re.compile(
            r"Each rule cites its section of `RULES\.md`"
            + WRAP
            + r"\(the project's copy of the rules is this crate; see `docs/rules\.md`\)\."
        ),
        r"Each rule cites its section of `docs/rules.md`\1(the rules as this project"
        r" implements them, with the notice's sections).",
    ),
    # tests/history: "RULES of concurrent writes" meant Automerge's rule, not a document.
    (
        re.compile(r"\(RULES of" + WRAP + r"concurrent writes"),
        r"(Automerge's rule for\1concurrent writes",
    ),
]

GENERIC = [
    (re.compile(r"(?:\.\./)?(?:shared/)?\bRULES\.md\b"), "docs/rules.md"),
    (re.compile(r"(?:\.\./)?(?:shared/)?\bDESIGN\.md\b"), "docs/design.md"),
    (re.compile(r"\bRULES\s*§"), "rules.md §"),
    (re.compile(r'\bDESIGN "'), 'design.md "'),
    (re.compile(r"\bDESIGN\b"), "docs/design.md"),
]

LEFT = re.compile(r"(?<![A-Za-z0-9_])(RULES|DESIGN)(?![A-Za-z0-9_])")


def files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in SKIP_DIRS and (rel_dir + "/" + d).lstrip("./") != "fuzz/target"
        )
        for name in sorted(filenames):
            if name.endswith(EXTENSIONS):
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                if rel not in EXEMPT:
                    yield path, rel


def rewrite(text):
    for pattern, replacement in SPECIFIC + GENERIC:
        text = pattern.sub(replacement, text)
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(__file__), ".."))
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    args = parser.parse_args()
    root = os.path.abspath(args.root)

    changed_files = 0
    changed_lines = 0
    long_lines = 0
    left = []
    for path, rel in files(root):
        try:
            with open(path, encoding="utf-8") as f:
                old = f.read()
        except UnicodeDecodeError:
            continue
        new = rewrite(old)
        if new != old:
            old_lines, new_lines = old.split("\n"), new.split("\n")
            assert len(old_lines) == len(new_lines), f"{rel}: a rewrite changed the line count"
            changed_files += 1
            for i, (a, b) in enumerate(zip(old_lines, new_lines)):
                if a != b:
                    changed_lines += 1
                    print(f"{rel}:{i + 1}:\n  - {a.strip()}\n  + {b.strip()}")
                    if rel.endswith(".rs") and len(b) > 100 >= len(a):
                        long_lines += 1
                        print(f"  (now {len(b)} characters wide)")
            if not args.check:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(new)
        for i, line in enumerate(new.split("\n")):
            if LEFT.search(line):
                left.append(f"{rel}:{i + 1}: {line.strip()}")

    verb = "would change" if args.check else "changed"
    print(f"{verb} {changed_lines} lines in {changed_files} files", file=sys.stderr)
    if long_lines:
        print(f"{long_lines} .rs lines are now wider than 100 characters", file=sys.stderr)
    if left:
        print("left for a human (upper-case RULES/DESIGN):", file=sys.stderr)
        for line in left:
            print("  " + line, file=sys.stderr)
    if args.check and changed_files:
        sys.exit(1)
    if left:
        sys.exit(2)


if __name__ == "__main__":
    main()
