//! The only place in rdaemon that forks or execs.
//!
//! Three entry points share one setup-and-exec routine: [`spawn`] detaches a daemon (exec mode,
//! and the respawn monitor itself), [`spawn_child`] starts the respawn monitor's child, and
//! [`exec_in_place`] (`start --foreground`) execs the program in rdaemon's own place, without a
//! fork.
//!
//! [`spawn`] takes a fully prepared [`Plan`] (paths, argv, envp as C strings, opened fds,
//! credentials) and detaches it: fork; the child calls `setsid` and forks again, reports the
//! grandchild's pid and exits; the grandchild waits for the parent's "go", then sets up its
//! process (group, signals, credentials, cwd, umask, stdio, close-on-exec for everything else)
//! and calls `execve`. A close-on-exec pipe carries the pid and any failure (as a step and an
//! errno) back to the parent: end-of-file after "go" means the exec happened.
//!
//! The parent becomes a child subreaper first, so the grandchild is re-parented to it when the
//! intermediate child exits: its pid cannot be reused while the parent writes the pidfile, and a
//! failed grandchild is reaped here rather than left to PID 1. After `spawn` returns, the daemon
//! still is the caller's child, so `start` can wait for its readiness and learn how it ended.
//!
//! Given the daemon's cgroup, [`spawn`] creates the grandchild straight in it (`clone3` with
//! `CLONE_INTO_CGROUP`), falling back to the plain fork.
//!
//! [`spawn_child`] forks once, with every signal blocked across the fork (the child must not run
//! the monitor's handlers), and the child keeps the monitor's session and process group, sets
//! `PR_SET_PDEATHSIG` and re-checks its parent, then runs the same setup as a daemon.
//!
//! Between fork and exec only async-signal-safe libc calls run on memory prepared before the fork:
//! no allocation, no locks, no Rust I/O, no panics; failures end in `_exit`.

use std::ffi::{CString, OsStr};
use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::libc::{self, c_char, c_int};
use nix::sys::prctl;
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};
use nix::sys::wait::waitpid;
use nix::unistd::{getpid, pipe2};

use crate::process::Pid;

/// User and groups to switch to before exec (resolved before the fork).
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Numeric user id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

/// Everything the daemon process needs, prepared before the first fork.
#[derive(Debug)]
pub struct Plan {
    /// How to name the program in messages.
    pub display: String,
    program: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    cwd: CString,
    umask: libc::mode_t,
    stdin: OwnedFd,
    stdout: OwnedFd,
    stderr: Option<OwnedFd>,
    creds: Option<Credentials>,
    inherit: Vec<OwnedFd>,
    /// A variable set to the program's own pid (`WATCHDOG_PID`, sd_watchdog_enabled(3)), known
    /// only after the fork: written into space reserved before it.
    pid_env: Option<CString>,
    tuning: PreparedTuning,
}

/// Resource limits, scheduling priority and OOM score adjustment (issue 17), set in the
/// daemon before the credentials change (so that root can raise a hard limit for a daemon
/// that runs as another user), with async-signal-safe calls only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tuning {
    /// `(resource, soft, hard)` for `prlimit64`, `u64::MAX` meaning unlimited; in order.
    pub rlimits: Vec<(i32, u64, u64)>,
    /// The nice value to set (`setpriority`).
    pub nice: Option<i32>,
    /// The value to write to `/proc/self/oom_score_adj`.
    pub oom_score_adj: Option<i32>,
}

impl Tuning {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.rlimits.is_empty() && self.nice.is_none() && self.oom_score_adj.is_none()
    }
}

/// A [`Tuning`] with its OOM score text formatted before the fork.
#[derive(Debug, Clone, Default)]
struct PreparedTuning {
    rlimits: Vec<(i32, [u64; 2])>,
    nice: Option<i32>,
    oom_text: Option<Vec<u8>>,
}

impl PreparedTuning {
    fn new(t: &Tuning) -> PreparedTuning {
        PreparedTuning {
            rlimits: t.rlimits.iter().map(|&(r, s, h)| (r, [s, h])).collect(),
            nice: t.nice,
            oom_text: t.oom_score_adj.map(|v| format!("{v}\n").into_bytes()),
        }
    }
}

impl Plan {
    /// Where the program's stderr goes: its log, or with rotation or timestamps the pipe the
    /// respawn monitor reads into it. A helper whose output belongs in the log writes there.
    pub fn stderr_fd(&self) -> BorrowedFd<'_> {
        self.stderr.as_ref().unwrap_or(&self.stdout).as_fd()
    }

    /// Builds a plan. `stderr` of `None` shares `stdout`'s file. Fds are moved above 2 so
    /// that the `dup2` onto 0, 1, 2 always clears close-on-exec.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        program: &OsStr,
        argv: &[impl AsRef<OsStr>],
        envp: impl IntoIterator<Item = (impl AsRef<OsStr>, impl AsRef<OsStr>)>,
        cwd: &OsStr,
        umask: u32,
        stdin: OwnedFd,
        stdout: OwnedFd,
        stderr: Option<OwnedFd>,
        creds: Option<Credentials>,
    ) -> Result<Plan> {
        let cstr = |s: &OsStr| {
            CString::new(s.as_bytes()).with_context(|| {
                format!(
                    "invalid argument '{}': it contains a NUL byte",
                    s.to_string_lossy()
                )
            })
        };
        let envp = envp_of(envp)?;
        Ok(Plan {
            display: argv
                .first()
                .map(|a| a.as_ref().to_string_lossy().into_owned())
                .unwrap_or_default(),
            program: cstr(program)?,
            argv: argv
                .iter()
                .map(|a| cstr(a.as_ref()))
                .collect::<Result<_>>()?,
            envp,
            cwd: cstr(cwd)?,
            umask: umask as libc::mode_t,
            stdin: above_stdio(stdin)?,
            stdout: above_stdio(stdout)?,
            stderr: stderr.map(above_stdio).transpose()?,
            creds,
            inherit: Vec::new(),
            pid_env: None,
            tuning: PreparedTuning::default(),
        })
    }

    /// Sets the variable `name` to the program's own pid (for `spawn_child` only: a detached
    /// daemon's pid is not its parent's to write).
    pub fn with_pid_env(mut self, name: &str) -> Result<Plan> {
        let name = CString::new(name).context("invalid variable name")?;
        self.envp
            .retain(|e| !e.as_bytes().starts_with(&[name.as_bytes(), b"="].concat()));
        self.pid_env = Some(name);
        Ok(self)
    }

    /// Sets the program's resource limits, nice value and OOM score adjustment (the daemon's
    /// own, never a respawn monitor's: that one's plan has none).
    pub fn tune(mut self, tuning: &Tuning) -> Plan {
        self.tuning = PreparedTuning::new(tuning);
        self
    }

    /// Replaces the program's environment (the respawn monitor reads the env files again
    /// before each start of its child).
    pub fn set_env(
        &mut self,
        envp: impl IntoIterator<Item = (impl AsRef<OsStr>, impl AsRef<OsStr>)>,
    ) -> Result<()> {
        self.envp = envp_of(envp)?;
        Ok(())
    }

    /// Makes the program inherit `fd` under its current number (which the caller has passed
    /// on, in argv for instance); it must be above 2 (see [`above_stdio`]). Every other fd
    /// above 2 is closed at exec. May be called more than once.
    pub fn inherit(mut self, fd: OwnedFd) -> Result<Plan> {
        if fd.as_raw_fd() <= 2 {
            bail!("internal error: an inherited fd must be above 2");
        }
        self.inherit.push(fd);
        Ok(self)
    }
}

/// `KEY=VALUE` C strings.
fn envp_of(
    envp: impl IntoIterator<Item = (impl AsRef<OsStr>, impl AsRef<OsStr>)>,
) -> Result<Vec<CString>> {
    envp.into_iter()
        .map(|(k, v)| {
            let mut kv = k.as_ref().as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_ref().as_bytes());
            CString::new(kv).context("invalid environment: a variable contains a NUL byte")
        })
        .collect()
}

/// Duplicates `fd` to a number ≥ 3 (close-on-exec) when it sits on 0, 1 or 2, so that setting
/// up the standard streams cannot clobber it.
pub fn above_stdio(fd: OwnedFd) -> Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    let raw =
        fcntl(&fd, FcntlArg::F_DUPFD_CLOEXEC(3)).context("cannot duplicate a file descriptor")?;
    // SAFETY: fcntl just returned this new fd and nothing else owns it.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) })
}

/// The step that failed in the child, sent back with its errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum Step {
    Pid = 1,
    Setsid,
    Fork,
    Setpgid,
    Setgroups,
    Setgid,
    Setuid,
    Chdir,
    Stdio,
    Exec,
    Pdeathsig,
    Rlimit,
    Nice,
    OomScoreAdj,
    /// The grandchild's pid, the grandchild having been created in the requested cgroup.
    PidInCgroup,
    /// Joining a new session keyring (`--user`: the caller's must not reach the program).
    Keyring,
}

impl Step {
    fn from_u32(v: u32) -> Option<Step> {
        use Step::*;
        [
            Pid,
            Setsid,
            Fork,
            Setpgid,
            Setgroups,
            Setgid,
            Setuid,
            Chdir,
            Stdio,
            Exec,
            Pdeathsig,
            Rlimit,
            Nice,
            OomScoreAdj,
            PidInCgroup,
            Keyring,
        ]
        .into_iter()
        .find(|s| *s as u32 == v)
    }
}

/// The program could not be started; `step` says where it failed.
#[derive(Debug)]
pub struct SpawnError {
    message: String,
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpawnError {}

/// Data the forked children use, with every pointer array built before the fork.
struct Prepared<'a> {
    plan: &'a Plan,
    argv: Vec<*const c_char>,
    envp: Vec<*const c_char>,
    report: RawFd,
    go_read: RawFd,
    go_write: RawFd,
    max_signal: c_int,
    max_fd: c_int,
    /// `spawn`: the directory of the cgroup the grandchild is created in
    /// (`CLONE_INTO_CGROUP`); -1 for none.
    cgroup: RawFd,
    /// `spawn_child`: the monitor's pid, which the child checks after setting its parent-death
    /// signal; 0 for a daemon.
    parent: libc::pid_t,
    /// `spawn` with `keep`: the write end of the pipe on which the intermediate, kept as the
    /// launch's child subreaper, reports each process it reaps; -1 for none.
    reaped: RawFd,
    /// `spawn` with `keep`: rdaemon's pid, which the kept intermediate checks after setting its
    /// parent-death signal.
    keeper_parent: libc::pid_t,
    /// `exec_in_place`: drop to the user's real and effective ids but keep root's saved ones,
    /// so that rdaemon can take root back to clean up if the exec fails (execve itself then
    /// copies the effective ids into the saved ones: the program keeps no way back).
    keep_saved_ids: bool,
    /// The `NAME=` entry of [`Plan::with_pid_env`], which the forked child completes.
    pid_slot: Option<PidSlot>,
}

/// An environment entry `NAME=` with room for a pid and its NUL after `at`: a raw allocation
/// (freed on drop) that the forked child writes its pid into before exec, with no reference to
/// it alive.
struct PidSlot {
    ptr: *mut u8,
    at: usize,
}

/// Room for the digits of any pid and a NUL.
const PID_DIGITS: usize = 24;

impl Drop for PidSlot {
    fn drop(&mut self) {
        let len = self.at + PID_DIGITS;
        // SAFETY: `ptr` came from `Box::into_raw` of a boxed slice of exactly this length in
        // `Prepared::new`, and is freed only here.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.ptr, len)) });
    }
}

/// Writes `n` in decimal and a NUL at `at` (room for [`PID_DIGITS`] bytes). Async-signal-safe:
/// no allocation.
///
/// # Safety
/// `at` must be valid for writes of `PID_DIGITS` bytes, with no reference to them alive.
unsafe fn write_pid_digits(at: *mut u8, n: libc::pid_t) {
    let mut digits = [0u8; PID_DIGITS];
    let mut len = 0;
    let mut n = n.max(0) as u64;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..len {
        // SAFETY: len < PID_DIGITS (a u64 has at most 20 digits), within the caller's room.
        unsafe { *at.add(i) = digits[len - 1 - i] };
    }
    // SAFETY: as above.
    unsafe { *at.add(len) = 0 };
}

impl<'a> Prepared<'a> {
    /// Builds the argv and envp pointer arrays (they point into `plan`, which outlives them).
    fn new(plan: &'a Plan, report: RawFd) -> Prepared<'a> {
        let mut argv: Vec<*const c_char> = plan.argv.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut envp: Vec<*const c_char> = plan.envp.iter().map(|e| e.as_ptr()).collect();
        let pid_slot = plan.pid_env.as_ref().map(|name| {
            let mut entry = name.as_bytes().to_vec();
            entry.push(b'=');
            let at = entry.len();
            entry.extend_from_slice(&[0; PID_DIGITS]);
            let ptr = Box::into_raw(entry.into_boxed_slice()) as *mut u8;
            envp.push(ptr as *const c_char);
            PidSlot { ptr, at }
        });
        envp.push(std::ptr::null());
        Prepared {
            pid_slot,
            plan,
            argv,
            envp,
            report,
            go_read: -1,
            go_write: -1,
            max_signal: libc::SIGRTMAX(),
            max_fd: max_fd(),
            cgroup: -1,
            parent: 0,
            reaped: -1,
            keeper_parent: 0,
            keep_saved_ids: false,
        }
    }
}

/// Detaches the plan's program as a daemon and returns its pid once the exec has happened,
/// with what `before_exec` returned.
///
/// Two steps of the caller run in the parent, the first while a child works on another CPU, so
/// that their time overlaps instead of adding up:
/// - `while_forking`, right after the first fork, while the intermediate child makes the session
///   and forks the grandchild: work that needs no pid (`start` writes the spec there). What it
///   returns is handed to `before_exec`.
/// - `before_exec`, while the grandchild exists but waits for its "go": where the pidfile and
///   record are written, so they are in place before the program runs. If it fails, the
///   grandchild is killed and reaped, and the error returned.
///
/// With `cgroup` (a cgroup's directory), the daemon is created straight in that cgroup
/// (`clone3` with `CLONE_INTO_CGROUP`, Linux 5.7): no move between cgroups, whose write to
/// `cgroup.procs` waits for an RCU grace period in the kernel (up to 21 ms measured). Where
/// that clone fails for any reason (an older kernel, a seccomp filter, a cgroup removed or
/// not allowed to hold processes), the daemon is forked as without `cgroup`, outside it.
/// `before_exec` learns which: its second argument says whether the daemon is already in the
/// cgroup; if not, moving it there is the caller's business.
///
/// With `keep` (a `--forking` launch), the intermediate child stays, as the launch's own child
/// subreaper ([`Keeper`], returned), so that every process the launch leaves is re-parented
/// beneath it, and nothing else is. rdaemon itself is the subreaper of the daemons that earlier
/// starts of the same command (`resurrect`, `restart a b`, `up`) left: the orphans they make
/// while this launch runs are re-parented to rdaemon, never beneath the keeper. The program is
/// then the keeper's child, not the caller's: how it ended comes from [`Keeper::reaped`].
pub fn spawn<W, T>(
    plan: &Plan,
    cgroup: Option<BorrowedFd<'_>>,
    keep: bool,
    while_forking: impl FnOnce() -> W,
    before_exec: impl FnOnce(W, Pid, bool) -> Result<T>,
) -> Result<(Pid, T, Option<Keeper>)> {
    ensure_single_threaded()?;
    // Best effort: without it (old kernel), the grandchild goes to PID 1 and is simply not
    // reaped here; nothing else changes.
    let _ = prctl::set_child_subreaper(true);

    let (report_r, report_w) = pipe2(OFlag::O_CLOEXEC).context("cannot create a pipe")?;
    let (go_r, go_w) = pipe2(OFlag::O_CLOEXEC).context("cannot create a pipe")?;
    let reaped = match keep {
        true => Some(pipe2(OFlag::O_CLOEXEC).context("cannot create a pipe")?),
        false => None,
    };
    let prepared = Prepared {
        go_read: go_r.as_raw_fd(),
        go_write: go_w.as_raw_fd(),
        cgroup: cgroup.map_or(-1, |fd| fd.as_raw_fd()),
        reaped: reaped.as_ref().map_or(-1, |(_, w)| w.as_raw_fd()),
        keeper_parent: if keep { getpid().as_raw() } else { 0 },
        ..Prepared::new(plan, report_w.as_raw_fd())
    };

    crate::fault::point("before-fork");
    // SAFETY: rdaemon is single-threaded here (checked above), so the child is a faithful copy
    // with no lock held by another thread. The child runs `intermediate`, which makes only
    // async-signal-safe calls on memory prepared above and never returns.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(io::Error::last_os_error()).context("cannot fork");
    }
    if child == 0 {
        // SAFETY: see above; this is the forked child.
        unsafe { intermediate(&prepared) }
    }
    drop(report_w);
    drop(go_r);
    let reaped = reaped.map(|(r, _)| r);
    crate::fault::point("between-forks");
    // The pid arrives as soon as the intermediate has forked; its exit and reaping then overlap
    // with the pidfile and record work and with the grandchild's exec instead of delaying them.
    let mut intermediate = Intermediate {
        pid: Some(nix::unistd::Pid::from_raw(child)),
        kept: keep,
    };
    let forked = while_forking();
    let (pid, in_cgroup) = match read_message(&report_r)? {
        Some((step @ (Step::Pid | Step::PidInCgroup), raw)) => (
            Pid::new(raw)
                .map_err(|why| anyhow::anyhow!("the daemon got an unusable pid: {why}"))?,
            step == Step::PidInCgroup,
        ),
        Some((step, errno)) => return Err(failure(plan, step, errno).into()),
        None => bail!(
            "cannot start '{}': the intermediate process died",
            plan.display
        ),
    };

    let done = match before_exec(forked, pid, in_cgroup) {
        Ok(done) => done,
        Err(err) => {
            // The grandchild is blocked reading the go pipe; it never ran the program. Once the
            // intermediate is reaped, the grandchild is our child and can be reaped here too.
            intermediate.reap();
            let grandchild = nix::unistd::Pid::from_raw(pid.get());
            let _ = nix::sys::signal::kill(grandchild, nix::sys::signal::Signal::SIGKILL);
            let _ = waitpid(grandchild, None);
            return Err(err);
        }
    };
    write_go(&go_w)?;
    drop(go_w);
    crate::fault::point("before-exec");

    let outcome = read_message(&report_r)?;
    // Only a kept intermediate is handed over (taking the pid of one that exits would leave it
    // unreaped: a zombie session leader, which the session sweep then takes for gone).
    if let (None, Some(reaped), true) = (&outcome, reaped, intermediate.kept) {
        if let Some(keeper) = intermediate.pid.take() {
            fcntl(&reaped, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))
                .context("cannot make a pipe non-blocking")?;
            return Ok((
                pid,
                done,
                Some(Keeper {
                    pid: keeper,
                    reaped,
                }),
            ));
        }
    }
    intermediate.reap();
    match outcome {
        None => Ok((pid, done, None)),
        Some((step, errno)) => {
            // The grandchild has _exit'ed or is about to: reap it (we are its subreaper).
            let _ = waitpid(nix::unistd::Pid::from_raw(pid.get()), None);
            Err(failure(plan, step, errno).into())
        }
    }
}

/// The intermediate child, reaped exactly once: where the grandchild must already be our child,
/// or when `spawn` returns. A kept one (`spawn` with `keep`) never exits by itself while the launch
/// runs: it is killed first (the grandchild is then re-parented to the caller).
struct Intermediate {
    pid: Option<nix::unistd::Pid>,
    kept: bool,
}

impl Intermediate {
    fn reap(&mut self) {
        if let Some(pid) = self.pid.take() {
            if self.kept {
                // Our unreaped child: the pid cannot name another process.
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
            let _ = waitpid(pid, None);
        }
    }
}

/// The child subreaper of one `--forking` launch (`spawn` with `keep`): the intermediate child,
/// kept. It reaps every process that exits beneath it and reports each (pid and wait status)
/// on a pipe; it exits once nothing is left beneath it, and dies with rdaemon
/// (`PR_SET_PDEATHSIG`). Dropping it kills and reaps it: what still lives beneath it (the
/// daemon) is re-parented to the caller.
pub struct Keeper {
    pid: nix::unistd::Pid,
    reaped: OwnedFd,
}

impl Keeper {
    /// Its pid: the root of what the launch left.
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// The processes it reaped since the last call, each with its wait status, without
    /// blocking.
    pub fn reaped(&self) -> Vec<(i32, nix::sys::wait::WaitStatus)> {
        let mut out = Vec::new();
        let mut buf = [0u8; 8];
        while let Ok(8) = nix::unistd::read(&self.reaped, &mut buf) {
            let pid = i32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
            let raw = i32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]);
            if let Ok(status) =
                nix::sys::wait::WaitStatus::from_raw(nix::unistd::Pid::from_raw(pid), raw)
            {
                out.push((pid, status));
            }
        }
        out
    }

    /// The pipe [`Keeper::reaped`] reads, readable when it reaped a process (or exited).
    pub fn reaped_fd(&self) -> BorrowedFd<'_> {
        self.reaped.as_fd()
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        // Our unreaped child: the pid cannot name another process.
        let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(self.pid, None);
    }
}

impl Drop for Intermediate {
    fn drop(&mut self) {
        self.reap();
    }
}

/// What Rust's runtime start-up (`lang_start`) would have done and rdaemon needs, for the
/// binary's C `main` (`#![no_main]`, see `src/main.rs`): fds 0, 1 and 2 open, each closed one on
/// `/dev/null` (else the first file rdaemon opens, a lock or a record, would become its stdout),
/// and SIGPIPE ignored (a write to a closed pipe is then an `EPIPE` error, see `output.rs`).
/// Skipped: the main thread's stack-overflow handler and its alternate signal stack (an overflow
/// is a plain SIGSEGV) and the thread's name in panic messages.
pub fn start_up() {
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    use nix::sys::signal::{SigHandler, Signal};
    let mut fds = [0, 1, 2].map(|fd| {
        // SAFETY: only polled (events 0: nothing is read or written); a closed fd is fine,
        // poll reports it as POLLNVAL.
        PollFd::new(unsafe { BorrowedFd::borrow_raw(fd) }, PollFlags::empty())
    });
    if nix::poll::poll(&mut fds, PollTimeout::ZERO).is_ok() {
        for fd in fds {
            if fd
                .revents()
                .is_some_and(|r| r.contains(PollFlags::POLLNVAL))
            {
                // The lowest free fd: the closed one. Kept open for the process's life.
                let none = nix::sys::stat::Mode::empty();
                if let Ok(null) = nix::fcntl::open("/dev/null", OFlag::O_RDWR, none) {
                    std::mem::forget(null);
                }
            }
        }
    }
    // SAFETY: no handler is installed, only the disposition "ignore", and rdaemon is single-
    // threaded this early.
    let _ = unsafe { nix::sys::signal::signal(Signal::SIGPIPE, SigHandler::SigIgn) };
}

/// Starts the respawn monitor's child: the plan's program as a direct child of the calling
/// process, in its session and process group, with `PR_SET_PDEATHSIG(SIGTERM)` so that it does
/// not outlive the monitor. Returns once `execve` has succeeded; a failure before or at the exec
/// (the child is then reaped here) is an error saying which step failed.
///
/// Every signal is blocked across the fork: the child inherits the monitor's handlers, which
/// must never run in it, and a signal sent to it before the exec (a `stop` of the whole group)
/// stays pending until every disposition is back to default, then acts.
pub fn spawn_child(plan: &Plan) -> Result<Pid> {
    ensure_single_threaded()?;
    let (report_r, report_w) = pipe2(OFlag::O_CLOEXEC).context("cannot create a pipe")?;
    let prepared = Prepared {
        parent: getpid().as_raw(),
        ..Prepared::new(plan, report_w.as_raw_fd())
    };
    let mut old_mask = SigSet::empty();
    sigprocmask(
        SigmaskHow::SIG_SETMASK,
        Some(&SigSet::all()),
        Some(&mut old_mask),
    )
    .context("cannot block signals")?;
    // SAFETY: single-threaded (checked above), so the child is a faithful copy with no lock held
    // by another thread; it runs `set_up_and_exec`, which makes only async-signal-safe calls on
    // memory prepared above and never returns. The child stays in the monitor's session and
    // process group, so that `stop`'s group signal reaches both.
    let child = unsafe { libc::fork() };
    if child == 0 {
        // SAFETY: see above; this is the forked child.
        unsafe { exec_or_report(&prepared) }
    }
    let forked = if child < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    };
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
    forked.context("cannot fork")?;
    drop(report_w);
    let pid =
        Pid::new(child).map_err(|why| anyhow::anyhow!("the child got an unusable pid: {why}"));
    match read_message(&report_r) {
        Ok(None) => pid,
        Ok(Some((step, errno))) => {
            let _ = waitpid(nix::unistd::Pid::from_raw(child), None);
            Err(failure(plan, step, errno).into())
        }
        Err(e) => Err(e),
    }
}

/// Execs the plan's program in place of rdaemon (`start --foreground`): the same set-up as the
/// daemon gets after the double fork (credentials, cwd, umask, stdio, every fd above 2 closed at
/// exec, default signal dispositions and an empty mask), but no fork, no `setsid` and no new
/// process group, so the program keeps rdaemon's pid (and its place under systemd or a
/// container runtime).
///
/// Returns only if a step or the exec failed, and then undoes what matters for reporting and
/// cleaning up: rdaemon's standard streams are back (the error reaches the terminal, not the
/// log), so are its user and groups (the pidfile and record it wrote as root can be removed:
/// with `--user` only the real and effective ids were dropped, see `keep_saved_ids`), and
/// SIGPIPE is ignored again.
pub fn exec_in_place(plan: &Plan) -> Result<std::convert::Infallible> {
    use nix::unistd::{getgroups, getresgid, getresuid, setgroups, setresgid, setresuid};
    ensure_single_threaded()?;
    // Close-on-exec copies of fds 0, 1, 2 (a closed one stays closed).
    let streams = [
        io::stdin().as_fd(),
        io::stdout().as_fd(),
        io::stderr().as_fd(),
    ]
    .map(|fd| {
        fcntl(fd, FcntlArg::F_DUPFD_CLOEXEC(3))
            .ok()
            // SAFETY: fcntl just returned this new fd and nothing else owns it.
            .map(|raw| unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) })
    });
    let ids = match &plan.creds {
        Some(_) => Some((
            getresuid().context("cannot read rdaemon's user ids")?,
            getresgid().context("cannot read rdaemon's group ids")?,
            getgroups().context("cannot read rdaemon's groups")?,
        )),
        None => None,
    };
    // Only for another user: a program of rdaemon's own user (`--group` alone) could take
    // nothing from the terminal that its user does not have already.
    if plan
        .creds
        .as_ref()
        .is_some_and(|c| c.uid != nix::unistd::getuid().as_raw())
    {
        drop_controlling_terminal()?;
    }
    let prepared = Prepared {
        keep_saved_ids: true,
        ..Prepared::new(plan, -1)
    };
    // SAFETY: rdaemon is single-threaded (checked above), so changing credentials, signal
    // dispositions and fds affects no other thread; `prepared` and `plan` outlive the call, and
    // `set_up_and_exec` only makes system calls on the C strings and fds they hold.
    let (step, errno) = unsafe { set_up_and_exec(&prepared) };
    let mut err = anyhow::Error::from(failure(plan, step, errno));
    if let Some((uids, gids, groups)) = ids {
        // The saved ids are still root's: each may be set back to them.
        let regained = setresuid(uids.real, uids.effective, uids.saved)
            .and_then(|()| setresgid(gids.real, gids.effective, gids.saved))
            .and_then(|()| setgroups(&groups));
        if let Err(e) = regained {
            err = err.context(format!(
                "and rdaemon cannot take back its own user to clean up: {}",
                e.desc()
            ));
        }
    }
    let [stdin, stdout, stderr] = streams;
    for (saved, restore) in [
        (
            stdin,
            nix::unistd::dup2_stdin::<OwnedFd> as fn(OwnedFd) -> nix::Result<()>,
        ),
        (stdout, nix::unistd::dup2_stdout::<OwnedFd>),
        (stderr, nix::unistd::dup2_stderr::<OwnedFd>),
    ] {
        if let Some(fd) = saved {
            let _ = restore(fd);
        }
    }
    // Rust's runtime ignores SIGPIPE; the set-up reset it to the default, which would kill
    // rdaemon on a closed pipe instead of letting `output` end quietly.
    // SAFETY: single-threaded; SIG_IGN installs no handler code.
    let _ = unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigIgn,
        )
    };
    Err(err)
}

/// Gives up rdaemon's controlling terminal, if it has one (`start --foreground --user`): the
/// program runs as another user, and a process whose controlling terminal is root's can push
/// input into root's shell with `TIOCSTI` (review of 2026-12-02, where
/// `dev.tty.legacy_tiocsti` is 1) or read what root types. `TIOCNOTTY` on a fd of `/dev/tty`
/// (tty(4)). Ctrl-C from that terminal still reaches the program: the terminal signals its
/// foreground process group, which the program stays in.
///
/// For a session leader (rdaemon started by `setsid`, or as a container's first process with a
/// terminal) the kernel also sends SIGHUP and SIGCONT to the terminal's foreground process
/// group, rdaemon included: SIGHUP is ignored around the call (which also discards one that
/// arrived while blocked) and its disposition then restored; SIGCONT's default does nothing to
/// a running process. The exec resets every disposition afterwards anyway.
fn drop_controlling_terminal() -> Result<()> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, Signal};
    let flags = OFlag::O_RDONLY | OFlag::O_NOCTTY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let tty =
        match nix::fcntl::open("/dev/tty", flags, nix::sys::stat::Mode::empty()) {
            Ok(fd) => fd,
            // No controlling terminal: nothing to give up.
            Err(Errno::ENXIO) => return Ok(()),
            Err(e) => return Err(e).context(
                "cannot open /dev/tty to give up rdaemon's controlling terminal before running \
                 the program as another user",
            ),
        };
    let leader = nix::unistd::getsid(None).is_ok_and(|sid| sid == getpid());
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    // SAFETY: single-threaded (the caller checked); SIG_IGN installs no handler code, and the
    // disposition put back is the one read here.
    let old = match leader {
        true => {
            Some(unsafe { sigaction(Signal::SIGHUP, &ignore) }.context("cannot ignore SIGHUP")?)
        }
        false => None,
    };
    // SAFETY: TIOCNOTTY takes no argument; `tty` is an open fd.
    let r = unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCNOTTY) };
    let err = io::Error::last_os_error();
    if let Some(old) = old {
        // SAFETY: as above; ignoring again discards a SIGHUP that is pending because blocked.
        unsafe {
            let _ = sigaction(Signal::SIGHUP, &ignore);
            let _ = sigaction(Signal::SIGHUP, &old);
        }
    }
    if r < 0 {
        return Err(err).context(
            "cannot give up rdaemon's controlling terminal before running the program as \
             another user",
        );
    }
    Ok(())
}

/// Takes ownership of a pipe that the parent rdaemon passed down under the number `fd` (the
/// respawn monitor's report pipe), making it close-on-exec. Refuses 0, 1, 2 and anything that is
/// not an open pipe, so a stray number can never capture another file.
pub fn claim_inherited_pipe(fd: RawFd) -> Result<OwnedFd> {
    use std::os::unix::fs::FileTypeExt;
    claim_inherited(fd, "a pipe", |t| t.is_fifo())
}

/// Takes ownership of a socket passed down under the number `fd` (the notify socket that `start`
/// hands to the respawn monitor), as [`claim_inherited_pipe`] does a pipe.
pub fn claim_inherited_socket(fd: RawFd) -> Result<OwnedFd> {
    use std::os::unix::fs::FileTypeExt;
    claim_inherited(fd, "a socket", |t| t.is_socket())
}

fn claim_inherited(fd: RawFd, kind: &str, is_kind: fn(&fs::FileType) -> bool) -> Result<OwnedFd> {
    if fd <= 2 {
        bail!("invalid inherited fd {fd}: it must be above 2");
    }
    // F_GETFD fails with EBADF unless `fd` is open; it then belongs to no Rust object in this
    // freshly executed process, since the parent passed it to us for exactly this use.
    // SAFETY: fcntl on an integer fd touches no memory.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error())
            .with_context(|| format!("invalid inherited fd {fd}"));
    }
    // SAFETY: `fd` is open (checked above) and owned by nothing else in this process.
    let owned = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let file = fs::File::from(owned);
    let right_kind = file.metadata().is_ok_and(|m| is_kind(&m.file_type()));
    let owned = OwnedFd::from(file);
    if !right_kind {
        // Give the number back untouched: it is not ours to close.
        let _ = std::os::fd::IntoRawFd::into_raw_fd(owned);
        bail!("invalid inherited fd {fd}: it is not {kind}");
    }
    fcntl(&owned, FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC))
        .with_context(|| format!("invalid inherited fd {fd}"))?;
    Ok(owned)
}

fn failure(plan: &Plan, step: Step, errno: i32) -> SpawnError {
    let why = Errno::from_raw(errno).desc();
    let cwd = plan.cwd.to_string_lossy();
    let message = match step {
        Step::Exec => {
            let program = std::path::Path::new(OsStr::from_bytes(plan.program.as_bytes()));
            let why = match Errno::from_raw(errno) {
                Errno::ENOENT => {
                    crate::fsx::missing_interpreter(program).unwrap_or_else(|| why.into())
                }
                _ => why.into(),
            };
            // A program found on PATH: where (`python3` in root's home, which `--user` cannot
            // enter).
            match program.as_os_str() == OsStr::new(&plan.display) {
                true => format!("cannot execute '{}': {why}", plan.display),
                false => format!(
                    "cannot execute '{}' ({}): {why}",
                    plan.display,
                    program.display()
                ),
            }
        }
        Step::Chdir => format!("cannot change directory to '{cwd}': {why}"),
        Step::Setgroups => format!("cannot set supplementary groups: {why}"),
        Step::Setgid => format!("cannot set group id: {why}"),
        Step::Setuid => format!("cannot set user id: {why}"),
        Step::Stdio => format!("cannot redirect standard streams: {why}"),
        Step::Setsid => format!("cannot create a new session: {why}"),
        Step::Setpgid => format!("cannot create a process group: {why}"),
        Step::Pdeathsig => format!("cannot set the parent-death signal: {why}"),
        Step::Rlimit => format!("cannot set a resource limit: {why}"),
        Step::Nice => format!("cannot set the nice value: {why}"),
        Step::OomScoreAdj => format!("cannot set the OOM score adjustment: {why}"),
        Step::Keyring => format!("cannot give the program a session keyring of its own: {why}"),
        Step::Fork | Step::Pid | Step::PidInCgroup => format!("cannot fork: {why}"),
    };
    SpawnError { message }
}

fn ensure_single_threaded() -> Result<()> {
    let threads = fs::read_dir("/proc/self/task")
        .context("cannot read /proc/self/task")?
        .count();
    if threads != 1 {
        bail!("internal error: rdaemon must fork while single-threaded, but has {threads} threads");
    }
    Ok(())
}

/// The highest fd number the fallback close-on-exec loop must cover.
fn max_fd() -> c_int {
    use nix::sys::resource::{getrlimit, Resource};
    getrlimit(Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft.min(1 << 20) as c_int)
        .unwrap_or(1024)
}

fn write_go(go: &OwnedFd) -> Result<()> {
    loop {
        match nix::unistd::write(go, b"g") {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e).context("cannot signal the daemon process to go on"),
        }
    }
}

/// Reads one 8-byte message (step, value) from the report pipe; `None` at end-of-file.
fn read_message(fd: &OwnedFd) -> Result<Option<(Step, i32)>> {
    let mut buf = [0u8; 8];
    loop {
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) => return Ok(None),
            Ok(8) => break,
            Ok(n) => bail!("internal error: short message of {n} bytes from the daemon process"),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e).context("cannot read from the daemon process"),
        }
    }
    let step = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let value = i32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]);
    let step =
        Step::from_u32(step).context("internal error: unknown message from the daemon process")?;
    Ok(Some((step, value)))
}

/// Writes one message on the report pipe. Async-signal-safe: one `write` of a stack buffer.
///
/// # Safety
/// `fd` must be the report pipe's write end.
unsafe fn report(fd: RawFd, step: Step, value: i32) {
    let mut buf = [0u8; 8];
    buf[..4].copy_from_slice(&(step as u32).to_ne_bytes());
    buf[4..].copy_from_slice(&value.to_ne_bytes());
    // SAFETY: buf is 8 valid bytes on our stack; a pipe write of ≤ PIPE_BUF bytes is atomic.
    unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
}

/// Reports `step` with the current errno and exits the child.
///
/// # Safety
/// Only in a forked child.
unsafe fn fail(p: &Prepared<'_>, step: Step) -> ! {
    let errno = Errno::last_raw();
    // SAFETY: write and _exit are async-signal-safe; _exit skips atexit handlers and destructors
    // that belong to the parent.
    unsafe {
        report(p.report, step, errno);
        libc::_exit(127)
    }
}

/// The first child: new session, second fork, report the grandchild's pid, exit.
///
/// # Safety
/// Only in the child of `fork`, with `p` built before the fork.
unsafe fn intermediate(p: &Prepared<'_>) -> ! {
    // SAFETY: setsid, prctl, getppid, fork, write and _exit are async-signal-safe, and so is the
    // raw clone3 of `clone_into_cgroup` (its child only makes raw system calls); `grandchild`
    // and `keep_launch` keep to the same.
    unsafe {
        if libc::setsid() < 0 {
            fail(p, Step::Setsid)
        }
        if p.reaped >= 0 {
            // The launch's own subreaper, gone with rdaemon (checked once set: rdaemon may
            // have died before).
            if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0
                || libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) < 0
            {
                fail(p, Step::Pdeathsig)
            }
            if libc::getppid() != p.keeper_parent {
                libc::_exit(1)
            }
        }
        if p.cgroup >= 0 {
            match clone_into_cgroup(p.cgroup) {
                0 => grandchild(p),
                pid if pid > 0 => {
                    report(p.report, Step::PidInCgroup, pid);
                    keep_launch_or_exit(p)
                }
                // Whatever the reason, a plain fork and the parent's write to `cgroup.procs`
                // do what rdaemon did before clone3: the same outcome, the same errors.
                _ => {}
            }
        }
        match libc::fork() {
            -1 => fail(p, Step::Fork),
            0 => grandchild(p),
            pid => {
                report(p.report, Step::Pid, pid);
                keep_launch_or_exit(p)
            }
        }
    }
}

/// The intermediate once it reported the grandchild: exits, or, kept (`spawn` with `keep`), closes
/// every fd but the reaped pipe (the report pipe's end-of-file then still means "exec
/// happened"; no lock or log stays open here) and reaps everything re-parented to it, telling
/// each on the pipe, until nothing is left beneath it.
///
/// # Safety
/// Only in the intermediate child, with `p` built before the fork.
unsafe fn keep_launch_or_exit(p: &Prepared<'_>) -> ! {
    // SAFETY: close_range, close, dup2, waitpid, write and _exit are async-signal-safe syscall
    // wrappers; the buffer is on this stack.
    unsafe {
        if p.reaped < 0 {
            libc::_exit(0)
        }
        // The reaped pipe as fd 0, every other fd closed.
        if libc::dup2(p.reaped, 0) < 0 {
            libc::_exit(1)
        }
        if libc::syscall(libc::SYS_close_range, 1u32, u32::MAX, 0u32) < 0 {
            for fd in 1..p.max_fd {
                libc::close(fd);
            }
        }
        loop {
            let mut status: c_int = 0;
            let pid = libc::waitpid(-1, &mut status, 0);
            if pid > 0 {
                let mut buf = [0u8; 8];
                buf[..4].copy_from_slice(&pid.to_ne_bytes());
                buf[4..].copy_from_slice(&status.to_ne_bytes());
                // A pipe write of ≤ PIPE_BUF bytes is atomic.
                libc::write(0, buf.as_ptr().cast(), buf.len());
            } else if Errno::last_raw() != libc::EINTR {
                // ECHILD: nothing beneath it any more, so nothing can be re-parented to it.
                libc::_exit(0)
            }
        }
    }
}

/// `struct clone_args` of `clone3(2)` up to `cgroup` (`CLONE_ARGS_SIZE_VER2`, Linux 5.7).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// `CLONE_INTO_CGROUP` (linux/sched.h).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// A fork whose child starts in the cgroup of directory `cgroup`: `clone3` with
/// `CLONE_INTO_CGROUP` and `SIGCHLD`, nothing shared. Returns as `fork` does (0 in the child,
/// its pid in the parent), or -1 with errno set (`ENOSYS` before Linux 5.3, `E2BIG` or
/// `EINVAL` before 5.7, `EOPNOTSUPP`, `EBUSY`, `ENODEV` from the cgroup, `EPERM` from seccomp…).
///
/// Unlike glibc's `fork`, no atfork handler runs and the child's thread descriptor keeps the
/// parent's cached thread id: the child must only make raw system calls (no `raise`, no
/// `abort`, no locks), which is all [`grandchild`] does.
///
/// # Safety
/// Only in a single-threaded process (here the intermediate child), the child keeping to
/// async-signal-safe calls on memory prepared before.
unsafe fn clone_into_cgroup(cgroup: RawFd) -> libc::pid_t {
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup as u64,
        ..CloneArgs::default()
    };
    // SAFETY: without CLONE_VM the child gets a copy of this address space and returns here on
    // its copy of the stack, as from fork; `args` is a valid clone_args of the size given.
    unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        ) as libc::pid_t
    }
}

/// The daemon-to-be: waits for "go", sets up the process and execs.
///
/// # Safety
/// Only in the grandchild, with `p` built before the fork.
unsafe fn grandchild(p: &Prepared<'_>) -> ! {
    // SAFETY: close, read, setpgid and _exit are async-signal-safe syscall wrappers on fds
    // prepared before the fork; set_up_and_exec keeps to the same rules.
    unsafe {
        libc::close(p.go_write);
        let mut byte = 0u8;
        loop {
            let n = libc::read(p.go_read, (&mut byte as *mut u8).cast(), 1);
            if n == 1 {
                break;
            }
            if n < 0 && Errno::last_raw() == libc::EINTR {
                continue;
            }
            // The parent died or gave up before saying go: never run the program.
            libc::_exit(1);
        }
        libc::close(p.go_read);

        // Lead a process group of its own, so `stop` can signal the daemon and its children,
        // while staying out of the session leader's seat (no controlling tty, ever).
        if libc::setpgid(0, 0) < 0 {
            fail(p, Step::Setpgid)
        }
        exec_or_report(p)
    }
}

/// [`set_up_and_exec`] in a forked child: a failure goes back on the report pipe, then `_exit`.
///
/// # Safety
/// Only in a forked child, with `p` built before the fork.
unsafe fn exec_or_report(p: &Prepared<'_>) -> ! {
    // SAFETY: set_up_and_exec, write and _exit keep to async-signal-safe calls on memory
    // prepared before the fork; the pid slot is a raw allocation of the right size that no
    // reference points into (see `Prepared::pid_slot`).
    unsafe {
        if let Some(slot) = &p.pid_slot {
            write_pid_digits(slot.ptr.add(slot.at), libc::getpid());
        }
        let (step, errno) = set_up_and_exec(p);
        report(p.report, step, errno);
        libc::_exit(127)
    }
}

/// Credentials, parent-death signal (children of the monitor only), cwd, umask, stdio,
/// close-on-exec for every other fd, default signal dispositions and mask, then `execve`.
/// Returns only on failure: the step that failed and its errno.
///
/// # Safety
/// Only in a single-threaded process (a forked child, or rdaemon about to exec in place), with
/// `p` built beforehand: it makes only async-signal-safe calls and never allocates.
unsafe fn set_up_and_exec(p: &Prepared<'_>) -> (Step, i32) {
    let plan = p.plan;
    let failed = |step| (step, Errno::last_raw());
    // SAFETY: every call below is an async-signal-safe syscall wrapper (keyctl, setgroups, setgid,
    // setuid, setresgid, setresuid, prctl, getppid, chdir, umask, dup2, close_range/fcntl, sigaction, sigprocmask,
    // execve, _exit) operating on fds and C strings prepared before the fork; nothing allocates.
    unsafe {
        // Before the credentials: as root, a hard limit can be raised, a negative nice value
        // and a low OOM score set, for a program that runs as another user.
        if let Err((step, errno, _)) = apply_tuning(&plan.tuning) {
            return (step, errno);
        }
        if let Some(creds) = &plan.creds {
            // Still as rdaemon's user (root): see `join_new_session_keyring`.
            if let Err(errno) = join_new_session_keyring() {
                return (Step::Keyring, errno);
            }
            if libc::setgroups(creds.groups.len(), creds.groups.as_ptr()) < 0 {
                return failed(Step::Setgroups);
            }
            if p.keep_saved_ids {
                // Real and effective ids only (-1: the saved ones stay root's); execve copies
                // the effective ids into the saved ones, so the program has no way back.
                let keep = libc::uid_t::MAX;
                if libc::setresgid(creds.gid, creds.gid, keep) < 0 {
                    return failed(Step::Setgid);
                }
                if libc::setresuid(creds.uid, creds.uid, keep) < 0 {
                    return failed(Step::Setuid);
                }
                // A saved uid of 0 keeps the ambient capabilities, which a full setuid would
                // have cleared (capabilities(7)): clear them, so the program gets none.
                // EINVAL on kernels before 4.3, which have none to clear.
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                    0 as libc::c_ulong,
                    0 as libc::c_ulong,
                    0 as libc::c_ulong,
                );
            } else {
                if libc::setgid(creds.gid) < 0 {
                    return failed(Step::Setgid);
                }
                if libc::setuid(creds.uid) < 0 {
                    return failed(Step::Setuid);
                }
            }
        }
        if p.parent != 0 {
            // After the credentials: changing them clears the parent-death signal (prctl(2)).
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong) < 0 {
                return failed(Step::Pdeathsig);
            }
            // The monitor may have died before the prctl, and then the signal never comes:
            // re-check the parent, as systemd does. Nobody is left to report to.
            if libc::getppid() != p.parent {
                libc::_exit(1)
            }
        }
        if libc::chdir(plan.cwd.as_ptr()) < 0 {
            return failed(Step::Chdir);
        }
        libc::umask(plan.umask);
        let stderr = plan.stderr.as_ref().unwrap_or(&plan.stdout);
        if libc::dup2(plan.stdin.as_raw_fd(), 0) < 0
            || libc::dup2(plan.stdout.as_raw_fd(), 1) < 0
            || libc::dup2(stderr.as_raw_fd(), 2) < 0
        {
            return failed(Step::Stdio);
        }
        // Every fd above 2 is closed at exec: the report pipe stays usable until then.
        if libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        ) < 0
        {
            for fd in 3..p.max_fd {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
        // ...except the ones the plan passes on under their own numbers.
        for fd in &plan.inherit {
            if libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0) < 0 {
                return failed(Step::Stdio);
            }
        }
        // Last, so that a signal blocked since `spawn_child`'s fork acts only with its default
        // disposition, never through a handler inherited from the monitor.
        reset_signals(p.max_signal);
        libc::execve(plan.program.as_ptr(), p.argv.as_ptr(), p.envp.as_ptr());
        failed(Step::Exec)
    }
}

/// Sets the limits, the nice value and the OOM score adjustment of the calling process; on
/// failure, the step, its errno and (for a limit) its index.
///
/// # Safety
/// Only in a forked child (or rdaemon about to exec in place): async-signal-safe calls only
/// (prlimit64, setpriority, open, write, close) on memory prepared before the fork.
unsafe fn apply_tuning(t: &PreparedTuning) -> Result<(), (Step, i32, usize)> {
    // SAFETY: raw system calls on stack values and buffers allocated before the fork.
    unsafe {
        for (i, (resource, values)) in t.rlimits.iter().enumerate() {
            let r = libc::syscall(
                libc::SYS_prlimit64,
                0 as libc::pid_t,
                *resource as c_int,
                values.as_ptr(),
                std::ptr::null_mut::<u64>(),
            );
            if r < 0 {
                return Err((Step::Rlimit, Errno::last_raw(), i));
            }
        }
        if let Some(nice) = t.nice {
            if libc::setpriority(libc::PRIO_PROCESS, 0, nice) < 0 {
                return Err((Step::Nice, Errno::last_raw(), 0));
            }
        }
        if let Some(text) = &t.oom_text {
            let fd = libc::open(
                c"/proc/self/oom_score_adj".as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC,
            );
            if fd < 0 {
                return Err((Step::OomScoreAdj, Errno::last_raw(), 0));
            }
            let n = libc::write(fd, text.as_ptr().cast(), text.len());
            let errno = Errno::last_raw();
            libc::close(fd);
            if n != text.len() as isize {
                return Err((Step::OomScoreAdj, errno, 0));
            }
        }
    }
    Ok(())
}

/// Why the kernel refused a [`Tuning`]: which part, and its errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The limit at this index of `rlimits`.
    Rlimit(usize, Errno),
    /// The nice value.
    Nice(Errno),
    /// The OOM score adjustment.
    OomScoreAdj(Errno),
}

/// Tries `tuning` in a forked child that only applies it, as the daemon will (before the
/// credentials, as rdaemon's own user) and exits: the kernel's own answer, before anything is
/// detached (a hard limit above the current one without root, `nofile` above `fs.nr_open`, a
/// negative nice value or a lower OOM score without the privilege). `Ok(None)`: accepted.
pub fn try_tuning(tuning: &Tuning) -> Result<Option<Refused>> {
    if tuning.is_empty() {
        return Ok(None);
    }
    ensure_single_threaded()?;
    let prepared = PreparedTuning::new(tuning);
    let (report_r, report_w) = pipe2(OFlag::O_CLOEXEC).context("cannot create a pipe")?;
    let raw_w = report_w.as_raw_fd();
    // SAFETY: single-threaded (checked above), so the child is a faithful copy with no lock
    // held by another thread; it makes only async-signal-safe calls (apply_tuning, write,
    // _exit) on memory prepared above and never returns.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(io::Error::last_os_error()).context("cannot fork");
    }
    if child == 0 {
        // SAFETY: the forked child, see above.
        unsafe {
            if let Err((step, errno, index)) = apply_tuning(&prepared) {
                let mut buf = [0u8; 12];
                buf[..4].copy_from_slice(&(step as u32).to_ne_bytes());
                buf[4..8].copy_from_slice(&errno.to_ne_bytes());
                buf[8..].copy_from_slice(&(index as u32).to_ne_bytes());
                libc::write(raw_w, buf.as_ptr().cast(), buf.len());
            }
            libc::_exit(0)
        }
    }
    drop(report_w);
    let mut buf = [0u8; 12];
    let mut got = 0;
    while got < buf.len() {
        match nix::unistd::read(&report_r, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::EINTR) => continue,
            Err(e) => {
                let _ = waitpid(nix::unistd::Pid::from_raw(child), None);
                return Err(e).context("cannot read from the probe process");
            }
        }
    }
    let _ = waitpid(nix::unistd::Pid::from_raw(child), None);
    if got == 0 {
        return Ok(None);
    }
    let word = |i: usize| u32::from_ne_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
    let errno = Errno::from_raw(word(4) as i32);
    Ok(Some(match Step::from_u32(word(0)) {
        Some(Step::Nice) => Refused::Nice(errno),
        Some(Step::OomScoreAdj) => Refused::OomScoreAdj(errno),
        _ => Refused::Rlimit(word(8) as usize, errno),
    }))
}

/// Default disposition for every signal and an empty mask: nothing rdaemon or its caller
/// ignored or blocked (SIGPIPE, which Rust ignores, included) leaks into the daemon.
///
/// The dispositions are set with the raw `rt_sigaction` system call: glibc's `sigaction`
/// refuses its two reserved real-time signals (32 and 33), and a parent that ignored them would
/// otherwise pass that on through exec.
///
/// # Safety
/// Only in the grandchild.
unsafe fn reset_signals(max_signal: c_int) {
    // SAFETY: a zeroed kernel sigaction is "SIG_DFL, no flags, no restorer, empty mask";
    // rt_sigaction and sigprocmask are async-signal-safe; errors (SIGKILL, SIGSTOP) are ignored.
    unsafe {
        let dfl = KernelSigaction::default();
        for sig in 1..=max_signal {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &dfl as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                std::mem::size_of::<u64>(),
            );
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    }
}

/// The kernel's `struct sigaction` on x86_64 and aarch64 (handler, flags, restorer, 64-bit mask),
/// which differs from glibc's.
#[repr(C)]
#[derive(Default)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!(
    "rdaemon's reset_signals knows the kernel sigaction layout of x86_64 and aarch64 only"
);

/// Gives the calling process a new, empty, anonymous session keyring (`keyctl(2)`
/// `KEYCTL_JOIN_SESSION_KEYRING` with no name), as systemd's `KeyringMode=private` does: the
/// caller's session keyring (root's, with whatever keys root added to it) is then no longer
/// the process's, so a program that runs as another user cannot possess, and so read, root's
/// keys (review of 2026-12-02: a `--user nobody` daemon read a key root had added to `@s`).
///
/// Called while still root, before the credentials change: the keyring is then charged to
/// root's key quota, which the daemon's user cannot exhaust (joined as that user, a user who
/// had filled their own quota would make it fail with `EDQUOT` and keep root's keyring). The
/// keyring stays owned by root; the program possesses it (it is its session keyring), which
/// gives it every right on it.
///
/// `ENOSYS` (a kernel without keyrings) and `EPERM` (a seccomp filter, as in many containers,
/// which keeps the program from using `keyctl` too) are not errors: there is nothing to leak
/// through. Any other errno is returned.
///
/// # Safety
/// Async-signal-safe (one raw system call), for a forked child before exec.
unsafe fn join_new_session_keyring() -> Result<(), i32> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: a NULL name asks for an anonymous keyring; no memory is passed to the kernel.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<c_char>(),
        )
    };
    match r < 0 {
        false => Ok(()),
        true => match Errno::last_raw() {
            libc::ENOSYS | libc::EPERM => Ok(()),
            errno => Err(errno),
        },
    }
}

/// Sets `cmd` up as one of the daemon's helpers (`/bin/sh -c` of `--ready cmd:`, and the
/// monitor's `--health cmd:` and `--on-exit` commands), started as it is with std's
/// `Command`, so that it gets what the daemon gets where it matters (review of 2026-12-02:
/// a `--ready cmd:` helper, run as the daemon's user in root's session with root's
/// controlling terminal and fds, could be ptraced by the daemon to inject input into root's
/// shell with `TIOCSTI` and to take root's fds with `pidfd_getfd`). In the child, before exec:
///
/// - a session of its own (`setsid`): no controlling terminal, and a process group it leads,
///   so `killpg` of its pid reaches it and what it started;
/// - with `cgroup_procs` (the daemon's `cgroup.procs`, opened write-only by the caller; `cmd`
///   keeps a close-on-exec copy), moved into the daemon's cgroup, so what it leaves behind is
///   the daemon's and goes at `stop`;
/// - every fd above 2 closed at exec: only its stdin, stdout and stderr reach it;
/// - with `creds`, a new session keyring (joined before the credentials change, see
///   [`join_new_session_keyring`]), then the supplementary groups, group and user, as the
///   daemon gets them. std's `CommandExt::groups` is unstable, and its `uid`/`gid` would clear
///   the supplementary groups, hence the hook;
/// - with `chdir`, the daemon's working directory entered last, as the daemon's user, as the
///   daemon enters it: std's `current_dir` would enter it as root, before the hook, following a
///   symlink the daemon's user put in its place, and leave the helper, running as that user,
///   in a directory the user cannot reach, whose files any of the user's processes then read
///   through `/proc/PID/cwd` (helper-102's attack, 2026-12-03). The caller must not set
///   `current_dir`.
///
/// The caller must not set `process_group` on `cmd`: a group leader cannot `setsid`. Fails
/// if the copy of `cgroup_procs` cannot be made, or `chdir` holds a NUL byte.
pub fn isolate_helper(
    cmd: &mut std::process::Command,
    creds: Option<&Credentials>,
    cgroup_procs: Option<BorrowedFd<'_>>,
    chdir: Option<&Path>,
) -> io::Result<()> {
    use std::os::unix::process::CommandExt;
    let ids = creds.map(|c| (c.uid, c.gid, c.groups.clone()));
    let dir = chdir
        .map(|d| CString::new(d.as_os_str().as_bytes()))
        .transpose()
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // Owned by the hook, so open for as long as `cmd` can spawn (F_DUPFD_CLOEXEC).
    let procs: Option<OwnedFd> = cgroup_procs.map(|fd| fd.try_clone_to_owned()).transpose()?;
    let max_fd = max_fd();
    // SAFETY: the hook runs in the forked child before exec and makes only async-signal-safe
    // system calls (setsid, write, close_range or fcntl, keyctl, getuid, setgroups, setgid,
    // setuid, chdir) on data moved in beforehand (`procs` is an fd the hook owns, open until
    // `cmd` is dropped; `dir` a C string made before the fork); nothing allocates.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            // Best effort, as `watch_cgroup` says: a daemon that made its cgroup an inner
            // one (a leaf beneath, controllers enabled) refuses it, and the command then runs
            // where `start` runs rather than not at all.
            if let Some(procs) = &procs {
                let _ = libc::write(procs.as_raw_fd(), b"0".as_ptr().cast(), 1);
            }
            let all_above_stdio = libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            if all_above_stdio < 0 {
                for fd in 3..max_fd {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            if let Some((uid, gid, groups)) = &ids {
                if let Err(errno) = join_new_session_keyring() {
                    return Err(io::Error::from_raw_os_error(errno));
                }
                // Only root may set groups; an unprivileged rdaemon runs the helper as itself.
                if libc::getuid() == 0 && libc::setgroups(groups.len(), groups.as_ptr()) < 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::setgid(*gid) < 0 || libc::setuid(*uid) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            if let Some(dir) = &dir {
                if libc::chdir(dir.as_ptr()) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    Ok(())
}
