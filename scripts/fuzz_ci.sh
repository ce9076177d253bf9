#!/bin/sh
# Runs every libFuzzer target in BUILD/fuzz for SECONDS each (default 10) from the committed seed corpus
# fuzz/corpus/TARGET/ (read only: new inputs go to a temporary directory), one target at a time.  A crash,
# leak, sanitizer report or timeout fails the run and leaves the input that caused it in the printed
# directory; turn it into a regression test in tests/ and fix it.
# usage: scripts/fuzz_ci.sh [BUILD] [SECONDS]      (make fuzz builds BUILD = build-fuzz)
set -eu
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
secs=${2:-10}
work=$(mktemp -d "${TMPDIR:-/tmp}/ebm-fuzz-XXXXXX")
failed=""
for exe in "$build"/fuzz/fuzz_*; do
    name=$(basename "$exe")
    [ "$name" = fuzz_make_seeds ] && continue
    target=${name#fuzz_}
    seeds=fuzz/corpus/$target
    [ -d "$seeds" ] || { echo "fuzz: no seed corpus $seeds for $name" >&2; failed="$failed $name"; continue; }
    mkdir -p "$work/$target" "$work/$target.crash"
    echo "fuzz: $name for ${secs}s from $seeds"
    if ! "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$work/$target.crash/" "$work/$target" "$seeds" >"$work/$target.log" 2>&1; then
        tail -n 40 "$work/$target.log" >&2
        echo "fuzz: $name FAILED; inputs in $work/$target.crash/" >&2
        failed="$failed $name"
    else
        grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$work/$target.log" | tr '\n' ' '
        echo
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed" >&2
    exit 1
fi
rm -rf "$work"
echo "fuzz: every target ran ${secs}s without a finding"
