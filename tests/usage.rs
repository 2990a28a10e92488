//! Usage errors: exit 2, nothing started; a malformed value in one line, any other usage error
//! whole. And the global options.

use std::fs;

use crate::common::*;

#[test]
fn malformed_values_are_exit_2_with_one_line() {
    let env = Env::new();
    let cases: &[&[&str]] = &[
        &["start", "--name", "../x", "--", "sleep", "1"],
        &["start", "--name", "", "--", "sleep", "1"],
        &["start", "--umask", "999", "--", "sleep", "1"],
        &["start", "--env", "NOEQUALS", "--", "sleep", "1"],
        &["stop", "--timeout", "ten", "x"],
        &["stop", "--signal", "NOPE", "x"],
        &["stop", "--retry", "TERM/KILL", "x"],
        &["status", "a/b"],
        &["start", "--ready", "tcp:0", "--", "sleep", "1"],
        &["start", "--ready", "http://x", "--", "sleep", "1"],
        &["start", "--ready", "alive:soon", "--", "sleep", "1"],
        &["start", "--ready-timeout", "soon", "--", "sleep", "1"],
        // A start that may wait for nothing would stop the program it just started.
        &["start", "--ready-timeout", "0", "--", "sleep", "1"],
        &[
            "start",
            "--foreground",
            "--ready",
            "tcp:80",
            "--",
            "sleep",
            "1",
        ],
        &["start", "--foreground", "--respawn", "--", "sleep", "1"],
        &["logs", "-n", "abc"],
        &["logs", "-n", "-1"],
        &[
            "start",
            "--respawn",
            "--max-restarts",
            "abc",
            "--",
            "sleep",
            "1",
        ],
        &[
            "start",
            "--respawn",
            "--health-retries",
            "0",
            "--",
            "sleep",
            "1",
        ],
    ];
    for args in cases {
        let run = env.run(args).code(2).one_error_line();
        assert!(!run.stderr.contains("error:"), "{}", run.dump());
        // The value is named, not only Rust's "invalid digit found in string".
        assert!(!run.stderr.contains("invalid digit"), "{}", run.dump());
    }
    // Errors of the command line's shape are clap's, whole: what is wrong, then the usage.
    let shapes: &[&[&str]] = &[&["logs", "-n", "5", "--frob"], &["start"], &["frobnicate"]];
    for args in shapes {
        env.run(args).usage_error();
    }
    assert_eq!(std::fs::read_dir(env.dir()).unwrap().count(), 0);
}

/// `logs -n` says which value is wrong and why, in one line, as the other value parsers do
/// (not the bare "invalid digit found in string" of Rust's integer parser).
#[test]
fn logs_lines_errors_name_the_value_and_the_reason() {
    let env = Env::new();
    for (value, message) in [
        (
            "abc",
            "rdaemon: --lines: invalid number of lines 'abc': use a whole number, like 20 (0 for none)",
        ),
        (
            "-1",
            "rdaemon: --lines: invalid number of lines '-1': use a whole number, like 20 (0 for none)",
        ),
        (
            "99999999999999999999",
            &format!(
                "rdaemon: --lines: too many lines (99999999999999999999): at most {}",
                usize::MAX
            ),
        ),
    ] {
        for option in ["-n", "--lines"] {
            let run = env.run(&["logs", option, value]).code(2).one_error_line();
            assert_eq!(run.stderr.trim_end(), message, "{}", run.dump());
            assert_eq!(run.stdout, "", "{}", run.dump());
        }
        let run = env.run(&["logs", &format!("--lines={value}")]).code(2);
        assert_eq!(run.stderr.trim_end(), message, "{}", run.dump());
    }
    assert_eq!(std::fs::read_dir(env.dir()).unwrap().count(), 0);
}

#[test]
fn dir_option_works_before_or_after_the_subcommand_and_beats_the_env() {
    let env = Env::new();
    let other = env.path("other");
    env.run(&[
        "--dir",
        other.to_str().unwrap(),
        "start",
        "--name",
        "d",
        "--",
        "sleep",
        "1000",
    ])
    .ok();
    assert!(other.join("d.pid").exists());
    assert!(!env.path("d.pid").exists());
    let pid: i32 = std::fs::read_to_string(other.join("d.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    env.track(pid);
    env.run(&["status", "d", "--dir", other.to_str().unwrap()])
        .ok();
    env.run(&["status", "d"]).code(3);
    env.run(&["stop", "d", "--dir", other.to_str().unwrap()])
        .ok();
    assert!(!alive(pid));
}

#[test]
fn help_and_version_exit_0() {
    let env = Env::new();
    env.run(&["--help"]).ok().stdout_has("Usage");
    env.run(&["--version"]).ok().stdout_has("rdaemon ");
    env.run(&["stop", "--help"]).ok().stdout_has("--timeout");
}

#[test]
fn non_utf8_or_empty_paths_are_usage_errors_before_anything_starts() {
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new();
    let bad = std::ffi::OsStr::from_bytes(b"/tmp/l\xff.log");
    for option in ["--log", "--stdout", "--stderr", "--chdir", "--pidfile"] {
        let out = env
            .cmd()
            .args(["start", "--name", "p", option])
            .arg(bad)
            .args(["--", "sleep", "1000"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{option}: {stderr}");
        assert!(
            stderr.starts_with(&format!("rdaemon: {option}: invalid path")),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    env.run(&["start", "--name", "p", "--log", "", "--", "sleep", "1000"])
        .code(2)
        .one_error_line()
        .stderr_has("--log: invalid path '': it is empty");
    assert_eq!(
        std::fs::read_dir(env.dir()).unwrap().count(),
        0,
        "something was left behind"
    );
}

#[test]
fn options_after_a_stored_daemons_name_are_pointed_before_it() {
    let env = Env::new();
    env.start("known", &["sleep", "1000"]);
    env.run(&["stop", "known"]).ok();
    env.run(&["start", "known", "--env", "A=2"])
        .code(2)
        .one_error_line()
        .stderr_has("known is a daemon, not a program: its options go before its name");
    // Nothing was started or changed by it.
    env.run(&["status", "known"]).code(3);
    env.run(&["start", "--env", "A=2", "known"]).ok();
}

/// A negative duration or size is a bad value of its option, not an unknown option: clap's
/// "unexpected argument '-1'" advised `-- -1`, which would make it the program.
#[test]
fn a_negative_duration_or_size_names_its_option() {
    let env = Env::new();
    for (option, value) in [
        ("--ready-timeout", "-1s"),
        ("--timeout", "-5"),
        ("--restart-delay", "-2s"),
        ("--log-max-size", "-1M"),
        // Bad-input sweep, 2026-12-02: a negative signal got the same advice.
        ("--stop-signal", "-9"),
        ("--reload-signal", "-HUP"),
        ("--signal", "-KILL"),
    ] {
        let verb = if matches!(option, "--timeout" | "--signal") {
            "stop"
        } else {
            "start"
        };
        let mut args = vec![verb, option, value];
        if verb == "start" {
            args.extend(["--respawn", "--", "sleep", "1"]);
        } else {
            args.push("x");
        }
        let run = env.run(&args).code(2);
        assert!(
            run.stderr
                .starts_with(&format!("rdaemon: {option}: invalid")),
            "{}",
            run.dump()
        );
        assert!(!run.stderr.contains("-- -"), "{}", run.dump());
    }
    // The signal of `signal` itself.
    let run = env.run(&["signal", "-9", "x"]).code(2).one_error_line();
    assert!(
        run.stderr.starts_with("rdaemon: invalid signal '-9'"),
        "{}",
        run.dump()
    );
    env.run(&["list"]).ok().stdout_has("no daemons");
}

/// A program found only through `--env PATH`, named as its daemon (the default name), started
/// twice with its own options: the second start is "already running", not the hint above.
#[test]
fn a_program_named_as_its_daemon_with_its_own_options_starts_again() {
    let env = Env::new();
    let bin = env.path("bin");
    std::fs::create_dir(&bin).unwrap();
    let program = bin.join("napper");
    std::fs::write(&program, "#!/bin/sh\nexec sleep 1000\n").unwrap();
    std::fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!("PATH={}:/usr/bin:/bin", bin.display());
    let args = ["start", "--env", &path, "napper", "--port", "47301"];
    env.run(&args).ok().stdout_has("started napper");
    env.run(&args).ok().stdout_has("napper is already running");
}

/// A spec saved with a ready timeout of 0 (before the option refused it) would fail every
/// `start NAME` at once: it reads as no timeout given, the default (review, 2026-12-02). The
/// program makes its file only once the test lets it go, after `start` has looked and waits on.
#[test]
fn a_saved_ready_timeout_of_zero_reads_as_the_default() {
    let env = Env::new();
    let mark = env.path("up.mark");
    let go = env.path("go");
    let body = format!(
        "{}; : > {}; exec sleep {}",
        until_go(&go),
        mark.display(),
        unique_secs()
    );
    let ready = format!("file:{}", mark.display());
    let program = ["--", "sh", "-c", &body];
    let mut args = vec!["start", "--name", "late", "--ready", &ready];
    args.extend(program);
    fs::write(&go, "").unwrap();
    env.run(&args).ok();
    let pid = env.pid_of("late");
    env.run(&["stop", "late"]).ok();
    wait_dead(pid);
    fs::remove_file(&mark).unwrap();
    fs::remove_file(&go).unwrap();
    let spec = env.path("late.json");
    let text = fs::read_to_string(&spec).unwrap();
    assert!(text.contains("\"ready_timeout\": \"30s\""), "{text}");
    fs::write(&spec, text.replace("\"30s\"", "\"0s\"")).unwrap();
    let mut start = env.in_background("start", &["late"]);
    wait_start_waits(&env, &mut start, "the file", || {
        env.path("late.pid").exists()
    });
    fs::write(&go, "").unwrap();
    let (code, stdout, stderr) = finish_start(&env, start);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("started late"), "{stdout}");
    let pid = env.pid_of("late");
    assert!(mark.exists());
    env.run(&["stop", "late"]).ok();
    wait_dead(pid);
}
