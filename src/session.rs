//! The daemon's session (SPEC §3.1, exec mode): rdaemon made it with `setsid` in the double
//! fork, so every process whose session id (field 6 of `/proc/PID/stat`) is the daemon's
//! belongs to the daemon, even after the main process died and even in another process group.
//! This module owns the one scan of `/proc` ([`scan`], also what `--ready tcp:` uses to find the
//! daemon's sockets), decides which session id may be trusted ([`Session::of`]), counts the
//! leftovers, and stops them on the stop schedule ([`sweep`]).
//!
//! **When a session id is trusted.** The session id is the pid of the intermediate process of
//! the double fork, which called `setsid` and exited at once; `start` records it (`session` in
//! the record) while the daemon waits for its exec. The kernel keeps a pid number allocated
//! while any process uses it as a pid, process group or session id, so while one member of the
//! session lives no other session can get that id, and no process can get that pid. Once every
//! member is gone the number can be reused: a new process gets it as its pid and may call
//! `setsid`, making a stranger's session with the same id. So a session counts as the daemon's
//! only when:
//! - the record's boot id is this boot's (ids do not survive a reboot) and its start time known;
//! - no process has the session id as its pid: the daemon's session leader exited at start, so
//!   a live (or zombie) leader means another session that reused the id;
//! - `start` recorded it: a `--foreground` daemon keeps its caller's session, whose other
//!   members are the caller's (once the caller's leader has exited, nothing else would tell
//!   them apart), and a record written before `session` existed says nothing; neither has a
//!   session to sweep;
//! - it is neither rdaemon's own session nor led by the main process — except
//!   for a `--forking` program whose main process made the session itself and leads it: every
//!   member descends from it, and a process with the session's id must be that main process
//!   (its start time, alive or a zombie) or none at all;
//!
//! and a process counts as a member only when it is alive, in that session, started no earlier
//! than the daemon (a member is forked from the daemon or another member), and is neither
//! rdaemon, its parent, one of its ancestors nor a kernel thread. Those rules cannot tell the
//! daemon's session from a stranger's that reused the id after every member died *and* whose
//! own leader has exited (a program that daemonizes itself the same way, another rdaemon
//! daemon). The session's identity can ([`identity`], `session_inode` in the record): where
//! the kernel finds pids by their pidfs inode (Linux 6.13), the session is the daemon's only
//! while the pid `start` saw as its leader still exists, which it does exactly as long as a
//! member lives. Without it (an older kernel), that case remains, the same class of risk as
//! pid reuse, documented in docs/safety.md.
//!
//! A descendant that calls `setsid` itself leaves the session. While it still descends from the
//! main process (or a respawn monitor, its subreaper), [`hold_descendants`] holds it for the
//! sweep; once a double fork took it out of that tree, only a cgroup catches it.
//!
//! Must not: signal anything outside the session so judged, or wait on a fixed tick where a
//! pidfd can be polled.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;

use crate::parse::Step;
use crate::process::{self, Pid, ProcStat, Process};
use crate::state::Record;

/// Every pid in `/proc`, ascending.
pub fn all_pids() -> Vec<i32> {
    let mut pids: Vec<i32> = fs::read_dir("/proc")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    pids
}

/// One process as a scan of `/proc` saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its pid.
    pub pid: i32,
    /// Its `/proc/PID/stat`, start time normalised as [`process::stat`] gives it.
    pub stat: ProcStat,
}

/// One pass over `/proc`: every process that could be read, ascending by pid. A process that
/// vanished meanwhile is simply not there.
pub fn scan() -> Vec<Entry> {
    all_pids()
        .into_iter()
        .filter_map(|pid| {
            let stat = process::stat_of(pid).ok().flatten()?;
            Some(Entry { pid, stat })
        })
        .collect()
}

/// The daemon's processes for readiness: `daemon` itself, every member of its session, and
/// every descendant of `daemon` (also one that left the session with `setsid`), from one scan.
pub fn daemon_processes(daemon: Pid) -> Vec<i32> {
    daemon_processes_in(daemon.get(), &scan())
}

/// [`daemon_processes`] in a scan already made.
pub fn daemon_processes_in(daemon: i32, table: &[Entry]) -> Vec<i32> {
    processes_of(daemon, table, true)
}

/// The daemon's processes in `table`: `daemon`, its descendants and, if `with_session`, every
/// member of its session. Without: a `--foreground` daemon, which keeps its caller's session
/// (no `session` in its record), whose other members are the caller's, not the daemon's.
pub fn processes_of(daemon: i32, table: &[Entry], with_session: bool) -> Vec<i32> {
    let Some(session) = table
        .iter()
        .find(|e| e.pid == daemon)
        .map(|e| e.stat.session)
    else {
        return Vec::new();
    };
    let mut parents: HashMap<i32, i32> = HashMap::new();
    let mut members = Vec::new();
    for e in table {
        if e.pid == daemon || (with_session && e.stat.session == session) {
            members.push(e.pid);
        } else {
            parents.insert(e.pid, e.stat.ppid);
        }
    }
    // Descendants outside the session: walk each one's parents up to the daemon.
    for &pid in parents.keys() {
        let mut at = pid;
        for _ in 0..64 {
            match parents.get(&at) {
                Some(&parent) if parent == daemon || members.contains(&parent) => {
                    members.push(pid);
                    break;
                }
                Some(&parent) => at = parent,
                None => break,
            }
        }
    }
    members.sort_unstable();
    members
}

/// The live descendants of `root` (not `root` itself, no zombies), however deep: what a
/// subreaper (the respawn monitor) holds, escaped ones (`setsid`, double fork) included. Found
/// by following the kernel's list of each thread's children (`/proc/PID/task/TID/children`)
/// down from `root`: the cost grows with the daemon's processes, not with everyone's (a scan
/// reads every process's `stat`). Where the kernel keeps no such lists (built without
/// `CONFIG_PROC_CHILDREN`), a scan.
///
/// The lists are read by pid. A process's list counts only if the process still has its start
/// time once the list is read (its pid was not taken by another since its `stat` was), and a
/// process listed counts only if its `stat` still names that parent. Whether `root` itself was
/// the caller's process all along is the caller's to check (a pidfd that has not exited). A
/// process forked while the walk runs can be missed, as a scan can miss it.
pub fn descendants_of(root: i32) -> Vec<Entry> {
    descendants_of_pruned(root, |_| false)
}

/// [`descendants_of`], without the processes for which `prune` holds and everything beneath
/// them.
pub fn descendants_of_pruned(root: i32, prune: impl Fn(&Entry) -> bool) -> Vec<Entry> {
    if !children_listed() {
        return descendants_pruned(root, &scan(), prune);
    }
    // The calling process is itself for as long as it runs: no start time to check (two reads
    // of `/proc/PID/stat` fewer for every `start`'s `forking::begin_launch`).
    let own = root == std::process::id() as i32;
    let root_started = match own {
        true => 0,
        false => match process::stat_of(root) {
            Ok(Some(stat)) => stat.start_time,
            _ => return Vec::new(),
        },
    };
    let mut out = Vec::new();
    let mut todo = vec![(root, root_started)];
    let mut seen = HashSet::from([root]);
    while let Some((parent, started)) = todo.pop() {
        let children = children_of(parent);
        let same = (own && parent == root)
            || process::stat_of(parent)
                .ok()
                .flatten()
                .is_some_and(|stat| stat.start_time == started);
        if !same {
            continue;
        }
        for pid in children {
            if !seen.insert(pid) {
                continue;
            }
            let Ok(Some(stat)) = process::stat_of(pid) else {
                continue;
            };
            let entry = Entry { pid, stat };
            if entry.stat.ppid != parent || prune(&entry) {
                continue;
            }
            todo.push((pid, entry.stat.start_time));
            if entry.stat.is_alive() && !entry.stat.is_kernel_thread() {
                out.push(entry);
            }
        }
    }
    out.sort_unstable_by_key(|e| e.pid);
    out
}

/// Whether the kernel lists each thread's children in `/proc` (`CONFIG_PROC_CHILDREN`), as seen
/// for rdaemon's own thread, once.
fn children_listed() -> bool {
    static LISTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *LISTED.get_or_init(|| std::path::Path::new("/proc/thread-self/children").exists())
}

/// The children of `pid`: those of each of its threads (a child belongs to the thread that
/// forked it, or that it was re-parented to). None once it is gone.
pub(crate) fn children_of(pid: i32) -> Vec<i32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut children = Vec::new();
    for task in tasks.flatten() {
        if let Ok(list) = process::read_text(task.path().join("children")) {
            children.extend(
                list.split_ascii_whitespace()
                    .filter_map(|w| w.parse::<i32>().ok()),
            );
        }
    }
    children
}

/// The live descendants of `root` in `table`, a scan of `/proc` (not `root` itself, no
/// zombies), however deep, without the processes for which `prune` holds and everything
/// beneath them.
pub fn descendants_pruned(
    root: i32,
    table: &[Entry],
    prune: impl Fn(&Entry) -> bool,
) -> Vec<Entry> {
    let mut children: HashMap<i32, Vec<&Entry>> = HashMap::new();
    for e in table {
        children.entry(e.stat.ppid).or_default().push(e);
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    let mut seen = HashSet::new();
    while let Some(parent) = todo.pop() {
        for e in children.get(&parent).into_iter().flatten() {
            if e.pid != root && !prune(e) && seen.insert(e.pid) {
                todo.push(e.pid);
                if e.stat.is_alive() && !e.stat.is_kernel_thread() {
                    out.push((*e).clone());
                }
            }
        }
    }
    out.sort_unstable_by_key(|e| e.pid);
    out
}

/// A process held for a sweep besides the session's members: a descendant of a respawn monitor
/// that left the session (`setsid`), held by pidfd from before the monitor is signalled, so that
/// it can still be stopped once the monitor is gone and it has been re-parented elsewhere.
pub struct Held(Member);

impl Held {
    /// Sends it `sig` through its pidfd.
    pub fn signal(&self, sig: nix::sys::signal::Signal) -> nix::Result<()> {
        self.0.process.signal(sig)
    }

    /// Its pid while it lives; `None` once it has exited.
    pub fn live_pid(&self) -> Option<i32> {
        let process = &self.0.process;
        (!process.has_exited()).then(|| process.pid().get())
    }
}

/// Holds every live descendant of `root` outside `session` (all of them without one), each
/// verified by start time once its pidfd pins it. `root_start` is `root`'s start time: none of
/// its descendants (re-parented orphans of its children included) started before it, so a
/// process that did is not one, whatever the lists of children said.
pub fn hold_descendants(root: Pid, root_start: u64, session: Option<&Session>) -> Vec<Held> {
    hold(descendants_of(root.get()).into_iter().filter(|e| {
        e.stat.start_time >= root_start && session.is_none_or(|s| e.stat.session != s.sid)
    }))
}

/// SIGKILL to every live descendant of `monitor`, a respawn monitor (the child subreaper of all
/// of them), that started at clock tick `since` or later and is not among the `known` ones
/// (pid, start time) nor in the process group `group`, while the monitor lives: at `stop`'s
/// SIGKILL the monitor may still be waiting for what was started after `stop` held the daemon's
/// processes (what the last `--on-exit` command left), which would be PID 1's once the monitor
/// is killed. How many were sent it: none if the monitor exited during the walk, when its pid
/// could have named another process.
pub fn kill_descendants(
    monitor: &Process,
    since: u64,
    known: &[(i32, u64)],
    group: Option<Pid>,
) -> usize {
    let Some(stat) = process::read_stat(monitor.pid()) else {
        return 0;
    };
    let found: Vec<Entry> = descendants_of(monitor.pid().get())
        .into_iter()
        .filter(|e| {
            e.stat.start_time >= stat.start_time.max(since)
                && !known.contains(&(e.pid, e.stat.start_time))
                && group.is_none_or(|g| e.stat.pgrp != g.get())
        })
        .collect();
    // Alive now, so alive through the walk and the read before it.
    if monitor.has_exited() {
        return 0;
    }
    hold(found.into_iter())
        .iter()
        .filter(|member| member.signal(nix::sys::signal::Signal::SIGKILL).is_ok())
        .count()
}

/// Holds each of `entries` that rdaemon may signal, verified by start time once its pidfd pins
/// it.
pub fn hold(entries: impl Iterator<Item = Entry>) -> Vec<Held> {
    entries
        .filter(|e| {
            Pid::new(e.pid)
                .ok()
                .is_some_and(|pid| matches!(process::refuse_protected(pid), Ok(None)))
        })
        .filter_map(|e| {
            let process = Process::open_verified(Pid::new(e.pid).ok()?, e.stat.start_time)
                .ok()
                .flatten()?;
            Some(Held(Member {
                process,
                pgrp: e.stat.pgrp,
            }))
        })
        .collect()
}

/// The session id to record for a daemon just forked by the double fork (`stat` is its
/// `/proc/PID/stat`): `None` when it is not a new session (rdaemon's own), which then must never
/// be swept.
pub fn made_for(stat: &ProcStat) -> Option<i32> {
    let own = process::own_session().ok()?;
    (stat.session > 1 && stat.session != own).then_some(stat.session)
}

/// The identity of the session `sid` (its pidfs inode, [`Record::session_inode`]), read while
/// its number cannot name another: its leader is an unreaped child of rdaemon (`start`'s
/// intermediate process), or `member`, a process in it, is alive before and after the read.
/// `None` where the kernel could not later tell by it whether the session lives (no pidfs,
/// or no file handles on it: before Linux 6.13). Six system calls, the leader's own pidfd
/// serving to look its handle up: `start` reads it every time (issue 18).
pub fn identity(sid: i32, member: Option<&Process>) -> Option<u64> {
    let leader = Process::open(Pid::new(sid).ok()?).ok()?;
    let pidfd = leader.pidfd()?;
    let inode = process::pidfs_inode(pidfd)?;
    let found = process::open_pidfs_handle(pidfd, inode).is_ok();
    (found && member.is_none_or(|m| !m.has_exited())).then_some(inode)
}

/// A daemon's session, trusted by the rules of the module header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// The session id.
    pub sid: i32,
    /// Its pidfs inode, where `start` could read it: whether the session lives is then the
    /// kernel's word ([`process::pidfs_pid_exists`]).
    inode: Option<u64>,
    /// The daemon's start time: no member started earlier.
    not_before: u64,
    /// The main process, never counted among the leftovers.
    main: Option<i32>,
    /// A `--forking` program's main process made the session itself (`setsid`) and leads it.
    led_by_main: bool,
}

impl Session {
    /// The session of the daemon `record` describes: the one `start` recorded (`session`), the
    /// session rdaemon made for it. `None` when it recorded none (`--foreground`, which keeps
    /// its caller's session, and records written before the field existed) or the session id
    /// cannot be trusted; an error only when `/proc` cannot be read.
    pub fn of(record: &Record) -> io::Result<Option<Session>> {
        let (Some(not_before), Some(boot), Some(sid)) =
            (record.start_time, &record.boot_id, record.session)
        else {
            return Ok(None);
        };
        if *boot != process::boot_id()? {
            return Ok(None);
        }
        let session = Session {
            sid,
            inode: record.session_inode,
            not_before,
            main: record.pid,
            led_by_main: record.forking && record.session.is_some() && record.session == record.pid,
        };
        Ok(session.plausible()?.then_some(session))
    }

    /// The rules of the module header that do not depend on the member.
    fn plausible(&self) -> io::Result<bool> {
        if self.sid <= 1 || (Some(self.sid) == self.main && !self.led_by_main) {
            return Ok(false);
        }
        if self.sid == process::own_session()? {
            return Ok(false);
        }
        // Once every member is gone, the kernel frees the number and may give it to another
        // session, whose members no rule below could tell from the daemon's: where the session
        // has an identity, the kernel says whether this one still lives.
        if self
            .inode
            .is_some_and(|inode| process::pidfs_pid_exists(inode) == Some(false))
        {
            return Ok(false);
        }
        if self.led_by_main {
            // A `--forking` daemon's main process leads the session it made: every member
            // descends from it. A process with the session's id is that main process (alive or
            // a zombie) only if it has its start time; none at all: the rule below.
            if let Some(leader) = process::stat_of(self.sid)? {
                return Ok(leader.start_time == self.not_before);
            }
        }
        // The daemon's session leader exited at start: a process with that pid is another
        // session's leader (or the id was reused).
        Ok(process::stat_of(self.sid)?.is_none())
    }

    /// Whether the scanned process `e` is a leftover of the daemon: a live member of the
    /// session, started no earlier than the daemon, other than the main process.
    fn is_leftover(&self, e: &Entry) -> bool {
        e.stat.session == self.sid
            && e.stat.is_alive()
            && e.stat.start_time >= self.not_before
            && Some(e.pid) != self.main
            && !e.stat.is_kernel_thread()
            && Pid::new(e.pid)
                .ok()
                .is_some_and(|pid| matches!(process::refuse_protected(pid), Ok(None)))
    }

    /// The leftovers in one scan of `/proc`, ascending.
    pub fn leftovers(&self) -> Vec<Entry> {
        self.scan_leftovers(None).found
    }

    /// [`Session::leftovers`], and whether the session showed life the scan could not hold: a
    /// member that ended since `since` (clock ticks since boot: a zombie started then or later),
    /// or, where the session has an identity, the session still there with no process of it
    /// seen at all. So does a chain of processes each forking the next and exiting at once
    /// (helper-122's attack: one every 2 ms, each in a process group of its own): the scan met
    /// none of them alive, and `stop` said "stopped" while it ran on. The newest processes are
    /// looked at first, right after the listing, while one that lives a few milliseconds is
    /// still there.
    ///
    /// `getsid` is one system call per process, where reading `/proc/PID/stat` is three and
    /// costs the kernel a formatted page: with a thousand processes, 1 ms instead of 20, paid by
    /// every `stop` after the main process is gone (bench/, "stop"). Only the members of the
    /// session are read in full.
    pub fn scan_leftovers(&self, since: Option<u64>) -> Scan {
        if !matches!(self.plausible(), Ok(true)) {
            return Scan::default();
        }
        crate::fault::point("session-scan");
        let (mut seen, mut ended) = (false, false);
        let (mut found, mut zombies) = (Vec::new(), Vec::new());
        let listed = all_pids();
        crate::fault::point("session-listed");
        for pid in listed.into_iter().rev() {
            let sid = nix::unistd::getsid(Some(nix::unistd::Pid::from_raw(pid)));
            if !sid.is_ok_and(|sid| sid.as_raw() == self.sid) {
                continue;
            }
            seen = true;
            let Some(stat) = process::stat_of(pid).ok().flatten() else {
                continue;
            };
            let e = Entry { pid, stat };
            if self.is_leftover(&e) {
                found.push(e);
            } else if !e.stat.is_alive()
                && Some(pid) != self.main
                && e.stat.start_time >= self.not_before
            {
                zombies.push((pid, e.stat.start_time));
                ended |= since.is_some_and(|t| e.stat.start_time >= t);
            }
        }
        found.reverse();
        let hidden =
            !seen && (self.inode).is_some_and(|i| process::pidfs_pid_exists(i) == Some(true));
        let elusive = crate::fault::injected("session-elusive");
        Scan {
            found: self.still_itself(found),
            active: ended || hidden || elusive,
            zombies,
        }
    }

    /// `found`, members read in a scan that began with this session plausible, if it still is
    /// now; none if not. Its last member may have ended during the scan, and the number gone
    /// to a stranger's new session, whose members the scan then read as the daemon's
    /// (helper-89's review, 2026-12-03, with a debugger holding `stop` there). While the
    /// kernel still finds the session by its identity, the number was the daemon's for the
    /// whole scan: the kernel frees it only once no process is in the session, and a freed
    /// identity never comes back. A caller that pins what the scan found asks again once they
    /// are pinned ([`Sweeper::refresh`]).
    fn still_itself<T>(&self, found: Vec<T>) -> Vec<T> {
        match found.is_empty() || matches!(self.plausible(), Ok(true)) {
            true => found,
            false => Vec::new(),
        }
    }

    /// For a report (`status`, `list`) whose scan found no leftover in this session, still
    /// there: the leftovers a few more scans find while the session shows life none of them
    /// holds ([`Session::scan_leftovers`]), every [`ACTIVE_RESCAN`] for at most
    /// [`REPORT_LOOK`]. A chain of processes that fork and exit within milliseconds escaped
    /// one scan, and `status` of its dead daemon showed no leftovers while `stop` found them
    /// (docs/safety.md listed it as a limit). A quiet session costs one scan more; one the
    /// kernel cannot say lives by its pidfs identity, none: without one (kernels before 6.9),
    /// or without file handles on pidfs (before 6.13, or a seccomp filter refusing
    /// `open_by_handle_at`, as container runtimes' defaults do), every dead daemon's session
    /// is plausible, and `list` made a scan of `/proc` more for each of them.
    pub fn leftovers_still_showing_life(&self) -> Vec<i32> {
        if self
            .inode
            .is_none_or(|i| process::pidfs_pid_exists(i) != Some(true))
        {
            return Vec::new();
        }
        let until = std::time::Instant::now() + REPORT_LOOK;
        let mut since = process::boot_ticks().map(|t| t.saturating_sub(1));
        loop {
            let began = process::boot_ticks().map(|t| t.saturating_sub(1));
            let Scan { found, active, .. } = self.scan_leftovers(since);
            if !found.is_empty() || !active || std::time::Instant::now() >= until {
                return found.into_iter().map(|e| e.pid).collect();
            }
            since = began;
            std::thread::sleep(ACTIVE_RESCAN);
        }
    }

    /// The leftovers `table` (a [`scan`] made for a report, shared by every daemon that `list`
    /// shows) holds.
    pub fn leftovers_in(&self, table: &[Entry]) -> Vec<i32> {
        if !matches!(self.plausible(), Ok(true)) {
            return Vec::new();
        }
        table
            .iter()
            .filter(|e| self.is_leftover(e))
            .map(|e| e.pid)
            .collect()
    }
}

/// One scan of `/proc` for a session's leftovers ([`Session::scan_leftovers`]).
#[derive(Debug, Default)]
pub struct Scan {
    /// The live leftovers, ascending.
    pub found: Vec<Entry>,
    /// The session showed life the scan could not hold.
    pub active: bool,
    /// The members it read as zombies (the main process aside), ended but not yet reaped, each
    /// with its start time (a pid reused by another zombie is another).
    pub zombies: Vec<(i32, u64)>,
}

/// The sweep of `session` (if any) and of `held`, processes held besides its members
/// (see [`hold_descendants`]). An `interruptible` one (`stop`'s, which Ctrl-C ends) ends
/// early, before its next signal and during its waits, once an interrupting signal was caught
/// ([`crate::process::interrupted`]): what is still alive then is in `survivors`, and
/// `interrupted` says which signal came.
pub fn sweep(
    session: Option<Session>,
    held: Vec<Held>,
    schedule: &[Step],
    begun: Instant,
    signalled_group: Option<&GroupSignalled>,
    interruptible: bool,
) -> Result<Swept, (i32, Errno)> {
    let mut sweep = Sweeper {
        session,
        members: Vec::new(),
        group_signalled: signalled_group.cloned(),
        signalled: HashSet::new(),
        fresh: false,
        killed: false,
        interruptible,
        current: None,
        // A member started from a tick before now that has ended is a sign of life (a fork
        // chain's).
        scanned_at: process::boot_ticks().map(|t| t.saturating_sub(1)),
        active: false,
        rescan: false,
        zombies: None,
    };
    for Held(m) in held {
        sweep.members.push(m);
    }
    sweep.refresh();
    if sweep.members.is_empty() && !sweep.active && !sweep.rescan {
        return Ok(Swept::default());
    }
    let mut timeline = Timeline::new(schedule);
    while let Some(phase) = timeline.next(begun.elapsed()) {
        if let Some(sig) = sweep.interrupted() {
            sweep.refresh();
            return Ok(Swept {
                interrupted: Some(sig),
                ..sweep.outcome()
            });
        }
        if let Some((sig, _)) = phase.signal {
            sweep.deliver(sig)?;
        }
        if sweep.wait_all(begun + phase.until) {
            return Ok(sweep.outcome());
        }
    }
    sweep.refresh();
    // The last wait may have been the one an interrupt ended (`--no-kill`, `TERM/5`).
    Ok(Swept {
        interrupted: sweep.interrupted(),
        ..sweep.outcome()
    })
}

/// One phase of a sweep: send `signal` (with whether it is the schedule's first), then wait
/// until `until` after the start of the stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Phase {
    pub(crate) signal: Option<(Signal, bool)>,
    pub(crate) until: Duration,
}

/// The stop schedule as a sweep that starts late lives it (pure): the schedule runs from the
/// start of the stop, so a wait that has already ended when the sweep gets there is skipped,
/// and the signal before it is superseded by the next one (what was still alive at the
/// timeout gets SIGKILL at once). A last signal due after every wait ended is followed by the
/// schedule's last wait (5 s after SIGKILL by default), from now. `forever` repeats the
/// schedule; a cycle without a wait is not repeated. Also how `stop` lives it against a cgroup.
pub(crate) struct Timeline<'a> {
    schedule: &'a [Step],
    i: usize,
    /// The end of the waits so far, from the start of the stop.
    at: Duration,
    cycle_at: Duration,
    first: bool,
    pending: Option<(Signal, bool)>,
    done: bool,
}

impl<'a> Timeline<'a> {
    /// The schedule from the start of the stop.
    pub(crate) fn new(schedule: &'a [Step]) -> Timeline<'a> {
        Timeline {
            schedule,
            i: 0,
            at: Duration::ZERO,
            cycle_at: Duration::ZERO,
            first: true,
            pending: None,
            done: false,
        }
    }

    /// The next phase, `elapsed` into the stop; `None` at the end.
    pub(crate) fn next(&mut self, elapsed: Duration) -> Option<Phase> {
        while !self.done && self.i < self.schedule.len() {
            let step = self.schedule[self.i];
            self.i += 1;
            match step {
                Step::Signal(sig) => {
                    self.pending = Some((sig, self.first));
                    self.first = false;
                }
                Step::Wait(d) => {
                    self.at += d;
                    if self.at > elapsed {
                        return Some(Phase {
                            signal: self.pending.take(),
                            until: self.at,
                        });
                    }
                }
                Step::Forever if self.at == self.cycle_at => self.done = true,
                Step::Forever => {
                    self.cycle_at = self.at;
                    self.i = 0;
                }
            }
        }
        self.done = true;
        let signal = self.pending.take()?;
        let last_wait = self.schedule.iter().rev().find_map(|s| match s {
            Step::Wait(d) => Some(*d),
            _ => None,
        });
        Some(Phase {
            signal: Some(signal),
            until: elapsed + last_wait.unwrap_or(Duration::from_secs(5)),
        })
    }
}

/// The daemon's process group and the signals `stop`'s own schedule sent it (through the main
/// process's group): a sweep neither sends its members one of those again nor counts them as
/// leftovers it stopped, and still waits for them. A member that got SIGKILL with the group
/// and was still being torn down when the main process was seen gone was counted as "1
/// leftover process stopped (with SIGKILL)" on a busy machine (a test's `sleep 1` of a
/// TERM-ignoring shell, 2 runs in 3 of the whole suite).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupSignalled {
    pub group: i32,
    pub signals: Vec<Signal>,
}

impl GroupSignalled {
    /// Whether a member of process group `pgrp` got `sig` already.
    pub fn got(&self, pgrp: i32, sig: Signal) -> bool {
        self.group == pgrp && self.signals.contains(&sig)
    }
}

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    /// How many leftovers it stopped.
    pub stopped: usize,
    /// The leftovers still alive at the end of the schedule.
    pub survivors: Vec<i32>,
    /// Some needed SIGKILL: the schedule's first signal did not end them all.
    pub killed: bool,
    /// The sweep ended early, on this interrupting signal ([`crate::process::interrupted`]):
    /// `survivors` are the leftovers still alive then.
    pub interrupted: Option<Signal>,
    /// At the end, the session still showed life no scan could find: processes that fork and
    /// exit faster than `/proc` can be read ([`Session::scan_leftovers`]).
    pub elusive: bool,
}

/// A leftover being stopped: held by pidfd where the kernel allows.
struct Member {
    process: Process,
    pgrp: i32,
}

struct Sweeper {
    session: Option<Session>,
    members: Vec<Member>,
    /// The group `stop`'s schedule signalled itself, and with what.
    group_signalled: Option<GroupSignalled>,
    /// Every leftover the sweep sent a signal to: what it had to stop (SPEC §3), not a member
    /// of the group that got the first signal and was still exiting when the sweep began
    /// (user trial, 2026-12-02: a `sleep` of the stopped shell's group was sometimes counted).
    signalled: HashSet<i32>,
    /// `members` comes from a scan made since the last wait: no need to scan again.
    fresh: bool,
    /// SIGKILL was sent to a live leftover.
    killed: bool,
    /// An interrupting signal ends the sweep ([`sweep_interruptible`]).
    interruptible: bool,
    /// The last signal the sweep delivered: a leftover found while it waits gets it at once.
    current: Option<Signal>,
    /// When the last scan began (clock ticks since boot).
    scanned_at: Option<u64>,
    /// The last scan saw the session alive beyond what it found ([`Session::scan_leftovers`]):
    /// the sweep scans again every [`ACTIVE_RESCAN`] until it is quiet.
    active: bool,
    /// A member it held exited during the last scan, and may have forked a child the listing
    /// missed: the sweep waited for it, and with none left would have ended on that scan. It
    /// scans again, as while `active`; unlike `active`, not a sign of a chain it cannot catch
    /// (at the end, such an exit is one a stop or its interrupt just caused).
    rescan: bool,
    /// The zombies of the session the last scan read, by pid and start time (none before the
    /// first).
    zombies: Option<HashSet<(i32, u64)>>,
}

/// How often a sweep scans `/proc` again while the daemon's session shows life it has not
/// found ([`Sweeper::active`]): a process that forks and exits at once lives about this long.
const ACTIVE_RESCAN: Duration = Duration::from_millis(1);

/// How long a report looks for the leftovers of a session that shows life its first scan did
/// not find ([`Session::leftovers_still_showing_life`]).
const REPORT_LOOK: Duration = Duration::from_millis(50);

impl Sweeper {
    /// The interrupting signal that ends this sweep, if it is one that may be interrupted.
    fn interrupted(&self) -> Option<Signal> {
        crate::process::interrupted().filter(|_| self.interruptible)
    }

    /// One scan of `/proc`: adds the leftovers not yet held (verified by start time once the
    /// pidfd pins them) and drops the ones that have exited. How many of the members it held
    /// before: those after are new, unless some before them exited.
    fn refresh(&mut self) -> usize {
        // A clock tick (10 ms) before it: a process started just before the scan began may
        // have ended unseen, as one of a chain that forks every few milliseconds does.
        let began = process::boot_ticks().map(|t| t.saturating_sub(1));
        // The members alive as the scan begins: one that exits before it ends may have forked a
        // child the listing missed, as an unknown zombie may have.
        let alive = self
            .members
            .iter()
            .filter(|m| !m.process.has_exited())
            .count();
        let Scan {
            found,
            active,
            zombies,
        } = self
            .session
            .map(|s| s.scan_leftovers(self.scanned_at))
            .unwrap_or_default();
        self.scanned_at = began;
        // A member listed alive may have forked and exited before the scan read it: its child,
        // born after the listing, is not in it. A zombie this sweep has not seen before, of a
        // process it never held, is such a sign of life (the first scan's all are): one scan
        // more, at least. So is a member it held that exited during the scan (`rescan`, below).
        let new_zombie = zombies.iter().any(|z| {
            !self.signalled.contains(&z.0)
                && !self.members.iter().any(|m| m.process.pid().get() == z.0)
                && self.zombies.as_ref().is_none_or(|known| !known.contains(z))
        });
        self.zombies = Some(zombies.into_iter().collect());
        self.active = active || new_zombie;
        let mut new = Vec::new();
        for e in found {
            if self.members.iter().any(|m| m.process.pid().get() == e.pid) {
                continue;
            }
            let Ok(pid) = Pid::new(e.pid) else { continue };
            if let Ok(Some(process)) = Process::open_verified(pid, e.stat.start_time) {
                new.push(Member {
                    process,
                    pgrp: e.stat.pgrp,
                });
            }
        }
        // Pinned now: still the daemon's session, or none of them is its member.
        if let Some(session) = &self.session {
            new = session.still_itself(new);
        }
        self.members.retain(|m| !m.process.has_exited());
        let held = self.members.len();
        self.rescan = held < alive;
        new.retain(|m| !m.process.has_exited());
        self.members.extend(new);
        self.fresh = true;
        held
    }

    /// [`Sweeper::refresh`] while the sweep waits: what it finds gets the last signal
    /// delivered at once, as it would have had it been there then (a process that forks and
    /// exits would not wait for the next one).
    fn refresh_signalling(&mut self) {
        let held = self.refresh();
        let Some(sig) = self.current else {
            return;
        };
        for m in &self.members[held..] {
            if self.already_got(m, sig) {
                continue;
            }
            self.signalled.insert(m.process.pid().get());
            if m.process.signal(sig).is_ok() {
                self.killed |= sig == Signal::SIGKILL;
                if sig != Signal::SIGKILL {
                    let _ = m.process.signal(Signal::SIGCONT);
                }
            }
        }
    }

    /// Whether `m` is of the group `stop`'s schedule sent `sig` to already.
    fn already_got(&self, m: &Member, sig: Signal) -> bool {
        self.group_signalled
            .as_ref()
            .is_some_and(|g| g.got(m.pgrp, sig))
    }

    /// Sends `sig` (and SIGCONT) to every leftover, after a fresh scan, except members of the
    /// group that got it already ([`GroupSignalled`]).
    fn deliver(&mut self, sig: Signal) -> Result<(), (i32, Errno)> {
        if !self.fresh {
            self.refresh();
        }
        self.current = Some(sig);
        for m in &self.members {
            if self.already_got(m, sig) {
                continue;
            }
            // Counted whether or not it is gone by the time the signal would reach it.
            self.signalled.insert(m.process.pid().get());
            match m.process.signal(sig) {
                Ok(()) => self.killed |= sig == Signal::SIGKILL,
                Err(Errno::ESRCH) => {}
                Err(e) => return Err((m.process.pid().get(), e)),
            }
            if sig != Signal::SIGKILL && sig != Signal::SIGCONT {
                let _ = m.process.signal(Signal::SIGCONT);
            }
        }
        Ok(())
    }

    /// Waits until every leftover is gone (true) or `deadline` passes (false), or an
    /// interrupting signal was caught (false). Polls the pidfds all at once, with the
    /// [`crate::process::interrupt_fd`]; only leftovers without one are checked every few
    /// milliseconds.
    fn wait_all(&mut self, deadline: Instant) -> bool {
        let wake = crate::process::interrupt_fd().filter(|_| self.interruptible);
        loop {
            self.members.retain(|m| !m.process.has_exited());
            // Every known one is gone: one scan for any forked meanwhile; and again and
            // again while the session shows life the scans have not found.
            if self.members.is_empty() || self.active || self.rescan {
                self.refresh_signalling();
                if self.members.is_empty() && !self.active && !self.rescan {
                    return true;
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.interrupted().is_some() {
                return false;
            }
            self.fresh = false;
            let blind = self.members.iter().any(|m| m.process.pidfd().is_none());
            let slice = match (self.active || self.rescan, blind) {
                (true, _) => left.min(ACTIVE_RESCAN),
                (false, true) => left.min(Duration::from_millis(5)),
                (false, false) => left,
            };
            let mut fds: Vec<PollFd> = self
                .members
                .iter()
                .filter_map(|m| m.process.pidfd())
                .chain(wake)
                .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
                .collect();
            let ms = slice.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
            match poll(&mut fds, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                // poll itself failed (ENOMEM): fall back to checking every few milliseconds.
                Err(_) => std::thread::sleep(slice.min(Duration::from_millis(5))),
            }
            // `fds` borrows the members; which became readable is asked again above.
            drop(fds);
        }
    }

    fn outcome(&self) -> Swept {
        let survivors: Vec<i32> = self
            .members
            .iter()
            .filter(|m| !m.process.has_exited())
            .map(|m| m.process.pid().get())
            .collect();
        let survived = survivors
            .iter()
            .filter(|p| self.signalled.contains(p))
            .count();
        Swept {
            stopped: self.signalled.len() - survived,
            survivors,
            killed: self.killed,
            interrupted: None,
            elusive: self.active,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pid: i32, ppid: i32, session: i32, start_time: u64) -> Entry {
        Entry {
            pid,
            stat: ProcStat {
                state: 'S',
                ppid,
                pgrp: pid,
                session,
                start_time,
                flags: 0,
                threads: 1,
            },
        }
    }

    #[test]
    fn daemon_processes_are_its_session_and_its_descendants() {
        let table = vec![
            entry(100, 1, 99, 10),    // the daemon; its session leader 99 is gone
            entry(101, 100, 99, 11),  // a child in the session
            entry(102, 101, 102, 12), // a grandchild that called setsid
            entry(103, 102, 102, 13), // and its child
            entry(200, 1, 200, 5),    // a stranger
            entry(201, 200, 200, 6),
        ];
        assert_eq!(daemon_processes_in(100, &table), vec![100, 101, 102, 103]);
        assert_eq!(daemon_processes_in(300, &table), Vec::<i32>::new());
        // Without the session (`--foreground`): the daemon and its descendants only.
        assert_eq!(processes_of(101, &table, false), vec![101, 102, 103]);
        assert_eq!(processes_of(101, &table, true), vec![100, 101, 102, 103]);
    }

    #[test]
    fn descendants_are_the_whole_subtree_alive() {
        let mut zombie = entry(105, 100, 99, 15);
        zombie.stat.state = 'Z';
        let table = vec![
            entry(100, 1, 99, 10),    // the monitor
            entry(101, 100, 99, 11),  // its child
            entry(102, 100, 102, 12), // adopted, escaped with setsid
            entry(103, 102, 102, 13), // its child
            entry(104, 1, 104, 5),    // a stranger
            zombie,                   // an adopted zombie: dead
        ];
        let all = |root| descendants_pruned(root, &table, |_| false);
        let pids: Vec<i32> = all(100).iter().map(|e| e.pid).collect();
        assert_eq!(pids, [101, 102, 103]);
        assert!(all(104).is_empty());
    }

    /// A real tree: a shell with a child in its session and one that left it (`setsid`), each
    /// with a child of its own. Following the lists of children finds what a scan finds.
    #[test]
    fn the_walk_down_the_lists_of_children_finds_what_a_scan_finds() {
        use nix::sys::signal::{kill, Signal};
        /// The shell, and everything beneath it, killed by pid and reaped, also on a failure.
        struct Tree(std::process::Child);
        impl Drop for Tree {
            fn drop(&mut self) {
                let root = self.0.id() as i32;
                for e in descendants_pruned(root, &scan(), |_| false) {
                    let _ = kill(nix::unistd::Pid::from_raw(e.pid), Signal::SIGKILL);
                }
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let tree = Tree(
            std::process::Command::new("sh")
                .args([
                    "-c",
                    "sh -c 'sleep 60 & exec sleep 60' & \
                     setsid sh -c 'sleep 60 & exec sleep 60' & exec sleep 60",
                ])
                .spawn()
                .unwrap(),
        );
        let root = tree.0.id() as i32;
        let deadline = Instant::now() + Duration::from_secs(60);
        // Four sleeps beneath the shell (which became a sleep itself).
        let walked = loop {
            let found = descendants_of(root);
            if found.len() >= 4 || Instant::now() > deadline {
                break found;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let scanned = descendants_pruned(root, &scan(), |_| false);
        let pids = |v: &[Entry]| v.iter().map(|e| e.pid).collect::<Vec<_>>();
        assert_eq!(walked.len(), 4, "{walked:?}");
        assert_eq!(pids(&walked), pids(&scanned));
        let own = process::own_session().unwrap();
        let escaped = walked.iter().filter(|e| e.stat.session != own).count();
        assert_eq!(escaped, 2, "the setsid child and its child: {walked:?}");
    }

    #[test]
    fn a_pruned_process_takes_its_subtree_with_it() {
        // 101 (pruned) with its child 102 and grandchild 105; 103 with its child 104.
        let table = vec![
            entry(101, 100, 101, 1),
            entry(102, 101, 101, 1),
            entry(105, 102, 105, 9),
            entry(103, 100, 103, 5),
            entry(104, 103, 103, 6),
        ];
        let pids = |prune: &dyn Fn(&Entry) -> bool| -> Vec<i32> {
            descendants_pruned(100, &table, prune)
                .iter()
                .map(|e| e.pid)
                .collect()
        };
        assert_eq!(pids(&|e| e.pid == 101), [103, 104]);
        assert_eq!(pids(&|e| e.pid == 104), [101, 102, 103, 105]);
        assert_eq!(pids(&|_| false), [101, 102, 103, 104, 105]);
    }

    #[test]
    fn leftovers_are_live_members_started_after_the_daemon() {
        let session = Session {
            sid: 99,
            inode: None,
            not_before: 10,
            main: Some(100),
            led_by_main: false,
        };
        let own = std::process::id() as i32;
        assert!(session.is_leftover(&entry(4_000_001, 1, 99, 10)));
        assert!(
            !session.is_leftover(&entry(100, 1, 99, 10)),
            "the main process"
        );
        assert!(
            !session.is_leftover(&entry(4_000_002, 1, 98, 10)),
            "another session"
        );
        assert!(
            !session.is_leftover(&entry(4_000_003, 1, 99, 9)),
            "older than the daemon"
        );
        assert!(
            !session.is_leftover(&entry(own, 1, 99, 10)),
            "rdaemon itself"
        );
        let mut zombie = entry(4_000_004, 1, 99, 10);
        zombie.stat.state = 'Z';
        assert!(!session.is_leftover(&zombie), "a zombie is dead");
    }

    fn phases(schedule: &[Step], elapsed_ms: &[u64]) -> Vec<Option<Phase>> {
        let mut timeline = Timeline::new(schedule);
        elapsed_ms
            .iter()
            .map(|&ms| timeline.next(Duration::from_millis(ms)))
            .collect()
    }

    fn phase(signal: Option<(Signal, bool)>, until_ms: u64) -> Option<Phase> {
        Some(Phase {
            signal,
            until: Duration::from_millis(until_ms),
        })
    }

    #[test]
    fn a_sweep_lives_the_rest_of_the_schedule() {
        use Signal::{SIGKILL, SIGTERM};
        let ms = Duration::from_millis;
        let default = [
            Step::Signal(SIGTERM),
            Step::Wait(ms(10_000)),
            Step::Signal(SIGKILL),
            Step::Wait(ms(5_000)),
        ];
        // The main process went at once: TERM (the first signal), then KILL at the timeout.
        assert_eq!(
            phases(&default, &[5, 10_000, 15_000]),
            [
                phase(Some((SIGTERM, true)), 10_000),
                phase(Some((SIGKILL, false)), 15_000),
                None
            ]
        );
        // It took 12 s (it needed SIGKILL): the TERM phase is over, KILL now.
        assert_eq!(
            phases(&default, &[12_000, 15_000]),
            [phase(Some((SIGKILL, false)), 15_000), None]
        );
        // It outlived every wait: the last signal, then the last wait from now.
        assert_eq!(
            phases(&default, &[15_500, 20_500]),
            [phase(Some((SIGKILL, false)), 20_500), None]
        );
        let no_kill = [Step::Signal(SIGTERM), Step::Wait(ms(200))];
        assert_eq!(
            phases(&no_kill, &[0, 200]),
            [phase(Some((SIGTERM, true)), 200), None]
        );
        let forever = [Step::Signal(SIGTERM), Step::Wait(ms(100)), Step::Forever];
        assert_eq!(
            phases(&forever, &[0, 100, 200]),
            [
                phase(Some((SIGTERM, true)), 100),
                phase(Some((SIGTERM, false)), 200),
                phase(Some((SIGTERM, false)), 300)
            ]
        );
        let spinning = [Step::Signal(SIGTERM), Step::Forever];
        assert_eq!(
            phases(&spinning, &[0, 1]),
            [phase(Some((SIGTERM, true)), 5_000), None]
        );
    }

    #[test]
    fn a_schedule_without_a_first_signal_waits_until_its_kill_step() {
        use Signal::SIGKILL;
        let ms = Duration::from_millis;
        // `--main-only`'s rest of TERM/10/KILL/5: no signal before the timeout, then KILL (its
        // first signal).
        let rest = [
            Step::Wait(ms(10_000)),
            Step::Signal(SIGKILL),
            Step::Wait(ms(5_000)),
        ];
        assert_eq!(
            phases(&rest, &[5, 10_000, 15_000]),
            [
                phase(None, 10_000),
                phase(Some((SIGKILL, true)), 15_000),
                None
            ]
        );
        // The main process needed the KILL itself: the rest gets it at once.
        assert_eq!(
            phases(&rest, &[10_020, 15_000]),
            [phase(Some((SIGKILL, true)), 15_000), None]
        );
        // `--no-kill`: only waited for, once.
        assert_eq!(
            phases(&[Step::Wait(ms(200))], &[0, 200]),
            [phase(None, 200), None]
        );
    }

    #[test]
    fn an_untrusted_session_id_is_refused() {
        let me = process::read_own_stat().unwrap();
        let own = Session {
            sid: me.session,
            inode: None,
            not_before: 0,
            main: None,
            led_by_main: false,
        };
        assert!(!own.plausible().unwrap(), "rdaemon's own session");
        let led = Session {
            sid: 4242,
            inode: None,
            not_before: 0,
            main: Some(4242),
            led_by_main: false,
        };
        assert!(
            !led.plausible().unwrap(),
            "a session the main process leads"
        );
        // A session whose leader is alive (pid 1's, or this test's parent's) is another's.
        let leader = Session {
            sid: std::os::unix::process::parent_id() as i32,
            inode: None,
            not_before: 0,
            main: None,
            led_by_main: false,
        };
        assert!(!leader.plausible().unwrap());
        assert_eq!(
            made_for(&me),
            None,
            "rdaemon's own session is never recorded"
        );
    }
}
