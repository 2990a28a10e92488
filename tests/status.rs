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

/// SPEC §5: with several daemons, exit 0 only if all run, else 3, whatever their states (a dead
/// or unknown one too) and however they are named: bare, names, a glob, `--all`, with or without
/// `--json`. One daemon named alone keeps its LSB code.
#[test]
fn several_daemons_are_0_if_all_run_else_3_however_named() {
    let env = Env::new();
    env.start("a", &["sleep", "1000"]);
    let b = env.start("b", &["sleep", "1000"]);
    let forms: &[&[&str]] = &[
        &["status"],
        &["status", "--all"],
        &["status", "a", "b"],
        &["status", "*"],
        &["status", "--json"],
        &["status", "--all", "--json"],
        &["status", "a", "b", "--json"],
    ];
    let all_say = |code: i32, row: &str| {
        for args in forms {
            let run = env.run(args).code(code);
            let state = match args.contains(&"--json") {
                true => serde_json::from_str::<serde_json::Value>(&run.stdout)
                    .ok()
                    .and_then(|v| {
                        let b = v.as_array()?.iter().find(|d| d["name"] == "b")?;
                        Some(b["state"].as_str()?.to_owned())
                    }),
                false => run
                    .stdout
                    .lines()
                    .find(|l| l.starts_with("b "))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .map(str::to_owned),
            };
            assert_eq!(state.as_deref(), Some(row), "{}", run.dump());
        }
    };
    all_say(0, "running");

    // Dead (1 alone): 3 for the set.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(b),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_dead(b);
    env.run(&["status", "b"]).code(1).stdout_has("b is dead");
    all_say(3, "dead");

    // Unknown (4 alone): 3 for the set.
    fs::write(env.path("b.pid"), "garbage\n").unwrap();
    env.run(&["status", "b"]).code(4);
    all_say(3, "unknown");

    // Stopped (3 alone): 3 for the set; and a name that names nothing makes it 3 too.
    fs::remove_file(env.path("b.pid")).unwrap();
    env.run(&["stop", "b"]).ok();
    env.run(&["status", "b"]).code(3);
    all_say(3, "stopped");
    env.start("b", &["sleep", "1000"]);
    all_say(0, "running");
    env.run(&["status", "a", "b", "nothing"])
        .code(3)
        .stderr_has("no daemon named 'nothing'");
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

/// The record wins over a pidfile that was removed or rewritten (SPEC §4), and `status` says
/// that the pidfile no longer names the daemon, for a script that reads it; `start NAME`
/// writes it again, and the warning goes.
#[test]
fn status_warns_of_a_pidfile_that_no_longer_names_the_running_daemon() {
    let env = Env::new();
    let pid = env.start("w", &["sleep", &unique_secs()]);
    let pidfile = env.path("w.pid");
    fs::remove_file(&pidfile).unwrap();
    let run = env
        .run(&["status", "w"])
        .ok()
        .stdout_has(&format!("w is running (pid {pid})"));
    assert!(
        run.stderr.contains(&format!(
            "warning: pidfile '{}' is missing, not the daemon's pid {pid}: rdaemon goes by its record; `rdaemon start w` writes the pidfile again",
            pidfile.display()
        )),
        "{}",
        run.dump()
    );
    let other = OwnChild::sleep();
    fs::write(&pidfile, format!("{}\n", other.pid())).unwrap();
    env.run(&["status", "w"]).ok().stderr_has(&format!(
        "names pid {}, not the daemon's pid {pid}",
        other.pid()
    ));
    env.run(&["start", "w"]).ok();
    assert_eq!(env.pid_of("w"), pid);
    let run = env.run(&["status", "w"]).ok();
    assert_eq!(run.stderr, "", "{}", run.dump());
    assert_left_alone(other.pid(), "a start over a pidfile naming it");
    // A directory in its place: `start` refuses it, so the warning says to remove it first.
    fs::remove_file(&pidfile).unwrap();
    fs::create_dir(&pidfile).unwrap();
    env.run(&["status", "w"]).ok().stderr_has(
        "rdaemon goes by its record; remove it; `rdaemon start w` then writes the pidfile again",
    );
    env.run(&["start", "w"]).code(1);
    fs::remove_dir(&pidfile).unwrap();
    env.run(&["start", "w"]).ok();
    assert_eq!(env.run(&["status", "w"]).ok().stderr, "");
    env.run(&["stop", "w"]).ok();
}

/// A pidfile reached through a symlinked directory (`/var/run` is one to `/run` on most
/// systems): the same daemon, running and stopped (second review, 2026-12-02: taken for
/// another daemon's pidfile while it ran, and for none once stopped).
#[test]
fn a_pidfile_reached_through_a_symlinked_directory_is_the_same_daemons() {
    let outside = tempfile::tempdir().unwrap();
    let real = outside.path().join("run");
    fs::create_dir(&real).unwrap();
    let link = outside.path().join("var-run");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let env = Env::new();
    let secs = unique_secs();
    let given = real.join("vr-x.pid");
    env.run(&[
        "start",
        "--name",
        "vr",
        "--pidfile",
        given.to_str().unwrap(),
        "--",
        "sleep",
        &secs,
    ])
    .ok();
    let pid: i32 = fs::read_to_string(&given).unwrap().trim().parse().unwrap();
    env.track(pid);
    let other = link.join("vr-x.pid");
    let other = other.to_str().unwrap();
    env.run(&["status", "--pidfile", other])
        .ok()
        .stdout_has(&format!("vr is running (pid {pid})"));
    env.run(&["stop", "--pidfile", other])
        .ok()
        .stdout_has(&format!("stopped vr (pid {pid})"));
    let run = env.run(&["wait", "--pidfile", other]).ok();
    assert_eq!(run.stderr, "", "{}", run.dump());
    env.run(&["status", "--pidfile", other])
        .code(3)
        .stdout_has("vr is stopped");
}

/// A stopped daemon whose pidfile someone wrote again, naming a pid that does not run, is
/// stopped (3), not dead (1): SPEC §5's dead is wanted running but gone (helper-96's audit).
#[test]
fn a_stopped_daemons_rewritten_pidfile_naming_a_dead_pid_leaves_it_stopped() {
    let env = Env::new();
    env.start("u", &["sleep", &unique_secs()]);
    env.run(&["stop", "u"]).ok();
    // A pid that ran and was reaped: not running now.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let free = gone.id();
    gone.wait().unwrap();
    std::fs::write(env.path("u.pid"), format!("{free}\n")).unwrap();
    env.run(&["status", "u"]).code(3).stdout_has("u is stopped");
    let (_, v) = status_json(&env, "u");
    assert_eq!(v["state"], "stopped");
}

/// A daemon asking about itself (a health script it runs): running, exit 0, and no warning
/// that its pidfile is invalid. Its pid is rdaemon's parent there, which rdaemon never
/// signals, but the pidfile naming it is right (a newcomer's trial, 2026-12-03).
#[test]
fn a_daemon_asking_about_itself_is_running_without_a_warning() {
    let env = Env::new();
    let bin = assert_cmd::cargo::cargo_bin!("rdaemon");
    let out = env.path("out");
    let line = format!(
        "'{}' status self > '{o}.new' 2>&1; echo \"exit $?\" >> '{o}.new'; mv '{o}.new' '{o}'; exec sleep {}",
        bin.display(),
        unique_secs(),
        o = out.display()
    );
    let pid = env.start("self", &["sh", "-c", &line]);
    wait_until("the daemon asked about itself", DEADLINE, || out.exists());
    let said = fs::read_to_string(&out).unwrap();
    assert!(
        said.starts_with(&format!("self is running (pid {pid}), up ")),
        "{said}"
    );
    assert!(said.ends_with("exit 0\n"), "{said}");
    assert!(!said.contains("warning"), "{said}");
}
