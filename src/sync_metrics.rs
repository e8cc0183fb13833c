//! `scimitar sync --metrics ADDR`: Prometheus metrics of the sync (the `prometheus-client`
//! crate's registry and OpenMetrics text encoding), served at `http://ADDR/metrics` by a small
//! server of its own ([`serve`]: at most [`MAX_CONNECTIONS`] at once, request heads timed out, so a
//! flood of connections cannot take the sync's file descriptors). Names follow Prometheus
//! conventions (`_total` counters, `_seconds` units, base units, a `policy` and a `profile` label
//! on every series):
//!
//! | metric | type | what |
//! |---|---|---|
//! | `scimitar_sync_runs_total{result}` | counter | cycles by result (`applied`, `no_changes`, `failed`, `quarantined`, `held`, `locked`, `error`, `interrupted`) |
//! | `scimitar_sync_operations_total{outcome}` | counter | operations by outcome (`done`, `failed`, `skipped`, `cancelled`) |
//! | `scimitar_sync_last_success_timestamp_seconds` | gauge | unix time of the last `applied` or `no_changes` cycle (from the status record at start) |
//! | `scimitar_sync_last_run_timestamp_seconds` | gauge | unix time the last cycle ended |
//! | `scimitar_sync_last_run_duration_seconds` | gauge | how long it took |
//! | `scimitar_sync_next_run_timestamp_seconds` | gauge | when the next cycle starts |
//! | `scimitar_sync_quarantined` | gauge | 1 while the policy is quarantined, else 0 |
//!
//! Counters count this process's cycles (they start at 0, as Prometheus expects of a restart).
//! The address must be loopback unless `--metrics-allow-remote` (the metrics name policies and
//! profiles; nothing else is served).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use crate::sync::{CycleReport, RunResult, SyncState};

type Labels = Vec<(String, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// The sync's metrics for one policy.
pub struct SyncMetrics {
    registry: Registry,
    base: Labels,
    runs: Family<Labels, Counter>,
    operations: Family<Labels, Counter>,
    last_success: Family<Labels, FloatGauge>,
    last_run: Family<Labels, FloatGauge>,
    last_duration: Family<Labels, FloatGauge>,
    next_run: Family<Labels, FloatGauge>,
    quarantined: Family<Labels, Gauge>,
}

fn secs(t: time::OffsetDateTime) -> f64 {
    t.unix_timestamp_nanos() as f64 / 1e9
}

impl SyncMetrics {
    pub fn new(profile: &str, policy: &str) -> SyncMetrics {
        let mut registry = Registry::with_prefix("scimitar_sync");
        let (runs, operations) = (Family::<Labels, Counter>::default(), Family::<Labels, Counter>::default());
        let (last_success, last_run, last_duration, next_run) =
            (Family::default(), Family::default(), Family::default(), Family::<Labels, FloatGauge>::default());
        let quarantined = Family::<Labels, Gauge>::default();
        registry.register("runs", "Sync cycles by result", runs.clone());
        registry.register("operations", "Operations of sync cycles by outcome", operations.clone());
        registry.register_with_unit(
            "last_success_timestamp",
            "Unix time of the last cycle that applied its plan or found nothing to do",
            Unit::Seconds,
            last_success.clone(),
        );
        registry.register_with_unit("last_run_timestamp", "Unix time the last cycle ended", Unit::Seconds, last_run.clone());
        registry.register_with_unit("last_run_duration", "How long the last cycle took", Unit::Seconds, last_duration.clone());
        registry.register_with_unit("next_run_timestamp", "Unix time the next cycle starts", Unit::Seconds, next_run.clone());
        registry.register("quarantined", "1 while the policy is quarantined (no writes until sync approve), else 0", quarantined.clone());
        let base: Labels = vec![("policy".into(), policy.into()), ("profile".into(), profile.into())];
        let m = SyncMetrics { registry, base, runs, operations, last_success, last_run, last_duration, next_run, quarantined };
        // Every known series exists from the start (at 0), so rates and alerts need no `absent()`.
        for r in RunResult::ALL {
            let _ = m.runs.get_or_create(&m.with("result", r.as_str()));
        }
        for o in ["done", "failed", "skipped", "cancelled"] {
            let _ = m.operations.get_or_create(&m.with("outcome", o));
        }
        let _ = m.quarantined.get_or_create(&m.base);
        m
    }

    fn with(&self, k: &str, v: &str) -> Labels {
        let mut l = self.base.clone();
        l.push((k.into(), v.into()));
        l
    }

    /// What the status record says when the sync starts: the last success and the quarantine.
    pub fn seed(&self, state: Option<&SyncState>) {
        let Some(s) = state else { return };
        if let Some(t) = s.last_success {
            self.last_success.get_or_create(&self.base).set(secs(t));
        }
        self.quarantined.get_or_create(&self.base).set(i64::from(s.quarantine.is_some()));
    }

    /// One cycle ended.
    pub fn observe(&self, r: &CycleReport) {
        let rec = &r.record;
        self.runs.get_or_create(&self.with("result", rec.result.as_str())).inc();
        for (o, n) in [("done", rec.ops.done), ("failed", rec.ops.failed), ("skipped", rec.ops.skipped), ("cancelled", rec.ops.cancelled)] {
            self.operations.get_or_create(&self.with("outcome", o)).inc_by(n);
        }
        if rec.result.is_success() {
            self.last_success.get_or_create(&self.base).set(secs(rec.finished));
        }
        self.last_run.get_or_create(&self.base).set(secs(rec.finished));
        self.last_duration.get_or_create(&self.base).set((rec.finished - rec.started).as_seconds_f64().max(0.0));
        let q = r.quarantine.is_some() && matches!(rec.result, RunResult::Quarantined | RunResult::Held);
        if rec.result != RunResult::Locked {
            self.quarantined.get_or_create(&self.base).set(i64::from(q));
        }
    }

    pub fn set_next_run(&self, t: time::OffsetDateTime) {
        self.next_run.get_or_create(&self.base).set(secs(t));
    }

    /// The quarantine was released (by `sync approve` in another process, seen at a cycle).
    pub fn set_quarantined(&self, q: bool) {
        self.quarantined.get_or_create(&self.base).set(i64::from(q));
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut s = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut s, &self.registry);
        s
    }
}

/// `--metrics` on a non-loopback address without `--metrics-allow-remote`.
pub fn check_address(addr: &SocketAddr, allow_remote: bool) -> Result<(), String> {
    if addr.ip().is_loopback() || allow_remote {
        Ok(())
    } else {
        Err(format!(
            "--metrics {addr}: not a loopback address; metrics are served to 127.0.0.1 or [::1] only unless --metrics-allow-remote (e.g. in a container, behind its own network)"
        ))
    }
}

/// The most scrapes served at once. More connections wait in the kernel's accept queue, which
/// costs this process no file descriptor: a flood of connections to the metrics port (1,200
/// half-sent requests exhausted a 1,024 limit, systemd's default, and the sync's cycles failed
/// to open their lock) can hold at most this many of the sync's descriptors.
pub const MAX_CONNECTIONS: usize = 8;
/// A scrape has this long to send its request head, and as long again to take the answer.
pub const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
/// The longest request head read (a scrape's is a few hundred bytes).
pub const MAX_HEAD: usize = 8 * 1024;

/// Serve `GET /metrics` on `addr` (in the background); returns the address bound.
///
/// A small HTTP/1.1 server of its own (one request per connection, `Connection: close`): a
/// connection is accepted only when one of [`MAX_CONNECTIONS`] permits is free, its request head
/// must arrive within [`HEADER_TIMEOUT`] and [`MAX_HEAD`] bytes, and an accept that fails (no
/// descriptor left) waits a moment instead of spinning. So the metrics can never take the file
/// descriptors the sync's cycle needs.
pub async fn serve(addr: SocketAddr, metrics: Arc<SyncMetrics>) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        loop {
            let Ok(permit) = permits.clone().acquire_owned().await else { return };
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    continue;
                }
            };
            let m = metrics.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(HEADER_TIMEOUT * 2, answer(stream, &m)).await;
                drop(permit);
            });
        }
    });
    Ok(bound)
}

/// Read one request head and answer it.
async fn answer(mut stream: tokio::net::TcpStream, metrics: &SyncMetrics) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut head = Vec::with_capacity(1024);
    let read = async {
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
            let n = stream.read(&mut buf).await?;
            if n == 0 || head.len() + n > MAX_HEAD {
                return Err(std::io::Error::other("no complete request head"));
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(())
    };
    match tokio::time::timeout(HEADER_TIMEOUT, read).await {
        Ok(Ok(())) => {}
        // Too slow, too long, or gone: close without a word.
        _ => return Ok(()),
    }
    let line = head.split(|b| *b == b'\n').next().unwrap_or(&[]);
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, ctype, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => ("200 OK", "application/openmetrics-text; version=1.0.0; charset=utf-8", metrics.encode()),
        ("GET" | "HEAD", _) => ("404 Not Found", "text/plain; charset=utf-8", "not found: the metrics are at /metrics\n".to_string()),
        _ => ("405 Method Not Allowed", "text/plain; charset=utf-8", "only GET /metrics\n".to_string()),
    };
    let mut out =
        format!("HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len()).into_bytes();
    if method != "HEAD" {
        out.extend_from_slice(body.as_bytes());
    }
    stream.write_all(&out).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_follow_prometheus_conventions() {
        let m = SyncMetrics::new("acme", "hr");
        let text = m.encode();
        assert!(text.contains("# TYPE scimitar_sync_runs counter"), "{text}");
        assert!(text.contains("scimitar_sync_runs_total{policy=\"hr\",profile=\"acme\",result=\"applied\"} 0"), "{text}");
        assert!(text.contains("scimitar_sync_operations_total{policy=\"hr\",profile=\"acme\",outcome=\"failed\"} 0"), "{text}");
        assert!(text.contains("scimitar_sync_quarantined{policy=\"hr\",profile=\"acme\"} 0"), "{text}");
        assert!(!text.contains("last_success"), "no series until there is a success: {text}");
        m.set_next_run(time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap());
        let text = m.encode();
        assert!(text.contains("# UNIT scimitar_sync_next_run_timestamp_seconds seconds"), "{text}");
        assert!(text.contains("scimitar_sync_next_run_timestamp_seconds{policy=\"hr\",profile=\"acme\"} 1800000000"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }

    #[tokio::test]
    async fn scrapes_are_answered_and_slow_or_idle_connections_hold_no_more_than_the_cap() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let m = Arc::new(SyncMetrics::new("acme", "hr"));
        let addr = serve("127.0.0.1:0".parse().unwrap(), m).await.unwrap();
        let scrape = |path: &'static str| async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
            let mut text = String::new();
            s.read_to_string(&mut text).await.unwrap();
            text
        };
        let ok = scrape("/metrics").await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n") && ok.contains("scimitar_sync_runs_total") && ok.ends_with("# EOF\n"), "{ok}");
        assert!(scrape("/other").await.starts_with("HTTP/1.1 404"));
        // Idle connections beyond the cap wait in the kernel's queue; once the ones served are
        // timed out, a scrape is answered again.
        let mut idle = Vec::new();
        for _ in 0..MAX_CONNECTIONS * 3 {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET /metr").await.unwrap();
            idle.push(s);
        }
        drop(idle);
        let ok = tokio::time::timeout(HEADER_TIMEOUT * 4, scrape("/metrics")).await.expect("answered once the idle ones are gone");
        assert!(ok.starts_with("HTTP/1.1 200 OK"), "{ok}");
    }

    #[test]
    fn only_loopback_unless_allowed() {
        assert!(check_address(&"127.0.0.1:9464".parse().unwrap(), false).is_ok());
        assert!(check_address(&"[::1]:9464".parse().unwrap(), false).is_ok());
        assert!(check_address(&"0.0.0.0:9464".parse().unwrap(), false).unwrap_err().contains("--metrics-allow-remote"));
        assert!(check_address(&"0.0.0.0:9464".parse().unwrap(), true).is_ok());
    }
}
