//! Pidfile content (`parse_pid_content`): any bytes at all, since anyone who can write the file
//! chooses them. An accepted pid is one rdaemon may act on and survives a write/read round trip.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rdaemon::parse::{format_pid_content, parse_pid_content, PID_MAX_LIMIT};

fuzz_target!(|data: &[u8]| {
    if let Ok(pid) = parse_pid_content(data) {
        assert!((2..=PID_MAX_LIMIT).contains(&i64::from(pid)), "{pid}");
        assert_eq!(
            parse_pid_content(format_pid_content(pid).as_bytes()),
            Ok(pid)
        );
    }
});
