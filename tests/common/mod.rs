//! The test harness: every test gets an [`Env`] with its own temporary `RDAEMON_DIR` and a
//! scrubbed environment, runs the real binary, checks real processes in `/proc`, and kills what
//! it started by pid (after checking the pid still is that process) when it is dropped, also
//! when the test fails.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::ffi::CString;
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid as NixPid;

/// Generous deadline for anything a test waits for: these machines are shared and noisy.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `cond` every 5 ms until it holds; panics naming `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting until {what}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether a live `mv` has `target` among its arguments (a zombie has an empty cmdline), or an
/// `mv` is exiting.
fn mv_running(target: &[u8]) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|entry| {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            return false;
        };
        // An exiting process's cmdline reads empty once its memory is gone, before it is a
        // zombie: an `mv` in that state (any, its arguments gone) still counts as running.
        if cmdline.is_empty() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let (name, rest) = match (stat.find('('), stat.rfind(')')) {
                (Some(a), Some(b)) if a < b => (&stat[a + 1..b], &stat[b + 1..]),
                _ => return false,
            };
            let state = rest.trim_start().chars().next().unwrap_or('Z');
            return name == "mv" && !matches!(state, 'Z' | 'X');
        }
        let mut args = cmdline.split(|&b| b == 0);
        let is_mv = args
            .next()
            .is_some_and(|argv0| argv0 == b"mv" || argv0.ends_with(b"/mv"));
        is_mv && args.any(|arg| arg == target)
    })
}

/// Sets its flag when dropped, also when the test panics: threads that poll until the flag is
/// set (inside `std::thread::scope`, which joins them before it returns or unwinds) then stop,
/// and a failure fails instead of hanging on them.
pub struct SetOnDrop<'a>(pub &'a std::sync::atomic::AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether `sig` is in the signal mask `field` (`SigCgt`, `ShdPnd`, ...) of
/// `/proc/PID/status`.
fn in_signal_mask(pid: i32, field: &str, sig: Signal) -> bool {
    fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (sig as i32 - 1)) != 0)
    })
}

/// Whether signal `sig` has a handler in `pid` (`SigCgt`): a `start` in its readiness wait
/// catches SIGINT and SIGTERM.
pub fn catches(pid: i32, sig: Signal) -> bool {
    in_signal_mask(pid, "SigCgt", sig)
}

/// Whether `sig` was sent to the process `pid` and not yet delivered: `ShdPnd`, what `kill`
/// leaves pending for the whole process, or `SigPnd`, its main thread's (where the kernel
/// puts a SIGKILL).
pub fn signal_pending(pid: i32, sig: Signal) -> bool {
    in_signal_mask(pid, "ShdPnd", sig) || in_signal_mask(pid, "SigPnd", sig)
}

/// Sends SIGINT (a Ctrl-C) to `pid`.
pub fn interrupt(pid: i32) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGINT).unwrap();
}

/// Gives `cmd` the default disposition of SIGINT, SIGTERM and SIGHUP, whatever the test run
/// inherited: `start` leaves a signal its caller ignored ignored (a shell's background job
/// ignores SIGINT, `nohup` SIGHUP), so a test that interrupts a `start` with one of them must
/// not depend on how the tests themselves were run.
pub fn interruptible(cmd: &mut std::process::Command) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: signal(2) is async-signal-safe; SIG_DFL installs no handler code.
    unsafe {
        cmd.pre_exec(|| {
            for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
                nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigDfl)?;
            }
            Ok(())
        })
    }
}

/// `rdaemon start --name NAME EXTRA... --ready-timeout 60s --ready file:NEVER -- sleep MARK` in
/// the background, its output piped: a start that waits for a file that never comes, until it
/// is signalled ([`interruptible`], whatever the test run ignores).
pub fn start_waiting(
    env: &Env,
    name: &str,
    extra: &[&str],
    never: &Path,
    mark: &str,
) -> Background {
    let mut cmd = env.std_cmd();
    cmd.args(["start", "--name", name])
        .args(extra)
        .args(["--ready-timeout", "60s", "--ready"])
        .arg(format!("file:{}", never.display()))
        .args(["--", "sleep", mark])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    Background::spawn(interruptible(&mut cmd))
}

/// Whether `pid` is asleep in a `poll` or `ppoll` now (its wchan).
pub fn in_poll(pid: i32) -> bool {
    alive(pid) && fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("poll"))
}

/// Waits until `start`, an `rdaemon start --ready ...` in the background, is in its readiness
/// wait with at least one look behind it that found the daemon not ready: once `launched` holds
/// (the daemon's pidfile exists; in respawn mode, its record names the child), `start` blocks in
/// a `poll` only in the pause between two looks of its wait (or, `cmd:`, while a try runs), and
/// after a look that found the daemon ready it never polls again before it exits. So a fixture
/// that holds its program back until the test lets it go (a `go` file) can check that `start`
/// waited for the program instead of hoping that the program is slower than `start`: a `start`
/// that returns before the go did not wait, and fails the test here, with its output. The
/// daemon's pidfile is tracked for cleanup first.
pub fn wait_start_waits(
    env: &Env,
    start: &mut Background,
    what: &str,
    mut launched: impl FnMut() -> bool,
) {
    let mut ended = false;
    wait_until(&format!("start waits for {what}"), DEADLINE, || {
        ended = start.has_ended();
        ended || (launched() && in_poll(start.pid()))
    });
    env.track_pidfiles();
    if ended {
        did_not_wait(start, what);
    }
}

/// Fails the test for a `start` that ended (reaped) while its program was held back, with its
/// output.
fn did_not_wait(start: &mut Background, what: &str) -> ! {
    let out = start.0.take().unwrap().wait_with_output().unwrap();
    panic!(
        "start ended before {what}, which the program holds back: it did not wait\n\
         exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The number of times `pid` (single-threaded) has blocked so far (`voluntary_ctxt_switches`);
/// 0 once it is gone.
pub fn voluntary_switches(pid: i32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// After [`wait_start_waits`]: waits until `start` has blocked at least `pauses` more times and
/// is back in a pause of its wait, still not ended: it has looked at least about that many more
/// times (each pause follows a look; the few other times it blocks only make this end sooner)
/// and found the daemon not ready each time. For a check that does not do all it does at every
/// look (`tcp:` connects to a loopback address without a listener at every 8th look).
pub fn wait_start_pauses(start: &mut Background, pauses: u64) {
    let pid = start.pid();
    let from = voluntary_switches(pid);
    let mut ended = false;
    wait_until(
        &format!("start pauses {pauses} more times in its wait"),
        DEADLINE,
        || {
            ended = start.has_ended();
            ended || (voluntary_switches(pid) >= from + pauses && in_poll(pid))
        },
    );
    if ended {
        did_not_wait(start, "the go");
    }
}

/// `rdaemon start --name NAME ARGS...` in the background, its output piped, for
/// [`wait_start_waits`].
pub fn start_in_background(env: &Env, name: &str, args: &[&str]) -> Background {
    let mut cmd = env.std_cmd();
    cmd.args(["start", "--name", name])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    Background::spawn(&mut cmd)
}

/// The end of a [`start_in_background`]: its exit code, stdout and stderr, failing the test if
/// it has not ended within [`DEADLINE`]; every pidfile it left is tracked for cleanup.
pub fn finish_start(env: &Env, start: Background) -> (Option<i32>, String, String) {
    let out = start.output_within(DEADLINE, "start ends");
    env.track_pidfiles();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Ctrl-C to `command` (a `stop` or `restart` in the background) while the daemon `name` of
/// [`Env::start_slow_to_stop`] is on its way down: once the daemon got its stop signal, with
/// `command` still waiting for it, the interrupt goes out; once `command` has taken it and is
/// back in a wait, the daemon is let go. So the interrupt lands while the daemon dies, however
/// slow the machine, and not after `command` saw it gone.
pub fn interrupt_on_its_way_down(env: &Env, command: &mut Background, name: &str) {
    let got = env.path(&format!("{name}.got"));
    let mut ended = false;
    wait_until("the daemon got its stop signal", DEADLINE, || {
        ended = command.has_ended();
        ended || got.exists()
    });
    assert!(
        !ended,
        "the command ended before the daemon got its stop signal"
    );
    assert!(
        !command.has_ended(),
        "the command ended while the daemon could not exit yet"
    );
    let pid = command.pid();
    interrupt(pid);
    wait_until("the command took the interrupt", DEADLINE, || {
        !signal_pending(pid, Signal::SIGINT) && in_poll(pid)
    });
    fs::write(env.path(&format!("{name}.go")), "").unwrap();
}

/// The shell line that holds a fixture's program back until the test creates `go` (a path).
pub fn until_go(go: &Path) -> String {
    format!("while [ ! -e '{}' ]; do sleep 0.01; done", go.display())
}

/// The fields of `/proc/PID/stat` the tests look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    pub tty_nr: i32,
    pub start_time: u64,
    /// Its threads, the main thread counted until the whole process has ended.
    pub threads: u64,
}

/// Reads `/proc/PID/stat`; `None` once the pid is gone (reaped). Bytes, because the command
/// name need not be UTF-8.
/// The pidfs inode (Linux 6.9) of live process `pid`, read from a pidfd of it as rdaemon reads
/// it; `None` where the kernel has no pidfs.
pub fn pidfs_inode(pid: i32) -> Option<u64> {
    let process = rdaemon::process::Process::open(rdaemon::process::Pid::new(pid).ok()?).ok()?;
    process.pidfd().and_then(rdaemon::process::pidfs_inode)
}

/// Checks that the status in `record` ([`Env::record`]) keeps the pidfs identity of its main
/// process `pid` (docs/json.md): the pid, its start time and its inode, read now from a pidfd
/// of it; none where the kernel has no pidfs. `false` in that case, so a test can say so.
pub fn assert_pidfs_recorded(record: &serde_json::Value, pid: i32) -> bool {
    let Some(inode) = pidfs_inode(pid) else {
        assert!(
            record.get("pidfs").is_none(),
            "a pidfs identity without pidfs: {record}"
        );
        return false;
    };
    let expected = serde_json::json!({
        "pid": pid,
        "start_time": record["start_time"],
        "inode": inode,
    });
    assert_eq!(record["pidfs"], expected, "{record}");
    assert_eq!(record["pid"], pid, "{record}");
    true
}

pub fn stat(pid: i32) -> Option<Stat> {
    let raw = fs::read(format!("/proc/{pid}/stat")).ok()?;
    let rest = std::str::from_utf8(&raw[raw.iter().rposition(|&b| b == b')')? + 1..]).ok()?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        state: f[0].chars().next()?,
        ppid: f[1].parse().ok()?,
        pgrp: f[2].parse().ok()?,
        session: f[3].parse().ok()?,
        tty_nr: f[4].parse().ok()?,
        threads: f[17].parse().ok()?,
        start_time: f[19].parse().ok()?,
    })
}

/// Alive means present and neither a zombie nor dead: PID 1 reaps late on these machines.
pub fn alive(pid: i32) -> bool {
    // A main thread that ended while other threads run on shows `Z`: alive all the same, if
    // one of them is not a zombie too (a tracer keeps exited threads as zombies).
    stat(pid).is_some_and(|s| match s.state {
        'X' | 'x' => false,
        'Z' => s.threads > 1 && a_thread_runs(pid),
        _ => true,
    })
}

/// Whether a thread of `pid` is neither a zombie nor dead.
fn a_thread_runs(pid: i32) -> bool {
    fs::read_dir(format!("/proc/{pid}/task")).is_ok_and(|tasks| {
        tasks.flatten().any(|t| {
            fs::read_to_string(t.path().join("stat")).is_ok_and(|line| {
                line.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().next())
                    .is_some_and(|state| !matches!(state, "Z" | "X" | "x"))
            })
        })
    })
}

/// Waits until `pid` is gone or a zombie.
pub fn wait_dead(pid: i32) {
    wait_until(&format!("pid {pid} is dead"), DEADLINE, || !alive(pid));
}

/// Checks that `pid`, a `sleep`, was left alone by what the test just did (a stop of another
/// daemon, a refused reload, a signal it ignores): waits until it sleeps in its nanosleep again,
/// and fails (naming `what`) at the deadline if it never does. `alive()` right after the event
/// would pass for a process that was just sent a fatal signal and has not died yet; such a
/// process is woken at once (its wchan reads 0 from the moment the signal is sent) and never
/// sleeps in nanosleep again. A signal it ignores does not even wake it.
pub fn assert_left_alone(pid: i32, what: &str) {
    wait_until(
        &format!("pid {pid} sleeps on after {what} (else it was signalled)"),
        DEADLINE,
        || in_nanosleep(pid),
    );
}

/// Whether `pid` is alive and asleep in a nanosleep now.
pub fn in_nanosleep(pid: i32) -> bool {
    alive(pid)
        && fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("nanosleep"))
}

/// A field of `/proc/PID/status` (`SigIgn`, `SigBlk`, `Umask`...).
pub fn status_field(pid: i32, field: &str) -> String {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .trim()
        .to_owned()
}

/// Waits until `pid` ignores signal number `sig` (`SigIgn`): a program that sets that up first
/// (`sh -c "trap '' HUP; ..."`) may not have done so yet when `start` returns, once it runs.
pub fn wait_ignores(pid: i32, sig: i32) {
    wait_until(&format!("pid {pid} ignores signal {sig}"), DEADLINE, || {
        fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
                .is_some_and(|m| m & (1 << (sig - 1)) != 0)
        })
    });
}

/// The open fds of `pid`, sorted, with their targets.
pub fn fds(pid: i32) -> Vec<(i32, PathBuf)> {
    let mut out: Vec<(i32, PathBuf)> = fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let n: i32 = e.file_name().to_str().unwrap().parse().unwrap();
            (n, fs::read_link(e.path()).unwrap_or_default())
        })
        .collect();
    out.sort();
    out
}

/// Whether process `holder` has a pidfd open for `pid` (`Pid:` in `/proc/HOLDER/fdinfo/FD`).
pub fn holds_pidfd(holder: i32, pid: i32) -> bool {
    let Ok(entries) = fs::read_dir(format!("/proc/{holder}/fdinfo")) else {
        return false;
    };
    entries.flatten().any(|e| {
        fs::read_to_string(e.path()).is_ok_and(|t| t.lines().any(|l| l == format!("Pid:\t{pid}")))
    })
}

/// Waits until `pid`, a `sleep`, is blocked in its nanosleep: its start-up is over (a libc may
/// briefly open locale files there), so what `fds` shows now is what the daemon keeps.
pub fn wait_asleep(pid: i32) {
    wait_until(&format!("pid {pid} sleeps in nanosleep"), DEADLINE, || {
        fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("nanosleep"))
    });
}

/// Waits until the respawn monitor `monitor` of daemon `name` is at rest: its status names a
/// live child, it has let go of its report pipe to `start` (the handoff), and it sleeps in
/// `poll`. Busy in its start-up work it can also be asleep (`S`) elsewhere, and would then
/// wake once more: an idle measurement starts from here.
pub fn wait_monitor_at_rest(env: &Env, name: &str, monitor: i32) {
    wait_until(&format!("the monitor of {name} rests"), DEADLINE, || {
        let child = env.record(name)["child_pid"]
            .as_i64()
            .is_some_and(|p| alive(p as i32));
        let pipe = fds(monitor)
            .iter()
            .any(|(_, to)| to.to_string_lossy().starts_with("pipe:"));
        let polling =
            fs::read_to_string(format!("/proc/{monitor}/wchan")).is_ok_and(|w| w.contains("poll"));
        child && !pipe && polling
    });
}

/// Asserts that `pid` waits in `poll` with no timeout (`/proc/PID/syscall`): nothing but an
/// event it waits for (a child's exit, output, a signal, a datagram) can wake it, so at rest it
/// uses no CPU and never wakes. A state, not a rate: a timer of any period fails this.
pub fn assert_polls_without_timeout(pid: i32) {
    // (poll's number and where its timeout is, whose "none" is -1 as an int),
    // (ppoll's number, whose "none" is a null timespec pointer).
    #[cfg(target_arch = "x86_64")]
    const WAITS: [(&str, &str); 2] = [("7", "0xffffffff"), ("271", "0x0")];
    #[cfg(target_arch = "aarch64")]
    const WAITS: [(&str, &str); 1] = [("73", "0x0")];
    let mut line = String::new();
    wait_until(&format!("pid {pid} waits in poll"), DEADLINE, || {
        line = fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        let nr = line.split_whitespace().next().unwrap_or("");
        WAITS.iter().any(|(n, _)| *n == nr)
    });
    let fields: Vec<&str> = line.split_whitespace().collect();
    let none = WAITS.iter().find(|(n, _)| *n == fields[0]).unwrap().1;
    assert_eq!(
        fields.get(3).copied(),
        Some(none),
        "pid {pid} polls with a timeout: {line}"
    );
}

/// The timeout in milliseconds of the `poll` or `ppoll` that `pid` is blocked in now, if it is
/// blocked in one with a timeout (`/proc/PID/syscall`; glibc's `poll` is a `ppoll`, whose
/// timeout is a timespec in the process's memory, read through `/proc/PID/mem`, which the
/// test may read: `pid` is its child).
pub fn poll_timeout_ms(pid: i32) -> Option<i64> {
    use std::os::unix::fs::FileExt;
    let syscall = || fs::read_to_string(format!("/proc/{pid}/syscall")).ok();
    let line = syscall()?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    // Read again after the timeout: the same call still blocked, not one left meanwhile.
    let still = |ms: i64| (syscall().as_ref() == Some(&line)).then_some(ms);
    let arg = u64::from_str_radix(fields.get(3)?.trim_start_matches("0x"), 16).ok()?;
    // ppoll's number, where its timeout is the third argument (a timespec pointer).
    #[cfg(target_arch = "x86_64")]
    const PPOLL: &str = "271";
    #[cfg(target_arch = "aarch64")]
    const PPOLL: &str = "73";
    match *fields.first()? {
        #[cfg(target_arch = "x86_64")]
        "7" => still(i64::from(arg as u32 as i32)).filter(|ms| *ms >= 0),
        nr if nr == PPOLL && arg != 0 => {
            let mem = fs::File::open(format!("/proc/{pid}/mem")).ok()?;
            let mut timespec = [0u8; 16];
            mem.read_exact_at(&mut timespec, arg).ok()?;
            let secs = i64::from_ne_bytes(timespec[..8].try_into().unwrap());
            let nanos = i64::from_ne_bytes(timespec[8..].try_into().unwrap());
            still(secs * 1000 + nanos / 1_000_000)
        }
        _ => None,
    }
}

/// The fd numbers `pid` has open.
pub fn fd_numbers(pid: i32) -> Vec<i32> {
    fds(pid).into_iter().map(|(n, _)| n).collect()
}

/// The environment of `pid` as `KEY=VALUE` strings.
pub fn environ(pid: i32) -> Vec<String> {
    fs::read(format!("/proc/{pid}/environ"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Waits until `pid`'s environment holds `entry`: right after an exec, `/proc/PID/environ` can
/// briefly read empty while the kernel finishes setting up the new image.
pub fn wait_environ_has(pid: i32, entry: &str) {
    wait_until(
        &format!("pid {pid} has {entry} in its environment"),
        DEADLINE,
        || environ(pid).iter().any(|e| e == entry),
    );
}

/// The working directory of `pid`.
pub fn cwd(pid: i32) -> PathBuf {
    fs::read_link(format!("/proc/{pid}/cwd")).unwrap()
}

/// Whether the tests run as root (some tests need it and skip with a printed reason otherwise).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The result of one rdaemon run, with everything needed to explain a failure.
pub struct Run {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub dir: PathBuf,
}

impl Run {
    fn from(args: Vec<String>, out: Output, dir: &Path) -> Run {
        Run {
            args,
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            dir: dir.to_owned(),
        }
    }

    /// Panics with the whole story unless the exit code is `code`.
    pub fn code(self, code: i32) -> Run {
        if self.code != code {
            panic!("expected exit {code}\n{}", self.dump());
        }
        self
    }

    /// Shorthand for `.code(0)`.
    pub fn ok(self) -> Run {
        self.code(0)
    }

    /// Panics unless stdout contains `s`.
    pub fn stdout_has(self, s: &str) -> Run {
        assert!(
            self.stdout.contains(s),
            "stdout lacks {s:?}\n{}",
            self.dump()
        );
        self
    }

    /// Panics unless stderr contains `s`.
    pub fn stderr_has(self, s: &str) -> Run {
        assert!(
            self.stderr.contains(s),
            "stderr lacks {s:?}\n{}",
            self.dump()
        );
        self
    }

    /// Panics unless stderr is exactly one line (an error in rdaemon's voice).
    pub fn one_error_line(self) -> Run {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert!(
            lines.len() == 1 && lines[0].starts_with("rdaemon: "),
            "stderr is not one 'rdaemon: ' line\n{}",
            self.dump()
        );
        self
    }

    /// Panics unless this is clap's whole usage error in rdaemon's voice: exit 2, what is wrong
    /// on the first line, the usage line after it (SPEC §2: never cut to the first line).
    pub fn usage_error(self) -> Run {
        let first = self.stderr.lines().next().unwrap_or_default();
        assert!(
            self.code == 2
                && first.starts_with("rdaemon: ")
                && !self.stderr.contains("error:")
                && self.stderr.contains("\nUsage: rdaemon"),
            "not a whole usage error (exit 2, 'rdaemon: ' then the usage line)\n{}",
            self.dump()
        );
        self
    }

    /// Everything about this run and the rdaemon directory.
    pub fn dump(&self) -> String {
        let mut listing = String::new();
        if let Ok(entries) = fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                let content = fs::read_to_string(e.path()).unwrap_or_default();
                let short: String = content.chars().take(600).collect();
                listing.push_str(&format!("--- {}\n{short}\n", e.path().display()));
            }
        }
        format!(
            "command: rdaemon {}\nexit: {}\n--- stdout\n{}--- stderr\n{}--- rdaemon dir {}\n{listing}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr,
            self.dir.display()
        )
    }
}

/// One test's world: a temporary rdaemon directory and the processes started in it.
pub struct Env {
    pub tmp: tempfile::TempDir,
    /// (pid, start time) of every process to kill at the end.
    started: Mutex<Vec<(i32, u64)>>,
    /// The marks ([`unique_secs`]) of [`Env::track_marked`]: every process with one among its
    /// arguments at the end is killed too, also those that appeared after the last look (a
    /// test that failed while a program still forked them).
    marks: Mutex<Vec<String>>,
}

impl Env {
    pub fn new() -> Env {
        Env {
            tmp: tempfile::Builder::new()
                .prefix("rdaemon-test")
                .tempdir()
                .unwrap(),
            started: Mutex::new(Vec::new()),
            marks: Mutex::new(Vec::new()),
        }
    }

    /// The rdaemon directory.
    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// A path inside the test's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// An rdaemon command with a scrubbed environment and this test's `RDAEMON_DIR`.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::from_std(self.std_cmd());
        cmd.timeout(Duration::from_secs(60));
        cmd
    }

    /// The same as a `std::process::Command` (for `pre_exec`).
    pub fn std_cmd(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("rdaemon"));
        isolate(&mut cmd, self.dir()).current_dir(self.dir());
        cmd
    }

    /// An rdaemon command line run through `wrapper` (`sh -c 'ulimit...'`, `setpriv`...) with
    /// [`Env::cmd`]'s environment and timeout: [`Env::run_cmd`] appends rdaemon's arguments.
    pub fn wrapped(&self, wrapper: &[&str]) -> Command {
        let mut cmd = std::process::Command::new(wrapper[0]);
        cmd.args(&wrapper[1..])
            .arg(assert_cmd::cargo::cargo_bin!("rdaemon"));
        isolate(&mut cmd, self.dir()).current_dir(self.dir());
        let mut cmd = Command::from_std(cmd);
        cmd.timeout(Duration::from_secs(60));
        cmd
    }

    /// Runs `rdaemon ARGS` with at most `fds` open files (`ulimit -n`).
    pub fn run_with_fd_limit(&self, fds: u32, args: &[&str]) -> Run {
        let fds = fds.to_string();
        let limit = ["sh", "-c", "ulimit -n \"$0\" && exec \"$@\"", &fds];
        self.run_cmd(self.wrapped(&limit), args)
    }

    /// Runs rdaemon with `args`; every pid it leaves in a pidfile of this directory is tracked.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_cmd(self.cmd(), args)
    }

    /// Runs a prepared command with `args` (for extra env or stdin).
    pub fn run_cmd(&self, mut cmd: Command, args: &[&str]) -> Run {
        let out = cmd.args(args).output().unwrap();
        self.track_pidfiles();
        Run::from(
            args.iter().map(|s| s.to_string()).collect(),
            out,
            self.dir(),
        )
    }

    /// `rdaemon start ARGS`, which must succeed; returns the daemon's pid from the pidfile.
    pub fn start(&self, name: &str, program: &[&str]) -> i32 {
        let mut args = vec!["start", "--name", name, "--"];
        args.extend_from_slice(program);
        self.run(&args)
            .ok()
            .stdout_has(&format!("started {name} (pid "));
        self.pid_of(name)
    }

    /// The pid in `DIR/NAME.pid`.
    pub fn pid_of(&self, name: &str) -> i32 {
        let text = fs::read_to_string(self.path(&format!("{name}.pid")))
            .unwrap_or_else(|e| panic!("no pidfile for {name}: {e}"));
        text.trim().parse().unwrap()
    }

    /// The spec `DIR/NAME.json` with the fields of the status `DIR/NAME.status`, as JSON.
    pub fn record(&self, name: &str) -> serde_json::Value {
        let text = fs::read_to_string(self.path(&format!("{name}.json"))).unwrap();
        let mut record: serde_json::Value = serde_json::from_str(&text).unwrap();
        // The status file (docs/json.md), when there is one: its fields beside the spec's.
        if let Ok(text) = fs::read_to_string(self.path(&format!("{name}.status"))) {
            let status: serde_json::Value = serde_json::from_str(&text).unwrap();
            for (k, v) in status.as_object().unwrap() {
                record[k] = v.clone();
            }
        }
        record
    }

    /// Remembers `pid` (with its start time) for cleanup.
    pub fn track(&self, pid: i32) {
        if pid <= 1 || pid == std::process::id() as i32 {
            return;
        }
        if let Some(s) = stat(pid) {
            let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
            // By pid and start time: a number tracked before, whose process is gone, may be a
            // process of the test's again (a stranger made to take it on purpose), which was
            // left running when only the number was compared.
            if !started.contains(&(pid, s.start_time)) {
                started.push((pid, s.start_time));
            }
        }
    }

    /// The live processes with `mark` among their arguments ([`live_pids_with_arg`]), each
    /// tracked first: a test asserting that there are none (or exactly these) leaves nothing
    /// running when the assertion fails.
    pub fn track_marked(&self, mark: &str) -> Vec<i32> {
        {
            let mut marks = self.marks.lock().unwrap_or_else(|e| e.into_inner());
            if !marks.iter().any(|m| m == mark) {
                marks.push(mark.to_owned());
            }
        }
        let pids = live_pids_with_arg(mark);
        for &pid in &pids {
            self.track(pid);
        }
        pids
    }

    /// Tracks the processes the status files of this test's directory record (a daemon's main
    /// process, a monitor's child), each only while the pid is still the process with the
    /// recorded start time: a daemon whose pidfile lies elsewhere (`--pidfile run/x.pid`) is
    /// killed on failure too, and a stranger who took a recorded number is not.
    fn track_recorded(&self) {
        let Ok(entries) = fs::read_dir(self.dir()) else {
            return;
        };
        for e in entries.flatten() {
            // Regular files only: opening a FIFO a test put there would block.
            let regular = e.file_type().is_ok_and(|t| t.is_file());
            if !regular || e.path().extension().is_none_or(|x| x != "status") {
                continue;
            }
            let Some(v) = fs::read_to_string(e.path())
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            else {
                continue;
            };
            for (pid, start_time) in [("pid", "start_time"), ("child_pid", "child_start_time")] {
                let (Some(pid), Some(start_time)) = (v[pid].as_i64(), v[start_time].as_u64())
                else {
                    continue;
                };
                let pid = pid as i32;
                if pid > 1 && stat(pid).is_some_and(|s| s.start_time == start_time) {
                    self.track(pid);
                }
            }
        }
    }

    pub fn track_pidfiles(&self) {
        let Ok(entries) = fs::read_dir(self.dir()) else {
            return;
        };
        for e in entries.flatten() {
            // Regular files only: opening a FIFO a test put there would block.
            let regular = e.file_type().is_ok_and(|t| t.is_file());
            if regular && e.path().extension().is_some_and(|x| x == "pid") {
                if let Some(pid) = fs::read_to_string(e.path())
                    .ok()
                    .and_then(|t| t.trim().parse::<i32>().ok())
                    .filter(|p| *p > 1)
                {
                    // Only a process rdaemon started from this test's directory is ours: its
                    // cwd-independent mark is the log fd pointing into our temp dir, or the
                    // record naming this pid.
                    let recorded = fs::read_dir(self.dir()).ok().is_some_and(|rs| {
                        rs.flatten().any(|r| {
                            r.path().extension().is_some_and(|x| x == "status")
                                && fs::read_to_string(r.path())
                                    .ok()
                                    .and_then(|t| {
                                        serde_json::from_str::<serde_json::Value>(&t).ok()
                                    })
                                    .is_some_and(|v| v["pid"] == pid)
                        })
                    });
                    if recorded {
                        self.track(pid);
                    }
                }
            }
        }
    }

    /// Writes an executable shell script into the test directory and returns its path.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.path(name);
        fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// A program that ignores SIGTERM (its `sleep` inherits the ignored disposition) and creates
    /// `TAG.ready` in the test directory once it does: returns its argv.
    pub fn stubborn_program(&self, tag: &str) -> Vec<String> {
        let script = self.script("stubborn.sh", "trap '' TERM; : > \"$1\"; exec sleep 1000");
        let ready = self.path(&format!("{tag}.ready"));
        vec![script.display().to_string(), ready.display().to_string()]
    }

    /// Starts as daemon `name` a shell that, on SIGTERM, makes `DIR/NAME.got` and exits once
    /// `DIR/NAME.go` exists: a daemon on its way down until the test lets it go (see
    /// [`interrupt_on_its_way_down`]). Its pid, once it traps the signal.
    pub fn start_slow_to_stop(&self, name: &str) -> i32 {
        let script = self.script(
            "slow.sh",
            r#"trap ': > "$1.got"; while [ ! -e "$1.go" ]; do sleep 0.01; done; exit 0' TERM
: > "$1.ready"
while :; do sleep 1 & wait $!; done"#,
        );
        let tag = self.path(name).display().to_string();
        let pid = self.start(name, &[script.to_str().unwrap(), &tag]);
        self.wait_file(&format!("{name}.ready"));
        pid
    }

    /// The pid a fixture wrote into file `name` of the test directory (with `mv`, whole), once
    /// it is there; tracked for cleanup.
    pub fn wait_pid_file(&self, name: &str) -> i32 {
        let text = fs::read_to_string(self.wait_file(name)).unwrap();
        let pid = text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} holds no pid: {text:?}"));
        self.track(pid);
        pid
    }

    /// `rdaemon COMMAND ARGS` in the background, as on a terminal: Ctrl-C ([`interrupt`]) ends
    /// it, its output piped.
    pub fn in_background(&self, command: &str, args: &[&str]) -> Background {
        let mut cmd = self.std_cmd();
        cmd.arg(command)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        Background::spawn(interruptible(&mut cmd))
    }

    /// `rdaemon ARGS` in the background as [`Env::in_background`], with
    /// `RDAEMON_FAULT=STAGE:stop`: it stops itself (SIGSTOP) where it reaches `stage`
    /// (src/fault.rs), and so does every child of it that reaches it.
    pub fn with_fault(&self, stage: &str, args: &[&str]) -> Background {
        let mut cmd = self.std_cmd();
        cmd.args(args)
            .env("RDAEMON_FAULT", format!("{stage}:stop"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        Background::spawn(interruptible(&mut cmd))
    }

    /// [`Env::with_fault`], once rdaemon has stopped at `stage`: a signal sent to it then
    /// arrives exactly there, once it is continued.
    pub fn paused_at(&self, stage: &str, args: &[&str]) -> Background {
        let paused = self.with_fault(stage, args);
        wait_until(&format!("rdaemon stops at {stage}"), DEADLINE, || {
            stat(paused.pid()).is_some_and(|s| s.state == 'T')
        });
        paused
    }

    /// Waits until `waiting`, a `stop` or `restart` of daemon `name` in the background, has
    /// marked it wanted stopped (before its first signal) and waits for it in a poll.
    pub fn wait_stopping(&self, waiting: &Background, name: &str) {
        wait_until(
            &format!("the stop of {name} marks it and waits"),
            DEADLINE,
            || self.record(name)["wanted"] == "stopped" && in_poll(waiting.pid()),
        );
    }

    /// Starts [`Env::stubborn_program`] as daemon `name` and waits until it ignores SIGTERM.
    pub fn start_stubborn(&self, name: &str) -> i32 {
        let argv = self.stubborn_program(name);
        let args: Vec<&str> = argv.iter().map(String::as_str).collect();
        let pid = self.start(name, &args);
        self.wait_file(&format!("{name}.ready"));
        pid
    }

    /// Waits until file `name` in the test directory exists (a fixture's readiness mark).
    ///
    /// Fixtures write the mark with `mv`, which renames it before it exits: until it has exited,
    /// the `mv` is one more process of the daemon, which a test counting leftovers would count.
    /// So this also waits until no `mv` naming the mark is still running.
    pub fn wait_file(&self, name: &str) -> PathBuf {
        let path = self.path(name);
        wait_until(&format!("{} exists", path.display()), DEADLINE, || {
            path.exists()
        });
        let mark = path.as_os_str().as_encoded_bytes().to_vec();
        wait_until(
            &format!("the mv that wrote {} exits", path.display()),
            DEADLINE,
            || !mv_running(&mark),
        );
        path
    }
}

impl Default for Env {
    fn default() -> Env {
        Env::new()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let marks = self.marks.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for mark in &marks {
            for pid in live_pids_with_arg(mark) {
                self.track(pid);
            }
        }
        self.track_recorded();
        let started = self
            .started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        // The rdaemon cgroups our processes are in (a record may no longer name them).
        let mut cgroups: Vec<(PathBuf, u64)> = Vec::new();
        for &(pid, start_time) in &started {
            if stat(pid).is_some_and(|s| s.start_time == start_time) {
                if let Some(cg) = rdaemon_cgroup_of(pid).filter(|c| !cgroups.contains(c)) {
                    cgroups.push(cg);
                }
            }
        }
        let kill_all = |started: &[(i32, u64)]| {
            for &(pid, start_time) in started {
                // Only if the pid still is the process we saw: never a stranger that reused it.
                if stat(pid).is_some_and(|s| s.start_time == start_time) {
                    if stat(pid).is_some_and(|s| s.pgrp == pid) {
                        let _ = killpg(NixPid::from_raw(pid), Signal::SIGKILL);
                    }
                    let _ = kill(NixPid::from_raw(pid), Signal::SIGKILL);
                }
            }
        };
        kill_all(&started);
        // What a process killed just now started after the marks were looked at (a monitor's
        // health check, each interval): looked at again once nothing of ours can start more.
        for mark in &marks {
            for pid in live_pids_with_arg(mark) {
                self.track(pid);
            }
        }
        let started = self
            .started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        kill_all(&started);
        for &(pid, start_time) in &started {
            let deadline = Instant::now() + DEADLINE;
            while stat(pid)
                .is_some_and(|s| s.start_time == start_time && !matches!(s.state, 'Z' | 'X'))
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        self.remove_cgroups();
        for (cg, id) in cgroups {
            // Still the one our processes were in (another test may have made one anew).
            if fs::metadata(&cg).is_ok_and(|m| std::os::unix::fs::MetadataExt::ino(&m) == id) {
                let _ = fs::write(cg.join("cgroup.kill"), "1");
                remove_cgroup_dir(&cg);
            }
        }
    }
}

/// The cgroup2 mount, from `/proc/self/mountinfo`.
pub fn cgroup2_mount() -> Option<PathBuf> {
    fs::read_to_string("/proc/self/mountinfo")
        .ok()?
        .lines()
        .find(|l| {
            l.split(" - ")
                .nth(1)
                .is_some_and(|t| t.starts_with("cgroup2 "))
        })
        .and_then(|l| l.split_whitespace().nth(4).map(PathBuf::from))
}

/// The cgroup mount where this test may use cgroups (root, a writable cgroup2 mount, a tree
/// systemd does not manage), else `None` after saying why (a failure under CI).
pub fn cgroups_here(test: &str) -> Option<PathBuf> {
    if !is_root() {
        skip(test, "cgroups need root");
        return None;
    }
    if Path::new("/run/systemd/system").is_dir() {
        skip(test, "systemd manages the cgroup tree here (not delegated)");
        return None;
    }
    let mount = cgroup2_mount();
    if mount.is_none() {
        skip(test, "no cgroup2 mount");
    }
    mount
}

impl Env {
    /// The name of daemon `name`'s cgroup beneath `rdaemon/`: the test's directory is given
    /// explicitly (`RDAEMON_DIR`), so `NAME@HASH`, HASH the FNV-1a of the directory's path, as
    /// rdaemon makes it (`Ctx::cgroup_leaf`).
    pub fn cgroup_leaf(&self, name: &str) -> String {
        let hash = self
            .dir()
            .as_os_str()
            .as_encoded_bytes()
            .iter()
            .fold(0x811c_9dc5_u32, |h, &b| {
                (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
            });
        format!("{name}@{hash:08x}")
    }
}

/// A daemon name unique to this test run (cgroups are global: `rdaemon/NAME`; with the test's
/// own directory, `rdaemon/NAME@HASH`, which is unique already).
pub fn unique_name(env: &Env, stem: &str) -> String {
    let tail: String = env
        .dir()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("{stem}-{tail}")
}

/// The `rdaemon/NAME` cgroup (v2) that `pid` is in, if any, with its id (inode).
fn rdaemon_cgroup_of(pid: i32) -> Option<(PathBuf, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    if !rel.contains("/rdaemon/") {
        return None;
    }
    let mount = cgroup2_mount()?;
    let path = mount.join(rel.trim_start_matches('/'));
    let id = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).ok()?);
    Some((path, id))
}

impl Env {
    /// Removes the cgroup of every daemon whose record (in this test's directory) names one,
    /// killing what is left in it first: cgroups are global, a failed test must not leave any.
    fn remove_cgroups(&self) {
        let Ok(entries) = fs::read_dir(self.dir()) else {
            return;
        };
        for e in entries.flatten() {
            if e.path().extension().is_none_or(|x| x != "status") {
                continue;
            }
            let Some((cg, id)) = fs::read_to_string(e.path())
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| {
                    Some((
                        PathBuf::from(v["cgroup"].as_str()?),
                        v["cgroup_id"].as_u64()?,
                    ))
                })
            else {
                continue;
            };
            // Only the one the record names: a cgroup of the same path made since (the
            // directory's inode differs) is another test's.
            use std::os::unix::fs::MetadataExt;
            if !cg.starts_with("/sys/fs/cgroup")
                || fs::metadata(&cg).map(|m| m.ino()).ok() != Some(id)
            {
                continue;
            }
            let _ = fs::write(cg.join("cgroup.kill"), "1");
            remove_cgroup_dir(&cg);
        }
        // And every cgroup of this directory's daemons that no status names any more (a test
        // that removed the runtime files, as a reboot does): `NAME@HASH`, HASH this
        // directory's, is this test's alone.
        let Some(top) = cgroup2_mount().map(|m| m.join("rdaemon")) else {
            return;
        };
        let mine = self.cgroup_leaf("");
        for e in fs::read_dir(&top).into_iter().flatten().flatten() {
            let leaf = e.file_name().to_string_lossy().into_owned();
            if leaf.ends_with(&mine) && e.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = fs::write(e.path().join("cgroup.kill"), "1");
                remove_cgroup_dir(&e.path());
            }
        }
    }
}

/// Removes the cgroup directory `dir` once it is empty (a killed process leaves it a moment
/// after its death), then its parent `rdaemon` if that is empty too.
pub fn remove_cgroup_dir(dir: &Path) {
    // The cgroups a daemon made beneath its own go first: a cgroup with one is busy.
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup_dir(&e.path());
        }
    }
    let deadline = Instant::now() + DEADLINE;
    while dir.exists() && fs::remove_dir(dir).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    if let Some(parent) = dir.parent() {
        let _ = fs::remove_dir(parent);
    }
}

/// A `sleep` argument no other process on the machine has: `sleep` with it marks a process as
/// this test's, so a test can check that exactly the daemons it expects exist (and none was
/// left behind) by scanning `/proc`.
pub fn unique_secs() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}.{:07}", 100_000 + n, std::process::id())
}

/// The live (not zombie) processes that have `arg` among their arguments.
pub fn live_pids_with_arg(arg: &str) -> Vec<i32> {
    let mut pids: Vec<i32> = fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == arg.as_bytes()))
        })
        .filter(|pid| alive(*pid))
        .collect();
    pids.sort();
    pids
}

/// The kernel's `pid_max`.
pub fn pid_max() -> i64 {
    fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// The pid a pidfile holds (one decimal number and a newline).
pub fn read_pid(path: &Path) -> i32 {
    fs::read_to_string(path).unwrap().trim().parse().unwrap()
}

/// The `nobody` account, if this system has one.
pub fn nobody() -> Option<nix::unistd::User> {
    nix::unistd::User::from_name("nobody").ok().flatten()
}

/// Root and the `nobody` user, for a test that acts as another user; else `None`, skipped
/// with the reason ([`skip`]: a failure under CI).
pub fn root_and_nobody(test: &str) -> Option<nix::unistd::User> {
    if !need_root(test) {
        return None;
    }
    let user = nobody();
    if user.is_none() {
        skip(test, "no 'nobody' user on this system");
    }
    user
}

/// Lets other users reach the test directory (a tempdir is 0700), as `/run/rdaemon` (0755) is.
pub fn open_dir(env: &Env) {
    fs::set_permissions(env.dir(), fs::Permissions::from_mode(0o755)).unwrap();
}

/// The one way a test skips: prints why (visible with `--nocapture`, and in the output of a
/// failure). Under CI (env `CI` set and not empty) a missing precondition — root, `nobody`,
/// python3, `script`, a tmpfs — fails the test instead: a CI that silently skipped the
/// security tests would pass without testing them.
pub fn skip(test: &str, why: &str) {
    skip_unless_ci(
        std::env::var_os("CI").filter(|v| !v.is_empty()).is_some(),
        test,
        why,
    );
}

/// Whether the test can run as root: skipped (with the reason) where it does not, and a
/// failure under CI, which runs the suite as root and must run it.
pub fn need_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    skip(test, "needs root");
    false
}

/// Skips a test that needs a program a fresh machine does not have (nginx, redis, a shell's
/// completion checker), with the reason, under CI too: the suite must pass where only the
/// Rust toolchain, gcc and python3 are installed (README). What the suite itself needs
/// (root, `nobody`, python3) goes through [`skip`].
pub fn skip_optional(test: &str, why: &str) {
    eprintln!("skipping {test}: {why}");
}

/// [`skip`] with the CI setting given: panics when `ci`.
pub fn skip_unless_ci(ci: bool, test: &str, why: &str) {
    if ci {
        panic!("{test} cannot run here ({why}), and CI is set: a skipped test would hide it");
    }
    eprintln!("skipping {test}: {why}");
}

/// The names of the files in `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A read-only tmpfs mounted by a test (needs CAP_SYS_ADMIN), unmounted when dropped, also
/// when the test fails. Declare it after the `Env` whose directory holds it, so that it is
/// dropped first.
pub struct ReadOnlyMount {
    path: PathBuf,
}

impl ReadOnlyMount {
    /// Mounts an empty read-only tmpfs (mode 0755, owned by root) on `path`; the error says why
    /// it could not.
    pub fn new(path: &Path) -> Result<ReadOnlyMount, String> {
        fs::create_dir_all(path).map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "ro,mode=0755", "rdaemon-test"])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(ReadOnlyMount {
            path: path.to_owned(),
        })
    }
}

impl Drop for ReadOnlyMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.path)
            .status();
    }
}

/// A child process of the test itself (a bystander rdaemon must never touch, or a process made
/// to take a pid): killed and reaped when dropped, also when the test fails. Being our unreaped
/// child, its pid cannot be reused before that.
pub struct OwnChild(pub std::process::Child);

impl OwnChild {
    /// `sleep` with a [`unique_secs`] argument.
    pub fn sleep() -> OwnChild {
        OwnChild(
            std::process::Command::new("sleep")
                .arg(unique_secs())
                .spawn()
                .unwrap(),
        )
    }

    pub fn pid(&self) -> i32 {
        self.0.id() as i32
    }
}

impl Drop for OwnChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The kernel's pid cursor (`ns_last_pid`), which a test moves back to be handed a pid again,
/// one test at a time: two at once take each other's pid (a CI run had one give up after 200
/// attempts). When dropped it puts the cursor back where it was: left moved back, every
/// process the suite forks next would take the pids just freed, among them another test's
/// dead daemon's, which that test then waits to take in vain.
pub struct PidCursor {
    _turn: std::sync::MutexGuard<'static, ()>,
    saved: Option<i64>,
}

const NS_LAST_PID: &str = "/proc/sys/kernel/ns_last_pid";

fn read_ns_last_pid() -> Option<i64> {
    fs::read_to_string(NS_LAST_PID).ok()?.trim().parse().ok()
}

impl PidCursor {
    /// Waits for this test's turn.
    pub fn take() -> PidCursor {
        static TURN: Mutex<()> = Mutex::new(());
        let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        PidCursor {
            _turn: turn,
            saved: read_ns_last_pid(),
        }
    }

    /// Makes `pid` the next pid the kernel hands out, unless something forks first. `Err`
    /// says why it cannot be done (not root, or `/proc/sys` mounted read-only).
    pub fn next(&self, pid: i32) -> Result<(), String> {
        fs::write(NS_LAST_PID, format!("{}", pid - 1))
            .map_err(|e| format!("cannot write {NS_LAST_PID}: {e}"))
    }
}

impl PidCursor {
    /// Puts the cursor back where it was (or where it has got to since, if further): called
    /// as soon as the pid is taken, so that the rest of the test does not hand the suite's
    /// processes the numbers just behind it, which other tests' daemons had and may want back
    /// (a CI run: another test's `stop` got a session id a test then waited to take in vain).
    pub fn restore(&self) {
        if let (Some(saved), Some(now)) = (self.saved, read_ns_last_pid()) {
            let _ = fs::write(NS_LAST_PID, format!("{}", saved.max(now)));
        }
    }
}

impl Drop for PidCursor {
    fn drop(&mut self) {
        self.restore();
    }
}

/// Whether `pid` is free to be handed out, once a zombie that holds it is reaped: a neighbour
/// test's helper that took it (another test's moves of the cursor hand out the pids next to
/// its own target) lingers as a zombie until PID 1 reaps it, which takes seconds here. False
/// if a live process holds it, or a zombie for longer than [`DEADLINE`].
pub fn pid_free(pid: i32) -> bool {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match stat(pid) {
            None => return true,
            Some(s) if s.state == 'Z' && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Some(_) => return false,
        }
    }
}

/// What holds `pid` now, for the message of a test that could not take it.
pub fn pid_holder(pid: i32) -> String {
    let cmdline = fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .unwrap_or_default();
    match stat(pid) {
        Some(s) => format!("pid {pid} is held by {s:?}: {cmdline}"),
        None => format!("pid {pid} is free now"),
    }
}

/// Why a test could not take `pid`, with what holds it.
pub fn lost_pid(pid: i32) -> String {
    format!(
        "other processes kept taking pid {pid} first ({})",
        pid_holder(pid)
    )
}

/// Makes the kernel give `pid` to a new `sleep` of ours: sets `ns_last_pid` to `pid - 1` and
/// forks, again and again, until the pid lands or `attempts` run out. Every other process
/// forked on the way is ours and is killed and reaped at once. `Err` says why it is impossible
/// (not root, or `/proc/sys` mounted read-only): the test then skips, saying so.
pub fn take_pid(cursor: &PidCursor, pid: i32, attempts: u32) -> Result<Option<OwnChild>, String> {
    for _ in 0..attempts {
        cursor.next(pid)?;
        if !pid_free(pid) {
            cursor.restore();
            return Ok(None);
        }
        let child = OwnChild(
            std::process::Command::new("sleep")
                .arg(unique_secs())
                .spawn()
                .map_err(|e| format!("cannot spawn sleep: {e}"))?,
        );
        if child.pid() == pid {
            cursor.restore();
            return Ok(Some(child));
        }
        drop(child);
    }
    cursor.restore();
    Ok(None)
}

/// A helper program in `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A python3 interpreter for the fixtures that need one; `None` (and the test skips, saying
/// so) where there is none.
pub fn python3() -> Option<PathBuf> {
    let usual = PathBuf::from("/usr/bin/python3");
    if usual.exists() {
        return Some(usual);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("python3"))
        .find(|p| p.exists())
}

/// [`python3`] for a test that needs it, or `None` once [`skip`] has said why (under CI the
/// test fails instead).
pub fn python3_or_skip(test: &str) -> Option<PathBuf> {
    let found = python3();
    if found.is_none() {
        skip(test, "no python3");
    }
    found
}

/// The lowest port [`free_port`] hands out: above the well-known and most registered ports.
const FIRST_TEST_PORT: u16 = 10_000;

/// A loopback TCP port for one test, for its daemon to listen on (or for a readiness check to
/// find nothing on): no TCP socket of this network namespace uses it when it is handed out.
///
/// Race-free among the tests of this process: the ports handed out are kept in a process-wide
/// set, checked and filled under its lock, and none is handed out twice, so a parallel test
/// cannot get the port of another that has not bound it yet (as it could when each test bound
/// port 0, read the port and let go of it). Ports come from outside the kernel's ephemeral
/// range (`/proc/sys/net/ipv4/ip_local_port_range`), from which the kernel picks the port of a
/// bind to port 0 and of an outgoing connection: no client socket of any test (a readiness
/// probe, a `TcpStream::connect`) lands on one. Where in that band to begin depends on this
/// process's pid, so that two test runs at once (two worktrees) begin apart.
///
/// Whether a port is in use is read from `/proc/net/tcp` and `/proc/net/tcp6`, not tried with a
/// bind: a probe socket, closed at once, is copied into any child another test thread forks
/// meanwhile and stays bound there until that child execs, so the test's own bind right after
/// failed with "Address already in use" (seen in CI). A bind probe remains only where those
/// tables cannot be read.
///
/// Limits: another process that binds a port it chose (another test run that walked to the
/// same port, a service started meanwhile) can still take it between this check and the bind of
/// the test's daemon, which then fails to bind. Where the ephemeral range leaves no port at or
/// above 10000 outside it, ports come from 1024 up, the ephemeral ones included, and the kernel
/// may then give one to an outgoing connection too.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let (low, high) = ephemeral_ports();
    let mut band: Vec<u16> = (FIRST_TEST_PORT..=u16::MAX)
        .filter(|p| !(low..=high).contains(p))
        .collect();
    if band.is_empty() {
        band = (1024..=u16::MAX).collect();
    }
    // A multiplicative hash of the pid: runs with neighbouring pids begin far apart.
    let begin = (std::process::id() as usize).wrapping_mul(2_654_435_761) % band.len();
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let in_use = tcp_ports_in_use();
    let port = band[begin..]
        .iter()
        .chain(&band[..begin])
        .copied()
        .find(|&p| {
            !handed_out.contains(&p)
                && match &in_use {
                    Some(in_use) => !in_use.contains(&p),
                    None => std::net::TcpListener::bind(("127.0.0.1", p)).is_ok(),
                }
        })
        .expect("no free loopback port left outside the ephemeral range");
    handed_out.insert(port);
    port
}

/// The local ports of every TCP socket of this network namespace, in any state (listening,
/// connected, in TIME_WAIT), from `/proc/net/tcp` and `/proc/net/tcp6`; `None` where either
/// cannot be read (IPv6 compiled out reads as no IPv6 sockets).
fn tcp_ports_in_use() -> Option<BTreeSet<u16>> {
    let mut ports = BTreeSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = match fs::read_to_string(table) {
            Ok(text) => text,
            Err(e) if table.ends_with('6') && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(_) => return None,
        };
        for line in text.lines().skip(1) {
            // "  0: 0100007F:2710 00000000:0000 0A ...": the local address is the second field.
            let local = line.split_whitespace().nth(1)?;
            let (_, port) = local.rsplit_once(':')?;
            ports.insert(u16::from_str_radix(port, 16).ok()?);
        }
    }
    Some(ports)
}

/// The kernel's ephemeral port range (`ip_local_port_range`); Linux's default where unreadable.
fn ephemeral_ports() -> (u16, u16) {
    fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut ends = text.split_whitespace().map(|p| p.parse::<u16>().ok());
            Some((ends.next()??, ends.next()??))
        })
        .unwrap_or((32768, 60999))
}

/// Whether something accepts connections on the loopback `port`.
pub fn accepting(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// A process a test runs in the background (`rdaemon logs -f`, `start --foreground`): killed
/// by pid and reaped when dropped, also when the test fails.
pub struct Background(Option<std::process::Child>);

impl Background {
    /// Spawns `cmd`.
    pub fn spawn(cmd: &mut std::process::Command) -> Background {
        Background(Some(cmd.spawn().unwrap()))
    }

    pub fn pid(&self) -> i32 {
        self.0.as_ref().map_or(0, |c| c.id() as i32)
    }

    pub fn child(&mut self) -> &mut std::process::Child {
        self.0.as_mut().unwrap()
    }

    /// Waits for the process to end and collects its piped output.
    pub fn into_output(mut self) -> Output {
        self.0.take().unwrap().wait_with_output().unwrap()
    }

    /// Whether the process has ended (it is reaped: [`Background::into_output`] still gives its
    /// status and output).
    pub fn has_ended(&mut self) -> bool {
        self.child().try_wait().unwrap().is_some()
    }

    /// [`Background::into_output`], failing the test if the process has not ended within
    /// `timeout` (a hang, such as a lock never given up): it is then killed like the rest.
    pub fn output_within(mut self, timeout: Duration, what: &str) -> Output {
        wait_until(what, timeout, || self.child().try_wait().unwrap().is_some());
        self.into_output()
    }

    /// Sends it SIGINT (a Ctrl-C, [`interrupt`]) and waits for it to end ([`DEADLINE`]),
    /// failing the test unless it exits 130; its stderr.
    pub fn interrupted_stderr(self, what: &str) -> String {
        interrupt(self.pid());
        let out = self.output_within(DEADLINE, what);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(130), "{what}: {stderr}");
        stderr
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            // Child::kill signals this child's pid (and never a reaped one).
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Copies the executable `from` to `to` (mode 0755) with `cp`, not `fs::copy`: a write fd of
/// this process could leak into a child another test thread forks meanwhile, and the exec of
/// the copy would then fail with ETXTBSY ("Text file busy").
pub fn copy_executable(from: impl AsRef<Path>, to: &Path) {
    let copied = std::process::Command::new("cp")
        .arg(from.as_ref())
        .arg(to)
        .status()
        .unwrap();
    assert!(
        copied.success(),
        "cp {} {}",
        from.as_ref().display(),
        to.display()
    );
    fs::set_permissions(to, fs::Permissions::from_mode(0o755)).unwrap();
}

/// `rdaemon start --respawn --name NAME EXTRA... -- PROGRAM...`: the run, the monitor (the
/// status's pid) and the program (its `child_pid`, which `start` records once the monitor has
/// started it), both tracked for cleanup before anything is asserted.
pub fn start_respawn_run(
    env: &Env,
    name: &str,
    extra: &[&str],
    program: &[&str],
) -> (Run, i32, i32) {
    let mut args = vec!["start", "--respawn", "--name", name];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(program);
    let run = env.run(&args);
    let rec = env.record(name);
    let pid = |field: &str| {
        let pid = rec[field]
            .as_i64()
            .unwrap_or_else(|| panic!("no {field} in {rec}\n{}", run.dump()))
            as i32;
        env.track(pid);
        pid
    };
    let (monitor, child) = (pid("pid"), pid("child_pid"));
    (run, monitor, child)
}

/// [`start_respawn_run`], which must succeed: the monitor's pid and the program's.
pub fn start_respawn(env: &Env, name: &str, extra: &[&str], program: &[&str]) -> (i32, i32) {
    let (run, monitor, child) = start_respawn_run(env, name, extra, program);
    run.ok();
    (monitor, child)
}

/// `rdaemon status NAME --json`: its exit code and its JSON (the test fails, showing the run,
/// when stdout is not JSON).
pub fn status_json(env: &Env, name: &str) -> (i32, serde_json::Value) {
    let run = env.run(&["status", name, "--json"]);
    let value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e})\n{}", run.dump()));
    (run.code, value)
}

/// The pid in the status of a daemon whose pidfile may be gone (a failed start), tracked for
/// cleanup.
pub fn recorded_pid(env: &Env, name: &str) -> i32 {
    let pid = env.record(name)["pid"].as_i64().unwrap() as i32;
    env.track(pid);
    pid
}

/// The temporary files (`.new`, `.tmp`) left in `dir`, sorted. Panics if `dir` cannot be read:
/// an empty answer means there are none.
pub fn temporaries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") || n.ends_with(".new"))
        .collect();
    names.sort();
    names
}

/// The argv of a program that appends `start` to `out` once its traps are set, then creates
/// `OUT.ready`, and appends the name of each HUP, USR1, USR2, WINCH, QUIT, INT or TERM it gets,
/// one a line (a restart shows as a second `start`). The signals of `ends` (names such as
/// `TERM`) are recorded too, then end it with status 0 (its background `sleep` killed first);
/// the others leave it running.
pub fn signal_recorder(env: &Env, out: &Path, ends: &[&str]) -> Vec<String> {
    let script = env.script(
        "recorder.sh",
        r#"out=$1; shift
sleep 1000 & sleeper=$!
for s in HUP USR1 USR2 WINCH QUIT INT TERM; do trap "echo $s >> \"\$out\"" $s; done
for s in "$@"; do trap "echo $s >> \"\$out\"; kill \$sleeper 2>/dev/null; exit 0" $s; done
echo start >> "$out"
: > "$out.ready"
while :; do wait $sleeper; done"#,
    );
    let mut argv = vec![script.display().to_string(), out.display().to_string()];
    argv.extend(ends.iter().map(|s| s.to_string()));
    argv
}

/// The respawn child's pid in the daemon's status, if any.
pub fn child_pid(env: &Env, name: &str) -> Option<i32> {
    env.record(name)["child_pid"].as_i64().map(|p| p as i32)
}

/// Waits until the status names a live child other than `old` (0: any), and returns it,
/// tracked.
pub fn wait_new_child(env: &Env, name: &str, old: i32) -> i32 {
    let mut new = None;
    wait_until(&format!("{name} has a new child"), DEADLINE, || {
        new = child_pid(env, name).filter(|&p| p != old && alive(p));
        new.is_some()
    });
    let new = new.unwrap();
    env.track(new);
    new
}

/// Whether the kernel keeps the exit status and the cgroup of a reaped process for a pidfd held
/// across its reaping (`PIDFD_INFO_EXIT`, Linux 6.15).
pub fn kernel_keeps_exit_status() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (6, 15)
}

/// The variables rdaemon reads that a test must not inherit from whoever runs the tests (a
/// developer's or CI's own `RDAEMON_RUNTIME_DIR` would take the test out of its directory).
const RDAEMON_VARIABLES: [&str; 6] = [
    "RDAEMON_DIR",
    "RDAEMON_RUNTIME_DIR",
    "RDAEMON_LOCK_TIMEOUT",
    "NOTIFY_SOCKET",
    "XDG_STATE_HOME",
    "NO_COLOR",
];

/// Makes `cmd` (rdaemon, or a program that runs it: a shell, `setpriv`) see `dir` as rdaemon's
/// directory and none of the caller's rdaemon variables.
pub fn isolate<'a>(
    cmd: &'a mut std::process::Command,
    dir: &Path,
) -> &'a mut std::process::Command {
    for var in RDAEMON_VARIABLES {
        cmd.env_remove(var);
    }
    cmd.env("RDAEMON_DIR", dir)
}

/// What bash completes after `rdaemon WORDS...` (the last word being completed): what
/// `_rdaemon_names` offers, with the completion script the CLI prints.
pub fn bash_complete(env: &Env, words: &[&str]) -> Vec<String> {
    let script = env.path("rdaemon.bash");
    fs::write(&script, env.run(&["completions", "bash"]).ok().stdout).unwrap();
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c")
        .arg(
            r#"source "$1"; shift
               COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
               _rdaemon_names "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
               printf '%s\n' "${COMPREPLY[@]}""#,
        )
        .arg("bash")
        .arg(&script)
        .arg(assert_cmd::cargo::cargo_bin!("rdaemon"))
        .args(words);
    let out = isolate(&mut cmd, env.dir())
        .current_dir(env.dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Gives `cmd` the environment changes of `from` (an [`Env::std_cmd`]): the same `RDAEMON_DIR`
/// and removed variables, for an rdaemon run through another program (a subreaper, setsid).
pub fn with_env_of(cmd: &mut std::process::Command, from: &std::process::Command) {
    for (key, value) in from.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
}

/// [`free_port`] never hands out a port twice, even to tests asking at the same time, and
/// never one of the kernel's ephemeral range (here, where that range leaves room for it).
#[test]
fn free_port_hands_out_each_port_once_outside_the_ephemeral_range() {
    let ports: Vec<u16> = std::thread::scope(|s| {
        let askers: Vec<_> = (0..4)
            .map(|_| s.spawn(|| (0..25).map(|_| free_port()).collect::<Vec<u16>>()))
            .collect();
        askers.into_iter().flat_map(|a| a.join().unwrap()).collect()
    });
    let distinct: BTreeSet<u16> = ports.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        ports.len(),
        "a port handed out twice: {ports:?}"
    );
    let (low, high) = ephemeral_ports();
    if low > FIRST_TEST_PORT || high < u16::MAX {
        assert!(
            ports.iter().all(|p| !(low..=high).contains(p)),
            "an ephemeral port ({low}-{high}) handed out: {ports:?}"
        );
    }
}

/// What [`assert_left_alone`] relies on: a `sleep` sent a fatal signal is out of its nanosleep
/// as soon as `kill` returns, before it has died; one left alone sleeps on.
#[test]
fn a_sleep_sent_a_fatal_signal_is_out_of_its_nanosleep_at_once() {
    for sig in [Signal::SIGTERM, Signal::SIGKILL] {
        let signalled = OwnChild::sleep();
        let spared = OwnChild::sleep();
        wait_until("both sleeps are asleep", DEADLINE, || {
            in_nanosleep(signalled.pid()) && in_nanosleep(spared.pid())
        });
        kill(NixPid::from_raw(signalled.pid()), sig).unwrap();
        assert!(!in_nanosleep(signalled.pid()), "{sig} left it asleep");
        assert_left_alone(spared.pid(), "nothing");
    }
}

/// A stranger's HTTP server on the loopback `port`, for `--ready http:` and `--health http:` to
/// tell from the daemon's own: `python3` answering 200 to every GET and writing `GET PATH` to
/// its stderr (piped: [`Background::into_output`] after a kill says what it was asked). As
/// `nobody` where the test runs as root (another user's listener, the attack); else as the
/// test's user, which is still a process none of the daemon's. Returns once it accepts.
pub fn stranger_http_server(py: &Path, port: u16) -> Background {
    const SERVER: &str = "import http.server, sys\n\
        class H(http.server.BaseHTTPRequestHandler):\n\
        \x20   def do_GET(self):\n\
        \x20       sys.stderr.write('GET ' + self.path + '\\n'); sys.stderr.flush()\n\
        \x20       self.send_response(200); self.end_headers()\n\
        \x20   def log_message(self, *args): pass\n\
        http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n";
    let mut cmd = match (is_root(), nobody()) {
        (true, Some(user)) => {
            let mut cmd = std::process::Command::new("setpriv");
            cmd.arg(format!("--reuid={}", user.uid))
                .arg(format!("--regid={}", user.gid))
                .args(["--clear-groups", "--"])
                .arg(py);
            cmd
        }
        _ => std::process::Command::new(py),
    };
    cmd.args(["-c", SERVER, &port.to_string()])
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut server = Background::spawn(&mut cmd);
    wait_until("the stranger's server accepts", DEADLINE, || {
        assert!(
            server.child().try_wait().unwrap().is_none(),
            "the stranger's server on port {port} exited"
        );
        accepting(port)
    });
    server
}

/// A stranger holding the loopback `port`: `python3` listening on it and sleeping, spawned
/// (its pid is the holder's) and returned once it accepts.
///
/// Not a listener of the test process itself: every child another test thread forks holds
/// all the test process's fds, that listener too, until it execs, and rdaemon, which names the
/// first holder it finds in `/proc`, may name that child instead of the test process.
pub fn stranger_listener(py: &Path, port: u16) -> Background {
    const LISTENER: &str = "import socket, sys, time\n\
        s = socket.socket()\n\
        s.bind(('127.0.0.1', int(sys.argv[1])))\n\
        s.listen()\n\
        time.sleep(1000000)\n";
    let mut cmd = std::process::Command::new(py);
    cmd.args(["-c", LISTENER, &port.to_string()])
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut listener = Background::spawn(&mut cmd);
    wait_until("the stranger listens", DEADLINE, || {
        assert!(
            listener.child().try_wait().unwrap().is_none(),
            "the stranger listening on port {port} exited"
        );
        accepting(port)
    });
    listener
}

/// What [`stranger_http_server`] was asked: its `GET PATH` lines, once it is killed.
pub fn stranger_gets(mut server: Background) -> String {
    let _ = server.child().kill();
    String::from_utf8_lossy(&server.into_output().stderr).into_owned()
}

/// A new pseudo-terminal: the master and the slave's path.
pub fn open_pty() -> (OwnedFd, CString) {
    // SAFETY: posix_openpt returns a new fd we then own; grantpt, unlockpt and ptsname_r only
    // read it and write into the buffer we pass with its length.
    unsafe {
        let master =
            nix::libc::posix_openpt(nix::libc::O_RDWR | nix::libc::O_NOCTTY | nix::libc::O_CLOEXEC);
        assert!(master >= 0, "posix_openpt failed");
        let master = OwnedFd::from_raw_fd(master);
        assert_eq!(nix::libc::grantpt(master.as_raw_fd()), 0);
        assert_eq!(nix::libc::unlockpt(master.as_raw_fd()), 0);
        let mut buf = [0 as nix::libc::c_char; 128];
        assert_eq!(
            nix::libc::ptsname_r(master.as_raw_fd(), buf.as_mut_ptr(), buf.len()),
            0
        );
        let path = std::ffi::CStr::from_ptr(buf.as_ptr()).to_owned();
        (master, path)
    }
}

/// Makes `cmd` a session leader whose controlling terminal is `slave`, on its stdin (and, with
/// `all`, on its stdout and stderr too, as in a shell on that terminal).
pub fn with_controlling_tty(cmd: &mut std::process::Command, slave: CString, all: bool) {
    // SAFETY: setsid, open, ioctl, dup2 and close are async-signal-safe; the path was built
    // before the fork.
    unsafe {
        cmd.pre_exec(move || {
            nix::libc::setsid();
            let fd = nix::libc::open(slave.as_ptr(), nix::libc::O_RDWR);
            if fd < 0 || nix::libc::ioctl(fd, nix::libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            nix::libc::dup2(fd, 0);
            if all {
                nix::libc::dup2(fd, 1);
                nix::libc::dup2(fd, 2);
            }
            nix::libc::close(fd);
            Ok(())
        });
    }
}

/// A port a socket of this process holds shows among those in use.
#[test]
fn a_held_port_is_in_use() {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let in_use = tcp_ports_in_use().expect("/proc/net/tcp is readable");
    assert!(in_use.contains(&port), "{port} not among {in_use:?}");
}

/// A daemon whose pidfile lies outside the test directory, and its monitor's child, are killed
/// when their test's `Env` goes, also without a cgroup to kill (review, 2026-12-03: only
/// `DIR/*.pid` were read).
#[test]
fn daemons_with_their_pidfile_elsewhere_die_with_their_test() {
    let env = Env::new();
    fs::create_dir(env.path("run")).unwrap();
    let pidfile = env.path("run/x.pid");
    let secs = unique_secs();
    env.run(&[
        "start",
        "--name",
        "x",
        "--respawn",
        "--cgroup",
        "off",
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--",
        "sleep",
        &secs,
    ])
    .ok();
    let monitor: i32 = fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let status: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(env.path("x.status")).unwrap()).unwrap();
    let child = status["child_pid"].as_i64().unwrap() as i32;
    let ours: Vec<(i32, u64)> = [monitor, child]
        .iter()
        .map(|&p| (p, stat(p).unwrap().start_time))
        .collect();
    drop(env);
    let gone = |&(p, t): &(i32, u64)| !stat(p).is_some_and(|s| s.start_time == t && s.state != 'Z');
    let deadline = Instant::now() + DEADLINE;
    while !ours.iter().all(gone) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Killed here if the harness failed, so that the failure leaks nothing.
    let left: Vec<i32> = ours.iter().filter(|o| !gone(o)).map(|o| o.0).collect();
    for &p in &left {
        let _ = kill(NixPid::from_raw(p), Signal::SIGKILL);
    }
    assert!(left.is_empty(), "left running: {left:?}");
}
