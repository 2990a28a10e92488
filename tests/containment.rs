//! Containment in exec mode (SPEC §3.1, issue 14): the daemon is its session. `stop` stops what
//! the main process left behind (other groups included) and returns only when all of it is gone;
//! `status` of a daemon whose main process died but whose members live says so. Every process a
//! fixture forks is tracked by pid, so the guard kills it even when a test fails.

use std::fs;
use std::os::unix::fs::OpenOptionsExt;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid as NixPid;

use crate::common::*;

/// Waits until the fixture wrote `file` (renamed into place, so never read half-written) and
/// returns the pids in it, each tracked for cleanup.
pub(crate) fn member_pids(env: &Env, file: &str) -> Vec<i32> {
    let path = env.wait_file(file);
    let pids: Vec<i32> = fs::read_to_string(path)
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    for &pid in &pids {
        env.track(pid);
    }
    pids
}

/// A main process (`sleep`) with `n` members forked before it: each ignores SIGTERM when
/// `stubborn`, and all are in the main process's group and session. Their pids go to
/// `members.txt`.
pub(crate) fn start_with_members(
    env: &Env,
    name: &str,
    n: usize,
    stubborn: bool,
) -> (i32, Vec<i32>) {
    let trap = if stubborn { "trap '' TERM" } else { ":" };
    let script = env.script(
        "members.sh",
        &format!(
            r#"{trap}
i=0
while [ $i -lt {n} ]; do sleep {secs} & echo $! >> "$1/members.tmp"; i=$((i+1)); done
trap - TERM
mv "$1/members.tmp" "$1/members.txt"
exec sleep 1000"#,
            secs = unique_secs()
        ),
    );
    let dir = env.dir().display().to_string();
    let main = env.start(name, &[script.to_str().unwrap(), &dir]);
    // Listed once every member ignores TERM (inherited at its fork) and the main process no
    // longer does.
    let members = member_pids(env, "members.txt");
    (main, members)
}

/// Starts `script DIR` (DIR: the test's directory) as the daemon `name` without a cgroup;
/// returns its pid.
pub(crate) fn start_script_without_cgroup(env: &Env, name: &str, script: &std::path::Path) -> i32 {
    let dir = env.dir().display().to_string();
    let script = script.to_str().unwrap();
    env.run(&[
        "start", "--name", name, "--cgroup", "off", "--", script, &dir,
    ])
    .ok();
    env.pid_of(name)
}

fn same_session(pid: i32, main: i32) -> bool {
    stat(pid).unwrap().session == stat(main).unwrap().session
}

#[test]
fn a_term_ignoring_member_of_the_group_is_stopped_with_the_leader() {
    let env = Env::new();
    let (main, members) = start_with_members(&env, "web", 1, true);
    let member = members[0];
    assert!(same_session(member, main));
    assert_eq!(stat(member).unwrap().pgrp, main);
    let session = stat(main).unwrap().session;
    let stop = env.run(&["stop", "web", "--timeout", "300ms"]).ok();
    assert!(!alive(main));
    assert!(!alive(member), "member {member} survived stop");
    assert!(!env.path("web.pid").exists());
    stop.stdout_has(&format!(
        "stopped web (pid {main}); 1 leftover process stopped"
    ));
    assert_eq!(
        env.record("web")["session"],
        session,
        "the record keeps the daemon's session"
    );
}

#[test]
fn leftovers_of_a_dead_main_process_show_in_status_and_stop() {
    let env = Env::new();
    let (main, members) = start_with_members(&env, "web", 2, false);
    kill(NixPid::from_raw(main), Signal::SIGKILL).unwrap();
    wait_dead(main);
    let status = env.run(&["status", "web"]);
    for &m in &members {
        assert_left_alone(m, "status");
    }
    let status = status.code(1).stdout_has("web is dead");
    assert!(
        status.stdout.contains("2 leftover processes"),
        "{}",
        status.dump()
    );
    let json = env.run(&["status", "web", "--json"]).code(1);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    crate::json::check_object(&report);
    assert_eq!(report["state"], "dead");
    assert_eq!(report["leftovers"], 2);
    for &m in &members {
        assert_left_alone(m, "status");
    }
    let stop = env.run(&["stop", "web"]);
    for &m in &members {
        assert!(!alive(m), "member {m} survived stop");
    }
    stop.ok()
        .stdout_has("stopped leftovers of web: 2 processes");
    assert!(!env.path("web.pid").exists());
    env.run(&["status", "web"])
        .code(3)
        .stdout_has("web is stopped");
}

#[test]
fn a_member_in_its_own_process_group_is_stopped() {
    let Some(python) = python3() else {
        return skip("a_member_in_its_own_process_group_is_stopped", "no python3");
    };
    let env = Env::new();
    let member = env.path("member.py");
    fs::write(
        &member,
        "import os, sys, time\nos.setpgid(0, 0)\nopen(sys.argv[1] + '.tmp', 'w').write(str(os.getpid()))\nos.rename(sys.argv[1] + '.tmp', sys.argv[1])\ntime.sleep(1000)\n",
    )
    .unwrap();
    let script = env.script(
        "main.sh",
        &format!(
            "'{}' '{}' \"$1/member.txt\" &\nexec sleep 1000",
            python.display(),
            member.display()
        ),
    );
    let dir = env.dir().display().to_string();
    let main = env.start("web", &[script.to_str().unwrap(), &dir]);
    let member = member_pids(&env, "member.txt")[0];
    let s = stat(member).unwrap();
    assert_eq!(s.pgrp, member, "the member leads its own group");
    assert!(same_session(member, main));
    let stop = env.run(&["stop", "web"]).ok();
    assert!(
        !alive(member),
        "member {member} in its own group survived stop"
    );
    stop.stdout_has(&format!(
        "stopped web (pid {main}); 1 leftover process stopped"
    ));
}

/// `--cgroup auto` goes without a cgroup where it cannot have one, silently (SPEC §3.1), and
/// `-v` says why (helper-122: a root shell on a systemd host gets none, and nothing told it).
/// Here as `nobody`, who may not make cgroups.
#[test]
fn a_verbose_start_says_why_auto_goes_without_a_cgroup() {
    use std::os::unix::process::CommandExt;
    let Some(nobody) = root_and_nobody("a_verbose_start_says_why_auto_goes_without_a_cgroup")
    else {
        return;
    };
    let env = Env::new();
    nix::unistd::chown(env.dir(), Some(nobody.uid), Some(nobody.gid)).unwrap();
    let mut cmd = env.std_cmd();
    cmd.uid(nobody.uid.as_raw())
        .gid(nobody.gid.as_raw())
        .current_dir("/");
    let secs = unique_secs();
    let args = ["-v", "start", "--name", "nc", "--", "sleep", secs.as_str()];
    env.run_cmd(assert_cmd::Command::from_std(cmd), &args)
        .ok()
        .stderr_has("no cgroup for nc (--cgroup auto): cgroups need root");
    env.track_marked(&secs);
    assert_eq!(env.record("nc")["cgroup"], serde_json::Value::Null);
}

/// Writes `end` when dropped: the chain of [`start_fork_chain`] stops forking, also when the
/// test fails.
struct EndChain(std::path::PathBuf);

impl Drop for EndChain {
    fn drop(&mut self) {
        let _ = fs::write(&self.0, "");
    }
}

/// helper-122's chain of processes, started as the daemon `name` without a cgroup: its main
/// process forks, then sleeps; the child forks the next every 2 ms into a process group of its
/// own and exits. Every process of the chain holds the write end of a FIFO: the file returned
/// reads end of file once they are all gone. The chain also ends by itself after 60 s, or once
/// the guard returned is dropped. Returns once it has forked 50 times.
fn start_fork_chain(env: &Env, name: &str, python: &std::path::Path) -> (fs::File, EndChain) {
    let (count, end, fifo) = (env.path("count"), env.path("end"), env.path("alive"));
    let guard = EndChain(end.clone());
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let alive = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let chain = env.path("chain.py");
    fs::write(
        &chain,
        "import os, sys, time\n\
         count, end, alive = sys.argv[1], sys.argv[2], sys.argv[3]\n\
         deadline = time.time() + 60\n\
         if os.fork():\n    time.sleep(60)\n    os._exit(0)\n\
         held = os.open(alive, os.O_WRONLY)\n\
         n = 0\n\
         while time.time() < deadline and not os.path.exists(end):\n\
         \x20   time.sleep(0.002)\n\
         \x20   n += 1\n\
         \x20   if n % 10 == 0:\n\
         \x20       open(count + '.tmp', 'w').write(str(n))\n\
         \x20       os.rename(count + '.tmp', count)\n\
         \x20   if os.fork() == 0:\n\
         \x20       os.setpgid(0, 0)\n\
         \x20       continue\n\
         \x20   os._exit(0)\n",
    )
    .unwrap();
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let args = [
        "start".to_owned(),
        "--name".to_owned(),
        name.to_owned(),
        "--cgroup".to_owned(),
        "off".to_owned(),
        "--".to_owned(),
        path(python),
        path(&chain),
        path(&count),
        path(&end),
        path(&fifo),
    ];
    env.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .ok();
    wait_until("the chain has forked 50 times", DEADLINE, || {
        fs::read_to_string(&count)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .is_some_and(|n| n >= 50)
    });
    (alive, guard)
}

/// Waits until every process of a [`start_fork_chain`] chain is gone.
fn wait_chain_gone(alive: &fs::File) {
    wait_until("every process of the chain is gone", DEADLINE, || {
        let mut byte = [0u8; 1];
        nix::unistd::read(alive, &mut byte) == Ok(0)
    });
}

/// helper-122's attack, in exec mode without a cgroup: a chain of processes, each forking the
/// next every 2 ms into a process group of its own and exiting. Every scan of `/proc` met the
/// chain between two of them (the one it listed a zombie by the time it read it, the next one
/// not listed yet), and `stop` said "stopped" while the chain ran on. The sweep now reads the
/// newest processes first and scans again while the session shows life it has not found.
#[test]
fn a_chain_of_processes_each_forking_the_next_is_stopped_without_a_cgroup() {
    let test = "a_chain_of_processes_each_forking_the_next_is_stopped_without_a_cgroup";
    let Some(python) = python3() else {
        return skip(test, "no python3");
    };
    let env = Env::new();
    let (alive, _end) = start_fork_chain(&env, "chain", &python);
    env.run(&["stop", "chain"]).ok().stdout_has("stopped chain");
    wait_chain_gone(&alive);
}

/// The daemon `hop` without a cgroup, its main process killed: what is left of it is its
/// member, a python that on SIGUSR1 forks a child (`sleep CHILD_SECS`, SIGTERM unblocked) and
/// exits; before it waits for signals it runs `setup` (with `os`, `signal` and `sys`
/// imported). Its parent left the session and never reaps it (so that the member, once it
/// exits, stays a zombie of the session). The member's pid.
fn start_hop(env: &Env, python: &std::path::Path, child_secs: &str, setup: &str) -> i32 {
    let secs = unique_secs();
    let hop = env.path("hop.py");
    fs::write(
        &hop,
        format!(
            "import os, signal, sys\n\
             def hop(*_):\n    if os.fork() == 0:\n        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])\n        os.execvp('sleep', ['sleep', '{child_secs}'])\n    os._exit(0)\n\
             signal.signal(signal.SIGUSR1, hop)\n{setup}\
             open(sys.argv[1] + '/hop.tmp', 'w').close()\n\
             os.rename(sys.argv[1] + '/hop.tmp', sys.argv[1] + '/hop.ready')\n\
             while True:\n    signal.pause()\n"
        ),
    )
    .unwrap();
    let script = env.script(
        "hop.sh",
        &format!(
            r#"(sh -c '"$2" "$3" "$1" & echo $! > "$1/member.tmp"; exec setsid sleep {secs}' sh "$1" "{python}" "{hop}" & echo $! > "$1/parent.tmp")
while [ ! -s "$1/member.tmp" ] || [ ! -s "$1/parent.tmp" ]; do sleep 0.01; done
cat "$1/member.tmp" "$1/parent.tmp" > "$1/pids.tmp"
mv "$1/pids.tmp" "$1/pids.txt"
exec sleep {secs}"#,
            python = python.display(),
            hop = hop.display(),
        ),
    );
    let main = start_script_without_cgroup(env, "hop", &script);
    let pids = member_pids(env, "pids.txt");
    let (member, parent) = (pids[0], pids[1]);
    env.wait_file("hop.ready");
    wait_until("the member's parent has its own session", DEADLINE, || {
        stat(parent).is_some_and(|s| s.session == parent)
    });
    assert!(same_session(member, main));
    kill(NixPid::from_raw(main), Signal::SIGKILL).unwrap();
    wait_dead(main);
    member
}

/// SIGUSR1 to the [`start_hop`] member: once it has forked its child and exited (a zombie), the
/// child's pid, tracked.
fn hop_now(env: &Env, member: i32, child_secs: &str) -> Vec<i32> {
    kill(NixPid::from_raw(member), Signal::SIGUSR1).unwrap();
    let mut child = Vec::new();
    wait_until(
        "the member has forked its child and exited",
        DEADLINE,
        || {
            child = live_pids_with_arg(child_secs);
            !child.is_empty() && stat(member).is_some_and(|s| s.state == 'Z')
        },
    );
    child.iter().for_each(|p| env.track(*p));
    child
}

/// A member of a dead daemon's session that forks and exits between `stop`'s listing of
/// `/proc` and its reading of that member (`RDAEMON_FAULT=session-listed:stop` holds the stop
/// there): the scan reads it a zombie, and its child, born after the listing, is not listed.
/// The stop said the daemon was not running while the child ran on (the chain above, under
/// the whole suite's load, once). A zombie the sweep had not seen before is a sign of life
/// now: it scans again, and stops the child. The zombie stays one: its parent left the session
/// and never reaps it.
#[test]
fn a_member_that_forks_and_exits_during_the_scan_is_followed() {
    let test = "a_member_that_forks_and_exits_during_the_scan_is_followed";
    let Some(python) = python3_or_skip(test) else {
        return;
    };
    let env = Env::new();
    let child_secs = unique_secs();
    let member = start_hop(&env, &python, &child_secs, "");

    let mut stop = env.paused_at("session-listed", &["stop", "hop"]);
    let child = hop_now(&env, member, &child_secs);
    // Every scan stops there: the first one after the fork, and those after it, go on.
    wait_until("the stop ends", DEADLINE, || {
        if stat(stop.pid()).is_some_and(|s| s.state == 'T') {
            let _ = kill(NixPid::from_raw(stop.pid()), Signal::SIGCONT);
        }
        stop.has_ended()
    });
    let out = stop.output_within(DEADLINE, "the stop ends");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert_eq!(said, "stopped leftovers of hop: 1 process\n");
    for pid in child {
        assert!(!alive(pid), "the member's child {pid} survived the stop");
    }
}

/// Clock ticks (hundredths of a second) since boot, the clock of a process's start time.
fn uptime_ticks() -> u64 {
    let uptime = fs::read_to_string("/proc/uptime").unwrap();
    let secs: f64 = uptime.split_whitespace().next().unwrap().parse().unwrap();
    (secs * 100.0) as u64
}

/// SIGTERM in `pid`'s pending signals (it blocks it): a `stop` has sent it.
fn term_pending(pid: i32) -> bool {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().any(|l| {
        (l.starts_with("SigPnd:") || l.starts_with("ShdPnd:"))
            && l.split_whitespace()
                .nth(1)
                .and_then(|m| u64::from_str_radix(m, 16).ok())
                .is_some_and(|m| m & (1 << (Signal::SIGTERM as u64 - 1)) != 0)
    })
}

/// The test above with a member the sweep holds: it survives SIGTERM (blocks it), and forks
/// and exits between the listing of a later scan and the reading of it. That scan, made while
/// the sweep waited, reads it gone (a zombie, but one the sweep signalled) and does not list
/// its child, born after the listing: the sweep had nothing left to wait for, and `stop` said
/// "1 process" stopped while the child ran on. A held member that exits during a scan is a
/// sign of life as an unknown zombie is: one scan more finds the child. The first scan's
/// zombie (a child the member never reaps) keeps the sweep scanning while the member lives.
#[test]
fn a_held_member_that_forks_and_exits_during_a_scan_is_followed() {
    let test = "a_held_member_that_forks_and_exits_during_a_scan_is_followed";
    let Some(python) = python3_or_skip(test) else {
        return;
    };
    let env = Env::new();
    let child_secs = unique_secs();
    // It blocks SIGTERM, and keeps a zombie child it never reaps.
    let member = start_hop(
        &env,
        &python,
        &child_secs,
        "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])\n\
         if os.fork() == 0:\n    os._exit(0)\n",
    );
    // The member and its zombie started a few clock ticks before the stop: a zombie started
    // in the tick before a scan is a sign of life of its own (the test is about the others).
    let ready = uptime_ticks();
    wait_until("three clock ticks have passed", DEADLINE, || {
        uptime_ticks() > ready + 3
    });

    // Every scan stops at the listing. At the first after the sweep's SIGTERM, the member
    // forks and exits; that one and those after it go on.
    let mut stop = env.with_fault("session-listed", &["stop", "hop"]);
    let (mut hopped, mut child) = (false, Vec::new());
    wait_until("the stop ends", DEADLINE, || {
        if stat(stop.pid()).is_some_and(|s| s.state == 'T') {
            if !hopped && term_pending(member) {
                child = hop_now(&env, member, &child_secs);
                hopped = true;
            }
            let _ = kill(NixPid::from_raw(stop.pid()), Signal::SIGCONT);
        }
        stop.has_ended()
    });
    assert!(hopped, "the stop's SIGTERM never reached the member");
    let out = stop.output_within(DEADLINE, "the stop ends");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let survivors: Vec<i32> = child.iter().copied().filter(|p| alive(*p)).collect();
    assert!(
        survivors.is_empty(),
        "the member's child survived the stop: {said}"
    );
    assert!(out.status.success(), "{said}");
    assert_eq!(said, "stopped leftovers of hop: 2 processes\n");
}

/// `status` of such a daemon whose main process died: one scan of `/proc` could miss the whole
/// chain, and `status` then showed no leftovers (docs/safety.md listed it as a limit). It now
/// looks again while the session shows life its scan did not find; ten in a row show them.
#[test]
fn status_of_a_dead_daemon_finds_the_chain_it_left() {
    let test = "status_of_a_dead_daemon_finds_the_chain_it_left";
    let Some(python) = python3() else {
        return skip(test, "no python3");
    };
    let env = Env::new();
    let (alive, end) = start_fork_chain(&env, "chain", &python);
    let main = env.pid_of("chain");
    kill(NixPid::from_raw(main), Signal::SIGKILL).unwrap();
    wait_dead(main);
    for _ in 0..10 {
        env.run(&["status", "chain"]).code(1).stdout_has("leftover");
    }
    // The chain stops forking first: whether `stop` outruns a running chain is the test
    // above's (under the whole suite's load, once, the stop of this dead daemon's chain said
    // "stopped" while a member ran on).
    drop(end);
    env.run(&["stop", "chain"]).ok();
    wait_chain_gone(&alive);
}

/// When the session still shows life no scan can find at the end of the stop schedule (a
/// chain that outruns `/proc`; `RDAEMON_FAULT=session-elusive` makes every scan say so), `stop`
/// fails and says why instead of "stopped". The session stays alive for the whole stop by a
/// member's zombie: its parent left the session (`setsid`) and the daemon's tree (its own
/// parent exited), so `stop` leaves it, and it never reaps the member. A `stop` after, without
/// the fault, finds nothing left to stop.
#[test]
fn a_stop_that_cannot_find_what_keeps_the_session_alive_fails_and_says_so() {
    let env = Env::new();
    let script = env.script(
        "escape.sh",
        &format!(
            r#"(sh -c 'sleep {secs} & echo $! > "$1/member.tmp"; exec setsid sleep {secs}' sh "$1" & echo $! > "$1/parent.tmp")
while [ ! -s "$1/member.tmp" ]; do sleep 0.01; done
cat "$1/member.tmp" "$1/parent.tmp" > "$1/pids.tmp"
mv "$1/pids.tmp" "$1/pids.txt"
exec sleep {secs}"#,
            secs = unique_secs()
        ),
    );
    let main = start_script_without_cgroup(&env, "elusive", &script);
    let pids = member_pids(&env, "pids.txt");
    let (member, parent) = (pids[0], pids[1]);
    // The parent has left the daemon's session: only its child is a member.
    wait_until("the member's parent has its own session", DEADLINE, || {
        stat(parent).is_some_and(|s| s.session == parent)
    });
    assert!(same_session(member, main));

    let mut cmd = env.cmd();
    cmd.env("RDAEMON_FAULT", "session-elusive");
    let stop = env
        .run_cmd(cmd, &["stop", "elusive", "--timeout", "500ms"])
        .code(1)
        .one_error_line()
        .stderr_has(
            "cannot stop elusive: processes of its session keep starting and exiting faster than rdaemon can find them in /proc",
        );
    assert!(!stop.stdout.contains("stopped"), "{}", stop.dump());
    for pid in [main, member] {
        assert!(!alive(pid), "pid {pid} survived the stop\n{}", stop.dump());
    }
    // The member's zombie still holds the session; nothing of it is alive.
    assert!(stat(member).is_some_and(|s| s.state == 'Z'));
    env.run(&["stop", "elusive"]).ok();
    env.run(&["status", "elusive"]).code(3);
}

/// A member of the group that the first signal reached, still exiting when the main process is
/// seen gone, is not a leftover `stop` had to stop (SPEC §3: it says what it had to do). User
/// trial, 2026-12-02: `sh -c 'sleep 100; true'` stopped with "1 leftover process stopped" one
/// run in four. Several rounds, with a cgroup and without, each said the same.
#[test]
fn a_group_member_ended_by_the_first_signal_is_no_leftover() {
    let env = Env::new();
    for cgroup in ["auto", "off"] {
        for _ in 0..10 {
            let secs = unique_secs();
            let script = format!("sleep {secs}; true");
            env.run(&[
                "start", "--name", "sx", "--cgroup", cgroup, "--", "sh", "-c", &script,
            ])
            .ok();
            let main = env.pid_of("sx");
            wait_until("the shell's sleep runs", DEADLINE, || {
                fs::read_to_string(format!("/proc/{main}/task/{main}/children"))
                    .is_ok_and(|c| !c.trim().is_empty())
            });
            let stop = env.run(&["stop", "sx"]).ok();
            assert_eq!(
                stop.stdout,
                format!("stopped sx (pid {main})\n"),
                "--cgroup {cgroup}\n{}",
                stop.dump()
            );
        }
    }
}

#[test]
fn a_hundred_leftovers_are_stopped_in_one_stop() {
    let env = Env::new();
    let (main, members) = start_with_members(&env, "many", 100, true);
    assert_eq!(members.len(), 100);
    let stop = env.run(&["stop", "many", "--timeout", "500ms"]).ok();
    let alive_members: Vec<i32> = members.iter().copied().filter(|&m| alive(m)).collect();
    assert!(alive_members.is_empty(), "survived: {alive_members:?}");
    stop.stdout_has(&format!(
        "stopped many (pid {main}); 100 leftover processes stopped"
    ));
}

/// `--main-only` (systemd's `KillMode=mixed`): the first signal goes to the main process alone;
/// the rest of the daemon gets no TERM, is waited for until the timeout, then gets SIGKILL. Stop
/// means gone (SPEC §3): the member, which would die of a TERM, is alive until the SIGKILL.
#[test]
fn main_only_spares_the_rest_the_first_signal_and_kills_it_at_the_timeout() {
    let env = Env::new();
    let (main, members) = start_with_members(&env, "web", 1, false);
    let member = members[0];
    let stop = env.run(&["stop", "web", "--main-only", "--timeout", "300ms"]);
    assert!(!alive(main));
    assert!(!alive(member), "member {member} survived the stop");
    // Had it got the TERM, it would have died of it at once, needing no SIGKILL.
    stop.ok().stdout_has(&format!(
        "stopped web (pid {main}); 1 leftover process stopped (with SIGKILL)"
    ));
    assert!(!env.path("web.pid").exists());
    env.run(&["status", "web"])
        .code(3)
        .stdout_has("web is stopped");
}

/// `--main-only --no-kill`: the rest gets no signal at all, and what is still alive at the
/// timeout fails the stop by pid (exit 1); `status` counts it, and a full stop ends it.
#[test]
fn main_only_no_kill_fails_naming_the_rest_and_status_counts_it() {
    let env = Env::new();
    let (main, members) = start_with_members(&env, "web", 1, false);
    let member = members[0];
    let stop = env.run(&[
        "stop",
        "web",
        "--main-only",
        "--no-kill",
        "--timeout",
        "200ms",
    ]);
    assert!(!alive(main));
    assert!(
        alive(member),
        "--main-only --no-kill signalled member {member}"
    );
    stop.code(1)
        .one_error_line()
        .stderr_has(&format!("leftover processes {member} are still running"));
    env.run(&["status", "web"])
        .code(1)
        .stdout_has("web is dead")
        .stdout_has("1 leftover process");
    assert_left_alone(member, "status");
    let stop = env.run(&["stop", "web"]);
    assert!(!alive(member), "member {member} survived a full stop");
    stop.ok().stdout_has("stopped leftovers of web: 1 process");
}

/// A `--retry` schedule of several soft signals with `--main-only`: each goes to the main
/// process only (which ignores them); the rest hears none of them and gets only the SIGKILL.
/// The member writes down each signal it catches (its `wait` returns at once for a trap).
#[test]
fn main_only_retry_sends_the_rest_only_the_kill_steps() {
    let env = Env::new();
    let heard = env.path("heard");
    let secs = unique_secs();
    let script = env.script(
        "deaf.sh",
        &format!(
            r#"sh -c 'trap "echo TERM >> \"$1\"" TERM; trap "echo USR1 >> \"$1\"" USR1; sleep {secs} & wait' sh "$1/heard" &
echo $! > "$1/member.tmp"; mv "$1/member.tmp" "$1/member.txt"
trap '' TERM USR1
exec sleep 1000"#
        ),
    );
    let dir = env.dir().display().to_string();
    let main = env.start("deaf", &[script.to_str().unwrap(), &dir]);
    let member = member_pids(&env, "member.txt")[0];
    wait_until("the main process ignores TERM and USR1", DEADLINE, || {
        let ign = u64::from_str_radix(&status_field(main, "SigIgn"), 16).unwrap_or(0);
        let bit = |sig: Signal| 1u64 << (sig as i32 - 1);
        ign & bit(Signal::SIGTERM) != 0 && ign & bit(Signal::SIGUSR1) != 0
    });
    wait_until("the member catches TERM and USR1", DEADLINE, || {
        catches(member, Signal::SIGTERM) && catches(member, Signal::SIGUSR1)
    });
    let stop = env.run(&[
        "stop",
        "deaf",
        "--main-only",
        "--retry",
        "TERM/1/USR1/1/KILL/5",
    ]);
    for pid in env.track_marked(&secs) {
        wait_dead(pid);
    }
    assert!(!alive(main));
    assert!(!alive(member), "member {member} survived the stop");
    stop.ok()
        .stdout_has(&format!(
            "stopped deaf (pid {main}) with SIGKILL after 2s; "
        ))
        .stdout_has("leftover processes stopped (with SIGKILL)");
    assert_eq!(
        fs::read_to_string(&heard).unwrap_or_default(),
        "",
        "the rest heard a soft signal"
    );
}

#[test]
fn surviving_leftovers_fail_the_stop_by_pid_and_a_later_stop_ends_them() {
    let env = Env::new();
    let (main, members) = start_with_members(&env, "web", 1, true);
    let member = members[0];
    let stop = env.run(&["stop", "web", "--timeout", "200ms", "--no-kill"]);
    assert!(!alive(main));
    assert_left_alone(member, "stop --no-kill");
    stop.code(1)
        .one_error_line()
        .stderr_has(&format!("leftover processes {member} are still running"));
    env.run(&["status", "web"])
        .code(1)
        .stdout_has("web is dead")
        .stdout_has("1 leftover process");
    let stop = env.run(&["stop", "web", "--timeout", "200ms"]);
    assert!(!alive(member), "member {member} survived the second stop");
    // It ignores SIGTERM: said, as for a main process that needed it.
    stop.ok()
        .stdout_has("stopped leftovers of web: 1 process (with SIGKILL)");
    assert!(!env.path("web.pid").exists());
}

/// SPEC §3: "Exit 1 if anything survives, naming the pids." A main process that ignores TERM
/// survives `--no-kill`, and so do the members of its session, which ignore it too: the one
/// error line names them all, not only the main process.
#[test]
fn a_surviving_main_process_fails_the_stop_naming_its_surviving_members_too() {
    let env = Env::new();
    let secs = unique_secs();
    let script = env.script(
        "stubborn-members.sh",
        &format!(
            r#"trap '' TERM
sleep {secs} & echo $! >> "$1/members.tmp"
sleep {secs} & echo $! >> "$1/members.tmp"
mv "$1/members.tmp" "$1/members.txt"
wait"#
        ),
    );
    let dir = env.dir().display().to_string();
    let args = ["start", "--name", "nk", "--cgroup", "off", "--"];
    let mut args = args.to_vec();
    args.extend([script.to_str().unwrap(), &dir]);
    env.run(&args).ok().stdout_has("started nk (pid ");
    let main = env.pid_of("nk");
    // Listed once both ignore TERM (inherited at their fork).
    let members = member_pids(&env, "members.txt");
    assert_eq!(members.len(), 2);
    let stop = env.run(&["stop", "nk", "--no-kill", "--timeout", "200ms"]);
    assert!(
        alive(main),
        "--no-kill must not kill {main}\n{}",
        stop.dump()
    );
    for &member in &members {
        assert_left_alone(member, "stop --no-kill");
    }
    let mut others = members.clone();
    others.sort_unstable();
    stop.code(1).one_error_line().stderr_has(&format!(
        "rdaemon: nk (pid {main}) is still running after SIGTERM and the whole stop schedule, and so are its other processes (pid {}, {})",
        others[0], others[1]
    ));
    // A stop that may kill ends all of it.
    env.run(&["stop", "nk", "--timeout", "200ms"]).ok();
    assert!(!alive(main));
    for &member in &members {
        assert!(!alive(member), "member {member} survived the second stop");
    }
    assert!(env.track_marked(&secs).is_empty());
}

#[test]
fn forget_keeps_the_record_while_leftovers_live() {
    let env = Env::new();
    let (main, members) = start_with_members(&env, "web", 1, false);
    kill(NixPid::from_raw(main), Signal::SIGKILL).unwrap();
    wait_dead(main);
    let forget = env.run(&["forget", "web"]);
    assert!(
        env.path("web.json").exists(),
        "forget dropped the record that finds member {}",
        members[0]
    );
    assert_left_alone(members[0], "forget");
    forget
        .code(1)
        .one_error_line()
        .stderr_has("web has 1 leftover process running")
        .stderr_has("stop it first");
    env.run(&["stop", "web"]).ok();
    assert!(!alive(members[0]));
    env.run(&["forget", "web"]).ok().stdout_has("forgot web");
}

#[test]
fn a_respawn_monitor_leaves_no_term_ignoring_helper_behind() {
    let env = Env::new();
    let script = env.script(
        "helper.sh",
        &format!(
            r#"(trap '' TERM; exec sleep {secs}) &
echo $! > "$1/helper.tmp"; mv "$1/helper.tmp" "$1/helper.txt"
exec sleep 1000"#,
            secs = unique_secs()
        ),
    );
    let dir = env.dir().display().to_string();
    env.run(&[
        "start",
        "--respawn",
        "--name",
        "web",
        "--",
        script.to_str().unwrap(),
        &dir,
    ])
    .ok();
    let monitor = env.pid_of("web");
    env.track(monitor);
    let helper = member_pids(&env, "helper.txt")[0];
    // SigIgn bit 14: SIGTERM (15).
    wait_until("the helper ignores TERM", DEADLINE, || {
        u64::from_str_radix(&status_field(helper, "SigIgn"), 16).unwrap() & (1 << 14) != 0
    });
    assert!(same_session(helper, monitor));
    let stop = env.run(&["stop", "web", "--timeout", "300ms"]);
    assert!(!alive(monitor));
    assert!(!alive(helper), "helper {helper} survived stop");
    stop.ok().stdout_has("1 leftover process stopped");
}

// Respawn mode: the monitor is the child subreaper (SPEC §3.1).

/// Starts a respawn daemon `name` running `script DIR` with `extra` options; returns the
/// monitor's pid, tracked.
fn start_respawn_script(env: &Env, name: &str, extra: &[&str], script: &std::path::Path) -> i32 {
    let dir = env.dir().display().to_string();
    let mut args = vec!["start", "--respawn", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", script.to_str().unwrap(), &dir]);
    env.run(&args).ok();
    let monitor = env.pid_of(name);
    env.track(monitor);
    monitor
}

/// The monitor's children in `/proc` that are zombies.
fn zombie_children(monitor: i32) -> Vec<i32> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| stat(pid).is_some_and(|s| s.ppid == monitor && s.state == 'Z'))
        .collect()
}

#[test]
fn a_respawn_childs_double_forked_setsid_grandchild_is_stopped() {
    let env = Env::new();
    // The grandchild leaves the session (setsid) and its parent exits at once (double fork):
    // only the monitor, as subreaper, still knows it.
    let script = env.script(
        "escape.sh",
        &format!(
            r#"(setsid sh -c 'trap "" TERM; echo $$ > "$1/gc.tmp"; mv "$1/gc.tmp" "$1/gc.txt"; exec sleep {secs}' sh "$1" &)
exec sleep 1000"#,
            secs = unique_secs()
        ),
    );
    let monitor = start_respawn_script(&env, "esc", &[], &script);
    let gc = member_pids(&env, "gc.txt")[0];
    wait_until(
        "the grandchild is re-parented to the monitor",
        DEADLINE,
        || stat(gc).is_some_and(|s| s.ppid == monitor),
    );
    assert!(
        !same_session(gc, monitor),
        "the grandchild left the session"
    );
    wait_until("the grandchild ignores TERM", DEADLINE, || {
        u64::from_str_radix(&status_field(gc, "SigIgn"), 16).unwrap() & (1 << 14) != 0
    });
    let stop = env.run(&["stop", "esc", "--timeout", "300ms"]);
    assert!(!alive(monitor));
    assert!(!alive(gc), "the setsid grandchild {gc} survived stop");
    stop.ok().stdout_has("1 leftover process stopped");
}

#[test]
fn a_crash_looping_child_leaves_no_helpers_piling_up() {
    let env = Env::new();
    let secs = unique_secs();
    let script = env.script(
        "crash.sh",
        &format!(
            r#"sleep {secs} &
echo $! >> "$1/helpers.txt"
exit 1"#
        ),
    );
    let monitor = start_respawn_script(
        &env,
        "crash",
        &["--restart-delay", "20ms", "--max-restarts", "0"],
        &script,
    );
    let helpers = || -> Vec<i32> {
        fs::read_to_string(env.path("helpers.txt"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    };
    let mut most = 0;
    wait_until("three restarts", DEADLINE, || {
        for pid in helpers() {
            env.track(pid);
        }
        most = most.max(env.track_marked(&secs).len());
        env.record("crash")["restarts"].as_u64().unwrap_or(0) >= 3
    });
    let all = helpers();
    for &pid in &all {
        env.track(pid);
    }
    assert!(all.len() >= 3, "helpers: {all:?}");
    assert!(most <= 1, "{most} helpers alive at once");
    // Every helper but the newest is gone, and reaped by the monitor.
    for &pid in &all[..all.len() - 1] {
        wait_until(&format!("helper {pid} is reaped"), DEADLINE, || {
            stat(pid).is_none()
        });
    }
    assert!(env.track_marked(&secs).len() <= 1);
    let log = fs::read_to_string(env.path("crash.log")).unwrap_or_default();
    // Naming the helper the first program left, not only the program; a program that failed
    // is not taken for one that put itself in the background.
    assert!(
        log.contains(&format!(
            "left behind (pid {}) before restarting it\n",
            all[0]
        )),
        "{log}"
    );
    assert!(!log.contains("--forking"), "{log}");
    env.run(&["stop", "crash", "--timeout", "2s"]).ok();
    assert!(!alive(monitor));
    assert!(env.track_marked(&secs).is_empty(), "a helper outlived stop");
}

/// A program that exits 0 at once leaving a process behind is most likely one that puts itself
/// in the background (`memcached -d` under `--respawn` flapped for ever in a user's trial): the
/// monitor's line about the leftover says to start it with `--forking`.
#[test]
fn a_respawned_program_that_backgrounds_itself_gets_the_forking_hint() {
    let env = Env::new();
    let secs = unique_secs();
    let script = env.script(
        "bg.sh",
        &format!("sleep {secs} </dev/null >/dev/null 2>&1 &\nexit 0"),
    );
    start_respawn_script(
        &env,
        "bg",
        &["--restart-delay", "1s", "--max-restarts", "0"],
        &script,
    );
    let hint =
        "before restarting it (if it puts itself in the background, start it with --forking)";
    wait_until("the monitor says to use --forking", DEADLINE, || {
        fs::read_to_string(env.path("bg.log")).is_ok_and(|log| log.contains(hint))
    });
    env.track_marked(&secs);
    env.run(&["stop", "bg", "--timeout", "2s"]).ok();
}

#[test]
fn an_adopted_process_is_reaped_and_not_taken_for_the_child() {
    let env = Env::new();
    let script = env.script(
        "adopt.sh",
        &format!(
            r#"(sleep {secs} & echo $! > "$1/gc.tmp"; mv "$1/gc.tmp" "$1/gc.txt")
exec sleep 1000"#,
            secs = unique_secs()
        ),
    );
    let monitor = start_respawn_script(&env, "adopt", &[], &script);
    let gc = member_pids(&env, "gc.txt")[0];
    wait_until(
        "the grandchild is re-parented to the monitor",
        DEADLINE,
        || stat(gc).is_some_and(|s| s.ppid == monitor),
    );
    let child = env.record("adopt")["child_pid"].as_i64().unwrap() as i32;
    kill(NixPid::from_raw(gc), Signal::SIGKILL).unwrap();
    wait_until("the monitor reaps the adopted process", DEADLINE, || {
        stat(gc).is_none()
    });
    assert!(zombie_children(monitor).is_empty());
    assert!(alive(child), "the child went with the adopted process");
    let rec = env.record("adopt");
    assert_eq!(rec["child_pid"], child, "{rec}");
    assert_eq!(
        rec["restarts"], 0,
        "an adopted exit was taken for the child's"
    );
    env.run(&["stop", "adopt", "--timeout", "2s"]).ok();
}

// cgroup v2 (SPEC §3.1). Cgroup paths are global: every daemon here has a name no other test
// uses (the tempdir's suffix), and the guard removes every cgroup a record names.

#[test]
fn a_start_that_is_never_ready_removes_its_cgroup() {
    let test = "a_start_that_is_never_ready_removes_its_cgroup";
    let Some(mount) = cgroups_here(test) else {
        return;
    };
    let env = Env::new();
    let name = unique_name(&env, "unready");
    let port = free_port().to_string();
    env.run(&[
        "start",
        "--name",
        &name,
        "--ready",
        &format!("tcp:{port}"),
        "--ready-timeout",
        "300ms",
        "--",
        "sleep",
        "1000",
    ])
    .code(1)
    .stderr_has("stopped it (pid ");
    let cgroup = mount.join("rdaemon").join(env.cgroup_leaf(&name));
    assert_eq!(env.record(&name)["cgroup"], cgroup.to_str().unwrap());
    assert!(!cgroup.exists(), "{} is still there", cgroup.display());
}

/// `start NAME --ready file:NEVER EXTRA -- sh -c SCRIPT` whose program exits 0 at once, leaving
/// `sleep MARK` behind (its pid in `left.txt`; out of its session with `setsid`): the start
/// fails at once, stopping that leftover (SPEC §2.1, §3.1: no half-started daemon), and says so,
/// with the hint to use `--forking`.
/// Returns the leftover's pid.
fn start_that_exits_leaving(env: &Env, name: &str, extra: &[&str], setsid: &str) -> i32 {
    let mark = unique_secs();
    // The program exits once `left.done` exists: made by the leftover's shell itself after its
    // `mv` has exited, so that what the program leaves is that one process, never also the `mv`
    // (which renames `left.txt` into place before it exits).
    let script = format!(
        r#"{setsid} sh -c 'echo $$ > "$1/left.tmp"; mv "$1/left.tmp" "$1/left.txt"; : > "$1/left.done"; exec sleep {mark}' sh "$1" &
while [ ! -e "$1/left.done" ]; do sleep 0.01; done
exit 0"#
    );
    let never = format!("file:{}", env.path("never").display());
    let dir = env.dir().display().to_string();
    let mut args = vec![
        "start",
        "--name",
        name,
        "--ready",
        &never,
        "--ready-timeout",
        "60s",
    ];
    args.extend_from_slice(extra);
    args.extend(["--", "sh", "-c", &script, "sh", &dir]);
    let run = env.run(&args);
    env.track_marked(&mark);
    let left = member_pids(env, "left.txt")[0];
    let run = run.code(1);
    let first = run.stderr.lines().next().unwrap_or_default();
    let failed = format!(
        "rdaemon: cannot start {name}: the program exited with status 0 while rdaemon waited for '{}' to appear",
        env.path("never").display()
    );
    // A respawn monitor may stop what its child left before `start` gets to it. The program
    // exited 0 leaving a process: what one that puts itself in the background does, so the
    // error says to use --forking, as `status` does.
    let said = [
        format!(
            "{failed}; stopped 1 process it left behind (if it puts itself in the background, start it with --forking)"
        ),
        failed,
    ];
    let said = match extra.contains(&"--respawn") {
        true => &said[..],
        false => &said[..1],
    };
    assert!(said.iter().any(|s| s == first), "{}", run.dump());
    assert!(
        !alive(left),
        "pid {left} it left behind still runs\n{}",
        run.dump()
    );
    assert!(env.track_marked(&mark).is_empty(), "{}", run.dump());
    assert!(!env.path(&format!("{name}.pid")).exists(), "{}", run.dump());
    env.run(&["status", name])
        .code(3)
        .stdout_has(&format!("{name} is stopped"));
    left
}

/// Without a cgroup, the session holds what the program left (a plain background job).
#[test]
fn a_start_whose_program_exits_stops_what_it_left_in_its_session() {
    let env = Env::new();
    let left = start_that_exits_leaving(&env, "bg", &["--cgroup", "off"], "");
    assert!(!alive(left));
}

/// Without a cgroup, what left the session with `setsid` and was orphaned when the program
/// exited is re-parented to `start`, the child subreaper that waits for the program: the failed
/// start stops it too.
#[test]
fn a_start_whose_program_exits_stops_what_escaped_its_session_without_a_cgroup() {
    let env = Env::new();
    let left = start_that_exits_leaving(&env, "sbg", &["--cgroup", "off"], "setsid");
    assert!(!alive(left));
}

/// Without a cgroup, a start that is not ready in time stops what its program orphaned out of
/// its session (`setsid` in a child that exits), re-parented to `start`, its child subreaper:
/// not only what still descends from the program.
#[test]
fn without_a_cgroup_a_start_not_ready_in_time_stops_a_double_forked_orphan() {
    let env = Env::new();
    let script = setsid_escape_script(&env);
    start_never_ready_stops_gc(&env, "df", &script);
}

/// A pidfile no record describes (another tool's daemon) is trusted for its pid and the group
/// it leads, as classic tools trust it (SPEC §4), and nothing more: no session is known, so the
/// children its process sent out of its group (a login server's sessions) are not the daemon's
/// to stop.
#[test]
fn stop_of_a_pidfile_without_a_record_leaves_what_left_its_group_alone() {
    use std::os::unix::process::CommandExt;
    let env = Env::new();
    let (mark, child_mark) = (unique_secs(), unique_secs());
    let main = Background::spawn(
        std::process::Command::new("sh")
            .args([
                "-c",
                &format!(
                    r#"setsid sleep {child_mark} & echo $! > "$1/c.tmp"; mv "$1/c.tmp" "$1/c.txt"; exec sleep {mark}"#
                ),
                "sh",
                env.dir().to_str().unwrap(),
            ])
            .process_group(0),
    );
    let child = member_pids(&env, "c.txt")[0];
    wait_until("the child has left the group", DEADLINE, || {
        stat(child).is_some_and(|s| s.session == child)
    });
    // Outside rdaemon's directory, where a pidfile needs a record to vouch for it.
    let elsewhere = tempfile::tempdir().unwrap();
    let pidfile = elsewhere.path().join("other.pid");
    fs::write(&pidfile, format!("{}\n", main.pid())).unwrap();
    let run = env
        .run(&[
            "stop",
            "--pidfile",
            pidfile.to_str().unwrap(),
            "--timeout",
            "5s",
        ])
        .ok();
    assert!(!run.stdout.contains("leftover"), "{}", run.dump());
    wait_dead(main.pid());
    assert_left_alone(child, "the stop of a pidfile without a record");
}

/// A `--ready cmd:` command is `start`'s own child: what it detaches with `setsid` (an agent it
/// launches) is re-parented to `start` as the daemon's orphans would be, and without a cgroup
/// is not the daemon's: a failed start leaves it alone. (With one, the command runs in the
/// daemon's cgroup, and what it leaves is the daemon's: `security_isolation`.)
#[test]
fn a_failed_start_leaves_what_its_ready_command_detached_alone() {
    let env = Env::new();
    let mark = unique_secs();
    let ready = format!("cmd:setsid sleep {mark} & false");
    let run = env.run(&[
        "start",
        "--name",
        "c",
        "--cgroup",
        "off",
        "--ready",
        &ready,
        "--ready-timeout",
        "1s",
        "--",
        "sleep",
        "1000",
    ]);
    let agents = env.track_marked(&mark);
    let run = run.code(1);
    assert!(!run.stderr.contains("left behind"), "{}", run.dump());
    assert!(
        !agents.is_empty(),
        "the ready command never ran\n{}",
        run.dump()
    );
    for agent in agents {
        assert_left_alone(agent, "the failed start");
    }
}

/// `restart a b` starts both from one process, the child subreaper of both. A process of `a`
/// orphaned while `b` is being launched is re-parented to it, beneath nothing `a` had when `b`'s
/// launch began; when `b`'s program then exits before it is ready, that process is still `a`'s,
/// and the failed start of `b` must leave it alone: in `a`'s session, or (`setsid`) in one of
/// its own, where nothing tells it from `b`'s. Returns `a`'s main process and the orphan.
fn restart_leaving_an_orphan_of_a(env: &Env, setsid: &str) -> (i32, i32) {
    let dir = env.dir().display().to_string();
    let mark = unique_secs();
    // a: a child that, once b's program runs, starts `sleep MARK` and exits, orphaning it.
    let a = env.script(
        "a.sh",
        &format!(
            r#"sh -c 'while [ ! -e "$1/go" ]; do sleep 0.01; done; {setsid} sleep {mark} & echo "$$ $!" > "$1/g.tmp"; mv "$1/g.tmp" "$1/g.txt"' sh "$1" &
exec sleep 1000"#
        ),
    );
    // b: only once armed, lets a's child go and exits when that child has exited (a zombie).
    let b = env.script(
        "b.sh",
        r#"[ -e "$1/armed" ] || exit 0
touch "$1/go"
while [ ! -e "$1/g.txt" ]; do sleep 0.01; done
read parent orphan < "$1/g.txt"
while ! grep -q '^[0-9]* (.*) Z' "/proc/$parent/stat"; do sleep 0.01; done
exit 0"#,
    );
    let never = format!("file:{}", env.path("never").display());
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    env.run(&["start", "--name", "a", "--cgroup", "off", "--", a, &dir])
        .ok();
    env.run(&["stop", "a"]).ok();
    env.run(&[
        "start", "--name", "b", "--cgroup", "off", "--ready", &never, "--", b, &dir,
    ])
    .code(1);
    fs::write(env.path("armed"), "").unwrap();
    let run = env.run(&["restart", "a", "b"]);
    let orphan = member_pids(env, "g.txt")[1];
    let main = env.pid_of("a");
    let run = run.code(1).stderr_has("cannot start b: the program exited");
    assert!(
        alive(orphan),
        "a's orphan {orphan} was stopped with b\n{}",
        run.dump()
    );
    assert!(!run.stderr.contains("left behind"), "{}", run.dump());
    (main, orphan)
}

#[test]
fn a_failed_start_leaves_an_earlier_daemons_orphan_alone() {
    let env = Env::new();
    let (main, orphan) = restart_leaving_an_orphan_of_a(&env, "");
    assert_eq!(
        stat(orphan).unwrap().session,
        stat(main).unwrap().session,
        "the orphan is in a's session"
    );
    // In a's process group: stopped with a's main process.
    env.run(&["stop", "a"]).ok();
    assert!(!alive(orphan), "a's orphan {orphan} survived stop a");
}

/// The same for an orphan of `a` in a session of its own (a server detaching a helper).
#[test]
fn a_failed_start_leaves_an_earlier_daemons_setsid_orphan_alone() {
    let env = Env::new();
    let (main, orphan) = restart_leaving_an_orphan_of_a(&env, "setsid");
    assert_ne!(stat(orphan).unwrap().session, stat(main).unwrap().session);
    assert_eq!(stat(orphan).unwrap().session, orphan);
}

/// With a cgroup, what left the session with `setsid` (a server that daemonized itself, as
/// `redis-server --daemonize yes` does) is caught there, and the cgroup goes.
#[test]
fn a_start_whose_program_exits_stops_what_escaped_into_its_cgroup() {
    let test = "a_start_whose_program_exits_stops_what_escaped_into_its_cgroup";
    let Some(mount) = cgroups_here(test) else {
        return;
    };
    let env = Env::new();
    let name = unique_name(&env, "selfd");
    start_that_exits_leaving(&env, &name, &["--cgroup", "on"], "setsid");
    let cgroup = mount.join("rdaemon").join(env.cgroup_leaf(&name));
    assert!(!cgroup.exists(), "{} is still there", cgroup.display());
}

/// In respawn mode the monitor is the subreaper of what its first child left out of its session:
/// the failed start stops that too.
#[test]
fn a_respawn_start_whose_first_child_exits_stops_what_it_left() {
    let env = Env::new();
    start_that_exits_leaving(&env, "rbg", &["--respawn", "--cgroup", "off"], "setsid");
}

/// A program (run with the test's directory as its argument) that leaves a grandchild out of
/// its session with `setsid`, the grandchild's pid in `gc.txt`, and execs `sleep 1000`.
fn setsid_escape_script(env: &Env) -> std::path::PathBuf {
    env.script(
        "escape.sh",
        &format!(
            r#"(setsid sh -c 'echo $$ > "$1/gc.tmp"; mv "$1/gc.tmp" "$1/gc.txt"; exec sleep {secs}' sh "$1" &)
exec sleep 1000"#,
            secs = unique_secs()
        ),
    )
}

#[test]
fn an_exec_setsid_grandchild_is_caught_by_the_cgroup_and_the_cgroup_goes() {
    let test = "an_exec_setsid_grandchild_is_caught_by_the_cgroup_and_the_cgroup_goes";
    let Some(mount) = cgroups_here(test) else {
        return;
    };
    let env = Env::new();
    let name = unique_name(&env, "cg");
    let script = setsid_escape_script(&env);
    let dir = env.dir().display().to_string();
    let main = env.start(&name, &[script.to_str().unwrap(), &dir]);
    let gc = member_pids(&env, "gc.txt")[0];
    let cgroup = mount.join("rdaemon").join(env.cgroup_leaf(&name));
    assert_eq!(env.record(&name)["cgroup"], cgroup.to_str().unwrap());
    assert!(!same_session(gc, main), "the grandchild left the session");
    let own = fs::read_to_string(format!("/proc/{gc}/cgroup")).unwrap();
    assert!(
        own.contains(&format!("/rdaemon/{}\n", env.cgroup_leaf(&name))),
        "{own}"
    );
    let status = env.run(&["status", &name, "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(json["tasks"], 2, "{json}");
    assert!(json["memory_bytes"].as_u64().unwrap() > 0, "{json}");
    assert_eq!(json["cgroup"], cgroup.to_str().unwrap());
    let stop = env.run(&["stop", &name, "--timeout", "2s"]).ok();
    assert!(!alive(main));
    assert!(!alive(gc), "the setsid grandchild {gc} survived stop");
    stop.stdout_has("1 leftover process stopped");
    assert!(!cgroup.exists(), "{} is still there", cgroup.display());
}

/// A program (run with the test's directory as its argument) whose child leaves the session
/// with `setsid` but stays its child (no double fork), its pid in `gc.txt`; `exit` says what the
/// program does then.
fn setsid_child_script(env: &Env, then: &str) -> std::path::PathBuf {
    env.script(
        "setsid_child.sh",
        &format!(
            r#"setsid sh -c 'echo $$ > "$1/gc.tmp"; mv "$1/gc.tmp" "$1/gc.txt"; exec sleep {secs}' sh "$1" &
{then}"#,
            secs = unique_secs()
        ),
    )
}

/// Without a cgroup, a child that left the session with `setsid` is still the daemon's by
/// descent while the main process lives: `status` counts it, and `stop` holds it by pidfd
/// before the first signal and stops it once the main process is gone (it was left running,
/// re-parented to init, while `status` counted it).
#[test]
fn without_a_cgroup_stop_stops_a_setsid_child_of_the_main_process() {
    let env = Env::new();
    let script = setsid_child_script(&env, "exec sleep 1000");
    let dir = env.dir().display().to_string();
    let script = script.to_str().unwrap();
    env.run(&[
        "start", "--name", "sc", "--cgroup", "off", "--", script, &dir,
    ])
    .ok();
    let main = env.pid_of("sc");
    let gc = member_pids(&env, "gc.txt")[0];
    assert!(!same_session(gc, main), "the child left the session");
    assert_eq!(stat(gc).unwrap().ppid, main);
    let status = env.run(&["status", "sc", "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(json["tasks"], 2, "{json}");
    env.run(&["stop", "sc", "--timeout", "5s"])
        .ok()
        .stdout_has("stopped sc (pid ")
        .stdout_has("1 leftover process stopped");
    assert!(!alive(main));
    assert!(!alive(gc), "the setsid child {gc} survived stop");
}

/// The same for a start that is not ready in time: what its setsid child left running is
/// stopped, and the start says so (SPEC §2.1: no half-started daemon).
#[test]
fn without_a_cgroup_a_failed_start_stops_a_setsid_child() {
    let env = Env::new();
    let script = setsid_child_script(
        &env,
        r#"while [ ! -e "$1/gc.txt" ]; do sleep 0.01; done
exec sleep 1000"#,
    );
    start_never_ready_stops_gc(&env, "sf", &script);
}

/// `start NAME --cgroup off --ready file:NEVER --ready-timeout 1s -- SCRIPT DIR` fails, and the
/// process whose pid SCRIPT wrote to `gc.txt`, outside the daemon's session, went with it.
fn start_never_ready_stops_gc(env: &Env, name: &str, script: &std::path::Path) {
    let dir = env.dir().display().to_string();
    let never = format!("file:{}", env.path("never").display());
    let run = env.run(&[
        "start",
        "--name",
        name,
        "--cgroup",
        "off",
        "--ready",
        &never,
        "--ready-timeout",
        "1s",
        "--",
        script.to_str().unwrap(),
        &dir,
    ]);
    let gc = member_pids(env, "gc.txt")[0];
    let run = run.code(1).stderr_has("1 process it left behind");
    assert!(
        !alive(gc),
        "{gc}, out of the session, survived the failed start\n{}",
        run.dump()
    );
}

/// A daemon running as root may make cgroups of its own beneath its cgroup and move processes
/// into them (a supervisor of its own workers, a container runtime). They are the daemon's:
/// `status` counts them, `stop` stops them and removes those cgroups with the daemon's (the
/// kernel refuses to remove a cgroup that has one beneath it: `stop` said "Device or resource
/// busy", exit 1), in exec and in respawn mode.
#[test]
fn cgroups_the_daemon_makes_beneath_its_own_are_its_too() {
    let test = "cgroups_the_daemon_makes_beneath_its_own_are_its_too";
    let Some(mount) = cgroups_here(test) else {
        return;
    };
    let env = Env::new();
    for respawn in [false, true] {
        let name = unique_name(&env, if respawn { "nestr" } else { "nest" });
        let script = env.script(
            "nest.sh",
            &format!(
                r#"cg={mount}$(sed -n 's/^0:://p' /proc/self/cgroup)
mkdir -p "$cg/workers/one"
(setsid sh -c 'echo $$ > "$1/cgroup.procs"; echo $$ > "$2/w.tmp"; mv "$2/w.tmp" "$2/w.txt"; exec sleep {secs}' sh "$cg/workers/one" "$1" &)
exec sleep 1000"#,
                mount = mount.display(),
                secs = unique_secs()
            ),
        );
        let _ = fs::remove_file(env.path("w.txt"));
        let dir = env.dir().display().to_string();
        let mut args = vec!["start", "--name", &name];
        if respawn {
            args.push("--respawn");
        }
        args.extend(["--", script.to_str().unwrap(), &dir]);
        env.run(&args).ok();
        let main = env.pid_of(&name);
        env.track(main);
        let worker = member_pids(&env, "w.txt")[0];
        let cgroup = mount.join("rdaemon").join(env.cgroup_leaf(&name));
        wait_until("the worker is in its own cgroup", DEADLINE, || {
            fs::read_to_string(format!("/proc/{worker}/cgroup")).is_ok_and(|c| {
                c.contains(&format!(
                    "/rdaemon/{}/workers/one\n",
                    env.cgroup_leaf(&name)
                ))
            })
        });
        let json: serde_json::Value =
            serde_json::from_str(&env.run(&["status", &name, "--json"]).ok().stdout).unwrap();
        // The program and the worker (a respawn monitor is not counted).
        assert_eq!(json["tasks"], 2, "{json}");
        env.run(&["stop", &name]).ok();
        assert!(!alive(worker), "the worker {worker} survived stop");
        assert!(!cgroup.exists(), "{} is still there", cgroup.display());
    }
}

/// A program that puts itself in the background without `--forking` (`redis-server --daemonize
/// yes`): its main process exits at once, leaving its server in a session of its own, in the
/// daemon's cgroup. `status` and `list` say dead with that leftover, as `stop` finds it.
#[test]
fn a_program_that_daemonizes_itself_without_forking_is_dead_with_its_leftover() {
    let test = "a_program_that_daemonizes_itself_without_forking_is_dead_with_its_leftover";
    let Some(mount) = cgroups_here(test) else {
        return;
    };
    let env = Env::new();
    let name = unique_name(&env, "bg");
    let script = env.script(
        "background.sh",
        &format!(
            r#"(setsid sh -c 'echo $$ > "$1/gc.tmp"; mv "$1/gc.tmp" "$1/gc.txt"; exec sleep {secs}' sh "$1" &)
exit 0"#,
            secs = unique_secs()
        ),
    );
    let dir = env.dir().display().to_string();
    let main = env.start(&name, &[script.to_str().unwrap(), &dir]);
    let server = member_pids(&env, "gc.txt")[0];
    wait_dead(main);
    assert!(alive(server));
    let status = env.run(&["status", &name]).code(1);
    status
        .stdout_has(&format!("{name} is dead: "))
        .stdout_has("; 1 leftover process")
        .stdout_has("  tasks:   1 process")
        .stdout_has("start it with --forking");
    let json: serde_json::Value =
        serde_json::from_str(&env.run(&["status", &name, "--json"]).code(1).stdout).unwrap();
    assert_eq!(json["state"], "dead", "{json}");
    assert_eq!(json["tasks"], 1, "{json}");
    let list: serde_json::Value =
        serde_json::from_str(&env.run(&["list", "--json"]).ok().stdout).unwrap();
    assert_eq!(list[0]["state"], "dead", "{list}");
    env.run(&["stop", &name])
        .ok()
        .stdout_has(&format!("stopped leftovers of {name}: 1 process"));
    assert!(!alive(server), "the server {server} survived stop");
    let cgroup = mount.join("rdaemon").join(env.cgroup_leaf(&name));
    assert!(!cgroup.exists(), "{} is still there", cgroup.display());
    let status = env.run(&["status", &name]).code(3);
    assert!(!status.stdout.contains("--forking"), "{}", status.stdout);
}

#[test]
fn a_daemon_whose_spec_is_damaged_is_stopped_with_its_cgroup_by_its_status() {
    let test = "a_daemon_whose_spec_is_damaged_is_stopped_with_its_cgroup_by_its_status";
    let Some(mount) = cgroups_here(test) else {
        return;
    };
    let env = Env::new();
    for respawn in [false, true] {
        let name = unique_name(&env, if respawn { "dmgr" } else { "dmg" });
        let script = setsid_escape_script(&env);
        let dir = env.dir().display().to_string();
        let _ = fs::remove_file(env.path("gc.txt"));
        let mut args = vec!["start", "--name", &name];
        if respawn {
            args.push("--respawn");
        }
        args.extend_from_slice(&["--", script.to_str().unwrap(), &dir]);
        env.run(&args).ok();
        let main = env.pid_of(&name);
        env.track(main);
        let gc = member_pids(&env, "gc.txt")[0];
        let cgroup = mount.join("rdaemon").join(env.cgroup_leaf(&name));
        assert_eq!(env.record(&name)["cgroup"], cgroup.to_str().unwrap());
        // The spec is damaged on disk; the status still names the daemon, its session and its
        // cgroup: the stop reaches all of it, not only the main process.
        fs::write(env.path(&format!("{name}.json")), "garbage").unwrap();
        env.run(&["stop", &name, "--timeout", "5s"])
            .ok()
            .stdout_has(&format!("stopped {name} (pid {main})"))
            .stderr_has("going by its status");
        assert!(
            !alive(main),
            "{name}: the main process {main} survived stop"
        );
        assert!(
            !alive(gc),
            "{name}: the setsid grandchild {gc} survived stop"
        );
        assert!(!cgroup.exists(), "{} is still there", cgroup.display());
        assert!(!env.path(&format!("{name}.pid")).exists());
    }
}

/// Starts respawn daemon `name` in a cgroup, whose program (`sh`) runs until the test's
/// directory holds `go` and then exits with `code`, every run after that at once; returns
/// the monitor's pid and the cgroup's path, both checked.
fn start_respawn_in_cgroup(
    env: &Env,
    mount: &std::path::Path,
    name: &str,
    extra: &[&str],
    code: i32,
) -> (i32, std::path::PathBuf) {
    let go = env.path("go");
    let script = env.script(
        "until-go.sh",
        &format!(
            "until [ -e '{}' ]; do sleep 0.01; done\nexit {code}",
            go.display()
        ),
    );
    let mut args = vec![
        "start",
        "--respawn",
        "--name",
        name,
        "--restart-delay",
        "10ms",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", script.to_str().unwrap()]);
    env.run(&args).ok();
    let monitor = env.pid_of(name);
    env.track(monitor);
    if let Some(child) = child_pid(env, name) {
        env.track(child);
    }
    let cgroup = mount.join("rdaemon").join(env.cgroup_leaf(name));
    assert_eq!(env.record(name)["cgroup"], cgroup.to_str().unwrap());
    let own = fs::read_to_string(format!("/proc/{monitor}/cgroup")).unwrap();
    assert!(
        own.contains(&format!("/rdaemon/{}\n", env.cgroup_leaf(name))),
        "{own}"
    );
    fs::write(&go, "").unwrap();
    (monitor, cgroup)
}

/// helper-110's audit: for a moment before `failed`, a respawn daemon that gave up was `dead`
/// with "1 leftover process": its monitor, on its way out, still listed in the cgroup. The main
/// process itself is no leftover of its daemon. The moment is held here: the monitor stopped
/// (SIGSTOP), its status made to say what giving up writes (failed, its pidfile removed).
#[test]
fn a_monitor_that_gave_up_is_no_leftover_of_itself() {
    let test = "a_monitor_that_gave_up_is_no_leftover_of_itself";
    if cgroups_here(test).is_none() {
        return;
    }
    let env = Env::new();
    let name = unique_name(&env, "gaveup");
    let (monitor, child) = start_respawn(&env, &name, &[], &["sleep", &unique_secs()]);
    kill(NixPid::from_raw(monitor), Signal::SIGSTOP).unwrap();
    kill(NixPid::from_raw(child), Signal::SIGKILL).unwrap();
    wait_dead(child);
    let status = env.path(&format!("{name}.status"));
    let mut v: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&status).unwrap()).unwrap();
    v["failed"] = true.into();
    v["child_pid"] = serde_json::Value::Null;
    fs::write(&status, v.to_string()).unwrap();
    fs::remove_file(env.path(&format!("{name}.pid"))).unwrap();
    let (code, json) = status_json(&env, &name);
    assert_eq!((code, &json["state"]), (1, &"failed".into()), "{json}");
    kill(NixPid::from_raw(monitor), Signal::SIGKILL).unwrap();
    kill(NixPid::from_raw(monitor), Signal::SIGCONT).unwrap();
    wait_dead(monitor);
}

#[test]
fn a_respawn_daemon_that_gives_up_removes_its_cgroup() {
    let test = "a_respawn_daemon_that_gives_up_removes_its_cgroup";
    let Some(mount) = cgroups_here(test) else {
        return;
    };
    let env = Env::new();
    let name = unique_name(&env, "giveup");
    let (monitor, cgroup) =
        start_respawn_in_cgroup(&env, &mount, &name, &["--max-restarts", "1"], 3);
    wait_dead(monitor);
    assert_eq!(env.record(&name)["failed"], true);
    assert!(!cgroup.exists(), "{} is still there", cgroup.display());
    let status = env.run(&["status", &name, "--json"]).code(1);
    let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(json["state"], "failed", "{json}");
    assert_eq!(json["cgroup"], serde_json::Value::Null, "{json}");
    // Nothing is left for `stop`; a new start makes the cgroup anew.
    env.run(&["stop", &name]).ok();
    let (monitor, cgroup) =
        start_respawn_in_cgroup(&env, &mount, &name, &["--max-restarts", "1"], 3);
    wait_dead(monitor);
    assert!(!cgroup.exists(), "{} is still there", cgroup.display());
}

/// What the last child left behind gets SIGTERM when the monitor gives up; the monitor waits
/// for it to leave the cgroup (here a process that takes a while to act on TERM), then removes
/// the cgroup.
#[test]
fn a_respawn_daemon_that_gives_up_stops_what_its_last_child_left_and_removes_its_cgroup() {
    let test =
        "a_respawn_daemon_that_gives_up_stops_what_its_last_child_left_and_removes_its_cgroup";
    let Some(mount) = cgroups_here(test) else {
        return;
    };
    let env = Env::new();
    let name = unique_name(&env, "leaves");
    let dir = env.dir().display().to_string();
    // Each run leaves a grandchild in its own session, which records its pid in `gc.RUN`
    // and takes 0.3 s to act on a TERM, and exits once that is done and `go` exists.
    let script = env.script(
        "leaves.sh",
        r#"(setsid sh -c 'trap "sleep 0.3; exit 0" TERM; echo $$ > "$1/gc.tmp.$2"; mv "$1/gc.tmp.$2" "$1/gc.$2"; while :; do sleep 0.05; done' sh "$1" $$ &)
until [ -e "$1/gc.$$" ]; do sleep 0.01; done
until [ -e "$1/go" ]; do sleep 0.01; done
exit 3"#,
    );
    env.run(&[
        "start",
        "--respawn",
        "--name",
        &name,
        "--restart-delay",
        "10ms",
        "--max-restarts",
        "1",
        "--",
        script.to_str().unwrap(),
        &dir,
    ])
    .ok();
    let monitor = env.pid_of(&name);
    env.track(monitor);
    let cgroup = mount.join("rdaemon").join(env.cgroup_leaf(&name));
    assert!(cgroup.exists());
    let first = child_pid(&env, &name).unwrap();
    env.track(first);
    member_pids(&env, &format!("gc.{first}"));
    fs::write(env.path("go"), "").unwrap();
    wait_dead(monitor);
    // Both runs' grandchildren: the second's lived until the monitor gave up.
    let gcs: Vec<i32> = fs::read_dir(env.dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            let run = name.strip_prefix("gc.")?.parse::<i32>().ok()?;
            let pid = fs::read_to_string(env.path(&name)).unwrap();
            Some((run, pid.trim().parse::<i32>().unwrap()))
        })
        .map(|(_, gc)| gc)
        .collect();
    for &gc in &gcs {
        env.track(gc);
    }
    assert_eq!(gcs.len(), 2, "{gcs:?}");
    for gc in gcs {
        assert!(!alive(gc), "grandchild {gc} outlived the monitor");
    }
    assert_eq!(env.record(&name)["failed"], true);
    assert!(!cgroup.exists(), "{} is still there", cgroup.display());
}

#[test]
fn a_respawn_daemon_ending_cleanly_with_on_failure_removes_its_cgroup() {
    let test = "a_respawn_daemon_ending_cleanly_with_on_failure_removes_its_cgroup";
    let Some(mount) = cgroups_here(test) else {
        return;
    };
    let env = Env::new();
    let name = unique_name(&env, "clean");
    let (monitor, cgroup) =
        start_respawn_in_cgroup(&env, &mount, &name, &["--restart", "on-failure"], 0);
    wait_dead(monitor);
    assert_eq!(env.record(&name)["failed"], false);
    assert!(!cgroup.exists(), "{} is still there", cgroup.display());
}

/// A monitor told to stop leaves its cgroup to `stop`, which removes it once empty.
#[test]
fn a_stopped_respawn_daemon_has_its_cgroup_removed_by_stop() {
    let test = "a_stopped_respawn_daemon_has_its_cgroup_removed_by_stop";
    let Some(mount) = cgroups_here(test) else {
        return;
    };
    let env = Env::new();
    let name = unique_name(&env, "stopped");
    let script = setsid_escape_script(&env);
    let dir = env.dir().display().to_string();
    env.run(&[
        "start",
        "--respawn",
        "--name",
        &name,
        "--",
        script.to_str().unwrap(),
        &dir,
    ])
    .ok();
    let monitor = env.pid_of(&name);
    env.track(monitor);
    let gc = member_pids(&env, "gc.txt")[0];
    let cgroup = mount.join("rdaemon").join(env.cgroup_leaf(&name));
    assert!(cgroup.exists());
    env.run(&["stop", &name, "--timeout", "2s"]).ok();
    assert!(!alive(monitor));
    assert!(!alive(gc), "the setsid grandchild {gc} survived stop");
    assert!(!cgroup.exists(), "{} is still there", cgroup.display());
}

/// An exec-mode daemon that exited on its own leaves its cgroup (nothing of rdaemon is
/// resident to remove it); `forget` removes it with the record, and refuses while a process
/// that left the session is still in it.
#[test]
fn forget_removes_an_empty_cgroup_and_keeps_a_populated_one() {
    let test = "forget_removes_an_empty_cgroup_and_keeps_a_populated_one";
    let Some(mount) = cgroups_here(test) else {
        return;
    };
    let env = Env::new();
    let name = unique_name(&env, "forget");
    let cgroup = mount.join("rdaemon").join(env.cgroup_leaf(&name));
    let dir = env.dir().display().to_string();
    // A main process that leaves a setsid grandchild in the cgroup, and exits once `go` exists.
    let script = env.script(
        "leave.sh",
        &format!(
            r#"(setsid sh -c 'echo $$ > "$1/gc.tmp"; mv "$1/gc.tmp" "$1/gc.txt"; exec sleep {secs}' sh "$1" &)
until [ -e "$1/go" ]; do sleep 0.01; done"#,
            secs = unique_secs()
        ),
    );
    let main = env.start(&name, &[script.to_str().unwrap(), &dir]);
    let gc = member_pids(&env, "gc.txt")[0];
    fs::write(env.path("go"), "").unwrap();
    wait_dead(main);
    env.run(&["forget", &name])
        .code(1)
        .one_error_line()
        .stderr_has("has 1 process running in its cgroup");
    assert_left_alone(gc, "the refused forget");
    assert!(env.path(&format!("{name}.json")).exists(), "the spec went");
    env.run(&["stop", &name]).ok();
    assert!(!alive(gc));
    // Stopped: stop removed the cgroup. Now one left empty by a program that simply exits.
    env.run(&["start", "--name", &name, "--", "true"]).ok();
    assert!(cgroup.exists());
    wait_until("its cgroup is empty", DEADLINE, || {
        fs::read_to_string(cgroup.join("cgroup.events")).is_ok_and(|e| e.contains("populated 0"))
    });
    env.run(&["forget", &name])
        .ok()
        .stdout_has(&format!("forgot {name}"));
    assert!(!cgroup.exists(), "{} is still there", cgroup.display());
}

#[test]
fn tasks_max_is_the_pids_controllers_limit_or_a_clear_error() {
    let test = "tasks_max_is_the_pids_controllers_limit_or_a_clear_error";
    let Some(mount) = cgroups_here(test) else {
        return;
    };
    let env = Env::new();
    let name = unique_name(&env, "tm");
    let cgroup = mount.join("rdaemon").join(env.cgroup_leaf(&name));
    let offered = fs::read_to_string(mount.join("cgroup.subtree_control")).unwrap_or_default();
    if !offered.split_whitespace().any(|c| c == "pids") {
        eprintln!("{test}: no pids controller in '{}': checking the error (the limit itself is not tested here)", mount.display());
        let run = env
            .run(&[
                "start",
                "--name",
                &name,
                "--tasks-max",
                "5",
                "--",
                "sleep",
                &unique_secs(),
            ])
            .code(1)
            .one_error_line()
            .stderr_has("the pids controller is not available");
        drop(run);
        assert!(!env.path(&format!("{name}.pid")).exists());
        assert!(!cgroup.exists(), "{} was left behind", cgroup.display());
        return;
    }
    eprintln!("{test}: the pids controller is available: testing the limit");
    let secs = unique_secs();
    let script = env.script(
        "forks.sh",
        &format!("i=0\nwhile [ $i -lt 10 ]; do sleep {secs} & i=$((i+1)); done\nexec sleep {secs}"),
    );
    env.run(&[
        "start",
        "--name",
        &name,
        "--tasks-max",
        "5",
        "--",
        script.to_str().unwrap(),
    ])
    .ok();
    let main = env.pid_of(&name);
    assert_eq!(
        fs::read_to_string(cgroup.join("pids.max")).unwrap().trim(),
        "5"
    );
    wait_until("the forks are done", DEADLINE, || {
        stat(main).is_some_and(|_| {
            fs::read_to_string(format!("/proc/{main}/cmdline"))
                .is_ok_and(|c| c.starts_with("sleep"))
        })
    });
    for pid in live_pids_with_arg(&secs) {
        env.track(pid);
    }
    assert!(live_pids_with_arg(&secs).len() <= 5);
    env.run(&["stop", &name]).ok();
    assert!(!cgroup.exists());
}

/// `--memory-max` is the memory controller's `memory.max`, or, where cgroup2 offers no memory
/// controller (this machine keeps it on cgroup v1), one clear line and nothing started.
#[test]
fn memory_max_is_the_memory_controllers_limit_or_a_clear_error() {
    let test = "memory_max_is_the_memory_controllers_limit_or_a_clear_error";
    let Some(mount) = cgroups_here(test) else {
        return;
    };
    let env = Env::new();
    let name = unique_name(&env, "mm");
    let cgroup = mount.join("rdaemon").join(env.cgroup_leaf(&name));
    let offered = fs::read_to_string(mount.join("cgroup.subtree_control")).unwrap_or_default();
    let secs = unique_secs();
    let args = [
        "start",
        "--name",
        &name,
        "--memory-max",
        "64M",
        "--",
        "sleep",
        &secs,
    ];
    if !offered.split_whitespace().any(|c| c == "memory") {
        eprintln!(
            "{test}: no memory controller in '{}': checking the error (the limit itself is not tested here)",
            mount.display()
        );
        env.run(&args)
            .code(1)
            .one_error_line()
            .stderr_has("the memory controller is not available");
        assert_eq!(env.track_marked(&secs), Vec::<i32>::new(), "it started");
        assert!(!env.path(&format!("{name}.pid")).exists());
        assert!(!cgroup.exists(), "{} was left behind", cgroup.display());
        return;
    }
    eprintln!("{test}: the memory controller is available: testing the limit");
    env.run(&args).ok();
    let main = env.pid_of(&name);
    assert_eq!(
        fs::read_to_string(cgroup.join("memory.max"))
            .unwrap()
            .trim(),
        (64u64 << 20).to_string()
    );
    let procs = fs::read_to_string(cgroup.join("cgroup.procs")).unwrap();
    assert!(
        procs.lines().any(|p| p == main.to_string()),
        "{main} is not in {}: {procs}",
        cgroup.display()
    );
    env.run(&["stop", &name]).ok();
    assert!(!cgroup.exists());
}

#[test]
fn cgroup_on_as_a_user_fails_with_the_reason() {
    let test = "cgroup_on_as_a_user_fails_with_the_reason";
    if !is_root() {
        skip(test, "needs root to become nobody");
        return;
    }
    let env = Env::new();
    let theirs = env.path("nobody");
    fs::create_dir(&theirs).unwrap();
    nix::unistd::chown(&theirs, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    let bin = theirs.join("rdaemon");
    copy_executable(assert_cmd::cargo::cargo_bin!("rdaemon"), &bin);
    let mark = unique_secs();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .arg("--dir")
        .arg(theirs.join("d"))
        .args([
            "start", "--name", "x", "--cgroup", "on", "--", "sleep", &mark,
        ])
        .output()
        .unwrap();
    // Whatever it started anyway is the test's to kill.
    assert_eq!(env.track_marked(&mark), Vec::<i32>::new(), "it started x");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "rdaemon: cannot give x a cgroup: cgroups need root (rdaemon runs as uid 65534)\n"
    );
    assert!(!theirs.join("d/x.pid").exists());
}

#[test]
fn restart_overrides_and_keeps_the_containment_options() {
    let env = Env::new();
    let name = unique_name(&env, "ro");
    env.run(&[
        "start",
        "--name",
        &name,
        "--cgroup",
        "off",
        "--",
        "sleep",
        &unique_secs(),
    ])
    .ok();
    let rec = env.record(&name);
    assert_eq!(rec["cgroup_mode"], "off");
    assert!(rec["cgroup"].is_null(), "{rec}");
    let pid = env.pid_of(&name);
    // A limit without a cgroup is refused before anything is stopped.
    env.run(&["restart", &name, "--tasks-max", "7"]).code(2);
    assert_left_alone(pid, "the refused restart");
    env.run(&["restart", &name]).ok();
    assert_eq!(env.record(&name)["cgroup_mode"], "off", "kept by restart");
    env.run(&["stop", &name]).ok();
}

#[test]
fn malformed_containment_options_are_usage_errors() {
    let env = Env::new();
    for args in [
        &["--cgroup", "maybe"][..],
        &["--memory-max", "lots"],
        &["--memory-max", "0"],
        &["--tasks-max", "0"],
        &["--tasks-max", "-1"],
        &["--cgroup", "off", "--tasks-max", "5"],
    ] {
        let mut all = vec!["start", "--name", "m"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--", "sleep", "1000"]);
        let run = env.run(&all).code(2);
        assert!(run.stderr.starts_with("rdaemon: "), "{}", run.dump());
        assert!(!env.path("m.pid").exists(), "{args:?}");
    }
}

/// A program that never becomes ready is stopped whole: a descendant that left its session with
/// `setsid` goes with it, through its cgroup, and the cgroup is removed.
#[test]
fn a_start_that_is_never_ready_stops_what_escaped_its_session() {
    let test = "a_start_that_is_never_ready_stops_what_escaped_its_session";
    let Some(mount) = cgroups_here(test) else {
        return;
    };
    let env = Env::new();
    let name = unique_name(&env, "unready");
    let script = setsid_escape_script(&env);
    let dir = env.dir().display().to_string();
    let port = free_port().to_string();
    let script = script.to_str().unwrap();
    let out = env
        .run(&[
            "start",
            "--name",
            &name,
            "--ready",
            &format!("tcp:{port}"),
            "--ready-timeout",
            "3s",
            "--",
            script,
            &dir,
        ])
        .code(1);
    let gc = member_pids(&env, "gc.txt")[0];
    out.stderr_has("stopped it (pid ");
    assert!(
        !alive(gc),
        "the setsid grandchild {gc} survived the failed start"
    );
    let cgroup = mount.join("rdaemon").join(env.cgroup_leaf(&name));
    assert!(!cgroup.exists(), "{} is still there", cgroup.display());
}

/// Without a cgroup, what the program left in its session in another process group is stopped
/// with it when it never becomes ready.
#[test]
fn a_start_that_is_never_ready_stops_its_session_without_a_cgroup() {
    let Some(py) =
        python3_or_skip("a_start_that_is_never_ready_stops_its_session_without_a_cgroup")
    else {
        return;
    };
    let env = Env::new();
    let script = env.script(
        "member.sh",
        &format!(
            r#"'{py}' -c 'import os, sys, time; os.setpgid(0, 0); open(sys.argv[1] + "/m.tmp", "w").write(str(os.getpid())); os.rename(sys.argv[1] + "/m.tmp", sys.argv[1] + "/m.txt"); time.sleep({secs})' "$1" &
exec sleep 1000"#,
            py = py.display(),
            secs = unique_secs()
        ),
    );
    let dir = env.dir().display().to_string();
    let port = free_port().to_string();
    let out = env
        .run(&[
            "start",
            "--name",
            "unready",
            "--cgroup",
            "off",
            "--ready",
            &format!("tcp:{port}"),
            "--ready-timeout",
            "3s",
            "--",
            script.to_str().unwrap(),
            &dir,
        ])
        .code(1);
    let member = member_pids(&env, "m.txt")[0];
    out.stderr_has("stopped it (pid ");
    assert!(
        !alive(member),
        "the member {member} in its own group survived the failed start"
    );
}

/// A daemon killed outright (the OOM killer) leaves its other processes; `start NAME` and
/// `resurrect` stop them before the new copy starts, as `restart` does through its stop: they
/// would otherwise run on beside it (holding its cgroup, its ports), out of reach of any later
/// `stop`.
#[test]
fn start_and_resurrect_stop_what_a_killed_daemon_left() {
    let test = "start_and_resurrect_stop_what_a_killed_daemon_left";
    // Decided before the work: whether the new copy must have a cgroup (the rest runs anyway).
    let cgroups = cgroups_here(test).is_some();
    for verb in ["start", "resurrect"] {
        let env = Env::new();
        // Its own name: cgroups are global, and another test's "web" could hold rdaemon/web.
        let name = unique_name(&env, "left");
        let (main, members) = start_with_members(&env, &name, 1, false);
        kill(NixPid::from_raw(main), Signal::SIGKILL).unwrap();
        wait_dead(main);
        assert!(alive(members[0]));
        let args = match verb {
            "start" => vec!["start", name.as_str()],
            _ => vec!["resurrect"],
        };
        env.run(&args)
            .ok()
            .stdout_has(&format!("stopped leftovers of {name}: 1 process"))
            .stdout_has(&format!("started {name}"));
        assert!(
            !alive(members[0]),
            "{verb} left member {} running",
            members[0]
        );
        env.track(env.pid_of(&name));
        let report = env.run(&["status", &name, "--json"]).ok();
        let report: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
        if cgroups {
            assert!(
                !report["cgroup"].is_null(),
                "the new copy got no cgroup: {report}"
            );
        }
        env.run(&["stop", &name]).ok();
    }
}

/// `sh -c LINE` as daemon `name` with `--cgroup MODE`, run in the test's directory, where
/// LINE leaves a process behind that writes its pid to `left.pid` (renamed into place): the
/// main process's pid and the leftover's, both tracked.
fn start_with_leftover(env: &Env, name: &str, mode: &str, line: &str) -> (i32, i32) {
    let dir = env.dir().to_str().unwrap();
    env.run(&[
        "start", "--name", name, "--cgroup", mode, "--chdir", dir, "--", "sh", "-c", line,
    ])
    .ok();
    let main = env.pid_of(name);
    env.track(main);
    let left: i32 = fs::read_to_string(env.wait_file("left.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    env.track(left);
    (main, left)
}

/// A program whose main thread ends while another thread runs on (`pthread_exit`), ignoring
/// SIGTERM: `/proc/PID/stat` then shows `Z` for it, alive all the same. Writes its pid to
/// `left.pid` first. `run` is the Python of the function the other thread runs.
fn main_thread_gone(run: &str) -> String {
    format!(
        r#"import ctypes, os, signal, threading, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
{run}
threading.Thread(target=run).start()
with open("left.tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename("left.tmp", "left.pid")
ctypes.CDLL(None).pthread_exit(None)
"#
    )
}

/// For [`main_thread_gone`]: the other thread sleeps.
const SLEEPS: &str = "def run():
    while True:
        time.sleep(1)";

/// For [`main_thread_gone`]: the other thread forks all the time (keeping 100 children, each
/// ignoring SIGTERM and asleep in `pause`).
const FORKS: &str = "def run():
    live = 0
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                live -= 1
        except ChildProcessError:
            pass
        if live >= 100:
            time.sleep(0.001)
            continue
        if os.fork() == 0:
            while True:
                signal.pause()
        live += 1";

/// A leftover whose main thread has ended while its other thread runs on is a leftover, in a
/// cgroup and without one (review, 2026-12-03: it was taken for gone by the session's rules,
/// and `cgroup.kill` left it running, so that `stop` failed after its whole schedule).
#[test]
fn a_leftover_whose_main_thread_has_ended_is_stopped() {
    const TEST: &str = "a_leftover_whose_main_thread_has_ended_is_stopped";
    let Some(python) = python3_or_skip(TEST) else {
        return;
    };
    let mut modes = vec!["off"];
    if cgroups_here(TEST).is_some() {
        modes.push("on");
    }
    for mode in modes {
        let env = Env::new();
        fs::write(env.path("zl.py"), main_thread_gone(SLEEPS)).unwrap();
        let line = format!(
            "'{}' zl.py & exec sleep {}",
            python.display(),
            unique_secs()
        );
        let (main, left) = start_with_leftover(&env, "zl", mode, &line);
        wait_until("its main thread has ended", DEADLINE, || {
            stat(left).is_some_and(|s| s.state == 'Z' && s.threads > 1)
        });
        assert!(alive(left));
        kill(NixPid::from_raw(main), Signal::SIGKILL).unwrap();
        wait_dead(main);
        env.run(&["status", "zl"])
            .code(1)
            .stdout_has("zl is dead")
            .stdout_has("1 leftover process");
        env.run(&["stop", "zl", "--timeout", "1s"])
            .ok()
            .stdout_has("stopped leftovers of zl: 1 process (with SIGKILL)");
        assert!(
            !alive(left),
            "--cgroup {mode}: the leftover survived the stop"
        );
    }
}

/// What such a leftover forks while its cgroup is killed goes too: `cgroup.kill` misses the
/// leftover itself, its SIGKILL by pidfd comes after the children it forked since
/// `cgroup.procs` was read, and `cgroup.kill` is written again for those (second review of
/// 2026-12-03: they outlived the stop, which failed after its schedule, in 4 runs of 5).
#[test]
fn what_a_leftover_forks_while_its_cgroup_is_killed_goes_too() {
    const TEST: &str = "what_a_leftover_forks_while_its_cgroup_is_killed_goes_too";
    let Some(python) = python3_or_skip(TEST) else {
        return;
    };
    if cgroups_here(TEST).is_none() {
        return;
    }
    let env = Env::new();
    fs::write(env.path("zf.py"), main_thread_gone(FORKS)).unwrap();
    for round in 0..3 {
        let _ = fs::remove_file(env.path("left.pid"));
        let mark = unique_secs();
        let line = format!("'{}' zf.py {mark} & exec sleep {mark}", python.display());
        let (_, left) = start_with_leftover(&env, "zf", "on", &line);
        wait_until("it has forked its children", DEADLINE, || {
            env.track_marked(&mark).len() > 50
        });
        let run = env.run(&["stop", "zf", "--timeout", "1s"]);
        let survivors = env.track_marked(&mark);
        run.ok();
        assert!(!alive(left), "round {round}: the leftover survived");
        assert!(
            survivors.is_empty(),
            "round {round}: its children survived: {survivors:?}"
        );
    }
}

/// A program with a second thread, which writes that thread's id to `tid` and sleeps.
const TWO_THREADS: &str = r#"import os, threading, time
def run():
    with open("tid.tmp", "w") as f:
        f.write(str(threading.get_native_id()))
    os.rename("tid.tmp", "tid")
    while True:
        time.sleep(1)
threading.Thread(target=run, daemon=True).start()
while True:
    time.sleep(1)
"#;

/// Seizes the thread `argv[1]` with ptrace (no stop, no options), says `seized`, and never
/// collects it: once it exits it stays a zombie, as under a busy `strace -f` or `gdb`.
const TRACER: &str = r#"import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
if libc.ptrace(0x4206, int(sys.argv[1]), None, None) != 0:
    print("ptrace failed", ctypes.get_errno(), flush=True)
    sys.exit(1)
print("seized", flush=True)
time.sleep(1000)
"#;

/// `two.py` as daemon `name`, with its second thread seized by `tracer.py`: the daemon's pid
/// and the tracer, or `None` (said) where the tracer cannot seize it.
fn start_traced(env: &Env, python: &std::path::Path, name: &str) -> Option<(i32, OwnChild)> {
    let _ = fs::remove_file(env.path("tid"));
    env.run(&[
        "start",
        "--name",
        name,
        "--chdir",
        env.dir().to_str().unwrap(),
        "--",
        python.to_str().unwrap(),
        "two.py",
    ])
    .ok();
    let pid = env.pid_of(name);
    env.track(pid);
    let tid = fs::read_to_string(env.wait_file("tid")).unwrap();
    let mut tracer = OwnChild(
        std::process::Command::new(python)
            .arg(env.path("tracer.py"))
            .arg(tid.trim())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut said = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(tracer.0.stdout.as_mut().unwrap()),
        &mut said,
    )
    .unwrap();
    if said.trim() != "seized" {
        skip(
            "a_process_whose_exited_threads_a_tracer_holds_is_dead",
            &format!("the tracer could not seize the thread: {said}"),
        );
        return None;
    }
    Some((pid, tracer))
}

/// A daemon of two threads, one held by a tracer (as under `gdb` or `strace -f`): once it is
/// killed both threads are zombies, and `/proc` shows `Z` with two threads. It is dead, whether
/// it was killed before the `stop` or by it: `stop` ends as soon as its schedule allows, and a
/// new `start` runs at once, while the tracer still holds the old one (helper-86's review,
/// 2026-12-03: the rule that a zombie main thread with other threads is alive made `stop` fail
/// after its whole schedule; helper-87's field trial: `start` then said "already running" and
/// started nothing, and a `stop` that killed it itself failed).
#[test]
fn a_process_whose_exited_threads_a_tracer_holds_is_dead() {
    const TEST: &str = "a_process_whose_exited_threads_a_tracer_holds_is_dead";
    let Some(python) = python3_or_skip(TEST) else {
        return;
    };
    if !is_root() {
        return skip(TEST, "ptrace of another process needs root here");
    }
    let env = Env::new();
    fs::write(env.path("two.py"), TWO_THREADS).unwrap();
    fs::write(env.path("tracer.py"), TRACER).unwrap();
    for killed_before in [true, false] {
        let Some((pid, tracer)) = start_traced(&env, &python, "mt") else {
            return;
        };
        if killed_before {
            kill(NixPid::from_raw(pid), Signal::SIGKILL).unwrap();
            wait_until("both threads are zombies", DEADLINE, || {
                stat(pid).is_some_and(|s| s.state == 'Z' && s.threads > 1) && !alive(pid)
            });
        }
        // (`status` may call it running until the tracer lets go: its pidfd says the process
        // has ended only once every thread is collected, as before.)
        env.run(&["stop", "mt", "--timeout", "1s"]).ok();
        assert!(!alive(pid), "killed before the stop: {killed_before}");
        env.run(&["start", "--name", "mt", "--", "sleep", &unique_secs()])
            .ok()
            .stdout_has("started mt");
        let new = env.pid_of("mt");
        env.track(new);
        assert!(new != pid && alive(new));
        env.run(&["stop", "mt"]).ok();
        drop(tracer);
    }
}

/// A cgroup of the v1 freezer holding one process, frozen: it cannot act on any signal, even
/// SIGKILL, until thawed. Thawed (its SIGKILL then ends it) and removed on drop.
struct Frozen(std::path::PathBuf);

impl Frozen {
    /// Freezes `pid` in a new freezer cgroup (named for this test run and `pid`); `None` where
    /// there is no v1 freezer.
    fn freeze(pid: i32) -> Option<Frozen> {
        let root = std::path::Path::new("/sys/fs/cgroup/freezer");
        if !root.join("cgroup.procs").exists() {
            return None;
        }
        let dir = root.join(format!("rdaemon-test-{}-{pid}", std::process::id()));
        fs::create_dir(&dir).ok()?;
        let frozen = Frozen(dir);
        fs::write(frozen.0.join("cgroup.procs"), pid.to_string()).ok()?;
        fs::write(frozen.0.join("freezer.state"), "FROZEN").ok()?;
        wait_until("the freezer has frozen it", DEADLINE, || {
            fs::read_to_string(frozen.0.join("freezer.state")).is_ok_and(|s| s.trim() == "FROZEN")
        });
        Some(frozen)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = fs::write(self.0.join("freezer.state"), "THAWED");
        let root = std::path::Path::new("/sys/fs/cgroup/freezer/cgroup.procs");
        if let Ok(procs) = fs::read_to_string(self.0.join("cgroup.procs")) {
            for pid in procs.lines() {
                let _ = fs::write(root, pid);
            }
        }
        let deadline = std::time::Instant::now() + DEADLINE;
        while fs::remove_dir(&self.0).is_err() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// A leftover that takes its time to die after SIGKILL (frozen here; in uninterruptible I/O
/// on a hung mount elsewhere) is waited for on the stop's schedule, and Ctrl-C (SIGTERM here)
/// still ends the stop, naming it (helper-86's review, 2026-12-03: after `cgroup.kill`, a
/// loop of its own killed it again for 5 s, deaf to the signal, and then failed the stop with
/// "processes keep appearing in it").
#[test]
fn a_leftover_slow_to_die_after_sigkill_leaves_the_stop_interruptible() {
    const TEST: &str = "a_leftover_slow_to_die_after_sigkill_leaves_the_stop_interruptible";
    if cgroups_here(TEST).is_none() {
        return;
    }
    let env = Env::new();
    let line = format!(
        "setsid sh -c 'trap \"\" TERM; echo $$ > left.tmp; mv left.tmp left.pid; exec sleep {}' & exec sleep {}",
        unique_secs(),
        unique_secs()
    );
    let (main, left) = start_with_leftover(&env, "fz", "on", &line);
    let Some(frozen) = Frozen::freeze(left) else {
        return skip(TEST, "no v1 freezer cgroup here");
    };
    kill(NixPid::from_raw(main), Signal::SIGKILL).unwrap();
    wait_dead(main);
    let stop = env.in_background("stop", &["fz", "--retry", "TERM/1/KILL/30"]);
    // It ignores SIGTERM: pending SIGKILL is the schedule's KILL step (a fatal signal would
    // show as one too).
    wait_until("the leftover has SIGKILL pending", DEADLINE, || {
        signal_pending(left, Signal::SIGKILL)
    });
    kill(NixPid::from_raw(stop.pid()), Signal::SIGTERM).unwrap();
    let out = stop.output_within(DEADLINE, "the interrupted stop ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "stop of fz interrupted by SIGTERM: its main process is gone, but its leftover process {left} still runs"
        )),
        "{stderr}"
    );
    drop(frozen);
    wait_dead(left);
    env.run(&["stop", "fz"]).ok();
}

/// A TERM-ignoring daemon whose `sleep`, in its process group, got the stop schedule's
/// SIGKILL with the group and is still being torn down when `stop` turns to what the main
/// process left (frozen here, so that it is every time; on a busy machine it was, 2
/// whole-suite runs in 3): `stop` waits for it without killing it again, and does not count
/// it as a leftover it stopped (98feda1: it said "stopped st with SIGKILL after 1s; 1
/// leftover process stopped (with SIGKILL)"). `cgroup`, the cgroup2 mount, for a daemon with a
/// cgroup (the cgroup's stop); `None` for one without (the session's sweep).
fn stop_waits_for_its_group_member_killed_by_the_schedule(
    test: &str,
    name: &str,
    cgroup: Option<std::path::PathBuf>,
) {
    let env = Env::new();
    let line = format!(
        "trap '' TERM; sleep {} & echo $! > left.tmp; mv left.tmp left.pid; wait",
        unique_secs()
    );
    let mode = match cgroup {
        Some(_) => "on",
        None => "off",
    };
    let (main, left) = start_with_leftover(&env, name, mode, &line);
    assert_eq!(
        stat(left).unwrap().pgrp,
        main,
        "the sleep is in the daemon's group"
    );
    let Some(frozen) = Frozen::freeze(left) else {
        return skip(test, "no v1 freezer cgroup here");
    };
    let events = cgroup.map(|m| {
        m.join("rdaemon")
            .join(env.cgroup_leaf(name))
            .join("cgroup.events")
    });
    let mut stop = env.in_background("stop", &[name, "--retry", "TERM/200ms/KILL/30"]);
    // Past where the code before 98feda1 killed and counted it: the sweep holds it by pidfd
    // only from its scan on, and signals it before its first wait; the cgroup's stop opens
    // `cgroup.events` for its first wait, after its SIGKILL step.
    wait_until("the stop waits for the frozen sleep", DEADLINE, || {
        stop.has_ended()
            || (in_poll(stop.pid())
                && match &events {
                    None => holds_pidfd(stop.pid(), left),
                    Some(events) => fds(stop.pid()).iter().any(|(_, p)| p == events),
                })
    });
    let pending = signal_pending(left, Signal::SIGKILL);
    drop(frozen);
    let out = stop.output_within(DEADLINE, "the stop ends once the sleep is thawed");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        pending,
        "the schedule's SIGKILL did not reach the sleep: {said}"
    );
    assert!(out.status.success(), "{said}");
    assert_eq!(
        said,
        format!("stopped {name} (pid {main}) with SIGKILL after 200ms\n")
    );
    assert!(!alive(main) && !alive(left));
    if let Some(events) = events {
        let dir = events.parent().unwrap();
        assert!(!dir.exists(), "{} is still there", dir.display());
    }
}

#[test]
fn the_sweep_waits_for_a_group_member_killed_by_the_schedule_without_counting_it() {
    const TEST: &str =
        "the_sweep_waits_for_a_group_member_killed_by_the_schedule_without_counting_it";
    if !need_root(TEST) {
        return;
    }
    stop_waits_for_its_group_member_killed_by_the_schedule(TEST, "gs", None);
}

#[test]
fn the_cgroup_stop_waits_for_a_group_member_killed_by_the_schedule_without_counting_it() {
    const TEST: &str =
        "the_cgroup_stop_waits_for_a_group_member_killed_by_the_schedule_without_counting_it";
    let Some(mount) = cgroups_here(TEST) else {
        return;
    };
    stop_waits_for_its_group_member_killed_by_the_schedule(TEST, "gc", Some(mount));
}

/// A program that ignores SIGTERM, ends its main thread, and whose threads replace themselves
/// all the time: each starts its successor and returns.
const THREAD_CHURN: &str = r#"import ctypes, signal, threading
signal.signal(signal.SIGTERM, signal.SIG_IGN)
def hop():
    threading.Thread(target=hop).start()
threading.Thread(target=hop).start()
ctypes.CDLL(None).pthread_exit(None)
"#;

/// A daemon whose main thread has ended and whose threads come and go all the time is alive
/// at every look: `start` never starts a second copy beside it, and `stop` needs its SIGKILL
/// (helper-88's review, 2026-12-03: one reading of its threads missed the one made meanwhile,
/// took it for dead, and `stop` said it stopped it while it ran on, and `start` ran another).
#[test]
fn a_daemon_whose_threads_come_and_go_is_alive_at_every_look() {
    const TEST: &str = "a_daemon_whose_threads_come_and_go_is_alive_at_every_look";
    let Some(python) = python3_or_skip(TEST) else {
        return;
    };
    let env = Env::new();
    fs::write(env.path("churn.py"), THREAD_CHURN).unwrap();
    let start = [
        "start",
        "--name",
        "ch",
        "--cgroup",
        "off",
        "--chdir",
        env.dir().to_str().unwrap(),
        "--",
        python.to_str().unwrap(),
        "churn.py",
    ];
    env.run(&start).ok();
    let pid = env.pid_of("ch");
    env.track(pid);
    wait_until("its main thread has ended", DEADLINE, || {
        stat(pid).is_some_and(|s| s.state == 'Z')
    });
    for _ in 0..30 {
        env.run(&start)
            .ok()
            .stdout_has(&format!("ch is already running (pid {pid})"));
    }
    env.run(&["stop", "ch", "--timeout", "1s"])
        .ok()
        .stdout_has("SIGKILL");
    wait_dead(pid);
}

/// More escaped children than rdaemon has descriptors for pidfds: a daemon without a cgroup
/// whose program made 300 `setsid` children, stopped (and started, so the monitor too) with
/// `RLIMIT_NOFILE` at 256. Every one of them goes at `stop`: those past the pidfds rdaemon
/// may hold are held by pid and start time (helper-102's attack, 2026-12-03: with every
/// descriptor a pidfd, the `/proc` reads failed, the rest were not held at all, and `stop`
/// said "stopped" while they ran on). In exec mode `stop` holds them; in respawn mode the
/// monitor does.
#[test]
fn more_escaped_children_than_descriptors_are_all_stopped() {
    let env = Env::new();
    let mark = unique_secs();
    let script = env.script(
        "many.sh",
        &format!(
            r#"i=0; while [ $i -lt 300 ]; do setsid sleep {mark} & i=$((i+1)); done; : > "$1"; wait"#
        ),
    );
    let limited = || env.wrapped(&["sh", "-c", "ulimit -n 256 && exec \"$0\" \"$@\""]);
    for (name, mode) in [("plain", None), ("kept", Some("--respawn"))] {
        let made = env.path(&format!("{name}.made"));
        let mut args = vec!["start", "--name", name, "--cgroup", "off"];
        args.extend(mode);
        args.extend(["--", script.to_str().unwrap(), made.to_str().unwrap()]);
        env.run_cmd(limited(), &args).ok();
        env.wait_file(&format!("{name}.made"));
        // Forked, each runs `sleep` once its exec is done.
        wait_until("300 children run sleep", DEADLINE, || {
            env.track_marked(&mark).len() == 300
        });
        env.run_cmd(limited(), &["stop", name])
            .ok()
            .stdout_has(&format!("stopped {name}"));
        let left = live_pids_with_arg(&mark);
        assert!(left.is_empty(), "{name}: {} left running", left.len());
        env.run(&["status", name]).code(3);
    }
}
