#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine with a Rust toolchain:
# installs the system packages the build needs (if missing), builds and unit-tests the
# desktop front-end, then checks formatting, lints, and runs every test of the workspace
# (the desktop app's window tests included). `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: C toolchain for the bundled SQLite and zstd; for the desktop app
# (desktop/), WebKitGTK 4.1 to build it, and to drive it in a real window: the WebKit
# WebDriver, a virtual X server and a CJK font (screenshots in Chinese); PostgreSQL, whose
# private test cluster the server's tests run on a second time (scripts/pg.sh).
packages=(build-essential pkg-config libwebkit2gtk-4.1-dev webkit2gtk-driver xvfb fonts-noto-cjk
  postgresql)
# Node.js for the front-end (Debian's 18 is enough); an installed one is kept.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing system packages: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy || true

# The desktop app's WebDriver server (tauri-driver), for its end-to-end tests.
if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  echo "==> cargo install tauri-driver"
  cargo install tauri-driver --locked
fi

# The desktop front-end: its packages (package-lock.json), its unit tests (Vitest), and
# the build the app embeds (desktop/ui/dist, needed before cargo builds the workspace).
echo "==> desktop/ui: npm ci, vitest, vite build"
(cd desktop/ui && npm ci --no-audit --no-fund && npm test && npm run build)

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "==> cargo test (the server on SQLite)"
cargo test --workspace

# The server's and the end-to-end tests again (the desktop app's window tests included),
# the server on PostgreSQL: a private cluster and a streaming replica of it (initdb in a
# temporary folder, free ports), stopped when the subshell ends; with them the tests of
# several server processes on one database (feature postgres-tests).
echo "==> cargo test (the server on PostgreSQL)"
(
  . scripts/pg.sh
  cargo test -p sync-server -p e2e -p zhtj-desktop --features sync-server/postgres-tests
)

# A short fuzzing run of every cargo-fuzz target (fuzz/README.md), from the committed
# corpus, without a sanitizer: it builds faster, and every finding so far was an abort, a
# panic or memory exhaustion, which need none. Longer runs, with AddressSanitizer, are
# reported in docs/reliability.md.
# ZHTJ_SKIP_FUZZ=1 skips it (local runs); FUZZ_SECONDS sets the time per target.
if [ -z "${ZHTJ_SKIP_FUZZ:-}" ]; then
  echo "==> fuzz smoke"
  FUZZ_SANITIZER="${FUZZ_SANITIZER:-none}" FUZZ_SECONDS="${FUZZ_SECONDS:-20}" \
    bash scripts/fuzz-smoke.sh
fi
