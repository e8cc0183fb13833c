//! `scimitar check`: does the URL answer as SCIM, is the token accepted, which version.

use crate::command_error::Fail;
use crate::connection::Connection;
use crate::env::Environment;
use crate::exit;
use crate::output::{OutputFormat, Rows};
use crate::scim::client::CheckReport;
use clap::Args;
use serde_json::Value;
use std::io::Write;

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[arg(long, short, value_enum, default_value_t)]
    pub output: OutputFormat,
}

pub async fn run(env: &Environment, a: CheckArgs, out: &mut dyn Write) -> Result<i32, Fail> {
    let c = Connection::of(env)?;
    let r: CheckReport = c.client.check().await;
    let mut rows = Rows::new(vec!["check", "result"]);
    rows.push(vec!["url".into(), r.url.clone()], None);
    rows.push(vec!["api".into(), r.version.label().into()], None);
    rows.push(vec!["profile".into(), env.profile_name.clone()], None);
    rows.push(vec!["scim endpoint answers".into(), yes_no(r.scim_endpoint)], None);
    rows.push(vec!["provider config".into(), r.service_provider_config.clone().unwrap_or_else(|| "-".into())], None);
    rows.push(
        vec![
            "server".into(),
            r.server.as_ref().map(|p| format!("{} ({})", p.label(), crate::sanitize::clean(&p.reason))).unwrap_or_else(|| "-".into()),
        ],
        None,
    );
    rows.push(
        vec![
            "deactivates with".into(),
            r.server
                .as_ref()
                .map(|p| {
                    if p.delete_deactivates() { "DELETE or PATCH active=false" } else { "PATCH active=false (DELETE would delete)" }
                        .to_string()
                })
                .unwrap_or_else(|| "-".into()),
        ],
        None,
    );
    rows.push(vec!["token accepted".into(), yes_no(r.token_accepted)], None);
    rows.push(vec!["users".into(), r.total_users.map(|n| n.to_string()).unwrap_or_else(|| "-".into())], None);
    rows.push(vec!["latency".into(), format!("{} ms", r.latency_ms)], None);
    if a.output == OutputFormat::Json {
        let mut v = serde_json::to_value(&r).unwrap();
        v["profile"] = Value::from(env.profile_name.clone());
        crate::output::write_json_line(out, &v)?;
    } else {
        rows.write(a.output, out)?;
    }
    match (&r.problem, r.token_accepted, r.scim_endpoint) {
        (_, true, _) => Ok(exit::OK),
        (Some(p), _, _) if r.token_refused => Err(Fail::new(exit::AUTH, p.clone())),
        (Some(p), _, _) => Err(Fail::new(exit::UNAVAILABLE, p.clone())),
        (None, _, _) => Err(Fail::new(exit::FAILURE, "check failed")),
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes".into() } else { "no".into() }
}
