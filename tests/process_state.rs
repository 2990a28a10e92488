//! SPEC §2, the daemon's process state, read from `/proc/PID/status`, `/proc/PID/stat` and
//! `/proc/PID/fd`: no ignored and no blocked signal, only fds 0, 1 and 2, no controlling
//! terminal and no way to acquire one (not a session leader) — also when rdaemon itself was
//! started with everything ignored and blocked, extra fds open, and a terminal.
//!
//! Each test first shows, with a control process started the same way without rdaemon, that the
//! hostile state really is inherited, so that a pass means rdaemon cleaned it up.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use nix::libc;

use crate::common::*;

/// The kernel's `struct sigaction` on x86_64 and aarch64 (glibc's `sigaction` refuses the
/// real-time signals 32 and 33 that it reserves; the system call does not).
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// Makes `cmd` start with every signal ignored (SIGPIPE and SIGCHLD included) and blocked, and
/// with `/dev/null` left open on fds 100 and 1000 without close-on-exec.
fn hostile(cmd: &mut Command, devnull: &OwnedFd) {
    let extra = devnull.as_raw_fd();
    // SAFETY: between fork and exec the closure makes only async-signal-safe system calls
    // (rt_sigaction, rt_sigprocmask, dup2) on stack data.
    unsafe {
        cmd.pre_exec(move || {
            let ignore = KernelSigaction {
                handler: libc::SIG_IGN,
                flags: 0,
                restorer: 0,
                mask: 0,
            };
            for sig in 1..=64 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::syscall(
                        libc::SYS_rt_sigaction,
                        sig,
                        &ignore as *const KernelSigaction,
                        std::ptr::null_mut::<KernelSigaction>(),
                        8usize,
                    );
                }
            }
            let all: u64 = !0;
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                &all as *const u64,
                std::ptr::null_mut::<u64>(),
                8usize,
            );
            libc::dup2(extra, 100);
            libc::dup2(extra, 1000);
            Ok(())
        });
    }
}

/// What `cat /proc/self/status` and `ls /proc/self/fd` report when started under `hostile`.
fn control_output(devnull: &OwnedFd) -> String {
    let mut text = String::new();
    for argv in [["cat", "/proc/self/status"], ["ls", "/proc/self/fd"]] {
        let mut cmd = Command::new(argv[0]);
        cmd.arg(argv[1]);
        hostile(&mut cmd, devnull);
        let out = cmd.output().unwrap();
        text.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    text
}

#[test]
fn ignored_and_blocked_signals_and_extra_fds_do_not_leak_into_the_daemon() {
    let env = Env::new();
    let devnull = OwnedFd::from(fs::File::open("/dev/null").unwrap());
    let control = control_output(&devnull);
    // Everything but SIGKILL (9) and SIGSTOP (19), which cannot be ignored or blocked.
    assert!(
        control.contains("SigIgn:\tfffffffffffbfeff")
            && control.contains("SigBlk:\tfffffffffffbfeff")
            && control.lines().any(|l| l == "1000"),
        "the hostile set-up is not inherited, the test would prove nothing:\n{control}"
    );

    let mut cmd = env.std_cmd();
    hostile(&mut cmd, &devnull);
    env.run_cmd(
        assert_cmd::Command::from_std(cmd),
        &["start", "--name", "clean", "--", "sleep", &unique_secs()],
    )
    .ok()
    .stdout_has("started clean");
    let pid = env.pid_of("clean");
    assert_eq!(status_field(pid, "SigBlk"), "0000000000000000");
    assert_eq!(status_field(pid, "SigIgn"), "0000000000000000");
    wait_asleep(pid);
    let log = env.path("clean.log");
    assert_eq!(
        fds(pid),
        vec![(0, "/dev/null".into()), (1, log.clone()), (2, log)]
    );
    // And rdaemon, with all of that, still stops it.
    env.run(&["stop", "clean"]).ok();
    assert!(!alive(pid));
}

#[test]
fn inherited_signal_state_and_fds_do_not_leak() {
    // The common case of a careless parent: SIGPIPE and SIGHUP ignored, a couple of signals
    // blocked, one fd left open.
    let env = Env::new();
    let extra = fs::File::open("/dev/null").unwrap();
    let extra_fd = extra.as_raw_fd();
    let mut cmd = env.std_cmd();
    // SAFETY: between fork and exec in the test's child we only call async-signal-safe
    // functions (sigprocmask, signal, fcntl) on stack data.
    unsafe {
        cmd.pre_exec(move || {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR1);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
            // Leave the extra fd open across exec, as a careless parent would.
            libc::fcntl(extra_fd, libc::F_SETFD, 0);
            Ok(())
        });
    }
    env.run_cmd(
        assert_cmd::Command::from_std(cmd),
        &["start", "--name", "clean", "--", "sleep", "1000"],
    )
    .ok();
    let pid = env.pid_of("clean");
    assert_eq!(status_field(pid, "SigBlk"), "0000000000000000");
    assert_eq!(status_field(pid, "SigIgn"), "0000000000000000");
    wait_asleep(pid);
    assert_eq!(fd_numbers(pid), [0, 1, 2]);
    drop(extra);
}

#[test]
fn daemon_has_no_controlling_terminal_and_cannot_acquire_one() {
    let env = Env::new();
    let (_master, slave) = open_pty();
    let slave_path = slave.to_str().unwrap().to_owned();
    // Opens the terminal without O_NOCTTY (which would make it the controlling terminal of a
    // session leader that has none), then asks for /dev/tty, the controlling terminal.
    let script = env.script(
        "tty.sh",
        "exec 3<>\"$1\"\nif (: > /dev/tty) 2>/dev/null; then echo HAS_TTY; else echo NO_TTY; fi\n[ -n \"$2\" ] && exec sleep \"$2\"\nexit 0",
    );

    let mut control = Command::new(&script);
    control.arg(&slave_path).stdout(Stdio::piped());
    with_controlling_tty(&mut control, slave.clone(), false);
    let out = control.output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "HAS_TTY\n",
        "the control process has no terminal, the test would prove nothing"
    );

    let mut cmd = env.std_cmd();
    with_controlling_tty(&mut cmd, slave, false);
    env.run_cmd(
        assert_cmd::Command::from_std(cmd),
        &[
            "start",
            "--name",
            "notty",
            "--",
            script.to_str().unwrap(),
            &slave_path,
            &unique_secs(),
        ],
    )
    .ok();
    let pid = env.pid_of("notty");
    let log = env.path("notty.log");
    wait_until("the daemon has tried its terminal", DEADLINE, || {
        fs::read_to_string(&log).is_ok_and(|s| !s.is_empty())
    });
    assert_eq!(fs::read_to_string(&log).unwrap(), "NO_TTY\n");
    let st = stat(pid).unwrap();
    assert_eq!(st.tty_nr, 0, "the daemon has a controlling terminal");
    assert_ne!(st.session, pid, "the daemon is a session leader");
    assert_eq!(st.pgrp, pid, "the daemon leads its own process group");
    let me = stat(std::process::id() as i32).unwrap();
    assert_ne!(st.session, me.session);
}
