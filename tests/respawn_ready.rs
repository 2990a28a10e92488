//! Readiness in supervised mode (`start --respawn --ready SPEC`, SPEC §2.1): the program is the
//! monitor's first child, which the monitor does not restart while `start` waits. If it ends
//! during the wait, `start` fails at once, as in exec mode (how it ended, the end of its log),
//! and the whole daemon goes: the monitor, and whatever the program left. Each failing case
//! uses a 60 s timeout: an error naming the exit, not the timeout, shows that `start` did not
//! wait for it.

use std::fs;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid as NixPid;

use crate::common::*;

/// What a start that failed must leave, as in exec mode: no process of the daemon (the monitor,
/// the program, anything marked `mark`), no pidfile, the daemon `stopped` with no restart.
fn assert_nothing_left(env: &Env, name: &str, run: &Run, pids: &[i32], mark: &str) {
    for &pid in pids {
        assert!(!alive(pid), "pid {pid} still runs\n{}", run.dump());
    }
    let left = env.track_marked(mark);
    assert!(left.is_empty(), "left running: {left:?}\n{}", run.dump());
    assert!(!env.path(&format!("{name}.pid")).exists(), "{}", run.dump());
    assert!(run.stdout.is_empty(), "it said started\n{}", run.dump());
    assert_eq!(env.record(name)["restarts"], 0);
    env.run(&["status", name])
        .code(3)
        .stdout_has(&format!("{name} is stopped"));
}

/// The first line of `start`'s error.
fn first_error_line(run: &Run) -> &str {
    run.stderr.lines().next().unwrap_or_default()
}

#[test]
fn a_program_that_exits_during_a_tcp_wait_fails_the_start_at_once() {
    let env = Env::new();
    let port = free_port();
    let mark = unique_secs();
    // It leaves a process behind in the monitor's group, which must go with the daemon.
    let program = format!("sleep {mark} & echo bye; exit 9");
    let ready = format!("tcp:{port}");
    let (run, monitor, child) = start_respawn_run(
        &env,
        "ex3",
        &["--ready", &ready, "--ready-timeout", "60s"],
        &["sh", "-c", &program],
    );
    let run = run.code(1);
    // The `sleep` it left is stopped either by its monitor, which ends with a TERM to its
    // group, or by `start` after it, which then says so: which one comes first is a race.
    let expected = format!(
        "rdaemon: cannot start ex3: the program exited with status 9 while rdaemon waited \
         for a TCP connection to 127.0.0.1:{port}"
    );
    let first = first_error_line(&run);
    assert!(
        first == expected || first == format!("{expected}; stopped 1 process it left behind"),
        "{}",
        run.dump()
    );
    // The end of its log, as in exec mode.
    let log = env.path("ex3.log");
    assert!(
        run.stderr
            .lines()
            .any(|l| l == format!("==> {} <==", log.display())),
        "{}",
        run.dump()
    );
    assert!(run.stderr.lines().any(|l| l == "bye"), "{}", run.dump());
    // The program ran once: the monitor did not restart it.
    let log = fs::read_to_string(&log).unwrap();
    assert_eq!(log.lines().filter(|l| *l == "bye").count(), 1, "{log}");
    assert_nothing_left(&env, "ex3", &run, &[monitor, child], &mark);
}

#[test]
fn alive_readiness_needs_the_program_itself_to_stay_up() {
    let env = Env::new();
    let mark = unique_secs();
    let (run, monitor, child) = start_respawn_run(
        &env,
        "ex4",
        &["--ready", "alive:60s"],
        &["sh", "-c", "exit 9", "sh", &mark],
    );
    let run = run.code(1);
    assert_eq!(
        first_error_line(&run),
        "rdaemon: cannot start ex4: the program exited with status 9 while rdaemon waited for \
         the program to stay up for 1m",
        "{}",
        run.dump()
    );
    assert_nothing_left(&env, "ex4", &run, &[monitor, child], &mark);
}

/// With `--log-max-size` the monitor writes the program's log: it is complete, its last line
/// included, when `start` shows its end.
#[test]
fn a_program_killed_by_a_signal_during_the_wait_is_named_with_its_last_words() {
    let env = Env::new();
    let mark = unique_secs();
    let never = env.path("never.ready");
    let ready = format!("file:{}", never.display());
    let (run, monitor, child) = start_respawn_run(
        &env,
        "doomed",
        &[
            "--ready",
            &ready,
            "--ready-timeout",
            "60s",
            "--log-max-size",
            "1M",
        ],
        &[
            "sh",
            "-c",
            "echo about to die \"$1\"; kill -9 $$",
            "sh",
            &mark,
        ],
    );
    let run = run.code(1);
    assert!(
        first_error_line(&run).starts_with(
            "rdaemon: cannot start doomed: the program was killed by signal 9 (SIGKILL) while \
             rdaemon waited for"
        ),
        "{}",
        run.dump()
    );
    assert!(
        run.stderr
            .lines()
            .any(|l| l == format!("about to die {mark}")),
        "{}",
        run.dump()
    );
    assert_nothing_left(&env, "doomed", &run, &[monitor, child], &mark);
}

#[test]
fn a_program_that_becomes_ready_is_started_and_later_restarted_as_before() {
    let env = Env::new();
    let mark = unique_secs();
    let (run, monitor, child) = start_respawn_run(
        &env,
        "fine",
        &["--ready", "alive:300ms", "--restart-delay", "10ms"],
        &["sleep", &mark],
    );
    run.ok()
        .stdout_has(&format!("started fine (pid {monitor})"));
    // The program `start` waited for is the one that runs: no restart happened meanwhile.
    assert!(alive(child));
    assert_eq!(stat(child).unwrap().ppid, monitor);
    assert_eq!(env.record("fine")["restarts"], 0);
    env.run(&["status", "fine"])
        .ok()
        .stdout_has(&format!("child:   pid {child}"));
    // A crash after the start is restarted as always.
    kill(NixPid::from_raw(child), Signal::SIGKILL).unwrap();
    let new = wait_new_child(&env, "fine", child);
    assert_eq!(stat(new).unwrap().ppid, monitor);
    wait_until("the status counts the restart", DEADLINE, || {
        env.record("fine")["restarts"] == 1
    });
    assert_eq!(env.record("fine")["last_exit"]["signal"], 9);
    env.run(&["status", "fine"])
        .ok()
        .stdout_has(&format!("fine is running (pid {monitor})"));
    env.run(&["stop", "fine"]).ok();
    assert!(!alive(monitor));
    wait_dead(new);
}

/// Ctrl-C while `start` waits stops the monitor and its program, as in exec mode: exit 130.
#[test]
fn ctrl_c_during_a_supervised_wait_stops_the_daemon_and_exits_130() {
    let env = Env::new();
    let mark = unique_secs();
    let never = env.path("never.ready");
    let start = start_waiting(&env, "half", &["--respawn"], &never, &mark);
    let rdaemon = start.pid();
    // `start` records the child once the monitor reports it, then waits, catching SIGINT.
    env.wait_file("half.json");
    let child = wait_new_child(&env, "half", 0);
    let monitor = env.pid_of("half");
    env.track(monitor);
    wait_until("start catches SIGINT", DEADLINE, || {
        catches(rdaemon, Signal::SIGINT)
    });
    kill(NixPid::from_raw(rdaemon), Signal::SIGINT).unwrap();
    let out = start.into_output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert!(
        stderr.contains("cannot start half: interrupted by SIGINT")
            && stderr.contains(&format!("stopped it (pid {monitor})")),
        "{stderr}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "it said started");
    assert!(!alive(monitor), "the monitor still runs");
    assert!(!alive(child), "the program still runs");
    assert!(env.track_marked(&mark).is_empty());
    assert!(!env.path("half.pid").exists());
    env.run(&["status", "half"])
        .code(3)
        .stdout_has("half is stopped");
}

/// A monitor killed while `start` waits for its program is named with how it ended, which
/// `start`, its parent, reaps: not just "the monitor exited" (helper-88's review, 2026-12-03:
/// `start` read the end in `/proc` before the kernel had told its pidfd, did not wait for it,
/// and lost how it ended). Its program goes with it: nothing of the daemon is left.
#[test]
fn a_monitor_killed_during_the_wait_is_named_with_its_signal() {
    let env = Env::new();
    let mark = unique_secs();
    let never = env.path("never.ready");
    let start = start_waiting(&env, "orphaned", &["--respawn"], &never, &mark);
    env.wait_file("orphaned.json");
    let child = wait_new_child(&env, "orphaned", 0);
    let monitor = env.pid_of("orphaned");
    env.track(monitor);
    assert_eq!(stat(child).unwrap().ppid, monitor);
    kill(NixPid::from_raw(monitor), Signal::SIGKILL).unwrap();
    let out = start.into_output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr.lines().next().unwrap_or_default().starts_with(
            "rdaemon: cannot start orphaned: the monitor was killed by signal 9 (SIGKILL) \
             while rdaemon waited for"
        ),
        "{stderr}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "it said started");
    wait_dead(child);
    assert!(!alive(monitor), "the monitor is not reaped");
    assert!(env.track_marked(&mark).is_empty());
    assert!(!env.path("orphaned.pid").exists());
    env.run(&["status", "orphaned"])
        .code(3)
        .stdout_has("orphaned is stopped");
}

/// `start` records the program's start time with its pid, not only the monitor after the
/// handoff: a monitor stopped (here with SIGSTOP, as an OOM kill or a loaded machine would
/// leave it) before its first save leaves a status that still identifies the program
/// (helper-95's review, 2026-12-03: `child_pid` alone, which a process later given the number
/// passed for).
#[test]
fn start_records_the_programs_start_time_itself() {
    let env = Env::new();
    let mark = unique_secs();
    let mut cmd = env.std_cmd();
    cmd.args([
        "start",
        "--name",
        "held",
        "--respawn",
        "--ready",
        "alive:1s",
        "--",
        "sleep",
        &mark,
    ])
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let start = Background::spawn(&mut cmd);
    env.wait_file("held.json");
    let child = wait_new_child(&env, "held", 0);
    let monitor = env.record("held")["pid"].as_i64().unwrap() as i32;
    env.track(monitor);
    kill(NixPid::from_raw(monitor), Signal::SIGSTOP).unwrap();
    let out = start.output_within(DEADLINE, "the start returns");
    let record = env.record("held");
    kill(NixPid::from_raw(monitor), Signal::SIGCONT).unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(record["child_pid"], child);
    assert_eq!(
        record["child_start_time"].as_u64(),
        stat(child).map(|s| s.start_time),
        "{record}"
    );
    env.run(&["stop", "held"]).ok();
}
