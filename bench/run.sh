#!/usr/bin/env bash
# rdaemon's benchmark, side by side with start-stop-daemon, libslack daemon and daemonize.
# Not part of the test command. Run as root on a quiet machine:
#
#   bench/run.sh            # 30 interleaved runs per row (RUNS=50 bench/run.sh for more)
#   READY_ONLY=1 bench/run.sh   # only the readiness overshoot (rdaemon --ready against
#                               # wait-for-it and shell polling loops); prints its table
#   CREF_ONLY=1 bench/run.sh    # only start against the C reference (bench/cref.c), under the
#                               # subreaper; prints its table
#   PSS_ONLY=1 bench/run.sh     # only the monitors' memory; prints its table
#
# It installs what it needs (hyperfine, daemon, daemonize from Debian; matplotlib from PyPI),
# builds rdaemon (release; and the same code linked as a non-PIE executable, not shipped, for the
# memory step's comparison row) and three small C programs: the target, which stamps CLOCK_MONOTONIC
# at the top of main() and at SIGTERM, a subreaper, and the C reference for start (cref). It
# measures everything once under the subreaper (so PID 1's late reaping does not distort the
# peers) and the stop rows once without, then writes the tables into docs/performance.md and
# the plot to docs/performance.png.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-30}

missing=()
for tool in hyperfine daemon daemonize start-stop-daemon gcc wait-for-it curl; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
    echo "== installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine daemon daemonize \
        wait-for-it curl >/dev/null
fi
python3 -c 'import matplotlib' 2>/dev/null || python3 -m pip install -q matplotlib
# A `--ready tcp:`/`http:` wait sleeps on the kernel's TCP state tracepoint where tracefs is
# mounted (src/process.rs, `TcpStateEvents`), and looks every 2 ms without it: mounted here, as
# most systems have it, so that runs compare. Said when it cannot be.
if [[ ! -e /sys/kernel/tracing/events/sock ]]; then
    mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null ||
        echo "== no tracefs: --ready tcp: and http: look every 2 ms in this run"
fi

cargo build --release --locked
mkdir -p bench/build bench/results
# libslack daemon refuses to run a program from a group- or world-writable directory.
chmod 755 bench/build
gcc -O2 -Wall -Wextra -o bench/build/target bench/target.c
gcc -O2 -Wall -Wextra -o bench/build/subreaper bench/subreaper.c
gcc -O2 -Wall -Wextra -o bench/build/cref bench/cref.c

rd=target/release/rdaemon
if [[ -n ${CREF_ONLY:-} ]]; then
    echo "== start against the C reference, under a subreaper"
    BENCH_SUBREAPER=1 bench/build/subreaper python3 bench/bench.py measure --rdaemon "$rd" \
        --target bench/build/target --cref bench/build/cref --runs "$runs" \
        --label "start against the C reference" --only cref --out bench/results/cref.json
    exit 0
fi
# The memory step's comparison row: what the position-independent executable's relocated data
# costs each monitor. --target keeps RUSTFLAGS off the proc macros, which must stay PIC.
host=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="-C relocation-model=static" cargo build --release --locked --target "$host" \
    --target-dir bench/build/nopie
nopie=bench/build/nopie/$host/release/rdaemon
if [[ -n ${PSS_ONLY:-} ]]; then
    echo "== the monitors' memory"
    python3 bench/bench.py measure --rdaemon "$rd" --rdaemon-nopie "$nopie" \
        --target bench/build/target --label "monitor memory" --only pss \
        --out bench/results/pss.json
    exit 0
fi
echo "== readiness overshoot"
python3 bench/bench.py ready --rdaemon "$rd" --runs "$runs" --out bench/results/ready.json
if [[ -n ${READY_ONLY:-} ]]; then
    exit 0
fi
echo "== under a subreaper"
BENCH_SUBREAPER=1 bench/build/subreaper python3 bench/bench.py measure --rdaemon "$rd" \
    --rdaemon-nopie "$nopie" --target bench/build/target --cref bench/build/cref --runs "$runs" \
    --label "under a subreaper" \
    --out bench/results/subreaper.json
echo "== without a subreaper: PID 1 reaps the exited daemon late"
python3 bench/bench.py measure --rdaemon "$rd" --target bench/build/target --runs "$runs" \
    --label "without a subreaper (PID 1 reaps late)" --only stop,overshoot \
    --out bench/results/plain.json
python3 bench/bench.py report bench/results/ready.json bench/results/subreaper.json \
    bench/results/plain.json \
    --doc docs/performance.md --plot docs/performance.png
echo "== docs/performance.md and docs/performance.png updated"
