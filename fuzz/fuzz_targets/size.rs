//! Sizes (`parse_size`: `--log-max-size`). An accepted size is written back exactly by
//! `format_size`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rdaemon::parse::{format_size, parse_size};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(n) = parse_size(s) {
        assert_eq!(parse_size(&format_size(n)), Ok(n), "{s:?}");
    }
});
