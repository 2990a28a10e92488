#!/usr/bin/env python3
"""Readiness-overshoot fixture: sleeps DELAY_MS, becomes ready in one of five ways and writes
into STAMPFILE the CLOCK_MONOTONIC time (ns) taken right before the system call that made it
ready (listen, create, write, sendto; for http, right after it listens), then waits to be
stopped. Stamping before the call, not
after, keeps the measured overshoot an upper bound: a waiter woken by the call may return before
a stamp taken after it would be written.

    ready_fixture.py tcp    DELAY_MS STAMPFILE PORT    # listen on 127.0.0.1:PORT
    ready_fixture.py http   DELAY_MS STAMPFILE PORT    # listen, then answer GET / with 200
    ready_fixture.py file   DELAY_MS STAMPFILE PATH    # create PATH
    ready_fixture.py log    DELAY_MS STAMPFILE LINE    # print LINE on stdout (the log)
    ready_fixture.py notify DELAY_MS STAMPFILE -       # send READY=1 to $NOTIFY_SOCKET
"""

import http.server
import os
import signal
import socket
import sys
import time

kind, delay, stampfile, arg = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


# Created now, written when ready: for http the stamp is written between listening and answering,
# and creating a file there (up to 0.3 ms on ext4) would count against the waiter.
stamp_file = open(stampfile, "w")


def stamp(t):
    stamp_file.write(f"{t}\n")
    stamp_file.close()


class Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


time.sleep(delay / 1000)
if kind == "tcp":
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(arg)))
    t = time.monotonic_ns()
    s.listen(64)
    stamp(t)
elif kind == "http":
    server = http.server.HTTPServer(("127.0.0.1", int(arg)), Quiet)  # binds and listens
    stamp(time.monotonic_ns())  # the instant it listens: answering is part of the overshoot
    server.serve_forever()
elif kind == "file":
    t = time.monotonic_ns()
    open(arg, "w").close()
    stamp(t)
elif kind == "log":
    line = arg + "\n"
    t = time.monotonic_ns()
    sys.stdout.write(line)
    sys.stdout.flush()
    stamp(t)
elif kind == "notify":
    addr = os.environ["NOTIFY_SOCKET"]
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    t = time.monotonic_ns()
    n.sendto(b"READY=1", addr)
    stamp(t)
else:
    sys.exit(f"unknown kind {kind}")
while True:
    signal.pause()
