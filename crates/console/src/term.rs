//! Owning the terminal: raw mode and the alternate screen on entry; restored on drop, on panic
//! (before the panic message is printed) and when the runtime sees SIGTERM/SIGHUP.

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use std::io::Write;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Restores the terminal when dropped.
pub struct TerminalGuard(());

impl TerminalGuard {
    pub fn enter() -> std::io::Result<TerminalGuard> {
        HOOK.call_once(|| {
            let prev = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let was_active = ACTIVE.load(Ordering::SeqCst);
                restore();
                prev(info);
                // A panic anywhere (a worker task too) while the console owns the terminal ends
                // the process: with the terminal restored, a console left running would hang,
                // deaf to `q`.
                if was_active {
                    std::process::exit(101);
                }
            }));
        });
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let mut out = std::io::stdout();
        if let Err(e) = execute!(out, EnterAlternateScreen, Hide) {
            restore();
            return Err(e);
        }
        Ok(TerminalGuard(()))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Whether a Ctrl-z would stop this process: a shell with job control started it (its parent is
/// in the same session, in another process group, which can `fg` it). Over `ssh host scimitar`
/// the process leads its own session (or its parent is outside it): its process group is
/// orphaned and the kernel drops SIGTSTP, so nothing would be suspended (issue 25, defect 15).
pub fn job_control() -> bool {
    // SAFETY: these calls only read the process table.
    unsafe {
        let parent = libc::getppid();
        let (pgrp, sid) = (libc::getpgrp(), libc::getsid(0));
        if pgrp == sid || sid < 0 {
            return false;
        }
        let (ppgrp, psid) = (libc::getpgid(parent), libc::getsid(parent));
        psid == sid && ppgrp >= 0 && ppgrp != pgrp
    }
}

/// Ctrl-z: give the terminal back as it was, stop the process with SIGTSTP (as the terminal's
/// own suspend key would in cooked mode), and when the shell resumes it (`fg`, SIGCONT) take
/// the terminal again. The caller redraws everything. Without job control (an orphaned process
/// group) the kernel drops the signal and this returns at once.
pub fn suspend() -> std::io::Result<()> {
    restore();
    signal_hook::low_level::raise(signal_hook::consts::SIGTSTP)?;
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    execute!(std::io::stdout(), EnterAlternateScreen, Hide)
}

/// Run `f` (an editor) with the terminal as the shell had it, then take the terminal again. The
/// caller redraws everything (and must not read keys meanwhile: the editor reads them).
pub fn outside<T>(f: impl FnOnce() -> T) -> std::io::Result<T> {
    restore();
    let r = f();
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    execute!(std::io::stdout(), EnterAlternateScreen, Hide)?;
    Ok(r)
}

/// `editor` (`$VISUAL`, else `$EDITOR`, as the front end read them: a command with its arguments,
/// as git reads it), else `vi`, on `path`, waiting for it to exit.
pub fn run_editor(editor: Option<&str>, path: &std::path::Path) -> Result<(), String> {
    let editor = editor.filter(|v| !v.trim().is_empty()).unwrap_or("vi");
    let mut words = editor.split_whitespace();
    let prog = words.next().unwrap_or("vi");
    // Without the token or any store password in its environment (`provision::child`).
    match provision::child::command(prog).args(words).arg(path).status() {
        Ok(st) if st.success() => Ok(()),
        Ok(st) => Err(format!("{editor} exited with {st}")),
        Err(e) => Err(format!("cannot run {editor}: {e} (set $EDITOR)")),
    }
}

/// Leave the alternate screen, show the cursor and leave raw mode. Safe to call more than once
/// and from a panic hook; errors are ignored (the terminal may already be gone).
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = std::io::stdout();
    let _ = execute!(out, crossterm::terminal::EndSynchronizedUpdate, LeaveAlternateScreen, Show);
    let _ = out.flush();
    let _ = disable_raw_mode();
}

/// The console's output: frames are collected until they are flushed, and on a 16-colour
/// terminal each colour of the 16 is sent as the ANSI code such a terminal knows (`31`, `91`,
/// `41`, `101`, ...) instead of crossterm's 256-colour form (`38;5;1`), which it may not.
pub struct SgrWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
    /// Rewrite `38;5;N` / `48;5;N` (N < 16) to the 16-colour codes.
    pub ansi16: bool,
}

impl<W: Write> SgrWriter<W> {
    pub fn new(inner: W, ansi16: bool) -> SgrWriter<W> {
        SgrWriter { inner, buf: Vec::with_capacity(16 * 1024), ansi16 }
    }
}

impl<W: Write> Write for SgrWriter<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let out = if self.ansi16 { sgr_to_ansi16(&self.buf) } else { std::mem::take(&mut self.buf) };
        self.buf.clear();
        self.inner.write_all(&out)?;
        self.inner.flush()
    }
}

/// Every SGR sequence (`ESC [ … m`) of `bytes` with its 256-colour form of the 16 named colours
/// (`38;5;N`, `48;5;N`, N < 16) written as the 16-colour codes (`30+N`/`90+N-8`,
/// `40+N`/`100+N-8`); everything else as it was.
pub fn sgr_to_ansi16(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0x1b && bytes.get(i + 1) == Some(&b'[') {
            // The parameters run to the final byte; an SGR ends with `m`.
            let start = i + 2;
            let mut j = start;
            while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b';') {
                j += 1;
            }
            if bytes.get(j) == Some(&b'm') {
                let params: Vec<&str> = std::str::from_utf8(&bytes[start..j]).unwrap_or("").split(';').collect();
                let mut outp: Vec<String> = Vec::with_capacity(params.len());
                let mut k = 0;
                while k < params.len() {
                    let p = params[k];
                    if (p == "38" || p == "48")
                        && params.get(k + 1) == Some(&"5")
                        && let Some(n) = params.get(k + 2).and_then(|n| n.parse::<u8>().ok()).filter(|n| *n < 16)
                    {
                        let base = if p == "38" { 30 } else { 40 };
                        outp.push(if n < 8 { (base + n).to_string() } else { (base + 60 + n - 8).to_string() });
                        k += 3;
                        continue;
                    }
                    outp.push(p.to_string());
                    k += 1;
                }
                out.extend_from_slice(b"\x1b[");
                out.extend_from_slice(outp.join(";").as_bytes());
                out.push(b'm');
                i = j + 1;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_16_colours_go_out_as_16_colour_codes() {
        let s = |b: &[u8]| String::from_utf8(sgr_to_ansi16(b)).unwrap();
        assert_eq!(s(b"\x1b[38;5;1mX\x1b[48;5;12mY\x1b[0m"), "\x1b[31mX\x1b[104mY\x1b[0m");
        assert_eq!(s(b"\x1b[1;38;5;9;48;5;0m"), "\x1b[1;91;40m");
        // Past the 16 (a theme fitted to 16 colours never sends these) and 24-bit: as they were.
        assert_eq!(s(b"\x1b[38;5;123m\x1b[38;2;1;2;3m"), "\x1b[38;5;123m\x1b[38;2;1;2;3m");
        // Not an SGR: as it was.
        assert_eq!(s(b"\x1b[?1049h\x1b[2J\xe2\x94\x80"), "\x1b[?1049h\x1b[2J\u{2500}");
        let mut w = SgrWriter::new(Vec::new(), true);
        w.write_all(b"\x1b[38;").unwrap();
        w.write_all(b"5;3m").unwrap();
        w.flush().unwrap();
        assert_eq!(w.inner, b"\x1b[33m");
    }
}
