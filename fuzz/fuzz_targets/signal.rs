//! Signals (`parse_signal`: `--signal`, schedule items). An accepted signal is read back from
//! its name (`signal_name`) and from its number.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rdaemon::parse::{parse_signal, signal_name};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(sig) = parse_signal(s) {
        assert_eq!(parse_signal(signal_name(sig)), Ok(sig), "{s:?}");
        assert_eq!(parse_signal(&(sig as i32).to_string()), Ok(sig), "{s:?}");
    }
});
