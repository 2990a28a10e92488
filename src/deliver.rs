//! Sending a signal to a daemon's program (`signal`, `reload`), identity-checked as `stop` is:
//! the daemon is judged from its record, pidfile and `/proc` ([`target::judge`]), its main
//! process pinned by a pidfd whose start time is checked again (`Process::open_verified`), and
//! only then signalled. In respawn mode the program is the monitor's child: the record's
//! `child_pid`, accepted only while it is alive and the pinned monitor's child.
//!
//! Must not: take a name's lock (a signal changes no file), or signal a process that the
//! judgement did not vouch for.

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::sys::signal::Signal;

use crate::exit::{Code, Fail};
use crate::parse::signal_name;
use crate::paths::Ctx;
use crate::pidfile::os_reason;
use crate::process::{self, Pid, Process};
use crate::session;
use crate::state::Mode;
use crate::target::{judge, privilege_error, Main, Target};

/// The signal that `reload` sends to `target`. The one place that decides it: the spec's
/// `--reload-signal` (SPEC §2), HUP for a daemon without a spec or a spec that keeps none.
pub fn reload_signal(target: &Target) -> Signal {
    target
        .record
        .as_ref()
        .and_then(|rec| crate::spec::reload_signal(rec).ok())
        .unwrap_or(crate::spec::RELOAD_SIGNAL)
}

/// Why a signal is sent: `signal` sends what it is told; `reload` must not end the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Signal,
    Reload,
}

/// Sends `sig` to the daemon's program (with `group`, to every process of its process group
/// but a respawn monitor, then to the rest of the daemon: [`signal_rest`]) and says so.
/// Returns `Code::Ok`, or `Code::ProgramNotRunning` (7) when the daemon or its program does
/// not run; an error for a daemon whose state is unknown,
/// and exit 4 for a signal the kernel refused (EPERM). For a `Reload`, an error, and no
/// signal, when the program would be ended by it ([`refuse_fatal_reload`]).
pub fn send(ctx: &Ctx, target: &Target, sig: Signal, group: bool, why: Purpose) -> Result<Code> {
    let label = target.label();
    let name = signal_name(sig);
    // The record is what vouches for the pid: without it (root's 0600 record read by another
    // user, a corrupt one), nothing is signalled. For another user's directory that is
    // insufficient privilege (exit 4, SPEC §3).
    if let Some(why) = &target.record_error {
        return Err(privilege_error(
            ctx,
            anyhow::anyhow!("cannot signal {label}: {why}"),
        ));
    }
    let (pid, start_time) =
        match judge(ctx, target).with_context(|| format!("cannot signal {label}"))? {
            Main::Alive {
                pid, start_time, ..
            } => (pid, start_time),
            Main::NoPidfile | Main::Gone { .. } => return Ok(not_running(ctx, &label)),
            Main::Untrusted { why } => bail!("cannot signal {label}: {why}"),
            Main::Caller { pid, .. } => {
                bail!("cannot signal {label}: {}", Main::caller_refusal(pid))
            }
        };
    let proc_error = |pid: Pid, e: std::io::Error| {
        anyhow::anyhow!(
            "cannot signal {label}: cannot read /proc/{pid}/stat: {}",
            os_reason(&e)
        )
    };
    let main = match Process::open_verified(pid, start_time) {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(not_running(ctx, &label)),
        Err(e) => return Err(proc_error(pid, e)),
    };
    let monitor = target
        .record
        .as_ref()
        .filter(|r| r.mode == Mode::Respawn && r.pid == Some(pid.get()));
    let orphaned = orphan_group(target, &main).filter(|_| group);
    // With `--group`, after its process group, the rest of the daemon (SPEC §5: "all its
    // processes"); said after the group's part.
    let rest = |sent: Result<String, Errno>, group: i32| -> Result<Result<String, Errno>> {
        let Ok(whom) = sent else { return Ok(sent) };
        let n = signal_rest(target, &main, start_time, group, sig, monitor.is_some())?;
        Ok(Ok(match n {
            0 => whom,
            1 => format!("{whom} and 1 other process of the daemon"),
            n => format!("{whom} and {n} other processes of the daemon"),
        }))
    };
    let sent = match (monitor, group) {
        (None, false) => {
            refuse_fatal_reload(why, target, &main, sig)?;
            main.signal(sig).map(|()| format!("pid {pid}"))
        }
        (None, true) => match main.own_group_checked().map_err(|e| proc_error(pid, e))? {
            Some(g) => rest(
                main.signal_group(g, sig).map(|()| format!("process group {g}")),
                g.get(),
            )?,
            // The program of a respawn monitor that was killed is still in the group the
            // monitor led (review, 2026-12-02: refused): its members, the program among them.
            None if orphaned.is_some() => {
                let group = orphaned.unwrap_or_default();
                signal_members(&main, group, sig).map(|n| match n {
                    1 => format!("1 process of process group {group}"),
                    n => format!("{n} processes of process group {group}"),
                })
            }
            None => bail!(
                "cannot signal {label}'s process group: pid {pid} does not lead its own group; signal it without --group"
            ),
        },
        (Some(rec), false) => {
            let Some(child) = live_child(&main, rec.child_pid).map_err(|e| proc_error(pid, e))?
            else {
                ctx.say(format!(
                    "{label}'s program is not running (its monitor, pid {pid}, is restarting it)"
                ));
                return Ok(Code::ProgramNotRunning);
            };
            let child_pid = child.pid();
            refuse_fatal_reload(why, target, &child, sig)?;
            child.signal(sig).map(|()| format!("pid {child_pid}"))
        }
        (Some(_), true) => rest(
            signal_members(&main, pid.get(), sig).map(|n| match n {
                1 => "1 process".to_owned(),
                n => format!("{n} processes"),
            }),
            pid.get(),
        )?,
    };
    match sent {
        Ok(whom) => {
            ctx.say(format!("sent SIG{name} to {label} ({whom})"));
            Ok(Code::Ok)
        }
        Err(Errno::ESRCH) => Ok(not_running(ctx, &label)),
        Err(e) => {
            let msg = format!("cannot signal {label} (pid {pid}): {}", e.desc());
            match e {
                Errno::EPERM => Err(Fail::privilege(msg).into()),
                _ => Err(anyhow::anyhow!(msg)),
            }
        }
    }
}

/// A reload must not be what ends the daemon: a program that neither catches, ignores nor
/// blocks the reload signal (python's `http.server` and HUP) would die of it, as `kill -HUP`
/// would make it. Refused, naming what to do instead; `signal` sends it anyway. Nor, when
/// `reload` waits for the program's `RELOADING=1`, a signal the program ignores.
fn refuse_fatal_reload(
    why: Purpose,
    target: &Target,
    program: &Process,
    sig: Signal,
) -> Result<()> {
    if why == Purpose::Reload && program.would_be_ended_by(sig) {
        let name = signal_name(sig);
        // The commands to type: without a record, the daemon goes by its pidfile, and there
        // is no command line to restart it with.
        let instead = match (&target.record, &target.name) {
            (Some(_), Some(n)) => {
                format!("`rdaemon restart {n}` restarts it, `rdaemon signal {name} {n}`")
            }
            _ => format!(
                "`rdaemon signal {name} --pidfile {}`",
                target.pidfile.display()
            ),
        };
        bail!(
            "not reloading {}: its program (pid {}) does not handle SIG{name}, which would end it; {instead} sends it anyway",
            target.label(),
            program.pid()
        );
    }
    if why == Purpose::Reload && crate::commands::reload::waits(target) && program.ignores(sig) {
        // Sent, it would do nothing, and `reload` would wait out its whole timeout for a
        // `RELOADING=1` that cannot come (redis-server ignores SIGHUP). Without the wait it is
        // sent: it does no harm.
        let name = signal_name(sig);
        bail!(
            "not reloading {}: its program (pid {}) ignores SIG{name}, so it would not reload and say RELOADING=1 (its reload signal is set with --reload-signal)",
            target.label(),
            program.pid()
        );
    }
    Ok(())
}

fn not_running(ctx: &Ctx, label: &str) -> Code {
    ctx.say(format!("{label} is not running"));
    Code::ProgramNotRunning
}

/// The daemon's program, when it runs now: its main process, or a respawn monitor's live
/// child. For what rdaemon would do with a signal (`export` and the reload signal); `None`
/// when it does not run or cannot be told.
pub fn running_program(ctx: &Ctx, target: &Target) -> Option<Process> {
    let Ok(Main::Alive {
        pid, start_time, ..
    }) = judge(ctx, target)
    else {
        return None;
    };
    let main = Process::open_verified(pid, start_time).ok()??;
    match target
        .record
        .as_ref()
        .filter(|r| r.mode == Mode::Respawn && r.pid == Some(pid.get()))
    {
        Some(rec) => live_child(&main, rec.child_pid).ok()?,
        None => Some(main),
    }
}

/// The monitor's program: `child_pid`, pinned by a pidfd, if it is alive and a child of
/// `monitor` (which is pinned, so its pid is not reused while we look) and not a process rdaemon
/// must never signal. A pid reused since the record was written has another parent.
fn live_child(monitor: &Process, child_pid: Option<i32>) -> std::io::Result<Option<Process>> {
    let Some(child) = child_pid.and_then(|raw| Pid::new(raw).ok()) else {
        return Ok(None);
    };
    let process = match Process::open(child) {
        Ok(p) => p,
        Err(e) if e.raw_os_error() == Some(Errno::ESRCH as i32) => return Ok(None),
        Err(e) => return Err(e),
    };
    // Checked after the pidfd pins the pid: the process it pins is the monitor's child.
    let ok = process::stat(child)?.is_some_and(|s| s.is_alive() && s.ppid == monitor.pid().get())
        && !monitor.has_exited()
        && process::refuse_protected(child)?.is_none();
    Ok(ok.then_some(process))
}

/// The process group of a respawn daemon's program whose monitor is gone (`main`, the record's
/// `child_pid`): the one the dead monitor led, which the program is still in.
fn orphan_group(target: &Target, main: &Process) -> Option<i32> {
    let rec = target
        .record
        .as_ref()
        .filter(|r| r.mode == Mode::Respawn && r.child_pid == Some(main.pid().get()))?;
    let pgrp = process::read_stat(main.pid())?.pgrp;
    (Some(pgrp) == rec.pid).then_some(pgrp)
}

/// Sends `sig` to the processes of the daemon (SPEC §3.1) outside process group `group`, which
/// got it already, `main` (the main process, or a respawn `monitor`) among them: what the
/// daemon's cgroup holds; without one, the rest of the session rdaemon made for it, and the
/// monitor's descendants that left it. Each is pinned by a pidfd and checked again (in the
/// cgroup; of the start time read), as `stop` does; a respawn monitor, which leads `group`, its
/// own helpers ([`monitor_helper_groups`]) and rdaemon's own ancestors (a shell of the
/// daemon's that ran it) are never signalled. How many got it.
fn signal_rest(
    target: &Target,
    main: &Process,
    start_time: u64,
    group: i32,
    sig: Signal,
    monitor: bool,
) -> Result<usize> {
    let Some(rec) = target.record.as_ref() else {
        return Ok(0);
    };
    let own = main.pid().get();
    let mut spared = vec![group];
    if monitor {
        spared.extend(monitor_helper_groups(own, rec.child_pid));
    }
    if let Some(cgroup) = crate::cgroup::Cgroup::of_record(rec).filter(|c| c.exists()) {
        let mut signalled = Vec::new();
        // A cgroup is root's: no signal to its members is refused for want of privilege.
        cgroup
            .signal_members(&[sig], &spared, &mut signalled, true)
            .map_err(|e| rest_error(target, group, &crate::exit::render(&e), None))?;
        return Ok(signalled.len());
    }
    let session = session::Session::of(rec).unwrap_or(None);
    let mut found: Vec<session::Entry> = session.iter().flat_map(|s| s.leftovers()).collect();
    if monitor {
        found.extend(
            session::descendants_of(own)
                .into_iter()
                .filter(|e| e.stat.start_time >= start_time),
        );
    }
    found.retain(|e| e.pid != own && !spared.contains(&e.stat.pgrp));
    found.sort_by_key(|e| e.pid);
    found.dedup_by_key(|e| e.pid);
    let mut sent = 0;
    let mut refused = None;
    for member in session::hold(found.into_iter()) {
        match member.signal(sig) {
            Ok(()) => sent += 1,
            Err(Errno::ESRCH) => {}
            // The others still get it; the refusal is said once all have been tried.
            Err(e) => refused = Some(e),
        }
    }
    match refused {
        None => Ok(sent),
        Some(e) => Err(rest_error(target, group, e.desc(), Some(e))),
    }
}

/// The process groups led by the children of a respawn monitor `monitor` other than its
/// program `child`: its `--on-exit` and `--health cmd:` commands, which run in groups of their
/// own (helper-99's review: a `signal --group HUP` reached a health check, which the monitor
/// then took for failed and restarted a healthy program). A process of the program's that
/// led a group of its own and was re-parented to the monitor is spared with them.
fn monitor_helper_groups(monitor: i32, child: Option<i32>) -> Vec<i32> {
    session::children_of(monitor)
        .into_iter()
        .filter(|&c| Some(c) != child)
        .filter(|&c| {
            Pid::new(c)
                .ok()
                .and_then(process::read_stat)
                .is_some_and(|s| s.pgrp == c)
        })
        .collect()
}

/// The error of a signal refused to part of the daemon (`why`; `errno`, the kernel's refusal
/// if that is what it was), once its process group had it: exit 4 for EPERM.
fn rest_error(target: &Target, group: i32, why: &str, errno: Option<Errno>) -> anyhow::Error {
    let msg = format!(
        "cannot signal every process of {} (process group {group} got it): {why}",
        target.label(),
    );
    match errno {
        Some(Errno::EPERM) => Fail::privilege(msg).into(),
        _ => anyhow::anyhow!(msg),
    }
}

/// Sends `sig` to every member of process group `group` but `anchor`'s leader: the group a
/// respawn monitor leads (`anchor`, the monitor: it forwards some signals to its child, which
/// would then get them twice, and stops the daemon on TERM), or the one a killed monitor led
/// (`anchor`, its program, is signalled too). Each member is pinned by a pidfd and checked to be
/// in the group while `anchor` lives in it (so the group id cannot have been reused). Returns
/// how many processes got it.
fn signal_members(anchor: &Process, group: i32, sig: Signal) -> Result<usize, Errno> {
    let anchored = || {
        !anchor.has_exited()
            && process::read_stat(anchor.pid()).is_some_and(|s| s.is_alive() && s.pgrp == group)
    };
    let mut sent = 0;
    for raw in session::all_pids() {
        let Ok(pid) = Pid::new(raw) else { continue };
        if raw == group || process::read_stat(pid).is_none_or(|s| s.pgrp != group) {
            continue;
        }
        // Never an ancestor of rdaemon or a kernel thread, whatever group it is in.
        if !matches!(process::refuse_protected(pid), Ok(None)) {
            continue;
        }
        let Ok(member) = Process::open(pid) else {
            continue;
        };
        let still = process::read_stat(pid).is_some_and(|s| s.is_alive() && s.pgrp == group);
        if !still || !anchored() {
            continue;
        }
        match member.signal(sig) {
            Ok(()) => sent += 1,
            Err(Errno::ESRCH) => {}
            Err(e) => return Err(e),
        }
    }
    if sent == 0 {
        return Err(Errno::ESRCH);
    }
    Ok(sent)
}
