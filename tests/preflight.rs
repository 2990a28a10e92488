//! SPEC §2: everything that can fail is checked before detaching, so the error reaches the
//! terminal and nothing is left behind — no pidfile, no record, no lock or log file, no process.
//! A problem in the system is exit 1 with a message naming the path or name; a malformed value
//! is exit 2.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::*;

/// Checks that a failed start left `dir` as it was and started no process with `secs` (one it
/// did start is tracked by `env` first, and killed when the test ends).
fn assert_nothing_left(env: &Env, dir: &Path, before: &[String], secs: &str, run: &Run) {
    let left = env.track_marked(secs);
    assert_eq!(listing(dir), before, "files left behind\n{}", run.dump());
    assert_eq!(
        left,
        Vec::<i32>::new(),
        "a process was left behind\n{}",
        run.dump()
    );
}

/// `start --name x OPTS -- sleep SECS`, expected to fail with `code` naming `needle`, leaving
/// nothing behind.
fn start_fails(env: &Env, opts: &[&str], code: i32, needle: &str) -> Run {
    let before = listing(env.dir());
    let secs = unique_secs();
    let mut args = vec!["start", "--name", "x"];
    args.extend(opts);
    args.extend(["--", "sleep", &secs]);
    let run = env.run(&args);
    // What it started anyway is killed with the test, whatever fails first.
    env.track_marked(&secs);
    let run = run.code(code).one_error_line().stderr_has(needle);
    assert_nothing_left(env, env.dir(), &before, &secs, &run);
    run
}

#[test]
fn missing_log_directory_fails_before_detaching() {
    let env = Env::new();
    let log = env.path("nodir/x.log");
    start_fails(
        &env,
        &["--log", log.to_str().unwrap()],
        1,
        log.to_str().unwrap(),
    )
    .stderr_has("No such file or directory");
    assert_eq!(fs::read_dir(env.dir()).unwrap().count(), 0);
}

#[test]
fn a_log_that_cannot_be_opened_fails_before_detaching() {
    let env = Env::new();
    let dir_log = env.path("adir");
    fs::create_dir(&dir_log).unwrap();
    let file = env.path("afile");
    fs::write(&file, "").unwrap();
    let under_file = file.join("x.log");
    for (log, why) in [
        (&dir_log, "Is a directory"),
        (&under_file, "Not a directory"),
    ] {
        let log = log.to_str().unwrap();
        for opt in ["--log", "--stdout", "--stderr"] {
            start_fails(
                &env,
                &[opt, log],
                1,
                &format!("cannot open log file '{log}': {why}"),
            );
        }
    }
    if is_root() {
        let ro = env.path("ro");
        let _mount = match ReadOnlyMount::new(&ro) {
            Ok(m) => m,
            Err(why) => {
                return skip(
                    "a_log_that_cannot_be_opened_fails_before_detaching (read-only part)",
                    &why,
                )
            }
        };
        let log = ro.join("x.log");
        start_fails(
            &env,
            &["--log", log.to_str().unwrap()],
            1,
            "Read-only file system",
        );
    } else {
        let locked = env.path("locked.log");
        fs::write(&locked, "").unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o444)).unwrap();
        start_fails(
            &env,
            &["--log", locked.to_str().unwrap()],
            1,
            "Permission denied",
        );
    }
}

#[test]
fn a_failing_stderr_log_removes_the_stdout_log_it_created_but_keeps_an_old_one() {
    let env = Env::new();
    let bad = env.path("nodir/err.log");
    let bad = bad.to_str().unwrap();
    // stdout is the default DIR/x.log, created first; stderr then fails.
    start_fails(&env, &["--stderr", bad], 1, bad);
    assert!(!env.path("x.log").exists());
    // A log that existed before is the user's: it stays, content and all.
    fs::write(env.path("x.log"), "old\n").unwrap();
    start_fails(&env, &["--stderr", bad], 1, bad);
    assert_eq!(fs::read_to_string(env.path("x.log")).unwrap(), "old\n");
}

#[test]
fn missing_chdir_fails_before_detaching() {
    let env = Env::new();
    let dir = env.path("gone");
    start_fails(
        &env,
        &["--chdir", dir.to_str().unwrap()],
        1,
        dir.to_str().unwrap(),
    );
    assert_eq!(fs::read_dir(env.dir()).unwrap().count(), 0);
    let file = env.path("plain");
    fs::write(&file, "").unwrap();
    start_fails(
        &env,
        &["--chdir", file.to_str().unwrap()],
        1,
        &format!(
            "cannot change directory to '{}': Not a directory",
            file.display()
        ),
    );
}

#[test]
fn unknown_user_or_group_fails_before_detaching() {
    let env = Env::new();
    // Without root, --user and --group are refused (4) before any lookup.
    let code = if is_root() { 1 } else { 4 };
    for (opts, needle) in [
        (
            vec!["--user", "no-such-user-rdaemon"],
            "user 'no-such-user-rdaemon'",
        ),
        (
            vec!["--user", "root:no-such-group-rdaemon"],
            "group 'no-such-group-rdaemon'",
        ),
        (
            vec!["--user", "root", "--group", "no-such-group-rdaemon"],
            "group 'no-such-group-rdaemon'",
        ),
        (
            vec!["--group", "no-such-group-rdaemon"],
            "group 'no-such-group-rdaemon'",
        ),
        (vec!["--user", "4294967000"], "4294967000"),
    ] {
        let run = start_fails(&env, &opts, code, needle);
        if is_root() && !needle.starts_with('4') {
            run.stderr_has(&format!("unknown {needle}"));
        }
    }
}

#[test]
fn malformed_values_are_usage_errors_and_leave_nothing() {
    let env = Env::new();
    for (opt, value) in [
        ("--umask", "8"),
        ("--umask", "1000"),
        ("--umask", "abc"),
        ("--umask", "-22"),
        ("--user", ""),
        ("--user", "a:b:c"),
        ("--user", ":wheel"),
        ("--user", "nobody:"),
        ("--user", "two words"),
        ("--group", ""),
        ("--group", "a:b"),
    ] {
        start_fails(&env, &[opt, value], 2, opt);
    }
    start_fails(
        &env,
        &["--user", "root:root", "--group", "root"],
        2,
        "--group",
    );
}

#[test]
fn a_read_only_rdaemon_directory_fails_before_detaching() {
    let env = Env::new();
    let dir = env.path("state");
    // Keep the mount guard alive to the end of the test (dropped before `env`).
    let _mount;
    if is_root() {
        // chmod does not stop root: only a read-only file system does.
        _mount = match ReadOnlyMount::new(&dir) {
            Ok(m) => m,
            Err(why) => return skip("a_read_only_rdaemon_directory_fails_before_detaching", &why),
        };
    } else {
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).unwrap();
    }
    let why = if is_root() {
        "Read-only file system"
    } else {
        "Permission denied"
    };
    let secs = unique_secs();
    let mut cmd = env.cmd();
    cmd.env("RDAEMON_DIR", &dir);
    let run = env
        .run_cmd(cmd, &["start", "--name", "x", "--", "sleep", &secs])
        .code(1)
        .one_error_line()
        .stderr_has(&format!(
            "rdaemon directory '{}' is not writable: {why}",
            dir.display()
        ));
    assert_nothing_left(&env, &dir, &[], &secs, &run);
}

#[test]
fn a_pidfile_in_a_read_only_place_fails_before_detaching() {
    let env = Env::new();
    let ro = env.path("ro");
    let _mount;
    if is_root() {
        _mount = match ReadOnlyMount::new(&ro) {
            Ok(m) => m,
            Err(why) => {
                return skip(
                    "a_pidfile_in_a_read_only_place_fails_before_detaching",
                    &why,
                )
            }
        };
    } else {
        fs::create_dir(&ro).unwrap();
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
    }
    let pidfile = ro.join("x.pid");
    let run = start_fails(
        &env,
        &["--pidfile", pidfile.to_str().unwrap()],
        1,
        &format!("cannot write pidfile '{}'", pidfile.display()),
    );
    assert!(!run.stderr.contains("os error"), "{}", run.dump());
    // Neither the record, the lock nor the default log stayed in the rdaemon directory.
    assert_eq!(listing(env.dir()), vec!["ro".to_owned()]);
}

#[test]
fn restart_with_a_bad_user_keeps_the_daemon_running() {
    let env = Env::new();
    let pid = env.start("steady", &["sleep", &unique_secs()]);
    let record = fs::read_to_string(env.path("steady.json")).unwrap();
    let code = if is_root() { 1 } else { 4 };
    env.run(&["restart", "steady", "--user", "no-such-user-rdaemon"])
        .code(code)
        .one_error_line()
        .stderr_has("no-such-user-rdaemon");
    assert!(
        alive(pid),
        "restart stopped the daemon before finding the user unusable"
    );
    assert_eq!(env.pid_of("steady"), pid);
    assert_eq!(fs::read_to_string(env.path("steady.json")).unwrap(), record);
}

/// A bad-input sweep: a log in a missing directory, and a limit the cgroup tree cannot set,
/// were found only by the start after the stop, so `restart` left the daemon stopped (and
/// wanted stopped). They are found before anything is stopped now, as a plain `start` finds
/// them before anything runs.
#[test]
fn restart_with_a_log_or_limit_it_cannot_have_keeps_the_daemon_running() {
    let env = Env::new();
    let pid = env.start("steady", &["sleep", &unique_secs()]);
    let record = fs::read_to_string(env.path("steady.json")).unwrap();
    let missing = env.path("missing/x.log");
    let mut cases: Vec<(Vec<String>, i32, String)> = vec![
        (
            vec!["--log".into(), missing.display().to_string()],
            1,
            format!("cannot open log file '{}'", missing.display()),
        ),
        (
            vec!["--stderr".into(), missing.display().to_string()],
            1,
            format!("cannot open log file '{}'", missing.display()),
        ),
        (
            vec![
                "--cgroup".into(),
                "off".into(),
                "--tasks-max".into(),
                "5".into(),
            ],
            2,
            "need a cgroup".into(),
        ),
    ];
    // Where the cgroup tree offers no memory controller (this machine's v1 controllers), a
    // --memory-max cannot be set.
    let offered = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .iter()
        .map(|m| std::path::Path::new(m).join("cgroup.subtree_control"))
        .find_map(|p| fs::read_to_string(p).ok());
    if is_root() && offered.is_some_and(|o| !o.split_whitespace().any(|c| c == "memory")) {
        cases.push((
            vec!["--memory-max".into(), "10M".into()],
            1,
            "the memory controller is not available".into(),
        ));
    }
    for (options, code, message) in cases {
        let mut args = vec!["restart", "steady"];
        args.extend(options.iter().map(String::as_str));
        env.run(&args)
            .code(code)
            .one_error_line()
            .stderr_has(&message);
        assert!(alive(pid), "restart {options:?} stopped the daemon first");
        assert_eq!(env.pid_of("steady"), pid);
        assert_eq!(
            fs::read_to_string(env.path("steady.json")).unwrap(),
            record,
            "restart {options:?} changed the spec"
        );
    }
}

/// A program that exists but cannot be executed (no execute bit, a directory, a `#!` line
/// naming an interpreter that is not there or cannot be executed) is refused before anything
/// is detached, saying why, with `--respawn` too; as root, so is one whose mode bits do not let
/// the `--user` execute it. In an `up` file, before any entry starts: without the check, the
/// entries before it were started first.
#[test]
fn a_program_that_cannot_be_executed_fails_before_detaching() {
    let env = Env::new();
    let programs = env.path("programs");
    fs::create_dir(&programs).unwrap();
    let program = |name: &str, content: &str, mode: u32| {
        let path = programs.join(name);
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path.display().to_string()
    };
    let secs = unique_secs();
    let body = format!("exec sleep {secs}\n");
    let noexec = program("noexec.sh", &format!("#!/bin/sh\n{body}"), 0o644);
    let orphan = program(
        "orphan.sh",
        &format!("#!/no/such/interpreter\n{body}"),
        0o755,
    );
    let via = program("via.sh", &format!("#!{noexec}\n{body}"), 0o755);
    let dir = programs.display().to_string();
    let cases = [
        (&noexec, "Permission denied: it has mode 644".to_owned()),
        (&dir, "Is a directory".to_owned()),
        (
            &orphan,
            "the interpreter its #! line names, '/no/such/interpreter', does not exist".to_owned(),
        ),
        (
            &via,
            format!(
                "Permission denied: the interpreter its #! line names, '{noexec}', has mode 644"
            ),
        ),
    ];
    let before = listing(env.dir());
    for (program, why) in &cases {
        for respawn in [false, true] {
            let mut args = vec!["start", "--name", "x"];
            if respawn {
                args.push("--respawn");
            }
            args.extend(["--", program.as_str(), &secs]);
            let run = env
                .run(&args)
                .code(1)
                .one_error_line()
                .stderr_has(&format!("rdaemon: cannot execute '{program}': {why}"));
            assert_nothing_left(&env, env.dir(), &before, &secs, &run);
        }
    }

    // An up file: `a` comes first and would start; `b` cannot be executed, said at the line of
    // its `command`.
    let file = env.path("rdaemon.toml");
    fs::write(
        &file,
        format!(
            "[daemons.a]\ncommand = [\"sleep\", \"{secs}\"]\n\n[daemons.b]\ncommand = [\"{noexec}\"]\n"
        ),
    )
    .unwrap();
    let before = listing(env.dir());
    let run = env
        .run(&["up", "-f", file.to_str().unwrap()])
        .code(1)
        .one_error_line()
        .stderr_has(&format!(
            "rdaemon.toml:5: b: cannot execute '{noexec}': Permission denied"
        ));
    assert_nothing_left(&env, env.dir(), &before, &secs, &run);

    let Some(nobody) = root_and_nobody("a_program_that_cannot_be_executed_fails_before_detaching")
    else {
        return;
    };
    open_dir(&env);
    // Root may run it (one execute bit is enough), nobody may not (only the owner's is set).
    let mine = program("mine.sh", &format!("#!/bin/sh\n{body}"), 0o744);
    let run = env
        .run(&["start", "--name", "x", "--user", "nobody", "--", &mine])
        .code(1)
        .one_error_line()
        .stderr_has(&format!(
            "cannot execute '{mine}': Permission denied: it has mode 744 (owner uid 0, group 0), which does not let user 'nobody' (uid {}) execute it",
            nobody.uid
        ));
    assert_nothing_left(&env, env.dir(), &before, &secs, &run);
    // Its group's bit lets it in where nobody's group owns it.
    nix::unistd::chown(mine.as_str(), None, Some(nobody.gid)).unwrap();
    fs::set_permissions(&mine, fs::Permissions::from_mode(0o754)).unwrap();
    env.run(&["start", "--name", "x", "--user", "nobody", "--", &mine])
        .ok();
    env.run(&["stop", "x"]).ok();

    // A program nobody cannot reach, though its own mode lets anyone run it: a directory on
    // the way is root's 0700 (as `/root` on the way to a program in root's home). Also through
    // a symbolic link nobody can reach, in an up file, and as a script's interpreter.
    let vault = env.path("vault");
    fs::create_dir(&vault).unwrap();
    let before = listing(env.dir());
    fs::set_permissions(&vault, fs::Permissions::from_mode(0o700)).unwrap();
    let hidden = vault.join("hidden.sh");
    fs::write(&hidden, format!("#!/bin/sh\n{body}")).unwrap();
    fs::set_permissions(&hidden, fs::Permissions::from_mode(0o755)).unwrap();
    let link = programs.join("link.sh");
    std::os::unix::fs::symlink(&hidden, &link).unwrap();
    let sh = vault.join("sh");
    copy_executable("/bin/sh", &sh);
    let via_hidden = program(
        "via_hidden.sh",
        &format!("#!{}\n{body}", sh.display()),
        0o755,
    );
    let barred = format!(
        "Permission denied: user 'nobody' (uid {}) may not search the directory '{}' on the way to it (mode 700, owner uid 0, group 0)",
        nobody.uid,
        vault.display()
    );
    let hidden = hidden.display().to_string();
    let link = link.display().to_string();
    for program in [&hidden, &link] {
        env.run(&["start", "--name", "x", "--user", "nobody", "--", program])
            .code(1)
            .one_error_line()
            .stderr_has(&format!("cannot execute '{program}': {barred}"));
        assert_nothing_left(&env, env.dir(), &before, &secs, &env.run(&["list"]));
    }
    env.run(&[
        "start",
        "--name",
        "x",
        "--user",
        "nobody",
        "--",
        &via_hidden,
    ])
    .code(1)
    .one_error_line()
    .stderr_has(&format!(
        "cannot execute '{via_hidden}': the interpreter its #! line names, '{}': {barred}",
        sh.display()
    ));
    fs::write(
        &file,
        format!(
            "[daemons.a]\ncommand = [\"sleep\", \"{secs}\"]\n\n[daemons.b]\ncommand = [\"{hidden}\"]\nuser = \"nobody\"\n"
        ),
    )
    .unwrap();
    let run = env
        .run(&["up", "-f", file.to_str().unwrap()])
        .code(1)
        .one_error_line()
        .stderr_has(&format!(
            "rdaemon.toml:5: b: cannot execute '{hidden}': {barred}"
        ));
    assert_nothing_left(&env, env.dir(), &before, &secs, &run);
    // Root reaches it.
    env.run(&["start", "--name", "x", "--", &hidden]).ok();
    env.run(&["stop", "x"]).ok();
    // Looked up in PATH, one nobody cannot reach is passed over for the next, as nobody's own
    // execvp does after EACCES: root's copy first in PATH is not taken for nobody's.
    let decoy = vault.join("sleep");
    fs::write(&decoy, "#!/bin/sh\nexit 7\n").unwrap();
    fs::set_permissions(&decoy, fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("PATH={}:/usr/bin:/bin", vault.display());
    env.run(&[
        "start", "--name", "y", "--user", "nobody", "--env", &path, "--", "sleep", &secs,
    ])
    .ok();
    let pid = env.pid_of("y");
    env.track(pid);
    let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(!exe.starts_with(&vault), "{}", exe.display());
    env.run(&["stop", "y"]).ok();
}
