//! `--ready SPEC` (`ReadySpec::parse`), also read back from the record. An accepted spec's
//! canonical form (`Display`, what the record stores) parses back to the same spec.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rdaemon::ready::ReadySpec;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = ReadySpec::parse(s) {
        let canonical = spec.to_string();
        assert_eq!(
            ReadySpec::parse(&canonical),
            Ok(spec.clone()),
            "{s:?} -> {canonical:?}"
        );
        let _ = spec.describe();
    }
});
