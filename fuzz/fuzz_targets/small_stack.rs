//! Run a fuzz input on a small stack.
//!
//! The emulator parses filters and applies PATCH bodies on tokio worker threads, whose stacks
//! are 2 MiB; a query string can be 64 KiB long (the longest URI hyper takes) and a body 2 MB.
//! Inputs here are at most 8 KiB (`-max_len=8192` in `fuzz/run`), so the work runs on a stack of
//! 256 KiB, an eighth of a worker's: recursion that a 64 KiB filter would drive past a worker's
//! stack is driven past this one by an 8 KiB input, and shows up as a crash.

pub const STACK: usize = 256 << 10;

pub fn run(f: impl FnOnce() + Send) {
    std::thread::scope(|s| {
        let h = std::thread::Builder::new().stack_size(STACK).spawn_scoped(s, f).expect("spawn");
        if let Err(e) = h.join() {
            std::panic::resume_unwind(e);
        }
    });
}
