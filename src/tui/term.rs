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

/// `$VISUAL`, else `$EDITOR` (a command with its arguments, as git reads it), else `vi`, on
/// `path`, waiting for it to exit.
pub fn run_editor(path: &std::path::Path) -> Result<(), String> {
    let editor =
        ["VISUAL", "EDITOR"].iter().filter_map(|k| std::env::var(k).ok()).find(|v| !v.trim().is_empty()).unwrap_or_else(|| "vi".into());
    let mut words = editor.split_whitespace();
    let prog = words.next().unwrap_or("vi");
    // Without the token or any store password in its environment (`provision::child`).
    match crate::child::command(prog).args(words).arg(path).status() {
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
