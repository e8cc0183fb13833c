//! A hostile SCIM server on 127.0.0.1 (axum, its own thread and runtime, so synchronous PTY
//! tests can use it too), and a runner for the real `scimitar` binary that watches its memory
//! and time so that a regression fails the test instead of flooding the machine.
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::future::IntoFuture;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How the server misbehaves.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Every request: 429 with this `Retry-After`.
    RetryAfter(&'static str),
    /// Reads answer; every write gets 429 with this `Retry-After`.
    RetryAfterWrites(&'static str),
    /// Lists claim 10^15 results and send one new one per page.
    HugeTotal,
    /// Lists claim 2 results and send the same two whatever `startIndex` says.
    Repeating,
    /// Lists claim 2 results and send two new ones at every `startIndex`, forever.
    Endless,
    /// Error details, ids and names carry terminal escape sequences (clear screen, title, OSC 52).
    Escapes,
    /// Every answer has this status and a body of this many bytes (streamed, no Content-Length).
    HugeBody { status: u16, bytes: u64 },
    /// Accepts connections, never answers.
    Stall,
    /// Reads of `W0OK…` users answer; everything else is refused with the token echoed back.
    TokenEcho,
    /// Users whose fields carry C1 controls, bidi overrides, zero-width and separator characters.
    Bidi,
    /// Users of the wrong shape (numbers for strings, a string for `emails`).
    Malformed,
    /// Every request: 503.
    ServerError,
    /// The first page of users (`startIndex=1`) answers with this status and exactly this body
    /// (JSON content type), later ones are empty; everything else as a friendly server.
    ListBody { status: u16, body: String },
    /// A well-behaved server (the target of a redirect, to count what reaches it).
    Friendly,
    /// Answers with `status` and `Location: {to}{path and query}` (every request, or only
    /// writes when `writes_only`; reads are then friendly).
    Redirect { status: u16, to: String, writes_only: bool },
    /// As `TokenEcho`, but the token comes back JSON-escaped: every character as `\uXXXX`, and
    /// once with its `/` as `\/` (both decode to the token itself).
    TokenEchoEscaped,
    /// `users` users (W0SHRINK00001…); each of the first `times` times the first page is served,
    /// the first `delete` live users are deleted after it (they were listed already), so every
    /// later page starts `delete` users further on: a listing by `startIndex` skips `delete`
    /// live users.
    Shrinking { users: u64, delete: u64, times: u64 },
    /// A user whose name hides characters outside a list of invisible ones (Hangul fillers, the
    /// combining grapheme joiner, a braille blank) and whose title is "Zalgo" text.
    Invisible,
    /// Users whose fields begin with what a spreadsheet runs as a formula (`=`, `+`, `-`, `@`, a
    /// tab); reads of any user answer one of them, writes answer it deactivated.
    Formulas,
    /// Users read as a friendly server's (active); a PATCH of a user answers 200 with the user
    /// without `active` and changes nothing.
    PatchWithoutActive,
    /// `GET /Users/{id}` answers with another user (`W0OTHER0002`) whatever the id; so does a PATCH.
    OtherUser,
    /// Users read as a friendly server's; a PATCH of a user answers with another user.
    OtherUserOnPatch,
}

/// What `Mode::Invisible` hides in a name: Hangul fillers, the combining grapheme joiner, a
/// braille blank, a private-use character, a variation selector, a tag character.
pub const HIDDEN: &str = "\u{3164}\u{115f}\u{1160}\u{34f}\u{2800}\u{e000}\u{fe01}\u{e0041}\u{ffa0}";

/// "Zalgo" text: 40 combining marks on one character.
pub fn zalgo() -> String {
    format!("Z{}algo", "\u{301}\u{316}\u{35c}\u{34a}".repeat(10))
}

/// The users of `Mode::Formulas`.
pub fn formula_users() -> Vec<Value> {
    let mk = |id: &str, email: &str, display: &str, title: &str, dept: &str| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "id": id, "userName": email.split('@').next().unwrap(), "displayName": display, "title": title, "active": true,
            "name": {"givenName": "=1+1", "familyName": "-Doe"},
            "emails": [{"value": email, "primary": true}],
            "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": dept},
        })
    };
    vec![
        mk("W0FORM0001", "ann@formula.example", "=HYPERLINK(\"http://evil.example\",\"x\")", "+cmd|' /C calc'!A0", "@SUM(1+1)"),
        mk("W0FORM0002", "bob@formula.example", "\t=2+5", "'=already quoted", "-2+3"),
    ]
}

/// Text a terminal would act on: OSC 52 clipboard write, clear screen, window title, C1 CSI.
pub const EVIL: &str = "\u{1b}]52;c;cHduZWQ=\u{7}\u{1b}[2J\u{1b}]0;pwned-title\u{7}\u{9b}31m\u{1b}[?1049l";

/// True when `s` carries any raw escape or C1 control (what must never reach a terminal).
pub fn has_raw_escapes(s: &str) -> bool {
    s.chars().any(|c| c == '\u{1b}' || c == '\u{7}' || ('\u{80}'..='\u{9f}').contains(&c))
}

pub struct Hostile {
    /// The v2 base URL.
    pub url: String,
    pub requests: Arc<AtomicU64>,
    /// Requests that write (any method but GET).
    pub writes: Arc<AtomicU64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct St {
    mode: Mode,
    requests: Arc<AtomicU64>,
    /// `Shrinking`: users deleted so far, and first pages served.
    deleted: AtomicU64,
    firsts: AtomicU64,
    writes: Arc<AtomicU64>,
}

impl Hostile {
    pub fn start(mode: Mode) -> Hostile {
        let requests = Arc::new(AtomicU64::new(0));
        let writes = Arc::new(AtomicU64::new(0));
        let st = Arc::new(St {
            mode,
            requests: requests.clone(),
            writes: writes.clone(),
            deleted: AtomicU64::new(0),
            firsts: AtomicU64::new(0),
        });
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                url_tx.send(format!("http://{addr}/scim/v2/")).unwrap();
                let app = Router::new().fallback(handle).with_state(st);
                // Not a graceful shutdown: stalled requests would hold it open forever.
                tokio::select! {
                    r = axum::serve(listener, app).into_future() => r.unwrap(),
                    _ = stop_rx => {}
                }
            });
            // Connections still stalled are dropped with the runtime.
            rt.shutdown_timeout(Duration::from_millis(100));
        });
        let url = url_rx.recv().unwrap();
        Hostile { url, requests, writes, stop: Some(stop_tx), thread: Some(thread) }
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn user(id: &str, email: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": id, "userName": email.split('@').next().unwrap(), "displayName": "Pat Doe", "active": true,
        "emails": [{"value": email, "primary": true}],
    })
}

fn list(total: u64, start: u64, items: Vec<Value>) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total, "itemsPerPage": items.len(), "startIndex": start, "Resources": items,
    })
}

fn error(status: u16, detail: &str) -> Response {
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "detail": detail, "status": status});
    (StatusCode::from_u16(status).unwrap(), [("content-type", "application/json")], body.to_string()).into_response()
}

fn ok(v: Value) -> Response {
    ([("content-type", "application/json")], v.to_string()).into_response()
}

fn spc() -> Response {
    ok(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"], "patch": {"supported": true}}))
}

fn query(uri: &Uri, key: &str) -> Option<String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

async fn handle(State(st): State<Arc<St>>, method: Method, uri: Uri, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    st.requests.fetch_add(1, Ordering::Relaxed);
    let path = uri.path().trim_start_matches("/scim/v2/").trim_end_matches('/').to_string();
    let mut parts = path.splitn(2, '/');
    let resource = parts.next().unwrap_or("").to_string();
    let id = parts.next().map(str::to_string);
    let is_list = id.is_none() && method == Method::GET && (resource == "Users" || resource == "Groups");
    let start: u64 = query(&uri, "startIndex").and_then(|s| s.parse().ok()).unwrap_or(1);
    let filter = query(&uri, "filter");
    let write = method != Method::GET;
    if write {
        st.writes.fetch_add(1, Ordering::Relaxed);
    }
    let user_id = id.as_deref().filter(|_| resource == "Users");
    match &st.mode {
        Mode::RetryAfter(v) => throttled(v),
        Mode::RetryAfterWrites(v) if write => throttled(v),
        Mode::RetryAfterWrites(_) => friendly(&resource, id.as_deref(), start),
        Mode::HugeTotal if is_list => {
            let item = if resource == "Users" {
                user(&format!("W{start:012}"), &format!("u{start}@huge.example"))
            } else {
                json!({"id": format!("S{start:012}"), "displayName": format!("g{start}"), "members": []})
            };
            ok(list(1_000_000_000_000_000, start, vec![item]))
        }
        Mode::Repeating if is_list => ok(list(2, start, vec![user("W0REPEAT01", "a@rep.example"), user("W0REPEAT02", "b@rep.example")])),
        Mode::Endless if is_list => ok(list(
            2,
            start,
            vec![
                user(&format!("W{start:012}"), &format!("u{start}@endless.example")),
                user(&format!("W{:012}", start + 1), &format!("u{}@endless.example", start + 1)),
            ],
        )),
        Mode::HugeTotal | Mode::Repeating | Mode::Endless => friendly(&resource, id.as_deref(), start),
        Mode::Escapes => {
            if resource == "ServiceProviderConfigs" {
                return spc();
            }
            if resource == "Groups" && filter.is_some() {
                // A group found by name whose id and members carry escapes.
                let g = json!({"id": format!("S0EVIL{EVIL}"), "displayName": "evil", "members": [{"value": format!("W0M{EVIL}"), "display": format!("Mallory{EVIL}")}]});
                return ok(list(1, 1, vec![g]));
            }
            error(400, &format!("invalid_request{EVIL} the server says{EVIL}"))
        }
        Mode::HugeBody { status, bytes } => huge_body(*status, *bytes),
        Mode::Stall => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        Mode::TokenEcho => {
            let token = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").trim_start_matches("Bearer ").to_string();
            match (&method, id.as_deref()) {
                (&Method::GET, Some(i)) if i.starts_with("W0OK") && resource == "Users" => {
                    ok(user(i, &format!("{}@echo.example", i.to_lowercase())))
                }
                _ => {
                    // A create's password comes back too, and the whole request body.
                    let sent = String::from_utf8_lossy(&body).into_owned();
                    let pw = serde_json::from_slice::<Value>(&body)
                        .ok()
                        .and_then(|v| v["password"].as_str().map(str::to_string))
                        .unwrap_or_default();
                    error(
                        400,
                        &format!(
                            "invalid_request (token={token} was given; header Authorization: Bearer {token}; password {pw}; body {sent})"
                        ),
                    )
                }
            }
        }
        Mode::Bidi => {
            let u = json!({
                "id": "W0BIDI0001", "userName": "pat\u{200b}doe",
                "displayName": "Pat\u{202e}evil\u{85}\u{9b}2J\u{2028}Doe\u{feff}\u{61c}",
                "title": "CEO\u{2029}\u{200b}", "active": true,
                "emails": [{"value": "pat@bidi.example", "primary": true}],
            });
            if is_list {
                ok(list(1, start, if start == 1 { vec![u] } else { vec![] }))
            } else if resource == "ServiceProviderConfigs" {
                spc()
            } else {
                ok(u)
            }
        }
        Mode::Malformed => {
            let u = json!({"id": "W0BAD00001", "userName": 42, "emails": "nope", "active": "yes"});
            if is_list {
                ok(list(1, start, if start == 1 { vec![u] } else { vec![] }))
            } else if resource == "ServiceProviderConfigs" {
                spc()
            } else {
                ok(u)
            }
        }
        Mode::ServerError => error(503, "service_unavailable"),
        Mode::ListBody { status, body } if is_list && resource == "Users" && start == 1 => {
            (StatusCode::from_u16(*status).unwrap(), [("content-type", "application/json")], body.clone()).into_response()
        }
        Mode::ListBody { .. } if is_list && resource == "Users" => ok(list(0, start, vec![])),
        Mode::ListBody { .. } => friendly(&resource, id.as_deref(), start),
        Mode::Friendly => friendly(&resource, id.as_deref(), start),
        Mode::Redirect { writes_only: true, .. } if !write => friendly(&resource, id.as_deref(), start),
        Mode::Redirect { status, to, .. } => {
            let rest = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").trim_start_matches("/scim/v2/");
            let mut r = (StatusCode::from_u16(*status).unwrap(), "moved").into_response();
            r.headers_mut().insert("location", HeaderValue::from_str(&format!("{to}{rest}")).unwrap());
            r
        }
        Mode::TokenEchoEscaped => {
            let token = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").trim_start_matches("Bearer ").to_string();
            if resource == "ServiceProviderConfigs" || resource == "ServiceProviderConfig" {
                return spc();
            }
            match (&method, id.as_deref()) {
                (&Method::GET, Some(i)) if i.starts_with("W0OK") && resource == "Users" => {
                    ok(user(i, &format!("{}@echo.example", i.to_lowercase())))
                }
                _ => {
                    let every: String = token.encode_utf16().map(|u| format!("\\u{u:04x}")).collect();
                    let slashed = token.replace('/', "\\/");
                    // Written by hand: serde_json would never escape this way.
                    let body = format!(
                        r#"{{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","detail":"invalid_request (token {every} was given; also {slashed}; and {every}{every})"}}"#
                    );
                    (StatusCode::BAD_REQUEST, [("content-type", "application/json")], body).into_response()
                }
            }
        }
        Mode::Shrinking { users, delete, times } if is_list && resource == "Users" => {
            let count: u64 = query(&uri, "count").and_then(|s| s.parse().ok()).unwrap_or(100).clamp(1, 1000);
            let gone = st.deleted.load(Ordering::SeqCst);
            let live = users - gone;
            // Live users are those after the first `gone`, in order.
            let items: Vec<Value> = (start..start + count)
                .take_while(|i| *i <= live)
                .map(|i| {
                    let n = i + gone;
                    user(&format!("W0SHRINK{n:05}"), &format!("u{n}@shrink.example"))
                })
                .collect();
            let page = ok(list(live, start, items));
            if start == 1 && st.firsts.fetch_add(1, Ordering::SeqCst) < *times {
                st.deleted.store((gone + delete).min(*users), Ordering::SeqCst);
            }
            page
        }
        Mode::Shrinking { .. } => friendly(&resource, id.as_deref(), start),
        Mode::Invisible => {
            let u = json!({
                "id": "W0INVIS001", "userName": "pat.doe",
                "displayName": format!("Pat{HIDDEN}Doe"),
                "title": zalgo(), "active": true,
                "emails": [{"value": "pat@invisible.example", "primary": true}],
            });
            if is_list {
                ok(list(1, start, if start == 1 { vec![u] } else { vec![] }))
            } else if resource == "ServiceProviderConfigs" {
                spc()
            } else {
                ok(u)
            }
        }
        Mode::Formulas => {
            let users = formula_users();
            match (resource.as_str(), id.as_deref()) {
                ("Users", None) if method == Method::GET => ok(list(2, start, if start == 1 { users } else { vec![] })),
                ("Users", Some(i)) => {
                    let mut u = users.iter().find(|u| u["id"] == i).cloned().unwrap_or_else(|| users[0].clone());
                    if write {
                        u["active"] = json!(false);
                    }
                    ok(u)
                }
                _ => friendly(&resource, id.as_deref(), start),
            }
        }
        Mode::PatchWithoutActive if method == Method::PATCH && user_id.is_some() => {
            let mut u = user(user_id.unwrap(), &format!("{}@ok.example", user_id.unwrap().to_lowercase()));
            u.as_object_mut().unwrap().remove("active");
            ok(u)
        }
        Mode::OtherUser if user_id.is_some() => ok(user("W0OTHER0002", "other@ok.example")),
        Mode::OtherUserOnPatch if method == Method::PATCH && user_id.is_some() => ok(user("W0OTHER0002", "other@ok.example")),
        Mode::PatchWithoutActive | Mode::OtherUser | Mode::OtherUserOnPatch => friendly(&resource, id.as_deref(), start),
    }
}

fn throttled(v: &str) -> Response {
    let mut r = error(429, "too_many_requests");
    r.headers_mut().insert("retry-after", HeaderValue::from_str(v).unwrap());
    r
}

/// What a well-behaved server answers outside the misbehaving endpoints.
fn friendly(resource: &str, id: Option<&str>, start: u64) -> Response {
    match (resource, id) {
        ("ServiceProviderConfigs", _) => spc(),
        ("Users", Some(i)) => ok(user(i, &format!("{}@ok.example", i.to_lowercase()))),
        ("Users", None) => ok(list(1, start, if start == 1 { vec![user("W0FRIEND01", "f@ok.example")] } else { vec![] })),
        ("Groups", None) => ok(list(0, start, vec![])),
        _ => error(404, "no_such_group"),
    }
}

fn huge_body(status: u16, bytes: u64) -> Response {
    const CHUNK: usize = 64 * 1024;
    let head = br#"{"detail":"server_error ""#.to_vec();
    let chunks = bytes.div_ceil(CHUNK as u64);
    let stream = futures::stream::iter((0..chunks).map(move |i| {
        let mut c = vec![b'x'; CHUNK];
        if i == 0 {
            c[..head.len()].copy_from_slice(&head);
        }
        Ok::<_, std::io::Error>(axum::body::Bytes::from(c))
    }));
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap()
}

/// What a run of the binary did.
pub struct Run {
    pub out: Output,
    /// Peak resident memory seen while it ran (VmHWM), in MiB.
    pub peak_mib: u64,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.out.status.code()
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
}

/// Memory above which a run is stopped and the test fails (the machine is shared).
pub const MEMORY_CEILING_MIB: u64 = 1500;
/// Time after which a run is stopped and the test fails (a hang, not a timing assertion).
pub const HANG_LIMIT: Duration = Duration::from_secs(90);

/// Run `scimitar ARGS` against `url` with `token`, in a fresh config and data dir (`dir`).
/// Stops it, and panics, when it uses more than [`MEMORY_CEILING_MIB`] or runs past
/// [`HANG_LIMIT`].
pub fn scimitar_in(dir: &std::path::Path, url: &str, token: &str, args: &[&str]) -> Run {
    scimitar_in_env(dir, url, token, args, &[])
}

/// As [`scimitar_in`], with these environment variables set too.
pub fn scimitar_in_env(dir: &std::path::Path, url: &str, token: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    // SCIMITAR_TEST_BIN runs the suite against another build (e.g. an older release).
    let bin = std::env::var("SCIMITAR_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_scimitar").to_string());
    let mut child = Command::new(bin)
        .args(args)
        .envs(env.iter().copied())
        .env("SCIMITAR_URL", url)
        .env("SLACK_SCIM_TOKEN", token)
        .env("SCIMITAR_CONFIG_DIR", dir)
        .env("SCIMITAR_DATA_DIR", dir)
        .env_remove("SCIMITAR_PROFILE")
        .env_remove("SCIMITAR_API")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Drain the pipes on threads so a chatty child never blocks.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut so, &mut v).unwrap();
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut se, &mut v).unwrap();
        v
    });
    let started = Instant::now();
    let mut peak = 0;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if let Some(hwm) = vm_hwm_mib(pid) {
            peak = peak.max(hwm);
        }
        if peak > MEMORY_CEILING_MIB {
            let _ = child.kill();
            let _ = child.wait();
            panic!("scimitar {args:?} used more than {MEMORY_CEILING_MIB} MiB ({peak} MiB): stopped");
        }
        if started.elapsed() > HANG_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            let err = String::from_utf8_lossy(&t_err.join().unwrap()).into_owned();
            panic!("scimitar {args:?} did not finish within {HANG_LIMIT:?}: stopped; stderr: {}", &err[..err.len().min(2000)]);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = Output { status, stdout: t_out.join().unwrap(), stderr: t_err.join().unwrap() };
    Run { out, peak_mib: peak }
}

/// As [`scimitar_in`], in a fresh temp dir.
pub fn scimitar(url: &str, token: &str, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    scimitar_in(dir.path(), url, token, args)
}

fn vm_hwm_mib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}
