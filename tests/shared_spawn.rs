//! `start`'s two children share rdaemon's memory instead of copying it (`clone3` with
//! `CLONE_VM`, issue 18): nothing is copied at their creation and nothing becomes copy-on-write
//! after. What that needs and must not change: the daemon-to-be runs beside rdaemon with every
//! signal blocked until its exec (no handler of rdaemon's can run in it), a start killed while it
//! waits still leaves nothing running, and where the kernel refuses `clone3` (the injected fault
//! `clone-vm-refused`) the children are forked and the daemon is the same.

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
    let secs = unique_secs();
    let mut cmd = env.std_cmd();
    cmd.args(["start", "--name", name, "--", "sleep", &secs])
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
    drop(start);
    let run = env.run(&["status", "shared"]);
    assert_ne!(run.code, 0, "{}", run.dump());
}

#[test]
fn a_start_that_goes_on_gives_a_daemon_its_own_memory_and_signals() {
    let env = Env::new();
    let (start, waiting) = paused_before_the_go(&env, "goes", "before-pidfile:stop");
    kill(NixPid::from_raw(start.pid()), Signal::SIGCONT).unwrap();
    let out = start.output_within(DEADLINE, "start goes on");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.pid_of("goes"), waiting);
    assert_eq!(status_field(waiting, "SigBlk"), "0000000000000000");
    assert_eq!(status_field(waiting, "SigIgn"), "0000000000000000");
    let comm = std::fs::read_to_string(format!("/proc/{waiting}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");
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
    kill(NixPid::from_raw(start.pid()), Signal::SIGCONT).unwrap();
    let out = start.output_within(DEADLINE, "start goes on");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.pid_of("forked"), waiting);
    assert_eq!(status_field(waiting, "SigBlk"), "0000000000000000");
    let stat = stat(waiting).unwrap();
    // Its own process group, in the session the intermediate made, which it does not lead.
    assert_eq!(stat.pgrp, waiting);
    assert_ne!(stat.session, waiting);
    env.run(&["stop", "forked"]).ok();
    wait_dead(waiting);
}
