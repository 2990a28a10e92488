//! cgroup v2 building blocks (SPEC §3.1): find the cgroup2 mount, decide whether `--cgroup auto`
//! may use it, and manage one daemon's cgroup `rdaemon/NAME` beneath it: create, move a
//! process in, kill everything in it (`cgroup.kill`, or signals to every pid of `cgroup.procs`
//! until it is empty), wait for `populated 0` in `cgroup.events` (inotify, no sleep loop),
//! remove it, and set `memory.max` / `pids.max`.
//!
//! Where: the cgroup2 mount comes from `/proc/self/mountinfo` (file system type `cgroup2`):
//! `/sys/fs/cgroup` on a unified host, `/sys/fs/cgroup/unified` on a hybrid one. When systemd
//! manages the tree (`/run/systemd/system` exists, as `sd_booted()` checks), systemd's
//! CGROUP_DELEGATION rules apply: outside a subtree delegated to it, a program must not create
//! cgroups or write attributes. rdaemon then uses cgroups only when its own cgroup (or an
//! ancestor up to the mount) carries systemd's delegation mark, the `trusted.delegate` (system
//! manager) or `user.delegate` (user manager) extended attribute set to `1`, and then creates
//! `rdaemon/NAME` beneath its own cgroup; otherwise `auto` is off. Elsewhere (no systemd, a
//! container runtime that gave us the tree) it uses the mount's root.
//!
//! `start` creates the cgroup and moves the daemon in before its exec; `stop` empties and
//! removes it (so do `forget` and a respawn monitor that ends on its own, once it is empty);
//! `status` reads it.
//!
//! Must not: write anything outside `rdaemon/` beneath the chosen parent, except enabling a
//! controller in the `cgroup.subtree_control` of the `rdaemon` cgroup it owns, and a respawn
//! monitor's own pid into the parent's `cgroup.procs` as it leaves its ended daemon's cgroup.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;

use crate::process::{self, Pid, Process};

/// How long what `cgroup.kill` killed has to leave before what is still listed is killed by
/// pid ([`Cgroup::kill`]): a process torn down leaves within milliseconds.
const KILL_SETTLE: Duration = Duration::from_millis(100);

/// How many times [`Cgroup::kill`] SIGKILLs by pidfd what `cgroup.kill` left, and writes it
/// again.
const KILL_ROUNDS: usize = 3;

/// The cgroup2 mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted.
    pub path: PathBuf,
    /// The cgroup path of the mount's root (`/` unless a cgroup namespace or a bind mount
    /// shows a subtree).
    pub root: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// The first `cgroup2` mount in the text of `/proc/self/mountinfo`: `ID PARENT MAJ:MIN ROOT
/// MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS`, with spaces and other
/// special bytes in paths escaped as octal (`\040`).
pub fn parse_mountinfo(text: &str) -> Option<Mount> {
    text.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let fields: Vec<&str> = left.split_whitespace().collect();
        let options = fields.get(5)?;
        Some(Mount {
            root: unescape(fields.get(3)?),
            path: PathBuf::from(unescape(fields.get(4)?)),
            read_only: options.split(',').any(|o| o == "ro"),
        })
    })
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                out.push(
                    d.iter()
                        .fold(0u8, |acc, b| acc.wrapping_mul(8) + (b - b'0')),
                );
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup2 mount of this system, from `/proc/self/mountinfo`; `None` without one.
pub fn find_mount() -> io::Result<Option<Mount>> {
    Ok(parse_mountinfo(&process::read_text(
        "/proc/self/mountinfo",
    )?))
}

/// The v2 cgroup path (`0::/PATH`) in the text of `/proc/PID/cgroup`.
pub fn parse_own_cgroup(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_owned)
}

/// Whether the cgroup whose id is `id` (the inode of its directory) lies beneath the v2
/// cgroup of live process `pid`: a sub-cgroup the daemon made and moved a helper into. A
/// cgroup removed since cannot be found, and is not.
pub fn is_beneath_cgroup_of(pid: i32, id: u64) -> bool {
    use std::os::unix::fs::MetadataExt;
    let found = || -> Option<bool> {
        let mount = find_mount().ok()??;
        let own = parse_own_cgroup(&process::read_text(format!("/proc/{pid}/cgroup")).ok()?)?;
        let inside = own.strip_prefix(mount.root.trim_end_matches('/'))?;
        let dir = mount.path.join(inside.trim_start_matches('/'));
        Some(
            subtree(&dir)
                .iter()
                .any(|d| fs::metadata(d).is_ok_and(|m| m.ino() == id)),
        )
    };
    found().unwrap_or(false)
}

/// How many cgroups beneath a daemon's [`subtree`] looks at.
const SUBTREE_LIMIT: usize = 1024;

/// The cgroups beneath `dir` (a daemon running as root may make its own and move processes
/// into them: they are the daemon's too), each after the ones beneath it, at most
/// [`SUBTREE_LIMIT`]. cgroupfs has no symlinks; a directory is a cgroup. A directory's link
/// count is 2 and its number of subdirectories (kernfs), so one without any (nearly every
/// daemon's) costs a `stat`, not a listing: `stop` looks twice.
fn subtree(dir: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let mut found = Vec::new();
    let mut next = vec![dir.to_owned()];
    while let Some(dir) = next.pop() {
        if fs::metadata(&dir).is_ok_and(|m| m.nlink() <= 2) {
            continue;
        }
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if found.len() >= SUBTREE_LIMIT {
                break;
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                found.push(entry.path());
                next.push(entry.path());
            }
        }
    }
    // Found parents first: reversed, each comes after its descendants (removal order).
    found.reverse();
    found
}

/// What `--cgroup auto` decides from.
#[derive(Debug, Clone)]
pub struct Host {
    /// rdaemon runs as root.
    pub is_root: bool,
    /// The cgroup2 mount, if any.
    pub mount: Option<Mount>,
    /// rdaemon's own v2 cgroup path (`/proc/self/cgroup`).
    pub own: Option<String>,
    /// systemd manages the tree (`/run/systemd/system` exists).
    pub systemd: bool,
}

impl Host {
    /// This system, as rdaemon runs on it.
    pub fn detect(is_root: bool) -> io::Result<Host> {
        Ok(Host {
            is_root,
            mount: find_mount()?,
            own: process::read_text("/proc/self/cgroup")
                .ok()
                .as_deref()
                .and_then(parse_own_cgroup),
            systemd: Path::new("/run/systemd/system").is_dir(),
        })
    }
}

/// Where rdaemon may create `rdaemon/NAME`, or why it may not (what `auto` falls back on
/// silently and `on` reports, exit 1). `delegated` says whether a cgroup directory carries
/// systemd's delegation mark ([`is_delegated`]).
pub fn decide(host: &Host, delegated: impl Fn(&Path) -> bool) -> Result<PathBuf, String> {
    if !host.is_root {
        return Err(format!(
            "cgroups need root (rdaemon runs as uid {})",
            nix::unistd::geteuid()
        ));
    }
    let Some(mount) = &host.mount else {
        return Err("no cgroup2 file system is mounted (/proc/self/mountinfo)".into());
    };
    if mount.read_only {
        return Err(format!(
            "the cgroup2 mount '{}' is read-only",
            mount.path.display()
        ));
    }
    if !host.systemd {
        return Ok(mount.path.clone());
    }
    // systemd's tree: only beneath our own cgroup, and only if it (or an ancestor below the
    // mount) was delegated to us.
    let own = host.own.as_deref().unwrap_or("/");
    let relative = own
        .strip_prefix(mount.root.trim_end_matches('/'))
        .unwrap_or(own)
        .trim_start_matches('/');
    let own_dir = mount.path.join(relative);
    let mut at = own_dir.as_path();
    loop {
        if delegated(at) {
            return Ok(own_dir);
        }
        if at == mount.path {
            break;
        }
        match at.parent() {
            Some(parent) if parent.starts_with(&mount.path) => at = parent,
            _ => break,
        }
    }
    Err(format!(
        "rdaemon's cgroup '{}' is managed by systemd and not delegated to it (systemd's CGROUP_DELEGATION rules; run rdaemon from a unit with Delegate=yes)",
        own_dir.display()
    ))
}

/// Whether systemd delegated the cgroup directory `dir`: its `trusted.delegate` or
/// `user.delegate` extended attribute is `1`.
pub fn is_delegated(dir: &Path) -> bool {
    ["trusted.delegate", "user.delegate"]
        .iter()
        .any(|name| matches!(crate::process::read_xattr(dir, name), Ok(Some(v)) if v == b"1"))
}

/// The extended attribute a start writes on the cgroup it claims: the identity of the
/// directory of the daemon's spec ([`Claimed::mark`]).
const OWNER_MARK: &str = "trusted.rdaemon.dir";

/// Whether `leaf` is the name daemon `name`'s cgroup can have beneath `rdaemon/`: `NAME`, or
/// `NAME@HASH` (8 hex digits) for a directory given explicitly (`Ctx::cgroup_leaf`).
fn is_leaf_of(leaf: &str, name: &str) -> bool {
    match leaf.strip_prefix(name) {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('@')
            .is_some_and(|h| h.len() == 8 && h.bytes().all(|b| b.is_ascii_hexdigit())),
        None => false,
    }
}

/// The cgroup of one daemon, `PARENT/rdaemon/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    path: PathBuf,
    /// The id (directory inode) it had when a record named it ([`Cgroup::recorded`]): a cgroup
    /// made at the same path since (by a daemon of the same name from another rdaemon
    /// directory, once this one was removed) is not it. `None` for one not known by a record.
    id: Option<u64>,
}

/// A cgroup made by [`Cgroup::claim`], with a handle on its directory.
#[derive(Debug)]
pub struct Claimed {
    /// The cgroup.
    pub cgroup: Cgroup,
    dir: fs::File,
}

impl Claimed {
    /// Its id: the inode number of its directory, from the directory handle, which the kernel
    /// never gives to another cgroup while this one exists.
    pub fn id(&self) -> Option<u64> {
        self.dir.metadata().ok().map(|m| m.ino())
    }

    /// Marks it as the cgroup of the daemon whose spec directory is `owner`
    /// ([`crate::paths::Ctx::dir_identity`]), so that [`Cgroup::unrecorded`] can tell it from
    /// a cgroup of the same path made by another rdaemon (another directory whose name hashes
    /// the same, another mount namespace's default directory). Best effort: a cgroup without
    /// the mark is never taken for this daemon's without its status.
    pub fn mark(&self, owner: &str) {
        use std::os::fd::AsFd;
        let _ = process::set_xattr(self.dir.as_fd(), OWNER_MARK, owner.as_bytes());
    }

    /// Its directory handle, for a process created straight in it (`CLONE_INTO_CGROUP`).
    pub fn dir(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.dir.as_fd()
    }

    /// Moves process `pid` into this very cgroup (through the directory handle: if the cgroup
    /// was removed meanwhile, this fails rather than writing into a new one of the same path).
    pub fn add(&self, pid: i32) -> Result<()> {
        use std::io::Write;
        let procs = nix::fcntl::openat(
            &self.dir,
            "cgroup.procs",
            nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(io::Error::from)
        .and_then(|fd| fs::File::from(fd).write_all(pid.to_string().as_bytes()));
        procs.with_context(|| {
            format!(
                "cannot move pid {pid} into cgroup '{}'",
                self.cgroup.path.display()
            )
        })
    }
}

/// Whether `e` says the cgroup file's directory was removed: `ENOENT` on open, `ENODEV` on a
/// file opened before (kernfs).
fn is_removed(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(Errno::ENODEV as i32)
}

/// The directory beneath the chosen parent that holds every daemon's cgroup.
const TOP: &str = "rdaemon";

impl Cgroup {
    /// The cgroup of daemon `name` beneath `parent` (whether or not it exists).
    pub fn at(parent: &Path, name: &str) -> Cgroup {
        Cgroup {
            path: parent.join(TOP).join(name),
            id: None,
        }
    }

    /// The cgroup a record names for daemon `name`, if it is one rdaemon could have made: a
    /// directory `.../rdaemon/NAME` (or `NAME@HASH`) beneath the cgroup2 mount. Anything else is refused, so a
    /// record edited by hand cannot make `stop` kill another cgroup.
    /// Its id must be `id` (see [`Cgroup::id`]): a cgroup of the same path made since is
    /// another daemon's.
    pub fn recorded(path: &Path, name: &str, id: Option<u64>) -> Option<Cgroup> {
        let mount = find_mount().ok()??;
        if id.is_none() || fs::metadata(path).ok().map(|m| m.ino()) != id {
            return None;
        }
        let parent = path.parent()?;
        let ok = path.is_absolute()
            && is_leaf_of(path.file_name()?.to_str()?, name)
            && parent.file_name()? == TOP
            && path.starts_with(&mount.path)
            && !path
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir));
        ok.then(|| Cgroup {
            path: path.to_owned(),
            id,
        })
    }

    /// The cgroup of the daemon `rec` describes: the one its status names
    /// ([`Cgroup::of_record`]), or, for a spec without any status (lost with the runtime
    /// directory while the daemon ran), the one a start from this directory marked
    /// ([`Cgroup::unrecorded`]), unless the spec says `--cgroup off`.
    pub fn of_daemon(ctx: &crate::paths::Ctx, rec: &crate::state::Record) -> Option<Cgroup> {
        if let Some(cg) = Cgroup::of_record(rec) {
            return Some(cg);
        }
        if rec.pid.is_some() || rec.cgroup.is_some() || rec.cgroup_mode.as_deref() == Some("off") {
            return None;
        }
        Cgroup::unrecorded(
            ctx.is_root,
            &ctx.cgroup_leaf(&rec.name),
            &ctx.dir_identity()?,
        )
    }

    /// The cgroup `rdaemon/LEAF` a start of the daemon whose cgroup leaf is `leaf` would claim
    /// ([`Cgroup::claim`]), when it holds processes though no status names it: its status was
    /// lost while it ran (the runtime directory removed by hand; user trial, 2026-12-02: a
    /// `resurrect` then started a second copy beside the first, without a cgroup). It must
    /// carry the mark of the daemon's spec directory, `owner` ([`Claimed::mark`]): then a start
    /// of that daemon made it, and what is in it is that daemon's. `None` where rdaemon makes
    /// no cgroups, when it is missing, empty or unmarked, or when rdaemon itself runs inside
    /// it.
    pub fn unrecorded(is_root: bool, leaf: &str, owner: &str) -> Option<Cgroup> {
        // Once per command: `list` asks for every daemon without a status (all of them after a
        // reboot), and the mount table does not change under it.
        static PARENT: std::sync::OnceLock<Option<(Host, PathBuf)>> = std::sync::OnceLock::new();
        let (host, parent) = PARENT
            .get_or_init(|| {
                let host = Host::detect(is_root).ok()?;
                let parent = decide(&host, is_delegated).ok()?;
                Some((host, parent))
            })
            .as_ref()?;
        let mut cg = Cgroup::at(parent, leaf);
        if !cg.populated().unwrap_or(false) {
            return None;
        }
        // Made by a start from this very directory (review, 2026-12-02: the same path is
        // made by the default directory of another mount namespace, or by a directory whose
        // name hashes the same, and that daemon was killed).
        if process::read_xattr(&cg.path, OWNER_MARK).ok()??.as_slice() != owner.as_bytes() {
            return None;
        }
        let mount = host.mount.as_ref()?;
        let own = host.own.as_deref()?;
        let inside = own
            .strip_prefix(mount.root.trim_end_matches('/'))
            .unwrap_or(own)
            .trim_start_matches('/');
        if mount.path.join(inside).starts_with(&cg.path) {
            return None;
        }
        cg.id = Some(fs::metadata(&cg.path).ok()?.ino());
        Some(cg)
    }

    /// The cgroup of the daemon `rec` describes, trusted by the rules of the session sweep
    /// (SPEC §4): the record is of this boot (cgroup ids start again at boot), the cgroup is the
    /// one it names ([`Cgroup::recorded`]), and the record is not contradicted by the cgroup:
    /// its main pid, if alive in the cgroup, has the recorded start time (else the record was
    /// not written for what runs there). `None` otherwise: then rdaemon neither reports nor
    /// touches it.
    pub fn of_record(rec: &crate::state::Record) -> Option<Cgroup> {
        let cg = Cgroup::recorded(rec.cgroup.as_deref()?, rec.name.as_str(), rec.cgroup_id)?;
        if rec.boot_id.as_deref() != crate::process::boot_id().ok().as_deref() {
            return None;
        }
        let start_time = rec.start_time?;
        let contradicted = rec.pid.is_some_and(|pid| {
            crate::process::stat_of(pid)
                .ok()
                .flatten()
                .is_some_and(|s| s.start_time != start_time)
                && cg.holds(pid)
        });
        (!contradicted).then_some(cg)
    }

    /// Claims `PARENT/rdaemon/NAME` for one daemon: a cgroup this call made itself (mkdir, not
    /// an existing one), with a handle on its directory that [`Claimed::add`] writes through, so
    /// that a process never lands in a cgroup of the same path made by someone else meanwhile.
    /// An empty one left behind (a daemon killed outright) is removed and made anew. `None`
    /// when the path is in use (populated, or another start made it at the same moment).
    pub fn claim(parent: &Path, name: &str) -> Result<Option<Claimed>> {
        let cgroup = Cgroup::create_top(parent, name)?;
        let mut builder = fs::DirBuilder::new();
        builder.mode(0o755);
        for _ in 0..4 {
            match builder.create(&cgroup.path) {
                Ok(()) => {
                    let dir = fs::File::open(&cgroup.path).with_context(|| {
                        format!("cannot open cgroup '{}'", cgroup.path.display())
                    })?;
                    return Ok(Some(Claimed { cgroup, dir }));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if cgroup.populated().unwrap_or(true) || !cgroup.remove_empty() {
                        return Ok(None);
                    }
                }
                // Another rdaemon removed an empty `rdaemon` between our two mkdirs.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    Cgroup::create_top(parent, name)?;
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("cannot create cgroup '{}'", cgroup.path.display())
                    })
                }
            }
        }
        Ok(None)
    }

    /// Creates `PARENT/rdaemon` if needed; the cgroup of `name` beneath it (not created).
    fn create_top(parent: &Path, name: &str) -> Result<Cgroup> {
        let top = parent.join(TOP);
        match fs::DirBuilder::new().mode(0o755).create(&top) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e).with_context(|| format!("cannot create cgroup '{}'", top.display()))
            }
        }
        Ok(Cgroup::at(parent, name))
    }

    /// The memory it uses now (`memory.current`), without the memory controller `None`.
    pub fn memory_current(&self) -> Option<u64> {
        process::read_text(self.file("memory.current"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Creates `PARENT/rdaemon/NAME` (and `rdaemon`), mode 0755; an existing one is reused.
    #[cfg(test)]
    pub fn create(parent: &Path, name: &str) -> Result<Cgroup> {
        let cgroup = Cgroup::at(parent, name);
        let top = parent.join(TOP);
        let mut builder = fs::DirBuilder::new();
        builder.mode(0o755);
        // Another rdaemon may remove an empty `rdaemon` between our two mkdirs: try again.
        for _ in 0..3 {
            match builder.create(&top) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("cannot create cgroup '{}'", top.display()))
                }
            }
            match builder.create(&cgroup.path) {
                Ok(()) => return Ok(cgroup),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(cgroup),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("cannot create cgroup '{}'", cgroup.path.display())
                    })
                }
            }
        }
        bail!(
            "cannot create cgroup '{}': its parent keeps disappearing",
            cgroup.path.display()
        )
    }

    /// Its directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether it exists (and is still the one a record named).
    pub fn exists(&self) -> bool {
        self.path.join("cgroup.procs").exists() && !self.replaced()
    }

    /// Whether the directory at its path is another cgroup than the one a record named (its
    /// id differs): this one was removed and a daemon of the same name made its own there.
    /// Every look and action checks it first, so that a `stop` that began on this daemon's
    /// cgroup never reads, signals, kills or removes the other's.
    fn replaced(&self) -> bool {
        self.id
            .is_some_and(|id| fs::metadata(&self.path).is_ok_and(|m| m.ino() != id))
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn write(&self, name: &str, value: &str) -> io::Result<()> {
        fs::write(self.file(name), value)
    }

    /// Moves process `pid` (all its threads) into the cgroup.
    #[cfg(test)]
    pub fn add(&self, pid: i32) -> Result<()> {
        self.write("cgroup.procs", &pid.to_string())
            .with_context(|| {
                format!(
                    "cannot move pid {pid} into cgroup '{}'",
                    self.path.display()
                )
            })
    }

    /// The pids in it now, and in the cgroups beneath it that the daemon made ([`subtree`]);
    /// none once it is removed (only an empty cgroup can be: a respawn monitor that gave up
    /// removes its own, [`Cgroup::leave_and_remove`], perhaps while a `stop` looks at it).
    pub fn procs(&self) -> io::Result<Vec<i32>> {
        if self.replaced() {
            return Ok(Vec::new());
        }
        let read = |dir: &Path| -> io::Result<Vec<i32>> {
            let text = match process::read_text(dir.join("cgroup.procs")) {
                Err(e) if is_removed(&e) => return Ok(Vec::new()),
                text => text?,
            };
            Ok(text
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect())
        };
        let mut pids = read(&self.path)?;
        for below in subtree(&self.path) {
            // One removed meanwhile holds nobody; another error is not the daemon's word.
            pids.extend(read(&below).unwrap_or_default());
        }
        Ok(pids)
    }

    /// Whether any process is in it or beneath it (`populated` of `cgroup.events`).
    pub fn populated(&self) -> io::Result<bool> {
        if self.replaced() {
            return Ok(false);
        }
        let text = process::read_text(self.file("cgroup.events"))?;
        Ok(text
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["populated", "1"]))
    }

    /// SIGKILLs everything in it: `cgroup.kill` (Linux ≥ 5.14), and once [`Cgroup::signal_all`]
    /// for what that missed; without it, [`Cgroup::signal_all`] until it is empty (a fork
    /// racing the signals lands in the cgroup too, so a few rounds catch it).
    pub fn kill(&self) -> Result<()> {
        if self.replaced() {
            return Ok(());
        }
        match self.write("cgroup.kill", "1") {
            // `cgroup.kill` leaves a process whose main thread has ended while its other
            // threads run on (Linux 6.18; a review found one outliving it, 2026-12-03): what
            // is still listed once the killed have had a moment to go gets SIGKILL by pidfd
            // too, which ends every thread of it. What its threads forked after that pass
            // read `cgroup.procs` is caught by `cgroup.kill` once more: the SIGKILLed can
            // fork no more, and a fork under way when it is written is killed by the kernel
            // (second review, 2026-12-03: 55 such children outlived the stop). Another
            // round only for a process not seen before, at most a few (a child that ends its
            // own main thread in turn); whatever still takes its time to die (a process in
            // uninterruptible I/O, a frozen one) is the caller's wait's, on its schedule and
            // interruptible, not a loop here.
            Ok(()) => {
                let mut seen = Vec::new();
                for _ in 0..KILL_ROUNDS {
                    if self.wait_empty(KILL_SETTLE)? {
                        break;
                    }
                    let mut listed = Vec::new();
                    self.signal_members(&[Signal::SIGKILL], &[], &mut listed, false)?;
                    if listed.iter().all(|pid| seen.contains(pid)) {
                        break;
                    }
                    seen.extend(listed);
                    match self.write("cgroup.kill", "1") {
                        Err(e) if !is_removed(&e) => {
                            return Err(e).with_context(|| {
                                format!("cannot kill cgroup '{}'", self.path.display())
                            })
                        }
                        _ => {}
                    }
                }
                return Ok(());
            }
            // No cgroup.kill: an older kernel.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot kill cgroup '{}'", self.path.display()))
            }
        }
        self.kill_by_signals()
    }

    /// The fallback of [`Cgroup::kill`]: SIGKILL to every pid of `cgroup.procs`, again until
    /// it lists none. Between rounds it waits (on `cgroup.events`, briefly) for the killed to
    /// leave: a busy machine takes a while to tear a process down, and a tight loop of rounds
    /// would give up before.
    pub fn kill_by_signals(&self) -> Result<()> {
        for _ in 0..100 {
            if self.signal_all(Signal::SIGKILL)? == 0
                || self.wait_empty(Duration::from_millis(50))?
            {
                return Ok(());
            }
        }
        bail!(
            "cannot kill cgroup '{}': processes keep appearing in it",
            self.path.display()
        )
    }

    /// Sends `sig` to every process listed in `cgroup.procs`; how many were listed. Each is
    /// pinned by a pidfd and then checked to still be in this cgroup, so a pid reused between
    /// the listing and the signal is never hit.
    pub fn signal_all(&self, sig: Signal) -> Result<usize> {
        self.signal_members(&[sig], &[], &mut Vec::new(), false)
    }

    /// [`Cgroup::signal_all`] with each of `sigs` in turn (TERM then CONT), skipping the
    /// members of the process groups `skip_groups` (which got them already, or must not); the
    /// pid of each member not skipped is added to `signalled`. With `spare_callers`, rdaemon's
    /// ancestors (a shell in the cgroup that ran it) are skipped too.
    pub fn signal_members(
        &self,
        sigs: &[Signal],
        skip_groups: &[i32],
        signalled: &mut Vec<i32>,
        spare_callers: bool,
    ) -> Result<usize> {
        let pids = self
            .procs()
            .with_context(|| format!("cannot read '{}'", self.file("cgroup.procs").display()))?;
        let mut listed = 0;
        for raw in pids {
            let Ok(pid) = Pid::new(raw) else { continue };
            listed += 1;
            // Cheapest first, one system call and no `/proc` read: a member of the group that
            // got the signal already is left alone (a pid reused meanwhile is then not
            // signalled either: nothing is lost).
            if !skip_groups.is_empty() {
                match nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(raw))) {
                    Ok(g) if skip_groups.contains(&g.as_raw()) => continue,
                    // Gone since the list was read: nothing to signal, and not counted as a
                    // process signalled (a full test run, 2026-12-03: `signal --group` said
                    // "and 1 other process of the daemon" of one that had exited).
                    Err(Errno::ESRCH) => continue,
                    _ => {}
                }
            }
            if spare_callers && !matches!(process::refuse_protected(pid), Ok(None)) {
                continue;
            }
            // Counted as listed, whether or not it is gone by the time the signal would reach
            // it (a respawn monitor's child ends by the TERM its monitor forwards).
            signalled.push(raw);
            let Ok(process) = Process::open(pid) else {
                continue;
            };
            if !self.holds(raw) {
                continue;
            }
            for &sig in sigs {
                match process.signal(sig) {
                    Ok(()) | Err(Errno::ESRCH) => {}
                    Err(e) => bail!(
                        "cannot signal pid {raw} of cgroup '{}': {}",
                        self.path.display(),
                        e.desc()
                    ),
                }
            }
        }
        Ok(listed)
    }

    /// Whether `/proc/PID/cgroup` places `pid` in this cgroup (or beneath it); `false` when it
    /// cannot be read.
    pub fn holds(&self, pid: i32) -> bool {
        self.holds_known(pid).unwrap_or(false)
    }

    /// [`Cgroup::holds`], `None` when `/proc/PID/cgroup` cannot be read or has no cgroup v2
    /// line: no answer, for a caller that must not take that for "not in it".
    pub fn holds_known(&self, pid: i32) -> Option<bool> {
        let text = process::read_text(format!("/proc/{pid}/cgroup")).ok()?;
        let own = parse_own_cgroup(&text)?;
        let tail = format!(
            "/{TOP}/{}",
            self.path.file_name().unwrap_or_default().to_string_lossy()
        );
        Some(own.ends_with(&tail) || own.contains(&format!("{tail}/")))
    }

    /// Waits up to `timeout` until nothing is in the cgroup (`populated 0`): `poll` on
    /// `cgroup.events` itself (POLLPRI, woken at once when the kernel changes it; cgroup-v2.rst),
    /// no sleep loop. Not inotify: closing an inotify instance waits for an RCU grace period,
    /// 10 to 20 ms here, which `stop` would pay after the last process is gone (bench/, "stop of
    /// a daemon of 100 processes"). True if it emptied.
    pub fn wait_empty(&self, timeout: Duration) -> Result<bool> {
        self.wait_empty_while(timeout, false)
    }

    /// [`Cgroup::wait_empty`] that also ends (false) once an interrupting signal was caught
    /// ([`crate::process::interrupted`]): `stop`'s waits, which Ctrl-C ends.
    pub fn wait_empty_interruptible(&self, timeout: Duration) -> Result<bool> {
        self.wait_empty_while(timeout, true)
    }

    fn wait_empty_while(&self, timeout: Duration, interruptible: bool) -> Result<bool> {
        use std::os::unix::fs::FileExt;
        let events = self.file("cgroup.events");
        let file = match fs::File::open(&events) {
            // Removed: it was empty (see [`Cgroup::procs`]).
            Err(e) if is_removed(&e) => return Ok(true),
            file => file.with_context(|| format!("cannot open '{}'", events.display()))?,
        };
        // Opened in another daemon's cgroup of the same path: this one is gone, so empty.
        if self.replaced() {
            return Ok(true);
        }
        // Reading through this fd is what re-arms its POLLPRI: each read comes before the poll,
        // so no change between the two is missed.
        let populated = || -> Result<bool> {
            let mut buf = [0u8; 256];
            let n = match file.read_at(&mut buf, 0) {
                // Removed since it was opened (ENODEV): it had emptied.
                Err(e) if is_removed(&e) => return Ok(false),
                n => n.with_context(|| format!("cannot read '{}'", events.display()))?,
            };
            Ok(String::from_utf8_lossy(&buf[..n])
                .lines()
                .any(|l| l.split_whitespace().eq(["populated", "1"])))
        };
        let deadline = Instant::now() + timeout;
        loop {
            if !populated()? {
                return Ok(true);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || (interruptible && crate::process::interrupted().is_some()) {
                return Ok(false);
            }
            let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            let mut fds = vec![PollFd::new(
                std::os::fd::AsFd::as_fd(&file),
                PollFlags::POLLPRI,
            )];
            // An interrupting signal ends the wait at once (stop's Ctrl-C).
            fds.extend(
                crate::process::interrupt_fd()
                    .filter(|_| interruptible)
                    .map(|fd| PollFd::new(fd, PollFlags::POLLIN)),
            );
            match poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            ) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => {
                    return Err(anyhow!(
                        "cannot wait on '{}': {}",
                        events.display(),
                        e.desc()
                    ))
                }
            }
        }
    }

    /// What the last process of the cgroup does before it exits, a respawn monitor that ended
    /// on its own (it gave up, or its program exited cleanly with `--restart on-failure`): it
    /// moves itself to the cgroup this one was made beneath (`PARENT` of
    /// `PARENT/rdaemon/NAME`, where `start` ran or the cgroup2 mount's root), waits up to `wait`
    /// for the rest to leave (what its last child left, which it just sent SIGTERM), and
    /// removes this one, as `stop` would have (SPEC §3.1: the cgroup is removed when empty;
    /// systemd does the same for a failed unit). `Ok(false)`, and the cgroup kept, when
    /// something is still in it then (for `stop`, which ends it); an error when the parent
    /// takes no process (it has controllers of its own, cgroup v2's "no internal processes"
    /// rule): then the empty cgroup stays, for `stop`, `forget` or the next `start`.
    pub fn leave_and_remove(&self, wait: Duration) -> Result<bool> {
        let me = std::process::id();
        let parent = self
            .path
            .parent()
            .and_then(Path::parent)
            .with_context(|| format!("cgroup '{}' has no parent", self.path.display()))?;
        fs::write(parent.join("cgroup.procs"), me.to_string()).with_context(|| {
            format!(
                "cannot move out of cgroup '{}' into '{}'",
                self.path.display(),
                parent.display()
            )
        })?;
        if !self.wait_empty(wait)? {
            return Ok(false);
        }
        // A process forked in it meanwhile keeps it.
        match self.remove_empty() {
            false => Ok(false),
            true => self.remove().map(|()| true),
        }
    }

    /// Removes this cgroup, empty, and those the daemon made beneath it; false if one of them
    /// could not be (a process in it).
    fn remove_empty(&self) -> bool {
        for below in subtree(&self.path) {
            let _ = fs::remove_dir(&below);
        }
        match fs::remove_dir(&self.path) {
            Ok(()) => true,
            Err(e) => e.kind() == io::ErrorKind::NotFound,
        }
    }

    /// Removes the (empty) cgroup, and `rdaemon` above it when that is empty too. A cgroup that
    /// is already gone is fine.
    pub fn remove(&self) -> Result<()> {
        // Held open and checked by its id: another daemon of this name (from another directory)
        // may claim the path anew as soon as this one is empty, and its cgroups are never
        // touched. Those beneath go first (a cgroup with one is busy), reached through the open
        // directory, not the path.
        let dir = match fs::File::open(&self.path) {
            Ok(dir) => dir,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot open cgroup '{}'", self.path.display()))
            }
        };
        let id = dir.metadata().map(|m| m.ino()).ok();
        if self.id.is_some_and(|mine| id != Some(mine)) {
            return Ok(());
        }
        let through = PathBuf::from(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&dir)
        ));
        for below in subtree(&through) {
            match fs::remove_dir(&below) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    let shown = self
                        .path
                        .join(below.strip_prefix(&through).unwrap_or(&below));
                    return Err(e)
                        .with_context(|| format!("cannot remove cgroup '{}'", shown.display()));
                }
                _ => {}
            }
        }
        match fs::remove_dir(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            // Made anew by another start between the look and the removal: not this one's.
            Err(_) if self.replaced() => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot remove cgroup '{}'", self.path.display()))
            }
        }
        if let Some(top) = self.path.parent() {
            // Best effort: other daemons' cgroups (EBUSY/ENOTEMPTY) keep it.
            let _ = fs::remove_dir(top);
        }
        Ok(())
    }

    /// Sets `memory.max` to `bytes`.
    pub fn set_memory_max(&self, bytes: u64) -> Result<()> {
        self.set_limit("memory", "memory.max", &bytes.to_string())
    }

    /// Sets `pids.max` to `tasks`.
    pub fn set_pids_max(&self, tasks: u64) -> Result<()> {
        self.set_limit("pids", "pids.max", &tasks.to_string())
    }

    /// Whether a daemon's cgroup under `parent` (`PARENT/rdaemon/NAME`) can have a limit of
    /// `controller`, creating and changing nothing: for a check made before anything is stopped
    /// or started. The same error as [`Cgroup::set_memory_max`] gives when it cannot.
    pub fn check_controller(parent: &Path, controller: &str) -> Result<()> {
        let top = parent.join(TOP);
        // What `rdaemon` may enable for its children is what its parent enables for it: its
        // `cgroup.controllers` once it exists, the parent's `cgroup.subtree_control` until then.
        let offered_by = parent.join("cgroup.subtree_control");
        let list_file = match top.is_dir() {
            true => top.join("cgroup.controllers"),
            false => offered_by.clone(),
        };
        let available: Vec<String> = fs::read_to_string(&list_file)
            .with_context(|| format!("cannot read '{}'", list_file.display()))?
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        if available.iter().any(|c| c == controller) {
            return Ok(());
        }
        bail!(
            "cannot set a {controller} limit on a cgroup under '{}': {}",
            top.display(),
            unavailable(controller, parent)
        );
    }

    /// Writes `file` of `controller`, first enabling the controller in the `rdaemon` cgroup's
    /// `cgroup.subtree_control` (which rdaemon owns) when its parent offers it; a clear error
    /// when the hierarchy does not offer it at all.
    fn set_limit(&self, controller: &str, file: &str, value: &str) -> Result<()> {
        let top = self
            .path
            .parent()
            .ok_or_else(|| anyhow!("cgroup '{}' has no parent", self.path.display()))?;
        let words = |path: PathBuf| -> Result<Vec<String>> {
            Ok(fs::read_to_string(&path)
                .with_context(|| format!("cannot read '{}'", path.display()))?
                .split_whitespace()
                .map(str::to_owned)
                .collect())
        };
        let enabled = words(top.join("cgroup.subtree_control"))?;
        if !enabled.iter().any(|c| c == controller) {
            let available = words(top.join("cgroup.controllers"))?;
            if !available.iter().any(|c| c == controller) {
                bail!(
                    "cannot set {file} of cgroup '{}': {}",
                    self.path.display(),
                    unavailable(controller, top.parent().unwrap_or(top))
                );
            }
            fs::write(top.join("cgroup.subtree_control"), format!("+{controller}")).with_context(
                || {
                    format!(
                        "cannot enable the {controller} controller in '{}'",
                        top.join("cgroup.subtree_control").display()
                    )
                },
            )?;
        }
        self.write(file, value).with_context(|| {
            format!(
                "cannot set {file} of cgroup '{}' to {value}",
                self.path.display()
            )
        })
    }
}

/// Why `controller` is not available to rdaemon's cgroups under `parent`: the hierarchy has it
/// there but `parent` does not enable it for its children (what to write, and where), or the
/// cgroup2 hierarchy does not offer it at all (user trial: "available here: none" read as false
/// beside a `cgroup.controllers` listing `hugetlb`, on a host whose memory controller is
/// mounted as cgroup v1).
fn unavailable(controller: &str, parent: &Path) -> String {
    let file = |name: &str| parent.join(name);
    let offered: Vec<String> = fs::read_to_string(file("cgroup.controllers"))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if offered.iter().any(|c| c == controller) {
        return format!(
            "the {controller} controller is not available: '{}' does not enable it for its children (as root: echo +{controller} > '{}')",
            parent.display(),
            file("cgroup.subtree_control").display()
        );
    }
    let offers = match offered.is_empty() {
        true => "no controller".to_owned(),
        false => format!("only {}", offered.join(" ")),
    };
    format!(
        "the {controller} controller is not available: the cgroup2 hierarchy at '{}' offers {offers} (a host may mount {controller} with cgroup v1, which rdaemon does not use)",
        parent.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two reasons a controller is missing, told apart from the parent's
    /// `cgroup.controllers`.
    #[test]
    fn a_missing_controller_says_whether_the_hierarchy_has_it() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("cgroup.controllers"), "hugetlb memory\n").unwrap();
        let why = unavailable("memory", dir.path());
        assert!(
            why.starts_with("the memory controller is not available: '")
                && why.contains("does not enable it for its children (as root: echo +memory > '")
                && why.ends_with("/cgroup.subtree_control')"),
            "{why}"
        );
        let why = unavailable("pids", dir.path());
        assert!(
            why.contains("offers only hugetlb memory (a host may mount pids with cgroup v1"),
            "{why}"
        );
        fs::write(dir.path().join("cgroup.controllers"), "").unwrap();
        assert!(unavailable("pids", dir.path()).contains("offers no controller"));
    }

    const HYBRID: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n\
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

    #[test]
    fn finds_the_cgroup2_mount() {
        assert_eq!(
            parse_mountinfo(HYBRID),
            Some(Mount {
                path: "/sys/fs/cgroup/unified".into(),
                root: "/".into(),
                read_only: false,
            })
        );
        let unified = "25 20 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";
        let m = parse_mountinfo(unified).unwrap();
        assert_eq!(m.path, Path::new("/sys/fs/cgroup"));
        assert!(m.read_only);
        let escaped = "1 2 0:3 /sub /mnt/my\\040cgroups rw - cgroup2 none rw\n";
        let m = parse_mountinfo(escaped).unwrap();
        assert_eq!(m.path, Path::new("/mnt/my cgroups"));
        assert_eq!(m.root, "/sub");
        assert_eq!(
            parse_mountinfo("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"),
            None
        );
        assert_eq!(parse_mountinfo("garbage\n"), None);
    }

    #[test]
    fn reads_the_v2_line_of_proc_cgroup() {
        assert_eq!(
            parse_own_cgroup("9:name=systemd:/\n4:memory:/x\n0::/system.slice/a.service\n"),
            Some("/system.slice/a.service".into())
        );
        assert_eq!(parse_own_cgroup("4:memory:/x\n"), None);
    }

    fn host(is_root: bool, systemd: bool, own: &str) -> Host {
        Host {
            is_root,
            mount: parse_mountinfo(HYBRID),
            own: Some(own.into()),
            systemd,
        }
    }

    #[test]
    fn auto_is_off_where_rdaemon_may_not_create_cgroups() {
        let never = |_: &Path| false;
        assert_eq!(
            decide(&host(true, false, "/"), never),
            Ok("/sys/fs/cgroup/unified".into())
        );
        assert!(decide(&host(false, false, "/"), never)
            .unwrap_err()
            .contains("need root"));
        let mut ro = host(true, false, "/");
        ro.mount.as_mut().unwrap().read_only = true;
        assert!(decide(&ro, never).unwrap_err().contains("read-only"));
        let none = Host {
            mount: None,
            ..host(true, false, "/")
        };
        assert!(decide(&none, never).unwrap_err().contains("no cgroup2"));
        let managed = host(true, true, "/system.slice/app.service");
        assert!(decide(&managed, never)
            .unwrap_err()
            .contains("not delegated"));
        // Delegated to the unit: beneath our own cgroup, also from a leaf inside it.
        let unit = Path::new("/sys/fs/cgroup/unified/system.slice/app.service");
        let delegated = |p: &Path| p == unit;
        assert_eq!(decide(&managed, delegated), Ok(unit.to_owned()));
        let leaf = host(true, true, "/system.slice/app.service/main");
        assert_eq!(decide(&leaf, delegated), Ok(unit.join("main")));
    }

    /// Whether the real-cgroup tests can run: root, a cgroup tree systemd does not manage (as
    /// the integration tests require: not delegated to us, it is not ours to write), and a
    /// writable cgroup2 mount. Without them the test is skipped with a reason, unless `CI` is
    /// set (CI runs as root on a host with cgroup2): then it fails.
    fn real_mount(test: &str) -> Option<PathBuf> {
        let why = if !nix::unistd::geteuid().is_root() {
            "not root".to_owned()
        } else if Path::new("/run/systemd/system").is_dir() {
            "systemd manages the cgroup tree here (not delegated)".to_owned()
        } else {
            match find_mount() {
                Ok(Some(m)) if !m.read_only => return Some(m.path),
                Ok(Some(m)) => format!("the cgroup2 mount {} is read-only", m.path.display()),
                Ok(None) => "no cgroup2 mount".to_owned(),
                Err(e) => format!("cannot read /proc/self/mountinfo: {e}"),
            }
        };
        if std::env::var_os("CI").is_some() {
            panic!("{test} cannot run under CI: {why}");
        }
        eprintln!("skipping {test}: {why}");
        None
    }

    /// A cgroup of a test: everything in it killed and the cgroup removed when dropped, also
    /// when the test fails.
    struct TestCgroup(Cgroup);

    impl TestCgroup {
        fn new(parent: &Path, test: &str) -> TestCgroup {
            let name = format!("test-{test}-{}", std::process::id());
            TestCgroup(Cgroup::create(parent, &name).unwrap())
        }
    }

    impl Drop for TestCgroup {
        fn drop(&mut self) {
            if self.0.exists() {
                let _ = self.0.kill();
                // Returns once the cgroup is empty: the limit only bounds a stuck kill on a
                // loaded machine, as the integration tests' deadline does.
                let _ = self.0.wait_empty(Duration::from_secs(60));
            }
            if let Err(e) = self.0.remove() {
                eprintln!("test cgroup {} left behind: {e:#}", self.0.path().display());
            }
        }
    }

    /// A child of the test, reaped when dropped.
    struct Child(std::process::Child);

    impl Drop for Child {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn sleeper() -> Child {
        Child(
            std::process::Command::new("sleep")
                .arg("1000")
                .spawn()
                .unwrap(),
        )
    }

    #[test]
    fn a_cgroup_leaf_is_the_name_or_the_name_and_a_hash() {
        assert!(is_leaf_of("web", "web"));
        assert!(is_leaf_of("web@0a1b2c3d", "web"));
        for other in [
            "web2",
            "web@",
            "web@0a1b2c3",
            "web@0a1b2c3d4",
            "web@0a1b2c3g",
            "we",
            "x@web",
        ] {
            assert!(!is_leaf_of(other, "web"), "{other}");
        }
    }

    fn in_cgroup(pid: u32, cgroup: &Cgroup) -> bool {
        cgroup.holds(pid as i32)
    }

    /// A daemon's cgroup, known by its record's id, removed, and made again at the same path by
    /// a daemon of the same name from another rdaemon directory: a `stop` that began on the
    /// first never looks into, kills or removes the second.
    #[test]
    fn a_cgroup_made_anew_at_the_same_path_is_left_alone() {
        let test = "a_cgroup_made_anew_at_the_same_path_is_left_alone";
        let Some(mount) = real_mount(test) else {
            return;
        };
        let first = TestCgroup::new(&mount, test);
        let path = first.0.path().to_owned();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let id = fs::metadata(&path).unwrap().ino();
        let known = Cgroup::recorded(&path, &name, Some(id)).expect("the recorded cgroup");
        fs::remove_dir(&path).unwrap();
        let second = TestCgroup::new(&mount, test);
        assert_eq!(second.0.path(), path);
        let mut other = sleeper();
        second.0.add(other.0.id() as i32).unwrap();
        assert!(!known.exists());
        assert_eq!(known.procs().unwrap(), Vec::<i32>::new());
        assert!(!known.populated().unwrap());
        known.kill().unwrap();
        assert_eq!(known.signal_all(Signal::SIGKILL).unwrap(), 0);
        assert!(known.wait_empty(Duration::from_millis(10)).unwrap());
        known.remove().unwrap();
        assert!(path.is_dir(), "the other daemon's cgroup was removed");
        assert!(
            other.0.try_wait().unwrap().is_none(),
            "the other daemon's process was killed"
        );
        assert!(in_cgroup(other.0.id(), &second.0));
    }

    fn kill_wait_remove(test: &str, kill: impl Fn(&Cgroup) -> Result<()>) {
        let Some(mount) = real_mount(test) else {
            return;
        };
        let cg = TestCgroup::new(&mount, test);
        let path = cg.0.path().to_owned();
        assert!(
            path.starts_with(mount.join("rdaemon")),
            "{}",
            path.display()
        );
        let mut child = sleeper();
        cg.0.add(child.0.id() as i32).unwrap();
        assert!(in_cgroup(child.0.id(), &cg.0), "the child is in the cgroup");
        assert_eq!(cg.0.procs().unwrap(), vec![child.0.id() as i32]);
        assert!(cg.0.populated().unwrap());
        kill(&cg.0).unwrap();
        assert!(
            cg.0.wait_empty(Duration::from_secs(10)).unwrap(),
            "still populated"
        );
        let status = child.0.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "killed by SIGKILL"
        );
        cg.0.remove().unwrap();
        assert!(!path.exists(), "{} remains", path.display());
    }

    #[test]
    fn a_real_cgroup_is_killed_waited_for_and_removed() {
        kill_wait_remove("cgroup_kill", Cgroup::kill);
    }

    #[test]
    fn without_cgroup_kill_every_process_is_signalled() {
        kill_wait_remove("cgroup_signals", Cgroup::kill_by_signals);
    }

    #[test]
    fn wait_empty_times_out_while_populated() {
        let Some(mount) = real_mount("cgroup_wait") else {
            return;
        };
        let cg = TestCgroup::new(&mount, "wait");
        let child = sleeper();
        cg.0.add(child.0.id() as i32).unwrap();
        assert!(!cg.0.wait_empty(Duration::from_millis(50)).unwrap());
    }

    #[test]
    fn limits_need_their_controller() {
        let Some(mount) = real_mount("cgroup_limits") else {
            return;
        };
        let cg = TestCgroup::new(&mount, "limits");
        let offered = fs::read_to_string(mount.join("cgroup.subtree_control")).unwrap();
        let offered: Vec<&str> = offered.split_whitespace().collect();
        match cg.0.set_pids_max(5) {
            Ok(()) => {
                assert!(offered.contains(&"pids"));
                assert_eq!(
                    fs::read_to_string(cg.0.path().join("pids.max"))
                        .unwrap()
                        .trim(),
                    "5"
                );
            }
            Err(e) => {
                assert!(!offered.contains(&"pids"), "{e:#}");
                let msg = format!("{e:#}");
                assert!(msg.contains("pids controller is not available"), "{msg}");
            }
        }
        match cg.0.set_memory_max(64 << 20) {
            Ok(()) => assert!(offered.contains(&"memory")),
            Err(e) => assert!(format!("{e:#}").contains("memory controller"), "{e:#}"),
        }
    }
}
