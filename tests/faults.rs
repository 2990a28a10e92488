//! Fault injection: rdaemon killed with SIGKILL at each stage of `start` (through the
//! `RDAEMON_FAULT` hook), a full disk under the log and under the rdaemon directory, a corrupt
//! record. Each must leave a state that the next `start` recovers from: no duplicate daemon, no
//! permanent "already running", no half-written pidfile or record.

use std::fs;
use std::path::Path;
use std::process::Command as StdCommand;

use crate::common::*;

/// Every live process whose environment carries `tag`: what a killed start left running.
fn tagged(tag: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if environ(pid).iter().any(|v| v == tag) && alive(pid) {
            out.push(pid);
        }
    }
    out
}

/// How many times the program has run (each run appends a line).
fn ran(runs: &Path) -> usize {
    fs::read_to_string(runs)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

/// Starts `name` with rdaemon dying at `stage`; returns the file each run of the program appends
/// its pid to.
fn start_killed_at(env: &Env, stage: &str, tag: &str) -> std::path::PathBuf {
    let runs = env.path("runs");
    let script = env.script("prog.sh", "echo $$ >> \"$1\"; exec sleep 1000");
    let mut cmd = env.cmd();
    cmd.env("RDAEMON_FAULT", stage).env(
        tag.split('=').next().unwrap(),
        tag.split('=').nth(1).unwrap(),
    );
    let run = env.run_cmd(
        cmd,
        &[
            "start",
            "--name",
            "f",
            "--",
            script.to_str().unwrap(),
            runs.to_str().unwrap(),
        ],
    );
    assert_eq!(
        run.code,
        -1,
        "rdaemon was not killed at {stage}\n{}",
        run.dump()
    );
    runs
}

fn recover_after(stage: &str, daemon_survives: bool) {
    let env = Env::new();
    let tag = format!("RDAEMON_TEST_TAG={}-{}", stage, std::process::id());
    let runs = start_killed_at(&env, stage, &tag);
    if daemon_survives {
        // The exec was already under way: the daemon runs, with its pidfile and record.
        let pid = env.pid_of("f");
        env.track(pid);
        wait_until("the program has run", DEADLINE, || ran(&runs) >= 1);
        // The same command line: with another one, `start` would refuse (SPEC §2).
        let script = env.path("prog.sh");
        env.run(&[
            "start",
            "--name",
            "f",
            "--",
            script.to_str().unwrap(),
            runs.to_str().unwrap(),
        ])
        .ok()
        .stdout_has(&format!("f is already running (pid {pid})"));
    } else {
        // Nothing from the killed start may run the program or linger.
        wait_until(&format!("nothing tagged {tag} is alive"), DEADLINE, || {
            // Tracked as seen: killed at the end if it never goes away by itself.
            let live = tagged(&tag);
            for &pid in &live {
                env.track(pid);
            }
            live.is_empty()
        });
        assert!(
            !env.path("f.pid").exists(),
            "a pidfile survived a start killed at {stage}"
        );
        let script = env.path("prog.sh");
        env.run(&[
            "start",
            "--name",
            "f",
            "--",
            script.to_str().unwrap(),
            runs.to_str().unwrap(),
        ])
        .ok()
        .stdout_has("started f");
        wait_until("the program has run", DEADLINE, || ran(&runs) >= 1);
    }
    let pid = env.pid_of("f");
    assert!(alive(pid));
    assert_eq!(ran(&runs), 1, "the program ran twice");
    assert_eq!(temporaries(env.dir()), Vec::<String>::new());
    let rec = env.record("f");
    assert_eq!(rec["pid"], pid);
    env.run(&["status", "f"]).ok();
    env.run(&["stop", "f"]).ok();
    assert!(!alive(pid));
}

#[test]
fn killed_before_fork_recovers() {
    recover_after("before-fork", false);
}

#[test]
fn killed_between_the_forks_recovers() {
    recover_after("between-forks", false);
}

#[test]
fn killed_before_the_pidfile_is_written_recovers() {
    recover_after("before-pidfile", false);
}

#[test]
fn killed_before_exec_leaves_a_running_daemon_that_start_recognises() {
    recover_after("before-exec", true);
}

#[test]
fn corrupt_record_is_reported_and_repaired_by_the_next_start() {
    let env = Env::new();
    let pid = env.start("web", &["sleep", "1000"]);
    env.run(&["stop", "web"]).ok();
    wait_dead(pid);
    fs::write(env.path("web.json"), "{\"name\": \"web\", \"pid\": 12").unwrap();
    env.run(&["status", "web"])
        .code(4)
        .one_error_line()
        .stderr_has("corrupt record")
        .stderr_has("web.json");
    let run = env.run(&["list"]).ok();
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("web") && l.contains("unknown")),
        "{}",
        run.dump()
    );
    env.run(&["start", "--name", "web", "--", "sleep", "1000"])
        .ok()
        .stderr_has("corrupt record");
    let rec = env.record("web");
    assert_eq!(rec["pid"], env.pid_of("web"));
}

/// `start NAME` and `restart NAME` without a command line, for a spec that does not read: the
/// running daemon (its status names it) is running for `start NAME`, with a warning; otherwise
/// the error names the damaged file, exit 1, where both said "no record for web" (exit 2), a
/// usage error for a name rdaemon does know. Nothing is started or stopped.
#[test]
fn start_or_restart_by_name_of_a_corrupt_spec_names_the_file() {
    let env = Env::new();
    let pid = env.start("web", &["sleep", "1000"]);
    let record = env.path("web.json");
    fs::write(&record, "{\"broken").unwrap();
    let report = format!("corrupt record '{}'", record.display());
    env.run(&["start", "web"])
        .ok()
        .stdout_has(&format!("web is already running (pid {pid})"))
        .stderr_has(&format!("warning: {report}"));
    env.run(&["restart", "web"])
        .code(1)
        .one_error_line()
        .stderr_has(&format!("cannot restart web: {report}"))
        .stderr_has("rdaemon restart web -- PROGRAM ARGS");
    assert!(alive(pid));
    assert_eq!(env.pid_of("web"), pid);
    env.run(&["stop", "web"]).ok();
    wait_dead(pid);
    for verb in ["start", "restart"] {
        env.run(&[verb, "web"])
            .code(1)
            .one_error_line()
            .stderr_has(&format!("cannot {verb} web: {report}"))
            .stderr_has("rdaemon forget web");
    }
    assert!(!env.path("web.pid").exists());
    // A name rdaemon never knew stays a usage error.
    env.run(&["restart", "other"])
        .code(2)
        .stderr_has("no record for other");
}

#[test]
fn truncated_record_is_reported_and_repaired() {
    let env = Env::new();
    env.start("web", &["sleep", "1000"]);
    let old = env.pid_of("web");
    env.run(&["stop", "web"]).ok();
    let record = env.path("web.json");
    fs::write(&record, "").unwrap();
    // Reported: by status as an error, by restart as the warning that it will be replaced.
    let report = format!("corrupt record '{}'", record.display());
    env.run(&["status", "web"])
        .code(4)
        .one_error_line()
        .stderr_has(&report);
    env.run(&["restart", "web", "--", "sleep", "1000"])
        .ok()
        .stderr_has(&format!("rdaemon: warning: {report}"))
        .stderr_has("it will be replaced");
    // Repaired: a new daemon, and a record of it that reads.
    assert_ne!(env.pid_of("web"), old);
    assert_eq!(
        env.record("web")["command"],
        serde_json::json!(["sleep", "1000"])
    );
}

/// A small tmpfs mounted by the test (root only), unmounted on drop.
struct Tmpfs {
    path: std::path::PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        if !is_root() {
            skip("Tmpfs::mount", "mounting a tmpfs needs root");
            return None;
        }
        fs::create_dir_all(path).unwrap();
        let status = StdCommand::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(path)
            .status();
        match status {
            Ok(s) if s.success() => Some(Tmpfs {
                path: path.to_owned(),
            }),
            _ => {
                skip(
                    "Tmpfs::mount",
                    &format!("cannot mount a tmpfs at {} here", path.display()),
                );
                None
            }
        }
    }

    /// Fills the file system until writes fail with ENOSPC.
    fn fill(&self) {
        let mut n = 0;
        loop {
            let p = self.path.join(format!("filler{n}"));
            if fs::write(&p, vec![0u8; 64 * 1024]).is_err() {
                // Leave no half-written filler; the space stays used by the others.
                let _ = fs::write(&p, b"");
                break;
            }
            n += 1;
        }
        // The last few bytes: small files until even those fail.
        for i in 0..1000 {
            if fs::write(self.path.join(format!("crumb{i}")), vec![0u8; 512]).is_err() {
                break;
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = StdCommand::new("umount").arg("-l").arg(&self.path).status();
    }
}

#[test]
fn full_rdaemon_directory_fails_cleanly_and_keeps_the_old_files() {
    let env = Env::new();
    let Some(fs_) = Tmpfs::mount(&env.path("small"), "256k") else {
        return;
    };
    let dir = env.path("small");
    let dir_s = dir.to_str().unwrap();
    env.run(&[
        "--dir",
        dir_s,
        "start",
        "--name",
        "web",
        "--log",
        "/dev/null",
        "--",
        "sleep",
        "1000",
    ])
    .ok();
    let first: i32 = fs::read_to_string(dir.join("web.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    env.track(first);
    env.run(&["--dir", dir_s, "stop", "web"]).ok();
    let old_record = fs::read_to_string(dir.join("web.json")).unwrap();
    fs_.fill();
    let run = env
        .run(&[
            "--dir",
            dir_s,
            "start",
            "--name",
            "web",
            "--log",
            "/dev/null",
            "--",
            "sleep",
            "1000",
        ])
        .code(1)
        .one_error_line()
        .stderr_has("No space left on device");
    assert!(run.stderr.contains(dir_s), "{}", run.dump());
    assert!(
        !dir.join("web.pid").exists(),
        "a pidfile appeared on a full disk"
    );
    assert_eq!(
        fs::read_to_string(dir.join("web.json")).unwrap(),
        old_record,
        "record changed"
    );
    assert_eq!(temporaries(&dir), Vec::<String>::new());
    drop(fs_);
}

#[test]
fn full_log_disk_gives_a_clear_error() {
    let env = Env::new();
    let Some(fs_) = Tmpfs::mount(&env.path("logs"), "128k") else {
        return;
    };
    fs_.fill();
    let log = env.path("logs/web.log");
    env.run(&[
        "start",
        "--name",
        "web",
        "--log",
        log.to_str().unwrap(),
        "--",
        "sleep",
        "1000",
    ])
    .code(1)
    .one_error_line()
    .stderr_has(log.to_str().unwrap())
    .stderr_has("No space left on device");
    assert!(!env.path("web.pid").exists());
    assert!(!env.path("web.json").exists());
    drop(fs_);
}

#[test]
fn a_running_daemon_whose_spec_is_damaged_is_still_known_by_its_status() {
    let env = Env::new();
    // Its own pidfile, which only the spec and the status name.
    let custom = env.path("custom.pid");
    let custom_s = custom.to_str().unwrap();
    env.run(&[
        "start",
        "--name",
        "web",
        "--pidfile",
        custom_s,
        "--",
        "sleep",
        "1000",
    ])
    .ok();
    let pid = recorded_pid(&env, "web");
    // Another process, in a pidfile whose name happens to be the daemon's: not the daemon.
    let mut other = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    env.track(other.id() as i32);
    fs::create_dir(env.path("other")).unwrap();
    let foreign = env.path("other/web.pid");
    fs::write(&foreign, format!("{}\n", other.id())).unwrap();
    // The spec is damaged on disk; the status, which names the running process, is intact.
    fs::write(env.path("web.json"), "").unwrap();
    env.run(&["status", "web"])
        .ok()
        .stdout_has(&format!("web is running (pid {pid})"))
        .stderr_has("corrupt record");
    // Not forgotten while it runs: the next start would run a second copy.
    env.run(&["forget", "web"])
        .code(1)
        .stderr_has("stop it first");
    assert!(env.path("web.status").exists());
    // Nor started a second time.
    env.run(&["start", "--name", "web", "--", "sleep", "1000"])
        .ok()
        .stdout_has(&format!("web is already running (pid {pid})"))
        .stderr_has("its status names pid");
    assert!(alive(pid));
    assert_eq!(
        fs::read_to_string(&custom).unwrap().trim(),
        pid.to_string(),
        "the pidfile still names the one daemon"
    );
    // `--pidfile` of the other file acts on that file's process, not on the daemon.
    env.run(&["status", "--pidfile", foreign.to_str().unwrap()])
        .ok()
        .stdout_has(&format!("(pid {})", other.id()));
    env.run(&["stop", "--pidfile", foreign.to_str().unwrap()])
        .ok();
    other.wait().unwrap();
    assert!(alive(pid));
    // It can be stopped by name, its own pidfile removed, and then forgotten.
    env.run(&["stop", "web"])
        .ok()
        .stdout_has(&format!("stopped web (pid {pid})"));
    wait_dead(pid);
    assert!(!custom.exists(), "stop left its pidfile naming a dead pid");
    env.run(&["forget", "web"]).ok().stdout_has("forgot web");
}

/// A bad-input sweep: with its status damaged, a running daemon's `start NAME` and `restart`
/// said "no record" (the spec was whole) and advised `start --name NAME -- ...`, which then
/// replaced the pidfile and ran a second copy. Without the status nothing tells whether the
/// pidfile's live pid is the daemon: each refuses, one line, and starts nothing; once that
/// process is gone, the spec starts it again.
#[test]
fn a_damaged_status_of_a_running_daemon_never_leads_to_a_second_copy() {
    let env = Env::new();
    let secs = unique_secs();
    let pid = env.start("web", &["sleep", &secs]);
    let spec = fs::read_to_string(env.path("web.json")).unwrap();
    fs::write(env.path("web.status"), "garbage").unwrap();
    for args in [
        vec!["start", "web"],
        vec!["restart", "web"],
        vec!["start", "--name", "web", "--", "sleep", &secs],
    ] {
        env.run(&args)
            .code(1)
            .one_error_line()
            .stderr_has("corrupt status")
            .stderr_has(&format!("names pid {pid}, which runs"));
        assert!(alive(pid));
        assert_eq!(env.pid_of("web"), pid, "{args:?} replaced the pidfile");
        assert_eq!(fs::read_to_string(env.path("web.json")).unwrap(), spec);
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_dead(pid);
    let run = env
        .run(&["start", "web"])
        .ok()
        .stderr_has("it will be replaced");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.dump());
    let second = env.pid_of("web");
    env.track(second);
    assert_ne!(second, pid);
    assert!(alive(second));
}
