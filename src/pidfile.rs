//! Pidfiles and per-name locks.
//!
//! A pidfile holds one decimal pid and a newline. It is read through `O_NOFOLLOW` with a size cap,
//! replaced atomically (a temporary file in the same directory, then `rename`), never written
//! through a symlink, and removed only while it still names the pid rdaemon means to remove.
//! The per-name `flock` serialises the check-then-act of start, stop, restart and forget.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::sys::stat::SFlag;

use crate::daemonize::Credentials;
use crate::fsx::{with_rights, Dir, Rights};
use crate::parse::{format_pid_content, parse_pid_content, PIDFILE_MAX_BYTES};
use crate::process::Pid;

/// What a pidfile path holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// No file there.
    Missing,
    /// A valid pid. `trusted` is false when rdaemon runs as root and the file could have been
    /// written by another user: not owned by root, writable by group or others, or with a
    /// second hard link (another user may have linked some root-owned file there).
    Valid { pid: Pid, trusted: bool },
    /// Something rdaemon must not act on; the reason says why.
    Invalid(String),
}

/// Reads and validates the pidfile at `path` without following a symlink and without reading
/// more than a bounded prefix.
pub fn read(path: &Path, is_root: bool) -> Content {
    let (raw, meta, dir_protected) = match read_raw(path) {
        Ok(None) => return Content::Missing,
        Ok(Some(found)) => found,
        Err(why) => return Content::Invalid(why),
    };
    let pid_max = crate::process::pid_max();
    if i64::from(raw) > pid_max {
        return Content::Invalid(format!(
            "{raw} is beyond the kernel's pid_max ({pid_max}), so no process can have it"
        ));
    }
    match Pid::new(raw) {
        Ok(pid) => Content::Valid {
            pid,
            trusted: !is_root
                || (meta.uid() == 0
                    && meta.mode() & 0o022 == 0
                    && meta.nlink() == 1
                    && dir_protected),
        },
        Err(why) => Content::Invalid(why),
    }
}

/// The number the pidfile at `path` holds, before the [`Pid`] rules (rdaemon's own pid or its
/// parent's included: a daemon asking about itself), read as [`read`] reads it.
pub fn number(path: &Path) -> Option<i32> {
    read_raw(path).ok().flatten().map(|(raw, _, _)| raw)
}

/// The number a pidfile holds, before the [`Pid`] rules, its metadata, and whether its
/// directory is one only root (or rdaemon's user) can change (`fsx::Dir::is_protected`): where
/// another user can write, they could have put any file at that name, root's included.
/// `Ok(None)` when there is no file, an error (the reason) when it is not one decimal pid in a
/// regular file. Read through the directory's safe handle: no symlink another user could have
/// made is followed, on the way or at the name.
fn read_raw(path: &Path) -> Result<Option<(i32, fs::Metadata, bool)>, String> {
    let (dir, name) = match crate::fsx::parent_of(path) {
        Ok(Some(found)) => found,
        Ok(None) => return Ok(None),
        Err(e) => return Err(format!("{e:#}")),
    };
    let file = match dir.open_file(&name, OFlag::O_RDONLY, 0) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
            return Err(
                "it is a symlink, and rdaemon does not follow symlinks at a pidfile path".into(),
            )
        }
        Err(e) => return Err(format!("cannot read it: {}", os_reason(&e))),
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read it: {}", os_reason(&e)))?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    let mut buf = Vec::with_capacity(PIDFILE_MAX_BYTES + 1);
    file.take(PIDFILE_MAX_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read it: {}", os_reason(&e)))?;
    let raw = parse_pid_content(&buf).map_err(|e| e.to_string())?;
    Ok(Some((raw, meta, dir.is_protected())))
}

/// The size of the file at `path` when it is no pidfile gone bad but some other file: a regular
/// file longer than a pidfile can be, with more than one line that is not blank (a `--pidfile`
/// mistyped to name a config file). Such a file is never replaced: garbage in a pidfile (a
/// partial write, a pid with megabytes of padding) is. Read through the directory's safe
/// handle, at most 64 KiB.
pub fn other_file_at(path: &Path) -> Option<u64> {
    let (dir, name) = crate::fsx::parent_of(path).ok().flatten()?;
    let file = dir.open_file(&name, OFlag::O_RDONLY, 0).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() <= PIDFILE_MAX_BYTES as u64 {
        return None;
    }
    let mut head = Vec::new();
    file.take(64 << 10).read_to_end(&mut head).ok()?;
    let lines = head
        .split(|&b| b == b'\n')
        .filter(|line| !line.trim_ascii().is_empty())
        .count();
    (lines > 1).then_some(meta.len())
}

/// Whether the pidfile at `path` names the calling process (the respawn monitor's own pidfile,
/// which [`read`] rightly refuses as "rdaemon itself").
pub fn names_self(path: &Path) -> bool {
    matches!(read_raw(path), Ok(Some((raw, _, _))) if raw == std::process::id() as i32)
}

/// Removes the pidfile if it still names the calling process. Returns whether it did.
pub fn remove_if_self(path: &Path) -> Result<bool> {
    if names_self(path) {
        remove(path).map(|()| true)
    } else {
        Ok(false)
    }
}

/// A pidfile being written: the temporary file exists from [`PidfileWriter::prepare`] on (so a
/// directory that is not writable shows before anything is started), and [`PidfileWriter::commit`]
/// fills it and renames it into place. Dropped uncommitted, it removes the temporary file. All
/// of it goes through one handle on the pidfile's directory (`fsx::Dir`), opened once.
#[derive(Debug)]
pub struct PidfileWriter {
    path: PathBuf,
    dir: Arc<Dir>,
    /// The daemon user's, in a directory that user can write (`fsx::Rights`).
    rights: Option<Rights>,
    name: OsString,
    tmp: OsString,
    file: Option<File>,
}

impl PidfileWriter {
    /// Checks the pidfile path (no symlink, no directory) and creates the temporary file. As
    /// root (SPEC §4): in a directory the daemon's user (`creds`) can write, everything is done
    /// with that user's rights and the pidfile is theirs (the status, not the file, vouches for
    /// the pid); a directory any other user can write, unless sticky, is refused.
    pub fn prepare(path: &Path, creds: Option<&Credentials>) -> Result<PidfileWriter> {
        refuse_symlink(path)?;
        let fail = || format!("cannot write pidfile '{}'", path.display());
        let dir_path = path.parent().unwrap_or(Path::new("/"));
        let name = path
            .file_name()
            .with_context(|| format!("invalid pidfile path '{}'", path.display()))?
            .to_owned();
        let dir = crate::fsx::open_cached(dir_path).with_context(fail)?;
        let rights = Rights::for_dir(&dir, creds);
        crate::fsx::refuse_shared_dir(&dir, rights, "pidfile", path)?;
        let prefix = format!(".{}.", name.to_string_lossy());
        // The temporary file has a fixed name (`.NAME.pid.tmp`): the caller holds the name's
        // lock, so no live writer owns one, and one left by a start killed meanwhile is removed
        // and made anew, with no scan of the directory (which holds four files per daemon: the
        // scan made `start` slower with every daemon). Only when that name cannot be had (a
        // file someone else owns in a sticky directory) does the writer fall back to a name of
        // its own pid and a number no one can guess, after removing the stale ones of that
        // form. A name of its pid alone could be had by anyone who can make names there, for
        // every pid (helper-125: `nobody` made a directory at `.x.pid.tmp` and at each of the
        // 32767 `.x.pid.PID.tmp` in a sticky directory, and root's `restart` stopped the daemon
        // and could not start it again).
        let create =
            |tmp: &OsString| with_rights(rights, || dir.create(tmp, OFlag::O_WRONLY, 0o644));
        let unlink = |tmp: &OsString| with_rights(rights, || dir.unlink(tmp));
        let fixed = OsString::from(format!("{prefix}tmp"));
        let made = match create(&fixed) {
            // A leftover of a killed start.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                unlink(&fixed).and_then(|()| create(&fixed))
            }
            other => other,
        };
        let (tmp, made) = match made {
            Ok(file) => (fixed, Ok(file)),
            Err(_) => {
                remove_stale_temporaries(&dir, rights, &prefix);
                let fallback = || {
                    OsString::from(format!(
                        "{prefix}{}.{:016x}.tmp",
                        std::process::id(),
                        unguessable()
                    ))
                };
                let mut tmp = fallback();
                let mut made = create(&tmp);
                // Taken: someone made that very name (never by chance), so another is tried.
                for _ in 0..8 {
                    if !made
                        .as_ref()
                        .is_err_and(|e| e.kind() == io::ErrorKind::AlreadyExists)
                    {
                        break;
                    }
                    tmp = fallback();
                    made = create(&tmp);
                }
                (tmp, made)
            }
        };
        let file = made.map_err(os_error).with_context(fail)?;
        Ok(PidfileWriter {
            path: path.to_owned(),
            dir,
            rights,
            name,
            tmp,
            file: Some(file),
        })
    }

    /// Writes `pid` and a newline and renames the file over the pidfile path.
    pub fn commit(mut self, pid: Pid) -> Result<()> {
        let mut file = self.file.take().expect("commit runs once");
        let written = file
            .write_all(format_pid_content(pid.get()).as_bytes())
            .and_then(|()| with_rights(self.rights, || self.dir.rename(&self.tmp, &self.name)));
        if written.is_err() {
            let _ = with_rights(self.rights, || self.dir.unlink(&self.tmp));
        }
        written
            .map_err(os_error)
            .with_context(|| format!("cannot write pidfile '{}'", self.path.display()))
    }
}

impl Drop for PidfileWriter {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = with_rights(self.rights, || self.dir.unlink(&self.tmp));
        }
    }
}

/// A number no other user can guess, for a temporary name: std's hasher keys are drawn from
/// the kernel's randomness.
pub(crate) fn unguessable() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

/// Whether `rest`, what follows `.NAME.pid.` in a name before `.tmp`, is of a fallback
/// temporary pidfile: `PID.HEX` (or `PID`, of an older rdaemon).
fn is_fallback_suffix(rest: &str) -> bool {
    let (pid, random) = rest.split_once('.').unwrap_or((rest, "0"));
    !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && !random.is_empty()
        && random.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Removes temporary pidfiles of the fallback form (`.NAME.pid.PID.HEX.tmp`, or
/// `.NAME.pid.PID.tmp` of an older rdaemon) left by an rdaemon that was killed while starting.
/// The caller holds the name's lock, so no live writer owns one.
fn remove_stale_temporaries(dir: &Dir, rights: Option<Rights>, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir.path()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(text) = name.to_str() else { continue };
        let is_ours = text
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .is_some_and(is_fallback_suffix);
        if is_ours {
            let _ = with_rights(rights, || dir.unlink(&name));
        }
    }
}

/// Fails if something other than a regular file is at `path`: rdaemon never writes or removes
/// a pidfile through a symlink, nor removes a directory, a FIFO, a socket or a device it did
/// not make. `start` and `restart` check it before anything starts or stops (`restart` would
/// otherwise stop the daemon, then fail to remove the FIFO its start found).
/// Also fails if its directory cannot be reached the safe way (a symlink another user made on
/// the way).
pub fn refuse_non_regular(path: &Path) -> Result<()> {
    refuse_unusable(path, true)
}

/// [`refuse_non_regular`] for the writer, which replaces a FIFO, socket or device at the path
/// with its rename (a respawn monitor must not fail its restart over one) but never writes
/// through a symlink or over a directory.
fn refuse_symlink(path: &Path) -> Result<()> {
    refuse_unusable(path, false)
}

fn refuse_unusable(path: &Path, strict: bool) -> Result<()> {
    let Some((dir, name)) = crate::fsx::parent_of(path)
        .with_context(|| format!("cannot use pidfile '{}'", path.display()))?
    else {
        return Ok(());
    };
    let kind = dir
        .stat(&name)
        .ok()
        .flatten()
        .map(|st| SFlag::from_bits_truncate(st.st_mode & nix::libc::S_IFMT));
    match kind {
        None | Some(SFlag::S_IFREG) => Ok(()),
        // The writer renames over it; what it refuses is only what it would follow or hide.
        Some(SFlag::S_IFIFO | SFlag::S_IFSOCK | SFlag::S_IFCHR | SFlag::S_IFBLK) if !strict => {
            Ok(())
        }
        Some(SFlag::S_IFLNK) => bail!(
            "refusing pidfile '{}': it is a symlink, and rdaemon does not follow symlinks at a pidfile path",
            path.display()
        ),
        Some(SFlag::S_IFDIR) => {
            bail!("invalid pidfile '{}': it is a directory", path.display())
        }
        Some(other) => bail!(
            "refusing pidfile '{}': it is {}, not a regular file; remove it if it is no one's",
            path.display(),
            crate::fsx::describe_kind(other)
        ),
    }
}

/// Removes the pidfile if it still names `pid`. Returns whether it did.
pub fn remove_if_pid(path: &Path, pid: Pid) -> Result<bool> {
    match read(path, false) {
        Content::Valid { pid: p, .. } if p == pid => remove(path).map(|()| true),
        _ => Ok(false),
    }
}

/// Removes the pidfile if it is an empty regular file (a program stopped between creating it and
/// writing its pid). Returns whether it did.
pub fn remove_if_empty(path: &Path) -> Result<bool> {
    let Some((dir, name)) = crate::fsx::parent_of(path)? else {
        return Ok(false);
    };
    match dir.stat(&name) {
        Ok(Some(st)) if st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFREG && st.st_size == 0 => {
            remove(path).map(|()| true)
        }
        _ => Ok(false),
    }
}

/// Removes a stale or invalid pidfile (a regular file only: never a symlink's target), through
/// its directory's safe handle: a symlink another user made on the way is not followed. As
/// root, where another user can change the way to it, with the rights of that directory's or
/// file's owner, never root's ([`crate::fsx::rights_to_remove`]).
pub fn remove(path: &Path) -> Result<()> {
    let fail = || format!("cannot remove pidfile '{}'", path.display());
    let Some((dir, name)) = crate::fsx::parent_of(path).with_context(fail)? else {
        return Ok(());
    };
    match dir.stat(&name).map_err(os_error).with_context(fail)? {
        None => Ok(()),
        Some(st) if st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFREG => {
            let rights = crate::fsx::rights_to_remove(&dir, &st).map_err(|why| {
                anyhow::anyhow!("refusing to remove pidfile '{}': {why}", path.display())
            })?;
            match with_rights(rights, || dir.unlink(&name)) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other.map_err(os_error).with_context(fail),
            }
        }
        Some(_) => bail!(
            "refusing to remove '{}': it is not a regular file",
            path.display()
        ),
    }
}

/// How long [`NameLock::acquire`] waits for a busy lock before giving up, unless
/// `RDAEMON_LOCK_TIMEOUT` (a duration) says otherwise.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(60);
/// After this long waiting, [`NameLock::acquire`] says on stderr who holds the lock.
const LOCK_TELL_AFTER: Duration = Duration::from_secs(1);
/// The lock file's mode: its owner's only, so that no other user can open it to `flock` it
/// (`flock` works on a read-only fd).
pub const LOCK_MODE: u32 = 0o600;

/// An exclusive `flock` on `DIR/NAME.lock`, held until dropped.
///
/// The lock file is created `O_EXCL | O_NOFOLLOW` with mode 0600 through the rdaemon
/// directory's handle, and opened read-only (which is all `flock` needs, so a read-only rdaemon
/// directory does not make daemons unstoppable); an existing one must be a regular file of
/// rdaemon's user with one link. One that others could open (0644, from before) is replaced.
#[derive(Debug)]
pub struct NameLock {
    path: PathBuf,
    dir: Arc<Dir>,
    name: OsString,
    /// `None` only when the directory is read-only and holds no lock file: nothing can start
    /// there, so there is nothing to exclude.
    _lock: Option<Flock<File>>,
}

impl NameLock {
    /// Waits until the lock on `path` is ours. If another rdaemon removed the lock file while we
    /// waited (`forget`), we locked a dead inode: take the new one instead. After a second, says
    /// on stderr who holds it; after `RDAEMON_LOCK_TIMEOUT` (default [`LOCK_TIMEOUT`]) gives up
    /// with an error naming the holder.
    pub fn acquire(path: &Path) -> Result<NameLock> {
        Ok(Self::lock(path, true)?.expect("a blocking lock is always taken"))
    }

    /// Takes the lock on `path` if nobody holds it; `Ok(None)` when it is busy. Never blocks: the
    /// respawn monitor uses it, because `stop` holds the lock while it waits for the monitor.
    pub fn try_acquire(path: &Path) -> Result<Option<NameLock>> {
        Self::lock(path, false)
    }

    fn lock(path: &Path, block: bool) -> Result<Option<NameLock>> {
        let fail = || format!("cannot lock '{}'", path.display());
        let name = path
            .file_name()
            .with_context(|| format!("invalid lock path '{}'", path.display()))?
            .to_owned();
        let dir =
            crate::fsx::open_cached(path.parent().unwrap_or(Path::new("/"))).with_context(fail)?;
        let started = Instant::now();
        let timeout = lock_timeout();
        let mut told = false;
        loop {
            let Some(mut file) = open_lock_file(&dir, &name, path)? else {
                return Ok(Some(NameLock {
                    path: path.to_owned(),
                    dir,
                    name,
                    _lock: None,
                }));
            };
            let lock = loop {
                match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                    Ok(lock) => break lock,
                    Err((f, nix::errno::Errno::EWOULDBLOCK)) => {
                        if !block {
                            return Ok(None);
                        }
                        let waited = started.elapsed();
                        if waited >= timeout {
                            bail!(
                                "cannot lock '{}': {} has held it for more than {}; rdaemon gave up (RDAEMON_LOCK_TIMEOUT sets how long to wait)",
                                path.display(),
                                lock_holder(&f).unwrap_or_else(|| "another process".into()),
                                crate::parse::format_duration(timeout)
                            );
                        }
                        if !told && waited >= LOCK_TELL_AFTER {
                            told = true;
                            eprintln!(
                                "rdaemon: waiting for the lock '{}', held by {}",
                                path.display(),
                                lock_holder(&f).unwrap_or_else(|| "another process".into())
                            );
                        }
                        // `stop`'s Ctrl-C ends the wait: nothing was done yet.
                        if let Some(sig) = crate::process::interrupted() {
                            return Err(crate::exit::Fail::interrupted(
                                sig,
                                format!(
                                    "interrupted by SIG{} while waiting for the lock '{}', held by {}",
                                    crate::parse::signal_name(sig),
                                    path.display(),
                                    lock_holder(&f).unwrap_or_else(|| "another process".into())
                                ),
                            )
                            .into());
                        }
                        file = f;
                        std::thread::sleep(
                            Duration::from_millis(10)
                                .max(waited / 20)
                                .min(Duration::from_millis(100)),
                        );
                    }
                    Err((_, e)) => return Err(e).with_context(fail),
                }
            };
            // Locked a file that `forget` removed meanwhile: lock the one now at the path.
            let ours = lock.metadata()?.ino();
            if dir
                .stat(&name)
                .ok()
                .flatten()
                .is_some_and(|st| st.st_ino == ours)
            {
                return Ok(Some(NameLock {
                    path: path.to_owned(),
                    dir,
                    name,
                    _lock: Some(lock),
                }));
            }
        }
    }

    /// Removes the lock file while holding the lock (for `forget`).
    pub fn remove_file(&self) -> Result<()> {
        self.dir
            .unlink(&self.name)
            .map_err(os_error)
            .with_context(|| format!("cannot remove lock file '{}'", self.path.display()))
    }
}

/// `RDAEMON_LOCK_TIMEOUT`, or [`LOCK_TIMEOUT`].
fn lock_timeout() -> Duration {
    std::env::var("RDAEMON_LOCK_TIMEOUT")
        .ok()
        .and_then(|v| crate::parse::parse_duration(&v).ok())
        .unwrap_or(LOCK_TIMEOUT)
}

/// Opens the lock file `name` read-only, creating it (0600, exclusively) if missing. `None`
/// when it is missing and cannot be created because the directory is read-only.
fn open_lock_file(dir: &Dir, name: &OsStr, path: &Path) -> Result<Option<File>> {
    let fail = || format!("cannot open lock file '{}'", path.display());
    for _ in 0..8 {
        let file = match dir.create(name, OFlag::O_RDONLY, LOCK_MODE) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                match dir.open_file(name, OFlag::O_RDONLY, 0) {
                    Ok(f) => f,
                    // Removed (forget) between the two opens: create it again.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => {
                        return Err(anyhow::anyhow!(crate::fsx::open_reason(&e))).with_context(fail)
                    }
                }
            }
            Err(e) if e.raw_os_error() == Some(nix::libc::EROFS) => return Ok(None),
            Err(e) => return Err(os_error(e)).with_context(fail),
        };
        let st = crate::fsx::check_file(&file, crate::fsx::Kind::Regular, None)
            .map_err(|why| anyhow::anyhow!("refusing lock file '{}': {why}", path.display()))?;
        let me = nix::unistd::geteuid().as_raw();
        if st.st_uid != me {
            bail!(
                "refusing lock file '{}': it is owned by uid {}, not by rdaemon's user (uid {me})",
                path.display(),
                st.st_uid
            );
        }
        if st.st_mode & 0o077 == 0 {
            return Ok(Some(file));
        }
        // Others may open it (a lock file of an older rdaemon, 0644): replace it by a private
        // one. A waiter that locked the old inode notices and locks the new one.
        let tmp = OsString::from(format!(
            ".{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let _ = dir.unlink(&tmp);
        let replaced = dir
            .create(&tmp, OFlag::O_RDONLY, LOCK_MODE)
            .and_then(|_| dir.rename(&tmp, name));
        match replaced {
            Ok(()) => continue,
            // A read-only directory: the old file is all there is.
            Err(e) if e.raw_os_error() == Some(nix::libc::EROFS) => return Ok(Some(file)),
            Err(e) => {
                let _ = dir.unlink(&tmp);
                return Err(os_error(e)).with_context(fail);
            }
        }
    }
    bail!(
        "cannot open lock file '{}': it keeps changing",
        path.display()
    )
}

/// Who holds the `flock` on `file`: `pid N (COMMAND)`, from `/proc/locks` matched by device
/// and inode.
fn lock_holder(file: &File) -> Option<String> {
    let pid = holder_pid(&file.metadata().ok()?)?;
    let command = command_line(pid);
    Some(if command.is_empty() {
        format!("pid {pid}")
    } else {
        format!("pid {pid} ({})", command.join(" "))
    })
}

/// The pid of the process that holds a `flock` on the file `meta` describes, as
/// `/proc/locks` shows it (the process that took it).
fn holder_pid(meta: &fs::Metadata) -> Option<i32> {
    let dev = meta.dev();
    let (major, minor) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
    let locks = fs::read_to_string("/proc/locks").ok()?;
    for line in locks.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" ("->" marks a waiter).
        if fields.get(1) != Some(&"FLOCK") || fields.contains(&"->") {
            continue;
        }
        let (Some(pid), Some(id)) = (fields.get(4), fields.get(5)) else {
            continue;
        };
        let mut parts = id.split(':');
        let (Some(ma), Some(mi), Some(ino)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let same = u64::from_str_radix(ma, 16).ok() == Some(major)
            && u64::from_str_radix(mi, 16).ok() == Some(minor)
            && ino.parse::<u64>().ok() == Some(meta.ino());
        if same {
            return pid.parse().ok();
        }
    }
    None
}

/// The arguments of process `pid` (`/proc/PID/cmdline`); empty when unreadable.
fn command_line(pid: i32) -> Vec<String> {
    fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// The `rdaemon start` that holds the lock file at `path` now and waits (for its program to be
/// ready or to fork), pinned by a pidfd: a process running this very rdaemon binary with
/// `start` for its command, catching SIGTERM (a start catches it only when it has such a wait
/// to do, from before its launch, and then stops what it started and exits 143), still the
/// holder once pinned. `None` when the lock is free, or held by anything else (a start with
/// nothing to wait for, done in a moment; a `stop`, a `restart`, an `up`, a monitor).
pub fn pending_start(path: &Path) -> Option<crate::process::Process> {
    // Free (the usual case, a moment's try), or no lock file: nothing to look up.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    let file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(free) => {
            drop(free);
            return None;
        }
        Err((file, _)) => file,
    };
    let meta = file.metadata().ok()?;
    // A lock file only rdaemon's user can open (review, 2026-12-02: one left 0644 by an older
    // rdaemon let another user take the lock, with an rdaemon `start` of their own as holder).
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me || meta.mode() & 0o077 != 0 {
        return None;
    }
    let pid = holder_pid(&meta)?;
    let own = fs::metadata("/proc/self/exe").ok()?;
    let exe = fs::metadata(format!("/proc/{pid}/exe")).ok()?;
    if (exe.dev(), exe.ino()) != (own.dev(), own.ino())
        || subcommand(&command_line(pid)) != Some("start")
    {
        return None;
    }
    let process = crate::process::Process::open(crate::process::Pid::new(pid).ok()?).ok()?;
    // Pinned, and checked once pinned: still running as rdaemon's user, catching SIGTERM,
    // and holding the lock file open. `/proc/locks` names the process that took a lock, which
    // may have exited with a child of its own keeping it: its pid, reused, would name a
    // process that has nothing to do with this lock (review: another daemon's start).
    let waiting = process.catches(nix::sys::signal::Signal::SIGTERM)
        && runs_as(pid, me)
        && holds_open(pid, &meta);
    (waiting && holder_pid(&meta) == Some(pid) && !process.has_exited()).then_some(process)
}

/// Whether process `pid`'s real, effective, saved and file-system user ids are all `uid`.
fn runs_as(pid: i32, uid: u32) -> bool {
    crate::process::uids(pid).is_some_and(|ids| !ids.is_empty() && ids.iter().all(|&id| id == uid))
}

/// Whether process `pid` has the file `meta` describes open (one of its fds).
fn holds_open(pid: i32, meta: &fs::Metadata) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        fs::metadata(fd.path()).is_ok_and(|m| (m.dev(), m.ino()) == (meta.dev(), meta.ino()))
    })
}

/// The subcommand of an rdaemon command line: its first word that is neither a global option
/// (`-q`, `-v`, `--verbose`, `--dir=DIR`) nor the value of `--dir DIR` (SPEC §1: global options
/// may come first).
fn subcommand(argv: &[String]) -> Option<&str> {
    let mut words = argv.iter().skip(1).map(String::as_str);
    while let Some(word) = words.next() {
        match word {
            "--dir" => {
                words.next();
            }
            "--" => return words.next(),
            w if w.starts_with('-') => {}
            w => return Some(w),
        }
    }
    None
}

/// Their home is `exit` (one rendering of OS errors); re-exported for the callers of old.
pub use crate::exit::{os_error, os_reason};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subcommand_comes_after_the_global_options() {
        let argv = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        for words in [
            &["rdaemon", "start", "--name", "x"][..],
            &["rdaemon", "--dir", "/d", "start", "x"],
            &["rdaemon", "--dir=/d", "-q", "start"],
            &["/usr/bin/rdaemon", "-vv", "--dir", "start", "start"],
        ] {
            assert_eq!(subcommand(&argv(words)), Some("start"), "{words:?}");
        }
        assert_eq!(subcommand(&argv(&["rdaemon", "--dir", "start"])), None);
        assert_eq!(subcommand(&argv(&["rdaemon", "up", "start"])), Some("up"));
    }

    #[test]
    fn write_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        let pid = Pid::new(4242).unwrap();
        PidfileWriter::prepare(&path, None)
            .unwrap()
            .commit(pid)
            .unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "4242\n");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o644);
        assert!(matches!(read(&path, false), Content::Valid { pid: p, trusted: true } if p == pid));
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temp file left behind"
        );
    }

    #[test]
    fn the_temporary_of_a_killed_start_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        fs::write(dir.path().join(".x.pid.tmp"), "12").unwrap();
        fs::write(dir.path().join(".y.pid.tmp"), "").unwrap();
        PidfileWriter::prepare(&path, None)
            .unwrap()
            .commit(Pid::new(4242).unwrap())
            .unwrap();
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [".y.pid.tmp", "x.pid"]);
        assert_eq!(fs::read_to_string(&path).unwrap(), "4242\n");
    }

    #[test]
    fn temporaries_of_a_killed_start_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        // The fixed name cannot be had (here: a directory holds it): the fallback form is used,
        // and its stale files are removed.
        fs::create_dir(dir.path().join(".x.pid.tmp")).unwrap();
        fs::write(dir.path().join(".x.pid.12345.tmp"), "").unwrap();
        fs::write(dir.path().join(".x.pid.12345.00c0ffee00c0ffee.tmp"), "").unwrap();
        fs::write(dir.path().join(".y.pid.12345.tmp"), "").unwrap();
        fs::write(dir.path().join(".x.pid.abc.tmp"), "").unwrap();
        // The name of this pid taken (by a directory, which is not removed): another is used.
        let own = format!(".x.pid.{}.tmp", std::process::id());
        fs::create_dir(dir.path().join(&own)).unwrap();
        PidfileWriter::prepare(&path, None)
            .unwrap()
            .commit(Pid::new(4242).unwrap())
            .unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "4242\n");
        fs::remove_dir(dir.path().join(&own)).unwrap();
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [".x.pid.abc.tmp", ".x.pid.tmp", ".y.pid.12345.tmp", "x.pid"]
        );
    }

    #[test]
    fn uncommitted_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        drop(PidfileWriter::prepare(&path, None).unwrap());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn symlinks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, "4242\n").unwrap();
        let link = dir.path().join("x.pid");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(read(&link, false), Content::Invalid(why) if why.contains("symlink")));
        assert!(PidfileWriter::prepare(&link, None).is_err());
        assert!(remove(&link).is_err());
        assert_eq!(fs::read_to_string(&target).unwrap(), "4242\n");
    }

    #[test]
    fn garbage_is_invalid_and_missing_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        assert_eq!(read(&path, false), Content::Missing);
        fs::write(&path, vec![b'7'; 5 << 20]).unwrap();
        assert!(matches!(read(&path, false), Content::Invalid(_)));
        fs::write(&path, "1\n").unwrap();
        assert!(matches!(read(&path, false), Content::Invalid(_)));
    }

    #[test]
    fn own_pid_is_recognised_and_only_then_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        fs::write(&path, format!("{}\n", std::process::id())).unwrap();
        assert!(names_self(&path));
        assert!(matches!(read(&path, false), Content::Invalid(_)));
        fs::write(&path, "4242\n").unwrap();
        assert!(!remove_if_self(&path).unwrap());
        assert!(path.exists());
        fs::write(&path, format!("{}\n", std::process::id())).unwrap();
        assert!(remove_if_self(&path).unwrap());
        assert!(!path.exists());
        assert!(!remove_if_self(&path).unwrap());
    }

    #[test]
    fn try_lock_does_not_block_on_a_held_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let held = NameLock::acquire(&path).unwrap();
        // flock locks belong to the open file description: a second open conflicts even in the
        // same process.
        assert!(NameLock::try_acquire(&path).unwrap().is_none());
        drop(held);
        assert!(NameLock::try_acquire(&path).unwrap().is_some());
    }

    #[test]
    fn lock_survives_removal_by_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let lock = NameLock::acquire(&path).unwrap();
        lock.remove_file().unwrap();
        drop(lock);
        let again = NameLock::acquire(&path).unwrap();
        assert!(path.exists());
        drop(again);
    }
}
