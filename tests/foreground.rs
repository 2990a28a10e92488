//! `start --foreground`: no detaching; pidfile and record written, then the program runs in
//! rdaemon's place, with rdaemon's pid and (without log options) its standard streams.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use crate::common::*;

#[test]
fn foreground_execs_in_place_keeping_the_pid_and_the_streams() {
    let env = Env::new();
    let script = env.script(
        "fg.sh",
        "echo \"pid $$\"; echo \"notify $NOTIFY_SOCKET\"; exec sleep 1000",
    );
    let out = env.path("fg.out");
    let mut cmd = env.std_cmd();
    cmd.args(["start", "--foreground", "--name", "fg", "--"])
        .arg(&script)
        // Under systemd (Type=notify) the program must reach systemd's socket itself.
        .env("NOTIFY_SOCKET", "@systemd-test")
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(Stdio::null());
    let mut fg = Background::spawn(&mut cmd);
    let pid = fg.pid();
    env.track(pid);
    wait_until("the program has become sleep", DEADLINE, || {
        fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
    });
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        format!("pid {pid}\nnotify @systemd-test\n"),
        "the program did not run in rdaemon's place with its stdout"
    );
    assert_eq!(env.pid_of("fg"), pid);
    let rec = env.record("fg");
    assert_eq!(rec["pid"], pid);
    assert_eq!(rec["start_time"], stat(pid).unwrap().start_time);
    assert_pidfs_recorded(&rec, pid);
    assert_eq!(rec["stdout"], out.to_str().unwrap());
    assert!(!env.path("fg.log").exists(), "output went to a log file");
    // Right after the exec, sleep's start-up may still hold a file open.
    wait_asleep(pid);
    assert_eq!(
        fds(pid),
        vec![
            (0, "/dev/null".into()),
            (1, out.clone()),
            (2, "/dev/null".into())
        ]
    );
    assert_eq!(status_field(pid, "SigIgn"), "0000000000000000");
    env.run(&["status", "fg"]).ok();
    env.run(&["stop", "fg"])
        .ok()
        .stdout_has(&format!("stopped fg (pid {pid})"));
    let status = fg.child().wait().unwrap();
    assert_eq!(status.signal(), Some(15), "{status:?}");
    assert!(!env.path("fg.pid").exists());
}

#[test]
fn foreground_with_a_log_writes_there_and_exits_with_the_program() {
    let env = Env::new();
    let log = env.path("once.log");
    let run = env
        .run(&[
            "start",
            "--foreground",
            "--name",
            "once",
            "--log",
            log.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            "echo to the log; echo oops >&2; exit 7",
        ])
        .code(7);
    assert_eq!(run.stdout, "", "{}", run.dump());
    assert_eq!(fs::read_to_string(&log).unwrap(), "to the log\noops\n");
    assert_eq!(env.record("once")["stdout"], log.to_str().unwrap());
    // It died without rdaemon: dead, pidfile left, and the reason on screen.
    env.run(&["status", "once"])
        .code(1)
        .stdout_has("once is dead")
        .stdout_has("    oops");
}

#[test]
fn foreground_exec_failure_leaves_nothing() {
    let env = Env::new();
    let file = env.path("noshebang");
    fs::write(&file, "sleep 1000\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).unwrap();
    env.run(&[
        "start",
        "--foreground",
        "--name",
        "bad",
        "--",
        file.to_str().unwrap(),
    ])
    .code(1)
    .one_error_line()
    .stderr_has("cannot execute")
    .stderr_has("Exec format error");
    assert!(!env.path("bad.pid").exists());
    assert!(!env.path("bad.json").exists());
}

/// A `--foreground` daemon keeps its caller's session, so the other members of that session
/// are the caller's, not the daemon's: `status` counts the daemon and its descendants only,
/// and `stop` leaves the caller's other processes alone.
#[test]
fn foreground_status_counts_only_the_daemon_not_its_callers_session() {
    let env = Env::new();
    let caller_mark = unique_secs();
    let daemon_mark = unique_secs();
    let rdaemon = env.std_cmd();
    // A caller in its own session, with another process of its own beside rdaemon.
    let script = format!(
        "sleep {caller_mark} & '{}' start --foreground --name fg --cgroup off -- sh -c 'sleep {daemon_mark} & exec sleep {daemon_mark}'; wait",
        rdaemon.get_program().to_str().unwrap()
    );
    let caller = in_a_new_session(&script, &rdaemon);
    wait_until("the daemon and its child run", DEADLINE, || {
        live_pids_with_arg(&daemon_mark).len() == 2
    });
    let caller_sleep = env.track_marked(&caller_mark);
    assert_eq!(caller_sleep.len(), 1);
    env.track_marked(&daemon_mark);
    let pid = env.pid_of("fg");
    assert_eq!(
        stat(pid).unwrap().session,
        caller.pid(),
        "not the caller's session"
    );
    env.run(&["status", "fg"])
        .ok()
        .stdout_has("tasks:   2 processes");
    env.run(&["stop", "fg"]).ok();
    wait_dead(pid);
    assert_left_alone(
        caller_sleep[0],
        "the stop of the foreground daemon (the caller's process)",
    );
}

/// Once the leader of the caller's session has exited, nothing tells that session's other
/// members from the daemon's: a `--foreground` daemon has no session rdaemon made, and `stop`
/// signals its pid and group only. Neither a job of the caller (another member of that
/// session) nor a child the process sent into a session of its own before it became the daemon
/// (it is the caller's shell, exec'd) is stopped with it.
#[test]
fn foreground_stop_leaves_the_callers_session_alone_once_its_leader_is_gone() {
    let env = Env::new();
    let (job, detached, daemon) = (unique_secs(), unique_secs(), unique_secs());
    let rdaemon = env.std_cmd();
    let rd = rdaemon.get_program().to_str().unwrap().to_owned();
    // The session's leader starts a job, and a shell that detaches a child into a session of
    // its own, then execs rdaemon; the leader exits once the daemon runs.
    let script = format!(
        r#"sleep {job} &
sh -c 'setsid sleep {detached} & exec "$0" start --foreground --name fg --cgroup off -- sleep {daemon}' '{rd}' &
until '{rd}' status fg >/dev/null 2>&1; do sleep 0.01; done
exit 0"#
    );
    let leader = in_a_new_session(&script, &rdaemon);
    let status = leader
        .output_within(DEADLINE, "the session's leader")
        .status;
    assert!(status.success(), "{status:?}");
    let job = env.track_marked(&job);
    let detached = env.track_marked(&detached);
    assert_eq!((job.len(), detached.len()), (1, 1), "{job:?} {detached:?}");
    let pid = env.pid_of("fg");
    env.track(pid);
    assert_eq!(stat(job[0]).unwrap().session, stat(pid).unwrap().session);
    assert_eq!(stat(detached[0]).unwrap().ppid, pid);
    let run = env.run(&["stop", "fg"]).ok();
    assert!(!run.stdout.contains("leftover"), "{}", run.dump());
    wait_dead(pid);
    assert_left_alone(
        job[0],
        "the stop of the foreground daemon (the caller's job)",
    );
    assert_left_alone(
        detached[0],
        "the stop of the foreground daemon (a child its shell detached)",
    );
}

/// `setsid sh -c SCRIPT`, with `rdaemon`'s environment (its directory) and no terminal: a
/// caller in a session of its own, that leads it.
fn in_a_new_session(script: &str, rdaemon: &std::process::Command) -> Background {
    let mut cmd = std::process::Command::new("setsid");
    cmd.args(["sh", "-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    with_env_of(&mut cmd, rdaemon);
    Background::spawn(&mut cmd)
}

/// A `--foreground` daemon runs under a supervisor of its own (systemd, a container runtime):
/// `resurrect` leaves it to that one rather than starting a detached copy, and a detached start
/// asked for by name writes to the default log, never to the caller's streams the record names
/// (a user's trial: `resurrect` appended to the file the caller's stdout had been).
#[test]
fn resurrect_leaves_a_foreground_daemon_to_its_supervisor_and_never_writes_to_its_callers_file() {
    let env = Env::new();
    let out = env.path("caller.out");
    let mut cmd = env.std_cmd();
    cmd.args(["start", "--foreground", "--name", "fg", "--"])
        .args(["sh", "-c", "echo \"hello from $$\"; exec sleep 1000"])
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(Stdio::null());
    let mut fg = Background::spawn(&mut cmd);
    let pid = fg.pid();
    env.track(pid);
    wait_until("the program has become sleep", DEADLINE, || {
        fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
    });
    assert_eq!(env.record("fg")["stdout"], out.to_str().unwrap());
    // It dies while wanted running, as at a reboot.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL).unwrap();
    fg.child().wait().unwrap();
    let said = fs::read_to_string(&out).unwrap();
    env.run(&["resurrect"])
        .ok()
        .stdout_has("fg was started with --foreground: left to the supervisor that runs it");
    assert_eq!(env.record("fg")["pid"], pid, "resurrect started it");
    // Under systemd, the unit's own streams: not the caller's file.
    env.run(&["export", "systemd", "fg"])
        .ok()
        .stdout_has("StandardOutput=journal\nStandardError=journal\n");
    assert_eq!(fs::read_to_string(&out).unwrap(), said);
    // Asked for by name, it starts detached, with the default log.
    let again = env.run(&["start", "fg"]).ok();
    let started = env.pid_of("fg");
    env.track(started);
    assert_ne!(started, pid, "{}", again.dump());
    wait_until("the detached copy said hello", DEADLINE, || {
        fs::read_to_string(env.path("fg.log")).is_ok_and(|l| l.contains("hello from"))
    });
    assert_eq!(fs::read_to_string(&out).unwrap(), said);
    env.run(&["stop", "fg"]).ok();
}
