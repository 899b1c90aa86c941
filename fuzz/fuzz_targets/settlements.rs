#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| klarna_fuzz::decode("settlements", data));
