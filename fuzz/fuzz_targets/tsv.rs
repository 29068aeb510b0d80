#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| clerk_fuzz::check("katalog.tsv", data));
