//! `/proc/PID/stat` (`process::parse_stat`): any bytes, since the command name in it is chosen
//! by whoever runs the process (any bytes but NUL, cut at 15).

#![no_main]

use libfuzzer_sys::fuzz_target;
use rdaemon::process::parse_stat;

fuzz_target!(|data: &[u8]| {
    if let Some(stat) = parse_stat(data) {
        assert!(!stat.state.is_ascii_whitespace());
        // The fields come after the last ')': whatever precedes it cannot change them.
        let mut prefixed = b"1 (x) ) ".to_vec();
        prefixed.extend_from_slice(data);
        assert_eq!(parse_stat(&prefixed), Some(stat));
    }
});
