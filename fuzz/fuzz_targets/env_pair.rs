//! `--env KEY=VALUE` (`parse_env_pair`). An accepted pair has a non-empty key without `=` and
//! puts the input back together exactly.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rdaemon::parse::parse_env_pair;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((key, value)) = parse_env_pair(s) {
        assert!(
            !key.is_empty() && !key.contains('=') && !key.contains('\0'),
            "{s:?}"
        );
        assert!(!value.contains('\0'), "{s:?}");
        assert_eq!(format!("{key}={value}"), s);
    }
});
