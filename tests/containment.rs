//! Containment in exec mode (SPEC §3.1, issue 14): the daemon is its session. `stop` stops what
//! the main process left behind (other groups included) and returns only when all of it is gone;
//! `status` of a daemon whose main process died but whose members live says so. Every process a
//! fixture forks is tracked by pid, so the guard kills it even when a test fails.

use std::fs;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid as NixPid;

use crate::common::*;

/// Waits until the fixture wrote `file` (renamed into place, so never read half-written) and
/// returns the pids in it, each tracked for cleanup.
fn member_pids(env: &Env, file: &str) -> Vec<i32> {
    let path = env.wait_file(file);
    let pids: Vec<i32> = fs::read_to_string(path)
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    for &pid in &pids {
        env.track(pid);
    }
    pids
}

/// A main process (`sleep`) with `n` members forked before it: each ignores SIGTERM when
/// `stubborn`, and all are in the main process's group and session. Their pids go to
/// `members.txt`.
fn start_with_members(env: &Env, name: &str, n: usize, stubborn: bool) -> (i32, Vec<i32>) {
    let trap = if stubborn { "trap '' TERM" } else { ":" };
    let script = env.script(
        "members.sh",
        &format!(
            r#"{trap}
i=0
while [ $i -lt {n} ]; do sleep {secs} & echo $! >> "$1/members.tmp"; i=$((i+1)); done
trap - TERM
mv "$1/members.tmp" "$1/members.txt"
exec sleep 1000"#,
            secs = unique_secs()
        ),
    );
    let dir = env.dir().display().to_string();
    let main = env.start(name, &[script.to_str().unwrap(), &dir]);
    // Listed once every member ignores TERM (inherited at its fork) and the main process no
    // longer does.
    let members = member_pids(env, "members.txt");
    (main, members)
}

fn same_session(pid: i32, main: i32) -> bool {
    stat(pid).unwrap().session == stat(main).unwrap().session
}

#[test]
fn a_term_ignoring_member_of_the_group_is_stopped_with_the_leader() {
    let env = Env::new();
    let (main, members) = start_with_members(&env, "web", 1, true);
    let member = members[0];
    assert!(same_session(member, main));
    assert_eq!(stat(member).unwrap().pgrp, main);
    let session = stat(main).unwrap().session;
    let stop = env.run(&["stop", "web", "--timeout", "300ms"]).ok();
    assert!(!alive(main));
    assert!(!alive(member), "member {member} survived stop");
    assert!(!env.path("web.pid").exists());
    stop.stdout_has(&format!(
        "stopped web (pid {main}); 1 leftover process stopped"
    ));
    assert_eq!(
        env.record("web")["session"],
        session,
        "the record keeps the daemon's session"
    );
}

#[test]
fn leftovers_of_a_dead_main_process_show_in_status_and_stop() {
    let env = Env::new();
    let (main, members) = start_with_members(&env, "web", 2, false);
    kill(NixPid::from_raw(main), Signal::SIGKILL).unwrap();
    wait_dead(main);
    let status = env.run(&["status", "web"]);
    for &m in &members {
        assert!(alive(m), "status must not touch member {m}");
    }
    let status = status.code(1).stdout_has("web is dead");
    assert!(
        status.stdout.contains("2 leftover processes"),
        "{}",
        status.dump()
    );
    let json = env.run(&["status", "web", "--json"]).code(1);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    crate::json::check_object(&report);
    assert_eq!(report["state"], "dead");
    assert_eq!(report["leftovers"], 2);
    for &m in &members {
        assert!(alive(m), "status must not touch member {m}");
    }
    let stop = env.run(&["stop", "web"]);
    for &m in &members {
        assert!(!alive(m), "member {m} survived stop");
    }
    stop.ok()
        .stdout_has("stopped leftovers of web: 2 processes");
    assert!(!env.path("web.pid").exists());
    env.run(&["status", "web"])
        .code(3)
        .stdout_has("web is stopped");
}

#[test]
fn a_member_in_its_own_process_group_is_stopped() {
    let Some(python) = python3() else {
        return skip("a_member_in_its_own_process_group_is_stopped", "no python3");
    };
    let env = Env::new();
    let member = env.path("member.py");
    fs::write(
        &member,
        "import os, sys, time\nos.setpgid(0, 0)\nopen(sys.argv[1] + '.tmp', 'w').write(str(os.getpid()))\nos.rename(sys.argv[1] + '.tmp', sys.argv[1])\ntime.sleep(1000)\n",
    )
    .unwrap();
    let script = env.script(
        "main.sh",
        &format!(
            "'{}' '{}' \"$1/member.txt\" &\nexec sleep 1000",
            python.display(),
            member.display()
        ),
    );
    let dir = env.dir().display().to_string();
    let main = env.start("web", &[script.to_str().unwrap(), &dir]);
    let member = member_pids(&env, "member.txt")[0];
    let s = stat(member).unwrap();
    assert_eq!(s.pgrp, member, "the member leads its own group");
    assert!(same_session(member, main));
    let stop = env.run(&["stop", "web"]).ok();
    assert!(
        !alive(member),
        "member {member} in its own group survived stop"
    );
    stop.stdout_has(&format!(
        "stopped web (pid {main}); 1 leftover process stopped"
    ));
}

#[test]
fn a_hundred_leftovers_are_stopped_in_one_stop() {
    let env = Env::new();
    let (main, members) = start_with_members(&env, "many", 100, true);
    assert_eq!(members.len(), 100);
    let stop = env.run(&["stop", "many", "--timeout", "500ms"]).ok();
    let alive_members: Vec<i32> = members.iter().copied().filter(|&m| alive(m)).collect();
    assert!(alive_members.is_empty(), "survived: {alive_members:?}");
    stop.stdout_has(&format!(
        "stopped many (pid {main}); 100 leftover processes stopped"
    ));
}

#[test]
fn main_only_leaves_the_rest_until_a_full_stop() {
    let env = Env::new();
    let (main, members) = start_with_members(&env, "web", 1, false);
    let member = members[0];
    env.run(&["stop", "web", "--main-only"])
        .ok()
        .stdout_has(&format!("stopped web (pid {main})"));
    assert!(!alive(main));
    assert!(alive(member), "--main-only touched member {member}");
    let stop = env.run(&["stop", "web"]);
    assert!(!alive(member), "member {member} survived a full stop");
    stop.ok().stdout_has("stopped leftovers of web: 1 process");
}

#[test]
fn status_counts_the_leftovers_main_only_left() {
    let env = Env::new();
    let (main, members) = start_with_members(&env, "web", 1, false);
    env.run(&["stop", "web", "--main-only"]).ok();
    assert!(!alive(main));
    assert!(alive(members[0]));
    env.run(&["status", "web"])
        .code(1)
        .stdout_has("web is dead")
        .stdout_has("1 leftover process");
    assert!(
        alive(members[0]),
        "status must not touch member {}",
        members[0]
    );
}

#[test]
fn surviving_leftovers_fail_the_stop_by_pid_and_a_later_stop_ends_them() {
    let env = Env::new();
    let (main, members) = start_with_members(&env, "web", 1, true);
    let member = members[0];
    let stop = env.run(&["stop", "web", "--timeout", "200ms", "--no-kill"]);
    assert!(!alive(main));
    assert!(alive(member), "--no-kill must not kill member {member}");
    stop.code(1)
        .one_error_line()
        .stderr_has(&format!("leftover processes {member} are still running"));
    env.run(&["status", "web"])
        .code(1)
        .stdout_has("web is dead")
        .stdout_has("1 leftover process");
    let stop = env.run(&["stop", "web", "--timeout", "200ms"]);
    assert!(!alive(member), "member {member} survived the second stop");
    stop.ok().stdout_has("stopped leftovers of web: 1 process");
    assert!(!env.path("web.pid").exists());
}

#[test]
fn forget_keeps_the_record_while_leftovers_live() {
    let env = Env::new();
    let (main, members) = start_with_members(&env, "web", 1, false);
    kill(NixPid::from_raw(main), Signal::SIGKILL).unwrap();
    wait_dead(main);
    let forget = env.run(&["forget", "web"]);
    assert!(
        env.path("web.json").exists(),
        "forget dropped the record that finds member {}",
        members[0]
    );
    assert!(alive(members[0]));
    forget
        .code(1)
        .one_error_line()
        .stderr_has("web has 1 leftover process running")
        .stderr_has("stop it first");
    env.run(&["stop", "web"]).ok();
    assert!(!alive(members[0]));
    env.run(&["forget", "web"]).ok().stdout_has("forgot web");
}

#[test]
fn a_respawn_monitor_leaves_no_term_ignoring_helper_behind() {
    let env = Env::new();
    let script = env.script(
        "helper.sh",
        &format!(
            r#"(trap '' TERM; exec sleep {secs}) &
echo $! > "$1/helper.tmp"; mv "$1/helper.tmp" "$1/helper.txt"
exec sleep 1000"#,
            secs = unique_secs()
        ),
    );
    let dir = env.dir().display().to_string();
    env.run(&[
        "start",
        "--respawn",
        "--name",
        "web",
        "--",
        script.to_str().unwrap(),
        &dir,
    ])
    .ok();
    let monitor = env.pid_of("web");
    env.track(monitor);
    let helper = member_pids(&env, "helper.txt")[0];
    // SigIgn bit 14: SIGTERM (15).
    wait_until("the helper ignores TERM", DEADLINE, || {
        u64::from_str_radix(&status_field(helper, "SigIgn"), 16).unwrap() & (1 << 14) != 0
    });
    assert!(same_session(helper, monitor));
    let stop = env.run(&["stop", "web", "--timeout", "300ms"]);
    assert!(!alive(monitor));
    assert!(!alive(helper), "helper {helper} survived stop");
    stop.ok().stdout_has("1 leftover process stopped");
}

// Respawn mode: the monitor is the child subreaper (SPEC §3.1).

/// Starts a respawn daemon `name` running `script DIR` with `extra` options; returns the
/// monitor's pid, tracked.
fn start_respawn_script(env: &Env, name: &str, extra: &[&str], script: &std::path::Path) -> i32 {
    let dir = env.dir().display().to_string();
    let mut args = vec!["start", "--respawn", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", script.to_str().unwrap(), &dir]);
    env.run(&args).ok();
    let monitor = env.pid_of(name);
    env.track(monitor);
    monitor
}

/// The monitor's children in `/proc` that are zombies.
fn zombie_children(monitor: i32) -> Vec<i32> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| stat(pid).is_some_and(|s| s.ppid == monitor && s.state == 'Z'))
        .collect()
}

#[test]
fn a_respawn_childs_double_forked_setsid_grandchild_is_stopped() {
    let env = Env::new();
    // The grandchild leaves the session (setsid) and its parent exits at once (double fork):
    // only the monitor, as subreaper, still knows it.
    let script = env.script(
        "escape.sh",
        &format!(
            r#"(setsid sh -c 'trap "" TERM; echo $$ > "$1/gc.tmp"; mv "$1/gc.tmp" "$1/gc.txt"; exec sleep {secs}' sh "$1" &)
exec sleep 1000"#,
            secs = unique_secs()
        ),
    );
    let monitor = start_respawn_script(&env, "esc", &[], &script);
    let gc = member_pids(&env, "gc.txt")[0];
    wait_until(
        "the grandchild is re-parented to the monitor",
        DEADLINE,
        || stat(gc).is_some_and(|s| s.ppid == monitor),
    );
    assert!(
        !same_session(gc, monitor),
        "the grandchild left the session"
    );
    wait_until("the grandchild ignores TERM", DEADLINE, || {
        u64::from_str_radix(&status_field(gc, "SigIgn"), 16).unwrap() & (1 << 14) != 0
    });
    let stop = env.run(&["stop", "esc", "--timeout", "300ms"]);
    assert!(!alive(monitor));
    assert!(!alive(gc), "the setsid grandchild {gc} survived stop");
    stop.ok().stdout_has("1 leftover process stopped");
}

#[test]
fn a_crash_looping_child_leaves_no_helpers_piling_up() {
    let env = Env::new();
    let secs = unique_secs();
    let script = env.script(
        "crash.sh",
        &format!(
            r#"sleep {secs} &
echo $! >> "$1/helpers.txt"
exit 1"#
        ),
    );
    let monitor = start_respawn_script(
        &env,
        "crash",
        &["--restart-delay", "20ms", "--max-restarts", "0"],
        &script,
    );
    let helpers = || -> Vec<i32> {
        fs::read_to_string(env.path("helpers.txt"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    };
    let mut most = 0;
    wait_until("three restarts", DEADLINE, || {
        for pid in helpers() {
            env.track(pid);
        }
        most = most.max(live_pids_with_arg(&secs).len());
        env.record("crash")["restarts"].as_u64().unwrap_or(0) >= 3
    });
    let all = helpers();
    for &pid in &all {
        env.track(pid);
    }
    assert!(all.len() >= 3, "helpers: {all:?}");
    assert!(most <= 1, "{most} helpers alive at once");
    // Every helper but the newest is gone, and reaped by the monitor.
    for &pid in &all[..all.len() - 1] {
        wait_until(&format!("helper {pid} is reaped"), DEADLINE, || {
            stat(pid).is_none()
        });
    }
    assert!(live_pids_with_arg(&secs).len() <= 1);
    let log = fs::read_to_string(env.path("crash.log")).unwrap_or_default();
    assert!(log.contains("left behind before restarting it"), "{log}");
    env.run(&["stop", "crash", "--timeout", "2s"]).ok();
    assert!(!alive(monitor));
    assert!(
        live_pids_with_arg(&secs).is_empty(),
        "a helper outlived stop"
    );
}

#[test]
fn an_adopted_process_is_reaped_and_not_taken_for_the_child() {
    let env = Env::new();
    let script = env.script(
        "adopt.sh",
        &format!(
            r#"(sleep {secs} & echo $! > "$1/gc.tmp"; mv "$1/gc.tmp" "$1/gc.txt")
exec sleep 1000"#,
            secs = unique_secs()
        ),
    );
    let monitor = start_respawn_script(&env, "adopt", &[], &script);
    let gc = member_pids(&env, "gc.txt")[0];
    wait_until(
        "the grandchild is re-parented to the monitor",
        DEADLINE,
        || stat(gc).is_some_and(|s| s.ppid == monitor),
    );
    let child = env.record("adopt")["child_pid"].as_i64().unwrap() as i32;
    kill(NixPid::from_raw(gc), Signal::SIGKILL).unwrap();
    wait_until("the monitor reaps the adopted process", DEADLINE, || {
        stat(gc).is_none()
    });
    assert!(zombie_children(monitor).is_empty());
    assert!(alive(child), "the child went with the adopted process");
    let rec = env.record("adopt");
    assert_eq!(rec["child_pid"], child, "{rec}");
    assert_eq!(
        rec["restarts"], 0,
        "an adopted exit was taken for the child's"
    );
    env.run(&["stop", "adopt", "--timeout", "2s"]).ok();
}
