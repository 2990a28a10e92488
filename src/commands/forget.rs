//! `rdaemon forget`: remove stopped daemons' records (and their stale pidfiles and lock files).
//! Refuses a daemon that runs. Log files stay: they are the user's.

use anyhow::{bail, Context, Result};

use crate::cli::{ForgetArgs, TargetArgs};
use crate::exit::{Code, Fail};
use crate::parse::Name;
use crate::paths::Ctx;
use crate::pidfile::{self, NameLock};
use crate::state::{self, Record};
use crate::target::{by_name, judge, resolve, several_error, Resolved, State, Target};

/// How forgetting one daemon ended.
enum Forgot {
    /// Its record is gone.
    Done,
    /// It runs (pid): left alone.
    Running(String),
}

/// `rdaemon forget`.
pub fn run(args: ForgetArgs, ctx: &Ctx) -> Result<Code> {
    if args.all {
        return forget_all(ctx);
    }
    if args.names.len() > 1 {
        return forget_each(ctx, &args.names);
    }
    let target_args = TargetArgs {
        name: args.names.into_iter().next(),
        name_opt: args.name_opt,
        pidfile: args.pidfile,
    };
    let target = match resolve(ctx, &target_args)? {
        Resolved::One(t) => *t,
        Resolved::NoDaemons => bail!("no daemons to forget"),
        Resolved::Several(names) => return Err(several_error(&names).into()),
    };
    match forget(ctx, target)? {
        Forgot::Done => Ok(Code::Ok),
        Forgot::Running(why) => bail!("{why}: stop it first"),
    }
}

/// `forget NAME NAME...`: each one, reporting each failure; exit 1 if any failed.
fn forget_each(ctx: &Ctx, names: &[Name]) -> Result<Code> {
    let mut code = Code::Ok;
    for name in names {
        let outcome = by_name(ctx, name, None).and_then(|t| forget(ctx, t));
        let error = match outcome {
            Ok(Forgot::Done) => continue,
            Ok(Forgot::Running(why)) => format!("{why}: stop it first"),
            Err(e) => crate::exit::render(&e),
        };
        eprintln!("rdaemon: {error}");
        code = Code::Failure;
    }
    Ok(code)
}

/// `forget --all`: every daemon that does not run; the running ones are named and kept.
fn forget_all(ctx: &Ctx) -> Result<Code> {
    let names = state::list_names(ctx)?;
    if names.is_empty() {
        ctx.say("no daemons");
        return Ok(Code::Ok);
    }
    let mut code = Code::Ok;
    for name in &names {
        match by_name(ctx, name, None).and_then(|t| forget(ctx, t)) {
            Ok(Forgot::Done) => {}
            Ok(Forgot::Running(why)) => ctx.say(format!("{why}: kept")),
            Err(e) => {
                eprintln!("rdaemon: {}", crate::exit::render(&e));
                code = Code::Failure;
            }
        }
    }
    Ok(code)
}

/// Forgets one daemon under its lock, unless it runs.
fn forget(ctx: &Ctx, mut target: Target) -> Result<Forgot> {
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
    let judged = judge(ctx, &target).with_context(|| format!("cannot forget {name}"))?;
    // Without the record, what the main process left behind could never be found again.
    if let (State::Dead { .. } | State::Stopped, Some(n)) = (&judged, leftovers(&target)) {
        let noun = if n == 1 { "process" } else { "processes" };
        return Ok(Forgot::Running(format!(
            "{name} has {n} leftover {noun} running (its main process is gone)"
        )));
    }
    match judged {
        State::Running { pid, .. } => {
            return Ok(Forgot::Running(format!("{name} is running (pid {pid})")))
        }
        State::Dead { .. } => pidfile::remove(&target.pidfile)?,
        State::Unknown { why } => ctx.warn(format!("{why}; leaving it in place")),
        State::Stopped => {}
    }
    Record::remove(ctx, &name)?;
    lock.remove_file()?;
    ctx.say(format!("forgot {name}"));
    Ok(Forgot::Done)
}

/// How many processes of the daemon's session still live, if any (SPEC §3.1).
fn leftovers(target: &Target) -> Option<usize> {
    let session = crate::session::Session::of(target.record.as_ref()?, None).ok()??;
    Some(session.leftovers().len()).filter(|&n| n > 0)
}
