//! What root's caller must never hand to a `--user` daemon or its helpers (review of
//! 2026-12-02, docs/safety.md "What a `--user` program gets from root"): its controlling
//! terminal (`TIOCSTI` into root's shell), its open fds (`pidfd_getfd` on a helper the daemon
//! may ptrace), its session keyring (root's keys), and a place outside the daemon's cgroup.
//!
//! Root's caller is `tests/fixtures/isolation.py caller`: a new pseudo-terminal as the
//! controlling terminal of a new session (CI has no terminal), an fd 7 open on a root-only
//! file, a named session keyring holding a key. The attacker is the program or helper running
//! as `nobody`; what it got is read from `/proc` and from what it reports
//! (`isolation.py probe`).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::common::*;

/// The test's directory with a root-only secret, a directory `nobody` may write its reports
/// to, and the fixture.
struct Scene {
    env: Env,
    python: PathBuf,
    fixture: PathBuf,
    shared: PathBuf,
    secret: PathBuf,
    keyfile: PathBuf,
}

impl Scene {
    fn new(test: &str) -> Option<Scene> {
        root_and_nobody(test)?;
        let python = python3_or_skip(test)?;
        let env = Env::new();
        open_dir(&env);
        let shared = env.path("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
        let secret = env.path("secret");
        fs::write(&secret, "root's secret\n").unwrap();
        fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
        let keyfile = env.path("keyring");
        if fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/ptmx")
            .is_err()
        {
            skip(test, "no pseudo-terminals here (/dev/ptmx)");
            return None;
        }
        let keyrings = Command::new(&python)
            .arg(fixture("isolation.py"))
            .arg("can-keyring")
            .output()
            .unwrap();
        if !keyrings.status.success() {
            skip(test, String::from_utf8_lossy(&keyrings.stderr).trim());
            return None;
        }
        Some(Scene {
            env,
            python,
            fixture: fixture("isolation.py"),
            shared,
            secret,
            keyfile,
        })
    }

    /// `isolation.py caller OPTIONS -- rdaemon ARGS`, with the test's `RDAEMON_DIR`.
    fn caller(&self, options: &[&str], args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.python);
        cmd.arg(&self.fixture)
            .arg("caller")
            .args(options)
            .arg("--")
            .arg(assert_cmd::cargo::cargo_bin!("rdaemon"))
            .args(args)
            .current_dir(self.env.dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        isolate(&mut cmd, self.env.dir());
        cmd
    }

    /// Root's session keyring, with its key: `--keyring` of [`Scene::caller`].
    fn keyring_options(&self) -> Vec<String> {
        let name = format!(
            "rdaemon-test-{}",
            self.env.dir().file_name().unwrap().to_string_lossy()
        );
        vec![
            "--keyring".into(),
            name,
            self.keyfile.to_str().unwrap().into(),
        ]
    }

    /// The `probe` command line reporting to `shared/NAME`, waiting for `shared/GO` ("-": none).
    fn probe(&self, name: &str, go: &str) -> String {
        let go = match go {
            "-" | "" => go.to_owned(),
            go => self.shared.join(go).to_str().unwrap().to_owned(),
        };
        format!(
            "{} {} probe {} {go}",
            self.python.display(),
            self.fixture.display(),
            self.shared.join(name).display()
        )
    }

    /// The report `shared/NAME` once written.
    fn report(&self, name: &str) -> BTreeMap<String, String> {
        let path = self.shared.join(name);
        wait_until(&format!("{} exists", path.display()), DEADLINE, || {
            path.exists()
        });
        fs::read_to_string(&path)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn go(&self, name: &str) {
        fs::write(self.shared.join(name), "").unwrap();
    }

    /// The problems with what `report` says: the program must have a session keyring other
    /// than root's, root's key must not be found through it, and `TIOCSTI` must fail.
    fn key_problems(&self, what: &str, report: &BTreeMap<String, String>) -> Vec<String> {
        let root_ring = fs::read_to_string(&self.keyfile).unwrap();
        let mut problems = Vec::new();
        if report.get("keyring") == Some(&root_ring) {
            problems.push(format!("{what} has root's session keyring {root_ring}"));
        }
        if !report.get("key").is_some_and(|k| k.starts_with("denied")) {
            problems.push(format!("{what} read root's key: {report:?}"));
        }
        if !report.get("tty").is_some_and(|k| k.starts_with("denied")) {
            problems.push(format!("{what} injected input into a terminal: {report:?}"));
        }
        problems
    }
}

/// What is wrong with helper or program `pid` as `/proc` shows it: it must lead a session of
/// its own (`session_leader`), have no controlling terminal, and only fds 0, 1 and 2, none of
/// them the secret.
fn proc_problems(what: &str, pid: i32, session_leader: bool, secret: &PathBuf) -> Vec<String> {
    let mut problems = Vec::new();
    let stat = stat(pid).unwrap_or_else(|| panic!("{what} (pid {pid}) is gone"));
    if session_leader && stat.session != pid {
        problems.push(format!(
            "{what} (pid {pid}) is in session {}, not its own",
            stat.session
        ));
    }
    if stat.tty_nr != 0 {
        problems.push(format!(
            "{what} (pid {pid}) has a controlling terminal (tty_nr {})",
            stat.tty_nr
        ));
    }
    let fds = fds(pid);
    if fds.iter().any(|(n, _)| *n > 2) || fds.iter().any(|(_, target)| target == secret) {
        problems.push(format!("{what} (pid {pid}) has fds beyond 0-2: {fds:?}"));
    }
    problems
}

/// The daemon's user takes fd 7 of `pid` with `pidfd_getfd` (`isolation.py steal`, run as
/// `nobody`): what it read there, if that is root's secret.
fn steal_problems(s: &Scene, what: &str, pid: i32) -> Vec<String> {
    use std::os::unix::process::CommandExt;
    let user = nobody().unwrap();
    let out = Command::new(&s.python)
        .arg(&s.fixture)
        .args(["steal", &pid.to_string(), "7"])
        .uid(user.uid.as_raw())
        .gid(user.gid.as_raw())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let got = String::from_utf8_lossy(&out.stdout);
    match got.contains("root's secret") {
        true => vec![format!("the daemon's user took fd 7 of {what}: {got:?}")],
        false => Vec::new(),
    }
}

fn assert_none(problems: Vec<String>, out: Option<&std::process::Output>) {
    let out = out.map_or(String::new(), |o| {
        format!(
            "\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    assert!(problems.is_empty(), "{}{out}", problems.join("\n"));
}

/// The finished `start` of `caller`, which must have succeeded.
fn finished(caller: Background) -> std::process::Output {
    let out = caller.output_within(DEADLINE, "start returns");
    assert!(
        out.status.success(),
        "start failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Exec mode: the `--ready cmd:` helper runs as `nobody` while root's `start` waits on root's
/// terminal, with root's fd 7 and in root's session keyring. It must get none of them, and
/// neither must the daemon.
#[test]
fn a_ready_cmd_helper_gets_no_terminal_fd_or_key_of_roots() {
    let test = "a_ready_cmd_helper_gets_no_terminal_fd_or_key_of_roots";
    let Some(s) = Scene::new(test) else { return };
    let mut options = vec!["--tty".to_owned(), "--fd7".into()];
    options.push(s.secret.to_str().unwrap().into());
    options.extend(s.keyring_options());
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let ready = format!("cmd:exec {}", s.probe("helper", "go"));
    let daemon = format!("exec {}", s.probe("daemon", ""));
    let mut cmd = s.caller(
        &options,
        &[
            "start", "--name", "iso", "--user", "nobody", "--ready", &ready, "--", "sh", "-c",
            &daemon,
        ],
    );
    let caller = Background::spawn(&mut cmd);
    let helper = s.report("helper");
    let pid: i32 = helper["pid"].parse().unwrap();
    let mut problems = proc_problems("the --ready cmd: helper", pid, true, &s.secret);
    problems.extend(s.key_problems("the --ready cmd: helper", &helper));
    problems.extend(steal_problems(&s, "the --ready cmd: helper", pid));
    s.go("go");
    let out = finished(caller);
    let daemon = env_daemon(&s, "iso");
    problems.extend(proc_problems("the daemon", daemon, false, &s.secret));
    problems.extend(s.key_problems("the daemon", &s.report("daemon")));
    assert_none(problems, Some(&out));
    s.env.run(&["stop", "iso"]).ok();
}

/// The daemon's pid, tracked for cleanup.
fn env_daemon(s: &Scene, name: &str) -> i32 {
    let pid = s.env.pid_of(name);
    s.env.track(pid);
    pid
}

/// Respawn mode: `start`'s `--ready cmd:` helper, the monitor's `--health cmd:` and
/// `--on-exit` helpers and the monitor's child, all as `nobody`.
#[test]
fn respawn_helpers_and_child_get_no_terminal_fd_or_key_of_roots() {
    let test = "respawn_helpers_and_child_get_no_terminal_fd_or_key_of_roots";
    let Some(s) = Scene::new(test) else { return };
    let mut options = vec!["--tty".to_owned(), "--fd7".into()];
    options.push(s.secret.to_str().unwrap().into());
    options.extend(s.keyring_options());
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let ready = format!("cmd:exec {}", s.probe("helper", "go-ready"));
    let health = format!("cmd:exec {}", s.probe("health", "go-health"));
    let on_exit = format!("exec {}", s.probe("onexit", "go-onexit"));
    let daemon = format!("exec {}", s.probe("daemon", ""));
    let mut cmd = s.caller(
        &options,
        &[
            "start",
            "--name",
            "iso",
            "--user",
            "nobody",
            "--respawn",
            "--ready",
            &ready,
            "--health",
            &health,
            "--health-interval",
            "1s",
            "--on-exit",
            &on_exit,
            "--",
            "sh",
            "-c",
            &daemon,
        ],
    );
    let caller = Background::spawn(&mut cmd);
    let helper = s.report("helper");
    let pid: i32 = helper["pid"].parse().unwrap();
    let mut problems = proc_problems("the --ready cmd: helper", pid, true, &s.secret);
    problems.extend(s.key_problems("the --ready cmd: helper", &helper));
    s.go("go-ready");
    let out = finished(caller);
    env_daemon(&s, "iso");
    let health = s.report("health");
    let pid: i32 = health["pid"].parse().unwrap();
    s.env.track(pid);
    problems.extend(proc_problems(
        "the --health cmd: helper",
        pid,
        true,
        &s.secret,
    ));
    problems.extend(s.key_problems("the --health cmd: helper", &health));
    s.go("go-health");
    let child: i32 = s.report("daemon")["pid"].parse().unwrap();
    s.env.track(child);
    problems.extend(proc_problems(
        "the monitor's child",
        child,
        false,
        &s.secret,
    ));
    problems.extend(s.key_problems("the monitor's child", &s.report("daemon")));
    // The child's end runs the --on-exit command.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let on_exit = s.report("onexit");
    let pid: i32 = on_exit["pid"].parse().unwrap();
    s.env.track(pid);
    problems.extend(proc_problems("the --on-exit helper", pid, true, &s.secret));
    problems.extend(s.key_problems("the --on-exit helper", &on_exit));
    s.go("go-onexit");
    assert_none(problems, Some(&out));
    s.env.run(&["stop", "iso"]).ok();
}

/// With a cgroup, the `--ready cmd:` helper runs in the daemon's: what it leaves behind in a
/// session of its own (`setsid`) is the daemon's, and goes at `stop`.
#[test]
fn what_a_ready_cmd_helper_leaves_goes_with_the_daemon() {
    let test = "what_a_ready_cmd_helper_leaves_goes_with_the_daemon";
    let Some(_) = cgroups_here(test) else { return };
    let Some(s) = Scene::new(test) else { return };
    let name = unique_name(&s.env, "isocg");
    let mark = unique_secs();
    let ready = format!("cmd:setsid -f sleep {mark} </dev/null >/dev/null 2>&1; exit 0");
    let mut cmd = s.caller(
        &[],
        &[
            "start", "--name", &name, "--user", "nobody", "--cgroup", "on", "--ready", &ready,
            "--", "sleep", "1000",
        ],
    );
    let out = finished(Background::spawn(&mut cmd));
    env_daemon(&s, &name);
    // `setsid -f` returns before its child has exec'd `sleep MARK` (its cmdline reads empty
    // for a moment then): looked for until it shows.
    let mut left = Vec::new();
    wait_until("the helper's leftover runs", DEADLINE, || {
        left = s.env.track_marked(&mark);
        !left.is_empty()
    });
    assert_eq!(left.len(), 1, "{left:?}");
    let cgroup = fs::read_to_string(format!("/proc/{}/cgroup", left[0])).unwrap();
    assert!(
        cgroup
            .lines()
            .any(|l| l == format!("0::/rdaemon/{}", s.env.cgroup_leaf(&name))),
        "what the helper left runs in {cgroup}, not the daemon's cgroup\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.env.run(&["stop", &name, "--timeout", "2s"]).ok();
    wait_dead(left[0]);
}

/// `start --foreground --user nobody` on root's terminal: the program must not get it, whether
/// rdaemon is a shell's child or the session leader itself (which the kernel then sends SIGHUP,
/// that rdaemon must survive); it starts with no ignored or blocked signal and in a session
/// keyring of its own.
#[test]
fn a_foreground_user_program_gets_no_terminal_or_key_of_roots() {
    let test = "a_foreground_user_program_gets_no_terminal_or_key_of_roots";
    for (mode, leader) in [
        ("--tty", "a shell's child"),
        ("--tty-lead", "session leader"),
    ] {
        let Some(s) = Scene::new(test) else { return };
        let mut options = vec![mode.to_owned()];
        options.extend(s.keyring_options());
        let options: Vec<&str> = options.iter().map(String::as_str).collect();
        let program = format!("{}; exec sleep 1000", s.probe("daemon", "-"));
        let mut cmd = s.caller(
            &options,
            &[
                "start",
                "--foreground",
                "--name",
                "fg",
                "--user",
                "nobody",
                "--log",
                s.env.path("fg.log").to_str().unwrap(),
                "--",
                "sh",
                "-c",
                &program,
            ],
        );
        let caller = Background::spawn(&mut cmd);
        let report = s.report("daemon");
        // The probe is the program's child; the program has rdaemon's pid, the pidfile's.
        let pid = s.env.pid_of("fg");
        s.env.track(pid);
        wait_until("the program execs sleep", DEADLINE, || {
            fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
        });
        wait_asleep(pid);
        let what = format!("the foreground program (rdaemon {leader})");
        let mut problems = proc_problems(&what, pid, false, &s.secret);
        // Nor an fd of the terminal: not its controlling one any more, it would be free to
        // read for a background child the program leaves (what root types next), and to claim.
        for (n, target) in fds(pid) {
            let target = target.to_string_lossy();
            if target.starts_with("/dev/pts/") || target.starts_with("/dev/tty") {
                problems.push(format!(
                    "{what} has the caller's terminal as fd {n}: {target}"
                ));
            }
            // The /dev/null in its place takes writes too (a program writing to a stream that
            // was the terminal must not get EBADF).
            let info = fs::read_to_string(format!("/proc/{pid}/fdinfo/{n}")).unwrap_or_default();
            let mode = info
                .lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
                .map(|f| f & 0o3);
            if target == "/dev/null" && mode != Some(0o2) {
                problems.push(format!(
                    "{what} has /dev/null as fd {n} not open for writing: {info}"
                ));
            }
        }
        for field in ["SigIgn", "SigBlk"] {
            let mask = status_field(pid, field);
            if !mask.trim_start_matches('0').is_empty() {
                problems.push(format!("{what} starts with {field} {mask}"));
            }
        }
        problems.extend(s.key_problems(&what, &report));
        drop(caller);
        assert_none(problems, None);
    }
}

/// The control for the test above: without `--user`, root's program keeps root's terminal,
/// which shows that the caller's pseudo-terminal is really a controlling terminal that would
/// reach the program.
#[test]
fn a_foreground_program_of_roots_keeps_the_terminal() {
    let test = "a_foreground_program_of_roots_keeps_the_terminal";
    let Some(s) = Scene::new(test) else { return };
    let marker = s.env.path("started");
    let program = format!("touch {}; exec sleep 1000", marker.display());
    let mut cmd = s.caller(
        &["--tty"],
        &[
            "start",
            "--foreground",
            "--name",
            "fg",
            "--log",
            s.env.path("fg.log").to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &program,
        ],
    );
    let caller = Background::spawn(&mut cmd);
    s.env.wait_file("started");
    let pid = s.env.pid_of("fg");
    s.env.track(pid);
    let tty = stat(pid).unwrap().tty_nr;
    drop(caller);
    assert_ne!(tty, 0, "the caller's terminal is no controlling terminal");
}

/// `up`: the same `--ready cmd:` helper, declared in `rdaemon.toml`, started from root's
/// terminal with root's fd 7 and keyring.
#[test]
fn an_up_ready_cmd_helper_gets_no_terminal_fd_or_key_of_roots() {
    let test = "an_up_ready_cmd_helper_gets_no_terminal_fd_or_key_of_roots";
    let Some(s) = Scene::new(test) else { return };
    let mut options = vec!["--tty".to_owned(), "--fd7".into()];
    options.push(s.secret.to_str().unwrap().into());
    options.extend(s.keyring_options());
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let toml = format!(
        "[daemons.iso]\ncommand = [\"{}\", \"{}\", \"probe\", \"{}\"]\nuser = \"nobody\"\n\
         ready = \"cmd:exec {}\"\n",
        s.python.display(),
        s.fixture.display(),
        s.shared.join("daemon").display(),
        s.probe("helper", "go"),
    );
    fs::write(s.env.path("rdaemon.toml"), toml).unwrap();
    let mut cmd = s.caller(&options, &["up"]);
    let caller = Background::spawn(&mut cmd);
    let helper = s.report("helper");
    let pid: i32 = helper["pid"].parse().unwrap();
    let mut problems = proc_problems("the --ready cmd: helper of up", pid, true, &s.secret);
    problems.extend(s.key_problems("the --ready cmd: helper of up", &helper));
    s.go("go");
    let out = finished(caller);
    let daemon = env_daemon(&s, "iso");
    problems.extend(proc_problems("the daemon of up", daemon, false, &s.secret));
    problems.extend(s.key_problems("the daemon of up", &s.report("daemon")));
    assert_none(problems, Some(&out));
    s.env.run(&["stop", "iso"]).ok();
}

/// `--forking`: the process the launcher leaves behind, adopted as the daemon, has the
/// session keyring the launcher got, not root's.
#[test]
fn a_forking_daemon_gets_no_key_of_roots() {
    let test = "a_forking_daemon_gets_no_key_of_roots";
    let Some(s) = Scene::new(test) else { return };
    let options = s.keyring_options();
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let launcher = format!("{} </dev/null >/dev/null 2>&1 &", s.probe("daemon", ""));
    let mut cmd = s.caller(
        &options,
        &[
            "start",
            "--name",
            "iso",
            "--user",
            "nobody",
            "--forking",
            "--",
            "sh",
            "-c",
            &launcher,
        ],
    );
    let out = finished(Background::spawn(&mut cmd));
    let report = s.report("daemon");
    let daemon: i32 = report["pid"].parse().unwrap();
    s.env.track(daemon);
    let mut problems = proc_problems("the forking daemon", daemon, false, &s.secret);
    problems.extend(s.key_problems("the forking daemon", &report));
    assert_none(problems, Some(&out));
    s.env.run(&["stop", "iso"]).ok();
}
