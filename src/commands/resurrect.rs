//! `rdaemon resurrect`: starts every daemon whose spec wants it running and that does not run —
//! after a reboot emptied the runtime directory, or after a crash. One after the other, in
//! alphabetical order (a spec has no ordering field yet; when one comes, it orders them), each
//! under its own lock, where `wanted` is read again: a `stop` that won the lock wins.

use anyhow::Result;

use crate::cli::ResurrectArgs;
use crate::exit::Code;
use crate::paths::Ctx;
use crate::pidfile::NameLock;
use crate::state::{self, Record, Wanted};
use crate::target::Target;
use crate::view::{DaemonState, Report};

use super::start::{start_locked, Spec};

/// `rdaemon resurrect`.
pub fn run(_args: ResurrectArgs, ctx: &Ctx) -> Result<Code> {
    let mut codes = Vec::new();
    for name in state::list_names(ctx)? {
        codes.push(match resurrect_one(ctx, &name) {
            Ok(code) => code,
            Err(err) => {
                eprintln!(
                    "rdaemon: cannot start {name}: {}",
                    crate::exit::render(&err)
                );
                Code::Failure
            }
        });
    }
    Ok(match codes.iter().all(|c| *c == Code::Ok) {
        true => Code::Ok,
        false => Code::Failure,
    })
}

/// One daemon: started if it is wanted running and does not run. `Ok` when it runs afterwards
/// or is not wanted running.
fn resurrect_one(ctx: &Ctx, name: &crate::parse::Name) -> Result<Code> {
    ctx.ensure_dir()?;
    let _lock = NameLock::acquire(&ctx.lock_path(name))?;
    let Some(rec) = Record::load(ctx, name)? else {
        return Ok(Code::Ok);
    };
    if rec.wanted() != Wanted::Running {
        ctx.debug(format!("{name} is wanted stopped: left alone"));
        return Ok(Code::Ok);
    }
    let target = Target {
        name: Some(name.clone()),
        pidfile: rec.pidfile.clone(),
        record: Some(rec.clone()),
        record_error: None,
    };
    let report = Report::new(ctx, &target);
    match report.state {
        DaemonState::Running | DaemonState::Restarting => {
            ctx.say(format!(
                "{name} is already running (pid {})",
                report.pid.unwrap_or_default()
            ));
            return Ok(Code::Ok);
        }
        DaemonState::Unknown => {
            anyhow::bail!(report.reason.unwrap_or_else(|| "unknown state".into()))
        }
        _ => {}
    }
    let spec = Spec::from_record(ctx, &rec)?;
    start_locked(ctx, &spec, Some(rec))
}
