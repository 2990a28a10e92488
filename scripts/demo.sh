#!/bin/sh
# Builds rdaemon and runs it on a real example: Python's web server as a daemon, in a
# throw-away rdaemon directory. Start, status, a request to the server, list, stop.
set -eu
cd "$(dirname "$0")/.."
cargo build --release --locked
rd=./target/release/rdaemon
RDAEMON_DIR=$(mktemp -d /tmp/rdaemon-demo.XXXXXX)
export RDAEMON_DIR
echo "== rdaemon directory: $RDAEMON_DIR"

set -x
$rd start --name web --chdir "$RDAEMON_DIR" -- python3 -u -m http.server 0 --bind 127.0.0.1
$rd status web
set +x

# Port 0 lets the kernel choose; the server names its port in the log. Wait for it (10 s at most).
port=""
for _ in $(seq 1 200); do
    port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$RDAEMON_DIR/web.log" | head -n 1)
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || { echo "the server did not report its port"; exit 1; }
python3 -c "import urllib.request; print('GET / ->', urllib.request.urlopen('http://127.0.0.1:$port/').status)"

set -x
$rd list
$rd stop web
$rd status web || echo "status exit code $? (3: stopped)"
