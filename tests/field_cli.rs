//! Issue 12, "saying what happened": what the field trial found rdaemon's command line keeping
//! quiet about or getting wrong (SPEC v2 §1, §2, §3, §8). One test per item.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use crate::common::*;

/// Item 10: before PROGRAM every word beginning with `-` is an option; a mistyped one is a usage
/// error with clap's tip, printed whole, and nothing is started.
#[test]
fn a_mistyped_option_is_a_usage_error_with_the_tip_not_the_program() {
    let env = Env::new();
    let run = env
        .run(&["start", "--redy", "tcp:80", "--", "sleep", "1000"])
        .usage_error()
        .stderr_has("rdaemon: unexpected argument '--redy' found")
        .stderr_has("tip: a similar argument exists: '--ready'");
    assert!(!run.stderr.contains("cannot execute"), "{}", run.dump());
    assert_eq!(listing(env.dir()), Vec::<String>::new(), "{}", run.dump());
    // The whole message, not its first line only.
    env.run(&["start"])
        .usage_error()
        .stderr_has("the following required arguments were not provided:")
        .stderr_has("<PROGRAM>...");
    env.run(&["stop", "--timout", "5s", "web"])
        .usage_error()
        .stderr_has("a similar argument exists: '--timeout'");
    // A program whose name begins with `-` is still reachable, after `--`.
    env.run(&["start", "--name", "dash", "--", "-no-such-program"])
        .code(1)
        .one_error_line()
        .stderr_has("cannot execute '-no-such-program': No such file or directory");
}

/// Item 11: `start` of a name that runs with another command is an error that says how to
/// replace it; with the same command it is still "already running", exit 0.
#[test]
fn start_of_a_running_name_with_another_command_fails_and_says_how_to_replace_it() {
    let env = Env::new();
    let (first, second) = (unique_secs(), unique_secs());
    let pid = env.start("web", &["sleep", &first]);
    let run = env
        .run(&["start", "--name", "web", "--", "sleep", &second])
        .code(1)
        .one_error_line()
        .stderr_has(&format!(
            "rdaemon: web is already running (pid {pid}) with another command: sleep {first}; use 'rdaemon restart web -- sleep {second}' to replace it, or another --name"
        ));
    assert!(env.track_marked(&second).is_empty(), "{}", run.dump());
    assert!(alive(pid));
    // An argument the shell must quote: the command is set off in backquotes, not nested
    // single quotes.
    let spaced = format!("{second} ");
    env.run(&["start", "--name", "web", "--", "sleep", &spaced])
        .code(1)
        .stderr_has(&format!(
            "use `rdaemon restart web -- sleep '{second} '` to replace it, or another --name"
        ));
    env.run(&[
        "start", "--name", "web", "--chdir", "/tmp", "--", "sleep", &first,
    ])
    .code(1)
    .stderr_has("with other options (--chdir)");
    env.run(&["start", "--name", "web", "--", "sleep", &first])
        .ok()
        .stdout_has(&format!("web is already running (pid {pid})"));
    assert_eq!(env.track_marked(&first), vec![pid]);

    // Another command and other options (here one left at its default): `restart -- COMMAND`
    // would keep the running options, so the way out said is a stop and the start again, which
    // then runs exactly what was asked.
    let third = unique_secs();
    env.run(&[
        "start",
        "--name",
        "ready",
        "--ready",
        "alive:50ms",
        "--",
        "sleep",
        &first,
    ])
    .ok();
    let ready = env.pid_of("ready");
    env.track(ready);
    env.run(&["start", "--name", "ready", "--", "sleep", &third])
        .code(1)
        .one_error_line()
        .stderr_has(&format!(
            "rdaemon: ready is already running (pid {ready}) with another command: sleep {first}, and other options (--ready); use 'rdaemon stop ready', then this start again, to replace it, or another --name"
        ));
    env.run(&["stop", "ready"]).ok();
    env.run(&["start", "--name", "ready", "--", "sleep", &third])
        .ok();
    env.track_marked(&third);
    assert_eq!(env.record("ready")["ready"], "exec");
}

/// Item 11, containment: `--cgroup`, `--memory-max` and `--tasks-max` change what runs as much
/// as any other option (SPEC §2, §3.1), given with the command line or over the stored spec
/// (`start [OPTIONS] NAME`). The same options again, or none, are still "already running".
/// Nothing here needs a cgroup: the refusal comes before one would be made.
#[test]
fn start_of_a_running_name_with_other_containment_options_fails() {
    let env = Env::new();
    let secs = unique_secs();
    let pid = env.start("q", &["sleep", &secs]);
    let refused = |option: &str| {
        format!(
            "rdaemon: q is already running (pid {pid}) with other options ({option}); use 'rdaemon restart q' with the new options to replace it, or another --name"
        )
    };
    for (given, option) in [
        (["--memory-max", "1G"], "--memory-max"),
        (["--tasks-max", "50"], "--tasks-max"),
        (["--cgroup", "off"], "--cgroup"),
    ] {
        let mut args = vec!["start", "--name", "q"];
        args.extend(given);
        args.extend(["--", "sleep", &secs]);
        env.run(&args)
            .code(1)
            .one_error_line()
            .stderr_has(&refused(option));
        let mut args = vec!["start"];
        args.extend(given);
        args.push("q");
        env.run(&args)
            .code(1)
            .one_error_line()
            .stderr_has(&refused(option));
    }
    env.run(&[
        "start",
        "--name",
        "q",
        "--memory-max",
        "1G",
        "--tasks-max",
        "50",
        "--",
        "sleep",
        &secs,
    ])
    .code(1)
    .stderr_has("with other options (--memory-max, --tasks-max)");
    // The spec still describes what runs.
    let spec = env.record("q");
    assert!(
        spec["memory_max"].is_null() && spec["tasks_max"].is_null(),
        "{spec}"
    );
    assert_eq!(spec["cgroup_mode"], "auto", "{spec}");
    let same: [&[&str]; 4] = [
        &["start", "--name", "q", "--", "sleep", &secs],
        &[
            "start", "--name", "q", "--cgroup", "auto", "--", "sleep", &secs,
        ],
        &["start", "q"],
        &["start", "--cgroup", "auto", "q"],
    ];
    for args in same {
        env.run(args)
            .ok()
            .stdout_has(&format!("q is already running (pid {pid})"));
    }
    assert_eq!(env.track_marked(&secs), vec![pid]);
}

/// Item 12: an unknown name keeps the LSB codes (status 3, stop 0) but is said on stderr, with
/// the closest known names; nothing is left behind for it.
#[test]
fn an_unknown_name_is_said_with_the_closest_names() {
    let env = Env::new();
    env.start("ping", &["sleep", &unique_secs()]);
    env.start("pinger", &["sleep", &unique_secs()]);
    env.run(&["status", "pingr"])
        .code(3)
        .stderr_has("rdaemon: no daemon named 'pingr' (closest: ping, pinger)");
    let run = env
        .run(&["stop", "pingr"])
        .ok()
        .stderr_has("rdaemon: no daemon named 'pingr' (closest: ping, pinger)");
    assert!(!run.stdout.contains("not running"), "{}", run.dump());
    env.run(&["stop", "database"])
        .ok()
        .stderr_has("rdaemon: no daemon named 'database'\n");
    let left: Vec<String> = listing(env.dir())
        .into_iter()
        .filter(|f| f.starts_with("pingr") || f.starts_with("database"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Item 12 for `--pidfile`: a mistyped pidfile (nothing at the path, no spec naming it) was
/// silently "not running": `status` 3, `stop` 0, `wait` 0, `signal` and `reload` 7, and not a
/// word on stderr. Each verb now says so in one line naming the path (and the directory that
/// does not exist), with the codes an unknown name gets: `wait` fails as it does for a name (a
/// typo must not pass for "it has exited"). A stopped daemon's pidfile, which its stop removed,
/// is its spec's and stays quiet, as does a pidfile that exists.
#[test]
fn an_unknown_pidfile_is_said_by_every_verb() {
    let env = Env::new();
    let verbs: [(&[&str], i32); 5] = [
        (&["status"], 3),
        (&["stop"], 0),
        (&["wait"], 1),
        (&["signal", "USR1"], 7),
        (&["reload"], 7),
    ];
    // They guessed a daemon from the file name: "no daemon named 'typo'", and "no record for
    // typo", exit 2 (a newcomer's trial, 2026-12-03).
    let more: [(&[&str], i32); 2] = [(&["logs"], 1), (&["restart"], 1)];
    let run = |verb: &[&str], pidfile: &Path| {
        let mut args = verb.to_vec();
        args.extend(["--pidfile", pidfile.to_str().unwrap()]);
        env.run(&args)
    };
    let typo_dir = env.path("nonexistent-dir");
    let cases = [
        (
            typo_dir.join("typo.pid"),
            format!("its directory '{}' does not exist", typo_dir.display()),
        ),
        (
            env.path("typo.pid"),
            "there is no such file, and no daemon's spec names it".to_owned(),
        ),
    ];
    for (pidfile, why) in &cases {
        let line = format!(
            "rdaemon: no daemon with pidfile '{}' ({why})\n",
            pidfile.display()
        );
        for (verb, code) in verbs.iter().chain(&more) {
            let out = run(verb, pidfile).code(*code);
            assert_eq!(out.stderr, line, "{}", out.dump());
            assert_eq!(out.stdout, "", "{}", out.dump());
        }
    }
    let out = env
        .run(&[
            "status",
            "--json",
            "--pidfile",
            env.path("typo.pid").to_str().unwrap(),
        ])
        .code(3);
    assert_eq!(out.stdout, "[]\n", "{}", out.dump());
    assert!(!env.path("typo.json").exists() && !env.path("typo.lock").exists());

    // A stopped daemon: its stop removed the pidfile, its spec names it.
    fs::create_dir(env.path("run")).unwrap();
    let pidfile = env.path("run/d.pid");
    let p = pidfile.to_str().unwrap();
    env.run(&["start", "--pidfile", p, "--", "sleep", &unique_secs()])
        .ok();
    env.run(&["stop", "--pidfile", p]).ok();
    assert!(!pidfile.exists());
    for (verb, code) in verbs {
        let code = if verb == ["wait"] { 0 } else { code };
        let out = run(verb, &pidfile).code(code);
        assert_eq!(out.stderr, "", "{}", out.dump());
        let said = if verb == ["status"] {
            "d is stopped"
        } else {
            "d is not running"
        };
        assert!(out.stdout.starts_with(said), "{}", out.dump());
    }
    // The same stem elsewhere: unknown, and where daemon d's pidfile is.
    let out = run(&["status"], &typo_dir.join("d.pid")).code(3);
    assert!(
        out.stderr
            .ends_with(&format!("; daemon 'd' has pidfile '{p}'\n")),
        "{}",
        out.dump()
    );

    // A pidfile that exists, which no spec names (another tool's, its process gone): not
    // unknown, whatever else it is (`stop` removes it as stale: written again for each verb).
    let mut gone = StdCommand::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let foreign = env.path("run/other.pid");
    for (verb, _) in verbs {
        fs::write(&foreign, format!("{pid}\n")).unwrap();
        let out = run(verb, &foreign);
        assert!(!out.stderr.contains("no daemon"), "{}", out.dump());
    }
}

/// Commands that find nothing to act on leave no lock file behind: `restart` and `start` of an
/// unknown name, `status`, `stop` and `restart` of a pidfile that no spec names (elsewhere, and
/// holding garbage: each of them fails), and a first `start` or `restart` that fails. A known
/// daemon keeps its lock file when a command about it fails.
#[test]
fn commands_that_find_nothing_leave_no_lock_file() {
    let env = Env::new();
    let locks = || -> Vec<String> {
        listing(env.dir())
            .into_iter()
            .filter(|f| f.ends_with(".lock"))
            .collect()
    };
    env.run(&["restart", "ghost"])
        .code(2)
        .stderr_has("rdaemon: no record for ghost: give its command line");

    env.run(&["start", "--name", "ghost"])
        .code(2)
        .stderr_has("rdaemon: no record for ghost");
    env.run(&["restart", "ghost", "--", "/nonexistent"])
        .code(1)
        .stderr_has("cannot execute '/nonexistent'");
    env.run(&["start", "--name", "ghost", "--", "/nonexistent"])
        .code(1)
        .stderr_has("cannot execute '/nonexistent'");
    fs::create_dir(env.path("elsewhere")).unwrap();
    let ext = env.path("elsewhere/ext.pid");
    fs::write(&ext, "garbage\n").unwrap();
    let ext = ext.to_str().unwrap();
    env.run(&["status", "--pidfile", ext])
        .code(4)
        .stderr_has("invalid pidfile");
    env.run(&["stop", "--pidfile", ext])
        .code(1)
        .stderr_has("invalid pidfile");
    env.run(&["restart", "--pidfile", ext])
        .code(2)
        .stderr_has("rdaemon: no record for ext");
    assert_eq!(locks(), Vec::<String>::new());
    assert!(!env.path("ghost.json").exists() && !env.path("ext.json").exists());
    let pid = env.start_stubborn("known");
    // A typo gets the closest known names, as `status` and `stop` give them (user trial).
    env.run(&["restart", "knwn"])
        .code(2)
        .one_error_line()
        .stderr_has("rdaemon: no record for knwn (closest: known): give its command line");
    env.run(&["stop", "known", "--timeout", "100ms", "--no-kill"])
        .code(1)
        .stderr_has(&format!("known (pid {pid}) is still running"));
    assert_eq!(locks(), vec!["known.lock".to_owned()]);
}

/// A file in root's runtime directory, removed when dropped (and the directory, if the test
/// created it and it is empty).
struct RootFile {
    path: PathBuf,
    made_dir: bool,
}

impl Drop for RootFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
        if self.made_dir {
            let _ = fs::remove_dir(self.path.parent().unwrap());
        }
    }
}

/// Item 12: a non-root user who names a daemon of root's is told to use sudo.
#[test]
fn an_unknown_name_that_root_has_gets_the_sudo_hint() {
    const TEST: &str = "an_unknown_name_that_root_has_gets_the_sudo_hint";
    if !is_root() {
        return skip(TEST, "needs root, to play root's daemon and run as nobody");
    }
    let Some(nobody) = nobody() else {
        return skip(TEST, "no 'nobody' user on this system");
    };
    let run_dir = Path::new("/run/rdaemon");
    let made_dir = !run_dir.exists();
    fs::create_dir_all(run_dir).unwrap();
    let name = format!("fieldcli-{}", std::process::id());
    let root_file = RootFile {
        path: run_dir.join(format!("{name}.pid")),
        made_dir,
    };
    fs::write(&root_file.path, "999999\n").unwrap();
    let env = Env::new();
    fs::set_permissions(env.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    let users_dir = env.path("nobody");
    fs::create_dir(&users_dir).unwrap();
    nix::unistd::chown(&users_dir, Some(nobody.uid), Some(nobody.gid)).unwrap();
    for (verb, code) in [("stop", 0), ("status", 3)] {
        let mut cmd = StdCommand::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(assert_cmd::cargo::cargo_bin!("rdaemon"))
            .args([verb, &name]);
        let out = isolate(&mut cmd, &users_dir)
            .current_dir("/")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{verb}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "no daemon named '{name}'; root has a daemon named '{name}' (in /run/rdaemon): use sudo"
            )),
            "{verb}: {stderr}"
        );
    }
    drop(root_file);
}

/// Item 13: `stop` says when it had to SIGKILL, and `restart` takes stop's options for its stop.
#[test]
fn stop_says_it_killed_and_restart_takes_the_stop_options() {
    let env = Env::new();
    let pid = env.start_stubborn("web");
    let run = env
        .run(&["-v", "stop", "web", "--timeout", "300ms"])
        .ok()
        .stdout_has(&format!("stopped web (pid {pid}) with SIGKILL after 300ms"))
        .stderr_has("sent SIGTERM to web after 0s")
        .stderr_has("sent SIGKILL to web after 300ms");
    assert!(!alive(pid), "{}", run.dump());
    // A clean stop says nothing more.
    let pid = env.start("calm", &["sleep", &unique_secs()]);
    let run = env.run(&["stop", "calm"]).ok();
    assert_eq!(run.stdout, format!("stopped calm (pid {pid})\n"));
    // restart: the stubborn one dies of INT (its sleep keeps INT's default), no SIGKILL needed:
    // with --no-kill a restart whose INT did not end it fails, and the stop line is the plain
    // one, without "with SIGKILL".
    fs::remove_file(env.path("web.ready")).unwrap();
    let pid = env.start_stubborn("web");
    fs::remove_file(env.path("web.ready")).unwrap();
    env.run(&[
        "restart",
        "web",
        "--signal",
        "INT",
        "--timeout",
        "30s",
        "--no-kill",
    ])
    .ok()
    .stdout_has(&format!("stopped web (pid {pid})\n"))
    .stdout_has("started web (pid ");
    assert!(!alive(pid));
    let pid = env.pid_of("web");
    env.wait_file("web.ready");
    // A schedule's timeout may be a duration (helper-100's audit: it was refused as a signal).
    env.run(&["restart", "web", "--retry", "TERM/200ms/KILL/5"])
        .ok()
        .stdout_has(&format!("stopped web (pid {pid}) with SIGKILL after 200ms"));
    let pid = env.pid_of("web");
    env.wait_file("web.ready");
    env.run(&["restart", "web", "--timeout", "200ms"])
        .ok()
        .stdout_has(&format!("stopped web (pid {pid}) with SIGKILL after 200ms"));
}

/// Item 15: bare `stop`, `restart` and `logs` with several records address the only running
/// daemon; with two running they still ask for a name.
#[test]
fn bare_commands_address_the_only_running_daemon() {
    let env = Env::new();
    let old = env.start("old", &["sleep", &unique_secs()]);
    env.run(&["stop", "old"]).ok();
    wait_dead(old);
    let pid = env.start("web", &["sleep", &unique_secs()]);
    env.run(&["logs"]).ok();
    let run = env.run(&["restart"]).ok();
    assert!(
        run.stdout.contains(&format!("stopped web (pid {pid})")),
        "{}",
        run.dump()
    );
    let pid = env.pid_of("web");
    env.run(&["stop"])
        .ok()
        .stdout_has(&format!("stopped web (pid {pid})"));
    wait_dead(pid);
    // None of several running: nothing to stop, exit 0 as LSB's stop (user trial, 2026-12-02:
    // a usage error); `restart` and `logs` still ask which one.
    env.run(&["stop"])
        .ok()
        .stdout_has("no daemon is running (old, web)");
    env.run(&["restart"])
        .code(2)
        .stderr_has("several daemons exist (old, web)");
    // `signal` and `reload` find none running: not running, LSB's 7; `wait` has nothing to
    // wait for (user trial, 2026-12-03: usage errors).
    for args in [&["signal", "HUP"][..], &["reload"]] {
        env.run(args)
            .code(7)
            .stdout_has("no daemon is running (old, web)");
    }
    env.run(&["wait"])
        .ok()
        .stdout_has("no daemon is running (old, web)");
    // One whose main process was killed but whose leftovers run is not "not running": a stop
    // has something to stop (review, 2026-12-02), but it is not running either (SPEC §1: a
    // bare command means the only running one): the user names it.
    let body = format!(
        "sleep {} & echo $! > kid.tmp; mv kid.tmp kid; exec sleep {}",
        unique_secs(),
        unique_secs()
    );
    env.run(&[
        "start",
        "--name",
        "web",
        "--cgroup",
        "off",
        "--chdir",
        env.dir().to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &body,
    ])
    .ok();
    let main = env.pid_of("web");
    let kid = env.wait_pid_file("kid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(main),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_dead(main);
    env.run(&["stop"])
        .code(2)
        .stderr_has("several daemons exist (old, web)");
    assert!(alive(kid));
    env.run(&["stop", "web"])
        .ok()
        .stdout_has("stopped leftovers of web: 1 process");
    wait_dead(kid);
    let a = env.start("a", &["sleep", &unique_secs()]);
    let b = env.start("b", &["sleep", &unique_secs()]);
    env.run(&["stop"])
        .code(2)
        .stderr_has("several daemons exist (a, b, old, web)");
    assert!(alive(a) && alive(b));
}

/// Item 15: `forget` takes several names, and `--all` forgets every stopped daemon but leaves a
/// running one alone.
#[test]
fn forget_takes_several_names_and_all() {
    let env = Env::new();
    for name in ["a", "b", "c", "d"] {
        let pid = env.start(name, &["sleep", &unique_secs()]);
        env.run(&["stop", name]).ok();
        wait_dead(pid);
    }
    let running = env.start("live", &["sleep", &unique_secs()]);
    env.run(&["forget", "a", "b"])
        .ok()
        .stdout_has("forgot a\nforgot b\n");
    assert!(!env.path("a.json").exists() && !env.path("b.json").exists());
    env.run(&["forget", "c", "live"])
        .code(1)
        .stdout_has("forgot c")
        .stderr_has(&format!(
            "rdaemon: live is running (pid {running}): stop it first"
        ));
    env.run(&["forget", "--all"])
        .ok()
        .stdout_has("forgot d")
        .stdout_has(&format!("live is running (pid {running}): kept"));
    assert!(!env.path("d.json").exists());
    assert!(env.path("live.json").exists() && alive(running));
    env.run(&["forget", "--all", "live"]).code(2);
}

/// Item 16: with the default `--chdir /`, an argument that is a file only relative to the
/// caller's directory is warned about; with `--chdir`, or absolute, it is not.
#[test]
fn a_relative_file_argument_with_the_default_chdir_is_warned_about() {
    let env = Env::new();
    let script = format!("server-{}.py", std::process::id());
    fs::write(env.path(&script), "").unwrap();
    // rdaemon runs in the test directory (Env::cmd), where the file is.
    let secs = unique_secs();
    let argv = ["sh", "-c", "exec sleep \"$1\"", &script, &secs];
    let mut args = vec!["start", "--name", "py", "--"];
    args.extend_from_slice(&argv);
    env.run(&args).ok().stderr_has(&format!(
        "rdaemon: warning: '{script}' is relative to the daemon's working directory /; use an absolute path or --chdir"
    ));
    // restart with a new command line runs it from the recorded directory: the same trap.
    let mut args = vec!["restart", "py", "--"];
    args.extend_from_slice(&argv);
    env.run(&args).ok().stderr_has(&format!(
        "rdaemon: warning: '{script}' is relative to the daemon's working directory /"
    ));
    env.run(&["stop", "py"]).ok();
    let dir = env.dir().to_str().unwrap().to_owned();
    let mut args = vec!["start", "--name", "py", "--chdir", &dir, "--"];
    args.extend_from_slice(&argv);
    let run = env.run(&args).ok();
    assert!(!run.stderr.contains("relative"), "{}", run.dump());
}

/// Whether `text` renders an OS error other than the one way: nix's `EMFILE: ...` or Rust's
/// `... (os error 24)`.
fn second_voice(text: &str) -> bool {
    text.contains("(os error") || {
        text.split(|c: char| !c.is_ascii_alphanumeric() && c != ':')
            .any(|w| {
                w.len() > 2
                    && w.starts_with('E')
                    && w.ends_with(':')
                    && w[1..w.len() - 1].chars().all(|c| c.is_ascii_uppercase())
            })
    }
}

/// Item 17: one rendering of OS errors in every command family, under a low `ulimit -n` and
/// with missing paths.
#[test]
fn os_errors_have_one_voice_in_every_command() {
    assert!(second_voice(
        "cannot create a pipe: EMFILE: Too many open files"
    ));
    assert!(second_voice(
        "cannot read: Too many open files (os error 24)"
    ));
    assert!(!second_voice(
        "cannot read 'EMFILE.log': Too many open files"
    ));
    let env = Env::new();
    env.start("web", &["sleep", &unique_secs()]);
    let mut seen = Vec::new();
    for limit in 4..=11 {
        let secs = unique_secs();
        let commands: [&[&str]; 8] = [
            &["start", "--name", "x", "--", "sleep", &secs],
            &["start", "--respawn", "--name", "y", "--", "sleep", &secs],
            &["status", "web"],
            &["list"],
            &["logs", "web"],
            &["export", "systemd", "web"],
            &["forget", "nothing"],
            &["restart", "nothing", "--", "sleep", &secs],
        ];
        for args in commands {
            let Run { code, stderr, .. } = env.run_with_fd_limit(limit, args);
            assert!(
                !second_voice(&stderr),
                "ulimit -n {limit}, rdaemon {}: exit {code}\n{stderr}",
                args.join(" ")
            );
            seen.push(stderr);
        }
        for name in ["x", "y"] {
            if env.path(&format!("{name}.pid")).exists() {
                env.run(&["stop", name]).ok();
            }
        }
    }
    assert!(
        seen.iter().any(|s| s.contains(": Too many open files")),
        "no command failed for want of fds: {seen:#?}"
    );
    let missing: [&[&str]; 4] = [
        &["start", "--log", "/nonexistent/x.log", "--", "sleep", "1"],
        &["start", "--chdir", "/nonexistent", "--", "sleep", "1"],
        &["start", "--", "/nonexistent/program"],
        &["--dir", "/proc/nonexistent", "start", "--", "sleep", "1"],
    ];
    for args in missing {
        let run = env.run(args).code(1).one_error_line();
        assert!(
            run.stderr.ends_with(": No such file or directory\n") && !second_voice(&run.stderr),
            "{}",
            run.dump()
        );
    }
}

/// The smaller things: `--help` tells root's log default and keeps global options apart, the
/// man page's synopsis has `--dir DIR` and each heading once, completions never offer the
/// internal monitor, and a skipped precondition fails under CI.
#[test]
fn help_man_page_completions_and_skips_say_what_is_true() {
    let env = Env::new();
    let help = env.run(&["start", "--help"]).ok().stdout;
    assert!(
        help.contains("as root without --dir or RDAEMON_DIR: /var/log/rdaemon/NAME.log"),
        "{help}"
    );
    let (own, global) = help
        .split_once("Global options:")
        .expect("a Global options heading");
    assert!(
        !own.contains("--dir <DIR>") && !own.contains("--verbose"),
        "{help}"
    );
    assert!(
        global.contains("--dir <DIR>") && global.contains("--quiet"),
        "{help}"
    );
    let page = rdaemon::manpage::render();
    let synopsis = page.split(".SH SYNOPSIS\n").nth(1).unwrap();
    let synopsis = synopsis.split(".SH").next().unwrap();
    assert!(synopsis.contains(r"\fB\-\-dir\fR \fIDIR\fR"), "{synopsis}");
    let sections: Vec<&str> = page.lines().filter(|l| l.starts_with(".SH ")).collect();
    let mut unique = sections.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(sections.len(), unique.len(), "{sections:?}");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = env.run(&["completions", shell]).ok().stdout;
        assert!(!script.contains("__monitor"), "{shell} offers __monitor");
    }
    let outcome = std::panic::catch_unwind(|| skip_unless_ci(true, "t", "no python3"));
    assert!(outcome.is_err(), "under CI a skip must fail the test");
    skip_unless_ci(false, "t", "a skip outside CI only prints");
}

/// The LSB init script of docs/guide.md, run as it is written (paths, port and user replaced
/// for the test): each action exits with the code the LSB wants, `force-reload` restarts the
/// server (python's `http.server` cannot reload: a HUP would end it), and there is no `reload`.
#[test]
fn the_guides_init_script_works_as_written() {
    let test = "the_guides_init_script_works_as_written";
    let python = Path::new("/usr/bin/python3");
    if !python.exists() {
        return skip(test, "no /usr/bin/python3, which the script runs");
    }
    let guide = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/guide.md")).unwrap();
    let section = &guide[guide.find("## An LSB init script").unwrap()..];
    let start = section.find("```sh\n").unwrap() + "```sh\n".len();
    let script = &section[start..start + section[start..].find("```").unwrap()];
    let env = Env::new();
    fs::set_permissions(env.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    let www = env.path("www");
    fs::create_dir(&www).unwrap();
    let port = free_port().to_string();
    let mut script = script
        .replace(
            "/usr/local/bin/rdaemon",
            assert_cmd::cargo::cargo_bin!("rdaemon").to_str().unwrap(),
        )
        .replace(
            "/run/$NAME.pid",
            &format!("{}/$NAME.pid", env.dir().display()),
        )
        .replace(
            "/var/log/$NAME.log",
            &format!("{}/$NAME.log", env.dir().display()),
        )
        .replace("/srv/www", www.to_str().unwrap())
        .replace("8080", &port);
    let user = match is_root() {
        true if nix::unistd::User::from_name("www-data")
            .ok()
            .flatten()
            .is_some() =>
        {
            "www-data"
        }
        true => {
            script = script.replace("--user www-data", "--user nobody");
            "nobody"
        }
        false => {
            script = script.replace("--user www-data", "");
            ""
        }
    };
    let path = env.path("web.init");
    fs::write(&path, script).unwrap();
    let action = |what: &str| {
        let mut cmd = StdCommand::new("sh");
        isolate(cmd.arg(&path).arg(what), env.dir());
        let mut cmd = assert_cmd::Command::from_std(cmd);
        cmd.timeout(std::time::Duration::from_secs(60));
        env.run_cmd(cmd, &[])
    };
    action("start").ok().stdout_has("started web (pid ");
    let first = env.pid_of("web");
    env.track(first);
    if !user.is_empty() {
        let uid = nix::unistd::User::from_name(user)
            .unwrap()
            .unwrap()
            .uid
            .as_raw();
        assert_eq!(
            status_field(first, "Uid").split_whitespace().next(),
            Some(&*uid.to_string())
        );
    }
    std::net::TcpStream::connect(format!("127.0.0.1:{port}")).expect("the server listens");
    action("status").ok().stdout_has("web is running");
    action("start").ok();
    assert_eq!(
        env.pid_of("web"),
        first,
        "start of a running service starts nothing"
    );
    action("force-reload").ok().stdout_has("started web (pid ");
    let second = env.pid_of("web");
    env.track(second);
    assert_ne!(second, first);
    assert!(!alive(first));
    // LSB: 3, "unimplemented feature (for example, reload)" (user trial, 2026-12-03: 2).
    action("reload")
        .code(3)
        .stderr_has("web cannot reload; use force-reload");
    action("frobnicate").code(2).stderr_has("Usage:");
    // Answered after both: a signal sent by either would have been taken before the answer.
    assert!(
        http_get_answers(&port),
        "reload or an unknown action touched the server"
    );
    assert_eq!(env.pid_of("web"), second);
    action("stop").ok().stdout_has("stopped web");
    assert!(!alive(second));
    action("stop").ok();
    action("status").code(3);
}

/// Whether the HTTP server on 127.0.0.1:`port` answers a GET with a status line.
fn http_get_answers(port: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(format!("127.0.0.1:{port}")) else {
        return false;
    };
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut answer = String::new();
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.")
}

/// The addresses (as `/proc/net/tcp*` writes them, `0100007F` for 127.0.0.1) with a TCP socket
/// listening on `port`, in this network namespace.
fn listening_addresses(port: u16) -> Vec<String> {
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let Some((addr, p)) = fields.get(1).and_then(|a| a.rsplit_once(':')) else {
                continue;
            };
            // State 0A is LISTEN.
            if fields.get(3) == Some(&"0A") && u16::from_str_radix(p, 16) == Ok(port) {
                found.push(addr.to_owned());
            }
        }
    }
    found
}

/// The 30-second tour of README.md, run as it is written (the port replaced by a free one, the
/// built rdaemon first on PATH, `mktemp` making its directory in the test's): the web server
/// serves the empty directory the tour makes, not `/`, on the loopback address alone (a user's
/// trial: followed as root, the tour served the whole root file system to the network). It
/// answers, its log shows the request, and it stops.
#[test]
fn the_readmes_tour_serves_an_empty_directory_on_loopback_only() {
    let test = "the_readmes_tour_serves_an_empty_directory_on_loopback_only";
    if python3().is_none() {
        return skip(test, "no python3, which the tour runs");
    }
    let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme.find("## A 30-second tour").unwrap()..];
    let start = section.find("```console\n").unwrap() + "```console\n".len();
    let block = &section[start..start + section[start..].find("```").unwrap()];
    let port = free_port();
    let mut commands: Vec<String> = block
        .lines()
        .filter_map(|l| l.strip_prefix("$ "))
        .map(|c| c.replace("8080", &port.to_string()))
        .collect();
    if !Path::new("/usr/bin/curl").exists() && !Path::new("/bin/curl").exists() {
        // The same GET without curl.
        for c in &mut commands {
            *c = c.replace(
                "curl -s -o /dev/null",
                "python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1])'",
            );
        }
    }
    let stop = commands
        .iter()
        .position(|c| c.starts_with("rdaemon stop"))
        .unwrap();
    let env = Env::new();
    let bin = assert_cmd::cargo::cargo_bin!("rdaemon");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |flags: &str, lines: &[String]| {
        let mut cmd = StdCommand::new("sh");
        cmd.arg(flags)
            .arg(lines.join("\n"))
            .env("PATH", &path)
            .env("TMPDIR", env.dir())
            .current_dir(env.dir());
        isolate(&mut cmd, env.dir());
        let mut cmd = assert_cmd::Command::from_std(cmd);
        cmd.timeout(std::time::Duration::from_secs(60));
        env.run_cmd(cmd, &[])
    };
    // Up to the log, every step must succeed.
    let first = run("-ec", &commands[..stop]).ok();
    let pid = env.pid_of("web");
    let first = first
        .stdout_has(&format!("started web (pid {pid})"))
        .stdout_has("  command: python3 -u -m http.server ")
        .stdout_has(&format!("Serving HTTP on 127.0.0.1 port {port} "));
    assert!(
        first.stdout.contains("\"GET / HTTP/1.1\" 200"),
        "{}",
        first.dump()
    );
    // It serves the empty directory `mktemp -d` made, not `/`.
    let served = cwd(pid);
    assert_eq!(
        served.parent(),
        Some(env.dir().canonicalize().unwrap().as_path()),
        "{}",
        first.dump()
    );
    assert_eq!(
        fs::read_dir(&served).unwrap().count(),
        0,
        "{}",
        first.dump()
    );
    // On 127.0.0.1 alone: no listener on every address (0.0.0.0, ::).
    assert_eq!(listening_addresses(port), ["0100007F"], "{}", first.dump());
    // The rest as written: `status` of the stopped server says so, exit 3.
    let rest = run("-c", &commands[stop..]).ok();
    rest.stdout_has(&format!("stopped web (pid {pid})"))
        .stdout_has("web is stopped")
        .stdout_has("exit 3");
    assert!(!alive(pid));
}

/// The guide's CI script, as written: a server that never gets ready fails `up`, and the
/// script's `trap` still shows the logs and stops everything that came up, also with an
/// entry `up` never started (helper-108's trial: `logs --file` failed on it, and under
/// `set -e` the trap ended before its `down`, leaving the servers running).
#[test]
fn the_guides_ci_script_stops_everything_when_a_server_fails() {
    let guide = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/guide.md")).unwrap();
    let section = &guide[guide.find("The same in a plain script").unwrap()..];
    let start = section.find("```sh\n").unwrap() + "```sh\n".len();
    let script = &section[start..start + section[start..].find("```").unwrap()];
    let env = Env::new();
    let bin = Path::new(assert_cmd::cargo::cargo_bin!("rdaemon"));
    let script = script
        .replace("rdaemon ", &format!("{} ", bin.display()))
        .replace("./run-e2e-tests.sh", "echo tests ran");
    let work = env.path("ci");
    fs::create_dir(&work).unwrap();
    fs::write(work.join("ci.sh"), &script).unwrap();
    let (side, db) = (unique_secs(), unique_secs());
    fs::write(
        work.join("rdaemon.toml"),
        format!(
            "[daemons.side]\ncommand = [\"sleep\", \"{side}\"]\n\
             [daemons.db]\ncommand = [\"sleep\", \"{db}\"]\nready = \"file:never\"\nready-timeout = \"300ms\"\n\
             [daemons.api]\ncommand = [\"sleep\", \"1000\"]\nafter = [\"db\"]\n"
        ),
    )
    .unwrap();
    let out = StdCommand::new("sh")
        .arg("ci.sh")
        .current_dir(&work)
        .env_remove("RDAEMON_DIR")
        // Its `mktemp -d` in the test's directory, removed with it.
        .env("TMPDIR", env.dir())
        .output()
        .unwrap();
    env.track_marked(&side);
    env.track_marked(&db);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(!stdout.contains("tests ran"), "{stdout}{stderr}");
    assert!(
        stderr.contains("api not started: it comes after db, which failed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("api was never started; left out"),
        "{stderr}"
    );
    assert!(stdout.contains("stopped side"), "{stdout}{stderr}");
    assert!(live_pids_with_arg(&side).is_empty(), "side still runs");
    assert!(live_pids_with_arg(&db).is_empty(), "db still runs");
}
