//! Sizes (`parse_size`, and `parse_log_size` for `--log-max-size`). An accepted size is written
//! back exactly by `format_size`; a log size is never 0.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rdaemon::parse::{format_size, parse_log_size, parse_size};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(n) = parse_size(s) {
        assert_eq!(parse_size(&format_size(n)), Ok(n), "{s:?}");
        assert_eq!(parse_log_size(s).is_ok(), n > 0, "{s:?}");
    } else {
        assert!(parse_log_size(s).is_err(), "{s:?}");
    }
});
