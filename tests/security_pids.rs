//! Issue 11, the pid-identity findings: which process rdaemon takes for the daemon, and when it
//! signals. Each test reproduces one attack or fault and checks, in `/proc`, that no stranger is
//! signalled and that no daemon escapes:
//! - 4: a `start` killed between its two commits, then the pid reused; a pidfile in rdaemon's
//!   own directory that no record vouches for;
//! - 5: a daemon (`--user nobody`) that removes or replaces its own pidfile, once or in a loop;
//! - 6: `/proc` that cannot be read (too many open files) is not "process gone";
//! - 9: a daemon judged from another time namespace;
//! - 12: a non-root `stop` of root's daemon is "insufficient privilege" (exit 4);
//! - 13: a pidfile naming an ancestor of rdaemon (the shell behind `timeout`) or a kernel thread.
//!
//! Tests that need root run in CI (root, `CI` set) and fail there if they cannot; elsewhere they
//! skip with the reason.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;

use crate::common::*;

/// Finding 4: `start` killed after one commit and before the other. The record is written
/// first, so what is left is a record naming a pid that never ran the program, and no pidfile;
/// once a stranger has that pid, `status` does not call it running (it is `dead`: wanted
/// running, gone) and `stop`, `start` leave it alone.
#[test]
fn a_start_killed_between_its_commits_leaves_nothing_that_vouches_for_a_stranger() {
    const TEST: &str =
        "a_start_killed_between_its_commits_leaves_nothing_that_vouches_for_a_stranger";
    if !need_root(TEST) {
        return;
    }
    let env = Env::new();
    let secs = unique_secs();
    // Our turn from before the pid is freed: no other test's moves of the cursor take it.
    let cursor = PidCursor::take();
    let mut cmd = env.cmd();
    cmd.env("RDAEMON_FAULT", "between-commits");
    let run = env.run_cmd(cmd, &["start", "--name", "f", "--", "sleep", &secs]);
    assert_eq!(
        run.code,
        -1,
        "rdaemon was not killed between the commits\n{}",
        run.dump()
    );
    assert!(
        !env.path("f.pid").exists(),
        "the pidfile was committed before the record\n{}",
        run.dump()
    );
    let pid = env.record("f")["pid"].as_i64().unwrap() as i32;
    // The grandchild never got "go": it exits, and is reaped by init.
    wait_until(&format!("pid {pid} is reaped"), DEADLINE, || {
        stat(pid).is_none()
    });
    assert_eq!(env.track_marked(&secs), Vec::<i32>::new());
    let stranger = match take_pid(&cursor, pid, 1000) {
        Ok(Some(child)) => child,
        Ok(None) => return skip(TEST, &lost_pid(pid)),
        // /proc/sys read-only (a container): no pid can be handed out on purpose.
        Err(why) => return skip(TEST, &why),
    };
    // Its spec already says wanted running (written once, before the fork): the daemon is
    // `dead`, not running, whoever has the pid now.
    env.run(&["status", "f"]).code(1).stdout_has("f is dead");
    env.run(&["stop", "f"]).ok().stdout_has("not running");
    assert_left_alone(stranger.pid(), "a stop of the daemon whose pid it took");
    env.run(&["start", "--name", "f", "--", "sleep", &secs])
        .ok()
        .stdout_has("started f");
    let new = env.pid_of("f");
    assert_ne!(new, pid);
    env.run(&["stop", "f"]).ok().stdout_has("stopped f");
    assert_left_alone(stranger.pid(), "a stop of the daemon started anew");
}

/// Finding 4, the state an older rdaemon killed between its commits leaves: its own pidfile
/// and no record vouching for the pid in it. rdaemon writes a pidfile in its directory only
/// after the record, so such a pidfile is not trusted to kill.
#[test]
fn a_pidfile_in_rdaemons_directory_that_no_record_vouches_for_is_not_trusted() {
    let env = Env::new();
    let stranger = OwnChild::sleep();
    let pidfile = env.path("left.pid");
    fs::write(&pidfile, format!("{}\n", stranger.pid())).unwrap();
    fs::set_permissions(&pidfile, fs::Permissions::from_mode(0o644)).unwrap();
    env.run(&["status", "left"])
        .code(4)
        .one_error_line()
        .stderr_has("no record vouches for pid");
    env.run(&["stop", "left"])
        .code(1)
        .one_error_line()
        .stderr_has("no record vouches for pid");
    assert_left_alone(stranger.pid(), "a stop of a pidfile no record vouches for");
    assert!(pidfile.exists());
    // A record of an earlier run does not vouch for another pid either.
    let old = env.start("left2", &["sleep", &unique_secs()]);
    env.run(&["stop", "left2"]).ok();
    wait_dead(old);
    fs::write(env.path("left2.pid"), format!("{}\n", stranger.pid())).unwrap();
    env.run(&["stop", "left2"]).code(1);
    assert_left_alone(
        stranger.pid(),
        "a stop of a stopped daemon's rewritten pidfile",
    );
    // start replaces such a pidfile (with a warning) and leaves the stranger alone.
    env.run(&["start", "--name", "left", "--", "sleep", &unique_secs()])
        .ok()
        .stderr_has("warning");
    assert_ne!(env.pid_of("left"), stranger.pid());
    env.run(&["stop", "left"]).ok();
    assert_left_alone(
        stranger.pid(),
        "a stop of the daemon started over its pidfile",
    );
}

/// Starts, as root, a daemon running as `nobody` whose pidfile is in a directory `nobody` owns,
/// running `body` (a shell script: `$1` is the pidfile, `$2` a unique word). Returns the pidfile,
/// the unique word and the daemon's pid.
fn start_evader(env: &Env, name: &str, body: &str) -> (std::path::PathBuf, String, i32) {
    let nobody = nobody().unwrap();
    open_dir(env);
    let home = env.path(&format!("{name}-home"));
    fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(nobody.uid.as_raw()), Some(nobody.gid.as_raw())).unwrap();
    let pidfile = home.join(format!("{name}.pid"));
    let script = env.script(&format!("{name}.sh"), body);
    let secs = unique_secs();
    let args = [
        "start",
        "--name",
        name,
        "--user",
        "nobody",
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--",
        script.to_str().unwrap(),
        pidfile.to_str().unwrap(),
        &secs,
    ];
    env.run(&args)
        .ok()
        .stdout_has(&format!("started {name} (pid "));
    let pid = recorded_pid(env, name);
    (pidfile, secs, pid)
}

/// Finding 5: the daemon replaces its pidfile with garbage (it may: the directory is its
/// user's). The record still identifies it, so it is running, a second `start` starts no second
/// copy and gives the pidfile back, and `stop` stops it.
#[test]
fn a_daemon_that_replaces_its_pidfile_is_still_the_daemon() {
    const TEST: &str = "a_daemon_that_replaces_its_pidfile_is_still_the_daemon";
    let Some(nobody) = root_and_nobody(TEST) else {
        return;
    };
    let env = Env::new();
    let body = "rm -f \"$1\"; echo 1 > \"$1\"; exec sleep \"$2\"";
    let (pidfile, secs, pid) = start_evader(&env, "evader", body);
    wait_until("the daemon has replaced its pidfile", DEADLINE, || {
        fs::read_to_string(&pidfile).is_ok_and(|t| t == "1\n")
    });
    env.run(&["status", "evader"])
        .ok()
        .stdout_has(&format!("evader is running (pid {pid})"));
    let script = env.path("evader.sh");
    env.run(&[
        "start",
        "--name",
        "evader",
        "--user",
        "nobody",
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--",
        script.to_str().unwrap(),
        pidfile.to_str().unwrap(),
        &secs,
    ])
    .ok()
    .stdout_has(&format!("evader is already running (pid {pid})"));
    assert_eq!(env.track_marked(&secs), vec![pid], "a second copy runs");
    assert_eq!(fs::read_to_string(&pidfile).unwrap(), format!("{pid}\n"));
    // Rewritten with the rights of the daemon's user, who can write that directory: the status,
    // not the file, vouches for the pid.
    assert_eq!(fs::metadata(&pidfile).unwrap().uid(), nobody.uid.as_raw());
    // Garbage again, then stop: the daemon goes, and so does its pidfile.
    fs::write(&pidfile, "garbage\n").unwrap();
    env.run(&["stop", "evader"])
        .ok()
        .stdout_has(&format!("stopped evader (pid {pid})"));
    assert!(!alive(pid), "stop left the daemon running");
    assert!(!pidfile.exists(), "stop left the garbage pidfile");
    env.run(&["status", "evader"]).code(3);
}

/// Finding 5, the loop: a daemon that keeps deleting its pidfile. Before, every `start` found
/// no pidfile and started another copy (14 of them in the report).
#[test]
fn a_daemon_that_keeps_deleting_its_pidfile_gets_no_second_copy() {
    const TEST: &str = "a_daemon_that_keeps_deleting_its_pidfile_gets_no_second_copy";
    if root_and_nobody(TEST).is_none() {
        return;
    }
    let env = Env::new();
    let body = "while :; do rm -f \"$1\"; sleep 0.01; done";
    let (pidfile, secs, pid) = start_evader(&env, "looper", body);
    wait_until("the daemon has deleted its pidfile", DEADLINE, || {
        !pidfile.exists()
    });
    let script = env.path("looper.sh");
    for _ in 0..5 {
        env.run(&[
            "start",
            "--name",
            "looper",
            "--user",
            "nobody",
            "--pidfile",
            pidfile.to_str().unwrap(),
            "--",
            script.to_str().unwrap(),
            pidfile.to_str().unwrap(),
            &secs,
        ])
        .ok()
        .stdout_has(&format!("looper is already running (pid {pid})"));
        assert_eq!(copies(&env, &secs, pid), vec![pid], "a second copy runs");
    }
    env.run(&["status", "looper"])
        .ok()
        .stdout_has(&format!("looper is running (pid {pid})"));
    env.run(&["stop", "looper"])
        .ok()
        .stdout_has(&format!("stopped looper (pid {pid})"));
    wait_dead(pid);
    assert_eq!(copies(&env, &secs, pid), Vec::<i32>::new());
}

/// The live processes with `arg` among their arguments, except children of `daemon`: the
/// looping shell forks for each `rm`, and a fork shows the shell's arguments until its exec.
/// All are tracked by `env` first, so a copy found is killed when the test ends.
fn copies(env: &Env, arg: &str, daemon: i32) -> Vec<i32> {
    env.track_marked(arg)
        .into_iter()
        .filter(|&p| stat(p).is_some_and(|s| s.ppid != daemon))
        .collect()
}

/// Finding 6: with too few file descriptors, reading `/proc/PID/stat` fails with EMFILE. That
/// is not "the process is gone": `stop` either stops the daemon or fails, never says "stopped"
/// while it runs; `start` never removes the running daemon's pidfile or starts a second copy.
/// Every limit from 4 descriptors up is tried, so each read in turn is the one that fails.
#[test]
fn an_error_reading_proc_is_not_a_dead_process() {
    let env = Env::new();
    let secs = unique_secs();
    let pid = env.start("s", &["sleep", &secs]);
    let mut failed_emfile = 0;
    let mut failed_at_proc = false;
    let mut stopped = false;
    for fds in 4..=24 {
        let run = env.run_with_fd_limit(fds, &["stop", "s"]);
        if run.code == 0 {
            // `stop` returns only once the daemon is gone: "stopped" must be true now.
            assert!(
                run.stdout.contains(&format!("stopped s (pid {pid})")) && !alive(pid),
                "stop said it stopped a daemon that still runs\n{}",
                run.dump()
            );
            stopped = true;
            break;
        }
        assert!(
            alive(pid),
            "stop failed and yet the daemon is gone\n{}",
            run.dump()
        );
        assert_eq!(env.pid_of("s"), pid, "{}", run.dump());
        eprintln!("at most {fds} fds: {}", run.stderr.trim());
        assert!(
            run.stderr
                .lines()
                .last()
                .is_some_and(|l| l.starts_with("rdaemon: ") && !l.contains("warning")),
            "no error in rdaemon's voice\n{}",
            run.dump()
        );
        if run.stderr.contains("Too many open files") {
            failed_emfile += 1;
            failed_at_proc |= run.stderr.contains(&format!("/proc/{pid}/stat"));
        }
    }
    assert!(stopped, "stop never succeeded, whatever the limit");
    assert!(
        failed_emfile > 0 && failed_at_proc,
        "no limit made stop meet EMFILE reading /proc/{pid}/stat: the test tests nothing"
    );

    let secs = unique_secs();
    let pid = env.start("s", &["sleep", &secs]);
    let mut start_emfile = 0;
    let mut recognised = false;
    for fds in 4..=24 {
        let run = env.run_with_fd_limit(fds, &["start", "--name", "s", "--", "sleep", &secs]);
        assert_eq!(
            env.track_marked(&secs),
            vec![pid],
            "a second copy runs\n{}",
            run.dump()
        );
        assert_eq!(
            fs::read_to_string(env.path("s.pid")).ok(),
            Some(format!("{pid}\n")),
            "start (at most {fds} fds) touched the running daemon's pidfile\n{}",
            run.dump()
        );
        if run.code == 0 {
            run.stdout_has(&format!("s is already running (pid {pid})"));
            recognised = true;
            break;
        }
        run.one_error_line().stderr_has("Too many open files");
        start_emfile += 1;
    }
    // start reads /proc/PID/stat with the descriptor that its read of the record used and
    // closed, so no limit makes that read the one to fail: the record read fails first. What
    // this half can prove is that start met EMFILE and touched nothing, then recognised the
    // daemon once it had descriptors enough.
    assert!(
        start_emfile > 0 && recognised,
        "start met EMFILE {start_emfile} times, recognised the daemon: {recognised}: \
         the test tests nothing"
    );
    env.run(&["stop", "s"]).ok();
}

/// Finding 9: `/proc/PID/stat` start times are relative to the reader's time namespace. A
/// daemon started outside one is still itself from inside one with a boottime offset.
#[test]
fn a_daemon_is_itself_from_another_time_namespace() {
    const TEST: &str = "a_daemon_is_itself_from_another_time_namespace";
    if !need_root(TEST) {
        return;
    }
    let shifted = ["--time", "--boottime", "1000", "--monotonic", "1000"];
    let works = Command::new("unshare")
        .args(shifted)
        .arg("true")
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        return skip(TEST, "unshare --time does not work here (kernel < 5.6?)");
    }
    let env = Env::new();
    let pid = env.start("timely", &["sleep", &unique_secs()]);
    let in_ns = |args: &[&str]| {
        let mut unshare = vec!["unshare"];
        unshare.extend(shifted);
        env.run_cmd(env.wrapped(&unshare), args)
    };
    // The namespace really shifts what the kernel shows.
    let seen = in_ns(&["status", "timely", "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&seen.stdout).unwrap();
    assert_eq!(json["state"], "running", "{}", seen.dump());
    assert_eq!(json["pid"], pid);
    assert!(
        json["uptime_secs"].as_u64().unwrap() < 900,
        "uptime shifted by the namespace\n{}",
        seen.dump()
    );
    in_ns(&["status", "timely"])
        .ok()
        .stdout_has(&format!("timely is running (pid {pid})"));
    in_ns(&["stop", "timely"])
        .ok()
        .stdout_has(&format!("stopped timely (pid {pid})"));
    assert!(!alive(pid), "stop left the daemon running");
    assert!(!env.path("timely.pid").exists());
}

/// Finding 12: `stop` (and `restart`) of root's daemon by another user is "insufficient
/// privilege", exit 4 (SPEC §3), saying whose the daemon is, whether or not the user can read
/// root's rdaemon directory.
#[test]
fn a_non_root_stop_of_roots_daemon_is_insufficient_privilege() {
    const TEST: &str = "a_non_root_stop_of_roots_daemon_is_insufficient_privilege";
    let Some(nobody) = root_and_nobody(TEST) else {
        return;
    };
    let env = Env::new();
    let pid = env.start("rooted", &["sleep", &unique_secs()]);
    let as_nobody = |args: &[&str]| {
        let mut cmd = env.std_cmd();
        cmd.uid(nobody.uid.as_raw())
            .gid(nobody.gid.as_raw())
            .current_dir("/");
        env.run_cmd(assert_cmd::Command::from_std(cmd), args)
    };
    for mode in [0o700, 0o755] {
        fs::set_permissions(env.dir(), fs::Permissions::from_mode(mode)).unwrap();
        for verb in ["stop", "restart"] {
            as_nobody(&[verb, "rooted"])
                .code(4)
                .one_error_line()
                .stderr_has("root's");
            assert!(
                alive(pid),
                "mode {mode:o}: {verb} as nobody touched the daemon"
            );
        }
    }
    assert_eq!(env.pid_of("rooted"), pid);
    env.run(&["stop", "rooted"]).ok();
}

/// Finding 13: a pidfile naming the shell that runs `timeout rdaemon stop` (rdaemon's
/// grandparent), kthreadd (pid 2) or one of its kernel threads is invalid: `status` 4, `stop` 1,
/// nothing signalled. Before, only rdaemon's direct parent was protected.
#[test]
fn ancestors_and_kernel_threads_are_never_signalled() {
    let env = Env::new();
    // Outside rdaemon's directory: a foreign pidfile, trusted the classic way if anything is.
    let elsewhere = env.path("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    let pidfile = elsewhere.join("sh.pid");
    let codes = env.path("codes");
    let bin = assert_cmd::cargo::cargo_bin!("rdaemon");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(
            "echo $$ > \"$P\"; timeout 20 \"$BIN\" stop --pidfile \"$P\"; echo $? >> \"$C\"; \
             timeout 20 \"$BIN\" status --pidfile \"$P\"; echo $? >> \"$C\"",
        )
        .env("P", &pidfile)
        .env("C", &codes)
        .env("BIN", bin);
    let out = isolate(&mut cmd, env.dir()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        None,
        "rdaemon signalled the shell that ran it\n{stderr}"
    );
    assert_eq!(fs::read_to_string(&codes).unwrap(), "1\n4\n", "{stderr}");
    assert!(stderr.contains("ancestor of rdaemon"), "{stderr}");

    let is_kthread = |pid: i32| {
        fs::read(format!("/proc/{pid}/stat")).is_ok_and(|raw| {
            let rest =
                String::from_utf8_lossy(&raw[raw.iter().rposition(|&b| b == b')').unwrap() + 1..])
                    .into_owned();
            let flags: u64 = rest.split_whitespace().nth(6).unwrap().parse().unwrap();
            flags & 0x0020_0000 != 0
        })
    };
    if !is_kthread(2) {
        return skip(
            "ancestors_and_kernel_threads_are_never_signalled",
            "pid 2 is not kthreadd here (a pid namespace): the kernel-thread half is not run",
        );
    }
    let child_of_kthreadd = fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|&p| p > 2 && stat(p).is_some_and(|s| s.ppid == 2));
    for pid in std::iter::once(2).chain(child_of_kthreadd) {
        let path = elsewhere.join("k.pid");
        fs::write(&path, format!("{pid}\n")).unwrap();
        let path = path.to_str().unwrap();
        env.run(&["status", "--pidfile", path])
            .code(4)
            .one_error_line()
            .stderr_has("kernel thread");
        env.run(&["stop", "--pidfile", path])
            .code(1)
            .one_error_line()
            .stderr_has("kernel thread");
    }
}

/// A daemon whose own script runs rdaemon on itself (a health loop calling `status`, a wrapper
/// calling `start`): its record identifies it, so it is running, with its pid, as it is from
/// outside. Before, rdaemon took "the record names my parent" for an invalid pid: `status` said
/// unknown (exit 4), and `start` took the daemon for stale and stopped its cgroup's "leftovers",
/// itself and the daemon among them, after the stop timeout. Signalling it stays refused, whether
/// rdaemon is its child or further down (SPEC §4), and the daemon runs on untouched.
#[test]
fn a_daemon_that_runs_rdaemon_on_itself_is_running_and_never_signalled() {
    let env = Env::new();
    let bin = assert_cmd::cargo::cargo_bin!("rdaemon");
    let script = env.script(
        "self.sh",
        r#"trap ': > hup' HUP
for c in "status me" "start me" "list" "stop me" "restart me" "signal HUP me" "wait me"; do
    timeout 20 "$BIN" $c > "out.$c" 2>&1; echo $? > "code.$c"
done
# Further down: rdaemon's parent is a subshell, the daemon its grandparent.
( timeout 20 "$BIN" stop me > "out.deep" 2>&1; echo $? > "code.deep" )
: > done
while :; do sleep 1; done"#,
    );
    let bin = format!("BIN={}", bin.display());
    let script = script.to_str().unwrap();
    env.run(&[
        "start",
        "--name",
        "me",
        "--chdir",
        env.dir().to_str().unwrap(),
        "--env",
        &bin,
        "--",
        script,
    ])
    .ok();
    let pid = env.pid_of("me");
    env.wait_file("done");
    let read = |what: &str| {
        let code = fs::read_to_string(env.path(&format!("code.{what}"))).unwrap();
        let out = fs::read_to_string(env.path(&format!("out.{what}"))).unwrap();
        (code.trim().parse::<i32>().unwrap(), out)
    };
    let (code, out) = read("status me");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with(&format!("me is running (pid {pid})")),
        "{out}"
    );
    let (code, out) = read("start me");
    assert_eq!(
        (code, out.trim()),
        (0, &*format!("me is already running (pid {pid})"))
    );
    let (code, out) = read("list");
    assert_eq!(code, 0, "{out}");
    let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..3], ["me", "running", &*pid.to_string()], "{out}");
    for what in ["stop me", "restart me", "signal HUP me", "wait me", "deep"] {
        let (code, out) = read(what);
        assert_eq!(code, 1, "{what}: {out}");
        assert_eq!(out.lines().count(), 1, "{what}: {out}");
        assert!(
            out.contains(&format!("it is pid {pid}, which runs this rdaemon")),
            "{what}: {out}"
        );
    }
    // Untouched: the same process, no HUP, still wanted running.
    assert!(alive(pid));
    assert_eq!(env.pid_of("me"), pid);
    assert!(!env.path("hup").exists());
    assert_eq!(env.record("me")["wanted"], "running");
    env.run(&["stop", "me"])
        .ok()
        .stdout_has(&format!("stopped me (pid {pid})"));
}

/// Review of 2026-12-02 (second): `stop` cancels a pending `start` of the same name, found as
/// the holder of the name's lock in `/proc/locks`. A lock file another user can open (0644, as
/// an older rdaemon left them) let `nobody` take that lock and exec an `rdaemon start` of their
/// own that keeps it: root's `stop` sent it SIGTERM. Now only a lock file no other user can open,
/// held open by a start running as rdaemon's own user, is taken for a pending start.
#[test]
fn stop_never_cancels_another_users_start_holding_the_lock() {
    let test = "stop_never_cancels_another_users_start_holding_the_lock";
    let Some(nobody) = root_and_nobody(test) else {
        return;
    };
    let Some(python) = python3_or_skip(test) else {
        return;
    };
    let env = Env::new();
    open_dir(&env);
    let victim = env.start("victim", &["sleep", &unique_secs()]);
    let lock = env.path("victim.lock");
    fs::set_permissions(&lock, fs::Permissions::from_mode(0o644)).unwrap();
    let theirs = env.path("theirs");
    fs::create_dir(&theirs).unwrap();
    nix::unistd::chown(&theirs, Some(nobody.uid), Some(nobody.gid)).unwrap();
    let mark = unique_secs();
    let bin = assert_cmd::cargo::cargo_bin!("rdaemon")
        .display()
        .to_string();
    // As nobody: take the lock, then become an rdaemon start (waiting, 3 s) that keeps it.
    let script = format!(
        "import fcntl, os\n\
         fd = os.open({lock:?}, os.O_RDONLY)\n\
         fcntl.flock(fd, fcntl.LOCK_EX)\n\
         os.set_inheritable(fd, True)\n\
         os.execv({bin:?}, [{bin:?}, 'start', '--name', 'decoy', '--ready', 'tcp:127.0.0.1:1', \
         '--ready-timeout', '3s', '--', 'sleep', {mark:?}])\n",
        lock = lock.display().to_string(),
    );
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&python)
        .args(["-c", &script])
        .current_dir("/")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    isolate(&mut cmd, &theirs);
    let decoy = Background::spawn(&mut cmd);
    wait_until("the decoy start waits, holding the lock", DEADLINE, || {
        !env.track_marked(&mark).is_empty()
    });
    let stop = env.run(&["stop", "victim"]).ok();
    assert!(!stop.stdout.contains("cancelling"), "{}", stop.dump());
    wait_dead(victim);
    let out = decoy.output_within(DEADLINE, "the decoy start to give up by itself");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not ready after 3s"), "{stderr}");
}

/// User trial, 2026-12-04: a daemon's pidfile, one only root could write (trusted the classic
/// way, SPEC §4), rewritten after the daemon died to name another process. The daemon has a
/// cgroup that does not hold that process: by the kernel's word it is not the daemon, which is
/// dead. `status` says so (exit 1) and `stop` leaves the process alone; before, `status` said
/// "running" and `stop` killed it. The same once the daemon's status is lost too (the runtime
/// directory emptied by hand) while it still runs in its cgroup: `stop` stops the daemon
/// through its cgroup and never signals the process the pidfile names.
#[test]
fn a_trusted_pidfile_naming_a_process_outside_the_daemons_cgroup_is_not_the_daemon() {
    const TEST: &str =
        "a_trusted_pidfile_naming_a_process_outside_the_daemons_cgroup_is_not_the_daemon";
    let Some(mount) = cgroups_here(TEST) else {
        return;
    };
    let env = Env::new();
    let name = unique_name(&env, "cg");
    let _guard =
        crate::clone_cgroup::CgroupGuard(mount.join("rdaemon").join(env.cgroup_leaf(&name)));
    let run_dir = env.path("run");
    fs::create_dir(&run_dir).unwrap();
    let pidfile = run_dir.join("cg.pid");
    let p = pidfile.to_str().unwrap();
    let stranger = OwnChild::sleep();
    let start = |env: &Env| {
        let secs = unique_secs();
        let args = ["start", "--name", &name, "--cgroup", "on", "--pidfile", p];
        env.run(&[&args[..], &["--", "sleep", &secs]].concat()).ok();
        let pid = read_pid(&pidfile);
        env.track(pid);
        pid
    };
    let daemon = start(&env);
    let sigkill = nix::sys::signal::Signal::SIGKILL;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(daemon), sigkill).unwrap();
    wait_dead(daemon);
    fs::write(&pidfile, format!("{}\n", stranger.pid())).unwrap();
    env.run(&["status", &name])
        .code(1)
        .stdout_has(&format!("{name} is dead"))
        .stdout_has("which is not in");
    env.run(&["stop", &name]).ok().stdout_has("not running");
    assert_left_alone(stranger.pid(), "a stop of the dead daemon");
    // Its status lost while it runs: found by its cgroup, stopped there.
    let daemon = start(&env);
    fs::remove_file(env.path(&format!("{name}.status"))).unwrap();
    fs::write(&pidfile, format!("{}\n", stranger.pid())).unwrap();
    env.run(&["stop", &name]).ok();
    wait_dead(daemon);
    assert_left_alone(stranger.pid(), "a stop of the daemon whose status was lost");
}
