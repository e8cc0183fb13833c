//! Alerts of `scimitar sync`: a JSON summary POSTed to a webhook (a Slack incoming-webhook URL
//! works as it is: Slack shows the `text` field and ignores the others) and/or given on stdin to
//! a command, on failure, on quarantine and, when asked, on every run (`[sync]` in config.toml).
//!
//! The URL is a secret (whoever has a Slack webhook URL can post to the channel): it is
//! registered with the redactor as soon as it is read, and every message, log line and record
//! shows it as `scheme://host/…` only ([`shown_url`]); a command shows its program name only. An
//! alert that cannot be delivered is reported (and recorded with the run) but never fails the
//! sync.

use crate::config::{AlertOn, SyncConfig};
use scim::Secret;
use serde::Serialize;
use std::time::Duration;

/// How long one webhook POST may take.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the alert command may run before it is killed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

pub use crate::config::{shown_command, shown_url};

/// What an alert is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertEvent {
    Failure,
    Quarantine,
    Run,
}

impl AlertEvent {
    fn on(self) -> AlertOn {
        match self {
            AlertEvent::Failure => AlertOn::Failure,
            AlertEvent::Quarantine => AlertOn::Quarantine,
            AlertEvent::Run => AlertOn::Run,
        }
    }
}

/// The JSON summary an alert carries.
#[derive(Clone, Debug, Serialize)]
pub struct Alert {
    /// One line for people (what Slack shows).
    pub text: String,
    pub event: AlertEvent,
    pub policy: String,
    pub profile: String,
    /// The Slack SCIM host the policy writes to.
    pub slack_host: String,
    /// The machine that runs the sync.
    pub host: String,
    pub run_id: Option<String>,
    pub result: super::RunResult,
    pub message: Option<String>,
    pub ops: super::OpCounts,
    pub plan: Option<serde_json::Value>,
    pub finished_at: String,
    /// How to release a quarantine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
}

/// The `[sync]` alert settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum AlertConfigError {
    #[error("[sync] webhook_url {shown}: {why}")]
    BadUrl { shown: String, why: String },
    #[error("[sync] set webhook_url or webhook_url_file, not both")]
    Both,
    #[error("[sync] webhook_url_file: {0}")]
    File(#[from] crate::config::ConfigError),
    #[error("[sync] check_active_every: {0}")]
    Duration(crate::config::DurationError),
}

struct Webhook {
    url: url::Url,
    shown: String,
    _secret: Secret,
}

/// Where alerts go, and when.
pub struct Alerts {
    webhook: Option<Webhook>,
    command: Option<String>,
    on: Vec<AlertOn>,
    http: Option<reqwest::Client>,
}

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(a) => a.is_loopback(),
        url::Host::Ipv6(a) => a.is_loopback(),
    }
}

impl Alerts {
    /// No alerts at all.
    pub fn none() -> Alerts {
        Alerts { webhook: None, command: None, on: Vec::new(), http: None }
    }

    /// From `[sync]` (the URL file is read now, refused if group or others can read it).
    pub fn from_config(c: &SyncConfig) -> Result<Alerts, AlertConfigError> {
        let text = match (&c.webhook_url, &c.webhook_url_file) {
            (Some(_), Some(_)) => return Err(AlertConfigError::Both),
            (Some(u), None) => Some(Secret::new(u.clone())),
            (None, Some(f)) => Some(crate::config::read_token_file(f)?),
            (None, None) => None,
        };
        let webhook = match text {
            None => None,
            Some(secret) => {
                let shown = shown_url(secret.expose());
                let bad = |why: &str| AlertConfigError::BadUrl { shown: shown.clone(), why: why.into() };
                let url = url::Url::parse(secret.expose()).map_err(|_| bad("not a URL"))?;
                let host = url.host().ok_or_else(|| bad("has no host"))?;
                match url.scheme() {
                    "https" => {}
                    "http" if is_loopback(&host) => {}
                    "http" => return Err(bad("plain http only to a loopback address; use https")),
                    _ => return Err(bad("must be an https:// URL")),
                }
                Some(Webhook { url, shown, _secret: secret })
            }
        };
        let command = c.alert_command.clone().filter(|s| !s.trim().is_empty());
        let http = if webhook.is_some() {
            reqwest::Client::builder().timeout(WEBHOOK_TIMEOUT).redirect(reqwest::redirect::Policy::none()).build().ok()
        } else {
            None
        };
        let on = c.alert_on.clone().unwrap_or_else(|| vec![AlertOn::Failure, AlertOn::Quarantine]);
        Ok(Alerts { webhook, command, on, http })
    }

    /// Whether an event of this kind is sent anywhere.
    /// `run` in `alert_on` asks for every run, failures and quarantines included.
    pub fn wants(&self, e: AlertEvent) -> bool {
        (self.webhook.is_some() || self.command.is_some()) && (self.on.contains(&e.on()) || self.on.contains(&AlertOn::Run))
    }

    /// `webhook https://hooks.slack.com/…, command `notify …`, on failure, quarantine`.
    pub fn describe(&self) -> String {
        let mut to = Vec::new();
        if let Some(w) = &self.webhook {
            to.push(format!("webhook {}", w.shown));
        }
        if let Some(c) = &self.command {
            to.push(format!("command {}", shown_command(c)));
        }
        if to.is_empty() {
            return "no alerts configured ([sync] webhook_url / alert_command in config.toml)".into();
        }
        let on: Vec<&str> = self
            .on
            .iter()
            .map(|o| match o {
                AlertOn::Failure => "failure",
                AlertOn::Quarantine => "quarantine",
                AlertOn::Run => "every run",
            })
            .collect();
        format!("alerts to {} on {}", to.join(" and "), on.join(", "))
    }

    /// Deliver an alert (when its event is wanted) everywhere it goes; returns what failed, each
    /// message naming only the URL's host or the command's program.
    pub async fn send(&self, alert: &Alert) -> Vec<String> {
        if !self.wants(alert.event) {
            return Vec::new();
        }
        let body = match serde_json::to_vec(alert) {
            Ok(b) => b,
            Err(e) => return vec![format!("alert: {e}")],
        };
        let mut failures = Vec::new();
        if let (Some(w), Some(http)) = (&self.webhook, &self.http)
            && let Err(e) = post(http, w, &body).await
        {
            failures.push(e.to_string());
        }
        if let Some(c) = &self.command
            && let Err(e) = run_command(c, alert.event, &alert.policy, &body).await
        {
            failures.push(e.to_string());
        }
        failures.into_iter().map(|f| crate::scim::redact::redact(&f).into_owned()).collect()
    }
}

/// Why an alert did not go out (the webhook's URL and the command line never shown whole:
/// either may carry a secret).
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("alert webhook {shown}: {why}")]
    Webhook { shown: String, why: WebhookFailure },
    #[error("alert command {shown}: cannot start: {source}")]
    CommandStart { shown: String, source: std::io::Error },
    #[error("alert command {shown}: exit status {status}")]
    CommandExit { shown: String, status: std::process::ExitStatus },
    #[error("alert command {shown}: {source}")]
    CommandWait { shown: String, source: std::io::Error },
    #[error("alert command {shown}: still running after {}s; killed", COMMAND_TIMEOUT.as_secs())]
    CommandTimeout { shown: String },
}

/// What went wrong with a webhook POST. reqwest's error text names the URL: this says only what
/// kind of failure it was.
#[derive(Debug, thiserror::Error)]
pub enum WebhookFailure {
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("no answer within {}s", WEBHOOK_TIMEOUT.as_secs())]
    Timeout,
    #[error("cannot connect")]
    Connect,
    #[error("the request failed")]
    Request,
}

/// One POST, retried once after a second on a broken connection or a 5xx.
async fn post(http: &reqwest::Client, w: &Webhook, body: &[u8]) -> Result<(), AlertError> {
    let mut last = WebhookFailure::Request;
    for attempt in 0..2 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let r = http.post(w.url.clone()).header("content-type", "application/json").body(body.to_vec()).send().await;
        match r {
            Ok(resp) if resp.status().is_success() => return Ok(()),
            Ok(resp) => {
                last = WebhookFailure::Status(resp.status().as_u16());
                if !resp.status().is_server_error() {
                    break;
                }
            }
            Err(e) if e.is_timeout() => last = WebhookFailure::Timeout,
            Err(e) if e.is_connect() => last = WebhookFailure::Connect,
            Err(_) => last = WebhookFailure::Request,
        }
    }
    Err(AlertError::Webhook { shown: w.shown.clone(), why: last })
}

/// `sh -c COMMAND` with the JSON on stdin and `SCIMITAR_ALERT_EVENT`, `SCIMITAR_ALERT_POLICY` set.
async fn run_command(command: &str, event: AlertEvent, policy: &str, body: &[u8]) -> Result<(), AlertError> {
    use tokio::io::AsyncWriteExt;
    let shown = shown_command(command);
    let event = serde_json::to_value(event).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    // Without the token or any store password in its environment (`crate::child`).
    let mut child = crate::child::tokio_command("sh")
        .arg("-c")
        .arg(command)
        .env("SCIMITAR_ALERT_EVENT", event)
        .env("SCIMITAR_ALERT_POLICY", policy)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| AlertError::CommandStart { shown: shown.clone(), source })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its stdin is no failure.
        let _ = stdin.write_all(body).await;
    }
    match tokio::time::timeout(COMMAND_TIMEOUT, child.wait()).await {
        Ok(Ok(s)) if s.success() => Ok(()),
        Ok(Ok(status)) => Err(AlertError::CommandExit { shown, status }),
        Ok(Err(source)) => Err(AlertError::CommandWait { shown, source }),
        Err(_) => Err(AlertError::CommandTimeout { shown }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_commands_are_shown_without_their_secrets() {
        let u = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX";
        assert_eq!(shown_url(u), "https://hooks.slack.com/…");
        assert_eq!(shown_url("http://127.0.0.1:9000/hook?token=abc"), "http://127.0.0.1:9000/…");
        assert_eq!(shown_command("curl -u admin:hunter2 https://x"), "`curl …`");
        let c = SyncConfig { webhook_url: Some(u.into()), alert_command: Some("notify --key s3cr3t".into()), ..Default::default() };
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("XXXXsecretXXXX") && !dbg.contains("s3cr3t"), "{dbg}");
        let a = Alerts::from_config(&c).unwrap();
        let d = a.describe();
        assert!(d.contains("https://hooks.slack.com/…") && d.contains("`notify …`") && !d.contains("secret"), "{d}");
        assert!(a.wants(AlertEvent::Quarantine) && a.wants(AlertEvent::Failure) && !a.wants(AlertEvent::Run));
        // The URL is registered with the redactor: nothing this process stores can carry it.
        assert!(!crate::scim::redact::redact(&format!("posting to {u}")).contains("secret"));
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let cfg = |u: &str| SyncConfig { webhook_url: Some(u.into()), ..Default::default() };
        assert!(Alerts::from_config(&cfg("http://127.0.0.1:8080/hook")).is_ok());
        let e = Alerts::from_config(&cfg("http://hooks.example.com/services/abcdefgh")).unwrap_err().to_string();
        assert!(e.contains("https") && !e.contains("abcdefgh"), "{e}");
        assert!(Alerts::from_config(&cfg("ftp://x.example/y")).is_err());
        assert!(!Alerts::from_config(&SyncConfig::default()).unwrap().wants(AlertEvent::Failure), "nowhere to send");
    }
}
