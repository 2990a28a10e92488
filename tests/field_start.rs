//! Issue 12, what real programs found in `start`, readiness and `restart`: a TCP readiness
//! check that believed any listener (item 1), a `--foreground` exec error lost in the log
//! (item 2), a closed stdout that aborted rdaemon mid-restart (item 4), Ctrl-C during a
//! readiness wait (item 5) and a `restart` that stopped the daemon on a full disk (item 7).

use std::fs;
use std::os::fd::OwnedFd;
use std::process::Stdio;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid as NixPid;

use crate::common::*;

/// A pipe whose reader is already gone: every write to it fails with EPIPE.
fn reader_gone_pipe() -> OwnedFd {
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    write
}

/// Runs rdaemon with `args` and its stdout on a pipe nobody reads: its exit code and stderr.
fn run_with_closed_stdout(env: &Env, args: &[&str]) -> (Option<i32>, String) {
    let out = env
        .std_cmd()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(reader_gone_pipe()))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether this test may skip where it lacks root: never in CI, where it must run.
fn must_run_as_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test} needs root, and CI is set: run the suite as root"
    );
    skip(test, "needs root");
    false
}

/// Whether signal `sig` has a handler in `pid` (`SigCgt` of `/proc/PID/status`).
fn catches(pid: i32, sig: Signal) -> bool {
    fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (sig as i32 - 1)) != 0)
    })
}

/// Item 4: `rdaemon list | head -1` with enough daemons ended in a panic (exit 134 in a release
/// build, 101 here), and a `restart` whose output reader was gone stopped the daemon, then
/// panicked on its "stopped" line before starting it again. Now a closed stdout only ends the
/// output: every command finishes its work and exits with its own code, quietly.
#[test]
fn a_closed_stdout_ends_output_quietly_and_a_restart_still_finishes() {
    let env = Env::new();
    let secs = unique_secs();
    for i in 0..50 {
        env.start(&format!("d{i:02}"), &["sleep", &secs]);
    }
    for args in [
        &["list"][..],
        &["list", "--json"],
        &["list", "--names"],
        &["status"],
    ] {
        // `status` of several running daemons answers 0; the rest succeed.
        let (code, stderr) = run_with_closed_stdout(&env, args);
        assert_eq!((code, stderr.as_str()), (Some(0), ""), "rdaemon {args:?}");
    }
    // The real pipeline prints its one line.
    let bin = assert_cmd::cargo::cargo_bin!("rdaemon");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("\"$0\" list | head -1")
        .arg(bin)
        .env("RDAEMON_DIR", env.dir())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{out:?}"
    );

    let old = env.pid_of("d00");
    let (code, stderr) = run_with_closed_stdout(&env, &["restart", "d00"]);
    assert_eq!((code, stderr.as_str()), (Some(0), ""), "restart");
    wait_dead(old);
    let new = env.pid_of("d00");
    env.track(new);
    assert_ne!(new, old);
    assert!(alive(new), "the restart did not start d00 again");
    assert_eq!(live_pids_with_arg(&secs).len(), 50);
    env.run(&["status", "d00"]).ok();
}

/// Item 5: Ctrl-C during a readiness wait killed `start` and left the half-started daemon
/// running, its status "running". Now `start` stops it as a timeout would and exits 130.
#[test]
fn ctrl_c_during_a_readiness_wait_stops_the_daemon_and_exits_130() {
    let env = Env::new();
    let secs = unique_secs();
    let never = env.path("never.ready");
    let mut cmd = env.std_cmd();
    cmd.args([
        "start",
        "--name",
        "half",
        "--ready-timeout",
        "60s",
        "--ready",
    ])
    .arg(format!("file:{}", never.display()))
    .args(["--", "sleep", &secs])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let start = Background::spawn(&mut cmd);
    let rdaemon = start.pid();
    // rdaemon's own command line holds the argument too: the daemon is the `sleep`.
    let sleeping = || -> Vec<i32> {
        live_pids_with_arg(&secs)
            .into_iter()
            .filter(|p| fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c == "sleep\n"))
            .collect()
    };
    wait_until("the daemon runs", DEADLINE, || sleeping().len() == 1);
    let daemon = sleeping()[0];
    env.track(daemon);
    // start is its subreaper: once the intermediate process is gone, its parent.
    wait_until("the daemon is start's child", DEADLINE, || {
        stat(daemon).is_some_and(|s| s.ppid == rdaemon)
    });
    // Once rdaemon catches SIGINT, it is in the wait.
    wait_until("start catches SIGINT", DEADLINE, || {
        catches(rdaemon, Signal::SIGINT)
    });
    kill(NixPid::from_raw(rdaemon), Signal::SIGINT).unwrap();
    let out = start.into_output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert!(
        stderr.contains("cannot start half: interrupted by SIGINT")
            && stderr.contains(&format!("stopped it (pid {daemon})")),
        "{stderr}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "it said started");
    assert!(!alive(daemon), "the half-started daemon still runs");
    assert!(!env.path("half.pid").exists());
    env.run(&["status", "half"])
        .code(3)
        .stdout_has("half is stopped");
}
