//! `scimitar emulator`: run the Slack SCIM emulator as a server of its own (for the demo, tests
//! and benchmarks).

use crate::scim::ApiVersion;
use emulator::{Emulator, EmulatorConfig, Faults, RateLimitMode};
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

/// `scimitar emulator` options.
#[derive(clap::Args, Debug, Clone)]
pub struct EmulatorArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// Number of seeded users.
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Number of seeded groups.
    #[arg(long, default_value_t = 50)]
    pub groups: usize,
    /// Seed for the generated org and the fault dice.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Bearer token the emulator accepts. Prefer --token-file or the SCIMITAR_EMULATOR_TOKEN environment variable:
    /// a token on the command line is visible to every user of the machine (ps)
    #[arg(long, env = "SCIMITAR_EMULATOR_TOKEN", default_value = "xoxp-emulator-token", hide_env_values = true, hide_default_value = true)]
    pub token: String,
    /// File holding the bearer token the emulator accepts (must not be readable by group or others)
    #[arg(long, value_name = "FILE", conflicts_with = "token")]
    pub token_file: Option<std::path::PathBuf>,
    /// Enforce Slack's rate limits (`slack`) or not (`off`).
    #[arg(long, default_value = "off", value_parser = ["slack", "off"])]
    pub rate_limit: String,
    /// Multiply every Slack limit by this factor.
    #[arg(long, default_value_t = 1.0)]
    pub rate_scale: f64,
    /// Added latency per request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Injected faults, e.g. `503:0.05,reset:0.01,slow:0.02,slowms:500` (also `429`, `retryafter`,
    /// `incident`, `deletenoop`: a DELETE answered 204 that leaves the user active, and
    /// `memberwipe`: a member-remove PATCH that empties the group, answered 2xx).
    #[arg(long, default_value = "none")]
    pub faults: Faults,
    /// The console's and commands' global flags: accepted, ignored, not in `--help`.
    #[command(flatten)]
    pub unused: crate::flags::UnusedGlobals,
}

impl EmulatorArgs {
    /// The emulator's settings; fails when `--token-file` cannot be read or is open to others.
    pub fn config(&self) -> anyhow::Result<EmulatorConfig> {
        let token = match &self.token_file {
            Some(p) => crate::config::read_token_file(p)?.expose().to_string(),
            None => self.token.clone(),
        };
        Ok(EmulatorConfig {
            users: self.users,
            groups: self.groups,
            seed: self.seed,
            token,
            rate_limit: if self.rate_limit == "slack" { RateLimitMode::Slack { scale: self.rate_scale } } else { RateLimitMode::Off },
            latency: Duration::from_millis(self.latency_ms),
            faults: self.faults.clone(),
        })
    }
}

/// Start, print the v2 base URL (first line) and the v1 base URL on stdout, serve until Ctrl-C
/// or SIGTERM.
/// `scimitar emulator`: serve until killed; a server that cannot start is `UNAVAILABLE`.
pub async fn run(args: EmulatorArgs) -> Result<i32, crate::command_error::Fail> {
    match serve_forever(args).await {
        Ok(()) => Ok(crate::exit::OK),
        Err(e) => Err(crate::command_error::Fail::new(crate::exit::UNAVAILABLE, format!("emulator: {e:#}"))),
    }
}

pub async fn serve_forever(args: EmulatorArgs) -> anyhow::Result<()> {
    let emu = Emulator::start(args.config()?, args.listen).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", emu.base_url(ApiVersion::V2))?;
        writeln!(out, "{}", emu.base_url(ApiVersion::V1))?;
        out.flush()?;
    }
    eprintln!(
        "scimitar emulator: {} users, {} groups, token from --token-file, SCIMITAR_EMULATOR_TOKEN or --token; Ctrl-C stops",
        emu.user_count(),
        args.groups
    );
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    emu.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_parse() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            a: EmulatorArgs,
        }
        let c = Cli::try_parse_from(["x", "--rate-limit", "slack", "--rate-scale", "10", "--faults", "503:0.5"]).unwrap();
        let cfg = c.a.config().unwrap();
        assert_eq!(cfg.rate_limit, RateLimitMode::Slack { scale: 10.0 });
        assert_eq!(cfg.faults.p503, 0.5);
        assert_eq!(c.a.listen.to_string(), "127.0.0.1:8787");
        assert!(Cli::try_parse_from(["x", "--faults", "nope:1"]).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn token_from_a_private_file() {
        use clap::Parser;
        use std::os::unix::fs::PermissionsExt;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            a: EmulatorArgs,
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tok");
        std::fs::write(&p, "from-the-file-123\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let c = Cli::try_parse_from(["x", "--token-file", p.to_str().unwrap()]).unwrap();
        assert_eq!(c.a.config().unwrap().token, "from-the-file-123");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(c.a.config().unwrap_err().to_string().contains("chmod 600"));
        assert!(Cli::try_parse_from(["x", "--token-file", "f", "--token", "t"]).is_err(), "one or the other");
    }
}
