//! The record file (`NAME.json`, read by `state::load_path` through `Record::from_json`): any
//! bytes. An accepted record survives `to_json` then `from_json` unchanged, and its respawn
//! durations (kept as text) parse or fail without a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rdaemon::state::Record;

fuzz_target!(|data: &[u8]| {
    if let Ok(rec) = Record::from_json(data) {
        let json = rec
            .to_json()
            .expect("a record read from JSON can be written as JSON");
        assert_eq!(Record::from_json(&json).unwrap(), rec);
        if let Some(respawn) = &rec.respawn {
            let _ = respawn.restart_delay();
            let _ = respawn.restart_window();
        }
    }
});
