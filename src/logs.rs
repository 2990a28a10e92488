//! Log files: the last lines of a file, read backwards from its end so that a huge log costs only
//! its tail; and [`Follower`], which follows files by name as `tail -F` does: what is appended is
//! printed, and a truncated file is followed from its new end of data. A file renamed away by
//! rotation (`NAME.log` → `NAME.log.1`, the monitor's `--log-max-size`) is drained to its end,
//! then every newer rotated file it has not read is printed in order (`NAME.log.K-1` … `.1`),
//! then the new `NAME.log` is followed: however fast the rotation, no file is skipped (as long
//! as `--log-keep` keeps it). Rotation is routine: it is noted only at the caller's request.
//!
//! The rotated files are looked for through the directory's handle, never through a symlink:
//! a log's directory is often its daemon's user's, and whatever that user puts there (symlinks,
//! directories, FIFOs at `NAME.log.K`) is junk, passed over and never read. Each look is
//! bounded ([`LOOKUP_BUDGET`], a few tries again while the files move), so no such junk makes
//! root's `logs -f` spin.
//!
//! Following is woken by inotify on the files' directories (which reports writes, creations and
//! renames of the files inside), with a re-check every half second as a safety net; without
//! inotify, it polls at an interval that grows from 10 ms to 250 ms and shrinks on activity.
//!
//! Must not: write to anything but the writer it is given (and notes through the callback),
//! save a count of its lookups per look on stderr under `RDAEMON_DEBUG=follow`, for the tests.

use std::cell::Cell;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::parse::MAX_LOG_KEEP;
use crate::rotate::rotated_path;

/// How much is read per step when scanning backwards for line starts.
const CHUNK: u64 = 8192;
/// The safety-net re-check while inotify is watching.
const RECHECK: Duration = Duration::from_millis(500);
const POLL_MIN: Duration = Duration::from_millis(10);
const POLL_MAX: Duration = Duration::from_millis(250);

/// How far back from its end a line is looked for, per line asked for: a longer line is shown
/// by its last this many bytes. The daemon's user can make the log a huge sparse file
/// (`ftruncate` on its stdout) or one endless line; the tail must stay small all the same.
const MAX_LINE: u64 = 64 * 1024;
/// How far back the tail goes at most, whatever the number of lines asked for: of a log and
/// its rotated files together ([`older_lines`]), and of the logs `logs` holds to merge.
pub const MAX_TAIL: u64 = 16 * 1024 * 1024;
/// How much following reads and writes at once.
const FOLLOW_CHUNK: usize = 64 * 1024;

/// The last `lines` lines of `file` and the offset where they end (its length when read): at
/// most `lines` × [`MAX_LINE`] bytes (and [`MAX_TAIL`]), cut at the front if they are longer.
pub fn tail(file: &mut File, lines: usize) -> io::Result<(Vec<u8>, u64)> {
    tail_within(file, lines, MAX_TAIL)
}

/// [`tail`], at most `budget` bytes.
fn tail_within(file: &mut File, lines: usize, budget: u64) -> io::Result<(Vec<u8>, u64)> {
    let len = file.metadata()?.len();
    if lines == 0 || len == 0 || budget == 0 {
        return Ok((Vec::new(), len));
    }
    let reach = (lines as u64).saturating_mul(MAX_LINE).min(budget);
    let floor = len.saturating_sub(reach);
    let mut start = floor;
    let mut pos = len;
    let mut seen = 0;
    let mut buf = vec![0u8; CHUNK as usize];
    'scan: while pos > floor {
        let step = (pos - floor).min(CHUNK);
        pos -= step;
        let chunk = &mut buf[..step as usize];
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(chunk)?;
        for (i, byte) in chunk.iter().enumerate().rev() {
            let at = pos + i as u64;
            // The newline that ends the last line does not start another one.
            if *byte == b'\n' && at != len - 1 {
                seen += 1;
                if seen == lines {
                    start = at + 1;
                    break 'scan;
                }
            }
        }
    }
    file.seek(SeekFrom::Start(start))?;
    let mut out = Vec::with_capacity((len - start) as usize);
    file.take(len - start).read_to_end(&mut out)?;
    let end = start + out.len() as u64;
    Ok((out, end))
}

/// The lines before those of `path` itself, for a tail of `lines` of which `shown` come from
/// `path`: the last ones of its rotated files (`PATH.1`, then `PATH.2`...), oldest first, as
/// many as are missing. A log the monitor has just rotated holds only its newest lines; `logs -n`
/// reads on into the files before it, as `-f` does when it follows a rotation. Each is opened
/// the safe way ([`crate::fsx::open_read`]); the first missing or unreadable one ends it. `shown`
/// is `path`'s own tail: with it, they take at most [`MAX_TAIL`] bytes, however many rotated
/// files the daemon's user made, each a huge sparse file (helper-135's review: 60 of 16 MiB,
/// read whole for `-n 60`).
pub fn older_lines(path: &Path, lines: usize, shown: &[u8]) -> Vec<u8> {
    older_lines_within(path, lines, shown, MAX_TAIL)
}

/// [`older_lines`] with `limit` in place of [`MAX_TAIL`].
fn older_lines_within(path: &Path, lines: usize, shown: &[u8], limit: u64) -> Vec<u8> {
    let mut missing = lines.saturating_sub(line_count(shown));
    let mut budget = limit.saturating_sub(shown.len() as u64);
    let mut parts: Vec<Vec<u8>> = Vec::new();
    for n in 1..=MAX_LOG_KEEP {
        if missing == 0 || budget == 0 {
            break;
        }
        let Ok(Some(mut file)) = crate::fsx::open_read(&rotated_path(path, n)) else {
            break;
        };
        let Ok((mut bytes, _)) = tail_within(&mut file, missing, budget) else {
            break;
        };
        if !bytes.is_empty() && !bytes.ends_with(b"\n") {
            bytes.push(b'\n');
        }
        missing = missing.saturating_sub(line_count(&bytes));
        budget = budget.saturating_sub(bytes.len() as u64);
        parts.push(bytes);
    }
    parts.into_iter().rev().flatten().collect()
}

/// The time a monitor with `--log-timestamps` put at the start of `line`
/// (`2026-12-04T12:37:09.584Z `, RFC 3339 in UTC with milliseconds, then a space), if it has
/// one. Being of one width and in UTC, such times sort as text.
pub fn line_stamp(line: &[u8]) -> Option<&[u8]> {
    const SHAPE: &[u8; 25] = b"dddd-dd-ddTdd:dd:dd.dddZ ";
    let head = line.get(..SHAPE.len())?;
    let fits = head.iter().zip(SHAPE).all(|(&b, &s)| match s {
        b'd' => b.is_ascii_digit(),
        _ => b == s,
    });
    fits.then(|| &head[..SHAPE.len() - 1])
}

/// Several logs' last lines (`tails`, in the order given) as one sequence by time: each entry a
/// tail's index and one of its records, a stamped line ([`line_stamp`]) with the unstamped
/// lines after it (the monitor's own notes, an `--on-exit` command's output, a long line's
/// continuation; those before a tail's first stamped line go with that one). Merged as
/// `sort -m` does: each tail keeps its own order, and the next record is the earliest of the
/// tails' next ones, a tie going to the tail given first. `None` when a tail that is not empty
/// has no stamped line: a log without times cannot be placed among others.
pub fn by_time(tails: &[Vec<u8>]) -> Option<Vec<(usize, &[u8])>> {
    let mut queues = Vec::with_capacity(tails.len());
    for tail in tails {
        let mut records: Vec<(&[u8], &[u8])> = Vec::new();
        let mut start = 0;
        let mut stamp = None;
        let mut at = 0;
        while at < tail.len() {
            let end = tail[at..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(tail.len(), |n| at + n + 1);
            if let Some(this) = line_stamp(&tail[at..end]) {
                // Lines before the first stamped one go with it.
                if let Some(prev) = stamp {
                    records.push((prev, &tail[start..at]));
                    start = at;
                }
                stamp = Some(this);
            }
            at = end;
        }
        match stamp {
            Some(last) => records.push((last, &tail[start..])),
            None if tail.is_empty() => {}
            None => return None,
        }
        queues.push(records.into_iter().peekable());
    }
    let mut merged = Vec::new();
    loop {
        let next = queues
            .iter_mut()
            .enumerate()
            .filter_map(|(i, q)| q.peek().map(|&(stamp, _)| (stamp, i)))
            .min();
        let Some((_, i)) = next else {
            return Some(merged);
        };
        let (_, record) = queues[i].next().expect("peeked");
        merged.push((i, record));
    }
}

/// How many lines `bytes` holds (a last one without its newline counts).
pub fn line_count(bytes: &[u8]) -> usize {
    let newlines = bytes.iter().filter(|&&b| b == b'\n').count();
    newlines + usize::from(!bytes.is_empty() && !bytes.ends_with(b"\n"))
}

/// The last `lines` lines of the regular file at `path` as text (lossy UTF-8, no trailing
/// newline); `None` if it cannot be read, is not a regular file or is empty. Opened as
/// [`crate::fsx::open_read`] does: never through a symlink, never blocking on a FIFO.
pub fn tail_text(path: &Path, lines: usize) -> Option<String> {
    let mut file = crate::fsx::open_read(path).ok()??;
    let (bytes, _) = tail(&mut file, lines).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_end_matches('\n');
    (!text.is_empty()).then(|| text.to_owned())
}

/// Where a log file ended when a start began, so that the tail shown when that start fails is
/// only what its program wrote, not an earlier run's last words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMark {
    /// (device, inode) of the file then.
    id: (u64, u64),
    /// Its length then.
    pub len: u64,
    /// Its last bytes then (up to [`MARK_END`]): still there, the file was only appended to;
    /// else it was truncated and written again meanwhile.
    end: Vec<u8>,
}

/// How many of a log's last bytes a [`LogMark`] keeps.
const MARK_END: u64 = 64;

impl LogMark {
    /// The regular file at `path` as it is now (opened the safe way, [`crate::fsx::open_read`]);
    /// `None` when there is none: then all of a file found later is new.
    pub fn of(path: &Path) -> Option<LogMark> {
        let file = crate::fsx::open_read(path).ok()??;
        let meta = file.metadata().ok()?;
        let from = meta.len().saturating_sub(MARK_END);
        let mut end = vec![0u8; (meta.len() - from) as usize];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut end, from).ok()?;
        Some(LogMark {
            id: (meta.dev(), meta.ino()),
            len: meta.len(),
            end,
        })
    }

    /// Whether `file` (`meta` its `fstat`) is the marked file, only appended to since.
    fn appended(&self, file: &File, meta: &fs::Metadata) -> bool {
        if self.id != (meta.dev(), meta.ino()) || meta.len() < self.len {
            return false;
        }
        let mut now = vec![0u8; self.end.len()];
        let at = self.len - self.end.len() as u64;
        std::os::unix::fs::FileExt::read_exact_at(file, &mut now, at).is_ok() && now == self.end
    }
}

/// [`tail_text`] of what was written to `path` after `mark`: all of it when the file was
/// replaced or truncated since (another inode, shorter, or its marked end no longer there).
/// `Err(())` when nothing was.
pub fn tail_text_since(path: &Path, lines: usize, mark: Option<&LogMark>) -> Result<String, ()> {
    let mut file = crate::fsx::open_read(path).ok().flatten().ok_or(())?;
    let meta = file.metadata().map_err(|_| ())?;
    let from = match mark {
        Some(m) if m.appended(&file, &meta) => m.len,
        _ => 0,
    };
    let (bytes, end) = tail(&mut file, lines).map_err(|_| ())?;
    let begins = end - bytes.len() as u64;
    let new = &bytes[from.saturating_sub(begins).min(bytes.len() as u64) as usize..];
    let text = String::from_utf8_lossy(new);
    let text = text.trim_end_matches('\n');
    match text.is_empty() {
        true => Err(()),
        false => Ok(text.to_owned()),
    }
}

/// What [`Sanitized`] has seen of a sequence not yet written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Nothing pending (`continuation` bytes of a UTF-8 character may still come).
    Text { continuation: u8 },
    /// `ESC`.
    Esc,
    /// `ESC [` and parameter bytes.
    Csi,
    /// `0xC2`, which with `0x80`–`0x9F` after it is a C1 control in UTF-8.
    C2,
}

/// The longest `ESC [ … m` passed through; a longer one is shown escaped.
const MAX_SGR: usize = 64;

/// A writer for a person's terminal, for a daemon's log (`rdaemon logs` on a terminal): the
/// daemon's control characters are shown escaped as [`crate::parse::printable`] shows them
/// (`\u{1b}`, `\r`, `\0`, and `\x9b` for a C1 byte outside any UTF-8 character, which a
/// terminal in an 8-bit mode would obey), newlines and tabs kept, so that the log cannot move
/// the cursor, clear the screen, set the window title or write to the clipboard (OSC 52) of
/// the terminal of the person reading it, often root. Color and style (`ESC [` digits, `;`
/// and `:` `m`: SGR) pass, as with `less -R`: they only paint. Sequences cut between two
/// writes are held until the next; what is held at the end is written, escaped, on drop.
pub struct Sanitized<W: Write> {
    inner: W,
    seen: Seen,
    pending: Vec<u8>,
    /// The bytes of a UTF-8 character begun and not yet complete: written once it is, as it
    /// is, or escaped when it is one of the invisible characters that reorder or break text
    /// ([`crate::parse::hidden`]: U+202E...), as `printable` shows them.
    utf8: Vec<u8>,
}

impl<W: Write> Sanitized<W> {
    /// Writes to `inner`.
    pub fn new(inner: W) -> Sanitized<W> {
        Sanitized {
            inner,
            seen: Seen::Text { continuation: 0 },
            pending: Vec::new(),
            utf8: Vec::with_capacity(4),
        }
    }

    /// Appends `data`, filtered, to `out`.
    fn filter(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let escaped = |c: char, out: &mut Vec<u8>| {
            out.extend(c.escape_debug().to_string().as_bytes());
        };
        for &b in data {
            let mut b = Some(b);
            while let Some(byte) = b.take() {
                match self.seen {
                    Seen::Text { continuation } if continuation > 0 => {
                        if (0x80..=0xbf).contains(&byte) {
                            self.utf8.push(byte);
                            self.seen = Seen::Text {
                                continuation: continuation - 1,
                            };
                            if continuation == 1 {
                                self.complete(out);
                            }
                        } else {
                            // A character cut short: the terminal shows it as invalid.
                            out.append(&mut self.utf8);
                            self.seen = Seen::Text { continuation: 0 };
                            b = Some(byte);
                        }
                    }
                    Seen::Text { .. } => match byte {
                        0x1b => {
                            self.seen = Seen::Esc;
                            self.pending.push(byte);
                        }
                        0xc2 => {
                            self.seen = Seen::C2;
                            self.pending.push(byte);
                        }
                        b'\n' | b'\t' => out.push(byte),
                        0..=0x1f | 0x7f => escaped(char::from(byte), out),
                        // A C1 byte that no UTF-8 character holds.
                        0x80..=0x9f => out.extend(format!("\\x{byte:02x}").as_bytes()),
                        0xc3..=0xdf => self.lead(byte, 1, out),
                        0xe0..=0xef => self.lead(byte, 2, out),
                        0xf0..=0xf4 => self.lead(byte, 3, out),
                        _ => out.push(byte),
                    },
                    Seen::Esc if byte == b'[' => {
                        self.seen = Seen::Csi;
                        self.pending.push(byte);
                    }
                    Seen::Csi if byte == b'm' => {
                        out.append(&mut self.pending);
                        out.push(byte);
                        self.seen = Seen::Text { continuation: 0 };
                    }
                    Seen::Csi
                        if (byte.is_ascii_digit() || byte == b';' || byte == b':')
                            && self.pending.len() < MAX_SGR =>
                    {
                        self.pending.push(byte)
                    }
                    Seen::C2 if (0x80..=0x9f).contains(&byte) => {
                        escaped(char::from_u32(byte as u32).unwrap_or('?'), out);
                        self.pending.clear();
                        self.seen = Seen::Text { continuation: 0 };
                    }
                    Seen::C2 if (0xa0..=0xbf).contains(&byte) => {
                        out.append(&mut self.pending);
                        out.push(byte);
                        self.seen = Seen::Text { continuation: 0 };
                    }
                    // Not a color: the ESC shown escaped, the rest as text; the byte again.
                    Seen::Esc | Seen::Csi | Seen::C2 => {
                        self.release(out);
                        b = Some(byte);
                    }
                }
            }
        }
    }

    /// A UTF-8 lead byte: held, and `continuation` bytes expected after it.
    fn lead(&mut self, byte: u8, continuation: u8, out: &mut Vec<u8>) {
        out.append(&mut self.utf8);
        self.utf8.push(byte);
        self.seen = Seen::Text { continuation };
    }

    /// A UTF-8 character complete: written as it is, or escaped if it is hidden. Bytes that
    /// make no character (`E0 9B 9B`: a second byte outside the lead's range) are written as
    /// they are but for a C1 byte among them, `\x9b`, which a terminal in an 8-bit mode would
    /// obey (helper-109's review).
    fn complete(&mut self, out: &mut Vec<u8>) {
        match std::str::from_utf8(&self.utf8).map(|t| t.chars().next()) {
            Ok(Some(c)) if crate::parse::hidden(c) => {
                out.extend(c.escape_debug().to_string().as_bytes());
                self.utf8.clear();
            }
            Ok(_) => out.append(&mut self.utf8),
            Err(_) => {
                for byte in std::mem::take(&mut self.utf8) {
                    match byte {
                        0x80..=0x9f => out.extend(format!("\\x{byte:02x}").as_bytes()),
                        _ => out.push(byte),
                    }
                }
            }
        }
    }

    /// Writes out what is pending as text, its ESC escaped; the bytes of a character left
    /// unfinished at the end as `\xNN` (with the first bytes of the next output they could
    /// make one).
    fn release(&mut self, out: &mut Vec<u8>) {
        for byte in std::mem::take(&mut self.utf8) {
            out.extend(format!("\\x{byte:02x}").as_bytes());
        }
        for byte in std::mem::take(&mut self.pending) {
            match byte {
                0x1b => out.extend(b"\\u{1b}"),
                _ => out.push(byte),
            }
        }
        self.seen = Seen::Text { continuation: 0 };
    }
}

impl<W: Write> Write for Sanitized<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut out = Vec::with_capacity(buf.len() + 16);
        self.filter(buf, &mut out);
        self.inner.write_all(&out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Drop for Sanitized<W> {
    /// The end of the output: a sequence still held (a log that ends in the middle of one) is
    /// written, escaped.
    fn drop(&mut self) {
        if !self.pending.is_empty() || !self.utf8.is_empty() {
            let mut out = Vec::new();
            self.release(&mut out);
            let _ = self.inner.write_all(&out);
            let _ = self.inner.flush();
        }
    }
}

/// Filters `data` for a terminal as [`Sanitized`] does, whole: nothing is held.
pub fn sanitized(data: &[u8]) -> Vec<u8> {
    let mut filter = Sanitized::new(io::sink());
    let mut out = Vec::with_capacity(data.len() + 16);
    filter.filter(data, &mut out);
    filter.release(&mut out);
    out
}

/// How much of one log line a message quotes (a failed start's tail, a dead daemon's status).
const QUOTED_LINE: usize = 500;

/// `line`, the last of a tail, as a message quotes it: its last [`QUOTED_LINE`] bytes (cut at
/// a character), `…` marking the cut. The end, as a tail is: where a program's last words are.
pub fn quoted(line: &str) -> std::borrow::Cow<'_, str> {
    if line.len() <= QUOTED_LINE {
        return line.into();
    }
    let mut start = line.len() - QUOTED_LINE;
    while !line.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &line[start..]).into()
}

/// One file followed by name.
#[derive(Debug)]
struct Followed {
    path: PathBuf,
    file: Option<File>,
    /// (device, inode) of `file`.
    id: Option<(u64, u64)>,
    /// How far `file` has been printed.
    pos: u64,
    /// The last bytes printed (up to [`MARK_END`], those before `pos`): no longer there, the
    /// file was truncated and written again past `pos` between two looks (`copytruncate`
    /// while the program writes a lot), and is followed from its start.
    end: Vec<u8>,
    /// The name's disappearance was seen (and noted, unless routine): `Some(routine)`.
    gone: Option<bool>,
    /// Where `file` was last found: 0 at the name, K at `PATH.K`. Rotation only ever moves it
    /// up, so the next look for it starts there ([`Follower::rotated_slot`]).
    slot: u32,
    /// The rotated file just older than `file` when `file` was opened (the regular file at the
    /// slot above it), held open so that its inode number cannot be given to a new file (ext4
    /// hands a freed one to the next file made: helper-113's review), with its (device, inode):
    /// rotation removes the oldest files first, so while it is there, `file` did not fall off
    /// the end of the rotation ([`Follower::next_file`]).
    older: Option<(File, (u64, u64))>,
}

/// The up to [`MARK_END`] bytes of `file` before `pos` (fewer where it is shorter now);
/// `None` when they cannot be read.
fn bytes_before(file: &File, pos: u64) -> Option<Vec<u8>> {
    let from = pos.saturating_sub(MARK_END);
    let mut bytes = vec![0u8; (pos - from) as usize];
    let n = std::os::unix::fs::FileExt::read_at(file, &mut bytes, from).ok()?;
    bytes.truncate(n);
    Some(bytes)
}

/// Keeps the last [`MARK_END`] bytes of what `end` held followed by `data`.
fn remember_end(end: &mut Vec<u8>, data: &[u8]) {
    end.extend_from_slice(&data[data.len().saturating_sub(MARK_END as usize)..]);
    let excess = end.len().saturating_sub(MARK_END as usize);
    end.drain(..excess);
}

/// Something the follower has to say besides the data, on the way to the caller's stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The message.
    pub text: String,
    /// A routine event (a rotation, a truncation, a log replaced by a new file) that a user
    /// following a log does not need to hear about (`logs -f` shows these with `-v` only);
    /// else something unusual (a log that vanished and was waited for).
    pub routine: bool,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Note {
    fn routine(text: String) -> Note {
        Note {
            text,
            routine: true,
        }
    }
}

/// The file that comes after the one being followed, once its name holds another file.
enum Next {
    /// Follow this file next, from its start.
    Open {
        file: File,
        /// Where it is: 0 for the name, K for `PATH.K`.
        slot: u32,
        rotated: bool,
        /// Where the file just older than it is, to hold as [`Followed::older`]: the slot of
        /// the file followed before it, or none after a fall off the end (what is above the
        /// oldest file left is no part of this rotation: helper-115's review).
        older: Option<u32>,
    },
    /// Nothing to follow yet: the name is missing (`routine` while a rotation is under way).
    Missing { routine: bool },
    /// The files moved while we looked (another rotation): look again.
    Again,
}

/// What one look at a name in a log's directory found: `fstatat` of the name through the
/// directory's handle ([`crate::fsx::parent_of`]), never following a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// Nothing there (or nothing that can be looked at).
    Missing,
    /// A regular file: (device, inode).
    File((u64, u64)),
    /// Anything else: a symlink, a directory, a FIFO. No rotation makes one (the monitor's and
    /// logrotate's make regular files): it is someone's junk, never followed, never taken for
    /// the file being followed, never read.
    Junk,
}

/// How many missing or junk slots in a row [`Follower::rotated_slot`] looks past: rotation
/// leaves the files contiguous, and while it renames them one slot is empty. A directory full
/// of junk costs this many looks, not one per name in it.
const MISSING_SLOTS: u32 = 3;

/// How many rotations one look of [`Follower::rotated_slot`] catches up with: a rotation moves
/// the followed file up one slot, and every rotation wakes the follower (inotify; a poll at
/// most 250 ms apart without it), so more than this between two looks is no rotation's.
const CATCH_UP: u32 = 128;

/// How many lookups (a `fstatat` or an open of a name) following one file may make in one
/// look: enough to catch up with the most rotated files `--log-keep` keeps (five lookups or so
/// each), while whatever the daemon's user puts in the directory (its log's directory is
/// often its own) cannot make root's `logs -f` spin. Past it the look ends, and the next one
/// goes on from there.
const LOOKUP_BUDGET: u64 = 8 * MAX_LOG_KEEP as u64;

/// How many times in a row one look tries again when the files moved while it looked (a
/// rotation under way); then it waits for the next change (inotify) or re-check.
const AGAIN_LOOKS: u32 = 4;

/// The environment variable that, holding `follow` (among comma-separated words), makes the
/// follower say on stderr how many lookups each look made: for the tests, which check that
/// this stays bounded whatever a daemon's user puts beside its log.
const DEBUG_VAR: &str = "RDAEMON_DEBUG";

/// Follows files by name until an error (a closed output is the caller's cue to stop).
#[derive(Debug)]
pub struct Follower {
    files: Vec<Followed>,
    headers: bool,
    last: Option<usize>,
    inotify: Option<Inotify>,
    /// How many lookups of names in the logs' directories it has made (see [`LOOKUP_BUDGET`]).
    lookups: Cell<u64>,
}

impl Follower {
    /// Follows `files`, each with the handle and offset its tail was printed from (`None` for a
    /// file that does not exist yet). With `headers`, output from another file than the last one
    /// printed gets a `==> PATH <==` header (`last` is the index printed last).
    pub fn new(
        files: Vec<(PathBuf, Option<(File, u64)>)>,
        headers: bool,
        last: Option<usize>,
    ) -> Follower {
        let files = files
            .into_iter()
            .map(|(path, opened)| {
                let (file, pos) = match opened {
                    Some((f, pos)) => (Some(f), pos),
                    None => (None, 0),
                };
                let id = file
                    .as_ref()
                    .and_then(|f| f.metadata().ok())
                    .map(|m| (m.dev(), m.ino()));
                let end = file
                    .as_ref()
                    .and_then(|f| bytes_before(f, pos))
                    .unwrap_or_default();
                Followed {
                    path,
                    file,
                    id,
                    pos,
                    end,
                    gone: None,
                    slot: 0,
                    older: None,
                }
            })
            .collect();
        let mut follower = Follower {
            files,
            headers,
            last,
            inotify: None,
            lookups: Cell::new(0),
        };
        for i in 0..follower.files.len() {
            if follower.files[i].file.is_some() {
                let owner = (follower.files[i].file.as_ref())
                    .and_then(|f| f.metadata().ok())
                    .map(|m| m.uid());
                follower.files[i].older = follower.hold(i, 1, owner);
            }
        }
        follower
    }

    /// Follows forever: returns only with an error (of `out`, typically a closed pipe). A pipe
    /// on standard output whose reader is gone (`logs -f | head -1`) ends it at once, as
    /// `tail -f`, not at the next line the log gets (helper-96's audit).
    pub fn run(mut self, out: &mut dyn Write, note: &mut dyn FnMut(Note)) -> io::Result<()> {
        self.inotify = self.watch_directories();
        let debug = std::env::var(DEBUG_VAR).is_ok_and(|v| v.split(',').any(|w| w == "follow"));
        let stdout = io::stdout();
        // Only a pipe or socket says its reader left (POLLERR); anything else would say
        // nothing, or, closed, POLLNVAL at every poll.
        let reader = nix::sys::stat::fstat(stdout.as_fd()).is_ok_and(|st| {
            let kind = nix::sys::stat::SFlag::from_bits_truncate(st.st_mode)
                & nix::sys::stat::SFlag::S_IFMT;
            kind == nix::sys::stat::SFlag::S_IFIFO || kind == nix::sys::stat::SFlag::S_IFSOCK
        });
        let reader = reader.then(|| stdout.as_fd());
        let broken = || io::Error::from(io::ErrorKind::BrokenPipe);
        let mut interval = POLL_MIN;
        loop {
            let before = self.lookups.get();
            let active = self.poll_once(out, note)?;
            if debug {
                eprintln!(
                    "rdaemon: debug: follow: {} lookups",
                    self.lookups.get() - before
                );
            }
            let wait = match &self.inotify {
                Some(_) => RECHECK,
                None => {
                    interval = if active {
                        POLL_MIN
                    } else {
                        (interval * 3 / 2).min(POLL_MAX)
                    };
                    interval
                }
            };
            let mut fds: Vec<PollFd> = self
                .inotify
                .iter()
                .map(|i| PollFd::new(i.as_fd(), PollFlags::POLLIN))
                .chain(reader.map(|fd| PollFd::new(fd, PollFlags::empty())))
                .collect();
            let ms = wait.as_millis().min(i32::MAX as u128) as i32;
            match poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            ) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
            let left = reader.is_some()
                && fds
                    .last()
                    .and_then(|f| f.revents())
                    .is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP));
            if left {
                return Err(broken());
            }
            if let Some(inotify) = &self.inotify {
                // The events only say "look again"; drain them.
                while inotify.read_events().is_ok_and(|e| !e.is_empty()) {}
            }
        }
    }

    /// An inotify instance watching each file's directory, or `None` (then polling is used).
    fn watch_directories(&self) -> Option<Inotify> {
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).ok()?;
        let mask = AddWatchFlags::IN_MODIFY
            | AddWatchFlags::IN_ATTRIB
            | AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_CLOSE_WRITE;
        for f in &self.files {
            let dir = match f.path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            inotify.add_watch(dir, mask).ok()?;
        }
        Some(inotify)
    }

    /// Prints whatever is new in every file, handling rotation, truncation and replacement.
    /// Returns whether anything happened. Bounded: at most [`LOOKUP_BUDGET`] lookups per file,
    /// and [`AGAIN_LOOKS`] tries in a row while the files move.
    pub fn poll_once(
        &mut self,
        out: &mut dyn Write,
        note: &mut dyn FnMut(Note),
    ) -> io::Result<bool> {
        let mut active = false;
        for i in 0..self.files.len() {
            // An older file deleted since (fallen off, or removed to free the disk) is let go
            // of at once, not kept until the next switch (helper-115's review): gone, it says
            // what its absence says.
            let deleted = self.files[i]
                .older
                .as_ref()
                .is_some_and(|(f, _)| f.metadata().is_ok_and(|m| m.nlink() == 0));
            if deleted {
                self.files[i].older = None;
            }
            active |= self.drain(i, out, note)?;
            // Each step moves one file on (a rotated file, then the next, up to the name), or
            // looks again when the files moved meanwhile. Every step looks at the name at
            // least, so the budget ends the loop.
            let start = self.lookups.get();
            let mut again = 0;
            while self.lookups.get() - start < LOOKUP_BUDGET && self.name_moved(i) {
                match self.next_file(i) {
                    Next::Open {
                        file,
                        slot,
                        rotated,
                        older,
                    } => {
                        again = 0;
                        // What the writer put in the old file before it moved on.
                        self.drain(i, out, note)?;
                        let owner = file.metadata().ok().map(|m| m.uid());
                        let older = older.and_then(|k| self.hold(i, k, owner));
                        let f = &mut self.files[i];
                        let path = match slot {
                            0 => f.path.clone(),
                            k => rotated_path(&f.path, k),
                        };
                        let text = match (rotated, f.gone, f.file.is_some()) {
                            (true, _, _) if slot == 0 => Some(Note::routine(format!(
                                "'{}' was rotated; following the new file",
                                f.path.display()
                            ))),
                            (true, _, _) => Some(Note::routine(format!(
                                "'{}' was rotated; reading '{}'",
                                f.path.display(),
                                path.display()
                            ))),
                            (false, Some(routine), _) => Some(Note {
                                text: format!("'{}' has appeared; following it", f.path.display()),
                                routine,
                            }),
                            // As `--log-keep 0` rotates: the old file removed, a new one. Or
                            // the files after the old one are not a rotation's (junk, gaps):
                            // the name is followed from its start, as `tail -F` does.
                            (false, None, true) => Some(Note::routine(format!(
                                "'{}' has been replaced; following the new file",
                                f.path.display()
                            ))),
                            (false, None, false) => None,
                        };
                        if let Some(text) = text {
                            note(text);
                        }
                        f.id = file.metadata().ok().map(|m| (m.dev(), m.ino()));
                        f.file = Some(file);
                        f.pos = 0;
                        f.end.clear();
                        f.gone = None;
                        f.slot = slot;
                        f.older = older;
                        self.drain(i, out, note)?;
                        active = true;
                    }
                    Next::Missing { routine } => {
                        let f = &mut self.files[i];
                        if f.gone.is_none() {
                            f.gone = Some(routine);
                            // Never opened: it was not there when following began.
                            let text = match f.id {
                                None => "does not exist yet; waiting for it to appear",
                                Some(_) => "has become inaccessible; waiting for it to reappear",
                            };
                            note(Note {
                                text: format!("'{}' {text}", f.path.display()),
                                routine,
                            });
                        }
                        break;
                    }
                    // Moving still: a few more looks, then the next change wakes the next look.
                    Next::Again => {
                        again += 1;
                        if again == AGAIN_LOOKS {
                            break;
                        }
                    }
                }
            }
        }
        Ok(active)
    }

    /// What is at slot `k` of file `i` (0: its name, K: `PATH.K`), looked at through the
    /// directory's handle without following a symlink; counted in `lookups`.
    fn entry(&self, i: usize, k: u32) -> Entry {
        self.lookups.set(self.lookups.get() + 1);
        let path = &self.files[i].path;
        let path = match k {
            0 => path.clone(),
            k => rotated_path(path, k),
        };
        let Ok(Some((dir, name))) = crate::fsx::parent_of(&path) else {
            return Entry::Missing;
        };
        match dir.stat(&name) {
            Ok(Some(st)) if st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFREG => {
                Entry::File((st.st_dev, st.st_ino))
            }
            Ok(Some(_)) => Entry::Junk,
            Ok(None) | Err(_) => Entry::Missing,
        }
    }

    /// The regular file at slot `k` of file `i`, if one is there, made by `owner` or root (not
    /// another user's, planted in a sticky directory): opened, with its (device, inode).
    fn hold(&self, i: usize, k: u32, owner: Option<u32>) -> Option<(File, (u64, u64))> {
        let file = self.open_slot(i, k)?;
        let meta = file.metadata().ok()?;
        let made = owner.is_none_or(|uid| meta.uid() == uid || meta.uid() == 0);
        made.then(|| (file, (meta.dev(), meta.ino())))
    }

    /// The `fstatat` of slot `k` of file `i`, without following a symlink; counted in
    /// `lookups`.
    fn stat_slot(&self, i: usize, k: u32) -> Option<nix::sys::stat::FileStat> {
        self.lookups.set(self.lookups.get() + 1);
        let path = rotated_path(&self.files[i].path, k);
        let (dir, name) = crate::fsx::parent_of(&path).ok().flatten()?;
        dir.stat(&name).ok().flatten()
    }

    /// Opens slot `k` of file `i` (as [`Follower::entry`] names it) for reading if it is a
    /// regular file, as [`crate::fsx::open_read`] does: never through a symlink, never blocking
    /// on a FIFO put in its place. Counted in `lookups`.
    fn open_slot(&self, i: usize, k: u32) -> Option<File> {
        self.lookups.set(self.lookups.get() + 1);
        let path = &self.files[i].path;
        match k {
            0 => crate::fsx::open_read(path).ok().flatten(),
            k => crate::fsx::open_read(&rotated_path(path, k)).ok().flatten(),
        }
    }

    /// Whether the name of file `i` no longer holds the file being followed: it holds another
    /// regular file, or nothing. Something else put at the name (a symlink, a FIFO) is not a
    /// log to follow: the file being followed is kept.
    fn name_moved(&self, i: usize) -> bool {
        match self.entry(i, 0) {
            Entry::File(id) => Some(id) != self.files[i].id,
            Entry::Missing => true,
            Entry::Junk => false,
        }
    }

    /// The slot `K` at which the file `id` sits now among the rotated files of file `i`
    /// (`PATH.1` …). It only ever moves up, one slot per rotation, so the scan starts where it
    /// was last found and goes up: it cannot pass it, and catching up with many rotations
    /// costs one look per file, not one scan per file. While rotation renames the files
    /// (`PATH.N-1` → `PATH.N` first, `PATH` → `PATH.1` last) one slot is empty, and the empty
    /// slot moves down as this scan moves up: the scan goes on past a few missing slots
    /// ([`MISSING_SLOTS`], junk counted as missing). Then, for a file moved down by hand, the
    /// slots below where it was.
    fn rotated_slot(&self, i: usize, id: (u64, u64)) -> Option<u32> {
        let from = self.files[i].slot.max(1);
        let scan = |slots: std::ops::RangeInclusive<u32>| {
            let mut missing = 0;
            for k in slots {
                match self.entry(i, k) {
                    Entry::File(found) if found == id => return Some(k),
                    Entry::File(_) => missing = 0,
                    Entry::Missing | Entry::Junk if missing < MISSING_SLOTS => missing += 1,
                    Entry::Missing | Entry::Junk => return None,
                }
            }
            None
        };
        // At most CATCH_UP rotations since the last look: more files than that above it are
        // not a rotation's (second review, 2026-12-02: a thousand regular files put at the
        // slots, and the name replaced a hundred times a second, kept root's follower at 44 %
        // of a CPU scanning them all on every look).
        let to = from.saturating_add(CATCH_UP).min(MAX_LOG_KEEP);
        scan(from..=to).or_else(|| match from {
            1 => None,
            from => scan(from.saturating_sub(CATCH_UP).max(1)..=from - 1),
        })
    }

    /// What to follow after file `i`, whose name holds another file now (or none). A file found
    /// at `PATH.K` was rotated: the next newer one is the first regular file below it
    /// (`PATH.K-1`, junk passed over; after `PATH.1`, the name itself). That file is the right
    /// one only if no rotation moved the files meanwhile, that is, if ours is still at `PATH.K`
    /// after it was opened (rotation renames the older files first). A file that is not among
    /// the rotated ones was replaced or removed: the name is followed from its start.
    fn next_file(&self, i: usize) -> Next {
        let f = &self.files[i];
        // Not found: it was removed, fell off the end, or the scan met the files as several
        // rotations moved them: one more look before following the name from its start.
        let slot = f.id.and_then(|id| {
            self.rotated_slot(i, id)
                .or_else(|| self.rotated_slot(i, id))
        });
        let Some(k) = slot else {
            // Rotation removes the oldest files first: with the file just older than ours gone
            // too, ours fell off the end (a burst of output rotated the log more times than it
            // keeps files between two looks), and every rotated file there now is newer than
            // ours: the oldest of them is next (helper-110's audit: `logs -f` went on at the
            // name, skipping them). With that older file still there, ours was removed
            // otherwise (by hand, `--log-keep 0`): the name is followed from its start.
            let fell_off = f
                .older
                .as_ref()
                .is_none_or(|(_, older)| self.rotated_slot(i, *older).is_none());
            if fell_off {
                if let Some(next) = self.oldest_rotated(i) {
                    return next;
                }
            }
            return match self.open_slot(i, 0) {
                Some(file) => Next::Open {
                    file,
                    slot: 0,
                    rotated: false,
                    older: Some(1),
                },
                // The name: missing, or not a file to follow.
                None => Next::Missing { routine: false },
            };
        };
        let mut next = k - 1;
        loop {
            match self.entry(i, next) {
                Entry::File(_) => break,
                Entry::Junk if next > 0 => next -= 1,
                // A rotated file that vanished or moved on (another rotation, or `--log-keep`).
                Entry::Missing if next > 0 => return Next::Again,
                // The name: missing (still, during a rotation), or not a file to follow.
                Entry::Missing | Entry::Junk => return Next::Missing { routine: true },
            }
        }
        let Some(file) = self.open_slot(i, next) else {
            return match next {
                0 => Next::Missing { routine: true },
                _ => Next::Again,
            };
        };
        match (self.entry(i, k), f.id) {
            (Entry::File(id), Some(ours)) if id == ours => Next::Open {
                file,
                slot: next,
                rotated: true,
                older: Some(k),
            },
            _ => Next::Again,
        }
    }

    /// The oldest rotated file of file `i` newer than the one it followed (the regular file at
    /// the highest slot of the run from `PATH.1`, past a few missing ones as
    /// [`Follower::rotated_slot`] goes, owned by the followed file's owner, and last written no
    /// earlier than the followed file was:
    /// files above `--log-keep` left by a run that kept more are older, and not read again,
    /// helper-113's review), opened, to follow next; `Next::Again` when it moved while opened;
    /// `None` when there is none, or when the run goes on past [`CATCH_UP`] slots: that many
    /// rotations between two looks are no rotation's (files put at the slots by the daemon's
    /// user), and the name is followed.
    fn oldest_rotated(&self, i: usize) -> Option<Next> {
        let written = |st: &nix::sys::stat::FileStat| (st.st_mtime, st.st_mtime_nsec);
        let ours = self.files[i]
            .file
            .as_ref()
            .and_then(|f| nix::sys::stat::fstat(f.as_fd()).ok());
        let since = ours.map(|st| written(&st));
        // Made by the followed file's owner, or by root (a rotation by the other of the two:
        // helper-115's review): in a sticky directory (a log in `/tmp`) anyone may make
        // `NAME.log.K`, and root's follower went on with a file another user planted there,
        // and stayed on it (helper-114's attack).
        let owner = ours.map(|st| st.st_uid);
        let mut oldest = None;
        let mut missing = 0;
        for k in 1..=CATCH_UP + 1 {
            // One lookup per slot, as [`Follower::entry`] classifies it.
            let st = self
                .stat_slot(i, k)
                .filter(|st| st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFREG);
            match st {
                Some(_) if k > CATCH_UP => return None,
                Some(st) => {
                    let newer = since.is_none_or(|since| written(&st) >= since);
                    if newer && owner.is_none_or(|uid| uid == st.st_uid || st.st_uid == 0) {
                        oldest = Some((k, (st.st_dev, st.st_ino)));
                    }
                    missing = 0;
                }
                None if missing < MISSING_SLOTS => missing += 1,
                None => break,
            }
        }
        let (k, id) = oldest?;
        let Some(file) = self.open_slot(i, k) else {
            return Some(Next::Again);
        };
        let opened = file.metadata().ok().map(|m| (m.dev(), m.ino()));
        Some(match opened == Some(id) {
            true => Next::Open {
                file,
                slot: k,
                rotated: true,
                older: None,
            },
            false => Next::Again,
        })
    }

    /// Prints what was appended to file `i` since the last look; notices truncation.
    fn drain(
        &mut self,
        i: usize,
        out: &mut dyn Write,
        note: &mut dyn FnMut(Note),
    ) -> io::Result<bool> {
        let f = &mut self.files[i];
        let Some(file) = f.file.as_mut() else {
            return Ok(false);
        };
        let len = file.metadata()?.len();
        // Shorter, or written again past where it was printed (what was printed last is no
        // longer there): truncated since the last look.
        let rewritten = || bytes_before(file, f.pos).is_some_and(|now| now != f.end);
        if len < f.pos || (!f.end.is_empty() && rewritten()) {
            // Routine too: `logrotate`'s `copytruncate` does it at every rotation (SPEC §5:
            // `-f` survives truncation quietly).
            note(Note::routine(format!(
                "'{}' was truncated; following from its start",
                f.path.display()
            )));
            f.pos = 0;
            f.end.clear();
        }
        if len == f.pos {
            return Ok(false);
        }
        file.seek(SeekFrom::Start(f.pos))?;
        // In pieces: what was appended can be huge (a sparse file the program extended).
        let mut data = vec![0u8; FOLLOW_CHUNK];
        let mut wrote = false;
        while f.pos < len {
            let want = (len - f.pos).min(FOLLOW_CHUNK as u64) as usize;
            let n = file.read(&mut data[..want])?;
            if n == 0 {
                break;
            }
            f.pos += n as u64;
            if !wrote && self.headers && self.last != Some(i) {
                let sep = if self.last.is_some() { "\n" } else { "" };
                writeln!(out, "{sep}==> {} <==", f.path.display())?;
            }
            wrote = true;
            out.write_all(&data[..n])?;
            remember_end(&mut f.end, &data[..n]);
        }
        if wrote {
            self.last = Some(i);
            out.flush()?;
        }
        Ok(wrote)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A daemon's user can make every rotated file a huge sparse one without a newline: the
    /// lines before a log's own, with its tail, stay within the budget (`MAX_TAIL`;
    /// helper-135's review: 60 of 16 MiB were read whole for `-n 60`). Tried with a budget of
    /// 256 KiB: the unit tests share one process, whose memory another test measures.
    #[test]
    fn older_lines_stay_within_the_tails_budget() {
        const LIMIT: u64 = 256 * 1024;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        fs::write(&path, "own\n").unwrap();
        for n in 1..=3 {
            let rotated = fs::File::create(rotated_path(&path, n)).unwrap();
            rotated.set_len(LIMIT).unwrap();
        }
        // Each file's tail could reach 300 × 64 KiB: more than the whole budget.
        let older = older_lines_within(&path, 300, b"own\n", LIMIT);
        // (With the newline that ends the last rotated file's cut line.)
        assert!(
            older.len() as u64 <= LIMIT,
            "{} bytes of older lines",
            older.len()
        );
        // Within the budget, they are read as before: the last lines of each, oldest first.
        fs::write(rotated_path(&path, 1), "b1\nb2\n").unwrap();
        fs::write(rotated_path(&path, 2), "a1\na2\n").unwrap();
        fs::remove_file(rotated_path(&path, 3)).unwrap();
        assert_eq!(older_lines(&path, 4, b"own\n"), b"a2\nb1\nb2\n");
    }

    #[test]
    fn the_monitors_stamps_are_recognised_and_nothing_else() {
        let stamp = b"2026-12-04T12:37:09.584Z".as_slice();
        assert_eq!(line_stamp(b"2026-12-04T12:37:09.584Z x1\n"), Some(stamp));
        for other in [
            "2026-12-04T12:37:09.584Z",        // no space: not a stamp before a line
            "2026-12-04T12:37:09Z x1",         // no milliseconds
            "2026-12-04 12:37:09.584Z x1",     // not RFC 3339's T
            "2026-12-04T12:37:09.584+01:00 x", // not UTC
            "x1 2026-12-04T12:37:09.584Z y",
            "",
        ] {
            assert_eq!(line_stamp(other.as_bytes()), None, "{other:?}");
        }
    }

    #[test]
    fn stamped_tails_are_merged_by_time_each_in_its_own_order() {
        let a = b"rdaemon: a note\n2026-01-01T00:00:01.000Z a1\n2026-01-01T00:00:03.000Z a3\ncontinued\n2026-01-01T00:00:02.500Z a-late"
            .to_vec();
        let b = b"2026-01-01T00:00:02.000Z b2\n2026-01-01T00:00:03.000Z b3\n".to_vec();
        let tails = [a, b, Vec::new()];
        let merged = by_time(&tails).unwrap();
        let shown: Vec<(usize, String)> = merged
            .into_iter()
            .map(|(i, r)| (i, String::from_utf8_lossy(r).into_owned()))
            .collect();
        assert_eq!(
            shown,
            [
                (
                    0,
                    "rdaemon: a note\n2026-01-01T00:00:01.000Z a1\n".to_owned()
                ),
                (1, "2026-01-01T00:00:02.000Z b2\n".to_owned()),
                // A tie goes to the tail given first, with the line that continues it.
                (0, "2026-01-01T00:00:03.000Z a3\ncontinued\n".to_owned()),
                // A tail keeps its own order, even where its clock went back.
                (0, "2026-01-01T00:00:02.500Z a-late".to_owned()),
                (1, "2026-01-01T00:00:03.000Z b3\n".to_owned()),
            ]
        );
    }

    #[test]
    fn a_tail_without_times_is_not_merged() {
        let stamped = b"2026-01-01T00:00:01.000Z a1\n".to_vec();
        assert!(by_time(&[stamped.clone(), b"plain\n".to_vec()]).is_none());
        assert!(by_time(&[stamped, Vec::new()]).is_some());
    }

    #[test]
    fn sanitized_escapes_controls_and_keeps_colors_even_when_cut_between_writes() {
        let log = b"a\x1b]0;title\x07b\r\x1b[2Jc\x1b[1;31mred\x1b[0m\t\xc2\x9b1m\xc3\xa9\
                    \x9d0;x\xe2\x82\xac\x1b[>4;2m\xc2\xa0u\xe2\x80\xaeto\xf0\x9f\x98\x80\n";
        let want = "a\\u{1b}]0;title\\u{7}b\\r\\u{1b}[2Jc\x1b[1;31mred\x1b[0m\t\\u{9b}1m\u{e9}\
                    \\x9d0;x\u{20ac}\\u{1b}[>4;2m\u{a0}u\\u{202e}to\u{1f600}\n";
        assert_eq!(String::from_utf8(sanitized(log)).unwrap(), want);
        // Every cut of the log into two writes gives the same.
        for cut in 0..log.len() {
            let mut out = Sanitized::new(Vec::new());
            out.write_all(&log[..cut]).unwrap();
            out.write_all(&log[cut..]).unwrap();
            let shown = std::mem::take(&mut out.inner);
            assert_eq!(String::from_utf8(shown).unwrap(), want, "cut at {cut}");
        }
        // Bytes that make no character keep no C1 byte raw; an unfinished one at the end is
        // written escaped.
        assert_eq!(
            String::from_utf8_lossy(&sanitized(b"a\xe0\x9b\x9b[2Jb\xed\xa0\x9bc\xe2\x80")),
            "a\u{fffd}\\x9b\\x9b[2Jb\u{fffd}\u{fffd}\\x9bc\\xe2\\x80"
        );
        // A log that ends inside a sequence: what is held is written, escaped, at the end.
        let mut shown = Vec::new();
        {
            let mut out = Sanitized::new(&mut shown);
            out.write_all(b"progress: 50%\x1b[1;3").unwrap();
        }
        assert_eq!(
            String::from_utf8(shown).unwrap(),
            "progress: 50%\\u{1b}[1;3"
        );
    }

    fn tail_of(content: &[u8], lines: usize) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(&path, content).unwrap();
        let mut file = File::open(&path).unwrap();
        let (out, end) = tail(&mut file, lines).unwrap();
        assert_eq!(end, content.len() as u64);
        out
    }

    #[test]
    fn tail_takes_the_last_lines() {
        assert_eq!(tail_of(b"a\nb\nc\n", 2), b"b\nc\n");
        assert_eq!(tail_of(b"a\nb\nc\n", 3), b"a\nb\nc\n");
        assert_eq!(tail_of(b"a\nb\nc\n", 10), b"a\nb\nc\n");
        assert_eq!(tail_of(b"a\nb\nc", 2), b"b\nc", "unterminated last line");
        assert_eq!(tail_of(b"a\n\n\nb\n", 2), b"\nb\n", "empty lines count");
        assert_eq!(tail_of(b"a\nb\n", 0), b"");
        assert_eq!(tail_of(b"", 5), b"");
        assert_eq!(tail_of(b"\n", 1), b"\n");
    }

    #[test]
    fn tail_crosses_chunk_boundaries() {
        let mut content = Vec::new();
        for i in 0..5000 {
            content.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        let out = tail_of(&content, 1500);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1500);
        assert!(text.starts_with("line 3500\n") && text.ends_with("line 4999\n"));
        let long = [vec![b'x'; 3 * CHUNK as usize], b"\nend\n".to_vec()].concat();
        assert_eq!(tail_of(&long, 1), b"end\n");
        assert_eq!(tail_of(&long, 2), long);
    }

    #[test]
    fn tail_text_is_trimmed_and_none_when_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(&path, "x\ny\nz\n").unwrap();
        assert_eq!(tail_text(&path, 2).as_deref(), Some("y\nz"));
        fs::write(&path, "").unwrap();
        assert_eq!(tail_text(&path, 2), None);
        assert_eq!(tail_text(&dir.path().join("missing"), 2), None);
        assert_eq!(tail_text(dir.path(), 2), None);
    }

    #[test]
    fn follower_sees_appends_rotation_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(&path, "old\n").unwrap();
        let mut file = File::open(&path).unwrap();
        let (_, end) = tail(&mut file, 0).unwrap();
        let mut follower = Follower::new(vec![(path.clone(), Some((file, end)))], false, None);
        let mut out = Vec::new();
        let mut notes = Vec::new();
        let mut step =
            |f: &mut Follower, out: &mut Vec<u8>| f.poll_once(out, &mut |n| notes.push(n)).unwrap();
        assert!(!step(&mut follower, &mut out));
        append(&path, "one\n");
        assert!(step(&mut follower, &mut out));
        fs::rename(&path, dir.path().join("log.1")).unwrap();
        append(&dir.path().join("log.1"), "two\n");
        step(&mut follower, &mut out);
        fs::write(&path, "three\n").unwrap();
        step(&mut follower, &mut out);
        fs::write(&path, "").unwrap();
        step(&mut follower, &mut out);
        append(&path, "four\n");
        step(&mut follower, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "one\ntwo\nthree\nfour\n");
        // The rotation and the truncation (logrotate's `copytruncate`) are both routine.
        let (routine, unusual): (Vec<_>, Vec<_>) = notes.iter().partition(|n| n.routine);
        assert!(
            routine.iter().any(|n| n.text.contains("was rotated")),
            "{notes:?}"
        );
        assert!(
            routine.iter().any(|n| n.text.contains("was truncated")),
            "{notes:?}"
        );
        assert!(unusual.is_empty(), "{notes:?}");
    }

    /// `copytruncate` while the program writes a lot: the file is truncated and written again
    /// past where it was printed before the next look. The follower sees that what it printed
    /// last is no longer there and prints the new data from its start (before, it went on from
    /// its old offset, in the middle of the new data, and what came before was lost).
    #[test]
    fn follower_sees_a_truncation_refilled_past_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(&path, "old line\n").unwrap();
        let mut file = File::open(&path).unwrap();
        let (_, end) = tail(&mut file, 0).unwrap();
        let mut follower = Follower::new(vec![(path.clone(), Some((file, end)))], false, None);
        let mut out = Vec::new();
        let mut notes = Vec::new();
        append(&path, "one\n");
        follower
            .poll_once(&mut out, &mut |n| notes.push(n))
            .unwrap();
        fs::write(&path, "after the truncation, a longer line\n").unwrap();
        follower
            .poll_once(&mut out, &mut |n| notes.push(n))
            .unwrap();
        append(&path, "two\n");
        follower
            .poll_once(&mut out, &mut |n| notes.push(n))
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "one\nafter the truncation, a longer line\ntwo\n"
        );
        assert!(
            notes
                .iter()
                .any(|n| n.routine && n.text.contains("was truncated")),
            "{notes:?}"
        );
        // Appends alone are never taken for a truncation.
        assert_eq!(notes.len(), 1, "{notes:?}");
    }

    /// Rotates `path` as the monitor does, `keep` files kept.
    fn rotate(path: &Path, keep: u32) {
        let mut free = 1;
        while free < keep && rotated_path(path, free).exists() {
            free += 1;
        }
        for i in (1..free).rev() {
            fs::rename(rotated_path(path, i), rotated_path(path, i + 1)).unwrap();
        }
        fs::rename(path, rotated_path(path, 1)).unwrap();
    }

    /// helper-110's audit: more rotations between two looks than the log keeps files. The
    /// followed file fell off the end; the follower finishes it through its handle, then reads
    /// the files left, oldest first, and only the one that fell off unread is lost.
    #[test]
    fn a_followed_file_rotated_off_the_end_goes_on_with_the_oldest_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(&path, "0\n").unwrap();
        let file = File::open(&path).unwrap();
        let mut follower = Follower::new(vec![(path.clone(), Some((file, 2)))], false, None);
        append(&path, "1\n");
        for n in 2..=5 {
            rotate(&path, 2);
            fs::write(&path, format!("{n}\n")).unwrap();
        }
        // On disk: log.2 = 3, log.1 = 4, log = 5; 2 fell off unread.
        let mut out = Vec::new();
        follower.poll_once(&mut out, &mut |_| {}).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "1\n3\n4\n5\n");
    }

    /// Rotated files `PATH.K` for each K of `slots`, holding `staleK`, last written an hour
    /// ago: what a run that kept more files left above `--log-keep`.
    fn stale_rotated_files(path: &Path, slots: std::ops::RangeInclusive<u32>) {
        let long_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
        for k in slots {
            let stale = rotated_path(path, k);
            fs::write(&stale, format!("stale{k}\n")).unwrap();
            let f = File::options().write(true).open(&stale).unwrap();
            f.set_modified(long_ago).unwrap();
        }
    }

    /// A follower of `path` (which holds `F`, read), then `F2` appended and a burst of three
    /// rotations with `--log-keep 2`, each new file holding one line: `G`, `H`, `I`.
    fn follow_then_burst(path: &Path) -> Follower {
        let file = File::open(path).unwrap();
        let follower = Follower::new(vec![(path.to_owned(), Some((file, 2)))], false, None);
        append(path, "F2\n");
        for n in ["G", "H", "I"] {
            rotate(path, 2);
            fs::write(path, format!("{n}\n")).unwrap();
        }
        follower
    }

    /// helper-113's review: with a rotated file older than the followed one at the start,
    /// the burst that drops both gives the freed inode numbers to the new files (ext4 does at
    /// once), and a new file was taken for the older one still there. It is held open now.
    #[test]
    fn a_burst_past_the_older_file_too_goes_on_with_the_oldest_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(rotated_path(&path, 1), "A\n").unwrap();
        fs::write(&path, "F\n").unwrap();
        let mut follower = follow_then_burst(&path);
        let mut out = Vec::new();
        follower.poll_once(&mut out, &mut |_| {}).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "F2\nG\nH\nI\n");
    }

    /// helper-113's review: rotated files above `--log-keep`, left by a run that kept more,
    /// are older than the followed file, and not read as if they came after it.
    #[test]
    fn stale_rotated_files_above_the_kept_ones_are_not_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        stale_rotated_files(&path, 1..=5);
        fs::write(&path, "F\n").unwrap();
        let mut follower = follow_then_burst(&path);
        let mut out = Vec::new();
        follower.poll_once(&mut out, &mut |_| {}).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "F2\nG\nH\nI\n");
    }

    /// helper-115's review: rotated files made by another owner than the followed file's (a
    /// daemon user's log in root's directory, rotated by root) are this rotation's too when
    /// root made them.
    #[test]
    fn rotated_files_of_root_count_after_a_users_file() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(&path, "F\n").unwrap();
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        let mut follower = follow_then_burst(&path);
        let mut out = Vec::new();
        follower.poll_once(&mut out, &mut |_| {}).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "F2\nG\nH\nI\n");
    }

    /// helper-115's review: after a fall off the end, the file above the oldest one left is no
    /// part of the rotation (a stale file above `--log-keep`); taken for the older one, it made
    /// the next rotation, while the oldest file was being printed, look like a removal by
    /// hand, and the newer files were skipped.
    #[test]
    fn a_rotation_while_the_oldest_file_left_is_printed_loses_nothing() {
        struct RotateOnG<'a> {
            path: &'a Path,
            seen: Vec<u8>,
            done: bool,
        }
        impl Write for RotateOnG<'_> {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.seen.extend_from_slice(buf);
                if !self.done && self.seen.ends_with(b"G\n") {
                    self.done = true;
                    rotate(self.path, 2);
                    fs::write(self.path, "J\n").unwrap();
                }
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        stale_rotated_files(&path, 3..=5);
        fs::write(&path, "F\n").unwrap();
        let mut follower = follow_then_burst(&path);
        let mut out = RotateOnG {
            path: &path,
            seen: Vec::new(),
            done: false,
        };
        for _ in 0..3 {
            follower.poll_once(&mut out, &mut |_| {}).unwrap();
        }
        assert_eq!(String::from_utf8(out.seen).unwrap(), "F2\nG\nH\nI\nJ\n");
    }

    /// helper-115's review: the older file held open is let go of once deleted, so that its
    /// space is freed (an admin removing old logs to free the disk).
    #[test]
    fn a_deleted_older_file_is_not_held_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(rotated_path(&path, 1), "old\n").unwrap();
        fs::write(&path, "F\n").unwrap();
        let file = File::open(&path).unwrap();
        let mut follower = Follower::new(vec![(path.clone(), Some((file, 2)))], false, None);
        assert!(follower.files[0].older.is_some());
        fs::remove_file(rotated_path(&path, 1)).unwrap();
        follower.poll_once(&mut Vec::new(), &mut |_| {}).unwrap();
        assert!(follower.files[0].older.is_none());
    }

    /// helper-116: with `--log-keep 0` the monitor removed the log, then made the new one, and
    /// a look between the two said on stderr (without `-v`) that the log had become
    /// inaccessible, then that it appeared. The new one is now renamed over the old one (the
    /// gap itself is tested with the monitor, `field_monitor`): here, the follower goes on
    /// quietly, and no temporary file is left.
    #[test]
    fn a_keep_zero_rotation_by_the_monitor_is_followed_quietly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut log = crate::rotate::RotatingLog::open(&path, 8, 0).unwrap();
        let file = File::open(&path).unwrap();
        let mut follower = Follower::new(vec![(path.clone(), Some((file, 0)))], false, None);
        let (mut out, mut notes) = (Vec::new(), Vec::new());
        for line in ["aaaa\n", "bbbb\n", "cccc\n"] {
            log.write(line.as_bytes()).unwrap();
            follower
                .poll_once(&mut out, &mut |n| notes.push(n))
                .unwrap();
        }
        assert_eq!(String::from_utf8(out).unwrap(), "aaaa\nbbbb\ncccc\n");
        assert!(notes.iter().all(|n| n.routine), "{notes:?}");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["log"], "a temporary file was left");
    }

    /// A followed file removed by hand (not by rotation: the rotated file older than it is
    /// still there) is followed at the name from its start; the rotated files are not read
    /// again.
    #[test]
    fn a_followed_file_removed_by_hand_is_followed_at_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(rotated_path(&path, 1), "old\n").unwrap();
        fs::write(&path, "0\n").unwrap();
        let file = File::open(&path).unwrap();
        let mut follower = Follower::new(vec![(path.clone(), Some((file, 2)))], false, None);
        fs::remove_file(&path).unwrap();
        fs::write(&path, "new\n").unwrap();
        let mut out = Vec::new();
        follower.poll_once(&mut out, &mut |_| {}).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "new\n");
    }

    #[test]
    fn follower_reads_every_rotated_file_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(&path, "0\n").unwrap();
        let file = File::open(&path).unwrap();
        let mut follower = Follower::new(vec![(path.clone(), Some((file, 0)))], false, None);
        let mut out = Vec::new();
        let mut notes = Vec::new();
        follower
            .poll_once(&mut out, &mut |n| notes.push(n))
            .unwrap();
        append(&path, "1\n");
        // Several rotations between two looks, the name even missing at the end of one.
        let mut n = 2;
        for round in 0..4 {
            for _ in 0..round + 1 {
                rotate(&path, 50);
                fs::write(&path, format!("{n}\n")).unwrap();
                append(&path, &format!("{}\n", n + 1));
                n += 2;
            }
            if round == 2 {
                rotate(&path, 50);
                follower
                    .poll_once(&mut out, &mut |n| notes.push(n))
                    .unwrap();
                fs::write(&path, format!("{n}\n")).unwrap();
                n += 1;
            }
            follower
                .poll_once(&mut out, &mut |n| notes.push(n))
                .unwrap();
        }
        let want: String = (0..n).map(|i| format!("{i}\n")).collect();
        assert_eq!(String::from_utf8(out).unwrap(), want);
        assert!(notes.iter().all(|n| n.routine), "{notes:?}");
    }

    #[test]
    fn follower_says_when_a_log_is_replaced_without_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(&path, "").unwrap();
        let file = File::open(&path).unwrap();
        let mut follower = Follower::new(vec![(path.clone(), Some((file, 0)))], false, None);
        let mut out = Vec::new();
        let mut notes = Vec::new();
        append(&path, "a\n");
        fs::remove_file(&path).unwrap();
        follower
            .poll_once(&mut out, &mut |n| notes.push(n))
            .unwrap();
        fs::write(&path, "b\n").unwrap();
        follower
            .poll_once(&mut out, &mut |n| notes.push(n))
            .unwrap();
        assert_eq!(out, b"a\nb\n");
        let texts: Vec<(bool, &str)> = notes.iter().map(|n| (n.routine, n.text.as_str())).collect();
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(
            !texts[0].0 && texts[0].1.contains("inaccessible"),
            "{texts:?}"
        );
        assert!(
            !texts[1].0 && texts[1].1.contains("has appeared"),
            "{texts:?}"
        );
        // Replaced at once (as `--log-keep 0` rotates): followed quietly.
        notes.clear();
        fs::remove_file(&path).unwrap();
        fs::write(&path, "c\n").unwrap();
        follower
            .poll_once(&mut out, &mut |n| notes.push(n))
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "a\nb\nc\n");
        assert!(
            !notes.is_empty()
                && notes
                    .iter()
                    .all(|n| n.routine && n.text.contains("replaced")),
            "{notes:?}"
        );
    }

    #[test]
    fn follower_prints_headers_when_switching_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        fs::write(&a, "").unwrap();
        let open = |p: &Path| Some((File::open(p).unwrap(), 0));
        let mut follower = Follower::new(
            vec![(a.clone(), open(&a)), (b.clone(), None)],
            true,
            Some(1),
        );
        let mut out = Vec::new();
        append(&a, "1\n");
        follower.poll_once(&mut out, &mut |_| {}).unwrap();
        append(&a, "2\n");
        fs::write(&b, "3\n").unwrap();
        follower.poll_once(&mut out, &mut |_| {}).unwrap();
        let expected = format!(
            "\n==> {} <==\n1\n2\n\n==> {} <==\n3\n",
            a.display(),
            b.display()
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    /// Attack of 2026-12-02 (the daemon's user, in its log's directory): the followed log
    /// renamed to the last rotated slot, every slot below a symlink to `/`, a new log. Looked
    /// for through `stat` (following symlinks), the followed file was found at `log.1000`
    /// behind 999 directories, the slot below it never opened, and every look tried again 2008
    /// times, each through up to 1000 slots: root's `logs -f` spun and fell behind. Junk is not
    /// followed now and costs a few lookups: the new log is followed, as `tail -F` would.
    #[test]
    fn a_directory_full_of_junk_costs_the_follower_a_few_lookups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(&path, "old\n").unwrap();
        let file = File::open(&path).unwrap();
        let mut follower = Follower::new(vec![(path.clone(), Some((file, 4)))], false, None);
        let mut out = Vec::new();
        let mut notes = Vec::new();
        let mut look = |f: &mut Follower, out: &mut Vec<u8>| {
            let before = f.lookups.get();
            f.poll_once(out, &mut |n| notes.push(n)).unwrap();
            f.lookups.get() - before
        };
        assert_eq!(look(&mut follower, &mut out), 1, "a quiet look: the name");
        for k in 1..MAX_LOG_KEEP {
            std::os::unix::fs::symlink("/", rotated_path(&path, k)).unwrap();
        }
        fs::rename(&path, rotated_path(&path, MAX_LOG_KEEP)).unwrap();
        append(&rotated_path(&path, MAX_LOG_KEEP), "last\n");
        fs::write(&path, "new\n").unwrap();
        let cost = look(&mut follower, &mut out);
        assert!(cost <= 16, "{cost} lookups");
        assert_eq!(String::from_utf8(out.clone()).unwrap(), "last\nnew\n");
        append(&path, "more\n");
        assert_eq!(look(&mut follower, &mut out), 1, "settled on the new log");
        assert_eq!(String::from_utf8(out).unwrap(), "last\nnew\nmore\n");
        assert!(
            notes
                .iter()
                .all(|n| n.routine && n.text.contains("replaced")),
            "{notes:?}"
        );
    }

    /// A symlink at a rotated slot is never taken for the file it points to: here `log.1` points
    /// at the followed file, which rotation moved to `log.3`, under `log.2`, newer. Followed
    /// through, `log.1` passed for the followed file, and `log.2` was skipped.
    #[test]
    fn a_symlinked_slot_is_never_taken_for_the_followed_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(&path, "").unwrap();
        let file = File::open(&path).unwrap();
        let mut follower = Follower::new(vec![(path.clone(), Some((file, 0)))], false, None);
        let mut out = Vec::new();
        append(&path, "one\n");
        fs::rename(&path, rotated_path(&path, 3)).unwrap();
        fs::write(rotated_path(&path, 2), "two\n").unwrap();
        std::os::unix::fs::symlink("log.3", rotated_path(&path, 1)).unwrap();
        fs::write(&path, "three\n").unwrap();
        follower.poll_once(&mut out, &mut |_| {}).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "one\ntwo\nthree\n");
    }

    /// Many rotations between two looks are caught up in one, at a few lookups per file: the
    /// scan for the followed file starts where it was last found. (From `log.1` each time, it
    /// cost one lookup per slot per file: half a million for a thousand files.)
    #[test]
    fn catching_up_with_rotations_costs_a_few_lookups_per_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(&path, "0\n").unwrap();
        let file = File::open(&path).unwrap();
        let mut follower = Follower::new(vec![(path.clone(), Some((file, 0)))], false, None);
        let mut out = Vec::new();
        let files: u32 = 100;
        for n in 1..=files {
            rotate(&path, MAX_LOG_KEEP);
            fs::write(&path, format!("{n}\n")).unwrap();
        }
        follower.poll_once(&mut out, &mut |_| {}).unwrap();
        let want: String = (0..=files).map(|i| format!("{i}\n")).collect();
        assert_eq!(String::from_utf8(out).unwrap(), want);
        let cost = follower.lookups.get();
        assert!(cost <= 8 * u64::from(files), "{cost} lookups");
    }

    /// Second review of 2026-12-02: a thousand regular files at the slots (not junk, so no
    /// run of missing slots ends the scan), and the name replaced by a new file: every look
    /// scanned all thousand, twice, for the followed file; a hundred replacements a second kept
    /// root's `logs -f` at 44 % of a CPU. A look now scans at most [`CATCH_UP`] slots each way
    /// (128: a few hundred lookups, where it took some two thousand).
    #[test]
    fn regular_files_at_every_slot_cost_a_bounded_scan() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(&path, "old\n").unwrap();
        let file = File::open(&path).unwrap();
        let mut follower = Follower::new(vec![(path.clone(), Some((file, 4)))], false, None);
        let mut out = Vec::new();
        for k in 1..=MAX_LOG_KEEP {
            fs::write(rotated_path(&path, k), "").unwrap();
        }
        for n in 0..3 {
            let fresh = dir.path().join("fresh");
            fs::write(&fresh, format!("new {n}\n")).unwrap();
            fs::rename(&fresh, &path).unwrap();
            let before = follower.lookups.get();
            follower.poll_once(&mut out, &mut |_| {}).unwrap();
            let cost = follower.lookups.get() - before;
            assert!(cost <= 600, "{cost} lookups");
        }
        assert_eq!(String::from_utf8(out).unwrap(), "new 0\nnew 1\nnew 2\n");
    }

    fn append(path: &Path, text: &str) {
        let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }
}
