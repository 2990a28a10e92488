//! Processes as rdaemon sees them: a [`Pid`] that can never be 0, 1, negative, rdaemon itself or
//! its parent; `/proc/PID/stat` (state, group, start time) and the boot id that identify a
//! process across pid reuse; and [`Process`], a pid paired with a pidfd (systemd's `PidRef`) that
//! signals without races and waits for exit exactly.
//!
//! Linux-only: pidfd (Linux ≥ 5.3) with a short polling fallback, and `/proc`.
//! A zombie counts as dead everywhere: `kill(pid, 0)` still succeeds on one, so liveness is read
//! from the state letter in `/proc/PID/stat`, and the pidfd becomes readable at exit, before reaping.

use std::fmt;
use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, killpg, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{getpgrp, getpid, getppid, sysconf, SysconfVar};

use crate::parse::PID_MAX_LIMIT;

/// A pid rdaemon may act on: greater than 1, within the kernel's limit, neither rdaemon itself
/// nor its parent. Construct it only through [`Pid::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pid(i32);

impl Pid {
    /// Checks `raw` against the safety rules of SPEC §4.
    pub fn new(raw: i32) -> Result<Pid, String> {
        if raw <= 1 || i64::from(raw) > PID_MAX_LIMIT {
            return Err(format!("{raw} is not a pid rdaemon may signal"));
        }
        if raw == getpid().as_raw() {
            return Err(format!("pid {raw} is rdaemon itself"));
        }
        if raw == getppid().as_raw() {
            return Err(format!("pid {raw} is rdaemon's parent"));
        }
        Ok(Pid(raw))
    }

    /// rdaemon's own pid, for `start --foreground` only: rdaemon is about to exec the program in
    /// its own place, so its pid is the daemon's. Nothing may signal it.
    pub fn own_for_foreground() -> Pid {
        Pid(getpid().as_raw())
    }

    /// The number.
    pub fn get(self) -> i32 {
        self.0
    }

    fn nix(self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.0)
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The fields of `/proc/PID/stat` rdaemon uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    /// State letter: R, S, D, Z (zombie), X (dead), T, t, I...
    pub state: char,
    /// Parent pid.
    pub ppid: i32,
    /// Process group id.
    pub pgrp: i32,
    /// Session id.
    pub session: i32,
    /// Start time in clock ticks since boot (field 22), as the initial time namespace counts
    /// them (see [`stat`]).
    pub start_time: u64,
    /// The kernel's per-process flags (field 9): `PF_KTHREAD` marks a kernel thread.
    pub flags: u64,
    /// Its threads (field 20), the main thread counted until the whole process has ended; read
    /// by [`stat`] as 1 for a zombie main thread none of whose other threads runs either (a
    /// tracer that has not collected them keeps exited threads as zombies, counted).
    pub threads: u64,
}

impl ProcStat {
    /// Whether the process still runs: a zombie (`Z`) or a dead task (`X`) does not. The state
    /// is its main thread's: a main thread that ended (`pthread_exit`) while other threads run
    /// on shows `Z` with more than one thread, and the program is alive (review, 2026-12-03:
    /// such a leftover was taken for gone and left running).
    pub fn is_alive(&self) -> bool {
        match self.state {
            'X' | 'x' => false,
            'Z' => self.threads > 1,
            _ => true,
        }
    }

    /// Whether it is on its way out: a zombie or dead task, or one already in the kernel's
    /// `do_exit` (`PF_EXITING`) with no other thread, which ends it without running any more
    /// of its code.
    pub fn is_exiting(&self) -> bool {
        !self.is_alive() || (self.flags & PF_EXITING != 0 && self.threads <= 1)
    }

    /// Whether this is a kernel thread (`PF_KTHREAD`, `include/linux/sched.h`): kthreadd and
    /// every thread it spawns. No pidfile may name one.
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
}

/// How long [`Process::reap`] gives a pidfd to say that a process `/proc` shows ended has
/// ended, before it takes the process for one a tracer holds.
const HELD_GRACE: Duration = Duration::from_millis(50);

/// `PF_KTHREAD` in `/proc/PID/stat` field 9 (`include/linux/sched.h`).
const PF_KTHREAD: u64 = 0x0020_0000;

/// `PF_EXITING` in `/proc/PID/stat` field 9 (`include/linux/sched.h`): in `do_exit`.
const PF_EXITING: u64 = 0x0000_0004;

/// Parses the content of `/proc/PID/stat`. The command name (field 2) may hold spaces, `)` and
/// bytes that are not UTF-8 (the kernel cuts it at 15 bytes, possibly inside a character), so
/// this takes bytes and reads the fields after the *last* `)`.
pub fn parse_stat(raw: &[u8]) -> Option<ProcStat> {
    let after_comm = &raw[raw.iter().rposition(|&b| b == b')')? + 1..];
    let rest = std::str::from_utf8(after_comm).ok()?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // After the comm, fields are numbered from 3 (state) on: index = field - 3.
    let state = fields.first()?.chars().next()?;
    Some(ProcStat {
        state,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        session: fields.get(3)?.parse().ok()?,
        flags: fields.get(6)?.parse().ok()?,
        threads: fields.get(17)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// Reads `/proc/PID/stat`: `Ok(None)` only when the kernel says there is no such process
/// (ENOENT, ESRCH). Any other failure (EMFILE, ENFILE, EACCES...) is an error, never "gone": a
/// live daemon taken for dead would lose its pidfile and escape `stop`.
///
/// The start time is normalised to the initial time namespace: the kernel shifts it by the
/// reader's boottime offset (`/proc/self/timens_offsets`, Linux ≥ 5.6), so a daemon started
/// outside a time namespace and judged from inside one would otherwise look like a reused pid.
pub fn stat(pid: Pid) -> io::Result<Option<ProcStat>> {
    stat_at(&format!("/proc/{pid}/stat"))
}

/// [`stat`] for any pid number, as a scan of `/proc` finds them (rdaemon itself and its parent
/// included, which a [`Pid`] refuses): for reading only, never to signal by.
pub fn stat_of(pid: i32) -> io::Result<Option<ProcStat>> {
    stat_at(&format!("/proc/{pid}/stat"))
}

fn stat_at(path: &str) -> io::Result<Option<ProcStat>> {
    // Bytes, not a String: a command name that is not UTF-8 must not make a live process look
    // dead (`stop` would then remove its pidfile and leave it running). One open and one read
    // into a buffer on the stack (`list` reads a stat per daemon; `fs::read` adds a `statx` and
    // grows its buffer read by read); a line longer than the buffer is read whole.
    let mut buf = [0u8; 1024];
    let len = match read_small(path, &mut buf) {
        Ok(len) => len,
        Err(e) if is_gone(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let long;
    let raw = match len < buf.len() {
        true => &buf[..len],
        false => {
            long = match fs::read(path) {
                Ok(raw) => raw,
                Err(e) if is_gone(&e) => return Ok(None),
                Err(e) => return Err(e),
            };
            &long[..]
        }
    };
    let mut stat = parse_stat(raw).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, format!("cannot parse {path}"))
    })?;
    stat.start_time = normalise_start_time(stat.start_time, boottime_offset_ns()?, clock_tick_ns());
    // A zombie main thread with other threads: alive only if one of them is (the rare case
    // that costs a look at each thread).
    if stat.state == 'Z' && stat.threads > 1 {
        let tasks = path.strip_suffix("stat").map(|dir| format!("{dir}task"));
        if !tasks.is_some_and(|dir| a_thread_runs(&dir)) {
            stat.threads = 1;
        }
    }
    Ok(Some(stat))
}

/// Whether a thread in `dir` (a `/proc/PID/task`) may still run: one that is neither a zombie
/// nor dead, or any change to the threads while they are read (one gone, one new: a thread
/// runs that made it), or a directory that cannot be read. Only two identical listings with
/// every thread of the first read as a zombie or dead in between say none runs (helper-88's
/// review, 2026-12-03: a single listing missed a thread made while it was read, and a daemon
/// that replaces its threads all the time was taken for dead).
fn a_thread_runs(dir: &str) -> bool {
    let tids = || -> Option<Vec<u32>> {
        let mut tids: Vec<u32> = fs::read_dir(dir)
            .ok()?
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        tids.sort_unstable();
        Some(tids)
    };
    let Some(first) = tids() else {
        return true;
    };
    let runs = first.iter().any(|tid| {
        fs::read(format!("{dir}/{tid}/stat"))
            .ok()
            .and_then(|raw| parse_stat(&raw))
            .is_none_or(|t| !matches!(t.state, 'Z' | 'X' | 'x'))
    });
    runs || tids().is_none_or(|second| second != first)
}

/// Reads the small file `path` (a `/proc/PID/stat`) into `buf` in one `read`; returns how many
/// bytes it holds. The kernel formats the whole line at the first read (a `seq_file` of one
/// record) and copies as much of it as `buf` holds: a read that leaves `buf` not full returned
/// all of it, and the read that would find the end of file is spared (`list` reads one stat per
/// daemon). A full `buf` may hold only part: the caller reads the file again whole.
fn read_small(path: &str, buf: &mut [u8]) -> io::Result<usize> {
    use std::io::Read;
    let mut file = fs::File::open(path)?;
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            done => return done,
        }
    }
}

/// Reads a file of `/proc` or `/sys` whole, as text. `fs::read_to_string` asks the size first
/// (0 for these files) and then reads 32 bytes, 32, 64, 128...: seven reads for
/// `/proc/self/mountinfo`. One buffer of a page takes the usual few hundred bytes in one read,
/// and the read that finds the end (`read_to_string` on the file would still ask its size with
/// `statx` and its offset with `lseek` first).
pub fn read_text(path: impl AsRef<std::path::Path>) -> io::Result<String> {
    use std::io::Read;
    let mut file = fs::File::open(path)?;
    let mut bytes = vec![0u8; 4096];
    let mut len = 0;
    loop {
        if len == bytes.len() {
            bytes.resize(len * 2, 0);
        }
        match file.read(&mut bytes[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    bytes.truncate(len);
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Whether an error reading `/proc/PID/...` means the process does not exist.
fn is_gone(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(nix::libc::ENOENT | nix::libc::ESRCH))
}

/// Whether `pid` is a live descendant of `ancestor` (`MAINPID=` is accepted only for one of
/// the monitor's).
fn is_descendant(ancestor: i32, pid: i32) -> bool {
    let mut at = pid;
    for _ in 0..64 {
        let Ok(p) = Pid::new(at) else { return false };
        match read_stat(p) {
            Some(stat) if stat.is_alive() && stat.ppid == ancestor => return true,
            Some(stat) if stat.is_alive() => at = stat.ppid,
            _ => return false,
        }
    }
    false
}

/// The start time of `pid` if it is a live descendant of `ancestor`: read before the walk up
/// its parents and again after it, the same both times, so that the start time kept is the one
/// of the process found a descendant (helper-114's attack: read after, from a process gone by
/// then, it was none, and `status` then vouched for whatever took the pid next).
pub fn descendant_start(ancestor: i32, pid: i32) -> Option<u64> {
    let start = |pid: i32| {
        Pid::new(pid)
            .ok()
            .and_then(read_stat)
            .filter(|s| s.is_alive())
            .map(|s| s.start_time)
    };
    let before = start(pid)?;
    (is_descendant(ancestor, pid) && start(pid) == Some(before)).then_some(before)
}

/// Reads `/proc/PID/stat`; `None` when there is no such process *or it cannot be read*. Only for
/// what rdaemon shows or waits for; decisions to signal or to remove a pidfile use [`stat`].
pub fn read_stat(pid: Pid) -> Option<ProcStat> {
    stat(pid).ok().flatten()
}

/// The calling process's own `/proc/self/stat` (a [`Pid`] can never be rdaemon itself), with
/// the start time normalised as [`stat`] does.
pub fn read_own_stat() -> Option<ProcStat> {
    stat_at("/proc/self/stat").ok().flatten()
}

/// rdaemon's own session id: `getsid(0)`, one system call where reading `/proc/self/stat` is
/// several (it is asked on `start`'s way from the fork to the exec).
pub fn own_session() -> io::Result<i32> {
    Ok(nix::unistd::getsid(None)?.as_raw())
}

/// Whether `pid` names a live (not zombie) process; an error reading `/proc` is an error.
pub fn alive(pid: Pid) -> io::Result<bool> {
    Ok(stat(pid)?.is_some_and(|s| s.is_alive()))
}

/// The length of a clock tick (`USER_HZ`) in nanoseconds.
fn clock_tick_ns() -> i128 {
    let hz = sysconf(SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100)
        .max(1);
    1_000_000_000 / i128::from(hz)
}

/// The boottime offset of rdaemon's time namespace in nanoseconds (`boottime SECS NSECS` in
/// `/proc/self/timens_offsets`); 0 on a kernel without time namespaces. Read once.
fn boottime_offset_ns() -> io::Result<i128> {
    static OFFSET: std::sync::OnceLock<i128> = std::sync::OnceLock::new();
    if let Some(offset) = OFFSET.get() {
        return Ok(*offset);
    }
    let offset = match read_text("/proc/self/timens_offsets") {
        Ok(text) => parse_boottime_offset(&text).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "cannot parse /proc/self/timens_offsets",
            )
        })?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e),
    };
    Ok(*OFFSET.get_or_init(|| offset))
}

/// The boottime offset in nanoseconds from the text of `/proc/self/timens_offsets`
/// (`monotonic 0 0` / `boottime 1000 0`: clock, seconds, nanoseconds).
fn parse_boottime_offset(text: &str) -> Option<i128> {
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("boottime") {
            let secs: i128 = words.next()?.parse().ok()?;
            let nsecs: i128 = words.next()?.parse().ok()?;
            return Some(secs * 1_000_000_000 + nsecs);
        }
    }
    Some(0)
}

/// A start time read in a time namespace with boottime offset `offset_ns`, as the initial
/// namespace (and the record) counts it. The kernel computes `(start + offset) / tick`, so an
/// offset that is not a whole number of ticks can leave the result one tick off: the daemon then
/// looks like another process and is left alone (docs/safety.md).
fn normalise_start_time(ticks: u64, offset_ns: i128, tick_ns: i128) -> u64 {
    let shifted = i128::from(ticks) - offset_ns.div_euclid(tick_ns);
    u64::try_from(shifted).unwrap_or(0)
}

/// Why rdaemon must never signal `pid`, if it must not: it is an ancestor of rdaemon (the
/// shell behind `timeout`, `sudo`, `nohup`..., up to pid 1), or a kernel thread (kthreadd, pid
/// 2 in the initial pid namespace, and its children). `Pid` already refuses rdaemon and its
/// parent. Reading `/proc` may fail; that is an error, not a verdict.
pub fn refuse_protected(pid: Pid) -> io::Result<Option<String>> {
    refuse_protected_with(pid, stat(pid)?.as_ref())
}

/// [`refuse_protected`] with `/proc/PID/stat` already read (`None`: no such process), so that
/// judging a daemon reads it once.
pub fn refuse_protected_with(pid: Pid, stat: Option<&ProcStat>) -> io::Result<Option<String>> {
    if ancestors()?.contains(&pid.get()) {
        return Ok(Some(format!(
            "pid {pid} is an ancestor of rdaemon (a shell or program that ran it)"
        )));
    }
    if let Some(stat) = stat {
        if stat.is_kernel_thread() {
            return Ok(Some(format!("pid {pid} is a kernel thread")));
        }
        let kthreadd =
            || Ok::<_, io::Error>(stat_at("/proc/2/stat")?.is_some_and(|s| s.is_kernel_thread()));
        if stat.ppid == 2 && kthreadd()? {
            return Ok(Some(format!(
                "pid {pid} is a child of kthreadd, the kernel's pid 2"
            )));
        }
    }
    Ok(None)
}

/// Whether `pid` is one of rdaemon's ancestors above its parent (a [`Pid`] is never the
/// parent itself), up to but not including pid 1.
pub fn is_ancestor(pid: Pid) -> io::Result<bool> {
    Ok(ancestors()?.contains(&pid.get()))
}

/// rdaemon's ancestors above its parent (which `Pid::new` refuses already), up to but not
/// including pid 1, walked once through `/proc/PID/stat` (`list` judges many daemons).
fn ancestors() -> io::Result<&'static [i32]> {
    static ANCESTORS: std::sync::OnceLock<Vec<i32>> = std::sync::OnceLock::new();
    if let Some(found) = ANCESTORS.get() {
        return Ok(found);
    }
    let mut found = Vec::new();
    let mut ancestor = getppid().as_raw();
    for _ in 0..MAX_ANCESTRY {
        if ancestor <= 1 {
            break;
        }
        let Some(stat) = stat_at(&format!("/proc/{ancestor}/stat"))? else {
            break;
        };
        ancestor = stat.ppid;
        if ancestor > 1 {
            found.push(ancestor);
        }
    }
    Ok(ANCESTORS.get_or_init(|| found))
}

/// How far up rdaemon's ancestry [`refuse_protected`] looks: far beyond any real nesting.
const MAX_ANCESTRY: usize = 4096;

/// The kernel's current `pid_max` (`/proc/sys/kernel/pid_max`): no process has a higher pid
/// (unless the limit was lowered after it started). Falls back to the absolute limit.
pub fn pid_max() -> i64 {
    fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(PID_MAX_LIMIT)
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`), read once per process: it cannot change
/// while the process lives (`list` compares it with every daemon's status).
pub fn boot_id() -> io::Result<String> {
    static BOOT_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(id) = BOOT_ID.get() {
        return Ok(id.clone());
    }
    let id = read_text("/proc/sys/kernel/random/boot_id")?
        .trim()
        .to_owned();
    Ok(BOOT_ID.get_or_init(|| id).clone())
}

/// Now, in the clock ticks since boot that start times are counted in (normalised as [`stat`]
/// gives them): a process whose start time is this or later started in this tick or after it.
pub fn boot_ticks() -> Option<u64> {
    let hz = sysconf(SysconfVar::CLK_TCK).ok()??;
    let since_boot = since_boot()?;
    Some((since_boot.max(0.0) * hz as f64) as u64)
}

/// How long a process started at `start_time` (clock ticks since boot, normalised as [`stat`]
/// gives it) has run.
pub fn uptime(start_time: u64) -> Option<Duration> {
    let hz = sysconf(SysconfVar::CLK_TCK).ok()??;
    let since_boot = since_boot()?;
    let started = start_time as f64 / hz as f64;
    Some(Duration::from_secs_f64((since_boot - started).max(0.0)))
}

/// Seconds since boot, as start times count them (the time namespace's boottime offset taken
/// off).
fn since_boot() -> Option<f64> {
    // CLOCK_BOOTTIME is what `/proc/uptime` shows, without a file to read per daemon; it is
    // shifted by the time namespace's boottime offset too.
    let mut now = nix::libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given, which lives on this stack.
    #[allow(unsafe_code)]
    let failed = unsafe { nix::libc::clock_gettime(nix::libc::CLOCK_BOOTTIME, &mut now) } != 0;
    if failed {
        return None;
    }
    let offset = boottime_offset_ns().ok()? as f64 / 1e9;
    Some(now.tv_sec as f64 + now.tv_nsec as f64 / 1e9 - offset)
}

/// Gives the memory the respawn monitor no longer uses back to the kernel (issue 18: it stays
/// resident for the daemon's whole life, so what its set-up and each restart touched would
/// otherwise stay private memory): the heap pages that are free (glibc's `malloc_trim`; nothing
/// on a libc without it), and the pages of the main thread's stack below the frames in use
/// ([`release_unused_stack`]). The pages of its code: [`release_executable_pages`].
pub fn release_free_memory() {
    // Read before the trim, so that what reading them allocates is given back too.
    let _ = main_stack();
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free heap memory to the kernel; no memory in use moves.
    #[allow(unsafe_code)]
    unsafe {
        nix::libc::malloc_trim(0);
    }
    release_unused_stack();
}

/// The pages of rdaemon's own executable that are read-only mappings of its file: its
/// read-only `PT_LOAD` segments (code, read-only data), whole pages inside them, never the
/// writable ones nor `PT_GNU_RELRO` (relocated at load: private copies, not the file).
/// `(start, length)`, from the program headers the kernel passes in the auxiliary vector.
fn executable_pages() -> Vec<(usize, usize)> {
    use nix::libc::{
        getauxval, Elf64_Phdr, AT_PHDR, AT_PHNUM, PF_W, PT_GNU_RELRO, PT_LOAD, PT_PHDR,
    };
    // SAFETY: getauxval only reads the auxiliary vector the kernel gave this process.
    #[allow(unsafe_code)]
    let (at, count) = unsafe { (getauxval(AT_PHDR) as usize, getauxval(AT_PHNUM) as usize) };
    if at == 0 || count == 0 || at % std::mem::align_of::<Elf64_Phdr>() != 0 {
        return Vec::new();
    }
    // SAFETY: AT_PHDR is the address of the executable's program headers, AT_PHNUM their
    // number: the kernel maps them (they lie in the first PT_LOAD segment) for the process's
    // whole life, aligned, and nothing writes them.
    #[allow(unsafe_code)]
    let headers = unsafe { std::slice::from_raw_parts(at as *const Elf64_Phdr, count) };
    // A position-independent executable is loaded at a bias: PT_PHDR says where the headers
    // were meant to be.
    let Some(bias) = headers
        .iter()
        .find(|h| h.p_type == PT_PHDR)
        .map(|h| at.wrapping_sub(h.p_vaddr as usize))
    else {
        return Vec::new();
    };
    let page = sysconf(SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |p| p as usize);
    let span = |h: &Elf64_Phdr| {
        let start = bias.wrapping_add(h.p_vaddr as usize);
        (start, start + h.p_memsz as usize)
    };
    let relro: Vec<(usize, usize)> = headers
        .iter()
        .filter(|h| h.p_type == PT_GNU_RELRO || (h.p_type == PT_LOAD && h.p_flags & PF_W != 0))
        .map(span)
        .collect();
    headers
        .iter()
        .filter(|h| h.p_type == PT_LOAD && h.p_flags & PF_W == 0)
        .filter_map(|h| {
            let (start, end) = span(h);
            let (start, end) = (start.next_multiple_of(page), end / page * page);
            let apart = relro.iter().all(|&(lo, hi)| hi <= start || end <= lo);
            (start < end && apart).then_some((start, end - start))
        })
        .collect()
}

/// Unmaps the pages of rdaemon's executable that the monitor's loop does not use: the kernel
/// maps the file's pages around each page fault (up to 16), so the set-up left most of a large
/// binary mapped, and each mapped page counts in the monitor's share of memory (`Pss`). They
/// stay in the page cache; the loop maps again the few it runs. Once, after the set-up: after
/// a restart it would only make the next restart map the same pages again, later.
pub fn release_executable_pages() {
    for (start, len) in executable_pages() {
        // SAFETY: [start, start + len) is whole pages of a read-only PT_LOAD segment of this
        // executable, which the loader mapped privately from the file and nothing can write
        // (not writable, not RELRO): MADV_DONTNEED only drops their page table entries, and a
        // later access maps the same file contents again.
        #[allow(unsafe_code)]
        unsafe {
            nix::libc::madvise(
                start as *mut nix::libc::c_void,
                len,
                nix::libc::MADV_DONTNEED,
            );
        }
    }
}

/// How much of the stack below its own frame [`release_unused_stack`] leaves alone: its only
/// callee then (`madvise`, a thin system call wrapper) needs a few bytes of it; a signal
/// handler that runs meanwhile is given its frame after the call returns or before it begins.
const STACK_MARGIN: usize = 1024;

/// The bounds of the main thread's stack mapping (`[stack]` in `/proc/self/maps`), read once:
/// it only grows downwards, so its top stays and its old bottom stays inside it.
fn main_stack() -> Option<(usize, usize)> {
    static BOUNDS: std::sync::OnceLock<Option<(usize, usize)>> = std::sync::OnceLock::new();
    *BOUNDS.get_or_init(|| {
        let maps = fs::read_to_string("/proc/self/maps").ok()?;
        let line = maps.lines().find(|l| l.ends_with("[stack]"))?;
        let (low, high) = line.split_whitespace().next()?.split_once('-')?;
        Some((
            usize::from_str_radix(low, 16).ok()?,
            usize::from_str_radix(high, 16).ok()?,
        ))
    })
}

/// Drops the pages of the main thread's stack that lie more than [`STACK_MARGIN`] below this
/// function's frame (`MADV_DONTNEED`): the deepest calls of the set-up (reading the spec,
/// building the plan, the first fork) dirtied them and the monitor's loop, much shallower, does
/// not use them. They stay mapped; a later call that goes that deep gets zeroed pages again.
/// Does nothing on another thread's stack.
#[inline(never)]
pub fn release_unused_stack() {
    let Some((low, high)) = main_stack() else {
        return;
    };
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    if here <= low || here >= high {
        return;
    }
    let page = sysconf(SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |p| p as usize);
    let end = here.saturating_sub(STACK_MARGIN) & !(page - 1);
    if end <= low {
        return;
    }
    // SAFETY: [low, end) is inside the main thread's stack mapping (checked above), and more
    // than STACK_MARGIN below this frame, which is on that stack: below the stack pointer the
    // ABI keeps nothing alive beyond a 128-byte red zone, so no live data of this thread (the
    // one whose stack it is) lies there, and no other thread uses it. MADV_DONTNEED keeps the
    // mapping: a later use of those addresses gets zero-filled pages, as a fresh stack would.
    #[allow(unsafe_code)]
    unsafe {
        nix::libc::madvise(
            low as *mut nix::libc::c_void,
            end - low,
            nix::libc::MADV_DONTNEED,
        );
    }
}

/// How many columns the terminal on standard output has: its window size (`TIOCGWINSZ`), else
/// `COLUMNS`; `None` when standard output is not a terminal or neither says.
pub fn terminal_columns() -> Option<usize> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let mut size = nix::libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ only writes one `winsize` into the struct it is given, which lives on
    // this stack for the call; fd 1 is not changed.
    #[allow(unsafe_code)]
    let read = unsafe { nix::libc::ioctl(1, nix::libc::TIOCGWINSZ, &mut size) } == 0;
    match read && size.ws_col > 0 {
        true => Some(size.ws_col.into()),
        false => std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse().ok())
            .filter(|&c: &usize| c > 0),
    }
}

/// Resident set size of `pid` in bytes, from `/proc/PID/statm`: any pid, for reading only.
pub fn rss_bytes(pid: i32) -> Option<u64> {
    statm(pid).map(|(resident, _)| resident)
}

/// The resident and the shared (file-backed or shared-memory) bytes of `pid`, from
/// `/proc/PID/statm`.
fn statm(pid: i32) -> Option<(u64, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let mut fields = text.split_whitespace().skip(1);
    let resident: u64 = fields.next()?.parse().ok()?;
    let shared: u64 = fields.next()?.parse().ok()?;
    let page = sysconf(SysconfVar::PAGE_SIZE).ok()?? as u64;
    Some((resident * page, shared * page))
}

/// The part of `pid`'s resident memory that is not backed by a file nor shared memory (its
/// heap, stack and written private pages), in bytes: `/proc/PID/statm`'s resident minus
/// shared pages.
pub fn anon_bytes(pid: i32) -> Option<u64> {
    statm(pid).map(|(resident, shared)| resident.saturating_sub(shared))
}

/// The real user id of this process.
pub fn real_uid_of_self() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// Waits until the child `pid` has exited, without reaping it: it stays a zombie, its pid
/// taken, until its owner waits for it.
pub fn wait_exited_unreaped(pid: i32) {
    let _ = nix::sys::wait::waitid(
        nix::sys::wait::Id::Pid(nix::unistd::Pid::from_raw(pid)),
        nix::sys::wait::WaitPidFlag::WEXITED | nix::sys::wait::WaitPidFlag::WNOWAIT,
    );
}

/// The real user id `pid` runs as (first field of `Uid:` in `/proc/PID/status`).
pub fn real_uid(pid: Pid) -> Option<u32> {
    uids(pid.get())?.first().copied()
}

/// The real, effective, saved and file-system user ids of `pid` (`Uid:` in
/// `/proc/PID/status`).
pub fn uids(pid: i32) -> Option<Vec<u32>> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .map(|id| id.parse().ok())
        .collect()
}

/// The signals rdaemon itself ignores, as the `SigIgn` mask of `/proc/self/status` shows them
/// (bit N-1 for signal N); 0 when it cannot be read.
pub fn ignored_signals() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|text| {
            let mask = text.lines().find_map(|l| l.strip_prefix("SigIgn:"))?;
            u64::from_str_radix(mask.trim(), 16).ok()
        })
        .unwrap_or(0)
}

/// What [`catch_interrupts`] set up: the interrupting signal caught (0: none yet), and the
/// read end of a self-pipe that becomes readable when one is, never drained, so that every wait
/// that polls it ([`interrupt_fd`]) ends at once from then on, also when the signal came just
/// before the `poll` (the race a flag alone leaves open).
struct Interrupts {
    caught: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    wake: OwnedFd,
    /// Whether [`interrupted`] and [`interrupt_fd`] tell (see [`hold_interrupts`]).
    armed: std::sync::atomic::AtomicBool,
}

static INTERRUPTS: std::sync::OnceLock<Interrupts> = std::sync::OnceLock::new();

/// From now on, SIGINT, SIGTERM and SIGHUP (those rdaemon's caller did not ignore) no longer
/// end rdaemon: they are noted, and a wait for a process ([`Process::wait_exit`]), for a cgroup
/// to empty or for a name's lock ends early once one came, so that the command can put back
/// what it changed (`stop`: the spec's wanted state) before it exits with the signal's code.
/// Once caught, always caught: a wait that must go on regardless (a short grace, a clean-up)
/// uses [`Process::wait_exit_regardless`].
pub fn catch_interrupts() -> io::Result<()> {
    if let Some(interrupts) = INTERRUPTS.get() {
        interrupts
            .armed
            .store(true, std::sync::atomic::Ordering::SeqCst);
        return Ok(());
    }
    let (read, write) = std::os::unix::net::UnixStream::pair()?;
    read.set_nonblocking(true)?;
    write.set_nonblocking(true)?;
    let caught = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let ignored = ignored_signals();
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        if ignored & (1u64 << (sig as i32 - 1)) == 0 {
            // The flag first: once the pipe wakes a wait, the flag names the signal. The first
            // one stays: a second, other signal (a TERM after the Ctrl-C) changes neither the
            // message nor the exit code.
            let first = caught.clone();
            // SAFETY: the action runs in the signal handler and only does an atomic
            // compare-and-swap on memory the `Arc` keeps alive for as long as it is registered
            // (for good): async-signal-safe, no allocation, no lock.
            #[allow(unsafe_code)]
            unsafe {
                signal_hook::low_level::register(sig as i32, move || {
                    let _ = first.compare_exchange(
                        0,
                        sig as usize,
                        std::sync::atomic::Ordering::SeqCst,
                        std::sync::atomic::Ordering::SeqCst,
                    );
                })
            }?;
            signal_hook::low_level::pipe::register(sig as i32, write.try_clone()?)?;
        }
    }
    let _ = INTERRUPTS.set(Interrupts {
        caught,
        wake: read.into(),
        armed: std::sync::atomic::AtomicBool::new(true),
    });
    Ok(())
}

/// Until [`catch_interrupts`] is called again, [`interrupted`] says nothing and no wait ends
/// on an interrupt: for a step that catches the signals itself and must run as it would alone
/// (`restart`'s start: its readiness wait stops what it started on Ctrl-C, with waits of its
/// own). The signals are still noted, and told once re-armed.
pub fn hold_interrupts() {
    if let Some(interrupts) = INTERRUPTS.get() {
        interrupts
            .armed
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The interrupting signal caught since [`catch_interrupts`], if one came (and the catch is
/// not held, [`hold_interrupts`]).
pub fn interrupted() -> Option<Signal> {
    let interrupts = INTERRUPTS.get()?;
    if !interrupts.armed.load(std::sync::atomic::Ordering::SeqCst) {
        return None;
    }
    let sig = interrupts.caught.load(std::sync::atomic::Ordering::SeqCst);
    Signal::try_from(i32::try_from(sig).ok()?).ok()
}

/// The interrupting signal caught since [`catch_interrupts`], if one came, held or not: for
/// the step that holds the catch and catches the signals itself (`restart`'s start), which
/// must not miss one that came before its own catch began.
pub fn caught() -> Option<Signal> {
    let sig = INTERRUPTS
        .get()?
        .caught
        .load(std::sync::atomic::Ordering::SeqCst);
    Signal::try_from(i32::try_from(sig).ok()?).ok()
}

/// Readable once an interrupting signal was caught (after [`catch_interrupts`], and not while
/// held): a wait that polls it with what it waits for ends at once, race-free.
pub fn interrupt_fd() -> Option<BorrowedFd<'static>> {
    INTERRUPTS
        .get()
        .filter(|i| i.armed.load(std::sync::atomic::Ordering::SeqCst))
        .map(|i| i.wake.as_fd())
}

/// The executable `pid` runs (`/proc/PID/exe`).
pub fn exe(pid: Pid) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// The value of extended attribute `name` of `path` (`getxattr(2)`, following symlinks), up to
/// 256 bytes; `Ok(None)` when it has none (ENODATA) or the file system has no xattrs (ENOTSUP).
/// Here because reading one needs a raw call (std and nix have none); `cgroup` uses it for
/// systemd's `trusted.delegate` / `user.delegate` marks.
pub fn read_xattr(path: &std::path::Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let c_name =
        std::ffi::CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut buf = [0u8; 256];
    // SAFETY: both strings are NUL-terminated and live across the call; the kernel writes at
    // most `buf.len()` bytes into `buf`, which we own, and returns how many (or -1).
    #[allow(unsafe_code)]
    let n = unsafe {
        nix::libc::getxattr(
            c_path.as_ptr(),
            c_name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return match Errno::last() {
            Errno::ENODATA | Errno::ENOTSUP => Ok(None),
            e => Err(e.into()),
        };
    }
    Ok(Some(buf[..n as usize].to_vec()))
}

/// How long one close of a descriptor a stranger sent may wait ([`close_bounded`]).
const CLOSE_SLICE: Duration = Duration::from_millis(5);

/// Closes descriptors that another process sent rdaemon (attached to a notify message) so
/// that none of the closes can hold it: a close can wait as long as the sender likes (a TCP
/// socket lingering over unsent data, or one in flight inside a Unix socket whose queue the
/// close empties: attacks of 2026-12-02, which hung `start` past its --ready-timeout and froze
/// a monitor). While they are closed, a timer (`ITIMER_REAL`) sends SIGALRM every
/// [`CLOSE_SLICE`], caught by a handler that does nothing (with `SA_RESTART`): a wait in a
/// close ends at the next one, and the kernel finishes what the close left (the socket's
/// lingering) on its own. A close that only a fatal signal ends (a file on a FUSE mount whose
/// server never answers its flush) can still wait.
pub fn close_bounded(fds: Vec<OwnedFd>) {
    if fds.is_empty() {
        return;
    }
    static HANDLER: std::sync::Once = std::sync::Once::new();
    HANDLER.call_once(|| {
        extern "C" fn nothing(_: nix::libc::c_int) {}
        let action = nix::sys::signal::SigAction::new(
            nix::sys::signal::SigHandler::Handler(nothing),
            nix::sys::signal::SaFlags::SA_RESTART,
            nix::sys::signal::SigSet::empty(),
        );
        // SAFETY: the handler does nothing at all, so it is async-signal-safe; rdaemon uses
        // SIGALRM for nothing else, and a program it execs gets the default action back
        // (execve resets caught signals).
        #[allow(unsafe_code)]
        let _ = unsafe { nix::sys::signal::sigaction(Signal::SIGALRM, &action) };
    });
    let slice = nix::libc::timeval {
        tv_sec: 0,
        tv_usec: CLOSE_SLICE.as_micros() as nix::libc::suseconds_t,
    };
    let set_timer = |every: nix::libc::timeval| {
        let timer = nix::libc::itimerval {
            it_interval: every,
            it_value: every,
        };
        // SAFETY: `timer` lives across the call and is only read; no old value is asked for.
        #[allow(unsafe_code)]
        unsafe {
            nix::libc::setitimer(nix::libc::ITIMER_REAL, &timer, std::ptr::null_mut())
        }
    };
    set_timer(slice);
    drop(fds);
    set_timer(nix::libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    });
}

/// Sets the extended attribute `name` of the file open as `fd` to `value` (`fsetxattr`), for
/// the mark `cgroup` leaves on a cgroup it made. Here because it needs a raw call.
pub fn set_xattr(fd: BorrowedFd<'_>, name: &str, value: &[u8]) -> io::Result<()> {
    let c_name =
        std::ffi::CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: a file descriptor we hold, a NUL-terminated name that lives across the call, and
    // `value.len()` bytes the kernel only reads from `value`.
    #[allow(unsafe_code)]
    let rc = unsafe {
        nix::libc::fsetxattr(
            fd.as_raw_fd(),
            c_name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    match rc {
        0 => Ok(()),
        _ => Err(Errno::last().into()),
    }
}

/// `pidfd_send_signal` flag (Linux 6.9, `include/uapi/linux/pidfd.h`): signal the process
/// group the pidfd's pid names.
const PIDFD_SIGNAL_PROCESS_GROUP: nix::libc::c_uint = 1 << 2;

/// A process held by pid and, where the kernel allows, by pidfd: signals then reach exactly
/// this process even if the pid is reused, and exit is awaited without polling.
#[derive(Debug)]
pub struct Process {
    pid: Pid,
    pidfd: Option<OwnedFd>,
    /// The start time the process was judged with ([`Process::open_verified`]): without a
    /// pidfd, it is checked again right before every signal, so a pid reused meanwhile is
    /// never signalled.
    start_time: Option<u64>,
}

/// How many descriptors below its limit rdaemon keeps free of pidfds: each `/proc` read, the
/// scan of `/proc` and a poll's wake-up take one. Only under a limit of at least
/// [`FD_RESERVE_FROM`]: below it (a limit a test sets) every descriptor may be a pidfd, and a
/// `/proc` read that then fails is an error, never a process taken for gone
/// (`security_pids::an_error_reading_proc_is_not_a_dead_process`).
const FD_RESERVE: u64 = 64;
const FD_RESERVE_FROM: u64 = 256;

/// The lowest descriptor number a pidfd may not have ([`FD_RESERVE`] below the soft
/// `RLIMIT_NOFILE`, read once: rdaemon never changes its own).
fn pidfd_ceiling() -> u64 {
    static CEILING: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *CEILING.get_or_init(|| {
        let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map_or(1024, |(soft, _)| soft);
        match soft >= FD_RESERVE_FROM {
            true => soft - FD_RESERVE,
            false => soft,
        }
    })
}

impl Process {
    /// Opens a pidfd for `pid` (falls back to plain pid use without one). Also without one
    /// once the pidfds would take the last [`FD_RESERVE`] descriptors: a sweep of more
    /// processes than the limit allows (a daemon's thousands of `setsid` children, without a
    /// cgroup) must still read `/proc` to check each one by its start time before it signals
    /// it by number; with every descriptor a pidfd, those reads failed, the processes past the
    /// limit were not held at all, and `stop` said "stopped" while they ran on
    /// (helper-102's attack, 2026-12-03).
    pub fn open(pid: Pid) -> io::Result<Process> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no memory is shared.
        #[allow(unsafe_code)]
        let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid.get(), 0) };
        let pidfd = if fd >= 0 {
            // SAFETY: the kernel just returned this fd to us and nothing else owns it.
            #[allow(unsafe_code)]
            let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
            // The kernel hands out the lowest free number: a high one means few are left.
            ((fd as u64) < pidfd_ceiling()).then_some(pidfd)
        } else {
            match Errno::last() {
                Errno::ESRCH => return Err(io::Error::from_raw_os_error(Errno::ESRCH as i32)),
                // ENOSYS (kernel < 5.3) or a sandbox refusing it: fall back to the pid.
                _ => None,
            }
        };
        Ok(Process {
            pid,
            pidfd,
            start_time: None,
        })
    }

    /// Opens a pidfd for `pid`, then checks that the pid still is the process that was judged
    /// (alive, with `start_time`): a pid that died and was reused between the judgement and the
    /// pidfd is not this process. `Ok(None)` when it is gone or another process; an error only
    /// when `/proc` cannot be read.
    pub fn open_verified(pid: Pid, start_time: u64) -> io::Result<Option<Process>> {
        let mut process = match Process::open(pid) {
            Ok(p) => p,
            Err(e) if is_gone(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        process.start_time = Some(start_time);
        Ok(process.is_still_there()?.then_some(process))
    }

    /// Whether the process is alive and, when it was judged by its start time, still has it.
    fn is_still_there(&self) -> io::Result<bool> {
        Ok(stat(self.pid)?
            .is_some_and(|s| s.is_alive() && self.start_time.is_none_or(|t| t == s.start_time)))
    }

    /// Before a signal by number (no pidfd pins the process): ESRCH if the pid is gone or now
    /// names another process, the OS error if `/proc` cannot be read.
    fn check_before_kill(&self) -> nix::Result<()> {
        match self.is_still_there() {
            Ok(true) => Ok(()),
            Ok(false) => Err(Errno::ESRCH),
            Err(e) => Err(Errno::from_raw(e.raw_os_error().unwrap_or(nix::libc::EIO))),
        }
    }

    /// The pid.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The pidfd, if the kernel gave one: it becomes readable when the process exits.
    pub fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.as_ref().map(|fd| fd.as_fd())
    }

    /// Reaps the process once it has exited and tells how it ended. Only for a child of rdaemon
    /// (the daemon is one while `start` runs: `start` is its subreaper); `None` when it is not
    /// our child (its status went to someone else). Call only after [`Process::has_exited`]
    /// or [`Process::wait_exit`]; one whose exited threads a tracer still holds cannot be
    /// reaped yet, and is not waited for (`None`): whoever reaps orphans will.
    pub fn reap(&self) -> Option<Ended> {
        // Only where `/proc` shows it ended while its pidfd does not (a tracer holds its
        // exited threads): any other child is waited for, as it ends (helper-88: a monitor
        // killed a moment before was not reaped, and how it ended was lost).
        // `/proc` also shows a process ended a moment before its pidfd says so (its last
        // thread marked dead, not yet released: helper-89's review): the pidfd is given
        // [`HELD_GRACE`] to say so before the process is taken for held.
        let held = match &self.pidfd {
            Some(fd) => {
                !self.has_exited()
                    && matches!(self.is_still_there(), Ok(false))
                    && !matches!(poll_readable(fd.as_fd(), None, HELD_GRACE), Ok(true))
            }
            None => false,
        };
        let flags = held.then_some(nix::sys::wait::WaitPidFlag::WNOHANG);
        loop {
            match waitpid(self.pid.nix(), flags) {
                Ok(WaitStatus::StillAlive) => return None,
                Ok(status) => return Ended::of_wait(&status),
                Err(Errno::EINTR) => continue,
                Err(_) => return None,
            }
        }
    }

    /// How this process ended when it is not rdaemon's child (its status goes to its parent,
    /// usually init): the status the kernel keeps in the zombie's `/proc/PID/stat` (field 52)
    /// until it is reaped, else the one it keeps for a pidfd held across the reaping
    /// (`PIDFD_GET_INFO` with `PIDFD_INFO_EXIT`, Linux 6.15). `None` when neither tells, or the
    /// process was never verified (no start time to match the zombie with). Call only after
    /// [`Process::has_exited`].
    pub fn exit_status(&self) -> Option<Ended> {
        let raw = self
            .start_time
            .and_then(|t| zombie_exit_code(self.pid, t))
            .or_else(|| {
                self.pidfd
                    .as_ref()
                    .and_then(|fd| pidfd_exit_code(fd.as_fd()))
            })?;
        Ended::of_wait(&WaitStatus::from_raw(self.pid.nix(), raw).ok()?)
    }

    /// Whether the process has exited (zombies included).
    pub fn has_exited(&self) -> bool {
        match &self.pidfd {
            Some(fd) => pidfd_exited(fd.as_fd()),
            // Unreadable `/proc`: not known to have exited (a signal by number then checks
            // again and fails with the error).
            None => matches!(self.is_still_there(), Ok(false)),
        }
    }

    /// Sends `sig` to this process only (through the pidfd when there is one).
    pub fn signal(&self, sig: Signal) -> nix::Result<()> {
        match &self.pidfd {
            Some(fd) => pidfd_send_signal(fd, sig, 0),
            None => {
                self.check_before_kill()?;
                kill(self.pid.nix(), sig)
            }
        }
    }

    /// Whether `sig` would end this process: its default action is to terminate (HUP, USR1 and
    /// most others), and the process neither catches, ignores nor blocks it (`SigCgt`,
    /// `SigIgn`, `SigBlk` of `/proc/PID/status`; blocked counts as handled, as a program that
    /// reads its signals from a signalfd blocks them). `false` when that cannot be read.
    pub fn would_be_ended_by(&self, sig: Signal) -> bool {
        use Signal::*;
        if matches!(
            sig,
            SIGCHLD | SIGCONT | SIGURG | SIGWINCH | SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU
        ) {
            return false;
        }
        let bit = 1u64 << (sig as i32 - 1);
        self.dispositions()
            .is_some_and(|(caught, ignored, blocked)| (caught | ignored | blocked) & bit == 0)
    }

    /// Whether `sig` would do nothing to this process: it ignores it (`SIG_IGN`), neither
    /// blocked (a blocked signal is kept for a signalfd, ignored or not) nor caught. `false`
    /// when that cannot be read.
    pub fn ignores(&self, sig: Signal) -> bool {
        let bit = 1u64 << (sig as i32 - 1);
        self.dispositions()
            .is_some_and(|(caught, ignored, blocked)| {
                ignored & bit != 0 && (caught | blocked) & bit == 0
            })
    }

    /// Whether this process has a handler for `sig` (`SigCgt`); `false` when that cannot be
    /// read.
    pub fn catches(&self, sig: Signal) -> bool {
        let bit = 1u64 << (sig as i32 - 1);
        self.dispositions()
            .is_some_and(|(caught, _, _)| caught & bit != 0)
    }

    /// The masks of caught, ignored and blocked signals (`SigCgt`, `SigIgn`, `SigBlk` of
    /// `/proc/PID/status`, bit N-1 for signal N).
    fn dispositions(&self) -> Option<(u64, u64, u64)> {
        let text = read_text(format!("/proc/{}/status", self.pid)).ok()?;
        let mask = |field: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        };
        Some((mask("SigCgt:")?, mask("SigIgn:")?, mask("SigBlk:")?))
    }

    /// The process group that this process leads, if it leads one: the group a daemon started by
    /// rdaemon gets. A process inside someone else's group yields `None`, so that rdaemon never
    /// signals a group that may hold unrelated processes.
    pub fn own_group(&self) -> Option<Pid> {
        self.own_group_checked().ok().flatten()
    }

    /// [`Process::own_group`], with an error when `/proc` cannot be read: `stop` must not fall
    /// back to signalling the main process alone because of EMFILE.
    pub fn own_group_checked(&self) -> io::Result<Option<Pid>> {
        let Some(stat) = stat(self.pid)? else {
            return Ok(None);
        };
        let leads = stat.pgrp == self.pid.get() && stat.pgrp != getpgrp().as_raw();
        Ok(leads.then_some(self.pid))
    }

    /// Sends `sig` to the process group `pgid` (from [`Process::own_group`], so `pgid` is this
    /// process's pid).
    ///
    /// On Linux ≥ 6.9 the pidfd itself names the group (`PIDFD_SIGNAL_PROCESS_GROUP`): the
    /// kernel signals the group whose id is the pid the pidfd pins, so the group cannot have
    /// been replaced by a stranger's. Older kernels refuse the flag with EINVAL; then the group
    /// is signalled by number, only while this process is still alive (a live leader keeps its
    /// group id from being reused).
    pub fn signal_group(&self, pgid: Pid, sig: Signal) -> nix::Result<()> {
        if let Some(fd) = self.pidfd.as_ref().filter(|_| pgid == self.pid) {
            match pidfd_send_signal(fd, sig, PIDFD_SIGNAL_PROCESS_GROUP) {
                Err(Errno::EINVAL) => {} // kernel < 6.9: no group flag
                other => return other,
            }
        }
        if self.has_exited() {
            return Err(Errno::ESRCH);
        }
        if self.pidfd.is_none() {
            self.check_before_kill()?;
        }
        killpg(pgid.nix(), sig)
    }

    /// Waits up to `timeout` for the process to exit; true if it did. Exact with a pidfd; polls
    /// every few milliseconds without one. Ends with `EINTR` once an interrupting signal was
    /// caught ([`catch_interrupts`]).
    pub fn wait_exit(&self, timeout: Duration) -> io::Result<bool> {
        self.wait_exit_while(timeout, true)
    }

    /// [`Process::wait_exit`] that an interrupting signal does not end: the short wait a command
    /// that was interrupted still makes before it says what it leaves behind.
    pub fn wait_exit_regardless(&self, timeout: Duration) -> io::Result<bool> {
        self.wait_exit_while(timeout, false)
    }

    fn wait_exit_while(&self, timeout: Duration, interruptible: bool) -> io::Result<bool> {
        let deadline = Instant::now() + timeout;
        let wake = interrupt_fd().filter(|_| interruptible);
        loop {
            if interruptible && interrupted().is_some() {
                return Err(Errno::EINTR.into());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match &self.pidfd {
                Some(fd) => match poll_readable(fd.as_fd(), wake, left) {
                    Ok(true) => return Ok(true),
                    // The pidfd says a process has ended only once every thread of it is
                    // collected: a tracer (`gdb`, `strace -f`) holding the exited threads
                    // keeps it unreadable, while nothing of the process runs any more
                    // (helper-87's field trial: a killed daemon under `gdb` failed the stop).
                    // `/proc` says so, looked at once the wait is over.
                    Ok(false) if left.is_zero() => return Ok(!self.is_still_there()?),
                    Ok(false) => continue,
                    Err(e) => return Err(e),
                },
                None => {
                    if !self.is_still_there()? {
                        return Ok(true);
                    }
                    if left.is_zero() {
                        return Ok(false);
                    }
                    std::thread::sleep(left.min(Duration::from_millis(5)));
                }
            }
        }
    }
}

/// Waits until one or more of `processes` have exited, or `timeout` (`None`: forever) has
/// passed; returns the indexes of those that have exited (empty at the timeout). One `poll` on
/// all their pidfds at once; processes without a pidfd are looked at every few milliseconds.
pub fn wait_any(processes: &[&Process], timeout: Option<Duration>) -> io::Result<Vec<usize>> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let exited: Vec<usize> = (0..processes.len())
            .filter(|&i| processes[i].has_exited())
            .collect();
        if !exited.is_empty() || processes.is_empty() {
            return Ok(exited);
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l.is_zero()) {
            return Ok(Vec::new());
        }
        let without_pidfd = processes.iter().any(|p| p.pidfd.is_none());
        let slice = match (left, without_pidfd) {
            (Some(l), true) => Some(l.min(Duration::from_millis(5))),
            (None, true) => Some(Duration::from_millis(5)),
            (l, false) => l,
        };
        let mut fds: Vec<PollFd> = processes
            .iter()
            .filter_map(|p| p.pidfd.as_ref())
            .map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
            .collect();
        let timeout = match slice {
            // Round up so that a sub-millisecond remainder still waits rather than spinning.
            Some(d) => {
                let ms = d.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        };
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It exited with this status.
    Code(i32),
    /// A signal killed it; `true` if it dumped core.
    Signal(i32, bool),
}

impl Ended {
    /// How a `waitpid` status says a process ended; `None` for a status that is no end
    /// (stopped, continued, still alive).
    pub fn of_wait(status: &WaitStatus) -> Option<Ended> {
        match *status {
            WaitStatus::Exited(_, code) => Some(Ended::Code(code)),
            WaitStatus::Signaled(_, sig, core) => Some(Ended::Signal(sig as i32, core)),
            _ => None,
        }
    }
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Ended::Code(code) => write!(f, "exited with status {code}"),
            Ended::Signal(sig, core) => {
                write!(f, "killed by signal {sig}")?;
                let name = Signal::try_from(sig).map(Signal::as_str).ok();
                match (name, core) {
                    (Some(name), true) => write!(f, " ({name}, core dumped)"),
                    (Some(name), false) => write!(f, " ({name})"),
                    (None, true) => f.write_str(" (core dumped)"),
                    (None, false) => Ok(()),
                }
            }
        }
    }
}

/// The wait status the zombie `pid` started at `start_time` holds in `/proc/PID/stat` (field
/// 52), if it is that zombie and the kernel shows it to us: a reader that may not ptrace the
/// process reads 0 there, which must not pass for "exited with status 0".
fn zombie_exit_code(pid: Pid, start_time: u64) -> Option<i32> {
    let raw = fs::read(format!("/proc/{pid}/stat")).ok()?;
    let mut stat = parse_stat(&raw)?;
    stat.start_time =
        normalise_start_time(stat.start_time, boottime_offset_ns().ok()?, clock_tick_ns());
    if stat.is_alive() || stat.start_time != start_time || !may_read_exit_code(pid) {
        return None;
    }
    let after_comm = &raw[raw.iter().rposition(|&b| b == b')')? + 1..];
    // Field 52 is the 50th after the command name (which is field 2).
    std::str::from_utf8(after_comm)
        .ok()?
        .split_ascii_whitespace()
        .nth(49)?
        .parse()
        .ok()
}

/// Whether the kernel shows us the exit code of `pid` (`ptrace_may_access` in read mode, which
/// for a zombie is the credentials alone): with `CAP_SYS_PTRACE` (root, unless a container took
/// it away), or when every uid and gid of the process is ours.
fn may_read_exit_code(pid: Pid) -> bool {
    const CAP_SYS_PTRACE: u32 = 19;
    let field = |text: &str, key: &str| -> Option<Vec<u64>> {
        let line = text.lines().find_map(|l| l.strip_prefix(key))?;
        line.split_whitespace().map(|v| v.parse().ok()).collect()
    };
    let own = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let cap_eff = own
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    if cap_eff & (1 << CAP_SYS_PTRACE) != 0 {
        return true;
    }
    let Ok(theirs) = fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let (uid, gid) = (
        u64::from(nix::unistd::geteuid().as_raw()),
        u64::from(nix::unistd::getegid().as_raw()),
    );
    let all =
        |key: &str, id: u64| field(&theirs, key).is_some_and(|ids| ids.iter().all(|&i| i == id));
    all("Uid:", uid) && all("Gid:", gid)
}

/// `PIDFD_GET_INFO` (`include/uapi/linux/pidfd.h`, Linux 6.13): `_IOWR(0xFF, 11, struct
/// pidfd_info)`, with the 64 bytes of the struct's first version.
const PIDFD_GET_INFO: nix::libc::c_ulong = 0xC040_FF0B;
/// The cgroup (v2) id is in the answer (always, when the kernel knows it).
const PIDFD_INFO_CGROUPID: u64 = 1 << 2;
/// Asks for the exit status (and the cgroup) kept once the process was reaped (Linux 6.15).
const PIDFD_INFO_EXIT: u64 = 1 << 3;

/// `struct pidfd_info`, first version (`PIDFD_INFO_SIZE_VER0`, 64 bytes).
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    cgroupid: u64,
    ids: [u32; 11],
    exit_code: i32,
}

const _: () = assert!(std::mem::size_of::<PidfdInfo>() == 64);

/// What the kernel says of the process behind a pidfd (`PIDFD_GET_INFO`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PidfdFacts {
    /// The id of its cgroup in the v2 hierarchy (the inode number of the cgroup's directory):
    /// where it is, or where it was when it exited.
    pub cgroup_id: Option<u64>,
    /// Its wait status, once it was reaped.
    pub exit_status: Option<i32>,
}

/// Whether the process of `pidfd` has exited (a zombie, or reaped: its number may be
/// another's by now).
pub fn pidfd_exited(pidfd: BorrowedFd<'_>) -> bool {
    fd_readable(pidfd)
}

/// Whether `fd` is readable now.
pub fn fd_readable(fd: BorrowedFd<'_>) -> bool {
    matches!(poll_readable(fd, None, Duration::ZERO), Ok(true))
}

/// What the kernel says of the process behind `pidfd`, live (Linux 6.13) or reaped (6.15:
/// kept for a pidfd that existed when it was reaped, such as one passed with a message);
/// `None` on older kernels, or for a reaped process of which nothing was kept.
pub fn pidfd_facts(pidfd: BorrowedFd<'_>) -> Option<PidfdFacts> {
    let mut info = PidfdInfo {
        mask: PIDFD_INFO_EXIT | PIDFD_INFO_CGROUPID,
        ..PidfdInfo::default()
    };
    // SAFETY: the ioctl writes at most size_of::<PidfdInfo>() bytes (encoded in the request
    // number, 64) into `info`, which lives across the call; the fd is a pidfd we hold. Older
    // kernels fail with ENOTTY or EINVAL and write nothing.
    let rc = unsafe {
        nix::libc::ioctl(
            pidfd.as_raw_fd(),
            PIDFD_GET_INFO,
            &mut info as *mut PidfdInfo,
        )
    };
    (rc == 0).then_some(PidfdFacts {
        cgroup_id: (info.mask & PIDFD_INFO_CGROUPID != 0).then_some(info.cgroupid),
        exit_status: (info.mask & PIDFD_INFO_EXIT != 0).then_some(info.exit_code),
    })
}

/// `PIDFS_MAGIC` (`include/uapi/linux/magic.h`): the file system of pidfds since Linux 6.9.
const PIDFS_MAGIC: i64 = 0x5049_4446;

/// The inode number of the process behind `pidfd` in pidfs (Linux 6.9): every pidfd of one
/// process has it, and no other process of the boot ever does (a 64-bit counter the kernel
/// never reuses). `None` where that does not hold: before pidfs, every pidfd was the same
/// anonymous inode, and a 32-bit kernel's inode numbers wrap.
pub fn pidfs_inode(pidfd: BorrowedFd<'_>) -> Option<u64> {
    if cfg!(not(target_pointer_width = "64")) {
        return None;
    }
    let fs = nix::sys::statfs::fstatfs(pidfd).ok()?;
    if fs.filesystem_type().0 as i64 != PIDFS_MAGIC {
        return None;
    }
    Some(nix::sys::stat::fstat(pidfd).ok()?.st_ino)
}

/// `FILEID_KERNFS` (`include/linux/exportfs.h`): the type of pidfs's file handles, whose eight
/// bytes are the inode number (`pidfs_encode_fh`).
const FILEID_PIDFS: i32 = 0xfe;

/// Whether `pid` is a child of the caller's that has not been reaped (running, or a zombie):
/// its pid, and the process group it leads, can then be no one else's. Asked before a signal
/// to a child's group, where the child could have been reaped elsewhere in the process.
pub fn is_unreaped_child(pid: Pid) -> bool {
    use nix::sys::wait::{waitid, Id, WaitPidFlag};
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    loop {
        match waitid(Id::Pid(pid.nix()), flags) {
            Err(Errno::EINTR) => continue,
            other => return other.is_ok(),
        }
    }
}

/// Whether the kernel still has the pid whose pidfs inode is `inode` ([`pidfs_inode`]): a
/// process, zombie or not, or a number that outlives its process as the id of a session or
/// process group some live process is still in. Pidfs finds it by its inode alone (a file
/// handle, Linux 6.13), which no other pid of the boot ever gets: `Some(false)` means that one
/// is gone, whoever has its number now. `None` where the kernel cannot tell: no pidfd, or no
/// file handles on pidfs, which answer ESTALE too (told apart by rdaemon's own handle, which
/// must open).
pub(crate) fn pidfs_pid_exists(inode: u64) -> Option<bool> {
    // Any pidfd names the pidfs mount: rdaemon's own (`Pid` refuses to stand for rdaemon).
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no memory is shared.
    #[allow(unsafe_code)]
    let own = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, getpid().as_raw(), 0) };
    if own < 0 {
        return None;
    }
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    #[allow(unsafe_code)]
    let mount = unsafe { OwnedFd::from_raw_fd(own as i32) };
    match open_pidfs_handle(mount.as_fd(), inode) {
        Ok(()) => Some(true),
        Err(Errno::ESTALE) => {
            let own_inode = pidfs_inode(mount.as_fd())?;
            open_pidfs_handle(mount.as_fd(), own_inode).ok()?;
            Some(false)
        }
        Err(_) => None,
    }
}

/// Opens (and closes at once) the pid whose pidfs inode is `inode`, by its file handle, on
/// the pidfs mount that `mount` (a pidfd) is on.
pub(crate) fn open_pidfs_handle(mount: BorrowedFd<'_>, inode: u64) -> nix::Result<()> {
    // `struct file_handle` with its eight bytes of handle.
    #[repr(C)]
    struct Handle {
        bytes: u32,
        kind: i32,
        inode: [u8; 8],
    }
    let mut handle = Handle {
        bytes: 8,
        kind: FILEID_PIDFS,
        inode: inode.to_ne_bytes(),
    };
    // SAFETY: `handle` has the layout of `struct file_handle` followed by its `handle_bytes`
    // (8) bytes, and lives across the call, which only reads it; `mount` is a pidfd we hold,
    // which names the pidfs mount. On success the kernel returns a new fd that we own.
    #[allow(unsafe_code)]
    let fd = unsafe {
        nix::libc::open_by_handle_at(
            mount.as_raw_fd(),
            (&mut handle as *mut Handle).cast::<nix::libc::file_handle>(),
            nix::libc::O_RDONLY | nix::libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this fd to us and nothing else owns it; it closes here.
    #[allow(unsafe_code)]
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    Ok(())
}

/// Whether `pid` is the live process whose pidfs inode is `inode` ([`pidfs_inode`], read by
/// `start` from the process it started, during this boot): `Some(false)` when the pid is gone,
/// has exited (a zombie) or is another process; `None` when a pidfd cannot tell and `/proc`
/// must (no pidfd to be had: EMFILE, a sandbox, a pid that is a thread's; a kernel before
/// `PIDFD_GET_INFO`, 6.13; kthreadd or a child of it, which `/proc` judges as kernel threads). The
/// same answer as reading `/proc/PID/stat` and comparing the start time, in half its cost:
/// `list` asks it of every daemon (issue 18).
pub(crate) fn is_pidfs_process(pid: Pid, inode: u64) -> Option<bool> {
    let process = match Process::open(pid) {
        Ok(process) => process,
        Err(e) if is_gone(&e) => return Some(false),
        Err(_) => return None,
    };
    let pidfd = process.pidfd()?;
    if nix::sys::stat::fstat(pidfd).ok()?.st_ino != inode {
        return Some(false);
    }
    let mut info = PidfdInfo::default();
    // SAFETY: as in `pidfd_facts`: the ioctl writes at most 64 bytes into `info`, which lives
    // across the call, and the fd is a pidfd we hold.
    let rc = unsafe {
        nix::libc::ioctl(
            pidfd.as_raw_fd(),
            PIDFD_GET_INFO,
            &mut info as *mut PidfdInfo,
        )
    };
    // `ids` begins pid, tgid, ppid. A child of kthreadd (ppid 2), or a process with no parent
    // (ppid 0: kthreadd and init themselves), is left to `/proc`'s judgement
    // (`refuse_protected_with`), though `start` never records one.
    if rc != 0 || matches!(info.ids[2], 0 | 2) {
        return None;
    }
    Some(!process.has_exited())
}

/// The wait status the kernel kept for the reaped process behind `pidfd`; `None` on kernels
/// before 6.15, and while the process is not reaped yet.
fn pidfd_exit_code(pidfd: BorrowedFd<'_>) -> Option<i32> {
    pidfd_facts(pidfd)?.exit_status
}

/// `SO_PASSPIDFD` (`include/uapi/asm-generic/socket.h`, Linux 6.5): every message read from the
/// socket carries a pidfd of its sender (`SCM_PIDFD`), which pins it even once it has exited.
const SO_PASSPIDFD: nix::libc::c_int = 76;
/// The control message of [`SO_PASSPIDFD`].
pub const SCM_PIDFD: nix::libc::c_int = 4;

/// Asks for a pidfd of the sender with every message read from the Unix socket `sock`; false
/// where the kernel has no such option (before 6.5).
pub fn pass_pidfd(sock: BorrowedFd<'_>) -> bool {
    let on: nix::libc::c_int = 1;
    // SAFETY: setsockopt reads size_of::<c_int>() bytes from `on`, which lives across the call;
    // the fd is a socket we hold.
    let rc = unsafe {
        nix::libc::setsockopt(
            sock.as_raw_fd(),
            nix::libc::SOL_SOCKET,
            SO_PASSPIDFD,
            &on as *const nix::libc::c_int as *const nix::libc::c_void,
            std::mem::size_of::<nix::libc::c_int>() as nix::libc::socklen_t,
        )
    };
    rc == 0
}

/// Takes ownership of a file descriptor the kernel just installed in rdaemon's table with a
/// received message (`SCM_PIDFD`, `SCM_RIGHTS`), so that it is closed when dropped.
pub fn received_fd(raw: std::os::fd::RawFd) -> OwnedFd {
    // SAFETY: the kernel installed `raw` for this message alone (with MSG_CMSG_CLOEXEC): nothing
    // else in rdaemon knows the number, so this is its only owner.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// `pidfd_getfd(2)`: a duplicate of file descriptor `fd` of the process behind `pidfd` (kernel
/// 5.6; needs the right to ptrace it, which root has). Used to look at a socket the daemon
/// holds (`--ready tcp:`) without scanning `/proc/net/tcp`.
pub fn pidfd_getfd(pidfd: BorrowedFd<'_>, fd: i32) -> io::Result<OwnedFd> {
    // SAFETY: a pidfd we hold, a plain fd number and no flags; the kernel returns a new fd
    // (close-on-exec) or -1, and no memory is shared.
    #[allow(unsafe_code)]
    let rc = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    #[allow(unsafe_code)]
    Ok(unsafe { OwnedFd::from_raw_fd(rc as i32) })
}

/// `SO_NETNS_COOKIE` (socket(7), Linux 5.14): the cookie of a socket's network namespace.
#[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
const SO_NETNS_COOKIE: nix::libc::c_int = 0x0050;
#[cfg(not(any(target_arch = "sparc", target_arch = "sparc64")))]
const SO_NETNS_COOKIE: nix::libc::c_int = 71;

/// The cookie of the network namespace `sock` lives in (`SO_NETNS_COOKIE`), if the kernel
/// tells it.
fn netns_cookie(sock: BorrowedFd<'_>) -> Option<u64> {
    let mut cookie: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as nix::libc::socklen_t;
    // SAFETY: a valid fd we borrow; `cookie` and `len` are live locals of the size the kernel
    // writes (a u64 and its length), and nothing else holds them.
    #[allow(unsafe_code)]
    let rc = unsafe {
        nix::libc::getsockopt(
            sock.as_raw_fd(),
            nix::libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut len,
        )
    };
    (rc == 0 && len as usize == std::mem::size_of::<u64>()).then_some(cookie)
}

/// The network namespace of `sock` (`ioctl(SIOCGSKNS)`, Linux 4.9; needs `CAP_NET_ADMIN` over
/// that namespace, which root has): its device and inode.
fn netns_id(sock: BorrowedFd<'_>) -> Option<(u64, u64)> {
    // SAFETY: a valid fd we borrow and a request that takes no argument; the kernel returns a
    // new fd (close-on-exec) or -1, and no memory is shared.
    #[allow(unsafe_code)]
    let rc = unsafe { nix::libc::ioctl(sock.as_raw_fd(), nix::libc::SIOCGSKNS as _) };
    if rc < 0 {
        return None;
    }
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    #[allow(unsafe_code)]
    let ns = unsafe { OwnedFd::from_raw_fd(rc) };
    let st = nix::sys::stat::fstat(&ns).ok()?;
    Some((st.st_dev as u64, st.st_ino as u64))
}

/// Whether the socket `sock` (one of the daemon's, duplicated with [`pidfd_getfd`]) lives in
/// rdaemon's own network namespace: a listener on 127.0.0.1:8080 in another namespace takes
/// none of the connections made here. Compared by namespace cookie with a socket of
/// rdaemon's own, else by the namespace's inode against `/proc/self/ns/net`; `None` when the
/// kernel tells neither (the caller then looks at `/proc/net/tcp`, which shows only rdaemon's
/// namespace).
pub fn socket_in_own_netns(sock: BorrowedFd<'_>) -> Option<bool> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    static OWN_COOKIE: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    let own = *OWN_COOKIE.get_or_init(|| {
        let probe = socket(
            AddressFamily::Unix,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .ok()?;
        netns_cookie(probe.as_fd())
    });
    if let (Some(own), Some(theirs)) = (own, netns_cookie(sock)) {
        return Some(own == theirs);
    }
    let own = nix::sys::stat::stat("/proc/self/ns/net").ok()?;
    let theirs = netns_id(sock)?;
    Some(theirs == (own.st_dev as u64, own.st_ino as u64))
}

/// `pidfd_send_signal(fd, sig, NULL, flags)`.
fn pidfd_send_signal(fd: &OwnedFd, sig: Signal, flags: u32) -> nix::Result<()> {
    // SAFETY: a valid pidfd we own, a valid signal number, no siginfo pointer, and flags the
    // kernel checks; no memory is shared with the kernel.
    #[allow(unsafe_code)]
    let rc = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig as i32,
            std::ptr::null::<nix::libc::siginfo_t>(),
            flags,
        )
    };
    Errno::result(rc).map(drop)
}

/// Where tracefs gives the id of the kernel's tracepoint for a TCP socket's change of state
/// (`sock:inet_sock_set_state`: listen, connect, close).
const TCP_STATE_TRACEPOINT: [&str; 2] = [
    "/sys/kernel/tracing/events/sock/inet_sock_set_state/id",
    "/sys/kernel/debug/tracing/events/sock/inet_sock_set_state/id",
];
/// The CPUs the kernel runs processes on.
const ONLINE_CPUS: &str = "/sys/devices/system/cpu/online";
/// Beyond this many CPUs, no [`TcpStateEvents`]: each CPU costs an fd and two locked pages.
const MAX_EVENT_CPUS: usize = 64;
/// `PERF_TYPE_TRACEPOINT`, `PERF_FLAG_PID_CGROUP` and `PERF_FLAG_FD_CLOEXEC`
/// (linux/perf_event.h).
const PERF_TYPE_TRACEPOINT: u32 = 2;
const PERF_FLAG_PID_CGROUP: nix::libc::c_ulong = 1 << 2;
const PERF_FLAG_FD_CLOEXEC: nix::libc::c_ulong = 1 << 3;

/// `struct perf_event_attr` as its first version (`PERF_ATTR_SIZE_VER0`, 64 bytes), which every
/// kernel with perf events takes. `flags` is the bit field (`disabled`, `inherit`, ...): all
/// clear, so the event counts from its creation, in the kernel too.
#[repr(C)]
struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

const _: () = assert!(std::mem::size_of::<PerfEventAttr>() == 64);

/// One CPU's event and its ring buffer, mapped read-only: nothing is read from it, but only an
/// event with a buffer makes `poll` report it.
#[derive(Debug)]
struct EventRing {
    fd: OwnedFd,
    map: *mut nix::libc::c_void,
    len: usize,
}

impl Drop for EventRing {
    fn drop(&mut self) {
        // SAFETY: `map` and `len` are exactly what `mmap` returned for this ring, and nothing
        // refers to the mapping: it was never read through.
        #[allow(unsafe_code)]
        unsafe {
            nix::libc::munmap(self.map, self.len);
        }
    }
}

/// Wakes a wait when a process of one cgroup (or of a cgroup beneath it) changes the state of a
/// TCP socket: binds a listener, connects, closes. A perf event on the kernel's tracepoint for
/// it, per CPU, filtered by the cgroup: the kernel offers no other event for "a socket
/// listens", and this one lets `--ready tcp:` and `http:` sleep until the daemon does
/// something with TCP, instead of looking every few milliseconds (issue 18).
///
/// Needs root (`CAP_PERFMON`), tracefs, and the perf controller on cgroup v2; [`open`] says
/// `None` without them, and the caller looks as before.
///
/// [`open`]: TcpStateEvents::open
#[derive(Debug)]
pub struct TcpStateEvents {
    rings: Vec<EventRing>,
}

impl TcpStateEvents {
    /// Events for the cgroup whose directory is `cgroup_dir`, on every online CPU; `None` where
    /// the kernel, the machine or rdaemon's privileges cannot give them.
    pub fn open(cgroup_dir: BorrowedFd<'_>) -> Option<TcpStateEvents> {
        let id = TCP_STATE_TRACEPOINT
            .iter()
            .find_map(|path| read_text(path).ok()?.trim().parse::<u64>().ok())?;
        let cpus = parse_cpu_list(read_text(ONLINE_CPUS).ok()?.trim())?;
        if cpus.is_empty() || cpus.len() > MAX_EVENT_CPUS {
            return None;
        }
        let page = sysconf(SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .map_or(4096, |p| p as usize);
        let attr = PerfEventAttr {
            kind: PERF_TYPE_TRACEPOINT,
            size: std::mem::size_of::<PerfEventAttr>() as u32,
            config: id,
            // A sample at every event, a wake-up at every sample.
            sample_period: 1,
            sample_type: 0,
            read_format: 0,
            flags: 0,
            wakeup_events: 1,
            bp_type: 0,
            config1: 0,
        };
        let mut rings = Vec::with_capacity(cpus.len());
        for cpu in cpus {
            // SAFETY: `attr` is a valid perf_event_attr of the size it states, which the kernel
            // only reads during the call; the cgroup directory fd is open for the call; the
            // kernel returns a new fd (close-on-exec) or -1.
            #[allow(unsafe_code)]
            let fd = unsafe {
                nix::libc::syscall(
                    nix::libc::SYS_perf_event_open,
                    &attr as *const PerfEventAttr,
                    cgroup_dir.as_raw_fd(),
                    cpu as nix::libc::c_int,
                    -1 as nix::libc::c_int,
                    PERF_FLAG_PID_CGROUP | PERF_FLAG_FD_CLOEXEC,
                )
            };
            if fd < 0 {
                return None;
            }
            // SAFETY: the kernel just returned this fd to us and nothing else owns it.
            #[allow(unsafe_code)]
            let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
            // The metadata page and one page of samples, the least the kernel maps.
            let len = 2 * page;
            // SAFETY: a new shared read-only mapping chosen by the kernel, of a perf event fd we
            // own; the mapping is never read through and is unmapped once, by `EventRing`'s drop.
            #[allow(unsafe_code)]
            let map = unsafe {
                nix::libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    nix::libc::PROT_READ,
                    nix::libc::MAP_SHARED,
                    fd.as_raw_fd(),
                    0,
                )
            };
            if map == nix::libc::MAP_FAILED {
                return None;
            }
            rings.push(EventRing { fd, map, len });
        }
        Some(TcpStateEvents { rings })
    }

    /// What to poll: one becomes readable once after each change (its readiness is consumed
    /// by the poll that reports it).
    pub fn fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.rings.iter().map(|r| r.fd.as_fd())
    }
}

/// The CPUs of a kernel CPU list (`0-3,8,10-11`); `None` if it is not one.
fn parse_cpu_list(text: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in text.split(',') {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?),
            None => {
                let one = part.parse::<u32>().ok()?;
                (one, one)
            }
        };
        if last < first || last - first >= 4096 {
            return None;
        }
        cpus.extend(first..=last);
    }
    Some(cpus)
}

/// Polls `fd` for readability for at most `timeout`, or until `wake` (the
/// [`interrupt_fd`]) is readable; whether `fd` is. EINTR counts as "not yet".
fn poll_readable(
    fd: BorrowedFd<'_>,
    wake: Option<BorrowedFd<'_>>,
    timeout: Duration,
) -> io::Result<bool> {
    let mut fds = vec![PollFd::new(fd, PollFlags::POLLIN)];
    fds.extend(wake.map(|w| PollFd::new(w, PollFlags::POLLIN)));
    // Round up so that a sub-millisecond remainder still waits rather than spinning.
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
    match poll(&mut fds, timeout) {
        Ok(_) => Ok(fds[0].any().unwrap_or(false)),
        Err(Errno::EINTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_are_read_as_the_kernel_writes_them() {
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("0-3"), Some(vec![0, 1, 2, 3]));
        assert_eq!(parse_cpu_list("0-1,4,6-7"), Some(vec![0, 1, 4, 6, 7]));
        for bad in ["", "a", "3-1", "0-", "-2", "0,,1", "0-99999"] {
            assert_eq!(parse_cpu_list(bad), None, "{bad:?}");
        }
    }

    /// A process's anonymous memory grows with what it writes to its heap, and is part of its
    /// resident memory.
    #[test]
    fn anonymous_memory_is_what_a_process_wrote_of_its_own() {
        let me = std::process::id() as i32;
        let before = anon_bytes(me).unwrap();
        let written = std::hint::black_box(vec![1u8; 8 << 20]);
        let after = anon_bytes(me).unwrap();
        assert!(after >= before + (6 << 20), "{before} -> {after}");
        assert!(after <= rss_bytes(me).unwrap());
        assert_eq!(anon_bytes(0), None);
        drop(written);
    }

    /// A child that exits with `code` once its stdin is closed (`drop(child.stdin.take())`).
    fn exits_when_told(code: i32) -> (std::process::Child, Pid) {
        let child = std::process::Command::new("sh")
            .args(["-c", &format!("read x; exit {code}")])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = Pid::new(child.id() as i32).unwrap();
        (child, pid)
    }

    /// A child is unreaped while it runs and as a zombie, and no longer once reaped (its pid
    /// is then not the caller's child's, whoever has it).
    #[test]
    fn an_unreaped_child_is_one_until_it_is_reaped() {
        let (mut child, pid) = exits_when_told(0);
        assert!(is_unreaped_child(pid));
        drop(child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(20);
        while read_stat(pid).is_some_and(|s| s.state != 'Z') && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(read_stat(pid).map(|s| s.state), Some('Z'));
        assert!(is_unreaped_child(pid), "a zombie is not reaped yet");
        child.wait().unwrap();
        assert!(!is_unreaped_child(pid));
    }

    /// A pid is the process of a pidfs inode while it lives: not once it is a zombie, not once
    /// it is reaped, and never under another inode. Where the kernel has no pidfs (before 6.9)
    /// no inode is read, and nothing is judged by one.
    #[test]
    fn a_pidfs_inode_names_one_live_process() {
        let Some((mut child, pid, process, inode)) = child_with_pidfs_inode() else {
            return;
        };
        // Every pidfd of it has the inode; this test process has another.
        let again = Process::open(pid).unwrap();
        assert_eq!(again.pidfd().and_then(pidfs_inode), Some(inode));
        let me = Process::open(Pid::own_for_foreground()).unwrap();
        assert_ne!(me.pidfd().and_then(pidfs_inode), Some(inode));
        assert_eq!(is_pidfs_process(pid, inode), Some(true));
        assert_eq!(is_pidfs_process(pid, inode + 1), Some(false));
        drop(child.stdin.take());
        assert!(process.wait_exit(Duration::from_secs(30)).unwrap());
        // A zombie, not reaped yet: gone, as `/proc` would say.
        assert_eq!(stat(pid).unwrap().map(|s| s.is_alive()), Some(false));
        assert_eq!(is_pidfs_process(pid, inode), Some(false));
        child.wait().unwrap();
        assert_eq!(is_pidfs_process(pid, inode), Some(false));
        // kthreadd and its kernel threads, where this pid namespace sees them, are left to
        // `/proc` (which refuses them): never proven by a pidfd.
        let kthreadd = stat_at("/proc/2/stat")
            .unwrap()
            .filter(|s| s.is_kernel_thread());
        if kthreadd.is_some() {
            let worker = std::fs::read_dir("/proc")
                .unwrap()
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
                .find(|&p| stat_of(p).ok().flatten().is_some_and(|s| s.ppid == 2));
            for pid in std::iter::once(2).chain(worker) {
                let pid = Pid::new(pid).unwrap();
                let Some(inode) = Process::open(pid).unwrap().pidfd().and_then(pidfs_inode) else {
                    continue;
                };
                assert_eq!(is_pidfs_process(pid, inode), None, "pid {pid}");
            }
        }
    }

    /// A child of this test ([`exits_when_told`]), its pidfd and its pidfs inode; `None`,
    /// once said, where the kernel has no pidfs (Linux 6.9).
    fn child_with_pidfs_inode() -> Option<(std::process::Child, Pid, Process, u64)> {
        let (mut child, pid) = exits_when_told(0);
        let process = Process::open(pid).unwrap();
        let Some(inode) = process.pidfd().and_then(pidfs_inode) else {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("skipped: this kernel has no pidfs (Linux 6.9)");
            return None;
        };
        Some((child, pid, process, inode))
    }

    /// The state is the main thread's: `Z` with other threads running on is alive, and not
    /// on its way out even with `PF_EXITING` (its main thread's); a zombie alone is neither.
    #[test]
    fn a_process_whose_main_thread_ended_is_alive_while_its_threads_run() {
        let stat = |state, threads, flags| ProcStat {
            state,
            ppid: 1,
            pgrp: 2,
            session: 2,
            start_time: 3,
            flags,
            threads,
        };
        assert!(stat('Z', 2, PF_EXITING).is_alive());
        assert!(!stat('Z', 2, PF_EXITING).is_exiting());
        assert!(!stat('Z', 1, PF_EXITING).is_alive());
        assert!(stat('Z', 1, PF_EXITING).is_exiting());
        assert!(!stat('X', 2, 0).is_alive());
        assert!(stat('S', 1, 0).is_alive() && !stat('S', 1, 0).is_exiting());
        assert!(stat('R', 1, PF_EXITING).is_exiting());
    }

    /// A zombie is on its way out; a process asleep is not.
    #[test]
    fn a_zombie_is_exiting() {
        let (mut child, pid) = exits_when_told(0);
        assert!(!stat(pid).unwrap().unwrap().is_exiting());
        let process = Process::open(pid).unwrap();
        drop(child.stdin.take());
        assert!(process.wait_exit(Duration::from_secs(30)).unwrap());
        assert!(stat(pid).unwrap().unwrap().is_exiting());
        child.wait().unwrap();
    }

    /// Pidfs finds a pid by its inode alone while the kernel has it, a zombie's included, and
    /// never once it is reaped; an inode no pid has is not found either.
    #[test]
    fn a_pid_is_found_by_its_pidfs_inode_until_it_is_reaped() {
        let Some((mut child, _, process, inode)) = child_with_pidfs_inode() else {
            return;
        };
        if pidfs_pid_exists(inode).is_none() {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("skipped: this kernel has no file handles on pidfs (Linux 6.13)");
            return;
        }
        assert_eq!(pidfs_pid_exists(inode), Some(true));
        drop(child.stdin.take());
        assert!(process.wait_exit(Duration::from_secs(30)).unwrap());
        assert_eq!(pidfs_pid_exists(inode), Some(true), "a zombie");
        child.wait().unwrap();
        drop(process);
        assert_eq!(pidfs_pid_exists(inode), Some(false), "reaped");
        assert_eq!(
            pidfs_pid_exists(u64::MAX),
            Some(false),
            "an inode no pid has"
        );
    }

    /// A process that is not ours to reap says how it ended through the pidfd held across its
    /// reaping (Linux 6.15; `None` before), and a zombie through its `/proc/PID/stat`.
    #[test]
    fn the_exit_status_of_a_process_comes_from_its_zombie_or_its_pidfd() {
        let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        let mut parts = release
            .trim()
            .split(['.', '-'])
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let keeps = (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (6, 15);
        // Pinned alive first (a zombie is not verified).
        let (mut child, pid) = exits_when_told(3);
        let start_time = stat(pid).unwrap().unwrap().start_time;
        let process = Process::open_verified(pid, start_time).unwrap().unwrap();
        drop(child.stdin.take());
        assert!(process.wait_exit(Duration::from_secs(30)).unwrap());
        // Not reaped yet: the zombie tells (the test runs with the rights to read it).
        assert_eq!(process.exit_status(), Some(Ended::Code(3)));
        let _ = child.wait();
        assert_eq!(process.exit_status(), keeps.then_some(Ended::Code(3)));
    }

    #[test]
    fn stat_parses_after_the_last_paren() {
        let text = "1234 (we ird) (x) S 1 1230 1230 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        let s = parse_stat(text.as_bytes()).unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!((s.ppid, s.pgrp, s.session), (1, 1230, 1230));
        assert_eq!(s.start_time, 987654);
        assert!(s.is_alive());
        let zombie = text.replace(") S ", ") Z ");
        assert!(!parse_stat(zombie.as_bytes()).unwrap().is_alive());
    }

    #[test]
    fn stat_rejects_garbage() {
        assert_eq!(parse_stat(b""), None);
        assert_eq!(parse_stat(b"12 (x) S 1"), None);
        assert_eq!(parse_stat(b"no paren"), None);
    }

    /// Regression (issue 8): the kernel cuts the command name at 15 bytes, so a program called
    /// `aaaaaaaaaaaaaaé` runs as `aaaaaaaaaaaaaa\xc3`; reading `/proc/PID/stat` as a `String`
    /// failed, the live daemon looked dead and `stop` removed its pidfile.
    #[test]
    fn stat_with_a_name_that_is_not_utf8_parses() {
        let raw =
            b"4242 (aaaaaaaaaaaaaa\xc3) S 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5555 0 0";
        let s = parse_stat(raw).unwrap();
        assert_eq!(
            (s.state, s.ppid, s.pgrp, s.start_time),
            ('S', 1, 4242, 5555)
        );
        assert_eq!(parse_stat(b"1 (x) S\xff 1 1 1"), None);
    }

    #[test]
    fn own_stat_is_readable() {
        let me = fs::read("/proc/self/stat").unwrap();
        let s = parse_stat(&me).unwrap();
        assert!(s.is_alive());
        assert!(s.start_time > 0);
    }

    #[test]
    fn pids_that_must_never_be_signalled() {
        for raw in [i32::MIN, -1, 0, 1, 4_194_305, i32::MAX] {
            assert!(Pid::new(raw).is_err(), "{raw}");
        }
        assert!(Pid::new(getpid().as_raw()).is_err());
        assert!(Pid::new(getppid().as_raw()).is_err());
        assert_eq!(Pid::new(4_194_304).map(Pid::get), Ok(4_194_304));
    }

    #[test]
    fn endings_read_as_the_spec_words_them() {
        assert_eq!(Ended::Code(3).to_string(), "exited with status 3");
        assert_eq!(
            Ended::Signal(9, false).to_string(),
            "killed by signal 9 (SIGKILL)"
        );
        assert_eq!(
            Ended::Signal(11, true).to_string(),
            "killed by signal 11 (SIGSEGV, core dumped)"
        );
    }

    #[test]
    fn kernel_threads_are_flagged() {
        let kthread = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0";
        assert!(parse_stat(kthread).unwrap().is_kernel_thread());
        let user = b"77 (sh) S 1 77 77 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 9 0 0";
        assert!(!parse_stat(user).unwrap().is_kernel_thread());
    }

    /// Regression (issue 11): from a time namespace with a boottime offset the kernel shows
    /// start times shifted by it; rdaemon compares them as the initial namespace counts them.
    #[test]
    fn start_times_are_normalised_by_the_boottime_offset() {
        let text = "monotonic        1000         0\nboottime         1000         0\n";
        let offset = parse_boottime_offset(text).unwrap();
        assert_eq!(offset, 1_000_000_000_000);
        let tick = 10_000_000; // USER_HZ 100
        assert_eq!(normalise_start_time(176_033, offset, tick), 76_033);
        assert_eq!(normalise_start_time(500, 0, tick), 500);
        assert_eq!(normalise_start_time(500, -2_000_000_000, tick), 700);
        assert_eq!(parse_boottime_offset("monotonic 5 0\n"), Some(0));
        assert_eq!(parse_boottime_offset("boottime x 0\n"), None);
    }

    #[test]
    fn rdaemons_ancestors_are_protected() {
        // The test binary plays rdaemon: its parent is refused by `Pid::new`, its
        // grandparent (and further up) by `refuse_protected`.
        let parent = read_stat_raw(getppid().as_raw()).unwrap();
        if let Ok(grandparent) = Pid::new(parent.ppid) {
            let why = refuse_protected(grandparent).unwrap().unwrap();
            assert!(why.contains("ancestor of rdaemon"), "{why}");
        }
        let child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let mut child = scopeguard(child);
        let pid = Pid::new(child.0.id() as i32).unwrap();
        assert_eq!(refuse_protected(pid).unwrap(), None);
        let _ = child.0.kill();
    }

    fn read_stat_raw(pid: i32) -> Option<ProcStat> {
        stat_at(&format!("/proc/{pid}/stat")).unwrap()
    }

    /// Kills and reaps a child when dropped, also when the test fails.
    struct Guard(std::process::Child);

    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn scopeguard(child: std::process::Child) -> Guard {
        Guard(child)
    }

    #[test]
    fn a_socket_made_here_is_in_rdaemons_network_namespace() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(socket_in_own_netns(listener.as_fd()), Some(true));
    }

    #[test]
    fn boot_id_is_a_uuid() {
        assert_eq!(boot_id().unwrap().len(), 36);
    }
}

/// Property tests (issue 8): a stat line with any command name parses back to its fields, and
/// no content makes `parse_stat` panic.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// A `/proc/PID/stat` line as the kernel writes it, with `stat`'s fields in their places.
    fn stat_line(pid: i32, comm: &[u8], stat: &ProcStat, tty: i32) -> Vec<u8> {
        let mut line = format!("{pid} (").into_bytes();
        line.extend_from_slice(comm);
        line.extend_from_slice(
            format!(
                ") {} {} {} {} {tty} -1 {} 100 0 0 0 1 2 0 0 20 0 {} 0 {} 1000 10 18446744073709551615\n",
                stat.state, stat.ppid, stat.pgrp, stat.session, stat.flags, stat.threads, stat.start_time
            )
            .as_bytes(),
        );
        line
    }

    proptest! {
        #[test]
        fn stat_round_trips(
            pid in 1..=PID_MAX_LIMIT as i32,
            comm in prop::collection::vec(any::<u8>(), 0..=16),
            state in prop::sample::select(b"RSDZTtXxIPKW".to_vec()),
            ppid in any::<i32>(),
            pgrp in any::<i32>(),
            session in any::<i32>(),
            start_time in any::<u64>(),
            tty in any::<i32>(),
            flags in any::<u32>(),
            threads in 1..=u64::from(u32::MAX),
        ) {
            let flags = u64::from(flags);
            let stat =
                ProcStat { state: char::from(state), ppid, pgrp, session, start_time, flags, threads };
            prop_assert_eq!(parse_stat(&stat_line(pid, &comm, &stat, tty)), Some(stat));
        }

        #[test]
        fn stat_parse_never_panics(raw in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..128),
            "[0-9a-z() -]{0,80}".prop_map(String::into_bytes),
        ]) {
            if let Some(stat) = parse_stat(&raw) {
                prop_assert!(!stat.state.is_ascii_whitespace());
            }
        }
    }
}
