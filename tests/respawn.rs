//! Supervised mode (`start --respawn`, SPEC §6): the monitor and its child in `/proc`, restarts,
//! backoff, giving up, signal forwarding, stop, kill -9 of either process, log rotation, and the
//! idle cost of the monitor.

use std::fs;
use std::path::Path;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid as NixPid;

use crate::common::*;

/// `rdaemon start --respawn --name NAME EXTRA... -- PROGRAM...`, which must succeed; returns the
/// monitor's pid (the pidfile's), tracked for cleanup.
fn start_monitor(env: &Env, name: &str, extra: &[&str], program: &[&str]) -> i32 {
    let mut args = vec!["start", "--respawn", "--name", name];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(program);
    let run = env.run(&args).ok();
    // The pid comes from start's own report: a monitor that gives up at once may already have
    // removed its pidfile by the time the test could read it.
    let prefix = format!("started {name} (pid ");
    let monitor: i32 = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix)?.strip_suffix(')')?.parse().ok())
        .unwrap_or_else(|| panic!("start did not report a pid\n{}", run.dump()));
    monitor
}

fn signal(pid: i32, sig: Signal) {
    kill(NixPid::from_raw(pid), sig).unwrap();
}

/// The lines of a file (empty when it does not exist yet).
fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn monitor_runs_the_program_as_its_child_with_the_daemon_setup() {
    let env = Env::new();
    let work = env.path("work");
    fs::create_dir(&work).unwrap();
    let (monitor, child) = start_respawn(
        &env,
        "web",
        &[
            "--chdir",
            work.to_str().unwrap(),
            "--umask",
            "027",
            "--env",
            "GREETING=hello",
        ],
        &["sleep", "1000"],
    );
    let m = stat(monitor).unwrap();
    let c = stat(child).unwrap();
    let me = stat(std::process::id() as i32).unwrap();
    // The monitor is the daemon: own group, a session that is not ours and that it does not lead.
    assert_eq!(m.pgrp, monitor);
    assert_ne!(m.session, me.session);
    assert_ne!(m.session, monitor);
    assert_eq!(m.tty_nr, 0);
    // The child: the monitor's, in its session and group (so stop's group signal reaches it).
    assert_eq!((c.ppid, c.pgrp, c.session), (monitor, monitor, m.session));
    assert_eq!(cwd(child), work);
    assert_eq!(cwd(monitor), Path::new("/"));
    assert_eq!(status_field(child, "Umask"), "0027");
    wait_environ_has(child, "GREETING=hello");
    // Nothing blocked or ignored leaks from the monitor, whose handlers are caught, not ignored.
    assert_eq!(status_field(child, "SigBlk"), "0000000000000000");
    assert_eq!(status_field(child, "SigIgn"), "0000000000000000");
    assert_eq!(status_field(child, "SigCgt"), "0000000000000000");
    assert_eq!(status_field(monitor, "SigIgn"), "0000000000000000");
    assert_eq!(status_field(monitor, "SigBlk"), "0000000000000000");
    let log = env.path("web.log");
    // The log the monitor made follows the umask.
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&log).unwrap().permissions())
            & 0o7777,
        0o640
    );
    // While it starts, `sleep` itself briefly opens fd 3 (the dynamic loader, locale files).
    let expected: Vec<(i32, std::path::PathBuf)> =
        vec![(0, "/dev/null".into()), (1, log.clone()), (2, log.clone())];
    wait_until("the child has only fds 0, 1, 2", DEADLINE, || {
        fds(child) == expected
    });
    let cmdline = fs::read_to_string(format!("/proc/{monitor}/cmdline")).unwrap();
    assert!(cmdline.contains("__monitor"), "{cmdline:?}");
    assert_eq!(
        fs::read_link(format!("/proc/{monitor}/exe")).unwrap(),
        fs::canonicalize(assert_cmd::cargo::cargo_bin!("rdaemon")).unwrap()
    );

    let rec = env.record("web");
    assert_eq!(rec["mode"], "respawn");
    assert_eq!(rec["pid"], monitor);
    assert_eq!(rec["child_pid"], child);
    assert_eq!(rec["restarts"], 0);
    assert_eq!(rec["respawn"]["restart_delay"], "1s");
    assert_eq!(rec["respawn"]["max_restarts"], 5);

    env.run(&["status", "web"])
        .ok()
        .stdout_has(&format!("web is running (pid {monitor})"))
        .stdout_has(&format!("child:   pid {child}"))
        .stdout_has("restarts: 0");
    let json: serde_json::Value =
        serde_json::from_str(&env.run(&["status", "web", "--json"]).ok().stdout).unwrap();
    assert_eq!(json["state"], "running");
    assert_eq!(json["mode"], "respawn");
    assert_eq!(json["pid"], monitor);
    assert_eq!(json["child_pid"], child);
}

/// `status` of a respawn daemon showed only the monitor's uptime: after a restart, how long the
/// program itself has run is what a user of pm2 or supervisord looks for. The child line says
/// it. The program restarts after a 2 s delay, so its uptime is at least 2 s less than the
/// monitor's, read in the same `status`.
#[test]
fn status_shows_the_childs_own_uptime() {
    let env = Env::new();
    let flag = env.path("ran.once");
    let script = format!(
        "[ -e '{f}' ] && exec sleep 1000; : > '{f}'; exit 1",
        f = flag.display()
    );
    // Its first child may be gone before `start` returns.
    let start = [
        "start",
        "--respawn",
        "--name",
        "up",
        "--restart-delay",
        "2s",
        "--",
    ];
    env.run(&[&start[..], &["sh", "-c", &script]].concat()).ok();
    wait_until("the program restarted", DEADLINE, || {
        env.record("up")["restarts"] == 1
    });
    let child = wait_new_child(&env, "up", 0);
    let out = env.run(&["status", "up"]).ok().stdout;
    let secs = |line: &str| -> u64 {
        let up = line.rsplit("up ").next().unwrap();
        humantime::parse_duration(up.trim())
            .unwrap_or_else(|e| panic!("{line:?}: {e}"))
            .as_secs()
    };
    let monitor_line = out.lines().next().unwrap();
    let child_line = out
        .lines()
        .find(|l| l.starts_with(&format!("  child:   pid {child}, up ")))
        .unwrap_or_else(|| panic!("no child uptime in:\n{out}"));
    assert!(
        secs(child_line) + 2 <= secs(monitor_line),
        "the child's uptime is its own, not the monitor's:\n{out}"
    );
}

#[test]
fn monitor_fds_are_stdio_and_its_signal_pipe_only() {
    let env = Env::new();
    let (monitor, _) = start_respawn(&env, "fds", &[], &["sleep", "1000"]);
    let log = env.path("fds.log");
    // Above 2: the self-pipe (a socket pair) and the child's stdin, and the handle on the
    // rdaemon directory its files go through (issue 11); no leftover report pipe. The report
    // pipe is kept until `start` has returned (the status's handoff, SPEC §1), then closed as
    // soon as the monitor sees `start`'s end closed, and the status written (a file open for a
    // moment): wait for the monitor to settle, then check.
    let expected = |n: i32, target: &Path| {
        let t = target.to_string_lossy();
        match n {
            0 => t == "/dev/null",
            1 | 2 => target == log,
            _ => {
                t.starts_with("socket:") || t == "/dev/null" || target == log || target == env.dir()
            }
        }
    };
    wait_until("the monitor holds only its own fds", DEADLINE, || {
        fds(monitor).iter().all(|(n, t)| expected(*n, t))
    });
    let all = fds(monitor);
    assert_eq!(
        all[..3],
        [(0, "/dev/null".into()), (1, log.clone()), (2, log.clone())]
    );
    for (n, target) in &all[3..] {
        assert!(
            expected(*n, target),
            "unexpected fd {n} -> {} in {all:?}",
            target.display()
        );
    }
    assert!(
        !all.iter()
            .any(|(_, t)| t.to_string_lossy().starts_with("pipe:")),
        "{all:?}"
    );
}

#[test]
fn idle_monitor_waits_without_a_timeout_and_has_no_threads() {
    let env = Env::new();
    let (monitor, _) = start_respawn(&env, "idle", &[], &["sleep", "1000"]);
    wait_monitor_at_rest(&env, "idle", monitor);
    assert_polls_without_timeout(monitor);
    assert_eq!(
        fs::read_dir(format!("/proc/{monitor}/task"))
            .unwrap()
            .count(),
        1,
        "the monitor has threads"
    );
}

#[test]
fn killed_child_is_restarted_and_recorded() {
    let env = Env::new();
    let (monitor, child) =
        start_respawn(&env, "k", &["--restart-delay", "10ms"], &["sleep", "1000"]);
    signal(child, Signal::SIGKILL);
    let new = wait_new_child(&env, "k", child);
    assert_eq!(stat(new).unwrap().ppid, monitor);
    assert_eq!(env.pid_of("k"), monitor, "the pidfile keeps the monitor");
    let rec = env.record("k");
    assert_eq!(rec["restarts"], 1);
    assert_eq!(rec["last_exit"]["signal"], 9);
    // The monitor's saves of the status keep its main process's identity: the monitor's.
    assert_pidfs_recorded(&rec, monitor);
    assert!(rec["last_exit"]["at"].as_str().unwrap().ends_with('Z'));
    env.run(&["status", "k"])
        .ok()
        .stdout_has("restarts: 1")
        .stdout_has("last exit: killed by signal 9 at ");
    let log = fs::read_to_string(env.path("k.log")).unwrap();
    assert!(
        log.contains(&format!("pid {child}: killed by signal 9")),
        "{log}"
    );
    assert!(
        log.contains(&format!("restarted as pid {new} (restart 1)")),
        "{log}"
    );
}

#[test]
fn restarts_whatever_the_exit_status_and_counts_them() {
    let env = Env::new();
    let runs = env.path("runs");
    let script = env.script("once.sh", "echo run >> \"$1\"; exit 0");
    let monitor = start_monitor(
        &env,
        "zero",
        &["--restart-delay", "10ms", "--max-restarts", "0"],
        &[script.to_str().unwrap(), runs.to_str().unwrap()],
    );
    wait_until("the program ran 5 times", DEADLINE, || {
        lines(&runs).len() >= 5
    });
    wait_until("the record counts 4 restarts", DEADLINE, || {
        env.record("zero")["restarts"].as_u64() >= Some(4)
    });
    assert_eq!(env.record("zero")["last_exit"]["code"], 0);
    env.run(&["stop", "zero"]).ok();
    wait_dead(monitor);
    let rec = env.record("zero");
    let restarts = rec["restarts"].as_u64().unwrap();
    let ran = lines(&runs).len() as u64;
    // Every run but the first is a restart (the last may have been cut short by the stop).
    assert!(ran == restarts + 1 || ran == restarts, "{ran} runs, {rec}");
}

#[test]
fn backoff_doubles_the_delay_between_quick_failures() {
    let env = Env::new();
    let times = env.path("times");
    let script = env.script("fail.sh", "date +%s%N >> \"$1\"; exit 1");
    start_monitor(
        &env,
        "back",
        &["--restart-delay", "200ms", "--max-restarts", "0"],
        &[script.to_str().unwrap(), times.to_str().unwrap()],
    );
    wait_until("the program ran 4 times", DEADLINE, || {
        lines(&times).len() >= 4
    });
    let t: Vec<u64> = lines(&times)
        .iter()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    let gaps: Vec<u64> = t.windows(2).map(|w| (w[1] - w[0]) / 1_000_000).collect();
    // Delays of 200, 400 and 800 ms: lower bounds are exact, upper bounds generous.
    for (gap, delay) in gaps.iter().zip([200, 400, 800]) {
        assert!(*gap >= delay, "gaps {gaps:?} ms");
        assert!(*gap < delay + 10_000, "gaps {gaps:?} ms");
    }
    let log = fs::read_to_string(env.path("back.log")).unwrap();
    for delay in [
        "restarting in 200ms",
        "restarting in 400ms",
        "restarting in 800ms",
    ] {
        assert!(log.contains(delay), "{log}");
    }
}

#[test]
fn gives_up_after_max_restarts_and_is_failed() {
    let env = Env::new();
    let runs = env.path("runs");
    let script = env.script("crash.sh", "echo run >> \"$1\"; exit 3");
    let monitor = start_monitor(
        &env,
        "crash",
        &[
            "--restart-delay",
            "10ms",
            "--max-restarts",
            "3",
            "--restart-window",
            "1m",
        ],
        &[script.to_str().unwrap(), runs.to_str().unwrap()],
    );
    wait_dead(monitor);
    wait_until("the monitor removed its pidfile", DEADLINE, || {
        !env.path("crash.pid").exists()
    });
    assert_eq!(lines(&runs).len(), 4, "the first run and 3 restarts");
    let rec = env.record("crash");
    assert_eq!(rec["failed"], true);
    assert_eq!(rec["restarts"], 3);
    assert_eq!(rec["last_exit"]["code"], 3);
    assert!(rec["child_pid"].is_null());

    env.run(&["status", "crash"])
        .code(1)
        .stdout_has("crash has failed")
        .stdout_has("restarts: 3")
        .stdout_has("last exit: exited with status 3 at ");
    let json: serde_json::Value =
        serde_json::from_str(&env.run(&["status", "crash", "--json"]).code(1).stdout).unwrap();
    crate::json::check_object(&json);
    assert_eq!(json["state"], "failed");
    assert_eq!(
        json["wanted"], "running",
        "the monitor gave up, the user did not"
    );
    assert_eq!(json["pid"], serde_json::Value::Null);
    assert_eq!(json["last_exit"]["code"], 3);
    let list = env.run(&["list"]).ok();
    let row = list
        .stdout
        .lines()
        .find(|l| l.starts_with("crash"))
        .unwrap();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>()[..5],
        ["crash", "failed", "-", "-", "3"]
    );
    let log = fs::read_to_string(env.path("crash.log")).unwrap();
    assert!(
        log.contains("giving up after 3 restarts within 1m"),
        "{log}"
    );
    env.run(&["stop", "crash"]).ok().stdout_has("not running");
    // Stopped on purpose since: no longer wanted, so `stopped` (exit 3), no longer `failed`,
    // and its last exit is still shown.
    env.run(&["status", "crash"])
        .code(3)
        .stdout_has("crash is stopped")
        .stdout_has("last exit: exited with status 3 at ");
    let list = env.run(&["list"]).ok();
    assert!(
        list.stdout
            .lines()
            .any(|l| l.split_whitespace().take(2).eq(["crash", "stopped"])),
        "{}",
        list.stdout
    );
    // The same script, now well-behaved: start again clears the failure.
    env.script("crash.sh", "echo run >> \"$1\"; exec sleep 1000");
    env.run(&["restart", "crash"]).ok();
    let rec = env.record("crash");
    assert_eq!(rec["failed"], false);
    env.track(child_pid(&env, "crash").unwrap());
    env.run(&["status", "crash"]).ok();
}

#[test]
fn signals_are_forwarded_and_term_stops_without_restart() {
    let env = Env::new();
    let got = env.path("got");
    let recorder = signal_recorder(&env, &got, &["TERM", "INT"]);
    let argv: Vec<&str> = recorder.iter().map(String::as_str).collect();
    let (monitor, child) = start_respawn(&env, "sig", &["--restart-delay", "10ms"], &argv);
    env.wait_file("got.ready");
    for (sig, name) in [
        (Signal::SIGHUP, "HUP"),
        (Signal::SIGUSR1, "USR1"),
        (Signal::SIGUSR2, "USR2"),
        (Signal::SIGWINCH, "WINCH"),
        (Signal::SIGQUIT, "QUIT"),
    ] {
        signal(monitor, sig);
        wait_until(&format!("the child got {name}"), DEADLINE, || {
            lines(&got).last().map(String::as_str) == Some(name)
        });
        assert!(alive(monitor), "the monitor died of {name}");
    }
    signal(monitor, Signal::SIGTERM);
    wait_dead(monitor);
    wait_dead(child);
    assert_eq!(
        lines(&got),
        ["start", "HUP", "USR1", "USR2", "WINCH", "QUIT", "TERM"]
    );
    assert!(
        !env.path("sig.pid").exists(),
        "the monitor left its pidfile"
    );
    let rec = env.record("sig");
    assert_eq!(rec["restarts"], 0);
    assert_eq!(rec["last_exit"]["code"], 0);
    assert_eq!(rec["failed"], false);
    // Stopped by a signal from outside, not by `stop`: still wanted running, so `dead` (SPEC
    // §5, exit 1: killed), as a daemon without a monitor would be, and `resurrect` starts it.
    env.run(&["status", "sig"])
        .code(1)
        .stdout_has("sig is dead");
    let run = env.run(&["resurrect"]).ok().stdout_has("started sig");
    let again = env.pid_of("sig");
    env.track(again);
    assert!(alive(again), "{}", run.dump());
    env.run(&["stop", "sig"]).ok();
    env.run(&["status", "sig"])
        .code(3)
        .stdout_has("sig is stopped");
}

#[test]
fn int_is_forwarded_and_stops_too() {
    let env = Env::new();
    let got = env.path("got");
    let recorder = signal_recorder(&env, &got, &["TERM", "INT"]);
    let argv: Vec<&str> = recorder.iter().map(String::as_str).collect();
    let (monitor, child) = start_respawn(&env, "int", &[], &argv);
    env.wait_file("got.ready");
    signal(monitor, Signal::SIGINT);
    wait_dead(monitor);
    wait_dead(child);
    assert_eq!(lines(&got), ["start", "INT"]);
    assert!(!env.path("int.pid").exists());
}

#[test]
fn stop_ends_monitor_and_child() {
    let env = Env::new();
    let (monitor, child) = start_respawn(&env, "st", &[], &["sleep", "1000"]);
    env.run(&["stop", "st"])
        .ok()
        .stdout_has(&format!("stopped st (pid {monitor})"));
    assert!(!alive(monitor), "the monitor survived stop");
    wait_dead(child);
    assert!(!env.path("st.pid").exists());
    let rec = env.record("st");
    assert_eq!(rec["last_exit"]["signal"], 15);
    assert_eq!(rec["restarts"], 0);
    env.run(&["status", "st"])
        .code(3)
        .stdout_has("st is stopped")
        .stdout_has("last exit: killed by signal 15");
    env.run(&["stop", "st"])
        .ok()
        .stdout_has("st is not running");
}

#[test]
fn stop_kills_the_group_when_the_child_ignores_term() {
    let env = Env::new();
    let argv = env.stubborn_program("stub");
    let args: Vec<&str> = argv.iter().map(String::as_str).collect();
    let (monitor, child) = start_respawn(&env, "stub", &[], &args);
    env.wait_file("stub.ready");
    env.run(&["stop", "stub", "--timeout", "300ms"])
        .ok()
        .stdout_has("stopped stub");
    assert!(!alive(monitor));
    wait_dead(child);
    assert!(!env.path("stub.pid").exists());
}

#[test]
fn killing_the_monitor_leaves_no_orphan() {
    let env = Env::new();
    let (monitor, child) = start_respawn(&env, "orph", &[], &["sleep", "1000"]);
    signal(monitor, Signal::SIGKILL);
    wait_dead(monitor);
    // PR_SET_PDEATHSIG: the child gets SIGTERM when the monitor dies.
    wait_dead(child);
    env.run(&["status", "orph"])
        .code(1)
        .stdout_has("orph is dead");
    env.run(&["stop", "orph"]).ok().stdout_has("not running");
}

#[test]
fn exec_failure_fails_the_start_and_leaves_nothing() {
    let env = Env::new();
    let bogus = env.path("noshebang");
    fs::write(&bogus, "echo hi\n").unwrap();
    fs::set_permissions(&bogus, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    env.run(&[
        "start",
        "--respawn",
        "--name",
        "bad",
        "--",
        bogus.to_str().unwrap(),
    ])
    .code(1)
    .one_error_line()
    .stderr_has("Exec format error");
    assert!(!env.path("bad.pid").exists());
    assert!(!env.path("bad.json").exists());
    assert!(!env.path("bad.lock").exists());
}

#[test]
fn restart_keeps_supervised_mode_and_takes_overrides() {
    let env = Env::new();
    let (monitor, child) =
        start_respawn(&env, "re", &["--restart-delay", "5s"], &["sleep", "1000"]);
    env.run(&["restart", "re", "--max-restarts", "7"]).ok();
    assert!(!alive(monitor));
    wait_dead(child);
    let new_monitor = env.pid_of("re");
    assert_ne!(new_monitor, monitor);
    let rec = env.record("re");
    assert_eq!(rec["mode"], "respawn");
    assert_eq!(rec["pid"], new_monitor);
    assert_eq!(rec["respawn"]["restart_delay"], "5s");
    assert_eq!(rec["respawn"]["max_restarts"], 7);
    let new_child = child_pid(&env, "re").unwrap();
    env.track(new_child);
    assert_eq!(stat(new_child).unwrap().ppid, new_monitor);
    // Overriding a respawn option of an exec-mode daemon is a usage error, before any stop.
    let pid = env.start("plain", &["sleep", "1000"]);
    env.run(&["restart", "plain", "--log-keep", "3"])
        .code(2)
        .one_error_line()
        .stderr_has("--log-keep works only in supervised mode");
    assert!(alive(pid));
}

#[test]
fn respawn_options_are_checked_before_anything_starts() {
    let env = Env::new();
    let cases: &[&[&str]] = &[
        &["start", "--log-max-size", "1M", "--", "sleep", "1"],
        &["start", "--log-keep", "3", "--", "sleep", "1"],
        &["start", "--restart-delay", "1s", "--", "sleep", "1"],
        &["start", "--max-restarts", "3", "--", "sleep", "1"],
        &["start", "--restart-window", "1m", "--", "sleep", "1"],
        &[
            "start",
            "--respawn",
            "--log-max-size",
            "0",
            "--",
            "sleep",
            "1",
        ],
        &[
            "start",
            "--respawn",
            "--log-max-size",
            "ten",
            "--",
            "sleep",
            "1",
        ],
        &[
            "start",
            "--respawn",
            "--restart-delay",
            "soon",
            "--",
            "sleep",
            "1",
        ],
        &[
            "start",
            "--respawn",
            "--max-restarts",
            "-1",
            "--",
            "sleep",
            "1",
        ],
        &["start", "--respawn", "--log-keep", "x", "--", "sleep", "1"],
    ];
    for args in cases {
        let run = env.run(args).code(2).one_error_line();
        assert!(!run.stderr.contains("error:"), "{}", run.dump());
    }
    assert_eq!(fs::read_dir(env.dir()).unwrap().count(), 0);
}

/// Writes `n` numbered lines of 36 bytes to stdout, then marks `$1` and sleeps.
fn writer_script(env: &Env, n: u32) -> std::path::PathBuf {
    env.script(
        "writer.sh",
        &format!(
            r#"awk 'BEGIN {{ for (i = 1; i <= {n}; i++) printf "%08d abcdefghijklmnopqrstuvwxyz\n", i }}'
: > "$1"
exec sleep 1000"#
        ),
    )
}

/// The log and its rotated files, oldest first, as (path, content).
fn rotated(log: &Path, keep: u32) -> Vec<(std::path::PathBuf, String)> {
    let mut files: Vec<std::path::PathBuf> = (1..=keep)
        .rev()
        .map(|i| {
            let mut name = log.file_name().unwrap().to_os_string();
            name.push(format!(".{i}"));
            log.with_file_name(name)
        })
        .filter(|p| p.exists())
        .collect();
    files.push(log.to_owned());
    files
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

#[test]
fn rotation_loses_and_splits_no_line_of_several_megabytes() {
    let env = Env::new();
    let n = 100_000; // 3.6 MB
    let script = writer_script(&env, n);
    let done = env.path("done");
    let (_, child) = start_respawn(
        &env,
        "rot",
        &["--log-max-size", "256K", "--log-keep", "20"],
        &[script.to_str().unwrap(), done.to_str().unwrap()],
    );
    let log = env.path("rot.log");
    env.wait_file("done");
    let last = format!("{n:08} abcdefghijklmnopqrstuvwxyz");
    wait_until("the monitor wrote the last line", DEADLINE, || {
        fs::read_to_string(&log).unwrap_or_default().contains(&last)
    });
    let files = rotated(&log, 20);
    assert!(files.len() >= 14, "only {} files", files.len());
    let mut expected = 1;
    for (path, text) in &files {
        // SIZE is a bound; a line that does not fit starts the next file.
        assert!(
            text.len() <= 256 * 1024,
            "{} has {} bytes",
            path.display(),
            text.len()
        );
        assert!(text.ends_with('\n'), "{} ends mid-line", path.display());
        for line in text.lines().filter(|l| !l.starts_with("rdaemon: ")) {
            assert_eq!(
                line,
                format!("{expected:08} abcdefghijklmnopqrstuvwxyz"),
                "in {}",
                path.display()
            );
            expected += 1;
        }
    }
    assert_eq!(expected, n + 1, "lines lost");
    // The child writes into a pipe; the monitor holds the file.
    let child_fds = fds(child);
    assert!(
        child_fds[1].1.to_string_lossy().starts_with("pipe:"),
        "{child_fds:?}"
    );
    assert_eq!(
        child_fds[1].1, child_fds[2].1,
        "stdout and stderr share the log"
    );
}

#[test]
fn rotation_keeps_n_files_and_leaves_other_streams_alone() {
    let env = Env::new();
    let script = writer_script(&env, 20_000); // 720 KB
    let done = env.path("done");
    let out = env.path("out.log");
    let (_, child) = start_respawn(
        &env,
        "keep",
        &[
            "--stdout",
            out.to_str().unwrap(),
            "--stderr",
            "/dev/null",
            "--log-max-size",
            "64K",
            "--log-keep",
            "2",
        ],
        &[script.to_str().unwrap(), done.to_str().unwrap()],
    );
    env.wait_file("done");
    wait_until("the monitor wrote the last line", DEADLINE, || {
        fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("00020000 ")
    });
    assert!(env.path("out.log.1").exists());
    assert!(env.path("out.log.2").exists());
    assert!(!env.path("out.log.3").exists(), "kept more than 2");
    // The oldest kept lines follow each other up to the last one.
    let text: String = rotated(&out, 2).into_iter().map(|(_, t)| t).collect();
    let numbers: Vec<u32> = text.lines().map(|l| l[..8].parse().unwrap()).collect();
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1));
    assert_eq!(*numbers.last().unwrap(), 20_000);
    assert_eq!(fds(child)[2].1, Path::new("/dev/null"));
}

/// A program that counts every SIGTERM delivered to it (Python's wakeup fd gets one byte per
/// delivery, so nothing coalesces) and, as a server with a graceful shutdown would, takes half a
/// second to exit after the first one; it writes the count to `$1` and exits 0.
const COUNT_TERMS: &str = r#"
import os, select, signal, sys, time
count_path, ready_path = sys.argv[1], sys.argv[2]
r, w = os.pipe()
os.set_blocking(w, False)
signal.set_wakeup_fd(w)
signal.signal(signal.SIGTERM, lambda *a: None)
open(ready_path, "w").close()
terms = 0
while terms == 0:
    select.select([r], [], [])
    terms += os.read(r, 64).count(signal.SIGTERM)
end = time.monotonic() + 0.5
while (left := end - time.monotonic()) > 0:
    if select.select([r], [], [], left)[0]:
        terms += os.read(r, 64).count(signal.SIGTERM)
with open(count_path, "w") as f:
    f.write(str(terms))
"#;

#[test]
fn stop_gives_the_child_exactly_one_term() {
    let env = Env::new();
    let script = env.path("count_terms.py");
    fs::write(&script, COUNT_TERMS).unwrap();
    let (count, ready) = (env.path("terms"), env.path("ready"));
    let (monitor, child) = start_respawn(
        &env,
        "gentle",
        &[],
        &[
            "python3",
            script.to_str().unwrap(),
            count.to_str().unwrap(),
            ready.to_str().unwrap(),
        ],
    );
    env.wait_file("ready");
    env.run(&["stop", "gentle"])
        .ok()
        .stdout_has("stopped gentle");
    assert!(!alive(monitor));
    wait_dead(child);
    assert_eq!(
        fs::read_to_string(&count).unwrap(),
        "1",
        "the child must get one SIGTERM: a second one cuts a graceful shutdown short"
    );
    let rec = env.record("gentle");
    assert_eq!(
        rec["last_exit"]["code"], 0,
        "the child shut down gracefully"
    );
}

#[test]
fn stop_leaves_nothing_the_child_started() {
    // The child exits on TERM at once and leaves its own background process behind: that one
    // goes too, as with `stop` of an exec daemon.
    let env = Env::new();
    let kid = env.path("kid");
    let script = env.script(
        "leaver.sh",
        "sleep 1000 & echo $! > \"$1\"; trap 'exit 0' TERM; : > \"$1.ready\"; wait",
    );
    let (monitor, child) = start_respawn(
        &env,
        "leaver",
        &[],
        &[script.to_str().unwrap(), kid.to_str().unwrap()],
    );
    env.wait_file("kid.ready");
    let grandchild: i32 = fs::read_to_string(&kid).unwrap().trim().parse().unwrap();
    env.track(grandchild);
    env.run(&["stop", "leaver"]).ok();
    assert!(!alive(monitor));
    wait_dead(child);
    wait_dead(grandchild);
    assert_eq!(env.record("leaver")["last_exit"]["code"], 0);
}

/// A respawn daemon's pidfile outside rdaemon's directory, found after a `stop` naming a process
/// of the same program that no record vouches for (written there by someone else): trusted the
/// classic way (SPEC §4), as a plain daemon's pidfile would be, it is the program running without
/// a monitor, never the monitor. `status` says it runs, with no monitor rss and why; `start`
/// refuses, naming it, rather than say "already running" with nothing to restart it.
#[test]
fn a_pidfile_naming_a_process_no_record_vouches_for_is_never_the_monitor() {
    let env = Env::new();
    let dir = env.path("run");
    fs::create_dir(&dir).unwrap();
    let pidfile = dir.join("sl.pid");
    let p = pidfile.display().to_string();
    let mark = unique_secs();
    start_monitor(&env, "sl", &["--pidfile", &p], &["sleep", &mark]);
    env.run(&["stop", "sl"]).ok();
    let stranger = OwnChild::sleep();
    let pid = stranger.pid();
    fs::write(&pidfile, format!("{pid}\n")).unwrap();

    let run = env.run(&["status", "sl"]).ok();
    let run = run
        .stdout_has(&format!("sl is running (pid {pid})"))
        .stderr_has(&format!("names pid {pid} (sleep)"))
        .stderr_has("no monitor runs");
    assert!(!run.stdout.contains("monitor rss"), "{}", run.dump());
    let (_, v) = status_json(&env, "sl");
    assert_eq!(v["pid"], pid, "{v}");
    assert_eq!(v["child_pid"], serde_json::Value::Null, "{v}");
    assert_eq!(v["monitor_rss_bytes"], serde_json::Value::Null, "{v}");
    env.run(&["start", "sl"])
        .code(1)
        .one_error_line()
        .stderr_has(&format!("names pid {pid} (sleep)"));
    assert!(live_pids_with_arg(&mark).is_empty(), "no monitor started");
    assert!(alive(pid), "nothing was signalled");
}

/// A restart that is due while a leftover of the last program ignores its stop signal waits
/// for the cleanup asleep: blocked in `poll` until the cleanup's deadline (`--stop-timeout`) or
/// the leftover's exit, not woken at once again and again (helper-106's attack: 98 % of a core
/// for the whole timeout, at every restart). A state, the timeout of its `poll`.
#[test]
fn a_due_restart_waits_for_a_stubborn_leftover_asleep() {
    // The monitor is no child of the test's: reading its system call needs root.
    if !need_root("a_due_restart_waits_for_a_stubborn_leftover_asleep") {
        return;
    }
    let env = Env::new();
    let mark = unique_secs();
    // The program ends once its leftover ignores TERM.
    let deaf = env.path("deaf");
    let program = format!(
        "setsid sh -c 'trap \"\" TERM; : > {d}; exec sleep {mark}' & {}; exit 3",
        until_go(&deaf),
        d = deaf.display()
    );
    env.run(&[
        "start",
        "--name",
        "lo",
        "--respawn",
        "--restart-delay",
        "100ms",
        "--stop-timeout",
        "60s",
        "--",
        "sh",
        "-c",
        &program,
    ])
    .code(0);
    let monitor = env.pid_of("lo");
    wait_until("the leftover runs", DEADLINE, || {
        !env.track_marked(&mark).is_empty()
    });
    // Once the restart is due, only the cleanup's deadline, a minute away, bounds the wait.
    wait_until(
        "the monitor sleeps until the cleanup's deadline",
        DEADLINE,
        || poll_timeout_ms(monitor).is_some_and(|ms| ms >= 10_000),
    );
    assert_eq!(
        env.record("lo")["restarts"],
        0,
        "it restarted past its leftover"
    );
    for pid in env.track_marked(&mark) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL).unwrap();
    }
    wait_until("the program is restarted", DEADLINE, || {
        env.record("lo")["restarts"].as_u64() >= Some(1)
    });
    env.run(&["stop", "lo", "--timeout", "1s"]).ok();
}
