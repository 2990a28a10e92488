//! Stress: many cycles, many names, concurrent readers, a monitor restarting its child again
//! and again. (A stop racing the daemon's own exit is in `races.rs`.)
//! Bounded to seconds on 2 cores; every deadline is generous, nothing asserts a time.

use std::collections::HashSet;
use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use crate::common::*;

#[test]
fn two_hundred_start_stop_cycles_leave_nothing_behind() {
    let env = Env::new();
    let mut started = Vec::new();
    for _ in 0..200 {
        let pid = env.start("cycle", &["sleep", "1000"]);
        let start_time = stat(pid).unwrap().start_time;
        wait_asleep(pid);
        assert_eq!(
            fd_numbers(pid),
            [0, 1, 2],
            "the daemon has more than fds 0, 1, 2"
        );
        env.run(&["stop", "cycle"]).ok();
        assert!(!alive(pid), "pid {pid} survived stop");
        started.push((pid, start_time));
    }
    // (pid, start time) identifies a process; a pid alone may come round again on a busy machine.
    assert_eq!(
        started.iter().collect::<HashSet<_>>().len(),
        200,
        "one process was reported as started twice"
    );
    assert!(!env.path("cycle.pid").exists());
    let names: HashSet<String> = fs::read_dir(env.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["cycle.json", "cycle.lock", "cycle.log", "cycle.status"]
            .map(String::from)
            .into(),
        "leftover files"
    );
    // PID 1 reaps late here: every one of the 200 processes must be reaped (gone from /proc,
    // or its pid taken by a newer process) within the deadline: no process, not even a zombie,
    // is left behind.
    wait_until("all 200 daemons are reaped", DEADLINE, || {
        started
            .iter()
            .all(|(pid, t)| stat(*pid).is_none_or(|s| s.start_time != *t))
    });
}

#[test]
fn twenty_names_start_and_stop_concurrently() {
    let env = Arc::new(Env::new());
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let env = Arc::clone(&env);
            thread::spawn(move || {
                let name = format!("n{i}");
                let pid = env.start(&name, &["sleep", "1000"]);
                env.run(&["status", &name]).ok();
                env.run(&["stop", &name]).ok();
                assert!(!alive(pid));
                pid
            })
        })
        .collect();
    let pids: Vec<i32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(pids.iter().collect::<HashSet<_>>().len(), 20);
    let run = env.run(&["list", "--json"]).ok();
    let list: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 20);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|d| d["state"] == "stopped"),
        "{}",
        run.dump()
    );
}

#[test]
fn status_during_start_stop_cycles_is_always_0_1_or_3() {
    let env = Env::new();
    let done = AtomicBool::new(false);
    // Scoped readers: joined before the scope returns or unwinds, so none outlives the test
    // (or its Env, whose drop kills what it started).
    let seen = thread::scope(|s| {
        let readers: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    let mut seen = HashSet::new();
                    while !done.load(Ordering::Relaxed) {
                        let run = env.run(&["status", "busy"]);
                        assert!(
                            [0, 1, 3].contains(&run.code),
                            "status said {}\n{}",
                            run.code,
                            run.dump()
                        );
                        seen.insert(run.code);
                    }
                    seen
                })
            })
            .collect();
        // Set when this closure ends, also when a start or stop panics: the readers stop.
        let stop_reading = SetOnDrop(&done);
        for _ in 0..40 {
            env.start("busy", &["sleep", "1000"]);
            env.run(&["stop", "busy"]).ok();
        }
        drop(stop_reading);
        let mut seen = HashSet::new();
        for r in readers {
            seen.extend(r.join().unwrap());
        }
        seen
    });
    assert!(!seen.is_empty());
}

#[test]
fn a_monitor_restarting_its_child_a_hundred_times_leaks_no_fd_and_no_zombie() {
    let env = Env::new();
    env.run(&[
        "start",
        "--name",
        "churn",
        "--respawn",
        "--restart-delay",
        "0",
        "--max-restarts",
        "0",
        "--",
        "sleep",
        "1000",
    ])
    .ok();
    let monitor = env.pid_of("churn");
    let child_of = |env: &Env| env.record("churn")["child_pid"].as_i64().map(|p| p as i32);
    let first = child_of(&env).expect("no child_pid in the record");
    env.track(first);
    // The baseline is taken while the monitor waits in poll(), its resting state.
    wait_until("the monitor rests in poll", DEADLINE, || {
        fs::read_to_string(format!("/proc/{monitor}/wchan")).is_ok_and(|w| w.contains("poll"))
    });
    let fds_before = fd_numbers(monitor);
    let mut child = first;
    for round in 0..100 {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        wait_until(
            &format!("round {round}: a new child replaces pid {child}"),
            DEADLINE,
            || child_of(&env).is_some_and(|c| c != child && alive(c)),
        );
        child = child_of(&env).unwrap();
        env.track(child);
    }
    assert_eq!(env.record("churn")["restarts"], 100);
    // Between updates the monitor holds only its stdio and its pipes; while it writes the record it
    // briefly has the lock and a temporary file open. A leaked fd never goes away.
    wait_until(
        "the monitor's fds are back to what they were",
        DEADLINE,
        || fd_numbers(monitor) == fds_before,
    );
    // The monitor reaps every child it had: none of its children is a zombie.
    let zombies: Vec<i32> = fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| stat(*p).is_some_and(|s| s.ppid == monitor && s.state == 'Z'))
        .collect();
    assert!(zombies.is_empty(), "the monitor left zombies: {zombies:?}");
    env.run(&["stop", "churn"]).ok();
    assert!(!alive(monitor) && !alive(child));
}
