//! `rdaemon signal SIG NAME...`: send a signal to each daemon's main program (the monitor's
//! child in respawn mode; `--group`: every process of its group), identity-checked as `stop`
//! is (`deliver`). Exit 7 for a daemon that is not running, 4 when the kernel refuses.

use anyhow::Result;

use crate::cli::SignalArgs;
use crate::exit::Code;
use crate::paths::Ctx;

/// `rdaemon signal`: each daemon in turn; the exit code is the worst (4 > 1 > 7 > 0).
pub fn run(args: SignalArgs, ctx: &Ctx) -> Result<Code> {
    super::deliver_each(ctx, &args.target, args.group, |_| args.signal)
}
