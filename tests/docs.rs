//! `scimitar completions` and `scimitar man`: generated from the CLI definition, so they list
//! what `--help` lists; they need no config or token.

use std::process::Command;

fn scimitar(args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    // No config, no token, no data dir: these commands must not need any.
    Command::new(env!("CARGO_BIN_EXE_scimitar"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .output()
        .expect("run scimitar")
}

fn stdout(args: &[&str]) -> String {
    let o = scimitar(args);
    assert!(o.status.success(), "scimitar {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

const COMMANDS: &[&str] = &[
    "check",
    "users",
    "groups",
    "restore",
    "resume",
    "plan",
    "apply",
    "sync",
    "report",
    "emulator",
    "demo",
    "cache",
    "completions",
    "man",
];

#[test]
fn bash_completion_is_valid_bash_and_completes_every_command_and_flag() {
    let script = stdout(&["completions", "bash"]);
    for c in COMMANDS {
        assert!(script.contains(c), "bash completion lacks the command {c}");
    }
    for flag in ["--output", "--dry-run", "--read-only", "--filter"] {
        assert!(script.contains(flag), "bash completion lacks {flag}");
    }
    // bash itself parses it (and completing `scimitar us<TAB>` gives `users`)
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("scimitar.bash");
    std::fs::write(&f, &script).unwrap();
    let probe = format!(
        "source {}; COMP_WORDS=(scimitar us); COMP_CWORD=1; COMP_LINE='scimitar us'; COMP_POINT=11; _scimitar scimitar us scimitar; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        f.display()
    );
    let o = Command::new("bash").args(["--norc", "-c", &probe]).output().expect("bash");
    assert!(o.status.success(), "bash: {}", String::from_utf8_lossy(&o.stderr));
    let got = String::from_utf8_lossy(&o.stdout);
    assert_eq!(got.split_whitespace().collect::<Vec<_>>(), ["users"], "completing `scimitar us`: {got}");
}

#[test]
fn zsh_fish_and_powershell_completions_name_the_commands() {
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let script = stdout(&["completions", shell]);
        for c in ["users", "groups", "sync", "report"] {
            assert!(script.contains(c), "{shell} completion lacks {c}");
        }
    }
    let o = scimitar(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(64), "an unknown shell is a usage error (EX_USAGE)");
    assert!(String::from_utf8_lossy(&o.stderr).contains("possible values"));
}

#[test]
fn man_page_documents_the_commands_and_a_page_per_command_goes_to_a_dir() {
    let page = stdout(&["man"]);
    assert!(page.contains(".TH scimitar 1"), "{}", &page[..page.len().min(300)]);
    for c in ["users", "groups", "sync", "report", "demo"] {
        assert!(page.contains(c), "the man page lacks {c}");
    }
    let dir = tempfile::tempdir().unwrap();
    let said = stdout(&["man", "--dir", dir.path().to_str().unwrap()]);
    let list = std::fs::read_to_string(dir.path().join("scimitar-users-list.1")).expect("scimitar-users-list.1 written");
    assert!(list.contains("filter"), "the users list page documents --filter");
    let sync = std::fs::read_to_string(dir.path().join("scimitar-sync.1")).expect("scimitar-sync.1 written");
    assert!(sync.contains("once"), "the sync page documents --once");
    let n = std::fs::read_dir(dir.path()).unwrap().count();
    assert!(n > COMMANDS.len(), "a page per command and subcommand: {n}");
    assert_eq!(said.trim(), format!("{n} manual pages in {}", dir.path().display()));
}

#[test]
fn commands_that_connect_to_nothing_do_not_list_the_connection_flags() {
    let flags = |help: &str| -> Vec<String> {
        help.lines().filter_map(|l| l.split_whitespace().find(|w| w.starts_with("--")).map(str::to_string)).collect()
    };
    let emulator = flags(&stdout(&["emulator", "--help"]));
    assert!(emulator.contains(&"--latency-ms".to_string()) && emulator.contains(&"--token-file".to_string()), "{emulator:?}");
    for global in ["--url", "--profile", "--deadline", "--throttle", "--read-only", "--theme", "--server"] {
        assert!(!emulator.iter().any(|f| f.trim_end_matches(',') == global), "emulator --help lists {global}: {emulator:?}");
        for cmd in ["completions", "man"] {
            let h = flags(&stdout(&[cmd, "--help"]));
            assert!(!h.iter().any(|f| f == global), "{cmd} --help lists {global}: {h:?}");
        }
    }
    // The commands that connect still list them.
    let list = flags(&stdout(&["users", "list", "--help"]));
    assert!(list.contains(&"--url".to_string()) && list.contains(&"--deadline".to_string()), "{list:?}");
    // Given anyway, before or after the command, they are accepted (and ignored) as before.
    stdout(&["--url", "http://127.0.0.1:9/scim/v2/", "completions", "bash", "--deadline", "5m", "--read-only"]);
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("p");
    std::fs::create_dir(&page).unwrap();
    let emulator_page = {
        stdout(&["man", "--dir", page.to_str().unwrap(), "--theme", "dark"]);
        std::fs::read_to_string(page.join("scimitar-emulator.1")).unwrap()
    };
    assert!(emulator_page.contains("latency") && !emulator_page.contains("\\-\\-deadline"), "the emulator's man page lists what it takes");
}

/// Issue 25 (22): the page has EXIT STATUS, ENVIRONMENT and FILES, and every option that takes an
/// environment variable names it, on the top page and on each command's page; generated from
/// the code (exit::TABLE, the clap definition, env::Paths).
#[test]
fn man_pages_have_exit_status_environment_and_files() {
    let page = stdout(&["man"]);
    for section in [".SH \"EXIT STATUS\"", ".SH ENVIRONMENT", ".SH FILES"] {
        assert!(page.contains(section), "the man page lacks {section}");
    }
    for (code, _) in scimitar::exit::TABLE {
        assert!(page.contains(&format!("\\fB{code}\\fR")), "EXIT STATUS lacks {code}");
    }
    // Every option's variable, the ones read without a flag, and where the files are.
    for var in [
        "SCIMITAR_URL",
        "SCIMITAR_PROFILE",
        "SCIMITAR_API",
        "SCIMITAR_SERVER",
        "SCIMITAR_THEME",
        "SLACK_SCIM_TOKEN",
        "SCIMITAR_CONFIG_DIR",
        "SCIMITAR_DATA_DIR",
        "NO_COLOR",
    ] {
        assert!(page.contains(var), "ENVIRONMENT lacks {var}");
    }
    assert!(page.contains("May also be specified with the \\fBSCIMITAR_URL\\fR environment variable"), "--url names its variable");
    for file in ["config.toml", "scimitar.db", "policy\\-state", "PROFILE.users", "policies/NAME.toml"] {
        assert!(page.contains(file), "FILES lacks {file}");
    }
    // A command's own page too, with its own variables (sync's --metrics has none; plan inherits the globals).
    let dir = tempfile::tempdir().unwrap();
    stdout(&["man", "--dir", dir.path().to_str().unwrap()]);
    let plan = std::fs::read_to_string(dir.path().join("scimitar-plan.1")).unwrap();
    for section in [".SH \"EXIT STATUS\"", ".SH ENVIRONMENT", ".SH FILES"] {
        assert!(plan.contains(section), "scimitar-plan.1 lacks {section}");
    }
    assert!(plan.contains("SCIMITAR_URL") && plan.contains("\\fB2\\fR"), "the plan page lists its variables and exit 2");
}
