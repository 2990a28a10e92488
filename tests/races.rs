//! Races between rdaemons, and between rdaemon and the daemon: the per-name lock makes the
//! check-then-act of start, stop, restart and forget atomic, and a pidfd pins the process stop
//! signals. Whatever the interleaving, no command errors out, exactly the expected number of
//! daemons exists afterwards, and a pidfile never names a dead or foreign pid.

use std::fs;
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use crate::common::*;

/// How long a raced rdaemon may take before the test fails as hung (a lock never given up):
/// generous, for fifty of them on a busy machine.
const RACED: Duration = Duration::from_secs(60);

/// Spawns rdaemon with `args` without waiting (the caller races several of them); killed if
/// the test fails first.
fn spawn(env: &Env, dir: &Path, args: &[&str]) -> Background {
    Background::spawn(
        env.std_cmd()
            .env("RDAEMON_DIR", dir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
}

/// The output of a raced rdaemon, which must end within [`RACED`].
fn output(child: Background, args: &str) -> Output {
    child.output_within(RACED, &format!("rdaemon {args} to end"))
}

fn describe(args: &str, out: &Output) -> String {
    format!(
        "rdaemon {args}: exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Checks, until `stop` is set, that the pidfile is never seen half-written: whenever it can be
/// read it holds one pid and a newline. Returns what it saw wrong.
fn watch_pidfile(path: &Path, stop: &AtomicBool) -> Vec<String> {
    let mut bad = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        if let Ok(text) = fs::read_to_string(path) {
            let sane = text.ends_with('\n')
                && text.trim_end().parse::<i32>().is_ok_and(|p| p > 1)
                && text.trim_end().len() + 1 == text.len();
            if !sane {
                bad.push(format!("{text:?}"));
            }
        }
        thread::yield_now();
    }
    bad
}

/// The pid named by the pidfile at `path`, if there is one.
fn pid_in(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[test]
fn fifty_concurrent_starts_give_exactly_one_daemon() {
    let env = Env::new();
    // A directory that does not exist yet: its creation races too.
    let dir = env.path("state");
    let arg = unique_secs();
    let pidfile = dir.join("one.pid");
    let stop_watch = AtomicBool::new(false);
    // The watcher stops when the starts are done, or when the test fails before (the flag is
    // set on the way out), so that it never spins on after the test.
    let (outputs, torn) = thread::scope(|scope| {
        let watcher = scope.spawn(|| watch_pidfile(&pidfile, &stop_watch));
        let done = SetOnDrop(&stop_watch);
        let children: Vec<Background> = (0..50)
            .map(|_| spawn(&env, &dir, &["start", "--name", "one", "--", "sleep", &arg]))
            .collect();
        let outputs: Vec<Output> = children.into_iter().map(|c| output(c, "start")).collect();
        drop(done);
        (outputs, watcher.join().unwrap())
    });
    let daemons = live_pids_with_arg(&arg);
    daemons.iter().for_each(|p| env.track(*p));

    for out in &outputs {
        assert_eq!(out.status.code(), Some(0), "{}", describe("start", out));
    }
    let pid = pid_in(&dir.join("one.pid")).expect("no pidfile");
    assert_eq!(daemons, vec![pid], "exactly one daemon must run");
    let stdouts: Vec<String> = outputs
        .iter()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .collect();
    let started = stdouts
        .iter()
        .filter(|s| **s == format!("started one (pid {pid})\n"))
        .count();
    let already = stdouts
        .iter()
        .filter(|s| **s == format!("one is already running (pid {pid})\n"))
        .count();
    assert_eq!((started, already), (1, 49), "{stdouts:#?}");
    assert!(torn.is_empty(), "a reader saw a torn pidfile: {torn:?}");
    let rec: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("one.status")).unwrap()).unwrap();
    assert_eq!(rec["pid"], pid);
    let leftovers = temporaries(&dir);
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// After a race settles: either the daemon runs, the pidfile names it and status says 0, or
/// nothing runs, there is no pidfile and status says 3. Never a pidfile naming a dead pid,
/// never a daemon without a pidfile, never two daemons.
fn assert_consistent(env: &Env, name: &str, arg: &str, context: &str) {
    let daemons = live_pids_with_arg(arg);
    daemons.iter().for_each(|p| env.track(*p));
    let pidfile = env.path(&format!("{name}.pid"));
    match pid_in(&pidfile) {
        Some(pid) => {
            assert_eq!(
                daemons,
                vec![pid],
                "{context}: pidfile and processes disagree"
            );
            env.run(&["status", name]).ok();
        }
        None => {
            assert!(!pidfile.exists(), "{context}: unreadable pidfile");
            assert_eq!(
                daemons,
                Vec::<i32>::new(),
                "{context}: a daemon without pidfile"
            );
            env.run(&["status", name]).code(3);
        }
    }
}

#[test]
fn start_racing_stop_never_fails_or_leaves_a_stale_pidfile() {
    let env = Env::new();
    let arg = unique_secs();
    for round in 0..24 {
        if round % 2 == 1 {
            env.run(&["start", "--name", "flip", "--", "sleep", &arg])
                .ok();
        }
        let start = ["start", "--name", "flip", "--", "sleep", &arg];
        let stop = ["stop", "flip"];
        let (first, second) = (start.as_slice(), stop.as_slice());
        let (a, b) = if round % 4 < 2 {
            (first, second)
        } else {
            (second, first)
        };
        let ca = spawn(&env, env.dir(), a);
        let cb = spawn(&env, env.dir(), b);
        for (args, child) in [(a, ca), (b, cb)] {
            let out = output(child, &args.join(" "));
            assert_eq!(
                out.status.code(),
                Some(0),
                "round {round}: {}",
                describe(&args.join(" "), &out)
            );
        }
        assert_consistent(&env, "flip", &arg, &format!("round {round}"));
    }
}

#[test]
fn stop_racing_the_daemons_own_exit_never_fails() {
    let env = Env::new();
    // Daemons that end by themselves within a few milliseconds of the stop: some before stop
    // looks, some while it opens the pidfd, some between its signal and its wait.
    for (round, secs) in ["0", "0.001", "0.002", "0.005", "0.01", "0.02", "0.03"]
        .iter()
        .cycle()
        .take(14)
        .enumerate()
    {
        env.run(&["start", "--name", "brief", "--", "sleep", secs])
            .ok();
        let pid = env.pid_of("brief");
        let run = env.run(&["stop", "brief"]).ok();
        assert!(
            run.stdout.contains("stopped brief") || run.stdout.contains("not running"),
            "round {round}: {}",
            run.dump()
        );
        assert!(!alive(pid), "round {round}");
        assert!(
            !env.path("brief.pid").exists(),
            "round {round}: {}",
            run.dump()
        );
        env.run(&["status", "brief"]).code(3);
    }
}

#[test]
fn concurrent_restarts_leave_exactly_one_daemon() {
    let env = Env::new();
    let arg = unique_secs();
    env.start("again", &["sleep", &arg]);
    let children: Vec<Background> = (0..10)
        .map(|_| spawn(&env, env.dir(), &["restart", "again"]))
        .collect();
    for child in children {
        let out = output(child, "restart");
        assert_eq!(out.status.code(), Some(0), "{}", describe("restart", &out));
    }
    assert_consistent(&env, "again", &arg, "after 10 restarts");
    assert!(
        env.path("again.pid").exists(),
        "restart must leave it running"
    );
}

#[test]
fn forget_racing_start_never_loses_a_running_daemons_record() {
    let env = Env::new();
    let arg = unique_secs();
    for round in 0..8 {
        env.run(&["start", "--name", "fickle", "--", "sleep", &arg])
            .ok();
        env.run(&["stop", "fickle"]).ok();
        let start = spawn(
            &env,
            env.dir(),
            &["start", "--name", "fickle", "--", "sleep", &arg],
        );
        let forget = spawn(&env, env.dir(), &["forget", "fickle"]);
        let start = output(start, "start");
        let forget = output(forget, "forget");
        assert_eq!(
            start.status.code(),
            Some(0),
            "{}",
            describe("start", &start)
        );
        // forget either ran first (0) or found the daemon running (1, and said so).
        match forget.status.code() {
            Some(0) => {}
            Some(1) => assert!(
                String::from_utf8_lossy(&forget.stderr).contains("is running"),
                "{}",
                describe("forget", &forget)
            ),
            _ => panic!("round {round}: {}", describe("forget", &forget)),
        }
        assert_consistent(&env, "fickle", &arg, &format!("round {round}"));
        let rec = env.record("fickle");
        assert_eq!(rec["pid"], env.pid_of("fickle"), "round {round}");
        env.run(&["stop", "fickle"]).ok();
        assert_consistent(&env, "fickle", &arg, &format!("round {round}, stopped"));
    }
}
