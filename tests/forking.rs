//! `start --forking` (SPEC §2.2, issue 15): programs that daemonize themselves. The fixture
//! `tests/fixtures/forker.py` has nginx's shape: it forks, its parent exits, the child calls
//! `setsid`, writes its pid and sleeps. Every test marks its processes with a unique argument and
//! checks in `/proc` what is left.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::*;

/// The fixture's command line with `opts` and the mark `mark`; `None` (the test skips, saying
/// why) without python3.
fn forker(test: &str, opts: &[&str], mark: &str) -> Option<Vec<String>> {
    let Some(python) = python3() else {
        skip(test, "python3 is not installed");
        return None;
    };
    let mut argv = vec![
        python.display().to_string(),
        fixture("forker.py").display().to_string(),
    ];
    argv.extend(opts.iter().map(|s| s.to_string()));
    argv.push(mark.to_owned());
    Some(argv)
}

/// `rdaemon start --name NAME OPTS -- ARGV`.
fn start(env: &Env, name: &str, opts: &[&str], argv: &[String]) -> Run {
    let mut args = vec!["start", "--name", name];
    args.extend_from_slice(opts);
    args.push("--");
    args.extend(argv.iter().map(String::as_str));
    let run = env.run(&args);
    for pid in live_pids_with_arg(argv.last().unwrap()) {
        env.track(pid);
    }
    run
}

/// The main pid `status --json` shows.
fn status_pid(env: &Env, name: &str) -> i64 {
    let run = env.run(&["status", name, "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    v["pid"]
        .as_i64()
        .unwrap_or_else(|| panic!("no pid\n{}", run.dump()))
}

/// Nothing the fixture started with `mark` is alive (zombies count as dead). Each one seen is
/// tracked by `env`, so one that never goes away is killed when the test ends.
fn wait_nothing_left(env: &Env, mark: &str) {
    wait_until(&format!("no process with {mark} left"), DEADLINE, || {
        env.track_marked(mark).is_empty()
    });
}

#[test]
fn forking_status_shows_the_forked_pid_and_stop_leaves_nothing() {
    let env = Env::new();
    let mark = unique_secs();
    let pidfile = env.path("fk.pid");
    let p = pidfile.display().to_string();
    let Some(argv) = forker("forking_status", &["--pidfile", &p], &mark) else {
        return;
    };
    let run = start(&env, "fk", &["--forking", "--pidfile", &p], &argv).ok();
    let live = env.track_marked(&mark);
    assert_eq!(live.len(), 1, "one process left: {live:?}\n{}", run.dump());
    let daemon = live[0];
    assert_eq!(read_pid(&pidfile), daemon);
    run.stdout_has(&format!("started fk (pid {daemon})"));
    // Every time, the forked process: never the launcher's short-lived pid.
    for _ in 0..5 {
        assert_eq!(status_pid(&env, "fk"), i64::from(daemon));
        assert!(alive(daemon));
    }
    // The daemon the program left: its own session (it called setsid), adopted by no one but
    // the process that was `start` (now gone, so PID 1 or the nearest subreaper).
    let st = stat(daemon).unwrap();
    assert_eq!(st.session, daemon, "the fixture leads its own session");
    let rec = env.record("fk");
    assert_eq!(rec["forking"], true, "{rec}");
    assert_eq!(rec["pid"], daemon);
    // The identity of the process adopted, not the launcher's.
    assert_pidfs_recorded(&rec, daemon);
    let json = env.run(&["status", "fk", "--json"]).ok();
    assert!(
        json.stdout.contains("\"mode\": \"forking\""),
        "{}",
        json.dump()
    );
    // rdaemon never wrote the program's pidfile: the fixture's plain write, its content.
    env.run(&["stop", "fk"])
        .ok()
        .stdout_has(&format!("stopped fk (pid {daemon})"));
    wait_nothing_left(&env, &mark);
    assert!(
        !pidfile.exists(),
        "the pidfile naming the stopped process is removed"
    );
    env.run(&["status", "fk"]).code(3);
}

#[test]
fn forking_without_pidfile_takes_the_only_process_left_by_a_double_fork() {
    let env = Env::new();
    let mark = unique_secs();
    let Some(argv) = forker("forking_double", &["--double"], &mark) else {
        return;
    };
    let run = start(&env, "dbl", &["--forking"], &argv).ok();
    let live = env.track_marked(&mark);
    assert_eq!(live.len(), 1, "{live:?}\n{}", run.dump());
    let daemon = live[0];
    // The double fork's intermediate exited: the one left is the daemon, in the session the
    // program made (not its leader).
    assert_ne!(stat(daemon).unwrap().session, daemon);
    run.stdout_has(&format!("started dbl (pid {daemon})"));
    assert_eq!(env.pid_of("dbl"), daemon, "rdaemon's own pidfile names it");
    for _ in 0..5 {
        assert_eq!(status_pid(&env, "dbl"), i64::from(daemon));
    }
    env.run(&["stop", "dbl"]).ok();
    wait_nothing_left(&env, &mark);
}

/// One `resurrect` starts a plain daemon, then a `--forking` one: the first, re-parented to
/// that rdaemon (its child subreaper), is none of what the second's launch left. Before, the
/// forking start found two processes left, failed, and stopped the first daemon; when the
/// forking program fails, what it left is stopped, and only that.
#[test]
fn a_forking_start_after_another_daemons_in_one_command_leaves_that_one_alone() {
    let env = Env::new();
    let (plain, forked) = (unique_secs(), unique_secs());
    let fail = env.path("fail");
    env.start("a", &["sleep", &plain]);
    let program = format!(
        "if [ -e '{}' ]; then sleep {forked} & exit 1; fi; sleep {forked} & exit 0",
        fail.display()
    );
    env.run(&[
        "start",
        "--name",
        "b",
        "--forking",
        "--",
        "sh",
        "-c",
        &program,
    ])
    .ok();
    let kill_both = |env: &Env| {
        for pid in [env.pid_of("a"), env.pid_of("b")] {
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL)
                .unwrap();
            wait_until("a daemon to die", DEADLINE, || !alive(pid));
        }
    };
    kill_both(&env);
    let run = env.run(&["resurrect"]);
    env.track_marked(&plain);
    env.track_marked(&forked);
    run.ok();
    let a = env.pid_of("a");
    assert_left_alone(a, "resurrect's forking start of b");
    assert_eq!(env.track_marked(&plain), [a]);
    assert_eq!(env.track_marked(&forked), [env.pid_of("b")]);
    // The forking program fails: what it left goes, the daemon started before it stays.
    kill_both(&env);
    fs::write(&fail, "").unwrap();
    let run = env.run(&["resurrect"]);
    env.track_marked(&plain);
    env.track_marked(&forked);
    run.code(1)
        .stderr_has("cannot start b: the program exited with status 1");
    let a = env.pid_of("a");
    assert_left_alone(a, "resurrect's failed forking start of b");
    env.run(&["status", "a"]).ok();
    wait_until("what b left to be stopped", DEADLINE, || {
        env.track_marked(&forked).is_empty()
    });
}

/// One `resurrect` starts root's daemon `a`, then `b`, a `--forking` daemon as `nobody`. While
/// `b` launches, `a` detaches a helper (`setsid`, its parent exiting): re-parented to that
/// rdaemon, the child subreaper of both launches. `b`'s program names the helper in its pidfile
/// (or, without one, leaves nothing else): before, `b` adopted root's helper, and its `stop`
/// killed it. Now `b` fails and the helper is left alone: it is in `a`'s cgroup, not `b`'s, or,
/// without cgroups, runs as root, not as `b`'s user.
#[test]
fn a_forking_daemon_never_takes_an_earlier_daemons_orphan_in_one_command() {
    let test = "forking_earlier_orphan";
    let Some(nobody) = root_and_nobody(test) else {
        return;
    };
    for (cgroup, pidfile) in [
        ("auto", true),
        ("auto", false),
        ("off", true),
        ("off", false),
    ] {
        let env = Env::new();
        open_dir(&env);
        let dir = env.path("d");
        fs::create_dir(&dir).unwrap();
        nix::unistd::chown(&dir, Some(nobody.uid), Some(nobody.gid)).unwrap();
        let d = dir.display();
        let (helper, plain, forked) = (unique_secs(), unique_secs(), unique_secs());
        let a = env.script(
            "a.sh",
            &format!(
                "while [ ! -e {d}/go ]; do sleep 0.01; done\n\
                 (setsid sleep {helper} </dev/null >/dev/null 2>&1 & echo $! > {d}/h.tmp; mv {d}/h.tmp {d}/h.pid)\n\
                 exec sleep {plain}"
            ),
        );
        let b = env.script(
            "b.sh",
            &format!(
                "if [ -e {d}/attack ]; then\n\
                   touch {d}/go\n\
                   while [ ! -e {d}/h.pid ]; do sleep 0.01; done\n\
                   cp {d}/h.pid {d}/b.tmp; mv {d}/b.tmp {d}/b.pid; exit 0\n\
                 fi\n\
                 setsid sh -c 'echo $$ > {d}/b.pid; exec sleep {forked}' </dev/null >/dev/null 2>&1 &"
            ),
        );
        let a = a.display().to_string();
        let b = b.display().to_string();
        let pf = format!("{d}/b.pid");
        env.run(&["start", "--name", "a", "--cgroup", cgroup, "--", &a])
            .ok();
        let mut opts = vec![
            "start", "--name", "b", "--cgroup", cgroup, "--user", "nobody",
        ];
        opts.extend(["--forking", "--ready-timeout", "10s"]);
        if pidfile {
            opts.extend(["--pidfile", &pf]);
        }
        opts.extend(["--", &b]);
        env.run(&opts).ok();
        env.track_marked(&forked);
        for name in ["a", "b"] {
            let pid = recorded_pid(&env, name);
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL)
                .unwrap();
            wait_until("a daemon to die", DEADLINE, || !alive(pid));
        }
        fs::write(dir.join("attack"), "").unwrap();
        let _ = fs::remove_file(&pf);
        let run = env.run(&["resurrect"]);
        let helpers = env.track_marked(&helper);
        env.track_marked(&plain);
        let case = format!("--cgroup {cgroup}, pidfile {pidfile}\n{}", run.dump());
        assert_eq!(helpers.len(), 1, "{case}");
        let victim = helpers[0];
        assert_eq!(run.code, 1, "{case}");
        run.stderr_has("cannot start b");
        assert_left_alone(victim, &case);
        let (_, status) = status_json(&env, "b");
        assert_ne!(status["pid"].as_i64(), Some(i64::from(victim)), "{case}");
        // The pidfile b's user wrote, naming the victim, was removed by the refusing start:
        // `stop` finds nothing of b's and signals nothing.
        assert!(!pidfile || !Path::new(&pf).exists(), "{case}");
        env.run(&["stop", "b"]).ok().stdout_has("b is not running");
        assert_left_alone(victim, &case);
        env.run(&["stop", "a"]).ok();
    }
}

/// Review of 2026-12-02 (third): without cgroups, a `nobody` daemon `a` that keeps detaching
/// helpers (`setsid`, its parent exiting) while root's `--forking` daemon `b` launches in the
/// same `restart a b` or `resurrect` had them re-parented to the same `rdaemon`, where root's
/// launch took them for what it left: the launch failed ("left N processes behind") and
/// stopped them, or adopted the one its pidfile named. The user filter did not apply (`b` runs
/// as root). Now each `--forking` launch has a child subreaper of its own: `a`'s orphans never
/// enter it, `b` starts (or fails, signalling nothing) and `a`'s helper sleeps on.
#[test]
fn an_earlier_daemons_orphans_are_never_a_root_forking_launchs_without_cgroups() {
    let test = "forking_earlier_orphan_root";
    let Some(nobody) = root_and_nobody(test) else {
        return;
    };
    for (command, names_helper) in [
        ("restart", false),
        ("restart", true),
        ("resurrect", false),
        ("resurrect", true),
    ] {
        let env = Env::new();
        open_dir(&env);
        let dir = env.path("d");
        fs::create_dir(&dir).unwrap();
        nix::unistd::chown(&dir, Some(nobody.uid), Some(nobody.gid)).unwrap();
        let d = dir.display();
        let (helper, plain, forked) = (unique_secs(), unique_secs(), unique_secs());
        // `a`, as nobody: on "go", detaches a helper (its parent `sh` exits at once) and says
        // which pids (helper, parent) in h.pid.
        let a = env.script(
            "a.sh",
            &format!(
                "while [ ! -e {d}/go ]; do sleep 0.01; done\n\
                 sh -c 'setsid sleep {helper} </dev/null >/dev/null 2>&1 & echo $! $$ > {d}/h.tmp; mv {d}/h.tmp {d}/h.pid'\n\
                 exec sleep {plain}"
            ),
        );
        // `b`, as root: in the attack, says "go" and exits only once `a`'s helper has been
        // orphaned (its parent changed), naming it in its pidfile or leaving its own daemon.
        let b = env.script(
            "b.sh",
            &format!(
                "if [ -e {d}/attack ]; then\n\
                   touch {d}/go\n\
                   while [ ! -e {d}/h.pid ]; do sleep 0.01; done\n\
                   read h sub < {d}/h.pid\n\
                   while [ \"$(cut -d' ' -f4 /proc/$h/stat 2>/dev/null)\" = \"$sub\" ]; do sleep 0.01; done\n\
                   if [ -e {d}/name-helper ]; then echo $h > {d}/b.tmp; mv {d}/b.tmp {d}/b.pid; exit 0; fi\n\
                 fi\n\
                 setsid sh -c 'echo $$ > {d}/b.tmp; mv {d}/b.tmp {d}/b.pid; exec sleep {forked}' </dev/null >/dev/null 2>&1 &"
            ),
        );
        let a = a.display().to_string();
        let b = b.display().to_string();
        let pf = format!("{d}/b.pid");
        let user = ["--cgroup", "off", "--user", "nobody"];
        let mut opts = vec!["start", "--name", "a"];
        opts.extend(user);
        opts.extend(["--", &a]);
        env.run(&opts).ok();
        let mut opts = vec!["start", "--name", "b", "--cgroup", "off", "--forking"];
        opts.extend(["--ready-timeout", "10s"]);
        if names_helper {
            opts.extend(["--pidfile", &pf]);
        }
        opts.extend(["--", &b]);
        env.run(&opts).ok();
        env.track_marked(&forked);
        if command == "resurrect" {
            for name in ["a", "b"] {
                let pid = recorded_pid(&env, name);
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL)
                    .unwrap();
                wait_until("a daemon to die", DEADLINE, || !alive(pid));
            }
        }
        fs::write(dir.join("attack"), "").unwrap();
        if names_helper {
            fs::write(dir.join("name-helper"), "").unwrap();
        }
        let _ = fs::remove_file(&pf);
        let run = match command {
            "restart" => env.run(&["restart", "a", "b"]),
            _ => env.run(&["resurrect"]),
        };
        let helpers = env.track_marked(&helper);
        let daemons = env.track_marked(&forked);
        env.track_marked(&plain);
        let case = format!(
            "{command}, b's pidfile names a's helper: {names_helper}\n{}",
            run.dump()
        );
        assert_eq!(helpers.len(), 1, "{case}");
        let victim = helpers[0];
        assert_left_alone(victim, &case);
        let (_, status) = status_json(&env, "b");
        assert_ne!(status["pid"].as_i64(), Some(i64::from(victim)), "{case}");
        if names_helper {
            assert_eq!(run.code, 1, "{case}");
            run.stderr_has("cannot start b")
                .stderr_has("nothing was signalled");
        } else {
            assert_eq!(run.code, 0, "{case}");
            assert_eq!(daemons.len(), 1, "{case}");
            assert_eq!(
                status["pid"].as_i64(),
                Some(i64::from(daemons[0])),
                "{case}"
            );
            env.run(&["stop", "b"]).ok();
        }
        env.run(&["stop", "a"]).ok();
        assert_left_alone(victim, &case);
    }
}

#[test]
fn forking_launcher_that_exits_3_fails_the_start_and_leaves_nothing() {
    let env = Env::new();
    let mark = unique_secs();
    let p = env.path("bad.pid").display().to_string();
    let Some(argv) = forker("forking_exit3", &["--pidfile", &p, "--exit", "3"], &mark) else {
        return;
    };
    start(&env, "bad", &["--forking", "--pidfile", &p], &argv)
        .code(1)
        .stderr_has("exited with status 3")
        .stderr_has("==> ");
    wait_nothing_left(&env, &mark);
    env.run(&["status", "bad"]).code(3);
}

/// `start --ready tcp:PORT -- redis-server --daemonize yes` without `--forking` (a user's
/// trial): the program exits 0 at once, leaving its server, and the start fails. The error says
/// what `status` and the monitor's log say of such a daemon: start it with `--forking`. Not when
/// the program failed (status 3) or left nothing. A shell that forks a `sleep` stands in for
/// redis.
#[test]
fn a_program_that_exits_0_leaving_a_process_during_the_wait_is_told_to_use_forking() {
    let env = Env::new();
    let port = free_port().to_string();
    let ready = format!("tcp:127.0.0.1:{port}");
    let hint = "(if it puts itself in the background, start it with --forking)";
    let waited = format!("while rdaemon waited for a TCP connection to 127.0.0.1:{port}");
    for (name, exit, leaves) in [("bg0", 0, true), ("bg3", 3, true), ("none0", 0, false)] {
        let mark = unique_secs();
        let program = match leaves {
            true => format!("sleep {mark} & exit {exit}"),
            false => format!("exit {exit}"),
        };
        let argv = ["sh".to_owned(), "-c".to_owned(), program, mark.clone()];
        let run = start(&env, name, &["--ready", &ready], &argv).code(1);
        let first = run.stderr.lines().next().unwrap_or_default();
        let failed =
            format!("rdaemon: cannot start {name}: the program exited with status {exit} {waited}");
        let expected = match (exit, leaves) {
            (0, true) => format!("{failed}; stopped 1 process it left behind {hint}"),
            (_, true) => format!("{failed}; stopped 1 process it left behind"),
            (_, false) => failed,
        };
        assert_eq!(first, expected, "{}", run.dump());
        // What it left was stopped: nothing of it runs.
        wait_nothing_left(&env, &mark);
        env.run(&["status", name])
            .code(3)
            .stdout_has(&format!("{name} is stopped"));
    }
}

/// The launcher fails while its daemon has created its pidfile but not yet written its pid: the
/// start stops the daemon and removes that pidfile (empty, or naming what was stopped, if the
/// pid came first), so `status` says stopped, not "invalid pidfile" (exit 4).
#[test]
fn a_failed_forking_start_removes_the_pidfile_its_daemon_left_empty() {
    let env = Env::new();
    let mark = unique_secs();
    let p = env.path("half.pid").display().to_string();
    let Some(argv) = forker(
        "forking_empty_pidfile",
        &["--pidfile", &p, "--slow", "--after-pidfile", "--exit", "3"],
        &mark,
    ) else {
        return;
    };
    start(&env, "half", &["--forking", "--pidfile", &p], &argv)
        .code(1)
        .stderr_has("exited with status 3");
    wait_nothing_left(&env, &mark);
    assert!(!Path::new(&p).exists(), "the pidfile was left behind");
    env.run(&["status", "half"]).code(3);
}

/// An empty pidfile at the program's `--pidfile` (`nginx -t`, run before each restart, leaves
/// one) is removed before the launch, quietly: rdaemon never writes that file, the program does.
/// With `-v` it is said, "removing" it (it said "replacing it": user trial, 2026-12-02; a
/// warning at every start after `nginx -t` was noise: user trial, 2026-12-04).
#[test]
fn an_empty_program_pidfile_left_over_is_removed_saying_so_with_verbose() {
    let env = Env::new();
    let p = env.path("left.pid").display().to_string();
    for verbose in [false, true] {
        let mark = unique_secs();
        fs::write(&p, "").unwrap();
        let Some(argv) = forker(
            "an_empty_program_pidfile_left_over",
            &["--pidfile", &p],
            &mark,
        ) else {
            return;
        };
        let opts = ["-v", "--forking", "--pidfile", &p];
        let opts = if verbose { &opts[..] } else { &opts[1..] };
        let run = start(&env, "left", opts, &argv).ok();
        let said = "invalid pidfile '{p}': it is empty; removing it (the program writes it)";
        let said = said.replace("{p}", &p);
        match verbose {
            true => assert!(run.stderr.contains(&said), "{}", run.dump()),
            false => assert_eq!(run.stderr, "", "{}", run.dump()),
        }
        assert_eq!(read_pid(Path::new(&p)), status_pid(&env, "left") as i32);
        env.run(&["stop", "left"]).ok();
        wait_nothing_left(&env, &mark);
    }
}

#[test]
fn forking_pidfile_naming_an_unrelated_process_fails_and_signals_nothing() {
    let env = Env::new();
    let bystander = OwnChild::sleep();
    let other = bystander.pid().to_string();
    let mark = unique_secs();
    let p = env.path("liar.pid").display().to_string();
    let Some(argv) = forker(
        "forking_unrelated",
        &["--pidfile", &p, "--write-pid", &other],
        &mark,
    ) else {
        return;
    };
    start(&env, "liar", &["--forking", "--pidfile", &p], &argv)
        .code(1)
        .stderr_has(&format!("names pid {other}"))
        .stderr_has("nothing was signalled; the pidfile was removed");
    let st = stat(bystander.pid()).unwrap();
    assert_ne!(st.state, 'Z', "the bystander is untouched");
    assert_left_alone(bystander.pid(), "the refused forking start");
    assert_eq!(
        status_field(bystander.pid(), "SigPnd"),
        "0000000000000000",
        "no signal is pending for the bystander"
    );
    wait_nothing_left(&env, &mark);
    // The program's lie is removed: believed later, the classic way, it had `status` call that
    // process the daemon and `signal` and `stop` act on it (helper-100's audit, 2026-12-03).
    assert!(!Path::new(&p).exists());
    env.run(&["status", "liar"])
        .code(3)
        .stdout_has("liar is stopped");
    env.run(&["signal", "USR1", "liar"]).code(7);
    env.run(&["stop", "liar"])
        .ok()
        .stdout_has("liar is not running");
    assert_left_alone(
        bystander.pid(),
        "status, signal and stop after the refused start",
    );
}

/// The same with a stranger in a session of its own, as `setsid` makes one: the case where
/// `status` then said "running" and `stop` killed it (helper-100's audit).
#[test]
fn a_refused_forking_pidfile_naming_a_stranger_in_its_own_session_is_not_acted_on() {
    let env = Env::new();
    let secs = unique_secs();
    let stranger = OwnChild(
        std::process::Command::new("setsid")
            .args(["sleep", &secs])
            .spawn()
            .unwrap(),
    );
    wait_until("the stranger runs sleep", DEADLINE, || {
        fs::read(format!("/proc/{}/cmdline", stranger.pid()))
            .is_ok_and(|c| c.starts_with(b"sleep\0"))
    });
    let p = env.path("fk.pid");
    let script = env.script(
        "fk.sh",
        &format!("echo {} > '{}'; exit 0", stranger.pid(), p.display()),
    );
    let p = p.display().to_string();
    env.run(&[
        "start",
        "--name",
        "fk",
        "--forking",
        "--pidfile",
        &p,
        "--",
        script.to_str().unwrap(),
    ])
    .code(1)
    .stderr_has("which this start did not launch");
    assert!(!Path::new(&p).exists());
    env.run(&["status", "fk"])
        .code(3)
        .stdout_has("fk is stopped");
    env.run(&["signal", "USR1", "fk"]).code(7);
    env.run(&["stop", "fk"])
        .ok()
        .stdout_has("fk is not running");
    assert_left_alone(
        stranger.pid(),
        "status, signal and stop after the refused start",
    );
}

#[test]
fn forking_pidfile_naming_pid_1_or_rdaemon_fails() {
    let env = Env::new();
    for (i, pid) in ["1", "0"].iter().enumerate() {
        let mark = unique_secs();
        let p = env.path(&format!("one{i}.pid")).display().to_string();
        let Some(argv) = forker(
            "forking_pid1",
            &["--pidfile", &p, "--write-pid", pid],
            &mark,
        ) else {
            return;
        };
        start(
            &env,
            &format!("one{i}"),
            &["--forking", "--pidfile", &p, "--ready-timeout", "5s"],
            &argv,
        )
        .code(1)
        .stderr_has("nothing was signalled");
        wait_nothing_left(&env, &mark);
    }
}

/// The program forks and exits, and what it forked dies at once (memcached's daemon exits 71
/// on a bad `-l`): the start fails saying how that process ended, not that the program did
/// not fork; the program ran, so its spec (wanted stopped) and its log stay, as after a start
/// that is never ready: `status` says stopped and `logs` shows its lines.
#[test]
fn a_forked_process_that_dies_at_once_is_named_with_how_it_ended() {
    let env = Env::new();
    let mark = unique_secs();
    let script = env.script(
        "dies.sh",
        &format!("echo launched {mark}\nsetsid sh -c 'sleep 0.01; exit 71' &\nexit 0"),
    );
    let run = start(
        &env,
        "dies",
        &["--forking"],
        &[script.display().to_string()],
    )
    .code(1);
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("rdaemon: cannot start dies: the program left no process running; pid ")
            && first.ends_with(", which it forked, exited with status 71"),
        "{}",
        run.dump()
    );
    assert!(!run.stderr.contains("needs no --forking"), "{}", run.dump());
    env.run(&["status", "dies"])
        .code(3)
        .stdout_has("dies is stopped");
    env.run(&["logs", "dies"])
        .ok()
        .stdout_has(&format!("launched {mark}"));
}

#[test]
fn forking_pidfile_that_never_appears_times_out_and_leaves_nothing() {
    let env = Env::new();
    let mark = unique_secs();
    let p = env.path("never.pid").display().to_string();
    // The program writes no pidfile at all.
    let Some(argv) = forker("forking_never", &[], &mark) else {
        return;
    };
    start(
        &env,
        "never",
        &["--forking", "--pidfile", &p, "--ready-timeout", "1s"],
        &argv,
    )
    .code(1)
    .stderr_has("did not appear within 1s (the program runs: does it write its pidfile elsewhere? --pidfile must name the file its configuration names)");
    wait_nothing_left(&env, &mark);
    assert!(!Path::new(&p).exists());
}

/// Another usual mistake (user trial, 2026-12-04: `memcached -u nobody -P` with its pidfile in a
/// directory of root's): the program runs as a user who may not write in the pidfile's
/// directory. At the timeout the failure names the user and the directory.
#[test]
fn a_forking_pidfile_its_user_may_not_write_is_named_as_the_likely_cause() {
    let test = "a_forking_pidfile_its_user_may_not_write_is_named_as_the_likely_cause";
    if root_and_nobody(test).is_none() {
        return;
    }
    let env = Env::new();
    open_dir(&env);
    let dir = env.path("run");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let mark = unique_secs();
    let p = dir.join("never.pid").display().to_string();
    // It writes none: as nobody it could not have.
    let Some(argv) = forker(test, &[], &mark) else {
        return;
    };
    let opts = [
        "--forking",
        "--pidfile",
        &p,
        "--user",
        "nobody",
        "--ready-timeout",
        "1s",
    ];
    start(&env, "never", &opts, &argv)
        .code(1)
        .stderr_has(&format!(
            "did not appear within 1s (the program runs as user 'nobody' (uid 65534), who may not write in '{}' (mode 755, owner uid 0)",
            dir.display()
        ));
    wait_nothing_left(&env, &mark);
}

/// The usual mistake behind a pidfile that never comes: its directory does not exist (the
/// program cannot create the file there). The failure says so, whether the program gave up
/// (as the fixture does) or waits on without it (then at the timeout).
#[test]
fn a_forking_pidfile_in_a_missing_directory_is_named_as_the_likely_cause() {
    let env = Env::new();
    let mark = unique_secs();
    let missing = env.path("run");
    let p = missing.join("x.pid").display().to_string();
    let Some(argv) = forker("forking_missing_dir", &["--pidfile", &p], &mark) else {
        return;
    };
    start(
        &env,
        "nodir",
        &["--forking", "--pidfile", &p, "--ready-timeout", "1s"],
        &argv,
    )
    .code(1)
    // Said at once, before the launch, and again in the error.
    .stderr_has(&format!(
        "rdaemon: warning: the directory of the program's pidfile '{p}' does not exist"
    ))
    .stderr_has(&format!(
        "pidfile '{p}' did not appear: its directory '{}' does not exist",
        missing.display()
    ));
    wait_nothing_left(&env, &mark);
}

/// A pidfile whose directory, two levels of it, the program makes only later: the wait
/// watches the nearest directory there is for the next one's making, and then the pidfile's
/// own (it looked every 10 ms, each look a scan of every process: 13 % of a core for a
/// `/run/NAME/` a reboot took away; user trial, 2026-12-03), and adopts the daemon.
#[test]
fn a_forking_pidfile_whose_directories_come_later_is_adopted() {
    let env = Env::new();
    let (mark, waiting) = (unique_secs(), unique_secs());
    let dir = env.dir().display().to_string();
    let p = env.path("run/a/x.pid").display().to_string();
    let program = format!(
        "sh -c 'while [ ! -e go ]; do sleep 0.02; done; mkdir -p run/a; \
         sh -c \"echo \\$\\$ > run/a/x.pid; exec sleep {mark}\" &' {waiting} & exit 0"
    );
    let stderr = env.path("start.err");
    let mut cmd = env.std_cmd();
    cmd.args([
        "start",
        "--name",
        "later",
        "--forking",
        "--pidfile",
        &p,
        "--ready-timeout",
        "60s",
        "--chdir",
        &dir,
        "--",
        "sh",
        "-c",
        &program,
    ])
    .stdout(std::process::Stdio::null())
    .stderr(fs::File::create(&stderr).unwrap());
    let run = Background::spawn(&mut cmd);
    // The launch is done: its process waits for `go`, and rdaemon for the pidfile.
    wait_until("the launch leaves its process", DEADLINE, || {
        !env.track_marked(&waiting).is_empty()
    });
    fs::write(env.path("go"), "").unwrap();
    let out = run.output_within(DEADLINE, "the start adopts the daemon");
    let said = fs::read_to_string(&stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("does not exist"), "{said}");
    let daemon = env.track_marked(&mark);
    assert_eq!(daemon.len(), 1, "{daemon:?}");
    assert_eq!(status_pid(&env, "later") as i32, daemon[0]);
    env.run(&["stop", "later"]).ok();
    wait_nothing_left(&env, &mark);
}

#[test]
fn forking_two_processes_left_without_pidfile_fails_asking_for_one() {
    let env = Env::new();
    let mark = unique_secs();
    let Some(argv) = forker("forking_two", &["--two"], &mark) else {
        return;
    };
    start(&env, "two", &["--forking"], &argv)
        .code(1)
        .stderr_has("give --pidfile");
    wait_nothing_left(&env, &mark);
    env.run(&["status", "two"]).code(3);
}

#[test]
fn forking_with_foreground_is_a_usage_error() {
    let env = Env::new();
    env.run(&["start", "--forking", "--foreground", "--", "sleep", "1"])
        .code(2)
        .stderr_has("--forking cannot be used with --foreground");
}

#[test]
fn forking_export_systemd_says_type_forking_and_pidfile() {
    let env = Env::new();
    let mark = unique_secs();
    let pidfile = env.path("ex.pid");
    let p = pidfile.display().to_string();
    let Some(argv) = forker("forking_export", &["--pidfile", &p], &mark) else {
        return;
    };
    start(&env, "ex", &["--forking", "--pidfile", &p], &argv).ok();
    let unit = env
        .run(&["export", "systemd", "ex"])
        .ok()
        .stdout_has("Type=forking")
        .stdout_has(&format!("PIDFile={p}"))
        .stdout;
    // The unit reads the program's pidfile: its comments do not say none is written.
    assert!(!unit.contains("no pidfile is written"), "{unit}");
    crate::export::verify(&env, "ex", &unit);
    env.run(&["stop", "ex"]).ok();
    wait_nothing_left(&env, &mark);
}

/// A directory owned by `nobody` (mode 0755), for its pidfile, inside the test's directory.
fn nobody_dir(env: &Env, name: &str) -> Option<PathBuf> {
    let nobody = nobody()?;
    let dir = env.path(name);
    fs::create_dir(&dir).unwrap();
    nix::unistd::chown(&dir, Some(nobody.uid), Some(nobody.gid)).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    // The test directory itself must let nobody through.
    fs::set_permissions(env.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    Some(dir)
}

#[test]
fn forking_as_nobody_with_its_own_pidfile_directory() {
    if !is_root() {
        return skip("forking_as_nobody", "needs root");
    }
    let env = Env::new();
    let Some(dir) = nobody_dir(&env, "run") else {
        return skip("forking_as_nobody", "no nobody account");
    };
    let mark = unique_secs();
    let pidfile = dir.join("srv.pid");
    let p = pidfile.display().to_string();
    let Some(argv) = forker("forking_as_nobody", &["--pidfile", &p], &mark) else {
        return;
    };
    let run = start(
        &env,
        "srv",
        &["--forking", "--pidfile", &p, "--user", "nobody"],
        &argv,
    )
    .ok();
    let live = env.track_marked(&mark);
    assert_eq!(live.len(), 1, "{}", run.dump());
    let daemon = live[0];
    assert_eq!(
        status_field(daemon, "Uid").split_whitespace().next(),
        Some("65534")
    );
    // The program wrote its pidfile as nobody: rdaemon neither wrote nor replaced it.
    let meta = fs::metadata(&pidfile).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 65534);
    assert_eq!(read_pid(&pidfile), daemon);
    for _ in 0..5 {
        assert_eq!(status_pid(&env, "srv"), i64::from(daemon));
    }
    env.run(&["stop", "srv"]).ok();
    wait_nothing_left(&env, &mark);
}

/// User trial, 2026-12-04: a `--forking` daemon's program, whose pidfile is in its user's
/// directory, is killed outright, and the pidfile then names another live process (its number
/// reused, or written there by the user). The daemon has a cgroup, which that process is not
/// in: it is dead, not unknown. `status` says so (exit 1), `stop` signals nothing (exit 0), and
/// `resurrect` starts it again, as `start` would; before, all three failed on an unknown
/// daemon while `start` took the pidfile for stale.
#[test]
fn a_forking_pidfile_naming_a_process_outside_the_daemons_cgroup_after_a_crash_is_stale() {
    let test =
        "a_forking_pidfile_naming_a_process_outside_the_daemons_cgroup_after_a_crash_is_stale";
    let Some(mount) = cgroups_here(test) else {
        return;
    };
    if root_and_nobody(test).is_none() {
        return;
    }
    let env = Env::new();
    let dir = nobody_dir(&env, "run").unwrap();
    let name = unique_name(&env, "mc");
    let _guard =
        crate::clone_cgroup::CgroupGuard(mount.join("rdaemon").join(env.cgroup_leaf(&name)));
    let mark = unique_secs();
    let pidfile = dir.join("mc.pid");
    let p = pidfile.display().to_string();
    let Some(argv) = forker(test, &["--pidfile", &p], &mark) else {
        return;
    };
    let opts = [
        "--forking",
        "--pidfile",
        &p,
        "--user",
        "nobody",
        "--cgroup",
        "on",
    ];
    let run = start(&env, &name, &opts, &argv).ok();
    let daemon = read_pid(&pidfile);
    assert_eq!(env.track_marked(&mark), [daemon], "{}", run.dump());
    let stranger = OwnChild::sleep();
    // The program dies, and its user's pidfile names another process, outside the cgroup.
    let crash = |daemon: i32| {
        let pid = nix::unistd::Pid::from_raw(daemon);
        nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL).unwrap();
        wait_dead(daemon);
        fs::write(&pidfile, format!("{}\n", stranger.pid())).unwrap();
        let nobody = nobody().unwrap();
        nix::unistd::chown(&pidfile, Some(nobody.uid), Some(nobody.gid)).unwrap();
    };
    crash(daemon);
    env.run(&["status", &name])
        .code(1)
        .stdout_has(&format!("{name} is dead"))
        .stdout_has("which is not in");
    let run = env.run(&["resurrect"]).ok();
    let live = env.track_marked(&mark);
    assert_eq!(live.len(), 1, "{}", run.dump());
    assert_eq!(read_pid(&pidfile), live[0]);
    assert_left_alone(stranger.pid(), "a resurrect of the crashed daemon");
    crash(live[0]);
    env.run(&["stop", &name]).ok().stdout_has("not running");
    assert_left_alone(stranger.pid(), "a stop of the crashed daemon");
    wait_nothing_left(&env, &mark);
}

#[test]
fn forking_pidfile_that_is_a_symlink_planted_by_nobody_is_refused() {
    if !is_root() {
        return skip("forking_symlink", "needs root");
    }
    let env = Env::new();
    let Some(dir) = nobody_dir(&env, "run") else {
        return skip("forking_symlink", "no nobody account");
    };
    let mark = unique_secs();
    let p = dir.join("sym.pid").display().to_string();
    // The program (as nobody) makes the pidfile a symlink to a file holding its own pid:
    // followed, it would even name the right process. rdaemon does not follow it.
    let Some(argv) = forker("forking_symlink", &["--pidfile", &p, "--symlink"], &mark) else {
        return;
    };
    start(
        &env,
        "sym",
        &["--forking", "--pidfile", &p, "--user", "nobody"],
        &argv,
    )
    .code(1)
    .stderr_has("symlink")
    .stderr_has("nothing was signalled");
    wait_nothing_left(&env, &mark);
}

#[test]
fn forking_restart_signal_reload_and_wait_act_on_the_adopted_process() {
    let env = Env::new();
    let mark = unique_secs();
    let pidfile = env.path("verbs.pid");
    let p = pidfile.display().to_string();
    let Some(argv) = forker("forking_verbs", &["--pidfile", &p], &mark) else {
        return;
    };
    start(&env, "verbs", &["--forking", "--pidfile", &p], &argv).ok();
    let first = live_pids_with_arg(&mark)[0];
    // restart: the spec says --forking and whose pidfile it is; the new process is adopted.
    env.run(&["restart", "verbs"]).ok();
    for pid in live_pids_with_arg(&mark) {
        env.track(pid);
    }
    wait_dead(first);
    let live = env.track_marked(&mark);
    assert_eq!(live.len(), 1, "{live:?}");
    let second = live[0];
    assert_ne!(second, first);
    assert_eq!(status_pid(&env, "verbs"), i64::from(second));
    assert_eq!(read_pid(&pidfile), second);
    // signal reaches the adopted process (STOP, then CONT: it lives on).
    env.run(&["signal", "STOP", "verbs"]).ok();
    wait_until("the daemon is stopped", DEADLINE, || {
        stat(second).is_some_and(|s| s.state == 'T')
    });
    env.run(&["signal", "CONT", "verbs"]).ok();
    wait_until("the daemon runs again", DEADLINE, || {
        stat(second).is_some_and(|s| s.state != 'T')
    });
    // The fixture does not handle HUP: reload refuses to end it, and sends nothing.
    env.run(&["reload", "verbs"])
        .code(1)
        .one_error_line()
        .stderr_has(&format!(
            "not reloading verbs: its program (pid {second}) does not handle SIGHUP, which would end it"
        ));
    assert!(alive(second));
    // signal sends what it is told: HUP ends the fixture; wait sees it go.
    env.run(&["signal", "HUP", "verbs"]).ok();
    env.run(&["wait", "verbs", "--timeout", "10s"]).ok();
    wait_dead(second);
    wait_nothing_left(&env, &mark);
    env.run(&["status", "verbs"]).code(1);
}

#[test]
fn forking_respawn_adopts_the_forked_process_and_launches_again_when_it_dies() {
    let env = Env::new();
    let mark = unique_secs();
    let pidfile = env.path("run-fk.pid");
    let p = pidfile.display().to_string();
    let Some(argv) = forker("forking_respawn", &["--pidfile", &p], &mark) else {
        return;
    };
    let run = start(
        &env,
        "rfk",
        &[
            "--respawn",
            "--forking",
            "--pidfile",
            &p,
            "--restart-delay",
            "100ms",
        ],
        &argv,
    )
    .ok();
    let live = env.track_marked(&mark);
    assert_eq!(live.len(), 1, "{live:?}\n{}", run.dump());
    let first = live[0];
    let (_, v) = status_json(&env, "rfk");
    let monitor = v["pid"].as_i64().unwrap() as i32;
    env.track(monitor);
    assert_eq!(v["child_pid"], first, "{v}");
    assert_eq!(v["mode"], "respawn");
    // The forked process was re-parented to the monitor, its subreaper.
    assert_eq!(stat(first).unwrap().ppid, monitor);
    // Killed: the monitor runs the program again the same way and adopts the new one.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("a new forked process is adopted", DEADLINE, || {
        let (_, v) = status_json(&env, "rfk");
        v["child_pid"]
            .as_i64()
            .is_some_and(|c| c != i64::from(first))
            && v["restarts"] == 1
    });
    let live = env.track_marked(&mark);
    assert_eq!(live.len(), 1, "{live:?}");
    let second = live[0];
    assert_ne!(second, first);
    assert_eq!(status_json(&env, "rfk").1["child_pid"], second);
    assert_eq!(read_pid(&pidfile), second);
    assert_eq!(stat(second).unwrap().ppid, monitor);
    env.run(&["stop", "rfk"]).ok();
    wait_nothing_left(&env, &mark);
    wait_dead(monitor);
}

/// A `--forking --respawn` program outlives its monitor when that is SIGKILLed (it is in a
/// session of its own, beyond the monitor's death signal). It is still the daemon's, by the pid
/// and start time the monitor recorded: `status` shows it running unsupervised, `start` (and
/// `resurrect`) refuse to run a second copy, and `stop` ends it. Without a cgroup, `status`
/// called it dead, `stop` left it running and `start` ran a second copy; with the program's
/// pidfile in rdaemon's directory, every command refused it as a pid no record vouches for.
#[test]
fn a_forking_program_outliving_its_killed_monitor_is_still_the_daemons() {
    let env = Env::new();
    for (cgroup, own_pidfile) in [("off", false), ("off", true), ("auto", false)] {
        let mark = unique_secs();
        let pidfile = env.path("orphan-own.pid");
        let p = pidfile.display().to_string();
        let opts: &[&str] = match own_pidfile {
            true => &["--pidfile", &p],
            false => &[],
        };
        let Some(argv) = forker(
            "a_forking_program_outliving_its_killed_monitor",
            opts,
            &mark,
        ) else {
            return;
        };
        let mut args = vec!["--respawn", "--forking", "--cgroup", cgroup];
        args.extend_from_slice(opts);
        let run = start(&env, "orph", &args, &argv).ok();
        let (_, v) = status_json(&env, "orph");
        let monitor = v["pid"].as_i64().unwrap() as i32;
        env.track(monitor);
        let program = v["child_pid"].as_i64().unwrap() as i32;
        assert_eq!(env.track_marked(&mark), vec![program], "{}", run.dump());
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(monitor),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        wait_dead(monitor);
        let case = format!("--cgroup {cgroup}, its own pidfile: {own_pidfile}");
        let gone = format!("its monitor (pid {monitor}) is gone");
        env.run(&["status", "orph"])
            .ok()
            .stdout_has(&format!("orph is running (pid {program})"))
            .stderr_has(&gone);
        for refused in [&["start", "orph"][..], &["resurrect"]] {
            env.run(refused)
                .code(1)
                .stderr_has(&format!("its program (pid {program}, python3) runs on"));
        }
        assert_eq!(env.track_marked(&mark), vec![program], "{case}");
        env.run(&["stop", "orph"])
            .ok()
            .stdout_has(&format!("stopped orph (pid {program})"));
        wait_nothing_left(&env, &mark);
        assert!(!env.path("orph.pid").exists(), "{case}");
        env.run(&["status", "orph"]).code(3);
        env.run(&["forget", "orph"]).ok();
    }
}

/// Runs `argv` (a program that daemonizes itself and writes `pidfile`) by hand, as a user would
/// outside rdaemon, and returns the pid it wrote once that process is alive (tracked).
fn start_by_hand(env: &Env, argv: &[String], pidfile: &Path) -> i32 {
    let status = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{argv:?} by hand: {status}");
    let mut pid = 0;
    wait_until(
        "the program started by hand writes its pidfile",
        DEADLINE,
        || {
            pid = fs::read_to_string(pidfile)
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0);
            pid > 1 && alive(pid)
        },
    );
    env.track(pid);
    pid
}

/// The daemon of a `--forking` spec stopped by rdaemon, and its program then started by hand: it
/// writes the same pidfile, which no record vouches for. `status`, `list` and `stop` agree, as
/// for any pidfile trusted the classic way (SPEC §4): it runs (exit 0), with the pid the pidfile
/// names, and `stop` stops it. A `--respawn` spec never takes that process for its monitor (no
/// monitor rss, `status` says that nothing supervises it), and `start` of it fails, naming the
/// process, rather than say "already running" with no monitor to restart it (a tester's nginx:
/// `status` said stopped, exit 3, with the nginx master's rss as the monitor's; `start` said
/// "already running" and started nothing).
#[test]
fn a_forking_program_started_by_hand_is_trusted_the_classic_way_and_never_a_monitor() {
    for respawn in [false, true] {
        let env = Env::new();
        let mark = unique_secs();
        // Outside rdaemon's directory, where a pidfile no record vouches for is unknown.
        let dir = env.path("run");
        fs::create_dir(&dir).unwrap();
        let pidfile = dir.join("hand.pid");
        let p = pidfile.display().to_string();
        let Some(argv) = forker("forking_by_hand", &["--pidfile", &p], &mark) else {
            return;
        };
        let mut opts = vec!["--forking", "--pidfile", &p];
        if respawn {
            opts.extend(["--respawn", "--restart-delay", "100ms"]);
        }
        start(&env, "hand", &opts, &argv).ok();
        env.run(&["stop", "hand"]).ok();
        wait_nothing_left(&env, &mark);
        let by_hand = start_by_hand(&env, &argv, &pidfile);
        let mode = if respawn { "respawn" } else { "forking" };

        let run = env.run(&["status", "hand"]).ok();
        let run = run.stdout_has(&format!("hand is running (pid {by_hand})"));
        assert!(!run.stdout.contains("monitor"), "{mode}: {}", run.dump());
        if respawn {
            run.stderr_has(&format!("names pid {by_hand} (python3)"))
                .stderr_has("no monitor runs");
        }
        let (code, v) = status_json(&env, "hand");
        assert_eq!(code, 0, "{mode}: {v}");
        assert_eq!(v["state"], "running", "{mode}: {v}");
        assert_eq!(v["pid"], by_hand, "{mode}: {v}");
        assert_eq!(v["child_pid"], serde_json::Value::Null, "{mode}: {v}");
        assert_eq!(
            v["monitor_rss_bytes"],
            serde_json::Value::Null,
            "{mode}: {v}"
        );
        assert!(v["rss_bytes"].as_u64().unwrap_or(0) > 0, "{mode}: {v}");
        let list = env.run(&["list"]).ok();
        let line = list
            .stdout
            .lines()
            .find(|l| l.starts_with("hand "))
            .unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            words[1..3],
            ["running", &by_hand.to_string()],
            "{mode}: {line}"
        );

        let run = env.run(&["start", "hand"]);
        if respawn {
            run.code(1)
                .one_error_line()
                .stderr_has(&format!("'{p}' names pid {by_hand} (python3)"))
                .stderr_has("stop it ('rdaemon stop hand'), or remove the pidfile");
        } else {
            run.ok()
                .stdout_has(&format!("hand is already running (pid {by_hand})"));
        }
        // Nothing was started beside it, and nothing was signalled.
        assert_eq!(env.track_marked(&mark), [by_hand], "{mode}");
        assert_eq!(status_json(&env, "hand").1["pid"], by_hand, "{mode}");

        env.run(&["stop", "hand"])
            .ok()
            .stdout_has(&format!("stopped hand (pid {by_hand})"));
        wait_nothing_left(&env, &mark);
        assert!(
            !pidfile.exists(),
            "{mode}: the pidfile naming it is removed"
        );
        env.run(&["status", "hand"]).code(3);
        if respawn {
            // Now `start` starts it supervised.
            env.run(&["start", "hand"]).ok().stdout_has("started hand");
            let (_, v) = status_json(&env, "hand");
            env.track(v["pid"].as_i64().unwrap_or_default() as i32);
            let child = v["child_pid"].as_i64().unwrap_or_else(|| panic!("{v}"));
            assert_eq!(env.track_marked(&mark), [child as i32]);
            assert_eq!(read_pid(&pidfile), child as i32);
            env.run(&["stop", "hand"]).ok();
            wait_nothing_left(&env, &mark);
        }
    }
}

/// A respawn monitor launches its `--forking` program in its own session while its `--on-exit`
/// command may still run when it launches the program again: what that launch leaves (a daemon
/// that forks without `setsid`) is the new main process, not the command, which runs in a
/// session of its own (`daemonize::isolate_helper`; before, it ran in the monitor's, and this
/// test checked that it was not taken for the launch's).
#[test]
fn forking_respawn_launches_again_while_its_on_exit_command_runs() {
    let env = Env::new();
    let (mark, hook_mark) = (unique_secs(), unique_secs());
    let program = format!("sleep {mark} &");
    let hook = format!("exec sleep {hook_mark}");
    let run = env.run(&[
        "start",
        "--name",
        "rh",
        "--respawn",
        "--forking",
        "--restart-delay",
        "0",
        "--on-exit",
        &hook,
        "--",
        "sh",
        "-c",
        &program,
    ]);
    let live = env.track_marked(&mark);
    run.ok();
    assert_eq!(live.len(), 1, "{live:?}");
    let first = live[0];
    let (_, v) = status_json(&env, "rh");
    let monitor = v["pid"].as_i64().unwrap() as i32;
    env.track(monitor);
    assert_eq!(v["child_pid"], first, "{v}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("a new forked process is adopted", DEADLINE, || {
        let (_, v) = status_json(&env, "rh");
        env.track_marked(&hook_mark);
        v["child_pid"]
            .as_i64()
            .is_some_and(|c| c != i64::from(first))
            && v["restarts"] == 1
    });
    let hooks = env.track_marked(&hook_mark);
    assert_eq!(
        hooks.len(),
        1,
        "the --on-exit command still runs: {hooks:?}"
    );
    let hook = stat(hooks[0]).unwrap();
    assert_eq!(
        hook.session, hooks[0],
        "the --on-exit command leads a session of its own"
    );
    assert_ne!(hook.session, stat(monitor).unwrap().session);
    let live = env.track_marked(&mark);
    assert_eq!(live.len(), 1, "{live:?}");
    assert_ne!(live[0], first);
    assert_eq!(status_json(&env, "rh").1["child_pid"], live[0]);
    env.run(&["stop", "rh"]).ok();
    wait_nothing_left(&env, &mark);
}

#[test]
fn forking_respawn_first_launch_that_exits_3_fails_the_start() {
    let env = Env::new();
    let mark = unique_secs();
    let p = env.path("rbad.pid").display().to_string();
    let Some(argv) = forker(
        "forking_respawn_exit3",
        &["--pidfile", &p, "--exit", "3"],
        &mark,
    ) else {
        return;
    };
    start(
        &env,
        "rbad",
        &["--respawn", "--forking", "--pidfile", &p],
        &argv,
    )
    .code(1)
    .stderr_has("exited with status 3");
    wait_nothing_left(&env, &mark);
    env.run(&["status", "rbad"]).code(3);
}

/// With `--respawn`, the process a launch left is the monitor's first child: should it die
/// while `start` waits for its readiness, `start` fails at once, saying how it ended, and the
/// monitor goes (SPEC §2.1); nothing is launched again.
#[test]
fn forking_respawn_adopted_process_that_dies_during_the_wait_fails_the_start() {
    let env = Env::new();
    let mark = unique_secs();
    let Some(argv) = forker("forking_respawn_dies", &[], &mark) else {
        return;
    };
    let port = free_port();
    let mut cmd = env.std_cmd();
    cmd.args(["start", "--name", "rdie", "--respawn", "--forking"])
        .args(["--ready-timeout", "60s", "--ready", &format!("tcp:{port}")])
        .arg("--")
        .args(&argv)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let start = Background::spawn(&mut cmd);
    // `start` records the adopted process once the monitor reports it.
    env.wait_file("rdie.json");
    let daemon = wait_new_child(&env, "rdie", 0);
    let monitor = recorded_pid(&env, "rdie");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let out = start.into_output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "rdaemon: cannot start rdie: the program was killed by signal 9 (SIGKILL) while \
             rdaemon waited for a TCP connection to 127.0.0.1:{port}"
        )),
        "{stderr}"
    );
    assert!(!alive(monitor), "the monitor still runs");
    wait_nothing_left(&env, &mark);
    assert!(!env.path("rdie.pid").exists());
    env.run(&["status", "rdie"])
        .code(3)
        .stdout_has("rdie is stopped");
    assert_eq!(env.record("rdie")["restarts"], 0);
}

/// The pid a fixture wrote to `path`, once it is there.
fn wait_pid_file(path: &Path) -> i32 {
    wait_until(&format!("{} exists", path.display()), DEADLINE, || {
        path.exists()
    });
    read_pid(path)
}

#[test]
fn forking_containment_stops_a_helper_in_its_own_group_leader_or_not() {
    // The session (cgroup off), and the cgroup where rdaemon can make one (auto).
    for (double, cgroup) in [(false, "off"), (true, "off"), (false, "auto")] {
        let env = Env::new();
        let mark = unique_secs();
        let helper_file = env.path("helper.txt");
        let h = helper_file.display().to_string();
        let mut opts = vec!["--helper", &h];
        if double {
            opts.push("--double");
        }
        let Some(argv) = forker("forking_containment", &opts, &mark) else {
            return;
        };
        start(&env, "ct", &["--forking", "--cgroup", cgroup], &argv).ok();
        let main = env.pid_of("ct");
        let helper = wait_pid_file(&helper_file);
        env.track(helper);
        let st = stat(helper).unwrap();
        assert_eq!(st.pgrp, helper, "the helper leads its own group");
        assert_eq!(
            st.session,
            stat(main).unwrap().session,
            "in the daemon's session"
        );
        assert_eq!(
            st.session == main,
            !double,
            "the main process leads the session"
        );
        // The main process dies: the helper is its leftover, which status and stop know.
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(main),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        wait_dead(main);
        let (_, v) = status_json(&env, "ct");
        assert_eq!(v["state"], "dead", "{v}");
        env.run(&["stop", "ct"])
            .ok()
            .stdout_has("stopped leftovers of ct: 1 process");
        assert!(
            !alive(helper),
            "the helper {helper} survived stop (double: {double})"
        );
        wait_nothing_left(&env, &mark);
    }
}

/// The path of `program` in the usual directories, if it is installed.
fn installed(program: &str) -> Option<PathBuf> {
    [
        "/usr/sbin",
        "/usr/bin",
        "/usr/local/sbin",
        "/usr/local/bin",
        "/sbin",
        "/bin",
    ]
    .iter()
    .map(|d| Path::new(d).join(program))
    .find(|p| p.is_file())
}

/// The live processes whose parent is `pid`.
fn children_of(pid: i32) -> Vec<i32> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&p| stat(p).is_some_and(|s| s.ppid == pid && s.state != 'Z'))
        .collect()
}

/// A prefix directory for nginx in `env` (outside rdaemon's own directory) with a configuration
/// that listens on 127.0.0.1:`port` and writes every file there; the prefix and the pidfile.
fn nginx_prefix(env: &Env, port: u16) -> (PathBuf, PathBuf) {
    let prefix = env.path("nginx");
    fs::create_dir(&prefix).unwrap();
    let p = |name: &str| prefix.join(name).display().to_string();
    let pidfile = prefix.join("nginx.pid");
    let conf = format!(
        "pid {pid};\nerror_log {err};\nevents {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {b};\n  proxy_temp_path {pr};\n  fastcgi_temp_path {f};\n  uwsgi_temp_path {u};\n  scgi_temp_path {s};\n  server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"ok\\n\"; }} }}\n}}\n",
        pid = pidfile.display(),
        err = p("error.log"),
        b = p("body"),
        pr = p("proxy"),
        f = p("fastcgi"),
        u = p("uwsgi"),
        s = p("scgi"),
    );
    fs::write(prefix.join("nginx.conf"), conf).unwrap();
    (prefix, pidfile)
}

/// nginx in its default mode (it daemonizes, its master writes the pidfile), with a
/// configuration of the test's own. Skipped, with the reason, where nginx is not installed: the
/// suite must pass on a fresh machine (Debian: apt-get install nginx-light).
#[test]
fn forking_real_nginx_in_its_default_mode() {
    let Some(nginx) = installed("nginx") else {
        skip_optional(
            "forking_real_nginx_in_its_default_mode",
            "nginx is not installed (Debian: apt-get install nginx-light)",
        );
        return;
    };
    let env = Env::new();
    let port = free_port();
    let (prefix, pidfile) = nginx_prefix(&env, port);
    let p = |name: &str| prefix.join(name).display().to_string();
    let pf = pidfile.display().to_string();
    let ready = format!("tcp:{port}");
    let nginx = nginx.display().to_string();
    let (pre, cf) = (p(""), p("nginx.conf"));
    let run = env.run(&[
        "start",
        "--name",
        "web",
        "--forking",
        "--pidfile",
        &pf,
        "--ready",
        &ready,
        "--",
        &nginx,
        "-p",
        &pre,
        "-c",
        &cf,
    ]);
    if pidfile.exists() {
        env.track(read_pid(&pidfile));
    }
    let run = run.ok();
    let master = read_pid(&pidfile);
    run.stdout_has(&format!("started web (pid {master})"));
    // The master forks its workers after it is ready, maybe after start has returned.
    let mut workers = Vec::new();
    wait_until("nginx has workers", DEADLINE, || {
        workers = children_of(master);
        for &w in &workers {
            env.track(w);
        }
        !workers.is_empty()
    });
    for _ in 0..5 {
        assert_eq!(status_pid(&env, "web"), i64::from(master));
    }
    env.run(&["export", "systemd", "web"])
        .ok()
        .stdout_has("Type=forking")
        .stdout_has(&format!("PIDFile={pf}"));
    env.run(&["stop", "web"])
        .ok()
        .stdout_has(&format!("stopped web (pid {master})"));
    for pid in std::iter::once(master).chain(workers) {
        assert!(!alive(pid), "nginx process {pid} survived stop");
    }
    assert!(
        !pidfile.exists(),
        "nginx removed its pidfile, or rdaemon did"
    );
}

/// The tester's case with real nginx (skipped, with the reason, where it is not installed): a
/// `--respawn --forking` nginx stopped, then the same nginx started by hand. Its master is no
/// monitor: `status` says it runs without one, `start` refuses (exit 1) and starts nothing, and
/// `stop` stops it as the pidfile of a plain `--forking` spec would be (SPEC §4).
#[test]
fn forking_respawn_real_nginx_started_by_hand_is_never_its_monitor() {
    let Some(nginx) = installed("nginx") else {
        skip_optional(
            "forking_respawn_real_nginx_started_by_hand_is_never_its_monitor",
            "nginx is not installed (Debian: apt-get install nginx-light)",
        );
        return;
    };
    let env = Env::new();
    let port = free_port();
    let (prefix, pidfile) = nginx_prefix(&env, port);
    let (pf, ready) = (pidfile.display().to_string(), format!("tcp:{port}"));
    let argv = [
        nginx.display().to_string(),
        "-p".to_owned(),
        prefix.display().to_string(),
        "-c".to_owned(),
        prefix.join("nginx.conf").display().to_string(),
    ];
    let mut args = vec!["start", "--name", "ngr", "--respawn", "--forking"];
    args.extend(["--pidfile", &pf, "--ready", &ready, "--"]);
    args.extend(argv.iter().map(String::as_str));
    let run = env.run(&args);
    let (_, v) = status_json(&env, "ngr");
    env.track(v["pid"].as_i64().unwrap_or_default() as i32);
    env.track(v["child_pid"].as_i64().unwrap_or_default() as i32);
    run.ok();
    env.run(&["stop", "ngr"]).ok();
    let master = start_by_hand(&env, &argv, &pidfile);
    let mut workers = Vec::new();
    wait_until("nginx has workers", DEADLINE, || {
        workers = children_of(master);
        workers.iter().for_each(|&w| env.track(w));
        !workers.is_empty()
    });

    let run = env.run(&["status", "ngr"]).ok();
    let run = run
        .stdout_has(&format!("ngr is running (pid {master})"))
        .stderr_has(&format!("names pid {master} (nginx)"));
    assert!(!run.stdout.contains("monitor rss"), "{}", run.dump());
    let (_, v) = status_json(&env, "ngr");
    assert_eq!(
        (&v["state"], &v["pid"]),
        (&"running".into(), &master.into())
    );
    assert_eq!(v["monitor_rss_bytes"], serde_json::Value::Null, "{v}");
    env.run(&["list"]).ok().stdout_has("running");
    env.run(&["start", "ngr"])
        .code(1)
        .one_error_line()
        .stderr_has(&format!("names pid {master} (nginx)"));
    assert_eq!(status_json(&env, "ngr").1["pid"], master);
    env.run(&["stop", "ngr"])
        .ok()
        .stdout_has(&format!("stopped ngr (pid {master})"));
    for pid in std::iter::once(master).chain(workers) {
        assert!(!alive(pid), "nginx process {pid} survived stop");
    }
}

/// Debian's redis with its own pidfile, as its init script runs it: `--user redis`, the pidfile
/// in a directory redis owns. Skipped, with the reason, where redis-server (and its user) is
/// not installed.
#[test]
fn forking_real_redis_as_its_user_with_its_own_pidfile() {
    let Some(redis) = installed("redis-server") else {
        skip_optional(
            "forking_real_redis_as_its_user_with_its_own_pidfile",
            "redis-server is not installed (Debian: apt-get install redis-server)",
        );
        return;
    };
    let Some(user) = nix::unistd::User::from_name("redis").ok().flatten() else {
        skip_optional(
            "forking_real_redis_as_its_user_with_its_own_pidfile",
            "there is no redis user (Debian's redis-server package makes it)",
        );
        return;
    };
    if !need_root("forking_real_redis_as_its_user_with_its_own_pidfile") {
        return;
    }
    let env = Env::new();
    fs::set_permissions(env.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    let run_dir = env.path("run");
    let data = env.path("data");
    for dir in [&run_dir, &data] {
        fs::create_dir(dir).unwrap();
        nix::unistd::chown(dir, Some(user.uid), Some(user.gid)).unwrap();
    }
    let pidfile = run_dir.join("redis-server.pid");
    let pf = pidfile.display().to_string();
    let port = free_port().to_string();
    let ready = format!("tcp:{port}");
    let (redis, d) = (redis.display().to_string(), data.display().to_string());
    let run = env.run(&[
        "start",
        "--forking",
        "--user",
        "redis",
        "--pidfile",
        &pf,
        "--ready",
        &ready,
        "--",
        &redis,
        "--daemonize",
        "yes",
        "--port",
        &port,
        "--pidfile",
        &pf,
        "--dir",
        &d,
        "--logfile",
        "",
        "--save",
        "",
    ]);
    if pidfile.exists() {
        env.track(read_pid(&pidfile));
    }
    let run = run.ok();
    let pid = read_pid(&pidfile);
    run.stdout_has(&format!("started redis-server (pid {pid})"));
    assert_eq!(
        status_field(pid, "Uid").split_whitespace().next(),
        Some(&*user.uid.to_string())
    );
    let meta = fs::metadata(&pidfile).unwrap();
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&meta),
        user.uid.as_raw()
    );
    assert_eq!(status_pid(&env, "redis-server"), i64::from(pid));
    env.run(&["stop", "redis-server"]).ok();
    assert!(!alive(pid));
    assert!(!pidfile.exists());
}

#[test]
fn forking_pidfile_naming_rdaemon_itself_fails_and_leaves_nothing() {
    let env = Env::new();
    let mark = unique_secs();
    let p = env.path("self.pid").display().to_string();
    // The launcher's parent: rdaemon start (its subreaper), or the double fork's intermediate
    // if the launcher looked too early (then a dead pid, which never becomes valid either).
    let Some(argv) = forker("forking_self", &["--pidfile", &p, "--write-ppid"], &mark) else {
        return;
    };
    start(
        &env,
        "self",
        &["--forking", "--pidfile", &p, "--ready-timeout", "2s"],
        &argv,
    )
    .code(1)
    .stderr_has("cannot start self: ");
    wait_nothing_left(&env, &mark);
    let status = env.run(&["status", "self"]);
    assert_ne!(status.code, 0, "{}", status.dump());
}

#[test]
fn forking_launcher_that_never_exits_times_out_and_is_stopped() {
    let env = Env::new();
    let mark = unique_secs();
    let Some(argv) = forker("forking_hang", &["--hang"], &mark) else {
        return;
    };
    start(&env, "hang", &["--forking", "--ready-timeout", "1s"], &argv)
        .code(1)
        .stderr_has("did not exit within 1s");
    wait_nothing_left(&env, &mark);
}

#[test]
fn forking_ctrl_c_while_waiting_for_the_pidfile_stops_what_the_launch_left() {
    use nix::sys::signal::{kill, Signal};
    let env = Env::new();
    let mark = unique_secs();
    let p = env.path("int.pid").display().to_string();
    // The program writes no pidfile: start waits (30 s) until interrupted.
    let Some(argv) = forker("forking_ctrl_c", &[], &mark) else {
        return;
    };
    let mut cmd = env.std_cmd();
    cmd.args(["start", "--name", "int", "--forking", "--pidfile", &p, "--"])
        .args(&argv)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // SIGINT caught whatever the test run ignores (a background job's SIGINT stays ignored).
    let start = Background::spawn(interruptible(&mut cmd));
    let rdaemon = start.pid();
    // The daemon the launcher left is start's child (its subreaper): the launcher has exited,
    // and start watches for the pidfile. The launcher is start's child too, from its exec to its
    // exit: the daemon is the one that leads its own session (the fixture's setsid).
    wait_until("the launch left its daemon to start", DEADLINE, || {
        live_pids_with_arg(&mark)
            .iter()
            .any(|&p| stat(p).is_some_and(|s| s.ppid == rdaemon && s.session == p))
    });
    for pid in live_pids_with_arg(&mark) {
        env.track(pid);
    }
    wait_until("start catches SIGINT", DEADLINE, || {
        catches(rdaemon, Signal::SIGINT)
    });
    kill(nix::unistd::Pid::from_raw(rdaemon), Signal::SIGINT).unwrap();
    let out = start.into_output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert!(
        stderr.contains("cannot start int: interrupted by SIGINT"),
        "{stderr}"
    );
    wait_nothing_left(&env, &mark);
}

/// Ctrl-C while a launcher that keeps forking (a helper a second) has not exited, without a
/// cgroup: what it forked after `start` first looked is looked for again and stopped too, until
/// nothing is left (a flake hunt under load saw 7 of 20 such starts leave processes running).
#[test]
fn forking_ctrl_c_stops_all_that_a_launcher_forking_in_a_loop_left_without_a_cgroup() {
    use nix::sys::signal::{kill, Signal};
    let env = Env::new();
    let mark = unique_secs();
    let script = env.script(
        "loop.sh",
        &format!("while :; do setsid sleep {mark} </dev/null >/dev/null 2>&1 & sleep 0.005; done"),
    );
    let mut cmd = env.std_cmd();
    cmd.args([
        "start",
        "--name",
        "int",
        "--forking",
        "--cgroup",
        "off",
        "--",
    ])
    .arg(&script)
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let start = Background::spawn(interruptible(&mut cmd));
    let rdaemon = start.pid();
    wait_until("the launcher forked a few", DEADLINE, || {
        env.track_marked(&mark).len() >= 5
    });
    wait_until("start catches SIGINT", DEADLINE, || {
        catches(rdaemon, Signal::SIGINT)
    });
    kill(nix::unistd::Pid::from_raw(rdaemon), Signal::SIGINT).unwrap();
    let out = start.into_output();
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    // Every helper is gone once start has returned: none is left to die later.
    let left = env.track_marked(&mark);
    assert!(left.is_empty(), "left running: {left:?}\n{out:?}");
}

#[test]
fn forking_ready_tcp_applies_to_the_adopted_process() {
    let env = Env::new();
    let mark = unique_secs();
    let port = free_port().to_string();
    let p = env.path("tcp.pid").display().to_string();
    let Some(argv) = forker("forking_tcp", &["--pidfile", &p, "--listen", &port], &mark) else {
        return;
    };
    let ready = format!("tcp:{port}");
    let run = start(
        &env,
        "tcp",
        &["--forking", "--pidfile", &p, "--ready", &ready],
        &argv,
    )
    .ok();
    let daemon = read_pid(Path::new(&p));
    run.stdout_has(&format!("started tcp (pid {daemon})"));
    // It listens by the time start said started: the port is the adopted process's.
    std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).unwrap();
    env.run(&["stop", "tcp"]).ok();
    wait_nothing_left(&env, &mark);
}

#[test]
fn forking_status_wins_over_a_pidfile_rewritten_to_name_another_process() {
    let env = Env::new();
    let bystander = OwnChild::sleep();
    let mark = unique_secs();
    let pidfile = env.path("rw.pid");
    let p = pidfile.display().to_string();
    let Some(argv) = forker("forking_rewritten", &["--pidfile", &p], &mark) else {
        return;
    };
    start(&env, "rw", &["--forking", "--pidfile", &p], &argv).ok();
    let daemon = read_pid(&pidfile);
    // The program (or whoever can write its directory) now names someone else.
    fs::write(&pidfile, format!("{}\n", bystander.pid())).unwrap();
    assert_eq!(status_pid(&env, "rw"), i64::from(daemon));
    env.run(&["signal", "CONT", "rw"])
        .ok()
        .stdout_has(&format!("pid {daemon}"));
    env.run(&["stop", "rw"])
        .ok()
        .stdout_has(&format!("stopped rw (pid {daemon})"));
    wait_nothing_left(&env, &mark);
    assert!(
        alive(bystander.pid()),
        "the process the pidfile named is untouched"
    );
    assert_eq!(
        read_pid(&pidfile),
        bystander.pid(),
        "a pidfile naming another live process is left alone"
    );
}

/// SPEC §2.2: rdaemon never writes a `--forking` program's own pidfile, and after `stop` removes
/// it only if it still names the stopped process. Rewritten to name a dead pid, or garbage, it
/// no longer does: `stop` leaves it (rdaemon's own pidfile would go, being rdaemon's).
#[test]
fn a_forking_pidfile_rewritten_to_name_a_dead_pid_is_left_after_stop() {
    let env = Env::new();
    // A pid that is certainly dead: a child of this test, reaped.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    for (name, rewritten) in [("f4", format!("{dead}\n")), ("f5", "garbage\n".to_owned())] {
        let mark = unique_secs();
        let pidfile = env.path(&format!("{name}-own.pid"));
        let p = pidfile.display().to_string();
        let program = format!("sleep {mark} & echo $! > '{p}'; exit 0");
        let argv = ["sh".to_owned(), "-c".to_owned(), program, mark.clone()];
        start(&env, name, &["--forking", "--pidfile", &p], &argv).ok();
        let daemon = read_pid(&pidfile);
        env.track(daemon);
        fs::write(&pidfile, &rewritten).unwrap();
        env.run(&["stop", name])
            .ok()
            .stdout_has(&format!("stopped {name} (pid {daemon})"));
        assert!(!alive(daemon));
        wait_nothing_left(&env, &mark);
        assert_eq!(
            fs::read_to_string(&pidfile).ok().as_deref(),
            Some(rewritten.as_str()),
            "stop removed or changed the program's pidfile, which no longer names {daemon}"
        );
        // Stopped by rdaemon, whatever the program's file says now (garbage: unknown, exit 4).
        if rewritten != "garbage\n" {
            env.run(&["status", name])
                .code(3)
                .stdout_has(&format!("{name} is stopped"));
        }
    }
    // Left as it was by the program: it names the stopped process, and goes.
    let mark = unique_secs();
    let pidfile = env.path("f6-own.pid");
    let p = pidfile.display().to_string();
    let program = format!("sleep {mark} & echo $! > '{p}'; exit 0");
    let argv = ["sh".to_owned(), "-c".to_owned(), program, mark.clone()];
    start(&env, "f6", &["--forking", "--pidfile", &p], &argv).ok();
    env.run(&["stop", "f6"]).ok();
    wait_nothing_left(&env, &mark);
    assert!(
        !pidfile.exists(),
        "the pidfile naming the stopped process stays"
    );
    // rdaemon's own pidfile, rewritten the same way, is rdaemon's to clean up: it goes.
    let own = env.start("plain", &["sleep", "1000"]);
    fs::write(env.path("plain.pid"), format!("{dead}\n")).unwrap();
    env.run(&["stop", "plain"])
        .ok()
        .stdout_has(&format!("stopped plain (pid {own})"));
    assert!(
        !env.path("plain.pid").exists(),
        "rdaemon's own stale pidfile stays"
    );
}

#[test]
fn forking_pidfile_seen_empty_while_the_program_writes_it_is_waited_for() {
    let env = Env::new();
    let mark = unique_secs();
    let pidfile = env.path("slow.pid");
    let p = pidfile.display().to_string();
    let Some(argv) = forker("forking_slow", &["--pidfile", &p, "--slow"], &mark) else {
        return;
    };
    let run = start(&env, "slow", &["--forking", "--pidfile", &p], &argv).ok();
    let daemon = read_pid(&pidfile);
    run.stdout_has(&format!("started slow (pid {daemon})"));
    assert_eq!(env.track_marked(&mark), vec![daemon]);
    env.run(&["stop", "slow"]).ok();
    wait_nothing_left(&env, &mark);
}

/// The pids the tests' `--on-exit` commands wrote to `hooks`, one a run.
fn hook_pids(env: &Env) -> Vec<i32> {
    fs::read_to_string(env.path("hooks"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

/// Kills `program`, the running program of a `--respawn --forking` daemon whose `--on-exit`
/// command says its pid in `hooks` and runs until `hookgo` appears: waits until the command
/// runs and the relaunch has left its process (an argument `relaunched`), then lets the
/// command end while the monitor waits for the pidfile, and waits until it is reaped. Returns
/// the command's pid.
fn kill_while_the_hook_ends(env: &Env, program: i32, relaunched: &str) -> i32 {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(program),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("the hook runs and the relaunch waits", DEADLINE, || {
        hook_pids(env).len() == 1 && !env.track_marked(relaunched).is_empty()
    });
    let hook_pid = hook_pids(env)[0];
    env.track(hook_pid);
    fs::write(env.path("hookgo"), "").unwrap();
    wait_until("the monitor reaps the hook", DEADLINE, || {
        stat(hook_pid).is_none()
    });
    hook_pid
}

/// A respawn monitor's `--on-exit` command that ends while the monitor waits for its
/// `--forking` program's pidfile is heard of: that wait reaps what the launch leaves, and took
/// the command's end with it (helper-91's attack, 2026-12-03). The monitor then held the
/// command as under way for ever: it never ran it again ("the previous command still runs"),
/// and SIGKILLed its process group 60 s after it began, or at `stop`, when that number could
/// be anyone's. The command runs again at the next exit.
#[test]
fn an_on_exit_command_that_ends_during_a_forking_relaunch_is_heard_of() {
    let env = Env::new();
    let (mark, waiting) = (unique_secs(), format!("waiting-{}", unique_secs()));
    let dir = env.dir().display().to_string();
    // The server (`waiting` until then) writes its pidfile once the test lets it (`go`),
    // then sleeps.
    let server = format!(
        "sh -c 'while [ ! -e go ]; do sleep 0.02; done; rm go; echo $$ > srv.tmp; \
         mv srv.tmp srv.pid; exec sleep {mark}' {waiting} &"
    );
    // The hook says its pid, then runs until the test lets it end (`hookgo`).
    let hook = "echo $$ >> hooks; while [ ! -e hookgo ]; do sleep 0.02; done";
    fs::write(env.path("go"), "").unwrap();
    let pidfile = env.path("srv.pid").display().to_string();
    let run = env.run(&[
        "start",
        "--name",
        "oe",
        "--respawn",
        "--forking",
        "--pidfile",
        &pidfile,
        "--ready-timeout",
        "60s",
        "--restart-delay",
        "0",
        "--chdir",
        &dir,
        "--on-exit",
        hook,
        "--",
        "sh",
        "-c",
        &server,
    ]);
    let first = env.track_marked(&mark);
    run.ok();
    assert_eq!(first.len(), 1, "{first:?}");
    let monitor = status_pid(&env, "oe") as i32;
    env.track(monitor);
    let hooks = || hook_pids(&env);

    // The program dies: the hook runs, and the monitor launches it again and waits for its
    // pidfile, while the new server waits for `go`; the hook ends meanwhile.
    kill_while_the_hook_ends(&env, first[0], &waiting);
    fs::write(env.path("go"), "").unwrap();
    wait_until("the new server is adopted", DEADLINE, || {
        let (_, v) = status_json(&env, "oe");
        v["restarts"] == 1
            && v["child_pid"]
                .as_i64()
                .is_some_and(|c| c != i64::from(first[0]))
    });
    let second = status_json(&env, "oe").1["child_pid"].as_i64().unwrap() as i32;
    env.track(second);

    // It dies again: the hook runs again.
    fs::write(env.path("go"), "").unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(second),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("the hook runs for the second exit", DEADLINE, || {
        hooks().len() == 2
    });
    let log = fs::read_to_string(env.path("oe.log")).unwrap_or_default();
    assert!(!log.contains("still runs"), "{log}");
    env.run(&["stop", "oe"]).ok();
    wait_nothing_left(&env, &mark);
}

/// `--forking --pidfile P` where P names a live process of another program that no record of
/// the daemon names: stale, as SPEC §2 has it (a pid now used by another process), and removed
/// for the program to write anew, with a warning that names the process, so that another
/// service's pidfile given by mistake is seen (user trial, 2026-12-03). That process is left
/// alone, by the start and by the stop.
#[test]
fn a_forking_pidfile_naming_another_programs_live_process_is_replaced_naming_it() {
    let env = Env::new();
    let mark = unique_secs();
    let other = OwnChild(
        std::process::Command::new("sleep")
            .arg(unique_secs())
            .spawn()
            .unwrap(),
    );
    // Where the other service keeps it, outside rdaemon's directory.
    fs::create_dir(env.path("run")).unwrap();
    let pidfile = env.path("run/othersvc.pid");
    fs::write(&pidfile, format!("{}\n", other.pid())).unwrap();
    let p = pidfile.display().to_string();
    let program = format!("sleep {mark} & echo $! > '{p}'");
    let run = env.run(&[
        "start",
        "--name",
        "mine",
        "--forking",
        "--pidfile",
        &p,
        "--",
        "sh",
        "-c",
        &program,
    ]);
    let left = env.track_marked(&mark);
    let run = run.ok();
    assert_eq!(
        run.stderr,
        format!(
            "rdaemon: warning: pidfile '{p}' names pid {} (sleep), which is not mine; removing \
             it (the program writes it)\n",
            other.pid()
        ),
        "{}",
        run.dump()
    );
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(read_pid(&pidfile), left[0]);
    assert_left_alone(other.pid(), "a start that found it in its pidfile");
    env.run(&["stop", "mine"]).ok();
    assert_left_alone(other.pid(), "the stop of the daemon");
    wait_nothing_left(&env, &mark);
}

/// The same, when the relaunch then fails (no pidfile within `--ready-timeout`): the failure
/// runs the `--on-exit` command at once, in the same turn of the monitor's loop that reaped
/// the previous one, which must be heard of by then; and the previous command's exit status is
/// not told as the launch's (helper-93's review, 2026-12-03: "the previous command still
/// runs", and "pid N, which it forked, exited with status 7" for the command's own exit).
#[test]
fn an_on_exit_command_reaped_by_a_failing_forking_relaunch_is_heard_of() {
    let env = Env::new();
    let (mark, second) = (unique_secs(), unique_secs());
    let dir = env.dir().display().to_string();
    // The first launch leaves a server that writes the pidfile; the next ones leave a process
    // that never does.
    let program = format!(
        "if [ -e first-done ]; then sleep {second} & exit 0; fi; touch first-done; \
         sh -c 'echo $$ > srv.tmp; mv srv.tmp srv.pid; exec sleep {mark}' & exit 0"
    );
    let hook = "echo $$ >> hooks; while [ ! -e hookgo ]; do sleep 0.02; done; exit 7";
    let pidfile = env.path("srv.pid").display().to_string();
    let run = env.run(&[
        "start",
        "--name",
        "hk",
        "--respawn",
        "--forking",
        "--cgroup",
        "off",
        "--pidfile",
        &pidfile,
        "--ready-timeout",
        "3s",
        "--restart-delay",
        "0",
        "--chdir",
        &dir,
        "--on-exit",
        hook,
        "--",
        "sh",
        "-c",
        &program,
    ]);
    let first = env.track_marked(&mark);
    run.ok();
    assert_eq!(first.len(), 1, "{first:?}");
    env.track(status_pid(&env, "hk") as i32);
    let hooks = || hook_pids(&env);
    let hook_pid = kill_while_the_hook_ends(&env, first[0], &second);
    // The relaunch fails: the hook runs for that exit too.
    wait_until("the hook runs for the failed relaunch", DEADLINE, || {
        hooks().len() >= 2
    });
    let log = env.path("hk.log");
    wait_until("the monitor says the relaunch failed", DEADLINE, || {
        fs::read_to_string(&log).is_ok_and(|l| {
            l.contains("left no process running") || l.contains("not running within")
        })
    });
    let log = fs::read_to_string(&log).unwrap();
    assert!(!log.contains("still runs"), "{log}");
    assert!(
        !log.contains(&format!("pid {hook_pid}, which it forked")),
        "{log}"
    );
    env.run(&["stop", "hk"]).ok();
    wait_nothing_left(&env, &mark);
    wait_nothing_left(&env, &second);
}
