//! `scimitar cache clear`: the console's local directory cache.

use crate::command_error::Fail;
use crate::env::Environment;
use crate::exit;
use clap::Subcommand;
use std::io::Write;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum CacheCmd {
    /// Remove the profile's directory cache (`--all`: every profile's)
    Clear {
        #[arg(long)]
        all: bool,
    },
}

pub fn clear(env: &Environment, all: bool, out: &mut dyn Write) -> Result<i32, Fail> {
    use crate::directory::{cache_dir, cache_path};
    let paths: Vec<PathBuf> = if all {
        match std::fs::read_dir(cache_dir(&env.paths.data_dir)) {
            Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "users")).collect(),
            Err(_) => Vec::new(),
        }
    } else {
        vec![cache_path(&env.paths.data_dir, &env.profile_name)].into_iter().filter(|p| p.exists()).collect()
    };
    if paths.is_empty() {
        writeln!(out, "no directory cache to remove").map_err(|e| Fail::new(exit::FAILURE, e.to_string()))?;
        return Ok(exit::OK);
    }
    for p in paths {
        std::fs::remove_file(&p).map_err(|e| Fail::new(exit::FAILURE, format!("cannot remove {}: {e}", p.display())))?;
        writeln!(out, "removed {}", p.display()).map_err(|e| Fail::new(exit::FAILURE, e.to_string()))?;
    }
    Ok(exit::OK)
}
