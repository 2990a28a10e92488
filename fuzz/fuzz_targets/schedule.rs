//! Stop schedules (`parse_schedule`: `stop --retry`). An accepted schedule starts with a signal,
//! has a timeout, and `format_schedule` writes it back exactly.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rdaemon::parse::{format_schedule, parse_schedule, parse_signal, Step};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let term = parse_signal("TERM").unwrap();
    if let Ok(steps) = parse_schedule(s, term) {
        assert!(matches!(steps[0], Step::Signal(_)), "{s:?}");
        assert!(steps.iter().any(|s| matches!(s, Step::Wait(_))), "{s:?}");
        let again = parse_schedule(&format_schedule(&steps), term);
        assert_eq!(again, Ok(steps), "{s:?}");
    }
});
