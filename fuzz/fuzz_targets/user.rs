//! `--user USER[:GROUP]` and `--group GROUP` (`parse_user_spec`, `parse_group_name`). An
//! accepted spec puts the input back together exactly, and no accepted name can be mistaken for
//! an option or split an account-database line.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rdaemon::parse::{parse_group_name, parse_user_spec};

fn plain(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && !name
            .chars()
            .any(|c| c == ':' || c.is_whitespace() || c.is_control())
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = parse_user_spec(s) {
        assert!(plain(&spec.user), "{s:?}");
        let again = match &spec.group {
            Some(g) => {
                assert!(plain(g), "{s:?}");
                format!("{}:{g}", spec.user)
            }
            None => spec.user.clone(),
        };
        assert_eq!(again, s);
    }
    if let Ok(group) = parse_group_name(s) {
        assert!(plain(&group), "{s:?}");
        assert_eq!(group, s);
    }
});
