//! `start`'s two children share rdaemon's memory instead of copying it (`clone3` with
//! `CLONE_VM`, issue 18): nothing is copied at their creation and nothing becomes copy-on-write
//! after. What that needs and must not change: the daemon-to-be runs beside rdaemon with every
//! signal blocked until its exec (no handler of rdaemon's can run in it), a start killed while it
//! waits still leaves nothing running, and where the kernel refuses `clone3` (the injected fault
//! `clone-vm-refused`) the children are forked and the daemon is the same. The respawn
//! monitor's children are made the same way.

use nix::libc;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid as NixPid;

use crate::common::*;

/// `kcmp(2)`'s `KCMP_VM`: whether two processes share one address space. `None` where the
/// kernel has no `kcmp` (CONFIG_KCMP).
fn same_memory(a: i32, b: i32) -> Option<bool> {
    const KCMP_VM: libc::c_long = 1;
    // SAFETY: kcmp takes two pids and a type; no memory is passed.
    let r = unsafe { libc::syscall(libc::SYS_kcmp, a, b, KCMP_VM, 0, 0) };
    match r {
        0 => Some(true),
        1 | 2 => Some(false),
        _ => None,
    }
}

/// The children of `pid` that are not zombies.
fn live_children(pid: i32) -> Vec<i32> {
    let list =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    list.split_whitespace()
        .filter_map(|p| p.parse().ok())
        .filter(|&p| stat(p).is_some_and(|s| s.state != 'Z'))
        .collect()
}

/// Starts `sleep` as daemon `name` with `RDAEMON_FAULT=faults`, `start` stopped where the
/// daemon-to-be exists and waits for its "go"; returns `start` and the daemon-to-be's pid (the
/// intermediate has handed it over: it is `start`'s child).
fn paused_before_the_go(env: &Env, name: &str, faults: &str) -> (Background, i32) {
    paused_before_the_go_in(env, env.std_cmd(), &[], name, faults)
}

/// [`paused_before_the_go`] with `cmd` as rdaemon's command (a wrapper that execs it) and
/// `opts` given to `start`.
fn paused_before_the_go_in(
    env: &Env,
    mut cmd: std::process::Command,
    opts: &[&str],
    name: &str,
    faults: &str,
) -> (Background, i32) {
    let secs = unique_secs();
    cmd.arg("start")
        .args(opts)
        .args(["--name", name, "--", "sleep", &secs])
        .env("RDAEMON_FAULT", faults)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let start = Background::spawn(&mut cmd);
    wait_until("start stops before the pidfile", DEADLINE, || {
        stat(start.pid()).is_some_and(|s| s.state == 'T')
    });
    let mut waiting = Vec::new();
    wait_until("the daemon-to-be is start's child", DEADLINE, || {
        waiting = live_children(start.pid());
        waiting.len() == 1
    });
    env.track(waiting[0]);
    (start, waiting[0])
}

/// Lets `start`, paused by [`paused_before_the_go`], go on: it succeeds, and `waiting` is daemon
/// `name`, running the program (`sleep`) with no signal blocked or ignored.
fn goes_on(env: &Env, start: Background, waiting: i32, name: &str) {
    kill(NixPid::from_raw(start.pid()), Signal::SIGCONT).unwrap();
    let out = start.output_within(DEADLINE, "start goes on");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(env.pid_of(name), waiting);
    assert_eq!(status_field(waiting, "SigBlk"), "0000000000000000");
    assert_eq!(status_field(waiting, "SigIgn"), "0000000000000000");
    let comm = std::fs::read_to_string(format!("/proc/{waiting}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");
}

/// For `start --respawn --name again` that `run` made: after `check(monitor)`, a SIGKILL of its
/// child is followed by a new child of the monitor running `sleep` with no signal blocked or
/// caught; then the daemon is stopped.
fn restarts_a_killed_child(env: &Env, run: Run, check: impl FnOnce(i32)) {
    let child_of = |rec: &serde_json::Value| rec["child_pid"].as_i64().map(|p| p as i32);
    let rec = env.record("again");
    let monitor = rec["pid"].as_i64().unwrap() as i32;
    env.track(monitor);
    let first = child_of(&rec).unwrap_or_else(|| panic!("no child\n{}", run.dump()));
    env.track(first);
    check(monitor);
    kill(NixPid::from_raw(first), Signal::SIGKILL).unwrap();
    let mut next = None;
    wait_until("the monitor restarts its child", DEADLINE, || {
        next = child_of(&env.record("again")).filter(|&p| p != first && alive(p));
        next.is_some()
    });
    let next = next.unwrap();
    env.track(next);
    wait_until("the new child runs sleep", DEADLINE, || {
        std::fs::read_to_string(format!("/proc/{next}/comm")).is_ok_and(|c| c.trim() == "sleep")
    });
    assert_eq!(stat(next).unwrap().ppid, monitor);
    assert_eq!(status_field(next, "SigBlk"), "0000000000000000");
    assert_eq!(status_field(next, "SigCgt"), "0000000000000000");
    env.run(&["stop", "again"]).ok();
    wait_dead(next);
    wait_dead(monitor);
}

#[test]
fn the_daemon_to_be_shares_rdaemons_memory_with_every_signal_blocked() {
    let env = Env::new();
    let (start, waiting) = paused_before_the_go(&env, "shared", "before-pidfile:stop");
    let Some(shared) = same_memory(start.pid(), waiting) else {
        skip(
            "the_daemon_to_be_shares_rdaemons_memory_with_every_signal_blocked",
            "the kernel has no kcmp",
        );
        return;
    };
    assert!(shared, "pid {waiting} has a copy of start's memory");
    // Every signal but SIGKILL and SIGSTOP, which cannot be blocked.
    assert_eq!(status_field(waiting, "SigBlk"), "fffffffffffbfeff");
    // A start killed there: the daemon-to-be sees the end of its go pipe and ends without
    // running the program; the memory it shared with start stays its own until then.
    kill(NixPid::from_raw(start.pid()), Signal::SIGKILL).unwrap();
    wait_dead(waiting);
}

#[test]
fn a_start_that_goes_on_gives_a_daemon_its_own_memory_and_signals() {
    let env = Env::new();
    let (start, waiting) = paused_before_the_go(&env, "goes", "before-pidfile:stop");
    goes_on(&env, start, waiting, "goes");
    env.run(&["stop", "goes"]).ok();
    wait_dead(waiting);
}

#[test]
fn where_clone3_is_refused_the_children_are_forked_and_the_daemon_is_the_same() {
    let env = Env::new();
    let faults = "clone-vm-refused,before-pidfile:stop";
    let (start, waiting) = paused_before_the_go(&env, "forked", faults);
    if let Some(shared) = same_memory(start.pid(), waiting) {
        assert!(!shared, "pid {waiting} shares start's memory");
    }
    assert_eq!(status_field(waiting, "SigBlk"), "fffffffffffbfeff");
    goes_on(&env, start, waiting, "forked");
    let stat = stat(waiting).unwrap();
    // Its own process group, in the session the intermediate made, which it does not lead.
    assert_eq!(stat.pgrp, waiting);
    assert_ne!(stat.session, waiting);
    env.run(&["stop", "forked"]).ok();
    wait_dead(waiting);
}

/// A daemon-to-be that will change its credentials (`--user`) is forked: its `setuid` gives
/// its memory the dumpability of `fs.suid_dumpable`, and where that lets the user open it
/// (1, "debug"), shared memory would be root's `start` (or monitor) until the exec.
#[test]
fn a_daemon_to_be_that_runs_as_another_user_has_a_copy_of_starts_memory() {
    let test = "a_daemon_to_be_that_runs_as_another_user_has_a_copy_of_starts_memory";
    let Some(user) = root_and_nobody(test) else {
        return;
    };
    let env = Env::new();
    open_dir(&env);
    let opts = ["--user", "nobody"];
    let faults = "before-pidfile:stop";
    let (start, waiting) = paused_before_the_go_in(&env, env.std_cmd(), &opts, "as", faults);
    if let Some(shared) = same_memory(start.pid(), waiting) {
        assert!(!shared, "pid {waiting} shares start's memory");
    }
    goes_on(&env, start, waiting, "as");
    let uid = status_field(waiting, "Uid");
    assert_eq!(uid.split_whitespace().next(), Some(&*user.uid.to_string()));
    env.run(&["stop", "as"]).ok();
    wait_dead(waiting);
}

/// The respawn monitor starts each child the same way (`spawn_child`, through `new_child`): where
/// `clone3` is refused, forked, and the restarted child is the same.
#[test]
fn where_clone3_is_refused_a_monitor_forks_its_children_and_restarts_them() {
    let env = Env::new();
    let secs = unique_secs();
    let mut cmd = env.cmd();
    cmd.env("RDAEMON_FAULT", "clone-vm-refused");
    let args = [
        "start",
        "--respawn",
        "--restart-delay",
        "0",
        "--name",
        "again",
    ];
    let run = env.run_cmd(cmd, &[&args[..], &["--", "sleep", &secs]].concat());
    // The monitor sees the fault, so its children are forked.
    restarts_a_killed_child(&env, run.ok(), |monitor| {
        wait_environ_has(monitor, "RDAEMON_FAULT=clone-vm-refused")
    });
}

/// This process's OOM score adjustment, which the processes it starts inherit.
fn own_oom_score_adj() -> String {
    std::fs::read_to_string("/proc/self/oom_score_adj")
        .unwrap()
        .trim()
        .to_string()
}

/// A program's `--oom-score-adj` is its own. Written from a child that shares a process's
/// memory, the kernel sets it on every process sharing that memory (`__set_oom_adj`,
/// `MMF_MULTIPROCESS`): that must not reach the respawn monitor, which would then be the OOM
/// killer's first target (and the daemon would die with it) or, lowered, never be one.
#[test]
fn a_daemons_oom_score_adjustment_does_not_reach_its_monitor() {
    let env = Env::new();
    let secs = unique_secs();
    let own = own_oom_score_adj();
    let args = [
        "start",
        "--respawn",
        "--oom-score-adj",
        "700",
        "--name",
        "oom",
    ];
    let run = env.run(&[&args[..], &["--", "sleep", &secs]].concat()).ok();
    let rec = env.record("oom");
    let monitor = rec["pid"].as_i64().unwrap() as i32;
    env.track(monitor);
    let child = rec["child_pid"]
        .as_i64()
        .unwrap_or_else(|| panic!("no child\n{}", run.dump())) as i32;
    env.track(child);
    let adj = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj"))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(adj(child), "700");
    assert_eq!(adj(monitor), own, "the monitor took its child's OOM score");
    env.run(&["stop", "oom"]).ok();
    wait_dead(child);
    wait_dead(monitor);
}

/// The same for `start` itself, which waits for the daemon after its exec (stopped there by the
/// fault `before-exec:stop`, once the daemon has set its score and exec'd).
#[test]
fn a_daemons_oom_score_adjustment_does_not_reach_start() {
    let env = Env::new();
    let secs = unique_secs();
    let own = own_oom_score_adj();
    let mut cmd = env.std_cmd();
    let args = ["start", "--oom-score-adj", "600", "--name", "oom"];
    cmd.args([&args[..], &["--", "sleep", &secs]].concat())
        .env("RDAEMON_FAULT", "before-exec:stop")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let start = Background::spawn(&mut cmd);
    let mut daemon = 0;
    wait_until("the daemon runs sleep, start stopped", DEADLINE, || {
        let stopped = stat(start.pid()).is_some_and(|s| s.state == 'T');
        let children = live_children(start.pid());
        if let [only] = children[..] {
            daemon = only;
        }
        stopped
            && daemon != 0
            && std::fs::read_to_string(format!("/proc/{daemon}/comm"))
                .is_ok_and(|c| c.trim() == "sleep")
    });
    env.track(daemon);
    let start_adj = std::fs::read_to_string(format!("/proc/{}/oom_score_adj", start.pid()));
    kill(NixPid::from_raw(start.pid()), Signal::SIGCONT).unwrap();
    let out = start.output_within(DEADLINE, "start goes on");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        start_adj.unwrap().trim(),
        own,
        "start took its daemon's OOM score"
    );
    env.run(&["stop", "oom"]).ok();
    wait_dead(daemon);
}

/// A Python 3 wrapper that makes the kernel itself refuse `clone3` (x86_64 system call 435)
/// with `ENOSYS`, as a kernel before 5.3 or a container's seccomp profile does, then execs its
/// arguments: `PR_SET_NO_NEW_PRIVS`, then a classic BPF filter (`PR_SET_SECCOMP`,
/// `SECCOMP_MODE_FILTER`) that allows everything else, and every system call of another
/// architecture. With `--probe`, it calls `clone3` itself and exits 0 only if refused so.
const NO_CLONE3: &str = r#"import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
class Insn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint32)]
class Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Insn))]
LD_W_ABS, JEQ_K, RET_K = 0x20, 0x15, 0x06
AUDIT_ARCH_X86_64, SYS_CLONE3, ENOSYS = 0xC000003E, 435, 38
insns = (Insn * 6)(
    Insn(LD_W_ABS, 0, 0, 4),                  # seccomp_data.arch
    Insn(JEQ_K, 0, 3, AUDIT_ARCH_X86_64),     # another arch: allow
    Insn(LD_W_ABS, 0, 0, 0),                  # seccomp_data.nr
    Insn(JEQ_K, 0, 1, SYS_CLONE3),
    Insn(RET_K, 0, 0, 0x00050000 | ENOSYS),   # SECCOMP_RET_ERRNO | ENOSYS
    Insn(RET_K, 0, 0, 0x7FFF0000),            # SECCOMP_RET_ALLOW
)
prog = Prog(len(insns), ctypes.cast(insns, ctypes.POINTER(Insn)))
ul = ctypes.c_ulong
libc.prctl.restype = ctypes.c_int
if libc.prctl(38, ul(1), ul(0), ul(0), ul(0)) != 0:  # PR_SET_NO_NEW_PRIVS
    sys.exit("no_clone3: PR_SET_NO_NEW_PRIVS: " + os.strerror(ctypes.get_errno()))
if libc.prctl(22, ul(2), ctypes.byref(prog), ul(0), ul(0)) != 0:  # PR_SET_SECCOMP, FILTER
    sys.exit("no_clone3: PR_SET_SECCOMP: " + os.strerror(ctypes.get_errno()))
if sys.argv[1] == "--probe":
    libc.syscall.restype = ctypes.c_long
    r = libc.syscall(ul(SYS_CLONE3), ul(0), ul(0))
    if r == -1 and ctypes.get_errno() == ENOSYS:
        sys.exit(0)
    sys.exit("no_clone3: clone3 returned %d (errno %d), not ENOSYS" % (r, ctypes.get_errno()))
os.execv(sys.argv[1], sys.argv[1:])
"#;

/// rdaemon run through [`NO_CLONE3`] (written into the test's directory), in `env`'s world;
/// `None`, the test skipped, where the filter cannot be installed or does not refuse `clone3`.
fn without_clone3(env: &Env, test: &str) -> Option<std::process::Command> {
    if !cfg!(target_arch = "x86_64") {
        skip_optional(test, "the seccomp filter knows x86_64's clone3 only");
        return None;
    }
    let wrapper = env.path("no_clone3.py");
    std::fs::write(&wrapper, NO_CLONE3).unwrap();
    let probe = std::process::Command::new("python3")
        .arg(&wrapper)
        .arg("--probe")
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            let why = String::from_utf8_lossy(&out.stderr);
            skip(
                test,
                &format!("cannot make the kernel refuse clone3: {}", why.trim()),
            );
            return None;
        }
        Err(e) => {
            skip(test, &format!("cannot run python3: {e}"));
            return None;
        }
    }
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(&wrapper)
        .arg(assert_cmd::cargo::cargo_bin!("rdaemon"));
    isolate(&mut cmd, env.dir()).current_dir(env.dir());
    Some(cmd)
}

/// The seccomp mode of `pid` (`/proc/PID/status`): 2 under a filter.
fn seccomp_field(pid: i32) -> String {
    status_field(pid, "Seccomp")
}

/// Where the kernel itself refuses `clone3` (a seccomp filter, not the injected fault),
/// `start` forks its children: the daemon-to-be has a copy of start's memory, and the daemon
/// runs the program in a process group of its own, nothing blocked or ignored.
#[test]
fn where_the_kernel_refuses_clone3_start_forks_and_the_daemon_is_the_same() {
    let test = "where_the_kernel_refuses_clone3_start_forks_and_the_daemon_is_the_same";
    let env = Env::new();
    let Some(cmd) = without_clone3(&env, test) else {
        return;
    };
    let (start, waiting) = paused_before_the_go_in(&env, cmd, &[], "sec", "before-pidfile:stop");
    assert_eq!(
        seccomp_field(start.pid()),
        "2",
        "start runs without the filter"
    );
    if let Some(shared) = same_memory(start.pid(), waiting) {
        assert!(
            !shared,
            "pid {waiting} shares start's memory: clone3 was not refused"
        );
    }
    goes_on(&env, start, waiting, "sec");
    let stat = stat(waiting).unwrap();
    assert_eq!(stat.pgrp, waiting);
    assert_ne!(stat.session, waiting);
    env.run(&["stop", "sec"]).ok();
    wait_dead(waiting);
}

/// The same with a cgroup: `clone3(CLONE_INTO_CGROUP)` is refused too, and the daemon is moved
/// into its cgroup instead, where it runs.
#[test]
fn where_the_kernel_refuses_clone3_a_daemon_still_runs_in_its_cgroup() {
    let test = "where_the_kernel_refuses_clone3_a_daemon_still_runs_in_its_cgroup";
    let Some(mount) = cgroups_here(test) else {
        return;
    };
    let env = Env::new();
    let Some(cmd) = without_clone3(&env, test) else {
        return;
    };
    let name = unique_name(&env, "seccg");
    let cgroup = mount.join("rdaemon").join(env.cgroup_leaf(&name));
    let _guard = crate::clone_cgroup::CgroupGuard(cgroup.clone());
    let secs = unique_secs();
    let args = [
        "start", "--cgroup", "on", "--name", &name, "--", "sleep", &secs,
    ];
    let run = env.run_cmd(assert_cmd::Command::from_std(cmd), &args);
    let run = run.ok();
    let pid = env.pid_of(&name);
    env.track(pid);
    assert_eq!(seccomp_field(pid), "2", "{}", run.dump());
    assert_eq!(status_field(pid, "SigBlk"), "0000000000000000");
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let want = format!("0::/rdaemon/{}", env.cgroup_leaf(&name));
    assert!(own.lines().any(|l| l == want), "{pid} runs in {own}");
    env.run(&["stop", &name]).ok();
    wait_dead(pid);
}

/// A respawn monitor under the same filter forks its children, and restarts a killed one.
#[test]
fn where_the_kernel_refuses_clone3_a_monitor_restarts_its_child() {
    let test = "where_the_kernel_refuses_clone3_a_monitor_restarts_its_child";
    let env = Env::new();
    let Some(cmd) = without_clone3(&env, test) else {
        return;
    };
    let secs = unique_secs();
    let args = [
        "start",
        "--respawn",
        "--restart-delay",
        "0",
        "--cgroup",
        "off",
    ];
    let args = [&args[..], &["--name", "again", "--", "sleep", &secs]].concat();
    let run = env.run_cmd(assert_cmd::Command::from_std(cmd), &args);
    restarts_a_killed_child(&env, run.ok(), |monitor| {
        assert_eq!(
            seccomp_field(monitor),
            "2",
            "the monitor runs without the filter"
        )
    });
}
