//! `rdaemon logs`: the last lines of a daemon's log (each stream under a `==> PATH <==` header
//! when stdout and stderr go to separate files, as `tail` prints several files), and with `-f`
//! what is appended after, across rotation and truncation, until interrupted.

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::cli::LogsArgs;
use crate::exit::Code;
use crate::logs::{older_lines, sanitized, tail, Follower, Sanitized};
use crate::paths::Ctx;
use crate::pidfile::os_reason;
use crate::target::{resolve_many, resolve_running, several_error, Many, Resolved, Target};

/// `rdaemon logs`.
pub fn run(args: LogsArgs, ctx: &Ctx) -> Result<Code> {
    // The daemons of an up file are several, however many it has: their lines prefixed.
    let single = args.target.single().filter(|_| args.target.file.is_none());
    let Some(single) = single else {
        return logs_many(&args, ctx);
    };
    let target = match resolve_running(ctx, &single)? {
        Resolved::One(t) => *t,
        Resolved::NoDaemons => bail!("no daemons, so no logs to show"),
        Resolved::Several(names) => return Err(several_error(&names).into()),
    };
    crate::target::refuse_unknown_pidfile(ctx, &single, &target)?;
    let files = log_files(ctx, &target, args.follow)?;
    let headers = files.len() > 1;
    // On a terminal the daemon's control characters are shown, not obeyed (colors pass); into a
    // pipe or a file the log goes as it is, as `tail` gives it.
    let mut out: Box<dyn Write> = match io::stdout().is_terminal() {
        true => Box::new(Sanitized::new(io::stdout().lock())),
        false => Box::new(io::stdout().lock()),
    };
    let mut opened = Vec::with_capacity(files.len());
    let mut empty = Vec::new();
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
            // Just rotated, the log holds few lines: the rest from the files before it.
            let older = older_lines(path, args.lines, &bytes);
            if end == 0 && older.is_empty() {
                empty.push(path.display().to_string());
            }
            out.write_all(&older)?;
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
        // Nothing shown may be a program that logs elsewhere (nginx's error_log): say that the
        // log is empty, on stderr, as a failed start does (user trial, 2026-12-04).
        if args.lines > 0 && !files.is_empty() && empty.len() == files.len() && !ctx.quiet {
            let quoted: Vec<String> = empty.iter().map(|p| format!("'{p}'")).collect();
            let (what, verb) = match quoted.len() {
                1 => ("log", "is"),
                _ => ("logs", "are"),
            };
            eprintln!(
                "rdaemon: {}'s {what} {} {verb} empty",
                target.label(),
                quoted.join(" and ")
            );
        }
        return Ok(Code::Ok);
    }
    let last = (!files.is_empty()).then(|| files.len() - 1);
    // Rotation is routine: following goes on quietly through it (`-v` tells of it).
    let result = Follower::new(opened, headers, last).run(&mut out, &mut |note| {
        if note.routine {
            ctx.debug(note);
        } else {
            eprintln!("rdaemon: {note}");
        }
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
    // A record it may not read (root's 0600 one, to a user): insufficient privilege, exit 4,
    // not "no daemon named" (helper-116). A corrupt one is passed over, as before: the default
    // log is shown (helper-117's review).
    if let (true, Some(why)) = (
        crate::target::record_refused(ctx, target),
        &target.record_error,
    ) {
        let err = anyhow::anyhow!("cannot show {label}'s log: {why}");
        return Err(crate::target::privilege_error(ctx, err));
    }
    let streams = match (&target.record, &target.name) {
        (Some(rec), _) => vec![rec.stdout.clone(), rec.stderr.clone()],
        (None, Some(name)) => {
            let default = ctx.default_log_path(name);
            // A name rdaemon does not know, with no log: an error, naming the closest names;
            // with `-f`, the log is waited for, as `tail -F` does (a follower started before
            // its daemon), but not without saying so: it may be a typo, or `logs -f FILE`
            // taking `-f` for `up`'s (user trial, 2026-12-02: it waited without a word).
            if !default.exists() {
                let unknown = crate::target::unknown_name(ctx, name);
                if !follow {
                    bail!("{unknown}, and no log at '{}'", default.display());
                }
                ctx.warn(unknown);
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

/// A log file open for following, with the offset its tail ended at (`None`: not there yet).
type Opened = Option<(File, u64)>;

/// Colors for the `NAME | ` prefixes on a terminal, one per daemon in turn, as foreman's.
const COLORS: [&str; 6] = [
    "\x1b[36m", "\x1b[33m", "\x1b[32m", "\x1b[35m", "\x1b[34m", "\x1b[31m",
];

/// `logs` of several daemons (names, globs, `--all`): each daemon's last lines, then with `-f`
/// what every one of them appends, interleaved as it arrives; every line prefixed `NAME | `
/// (names padded to one width), in a color per name on a terminal unless `NO_COLOR` is set.
/// One thread per followed file, each running the one [`Follower`] of `crate::logs`. A daemon
/// whose log cannot be shown is reported and skipped (exit 1 at the end).
fn logs_many(args: &LogsArgs, ctx: &Ctx) -> Result<Code> {
    let awaited = &args.target.awaited;
    // `logs -f --file` with none of the file's entries started yet: only the logs to wait for
    // (no names: not every daemon there is).
    let (targets, unknown) = match args.target.names.is_empty() && !awaited.is_empty() {
        true => (Vec::new(), Vec::new()),
        false => match resolve_many(ctx, &args.target, false)? {
            Many::Picked { targets, unknown } => (targets, unknown),
            Many::NoDaemons | Many::Several(_) => bail!("no daemons, so no logs to show"),
        },
    };
    let mut code = Code::Ok;
    for why in &unknown {
        eprintln!("rdaemon: {why}");
        code = Code::Failure;
    }
    // Each daemon's label and log files, then each entry's not started yet.
    let sources = targets
        .iter()
        .map(|target| (target.label(), log_files(ctx, target, args.follow)))
        .chain(
            awaited
                .iter()
                .map(|(name, files)| (name.to_string(), Ok(files.clone()))),
        );
    let width = targets
        .iter()
        .map(|t| t.label().len())
        .chain(awaited.iter().map(|(name, _)| name.as_str().len()))
        .max()
        .unwrap_or(0);
    let color =
        io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    // Each file's last lines. Those of several logs whose lines all carry the monitor's times
    // (`--log-timestamps`) are shown in the order of those times, so the tails are held until
    // every one is read, up to `MAX_TAIL` bytes in all: a daemon's user can make its log's tail
    // large (helper-135's review: four logs held 980 MB). Past that, what is held is shown, then
    // each tail as it is read, one log after the other.
    let mut followed: Vec<(PathBuf, Opened, Prefixed)> = Vec::new();
    let shown = || -> io::Result<()> {
        let mut held: Option<Vec<Vec<u8>>> = Some(Vec::new());
        let mut held_bytes = 0u64;
        for (i, (label, files)) in sources.enumerate() {
            let prefix = match color {
                true => format!("{}{label:<width$} |\x1b[0m ", COLORS[i % COLORS.len()]),
                false => format!("{label:<width$} | "),
            };
            let files = match files {
                Ok(files) => files,
                Err(e) => {
                    eprintln!("rdaemon: {}", crate::exit::render(&e));
                    // Insufficient privilege stays exit 4 (helper-117's review).
                    code = Code::worst([code, crate::exit::code_of(&e)]);
                    continue;
                }
            };
            for path in files {
                let read = (|| -> io::Result<Option<(File, u64, Vec<u8>)>> {
                    // The safe way, as for one name: no symlink another user made is followed,
                    // on the way or at the name, and a FIFO does not block (it is refused).
                    let mut file = match crate::fsx::open_read(&path)? {
                        Some(f) => f,
                        None if args.follow => return Ok(None),
                        None => return Err(io::Error::from_raw_os_error(nix::libc::ENOENT)),
                    };
                    let (bytes, end) = tail(&mut file, args.lines)?;
                    let mut text = older_lines(&path, args.lines, &bytes);
                    text.extend_from_slice(&bytes);
                    Ok(Some((file, end, text)))
                })();
                let (opened, text) = match read {
                    Ok(Some((file, end, text))) => (Some((file, end)), text),
                    Ok(None) => (None, Vec::new()),
                    Err(e) => {
                        eprintln!(
                            "rdaemon: cannot read log '{}': {}",
                            path.display(),
                            os_reason(&e)
                        );
                        code = Code::Failure;
                        continue;
                    }
                };
                let mut out = Prefixed::new(prefix.clone());
                held_bytes += text.len() as u64;
                match held.as_mut() {
                    Some(tails) if held_bytes <= crate::logs::MAX_TAIL => tails.push(text),
                    _ => {
                        if let Some(tails) = held.take() {
                            for ((_, _, out), text) in followed.iter_mut().zip(&tails) {
                                out.show(text)?;
                            }
                        }
                        out.show(&text)?;
                    }
                }
                followed.push((path, opened, out));
            }
        }
        let Some(tails) = held else {
            return Ok(());
        };
        match crate::logs::by_time(&tails).filter(|_| tails.len() > 1) {
            Some(merged) => {
                for (i, record) in merged {
                    let out = &mut followed[i].2;
                    out.write_all(record)?;
                    if !record.ends_with(b"\n") {
                        out.finish()?;
                    }
                }
            }
            None => {
                for ((_, _, out), text) in followed.iter_mut().zip(&tails) {
                    out.show(text)?;
                }
            }
        }
        Ok(())
    };
    match shown() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(Code::Ok),
        Err(e) => return Err(e).context("cannot write the logs"),
        Ok(()) => {}
    }
    if !args.follow || followed.is_empty() {
        return Ok(code);
    }
    let (done, ended) = std::sync::mpsc::channel();
    for (path, opened, mut out) in followed {
        let (done, ctx) = (done.clone(), ctx.clone());
        std::thread::spawn(move || {
            let result = Follower::new(vec![(path.clone(), opened)], false, Some(0)).run(
                &mut out,
                &mut |note| match note.routine {
                    true => ctx.debug(note),
                    false => eprintln!("rdaemon: {note}"),
                },
            );
            let _ = done.send((path, result));
        });
    }
    // A follower returns only with an error: a closed output ends them all (quietly), as does
    // any other error (said).
    match ended.recv() {
        Ok((_, Err(e))) if e.kind() == io::ErrorKind::BrokenPipe => Ok(code),
        Ok((path, Err(e))) => {
            Err(e).with_context(|| format!("cannot follow the log '{}'", path.display()))
        }
        Ok((_, Ok(()))) | Err(_) => Ok(code),
    }
}

/// Output that prefixes every whole line written to it and writes it to stdout in one piece,
/// so that lines from several threads never mix; a partial line waits for its end.
struct Prefixed {
    prefix: String,
    pending: Vec<u8>,
    /// Lines shown on a terminal: their control characters escaped ([`sanitized`]).
    terminal: bool,
}

impl Prefixed {
    fn new(prefix: String) -> Prefixed {
        Prefixed {
            prefix,
            pending: Vec::new(),
            terminal: io::stdout().is_terminal(),
        }
    }

    /// Writes `text` (a tail), its last line ended if it has no newline.
    fn show(&mut self, text: &[u8]) -> io::Result<()> {
        self.write_all(text)?;
        self.finish()
    }

    /// Writes a last line that has no newline (the end of a tail), ending it.
    fn finish(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            self.pending.push(b'\n');
            self.emit()?;
        }
        Ok(())
    }

    /// Writes every whole line pending.
    fn emit(&mut self) -> io::Result<()> {
        let Some(end) = self.pending.iter().rposition(|&b| b == b'\n') else {
            return Ok(());
        };
        let mut text = Vec::with_capacity(end + 1 + self.prefix.len() * 4);
        for line in self.pending[..end].split(|&b| b == b'\n') {
            text.extend_from_slice(self.prefix.as_bytes());
            match self.terminal {
                true => text.extend_from_slice(&sanitized(line)),
                false => text.extend_from_slice(line),
            }
            text.push(b'\n');
        }
        self.pending.drain(..=end);
        // A tail written at once must not stay allocated while following.
        self.pending.shrink_to(MAX_PENDING);
        let mut out = io::stdout().lock();
        out.write_all(&text)?;
        out.flush()
    }
}

/// How long a partial line [`Prefixed`] holds at most before it writes it as a line of its own:
/// a daemon's endless line must not grow rdaemon's memory.
const MAX_PENDING: usize = 64 * 1024;

impl Write for Prefixed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        self.emit()?;
        if self.pending.len() >= MAX_PENDING {
            self.finish()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stdout().lock().flush()
    }
}
