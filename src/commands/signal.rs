//! `rdaemon signal SIG NAME...`: send a signal to each daemon's main program (the monitor's
//! child in respawn mode; `--group`: every process of its group), identity-checked as `stop`
//! is (`deliver`). Exit 7 for a daemon that is not running, 4 when the kernel refuses.

use anyhow::Result;

use crate::cli::SignalArgs;
use crate::deliver;
use crate::exit::Code;
use crate::paths::Ctx;
use crate::target::{resolve_many, several_error, Many};

/// `rdaemon signal`: each daemon in turn; the exit code is the worst (4 > 1 > 7 > 0).
pub fn run(args: SignalArgs, ctx: &Ctx) -> Result<Code> {
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
        deliver::send(ctx, &target, args.signal, args.group)
    })?;
    Ok(match unknown.is_empty() {
        true => code,
        false => Code::worst([code, Code::ProgramNotRunning]),
    })
}
