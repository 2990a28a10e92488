//! Durations (`parse_duration`: `--timeout`, `--ready-timeout`, `--restart-delay`...). Option
//! values reach rdaemon as UTF-8 (clap refuses anything else), so only UTF-8 input counts. An
//! accepted duration is within the documented cap and `format_duration` writes it back exactly.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rdaemon::parse::{format_duration, parse_duration};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = parse_duration(s) {
        assert!(d <= Duration::from_secs(604_800 * 52), "{s:?} gave {d:?}");
        assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{s:?}");
    }
});
