//! Files opened the safe way (issue 11): no file operation rdaemon performs as root can be
//! redirected by another user.
//!
//! A directory is opened once ([`Dir::open`]): component by component from `/`, each with
//! `O_NOFOLLOW`, a symlink followed only when nobody but root (or rdaemon's own user) could
//! have made it, the result checked with `fstat`. Everything after goes through that fd:
//! `openat`, `renameat`, `unlinkat`, `fstatat` of one plain name (never a path with a `/`), so
//! swapping the directory's path afterwards changes nothing. Names are opened with
//! `O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC` and the opened file is checked with
//! `fstat` ([`check_file`]); new files are created with `O_CREAT | O_EXCL` and a fixed mode,
//! never one copied from an existing file. [`with_rights`] runs file operations with the
//! daemon user's file-system ids (`setfsuid`/`setfsgid`, per thread in the kernel), for a
//! directory that user can write.
//!
//! Must not: follow a symlink another user could have planted, open a FIFO blocking, create a
//! file with set-id bits.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{fcntl, openat, readlinkat, renameat, FcntlArg, OFlag, AT_FDCWD};
use nix::sys::stat::{fstat, fstatat, FileStat, Mode, SFlag};
use nix::unistd::{geteuid, setfsgid, setfsuid, unlinkat, Gid, Uid, UnlinkatFlags};

use crate::daemonize::Credentials;

/// How many symlinks [`Dir::open`] follows before giving up (the kernel's `MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;

/// The directory `path`, opened once per process: every later call with the same path gets the
/// same handle, so that a directory checked once is the one used for everything after (its path
/// can be swapped meanwhile: the handle still names the directory that was checked).
pub fn open_cached(path: &Path) -> Result<std::sync::Arc<Dir>> {
    static OPENED: std::sync::Mutex<Vec<std::sync::Arc<Dir>>> = std::sync::Mutex::new(Vec::new());
    let path = std::path::absolute(path)
        .map_err(|e| anyhow::anyhow!("invalid path '{}': {e}", path.display()))?;
    let mut opened = OPENED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = opened.iter().find(|d| d.path == path) {
        return Ok(dir.clone());
    }
    let dir = std::sync::Arc::new(Dir::open(&path)?);
    opened.push(dir.clone());
    Ok(dir)
}

/// A directory opened once, without following symlinks another user could have made.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
    stat: FileStat,
    /// The first directory on the way to it in which another user could rename or replace
    /// what the walk went through next ([`Exposed`]); `None` when no one but root and
    /// rdaemon's own user could have changed where the path leads.
    exposed: Option<Exposed>,
}

/// A directory on the way to a [`Dir`] that another user can change: owned by someone other
/// than root and rdaemon's user, or writable by others (and not sticky, or sticky but the entry
/// walked through is another user's). Whoever can change it can swap the directories beneath
/// for others (a root directory of another service's files included), so nothing beneath is
/// protected, however its own owner and mode look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposed {
    /// Its path, as walked.
    pub path: PathBuf,
    /// Its owner.
    pub uid: u32,
    /// Its permission bits.
    pub mode: u32,
}

impl Dir {
    /// Opens the directory `path` (made absolute against the current directory) as described in
    /// the module header. The error names the path and why.
    pub fn open(path: &Path) -> Result<Dir> {
        Dir::open_quiet(path)
            .map_err(|why| anyhow::anyhow!("cannot open directory '{}': {why}", path.display()))
    }

    /// [`Dir::open`] with an error that only says why (the caller names what it wanted).
    fn open_quiet(path: &Path) -> Result<Dir, String> {
        let path = std::path::absolute(path).map_err(|e| e.to_string())?;
        let (fd, exposed) = chase(&path)?;
        let stat = fstat(&fd).map_err(|e| e.desc().to_owned())?;
        Ok(Dir {
            fd,
            path,
            stat,
            exposed,
        })
    }

    /// Opens the directory holding `file` and returns it with the file's name in it. The error
    /// says only why (`Not a directory`): the caller names the file.
    pub fn open_parent(file: &Path) -> Result<(Dir, OsString)> {
        let file = std::path::absolute(file)
            .map_err(|e| anyhow::anyhow!("invalid path '{}': {e}", file.display()))?;
        let name = match file.file_name() {
            Some(n) => n.to_owned(),
            None => bail!("invalid path '{}': it names no file", file.display()),
        };
        let dir = file.parent().unwrap_or(Path::new("/"));
        Ok((
            Dir::open_quiet(dir).map_err(|why| anyhow::anyhow!(why))?,
            name,
        ))
    }

    /// The directory `name` in it, made with `mode` if it is not there, and opened without
    /// following a symlink: one another user put at that name, or a directory of theirs, is
    /// refused (in a sticky directory anyone may create the name between a look and the make).
    pub fn make_subdir(&self, name: &OsStr, mode: u32) -> io::Result<Dir> {
        match nix::sys::stat::mkdirat(&self.fd, name, Mode::from_bits_truncate(mode)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e.into()),
        }
        let path = self.path.join(name);
        let fd = openat(
            &self.fd,
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            Errno::ELOOP | Errno::ENOTDIR => {
                let kind = fstatat(&self.fd, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
                    .map_or("something else", |st| {
                        describe_kind(SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()))
                    });
                io::Error::other(format!(
                    "'{}' is not a directory but {kind}, which another user may have put there",
                    path.display()
                ))
            }
            e => e.into(),
        })?;
        let stat = fstat(&fd)?;
        if !is_ours(stat.st_uid) {
            return Err(io::Error::other(format!(
                "'{}' is a directory of uid {}, not made by rdaemon",
                path.display(),
                stat.st_uid
            )));
        }
        Ok(Dir {
            fd,
            path,
            stat,
            exposed: self.exposed.clone(),
        })
    }

    /// The path the directory was opened by (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `DIR/NAME`, for messages.
    pub fn join(&self, name: &OsStr) -> PathBuf {
        self.path.join(name)
    }

    /// A fresh `fstat` of the directory (owner and mode may have changed since it was opened).
    pub fn restat(&self) -> io::Result<FileStat> {
        Ok(fstat(&self.fd)?)
    }

    /// Whether no user but root and rdaemon's own can change what it holds ([`protected`],
    /// from a fresh `fstat`), nor, through a directory above it, which directory its path
    /// leads to ([`Dir::exposed`]).
    pub fn is_protected(&self) -> bool {
        self.exposed.is_none() && self.restat().is_ok_and(|st| protected(&st))
    }

    /// The first directory above it that another user can change, if any ([`Exposed`]).
    pub fn exposed(&self) -> Option<&Exposed> {
        self.exposed.as_ref()
    }

    /// The permission bits.
    pub fn mode(&self) -> u32 {
        self.stat.st_mode & 0o7777
    }

    /// Whether a process with `creds` may create and rename files in it (the permission bits
    /// only, as the kernel checks them for a user without capabilities).
    pub fn writable_by(&self, creds: &Credentials) -> bool {
        let bits = 0o3 << class_shift(creds, self.stat.st_uid, self.stat.st_gid);
        self.mode() & bits == bits
    }

    /// Opens the file `name` with `flags` plus `O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC`
    /// (and `mode` when creating). `O_NONBLOCK` is cleared again once open, so that a FIFO
    /// cannot hang the open but the caller gets an ordinary file.
    pub fn open_file(&self, name: &OsStr, flags: OFlag, mode: u32) -> io::Result<File> {
        plain_name(name)?;
        let fd = openat(
            &self.fd,
            name,
            flags | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode),
        )?;
        let fl = OFlag::from_bits_truncate(fcntl(&fd, FcntlArg::F_GETFL)?);
        fcntl(&fd, FcntlArg::F_SETFL(fl - OFlag::O_NONBLOCK))?;
        Ok(File::from(fd))
    }

    /// [`Dir::open_file`] for a file that is read only once [`check_file`] found it regular:
    /// `O_NONBLOCK` (which guards the open against a FIFO) stays set, as it changes nothing
    /// for a regular file, which saves two `fcntl` calls per file (`list` reads two per daemon).
    pub fn open_regular(&self, name: &OsStr) -> io::Result<File> {
        plain_name(name)?;
        let flags = OFlag::O_RDONLY
            | OFlag::O_NOFOLLOW
            | OFlag::O_NONBLOCK
            | OFlag::O_NOCTTY
            | OFlag::O_CLOEXEC;
        Ok(File::from(openat(&self.fd, name, flags, Mode::empty())?))
    }

    /// Creates `name` exclusively (`O_CREAT | O_EXCL`, never through a symlink) with exactly
    /// `mode` (no set-id bits, whatever the umask), open with `flags`.
    ///
    /// No `O_NONBLOCK` here: `O_EXCL` fails on any existing name (a FIFO, a symlink), so the
    /// file opened is always the regular file just made, which saves two `fcntl` calls.
    pub fn create(&self, name: &OsStr, flags: OFlag, mode: u32) -> io::Result<File> {
        plain_name(name)?;
        let mode = mode & 0o777;
        let fd = openat(
            &self.fd,
            name,
            flags
                | OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_NOFOLLOW
                | OFlag::O_NOCTTY
                | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode),
        )?;
        nix::sys::stat::fchmod(&fd, Mode::from_bits_truncate(mode))?;
        Ok(File::from(fd))
    }

    /// `renameat` within the directory.
    pub fn rename(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        plain_name(from)?;
        plain_name(to)?;
        Ok(renameat(&self.fd, from, &self.fd, to)?)
    }

    /// `unlinkat` of a file (not a directory) in the directory.
    pub fn unlink(&self, name: &OsStr) -> io::Result<()> {
        plain_name(name)?;
        Ok(unlinkat(&self.fd, name, UnlinkatFlags::NoRemoveDir)?)
    }

    /// `fstatat` of `name`, not following a symlink; `None` when it does not exist.
    pub fn stat(&self, name: &OsStr) -> io::Result<Option<FileStat>> {
        plain_name(name)?;
        match fstatat(&self.fd, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Refuses a name that is not one plain path component.
fn plain_name(name: &OsStr) -> io::Result<()> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.contains(&b'/') || name == "." || name == ".." {
        return Err(io::Error::other(format!(
            "'{}' is not a plain file name",
            name.to_string_lossy()
        )));
    }
    Ok(())
}

/// Whether `uid` is root or rdaemon's own user.
fn is_ours(uid: u32) -> bool {
    uid == 0 || uid == geteuid().as_raw()
}

/// Whether no user but root and rdaemon's own can change what the directory `st` holds: it is
/// owned by one of them and is either writable by no group or other user, or sticky (there only
/// a file's owner may rename or remove it).
fn protected(st: &FileStat) -> bool {
    is_ours(st.st_uid) && (st.st_mode & 0o022 == 0 || st.st_mode & 0o1000 != 0)
}

/// SPEC §4: as root, a file rdaemon writes with its own rights (`rights` is `None`) is only
/// ever in a directory no other user can write, or a sticky one, as the rdaemon directory
/// is: elsewhere another user could rename it away or put their own file in its place. (With
/// the daemon user's rights, [`Rights`], what rdaemon writes there is that user's.) `what`
/// and `file` name it in the error.
pub fn refuse_shared_dir(dir: &Dir, rights: Option<Rights>, what: &str, file: &Path) -> Result<()> {
    if rights.is_some() || !geteuid().is_root() {
        return Ok(());
    }
    if let Some(above) = &dir.exposed {
        bail!(
            "refusing to write {what} '{}': other users can change '{}' on the way to it (owner uid {}, mode {:03o}) and so swap the directories beneath; as root, rdaemon writes only where every directory on the way is root's (or rdaemon's) and writable by no one else, or sticky (or with --user, as the user who owns the file's directory)",
            file.display(),
            above.path.display(),
            above.uid,
            above.mode
        );
    }
    if protected(&dir.stat) {
        return Ok(());
    }
    bail!(
        "refusing to write {what} '{}': other users can write to '{}' (owner uid {}, mode {:03o}); as root, rdaemon writes only in a directory no other user can write, or a sticky one such as /tmp (or with --user, as the user who owns the directory)",
        file.display(),
        dir.path().display(),
        dir.stat.st_uid,
        dir.stat.st_mode & 0o7777
    )
}

/// Walks `path` (absolute) from `/`, one component at a time with `O_PATH | O_NOFOLLOW`. A
/// symlink is followed only if owned by root or rdaemon's user and in a directory that no one
/// else can write (or a sticky one), so another user cannot have made or replaced it. Also
/// returns the first directory on the way that another user could change ([`Exposed`]).
fn chase(path: &Path) -> Result<(OwnedFd, Option<Exposed>), String> {
    let open = |dir: &OwnedFd, name: &OsStr| {
        openat(
            dir,
            name,
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    };
    let root = || {
        openat(
            AT_FDCWD,
            "/",
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| e.desc().to_owned())
    };
    let mut todo: Vec<OsString> = Vec::new();
    push_components(&mut todo, path);
    let mut cur = root()?;
    let mut walked = PathBuf::from("/");
    let mut hops = 0;
    let mut exposed = None;
    while let Some(name) = todo.pop() {
        let fd = open(&cur, &name).map_err(|e| e.desc().to_owned())?;
        let st = fstat(&fd).map_err(|e| e.desc().to_owned())?;
        let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        // `..` leads back to a directory the walk went through, already judged.
        if exposed.is_none() && name != ".." {
            let parent = fstat(&cur).map_err(|e| e.desc().to_owned())?;
            if !keeps_entry(&parent, &st) {
                exposed = Some(Exposed {
                    path: walked.clone(),
                    uid: parent.st_uid,
                    mode: parent.st_mode & 0o7777,
                });
            }
        }
        if kind == SFlag::S_IFDIR {
            walked = if name == ".." {
                walked.parent().unwrap_or(Path::new("/")).to_owned()
            } else {
                walked.join(&name)
            };
            cur = fd;
            continue;
        }
        if kind != SFlag::S_IFLNK {
            return Err(Errno::ENOTDIR.desc().to_owned());
        }
        let parent = fstat(&cur).map_err(|e| e.desc().to_owned())?;
        if !is_ours(st.st_uid) || !protected(&parent) {
            return Err(format!(
                "'{}' is a symlink another user could have made (owner uid {}), and rdaemon does not follow those",
                walked.join(&name).display(),
                st.st_uid
            ));
        }
        hops += 1;
        if hops > MAX_SYMLINKS {
            return Err(Errno::ELOOP.desc().to_owned());
        }
        let target = readlinkat(&cur, name.as_os_str()).map_err(|e| e.desc().to_owned())?;
        let target = PathBuf::from(target);
        if target.is_absolute() {
            cur = root()?;
            walked = PathBuf::from("/");
        }
        push_components(&mut todo, &target);
    }
    Ok((cur, exposed))
}

/// Whether no user but root and rdaemon's own can rename or replace the entry `entry` of the
/// directory `dir`: `dir` is theirs and writable by no one else, or sticky with `entry` theirs
/// (there only an entry's owner, or the directory's, may rename it).
fn keeps_entry(dir: &FileStat, entry: &FileStat) -> bool {
    is_ours(dir.st_uid)
        && (dir.st_mode & 0o022 == 0 || (dir.st_mode & 0o1000 != 0 && is_ours(entry.st_uid)))
}

/// Pushes the components of `path` onto `todo` so that the first is popped first.
fn push_components(todo: &mut Vec<OsString>, path: &Path) {
    for c in path.components().rev() {
        match c {
            Component::Normal(n) => todo.push(n.to_owned()),
            Component::ParentDir => todo.push("..".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
}

/// Whose file-system rights file operations run with: the daemon's user, for a directory that
/// user can write (see [`with_rights`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rights {
    /// File-system uid.
    pub uid: u32,
    /// File-system gid.
    pub gid: u32,
}

impl Rights {
    /// The rights to use in `dir` for a daemon running with `creds`: the daemon's, when rdaemon
    /// is root, the daemon is another user and that user can write in `dir`; `None` (rdaemon's
    /// own) otherwise.
    pub fn for_dir(dir: &Dir, creds: Option<&Credentials>) -> Option<Rights> {
        let creds = creds?;
        if !geteuid().is_root() || creds.uid == 0 || !dir.writable_by(creds) {
            return None;
        }
        Some(Rights {
            uid: creds.uid,
            gid: creds.gid,
        })
    }

    /// The rights to read a file in `dir` with, for a daemon running with `creds`: as
    /// [`Rights::for_dir`], and also the daemon's beneath a directory another user can change
    /// ([`Dir::exposed`]), where that user could have swapped in a directory of root's: what
    /// root reads there for the daemon (an env file) is then only what the daemon's user could
    /// read itself.
    pub fn to_read(dir: &Dir, creds: Option<&Credentials>) -> Option<Rights> {
        let exposed = dir.exposed().is_some() && geteuid().is_root();
        Rights::for_dir(dir, creds).or_else(|| {
            let creds = creds.filter(|c| exposed && c.uid != 0)?;
            Some(Rights {
                uid: creds.uid,
                gid: creds.gid,
            })
        })
    }
}

/// Whether a process with `creds` may read the file `st` describes, by its permission bits (as
/// the kernel checks them for a user without capabilities). [`with_rights`] changes the
/// file-system ids but not the supplementary groups, and root's (group 0, often) would still
/// count: a file opened with a user's rights is checked with this too.
pub fn readable_by(st: &std::fs::Metadata, creds: &Credentials) -> bool {
    use std::os::unix::fs::MetadataExt;
    st.mode() & (0o4 << class_shift(creds, st.uid(), st.gid())) != 0
}

/// Whether a process with `creds` may create files in the directory `st` describes (write and
/// search), by its permission bits, as [`Dir::writable_by`] says of an open one.
pub fn dir_writable_by(st: &std::fs::Metadata, creds: &Credentials) -> bool {
    use std::os::unix::fs::MetadataExt;
    let bits = 0o3 << class_shift(creds, st.uid(), st.gid());
    st.mode() & bits == bits
}

/// Which permission bits apply to a process with `creds` on a file owned by `uid` and `gid`,
/// as the shift of the owner's (6), the group's (3) or the others' (0), as the kernel picks
/// them for a user without capabilities.
fn class_shift(creds: &Credentials, uid: u32, gid: u32) -> u32 {
    if creds.uid == uid {
        6
    } else if creds.gid == gid || creds.groups.contains(&gid) {
        3
    } else {
        0
    }
}

/// SPEC §4: the rights to remove the file `file` (its `lstat`) in `dir` with. As root, where
/// another user can change the directory or one above it ([`Dir::is_protected`]), never root's
/// own: someone could have swapped in a directory of root's for root to delete a file in it.
/// There the file is removed with the rights of the directory's owner when that is another
/// user, else with those of the file's owner when that is another user (the kernel then allows
/// only what that user could do); a file and a directory that are both root's are refused,
/// with the reason. `None` (rdaemon's own rights) where no other user can change the way.
pub fn rights_to_remove(dir: &Dir, file: &FileStat) -> Result<Option<Rights>, String> {
    if !geteuid().is_root() || dir.is_protected() {
        return Ok(None);
    }
    let st = dir.restat().map_err(|e| e.to_string())?;
    if !is_ours(st.st_uid) {
        return Ok(Some(Rights {
            uid: st.st_uid,
            gid: st.st_gid,
        }));
    }
    if !is_ours(file.st_uid) {
        return Ok(Some(Rights {
            uid: file.st_uid,
            gid: file.st_gid,
        }));
    }
    let (path, uid, mode) = match &dir.exposed {
        Some(above) => (above.path.as_path(), above.uid, above.mode),
        None => (dir.path(), st.st_uid, st.st_mode & 0o7777),
    };
    Err(format!(
        "other users can change '{}' (owner uid {uid}, mode {mode:03o}), and the file is root's: as root, rdaemon removes a file there only with the rights of the user who owns it or its directory",
        path.display()
    ))
}

/// A file whose content rdaemon acts on with root's rights (an up file: its commands run as
/// root unless an entry names a user). As root, only a regular file that root (or rdaemon's
/// user) owns and no other user can write, reached through directories no other user can
/// change and symlinks that are root's there: as sshd does with its configuration, since
/// whoever could write or swap the file would run commands as root. Returns the file's own path
/// (symlinks resolved); a missing file is returned as it is, for the caller's read to say so.
/// The error says why, without the path. Not root: the path with its symlinks resolved as the
/// user may (a `rdaemon.toml` that links to `rdaemon.prod.toml`), for a read that follows none
/// (helper-107's review: a linked up file no longer opened).
pub fn trusted_by_root(path: &Path) -> Result<PathBuf, String> {
    if !geteuid().is_root() {
        return Ok(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()));
    }
    let mut path = std::path::absolute(path).map_err(|e| e.to_string())?;
    // The kernel's own limit on symlinks in one lookup.
    for _ in 0..40 {
        let Some(name) = path.file_name().map(OsStr::to_owned) else {
            return Err("it names no file".into());
        };
        let parent = path.parent().unwrap_or(Path::new("/")).to_owned();
        let dir = Dir::open_quiet(&parent)?;
        if let Some(above) = &dir.exposed {
            return Err(format!(
                "other users can change '{}' on the way to it (owner uid {}, mode {:03o})",
                above.path.display(),
                above.uid,
                above.mode
            ));
        }
        if !protected(&dir.stat) {
            return Err(format!(
                "other users can write to '{}' (owner uid {}, mode {:03o})",
                dir.path().display(),
                dir.stat.st_uid,
                dir.stat.st_mode & 0o7777
            ));
        }
        let Some(st) = dir.stat(&name).map_err(|e| e.to_string())? else {
            return Ok(path);
        };
        let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        if !is_ours(st.st_uid) {
            return Err(format!(
                "it is {} owned by uid {}",
                match kind {
                    SFlag::S_IFLNK => "a symlink",
                    _ => "a file",
                },
                st.st_uid
            ));
        }
        match kind {
            SFlag::S_IFLNK => {
                let target = readlinkat(&dir.fd, name.as_os_str()).map_err(|e| e.desc())?;
                path = parent.join(target);
            }
            SFlag::S_IFREG if st.st_mode & 0o022 != 0 => {
                return Err(format!(
                    "other users can write it (mode {:03o})",
                    st.st_mode & 0o7777
                ))
            }
            SFlag::S_IFREG => return Ok(path),
            // The caller's read says what else it is.
            _ => return Ok(path),
        }
    }
    Err("too many levels of symbolic links".into())
}

/// [`trusted_by_root`] for a file already opened through its directory's handle (`dir`), as
/// root reads it for a daemon that runs as root (its env file): the directory and every one on
/// the way to it changeable by no other user (or sticky), and the file itself a regular file
/// with one link, owned by root (or rdaemon's user), writable by no group or other user, with
/// no set-id bits. Whoever could write or swap it would choose what runs as root (a `PATH` or
/// `LD_PRELOAD` of theirs). The error says why, without the file's path. Not root: `Ok`.
pub fn trusted_by_root_at(dir: &Dir, file: &File) -> Result<(), String> {
    if !geteuid().is_root() {
        return Ok(());
    }
    if let Some(above) = &dir.exposed {
        return Err(format!(
            "other users can change '{}' on the way to it (owner uid {}, mode {:03o})",
            above.path.display(),
            above.uid,
            above.mode
        ));
    }
    let dst = dir.restat().map_err(|e| open_reason(&e))?;
    if !protected(&dst) {
        return Err(format!(
            "other users can write to '{}' (owner uid {}, mode {:03o})",
            dir.path().display(),
            dst.st_uid,
            dst.st_mode & 0o7777
        ));
    }
    let st = fstat(file.as_fd()).map_err(|e| e.desc().to_owned())?;
    let ft = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    if ft != SFlag::S_IFREG {
        return Err(format!("it is {}, not a regular file", describe_kind(ft)));
    }
    if !is_ours(st.st_uid) {
        return Err(format!("it is owned by uid {}, not root", st.st_uid));
    }
    if st.st_mode & 0o022 != 0 {
        return Err(format!(
            "other users can write it (mode {:03o})",
            st.st_mode & 0o7777
        ));
    }
    if st.st_nlink > 1 {
        return Err(format!(
            "it has {} hard links (another name could be another user's alias of it)",
            st.st_nlink
        ));
    }
    if st.st_mode & 0o6000 != 0 {
        return Err(format!(
            "it has set-id bits (mode {:04o})",
            st.st_mode & 0o7777
        ));
    }
    Ok(())
}

/// Runs `f` with the file-system uid and gid of `rights` (`setfsuid`/`setfsgid`: per thread,
/// and without root's file capabilities), then restores rdaemon's own. With `None`, just runs
/// `f`. Fails, without running `f`, if the kernel did not take the ids.
pub fn with_rights<T>(rights: Option<Rights>, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let Some(r) = rights else {
        return f();
    };
    let old_gid = setfsgid(Gid::from_raw(r.gid));
    let old_uid = setfsuid(Uid::from_raw(r.uid));
    // setfsuid only reports the previous id: an invalid one (-1) reads back the current one.
    let took = setfsuid(Uid::from_raw(u32::MAX)).as_raw() == r.uid
        && setfsgid(Gid::from_raw(u32::MAX)).as_raw() == r.gid;
    let out = if took {
        f()
    } else {
        Err(io::Error::other(format!(
            "cannot take the file-system ids of uid {} and gid {}",
            r.uid, r.gid
        )))
    };
    setfsuid(old_uid);
    setfsgid(old_gid);
    out
}

/// What kinds of file [`check_file`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file only.
    Regular,
    /// A regular file, or a character device (`/dev/null`, a terminal) that the caller named.
    RegularOrDevice,
}

/// Checks an opened file: of the right kind; for a regular file, no second hard link, owned by root,
/// rdaemon's user or `owner`, and no set-id bits. The error says why, without the path (the
/// caller adds it).
pub fn check_file(file: &File, kind: Kind, owner: Option<u32>) -> Result<FileStat, String> {
    let st = fstat(file.as_fd()).map_err(|e| e.desc().to_owned())?;
    let ft = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    if ft == SFlag::S_IFCHR && kind == Kind::RegularOrDevice {
        return Ok(st);
    }
    if ft != SFlag::S_IFREG {
        return Err(format!("it is {}, not a regular file", describe_kind(ft)));
    }
    // No link at all is fine: the name was replaced (renamed over) after the open, and what was
    // opened is the old file, a consistent one.
    if st.st_nlink > 1 {
        return Err(format!(
            "it has {} hard links (another name could be another user's alias of it)",
            st.st_nlink
        ));
    }
    if !is_ours(st.st_uid) && Some(st.st_uid) != owner {
        return Err(format!(
            "it is owned by uid {}, neither root nor the daemon's user",
            st.st_uid
        ));
    }
    if st.st_mode & 0o6000 != 0 {
        return Err(format!(
            "it has set-id bits (mode {:04o})",
            st.st_mode & 0o7777
        ));
    }
    Ok(st)
}

/// What kind of file `ft` is, for messages (`a FIFO`, `a symlink`).
pub fn describe_kind(ft: SFlag) -> &'static str {
    match ft {
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFCHR => "a character device",
        SFlag::S_IFBLK => "a block device",
        SFlag::S_IFLNK => "a symlink",
        _ => "something else",
    }
}

/// The reason for an open that failed, in rdaemon's words: `O_NOFOLLOW` on a symlink is ELOOP.
pub fn open_reason(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) if code == Errno::ELOOP as i32 => {
            "it is a symlink, and rdaemon does not follow symlinks there".into()
        }
        Some(code) if code == Errno::ENXIO as i32 => "it is a FIFO with no reader".into(),
        Some(code) => Errno::from_raw(code).desc().to_owned(),
        None => e.to_string(),
    }
}

/// The mode of a log file rdaemon creates for a daemon with `umask`: 0644, narrowed by the
/// umask (`--umask 077` gives 0600, `027` 0640), never widened (`--umask 000` still gives
/// 0644: a log others may write is no log).
pub fn log_mode(umask: u32) -> u32 {
    0o644 & !umask
}

/// A log file opened for appending (created with `mode`, see [`log_mode`], if missing) in
/// `dir`, with `rights`, checked with [`check_file`] (a character device such as `/dev/null` is
/// accepted). `read` adds read access (the monitor reads the last byte). Returns the file and
/// whether this created it.
pub fn open_log(
    dir: &Dir,
    name: &OsStr,
    rights: Option<Rights>,
    owner: Option<u32>,
    read: bool,
    mode: u32,
) -> Result<(File, bool)> {
    let path = dir.join(name);
    refuse_shared_dir(dir, rights, "log file", &path)?;
    let access = if read { OFlag::O_RDWR } else { OFlag::O_WRONLY };
    let opened = with_rights(rights, || {
        match dir.create(name, access | OFlag::O_APPEND, mode & 0o644) {
            Ok(f) => Ok((f, true)),
            Err(e) if e.raw_os_error() == Some(Errno::EEXIST as i32) => dir
                .open_file(name, access | OFlag::O_APPEND, 0)
                .map(|f| (f, false)),
            Err(e) => Err(e),
        }
    });
    let (file, created) = opened.map_err(|e| {
        let by = match rights {
            Some(r) => format!(
                " (opened with the rights of uid {}, who can write its directory)",
                r.uid
            ),
            None => String::new(),
        };
        anyhow::anyhow!(
            "cannot open log file '{}': {}{by}",
            path.display(),
            open_reason(&e)
        )
    })?;
    check_file(&file, Kind::RegularOrDevice, owner)
        .map_err(|why| anyhow::anyhow!("refusing log file '{}': {why}", path.display()))?;
    Ok((file, created))
}

/// The directory holding `file`, opened the safe way once per process ([`open_cached`]: no
/// symlink another user could have made is followed on the way), and the file's name in it.
/// `Ok(None)` when there is no such directory.
pub fn parent_of(file: &Path) -> Result<Option<(std::sync::Arc<Dir>, OsString)>> {
    let file = std::path::absolute(file)
        .map_err(|e| anyhow::anyhow!("invalid path '{}': {e}", file.display()))?;
    let Some(name) = file.file_name().map(OsStr::to_owned) else {
        bail!("invalid path '{}': it names no file", file.display());
    };
    let parent = file.parent().unwrap_or(Path::new("/"));
    match open_cached(parent) {
        Ok(dir) => Ok(Some((dir, name))),
        // Only to tell "missing" from "refused": the walk has already failed.
        Err(_) if std::fs::symlink_metadata(parent).is_err() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Why execve said "No such file or directory" of `program`, a file that exists: the
/// interpreter its `#!` line names is missing (or has a carriage return at its end: the script
/// was saved with DOS line endings), or so is the dynamic loader an ELF program names
/// (`PT_INTERP`: a program built for another system or C library). The file is read as
/// [`open_read`] reads it, its first page only; when it cannot be read that way (a symlink at
/// the last component, as root a file not everyone may read), the reason is said without it.
/// `None` when `program` does not exist.
pub fn missing_interpreter(program: &Path) -> Option<String> {
    use std::io::Read;
    std::fs::metadata(program).ok()?;
    let generic = "No such file or directory: the file exists, so the interpreter or the dynamic loader it needs is missing";
    let mut head = Vec::new();
    let read = open_read(program)
        .ok()
        .flatten()
        .and_then(|f| f.take(4096).read_to_end(&mut head).ok());
    if read.is_none() {
        return Some(generic.into());
    }
    let shown = |name: &[u8]| String::from_utf8_lossy(name).escape_debug().to_string();
    if let Some(line) = head.strip_prefix(b"#!") {
        let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = match line.iter().position(|&b| b != b' ' && b != b'\t') {
            Some(first) => &line[first..],
            None => return Some(format!("{generic} (its #! line names none)")),
        };
        let name = line
            .split(|&b| b == b' ' || b == b'\t')
            .next()
            .unwrap_or_default();
        return Some(match name.ends_with(b"\r") {
            true => format!(
                "its #! line names the interpreter '{}', which ends in a carriage return: the script has DOS line endings (CRLF)",
                shown(name)
            ),
            false => format!(
                "the interpreter its #! line names, '{}', does not exist",
                shown(name)
            ),
        });
    }
    match elf_interpreter(&head) {
        Some(name) => Some(format!(
            "the dynamic loader it needs, '{}', does not exist (a program built for another system or C library?)",
            shown(name)
        )),
        None => Some(generic.into()),
    }
}

/// The `PT_INTERP` path of the little-endian ELF file that `head` begins, when its program
/// headers and that path lie within `head`.
fn elf_interpreter(head: &[u8]) -> Option<&[u8]> {
    if !head.starts_with(b"\x7fELF") || head.get(5) != Some(&1) {
        return None;
    }
    let bytes = |at: usize, n: usize| head.get(at..at.checked_add(n)?);
    let uint = |at: usize, n: usize| -> Option<usize> {
        let b = bytes(at, n)?;
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(b);
        usize::try_from(u64::from_le_bytes(v)).ok()
    };
    // (e_phoff, e_phentsize, e_phnum) and, in a program header, (p_offset, p_filesz).
    let (header, entry) = match head.get(4) {
        Some(1) => ((0x1c, 4, 0x2a, 0x2c), (4, 4, 16)),
        Some(2) => ((0x20, 8, 0x36, 0x38), (8, 8, 32)),
        _ => return None,
    };
    let phoff = uint(header.0, header.1)?;
    let (size, count) = (uint(header.2, 2)?, uint(header.3, 2)?);
    for i in 0..count.min(64) {
        let at = phoff.checked_add(i.checked_mul(size)?)?;
        const PT_INTERP: usize = 3;
        if uint(at, 4)? != PT_INTERP {
            continue;
        }
        let (offset, len) = (uint(at + entry.0, entry.1)?, uint(at + entry.2, entry.1)?);
        let path = bytes(offset, len)?;
        return Some(path.split(|&b| b == 0).next().unwrap_or_default());
    }
    None
}

/// Opens a file to read it (a record, a log): through its directory's safe handle
/// ([`parent_of`]), `O_NOFOLLOW | O_NONBLOCK`, then checks that it is a regular file. As root,
/// beneath a directory another user can change ([`Exposed`]), a file that not everyone may
/// read is refused: that user could have swapped in a directory of root's (or of another
/// user's), to have its content shown (`logs`) or matched (`--ready log:`). The logs rdaemon
/// creates are 0644. So is, in a directory another user can change, a file with more than one
/// link. `Ok(None)` when it does not exist.
pub fn open_read(path: &Path) -> io::Result<Option<File>> {
    let Some((dir, name)) = parent_of(path).map_err(|e| io::Error::other(format!("{e:#}")))? else {
        return Ok(None);
    };
    let file = match dir.open_file(&name, OFlag::O_RDONLY, 0) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io::Error::other(open_reason(&e))),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        let ft = SFlag::from_bits_truncate(
            std::os::unix::fs::MetadataExt::mode(&meta) & SFlag::S_IFMT.bits(),
        );
        return Err(io::Error::other(format!(
            "it is {}, not a regular file",
            describe_kind(ft)
        )));
    }
    // A hard link to a file of root's, made where another user can create names (with
    // `fs.protected_hardlinks=0` the kernel lets anyone link any file): what it shows is not
    // that user's to see. rdaemon's own logs have one link. A sticky directory counts here:
    // its bit keeps others from renaming rdaemon's files, not from making names of their own.
    let others_make_names =
        || !dir.is_protected() || dir.restat().map_or(true, |st| st.st_mode & 0o022 != 0);
    if geteuid().is_root()
        && std::os::unix::fs::MetadataExt::nlink(&meta) > 1
        && others_make_names()
    {
        return Err(io::Error::other(format!(
            "it has {} hard links, and another user can change the directory it is in",
            std::os::unix::fs::MetadataExt::nlink(&meta)
        )));
    }
    if let Some(above) = dir.exposed().filter(|_| geteuid().is_root()) {
        use std::os::unix::fs::MetadataExt;
        if meta.mode() & 0o004 == 0 {
            return Err(io::Error::other(format!(
                "it is a private file (owner uid {}, mode {:03o}), and other users can change '{}' on the way to it (owner uid {}, mode {:03o})",
                meta.uid(),
                meta.mode() & 0o7777,
                above.path.display(),
                above.uid,
                above.mode
            )));
        }
    }
    Ok(Some(file))
}

/// A handle on the current directory, to come back to it with [`return_to`] after a change
/// of directory, also when the path that led there was removed or renamed meanwhile.
pub fn current_dir_handle() -> Result<OwnedFd> {
    nix::fcntl::open(
        ".",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .context("cannot open the current directory")
}

/// Goes back to the directory of [`current_dir_handle`].
pub fn return_to(dir: &OwnedFd) -> Result<()> {
    nix::unistd::fchdir(dir).context("cannot go back to the current directory")
}

/// Whether the kernel refuses this process write access to `path` for want of permission (not
/// for a read-only or missing file system, nor a missing path).
pub fn write_denied(path: &Path) -> bool {
    nix::unistd::access(path, nix::unistd::AccessFlags::W_OK) == Err(Errno::EACCES)
}

/// A pipe whose two ends are closed on exec.
pub fn cloexec_pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).context("cannot create a pipe")
}

/// Whether `fd` is a terminal.
pub fn is_terminal(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    nix::unistd::isatty(fd).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    /// A name another user took first, in a sticky directory, as a symlink or a directory of
    /// theirs: `make_subdir` refuses it and creates nothing where it leads (helper-119).
    #[test]
    fn make_subdir_never_goes_through_a_name_someone_else_made() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        let made = dir.make_subdir(OsStr::new("a"), 0o755).unwrap();
        made.make_subdir(OsStr::new("b"), 0o755).unwrap();
        assert!(tmp.path().join("a/b").is_dir());
        // Made again: the same directory, no error.
        dir.make_subdir(OsStr::new("a"), 0o755).unwrap();
        let victim = tmp.path().join("victim");
        std::fs::create_dir(&victim).unwrap();
        symlink(&victim, tmp.path().join("link")).unwrap();
        let err = dir.make_subdir(OsStr::new("link"), 0o755).unwrap_err();
        assert!(err.to_string().contains("a symlink"), "{err}");
        std::fs::write(tmp.path().join("file"), "").unwrap();
        let err = dir.make_subdir(OsStr::new("file"), 0o755).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
        if geteuid().is_root() {
            let theirs = tmp.path().join("theirs");
            std::fs::create_dir(&theirs).unwrap();
            nix::unistd::chown(&theirs, Some(Uid::from_raw(65534)), None).unwrap();
            let err = dir.make_subdir(OsStr::new("theirs"), 0o755).unwrap_err();
            assert!(err.to_string().contains("uid 65534"), "{err}");
        }
        assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0);
    }

    #[test]
    fn symlinked_file_and_fifo_are_refused_and_nothing_blocks() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        std::fs::write(tmp.path().join("target"), "x").unwrap();
        symlink(tmp.path().join("target"), tmp.path().join("link")).unwrap();
        let err = open_log(&dir, OsStr::new("link"), None, None, false, 0o644).unwrap_err();
        assert!(format!("{err:#}").contains("symlink"), "{err:#}");
        nix::unistd::mkfifo(&tmp.path().join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
        let err = open_log(&dir, OsStr::new("fifo"), None, None, false, 0o644).unwrap_err();
        assert!(format!("{err:#}").contains("FIFO"), "{err:#}");
        assert!(open_read(&tmp.path().join("fifo")).is_err());
        assert!(open_read(&tmp.path().join("link")).is_err());
        assert!(open_read(&tmp.path().join("missing")).unwrap().is_none());
    }

    #[test]
    fn a_missing_interpreter_is_named_from_the_shebang_or_the_elf_header() {
        let tmp = tempfile::tempdir().unwrap();
        let write = |name: &str, content: &[u8]| {
            let path = tmp.path().join(name);
            std::fs::write(&path, content).unwrap();
            path
        };
        let why = |path: &Path| missing_interpreter(path).unwrap();
        let script = write("a", b"#!/no/such/sh -e\necho\n");
        assert!(
            why(&script).contains("'/no/such/sh', does not exist"),
            "{}",
            why(&script)
        );
        let spaced = write("b", b"#! \t/no/such/sh\n");
        assert!(why(&spaced).contains("'/no/such/sh'"), "{}", why(&spaced));
        let dos = write("c", b"#!/bin/sh\r\necho\r\n");
        assert!(why(&dos).contains("'/bin/sh\\r'"), "{}", why(&dos));
        assert!(why(&dos).contains("DOS line endings"), "{}", why(&dos));
        assert!(why(&write("d", b"#!\n")).contains("names none"));
        // An ELF64 header whose one program header is a PT_INTERP naming /lib/ld-x.s.
        let mut elf = vec![0u8; 0x100];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[0x20] = 0x40; // e_phoff
        elf[0x36] = 56; // e_phentsize
        elf[0x38] = 1; // e_phnum
        elf[0x40] = 3; // p_type: PT_INTERP
        elf[0x48] = 0xc0; // p_offset
        elf[0x60] = 11; // p_filesz: the 11 bytes of the path
        elf[0xc0..0xcb].copy_from_slice(b"/lib/ld-x.s");
        assert_eq!(elf_interpreter(&elf), Some(&b"/lib/ld-x.s"[..]));
        let binary = write("e", &elf);
        assert!(
            why(&binary).contains("dynamic loader it needs, '/lib/ld-x.s'"),
            "{}",
            why(&binary)
        );
        // Headers that point outside what was read, or a big-endian file: the plain reason.
        elf[0x48] = 0xff;
        elf[0x50] = 1;
        assert_eq!(elf_interpreter(&elf), None);
        elf[5] = 2;
        assert_eq!(elf_interpreter(&elf), None);
        assert!(why(&write("f", b"\x7fELF")).contains("the file exists"));
        // Not read through a symlink; nothing said of a file that is not there.
        symlink(&script, tmp.path().join("link")).unwrap();
        assert!(why(&tmp.path().join("link")).contains("the file exists"));
        assert_eq!(missing_interpreter(&tmp.path().join("missing")), None);
    }

    #[test]
    fn new_files_get_a_fixed_mode_and_set_id_files_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        let (_, created) = open_log(&dir, OsStr::new("a.log"), None, None, false, 0o644).unwrap();
        assert!(created);
        let meta = std::fs::metadata(tmp.path().join("a.log")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o644);
        let (_, created) = open_log(&dir, OsStr::new("a.log"), None, None, false, 0o644).unwrap();
        assert!(!created);
        std::fs::set_permissions(
            tmp.path().join("a.log"),
            std::fs::Permissions::from_mode(0o4755),
        )
        .unwrap();
        let err = open_log(&dir, OsStr::new("a.log"), None, None, false, 0o644).unwrap_err();
        assert!(format!("{err:#}").contains("set-id"), "{err:#}");
        std::fs::set_permissions(
            tmp.path().join("a.log"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        std::fs::hard_link(tmp.path().join("a.log"), tmp.path().join("b")).unwrap();
        let err = open_log(&dir, OsStr::new("a.log"), None, None, false, 0o644).unwrap_err();
        assert!(format!("{err:#}").contains("hard links"), "{err:#}");
    }

    #[test]
    fn directory_paths_with_our_symlinks_resolve_and_names_are_plain() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("real")).unwrap();
        symlink("real", tmp.path().join("alias")).unwrap();
        let dir = Dir::open(&tmp.path().join("alias")).unwrap();
        dir.create(OsStr::new("f"), OFlag::O_WRONLY, 0o600).unwrap();
        assert!(tmp.path().join("real/f").exists());
        assert!(dir
            .open_file(OsStr::new("../x"), OFlag::O_RDONLY, 0)
            .is_err());
        assert!(Dir::open(&tmp.path().join("real/f")).is_err());
    }

    /// A directory beneath one that others can write is exposed (they can swap it), unless
    /// that one is sticky and the directory walked through is ours; the first such directory
    /// is named.
    #[test]
    fn a_directory_beneath_one_others_can_change_is_exposed() {
        let tmp = tempfile::tempdir().unwrap();
        let open = tmp.path().join("open");
        std::fs::create_dir_all(open.join("ours/deeper")).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let dir = Dir::open(&open.join("ours/deeper")).unwrap();
        let exposed = dir.exposed().expect("beneath a world-writable directory");
        assert_eq!(exposed.path, open);
        assert_eq!(exposed.mode, 0o777);
        assert!(!dir.is_protected());
        // Sticky, as /tmp is: only an entry's owner may rename it, and ours is ours.
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let dir = Dir::open(&open.join("ours/deeper")).unwrap();
        assert_eq!(dir.exposed(), None);
        assert!(Dir::open(tmp.path()).unwrap().exposed().is_none());
    }

    /// The directory-swap attack: once opened, a handle keeps naming the directory it opened,
    /// whatever is put at its path afterwards (a symlink, another directory).
    #[test]
    fn a_swapped_directory_path_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let checked = tmp.path().join("state");
        std::fs::create_dir(&checked).unwrap();
        let dir = open_cached(&checked).unwrap();
        std::fs::rename(&checked, tmp.path().join("moved")).unwrap();
        std::fs::create_dir(tmp.path().join("evil")).unwrap();
        symlink(tmp.path().join("evil"), &checked).unwrap();
        dir.create(OsStr::new("x.json"), OFlag::O_WRONLY, 0o600)
            .unwrap();
        assert!(tmp.path().join("moved/x.json").exists());
        assert!(!tmp.path().join("evil/x.json").exists());
        assert!(std::sync::Arc::ptr_eq(
            &dir,
            &open_cached(&checked).unwrap()
        ));
    }
}
