//! Umasks (`parse_umask`: `--umask`, the record's `umask`). An accepted mask is at most 0777 and
//! `format_umask` writes it back exactly.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rdaemon::parse::{format_umask, parse_umask};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(mask) = parse_umask(s) {
        assert!(mask <= 0o777, "{s:?}");
        assert_eq!(parse_umask(&format_umask(mask)), Ok(mask), "{s:?}");
    }
});
