//! The record (`DIR/NAME.json`): everything needed to recognise and re-run a daemon. Saved
//! atomically (a `.new` file and `rename`, as s6 does), it survives `stop` and goes only with
//! `forget`.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use serde::{Deserialize, Serialize};

use crate::parse::Name;
use crate::paths::Ctx;
use crate::pidfile::os_error;
use crate::process::{Ended, Pid};

/// How a daemon runs: the program itself, or under an rdaemon monitor (`--respawn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// rdaemon execs the program; the pidfile holds its pid.
    #[default]
    Exec,
    /// A monitor restarts the program; the pidfile holds the monitor's pid.
    Respawn,
    /// `--forking` in exec mode, as `status --json` shows it: the program daemonized itself
    /// and rdaemon adopted the process it left. Spec files say `exec` and `"forking": true`.
    Forking,
}

/// How a program ended ([`Ended`], the one enum for it), as the status file and `status --json`
/// keep it: `{"code": N}` or `{"signal": N}`, with when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LastExit {
    /// Exit status, when it exited.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub code: Option<i32>,
    /// Signal number, when a signal killed it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signal: Option<i32>,
    /// When (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub at: Option<String>,
    /// Why the monitor stopped it, when it did (`--health`, `--watchdog`): then that is what
    /// `status` shows, rather than the signal it died of.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<StopReason>,
}

/// A respawn monitor's `--health` checks failing now, counted toward a restart: what `status`
/// shows while the program still runs (helper-101's trial: nothing did until the restart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthFailing {
    /// Checks failed in a row.
    pub failures: u32,
    /// `--health-retries`: as many in a row stop and restart the program.
    pub retries: u32,
    /// Why the last one failed.
    pub last: String,
}

/// Why a respawn monitor stopped its program itself (to restart it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StopReason {
    /// `--health` failed `--health-retries` times in a row.
    Unhealthy,
    /// No `WATCHDOG=1` within `--watchdog`.
    Watchdog,
}

impl StopReason {
    /// `unhealthy` / `watchdog`, as `status` says it (SPEC §6).
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Unhealthy => "unhealthy",
            StopReason::Watchdog => "watchdog",
        }
    }
}

/// What a program said of itself over the notify socket (sd_notify(3)), kept in the status by
/// its respawn monitor (SPEC §6); all empty in exec mode, where the socket ends with `start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NotifyStatus {
    /// Its state: `starting` (no `READY=1` yet since it was last started), `ready`,
    /// `reloading` (`RELOADING=1`, until `READY=1`) or `stopping` (`STOPPING=1`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub notify_state: Option<NotifyState>,
    /// How many reloads it completed (`RELOADING=1` then `READY=1`): `reload` waits for this
    /// to grow.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub reloads: u64,
    /// `MAINPID=`: the process it named as its main one (accepted only for a descendant of the
    /// monitor).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub main_pid: Option<i32>,
    /// The start time of `main_pid` when it was named (`/proc/PID/stat`, field 22): `status`
    /// shows `main_pid` only while that process lives, never a reused pid.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub main_pid_start: Option<u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The program's state as it last told it over the notify socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyState {
    /// Started, no `READY=1` yet.
    Starting,
    /// `READY=1`.
    Ready,
    /// `RELOADING=1`, no `READY=1` since.
    Reloading,
    /// `STOPPING=1`.
    Stopping,
}

impl NotifyState {
    /// The word of the status file.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyState::Starting => "starting",
            NotifyState::Ready => "ready",
            NotifyState::Reloading => "reloading",
            NotifyState::Stopping => "stopping",
        }
    }
}

/// What the user wants of a daemon, kept in its spec: `running` from `start` (and `restart`),
/// `stopped` from `stop`. A daemon wanted running that is not is `dead`; `resurrect` starts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Wanted {
    /// Started by the user, to be kept running (and started again by `resurrect`).
    #[default]
    Running,
    /// Stopped by the user.
    Stopped,
}

/// The spec file `DIR/NAME.json`: what to run and whether it is wanted running. Written only by
/// user verbs under the name's lock (docs/json.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SpecFile {
    name: Name,
    pidfile: PathBuf,
    command: Vec<String>,
    chdir: PathBuf,
    umask: String,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    group: Option<String>,
    stdout: PathBuf,
    stderr: PathBuf,
    #[serde(default)]
    mode: Mode,
    #[serde(default, skip_serializing_if = "is_false")]
    forking: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    program_pidfile: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    foreground: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    inherited_output: bool,
    #[serde(default = "default_ready")]
    ready: String,
    #[serde(default, with = "crate::parse::duration_text::option")]
    ready_timeout: Option<Duration>,
    #[serde(default)]
    respawn: Option<Respawn>,
    #[serde(default)]
    cgroup_mode: Option<String>,
    #[serde(default)]
    memory_max: Option<u64>,
    #[serde(default)]
    tasks_max: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    env_files: Vec<PathBuf>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    limits: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nice: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    oom_score_adj: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stop_signal: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::parse::duration_text::option"
    )]
    stop_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reload_signal: Option<String>,
    wanted: Wanted,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    after: Vec<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    started_boot: Option<String>,
}

/// The status file `RUNTIME/NAME.status`: what is true now. One writer at a time (SPEC §1):
/// `start` until it returns, then in respawn mode the monitor. Written atomically; readers
/// never lock. Mode 0644: it holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Status {
    /// The pid rdaemon started (the monitor's in respawn mode).
    #[serde(default)]
    pub pid: Option<i32>,
    /// Respawn mode: the current child's pid.
    #[serde(default)]
    pub child_pid: Option<i32>,
    /// Respawn mode: `child_pid`'s start time, read by the monitor while the child could not
    /// have been reaped: a child that outlives a killed monitor (a `--forking` program, in a
    /// session of its own) is still known as the daemon's ([`Record::child_start_time`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_start_time: Option<u64>,
    /// Start time of `pid` in clock ticks since boot.
    #[serde(default)]
    pub start_time: Option<u64>,
    /// The boot during which `pid` was started.
    #[serde(default)]
    pub boot_id: Option<String>,
    /// The session made for the daemon.
    #[serde(default)]
    pub session: Option<i32>,
    /// `session`'s identity: its pidfs inode ([`Record::session_inode`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_inode: Option<u64>,
    /// The last notify `STATUS=` text.
    #[serde(default)]
    pub status_text: Option<String>,
    /// Why the last `start` failed once its program ran (not ready, or it ended), with the
    /// program stopped: a `restart` whose new program failed leaves the daemon wanted running
    /// and `dead`, and `status` says why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_failed: Option<String>,
    /// Respawn mode with `--health`: the checks failing now, if they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_failing: Option<HealthFailing>,
    /// What the program said over the notify socket (respawn mode with `--ready notify`).
    #[serde(flatten)]
    pub notify: NotifyStatus,
    /// When it was started (RFC 3339).
    #[serde(default)]
    pub started_at: Option<String>,
    /// Respawn mode: restarts so far.
    #[serde(default)]
    pub restarts: u32,
    /// Respawn mode: how the program last ended.
    #[serde(default)]
    pub last_exit: Option<LastExit>,
    /// Respawn mode: the monitor gave up.
    #[serde(default)]
    pub failed: bool,
    /// Respawn mode: the monitor was told to stop (SIGTERM, SIGINT) and stopped its program: a
    /// deliberate stop, `stopped` rather than `dead`.
    #[serde(default)]
    pub stopped: bool,
    /// The cgroup the daemon runs in, if it got one.
    #[serde(default)]
    pub cgroup: Option<PathBuf>,
    /// Its id (the directory's inode).
    #[serde(default)]
    pub cgroup_id: Option<u64>,
    /// The pidfile that names `pid` (the spec says it too): with a spec that cannot be read,
    /// `stop` still removes the right one. Absent in statuses written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pidfile: Option<PathBuf>,
    /// `pid`'s identity in pidfs, where the kernel has it (see [`Pidfs`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pidfs: Option<Pidfs>,
}

/// The pidfs inode number (Linux 6.9) of a daemon's main process, read by `start` from the
/// process it started, with the pid and start time it was read for: it counts only while the
/// status still names that pid with that start time, so a writer that changes the main process
/// without reading it anew leaves a stale one that is ignored, never believed. It proves who a
/// pid is with a pidfd instead of `/proc/PID/stat` ([`crate::process::is_pidfs_process`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pidfs {
    /// The pid it was read for.
    pub pid: i32,
    /// That process's start time, in clock ticks since boot.
    pub start_time: u64,
    /// Its inode number in pidfs.
    pub inode: u64,
}

impl Pidfs {
    /// The identity of the process behind `pidfd`, known to be `pid` started at `start_time`:
    /// a pidfd opened while the process could not have been replaced by another of its pid (an
    /// unreaped child or descendant of this rdaemon, rdaemon itself), or checked after it was
    /// opened. `None` where the kernel has no pidfs.
    pub(crate) fn of(pidfd: BorrowedFd<'_>, pid: Pid, start_time: u64) -> Option<Pidfs> {
        Some(Pidfs {
            pid: pid.get(),
            start_time,
            inode: crate::process::pidfs_inode(pidfd)?,
        })
    }

    /// [`Pidfs::of`] a pidfd opened now on `pid`, which must be such a process.
    pub(crate) fn open(pid: Pid, start_time: u64) -> Option<Pidfs> {
        let process = crate::process::Process::open(pid).ok()?;
        Pidfs::of(process.pidfd()?, pid, start_time)
    }

    /// The inode, if this was read for `pid` started at `start_time`.
    pub(crate) fn inode_of(
        this: Option<Pidfs>,
        pid: Option<i32>,
        start_time: Option<u64>,
    ) -> Option<u64> {
        this.filter(|p| Some(p.pid) == pid && Some(p.start_time) == start_time)
            .map(|p| p.inode)
    }
}

/// A status file's mode: anyone may read it.
pub const STATUS_MODE: u32 = 0o644;

impl Status {
    /// Loads `RUNTIME/NAME.status`; `Ok(None)` when there is none.
    pub fn load(ctx: &Ctx, name: &Name) -> Result<Option<Status>> {
        let path = ctx.status_path(name);
        let Some(text) = read_checked(&path)? else {
            return Ok(None);
        };
        let status: Status = serde_json::from_slice(&text)
            .with_context(|| format!("corrupt status '{}'", path.display()))?;
        status
            .validate()
            .map_err(|why| anyhow::anyhow!(why))
            .with_context(|| format!("corrupt status '{}'", path.display()))?;
        Ok(Some(status))
    }

    /// Saves `RUNTIME/NAME.status` atomically (a temporary file renamed over it, through the
    /// runtime directory's handle). Only the status's one writer calls this.
    pub fn save(&self, ctx: &Ctx, name: &Name) -> Result<()> {
        let path = ctx.status_path(name);
        let fail = || format!("cannot write status '{}'", path.display());
        let mut text = serde_json::to_vec_pretty(self).with_context(fail)?;
        text.push(b'\n');
        let dir = ctx.runtime_dir().with_context(fail)?;
        write_atomic(&dir, &format!("{name}.status"), &text, STATUS_MODE).with_context(fail)
    }

    /// Removes `RUNTIME/NAME.status`, if any.
    pub fn remove(ctx: &Ctx, name: &Name) -> Result<()> {
        let dir = ctx.runtime_dir()?;
        match dir.unlink(OsStr::new(&format!("{name}.status"))) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(os_error(e))
                .with_context(|| format!("cannot remove '{}'", ctx.status_path(name).display())),
            _ => Ok(()),
        }
    }

    fn validate(&self) -> Result<(), String> {
        let pid_ok = |p: Option<i32>| p.is_none_or(|p| p > 1 && p <= PID_MAX_LIMIT);
        for (field, pid) in [("pid", self.pid), ("child_pid", self.child_pid)] {
            if !pid_ok(pid) {
                return Err(format!(
                    "\"{field}\" {} is not a possible pid",
                    pid.unwrap_or_default()
                ));
            }
        }
        Ok(())
    }
}

/// One daemon's record, as rdaemon works with it: its spec and its status read together. On
/// disk, the v1 format (read once, then converted). Field names are those of `status --json`
/// (SPEC §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The daemon's name.
    pub name: Name,
    /// Absolute path of its pidfile.
    pub pidfile: PathBuf,
    /// The pid rdaemon started (the monitor's in respawn mode).
    pub pid: Option<i32>,
    /// Respawn mode: the current child's pid.
    #[serde(default)]
    pub child_pid: Option<i32>,
    /// Respawn mode: `child_pid`'s start time, as the monitor recorded it. With the monitor
    /// killed, a child still alive with it is the daemon's program, which nothing restarts
    /// (`target::judge`): `status` shows it, `stop` stops it, `start` starts no second copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_start_time: Option<u64>,
    /// Start time of `pid` in clock ticks since boot (`/proc/PID/stat` field 22).
    pub start_time: Option<u64>,
    /// The boot during which `pid` was started.
    pub boot_id: Option<String>,
    /// `pid`'s identity in pidfs ([`Pidfs`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pidfs: Option<Pidfs>,
    /// The session rdaemon made for the daemon (the `setsid` of the double fork; field 6 of
    /// `/proc/PID/stat`), read at start while the daemon waited for its exec: how its leftovers
    /// are found once the main process has died (`session`). `None` for `--foreground` (it
    /// keeps the caller's session) and in records written before it existed.
    #[serde(default)]
    pub session: Option<i32>,
    /// `session`'s pidfs inode, read at start while its leader (the intermediate process of
    /// the double fork) was an unreaped child of rdaemon: the kernel keeps that pid while any
    /// process is still in the session, and finds it by this inode, which no other pid of the
    /// boot gets, so whether the session lives is the kernel's word, never a guess once its
    /// number was reused (`session::Session`). `None` where the kernel has no file handles
    /// on pidfs (before 6.13) and in records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_inode: Option<u64>,
    /// argv, program first.
    pub command: Vec<String>,
    /// Working directory.
    pub chdir: PathBuf,
    /// File mode creation mask, octal text (`"022"`).
    pub umask: String,
    /// Environment overrides (`--env`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// `--user`.
    #[serde(default)]
    pub user: Option<String>,
    /// `--group`.
    #[serde(default)]
    pub group: Option<String>,
    /// Where stdout goes.
    pub stdout: PathBuf,
    /// Where stderr goes.
    pub stderr: PathBuf,
    /// exec or respawn.
    #[serde(default)]
    pub mode: Mode,
    /// `--forking`: the program daemonizes itself; `pidfile` is the program's own (read, never
    /// written) unless it is rdaemon's default one.
    #[serde(default, skip_serializing_if = "is_false")]
    pub forking: bool,
    /// `--forking --pidfile`: `pidfile` is the one the program writes, which rdaemon only
    /// reads (and removes after `stop` if it still names the stopped process).
    #[serde(default, skip_serializing_if = "is_false")]
    pub program_pidfile: bool,
    /// Started with `--foreground`: it runs under a supervisor of its own (systemd, a
    /// container runtime), which `resurrect` leaves it to.
    #[serde(default, skip_serializing_if = "is_false")]
    pub foreground: bool,
    /// `--foreground` without log options: `stdout` and `stderr` say what the caller's streams
    /// were (a terminal, a file of the caller's), never where a detached start may write.
    #[serde(default, skip_serializing_if = "is_false")]
    pub inherited_output: bool,
    /// Readiness spec (`--ready`), in its canonical form.
    #[serde(default = "default_ready")]
    pub ready: String,
    /// `--ready-timeout` (`"30s"` on disk).
    #[serde(default, with = "crate::parse::duration_text::option")]
    pub ready_timeout: Option<Duration>,
    /// The last `STATUS=` text the program sent over the notify socket (while `start` waited,
    /// and in respawn mode for its whole life).
    #[serde(default)]
    pub status_text: Option<String>,
    /// Why the last `start` failed once its program ran ([`Status::start_failed`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_failed: Option<String>,
    /// Respawn mode with `--health`: the checks failing now, if they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_failing: Option<HealthFailing>,
    /// Respawn mode with `--ready notify`: what the program last said of its state.
    #[serde(flatten)]
    pub notify: NotifyStatus,
    /// When it was started (RFC 3339).
    pub started_at: Option<String>,
    /// Respawn mode: restarts so far.
    #[serde(default)]
    pub restarts: u32,
    /// Respawn mode: how the program last ended.
    #[serde(default)]
    pub last_exit: Option<LastExit>,
    /// Respawn mode: the options of the monitor; `None` in exec mode.
    #[serde(default)]
    pub respawn: Option<Respawn>,
    /// Respawn mode: the monitor gave up after too many restarts (state `failed`).
    #[serde(default)]
    pub failed: bool,
    /// Respawn mode: the monitor stopped on SIGTERM or SIGINT (the status's `stopped`).
    #[serde(default)]
    pub stopped: bool,
    /// The spec's `wanted` is `stopped`: `stop` (or `restart`) sets it before its first signal,
    /// so that a daemon found gone is `stopped`, not `dead`. A new start clears it.
    #[serde(default)]
    pub stopping: bool,
    /// `--cgroup`: `auto`, `on` or `off` (absent: `auto`).
    #[serde(default)]
    pub cgroup_mode: Option<String>,
    /// `--memory-max`, in bytes.
    #[serde(default)]
    pub memory_max: Option<u64>,
    /// `--tasks-max`.
    #[serde(default)]
    pub tasks_max: Option<u64>,
    /// `--env-file`s, absolute, in order (read at every start).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_files: Vec<PathBuf>,
    /// `--limit`s: resource name to `SOFT:HARD` (`unlimited`, sizes as `64M`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, String>,
    /// `--nice`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nice: Option<i32>,
    /// `--oom-score-adj`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i32>,
    /// `--stop-signal` (`TERM`); absent: TERM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// `--stop-timeout` (`10s`); absent: 10s.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::parse::duration_text::option"
    )]
    pub stop_timeout: Option<Duration>,
    /// `--reload-signal` (`HUP`); absent: HUP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload_signal: Option<String>,
    /// The cgroup the daemon runs in (`.../rdaemon/NAME`), if it got one.
    #[serde(default)]
    pub cgroup: Option<PathBuf>,
    /// Its id (the directory's inode): cgroup paths are global and a name's cgroup may be
    /// another daemon's since, so nothing is done to one whose id differs.
    #[serde(default)]
    pub cgroup_id: Option<u64>,
    /// The `up` file (absolute path) this daemon's entry comes from; `None` for a daemon
    /// started by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<PathBuf>,
    /// The daemons of its `up` file that must be ready before it starts (`after`), which
    /// `resurrect` honours too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<Name>,
    /// The boot id of the boot during which it was last started, kept in the spec (which
    /// outlives a reboot; the status does not): a pidfile that no status describes names no
    /// process of the daemon once the machine has booted since (its pid may be anyone's now).
    /// `None` in specs written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_boot: Option<String>,
}

impl From<Ended> for LastExit {
    /// How it ended, now.
    fn from(ended: Ended) -> LastExit {
        let (code, signal) = match ended {
            Ended::Code(code) => (Some(code), None),
            Ended::Signal(sig, _) => (None, Some(sig)),
        };
        LastExit {
            code,
            signal,
            at: Some(now_rfc3339()),
            reason: None,
        }
    }
}

impl LastExit {
    /// An exit with status `code`, now.
    pub fn code(code: i32) -> LastExit {
        LastExit::from(Ended::Code(code))
    }

    /// Death by signal `signal`, now.
    pub fn signal(signal: i32) -> LastExit {
        LastExit::from(Ended::Signal(signal, false))
    }

    /// How it ended, if the record says (a signal wins over a code in a hand-edited file).
    pub fn ended(&self) -> Option<Ended> {
        match (self.code, self.signal) {
            (_, Some(sig)) => Some(Ended::Signal(sig, false)),
            (Some(code), None) => Some(Ended::Code(code)),
            (None, None) => None,
        }
    }

    /// `exited with status 1` / `killed by signal 9` / `unhealthy` / `watchdog`, as SPEC §6
    /// words it.
    pub fn describe(&self) -> String {
        if let Some(reason) = self.reason {
            return reason.as_str().to_owned();
        }
        match self.ended() {
            Some(Ended::Signal(sig, _)) => format!("killed by signal {sig}"),
            Some(Ended::Code(code)) => format!("exited with status {code}"),
            None => "ended".into(),
        }
    }
}

/// Respawn mode's options (SPEC §6), as `start` was given them and `restart` restores them.
/// Durations are kept as text on disk (`"1s"`, `"500ms"`) so the file stays readable, and
/// typed in memory (`parse::duration_text`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Respawn {
    /// Delay before the first restart (`--restart-delay`).
    #[serde(with = "crate::parse::duration_text")]
    pub restart_delay: Duration,
    /// Restarts allowed within the window before giving up; 0 for no limit (`--max-restarts`).
    pub max_restarts: u32,
    /// The window of `max_restarts` (`--restart-window`).
    #[serde(with = "crate::parse::duration_text")]
    pub restart_window: Duration,
    /// Rotate the log at this many bytes (`--log-max-size`); `None`: the child writes the log
    /// files itself and nothing rotates.
    #[serde(default)]
    pub log_max_size: Option<u64>,
    /// How many rotated files to keep (`--log-keep`).
    #[serde(default = "default_log_keep")]
    pub log_keep: u32,
    /// When the program is restarted (`--restart`).
    #[serde(default)]
    pub restart: RestartPolicy,
    /// The health check (`--health`), in its canonical form; `None`: no check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// How often the health check runs (`--health-interval`; `"10s"` on disk).
    #[serde(
        default = "default_health_interval",
        with = "crate::parse::duration_text"
    )]
    pub health_interval: Duration,
    /// Failures in a row that make the monitor restart the program (`--health-retries`).
    #[serde(default = "default_health_retries")]
    pub health_retries: u32,
    /// `--watchdog`: the longest time between two `WATCHDOG=1`; `None`: no watchdog.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::parse::duration_text::option"
    )]
    pub watchdog: Option<Duration>,
    /// `--on-exit`: a shell command run after each exit of the program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_exit: Option<String>,
    /// `--log-timestamps`: the monitor prefixes each line of output with its time.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub log_timestamps: bool,
}

/// `--restart`: after which exits the monitor starts the program again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// After every exit (systemd's `Restart=always`).
    #[default]
    Always,
    /// Only after a non-zero exit status or death by a signal (`Restart=on-failure`): a clean
    /// exit (status 0) ends the monitor, and the daemon is `stopped`.
    OnFailure,
}

impl RestartPolicy {
    /// The word of the command line, the spec file and systemd's `Restart=`.
    pub fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::Always => "always",
            RestartPolicy::OnFailure => "on-failure",
        }
    }
}

/// A file from before `health_interval` was kept: the default.
fn default_health_interval() -> Duration {
    Respawn::default().health_interval
}

/// A file from before `health_retries` was kept: the default.
fn default_health_retries() -> u32 {
    Respawn::default().health_retries
}

/// A file from before `log_keep` was kept: the default.
fn default_log_keep() -> u32 {
    Respawn::default().log_keep
}

impl Default for Respawn {
    /// The respawn defaults of SPEC §6 (the supervised part of [`crate::spec::Spec::default`]).
    fn default() -> Respawn {
        Respawn {
            restart_delay: Duration::from_secs(1),
            max_restarts: 5,
            restart_window: Duration::from_secs(60),
            log_max_size: None,
            log_keep: 5,
            restart: RestartPolicy::Always,
            health: None,
            health_interval: Duration::from_secs(10),
            health_retries: 3,
            watchdog: None,
            on_exit: None,
            log_timestamps: false,
        }
    }
}

impl Respawn {
    /// `--health` as a check, if set; a corrupt spec file is an error naming the field.
    pub fn health(&self) -> Result<Option<crate::ready::ReadySpec>> {
        self.health
            .as_deref()
            .map(crate::ready::ReadySpec::parse_health)
            .transpose()
            .map_err(|e| anyhow::anyhow!("corrupt spec: health: {e}"))
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn default_ready() -> String {
    "exec".into()
}

impl Record {
    /// Loads the daemon's spec (`DIR/NAME.json`) and status (`RUNTIME/NAME.status`) as one
    /// view; `Ok(None)` when there is no spec. A v1 record (one `NAME.json` holding both, in the
    /// spec directory or, for root, in `/run/rdaemon`) is read as it is and converted to the two
    /// files when the name's lock is free.
    pub fn load(ctx: &Ctx, name: &Name) -> Result<Option<Record>> {
        Record::load_with(ctx, name, true)
    }

    /// The spec of daemon `name` alone, as a record with an empty status: for a status that
    /// cannot be read ([`Record::load`] failed on it) while the spec is whole.
    pub fn load_spec_only(ctx: &Ctx, name: &Name) -> Result<Option<Record>> {
        Record::load_with(ctx, name, false)
    }

    fn load_with(ctx: &Ctx, name: &Name, with_status: bool) -> Result<Option<Record>> {
        let spec_path = ctx.record_path(name);
        let (path, text) = match read_checked(&spec_path)? {
            Some(text) => (spec_path, text),
            None => match ctx.v1_record_path(name) {
                Some(old) => match read_checked(&old)? {
                    Some(text) => (old, text),
                    None => return Ok(None),
                },
                None => return Ok(None),
            },
        };
        let corrupt = || format!("corrupt record '{}'", path.display());
        // A spec (it has `wanted`, so it is not v1) parsed at once; anything else, v1 or
        // corrupt, through a `Value` first, as before.
        let parsed = serde_json::from_slice::<SpecFile>(&text).map_err(|_| ());
        let value: serde_json::Value = match parsed {
            Ok(_) => serde_json::Value::Null,
            Err(()) => serde_json::from_slice(&text).with_context(corrupt)?,
        };
        let rec = if parsed.is_err() && is_v1(&value) {
            let rec = Record::from_json(&text).with_context(corrupt)?;
            rec.check(&path)?;
            convert_v1(ctx, &rec);
            rec
        } else {
            let spec: SpecFile = match parsed {
                Ok(spec) => spec,
                Err(()) => serde_json::from_value(value).with_context(corrupt)?,
            };
            let status_path = ctx.status_path(name);
            let status = match with_status
                .then(|| read_checked(&status_path))
                .transpose()?
            {
                Some(Some(text)) => {
                    let status: Status = serde_json::from_slice(&text)
                        .with_context(|| format!("corrupt status '{}'", status_path.display()))?;
                    status
                        .validate()
                        .map_err(|why| anyhow::anyhow!(why))
                        .with_context(|| format!("corrupt status '{}'", status_path.display()))?;
                    status
                }
                _ => Status::default(),
            };
            let rec = Record::from_parts(spec, status);
            rec.check(&path)?;
            rec
        };
        Ok(Some(rec))
    }

    /// Validates a record read from `path` and checks that it names the daemon of its file.
    fn check(&self, path: &Path) -> Result<()> {
        self.validate()
            .map_err(|why| anyhow::anyhow!(why))
            .with_context(|| format!("corrupt record '{}'", path.display()))?;
        if path.file_name() != Some(OsStr::new(&format!("{}.json", self.name))) {
            bail!(
                "corrupt record '{}': it names another daemon ('{}')",
                path.display(),
                self.name
            );
        }
        Ok(())
    }

    /// The record in the v1 format (one file, spec and status): pretty JSON and a newline. Fails
    /// only for a path that is not UTF-8 (JSON cannot hold it). Kept to read v1 records.
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let mut text = serde_json::to_vec_pretty(self)?;
        text.push(b'\n');
        Ok(text)
    }

    /// Reads a v1 record; [`Record::to_json`] is its inverse.
    pub fn from_json(bytes: &[u8]) -> serde_json::Result<Record> {
        serde_json::from_slice(bytes)
    }

    /// Whether `pid` is the daemon's main process as this record describes it: its main
    /// process (a respawn daemon's monitor), or a respawn daemon's program, which runs on
    /// without the monitor when that was killed (`Vouch::OrphanedChild`).
    pub fn names_main(&self, pid: i32) -> bool {
        self.pid == Some(pid) || (self.mode == Mode::Respawn && self.child_pid == Some(pid))
    }

    /// What the user wants of it: `stopped` once `stop` marked it.
    pub fn wanted(&self) -> Wanted {
        if self.stopping {
            Wanted::Stopped
        } else {
            Wanted::Running
        }
    }

    /// The record of daemon `name`, whose spec cannot be read, as its status alone describes it:
    /// the runtime identity (pid, start time, boot, session, cgroup: SPEC §1) and `pidfile`,
    /// nothing of what to run. Only for stopping what that identity names, the session and the
    /// cgroup with the main process (SPEC §3.1); never saved. A status the monitor writes (a
    /// child, a restart, a last exit) makes it a respawn daemon, whose monitor forwards the stop
    /// signal itself; a `--forking` one is not known as such, so its session, which it leads,
    /// is not trusted (its cgroup still is).
    pub fn from_status(name: &Name, pidfile: PathBuf, status: Status) -> Record {
        let respawn =
            status.child_pid.is_some() || status.restarts > 0 || status.last_exit.is_some();
        let spec = SpecFile {
            name: name.clone(),
            pidfile,
            command: Vec::new(),
            chdir: PathBuf::from("/"),
            umask: String::new(),
            env: BTreeMap::new(),
            user: None,
            group: None,
            stdout: PathBuf::new(),
            stderr: PathBuf::new(),
            mode: match respawn {
                true => Mode::Respawn,
                false => Mode::Exec,
            },
            forking: false,
            program_pidfile: false,
            foreground: false,
            inherited_output: false,
            ready: default_ready(),
            ready_timeout: None,
            respawn: None,
            cgroup_mode: None,
            memory_max: None,
            tasks_max: None,
            env_files: Vec::new(),
            limits: BTreeMap::new(),
            nice: None,
            oom_score_adj: None,
            stop_signal: None,
            stop_timeout: None,
            reload_signal: None,
            wanted: Wanted::Stopped,
            source: None,
            after: Vec::new(),
            started_boot: None,
        };
        Record::from_parts(spec, status)
    }

    fn from_parts(spec: SpecFile, status: Status) -> Record {
        Record {
            name: spec.name,
            pidfile: spec.pidfile,
            pid: status.pid,
            child_pid: status.child_pid,
            child_start_time: status.child_start_time,
            start_time: status.start_time,
            boot_id: status.boot_id,
            pidfs: status.pidfs,
            session: status.session,
            session_inode: status.session_inode,
            command: spec.command,
            chdir: spec.chdir,
            umask: spec.umask,
            env: spec.env,
            user: spec.user,
            group: spec.group,
            stdout: spec.stdout,
            stderr: spec.stderr,
            mode: spec.mode,
            forking: spec.forking,
            program_pidfile: spec.program_pidfile,
            foreground: spec.foreground,
            inherited_output: spec.inherited_output,
            ready: spec.ready,
            // A spec saved before `--ready-timeout 0` was refused (c2cbf5a) would fail every
            // start at once: it reads as the default, as no timeout given.
            ready_timeout: spec.ready_timeout.filter(|t| !t.is_zero()),
            status_text: status.status_text,
            start_failed: status.start_failed,
            health_failing: status.health_failing,
            notify: status.notify,
            started_at: status.started_at,
            restarts: status.restarts,
            last_exit: status.last_exit,
            respawn: spec.respawn,
            failed: status.failed,
            stopped: status.stopped,
            stopping: spec.wanted == Wanted::Stopped,
            cgroup_mode: spec.cgroup_mode,
            memory_max: spec.memory_max,
            tasks_max: spec.tasks_max,
            env_files: spec.env_files,
            limits: spec.limits,
            nice: spec.nice,
            oom_score_adj: spec.oom_score_adj,
            stop_signal: spec.stop_signal,
            stop_timeout: spec.stop_timeout,
            reload_signal: spec.reload_signal,
            cgroup: status.cgroup,
            cgroup_id: status.cgroup_id,
            source: spec.source,
            after: spec.after,
            started_boot: spec.started_boot,
        }
    }

    fn spec_file(&self) -> SpecFile {
        SpecFile {
            name: self.name.clone(),
            pidfile: self.pidfile.clone(),
            command: self.command.clone(),
            chdir: self.chdir.clone(),
            umask: self.umask.clone(),
            env: self.env.clone(),
            user: self.user.clone(),
            group: self.group.clone(),
            stdout: self.stdout.clone(),
            stderr: self.stderr.clone(),
            mode: self.mode,
            forking: self.forking,
            program_pidfile: self.program_pidfile,
            foreground: self.foreground,
            inherited_output: self.inherited_output,
            ready: self.ready.clone(),
            ready_timeout: self.ready_timeout,
            respawn: self.respawn.clone(),
            cgroup_mode: self.cgroup_mode.clone(),
            memory_max: self.memory_max,
            tasks_max: self.tasks_max,
            env_files: self.env_files.clone(),
            limits: self.limits.clone(),
            nice: self.nice,
            oom_score_adj: self.oom_score_adj,
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            reload_signal: self.reload_signal.clone(),
            wanted: self.wanted(),
            source: self.source.clone(),
            after: self.after.clone(),
            started_boot: self.started_boot.clone(),
        }
    }

    /// The runtime half.
    pub fn status(&self) -> Status {
        Status {
            pid: self.pid,
            child_pid: self.child_pid,
            child_start_time: self.child_start_time,
            start_time: self.start_time,
            boot_id: self.boot_id.clone(),
            session: self.session,
            session_inode: self.session_inode,
            status_text: self.status_text.clone(),
            start_failed: self.start_failed.clone(),
            health_failing: self.health_failing.clone(),
            notify: self.notify.clone(),
            started_at: self.started_at.clone(),
            restarts: self.restarts,
            last_exit: self.last_exit.clone(),
            failed: self.failed,
            stopped: self.stopped,
            cgroup: self.cgroup.clone(),
            cgroup_id: self.cgroup_id,
            pidfile: Some(self.pidfile.clone()),
            pidfs: self.pidfs,
        }
    }

    /// Saves both files: the spec, then the status. Only `start` does, under the name's lock,
    /// while it is the status's one writer (SPEC §1).
    pub fn save(&self, ctx: &Ctx) -> Result<()> {
        self.save_spec(ctx)?;
        self.save_status(ctx)
    }

    /// Saves the status `RUNTIME/NAME.status` alone (and removes a v1 record): [`Record::save`]
    /// once the spec is in place.
    pub fn save_status(&self, ctx: &Ctx) -> Result<()> {
        self.status().save(ctx, &self.name)?;
        remove_v1(ctx, &self.name);
        Ok(())
    }

    /// Saves the spec `DIR/NAME.json` atomically, readable and writable by its owner only (mode
    /// 0600): it holds the `--env` values, which may be secrets. Only user verbs write it, under
    /// the name's lock; never the monitor.
    pub fn save_spec(&self, ctx: &Ctx) -> Result<()> {
        let path = ctx.record_path(&self.name);
        let fail = || format!("cannot write record '{}'", path.display());
        let mut text = serde_json::to_vec_pretty(&self.spec_file()).with_context(fail)?;
        text.push(b'\n');
        let dir = ctx.state_dir().with_context(fail)?;
        write_atomic(&dir, &format!("{}.json", self.name), &text, RECORD_MODE).with_context(fail)
    }

    /// Writes the spec as [`Record::save_spec`] would, but leaves it staged beside the spec
    /// until [`StagedSpec::commit`]. Only under the name's lock, which must be held until the
    /// commit (or the drop): no other write of the spec may come in between.
    pub fn stage_spec(&self, ctx: &Ctx) -> Result<StagedSpec> {
        let path = ctx.record_path(&self.name);
        let fail = || format!("cannot write record '{}'", path.display());
        let mut text = serde_json::to_vec_pretty(&self.spec_file()).with_context(fail)?;
        text.push(b'\n');
        let dir = ctx.state_dir().with_context(fail)?;
        let name = format!("{}.json", self.name);
        write_staged(&dir, &name, &text, RECORD_MODE).with_context(fail)?;
        Ok(StagedSpec {
            dir,
            tmp: OsString::from(format!("{name}.new")),
            name: OsString::from(name),
            path,
            committed: false,
        })
    }

    /// Removes the spec and the status (and a v1 record left in the runtime directory).
    pub fn remove(ctx: &Ctx, name: &Name) -> Result<()> {
        let path = ctx.record_path(name);
        // Its pidfile index entry too, if it is this daemon's (a hint: best effort).
        if let Ok(Some(rec)) = Record::load(ctx, name) {
            if indexed_name(ctx, &rec.pidfile).as_ref() == Some(name) {
                let key = pidfile_key(&rec.pidfile);
                let _ = ctx.state_dir().map(|dir| dir.unlink(OsStr::new(&key)));
            }
        }
        let _ = Status::remove(ctx, name);
        remove_v1(ctx, name);
        ctx.state_dir()
            .and_then(|dir| {
                dir.unlink(OsStr::new(&format!("{name}.json")))
                    .map_err(os_error)
            })
            .with_context(|| format!("cannot remove record '{}'", path.display()))
    }

    /// Checks what serde cannot: every field rdaemon will act on makes sense, so that a corrupt
    /// or hostile record is an error naming the field, never a panic or an absurd action.
    pub fn validate(&self) -> Result<(), String> {
        let pid_ok = |p: Option<i32>| p.is_none_or(|p| p > 1 && p <= PID_MAX_LIMIT);
        match self.command.first() {
            None => return Err("\"command\" is empty".into()),
            Some(p) if p.is_empty() => return Err("\"command\" names an empty program".into()),
            Some(_) => {}
        }
        if let Some(arg) = self.command.iter().find(|a| a.contains('\0')) {
            return Err(format!(
                "\"command\" has an argument with a NUL byte: {arg:?}"
            ));
        }
        if !pid_ok(self.pid) {
            return Err(format!(
                "\"pid\" {} is not a possible pid",
                self.pid.unwrap_or_default()
            ));
        }
        if !pid_ok(self.child_pid) {
            return Err(format!(
                "\"child_pid\" {} is not a possible pid",
                self.child_pid.unwrap_or_default()
            ));
        }
        for (field, path) in [("pidfile", &self.pidfile), ("chdir", &self.chdir)] {
            if !path.is_absolute() {
                return Err(format!(
                    "\"{field}\" '{}' is not an absolute path",
                    path.display()
                ));
            }
        }
        for (field, path) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            if path.as_os_str().is_empty() {
                return Err(format!("\"{field}\" is empty"));
            }
        }
        if crate::parse::parse_umask(&self.umask).is_err() {
            return Err(format!("\"umask\" '{}' is not an octal umask", self.umask));
        }
        if let Some(k) = self
            .env
            .keys()
            .find(|k| k.is_empty() || k.contains(['=', '\0']))
        {
            return Err(format!("\"env\" has an invalid variable name {k:?}"));
        }
        if let Some(r) = &self.respawn {
            if r.log_max_size == Some(0) {
                return Err("\"respawn.log_max_size\" is 0".into());
            }
        }
        Ok(())
    }
}

/// A record's mode: its owner's only, since `env` may hold secrets (issue 11, finding 7).
pub const RECORD_MODE: u32 = 0o600;
/// No record is larger than this; a bigger file is refused unread (a link to `/dev/zero` would
/// otherwise be read forever).
pub const RECORD_MAX_BYTES: u64 = 1 << 20;
/// The kernel's highest possible pid (`PID_MAX_LIMIT` on 64-bit systems).
const PID_MAX_LIMIT: i32 = 1 << 22;

/// Reads a spec or status file; `Ok(None)` when missing, an error naming the path when
/// unreadable, not a regular file or larger than [`RECORD_MAX_BYTES`]. Opened without following
/// a symlink and without blocking (a FIFO), through the directory's handle.
fn read_checked(path: &Path) -> Result<Option<Vec<u8>>> {
    let fail = || format!("cannot read record '{}'", path.display());
    let Some(parent) = path.parent() else {
        return Ok(None);
    };
    let name = path.file_name().with_context(fail)?;
    // The directory is opened once per command (`list` reads two files per daemon from it);
    // only when it cannot be opened is it looked at again: a missing one holds no record.
    let dir = match crate::fsx::open_cached(parent) {
        Ok(dir) => dir,
        Err(_) if !parent.is_dir() => return Ok(None),
        Err(e) => return Err(e).with_context(fail),
    };
    let file = match dir.open_regular(name) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow::anyhow!(crate::fsx::open_reason(&e))).with_context(fail),
    };
    // Regular, or refused: what is read below never blocks.
    let st = crate::fsx::check_file(&file, crate::fsx::Kind::Regular, None)
        .map_err(|why| anyhow::anyhow!(why))
        .with_context(fail)?;
    let too_big = || anyhow::anyhow!("it is larger than {} bytes", RECORD_MAX_BYTES);
    if st.st_size as u64 > RECORD_MAX_BYTES {
        return Err(too_big()).with_context(fail);
    }
    let text = read_to_end_sized(file, st.st_size as usize, RECORD_MAX_BYTES as usize)
        .map_err(os_error)
        .with_context(fail)?;
    if text.len() as u64 > RECORD_MAX_BYTES {
        return Err(too_big()).with_context(fail);
    }
    Ok(Some(text))
}

/// Reads a regular file of `size` bytes (its `fstat`) to its end, but no more than `max` + 1
/// bytes, usually in one `read`: one byte more than `size` is asked for, and a read of a
/// regular file that returns less than it was asked, having reached `size`, stopped at the end
/// of the file. `read_to_end` would ask once more to be told so (`list` reads two such files
/// per daemon: 2,000 of its 16,000 system calls with a thousand daemons). A file that grew since its
/// `fstat` (rdaemon replaces its files whole, never writes into them) is read on to its end.
fn read_to_end_sized(mut file: fs::File, size: usize, max: usize) -> io::Result<Vec<u8>> {
    let mut text = vec![0u8; size.min(max) + 1];
    let mut len = 0;
    loop {
        let n = match file.read(&mut text[len..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        len += n;
        if n == 0 || (len >= size && len < text.len()) || len > max {
            break;
        }
        if len == text.len() {
            text.resize((len * 2).min(max + 1), 0);
        }
    }
    text.truncate(len);
    Ok(text)
}

/// Whether a `NAME.json` is a v1 record: it holds the runtime fields itself.
fn is_v1(value: &serde_json::Value) -> bool {
    value.get("wanted").is_none()
        && ["pid", "start_time", "boot_id", "started_at"]
            .iter()
            .any(|k| value.get(*k).is_some())
}

/// Writes a v1 record as a spec and a status, once: only when the name's lock is free (a
/// reader converting under a writer's feet would race it). Best effort: a record that cannot be
/// converted is read as v1 again next time.
fn convert_v1(ctx: &Ctx, rec: &Record) {
    if std::fs::metadata(&ctx.runtime).is_err() {
        return;
    }
    if let Ok(Some(_lock)) = crate::pidfile::NameLock::try_acquire(&ctx.lock_path(&rec.name)) {
        if let Err(err) = rec.save(ctx) {
            ctx.debug(format!(
                "cannot convert the v1 record of {}: {err:#}",
                rec.name
            ));
        }
    }
}

fn remove_v1(ctx: &Ctx, name: &Name) {
    if ctx.v1_record_path(name).is_some() {
        if let Ok(dir) = ctx.runtime_dir() {
            let _ = dir.unlink(OsStr::new(&format!("{name}.json")));
        }
    }
}

/// A spec written ahead of time as `NAME.json.new` ([`Record::stage_spec`]) and put in place by
/// one `rename` ([`StagedSpec::commit`]): `start --forking` stages the spec that says "wanted
/// running" while it waits, so that the moment readiness is seen costs a rename, not the reads,
/// the create and the write of the spec (about 0.15 ms of the time `start` returns after the
/// program became ready). Dropped without a commit, the staged file goes. A staged file left by
/// a killed `start` is replaced by the next write of the spec ([`write_atomic`]).
#[derive(Debug)]
pub struct StagedSpec {
    dir: std::sync::Arc<crate::fsx::Dir>,
    tmp: OsString,
    name: OsString,
    path: PathBuf,
    committed: bool,
}

impl StagedSpec {
    /// Puts the staged spec in place.
    pub fn commit(mut self) -> Result<()> {
        self.committed = true;
        let renamed = self.dir.rename(&self.tmp, &self.name);
        renamed
            .map_err(|e| {
                let _ = self.dir.unlink(&self.tmp);
                os_error(e)
            })
            .with_context(|| format!("cannot write record '{}'", self.path.display()))
    }
}

impl Drop for StagedSpec {
    fn drop(&mut self) {
        if !self.committed {
            let _ = self.dir.unlink(&self.tmp);
        }
    }
}

/// Writes `text` as `name` in `dir` atomically: `name.new` created exclusively with `mode`,
/// then renamed over `name` (as s6 does).
pub(crate) fn write_atomic(
    dir: &crate::fsx::Dir,
    name: &str,
    text: &[u8],
    mode: u32,
) -> Result<()> {
    write_staged(dir, name, text, mode)?;
    let tmp = OsString::from(format!("{name}.new"));
    dir.rename(&tmp, OsStr::new(name)).map_err(|e| {
        let _ = dir.unlink(&tmp);
        os_error(e)
    })
}

/// The first half of [`write_atomic`]: `text` written to `name.new`, created exclusively with
/// `mode` (a leftover of a killed rdaemon is replaced). Nothing is left behind on an error.
fn write_staged(dir: &crate::fsx::Dir, name: &str, text: &[u8], mode: u32) -> Result<()> {
    let tmp = OsString::from(format!("{name}.new"));
    let write = || -> io::Result<()> {
        let create = || dir.create(&tmp, OFlag::O_WRONLY, mode);
        let mut file = match create() {
            // A leftover of a killed rdaemon.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                dir.unlink(&tmp)?;
                create()?
            }
            other => other?,
        };
        file.write_all(text)
    };
    write().map_err(|e| {
        let _ = dir.unlink(&tmp);
        os_error(e)
    })
}

// The pidfile index (issue 18): `--pidfile P` must find the daemon whose spec names P without
// reading every spec. A pidfile named after its daemon (`NAME.pid`, the default, or the stem that
// gave the daemon its name) is found by its stem alone; for any other, the spec directory holds
// `.pidfile.HASH` (HASH: FNV-1a of the path, in hex) with the daemon's name, written by the first
// lookup that had to scan (not by `start`: a file created and renamed costs a start 0.4 ms here,
// for a lookup that may never come), and rewritten by one that found it stale. It is only ever a
// hint: what
// it names counts only if that daemon's spec names P ([`by_pidfile`]), so a missing, stale,
// colliding or forged entry costs a scan of the specs and can never redirect a command to
// another daemon.

/// The index entry's file name for `pidfile`.
fn pidfile_key(pidfile: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in pidfile.as_os_str().as_bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!(".pidfile.{hash:016x}")
}

/// The name a pidfile's stem gives (`/var/run/web.pid` → `web`), if it is a valid name.
pub fn stem_name(pidfile: &Path) -> Option<Name> {
    pidfile
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| Name::parse(s).ok())
}

/// Writes the index entry of daemon `name`, whose spec names `pidfile`, unless its stem finds it
/// or the entry names it already.
pub fn index_pidfile(ctx: &Ctx, name: &Name, pidfile: &Path) -> Result<()> {
    // Nothing to write when the stem finds it, or the entry names it already (a restart).
    if stem_name(pidfile).as_ref() == Some(name)
        || indexed_name(ctx, pidfile).as_ref() == Some(name)
    {
        return Ok(());
    }
    let dir = ctx.state_dir()?;
    write_atomic(
        &dir,
        &pidfile_key(pidfile),
        format!("{name}\n").as_bytes(),
        RECORD_MODE,
    )
}

/// The name the index entry for `pidfile` holds, if there is a readable, well-formed one.
fn indexed_name(ctx: &Ctx, pidfile: &Path) -> Option<Name> {
    let text = read_checked(&ctx.dir.join(pidfile_key(pidfile))).ok()??;
    let text = std::str::from_utf8(&text).ok()?;
    Name::parse(text.strip_suffix('\n')?).ok()
}

/// The record of the daemon whose spec names `pidfile` (absolute), if any: the one its stem
/// names, else the one its index entry names, else the first in a scan of every spec (whose
/// finding is written back to the index). A record counts only if it names `pidfile`.
pub fn by_pidfile(ctx: &Ctx, pidfile: &Path) -> Result<Option<Record>> {
    let names_it = |name: &Name| match Record::load(ctx, name) {
        Ok(Some(rec)) if same_pidfile(&rec.pidfile, pidfile) => Some(rec),
        _ => None,
    };
    let quick = [stem_name(pidfile), indexed_name(ctx, pidfile)];
    if let Some(rec) = quick.iter().flatten().find_map(names_it) {
        return Ok(Some(rec));
    }
    for name in list_names(ctx)? {
        if let Some(rec) = names_it(&name) {
            // Repaired for the next reader, as far as this user may write there; as root only
            // in a directory no other user could write to (docs/safety.md), which `status`, a
            // reader, does not otherwise require.
            if ctx.refuse_untrusted_dir().is_ok() {
                let _ = index_pidfile(ctx, &rec.name, pidfile);
            }
            return Ok(Some(rec));
        }
    }
    Ok(None)
}

/// The record of a daemon other than `except` whose spec names `pidfile` (absolute), if any:
/// [`by_pidfile`] for two specs given the same path, where the first found may be `except`'s
/// own. The stem and the index entry; with `scan`, every spec when they name nothing else,
/// and the one found is written to the index for the next look (as [`by_pidfile`] repairs it).
pub fn other_by_pidfile(
    ctx: &Ctx,
    pidfile: &Path,
    except: &Name,
    scan: bool,
) -> Result<Option<Record>> {
    let names_it = |name: &Name| match Record::load(ctx, name) {
        Ok(Some(rec)) if same_pidfile(&rec.pidfile, pidfile) && rec.name != *except => Some(rec),
        _ => None,
    };
    let quick = [stem_name(pidfile), indexed_name(ctx, pidfile)];
    if let Some(rec) = quick.iter().flatten().find_map(names_it) {
        return Ok(Some(rec));
    }
    if !scan {
        return Ok(None);
    }
    let found = list_names(ctx)?.iter().find_map(names_it);
    if let Some(rec) = &found {
        if ctx.refuse_untrusted_dir().is_ok() {
            let _ = index_pidfile(ctx, &rec.name, pidfile);
        }
    }
    Ok(found)
}

/// Whether the pidfile paths `a` and `b` (absolute) name the same file: the same path, or the
/// same name in one directory reached two ways (a symlinked directory on the way: `/var/run`
/// and `/run`), also while the file does not exist (a stopped daemon has no pidfile). Second review, 2026-12-02: `--pidfile
/// /var/run/x.pid` of a daemon started with `/run/x.pid` was taken for another daemon's, or for
/// none, where only the path was compared.
pub fn same_pidfile(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let same_inode = |x: &Path, y: &Path| {
        matches!(
            (fs::metadata(x), fs::metadata(y)),
            (Ok(x), Ok(y)) if (x.dev(), x.ino()) == (y.dev(), y.ino())
        )
    };
    // The directories, not the files: a symlink at the pidfile's own name is never followed
    // to find a daemon (docs/safety.md).
    a == b
        || (a.file_name() == b.file_name()
            && matches!((a.parent(), b.parent()), (Some(x), Some(y)) if same_inode(x, y)))
}

/// The names of all records in the rdaemon directory, sorted.
pub fn list_names(ctx: &Ctx) -> Result<Vec<Name>> {
    let mut names = Vec::new();
    for_each_name(ctx, |name, _| names.push(name))?;
    names.sort();
    names.dedup();
    Ok(names)
}

/// Whether rdaemon keeps anything for `name`: a spec, a status or a v1 record (whatever its
/// content: a corrupt one is still the name's). A name it keeps nothing for needs no lock file.
pub fn is_known(ctx: &Ctx, name: &Name) -> bool {
    let exists = |p: PathBuf| fs::symlink_metadata(p).is_ok();
    exists(ctx.record_path(name))
        || exists(ctx.status_path(name))
        || ctx.v1_record_path(name).is_some_and(exists)
}

/// Calls `f` with each record's name as the rdaemon directory's listing yields it, unsorted,
/// and the index in [`Ctx::dirs`] of the directory it was found in: a name can be found twice
/// (a v1 record of root in the runtime directory beside a spec).
pub fn for_each_name(ctx: &Ctx, mut f: impl FnMut(Name, usize)) -> Result<()> {
    for (i, dir) in ctx.dirs().into_iter().enumerate() {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            // The OS error kept as it is (rendered in one wording all the same): `list` and
            // `status` tell a directory they may not read by it.
            Err(e) => {
                return Err(anyhow::Error::new(e))
                    .with_context(|| format!("cannot read rdaemon directory '{}'", dir.display()))
            }
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let file = entry.file_name();
            let stem = file.to_str().and_then(|f| f.strip_suffix(".json"));
            if let Some(name) = stem.and_then(|stem| Name::parse(stem).ok()) {
                f(name, i);
            }
        }
    }
    Ok(())
}

/// Now, as RFC 3339 with seconds (UTC).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pidfs inode counts only for the pid and start time it was read for: a status whose
    /// main process changed without it (an older writer, a `MAINPID=`) falls back to `/proc`.
    #[test]
    fn a_pidfs_inode_counts_only_for_its_own_pid_and_start_time() {
        let pidfs = Some(Pidfs {
            pid: 1234,
            start_time: 98765,
            inode: 42,
        });
        assert_eq!(Pidfs::inode_of(pidfs, Some(1234), Some(98765)), Some(42));
        assert_eq!(Pidfs::inode_of(pidfs, Some(1235), Some(98765)), None);
        assert_eq!(Pidfs::inode_of(pidfs, Some(1234), Some(98766)), None);
        assert_eq!(Pidfs::inode_of(pidfs, None, Some(98765)), None);
        assert_eq!(Pidfs::inode_of(None, Some(1234), Some(98765)), None);
        // Absent from a status written before it existed, and kept through a save.
        let old: Status = serde_json::from_str(r#"{"pid": 1234, "start_time": 98765}"#).unwrap();
        assert_eq!(old.pidfs, None);
        let now = Status { pidfs, ..old };
        let text = serde_json::to_string(&now).unwrap();
        assert_eq!(serde_json::from_str::<Status>(&text).unwrap(), now);
    }

    /// One `read` when the file is as `fstat` saw it; a file that grew since, or one over the
    /// cap, is read on as far as the cap and one byte more (then refused by the caller).
    #[test]
    fn a_sized_read_gets_the_whole_file_whatever_its_size_said() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let open = || fs::File::open(&path).unwrap();
        for text in [&b""[..], b"{}", &[b'x'; 5000][..]] {
            fs::write(&path, text).unwrap();
            let len = text.len();
            assert_eq!(read_to_end_sized(open(), len, 1 << 20).unwrap(), text);
            // Grown since its size was taken (or said smaller): read on to the end.
            assert_eq!(read_to_end_sized(open(), len / 3, 1 << 20).unwrap(), text);
            assert_eq!(read_to_end_sized(open(), 0, 1 << 20).unwrap(), text);
            // Said larger: what there is.
            assert_eq!(read_to_end_sized(open(), len + 10, 1 << 20).unwrap(), text);
        }
        fs::write(&path, [b'y'; 300]).unwrap();
        assert_eq!(read_to_end_sized(open(), 300, 100).unwrap().len(), 101);
        assert_eq!(read_to_end_sized(open(), 10, 100).unwrap().len(), 101);
        assert_eq!(read_to_end_sized(open(), 100, 100).unwrap().len(), 101);
    }

    fn ctx(dir: &Path) -> Ctx {
        Ctx {
            dir: dir.to_owned(),
            runtime: dir.to_owned(),
            dir_explicit: true,
            quiet: false,
            verbose: 0,
            is_root: false,
        }
    }

    fn sample() -> Record {
        Record {
            name: Name::parse("web").unwrap(),
            pidfile: "/run/rdaemon/web.pid".into(),
            pid: Some(1234),
            child_pid: None,
            child_start_time: None,
            start_time: Some(98765),
            boot_id: Some("0c9b6f2e-8f0e-4f3a-9d55-0d6f1f3c1a2b".into()),
            pidfs: None,
            session: Some(4241),
            session_inode: None,
            command: vec!["python3".into(), "-m".into(), "http.server".into()],
            chdir: "/".into(),
            umask: "022".into(),
            env: BTreeMap::from([("PORT".into(), "8080".into())]),
            user: None,
            group: None,
            stdout: "/run/rdaemon/web.log".into(),
            stderr: "/run/rdaemon/web.log".into(),
            mode: Mode::Exec,
            forking: false,
            program_pidfile: false,
            foreground: false,
            inherited_output: false,
            ready: "exec".into(),
            ready_timeout: Some(Duration::from_secs(30)),
            status_text: Some("Listening".into()),
            start_failed: None,
            health_failing: None,
            notify: NotifyStatus::default(),
            started_at: Some("2026-11-21T13:00:00Z".into()),
            restarts: 0,
            last_exit: None,
            respawn: None,
            failed: false,
            stopped: false,
            stopping: false,
            cgroup_mode: None,
            memory_max: None,
            tasks_max: None,
            env_files: Vec::new(),
            limits: BTreeMap::new(),
            nice: None,
            oom_score_adj: None,
            stop_signal: None,
            stop_timeout: None,
            reload_signal: None,
            cgroup: None,
            cgroup_id: None,
            started_boot: None,
            source: None,
            after: Vec::new(),
        }
    }

    #[test]
    fn record_round_trips_through_disk() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let rec = sample();
        rec.save(&ctx).unwrap();
        assert_eq!(Record::load(&ctx, &rec.name).unwrap(), Some(rec.clone()));
        assert_eq!(list_names(&ctx).unwrap(), vec![rec.name.clone()]);
        let text = fs::read_to_string(ctx.record_path(&rec.name)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["mode"], "exec");
        assert_eq!(v["wanted"], "running");
        assert!(
            v.get("start_time").is_none(),
            "runtime fields stay out of the spec"
        );
        let text = fs::read_to_string(ctx.status_path(&rec.name)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["start_time"], 98765);
        assert!(v.get("env").is_none(), "no secret in the status");
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: PathBuf| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(ctx.record_path(&rec.name)), 0o600);
        assert_eq!(mode(ctx.status_path(&rec.name)) & 0o600, 0o600);
        Record::remove(&ctx, &rec.name).unwrap();
        assert_eq!(Record::load(&ctx, &rec.name).unwrap(), None);
        assert!(!ctx.status_path(&rec.name).exists());
    }

    /// A v1 record (one `NAME.json` with the runtime fields), written by hand as rdaemon 1
    /// wrote it, in root's old place (the runtime directory): read, then converted once to a
    /// spec in the spec directory and a status in the runtime directory.
    #[test]
    fn v1_record_is_read_and_converted_once() {
        let specs = tempfile::tempdir().unwrap();
        let runtime = tempfile::tempdir().unwrap();
        let ctx = Ctx {
            runtime: runtime.path().to_owned(),
            ..ctx(specs.path())
        };
        let v1 = r#"{
  "name": "web",
  "pidfile": "/run/rdaemon/web.pid",
  "pid": 1234,
  "child_pid": null,
  "start_time": 98765,
  "boot_id": "0c9b6f2e-8f0e-4f3a-9d55-0d6f1f3c1a2b",
  "command": ["python3", "-m", "http.server"],
  "chdir": "/",
  "umask": "022",
  "env": {"PORT": "8080"},
  "stdout": "/var/log/rdaemon/web.log",
  "stderr": "/var/log/rdaemon/web.log",
  "mode": "exec",
  "ready": "exec",
  "started_at": "2026-11-21T13:00:00Z",
  "stopping": false
}
"#;
        fs::write(runtime.path().join("web.json"), v1).unwrap();
        let web = Name::parse("web").unwrap();
        assert_eq!(list_names(&ctx).unwrap(), vec![web.clone()]);
        let rec = Record::load(&ctx, &web).unwrap().unwrap();
        assert_eq!((rec.pid, rec.start_time), (Some(1234), Some(98765)));
        assert_eq!(rec.wanted(), Wanted::Running);
        assert!(!runtime.path().join("web.json").exists(), "v1 record left");
        let spec: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(specs.path().join("web.json")).unwrap())
                .unwrap();
        assert_eq!(spec["wanted"], "running");
        assert_eq!(spec["env"]["PORT"], "8080");
        assert!(spec.get("pid").is_none());
        let status = Status::load(&ctx, &web).unwrap().unwrap();
        assert_eq!((status.pid, status.start_time), (Some(1234), Some(98765)));
        assert_eq!(Record::load(&ctx, &web).unwrap(), Some(rec));
    }

    /// A spec file as the previous version wrote it, durations as text: it loads into typed
    /// durations, and is written back with the same text (issue 13: durations typed once).
    #[test]
    fn a_spec_file_with_text_durations_loads_typed_and_saves_the_same_text() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let spec = r#"{
  "name": "web",
  "pidfile": "/run/rdaemon/web.pid",
  "command": ["python3", "-m", "http.server"],
  "chdir": "/",
  "umask": "022",
  "env": {},
  "stdout": "/var/log/rdaemon/web.log",
  "stderr": "/var/log/rdaemon/web.log",
  "mode": "respawn",
  "ready": "exec",
  "ready_timeout": "1m 30s",
  "respawn": {
    "restart_delay": "500ms",
    "max_restarts": 3,
    "restart_window": "2m",
    "log_max_size": null
  },
  "wanted": "stopped"
}
"#;
        let web = Name::parse("web").unwrap();
        fs::write(ctx.record_path(&web), spec).unwrap();
        let rec = Record::load(&ctx, &web).unwrap().unwrap();
        assert_eq!(rec.ready_timeout, Some(Duration::from_secs(90)));
        let respawn = rec.respawn.clone().unwrap();
        assert_eq!(respawn.restart_delay, Duration::from_millis(500));
        assert_eq!(respawn.restart_window, Duration::from_secs(120));
        // A file from before `log_keep` gets the default.
        assert_eq!(respawn.log_keep, Respawn::default().log_keep);
        assert_eq!(rec.wanted(), Wanted::Stopped);
        rec.save_spec(&ctx).unwrap();
        let saved: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(ctx.record_path(&web)).unwrap()).unwrap();
        assert_eq!(saved["ready_timeout"], "1m 30s");
        assert_eq!(saved["respawn"]["restart_delay"], "500ms");
        assert_eq!(saved["respawn"]["restart_window"], "2m");
        // A ready timeout of 0, saved before it was refused, reads as none given (the default).
        fs::write(ctx.record_path(&web), spec.replace("1m 30s", "0s")).unwrap();
        let rec = Record::load(&ctx, &web).unwrap().unwrap();
        assert_eq!(rec.ready_timeout, None);
        // A duration that does not parse makes the file corrupt, naming it.
        fs::write(ctx.record_path(&web), spec.replace("500ms", "soon")).unwrap();
        let err = format!("{:#}", Record::load(&ctx, &web).unwrap_err());
        assert!(err.contains("web.json") && err.contains("soon"), "{err}");
    }

    #[test]
    fn corrupt_record_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let name = Name::parse("web").unwrap();
        fs::write(ctx.record_path(&name), "{\"name\": \"web\", ").unwrap();
        let err = Record::load(&ctx, &name).unwrap_err();
        assert!(format!("{err:#}").contains("corrupt record"), "{err:#}");
        assert!(format!("{err:#}").contains("web.json"));
    }

    /// Regression (issue 8): a path that is not UTF-8 made `save` fail with serde's bare
    /// "path contains invalid UTF-8 characters", naming no file.
    #[test]
    fn unencodable_record_is_an_error_naming_the_file() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let mut rec = sample();
        rec.stdout = PathBuf::from(OsStr::from_bytes(b"/tmp/l\xff.log"));
        let err = format!("{:#}", rec.save(&ctx).unwrap_err());
        assert!(err.starts_with("cannot write record '"), "{err}");
        assert!(err.contains("web.json") && err.contains("UTF-8"), "{err}");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "left a file behind"
        );
    }

    #[test]
    fn respawn_record_round_trips_and_old_records_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let mut rec = sample();
        rec.mode = Mode::Respawn;
        rec.child_pid = Some(4321);
        rec.restarts = 3;
        rec.last_exit = Some(LastExit::signal(9));
        rec.respawn = Some(Respawn {
            log_max_size: Some(10 << 20),
            ..Respawn::default()
        });
        rec.save(&ctx).unwrap();
        assert_eq!(Record::load(&ctx, &rec.name).unwrap(), Some(rec.clone()));
        let v: serde_json::Value = serde_json::to_value(&rec).unwrap();
        assert_eq!(v["mode"], "respawn");
        assert_eq!(v["last_exit"]["signal"], 9);
        assert!(v["last_exit"].get("code").is_none());
        assert_eq!(v["respawn"]["restart_delay"], "1s");
        let respawn = rec.respawn.as_ref().unwrap();
        assert_eq!(respawn.restart_delay, Duration::from_secs(1));
        assert_eq!(respawn.restart_window, Duration::from_secs(60));

        // A record written before respawn mode existed has none of the new fields.
        let mut old = v.clone();
        for key in ["respawn", "failed", "child_pid", "restarts", "last_exit"] {
            old.as_object_mut().unwrap().remove(key);
        }
        let back: Record = serde_json::from_value(old).unwrap();
        assert_eq!((back.respawn, back.failed, back.restarts), (None, false, 0));
    }

    #[test]
    fn last_exit_is_described_as_the_spec_words_it() {
        assert_eq!(LastExit::code(1).describe(), "exited with status 1");
        assert_eq!(LastExit::signal(9).describe(), "killed by signal 9");
        assert!(LastExit::code(0).at.unwrap().ends_with('Z'));
    }

    /// Issue 11, finding 10: fields serde accepts but rdaemon cannot act on are refused by
    /// name, and a hostile file is never read whole.
    #[test]
    fn absurd_fields_and_hostile_files_are_errors_naming_them() {
        type Spoil = fn(&mut Record);
        let bad: [(&str, Spoil); 6] = [
            ("\"command\" is empty", |r| r.command.clear()),
            ("empty program", |r| r.command = vec![String::new()]),
            ("\"pid\" 1", |r| r.pid = Some(1)),
            ("\"child_pid\" -5", |r| r.child_pid = Some(-5)),
            ("\"pidfile\" 'x.pid'", |r| r.pidfile = "x.pid".into()),
            ("\"umask\" '999'", |r| r.umask = "999".into()),
        ];
        for (why, spoil) in bad {
            let mut rec = sample();
            spoil(&mut rec);
            let err = rec.validate().unwrap_err();
            assert!(err.contains(why), "{err}");
        }
        assert_eq!(sample().validate(), Ok(()));
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let web = Name::parse("web").unwrap();
        std::os::unix::fs::symlink("/dev/zero", ctx.record_path(&web)).unwrap();
        let err = format!("{:#}", Record::load(&ctx, &web).unwrap_err());
        assert!(err.contains("web.json") && err.contains("symlink"), "{err}");
        fs::remove_file(ctx.record_path(&web)).unwrap();
        fs::write(ctx.record_path(&web), vec![b' '; 2 << 20]).unwrap();
        let err = format!("{:#}", Record::load(&ctx, &web).unwrap_err());
        assert!(err.contains("larger than"), "{err}");
    }

    #[test]
    fn missing_dir_lists_nothing() {
        let ctx = ctx(Path::new("/nonexistent/rdaemon"));
        assert!(list_names(&ctx).unwrap().is_empty());
    }
}

/// Property tests (issue 8): a record survives `to_json` then `from_json` unchanged, and no
/// content of a record file makes `from_json` panic.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn last_exit() -> impl Strategy<Value = LastExit> {
        (
            any::<Option<i32>>(),
            any::<Option<i32>>(),
            any::<Option<String>>(),
        )
            .prop_map(|(code, signal, at)| LastExit {
                code,
                signal,
                at,
                reason: None,
            })
    }

    /// A duration the spec file can hold (up to 52 weeks, to the millisecond).
    fn duration() -> impl Strategy<Value = Duration> {
        (0u64..52 * 7 * 86_400_000).prop_map(Duration::from_millis)
    }

    fn respawn() -> impl Strategy<Value = Respawn> {
        (
            duration(),
            any::<u32>(),
            duration(),
            any::<Option<u64>>(),
            any::<u32>(),
        )
            .prop_map(
                |(restart_delay, max_restarts, restart_window, log_max_size, log_keep)| Respawn {
                    restart_delay,
                    max_restarts,
                    restart_window,
                    log_max_size,
                    log_keep,
                    ..Respawn::default()
                },
            )
    }

    fn record() -> impl Strategy<Value = Record> {
        let identity = (
            "[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
            any::<String>(),
            any::<Option<i32>>(),
            any::<Option<i32>>(),
            any::<Option<u64>>(),
            any::<Option<String>>(),
        );
        let how = (
            prop::collection::vec(any::<String>(), 0..4),
            any::<String>(),
            "[0-7]{3}",
            prop::collection::btree_map(any::<String>(), any::<String>(), 0..3),
            any::<Option<String>>(),
            any::<Option<String>>(),
            any::<String>(),
            any::<String>(),
        );
        let run = (
            any::<bool>(),
            any::<String>(),
            any::<Option<String>>(),
            any::<u32>(),
            proptest::option::of(last_exit()),
            proptest::option::of(respawn()),
            any::<bool>(),
            proptest::option::of(duration()),
            any::<Option<String>>(),
        );
        (identity, how, run).prop_map(
            |(
                (name, pidfile, pid, child_pid, start_time, boot_id),
                (command, chdir, umask, env, user, group, stdout, stderr),
                (
                    respawn_mode,
                    ready,
                    started_at,
                    restarts,
                    last_exit,
                    respawn,
                    failed,
                    ready_timeout,
                    status_text,
                ),
            )| Record {
                name: Name::parse(&name).unwrap(),
                pidfile: pidfile.into(),
                pid,
                child_pid,
                child_start_time: None,
                start_time,
                boot_id,
                pidfs: None,
                session: None,
                session_inode: None,
                command,
                chdir: chdir.into(),
                umask,
                env,
                user,
                group,
                stdout: stdout.into(),
                stderr: stderr.into(),
                mode: if respawn_mode {
                    Mode::Respawn
                } else {
                    Mode::Exec
                },
                forking: restarts % 5 == 1,
                program_pidfile: restarts % 7 == 1,
                foreground: false,
                inherited_output: false,
                ready,
                started_at,
                restarts,
                last_exit,
                respawn,
                failed,
                // Another random bit, without widening the tuples.
                stopping: restarts % 2 == 1,
                stopped: restarts % 3 == 1,
                cgroup_mode: None,
                memory_max: None,
                tasks_max: None,
                env_files: Vec::new(),
                limits: BTreeMap::new(),
                nice: None,
                oom_score_adj: None,
                stop_signal: None,
                stop_timeout: None,
                reload_signal: None,
                cgroup: None,
                cgroup_id: None,
                started_boot: None,
                source: None,
                after: Vec::new(),
                ready_timeout,
                start_failed: status_text.clone(),
                health_failing: None,
                status_text,
                notify: NotifyStatus::default(),
            },
        )
    }

    proptest! {
        #[test]
        fn record_round_trips(rec in record()) {
            let json = rec.to_json().unwrap();
            prop_assert_eq!(Record::from_json(&json).unwrap(), rec);
        }

        #[test]
        fn record_parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(rec) = Record::from_json(&bytes) {
                prop_assert_eq!(Record::from_json(&rec.to_json().unwrap()).unwrap(), rec);
            }
        }

        /// A valid record file with a few bytes overwritten: mostly corrupt, sometimes still a
        /// record, never a panic.
        #[test]
        fn damaged_record_never_panics(
            rec in record(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        ) {
            let mut json = rec.to_json().unwrap();
            for (at, byte) in edits {
                let i = at.index(json.len());
                json[i] = byte;
            }
            if let Ok(rec) = Record::from_json(&json) {
                prop_assert_eq!(Record::from_json(&rec.to_json().unwrap()).unwrap(), rec);
            }
        }
    }
}
