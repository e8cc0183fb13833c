//! HTTP side of the emulator: one catch-all handler that does what Slack's front door does, in
//! Slack's order: auth, rate limit, injected faults, per-object write lock, latency, then the work.

use super::Shared;
use super::store::{Fail, Store};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::Response;
use rand::Rng;
use scim::ApiVersion;
use scim::filter::Filter;
use scim::ratelimit::Endpoint;
use scim::types::urn;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(dispatch).with_state(shared)
}

const JSON: &str = "application/json; charset=utf-8";

fn respond(status: u16, body: String) -> Response {
    Response::builder().status(status).header(header::CONTENT_TYPE, JSON).body(Body::from(body)).expect("valid response")
}

fn empty(status: u16) -> Response {
    Response::builder().status(status).body(Body::empty()).expect("valid response")
}

fn json_resp(status: u16, v: &Value) -> Response {
    respond(status, v.to_string())
}

/// Slack's error body for `version` (reference §7).
fn error(version: ApiVersion, f: &Fail) -> Response {
    let body = match version {
        ApiVersion::V1 => json!({"Errors": {"description": f.v1, "code": f.status}}),
        ApiVersion::V2 => json!({"schemas": [urn::V2_ERROR], "detail": f.code, "status": f.status}),
    };
    json_resp(f.status, &body)
}

fn too_many(version: ApiVersion, code: &str, wait: Duration) -> Response {
    let secs = (wait.as_secs_f64().ceil() as u64).max(1);
    let mut r = error(version, &Fail::new(429, code));
    r.headers_mut().insert(header::RETRY_AFTER, secs.into());
    r
}

/// Decrements the per-object in-flight count when the request ends.
struct Inflight {
    shared: Arc<Shared>,
    id: String,
}

impl Drop for Inflight {
    fn drop(&mut self) {
        let mut m = self.shared.inflight.lock().unwrap();
        if let Some(n) = m.get_mut(&self.id) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.id);
            }
        }
    }
}

/// Holds Slack's one-write-per-object lock.
struct ObjectLock {
    shared: Arc<Shared>,
    id: String,
}

impl Drop for ObjectLock {
    fn drop(&mut self) {
        self.shared.locked.lock().unwrap().remove(&self.id);
    }
}

async fn dispatch(State(sh): State<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    *sh.stats.lock().unwrap().s.by_method.entry(method.as_str().to_string()).or_default() += 1;
    let path = uri.path();
    let Some((version, rest)) = split_version(path) else {
        return error(ApiVersion::V1, &Fail::new(404, "bad_endpoint").ctx(path));
    };
    let endpoint = Endpoint::classify(method.as_str(), &rest);
    let at = sh.start.elapsed().as_secs_f64();
    {
        let mut st = sh.stats.lock().unwrap();
        st.s.requests += 1;
        *st.s.by_endpoint.entry(endpoint).or_default() += 1;
    }
    let (resp, reset) = handle(&sh, version, &method, &rest, uri.query(), &headers, &body, endpoint).await;
    let status = resp.status().as_u16();
    {
        let mut st = sh.stats.lock().unwrap();
        if reset {
            st.s.injected_resets += 1;
        }
        if st.log.len() >= super::LOG_CAP {
            st.log.pop_front();
        }
        st.log.push_back((at, endpoint, if reset { 0 } else { status }));
    }
    if reset {
        // The work is done; now drop the connection without an answer, like a proxy reset.
        // `resume_unwind` skips the panic hook, so nothing is printed; hyper's connection task
        // ends and the socket closes.
        drop(resp);
        std::panic::resume_unwind(Box::new("scimitar emulator: injected connection reset"));
    }
    resp
}

fn split_version(path: &str) -> Option<(ApiVersion, String)> {
    let rest = path.strip_prefix("/scim/")?;
    let (v, rest) = rest.split_once('/').unwrap_or((rest, ""));
    let version = match v {
        "v1" => ApiVersion::V1,
        "v2" => ApiVersion::V2,
        _ => return None,
    };
    Some((version, rest.trim_matches('/').to_string()))
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    sh: &Arc<Shared>,
    version: ApiVersion,
    method: &Method,
    rest: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
    endpoint: Endpoint,
) -> (Response, bool) {
    let (latency, f503, reset, slow, f429, incident, delete_noop, member_wipe) = {
        let mut rt = sh.runtime.lock().unwrap();
        // Always roll every die so a run's fault sequence depends only on the seed.
        let (a, b, c, d, e): (f64, f64, f64, f64, f64) =
            (rt.rng.random(), rt.rng.random(), rt.rng.random(), rt.rng.random(), rt.rng.random());
        let f = rt.faults.clone();
        let f429 = (d < f.p429).then_some(f.retry_after);
        // Rolled only when asked for, so the sequences of the older faults stay as they were.
        let delete_noop = f.delete_noop > 0.0 && rt.rng.random::<f64>() < f.delete_noop;
        let member_wipe = f.member_wipe > 0.0 && rt.rng.random::<f64>() < f.member_wipe;
        let slow = if c < f.slow { f.slow_delay } else { Duration::ZERO };
        (rt.latency, a < f.p503, b < f.reset, slow, f429, e < f.incident, delete_noop, member_wipe)
    };

    let first = rest.split('/').next().unwrap_or("");
    let is_spc = first.eq_ignore_ascii_case("ServiceProviderConfigs")
        || (version == ApiVersion::V2 && first.eq_ignore_ascii_case("ServiceProviderConfig"));
    if !is_spc {
        let auth = headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok());
        let token = auth.and_then(|a| a.strip_prefix("Bearer ").or_else(|| a.strip_prefix("bearer ")));
        let refusal = match (auth, token) {
            (None, _) => Some(error(version, &Fail::new(401, "missing_authentication"))),
            (_, Some(t)) if t.trim() == sh.token => None,
            // Real Slack answers a bad token on v2 with a v1-shaped 400 (reference §7).
            _ => Some(match version {
                ApiVersion::V1 => error(version, &Fail::new(401, "invalid_authentication")),
                ApiVersion::V2 => error(ApiVersion::V1, &Fail::new(400, "unsupported_version")),
            }),
        };
        if let Some(r) = refusal {
            tokio::time::sleep(latency).await;
            return (r, false);
        }
        let limited = {
            let mut rt = sh.runtime.lock().unwrap();
            rt.budget.as_mut().and_then(|b| b.try_acquire(endpoint, Instant::now()).err())
        };
        if let Some(wait) = limited {
            sh.stats.lock().unwrap().s.rate_limited += 1;
            tokio::time::sleep(latency).await;
            return (too_many(version, "too_many_requests", wait), false);
        }
        if let Some(wait) = f429 {
            sh.stats.lock().unwrap().s.injected_429 += 1;
            tokio::time::sleep(latency).await;
            return (too_many(version, "too_many_requests", wait), false);
        }
    }
    if f503 {
        sh.stats.lock().unwrap().s.injected_503 += 1;
        tokio::time::sleep(latency).await;
        return (error(version, &Fail::new(503, "service_unavailable")), false);
    }

    // One write at a time per object (reference §6): a second one gets 429 resource_locked.
    let object = endpoint.is_write().then(|| rest.split_once('/').map(|(_, id)| id.to_string())).flatten();
    let mut guards = None;
    if let Some(id) = object {
        let count = {
            let mut m = sh.inflight.lock().unwrap();
            let n = m.entry(id.clone()).or_insert(0);
            *n += 1;
            *n
        };
        let inflight = Inflight { shared: sh.clone(), id: id.clone() };
        {
            let mut st = sh.stats.lock().unwrap();
            st.s.max_concurrent_writes_per_object = st.s.max_concurrent_writes_per_object.max(count);
        }
        let got = sh.locked.lock().unwrap().insert(id.clone());
        if !got {
            sh.stats.lock().unwrap().s.lock_conflicts += 1;
            tokio::time::sleep(latency).await;
            drop(inflight);
            return (too_many(version, "resource_locked", Duration::from_secs(1)), false);
        }
        guards = Some((inflight, ObjectLock { shared: sh.clone(), id }));
    }
    let delay = latency + slow;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let resp = process(sh, version, method, rest, query, body, Injected { incident, delete_noop, member_wipe });
    drop(guards);
    (resp, reset)
}

/// An id from a URL path, its `%XX` escapes decoded (clients percent-encode opaque ids).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `startIndex` (1-based, <1 = 1) and `count` (default 10, capped at 1000, 0 = totals only).
fn paging(params: &[(String, String)]) -> (usize, usize) {
    let get = |k: &str| params.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.trim());
    let start = get("startIndex").and_then(|v| v.parse::<i64>().ok()).unwrap_or(1).max(1) as usize;
    let count = get("count").and_then(|v| v.parse::<i64>().ok()).unwrap_or(10).clamp(0, 1000) as usize;
    (start, count)
}

fn list_body(version: ApiVersion, total: usize, start: usize, rows: &[String]) -> String {
    let schema = match version {
        ApiVersion::V1 => urn::V1_CORE,
        ApiVersion::V2 => urn::V2_LIST,
    };
    let size: usize = rows.iter().map(String::len).sum::<usize>() + rows.len() + 160;
    let mut s = String::with_capacity(size);
    s.push_str(&format!(
        "{{\"schemas\":[\"{schema}\"],\"totalResults\":{total},\"itemsPerPage\":{},\"startIndex\":{start},\"Resources\":[",
        rows.len()
    ));
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(r);
    }
    s.push_str("]}");
    s
}

fn parse_filter(version: ApiVersion, params: &[(String, String)]) -> Result<Option<Filter>, Fail> {
    let Some((_, text)) = params.iter().find(|(k, _)| k.eq_ignore_ascii_case("filter")) else {
        return Ok(None);
    };
    let f = Filter::parse(text).map_err(|e| {
        let f = Fail::new(400, e.code);
        // The one real example: `filter=foo` -> `no_filters (is_aggregate_call=1)` (reference §4).
        if e.code == "no_filters" && version == ApiVersion::V1 { f.ctx("is_aggregate_call=1") } else { f }
    })?;
    // RFC 7644 allows more than Slack documents (`ne`, `ew`, `not`, value paths: reference §4);
    // Slack's answer to those is taken to be its generic filter error.
    if let Some(what) = f.slack_unsupported() {
        return Err(Fail::new(400, "invalid_query").ctx(format!("unsupported: {what}")));
    }
    Ok(Some(f))
}

fn body_json(body: &Bytes) -> Result<Value, Fail> {
    serde_json::from_slice::<Value>(body).ok().filter(Value::is_object).ok_or_else(|| Fail::new(400, "invalid_request_payload"))
}

/// Faults that change what a request does (rather than whether it is answered).
#[derive(Clone, Copy)]
struct Injected {
    incident: bool,
    delete_noop: bool,
    /// A member-remove PATCH empties the group (and is answered as usual).
    member_wipe: bool,
}

fn process(
    sh: &Arc<Shared>,
    version: ApiVersion,
    method: &Method,
    rest: &str,
    query: Option<&str>,
    body: &Bytes,
    injected: Injected,
) -> Response {
    match route(sh, version, method, rest, query, body, injected) {
        Ok(r) => r,
        Err(f) => error(version, &f),
    }
}

fn user_resp(store: &Store, ix: usize, version: ApiVersion, status: u16) -> Response {
    respond(status, store.user_json(ix, version).to_string())
}

#[allow(clippy::too_many_arguments)]
fn route(
    sh: &Arc<Shared>,
    version: ApiVersion,
    method: &Method,
    rest: &str,
    query: Option<&str>,
    body: &Bytes,
    injected: Injected,
) -> Result<Response, Fail> {
    let Injected { incident, delete_noop, member_wipe } = injected;
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect();
    let (res, id) = match rest.split_once('/') {
        Some((r, id)) => (r.to_ascii_lowercase(), Some(percent_decode(id))),
        None => (rest.to_ascii_lowercase(), None),
    };
    let id = id.as_deref();
    let v2 = version == ApiVersion::V2;
    // Photos sent earlier show once their time has come (`Store::defer_photo`).
    let now = Instant::now();
    if res == "users" && sh.store.read().unwrap().photos_due(now) {
        sh.store.write().unwrap().settle_photos(now);
    }
    let not_allowed = || Fail::new(405, "method_not_allowed");
    match (res.as_str(), id) {
        ("users", None) => match *method {
            Method::GET => {
                let filter = parse_filter(version, &params)?;
                let (start, count) = paging(&params);
                let store = sh.store.read().unwrap();
                let page = store.list_users(filter.as_ref(), start, count, version)?;
                Ok(respond(200, list_body(version, page.total, page.start, &page.rows)))
            }
            Method::POST => {
                let b = body_json(body)?;
                let mut store = sh.store.write().unwrap();
                let ix = store.create_user(&b, version)?;
                Ok(user_resp(&store, ix, version, 201))
            }
            _ => Err(not_allowed()),
        },
        ("users", Some(id)) => {
            if *method == Method::GET {
                let store = sh.store.read().unwrap();
                let ix = store.user_ix(id)?;
                return Ok(user_resp(&store, ix, version, 200));
            }
            let mut store = sh.store.write().unwrap();
            match *method {
                Method::PATCH => {
                    let body = body_json(body)?;
                    let ix = store.patch_user(id, &body, version)?;
                    if incident && !body.to_string().contains("\"active\"") {
                        store.incident_deactivate(ix);
                    }
                    Ok(user_resp(&store, ix, version, 200))
                }
                Method::PUT => {
                    let ix = store.put_user(id, &body_json(body)?, version)?;
                    Ok(user_resp(&store, ix, version, 200))
                }
                Method::DELETE => {
                    if delete_noop {
                        // Answer as Slack does, and do nothing (the user exists: else 404).
                        store.user_ix(id)?;
                    } else {
                        store.delete_user(id)?;
                    }
                    Ok(empty(if v2 { 204 } else { 200 }))
                }
                _ => Err(not_allowed()),
            }
        }
        ("groups", None) => match *method {
            Method::GET => {
                let filter = parse_filter(version, &params)?;
                let (start, count) = paging(&params);
                let store = sh.store.read().unwrap();
                let (total, rows) = store.list_groups(filter.as_ref(), start, count, version)?;
                let rows: Vec<String> = rows.iter().map(Value::to_string).collect();
                Ok(respond(200, list_body(version, total, start, &rows)))
            }
            Method::POST => {
                let b = body_json(body)?;
                let mut store = sh.store.write().unwrap();
                let gi = store.create_group(&b)?;
                Ok(json_resp(201, &store.group_json(gi, version)))
            }
            _ => Err(not_allowed()),
        },
        ("groups", Some(id)) => {
            if *method == Method::GET {
                let store = sh.store.read().unwrap();
                let gi = store.get_group(id)?;
                return Ok(json_resp(200, &store.group_json(gi, version)));
            }
            let mut store = sh.store.write().unwrap();
            match *method {
                Method::PATCH => {
                    let b = body_json(body)?;
                    let gi = store.patch_group(id, &b, version)?;
                    if member_wipe && removes_members(&b) {
                        store.wipe_members(gi);
                    }
                    // v1 answers 204 without a body (PY-IT); v2 answers the group.
                    Ok(if v2 { json_resp(200, &store.group_json(gi, version)) } else { empty(204) })
                }
                Method::PUT => {
                    let gi = store.put_group(id, &body_json(body)?)?;
                    Ok(json_resp(200, &store.group_json(gi, version)))
                }
                Method::DELETE => {
                    store.delete_group(id)?;
                    Ok(empty(204))
                }
                _ => Err(not_allowed()),
            }
        }
        ("serviceproviderconfigs", None) | ("serviceproviderconfig", None) if *method == Method::GET => {
            Ok(json_resp(200, &service_provider_config(version)))
        }
        ("resourcetypes", None) if v2 && *method == Method::GET => Ok(json_resp(200, &resource_types())),
        ("schemas", which) if *method == Method::GET => match which.map(str::to_ascii_lowercase).as_deref() {
            None => Ok(json_resp(
                200,
                &json!({"schemas": [if v2 { urn::V2_LIST } else { urn::V1_CORE }], "totalResults": 2, "itemsPerPage": 2, "startIndex": 1,
                "Resources": [user_schema(version), group_schema(version)]}),
            )),
            Some("users") | Some("user") => Ok(json_resp(200, &user_schema(version))),
            Some("groups") | Some("group") => Ok(json_resp(200, &group_schema(version))),
            Some(s) if s.eq_ignore_ascii_case(urn::V2_USER) => Ok(json_resp(200, &user_schema(version))),
            Some(s) if s.eq_ignore_ascii_case(urn::V2_GROUP) => Ok(json_resp(200, &group_schema(version))),
            Some(_) => Err(Fail::new(404, "bad_endpoint")),
        },
        _ => Err(Fail::new(404, "bad_endpoint").ctx(rest)),
    }
}

/// Whether a group PATCH body removes members (v2: a `remove` on `members…`; v1: a member with
/// `operation: delete`): what the `memberwipe` fault turns into emptying the group.
fn removes_members(b: &Value) -> bool {
    let v2 = b.get("Operations").and_then(Value::as_array).is_some_and(|ops| {
        ops.iter().any(|o| {
            o.get("op").and_then(Value::as_str).is_some_and(|op| op.eq_ignore_ascii_case("remove"))
                && o.get("path").and_then(Value::as_str).is_some_and(|p| p.trim().to_ascii_lowercase().starts_with("members"))
        })
    });
    let v1 = b
        .get("members")
        .and_then(Value::as_array)
        .is_some_and(|ms| ms.iter().any(|m| m.get("operation").and_then(Value::as_str) == Some("delete")));
    v2 || v1
}

/// Slack's provider config. Like the real one it under-reports: `filter.supported` is false
/// although filtering works (reference §8.8).
fn service_provider_config(version: ApiVersion) -> Value {
    let schema = match version {
        ApiVersion::V1 => urn::V1_CORE,
        ApiVersion::V2 => "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
    };
    json!({
        "schemas": [schema],
        "documentationUri": "https://docs.slack.dev/reference/scim-api",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": false, "maxResults": 1000},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "xmlDataFormat": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken", "name": "OAuth Bearer Token",
            "description": "Authentication scheme using the OAuth Bearer Token Standard",
            "specUri": "http://www.rfc-editor.org/info/rfc6750",
            "documentationUri": "https://docs.slack.dev/reference/scim-api", "primary": true
        }]
    })
}

fn resource_types() -> Value {
    json!({
        "schemas": [urn::V2_LIST], "totalResults": 2, "itemsPerPage": 2, "startIndex": 1,
        "Resources": [
            {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "User", "name": "User",
             "endpoint": "/Users", "schema": urn::V2_USER,
             "schemaExtensions": [
                {"schema": urn::V2_ENTERPRISE, "required": false},
                {"schema": urn::V2_GUEST, "required": false},
                {"schema": urn::V2_PROFILE, "required": false}]},
            {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "Group", "name": "Group",
             "endpoint": "/Groups", "schema": urn::V2_GROUP}
        ]
    })
}

fn attr(name: &str, kind: &str, required: bool) -> Value {
    json!({"name": name, "type": kind, "multiValued": false, "required": required, "caseExact": false})
}

fn user_schema(version: ApiVersion) -> Value {
    json!({
        "id": version.user_schema(), "name": "User", "description": "Slack user",
        "attributes": [
            attr("userName", "string", true), attr("nickName", "string", false), attr("displayName", "string", false),
            attr("name", "complex", false), attr("title", "string", false), attr("timezone", "string", false),
            attr("locale", "string", false), attr("userType", "string", false), attr("preferredLanguage", "string", false),
            attr("active", "boolean", false), attr("profileUrl", "reference", false),
            {"name": "emails", "type": "complex", "multiValued": true, "required": true},
            {"name": "phoneNumbers", "type": "complex", "multiValued": true, "required": false},
            {"name": "photos", "type": "complex", "multiValued": true, "required": false},
            {"name": "addresses", "type": "complex", "multiValued": true, "required": false},
            {"name": "roles", "type": "complex", "multiValued": true, "required": false},
            {"name": "groups", "type": "complex", "multiValued": true, "required": false, "mutability": "readOnly"}
        ]
    })
}

fn group_schema(version: ApiVersion) -> Value {
    json!({
        "id": version.group_schema(), "name": "Group", "description": "Slack group",
        "attributes": [
            attr("displayName", "string", true),
            {"name": "members", "type": "complex", "multiValued": true, "required": false}
        ]
    })
}
