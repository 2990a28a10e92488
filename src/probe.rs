//! The pieces of the v2 readiness kinds (`--ready http:`, `log:`, `cmd:`) that do not depend on
//! the wait itself: the `http://` URL parser and the one-request HTTP/1.1 client, and the follower
//! that reads a log file as it grows. `ready` drives them.
//!
//! No HTTP client crate: a readiness probe needs one GET and the status line of the answer, and
//! every client crate worth having pulls in a TLS stack (or an async runtime) rdaemon does not
//! want. `https://` is refused by the parser (use `cmd:curl -fsS URL` for it).
//!
//! Must not: block longer than the caller allows (every read and connect has a limit).

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The parts of an `http://` URL a GET needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// Host name or address, without the brackets of an IPv6 literal.
    pub host: String,
    /// Port (80 unless given).
    pub port: u16,
    /// Path and query, beginning with `/`.
    pub path: String,
    /// The `Host:` header: the authority as written (brackets and port included).
    pub authority: String,
}

/// Parses `http://HOST[:PORT][/PATH]` (an IPv6 HOST in brackets). The fragment is dropped.
pub fn parse_http_url(url: &str) -> Result<HttpUrl, String> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Err(
            "https:// is not supported: rdaemon speaks plain HTTP only (use an http:// \
                    URL, or cmd:curl -fsS URL for TLS)"
                .into(),
        );
    }
    if !lower.starts_with("http://") {
        return Err("the URL must begin with http://".into());
    }
    let rest = &url["http://".len()..];
    if rest
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err("the URL has a space or a control character".into());
    }
    let rest = rest.split('#').next().unwrap_or_default();
    let cut = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(cut);
    let path = match path {
        "" => "/".to_owned(),
        p if p.starts_with('?') => format!("/{p}"),
        p => p.to_owned(),
    };
    if authority.contains('@') {
        return Err("user names and passwords in the URL are not supported".into());
    }
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or("write an IPv6 address in brackets, like http://[::1]:8080/")?;
        if host.is_empty() || !host.contains(':') || host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("invalid IPv6 address '{host}'"));
        }
        match after {
            "" => (host, None),
            p => match p.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => {
                    return Err("write an IPv6 address in brackets, like http://[::1]:8080/".into())
                }
            },
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err("write an IPv6 address in brackets, like http://[::1]:8080/".into())
            }
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("the URL has no host".into());
    }
    if host.contains(['[', ']', '%']) {
        return Err(format!("invalid host '{host}'"));
    }
    let port = match port {
        None => 80,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(format!("invalid port '{p}': use 1 to 65535")),
        },
    };
    Ok(HttpUrl {
        host: host.to_owned(),
        port,
        path,
        authority: authority.to_owned(),
    })
}

impl HttpUrl {
    /// The request: a GET that asks the server to close the connection after its answer.
    pub fn request(&self) -> String {
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: rdaemon\r\nAccept: */*\r\nConnection: close\r\n\r\n",
            self.path, self.authority
        )
    }
}

/// The status code of an HTTP/1.x status line (`HTTP/1.1 200 OK`), if `line` is one.
pub fn status_code(line: &[u8]) -> Option<u16> {
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.trim_end().splitn(3, ' ');
    let version = words.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    let code = words.next()?;
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    code.parse().ok()
}

/// What one HTTP try saw.
#[derive(Debug)]
pub enum Answer {
    /// Nothing listens (or the connection failed): cheap to try again soon.
    NoConnection,
    /// The status line came back.
    Status(u16, String),
    /// The server accepted but did not answer with a status line in time (or closed).
    Silent(String),
    /// `stop` (the program's exit or a signal, as told by the caller's wait) cut the try short.
    Cut,
}

/// The connection an HTTP try begins with: to `addr`, giving up at `limit` (at most a second).
/// Nothing is sent yet: the caller may first look at who took it (`ready::foreign_listener`),
/// and drop it unsent.
pub fn http_connect(addr: &SocketAddr, limit: Instant) -> Option<TcpStream> {
    let left = limit.saturating_duration_since(Instant::now());
    TcpStream::connect_timeout(
        addr,
        left.clamp(Duration::from_millis(1), Duration::from_secs(1)),
    )
    .ok()
}

/// One GET of `url` over `stream` (from [`http_connect`]), waiting for the status line at most
/// until `limit`. `wait(stream, slice)` blocks until the stream is readable or something the
/// caller watches happened; it returns true to abandon the try.
pub fn http_ask(
    url: &HttpUrl,
    mut stream: TcpStream,
    limit: Instant,
    mut wait: impl FnMut(&TcpStream, Duration) -> bool,
) -> Answer {
    // A request of a few hundred bytes always fits the empty send buffer.
    if stream.write_all(url.request().as_bytes()).is_err() || stream.set_nonblocking(true).is_err()
    {
        return Answer::NoConnection;
    }
    let mut got = Vec::with_capacity(256);
    let mut buf = [0u8; 512];
    loop {
        if let Some(end) = got.iter().position(|b| *b == b'\n') {
            let line = &got[..end];
            // The daemon's words, for a message: shown, never obeyed by the terminal.
            let shown = String::from_utf8_lossy(line);
            let shown = crate::parse::printable(shown.trim());
            return match status_code(line) {
                Some(code) => Answer::Status(code, shown.into_owned()),
                None => Answer::Silent(format!("an answer that is not HTTP: '{shown}'")),
            };
        }
        if got.len() > 4096 {
            return Answer::Silent("an answer without a status line".into());
        }
        match stream.read(&mut buf) {
            Ok(0) => return Answer::Silent("a connection closed without an answer".into()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let left = limit.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Answer::Silent("a connection that gave no answer in time".into());
                }
                if wait(&stream, left) {
                    return Answer::Cut;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Answer::Silent(format!("a connection that failed: {e}")),
        }
    }
}

/// The longest line kept whole; a longer one is matched in pieces of this size.
const MAX_LINE: usize = 64 * 1024;

/// Reads a log file as it grows, from the size it had when `start` began, in whole lines. A log
/// rotated or replaced (another inode at the path) is read to its end and then followed at its
/// new file from the beginning; a log truncated below what was read is read again from 0.
#[derive(Debug)]
pub struct LogFollower {
    path: PathBuf,
    file: Option<File>,
    offset: u64,
    partial: Vec<u8>,
    /// The last read stopped at [`READ_BUDGET`] before the end of the file.
    behind: bool,
}

/// How much one [`LogFollower::read_lines`] reads at most: the program can make its log a huge
/// sparse file (`ftruncate` on its stdout) or write faster than it is read, and the wait must
/// still see its deadline and its signals between reads.
const READ_BUDGET: u64 = 4 * 1024 * 1024;

impl LogFollower {
    /// Follows `path` from `offset` (its size when `start` began, 0 if it did not exist).
    pub fn new(path: &Path, offset: u64) -> LogFollower {
        LogFollower {
            path: path.to_owned(),
            file: None,
            offset,
            partial: Vec::new(),
            behind: false,
        }
    }

    /// Whether the last [`LogFollower::read_lines`] left part of the file unread (its budget
    /// spent): look again at once, without waiting for a write.
    pub fn behind(&self) -> bool {
        self.behind
    }

    /// The followed path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file is open (its watch can be set).
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    /// Opens the file if it is not yet open; true if it was opened just now. Opened the safe
    /// way (`fsx::open_read`): the daemon's user may own the log's directory, so a symlink it
    /// made (to a file only root may read) is not followed and a FIFO it put there neither
    /// blocks the open nor is read; either is never opened, and the wait times out.
    pub fn open(&mut self) -> bool {
        if self.file.is_some() {
            return false;
        }
        match crate::fsx::open_read(&self.path) {
            Ok(Some(f)) => {
                self.file = Some(f);
                true
            }
            Ok(None) | Err(_) => false,
        }
    }

    /// Reads what was added since the last call and calls `line` on each new whole line (without
    /// its `\n` or `\r\n`); stops early and returns true as soon as `line` does.
    pub fn read_lines(&mut self, mut line: impl FnMut(&[u8]) -> bool) -> bool {
        loop {
            let Some(file) = &self.file else {
                return false;
            };
            let Ok(meta) = file.metadata() else {
                return false;
            };
            if meta.len() < self.offset {
                // Truncated (copytruncate): what follows was written after the start.
                self.offset = 0;
                self.partial.clear();
            }
            if self.read_to_end(&mut line) {
                return true;
            }
            if self.behind {
                return false;
            }
            // Another file at the path (rotated by rename): the old one is read to its end,
            // follow the new one from its beginning.
            let replaced = std::fs::metadata(&self.path)
                .is_ok_and(|now| now.ino() != meta.ino() || now.dev() != meta.dev());
            if !replaced {
                return false;
            }
            self.file = None;
            self.offset = 0;
            self.partial.clear();
            if !self.open() {
                return false;
            }
        }
    }

    fn read_to_end(&mut self, line: &mut impl FnMut(&[u8]) -> bool) -> bool {
        let Some(file) = &self.file else {
            return false;
        };
        let mut buf = vec![0u8; 64 * 1024];
        let mut budget = READ_BUDGET;
        self.behind = false;
        loop {
            if budget == 0 {
                self.behind = true;
                return false;
            }
            let n = match file.read_at(&mut buf, self.offset) {
                Ok(0) | Err(_) => return false,
                Ok(n) => n,
            };
            self.offset += n as u64;
            budget = budget.saturating_sub(n as u64);
            let mut data = &buf[..n];
            while let Some(end) = data.iter().position(|b| *b == b'\n') {
                self.partial.extend_from_slice(&data[..end]);
                data = &data[end + 1..];
                let whole = std::mem::take(&mut self.partial);
                let text = whole.strip_suffix(b"\r").unwrap_or(&whole);
                if line(text) {
                    return true;
                }
            }
            self.partial.extend_from_slice(data);
            if self.partial.len() >= MAX_LINE {
                let piece = std::mem::take(&mut self.partial);
                if line(&piece) {
                    return true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls() {
        let u = parse_http_url("http://127.0.0.1:8080/health?x=1#top").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 8080, "/health?x=1")
        );
        assert_eq!(u.authority, "127.0.0.1:8080");
        let u = parse_http_url("http://localhost").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("localhost", 80, "/")
        );
        let u = parse_http_url("http://[::1]:9000/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9000));
        assert_eq!(u.authority, "[::1]:9000");
        let u = parse_http_url("HTTP://[::1]?q").unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, "/?q"));
        assert!(u
            .request()
            .starts_with("GET /?q HTTP/1.1\r\nHost: [::1]\r\n"));
        assert!(u.request().contains("Connection: close\r\n\r\n"));
        for bad in [
            "",
            "http://",
            "http:///x",
            "ftp://x",
            "127.0.0.1:80",
            "http://x:0/",
            "http://x:65536/",
            "http://x:+1/",
            "http://x:/",
            "http://::1/",
            "http://[::1/",
            "http://[::1]x/",
            "http://[zz]/",
            "http://u:p@x/",
            "http://x/a b",
            "http://x/\n",
        ] {
            assert!(parse_http_url(bad).is_err(), "{bad:?}");
        }
        let err = parse_http_url("https://x/").unwrap_err();
        assert!(err.contains("https:// is not supported"), "{err}");
    }

    #[test]
    fn status_lines() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK\r"), Some(200));
        assert_eq!(status_code(b"HTTP/1.0 404 File not found"), Some(404));
        assert_eq!(status_code(b"HTTP/1.1 302"), Some(302));
        for bad in [
            &b"SSH-2.0-OpenSSH"[..],
            b"HTTP/1.1 20 OK",
            b"HTTP/1.1 abc",
            b"",
            b"\xff",
        ] {
            assert_eq!(status_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn log_follower_reads_only_new_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "old ready\n").unwrap();
        let mut f = LogFollower::new(&path, 10);
        assert!(f.open());
        let mut seen = Vec::new();
        let mut collect = |f: &mut LogFollower| {
            f.read_lines(|l| {
                seen.push(String::from_utf8_lossy(l).into_owned());
                false
            })
        };
        collect(&mut f);
        let append = |s: &str| {
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap();
            file.write_all(s.as_bytes()).unwrap();
        };
        append("one\r\ntw");
        collect(&mut f);
        append("o\n");
        collect(&mut f);
        // Rotated by rename, then a new file: the rest of the old one, then the new one.
        append("three\n");
        std::fs::rename(&path, dir.path().join("log.1")).unwrap();
        std::fs::write(&path, "four\n").unwrap();
        collect(&mut f);
        assert_eq!(seen, ["one", "two", "three", "four"]);
        // Truncated below what was read: read again from the beginning.
        std::fs::write(&path, "5\n").unwrap();
        let mut last = None;
        assert!(f.read_lines(|l| {
            last = Some(l.to_vec());
            l == b"5"
        }));
        assert_eq!(last.as_deref(), Some(&b"5"[..]));
    }
}
