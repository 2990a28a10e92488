//! `rdaemon logs`: the last lines, both streams labelled, and `-f` across rotation and
//! truncation.

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::common::*;

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[test]
fn logs_prints_the_last_lines() {
    let env = Env::new();
    env.start(
        "count",
        &[
            "sh",
            "-c",
            "for i in $(seq 1 30); do echo line $i; done; exec sleep 1000",
        ],
    );
    let log = env.path("count.log");
    wait_until("the log has 30 lines", DEADLINE, || {
        fs::read_to_string(&log).is_ok_and(|s| s.ends_with("line 30\n"))
    });
    let run = env.run(&["logs", "count"]).ok();
    let expected: String = (11..=30).map(|i| format!("line {i}\n")).collect();
    assert_eq!(run.stdout, expected, "{}", run.dump());
    let run = env.run(&["logs", "count", "-n", "3"]).ok();
    assert_eq!(run.stdout, "line 28\nline 29\nline 30\n");
    let run = env.run(&["logs", "-n", "0"]).ok();
    assert_eq!(run.stdout, "", "the only daemon is the default");
}

/// A daemon that wrote nothing (nginx logs to its own error_log): `logs` shows nothing, and says
/// on stderr that the log is empty, naming it (user trial, 2026-12-04: it printed nothing at
/// all); not with `-n 0`, which asks for nothing, nor with `-q`.
#[test]
fn logs_of_a_silent_daemon_says_its_log_is_empty() {
    let env = Env::new();
    env.start("silent", &["sleep", &unique_secs()]);
    let log = env.path("silent.log");
    let run = env.run(&["logs", "silent"]).ok();
    assert_eq!(run.stdout, "", "{}", run.dump());
    assert_eq!(
        run.stderr,
        format!("rdaemon: silent's log '{}' is empty\n", log.display())
    );
    for quiet in [
        &["logs", "silent", "-n", "0"][..],
        &["-q", "logs", "silent"],
    ] {
        let run = env.run(quiet).ok();
        assert_eq!(
            (run.stdout.as_str(), run.stderr.as_str()),
            ("", ""),
            "{}",
            run.dump()
        );
    }
    // Once it has written, nothing is said.
    append(&log, "hello\n");
    let run = env.run(&["logs", "silent"]).ok();
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("hello\n", ""));
}

#[test]
fn logs_labels_separate_streams_as_tail_does() {
    let env = Env::new();
    let (out, err) = (env.path("out.log"), env.path("err.log"));
    env.run(&[
        "start",
        "--name",
        "two",
        "--stdout",
        out.to_str().unwrap(),
        "--stderr",
        err.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "echo o1; echo o2; echo e1 >&2; echo e2 >&2; exec sleep 1000",
    ])
    .ok();
    wait_until("both streams are written", DEADLINE, || {
        fs::read_to_string(&err).is_ok_and(|s| s == "e1\ne2\n")
            && fs::read_to_string(&out).is_ok_and(|s| s == "o1\no2\n")
    });
    let run = env.run(&["logs", "two", "-n", "1"]).ok();
    assert_eq!(
        run.stdout,
        format!(
            "==> {} <==\no2\n\n==> {} <==\ne2\n",
            out.display(),
            err.display()
        )
    );
}

#[test]
fn logs_errors_name_what_is_missing() {
    let env = Env::new();
    env.run(&["logs"])
        .code(1)
        .one_error_line()
        .stderr_has("no daemons");
    env.run(&["logs", "ghost"])
        .code(1)
        .one_error_line()
        .stderr_has("no daemon named 'ghost', and no log at");
    env.run(&[
        "start",
        "--name",
        "mute",
        "--log",
        "/dev/null",
        "--",
        "sleep",
        "1000",
    ])
    .ok();
    env.run(&["logs", "mute"])
        .code(1)
        .one_error_line()
        .stderr_has("/dev/null");
    env.run(&["logs", "mute", "-n", "x"])
        .code(2)
        .one_error_line();
    // A log file gone: the one rendering of an OS error (SPEC §8), with one name or several
    // (helper-96's audit: "entity not found" with several).
    let err = env.path("split.err").display().to_string();
    env.run(&[
        "start", "--name", "split", "--stderr", &err, "--", "sleep", "1000",
    ])
    .ok();
    fs::remove_file(&err).unwrap();
    for names in [&["split"][..], &["split", "mute"]] {
        let mut args = vec!["logs"];
        args.extend(names);
        env.run(&args).code(1).stderr_has(&format!(
            "cannot read log '{err}': No such file or directory"
        ));
    }
}

#[test]
fn logs_follow_survives_rotation_and_truncation() {
    let env = Env::new();
    env.start("svc", &["sleep", "1000"]);
    let log = env.path("svc.log");
    append(&log, "one\ntwo\nthree\n");

    let out_path = env.path("follow.out");
    let err_path = env.path("follow.err");
    let mut cmd = env.std_cmd();
    cmd.args(["logs", "svc", "-f", "-n", "2"])
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap());
    let follower = Background::spawn(&mut cmd);
    env.track(follower.pid());
    let out = || fs::read_to_string(&out_path).unwrap();
    let err = || fs::read_to_string(&err_path).unwrap();
    let expect = |what: &str, text: &str| {
        wait_until(&format!("logs -f prints {what}"), DEADLINE, || {
            out() == text
        });
    };

    expect("the last two lines", "two\nthree\n");
    append(&log, "four\n");
    expect("an appended line", "two\nthree\nfour\n");

    // Rotation as logrotate does it: rename, the old file still written a little, a new file.
    let rotated = env.path("svc.log.1");
    fs::rename(&log, &rotated).unwrap();
    append(&rotated, "five\n");
    fs::write(&log, "six, a line longer than the next\n").unwrap();
    expect(
        "the rotated and the new file",
        "two\nthree\nfour\nfive\nsix, a line longer than the next\n",
    );

    // Truncation (copytruncate) and a shorter line: the file is read from its start again,
    // whether the follower sees it empty or already shorter than what it had read.
    fs::write(&log, "seven\n").unwrap();
    expect(
        "the line after the truncation",
        "two\nthree\nfour\nfive\nsix, a line longer than the next\nseven\n",
    );
    // Rotation and truncation are routine: followed quietly (SPEC §5).
    assert!(
        !err().contains("replaced") && !err().contains("rotated") && !err().contains("truncated"),
        "{}",
        err()
    );
    assert!(alive(follower.pid()), "logs -f stopped by itself");
    drop(follower);
}

#[test]
fn logs_follow_waits_for_a_log_that_does_not_exist_yet() {
    let env = Env::new();
    env.start("lather", &["sleep", "1000"]);
    // A named daemon without a record: its default log, once it appears.
    let out_path = env.path("follow.out");
    let err_path = env.path("follow.err");
    let mut cmd = env.std_cmd();
    cmd.args(["logs", "later", "-f"])
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap());
    let follower = Background::spawn(&mut cmd);
    env.track(follower.pid());
    // It says that no daemon has that name (with the closest, a typo being likely: it said
    // nothing of it, user trial 2026-12-02), that it waits, and for what, before the file
    // appears.
    let log = env.path("later.log");
    let waiting = format!(
        "rdaemon: warning: no daemon named 'later' (closest: lather)\n\
         rdaemon: '{}' does not exist yet; waiting for it to appear\n",
        log.display()
    );
    wait_until("logs -f says it waits for the log", DEADLINE, || {
        fs::read_to_string(&err_path).is_ok_and(|s| s == waiting)
    });
    fs::write(&log, "hello\n").unwrap();
    wait_until("logs -f prints the new file", DEADLINE, || {
        fs::read_to_string(&out_path).is_ok_and(|s| s == "hello\n")
    });
}

/// `logs -f --file F` in one terminal, `up` in another, as with foreman or `docker compose logs
/// -f`: an entry `up` had not started yet was left out for good (helper-121's trial). It is
/// waited for at the log its entry names, and its lines come prefixed as the others'. Without
/// `-f`, such an entry is still left out, saying so.
#[test]
fn logs_follow_of_a_file_waits_for_the_entries_not_started_yet() {
    let env = Env::new();
    fs::write(
        env.path("rdaemon.toml"),
        "[daemons.early]\nrun = \"echo from early; exec sleep 1000\"\n\
         [daemons.late]\nrun = \"echo from late; exec sleep 1000\"\nlog = \"late-own.log\"\n",
    )
    .unwrap();
    env.run(&["up", "early"]).ok();
    wait_until("early has written its line", DEADLINE, || {
        fs::read_to_string(env.path("early.log")).is_ok_and(|s| s.contains("from early"))
    });
    env.run(&["logs", "--file", "rdaemon.toml"])
        .ok()
        .stdout_has("early | from early")
        .stderr_has("late was never started; left out");
    let out_path = env.path("follow.out");
    let err_path = env.path("follow.err");
    let mut cmd = env.std_cmd();
    cmd.args(["logs", "--file", "rdaemon.toml", "-f"])
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap());
    let follower = Background::spawn(&mut cmd);
    env.track(follower.pid());
    let own = env.path("late-own.log");
    wait_until("logs -f says it waits for late's own log", DEADLINE, || {
        fs::read_to_string(&err_path)
            .is_ok_and(|s| s.contains(&format!("'{}' does not exist yet", own.display())))
    });
    env.run(&["up"]).ok().stdout_has("started late");
    wait_until("logs -f prints late's line, prefixed", DEADLINE, || {
        fs::read_to_string(&out_path).is_ok_and(|s| s.contains("late  | from late\n"))
    });
    let out = fs::read_to_string(&out_path).unwrap();
    assert!(out.contains("early | from early\n"), "{out}");
    assert!(alive(follower.pid()), "logs -f stopped by itself");
    drop(follower);
    env.run(&["down"]).ok();
}

#[test]
fn as_root_no_log_is_shown_from_a_directory_others_could_write() {
    if !is_root() {
        return skip("logs_untrusted_dir", "needs root");
    }
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let pid = env.start("svc", &["sh", "-c", "echo from the log; exec sleep 1000"]);
    wait_until("the log is written", DEADLINE, || {
        fs::read_to_string(env.path("svc.log")).is_ok_and(|s| s.contains("from the log"))
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_dead(pid);
    env.run(&["status", "svc"])
        .code(1)
        .stdout_has("    from the log");
    // Anyone could now forge svc.json to name any file: root shows none.
    fs::set_permissions(env.dir(), fs::Permissions::from_mode(0o777)).unwrap();
    env.run(&["logs", "svc"])
        .code(1)
        .one_error_line()
        .stderr_has("refusing rdaemon directory");
    let run = env.run(&["status", "svc"]).code(1);
    assert!(!run.stdout.contains("    from the log"), "{}", run.dump());
    fs::set_permissions(env.dir(), fs::Permissions::from_mode(0o700)).unwrap();
}

/// The daemon's user can make its log a huge sparse file (its stdout is the log: `ftruncate`
/// on it, here `truncate` on `/proc/self/fd/1`). What rdaemon reads of it stays small: `logs -n`
/// a few lines' worth, a dead daemon's `status` its quoted tail, and `--ready log:` still keeps
/// to its timeout (it read the whole file in one go before, for minutes and gigabytes).
#[test]
fn a_huge_sparse_log_costs_only_its_tail() {
    let env = Env::new();
    let grow = "echo hello; truncate -s 20G /proc/self/fd/1 || exit 9; echo after";
    env.run(&["start", "--name", "sparse", "--", "sh", "-c", grow])
        .ok();
    let log = env.path("sparse.log");
    wait_until("the log to grow", Duration::from_secs(30), || {
        fs::metadata(&log).is_ok_and(|m| m.len() > 1 << 34)
            && fs::read_to_string(env.path("sparse.status")).is_ok()
    });
    // Its last line written: the program ends right after it (the test read the log between
    // the two once, and missed "after").
    wait_until("the program to end", Duration::from_secs(30), || {
        env.run(&["status", "sparse"]).code != 0
    });
    let run = env.run(&["logs", "sparse", "-n", "3"]).ok();
    assert!(run.stdout.ends_with("after\n"), "{}", run.stderr);
    assert!(
        run.stdout.len() <= 3 * 64 * 1024,
        "{} bytes",
        run.stdout.len()
    );
    // Dead now: status quotes the end of its log, a few hundred bytes a line.
    wait_until("the program to end", Duration::from_secs(30), || {
        env.run(&["status", "sparse"]).code != 0
    });
    let run = env.run(&["status", "sparse"]);
    assert!(run.stdout.contains("after"), "{}", run.dump());
    // The last line, quoted by its end: holes, then what the program said.
    let last = run.stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("    …\\0") && last.ends_with("\\0after"),
        "{}",
        run.dump()
    );
    assert!(run.stdout.len() < 64 * 1024, "{} bytes", run.stdout.len());
    // A log: readiness wait the program floods with 50 GB of holes ends at its timeout.
    let flood = "sleep 0.3; truncate -s 50G /proc/self/fd/1 || exit 9; exec sleep 1000";
    let run = env
        .run(&[
            "start",
            "--name",
            "flood",
            "--ready",
            "log:NEVER",
            "--ready-timeout",
            "2s",
            "--",
            "sh",
            "-c",
            flood,
        ])
        .code(1);
    // A wait drowned by the flood would run into the command's 60 s timeout, which kills it:
    // no exit 1, and no such line.
    assert!(run.stderr.contains("not ready after 2s"), "{}", run.dump());
}

/// Right after the monitor rotated the log, the current file holds only the newest lines:
/// `logs` reads on into the rotated ones for the rest of its count, as `-f` does.
#[test]
fn the_last_lines_reach_into_the_rotated_file() {
    let env = Env::new();
    let script = "for i in $(seq 1 27); do echo \"line $i ................................\"; done; exec sleep 1000";
    env.run(&[
        "start",
        "--name",
        "rot",
        "--respawn",
        "--log-max-size",
        "1K",
        "--",
        "sh",
        "-c",
        script,
    ])
    .ok();
    let (log, rotated) = (env.path("rot.log"), env.path("rot.log.1"));
    wait_until("the rotation", Duration::from_secs(30), || {
        rotated.exists() && fs::read_to_string(&log).is_ok_and(|t| t.contains("line 27 "))
    });
    let run = env.run(&["logs", "rot"]).ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 20, "{}", run.dump());
    assert!(lines[0].starts_with("line 8 "), "{}", run.dump());
    assert!(lines[19].starts_with("line 27 "), "{}", run.dump());
}

/// `logs -f | head -1`: once the reader is gone, `logs -f` ends at once and quietly, as
/// `tail -f` does, not at the next line the log gets, which may never come (helper-96's
/// audit).
#[test]
fn logs_follow_ends_when_its_reader_is_gone() {
    let env = Env::new();
    env.start("quiet", &["sh", "-c", "echo one; exec sleep 1000"]);
    wait_until("the daemon's line is in its log", DEADLINE, || {
        fs::read_to_string(env.path("quiet.log")).is_ok_and(|l| l.contains("one"))
    });
    for names in [&["quiet"][..], &["quiet", "quiet"]] {
        let mut cmd = env.std_cmd();
        cmd.args(["logs", "-f"])
            .args(names)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut follow = Background::spawn(&mut cmd);
        let mut first = String::new();
        BufReader::new(follow.child().stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.contains("one"), "{first:?}");
        // The reader is dropped: the pipe has no reader any more.
        let out = follow.output_within(DEADLINE, "logs -f ends without its reader");
        assert_eq!(out.status.code(), Some(0), "{names:?}");
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    env.run(&["stop", "quiet"]).ok();
}
