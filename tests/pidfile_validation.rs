//! SPEC §4: a pidfile whose content is not one positive decimal pid is reported as invalid,
//! with its path, and nothing is signalled. `status` answers 4 (unknown), `stop` fails with 1
//! and leaves the file and every process alone, `start` replaces the file with a warning.
//!
//! Most bad contents are built around the pid of a live process of the test's own, so that a
//! reader that trimmed, truncated or parsed leniently would find a pid it could really signal.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::common::*;

/// Every kind of bad content the issue lists, named for the failure message.
fn bad_contents(live: i32) -> Vec<(&'static str, Vec<u8>)> {
    let mut megabytes = format!("{live}\n").into_bytes();
    megabytes.resize(4 << 20, b' ');
    let mut binary = live.to_string().into_bytes();
    binary.extend_from_slice(b"\0\xff\n");
    vec![
        ("empty", b"".to_vec()),
        ("only whitespace", b" \n\t\n".to_vec()),
        ("not a number", b"abc\n".to_vec()),
        ("zero", b"0\n".to_vec()),
        ("pid 1", b"1\n".to_vec()),
        ("negative", format!("-{live}\n").into_bytes()),
        ("minus one", b"-1\n".to_vec()),
        ("trailing garbage", b"123abc\n".to_vec()),
        (
            "trailing garbage after a live pid",
            format!("{live}abc\n").into_bytes(),
        ),
        ("two pids", format!("{live}\n{live}\n").into_bytes()),
        ("a plus sign", format!("+{live}\n").into_bytes()),
        ("hexadecimal", format!("0x{live:x}\n").into_bytes()),
        ("a fraction", format!("{live}.0\n").into_bytes()),
        (
            "beyond pid_max",
            format!("{}\n", pid_max() + 1).into_bytes(),
        ),
        ("beyond 32 bits", b"99999999999\n".to_vec()),
        ("binary after the pid", binary),
        ("binary only", b"\x00\x01\x02\xfe\xff".to_vec()),
        ("megabytes of whitespace after the pid", megabytes),
    ]
}

#[test]
fn every_bad_content_is_invalid_for_status_stop_and_start() {
    let env = Env::new();
    let bystander = OwnChild::sleep();
    let live = bystander.pid();
    let pidfile = env.path("bad.pid");
    let path = pidfile.to_str().unwrap();
    for (what, content) in bad_contents(live) {
        fs::write(&pidfile, &content).unwrap();
        fs::set_permissions(&pidfile, fs::Permissions::from_mode(0o644)).unwrap();

        let run = env
            .run(&["status", "--pidfile", path])
            .code(4)
            .one_error_line()
            .stderr_has("invalid pidfile")
            .stderr_has(path);
        assert!(run.stdout.is_empty(), "{what}: {}", run.dump());

        env.run(&["stop", "--pidfile", path])
            .code(1)
            .one_error_line()
            .stderr_has("invalid pidfile")
            .stderr_has(path);
        assert!(
            fs::read(&pidfile).unwrap() == content,
            "{what}: stop changed the pidfile"
        );
        assert_left_alone(live, &format!("a stop with a pidfile {what}"));

        let run = env
            .run(&["start", "--pidfile", path, "--", "sleep", &unique_secs()])
            .ok()
            .stdout_has("started bad (pid")
            .stderr_has("warning")
            .stderr_has(path);
        let new = env.pid_of("bad");
        assert_ne!(new, live, "{what}: {}", run.dump());
        assert!(alive(new), "{what}: {}", run.dump());
        assert_left_alone(live, &format!("a start with a pidfile {what}"));
        // The replaced pidfile is sane again, so everything recovers.
        env.run(&["status", "bad"]).ok();
        env.run(&["stop", "bad"]).ok();
        assert!(!alive(new), "{what}");
    }
}

#[test]
fn a_fifo_or_directory_at_the_pidfile_path_is_invalid_and_does_not_hang() {
    let env = Env::new();
    let fifo = env.path("fifo.pid");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let dir = env.path("dir.pid");
    fs::create_dir(&dir).unwrap();
    for path in [&fifo, &dir] {
        let path = path.to_str().unwrap();
        // A reader that opened a FIFO without O_NONBLOCK would block here until the deadline
        // of the harness.
        env.run(&["status", "--pidfile", path])
            .code(4)
            .one_error_line()
            .stderr_has(path);
        env.run(&["stop", "--pidfile", path])
            .code(1)
            .one_error_line()
            .stderr_has(path);
    }
    assert!(fifo.exists() && dir.is_dir());
}

/// A FIFO put at a running daemon's pidfile path: `status` goes by the record, and `restart`
/// refuses before it stops anything (it used to stop the daemon, then fail its start on the
/// FIFO it would not remove, leaving the daemon dead); `start` of the stopped daemon refuses
/// the same way, and nothing is removed that rdaemon did not make.
#[test]
fn a_fifo_at_a_running_daemons_pidfile_stops_nothing_at_restart() {
    let env = Env::new();
    let pid = env.start("web", &["sleep", "1000"]);
    let pidfile = env.path("web.pid");
    fs::remove_file(&pidfile).unwrap();
    nix::unistd::mkfifo(&pidfile, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let shown = pidfile.to_str().unwrap();
    env.run(&["status", "web"]).ok().stderr_has(shown);
    let refusal = format!("refusing pidfile '{shown}': it is a FIFO, not a regular file");
    env.run(&["restart", "web"])
        .code(1)
        .one_error_line()
        .stderr_has(&refusal);
    assert!(
        alive(pid),
        "restart stopped the daemon, then refused the FIFO"
    );
    env.run(&["stop", "web"]).ok();
    assert!(!alive(pid));
    env.run(&["start", "web"])
        .code(1)
        .one_error_line()
        .stderr_has(&refusal);
    let kind = fs::symlink_metadata(&pidfile).unwrap().file_type();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&kind));
}

#[test]
fn an_unreadable_pidfile_is_unknown() {
    // Root reads any file: as root, rdaemon runs as `nobody` here (so that CI, which runs as
    // root, tests this too).
    let as_nobody = is_root();
    if as_nobody && nobody().is_none() {
        return skip(
            "an_unreadable_pidfile_is_unknown",
            "root reads any file, and there is no 'nobody' user to run rdaemon as",
        );
    }
    let env = Env::new();
    let bystander = OwnChild::sleep();
    let pidfile = env.path("locked.pid");
    fs::write(&pidfile, format!("{}\n", bystander.pid())).unwrap();
    fs::set_permissions(&pidfile, fs::Permissions::from_mode(0o000)).unwrap();
    let path = pidfile.to_str().unwrap();
    let cmd = || {
        if !as_nobody {
            return env.cmd();
        }
        fs::set_permissions(env.dir(), fs::Permissions::from_mode(0o755)).unwrap();
        let own = env.path("nobody");
        if !own.exists() {
            fs::create_dir(&own).unwrap();
            let user = nobody().unwrap();
            nix::unistd::chown(&own, Some(user.uid), Some(user.gid)).unwrap();
        }
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(assert_cmd::cargo::cargo_bin!("rdaemon"));
        isolate(&mut cmd, &own).current_dir("/");
        assert_cmd::Command::from_std(cmd)
    };
    env.run_cmd(cmd(), &["status", "--pidfile", path])
        .code(4)
        .stderr_has("Permission denied")
        .stderr_has(path);
    env.run_cmd(cmd(), &["stop", "--pidfile", path])
        .code(1)
        .stderr_has(path);
    assert_left_alone(bystander.pid(), "the refused stops");
}

/// A pidfile beneath a regular file (a mistyped path): the error names the pidfile, not only
/// the "directory" that is not one.
#[test]
fn a_pidfile_beneath_a_file_is_named_in_the_error() {
    let env = Env::new();
    let file = env.path("config");
    fs::write(&file, "x\n").unwrap();
    let pidfile = file.join("x.pid");
    let secs = unique_secs();
    let run = env.run(&[
        "start",
        "--name",
        "x",
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--",
        "sleep",
        &secs,
    ]);
    env.track_marked(&secs);
    run.code(1).one_error_line().stderr_has(&format!(
        "cannot use pidfile '{}': cannot open directory '{}': Not a directory",
        pidfile.display(),
        file.display()
    ));
    assert!(env.track_marked(&secs).is_empty());
}

#[test]
fn a_pidfile_naming_rdaemon_itself_or_its_parent_is_refused() {
    // rdaemon's parent is this test process: a pidfile naming it must never be signalled.
    let env = Env::new();
    let pidfile = env.path("parent.pid");
    fs::write(&pidfile, format!("{}\n", std::process::id())).unwrap();
    let path = pidfile.to_str().unwrap();
    env.run(&["stop", "--pidfile", path])
        .code(1)
        .one_error_line()
        .stderr_has("rdaemon's parent");
    env.run(&["status", "--pidfile", path]).code(4);
    env.run(&["start", "--pidfile", path, "--", "sleep", &unique_secs()])
        .ok()
        .stderr_has("warning")
        .stderr_has("rdaemon's parent");
    assert_ne!(env.pid_of("parent"), std::process::id() as i32);
    env.run(&["stop", "parent"]).ok();
    // rdaemon's own pid: run it through a shell that execs it, so the pid is known in advance.
    let me = env.path("me.pid");
    let bin = assert_cmd::cargo::cargo_bin!("rdaemon");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("echo $$ > \"$ME\"; exec \"$BIN\" stop --pidfile \"$ME\"")
        .env("BIN", bin)
        .env("ME", &me);
    let run = isolate(&mut cmd, env.dir()).output().unwrap();
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("rdaemon itself"), "{stderr}");
}

#[test]
fn garbage_in_the_named_pidfile_is_replaced_by_start_with_a_warning() {
    let env = Env::new();
    fs::write(env.path("junk.pid"), "abc\n").unwrap();
    env.run(&["start", "--name", "junk", "--", "sleep", "1000"])
        .ok()
        .stderr_has("warning")
        .stderr_has("junk.pid");
    assert!(alive(env.pid_of("junk")));
}
