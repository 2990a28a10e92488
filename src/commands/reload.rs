//! `rdaemon reload NAME...`: send each daemon its reload signal (`deliver::reload_signal`, the
//! one place that picks it: the spec's `--reload-signal`, HUP by default), to its main program
//! as `signal` does, unless it would end that program (it neither catches, ignores nor
//! blocks the signal: `deliver::Purpose::Reload`). Exit 7 for a daemon that is not running. In
//! respawn mode with `--ready notify` it then waits until the program has said `RELOADING=1`
//! and then `READY=1`: its monitor counts such reloads in the status (`reloads`), and
//! `reload` waits for the count to grow, within `--timeout` (default: the daemon's ready
//! timeout), reading the status file (SPEC §5, §6).

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::cli::ReloadArgs;
use crate::deliver;
use crate::exit::Code;
use crate::parse::format_duration;
use crate::paths::Ctx;
use crate::ready::ReadySpec;
use crate::state::{Mode, NotifyState, Status};
use crate::target::{judge, Main, Target, Vouch};

/// How often the status is read while `reload` waits.
const LOOK_EVERY: Duration = Duration::from_millis(10);

/// `rdaemon reload`: each daemon in turn; the exit code is the worst (4 > 1 > 7 > 0).
pub fn run(args: ReloadArgs, ctx: &Ctx) -> Result<Code> {
    // The count of finished reloads each daemon's status shows before its signal.
    let before = std::cell::RefCell::new(std::collections::HashMap::new());
    let sig_of = |target: &Target| {
        if let Some(name) = target.name.as_ref().filter(|_| waits(target)) {
            // Only a live monitor counts the program's reloads: the program of one that was
            // killed (`Vouch::OrphanedChild`) gets the signal, but nothing hears its word.
            let vouched = match judge(ctx, target) {
                Ok(Main::Alive { vouched, .. }) => Some(vouched),
                _ => None,
            };
            if vouched.is_some_and(|v| v != Vouch::Record) {
                ctx.warn(format!(
                    "not waiting for {} to finish reloading: no monitor of it runs to hear its READY=1",
                    target.label()
                ));
            } else if let Some(status) = Status::load(ctx, name)
                .ok()
                .flatten()
                .filter(|_| vouched.is_some())
            {
                before
                    .borrow_mut()
                    .insert(name.clone(), (status.notify.reloads, status.restarts));
            }
        }
        deliver::reload_signal(target)
    };
    let then = |target: &Target, code: Code| {
        // The notify socket lives only as long as `start` waits, without a monitor: a program
        // that says RELOADING=1 now sends to nothing, and many a client fails on it (the user
        // trial of helper-121: a Python program's sendto raised, and it died). Said once the
        // signal went (helper-123: not of a daemon that is not running).
        let exec_notify = target
            .record
            .as_ref()
            .is_some_and(|r| r.mode != Mode::Respawn && r.ready == ReadySpec::Notify.to_string());
        if exec_notify && code == Code::Ok {
            ctx.warn(format!(
                "{} runs without a monitor: its notify socket went when 'start' returned, so nothing hears a RELOADING=1 or READY=1 it sends now ('start --respawn' keeps the socket for the program's life)",
                target.label()
            ));
        }
        let Some(name) = target
            .name
            .as_ref()
            .filter(|_| code == Code::Ok && waits(target))
        else {
            return Ok(code);
        };
        let Some(&(count, restarts)) = before.borrow().get(name) else {
            return Ok(code);
        };
        let timeout = args.timeout.unwrap_or_else(|| ready_timeout(target));
        await_reload(ctx, target, (count, restarts), timeout)
    };
    let why = deliver::Purpose::Reload;
    super::deliver_each_then(ctx, &args.target, false, why, sig_of, then)
}

/// Whether `reload` waits for the program's word: respawn mode with `--ready notify`.
pub(crate) fn waits(target: &Target) -> bool {
    target
        .record
        .as_ref()
        .is_some_and(|r| r.mode == Mode::Respawn && r.ready == ReadySpec::Notify.to_string())
}

fn ready_timeout(target: &Target) -> Duration {
    target
        .record
        .as_ref()
        .and_then(|r| r.ready_timeout)
        .unwrap_or(crate::spec::Spec::default().ready_timeout)
}

/// Waits until the status of `target` counts more than `count` finished reloads; fails at once
/// if it counts more than `restarts` restarts meanwhile: the program ended during its reload
/// (user trial, 2026-12-03: the wait ran out its timeout, and blamed a missing READY=1 that the
/// new program had in fact sent).
fn await_reload(
    ctx: &Ctx,
    target: &Target,
    (count, restarts): (u64, u32),
    timeout: Duration,
) -> Result<Code> {
    let label = target.label();
    let Some(name) = &target.name else {
        return Ok(Code::Ok);
    };
    let monitor = target.record.as_ref().and_then(|r| r.pid);
    let deadline = Instant::now() + timeout;
    let mut reloading = false;
    loop {
        let status = Status::load(ctx, name)?.unwrap_or_default();
        if status.pid != monitor {
            bail!(
                "cannot reload {label}: its monitor (pid {}) went away",
                monitor.unwrap_or_default()
            );
        }
        if status.notify.reloads > count {
            ctx.say(format!("reloaded {label}"));
            return Ok(Code::Ok);
        }
        if status.restarts > restarts || (status.child_pid.is_none() && status.last_exit.is_some())
        {
            let how = status
                .last_exit
                .as_ref()
                .map_or_else(|| "ended".to_owned(), |e| e.describe());
            bail!("cannot reload {label}: its program {how} while it reloaded");
        }
        reloading |= status.notify.notify_state == Some(NotifyState::Reloading);
        if Instant::now() >= deadline {
            let what = if reloading {
                "it sent RELOADING=1 but no READY=1 since"
            } else {
                "it sent no RELOADING=1"
            };
            bail!(
                "{label} did not finish reloading within {}: {what}",
                format_duration(timeout)
            );
        }
        std::thread::sleep(LOOK_EVERY.min(deadline.saturating_duration_since(Instant::now())));
    }
}
