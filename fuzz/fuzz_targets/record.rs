//! The record file (`NAME.json`, read by `state::load_path` through `Record::from_json`): any
//! bytes. An accepted record survives `to_json` then `from_json` unchanged (its durations, text
//! on disk, are parsed while it is read: `parse::duration_text`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use rdaemon::state::Record;

fuzz_target!(|data: &[u8]| {
    if let Ok(rec) = Record::from_json(data) {
        let json = rec
            .to_json()
            .expect("a record read from JSON can be written as JSON");
        assert_eq!(Record::from_json(&json).unwrap(), rec);
    }
});
