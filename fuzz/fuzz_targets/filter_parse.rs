//! `scim::filter::Filter::parse` on arbitrary text (the emulator parses every `?filter=`, and
//! `--filter` text is validated with it). Beyond "no panic": whatever parses renders to text that
//! parses again and renders the same (rendering is a fixed point), and the emulator's evaluation
//! of it never panics.
//!
//! Runs on a 256 KiB stack (see `small_stack.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim::filter::Filter;

mod small_stack;

fuzz_target!(|data: &[u8]| small_stack::run(|| one(data)));

fn one(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(f) = Filter::parse(text) else { return };
    let rendered = f.to_string();
    let back = Filter::parse(&rendered).unwrap_or_else(|e| panic!("{text:?} parsed, its rendering {rendered:?} does not: {e}"));
    assert_eq!(back.to_string(), rendered, "rendering is not a fixed point for {text:?}");
    // Evaluating it against an element as the emulator does for PATCH paths.
    let _ = emulator::store::eval(&f, &|a: &str| (a.len() % 3 != 0).then(|| vec![a.to_lowercase(), String::new()]));
}
