//! `rdaemon list`: every daemon in the rdaemon directory, as a table or a JSON array.

use anyhow::Result;

use crate::cli::ListArgs;
use crate::exit::Code;
use crate::paths::Ctx;
use crate::state;
use crate::view::{print, reports};

/// `rdaemon list`.
pub fn run(args: ListArgs, ctx: &Ctx) -> Result<Code> {
    // Another user's directory it may not read (root's 0700 one): exit 4, not 1.
    let privilege = |e| crate::target::denied_error(ctx, e);
    if args.names {
        for name in state::list_names(ctx).map_err(privilege)? {
            println!("{name}");
        }
        return Ok(Code::Ok);
    }
    let reports = reports(ctx, args.json).map_err(privilege)?;
    print(ctx, &reports, args.json)?;
    Ok(Code::Ok)
}
