//! `rdaemon wait NAME... [--timeout DURATION]`: block until each daemon's main process has
//! exited, on pidfds (one `poll` on all of them, no sleep loop), saying how each ended when that
//! is known. The daemons are not rdaemon's children, so their exit status is not ours to reap,
//! but the kernel shows it: in the zombie's `/proc/PID/stat` until init reaps it, and to the
//! pidfd held across the reaping (Linux 6.15). A respawn daemon's main process is its monitor:
//! its record says how the program last ended.

use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::cli::WaitArgs;
use crate::exit::Code;
use crate::parse::format_duration;
use crate::paths::Ctx;
use crate::pidfile::os_reason;
use crate::process::{self, Process};
use crate::state::{Mode, Record};
use crate::target::{judge, resolve_many, several_error, Main, Many, Target};

/// `rdaemon wait`: exit 0 once every daemon named has exited (one that is not running counts
/// as done), 1 at the timeout naming those still running, 1 for a name that names no daemon
/// (a typo must not pass for "it has exited") or a daemon whose state is unknown.
pub fn run(args: WaitArgs, ctx: &Ctx) -> Result<Code> {
    let start = Instant::now();
    let (targets, unknown) = match resolve_many(ctx, &args.target, true)? {
        Many::Picked { targets, unknown } => (targets, unknown),
        Many::NoDaemons => {
            ctx.say("no daemons");
            return Ok(Code::Ok);
        }
        // Nothing named and none running: nothing to wait for.
        Many::Several(names) if crate::target::none_alive(ctx, &names, |_| false)? => {
            ctx.say(crate::target::none_running(&names));
            return Ok(Code::Ok);
        }
        Many::Several(names) => return Err(several_error(&names).into()),
    };
    let mut code = Code::Ok;
    for why in &unknown {
        eprintln!("rdaemon: {why}");
        code = Code::Failure;
    }
    let mut waiting: Vec<(Target, Process)> = Vec::new();
    for target in targets {
        match pin(ctx, &target) {
            Ok(Some(process)) => waiting.push((target, process)),
            Ok(None) => ctx.say(format!("{} is not running", target.label())),
            Err(e) => {
                eprintln!("rdaemon: {}", crate::exit::render(&e));
                code = Code::worst([code, crate::exit::code_of(&e)]);
            }
        }
    }
    while !waiting.is_empty() {
        let left = args.timeout.map(|t| t.saturating_sub(start.elapsed()));
        let processes: Vec<&Process> = waiting.iter().map(|(_, p)| p).collect();
        let exited = process::wait_any(&processes, left)
            .map_err(|e| anyhow::anyhow!("cannot wait for the daemons: {}", os_reason(&e)))?;
        if exited.is_empty() {
            let names: Vec<String> = waiting.iter().map(|(t, _)| t.label()).collect();
            let after = format_duration(args.timeout.unwrap_or_default());
            bail!(
                "timed out after {after}; still running: {}",
                names.join(", ")
            );
        }
        // Highest index first, so that the indexes still to remove stay valid.
        for i in exited.into_iter().rev() {
            let (target, process) = waiting.remove(i);
            ctx.say(format!(
                "{} {}",
                target.label(),
                ended(ctx, &target, &process)
            ));
        }
    }
    Ok(code)
}

/// The daemon's main process pinned by a pidfd, as judged; `None` when it is not running.
fn pin(ctx: &Ctx, target: &Target) -> Result<Option<Process>> {
    let label = target.label();
    // A record it may not read (root's, to a user): insufficient privilege, exit 4, as for
    // `signal` (helper-116: "invalid pidfile ... Permission denied", exit 1).
    if let (true, Some(why)) = (
        crate::target::record_refused(ctx, target),
        &target.record_error,
    ) {
        let err = anyhow::anyhow!("cannot wait for {label}: {why}");
        return Err(crate::target::privilege_error(ctx, err));
    }
    match judge(ctx, target).with_context(|| format!("cannot wait for {label}"))? {
        Main::Alive {
            pid, start_time, ..
        } => Process::open_verified(pid, start_time).map_err(|e| {
            anyhow::anyhow!(
                "cannot wait for {label}: cannot read /proc/{pid}/stat: {}",
                os_reason(&e)
            )
        }),
        Main::NoPidfile | Main::Gone { .. } => Ok(None),
        Main::Untrusted { why } => bail!("cannot wait for {label}: {why}"),
        // It cannot end while rdaemon, running inside it, waits for it to.
        Main::Caller { pid, .. } => bail!(
            "cannot wait for {label}: it is pid {pid}, which runs this rdaemon (its parent or an ancestor), so it cannot end while rdaemon waits"
        ),
    }
}

/// How the daemon ended, as far as rdaemon can know: its exit status (a respawn monitor's:
/// what its record says of the program's last exit), and whether rdaemon stopped it.
fn ended(ctx: &Ctx, target: &Target, process: &Process) -> String {
    let pid = process.pid();
    let record = target
        .name
        .as_ref()
        .and_then(|n| Record::load(ctx, n).ok().flatten())
        .filter(|r| r.pid == Some(pid.get()));
    let respawn = record.as_ref().is_some_and(|r| r.mode == Mode::Respawn);
    let status = match respawn {
        true => None,
        false => process.exit_status(),
    };
    let mut text = format!("has exited (pid {pid})");
    let mut notes = Vec::new();
    if record.as_ref().is_some_and(|r| r.stopping) {
        notes.push("stopped by rdaemon".to_owned());
    }
    notes.extend(status.map(|s| s.to_string()));
    if !notes.is_empty() {
        text = format!("{text}: {}", notes.join(", "));
    }
    let Some(rec) = record else {
        return text;
    };
    if respawn {
        if rec.failed {
            text.push_str(&format!(
                ": its monitor gave up after {}",
                crate::parse::counted(rec.restarts, "restart", "restarts")
            ));
        }
        if let Some(last) = &rec.last_exit {
            text.push_str(&format!("; its program's last exit: {}", last.describe()));
        }
    }
    text
}
