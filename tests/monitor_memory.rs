//! The respawn monitor's memory at rest (issue 18, target 4): it gives back the stack its
//! set-up and each restart used, and keeps only the copies of the environment it needs, while
//! every duty that uses them still works. Real processes, checked in `/proc/PID/smaps`.

use std::fs;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid as NixPid;

use crate::common::*;

/// The most of its stack an idle monitor may keep resident, in kB. Without the trim, the debug
/// build's monitor keeps 92 kB (the set-up's deepest calls), the release build's 36 kB; with
/// it, 28 and 20.
const IDLE_STACK_KB: u64 = 48;

/// The resident size (`Rss`, kB) of `pid`'s main stack mapping.
fn stack_rss_kb(pid: i32) -> u64 {
    let smaps = fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut in_stack = false;
    for line in smaps.lines() {
        // A mapping's header: `START-END PERMS OFFSET DEV INODE [PATH]`; its fields follow.
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            in_stack = line.ends_with("[stack]");
        } else if let Some(kb) = line.strip_prefix("Rss:").filter(|_| in_stack) {
            return kb.trim().trim_end_matches("kB").trim().parse().unwrap();
        }
    }
    panic!("no [stack] in /proc/{pid}/smaps:\n{smaps}");
}

/// Waits until the idle monitor `pid` keeps at most [`IDLE_STACK_KB`] of stack.
fn wait_stack_given_back(pid: i32) {
    let mut last = 0;
    wait_until(
        &format!("monitor {pid} keeps at most {IDLE_STACK_KB} kB of stack"),
        DEADLINE,
        || {
            last = stack_rss_kb(pid);
            last <= IDLE_STACK_KB
        },
    );
}

#[test]
fn an_idle_monitor_gives_back_the_stack_of_its_set_up_and_of_each_restart() {
    let env = Env::new();
    env.run(&[
        "start",
        "--respawn",
        "--name",
        "st",
        "--restart-delay",
        "0",
        "--",
        "sleep",
        "1000",
    ])
    .ok();
    let monitor = env.pid_of("st");
    let child = wait_new_child(&env, "st", 0);
    wait_stack_given_back(monitor);
    // A restart goes as deep again (the exit, the fork, the status); then it sleeps again.
    kill(NixPid::from_raw(child), Signal::SIGKILL).unwrap();
    let second = wait_new_child(&env, "st", child);
    wait_until("the restart is in the status", DEADLINE, || {
        env.record("st")["restarts"] == 1
    });
    wait_stack_given_back(monitor);
    assert!(alive(second));
    env.run(&["stop", "st"]).ok();
}

#[test]
fn helpers_and_restarted_programs_keep_their_environment() {
    let env = Env::new();
    let hook_out = env.path("hook");
    let check_out = env.path("check");
    let hook = format!(
        "echo \"$GREETING ${{NOTIFY_SOCKET:-none}} ${{WATCHDOG_USEC:-none}}\" > '{}'",
        hook_out.display()
    );
    let check = format!(
        "cmd:echo \"$GREETING ${{NOTIFY_SOCKET:-none}}\" > '{}'",
        check_out.display()
    );
    env.run(&[
        "start",
        "--respawn",
        "--name",
        "he",
        "--env",
        "GREETING=hello",
        "--on-exit",
        &hook,
        "--health",
        &check,
        "--health-interval",
        "100ms",
        "--restart-delay",
        "0",
        "--",
        "sleep",
        "1000",
    ])
    .ok();
    let child = wait_new_child(&env, "he", 0);
    wait_environ_has(child, "GREETING=hello");
    wait_until("the health check ran", DEADLINE, || {
        fs::read_to_string(&check_out).is_ok_and(|t| t.ends_with('\n'))
    });
    assert_eq!(fs::read_to_string(&check_out).unwrap(), "hello none\n");
    kill(NixPid::from_raw(child), Signal::SIGKILL).unwrap();
    let second = wait_new_child(&env, "he", child);
    wait_until("the on-exit command ran", DEADLINE, || {
        fs::read_to_string(&hook_out).is_ok_and(|t| t.ends_with('\n'))
    });
    assert_eq!(fs::read_to_string(&hook_out).unwrap(), "hello none none\n");
    // The restarted program has the same environment as the first.
    wait_environ_has(second, "GREETING=hello");
    env.run(&["stop", "he"]).ok();
}
