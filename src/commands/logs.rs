//! `rdaemon logs`: the last lines of a daemon's log (each stream under a `==> PATH <==` header
//! when stdout and stderr go to separate files, as `tail` prints several files), and with `-f`
//! what is appended after, across rotation and truncation, until interrupted.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::cli::LogsArgs;
use crate::exit::Code;
use crate::logs::{tail, Follower};
use crate::paths::Ctx;
use crate::pidfile::os_reason;
use crate::target::{resolve, several_error, Resolved, Target};

/// `rdaemon logs`.
pub fn run(args: LogsArgs, ctx: &Ctx) -> Result<Code> {
    let target = match resolve(ctx, &args.target)? {
        Resolved::One(t) => *t,
        Resolved::NoDaemons => bail!("no daemons, so no logs to show"),
        Resolved::Several(names) => return Err(several_error(&names).into()),
    };
    let files = log_files(ctx, &target, args.follow)?;
    let headers = files.len() > 1;
    let mut out = io::stdout().lock();
    let mut opened = Vec::with_capacity(files.len());
    for (i, path) in files.iter().enumerate() {
        let shown = (|| -> io::Result<Option<(File, u64)>> {
            if headers {
                let sep = if i > 0 { "\n" } else { "" };
                writeln!(out, "{sep}==> {} <==", path.display())?;
            }
            // Never through a symlink, never blocking on a FIFO (`fsx::open_read`).
            let mut file = match crate::fsx::open_read(path)? {
                Some(f) => f,
                // `-f` waits for a log that does not exist yet, as `tail -F` does.
                None if args.follow => return Ok(None),
                None => {
                    return Err(io::Error::from_raw_os_error(nix::libc::ENOENT));
                }
            };
            let (bytes, end) = tail(&mut file, args.lines)?;
            out.write_all(&bytes)?;
            out.flush()?;
            Ok(Some((file, end)))
        })();
        match shown {
            Ok(o) => opened.push((path.clone(), o)),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(Code::Ok),
            Err(e) => bail!("cannot read log '{}': {}", path.display(), os_reason(&e)),
        }
    }
    if !args.follow {
        return Ok(Code::Ok);
    }
    let last = (!files.is_empty()).then(|| files.len() - 1);
    let result = Follower::new(opened, headers, last).run(&mut out, &mut |note| {
        eprintln!("rdaemon: {note}");
    });
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Code::Ok),
        Err(e) => Err(e).context("cannot follow the log"),
        Ok(()) => Ok(Code::Ok),
    }
}

/// The files the daemon's output goes to: stdout's and stderr's (once if they are the same),
/// leaving out `/dev/null`.
fn log_files(ctx: &Ctx, target: &Target, follow: bool) -> Result<Vec<PathBuf>> {
    let label = target.label();
    let streams = match (&target.record, &target.name) {
        (Some(rec), _) => vec![rec.stdout.clone(), rec.stderr.clone()],
        (None, Some(name)) => {
            let default = ctx.default_log_path(name);
            if !follow && !default.exists() {
                bail!(
                    "no record for {label} and no log at '{}'",
                    default.display()
                );
            }
            vec![default]
        }
        (None, None) => bail!(
            "no record names pidfile '{}', so rdaemon does not know where its output goes",
            target.pidfile.display()
        ),
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for path in streams {
        if !path.is_absolute() {
            // `start --foreground` records inherited streams as /proc shows them: pipe:[N].
            bail!(
                "{label}'s output goes to '{}', not to a file (it was started with --foreground)",
                path.display()
            );
        }
        if path != Path::new("/dev/null") && !files.contains(&path) {
            files.push(path);
        }
    }
    if files.is_empty() {
        bail!("{label} discards its output (/dev/null): there is no log to show");
    }
    Ok(files)
}
