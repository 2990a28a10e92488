//! `rdaemon restart`: under the name's lock, stop the daemon if it runs, then start it again
//! from its record, with whatever the command line gives overriding the record.

use std::time::Duration;

use anyhow::Result;
use nix::sys::signal::Signal;

use crate::cli::RestartArgs;
use crate::exit::{Code, Fail};
use crate::parse::default_schedule;
use crate::paths::Ctx;
use crate::pidfile::NameLock;
use crate::target::{resolve, several_error, Resolved};

use super::start::{command_line, load_record_for_start, start_locked, Spec};
use super::stop::stop_locked;

/// `rdaemon restart`.
pub fn run(args: RestartArgs, ctx: &Ctx) -> Result<Code> {
    let mut target = match resolve(ctx, &args.target)? {
        Resolved::One(t) => *t,
        Resolved::NoDaemons => {
            return Err(Fail::usage(
                "no daemons to restart: name one and give its command line (rdaemon restart NAME -- PROGRAM ARGS)",
            )
            .into())
        }
        Resolved::Several(names) => return Err(several_error(&names).into()),
    };
    let Some(name) = target.name.clone() else {
        return Err(Fail::usage(format!(
            "cannot restart '{}': its file name is not a valid daemon name; give --name",
            target.pidfile.display()
        ))
        .into());
    };
    ctx.ensure_dir()?;
    let _lock = NameLock::acquire(&ctx.lock_path(&name))?;
    if target.record.is_some() || args.target.given_name().is_some() {
        target.record = load_record_for_start(ctx, &name);
    }
    let mut spec = match &target.record {
        Some(rec) => Spec::from_record(ctx, rec)?,
        None if args.program.is_empty() => {
            return Err(Fail::usage(format!(
            "no record for {name}: give its command line (rdaemon restart {name} -- PROGRAM ARGS)"
        ))
            .into())
        }
        None => Spec::new(ctx, name, Some(&target.pidfile), Vec::new())?,
    };
    if !args.program.is_empty() {
        spec.command = command_line(&args.program)?;
    }
    spec.apply(&args.opts)?;
    // A user or group that cannot be used must not cost the running daemon its life.
    let account = spec.account(ctx)?;
    // Nor must a log file that cannot be opened safely (issue 11).
    super::start::check_logs(&spec, account.as_ref())?;
    let schedule = default_schedule(Signal::SIGTERM, Duration::from_secs(10), false);
    stop_locked(ctx, &target, &schedule, false)?;
    start_locked(ctx, &spec, target.record)
}
