//! Verbs over several daemons (SPEC v2 §1, §5): names, globs and `--all` for status, stop,
//! forget; `signal`, `reload`, `wait`; `logs` of several daemons interleaved and prefixed.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid as NixPid;

use crate::common::*;

/// A daemon that notes each USR1 and HUP it gets (in `PREFIX.usr1`, `PREFIX.hup`, and a line
/// `got usr1 TAG` in its log), runs a `sleep` in its own process group, says `hello TAG`, and
/// writes `SHELLPID SLEEPPID` to `PREFIX.ready` once its traps are set. It ends when its sleep
/// ends (a signal to the whole group kills the sleep).
fn trapper(env: &Env, tag: &str) -> Vec<String> {
    let script = env.script(
        "trapper.sh",
        r#"trap 'echo "usr1 $2" >> "$1.usr1"; echo "got usr1 $2"' USR1
trap 'echo "hup $2" >> "$1.hup"' HUP
sleep 1000 & s=$!
echo "$$ $s" > "$1.ready.tmp" && mv "$1.ready.tmp" "$1.ready"
echo "hello $2"
while kill -0 $s 2>/dev/null; do wait $s; done"#,
    );
    vec![
        script.display().to_string(),
        env.path(tag).display().to_string(),
        tag.to_owned(),
    ]
}

/// Starts [`trapper`] as daemon `name` (extra start options before `--`) and returns the pids
/// of its shell and its sleep once its traps are set.
fn start_trapper(env: &Env, name: &str, options: &[&str]) -> (i32, i32) {
    let argv = trapper(env, name);
    let mut args = vec!["start", "--name", name];
    args.extend_from_slice(options);
    args.push("--");
    args.extend(argv.iter().map(String::as_str));
    env.run(&args).ok();
    let ready = env.wait_file(&format!("{name}.ready"));
    let text = std::fs::read_to_string(ready).unwrap();
    let mut pids = text.split_whitespace().map(|p| p.parse::<i32>().unwrap());
    let (shell, sleep) = (pids.next().unwrap(), pids.next().unwrap());
    env.track(shell);
    (shell, sleep)
}

fn lines_of(env: &Env, file: &str) -> usize {
    std::fs::read_to_string(env.path(file))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// Four `web-*` daemons in every state, and a `db` that runs.
fn mixed(env: &Env) -> [i32; 3] {
    let web1 = env.start("web-1", &["sleep", &unique_secs()]);
    let web2 = env.start("web-2", &["sleep", &unique_secs()]);
    let web3 = env.start("web-3", &["sleep", &unique_secs()]);
    env.run(&["stop", "web-3"]).ok();
    wait_dead(web3);
    let web4 = env.start("web-4", &["sleep", &unique_secs()]);
    kill(NixPid::from_raw(web4), Signal::SIGKILL).unwrap();
    wait_dead(web4);
    let db = env.start("db", &["sleep", &unique_secs()]);
    [web1, web2, db]
}

#[test]
fn globs_and_all_over_mixed_states() {
    let env = Env::new();
    let [web1, web2, db] = mixed(&env);
    // status: the list table; exit 3 since not all run (SPEC §5), a dead one among them too.
    let run = env.run(&["status", "web-*"]).code(3);
    for row in [
        "web-1  running",
        "web-2  running",
        "web-3  stopped",
        "web-4  dead",
    ] {
        assert!(run.stdout.contains(row), "{row}\n{}", run.dump());
    }
    assert!(run.stdout.starts_with("NAME "), "{}", run.dump());
    assert!(!run.stdout.contains("db "), "{}", run.dump());
    env.run(&["status", "web-1", "web-2"])
        .ok()
        .stdout_has("web-2  running");
    env.run(&["status", "web-[12]", "db"]).ok();
    env.run(&["status", "web-1", "web-3"]).code(3);
    env.run(&["status", "--all"])
        .code(3)
        .stdout_has("db     running");
    env.run(&["status", "web-?", "--json"])
        .code(3)
        .stdout_has("\"name\": \"web-4\"");
    // A glob that matches nothing is an unknown name: status 3, stop 0, both saying so.
    env.run(&["status", "nothing-*"])
        .code(3)
        .stderr_has("rdaemon: no daemon named 'nothing-*'");
    env.run(&["stop", "nothing-*"])
        .ok()
        .stderr_has("rdaemon: no daemon named 'nothing-*'");
    // A glob is never a path.
    env.run(&["stop", "../*"])
        .code(2)
        .stderr_has("invalid name pattern '../*'");

    let run = env.run(&["stop", "web-*"]).ok();
    for line in [
        format!("stopped web-1 (pid {web1})"),
        format!("stopped web-2 (pid {web2})"),
        "web-3 is not running".to_owned(),
        "web-4 is not running".to_owned(),
    ] {
        assert!(run.stdout.contains(&line), "{line}\n{}", run.dump());
    }
    wait_dead(web1);
    wait_dead(web2);
    assert_left_alone(db, "stop web-* (db is not matched)");
    assert!(
        !env.path("web-4.pid").exists(),
        "the stale pidfile is removed"
    );

    // forget: a glob over stopped daemons, then --all keeping the one that runs.
    env.run(&["forget", "web-*"])
        .ok()
        .stdout_has("forgot web-1\nforgot web-2\nforgot web-3\nforgot web-4\n");
    for n in 1..=4 {
        assert!(!env.path(&format!("web-{n}.json")).exists());
    }
    env.run(&["forget", "--all"])
        .ok()
        .stdout_has(&format!("db is running (pid {db}): kept"));
    env.run(&["forget", "d*"])
        .code(1)
        .stderr_has(&format!("rdaemon: db is running (pid {db}): stop it first"));
    assert!(env.path("db.json").exists());
    assert_left_alone(db, "a refused forget");
    env.run(&["forget", "nothing-*"])
        .code(1)
        .stderr_has("no daemon named 'nothing-*'");
    env.run(&["stop", "--all"])
        .ok()
        .stdout_has(&format!("stopped db (pid {db})"));
    wait_dead(db);
}

#[test]
fn stop_of_several_names_stops_each_and_exits_with_the_worst() {
    let env = Env::new();
    let a = env.start("a", &["sleep", &unique_secs()]);
    let b = env.start("b", &["sleep", &unique_secs()]);
    env.run(&["stop", "a", "b"])
        .ok()
        .stdout_has(&format!("stopped a (pid {a})\nstopped b (pid {b})\n"));
    wait_dead(a);
    wait_dead(b);
    // A daemon that refuses to stop makes the whole command fail, the others still stopped.
    let stubborn = env.start_stubborn("stubborn");
    let c = env.start("c", &["sleep", &unique_secs()]);
    env.run(&["stop", "stubborn", "c", "--timeout", "100ms", "--no-kill"])
        .code(1)
        .stderr_has(&format!("stubborn (pid {stubborn}) is still running"))
        .stdout_has(&format!("stopped c (pid {c})"));
    wait_dead(c);
    assert_left_alone(stubborn, "a stop with --no-kill whose SIGTERM it ignores");
    // --pidfile names one daemon.
    env.run(&["stop", "a", "b", "--pidfile", "/tmp/x.pid"])
        .code(2)
        .stderr_has("--pidfile names one daemon");
    // A new command line cannot fit several daemons.
    env.run(&["restart", "a", "b", "--", "sleep", "1"])
        .code(2)
        .stderr_has("fits one daemon");
}

#[test]
fn signal_reaches_the_main_program_only() {
    let env = Env::new();
    let (shell, sleep) = start_trapper(&env, "t", &[]);
    env.run(&["signal", "usr1", "t"])
        .ok()
        .stdout_has(&format!("sent SIGUSR1 to t (pid {shell})"));
    // Its line, not only the file: the trap's `>>` creates the file before it writes.
    wait_until("the USR1 is noted", DEADLINE, || {
        lines_of(&env, "t.usr1") == 1
    });
    // The shell caught it (its trap wrote the file), so it lives on; the sleep would die of it.
    assert!(alive(shell));
    assert_left_alone(sleep, "a USR1 for the main program only");
    // By number too.
    env.run(&["signal", "10", "t"]).ok();
    wait_until("the second USR1 is noted", DEADLINE, || {
        lines_of(&env, "t.usr1") == 2
    });
    // --group: every process of the group, the sleep too (USR1 kills it, and the shell ends).
    env.run(&["signal", "--group", "SIGUSR1", "t"])
        .ok()
        .stdout_has(&format!("sent SIGUSR1 to t (process group {shell})"));
    wait_dead(sleep);
    wait_until("the third USR1 is noted", DEADLINE, || {
        lines_of(&env, "t.usr1") == 3
    });
    wait_dead(shell);
    // Not running: exit 7, LSB's "program is not running".
    env.run(&["signal", "USR1", "t"])
        .code(7)
        .stdout_has("t is not running");
    env.run(&["signal", "NOPE", "t"])
        .code(2)
        .stderr_has("invalid signal 'NOPE'");
    // `kill -0`'s "does it run?" is status's question: the error says so, nothing is sent.
    env.run(&["signal", "0", "t"])
        .code(2)
        .stderr_has("invalid signal '0': signal 0 sends nothing; 'rdaemon status NAME'");
}

#[test]
fn signal_of_a_respawn_daemon_reaches_its_child_not_the_monitor() {
    let env = Env::new();
    let (child, _sleep) = start_trapper(&env, "r", &["--respawn"]);
    let monitor = env.pid_of("r");
    assert_ne!(monitor, child);
    assert_eq!(env.record("r")["child_pid"], child);
    env.run(&["signal", "USR1", "r"])
        .ok()
        .stdout_has(&format!("sent SIGUSR1 to r (pid {child})"));
    env.wait_file("r.usr1");
    // A second signal round trip: had the monitor got the first one too, it would have
    // forwarded it, and the file would hold three lines by the time the second is noted.
    env.run(&["signal", "HUP", "r"]).ok();
    env.wait_file("r.hup");
    assert_eq!(lines_of(&env, "r.usr1"), 1, "the child got USR1 once");
    // The child caught both (its traps wrote the files); the monitor, back at rest in its poll,
    // was not ended by either.
    assert!(alive(child));
    wait_monitor_at_rest(&env, "r", monitor);
    assert_eq!(env.pid_of("r"), monitor);
    assert_eq!(env.record("r")["restarts"], 0);
    // --group: the program and its sleep, not the monitor (which would forward it again).
    env.run(&["signal", "--group", "USR1", "r"])
        .ok()
        .stdout_has("sent SIGUSR1 to r (2 processes)");
    wait_until("the group's USR1 is noted", DEADLINE, || {
        lines_of(&env, "r.usr1") == 2
    });
    wait_monitor_at_rest(&env, "r", monitor);
    assert_eq!(env.pid_of("r"), monitor);
    env.run(&["stop", "r"]).ok();
    wait_dead(monitor);
    wait_dead(child);
}

#[test]
fn reload_sends_hup_and_exits_7_when_not_running() {
    let env = Env::new();
    let (shell, _) = start_trapper(&env, "web", &[]);
    let other = env.start("other", &["sleep", &unique_secs()]);
    env.run(&["stop", "other"]).ok();
    wait_dead(other);
    env.run(&["reload", "web"])
        .ok()
        .stdout_has(&format!("sent SIGHUP to web (pid {shell})"));
    env.wait_file("web.hup");
    // It caught the HUP (its trap wrote the file), so it lives on.
    assert!(alive(shell));
    env.run(&["reload", "other"])
        .code(7)
        .stdout_has("other is not running");
    // Several: the worst code, each said.
    env.run(&["reload", "web", "other"])
        .code(7)
        .stdout_has("sent SIGHUP to web");
    wait_until("the second HUP is noted", DEADLINE, || {
        lines_of(&env, "web.hup") == 2
    });
    env.run(&["reload", "ghost"])
        .code(7)
        .stderr_has("no daemon named 'ghost'");
}

/// A program that neither catches, ignores nor blocks the reload signal would die of it
/// (`sleep`, python's `http.server`): `reload` refuses, sends nothing, and says what to do;
/// `signal` sends what it is told. One that ignores it gets it.
#[test]
fn reload_refuses_to_end_a_program_that_does_not_handle_its_signal() {
    let env = Env::new();
    let plain = env.start("plain", &["sleep", &unique_secs()]);
    env.run(&["reload", "plain"])
        .code(1)
        .one_error_line()
        .stderr_has(&format!(
            "rdaemon: not reloading plain: its program (pid {plain}) does not handle SIGHUP, which would end it; `rdaemon restart plain` restarts it, `rdaemon signal HUP plain` sends it anyway"
        ));
    assert_left_alone(plain, "a refused reload");
    // In respawn mode the program is the monitor's child: it is the one looked at.
    env.run(&[
        "start",
        "--respawn",
        "--name",
        "kept",
        "--",
        "sleep",
        &unique_secs(),
    ])
    .ok();
    let monitor = env.pid_of("kept");
    env.track(monitor);
    let child = env.record("kept")["child_pid"].as_i64().unwrap() as i32;
    env.track(child);
    env.run(&["reload", "kept"])
        .code(1)
        .stderr_has(&format!("its program (pid {child}) does not handle SIGHUP"));
    assert_left_alone(child, "a refused reload");
    assert_eq!(env.record("kept")["restarts"], 0);
    // Ignored (SigIgn, inherited across the exec): sent, and it lives on.
    let ignoring = env.start(
        "ignoring",
        &[
            "sh",
            "-c",
            &format!("trap '' HUP; exec sleep {}", unique_secs()),
        ],
    );
    wait_until("the program ignores HUP", DEADLINE, || {
        u64::from_str_radix(&status_field(ignoring, "SigIgn"), 16).is_ok_and(|m| m & 1 != 0)
            && std::fs::read_to_string(format!("/proc/{ignoring}/comm"))
                .is_ok_and(|c| c == "sleep\n")
    });
    env.run(&["reload", "ignoring"])
        .ok()
        .stdout_has(&format!("sent SIGHUP to ignoring (pid {ignoring})"));
    assert_left_alone(ignoring, "a SIGHUP it ignores");
    // signal sends what it is told.
    env.run(&["signal", "HUP", "plain"]).ok();
    wait_dead(plain);
    // A pidfile no record describes (another tool's): there is no command line to restart
    // with, and the way to send it anyway names the pidfile.
    let elsewhere = tempfile::tempdir().unwrap();
    let pidfile = elsewhere.path().join("tool.pid");
    let mut tool = std::process::Command::new("sleep")
        .arg(unique_secs())
        .spawn()
        .unwrap();
    env.track(tool.id() as i32);
    std::fs::write(&pidfile, format!("{}\n", tool.id())).unwrap();
    env.run(&["reload", "--pidfile", pidfile.to_str().unwrap()])
        .code(1)
        .one_error_line()
        .stderr_has(&format!(
            "does not handle SIGHUP, which would end it; `rdaemon signal HUP --pidfile {}` sends it anyway",
            pidfile.display()
        ));
    assert_left_alone(tool.id() as i32, "a refused reload --pidfile");
    tool.kill().unwrap();
    tool.wait().unwrap();
}

#[test]
fn wait_returns_when_the_daemon_exits_and_fails_at_the_timeout() {
    let env = Env::new();
    let a = env.start("a", &["sleep", &unique_secs()]);
    let b = env.start("b", &["sleep", &unique_secs()]);
    env.run(&["wait", "a", "--timeout", "200ms"])
        .code(1)
        .stderr_has("still running: a");
    assert_left_alone(a, "a wait that timed out");
    let mut waiter = env
        .std_cmd()
        .args(["wait", "a", "b"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let waiter_pid = waiter.id() as i32;
    env.track(waiter_pid);
    // It waits while they run, on a pidfd for each (the kernel shows which pid a pidfd pins).
    wait_until("wait holds a pidfd for a and b", DEADLINE, || {
        holds_pidfd(waiter_pid, a) && holds_pidfd(waiter_pid, b)
    });
    assert!(waiter.try_wait().unwrap().is_none());
    kill(NixPid::from_raw(a), Signal::SIGKILL).unwrap();
    kill(NixPid::from_raw(b), Signal::SIGTERM).unwrap();
    let out = output_within_deadline(waiter);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    // How each ended: from the zombie, or from the pidfd once init has reaped it (Linux
    // 6.15); before 6.15 a daemon reaped at once ends without a status.
    for (name, pid, how) in [
        ("a", a, "killed by signal 9 (SIGKILL)"),
        ("b", b, "killed by signal 15 (SIGTERM)"),
    ] {
        let exited = format!("{name} has exited (pid {pid})");
        let told = stdout.contains(&format!("{exited}: {how}\n"));
        assert!(
            told || (!kernel_keeps_exit_status() && stdout.contains(&format!("{exited}\n"))),
            "{stdout}"
        );
    }
    // Not running counts as done.
    env.run(&["wait", "a"]).ok().stdout_has("a is not running");
}

#[test]
fn logs_of_several_daemons_are_prefixed_without_color_in_a_pipe() {
    let env = Env::new();
    start_trapper(&env, "a", &[]);
    start_trapper(&env, "bbb", &[]);
    for (name, line) in [("a", "hello a"), ("bbb", "hello bbb")] {
        let log = env.path(&format!("{name}.log"));
        wait_until(&format!("{name} said hello"), DEADLINE, || {
            std::fs::read_to_string(&log).is_ok_and(|t| t.contains(line))
        });
    }
    let run = env.run(&["logs", "a", "bbb"]).ok();
    assert!(run.stdout.contains("a   | hello a\n"), "{}", run.dump());
    assert!(run.stdout.contains("bbb | hello bbb\n"), "{}", run.dump());
    assert!(
        !run.stdout.contains('\x1b'),
        "no color in a pipe\n{}",
        run.dump()
    );
    env.run(&["logs", "--all", "-n", "1"])
        .ok()
        .stdout_has("a   | hello a\n");
    // One daemon: today's output, unprefixed.
    env.run(&["logs", "a"]).ok().stdout_has("hello a\n");

    // -f: what each appends, interleaved as it arrives.
    let mut follower = env
        .std_cmd()
        .args(["logs", "-f", "a", "bbb"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let follower_pid = follower.id() as i32;
    env.track(follower_pid);
    let stdout = follower.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let expect = |want: &str, seen: &mut Vec<String>| {
        while !seen.iter().any(|l| l == want) {
            let line = rx
                .recv_timeout(DEADLINE)
                .unwrap_or_else(|_| panic!("no line '{want}' in {seen:?}"));
            seen.push(line);
        }
    };
    // The tails come first: then following has begun (the files are open).
    expect("a   | hello a", &mut seen);
    expect("bbb | hello bbb", &mut seen);
    env.run(&["signal", "USR1", "bbb"]).ok();
    expect("bbb | got usr1 bbb", &mut seen);
    env.run(&["signal", "USR1", "a"]).ok();
    expect("a   | got usr1 a", &mut seen);
    assert!(seen.iter().all(|l| !l.contains('\x1b')), "{seen:?}");
    kill(NixPid::from_raw(follower_pid), Signal::SIGKILL).unwrap();
    let _ = follower.wait();
}

/// Lines that carry the monitor's times (`--log-timestamps`) are shown in the order of those
/// times across several logs, as far as the tails go; a log without times is shown whole
/// after the one before it, since nothing says where its lines belong.
#[test]
fn logs_of_several_daemons_with_times_are_shown_in_time_order() {
    let env = Env::new();
    let secs = unique_secs();
    let script = format!("echo x-now; exec sleep {secs}");
    let stamped = ["start", "--respawn", "--log-timestamps", "--name", "x"];
    env.run(&[&stamped[..], &["--", "sh", "-c", &script]].concat())
        .ok();
    wait_until("x's line is in its log", DEADLINE, || {
        std::fs::read_to_string(env.path("x.log")).is_ok_and(|t| t.contains(" x-now\n"))
    });
    // y and z are silent; their logs are written here, y's with times around x's line.
    for name in ["y", "z"] {
        env.run(&["start", "--name", name, "--", "sleep", &secs])
            .ok();
    }
    let y = "2000-01-01T00:00:00.000Z y-early\nrdaemon: a note\n2999-01-01T00:00:00.000Z y-late\n";
    std::fs::write(env.path("y.log"), y).unwrap();
    std::fs::write(env.path("z.log"), "z-plain\n").unwrap();
    let lines = |run: &Run| -> Vec<String> {
        run.stdout
            .lines()
            .map(|l| {
                // Each line's name and text, without x's time, which is now's.
                let (name, text) = l.split_once(" | ").unwrap();
                let text = text
                    .split_once("Z x-")
                    .map_or(text.to_owned(), |(_, t)| format!("x-{t}"));
                format!("{name}: {text}")
            })
            .collect()
    };
    let run = env.run(&["logs", "y", "x"]).ok();
    assert_eq!(
        lines(&run),
        [
            "y: 2000-01-01T00:00:00.000Z y-early",
            "y: rdaemon: a note",
            "x: x-now",
            "y: 2999-01-01T00:00:00.000Z y-late",
        ],
        "{}",
        run.dump()
    );
    // With z, whose log has no times: one log after the other, in the order named.
    let run = env.run(&["logs", "y", "x", "z"]).ok();
    assert_eq!(
        lines(&run),
        [
            "y: 2000-01-01T00:00:00.000Z y-early",
            "y: rdaemon: a note",
            "y: 2999-01-01T00:00:00.000Z y-late",
            "x: x-now",
            "z: z-plain",
        ],
        "{}",
        run.dump()
    );
    env.run(&["stop", "x", "y", "z"]).ok();
}

/// The tails held to be ordered by time are bounded (helper-135's review): a log whose tail
/// alone is 16 MiB (a sparse file its daemon's user made, then one stamped line) is shown as
/// it is read, and the next log after it, in the order named, whatever their times.
#[test]
fn logs_of_several_daemons_hold_a_bounded_tail_to_order_them() {
    let env = Env::new();
    let secs = unique_secs();
    for name in ["big", "small"] {
        env.run(&["start", "--name", name, "--", "sleep", &secs])
            .ok();
    }
    let big = std::fs::File::create(env.path("big.log")).unwrap();
    big.set_len(16 * 1024 * 1024).unwrap();
    drop(big);
    let mut big = std::fs::OpenOptions::new()
        .append(true)
        .open(env.path("big.log"))
        .unwrap();
    std::io::Write::write_all(&mut big, b"\n2999-01-01T00:00:00.000Z big-late\n").unwrap();
    std::fs::write(
        env.path("small.log"),
        "2000-01-01T00:00:00.000Z small-early\n",
    )
    .unwrap();
    let run = env.run(&["logs", "-n", "300", "big", "small"]).ok();
    let lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains("-late") || l.contains("-early"))
        .collect();
    assert_eq!(
        lines,
        [
            "big   | 2999-01-01T00:00:00.000Z big-late",
            "small | 2000-01-01T00:00:00.000Z small-early"
        ]
    );
    // Small enough, they are ordered by time.
    let run = env.run(&["logs", "-n", "1", "big", "small"]).ok();
    assert_eq!(
        run.stdout,
        "small | 2000-01-01T00:00:00.000Z small-early\nbig   | 2999-01-01T00:00:00.000Z big-late\n"
    );
    env.run(&["stop", "big", "small"]).ok();
}

#[test]
fn logs_of_several_daemons_are_colored_on_a_terminal_unless_no_color() {
    let env = Env::new();
    start_trapper(&env, "a", &[]);
    start_trapper(&env, "bbb", &[]);
    for (name, line) in [("a", "hello a"), ("bbb", "hello bbb")] {
        let log = env.path(&format!("{name}.log"));
        wait_until(&format!("{name} said hello"), DEADLINE, || {
            std::fs::read_to_string(&log).is_ok_and(|t| t.contains(line))
        });
    }
    let Some((code, out)) = crate::terminal::on_a_terminal(&env, &["logs", "a", "bbb"], &[]) else {
        return skip("logs_colored", "util-linux 'script' is not installed");
    };
    assert_eq!(code, 0, "{out:?}");
    // One color per name, the prefix reset before the line.
    assert!(out.contains("\x1b[36ma   |\x1b[0m hello a"), "{out:?}");
    assert!(out.contains("\x1b[33mbbb |\x1b[0m hello bbb"), "{out:?}");
    let (code, out) =
        crate::terminal::on_a_terminal(&env, &["logs", "a", "bbb"], &[("NO_COLOR", "1")]).unwrap();
    assert_eq!(code, 0, "{out:?}");
    assert!(!out.contains('\x1b'), "{out:?}");
    assert!(out.contains("a   | hello a"), "{out:?}");
}

/// An rdaemon command of `env` run as `user` (its uid and gid), from `/`.
fn as_user(env: &Env, user: &nix::unistd::User) -> assert_cmd::Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = env.std_cmd();
    cmd.uid(user.uid.as_raw())
        .gid(user.gid.as_raw())
        .current_dir("/");
    assert_cmd::Command::from_std(cmd)
}

#[test]
fn signal_that_the_kernel_refuses_exits_4() {
    if !is_root() {
        return skip(
            "signal_that_the_kernel_refuses_exits_4",
            "needs root to signal root's daemon as another user",
        );
    }
    let Some(nobody) = nobody() else {
        return skip("signal_that_the_kernel_refuses_exits_4", "no 'nobody' user");
    };
    let env = Env::new();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(env.dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let pid = env.start("roots", &["sleep", &unique_secs()]);
    let as_nobody = || as_user(&env, &nobody);
    // The record is root's and private (0600): another user cannot even judge the daemon.
    env.run_cmd(as_nobody(), &["signal", "USR1", "roots"])
        .code(4)
        .stderr_has("Permission denied")
        .stderr_has("is root's (use sudo)");
    env.run_cmd(as_nobody(), &["reload", "roots"]).code(4);
    // With the record made readable, the kernel itself refuses the signal.
    std::fs::set_permissions(
        env.dir().join("roots.json"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    env.run_cmd(as_nobody(), &["signal", "USR1", "roots"])
        .code(4)
        .stderr_has(&format!(
            "rdaemon: cannot signal roots (pid {pid}): Operation not permitted"
        ));
    assert_left_alone(pid, "a signal the kernel refused");
}

#[test]
fn restart_of_a_glob_restarts_each_one_after_the_other() {
    let env = Env::new();
    let old1 = env.start("job-1", &["sleep", &unique_secs()]);
    let old2 = env.start("job-2", &["sleep", &unique_secs()]);
    let other = env.start("other", &["sleep", &unique_secs()]);
    let run = env.run(&["restart", "job-*"]).ok();
    wait_dead(old1);
    wait_dead(old2);
    let (new1, new2) = (env.pid_of("job-1"), env.pid_of("job-2"));
    assert!(new1 != old1 && new2 != old2, "{}", run.dump());
    assert!(alive(new1) && alive(new2));
    assert_left_alone(other, "restart job-*");
    assert!(
        run.stdout.contains(&format!("stopped job-1 (pid {old1})"))
            && run.stdout.contains(&format!("started job-2 (pid {new2})")),
        "{}",
        run.dump()
    );
    assert_eq!(env.pid_of("other"), other);
}

/// `wait` says the exit status of a daemon that is not its child: here kept a zombie by a
/// subreaper that never reaps it, so the status comes from `/proc/PID/stat`, whatever the
/// kernel's version.
#[test]
fn wait_says_the_exit_status_of_a_daemon_it_did_not_start() {
    const TEST: &str = "wait_says_the_exit_status_of_a_daemon_it_did_not_start";
    let Some(python) = python3_or_skip(TEST) else {
        return;
    };
    let env = Env::new();
    let fifo = env.path("go");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let script = format!("read x < '{}'; exit 3", fifo.display());
    let rdaemon = env.std_cmd();
    let mut cmd = std::process::Command::new(python);
    cmd.arg(fixture("subreaper.py"))
        .arg(env.path("start.code"))
        .arg(rdaemon.get_program())
        .args(["start", "--name", "job", "--", "sh", "-c", &script])
        .current_dir(env.dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    with_env_of(&mut cmd, &rdaemon);
    // Declared after `env`: killed and reaped first, its zombie going to init.
    let reaper = Background::spawn(&mut cmd);
    let code = env.wait_file("start.code");
    assert_eq!(std::fs::read_to_string(code).unwrap(), "0\n");
    let pid = env.pid_of("job");
    env.track(pid);
    assert_eq!(stat(pid).map(|s| s.ppid), Some(reaper.pid()));
    let waiter = env
        .std_cmd()
        .args(["wait", "job"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    env.track(waiter.id() as i32);
    wait_until("wait holds a pidfd for the job", DEADLINE, || {
        holds_pidfd(waiter.id() as i32, pid)
    });
    // The job reads one line and exits 3.
    std::fs::write(&fifo, "go\n").unwrap();
    let out = output_within_deadline(waiter);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(
        stdout,
        format!("job has exited (pid {pid}): exited with status 3\n")
    );
    assert_eq!(
        stat(pid).map(|s| s.state),
        Some('Z'),
        "not read from the zombie"
    );
}

/// As a user without `CAP_SYS_PTRACE` (nobody), whose own daemon's exit status the kernel
/// shows: the status is said. (A process of another user reads 0 in `/proc/PID/stat`, which
/// rdaemon does not take for a status.)
#[test]
fn wait_as_a_user_says_the_exit_status_of_their_own_daemon() {
    const TEST: &str = "wait_as_a_user_says_the_exit_status_of_their_own_daemon";
    use std::os::unix::fs::PermissionsExt;
    let Some(nobody) = nobody() else {
        return skip(TEST, "no user nobody");
    };
    if !is_root() {
        return skip(TEST, "needs root to become nobody");
    }
    let env = Env::new();
    std::fs::set_permissions(env.dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = env.path("nobody");
    std::fs::create_dir(&dir).unwrap();
    nix::unistd::chown(&dir, Some(nobody.uid), Some(nobody.gid)).unwrap();
    let fifo = dir.join("go");
    let as_nobody = |args: &[&str]| {
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(assert_cmd::cargo::cargo_bin!("rdaemon"))
            .args(args)
            .current_dir("/")
            .stdin(Stdio::null());
        isolate(&mut cmd, &dir);
        cmd
    };
    let script = format!("mkfifo '{0}' && read x < '{0}'; exit 4", fifo.display());
    let out = as_nobody(&["start", "--name", "mine", "--", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid: i32 = std::fs::read_to_string(dir.join("mine.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    env.track(pid);
    let waiter = as_nobody(&["wait", "mine"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    env.track(waiter.id() as i32);
    wait_until("wait holds a pidfd and the fifo is made", DEADLINE, || {
        holds_pidfd(waiter.id() as i32, pid) && fifo.exists()
    });
    std::fs::write(&fifo, "go\n").unwrap();
    let out = output_within_deadline(waiter);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let exited = format!("mine has exited (pid {pid})");
    assert!(
        stdout == format!("{exited}: exited with status 4\n")
            || (!kernel_keeps_exit_status() && stdout == format!("{exited}\n")),
        "{stdout}"
    );
}

/// The output of `child` once it exits, which must be within the tests' deadline.
fn output_within_deadline(child: std::process::Child) -> std::process::Output {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    rx.recv_timeout(DEADLINE).expect("wait returned").unwrap()
}

/// A daemon's program that forks a worker into a process group of its own and another into a
/// session of its own, both `sleep MARK` (which SIGUSR1 ends), says so (`forked`), and notes
/// each USR1 it catches in `NAME.usr1`. Its own argument is `of-MARK`.
const WORKERS: &str = r#"
import os, signal, sys
name, mark = sys.argv[1], sys.argv[2][len("of-"):]
signal.signal(signal.SIGUSR1, lambda *_: open(name + ".usr1", "a").write("USR1\n"))
for how in (lambda: os.setpgid(0, 0), os.setsid):
    if os.fork() == 0:
        how()
        os.execvp("sleep", ["sleep", mark])
open(name + ".forked", "w").close()
while True:
    signal.pause()
"#;

/// `signal --group` reaches every process of the daemon (SPEC §5, "all its processes"), not
/// only its process group (helper-96's audit, 2026-12-03: a worker in a group of its own, in
/// the same session and cgroup, missed the HUP that `stop` would have sent it): the rest of its
/// cgroup; without one, the rest of its session and a monitor's descendants. A process that
/// left the session of a daemon without a cgroup or monitor is not the daemon's (SPEC §3.1).
#[test]
fn signal_group_reaches_every_process_of_the_daemon() {
    let test = "signal_group_reaches_every_process_of_the_daemon";
    let Some(python) = python3_or_skip(test) else {
        return;
    };
    let env = Env::new();
    let dir = env.dir().display().to_string();
    for (name, extra) in [
        ("plain", vec![]),
        ("nocg", vec!["--cgroup", "off"]),
        ("watched", vec!["--respawn", "--cgroup", "off"]),
    ] {
        let mark = unique_secs();
        let forked = format!("file:{name}.forked");
        let py = python.display().to_string();
        let mut args = vec!["start", "--name", name, "--chdir", &dir, "--ready", &forked];
        args.extend(&extra);
        let of_mark = format!("of-{mark}");
        args.extend(["--", &py, "-c", WORKERS, name, &of_mark]);
        env.run(&args).ok();
        env.track(env.pid_of(name));
        let mut workers = Vec::new();
        wait_until(&format!("{name}'s workers run sleep"), DEADLINE, || {
            workers = env.track_marked(&mark);
            workers.len() == 2
        });
        let sid = |pid: i32| stat(pid).unwrap().session;
        let (apart, grouped): (Vec<i32>, Vec<i32>) = workers.iter().partition(|&&w| sid(w) == w);
        let cgroup = !env.record(name)["cgroup"].is_null();
        // Without a cgroup or a monitor, the worker that left the session is not the daemon's.
        let reached = cgroup || name == "watched";
        let others = if reached { 2 } else { 1 };
        env.run(&["signal", "--group", "USR1", name])
            .ok()
            .stdout_has(&format!("and {others} other process"));
        wait_until(
            &format!("{name}'s program notes its USR1"),
            DEADLINE,
            || lines_of(&env, &format!("{name}.usr1")) == 1,
        );
        wait_dead(grouped[0]);
        match reached {
            true => wait_dead(apart[0]),
            false => assert_left_alone(apart[0], "a process that left the daemon's session"),
        }
        env.run(&["stop", name]).ok();
        if !reached {
            kill(NixPid::from_raw(apart[0]), Signal::SIGKILL).unwrap();
        }
        wait_until(&format!("nothing of {name} is left"), DEADLINE, || {
            env.track_marked(&mark).is_empty()
        });
    }
}

/// `signal --group` of a respawn daemon spares the monitor's own helpers, here an `--on-exit`
/// command still running, which live in process groups of their own (helper-99's review: a
/// `signal --group HUP` reached a `--health cmd:` check, which the monitor took for failed,
/// and restarted a healthy program).
#[test]
fn signal_group_spares_the_monitors_helpers() {
    let env = Env::new();
    let (program, hook) = (unique_secs(), unique_secs());
    let dir = env.dir().display().to_string();
    // The first run exits at once; the hook then runs, and the program is run again.
    let run = format!("if [ -e once ]; then exec sleep {program}; fi; touch once; exit 1");
    let on_exit = format!("exec sleep {hook}");
    env.run(&[
        "start",
        "--name",
        "helped",
        "--respawn",
        "--restart-delay",
        "0",
        "--chdir",
        &dir,
        "--on-exit",
        &on_exit,
        "--",
        "sh",
        "-c",
        &run,
    ])
    .ok();
    env.track(env.pid_of("helped"));
    let mut pids = (Vec::new(), Vec::new());
    wait_until("the hook and the program's second run", DEADLINE, || {
        pids = (env.track_marked(&program), env.track_marked(&hook));
        pids.0.len() == 1 && pids.1.len() == 1
    });
    env.run(&["signal", "--group", "USR1", "helped"]).ok();
    wait_dead(pids.0[0]);
    assert_left_alone(pids.1[0], "a signal --group of the daemon");
    env.run(&["stop", "helped"]).ok();
}

/// helper-110's audit: the same want of privilege gave exit 4 from `stop` and `signal` but 1
/// from `forget`, `export`, `list` and `status` (and, helper-115's and helper-116's trials,
/// from every command over all daemons, `logs` and `resurrect`). All say it the same way now:
/// exit 4, with the directory's owner.
#[test]
fn another_users_forget_export_list_and_status_exit_4() {
    let test = "another_users_forget_export_list_and_status_exit_4";
    let Some(nobody) = root_and_nobody(test) else {
        return;
    };
    let env = Env::new();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(env.dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    env.start("roots", &["sleep", &unique_secs()]);
    let as_nobody = || as_user(&env, &nobody);
    // Running: its status (world-readable) says so; the command, in root's 0600 spec, is
    // unknown, and the report says why rather than leaving the line out.
    let run = env.run_cmd(as_nobody(), &["status", "roots"]).code(0);
    assert!(
        run.stdout.contains(
            "  command: unknown (cannot read record '{}/roots.json': Permission denied)"
                .replace("{}", env.dir().to_str().unwrap())
                .as_str()
        ),
        "{}",
        run.dump()
    );
    env.run(&["stop", "roots"]).ok();
    env.run_cmd(as_nobody(), &["status", "roots"])
        .code(4)
        .one_error_line()
        .stderr_has("Permission denied");
    for args in [
        &["forget", "roots"][..],
        &["export", "systemd", "roots"],
        &["logs", "roots"],
        &["logs", "--all"],
        &["wait", "roots"],
        &["resurrect"],
    ] {
        env.run_cmd(as_nobody(), args)
            .code(4)
            .one_error_line()
            .stderr_has("Permission denied")
            .stderr_has("is root's (use sudo)");
    }
    assert!(env.path("roots.json").exists(), "forget removed the spec");
    // A directory it may not read at all.
    std::fs::set_permissions(env.dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
    for args in [
        &["list"][..],
        &["list", "--names"],
        &["status"],
        &["stop", "--all"],
        &["forget", "--all"],
        &["signal", "HUP", "--all"],
        &["logs", "--all"],
        &["resurrect"],
    ] {
        let run = env
            .run_cmd(as_nobody(), args)
            .code(4)
            .one_error_line()
            .stderr_has("cannot read rdaemon directory")
            .stderr_has(": Permission denied; the rdaemon directory");
        assert!(!run.stderr.contains("os error"), "{}", run.dump());
    }
    // Nor may it look for a record there: not "no record" (helper-116).
    env.run_cmd(as_nobody(), &["forget", "roots"])
        .code(4)
        .one_error_line()
        .stderr_has("cannot look for its record")
        .stderr_has("is root's (use sudo)");
    // A usage error stays one (helper-113's review: exit 4 here).
    env.run_cmd(as_nobody(), &["status", "a", "b", "--pidfile", "/x.pid"])
        .code(2)
        .stderr_has("--pidfile names one daemon");
}
