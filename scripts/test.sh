#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine with a Rust toolchain:
# installs the system packages the build needs (if missing), then checks formatting,
# lints, and runs every test of the workspace. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: C toolchain for the bundled SQLite and zstd.
packages=(build-essential pkg-config)
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

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "==> cargo test"
cargo test --workspace

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
