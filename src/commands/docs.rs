//! `scimitar completions SHELL` and `scimitar man`: shell completions and manual pages, generated
//! from the clap definition in `cli.rs` (so they can never disagree with `--help`). They need no
//! config, profile or token.
//!
//! Every page has the sections clap_mangen writes (each option with its environment variable),
//! then EXIT STATUS (from `exit::TABLE`), ENVIRONMENT (every option's variable, from the clap
//! definition, and the variables read without an option, `flags::ENVIRONMENT`) and FILES (from
//! `env::Paths`, the code that places them).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap_mangen::roff::{Roff, bold, italic, roman};

use crate::command_error::Fail;
use crate::exit;

/// The program's name in completions and manual pages.
const BIN: &str = "scimitar";

/// `scimitar completions SHELL`: the completion script on `out`.
/// `cli` is the clap tree's root (`cli::Cli::command()`: the router hands it in).
pub fn completions(shell: clap_complete::Shell, mut cli: clap::Command, out: &mut dyn Write) -> Result<i32, Fail> {
    // Generated into memory first: the generator panics on a write error (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cli, BIN, &mut script);
    out.write_all(&script)?;
    out.flush()?;
    Ok(exit::OK)
}

/// `scimitar man`: the top-level page on `out`; with `dir`, a page per command written there and
/// a line saying how many.
pub fn man(cli: clap::Command, dir: Option<&Path>, out: &mut dyn Write) -> Result<i32, Fail> {
    let mut root = cli.disable_help_subcommand(true);
    root.build();
    let Some(dir) = dir else {
        let mut page = Vec::new();
        page_of(&root, &root, &mut page)?;
        out.write_all(&page)?;
        out.flush()?;
        return Ok(exit::OK);
    };
    let failed = |what: &str, e: std::io::Error| Fail::new(exit::FAILURE, format!("cannot {what} {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(|e| failed("make", e))?;
    let mut pages = 0;
    let mut stack = vec![root.clone()];
    while let Some(cmd) = stack.pop() {
        stack.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
        let man = clap_mangen::Man::new(cmd.clone());
        let mut page = Vec::new();
        page_of(&root, &cmd, &mut page)?;
        std::fs::write(dir.join(man.get_filename()), page).map_err(|e| failed("write manual pages into", e))?;
        pages += 1;
    }
    writeln!(out, "{pages} manual pages in {}", dir.display())?;
    Ok(exit::OK)
}

/// One command's page: clap_mangen's sections, then EXIT STATUS, ENVIRONMENT and FILES.
fn page_of(root: &clap::Command, cmd: &clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(out)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(out)?;
    }
    if cmd.get_after_long_help().is_some() || cmd.get_after_help().is_some() {
        man.render_extra_section(out)?;
    }
    let mut roff = Roff::default();
    exit_status(&mut roff);
    environment(root, cmd, &mut roff);
    files(&mut roff);
    roff.to_writer(out)?;
    if cmd.get_version().or_else(|| cmd.get_long_version()).is_some() {
        man.render_version_section(out)?;
    }
    Ok(())
}

fn exit_status(roff: &mut Roff) {
    roff.control("SH", ["EXIT STATUS"]);
    for (code, what) in exit::TABLE {
        roff.control("TP", []);
        roff.text([bold(code.to_string())]);
        roff.text([roman(*what)]);
    }
}

/// Every environment variable an option of `cmd` (or, on the top page, of any command) takes,
/// then those read without an option.
fn environment(root: &clap::Command, cmd: &clap::Command, roff: &mut Roff) {
    fn walk(c: &clap::Command, deep: bool, seen: &mut Vec<(String, String, String)>) {
        for a in c.get_arguments().filter(|a| !a.is_hide_set() && !a.is_hide_env_set()) {
            let Some(env) = a.get_env() else { continue };
            let env = env.to_string_lossy().into_owned();
            if seen.iter().any(|(e, _, _)| *e == env) {
                continue;
            }
            let flag = a.get_long().map(|l| format!("--{l}")).unwrap_or_else(|| a.get_id().to_string());
            let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            seen.push((env, flag, help));
        }
        if deep {
            for s in c.get_subcommands().filter(|s| !s.is_hide_set()) {
                walk(s, true, seen);
            }
        }
    }
    let mut vars = Vec::new();
    walk(cmd, cmd.get_name() == root.get_name(), &mut vars);
    roff.control("SH", ["ENVIRONMENT"]);
    for (env, flag, help) in &vars {
        roff.control("TP", []);
        roff.text([bold(env.as_str())]);
        roff.text([roman("The same as "), bold(flag.as_str()), roman(format!(" (the flag wins). {help}"))]);
    }
    for (env, help) in crate::flags::ENVIRONMENT {
        roff.control("TP", []);
        roff.text([bold(*env)]);
        roff.text([roman(*help)]);
    }
}

/// The files scimitar reads and writes, placed by `env::Paths` (with the platform's default dirs).
fn files(roff: &mut Roff) {
    let config = PathBuf::from("$XDG_CONFIG_HOME/scimitar");
    let data = PathBuf::from("$XDG_DATA_HOME/scimitar");
    let paths = crate::env::Paths {
        config_dir: config.clone(),
        config_file: config.join("config.toml"),
        data_dir: data.clone(),
        exports: None,
        policies: None,
    };
    let shown = |p: PathBuf| p.display().to_string();
    let list = [
        (
            shown(paths.config_file.clone()),
            "Profiles (URL, token_command or token_file, protected users, ceilings), [ui], [report] and [sync]. --config FILE or SCIMITAR_CONFIG names another.",
        ),
        (shown(paths.policies_dir().join("NAME.toml")), "Policies, named by --policy NAME."),
        (shown(paths.themes_dir().join("NAME.toml")), "Console themes (--theme NAME)."),
        (shown(paths.database()), "The action journal and the provisioning reports (SQLite, owner-only)."),
        (shown(paths.state_dir()), "The state of earlier policy applies."),
        (
            shown(crate::directory::cache_path(&data, "PROFILE")),
            "The console's directory cache, one owner-only file per profile (scimitar cache clear).",
        ),
    ];
    roff.control("SH", ["FILES"]);
    roff.text([
        roman("The config dir is "),
        italic("$XDG_CONFIG_HOME/scimitar"),
        roman(" (~/.config/scimitar), or SCIMITAR_CONFIG_DIR, or the folder of --config FILE; the data dir "),
        italic("$XDG_DATA_HOME/scimitar"),
        roman(" (~/.local/share/scimitar), or SCIMITAR_DATA_DIR, or data/ in a moved config dir."),
    ]);
    for (path, what) in list {
        roff.control("TP", []);
        roff.text([italic(path)]);
        roff.text([roman(what)]);
    }
}
