#!/bin/sh
# Builds rdaemon and runs it on a real example: Python's web server as a daemon, in a
# throw-away rdaemon directory. Start (ready once the port answers), status, a request, the
# log, list, stop.
set -eu
cd "$(dirname "$0")/.."
cargo build --release --locked
rd=./target/release/rdaemon
RDAEMON_DIR=$(mktemp -d /tmp/rdaemon-demo.XXXXXX)
export RDAEMON_DIR
# Whatever happens (a failed step, Ctrl-C), the server is stopped and the directory removed.
cleanup() {
    set +x
    "$rd" stop web >/dev/null 2>&1 || true
    rm -rf "$RDAEMON_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo "== rdaemon directory: $RDAEMON_DIR"
# A free loopback port for the server.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

set -x
$rd start --name web --chdir "$RDAEMON_DIR" --ready "tcp:127.0.0.1:$port" \
    -- python3 -u -m http.server "$port" --bind 127.0.0.1
$rd status web
python3 -c "import urllib.request; print('GET / ->', urllib.request.urlopen('http://127.0.0.1:$port/').status)"
$rd logs web -n 5
$rd list
$rd stop web
$rd status web || echo "status exit code $? (3: stopped)"
