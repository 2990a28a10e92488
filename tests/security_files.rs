//! Issue 11, the file-system class: an unprivileged daemon user must gain nothing from root's
//! rdaemon. Each test does the attack the way `nobody` would (symlinks, FIFOs, set-id files,
//! held locks), with `setpriv`, and checks that root's rdaemon neither follows it nor hangs on
//! it. They need root (to be the victim, and to become `nobody`): in CI they run; elsewhere
//! they skip with the reason.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::*;

/// How long a command may take before it counts as hung.
const HANG: Duration = Duration::from_secs(15);

/// Whether the test can run: as root, yes; otherwise it fails in CI and is skipped elsewhere.
fn need_root_and_nobody(test: &str) -> bool {
    root_and_nobody(test).is_some()
}

/// `sh -c SCRIPT` as nobody (uid and gid 65534, no supplementary groups).
fn as_nobody(script: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "/bin/sh",
        "-c",
        script,
    ]);
    cmd
}

/// Runs SCRIPT as nobody and requires it to succeed.
fn nobody_does(script: &str) {
    let out = as_nobody(script).output().unwrap();
    assert!(
        out.status.success(),
        "nobody could not run {script:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes the test's directory traversable by nobody (tempdirs are 0700) and creates in it a
/// log directory that nobody owns, as a daemon user's own directory would be.
fn nobody_log_dir(env: &Env) -> PathBuf {
    fs::set_permissions(env.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    let logs = env.path("logs");
    fs::create_dir(&logs).unwrap();
    std::os::unix::fs::chown(&logs, Some(65534), Some(65534)).unwrap();
    logs
}

/// Starts daemon NAME as nobody, `sleep SECS` with its log at LOG (in nobody's directory).
fn start_as_nobody(env: &Env, name: &str, log: &str, secs: &str) {
    env.run(&[
        "start", "--name", name, "--user", "nobody", "--log", log, "--", "sleep", secs,
    ])
    .ok();
}

/// Runs rdaemon with ARGS, failing the test (instead of waiting forever) if it hangs: after
/// `HANG` it is killed, and the run fails its checks with exit -1.
fn run_or_hang(env: &Env, args: &[&str], extra_env: &[(&str, &str)]) -> Run {
    let mut cmd = env.cmd();
    cmd.timeout(HANG);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    env.run_cmd(cmd, args)
}

/// Polls `cond` for up to `timeout` without failing; returns whether it came true.
fn came_true(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// Kills, at the end of the test, every process whose argv holds `arg` (a `flock` holder and
/// the `sleep` it runs, which are not the test's children).
struct KillByArg(String);

impl Drop for KillByArg {
    fn drop(&mut self) {
        for pid in live_pids_with_arg(&self.0) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Every file in `dir` that root owns with a set-id bit.
fn root_set_id_files(dir: &Path) -> Vec<String> {
    listing(dir)
        .into_iter()
        .filter(|name| {
            fs::symlink_metadata(dir.join(name))
                .is_ok_and(|m| m.uid() == 0 && m.mode() & 0o6000 != 0)
        })
        .collect()
}

/// Finding 1: nobody replaces its log by its own file of mode 04777; after a routine restart,
/// the root monitor must not create rotated logs as root with that mode (a set-uid root file
/// whose content the child writes). rdaemon now refuses the set-id file and never copies a
/// mode.
#[test]
fn a_set_id_log_planted_by_the_user_never_becomes_a_set_id_root_file() {
    if !need_root_and_nobody("a_set_id_log_planted_by_the_user_never_becomes_a_set_id_root_file") {
        return;
    }
    let env = Env::new();
    let logs = nobody_log_dir(&env);
    let log = logs.join("x.log");
    let log_s = log.to_str().unwrap();
    let secs = unique_secs();
    let script = "while :; do echo 0123456789012345678901234567890123456789; sleep 0.05; done";
    let _guard = KillByArg(secs.clone());
    env.run(&[
        "start",
        "--name",
        "x",
        "--respawn",
        "--log-max-size",
        "200",
        "--log-keep",
        "2",
        "--user",
        "nobody",
        "--log",
        log_s,
        "--",
        "sh",
        "-c",
        script,
        "sh",
        &secs,
    ])
    .ok();
    // In nobody's directory the monitor rotates with nobody's rights: the files are nobody's.
    wait_until("the monitor has rotated the log", DEADLINE, || {
        logs.join("x.log.1").exists()
    });
    // (Checked at the end, so that the old code fails on the finding itself.)
    let not_nobodys: Vec<String> = listing(&logs)
        .into_iter()
        .filter(|name| fs::symlink_metadata(logs.join(name)).is_ok_and(|m| m.uid() != 65534))
        .collect();
    env.run(&["stop", "x"]).ok();
    // The attack: nobody's own file, set-uid, in place of the log.
    nobody_does(&format!(
        "cd {} && rm -f x.log* && : > x.log && chmod 04777 x.log",
        logs.display()
    ));
    let restarted = run_or_hang(&env, &["restart", "x"], &[]);
    if restarted.code == 0 {
        // Give the monitor time to rotate (the old code then made a root-owned 04777 log).
        came_true(Duration::from_secs(5), || {
            !root_set_id_files(&logs).is_empty()
        });
    }
    assert_eq!(
        root_set_id_files(&logs),
        Vec::<String>::new(),
        "root created a set-id file in {}",
        logs.display()
    );
    restarted.code(1).stderr_has("set-id").stderr_has(log_s);
    assert_eq!(
        not_nobodys,
        Vec::<String>::new(),
        "the monitor made files in nobody's directory that are not nobody's"
    );
}

/// helper-114's attack: a root daemon's log in a sticky directory (`/tmp`), rotated with
/// `--log-keep 0`; nobody put `NAME.log.2` there. Root's `logs -f`, once the file it followed
/// was gone, took nobody's file for the next rotated one, printed its forged line and stayed
/// on it. A file another user made is never followed.
#[test]
fn logs_follow_never_goes_on_with_a_file_another_user_planted() {
    let test = "logs_follow_never_goes_on_with_a_file_another_user_planted";
    if !need_root_and_nobody(test) {
        return;
    }
    let env = Env::new();
    let sticky = sticky_tmp(&env);
    let log = sticky.join("rl.log");
    let go = env.path("go");
    let script = env.script(
        "burst.sh",
        "while [ ! -e \"$1\" ]; do sleep 0.01; done\n\
         i=1; while [ $i -le 100 ]; do printf 'line %03d of the burst ...\\n' $i; i=$((i+1)); done\n\
         exec sleep \"$2\"",
    );
    start_respawn(
        &env,
        "rl",
        &[
            "--log",
            log.to_str().unwrap(),
            "--log-max-size",
            "300",
            "--log-keep",
            "0",
        ],
        &[
            script.to_str().unwrap(),
            go.to_str().unwrap(),
            &unique_secs(),
        ],
    );
    let out_path = env.path("follow.out");
    let mut cmd = env.std_cmd();
    cmd.args(["logs", "rl", "-f"])
        .stdin(std::process::Stdio::null())
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(std::process::Stdio::null());
    let follower = Background::spawn(&mut cmd);
    wait_until("logs -f waits for lines", DEADLINE, || {
        in_poll(follower.pid())
    });
    // Dated tomorrow: newer than any file the follower reads (its owner may date it so).
    nobody_does(&format!(
        "echo 'FORGED by nobody' > '{0}.2' && touch -d tomorrow '{0}.2'",
        log.display()
    ));
    fs::write(&go, "").unwrap();
    wait_until("logs -f prints the last line", DEADLINE, || {
        fs::read_to_string(&out_path).is_ok_and(|t| t.contains("line 100 "))
    });
    let text = fs::read_to_string(&out_path).unwrap();
    assert!(!text.contains("FORGED"), "{text}");
    drop(follower);
    env.run(&["stop", "rl"]).ok();
}

/// helper-111: an admin made a root daemon's log 0600; the first rotation replaced it with a
/// new 0644 file, and nobody read the daemon's output (a password) from it. The new file
/// keeps the old one's mode, as logrotate's `create` does; every file stays closed to nobody.
#[test]
fn a_private_log_stays_private_across_rotation() {
    if !need_root_and_nobody("a_private_log_stays_private_across_rotation") {
        return;
    }
    let env = Env::new();
    fs::set_permissions(env.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    let log = env.path("app.log");
    fs::write(&log, "").unwrap();
    fs::set_permissions(&log, fs::Permissions::from_mode(0o600)).unwrap();
    let script = env.script(
        "talk.sh",
        "i=0; while [ $i -lt 40 ]; do echo \"line $i password=secret\"; i=$((i+1)); done\n\
         exec sleep \"$1\"",
    );
    start_respawn(
        &env,
        "app",
        &[
            "--log",
            log.to_str().unwrap(),
            "--log-max-size",
            "300",
            "--log-keep",
            "2",
        ],
        &[script.to_str().unwrap(), &unique_secs()],
    );
    wait_until(
        "the log has rotated and has the last line",
        DEADLINE,
        || {
            env.path("app.log.1").exists()
                && fs::read_to_string(&log).is_ok_and(|t| t.contains("line 39 "))
        },
    );
    for file in ["app.log", "app.log.1"] {
        let path = env.path(file);
        assert_eq!(
            fs::metadata(&path).unwrap().mode() & 0o7777,
            0o600,
            "{file}"
        );
        let out = as_nobody(&format!("cat '{}'", path.display()))
            .output()
            .unwrap();
        assert!(!out.status.success(), "nobody read {file}: {out:?}");
    }
    env.run(&["stop", "app"]).ok();
}

/// Finding 2 (exec mode): nobody swaps its log for a symlink to a root-only file; root's
/// `restart` must not open the target and hand it to the daemon as stdout.
#[test]
fn a_log_symlink_planted_by_the_user_is_not_followed_by_restart() {
    if !need_root_and_nobody("a_log_symlink_planted_by_the_user_is_not_followed_by_restart") {
        return;
    }
    let env = Env::new();
    let logs = nobody_log_dir(&env);
    let secret_dir = env.path("secret");
    fs::create_dir(&secret_dir).unwrap();
    let secret = secret_dir.join("shadow");
    fs::write(&secret, "root only\n").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    let log = logs.join("x.log");
    let log_s = log.to_str().unwrap();
    let secs = unique_secs();
    env.run(&[
        "start",
        "--name",
        "x",
        "--user",
        "nobody",
        "--log",
        log_s,
        "--",
        "sh",
        "-c",
        &format!("echo PWNED; exec sleep {secs}"),
    ])
    .ok();
    env.run(&["stop", "x"]).ok();
    nobody_does(&format!(
        "ln -sf {} {}.new && mv -f {}.new {}",
        secret.display(),
        log_s,
        log_s,
        log_s
    ));
    assert!(fs::symlink_metadata(&log).unwrap().file_type().is_symlink());
    let restarted = run_or_hang(&env, &["restart", "x"], &[]);
    if restarted.code == 0 {
        came_true(Duration::from_secs(5), || {
            fs::read_to_string(&secret).is_ok_and(|s| s.contains("PWNED"))
        });
    }
    assert_eq!(fs::read_to_string(&secret).unwrap(), "root only\n");
    assert_eq!(fs::metadata(&secret).unwrap().mode() & 0o7777, 0o600);
    restarted.code(1).stderr_has("symlink").stderr_has(log_s);
    assert!(env.track_marked(&secs).is_empty(), "a daemon was started");
}

/// Finding 2 (FIFO): a FIFO planted as the log must neither hang root's `restart` (which held
/// the lock while blocked in `open`) nor `logs`; both fail at once naming the file.
#[test]
fn a_fifo_planted_as_the_log_hangs_neither_restart_nor_logs() {
    if !need_root_and_nobody("a_fifo_planted_as_the_log_hangs_neither_restart_nor_logs") {
        return;
    }
    let env = Env::new();
    let logs = nobody_log_dir(&env);
    let log = logs.join("x.log");
    let log_s = log.to_str().unwrap();
    let secs = unique_secs();
    start_as_nobody(&env, "x", log_s, &secs);
    let pid = env.pid_of("x");
    nobody_does(&format!("rm -f {log_s} && mkfifo {log_s}"));
    run_or_hang(&env, &["restart", "x"], &[])
        .code(1)
        .stderr_has("FIFO")
        .stderr_has(log_s);
    // Refused before the stop: the daemon did not pay for it.
    assert_left_alone(pid, "the refused restart");
    run_or_hang(&env, &["logs", "x"], &[])
        .code(1)
        .stderr_has("FIFO")
        .stderr_has(log_s);
    // The lock is free again: stop answers at once.
    run_or_hang(&env, &["stop", "x"], &[]).ok();
    assert!(env.track_marked(&secs).is_empty());
}

/// With `fs.protected_hardlinks=0` anyone can hard-link any file. A link to a root-only file,
/// named as the log in the daemon user's directory, is not shown by root's `logs`. (Root makes
/// the link here, as the kernel setting would let nobody; nobody puts it in place.)
#[test]
fn a_hard_link_to_a_root_file_planted_as_the_log_is_not_shown() {
    if !need_root_and_nobody("a_hard_link_to_a_root_file_planted_as_the_log_is_not_shown") {
        return;
    }
    let env = Env::new();
    let logs = nobody_log_dir(&env);
    let log = logs.join("x.log");
    let log_s = log.to_str().unwrap();
    let secs = unique_secs();
    start_as_nobody(&env, "x", log_s, &secs);
    let vault = env.path("vault");
    fs::create_dir(&vault).unwrap();
    fs::set_permissions(&vault, fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(vault.join("secret"), "ROOT-SECRET\n").unwrap();
    fs::set_permissions(vault.join("secret"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::hard_link(vault.join("secret"), logs.join(".planted")).unwrap();
    nobody_does(&format!(
        "rm -f {log_s} && mv {}/.planted {log_s}",
        logs.display()
    ));
    let run = run_or_hang(&env, &["logs", "x"], &[]).code(1);
    assert!(!run.stdout.contains("ROOT-SECRET"), "{}", run.dump());
    let run = run.stderr_has("hard links").stderr_has(log_s);
    drop(run);
    run_or_hang(&env, &["stop", "x"], &[]).ok();
    // The same in a sticky directory (/tmp's kind): its bit does not stop nobody from making
    // names there.
    let sticky = env.path("sticky");
    fs::create_dir(&sticky).unwrap();
    fs::set_permissions(&sticky, fs::Permissions::from_mode(0o1777)).unwrap();
    let log = sticky.join("y.log");
    let log_s = log.to_str().unwrap();
    start_as_nobody(&env, "y", log_s, &secs);
    nobody_does(&format!("rm -f {log_s}"));
    fs::hard_link(vault.join("secret"), &log).unwrap();
    let run = run_or_hang(&env, &["logs", "y"], &[]).code(1);
    assert!(!run.stdout.contains("ROOT-SECRET"), "{}", run.dump());
    run.stderr_has("hard links");
    run_or_hang(&env, &["stop", "y"], &[]).ok();
    assert!(env.track_marked(&secs).is_empty());
}

/// Finding 3: a lock file anyone can open lets anyone hold root's lock (flock works on a
/// read-only fd), and root's `stop` then hangs forever. Lock files are 0600 now: nobody cannot
/// open it, and root's `stop` works.
#[test]
fn nobody_cannot_hold_roots_lock() {
    if !need_root_and_nobody("nobody_cannot_hold_roots_lock") {
        return;
    }
    let env = Env::new();
    fs::set_permissions(env.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    let pid = env.start("x", &["sleep", &unique_secs()]);
    let lock = env.path("x.lock");
    let holder_secs = unique_secs();
    let _guard = KillByArg(holder_secs.clone());
    let mut holder = Background::spawn(&mut as_nobody(&format!(
        "exec flock -s {} sleep {holder_secs}",
        lock.display()
    )));
    let ino = fs::metadata(&lock).unwrap().ino();
    let held = |ino: u64| {
        fs::read_to_string("/proc/locks")
            .unwrap_or_default()
            .lines()
            .any(|l| {
                l.split_whitespace()
                    .nth(5)
                    .is_some_and(|id| id.ends_with(&format!(":{ino}")))
            })
    };
    wait_until(
        "nobody's flock has failed or holds the lock",
        DEADLINE,
        || holder.child().try_wait().unwrap().is_some() || held(ino),
    );
    let exited = holder.child().try_wait().unwrap();
    assert!(
        exited.is_some_and(|s| !s.success()),
        "nobody's flock did not fail: {exited:?}"
    );
    run_or_hang(&env, &["stop", "x"], &[]).ok();
    wait_dead(pid);
    let mode = fs::metadata(&lock).unwrap().mode() & 0o777;
    assert_eq!(
        mode & 0o077,
        0,
        "the lock file is open to others: {mode:03o}"
    );
}

/// Finding 3: waiting for a busy lock says who holds it after a second and gives up with a
/// clear error at the deadline (RDAEMON_LOCK_TIMEOUT), instead of hanging forever.
#[test]
fn a_held_lock_is_named_and_given_up_on() {
    let env = Env::new();
    let pid = env.start("x", &["sleep", &unique_secs()]);
    let lock = env.path("x.lock");
    let holder_secs = unique_secs();
    let _guard = KillByArg(holder_secs.clone());
    let mut holder = Background::spawn(
        std::process::Command::new("flock")
            .arg(&lock)
            .args(["sleep", &holder_secs]),
    );
    let ino = fs::metadata(&lock).unwrap().ino();
    wait_until("the test's flock holds the lock", DEADLINE, || {
        fs::read_to_string("/proc/locks")
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains(&format!(":{ino} ")))
    });
    run_or_hang(&env, &["stop", "x"], &[("RDAEMON_LOCK_TIMEOUT", "2s")])
        .code(1)
        .stderr_has("waiting for the lock")
        .stderr_has(&format!("pid {}", holder.pid()))
        .stderr_has("gave up");
    assert_left_alone(pid, "the stop that gave up waiting for the lock");
    holder.child().kill().unwrap();
    let _ = holder.child().wait();
    for p in live_pids_with_arg(&holder_secs) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    wait_until("the lock is free", DEADLINE, || {
        !fs::read_to_string("/proc/locks")
            .unwrap_or_default()
            .contains(&format!(":{ino} "))
    });
    env.run(&["stop", "x"]).ok();
    wait_dead(pid);
}

/// Finding 7: `--env` values (secrets) must not be readable by other users in the record.
#[test]
fn the_record_with_env_secrets_is_private() {
    if !need_root_and_nobody("the_record_with_env_secrets_is_private") {
        return;
    }
    let env = Env::new();
    fs::set_permissions(env.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    env.run(&[
        "start",
        "--name",
        "x",
        "--env",
        "TOKEN=hunter2-secret",
        "--",
        "sleep",
        &unique_secs(),
    ])
    .ok();
    env.pid_of("x");
    let record = env.path("x.json");
    let out = as_nobody(&format!("cat {}", record.display()))
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("hunter2-secret"),
        "nobody read the secret from {}",
        record.display()
    );
    assert!(!out.status.success());
    assert_eq!(fs::metadata(&record).unwrap().mode() & 0o777, 0o600);
    // Its owner still reads it.
    env.run(&["status", "x"]).ok();
    env.run(&["list"]).ok().stdout_has("running");
    env.run(&["stop", "x"]).ok();
}

/// Finding 8: a read-only rdaemon directory must not make a daemon unstoppable (the lock was
/// opened read-write and created if missing).
#[test]
fn stop_works_in_a_read_only_rdaemon_directory() {
    const TEST: &str = "stop_works_in_a_read_only_rdaemon_directory";
    if !need_root_and_nobody(TEST) {
        return;
    }
    let env = Env::new();
    let pid = env.start("x", &["sleep", &unique_secs()]);
    // Root without CAP_SYS_ADMIN (a container) cannot mount: skip, saying why.
    let _ro = match BindReadOnly::new(env.dir()) {
        Ok(mount) => mount,
        Err(why) => return skip(TEST, &why),
    };
    assert!(
        fs::write(env.path("probe"), "").is_err(),
        "the mount is not read-only"
    );
    env.run(&["status", "x"]).ok();
    run_or_hang(&env, &["stop", "x"], &[])
        .ok()
        .stdout_has("stopped x");
    wait_dead(pid);
}

/// A read-only bind mount of a directory on itself, undone when dropped (also when it could be
/// made but not remounted read-only).
struct BindReadOnly(PathBuf);

impl BindReadOnly {
    /// Mounts `path` on itself read-only (needs CAP_SYS_ADMIN); the error says why it could not.
    fn new(path: &Path) -> Result<BindReadOnly, String> {
        let mount = |args: &[&std::ffi::OsStr]| -> Result<(), String> {
            let out = std::process::Command::new("mount")
                .args(args)
                .output()
                .map_err(|e| format!("cannot run mount: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "mount {} failed: {}",
                    args[0].to_string_lossy(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        };
        mount(&["--bind".as_ref(), path.as_os_str(), path.as_os_str()])?;
        let guard = BindReadOnly(path.to_owned());
        mount(&["-o".as_ref(), "remount,bind,ro".as_ref(), path.as_os_str()])?;
        Ok(guard)
    }
}

impl Drop for BindReadOnly {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Finding 10: a record with `"command": []` made `restart` and `export` panic; now each is an
/// error naming the file.
#[test]
fn a_record_without_a_command_is_an_error_not_a_panic() {
    let env = Env::new();
    env.start("x", &["sleep", &unique_secs()]);
    env.run(&["stop", "x"]).ok();
    let path = env.path("x.json");
    let mut rec: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    rec["command"] = serde_json::json!([]);
    fs::write(&path, serde_json::to_vec_pretty(&rec).unwrap()).unwrap();
    let path_s = path.to_str().unwrap();
    for args in [
        &["restart", "x"][..],
        &["export", "systemd", "x"][..],
        &["start", "x"][..],
    ] {
        let run = run_or_hang(&env, args, &[]);
        assert!(
            !run.stderr.contains("panicked"),
            "rdaemon panicked: {}",
            run.dump()
        );
        // restart and start see no usable record (exit 2: give a command line); export fails.
        assert!([1, 2].contains(&run.code), "{}", run.dump());
        run.stderr_has(path_s).stderr_has("command");
    }
    run_or_hang(&env, &["list"], &[]).ok().stdout_has("unknown");
}

/// Finding 10: a FIFO in place of a record hung `list`; a record linked to `/dev/zero` made it
/// read (and allocate) without end. Records are regular files, opened without blocking and
/// without following symlinks, and size-capped.
#[test]
fn hostile_record_files_hang_nothing() {
    let env = Env::new();
    nix::unistd::mkfifo(
        &env.path("fifo.json"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    std::os::unix::fs::symlink("/dev/zero", env.path("zero.json")).unwrap();
    fs::write(env.path("big.json"), vec![b' '; 2 << 20]).unwrap();
    let list = run_or_hang(&env, &["list"], &[]);
    let statuses: Vec<(&str, Run)> = ["fifo", "zero", "big"]
        .into_iter()
        .map(|name| (name, run_or_hang(&env, &["status", name], &[])))
        .collect();
    let json = run_or_hang(&env, &["list", "--json"], &[]);
    // The harness shows the directory's files when an assertion fails: these would hang it.
    for name in ["fifo.json", "zero.json", "big.json"] {
        fs::remove_file(env.path(name)).unwrap();
    }
    list.ok().stdout_has("unknown");
    for (name, run) in statuses {
        assert!(!run.stderr.contains("panicked"), "{}", run.dump());
        run.stderr_has(&format!("{name}.json"));
    }
    json.ok();
}

/// Writes `pid` into `path` as a root-owned 0644 pidfile, as rdaemon or another tool would.
fn root_pidfile(path: &Path, pid: i32) {
    fs::write(path, format!("{pid}\n")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
}

/// A root-owned pidfile no record describes, in a directory another user can write: that user
/// could have put it there (renamed from a pidfile of another daemon, say), so root's `stop`
/// does not trust it, and signals nothing (SPEC §4, "as root only if no other user could have
/// written it"). The same file in a directory only root can write is trusted the classic way.
#[test]
fn a_root_pidfile_in_a_directory_another_user_can_write_is_not_trusted() {
    const TEST: &str = "a_root_pidfile_in_a_directory_another_user_can_write_is_not_trusted";
    if !need_root_and_nobody(TEST) {
        return;
    }
    let env = Env::new();
    let theirs = nobody_log_dir(&env);
    let bystander = OwnChild::sleep();
    let pidfile = theirs.join("moved.pid");
    root_pidfile(&pidfile, bystander.pid());
    let out = run_or_hang(&env, &["stop", "--pidfile", pidfile.to_str().unwrap()], &[]);
    assert_ne!(out.code, 0, "stop trusted it\n{}", out.dump());
    assert!(
        out.stderr
            .contains("could have been written by another user"),
        "{}",
        out.dump()
    );
    assert_left_alone(bystander.pid(), "root's stop (a bystander)");
    // Only root can write here: the classic trust holds, and the process is stopped.
    let ours = env.path("ours");
    fs::create_dir(&ours).unwrap();
    let trusted = ours.join("x.pid");
    root_pidfile(&trusted, bystander.pid());
    run_or_hang(&env, &["stop", "--pidfile", trusted.to_str().unwrap()], &[]).ok();
    wait_dead(bystander.pid());
}

/// The user swaps a directory on the pidfile's path for a symlink to a directory of root's,
/// where a root-owned file of that name names a bystander: neither `status`, `stop` nor `start`
/// follows the link, so nothing is signalled and root's file is not removed.
#[test]
fn a_symlink_swapped_into_the_pidfile_path_is_not_followed() {
    const TEST: &str = "a_symlink_swapped_into_the_pidfile_path_is_not_followed";
    if !need_root_and_nobody(TEST) {
        return;
    }
    let env = Env::new();
    let theirs = nobody_log_dir(&env);
    let bystander = OwnChild::sleep();
    let roots = env.path("roots");
    fs::create_dir(&roots).unwrap();
    let victim = roots.join("app.pid");
    root_pidfile(&victim, bystander.pid());
    nobody_does(&format!(
        "ln -s '{}' '{}/run'",
        roots.display(),
        theirs.display()
    ));
    let pidfile = theirs.join("run/app.pid");
    let pidfile = pidfile.to_str().unwrap();
    let status = run_or_hang(&env, &["status", "--pidfile", pidfile], &[]);
    assert_eq!(status.code, 4, "{}", status.dump());
    assert!(status.stderr.contains("symlink"), "{}", status.dump());
    let stop = run_or_hang(&env, &["stop", "--pidfile", pidfile], &[]);
    assert_ne!(stop.code, 0, "{}", stop.dump());
    let start = run_or_hang(
        &env,
        &[
            "start",
            "--name",
            "swapped",
            "--pidfile",
            pidfile,
            "--",
            "sleep",
            "1",
        ],
        &[],
    );
    assert_ne!(start.code, 0, "{}", start.dump());
    assert_left_alone(bystander.pid(), "the stop (a bystander)");
    assert_eq!(
        fs::read_to_string(&victim).unwrap(),
        format!("{}\n", bystander.pid()),
        "root's file was changed or removed"
    );
}

/// As root, rdaemon writes a pidfile with its own rights only where no other user can write
/// (SPEC §4): a world-writable directory that is not sticky is refused before anything runs; a
/// sticky one, such as /tmp, is fine.
#[test]
fn a_pidfile_in_a_world_writable_directory_is_refused_as_root() {
    const TEST: &str = "a_pidfile_in_a_world_writable_directory_is_refused_as_root";
    if !need_root_and_nobody(TEST) {
        return;
    }
    let env = Env::new();
    fs::set_permissions(env.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    let open = env.path("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let mark = unique_secs();
    let pidfile = open.join("w.pid");
    let start = || {
        let pidfile = pidfile.to_str().unwrap();
        run_or_hang(
            &env,
            &[
                "start",
                "--name",
                "w",
                "--pidfile",
                pidfile,
                "--",
                "sleep",
                &mark,
            ],
            &[],
        )
    };
    let out = start();
    assert_eq!(out.code, 1, "{}", out.dump());
    assert!(
        out.stderr.contains("other users can write to"),
        "{}",
        out.dump()
    );
    assert_eq!(env.track_marked(&mark), Vec::<i32>::new(), "it ran anyway");
    assert!(!pidfile.exists());
    fs::set_permissions(&open, fs::Permissions::from_mode(0o1777)).unwrap();
    start().ok();
    assert_eq!(env.track_marked(&mark).len(), 1);
    assert_eq!(fs::metadata(&pidfile).unwrap().uid(), 0);
}

/// The same rule for a log (SPEC §4): as root, with no `--user` who could write there, a log in
/// a world-writable directory that is not sticky is refused before anything runs.
#[test]
fn a_log_in_a_world_writable_directory_is_refused_as_root() {
    const TEST: &str = "a_log_in_a_world_writable_directory_is_refused_as_root";
    if !need_root_and_nobody(TEST) {
        return;
    }
    let env = Env::new();
    fs::set_permissions(env.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    let open = env.path("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let mark = unique_secs();
    let log = open.join("w.log");
    let log = log.to_str().unwrap();
    let out = run_or_hang(
        &env,
        &["start", "--name", "w", "--log", log, "--", "sleep", &mark],
        &[],
    );
    assert_eq!(out.code, 1, "{}", out.dump());
    assert!(
        out.stderr
            .contains(&format!("refusing to write log file '{log}'"))
            && out.stderr.contains("other users can write to"),
        "{}",
        out.dump()
    );
    assert_eq!(env.track_marked(&mark), Vec::<i32>::new(), "it ran anyway");
    assert!(!Path::new(log).exists());
}

/// `--ready log:` as root, the log in the daemon user's directory: the daemon replaces its log
/// with a FIFO. Before, root's `start` blocked in `open` for good, deaf to its timeout and to
/// SIGTERM, holding the name's lock; now the FIFO is never opened and the wait times out.
#[test]
fn a_fifo_swapped_in_as_the_log_does_not_hang_a_log_readiness_wait() {
    const TEST: &str = "a_fifo_swapped_in_as_the_log_does_not_hang_a_log_readiness_wait";
    if !need_root_and_nobody(TEST) {
        return;
    }
    let env = Env::new();
    let logs = nobody_log_dir(&env);
    let log = logs.join("f.log");
    let script = env.path("fifo.sh");
    fs::write(
        &script,
        "#!/bin/sh\nrm -f \"$1\"; mkfifo \"$1\"; exec sleep \"$2\"\n",
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let mark = unique_secs();
    let out = run_or_hang(
        &env,
        &[
            "start",
            "--name",
            "f",
            "--user",
            "nobody",
            "--log",
            log.to_str().unwrap(),
            "--ready",
            "log:never-matches",
            "--ready-timeout",
            "3s",
            "--",
            script.to_str().unwrap(),
            log.to_str().unwrap(),
            &mark,
        ],
        &[],
    );
    env.track_marked(&mark);
    assert_eq!(out.code, 1, "{}", out.dump());
    assert!(out.stderr.contains("not ready"), "{}", out.dump());
}

/// `export systemd --out DIR` as root (SPEC §4: root writes no file in a directory another user
/// can write, unless it is sticky). Into nobody's directory, where nobody has planted a symlink
/// to a root-only file at `DIR/NAME.service` and a FIFO at `DIR/TARGET.target`, it is refused
/// before anything is written (the first `export` wrote through the symlink and blocked on the
/// FIFO); so is a directory of root's beneath nobody's, which nobody could swap for another of
/// root's to have its files overwritten (a helper's audit did). In a directory of root's, a
/// symlink or FIFO at a unit path is refused with the path and the reason, and a regular file
/// is replaced by a new root-owned 0644 unit, not written into.
#[test]
fn export_out_follows_no_planted_symlink_and_opens_no_fifo() {
    if !need_root_and_nobody("export_out_follows_no_planted_symlink_and_opens_no_fifo") {
        return;
    }
    let env = Env::new();
    // A directory nobody owns: `logs`.
    let units = nobody_log_dir(&env);
    let app = env.path("app");
    fs::create_dir(&app).unwrap();
    fs::write(
        app.join("rdaemon.toml"),
        "[daemons.web]\ncommand = [\"sleep\", \"1000\"]\n",
    )
    .unwrap();
    let secret_dir = env.path("secret");
    fs::create_dir(&secret_dir).unwrap();
    fs::set_permissions(&secret_dir, fs::Permissions::from_mode(0o700)).unwrap();
    let secret = secret_dir.join("shadow");
    fs::write(&secret, "root only\n").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    let service = units.join("web.service");
    let target = units.join("app.target");
    nobody_does(&format!(
        "ln -s {} {} && mkfifo {}",
        secret.display(),
        service.display(),
        target.display()
    ));
    let export = |out: &str| {
        run_or_hang(
            &env,
            &["export", "systemd", "-f", "app/rdaemon.toml", "--out", out],
            &[],
        )
    };
    let unchanged = |run: &Run| {
        assert_eq!(fs::read_to_string(&secret).unwrap(), "root only\n");
        let meta = fs::metadata(&secret).unwrap();
        assert_eq!(
            (meta.mode() & 0o7777, meta.uid()),
            (0o600, 0),
            "{}",
            run.dump()
        );
        assert_eq!(
            listing(&units),
            ["app.target", "web.service"],
            "{}",
            run.dump()
        );
    };
    let run = export("logs");
    unchanged(&run);
    run.code(1)
        .one_error_line()
        .stderr_has(&format!(
            "refusing to write unit file '{}'",
            service.display()
        ))
        .stderr_has("other users can write to");

    // A directory of root's beneath nobody's, holding a root file of a unit's name.
    let roots = units.join("roots");
    fs::create_dir(&roots).unwrap();
    fs::write(roots.join("app.target"), "root's own\n").unwrap();
    let run = export("logs/roots");
    run.code(1)
        .one_error_line()
        .stderr_has("other users can change");
    assert_eq!(
        fs::read_to_string(roots.join("app.target")).unwrap(),
        "root's own\n"
    );

    // Root's own directory: a symlink or FIFO there (root's doing) is refused, named.
    let ours = env.path("units");
    fs::create_dir(&ours).unwrap();
    let (service, target) = (ours.join("web.service"), ours.join("app.target"));
    std::os::unix::fs::symlink(&secret, &service).unwrap();
    nix::unistd::mkfifo(&target, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let run = export("units");
    run.code(1)
        .one_error_line()
        .stderr_has(&format!("refusing unit file '{}'", service.display()))
        .stderr_has("symlink");
    fs::remove_file(&service).unwrap();
    let run = export("units");
    run.code(1)
        .one_error_line()
        .stderr_has(&format!("refusing unit file '{}'", target.display()))
        .stderr_has("FIFO");
    // Regular files, one writable by all: replaced by new files of root's.
    fs::remove_file(&target).unwrap();
    fs::write(&target, "old\n").unwrap();
    fs::write(&service, "old\n").unwrap();
    fs::set_permissions(&service, fs::Permissions::from_mode(0o666)).unwrap();
    export("units")
        .ok()
        .stdout_has(&format!("wrote {}", service.display()))
        .stdout_has(&format!("wrote {}", target.display()));
    assert_eq!(fs::read_to_string(&secret).unwrap(), "root only\n");
    for unit in [&service, &target] {
        let meta = fs::symlink_metadata(unit).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(
            (meta.mode() & 0o7777, meta.uid(), meta.gid()),
            (0o644, 0, 0)
        );
        assert!(fs::read_to_string(unit).unwrap().contains("[Install]\n"));
    }
}

/// A directory of root's (0755) inside a directory the user owns: the user cannot write in it,
/// but can rename it and put another directory of root's in its place (another service's, with
/// a root pidfile naming a bystander). Nothing beneath a directory another user can change is
/// trusted as root's: `stop --pidfile` there signals nothing and removes nothing, and `start`
/// writes no pidfile and no log there (helper audit, 2026-12-01: before, root's `stop` killed
/// the bystander and deleted root's file).
#[test]
fn a_directory_swapped_above_roots_directory_redirects_nothing() {
    const TEST: &str = "a_directory_swapped_above_roots_directory_redirects_nothing";
    if !need_root_and_nobody(TEST) {
        return;
    }
    let env = Env::new();
    let theirs = nobody_log_dir(&env);
    let bystander = OwnChild::sleep();
    // Another service's directory and pidfile, both root's, swapped in by the user.
    let service = theirs.join("service");
    fs::create_dir(&service).unwrap();
    let victim = service.join("x.pid");
    root_pidfile(&victim, bystander.pid());
    nobody_does(&format!("cd '{}' && mv service app", theirs.display()));
    let pidfile = theirs.join("app/x.pid");
    let pidfile = pidfile.to_str().unwrap();
    for args in [
        vec!["stop", "--pidfile", pidfile],
        vec!["signal", "USR1", "--pidfile", pidfile],
    ] {
        let out = run_or_hang(&env, &args, &[]);
        assert_ne!(out.code, 0, "{args:?} trusted it\n{}", out.dump());
    }
    assert_left_alone(bystander.pid(), "root's stop (a bystander)");
    assert_eq!(
        fs::read_to_string(theirs.join("app/x.pid")).unwrap(),
        format!("{}\n", bystander.pid()),
        "root's file was changed or removed"
    );
    // Nor does root write there: a pidfile, or a log, is refused before anything runs.
    let mark = unique_secs();
    let log = theirs.join("app/w.log");
    for (opt, path) in [
        ("--pidfile", theirs.join("app/new.pid")),
        ("--log", log.clone()),
    ] {
        let out = run_or_hang(
            &env,
            &[
                "start",
                "--name",
                "w",
                opt,
                path.to_str().unwrap(),
                "--",
                "sleep",
                &mark,
            ],
            &[],
        );
        assert_eq!(out.code, 1, "{}", out.dump());
        assert!(
            out.stderr.contains(&format!(
                "other users can change '{}' on the way to it",
                theirs.display()
            )),
            "{}",
            out.dump()
        );
        assert!(!path.exists(), "{} was written", path.display());
    }
    assert_eq!(env.track_marked(&mark), Vec::<i32>::new(), "it ran anyway");
    // An rdaemon directory there is refused as well, for every command that acts on it.
    let state = theirs.join("app/state");
    fs::create_dir(&state).unwrap();
    let out = run_or_hang(
        &env,
        &["--dir", state.to_str().unwrap(), "stop", "--all"],
        &[],
    );
    assert_eq!(out.code, 1, "{}", out.dump());
    assert!(
        out.stderr.contains("refusing rdaemon directory"),
        "{}",
        out.dump()
    );
}

/// `start --name d --user nobody --pidfile PIDFILE -- sleep SECS`.
fn start_d_as_nobody(env: &Env, pidfile: &Path, secs: &str) -> Run {
    env.run(&[
        "start",
        "--name",
        "d",
        "--user",
        "nobody",
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--",
        "sleep",
        secs,
    ])
}

/// Kills the daemon PIDFILE names, as its user could, and waits until it is dead; its pid.
fn kill_daemon(env: &Env, pidfile: &Path) -> i32 {
    let pid: i32 = fs::read_to_string(pidfile).unwrap().trim().parse().unwrap();
    env.track(pid);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL).unwrap();
    wait_until("the daemon to die", DEADLINE, || !alive(pid));
    pid
}

/// With `--user nobody` and a pidfile in the user's own directory, the user kills the daemon
/// and swaps a directory of root's holding a root-only file of the pidfile's name into its
/// path: root's `restart`, `start` and `stop` find a stale pidfile there, and must not remove
/// root's file with root's rights (review, 2026-12-02: they did, then refused to write).
/// Without the swap, the stale pidfile in the user's directory is still removed (with the
/// user's rights) and the daemon restarts.
#[test]
fn a_stale_pidfile_swapped_in_from_above_is_not_removed_as_root() {
    const TEST: &str = "a_stale_pidfile_swapped_in_from_above_is_not_removed_as_root";
    if !need_root_and_nobody(TEST) {
        return;
    }
    let env = Env::new();
    let theirs = nobody_log_dir(&env);
    let run = theirs.join("run");
    nobody_does(&format!("mkdir '{}'", run.display()));
    let pidfile = run.join("d.pid");
    let secs = unique_secs();
    let start = |env: &Env| start_d_as_nobody(env, &pidfile, &secs);
    start(&env).ok();
    let dead = kill_daemon(&env, &pidfile);
    // Root's directory (0755) and file (0600, naming the dead daemon, as another service's
    // stale pidfile could), made in the user's directory, then renamed by the user into the
    // pidfile's path.
    let rootsub = theirs.join("rootsub");
    fs::create_dir(&rootsub).unwrap();
    let victim = rootsub.join("d.pid");
    let content = format!("{dead}\n");
    fs::write(&victim, &content).unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).unwrap();
    nobody_does(&format!(
        "cd '{}' && rm -rf run && mv rootsub run",
        theirs.display()
    ));
    for args in [&["restart", "d"][..], &["start", "d"], &["stop", "d"]] {
        let out = run_or_hang(&env, args, &[]);
        assert_eq!(out.code, 1, "{}", out.dump());
        assert!(
            out.stderr.contains("refusing to remove pidfile"),
            "{}",
            out.dump()
        );
        assert_eq!(
            fs::read_to_string(&pidfile).unwrap(),
            content,
            "{args:?} removed or changed root's file"
        );
    }
    assert_eq!(env.track_marked(&secs), Vec::<i32>::new(), "it ran anyway");
    // The user's own directory back, with the stale pidfile the daemon left: removed (as the
    // user) and replaced.
    fs::remove_dir_all(&run).unwrap();
    nobody_does(&format!(
        "mkdir '{0}' && echo 31999 > '{0}/d.pid'",
        run.display()
    ));
    start(&env).ok();
    let pid = env.track_marked(&secs);
    assert_eq!(pid.len(), 1, "{pid:?}");
    assert_eq!(
        fs::read_to_string(&pidfile).unwrap(),
        format!("{}\n", pid[0])
    );
}

/// With `--user nobody` and a pidfile in the user's directory, the daemon dies and the user
/// writes a live root process's pid into the pidfile: the daemon is dead (its record's process
/// is gone), not unknown, so root can still stop, signal and restart it, and the root process
/// is never signalled (review, 2026-12-02: status said unknown and stop, restart failed).
#[test]
fn a_foreign_pid_written_over_a_dead_daemons_pidfile_leaves_it_dead() {
    const TEST: &str = "a_foreign_pid_written_over_a_dead_daemons_pidfile_leaves_it_dead";
    if !need_root_and_nobody(TEST) {
        return;
    }
    let env = Env::new();
    let theirs = nobody_log_dir(&env);
    let pidfile = theirs.join("d.pid");
    let secs = unique_secs();
    start_d_as_nobody(&env, &pidfile, &secs).ok();
    kill_daemon(&env, &pidfile);
    let root_process = OwnChild::sleep();
    nobody_does(&format!(
        "echo {} > '{}'",
        root_process.pid(),
        pidfile.display()
    ));
    run_or_hang(&env, &["status", "d"], &[])
        .code(1)
        .stdout_has("dead");
    run_or_hang(&env, &["signal", "USR1", "d"], &[]).code(7);
    run_or_hang(&env, &["stop", "d"], &[])
        .ok()
        .stdout_has("d is not running");
    assert_left_alone(root_process.pid(), "the refused signal (root's process)");
    nobody_does(&format!(
        "echo {} > '{}'",
        root_process.pid(),
        pidfile.display()
    ));
    run_or_hang(&env, &["restart", "d"], &[])
        .ok()
        .stdout_has("started d (pid ");
    assert_left_alone(root_process.pid(), "the refused signal (root's process)");
    assert_eq!(env.track_marked(&secs).len(), 1);
}

/// An up file's commands run as root unless an entry names a user: root's `up`, `down` and
/// `export -f` read only a file that root owns and no other user can change (review,
/// 2026-12-02: a file in the user's directory, or owned by the user, ran the user's command as
/// root, and a symlink of theirs had a root-only file read). Root's own file, reached through
/// root's symlink, is read.
#[test]
fn roots_up_reads_no_file_another_user_could_change() {
    const TEST: &str = "roots_up_reads_no_file_another_user_could_change";
    if !need_root_and_nobody(TEST) {
        return;
    }
    let env = Env::new();
    let theirs = nobody_log_dir(&env);
    let mark = unique_secs();
    let entry = format!("[daemons.app]\ncommand = [\"sleep\", \"{mark}\"]\n");
    // Root's file in the user's directory (the user can swap it), the user's file in root's
    // directory, root's file that others can write, and the user's symlink to root's file.
    let in_theirs = theirs.join("in-theirs.toml");
    fs::write(&in_theirs, &entry).unwrap();
    let owned = env.path("owned.toml");
    fs::write(&owned, &entry).unwrap();
    std::os::unix::fs::chown(&owned, Some(65534), Some(65534)).unwrap();
    let writable = env.path("writable.toml");
    fs::write(&writable, &entry).unwrap();
    fs::set_permissions(&writable, fs::Permissions::from_mode(0o666)).unwrap();
    let secret = env.path("secret.toml");
    fs::write(&secret, "root only = \"do not show\"\n").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    let link = theirs.join("link.toml");
    nobody_does(&format!(
        "ln -s '{}' '{}'",
        secret.display(),
        link.display()
    ));
    let cases = [
        (
            &in_theirs,
            format!("other users can write to '{}'", theirs.display()),
        ),
        (&owned, "it is a file owned by uid 65534".to_owned()),
        (&writable, "other users can write it (mode 666)".to_owned()),
        (
            &link,
            format!("other users can write to '{}'", theirs.display()),
        ),
    ];
    for (file, why) in &cases {
        let file = file.to_str().unwrap();
        for args in [
            &["up", "-f", file][..],
            &["down", "-f", file],
            &["export", "systemd", "-f", file],
        ] {
            let out = run_or_hang(&env, args, &[]).code(1).one_error_line();
            assert!(
                out.stderr
                    .contains(&format!("refusing up file '{file}': {why}")),
                "{}",
                out.dump()
            );
            assert!(!out.stderr.contains("do not show"), "{}", out.dump());
        }
    }
    assert_eq!(env.track_marked(&mark), Vec::<i32>::new(), "it ran anyway");
    // Root's file through root's symlink in root's directory.
    let good = env.path("good.toml");
    fs::write(&good, &entry).unwrap();
    let root_link = env.path("rdaemon.toml");
    std::os::unix::fs::symlink(&good, &root_link).unwrap();
    run_or_hang(&env, &["up", "-f", root_link.to_str().unwrap()], &[]).ok();
    assert_eq!(env.track_marked(&mark).len(), 1);
    run_or_hang(&env, &["down", "-f", root_link.to_str().unwrap()], &[]).ok();
}

/// With `--user nobody`, a log in the user's own directory is written with the user's rights;
/// if the user then swaps a directory of root's holding a root-only file of the log's name
/// into its path, root's `logs` does not print that file.
#[test]
fn logs_does_not_print_a_root_only_file_swapped_in_from_above() {
    const TEST: &str = "logs_does_not_print_a_root_only_file_swapped_in_from_above";
    if !need_root_and_nobody(TEST) {
        return;
    }
    let env = Env::new();
    let theirs = nobody_log_dir(&env);
    nobody_does(&format!("mkdir '{}/l'", theirs.display()));
    let log = theirs.join("l/w.log");
    let mark = unique_secs();
    env.run(&[
        "start",
        "--name",
        "w",
        "--user",
        "nobody",
        "--log",
        log.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &format!("echo hello; exec sleep {mark}"),
    ])
    .ok();
    env.track_marked(&mark);
    assert_eq!(
        fs::metadata(&log).unwrap().uid(),
        65534,
        "written as the user"
    );
    wait_until("the program wrote its line", DEADLINE, || {
        fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("hello")
    });
    env.run(&["logs", "w"]).ok().stdout_has("hello");
    let secret = theirs.join("d");
    fs::create_dir(&secret).unwrap();
    fs::write(secret.join("w.log"), "ROOT-ONLY\n").unwrap();
    fs::set_permissions(secret.join("w.log"), fs::Permissions::from_mode(0o600)).unwrap();
    nobody_does(&format!("cd '{}' && mv l t && mv d l", theirs.display()));
    let out = run_or_hang(&env, &["logs", "w"], &[]);
    assert!(!out.stdout.contains("ROOT-ONLY"), "{}", out.dump());
    assert!(
        out.stderr.contains("it is a private file"),
        "{}",
        out.dump()
    );
    // Nor another user's private file (uid 4242 here).
    let other = theirs.join("o");
    fs::create_dir(&other).unwrap();
    fs::write(other.join("w.log"), "OTHER-USER-PRIVATE\n").unwrap();
    fs::set_permissions(other.join("w.log"), fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(other.join("w.log"), Some(4242), Some(4242)).unwrap();
    std::os::unix::fs::chown(&other, Some(4242), Some(4242)).unwrap();
    nobody_does(&format!("cd '{}' && mv l d2 && mv o l", theirs.display()));
    let out = run_or_hang(&env, &["logs", "w"], &[]);
    assert!(!out.stdout.contains("OTHER-USER-PRIVATE"), "{}", out.dump());
    assert!(
        out.stderr.contains("it is a private file"),
        "{}",
        out.dump()
    );
}

/// An env file in a directory of root's inside the daemon user's directory: the user swaps in a
/// directory of root's holding a root-only file of that name; the `restart` that reads it
/// again (as root, for a daemon that runs as the user) must not put its content in the user's
/// environment. Beneath a directory the user can change, env files are read with the user's
/// rights.
#[test]
fn an_env_file_swapped_in_from_above_is_read_with_the_users_rights() {
    const TEST: &str = "an_env_file_swapped_in_from_above_is_read_with_the_users_rights";
    if !need_root_and_nobody(TEST) {
        return;
    }
    let env = Env::new();
    let theirs = nobody_log_dir(&env);
    let conf = theirs.join("conf");
    fs::create_dir(&conf).unwrap();
    fs::write(conf.join("app.env"), "GREETING=hi\n").unwrap();
    let mark = unique_secs();
    let program = format!("echo \"G=$GREETING S=$SECRET\"; exec sleep {mark}");
    let env_file = conf.join("app.env");
    let log = theirs.join("e.log");
    env.run(&[
        "start",
        "--name",
        "e",
        "--user",
        "nobody",
        "--env-file",
        env_file.to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &program,
    ])
    .ok();
    env.track_marked(&mark);
    let secret = theirs.join("secret");
    fs::create_dir(&secret).unwrap();
    fs::write(secret.join("app.env"), "SECRET=root-only\n").unwrap();
    fs::set_permissions(secret.join("app.env"), fs::Permissions::from_mode(0o600)).unwrap();
    nobody_does(&format!(
        "cd '{}' && mv conf t && mv secret conf",
        theirs.display()
    ));
    let out = run_or_hang(&env, &["restart", "e"], &[]);
    env.track_marked(&mark);
    assert_eq!(out.code, 1, "{}", out.dump());
    assert!(
        out.stderr.contains("cannot read env file") && out.stderr.contains("Permission denied"),
        "{}",
        out.dump()
    );
    assert!(
        !fs::read_to_string(&log).unwrap().contains("root-only"),
        "the root-only file reached the user's environment"
    );
    // Readable by root's group (0640), with rdaemon in group 0 as a root login often is: the
    // user's file-system ids do not drop root's supplementary groups, so the file is checked
    // against the user's own.
    fs::set_permissions(
        theirs.join("conf/app.env"),
        fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let mut cmd = env.std_cmd();
    // SAFETY: setgroups is a single system call, async-signal-safe.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            nix::unistd::setgroups(&[nix::unistd::Gid::from_raw(0)]).map_err(std::io::Error::from)
        });
    }
    let out = env.run_cmd(assert_cmd::Command::from_std(cmd), &["restart", "e"]);
    env.track_marked(&mark);
    assert_eq!(out.code, 1, "{}", out.dump());
    assert!(out.stderr.contains("may not read it"), "{}", out.dump());
    assert!(
        !fs::read_to_string(&log).unwrap().contains("root-only"),
        "the group-0 file reached the user's environment"
    );
}

/// `--dir` through nobody's directory: root creates no directory there (a symlink of nobody's
/// to a root-only directory would have had root create one where nobody chose), and a
/// `--ready file:` check, run as root for nobody's daemon, does not follow nobody's symlink to
/// tell whether a path nobody cannot see exists: the link itself is what exists.
#[test]
fn nobodys_paths_neither_make_root_create_a_directory_nor_answer_for_roots_files() {
    const TEST: &str =
        "nobodys_paths_neither_make_root_create_a_directory_nor_answer_for_roots_files";
    if !need_root_and_nobody(TEST) {
        return;
    }
    let env = Env::new();
    let theirs = nobody_log_dir(&env);
    let hidden = env.path("hidden");
    fs::create_dir(&hidden).unwrap();
    fs::set_permissions(&hidden, fs::Permissions::from_mode(0o700)).unwrap();
    nobody_does(&format!(
        "ln -s '{}' '{}/lnk'",
        hidden.display(),
        theirs.display()
    ));
    for dir in [theirs.join("lnk/planted"), theirs.join("sub/rd")] {
        let out = run_or_hang(
            &env,
            &[
                "--dir",
                dir.to_str().unwrap(),
                "start",
                "--name",
                "x",
                "--",
                "true",
            ],
            &[],
        );
        assert_eq!(out.code, 1, "{}", out.dump());
        assert!(
            out.stderr.contains("cannot create rdaemon directory"),
            "{}",
            out.dump()
        );
    }
    assert_eq!(
        listing(&hidden),
        Vec::<String>::new(),
        "root created a directory there"
    );
    assert!(!theirs.join("sub").exists());
    // The daemon links its ready file to a path in the hidden directory that does not exist:
    // ready all the same (the link exists), so the answer says nothing of the hidden one.
    let mark = unique_secs();
    let ready = theirs.join("ready");
    let program = format!(
        "ln -s '{}/missing' '{}'; exec sleep {mark}",
        hidden.display(),
        ready.display()
    );
    let out = run_or_hang(
        &env,
        &[
            "start",
            "--name",
            "f",
            "--user",
            "nobody",
            "--ready",
            &format!("file:{}", ready.display()),
            "--ready-timeout",
            "20s",
            "--",
            "sh",
            "-c",
            &program,
        ],
        &[],
    );
    env.track_marked(&mark);
    assert_eq!(out.code, 0, "{}", out.dump());
}

/// Attack of 2026-12-02: nobody fills its log's directory with junk to make root's `logs -f`
/// spin. The log is renamed to the last rotated slot (`lf.log.1000`), every slot below it is a
/// symlink to `/`, and a new `lf.log` takes the name. The follower looked for its file with
/// `stat`, which follows symlinks: it found it at slot 1000 behind 999 directories, could
/// never open the slot below, and tried again 2008 times per look, each time through up to
/// 1000 slots: 80% of a CPU, and the lines came late. Now a symlinked slot is never followed
/// and junk costs a few lookups; the follower moves on to the new log, quietly, as `tail -F`
/// does. The work is counted by the follower itself (`RDAEMON_DEBUG=follow`: its lookups per
/// look, on stderr), not by a clock. The swap is atomic (a hard link, then a rename over the
/// name): with the name missing for a moment, the follower would rightly say so.
#[test]
fn a_log_directory_full_of_junk_does_not_make_roots_logs_follow_spin() {
    const TEST: &str = "a_log_directory_full_of_junk_does_not_make_roots_logs_follow_spin";
    if !need_root_and_nobody(TEST) {
        return;
    }
    /// Most lookups one look may make here: 4 slots looked at, twice, and the name, not 999.
    const BOUND: u64 = 32;
    let env = Env::new();
    let logs = nobody_log_dir(&env);
    let log = logs.join("lf.log");
    let mark = unique_secs();
    let program = format!("echo start; while :; do echo tick; sleep 1; done # {mark}");
    env.run(&[
        "start",
        "--name",
        "lf",
        "--user",
        "nobody",
        "--log",
        log.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &program,
    ])
    .ok();
    env.track_marked(&mark);
    assert_eq!(
        fs::metadata(&log).unwrap().uid(),
        65534,
        "written as nobody"
    );
    let (out_path, err_path) = (env.path("follow.out"), env.path("follow.err"));
    let mut cmd = env.std_cmd();
    cmd.args(["logs", "lf", "-f", "-n", "1"])
        .env("RDAEMON_DEBUG", "follow")
        .stdin(std::process::Stdio::null())
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap());
    let follower = Background::spawn(&mut cmd);
    env.track(follower.pid());
    let out = || fs::read_to_string(&out_path).unwrap();
    let err = || fs::read_to_string(&err_path).unwrap();
    // Each look's lookups, from the debug lines; every other line on stderr.
    let looks = || -> (Vec<u64>, Vec<String>) {
        let text = err();
        // Whole lines only: the last may be still being written.
        let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        let (debug, other): (Vec<&str>, Vec<&str>) = whole
            .lines()
            .partition(|l| l.starts_with("rdaemon: debug: follow: "));
        let counts = debug
            .iter()
            .map(|l| {
                l.trim_start_matches("rdaemon: debug: follow: ")
                    .trim_end_matches(" lookups")
                    .parse()
                    .unwrap()
            })
            .collect();
        (counts, other.into_iter().map(str::to_owned).collect())
    };
    // Fails at once, rather than at the deadline, when a look did too much.
    let bounded = || {
        let (counts, _) = looks();
        let most = counts.iter().copied().max().unwrap_or(0);
        assert!(
            most <= BOUND,
            "a look made {most} lookups (of {} looks)",
            counts.len()
        );
        counts.len()
    };
    wait_until("logs -f follows the log", DEADLINE, || {
        bounded();
        out().contains("tick\n")
    });
    nobody_does(&format!(
        "cd '{}' && for i in $(seq 999); do ln -s / lf.log.$i; done && ln lf.log lf.log.1000 && \
         : > lf.log.new && mv lf.log.new lf.log && echo swapped >> lf.log",
        logs.display()
    ));
    wait_until("logs -f follows the new log", DEADLINE, || {
        bounded();
        out().ends_with("swapped\n")
    });
    // A few more looks with the junk there (the program's ticks, the re-checks).
    let seen = bounded();
    wait_until("logs -f looks again", DEADLINE, || bounded() >= seen + 3);
    nobody_does(&format!("echo after >> '{}'", log.display()));
    wait_until("logs -f prints what follows", DEADLINE, || {
        bounded();
        out().ends_with("swapped\nafter\n")
    });
    // Quietly: a replaced log is routine (`-v` tells of it).
    let (_, other) = looks();
    assert!(other.is_empty(), "{other:?}");
    assert!(alive(follower.pid()), "logs -f stopped by itself");
    drop(follower);
    run_or_hang(&env, &["stop", "lf"], &[]).ok();
}

/// A directory nobody cannot reach (`secret`, 0700) holding a readable one (`secret/inner`,
/// 0755) with `data.txt` (0644), and a working directory `app/work` in a directory nobody owns:
/// nobody can put a symlink to `secret/inner` in place of `app/work`. Returns (work, secret
/// data's path).
fn swappable_workdir(env: &Env) -> (PathBuf, PathBuf) {
    fs::set_permissions(env.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    let inner = env.path("secret/inner");
    fs::create_dir_all(&inner).unwrap();
    fs::set_permissions(env.path("secret"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(&inner, fs::Permissions::from_mode(0o755)).unwrap();
    let data = inner.join("data.txt");
    fs::write(&data, "the secret\n").unwrap();
    fs::set_permissions(&data, fs::Permissions::from_mode(0o644)).unwrap();
    let work = env.path("app/work");
    fs::create_dir_all(&work).unwrap();
    for dir in [env.path("app"), work.clone()] {
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    }
    nobody_cannot(&format!("cat {}", data.display()));
    (work, data)
}

/// A sticky directory every user may write, as `/tmp` is, in the test's directory (made
/// reachable by nobody).
fn sticky_tmp(env: &Env) -> PathBuf {
    fs::set_permissions(env.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    let sticky = env.path("tmp");
    fs::create_dir(&sticky).unwrap();
    fs::set_permissions(&sticky, fs::Permissions::from_mode(0o1777)).unwrap();
    sticky
}

/// Runs SCRIPT as nobody and requires it to fail.
fn nobody_cannot(script: &str) {
    let out = as_nobody(script).output().unwrap();
    assert!(!out.status.success(), "nobody could run {script:?}");
}

/// The program, as nobody: puts a symlink to `secret/inner` in place of its own working
/// directory, says so in `swapped`, and runs on.
fn swapping_program(env: &Env, work: &Path) -> String {
    let inner = env.path("secret/inner");
    let swapped = env.path("app/swapped");
    format!(
        "mv {w} {w}.old && ln -s {i} {w} && : > {s}; exec sleep {secs}",
        w = work.display(),
        i = inner.display(),
        s = swapped.display(),
        secs = unique_secs()
    )
}

/// The `--ready cmd:` and `--health cmd:` helpers enter the daemon's working directory as the
/// daemon's user, as the program does, not as root: root followed a symlink the user put in
/// its place, into a directory the user cannot reach, and the helper, running as the user,
/// read what was there, as did any process of the user's through `/proc/PID/cwd`
/// (helper-102's attack, 2026-12-03). Here each helper tries to read `data.txt` from where it
/// is; it never can.
#[test]
fn helpers_enter_the_daemons_directory_as_its_user() {
    let test = "helpers_enter_the_daemons_directory_as_its_user";
    if !need_root_and_nobody(test) {
        return;
    }
    let env = Env::new();
    let (work, _) = swappable_workdir(&env);
    let leak = env.path("app/leak");
    let swapped = env.path("app/swapped");
    // Not ready until the swap is made; then whatever it reads is the leak.
    let probe = format!(
        "test -e {s} && cat data.txt > {l}",
        s = swapped.display(),
        l = leak.display()
    );
    let mut attempt = 0;
    let run = loop {
        attempt += 1;
        let program = swapping_program(&env, &work);
        let run = env.run(&[
            "start",
            "--name",
            "rd",
            "--user",
            "nobody",
            "--chdir",
            work.to_str().unwrap(),
            "--ready",
            &format!("cmd:{probe}"),
            "--ready-timeout",
            "20s",
            "--",
            "sh",
            "-c",
            &program,
        ]);
        env.track_pidfiles();
        // A helper started in the moment between the program's `mv` and its `ln` finds no
        // directory to enter, and the start fails on that before the swap is made (seen once
        // in CI): nothing to judge, so the scenario is run again, from the directory as it was.
        let in_the_gap = !swapped.exists()
            && run.stderr.contains("cannot run the readiness command")
            && run.stderr.contains("No such file or directory");
        if !in_the_gap || attempt == 5 {
            break run;
        }
        let _ = fs::remove_file(&work);
        if env.path("app/work.old").exists() {
            fs::rename(env.path("app/work.old"), &work).unwrap();
        }
    };
    assert!(swapped.exists(), "the program did not swap: {}", run.dump());
    assert!(
        !fs::read_to_string(&leak).is_ok_and(|t| t.contains("secret")),
        "the readiness helper read the secret: {}",
        run.dump()
    );
    let run = run.code(1);
    assert!(run.stderr.contains("Permission denied"), "{}", run.dump());
    fs::remove_file(env.path("app/work")).unwrap();
    fs::rename(env.path("app/work.old"), &work).unwrap();
    fs::remove_file(&swapped).unwrap();

    // The monitor's health check: it runs once the program is ready, after the swap.
    let program = swapping_program(&env, &work);
    env.run(&[
        "start",
        "--name",
        "hc",
        "--user",
        "nobody",
        "--respawn",
        "--chdir",
        work.to_str().unwrap(),
        "--health",
        &format!("cmd:cat data.txt > {}", leak.display()),
        "--health-interval",
        "100ms",
        "--health-retries",
        "100",
        "--",
        "sh",
        "-c",
        &program,
    ])
    .ok();
    let log = env.path("hc.log");
    let leaked = || fs::read_to_string(&leak).is_ok_and(|t| t.contains("secret"));
    let failed =
        || fs::read_to_string(&log).map_or(0, |l| l.matches("health check failed").count());
    // A check may fail in the moment between the program's `mv` and its `ln` (no directory to
    // enter): only one that failed once the swap was made counts.
    wait_until("the program swapped its directory", DEADLINE, || {
        swapped.exists()
    });
    let before = failed();
    wait_until(
        "a health check failed after the swap, or read the secret",
        DEADLINE,
        || leaked() || failed() > before,
    );
    assert!(
        !leaked(),
        "the health helper read the secret: {}",
        fs::read_to_string(&log).unwrap()
    );
    env.run(&["stop", "hc"]).ok();
}

/// An up file root names that does not exist yet, in a sticky directory every user can write
/// (`/tmp`): its path passes the check (nothing is there, in a directory no one else can
/// change), and another user makes the file before root opens it. It is judged as what was
/// opened: nobody's file is refused, and nothing of it runs as root (helper-106's attack,
/// 2026-12-03: root ran nobody's command, and `stop --file` stopped root's daemon). Here
/// `RDAEMON_FAULT=upfile-checked:stop` holds rdaemon between the check and the open.
#[test]
fn an_up_file_made_by_another_user_after_the_check_is_refused() {
    let test = "an_up_file_made_by_another_user_after_the_check_is_refused";
    if !need_root_and_nobody(test) {
        return;
    }
    let env = Env::new();
    let sticky = sticky_tmp(&env);
    let pwned = env.path("tmp/pwned");
    let secs = unique_secs();
    let root_daemon = env.start("h3", &["sleep", &secs]);
    for verb in ["up", "stop"] {
        let path = sticky.join(format!("{verb}.toml"));
        let body = match verb {
            "up" => format!(
                "[daemons.evil]\ncommand = [\"/bin/sh\", \"-c\", \"id -u > {}; exec sleep 1000\"]\n",
                pwned.display()
            ),
            _ => "[daemons.h3]\nrun = \"sleep 1\"\n".to_owned(),
        };
        let option = match verb {
            "up" => "-f",
            _ => "--file",
        };
        let running = env.paused_at("upfile-checked", &[verb, option, path.to_str().unwrap()]);
        let staged = sticky.join(format!("{verb}.staged"));
        fs::write(&staged, &body).unwrap();
        std::os::unix::fs::chown(&staged, Some(65534), Some(65534)).unwrap();
        nobody_does(&format!("cp {} {}", staged.display(), path.display()));
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(running.pid()),
            nix::sys::signal::Signal::SIGCONT,
        )
        .unwrap();
        let out = running.output_within(DEADLINE, "rdaemon ends");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{verb}: {stderr}");
        assert!(
            stderr.contains("refusing up file") && stderr.contains("owned by uid 65534"),
            "{verb}: {stderr}"
        );
    }
    env.track_pidfiles();
    assert!(!pwned.exists(), "nobody's command ran as root");
    assert!(!env.path("evil.pid").exists());
    assert_eq!(env.pid_of("h3"), root_daemon);
    assert!(
        alive(root_daemon),
        "root's daemon was stopped by nobody's file"
    );
}

/// Another user makes a directory at each name root's temporary pidfile could take in a
/// sticky directory, as `/tmp` is: the fixed `.sq.pid.tmp` and `.sq.pid.PID.tmp` of the
/// `restart` (held with `RDAEMON_FAULT=restart-before-start:stop` once its stop is done, so
/// that its pid is known; with pid_max at 32768, `nobody` made all of them in 2 s). The restart
/// starts the daemon again (helper-125: it stopped it, then failed with "cannot write pidfile
/// …: Is a directory", the daemon left down).
#[test]
fn another_users_names_at_a_sticky_pidfiles_temporaries_do_not_fail_a_restart() {
    const TEST: &str = "another_users_names_at_a_sticky_pidfiles_temporaries_do_not_fail_a_restart";
    if !need_root_and_nobody(TEST) {
        return;
    }
    let env = Env::new();
    let sticky = sticky_tmp(&env);
    let pidfile = sticky.join("sq.pid");
    let p = pidfile.display().to_string();
    let secs = unique_secs();
    env.run(&[
        "start",
        "--name",
        "sq",
        "--pidfile",
        &p,
        "--",
        "sleep",
        &secs,
    ])
    .ok();
    env.track(env.record("sq")["pid"].as_i64().unwrap() as i32);
    let restart = env.paused_at("restart-before-start", &["restart", "sq"]);
    let s = sticky.display();
    nobody_does(&format!(
        "mkdir {s}/.sq.pid.tmp {s}/.sq.pid.{}.tmp",
        restart.pid()
    ));
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(restart.pid()),
        nix::sys::signal::SIGCONT,
    );
    let out = restart.output_within(HANG, "the restart ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("started sq (pid "), "{out:?}");
    let pid = read_pid(&pidfile);
    env.track(pid);
    assert!(stat(pid).is_some(), "the daemon does not run: {out:?}");
    env.run(&["stop", "sq"]).ok();
}

/// A root daemon's log in a sticky directory, as `/tmp` is, rotated by its monitor: another
/// user makes directories (not empty) at `r.log.1` and `r.log.2` and at the monitor's
/// `.r.log.PID.new`, the names a rotation moves the log to or makes a new one under. Every
/// rotation failed, and the log grew without bound (helper-125: 160 KiB under
/// `--log-max-size 1K` in seconds); it now keeps to its size, and says why it keeps no
/// rotated file.
#[test]
fn another_users_directories_at_a_sticky_logs_rotated_names_do_not_unbound_it() {
    const TEST: &str = "another_users_directories_at_a_sticky_logs_rotated_names_do_not_unbound_it";
    if !need_root_and_nobody(TEST) {
        return;
    }
    let env = Env::new();
    let sticky = sticky_tmp(&env);
    let s = sticky.display();
    nobody_does(&format!(
        "mkdir -p {s}/r.log.1/x {s}/r.log.2/x && touch {s}/r.log.1/x/y {s}/r.log.2/x/y"
    ));
    let log = sticky.join("r.log");
    let go = env.path("go");
    let line = "x".repeat(99);
    let program = format!(
        "while [ ! -e {go} ]; do sleep 0.01; done; i=0; while [ $i -lt 200 ]; do echo {line}; i=$((i+1)); done; echo END; exec sleep {secs}",
        go = go.display(),
        secs = unique_secs()
    );
    env.run(&[
        "start",
        "--name",
        "r",
        "--respawn",
        "--log",
        log.to_str().unwrap(),
        "--log-max-size",
        "1K",
        "--log-keep",
        "2",
        "--",
        "sh",
        "-c",
        &program,
    ])
    .ok();
    let monitor = env.pid_of("r");
    env.track(monitor);
    nobody_does(&format!("mkdir -p {s}/.r.log.{monitor}.new/x"));
    fs::write(&go, "").unwrap();
    wait_until("the program's last line is in the log", DEADLINE, || {
        fs::read_to_string(&log).is_ok_and(|text| text.contains("END"))
    });
    let text = fs::read_to_string(&log).unwrap();
    assert!(text.len() <= 2048, "{} bytes: {text}", text.len());
    assert!(text.contains("cannot keep rotated logs of"), "{text}");
    env.run(&["stop", "r"]).ok();
}
