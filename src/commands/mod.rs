//! One module per subcommand; each `run` orchestrates and returns the exit code of a normal
//! outcome. None of them calls libc: that is `daemonize` and `process`.

pub mod completions;
pub(crate) mod export;
pub(crate) mod forget;
pub(crate) mod list;
pub(crate) mod logs;
pub(crate) mod reload;
pub(crate) mod restart;
pub(crate) mod signal;
pub(crate) mod start;
pub(crate) mod status;
pub(crate) mod stop;
pub(crate) mod up;
pub(crate) mod wait;

use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::cli::{Cli, Command, TargetsArgs};
use crate::exit::Code;
use crate::parse::Name;
use crate::paths::Ctx;
use crate::pidfile::NameLock;
use crate::target::{resolve_many, several_error, Many, Target};

/// Runs the parsed command line. `completions` needs no rdaemon directory (it must work even
/// where none can be found), every other command does.
pub fn run(cli: Cli) -> Result<Code> {
    // The respawn monitor apart: its frames stay on the stack for the daemon's life, so they
    // must not carry the space of every other command inlined here (issue 18).
    match cli.command {
        Command::Monitor(args) => {
            crate::supervisor::run(args, &Ctx::new(cli.dir, cli.quiet, cli.verbose)?)
        }
        command => run_verb(Cli { command, ..cli }),
    }
}

/// Runs a user's command.
#[inline(never)]
fn run_verb(cli: Cli) -> Result<Code> {
    let ctx = || Ctx::new(cli.dir.clone(), cli.quiet, cli.verbose);
    // Commands that act on what the records say (signal, replace, remove, or print the files
    // they name): never on records another user could have forged.
    let acting_ctx = || {
        let ctx = ctx()?;
        ctx.refuse_untrusted_dir()?;
        Ok::<_, anyhow::Error>(ctx)
    };
    let mut command = cli.command;
    let verb = command.name();
    let follow = matches!(&command, Command::Logs(args) if args.follow);
    if let Some(target) = command.targets().filter(|t| t.file.is_some()) {
        daemons_of_file(target, &ctx()?, verb, follow)?;
    }
    match command {
        Command::Completions(args) => completions::run(args),
        Command::Start(args) => start::run(args, &acting_ctx()?),
        Command::Stop(args) => stop::run(args, &acting_ctx()?),
        Command::Status(args) => status::run(args, &ctx()?),
        Command::List(args) => list::run(args, &ctx()?),
        Command::Restart(args) => restart::run(args, &acting_ctx()?),
        Command::Resurrect(args) => start::resurrect(args, &acting_ctx()?),
        Command::ResurrectOne(args) => start::resurrect_child(args, &acting_ctx()?),
        Command::Logs(args) => logs::run(args, &acting_ctx()?),
        Command::Forget(args) => forget::run(args, &acting_ctx()?),
        Command::Signal(args) => signal::run(args, &acting_ctx()?),
        Command::Reload(args) => reload::run(args, &acting_ctx()?),
        Command::Wait(args) => wait::run(args, &acting_ctx()?),
        Command::Up(args) => up::run(args, &acting_ctx()?),
        Command::Down(args) => up::down(args, &acting_ctx()?),
        Command::Export(args) => export::run(args, &ctx()?),
        Command::Monitor(_) => unreachable!("run() hands the monitor to the supervisor"),
    }
}

/// `--file FILE`: the daemons of an up file, by name, as if they had been typed. The file is
/// read as `up` reads it (as root, only one root owns and no one else can change); reading it
/// enters its directory, which is left again through a handle on the one before, so that the
/// command's own relative paths keep their meaning (also when that directory was removed).
///
/// A daemon of one of its names that comes from another file, or was started by hand, is not
/// the file's (helper-105's review: `stop --file` stopped it): a command that acts on the
/// daemons refuses it, as `up` and `down` do; one that only looks (`status`, `logs`, `wait`)
/// leaves it out, saying so, and shows the rest (helper-107's review: `status` exiting 1 would
/// read as "dead").
///
/// `logs -f` (`follow`) waits for the logs of the entries `up` has not started yet, at the
/// paths their entries give (helper-121's trial: one following while another terminal ran `up`
/// never saw them): [`TargetsArgs::awaited`].
fn daemons_of_file(target: &mut TargetsArgs, ctx: &Ctx, verb: &str, follow: bool) -> Result<()> {
    // Kept: `status --file` and `logs --file` answer as for several daemons, however many
    // the file has.
    let Some(path) = target.file.clone() else {
        return Ok(());
    };
    let here = crate::fsx::current_dir_handle()?;
    let file = crate::upfile::UpFile::load(Some(&path));
    // In the file's directory, where the entries' relative paths mean what `up` takes them to.
    if let (Ok(file), true) = (&file, follow) {
        target.awaited = awaited_logs(ctx, file);
    }
    crate::fsx::return_to(&here)?;
    let file = file?;
    let looks = matches!(verb, "status" | "logs" | "wait");
    // In the order `up` starts them (what a daemon comes after first): `restart --file` brings
    // a daemon back before what needs it; `stop --file` stops in `down`'s order, dependents
    // first (helper-108's trial: by name).
    let graph: Vec<(Name, Vec<Name>)> = file
        .entries
        .iter()
        .map(|(name, entry)| (name.clone(), entry.after.clone()))
        .collect();
    let mut order = crate::upfile::order_by_after(&graph);
    if matches!(verb, "stop" | "signal" | "forget") {
        order.reverse();
    }
    let mut names = Vec::new();
    for name in order {
        let rec = crate::state::Record::load(ctx, &name)?;
        // An entry `up` never started has no log and nothing to wait for: `logs` failing on
        // it ended a CI script's `trap '... logs --file ...; rdaemon down' EXIT` under `set
        // -e` before its `down` (helper-108's trial); `status` says it is not running.
        if rec.is_none() && matches!(verb, "logs" | "wait") {
            if !target.awaited.iter().any(|(n, _)| *n == name) {
                ctx.warn(format!("{name} was never started; left out"));
            }
            continue;
        }
        let owner = rec.and_then(|rec| crate::upfile::foreign_owner(&rec, &file.path));
        match owner {
            None => names.push(crate::parse::Pattern::Name(name)),
            Some(owner) if looks => ctx.warn(format!(
                "{name} is not {}'s: a daemon of that name {owner}; left out",
                file.path.display()
            )),
            Some(owner) => bail!(
                "not acting on {name} for {}: a daemon of that name {owner} (stop or forget it by name, or rename the entry)",
                file.path.display()
            ),
        }
    }
    if names.is_empty() && target.awaited.is_empty() {
        let why = format!("no daemon of {} was started from it", file.path.display());
        // For `status`, not running (3): 1 would read as "dead" (helper-109's review).
        if verb == "status" {
            return Err(crate::exit::Fail::not_running(why).into());
        }
        bail!(why);
    }
    target.names = names;
    Ok(())
}

/// The entries of `file` that have no spec yet (`up` never started them), each with the files
/// its output will go to, leaving out `/dev/null`: its entry's own, else the default log. Run
/// in the file's directory.
fn awaited_logs(ctx: &Ctx, file: &crate::upfile::UpFile) -> Vec<(Name, Vec<PathBuf>)> {
    let mut awaited = Vec::new();
    for (name, entry) in &file.entries {
        if !matches!(crate::state::Record::load(ctx, name), Ok(None)) {
            continue;
        }
        // An entry `up` would refuse (a user that does not exist): its default log.
        let streams = match entry.spec(ctx, &file.path) {
            Ok(spec) => vec![spec.stdout, spec.stderr],
            Err(_) => vec![ctx.default_log_path(name)],
        };
        let mut files: Vec<PathBuf> = Vec::new();
        for path in streams {
            if path != std::path::Path::new("/dev/null") && !files.contains(&path) {
                files.push(path);
            }
        }
        if !files.is_empty() {
            awaited.push((name.clone(), files));
        }
    }
    awaited
}

/// Releases `lock`, the lock of `name`, removing its lock file first when rdaemon keeps nothing
/// for the name ([`crate::state::is_known`]): a command that found nothing to act on leaves
/// nothing behind. Taking the lock by value makes the removal the last thing done under it. A
/// command already waiting for the lock then gets the removed file's, sees that the path no
/// longer names it and locks the file now there (`NameLock::acquire`, as after `forget`), so two
/// commands never act on one name at once. Best effort: a lock file left behind is harmless.
pub(crate) fn release_lock(ctx: &Ctx, name: &Name, lock: NameLock) {
    if !crate::state::is_known(ctx, name) {
        let _ = lock.remove_file();
    }
    drop(lock);
}

/// Acts on each daemon in turn (one after the other, so that no two names' locks are ever held
/// at once), printing each failure as it happens; the exit code is the worst of them
/// ([`Code::worst`]). A single daemon's error is returned as it is, so that one daemon's
/// command behaves as it always did.
pub(crate) fn each(
    targets: Vec<Target>,
    mut act: impl FnMut(Target) -> Result<Code>,
) -> Result<Code> {
    if targets.len() == 1 {
        let only = targets.into_iter().next().expect("one target");
        return act(only);
    }
    let mut codes = Vec::with_capacity(targets.len());
    for target in targets {
        codes.push(match act(target) {
            Ok(code) => code,
            Err(err) => {
                eprintln!("rdaemon: {}", crate::exit::render(&err));
                crate::exit::code_of(&err)
            }
        });
    }
    Ok(Code::worst(codes))
}

/// `signal` and `reload`: sends `sig_of(daemon)` to each daemon `args` names (`deliver::send`);
/// the exit code is the worst (4 > 1 > 7 > 0), and a name that matches nothing counts as not
/// running (7).
pub(crate) fn deliver_each(
    ctx: &Ctx,
    args: &TargetsArgs,
    group: bool,
    sig_of: impl Fn(&Target) -> nix::sys::signal::Signal,
) -> Result<Code> {
    let why = crate::deliver::Purpose::Signal;
    deliver_each_then(ctx, args, group, why, sig_of, |_, code| Ok(code))
}

/// [`deliver_each`], with `then` run after each delivery (with its outcome) for what follows
/// it: `reload` waits there for the program to say it has reloaded.
pub(crate) fn deliver_each_then(
    ctx: &Ctx,
    args: &TargetsArgs,
    group: bool,
    why: crate::deliver::Purpose,
    sig_of: impl Fn(&Target) -> nix::sys::signal::Signal,
    then: impl Fn(&Target, Code) -> Result<Code>,
) -> Result<Code> {
    let (targets, unknown) = match resolve_many(ctx, args, true)? {
        Many::Picked { targets, unknown } => (targets, unknown),
        Many::NoDaemons => {
            ctx.say("no daemons");
            return Ok(Code::ProgramNotRunning);
        }
        // Nothing named and none running: not running, as for one daemon (LSB's 7), not a
        // usage error (user trial, 2026-12-03).
        Many::Several(names) if crate::target::none_alive(ctx, &names, |_| false)? => {
            ctx.say(crate::target::none_running(&names));
            return Ok(Code::ProgramNotRunning);
        }
        Many::Several(names) => return Err(several_error(&names).into()),
    };
    for why in &unknown {
        eprintln!("rdaemon: {why}");
    }
    let code = each(targets, |target| {
        let code = crate::deliver::send(ctx, &target, sig_of(&target), group, why)?;
        then(&target, code)
    })?;
    Ok(match unknown.is_empty() {
        true => code,
        false => Code::worst([code, Code::ProgramNotRunning]),
    })
}
