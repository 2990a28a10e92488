//! `rdaemon restart`: same command line from the record, with overrides.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::common::*;

#[test]
fn restart_replaces_the_process_with_the_recorded_command() {
    let env = Env::new();
    let old = env.start("web", &["sleep", "1000"]);
    env.run(&["restart", "web"])
        .ok()
        .stdout_has("started web (pid");
    let new = env.pid_of("web");
    assert_ne!(old, new);
    assert!(!alive(old));
    assert!(alive(new));
    assert_eq!(
        env.record("web")["command"],
        serde_json::json!(["sleep", "1000"])
    );
}

#[test]
fn restart_applies_overrides() {
    let env = Env::new();
    env.start("web", &["sleep", "1000"]);
    env.run(&[
        "restart",
        "web",
        "--env",
        "LEVEL=debug",
        "--umask",
        "027",
        "--",
        "sleep",
        "2000",
    ])
    .ok();
    let pid = env.pid_of("web");
    wait_environ_has(pid, "LEVEL=debug");
    assert_eq!(status_field(pid, "Umask"), "0027");
    let rec = env.record("web");
    assert_eq!(rec["command"], serde_json::json!(["sleep", "2000"]));
    assert_eq!(rec["umask"], "027");
}

#[test]
fn restart_of_a_stopped_daemon_starts_it() {
    let env = Env::new();
    let old = env.start("web", &["sleep", "1000"]);
    env.run(&["stop", "web"]).ok();
    wait_dead(old);
    env.run(&["restart", "web"]).ok();
    assert!(alive(env.pid_of("web")));
}

#[test]
fn restart_without_record_needs_a_command_line() {
    let env = Env::new();
    env.run(&["restart", "ghost"])
        .code(2)
        .one_error_line()
        .stderr_has("no record for ghost");
    env.run(&["restart", "ghost", "--", "sleep", "1000"]).ok();
    assert!(alive(env.pid_of("ghost")));
}

#[test]
fn restart_with_a_missing_program_fails_with_exit_1() {
    let env = Env::new();
    let pid = env.start("web", &["sleep", "1000"]);
    env.run(&["restart", "web", "--", "no-such-program-xyz"])
        .code(1)
        .stderr_has("cannot execute 'no-such-program-xyz'");
    // Found before stopping anything (issue 12): the running daemon is left alone.
    assert!(alive(pid));
    assert_eq!(env.pid_of("web"), pid);
    // The failed restart keeps the record of what last worked.
    assert_eq!(
        env.record("web")["command"],
        serde_json::json!(["sleep", "1000"])
    );
}

/// Bad-input sweep, 2026-12-02: two programs the exec is bound to refuse passed `restart`'s
/// checks, which then stopped the daemon and failed, leaving it dead: a file with neither ELF
/// magic nor a `#!` line (SPEC §2 runs no `/bin/sh` in its place), and a `--chdir` the
/// `--user` may not enter. Both are now found before anything is stopped.
#[test]
fn restart_refuses_what_the_exec_would_before_it_stops_the_daemon() {
    let env = Env::new();
    let pid = env.start("web", &["sleep", "1000"]);
    let spec = fs::read(env.path("web.json")).unwrap();
    let plain = env.path("plain-script");
    fs::write(&plain, "sleep 1000\n").unwrap();
    let empty = env.path("empty-file");
    fs::write(&empty, "").unwrap();
    // rdaemon says so only where binfmt_misc is mounted and lists no format (else one it cannot
    // see may apply): as systemd mounts it, here in a mount namespace of the command's own.
    let binfmt = "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
        && [ \"$(ls /proc/sys/fs/binfmt_misc | tr '\\n' ' ')\" = 'register status ' ] \
        && exec \"$@\"";
    let mut checks = 0;
    let probe = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", binfmt, "sh", "true"])
        .status();
    if probe.is_ok_and(|s| s.success()) {
        for file in [&plain, &empty] {
            fs::set_permissions(file, fs::Permissions::from_mode(0o755)).unwrap();
            let shown = file.to_str().unwrap();
            let wrapper = ["unshare", "-m", "sh", "-c", binfmt, "sh"];
            env.run_cmd(env.wrapped(&wrapper), &["restart", "web", "--", shown])
                .code(1)
                .one_error_line()
                .stderr_has(&format!(
                    "cannot execute '{shown}': Exec format error: it is neither a binary nor a script with a #! line"
                ));
            checks += 1;
        }
    } else {
        skip(
            "restart_refuses_what_the_exec_would_before_it_stops_the_daemon",
            "cannot mount a binfmt_misc without formats in a mount namespace (unshare -m)",
        );
    }
    if is_root() {
        let private = tempfile::tempdir().unwrap();
        fs::set_permissions(private.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let dir = private.path().to_str().unwrap();
        let args = ["restart", "web", "--user", "nobody", "--chdir", dir];
        env.run(&args)
            .code(1)
            .one_error_line()
            .stderr_has(&format!(
                "cannot change directory to '{dir}': Permission denied: user 'nobody' (uid 65534) may not search it (mode 700"
            ));
        checks += 1;
    }
    assert!(alive(pid), "after {checks} refused restarts");
    assert_eq!(env.pid_of("web"), pid);
    assert_eq!(fs::read(env.path("web.json")).unwrap(), spec);
    // A start of such a program fails the same way (before anything is detached, or at the
    // exec where binfmt_misc says nothing), and leaves nothing.
    let shown = plain.to_str().unwrap();
    fs::set_permissions(&plain, fs::Permissions::from_mode(0o755)).unwrap();
    env.run(&["start", "--name", "plain", "--", shown])
        .code(1)
        .stderr_has("Exec format error");
    assert!(!env.path("plain.json").exists());
    env.run(&["stop", "web"]).ok();
}

/// A stopped daemon whose pidfile holds garbage: `start` replaces such a pidfile with a warning
/// (SPEC §2), and `restart`, "stop if running, then start", does the same rather than stopping
/// short at its stop, which refuses to act on it.
#[test]
fn restart_of_a_stopped_daemon_with_a_garbage_pidfile_starts_it() {
    let env = Env::new();
    let old = env.start("web", &["sleep", "1000"]);
    env.run(&["stop", "web"]).ok();
    fs::write(env.path("web.pid"), "garbage\n").unwrap();
    env.run(&["restart", "web"])
        .ok()
        .stdout_has("started web (pid")
        .stderr_has("it does not hold one decimal pid; replacing it");
    let new = env.pid_of("web");
    assert_ne!(new, old);
    assert!(alive(new));
    assert_eq!(env.record("web")["wanted"], "running");
    // A pidfile naming a live process no record vouches for is no garbage: refused, as before.
    env.run(&["stop", "web"]).ok();
    let stranger = OwnChild::sleep();
    fs::write(env.path("web.pid"), format!("{}\n", stranger.pid())).unwrap();
    env.run(&["restart", "web"])
        .code(1)
        .stderr_has("no record vouches for pid");
    assert_left_alone(stranger.pid(), "a restart refused for its pid");
    assert_eq!(env.record("web")["wanted"], "stopped");
}

/// A tester's find: `restart --ready tcp:PORT` with another process on PORT stopped the daemon,
/// then refused the start for the busy port, and left it stopped and wanted stopped, so that
/// `resurrect` never brought it back. The port is checked before the stop now, for one daemon
/// and for each of several, and nothing changes.
#[test]
fn restart_with_a_port_another_process_holds_keeps_the_daemons_running() {
    let Some(python) =
        python3_or_skip("restart_with_a_port_another_process_holds_keeps_the_daemons_running")
    else {
        return;
    };
    let env = Env::new();
    let port = free_port();
    let stranger = stranger_listener(&python, port);
    let tcp = format!("tcp:{port}");
    let busy = format!(
        "rdaemon: port {port} is already in use by pid {} (python3)",
        stranger.pid()
    );
    let secs = unique_secs();
    let a = env.start("a", &["sleep", &secs]);
    let b = env.start("b", &["sleep", &secs]);
    let specs =
        || ["a", "b"].map(|name| fs::read_to_string(env.path(&format!("{name}.json"))).unwrap());
    let before = specs();
    let run = env
        .run(&["restart", "a", "--ready", &tcp])
        .code(1)
        .one_error_line()
        .stderr_has(&busy);
    assert!(!run.stdout.contains("stopped"), "{}", run.dump());
    let run = env.run(&["restart", "a", "b", "--ready", &tcp]).code(1);
    assert_eq!(run.stderr.matches(&busy).count(), 2, "{}", run.dump());
    assert!(!run.stdout.contains("stopped"), "{}", run.dump());
    for (name, pid) in [("a", a), ("b", b)] {
        assert!(alive(pid), "restart stopped {name} first\n{}", run.dump());
        assert_eq!(env.pid_of(name), pid);
        assert_eq!(env.record(name)["wanted"], "running");
    }
    assert_eq!(specs(), before, "a refused restart changed a spec");
}

/// The other side of the port check before the stop: a listener of the daemon being restarted
/// (here a child of its shell, in its session) is its own, freed by the stop, never in the way.
#[test]
fn restart_with_a_port_the_daemon_itself_holds_goes_ahead() {
    let Some(python) = python3_or_skip("restart_with_a_port_the_daemon_itself_holds_goes_ahead")
    else {
        return;
    };
    let env = Env::new();
    let port = free_port();
    let server = env.script(
        "server.sh",
        &format!(
            "{} -m http.server \"$1\" --bind 127.0.0.1 2>/dev/null & wait",
            python.display()
        ),
    );
    let old = env.start("web", &[server.to_str().unwrap(), &port.to_string()]);
    wait_until("the daemon listens", DEADLINE, || accepting(port));
    env.run(&["restart", "web", "--ready", &format!("tcp:{port}")])
        .ok()
        .stdout_has(&format!("stopped web (pid {old})"))
        .stdout_has("started web (pid");
    let new = env.pid_of("web");
    assert_ne!(new, old);
    assert!(accepting(port));
    env.run(&["stop", "web"]).ok();
}

/// The root of the tester's find: the stop marks the spec wanted stopped, and a restart that
/// got no further than its stop (its start failing, or rdaemon killed before it) left that
/// mark, as if a user had stopped the daemon. A restart puts it back: the daemon is `dead`,
/// wanted running, and `resurrect` brings it back.
#[test]
fn a_restart_that_ends_after_its_stop_leaves_the_daemon_wanted_running() {
    let env = Env::new();
    let old = env.start("web", &["sleep", &unique_secs()]);
    let mut cmd = env.cmd();
    cmd.env("RDAEMON_FAULT", "before-fork");
    let run = env.run_cmd(cmd, &["restart", "web"]);
    assert_eq!(run.code, -1, "rdaemon was not killed\n{}", run.dump());
    assert!(!alive(old), "the stop did not happen\n{}", run.dump());
    assert_eq!(env.record("web")["wanted"], "running", "{}", run.dump());
    env.run(&["status", "web"]).code(1);
    env.run(&["resurrect"]).ok().stdout_has("started web (pid");
    assert!(alive(env.pid_of("web")));
    // One wanted stopped stays so.
    env.run(&["stop", "web"]).ok();
    let mut cmd = env.cmd();
    cmd.env("RDAEMON_FAULT", "before-fork");
    assert_eq!(env.run_cmd(cmd, &["restart", "web"]).code, -1);
    assert_eq!(env.record("web")["wanted"], "stopped");
}

/// A tester's find: `restart NAME -- PROGRAM` with a PROGRAM that exists but cannot be executed
/// (no execute bit, a directory, a `#!` interpreter that is not there) stopped the daemon, then
/// failed at the exec. It is refused before the stop now, as a missing program was, with a
/// new command line or the spec's own (a script that lost its execute bit), for one daemon or
/// several, `--respawn` too.
#[test]
fn restart_with_a_program_that_cannot_be_executed_keeps_the_daemon_running() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let secs = unique_secs();
    let pid = env.start("web", &["sleep", &secs]);
    let spec = fs::read_to_string(env.path("web.json")).unwrap();
    let noexec = env.path("noexec.sh");
    fs::write(&noexec, "#!/bin/sh\nexec sleep 1000\n").unwrap();
    fs::set_permissions(&noexec, fs::Permissions::from_mode(0o644)).unwrap();
    let adir = env.path("adir");
    fs::create_dir(&adir).unwrap();
    let orphan = env
        .script("orphan.sh", "exec sleep 1000")
        .display()
        .to_string();
    fs::write(&orphan, "#!/no/such/interpreter\nexec sleep 1000\n").unwrap();
    let (noexec, adir) = (noexec.display().to_string(), adir.display().to_string());
    let no_bit = format!("cannot execute '{noexec}': Permission denied: it has mode 644");
    let cases = [
        (vec!["--", &noexec], no_bit.clone()),
        (vec!["--respawn", "--", &noexec], no_bit.clone()),
        (
            vec!["--", &adir],
            format!("cannot execute '{adir}': Is a directory"),
        ),
        (
            vec!["--", &orphan],
            format!("cannot execute '{orphan}': the interpreter its #! line names, '/no/such/interpreter', does not exist"),
        ),
    ];
    for (args, message) in cases {
        let mut all = vec!["restart", "web"];
        all.extend(&args);
        let run = env.run(&all).code(1).one_error_line().stderr_has(&message);
        assert!(!run.stdout.contains("stopped"), "{}", run.dump());
        assert!(alive(pid), "restart {args:?} stopped the daemon first");
        assert_eq!(env.pid_of("web"), pid);
        assert_eq!(
            fs::read_to_string(env.path("web.json")).unwrap(),
            spec,
            "restart {args:?} changed the spec"
        );
    }
    // A daemon whose script has lost its execute bit since it started, restarted with another
    // one: it is left running, the other is restarted.
    let script = env.script("app.sh", &format!("exec sleep {secs}"));
    let app = env.start("app", &[script.to_str().unwrap()]);
    fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).unwrap();
    let run = env
        .run(&["restart", "app", "web"])
        .code(1)
        .one_error_line()
        .stderr_has(&format!(
            "cannot execute '{}': Permission denied",
            script.display()
        ));
    assert!(!run.stdout.contains("stopped app"), "{}", run.dump());
    assert!(alive(app), "restart stopped app first\n{}", run.dump());
    assert_eq!(env.pid_of("app"), app);
    assert_ne!(
        env.pid_of("web"),
        pid,
        "web was not restarted\n{}",
        run.dump()
    );
}

/// Ctrl-C while a restart waits for the old program to stop: as for `stop`, the daemon that
/// still runs is wanted running again (before, rdaemon died of it with the spec marked stopped,
/// and a reboot's `resurrect` would have left the daemon down), and nothing is started.
#[test]
fn a_restart_interrupted_in_its_stop_leaves_the_daemon_running_and_wanted() {
    let env = Env::new();
    let pid = env.start_stubborn("ig");
    let restart = env.in_background("restart", &["ig", "--timeout", "5m"]);
    env.wait_stopping(&restart, "ig");
    let stderr = restart.interrupted_stderr("the interrupted restart ends");
    assert!(
        stderr.contains(&format!(
            "stop of ig interrupted by SIGINT: it still runs (pid {pid})"
        )),
        "{stderr}"
    );
    assert!(alive(pid));
    assert_eq!(env.pid_of("ig"), pid);
    assert_eq!(env.record("ig")["wanted"], "running");
    env.run(&["stop", "ig", "--timeout", "100ms"]).ok();
    wait_dead(pid);
}

/// Ctrl-C once the old program is on its way down: it is stopped, and the restart does not go
/// on to start it again; it stays wanted running, so `status` says dead, for `resurrect`.
#[test]
fn a_restart_interrupted_after_its_stop_does_not_start_again() {
    let env = Env::new();
    let pid = env.start_slow_to_stop("slow");
    let mut restart = env.in_background("restart", &["slow", "--timeout", "5m"]);
    interrupt_on_its_way_down(&env, &mut restart, "slow");
    let out = restart.output_within(DEADLINE, "the interrupted restart ends");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(130), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("stopped slow (pid {pid})")),
        "{stdout}"
    );
    assert!(
        stderr.contains(
            "restart of slow interrupted by SIGINT after its stop: it is not started again"
        ),
        "{stderr}"
    );
    wait_dead(pid);
    assert!(!env.path("slow.pid").exists(), "it was started again");
    assert_eq!(env.record("slow")["wanted"], "running");
    env.run(&["status", "slow"]).stdout_has("slow is dead");
}

/// Ctrl-C while the restart's start waits for the new program to be ready: the start stops
/// it, as a `start` does (the stop's catch of the signals must not cut its waits short).
#[test]
fn a_restart_interrupted_while_its_start_waits_stops_the_new_program() {
    let env = Env::new();
    let secs = unique_secs();
    let old = env.start("half", &["sleep", &secs]);
    let never = env.path("never.ready");
    let ready = format!("file:{}", never.display());
    let mut restart = env.in_background(
        "restart",
        &["half", "--ready", &ready, "--ready-timeout", "5m"],
    );
    wait_start_waits(&env, &mut restart, "the new program", || {
        env.path("half.pid").exists() && env.pid_of("half") != old
    });
    let new = env.pid_of("half");
    env.track(new);
    let stderr = restart.interrupted_stderr("the interrupted restart ends");
    assert!(
        stderr.contains("cannot start half: interrupted by SIGINT")
            && stderr.contains(&format!("stopped it (pid {new})")),
        "{stderr}"
    );
    assert!(!alive(old) && !alive(new));
    assert!(!env.path("half.pid").exists());
}

/// `rdaemon restart ARGS` in the background, as on a terminal, stopped (SIGSTOP) at `stage`
/// (`RDAEMON_FAULT`, src/fault.rs): a signal sent to it then arrives exactly there, once it
/// is continued.
fn restart_paused_at(env: &Env, stage: &str, args: &[&str]) -> Background {
    env.paused_at(stage, &[&["restart"], args].concat())
}

/// Sends SIGINT to the stopped `pid`, then SIGCONT: the Ctrl-C arrives where it stopped.
fn interrupt_and_continue(pid: i32) {
    interrupt(pid);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGCONT,
    )
    .unwrap();
}

/// Ctrl-C between a restart's stop and its start (review, 2026-12-03: the stop's catch,
/// held for the start, noted it, and the start, whose own catch began later, never saw it: it
/// waited out its readiness timeout and could succeed), with a start that would wait and one
/// that would not: nothing is started.
#[test]
fn a_signal_between_a_restarts_stop_and_its_start_starts_nothing() {
    interrupted_at_each_start(
        "restart-before-start",
        "restart of {name} interrupted by SIGINT after its stop: it is not started again",
    );
}

/// Ctrl-C once the restart's start has begun, before it catches the signals itself: the start
/// sees it before it launches anything (the restart's catch noted it, and the start's raises
/// it again for itself), whether it would wait for readiness or not.
#[test]
fn a_signal_before_a_restarts_start_catches_its_own_launches_nothing() {
    interrupted_at_each_start(
        "start-before-catch",
        "cannot start {name}: interrupted by SIGINT before it was started",
    );
}

/// A restart of a daemon whose start would wait for readiness, and of one whose would not,
/// each stopped at `stage` and sent Ctrl-C there: it exits 130 saying `said` (`{name}` the
/// daemon's name), and nothing of the daemon runs, wanted running still, its pidfile gone.
fn interrupted_at_each_start(stage: &str, said: &str) {
    let env = Env::new();
    let never = env.path("never.ready");
    let ready = format!("file:{}", never.display());
    for (name, extra) in [
        ("gap", &["--ready", &ready, "--ready-timeout", "5m"][..]),
        ("quick", &[][..]),
    ] {
        let secs = unique_secs();
        let old = env.start(name, &["sleep", &secs]);
        let mut args = vec![name];
        args.extend_from_slice(extra);
        let restart = restart_paused_at(&env, stage, &args);
        interrupt_and_continue(restart.pid());
        let out = restart.output_within(DEADLINE, "the interrupted restart ends");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{stderr}");
        assert!(stderr.contains(&said.replace("{name}", name)), "{stderr}");
        assert!(!alive(old), "the old {name} runs");
        assert_eq!(env.track_marked(&secs), Vec::<i32>::new(), "{name} runs");
        assert!(!env.path(&format!("{name}.pid")).exists());
        assert_eq!(env.record(name)["wanted"], "running");
    }
}

/// Ctrl-C once a start that waits for nothing (`--ready exec`, which does not catch the
/// signals) has sent its program on to the exec: the start completes, the daemon runs, and
/// the restart says the signal came while it started (before, it said nothing).
#[test]
fn a_signal_during_a_restarts_exec_start_is_reported() {
    let env = Env::new();
    let old = env.start("quick", &["sleep", &unique_secs()]);
    let restart = restart_paused_at(&env, "before-exec", &["quick"]);
    interrupt_and_continue(restart.pid());
    let out = restart.output_within(DEADLINE, "the restart ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr
            .contains("quick was being started when SIGINT came: its start completed, and it runs"),
        "{stderr}"
    );
    let new = env.pid_of("quick");
    env.track(new);
    assert!(new != old && alive(new) && !alive(old));
    assert_eq!(env.record("quick")["wanted"], "running");
}

/// A restart whose new program is never ready leaves the daemon wanted running and `dead`, and
/// `status` says why: its last start failed, not "killed, crashed, or the machine rebooted"
/// (helper-101's trial). A first start that failed leaves it stopped, with the same line; a
/// start that succeeds clears it.
#[test]
fn status_says_why_the_last_start_failed() {
    let env = Env::new();
    let secs = unique_secs();
    let pid = env.start("web", &["sleep", &secs]);
    let never = env.path("never");
    let ready = format!("file:{}", never.display());
    env.run(&[
        "restart",
        "web",
        "--ready",
        &ready,
        "--ready-timeout",
        "300ms",
    ])
    .code(1)
    .stderr_has("it was not ready after 300ms");
    wait_dead(pid);
    let why = format!(
        "it was not ready after 300ms (rdaemon waited for '{}' to appear)",
        never.display()
    );
    let run = env.run(&["status", "web"]).code(1);
    assert!(
        run.stdout.contains(&format!(
            "web is dead: it is wanted running, and its last start failed: {why}"
        )),
        "{}",
        run.dump()
    );
    let json = env.run(&["status", "web", "--json"]).code(1);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["start_failed"], why.as_str(), "{}", json.dump());
    // A start that succeeds says nothing of it any more.
    env.run(&["start", "--ready", "exec", "web"]).ok();
    let run = env.run(&["status", "web"]).ok();
    assert!(!run.stdout.contains("failed"), "{}", run.dump());
    let json = env.run(&["status", "web", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["start_failed"], serde_json::Value::Null);
    env.run(&["stop", "web"]).ok();
    // A new daemon whose first start failed: stopped, with the line.
    let program = ["sh", "-c", "exit 3"];
    let mut args = vec!["start", "--name", "once", "--ready", "alive:5s", "--"];
    args.extend(program);
    env.run(&args).code(1);
    env.run(&["status", "once"])
        .code(3)
        .stdout_has("once is stopped")
        .stdout_has("  last start failed: the program exited with status 3");
}
