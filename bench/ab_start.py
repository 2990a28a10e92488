"""Interleaved A/B of `start` for several rdaemon binaries against the C reference.

    python3 bench/ab_start.py OLD,NEW bench/build/cref ROUNDS ["--cgroup off"]

Needs `bench/run.sh` to have built bench/build/ (the C reference and the target program). Each
round starts every binary and both C references once, in a random order, and prints the
medians and their ratio to the references (the one-record `cref`, and `cref --state`).
"""
import os, sys, random, statistics, tempfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench
bins = sys.argv[1].split(",")
cref = sys.argv[2]
runs = int(sys.argv[3])
extra = sys.argv[4].split() if len(sys.argv) > 4 else []
work = tempfile.mkdtemp(prefix="abstart-", dir=os.environ.get("ABDIR", "/var/tmp"))
target = os.path.join(os.path.dirname(os.path.abspath(__file__)), "build", "target")
tools = bench.Tools(bins[0], target, work)
crefs = ["cref", "cref-v2"]
res = {b: [] for b in bins + crefs}
for _ in range(runs):
    order = bins + crefs; random.shuffle(order)
    for b in order:
        ts, pidfile, name = tools.fresh("x")
        real = b.split("+")[0].split("@")[0]
        envx = dict(os.environ)
        if "@" in b:
            k, v = b.split("@")[1].split("="); envx[k] = v
        if b.endswith("+lock"):
            fd = os.open(os.path.join(tools.rd_dir, name + ".lock"), os.O_CREAT | os.O_EXCL | os.O_RDONLY, 0o600); os.close(fd)
        if b == "cref":
            argv = [cref, "--log", "/dev/null", pidfile, target, ts]
        elif b == "cref-v2":
            argv = [cref, "--state", tools.rd_dir, "--name", name, "--log", "/dev/null", pidfile, target, ts]
        else:
            argv = [real, "--dir", tools.rd_dir, "-q", "start", "--name", name, "--pidfile", pidfile,
                    "--log", "/dev/null"] + extra + ["--", target, ts]
        t0, t1, _ = bench.run(argv, env=envx)
        pid, _ = bench.wait_stamp(ts, "main")
        res[b].append((t1 - t0) / 1e6)
        bench.kill_and_wait(pid)
        tools.cleanup_rdaemon(name)
        for ext in ("status.new", "json.new"):
            try: os.unlink(os.path.join(tools.rd_dir, name + "." + ext))
            except FileNotFoundError: pass
        for p in (pidfile, pidfile + ".json"):
            try: os.unlink(p)
            except FileNotFoundError: pass
base = statistics.median(res["cref"]); base2 = statistics.median(res["cref-v2"])
for b, v in res.items():
    v = sorted(v)
    m = statistics.median(v)
    print(f"{b:45} median {m:6.3f} p10 {v[len(v)//10]:6.3f} p90 {v[len(v)*9//10]:6.3f}  {m/base:5.2f}x  {m/base2:5.2f}x v2")
