//! The command line, declared with clap's derive API. Help text, completions and the man page all
//! come from these types. Value parsers reject malformed input here, so it ends in exit 2 before
//! any work starts.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;
use nix::sys::signal::Signal;

use crate::parse::{self, Name, Pattern, Step, UserSpec};
use crate::ready::ReadySpec;
use crate::state::RestartPolicy;

/// Turn any program into a well-behaved Unix daemon and hand it back by name.
#[derive(Debug, Parser)]
#[command(
    name = "rdaemon",
    version,
    propagate_version = true,
    max_term_width = 100,
    subcommand_value_name = "COMMAND",
    subcommand_help_heading = "Commands"
)]
#[command(after_help = "\
Examples:
  rdaemon start --name web --chdir /srv/www --ready tcp:8080 -- python3 -m http.server 8080 --bind 127.0.0.1
  rdaemon status web
  rdaemon logs web -f
  rdaemon restart web
  rdaemon stop web

Exit codes: 0 success, 1 failure, 2 usage error, 4 insufficient privilege, 7 not running
(signal, reload);
status: 0 running, 1 dead (wanted running, process gone) or failed, 3 not running, 4 unknown.")]
pub struct Cli {
    /// The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR]
    /// [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]
    #[arg(long, global = true, value_name = "DIR", value_parser = Utf8Path, help_heading = GLOBAL)]
    pub dir: Option<PathBuf>,

    /// Print less: only errors
    #[arg(short, long, global = true, conflicts_with = "verbose", help_heading = GLOBAL)]
    pub quiet: bool,

    /// Print more about what rdaemon does
    #[arg(short, long, global = true, action = ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The help heading of the options every command takes, so that a command's own options are
/// not mixed with them.
const GLOBAL: &str = "Global options";

/// Parses the command line of the internal `rdaemon __monitor` (the words after `__monitor`),
/// which `start --respawn` execs: `[--dir DIR] [--runtime-dir DIR] [--report-fd FD]
/// [--notify-fd FD] NAME`. By
/// hand, apart from [`Cli`]: help, completions and the man page never offer it, and the monitor,
/// which stays resident for the daemon's life, never builds clap's parser (issue 18: the pages
/// that touches are most of a monitor's private memory).
fn parse_monitor(words: impl Iterator<Item = OsString>) -> Result<Cli, String> {
    let mut words = words;
    let (mut dir, mut runtime_dir, mut report_fd, mut name) = (None, None, None, None);
    let mut notify_fd = None;
    while let Some(word) = words.next() {
        let text = word
            .to_str()
            .ok_or_else(|| format!("invalid UTF-8: {word:?}"))?
            .to_owned();
        let (option, inline) = match text.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (o.to_owned(), Some(v.to_owned())),
            _ => (text.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| words.next().and_then(|w| w.into_string().ok()))
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("{option} needs a value"))
        };
        match option.as_str() {
            "--dir" => dir = Some(PathBuf::from(value()?)),
            "--runtime-dir" => runtime_dir = Some(PathBuf::from(value()?)),
            "--report-fd" => {
                let v = value()?;
                report_fd = Some(
                    v.parse()
                        .map_err(|_| format!("invalid --report-fd '{v}'"))?,
                );
            }
            "--notify-fd" => {
                let v = value()?;
                notify_fd = Some(
                    v.parse()
                        .map_err(|_| format!("invalid --notify-fd '{v}'"))?,
                );
            }
            o if o.starts_with('-') => return Err(format!("unexpected option '{o}'")),
            _ if name.is_some() => return Err(format!("unexpected argument '{text}'")),
            _ => name = Some(Name::parse(&text)?),
        }
    }
    Ok(Cli {
        dir,
        quiet: false,
        verbose: 0,
        command: Command::Monitor(MonitorArgs {
            name: name.ok_or("the daemon's NAME is missing")?,
            report_fd,
            runtime_dir,
            notify_fd,
        }),
    })
}

/// The word that selects the internal monitor as `argv[1]`.
pub const MONITOR: &str = "__monitor";

/// The word that selects `resurrect`'s internal work for one daemon (after the global `-q` and
/// `-v` its parent passes on): `rdaemon [-q] [-v]... __resurrect NAME [--after-failed DEP |
/// --after-stopped DEP]`.
pub const RESURRECT_ONE: &str = "__resurrect";

/// `__resurrect NAME --after-failed DEP`: DEP, which NAME comes after, did not start.
pub const AFTER_FAILED: &str = "after-failed";

/// `__resurrect NAME --after-stopped DEP`: DEP, which NAME comes after, is wanted stopped.
pub const AFTER_STOPPED: &str = "after-stopped";

/// Parses the command line of the internal `rdaemon __resurrect`: `quiet` and `verbose` from the
/// global options before it, then the words after it. By hand, as [`parse_monitor`]: help,
/// completions and the man page never offer it.
fn parse_resurrect_one(
    quiet: bool,
    verbose: u8,
    words: impl Iterator<Item = OsString>,
) -> Result<Cli, String> {
    let mut words = words;
    let (mut name, mut after) = (None, None);
    while let Some(word) = words.next() {
        let text = word
            .to_str()
            .ok_or_else(|| format!("invalid UTF-8: {word:?}"))?
            .to_owned();
        let why = match text.strip_prefix("--") {
            Some(AFTER_FAILED) => Some(AfterDown::Failed),
            Some(AFTER_STOPPED) => Some(AfterDown::Stopped),
            Some(_) => return Err(format!("unexpected option '{text}'")),
            None => None,
        };
        match why {
            Some(why) => {
                let dep = words
                    .next()
                    .and_then(|w| w.into_string().ok())
                    .ok_or_else(|| format!("{text} needs a value"))?;
                after = Some((Name::parse(&dep)?, why));
            }
            None if name.is_some() => return Err(format!("unexpected argument '{text}'")),
            None => name = Some(Name::parse(&text)?),
        }
    }
    Ok(Cli {
        dir: None,
        quiet,
        verbose,
        command: Command::ResurrectOne(ResurrectOneArgs {
            name: name.ok_or("the daemon's NAME is missing")?,
            after,
        }),
    })
}

/// `start --source FILE`, internal: see [`with_internal_options`].
const SOURCE: &str = "source";

/// `start --after NAME`, internal: see [`with_internal_options`].
const AFTER: &str = "after";

/// `cmd` with the options of `start` that only `up` gives, to the `rdaemon start` it runs for
/// each entry: `--source FILE` and `--after NAME` (`StartArgs::source`, `StartArgs::after`).
/// They are added here, for parsing only ([`Cli::try_parse_words`]), rather than declared with
/// the derive: clap_complete offers every argument of the definition, hidden or not, and
/// completions never offer internal options (SPEC §8); help and the man page never see them
/// either.
fn with_internal_options(cmd: clap::Command) -> clap::Command {
    cmd.mut_subcommand("start", |start| {
        start
            .arg(
                clap::Arg::new(SOURCE)
                    .long(SOURCE)
                    .value_name("FILE")
                    .value_parser(Utf8Path)
                    .action(ArgAction::Set)
                    .hide(true),
            )
            .arg(
                clap::Arg::new(AFTER)
                    .long(AFTER)
                    .value_name("NAME")
                    .value_parser(Name::parse)
                    .action(ArgAction::Append)
                    .hide(true),
            )
    })
}

/// The subcommands, one file each under `src/commands/`. Deferred: parsing a command line
/// defines the arguments of the one subcommand it names only ([`Cli::built`] defines them all).
/// Each variant's doc comment is its help; the argument structs carry plain comments, since a
/// deferred struct's doc comment would replace it.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Detach PROGRAM as a daemon, write its pidfile and record, and report once it really runs;
    /// `start NAME` starts a stopped daemon again from its spec
    #[command(
        override_usage = "rdaemon start [OPTIONS] [--] <PROGRAM>...\n       rdaemon start [OPTIONS] <NAME>",
        after_help = "\
Examples:
  rdaemon start -- sleep 1000
  rdaemon start web                       # again, from its spec (options given override it)
  rdaemon start --name web --chdir /srv/www --env LEVEL=debug -- python3 -m http.server 8080 --bind 127.0.0.1
  rdaemon start --name api --ready tcp:8080 --ready-timeout 1m -- ./server --port 8080
  rdaemon start --pidfile /run/ping.pid --log /var/log/ping.log -- ping localhost
  rdaemon start --respawn --log-max-size 10M --name worker -- ./worker.sh
  rdaemon start --forking --pidfile /run/nginx.pid --ready tcp:80 -- nginx   # forks by itself
  rdaemon start --foreground --name api -- ./server --port 8080   # systemd, containers"
    )]
    Start(StartArgs),

    /// Stop a daemon: signal its process group, wait exactly until it is gone, KILL if it must
    #[command(after_help = "\
Examples:
  rdaemon stop web
  rdaemon stop --pidfile /run/ping.pid --timeout 30s
  rdaemon stop web --retry TERM/30/KILL/5
  rdaemon stop web worker 'job-*'   # several: one line each, the worst exit code
  rdaemon stop --all")]
    Stop(StopArgs),

    /// Tell whether a daemon runs (LSB exit codes: 0 running, 1 dead, 3 stopped, 4 unknown)
    #[command(after_help = "\
Examples:
  rdaemon status web
  rdaemon status web --json
  rdaemon status            # every daemon, as a table
  rdaemon status 'web-*'    # several: the table; exit 0 only if all run, else 3")]
    Status(StatusArgs),

    /// List every daemon in the rdaemon directory
    #[command(after_help = "\
Examples:
  rdaemon list
  rdaemon list --json
  for name in $(rdaemon list --names); do rdaemon restart \"$name\"; done

On a terminal a command too long for the line is cut to the width (ending in ...); into a
pipe, and in --json, it is whole.")]
    List(ListArgs),

    /// Stop a daemon if it runs, then start it again with its recorded command line
    #[command(after_help = "\
Examples:
  rdaemon restart web
  rdaemon restart web --env LEVEL=debug
  rdaemon restart api -- ./server --port 9090
  rdaemon restart 'web-*'             # one after the other

An option not given keeps the recorded value: the defaults shown above are the ones start
uses for a new daemon.")]
    Restart(RestartArgs),

    /// Start every daemon whose spec wants it running and that does not run (after a reboot)
    #[command(after_help = "\
Examples:
  rdaemon resurrect           # at boot: cron @reboot, an init script, a systemd unit

Daemons are started concurrently, each once the daemons its up file says it comes after run;
one line per daemon as each finishes. Exit 0 if all daemons wanted running run afterwards,
else 1.")]
    Resurrect(ResurrectArgs),

    /// Print the last lines of a daemon's log; -f follows it (across rotation) until interrupted
    #[command(after_help = "\
Examples:
  rdaemon logs web
  rdaemon logs web -n 100
  rdaemon logs web -f
  rdaemon logs web worker -f    # interleaved, each line prefixed 'NAME | '
  rdaemon logs --file rdaemon.toml -f   # the daemons of an up file
  rdaemon logs --all -n 5

With several daemons, their last lines come in the order of their times where the monitor
puts one on every line (--log-timestamps), else one log after the other.")]
    Logs(LogsArgs),

    /// Remove stopped daemons' records (their logs stay); refuses a daemon that runs
    #[command(after_help = "\
Examples:
  rdaemon forget web
  rdaemon forget web worker
  rdaemon forget 'job-*'
  rdaemon forget --all      # every stopped daemon")]
    Forget(ForgetArgs),

    /// Send a signal to daemons' main programs (in respawn mode: the program, not its monitor)
    #[command(after_help = "\
Examples:
  rdaemon signal USR1 web
  rdaemon signal HUP 'worker-*'
  rdaemon signal --group TERM web    # every process of its process group

Exit 7 when a daemon is not running.")]
    Signal(SignalArgs),

    /// Tell daemons to reload their configuration (their reload signal: HUP)
    #[command(after_help = "\
Examples:
  rdaemon reload web
  rdaemon reload --all

A program that neither catches, ignores nor blocks the signal would die of it: it is not sent
(exit 1; `rdaemon signal HUP NAME` sends it anyway). Exit 7 when a daemon is not running.")]
    Reload(ReloadArgs),

    /// Wait until daemons have exited (on pidfds, no polling), saying how each ended
    #[command(after_help = "\
Examples:
  rdaemon wait web
  rdaemon wait 'job-*' --timeout 10m

Exit 0 once all have exited (a daemon not running counts as done), 1 at the timeout.")]
    Wait(WaitArgs),

    /// Start the daemons of a file (rdaemon.toml or Procfile), each once what it comes after is
    /// ready, independent ones at once; unchanged running ones are left alone
    #[command(after_help = "\
Examples:
  rdaemon up                      # ./rdaemon.toml, else ./Procfile
  rdaemon up -f ci/rdaemon.toml
  rdaemon up web                  # web and what it comes after

rdaemon.toml:
  [daemons.db]
  command = [\"redis-server\", \"--port\", \"6390\"]
  ready = \"tcp:6390\"

  [daemons.web]
  run = \"python3 -m http.server 8080 --bind 127.0.0.1\"    # via /bin/sh -c
  after = [\"db\"]
  ready = \"http:http://127.0.0.1:8080/\"
  env = { LEVEL = \"debug\" }

Keys are start's long options with the same values, plus command or run, and after. Relative
paths, and the default --chdir, are relative to the file's directory. Exit 0 when all are up, 1
on a failure (what depends on the failed daemon is not started; the rest stay up), 2 for a bad
file (nothing is started).")]
    Up(UpArgs),

    /// Stop the daemons of a file, dependents first, independent ones at once; their specs stay
    #[command(after_help = "\
Examples:
  rdaemon down                    # every daemon of ./rdaemon.toml (else ./Procfile)
  rdaemon down web                # web and what comes after it

Each daemon is stopped with its own stop settings. Daemons that do not run count as stopped.")]
    Down(UpArgs),

    /// Print a service definition for another supervisor (systemd, Nomad), built from daemons'
    /// records or from an up file
    #[command(after_help = "\
Examples:
  rdaemon export systemd web > /etc/systemd/system/web.service
  systemctl daemon-reload && rdaemon stop web && systemctl enable --now web
  rdaemon export systemd -f rdaemon.toml --out /etc/systemd/system   # NAME.service..., DIR.target
  rdaemon export nomad -f rdaemon.toml > app.nomad.json              # nomad job run -json app.nomad.json
  rdaemon export nomad web worker --target app")]
    Export(ExportArgs),

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    #[command(after_help = "\
Examples:
  rdaemon completions bash > ~/.local/share/bash-completion/completions/rdaemon
  rdaemon completions zsh > ~/.zfunc/_rdaemon      # a directory in $fpath
  rdaemon completions fish > ~/.config/fish/completions/rdaemon.fish")]
    Completions(CompletionsArgs),

    /// Internal: the monitor process of a `start --respawn` daemon, parsed by hand (`parse_monitor`)
    #[command(skip)]
    Monitor(MonitorArgs),

    /// Internal: `resurrect`'s work for one daemon, in a child process of its own, parsed by hand
    /// (`parse_resurrect_one`)
    #[command(skip)]
    ResurrectOne(ResurrectOneArgs),
}

// `rdaemon __resurrect`: run by `resurrect` for each daemon, never by hand.
#[derive(Debug, Clone)]
pub struct ResurrectOneArgs {
    /// The daemon to start if it is wanted running and does not run
    pub name: Name,
    /// A daemon it comes after that does not run, and why: then it is not started
    pub after: Option<(Name, AfterDown)>,
}

/// Why a daemon that another comes after does not run, for `__resurrect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterDown {
    /// Its start failed (or was not tried, for a failure further on).
    Failed,
    /// It is wanted stopped (or left to the supervisor that runs it in the foreground).
    Stopped,
}

// `rdaemon __monitor`: run by `start --respawn` (through exec), never by hand.
#[derive(Debug, Args, Clone)]
pub struct MonitorArgs {
    /// The daemon whose record the monitor runs
    #[arg(value_name = "NAME", value_parser = Name::parse)]
    pub name: Name,

    /// An inherited pipe on which to report whether the first child started
    #[arg(long, value_name = "FD")]
    pub report_fd: Option<i32>,

    /// The runtime directory (status, pidfile, lock), when it is not `--dir`
    #[arg(long, value_name = "DIR")]
    pub runtime_dir: Option<PathBuf>,

    /// An inherited notify socket (`--ready notify`), which the monitor reads once `start` has
    /// handed the status over
    #[arg(long, value_name = "FD")]
    pub notify_fd: Option<i32>,
}

// How a command that acts on an existing daemon names it.
#[derive(Debug, Args, Clone, Default)]
pub struct TargetArgs {
    /// The daemon's name; optional when only one daemon exists (for stop, restart and logs:
    /// when only one runs)
    #[arg(value_name = "NAME", value_parser = Name::parse)]
    pub name: Option<Name>,

    /// The daemon's name, as an option
    #[arg(long = "name", value_name = "NAME", value_parser = Name::parse, conflicts_with = "name")]
    pub name_opt: Option<Name>,

    /// The daemon's pidfile (matched against the records; any pidfile works; beside a NAME, it
    /// must be that daemon's own)
    #[arg(long, value_name = "PATH", value_parser = Utf8Path)]
    pub pidfile: Option<PathBuf>,
}

impl TargetArgs {
    /// The name given positionally or with `--name`.
    pub fn given_name(&self) -> Option<&Name> {
        self.name.as_ref().or(self.name_opt.as_ref())
    }
}

// How a command that acts on existing daemons names them: one or more names or shell-style
// globs, `--all`, or `--name`/`--pidfile` (SPEC §1).
#[derive(Debug, Args, Clone, Default)]
pub struct TargetsArgs {
    /// Daemon names, or shell-style globs matched against the known names ('web-*', quoted);
    /// none: the only daemon there is (status: every daemon; all but status and forget: the only
    /// one running)
    #[arg(value_name = "NAME", value_parser = Pattern::parse)]
    pub names: Vec<Pattern>,

    /// The daemon's name, as an option
    #[arg(long = "name", value_name = "NAME", value_parser = Name::parse, conflicts_with_all = ["names", "all"])]
    pub name_opt: Option<Name>,

    /// The daemon's pidfile (matched against the records; any pidfile works; beside a NAME, it
    /// must be that daemon's own)
    #[arg(long, value_name = "PATH", value_parser = Utf8Path, conflicts_with = "all")]
    pub pidfile: Option<PathBuf>,

    /// Every daemon rdaemon knows
    #[arg(long, conflicts_with = "names")]
    pub all: bool,

    /// The daemons of an up file (rdaemon.toml or Procfile), by name
    #[arg(long = "file", value_name = "FILE", value_parser = Utf8Path, value_hint = clap::ValueHint::FilePath, conflicts_with_all = ["names", "all", "name_opt", "pidfile"])]
    pub file: Option<PathBuf>,

    /// Not an option: for `logs -f --file`, the entries `up` has not started yet and the files
    /// each will log to, which `logs -f` waits for, as `tail -F` would.
    #[arg(skip)]
    pub awaited: Vec<(Name, Vec<PathBuf>)>,
}

impl Command {
    /// The subcommand's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Start(_) => "start",
            Command::Stop(_) => "stop",
            Command::Status(_) => "status",
            Command::List(_) => "list",
            Command::Restart(_) => "restart",
            Command::Resurrect(_) => "resurrect",
            Command::Logs(_) => "logs",
            Command::Forget(_) => "forget",
            Command::Signal(_) => "signal",
            Command::Reload(_) => "reload",
            Command::Wait(_) => "wait",
            Command::Up(_) => "up",
            Command::Down(_) => "down",
            Command::Export(_) => "export",
            Command::Completions(_) => "completions",
            Command::Monitor(_) => "monitor",
            Command::ResurrectOne(_) => "resurrect",
        }
    }

    /// How the command names the daemons it acts on, for those that take several.
    pub fn targets(&mut self) -> Option<&mut TargetsArgs> {
        match self {
            Command::Stop(a) => Some(&mut a.target),
            Command::Status(a) => Some(&mut a.target),
            Command::Restart(a) => Some(&mut a.target),
            Command::Logs(a) => Some(&mut a.target),
            Command::Forget(a) => Some(&mut a.target),
            Command::Signal(a) => Some(&mut a.target),
            Command::Reload(a) => Some(&mut a.target),
            Command::Wait(a) => Some(&mut a.target),
            _ => None,
        }
    }
}

impl TargetsArgs {
    /// The one-daemon form (at most one plain name, no glob, no `--all`), which keeps the rules
    /// of a bare command; `None` when several daemons are meant.
    pub fn single(&self) -> Option<TargetArgs> {
        let name = match self.names.as_slice() {
            _ if self.all => return None,
            [] => None,
            [Pattern::Name(n)] => Some(n.clone()),
            _ => return None,
        };
        Some(TargetArgs {
            name,
            name_opt: self.name_opt.clone(),
            pidfile: self.pidfile.clone(),
        })
    }
}

// Options of `start` that `restart` may override.
#[derive(Debug, Args, Clone, Default)]
pub struct StartOpts {
    /// Append stdout and stderr to FILE [default: DIR/NAME.log; as root without --dir or
    /// RDAEMON_DIR: /var/log/rdaemon/NAME.log]
    #[arg(long, value_name = "FILE", value_parser = Utf8Path)]
    pub log: Option<PathBuf>,

    /// Append stdout to FILE (overrides --log; /dev/null discards)
    #[arg(long, value_name = "FILE", value_parser = Utf8Path)]
    pub stdout: Option<PathBuf>,

    /// Append stderr to FILE (overrides --log; /dev/null discards)
    #[arg(long, value_name = "FILE", value_parser = Utf8Path)]
    pub stderr: Option<PathBuf>,

    /// Working directory of the daemon [default: /]
    #[arg(long, value_name = "DIR", value_parser = Utf8Path)]
    pub chdir: Option<PathBuf>,

    /// File mode creation mask, in octal; the log files rdaemon creates get 0644 narrowed by it
    /// [default: 022]
    #[arg(long, value_name = "OCTAL", value_parser = parse::parse_umask, allow_negative_numbers = true)]
    pub umask: Option<u32>,

    /// Set an environment variable (repeatable; KEY is letters, digits and _); the rest of the
    /// environment is inherited
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse::parse_env_pair)]
    pub env: Vec<(String, String)>,

    /// Read KEY=VALUE lines from FILE into the environment (repeatable; blank lines and #
    /// comments skipped, optional `export `, one level of quotes stripped); later files win,
    /// --env wins over files; read again at every start, restart and respawn
    #[arg(long = "env-file", value_name = "FILE", value_parser = Utf8Path)]
    pub env_file: Vec<PathBuf>,

    /// Set a resource limit before exec (repeatable): nofile, nproc, core, memlock, as, fsize,
    /// cpu, stack, data; a number, a size for core/memlock/as/fsize/stack/data (64M), or
    /// unlimited; one value sets both the soft and the hard limit
    #[arg(long, value_name = "RES=SOFT[:HARD]", value_parser = crate::procopts::parse_limit)]
    pub limit: Vec<crate::procopts::Limit>,

    /// Scheduling priority of the daemon, from -20 (highest) to 19 (lowest)
    #[arg(long, value_name = "N", value_parser = crate::procopts::parse_nice, allow_negative_numbers = true)]
    pub nice: Option<i32>,

    /// OOM score adjustment of the daemon, from -1000 (never killed) to 1000 (killed first)
    #[arg(long, value_name = "N", value_parser = crate::procopts::parse_oom_score_adj, allow_negative_numbers = true)]
    pub oom_score_adj: Option<i32>,

    /// The signal that stop, restart and down send first, unless told otherwise [default: TERM]
    #[arg(long, value_name = "SIG", value_parser = SignalName, hide_possible_values = true, allow_hyphen_values = true)]
    pub stop_signal: Option<Signal>,

    /// How long stop, restart and down wait after the stop signal before SIGKILL, unless told
    /// otherwise [default: 10s]
    #[arg(long, value_name = "DURATION", value_parser = parse::parse_duration, allow_hyphen_values = true)]
    pub stop_timeout: Option<Duration>,

    /// The signal that reload sends [default: HUP]
    #[arg(long, value_name = "SIG", value_parser = SignalName, hide_possible_values = true, allow_hyphen_values = true)]
    pub reload_signal: Option<Signal>,

    /// Run as USER (name or uid), with GROUP or the user's primary group and the user's
    /// supplementary groups; only as root. The pidfile and logs are opened first, as root
    #[arg(long, value_name = "USER[:GROUP]", value_parser = parse::parse_user_spec)]
    pub user: Option<UserSpec>,

    /// Run with GROUP (name or gid) as the primary group; only as root
    #[arg(long, value_name = "GROUP", value_parser = parse::parse_group_name)]
    pub group: Option<String>,

    /// What "started" means: exec, alive:DURATION, notify, tcp:[HOST:]PORT, file:PATH,
    /// http:URL, log:REGEX or cmd:COMMAND [default: exec]
    #[arg(long, value_name = "SPEC", value_parser = ReadySpec::parse)]
    pub ready: Option<ReadySpec>,

    /// How long to wait for readiness before stopping the program and failing [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = parse::parse_positive_duration, allow_hyphen_values = true)]
    pub ready_timeout: Option<Duration>,

    /// The program daemonizes itself (nginx, redis-server --daemonize yes): wait for it to exit,
    /// then adopt the process it left, named by --pidfile (the pidfile the program writes;
    /// rdaemon only reads it) or, without --pidfile, the only process left
    #[arg(long)]
    pub forking: bool,

    /// Supervise: a small rdaemon monitor runs PROGRAM as its child and restarts it whenever it
    /// exits; the pidfile holds the monitor's pid
    #[arg(long, help_heading = RESPAWN)]
    pub respawn: bool,

    /// Delay before the first restart; doubles on each quick failure (up to 60s), back to the
    /// start once the program has run 60s [default: 1s]
    #[arg(long, value_name = "DURATION", value_parser = parse::parse_duration, help_heading = RESPAWN, allow_hyphen_values = true)]
    pub restart_delay: Option<Duration>,

    /// Give up after N restarts within --restart-window (state "failed"); 0: never give up
    /// [default: 5]
    #[arg(long, value_name = "N", value_parser = parse::parse_max_restarts, help_heading = RESPAWN, allow_negative_numbers = true)]
    pub max_restarts: Option<u32>,

    /// The window of --max-restarts [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = parse::parse_duration, help_heading = RESPAWN, allow_hyphen_values = true)]
    pub restart_window: Option<Duration>,

    /// Rotate each log file at SIZE (512K, 10M, 1G): the monitor reads the program's output
    /// through pipes and renames FILE to FILE.1 between lines; no file grows past SIZE (a line
    /// longer than SIZE is cut)
    #[arg(long, value_name = "SIZE", value_parser = parse::parse_log_size, help_heading = RESPAWN, allow_hyphen_values = true)]
    pub log_max_size: Option<u64>,

    /// How many rotated files to keep (FILE.1 ... FILE.N), at most 1000; 0 keeps none
    /// [default: 5]
    #[arg(long, value_name = "N", value_parser = parse::parse_log_keep, help_heading = RESPAWN, allow_negative_numbers = true)]
    pub log_keep: Option<u32>,

    /// When to restart the program: always (after any exit), or on-failure (only after a
    /// non-zero exit status or a signal; a clean exit ends the daemon, state "stopped")
    /// [default: always]
    #[arg(long, value_name = "WHEN", help_heading = RESPAWN)]
    pub restart: Option<RestartPolicy>,

    /// Check the program's health once it is ready: tcp:[HOST:]PORT, http:URL, cmd:COMMAND or
    /// file:PATH; after --health-retries failures in a row the program is stopped and
    /// restarted (last exit "unhealthy")
    #[arg(long, value_name = "SPEC", value_parser = ReadySpec::parse_health, help_heading = RESPAWN)]
    pub health: Option<ReadySpec>,

    /// How often the health check runs [default: 10s]
    #[arg(long, value_name = "DURATION", value_parser = parse::parse_positive_duration, help_heading = RESPAWN, allow_hyphen_values = true)]
    pub health_interval: Option<Duration>,

    /// Failures in a row of the health check before a restart [default: 3]
    #[arg(long, value_name = "N", value_parser = parse::parse_health_retries, help_heading = RESPAWN, allow_negative_numbers = true)]
    pub health_retries: Option<u32>,

    /// The program must send WATCHDOG=1 (sd_notify) at least this often, or it is stopped and
    /// restarted (last exit "watchdog"); sets WATCHDOG_USEC and WATCHDOG_PID; needs
    /// --ready notify
    #[arg(long, value_name = "DURATION", value_parser = parse::parse_positive_duration, help_heading = RESPAWN, allow_hyphen_values = true)]
    pub watchdog: Option<Duration>,

    /// Run `/bin/sh -c COMMAND` after each exit of the program (as its user, output to its
    /// log, killed after 60s), with RDAEMON_NAME, RDAEMON_EXIT, RDAEMON_EXIT_CODE or
    /// RDAEMON_EXIT_SIGNAL, RDAEMON_RESTARTS and RDAEMON_STATE (restarting, failed, stopped)
    #[arg(long, value_name = "COMMAND", help_heading = RESPAWN)]
    pub on_exit: Option<String>,

    /// Prefix each line the program writes with its time (RFC 3339, milliseconds): the
    /// monitor reads the program's output through pipes
    #[arg(long, help_heading = RESPAWN)]
    pub log_timestamps: bool,

    /// Run the daemon in its own cgroup rdaemon/NAME (NAME@HASH with --dir or RDAEMON_DIR;
    /// cgroup v2), so that stop reaches every
    /// process it spawned: auto where rdaemon can (root, a writable cgroup2 mount, not in a
    /// systemd tree that was not delegated), on (fail with the reason where it cannot), off
    /// [default: auto]
    #[arg(long, value_name = "WHEN", help_heading = CONTAINMENT)]
    pub cgroup: Option<CgroupMode>,

    /// Limit the daemon's memory to SIZE (512K, 10M, 1G): the cgroup's memory.max; needs the
    /// memory controller
    #[arg(long, value_name = "SIZE", value_parser = parse::parse_memory_max, help_heading = CONTAINMENT, allow_hyphen_values = true)]
    pub memory_max: Option<u64>,

    /// Limit the daemon to N processes and threads: the cgroup's pids.max; needs the pids
    /// controller
    #[arg(long, value_name = "N", value_parser = parse_tasks_max, help_heading = CONTAINMENT, allow_negative_numbers = true)]
    pub tasks_max: Option<u64>,
}

/// `--cgroup`: whether the daemon gets a cgroup of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CgroupMode {
    /// Where rdaemon can create one.
    #[default]
    Auto,
    /// Always: fail where impossible.
    On,
    /// Never.
    Off,
}

impl CgroupMode {
    /// The word of the record and the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupMode::Auto => "auto",
            CgroupMode::On => "on",
            CgroupMode::Off => "off",
        }
    }

    /// The mode a record names (`auto` for an older record or an unknown word).
    pub fn from_record(word: Option<&str>) -> CgroupMode {
        match word {
            Some("on") => CgroupMode::On,
            Some("off") => CgroupMode::Off,
            _ => CgroupMode::Auto,
        }
    }
}

/// `--tasks-max N`: a positive number.
fn parse_tasks_max(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "invalid number of tasks '{s}': use a whole number above 0"
        )),
    }
}

/// The help heading of the containment options.
const CONTAINMENT: &str = "Containment";

/// The help heading of the respawn options.
const RESPAWN: &str = "Supervised mode";

// `rdaemon start`.
#[derive(Debug, Args, Clone)]
pub struct StartArgs {
    /// The daemon's name [default: the pidfile's stem, else the program's basename]
    #[arg(long, value_name = "NAME", value_parser = Name::parse)]
    pub name: Option<Name>,

    /// Where to write the pidfile [default: DIR/NAME.pid; as root without --dir or
    /// RDAEMON_DIR: /run/rdaemon/NAME.pid]; with --forking, the pidfile the program writes,
    /// which rdaemon only reads
    #[arg(long, value_name = "PATH", value_parser = Utf8Path)]
    pub pidfile: Option<PathBuf>,

    #[command(flatten)]
    pub opts: StartOpts,

    /// Do not detach: write the pidfile and record, then exec PROGRAM in place of rdaemon (same
    /// pid, same stdio unless --log/--stdout/--stderr), for systemd units, containers, debugging
    #[arg(long)]
    pub foreground: bool,

    // Internal (`up`, `--source FILE`): the absolute path of the `up` file the daemon's entry
    // comes from, recorded in its spec. Not declared here: see `with_internal_options`.
    #[arg(skip)]
    pub source: Option<PathBuf>,

    // Internal (`up`, `--after NAME`, repeatable): a daemon of the same file that must be ready
    // first, recorded in the spec for `resurrect`. Not declared here: see `with_internal_options`.
    #[arg(skip)]
    pub after: Vec<Name>,

    /// The program and its arguments (looked up in PATH unless it contains a /). Before it,
    /// every word beginning with - is an option of rdaemon: a program whose name begins with -
    /// needs `--` before it. One word without `--` that names a known daemon (or none, with
    /// --name): start that daemon from its spec
    #[arg(
        value_name = "PROGRAM",
        required_unless_present = "name",
        num_args = 0..,
        trailing_var_arg = true
    )]
    pub program: Vec<OsString>,
}

// `rdaemon up` and `rdaemon down`.
#[derive(Debug, Args, Clone)]
pub struct UpArgs {
    /// The file declaring the daemons: TOML, or a Procfile when its name ends in Procfile or
    /// .procfile, or begins with Procfile. (Procfile.dev)
    /// [default: ./rdaemon.toml, else ./Procfile]
    #[arg(short = 'f', long = "file", value_name = "FILE", value_parser = Utf8Path, value_hint = clap::ValueHint::FilePath)]
    pub file: Option<PathBuf>,

    /// Entries of the file to act on (up: with what they come after; down: with what comes
    /// after them) [default: all]
    #[arg(value_name = "NAME", value_parser = Name::parse)]
    pub names: Vec<Name>,
}

// `rdaemon resurrect`.
#[derive(Debug, Args, Clone)]
pub struct ResurrectArgs {}

// `rdaemon stop`.
#[derive(Debug, Args, Clone)]
pub struct StopArgs {
    #[command(flatten)]
    pub target: TargetsArgs,

    #[command(flatten)]
    pub stop: StopOpts,

    /// Send the first signal only to the main process; the rest of the daemon (its group, its
    /// session, its cgroup) is waited for and gets only the SIGKILL at the timeout
    #[arg(long)]
    pub main_only: bool,
}

// The options of `stop` that `restart` takes for its stop phase.
#[derive(Debug, Args, Clone)]
pub struct StopOpts {
    /// First signal (TERM, SIGTERM, 15, any case; the daemon's --stop-signal unless given)
    /// [default: TERM]
    #[arg(long, value_name = "SIG", value_parser = SignalName, hide_possible_values = true, allow_hyphen_values = true)]
    pub signal: Option<Signal>,

    /// How long to wait after the first signal before SIGKILL (the daemon's --stop-timeout unless
    /// given) [default: 10s]
    #[arg(long, value_name = "DURATION", value_parser = parse::parse_duration, allow_hyphen_values = true)]
    pub timeout: Option<Duration>,

    /// Never escalate to SIGKILL
    #[arg(long)]
    pub no_kill: bool,

    /// start-stop-daemon's schedule instead of --timeout/--no-kill: TERM/30/KILL/5, N, .../forever;
    /// a timeout may also be a duration (INT/500ms/KILL/1, a bare 500ms). A schedule names its
    /// own signals: not with --signal, which only a bare timeout takes
    #[arg(long, value_name = "SCHEDULE", conflicts_with_all = ["timeout", "no_kill"])]
    pub retry: Option<String>,
}

impl StopOpts {
    /// The stop schedule these options describe for a daemon whose spec stops it with
    /// `signal` and `timeout` (`--stop-signal`, `--stop-timeout`): `--retry`'s, else
    /// `--signal`, `--timeout` and `--no-kill`'s, each falling back on the spec's. A malformed
    /// `--retry`, and `--signal` beside a `--retry` schedule, are usage errors.
    pub fn schedule(
        &self,
        (signal, timeout): (Signal, Duration),
    ) -> Result<Vec<Step>, crate::exit::Fail> {
        // A schedule names its own signals (start-stop-daemon ignores --signal beside one);
        // saying both is a mistake to point out, not to resolve silently.
        if let (Some(sig), Some(s)) = (self.signal, &self.retry) {
            if s.contains('/') {
                return Err(crate::exit::Fail::usage(format!(
                    "--signal {} has no effect with --retry {s}, whose schedule names its own \
                     signals: put the signal in the schedule, or give --retry a timeout alone",
                    parse::signal_name(sig)
                )));
            }
        }
        let signal = self.signal.unwrap_or(signal);
        match &self.retry {
            Some(s) => parse::parse_schedule(s, signal)
                .map_err(|e| crate::exit::Fail::usage(format!("--retry: {e}"))),
            None => Ok(parse::default_schedule(
                signal,
                self.timeout.unwrap_or(timeout),
                self.no_kill,
            )),
        }
    }
}

// `rdaemon forget`.
#[derive(Debug, Args, Clone)]
pub struct ForgetArgs {
    /// Which daemons (`--all`: every one that is not running; running ones are left alone)
    #[command(flatten)]
    pub target: TargetsArgs,
}

// `rdaemon signal`.
#[derive(Debug, Args, Clone)]
pub struct SignalArgs {
    /// The signal to send (HUP, SIGUSR1, 10, any case)
    #[arg(value_name = "SIG", value_parser = SignalName, hide_possible_values = true, allow_hyphen_values = true)]
    pub signal: Signal,

    #[command(flatten)]
    pub target: TargetsArgs,

    /// Send it to every process of the daemon, not only the main program: its process group,
    /// then the rest of its cgroup (or session)
    #[arg(long)]
    pub group: bool,
}

// `rdaemon reload`.
#[derive(Debug, Args, Clone)]
pub struct ReloadArgs {
    #[command(flatten)]
    pub target: TargetsArgs,

    /// With --ready notify in respawn mode: how long to wait for RELOADING=1 then READY=1
    /// (exit 1 after) [default: the daemon's --ready-timeout]
    #[arg(long, value_name = "DURATION", value_parser = parse::parse_duration, allow_hyphen_values = true)]
    pub timeout: Option<Duration>,
}

// `rdaemon wait`.
#[derive(Debug, Args, Clone)]
pub struct WaitArgs {
    #[command(flatten)]
    pub target: TargetsArgs,

    /// Give up after DURATION (exit 1, naming the daemons still running) [default: wait forever]
    #[arg(long, value_name = "DURATION", value_parser = parse::parse_duration, allow_hyphen_values = true)]
    pub timeout: Option<Duration>,
}

// `rdaemon status`.
#[derive(Debug, Args, Clone)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: TargetsArgs,

    /// Print one JSON document instead of text
    #[arg(long)]
    pub json: bool,
}

// `rdaemon list`.
#[derive(Debug, Args, Clone)]
pub struct ListArgs {
    /// Print a JSON array instead of a table
    #[arg(long)]
    pub json: bool,

    /// Print only the names, one per line (fast: no process is looked at)
    #[arg(long, conflicts_with = "json")]
    pub names: bool,
}

// `rdaemon export`.
#[derive(Debug, Args, Clone)]
pub struct ExportArgs {
    /// The format to print
    #[arg(value_name = "FORMAT", value_enum)]
    pub format: ExportFormat,

    #[command(flatten)]
    pub target: TargetArgs,

    /// nomad: more daemons for the same job
    #[arg(value_name = "MORE", value_parser = Name::parse, requires = "name")]
    pub more: Vec<Name>,

    /// Every daemon of an up file (rdaemon.toml or Procfile), from the file: one unit each with
    /// After=/Requires= from after, and a target grouping them (systemd); one task each (nomad)
    #[arg(short = 'f', long = "file", value_name = "FILE", value_parser = Utf8Path, value_hint = clap::ValueHint::FilePath, conflicts_with_all = ["name", "name_opt", "pidfile"])]
    pub file: Option<PathBuf>,

    /// systemd -f: write NAME.service and TARGET.target into DIR instead of printing them
    #[arg(long, value_name = "DIR", value_parser = Utf8Path, requires = "file")]
    pub out: Option<PathBuf>,

    /// The name of the systemd target (-f) or of the Nomad job [default: the file's directory
    /// name; nomad without -f: rdaemon]
    #[arg(long = "target", value_name = "NAME", value_parser = Name::parse)]
    pub group: Option<Name>,
}

/// What `rdaemon export` can print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// A systemd service unit (NAME.service); with -f, one per daemon and a NAME.target
    Systemd,
    /// A Nomad job as JSON (raw_exec driver, one task per daemon)
    Nomad,
}

// `rdaemon completions`.
#[derive(Debug, Args, Clone)]
pub struct CompletionsArgs {
    /// The shell to print a completion script for
    #[arg(value_name = "SHELL", value_enum)]
    pub shell: Shell,
}

// `rdaemon logs`.
#[derive(Debug, Args, Clone)]
pub struct LogsArgs {
    #[command(flatten)]
    pub target: TargetsArgs,

    /// How many lines to print from the end of each log
    #[arg(
        short = 'n',
        long = "lines",
        value_name = "LINES",
        default_value_t = 20,
        value_parser = parse::parse_lines,
        allow_negative_numbers = true
    )]
    pub lines: usize,

    /// Keep printing what is appended, across rotation and truncation, until interrupted
    #[arg(short, long)]
    pub follow: bool,
}

// `rdaemon restart`.
#[derive(Debug, Args, Clone)]
pub struct RestartArgs {
    #[command(flatten)]
    pub target: TargetsArgs,

    #[command(flatten)]
    pub opts: StartOpts,

    /// A new command line, after `--` (replaces the recorded one)
    #[arg(value_name = "PROGRAM", last = true)]
    pub program: Vec<OsString>,

    /// How the running daemon is stopped first, as `stop` takes them (last: the heading would
    /// carry over to the arguments after it).
    #[command(flatten, next_help_heading = "Stop options")]
    pub stop: StopOpts,
}

/// A signal argument ([`parse::parse_signal`]: a name in any case, with or without `SIG`, or a
/// number), whose names the shell completions offer. Help and the man page do not list them
/// (`hide_possible_values`): the argument's own help says what it takes.
#[derive(Debug, Clone, Copy)]
pub struct SignalName;

impl clap::builder::TypedValueParser for SignalName {
    type Value = Signal;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Signal, clap::Error> {
        // The plain function's parser: the same errors as every other value parser here.
        let plain = parse::parse_signal as fn(&str) -> Result<Signal, String>;
        plain.parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(Signal::iterator().map(|s| {
            clap::builder::PossibleValue::new(parse::signal_name(s))
        })))
    }
}

/// A path option: non-empty and UTF-8, since records keep paths as JSON text. Refused here, a
/// bad path is a usage error before anything starts, rather than a record that cannot be saved.
#[derive(Debug, Clone, Copy)]
pub struct Utf8Path;

impl clap::builder::TypedValueParser for Utf8Path {
    type Value = PathBuf;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<PathBuf, clap::Error> {
        let option = arg
            .and_then(|a| a.get_long())
            .map(|l| format!("--{l}: "))
            .unwrap_or_default();
        match value.to_str() {
            Some("") => Err(clap::Error::raw(
                ErrorKind::ValueValidation,
                format!("{option}invalid path '': it is empty\n"),
            )),
            Some(text) => Ok(PathBuf::from(text)),
            None => Err(clap::Error::raw(
                ErrorKind::ValueValidation,
                format!(
                    "{option}invalid path '{}': rdaemon needs paths in UTF-8 (its records are JSON)\n",
                    value.to_string_lossy()
                ),
            )),
        }
    }
}

impl Cli {
    /// The whole command tree, built: every subcommand's arguments defined. The subcommands are
    /// deferred (`#[command(defer = true)]`): parsing a command line defines only the one it
    /// names, which saves `start` about 0.1 ms (issue 18); whatever walks the tree (help of
    /// every verb, completions, the man page, `up`'s keys) takes it from here.
    pub fn built() -> clap::Command {
        use clap::CommandFactory;
        let mut cmd = Cli::command();
        cmd.build();
        cmd
    }

    /// Parses a whole command line (`argv[0]` first), as clap's `Parser::try_parse_from` does,
    /// with `start`'s internal options understood ([`with_internal_options`]). Every command
    /// line rdaemon runs on, or that `up` checks, is parsed here.
    pub fn try_parse_words<I, T>(words: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let mut matches = with_internal_options(Cli::command()).try_get_matches_from(words)?;
        let (source, after) = match matches.subcommand_matches("start") {
            Some(start) => (
                start.get_one::<PathBuf>(SOURCE).cloned(),
                start
                    .get_many::<Name>(AFTER)
                    .map(|names| names.cloned().collect())
                    .unwrap_or_default(),
            ),
            None => (None, Vec::new()),
        };
        let mut cli =
            Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut Cli::command()))?;
        if let Command::Start(args) = &mut cli.command {
            args.source = source;
            args.after = after;
        }
        Ok(cli)
    }

    /// Parses the command line; on a usage error prints it in rdaemon's voice and exits 2. A
    /// malformed value is one line (`rdaemon: --umask: invalid umask '9': ...`); any other
    /// usage error is clap's whole message: what is wrong, its tip ("a similar argument
    /// exists"), the usage line.
    pub fn parse_or_exit() -> Cli {
        let args: Vec<OsString> = std::env::args_os().collect();
        if args.get(1).is_some_and(|a| a == MONITOR) {
            return match parse_monitor(args.into_iter().skip(2)) {
                Ok(cli) => cli,
                Err(why) => {
                    eprintln!("rdaemon: {MONITOR}: {why}");
                    std::process::exit(2);
                }
            };
        }
        // After the `-q` and `-v` that `resurrect` passes on to it.
        let globals = args
            .iter()
            .skip(1)
            .take_while(|a| *a == "-q" || *a == "-v")
            .count();
        if args.get(1 + globals).is_some_and(|a| a == RESURRECT_ONE) {
            let quiet = args[1..1 + globals].iter().any(|a| a == "-q");
            let verbose = args[1..1 + globals].iter().filter(|a| *a == "-v").count();
            let verbose = u8::try_from(verbose).unwrap_or(u8::MAX);
            return match parse_resurrect_one(quiet, verbose, args.into_iter().skip(2 + globals)) {
                Ok(cli) => cli,
                Err(why) => {
                    eprintln!("rdaemon: {RESURRECT_ONE}: {why}");
                    std::process::exit(2);
                }
            };
        }
        let parsed = Cli::try_parse_words(args);
        match parsed {
            Ok(cli) => cli,
            Err(err) if !err.use_stderr() => err.exit(),
            Err(err) if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                err.exit()
            }
            Err(err) => {
                eprintln!("rdaemon: {}", usage_message(&err));
                std::process::exit(2);
            }
        }
    }
}

/// Renders a clap error for `rdaemon: ...`: `--umask: invalid umask '9': ...` for a value one
/// of our parsers rejected (its message says everything; for an argument without an option,
/// `invalid name '../x': ...` alone), clap's whole message otherwise.
pub(crate) fn usage_message(err: &clap::Error) -> String {
    use std::error::Error as _;
    let text = err.render().to_string();
    if err.kind() == ErrorKind::ValueValidation {
        if let (Some(ContextValue::String(arg)), Some(source)) =
            (err.get(ContextKind::InvalidArg), err.source())
        {
            let arg = arg.split_whitespace().next().unwrap_or(arg);
            // A positional argument has only clap's placeholder (`[NAME]...`, `<SIG>`) for a
            // name, which the user never typed: our parser's message names what it is.
            if arg.starts_with(['<', '[']) {
                return source.to_string();
            }
            return format!("{arg}: {source}");
        }
        // A raw error of a value parser (`Utf8Path`): its first line is the whole story.
        let first = text.lines().next().unwrap_or("invalid value");
        return first.strip_prefix("error: ").unwrap_or(first).to_owned();
    }
    let text = text.trim_end();
    let text = text.strip_prefix("error: ").unwrap_or(text);
    match stop_option_given_to_start(err, text) {
        // In place of clap's tips (a similar argument, `--` before a value): this one.
        Some(tip) => {
            let mut said = false;
            text.lines()
                .filter_map(|l| match l.trim_start().starts_with("tip:") {
                    true => (!std::mem::replace(&mut said, true)).then_some(tip.as_str()),
                    false => Some(l),
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        None => text.to_owned(),
    }
}

/// The tip for a stop option given to `start` (or `up`'s `start` options), whose own name for
/// it clap does not find (user trial, 2026-12-02: `start --timeout 5s` was told of
/// `--stdout`): `--timeout` and `--signal` are `--stop-timeout` and `--stop-signal` there.
fn stop_option_given_to_start(err: &clap::Error, text: &str) -> Option<String> {
    let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg) else {
        return None;
    };
    let given = arg.split('=').next().unwrap_or(arg);
    let ours = match given {
        "--timeout" => "--stop-timeout",
        "--signal" => "--stop-signal",
        _ => return None,
    };
    let usage = text.lines().find(|l| l.starts_with("Usage: rdaemon "))?;
    usage
        .starts_with("Usage: rdaemon start ")
        .then(|| format!("  tip: {given} is an option of stop; start saves {ours} in the spec"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn start_takes_program_with_or_without_double_dash() {
        let cli = Cli::try_parse_from(["rdaemon", "start", "--name", "x", "sleep", "-5"]).unwrap();
        let Command::Start(args) = cli.command else {
            panic!("not start")
        };
        assert_eq!(args.program, ["sleep", "-5"]);
        let cli = Cli::try_parse_from(["rdaemon", "start", "--", "--weird"]).unwrap();
        let Command::Start(args) = cli.command else {
            panic!("not start")
        };
        assert_eq!(args.program, ["--weird"]);
    }

    #[test]
    fn dir_is_global() {
        let cli = Cli::try_parse_from(["rdaemon", "status", "--dir", "/tmp/x"]).unwrap();
        assert_eq!(cli.dir, Some(PathBuf::from("/tmp/x")));
    }

    #[test]
    fn ready_spec_is_parsed_by_clap() {
        let cli =
            Cli::try_parse_from(["rdaemon", "start", "--ready", "tcp:80", "--", "x"]).unwrap();
        let Command::Start(args) = cli.command else {
            panic!("not start")
        };
        assert_eq!(
            args.opts.ready,
            Some(ReadySpec::Tcp {
                host: "127.0.0.1".into(),
                port: 80
            })
        );
        let err =
            Cli::try_parse_from(["rdaemon", "start", "--ready", "tcp:0", "--", "x"]).unwrap_err();
        assert_eq!(
            usage_message(&err),
            "--ready: invalid readiness spec 'tcp:0': invalid port '0': use 1 to 65535"
        );
    }

    #[test]
    fn starts_internal_options_are_parsed_but_not_declared() {
        let cli = Cli::try_parse_words([
            "rdaemon",
            "start",
            "--source=/srv/rdaemon.toml",
            "--after",
            "db",
            "--after=cache",
            "--",
            "true",
        ])
        .unwrap();
        let Command::Start(args) = cli.command else {
            panic!("not start")
        };
        assert_eq!(
            args.source.as_deref(),
            Some(std::path::Path::new("/srv/rdaemon.toml"))
        );
        let after: Vec<&str> = args.after.iter().map(Name::as_str).collect();
        assert_eq!(after, ["db", "cache"]);
        assert_eq!(args.program, ["true"]);
        // Not in the definition that help, completions and the man page come from.
        let cli = Cli::built();
        let start = cli.find_subcommand("start").unwrap();
        for id in [SOURCE, AFTER] {
            assert!(start.get_arguments().all(|a| a.get_id() != id), "{id}");
        }
        // Only start has them.
        assert!(Cli::try_parse_words(["rdaemon", "stop", "--source=/x", "web"]).is_err());
    }

    #[test]
    fn logs_takes_lines_and_follow() {
        let cli = Cli::try_parse_from(["rdaemon", "logs", "web", "-n", "5", "-f"]).unwrap();
        let Command::Logs(args) = cli.command else {
            panic!("not logs")
        };
        assert_eq!((args.lines, args.follow), (5, true));
        assert_eq!(
            args.target.single().unwrap().given_name().unwrap().as_str(),
            "web"
        );
    }

    #[test]
    fn malformed_values_are_one_line_other_usage_errors_whole() {
        let err = Cli::try_parse_from(["rdaemon", "start", "--umask", "9", "true"]).unwrap_err();
        assert_eq!(
            usage_message(&err),
            "--umask: invalid umask '9': use an octal mode from 000 to 777, like 022"
        );
        let err = Cli::try_parse_from(["rdaemon", "stop", "--timout", "5s"]).unwrap_err();
        let text = usage_message(&err);
        assert!(
            text.starts_with("unexpected argument '--timout' found"),
            "{text}"
        );
        assert!(
            text.contains("tip: a similar argument exists: '--timeout'"),
            "{text}"
        );
        assert!(text.contains("Usage: rdaemon stop"), "{text}");
        // An argument without an option has no name the user typed: the message alone.
        let err = Cli::try_parse_from(["rdaemon", "stop", "../x"]).unwrap_err();
        assert!(
            usage_message(&err).starts_with("invalid name '../x': a name is"),
            "{}",
            usage_message(&err)
        );
        let err = Cli::try_parse_from(["rdaemon", "signal", "BOGUS", "web"]).unwrap_err();
        assert!(
            usage_message(&err).starts_with("invalid signal 'BOGUS': "),
            "{}",
            usage_message(&err)
        );
    }

    #[test]
    fn a_stop_option_given_to_start_is_told_its_start_name() {
        let err =
            Cli::try_parse_from(["rdaemon", "start", "--timeout", "5s", "--", "x"]).unwrap_err();
        let text = usage_message(&err);
        assert!(
            text.starts_with("unexpected argument '--timeout' found"),
            "{text}"
        );
        assert!(
            text.contains(
                "\n  tip: --timeout is an option of stop; start saves --stop-timeout in the spec\n"
            ),
            "{text}"
        );
        assert!(!text.contains("--stdout"), "{text}");
        assert_eq!(text.matches("tip:").count(), 1, "{text}");
        // stop keeps clap's own tip.
        let err = Cli::try_parse_from(["rdaemon", "stop", "--timout", "5s"]).unwrap_err();
        assert!(usage_message(&err).contains("tip: a similar argument exists: '--timeout'"));
    }

    #[test]
    fn a_mistyped_option_before_the_program_is_not_the_program() {
        let err =
            Cli::try_parse_from(["rdaemon", "start", "--redy", "tcp:80", "--", "x"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnknownArgument);
        let cli = Cli::try_parse_from(["rdaemon", "start", "--", "-x", "--redy"]).unwrap();
        let Command::Start(args) = cli.command else {
            panic!("not start")
        };
        assert_eq!(args.program, ["-x", "--redy"]);
    }

    /// Without --signal and --timeout, stop uses the daemon's stop signal and timeout.
    #[test]
    fn stop_falls_back_on_the_specs_stop_settings() {
        let cli = Cli::try_parse_from(["rdaemon", "stop", "web"]).unwrap();
        let Command::Stop(args) = cli.command else {
            panic!("not stop")
        };
        let spec = (Signal::SIGINT, Duration::from_secs(3));
        assert_eq!(
            args.stop.schedule(spec).unwrap(),
            parse::default_schedule(Signal::SIGINT, Duration::from_secs(3), false)
        );
        let cli = Cli::try_parse_from(["rdaemon", "stop", "web", "--signal", "HUP"]).unwrap();
        let Command::Stop(args) = cli.command else {
            panic!("not stop")
        };
        assert_eq!(
            args.stop.schedule(spec).unwrap(),
            parse::default_schedule(Signal::SIGHUP, Duration::from_secs(3), false)
        );
    }

    /// The defaults live in `Spec::default` (and `Respawn::default`); the help says them as
    /// text, which must agree.
    #[test]
    fn the_help_says_the_specs_defaults() {
        use crate::parse::format_umask;
        let spec = crate::spec::Spec::default();
        let respawn = crate::state::Respawn::default();
        let cli = Cli::built();
        let help = |verb: &str, id: &str| {
            let verb = cli.find_subcommand(verb).unwrap();
            let arg = verb.get_arguments().find(|a| a.get_id() == id).unwrap();
            arg.get_long_help()
                .or(arg.get_help())
                .map(|h| h.to_string().replace('\n', " "))
                .unwrap_or_default()
        };
        let said = |verb: &str, id: &str| {
            let help = help(verb, id);
            let start = help.find("[default: ").expect("a default in the help") + 10;
            let end = help[start..].find([']', ';']).unwrap();
            help[start..start + end].to_owned()
        };
        let duration = |verb: &str, id: &str| parse::parse_duration(&said(verb, id)).unwrap();
        assert_eq!(said("start", "chdir"), spec.chdir.display().to_string());
        assert_eq!(said("start", "umask"), format_umask(spec.umask));
        assert_eq!(said("start", "ready"), spec.ready.to_string());
        assert_eq!(duration("start", "ready_timeout"), spec.ready_timeout);
        assert_eq!(said("start", "cgroup"), spec.cgroup.as_str());
        assert_eq!(duration("start", "restart_delay"), respawn.restart_delay);
        assert_eq!(
            said("start", "max_restarts"),
            respawn.max_restarts.to_string()
        );
        assert_eq!(duration("start", "restart_window"), respawn.restart_window);
        assert_eq!(said("start", "log_keep"), respawn.log_keep.to_string());
        assert_eq!(said("start", "restart"), respawn.restart.as_str());
        assert_eq!(
            duration("start", "health_interval"),
            respawn.health_interval
        );
        assert_eq!(
            said("start", "health_retries"),
            respawn.health_retries.to_string()
        );
        for verb in ["stop", "restart"] {
            assert_eq!(duration(verb, "timeout"), crate::spec::STOP_TIMEOUT);
            assert_eq!(said(verb, "signal"), parse::signal_name(spec.stop_signal));
        }
        assert_eq!(duration("start", "stop_timeout"), spec.stop_timeout);
        assert_eq!(
            said("start", "stop_signal"),
            parse::signal_name(spec.stop_signal)
        );
        assert_eq!(
            said("start", "reload_signal"),
            parse::signal_name(spec.reload_signal)
        );
    }

    #[test]
    fn the_monitor_is_not_a_public_subcommand() {
        let err = Cli::try_parse_from(["rdaemon", "__monitor", "x"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSubcommand);
        let words = |w: &[&str]| w.iter().map(OsString::from).collect::<Vec<_>>().into_iter();
        let m = parse_monitor(words(&["--dir", "/d", "--report-fd", "5", "x"])).unwrap();
        let Command::Monitor(args) = &m.command else {
            panic!("not the monitor")
        };
        assert_eq!(m.dir.unwrap(), PathBuf::from("/d"));
        assert_eq!((args.name.as_str(), args.report_fd), ("x", Some(5)));
        assert_eq!(args.runtime_dir, None);
        let m = parse_monitor(words(&["--runtime-dir=/r", "y"])).unwrap();
        let Command::Monitor(args) = &m.command else {
            panic!("not the monitor")
        };
        assert_eq!(
            args.runtime_dir.as_deref(),
            Some(std::path::Path::new("/r"))
        );
        assert_eq!(args.notify_fd, None);
        let m = parse_monitor(words(&["--report-fd", "5", "--notify-fd", "6", "z"])).unwrap();
        let Command::Monitor(args) = &m.command else {
            panic!("not the monitor")
        };
        assert_eq!((args.report_fd, args.notify_fd), (Some(5), Some(6)));
        for bad in [
            &["--report-fd", "x", "n"][..],
            &["--notify-fd", "x", "n"],
            &["--dir"],
            &[],
            &["a", "b"],
            &["--what", "n"],
            &["../x"],
        ] {
            assert!(parse_monitor(words(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn resurrects_child_is_internal_and_parsed_by_hand() {
        let err = Cli::try_parse_from(["rdaemon", RESURRECT_ONE, "x"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSubcommand);
        let words = |w: &[&str]| w.iter().map(OsString::from).collect::<Vec<_>>().into_iter();
        let parsed = |w: &[&str]| match parse_resurrect_one(true, 2, words(w)) {
            Ok(Cli {
                quiet: true,
                verbose: 2,
                command: Command::ResurrectOne(args),
                ..
            }) => Ok((args.name.as_str().to_owned(), args.after)),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        assert_eq!(parsed(&["web"]), Ok(("web".into(), None)));
        let db = Name::parse("db").unwrap();
        assert_eq!(
            parsed(&["web", "--after-failed", "db"]),
            Ok(("web".into(), Some((db.clone(), AfterDown::Failed))))
        );
        assert_eq!(
            parsed(&["--after-stopped", "db", "web"]),
            Ok(("web".into(), Some((db, AfterDown::Stopped))))
        );
        for bad in [
            &[][..],
            &["web", "db"],
            &["web", "--after-failed"],
            &["web", "--after", "db"],
            &["../x"],
        ] {
            assert!(parsed(bad).is_err(), "{bad:?}");
        }
    }
}
