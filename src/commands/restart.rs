//! `rdaemon restart`: under the name's lock, stop the daemon if it runs, then start it again
//! from its record, with whatever the command line gives overriding the record.

use anyhow::{bail, Context, Result};

use crate::cli::RestartArgs;
use crate::exit::{Code, Fail};
use crate::parse::{signal_name, Name};
use crate::paths::Ctx;
use crate::pidfile::NameLock;
use crate::spec::Spec;
use crate::state::{Record, Wanted};
use crate::target::{
    judge, privilege_error, resolve_many, resolve_running, several_error, Main, Many, Resolved,
    Target,
};

use super::start::{command_line, load_record_warning, no_spec, start_locked, warn_relative_args};
use super::stop::stop_locked;

/// `rdaemon restart`: one daemon as always; several (names, globs, `--all`) one after the
/// other, each under its own lock, the exit code the worst of theirs (4 > 1 > 0).
pub fn run(args: RestartArgs, ctx: &Ctx) -> Result<Code> {
    // A malformed --retry is refused before anything is stopped.
    args.stop.schedule(crate::spec::stop_settings(None))?;
    // Ctrl-C (or TERM, HUP) while the daemon is being stopped ends the stop as it ends
    // `stop`'s, which puts back what it marked, instead of killing rdaemon with the spec marked
    // stopped while the daemon runs on.
    crate::process::catch_interrupts().context("cannot install signal handlers")?;
    let Some(single) = args.target.single() else {
        if !args.program.is_empty() {
            return Err(Fail::usage(
                "a new command line (-- PROGRAM) fits one daemon: restart several without it, or name one",
            )
            .into());
        }
        let (targets, unknown) = match resolve_many(ctx, &args.target, true)? {
            Many::Picked { targets, unknown } => (targets, unknown),
            Many::NoDaemons => bail!("no daemons to restart"),
            Many::Several(names) => return Err(several_error(&names).into()),
        };
        for why in &unknown {
            eprintln!("rdaemon: {why}");
        }
        let code = super::each(targets, |target| restart_one(ctx, &args, target, true))?;
        return Ok(match unknown.is_empty() {
            true => code,
            false => Code::worst([code, Code::Failure]),
        });
    };
    let target = match resolve_running(ctx, &single)? {
        Resolved::One(t) => *t,
        Resolved::NoDaemons => {
            return Err(Fail::usage(
                "no daemons to restart: name one and give its command line (rdaemon restart NAME -- PROGRAM ARGS)",
            )
            .into())
        }
        Resolved::Several(names) => return Err(several_error(&names).into()),
    };
    // Given a new command line, it starts the daemon anew.
    if args.program.is_empty() {
        crate::target::refuse_unknown_pidfile(ctx, &single, &target)?;
    }
    restart_one(ctx, &args, target, single.given_name().is_some())
}

/// Restarts one daemon under its lock; `named` when the user named it.
fn restart_one(ctx: &Ctx, args: &RestartArgs, target: Target, named: bool) -> Result<Code> {
    let Some(name) = target.name.clone() else {
        return Err(Fail::usage(format!(
            "cannot restart '{}': its file name is not a valid daemon name; give --name",
            target.pidfile.display()
        ))
        .into());
    };
    // Each daemon's start holds the catch (below); its stop has it again.
    crate::process::catch_interrupts().context("cannot install signal handlers")?;
    if let Some(sig) = crate::process::interrupted() {
        return Err(Fail::interrupted(
            sig,
            format!(
                "not restarting {name}: interrupted by SIG{}",
                signal_name(sig)
            ),
        )
        .into());
    }
    ctx.ensure_dir().map_err(|e| privilege_error(ctx, e))?;
    let lock = NameLock::acquire(&ctx.lock_path(&name))
        .map_err(|e| privilege_error(ctx, e.context(format!("cannot restart {name}"))))?;
    let restarted = restart_locked(ctx, args, target, name.clone(), named);
    if restarted.is_err() {
        // A name rdaemon never knew (no spec, or a start that failed) leaves no lock file.
        super::release_lock(ctx, &name, lock);
    }
    restarted
}

/// Restarts daemon `name` while its lock is held.
fn restart_locked(
    ctx: &Ctx,
    args: &RestartArgs,
    mut target: Target,
    name: Name,
    named: bool,
) -> Result<Code> {
    if target.record.is_some() || named {
        // "It will be replaced" only when there is a command line to replace it with.
        target.record = load_record_warning(ctx, &name, !args.program.is_empty())?;
    }
    let mut spec = match &target.record {
        Some(rec) => Spec::from_record(ctx, rec)?,
        None if args.program.is_empty() => {
            return Err(no_spec(
                ctx,
                &name,
                "restart",
                "rdaemon restart {name} -- PROGRAM ARGS",
            ))
        }
        None => Spec::new(ctx, name.clone(), Some(&target.pidfile), Vec::new())?,
    };
    if !args.program.is_empty() {
        spec.command = command_line(&args.program)?;
    }
    spec.apply(&args.opts)?;
    if !args.program.is_empty() && args.opts.chdir.is_none() {
        warn_relative_args(ctx, &spec);
    }
    // A start bound to fail (a user or group that cannot be used, a missing program, a full
    // disk, a log file that cannot be opened safely) must not cost the running daemon its
    // life: check before stopping it.
    crate::preflight::preflight(ctx, &spec)?;
    // So is a `--ready tcp:`/`http:` port another process listens on (SPEC §2.1): the start
    // would refuse it once the daemon is stopped. A listener of the daemon itself is no
    // obstacle: its stop frees the port.
    crate::preflight::check_port(ctx, &spec, || {
        let main = match judge(ctx, &target) {
            Ok(Main::Alive { pid, .. }) => Some(pid.get()),
            _ => None,
        };
        crate::preflight::own_processes(target.record.as_ref(), main, true)
    })?;
    // The running daemon stops as its spec says, unless the command line says otherwise.
    let schedule = args
        .stop
        .schedule(crate::spec::stop_settings(target.record.as_ref()))?;
    let stopped = stop_locked(ctx, &target, &schedule, false);
    keep_wanted(ctx, &name, target.record.as_ref());
    if let Err(refused) = stopped {
        // A pidfile holding no pid rdaemon may act on (garbage, a symlink), where no record
        // names a live process either, is one `start` replaces with a warning (SPEC §2): the
        // restart goes on to that start rather than stopping short of it. Nothing was signalled.
        let garbage = matches!(
            crate::pidfile::read(&target.pidfile, ctx.is_root),
            crate::pidfile::Content::Invalid(_)
        ) && matches!(judge(ctx, &target), Ok(Main::Untrusted { .. }));
        if !garbage {
            return Err(refused);
        }
    }
    // The start catches the signals itself where it waits, and stops what it started on
    // them: its own waits must not end early on the stop's catch.
    crate::process::hold_interrupts();
    crate::fault::point("restart-before-start");
    // Interrupted once the stop was done (held or not): not started again. Wanted running
    // still (above), so `status` says it is dead and `resurrect` brings it back. One that
    // comes from here on is the start's: it ends the start before the launch if it can
    // (`Interrupt::catch` raises it again for the start's own catch).
    if let Some(sig) = crate::process::caught() {
        return Err(Fail::interrupted(
            sig,
            format!(
                "restart of {name} interrupted by SIG{} after its stop: it is not started again (rdaemon start {name} starts it)",
                signal_name(sig)
            ),
        )
        .into());
    }
    let started = start_locked(ctx, &spec, target.record);
    // A start that waits for nothing (`--ready exec`) does not catch the signals: one that
    // came meanwhile did not stop it. It runs; the restart is done (as a stop the signal came
    // too late for is), and the next name is not restarted.
    if started.is_ok() {
        crate::commands::start::warn_started_regardless(ctx, &name);
    }
    started
}

/// Puts back `wanted: running` in the spec of `name` when it said so before the restart
/// (`before`, its record then). The stop marks the spec wanted stopped before its first signal,
/// so that `status` says `stopped`, not `dead`, while the daemon goes (SPEC §1), but a restart
/// is no wish to stop it: a start that fails after the stop (a port taken meanwhile, a program
/// never ready) or a restart killed between the two must leave it wanted running, `dead`, for
/// `resurrect` to bring back, not `stopped` as if a user had stopped it. One wanted stopped
/// before stays so. Best effort, as the stop's own mark: the start that follows writes the
/// spec anyway, and says so if it cannot.
fn keep_wanted(ctx: &Ctx, name: &Name, before: Option<&Record>) {
    if !before.is_some_and(|r| r.wanted() == Wanted::Running) {
        return;
    }
    if let Ok(Some(mut rec)) = Record::load(ctx, name) {
        if rec.stopping {
            rec.stopping = false;
            if let Err(err) = rec.save_spec(ctx) {
                ctx.warn(format!("{err:#}"));
            }
        }
    }
}
