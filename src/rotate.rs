//! Log rotation for `--log-max-size` (the respawn monitor writes the program's output through
//! it): where to cut (pure, on line boundaries) and the rotating file, `NAME.log` then
//! `NAME.log.1` … `NAME.log.KEEP`, all through the log directory's handle. Next to `logs`, which
//! reads what this writes.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::daemonize::Credentials;
use crate::fsx::{self, Dir, Rights};
use crate::parse::MAX_LOG_KEEP;

/// The most of an open line held back (less when `--log-max-size` is smaller).
pub const HOLD_MAX: u64 = 64 * 1024;

/// The next step in appending `data` to a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Append the first N bytes.
    Write(usize),
    /// Rotate the log first.
    Rotate,
}

/// Chooses the next step in appending `data` to a log of `size` bytes that rotates at `max`.
/// `max` is a bound: no file grows past it. Cuts fall on line boundaries whenever they can: as
/// many whole lines as fit are appended, and a line that does not fit in what is left starts a
/// new file if the log is at a line boundary (`at_line_start`: empty or ending with a newline).
/// Only a line that fits nowhere whole (longer than `max`, or already begun in a file that is
/// now full) is split, at `max`: output without newlines (progress bars, binary) must not grow
/// one file forever.
pub fn next_cut(size: u64, max: u64, at_line_start: bool, data: &[u8]) -> Cut {
    let max = max.max(1);
    let room = max.saturating_sub(size);
    if data.len() as u64 <= room {
        return Cut::Write(data.len());
    }
    // room < data.len(), so it fits in usize.
    let room = room as usize;
    if let Some(i) = data[..room].iter().rposition(|&b| b == b'\n') {
        return Cut::Write(i + 1);
    }
    if size > 0 && (at_line_start || room == 0) {
        return Cut::Rotate;
    }
    // An empty file (room is `max`) or an open line with room left: fill the file to `max`.
    Cut::Write(room)
}

/// `PATH.N`, the N-th rotated file of `path`.
pub fn rotated_path(path: &Path, n: u32) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{n}"));
    path.with_file_name(name)
}

/// A log file the monitor appends to and rotates (`NAME.log` → `NAME.log.1` … `NAME.log.N`).
/// Rotation renames, so a follower by name (`tail -F`, `rdaemon logs -f`) moves on to the new file.
///
/// Every file operation goes through one handle on the log's directory (`fsx::Dir`), with the
/// daemon user's rights when that user can write the directory; a new `NAME.log` is created
/// exclusively, with 0644 narrowed by the daemon's umask and, where the file it replaces is its
/// maker's, by that file's permissions (an admin's 0600 log stays 0600; helper-111: a new 0644
/// file made root's daemon's output readable by everyone), never with its owner.
#[derive(Debug)]
pub struct RotatingLog {
    path: PathBuf,
    file: File,
    size: u64,
    at_line_start: bool,
    max: u64,
    keep: u32,
    dir: Dir,
    name: OsString,
    rights: Option<Rights>,
    owner: Option<u32>,
    /// The mode a new log gets at most: 0644 narrowed by the daemon's umask
    /// ([`fsx::log_mode`]).
    mode: u32,
    /// The end of a line still open, not written yet (see [`RotatingLog::write`]).
    held: Vec<u8>,
    /// Since when `held` is not empty.
    held_since: Option<Instant>,
}

impl RotatingLog {
    /// Opens (creates) `path` for appending; `max` bytes per file, `keep` rotated files.
    #[cfg(test)]
    pub fn open(path: &Path, max: u64, keep: u32) -> Result<RotatingLog> {
        Self::open_as(path, max, keep, None, 0o644)
    }

    /// As [`RotatingLog::open`], for a daemon running with `creds`: in a directory its user can
    /// write, the log is opened, created and rotated with that user's rights. A missing log is
    /// created with `mode` ([`fsx::log_mode`]).
    pub fn open_as(
        path: &Path,
        max: u64,
        keep: u32,
        creds: Option<&Credentials>,
        mode: u32,
    ) -> Result<RotatingLog> {
        let (dir, name) = Dir::open_parent(path)
            .with_context(|| format!("cannot open log file '{}'", path.display()))?;
        let rights = Rights::for_dir(&dir, creds);
        let owner = creds.map(|c| c.uid);
        let (file, _) = fsx::open_log(&dir, &name, rights, owner, true, mode)?;
        let meta = file
            .metadata()
            .with_context(|| format!("cannot read log file '{}'", path.display()))?;
        let size = meta.len();
        let mut last = [0u8; 1];
        let at_line_start =
            size == 0 || (file.read_at(&mut last, size - 1).is_ok() && last[0] == b'\n');
        Ok(RotatingLog {
            path: path.to_owned(),
            file,
            size,
            at_line_start,
            max,
            // `start` refuses more; a record edited by hand gets the bound too.
            keep: keep.min(MAX_LOG_KEEP),
            dir,
            name,
            rights,
            owner,
            mode: mode & 0o644,
            held: Vec::new(),
            held_since: None,
        })
    }

    /// Takes output of the program. Whole lines are appended at once; the end of a line still
    /// open is held back until its newline comes, so that a rotation can fall before the line
    /// rather than in it (a pipe delivers output in blocks that end anywhere, and `max` is
    /// often a multiple of their size). What is held is written anyway once it reaches `max`
    /// (or [`HOLD_MAX`]) bytes, when [`HOLD_FOR`] has passed (the monitor calls
    /// [`RotatingLog::flush_held`]: a prompt or a progress bar must show), and before a line
    /// of the monitor's own.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        let Some(end) = data.iter().rposition(|&b| b == b'\n') else {
            return self.hold(data);
        };
        let (lines, rest) = data.split_at(end + 1);
        if self.held.is_empty() {
            self.append(lines)?;
        } else {
            let mut line = std::mem::take(&mut self.held);
            self.held_since = None;
            line.extend_from_slice(lines);
            self.append(&line)?;
        }
        self.hold(rest)
    }

    /// Holds `data`, the start of a line, writing what is held once it is too long to hold.
    fn hold(&mut self, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if self.held.is_empty() {
            self.held_since = Some(Instant::now());
        }
        self.held.extend_from_slice(data);
        if self.held.len() as u64 >= self.max.min(HOLD_MAX) {
            self.flush_held()?;
        }
        Ok(())
    }

    /// Since when the end of an open line is held back, if one is.
    pub fn held_since(&self) -> Option<Instant> {
        self.held_since
    }

    /// Writes the end of an open line held back (the line goes on in the file when the rest
    /// comes, or in the next one if the file is full by then).
    pub fn flush_held(&mut self) -> Result<()> {
        self.held_since = None;
        let held = std::mem::take(&mut self.held);
        self.append(&held)
    }

    /// Appends `data`, rotating where [`next_cut`] decides.
    fn append(&mut self, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            match next_cut(self.size, self.max, self.at_line_start, data) {
                Cut::Rotate => self.rotate()?,
                Cut::Write(n) => {
                    self.file
                        .write_all(&data[..n])
                        .with_context(|| format!("cannot write log '{}'", self.path.display()))?;
                    self.size += n as u64;
                    self.at_line_start = data[n - 1] == b'\n';
                    data = &data[n..];
                }
            }
        }
        Ok(())
    }

    /// Appends one whole line of the monitor's own, on a line of its own.
    pub fn write_line(&mut self, line: &str) -> Result<()> {
        self.flush_held()?;
        if !self.at_line_start {
            self.append(b"\n")?;
        }
        self.append(line.as_bytes())
    }

    /// Shifts `PATH.N-1` → `PATH.N` … `PATH` → `PATH.1` (the oldest falls off) and starts a new
    /// `PATH` (created exclusively; its mode below). With `keep` 0 the new file is renamed over
    /// the old one, whose content is gone.
    fn rotate(&mut self) -> Result<()> {
        // The new log's mode is the one a new log gets (0644 narrowed by the umask: helper-116,
        // `--umask 077` gave 0644 here), narrowed further by the file held. That file is the one
        // checked when it was opened (owned by root or the daemon's user, one link). Made by
        // whoever makes the new one (root, or the daemon's user in its own directory), it gives
        // the new one its mode and, made by root, its group: `root:adm 0640` stays so, as
        // logrotate's `create` keeps it. A file of another owner (the daemon user's, in root's
        // directory) gives nothing (helper-113's review: `nobody:nogroup 0600` became `root:root
        // 0600`, closed to the daemon's user, without a umask that asked for it).
        use std::os::unix::fs::MetadataExt;
        let maker = self
            .rights
            .map_or_else(|| nix::unistd::geteuid().as_raw(), |r| r.uid);
        let (mode, group) = match self.file.metadata() {
            Ok(m) if m.uid() == maker => (self.mode & m.mode(), Some(m.gid())),
            _ => (self.mode, None),
        };
        let group = group.filter(|_| self.rights.is_none() && maker == 0);
        let set_group = |file: &File| {
            if let Some(gid) = group {
                // A failure costs only the group (the file is root's either way).
                let gid = Some(nix::unistd::Gid::from_raw(gid));
                let _ = nix::unistd::fchown(std::os::fd::AsFd::as_fd(file), None, gid);
            }
        };
        if self.keep == 0 {
            // The new file is made aside, then renamed over the old one, so that the name is
            // never missing: a follower that looked between an unlink and a create said the
            // log had become inaccessible, then that it appeared, at every rotation
            // (helper-116). Where that fails, the old file is removed and a new one made.
            if let Some(file) = self.replace_with_new(mode, &set_group) {
                self.size = 0;
                self.at_line_start = true;
                self.file = file;
                return Ok(());
            }
        }
        let dir = &self.dir;
        let name = &self.name;
        let moved = fsx::with_rights(self.rights, || {
            if self.keep == 0 {
                dir.unlink(name)
            } else {
                shift_rotated(dir, name, self.keep)
            }
        });
        // Whatever happened, count from zero again, so that a failing rotation is retried only
        // after another `max` bytes rather than at every write.
        self.size = 0;
        self.at_line_start = true;
        if let (Err(why), true) = (&moved, self.keep > 0) {
            // A slot that cannot be moved or replaced: in a sticky directory such as /tmp,
            // another user's directory at `NAME.1` or `NAME.2` stopped every rotation, and a
            // root daemon's log grew without bound (helper-125). The log still keeps to its
            // size: it is moved to `NAME.1` where that is free or a file, else given up for a
            // new one, as with `--log-keep 0`; the new file says so.
            let why = crate::exit::os_reason(why);
            let kept = fsx::with_rights(self.rights, || dir.rename(name, &rotated_name(name, 1)));
            let file = match kept {
                Ok(()) => fsx::open_log(dir, name, self.rights, self.owner, true, mode)
                    .ok()
                    .map(|(file, created)| {
                        if created {
                            set_group(&file);
                        }
                        file
                    }),
                Err(_) => self.replace_with_new(mode, &set_group),
            };
            if let Some(file) = file {
                self.file = file;
                let note = format!(
                    "rdaemon: cannot keep rotated logs of '{}' ({why}): {}\n",
                    self.path.display(),
                    match kept {
                        Ok(()) => "the last one is kept as .1 only",
                        Err(_) => "the log went on in a new file, and what it held is gone",
                    }
                );
                if self.file.write_all(note.as_bytes()).is_ok() {
                    self.size = note.len() as u64;
                }
                return Ok(());
            }
        }
        moved.with_context(|| format!("cannot rotate log '{}'", self.path.display()))?;
        let (file, created) =
            fsx::open_log(&self.dir, &self.name, self.rights, self.owner, true, mode)?;
        if created {
            set_group(&file);
        }
        self.file = file;
        Ok(())
    }

    /// `--log-keep 0`: a new empty log made as `.NAME.PID.new` (created exclusively, with
    /// `mode`, given its group by `set_group` before anyone can open it by name) and renamed
    /// over `NAME`, which removes the old one at once. `None` when any step fails, the
    /// temporary file removed again (one of a monitor killed between the two steps is removed
    /// by the next rotation of a monitor with its pid). Where that name cannot be had (in a
    /// sticky directory such as /tmp, another user can make it beforehand, the monitor's pid
    /// being no secret: helper-125), `.NAME.PID.HEX.new`, HEX a number no one can guess.
    fn replace_with_new(&self, mode: u32, set_group: &dyn Fn(&File)) -> Option<File> {
        let tmp = |suffix: String| {
            let mut tmp = OsString::from(".");
            tmp.push(&self.name);
            tmp.push(suffix);
            tmp
        };
        let pid = std::process::id();
        self.replace_through(&tmp(format!(".{pid}.new")), mode, set_group)
            .or_else(|| {
                let random = crate::pidfile::unguessable();
                self.replace_through(&tmp(format!(".{pid}.{random:016x}.new")), mode, set_group)
            })
    }

    /// [`RotatingLog::replace_with_new`] through the temporary name `tmp`.
    fn replace_through(&self, tmp: &OsStr, mode: u32, set_group: &dyn Fn(&File)) -> Option<File> {
        let unlink = || {
            let _ = fsx::with_rights(self.rights, || self.dir.unlink(tmp));
        };
        // A leftover of a monitor of this pid killed here: never appended to.
        unlink();
        let opened = fsx::open_log(&self.dir, tmp, self.rights, self.owner, true, mode);
        let file = match opened {
            Ok((file, true)) => file,
            // Made but refused (a second link put to it), or not made here: not renamed.
            Ok((_, false)) | Err(_) => {
                unlink();
                return None;
            }
        };
        set_group(&file);
        if fsx::with_rights(self.rights, || self.dir.rename(tmp, &self.name)).is_err() {
            unlink();
            return None;
        }
        Some(file)
    }
}

/// Renames `NAME` → `NAME.1` in `dir`, moving the rotated files up by one first: `NAME.N-1` →
/// `NAME.N` … `NAME.1` → `NAME.2`, where `NAME.N` is the first free slot, or `NAME.keep`, whose
/// file falls off. Only files that exist are renamed (the files are contiguous from `NAME.1`,
/// as rotation leaves them), so a rotation costs one rename per rotated file, whatever `keep`
/// is.
fn shift_rotated(dir: &Dir, name: &OsStr, keep: u32) -> io::Result<()> {
    let mut free = 1;
    while free < keep && dir.stat(&rotated_name(name, free))?.is_some() {
        free += 1;
    }
    for i in (1..free).rev() {
        rename_if_exists(dir, &rotated_name(name, i), &rotated_name(name, i + 1))?;
    }
    dir.rename(name, &rotated_name(name, 1))
}

/// `NAME.N`, the N-th rotated name of `name`.
fn rotated_name(name: &OsStr, n: u32) -> OsString {
    let mut name = name.to_os_string();
    name.push(format!(".{n}"));
    name
}

fn rename_if_exists(dir: &Dir, from: &OsStr, to: &OsStr) -> io::Result<()> {
    match dir.rename(from, to) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn cuts_fall_on_line_boundaries() {
        // Fits: all of it.
        assert_eq!(next_cut(0, 100, true, b"a\nb\n"), Cut::Write(4));
        assert_eq!(next_cut(96, 100, false, b"xyz\n"), Cut::Write(4));
        // Does not fit: up to the last newline that does.
        assert_eq!(
            next_cut(90, 100, true, b"12345\n789\nabcdef\n"),
            Cut::Write(10)
        );
        // Full, or the next line does not fit, at a line boundary: rotate.
        assert_eq!(next_cut(100, 100, true, b"x\n"), Cut::Rotate);
        assert_eq!(next_cut(98, 100, true, b"xyz\n"), Cut::Rotate);
        assert_eq!(next_cut(98, 100, true, b"no newline"), Cut::Rotate);
    }

    #[test]
    fn cuts_never_exceed_the_bound() {
        // A line longer than the limit is split at the limit.
        assert_eq!(next_cut(0, 4, true, b"0123456789\nab"), Cut::Write(4));
        assert_eq!(next_cut(0, 4, true, b"0123456789"), Cut::Write(4));
        // An open line in a full file: rotate, the rest goes on in the next file.
        assert_eq!(next_cut(100, 100, false, b"end\nnext\n"), Cut::Rotate);
        assert_eq!(next_cut(100, 100, false, b"no newline"), Cut::Rotate);
        // An open line with room left but no newline within it: fill the file.
        assert_eq!(next_cut(97, 100, false, b"tail of it\n"), Cut::Write(3));
        // A file already over the limit (an older, larger setting): rotate first.
        assert_eq!(next_cut(500, 100, true, b"x\n"), Cut::Rotate);
        assert_eq!(next_cut(500, 100, false, b"x"), Cut::Rotate);
        // A limit of 0 (never given by `start`) still makes progress.
        assert_eq!(next_cut(0, 0, true, b"ab"), Cut::Write(1));
    }

    /// Feeds `input` in `chunk`-byte pieces through `next_cut` as `RotatingLog::write` does;
    /// returns the files' sizes.
    fn simulate(max: u64, input: &[u8], chunk: usize) -> Vec<Vec<u8>> {
        let mut files = vec![Vec::new()];
        for mut data in input.chunks(chunk) {
            while !data.is_empty() {
                let cur = files.last().unwrap();
                let at_line_start = cur.last().is_none_or(|b| *b == b'\n');
                match next_cut(cur.len() as u64, max, at_line_start, data) {
                    Cut::Rotate => files.push(Vec::new()),
                    Cut::Write(n) => {
                        assert!(n > 0, "no progress");
                        files.last_mut().unwrap().extend_from_slice(&data[..n]);
                        data = &data[n..];
                    }
                }
            }
        }
        files
    }

    #[test]
    fn cuts_lose_nothing_and_keep_short_lines_whole() {
        let mut input = Vec::new();
        for i in 0..300 {
            input.extend_from_slice(format!("line {i}\n").as_bytes());
            if i % 50 == 0 {
                input.extend(std::iter::repeat_n(b'#', 250));
                input.push(b'\n');
            }
        }
        for chunk in [1, 7, 64, 4096, input.len()] {
            let files = simulate(64, &input, chunk);
            assert_eq!(files.concat(), input, "chunk {chunk}");
            for f in &files {
                assert!(f.len() <= 64, "chunk {chunk}: a file of {} bytes", f.len());
            }
        }
        // Given whole lines, only the long ones are split: every file ends with a newline
        // or inside a long line.
        for pair in simulate(64, &input, input.len()).windows(2) {
            assert!(
                pair[0].ends_with(b"\n") || pair[0].ends_with(b"#"),
                "a short line split: {pair:?}"
            );
        }
        // Output without any newline: files of exactly `max`.
        let files = simulate(4096, &vec![b'x'; 100_000], 65536);
        assert!(files.iter().rev().skip(1).all(|f| f.len() == 4096));
        assert_eq!(files.iter().map(Vec::len).sum::<usize>(), 100_000);
    }

    fn read_all(path: &Path) -> String {
        fs::read_to_string(path).unwrap_or_default()
    }

    #[test]
    fn rotation_keeps_every_line_whole_and_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.log");
        let mut log = RotatingLog::open(&path, 100, 3).unwrap();
        let lines: Vec<String> = (0..60).map(|i| format!("line {i:04}\n")).collect();
        // Fed in awkward pieces, as a pipe delivers them.
        let all = lines.concat();
        for chunk in all.as_bytes().chunks(7) {
            log.write(chunk).unwrap();
        }
        assert!(!rotated_path(&path, 4).exists(), "kept more than 3");
        let mut seen = String::new();
        for n in (1..=3).rev() {
            let text = read_all(&rotated_path(&path, n));
            assert!(text.len() <= 100, "{n}: {} bytes", text.len());
            assert!(text.ends_with('\n'), "{n} ends mid-line: {text:?}");
            seen.push_str(&text);
        }
        seen.push_str(&read_all(&path));
        // The newest lines, in order, none split or lost since the oldest file kept.
        assert!(all.ends_with(&seen), "{seen}");
        assert!(seen.len() > 300);
        assert!(seen.lines().all(|l| l.len() == 9 && l.starts_with("line ")));
    }

    #[test]
    fn rotation_splits_a_line_longer_than_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.log");
        let mut log = RotatingLog::open(&path, 10, 2).unwrap();
        log.write(b"0123456789abc").unwrap();
        log.write(b"def\nnext\n").unwrap();
        assert_eq!(read_all(&rotated_path(&path, 2)), "0123456789");
        assert_eq!(read_all(&rotated_path(&path, 1)), "abcdef\n");
        assert_eq!(read_all(&path), "next\n");
    }

    #[test]
    fn an_open_line_is_held_until_its_newline_so_the_cut_falls_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.log");
        let mut log = RotatingLog::open(&path, 20, 2).unwrap();
        log.write(b"aaaaaaaaaaaaaaa\nbbbb").unwrap();
        assert_eq!(read_all(&path), "aaaaaaaaaaaaaaa\n");
        assert!(log.held_since().is_some());
        // The line does not fit in what is left: it starts the next file, whole.
        log.write(b"cc\n").unwrap();
        assert_eq!(read_all(&rotated_path(&path, 1)), "aaaaaaaaaaaaaaa\n");
        assert_eq!(read_all(&path), "bbbbcc\n");
        assert_eq!(log.held_since(), None);
    }

    #[test]
    fn what_is_held_is_written_when_flushed_or_too_long() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.log");
        let mut log = RotatingLog::open(&path, 100, 2).unwrap();
        log.write(b"prompt> ").unwrap();
        assert_eq!(read_all(&path), "");
        log.flush_held().unwrap();
        assert_eq!(read_all(&path), "prompt> ");
        assert_eq!(log.held_since(), None);
        // The rest of the line follows it in the same file.
        log.write(b"yes\nhalf").unwrap();
        // A line of the monitor's own: what is held first, then the line on its own.
        log.write_line("rdaemon: x\n").unwrap();
        assert_eq!(read_all(&path), "prompt> yes\nhalf\nrdaemon: x\n");
        // Held no longer than the size: output without newlines is written in files of max.
        let mut log = RotatingLog::open(&dir.path().join("e.log"), 10, 5).unwrap();
        log.write(&[b'x'; 25]).unwrap();
        assert_eq!(
            read_all(&rotated_path(&dir.path().join("e.log"), 1)).len(),
            10
        );
        assert_eq!(read_all(&dir.path().join("e.log")).len(), 5);
    }

    #[test]
    fn rotation_renames_only_the_files_that_exist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.log");
        // The most `start` accepts: a rotation must not try a thousand renames, nor create
        // empty slots.
        let mut log = RotatingLog::open(&path, 4, MAX_LOG_KEEP).unwrap();
        for i in 0..5 {
            log.write(format!("{i}{i}{i}\n").as_bytes()).unwrap();
        }
        assert_eq!(read_all(&path), "444\n");
        for (n, want) in [(1, "333\n"), (2, "222\n"), (3, "111\n"), (4, "000\n")] {
            assert_eq!(read_all(&rotated_path(&path, n)), want, "{n}");
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 5);
        // A record asking for more than the bound keeps the bound.
        let log = RotatingLog::open(&path, 4, u32::MAX).unwrap();
        assert_eq!(log.keep, MAX_LOG_KEEP);
    }

    #[test]
    fn rotation_drops_the_oldest_at_keep() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.log");
        let mut log = RotatingLog::open(&path, 2, 2).unwrap();
        for c in ["a", "b", "c", "d"] {
            log.write(format!("{c}\n").as_bytes()).unwrap();
        }
        assert_eq!(read_all(&path), "d\n");
        assert_eq!(read_all(&rotated_path(&path, 1)), "c\n");
        assert_eq!(read_all(&rotated_path(&path, 2)), "b\n");
        assert!(!rotated_path(&path, 3).exists());
    }

    #[test]
    fn reopening_knows_the_size_and_whether_a_line_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.log");
        fs::write(&path, "half").unwrap();
        let mut log = RotatingLog::open(&path, 20, 1).unwrap();
        // The monitor's own line never lands in the middle of the program's.
        log.write_line("rdaemon: x\n").unwrap();
        assert_eq!(read_all(&path), "half\nrdaemon: x\n");
        // 16 bytes now: 7 more do not fit in 20.
        log.write(b"abcdef\n").unwrap();
        assert_eq!(read_all(&rotated_path(&path, 1)), "half\nrdaemon: x\n");
        assert_eq!(read_all(&path), "abcdef\n");
    }

    #[test]
    /// Issue 11, finding 1: a new log never takes more of the mode of the one it replaces than
    /// 0644 (a 04777 file planted by the daemon's user became a set-uid root file). helper-111:
    /// nor less: an admin's 0600 log was replaced by a 0644 one, readable by everyone. Only a
    /// file of the new one's maker gives its mode (and, root's, its group).
    fn keep_zero_discards_and_new_logs_get_at_most_the_old_mode() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.log");
        for (old, new) in [
            (0o600, 0o600),
            (0o640, 0o640),
            (0o666, 0o644),
            (0o777, 0o644),
        ] {
            fs::write(&path, "").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(old)).unwrap();
            let mut log = RotatingLog::open(&path, 4, 0).unwrap();
            log.write(b"aaa\nbbb\n").unwrap();
            assert_eq!(read_all(&path), "bbb\n");
            assert!(!rotated_path(&path, 1).exists());
            assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, new, "{old:o}");
        }
        // Rotated with files kept, the same.
        fs::write(&path, "").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let mut log = RotatingLog::open(&path, 4, 2).unwrap();
        log.write(b"aaa\nbbb\nccc\n").unwrap();
        for p in [path.clone(), rotated_path(&path, 1), rotated_path(&path, 2)] {
            assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o600, "{p:?}");
        }
        // As root: a root file's group is kept; another owner's file gives nothing.
        if nix::unistd::geteuid().is_root() {
            use std::os::unix::fs::chown;
            fs::write(&path, "").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
            chown(&path, Some(0), Some(4)).unwrap();
            let mut log = RotatingLog::open(&path, 4, 0).unwrap();
            log.write(b"aaa\nbbb\n").unwrap();
            let meta = fs::metadata(&path).unwrap();
            assert_eq!(
                (meta.mode() & 0o7777, meta.uid(), meta.gid()),
                (0o640, 0, 4)
            );
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
            let mut log = RotatingLog::open(&path, 4, 0).unwrap();
            // The daemon's user's (as `--user` allows), once open.
            chown(&path, Some(65534), Some(65534)).unwrap();
            log.write(b"aaa\nbbb\n").unwrap();
            let meta = fs::metadata(&path).unwrap();
            assert_eq!(
                (meta.mode() & 0o7777, meta.uid(), meta.gid()),
                (0o644, 0, 0)
            );
            // The umask narrows it all the same (helper-116: `--umask 077` gave 0644 here).
            let mut log = RotatingLog::open_as(&path, 4, 0, None, 0o600).unwrap();
            chown(&path, Some(65534), Some(65534)).unwrap();
            log.write(b"aaa\nbbb\n").unwrap();
            let meta = fs::metadata(&path).unwrap();
            assert_eq!(
                (meta.mode() & 0o7777, meta.uid(), meta.gid()),
                (0o600, 0, 0)
            );
        }
        // A file of the maker's, wider than the umask allows: the umask wins.
        fs::write(&path, "").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let mut log = RotatingLog::open_as(&path, 4, 0, None, 0o640).unwrap();
        log.write(b"aaa\nbbb\n").unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o640);
        // A log made by rotation's first open: the mode it is given.
        let fresh = dir.path().join("fresh.log");
        RotatingLog::open_as(&fresh, 4, 2, None, crate::fsx::log_mode(0o077)).unwrap();
        assert_eq!(fs::metadata(&fresh).unwrap().mode() & 0o7777, 0o600);
    }
}
