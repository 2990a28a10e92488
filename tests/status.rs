//! `rdaemon status`: LSB exit codes, the human report and `--json`.

use std::fs;

use crate::common::*;

#[test]
fn running_daemon_is_0_with_details() {
    let env = Env::new();
    let pid = env.start("web", &["sleep", "1000"]);
    let run = env.run(&["status", "web"]).ok();
    let first = run.stdout.lines().next().unwrap().to_owned();
    assert!(
        first.starts_with(&format!("web is running (pid {pid}), up ")),
        "{first}"
    );
    let run = run
        .stdout_has("  command: sleep 1000")
        .stdout_has(&format!("  pidfile: {}", env.path("web.pid").display()))
        .stdout_has(&format!("  log:     {}", env.path("web.log").display()));
    assert!(run.stdout.contains("  rss:     "), "{}", run.dump());
}

#[test]
fn stopped_is_3_dead_is_1_invalid_is_4() {
    let env = Env::new();
    env.run(&["status", "nothing"])
        .code(3)
        .stderr_has("rdaemon: no daemon named 'nothing'");
    let pid = env.start("web", &["sleep", "1000"]);
    env.run(&["stop", "web"]).ok();
    env.run(&["status", "web"])
        .code(3)
        .stdout_has("web is stopped");
    let pid2 = env.start("web", &["sleep", "1000"]);
    assert_ne!(pid, pid2);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid2),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_dead(pid2);
    env.run(&["status", "web"])
        .code(1)
        .stdout_has("web is dead");
    fs::write(env.path("web.pid"), "garbage\n").unwrap();
    env.run(&["status", "web"])
        .code(4)
        .one_error_line()
        .stderr_has("invalid pidfile");
}

#[test]
fn quiet_status_prints_nothing_but_keeps_the_code() {
    let env = Env::new();
    env.start("web", &["sleep", "1000"]);
    let run = env.run(&["-q", "status", "web"]).ok();
    assert_eq!(run.stdout, "");
}

#[test]
fn bare_status_with_none_one_and_several() {
    let env = Env::new();
    env.run(&["status"]).code(3).stdout_has("no daemons");
    env.start("a", &["sleep", "1000"]);
    env.run(&["status"]).ok().stdout_has("a is running");
    env.start("b", &["sleep", "1000"]);
    env.run(&["status"])
        .ok()
        .stdout_has("NAME")
        .stdout_has("running");
    env.run(&["stop", "b"]).ok();
    env.run(&["status"]).code(3).stdout_has("stopped");
}

#[test]
fn json_status_has_the_documented_fields() {
    let env = Env::new();
    let pid = env.start("web", &["sleep", "1000"]);
    let run = env.run(&["status", "web", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["name"], "web");
    assert_eq!(v["state"], "running");
    assert_eq!(v["pid"], pid);
    assert_eq!(v["child_pid"], serde_json::Value::Null);
    assert_eq!(v["mode"], "exec");
    assert_eq!(v["command"], serde_json::json!(["sleep", "1000"]));
    assert_eq!(v["restarts"], 0);
    assert_eq!(v["last_exit"], serde_json::Value::Null);
    assert!(v["uptime_secs"].is_u64());
    assert!(v["rss_bytes"].as_u64().unwrap() > 0);
    assert_eq!(v["start_time"], stat(pid).unwrap().start_time);
    assert!(v["started_at"].as_str().unwrap().ends_with('Z'));
    for key in ["pidfile", "stdout", "stderr", "boot_id"] {
        assert!(v[key].is_string(), "{key} missing");
    }
    env.run(&["stop", "web"]).ok();
    let run = env.run(&["status", "web", "--json"]).code(3);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["state"], "stopped");
    assert_eq!(v["pid"], serde_json::Value::Null);
}

#[test]
fn dead_daemon_shows_the_end_of_its_log() {
    let env = Env::new();
    env.start(
        "fragile",
        &[
            "sh",
            "-c",
            "echo starting; echo step 1; echo step 2; echo 'panic: out of disk'; exec sleep 1000",
        ],
    );
    let pid = env.pid_of("fragile");
    wait_until("the log is written", DEADLINE, || {
        fs::read_to_string(env.path("fragile.log")).is_ok_and(|s| s.contains("panic"))
    });
    // A running daemon's status stays short.
    let run = env.run(&["status", "fragile"]).ok();
    assert!(!run.stdout.contains("last lines"), "{}", run.dump());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_dead(pid);
    let run = env.run(&["status", "fragile"]).code(1);
    let expected = format!(
        "  last lines of {}:\n    step 1\n    step 2\n    panic: out of disk\n",
        env.path("fragile.log").display()
    );
    assert!(run.stdout.ends_with(&expected), "{}", run.dump());
    assert!(!run.stdout.contains("    starting\n"), "{}", run.dump());
}

/// The end of a dead daemon's log is the daemon's words: shown with their control characters
/// escaped, so that a line cannot clear the screen or set the terminal's title.
#[test]
fn dead_daemons_log_lines_are_shown_escaped() {
    let env = Env::new();
    env.start(
        "loud",
        &[
            "sh",
            "-c",
            r"printf 'ok\n\033[2J\033]0;pwned\007cleared\n'; exec sleep 1000",
        ],
    );
    let pid = env.pid_of("loud");
    wait_until("the log is written", DEADLINE, || {
        fs::read_to_string(env.path("loud.log")).is_ok_and(|s| s.contains("cleared"))
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_dead(pid);
    let run = env.run(&["status", "loud"]).code(1);
    assert!(!run.stdout.contains(['\x1b', '\x07']), "{}", run.dump());
    let expected = format!(
        "  last lines of {}:\n    ok\n    \\u{{1b}}[2J\\u{{1b}}]0;pwned\\u{{7}}cleared\n",
        env.path("loud.log").display()
    );
    assert!(run.stdout.ends_with(&expected), "{}", run.dump());
}
