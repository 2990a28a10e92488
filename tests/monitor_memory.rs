//! The respawn monitor's memory at rest (issue 18, target 4): it gives back the pages of its
//! code that its set-up used and the stack that the set-up and each restart used, and keeps
//! only the copies of the environment it needs, while every duty that uses them still works.
//! Real processes, checked in `/proc/PID/smaps`.

use std::fs;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid as NixPid;

use crate::common::*;

/// The most of its stack an idle monitor may keep resident, in kB. Without the trim, the debug
/// build's monitor keeps 92 kB (the set-up's deepest calls), the release build's 36 kB; with
/// it, 28 and 20: a limit between the two for each build, so that either fails without it.
const IDLE_STACK_KB: u64 = if cfg!(debug_assertions) { 48 } else { 28 };

/// The mappings of `pid` whose header line (`START-END PERMS OFFSET DEV INODE [PATH]`)
/// satisfies `which`: their summed size and resident size (`Rss`), in kB.
fn mapped_kb(pid: i32, which: impl Fn(&str) -> bool) -> (u64, u64) {
    let smaps = fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let (mut size, mut rss, mut chosen) = (0, 0, false);
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        let kb = |rest: &str| -> u64 { rest.trim().trim_end_matches("kB").trim().parse().unwrap() };
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            chosen = which(line);
        } else if let Some(rest) = line.strip_prefix("Size:").filter(|_| chosen) {
            size += kb(rest);
        } else if let Some(rest) = line.strip_prefix("Rss:").filter(|_| chosen) {
            rss += kb(rest);
        }
    }
    assert!(size > 0, "no such mapping in /proc/{pid}/smaps:\n{smaps}");
    (size, rss)
}

/// Waits until the idle monitor `pid` keeps at most [`IDLE_STACK_KB`] of stack and, with
/// `code`, at most half of its code mapped: the kernel maps up to 16 pages of the file around
/// each page fault, so without the release the set-up leaves most of it mapped (the debug
/// build: 6.6 of 7.4 MB; 2.2 MB with it; the release build: 1.8 of 2.5 MB, and 0.3 MB). The
/// code is released once, after the set-up: a restart maps again what the next one runs.
fn wait_memory_given_back(pid: i32, code: bool) {
    let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    let exe = exe.to_string_lossy().into_owned();
    wait_until(
        &format!(
            "monitor {pid} keeps at most {IDLE_STACK_KB} kB of stack (and half its code: {code})"
        ),
        DEADLINE,
        || {
            let stack = mapped_kb(pid, |l| l.ends_with("[stack]"));
            let mapped = mapped_kb(pid, |l| l.contains(" r-xp ") && l.ends_with(exe.as_str()));
            stack.1 <= IDLE_STACK_KB && (!code || mapped.1 <= mapped.0 / 2)
        },
    );
}

#[test]
fn an_idle_monitor_gives_back_its_set_ups_code_pages_and_the_stack_of_each_restart() {
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
    wait_memory_given_back(monitor, true);
    // A restart goes as deep again (the exit, the fork, the status); then it sleeps again.
    kill(NixPid::from_raw(child), Signal::SIGKILL).unwrap();
    let second = wait_new_child(&env, "st", child);
    wait_until("the restart is in the status", DEADLINE, || {
        env.record("st")["restarts"] == 1
    });
    wait_memory_given_back(monitor, false);
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
