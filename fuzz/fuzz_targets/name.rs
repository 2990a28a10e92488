//! Daemon names (`Name::parse`: `--name`, positional NAME, record and pidfile stems). An
//! accepted name is never a path and survives Display and JSON.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rdaemon::parse::Name;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(name) = Name::parse(s) {
        assert_eq!(name.as_str(), s);
        assert!((1..=64).contains(&s.len()), "{s:?}");
        assert!(!s.contains('/') && !s.starts_with('.'), "{s:?}");
        assert_eq!(Name::parse(&name.to_string()).as_ref(), Ok(&name));
        let json = serde_json::to_string(&name).unwrap();
        assert_eq!(serde_json::from_str::<Name>(&json).unwrap(), name);
    }
});
