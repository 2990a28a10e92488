//! `rdaemon start`: the daemon's process state, options, and every way a start can fail.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::common::*;

#[test]
fn daemon_is_detached_with_clean_process_state() {
    let env = Env::new();
    let pid = env.start("sleeper", &["sleep", "1000"]);
    assert!(alive(pid));
    let st = stat(pid).unwrap();
    let me = stat(std::process::id() as i32).unwrap();
    assert_ne!(
        st.session, me.session,
        "daemon is still in the test's session"
    );
    assert_ne!(
        st.session, pid,
        "daemon is a session leader and could acquire a tty"
    );
    assert_eq!(st.pgrp, pid, "daemon should lead its own process group");
    assert_eq!(st.tty_nr, 0, "daemon has a controlling terminal");
    assert_eq!(cwd(pid), std::path::Path::new("/"));
    assert_eq!(status_field(pid, "Umask"), "0022");
    assert_eq!(status_field(pid, "SigBlk"), "0000000000000000");
    assert_eq!(status_field(pid, "SigIgn"), "0000000000000000");
    let log = env.path("sleeper.log");
    wait_asleep(pid);
    assert_eq!(
        fds(pid),
        vec![(0, "/dev/null".into()), (1, log.clone()), (2, log.clone()),]
    );
    assert_eq!(
        fs::read_to_string(env.path("sleeper.pid")).unwrap(),
        format!("{pid}\n")
    );
    let rec = env.record("sleeper");
    assert_eq!(rec["name"], "sleeper");
    assert_eq!(rec["pid"], pid);
    assert_eq!(rec["start_time"], st.start_time);
    assert_eq!(rec["command"], serde_json::json!(["sleep", "1000"]));
    assert_eq!(rec["mode"], "exec");
    assert_eq!(rec["umask"], "022");
    assert_eq!(
        rec["boot_id"].as_str().unwrap(),
        fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .unwrap()
            .trim()
    );
}

#[test]
fn options_reach_the_daemon() {
    let env = Env::new();
    let work = env.path("work");
    fs::create_dir(&work).unwrap();
    let out = env.path("out.log");
    let err = env.path("err.log");
    let script = env.script(
        "talk.sh",
        "echo \"to stdout $GREETING\"; echo 'to stderr' >&2; exec sleep 1000",
    );
    env.run(&[
        "start",
        "--name",
        "talk",
        "--chdir",
        work.to_str().unwrap(),
        "--umask",
        "077",
        "--env",
        "GREETING=hello",
        "--stdout",
        out.to_str().unwrap(),
        "--stderr",
        err.to_str().unwrap(),
        "--",
        script.to_str().unwrap(),
    ])
    .ok();
    let pid = env.pid_of("talk");
    wait_until("the script has written both streams", DEADLINE, || {
        fs::read_to_string(&err).is_ok_and(|s| s.contains("to stderr"))
    });
    assert_eq!(fs::read_to_string(&out).unwrap(), "to stdout hello\n");
    assert_eq!(fs::read_to_string(&err).unwrap(), "to stderr\n");
    assert_eq!(cwd(pid), work);
    assert_eq!(status_field(pid, "Umask"), "0077");
    // The logs rdaemon made for it follow the umask too (helper-111: 0644 whatever it was).
    for log in [&out, &err] {
        assert_eq!(
            fs::metadata(log).unwrap().permissions().mode() & 0o7777,
            0o600,
            "{log:?}"
        );
    }
    wait_environ_has(pid, "GREETING=hello");
    let rec = env.record("talk");
    assert_eq!(rec["env"]["GREETING"], "hello");
    assert_eq!(rec["chdir"], work.to_str().unwrap());
    assert_eq!(rec["stdout"], out.to_str().unwrap());
}

#[test]
fn log_is_appended_not_truncated() {
    let env = Env::new();
    fs::write(env.path("echo.log"), "old line\n").unwrap();
    env.run(&["start", "--name", "echo", "--", "sh", "-c", "echo new line"])
        .ok();
    wait_until("the log has the new line", DEADLINE, || {
        fs::read_to_string(env.path("echo.log")).is_ok_and(|s| s.contains("new line"))
    });
    assert_eq!(
        fs::read_to_string(env.path("echo.log")).unwrap(),
        "old line\nnew line\n"
    );
}

#[test]
fn second_start_reports_already_running() {
    let env = Env::new();
    let pid = env.start("once", &["sleep", "1000"]);
    env.run(&["start", "--name", "once", "--", "sleep", "1000"])
        .ok()
        .stdout_has(&format!("once is already running (pid {pid})"));
    assert_eq!(env.pid_of("once"), pid);
}

/// Two names given the same `--pidfile`: the second finds the first's process there, which is
/// the first daemon: not "already running" itself (the same program, a pidfile elsewhere), nor
/// a stale pidfile to replace (in rdaemon's directory). Refused, naming the owner; nothing made.
#[test]
fn a_start_whose_pidfile_is_another_daemons_is_refused() {
    let elsewhere = tempfile::tempdir().unwrap();
    for inside in [true, false] {
        let env = Env::new();
        let shared = match inside {
            true => env.path("shared.pid"),
            false => elsewhere.path().join("shared.pid"),
        };
        refused_with_anothers_pidfile(&env, &shared);
    }
}

fn refused_with_anothers_pidfile(env: &Env, shared: &std::path::Path) {
    let p = shared.to_str().unwrap();
    env.run(&[
        "start",
        "--name",
        "own",
        "--pidfile",
        p,
        "--",
        "sleep",
        "910",
    ])
    .ok();
    let own = recorded_pid(env, "own");
    let run = env
        .run(&[
            "start",
            "--name",
            "intruder",
            "--pidfile",
            p,
            "--",
            "sleep",
            "911",
        ])
        .code(1)
        .one_error_line();
    let run = run.stderr_has(&format!(
        "cannot start intruder: pidfile '{p}' is that of daemon own, which runs as pid {own}"
    ));
    env.run(&["status", "intruder"]).code(3);
    assert!(!env.path("intruder.json").exists(), "{}", run.dump());
    assert_left_alone(own, "a refused start sharing its pidfile");
    assert_eq!(fs::read_to_string(shared).unwrap(), format!("{own}\n"));
    // A daemon with a spec of its own that names the same pidfile, stopped: its start is
    // refused the same way, and its status and stop never take own's process for its own
    // (review: `list` showed both running, and `stop earlier` killed own's process).
    env.run(&["start", "--name", "earlier", "--", "sleep", "912"])
        .ok();
    env.run(&["stop", "earlier"]).ok();
    let run = env.run(&[
        "start",
        "--name",
        "earlier",
        "--pidfile",
        p,
        "--",
        "sleep",
        "912",
    ]);
    let run = run
        .code(1)
        .stderr_has("pidfile")
        .stderr_has(&format!("is that of daemon own, which runs as pid {own}"));
    let spec: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(env.path("earlier.json")).unwrap()).unwrap();
    assert_ne!(spec["pidfile"], p, "{}", run.dump());
    // Given the shared pidfile in its spec (as an older rdaemon let it be saved): judged not
    // its own.
    let mut spec = spec;
    spec["pidfile"] = p.into();
    fs::write(env.path("earlier.json"), spec.to_string()).unwrap();
    // Unknown, and not stopped: outside rdaemon's directory because own's status names the
    // pid, inside because no record of earlier's vouches for it there.
    env.run(&["status", "earlier"])
        .code(4)
        .stderr_has(&format!("pid {own}"));
    env.run(&["stop", "earlier"])
        .code(1)
        .stderr_has(&format!("pid {own}"));
    env.run(&["start", "earlier"])
        .code(1)
        .stderr_has(&format!("is that of daemon own, which runs as pid {own}"));
    assert_left_alone(own, "status and stop of a daemon sharing its pidfile");
    env.run(&["stop", "own"]).ok();
}

/// A stopped daemon's pidfile (outside rdaemon's directory, root's: trusted the classic way)
/// rewritten with another daemon's pid: its main process, or a process of its program beneath
/// a respawn monitor. User trial, 2026-12-02: nginx writes the `pid` file its configuration
/// names whether it runs under `--forking` or as another daemon with `daemon off;`, and `status`
/// of the stopped one said running, its `start` "already running", and its `stop` killed the
/// other's master. Neither name's verbs may take the other's process for their own.
#[test]
fn a_pidfile_rewritten_with_another_daemons_pid_is_not_taken_for_its_own() {
    let elsewhere = tempfile::tempdir().unwrap();
    let env = Env::new();
    let shared = elsewhere.path().join("shared.pid");
    let p = shared.to_str().unwrap();
    env.run(&[
        "start",
        "--name",
        "pa",
        "--pidfile",
        p,
        "--",
        "sleep",
        "921",
    ])
    .ok();
    env.run(&["stop", "pa"]).ok();
    let other = env.start("pb", &["sleep", "922"]);
    env.run(&["start", "--name", "pc", "--respawn", "--", "sleep", "923"])
        .ok();
    let program = child_pid(&env, "pc").expect("pc's program runs");
    // And a program beneath a wrapper script that does not exec it (second review).
    let script = format!("sleep {}; true", unique_secs());
    env.run(&[
        "start",
        "--name",
        "pw",
        "--respawn",
        "--",
        "sh",
        "-c",
        &script,
    ])
    .ok();
    let wrapper = child_pid(&env, "pw").expect("pw's script runs");
    let mut wrapped = 0;
    wait_until("the wrapper's sleep runs", DEADLINE, || {
        wrapped = fs::read_to_string(format!("/proc/{wrapper}/task/{wrapper}/children"))
            .ok()
            .and_then(|c| c.split_whitespace().next().and_then(|p| p.parse().ok()))
            .unwrap_or(0);
        wrapped > 0
    });
    env.track(wrapped);
    for pid in [other, program, wrapped] {
        fs::write(&shared, format!("{pid}\n")).unwrap();
        let owner = match pid {
            p if p == other => "pb",
            p if p == program => "pc",
            _ => "pw",
        };
        let named = format!("names pid {pid}, which is daemon {owner}");
        let run = env.run(&["status", "pa"]).code(4).stderr_has(&named);
        let list = env.run(&["list", "--json"]);
        let rows: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
        let pa = rows.as_array().unwrap().iter().find(|r| r["name"] == "pa");
        assert_ne!(pa.unwrap()["state"], "running", "{}", list.dump());
        env.run(&["start", "pa"])
            .code(1)
            .stderr_has(&format!("cannot start pa: pidfile '{p}'"));
        env.run(&["stop", "pa"]).code(1).stderr_has(&named);
        env.run(&["signal", "USR1", "pa"])
            .code(1)
            .stderr_has(&named);
        assert_left_alone(pid, &format!("pa's verbs\n{}", run.dump()));
    }
    env.run(&["status", "pb"]).ok();
    env.run(&["status", "pc"]).ok();
    env.run(&["status", "pw"]).ok();
    assert_eq!(child_pid(&env, "pc"), Some(program));
    assert_eq!(child_pid(&env, "pw"), Some(wrapper));
    env.run(&["stop", "pb", "pc", "pw"]).ok();
}

/// The other side of the rule above (review, 2026-12-02): a program that a daemon's script
/// started with a pidfile of its own is not that daemon, only a process beneath it. The
/// classic way, its pidfile still stops it, and the daemon it runs beneath is left alone.
#[test]
fn a_pidfile_of_a_program_started_inside_another_daemon_still_stops_it() {
    let elsewhere = tempfile::tempdir().unwrap();
    let env = Env::new();
    let pidfile = elsewhere.path().join("worker.pid");
    let p = pidfile.to_str().unwrap();
    let (worker_secs, host_secs) = (unique_secs(), unique_secs());
    let script = format!(
        "sleep {worker_secs} & echo $! > {p}.tmp && mv {p}.tmp {p}; exec sleep {host_secs}"
    );
    let host = env.start("host", &["sh", "-c", &script]);
    wait_until("the worker's pidfile", DEADLINE, || pidfile.exists());
    let worker: i32 = fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    env.track(worker);
    env.run(&["status", "--pidfile", p]).ok();
    env.run(&["stop", "--pidfile", p])
        .ok()
        .stdout_has(&format!("stopped worker (pid {worker})"));
    wait_dead(worker);
    assert!(alive(host), "the daemon the worker ran beneath was stopped");
    env.run(&["stop", "host"]).ok();
}

#[test]
fn missing_program_fails_and_leaves_nothing() {
    let env = Env::new();
    let run = env
        .run(&["start", "--", "no-such-program-xyz"])
        .code(1)
        .one_error_line();
    assert_eq!(
        run.stderr,
        "rdaemon: cannot execute 'no-such-program-xyz': No such file or directory\n"
    );
    assert_eq!(
        fs::read_dir(env.dir()).unwrap().count(),
        0,
        "{}",
        run.dump()
    );
}

/// `start NAME` with a typo of a known daemon's name (user trial, 2026-12-02): neither a daemon
/// nor a program, said with the daemons it was probably meant to be, as `status` and `stop` do.
/// Nothing is started or saved.
#[test]
fn a_start_of_a_mistyped_daemon_name_names_the_closest() {
    let env = Env::new();
    env.run(&["start", "--name", "alpha1", "--", "sleep", &unique_secs()])
        .ok();
    env.run(&["stop", "alpha1"]).ok();
    let run = env.run(&["start", "alpha1x"]).code(1).one_error_line();
    assert_eq!(
        run.stderr,
        "rdaemon: cannot execute 'alpha1x': No such file or directory, and no daemon is named so (closest: alpha1)\n"
    );
    assert!(!env.path("alpha1x.json").exists(), "{}", run.dump());
    // A word close to no daemon is only a program that cannot be found.
    env.run(&["start", "zzzunknown"])
        .code(1)
        .one_error_line()
        .stderr_has("cannot execute 'zzzunknown': No such file or directory\n");
}

#[test]
fn non_executable_file_fails_with_permission_denied() {
    let env = Env::new();
    let file = env.path("plain.txt");
    fs::write(&file, "echo hi\n").unwrap();
    env.run(&["start", "--name", "plain", "--", file.to_str().unwrap()])
        .code(1)
        .one_error_line()
        .stderr_has("Permission denied");
    assert!(!env.path("plain.pid").exists());
    assert!(!env.path("plain.json").exists());
}

/// `name`, a `sleep`, started and stopped again: a known daemon, wanted stopped.
fn stopped_daemon(env: &Env, name: &str) {
    let pid = env.start(name, &["sleep", &unique_secs()]);
    env.run(&["stop", name]).ok();
    wait_dead(pid);
}

/// The spec of a plain start says wanted running from its one write, while it forks: an exec
/// that fails puts the old spec back, still wanted stopped and with its old command.
#[test]
fn a_failed_exec_restores_the_old_spec_wanted_stopped() {
    let env = Env::new();
    stopped_daemon(&env, "keep");
    assert_eq!(env.record("keep")["wanted"], "stopped");
    let file = env.path("noshebang");
    fs::write(&file, "sleep 1000\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).unwrap();
    env.run(&["start", "--name", "keep", "--", file.to_str().unwrap()])
        .code(1)
        .stderr_has("Exec format error");
    let spec = env.record("keep");
    assert_eq!(spec["wanted"], "stopped", "{spec}");
    assert_eq!(spec["command"][0], "sleep", "{spec}");
    env.run(&["status", "keep"])
        .code(3)
        .stdout_has("keep is stopped");
}

/// The temporary pidfile is made while the intermediate child forks: a pidfile that cannot be
/// written still fails the start before the program runs, and the old spec stays.
#[test]
fn an_unwritable_pidfile_fails_the_start_before_the_program_runs() {
    let env = Env::new();
    stopped_daemon(&env, "keep");
    let before = fs::read_to_string(env.path("keep.json")).unwrap();
    let script = env.script("prog.sh", "touch \"$1/ran\"; exec sleep 1000");
    let dir = env.dir().display().to_string();
    let missing = env.path("missing/keep.pid");
    env.run(&[
        "start",
        "--name",
        "keep",
        "--pidfile",
        missing.to_str().unwrap(),
        "--",
        script.to_str().unwrap(),
        &dir,
    ])
    .code(1)
    .one_error_line()
    .stderr_has("cannot write pidfile");
    assert!(!env.path("ran").exists(), "the program ran");
    assert_eq!(fs::read_to_string(env.path("keep.json")).unwrap(), before);
    env.run(&["status", "keep"])
        .code(3)
        .stdout_has("keep is stopped");
}

#[test]
fn file_without_shebang_is_an_exec_format_error() {
    let env = Env::new();
    let file = env.path("noshebang");
    fs::write(&file, "sleep 1000\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).unwrap();
    env.run(&["start", "--name", "nosb", "--", file.to_str().unwrap()])
        .code(1)
        .one_error_line()
        .stderr_has("cannot execute")
        .stderr_has("Exec format error");
    assert!(!env.path("nosb.pid").exists());
    assert!(!env.path("nosb.json").exists());
}

#[test]
fn relative_program_path_is_resolved_before_chdir() {
    let env = Env::new();
    env.script("rel.sh", "exec sleep 1000");
    let pid = env.start("rel", &["./rel.sh"]);
    assert!(alive(pid));
    let cmd = env.record("rel")["command"][0].as_str().unwrap().to_owned();
    assert_eq!(cmd, env.path("rel.sh").to_str().unwrap());
}

#[test]
fn program_is_looked_up_in_the_daemons_path() {
    let env = Env::new();
    let bin = env.path("bin");
    fs::create_dir(&bin).unwrap();
    let script = env.script("bin/only-here", "exec sleep 1000");
    assert!(script.exists());
    let path = format!("{}:/usr/bin:/bin", bin.display());
    env.run(&["start", "--env", &format!("PATH={path}"), "--", "only-here"])
        .ok();
    assert!(alive(env.pid_of("only-here")));
}

#[test]
fn stale_pidfile_after_kill_9_is_replaced() {
    let env = Env::new();
    let old = env.start("phoenix", &["sleep", "1000"]);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(old),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_dead(old);
    let new = env.start("phoenix", &["sleep", "1000"]);
    assert_ne!(old, new);
    assert!(alive(new));
}

/// Everything that can fail is checked before anything is changed (SPEC §2): a stale pidfile
/// (garbage, or a dead daemon's) is replaced only by a start that passed its checks; a start
/// that fails on a missing `--chdir`, log directory or env file leaves it as it was, and says
/// nothing of replacing it.
#[test]
fn a_start_that_fails_its_checks_leaves_a_stale_pidfile_as_it_was() {
    let env = Env::new();
    fs::create_dir(env.path("elsewhere")).unwrap();
    let pidfile = env.path("elsewhere/ww.pid");
    let pidfile_arg = pidfile.to_str().unwrap();
    let missing = env.path("missing");
    let missing = missing.to_str().unwrap();
    let log = format!("{missing}/x.log");
    let bad: [&[&str]; 3] = [
        &["--chdir", missing],
        &["--log", &log],
        &["--env-file", missing],
    ];
    let secs = unique_secs();
    let start = |name: &str, pidfile: &str, given: &[&str]| {
        let mut args = vec!["start", "--name", name, "--pidfile", pidfile];
        args.extend(given);
        args.extend(["--", "sleep", &secs]);
        env.run(&args)
    };
    fs::write(&pidfile, "garbage\n").unwrap();
    for given in bad {
        let run = start("x", pidfile_arg, given).code(1).one_error_line();
        assert!(!run.stderr.contains("replacing"), "{}", run.dump());
        assert_eq!(fs::read_to_string(&pidfile).unwrap(), "garbage\n");
        assert!(!env.path("x.json").exists(), "{}", run.dump());
    }
    // A dead daemon's own pidfile, which its status describes, likewise.
    let old = env.start("phoenix", &["sleep", &secs]);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(old),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_dead(old);
    let own = env.path("phoenix.pid");
    for given in bad {
        let run = start("phoenix", own.to_str().unwrap(), given).code(1);
        assert_eq!(
            fs::read_to_string(&own).unwrap(),
            format!("{old}\n"),
            "{}",
            run.dump()
        );
    }
    assert!(env.track_marked(&secs).is_empty());
    // A start that passes its checks replaces them.
    let run = start("x", pidfile_arg, &[]);
    env.track_marked(&secs);
    run.ok()
        .stderr_has(&format!(
            "invalid pidfile '{pidfile_arg}': it does not hold one decimal pid; replacing it"
        ))
        .stdout_has("started x (pid ");
    let pid = read_pid(&pidfile);
    env.track(pid);
    assert!(alive(pid));
    let new = env.start("phoenix", &["sleep", &secs]);
    assert_ne!(new, old);
    assert_eq!(env.track_marked(&secs), {
        let mut both = vec![pid, new];
        both.sort_unstable();
        both
    });
}

#[test]
fn name_defaults_to_pidfile_stem_then_program() {
    let env = Env::new();
    let pidfile = env.path("custom.pid");
    env.run(&[
        "start",
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--",
        "sleep",
        "1000",
    ])
    .ok()
    .stdout_has("started custom (pid");
    assert_eq!(env.record("custom")["pidfile"], pidfile.to_str().unwrap());
    env.run(&["start", "--", "sleep", "999"])
        .ok()
        .stdout_has("started sleep (pid");
}

#[test]
fn underivable_name_is_a_usage_error() {
    let env = Env::new();
    let pidfile = env.path(".hidden.pid");
    env.run(&[
        "start",
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--",
        "sleep",
        "1000",
    ])
    .code(2)
    .one_error_line()
    .stderr_has("--name");
    assert!(!pidfile.exists());
}

#[test]
fn program_that_exits_at_once_still_counts_as_started() {
    // `--ready exec` (the default) promises only that the exec happened.
    let env = Env::new();
    env.run(&["start", "--name", "quick", "--", "true"])
        .ok()
        .stdout_has("started quick");
    let pid = env.pid_of("quick");
    wait_dead(pid);
}

/// A bad-input sweep: `--pidfile` mistyped to name a real file (a config) replaced it with the
/// pid, after a warning, and `stop` then removed it. Lines of text beyond a pidfile's size are
/// refused, one line, and kept byte for byte (garbage in a pidfile is still replaced:
/// `pidfile_validation`); a FIFO there is one error line, not a warning that it is
/// being replaced followed by the error.
#[test]
fn a_pidfile_path_naming_some_other_file_is_refused_and_kept() {
    let env = Env::new();
    let conf = env.path("important.conf");
    let text = "# settings\nlisten 8080\nworkers 4\n".repeat(20);
    fs::write(&conf, &text).unwrap();
    let secs = unique_secs();
    env.run(&[
        "start",
        "--name",
        "conf",
        "--pidfile",
        conf.to_str().unwrap(),
        "--",
        "sleep",
        &secs,
    ])
    .code(1)
    .one_error_line()
    .stderr_has(&format!(
        "refusing to replace '{}': it holds {} bytes in several lines",
        conf.display(),
        text.len()
    ));
    assert_eq!(fs::read_to_string(&conf).unwrap(), text);
    assert!(env.track_marked(&secs).is_empty(), "a daemon was started");
    let fifo = env.path("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    env.run(&[
        "start",
        "--name",
        "fifo",
        "--pidfile",
        fifo.to_str().unwrap(),
        "--",
        "sleep",
        &secs,
    ])
    .code(1)
    .one_error_line()
    .stderr_has("not a regular file");
    assert!(env.track_marked(&secs).is_empty(), "a daemon was started");
}
