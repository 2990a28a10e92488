//! SPEC §4, pid reuse: when the pidfile's pid is alive but its start time or boot id differs
//! from the record, the pid belongs to someone else and the daemon is dead to rdaemon: `status`
//! says 1, `stop` signals nothing and clears the stale pidfile, `start` starts a new daemon.
//!
//! The record-editing tests simulate reuse; `a_real_reused_pid_survives_stop` makes the kernel
//! hand the daemon's pid to an unrelated process (as root, through `ns_last_pid`).

use std::fs;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid as NixPid;

use crate::common::*;

/// Runs status, stop and start against a daemon whose pid now belongs to `stranger`, and checks
/// that the stranger survives all of it.
fn check_dead_to_rdaemon(env: &Env, name: &str, stranger: i32, why: &str) {
    let pidfile = env.path(&format!("{name}.pid"));
    env.run(&["status", name])
        .code(1)
        .stdout_has(&format!("{name} is dead"))
        .stdout_has(why);
    env.run(&["status", name, "--json"])
        .code(1)
        .stdout_has("\"state\": \"dead\"");
    env.run(&["stop", name])
        .ok()
        .stdout_has("not running")
        .stdout_has("removed stale pidfile");
    assert_left_alone(stranger, "a stop of the daemon whose pid it took");
    assert!(!pidfile.exists(), "stop left the stale pidfile");
    env.run(&["status", name]).code(3);

    // The stale pidfile again (as a crash would leave it): start replaces it and starts anew.
    fs::write(&pidfile, format!("{stranger}\n")).unwrap();
    env.run(&["start", "--name", name, "--", "sleep", &unique_secs()])
        .ok()
        .stdout_has(&format!("started {name} (pid"));
    let new = env.pid_of(name);
    assert_ne!(new, stranger);
    assert!(alive(new));
    assert!(
        alive(stranger),
        "start signalled pid {stranger}, a stranger"
    );
    env.run(&["status", name]).ok();
    env.run(&["stop", name]).ok();
    assert!(!alive(new));
    assert_left_alone(stranger, "a stop of the daemon whose pid it took");
}

/// Rewrites one field of the status file `NAME.status` (docs/json.md), where the runtime
/// fields are.
fn edit_record(env: &Env, name: &str, field: &str, value: serde_json::Value) {
    let path = env.path(&format!("{name}.status"));
    let mut status: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    status[field] = value;
    fs::write(&path, serde_json::to_string(&status).unwrap()).unwrap();
}

#[test]
fn another_start_time_means_another_process() {
    let env = Env::new();
    let pid = env.start("reuse", &["sleep", "1000"]);
    let start_time = env.record("reuse")["start_time"].as_u64().unwrap();
    edit_record(&env, "reuse", "start_time", (start_time + 1).into());
    check_dead_to_rdaemon(&env, "reuse", pid, "now belongs to another process");
}

/// `start` keeps the main process's pidfs inode (Linux 6.9) with its pid and start time, and
/// that inode is what proves the pid is the daemon: the same pid and start time under another
/// inode are another process, dead to `status`. Where the kernel has no pidfs, nothing is
/// recorded.
#[test]
fn another_pidfs_inode_means_another_process() {
    let env = Env::new();
    let pid = env.start("inode", &["sleep", "1000"]);
    let record = env.record("inode");
    if !assert_pidfs_recorded(&record, pid) {
        return skip(
            "another_pidfs_inode_means_another_process",
            "this kernel has no pidfs (Linux 6.9)",
        );
    }
    let inode = pidfs_inode(pid).unwrap();
    env.run(&["status", "inode"]).ok();
    edit_record(
        &env,
        "inode",
        "pidfs",
        serde_json::json!({ "pid": pid, "start_time": record["start_time"], "inode": inode + 1 }),
    );
    env.run(&["status", "inode"])
        .code(1)
        .stdout_has("inode is dead")
        .stdout_has("its pidfs inode is not the one recorded");
    env.run(&["status", "inode", "--json"])
        .code(1)
        .stdout_has("\"state\": \"dead\"");
    // Forged this way, the process still is in the daemon's session and cgroup, started with
    // it: no stranger, but a leftover, which `stop` ends (SPEC §3.1) without taking it for the
    // main process.
    env.run(&["stop", "inode"])
        .ok()
        .stdout_has("stopped leftovers of inode: 1 process");
    assert!(!alive(pid));
}

#[test]
fn another_boot_id_means_another_process() {
    let env = Env::new();
    let pid = env.start("reboot", &["sleep", "1000"]);
    edit_record(
        &env,
        "reboot",
        "boot_id",
        "00000000-0000-4000-8000-000000000000".into(),
    );
    check_dead_to_rdaemon(&env, "reboot", pid, "earlier boot");
}

#[test]
fn restart_and_forget_leave_a_stranger_alone() {
    let env = Env::new();
    let pid = env.start("moved", &["sleep", "1000"]);
    let start_time = env.record("moved")["start_time"].as_u64().unwrap();
    edit_record(&env, "moved", "start_time", (start_time + 1).into());
    env.run(&["restart", "moved"])
        .ok()
        .stdout_has("started moved (pid");
    assert_left_alone(pid, "a restart that took it for a stranger");
    let new = env.pid_of("moved");
    assert_ne!(new, pid);
    env.run(&["stop", "moved"]).ok();

    // The record names the stranger's pid with another start time (the restarted daemon's
    // own could fall in the same clock tick as the stranger's: take one that cannot).
    fs::write(env.path("moved.pid"), format!("{pid}\n")).unwrap();
    edit_record(&env, "moved", "pid", pid.into());
    let stranger_start = stat(pid).unwrap().start_time;
    edit_record(&env, "moved", "start_time", (stranger_start + 1).into());
    env.run(&["forget", "moved"]).ok();
    assert_left_alone(pid, "a forget that took it for a stranger");
    assert!(!env.path("moved.json").exists());
}

#[test]
fn a_real_reused_pid_survives_stop() {
    const TEST: &str = "a_real_reused_pid_survives_stop";
    if !is_root() {
        return skip(TEST, "writing /proc/sys/kernel/ns_last_pid needs root");
    }
    let env = Env::new();
    let pid = env.start("reused", &["sleep", &unique_secs()]);
    let recorded = env.record("reused")["start_time"].as_u64().unwrap();
    // Our turn from before the pid is freed: no other test's moves of the cursor take it.
    let cursor = PidCursor::take();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // Gone from /proc, not merely a zombie: only a reaped pid can be handed out again.
    wait_until(&format!("pid {pid} is reaped"), DEADLINE, || {
        stat(pid).is_none()
    });
    let stranger = match take_pid(&cursor, pid, 1000) {
        Ok(Some(child)) => child,
        Ok(None) => return skip(TEST, &lost_pid(pid)),
        Err(why) => return skip(TEST, &why),
    };
    assert_eq!(stranger.pid(), pid);
    assert_ne!(stat(pid).unwrap().start_time, recorded);
    assert!(
        fs::read_link(format!("/proc/{pid}/exe"))
            .unwrap()
            .ends_with("sleep"),
        "the stranger runs the same program as the daemon did"
    );
    check_dead_to_rdaemon(&env, "reused", pid, "now belongs to another process");
    drop(stranger);
}

/// Makes the kernel give `sid` to a new session of strangers whose leader has gone, as a
/// program that daemonizes itself leaves it: `setsid sh -c 'sleep & echo $!'` forked as pid
/// `sid` makes the session, starts a `sleep` in it and exits. The `(exit 0)` before it takes the
/// next pid, which was the daemon's main process's: the stranger must not look like a reused
/// main pid, which rdaemon judges on its own. Tries `attempts` times (other
/// processes may take the pid first); the sleep's pid, tracked by `env`, once it is there.
fn take_session(
    cursor: &PidCursor,
    env: &Env,
    sid: i32,
    attempts: u32,
) -> Result<Option<i32>, String> {
    for _ in 0..attempts {
        cursor.next(sid)?;
        if !pid_free(sid) {
            cursor.restore();
            return Ok(None);
        }
        let out = std::process::Command::new("setsid")
            .args([
                "sh",
                "-c",
                &format!(
                    "(exit 0) & sleep {} </dev/null >/dev/null 2>&1 & echo $! $$",
                    unique_secs()
                ),
            ])
            .output()
            .map_err(|e| format!("cannot run setsid: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut words = text.split_whitespace().map(|w| w.parse::<i32>().unwrap());
        let (sleep, leader) = (words.next().unwrap(), words.next().unwrap());
        env.track(sleep);
        if leader == sid {
            cursor.restore();
            return Ok(Some(sleep));
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(sleep),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    cursor.restore();
    Ok(None)
}

/// Once every process of a daemon is gone, the kernel may give its session id to another
/// session (review, 2026-12-03: `stop` of the daemon then swept that session as its
/// "leftovers", and `status` counted them). The record keeps the session's identity in pidfs,
/// and the stranger is left alone by `status`, `list`, `stop` and `start`: for a daemon that
/// died (its empty cgroup left behind) and for one stopped without a cgroup.
#[test]
fn a_reused_session_id_is_not_the_daemons() {
    const TEST: &str = "a_reused_session_id_is_not_the_daemons";
    if !is_root() {
        return skip(TEST, "writing /proc/sys/kernel/ns_last_pid needs root");
    }
    let cases = [("died", &[][..]), ("stopped", &["--cgroup", "off"][..])];
    // A case whose id another test's new process took before ours could (a fork racing ours
    // right after the cursor moved) is run again, twice at most.
    let (mut case, mut attempt) = (0, 0);
    while let Some(&(how, options)) = cases.get(case) {
        let env = Env::new();
        let mut args = vec!["start", "--name", "old"];
        args.extend_from_slice(options);
        let secs = unique_secs();
        args.extend_from_slice(&["--", "sleep", &secs]);
        env.run(&args).ok();
        let pid = env.pid_of("old");
        env.track(pid);
        let sid = env.record("old")["session"].as_i64().unwrap() as i32;
        if env.record("old")["session_inode"].is_null() {
            return skip(
                TEST,
                "no session identity: the kernel has no file handles on pidfs",
            );
        }
        // Our turn from before the id is freed: no other test's moves of the cursor take it.
        let cursor = PidCursor::take();
        match how {
            "died" => {
                nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                )
                .unwrap();
            }
            _ => {
                env.run(&["stop", "old"]).ok();
            }
        }
        // Its zombie, until PID 1 reaps it, keeps the session id in use.
        wait_until(&format!("pid {pid} is reaped"), DEADLINE, || {
            stat(pid).is_none()
        });
        let stranger = match take_session(&cursor, &env, sid, 200) {
            Ok(Some(sleep)) => sleep,
            Ok(None) if attempt < 2 => {
                attempt += 1;
                continue;
            }
            Ok(None) => return skip(TEST, &lost_pid(sid)),
            Err(why) => return skip(TEST, &why),
        };
        assert_eq!(
            stat(stranger).unwrap().session,
            sid,
            "the stranger's session"
        );
        assert!(
            stat(sid).is_none(),
            "the stranger's session leader has exited"
        );

        let state = if how == "died" { "dead" } else { "stopped" };
        let code = if how == "died" { 1 } else { 3 };
        env.run(&["status", "old"]).code(code).stdout_has(state);
        let listed = env.run(&["list", "--json"]).ok();
        let listed: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
        let old = &listed.as_array().unwrap()[0];
        assert_eq!(old["state"], state, "list: {old}");
        assert!(
            old["leftovers"].is_null() && old["tasks"].is_null(),
            "{how}: list counts the stranger: {old}"
        );
        env.run(&["stop", "old"]).ok();
        assert_left_alone(stranger, "a stop of the daemon whose session id it got");
        env.run(&["start", "--name", "old", "--", "sleep", &unique_secs()])
            .ok();
        assert_left_alone(stranger, "a start of the daemon whose session id it got");
        env.run(&["stop", "old"]).ok();
        assert_left_alone(stranger, "a stop of the daemon whose session id it got");
        (case, attempt) = (case + 1, 0);
    }
}

/// The daemon's session ends, and its id goes to a stranger's new session, while `stop` is
/// between finding the session plausible and reading its members (helper-89's review,
/// 2026-12-03, with a debugger: the stranger's member was swept as a leftover). `stop` asks
/// the kernel for the session's identity again once its scan is done and what it found is
/// pinned: the stranger is left alone. `RDAEMON_FAULT=session-scan:stop` holds the stop
/// exactly there.
#[test]
fn a_session_id_reused_during_a_stops_scan_is_not_swept() {
    const TEST: &str = "a_session_id_reused_during_a_stops_scan_is_not_swept";
    if !is_root() {
        return skip(TEST, "writing /proc/sys/kernel/ns_last_pid needs root");
    }
    let env = Env::new();
    let mark = unique_secs();
    let line = format!("sleep {mark} & exec sleep {}", unique_secs());
    env.run(&[
        "start", "--name", "gap", "--cgroup", "off", "--", "sh", "-c", &line,
    ])
    .ok();
    let main = env.pid_of("gap");
    env.track(main);
    if env.record("gap")["session_inode"].is_null() {
        return skip(
            TEST,
            "no session identity: the kernel has no file handles on pidfs",
        );
    }
    let sid = env.record("gap")["session"].as_i64().unwrap() as i32;
    let mut marked = Vec::new();
    wait_until("the leftover runs", DEADLINE, || {
        marked = env.track_marked(&mark);
        marked.len() == 1
    });
    let left = marked[0];
    kill(NixPid::from_raw(main), Signal::SIGKILL).unwrap();
    wait_until(&format!("pid {main} is reaped"), DEADLINE, || {
        stat(main).is_none()
    });

    // Our turn from before the stop is spawned: held at its scan for a while, it must not be
    // the process that takes another test's pid while that test has moved the cursor (a CI
    // run: it took a session id another test was waiting to take).
    let cursor = PidCursor::take();
    let mut stop = env.paused_at("session-scan", &["stop", "gap", "--timeout", "1s"]);
    // The daemon's last member ends, and the kernel hands its session id to a stranger.
    kill(NixPid::from_raw(left), Signal::SIGKILL).unwrap();
    wait_until(&format!("pid {left} is reaped"), DEADLINE, || {
        stat(left).is_none()
    });
    let stranger = match take_session(&cursor, &env, sid, 200) {
        Ok(Some(sleep)) => sleep,
        Ok(None) => return skip(TEST, &lost_pid(sid)),
        Err(why) => return skip(TEST, &why),
    };
    // On, past every scan it holds at.
    wait_until("the stop ends", DEADLINE, || {
        if stat(stop.pid()).is_some_and(|s| s.state == 'T') {
            let _ = kill(NixPid::from_raw(stop.pid()), Signal::SIGCONT);
        }
        stop.has_ended()
    });
    let out = stop.into_output();
    assert!(out.status.success(), "{out:?}");
    assert_left_alone(stranger, "a stop whose scan found the session's id reused");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("leftover"),
        "it swept the stranger: {stdout}"
    );
}

/// A `--respawn --forking` daemon whose monitor and program are killed, the program's own
/// pidfile left behind, and the program's number given to a stranger: the record names that
/// number as its program's, started at another time, so the pidfile is stale. `status` says
/// dead, `stop` and `start` leave the stranger alone (helper-93's review, 2026-12-03: `stop`
/// took the stranger for the daemon and killed it, and a `start` refused to run).
#[test]
fn a_reused_number_of_a_forking_respawn_program_is_not_the_daemons() {
    const TEST: &str = "a_reused_number_of_a_forking_respawn_program_is_not_the_daemons";
    if !is_root() {
        return skip(TEST, "writing /proc/sys/kernel/ns_last_pid needs root");
    }
    let env = Env::new();
    let mark = unique_secs();
    let p = env.path("run/app.pid").display().to_string();
    fs::create_dir(env.path("run")).unwrap();
    let server =
        format!("sh -c 'echo $$ > \"$0.tmp\"; mv \"$0.tmp\" \"$0\"; exec sleep {mark}' '{p}' &");
    env.run(&[
        "start",
        "--name",
        "app",
        "--respawn",
        "--forking",
        "--cgroup",
        "off",
        "--pidfile",
        &p,
        "--",
        "sh",
        "-c",
        &server,
    ])
    .ok();
    let monitor = env.record("app")["pid"].as_i64().unwrap() as i32;
    let program = env.record("app")["child_pid"].as_i64().unwrap() as i32;
    env.track(monitor);
    env.track(program);
    assert_eq!(fs::read_to_string(&p).unwrap().trim(), program.to_string());
    // Our turn from before the number is freed: no other test's moves of the cursor take it.
    let cursor = PidCursor::take();
    kill(NixPid::from_raw(monitor), Signal::SIGKILL).unwrap();
    kill(NixPid::from_raw(program), Signal::SIGKILL).unwrap();
    wait_until(&format!("pid {program} is reaped"), DEADLINE, || {
        stat(program).is_none() && stat(monitor).is_none_or(|s| s.state == 'Z')
    });
    let stranger = match take_pid(&cursor, program, 1000) {
        Ok(Some(child)) => child,
        Ok(None) => return skip(TEST, &lost_pid(program)),
        Err(why) => return skip(TEST, &why),
    };
    drop(cursor);
    env.run(&["status", "app"])
        .code(1)
        .stdout_has("app is dead");
    env.run(&["stop", "app"]).ok();
    assert_left_alone(
        stranger.pid(),
        "a stop of the daemon whose program had its number",
    );
    fs::write(&p, format!("{program}\n")).unwrap();
    env.run(&["start", "app"])
        .ok()
        .stdout_has("started app (pid ");
    assert_left_alone(
        stranger.pid(),
        "a start of the daemon whose program had its number",
    );
    let new = env.record("app")["child_pid"].as_i64().unwrap() as i32;
    env.track(new);
    env.track(env.record("app")["pid"].as_i64().unwrap() as i32);
    env.run(&["stop", "app"]).ok();
    assert_left_alone(stranger.pid(), "a stop of the daemon started again");
}
