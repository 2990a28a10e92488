//! `rdaemon reload NAME...`: send each daemon its reload signal (`deliver::reload_signal`:
//! HUP until issue 17 adds `--reload-signal` to the spec), to its main program as `signal`
//! does. Exit 7 for a daemon that is not running.

use anyhow::Result;

use crate::cli::ReloadArgs;
use crate::deliver;
use crate::exit::Code;
use crate::paths::Ctx;
use crate::target::{resolve_many, several_error, Many};

/// `rdaemon reload`: each daemon in turn; the exit code is the worst (4 > 1 > 7 > 0).
pub fn run(args: ReloadArgs, ctx: &Ctx) -> Result<Code> {
    let (targets, unknown) = match resolve_many(ctx, &args.target, true)? {
        Many::Picked { targets, unknown } => (targets, unknown),
        Many::NoDaemons => {
            ctx.say("no daemons");
            return Ok(Code::ProgramNotRunning);
        }
        Many::Several(names) => return Err(several_error(&names).into()),
    };
    for why in &unknown {
        eprintln!("rdaemon: {why}");
    }
    let code = super::each(targets, |target| {
        let sig = deliver::reload_signal(&target);
        deliver::send(ctx, &target, sig, false)
    })?;
    Ok(match unknown.is_empty() {
        true => code,
        false => Code::worst([code, Code::ProgramNotRunning]),
    })
}
