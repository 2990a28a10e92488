//! `rdaemon status`: LSB exit codes and a human or JSON report of one daemon (or, bare with
//! several daemons, the `list` table).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::cgroup::Cgroup;
use crate::cli::StatusArgs;
use crate::exit::Code;
use crate::logs;
/// Moved down to `parse`, where `start` can reach it too.
pub use crate::parse::shell_join;
use crate::paths::Ctx;
use crate::process;
use crate::session;
use crate::state::{LastExit, Mode, Record};
use crate::target::{
    is_unknown, judge, resolve, resolve_many, unknown_name_of, Many, Resolved, State, Target,
};

/// The JSON view of a daemon (SPEC §5); `list --json` prints an array of these.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Name (or the pidfile path for a pidfile without a valid name).
    pub name: String,
    /// running, restarting, stopped, dead, failed or unknown.
    pub state: &'static str,
    /// Main pid while running, else null.
    pub pid: Option<i32>,
    /// Respawn mode: the child's pid.
    pub child_pid: Option<i32>,
    /// Pidfile path.
    pub pidfile: PathBuf,
    /// argv.
    pub command: Vec<String>,
    /// exec or respawn.
    pub mode: Mode,
    /// When it was started (RFC 3339).
    pub started_at: Option<String>,
    /// Seconds since the process started, while running.
    pub uptime_secs: Option<u64>,
    /// Resident memory of the program while it runs (in respawn mode, the child's).
    pub rss_bytes: Option<u64>,
    /// Respawn mode: resident memory of the monitor, while it runs.
    pub monitor_rss_bytes: Option<u64>,
    /// Respawn mode: restarts so far.
    pub restarts: u32,
    /// Respawn mode: how the program last ended.
    pub last_exit: Option<LastExit>,
    /// stdout file.
    pub stdout: Option<PathBuf>,
    /// stderr file.
    pub stderr: Option<PathBuf>,
    /// `--user` it runs as (null: rdaemon's own user).
    pub user: Option<String>,
    /// `--group` it runs with (null: the user's primary group).
    pub group: Option<String>,
    /// Start time in clock ticks since boot.
    pub start_time: Option<u64>,
    /// Boot id of the recorded start.
    pub boot_id: Option<String>,
    /// The last `STATUS=` text the program sent while `start --ready notify` waited.
    pub status_text: Option<String>,
    /// Why a daemon is dead or unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How many processes of its session live on although the main process is gone (SPEC
    /// §3.1); absent when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leftovers: Option<usize>,
    /// How many processes the program has (its cgroup's, else its session's and descendants';
    /// the monitor not counted), while it runs or leftovers live.
    pub tasks: Option<usize>,
    /// Their memory: the cgroup's `memory.current` with the memory controller, else their
    /// summed RSS.
    pub memory_bytes: Option<u64>,
    /// The cgroup it runs in, if it got one.
    pub cgroup: Option<PathBuf>,
}

impl Report {
    /// Judges `target` and gathers what `status` and `list` show.
    pub fn new(ctx: &Ctx, target: &Target) -> Report {
        // A record that cannot be read cannot vouch for anything: the state is unknown.
        let state = match &target.record_error {
            Some(why) => State::Unknown { why: why.clone() },
            // So does a `/proc` that cannot be read (EMFILE...): that is no verdict.
            None => judge_settled(ctx, target).unwrap_or_else(|e| State::Unknown {
                why: format!("{e:#}"),
            }),
        };
        let rec = target.record.as_ref();
        let (name, pid, reason) = (target.label(), running_pid(&state), reason(&state));
        let stat = pid.and_then(process::read_stat);
        let failed = rec.is_some_and(|r| r.failed);
        let respawn = pid.and(rec).filter(|r| r.mode == Mode::Respawn);
        // The monitor's live child: the program itself, whose memory is the daemon's.
        let child = match (pid, respawn) {
            (Some(monitor), Some(rec)) => live_child(monitor, rec.child_pid),
            _ => None,
        };
        let leftovers = match state {
            State::Dead { .. } | State::Stopped => rec.map_or(0, count_leftovers),
            _ => 0,
        };
        let state = match state {
            // The main process is gone, but not all of the daemon.
            State::Stopped | State::Dead { .. } if leftovers > 0 => "dead",
            State::Running { .. } if respawn.is_some() && child.is_none() => {
                respawn_without_child(rec)
            }
            State::Running { .. } => "running",
            // The monitor removed its pidfile when it gave up.
            State::Stopped if failed => "failed",
            State::Stopped => "stopped",
            State::Dead { .. } => "dead",
            State::Unknown { .. } => "unknown",
        };
        let cgroup = rec.and_then(Cgroup::of_record);
        let monitor = respawn.and(pid).map(process::Pid::get);
        let (tasks, memory_bytes) = match (pid, cgroup.as_ref().filter(|c| c.exists())) {
            _ if pid.is_none() && leftovers == 0 => (None, None),
            (_, Some(cg)) => {
                let procs = cg.procs().unwrap_or_default();
                let procs: Vec<i32> = procs.into_iter().filter(|p| Some(*p) != monitor).collect();
                let memory = cg.memory_current().or_else(|| Some(summed_rss(&procs)));
                (Some(procs.len()), memory)
            }
            (Some(pid), None) => {
                let procs: Vec<i32> = session::daemon_processes_in(pid.get(), scan_table())
                    .into_iter()
                    .filter(|p| Some(*p) != monitor)
                    .collect();
                (Some(procs.len()), Some(summed_rss(&procs)))
            }
            (None, None) => (Some(leftovers), None),
        };
        Report {
            name,
            state,
            pid: pid.map(process::Pid::get),
            child_pid: child.map(process::Pid::get),
            pidfile: target.pidfile.clone(),
            command: rec.map(|r| r.command.clone()).unwrap_or_default(),
            mode: rec.map(|r| r.mode).unwrap_or_default(),
            started_at: rec.and_then(|r| r.started_at.clone()),
            uptime_secs: stat
                .as_ref()
                .and_then(|s| process::uptime(s.start_time))
                .map(|d| d.as_secs()),
            rss_bytes: match respawn {
                Some(_) => child.and_then(process::rss_bytes),
                None => pid.and_then(process::rss_bytes),
            },
            monitor_rss_bytes: respawn.and(pid).and_then(process::rss_bytes),
            restarts: rec.map(|r| r.restarts).unwrap_or(0),
            last_exit: rec.and_then(|r| r.last_exit.clone()),
            stdout: rec.map(|r| r.stdout.clone()),
            stderr: rec.map(|r| r.stderr.clone()),
            user: rec.and_then(|r| r.user.clone()),
            group: rec.and_then(|r| r.group.clone()),
            start_time: stat
                .as_ref()
                .map(|s| s.start_time)
                .or(rec.and_then(|r| r.start_time)),
            boot_id: rec.and_then(|r| r.boot_id.clone()),
            status_text: rec.and_then(|r| r.status_text.clone()),
            reason: match (reason, leftovers) {
                (None, 1..) => Some("its main process is gone".into()),
                (reason, _) => reason,
            },
            leftovers: (leftovers > 0).then_some(leftovers),
            tasks,
            memory_bytes,
            cgroup: cgroup.filter(|c| c.exists()).map(|c| c.path().to_owned()),
        }
    }

    /// The LSB status code of this report.
    pub fn code(&self) -> Code {
        match self.state {
            "running" => Code::Ok,
            "dead" | "failed" => Code::Failure,
            "unknown" => Code::Privilege,
            _ => Code::NotRunning,
        }
    }
}

/// [`judge`], made sure of when it finds the daemon dead: `stop` may be between the death of
/// the main process and the removal of its pidfile (or `restart` between its stop and its
/// start). A daemon rdaemon is stopping is never dead: `stop` marks the record before its first
/// signal, and the record is read again here, after the death was seen. Otherwise the daemon is
/// judged again as the files are now (the pidfile gone, or naming a new process).
fn judge_settled(ctx: &Ctx, target: &Target) -> Result<State> {
    let state = judge(ctx, target)?;
    let (State::Dead { pid, .. }, Some(name)) = (&state, &target.name) else {
        return Ok(state);
    };
    let Ok(record) = Record::load(ctx, name) else {
        return Ok(state);
    };
    if record
        .as_ref()
        .is_some_and(|r| r.stopping && r.pid == Some(pid.get()))
    {
        return Ok(State::Stopped);
    }
    let now = Target {
        record,
        ..target.clone()
    };
    Ok(match judge(ctx, &now)? {
        State::Dead { pid: again, .. } if again == *pid => state,
        other => other,
    })
}

/// The monitor's child `child_pid`, if it is alive and still the child of `monitor` (the pid
/// was not reused since the record was written).
fn live_child(monitor: process::Pid, child_pid: Option<i32>) -> Option<process::Pid> {
    let child = process::Pid::new(child_pid?).ok()?;
    process::read_stat(child)
        .filter(|s| s.is_alive() && s.ppid == monitor.get())
        .map(|_| child)
}

/// The state of a respawn daemon whose monitor runs but whose program does not.
fn respawn_without_child(rec: Option<&Record>) -> &'static str {
    match rec {
        // The monitor gave up and is on its way out.
        Some(r) if r.failed => "failed",
        // `stop` is ending it: the program is gone, the monitor follows.
        Some(r) if r.stopping => "stopped",
        // Nothing has exited yet: `start` is still starting the first child.
        Some(r) if r.child_pid.is_none() && r.last_exit.is_none() => "running",
        // The program ended and the monitor waits out the restart delay.
        _ => "restarting",
    }
}

/// The live leftovers of the session `rec` names, once its main process is gone. `/proc` is
/// scanned once per command, however many daemons `list` reports.
fn count_leftovers(rec: &Record) -> usize {
    match session::Session::of(rec, None) {
        Ok(Some(session)) => session.count_leftovers_in(scan_table()),
        _ => 0,
    }
}

/// The one scan of `/proc` of this command.
fn scan_table() -> &'static [session::Entry] {
    static TABLE: std::sync::OnceLock<Vec<session::Entry>> = std::sync::OnceLock::new();
    TABLE.get_or_init(session::scan)
}

/// The summed resident memory of `pids` (those that vanished count nothing).
fn summed_rss(pids: &[i32]) -> u64 {
    pids.iter()
        .filter_map(|&p| process::Pid::new(p).ok())
        .filter_map(process::rss_bytes)
        .sum()
}

fn running_pid(state: &State) -> Option<process::Pid> {
    match state {
        State::Running { pid, .. } => Some(*pid),
        _ => None,
    }
}

fn reason(state: &State) -> Option<String> {
    match state {
        State::Dead { why, .. } | State::Unknown { why } => Some(why.clone()),
        _ => None,
    }
}

/// `rdaemon status`.
pub fn run(args: StatusArgs, ctx: &Ctx) -> Result<Code> {
    let Some(single) = args.target.single() else {
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
            let reports = super::list::reports(ctx)?;
            super::list::print(ctx, &reports, args.json)?;
            let all_running = reports.iter().all(|r| r.state == "running");
            return Ok(if all_running {
                Code::Ok
            } else {
                Code::NotRunning
            });
        }
    };
    if is_unknown(ctx, &single, &target) {
        // Not running (exit 3, as LSB wants), but not silently: a typo, or root's daemon.
        eprintln!("rdaemon: {}", unknown_name_of(ctx, &target));
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&Report::new(ctx, &target))?
            );
        }
        return Ok(Code::NotRunning);
    }
    let report = Report::new(ctx, &target);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if report.state == "unknown" {
        eprintln!(
            "rdaemon: {}: {}",
            report.name,
            report.reason.as_deref().unwrap_or("unknown state")
        );
    } else if !ctx.quiet {
        // As root, the log a record names is shown only from a directory no other user could
        // write to: a forged record must not make root print any file it likes.
        let show_log = ctx.refuse_untrusted_dir().is_ok();
        print_human(&report, target.record.is_some(), show_log);
    }
    Ok(report.code())
}

/// `status` of several daemons (names, globs, `--all`): the `list` table (or a JSON array) of
/// them. Exit 0 only when all run; else the worst of 4 (unknown) > 1 (dead, failed) > 3 (not
/// running, or a name that matches no daemon).
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
        super::list::print(ctx, &reports, args.json)?;
    }
    let mut codes: Vec<Code> = reports.iter().map(Report::code).collect();
    if !unknown.is_empty() || reports.is_empty() {
        codes.push(Code::NotRunning);
    }
    Ok(Code::worst(codes))
}

fn print_human(r: &Report, has_record: bool, show_log: bool) {
    match r.state {
        "running" => {
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
        "restarting" => println!(
            "{} is restarting (monitor pid {}): its program exited and starts again after the restart delay",
            r.name,
            r.pid.unwrap_or_default()
        ),
        "dead" => {
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
        }
        "failed" => println!(
            "{} has failed: its monitor gave up after {} restarts",
            r.name, r.restarts
        ),
        _ if has_record => println!("{} is stopped", r.name),
        _ => println!("{} is not running", r.name),
    }
    if !r.command.is_empty() {
        println!("  command: {}", shell_join(&r.command));
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
    if r.mode == Mode::Respawn {
        if let Some(child) = r.child_pid {
            println!("  child:   pid {child}");
        }
        println!("  restarts: {}", r.restarts);
        if let Some(last) = &r.last_exit {
            println!("  last exit: {}", describe_exit(last));
        }
    }
    if let Some(text) = r.status_text.as_ref().filter(|_| r.state != "stopped") {
        println!("  status:  {text}");
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
        let noun = if tasks == 1 { "process" } else { "processes" };
        println!("  tasks:   {tasks} {noun}{memory}");
    }
    if let Some(cg) = &r.cgroup {
        println!("  cgroup:  {}", cg.display());
    }
    if show_log && matches!(r.state, "dead" | "failed") {
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
                println!("    {line}");
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

/// `1h 2m 3s` style, to the second.
pub fn format_uptime(secs: u64) -> String {
    crate::parse::format_duration(Duration::from_secs(secs))
}

/// `12.3 MiB` style.
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
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
