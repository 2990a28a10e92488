//! Listening TCP sockets and the processes that hold them, as `/proc` shows them (Linux-only):
//! what `--ready tcp:` needs to tell the daemon's own listener from an old server still on the
//! port (SPEC §2.1), and to name that server before anything starts.
//!
//! `/proc/net/tcp` and `/proc/net/tcp6` list every socket of the network namespace with its
//! local address, state and inode; a process holds a socket when one of its `/proc/PID/fd`
//! entries reads `socket:[INODE]`. Without root, other users' fds cannot be read: their
//! sockets then have no known holder.
//!
//! Must not: connect, signal, or change anything; this module only reads.

use std::collections::HashMap;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use crate::process::{self, Pid};

/// A socket in the LISTEN state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The local address it listens on (unspecified: every address).
    pub addr: IpAddr,
    /// The local port.
    pub port: u16,
    /// The socket's inode, as `socket:[INODE]` links to it.
    pub inode: u64,
}

/// The LISTEN rows (state `0A`) of a `/proc/net/tcp` or `/proc/net/tcp6` table. Addresses are
/// hex words in the kernel's byte order, ports hex in host order; malformed rows are skipped.
pub fn parse_table(text: &str) -> Vec<Listener> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.get(3) != Some(&"0A") {
                return None;
            }
            let (addr, port) = fields.get(1)?.split_once(':')?;
            let inode = fields.get(9)?.parse().ok()?;
            Some(Listener {
                addr: parse_addr(addr)?,
                port: u16::from_str_radix(port, 16).ok()?,
                inode,
            })
        })
        .collect()
}

/// An address as `/proc/net/tcp{,6}` prints it: 8 or 32 hex digits, each group of 8 one 32-bit
/// word of the address in network order, printed as a native integer.
fn parse_addr(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| -> Option<[u8; 4]> {
        Some(
            u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16)
                .ok()?
                .to_ne_bytes(),
        )
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

/// Whether a socket listening on `listening` takes connections to `target`: the same address,
/// or a wildcard (`0.0.0.0`, or `::`, which also takes IPv4 unless it is IPv6-only: counted as
/// taking them), or an IPv4-mapped IPv6 address of the same IPv4 address.
pub fn accepts(listening: IpAddr, target: IpAddr) -> bool {
    let norm = |a: IpAddr| match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        v4 => v4,
    };
    let (listening, target) = (norm(listening), norm(target));
    listening == target
        || target.is_unspecified()
        || match listening {
            IpAddr::V4(a) => a.is_unspecified() && target.is_ipv4(),
            IpAddr::V6(a) => a.is_unspecified(),
        }
}

/// Whether `addr` is an address of this machine: loopback, the wildcard, or one an interface
/// has (a socket can be bound to it).
pub fn is_local(addr: IpAddr) -> bool {
    addr.is_loopback() || addr.is_unspecified() || UdpSocket::bind(SocketAddr::new(addr, 0)).is_ok()
}

/// Every socket listening now (`/proc/net/tcp` and `/proc/net/tcp6`).
pub fn listeners() -> Vec<Listener> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| fs::read_to_string(path).ok())
        .flat_map(|text| parse_table(&text))
        .collect()
}

/// The inodes of the sockets listening now that take connections to `target`.
pub fn listening_on(target: SocketAddr) -> Vec<u64> {
    listeners()
        .into_iter()
        .filter(|l| l.port == target.port() && accepts(l.addr, target.ip()))
        .map(|l| l.inode)
        .collect()
}

/// Who holds one of `inodes`: the pids among `pids` with an fd on one of them, in order.
/// `hidden` says whether some process's fds could not be read (another user's, without root).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Holders {
    /// The pids holding one of the sockets.
    pub pids: Vec<i32>,
    /// Some fds could not be read.
    pub hidden: bool,
}

/// Looks for `inodes` among the fds of `pids`.
pub fn holders(inodes: &[u64], pids: impl IntoIterator<Item = i32>) -> Holders {
    let mut found = Holders::default();
    if inodes.is_empty() {
        return found;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for pid in pids {
        let entries = match fs::read_dir(format!("/proc/{pid}/fd")) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                found.hidden = true;
                continue;
            }
            Err(_) => continue, // gone meanwhile
        };
        let holds = entries.flatten().any(|e| {
            fs::read_link(e.path())
                .is_ok_and(|t| wanted.iter().any(|w| t.as_os_str() == w.as_str()))
        });
        if holds {
            found.pids.push(pid);
        }
    }
    found
}

/// Every pid in `/proc`, ascending.
pub fn all_pids() -> Vec<i32> {
    let mut pids: Vec<i32> = fs::read_dir("/proc")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    pids
}

/// The daemon's processes: `daemon` itself, every member of its session (rdaemon made the
/// session, and the kernel does not reuse its id while a member lives), and every descendant
/// of `daemon` (also one that left the session with `setsid`).
pub fn daemon_processes(daemon: Pid) -> Vec<i32> {
    let Some(session) = process::read_stat(daemon).map(|s| s.session) else {
        return Vec::new();
    };
    let mut parents: HashMap<i32, i32> = HashMap::new();
    let mut members = Vec::new();
    for pid in all_pids() {
        let Some(stat) = fs::read(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|raw| process::parse_stat(&raw))
        else {
            continue;
        };
        if pid == daemon.get() || stat.session == session {
            members.push(pid);
        } else {
            parents.insert(pid, stat.ppid);
        }
    }
    // Descendants outside the session: walk each one's parents up to the daemon.
    for (&pid, _) in parents.iter() {
        let mut at = pid;
        for _ in 0..64 {
            match parents.get(&at) {
                Some(&parent) if parent == daemon.get() || members.contains(&parent) => {
                    members.push(pid);
                    break;
                }
                Some(&parent) => at = parent,
                None => break,
            }
        }
    }
    members.sort_unstable();
    members
}

/// A process's command name (`/proc/PID/comm`), or `?`.
pub fn comm(pid: i32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim_end().to_owned())
        .unwrap_or_else(|_| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

    /// The tables as a little-endian machine prints them (x86_64 and aarch64, all rdaemon
    /// builds for: see `daemonize`).
    #[test]
    fn parses_the_listening_rows_of_both_tables() {
        let v4 = format!(
            "{HEADER}   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0\n   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 17 1 0\n   3: garbage 0A\n"
        );
        assert_eq!(
            parse_table(&v4),
            vec![
                Listener {
                    addr: "127.0.0.1".parse().unwrap(),
                    port: 8080,
                    inode: 4242
                },
                Listener {
                    addr: "0.0.0.0".parse().unwrap(),
                    port: 22,
                    inode: 17
                },
            ]
        );
        let v6 = format!(
            "{HEADER}   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0\n   1: 0000000000000000FFFF00000100007F:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 98 1 0\n"
        );
        let rows = parse_table(&v6);
        assert_eq!(rows[0].addr, "::1".parse::<IpAddr>().unwrap());
        assert_eq!((rows[0].port, rows[0].inode), (8080, 99));
        assert_eq!(rows[1].addr, "::ffff:127.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn which_listeners_take_a_connection() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(accepts(ip("127.0.0.1"), ip("127.0.0.1")));
        assert!(accepts(ip("0.0.0.0"), ip("127.0.0.1")));
        assert!(accepts(ip("::"), ip("127.0.0.1")));
        assert!(accepts(ip("::"), ip("::1")));
        assert!(accepts(ip("::ffff:127.0.0.1"), ip("127.0.0.1")));
        assert!(accepts(ip("127.0.0.1"), ip("0.0.0.0")));
        assert!(!accepts(ip("127.0.0.2"), ip("127.0.0.1")));
        assert!(!accepts(ip("0.0.0.0"), ip("::1")));
        assert!(!accepts(ip("::1"), ip("127.0.0.1")));
    }

    #[test]
    fn own_listener_is_found_with_its_holder() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let inodes = listening_on(addr);
        assert_eq!(inodes.len(), 1, "{inodes:?}");
        let me = std::process::id() as i32;
        assert_eq!(holders(&inodes, [me]).pids, vec![me]);
        assert!(is_local(addr.ip()));
        drop(listener);
        assert!(listening_on(addr).is_empty());
    }
}
