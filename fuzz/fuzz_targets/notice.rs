//! sd_notify datagrams (`ready::parse_notice`): any bytes, since any process the daemon runs can
//! send them. A notice says ready only for a `READY=1` line, and reports only a positive errno.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rdaemon::ready::parse_notice;

fuzz_target!(|data: &[u8]| {
    let notice = parse_notice(data);
    let lines: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    assert_eq!(notice.ready, lines.contains(&&b"READY=1"[..]));
    assert!(notice.errno.is_none_or(|n| n > 0));
    if let Some(status) = &notice.status {
        assert!(!status.contains('\n'));
    }
});
