//! `--forking` (SPEC §2.2): programs that daemonize themselves (nginx, `redis-server
//! --daemonize yes`, most init-script daemons). Once the program has been launched, `start` (or
//! the respawn monitor) waits here for the launched process to exit, then finds the process it
//! left behind: the one the program's own pidfile names, or, without one, the only one left.
//!
//! Identity, not trust: a pid is accepted only if the launch left that process behind, that is,
//! if it descends from the launch's root (for `start`, the keeper: a child subreaper of that
//! launch alone, `daemonize::spawn` with `keep`, which the orphans of daemons an earlier start
//! of the same command left are never re-parented to; for the monitor, the monitor itself),
//! not from what descended from it before the launch, and runs where and as whom the launch
//! runs (the daemon's cgroup, or the caller's without one; the launch's `--user`). A
//! pidfile naming pid 1, rdaemon itself or any other process fails the start and nothing is
//! signalled.
//! The pidfile is the program's, written as whatever user it runs as, so it is hostile: read
//! without following a symlink or blocking on a FIFO, bounded, one strict decimal
//! (`pidfile::read`), and never written or replaced here.
//!
//! Must not: signal a process that it did not find among the caller's descendants or the
//! cgroup's members; reap a process it may still hand back.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};

use crate::cgroup::Cgroup;
use crate::parse::{default_schedule, format_duration};
use crate::pidfile::{self, Content};
use crate::process::{self, Ended, Pid, ProcStat, Process};
use crate::session::{self, Entry};

/// Without `--pidfile`: how long the only process left must live on before it is taken for the
/// daemon. A program that daemonizes by a double fork leaves an intermediate process that exits
/// within microseconds; its child, re-parented to rdaemon, is the daemon.
pub const SETTLE: Duration = Duration::from_millis(100);

/// With an inotify watch on the pidfile's directory, a look anyway at this interval (a
/// directory made later, an event the watch cannot see).
const EVENT_FALLBACK: Duration = Duration::from_millis(250);

/// The process a forking program left behind, pinned by a pidfd (it is a descendant of the
/// caller, so its pid cannot be reused before the caller reaps it).
#[derive(Debug)]
pub struct Found {
    /// The daemon's main process.
    pub process: Process,
    /// Its `/proc/PID/stat` when it was accepted.
    pub stat: ProcStat,
}

/// The processes that descended from this rdaemon when the launch under way began, by pid
/// and start time: daemons that an earlier start of the same command (`resurrect`, `restart`
/// of several names) left as its children, this process being their child subreaper. Neither
/// they nor what they spawn are the launch's ([`launch_descendants`]): before, a `--forking`
/// start after another daemon's in one `resurrect` took both daemons for what it left, failed,
/// and stopped the other. Set by [`begin_launch`].
static EARLIER: std::sync::Mutex<Earlier> = std::sync::Mutex::new(Earlier {
    procs: Vec::new(),
    sessions: Vec::new(),
    user: None,
});

/// The hint for a pidfile that never appeared in `dir` while the processes a launch left
/// (`left`) run: that none of them may write there, each running as a user other than root
/// (by its filesystem ids) whose class of `dir`'s permission bits lacks write or search
/// ([`crate::fsx::dir_writable_by`]). `None`
/// when one of them may, or when it cannot be told.
fn unwritable_by(left: &[Entry], dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir).ok()?;
    let mut user = None;
    for e in left.iter().filter(|e| e.stat.is_alive()) {
        let status = process::read_text(format!("/proc/{}/status", e.pid)).ok()?;
        let ids = |field: &str| -> Vec<u32> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .map(|v| {
                    v.split_whitespace()
                        .filter_map(|x| x.parse().ok())
                        .collect()
                })
                .unwrap_or_default()
        };
        // Real, effective, saved, filesystem: the kernel checks access with the last.
        let creds = crate::daemonize::Credentials {
            uid: *ids("Uid:").get(3)?,
            gid: *ids("Gid:").get(3)?,
            groups: ids("Groups:"),
        };
        if creds.uid == 0 || crate::fsx::dir_writable_by(&meta, &creds) {
            return None;
        }
        let uid = creds.uid;
        user.get_or_insert(uid);
    }
    let uid = user?;
    let who = match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => format!("user '{}' (uid {uid})", u.name),
        _ => format!("uid {uid}"),
    };
    Some(format!(
        " (the program runs as {who}, who may not write in '{}' (mode {:03o}, owner uid {}): give it a pidfile in a directory it may write, or have it write the pidfile before it drops its privileges)",
        dir.display(),
        meta.mode() & 0o7777,
        meta.uid()
    ))
}

/// What descended from this rdaemon when the launch under way began ([`EARLIER`]).
#[derive(Clone)]
struct Earlier {
    /// Each process, by pid and start time.
    procs: Vec<(i32, u64)>,
    /// Their sessions but the caller's own: a process of one of them re-parented here later
    /// (an earlier daemon's orphan, whose parent died meanwhile) is not beneath them any more,
    /// but it is not the launch's either, whose processes are all in sessions made since (or,
    /// for a respawn monitor's program, in the monitor's own).
    sessions: Vec<i32>,
    /// The user the launch runs as, when it is not root: every process it forks has that real
    /// user id (a set-user-ID program keeps it; only one that makes itself root in full, as
    /// `su` does, would not).
    user: Option<u32>,
}

impl Earlier {
    fn now() -> Earlier {
        EARLIER.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether `e` is one of them (what is beneath it is not the launch's either).
    fn holds(&self, e: &Entry) -> bool {
        self.procs.contains(&(e.pid, e.stat.start_time))
    }

    /// Whether `e`, not beneath one of them, is in one of their sessions.
    fn shares_session(&self, e: &Entry) -> bool {
        self.sessions.contains(&e.stat.session)
    }

    /// Whether the process `pid` runs where the launch's processes run and as their user:
    /// in the daemon's cgroup (`members`) when it has one, else in the caller's cgroups. An
    /// earlier daemon's process re-parented here (`resurrect`, `restart a b`: an orphan of a
    /// server that detached a helper while this launch ran) is told from the launch's that
    /// way when that daemon has a cgroup or runs as another user; a daemon as another user
    /// can then neither name root's processes in its pidfile nor have them stopped with it.
    fn may_have_made(&self, pid: i32, members: Option<&[i32]>) -> bool {
        let placed = match (members, own_cgroups()) {
            (Some(members), _) => members.contains(&pid),
            (None, Some(own)) => {
                process::read_text(format!("/proc/{pid}/cgroup")).is_ok_and(|c| c == *own)
            }
            (None, None) => true,
        };
        placed
            && self
                .user
                .is_none_or(|uid| Pid::new(pid).is_ok_and(|p| process::real_uid(p) == Some(uid)))
    }
}

/// Notes what descends from this process now, just before a program is launched: a `--forking`
/// one, or any that `start` waits for (what it leaves if it exits before it is ready is then
/// told from what earlier launches of the same command left, [`launch_left`]). `user`: the
/// user the program runs as, if not rdaemon's own.
pub fn begin_launch(user: Option<u32>, helpers: &[i32]) {
    release();
    *HELPERS.lock().unwrap_or_else(|e| e.into_inner()) = helpers.to_vec();
    let found = session::descendants_of(own_pid());
    // Never the caller's own session: a respawn monitor launches its program in it, and its
    // helpers (an `--on-exit` command still running) would make the launch's own look earlier.
    let own = crate::process::own_session().ok();
    let mut sessions: Vec<i32> = found
        .iter()
        .map(|e| e.stat.session)
        .filter(|&sid| Some(sid) != own)
        .collect();
    sessions.sort_unstable();
    sessions.dedup();
    *EARLIER.lock().unwrap_or_else(|e| e.into_inner()) = Earlier {
        procs: found.iter().map(|e| (e.pid, e.stat.start_time)).collect(),
        sessions,
        user: user.filter(|&uid| uid != 0),
    };
}

/// The caller's own cgroups (`/proc/self/cgroup`): where a launch without a cgroup of its own
/// runs, and everything it forks. Read once, when first asked: only where a launch's leftovers
/// are looked for (a `--forking` program's, a failed start's), not by every `start`.
fn own_cgroups() -> Option<&'static String> {
    static OWN: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    OWN.get_or_init(|| process::read_text("/proc/self/cgroup").ok())
        .as_ref()
}

/// The live descendants of `root` (the caller, a child subreaper) that the launch under way
/// left: not beneath a process that descended from it before the launch, nor in the session of
/// one, and where and as whom the launch runs ([`Earlier::may_have_made`]; `members`: the
/// daemon's cgroup's, if it has one).
fn launch_descendants(root: i32, table: &[Entry], members: Option<&[i32]>) -> Vec<Entry> {
    let earlier = Earlier::now();
    descendants_made(root, table, &earlier, |pid| {
        earlier.may_have_made(pid, members)
    })
}

/// [`launch_descendants`] with the test of place and user given (`made`).
fn descendants_made(
    root: i32,
    table: &[Entry],
    earlier: &Earlier,
    made: impl Fn(i32) -> bool,
) -> Vec<Entry> {
    let mut found = session::descendants_pruned(root, table, |e| earlier.holds(e));
    found.retain(|e| !earlier.shares_session(e) && made(e.pid));
    found
}

/// The members of the daemon's cgroup, if it has one (none if they cannot be read).
fn members_of(cgroup: Option<&Cgroup>) -> Option<Vec<i32>> {
    cgroup.map(|cg| cg.procs().unwrap_or_default())
}

/// Whether nothing descended from the caller when the launch under way began: a lone `start`,
/// or the first daemon of a `restart a b` or `resurrect`. Only then is every process
/// re-parented to the caller during the launch the launch's: an earlier daemon's process that
/// left its session and was orphaned meanwhile (a server detaching a helper) is re-parented
/// here too, in a session of its own, and nothing tells it from the launch's.
pub fn launched_alone() -> bool {
    Earlier::now().procs.is_empty()
}

/// What the launch under way left that descends from the caller (its child subreaper) now,
/// found by following the lists of children down from it: [`launch_descendants`] without a
/// scan of `/proc`. For a program that exited before it was ready, what it forked and what
/// escaped its session (`setsid`, a double fork) has been re-parented here.
pub fn launch_left() -> Vec<Entry> {
    let earlier = Earlier::now();
    let mut found = session::descendants_of_pruned(root(), |e| earlier.holds(e));
    found.retain(|e| !earlier.shares_session(e) && earlier.may_have_made(e.pid, None));
    found
}

/// Whether the process `pid` (in `table`) was left behind by the launch: a live descendant of
/// `root` (the caller, a child subreaper) that the launch left ([`launch_descendants`]: in the
/// daemon's cgroup too, when it has one, whose `members` these are).
fn left_by_launch(pid: i32, root: i32, table: &[Entry], members: Option<&[i32]>) -> bool {
    let alive = table.iter().any(|e| e.pid == pid && e.stat.is_alive());
    alive
        && launch_descendants(root, table, members)
            .iter()
            .any(|e| e.pid == pid)
}

/// The pid of the calling process (rdaemon `start` or the monitor).
fn own_pid() -> i32 {
    std::process::id() as i32
}

/// How many processes the launch's keeper has reaped ([`reap_zombies`]).
static REAPED_COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// "The launch left nothing", believed only when two scans of `/proc` in a row found nothing
/// and the keeper reaped nothing since the first began: the keeper reaps an intermediate of a
/// double fork while a scan runs, and the scan may have read its child (now the keeper's)
/// under it, then found no trace of it.
#[derive(Default)]
struct Quiet {
    /// The keeper's count when the last scan that found nothing began.
    empty_since: Option<usize>,
}

impl Quiet {
    /// Given whether this scan found nothing, whether that is to be believed.
    fn confirms(&mut self, nothing: bool) -> bool {
        reap_zombies();
        let count = REAPED_COUNT.load(std::sync::atomic::Ordering::Relaxed);
        let confirmed = nothing && self.empty_since == Some(count);
        self.empty_since = nothing.then_some(count);
        confirmed
    }
}

/// The child subreaper of the `start --forking` launch under way ([`keep`]), if any.
static KEEPER: std::sync::Mutex<Option<crate::daemonize::Keeper>> = std::sync::Mutex::new(None);

/// What the keeper reaped, by pid, for [`launcher_ended`].
static REAPED: std::sync::Mutex<Vec<(i32, Ended)>> = std::sync::Mutex::new(Vec::new());

/// Makes `keeper`, the launch's own child subreaper (`daemonize::spawn` with `keep`), the
/// root of what the launch left: only what is beneath it is the launch's. Without one (the
/// respawn monitor, an exec-mode start), the caller is that root.
pub fn keep(keeper: crate::daemonize::Keeper) {
    *KEEPER.lock().unwrap_or_else(|e| e.into_inner()) = Some(keeper);
}

/// Ends the launch's keeper, once its daemon was adopted or what it left stopped: killed and
/// reaped, what still lives beneath it is re-parented to the caller (or init).
pub fn release() {
    // Without a keeper (exec mode, respawn), nothing to end: and no reaping, which would take
    // a daemon that exited at once from `start`'s wait before it could say how it ended.
    if KEEPER.lock().unwrap_or_else(|e| e.into_inner()).is_none() {
        return;
    }
    reap_zombies();
    let keeper = KEEPER.lock().unwrap_or_else(|e| e.into_inner()).take();
    drop(keeper);
    REAPED.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// The root of what the launch under way left: its keeper, else the caller.
fn root() -> i32 {
    KEEPER
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map_or_else(own_pid, |k| k.pid())
}

/// How the launcher `pid`, a child of the launch's keeper that has exited, ended: the keeper
/// reaps it and says so at once; `None` after `patience` without a word (or without a keeper:
/// the launcher is the caller's child, and reaped by it).
pub fn launcher_ended(pid: i32, patience: Duration) -> Option<Ended> {
    let until = Instant::now() + patience;
    loop {
        reap_zombies();
        if let Some(&(_, ended)) = REAPED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(p, _)| *p == pid)
        {
            return Some(ended);
        }
        let left = until.saturating_duration_since(Instant::now());
        let keeper = KEEPER.lock().unwrap_or_else(|e| e.into_inner());
        let fd = keeper.as_ref()?.reaped_fd();
        if left.is_zero() {
            return None;
        }
        let ms = left.as_millis().clamp(1, 100) as i32;
        let _ = poll(
            &mut [PollFd::new(fd, PollFlags::POLLIN)],
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        );
    }
}

/// Finds the daemon's main process once the launcher has exited, before `deadline`: the live
/// process `pidfile` names, when it was left by the launch; without a pidfile, the only process
/// left. An error says why not (the caller adds "cannot start NAME").
/// `stop`, readable, ends the wait with an error (`start`'s caught Ctrl-C: the caller looks).
pub fn find_main(
    pidfile: Option<&Path>,
    cgroup: Option<&Cgroup>,
    deadline: Instant,
    timeout: Duration,
    stop: Option<BorrowedFd<'_>>,
) -> Result<Found> {
    // What failed is told of this launch only (the monitor launches again and again).
    forget_failures();
    let found = match pidfile {
        Some(path) => from_pidfile(path, cgroup, deadline, timeout, false, stop),
        None => only_one_left(cgroup, deadline, timeout, false, stop),
    };
    // The daemon's parent, still an intermediate of a double fork about to exit: given a
    // moment to, so that it is reaped here.
    if let Some(parent) = found
        .as_ref()
        .ok()
        .filter(|f| f.stat.ppid != root())
        .and_then(|f| Pid::new(f.stat.ppid).ok())
        .and_then(|p| Process::open(p).ok())
    {
        let _ = parent.wait_exit(SETTLE.min(deadline.saturating_duration_since(Instant::now())));
    }
    // The intermediates of the launch that exited meanwhile: a zombie left to PID 1 (which
    // may reap late) with the session's id would make the session look like another's.
    reap_zombies();
    found
}

/// [`find_main`] for the respawn monitor: the process must also be the caller's child (the
/// monitor learns of its children's exits only), so a descendant that is not re-parented yet
/// (the child of a double fork's intermediate still exiting) is waited for.
pub fn find_child(
    pidfile: Option<&Path>,
    cgroup: Option<&Cgroup>,
    deadline: Instant,
    timeout: Duration,
) -> Result<Found> {
    // What failed is told of this launch only (the monitor launches again and again).
    forget_failures();
    let found = match pidfile {
        Some(path) => from_pidfile(path, cgroup, deadline, timeout, true, None),
        None => only_one_left(cgroup, deadline, timeout, true, None),
    };
    reap_zombies();
    found
}

/// `--pidfile PATH`: waits (inotify on the directory) until PATH names a process the launch
/// left behind. A process that the launch did not leave behind fails at once; anything else
/// (missing, empty, garbage, a dead pid: the program may not have written it yet) is waited
/// out until `deadline`.
fn from_pidfile(
    path: &Path,
    cgroup: Option<&Cgroup>,
    deadline: Instant,
    timeout: Duration,
    child_only: bool,
    stop: Option<BorrowedFd<'_>>,
) -> Result<Found> {
    let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).ok();
    let mut watching = false;
    let root = root();
    let mut quiet = Quiet::default();
    let shown = path.display();
    // Where the directory does not exist (yet), its nearest ancestor that does is watched
    // for its making: a wait for a `/run/NAME/` that a reboot took away looked every 10 ms,
    // each look a scan of every process (13 % of a core; user trial, 2026-12-03). Only the
    // making of the next level wakes the look: whatever else is made there (a busy `/tmp`)
    // is passed over (helper-99's review).
    let mut awaiting: Option<Awaited> = None;
    loop {
        // Twice at most: a directory made between the first try and the ancestor's watch
        // is then watched at once, not at the next fallback look (helper-99's review).
        for _ in 0..2 {
            if watching {
                break;
            }
            // Watch first, look after: nothing written in between is missed.
            let dir = path.parent().unwrap_or(Path::new("/"));
            watching = inotify.as_ref().is_some_and(|i| {
                let mask = AddWatchFlags::IN_CREATE
                    | AddWatchFlags::IN_MOVED_TO
                    | AddWatchFlags::IN_CLOSE_WRITE
                    | AddWatchFlags::IN_MODIFY
                    | AddWatchFlags::IN_ATTRIB
                    | AddWatchFlags::IN_ONLYDIR;
                i.add_watch(dir, mask).is_ok()
            });
            let ancestor = match watching {
                true => None,
                false => dir.ancestors().skip(1).find(|a| a.is_dir()),
            };
            let awaited = awaiting.as_ref().map(|a| a.dir.as_path());
            if let Some(i) = inotify.as_ref().filter(|_| ancestor != awaited) {
                if let Some(old) = awaiting.take() {
                    let _ = i.rm_watch(old.wd);
                }
                awaiting = ancestor.and_then(|a| Awaited::watch(i, a, dir));
            }
        }
        if let Some(i) = &inotify {
            while matches!(i.read_events(), Ok(events) if !events.is_empty()) {}
        }
        if stop.is_some_and(crate::process::fd_readable) {
            bail!("interrupted");
        }
        reap_zombies();
        // The scan first, the cgroup's members after: a process forked in between would be in
        // the scan and not among the members, and taken for one the launch did not leave
        // (seen in a full test run, 2026-12-03: a start failed naming the daemon's own pid).
        let table = session::scan();
        let members = members_of(cgroup);
        let members = members.as_deref();
        // What may explain a pidfile that never came, said after the time waited.
        let mut hint = String::new();
        let mut missing = false;
        let why = match pidfile::read(path, false) {
            Content::Missing => {
                missing = true;
                // The usual mistake: a path whose directory nothing creates.
                let dir = path.parent().unwrap_or(Path::new("/"));
                if dir.try_exists().is_ok_and(|exists| !exists) {
                    hint = format!(": its directory '{}' does not exist", dir.display());
                }
                format!("pidfile '{shown}' did not appear")
            }
            Content::Invalid(why) if final_problem(&why) => {
                // A symlink, a FIFO, pid 1, rdaemon itself: never what the program meant.
                bail!("pidfile '{shown}' is not usable: {why}; nothing was signalled")
            }
            Content::Invalid(why) => format!("pidfile '{shown}' is invalid: {why}"),
            Content::Valid { pid, .. } => {
                let raw = pid.get();
                let entry = table.iter().find(|e| e.pid == raw);
                let child = entry.is_some_and(|e| e.stat.ppid == root);
                let left = left_by_launch(raw, root, &table, members);
                if left {
                    match pin(pid)? {
                        Some(found) if child || !child_only => return Ok(found),
                        _ => {}
                    }
                }
                match entry {
                    Some(e) if e.stat.is_alive() && child_only && left => format!(
                        "pid {raw}, which pidfile '{shown}' names, is not the monitor's child (it must be re-parented to the monitor, which learns only of its children's exits)"
                    ),
                    Some(e) if e.stat.is_alive() => {
                        // Not the daemon's, and said so: left in place, it would be believed
                        // later, the classic way, by `status`, `signal` and `stop`, which then
                        // acted on that process (helper-100's audit, 2026-12-03).
                        let removed = match pidfile::remove_if_pid(path, pid) {
                            Ok(true) => "; the pidfile was removed",
                            _ => "",
                        };
                        bail!(
                            "pidfile '{shown}' names pid {raw}{}, which this start did not launch (it is not a process the program left behind); nothing was signalled{removed}",
                            comm(raw)
                        )
                    }
                    _ => format!("pidfile '{shown}' names pid {raw}, which is not running"),
                }
            }
        };
        let nothing = launch_descendants(root, &table, members).is_empty()
            && !has_zombie_child(root, &table)
            && members.is_none_or(|m| m.iter().all(|&pid| pid == root));
        if quiet.confirms(nothing) {
            bail!(
                "the program left no process running ({why}{hint}{})",
                what_died("")
            );
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            // The other usual mistake: the program runs, and wrote its pidfile where its own
            // configuration says (helper-112's trial: nginx's `pid` setting), not at --pidfile.
            // Or it runs as a user who may not write there (user trial, 2026-12-04: `memcached
            // -u nobody -P` with its pidfile in a directory of root's).
            if missing && hint.is_empty() && !nothing {
                let launched = launch_descendants(root, &table, members);
                hint = path
                    .parent()
                    .and_then(|dir| unwritable_by(&launched, dir))
                    .unwrap_or_else(|| " (the program runs: does it write its pidfile elsewhere? --pidfile must name the file its configuration names)".to_owned());
            }
            bail!("{why} within {}{hint}", format_duration(timeout));
        }
        let woken = watching || awaiting.is_some();
        let slice = match woken {
            true => EVENT_FALLBACK,
            false => Duration::from_millis(10),
        }
        .min(left);
        let until = Instant::now() + slice;
        // After events for other names in the ancestor, it is left unread for a while: a
        // directory where files come and go by the thousand would wake the wait for each.
        let mut resting_until: Option<Instant> = None;
        loop {
            let now = Instant::now();
            let resting = resting_until.filter(|&r| r > now);
            let wait = match resting {
                Some(r) => (r - now).min(until.saturating_duration_since(now)),
                None => until.saturating_duration_since(now),
            };
            let mut fds: Vec<PollFd> = inotify
                .iter()
                .filter(|_| woken && resting.is_none())
                .map(|i| PollFd::new(i.as_fd(), PollFlags::POLLIN))
                .chain(stop.map(|fd| PollFd::new(fd, PollFlags::POLLIN)))
                .collect();
            let ms = wait.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            let _ = poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            );
            // With the ancestor alone watched, an event for another name is no reason to look.
            let (Some(i), Some(a), false) = (&inotify, &awaiting, watching) else {
                break;
            };
            if Instant::now() >= until || stop.is_some_and(crate::process::fd_readable) || a.came(i)
            {
                break;
            }
            if resting.is_none() {
                resting_until = Some(Instant::now() + ANCESTOR_REST);
            }
        }
    }
}

/// How long the watch of a missing directory's ancestor is left unread after events for other
/// names than the one awaited ([`from_pidfile`]): at most as late as the 10 ms look it replaced.
const ANCESTOR_REST: Duration = Duration::from_millis(10);

/// The nearest existing ancestor of a pidfile's missing directory, watched for the making of
/// `next`, the level below it on the way.
struct Awaited {
    dir: PathBuf,
    wd: WatchDescriptor,
    next: std::ffi::OsString,
}

impl Awaited {
    /// Watches `ancestor` for entries made in it, the one awaited being the first level of
    /// `missing` below it.
    fn watch(inotify: &Inotify, ancestor: &Path, missing: &Path) -> Option<Awaited> {
        let next = missing
            .strip_prefix(ancestor)
            .ok()?
            .components()
            .next()?
            .as_os_str()
            .to_owned();
        let made =
            AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO | AddWatchFlags::IN_ONLYDIR;
        let wd = inotify.add_watch(ancestor, made).ok()?;
        Some(Awaited {
            dir: ancestor.to_path_buf(),
            wd,
            next,
        })
    }

    /// Reads the queued events: whether one says `next` was made (or events were lost, or the
    /// watch went with its directory), which is worth a look.
    fn came(&self, inotify: &Inotify) -> bool {
        let mut came = false;
        while let Ok(events) = inotify.read_events() {
            if events.is_empty() {
                break;
            }
            came |= events.iter().any(|e| {
                e.mask
                    .intersects(AddWatchFlags::IN_Q_OVERFLOW | AddWatchFlags::IN_IGNORED)
                    || (e.wd == self.wd && e.name.as_deref() == Some(self.next.as_os_str()))
            });
        }
        came
    }
}

/// Without `--pidfile`: the only live child of the caller (every orphan of the launch is
/// re-parented to it), once it has lived [`SETTLE`] (an intermediate of a double fork exits
/// within it, and its child takes its place). Several: an error asking for `--pidfile`.
fn only_one_left(
    cgroup: Option<&Cgroup>,
    deadline: Instant,
    timeout: Duration,
    child_only: bool,
    stop: Option<BorrowedFd<'_>>,
) -> Result<Found> {
    let root = root();
    let mut quiet = Quiet::default();
    loop {
        if stop.is_some_and(crate::process::fd_readable) {
            bail!("interrupted");
        }
        reap_zombies();
        // The scan first, the members after ([`from_pidfile`]).
        let table = session::scan();
        let members = members_of(cgroup);
        let live = launch_descendants(root, &table, members.as_deref());
        // The tops of what is left: re-parented to the caller, or (a scan racing an exit) the
        // child of an intermediate that is a zombie now.
        let candidates: Vec<i32> = live
            .iter()
            .filter(|e| !live.iter().any(|p| p.pid == e.stat.ppid))
            .map(|e| e.pid)
            .collect();
        if candidates.is_empty() {
            if has_zombie_child(root, &table) || !quiet.confirms(true) {
                // An intermediate died while the scan ran, perhaps before its child showed
                // in `/proc`: reaped at the top, then look again.
                continue;
            }
            bail!(
                "the program left no process running{}",
                what_died(" (a program that does not fork needs no --forking)")
            );
        }
        let processes: Vec<Process> = candidates
            .iter()
            .filter_map(|&pid| Process::open(Pid::new(pid).ok()?).ok())
            .collect();
        let refs: Vec<&Process> = processes.iter().collect();
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!(
                "no single process was left by the program within {}",
                format_duration(timeout)
            );
        }
        if !process::wait_any(&refs, Some(SETTLE.min(left)))?.is_empty() {
            // An intermediate exited: its children are ours now. Look again.
            continue;
        }
        if Instant::now() < deadline && candidates.len() == 1 {
            match pin(processes[0].pid())? {
                Some(found) if found.stat.ppid == root || !child_only => return Ok(found),
                _ => continue,
            }
        }
        if candidates.len() > 1 {
            let mut pids: Vec<String> = candidates
                .iter()
                .map(|p| format!("{p}{}", comm(*p)))
                .collect();
            pids.sort();
            bail!(
                "the program left {} processes behind ({}): give --pidfile PATH, the pidfile it writes, to say which one is the daemon",
                candidates.len(),
                pids.join(", ")
            );
        }
    }
}

/// Whether a reason of `pidfile::read` is final: not a pidfile being written (empty, partial)
/// but a symlink, a FIFO or a directory, or a pid rdaemon never accepts (0, 1, itself, its
/// parent).
fn final_problem(why: &str) -> bool {
    why.starts_with("it is a symlink")
        || why == "it is not a regular file"
        || why.contains("is not a pid rdaemon may signal")
        || why.contains("is rdaemon")
}

/// Whether `table` shows a child of `root` that has exited and is not reaped yet, of the
/// launch under way (not an earlier daemon of the same command, [`EARLIER`]).
fn has_zombie_child(root: i32, table: &[Entry]) -> bool {
    let earlier = Earlier::now();
    table.iter().any(|e| {
        e.stat.ppid == root && !e.stat.is_alive() && !earlier.holds(e) && !earlier.shares_session(e)
    })
}

/// Waits up to `slice` for the launcher to exit or `stop` to become readable; true if either
/// happened (the caller looks which).
pub fn wait_launcher(
    launcher: &Process,
    stop: Option<BorrowedFd<'_>>,
    slice: Duration,
) -> io::Result<bool> {
    let (Some(stop), Some(pidfd)) = (stop, launcher.pidfd()) else {
        return launcher.wait_exit(slice);
    };
    let mut fds = [
        PollFd::new(pidfd, PollFlags::POLLIN),
        PollFd::new(stop, PollFlags::POLLIN),
    ];
    let ms = slice.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    match poll(
        &mut fds,
        PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
    ) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(launcher.has_exited() || crate::process::fd_readable(stop))
}

/// Pins `pid` with a pidfd and reads its start time; `None` if it is gone meanwhile.
fn pin(pid: Pid) -> Result<Option<Found>> {
    let Some(stat) = process::stat(pid)?.filter(ProcStat::is_alive) else {
        return Ok(None);
    };
    Ok(Process::open_verified(pid, stat.start_time)?.map(|process| Found { process, stat }))
}

/// ` (nginx)`: a process's command name, for messages (its control characters shown
/// escaped); empty when unreadable.
fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| format!(" ({})", crate::parse::printable(c.trim_end())))
        .unwrap_or_default()
}

/// Reaps every child of the caller that has exited (intermediates of the launch), without
/// blocking. Only while no child's exit status matters: the launcher is reaped before.
/// What the launch's keeper reaped is told the same way.
pub fn reap_zombies() {
    let mut statuses = Vec::new();
    while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
        // A helper of the caller's is no process of the launch: its end is passed on, and
        // never taken for the launch's failure.
        if let (Some(pid), Some(ended)) = (status.pid(), Ended::of_wait(&status)) {
            if HELPERS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&pid.as_raw())
            {
                REAPED_HERE
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((pid.as_raw(), ended));
                continue;
            }
        }
        statuses.push(status);
    }
    let kept = KEEPER
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(|k| k.reaped())
        .unwrap_or_default();
    for (pid, status) in kept {
        REAPED_COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(ended) = Ended::of_wait(&status) {
            REAPED
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((pid, ended));
        }
        statuses.push(status);
    }
    for status in statuses {
        if let (Some(pid), Some(ended)) = (status.pid(), Ended::of_wait(&status)) {
            if ended != Ended::Code(0) {
                *LAST_FAILED.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((pid.as_raw(), ended));
            }
        }
    }
}

/// The caller's helpers under way when the launch began ([`begin_launch`]): a respawn
/// monitor's `--on-exit` and `--health cmd:` commands, its children too.
static HELPERS: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());

/// The [`HELPERS`] that [`reap_zombies`] reaped, and how each ended, until [`take_reaped`]
/// takes them: the monitor must hear of their end (helper-91's attack, 2026-12-03: a helper
/// reaped here stayed "under way" in the monitor, which later SIGKILLed its process group, by
/// then whoever had been given the number; and its failure was told as the launch's).
static REAPED_HERE: std::sync::Mutex<Vec<(i32, Ended)>> = std::sync::Mutex::new(Vec::new());

/// The helpers [`reap_zombies`] reaped since the last call ([`REAPED_HERE`]).
pub fn take_reaped() -> Vec<(i32, Ended)> {
    std::mem::take(&mut *REAPED_HERE.lock().unwrap_or_else(|e| e.into_inner()))
}

/// The last process of the launch that [`reap_zombies`] reaped after it failed (an exit
/// status other than 0, or a signal), for the error of a launch that left nothing running:
/// the program forked, and what it forked died (memcached's daemon, exit 71).
static LAST_FAILED: std::sync::Mutex<Option<(i32, Ended)>> = std::sync::Mutex::new(None);

/// Forgets what [`reap_zombies`] saw fail before this launch.
fn forget_failures() {
    *LAST_FAILED.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// What to say of a launch that left no process running: how the last process it forked
/// ended, when one failed; else `otherwise`.
fn what_died(otherwise: &str) -> String {
    match *LAST_FAILED.lock().unwrap_or_else(|e| e.into_inner()) {
        Some((pid, ended @ Ended::Code(_))) => format!("; pid {pid}, which it forked, {ended}"),
        Some((pid, ended)) => format!("; pid {pid}, which it forked, was {ended}"),
        None => otherwise.to_owned(),
    }
}

/// How many times [`stop_left`] looks again for what was forked after its first scan.
const MORE_SCANS: usize = 20;

/// After a failed launch: stops everything the launch left behind (the caller's descendants
/// that the launch left, [`launch_descendants`], and the members of the daemon's cgroup, unless
/// the caller is one: the monitor's holds the monitor too) on stop's default schedule, reaps
/// what was the caller's, and returns the pids it found to stop.
pub fn stop_left(cgroup: Option<&Cgroup>) -> Vec<i32> {
    // The scan first, the members after ([`from_pidfile`]).
    let table = session::scan();
    let members = members_of(cgroup);
    let launch = launch_descendants(root(), &table, members.as_deref());
    let mut found: Vec<i32> = launch.iter().map(|e| e.pid).collect();
    let whole = cgroup.filter(|_| members.as_ref().is_some_and(|m| !m.contains(&own_pid())));
    if let Some(procs) = members.clone().filter(|_| whole.is_some()) {
        found.extend(procs);
        found.sort_unstable();
        found.dedup();
    }
    let held = session::hold(launch.into_iter());
    let schedule = default_schedule(
        nix::sys::signal::Signal::SIGTERM,
        crate::spec::STOP_TIMEOUT,
        false,
    );
    let _ = session::sweep(None, held, &schedule, Instant::now(), None, false);
    // What was forked after the scan (a launcher forking in a loop, interrupted) is looked for
    // again, and killed, until a scan finds nothing: once all that forks is dead, what it
    // forked is re-parented beneath the root and found by the next scan. Bounded, in case
    // something keeps coming back.
    let kill = default_schedule(
        nix::sys::signal::Signal::SIGKILL,
        Duration::from_secs(5),
        true,
    );
    for _ in 0..MORE_SCANS {
        reap_zombies();
        let table = session::scan();
        let more = launch_descendants(root(), &table, members_of(cgroup).as_deref());
        if more.is_empty() {
            break;
        }
        found.extend(more.iter().map(|e| e.pid));
        let _ = session::sweep(
            None,
            session::hold(more.into_iter()),
            &kill,
            Instant::now(),
            None,
            false,
        );
    }
    if let Some(cg) = whole {
        if matches!(cg.populated(), Ok(true)) {
            let _ = cg.kill();
            let _ = cg.wait_empty(Duration::from_secs(5));
        }
    }
    reap_zombies();
    found.sort_unstable();
    found.dedup();
    found
}

/// The hint for a program run without `--forking` that exited 0 leaving processes behind, as
/// one that puts itself in the background does (`redis-server --daemonize yes`, `memcached
/// -d`): `if WHO puts itself in the background, start it with --forking`. The one wording of
/// `start`'s error, `status` and the monitor's log line.
pub fn background_hint(who: &str) -> String {
    format!("if {who} puts itself in the background, start it with --forking")
}

/// How the launcher ended, for an error: `the program exited with status 3`.
pub fn describe_launcher(ended: Ended) -> String {
    match ended {
        Ended::Code(_) => format!("the program {ended}"),
        Ended::Signal(..) => format!("the program was {ended}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pid: i32, ppid: i32, state: char) -> Entry {
        Entry {
            pid,
            stat: ProcStat {
                state,
                ppid,
                pgrp: pid,
                session: pid,
                start_time: 1,
                flags: 0,
                threads: 1,
            },
        }
    }

    #[test]
    fn only_what_the_launch_left_is_accepted() {
        // 100 is rdaemon; 101 was re-parented to it; 102 is 101's child; 103 a double fork's
        // daemon still under its exiting intermediate 104 (a zombie); 200 a stranger.
        let table = [
            entry(100, 1, 'S'),
            entry(101, 100, 'S'),
            entry(102, 101, 'S'),
            entry(104, 100, 'Z'),
            entry(103, 104, 'S'),
            entry(200, 1, 'S'),
            entry(201, 200, 'S'),
        ];
        let earlier = Earlier {
            procs: Vec::new(),
            sessions: Vec::new(),
            user: None,
        };
        let left = |pid, made: &dyn Fn(i32) -> bool| {
            table.iter().any(|e| e.pid == pid && e.stat.is_alive())
                && descendants_made(100, &table, &earlier, made)
                    .iter()
                    .any(|e| e.pid == pid)
        };
        for pid in [101, 102, 103] {
            assert!(left(pid, &|_| true), "{pid}");
        }
        for pid in [1, 100, 104, 200, 201, 999] {
            assert!(!left(pid, &|_| true), "{pid}");
        }
        // Re-parented here but elsewhere than the launch runs, or as another user: another
        // daemon's (`resurrect`), not the launch's.
        assert!(!left(101, &|pid| pid != 101));
        assert!(left(102, &|pid| pid != 101));
        assert!(has_zombie_child(100, &table));
        assert!(!has_zombie_child(200, &table));
    }

    #[test]
    fn final_problems_fail_at_once_and_a_pidfile_being_written_is_waited_for() {
        for why in [
            "it is a symlink, and rdaemon does not follow symlinks at a pidfile path",
            "it is not a regular file",
            "1 is not a pid rdaemon may signal",
            "pid 4242 is rdaemon itself",
            "pid 4241 is rdaemon's parent",
        ] {
            assert!(final_problem(why), "{why}");
        }
        // `pidfile::read`'s own words for a file caught while it is written.
        for why in [
            crate::parse::parse_pid_content(b"")
                .unwrap_err()
                .to_string(),
            crate::parse::parse_pid_content(b"12")
                .map(|_| String::new())
                .unwrap_or_default(),
            crate::parse::parse_pid_content(b"12a")
                .unwrap_err()
                .to_string(),
            "cannot read it: Interrupted system call".to_owned(),
        ] {
            assert!(!final_problem(&why), "{why}");
        }
    }
}
