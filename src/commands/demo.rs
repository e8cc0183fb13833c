//! `scimitar demo`: its flags, handed to the console as plain options.

use crate::scim::ApiVersion;
use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Users to seed the emulator with
    #[arg(long, default_value_t = 5000)]
    pub users: usize,
    /// Groups to seed the emulator with
    #[arg(long, default_value_t = 60)]
    pub groups: usize,
    /// Seed for the generated directory (same seed, same people)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Extra latency per emulator response, in milliseconds
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Multiply Slack's rate limits (emulator and client alike); 1 = real Slack
    #[arg(long, default_value_t = 1.0)]
    pub rate_scale: f64,
    /// Run without Slack's rate limits
    #[arg(long)]
    pub no_rate_limit: bool,
    /// Do not write the demo HR export and its policy (`demo-hr`) into the demo's data dir
    #[arg(long)]
    pub no_policy: bool,
    /// The global `--api` (the wire format the console speaks to the emulator), filled in by
    /// [`Cli::parse_args`].
    #[arg(skip)]
    pub api: Option<ApiVersion>,
}

impl From<DemoArgs> for scimitar_console::DemoOptions {
    fn from(a: DemoArgs) -> Self {
        scimitar_console::DemoOptions {
            users: a.users,
            groups: a.groups,
            seed: a.seed,
            latency_ms: a.latency_ms,
            rate_scale: a.rate_scale,
            no_rate_limit: a.no_rate_limit,
            no_policy: a.no_policy,
            api: a.api,
        }
    }
}
