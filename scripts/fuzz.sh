#!/bin/sh
# Runs rdaemon's fuzz targets (fuzz/, issue 8) one after the other, each for SECONDS (default
# 150), one libFuzzer job each at the lowest CPU priority. Needs `cargo install cargo-fuzz`.
# cargo-fuzz uses nightly-only rustc flags (-Zsanitizer=address); RUSTC_BOOTSTRAP=1 lets the
# stable toolchain accept them. New corpus entries go to fuzz/corpus/TARGET (not committed);
# the committed seeds in fuzz/seeds/TARGET are read too. A crash ends that target's run, is
# saved in fuzz/artifacts/TARGET/ and makes the script exit 1 after the other targets have run.
# SANITIZER=none skips AddressSanitizer: about ten times the executions per second, and
# RUSTC_BOOTSTRAP is not needed then. See docs/testing.md.
#
#   sh scripts/fuzz.sh [SECONDS] [TARGET...]     # no TARGET: all of them
#   SANITIZER=none sh scripts/fuzz.sh 60 record
set -eu
cd "$(dirname "$0")/.."
secs=${1:-150}
[ $# -gt 0 ] && shift
targets=${*:-$(cargo fuzz list)}
export RUSTC_BOOTSTRAP=1
failed=""
for t in $targets; do
    mkdir -p "fuzz/corpus/$t"
    echo "== $t: ${secs}s"
    nice -n 19 cargo fuzz run --debug-assertions --sanitizer "${SANITIZER:-address}" \
        "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 || failed="$failed $t"
done
if [ -n "$failed" ]; then
    echo "== crashed:$failed (inputs in fuzz/artifacts/)"
    exit 1
fi
echo "== no crash"
