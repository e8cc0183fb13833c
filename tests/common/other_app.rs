//! "Another app" of the same Slack organisation (an IdP connector, say): it writes at a steady
//! rate through its own plain HTTP client, spending the org-wide budget scimitar spends too. It
//! keeps its schedule whatever the answers (as a connector pushing changes does) and counts its
//! 429s. Used by `tests/queue.rs` and `benches/bulk.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct OtherApp {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    throttled: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl OtherApp {
    /// Write `per_sec` requests a second to the users `ids` (in turn): PATCH `title` and DELETE
    /// (deactivate) alternately, so it spends both rows scimitar's bulk deactivation uses. First,
    /// before this returns, `burst` of them one after the other as fast as they are answered
    /// (the app has just spent the bursts when scimitar starts).
    pub async fn start(base_url: &str, token: &str, ids: Vec<String>, per_sec: f64, burst: u64) -> OtherApp {
        assert!(!ids.is_empty() && per_sec > 0.0);
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let throttled = Arc::new(AtomicU64::new(0));
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let base = base_url.trim_end_matches('/').to_string();
        let token = token.to_string();
        let request = {
            let (http, base, token) = (http.clone(), base.clone(), token.clone());
            move |i: u64, id: &str| {
                let url = format!("{base}/Users/{id}");
                let req = if i.is_multiple_of(2) {
                    let body = serde_json::json!({
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "title", "value": format!("Title {i}")}],
                    });
                    http.patch(url).json(&body)
                } else {
                    http.delete(url)
                };
                req.bearer_auth(&token)
            }
        };
        for i in 0..burst {
            sent.fetch_add(1, Ordering::Relaxed);
            if let Ok(r) = request(i, &ids[i as usize % ids.len()]).send().await
                && r.status().as_u16() == 429
            {
                throttled.fetch_add(1, Ordering::Relaxed);
            }
        }
        let (s, n, t) = (stop.clone(), sent.clone(), throttled.clone());
        let task = tokio::spawn(async move {
            let period = Duration::from_secs_f64(1.0 / per_sec);
            let start = tokio::time::Instant::now();
            let mut i = 0u64;
            while !s.load(Ordering::Relaxed) {
                tokio::time::sleep_until(start + period * (i as u32)).await;
                let req = request(i, &ids[i as usize % ids.len()]);
                let (n, t) = (n.clone(), t.clone());
                n.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    if let Ok(r) = req.send().await
                        && r.status().as_u16() == 429
                    {
                        t.fetch_add(1, Ordering::Relaxed);
                    }
                });
                i += 1;
            }
        });
        OtherApp { stop, sent, throttled, task }
    }

    /// Stop writing; (requests sent, of which answered 429).
    pub async fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        // Let the last answers come in.
        let until = Instant::now() + Duration::from_millis(200);
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (self.sent.load(Ordering::Relaxed), self.throttled.load(Ordering::Relaxed))
    }
}
