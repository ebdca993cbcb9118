#!/usr/bin/env bash
# A short fuzzing run for CI: every target of fuzz/ for FUZZ_SECONDS (default 20) seconds,
# starting from the committed corpus, with AddressSanitizer (FUZZ_SANITIZER=none for a
# build without it). Exits non-zero on the first crash, leaking input or build failure;
# the reproducer is then in fuzz/artifacts/<target>/ (see fuzz/README.md).
#
# Installs cargo-fuzz (crates.io, --locked) if missing. Only the stable toolchain is needed:
# RUSTC_BOOTSTRAP=1 lets it take the -Z flags cargo-fuzz passes.
#
# New inputs found go to a temporary folder, not to fuzz/corpus (keep the committed corpus
# as the long runs left it; see fuzz/README.md to grow it).
set -euo pipefail

cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-20}"
sanitizer="${FUZZ_SANITIZER:-address}"
export RUSTC_BOOTSTRAP=1

start=$(date +%s)
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
installed=$(date +%s)

cargo fuzz build -s "$sanitizer"
built=$(date +%s)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
for target in $(cargo fuzz list); do
    mkdir -p "$work/$target"
    log="$work/$target.log"
    # The first corpus folder takes new inputs; the committed one is only read.
    if cargo fuzz run -s "$sanitizer" "$target" "$work/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        runs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1)
        cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)
        echo "fuzz-smoke: $target ok: $runs(s), $cov"
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "fuzz-smoke: $target FAILED; the end of its log:"
        tail -60 "$log"
        ls "fuzz/artifacts/$target" 2>/dev/null | sed 's/^/  artifact: /'
    fi
done
done_at=$(date +%s)

echo "fuzz-smoke: install $((installed - start)) s, build $((built - installed)) s," \
    "runs $((done_at - built)) s, total $((done_at - start)) s"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
