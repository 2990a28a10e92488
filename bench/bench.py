#!/usr/bin/env python3
"""rdaemon's benchmark driver: rdaemon side by side with start-stop-daemon, libslack daemon and
daemonize, interleaved, medians over many runs. Called by bench/run.sh, which builds everything
and runs this once under a subreaper and once without.

Every time is taken on CLOCK_MONOTONIC (Python's time.monotonic_ns), the clock the C target
program stamps its main() and its SIGTERM with, so "running" and "exited" are exact, not polled.
Results go to a JSON file; `report` turns one or two JSON files into the Markdown tables and the
plot of docs/performance.md.
"""

import argparse
import errno
import json
import glob
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

DEADLINE = 10.0  # seconds: how long any wait may take before the run is counted as failed


# ---------------------------------------------------------------------------------------------
# small helpers

def now():
    return time.monotonic_ns()


def pct(values, p):
    """The p-th percentile (nearest rank) of values."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, round(p / 100 * (len(s) - 1))))
    return s[k]


def summary(values):
    return {
        "n": len(values),
        "median": statistics.median(values) if values else float("nan"),
        "p10": pct(values, 10),
        "p90": pct(values, 90),
    }


def stamps(path):
    """The target's timestamp lines: {kind: [(pid, ns), ...]}."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3:
                    out.setdefault(parts[0], []).append((int(parts[1]), int(parts[2])))
    except FileNotFoundError:
        pass
    return out


def wait_stamp(path, kind, count=1, deadline=DEADLINE):
    """Waits until the target has written `count` lines of `kind`; returns the last (pid, ns)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        lines = stamps(path).get(kind, [])
        if len(lines) >= count:
            return lines[count - 1]
        time.sleep(0.0005)
    raise TimeoutError(f"no '{kind}' #{count} in {path} after {deadline}s")


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
        return text[text.rindex(")") + 2]
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None


def at_rest(monitor, tool, child, tools):
    """Whether a respawn monitor sleeps in poll (or, for libslack, any sleep) with `child`, its
    newest child, started: rdaemon's once its status names that child."""
    try:
        with open(f"/proc/{monitor}/wchan") as f:
            wchan = f.read()
    except OSError:
        return False
    if proc_state(monitor) != "S":
        return False
    if tool != "rdaemon":
        return True
    try:
        with open(os.path.join(tools.rd_dir, "resp.status")) as f:
            status = json.load(f)
    except (OSError, ValueError):
        return False
    return "poll" in wchan and status.get("child_pid") == child


def alive(pid):
    return proc_state(pid) not in (None, "Z", "X")


def kill_and_wait(pid):
    """SIGKILL a target we started (its pid came from its own stamp) and wait until it is gone."""
    if pid and alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    end = time.monotonic() + DEADLINE
    while pid and alive(pid) and time.monotonic() < end:
        time.sleep(0.001)


def run(argv, env=None, nofile=None):
    """Runs a command to completion; returns (start_ns, end_ns, returncode)."""
    def limit():
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    t0 = now()
    p = subprocess.run(argv, env=env, preexec_fn=limit if nofile else None,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t1 = now()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.decode()[:300]}")
    return t0, t1, p.returncode


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


# ---------------------------------------------------------------------------------------------
# the tools: how each starts and stops the target

class Tools:
    def __init__(self, rdaemon, target, work):
        self.rdaemon = rdaemon
        self.target = target
        self.work = work
        self.rd_dir = os.path.join(work, "rdaemon")
        os.makedirs(self.rd_dir, exist_ok=True)
        self.n = 0

    def fresh(self, tool):
        self.n += 1
        ts = os.path.join(self.work, f"{tool}-{self.n}.ts")
        pidfile = os.path.join(self.work, f"{tool}-{self.n}.pid")
        return ts, pidfile, f"b{self.n}"

    def start_argv(self, tool, ts, pidfile, name):
        t = self.target
        if tool == "rdaemon":
            return [self.rdaemon, "--dir", self.rd_dir, "-q", "start", "--name", name,
                    "--pidfile", pidfile, "--log", "/dev/null", "--", t, ts]
        if tool == "start-stop-daemon":
            return ["start-stop-daemon", "--start", "--quiet", "--background", "--make-pidfile",
                    "--pidfile", pidfile, "--exec", t, "--", ts]
        if tool == "daemon":
            return ["daemon", f"--name={name}", f"--pidfiles={self.work}", "--", t, ts]
        if tool == "daemonize":
            return ["daemonize", "-p", pidfile, t, ts]
        raise ValueError(tool)

    def stop_argv(self, tool, pidfile, name):
        if tool == "rdaemon":
            return [self.rdaemon, "--dir", self.rd_dir, "-q", "stop", name]
        if tool == "start-stop-daemon":
            return ["start-stop-daemon", "--stop", "--quiet", "--pidfile", pidfile,
                    "--retry", "TERM/10/KILL/5"]
        raise ValueError(tool)

    def cleanup_rdaemon(self, name):
        for ext in ("json", "status", "lock", "pid"):
            try:
                os.unlink(os.path.join(self.rd_dir, f"{name}.{ext}"))
            except FileNotFoundError:
                pass
        remove_daemon_cgroups(name)


def cgroup_leaf(name, directory):
    """The cgroup rdaemon makes beneath `rdaemon/` for daemon `name` of the directory given with
    --dir (`Ctx::cgroup_leaf`): `NAME@HASH`, HASH the 32-bit FNV-1a of the directory's path."""
    h = 0x811C9DC5
    for b in os.path.normpath(directory).encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return f"{name}@{h:08x}"


def remove_daemon_cgroups(name):
    """A daemon killed by pid (not by `rdaemon stop`) leaves its empty cgroup behind:
    `rdaemon/NAME`, or `rdaemon/NAME@HASH` for a daemon of a directory given with --dir, as the
    bench's are."""
    for mount in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        base = os.path.join(mount, "rdaemon")
        for cg in [os.path.join(base, name)] + glob.glob(os.path.join(base, name + "@*")):
            try:
                os.rmdir(cg)
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------
# the measurements

def bench_start(tools, runs, results):
    """start returns / start → main(), every tool, interleaved."""
    names = ["rdaemon", "start-stop-daemon", "daemon", "daemonize"]
    ret = {t: [] for t in names}
    to_main = {t: [] for t in names}
    for _ in range(runs):
        random.shuffle(names)
        for tool in names:
            ts, pidfile, name = tools.fresh(tool)
            t0, t1, _ = run(tools.start_argv(tool, ts, pidfile, name))
            pid, t_main = wait_stamp(ts, "main")
            ret[tool].append((t1 - t0) / 1e6)
            to_main[tool].append((t_main - t0) / 1e6)
            kill_and_wait(pid)
            if tool == "rdaemon":
                tools.cleanup_rdaemon(name)
    results["start_return_ms"] = {t: summary(v) for t, v in ret.items()}
    results["start_to_main_ms"] = {t: summary(v) for t, v in to_main.items()}
    results["raw_start_to_main_ms"] = to_main


def bench_cref(tools, cref, runs, results):
    """start against the C reference (bench/cref.c, issue 18 target 2): the start command's wall
    time, rdaemon (default and --cgroup off) and cref with rdaemon's protocol (with a cgroup as
    rdaemon's default makes, where the machine has cgroup v2, and without) and bare,
    interleaved; same target program, same log (/dev/null); each daemon killed by its pid.
    The protocol's state twice: one record beside the pidfile (as version 1 kept it), and
    version 2's (`--state`: the name's lock, the spec and the status, in rdaemon's directory)."""
    cgroups = cgroup_parent()
    rows = {
        "rdaemon": lambda ts, pidfile, name: tools.start_argv("rdaemon", ts, pidfile, name),
        "rdaemon --cgroup off": lambda ts, pidfile, name: tools.start_argv(
            "rdaemon", ts, pidfile, name)[:-3] + ["--cgroup", "off", "--", tools.target, ts],
        "C reference": lambda ts, pidfile, name: [cref, "--log", "/dev/null", pidfile,
                                                  tools.target, ts],
        "C reference, bare": lambda ts, pidfile, name: [cref, "--bare", "--log", "/dev/null",
                                                        tools.target, ts],
        "C reference, v2 state": lambda ts, pidfile, name: [
            cref, "--state", tools.rd_dir, "--name", name, "--log", "/dev/null", pidfile,
            tools.target, ts],
    }
    if cgroups:
        # Beside rdaemon's own cgroups (MOUNT/rdaemon/NAME), so both make theirs in the same
        # parent; named apart from any daemon's.
        rows["C reference, cgroup"] = lambda ts, pidfile, name: [
            cref, "--log", "/dev/null", "--cgroup", os.path.join(cgroups, f"cref-{name}"),
            pidfile, tools.target, ts]
        rows["C reference, v2 state, cgroup"] = lambda ts, pidfile, name: [
            cref, "--state", tools.rd_dir, "--name", name, "--log", "/dev/null", "--cgroup",
            os.path.join(cgroups, f"cref-{name}"), pidfile, tools.target, ts]
    names = list(rows)
    ret = {t: [] for t in names}
    to_main = {t: [] for t in names}
    for _ in range(runs):
        random.shuffle(names)
        for tool in names:
            ts, pidfile, name = tools.fresh("cref" if tool.startswith("C") else "rdaemon")
            t0, t1, _ = run(rows[tool](ts, pidfile, name))
            pid, t_main = wait_stamp(ts, "main")
            ret[tool].append((t1 - t0) / 1e6)
            to_main[tool].append((t_main - t0) / 1e6)
            kill_and_wait(pid)
            if tool.startswith("rdaemon") or "v2 state" in tool:
                tools.cleanup_rdaemon(name)
            for path in (pidfile, pidfile + ".json"):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            if tool.startswith("C reference") and tool.endswith("cgroup"):
                remove_cgroup(os.path.join(cgroups, f"cref-{name}"))
    results["cref_return_ms"] = {t: summary(v) for t, v in ret.items()}
    results["cref_to_main_ms"] = {t: summary(v) for t, v in to_main.items()}
    results["raw_cref_return_ms"] = ret
    results["loadavg"] = open("/proc/loadavg").read().split()[:3]


def cref_table(r):
    """The table of the `cref` step: each rdaemon row against the C reference doing the same
    (rdaemon's default, which makes a cgroup, against the reference with --cgroup, where the run
    had it; --cgroup off against the reference without), with version 2's state (lock, spec,
    status) and with one record; the references against the one-record protocol's."""
    s, m = r["cref_return_ms"], r["cref_to_main_ms"]
    cg = ", cgroup" if "C reference, cgroup" in s else ""
    one = {"rdaemon": f"C reference{cg}", "rdaemon --cgroup off": "C reference"}
    two = {"rdaemon": f"C reference, v2 state{cg}",
           "rdaemon --cgroup off": "C reference, v2 state"}
    lines = ["| start command | returns, median ms | p10 | p90 | → main(), median ms | "
             "against the reference with v2 state | ratio | ≤ 1.5× | "
             "against the reference with one record | ratio | ≤ 1.5× |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for t in ("rdaemon", "rdaemon --cgroup off", "C reference, v2 state, cgroup",
              "C reference, v2 state", "C reference, cgroup", "C reference",
              "C reference, bare"):
        if t not in s:
            continue
        row = (f"| {t} | {fmt(s[t]['median'])} | {fmt(s[t]['p10'])} | {fmt(s[t]['p90'])} | "
               f"{fmt(m[t]['median'])} |")
        for against in (two, one):
            base = against.get(t, "C reference")
            if base not in s or (against is two and not t.startswith("rdaemon")):
                row += " | | |"
                continue
            ratio = s[t]["median"] / s[base]["median"]
            ok = ("yes" if ratio <= 1.5 else "**no**") if t.startswith("rdaemon") else ""
            row += f" {base} | {ratio:.2f}× | {ok} |"
        lines.append(row)
    return "\n".join(lines)


def cgroup_parent():
    """Where rdaemon makes its cgroups here (MOUNT/rdaemon of the cgroup v2 mount, made if
    missing), or None without a writable cgroup v2 mount."""
    for line in open("/proc/self/mountinfo"):
        fields = line.split()
        sep = fields.index("-")
        if fields[sep + 1] == "cgroup2":
            parent = os.path.join(fields[4], "rdaemon")
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError:
                return None
            return parent
    return None


def remove_cgroup(path, deadline=DEADLINE):
    """Removes the empty cgroup `path` once its last process is gone (the kernel refuses with
    EBUSY until then)."""
    end = time.monotonic() + deadline
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY or time.monotonic() > end:
                raise
            time.sleep(0.001)


def bench_nofile(tools, runs, results):
    """start at RLIMIT_NOFILE 1024 and at the highest limit this process may set (1048576 where
    it has CAP_SYS_RESOURCE; rdaemon uses close_range, not a loop over every fd)."""
    high = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if high == resource.RLIM_INFINITY or high > 1048576:
        high = 1048576
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[0], 1048576))
        high = 1048576
    except (ValueError, OSError):
        pass
    limits = [1024, high]
    results["nofile_high"] = high
    tools_ = ["rdaemon", "start-stop-daemon"]
    out = {f"{t}@{n}": [] for t in tools_ for n in limits}
    for _ in range(runs):
        combos = [(t, n) for t in tools_ for n in limits]
        random.shuffle(combos)
        for tool, nofile in combos:
            ts, pidfile, name = tools.fresh(tool)
            t0, t1, _ = run(tools.start_argv(tool, ts, pidfile, name), nofile=nofile)
            pid, t_main = wait_stamp(ts, "main")
            out[f"{tool}@{nofile}"].append((t_main - t0) / 1e6)
            kill_and_wait(pid)
            if tool == "rdaemon":
                tools.cleanup_rdaemon(name)
    results["start_to_main_by_nofile_ms"] = {k: summary(v) for k, v in out.items()}


def bench_stop(tools, runs, results, delay=None, key="stop_prompt"):
    """stop: time until the stop command returns, and its overshoot past the target's exit."""
    names = ["rdaemon", "start-stop-daemon"]
    took = {t: [] for t in names}
    over = {t: [] for t in names}
    env = dict(os.environ)
    if delay:
        env["BENCH_EXIT_DELAY_MS"] = delay
    for _ in range(runs):
        random.shuffle(names)
        for tool in names:
            ts, pidfile, name = tools.fresh(tool)
            run(tools.start_argv(tool, ts, pidfile, name), env=env)
            pid, _ = wait_stamp(ts, "main")
            t0, t1, _ = run(tools.stop_argv(tool, pidfile, name))
            _, t_exit = wait_stamp(ts, "exit")
            if alive(pid):
                raise RuntimeError(f"{tool} stop returned but pid {pid} is alive")
            took[tool].append((t1 - t0) / 1e6)
            over[tool].append((t1 - t_exit) / 1e6)
            kill_and_wait(pid)
            if tool == "rdaemon":
                tools.cleanup_rdaemon(name)
    results[f"{key}_ms"] = {t: summary(v) for t, v in took.items()}
    results[f"{key}_overshoot_ms"] = {t: summary(v) for t, v in over.items()}
    results[f"raw_{key}_overshoot_ms"] = over


def bench_stop_many(tools, runs, results, sizes=(1, 100)):
    """stop of a daemon of N processes (the main one and N-1 members of its group, each the
    target, exiting a random 300-325 ms after SIGTERM): stop's return minus the last exit stamp.
    Members are found in /proc by session and held by pidfd (SPEC §3.1), so the overshoot must
    not grow with N."""
    env = dict(os.environ)
    env["BENCH_EXIT_DELAY_MS"] = "300-325"
    # BENCH_CGROUP=off measures without a cgroup (default: auto, a cgroup where rdaemon can).
    cgroup = os.environ.get("BENCH_CGROUP", "auto")
    results["stop_many_cgroup"] = cgroup
    over = {n: [] for n in sizes}
    took = {n: [] for n in sizes}
    order = list(sizes)
    for _ in range(runs):
        random.shuffle(order)
        for n in order:
            ts, pidfile, name = tools.fresh("rdaemon")
            script = (f'i=1; while [ $i -lt {n} ]; do "$0" "$1" & i=$((i+1)); done; '
                      'exec "$0" "$1"')
            argv = [tools.rdaemon, "--dir", tools.rd_dir, "-q", "start", "--name", name,
                    "--pidfile", pidfile, "--log", "/dev/null", "--cgroup", cgroup, "--",
                    "/bin/sh", "-c", script, tools.target, ts]
            run(argv, env=env)
            wait_stamp(ts, "main", count=n)
            pids = [p for p, _ in stamps(ts)["main"]]
            t0, t1, _ = run([tools.rdaemon, "--dir", tools.rd_dir, "-q", "stop", name])
            wait_stamp(ts, "exit", count=n)
            last = max(t for _, t in stamps(ts)["exit"])
            for pid in pids:
                if alive(pid):
                    raise RuntimeError(f"rdaemon stop returned but pid {pid} is alive")
            took[n].append((t1 - t0) / 1e6)
            over[n].append((t1 - last) / 1e6)
            for pid in pids:
                kill_and_wait(pid)
            tools.cleanup_rdaemon(name)
    results["stop_many_ms"] = {str(n): summary(v) for n, v in took.items()}
    results["stop_many_overshoot_ms"] = {str(n): summary(v) for n, v in over.items()}


def bench_status_list(tools, results):
    """status of one daemon and list over 10, 100, 1000 records, with hyperfine."""
    d = os.path.join(tools.work, "rdaemon-list")
    os.makedirs(d, exist_ok=True)
    ts = os.path.join(tools.work, "status.ts")
    run([tools.rdaemon, "--dir", d, "-q", "start", "--name", "one", "--log", "/dev/null", "--",
         tools.target, ts])
    pid, _ = wait_stamp(ts, "main")
    try:
        results["status_ms"] = hyperfine([tools.rdaemon, "--dir", d, "status", "one"])
        with open(os.path.join(d, "one.json")) as f:
            record = json.load(f)
        out = {}
        made = 1
        for count in (10, 100, 1000):
            while made < count:
                rec = dict(record, name=f"r{made}", pid=None,
                           pidfile=os.path.join(d, f"r{made}.pid"))
                with open(os.path.join(d, f"r{made}.json"), "w") as f:
                    json.dump(rec, f)
                made += 1
            out[str(count)] = hyperfine([tools.rdaemon, "--dir", d, "list"])
        results["list_ms_by_records"] = out
    finally:
        kill_and_wait(pid)
        # Killed by its pid, not stopped: its cgroup stays behind unless removed here, once
        # empty. `one@HASH`, of the --dir: the run at 54da257 left it, removing `one`.
        parent = cgroup_parent()
        if parent:
            remove_cgroup(os.path.join(parent, cgroup_leaf("one", d)))


def bench_scale(tools, runs, results, sizes=(10, 1000)):
    """Per-daemon commands with 10 and with 1000 live daemons in the rdaemon directory (issue 18,
    target 3: the same cost, ≤ 1.2×; list of 1000 ≤ 20 ms). Both directories are filled first
    and live side by side, so the machine runs the same processes for either size; each daemon
    has a pidfile not named after it (found through the pidfile index). Every round, in a random
    order of sizes: start, status NAME, status --pidfile, stop NAME, start, stop --pidfile of a
    probe daemon, and list; timed as every other row (the wall time of the command)."""
    rd = tools.rdaemon
    base = os.path.join(tools.work, "scale")
    dirs = {}
    for n in sizes:
        d, pids = os.path.join(base, f"d{n}"), os.path.join(base, f"p{n}")
        os.makedirs(pids)
        for i in range(n):
            # Names distinct across the two directories: a cgroup is rdaemon/NAME machine-wide.
            run([rd, "--dir", d, "-q", "start", "--name", f"n{n}-{i}", "--pidfile",
                 os.path.join(pids, f"pid-{i}.pid"), "--log", "/dev/null", "--",
                 "sleep", "100000"])
        dirs[n] = (d, pids)
    ops = ["start", "status NAME", "status --pidfile", "stop NAME", "stop --pidfile", "list"]
    out = {op: {str(n): [] for n in sizes} for op in ops}
    order = list(sizes)
    try:
        for _ in range(runs):
            random.shuffle(order)
            for n in order:
                d, pids = dirs[n]
                name, pidfile = f"probe{n}", os.path.join(pids, "probe-pid.pid")
                rdd = [rd, "--dir", d, "-q"]
                start = rdd + ["start", "--name", name, "--pidfile", pidfile, "--log",
                               "/dev/null", "--", "sleep", "100000"]
                timed = [
                    ("start", start),
                    ("status NAME", rdd + ["status", name]),
                    ("status --pidfile", rdd + ["status", "--pidfile", pidfile]),
                    ("stop NAME", rdd + ["stop", name]),
                    (None, start),
                    ("stop --pidfile", rdd + ["stop", "--pidfile", pidfile]),
                    ("list", [rd, "--dir", d, "list"]),
                ]
                for op, argv in timed:
                    t0, t1, _ = run(argv)
                    if op:
                        out[op][str(n)].append((t1 - t0) / 1e6)
        # `list` also as the status step times it (hyperfine -N: no Python spawn in the time).
        results["scale_list_hyperfine_ms"] = {
            str(n): hyperfine([rd, "--dir", dirs[n][0], "list"]) for n in sizes}
    finally:
        for n in sizes:
            subprocess.run([rd, "--dir", dirs[n][0], "-q", "stop", "--all"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results["scale_ms"] = {op: {n: summary(v) for n, v in by.items()} for op, by in out.items()}
    results["loadavg"] = open("/proc/loadavg").read().split()[:3]


def scale_table(r):
    """The table of the `scale` step."""
    s = r["scale_ms"]
    lines = ["| command | 10 daemons, median ms | 1000 daemons, median ms | p90 at 1000 | ratio | "
             "target | met |", "|---|---|---|---|---|---|---|"]
    for op, by in s.items():
        small, big = by["10"]["median"], by["1000"]["median"]
        ratio = big / small
        if op == "list":
            target, ok = "≤ 20 ms at 1000", "yes" if big <= 20 else "**no**"
        else:
            target, ok = "≤ 1.2×", "yes" if ratio <= 1.2 else "**no**"
        lines.append(f"| `{op}` | {fmt(small)} | {fmt(big)} | {fmt(by['1000']['p90'])} | "
                     f"{ratio:.2f}× | {target} | {ok} |")
    h = r.get("scale_list_hyperfine_ms")
    if h:
        small, big = h["10"]["median"], h["1000"]["median"]
        lines.append(f"| `list` (hyperfine -N, 60 runs) | {fmt(small)} | {fmt(big)} | "
                     f"{fmt(h['1000']['p90'])} | {big / small:.2f}× | ≤ 20 ms at 1000 | "
                     f"{'yes' if big <= 20 else '**no**'} |")
    return "\n".join(lines)


def smaps_rollup(pid):
    """Pss and private memory (kB) of a process, from /proc/PID/smaps_rollup."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, _, v = line.partition(":")
            if v.strip().endswith("kB"):
                out[k] = int(v.split()[0])
    return {"Pss_kB": out["Pss"], "Private_kB": out["Private_Clean"] + out["Private_Dirty"],
            "Rss_kB": out["Rss"]}


def bench_pss(tools, results, count=100, nopie=None):
    """Monitor memory (issue 18, target 4): `count` rdaemon --respawn monitors and `count`
    libslack `daemon --respawn` monitors, each over `sleep`, all running at once; the mean Pss and
    private memory per monitor from /proc/PID/smaps_rollup (Pss shares each shared page among the
    processes that map it, so it is what one more monitor costs). With `nopie`, a build of the
    same commit linked as a non-PIE executable (not what is shipped: see docs/performance.md)
    runs `count` more beside them, to measure what the relocated data of the PIE costs."""
    slack = os.path.join(tools.work, "pss-slack")
    os.makedirs(slack)
    os.chmod(slack, 0o755)
    builds = {"rdaemon": tools.rdaemon}
    if nopie:
        builds["rdaemon_nopie"] = nopie
    dirs = {tool: os.path.join(tools.work, f"pss-{tool}") for tool in builds}
    monitors = {tool: [] for tool in list(builds) + ["daemon"]}
    try:
        for i in range(count):
            for tool, binary in builds.items():
                run([binary, "--dir", dirs[tool], "-q", "start", "--name", f"pss{i}",
                     "--respawn", "--log", "/dev/null", "--", "sleep", "100000"])
            run(["daemon", f"--name=pss{i}", f"--pidfiles={slack}", "--respawn", "--",
                 "/bin/sleep", "100000"])
        for i in range(count):
            for tool in builds:
                monitors[tool].append(int(open(os.path.join(dirs[tool], f"pss{i}.pid")).read()))
            path = os.path.join(slack, f"pss{i}.pid")
            end = time.monotonic() + DEADLINE
            while not os.path.exists(path) and time.monotonic() < end:
                time.sleep(0.001)
            monitors["daemon"].append(int(open(path).read()))
        mem = {}
        for tool, pids in monitors.items():
            rows = [smaps_rollup(p) for p in pids]
            mem[tool] = {k: statistics.mean(r[k] for r in rows) for k in rows[0]}
        results["pss"] = mem
        results["pss_count"] = count
    finally:
        for tool, binary in builds.items():
            subprocess.run([binary, "--dir", dirs[tool], "-q", "stop", "--all"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for i in range(count):
            subprocess.run(["daemon", f"--name=pss{i}", f"--pidfiles={slack}", "--stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


PSS_ROWS = (("rdaemon", "rdaemon"),
            ("rdaemon_nopie", "rdaemon, same commit linked non-PIE (not shipped)"),
            ("daemon", "daemon"))


def pss_table(r):
    m = r["pss"]
    lines = [f"| monitor ({r['pss_count']} of each running) | Pss kB | private kB | Rss kB | "
             "target: Pss ≤ libslack's |", "|---|---|---|---|---|"]
    for t, label in PSS_ROWS:
        if t not in m:
            continue
        ok = ("yes" if m[t]["Pss_kB"] <= m["daemon"]["Pss_kB"] else "**no**") \
            if t == "rdaemon" else ""
        lines.append(f"| {label} | {m[t]['Pss_kB']:.0f} | {m[t]['Private_kB']:.0f} | "
                     f"{m[t]['Rss_kB']:.0f} | {ok} |")
    return "\n".join(lines)


def hyperfine(argv):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run(["hyperfine", "-N", "--warmup", "5", "--runs", "60", "--export-json",
                        f.name, "--style", "none", "--", " ".join(argv)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        data = json.load(open(f.name))["results"][0]["times"]
    ms = [t * 1000 for t in data]
    return summary(ms)


def bench_respawn(tools, runs, results):
    """--respawn: SIGKILL of the child → the new child's main(); monitor memory and idle cost."""
    help_text = subprocess.run([tools.rdaemon, "start", "--help"], capture_output=True,
                               text=True).stdout
    if "--respawn" not in help_text:
        results["respawn"] = "skipped: this rdaemon has no --respawn"
        return
    rd_ts = os.path.join(tools.work, "respawn-rdaemon.ts")
    sl_ts = os.path.join(tools.work, "respawn-daemon.ts")
    run([tools.rdaemon, "--dir", tools.rd_dir, "-q", "start", "--name", "resp", "--respawn",
         "--restart-delay", "0", "--max-restarts", "100000", "--log", "/dev/null", "--",
         tools.target, rd_ts])
    sl_started = [0]

    def start_slack():
        sl_started[0] += 1
        run(["daemon", f"--name=resp{sl_started[0]}", f"--pidfiles={tools.work}", "--respawn",
             "--", tools.target, sl_ts])

    start_slack()
    out = {"rdaemon": [], "daemon": []}
    counts = {"rdaemon": 1, "daemon": 1}
    wait_stamp(rd_ts, "main", 1)
    wait_stamp(sl_ts, "main", 1)
    slack_kills = 0
    for _ in range(runs):
        order = ["rdaemon", "daemon"]
        random.shuffle(order)
        for tool in order:
            ts = rd_ts if tool == "rdaemon" else sl_ts
            pid, _ = stamps(ts)["main"][counts[tool] - 1]
            t0 = now()
            os.kill(pid, signal.SIGKILL)
            counts[tool] += 1
            _, t_new = wait_stamp(ts, "main", counts[tool])
            out[tool].append((t_new - t0) / 1e6)
            if tool == "daemon":
                slack_kills += 1
                if slack_kills % 4 == 0:
                    # libslack daemon counts quick deaths and then pauses for --delay (300 s):
                    # give it a fresh instance every few kills.
                    run(["daemon", f"--name=resp{sl_started[0]}", f"--pidfiles={tools.work}",
                         "--stop"])
                    pid, _ = stamps(sl_ts)["main"][counts["daemon"] - 1]
                    end = time.monotonic() + DEADLINE
                    while alive(pid) and time.monotonic() < end:
                        time.sleep(0.001)
                    start_slack()
                    counts["daemon"] += 1
                    wait_stamp(sl_ts, "main", counts["daemon"])
    results["respawn_ms"] = {t: summary(v) for t, v in out.items()}

    monitor = int(open(os.path.join(tools.rd_dir, "resp.pid")).read())
    slack_pid = int(open(os.path.join(tools.work, f"resp{sl_started[0]}.pid")).read())
    mem = {}
    for tool, pid in (("rdaemon", monitor), ("daemon", slack_pid)):
        st = proc_status(pid)
        mem[tool] = {"VmRSS_kB": int(st["VmRSS"].split()[0]),
                     "RssAnon_kB": int(st["RssAnon"].split()[0]),
                     "threads": int(st["Threads"])}
    # The window opens once both monitors rest: the last restart's bookkeeping (rdaemon's saves
    # the new child in the status, then sleeps in poll) is not idleness, and a window opened
    # before it ends counts its last switch (one run at a963fd6 did).
    for tool, pid in (("rdaemon", monitor), ("daemon", slack_pid)):
        last = stamps(rd_ts if tool == "rdaemon" else sl_ts)["main"][counts[tool] - 1][0]
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end and not at_rest(pid, tool, last, tools):
            time.sleep(0.001)
    before = {t: (cpu_ticks(p), ctx(p)) for t, p in (("rdaemon", monitor), ("daemon", slack_pid))}
    time.sleep(10)  # the idle window being measured, not a synchronisation
    for tool, pid in (("rdaemon", monitor), ("daemon", slack_pid)):
        mem[tool]["idle_cpu_ticks_10s"] = cpu_ticks(pid) - before[tool][0]
        mem[tool]["idle_ctx_switches_10s"] = ctx(pid) - before[tool][1]
    results["monitor"] = mem
    run([tools.rdaemon, "--dir", tools.rd_dir, "-q", "stop", "resp"])
    run(["daemon", f"--name=resp{sl_started[0]}", f"--pidfiles={tools.work}", "--stop"])


def bench_up(rdaemon, runs, results, sizes=(1, 10)):
    """`rdaemon up` of N independent daemons, each ready (`--ready file:`) 300 ms after its
    start: with N at once, up takes about one daemon's 300 ms, not N times it (issue 16)."""
    work = tempfile.mkdtemp(prefix="rdaemon-bench-up.")
    env = dict(os.environ, RDAEMON_DIR=os.path.join(work, "rd"))
    times = {str(n): [] for n in sizes}
    for n in sizes:
        with open(os.path.join(work, f"up{n}.toml"), "w") as f:
            for i in range(n):
                f.write(f'[daemons.u{n}-{i}]\nrun = "sleep 0.3; : > u{n}-{i}.ready; exec sleep 1000"\n'
                        f'ready = "file:u{n}-{i}.ready"\n\n')
    for _ in range(runs):
        order = list(sizes)
        random.shuffle(order)
        for n in order:
            path = os.path.join(work, f"up{n}.toml")
            t0 = now()
            subprocess.run([rdaemon, "-q", "up", "-f", path], env=env, check=True)
            times[str(n)].append((now() - t0) / 1e6)
            subprocess.run([rdaemon, "-q", "down", "-f", path], env=env, check=True)
            for i in range(n):
                os.unlink(os.path.join(work, f"u{n}-{i}.ready"))
    results["up_ms"] = {k: summary(v) for k, v in times.items()}
    shutil.rmtree(work, ignore_errors=True)


def up_table(r):
    lines = ["| daemons | median ms | p10 | p90 | target met |", "|---|---|---|---|---|"]
    for n, s in sorted(r["up_ms"].items(), key=lambda kv: int(kv[0])):
        ok = ("yes" if s["median"] < 1000 else "**no**") if n == "10" else ""
        lines.append(f"| {n} | {fmt(s['median'])} | {fmt(s['p10'])} | {fmt(s['p90'])} | {ok} |")
    return "\n".join(lines)


def up_only(args):
    results = {"runs": args.runs}
    bench_up(os.path.abspath(args.rdaemon), args.runs, results)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    print(up_table(results))


def ctx(pid):
    st = proc_status(pid)
    return int(st["voluntary_ctxt_switches"]) + int(st["nonvoluntary_ctxt_switches"])


def measure(args):
    work = tempfile.mkdtemp(prefix="rdaemon-bench.")
    tools = Tools(os.path.abspath(args.rdaemon), os.path.abspath(args.target), work)
    results = {
        "label": args.label,
        "runs": args.runs,
        "subreaper": os.environ.get("BENCH_SUBREAPER") == "1",
        "binary_bytes": os.path.getsize(args.rdaemon),
        "kernel": os.uname().release,
        "cpus": os.cpu_count(),
    }
    steps = [
        ("start", lambda: bench_start(tools, args.runs, results)),
        ("cref", lambda: bench_cref(tools, os.path.abspath(args.cref), args.runs, results)),
        ("nofile", lambda: bench_nofile(tools, args.runs, results)),
        ("stop", lambda: bench_stop(tools, args.runs, results)),
        ("overshoot", lambda: bench_stop(tools, args.runs, results, "300-325", "stop_slow")),
        ("many", lambda: bench_stop_many(tools, args.runs, results)),
        ("status", lambda: bench_status_list(tools, results)),
        ("respawn", lambda: bench_respawn(tools, args.runs, results)),
        ("up", lambda: bench_up(tools.rdaemon, args.runs, results)),
        ("scale", lambda: bench_scale(tools, args.runs, results)),
        ("pss", lambda: bench_pss(tools, results, nopie=args.rdaemon_nopie and os.path.abspath(args.rdaemon_nopie))),
    ]
    for name, step in steps:
        if args.only and name not in args.only.split(","):
            continue
        print(f"[{args.label}] {name} ...", file=sys.stderr, flush=True)
        step()
    results["loadavg"] = open("/proc/loadavg").read().split()[:3]
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    shutil.rmtree(work, ignore_errors=True)
    if "cref_return_ms" in results:
        print(cref_table(results))
    if "scale_ms" in results:
        print(scale_table(results))
    if "pss" in results:
        print(pss_table(results))


# ---------------------------------------------------------------------------------------------
# the report

def fmt(x):
    return "—" if x is None or x != x else (f"{x:.2f}" if x < 100 else f"{x:.0f}")


def row(label, s, ratio=None, target=None):
    r = "" if ratio is None else f"{ratio:.2f}×"
    ok = "" if target is None else ("yes" if ratio is not None and ratio <= target else "**no**")
    return f"| {label} | {fmt(s['median'])} | {fmt(s['p10'])} | {fmt(s['p90'])} | {r} | {ok} |"


def report(args):
    runs = [json.load(open(p)) for p in args.inputs]
    lines = []
    head = "| tool | median ms | p10 | p90 | ratio | target met |\n|---|---|---|---|---|---|"
    for r in runs:
        lines.append(f"### {r.get('label', 'readiness overshoot')}\n")
        size = f"release binary {r['binary_bytes']:,} bytes" if "binary_bytes" in r else "release binary"
        lines.append(f"{r['runs']} interleaved runs per row; kernel {r['kernel']}, {r['cpus']} CPUs; "
                     f"{size}; load average {' / '.join(r.get('loadavg', ['?']))} at the end.\n")
        if "kinds" in r:
            lines.append("**readiness overshoot**: `start --ready` returns minus the instant the"
                         " program became ready (`bench/ready_fixture.py` stamps it), against"
                         " `wait-for-it` and shell loops polling every 0.1 s — target: rdaemon median"
                         " ≤ 3 ms, p90 ≤ 6 ms, ≤ 30 ms of CPU per second waited; `notify` ≤ 1 ms\n")
            lines.append(ready_table(r, with_target=True))
        if "start_return_ms" in r:
            s = r["start_return_ms"]
            m = r["start_to_main_ms"]
            lines.append("**start command returns** (rdaemon has confirmed the exec; the others have not)"
                         " — target: ≤ 1.0× daemonize\n")
            lines.append(head)
            for t in ("rdaemon", "daemonize", "daemon", "start-stop-daemon"):
                ratio = s[t]["median"] / s["daemonize"]["median"]
                lines.append(row(t, s[t], ratio, 1.0 if t == "rdaemon" else None))
            lines.append("\n**start → the program's main()** — target: ≤ 0.5× start-stop-daemon\n")
            lines.append(head)
            for t in ("rdaemon", "daemonize", "daemon", "start-stop-daemon"):
                ratio = m[t]["median"] / m["start-stop-daemon"]["median"]
                lines.append(row(t, m[t], ratio, 0.5 if t == "rdaemon" else None))
        if "cref_return_ms" in r:
            lines.append("\n**start against the C reference** (`bench/cref.c`: the same double fork,"
                         " report pipe, state and pidfile before the exec, exec confirmed; the"
                         " state as version 2 keeps it, the name's lock, spec and status, or as"
                         " one record) — target: ≤ 1.5× the C reference\n")
            lines.append(cref_table(r))
        if "start_to_main_by_nofile_ms" in r:
            n = r["start_to_main_by_nofile_ms"]
            high = r["nofile_high"]
            lines.append(f"\n**start → main() by RLIMIT_NOFILE** (1024 and {high}, the highest this"
                         " machine allows) — target: rdaemon at the high limit ≤ 1.1× at 1024\n")
            lines.append(head)
            for t in ("rdaemon", "start-stop-daemon"):
                base = n[f"{t}@1024"]["median"]
                lines.append(row(f"{t}, nofile 1024", n[f"{t}@1024"], 1.0))
                lines.append(row(f"{t}, nofile {high}", n[f"{t}@{high}"],
                                 n[f"{t}@{high}"]["median"] / base,
                                 1.1 if t == "rdaemon" else None))
        if "stop_prompt_ms" in r:
            s = r["stop_prompt_ms"]
            lines.append("\n**stop of a program that exits at once on SIGTERM** — target: ≤ 0.15×"
                         " start-stop-daemon (`--retry TERM/10/KILL/5`)\n")
            lines.append(head)
            for t in ("rdaemon", "start-stop-daemon"):
                ratio = s[t]["median"] / s["start-stop-daemon"]["median"]
                lines.append(row(t, s[t], ratio, 0.15 if t == "rdaemon" else None))
        if "stop_slow_overshoot_ms" in r:
            o = r["stop_slow_overshoot_ms"]
            lines.append("\n**stop overshoot**: stop returns minus the program's exit, for a program"
                         " that exits 300–325 ms after SIGTERM — target: rdaemon median ≤ 3 ms, p90 ≤ 6 ms\n")
            lines.append("| tool | median ms | p10 | p90 | target met |\n|---|---|---|---|---|")
            for t in ("rdaemon", "start-stop-daemon"):
                ok = ""
                if t == "rdaemon":
                    ok = "yes" if o[t]["median"] <= 3 and o[t]["p90"] <= 6 else "**no**"
                lines.append(f"| {t} | {fmt(o[t]['median'])} | {fmt(o[t]['p10'])} | {fmt(o[t]['p90'])} | {ok} |")
        if "stop_many_overshoot_ms" in r:
            o, s = r["stop_many_overshoot_ms"], r["stop_many_ms"]
            lines.append("\n**stop of a daemon of 100 processes** (`--cgroup "
                         f"{r.get('stop_many_cgroup', 'auto')}`): each exits 300–325 ms after SIGTERM;"
                         " stop's return minus the last exit — target: rdaemon median ≤ 5 ms at 100\n")
            lines.append("| processes | stop median ms | overshoot median ms | p10 | p90 | target met |")
            lines.append("|---|---|---|---|---|---|")
            for n in sorted(o, key=int):
                ok = ("yes" if o[n]["median"] <= 5 else "**no**") if n == "100" else ""
                lines.append(f"| {n} | {fmt(s[n]['median'])} | {fmt(o[n]['median'])} | "
                             f"{fmt(o[n]['p10'])} | {fmt(o[n]['p90'])} | {ok} |")
        if "status_ms" in r:
            lines.append("\n**status and list** (hyperfine, 60 runs) — targets: status ≤ 2 ms,"
                         " list of 1000 ≤ 50 ms\n")
            lines.append("| command | median ms | p10 | p90 | target met |\n|---|---|---|---|---|")
            s = r["status_ms"]
            lines.append(f"| status of one daemon | {fmt(s['median'])} | {fmt(s['p10'])} | {fmt(s['p90'])} | "
                         f"{'yes' if s['median'] <= 2 else '**no**'} |")
            for count, s in r["list_ms_by_records"].items():
                ok = ("yes" if s["median"] <= 50 else "**no**") if count == "1000" else ""
                lines.append(f"| list, {count} records | {fmt(s['median'])} | {fmt(s['p10'])} | {fmt(s['p90'])} | {ok} |")
        if isinstance(r.get("respawn_ms"), dict):
            s = r["respawn_ms"]
            lines.append("\n**respawn**: SIGKILL of the child → the new child's main(), rdaemon with"
                         " `--restart-delay 0` — target: ≤ 1.0× libslack daemon\n")
            lines.append(head)
            for t in ("rdaemon", "daemon"):
                ratio = s[t]["median"] / s["daemon"]["median"]
                lines.append(row(t, s[t], ratio, 1.0 if t == "rdaemon" else None))
            m = r["monitor"]
            lines.append("\n**the monitor at rest** — targets: VmRSS ≤ libslack's, RssAnon ≤ 512 kB,"
                         " zero CPU ticks and context switches over 10 idle seconds\n")
            lines.append("| monitor | VmRSS kB | RssAnon kB | threads | CPU ticks / 10 s | context switches / 10 s |")
            lines.append("|---|---|---|---|---|---|")
            for t in ("rdaemon", "daemon"):
                x = m[t]
                lines.append(f"| {t} | {x['VmRSS_kB']} | {x['RssAnon_kB']} | {x['threads']} | "
                             f"{x['idle_cpu_ticks_10s']} | {x['idle_ctx_switches_10s']} |")
        elif "respawn" in r:
            lines.append(f"\n**respawn**: {r['respawn']}\n")
        if "up_ms" in r:
            lines.append("\n**up** of N independent daemons, each ready 300 ms after its start"
                         " (`--ready file:`), from the command to its exit — target: 10 well under"
                         " 1 s\n")
            lines.append(up_table(r))
        if "scale_ms" in r:
            lines.append("\n**per-daemon commands with 10 and 1000 live daemons in the directory**"
                         " — target: ≤ 1.2×; list of 1000 ≤ 20 ms\n")
            lines.append(scale_table(r))
        if "pss" in r:
            lines.append("\n**monitor memory, Pss per monitor** — target: ≤ libslack daemon's\n")
            lines.append(pss_table(r))
        lines.append("")
    text = "\n".join(lines)
    if args.doc:
        doc = open(args.doc).read()
        begin, end = "<!-- results:begin -->", "<!-- results:end -->"
        i, j = doc.index(begin) + len(begin), doc.index(end)
        doc = doc[:i] + "\n" + text + "\n" + doc[j:]
        open(args.doc, "w").write(doc)
    else:
        print(text)
    if args.plot:
        plot(runs, args.plot)


def plot(runs, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = [r for r in runs if "raw_stop_slow_overshoot_ms" in r]
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    for ax, r in zip(axes[0], panels):
        data = r["raw_stop_slow_overshoot_ms"]
        tools_ = ["rdaemon", "start-stop-daemon"]
        ax.boxplot([data[t] for t in tools_], showfliers=True)
        ax.set_xticks(range(1, len(tools_) + 1), tools_)
        for i, t in enumerate(tools_, start=1):
            xs = [i + random.uniform(-0.12, 0.12) for _ in data[t]]
            ax.scatter(xs, data[t], s=8, alpha=0.5)
        ax.set_ylabel("stop returns after the program's exit (ms)")
        ax.set_title(r["label"], fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("stop overshoot, program exits 300–325 ms after SIGTERM")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# ---------------------------------------------------------------------------------------------
# readiness overshoot (issue 18, target 1)

READY_DELAY_MS = 1000  # the fixture becomes ready this long after it starts: long enough that
# the fixed cost of a start (exec, preflight) does not dominate the CPU per second waited
READY_LINE = "bench fixture is ready"


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def timed_wait(argv, env=None, stdout=subprocess.DEVNULL):
    """Runs argv to completion: (start_ns, end_ns, returncode, cpu seconds of it and its reaped
    children, from wait4's rusage)."""
    t0 = now()
    p = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    t1 = now()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.read()[:300]}")
    return t0, t1, p.returncode, ru.ru_utime + ru.ru_stime


def read_stamp(path, deadline=DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with open(path) as f:
                text = f.read()
            if text.endswith("\n"):
                return int(text)
        except FileNotFoundError:
            pass
        time.sleep(0.001)
    raise TimeoutError(f"no stamp in {path}")


def ready_rows(fixture, has_wait_for_it):
    """(label, kind, waiter) for every row: waiter None means rdaemon start --ready."""
    rows = [(f"rdaemon --ready {k}", k, None) for k in ("tcp", "file", "http", "log", "notify")]
    rows += [
        ("shell loop, sleep 0.1 (bash /dev/tcp)", "tcp",
         "until (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null; do sleep 0.1; done"),
        ("shell loop, sleep 0.1 ([ -e ])", "file", "until [ -e {path} ]; do sleep 0.1; done"),
        ("shell loop, sleep 0.1 (curl -fs)", "http",
         "until curl -fs -o /dev/null http://127.0.0.1:{port}/; do sleep 0.1; done"),
        ("shell loop, sleep 0.1 (grep -q)", "log",
         "until grep -qx '{line}' {log} 2>/dev/null; do sleep 0.1; done"),
    ]
    if has_wait_for_it:
        rows.append(("wait-for-it", "tcp", "wait-for-it -q -t 30 127.0.0.1:{port}"))
    return rows


def bench_ready(args):
    rd = os.path.abspath(args.rdaemon)
    fixture = os.path.abspath(args.fixture)
    work = tempfile.mkdtemp(prefix="rdaemon-bench-ready.")
    env = dict(os.environ, RDAEMON_DIR=work)
    env.pop("NOTIFY_SOCKET", None)
    rows = ready_rows(fixture, shutil.which("wait-for-it") is not None)
    samples = {label: {"overshoot_ms": [], "cpu_ms_per_s": [], "cpu_ms": []}
               for label, _, _ in rows}
    n = 0
    for r in range(args.runs):
        order = rows[:]
        random.shuffle(order)  # interleaved: every tool sees the same moments of a busy machine
        for label, kind, waiter in order:
            n += 1
            port = free_port()
            stampfile = os.path.join(work, f"stamp{n}")
            log = os.path.join(work, f"r{n}.log")
            path = os.path.join(work, f"ready{n}")
            arg = {"tcp": str(port), "http": str(port), "file": path, "log": READY_LINE,
                   "notify": "-"}[kind]
            fix = [sys.executable, fixture, kind, str(READY_DELAY_MS), stampfile, arg]
            if waiter is None:
                spec = {"tcp": f"tcp:{port}", "http": f"http:http://127.0.0.1:{port}/",
                        "file": f"file:{path}", "log": f"log:^{READY_LINE}$",
                        "notify": "notify"}[kind]
                name = f"r{n}"
                t0, t1, _, cpu = timed_wait(
                    [rd, "start", "--name", name, "--stdout", log, "--ready", spec,
                     "--ready-timeout", "30s", "--"] + fix, env=env)
                stamp = read_stamp(stampfile)
                subprocess.run([rd, "stop", name], env=env, stdout=subprocess.DEVNULL)
                subprocess.run([rd, "forget", name], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            else:
                with open(log, "w") as out:
                    daemon = subprocess.Popen(fix, stdout=out, stderr=subprocess.DEVNULL)
                try:
                    cmd = waiter.format(port=port, path=path, line=READY_LINE, log=log)
                    t0, t1, _, cpu = timed_wait(["bash", "-c", cmd])
                    stamp = read_stamp(stampfile)
                finally:
                    daemon.kill()
                    daemon.wait()
            waited = (t1 - t0) / 1e9
            samples[label]["overshoot_ms"].append((t1 - stamp) / 1e6)
            samples[label]["cpu_ms_per_s"].append(cpu * 1000 / waited)
            samples[label]["cpu_ms"].append(cpu * 1000)
        print(f"[ready] run {r + 1}/{args.runs}", file=sys.stderr, flush=True)
    results = {
        "label": "readiness overshoot",
        "binary_bytes": os.path.getsize(rd),
        "runs": args.runs,
        "delay_ms": READY_DELAY_MS,
        "kernel": os.uname().release,
        "cpus": os.cpu_count(),
        "loadavg": open("/proc/loadavg").read().split()[:3],
        "rows": {label: {k: summary(v) for k, v in s.items()} for label, s in samples.items()},
        "kinds": {label: kind for label, kind, _ in rows},
    }
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    shutil.rmtree(work, ignore_errors=True)
    print(ready_table(results))


def ready_table(results, with_target=False):
    lines = [
        "| kind | tool | overshoot median (ms) | p90 (ms) | CPU (ms per s waited) | CPU in all (ms) |"
        + (" target met |" if with_target else ""),
        "|---|---|---|---|---|---|" + ("---|" if with_target else ""),
    ]
    for label, row in sorted(results["rows"].items(),
                             key=lambda kv: (results["kinds"][kv[0]], not kv[0].startswith("rdaemon"))):
        o, c, t = row["overshoot_ms"], row["cpu_ms_per_s"], row["cpu_ms"]
        kind = results["kinds"][label]
        line = (f"| `{kind}` | {label} | {o['median']:.2f} | "
                f"{o['p90']:.2f} | {c['median']:.1f} | {t['median']:.1f} |")
        if with_target:
            ok = ""
            if label.startswith("rdaemon"):
                met = (o["median"] <= 1 if kind == "notify" else
                       o["median"] <= 3 and o["p90"] <= 6 and c["median"] <= 30)
                ok = "yes" if met else "**no**"
            line += f" {ok} |"
        lines.append(line)
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--rdaemon", required=True)
    m.add_argument("--target", required=True)
    m.add_argument("--runs", type=int, default=30)
    m.add_argument("--label", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--cref", default=os.path.join(os.path.dirname(__file__), "build", "cref"),
                   help="the C reference for start (bench/cref.c), for the cref step")
    m.add_argument("--rdaemon-nopie", help="the pss step: also a non-PIE build of rdaemon "
                   "(bench/run.sh builds one), measured beside the shipped one")
    m.add_argument("--only", help="comma-separated steps: start,cref,nofile,stop,overshoot,many,"
                   "status,respawn,scale,pss,up")
    rd = sub.add_parser("ready", help="readiness overshoot: rdaemon --ready against peers")
    rd.add_argument("--rdaemon", required=True)
    rd.add_argument("--fixture", default=os.path.join(os.path.dirname(__file__), "ready_fixture.py"))
    rd.add_argument("--runs", type=int, default=20)
    rd.add_argument("--out", required=True)
    u = sub.add_parser("up", help="up of 1 and 10 daemons ready after 300 ms; prints its table")
    u.add_argument("--rdaemon", required=True)
    u.add_argument("--runs", type=int, default=10)
    u.add_argument("--out")
    r = sub.add_parser("report")
    r.add_argument("inputs", nargs="+")
    r.add_argument("--doc", help="docs/performance.md: replace its results section")
    r.add_argument("--plot", help="write the overshoot plot (PNG) here")
    args = p.parse_args()
    {"measure": measure, "ready": bench_ready, "up": up_only, "report": report}[args.cmd](args)


if __name__ == "__main__":
    main()
