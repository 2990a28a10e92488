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
