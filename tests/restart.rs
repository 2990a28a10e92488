//! `rdaemon restart`: same command line from the record, with overrides.

use std::fs;

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
