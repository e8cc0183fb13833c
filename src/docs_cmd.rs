//! `scimitar completions SHELL` and `scimitar man`: shell completions and manual pages, generated
//! from the clap definition in `cli.rs` (so they can never disagree with `--help`). They need no
//! config, profile or token.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use crate::cli::{Cli, Fail};
use crate::exit;

/// The program's name in completions and manual pages.
const BIN: &str = "scimitar";

/// `scimitar completions SHELL`: the completion script on `out`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> Result<i32, Fail> {
    // Generated into memory first: the generator panics on a write error (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN, &mut script);
    out.write_all(&script)?;
    out.flush()?;
    Ok(exit::OK)
}

/// `scimitar man`: the top-level page on `out`; with `dir`, a page per command written there and
/// a line saying how many.
pub fn man(dir: Option<&Path>, out: &mut dyn Write) -> Result<i32, Fail> {
    let Some(dir) = dir else {
        clap_mangen::Man::new(Cli::command()).render(out)?;
        out.flush()?;
        return Ok(exit::OK);
    };
    let failed = |what: &str, e: std::io::Error| Fail::new(exit::FAILURE, format!("cannot {what} {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(|e| failed("make", e))?;
    clap_mangen::generate_to(Cli::command(), dir).map_err(|e| failed("write manual pages into", e))?;
    let pages = std::fs::read_dir(dir)
        .map_err(|e| failed("read", e))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(BIN) && n.ends_with(".1"))
        .count();
    writeln!(out, "{pages} manual pages in {}", dir.display())?;
    Ok(exit::OK)
}
