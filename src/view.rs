//! The view of a daemon shared by `status` and `list` (SPEC §5): its one [`DaemonState`],
//! derived from the spec, the status and the process table in one place ([`Report::new`]), and
//! the `list` table.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::cgroup::Cgroup;
use crate::exit::Code;
use crate::parse::shell_join;
use crate::paths::Ctx;
use crate::process;
use crate::session;
use crate::state::{self, LastExit, Mode, Record};
use crate::target::{judge, Main, Target, Vouch};

/// The state of a daemon, as `status` and `list` say it, with its LSB status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DaemonState {
    /// Its process runs (in respawn mode: the monitor and its program).
    Running,
    /// Respawn mode: the program exited and the monitor waits out the restart delay.
    Restarting,
    /// Wanted stopped (a user stopped it), or never started.
    Stopped,
    /// Wanted running, but gone: a crash, a kill, a reboot (the pidfile may remain or not).
    Dead,
    /// Respawn mode: the monitor gave up.
    Failed,
    /// Its pidfile or record cannot be trusted or read.
    Unknown,
}

impl DaemonState {
    /// The word (`running`...).
    pub fn as_str(self) -> &'static str {
        match self {
            DaemonState::Running => "running",
            DaemonState::Restarting => "restarting",
            DaemonState::Stopped => "stopped",
            DaemonState::Dead => "dead",
            DaemonState::Failed => "failed",
            DaemonState::Unknown => "unknown",
        }
    }

    /// Whether its program runs: `running`, or `restarting` (its monitor runs and restarts it).
    pub fn runs(self) -> bool {
        matches!(self, DaemonState::Running | DaemonState::Restarting)
    }

    /// The LSB status code: 0 running, 1 dead or failed, 3 not running, 4 unknown.
    pub fn code(self) -> Code {
        match self {
            DaemonState::Running => Code::Ok,
            DaemonState::Dead | DaemonState::Failed => Code::Failure,
            DaemonState::Unknown => Code::Privilege,
            DaemonState::Restarting | DaemonState::Stopped => Code::NotRunning,
        }
    }

    /// Derives the state from what the process table says (`judged`, after [`judge`]) and
    /// what the spec and status say (`rec`); `leftovers` live processes of its session.
    pub fn derive(
        judged: &Main,
        rec: Option<&Record>,
        child_alive: bool,
        leftovers: usize,
    ) -> DaemonState {
        let failed = rec.is_some_and(|r| r.failed);
        let respawn = rec.is_some_and(|r| r.mode == Mode::Respawn);
        let wanted_running = rec.is_some_and(|r| r.wanted() == state::Wanted::Running);
        match judged {
            // The main process is gone, but not all of the daemon.
            Main::NoPidfile | Main::Gone { .. } if leftovers > 0 => DaemonState::Dead,
            // Only the process the record vouches for is the monitor: a pid that its pidfile
            // alone names (the program's own, trusted the classic way, SPEC §4) is the program,
            // running without one ([`unsupervised`]).
            Main::Alive {
                vouched: Vouch::Record,
                ..
            } if respawn && !child_alive => respawn_without_child(rec),
            Main::Alive { .. } | Main::Caller { .. } => DaemonState::Running,
            // The monitor removed its pidfile when it gave up; a `stop` (or `down`) since then
            // said it is not wanted: stopped, as a daemon stopped by rdaemon is (SPEC §5, 3).
            Main::NoPidfile if failed && wanted_running => DaemonState::Failed,
            Main::NoPidfile if failed => DaemonState::Stopped,
            // Its monitor was told to stop by `stop` or `down` and did, or its program exited
            // cleanly under `--restart on-failure` (a SIGTERM from anyone else leaves it
            // wanted running and `dead`, below).
            Main::NoPidfile if rec.is_some_and(|r| r.stopped) => DaemonState::Stopped,
            // No pidfile, but the spec wants it running: killed, crashed, or the machine
            // rebooted (the runtime directory is gone).
            Main::NoPidfile if wanted_running => DaemonState::Dead,
            Main::NoPidfile => DaemonState::Stopped,
            // A pidfile naming another, dead pid than the one the daemon stopped had: a
            // `--forking` program's own, which `stop` leaves when it no longer names the
            // stopped process (SPEC §2.2), or one written since by anyone. It says nothing of
            // the daemon, which was stopped (SPEC §5: dead is wanted running but gone;
            // helper-96's audit: `dead`, exit 1, for a stopped daemon's rewritten pidfile).
            Main::Gone { pid, .. }
                if !wanted_running && rec.is_some_and(|r| r.pid != Some(pid.get())) =>
            {
                DaemonState::Stopped
            }
            Main::Gone { .. } => DaemonState::Dead,
            Main::Untrusted { .. } => DaemonState::Unknown,
        }
    }
}

impl std::fmt::Display for DaemonState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON view of a daemon (SPEC §5); `list --json` prints an array of these.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Name (or the pidfile path for a pidfile without a valid name).
    pub name: String,
    /// running, restarting, stopped, dead, failed or unknown.
    pub state: DaemonState,
    /// What its spec wants (`running` or `stopped`, the spec file's `wanted`); `None` without
    /// a readable spec.
    pub wanted: Option<state::Wanted>,
    /// Main pid while running, else null.
    pub pid: Option<i32>,
    /// Respawn mode: the child's pid.
    pub child_pid: Option<i32>,
    /// Pidfile path.
    pub pidfile: PathBuf,
    /// argv.
    pub command: Vec<String>,
    /// exec or respawn.
    pub mode: Mode,
    /// When it was started (RFC 3339).
    pub started_at: Option<String>,
    /// Seconds since the process started, while running.
    pub uptime_secs: Option<u64>,
    /// Resident memory of the program while it runs (in respawn mode, the child's).
    pub rss_bytes: Option<u64>,
    /// Respawn mode: resident memory of the monitor, while it runs.
    pub monitor_rss_bytes: Option<u64>,
    /// Respawn mode: restarts so far.
    pub restarts: u32,
    /// Respawn mode: how the program last ended.
    pub last_exit: Option<LastExit>,
    /// stdout file.
    pub stdout: Option<PathBuf>,
    /// stderr file.
    pub stderr: Option<PathBuf>,
    /// `--user` it runs as (null: rdaemon's own user).
    pub user: Option<String>,
    /// `--group` it runs with (null: the user's primary group).
    pub group: Option<String>,
    /// Start time in clock ticks since boot.
    pub start_time: Option<u64>,
    /// Boot id of the recorded start.
    pub boot_id: Option<String>,
    /// The last `STATUS=` text the program sent (while `start --ready notify` waited; in
    /// respawn mode, at any time).
    pub status_text: Option<String>,
    /// Why the last `start` failed once its program ran, if it did (the status's
    /// `start_failed`): shown while the daemon is not running.
    pub start_failed: Option<String>,
    /// Respawn mode with `--health`: the checks failing now, counted toward a restart, while
    /// the program runs; `null` otherwise.
    pub health_failing: Option<crate::state::HealthFailing>,
    /// Respawn mode with `--ready notify`: the program's state as it last told its monitor
    /// (`starting`, `ready`, `reloading`, `stopping`); `null` otherwise.
    pub notify_state: Option<crate::state::NotifyState>,
    /// Respawn mode with `--ready notify`: reloads the program finished (`RELOADING=1`, then
    /// `READY=1`).
    pub reloads: u64,
    /// Respawn mode with `--ready notify`: the program's `MAINPID=`, if it sent one.
    pub main_pid: Option<i32>,
    /// Why a daemon is dead or unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How many processes of its session live on although the main process is gone (SPEC
    /// §3.1); absent when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leftovers: Option<usize>,
    /// A `--respawn` daemon whose program runs without its monitor: its pidfile (the program's
    /// own, `--forking`, or one outside rdaemon's directory) names a live process that no record
    /// vouches for, trusted the classic way (SPEC §4). `pid` is then that process, not a
    /// monitor, and nothing restarts it; `start` refuses rather than say "already running".
    #[serde(skip)]
    pub unsupervised: bool,
    /// How many processes the program has (its cgroup's, else its session's and descendants';
    /// the monitor not counted), while it runs or leftovers live.
    pub tasks: Option<usize>,
    /// Their memory: the cgroup's `memory.current` with the memory controller, else their
    /// summed RSS.
    pub memory_bytes: Option<u64>,
    /// The cgroup it runs in, if it got one.
    pub cgroup: Option<PathBuf>,
}

impl Report {
    /// Judges `target` and gathers what `status` and `list` show.
    pub fn new(ctx: &Ctx, target: &Target) -> Report {
        Report::gather(ctx, target, true)
    }

    /// [`Report::new`], or with `full` false, for the `list` table: what the table shows
    /// (state, pid, uptime, restarts, command) and nothing else. The process count, the memory
    /// and the cgroup (`tasks`, `memory_bytes`, `rss_bytes`, `monitor_rss_bytes`, `cgroup`) stay
    /// `None`: reading them for every daemon (a cgroup's files, or `/proc` for every process of
    /// every session) is most of a `list` of a thousand daemons, and the table does not show them.
    fn gather(ctx: &Ctx, target: &Target, full: bool) -> Report {
        // A record that cannot be read vouches for nothing: the state is unknown, unless the
        // status alone names the live daemon (`judge`). So does a `/proc` that cannot be read
        // (EMFILE...): that is no verdict.
        let judged = judge_settled(ctx, target).unwrap_or_else(|e| Main::Untrusted {
            why: format!("{e:#}"),
        });
        let state = match (&target.record_error, judged) {
            (None, judged) | (Some(_), judged @ Main::Alive { .. }) => judged,
            (Some(why), _) => Main::Untrusted { why: why.clone() },
        };
        let rec = target.record.as_ref();
        let (name, pid, reason) = (target.label(), running_pid(&state), reason(&state));
        // The start time the judgement read, rather than `/proc/PID/stat` once more.
        let start_time = match state {
            Main::Alive { start_time, .. } | Main::Caller { start_time, .. } => Some(start_time),
            _ => None,
        };
        // rdaemon's parent (or an ancestor) is no `Pid`, which only a process rdaemon may
        // signal is: shown, and read by number.
        let main = match state {
            Main::Caller { pid, .. } => Some(pid),
            _ => pid.map(process::Pid::get),
        };
        // In respawn mode the process the record vouches for is the monitor. One that only the
        // pidfile names is never taken for it: no monitor rss, no child of its own.
        let unsupervised = unsupervised(rec, &target.pidfile, &state);
        let respawn = pid
            .and(rec)
            .filter(|r| r.mode == Mode::Respawn && unsupervised.is_none());
        // The monitor's live child: the program itself, whose memory is the daemon's.
        let child = match (pid, respawn) {
            (Some(monitor), Some(rec)) => live_child(monitor, rec.child_pid),
            _ => None,
        };
        let leftovers = match state {
            Main::Gone { .. } | Main::NoPidfile => rec.map_or(0, |r| count_leftovers(ctx, r)),
            _ => 0,
        };
        let mut derived = DaemonState::derive(&state, rec, child.is_some(), leftovers);
        let mut wanted = rec.map(Record::wanted);
        if derived == DaemonState::Dead && state == Main::NoPidfile && leftovers == 0 {
            // Settled as `judge_settled` does: the spec read before the process was seen gone
            // may predate the `stop` that ended it (it marks the spec before its first signal).
            let now = target
                .name
                .as_ref()
                .and_then(|name| Record::load(ctx, name).ok().flatten());
            if now.as_ref().is_some_and(|r| r.stopping || r.stopped) {
                derived = DaemonState::Stopped;
                // The spec read again is the one the state was derived from.
                wanted = now.as_ref().map(Record::wanted);
            }
        }
        let start_failed = rec.and_then(|r| r.start_failed.as_deref());
        let reason = match (derived, &state) {
            (DaemonState::Dead, Main::NoPidfile) if leftovers == 0 => Some(match start_failed {
                Some(why) => format!("it is wanted running, and its last start failed: {why}"),
                None => "it is wanted running but its process is gone (killed, crashed, or the machine rebooted)"
                    .into(),
            }),
            _ => reason.or_else(|| unsupervised.clone()),
        };
        let state = derived;
        let cgroup = rec.filter(|_| full).and_then(Cgroup::of_record);
        let monitor = respawn.and(pid).map(process::Pid::get);
        let cgroup = cgroup.filter(|c| c.exists());
        let (tasks, memory_bytes) = match (pid, cgroup.as_ref()) {
            _ if !full => (None, None),
            _ if main.is_none() && leftovers == 0 => (None, None),
            (_, Some(cg)) => {
                let procs = cg.procs().unwrap_or_default();
                let procs: Vec<i32> = procs.into_iter().filter(|p| Some(*p) != monitor).collect();
                // `memory.current` charges the monitor too, which lives in the cgroup: its own
                // anonymous memory is taken off (SPEC §5: the program's memory, not the
                // monitor's; review, 2026-12-03).
                let memory = match cg.memory_current() {
                    Some(current) => Some(
                        current.saturating_sub(monitor.and_then(process::anon_bytes).unwrap_or(0)),
                    ),
                    None => Some(summed_rss(&procs)),
                };
                (Some(procs.len()), memory)
            }
            (_, None) if main.is_some() => {
                // Its session is the daemon's only if rdaemon made it (the record says which):
                // a `--foreground` daemon keeps its caller's.
                let own_session = rec.is_some_and(|r| r.session.is_some());
                let main = main.unwrap_or_default();
                let procs: Vec<i32> = session::processes_of(main, scan_table(), own_session)
                    .into_iter()
                    .filter(|p| Some(*p) != monitor)
                    .collect();
                (Some(procs.len()), Some(summed_rss(&procs)))
            }
            (_, None) => (Some(leftovers), None),
        };
        // A monitor waiting out its restart delay runs, but nothing of the program does: the
        // count and memory are the program's, not the monitor's (SPEC §5, docs/json.md).
        let (tasks, memory_bytes) = match tasks {
            Some(0) => (None, None),
            counted => (counted, memory_bytes),
        };
        Report {
            name,
            state,
            wanted,
            pid: main,
            child_pid: child.map(process::Pid::get),
            pidfile: target.pidfile.clone(),
            command: rec.map(|r| r.command.clone()).unwrap_or_default(),
            mode: rec
                .map(|r| match r.mode {
                    Mode::Exec if r.forking => Mode::Forking,
                    mode => mode,
                })
                .unwrap_or_default(),
            started_at: rec.and_then(|r| r.started_at.clone()),
            uptime_secs: start_time.and_then(process::uptime).map(|d| d.as_secs()),
            rss_bytes: match respawn {
                _ if !full => None,
                Some(_) => child.map(process::Pid::get).and_then(process::rss_bytes),
                None => main.and_then(process::rss_bytes),
            },
            monitor_rss_bytes: respawn
                .filter(|_| full)
                .and(pid)
                .map(process::Pid::get)
                .and_then(process::rss_bytes),
            restarts: rec.map(|r| r.restarts).unwrap_or(0),
            last_exit: rec.and_then(|r| r.last_exit.clone()),
            stdout: rec.map(|r| r.stdout.clone()),
            stderr: rec.map(|r| r.stderr.clone()),
            user: rec.and_then(|r| r.user.clone()),
            group: rec.and_then(|r| r.group.clone()),
            start_time: start_time.or(rec.and_then(|r| r.start_time)),
            boot_id: rec.and_then(|r| r.boot_id.clone()),
            status_text: rec.and_then(|r| r.status_text.clone()),
            start_failed: rec
                .and_then(|r| r.start_failed.clone())
                .filter(|_| matches!(state, DaemonState::Dead | DaemonState::Stopped)),
            health_failing: rec
                .and_then(|r| r.health_failing.clone())
                .filter(|_| state == DaemonState::Running),
            // What a program says of itself holds while it runs: a monitor killed outright
            // leaves its last word in the status (helper-101's trial: `dead`, `notify: ready`).
            notify_state: rec
                .and_then(|r| r.notify.notify_state)
                .filter(|_| state == DaemonState::Running),
            reloads: rec.map_or(0, |r| r.notify.reloads),
            // Only while that process lives (helper-111: a main pid long gone was still
            // shown, for a script to `kill`).
            main_pid: rec
                .and_then(|r| Some((r.notify.main_pid?, r.notify.main_pid_start)))
                .filter(|_| state == DaemonState::Running)
                .filter(|&(pid, start)| main_pid_lives(pid, start))
                .map(|(pid, _)| pid),
            reason: match (reason, leftovers) {
                (None, 1..) => Some("its main process is gone".into()),
                (reason, _) => reason,
            },
            leftovers: (leftovers > 0).then_some(leftovers),
            unsupervised: unsupervised.is_some(),
            tasks,
            memory_bytes,
            cgroup: cgroup.map(|c| c.path().to_owned()),
        }
    }

    /// The LSB status code of this report.
    pub fn code(&self) -> Code {
        self.state.code()
    }
}

/// [`judge`], made sure of when it finds the daemon dead: `stop` may be between the death of
/// the main process and the removal of its pidfile (or `restart` between its stop and its
/// start). A daemon rdaemon is stopping is never dead: `stop` marks the record before its first
/// signal, and the record is read again here, after the death was seen. Otherwise the daemon is
/// judged again as the files are now (the pidfile gone, or naming a new process).
fn judge_settled(ctx: &Ctx, target: &Target) -> Result<Main> {
    let state = judge(ctx, target)?;
    let (Main::Gone { pid, .. }, Some(name)) = (&state, &target.name) else {
        return Ok(state);
    };
    let Ok(record) = Record::load(ctx, name) else {
        return Ok(state);
    };
    if record
        .as_ref()
        .is_some_and(|r| r.stopping && r.names_main(pid.get()))
    {
        return Ok(Main::NoPidfile);
    }
    let now = Target {
        record,
        ..target.clone()
    };
    Ok(match judge(ctx, &now)? {
        Main::Gone { pid: again, .. } if again == *pid => state,
        other => other,
    })
}

/// The monitor's child `child_pid`, if it is alive and still the child of `monitor` (the pid
/// was not reused since the record was written).
fn live_child(monitor: process::Pid, child_pid: Option<i32>) -> Option<process::Pid> {
    let child = process::Pid::new(child_pid?).ok()?;
    process::read_stat(child)
        .filter(|s| s.is_alive() && s.ppid == monitor.get())
        .map(|_| child)
}

/// Why the process that the judgement `judged` found alive is no monitor, for a respawn daemon
/// (`rec`): only its pidfile (`pidfile`) names it, or it is the child of a monitor that is gone.
/// `None` when it is the monitor, or the daemon is no respawn daemon. Said by `status`, and
/// given as `reason`.
fn unsupervised(rec: Option<&Record>, pidfile: &Path, judged: &Main) -> Option<String> {
    let rec = rec.filter(|r| r.mode == Mode::Respawn)?;
    let Main::Alive { pid, vouched, .. } = judged else {
        return None;
    };
    let comm = crate::sockets::comm(pid.get());
    match vouched {
        Vouch::Record => None,
        Vouch::OrphanedChild => Some(format!(
            "no monitor runs: its monitor (pid {}) is gone, and its program (pid {pid}, {comm}) runs on, which nothing restarts",
            rec.pid.unwrap_or_default()
        )),
        Vouch::Pidfile => Some(format!(
            "no monitor runs: pidfile '{}' names pid {pid} ({comm}), which no record vouches for, and nothing restarts it",
            pidfile.display(),
        )),
    }
}

/// The state of a respawn daemon whose monitor runs but whose program does not.
fn respawn_without_child(rec: Option<&Record>) -> DaemonState {
    match rec {
        // The monitor gave up and is on its way out.
        Some(r) if r.failed => DaemonState::Failed,
        // Nothing has exited yet: `start` is still starting the first child.
        Some(r) if r.child_pid.is_none() && r.last_exit.is_none() => DaemonState::Running,
        // `stop` is ending it: the program is gone, the monitor follows.
        Some(r) if r.stopping => DaemonState::Stopped,
        // The program ended and the monitor waits out the restart delay.
        _ => DaemonState::Restarting,
    }
}

/// The live leftovers of the daemon `rec` names, once its main process is gone: the members of
/// its session and, while its cgroup lives on, every process in it, as `stop` finds them (SPEC
/// §3.1). A program that puts itself in the background without `--forking` (`redis-server
/// --daemonize yes`) leaves its server there, in a session of its own. `/proc` is looked at once
/// per command, however many daemons `list` reports, and not at all when the daemon's cgroup is
/// gone ([`cgroup_removed`]).
pub(crate) fn count_leftovers(ctx: &Ctx, rec: &Record) -> usize {
    if cgroup_removed(rec) {
        return 0;
    }
    let mut pids = match session::Session::of(rec) {
        Ok(Some(session)) => match session.leftovers_in(&session_members(session.sid)) {
            found if found.is_empty() => session.leftovers_still_showing_life(),
            found => found,
        },
        _ => Vec::new(),
    };
    // Or, with its status lost while it ran, the cgroup a start from this directory marked,
    // as `stop` finds it (second review, 2026-12-02: `status` said its process was gone while
    // `stop` stopped it there).
    let cgroup = Cgroup::of_daemon(ctx, rec);
    if let Some(cgroup) = cgroup {
        // Not this rdaemon, run by one of them; nor a zombie, nor the main process itself on
        // its way out, still listed there (helper-110's audit: a respawn monitor that gave up
        // was `dead` with "1 leftover process", itself, for a moment before `failed`).
        let me = std::process::id() as i32;
        let counts = |p: i32| {
            // One that cannot be read (gone since, or hidden by `hidepid`) counts, as every
            // member did: the cgroup is the kernel's word (helper-113's review).
            let Some(stat) = process::Pid::new(p).ok().and_then(process::read_stat) else {
                return p != me;
            };
            let main = Some(p) == rec.pid && Some(stat.start_time) == rec.start_time;
            p != me && stat.is_alive() && !main
        };
        pids.extend(
            cgroup
                .procs()
                .unwrap_or_default()
                .into_iter()
                .filter(|&p| counts(p)),
        );
        pids.sort_unstable();
        pids.dedup();
    }
    pids.len()
}

/// Whether the cgroup `rec` says its daemon ran in (during this boot) was removed: then nothing
/// of the daemon lives on. Its session and every process forked in it were born inside the
/// cgroup (`stop` takes the cgroup for the kernel's word on what is left of a daemon, SPEC §3.1),
/// and the kernel removes a cgroup only when no process is in it (`rmdir` fails with `EBUSY`):
/// `stop` removes it once the last one is gone. A cgroup of the same path with another id (its
/// inode) was made since for another start. This one `stat` spares `list` and `status` a look
/// at every process on the machine for a stopped daemon (2–3 ms with 1,100 processes). Any
/// doubt (no cgroup recorded, another boot, an error other than "not found") leaves the answer
/// to the look at the session.
fn cgroup_removed(rec: &Record) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Some(path), Some(id)) = (rec.cgroup.as_deref(), rec.cgroup_id) else {
        return false;
    };
    if !path.is_absolute() || rec.boot_id.is_none() {
        return false;
    }
    if rec.boot_id.as_deref() != process::boot_id().ok().as_deref() {
        return false;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) => meta.ino() != id,
        // Gone, as long as the cgroup tree it was made in is here to be seen (not another
        // mount namespace's view of `/sys`): the cgroup above `rdaemon/` (the mount's root, or
        // a delegated one), not `rdaemon/` itself, which `stop` removes with the last daemon's.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => path
            .parent()
            .and_then(Path::parent)
            .is_some_and(|root| root.join("cgroup.procs").exists()),
        Err(_) => false,
    }
}

/// The processes of session `sid`, each `/proc/PID/stat` read in full. Every process's session
/// is asked once per command with `getsid` (one system call, where reading its stat is three and
/// a formatted page: 1 ms instead of 10 with a thousand processes), and only the members of a
/// session asked for are read: `list` pays this for every stopped daemon, most of which have
/// none.
fn session_members(sid: i32) -> Vec<session::Entry> {
    static BY_SESSION: std::sync::OnceLock<std::collections::HashMap<i32, Vec<i32>>> =
        std::sync::OnceLock::new();
    let index = BY_SESSION.get_or_init(|| {
        let mut index: std::collections::HashMap<i32, Vec<i32>> = Default::default();
        for pid in session::all_pids() {
            if let Ok(sid) = nix::unistd::getsid(Some(nix::unistd::Pid::from_raw(pid))) {
                index.entry(sid.as_raw()).or_default().push(pid);
            }
        }
        index
    });
    let pids = index.get(&sid).map(Vec::as_slice).unwrap_or_default();
    pids.iter()
        .filter_map(|&pid| {
            let stat = process::stat_of(pid).ok().flatten()?;
            Some(session::Entry { pid, stat })
        })
        .collect()
}

/// The one scan of `/proc` of this command.
fn scan_table() -> &'static [session::Entry] {
    static TABLE: std::sync::OnceLock<Vec<session::Entry>> = std::sync::OnceLock::new();
    TABLE.get_or_init(session::scan)
}

/// The summed resident memory of `pids` (those that vanished count nothing).
fn summed_rss(pids: &[i32]) -> u64 {
    pids.iter().filter_map(|&p| process::rss_bytes(p)).sum()
}

fn running_pid(state: &Main) -> Option<process::Pid> {
    match state {
        Main::Alive { pid, .. } => Some(*pid),
        _ => None,
    }
}

fn reason(state: &Main) -> Option<String> {
    match state {
        Main::Gone { why, .. } | Main::Untrusted { why } => Some(why.clone()),
        _ => None,
    }
}

/// `1h 2m 3s` style, to the second.
pub fn format_uptime(secs: u64) -> String {
    crate::parse::format_duration(Duration::from_secs(secs))
}

/// `12.3 MiB` style.
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A report for every record; a corrupt record shows as `unknown` with the reason. `full` for
/// JSON (every field); else [`Report::brief`], what the table shows.
pub fn reports(ctx: &Ctx, full: bool) -> Result<Vec<Report>> {
    // Each report is three small file reads (spec, status, `/proc/PID/stat`) and no more: with
    // a thousand daemons the command is those reads, which run side by side on the machine's
    // CPUs (issue 18: `list` of 1000 ≤ 20 ms). Nothing here forks; the order is the names'.
    // The workers start once the directory has shown enough names to share, while the rest of
    // its listing is read (a thousand daemons are three thousand entries, about 1 ms of
    // `getdents`, which can wait for a directory block being written back). The work is handed
    // out in small batches rather than cut in equal parts: a thread the scheduler set aside on
    // a busy machine, or a stopped daemon without a cgroup (a look at every process for its
    // leftovers), would leave the other working alone at the end.
    //
    // The calling thread only reads the directory, then waits. It allocates from glibc's main
    // arena, the workers each from their own; but glibc keeps a freed block in the freeing
    // thread's cache whatever its arena, and a `realloc` of it takes that arena's lock and makes
    // the new block there too. Blocks of the main arena that reach a worker so spread through
    // its allocations, and with the calling thread working alongside, the two contended for the
    // main arena's lock (a uprobe on glibc's lock wait: 217 waits in 20 runs of `list` of a
    // thousand, 2 with the calling thread idle); a holder preempted on a busy machine stalled
    // the other for milliseconds. Interleaved runs: median 18.4 → 16.5 ms, p90 23.1 → 19.3 ms.
    // For the same reason a worker clones the names it takes (and frees its clones) rather than
    // taking the calling thread's.
    let feed = Feed::default();
    let work = || {
        let mut done = Vec::new();
        while let Some(batch) = feed.take() {
            done.extend(
                batch
                    .into_iter()
                    .filter_map(|n| Some((report_of(ctx, &n, full)?, n))),
            );
        }
        done
    };
    let (read, alone, mut all) = std::thread::scope(|scope| {
        let mut workers = Vec::new();
        // Names read and not yet handed out: all of them while the calling thread works alone.
        let mut pending = Vec::new();
        let mut shared = false;
        // A name can be found in the second directory too (a v1 record of root).
        let mut first = (ctx.dirs().len() > 1).then(std::collections::HashSet::new);
        let read = state::for_each_name(ctx, |name, dir| {
            match (&mut first, dir) {
                (Some(first), 0) => {
                    first.insert(name.clone());
                }
                (Some(first), _) if first.contains(&name) => return,
                _ => {}
            }
            pending.push(name);
            if !shared && pending.len() == PARALLEL_FROM {
                shared = true;
                // Three files of /proc and /sys read (cgroup CPU quota): asked only when it counts.
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
                if threads > 1 {
                    workers = (0..threads).map(|_| scope.spawn(work)).collect();
                }
            }
            if !workers.is_empty() && pending.len() >= BATCH {
                feed.give(std::mem::take(&mut pending));
            }
        });
        if workers.is_empty() {
            return (read, pending, Vec::new());
        }
        feed.give(pending);
        feed.finish();
        let mut all = Vec::new();
        for worker in workers {
            all.extend(
                worker
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e)),
            );
        }
        (read, Vec::new(), all)
    });
    read?;
    if all.is_empty() {
        let mut names = alone;
        names.sort_unstable();
        return Ok(names
            .iter()
            .filter_map(|n| report_of(ctx, n, full))
            .collect());
    }
    all.sort_unstable_by(|(_, a), (_, b)| a.cmp(b));
    Ok(all.into_iter().map(|(report, _)| report).collect())
}

/// The names [`reports`]'s calling thread has read, handed out to its workers in batches.
#[derive(Default)]
struct Feed {
    state: std::sync::Mutex<FeedState>,
    more: std::sync::Condvar,
}

#[derive(Default)]
struct FeedState {
    names: Vec<crate::parse::Name>,
    taken: usize,
    finished: bool,
}

impl Feed {
    fn lock(&self) -> std::sync::MutexGuard<'_, FeedState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds names for the workers.
    fn give(&self, names: Vec<crate::parse::Name>) {
        if names.is_empty() {
            return;
        }
        self.lock().names.extend(names);
        self.more.notify_all();
    }

    /// No more names will come.
    fn finish(&self) {
        self.lock().finished = true;
        self.more.notify_all();
    }

    /// The next batch of at most [`BATCH`] names, cloned; `None` once all are taken and no more
    /// will come.
    fn take(&self) -> Option<Vec<crate::parse::Name>> {
        let mut state = self.lock();
        while state.taken == state.names.len() {
            if state.finished {
                return None;
            }
            state = self.more.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        let from = state.taken;
        state.taken = state.names.len().min(from + BATCH);
        Some(state.names[from..state.taken].to_vec())
    }
}

/// How many daemons a worker of [`reports`] takes at a time.
const BATCH: usize = 16;

/// From how many daemons [`reports`] shares the work among threads.
const PARALLEL_FROM: usize = 64;

/// The report of daemon `name`; `None` when its spec was removed since it was listed.
fn report_of(ctx: &Ctx, name: &crate::parse::Name, full: bool) -> Option<Report> {
    let target = match Record::load(ctx, name) {
        Ok(Some(record)) => Target::of_record(record),
        // Removed since it was listed: nothing to report.
        Ok(None) => return None,
        Err(e) => Target {
            pidfile: ctx.pidfile_path(name),
            name: Some(name.clone()),
            record: None,
            record_error: Some(crate::exit::render(&e)),
        },
    };
    Some(Report::gather(ctx, &target, full))
}

/// `value` as pretty JSON that is safe on a terminal too: serde_json leaves DEL and the C1
/// controls (U+007F to U+009F, such as U+009B, a one-character CSI) raw inside strings, where a
/// daemon's `STATUS=` text can put them, and the invisible characters that reorder or break
/// text ([`crate::parse::hidden`]: U+202E, U+2028...); they are written `\uXXXX`, which is the
/// same JSON. (Outside strings the pretty text holds only ASCII.)
pub fn to_json(value: &impl serde::Serialize) -> serde_json::Result<String> {
    let text = serde_json::to_string_pretty(value)?;
    let raw = |c: char| c >= '\u{7f}' && (c <= '\u{9f}' || crate::parse::hidden(c));
    if !text.contains(raw) {
        return Ok(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if raw(c) {
            // Beyond the first plane (a tag character) as its UTF-16 surrogate pair.
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// How much of a command `list` shows on a terminal too narrow for the rest of the table.
const MIN_COMMAND_COLUMNS: usize = 16;

/// Prints reports as a table (or JSON array).
pub fn print(ctx: &Ctx, reports: &[Report], json: bool) -> Result<()> {
    if json {
        println!("{}", to_json(&reports)?);
        return Ok(());
    }
    if ctx.quiet {
        return Ok(());
    }
    if reports.is_empty() {
        println!("no daemons");
        return Ok(());
    }
    let mut rows: Vec<[String; 6]> = reports
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.state.as_str().to_owned(),
                r.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                r.uptime_secs
                    .map(format_uptime)
                    .unwrap_or_else(|| "-".into()),
                r.restarts.to_string(),
                shell_join(&r.command),
            ]
        })
        .collect();
    let header = ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "COMMAND"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    if let Some(columns) = process::terminal_columns() {
        // On a terminal a line does not wrap: the command is cut to what is left of the
        // width, ending in `...` (ASCII: whatever the locale; into a pipe it stays whole, and
        // `--json` has it as an array).
        let before: usize = widths[..5].iter().map(|w| w + 2).sum();
        let room = columns.saturating_sub(before).max(MIN_COMMAND_COLUMNS);
        for row in &mut rows {
            if row[5].chars().count() > room {
                row[5] = row[5].chars().take(room - 3).chain("...".chars()).collect();
            }
        }
    }
    // The whole table in one write, not one per line, built in one string sized beforehand:
    // no string per cell or per line (a thousand rows are six thousand cells).
    let line_len = widths.iter().sum::<usize>() + 2 * (widths.len() - 1) + 1;
    let mut table = String::with_capacity((rows.len() + 1) * line_len);
    let mut line = |cells: [&str; 6]| {
        let start = table.len();
        for (i, cell) in cells.iter().enumerate() {
            table.push_str(cell);
            if i < 5 {
                let pad = widths[i] - cell.chars().count() + 2;
                table.extend(std::iter::repeat_n(' ', pad));
            }
        }
        let end = start + table[start..].trim_end().len();
        table.truncate(end);
        table.push('\n');
    };
    line(header);
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]].map(|s| s.as_str()));
    }
    print!("{table}");
    Ok(())
}

/// Whether the process `pid` named by `MAINPID=` still lives (a zombie does not), and is the
/// one named: its start time, recorded with it (a status without it, from an older monitor,
/// vouches for no process).
fn main_pid_lives(pid: i32, start_time: Option<u64>) -> bool {
    let Some(start_time) = start_time else {
        return false;
    };
    crate::process::Pid::new(pid)
        .ok()
        .and_then(crate::process::read_stat)
        .is_some_and(|s| s.is_alive() && s.start_time == start_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_writes_del_and_c1_controls_escaped_and_means_the_same() {
        let text = "a\u{9b}2J\u{7f}b\u{1b}c é";
        let json = to_json(&text).unwrap();
        assert!(!json.contains(|c: char| c.is_control()), "{json:?}");
        assert!(
            json.contains("\\u009b") && json.contains("\\u007f"),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<String>(&json).unwrap(), text);
        let text = "x\u{202e}y\u{2028}z\u{e0041}";
        let json = to_json(&text).unwrap();
        assert!(
            json.contains("\\u202e") && json.contains("\\u2028"),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<String>(&json).unwrap(), text);
    }

    fn record(extra: &str) -> Record {
        Record::from_json(
            format!(
                r#"{{"name": "web", "pidfile": "/run/web.pid", "pid": 1234, "start_time": 1,
                "boot_id": "b", "command": ["web"], "chdir": "/", "umask": "022",
                "stdout": "/l", "stderr": "/l", "started_at": null {extra}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    /// The one state enum is derived from `judge`'s evidence in one place: a missing pidfile
    /// is `stopped`, `dead` or `failed` by what the spec and status say; a live monitor without
    /// a child is `restarting`.
    #[test]
    fn every_verdict_derives_one_state() {
        let pid = process::Pid::new(1234).unwrap();
        let alive = Main::Alive {
            pid,
            vouched: Vouch::Record,
            start_time: 1,
        };
        let gone = Main::Gone {
            pid,
            why: "gone".into(),
        };
        let untrusted = Main::Untrusted { why: "x".into() };
        let exec = record("");
        let stopping = record(r#", "stopping": true"#);
        let failed = record(r#", "mode": "respawn", "failed": true"#);
        let waiting = record(r#", "mode": "respawn", "last_exit": {"code": 1}"#);
        let derive = |m: &Main, r: &Record, child: bool, left: usize| {
            DaemonState::derive(m, Some(r), child, left)
        };
        assert_eq!(derive(&alive, &exec, false, 0), DaemonState::Running);
        // rdaemon's own caller: running, whatever the spec wants.
        let caller = Main::Caller {
            pid: 1234,
            start_time: 1,
        };
        assert_eq!(derive(&caller, &exec, false, 0), DaemonState::Running);
        assert_eq!(derive(&caller, &stopping, false, 0), DaemonState::Running);
        assert_eq!(derive(&alive, &waiting, false, 0), DaemonState::Restarting);
        assert_eq!(derive(&alive, &waiting, true, 0), DaemonState::Running);
        // A pid only the pidfile names (classic trust) is never a respawn daemon's monitor: the
        // program, running without one, whatever the monitor's record says.
        let by_pidfile = Main::Alive {
            pid,
            vouched: Vouch::Pidfile,
            start_time: 1,
        };
        let monitor_stopped = record(
            r#", "mode": "respawn", "stopped": true, "stopping": true,
            "last_exit": {"code": 0}"#,
        );
        for rec in [&waiting, &monitor_stopped] {
            assert_eq!(derive(&by_pidfile, rec, false, 0), DaemonState::Running);
            let why = unsupervised(Some(rec), Path::new("/run/web.pid"), &by_pidfile);
            assert!(why.is_some_and(|w| w.contains("no monitor runs")));
            assert_eq!(unsupervised(Some(rec), Path::new("/p"), &alive), None);
        }
        // The recorded child of a monitor that is gone: running, and said to be unsupervised.
        let orphan = Main::Alive {
            pid,
            vouched: Vouch::OrphanedChild,
            start_time: 1,
        };
        assert_eq!(derive(&orphan, &waiting, false, 0), DaemonState::Running);
        let why = unsupervised(Some(&waiting), Path::new("/p"), &orphan);
        assert!(why.is_some_and(|w| w.contains("is gone, and its program")));
        assert_eq!(
            unsupervised(Some(&exec), Path::new("/p"), &by_pidfile),
            None
        );
        assert_eq!(derive(&Main::NoPidfile, &exec, false, 0), DaemonState::Dead);
        assert_eq!(
            derive(&Main::NoPidfile, &stopping, false, 0),
            DaemonState::Stopped
        );
        assert_eq!(
            derive(&Main::NoPidfile, &stopping, false, 2),
            DaemonState::Dead
        );
        assert_eq!(
            derive(&Main::NoPidfile, &failed, false, 0),
            DaemonState::Failed
        );
        // Stopped since it failed (`stop`, `down`): no longer wanted, so stopped.
        let failed_then_stopped =
            record(r#", "mode": "respawn", "failed": true, "stopping": true"#);
        assert_eq!(
            derive(&Main::NoPidfile, &failed_then_stopped, false, 0),
            DaemonState::Stopped
        );
        assert_eq!(derive(&gone, &stopping, false, 0), DaemonState::Dead);
        // A `--forking` program's own pidfile left naming another dead pid after `stop`.
        let rewritten = Main::Gone {
            pid: process::Pid::new(4321).unwrap(),
            why: "gone".into(),
        };
        let own = r#", "stopping": true, "forking": true, "program_pidfile": true"#;
        assert_eq!(
            derive(&rewritten, &record(own), false, 0),
            DaemonState::Stopped
        );
        assert_eq!(derive(&gone, &record(own), false, 0), DaemonState::Dead);
        assert_eq!(
            derive(
                &rewritten,
                &record(r#", "forking": true, "program_pidfile": true"#),
                false,
                0
            ),
            DaemonState::Dead
        );
        // rdaemon's own pidfile, written anew by someone after `stop`, naming a dead pid.
        assert_eq!(
            derive(&rewritten, &record(r#", "stopping": true"#), false, 0),
            DaemonState::Stopped
        );
        assert_eq!(derive(&untrusted, &exec, false, 0), DaemonState::Unknown);
        assert_eq!(
            DaemonState::derive(&Main::NoPidfile, None, false, 0),
            DaemonState::Stopped
        );
        let codes = [
            DaemonState::Running,
            DaemonState::Dead,
            DaemonState::Unknown,
        ]
        .map(|s| (s.as_str(), s.code()));
        assert_eq!(
            codes,
            [
                ("running", Code::Ok),
                ("dead", Code::Failure),
                ("unknown", Code::Privilege)
            ]
        );
    }
}
