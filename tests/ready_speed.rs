//! The fast paths of `start --ready` (issue 18, target 1) stay truthful: `http:` counts only a
//! 2xx or 3xx answer however soon its listener is seen, and the spec that says "wanted running",
//! written ahead while the program gets ready, is put in place only when it is ready (and goes
//! when it never is).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::common::*;

/// What the spec file (not the status) says the user wants of `name`.
fn wanted(env: &Env, name: &str) -> String {
    let text = fs::read_to_string(env.path(&format!("{name}.json"))).unwrap();
    let spec: serde_json::Value = serde_json::from_str(&text).unwrap();
    spec["wanted"].as_str().unwrap_or_default().to_owned()
}

/// A server that listens at once and answers each GET with the next code of `codes` (the last
/// one for ever), appending each code it sent to the file `answered`. `held`, it holds the first
/// GET unanswered, with the file `asked` made, until the test makes the file `go`.
fn late_server(env: &Env, held: bool, codes: &[u16]) -> PathBuf {
    let path = env.path("late.py");
    let codes: Vec<String> = codes.iter().map(u16::to_string).collect();
    fs::write(
        &path,
        format!(
            "import http.server, os, sys, time\n\
             codes = [{codes}]\n\
             held = {held}\n\
             class H(http.server.BaseHTTPRequestHandler):\n\
             \x20   def do_GET(self):\n\
             \x20       if held:\n\
             \x20           open('asked', 'w').close()\n\
             \x20           while not os.path.exists('go'):\n\
             \x20               time.sleep(0.01)\n\
             \x20       code = codes.pop(0) if len(codes) > 1 else codes[0]\n\
             \x20       with open('answered', 'a') as f:\n\
             \x20           f.write(f'{{code}}\\n')\n\
             \x20       self.send_response(code)\n\
             \x20       self.send_header('Content-Length', '0')\n\
             \x20       self.end_headers()\n\
             \x20   def log_message(self, *args):\n\
             \x20       pass\n\
             server = http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H)\n\
             server.serve_forever()\n",
            codes = codes.join(", "),
            held = if held { "True" } else { "False" },
        ),
    )
    .unwrap();
    path
}

/// `start NAME --ready http:` of the python HTTP server `server` on `port`, run in the test's
/// directory, where it writes its files.
fn start_http_server(env: &Env, name: &str, py: &Path, server: &Path, port: &str) -> Run {
    let mut args = vec!["start".to_owned(), "--name".to_owned(), name.to_owned()];
    args.extend(http_server_args(env, py, server, port));
    env.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// [`start_http_server`]'s options and program after `--name NAME`.
fn http_server_args(env: &Env, py: &Path, server: &Path, port: &str) -> Vec<String> {
    [
        "--chdir",
        env.dir().to_str().unwrap(),
        "--ready",
        &format!("http:http://127.0.0.1:{port}/"),
        "--ready-timeout",
        "60s",
        "--",
        py.to_str().unwrap(),
        server.to_str().unwrap(),
        port,
    ]
    .map(str::to_owned)
    .to_vec()
}

/// [`start_http_server`] in the background, for [`wait_start_waits`].
fn start_http_in_background(
    env: &Env,
    name: &str,
    py: &Path,
    server: &Path,
    port: &str,
) -> Background {
    let args = http_server_args(env, py, server, port);
    start_in_background(
        env,
        name,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    )
}

/// The server takes the connection and the GET, and answers only once the test lets it go,
/// which it does once `start` has asked and waits on: a `start` that took the listener, or the
/// connection, for readiness has ended by then, however slow the machine.
#[test]
fn http_a_listener_that_answers_late_is_ready_only_once_it_answers() {
    let Some(py) = python3_or_skip("http_late") else {
        return;
    };
    let env = Env::new();
    let port = free_port().to_string();
    let server = late_server(&env, true, &[200]);
    let mut start = start_http_in_background(&env, "late", &py, &server, &port);
    wait_start_waits(&env, &mut start, "the answer", || {
        env.path("asked").exists()
    });
    assert!(!env.path("answered").exists());
    fs::write(env.path("go"), "").unwrap();
    let (code, stdout, stderr) = finish_start(&env, start);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("started late (pid "), "{stdout}");
    assert_eq!(fs::read_to_string(env.path("answered")).unwrap(), "200\n");
    assert_eq!(wanted(&env, "late"), "running");
    assert_eq!(temporaries(env.dir()), Vec::<String>::new());
}

#[test]
fn http_error_answers_before_the_200_do_not_count() {
    let Some(py) = python3_or_skip("http_errors_first") else {
        return;
    };
    let env = Env::new();
    let port = free_port().to_string();
    let server = late_server(&env, false, &[500, 503, 200]);
    start_http_server(&env, "warm", &py, &server, &port)
        .ok()
        .stdout_has("started warm (pid ");
    assert_eq!(
        fs::read_to_string(env.path("answered")).unwrap(),
        "500\n503\n200\n",
        "ready before the first 2xx, or asked again after it"
    );
    assert!(alive(env.pid_of("warm")));
}

#[test]
fn notify_ready_after_status_lines_puts_the_wanted_spec_in_place() {
    let Some(py) = python3_or_skip("notify_staged") else {
        return;
    };
    let env = Env::new();
    let notify = fixture("sd_notify.py");
    env.run(&[
        "start",
        "--name",
        "svc",
        "--ready",
        "notify",
        "--",
        py.to_str().unwrap(),
        notify.to_str().unwrap(),
        "STATUS=loading",
        "STATUS=warming up",
        "READY=1",
        "--",
        "sleep",
        "1000",
    ])
    .ok()
    .stdout_has("started svc (pid ");
    assert!(alive(env.pid_of("svc")));
    assert_eq!(wanted(&env, "svc"), "running");
    assert_eq!(env.record("svc")["status_text"], "warming up");
    assert_eq!(temporaries(env.dir()), Vec::<String>::new());
    // The spec in place is a whole one: `restart` runs the same command from it.
    env.run(&["restart", "svc"]).ok();
    assert_eq!(wanted(&env, "svc"), "running");
}

#[test]
fn a_start_never_ready_leaves_its_spec_stopped_and_nothing_staged() {
    let env = Env::new();
    let never = env.path("never");
    let run = env
        .run(&[
            "start",
            "--name",
            "slow",
            "--ready",
            &format!("file:{}", never.display()),
            "--ready-timeout",
            "300ms",
            "--",
            "sleep",
            "1000",
        ])
        .code(1);
    assert!(
        run.stderr.contains("it was not ready after 300ms"),
        "{}",
        run.dump()
    );
    let pid = recorded_pid(&env, "slow");
    wait_dead(pid);
    assert_eq!(wanted(&env, "slow"), "stopped");
    assert_eq!(temporaries(env.dir()), Vec::<String>::new());
    env.run(&["status", "slow"]).code(3);
}

#[test]
fn a_daemon_wanted_running_stays_wanted_running_when_a_restart_is_never_ready() {
    let env = Env::new();
    let ok = env.path("ok");
    fs::write(&ok, "").unwrap();
    let script = env.script(
        "flaky.sh",
        &format!(
            "test -e '{}' || exit 3\nexec sleep {}",
            ok.display(),
            unique_secs()
        ),
    );
    let script = script.to_str().unwrap();
    let start = [
        "start",
        "--name",
        "flaky",
        "--ready",
        "alive:200ms",
        "--",
        script,
    ];
    env.run(&start).ok().stdout_has("started flaky");
    let first = env.pid_of("flaky");
    env.track(first);
    assert_eq!(wanted(&env, "flaky"), "running");
    // The program now fails at once: the restart fails, and the daemon, which nobody stopped,
    // is dead (wanted running, not running), not stopped.
    fs::remove_file(&ok).unwrap();
    env.run(&["restart", "flaky"])
        .code(1)
        .stderr_has("exited with status 3");
    wait_dead(first);
    assert_eq!(wanted(&env, "flaky"), "running");
    env.run(&["status", "flaky"]).code(1).stdout_has("dead");
    // So `resurrect` tries it again, and it runs once it can.
    fs::write(&ok, "").unwrap();
    env.run(&["resurrect"]).ok().stdout_has("started flaky");
    let second = env.pid_of("flaky");
    env.track(second);
    assert!(alive(second));
    assert_eq!(wanted(&env, "flaky"), "running");
    // A start that fails for a daemon a user stopped leaves it stopped.
    env.run(&["stop", "flaky"]).ok();
    fs::remove_file(&ok).unwrap();
    env.run(&["start", "flaky"]).code(1);
    assert_eq!(wanted(&env, "flaky"), "stopped");
    env.run(&["status", "flaky"]).code(3);
}

/// A bad-input sweep: a start that failed after its program ran (never ready) left its own spec
/// in place of the one it replaced, so a wrong `--ready` given to `restart` stayed, and the next
/// plain `restart` failed too. The spec it replaced comes back, byte for byte.
#[test]
fn a_start_that_is_never_ready_gives_back_the_spec_it_replaced() {
    let env = Env::new();
    let secs = unique_secs();
    let pid = env.start("keep", &["sleep", &secs]);
    let spec = fs::read_to_string(env.path("keep.json")).unwrap();
    let never = env.path("never");
    let ready = format!("file:{}", never.display());
    env.run(&[
        "restart",
        "keep",
        "--ready",
        &ready,
        "--ready-timeout",
        "300ms",
    ])
    .code(1)
    .stderr_has("it was not ready after 300ms");
    wait_dead(pid);
    assert_eq!(fs::read_to_string(env.path("keep.json")).unwrap(), spec);
    assert_eq!(temporaries(env.dir()), Vec::<String>::new());
    // So a plain restart runs what worked.
    env.run(&["restart", "keep"])
        .ok()
        .stdout_has("started keep");
    let second = env.pid_of("keep");
    env.track(second);
    let spec = fs::read_to_string(env.path("keep.json")).unwrap();
    // A new command for a stopped daemon that exits before it is ready: the same.
    env.run(&["stop", "keep"]).ok();
    let stopped = fs::read_to_string(env.path("keep.json")).unwrap();
    assert_ne!(stopped, spec);
    env.run(&[
        "start", "--name", "keep", "--ready", "alive:1s", "--", "sleep", "0.2",
    ])
    .code(1)
    .stderr_has("exited with status 0");
    assert_eq!(fs::read_to_string(env.path("keep.json")).unwrap(), stopped);
}

/// The spec of a `start --ready` is written once, before the program runs, and already says
/// "wanted running": readiness seen, nothing is left to write but the status's, so the start
/// returns at once (a rename replacing a first spec cost 0.1-0.15 ms there, issue 18). The
/// same file, by its inode, is the spec during the wait and after.
#[test]
fn the_spec_of_a_start_with_ready_is_written_once_wanted_running() {
    let env = Env::new();
    let mark = env.path("up");
    let mut cmd = env.std_cmd();
    cmd.args(["start", "--name", "once", "--ready"])
        .arg(format!("file:{}", mark.display()))
        .args(["--ready-timeout", "60s", "--", "sleep", "1000"])
        .stdout(std::process::Stdio::piped());
    let mut start = Background::spawn(&mut cmd);
    let spec = env.path("once.json");
    // The pidfile comes after the spec: once it is there, the daemon is killed at the end
    // whatever happens.
    env.wait_file("once.pid");
    env.track(env.pid_of("once"));
    let during = fs::metadata(&spec).unwrap().ino();
    assert_eq!(wanted(&env, "once"), "running");
    assert!(
        start.child().try_wait().unwrap().is_none(),
        "returned before ready"
    );
    fs::write(&mark, "").unwrap();
    let out = start.into_output();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fs::metadata(&spec).unwrap().ino(), during);
    assert_eq!(wanted(&env, "once"), "running");
    assert_eq!(temporaries(env.dir()), Vec::<String>::new());
}

/// Where the kernel names the tracepoint rdaemon's `tcp:` and `http:` waits listen to.
const TCP_STATE_TRACEPOINT: &str = "/sys/kernel/tracing/events/sock/inet_sock_set_state/id";

/// `start NAME --ready tcp:PORT` (with `extra` options) in the background, of a program that
/// listens on PORT, creating the file `listening` just before (so that it is there once the
/// listener is: a start that returns for the listener finds it), only once the test makes the
/// file `go`; returned once `start` waits for it.
fn start_held_listener(env: &Env, py: &Path, name: &str, extra: &[&str]) -> Background {
    let port = free_port();
    let listener = format!(
        "{}; exec {} -c \"import socket, time\n\
         s = socket.socket()\n\
         s.bind(('127.0.0.1', {port}))\n\
         open('listening', 'w').close()\n\
         s.listen()\n\
         time.sleep(600)\"",
        until_go(&env.path("go")),
        py.display()
    );
    let ready = format!("tcp:{port}");
    let dir = env.dir().to_str().unwrap();
    let mut args = vec!["--ready", &ready];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--ready-timeout", "60s", "--chdir", dir, "--"]);
    args.extend_from_slice(&["/bin/sh", "-c", &listener]);
    let mut start = start_in_background(env, name, &args);
    wait_start_waits(env, &mut start, "the listener", || {
        env.path(&format!("{name}.pid")).exists()
    });
    start
}

/// Lets the program of [`start_held_listener`] listen, and checks that `start` returned only
/// after it did.
fn let_the_listener_go(env: &Env, name: &str, start: Background) {
    fs::write(env.path("go"), "").unwrap();
    let (code, stdout, stderr) = finish_start(env, start);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains(&format!("started {name} (pid ")),
        "{stdout}"
    );
    assert!(env.path("listening").exists(), "ready before the listen");
    assert!(alive(env.pid_of(name)));
}

/// A `tcp:` wait sleeps until the daemon binds its listener (issue 18, target 1): where the
/// kernel gives the daemon's TCP state changes (root, tracefs, a cgroup), a wait that has gone
/// on a while blocks for 20 ms between two looks, not 2, and still returns once the program
/// listens. A state, the timeout of the `poll` it blocks in, not a count over an interval.
#[test]
fn a_tcp_wait_sleeps_until_the_daemon_listens() {
    let Some(py) = python3_or_skip("tcp_wait_sleeps") else {
        return;
    };
    let env = Env::new();
    let name = unique_name(&env, "ear");
    let mut start = start_held_listener(&env, &py, &name, &[]);
    // The record names the cgroup only once `start` is done: during the wait, the program is
    // in a cgroup of its own, not the test's.
    let program = env.pid_of(&name);
    let own = |pid: &str| fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let events = is_root()
        && Path::new(TCP_STATE_TRACEPOINT).exists()
        && own(&program.to_string()) != own("self");
    if events {
        let pid = start.pid();
        // Looks every 2 ms block for at most 2; the pause with the events is 20 (19 and a
        // fraction once the look is done).
        let mut ended = false;
        wait_until("start blocks 20 ms between two looks", DEADLINE, || {
            ended = start.has_ended();
            ended || poll_timeout_ms(pid).is_some_and(|ms| (15..=25).contains(&ms))
        });
        assert!(!ended, "start ended before the program listened");
        let_the_listener_go(&env, &name, start);
    } else {
        let_the_listener_go(&env, &name, start);
        // tracefs is not mounted everywhere (a container's /sys): the wait then looks on
        // its own, as without a cgroup, and has been checked to return after the listen.
        skip_optional(
            "a_tcp_wait_sleeps_until_the_daemon_listens",
            "no TCP state events here (root, tracefs mounted, a cgroup)",
        );
    }
}

/// Without the daemon's cgroup there are no TCP state events to wake the wait: it looks on its
/// own, and returns once the program listens all the same (how often it looks is `bench/`'s).
#[test]
fn a_tcp_wait_without_a_cgroup_looks_until_the_daemon_listens() {
    let Some(py) = python3_or_skip("tcp_wait_no_cgroup") else {
        return;
    };
    let env = Env::new();
    let start = start_held_listener(&env, &py, "plain", &["--cgroup", "off"]);
    assert!(env.record("plain")["cgroup"].is_null());
    let_the_listener_go(&env, "plain", start);
}

/// An `http:` server that listens at once and answers 503 for a while is asked again only
/// after a pause: the end of each asking is a TCP state change of the daemon's, which must not
/// wake the next one at once. The server notes when each ask came (its monotonic clock) and
/// answers 503 until the test lets it go, after four asks. A lower bound on the gaps: a slow
/// machine only makes them longer.
#[test]
fn an_http_server_answering_503_is_not_asked_at_every_state_change() {
    let Some(py) = python3_or_skip("http_503_paced") else {
        return;
    };
    let env = Env::new();
    let name = unique_name(&env, "busy");
    let port = free_port().to_string();
    let server = env.path("warming.py");
    fs::write(
        &server,
        "import http.server, os, sys, time\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   def do_GET(self):\n\
         \x20       now = time.monotonic()\n\
         \x20       code = 200 if os.path.exists('go') else 503\n\
         \x20       with open('answered', 'a') as f:\n\
         \x20           f.write(f'{code} {now}\\n')\n\
         \x20       self.send_response(code)\n\
         \x20       self.send_header('Content-Length', '0')\n\
         \x20       self.end_headers()\n\
         \x20   def log_message(self, *args):\n\
         \x20       pass\n\
         http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n",
    )
    .unwrap();
    let mut start = start_http_in_background(&env, &name, &py, &server, &port);
    let answered = env.path("answered");
    wait_start_waits(&env, &mut start, "a 200", || {
        fs::read_to_string(&answered).is_ok_and(|text| text.lines().count() >= 4)
    });
    fs::write(env.path("go"), "").unwrap();
    let (code, stdout, stderr) = finish_start(&env, start);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains(&format!("started {name} (pid ")),
        "{stdout}"
    );
    let text = fs::read_to_string(&answered).unwrap();
    let asks: Vec<(&str, f64)> = text
        .lines()
        .map(|l| {
            let (code, at) = l.split_once(' ').unwrap();
            (code, at.parse().unwrap())
        })
        .collect();
    assert_eq!(asks.last().map(|a| a.0), Some("200"), "{text}");
    // The first pause after an answer is 50 ms, and it only grows.
    for pair in asks.windows(2) {
        let gap = pair[1].1 - pair[0].1;
        assert!(gap >= 0.045, "asked again {gap:.4} s after a 503:\n{text}");
    }
}

/// A listener the daemon's TCP state changes cannot show is still found by the looks between
/// them: here one made and put in the listening state by the test, in its own cgroup, then
/// handed to the daemon (SCM_RIGHTS), as a service manager's socket activation hands one over.
/// It counts once the daemon holds it: a listener of another process is never asked
/// (`ready_kinds::http_readiness_counts_only_the_daemons_own_listener`).
#[test]
fn an_http_listener_outside_the_daemons_cgroup_is_found_by_looking() {
    use std::os::fd::AsRawFd;
    let Some(py) = python3_or_skip("http_handed_listener") else {
        return;
    };
    let env = Env::new();
    let name = unique_name(&env, "proxied");
    let port = free_port();
    // Takes the listening socket over the unix socket ARGV[1] and serves 200 on it.
    let server = env.path("handed.py");
    fs::write(
        &server,
        "import http.server, socket, sys\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   def do_GET(self):\n\
         \x20       self.send_response(200); self.end_headers()\n\
         unix = socket.socket(socket.AF_UNIX); unix.connect(sys.argv[1])\n\
         _, fds, _, _ = socket.recv_fds(unix, 1, 1)\n\
         server = http.server.HTTPServer(('127.0.0.1', 0), H, bind_and_activate=False)\n\
         server.socket.close(); server.socket = socket.socket(fileno=fds[0])\n\
         server.serve_forever()\n",
    )
    .unwrap();
    let handoff_path = env.path("handoff");
    let handoff = std::os::unix::net::UnixListener::bind(&handoff_path).unwrap();
    handoff.set_nonblocking(true).unwrap();
    let mut start = env.std_cmd();
    start
        .args([
            "start",
            "--name",
            &name,
            "--ready",
            &format!("http:http://127.0.0.1:{port}/"),
            "--ready-timeout",
            "60s",
            "--",
        ])
        .arg(&py)
        .arg(&server)
        .arg(&handoff_path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut start = Background::spawn(&mut start);
    let mut conn = None;
    wait_until("the daemon asks for its socket", DEADLINE, || {
        assert!(start.child().try_wait().unwrap().is_none(), "start ended");
        conn = handoff.accept().ok().map(|(c, _)| c);
        conn.is_some()
    });
    env.track(env.pid_of(&name));
    let conn = conn.unwrap();
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    nix::sys::socket::sendmsg::<()>(
        conn.as_raw_fd(),
        &[std::io::IoSlice::new(b"L")],
        &[nix::sys::socket::ControlMessage::ScmRights(&[
            listener.as_raw_fd()
        ])],
        nix::sys::socket::MsgFlags::empty(),
        None,
    )
    .unwrap();
    // The daemon's copy is the only one left.
    drop(listener);
    drop(conn);
    let out = start.into_output();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("started {name} (pid ")));
    assert!(alive(env.pid_of(&name)));
}
