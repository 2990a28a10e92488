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
//! `CLONE_INTO_CGROUP`), falling back to creating it outside.
//!
//! On x86_64, [`spawn`]'s two children (and [`spawn_child`]'s one) share rdaemon's memory instead of copying it (`clone3`
//! with `CLONE_VM`, each on a stack of its own, as `posix_spawn` does for one child): no page
//! table is copied and no page of rdaemon's becomes copy-on-write, which took 0.3–0.4 ms off a
//! `start` (issue 18). They run beside rdaemon, so they make raw system calls only ([`sys!`]:
//! not even `errno`, which they would share with it), with every signal blocked from their
//! creation until the grandchild's dispositions are back to default, and [`spawn`] returns only
//! once the report pipe says that neither can run on that memory any more. Where `clone3`
//! cannot be used (a kernel before 5.3, a seccomp filter), for a `--forking` launch's kept
//! intermediate, which outlives the `start`, and for a program with an OOM score adjustment
//! or credentials of another user (which would reach rdaemon's process too, see
//! [`may_share_memory`]), the children are forked as before.
//!
//! [`spawn_child`] forks once, with every signal blocked across the fork (the child must not run
//! the monitor's handlers), and the child keeps the monitor's session and process group, sets
//! `PR_SET_PDEATHSIG` and re-checks its parent, then runs the same setup as a daemon.
//!
//! Between fork and exec only raw system calls run on memory prepared before the fork: no libc
//! call, no allocation, no locks, no Rust I/O, no panics; failures end in `exit_group`.

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
use nix::sys::signal::SigSet;
use nix::sys::wait::waitpid;
use nix::unistd::{getpid, pipe2};

use crate::process::Pid;

/// Raw system calls for the code between fork and exec: the kernel's answer, `Err(errno)` on
/// failure, and `errno` left alone. A child that [`spawn`] creates with `CLONE_VM` shares
/// rdaemon's memory, and with it the thread-local `errno` that rdaemon's own calls set and read
/// meanwhile: a libc wrapper there could hand rdaemon the child's errno, or the child rdaemon's.
mod raw {
    use nix::libc::c_long;

    /// `syscall(n, a…)` with the x86_64 convention; the kernel clobbers rcx and r11 only.
    ///
    /// # Safety
    /// The memory and fds the call reads or writes are the caller's contract, as for
    /// `libc::syscall`.
    #[cfg(target_arch = "x86_64")]
    pub unsafe fn call(n: c_long, a: [usize; 6]) -> Result<usize, i32> {
        let ret: isize;
        // SAFETY: the arguments are plain integers in the registers the kernel reads them from;
        // what they point to is the caller's contract (above). No stack is used.
        unsafe {
            std::arch::asm!(
                "syscall",
                inlateout("rax") n as isize => ret,
                in("rdi") a[0],
                in("rsi") a[1],
                in("rdx") a[2],
                in("r10") a[3],
                in("r8") a[4],
                in("r9") a[5],
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        match ret {
            -4095..=-1 => Err(-ret as i32),
            r => Ok(r as usize),
        }
    }

    /// Elsewhere no child shares rdaemon's memory (see `clone_vm`): libc's wrapper, whose errno
    /// is then the forked child's own.
    ///
    /// # Safety
    /// As for `libc::syscall`.
    #[cfg(not(target_arch = "x86_64"))]
    pub unsafe fn call(n: c_long, a: [usize; 6]) -> Result<usize, i32> {
        // SAFETY: the caller's contract.
        let r = unsafe { nix::libc::syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]) };
        match r < 0 {
            true => Err(nix::errno::Errno::last_raw()),
            false => Ok(r as usize),
        }
    }

    /// Ends the calling process (`exit_group`): no atexit handler, no destructor, no stdio
    /// flush, which belong to rdaemon.
    pub fn exit(code: i32) -> ! {
        loop {
            // SAFETY: exit_group takes an integer and does not return when it succeeds.
            let _ = unsafe { call(nix::libc::SYS_exit_group, [code as usize, 0, 0, 0, 0, 0]) };
        }
    }
}

/// `sys!(SYS_name, args…)`: [`raw::call`] of `libc::SYS_name` with up to six arguments, each
/// cast to `usize` (pointers and fds alike). Unsafe, as the call is.
macro_rules! sys {
    ($n:ident $(, $a:expr)* $(,)?) => {{
        let given: &[usize] = &[$($a as usize),*];
        let mut args = [0usize; 6];
        args[..given.len()].copy_from_slice(given);
        raw::call(libc::$n, args)
    }};
}

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
        cgroup: cgroup.map_or(-1, |fd| fd.as_raw_fd()),
        reaped: reaped.as_ref().map_or(-1, |(_, w)| w.as_raw_fd()),
        keeper_parent: if keep { getpid().as_raw() } else { 0 },
        ..Prepared::new(plan, report_w.as_raw_fd())
    };
    let shared = may_share_memory(plan);
    let stacks = shared.then(ChildStacks::new).flatten();
    let handoff = Box::into_raw(Box::new(Handoff {
        // Only the address: the children read it as `&Prepared` while `spawn` keeps `prepared`.
        prepared: std::ptr::addr_of!(prepared).cast(),
        go_read: go_r.as_raw_fd(),
        go_write: go_w.as_raw_fd(),
        shares_memory: false,
        stack: stacks.as_ref().map(|s| s.stack(1)),
    }));

    crate::fault::point("before-fork");
    // Not shared by a kept intermediate, which outlives this `start`.
    let stack = stacks.as_ref().filter(|_| !keep).map(|s| s.stack(0));
    // SAFETY: `handoff` is the Box made above, written only before the child exists.
    unsafe { (*handoff).shares_memory = stack.is_some() };
    // SAFETY: single-threaded (checked above); `intermediate_entry` keeps to raw system calls on
    // the handoff and `prepared`, which stay untouched here until the intermediate is reaped
    // (`after_fork`); its stack is its own. Forked, it learns that it shares nothing.
    let (child, shares) = unsafe {
        new_child(stack, intermediate_entry, handoff.cast(), || {
            (*handoff).shares_memory = false;
        })?
    };
    drop(report_w);
    drop(go_r);
    let result = after_fork(
        plan,
        child,
        keep,
        go_w,
        &report_r,
        reaped.map(|(r, _)| r),
        while_forking,
        before_exec,
    );
    // Once `after_fork` returns, the intermediate is reaped (or kept: then forked, not sharing
    // this memory) and the go pipe closed. A grandchild that shares this memory either exec'd
    // or is about to end (it fails, or reads end-of-file for its "go"); both close its end of
    // the report pipe, and the intermediate's end is closed. End-of-file there is what says
    // that no child runs on the stacks or reads `prepared` or the handoff any more.
    let done = !shares || report_closed(&report_r);
    match done {
        // SAFETY: the Box made above, freed once: nothing reads it any more.
        true => drop(unsafe { Box::from_raw(handoff) }),
        // A child that neither exec'd nor ended in 10 s (stopped by root?) may still run
        // there: its stacks and handoff are left to it, never reused.
        false => std::mem::forget(stacks),
    }
    result
}

/// Whether [`spawn`]'s and [`spawn_child`]'s children may share rdaemon's memory (`CLONE_VM`):
/// on x86_64, unless the test fault `clone-vm-refused` says otherwise, and not for a program
/// with an OOM score adjustment. Written from a process that shares its memory with others
/// (`MMF_MULTIPROCESS`, set by a `CLONE_VM` clone), `/proc/self/oom_score_adj` is set by the
/// kernel on every one of them (`__set_oom_adj` in fs/proc/base.c), so `start` and the respawn
/// monitor would take the daemon's score: the monitor the OOM killer's first target (and the
/// daemon killed with it by its parent-death signal), or, lowered, never one. Those children
/// are forked.
///
/// Nor for a program that runs as another user (`--user`, `--group`). A child whose
/// credentials change is given, with its memory, the dumpability `fs.suid_dumpable` says
/// (`commit_creds`): shared, rdaemon's too. Where that is 1 ("debug"), the user could, between
/// the child's `setuid` and its exec, stop it and open its memory (`ptrace`, `/proc/PID/mem`),
/// which would be root's `start` or monitor (shown by stopping every process of `nobody`'s in a
/// loop and opening the one still running rdaemon's image); where it is 0, `start` and the
/// monitor would lose their core dumps. Forked, the child's memory is a copy that its exec
/// replaces.
fn may_share_memory(plan: &Plan) -> bool {
    cfg!(target_arch = "x86_64")
        && !crate::fault::injected("clone-vm-refused")
        && plan.tuning.oom_text.is_none()
        && plan.creds.is_none()
}

/// Creates a child that runs `entry(arg)` and never returns: sharing rdaemon's memory on
/// `stack` ([`clone_vm`]) when one is given, where it can (x86_64, `clone3`), else forked
/// (`forking` runs first, so the forked copy sees what it changes). Returns its pid and whether
/// it shares the memory.
///
/// Every signal is blocked across it, the two glibc keeps for itself included (the raw call:
/// glibc's `sigprocmask` leaves them out): the child inherits the mask, and no handler of
/// rdaemon's may run in it, whose memory it shares or is a copy of; it unblocks them just
/// before its exec, every disposition back to default.
///
/// # Safety
/// rdaemon must be single-threaded (a fork copies only the calling thread). `entry` must keep
/// to raw system calls on memory the caller leaves alone until the child has exited or exec'd,
/// and `stack`, if any, must be the caller's for this child alone until then.
unsafe fn new_child(
    stack: Option<(usize, usize)>,
    entry: unsafe extern "C" fn(*mut libc::c_void) -> !,
    arg: *mut libc::c_void,
    forking: impl FnOnce(),
) -> Result<(libc::pid_t, bool)> {
    let all: u64 = !0;
    let mut old: u64 = 0;
    let size = std::mem::size_of::<u64>();
    // SAFETY: both masks are u64 on this stack, the kernel's sigset size.
    unsafe {
        let (all, old) = (&all as *const u64, &mut old as *mut u64);
        sys!(SYS_rt_sigprocmask, libc::SIG_SETMASK, all, old, size)
    }
    .map_err(io::Error::from_raw_os_error)
    .context("cannot block signals")?;
    // SAFETY: the caller's contract; every signal is blocked.
    #[cfg(target_arch = "x86_64")]
    let shared = stack.and_then(|stack| unsafe { clone_vm(0, -1, stack, entry, arg) }.ok());
    #[cfg(not(target_arch = "x86_64"))]
    let shared: Option<libc::pid_t> = stack.and(None);
    let made = match shared {
        Some(pid) => Ok((pid, true)),
        None => {
            forking();
            // SAFETY: single-threaded (the caller's contract), so the child is a faithful copy
            // with no lock held by another thread; it runs `entry` on its copy of the memory.
            match unsafe { libc::fork() } {
                -1 => Err(io::Error::last_os_error()),
                // SAFETY: the forked child, which `entry` ends.
                0 => unsafe { entry(arg) },
                pid => Ok((pid, false)),
            }
        }
    };
    // SAFETY: as above.
    let _ = unsafe {
        let old = &old as *const u64;
        sys!(SYS_rt_sigprocmask, libc::SIG_SETMASK, old, 0, size)
    };
    made.context("cannot fork")
}

/// Whether the report pipe is at end-of-file: every child that held it exec'd or exited.
/// Waits up to 10 s (`spawn` has closed the go pipe: a grandchild waiting for it ends).
fn report_closed(report: &OwnedFd) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut buf = [0u8; 64];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let mut fds = [PollFd::new(report.as_fd(), PollFlags::POLLIN)];
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        match nix::poll::poll(&mut fds, timeout) {
            Ok(0) => return false,
            Ok(_) => match nix::unistd::read(report, &mut buf) {
                Ok(0) => return true,
                Ok(_) | Err(Errno::EINTR) | Err(Errno::EAGAIN) => continue,
                Err(_) => return false,
            },
            Err(Errno::EINTR) => continue,
            Err(_) => return false,
        }
    }
}

/// [`spawn`] once the intermediate runs: the pid, `before_exec`, "go", the exec's outcome.
#[allow(clippy::too_many_arguments)]
fn after_fork<W, T>(
    plan: &Plan,
    child: libc::pid_t,
    keep: bool,
    go_w: OwnedFd,
    report_r: &OwnedFd,
    reaped: Option<OwnedFd>,
    while_forking: impl FnOnce() -> W,
    before_exec: impl FnOnce(W, Pid, bool) -> Result<T>,
) -> Result<(Pid, T, Option<Keeper>)> {
    crate::fault::point("between-forks");
    // The pid arrives as soon as the intermediate has forked; its exit and reaping then overlap
    // with the pidfile and record work and with the grandchild's exec instead of delaying them.
    let mut intermediate = Intermediate {
        pid: Some(nix::unistd::Pid::from_raw(child)),
        kept: keep,
    };
    let forked = while_forking();
    let (pid, in_cgroup) = match read_message(report_r)? {
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

    let outcome = read_message(report_r)?;
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
/// stays pending until every disposition is back to default, then acts. As [`spawn`]'s
/// children, it shares the monitor's memory on x86_64 ([`new_child`]): a respawn copies
/// nothing of the monitor's.
pub fn spawn_child(plan: &Plan) -> Result<Pid> {
    ensure_single_threaded()?;
    let (report_r, report_w) = pipe2(OFlag::O_CLOEXEC).context("cannot create a pipe")?;
    let prepared = Prepared {
        parent: getpid().as_raw(),
        ..Prepared::new(plan, report_w.as_raw_fd())
    };
    let shared = may_share_memory(plan);
    let stacks = shared.then(ChildStacks::new).flatten();
    let arg = std::ptr::addr_of!(prepared).cast_mut().cast();
    // SAFETY: single-threaded (checked above); `child_entry` keeps to raw system calls on
    // `prepared`, which stays untouched here until the child has exec'd or ended (the report
    // pipe's end-of-file, below), on a stack of its own. The child stays in the monitor's
    // session and process group, so that `stop`'s group signal reaches both.
    let (child, shares) =
        unsafe { new_child(stacks.as_ref().map(|s| s.stack(0)), child_entry, arg, || {})? };
    drop(report_w);
    let pid =
        Pid::new(child).map_err(|why| anyhow::anyhow!("the child got an unusable pid: {why}"));
    let outcome = match read_message(&report_r) {
        Ok(None) => pid,
        Ok(Some((step, errno))) => {
            let _ = waitpid(nix::unistd::Pid::from_raw(child), None);
            Err(failure(plan, step, errno).into())
        }
        Err(e) => Err(e),
    };
    // As in `spawn`: its stack is unmapped only once nothing can run on it.
    if shares && !report_closed(&report_r) {
        std::mem::forget(stacks);
    }
    outcome
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

/// Writes one message on the report pipe: one raw `write` of a stack buffer.
///
/// # Safety
/// `fd` must be the report pipe's write end.
unsafe fn report(fd: RawFd, step: Step, value: i32) {
    let mut buf = [0u8; 8];
    buf[..4].copy_from_slice(&(step as u32).to_ne_bytes());
    buf[4..].copy_from_slice(&value.to_ne_bytes());
    // SAFETY: buf is 8 valid bytes on our stack; a pipe write of ≤ PIPE_BUF bytes is atomic.
    let _ = unsafe { sys!(SYS_write, fd, buf.as_ptr(), buf.len()) };
}

/// Reports `step` with `errno` and ends the child.
///
/// # Safety
/// Only in a child of [`spawn`] or [`spawn_child`].
unsafe fn fail(p: &Prepared<'_>, step: Step, errno: i32) -> ! {
    // SAFETY: a raw write on the report pipe's fd.
    unsafe { report(p.report, step, errno) };
    raw::exit(127)
}

/// The first child: new session, the grandchild created, its pid reported, then exit (or, kept,
/// the launch's subreaper).
///
/// # Safety
/// Only in the intermediate child of [`spawn`], with `p` and `h` built before it and alive until
/// it is reaped; only raw system calls ([`sys!`]), as it may share rdaemon's memory.
unsafe fn intermediate(p: &Prepared<'_>, h: &Handoff) -> ! {
    // SAFETY: raw system calls on integers; `new_grandchild` and `keep_launch_or_exit` keep to
    // the same.
    unsafe {
        if let Err(errno) = sys!(SYS_setsid) {
            fail(p, Step::Setsid, errno)
        }
        if p.reaped >= 0 {
            // The launch's own subreaper, gone with rdaemon (checked once set: rdaemon may
            // have died before).
            let subreaper = sys!(SYS_prctl, libc::PR_SET_CHILD_SUBREAPER, 1);
            let pdeathsig = sys!(SYS_prctl, libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if let Err(errno) = subreaper.and(pdeathsig) {
                fail(p, Step::Pdeathsig, errno)
            }
            if sys!(SYS_getppid) != Ok(p.keeper_parent as usize) {
                raw::exit(1)
            }
        }
        match new_grandchild(p, h) {
            Ok((pid, in_cgroup)) => {
                let step = if in_cgroup {
                    Step::PidInCgroup
                } else {
                    Step::Pid
                };
                report(p.report, step, pid);
                keep_launch_or_exit(p)
            }
            Err(errno) => fail(p, Step::Fork, errno),
        }
    }
}

/// Creates the grandchild in the intermediate and returns its pid, and whether it was created
/// in the daemon's cgroup. With a stack (x86_64): [`clone_vm`], in the cgroup if one is given
/// and the kernel takes it there, else outside it (the caller then moves it). An intermediate
/// that does not share rdaemon's memory falls back to the fork of rdaemon before `clone3` with
/// `CLONE_VM` (a kernel before 5.3, a seccomp filter that refuses `clone3`); one that shares it
/// never forks. Only the forked grandchild runs [`grandchild`] from here.
///
/// # Safety
/// Only in the intermediate, with `p` and `h` built before it.
unsafe fn new_grandchild(p: &Prepared<'_>, h: &Handoff) -> Result<(libc::pid_t, bool), i32> {
    #[cfg(target_arch = "x86_64")]
    if let Some(stack) = h.stack {
        let arg = h as *const Handoff as *mut libc::c_void;
        if p.cgroup >= 0 {
            // SAFETY: every signal is blocked (inherited from `spawn`); the grandchild's stack
            // is its own; `grandchild_entry` keeps to raw system calls on the handoff, and on
            // `prepared` only after its "go", while `spawn` waits for its exec.
            let into =
                unsafe { clone_vm(CLONE_INTO_CGROUP, p.cgroup, stack, grandchild_entry, arg) };
            if let Ok(pid) = into {
                return Ok((pid, true));
            }
        }
        // SAFETY: as above.
        match unsafe { clone_vm(0, -1, stack, grandchild_entry, arg) } {
            Ok(pid) => return Ok((pid, false)),
            Err(errno) if h.shares_memory => return Err(errno),
            Err(_) => {}
        }
    }
    // SAFETY: a forked intermediate (`h.shares_memory` is false here): the forked grandchild
    // gets a copy of its memory and only makes raw system calls in it.
    unsafe {
        if p.cgroup >= 0 {
            match clone_into_cgroup(p.cgroup) {
                0 => grandchild(h),
                pid if pid > 0 => return Ok((pid, true)),
                // Whatever the reason, a plain fork and the parent's write to `cgroup.procs`
                // do what rdaemon did before clone3: the same outcome, the same errors.
                _ => {}
            }
        }
        match libc::fork() {
            -1 => Err(Errno::last_raw()),
            0 => grandchild(h),
            pid => Ok((pid, false)),
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
    if p.reaped < 0 {
        raw::exit(0)
    }
    // SAFETY: raw system calls on fds and on buffers on this stack.
    unsafe {
        // The reaped pipe as fd 0, every other fd closed.
        if sys!(SYS_dup3, p.reaped, 0, 0).is_err() {
            raw::exit(1)
        }
        if sys!(SYS_close_range, 1u32, u32::MAX, 0u32).is_err() {
            for fd in 1..p.max_fd {
                let _ = sys!(SYS_close, fd);
            }
        }
        loop {
            let mut status: c_int = 0;
            match sys!(SYS_wait4, -1i32, &mut status as *mut c_int, 0, 0) {
                Ok(pid) => {
                    let mut buf = [0u8; 8];
                    buf[..4].copy_from_slice(&(pid as i32).to_ne_bytes());
                    buf[4..].copy_from_slice(&status.to_ne_bytes());
                    // A pipe write of ≤ PIPE_BUF bytes is atomic.
                    let _ = sys!(SYS_write, 0, buf.as_ptr(), buf.len());
                }
                Err(libc::EINTR) => {}
                // ECHILD: nothing beneath it any more, so nothing can be re-parented to it.
                Err(_) => raw::exit(0),
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

/// What the intermediate and the grandchild of [`spawn`] read before the grandchild's "go",
/// in memory of its own (boxed): freed only once nothing may read it any more, and leaked,
/// never freed, when that cannot be known (see [`spawn`]).
struct Handoff {
    /// The [`Prepared`] of the spawn, read by the grandchild only after its "go", while
    /// [`spawn`] waits for its exec.
    prepared: *const Prepared<'static>,
    go_read: RawFd,
    go_write: RawFd,
    /// Whether the intermediate shares rdaemon's memory (`CLONE_VM`): then it must not fork
    /// (glibc's `fork` takes locks of that memory), and only [`clone_vm`] creates the
    /// grandchild.
    shares_memory: bool,
    /// The grandchild's stack for [`clone_vm`]: its lowest address and size; `None` without one.
    stack: Option<(usize, usize)>,
}

/// The stacks of the two children [`spawn`] creates with `CLONE_VM` (intermediate and
/// grandchild), each above a guard page: one anonymous mapping, unmapped on drop, which is
/// only right once neither child can run on it any more.
struct ChildStacks {
    base: *mut libc::c_void,
}

impl ChildStacks {
    /// Each stack's size. The children call no libc function and allocate nothing; their
    /// deepest frames (the set-up before exec) use a few kB.
    const SIZE: usize = 64 * 1024;
    const GUARD: usize = 4096;
    const LEN: usize = 2 * (Self::GUARD + Self::SIZE);

    /// The mapping, or `None` if it cannot be made (the children are then forked).
    fn new() -> Option<ChildStacks> {
        // SAFETY: a fresh anonymous mapping that nothing else refers to; both stacks are made
        // writable above their guard pages, which stay PROT_NONE.
        unsafe {
            let base = libc::mmap(
                std::ptr::null_mut(),
                Self::LEN,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            );
            if base == libc::MAP_FAILED {
                return None;
            }
            let stacks = ChildStacks { base };
            for (bottom, size) in [stacks.stack(0), stacks.stack(1)] {
                let rw = libc::PROT_READ | libc::PROT_WRITE;
                if libc::mprotect(bottom as *mut libc::c_void, size, rw) < 0 {
                    return None;
                }
            }
            Some(stacks)
        }
    }

    /// Stack `i` (0: the intermediate's, 1: the grandchild's): its lowest address and size.
    fn stack(&self, i: usize) -> (usize, usize) {
        let bottom = self.base as usize + i * (Self::GUARD + Self::SIZE) + Self::GUARD;
        (bottom, Self::SIZE)
    }
}

impl Drop for ChildStacks {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once; `spawn` drops it only when no child
        // runs on it (else it forgets it).
        unsafe { libc::munmap(self.base, Self::LEN) };
    }
}

/// `CLONE_VM` (linux/sched.h).
const CLONE_VM: u64 = 0x100;

/// Creates a child that shares the caller's memory (`clone3` with `CLONE_VM`, plus `extra`
/// flags and `cgroup` for `CLONE_INTO_CGROUP`) and runs `entry(arg)` on the given stack, exiting
/// when it is done; the parent gets its pid. Nothing is copied: no page table, and no page of
/// rdaemon's that either process writes afterwards (a fork costs `start` 0.3–0.4 ms that way,
/// issue 18). The child reports `SIGCHLD` at its exit and is waited for like a forked one.
///
/// # Safety
/// `stack` must be writable memory that nothing else uses while the child runs. `entry` must
/// never return and, as it runs beside the caller in the same memory, make only raw system
/// calls ([`sys!`]: no errno, no lock, no allocation) on memory the caller leaves alone until
/// the child has exited or exec'd; every signal must be blocked in the caller (the child
/// inherits the mask, and a handler must not run in it).
#[cfg(target_arch = "x86_64")]
unsafe fn clone_vm(
    extra: u64,
    cgroup: RawFd,
    stack: (usize, usize),
    entry: unsafe extern "C" fn(*mut libc::c_void) -> !,
    arg: *mut libc::c_void,
) -> Result<libc::pid_t, i32> {
    let args = CloneArgs {
        flags: CLONE_VM | extra,
        exit_signal: libc::SIGCHLD as u64,
        stack: stack.0 as u64,
        stack_size: stack.1 as u64,
        cgroup: cgroup.max(0) as u64,
        ..CloneArgs::default()
    };
    let ret: isize;
    // SAFETY: clone3 with a valid clone_args of the size given. The kernel starts the child on
    // the new stack (its top: stack + size, 16-byte aligned as a page boundary) with every
    // other register as the parent's, so r12 and r13 still hold `arg` and `entry`: the child
    // calls entry(arg), which never returns, and never runs the code after this block on the
    // parent's stack. The parent returns from the syscall with the child's pid (or -errno).
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r12",
            "call r13",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 as isize => ret,
            in("rdi") &args as *const CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") arg,
            in("r13") entry,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    match ret {
        -4095..=-1 => Err(-ret as i32),
        pid => Ok(pid as libc::pid_t),
    }
}

/// The intermediate's entry from [`new_child`]: `arg` is the spawn's [`Handoff`].
///
/// # Safety
/// Only as [`new_child`]'s entry, with `arg` a live `Handoff` whose `prepared` is live.
unsafe extern "C" fn intermediate_entry(arg: *mut libc::c_void) -> ! {
    // SAFETY: the caller's contract; `spawn` keeps both alive until the intermediate is reaped.
    unsafe {
        let handoff = &*(arg as *const Handoff);
        intermediate(&*handoff.prepared, handoff)
    }
}

/// The grandchild's entry from [`clone_vm`]: `arg` is the spawn's [`Handoff`].
///
/// # Safety
/// Only as [`clone_vm`]'s entry, with `arg` a live `Handoff`.
#[cfg(target_arch = "x86_64")]
unsafe extern "C" fn grandchild_entry(arg: *mut libc::c_void) -> ! {
    // SAFETY: the caller's contract; see `grandchild`.
    unsafe { grandchild(&*(arg as *const Handoff)) }
}

/// The respawn monitor's child's entry from [`new_child`]: `arg` is its [`Prepared`].
///
/// # Safety
/// Only as [`new_child`]'s entry, with `arg` a live `Prepared` that [`spawn_child`] keeps until
/// the child has exec'd or ended.
unsafe extern "C" fn child_entry(arg: *mut libc::c_void) -> ! {
    // SAFETY: the caller's contract.
    unsafe { exec_or_report(&*(arg as *const Prepared<'_>)) }
}

/// The daemon-to-be: waits for "go", sets up the process and execs.
///
/// # Safety
/// Only in the grandchild, with `h` built before the fork; `h.prepared` is read only after the
/// "go", while [`spawn`] waits for the exec.
unsafe fn grandchild(h: &Handoff) -> ! {
    // SAFETY: raw system calls on fds prepared before the fork and on a byte of this stack;
    // exec_or_report keeps to the same.
    unsafe {
        let _ = sys!(SYS_close, h.go_write);
        let mut byte = 0u8;
        loop {
            match sys!(SYS_read, h.go_read, &mut byte as *mut u8, 1) {
                Ok(1) => break,
                Err(libc::EINTR) => continue,
                // The parent died or gave up before saying go: never run the program.
                _ => raw::exit(1),
            }
        }
        let _ = sys!(SYS_close, h.go_read);
        let p = &*h.prepared;

        // Lead a process group of its own, so `stop` can signal the daemon and its children,
        // while staying out of the session leader's seat (no controlling tty, ever).
        if let Err(errno) = sys!(SYS_setpgid, 0, 0) {
            fail(p, Step::Setpgid, errno)
        }
        exec_or_report(p)
    }
}

/// [`set_up_and_exec`] in a child: a failure goes back on the report pipe, then the child
/// ends.
///
/// # Safety
/// Only in a child of [`spawn`] or [`spawn_child`], with `p` built before it.
unsafe fn exec_or_report(p: &Prepared<'_>) -> ! {
    // SAFETY: raw system calls on memory prepared before the fork; the pid slot is a raw
    // allocation of the right size that no reference points into (see `Prepared::pid_slot`).
    unsafe {
        if let Some(slot) = &p.pid_slot {
            let pid = sys!(SYS_getpid).unwrap_or(0) as libc::pid_t;
            write_pid_digits(slot.ptr.add(slot.at), pid);
        }
        let (step, errno) = set_up_and_exec(p);
        fail(p, step, errno)
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
    // SAFETY: every call below is a raw system call (keyctl, setgroups, setgid, setuid,
    // setresgid, setresuid, prctl, getppid, chdir, umask, dup3, close_range/fcntl,
    // rt_sigaction, rt_sigprocmask, execve) on fds and C strings prepared before the fork;
    // nothing allocates, nothing touches errno.
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
            let groups = sys!(SYS_setgroups, creds.groups.len(), creds.groups.as_ptr());
            if let Err(errno) = groups {
                return (Step::Setgroups, errno);
            }
            let (gid, uid) = if p.keep_saved_ids {
                // Real and effective ids only (-1: the saved ones stay root's); execve copies
                // the effective ids into the saved ones, so the program has no way back.
                let keep = libc::uid_t::MAX;
                let gid = sys!(SYS_setresgid, creds.gid, creds.gid, keep);
                let uid = gid.and_then(|_| sys!(SYS_setresuid, creds.uid, creds.uid, keep));
                // A saved uid of 0 keeps the ambient capabilities, which a full setuid would
                // have cleared (capabilities(7)): clear them, so the program gets none.
                // EINVAL on kernels before 4.3, which have none to clear.
                if uid.is_ok() {
                    let clear = libc::PR_CAP_AMBIENT_CLEAR_ALL;
                    let _ = sys!(SYS_prctl, libc::PR_CAP_AMBIENT, clear, 0, 0, 0);
                }
                (gid, uid)
            } else {
                let gid = sys!(SYS_setgid, creds.gid);
                (gid, gid.and_then(|_| sys!(SYS_setuid, creds.uid)))
            };
            if let Err(errno) = gid {
                return (Step::Setgid, errno);
            }
            if let Err(errno) = uid {
                return (Step::Setuid, errno);
            }
        }
        if p.parent != 0 {
            // After the credentials: changing them clears the parent-death signal (prctl(2)).
            if let Err(errno) = sys!(SYS_prctl, libc::PR_SET_PDEATHSIG, libc::SIGTERM) {
                return (Step::Pdeathsig, errno);
            }
            // The monitor may have died before the prctl, and then the signal never comes:
            // re-check the parent, as systemd does. Nobody is left to report to.
            if sys!(SYS_getppid) != Ok(p.parent as usize) {
                raw::exit(1)
            }
        }
        if let Err(errno) = sys!(SYS_chdir, plan.cwd.as_ptr()) {
            return (Step::Chdir, errno);
        }
        let _ = sys!(SYS_umask, plan.umask);
        // The plan's fds are above 2 (`above_stdio`), so each dup3 has two different fds, and
        // clears close-on-exec on its copy.
        let stderr = plan.stderr.as_ref().unwrap_or(&plan.stdout);
        let stdio = sys!(SYS_dup3, plan.stdin.as_raw_fd(), 0, 0)
            .and_then(|_| sys!(SYS_dup3, plan.stdout.as_raw_fd(), 1, 0))
            .and_then(|_| sys!(SYS_dup3, stderr.as_raw_fd(), 2, 0));
        if let Err(errno) = stdio {
            return (Step::Stdio, errno);
        }
        // Every fd above 2 is closed at exec: the report pipe stays usable until then.
        let cloexec = libc::CLOSE_RANGE_CLOEXEC;
        if sys!(SYS_close_range, 3u32, u32::MAX, cloexec).is_err() {
            for fd in 3..p.max_fd {
                let _ = sys!(SYS_fcntl, fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
        // ...except the ones the plan passes on under their own numbers.
        for fd in &plan.inherit {
            if let Err(errno) = sys!(SYS_fcntl, fd.as_raw_fd(), libc::F_SETFD, 0) {
                return (Step::Stdio, errno);
            }
        }
        // Last, so that a signal blocked since the fork acts only with its default
        // disposition, never through a handler inherited from rdaemon or the monitor.
        reset_signals(p.max_signal);
        let argv = p.argv.as_ptr();
        let envp = p.envp.as_ptr();
        match sys!(SYS_execve, plan.program.as_ptr(), argv, envp) {
            Err(errno) => (Step::Exec, errno),
            Ok(_) => (Step::Exec, 0),
        }
    }
}

/// Sets the limits, the nice value and the OOM score adjustment of the calling process; on
/// failure, the step, its errno and (for a limit) its index.
///
/// # Safety
/// Only in a child before exec (or rdaemon about to exec in place): raw system calls only
/// (prlimit64, setpriority, openat, write, close) on memory prepared before the fork.
unsafe fn apply_tuning(t: &PreparedTuning) -> Result<(), (Step, i32, usize)> {
    // SAFETY: raw system calls on stack values and buffers allocated before the fork.
    unsafe {
        for (i, (resource, values)) in t.rlimits.iter().enumerate() {
            let set = sys!(SYS_prlimit64, 0, *resource, values.as_ptr(), 0);
            if let Err(errno) = set {
                return Err((Step::Rlimit, errno, i));
            }
        }
        if let Some(nice) = t.nice {
            if let Err(errno) = sys!(SYS_setpriority, libc::PRIO_PROCESS, 0, nice) {
                return Err((Step::Nice, errno, 0));
            }
        }
        if let Some(text) = &t.oom_text {
            let path = c"/proc/self/oom_score_adj".as_ptr();
            let flags = libc::O_WRONLY | libc::O_CLOEXEC;
            let fd = match sys!(SYS_openat, libc::AT_FDCWD, path, flags) {
                Ok(fd) => fd,
                Err(errno) => return Err((Step::OomScoreAdj, errno, 0)),
            };
            let written = sys!(SYS_write, fd, text.as_ptr(), text.len());
            let _ = sys!(SYS_close, fd);
            match written {
                Ok(n) if n == text.len() => {}
                Ok(_) => return Err((Step::OomScoreAdj, libc::EIO, 0)),
                Err(errno) => return Err((Step::OomScoreAdj, errno, 0)),
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
    // errors (SIGKILL, SIGSTOP) are ignored.
    unsafe {
        let dfl = KernelSigaction::default();
        let size = std::mem::size_of::<u64>();
        for sig in 1..=max_signal {
            let _ = sys!(
                SYS_rt_sigaction,
                sig,
                &dfl as *const KernelSigaction,
                0,
                size
            );
        }
        let empty: u64 = 0;
        let _ = sys!(
            SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &empty as *const u64,
            0,
            size
        );
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
    const KEYCTL_JOIN_SESSION_KEYRING: usize = 1;
    // SAFETY: a NULL name asks for an anonymous keyring; no memory is passed to the kernel.
    match unsafe { sys!(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, 0) } {
        Ok(_) | Err(libc::ENOSYS | libc::EPERM) => Ok(()),
        Err(errno) => Err(errno),
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
