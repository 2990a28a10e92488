//! What rdaemon, run as root, takes on trust from files and sockets that another user can
//! make: a root daemon's `--env-file` (read at start and at every respawn), a `--ready file:` or
//! `--health file:` flag, and a `tcp:` listener the daemon holds in another network namespace.
//! Each attack is done the way the attacker would: as `nobody` (uid 65534, the daemon's user)
//! or as uid 1000 (a stranger), with `setpriv`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::common::*;

/// A stranger to every daemon here: no account is needed for `setpriv`.
const STRANGER: u32 = 1000;

/// `sh -c SCRIPT` as `uid` (its own gid, no supplementary groups).
fn as_uid(uid: u32, script: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new("setpriv");
    cmd.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"))
        .args(["--clear-groups", "/bin/sh", "-c", script])
        .current_dir("/");
    cmd
}

/// Runs SCRIPT as `uid` and requires it to succeed.
fn uid_does(uid: u32, script: &str) {
    let out = as_uid(uid, script).output().unwrap();
    assert!(
        out.status.success(),
        "uid {uid} could not run {script:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The tester's layout: W, root's 0755 directory in the test's directory (made traversable),
/// `W/nb` owned by nobody, and `W/tmp`, a sticky 1777 directory as `/tmp` is.
fn layout(env: &Env) -> (PathBuf, PathBuf, PathBuf) {
    open_dir(env);
    let w = env.path("w");
    fs::create_dir(&w).unwrap();
    fs::set_permissions(&w, fs::Permissions::from_mode(0o755)).unwrap();
    let nb = w.join("nb");
    fs::create_dir(&nb).unwrap();
    std::os::unix::fs::chown(&nb, Some(65534), Some(65534)).unwrap();
    let tmp = w.join("tmp");
    fs::create_dir(&tmp).unwrap();
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o1777)).unwrap();
    (w, nb, tmp)
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Attack A at start: a root daemon's env file that another user owns, or that sits where
/// another user can change it, is refused with the file and the reason, exit 1, and nothing
/// starts (with `--user root` too). Root's own file in root's directory is read.
#[test]
fn a_root_daemons_env_file_another_user_can_change_is_refused_at_start() {
    const TEST: &str = "a_root_daemons_env_file_another_user_can_change_is_refused_at_start";
    if root_and_nobody(TEST).is_none() {
        return;
    }
    let env = Env::new();
    let (w, nb, _) = layout(&env);
    let theirs = nb.join("root.env");
    fs::write(&theirs, "X=1\n").unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    // Nobody's file in root's directory.
    let nobodys = w.join("nobodys.env");
    fs::write(&nobodys, "X=1\n").unwrap();
    std::os::unix::fs::chown(&nobodys, Some(65534), Some(65534)).unwrap();
    // Root's file, but in nobody's directory: nobody can replace it.
    let in_theirs = nb.join("rootowned.env");
    fs::write(&in_theirs, "X=1\n").unwrap();
    let writable = w.join("world.env");
    fs::write(&writable, "X=1\n").unwrap();
    fs::set_permissions(&writable, fs::Permissions::from_mode(0o666)).unwrap();
    let strangers = w.join("stranger.env");
    fs::write(&strangers, "X=1\n").unwrap();
    std::os::unix::fs::chown(&strangers, Some(STRANGER), Some(STRANGER)).unwrap();
    let mark = unique_secs();
    for (file, user, why) in [
        (&theirs, None, "other users can write to"),
        (&nobodys, None, "owned by uid 65534"),
        (&nobodys, Some("root"), "owned by uid 65534"),
        (&in_theirs, None, "other users can write to"),
        (&writable, None, "other users can write it"),
        (&strangers, None, "owned by uid 1000"),
    ] {
        let f = s(file);
        let mut args = vec!["start", "--name", "atk", "--env-file", &f];
        if let Some(u) = user {
            args.extend(["--user", u]);
        }
        args.extend(["--", "sleep", &mark]);
        env.run(&args)
            .code(1)
            .one_error_line()
            .stderr_has("refusing env file")
            .stderr_has(&f)
            .stderr_has(why);
        assert!(env.track_marked(&mark).is_empty(), "{f} started something");
        assert!(!env.path("atk.json").exists(), "{f} left a record");
    }
    let good = w.join("good.env");
    fs::write(&good, "GOOD=yes\n").unwrap();
    fs::set_permissions(&good, fs::Permissions::from_mode(0o600)).unwrap();
    env.run(&[
        "start",
        "--name",
        "good",
        "--env-file",
        &s(&good),
        "--",
        "sleep",
        &mark,
    ])
    .ok();
    wait_environ_has(env.pid_of("good"), "GOOD=yes");
    env.run(&["stop", "good"]).ok();
}

/// Attack A at respawn: root's env file, trusted at the start, is handed to nobody (chown, as
/// an admin handing an app its configuration would); nobody puts its own `bin` first in PATH,
/// with a `sleep` of its own there. The next respawn must not read it: a failed launch with
/// the reason in the log, and nobody's `sleep` never runs as root.
#[test]
fn a_root_daemons_env_file_that_became_untrusted_is_not_used_at_respawn() {
    const TEST: &str = "a_root_daemons_env_file_that_became_untrusted_is_not_used_at_respawn";
    if root_and_nobody(TEST).is_none() {
        return;
    }
    let env = Env::new();
    let (w, nb, _) = layout(&env);
    let file = w.join("root.env");
    fs::write(&file, "X=1\n").unwrap();
    let log = w.join("renv.log");
    let mark = unique_secs();
    env.run(&[
        "start",
        "--name",
        "renv",
        "--respawn",
        "--restart-delay",
        "100ms",
        "--env-file",
        &s(&file),
        "--log",
        &s(&log),
        "--",
        "/bin/sh",
        "-c",
        &format!("sleep {mark}"),
    ])
    .ok();
    let child = wait_new_child(&env, "renv", 0);
    std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
    let ran = nb.join("ran");
    uid_does(
        65534,
        &format!(
            "mkdir '{nb}/bin' && printf '#!/bin/sh\\nid -u > {ran}\\nexec /bin/sleep \"$@\"\\n' > '{nb}/bin/sleep' && chmod 755 '{nb}/bin/sleep' && echo 'PATH={nb}/bin:/usr/bin:/bin' > '{file}'",
            nb = nb.display(),
            ran = ran.display(),
            file = file.display()
        ),
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until(
        "the respawn refused the env file, or ran nobody's sleep",
        DEADLINE,
        || {
            fs::read_to_string(&ran).is_ok_and(|t| t.ends_with('\n'))
                || fs::read_to_string(&log).is_ok_and(|t| t.contains("refusing env file"))
        },
    );
    env.track_marked(&mark);
    let uid = fs::read_to_string(&ran).ok();
    let text = fs::read_to_string(&log).unwrap();
    env.run(&["stop", "renv"]).ok();
    assert_eq!(
        uid, None,
        "nobody's sleep ran (as uid {uid:?}); log:\n{text}"
    );
    assert!(
        text.contains(&format!("refusing env file '{}'", file.display()))
            && text.contains("owned by uid 65534"),
        "{text}"
    );
}
/// Starts `rdaemon start ARGS` in the background, its output piped.
fn start_in_background(env: &Env, args: &[&str]) -> Background {
    let mut cmd = env.std_cmd();
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Background::spawn(&mut cmd)
}

/// Attack B: once the daemon runs, a stranger (uid 1000) creates the `--ready file:` flag in a
/// sticky directory; it does not make the daemon ready, for a daemon of nobody's or of root's.
/// The flag the daemon makes itself does.
#[test]
fn a_ready_file_made_by_a_stranger_does_not_count() {
    const TEST: &str = "a_ready_file_made_by_a_stranger_does_not_count";
    if root_and_nobody(TEST).is_none() {
        return;
    }
    let env = Env::new();
    let (w, nb, tmp) = layout(&env);
    let mark = unique_secs();
    for (name, user) in [("rfnb", Some("nobody")), ("rfroot", None)] {
        // As root, a root daemon's log is refused in nobody's directory.
        let logs = if user.is_some() { &nb } else { &w };
        let up = nb.join(format!("{name}.up"));
        let flag = tmp.join(format!("{name}.flag"));
        let ready = format!("file:{}", flag.display());
        let program = format!("touch '{}'; exec sleep {mark}", up.display());
        let log = s(&logs.join(format!("{name}.log")));
        let mut args = vec!["start", "--name", name, "--log", &log];
        if let Some(u) = user {
            args.extend(["--user", u]);
        }
        args.extend([
            "--ready",
            &ready,
            "--ready-timeout",
            "3s",
            "--",
            "sh",
            "-c",
            &program,
        ]);
        let start = start_in_background(&env, &args);
        wait_until("the daemon runs", DEADLINE, || up.exists());
        uid_does(STRANGER, &format!("touch '{}'", flag.display()));
        let out = start.output_within(DEADLINE, "start returns");
        env.track_marked(&mark);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && !stdout.contains("started"),
            "{name}: a stranger's flag made it ready\n{stdout}\n{stderr}"
        );
        assert!(
            stderr.contains("owned by uid 1000"),
            "{name}: {stdout}\n{stderr}"
        );
    }
    assert!(env.track_marked(&mark).is_empty());
    // The daemon's own flag counts.
    let flag = tmp.join("own.flag");
    let program = format!("touch '{}'; exec sleep {mark}", flag.display());
    env.run(&[
        "start",
        "--name",
        "own",
        "--user",
        "nobody",
        "--log",
        &s(&nb.join("own.log")),
        "--ready",
        &format!("file:{}", flag.display()),
        "--",
        "sh",
        "-c",
        &program,
    ])
    .ok()
    .stdout_has("started");
    env.run(&["stop", "own"]).ok();
}

/// Attack B, health: a stranger's file at the `--health file:` path keeps no daemon healthy.
#[test]
fn a_health_file_made_by_a_stranger_does_not_count() {
    const TEST: &str = "a_health_file_made_by_a_stranger_does_not_count";
    if root_and_nobody(TEST).is_none() {
        return;
    }
    let env = Env::new();
    let (_, nb, tmp) = layout(&env);
    let flag = tmp.join("health.flag");
    uid_does(STRANGER, &format!("touch '{}'", flag.display()));
    let log = nb.join("h.log");
    let mark = unique_secs();
    env.run(&[
        "start",
        "--name",
        "hf",
        "--respawn",
        "--user",
        "nobody",
        "--log",
        &s(&log),
        "--health",
        &format!("file:{}", flag.display()),
        "--health-interval",
        "100ms",
        "--health-retries",
        "1",
        "--",
        "sleep",
        &mark,
    ])
    .ok();
    wait_until("the health check fails", DEADLINE, || {
        fs::read_to_string(&log).is_ok_and(|t| t.contains("health check failed"))
    });
    let text = fs::read_to_string(&log).unwrap();
    env.run(&["stop", "hf"]).ok();
    env.track_marked(&mark);
    assert!(text.contains("owned by uid 1000"), "{text}");
}
/// The daemon's listener, in a network namespace of its own (`unshare -Urn`).
const NS_LISTENER: &str = "import socket, sys\n\
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
    s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(5)\n\
    open(sys.argv[2], 'w').close()\n\
    while True: s.accept()[0].close()\n";

/// A stranger's listener on the host.
const HOST_LISTENER: &str = "import socket, sys\n\
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
    s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(5)\n\
    while True: s.accept()[0].close()\n";

/// Attack C: the daemon listens on the port in its own network namespace; once it does, a
/// stranger (uid 1000) listens on the same port on the host. `--ready tcp:` must not take the
/// stranger's host listener for the daemon's.
#[test]
fn a_daemon_listener_in_another_network_namespace_is_not_ready() {
    const TEST: &str = "a_daemon_listener_in_another_network_namespace_is_not_ready";
    if root_and_nobody(TEST).is_none() {
        return;
    }
    let Some(py) = python3_or_skip(TEST) else {
        return;
    };
    let unshare_works = as_uid(65534, "unshare -Urn true")
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !unshare_works {
        return skip(TEST, "nobody cannot 'unshare -Urn' here");
    }
    let env = Env::new();
    let (_, nb, _) = layout(&env);
    let port = free_port().to_string();
    let up = nb.join("ns.up");
    let mark = unique_secs();
    let program = format!(
        "ip link set lo up 2>/dev/null; exec {} -c \"$0\" {port} '{}' {mark}",
        py.display(),
        up.display()
    );
    let start = start_in_background(
        &env,
        &[
            "start",
            "--name",
            "atkns",
            "--user",
            "nobody",
            "--log",
            &s(&nb.join("ns.log")),
            "--ready",
            &format!("tcp:{port}"),
            "--ready-timeout",
            "4s",
            "--",
            "unshare",
            "-Urn",
            "/bin/sh",
            "-c",
            &program,
            NS_LISTENER,
        ],
    );
    wait_until("the daemon listens in its namespace", DEADLINE, || {
        up.exists()
    });
    let mut host = Background::spawn(
        std::process::Command::new("setpriv")
            .arg(format!("--reuid={STRANGER}"))
            .arg(format!("--regid={STRANGER}"))
            .arg("--clear-groups")
            .arg(&py)
            .args(["-c", HOST_LISTENER, &port])
            .current_dir("/")
            .stdin(Stdio::null()),
    );
    wait_until("the stranger listens on the host", DEADLINE, || {
        assert!(
            host.child().try_wait().unwrap().is_none(),
            "the stranger's listener exited"
        );
        accepting(port.parse().unwrap())
    });
    let out = start.output_within(DEADLINE, "start returns");
    env.track_marked(&mark);
    drop(host);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && !stdout.contains("started"),
        "the stranger's host listener made it ready\n{stdout}\n{stderr}"
    );
}

/// Attack C, health: the daemon's listener is in its own network namespace, a stranger's on the
/// host; the `--health tcp:` check must fail rather than count the stranger's answer.
#[test]
fn a_health_listener_in_another_network_namespace_does_not_count() {
    const TEST: &str = "a_health_listener_in_another_network_namespace_does_not_count";
    if root_and_nobody(TEST).is_none() {
        return;
    }
    let Some(py) = python3_or_skip(TEST) else {
        return;
    };
    let unshare_works = as_uid(65534, "unshare -Urn true")
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !unshare_works {
        return skip(TEST, "nobody cannot 'unshare -Urn' here");
    }
    let env = Env::new();
    let (_, nb, _) = layout(&env);
    let port = free_port().to_string();
    let up = nb.join("ns.up");
    let log = nb.join("nsh.log");
    let mark = unique_secs();
    let program = format!(
        "ip link set lo up 2>/dev/null; exec {} -c \"$0\" {port} '{}' {mark}",
        py.display(),
        up.display()
    );
    env.run(&[
        "start",
        "--name",
        "nsh",
        "--respawn",
        "--user",
        "nobody",
        "--log",
        &s(&log),
        "--health",
        &format!("tcp:{port}"),
        "--health-interval",
        "100ms",
        "--health-retries",
        "1",
        "--",
        "unshare",
        "-Urn",
        "/bin/sh",
        "-c",
        &program,
        NS_LISTENER,
    ])
    .ok();
    env.track_marked(&mark);
    wait_until("the daemon listens in its namespace", DEADLINE, || {
        up.exists()
    });
    let mut host = Background::spawn(
        std::process::Command::new("setpriv")
            .arg(format!("--reuid={STRANGER}"))
            .arg(format!("--regid={STRANGER}"))
            .arg("--clear-groups")
            .arg(&py)
            .args(["-c", HOST_LISTENER, &port])
            .current_dir("/")
            .stdin(Stdio::null()),
    );
    wait_until("the stranger listens on the host", DEADLINE, || {
        assert!(
            host.child().try_wait().unwrap().is_none(),
            "the stranger's listener exited"
        );
        accepting(port.parse().unwrap())
    });
    // Before the stranger listened, checks failed for want of a connection; now one must fail
    // for what answers: the stranger's listener, not the daemon's.
    wait_until(
        "the health check fails on the stranger's listener",
        DEADLINE,
        || fs::read_to_string(&log).is_ok_and(|t| t.contains("not the daemon's")),
    );
    env.run(&["stop", "nsh"]).ok();
    env.track_marked(&mark);
    drop(host);
}
