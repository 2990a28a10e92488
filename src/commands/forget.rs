//! `rdaemon forget`: remove a stopped daemon's record (and its stale pidfile and lock file).
//! Refuses while the daemon runs. Log files stay: they are the user's.

use anyhow::{bail, Context, Result};

use crate::cli::TargetArgs;
use crate::exit::{Code, Fail};
use crate::paths::Ctx;
use crate::pidfile::{self, NameLock};
use crate::state::Record;
use crate::target::{judge, resolve, several_error, Resolved, State};

/// `rdaemon forget`.
pub fn run(args: TargetArgs, ctx: &Ctx) -> Result<Code> {
    let mut target = match resolve(ctx, &args)? {
        Resolved::One(t) => *t,
        Resolved::NoDaemons => bail!("no daemons to forget"),
        Resolved::Several(names) => return Err(several_error(&names).into()),
    };
    let Some(name) = target.name.clone() else {
        return Err(Fail::usage(format!(
            "no record for pidfile '{}'",
            target.pidfile.display()
        ))
        .into());
    };
    if !ctx.record_path(&name).exists() {
        bail!("no record for {name}");
    }
    let lock = NameLock::acquire(&ctx.lock_path(&name))?;
    if !ctx.record_path(&name).exists() {
        // Another forget got there while we waited for the lock.
        bail!("no record for {name}");
    }
    target.record = Record::load(ctx, &name).unwrap_or(None);
    match judge(ctx, &target).with_context(|| format!("cannot forget {name}"))? {
        State::Running { pid, .. } => bail!("{name} is running (pid {pid}): stop it first"),
        State::Dead { .. } => pidfile::remove(&target.pidfile)?,
        State::Unknown { why } => ctx.warn(format!("{why}; leaving it in place")),
        State::Stopped => {}
    }
    Record::remove(ctx, &name)?;
    lock.remove_file()?;
    ctx.say(format!("forgot {name}"));
    Ok(Code::Ok)
}
