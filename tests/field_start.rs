//! Issue 12, what real programs found in `start`, readiness and `restart`: a TCP readiness
//! check that believed any listener (item 1), a `--foreground` exec error lost in the log
//! (item 2), a closed stdout that aborted rdaemon mid-restart (item 4), Ctrl-C during a
//! readiness wait (item 5) and a `restart` that stopped the daemon on a full disk (item 7).

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid as NixPid;

use crate::common::*;

/// A pipe whose reader is already gone: every write to it fails with EPIPE.
fn reader_gone_pipe() -> OwnedFd {
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    write
}

/// Runs rdaemon with `args` and its stdout on a pipe nobody reads: its exit code and stderr.
fn run_with_closed_stdout(env: &Env, args: &[&str]) -> (Option<i32>, String) {
    let out = env
        .std_cmd()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(reader_gone_pipe()))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Item 4: `rdaemon list | head -1` with enough daemons ended in a panic (exit 134 in a release
/// build, 101 here), and a `restart` whose output reader was gone stopped the daemon, then
/// panicked on its "stopped" line before starting it again. Now a closed stdout only ends the
/// output: every command finishes its work and exits with its own code, quietly.
#[test]
fn a_closed_stdout_ends_output_quietly_and_a_restart_still_finishes() {
    let env = Env::new();
    let secs = unique_secs();
    for i in 0..50 {
        env.start(&format!("d{i:02}"), &["sleep", &secs]);
    }
    for args in [
        &["list"][..],
        &["list", "--json"],
        &["list", "--names"],
        &["status"],
    ] {
        // `status` of several running daemons answers 0; the rest succeed.
        let (code, stderr) = run_with_closed_stdout(&env, args);
        assert_eq!((code, stderr.as_str()), (Some(0), ""), "rdaemon {args:?}");
    }
    // The real pipeline prints its one line.
    let bin = assert_cmd::cargo::cargo_bin!("rdaemon");
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c").arg("\"$0\" list | head -1").arg(bin);
    let out = isolate(&mut cmd, env.dir()).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{out:?}"
    );

    let old = env.pid_of("d00");
    let (code, stderr) = run_with_closed_stdout(&env, &["restart", "d00"]);
    assert_eq!((code, stderr.as_str()), (Some(0), ""), "restart");
    wait_dead(old);
    let new = env.pid_of("d00");
    env.track(new);
    assert_ne!(new, old);
    assert!(alive(new), "the restart did not start d00 again");
    assert_eq!(env.track_marked(&secs).len(), 50);
    env.run(&["status", "d00"]).ok();
}

/// Item 5: Ctrl-C during a readiness wait killed `start` and left the half-started daemon
/// running, its status "running". Now `start` stops it as a timeout would and exits 130.
#[test]
fn ctrl_c_during_a_readiness_wait_stops_the_daemon_and_exits_130() {
    let env = Env::new();
    let secs = unique_secs();
    let never = env.path("never.ready");
    let start = start_waiting(&env, "half", &[], &never, &secs);
    let rdaemon = start.pid();
    // rdaemon's own command line holds the argument too: the daemon is the `sleep`.
    let sleeping = || -> Vec<i32> {
        live_pids_with_arg(&secs)
            .into_iter()
            .filter(|p| fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c == "sleep\n"))
            .collect()
    };
    wait_until("the daemon runs", DEADLINE, || sleeping().len() == 1);
    let daemon = sleeping()[0];
    env.track(daemon);
    // start is its subreaper: once the intermediate process is gone, its parent.
    wait_until("the daemon is start's child", DEADLINE, || {
        stat(daemon).is_some_and(|s| s.ppid == rdaemon)
    });
    // It catches SIGINT from before the launch; the daemon runs: the signal ends the wait.
    wait_until("start catches SIGINT", DEADLINE, || {
        catches(rdaemon, Signal::SIGINT)
    });
    kill(NixPid::from_raw(rdaemon), Signal::SIGINT).unwrap();
    let out = start.into_output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert!(
        stderr.contains("cannot start half: interrupted by SIGINT")
            && stderr.contains(&format!("stopped it (pid {daemon})")),
        "{stderr}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "it said started");
    assert!(!alive(daemon), "the half-started daemon still runs");
    assert!(!env.path("half.pid").exists());
    env.run(&["status", "half"])
        .code(3)
        .stdout_has("half is stopped");

    // SIGTERM to start: the same, exit 128 + 15.
    let start = start_waiting(&env, "half", &[], &never, &secs);
    let rdaemon = start.pid();
    // Caught from before the launch: the daemon's pidfile tells it was launched.
    wait_until(
        "start catches SIGTERM and its daemon runs",
        DEADLINE,
        || catches(rdaemon, Signal::SIGTERM) && env.path("half.pid").exists(),
    );
    let daemon = env.pid_of("half");
    env.track(daemon);
    kill(NixPid::from_raw(rdaemon), Signal::SIGTERM).unwrap();
    let out = start.into_output();
    assert_eq!(out.status.code(), Some(143), "{out:?}");
    assert!(!alive(daemon), "the half-started daemon still runs");
    assert!(!env.path("half.pid").exists());
}

/// A tiny TCP server: listens on 127.0.0.1:PORT (argv[1]) and sleeps.
fn listener_script(env: &Env) -> PathBuf {
    let path = env.path("listen.py");
    fs::write(
        &path,
        "import socket, sys, time\n\
         s = socket.socket()\n\
         s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1', int(sys.argv[1])))\n\
         s.listen()\n\
         time.sleep(100000)\n",
    )
    .unwrap();
    path
}

/// Item 1: with an old server still on the port, `start --ready tcp:PORT` of a new one said
/// "started" (exit 0) while the new program died with "Address already in use". Now `start`
/// refuses before anything runs, naming the holder, and during the wait only a listener of the
/// daemon's own processes counts.
#[test]
fn tcp_readiness_counts_only_the_daemons_own_listener() {
    let Some(python) = python3_or_skip("tcp_readiness_counts_only_the_daemons_own_listener") else {
        return;
    };
    let env = Env::new();
    let script = listener_script(&env);
    let (py, sc) = (python.to_str().unwrap(), script.to_str().unwrap());

    // A server rdaemon knows nothing of holds the port.
    let port = free_port();
    let mut stranger = Background::spawn(
        std::process::Command::new(&python)
            .arg(&script)
            .arg(port.to_string()),
    );
    wait_until("the stranger listens", DEADLINE, || accepting(port));
    let tcp = format!("tcp:{port}");
    env.run(&[
        "start",
        "--name",
        "new",
        "--ready",
        &tcp,
        "--",
        py,
        sc,
        &port.to_string(),
    ])
    .code(1)
    .one_error_line()
    .stderr_has(&format!(
        "rdaemon: port {port} is already in use by pid {} (python3)",
        stranger.pid()
    ));
    assert_eq!(listing(env.dir()), ["listen.py"], "start left files behind");
    stranger.child().kill().unwrap();
    stranger.child().wait().unwrap();

    // A daemon holds it: its name is given too.
    let old = env.start("old", &[py, sc, &port.to_string()]);
    wait_until("old listens", DEADLINE, || accepting(port));
    env.run(&[
        "start",
        "--name",
        "new",
        "--ready",
        &tcp,
        "--",
        py,
        sc,
        &port.to_string(),
    ])
    .code(1)
    .stderr_has(&format!(
        "rdaemon: port {port} is already in use by pid {old} (python3, daemon 'old')"
    ));
    env.run(&["stop", "old"]).ok();

    // The daemon's own listener, up only once the test lets the program go, which it does once
    // `start` waits: started, and only then.
    let go = env.path("go");
    let slow = env.script(
        "slow.sh",
        &format!("{}; exec {py} {sc} \"$1\"", until_go(&go)),
    );
    let mut start = start_in_background(
        &env,
        "new",
        &[
            "--ready",
            &tcp,
            "--ready-timeout",
            "60s",
            "--",
            slow.to_str().unwrap(),
            &port.to_string(),
        ],
    );
    wait_start_waits(&env, &mut start, "the listener", || {
        env.path("new.pid").exists()
    });
    // Looks enough for several connection attempts (without a listener reported there, a look
    // connects at every 8th).
    wait_start_pauses(&mut start, 40);
    assert!(!accepting(port), "a listener before the go");
    fs::write(&go, "").unwrap();
    let (code, stdout, stderr) = finish_start(&env, start);
    let new = env.pid_of("new");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains(&format!("started new (pid {new})")),
        "{stdout}"
    );
    assert!(accepting(port));
    env.run(&["stop", "new"]).ok();

    // Someone else's listener that comes up during the wait does not count: the daemon here
    // never listens, so the start times out, saying whose listener it ignored.
    let port = free_port();
    let waiting = env.script("waiting.sh", ": > \"$1\"; exec sleep 100000");
    let mut cmd = env.std_cmd();
    cmd.args([
        "start",
        "--name",
        "idle",
        "--ready-timeout",
        "3s",
        "--ready",
    ])
    .arg(format!("tcp:{port}"))
    .arg("--")
    .arg(&waiting)
    .arg(env.path("idle.began"))
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let start = Background::spawn(&mut cmd);
    env.wait_file("idle.began");
    let intruder = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let out = start.into_output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // Held by this test, or also by a child another test thread forked meanwhile (a copy of
    // the socket until that child execs): either is named, never the daemon.
    assert!(
        stderr.contains("it was not ready after 3s")
            && stderr.contains(&format!(
                "ignored a listener on 127.0.0.1:{port} that is held by pid "
            ))
            && stderr.contains("not the daemon's"),
        "{stderr}"
    );
    drop(intruder);
    assert!(!env.path("idle.pid").exists());

    // Without root, another user's sockets have no visible holder: "by another process".
    let test = "tcp_readiness_counts_only_the_daemons_own_listener";
    if !need_root(test) {
        return;
    }
    let port = free_port();
    let _root_listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let theirs = env.path("nobody");
    fs::create_dir(&theirs).unwrap();
    nix::unistd::chown(&theirs, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    // A copy nobody can surely run (the build directory may be closed to it).
    let bin = theirs.join("rdaemon");
    copy_executable(assert_cmd::cargo::cargo_bin!("rdaemon"), &bin);
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .arg("--dir")
        .arg(theirs.join("d"))
        .args(["start", "--name", "x", "--ready"])
        .arg(format!("tcp:{port}"))
        .args(["--", "sleep", &unique_secs()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("rdaemon: port {port} is already in use by another process\n")
    );
}

/// A user trial: `start --ready http:` with another server on the port said "started" (exit 0),
/// that server's answer taken for the new program's, which died with "Address already in use".
/// As with `tcp:`, the start is refused before anything runs, naming the holder.
#[test]
fn http_readiness_refuses_a_port_another_server_holds() {
    let Some(python) = python3_or_skip("http_readiness_refuses_a_port_another_server_holds") else {
        return;
    };
    let env = Env::new();
    let port = free_port();
    let mut stranger = Background::spawn(
        std::process::Command::new(&python)
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .current_dir(env.dir())
            .stderr(std::process::Stdio::null()),
    );
    wait_until("the stranger listens", DEADLINE, || accepting(port));
    let url = format!("http:http://127.0.0.1:{port}/");
    let py = python.to_str().unwrap();
    env.run(&[
        "start",
        "--name",
        "web",
        "--ready",
        &url,
        "--",
        py,
        "-m",
        "http.server",
        "--bind",
        "127.0.0.1",
        &port.to_string(),
    ])
    .code(1)
    .one_error_line()
    .stderr_has(&format!(
        "rdaemon: port {port} is already in use by pid {} (python3)",
        stranger.pid()
    ));
    assert!(!env.path("web.pid").exists());
    assert!(!env.path("web.json").exists());
    stranger.child().kill().unwrap();
    stranger.child().wait().unwrap();
}

/// Item 2: `--foreground` lost its exec error. With `--log`, the message went to fd 2 after it
/// pointed at the log, which was then removed: exit 1, nothing on screen. With `--user`, the
/// clean-up ran unprivileged and left the pidfile, record and lock behind. Now the error reaches
/// the terminal and nothing is left; the program still gets the user's ids and nothing more.
#[test]
fn foreground_exec_errors_reach_the_terminal_and_leave_nothing() {
    let env = Env::new();
    let program = env.path("noshebang");
    fs::write(&program, "sleep 1000\n").unwrap();
    fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).unwrap();
    let log = env.path("fg.log");
    env.run(&[
        "start",
        "--foreground",
        "--name",
        "fg",
        "--log",
        log.to_str().unwrap(),
        "--",
        program.to_str().unwrap(),
    ])
    .code(1)
    .one_error_line()
    .stderr_has("rdaemon: cannot execute")
    .stderr_has("Exec format error");
    assert_eq!(listing(env.dir()), ["noshebang"], "left behind");

    if !need_root("foreground_exec_errors_reach_the_terminal_and_leave_nothing") {
        return;
    }
    // nobody cannot enter a directory of root's with mode 0700: the exec as nobody fails.
    let private = env.path("private");
    fs::create_dir(&private).unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
    let program = private.join("prog");
    copy_executable("/bin/true", &program);
    let run = env
        .run(&[
            "start",
            "--foreground",
            "--user",
            "nobody",
            "--name",
            "fg",
            "--log",
            log.to_str().unwrap(),
            "--",
            program.to_str().unwrap(),
        ])
        .code(1)
        .one_error_line()
        .stderr_has("Permission denied");
    assert!(run.stderr.contains("cannot execute"), "{}", run.dump());
    assert_eq!(listing(env.dir()), ["noshebang", "private"], "left behind");

    // The way back to root was only rdaemon's: the program has nobody's ids in all four slots
    // and no capability.
    let secs = unique_secs();
    let mut cmd = env.std_cmd();
    cmd.args(["start", "--foreground", "--user", "nobody", "--name", "fg"])
        .args(["--", "sleep", &secs])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let fg = Background::spawn(&mut cmd);
    let pid = fg.pid();
    env.track(pid);
    wait_until("the program has become sleep", DEADLINE, || {
        fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c == "sleep\n")
    });
    assert_eq!(status_field(pid, "Uid"), "65534\t65534\t65534\t65534");
    assert_eq!(status_field(pid, "Gid"), "65534\t65534\t65534\t65534");
    for caps in ["CapPrm", "CapEff", "CapAmb", "CapInh"] {
        assert_eq!(status_field(pid, caps), "0000000000000000", "{caps}");
    }
    env.run(&["stop", "fg"]).ok();
    drop(fg);
}

/// A small tmpfs mounted by a test (needs CAP_SYS_ADMIN), detached when dropped, also when the
/// test fails (lazily: a daemon may still hold its log there).
struct SmallTmpfs {
    path: PathBuf,
}

impl SmallTmpfs {
    fn new(path: &Path) -> Result<SmallTmpfs, String> {
        fs::create_dir_all(path).map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m,mode=0755", "rdaemon-test"])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(SmallTmpfs {
            path: path.to_owned(),
        })
    }

    /// Writes zeros until the file system is full.
    fn fill(&self) {
        use std::io::Write;
        let mut file = fs::File::create(self.path.join("filler")).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.sync_all();
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

/// Item 7: on a full disk, `restart` stopped the daemon and then could not start it again. Now
/// it checks what the start will need before stopping anything, and fails (exit 1) leaving the
/// running daemon as it was: with the rdaemon directory, or only the log, on the full disk.
#[test]
fn restart_on_a_full_disk_leaves_the_daemon_running() {
    let test = "restart_on_a_full_disk_leaves_the_daemon_running";
    if !need_root(test) {
        return;
    }
    let env = Env::new();
    let small = match SmallTmpfs::new(&env.path("small")) {
        Ok(m) => m,
        Err(why) => {
            assert!(std::env::var_os("CI").is_none(), "{test}: {why}");
            return skip(test, &why);
        }
    };
    let dir = small.path.to_str().unwrap().to_owned();
    let secs = unique_secs();
    // One daemon keeps everything on the small disk, one only its log.
    env.run(&[
        "--dir", &dir, "start", "--name", "full", "--", "sleep", &secs,
    ])
    .ok();
    let full_pid = || -> i32 {
        fs::read_to_string(small.path.join("full.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let full = full_pid();
    env.track(full);
    let log = small.path.join("logged.log");
    env.run(&[
        "start",
        "--name",
        "logged",
        "--log",
        log.to_str().unwrap(),
        "--",
        "sleep",
        &secs,
    ])
    .ok();
    let logged = env.pid_of("logged");
    small.fill();

    env.run(&["--dir", &dir, "restart", "full"])
        .code(1)
        .one_error_line()
        .stderr_has("No space left on device");
    env.run(&["restart", "logged"])
        .code(1)
        .one_error_line()
        .stderr_has(&format!("'{}': No space left on device", log.display()));
    for (name, pid) in [("full", full), ("logged", logged)] {
        assert!(alive(pid), "restart stopped {name} on a full disk");
    }
    assert_eq!(full_pid(), full);
    assert_eq!(env.pid_of("logged"), logged);
    env.run(&["--dir", &dir, "status", "full"]).ok();
    env.run(&["status", "logged"]).ok();
}

/// A user whose HOME cannot hold the default directory (`nobody`'s is `/nonexistent`) is told
/// the way out, as one without HOME is.
#[test]
fn an_unusable_home_names_the_way_out() {
    let test = "an_unusable_home_names_the_way_out";
    let env = Env::new();
    if !need_root(test) {
        return;
    }
    let theirs = env.path("nobody");
    fs::create_dir(&theirs).unwrap();
    fs::set_permissions(env.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    let bin = theirs.join("rdaemon");
    copy_executable(assert_cmd::cargo::cargo_bin!("rdaemon"), &bin);
    // A HOME that nobody cannot write: the test's own directory.
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args(["start", "--", "sleep", &unique_secs()])
        .env_remove("RDAEMON_DIR")
        .env_remove("RDAEMON_RUNTIME_DIR")
        .env_remove("XDG_STATE_HOME")
        .env("HOME", env.dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("rdaemon: cannot create rdaemon directory")
            && stderr.trim_end().ends_with("(use --dir or RDAEMON_DIR)")
            && stderr.lines().count() == 1,
        "{stderr}"
    );
}

/// Tried as a user would: a script saved with DOS line endings, or whose `#!` names an
/// interpreter that is not installed, and a binary built for another C library all make execve
/// say "No such file or directory" of a file that is there. `start` (and `--respawn`'s first
/// child) says which file is missing, and leaves nothing behind.
#[test]
fn a_missing_interpreter_is_named_and_nothing_is_left() {
    let env = Env::new();
    let programs = env.path("programs");
    fs::create_dir(&programs).unwrap();
    let script = |name: &str, content: &[u8]| {
        let path = programs.join(name);
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    };
    let mut cases = vec![
        (
            script("missing.sh", b"#!/no/such/interpreter\nsleep 1000\n"),
            "the interpreter its #! line names, '/no/such/interpreter', does not exist".to_owned(),
        ),
        (
            script("dos.sh", b"#!/bin/sh\r\nsleep 1000\r\n"),
            r"its #! line names the interpreter '/bin/sh\r', which ends in a carriage return: the script has DOS line endings (CRLF)".to_owned(),
        ),
    ];
    // /bin/true with its dynamic loader renamed, as a program built for musl looks here.
    let binary = fs::read("/bin/true").unwrap();
    let loader = b"/lib64/ld-linux-x86-64.so.2";
    match binary.windows(loader.len()).position(|w| w == loader) {
        Some(at) => {
            let mut other = binary.clone();
            other[at..at + loader.len()].copy_from_slice(b"/lib64/ld-none-x86-64.so.2\0");
            cases.push((
                script("other-libc", &other),
                "the dynamic loader it needs, '/lib64/ld-none-x86-64.so.2', does not exist"
                    .to_owned(),
            ));
        }
        // Another architecture or C library: the two scripts still say what they must.
        None if cfg!(all(target_arch = "x86_64", target_env = "gnu")) => {
            panic!(
                "/bin/true does not name {}",
                String::from_utf8_lossy(loader)
            )
        }
        None => eprintln!("a_missing_interpreter_is_named_and_nothing_is_left: no ELF case here"),
    }
    for (program, why) in &cases {
        for respawn in [false, true] {
            let mut args = vec!["start", "--name", "app"];
            if respawn {
                args.push("--respawn");
            }
            args.extend(["--", program.to_str().unwrap()]);
            env.run(&args).code(1).one_error_line().stderr_has(&format!(
                "rdaemon: cannot execute '{}': {why}",
                program.display()
            ));
            env.run(&["status", "app"]).code(3);
            assert!(!env.path("app.pid").exists(), "a pidfile is left");
        }
    }
}
