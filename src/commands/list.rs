//! `rdaemon list`: every daemon in the rdaemon directory, as a table or a JSON array.

use anyhow::Result;

use crate::cli::ListArgs;
use crate::exit::Code;
use crate::paths::Ctx;
use crate::state::{self, Record};
use crate::target::Target;

use super::status::{format_uptime, shell_join, Report};

/// `rdaemon list`.
pub fn run(args: ListArgs, ctx: &Ctx) -> Result<Code> {
    if args.names {
        for name in state::list_names(ctx)? {
            println!("{name}");
        }
        return Ok(Code::Ok);
    }
    let reports = reports(ctx)?;
    print(ctx, &reports, args.json)?;
    Ok(Code::Ok)
}

/// A report for every record; a corrupt record shows as `unknown` with the reason.
pub fn reports(ctx: &Ctx) -> Result<Vec<Report>> {
    let mut out = Vec::new();
    for name in state::list_names(ctx)? {
        let target = match Record::load(ctx, &name) {
            Ok(Some(record)) => Target {
                name: Some(name),
                pidfile: record.pidfile.clone(),
                record: Some(record),
                record_error: None,
            },
            // Removed since it was listed: nothing to report.
            Ok(None) => continue,
            Err(e) => Target {
                pidfile: ctx.pidfile_path(&name),
                name: Some(name),
                record: None,
                record_error: Some(crate::exit::render(&e)),
            },
        };
        out.push(Report::new(ctx, &target));
    }
    Ok(out)
}

/// Prints reports as a table (or JSON array).
pub fn print(ctx: &Ctx, reports: &[Report], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(reports)?);
        return Ok(());
    }
    if ctx.quiet {
        return Ok(());
    }
    if reports.is_empty() {
        println!("no daemons");
        return Ok(());
    }
    let rows: Vec<[String; 6]> = reports
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.state.to_owned(),
                r.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                r.uptime_secs
                    .map(format_uptime)
                    .unwrap_or_else(|| "-".into()),
                r.restarts.to_string(),
                shell_join(&r.command),
            ]
        })
        .collect();
    let header = ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "COMMAND"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 6]| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == 5 {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        println!("{}", s.trim_end());
    };
    line(header);
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]].map(|s| s.as_str()));
    }
    Ok(())
}
