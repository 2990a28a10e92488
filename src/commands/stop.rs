//! `rdaemon stop`: run the stop schedule (signal the group, wait on the pidfd, escalate) against
//! a daemon that verifiably is the one the pidfile and record describe.

use anyhow::{bail, Result};
use nix::errno::Errno;
use nix::sys::signal::Signal;

use crate::cli::StopArgs;
use crate::exit::{Code, Fail};
use crate::parse::{default_schedule, parse_schedule, signal_name, Step};
use crate::paths::Ctx;
use crate::pidfile;
use crate::process::{Pid, Process};
use crate::progress::Spinner;
use crate::state::Mode;
use crate::target::{judge, resolve, several_error, still_same, Resolved, State, Target};

/// How a stop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It was not running (a stale pidfile may have been removed).
    NotRunning,
    /// It ran and is gone now.
    Stopped(Pid),
}

/// `rdaemon stop`.
pub fn run(args: StopArgs, ctx: &Ctx) -> Result<Code> {
    let schedule = match &args.retry {
        Some(s) => {
            parse_schedule(s, args.signal).map_err(|e| Fail::usage(format!("--retry: {e}")))?
        }
        None => default_schedule(args.signal, args.timeout, args.no_kill),
    };
    let mut target = match resolve(ctx, &args.target)? {
        Resolved::One(t) => *t,
        Resolved::NoDaemons => {
            ctx.say("no daemons");
            return Ok(Code::Ok);
        }
        Resolved::Several(names) => return Err(several_error(&names).into()),
    };
    let lock = target.lock(ctx)?;
    if let Some(why) = &target.record_error {
        ctx.warn(format!(
            "{why}; treating the pidfile as one without a record"
        ));
    }
    stop_locked(ctx, &target, &schedule, args.main_only)?;
    // A name rdaemon never knew leaves no lock file behind (forget's rule: removed while held).
    if let (Some(lock), Some(name)) = (&lock, &target.name) {
        if target.record.is_none() && !ctx.record_path(name).exists() && !target.pidfile.exists() {
            let _ = lock.remove_file();
        }
    }
    Ok(Code::Ok)
}

/// Stops the daemon while its lock is held. Prints the outcome; errors name the daemon.
pub fn stop_locked(
    ctx: &Ctx,
    target: &Target,
    schedule: &[Step],
    main_only: bool,
) -> Result<Stopped> {
    let label = target.label();
    let (pid, start_time) = match judge(ctx, target) {
        State::Stopped => {
            ctx.say(format!("{label} is not running"));
            return Ok(Stopped::NotRunning);
        }
        State::Dead { why, .. } => {
            pidfile::remove(&target.pidfile)?;
            ctx.say(format!(
                "{label} is not running ({why}; removed stale pidfile '{}')",
                target.pidfile.display()
            ));
            return Ok(Stopped::NotRunning);
        }
        State::Unknown { why } => bail!("cannot stop {label}: {why}"),
        State::Running {
            pid, start_time, ..
        } => (pid, start_time),
    };
    let process = match Process::open(pid) {
        Ok(p) => p,
        Err(_) => return finish_gone(ctx, target, pid),
    };
    // The pid could have been reused between judging it and opening the pidfd: check again
    // now that the pidfd pins the process.
    if !still_same(pid, start_time) {
        return finish_gone(ctx, target, pid);
    }
    let aim = Aim {
        group: if main_only { None } else { process.own_group() },
        // A respawn monitor forwards TERM and INT to its child itself: sent to the whole group,
        // the child would get them twice, and a second TERM cuts many a graceful shutdown short.
        soft_to_main: target
            .record
            .as_ref()
            .is_some_and(|r| r.mode == Mode::Respawn && r.pid == Some(pid.get())),
    };
    ctx.debug(match (aim.group, aim.soft_to_main) {
        (Some(g), false) => format!("signalling process group {g} of {label}"),
        (Some(g), true) => format!("signalling the monitor {pid} of {label}, SIGKILL to group {g}"),
        (None, _) => format!("signalling only pid {pid} of {label}"),
    });
    let mut spinner = Spinner::new(ctx, format!("stopping {label} (pid {pid})"));
    let gone = run_schedule_with(&process, aim, schedule, &mut spinner);
    spinner.finish();
    if gone.map_err(|e| signal_error(e, &label, pid))? {
        return finish_gone(ctx, target, pid);
    }
    let last = schedule
        .iter()
        .rev()
        .find_map(|s| match s {
            Step::Signal(sig) => Some(signal_name(*sig)),
            _ => None,
        })
        .unwrap_or("TERM");
    bail!("{label} (pid {pid}) is still running after SIG{last} and the whole stop schedule")
}

fn finish_gone(ctx: &Ctx, target: &Target, pid: Pid) -> Result<Stopped> {
    // The daemon is gone whatever happens to its pidfile (a read-only rdaemon directory cannot
    // lose it): say so, and warn. A pidfile naming a dead pid reads as "dead" until removed.
    if let Err(e) = pidfile::remove_if_pid(&target.pidfile, pid) {
        ctx.warn(format!("{e:#}"));
    }
    ctx.say(format!("stopped {} (pid {pid})", target.label()));
    Ok(Stopped::Stopped(pid))
}

fn signal_error(err: Errno, label: &str, pid: Pid) -> anyhow::Error {
    let msg = format!("cannot signal {label} (pid {pid}): {}", err.desc());
    if err == Errno::EPERM {
        Fail::privilege(msg).into()
    } else {
        anyhow::anyhow!(msg)
    }
}

/// Where a stop schedule's signals go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aim {
    /// The process group the daemon leads, when the signals go to the group.
    pub group: Option<Pid>,
    /// Signals other than SIGKILL go to the main process only (a respawn monitor, which
    /// forwards them to its child); SIGKILL still goes to the group.
    pub soft_to_main: bool,
}

/// Runs a stop schedule (OpenRC's `run_stop_schedule`): each signal goes where `aim` says,
/// followed by SIGCONT so that a stopped process can act on it; each wait returns as soon as the
/// main process exits. Returns whether it exited.
pub fn run_schedule(process: &Process, aim: Aim, schedule: &[Step]) -> Result<bool, Errno> {
    run_schedule_with(process, aim, schedule, &mut Spinner::off("stopping"))
}

/// [`run_schedule`], showing the waits on `spinner` (with the last signal sent).
pub fn run_schedule_with(
    process: &Process,
    aim: Aim,
    schedule: &[Step],
    spinner: &mut Spinner,
) -> Result<bool, Errno> {
    let mut i = 0;
    while i < schedule.len() {
        match schedule[i] {
            Step::Signal(sig) => {
                if process.has_exited() {
                    return Ok(true);
                }
                spinner.set_detail(format!("after SIG{}", signal_name(sig)));
                match send(process, aim, sig) {
                    Ok(()) => {}
                    Err(Errno::ESRCH) => return Ok(true),
                    Err(e) => return Err(e),
                }
            }
            Step::Wait(d) => {
                if spinner
                    .wait_with(d, |slice| process.wait_exit(slice))
                    .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?
                {
                    return Ok(true);
                }
            }
            Step::Forever => {
                i = 0;
                continue;
            }
        }
        i += 1;
    }
    Ok(process.has_exited())
}

fn send(process: &Process, aim: Aim, sig: Signal) -> Result<(), Errno> {
    let group = aim
        .group
        .filter(|_| sig == Signal::SIGKILL || !aim.soft_to_main);
    let deliver = |s| match group {
        Some(g) => process.signal_group(g, s),
        None => process.signal(s),
    };
    deliver(sig)?;
    if sig != Signal::SIGKILL && sig != Signal::SIGCONT {
        // Best effort: the process may already be gone.
        let _ = deliver(Signal::SIGCONT);
    }
    Ok(())
}
