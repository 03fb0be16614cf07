//! Arbitrary bytes as a replay file. Parsing must never panic; a file that
//! parses must write back to text that parses to the same inputs. An
//! embedded start snapshot is decoded and read too (never from disk: no
//! folder is given).
#![no_main]

use libfuzzer_sys::fuzz_target;
use moonbox::ReplayFile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(file) = ReplayFile::from_text(text) {
        let again = ReplayFile::from_text(&file.to_text()).expect("a written replay parses");
        assert_eq!(again.to_text(), file.to_text(), "writing is stable");
        if let Some(start) = &file.inputs.start {
            let _ = start.load(None);
        }
    }
});
