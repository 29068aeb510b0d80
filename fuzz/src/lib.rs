//! What every fuzz target checks: parsing any bytes under a file name of one format never
//! panics, and a refusal names the file and says something to act on. (Time is bounded by
//! the parse budget; the fuzzer's own `-timeout` catches a parser that ignores it.)

use clerk::documents::{parse, Limits};

pub fn check(name: &str, data: &[u8]) {
    if let Err(e) = parse(name, data, &Limits::default()) {
        let message = e.to_string();
        assert_eq!(e.file(), name);
        assert!(message.starts_with(name) && message.len() > name.len() + 20);
    }
}
