//! `rdaemon stop`: run the stop schedule (signal the group, wait on the pidfd, escalate) against
//! a daemon that verifiably is the one the pidfile and record describe.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::sys::signal::Signal;

use crate::cgroup::Cgroup;
use crate::cli::StopArgs;
use crate::exit::{Code, Fail};
use crate::parse::{format_duration, signal_name, Step};
use crate::paths::Ctx;
use crate::pidfile::{self, Content};
use crate::process::{self, Pid, Process};
use crate::progress::Spinner;
use crate::schedule::{run_schedule_noting, Aim};
use crate::session::{self, GroupSignalled, Held, Session, Swept, Timeline};
use crate::state::{Mode, Record};
use crate::target::{judge, privilege_error, resolve_many, several_error, Main, Many, Target};

/// How a stop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It was not running (a stale pidfile may have been removed).
    NotRunning,
    /// It ran and is gone now.
    Stopped(Pid),
}

/// `rdaemon stop`: each daemon named, one after the other, each under its own lock (never two
/// names' locks at once). The exit code is the worst of theirs (`Code::worst`: 4 > 1 > 0).
pub fn run(args: StopArgs, ctx: &Ctx) -> Result<Code> {
    // A malformed --retry is refused before anything is stopped.
    args.stop.schedule(crate::spec::stop_settings(None))?;
    let (targets, unknown) = match resolve_many(ctx, &args.target, true)? {
        Many::Picked { targets, unknown } => (targets, unknown),
        Many::NoDaemons => {
            ctx.say("no daemons");
            return Ok(Code::Ok);
        }
        // Several daemons and none named: with none of them running there is nothing to
        // stop, which LSB's `stop` answers with 0 (user trial, 2026-12-02: a usage error).
        // One dead with leftovers is not running (SPEC §1 means the only running one), yet
        // there is something to stop: the user names it (review of 2026-12-03: meaning it
        // also marked a crashed daemon wanted stopped, which `resurrect` then left down).
        Many::Several(names)
            if crate::target::none_alive(ctx, &names, |target| {
                (target.record.as_ref())
                    .is_some_and(|rec| crate::view::count_leftovers(ctx, rec) > 0)
            })? =>
        {
            ctx.say(crate::target::none_running(&names));
            return Ok(Code::Ok);
        }
        Many::Several(names) => return Err(several_error(&names).into()),
    };
    // Not running, as LSB wants (exit 0), but not silently: it may be a typo, or root's daemon.
    for why in &unknown {
        eprintln!("rdaemon: {why}");
    }
    // Ctrl-C (or TERM, HUP) while a daemon is waited for ends the stop early with the
    // daemon still running: its spec must then say wanted running again, not stay marked
    // stopped (user trial, 2026-12-02: a reboot's `resurrect` then left it down).
    process::catch_interrupts().context("cannot install signal handlers")?;
    super::each(targets, |target| {
        if let Some(sig) = process::interrupted() {
            return Err(Fail::interrupted(
                sig,
                format!(
                    "not stopping {}: interrupted by SIG{}",
                    target.label(),
                    signal_name(sig)
                ),
            )
            .into());
        }
        // Each daemon's own stop signal and timeout, unless the command line gives them.
        let schedule = args
            .stop
            .schedule(crate::spec::stop_settings(target.record.as_ref()))?;
        stop_one(ctx, target, &schedule, args.main_only)
    })
}

/// Stops one daemon under its lock.
fn stop_one(ctx: &Ctx, mut target: Target, schedule: &[Step], main_only: bool) -> Result<Code> {
    if let Some(name) = &target.name {
        cancel_pending_start(ctx, name);
    }
    let lock = target
        .lock(ctx)
        .map_err(|e| privilege_error(ctx, e.context(format!("cannot stop {}", target.label()))))?;
    if let Some(why) = &target.record_error {
        ctx.warn(match target.by_status(ctx) {
            Some(_) => format!("{why}; going by its status"),
            None => format!("{why}; treating the pidfile as one without a record"),
        });
    }
    let stopped = stop_locked(ctx, &target, schedule, main_only);
    // A name rdaemon never knew (a pidfile no spec names) leaves no lock file behind, whether
    // the stop succeeded or not.
    if let (Some(lock), Some(name)) = (lock, &target.name) {
        super::release_lock(ctx, name, lock);
    }
    stopped.map(|_| Code::Ok)
}

/// A `start` of the same name that still waits (for readiness, for a `--forking` program) holds
/// the name's lock for up to its `--ready-timeout`: as `systemctl stop` cancels a pending start,
/// it is interrupted (SIGTERM: it stops what it started and exits 143, SPEC §2.1, as on Ctrl-C),
/// and the stop then takes the lock and finds the daemon stopped. Only such a start as
/// [`crate::pidfile::pending_start`] finds it (this binary, rdaemon's user, the name's private
/// lock file held open, SIGTERM caught), pinned by a pidfd; anything else holding the lock (a
/// `restart`, an `up`, another `stop`) is waited for as before.
fn cancel_pending_start(ctx: &Ctx, name: &crate::parse::Name) {
    let Some(start) = crate::pidfile::pending_start(&ctx.lock_path(name)) else {
        return;
    };
    if start.signal(Signal::SIGTERM).is_ok() {
        ctx.say(format!(
            "cancelling the start of {name} (pid {}), which is still waiting",
            start.pid()
        ));
    }
}

/// Stops the daemon while its lock is held. Prints the outcome; errors name the daemon.
pub fn stop_locked(
    ctx: &Ctx,
    target: &Target,
    schedule: &[Step],
    main_only: bool,
) -> Result<Stopped> {
    let label = target.label();
    let begun = Instant::now();
    // What the rest of the daemon gets (SPEC §3): the whole schedule, or with `--main-only`
    // (systemd's `KillMode=mixed`) only its SIGKILL steps, after waiting for it until then.
    let rest = rest_schedule(schedule, main_only);
    let judged = judge(ctx, target).with_context(|| format!("cannot stop {label}"))?;
    // With a spec that cannot be read, its status still names the daemon's session and cgroup
    // (SPEC §1: the runtime identity), so that the stop reaches all of it (SPEC §3.1).
    let by_status = target.by_status(ctx);
    let target = by_status.as_ref().unwrap_or(target);
    // From now on it is wanted stopped (`stopped`, not `dead`), also if it dies by itself
    // before the first signal. A stop that fails marks it wanted running again.
    let marked = !matches!(judged, Main::Untrusted { .. } | Main::Caller { .. })
        && mark_wanted_stopped(ctx, target);
    let (pid, start_time) = match judged {
        Main::NoPidfile => {
            if stop_leftovers(ctx, target, &rest)? {
                return Ok(Stopped::NotRunning);
            }
            ctx.say(format!("{label} is not running"));
            return Ok(Stopped::NotRunning);
        }
        Main::Gone { why, .. } => {
            // Its pidfile goes also when the leftovers' stop fails or is interrupted: it names
            // a dead process.
            let left = stop_leftovers(ctx, target, &rest);
            pidfile::remove(&target.pidfile)?;
            if left? {
                return Ok(Stopped::NotRunning);
            }
            ctx.say(format!(
                "{label} is not running ({why}; removed stale pidfile '{}')",
                target.pidfile.display()
            ));
            return Ok(Stopped::NotRunning);
        }
        Main::Untrusted { why } => bail!("cannot stop {label}: {why}"),
        Main::Caller { pid, .. } => bail!("cannot stop {label}: {}", Main::caller_refusal(pid)),
        Main::Alive {
            pid, start_time, ..
        } => (pid, start_time),
    };
    // The pid could have been reused between judging it and opening the pidfd: check again
    // once the pidfd pins the process (without a pidfd, before every signal).
    // The session, known while the main process is verified alive (SPEC §3.1).
    let session = live_session(target, pid, start_time);
    let process = match Process::open_verified(pid, start_time) {
        Ok(Some(p)) => p,
        Ok(None) => {
            let swept = sweep(&label, session, Vec::new(), &rest, begun, None, By::Stop)
                .and_then(|s| Ok(s + stop_cgroup(ctx, target, &rest, begun, None, By::Stop)?));
            return match swept {
                Ok(swept) => finish_gone_saying(ctx, target, pid, &leftovers_note(swept)),
                Err(e) => {
                    clear_pidfile_warning(ctx, target, pid);
                    Err(e)
                }
            };
        }
        Err(e) => bail!(
            "cannot stop {label}: cannot read /proc/{pid}/stat: {}",
            pidfile::os_reason(&e)
        ),
    };
    let aim = Aim {
        group: match main_only {
            true => None,
            false => process.own_group_checked().map_err(|e| {
                anyhow::anyhow!(
                    "cannot stop {label}: cannot read /proc/{pid}/stat: {}",
                    pidfile::os_reason(&e)
                )
            })?,
        },
        // A respawn monitor forwards TERM and INT to its child itself: sent to the whole group,
        // the child would get them twice, and a second TERM cuts many a graceful shutdown short.
        soft_to_main: target
            .record
            .as_ref()
            .is_some_and(|r| r.mode == Mode::Respawn && r.pid == Some(pid.get())),
    };
    let escaped = hold_escaped(target, &process, start_time, session.as_ref());
    ctx.debug(match (aim.group, aim.soft_to_main) {
        (Some(g), false) => format!("signalling process group {g} of {label}"),
        (Some(g), true) => format!("signalling the monitor {pid} of {label}, SIGKILL to group {g}"),
        (None, _) => format!("signalling only pid {pid} of {label}"),
    });
    // Marked a moment ago under the same lock (the mark is the spec's, which only a holder of
    // the lock writes): read again only if that did not happen.
    if !marked {
        mark_stopping(ctx, target, pid, true);
    }
    // Ctrl-C while the lock was waited for, or since: nothing was signalled.
    if let Some(sig) = process::interrupted() {
        mark_stopping(ctx, target, pid, false);
        return Err(Fail::interrupted(
            sig,
            format!(
                "not stopping {label}: interrupted by SIG{}; it still runs (pid {pid}), wanted running",
                signal_name(sig)
            ),
        )
        .into());
    }
    let mut spinner = Spinner::new(ctx, format!("stopping {label} (pid {pid})"));
    let mut sent = Vec::new();
    let mut killed_below = 0;
    let gone = run_schedule_noting(
        &process,
        aim,
        schedule,
        &mut spinner,
        &mut sent,
        &mut killed_below,
    );
    spinner.finish();
    // Interrupted once the stop signal went out: the daemon may be on its way down. What it
    // is wanted follows its main process, given a moment to act on the signal: gone, it was
    // stopped (and stays wanted stopped); alive, it still runs, wanted running (below).
    let gone = match (gone, process::interrupted()) {
        (Err(Errno::EINTR), Some(_)) if !sent.is_empty() => process
            .wait_exit_regardless(INTERRUPT_GRACE)
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))
            .and_then(|exited| if exited { Ok(true) } else { Err(Errno::EINTR) }),
        (gone, _) => gone,
    };
    for (sig, after) in &sent {
        ctx.debug(format!(
            "sent SIG{} to {label} after {}",
            signal_name(*sig),
            format_duration(*after)
        ));
    }
    let gone = gone.map_err(|e| signal_error(e, &label, pid));
    if matches!(gone, Ok(true)) {
        // SPEC §3: say what it took when the first signal was not enough.
        let how = match sent.as_slice() {
            [_, .., (sig, after)] => {
                format!(
                    " with SIG{} after {}",
                    signal_name(*sig),
                    format_duration(*after)
                )
            }
            _ => String::new(),
        };
        // Then what the main process left behind in its session (SPEC §3.1).
        // What the schedule sent the daemon's group: every signal, or, to a respawn monitor's,
        // SIGKILL only (the rest went to the monitor, which forwards them).
        let signalled = aim.group.map(|g| GroupSignalled {
            group: g.get(),
            signals: sent
                .iter()
                .map(|(sig, _)| *sig)
                .filter(|sig| !aim.soft_to_main || *sig == Signal::SIGKILL)
                .collect(),
        });
        // With a cgroup, it is the kernel's word on what is left of the daemon (its session and
        // its escaped descendants were born inside): stopped and waited for through the cgroup,
        // no scan of `/proc`. The session sweep runs the schedules a cgroup stop does not
        // (`forever`).
        let by_cgroup = !schedule.contains(&Step::Forever)
            && target.record.as_ref().and_then(Cgroup::of_record).is_some();
        let swept = match by_cgroup {
            true => Ok(Leftovers::default()),
            false => sweep(
                &label,
                session,
                escaped,
                &rest,
                begun,
                signalled.as_ref(),
                By::Stop,
            ),
        }
        .and_then(|s| {
            let cgroup = stop_cgroup(ctx, target, &rest, begun, signalled.as_ref(), By::Stop)?;
            Ok(s + cgroup)
        })
        // What a respawn monitor was still waiting for when the schedule came to SIGKILL.
        .map(|s| {
            s + Leftovers {
                stopped: killed_below,
                killed: killed_below > 0,
            }
        });
        return match swept {
            Ok(swept) => {
                let how = format!("{how}{}", leftovers_note(swept));
                finish_gone_saying(ctx, target, pid, &how)
            }
            // Interrupted with its main process gone: stopped as far as that goes, and still
            // wanted stopped; what is left of it is named, for another stop.
            Err(e) if process::interrupted().is_some() => {
                clear_pidfile_warning(ctx, target, pid);
                Err(e)
            }
            Err(e) => {
                mark_stopping(ctx, target, pid, false);
                Err(e)
            }
        };
    }
    // A respawn monitor that got a signal it stops on goes on stopping its program however
    // long that takes: interrupted, the daemon stays wanted stopped (review helper-84: it was
    // said to run on, wanted running, then read as dead and `resurrect` started it again).
    let monitor_stops = aim.soft_to_main
        && sent.first().is_some_and(|(sig, _)| {
            matches!(sig, Signal::SIGTERM | Signal::SIGINT)
                || *sig == crate::spec::stop_settings(target.record.as_ref()).0
        });
    if let (Err(_), Some(sig), true) = (&gone, process::interrupted(), monitor_stops) {
        return Err(Fail::interrupted(
            sig,
            format!(
                "stop of {label} interrupted by SIG{}: its monitor (pid {pid}) goes on stopping it, and it stays wanted stopped",
                signal_name(sig)
            ),
        )
        .into());
    }
    // It survived (or could not be signalled): it is not being stopped any more.
    mark_stopping(ctx, target, pid, false);
    if let (Err(_), Some(sig)) = (&gone, process::interrupted()) {
        return Err(Fail::interrupted(
            sig,
            format!(
                "stop of {label} interrupted by SIG{}: it still runs (pid {pid}), wanted running",
                signal_name(sig)
            ),
        )
        .into());
    }
    gone?;
    let last = schedule
        .iter()
        .rev()
        .find_map(|s| match s {
            Step::Signal(sig) => Some(signal_name(*sig)),
            _ => None,
        })
        .unwrap_or("TERM");
    // SPEC §3: exit 1 naming every pid that survives, not only the main process's.
    let others = match other_survivors(target, pid, session.as_ref(), &escaped)[..] {
        [] => String::new(),
        [one] => format!(", and so is its other process (pid {one})"),
        ref many => format!(
            ", and so are its other processes (pid {})",
            many.iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    bail!(
        "{label} (pid {pid}) is still running after SIG{last} and the whole stop schedule{others}"
    )
}

/// What descends from the daemon's main process `main` (pinned by its pidfd, started at
/// `start_time`) but left its session (`setsid`), held by pidfd before the first signal, so that
/// it can still be stopped once the main process is gone and it has been re-parented (SPEC
/// §3.1): `status` counts it as the daemon's. A respawn monitor is the child subreaper of all of
/// it, double forks included. Without a monitor, a cgroup holds it where the daemon has one
/// (nothing is held then); without either, what has already been re-parented away from the main
/// process cannot be told from a stranger and is not held. Nothing is held without a monitor
/// unless the daemon has a session rdaemon trusts, nor if the main process exited meanwhile:
/// its pid could then have named another process during the walk.
pub(crate) fn hold_escaped(
    target: &Target,
    main: &Process,
    start_time: u64,
    session: Option<&Session>,
) -> Vec<Held> {
    let pid = main.pid();
    let monitor = target
        .record
        .as_ref()
        .is_some_and(|r| r.mode == Mode::Respawn && r.pid == Some(pid.get()));
    let cgroup = target
        .record
        .as_ref()
        .and_then(Cgroup::of_record)
        .is_some_and(|cg| cg.exists());
    // Without a monitor, only a daemon whose session rdaemon made and trusts: "outside its
    // session" means nothing for a pidfile no record describes (whose process's descendants
    // may be a login server's sessions) or a `--foreground` daemon (in its caller's session).
    if !monitor && (cgroup || session.is_none()) {
        return Vec::new();
    }
    let held = session::hold_descendants(pid, start_time, session);
    // Alive now, so alive through the walk: its pid named it all along.
    match main.has_exited() {
        true => Vec::new(),
        false => held,
    }
}

/// The daemon's processes other than its main process `pid` that are still alive when the stop
/// gives up with the main process alive, ascending: the rest of its session, what a respawn
/// monitor held, and what its cgroup holds (SPEC §3.1), with `--main-only` too: stop means gone.
fn other_survivors(
    target: &Target,
    pid: Pid,
    session: Option<&Session>,
    held: &[Held],
) -> Vec<i32> {
    let mut pids: Vec<i32> = session
        .map(|s| s.leftovers().into_iter().map(|e| e.pid).collect())
        .unwrap_or_default();
    pids.extend(held.iter().filter_map(Held::live_pid));
    if let Some(cg) = target.record.as_ref().and_then(Cgroup::of_record) {
        pids.extend(cg.procs().unwrap_or_default());
    }
    pids.retain(|&p| p != pid.get());
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Marks the spec of a daemon that is not running as wanted stopped, under the name's lock that
/// the caller holds. Best effort, as [`mark_stopping`]; true when the spec says so now.
fn mark_wanted_stopped(ctx: &Ctx, target: &Target) -> bool {
    let Some(name) = &target.name else {
        return false;
    };
    let Ok(Some(mut rec)) = Record::load(ctx, name) else {
        return false;
    };
    if rec.stopping {
        return true;
    }
    rec.stopping = true;
    match rec.save_spec(ctx) {
        Ok(()) => true,
        Err(err) => {
            ctx.debug(format!("{err:#}"));
            false
        }
    }
}

/// Marks the spec of the daemon whose main process is `pid` as wanted stopped (or wanted
/// running again, when the stop failed), under the name's lock that the caller holds. Only the
/// spec: the status belongs to the daemon's monitor while it lives. Between the death of the main
/// process and the removal of its pidfile, `status` would otherwise see a pidfile naming a dead
/// process, the sign of a crash: it reads this mark after it has seen the death. Best effort:
/// a record that cannot be written (a read-only directory) must not prevent the stop.
fn mark_stopping(ctx: &Ctx, target: &Target, pid: Pid, on: bool) {
    let Some(name) = &target.name else {
        return;
    };
    // The record as it is now: a respawn monitor may have updated it since the lock was taken.
    match Record::load(ctx, name) {
        Ok(Some(mut rec)) if rec.names_main(pid.get()) && rec.stopping != on => {
            rec.stopping = on;
            if let Err(err) = rec.save_spec(ctx) {
                ctx.debug(format!("{err:#}"));
            }
        }
        _ => {}
    }
}

/// Removes the pidfile of a stopped daemon and says so, with `how` it was stopped.
fn finish_gone_saying(ctx: &Ctx, target: &Target, pid: Pid, how: &str) -> Result<Stopped> {
    clear_pidfile_warning(ctx, target, pid);
    ctx.say(format!("stopped {} (pid {pid}){how}", target.label()));
    Ok(Stopped::Stopped(pid))
}

/// [`clear_pidfile`] once the main process `pid` is gone, warning when it cannot: the daemon
/// is gone whatever happens to its pidfile (a read-only rdaemon directory cannot lose it). A
/// pidfile naming a dead pid reads as "dead" until removed.
fn clear_pidfile_warning(ctx: &Ctx, target: &Target, pid: Pid) {
    if let Err(e) = clear_pidfile(ctx, target, pid) {
        ctx.warn(format!("{e:#}"));
    }
}

/// How long an interrupted `stop` still gives the daemon to act on the stop signal it already
/// got before it says whether the daemon runs on (wanted running again) or is gone (stopped).
const INTERRUPT_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Removes the pidfile once the daemon `pid` is gone: if it names `pid` (or, a `--forking
/// --respawn` program's own pidfile, the program's process the monitor ran). rdaemon's own
/// pidfile, when the record describes it and `pid`, goes also if it holds anything but a live
/// process (garbage, a dead pid), since the daemon (or someone) replaced what rdaemon wrote
/// there. Never the pidfile a `--forking` program writes (`--pidfile`), which rdaemon only
/// reads: that one goes only if it still names the stopped process (SPEC §2.2). A pidfile
/// naming another live process is left alone.
fn clear_pidfile(ctx: &Ctx, target: &Target, pid: Pid) -> Result<()> {
    if pidfile::remove_if_pid(&target.pidfile, pid)? {
        return Ok(());
    }
    // The record's main process, or the program of a respawn monitor that is gone
    // (`Vouch::OrphanedChild`), whose pidfile still names the dead monitor.
    let described = target
        .record
        .as_ref()
        .filter(|r| r.names_main(pid.get()) && r.pidfile == target.pidfile);
    if let Some(rec) = described.filter(|r| r.forking && r.program_pidfile) {
        // The program's own pidfile names its process, the monitor's child in respawn mode.
        if let Some(child) = rec.child_pid.and_then(|c| Pid::new(c).ok()) {
            pidfile::remove_if_pid(&target.pidfile, child)?;
        }
        return Ok(());
    }
    let stale = described.is_some()
        && match pidfile::read(&target.pidfile, false) {
            Content::Missing => false,
            Content::Invalid(_) => true,
            Content::Valid { pid: other, .. } => matches!(process::alive(other), Ok(false)),
        };
    if stale {
        if let Err(e) = pidfile::remove(&target.pidfile) {
            ctx.warn(format!("{e:#}"));
        }
    }
    Ok(())
}

fn signal_error(err: Errno, label: &str, pid: Pid) -> anyhow::Error {
    let msg = format!("cannot signal {label} (pid {pid}): {}", err.desc());
    if err == Errno::EPERM {
        Fail::privilege(msg).into()
    } else {
        anyhow::anyhow!(msg)
    }
}

// Leftovers (SPEC §3.1): what is left of the daemon's session once the main process is gone is
// stopped on the same schedule, so that `stop` returns only when all of it is gone.

/// The schedule the rest of the daemon (all but its main process) lives (SPEC §3): `schedule`
/// itself, or with `--main-only` (`main_only`, systemd's `KillMode=mixed`) the same schedule
/// without its soft signals: the rest gets no TERM (the main process is told to stop, and may
/// end its children its own way), is waited for until the schedule's SIGKILL step, then gets
/// SIGKILL with everything else. Without one (`--no-kill`, a `--retry` of soft signals only)
/// it is only waited for, as long as the schedule waits (`forever`: until it is gone), and
/// whatever is still alive then fails the stop by pid.
pub(crate) fn rest_schedule(schedule: &[Step], main_only: bool) -> Vec<Step> {
    schedule
        .iter()
        .copied()
        .filter(|step| !main_only || !matches!(step, Step::Signal(sig) if *sig != Signal::SIGKILL))
        .collect()
}

/// The daemon's session while its main process `pid` is alive with `start_time`, if a session
/// can be trusted (`session`).
fn live_session(target: &Target, pid: Pid, start_time: u64) -> Option<Session> {
    let rec = target.record.as_ref()?;
    process::read_stat(pid).filter(|s| s.start_time == start_time)?;
    Session::of(rec).ok().flatten()
}

/// What a daemon whose main process is gone left behind, for a `start` whose program never
/// became ready: the rest of its session and of its cgroup (SPEC §3.1), and what `escaped` holds
/// (a monitor's adopted descendants), stopped with `schedule` from now, as `stop` would, and
/// the cgroup removed. How many processes it stopped; an error naming survivors.
pub(crate) fn stop_remains(
    ctx: &Ctx,
    target: &Target,
    schedule: &[Step],
    escaped: Vec<Held>,
) -> Result<usize> {
    let label = target.label();
    let session = match target.record.as_ref() {
        Some(rec) => Session::of(rec)
            .map_err(|e| anyhow::anyhow!("cannot stop {label}: {}", pidfile::os_reason(&e)))?,
        None => None,
    };
    let begun = Instant::now();
    Ok(
        (sweep(&label, session, escaped, schedule, begun, None, By::Start)?
            + stop_cgroup(ctx, target, schedule, begun, None, By::Start)?)
        .stopped,
    )
}

/// With the main process already gone: stops the leftovers of the session the record names
/// with `schedule` (with `--main-only`, the [`rest_schedule`]), printing `stopped leftovers of
/// NAME: N processes`. Whether there were any.
fn stop_leftovers(ctx: &Ctx, target: &Target, schedule: &[Step]) -> Result<bool> {
    let Some(rec) = target.record.as_ref() else {
        return Ok(false);
    };
    let label = target.label();
    let session = Session::of(rec)
        .map_err(|e| anyhow::anyhow!("cannot stop {label}: {}", pidfile::os_reason(&e)))?;
    let begun = Instant::now();
    let swept = sweep(&label, session, Vec::new(), schedule, begun, None, By::Stop)?
        + stop_cgroup(ctx, target, schedule, begun, None, By::Stop)?;
    if swept.stopped == 0 {
        return Ok(false);
    }
    ctx.say(format!(
        "stopped leftovers of {label}: {}{}",
        crate::parse::counted(swept.stopped as u64, "process", "processes"),
        match swept.killed {
            true => " (with SIGKILL)",
            false => "",
        }
    ));
    Ok(true)
}

/// Runs the schedule (anchored at `begun`) against the session's leftovers; how many it stopped.
/// Survivors are an error naming them; a refused signal is exit 4.
fn sweep(
    label: &str,
    session: Option<Session>,
    held: Vec<Held>,
    schedule: &[Step],
    begun: Instant,
    signalled_group: Option<&GroupSignalled>,
    by: By,
) -> Result<Leftovers> {
    if session.is_none() && held.is_empty() {
        return Ok(Leftovers::default());
    }
    let interruptible = by == By::Stop;
    match session::sweep(
        session,
        held,
        schedule,
        begun,
        signalled_group,
        interruptible,
    ) {
        Ok(Swept {
            survivors,
            interrupted: Some(sig),
            ..
        }) if !survivors.is_empty() => Err(leftovers_interrupted(label, sig, &survivors)),
        Ok(Swept {
            stopped,
            survivors,
            killed,
            elusive: false,
            ..
        }) if survivors.is_empty() => Ok(Leftovers { stopped, killed }),
        // Interrupted while the session still showed life it had not found (helper-123).
        Ok(Swept {
            survivors,
            interrupted: Some(sig),
            ..
        }) if survivors.is_empty() => Err(Fail::interrupted(
            sig,
            format!(
                "stop of {label} interrupted by SIG{}: its main process is gone, and processes of its session were still starting and exiting",
                signal_name(sig)
            ),
        )
        .into()),
        Ok(Swept { survivors, .. }) if survivors.is_empty() => bail!(
            "cannot stop {label}: processes of its session keep starting and exiting faster than rdaemon can find them in /proc, to the end of the stop schedule (a fork chain; a cgroup, --cgroup on, or --respawn holds them)"
        ),
        Ok(Swept { survivors, .. }) => {
            let pids: Vec<String> = survivors.iter().map(i32::to_string).collect();
            bail!(
                "cannot stop {label}: its leftover processes {} are still running after the whole stop schedule",
                pids.join(", ")
            )
        }
        Err((pid, e)) => {
            let msg = format!(
                "cannot signal a leftover of {label} (pid {pid}): {}",
                e.desc()
            );
            match e {
                Errno::EPERM => Err(Fail::privilege(msg).into()),
                _ => Err(anyhow::anyhow!(msg)),
            }
        }
    }
}

/// What is left in the daemon's cgroup (SPEC §3.1) once its main process and session are gone
/// (a descendant that left the session with `setsid`), stopped on `schedule` as the session's
/// sweep lives it ([`session::Timeline`], anchored at `begun`): each signal still due (and
/// SIGCONT) to its members, `cgroup.kill` for SIGKILL, each wait on `cgroup.events` (inotify,
/// `populated 0`); then the cgroup is removed. A schedule without a soft signal before its
/// first wait (`--main-only`'s [`rest_schedule`]) only waits until its SIGKILL step. How many
/// processes it held; an error naming them if some survive. `signalled_group` got some of the
/// signals already (its members do not get them twice, and are not counted for them).
fn stop_cgroup(
    ctx: &Ctx,
    target: &Target,
    schedule: &[Step],
    begun: Instant,
    signalled_group: Option<&GroupSignalled>,
    by: By,
) -> Result<Leftovers> {
    let label = target.label();
    let Some(cg) = target
        .record
        .as_ref()
        .and_then(|rec| Cgroup::of_daemon(ctx, rec))
    else {
        return Ok(Leftovers::default());
    };
    if !cg.exists() {
        return Ok(Leftovers::default());
    }
    let fail =
        |e: anyhow::Error| anyhow::anyhow!("cannot stop {label}: {}", crate::exit::render(&e));
    // What it had to stop (SPEC §3): the members it signalled, and those alive at its
    // SIGKILL; not a member of the group that got the first signal and was still exiting
    // (user trial, 2026-12-02: counted one run in four).
    let mut stopped = Vec::new();
    let mut killed = false;
    let mut empty = !cg.populated().map_err(|e| fail(e.into()))?;
    let mut timeline = Timeline::new(schedule);
    while !empty {
        // Ctrl-C: no further signal, no further wait; but members already on their way out
        // (exiting, or gone from `cgroup.procs` while the cgroup is not yet empty) get the
        // moment the main process gets, and the cgroup goes with them, as after any stop
        // (review, 2026-12-03: the stop named no process as still running, and the empty
        // cgroup stayed until the next stop).
        if let Some(sig) = process::interrupted().filter(|_| by == By::Stop) {
            let listed = cg.procs().unwrap_or_default();
            let running: Vec<i32> = listed
                .iter()
                .copied()
                .filter(|&pid| {
                    process::stat_of(pid)
                        .ok()
                        .flatten()
                        .is_some_and(|s| !s.is_exiting())
                })
                .collect();
            if running.is_empty() && cg.wait_empty(INTERRUPT_GRACE).unwrap_or(false) {
                empty = true;
                break;
            }
            // Never an empty list: what is still listed, exiting or not.
            let survivors = match running.is_empty() {
                true => cg.procs().unwrap_or(listed),
                false => running,
            };
            return Err(leftovers_interrupted(&label, sig, &survivors));
        }
        let Some(phase) = timeline.next(begun.elapsed()) else {
            break;
        };
        match phase.signal {
            Some((Signal::SIGKILL, _)) => {
                // Those of the group that got SIGKILL from the schedule already, still being
                // torn down, are not what this stop had to kill.
                let doomed: Vec<i32> = cg
                    .procs()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|&p| {
                        let pgrp = process::Pid::new(p)
                            .ok()
                            .and_then(process::read_stat)
                            .map(|s| s.pgrp);
                        !pgrp.is_some_and(|g| {
                            signalled_group.is_some_and(|s| s.got(g, Signal::SIGKILL))
                        })
                    })
                    .collect();
                cg.kill().map_err(fail)?;
                killed |= !doomed.is_empty();
                stopped.extend(doomed);
            }
            Some((sig, _)) => {
                // The signalled group had its SIGCONT with its signal.
                let skip = signalled_group
                    .filter(|g| g.signals.contains(&sig))
                    .map(|g| g.group);
                cg.signal_members(
                    &[sig, Signal::SIGCONT],
                    skip.as_slice(),
                    &mut stopped,
                    false,
                )
                .map_err(fail)?;
            }
            None => {}
        }
        let left = (begun + phase.until).saturating_duration_since(Instant::now());
        empty = match by {
            By::Stop => cg.wait_empty_interruptible(left),
            By::Start => cg.wait_empty(left),
        }
        .map_err(fail)?;
    }
    if !empty {
        let pids: Vec<String> = cg
            .procs()
            .unwrap_or_default()
            .iter()
            .map(i32::to_string)
            .collect();
        bail!(
            "cannot stop {label}: its leftover processes {} are still running after the whole stop schedule (cgroup '{}')",
            pids.join(", "),
            cg.path().display()
        );
    }
    cg.remove().map_err(fail)?;
    stopped.sort_unstable();
    stopped.dedup();
    Ok(Leftovers {
        stopped: stopped.len(),
        killed,
    })
}

/// Who stops what is left of a daemon: `stop` (whose waits Ctrl-C ends), or `start` clearing
/// up after a program that never became ready (which goes on whatever comes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    Stop,
    Start,
}

/// The error of a stop interrupted by `sig` once the daemon's main process was gone, with
/// `survivors` of the rest of it still alive (exit 128 + the signal's number).
fn leftovers_interrupted(label: &str, sig: Signal, survivors: &[i32]) -> anyhow::Error {
    if survivors.is_empty() {
        // The cgroup is not empty, but lists none: its last members are being torn down.
        return Fail::interrupted(
            sig,
            format!(
                "stop of {label} interrupted by SIG{}: its main process is gone, and what is left of it in its cgroup is still exiting (stop it again to remove the cgroup)",
                signal_name(sig)
            ),
        )
        .into();
    }
    let pids: Vec<String> = survivors.iter().map(i32::to_string).collect();
    let which = match survivors {
        [_] => "its leftover process",
        _ => "its leftover processes",
    };
    let runs = match survivors {
        [_] => "runs",
        _ => "run",
    };
    Fail::interrupted(
        sig,
        format!(
            "stop of {label} interrupted by SIG{}: its main process is gone, but {which} {} still {runs} (stop it again to end them)",
            signal_name(sig),
            pids.join(", ")
        ),
    )
    .into()
}

/// The leftovers a stop ended (SPEC §3.1): how many, and whether some needed SIGKILL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Leftovers {
    stopped: usize,
    killed: bool,
}

impl std::ops::Add for Leftovers {
    type Output = Leftovers;

    fn add(self, other: Leftovers) -> Leftovers {
        Leftovers {
            stopped: self.stopped + other.stopped,
            killed: self.killed || other.killed,
        }
    }
}

/// `; 2 leftover processes stopped (with SIGKILL)` after `stopped NAME (pid N)`, or nothing.
fn leftovers_note(swept: Leftovers) -> String {
    let how = match swept.killed {
        true => " (with SIGKILL)",
        false => "",
    };
    match swept.stopped {
        0 => String::new(),
        1 => format!("; 1 leftover process stopped{how}"),
        n => format!("; {n} leftover processes stopped{how}"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_rest_of_a_main_only_stop_gets_only_the_kill_steps() {
        use Signal::{SIGINT, SIGKILL, SIGTERM};
        let s = Duration::from_secs;
        let default = crate::parse::default_schedule(SIGTERM, s(10), false);
        assert_eq!(rest_schedule(&default, false), default);
        assert_eq!(
            rest_schedule(&default, true),
            [Step::Wait(s(10)), Step::Signal(SIGKILL), Step::Wait(s(5))]
        );
        let no_kill = crate::parse::default_schedule(SIGTERM, s(10), true);
        assert_eq!(rest_schedule(&no_kill, true), [Step::Wait(s(10))]);
        let retry = [
            Step::Signal(SIGTERM),
            Step::Wait(s(1)),
            Step::Signal(SIGINT),
            Step::Wait(s(1)),
            Step::Signal(SIGKILL),
            Step::Wait(s(5)),
            Step::Forever,
        ];
        assert_eq!(
            rest_schedule(&retry, true),
            [
                Step::Wait(s(1)),
                Step::Wait(s(1)),
                Step::Signal(SIGKILL),
                Step::Wait(s(5)),
                Step::Forever
            ]
        );
    }
}
