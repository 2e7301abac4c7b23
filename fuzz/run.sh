#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), starting from the
# inputs that once failed (fuzz/regressions/<target>/), which must pass.
# With a nightly toolchain, under cargo-fuzz (coverage-guided, installed
# if missing); without one, the targets built on stable run as plain
# random testers, and say so.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
targets=(parse session h2 hpack records h3)
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
flags=(-max_total_time="$seconds" -print_final_stats=1)
# FUZZ_STABLE=1 takes the stable path even where a nightly is found.
if [ -z "${FUZZ_STABLE:-}" ] && cargo +nightly --version >/dev/null 2>&1; then
    command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet
    cargo +nightly fuzz build
    run() { cargo +nightly fuzz run "$1" "${@:2}" -- "${flags[@]}"; }
    how="cargo-fuzz, coverage-guided"
else
    cargo build --release --bins
    run() { "target/release/$1" "${@:2}" "${flags[@]}"; }
    how="stable build, not coverage-guided"
fi
for t in "${targets[@]}"; do
    mkdir -p "$corpus/$t"
    seeds=()
    [ -d "regressions/$t" ] && seeds=("regressions/$t")
    echo "fuzz $t: ${seconds}s ($how)"
    set +e
    run "$t" "$corpus/$t" "${seeds[@]}" >"$corpus/$t.log" 2>&1
    status=$?
    set -e
    grep -E '^(Done |stat::number_of_executed_units)' "$corpus/$t.log" || true
    if [ "$status" -ne 0 ]; then
        tail -40 "$corpus/$t.log"
        echo "fuzz $t: FAILED (status $status)"
        exit 1
    fi
done
