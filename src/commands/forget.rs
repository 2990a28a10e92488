//! `rdaemon forget`: remove stopped daemons' records (and their stale pidfiles and lock files).
//! Refuses a daemon that runs. Log files stay: they are the user's.

use anyhow::{bail, Context, Result};

use crate::cgroup::Cgroup;
use crate::cli::ForgetArgs;
use crate::exit::{Code, Fail};
use crate::paths::Ctx;
use crate::pidfile::{self, NameLock};
use crate::state::Record;
use crate::target::{judge, privilege_error, resolve_many, several_error, Main, Many, Target};

/// How forgetting one daemon ended.
enum Forgot {
    /// Its record is gone.
    Done,
    /// It runs (pid): left alone.
    Running(String),
}

/// `rdaemon forget`: each daemon named (names, globs), one after the other; exit 1 if any
/// failed or runs. `--all`: every daemon that does not run, the running ones named and kept.
pub fn run(args: ForgetArgs, ctx: &Ctx) -> Result<Code> {
    let all = args.target.all;
    let (targets, unknown) = match resolve_many(ctx, &args.target, false)? {
        Many::Picked { targets, unknown } => (targets, unknown),
        Many::NoDaemons if all => {
            ctx.say("no daemons");
            return Ok(Code::Ok);
        }
        Many::NoDaemons => bail!("no daemons to forget"),
        Many::Several(names) => return Err(several_error(&names).into()),
    };
    // A name with nothing to forget is a failure, as it always was for forget.
    for why in &unknown {
        eprintln!("rdaemon: {why}");
    }
    let code = super::each(targets, |target| match forget(ctx, target)? {
        Forgot::Done => Ok(Code::Ok),
        Forgot::Running(why) if all => {
            ctx.say(format!("{why}: kept"));
            Ok(Code::Ok)
        }
        Forgot::Running(why) => bail!("{why}: stop it first"),
    })?;
    Ok(match unknown.is_empty() {
        true => code,
        false => Code::worst([code, Code::Failure]),
    })
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
    match ctx.record_path(&name).try_exists() {
        Ok(true) => {}
        Ok(false) => bail!("no record for {name}"),
        // A directory it may not search (root's 0700 one): not "no record" (helper-116).
        Err(e) => {
            let err = anyhow::Error::new(e).context(format!(
                "cannot forget {name}: cannot look for its record '{}'",
                ctx.record_path(&name).display()
            ));
            return Err(crate::target::denied_error(ctx, err));
        }
    }
    // In another user's directory (root's, to a user): insufficient privilege, exit 4, as for
    // `stop` (helper-110's audit: exit 1 here).
    let lock = NameLock::acquire(&ctx.lock_path(&name))
        .map_err(|e| privilege_error(ctx, e.context(format!("cannot forget {name}"))))?;
    if !ctx.record_path(&name).exists() {
        // Another forget got there while we waited for the lock.
        bail!("no record for {name}");
    }
    // A spec that cannot be read vouches for nothing, but the status may still name the running
    // daemon (`judge` asks it): forgetting that one would let the next start run a second copy.
    (target.record, target.record_error) = match Record::load(ctx, &name) {
        Ok(rec) => (rec, None),
        Err(e) => (None, Some(crate::exit::render(&e))),
    };
    let judged = judge(ctx, &target).with_context(|| format!("cannot forget {name}"))?;
    // Without the record, what the main process left behind could never be found again.
    if let (Main::Gone { .. } | Main::NoPidfile, Some(n)) = (&judged, leftovers(&target)) {
        let n = crate::parse::counted(n as u64, "leftover process", "leftover processes");
        return Ok(Forgot::Running(format!(
            "{name} has {n} running (its main process is gone)"
        )));
    }
    let running = match judged {
        Main::Alive { pid, .. } => Some(pid.get()),
        Main::Caller { pid, .. } => Some(pid),
        _ => None,
    };
    if let Some(pid) = running {
        return Ok(Forgot::Running(format!("{name} is running (pid {pid})")));
    }
    // Its cgroup, which the record names: what is still in it (a process that left the
    // session) is the daemon's too; an empty one goes with the record (SPEC §3.1: the cgroup
    // is removed when empty), or nothing would ever remove it.
    // Or, for a spec whose status was lost while the daemon ran, the cgroup a start from this
    // directory marked: the daemon still runs there, and its spec must not go.
    let cgroup = target
        .record
        .as_ref()
        .and_then(|rec| Cgroup::of_daemon(ctx, rec));
    if let Some(cg) = &cgroup {
        let n = cg.procs().map_or(0, |p| p.len());
        if n > 0 {
            let n = crate::parse::counted(n as u64, "process", "processes");
            return Ok(Forgot::Running(format!(
                "{name} has {n} running in its cgroup '{}' (its main process is gone)",
                cg.path().display()
            )));
        }
    }
    match judged {
        Main::Gone { .. } => pidfile::remove(&target.pidfile)?,
        Main::Untrusted { why } => ctx.warn(format!("{why}; leaving it in place")),
        Main::Alive { .. } | Main::Caller { .. } | Main::NoPidfile => {}
    }
    Record::remove(ctx, &name)?;
    if let Some(cg) = cgroup {
        if let Err(err) = cg.remove() {
            ctx.warn(format!("{err:#}"));
        }
    }
    lock.remove_file()?;
    ctx.say(format!("forgot {name}"));
    Ok(Forgot::Done)
}

/// How many processes of the daemon's session still live, if any (SPEC §3.1).
fn leftovers(target: &Target) -> Option<usize> {
    let session = crate::session::Session::of(target.record.as_ref()?).ok()??;
    Some(session.leftovers().len()).filter(|&n| n > 0)
}
