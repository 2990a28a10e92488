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

/// A server that listens at once but answers nothing until it has slept `delay` seconds; then
/// it writes the file `answering` and answers each GET with the next code of `codes` (the last
/// one for ever), appending each code it sent to the file `answered`.
fn late_server(env: &Env, delay: &str, codes: &[u16]) -> PathBuf {
    let path = env.path("late.py");
    let codes: Vec<String> = codes.iter().map(u16::to_string).collect();
    fs::write(
        &path,
        format!(
            "import http.server, socket, sys, time\n\
             codes = [{codes}]\n\
             class H(http.server.BaseHTTPRequestHandler):\n\
             \x20   def do_GET(self):\n\
             \x20       code = codes.pop(0) if len(codes) > 1 else codes[0]\n\
             \x20       with open('answered', 'a') as f:\n\
             \x20           f.write(f'{{code}}\\n')\n\
             \x20       self.send_response(code)\n\
             \x20       self.send_header('Content-Length', '0')\n\
             \x20       self.end_headers()\n\
             \x20   def log_message(self, *args):\n\
             \x20       pass\n\
             server = http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H)\n\
             time.sleep({delay})\n\
             open('answering', 'w').close()\n\
             server.serve_forever()\n",
            codes = codes.join(", "),
        ),
    )
    .unwrap();
    path
}

/// `start NAME --ready http:` of the python HTTP server `server` on `port`, run in the test's
/// directory, where it writes its files.
fn start_http_server(env: &Env, name: &str, py: &Path, server: &Path, port: &str) -> Run {
    env.run(&[
        "start",
        "--name",
        name,
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
    ])
}

#[test]
fn http_a_listener_that_answers_late_is_ready_only_once_it_answers() {
    let Some(py) = python3_or_skip("http_late") else {
        return;
    };
    let env = Env::new();
    let port = free_port().to_string();
    let server = late_server(&env, "1.0", &[200]);
    start_http_server(&env, "late", &py, &server, &port)
        .ok()
        .stdout_has("started late (pid ");
    // The listener was there a second before: only the answer made the start return.
    assert!(env.path("answering").exists(), "ready before any answer");
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
    let server = late_server(&env, "0", &[500, 503, 200]);
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

/// Runs `rdaemon ARGS` under python, which then says on its stderr how many times rdaemon (with
/// the processes it reaped) gave up the CPU: one pause between two looks is one.
fn run_counting_switches(env: &Env, py: &Path, args: &[&str]) -> (Run, u64) {
    let mut cmd = std::process::Command::new(py);
    isolate(&mut cmd, env.dir())
        .current_dir(env.dir())
        .arg("-c")
        .arg(
            "import resource, subprocess, sys\n\
             done = subprocess.run(sys.argv[1:])\n\
             used = resource.getrusage(resource.RUSAGE_CHILDREN)\n\
             print(f'switches {used.ru_nvcsw}', file=sys.stderr)\n\
             sys.exit(done.returncode)\n",
        )
        .arg(assert_cmd::cargo::cargo_bin!("rdaemon"));
    let run = env.run_cmd(assert_cmd::Command::from_std(cmd), args);
    let switches = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("switches "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count of switches: {}", run.dump()));
    (run, switches)
}

/// `start NAME --ready tcp:PORT` (with `extra` options) of a program that listens on PORT after
/// two seconds, creating the file `listening` then: the start, checked to have returned only
/// after the listen, and how many pauses it took ([`run_counting_switches`]).
fn start_late_listener(env: &Env, py: &Path, name: &str, extra: &[&str]) -> (Run, u64) {
    let port = free_port();
    let listener = format!(
        "sleep 2; exec {} -c \"import socket, time\n\
         s = socket.socket()\n\
         s.bind(('127.0.0.1', {port}))\n\
         s.listen()\n\
         open('listening', 'w').close()\n\
         time.sleep(600)\"",
        py.display()
    );
    let ready = format!("tcp:{port}");
    let dir = env.dir().to_str().unwrap();
    let mut args = vec!["start", "--name", name, "--ready", &ready];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--ready-timeout", "60s", "--chdir", dir, "--"]);
    args.extend_from_slice(&["/bin/sh", "-c", &listener]);
    let (run, switches) = run_counting_switches(env, py, &args);
    let run = run.ok().stdout_has(&format!("started {name} (pid "));
    assert!(env.path("listening").exists(), "ready before the listen");
    assert!(alive(env.pid_of(name)));
    (run, switches)
}

/// A `tcp:` wait sleeps until the daemon binds its listener (issue 18, target 1): where the
/// kernel gives the daemon's TCP state changes (root, tracefs, a cgroup), a wait of two seconds
/// takes a look only every 20 ms, not every 2, and still returns once the program listens.
#[test]
fn a_tcp_wait_sleeps_until_the_daemon_listens() {
    let Some(py) = python3_or_skip("tcp_wait_sleeps") else {
        return;
    };
    let env = Env::new();
    let name = unique_name(&env, "ear");
    let (run, switches) = start_late_listener(&env, &py, &name, &[]);
    let events = is_root()
        && Path::new(TCP_STATE_TRACEPOINT).exists()
        && env.record(&name)["cgroup"].is_string();
    if events {
        // About 100 pauses of 20 ms and the start's own; looks every 2 ms would be 1000.
        assert!(
            switches < 400,
            "{switches} pauses in a wait of two seconds: {}",
            run.dump()
        );
    } else {
        skip(
            "tcp_wait_sleeps",
            &format!("no TCP state events here (root, tracefs, a cgroup); {switches} pauses"),
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
    let (run, _) = start_late_listener(&env, &py, "plain", &["--cgroup", "off"]);
    assert!(env.record("plain")["cgroup"].is_null(), "{}", run.dump());
}

/// An `http:` server that listens at once and answers 503 for a while is asked again only
/// after a growing pause: the end of each asking is a TCP state change of the daemon's, which
/// must not wake the next one at once.
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
        "import http.server, sys, time\n\
         began = time.monotonic()\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   def do_GET(self):\n\
         \x20       code = 503 if time.monotonic() - began < 1.5 else 200\n\
         \x20       with open('answered', 'a') as f:\n\
         \x20           f.write(f'{code}\\n')\n\
         \x20       self.send_response(code)\n\
         \x20       self.send_header('Content-Length', '0')\n\
         \x20       self.end_headers()\n\
         \x20   def log_message(self, *args):\n\
         \x20       pass\n\
         http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n",
    )
    .unwrap();
    start_http_server(&env, &name, &py, &server, &port)
        .ok()
        .stdout_has(&format!("started {name} (pid "));
    let answered = fs::read_to_string(env.path("answered")).unwrap();
    let codes: Vec<&str> = answered.lines().collect();
    assert_eq!(codes.last(), Some(&"200"), "{answered}");
    // Pauses of 50, 100, 200, 400 and 500 ms over 1.5 s: about six asks, not hundreds.
    assert!(codes.len() <= 20, "asked {} times: {answered}", codes.len());
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
