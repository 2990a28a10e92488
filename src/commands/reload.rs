//! `rdaemon reload NAME...`: send each daemon its reload signal (`deliver::reload_signal`: the
//! spec's `--reload-signal`, HUP by default), to its main program as `signal` does. Exit 7 for a daemon that is not running.

use anyhow::Result;

use crate::cli::ReloadArgs;
use crate::deliver;
use crate::exit::Code;
use crate::paths::Ctx;

/// `rdaemon reload`: each daemon in turn; the exit code is the worst (4 > 1 > 7 > 0).
pub fn run(args: ReloadArgs, ctx: &Ctx) -> Result<Code> {
    super::deliver_each(ctx, &args.target, false, deliver::reload_signal)
}
