//! `rdaemon list`: every daemon in the rdaemon directory, as a table or a JSON array.

use anyhow::Result;

use crate::cli::ListArgs;
use crate::exit::Code;
use crate::paths::Ctx;
use crate::state;
use crate::view::{print, reports};

/// `rdaemon list`.
pub fn run(args: ListArgs, ctx: &Ctx) -> Result<Code> {
    if args.names {
        for name in state::list_names(ctx)? {
            println!("{name}");
        }
        return Ok(Code::Ok);
    }
    let reports = reports(ctx, args.json)?;
    print(ctx, &reports, args.json)?;
    Ok(Code::Ok)
}
