//! Readiness (`start --ready SPEC`): what "started" means, and the wait for it.
//!
//! [`ReadySpec`] is the option's pure, tested parser. [`Check::prepare`] does what can fail
//! before the fork: it resolves a TCP host, notes a readiness file that already exists (so that a
//! stale one does not count), and binds the notify socket whose address goes into the daemon's
//! `NOTIFY_SOCKET`; [`Check::watch_logs`] notes the size of the logs a `log:` check reads from and
//! [`Check::run_as`] the environment, directory and user a `cmd:` check runs with.
//! [`Check::wait`] then waits for the condition, for the program's exit or for the timeout,
//! whichever comes first, detecting it at once where the kernel gives an event: the pidfd, the
//! notify socket, inotify on the readiness file's directory (`file:`) and on the log files
//! (`log:`). `tcp:` and `http:` have no event to wait for and probe at a short fixed interval
//! (a connect to a port nobody listens on costs a few microseconds), backing off only once
//! something answers without being ready (so that a server answering 503 is not flooded);
//! `cmd:` runs its command at an interval that grows from 10 ms to 250 ms, each try bounded.
//! With an [`Interrupt`], rdaemon's own SIGINT, SIGTERM or SIGHUP end the wait at once too; in
//! respawn mode the monitor's report that its first child ended ([`Check::end_on_report`]) ends
//! it as the daemon's own exit does.
//!
//! A `tcp:` or `http:` check on an address of this machine counts a connection only when the
//! listening socket belongs to the daemon's processes (`sockets`, [`foreign_listener`]; `http:`
//! sends its GET only then), and [`Check::port_in_use`] names whoever already listens on the
//! port before anything starts (SPEC §2.1).
//!
//! The notify socket speaks the sd_notify protocol (sd_notify(3)): datagrams of newline-separated
//! `KEY=VALUE` lines on a unix socket, a file in a directory only rdaemon's user can write
//! ([`NotifySocket`]: never an abstract name, which another user could take once freed).
//! `SO_PASSCRED` makes the kernel attach the sender's pid and uid to every datagram, and only
//! the daemon, members of its process group
//! and its descendants are heard (a sender already gone when its message is read, like a
//! `systemd-notify` its shell has reaped, is heard if it ran as the daemon's user).
//!
//! Must not: signal or reap the program; `start` does that, with the stop schedule.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::IoSliceMut;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::poll::{poll, ppoll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use nix::sys::signal::Signal;
use nix::sys::socket::{
    bind, recvmsg, setsockopt, socket, sockopt, AddressFamily, MsgFlags, SockFlag, SockType,
    UnixAddr, UnixCredentials,
};
use signal_hook::iterator::backend::SignalDelivery;
use signal_hook::iterator::exfiltrator::SignalOnly;

use crate::account::Account;
use crate::daemonize::Credentials;
use crate::exit::Fail;
use crate::parse::{format_duration, parse_duration, Name};
use crate::probe::{self, Answer, HttpUrl, LogFollower};
use crate::process::{self, Pid, Process, TcpStateEvents};
use crate::progress::Spinner;
use crate::session;
use crate::sockets::{self, ListenQuery};

/// How far `EXTEND_TIMEOUT_USEC=` may take `start`'s wait for `READY=1`: this many times
/// `--ready-timeout` from the start of the wait, in all. A program that needs longer is given
/// a longer `--ready-timeout`.
const EXTEND_CEILING: u32 = 10;

/// The first and the longest pause between two looks at a notify sender's exit without a pidfd.
const FIRST_INTERVAL: Duration = Duration::from_millis(5);
const MAX_INTERVAL: Duration = Duration::from_millis(250);
/// The pause between two looks for a readiness file or log that has no inotify watch yet, and
/// after a `cmd:` try cut short.
const PROBE_INTERVAL: Duration = Duration::from_millis(4);
/// The same for `tcp:` and `http:`, shorter: their overshoot is half of it, and `http:`'s also
/// holds the server's answer to the GET (about 0.6 ms for Python's http.server). On loopback a
/// look is a sock_diag lookup ([`Knock`]). 1.5 ms cost 20–26 ms of CPU per second waited in
/// bench/ on a fast hour and 33–34 on a slow one, over the 30 ms target; 2 ms cost 27–28 on
/// that slow hour, for 0.3–0.5 ms more overshoot, well within its 3 ms (docs/performance.md).
const CONNECT_PROBE_INTERVAL: Duration = Duration::from_millis(2);
/// A probe of `tcp:` or `http:` on a loopback address connects only when the kernel reports a
/// listener there, and anyway at every this many looks ([`Knock`]).
const KNOCK_EVERY: u32 = 8;
/// The pause between two looks of `tcp:` or `http:` while the daemon's TCP state changes wake
/// the wait ([`TcpStateEvents`]): a look anyway at this interval, for a listener the events
/// cannot see (one outside the daemon's cgroup, a port the firewall redirects). A wake-up
/// costs more the longer the sleep before it (33 µs of CPU after 2 ms, 79 after 10, on the
/// bench's machine): 50 looks a second cost about 5 ms of CPU, where looks every 2 ms cost
/// 20-35 (docs/performance.md).
const TCP_EVENT_FALLBACK: Duration = Duration::from_millis(20);
/// How long a `tcp:` or `http:` wait looks every [`CONNECT_PROBE_INTERVAL`] before it sets up
/// the daemon's TCP state changes: most servers listen within milliseconds, and their starts
/// never pay for the set-up (0.25 ms, up to 15 the first time the kernel enables the
/// tracepoint) or for the `cat` that keeps the events past rdaemon's exit.
const TCP_EVENTS_AFTER: Duration = Duration::from_millis(100);
/// The pauses after an answer that was not readiness (an HTTP 503, someone else's listener):
/// from the first, doubling up to the second.
const ANSWERED_BACKOFF: (Duration, Duration) =
    (Duration::from_millis(50), Duration::from_millis(500));
/// The pauses between two tries of a `cmd:` check (each costs a fork and an exec).
const CMD_BACKOFF: (Duration, Duration) = (Duration::from_millis(10), Duration::from_millis(250));
/// The longest one `cmd:` try may run before it is killed.
const CMD_TRY_LIMIT: Duration = Duration::from_secs(5);
/// The longest one `http:` try waits for the status line.
const HTTP_TRY_LIMIT: Duration = Duration::from_secs(2);
/// With an inotify watch in place, a look anyway at this interval (an event the watch cannot
/// see: a file made by a hard link, a directory created later).
const EVENT_FALLBACK: Duration = Duration::from_millis(250);
/// The largest notify datagram heard (systemd's `NOTIFY_BUFFER_MAX`); longer ones are ignored.
const NOTIFY_MAX: usize = 4096;
/// How far up the parent chain a notify sender may be from the daemon.
const MAX_DEPTH: usize = 64;

/// What "started" means (`--ready SPEC`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ReadySpec {
    /// The program was executed.
    #[default]
    Exec,
    /// It was executed and still runs this long after.
    Alive(Duration),
    /// It sent `READY=1` over `$NOTIFY_SOCKET`.
    Notify,
    /// A TCP connection to HOST:PORT succeeds.
    Tcp {
        /// Host name or address (default `127.0.0.1`).
        host: String,
        /// Port, 1 to 65535.
        port: u16,
    },
    /// This file exists (made absolute by `start`).
    File(PathBuf),
    /// An HTTP GET of this `http://` URL answers 2xx or 3xx.
    Http(String),
    /// A line the program writes to its log after `start` began matches this regular expression.
    Log(String),
    /// `/bin/sh -c COMMAND`, as the daemon's user, exits 0.
    Cmd(String),
}

impl ReadySpec {
    /// Parses `exec`, `alive:DURATION`, `notify`, `tcp:[HOST:]PORT`, `file:PATH`, `http:URL`,
    /// `log:REGEX` or `cmd:COMMAND`.
    pub fn parse(s: &str) -> Result<ReadySpec, String> {
        let bad = |why: &str| format!("invalid readiness spec '{s}': {why}");
        let usage = "use exec, alive:DURATION, notify, tcp:[HOST:]PORT, file:PATH, http:URL, \
                     log:REGEX or cmd:COMMAND";
        match s.split_once(':') {
            None if s == "exec" => Ok(ReadySpec::Exec),
            None if s == "notify" => Ok(ReadySpec::Notify),
            Some(("exec" | "notify", _)) => Err(bad("exec and notify take no argument")),
            Some(("alive", d)) => parse_duration(d).map(ReadySpec::Alive).map_err(|e| bad(&e)),
            Some(("tcp", addr)) => parse_host_port(addr).map_err(|e| bad(&e)),
            Some(("file", "")) => Err(bad("the path is empty")),
            Some(("file", path)) => Ok(ReadySpec::File(PathBuf::from(path))),
            // `--ready http://HOST/`: the kind left out, and the URL's scheme taken for it.
            Some(("http", url)) if url.starts_with("//") => {
                Err(bad(&format!("the kind comes first: write http:{s}")))
            }
            Some(("http", url)) => probe::parse_http_url(url)
                .map(|_| ReadySpec::Http(url.to_owned()))
                .map_err(|e| bad(&e)),
            Some(("log", "")) => Err(bad("the regular expression is empty")),
            Some(("log", re)) => match log_regex(re) {
                Ok(_) => Ok(ReadySpec::Log(re.to_owned())),
                Err(e) => Err(bad(&format!(
                    "invalid regular expression: {}",
                    e.to_string().lines().last().unwrap_or_default().trim()
                ))),
            },
            Some(("cmd", c)) if c.trim().is_empty() => Err(bad("the command is empty")),
            Some(("cmd", c)) if c.contains('\0') => Err(bad("the command has a NUL byte")),
            Some(("cmd", c)) => Ok(ReadySpec::Cmd(c.to_owned())),
            _ => Err(bad(usage)),
        }
    }

    /// Parses a `--health` check: `tcp:[HOST:]PORT`, `http:URL`, `cmd:COMMAND` or `file:PATH`
    /// (the kinds that can be asked again and again of a running program).
    pub fn parse_health(s: &str) -> Result<ReadySpec, String> {
        let usage = || {
            format!(
                "invalid health check '{s}': use tcp:[HOST:]PORT, http:URL, cmd:COMMAND or file:PATH"
            )
        };
        // Another kind is refused as a health check, not listed among the readiness kinds.
        let kind = s.split_once(':').map_or(s, |(kind, _)| kind);
        if !matches!(kind, "tcp" | "http" | "cmd" | "file") {
            return Err(usage());
        }
        match ReadySpec::parse(s) {
            Ok(
                spec @ (ReadySpec::Tcp { .. }
                | ReadySpec::Http(_)
                | ReadySpec::Cmd(_)
                | ReadySpec::File(_)),
            ) => Ok(spec),
            Ok(_) => Err(usage()),
            Err(e) => Err(e.replacen("invalid readiness spec", "invalid health check", 1)),
        }
    }

    /// What `start` waits for, in words (`a TCP connection to 127.0.0.1:8080`).
    pub fn describe(&self) -> String {
        match self {
            ReadySpec::Exec => "the exec".into(),
            ReadySpec::Alive(d) => format!("the program to stay up for {}", format_duration(*d)),
            ReadySpec::Notify => "READY=1 on its NOTIFY_SOCKET".into(),
            ReadySpec::Tcp { .. } => {
                let spec = self.to_string();
                format!("a TCP connection to {}", &spec["tcp:".len()..])
            }
            ReadySpec::File(p) => format!("'{}' to appear", p.display()),
            ReadySpec::Http(url) => format!("an HTTP GET of {url} to answer 2xx or 3xx"),
            ReadySpec::Log(re) => format!("a line matching '{re}' in its log"),
            ReadySpec::Cmd(c) => format!("'{c}' to exit 0"),
        }
    }
}

impl fmt::Display for ReadySpec {
    /// The canonical form, as stored in the record and parsed back by [`ReadySpec::parse`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadySpec::Exec => f.write_str("exec"),
            ReadySpec::Alive(d) => write!(f, "alive:{}", format_duration(*d)),
            ReadySpec::Notify => f.write_str("notify"),
            ReadySpec::Tcp { host, port } if host.contains(':') => write!(f, "tcp:[{host}]:{port}"),
            ReadySpec::Tcp { host, port } => write!(f, "tcp:{host}:{port}"),
            ReadySpec::File(p) => write!(f, "file:{}", p.display()),
            ReadySpec::Http(url) => write!(f, "http:{url}"),
            ReadySpec::Log(re) => write!(f, "log:{re}"),
            ReadySpec::Cmd(c) => write!(f, "cmd:{c}"),
        }
    }
}

/// The regular expression of `log:REGEX`, matched against the raw bytes of a line with Unicode
/// mode off: `\d`, `\w`, `\s` and `(?i)` are ASCII, `.` is any byte but `\n`, a non-ASCII
/// literal matches its UTF-8 bytes. It keeps the regex crate to its smallest build (no Unicode
/// tables: the release binary stays under its 2 MB target) and lines that are not UTF-8 count.
fn log_regex(re: &str) -> Result<regex::bytes::Regex, regex::Error> {
    regex::bytes::RegexBuilder::new(re).unicode(false).build()
}

/// `PORT`, `HOST:PORT` or `[IPV6]:PORT`.
fn parse_host_port(s: &str) -> Result<ReadySpec, String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        rest.split_once("]:")
            .ok_or("write an IPv6 address as [ADDRESS]:PORT")?
    } else {
        match s.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err("write an IPv6 address in brackets, like tcp:[::1]:8080".into())
            }
            Some((host, port)) => (host, port),
            None => ("127.0.0.1", s),
        }
    };
    // No brackets inside a host: `tcp:[[]:1` would otherwise give host `[`, whose canonical form
    // `tcp:[:1` the record could not be read back from (found by the `ready` fuzz target).
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || matches!(c, '/' | '[' | ']'))
    {
        return Err(format!("invalid host '{host}'"));
    }
    let port = match port.parse::<u16>() {
        Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => p,
        _ => return Err(format!("invalid port '{port}': use 1 to 65535")),
    };
    Ok(ReadySpec::Tcp {
        host: host.to_owned(),
        port,
    })
}

/// What one sd_notify datagram says; unknown fields are ignored.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Notice {
    /// `READY=1`.
    pub ready: bool,
    /// The last `STATUS=` text.
    pub status: Option<String>,
    /// `ERRNO=N` with N > 0: the program reports failure.
    pub errno: Option<i32>,
    /// `EXTEND_TIMEOUT_USEC=N`: it needs N µs more from now.
    pub extend: Option<Duration>,
    /// `RELOADING=1`: it is reloading its configuration (`READY=1` follows when done).
    pub reloading: bool,
    /// `STOPPING=1`: it is shutting down.
    pub stopping: bool,
    /// `WATCHDOG=1`: it is alive (`--watchdog`).
    pub watchdog: bool,
    /// `MAINPID=N`: its main process is N.
    pub main_pid: Option<i32>,
    /// The start time of the process `main_pid` names, read by the monitor in the same look
    /// that found it its descendant (never from the datagram).
    pub main_pid_start: Option<u64>,
}

/// Parses one notify datagram (newline-separated `KEY=VALUE` lines).
pub fn parse_notice(msg: &[u8]) -> Notice {
    let mut notice = Notice::default();
    for line in msg.split(|b| *b == b'\n') {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        match line.split_once('=') {
            Some(("READY", "1")) => notice.ready = true,
            Some(("RELOADING", "1")) => notice.reloading = true,
            Some(("STOPPING", "1")) => notice.stopping = true,
            Some(("WATCHDOG", "1")) => notice.watchdog = true,
            Some(("MAINPID", n)) => notice.main_pid = n.parse().ok().filter(|n| *n > 1),
            Some(("STATUS", text)) => notice.status = Some(text.to_owned()),
            Some(("ERRNO", n)) => {
                if let Some(n) = n.parse::<i32>().ok().filter(|n| *n > 0) {
                    notice.errno = Some(n);
                }
            }
            Some(("EXTEND_TIMEOUT_USEC", n)) => {
                if let Ok(us) = n.parse::<u64>() {
                    notice.extend = Some(Duration::from_micros(us));
                }
            }
            _ => {}
        }
    }
    notice
}

/// How a wait for readiness ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The condition holds and the program runs.
    Ready,
    /// The program exited first (reap it to learn how).
    Exited,
    /// The program reported failure (notify `ERRNO=`); the text says how.
    Failed(String),
    /// The timeout passed: this one (longer than asked if the program extended it).
    TimedOut(Duration),
    /// rdaemon itself got this signal (Ctrl-C, SIGTERM, SIGHUP) while it waited.
    Interrupted(Signal),
}

/// The signals that interrupt a wait for readiness (SPEC §2.1: Ctrl-C stops the half-started
/// daemon as a timeout would).
const INTERRUPTS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

/// rdaemon's own SIGINT, SIGTERM and SIGHUP, caught on a self-pipe while `start` waits, so that
/// an interrupted `start` can stop what it started instead of dying and leaving it "started".
///
/// A signal that rdaemon's caller ignored (`nohup` ignores SIGHUP, a shell's background job
/// SIGINT) stays ignored. Once caught, the signals stay caught until rdaemon exits (signal-hook
/// cannot give back the default disposition): a second Ctrl-C does not cut the clean-up short.
pub struct Interrupt {
    delivery: SignalDelivery<std::os::unix::net::UnixStream, SignalOnly>,
}

impl fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Interrupt")
    }
}

impl Interrupt {
    /// Starts catching the interrupting signals that are not ignored.
    pub fn catch() -> Result<Interrupt> {
        let ignored = process::ignored_signals();
        let signals: Vec<i32> = INTERRUPTS
            .iter()
            .map(|s| *s as i32)
            .filter(|s| ignored & (1u64 << (s - 1)) == 0)
            .collect();
        let (read, write) =
            std::os::unix::net::UnixStream::pair().context("cannot create the signal pipe")?;
        read.set_nonblocking(true)
            .context("cannot create the signal pipe")?;
        let delivery = SignalDelivery::with_pipe(read, write, SignalOnly, signals)
            .context("cannot install signal handlers")?;
        // One that came before, while the command's own catch was held for this step
        // (`restart`, between its stop and its start: [`process::hold_interrupts`]), noted
        // there and never seen here: raised again, it reaches this self-pipe too, and the first
        // wait ends on it as on one that comes now.
        if let Some(sig) = process::caught() {
            let _ = nix::sys::signal::raise(sig);
        }
        Ok(Interrupt { delivery })
    }

    /// The read end of the self-pipe: readable once a signal was caught.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.delivery.get_read().as_fd()
    }

    /// The first interrupting signal caught so far, if any.
    pub(crate) fn caught(&mut self) -> Option<Signal> {
        self.delivery
            .pending()
            .find_map(|s| Signal::try_from(s).ok())
    }
}

/// A readiness check, prepared before the fork.
#[derive(Debug)]
pub struct Check {
    how: How,
    status: Option<String>,
    /// The last `MAINPID=` the program sent while `start` waited (with `READY=1`, as
    /// `sd_notify(0, "MAINPID=...\nREADY=1")` sends it), for the respawn monitor to keep.
    main_pid: Option<i32>,
    /// `notify`: whether a message of the daemon's reached the socket at all.
    notify_heard: bool,
    ignored: Vec<String>,
    /// The uid the program runs as when it is not the daemon's (`--user` under a respawn
    /// monitor, which stays root): a notify sender already gone is heard if it had this uid too.
    program_uid: Option<u32>,
    /// The daemon's user (`--user`), whose `file:` flag counts besides root's and rdaemon's
    /// own user's ([`file_owner_counts`]).
    daemon_uid: Option<u32>,
    /// rdaemon's own termination signals, when the wait is to end on them.
    interrupt: Option<Interrupt>,
    /// In respawn mode, `start`'s end of the monitor's report pipe: readable once the monitor
    /// reports that the program (its first child) ended, or is gone. The wait then ends with
    /// [`Outcome::Exited`], as on the daemon's own exit.
    report: Option<OwnedFd>,
    /// A signal caught while waiting, kept once read from the pipe.
    caught: Option<Signal>,
    /// Whether a probe of `tcp:` or `http:` connects, and the daemon's TCP state changes.
    knock: Knock,
    /// A `cat` holding a copy of the inotify instance or of the TCP state events until rdaemon
    /// exits (see [`outlive_exit`]). Declared after `how` and `knock`, so that rdaemon's copy is
    /// closed first.
    keeper: Option<std::process::Child>,
}

/// Whether a probe of `tcp:` or `http:` connects now, and how long it pauses before the next.
/// To a loopback address only when the kernel reports a listener there ([`ListenQuery`]: two
/// system calls, where a refused connection costs three (`tcp:`) to seven (`http:`), a SYN and a
/// RST), and anyway at every [`KNOCK_EVERY`]th look, for what the lookup cannot see (a listener
/// bound to a device, a port redirected by the firewall). With the daemon's TCP state changes
/// to wake the pauses ([`TcpStateEvents`]), the look after such a change connects too.
#[derive(Debug, Default)]
struct Knock {
    /// Opened at the first look; `None` where the kernel cannot answer.
    query: Option<ListenQuery>,
    opened: bool,
    /// Looks without a connection since the last.
    skipped: u32,
    /// The daemon's cgroup, and when the wait began: its TCP state changes are set up once the
    /// wait has lasted [`TCP_EVENTS_AFTER`].
    cgroup: Option<(OwnedFd, Instant)>,
    /// The daemon's TCP state changes, where the kernel gives them.
    events: Option<TcpStateEvents>,
    /// Whether one of them ended the last pause.
    changed: std::cell::Cell<bool>,
}

impl Knock {
    /// Sets up the daemon's TCP state changes once the wait has lasted long enough, with a
    /// `cat` (in `keeper`) that holds them until rdaemon has exited: the last close of such
    /// events waits for the kernel to unregister its tracepoint (`synchronize_rcu`, 40-60 ms
    /// measured), which would delay the moment `start` returns after readiness was seen.
    fn set_up_events(&mut self, keeper: &mut Option<std::process::Child>) {
        let Some((_, began)) = &self.cgroup else {
            return;
        };
        if began.elapsed() < TCP_EVENTS_AFTER {
            return;
        }
        let Some((dir, _)) = self.cgroup.take() else {
            return;
        };
        let Some(events) = TcpStateEvents::open(dir.as_fd()) else {
            return;
        };
        let fds: Vec<BorrowedFd<'_>> = events.fds().collect();
        // Without a keeper, rdaemon would pay the wait itself: go on looking instead.
        if let Some(cat) = outlive_exit(&fds) {
            *keeper = Some(cat);
            self.events = Some(events);
        }
    }

    /// The pause after a look that found nobody listening.
    fn pause(&self) -> Duration {
        match self.events {
            Some(_) => TCP_EVENT_FALLBACK,
            None => CONNECT_PROBE_INTERVAL,
        }
    }

    fn connect_to(&mut self, addr: SocketAddr) -> bool {
        if !addr.ip().is_loopback() || self.changed.get() || self.skipped + 1 >= KNOCK_EVERY {
            self.skipped = 0;
            return true;
        }
        if !self.opened {
            self.opened = true;
            self.query = ListenQuery::open();
        }
        let Some(query) = self.query.as_mut() else {
            return true;
        };
        match query.listens(addr) {
            Some(false) => {
                self.skipped += 1;
                false
            }
            Some(true) => true,
            None => {
                self.query = None;
                true
            }
        }
    }
}

#[derive(Debug)]
enum How {
    Exec,
    Alive(Duration),
    Notify(NotifySocket),
    Tcp(Vec<SocketAddr>),
    File {
        path: PathBuf,
        before: Option<FileId>,
        /// Watches the file's directory for names appearing in it (`None`: no inotify).
        inotify: Option<Inotify>,
        /// Whether the directory's watch is in place (it may not exist yet).
        watching: bool,
    },
    Http {
        url: HttpUrl,
        addrs: Vec<SocketAddr>,
    },
    Log {
        regex: regex::bytes::Regex,
        logs: Vec<LogFollower>,
        /// Watches the log files for writes (`None`: no inotify).
        inotify: Option<Inotify>,
        /// Whether every log has its watch.
        watching: bool,
    },
    Cmd {
        command: String,
        run: Option<CmdContext>,
    },
}

/// What a `cmd:` check runs with: the daemon's environment, directory and user.
#[derive(Debug)]
struct CmdContext {
    env: BTreeMap<OsString, OsString>,
    chdir: PathBuf,
    creds: Option<Credentials>,
    /// The daemon's `cgroup.procs`, write-only: each try runs in the daemon's cgroup.
    cgroup_procs: Option<OwnedFd>,
}

/// A non-blocking, close-on-exec inotify instance; `None` where the kernel refuses one (the
/// checks then fall back to probing at [`PROBE_INTERVAL`]).
fn inotify() -> Option<Inotify> {
    Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).ok()
}

/// Reads and drops the queued events: what changed is looked at directly.
fn drain(inotify: &Option<Inotify>) {
    if let Some(i) = inotify {
        while matches!(i.read_events(), Ok(events) if !events.is_empty()) {}
    }
}

/// Enough of a file's metadata to see that it was created or rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    uid: u32,
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileId {
    /// What is at `path` now, looked at the safe way (`fsx`): no symlink another user could
    /// have made is followed, on the way or at the end (a symlink there is itself what
    /// exists). Run as root for a daemon of another user, the check must not tell that user
    /// whether a path it cannot see exists (a link it planted to a root-only directory).
    fn of(path: &std::path::Path) -> Option<FileId> {
        let (dir, name) = crate::fsx::Dir::open_parent(path).ok()?;
        let st = dir.stat(&name).ok()??;
        Some(FileId {
            uid: st.st_uid,
            dev: st.st_dev,
            ino: st.st_ino,
            len: st.st_size as u64,
            mtime: (st.st_mtime, st.st_mtime_nsec),
            ctime: (st.st_ctime, st.st_ctime_nsec),
        })
    }
}

/// Whether a `file:` flag owned by `uid` can be the daemon's: root's, rdaemon's own user's,
/// or the daemon's user's (`daemon_uid`). Anyone else who can create files there (a sticky
/// `/tmp`) could otherwise make any daemon look ready, or keep it healthy.
fn file_owner_counts(uid: u32, daemon_uid: Option<u32>) -> bool {
    uid == 0 || uid == nix::unistd::geteuid().as_raw() || Some(uid) == daemon_uid
}

/// `--health file:PATH` for a daemon whose user is `daemon_uid` (`None`: rdaemon's own): the
/// file exists, looked at as `--ready file:` does (no symlink another user could have made is
/// followed), and is owned by root, rdaemon's user or the daemon's user. The error says why.
pub fn health_file(path: &Path, daemon_uid: Option<u32>) -> Result<(), String> {
    match FileId::of(path) {
        None => Err(format!("'{}' does not exist", path.display())),
        Some(id) if !file_owner_counts(id.uid, daemon_uid) => Err(format!(
            "'{}' is owned by uid {}, neither root nor the daemon's user, and does not count",
            path.display(),
            id.uid
        )),
        Some(_) => Ok(()),
    }
}

impl Check {
    /// A `file:` flag counts when owned by `uid` too (the daemon's `--user`), besides root and
    /// rdaemon's own user.
    pub fn hear_file_owner(&mut self, uid: u32) {
        self.daemon_uid = Some(uid);
    }

    /// `file:PATH` whose file is there, new, but owned by another user (who does not count):
    /// its path and owner, for the timeout message.
    pub fn file_of_stranger(&self) -> Option<(&Path, u32)> {
        match &self.how {
            How::File { path, before, .. } => FileId::of(path)
                .filter(|now| before.is_none_or(|b| b != *now))
                .filter(|now| !file_owner_counts(now.uid, self.daemon_uid))
                .map(|now| (path.as_path(), now.uid)),
            _ => None,
        }
    }

    /// Also hears an already-gone notify sender that ran as `uid`: the program's user when it
    /// differs from the daemon's (a respawn monitor stays root, its child drops to `--user`).
    pub fn hear_program_uid(&mut self, uid: u32) {
        self.program_uid = Some(uid);
    }

    /// With `tcp:` or `http:` on addresses of this machine: the daemon's processes are those of
    /// the cgroup whose directory is `dir`, so a pause between two looks may end when one of
    /// them changes a TCP socket's state (binds a listener) and last longer otherwise
    /// ([`TCP_EVENT_FALLBACK`]). Without the kernel's events, the looks go on as before.
    /// With `cmd:`, each try of the command runs in that cgroup, among the daemon's processes,
    /// so what it leaves behind goes with the daemon at `stop`.
    pub fn watch_cgroup(&mut self, dir: BorrowedFd<'_>) {
        if let How::Cmd { run: Some(run), .. } = &mut self.how {
            // Best effort: without it the command runs where `start` runs, as before.
            run.cgroup_procs = nix::fcntl::openat(
                dir,
                "cgroup.procs",
                nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ok();
            return;
        }
        let (How::Tcp(addrs) | How::Http { addrs, .. }) = &self.how else {
            return;
        };
        if addrs.iter().all(|a| sockets::is_local(a.ip())) {
            self.knock.cgroup = dir.try_clone_to_owned().ok().map(|d| (d, Instant::now()));
        }
    }

    /// Makes [`Check::wait`] end with [`Outcome::Interrupted`] when rdaemon gets SIGINT,
    /// SIGTERM or SIGHUP (see [`Interrupt`]).
    pub fn end_on_interrupt(&mut self, interrupt: Interrupt) {
        self.interrupt = Some(interrupt);
    }

    /// Makes [`Check::wait`] end with [`Outcome::Exited`] when `report` becomes readable: in
    /// respawn mode, the monitor's report that the program (its first child) ended, which the
    /// monitor's own pidfd would not show (SPEC §2.1: `start` fails at once).
    pub fn end_on_report(&mut self, report: OwnedFd) {
        self.report = Some(report);
    }

    /// The signal that interrupted the wait, once one has arrived.
    fn interrupted(&mut self) -> Option<Signal> {
        take_caught(&mut self.caught, &mut self.interrupt)
    }

    /// Whether the program is gone: the daemon process exited, or (respawn mode) its monitor
    /// reported the program's end.
    fn ended(&self, process: &Process) -> bool {
        process.has_exited()
            || self
                .report
                .as_ref()
                .is_some_and(|r| crate::process::fd_readable(r.as_fd()))
    }

    /// Besides the daemon's pidfd, what ends a wait at once: rdaemon's signals, the monitor's
    /// report.
    fn wake_fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        let report = self.report.as_ref().map(|r| r.as_fd());
        self.interrupt
            .as_ref()
            .map(Interrupt::fd)
            .into_iter()
            .chain(report)
    }

    /// Sleeps up to `slice`, waking early when the program exits or an interrupting signal
    /// arrives; true if either happened (or may have: the caller looks).
    fn sleep(&self, process: &Process, slice: Duration) -> std::io::Result<bool> {
        let mut fds: Vec<BorrowedFd<'_>> = self.wake_fds().collect();
        if fds.is_empty() {
            return process.wait_exit(slice);
        }
        match process.pidfd() {
            // The pidfd is readable only once the program exited: poll's answer says it all.
            Some(pidfd) => {
                fds.push(pidfd);
                Ok(wait_any(&fds, slice)? != 0)
            }
            None => {
                // Without a pidfd, exit is only seen by looking: look often.
                let woken = wait_any(&fds, slice.min(Duration::from_millis(5)))?;
                Ok(woken != 0 || process.has_exited())
            }
        }
    }

    /// Prepares the check for `spec` of daemon `name`: resolves the TCP host, binds the notify
    /// socket (in a directory [`notify_dirs`] picks, given rdaemon's runtime directory
    /// `runtime`, that the daemon's `--user`, `account`, can reach), notes an existing
    /// readiness file. Errors here stop `start` before anything runs.
    pub fn prepare(
        spec: &ReadySpec,
        name: &Name,
        runtime: &Path,
        account: Option<&Account>,
    ) -> Result<Check> {
        let how = match spec {
            ReadySpec::Exec => How::Exec,
            ReadySpec::Alive(d) => How::Alive(*d),
            ReadySpec::Notify => {
                How::Notify(NotifySocket::bind(name, notify_dirs(runtime), account)?)
            }
            ReadySpec::Tcp { host, port } => {
                let addrs: Vec<SocketAddr> = (host.as_str(), *port)
                    .to_socket_addrs()
                    .with_context(|| format!("--ready {spec}: cannot resolve '{host}'"))?
                    .collect();
                if addrs.is_empty() {
                    anyhow::bail!("--ready {spec}: '{host}' has no address");
                }
                How::Tcp(addrs)
            }
            ReadySpec::File(path) => How::File {
                path: path.clone(),
                before: FileId::of(path),
                inotify: inotify(),
                watching: false,
            },
            ReadySpec::Http(text) => {
                let url = probe::parse_http_url(text)
                    .map_err(|e| Fail::usage(format!("invalid readiness spec '{spec}': {e}")))?;
                let addrs: Vec<SocketAddr> = (url.host.as_str(), url.port)
                    .to_socket_addrs()
                    .with_context(|| format!("--ready {spec}: cannot resolve '{}'", url.host))?
                    .collect();
                if addrs.is_empty() {
                    anyhow::bail!("--ready {spec}: '{}' has no address", url.host);
                }
                How::Http { url, addrs }
            }
            ReadySpec::Log(re) => How::Log {
                regex: log_regex(re)
                    .map_err(|e| Fail::usage(format!("invalid readiness spec '{spec}': {e}")))?,
                logs: Vec::new(),
                inotify: inotify(),
                watching: false,
            },
            ReadySpec::Cmd(command) => How::Cmd {
                command: command.clone(),
                run: None,
            },
        };
        Ok(Check {
            how,
            status: None,
            main_pid: None,
            notify_heard: false,
            ignored: Vec::new(),
            program_uid: None,
            daemon_uid: None,
            interrupt: None,
            report: None,
            caught: None,
            knock: Knock::default(),
            keeper: None,
        })
    }

    /// With `log:`, the logs to read the program's lines from (stdout's and stderr's, the same
    /// file or two), from the size they have now: a line already there does not count. A log
    /// that is not a regular file (`/dev/null`, a FIFO, a terminal) cannot be read back and is
    /// left out: the lines are looked for in the other stream's file. Only when neither stream
    /// goes to a file is it a usage error, before anything starts. Call before the logs are
    /// opened for the daemon.
    pub fn watch_logs(&mut self, logs: &[&Path]) -> Result<()> {
        let How::Log { logs: followed, .. } = &mut self.how else {
            return Ok(());
        };
        followed.clear();
        let mut unreadable = None;
        for path in logs {
            if followed.iter().any(|f| f.path() == *path) {
                continue;
            }
            let offset = match std::fs::metadata(path) {
                Ok(m) if m.is_file() => m.len(),
                Ok(_) => {
                    unreadable.get_or_insert(*path);
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("cannot read log file '{}'", path.display()))
                }
            };
            followed.push(LogFollower::new(path, offset));
        }
        match unreadable {
            Some(path) if followed.is_empty() => Err(Fail::usage(format!(
                "--ready log: cannot read the program's lines from '{}': not a regular file \
                 (give --stdout/--stderr a file, or use another --ready kind)",
                path.display()
            ))
            .into()),
            _ => Ok(()),
        }
    }

    /// With `cmd:`, what the command runs with: the daemon's environment, working directory and,
    /// with `--user`/`--group`, its credentials.
    pub fn run_as(
        &mut self,
        env: &BTreeMap<OsString, OsString>,
        chdir: &Path,
        creds: Option<&Credentials>,
    ) {
        if let How::Cmd { run, .. } = &mut self.how {
            *run = Some(CmdContext {
                env: env.clone(),
                chdir: chdir.to_owned(),
                creds: creds.cloned(),
                cgroup_procs: None,
            });
        }
    }

    /// The value for the daemon's `NOTIFY_SOCKET` (the socket file's path), with
    /// The notify socket itself (`--ready notify`), to pass on to a respawn monitor.
    pub fn notify_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.how {
            How::Notify(sock) => Some(sock.fd.as_fd()),
            _ => None,
        }
    }

    /// `--ready notify`.
    pub fn notify_socket(&self) -> Option<&str> {
        match &self.how {
            How::Notify(sock) => Some(&sock.address),
            _ => None,
        }
    }

    /// The respawn monitor got the notify socket ([`Check::notify_fd`]): it removes the
    /// socket's file when it exits, not this check when it is dropped.
    pub fn hand_over_notify_socket(&mut self) {
        if let How::Notify(sock) = &mut self.how {
            sock.file = None;
        }
    }

    /// The last `STATUS=` text the program sent.
    pub fn status_text(&self) -> Option<&str> {
        self.status.as_deref()
    }

    /// The last `MAINPID=` the program sent while `start` waited, unchecked.
    pub fn main_pid(&self) -> Option<i32> {
        self.main_pid
    }

    /// `notify` when nothing at all reached the socket (neither the daemon's nor another's):
    /// the path `NOTIFY_SOCKET` names, for the timeout message.
    pub fn notify_unheard(&self) -> Option<&str> {
        match &self.how {
            // Handed over, the monitor hears it, not this check.
            How::Notify(sock) if sock.file.is_some() => {
                (!self.notify_heard && self.ignored.is_empty()).then_some(sock.address.as_str())
            }
            _ => None,
        }
    }

    /// Notify messages that were ignored because they came from other processes (for the
    /// timeout message).
    pub fn ignored(&self) -> &[String] {
        &self.ignored
    }

    /// `file:PATH` whose file was already there when the wait began (and still is, unchanged):
    /// its path, for the timeout message, since such a file does not count.
    pub fn file_there_before(&self) -> Option<&Path> {
        match &self.how {
            How::File {
                path,
                before: Some(before),
                ..
            } if FileId::of(path).as_ref() == Some(before) => Some(path),
            _ => None,
        }
    }

    /// Waits until the program is ready, exits, fails or `timeout` passes (`alive:` waits its
    /// own duration instead). `spinner` shows the wait on a terminal.
    pub fn wait(
        &mut self,
        process: &Process,
        timeout: Duration,
        spinner: &mut Spinner,
    ) -> Result<Outcome> {
        let waiting = |e: std::io::Error| {
            anyhow::Error::new(e).context(format!("cannot wait for pid {}", process.pid()))
        };
        match &self.how {
            How::Exec => Ok(Outcome::Ready),
            How::Alive(d) => {
                let deadline = Instant::now() + *d;
                loop {
                    if let Some(sig) = self.interrupted() {
                        return Ok(Outcome::Interrupted(sig));
                    }
                    if self.ended(process) {
                        return Ok(Outcome::Exited);
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(Outcome::Ready);
                    }
                    spinner
                        .wait_with(left, |slice| self.sleep(process, slice))
                        .map_err(waiting)?;
                }
            }
            How::Notify(_) => self.wait_notify(process, timeout, spinner),
            _ => {
                if let How::File {
                    inotify: Some(i), ..
                }
                | How::Log {
                    inotify: Some(i), ..
                } = &self.how
                {
                    self.keeper = outlive_exit(&[i.as_fd()]);
                }
                let started = Instant::now();
                let deadline = started + timeout;
                let mut backoff: Option<Duration> = None;
                // Whether the program may have exited or a signal may have come: at first, and
                // after a pause that something ended early. A pause that ran its course saw
                // neither (its poll watched both), so the next probe follows at once.
                let mut look = true;
                loop {
                    if look {
                        if let Some(sig) = self.interrupted() {
                            return Ok(Outcome::Interrupted(sig));
                        }
                        if self.ended(process) {
                            return Ok(Outcome::Exited);
                        }
                    }
                    // After an answer that was not readiness, no event ends the pause: closing
                    // the probe's connection is one of the daemon's TCP state changes.
                    let (interval, events) = match self.probe(deadline, process)? {
                        Probe::Ready => return Ok(Outcome::Ready),
                        Probe::NotYet(interval) => {
                            backoff = None;
                            (interval, true)
                        }
                        Probe::Answered((first, max)) => {
                            let next = backoff.map_or(first, |b| (b * 2).min(max));
                            backoff = Some(next);
                            (next, false)
                        }
                    };
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(Outcome::TimedOut(deadline - started));
                    }
                    // Woken early by an exit, a signal or an event: the top of the loop looks.
                    look = spinner
                        .wait_with(interval.min(left), |slice| {
                            self.sleep_or_event(process, slice, events)
                        })
                        .map_err(waiting)?;
                }
            }
        }
    }

    /// What ends a pause early with an event: the inotify instance once its watches are in
    /// place, or the daemon's TCP state changes.
    fn event_fds(&self) -> Vec<BorrowedFd<'_>> {
        match &self.how {
            How::File {
                inotify: Some(i),
                watching: true,
                ..
            }
            | How::Log {
                inotify: Some(i),
                watching: true,
                ..
            } => vec![i.as_fd()],
            How::Tcp(_) | How::Http { .. } => self
                .knock
                .events
                .as_ref()
                .map_or_else(Vec::new, |e| e.fds().collect()),
            _ => Vec::new(),
        }
    }

    /// [`Check::sleep`], also ending at once on an event when `events`.
    fn sleep_or_event(
        &self,
        process: &Process,
        slice: Duration,
        events: bool,
    ) -> std::io::Result<bool> {
        let mut fds = match events {
            true => self.event_fds(),
            false => Vec::new(),
        };
        self.knock.changed.set(false);
        if fds.is_empty() {
            return self.sleep(process, slice);
        }
        // The events' fds come first: bits 0 to n - 1 of the answer.
        let n = fds.len().min(63);
        fds.extend(self.wake_fds());
        let woken = match process.pidfd() {
            Some(pidfd) => {
                fds.push(pidfd);
                wait_any(&fds, slice)?
            }
            // Without a pidfd, exit is only seen by looking: look often.
            None => match wait_any(&fds, slice.min(Duration::from_millis(5)))? {
                0 if process.has_exited() => u64::MAX,
                woken => woken,
            },
        };
        self.knock
            .changed
            .set(woken != u64::MAX && woken & ((1u64 << n) - 1) != 0);
        Ok(woken != 0)
    }

    /// Whether the program exited or rdaemon was interrupted while waiting up to `slice` for
    /// `fd` to become readable (one HTTP try's answer, one `cmd:` try's exit).
    fn cut_short(&self, process: &Process, fd: BorrowedFd<'_>, slice: Duration) -> bool {
        let mut fds = vec![fd];
        fds.extend(self.wake_fds());
        let slice = match process.pidfd() {
            Some(pidfd) => {
                fds.push(pidfd);
                slice
            }
            None => slice.min(Duration::from_millis(5)),
        };
        let _ = wait_readable(&fds, slice);
        self.ended(process)
            || self
                .interrupt
                .as_ref()
                .is_some_and(|i| crate::process::fd_readable(i.fd()))
    }

    /// One look at a condition of `tcp:`, `file:`, `http:`, `log:` or `cmd:`, and how long to
    /// pause before the next.
    fn probe(&mut self, deadline: Instant, process: &Process) -> Result<Probe> {
        let event_or = |watching: bool| match watching {
            true => EVENT_FALLBACK,
            false => PROBE_INTERVAL,
        };
        match &mut self.how {
            How::Tcp(_) => Ok(match self.tcp_ready(deadline, process) {
                (true, _) => Probe::Ready,
                (false, true) => Probe::Answered(ANSWERED_BACKOFF),
                (false, false) => Probe::NotYet(self.knock.pause()),
            }),
            How::File {
                path,
                inotify,
                watching,
                ..
            } => {
                if !*watching {
                    // The directory may appear later: try again at every probe. The look below
                    // comes after the watch, so nothing made in between is missed.
                    let dir = match path.parent() {
                        Some(d) if !d.as_os_str().is_empty() => d,
                        _ => Path::new("."),
                    };
                    *watching = inotify.as_ref().is_some_and(|i| {
                        let mask = AddWatchFlags::IN_CREATE
                            | AddWatchFlags::IN_MOVED_TO
                            | AddWatchFlags::IN_CLOSE_WRITE
                            | AddWatchFlags::IN_ATTRIB
                            | AddWatchFlags::IN_ONLYDIR;
                        i.add_watch(dir, mask).is_ok()
                    });
                }
                drain(inotify);
                let watching = *watching;
                Ok(match self.holds(deadline) {
                    true => Probe::Ready,
                    false => Probe::NotYet(event_or(watching)),
                })
            }
            How::Log {
                regex,
                logs,
                inotify,
                watching,
            } => {
                drain(inotify);
                let mut all = true;
                let mut found = false;
                for log in logs.iter_mut() {
                    log.open();
                    // Again at every look: after a rotation the path is another file. Before
                    // the read, so that a line written after it wakes the next pause.
                    let watched = inotify.as_ref().is_some_and(|i| {
                        let mask = AddWatchFlags::IN_MODIFY
                            | AddWatchFlags::IN_MOVE_SELF
                            | AddWatchFlags::IN_DELETE_SELF;
                        log.is_open() && i.add_watch(log.path(), mask).is_ok()
                    });
                    all &= watched;
                    if log.read_lines(|line| regex.is_match(line)) {
                        found = true;
                        break;
                    }
                    // More than one read's worth is waiting: no write may come to wake the
                    // next look, so it comes after the short pause.
                    all &= !log.behind();
                }
                *watching = all && !logs.is_empty();
                Ok(match found {
                    true => Probe::Ready,
                    false => Probe::NotYet(event_or(*watching)),
                })
            }
            How::Http { .. } => self.http_ready(deadline, process),
            How::Cmd { .. } => self.cmd_ready(deadline, process),
            How::Exec | How::Alive(_) | How::Notify(_) => Ok(Probe::Ready),
        }
    }

    /// One GET per address of the URL: ready at the first 2xx or 3xx. For an address of this
    /// machine the GET is sent only once the socket that took the connection is known to be the
    /// daemon's, as for `tcp:` ([`foreign_listener`]): another process's server, bound to the
    /// port after the preflight, would otherwise answer for a program that never listens there
    /// (SPEC §2.1). Such a listener is noted for the timeout message and never asked.
    fn http_ready(&mut self, deadline: Instant, process: &Process) -> Result<Probe> {
        self.knock.set_up_events(&mut self.keeper);
        let How::Http { url, addrs } = &self.how else {
            return Ok(Probe::Ready);
        };
        let mut answered = None;
        for addr in addrs {
            if !self.knock.connect_to(*addr) {
                continue;
            }
            let limit = (Instant::now() + HTTP_TRY_LIMIT).min(deadline);
            let Some(stream) = probe::http_connect(addr, limit) else {
                continue;
            };
            if let Some(foreign) = foreign_listener(process, addr) {
                // Closed unsent. Its holder is looked up once (a scan of every process's fds),
                // not at every probe.
                let known = self.ignored.first().filter(|t| foreign.is_described_by(t));
                answered = Some(
                    answered
                        .unwrap_or_else(|| known.cloned().unwrap_or_else(|| foreign.describe())),
                );
                continue;
            }
            match probe::http_ask(url, stream, limit, |stream, slice| {
                self.cut_short(process, stream.as_fd(), slice)
            }) {
                Answer::Status(code, _) if (200..400).contains(&code) => return Ok(Probe::Ready),
                Answer::Status(_, line) => {
                    answered = Some(format!("the answer '{line}' (from {})", addrs_text(addrs)))
                }
                // A try cut by the deadline must not hide the last real answer.
                Answer::Silent(what) => {
                    answered = Some(answered.unwrap_or_else(|| {
                        self.ignored
                            .first()
                            .cloned()
                            .unwrap_or_else(|| format!("{what} (from {})", addrs_text(addrs)))
                    }))
                }
                Answer::NoConnection => {}
                Answer::Cut => return Ok(Probe::NotYet(CONNECT_PROBE_INTERVAL)),
            }
        }
        Ok(match answered {
            Some(what) => {
                self.ignored = vec![what];
                Probe::Answered(ANSWERED_BACKOFF)
            }
            None => Probe::NotYet(self.knock.pause()),
        })
    }

    /// One run of the `cmd:` command, as the daemon's user with its environment and directory,
    /// killed (with the process group it leads) if it outlasts [`CMD_TRY_LIMIT`] or the wait.
    fn cmd_ready(&mut self, deadline: Instant, process: &Process) -> Result<Probe> {
        use std::os::unix::process::ExitStatusExt;
        use std::process::{Command, Stdio};
        let How::Cmd { command, run } = &self.how else {
            return Ok(Probe::Ready);
        };
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(run) = run {
            cmd.env_clear().envs(&run.env);
        }
        // Its own session, the daemon's cgroup, fds 0-2 only, and the daemon's user with a
        // session keyring of its own: never root's terminal, fds or keys; the daemon's
        // directory entered as that user.
        crate::daemonize::isolate_helper(
            &mut cmd,
            run.as_ref().and_then(|r| r.creds.as_ref()),
            run.as_ref()
                .and_then(|r| r.cgroup_procs.as_ref())
                .map(|f| f.as_fd()),
            run.as_ref().map(|r| r.chdir.as_path()),
        )
        .context("cannot keep the daemon's cgroup for the readiness command")?;
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot run the readiness command '{command}'"))?;
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let watched = Pid::new(pid.as_raw())
            .ok()
            .and_then(|p| Process::open(p).ok());
        let began = Instant::now();
        let limit = (began + CMD_TRY_LIMIT).min(deadline);
        let ended = loop {
            if let Some(status) = child
                .try_wait()
                .context("cannot wait for the readiness command")?
            {
                break Some(status);
            }
            let left = limit.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break None;
            }
            let cut = match watched.as_ref().and_then(Process::pidfd) {
                Some(fd) => self.cut_short(process, fd, left),
                None => {
                    let pause = left.min(Duration::from_millis(5));
                    match self.wake_fds().next() {
                        Some(fd) => self.cut_short(process, fd, pause),
                        None => process.wait_exit(pause).unwrap_or(false),
                    }
                }
            };
            if cut {
                if let Some(status) = child.try_wait().ok().flatten() {
                    break Some(status);
                }
                let _ = nix::sys::signal::killpg(pid, Signal::SIGKILL);
                let _ = child.wait();
                return Ok(Probe::NotYet(PROBE_INTERVAL));
            }
        };
        let what = match ended {
            Some(status) if status.success() => return Ok(Probe::Ready),
            Some(status) => match (status.code(), status.signal()) {
                (Some(code), _) => format!("its last try, which exited with code {code}"),
                (_, Some(sig)) => format!("its last try, which was killed by signal {sig}"),
                _ => "its last try, which failed".into(),
            },
            None => {
                let _ = nix::sys::signal::killpg(pid, Signal::SIGKILL);
                let _ = child.wait();
                if limit < began + CMD_TRY_LIMIT && !self.ignored.is_empty() {
                    // Cut by the deadline: the last whole try says more.
                    return Ok(Probe::Answered(CMD_BACKOFF));
                }
                let took = Duration::from_millis(began.elapsed().as_millis() as u64);
                format!("its last try, killed after {}", format_duration(took))
            }
        };
        self.ignored = vec![what];
        Ok(Probe::Answered(CMD_BACKOFF))
    }

    /// Whether `tcp:` holds now: a connection succeeds and, for an address of this machine, the
    /// socket listening there belongs to one of the daemon's processes (an old server still on
    /// the port does not count, SPEC §2.1). A listener of someone else is noted for the timeout
    /// message; the second value tells that one was seen (the next probe then waits longer, as
    /// each costs a scan of `/proc`).
    fn tcp_ready(&mut self, deadline: Instant, process: &Process) -> (bool, bool) {
        self.knock.set_up_events(&mut self.keeper);
        let How::Tcp(addrs) = &self.how else {
            return (false, false);
        };
        let mut foreign = false;
        for addr in addrs {
            if !self.knock.connect_to(*addr) {
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let limit = left.clamp(Duration::from_millis(1), Duration::from_secs(1));
            // Connect and close at once: nothing is sent. To a loopback address a
            // plain connect is refused or accepted at once, in a third of the system calls.
            let connected = match addr.ip().is_loopback() {
                true => TcpStream::connect(addr),
                false => TcpStream::connect_timeout(addr, limit),
            };
            if connected.is_err() {
                continue;
            }
            let Some(listener) = foreign_listener(process, addr) else {
                return (true, false);
            };
            foreign = true;
            if self.ignored.is_empty() {
                self.ignored.push(listener.describe());
            }
        }
        (false, foreign)
    }

    /// The addresses of this machine a `tcp:` or `http:` check connects to (none for another
    /// kind, or a remote host): what another daemon's readiness on the same port would share.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        let addrs = match &self.how {
            How::Tcp(addrs) | How::Http { addrs, .. } => addrs,
            _ => return Vec::new(),
        };
        addrs
            .iter()
            .filter(|addr| sockets::is_local(addr.ip()))
            .copied()
            .collect()
    }

    /// With `tcp:` or `http:` on an address of this machine, who already listens on the port,
    /// before anything starts: `Some` names the holder (SPEC §2.1 preflight). For `http:` too:
    /// that server's answer would pass for the new program's, which may never bind the port.
    /// A listener held only by `own`, the processes of the very daemon about to be (re)started
    /// (`up` restarting an edited entry: its `stop` frees the port first), does not count.
    pub fn port_in_use(&self, own: &[i32]) -> Option<PortInUse> {
        self.local_addrs().into_iter().find_map(|addr| {
            // A connection refused at once: nobody listens where one to `addr` would go, so
            // the scan of `/proc/net/tcp` (which walks the kernel's whole TCP hash table, a
            // few milliseconds of CPU) has nothing to find. Anything else (accepted, or no
            // answer in time) is looked into.
            let refused = TcpStream::connect_timeout(&addr, Duration::from_millis(100))
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused);
            if refused {
                return None;
            }
            let inodes = sockets::listening_on(addr);
            if inodes.is_empty() {
                return None;
            }
            let found = sockets::holders(&inodes, session::all_pids());
            let mut strangers = found.pids.iter().filter(|pid| !own.contains(pid));
            match strangers.next() {
                Some(&pid) => Some(PortInUse {
                    port: addr.port(),
                    holder: Some((pid, sockets::comm(pid))),
                }),
                // Held by the daemon itself, and by nobody else rdaemon can see.
                None if !found.pids.is_empty() => None,
                None => Some(PortInUse {
                    port: addr.port(),
                    holder: None,
                }),
            }
        })
    }

    /// Whether a TCP or file condition holds now. A connection attempt gives up at the deadline
    /// (at most one second per attempt).
    fn holds(&self, deadline: Instant) -> bool {
        match &self.how {
            How::Tcp(addrs) => addrs.iter().any(|addr| {
                let left = deadline.saturating_duration_since(Instant::now());
                let limit = left.clamp(Duration::from_millis(1), Duration::from_secs(1));
                // Connect and close at once: nothing is sent.
                TcpStream::connect_timeout(addr, limit).is_ok()
            }),
            // Only a file of root's, rdaemon's user's or the daemon's user's: anyone may
            // create one in a sticky directory such as /tmp.
            How::File { path, before, .. } => FileId::of(path).is_some_and(|now| {
                before.is_none_or(|b| b != now) && file_owner_counts(now.uid, self.daemon_uid)
            }),
            _ => false,
        }
    }

    /// `start`'s wait for `READY=1` (with `timeout`, `--ready-timeout`), which the program may
    /// extend (`EXTEND_TIMEOUT_USEC=`) up to [`EXTEND_CEILING`] times `timeout` in all.
    fn wait_notify(
        &mut self,
        process: &Process,
        timeout: Duration,
        spinner: &mut Spinner,
    ) -> Result<Outcome> {
        let How::Notify(sock) = &self.how else {
            unreachable!("wait_notify without a notify socket")
        };
        let started = Instant::now();
        let mut deadline = started + timeout;
        // However often and however much the program asks: the daemon's user decides what it
        // sends, and root's `start`, or a `resurrect` with other daemons after this one, must
        // not wait on it for ever (helper-111: one EXTEND_TIMEOUT_USEC=2^64-1 did that).
        let ceiling = started
            .checked_add(timeout.saturating_mul(EXTEND_CEILING))
            .unwrap_or(deadline);
        let mut fallback = FIRST_INTERVAL;
        loop {
            let mut ready = false;
            while let Some(message) =
                sock.receive(process.pid(), self.program_uid, &mut self.ignored)?
            {
                self.notify_heard = true;
                let notice = parse_notice(&message);
                if notice.status.is_some() {
                    self.status = notice.status;
                }
                if notice.main_pid.is_some() {
                    self.main_pid = notice.main_pid;
                }
                if let Some(n) = notice.errno {
                    return Ok(Outcome::Failed(format!(
                        "it reported failure with ERRNO={n} ({})",
                        Errno::from_raw(n).desc()
                    )));
                }
                if let Some(more) = notice.extend {
                    let asked = Instant::now().checked_add(more).unwrap_or(ceiling);
                    deadline = deadline.max(asked.min(ceiling));
                }
                ready |= notice.ready;
            }
            if let Some(sig) = take_caught(&mut self.caught, &mut self.interrupt) {
                return Ok(Outcome::Interrupted(sig));
            }
            if self.ended(process) {
                return Ok(Outcome::Exited);
            }
            if ready {
                return Ok(self.answer_barriers(process)?.unwrap_or(Outcome::Ready));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Outcome::TimedOut(deadline - started));
            }
            let slice = spinner.slice(left);
            let mut fds = vec![sock.fd.as_fd()];
            fds.extend(self.wake_fds());
            match process.pidfd() {
                Some(pidfd) => {
                    fds.push(pidfd);
                    wait_readable(&fds, slice)?
                }
                None => {
                    // Without a pidfd, exit is only seen by looking: look often at first.
                    wait_readable(&fds, slice.min(fallback))?;
                    fallback = (fallback * 3 / 2).min(MAX_INTERVAL);
                }
            }
            spinner.tick();
        }
    }
}

/// How long `start` reads the notify socket on after `READY=1` while a `systemd-notify` of the
/// daemon's runs ([`Check::answer_barriers`]); it gives up its own wait after 5 s.
const BARRIER_WAIT: Duration = Duration::from_secs(1);

impl Check {
    /// `systemd-notify --ready` sends `READY=1`, then `BARRIER=1` with a pipe, and fails
    /// ("Failed to invoke barrier", exit 1: a `set -e` script dies) unless the receiver gets it
    /// and closes the pipe. In exec mode the socket goes once `start` returns, which it did
    /// right after `READY=1`, often before the barrier came (user trial, 2026-12-03: 5 starts
    /// in 15). So while a process of the daemon's named `systemd-notify` runs, at most
    /// [`BARRIER_WAIT`], the socket is read on; [`NotifySocket::receive`] closes every
    /// descriptor a message brings, which answers the barrier, and the helper then exits. A
    /// `STATUS=` sent meanwhile is kept. A daemon without one pays one walk of its processes.
    fn answer_barriers(&mut self, process: &Process) -> Result<Option<Outcome>> {
        // With a respawn monitor the socket is the monitor's for life, and it answers what
        // comes once `start` has returned: read here, its other messages (`MAINPID=`,
        // `RELOADING=1`) would be lost to it (helper-95's review).
        if self.report.is_some() {
            return Ok(None);
        }
        let How::Notify(sock) = &self.how else {
            return Ok(None);
        };
        let until = Instant::now() + BARRIER_WAIT;
        // The caller has just drained the socket and looked for a signal and the program's
        // end: the first look is for notifiers, which is all a daemon without one pays.
        loop {
            let notifiers = notifiers_of(process.pid().get());
            let left = until.saturating_duration_since(Instant::now());
            if notifiers.is_empty() || left.is_zero() {
                return Ok(None);
            }
            // Woken by a message, a helper's exit, the program's, or a signal; every few
            // milliseconds for a process without a pidfd.
            let mut fds = vec![sock.fd.as_fd()];
            fds.extend(notifiers.iter().filter_map(Process::pidfd));
            fds.extend(process.pidfd());
            fds.extend(self.wake_fds());
            let blind = process.pidfd().is_none() || notifiers.iter().any(|p| p.pidfd().is_none());
            let slice = match blind {
                true => left.min(Duration::from_millis(2)),
                false => left,
            };
            wait_readable(&fds, slice)?;
            while let Some(message) =
                sock.receive(process.pid(), self.program_uid, &mut self.ignored)?
            {
                if let Some(status) = parse_notice(&message).status {
                    self.status = Some(status);
                }
            }
            // Still a wait of `start`'s: Ctrl-C ends it as any other, and a program that
            // ended meanwhile is not "started" (helper-95's review).
            if let Some(sig) = take_caught(&mut self.caught, &mut self.interrupt) {
                return Ok(Some(Outcome::Interrupted(sig)));
            }
            if self.ended(process) {
                return Ok(Some(Outcome::Exited));
            }
        }
    }
}

/// The processes named `systemd-notify` beneath `root`, held by pidfd, found by following the
/// kernel's lists of children (at most [`NOTIFIER_WALK`] processes: a daemon of thousands
/// pays no more). No identity checks, as a sweep makes: one taken for a notifier by mistake
/// costs at most [`BARRIER_WAIT`], and nothing is signalled. A daemon with no children pays
/// the listing of its own threads' lists, a few system calls after `READY=1`.
fn notifiers_of(root: i32) -> Vec<Process> {
    let mut todo = vec![root];
    let mut seen = 0;
    let mut found = Vec::new();
    'walk: while let Some(parent) = todo.pop() {
        for child in session::children_of(parent) {
            seen += 1;
            if seen > NOTIFIER_WALK {
                break 'walk;
            }
            if sockets::comm(child) == "systemd-notify" {
                if let Some(process) = Pid::new(child).ok().and_then(|p| Process::open(p).ok()) {
                    found.push(process);
                }
            }
            todo.push(child);
        }
    }
    found.retain(|p| !p.has_exited());
    found
}

/// How many of a daemon's processes [`notifiers_of`] looks at, at most.
const NOTIFIER_WALK: usize = 256;

/// Sockets listening where a connection went that are not the daemon's (see
/// [`foreign_listener`]).
#[derive(Debug)]
pub(crate) struct ForeignListener {
    addr: SocketAddr,
    /// Their inodes: none when no listener could be seen (it went away meanwhile, or sits in
    /// another network namespace behind a redirect).
    inodes: Vec<u64>,
}

impl ForeignListener {
    /// `a listener on 127.0.0.1:8080 that is held by pid 4711 (python3), not the daemon's`.
    /// Looks among every process's fds for the holder: milliseconds, not for every probe.
    pub(crate) fn describe(&self) -> String {
        let holder = describe_holder(&sockets::holders(&self.inodes, session::all_pids()));
        format!(
            "a listener on {} that is {holder}, not the daemon's",
            self.addr
        )
    }

    /// Whether `text` is what [`ForeignListener::describe`] said of a listener on this address.
    fn is_described_by(&self, text: &str) -> bool {
        text.strip_prefix("a listener on ")
            .and_then(|rest| rest.strip_prefix(self.addr.to_string().as_str()))
            .is_some_and(|rest| rest.starts_with(" that is "))
    }
}

/// Once a connection to `addr` succeeded: `None` when the socket listening there belongs to one
/// of the daemon's processes (the daemon `process` itself, the members of its session, its
/// descendants: [`session::daemon_processes`]), or when `addr` is not of this machine (whose
/// sockets cannot be seen from here: a connection suffices); otherwise the listener, which is
/// someone else's and whose answer must not count (SPEC §2.1). The daemon's own fds are looked
/// at first ([`daemon_listens`], microseconds); `/proc/net/tcp{,6}` and the fds of the daemon's
/// processes are read only when that finds nothing. `tcp:` and `http:` readiness and the
/// respawn monitor's `--health` checks share it.
pub(crate) fn foreign_listener(process: &Process, addr: &SocketAddr) -> Option<ForeignListener> {
    // A connection to `0.0.0.0` or `[::]` reaches the loopback address: that is whose listener
    // must be the daemon's (review, 2026-12-02, third: an unspecified target matched every
    // listener on the port, so any of the daemon's vouched for a stranger's on 127.0.0.1).
    let reached = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(std::net::Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => *addr,
    };
    let addr = &reached;
    if !sockets::is_local(addr.ip())
        || daemon_listens(process, addr)
        || a_child_listens(process, addr)
    {
        return None;
    }
    let inodes = sockets::listening_on(*addr);
    let ours = sockets::holders(&inodes, session::daemon_processes(process.pid()));
    match ours.pids.is_empty() {
        true => Some(ForeignListener {
            addr: *addr,
            inodes,
        }),
        false => None,
    }
}

/// [`daemon_listens`] for the children of `process`: a respawn monitor's program (the monitor
/// itself holds no listener), a server a shell started. Each is pinned by a pidfd and counts
/// only if it is still `process`'s child once pinned, and `process` still runs: a pid reused
/// meanwhile is never looked at. Microseconds, where the full check scans `/proc`.
fn a_child_listens(process: &Process, addr: &SocketAddr) -> bool {
    let parent = process.pid().get();
    crate::session::children_of(parent).into_iter().any(|pid| {
        let Some(child) = Pid::new(pid).ok().and_then(|p| Process::open(p).ok()) else {
            return false;
        };
        let still = process::stat(child.pid())
            .ok()
            .flatten()
            .is_some_and(|s| s.is_alive() && s.ppid == parent);
        still && !process.has_exited() && daemon_listens(&child, addr)
    })
}

/// Whether the daemon process itself holds a socket listening where `addr` connects: its socket
/// fds, duplicated with `pidfd_getfd`, asked for `SO_ACCEPTCONN` and their address. The usual
/// case, answered in microseconds, where reading `/proc/net/tcp` walks the kernel's whole TCP
/// hash table (milliseconds on a large machine). Only a socket in rdaemon's own network
/// namespace counts ([`process::socket_in_own_netns`]). `false` when it cannot tell (no pidfd, an
/// older kernel, no right to look, a listener in another of the daemon's processes): the
/// caller then does the full check.
///
/// The duplicates are closed with [`process::close_bounded`]: they are the daemon's sockets,
/// and the daemon's user chooses how their last close goes. A process of the daemon that ends
/// (or closes its copy) while rdaemon holds one leaves rdaemon the last close, and a TCP socket
/// lingering over unsent data (`SO_LINGER`, a peer that reads nothing) then held it there as
/// long as the linger said (helper-125's attack, 2026-12-03: a child that exited while `start`
/// looked at its sockets held `start` past its `--ready-timeout`, with the name's lock, until
/// `stop` cancelled it; a monitor's `--health tcp:` check, until a signal came).
fn daemon_listens(process: &Process, addr: &SocketAddr) -> bool {
    let Some(pidfd) = process.pidfd() else {
        return false;
    };
    let Ok(entries) = std::fs::read_dir(format!("/proc/{}/fd", process.pid())) else {
        return false;
    };
    let mut taken = Vec::new();
    let found = entries.flatten().any(|e| {
        let is_socket = std::fs::read_link(e.path())
            .is_ok_and(|l| l.as_os_str().as_encoded_bytes().starts_with(b"socket:["));
        let Some(fd) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            return false;
        };
        if !is_socket {
            return false;
        }
        let Ok(dup) = process::pidfd_getfd(pidfd, fd) else {
            return false;
        };
        crate::fault::point("socket-dup");
        let listens = listens_at(&dup, addr);
        taken.push(dup);
        // A few at a time: held all to the end, the copies of a server's thousand sockets ran
        // rdaemon out of descriptors, and the listener among the last was missed
        // (helper-127's review).
        if taken.len() >= DUPS_HELD {
            process::close_bounded(std::mem::take(&mut taken));
        }
        listens
    });
    process::close_bounded(taken);
    found
}

/// How many copies of the daemon's sockets [`daemon_listens`] holds before it closes them.
const DUPS_HELD: usize = 32;

/// Whether `sock`, a duplicate of one of the daemon's sockets, listens where `addr` connects,
/// in rdaemon's own network namespace ([`daemon_listens`]).
fn listens_at(sock: &OwnedFd, addr: &SocketAddr) -> bool {
    if !nix::sys::socket::getsockopt(sock, sockopt::AcceptConn).unwrap_or(false) {
        return false;
    }
    // A listener in another network namespace (`unshare -n`) takes no connection made
    // here, whatever its address: another process's listener on the host does (a tester's
    // uid 1000 made a `--user nobody` daemon "started" that way). Unknown: not counted
    // here, and the caller's look at `/proc/net/tcp` (rdaemon's namespace) decides.
    if process::socket_in_own_netns(sock.as_fd()) != Some(true) {
        return false;
    }
    // `[::]` takes IPv4 connections only if it is not IPv6-only: else a stranger's IPv4
    // listener on the port takes them (review, 2026-12-02, second).
    let v6_only = nix::sys::socket::getsockopt(sock, sockopt::Ipv6V6Only).unwrap_or(false);
    let local =
        nix::sys::socket::getsockname::<nix::sys::socket::SockaddrStorage>(sock.as_raw_fd())
            .ok()
            .and_then(|a| match (a.as_sockaddr_in(), a.as_sockaddr_in6()) {
                (Some(v4), _) => Some(SocketAddr::V4((*v4).into())),
                (_, Some(v6)) => Some(SocketAddr::V6((*v6).into())),
                _ => None,
            });
    local.is_some_and(|local| {
        let ipv4 = match addr.ip() {
            IpAddr::V4(_) => true,
            IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some(),
        };
        local.port() == addr.port()
            && sockets::accepts(local.ip(), addr.ip())
            && !(v6_only && ipv4 && local.is_ipv6())
    })
}

/// Starts a `cat` that inherits a copy of `fds` (an inotify instance, TCP state events) and
/// reads its stdin, whose other end rdaemon holds: it ends when rdaemon closes that end, at the
/// latest when rdaemon exits. The last close of an inotify instance waits for the kernel's
/// fsnotify SRCU grace period (`fsnotify_destroy_group`), measured at 10 to 20 ms on a busy
/// machine, that of the events for an RCU grace period, and made by rdaemon it would delay the
/// moment `start` returns after readiness was seen by that much (bench/: `file:` and `log:`
/// overshoot). Made by the `cat`, it delays nobody. `None` when no `cat` could be started:
/// rdaemon then pays the wait itself.
fn outlive_exit(fds: &[BorrowedFd<'_>]) -> Option<std::process::Child> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    use std::process::{Command, Stdio};
    let inherit = |flag| {
        fds.iter()
            .try_for_each(|fd| fcntl(*fd, FcntlArg::F_SETFD(flag)).map(drop))
    };
    if inherit(FdFlag::empty()).is_err() {
        let _ = inherit(FdFlag::FD_CLOEXEC);
        return None;
    }
    let child = ["/bin/cat", "/usr/bin/cat"].iter().find_map(|cat| {
        Command::new(cat)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .current_dir("/")
            .spawn()
            .ok()
    });
    // Back to close-on-exec before anything else runs (rdaemon is single-threaded).
    let _ = inherit(FdFlag::FD_CLOEXEC);
    child
}

/// What one look at a probed condition found, and the pause before the next.
#[derive(Debug)]
enum Probe {
    /// The condition holds.
    Ready,
    /// Nothing yet: look again after this long.
    NotYet(Duration),
    /// Something answered without being ready: back off from the first pause to the second.
    Answered((Duration, Duration)),
}

/// `127.0.0.1:8080`, or `[::1]:8080, 127.0.0.1:8080` for several addresses.
fn addrs_text(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A port that is already listening before the daemon starts (see [`Check::port_in_use`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInUse {
    /// The port.
    pub port: u16,
    /// A process holding the listening socket, with its command name; `None` when none could be
    /// seen (another user's, without root).
    pub holder: Option<(i32, String)>,
}

/// `pid 4711 (python3)`, or `another process` when the holder is hidden.
fn describe_holder(found: &sockets::Holders) -> String {
    match found.pids.first() {
        Some(&pid) => format!("held by pid {pid} ({})", sockets::comm(pid)),
        None => "held by another process".into(),
    }
}

/// [`Check::interrupted`] on the two fields alone, for a caller that holds a borrow of another
/// field (the notify socket).
fn take_caught(caught: &mut Option<Signal>, interrupt: &mut Option<Interrupt>) -> Option<Signal> {
    if caught.is_none() {
        *caught = interrupt.as_mut().and_then(Interrupt::caught);
    }
    *caught
}

/// Blocks until one of `fds` is readable (or hung up) or `timeout` passes, to the microsecond
/// (`ppoll`: a probe interval of 4 ms is not stretched to 5 by rounding); which were, as bits
/// (bit i for `fds[i]`); all bits when a signal cut the wait short, so that the caller looks.
fn wait_any(fds: &[BorrowedFd<'_>], timeout: Duration) -> std::io::Result<u64> {
    let mut polled: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
        .collect();
    let timeout = nix::sys::time::TimeSpec::from_duration(timeout);
    match ppoll(&mut polled, Some(timeout), None) {
        Ok(0) => Ok(0),
        Ok(_) => Ok(polled
            .iter()
            .enumerate()
            .filter(|(_, p)| p.any().unwrap_or(true))
            .fold(0, |mask, (i, _)| mask | 1u64 << i.min(63))),
        Err(Errno::EINTR) => Ok(u64::MAX),
        Err(e) => Err(std::io::Error::other(
            anyhow::Error::new(e).context("cannot wait for the daemon"),
        )),
    }
}

/// Blocks until one of `fds` is readable or `timeout` passes.
fn wait_readable(fds: &[BorrowedFd<'_>], timeout: Duration) -> Result<()> {
    let mut polled: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
        .collect();
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    match poll(
        &mut polled,
        PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
    ) {
        Ok(_) | Err(Errno::EINTR) => Ok(()),
        Err(e) => Err(e).context("cannot wait for the daemon"),
    }
}

/// The datagram socket the daemon's `NOTIFY_SOCKET` names: a file in a directory only rdaemon's
/// user (root) can write ([`notify_dirs`]), close-on-exec, non-blocking, with `SO_PASSCRED`.
///
/// Not an abstract address: an abstract name has no owner and no permissions, is listed in
/// `/proc/net/unix`, and is free again once its last holder closes it (`start` in exec mode,
/// the monitor in respawn mode), while the daemon keeps its `NOTIFY_SOCKET` for life. Another
/// user then bound it and heard what the daemon went on sending (`STATUS=` text, and descriptors
/// of the daemon's private files by `FDSTORE=1`): security test of 2026-12-02. A file name in a
/// directory no one else can write can be bound by no one else, while the socket lives, after
/// it is closed (the file stays: a send is refused, `ECONNREFUSED`, and a bind finds the name
/// taken) and after the file is removed (a send finds nothing, `ENOENT`; creating the name
/// needs write permission on the directory). The file is removed when its holder drops it:
/// `start` in exec mode, the monitor in respawn mode; one a killed monitor left is removed by a
/// later bind ([`remove_dead_sockets`]).
#[derive(Debug)]
pub struct NotifySocket {
    fd: OwnedFd,
    address: String,
    /// The socket's file, removed when this is dropped (`None`: someone else removes it).
    file: Option<PathBuf>,
    /// Live senders found not to be the daemon's, in a session other than its own.
    strangers: std::cell::RefCell<Strangers>,
}

/// The last few live senders judged not to be the daemon's that are in a session other than
/// the daemon's: none of them can ever be its (no process joins another's session, nor comes
/// to descend from a process it did not descend from), so a message of theirs is dropped for
/// one read of `/proc/PID/stat`, not the walk of up to [`MAX_DEPTH`] parents that a flood from
/// deep down a chain of processes had rdaemon pay for each (helper-97's attack).
#[derive(Debug, Default)]
struct Strangers(std::collections::VecDeque<(i32, u64)>);

impl Strangers {
    /// How many are kept: a flood from more senders costs the walk again, once a sender.
    const KEPT: usize = 16;

    /// Whether `pid`, with the start time it has now, is a stranger already seen.
    fn known(&self, pid: i32) -> bool {
        if self.0.is_empty() {
            return false;
        }
        let Some(stat) = Pid::new(pid).ok().and_then(process::read_stat) else {
            return false;
        };
        self.0.contains(&(pid, stat.start_time))
    }

    /// Notes `pid`, just judged not the daemon's, if it is alive and in a session other than
    /// `daemon`'s.
    fn note(&mut self, pid: i32, daemon: Pid) {
        let Some(stat) = Pid::new(pid).ok().and_then(process::read_stat) else {
            return;
        };
        let Ok(its) = nix::unistd::getsid(Some(nix::unistd::Pid::from_raw(daemon.get()))) else {
            return;
        };
        if !stat.is_alive() || its.as_raw() == stat.session {
            return;
        }
        if self.0.len() == Self::KEPT {
            self.0.pop_front();
        }
        self.0.push_back((pid, stat.start_time));
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        if let Some(file) = &self.file {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// The longest path a unix socket address holds (`sun_path` is 108 bytes, with its final NUL).
const SUN_PATH_MAX: usize = 107;

/// A socket file in the notify directory older than this, on which no socket listens, is one a
/// killed monitor (or a killed `start`) left behind.
const DEAD_SOCKET_AGE: Duration = Duration::from_secs(60);

/// Where notify sockets go, in order of preference. As root, `/run/rdaemon/notify` whatever the
/// runtime directory: the daemon's `--user` must be able to reach the socket (search permission
/// on every directory of the path), and a `--dir` may be private (a 0700 directory) or too long
/// for a socket address; `/run` and `/run/rdaemon` are 0755 and root's, and the directory 0711
/// (searchable, not listable). Else, or if `/run/rdaemon` cannot be used, `RUNTIME/notify`;
/// for another user whose runtime directory is too long for a socket address,
/// `$XDG_RUNTIME_DIR/rdaemon/notify` after that.
pub fn notify_dirs(runtime: &Path) -> Vec<PathBuf> {
    let root = nix::unistd::geteuid().is_root();
    let xdg = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute() && !root)
        .map(|d| d.join("rdaemon/notify"));
    let system = root.then(|| PathBuf::from("/run/rdaemon/notify"));
    let mut dirs = Vec::new();
    for dir in [system, Some(runtime.join("notify")), xdg]
        .into_iter()
        .flatten()
    {
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs
}

/// Makes `dir` ready for notify sockets: created (0711) if missing, beneath a parent created as
/// a runtime directory is; refused unless it is a directory of rdaemon's user that no other
/// user can change, nor any directory above it ([`crate::fsx::Dir::is_protected`]).
fn prepare_notify_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    // Twice: an empty parent may be removed meanwhile (root's `/run/rdaemon`, by whoever
    // tidies it) before the directory is made in it.
    for tries_left in [1, 0] {
        if let Some(parent) = dir.parent() {
            crate::paths::create_dir(parent, 0o755)?;
        }
        match nix::unistd::mkdir(dir, nix::sys::stat::Mode::from_bits_truncate(0o711)) {
            Ok(()) | Err(Errno::EEXIST) => break,
            Err(Errno::ENOENT) if tries_left > 0 => {}
            Err(e) => return Err(e.into()),
        }
    }
    let opened = crate::fsx::Dir::open(dir)?;
    let st = std::fs::symlink_metadata(dir)?;
    if !opened.is_protected() || st.uid() != nix::unistd::geteuid().as_raw() {
        anyhow::bail!(
            "another user can change it or a directory above it (owner uid {}, mode {:03o})",
            st.uid(),
            st.mode() & 0o7777
        );
    }
    if st.mode() & 0o7777 != 0o711 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))?;
    }
    Ok(())
}

/// Removes the socket files in `dir` on which nothing listens any more (a connect is refused),
/// older than [`DEAD_SOCKET_AGE`] (so that a socket being bound right now is never taken for
/// one): what a killed monitor left. Only rdaemon's user can create files there, so removing
/// one frees nothing for anyone else.
fn remove_dead_sockets(dir: &Path) {
    use std::os::unix::fs::FileTypeExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        let old = meta
            .modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > DEAD_SOCKET_AGE);
        if !meta.file_type().is_socket() || !old {
            continue;
        }
        let refused = std::os::unix::net::UnixDatagram::unbound()
            .and_then(|s| s.connect(entry.path()))
            .is_err_and(|e| e.raw_os_error() == Some(Errno::ECONNREFUSED as i32));
        if refused {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The path of the `attempt`th socket of daemon `name` in `dir`: `NAME.PID.RANDOM`, without the
/// name where that would not fit in a socket address; `None` if even that does not.
fn notify_socket_path(dir: &Path, name: &Name, attempt: u32) -> Option<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let unique = format!("{}.{:x}", std::process::id(), nanos.wrapping_add(attempt));
    [format!("{name}.{unique}"), unique]
        .into_iter()
        .map(|file| dir.join(file))
        .find(|path| path.as_os_str().len() <= SUN_PATH_MAX && path.to_str().is_some())
}

impl NotifySocket {
    /// The socket `start` bound and passed on to the respawn monitor (`__monitor --notify-fd`),
    /// which hears the program for the rest of its life, and removes `file` (the socket's
    /// file, from its `NOTIFY_SOCKET`) when it is done.
    pub fn from_fd(fd: OwnedFd, file: Option<PathBuf>) -> NotifySocket {
        NotifySocket {
            fd,
            address: String::new(),
            file,
            strangers: Default::default(),
        }
    }

    /// The next queued message from the calling respawn monitor's own processes (its child and
    /// their descendants), as [`NotifySocket::receive`] hears the daemon's. The monitor's pid is
    /// only compared with senders', never signalled.
    pub fn receive_for_monitor(
        &self,
        program_uid: Option<u32>,
        ignored: &mut Vec<String>,
    ) -> Result<Option<Vec<u8>>> {
        self.receive(Pid::own_for_foreground(), program_uid, ignored)
    }

    /// The socket, for `poll`.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Binds a new socket for daemon `name` in the first of `dirs` ([`notify_dirs`]) that can
    /// be used and that the daemon's `--user`, `account`, can reach, writable by every user
    /// (mode 0666, as systemd's `/run/systemd/notify`): who may speak is decided by the
    /// sender's credentials, message by message (a daemon that changes its own user after
    /// start, or a helper run as another user, can still send).
    fn bind(name: &Name, dirs: Vec<PathBuf>, account: Option<&Account>) -> Result<NotifySocket> {
        use std::os::unix::fs::PermissionsExt;
        let fail = || format!("cannot create the notify socket for {name}");
        let fd = socket(
            AddressFamily::Unix,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            None,
        )
        .with_context(fail)?;
        setsockopt(&fd, sockopt::PassCred, &true).with_context(fail)?;
        // A pidfd of each sender, to judge one that is gone by the cgroup it was in (below);
        // kernels before 6.5 have none, and are judged as before.
        process::pass_pidfd(fd.as_fd());
        // Descriptors a message carries are not refused (SO_PASSRIGHTS): `systemd-notify
        // --ready` sends BARRIER=1 with a pipe, and waits until it is closed. They are closed
        // without waiting where that can be made so ([`Control::parse`]).
        let mut why = Vec::new();
        let mut too_long = false;
        let dir = dirs.into_iter().find(|dir| {
            let Some(path) = notify_socket_path(dir, name, 0) else {
                too_long = true;
                why.push(format!(
                    "'{}': too long for a socket address ({SUN_PATH_MAX} bytes)",
                    dir.display()
                ));
                return false;
            };
            if let Err(e) = prepare_notify_dir(dir) {
                why.push(format!("'{}': {}", dir.display(), crate::exit::render(&e)));
                return false;
            }
            // The program could not send to it: say so now, not after --ready-timeout.
            if let Some(barred) = crate::plan::barred_for(account, &path) {
                why.push(format!("'{}': {barred}", dir.display()));
                return false;
            }
            true
        });
        let Some(dir) = dir else {
            anyhow::bail!(
                "{}: no directory for it: {}{}",
                fail(),
                why.join("; "),
                match too_long {
                    true => " (use a shorter --dir or RDAEMON_RUNTIME_DIR)",
                    false => "",
                }
            );
        };
        remove_dead_sockets(&dir);
        let mut attempt = 0u32;
        loop {
            let path = notify_socket_path(&dir, name, attempt).with_context(fail)?;
            let addr = UnixAddr::new(&path).with_context(fail)?;
            match bind(fd.as_raw_fd(), &addr) {
                Ok(()) => {
                    let sock = NotifySocket {
                        fd,
                        address: path.to_string_lossy().into_owned(),
                        file: Some(path.clone()),
                        strangers: Default::default(),
                    };
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))
                        .with_context(|| format!("cannot open '{}' to all", path.display()))
                        .with_context(fail)?;
                    return Ok(sock);
                }
                Err(Errno::EADDRINUSE) if attempt < 16 => attempt += 1,
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("cannot bind '{}'", path.display()))
                        .with_context(fail)
                }
            }
        }
    }

    /// The next queued datagram sent by one of `daemon`'s processes, `None` when none is queued
    /// or when [`DROPPED_PER_CALL`] others were read first. Datagrams from anyone else (and
    /// oversized ones, or ones carrying file descriptors, which the kernel closes for us as
    /// there is no room for them) are dropped and noted in `ignored`.
    ///
    /// The socket is writable by every user, who may send as fast as they can: bounded so, a
    /// caller looks at its deadline, its signals and its program between calls, and a flood of
    /// others' messages cannot hold `start` (and the name's lock) past `--ready-timeout` and
    /// Ctrl-C, or a monitor away from its SIGTERM (helper-97's attack, 2026-12-03: a user's
    /// senders kept the 10-message queue full, and `start` ran 40 s of a 5 s timeout).
    fn receive(
        &self,
        daemon: Pid,
        program_uid: Option<u32>,
        ignored: &mut Vec<String>,
    ) -> Result<Option<Vec<u8>>> {
        for _ in 0..DROPPED_PER_CALL {
            let mut buf = vec![0u8; NOTIFY_MAX];
            // Room for the credentials, the sender's pidfd and as many descriptors as one
            // message can carry (SCM_MAX_FD, 253): a descriptor with no room left would be
            // closed by the kernel here, in rdaemon's own thread, where nothing could keep the
            // close from blocking. A message carrying any is dropped, and each of them closed
            // (`Control::parse`).
            let mut cmsg = nix::cmsg_space!(
                UnixCredentials,
                std::os::fd::RawFd,
                [std::os::fd::RawFd; SCM_MAX_FD]
            );
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(m) => m,
                Err(Errno::EAGAIN) => return Ok(None),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e).context("cannot read from the notify socket"),
            };
            let (bytes, flags) = (msg.bytes, msg.flags);
            // Read from the control buffer itself, also when the kernel cut it short
            // (MSG_CTRUNC, where nix shows nothing): every descriptor it installed is owned
            // here, and closed, whatever becomes of the message.
            let control = Control::parse(&cmsg);
            let sender = control
                .credentials
                .filter(|_| !flags.contains(MsgFlags::MSG_CTRUNC) && !control.had_fds);
            let pidfd = control.pidfd;
            let note = |why: String, ignored: &mut Vec<String>| {
                if ignored.len() < 8 {
                    ignored.push(why);
                }
            };
            if flags.contains(MsgFlags::MSG_TRUNC) {
                note(format!("a message longer than {NOTIFY_MAX} bytes"), ignored);
                continue;
            }
            let sent_by = Sender {
                pid: sender.map_or(0, |(pid, _)| pid),
                uid: sender.map_or(u32::MAX, |(_, uid)| uid),
                pidfd: pidfd.as_ref().map(|fd| fd.as_fd()),
            };
            let stranger = sender.is_some_and(|(pid, _)| self.strangers.borrow().known(pid));
            match sender {
                Some(_) if !stranger && belongs_to(daemon, &sent_by, program_uid) => {
                    return Ok(Some(buf[..bytes].to_vec()))
                }
                Some((pid, uid)) => {
                    if !stranger {
                        self.strangers.borrow_mut().note(pid, daemon);
                    }
                    note(
                        format!(
                            "a message from pid {pid} (uid {uid}), which is not one of its processes"
                        ),
                        ignored,
                    )
                }
                None => note(
                    "a message without sender credentials (or with file descriptors)".into(),
                    ignored,
                ),
            }
        }
        Ok(None)
    }
}

/// How many messages from others [`NotifySocket::receive`] drops before it lets its caller
/// look at the time: each may cost a walk of the sender's parents, up to [`MAX_DEPTH`] reads
/// (one read for a sender already known to be a stranger: [`Strangers`]).
const DROPPED_PER_CALL: usize = 32;

/// What the kernel attached to a received notify message.
#[derive(Default)]
struct Control {
    /// The sender's pid and real uid (`SCM_CREDENTIALS`).
    credentials: Option<(i32, u32)>,
    /// A pidfd of the sender (`SCM_PIDFD`).
    pidfd: Option<OwnedFd>,
    /// The sender attached file descriptors (`SCM_RIGHTS`; closed here).
    had_fds: bool,
}

impl Control {
    /// Walks the control messages in `buf` (zeroed before the `recvmsg`, so that a length of 0
    /// ends them) as `CMSG_FIRSTHDR`/`CMSG_NXTHDR` do: a header of `cmsg_len` (a `size_t`),
    /// `cmsg_level` and `cmsg_type`, the data, the next header aligned to a `size_t`. File
    /// descriptors a sender attached (`SCM_RIGHTS`, where room was left) are closed.
    fn parse(buf: &[u8]) -> Control {
        const WORD: usize = std::mem::size_of::<usize>();
        let header = std::mem::size_of::<nix::libc::cmsghdr>();
        let int_at = |at: usize| -> Option<i32> {
            Some(i32::from_ne_bytes(buf.get(at..at + 4)?.try_into().ok()?))
        };
        let mut control = Control::default();
        let mut at = 0;
        while let Some(len) = buf
            .get(at..at + WORD)
            .and_then(|b| b.try_into().ok())
            .map(usize::from_ne_bytes)
        {
            if len < header || at + len > buf.len() {
                break;
            }
            let (level, kind) = (int_at(at + WORD), int_at(at + WORD + 4));
            let data = at + header..at + len;
            // Whole descriptors only: a cut control message may end inside one.
            let fds = || {
                data.clone()
                    .step_by(4)
                    .filter(|i| i + 4 <= data.end)
                    .filter_map(&int_at)
            };
            match (level, kind) {
                (Some(nix::libc::SOL_SOCKET), Some(nix::libc::SCM_CREDENTIALS)) => {
                    control.credentials = int_at(data.start)
                        .zip(int_at(data.start + 4))
                        .map(|(pid, uid)| (pid, uid as u32));
                }
                (Some(nix::libc::SOL_SOCKET), Some(process::SCM_PIDFD)) => {
                    control.pidfd = fds().next().map(process::received_fd);
                }
                (Some(nix::libc::SOL_SOCKET), Some(nix::libc::SCM_RIGHTS)) => {
                    process::close_bounded(
                        fds()
                            .map(process::received_fd)
                            .map(without_linger)
                            .collect(),
                    );
                    control.had_fds = true;
                }
                _ => {}
            }
            at += len.div_ceil(WORD) * WORD;
        }
        control
    }
}

/// The most descriptors one message can carry (`SCM_MAX_FD`, `include/net/scm.h`).
const SCM_MAX_FD: usize = 253;

/// A descriptor a sender attached to a notify message, made to close without waiting where it
/// can: a socket's linger is turned off, so that a TCP socket with unsent data is reset at
/// once rather than held open for as long as its sender set (attack of 2026-12-02: `start`
/// hung past its --ready-timeout, a monitor stopped supervising). Any other kind is left as it
/// is (a pipe, which `systemd-notify`'s barrier wants closed); [`process::close_bounded`]
/// closes them all.
fn without_linger(fd: OwnedFd) -> OwnedFd {
    let abort = nix::libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    let _ = nix::sys::socket::setsockopt(&fd, sockopt::Linger, &abort);
    fd
}

/// The sender of a notify message, as the kernel attests it: its pid and real uid, and a pidfd
/// of it (`SO_PASSPIDFD`, Linux 6.5) that outlives it.
struct Sender<'a> {
    pid: i32,
    uid: u32,
    pidfd: Option<BorrowedFd<'a>>,
}

/// Whether `sender` is the daemon, in its process group (the daemon leads one, and while it is
/// unreaped its id cannot be reused), or one of its descendants.
///
/// A sender may be gone by the time its message is read: a short-lived helper such as
/// `systemd-notify`, reaped by the daemon's shell at once (systemd knows this race too). Its group
/// and parents cannot be checked any more. It is heard if it ran as the daemon's user, who could
/// act as the daemon in any case (or, under a respawn monitor with `--user`, as the program's
/// user, `program_uid`), and, where the kernel kept the cgroup it was in (its pidfd, Linux
/// 6.15), if that is the daemon's cgroup or one beneath it: another process of the user,
/// outside the daemon, is not heard even when it sends and exits at once. A live sender is always judged by group and
/// ancestry; one whose number went to another process meanwhile is taken for gone.
fn belongs_to(daemon: Pid, sender: &Sender<'_>, program_uid: Option<u32>) -> bool {
    if sender.pid == daemon.get() {
        return true;
    }
    let Ok(mut pid) = Pid::new(sender.pid) else {
        return false;
    };
    for depth in 0..MAX_DEPTH {
        // A sender whose pidfd says it has exited, while its number runs: the number is
        // another's now, which says nothing of the sender (helper-97's review).
        let reused = |stat: &process::ProcStat| {
            depth == 0 && stat.state != 'Z' && sender.pidfd.is_some_and(process::pidfd_exited)
        };
        let Some(stat) = process::read_stat(pid).filter(|stat| !reused(stat)) else {
            if depth != 0 {
                return false;
            }
            let uid = sender.uid;
            let user = process::real_uid(daemon) == Some(uid) || program_uid == Some(uid);
            let theirs = sender
                .pidfd
                .and_then(process::pidfd_facts)
                .and_then(|f| f.cgroup_id);
            let daemons = || {
                let daemon = Process::open(daemon).ok()?;
                process::pidfd_facts(daemon.pidfd()?)?.cgroup_id
            };
            // A helper the daemon moved into a cgroup of its own beneath the daemon's is the
            // daemon's too.
            return user
                && match theirs {
                    Some(theirs) => daemons().is_none_or(|its| {
                        its == theirs || crate::cgroup::is_beneath_cgroup_of(daemon.get(), theirs)
                    }),
                    None => true,
                };
        };
        if stat.pgrp == daemon.get() || stat.ppid == daemon.get() {
            return true;
        }
        match Pid::new(stat.ppid) {
            Ok(parent) => pid = parent,
            Err(_) => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> ReadySpec {
        ReadySpec::Tcp {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn a_health_check_of_another_kind_is_told_the_health_kinds() {
        let kinds = "use tcp:[HOST:]PORT, http:URL, cmd:COMMAND or file:PATH";
        for bad in ["bogus:1", "exec", "alive:1s", "log:up", "notify"] {
            assert_eq!(
                ReadySpec::parse_health(bad),
                Err(format!("invalid health check '{bad}': {kinds}")),
                "{bad}"
            );
        }
        // A health kind with a bad value says what is wrong with it.
        let err = ReadySpec::parse_health("tcp:0").unwrap_err();
        assert!(
            err.starts_with("invalid health check 'tcp:0': invalid port"),
            "{err}"
        );
        assert_eq!(
            ReadySpec::parse_health("cmd:true"),
            Ok(ReadySpec::Cmd("true".into()))
        );
    }

    #[test]
    fn parses_every_kind() {
        let ok = |s| ReadySpec::parse(s).unwrap();
        assert_eq!(ok("exec"), ReadySpec::Exec);
        assert_eq!(ok("notify"), ReadySpec::Notify);
        assert_eq!(
            ok("alive:500ms"),
            ReadySpec::Alive(Duration::from_millis(500))
        );
        assert_eq!(ok("alive:2"), ReadySpec::Alive(Duration::from_secs(2)));
        assert_eq!(ok("tcp:8080"), tcp("127.0.0.1", 8080));
        assert_eq!(ok("tcp:localhost:80"), tcp("localhost", 80));
        assert_eq!(ok("tcp:10.0.0.1:65535"), tcp("10.0.0.1", 65535));
        assert_eq!(ok("tcp:[::1]:8080"), tcp("::1", 8080));
        assert_eq!(
            ok("file:/run/x.ready"),
            ReadySpec::File("/run/x.ready".into())
        );
        assert_eq!(ok("file:rel/a:b"), ReadySpec::File("rel/a:b".into()));
        assert_eq!(
            ok("http:http://127.0.0.1:8080/health"),
            ReadySpec::Http("http://127.0.0.1:8080/health".into())
        );
        assert_eq!(
            ok("http:http://[::1]/"),
            ReadySpec::Http("http://[::1]/".into())
        );
        assert_eq!(
            ok("log:^Listening on \\d+$"),
            ReadySpec::Log("^Listening on \\d+$".into())
        );
        assert_eq!(ok("log:a:b"), ReadySpec::Log("a:b".into()));
        assert_eq!(
            ok("cmd:pg_isready -h /run/pg"),
            ReadySpec::Cmd("pg_isready -h /run/pg".into())
        );
        assert_eq!(ok("cmd:test -f a:b"), ReadySpec::Cmd("test -f a:b".into()));
    }

    #[test]
    fn log_regex_is_ascii_over_raw_bytes() {
        let re = log_regex(r"^listening on \d+$").unwrap();
        assert!(re.is_match(b"listening on 8080"));
        assert!(
            !re.is_match(b"listening on \xd9\xa3"),
            "an Arabic-Indic digit is no \\d"
        );
        assert!(log_regex("ready").unwrap().is_match(b"\xff\xfe ready"));
        assert!(log_regex("(?i)READY").unwrap().is_match(b"ready"));
        assert!(log_regex("prêt")
            .unwrap()
            .is_match("serveur prêt".as_bytes()));
    }

    #[test]
    fn new_kinds_say_what_is_wrong() {
        let err = |s| ReadySpec::parse(s).unwrap_err();
        assert!(err("http:https://x/").contains("https:// is not supported"));
        assert!(err("http:x:80").contains("must begin with http://"));
        assert_eq!(
            err("http://127.0.0.1:8080/"),
            "invalid readiness spec 'http://127.0.0.1:8080/': the kind comes first: \
             write http:http://127.0.0.1:8080/"
        );
        assert!(err("log:").contains("empty"));
        assert!(err("log:(").contains("invalid regular expression"));
        assert!(err("cmd: ").contains("the command is empty"));
    }

    #[test]
    fn rejects_malformed_specs() {
        for bad in [
            "",
            "EXEC",
            "exec:1",
            "notify:x",
            "alive",
            "alive:",
            "alive:soon",
            "tcp",
            "tcp:",
            "tcp:0",
            "tcp:65536",
            "tcp:http",
            "tcp:+80",
            "tcp::80",
            "tcp:::1:80",
            "tcp:[::1]",
            "tcp:[::1]80",
            "tcp:a b:80",
            "file:",
            "file",
            "http://x",
            "http:",
            "http:https://x/",
            "http:ftp://x/",
            "http:http://",
            "http:http://x:99999/",
            "http:http://::1/",
            "http:http://a b/",
            "log:",
            "log:(",
            "log:[z-a]",
            "log:a{99999999}",
            "cmd:",
            "cmd:   ",
            "cmd:a\0b",
            "HTTP:http://x/",
        ] {
            let err = ReadySpec::parse(bad).unwrap_err();
            assert!(err.starts_with("invalid readiness spec"), "{bad:?}: {err}");
        }
    }

    /// Regression (issue 8, found by the `ready` fuzz target): `tcp:[[]:1` was accepted with the
    /// host `[`, and its canonical form `tcp:[:1`, which the record keeps, was refused, so the
    /// record could not be read back.
    #[test]
    fn brackets_inside_a_tcp_host_are_refused() {
        for bad in [
            "tcp:[[]:1",
            "tcp:[[x]:80",
            "tcp:[a]b]:80",
            "tcp:a]b:80",
            "tcp:a[b:80",
        ] {
            let err = ReadySpec::parse(bad).unwrap_err();
            assert!(err.contains("invalid host"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn canonical_form_round_trips() {
        for s in [
            "exec",
            "notify",
            "alive:1s 500ms",
            "tcp:127.0.0.1:8080",
            "tcp:[::1]:22",
            "file:/x/y",
            "http:http://127.0.0.1:8080/x?y",
            "log:^ready$",
            "cmd:test -f /x",
        ] {
            let spec = ReadySpec::parse(s).unwrap();
            assert_eq!(spec.to_string(), s);
            assert_eq!(ReadySpec::parse(&spec.to_string()).unwrap(), spec);
        }
        assert_eq!(
            ReadySpec::parse("tcp:9000").unwrap().to_string(),
            "tcp:127.0.0.1:9000"
        );
        assert_eq!(
            tcp("::1", 80).describe(),
            "a TCP connection to [::1]:80",
            "describe names the address"
        );
    }

    #[test]
    fn notify_messages() {
        assert_eq!(
            parse_notice(b"READY=1\nSTATUS=Listening on 8080\nMAINPID=42"),
            Notice {
                ready: true,
                status: Some("Listening on 8080".into()),
                main_pid: Some(42),
                ..Notice::default()
            }
        );
        let n = parse_notice(b"RELOADING=1\nMONOTONIC_USEC=5\nWATCHDOG=1\nSTOPPING=1\nMAINPID=1");
        assert!(n.reloading && n.watchdog && n.stopping && !n.ready);
        assert_eq!(n.main_pid, None, "MAINPID=1 is no daemon's");
        let n = parse_notice(b"STATUS=a\nSTATUS=b\nEXTEND_TIMEOUT_USEC=2500000\n");
        assert_eq!(n.status.as_deref(), Some("b"));
        assert_eq!(n.extend, Some(Duration::from_millis(2500)));
        assert!(!n.ready);
        assert_eq!(parse_notice(b"ERRNO=13").errno, Some(13));
        for ignored in [
            &b"READY=0"[..],
            b"READY=1x",
            b"ready=1",
            b" READY=1",
            b"ERRNO=0",
            b"ERRNO=-5",
            b"ERRNO=x",
            b"EXTEND_TIMEOUT_USEC=-1",
            b"\xff\xfe",
            b"",
        ] {
            assert_eq!(parse_notice(ignored), Notice::default(), "{ignored:?}");
        }
        assert!(parse_notice(b"\xffjunk\nREADY=1").ready);
    }

    #[test]
    fn notify_socket_goes_where_the_user_can_reach_it_or_start_says_why_not() {
        use std::os::unix::fs::PermissionsExt;
        if !nix::unistd::geteuid().is_root() {
            return; // Only root can start a daemon as another user.
        }
        let base = tempfile::tempdir().unwrap();
        let private = base.path().join("private");
        let open = base.path().join("open");
        for (dir, mode) in [(&private, 0o700), (&open, 0o755)] {
            std::fs::create_dir(dir).unwrap();
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let name = Name::parse("unit").unwrap();
        let nobody = crate::account::resolve(Some("65534"), Some("65534"), 0).unwrap();
        let both = vec![private.join("notify"), open.join("notify")];
        // Root's own daemon may use the first; nobody's must go on to the one it can reach.
        let own = NotifySocket::bind(&name, both.clone(), None).unwrap();
        assert!(
            own.address.starts_with(&*private.to_string_lossy()),
            "{}",
            own.address
        );
        let theirs = NotifySocket::bind(&name, both, Some(&nobody)).unwrap();
        assert!(
            theirs.address.starts_with(&*open.to_string_lossy()),
            "{}",
            theirs.address
        );
        let Err(err) = NotifySocket::bind(&name, vec![private.join("notify")], Some(&nobody))
        else {
            panic!("a socket nobody cannot reach was bound");
        };
        let msg = crate::exit::render(&err);
        assert!(
            msg.contains("cannot create the notify socket for unit"),
            "{msg}"
        );
        assert!(
            msg.contains("(uid 65534) may not search the directory"),
            "{msg}"
        );
        assert!(msg.contains(&*private.to_string_lossy()), "{msg}");
        assert!(!msg.contains("shorter"), "{msg}");
    }

    #[test]
    fn notify_socket_is_a_file_in_a_protected_directory_and_hears_only_the_daemon() {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        use std::os::unix::net::UnixDatagram;
        let runtime = tempfile::tempdir().unwrap();
        let name = Name::parse("unit").unwrap();
        let check = Check::prepare(&ReadySpec::Notify, &name, runtime.path(), None).unwrap();
        let address = PathBuf::from(check.notify_socket().unwrap());
        let dir = address.parent().unwrap();
        assert_eq!(
            Some(dir),
            notify_dirs(runtime.path()).first().map(|d| d.as_path())
        );
        assert!(address
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("unit."));
        let meta = std::fs::symlink_metadata(&address).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.mode() & 0o777, 0o666);
        assert_eq!(std::fs::metadata(dir).unwrap().mode() & 0o7777, 0o711);
        let How::Notify(sock) = &check.how else {
            panic!("no socket")
        };
        let client = UnixDatagram::unbound().unwrap();
        client.send_to(b"READY=1", &address).unwrap();
        // The test process sends; it is neither the "daemon" (some other pid) nor related to it,
        // so the message must be refused.
        let daemon = Pid::new(std::process::id() as i32 + 1).unwrap();
        let mut ignored = Vec::new();
        assert_eq!(sock.receive(daemon, None, &mut ignored).unwrap(), None);
        assert_eq!(ignored.len(), 1, "{ignored:?}");
        assert!(ignored[0].contains(&format!("pid {}", std::process::id())));
        // Dropped, the check removes the file; the directory stays, for the next one.
        drop(check);
        assert!(std::fs::symlink_metadata(&address).is_err());
        assert!(dir.is_dir());
    }

    #[test]
    fn only_old_socket_files_nobody_listens_on_are_removed_as_dead() {
        use std::os::unix::net::UnixDatagram;
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name);
        let _live = UnixDatagram::bind(at("live")).unwrap();
        drop(UnixDatagram::bind(at("dead")).unwrap());
        drop(UnixDatagram::bind(at("new")).unwrap());
        std::fs::write(at("plain"), "").unwrap();
        let old = nix::sys::time::TimeSpec::new(1_000_000_000, 0);
        for name in ["live", "dead", "plain"] {
            nix::sys::stat::utimensat(
                nix::fcntl::AT_FDCWD,
                &at(name),
                &old,
                &old,
                nix::sys::stat::UtimensatFlags::NoFollowSymlink,
            )
            .unwrap();
        }
        remove_dead_sockets(dir.path());
        let left: Vec<bool> = ["live", "dead", "new", "plain"]
            .iter()
            .map(|n| at(n).symlink_metadata().is_ok())
            .collect();
        assert_eq!(left, [true, false, true, true]);
    }

    #[test]
    fn a_socket_path_too_long_for_an_address_leaves_out_the_name_then_gives_up() {
        let name = Name::parse(&"n".repeat(64)).unwrap();
        let short = notify_socket_path(Path::new("/run/rdaemon/notify"), &name, 0).unwrap();
        assert!(short.to_str().unwrap().contains(&"n".repeat(64)));
        let dir = PathBuf::from(format!("/{}", "d".repeat(70)));
        let nameless = notify_socket_path(&dir, &name, 0).unwrap();
        assert!(!nameless.to_str().unwrap().contains("nnn"), "{nameless:?}");
        assert!(nameless.as_os_str().len() <= SUN_PATH_MAX);
        assert_eq!(
            notify_socket_path(&PathBuf::from(format!("/{}", "d".repeat(100))), &name, 0),
            None
        );
    }

    #[test]
    fn a_sender_already_gone_is_judged_by_its_user() {
        /// Kills and reaps the child when dropped, also when the test fails.
        struct Guard(std::process::Child);
        impl Drop for Guard {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let daemon = Guard(
            std::process::Command::new("sleep")
                .arg("60")
                .spawn()
                .unwrap(),
        );
        let mut helper = std::process::Command::new("true").spawn().unwrap();
        let gone = helper.id() as i32;
        helper.wait().unwrap();
        let uid = nix::unistd::getuid().as_raw();
        let pid = Pid::new(daemon.0.id() as i32).unwrap();
        let by = |pid: i32, uid: u32| Sender {
            pid,
            uid,
            pidfd: None,
        };
        assert!(belongs_to(pid, &by(gone, uid), None));
        assert!(!belongs_to(pid, &by(gone, uid.wrapping_add(1)), None));
        // Under a respawn monitor with --user: the program's uid is heard too, no other.
        let other = uid.wrapping_add(1);
        assert!(belongs_to(pid, &by(gone, other), Some(other)));
        assert!(!belongs_to(
            pid,
            &by(gone, uid.wrapping_add(2)),
            Some(other)
        ));
        // A live stranger is refused whatever its user: this test process.
        assert!(!belongs_to(pid, &by(std::process::id() as i32, uid), None));
        assert!(belongs_to(pid, &by(pid.get(), other), None));
        // With the pidfd the message brought (Linux 6.15 keeps the cgroup of a reaped process),
        // a gone sender of the daemon's cgroup (here the test's own, the daemon's too) is heard.
        let mut helper = std::process::Command::new("true").spawn().unwrap();
        let gone = helper.id() as i32;
        let pidfd = Process::open(Pid::new(gone).unwrap()).unwrap();
        helper.wait().unwrap();
        let sender = Sender {
            pid: gone,
            uid,
            pidfd: pidfd.pidfd(),
        };
        assert!(belongs_to(pid, &sender, None));
        drop(daemon);
    }

    /// The control data as the kernel lays it out: a header (`cmsg_len`, level, type), the
    /// data, the next header at a `size_t` boundary; a zeroed rest ends it.
    #[test]
    fn control_data_is_read_header_by_header() {
        let word = std::mem::size_of::<usize>();
        let header = std::mem::size_of::<nix::libc::cmsghdr>();
        let mut buf = vec![0u8; 64];
        let len = header + 12;
        buf[..word].copy_from_slice(&len.to_ne_bytes());
        buf[word..word + 4].copy_from_slice(&nix::libc::SOL_SOCKET.to_ne_bytes());
        buf[word + 4..word + 8].copy_from_slice(&nix::libc::SCM_CREDENTIALS.to_ne_bytes());
        for (i, v) in [42i32, 1000, 1000].into_iter().enumerate() {
            buf[header + 4 * i..header + 4 * i + 4].copy_from_slice(&v.to_ne_bytes());
        }
        let control = Control::parse(&buf);
        assert_eq!(control.credentials, Some((42, 1000)));
        assert!(control.pidfd.is_none() && !control.had_fds);
        // A header whose length runs past the buffer, or nothing at all, says nothing.
        buf[..word].copy_from_slice(&100usize.to_ne_bytes());
        assert_eq!(Control::parse(&buf).credentials, None);
        assert_eq!(Control::parse(&[0u8; 64]).credentials, None);
    }

    #[test]
    fn a_stale_readiness_file_does_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ready");
        std::fs::write(&path, "old").unwrap();
        let name = Name::parse("unit").unwrap();
        let check =
            Check::prepare(&ReadySpec::File(path.clone()), &name, "".as_ref(), None).unwrap();
        let far = Instant::now() + Duration::from_secs(5);
        assert!(!check.holds(far), "a file that existed before counts");
        std::fs::remove_file(&path).unwrap();
        assert!(!check.holds(far));
        std::fs::write(&path, "renewed").unwrap();
        assert!(check.holds(far), "a recreated file does not count");
    }

    /// A listener of a process outside the daemon's session and descendants is someone else's,
    /// named with its holder; a remote address cannot be judged and passes.
    #[test]
    fn a_listener_outside_the_daemons_processes_is_foreign() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // A daemon in a session of its own (`setsid` execs `sleep` in the same pid): the test
        // process, holding the listener, is not one of its processes.
        let mut sleep = std::process::Command::new("setsid")
            .args(["sleep", "100"])
            .spawn()
            .unwrap();
        let pid = Pid::new(sleep.id() as i32).unwrap();
        let began = Instant::now();
        while process::stat(pid).ok().flatten().map(|s| s.session) != Some(pid.get()) {
            assert!(began.elapsed() < Duration::from_secs(10), "no session");
            std::thread::sleep(Duration::from_millis(2));
        }
        let daemon = Process::open(pid).unwrap();
        let found = foreign_listener(&daemon, &addr);
        let remote = foreign_listener(&daemon, &"192.0.2.1:80".parse().unwrap());
        let _ = sleep.kill();
        let _ = sleep.wait();
        let found = found.expect("the test's own listener counted as the daemon's");
        let text = found.describe();
        let me = std::process::id();
        assert!(
            text.starts_with(&format!("a listener on {addr} that is held by pid {me} ("))
                && text.ends_with("), not the daemon's"),
            "{text}"
        );
        assert!(found.is_described_by(&text));
        let elsewhere = ForeignListener {
            addr: "127.0.0.1:1".parse().unwrap(),
            inodes: Vec::new(),
        };
        assert_eq!(
            elsewhere.describe(),
            "a listener on 127.0.0.1:1 that is held by another process, not the daemon's"
        );
        assert!(!elsewhere.is_described_by(&text));
        assert!(remote.is_none(), "a remote address was judged");
    }

    #[test]
    fn unresolvable_tcp_host_fails_before_anything_starts() {
        let name = Name::parse("unit").unwrap();
        let err =
            Check::prepare(&tcp("no-such-host.invalid", 80), &name, "".as_ref(), None).unwrap_err();
        assert!(format!("{err:#}").contains("cannot resolve 'no-such-host.invalid'"));
    }
}

/// Property tests (issue 8): every spec's canonical form (what the record keeps) parses back to
/// it, and no text or notify datagram makes a parser panic.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn spec() -> impl Strategy<Value = ReadySpec> {
        prop_oneof![
            Just(ReadySpec::Exec),
            Just(ReadySpec::Notify),
            (0..=604_800u64 * 52, 0u32..1_000_000_000).prop_map(|(secs, nanos)| {
                let d = Duration::new(secs, nanos).min(Duration::from_secs(604_800 * 52));
                ReadySpec::Alive(d)
            }),
            ("[a-z0-9.-]{1,20}|[0-9a-f:]{2,20}", 1..=u16::MAX)
                .prop_map(|(host, port)| ReadySpec::Tcp { host, port }),
            "[^\0]{1,30}".prop_map(|p| ReadySpec::File(PathBuf::from(p))),
            (
                "[a-z0-9.-]{1,20}",
                prop::option::of(1..=u16::MAX),
                "(/[!-~]{0,12})?"
            )
                .prop_map(|(host, port, path)| {
                    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                    ReadySpec::Http(format!("http://{host}{port}{path}"))
                }),
            "[a-z ^$.:]{1,20}".prop_map(ReadySpec::Log),
            "[a-z][ -~]{0,20}".prop_map(ReadySpec::Cmd),
        ]
    }

    proptest! {
        #[test]
        fn ready_spec_round_trips(spec in spec()) {
            prop_assert_eq!(ReadySpec::parse(&spec.to_string()), Ok(spec));
        }

        #[test]
        fn ready_spec_parse_never_panics(
            s in prop_oneof![
                any::<String>(),
                "(exec|notify|alive|tcp|file|http|log|cmd)(:[ -~]{0,16}){0,2}",
                "http:https?://[ -~]{0,20}",
                "tcp:\\[?[0-9a-z:\\[\\]]{0,10}\\]?(:[0-9]{0,6})?",
            ]
        ) {
            if let Ok(spec) = ReadySpec::parse(&s) {
                prop_assert_eq!(ReadySpec::parse(&spec.to_string()), Ok(spec.clone()));
                let _ = spec.describe();
            }
        }

        #[test]
        fn notice_parse_never_panics(
            msg in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..256),
                "((READY|STATUS|ERRNO|EXTEND_TIMEOUT_USEC|MAINPID)=[ -~]{0,12}\n?){0,4}"
                    .prop_map(String::into_bytes),
            ]
        ) {
            let notice = parse_notice(&msg);
            let ready_line = msg.split(|b| *b == b'\n').any(|l| l == b"READY=1");
            prop_assert_eq!(notice.ready, ready_line);
            prop_assert!(notice.errno.is_none_or(|n| n > 0));
        }
    }
}
