//! `start --ready`: each kind of readiness with real programs, early death, timeout, and the
//! notify protocol's rules (who may speak, ERRNO=, EXTEND_TIMEOUT_USEC=, STATUS=).

use std::fs;
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;

/// Lines of `text`, for exact line checks (`line1` is a prefix of `line10`).
fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

#[test]
fn tcp_readiness_waits_until_the_server_accepts() {
    let Some(python) = python3() else {
        return skip("tcp_readiness", "no python3");
    };
    let env = Env::new();
    let port = free_port().to_string();
    env.run(&[
        "start",
        "--name",
        "web",
        "--ready",
        &format!("tcp:{port}"),
        "--",
        python.to_str().unwrap(),
        "-m",
        "http.server",
        &port,
        "--bind",
        "127.0.0.1",
    ])
    .ok()
    .stdout_has("started web (pid ");
    // Right away, with no retry: `start` returned only once a connection succeeded.
    TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap()))
        .expect("start said ready, but the server does not accept connections");
    assert_eq!(env.record("web")["ready"], format!("tcp:127.0.0.1:{port}"));
    assert!(alive(env.pid_of("web")));
}

/// On loopback, most looks of `tcp:` and `http:` ask the kernel whether anything listens
/// instead of connecting. That lookup cannot see a listener bound to a device; the connection
/// made every few looks anyway must still find it.
#[test]
fn tcp_and_http_readiness_find_a_listener_bound_to_the_loopback_device() {
    let test = "bound_listener";
    let Some(python) = python3_or_skip(test) else {
        return;
    };
    let bind_to_lo = "import socket; socket.socket().setsockopt(socket.SOL_SOCKET, \
                      socket.SO_BINDTODEVICE, b'lo')";
    let allowed = std::process::Command::new(&python)
        .args(["-c", bind_to_lo])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    if !allowed.success() {
        return skip(test, "SO_BINDTODEVICE is refused here");
    }
    let env = Env::new();
    let server = env.path("bound.py");
    fs::write(
        &server,
        "import http.server, socket, sys\n\
         class Bound(http.server.HTTPServer):\n\
         \x20   def server_bind(self):\n\
         \x20       self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'lo')\n\
         \x20       super().server_bind()\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   def do_GET(self):\n\
         \x20       self.send_response(200)\n\
         \x20       self.send_header('Content-Length', '0')\n\
         \x20       self.end_headers()\n\
         Bound(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n",
    )
    .unwrap();
    for kind in ["tcp", "http"] {
        let port = free_port();
        let spec = match kind {
            "tcp" => format!("tcp:{port}"),
            _ => format!("http:http://127.0.0.1:{port}/"),
        };
        let name = format!("bound-{kind}");
        env.run(&[
            "start",
            "--name",
            &name,
            "--ready",
            &spec,
            "--ready-timeout",
            "30s",
            "--",
            python.to_str().unwrap(),
            server.to_str().unwrap(),
            &port.to_string(),
        ])
        .ok()
        .stdout_has(&format!("started {name} (pid "));
        TcpStream::connect(("127.0.0.1", port))
            .expect("start said ready, but the server does not accept connections");
        assert!(alive(env.pid_of(&name)));
    }
}

#[test]
fn alive_readiness_waits_its_duration() {
    let env = Env::new();
    let began = Instant::now();
    env.run(&[
        "start",
        "--name",
        "nap",
        "--ready",
        "alive:300ms",
        "--",
        "sleep",
        "1000",
    ])
    .ok()
    .stdout_has("started nap");
    assert!(began.elapsed() >= Duration::from_millis(300));
    assert!(alive(env.pid_of("nap")));
    assert_eq!(env.record("nap")["ready"], "alive:300ms");
}

/// The program replaces the stale file only once the test lets it go, and the test does so only
/// once `start` has looked at the stale file and waits on: a `start` that took the stale file
/// for readiness has ended by then, however slow the machine.
#[test]
fn file_readiness_ignores_a_stale_file_and_waits_for_a_fresh_one() {
    let env = Env::new();
    let flag = env.path("ready.flag");
    fs::write(&flag, "stale\n").unwrap();
    let go = env.path("go");
    let script = env.script(
        "slow.sh",
        &format!(
            "{}; echo fresh > \"$1.tmp\"; mv \"$1.tmp\" \"$1\"; exec sleep 1000",
            until_go(&go)
        ),
    );
    let mut start = start_in_background(
        &env,
        "slow",
        &[
            "--ready",
            &format!("file:{}", flag.display()),
            "--ready-timeout",
            "60s",
            "--",
            script.to_str().unwrap(),
            flag.to_str().unwrap(),
        ],
    );
    wait_start_waits(&env, &mut start, "the fresh file", || {
        env.path("slow.pid").exists()
    });
    assert_eq!(fs::read_to_string(&flag).unwrap(), "stale\n");
    fs::write(&go, "").unwrap();
    let (code, stdout, stderr) = finish_start(&env, start);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("started slow"), "{stdout}");
    assert_eq!(fs::read_to_string(&flag).unwrap(), "fresh\n");
    assert!(alive(env.pid_of("slow")));
}

#[test]
fn relative_ready_file_is_made_absolute() {
    let env = Env::new();
    env.run(&[
        "start",
        "--name",
        "rel",
        "--ready",
        "file:rel.flag",
        "--",
        "sh",
        "-c",
        &format!("touch {}; exec sleep 1000", env.path("rel.flag").display()),
    ])
    .ok();
    assert_eq!(
        env.record("rel")["ready"],
        format!("file:{}", env.path("rel.flag").display())
    );
}

/// A `file:` wait for a file that was there before the start never counts that file (the
/// program must make it): the timeout says so, and what to do.
#[test]
fn a_file_there_before_the_start_is_named_at_the_timeout() {
    let env = Env::new();
    let flag = env.path("old.flag");
    fs::write(&flag, "").unwrap();
    let secs = unique_secs();
    let run = env.run(&[
        "start",
        "--name",
        "stale",
        "--ready",
        &format!("file:{}", flag.display()),
        "--ready-timeout",
        "300ms",
        "--",
        "sleep",
        &secs,
    ]);
    env.track_marked(&secs);
    run.code(1).stderr_has(&format!(
        "'{}' was there before the start, and a file already there does not count: remove it before starting, or have the program replace it",
        flag.display()
    ));
    // A file the program makes anew does count, the old one removed first.
    fs::remove_file(&flag).unwrap();
    let program = format!("touch '{}'; exec sleep {secs}", flag.display());
    env.run(&[
        "start",
        "--name",
        "stale",
        "--ready",
        &format!("file:{}", flag.display()),
        "--",
        "sh",
        "-c",
        &program,
    ])
    .ok()
    .stdout_has("started stale (pid ");
}

#[test]
fn timeout_stops_the_program_and_says_what_was_awaited() {
    let env = Env::new();
    let never = env.path("never.flag");
    let run = env
        .run(&[
            "start",
            "--name",
            "late",
            "--ready",
            &format!("file:{}", never.display()),
            "--ready-timeout",
            "300ms",
            "--",
            "sh",
            "-c",
            "echo still booting; exec sleep 1000",
        ])
        .code(1);
    let pid = recorded_pid(&env, "late");
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("rdaemon: cannot start late: it was not ready after 300ms")
            && first.contains(&format!("'{}' to appear", never.display()))
            && first.ends_with(&format!("stopped it (pid {pid})")),
        "{}",
        run.dump()
    );
    assert!(!alive(pid), "the program still runs\n{}", run.dump());
    assert!(!env.path("late.pid").exists());
    // The record stays: logs, status and restart still know the daemon.
    env.run(&["status", "late"])
        .code(3)
        .stdout_has("late is stopped");
    assert!(run.stdout.is_empty(), "{}", run.dump());
}

#[test]
fn early_exit_fails_at_once_with_its_status_and_the_end_of_its_log() {
    let env = Env::new();
    let run = env
        .run(&[
            "start",
            "--name",
            "crash",
            "--ready",
            &format!("file:{}", env.path("never.flag").display()),
            "--ready-timeout",
            "60s",
            "--",
            "sh",
            "-c",
            "for i in $(seq 1 15); do echo line$i; done; echo 'fatal: no config' >&2; exit 3",
        ])
        .code(1);
    // Not at the timeout: the error is the exit, not "not ready after 60s".
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("rdaemon: cannot start crash: the program exited with status 3"),
        "{}",
        run.dump()
    );
    assert!(has_line(
        &run.stderr,
        &format!("==> {} <==", env.path("crash.log").display())
    ));
    for i in 7..=15 {
        assert!(has_line(&run.stderr, &format!("line{i}")), "{}", run.dump());
    }
    assert!(has_line(&run.stderr, "fatal: no config"), "{}", run.dump());
    assert!(
        !has_line(&run.stderr, "line6"),
        "more than 10 lines\n{}",
        run.dump()
    );
    assert!(!env.path("crash.pid").exists());
    recorded_pid(&env, "crash");
}

#[test]
fn early_death_by_signal_is_named() {
    let env = Env::new();
    let run = env
        .run(&[
            "start",
            "--name",
            "doomed",
            "--ready",
            "alive:60s",
            "--",
            "sh",
            "-c",
            "echo about to die; kill -9 $$",
        ])
        .code(1)
        .stderr_has("the program was killed by signal 9 (SIGKILL)")
        .stderr_has("about to die");
    assert!(run.stdout.is_empty(), "{}", run.dump());
    assert!(!env.path("doomed.pid").exists());
}

/// `python3 sd_notify.py MESSAGES... -- sleep 1000`, or `None` without python3.
fn notifier(messages: &[&str]) -> Option<Vec<String>> {
    let python = python3()?;
    let mut argv = vec![
        python.to_string_lossy().into_owned(),
        fixture("sd_notify.py").to_string_lossy().into_owned(),
    ];
    argv.extend(messages.iter().map(|m| m.to_string()));
    argv.extend(["--", "sleep", "1000"].map(String::from));
    Some(argv)
}

fn start_args<'a>(name: &'a str, extra: &[&'a str], program: &'a [String]) -> Vec<&'a str> {
    let mut args = vec!["start", "--name", name];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend(program.iter().map(String::as_str));
    args
}

#[test]
fn notify_ready_from_the_daemon_and_its_status_text() {
    let Some(program) = notifier(&["STATUS=warming up", "STATUS=serving", "READY=1"]) else {
        return skip("notify_ready", "no python3");
    };
    let env = Env::new();
    let mut cmd = env.cmd();
    // rdaemon's own NOTIFY_SOCKET (its supervisor's) must not reach the daemon.
    cmd.env("NOTIFY_SOCKET", "/run/systemd/notify");
    env.run_cmd(cmd, &start_args("svc", &["--ready", "notify"], &program))
        .ok()
        .stdout_has("started svc (pid ");
    let pid = env.pid_of("svc");
    assert!(alive(pid));
    wait_until("the daemon has become sleep", DEADLINE, || {
        fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
    });
    let mut socket = None;
    wait_until(
        "the daemon's environment names its NOTIFY_SOCKET",
        DEADLINE,
        || {
            socket = environ(pid)
                .into_iter()
                .find_map(|e| e.strip_prefix("NOTIFY_SOCKET=").map(str::to_owned));
            socket.is_some()
        },
    );
    let socket = socket.unwrap();
    // A file of rdaemon's (not an abstract name, which anyone could take once free).
    assert!(
        socket.starts_with('/') && socket.contains("/notify/svc."),
        "{socket}"
    );
    assert_eq!(env.record("svc")["status_text"], "serving");
    env.run(&["status", "svc"])
        .ok()
        .stdout_has("  status:  serving");
    let run = env.run(&["status", "svc", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["status_text"], "serving");
}

#[test]
fn notify_in_supervised_mode_comes_from_the_monitors_child() {
    let Some(program) = notifier(&["STATUS=supervised", "READY=1"]) else {
        return skip("notify_respawn", "no python3");
    };
    let env = Env::new();
    env.run(&start_args(
        "sup",
        &["--respawn", "--ready", "notify"],
        &program,
    ))
    .ok()
    .stdout_has("started sup (pid ");
    let monitor = env.pid_of("sup");
    let rec = env.record("sup");
    assert_eq!(rec["pid"], monitor);
    assert_eq!(rec["status_text"], "supervised");
    // Saving the status text kept the child's pid that start recorded after the spawn.
    let child = rec["child_pid"].as_i64().expect("no child_pid") as i32;
    env.track(child);
    assert!(alive(child));
    assert_eq!(stat(child).unwrap().ppid, monitor);
}

#[test]
fn notify_from_a_process_in_the_daemons_group_counts() {
    let Some(program) = notifier(&["READY=1"]) else {
        return skip("notify_group", "no python3");
    };
    let env = Env::new();
    let line = format!("{} & exec sleep 1000", shell_words(&program));
    env.run(&[
        "start", "--name", "grp", "--ready", "notify", "--", "sh", "-c", &line,
    ])
    .ok()
    .stdout_has("started grp");
}

fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn notify_errno_fails_at_once_and_stops_the_program() {
    let Some(program) = notifier(&["STATUS=cannot open the database", "ERRNO=13"]) else {
        return skip("notify_errno", "no python3");
    };
    let env = Env::new();
    let run = env
        .run(&start_args(
            "db",
            &["--ready", "notify", "--ready-timeout", "60s"],
            &program,
        ))
        .code(1)
        .stderr_has("rdaemon: cannot start db: it reported failure with ERRNO=13 (Permission denied); stopped it (pid ")
        .stderr_has("its last STATUS= was: cannot open the database");
    let pid = recorded_pid(&env, "db");
    assert!(!alive(pid), "{}", run.dump());
    assert!(!env.path("db.pid").exists());
    assert_eq!(env.record("db")["status_text"], "cannot open the database");
}

/// A `STATUS=` that would set the terminal's title, move the cursor up two lines and write a
/// fake `user:` line there (ESC, BEL, CR and the C1 CSI).
const HOSTILE_STATUS: &str = "\x1b]0;pwned\x07\x1b[2A\ruser:    root\u{9b}2J";

/// [`HOSTILE_STATUS`] as `status` must show it.
const HOSTILE_SHOWN: &str = r"\u{1b}]0;pwned\u{7}\u{1b}[2A\ruser:    root\u{9b}2J";

/// The terminal control characters of [`HOSTILE_STATUS`], which rdaemon must never print raw.
const RAW: [char; 4] = ['\x1b', '\x07', '\r', '\u{9b}'];

/// A daemon that writes a log line that would set the terminal's title and erase the line,
/// then sends `STATUS=`[`HOSTILE_STATUS`] and `last`, then sleeps; `None` without python3. The
/// control characters are made by `printf` in the daemon, so that rdaemon's record of the
/// command line holds none.
fn hostile_notifier(last: &str) -> Option<Vec<String>> {
    let python = python3()?;
    let script = r#"printf '\033]0;pwned\007\033[2Kboom\n'
exec "$1" "$2" "$(printf 'STATUS=\033]0;pwned\007\033[2A\ruser:    root\302\2332J')" "$3" -- sleep 1000"#;
    Some(vec![
        "sh".into(),
        "-c".into(),
        script.into(),
        "sh".into(),
        python.to_string_lossy().into_owned(),
        fixture("sd_notify.py").to_string_lossy().into_owned(),
        last.into(),
    ])
}

/// The daemon's `STATUS=` text is the daemon's words: `status` shows its control characters
/// escaped (a terminal must not obey them), `--json` keeps them as they were, JSON-escaped.
#[test]
fn notify_status_text_is_shown_with_its_control_characters_escaped() {
    let Some(program) = hostile_notifier("READY=1") else {
        return skip("notify_status_escaped", "no python3");
    };
    let env = Env::new();
    env.run(&start_args("esc", &["--ready", "notify"], &program))
        .ok()
        .stdout_has("started esc (pid ");
    assert_eq!(env.record("esc")["status_text"], HOSTILE_STATUS);
    let run = env.run(&["status", "esc"]).ok();
    assert!(!run.stdout.contains(RAW), "{}", run.dump());
    run.stdout_has(&format!("\n  status:  {HOSTILE_SHOWN}\n"));
    // JSON escapes C0 (`\u001b`); it leaves U+009B as it is, and so does rdaemon, for programs.
    let run = env.run(&["status", "esc", "--json"]).ok();
    assert!(!run.stdout.contains(&RAW[..3]), "{}", run.dump());
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["status_text"], HOSTILE_STATUS);
}

/// A failed `start` quotes the daemon's last `STATUS=` and the end of its log: both with their
/// control characters escaped.
#[test]
fn a_failed_start_shows_the_daemons_words_escaped() {
    let Some(program) = hostile_notifier("ERRNO=5") else {
        return skip("notify_failure_escaped", "no python3");
    };
    let env = Env::new();
    let run = env
        .run(&start_args("esc", &["--ready", "notify"], &program))
        .code(1);
    assert!(!run.stderr.contains(RAW), "{}", run.dump());
    run.stderr_has("it reported failure with ERRNO=5")
        .stderr_has(&format!("\nits last STATUS= was: {HOSTILE_SHOWN}\n"))
        .stderr_has("<==\n\\u{1b}]0;pwned\\u{7}\\u{1b}[2Kboom\n");
}

#[test]
fn notify_extend_timeout_gives_more_time() {
    let Some(python) = python3() else {
        return skip("notify_extend", "no python3");
    };
    let env = Env::new();
    let notify = fixture("sd_notify.py");
    let (py, fx) = (python.display(), notify.display());
    // A short-lived child asks for 30 s more at once (python starts well within the 3 s
    // timeout, even on a loaded machine), then the daemon takes 4 s, beyond the timeout, to
    // get ready.
    let line = format!(
        "'{py}' '{fx}' EXTEND_TIMEOUT_USEC=30000000; sleep 4; exec '{py}' '{fx}' READY=1 -- sleep 1000"
    );
    env.run(&[
        "start",
        "--name",
        "ext",
        "--ready",
        "notify",
        "--ready-timeout",
        "3s",
        "--",
        "sh",
        "-c",
        &line,
    ])
    .ok()
    .stdout_has("started ext");
}

/// helper-111: one `EXTEND_TIMEOUT_USEC=2^64-1` made `start` wait for ever (and a boot's
/// `resurrect` with it, holding back every daemon after that one). Extensions go up to ten
/// times `--ready-timeout` in all: the start fails then, as a plain timeout does.
#[test]
fn notify_extensions_stop_at_ten_times_the_ready_timeout() {
    let Some(python) = python3() else {
        return skip("notify_extend_ceiling", "no python3");
    };
    let env = Env::new();
    let notify = fixture("sd_notify.py");
    let (py, fx) = (python.display(), notify.display());
    // Once, as much as can be asked; then, from another process of the daemon, again and again.
    let line = format!(
        "'{py}' '{fx}' EXTEND_TIMEOUT_USEC=18446744073709551615\n\
         while :; do '{py}' '{fx}' EXTEND_TIMEOUT_USEC=1000000; sleep 0.1; done"
    );
    let run = env
        .run(&[
            "start",
            "--name",
            "ext",
            "--ready",
            "notify",
            "--ready-timeout",
            "300ms",
            "--",
            "sh",
            "-c",
            &line,
        ])
        .code(1);
    let run = run.stderr_has("cannot start ext: it was not ready after 3s");
    assert!(!env.path("ext.pid").exists(), "{}", run.dump());
}

/// A notify wait that heard nothing at all says where the socket is, and why a program may not
/// reach it (its own mount namespace or chroot); one that heard the daemon say something else
/// does not.
#[test]
fn a_notify_wait_that_heard_nothing_says_where_the_socket_is() {
    let Some(python) = python3() else {
        return skip("notify_unheard", "no python3");
    };
    let env = Env::new();
    let silent = env
        .run(&[
            "start",
            "--name",
            "mute",
            "--ready",
            "notify",
            "--ready-timeout",
            "1s",
            "--",
            "sleep",
            "1000",
        ])
        .code(1);
    assert!(
        silent.stderr.contains("nothing at all reached it (/")
            && silent
                .stderr
                .contains("the program must send READY=1 to $NOTIFY_SOCKET (sd_notify)")
            && silent.stderr.contains("must have it bind-mounted in"),
        "{}",
        silent.dump()
    );
    let line = format!(
        "exec '{}' '{}' STATUS=warming -- sleep 1000",
        python.display(),
        fixture("sd_notify.py").display()
    );
    let talking = env
        .run(&[
            "start",
            "--name",
            "talk",
            "--ready",
            "notify",
            "--ready-timeout",
            "2s",
            "--",
            "sh",
            "-c",
            &line,
        ])
        .code(1);
    assert!(
        talking.stderr.contains("not ready after 2s"),
        "{}",
        talking.dump()
    );
    assert!(
        !talking.stderr.contains("nothing reached"),
        "{}",
        talking.dump()
    );
}

/// The daemon of the notify tests: it waits for the test's `go`, then reports failure itself
/// (ERRNO=5). Had rdaemon heard a READY=1 the test sent before the go, `start` would have
/// reported success instead.
fn failing_after_go(python: &std::path::Path) -> String {
    format!(
        "while [ ! -e go ]; do sleep 0.01; done; exec '{}' '{}' ERRNO=5 -- sleep 1000",
        python.display(),
        fixture("sd_notify.py").display()
    )
}

/// `start --ready notify` of a daemon running `script` in the background: the start, the
/// daemon's pid and its NOTIFY_SOCKET (`@...`), once the daemon runs.
/// The name [`notify_start`] gives its daemon in `env`.
fn shy(env: &Env) -> String {
    unique_name(env, "shy")
}

fn notify_start(env: &Env, script: &str) -> (Background, i32, String) {
    let mut cmd = env.std_cmd();
    // Its own name: cgroup paths are global, and these tests run in parallel.
    let name = shy(env);
    cmd.args([
        "start",
        "--name",
        &name,
        "--chdir",
        env.dir().to_str().unwrap(),
    ])
    .args([
        "--ready",
        "notify",
        "--ready-timeout",
        "60s",
        "--",
        "sh",
        "-c",
        script,
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let start = Background::spawn(&mut cmd);
    let pid = env.wait_pid_file(&format!("{name}.pid"));
    let mut socket = None;
    wait_until("the daemon's NOTIFY_SOCKET", DEADLINE, || {
        socket = environ(pid)
            .into_iter()
            .find_map(|e| e.strip_prefix("NOTIFY_SOCKET=").map(str::to_owned));
        socket.is_some()
    });
    (start, pid, socket.unwrap())
}

/// `start` said the daemon's own report of failure (ERRNO=5), and stopped it.
fn failed_on_its_report(start: Background, pid: i32) {
    let output = start.into_output();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a stranger was heard: {stderr}"
    );
    assert!(
        stderr.contains("it reported failure with ERRNO=5"),
        "{stderr}"
    );
    assert!(!alive(pid));
}

#[test]
fn notify_messages_from_strangers_are_ignored() {
    let Some(python) = python3() else {
        return skip("notify_strangers", "no python3");
    };
    let env = Env::new();
    let (start, pid, socket) = notify_start(&env, &failing_after_go(&python));
    UnixDatagram::unbound()
        .unwrap()
        .send_to(b"READY=1", &socket)
        .unwrap();
    fs::write(env.path("go"), "").unwrap();
    failed_on_its_report(start, pid);
}

/// A `start --ready notify` of a daemon running `script` ([`notify_start`]), paused (SIGSTOP)
/// once the daemon's NOTIFY_SOCKET is known, so that a message sent now is read only after its
/// sender is gone. `None` (skipped) without python3, without a kernel that keeps a reaped
/// sender's cgroup (6.15), or when the daemon got no cgroup of its own.
fn paused_notify_start(env: &Env, test: &str, script: &str) -> Option<(Background, i32, String)> {
    python3_or_skip(test)?;
    if !kernel_keeps_exit_status() {
        skip(
            test,
            "the kernel keeps no cgroup of a reaped sender (before 6.15)",
        );
        return None;
    }
    let (start, pid, socket) = notify_start(env, script);
    let own_cgroup = fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap()
        .lines()
        .any(|l| l.starts_with("0::/") && l.ends_with(&format!("/{}", env.cgroup_leaf(&shy(env)))));
    if !own_cgroup {
        skip(test, "the daemon has no cgroup of its own here");
        return None;
    }
    signal_start(&start, nix::sys::signal::Signal::SIGSTOP);
    Some((start, pid, socket))
}

fn signal_start(start: &Background, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(start.pid()), sig).unwrap();
}

/// A process of the daemon's user outside the daemon that sends READY=1 and is gone (reaped)
/// before rdaemon reads it: its ancestry cannot be checked any more, but the kernel kept the
/// cgroup it was in (the sender's pidfd, Linux 6.15), which is not the daemon's. Not heard: the
/// daemon's own failure report, sent later, decides. (Before, its user alone let it in.)
#[test]
fn a_stranger_that_sends_and_exits_at_once_is_not_heard() {
    const TEST: &str = "a_stranger_that_sends_and_exits_at_once_is_not_heard";
    let env = Env::new();
    let python = python3().unwrap_or_default();
    let script = failing_after_go(&python);
    let Some((start, pid, socket)) = paused_notify_start(&env, TEST, &script) else {
        return;
    };
    // The stranger: a child of this test (the same user, this test's cgroup), reaped here
    // while rdaemon is paused.
    let sent = std::process::Command::new(&python)
        .arg(fixture("sd_notify.py"))
        .arg("READY=1")
        .env("NOTIFY_SOCKET", &socket)
        .status()
        .unwrap();
    assert!(sent.success());
    signal_start(&start, nix::sys::signal::Signal::SIGCONT);
    fs::write(env.path("go"), "").unwrap();
    failed_on_its_report(start, pid);
}

/// The daemon's own short-lived helper (a `systemd-notify`), reaped by the daemon's shell
/// before rdaemon reads its READY=1: it was in the daemon's cgroup, so it is heard.
#[test]
fn the_daemons_helper_that_sends_and_exits_at_once_is_heard() {
    const TEST: &str = "the_daemons_helper_that_sends_and_exits_at_once_is_heard";
    let env = Env::new();
    let script = format!(
        "while [ ! -e go ]; do sleep 0.01; done; '{}' '{}' READY=1; : > sent; exec sleep 1000",
        python3().unwrap_or_default().display(),
        fixture("sd_notify.py").display()
    );
    let Some((start, pid, _)) = paused_notify_start(&env, TEST, &script) else {
        return;
    };
    heard_once_gone(&env, start, pid);
}

/// Lets the helper of a [`paused_notify_start`] daemon send, exit and be reaped by the
/// daemon's shell (it then touches `sent`), and only then `start` go on, which must have
/// heard it.
fn heard_once_gone(env: &Env, start: Background, pid: i32) {
    fs::write(env.path("go"), "").unwrap();
    env.wait_file("sent");
    signal_start(&start, nix::sys::signal::Signal::SIGCONT);
    let output = start.into_output();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains(&format!("started {} (pid {pid})", shy(env))),
        "{stdout}"
    );
}

/// The same helper, moved first into a cgroup the daemon made beneath its own: the cgroup the
/// kernel kept for it is not the daemon's, but lies beneath it, so it is heard too.
#[test]
fn the_daemons_helper_in_a_cgroup_beneath_its_own_is_heard() {
    const TEST: &str = "the_daemons_helper_in_a_cgroup_beneath_its_own_is_heard";
    let Some(mount) = cgroups_here(TEST) else {
        return;
    };
    let env = Env::new();
    let script = format!(
        r#"while [ ! -e go ]; do sleep 0.01; done
cg={mount}$(sed -n 's/^0:://p' /proc/self/cgroup)
mkdir "$cg/helper"
sh -c 'echo $$ > "$1/cgroup.procs"; exec "$2" "$3" READY=1' sh "$cg/helper" '{python}' '{notify}'
: > sent
exec sleep 1000"#,
        mount = mount.display(),
        python = python3().unwrap_or_default().display(),
        notify = fixture("sd_notify.py").display()
    );
    let Some((start, pid, _)) = paused_notify_start(&env, TEST, &script) else {
        return;
    };
    heard_once_gone(&env, start, pid);
    let name = shy(&env);
    env.run(&["stop", &name]).ok();
    assert!(!alive(pid));
    let cgroup = mount.join("rdaemon").join(env.cgroup_leaf(&name));
    assert!(!cgroup.exists(), "{} is still there", cgroup.display());
}

#[test]
fn no_notify_socket_leaks_into_an_exec_daemon() {
    let env = Env::new();
    let mut cmd = env.cmd();
    cmd.env("NOTIFY_SOCKET", "/run/systemd/notify");
    env.run_cmd(cmd, &["start", "--name", "plain", "--", "sleep", "1000"])
        .ok();
    let pid = env.pid_of("plain");
    wait_environ_has(pid, &format!("RDAEMON_DIR={}", env.dir().display()));
    assert!(
        !environ(pid).iter().any(|e| e.starts_with("NOTIFY_SOCKET=")),
        "{:?}",
        environ(pid)
    );
}

#[test]
fn restart_waits_for_the_recorded_readiness() {
    let env = Env::new();
    env.run(&[
        "start",
        "--name",
        "again",
        "--ready",
        "alive:200ms",
        "--ready-timeout",
        "5s",
        "--",
        "sleep",
        "1000",
    ])
    .ok();
    let old = env.pid_of("again");
    let began = Instant::now();
    env.run(&["restart", "again"])
        .ok()
        .stdout_has("started again");
    assert!(began.elapsed() >= Duration::from_millis(200));
    assert_ne!(env.pid_of("again"), old);
    let rec = env.record("again");
    assert_eq!(rec["ready"], "alive:200ms");
    assert_eq!(rec["ready_timeout"], "5s");
}

#[test]
fn the_tail_of_a_failed_start_is_only_what_this_start_wrote() {
    let env = Env::new();
    // An earlier run's last words are in the log.
    env.run(&[
        "start",
        "--name",
        "tail",
        "--",
        "sh",
        "-c",
        "echo 'OLD RUN: fatal'",
    ])
    .ok();
    let log = env.path("tail.log");
    wait_until("the first run's line", Duration::from_secs(30), || {
        fs::read_to_string(&log).is_ok_and(|t| t.contains("OLD RUN"))
    });
    // A start that writes nothing before it fails shows none of them.
    let run = env
        .run(&[
            "start", "--name", "tail", "--ready", "alive:5s", "--", "sh", "-c", "exit 3",
        ])
        .code(1);
    assert!(!run.stderr.contains("OLD RUN"), "{}", run.dump());
    assert!(
        run.stderr.contains(&format!(
            "(nothing was written to the log '{}' by this start)",
            log.display()
        )),
        "{}",
        run.dump()
    );
    // One that writes shows only its own lines.
    let run = env
        .run(&[
            "start",
            "--name",
            "tail",
            "--ready",
            "alive:5s",
            "--",
            "sh",
            "-c",
            "echo 'NEW RUN: bad config'; exit 3",
        ])
        .code(1);
    assert!(
        has_line(&run.stderr, "NEW RUN: bad config"),
        "{}",
        run.dump()
    );
    assert!(!run.stderr.contains("OLD RUN"), "{}", run.dump());
    // One that empties the log in place and writes past where it ended (copytruncate, or the
    // program itself): its whole line, not what lies past the old end.
    let long = "fatal: cannot parse /etc/app.conf line 7, and this line is longer than the log was";
    let script = format!(": > {}; echo '{long}'; exit 3", log.display());
    let run = env
        .run(&[
            "start", "--name", "tail", "--ready", "alive:5s", "--", "sh", "-c", &script,
        ])
        .code(1);
    assert!(has_line(&run.stderr, long), "{}", run.dump());
}

/// A daemon that keeps talking on its `NOTIFY_SOCKET` after `start` returned (`STATUS=` with a
/// secret), as `--user nobody`, in python (no file of the test's 0700 directory needed).
const CHATTY_DAEMON: &str = "import os, socket, time
a = os.environ['NOTIFY_SOCKET']
a = '\\0' + a[1:] if a.startswith('@') else a
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
def send(m):
    try:
        s.sendto(m, a)
    except OSError:
        pass
send(b'READY=1')
while True:
    send(b'STATUS=password hunter2')
    time.sleep(0.02)
";

/// Another user (uid 54321, no account needed) tries to bind the address and to hear what is
/// sent there (three messages, or a second of silence).
const ATTACKER: &str = "import errno, socket, sys
a = sys.argv[1]
a = '\\0' + a[1:] if a.startswith('@') else a
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    s.bind(a)
except OSError as e:
    print('refused', errno.errorcode[e.errno])
    sys.exit(0)
print('BOUND')
s.settimeout(1)
try:
    for _ in range(3):
        print('HEARD', s.recv(4096))
except OSError:
    pass
";

/// What the attacker got, as another user, for the daemon's `NOTIFY_SOCKET` `address`.
fn attack_notify_socket(python: &std::path::Path, address: &str) -> String {
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=54321", "--regid=54321", "--clear-groups"])
        .arg(python)
        .args(["-c", ATTACKER, address])
        .current_dir("/")
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Security test's report of 2026-12-02: the abstract `@rdaemon/NAME/PID/RANDOM` was free once
/// `start` returned (or the monitor was killed), and another user bound it and heard the
/// daemon's `STATUS=` secrets (and, by `FDSTORE=1`, its private files). The name the daemon was
/// given must never be bindable by anyone else, and nothing it sends may reach another user.
#[test]
fn another_user_can_never_take_over_the_daemons_notify_socket() {
    let test = "another_user_can_never_take_over_the_daemons_notify_socket";
    let Some(_) = root_and_nobody(test) else {
        return;
    };
    let Some(python) = python3_or_skip(test) else {
        return;
    };
    let env = Env::new();
    let program = [
        python.to_string_lossy().into_owned(),
        "-c".into(),
        CHATTY_DAEMON.into(),
    ];
    for (name, respawn) in [("plain", false), ("watched", true)] {
        let mut extra = vec!["--user", "nobody", "--chdir", "/", "--ready", "notify"];
        if respawn {
            extra.push("--respawn");
        }
        env.run(&start_args(name, &extra, &program))
            .ok()
            .stdout_has(&format!("started {name} (pid "));
        let pid = env.pid_of(name);
        env.track(pid);
        let daemon = match respawn {
            true => env.record(name)["child_pid"].as_i64().expect("child_pid") as i32,
            false => pid,
        };
        env.track(daemon);
        let address = environ(daemon)
            .into_iter()
            .find_map(|e| e.strip_prefix("NOTIFY_SOCKET=").map(str::to_owned))
            .expect("no NOTIFY_SOCKET");
        if respawn {
            // The monitor goes without a word (what its child forked may live on).
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL)
                .unwrap();
            wait_dead(pid);
        }
        let got = attack_notify_socket(&python, &address);
        assert!(
            got.starts_with("refused"),
            "{name}: another user bound '{address}': {got}"
        );
        assert!(!got.contains("hunter2"), "{name}: {got}");
        if respawn {
            // The killed monitor could not remove the socket's file: it keeps the name taken
            // (EADDRINUSE), until a later start removes it as dead.
            assert_eq!(got.trim(), "refused EADDRINUSE", "{name}");
            fs::remove_file(&address).unwrap();
        } else {
            // `start` removed the file on its way out: only root may create one there.
            assert_eq!(got.trim(), "refused EACCES", "{name}");
            env.run(&["stop", name]).ok();
        }
    }
}

/// A program that hands its notify socket a TCP socket lingering over unsent data
/// (`SO_LINGER` of a million seconds, its peer never reading), as any user could, then says
/// `READY=1`, and later `STATUS=after`; then the same socket in flight inside a Unix socket it
/// hands over. Closing such a descriptor blocked rdaemon until the linger ran out (attack of
/// 2026-12-02, and the second review's for the nested one): rdaemon turns the linger off as it
/// closes what it got, and bounds every such close with a timer.
const LINGERING_SENDER: &str = r#"
import array, os, socket, threading, time
listener = socket.socket(); listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
listener.bind(("127.0.0.1", 0)); listener.listen(8)
peers = []
def lingering():
    client = socket.socket(); client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    client.connect(listener.getsockname()); peers.append(listener.accept()[0])
    client.setblocking(False)
    try:
        while True:
            client.send(b"x" * 4096)
    except BlockingIOError:
        pass
    linger = (1).to_bytes(4, "little") + (1000000).to_bytes(4, "little")
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    return client
n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
addr = os.environ["NOTIFY_SOCKET"]
def forge(text):
    client = lingering()
    try:
        rights = array.array("i", [client.fileno()])
        n.sendmsg([text], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)], 0, addr)
    except PermissionError:
        peers.append(client)  # Refused: kept open, as its close would wait here.
        return
    # Sent: rdaemon's copy is then usually the last one, whose close would wait.
    client.close()
def forge_nested(text):
    # The lingering socket in flight inside a Unix socket, which rdaemon gets: closing that
    # empties its queue, and the lingering socket's last close is rdaemon's (second review).
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    client = lingering()
    b.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [client.fileno()]))])
    client.close()
    peers.append(b)
    n.sendmsg([text], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [a.fileno()]))], 0, addr)
    # Closed aside: if rdaemon closed its copy first, this close is the last one, and waits.
    threading.Thread(target=a.close, daemon=True).start()
forge(b"READY=1")
forge_nested(b"READY=1")
n.sendto(b"READY=1", addr)
time.sleep(0.5)
forge(b"STATUS=forged")
forge_nested(b"STATUS=forged")
n.sendto(b"STATUS=after", addr)
time.sleep(1000)
"#;

/// [`LINGERING_SENDER`] under `start --ready notify` and under a respawn monitor: `start`
/// returns ready, and the monitor goes on hearing the program.
#[test]
fn a_lingering_socket_sent_to_the_notify_socket_blocks_nothing() {
    let test = "a_lingering_socket_sent_to_the_notify_socket_blocks_nothing";
    each_notify_mode(test, LINGERING_SENDER, |env, name, respawn| {
        if respawn {
            wait_until("the monitor hears STATUS=after", DEADLINE, || {
                env.record(name)["status_text"] == "after"
            });
        }
    });
}

/// A daemon whose readiness `start` checks on its port holds, below its listener, a TCP socket
/// that lingers a million seconds over data its peer never reads, and gives up its own copy
/// while `start` has it duplicated (`pidfd_getfd`) to ask whether it listens:
/// `RDAEMON_FAULT=socket-dup:stop` holds `start` exactly there, and the program closes its
/// copy then. `start`'s close was the last one and waited for the linger: helper-125's attack
/// (a child of the daemon that exited during the look) held `start` past its
/// `--ready-timeout`, with the name's lock. Closed within a bounded time, `start` goes on,
/// finds the listener and returns.
const LINGERS_UNDER_THE_LISTENER: &str = r#"
import os, signal, socket, struct, sys, time
port, mark = int(sys.argv[1]), sys.argv[2]
sink = socket.socket(); sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
sink.bind(("127.0.0.1", 0)); sink.listen(1)
lingering = socket.socket(); lingering.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
lingering.connect(sink.getsockname())
if os.fork() == 0:
    peer = sink.accept()[0]  # kept, never read: the window closes
    lingering.close()
    time.sleep(1000)
    os._exit(0)
sink.close()
lingering.setblocking(False)
for _ in range(2):
    try:
        while True:
            lingering.send(b"x" * 4096)
    except BlockingIOError:
        time.sleep(0.1)
lingering.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 1000000))
def drop(*_):
    inode = os.fstat(lingering.fileno()).st_ino
    lingering.close()
    with open(mark + ".tmp", "w") as f:
        f.write(str(inode))
    os.rename(mark + ".tmp", mark)
signal.signal(signal.SIGUSR1, drop)
bound = socket.socket(); bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
bound.bind(("127.0.0.1", port))
# Above the lingering socket, so looked at after it; listening only once there.
ready = socket.socket(fileno=os.dup2(bound.fileno(), 60))
bound.close()
ready.listen(8)
while True:
    time.sleep(1000)
"#;

#[test]
fn a_lingering_socket_the_daemon_gives_up_while_start_looks_at_it_blocks_nothing() {
    let test = "a_lingering_socket_the_daemon_gives_up_while_start_looks_at_it_blocks_nothing";
    let Some(python) = python3_or_skip(test) else {
        return;
    };
    let env = Env::new();
    let port = free_port().to_string();
    let mark = env.path("dropped").display().to_string();
    let ready = format!("tcp:127.0.0.1:{port}");
    let python = python.display().to_string();
    let mut start = env.paused_at(
        "socket-dup",
        &[
            "start",
            "--name",
            "lg",
            "--ready",
            &ready,
            "--ready-timeout",
            "60s",
            "--",
            &python,
            "-c",
            LINGERS_UNDER_THE_LISTENER,
            &port,
            &mark,
        ],
    );
    let daemon = env.pid_of("lg");
    env.track(daemon);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon),
        nix::sys::signal::SIGUSR1,
    )
    .unwrap();
    wait_until(
        "the daemon has closed its lingering socket",
        DEADLINE,
        || Path::new(&mark).exists(),
    );
    // `start` holds the only copy left.
    let inode = fs::read_to_string(&mark).unwrap();
    let held = fs::read_dir(format!("/proc/{}/fd", start.pid()))
        .unwrap()
        .flatten()
        .any(|e| {
            fs::read_link(e.path()).is_ok_and(|l| l == Path::new(&format!("socket:[{inode}]")))
        });
    assert!(
        held,
        "start does not hold the lingering socket socket:[{inode}]"
    );
    let began = Instant::now();
    wait_until("start returns", DEADLINE, || {
        if stat(start.pid()).is_some_and(|s| s.state == 'T') {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(start.pid()),
                nix::sys::signal::SIGCONT,
            );
        }
        start.has_ended()
    });
    let out = start.into_output();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("started lg (pid "),
        "{out:?}"
    );
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    env.run(&["stop", "lg"]).ok();
}

/// Starts python running `code` with `--ready notify`, as daemon `plain` in exec mode and as
/// `watched` under a respawn monitor, each ready in time; `check` then looks at it (given
/// whether it is the respawn one), and it is stopped.
fn each_notify_mode(test: &str, code: &str, check: impl Fn(&Env, &str, bool)) {
    let Some(python) = python3_or_skip(test) else {
        return;
    };
    let env = Env::new();
    let program = [
        python.to_string_lossy().into_owned(),
        "-c".into(),
        code.into(),
    ];
    for (name, respawn) in [("plain", false), ("watched", true)] {
        let mut extra = vec!["--ready", "notify", "--ready-timeout", "30s"];
        if respawn {
            extra.push("--respawn");
        }
        env.run(&start_args(name, &extra, &program))
            .ok()
            .stdout_has(&format!("started {name} (pid "));
        check(&env, name, respawn);
        env.run(&["stop", name]).ok();
    }
}

/// `systemd-notify --ready` (systemd 246 and later) sends `BARRIER=1` with the write end of a
/// pipe after `READY=1`, and fails (`Failed to invoke barrier`, then `ERRNO=` to the socket) if
/// that pipe is not closed by the receiver: the review of 2026-12-02 saw a socket that refused
/// descriptors make it fail. This fixture does the same, in that order, checking the barrier
/// first: `start` succeeds only if the barrier completed, and the program says so in its log.
const BARRIER_SENDER: &str = r#"
import array, os, select, socket, sys, time
n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
addr = os.environ["NOTIFY_SOCKET"]
r, w = os.pipe()
rights = array.array("i", [w])
n.sendmsg([b"BARRIER=1"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)], 0, addr)
os.close(w)
if not select.select([r], [], [], 20)[0] or os.read(r, 1) != b"":
    sys.exit("barrier failed")
print("barrier passed", flush=True)
n.sendto(b"READY=1", addr)
time.sleep(1000)
"#;

#[test]
fn a_notify_barrier_is_answered_by_closing_its_pipe() {
    let test = "a_notify_barrier_is_answered_by_closing_its_pipe";
    each_notify_mode(test, BARRIER_SENDER, |env, name, _| {
        let log = fs::read_to_string(env.path(&format!("{name}.log"))).unwrap();
        assert!(log.contains("barrier passed"), "{name}: {log}");
    });
}

/// `systemd-notify --ready` run by the daemon's script: `READY=1`, then `BARRIER=1` with a
/// pipe, sent by a child of the daemon's named `systemd-notify` (as root, the tool sends
/// `READY=1` in its parent's name). Here the barrier comes 300 ms after `READY=1`, as it can
/// on a busy machine: in exec mode `start` had returned and its socket was gone ("Failed to
/// invoke barrier", the tool's exit 1, which kills a `set -e` script: user trial of
/// 2026-12-03, 5 starts in 15 with the real tool).
const LATE_BARRIER_HELPER: &str = r#"
import array, ctypes, os, select, socket, sys, time
pid = os.fork()
if pid == 0:
    ctypes.CDLL(None).prctl(15, b"systemd-notify", 0, 0, 0)
    n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    addr = os.environ["NOTIFY_SOCKET"]
    n.sendto(b"READY=1", addr)
    time.sleep(0.3)
    r, w = os.pipe()
    try:
        n.sendmsg([b"BARRIER=1"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [w]))], 0, addr)
    except OSError as e:
        print("barrier failed:", e, flush=True)
        os._exit(1)
    os.close(w)
    if not select.select([r], [], [], 20)[0] or os.read(r, 1) != b"":
        os._exit(2)
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("notifier exited", os.waitstatus_to_exitcode(status), flush=True)
time.sleep(1000)
"#;

#[test]
fn a_barrier_of_systemd_notify_after_ready_is_answered() {
    let test = "a_barrier_of_systemd_notify_after_ready_is_answered";
    each_notify_mode(test, LATE_BARRIER_HELPER, |env, name, _| {
        let log = env.path(&format!("{name}.log"));
        wait_until(&format!("{name}: the notifier exits"), DEADLINE, || {
            fs::read_to_string(&log).is_ok_and(|l| l.contains("notifier exited"))
        });
        let log = fs::read_to_string(&log).unwrap();
        assert!(log.contains("notifier exited 0"), "{name}: {log}");
    });
}

/// The real `systemd-notify --ready --status=...` from a `set -e` script, ten starts in a
/// row: each daemon runs on past it, and its status text is kept.
#[test]
fn systemd_notify_ready_from_a_set_e_script_keeps_the_daemon_running() {
    let test = "systemd_notify_ready_from_a_set_e_script_keeps_the_daemon_running";
    let Some(tool) = ["/usr/bin/systemd-notify", "/bin/systemd-notify"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        return skip(test, "systemd-notify is not installed");
    };
    let env = Env::new();
    let script = format!(
        "set -e; {tool} --ready --status=serving; echo after notify; exec sleep {}",
        unique_secs()
    );
    for i in 0..10 {
        let name = format!("sn{i}");
        let program = ["sh".to_string(), "-c".into(), script.clone()];
        env.run(&start_args(&name, &["--ready", "notify"], &program))
            .ok();
        let pid = env.pid_of(&name);
        env.track(pid);
        wait_until(
            &format!("{name} says it got past the notify"),
            DEADLINE,
            || {
                fs::read_to_string(env.path(&format!("{name}.log")))
                    .is_ok_and(|l| l.contains("after notify"))
            },
        );
        assert!(alive(pid), "{name} died");
        env.run(&["status", &name]).ok();
    }
}

/// A program that ends while `start` answers a `systemd-notify` helper's barrier (the helper
/// lingering after `READY=1`) is not "started": the start fails as when the program ends
/// during the wait, and stops what it left (helper-95's review, 2026-12-03: `started`, then
/// `dead`). The helper sends `READY=1` and a barrier, and tells the program to end only once
/// the barrier's pipe is closed: `start` has read `READY=1` by then, whatever the machine's
/// speed, and waits on while the helper lingers.
const EXITS_WHILE_A_NOTIFIER_LINGERS: &str = r#"
import array, ctypes, os, socket, sys, time
told_r, told_w = os.pipe()
if os.fork() == 0:
    os.close(told_r)
    ctypes.CDLL(None).prctl(15, b"systemd-notify", 0, 0, 0)
    n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    addr = os.environ["NOTIFY_SOCKET"]
    n.sendto(b"READY=1", addr)
    r, w = os.pipe()
    n.sendmsg([b"BARRIER=1"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [w]))], 0, addr)
    os.close(w)
    os.read(r, 1)
    os.write(told_w, b"x")
    time.sleep(30)
    os._exit(0)
os.close(told_w)
os.read(told_r, 1)
sys.exit(3)
"#;

#[test]
fn a_program_that_ends_during_the_barrier_wait_is_not_started() {
    let test = "a_program_that_ends_during_the_barrier_wait_is_not_started";
    let Some(python) = python3_or_skip(test) else {
        return;
    };
    let env = Env::new();
    let program = [
        python.to_string_lossy().into_owned(),
        "-c".into(),
        EXITS_WHILE_A_NOTIFIER_LINGERS.into(),
    ];
    let run = env.run(&start_args(
        "gone",
        &["--ready", "notify", "--ready-timeout", "30s"],
        &program,
    ));
    env.track_pidfiles();
    let run = run.code(1);
    assert!(
        run.stderr
            .starts_with("rdaemon: cannot start gone: the program exited with status 3"),
        "{}",
        run.dump()
    );
    assert!(run.stdout.is_empty(), "{}", run.dump());
    env.run(&["status", "gone"]).code(3);
}

/// `start --ready notify` of a program that runs `then` (a shell command line ending in `;`,
/// or nothing), while a process that is not the daemon's, deep down a chain of parents, floods
/// the notify socket (writable by every user) with messages: `start` running, with the flood
/// under way. Returns the start and the flood (its senders also tracked by `env`), both killed
/// by pid when dropped.
fn start_under_a_flood(
    env: &Env,
    python: &Path,
    name: &str,
    timeout: &str,
    then: &str,
) -> (Background, Background) {
    let mark = unique_secs();
    let said = env.path(&format!("{name}.sock"));
    let program = format!(
        "echo \"$NOTIFY_SOCKET\" > {name}.tmp && mv {name}.tmp {name}.sock; {then}exec sleep {mark}"
    );
    let dir = env.dir().display().to_string();
    let mut cmd = env.std_cmd();
    cmd.args([
        "start",
        "--name",
        name,
        "--chdir",
        &dir,
        "--ready",
        "notify",
        "--ready-timeout",
        timeout,
        "--",
        "sh",
        "-c",
        &program,
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let start = Background::spawn(&mut cmd);
    wait_until("the program says its NOTIFY_SOCKET", DEADLINE, || {
        fs::read_to_string(&said).is_ok_and(|s| s.ends_with('\n'))
    });
    env.track_marked(&mark);
    let address = fs::read_to_string(&said).unwrap().trim().to_owned();
    let flood_mark = unique_secs();
    // Forked from the test, not the daemon: none of its messages is the daemon's. It ends
    // once the socket is gone; its 67 processes are tracked, to be killed if it does not.
    let flood = Background::spawn(
        std::process::Command::new(python)
            .arg(fixture("notify_flood.py"))
            .args([&address, "62", "4", &flood_mark])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_until("the flood's senders run", DEADLINE, || {
        env.track_marked(&flood_mark).len() == 67
    });
    (start, flood)
}

/// A flood of others' messages on the notify socket held `start` until the flood ended:
/// past `--ready-timeout` and past Ctrl-C, and with them the name's lock, which `stop` then
/// waited for (helper-97's attack, 2026-12-03: 40 s of a 5 s timeout). `start` now looks at
/// its clock and its signals between bounded batches of messages.
#[test]
fn a_flood_of_others_notify_messages_cannot_hold_start() {
    let test = "a_flood_of_others_notify_messages_cannot_hold_start";
    let Some(python) = python3_or_skip(test) else {
        return;
    };
    let env = Env::new();
    let (start, _flood) = start_under_a_flood(&env, &python, "timed", "3s", "");
    let out = start.output_within(DEADLINE, "the start under a flood times out");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not ready after 3s"), "{stderr}");

    let (start, _flood) = start_under_a_flood(&env, &python, "interrupted", "10m", "");
    let stderr = start.interrupted_stderr("the start under a flood is interrupted");
    assert!(stderr.contains("interrupted"), "{stderr}");

    // The daemon's own READY=1, sent once the flood runs, is heard through it.
    let send = format!(
        "while [ ! -e ready.go ]; do sleep 0.02; done; {} -c 'import os, socket; \
         socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b\"READY=1\", \
         os.environ[\"NOTIFY_SOCKET\"])'; ",
        python.display()
    );
    let (start, _flood) = start_under_a_flood(&env, &python, "ready", "10m", &send);
    fs::write(env.path("ready.go"), "").unwrap();
    let out = start.output_within(DEADLINE, "the start under a flood hears READY=1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    env.run(&["stop", "ready"]).ok();
}

/// helper-127's review: the look at the daemon's own sockets held every copy it took until it
/// was done, so with a server's thousand sockets rdaemon ran out of descriptors (`EMFILE`)
/// and missed a listener among the last. With 1,100 sockets and its listener opened last, a
/// `start` limited to 1,024 descriptors (soft) takes every copy (traced: no `pidfd_getfd` fails).
#[test]
fn a_look_at_a_daemon_with_many_sockets_keeps_few_copies_open() {
    let test = "a_look_at_a_daemon_with_many_sockets_keeps_few_copies_open";
    let Some(strace) = ["/usr/bin/strace", "/bin/strace"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        return skip_optional(test, "no strace");
    };
    let Some(py) = python3_or_skip(test) else {
        return;
    };
    let env = Env::new();
    let port = free_port();
    let server = env.path("many.py");
    fs::write(
        &server,
        format!(
            "import socket, time\n\
             held = [socket.socket() for _ in range(1100)]\n\
             s = socket.socket()\n\
             s.bind(('127.0.0.1', {port}))\n\
             s.listen()\n\
             time.sleep(1000)\n"
        ),
    )
    .unwrap();
    let trace = env.path("trace");
    // Only `start` itself is traced (no -f): the daemon it leaves must not stay a tracee.
    let cmd = env.wrapped(&[
        "sh",
        "-c",
        "ulimit -S -n 1024 && exec \"$@\"",
        "sh",
        strace,
        "-qq",
        "-o",
        trace.to_str().unwrap(),
        "-e",
        "trace=pidfd_getfd",
    ]);
    let ready = format!("tcp:127.0.0.1:{port}");
    let run = env.run_cmd(
        cmd,
        &[
            "start",
            "--name",
            "many",
            "--cgroup",
            "off",
            "--limit",
            "nofile=4096",
            "--ready",
            &ready,
            "--",
            py.to_str().unwrap(),
            server.to_str().unwrap(),
        ],
    );
    let text = fs::read_to_string(&trace).unwrap_or_default();
    if run.code != 0 && !text.contains("pidfd_getfd(") {
        return skip_optional(test, &format!("strace cannot run here\n{}", run.dump()));
    }
    let run = run.ok();
    let copies = text.lines().filter(|l| l.contains("pidfd_getfd(")).count();
    let refused = text.lines().filter(|l| l.contains("EMFILE")).count();
    assert!(copies > 1000, "{copies} copies taken\n{}", run.dump());
    assert_eq!(refused, 0, "{refused} copies refused\n{}", run.dump());
    env.run(&["stop", "many"]).ok();
}
