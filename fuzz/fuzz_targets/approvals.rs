#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| openclaw_node::fuzzing::approvals(data));
