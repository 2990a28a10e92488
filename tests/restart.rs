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

/// A tester's find: `restart --ready tcp:PORT` with another process on PORT stopped the daemon,
/// then refused the start for the busy port, and left it stopped and wanted stopped, so that
/// `resurrect` never brought it back. The port is checked before the stop now, for one daemon
/// and for each of several, and nothing changes.
#[test]
fn restart_with_a_port_another_process_holds_keeps_the_daemons_running() {
    let env = Env::new();
    let port = free_port();
    // The stranger: this test itself.
    let _stranger = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let tcp = format!("tcp:{port}");
    let busy = format!(
        "rdaemon: port {port} is already in use by pid {}",
        std::process::id()
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
