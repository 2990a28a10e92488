//! `rdaemon status`: LSB exit codes and a human or JSON report of one daemon (or, bare with
//! several daemons, the `list` table).

use anyhow::Result;

use crate::cli::StatusArgs;
use crate::exit::Code;
use crate::logs;
use crate::parse::printable;
/// Moved down to `parse`, where `start` can reach it too.
pub use crate::parse::shell_join;
use crate::paths::Ctx;
use crate::state::{LastExit, Mode};
use crate::target::{is_unknown, resolve, resolve_many, unknown_name_of, Many, Resolved};
pub use crate::view::{format_bytes, format_uptime};
use crate::view::{DaemonState, Report};

/// `rdaemon status`.
pub fn run(args: StatusArgs, ctx: &Ctx) -> Result<Code> {
    // Another user's directory it may not read (root's 0700 one): unknown, and insufficient
    // privilege, exit 4 (helper-110's audit: exit 1).
    status(args, ctx).map_err(|e| crate::target::denied_error(ctx, e))
}

fn status(args: StatusArgs, ctx: &Ctx) -> Result<Code> {
    // The daemons of an up file are several daemons, even when the file has one started
    // entry: a script gets one shape of answer, an array, as for a glob (helper-121's trial).
    let single = args.target.single().filter(|_| args.target.file.is_none());
    let Some(single) = single else {
        return status_many(ctx, &args);
    };
    let target = match resolve(ctx, &single)? {
        Resolved::One(t) => *t,
        Resolved::NoDaemons => {
            if args.json {
                println!("[]");
            } else {
                ctx.say("no daemons");
            }
            return Ok(Code::NotRunning);
        }
        Resolved::Several(_) => {
            let reports = crate::view::reports(ctx, args.json)?;
            crate::view::print(ctx, &reports, args.json)?;
            return Ok(code_of_many(&reports, true));
        }
    };
    if is_unknown(ctx, &single, &target) {
        // Not running (exit 3, as LSB wants), but not silently: a typo, or root's daemon.
        eprintln!("rdaemon: {}", unknown_name_of(ctx, &single, &target));
        if args.json {
            // No daemon to describe, as for several names that all name none (docs/json.md):
            // an object would say "stopped" of a name rdaemon never knew.
            println!("[]");
        }
        return Ok(Code::NotRunning);
    }
    let report = Report::new(ctx, &target);
    // Running by its status alone: the damaged spec is still worth a line (not another user's
    // spec that this user may not read: that is no damage).
    if let (Some(why), DaemonState::Running) = (&target.record_error, report.state) {
        if why.starts_with("corrupt") {
            ctx.warn(format!("{why}; its status names the running process"));
        }
    }
    // Running by its record, while its pidfile says otherwise: what the record says is right,
    // but a script reading the pidfile (`kill $(cat …)`) would not reach the daemon.
    if report.state == DaemonState::Running && !args.json {
        if let Some(why) = pidfile_disagrees(&target, ctx.is_root) {
            ctx.warn(why);
        }
        // A respawn daemon whose program runs without its monitor: running, as a plain
        // `--forking` daemon's pidfile would say (SPEC §4), but supervised by nothing.
        if let (true, Some(why)) = (report.unsupervised, &report.reason) {
            let name = &report.name;
            ctx.warn(format!(
                "{name}: {why}; 'rdaemon stop {name}' stops it, then 'rdaemon start {name}' starts it with its monitor"
            ));
        }
    }
    if args.json {
        println!("{}", crate::view::to_json(&report)?);
    } else if report.state == DaemonState::Unknown {
        eprintln!(
            "rdaemon: {}: {}",
            report.name,
            report.reason.as_deref().unwrap_or("unknown state")
        );
    } else if !ctx.quiet {
        // As root, the log a record names is shown only from a directory no other user could
        // write to: a forged record must not make root print any file it likes.
        let show_log = ctx.refuse_untrusted_dir().is_ok();
        // Another user's spec this user may not read: the command is not known, and why.
        let unreadable = target
            .record_error
            .as_deref()
            .filter(|why| !why.starts_with("corrupt"));
        print_human(&report, target.record.is_some(), show_log, unreadable);
    }
    Ok(report.code())
}

/// Why the pidfile rdaemon wrote for the running daemon `target` no longer names it (removed,
/// rewritten), if it does not; `None` for the program's own pidfile (`--forking --pidfile`),
/// which rdaemon does not write.
fn pidfile_disagrees(target: &crate::target::Target, is_root: bool) -> Option<String> {
    use crate::pidfile::{self, Content};
    let rec = target
        .record
        .as_ref()
        .filter(|r| !r.program_pidfile && r.pidfile == target.pidfile)?;
    let pid = rec.pid?;
    let path = target.pidfile.display();
    let how = match pidfile::read(&target.pidfile, is_root) {
        Content::Valid { pid: named, .. } if named.get() == pid => return None,
        // The daemon's own pid, which is no `Pid` to the daemon asking about itself (it is
        // rdaemon's parent there): the pidfile is right (a newcomer's trial, 2026-12-03).
        Content::Invalid(_) if pidfile::number(&target.pidfile) == Some(pid) => return None,
        Content::Valid { pid: named, .. } => format!("names pid {named}"),
        Content::Missing => "is missing".to_owned(),
        Content::Invalid(why) => format!("is invalid ({why})"),
    };
    // `start` replaces a regular file, and refuses anything else (a symlink, a directory, a
    // FIFO): the user must remove that first (bad-input sweep, 2026-12-02).
    let odd = std::fs::symlink_metadata(&target.pidfile).is_ok_and(|m| !m.is_file());
    let again = match odd {
        true => "remove it; `rdaemon start {}` then writes the pidfile again",
        false => "`rdaemon start {}` writes the pidfile again",
    }
    .replace("{}", &target.label());
    Some(format!(
        "pidfile '{path}' {how}, not the daemon's pid {pid}: rdaemon goes by its record; {again}"
    ))
}

/// `status` of several daemons (names, globs, `--all`): the `list` table (or a JSON array) of
/// them, and [`code_of_many`]: a name that matches no daemon counts as one not running.
fn status_many(ctx: &Ctx, args: &StatusArgs) -> Result<Code> {
    let (targets, unknown) = match resolve_many(ctx, &args.target, false)? {
        Many::Picked { targets, unknown } => (targets, unknown),
        // `--all` with no daemons.
        Many::NoDaemons | Many::Several(_) => (Vec::new(), Vec::new()),
    };
    for why in &unknown {
        eprintln!("rdaemon: {why}");
    }
    let reports: Vec<Report> = targets.iter().map(|t| Report::new(ctx, t)).collect();
    // Names that all name nothing were said on stderr: no empty table ("no daemons") on top.
    if !reports.is_empty() || unknown.is_empty() || args.json {
        crate::view::print(ctx, &reports, args.json)?;
    }
    Ok(code_of_many(&reports, unknown.is_empty()))
}

/// The exit code of `status` over several daemons, however they were named (bare, names,
/// globs, `--all`): 0 only if there are some and all of them run (`all_found`: every name given
/// named one), else 3 (SPEC §5). Each daemon's own LSB code (1 dead, 4 unknown...) is in the
/// table; one code cannot tell which daemon it is about.
fn code_of_many(reports: &[Report], all_found: bool) -> Code {
    let all_running = reports.iter().all(|r| r.state == DaemonState::Running);
    match all_found && all_running && !reports.is_empty() {
        true => Code::Ok,
        false => Code::NotRunning,
    }
}

fn print_human(r: &Report, has_record: bool, show_log: bool, unreadable: Option<&str>) {
    match r.state {
        DaemonState::Running => {
            let up = r
                .uptime_secs
                .map(|s| format!(", up {}", format_uptime(s)))
                .unwrap_or_default();
            println!(
                "{} is running (pid {}){up}",
                r.name,
                r.pid.unwrap_or_default()
            );
        }
        DaemonState::Restarting => println!(
            "{} is restarting (monitor pid {}): its program exited and starts again after the restart delay",
            r.name,
            r.pid.unwrap_or_default()
        ),
        DaemonState::Dead => {
            let reason = r.reason.as_deref().unwrap_or("its process is gone");
            let leftovers = match r.leftovers {
                Some(1) => "; 1 leftover process".to_owned(),
                Some(n) => format!("; {n} leftover processes"),
                None => String::new(),
            };
            match r.pidfile.exists() {
                true => println!(
                    "{} is dead: {reason}{leftovers}; pidfile '{}' remains",
                    r.name,
                    r.pidfile.display()
                ),
                false => println!("{} is dead: {reason}{leftovers}", r.name),
            }
            // What `redis-server --daemonize yes` started without `--forking` looks like, when
            // the status says how the main process ended: not when the status was lost while
            // the daemon ran (user trial, 2026-12-04: redis, which never forks, was given it).
            if r.mode == Mode::Exec && r.leftovers.is_some() && r.start_time.is_some() {
                println!(
                    "  hint:    {}",
                    crate::forking::background_hint("its program")
                );
            }
        }
        DaemonState::Failed => println!(
            "{} has failed: its monitor gave up after {}",
            r.name,
            crate::parse::counted(r.restarts, "restart", "restarts")
        ),
        _ if has_record => println!("{} is stopped", r.name),
        _ => println!("{} is not running", r.name),
    }
    if !r.command.is_empty() {
        println!("  command: {}", shell_join(&r.command));
    } else if let Some(why) = unreadable {
        println!("  command: unknown ({})", printable(why));
    }
    println!("  pidfile: {}", r.pidfile.display());
    match (&r.stdout, &r.stderr) {
        (Some(out), Some(err)) if out == err => println!("  log:     {}", out.display()),
        (Some(out), Some(err)) => {
            println!("  stdout:  {}", out.display());
            println!("  stderr:  {}", err.display());
        }
        _ => {}
    }
    match (&r.user, &r.group) {
        (Some(u), Some(g)) => println!("  user:    {u}:{g}"),
        (Some(u), None) => println!("  user:    {u}"),
        (None, Some(g)) => println!("  group:   {g}"),
        (None, None) => {}
    }
    // A dead daemon's reason says it already.
    if let Some(why) = r
        .start_failed
        .as_ref()
        .filter(|_| r.state == DaemonState::Stopped)
    {
        println!("  last start failed: {}", printable(why));
    }
    if r.mode == Mode::Respawn {
        if let Some(child) = r.child_pid {
            // The pid and uptime above are the monitor's; after a restart, how long the
            // program itself has run is what matters.
            let up = crate::process::Pid::new(child)
                .ok()
                .and_then(crate::process::read_stat)
                .and_then(|stat| crate::process::uptime(stat.start_time))
                .map(|d| format!(", up {}", format_uptime(d.as_secs())))
                .unwrap_or_default();
            println!("  child:   pid {child}{up}");
        }
        println!("  restarts: {}", r.restarts);
        if let Some(last) = &r.last_exit {
            println!("  last exit: {}", describe_exit(last));
        }
        if let Some(h) = &r.health_failing {
            println!(
                "  health:  failing, {} of {} checks in a row: {}",
                h.failures,
                h.retries,
                printable(&h.last)
            );
        }
        if let Some(state) = r.notify_state {
            match r.reloads {
                0 => println!("  notify:  {}", state.as_str()),
                1 => println!("  notify:  {} (1 reload)", state.as_str()),
                n => println!("  notify:  {} ({n} reloads)", state.as_str()),
            }
        }
    }
    if let Some(text) = r
        .status_text
        .as_ref()
        .filter(|_| r.state != DaemonState::Stopped)
    {
        // The daemon's words: shown, never obeyed by the terminal. Of a program that no
        // longer runs, its last.
        match r.state {
            DaemonState::Dead | DaemonState::Failed | DaemonState::Restarting => {
                println!("  last status: {}", printable(text))
            }
            _ => println!("  status:  {}", printable(text)),
        }
    }
    if let Some(rss) = r.rss_bytes {
        println!("  rss:     {}", format_bytes(rss));
    }
    if let Some(rss) = r.monitor_rss_bytes {
        println!("  monitor rss: {}", format_bytes(rss));
    }
    if let Some(tasks) = r.tasks {
        let memory = r
            .memory_bytes
            .map(|m| format!(", {}", format_bytes(m)))
            .unwrap_or_default();
        let tasks = crate::parse::counted(tasks as u64, "process", "processes");
        println!("  tasks:   {tasks}{memory}");
    }
    if let Some(cg) = &r.cgroup {
        println!("  cgroup:  {}", cg.display());
    }
    if show_log && matches!(r.state, DaemonState::Dead | DaemonState::Failed) {
        print_log_tail(r);
    }
}

/// How many log lines `status` shows for a dead daemon: enough to see why it died.
const DEAD_TAIL_LINES: usize = 3;

/// The last lines of a dead (or failed) daemon's log file(s), so that the reason is on screen.
fn print_log_tail(r: &Report) {
    let mut seen = Vec::new();
    for path in [&r.stdout, &r.stderr].into_iter().flatten() {
        if seen.contains(&path) || !path.is_absolute() || path.as_os_str() == "/dev/null" {
            continue;
        }
        seen.push(path);
        if let Some(text) = logs::tail_text(path, DEAD_TAIL_LINES) {
            println!("  last lines of {}:", path.display());
            for line in text.lines() {
                println!("    {}", printable(&logs::quoted(line)));
            }
        }
    }
}

/// `killed by signal 9 at 2026-05-01T10:00:00Z (3m 2s ago)`.
fn describe_exit(last: &LastExit) -> String {
    let mut text = last.describe();
    if let Some(at) = &last.at {
        text.push_str(&format!(" at {at}"));
        let ago = humantime::parse_rfc3339(at)
            .ok()
            .and_then(|t| std::time::SystemTime::now().duration_since(t).ok());
        if let Some(ago) = ago {
            text.push_str(&format!(" ({} ago)", format_uptime(ago.as_secs())));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_the_last_exit_with_when() {
        let last = LastExit {
            code: None,
            signal: Some(9),
            at: Some("2020-01-01T00:00:00Z".into()),
            reason: None,
        };
        let text = describe_exit(&last);
        assert!(
            text.starts_with("killed by signal 9 at 2020-01-01T00:00:00Z ("),
            "{text}"
        );
        assert!(text.ends_with(" ago)"), "{text}");
        assert_eq!(
            describe_exit(&LastExit { at: None, ..last }),
            "killed by signal 9"
        );
    }

    #[test]
    fn formats_sizes_and_uptimes() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(12 << 20), "12.0 MiB");
        assert_eq!(format_uptime(3723), "1h 2m 3s");
    }
}
