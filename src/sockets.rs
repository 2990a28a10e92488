//! Listening TCP sockets and the processes that hold them, as `/proc` shows them (Linux-only):
//! what `--ready tcp:` needs to tell the daemon's own listener from an old server still on the
//! port (SPEC §2.1), and to name that server before anything starts.
//!
//! `/proc/net/tcp` and `/proc/net/tcp6` list every socket of the network namespace with its
//! local address, state and inode; a process holds a socket when one of its `/proc/PID/fd`
//! entries reads `socket:[INODE]`. Without root, other users' fds cannot be read: their
//! sockets then have no known holder.
//!
//! [`ListenQuery`] asks the kernel directly (sock_diag netlink) whether a socket listens where a
//! connection to an address of this machine would go: the probe of `tcp:` and `http:` while the
//! program is still starting, at a sixth of a refused connection's cost.
//!
//! Must not: connect, signal, or change anything; this module only reads.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType};

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

/// The inodes of the sockets listening now that take connections to `target`: of those that
/// could, the ones the kernel's lookup prefers (`inet_lhash2_lookup`): bound to the very
/// address, else an IPv4 wildcard, else an IPv6 one. A stranger's `127.0.0.1:P` beside a
/// daemon's IPv6-only `[::]:P` (they do not conflict) takes the connections to 127.0.0.1, and
/// `/proc/net/tcp6` does not say which `[::]` is IPv6-only (review, 2026-12-02, second).
pub fn listening_on(target: SocketAddr) -> Vec<u64> {
    preferred(listeners(), target)
}

fn preferred(listeners: Vec<Listener>, target: SocketAddr) -> Vec<u64> {
    let matching: Vec<Listener> = listeners
        .into_iter()
        .filter(|l| l.port == target.port() && accepts(l.addr, target.ip()))
        .collect();
    if target.ip().is_unspecified() {
        return matching.iter().map(|l| l.inode).collect();
    }
    let rank = |l: &Listener| match l.addr {
        a if !a.is_unspecified() => 0,
        IpAddr::V4(_) => 1,
        IpAddr::V6(_) => 2,
    };
    let best = matching.iter().map(rank).min();
    matching
        .iter()
        .filter(|l| Some(rank(l)) == best)
        .map(|l| l.inode)
        .collect()
}

/// A netlink socket for sock_diag's exact lookup of one TCP socket: two system calls, no packet
/// sent and no port taken, where a refused connection costs a socket, a SYN, a RST and a close.
#[derive(Debug)]
pub struct ListenQuery {
    fd: OwnedFd,
    seq: u32,
}

/// `SOCK_DIAG_BY_FAMILY`, `NLMSG_ERROR`, `NLM_F_REQUEST` and `TCP_LISTEN` (linux/sock_diag.h,
/// linux/netlink.h, net/tcp_states.h).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const TCP_LISTEN: u8 = 10;
/// `nlmsghdr` (16 bytes) and `inet_diag_req_v2` (56).
const REQUEST_LEN: usize = 16 + 56;

impl ListenQuery {
    /// `None` where the kernel has no sock_diag for us (then connect instead).
    pub fn open() -> Option<ListenQuery> {
        let fd = socket::socket(
            AddressFamily::Netlink,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkSockDiag,
        )
        .ok()?;
        Some(ListenQuery { fd, seq: 0 })
    }

    /// Whether a TCP socket of this network namespace listens where a connection to `addr`
    /// would go: the kernel's own lookup for an incoming connection, so a wildcard or
    /// dual-stack listener counts. `None`: the kernel could not say.
    ///
    /// The lookup cannot see what only a real connection reaches: a listener bound to a
    /// device, a port redirected by the firewall. Callers connect now and then anyway.
    pub fn listens(&mut self, addr: SocketAddr) -> Option<bool> {
        self.seq = self.seq.wrapping_add(1);
        let request = diag_request(addr, self.seq);
        let fd = self.fd.as_raw_fd();
        socket::send(fd, &request, MsgFlags::empty()).ok()?;
        // The kernel answers within the send; a reply of an earlier request left unread (its
        // receive failed) is skipped by its sequence number.
        let mut reply = [0u8; 512];
        loop {
            let n = match socket::recv(fd, &mut reply, MsgFlags::MSG_DONTWAIT) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(_) => return None,
            };
            match parse_diag_reply(&reply[..n], self.seq) {
                Reply::Other => continue,
                Reply::Found(state) => return Some(state == TCP_LISTEN),
                Reply::Error(e) if e == Errno::ENOENT as i32 => return Some(false),
                Reply::Error(_) | Reply::Malformed => return None,
            }
        }
    }
}

/// A sock_diag exact-lookup request for the TCP socket whose local end is `addr` and whose
/// remote end is unset: the listener a connection to `addr` would reach.
fn diag_request(addr: SocketAddr, seq: u32) -> [u8; REQUEST_LEN] {
    let mut r = [0u8; REQUEST_LEN];
    r[0..4].copy_from_slice(&(REQUEST_LEN as u32).to_ne_bytes());
    r[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    r[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    r[8..12].copy_from_slice(&seq.to_ne_bytes());
    // inet_diag_req_v2: family, protocol, ext, pad, states; then inet_diag_sockid: sport,
    // dport (network order), src[16], dst[16], if, cookie[2].
    let body = &mut r[16..];
    body[0] = match addr {
        SocketAddr::V4(_) => nix::libc::AF_INET as u8,
        SocketAddr::V6(_) => nix::libc::AF_INET6 as u8,
    };
    body[1] = nix::libc::IPPROTO_TCP as u8;
    body[4..8].copy_from_slice(&u32::MAX.to_ne_bytes());
    body[8..10].copy_from_slice(&addr.port().to_be_bytes());
    match addr.ip() {
        IpAddr::V4(a) => body[12..16].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => body[12..28].copy_from_slice(&a.octets()),
    }
    // No cookie: INET_DIAG_NOCOOKIE in both words.
    body[48..56].fill(0xff);
    r
}

#[derive(Debug, PartialEq, Eq)]
enum Reply {
    /// A socket was found, in this TCP state.
    Found(u8),
    /// The kernel refused the request with this errno (`ENOENT`: no such socket).
    Error(i32),
    /// A reply to another request.
    Other,
    Malformed,
}

/// The first netlink message of a sock_diag reply, if it answers request `seq`.
fn parse_diag_reply(reply: &[u8], seq: u32) -> Reply {
    let word = |at: usize| -> Option<[u8; 4]> { reply.get(at..at + 4)?.try_into().ok() };
    let (Some(_), Some(kind), Some(got)) = (word(0), reply.get(4..6), word(8)) else {
        return Reply::Malformed;
    };
    if u32::from_ne_bytes(got) != seq {
        return Reply::Other;
    }
    match u16::from_ne_bytes([kind[0], kind[1]]) {
        SOCK_DIAG_BY_FAMILY => reply.get(17).map_or(Reply::Malformed, |&s| Reply::Found(s)),
        NLMSG_ERROR => word(16).map_or(Reply::Malformed, |e| Reply::Error(-i32::from_ne_bytes(e))),
        _ => Reply::Malformed,
    }
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

/// A process's command name (`/proc/PID/comm`, which the process sets itself: its control
/// characters shown escaped), or `?`.
pub fn comm(pid: i32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| crate::parse::printable(c.trim_end()).into_owned())
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
    fn the_listener_the_kernel_prefers_is_the_one_that_counts() {
        let l = |addr: &str, inode| Listener {
            addr: addr.parse().unwrap(),
            port: 80,
            inode,
        };
        let to = |s: &str| SocketAddr::new(s.parse().unwrap(), 80);
        // A daemon's IPv6-only `[::]` beside a stranger's `127.0.0.1`: the stranger's takes
        // IPv4 connections to 127.0.0.1.
        let both = vec![l("::", 1), l("127.0.0.1", 2)];
        assert_eq!(preferred(both.clone(), to("127.0.0.1")), [2]);
        assert_eq!(preferred(both.clone(), to("::1")), [1]);
        assert_eq!(preferred(both, to("0.0.0.0")), [1, 2]);
        assert_eq!(preferred(vec![l("::", 1)], to("127.0.0.1")), [1]);
        assert_eq!(
            preferred(vec![l("::", 1), l("0.0.0.0", 3)], to("127.0.0.1")),
            [3]
        );
        assert_eq!(
            preferred(
                vec![l("::ffff:127.0.0.1", 4), l("0.0.0.0", 3)],
                to("127.0.0.1")
            ),
            [4]
        );
        assert_eq!(
            preferred(vec![l("127.0.0.1", 2)], to("10.0.0.1")),
            Vec::<u64>::new()
        );
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
    fn the_kernel_says_who_listens_where_a_connection_would_go() {
        let Some(mut query) = ListenQuery::open() else {
            eprintln!("skipped: no sock_diag netlink here");
            return;
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        assert_eq!(query.listens(addr), Some(true));
        // A connected socket on the same local address is not a listener.
        let _client = std::net::TcpStream::connect(addr).unwrap();
        let (_server, _) = listener.accept().unwrap();
        assert_eq!(query.listens(addr), Some(true));
        drop(listener);
        assert_eq!(query.listens(addr), Some(false));
        // A wildcard listener takes connections to loopback.
        let wild = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let port = wild.local_addr().unwrap().port();
        let lo = SocketAddr::new("127.0.0.1".parse().unwrap(), port);
        assert_eq!(query.listens(lo), Some(true));
        if let Ok(v6) = std::net::TcpListener::bind("[::1]:0") {
            assert_eq!(query.listens(v6.local_addr().unwrap()), Some(true));
            let port = v6.local_addr().unwrap().port();
            drop(v6);
            assert_eq!(
                query.listens(SocketAddr::new("::1".parse().unwrap(), port)),
                Some(false)
            );
        }
    }

    #[test]
    fn diag_replies_are_matched_to_their_request() {
        let mut found = [0u8; 88];
        found[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        found[8..12].copy_from_slice(&7u32.to_ne_bytes());
        found[17] = TCP_LISTEN;
        assert_eq!(parse_diag_reply(&found, 7), Reply::Found(TCP_LISTEN));
        assert_eq!(parse_diag_reply(&found, 8), Reply::Other);
        let mut error = [0u8; 36];
        error[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        error[8..12].copy_from_slice(&7u32.to_ne_bytes());
        error[16..20].copy_from_slice(&(-2i32).to_ne_bytes());
        assert_eq!(parse_diag_reply(&error, 7), Reply::Error(2));
        assert_eq!(parse_diag_reply(&error[..10], 7), Reply::Malformed);
        let request = diag_request("127.0.0.1:8080".parse().unwrap(), 7);
        assert_eq!(&request[24..26], &8080u16.to_be_bytes());
        assert_eq!(&request[28..32], &[127, 0, 0, 1]);
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
