//! The emulator over real HTTP on 127.0.0.1 (ephemeral ports), driven with plain reqwest.

use scimitar::emulator::{Emulator, EmulatorConfig, Faults, RateLimitMode};
use scimitar::scim::types::urn;
use scimitar::scim::{ApiVersion, User};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

const V1: ApiVersion = ApiVersion::V1;
const V2: ApiVersion = ApiVersion::V2;

struct T {
    emu: Emulator,
    http: reqwest::Client,
}

async fn start(users: usize) -> T {
    let cfg = EmulatorConfig { users, groups: 5, ..Default::default() };
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap();
    T { emu, http }
}

impl T {
    fn url(&self, v: ApiVersion, path: &str) -> String {
        format!("{}{}", self.emu.base_url(v), path)
    }
    async fn call(&self, method: &str, v: ApiVersion, path: &str, body: Option<Value>) -> (u16, Value, reqwest::header::HeaderMap) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self.http.request(m, self.url(v, path)).bearer_auth(self.emu.token());
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let v = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
        (status, v, headers)
    }
    async fn get(&self, v: ApiVersion, path: &str) -> (u16, Value) {
        let (s, b, _) = self.call("GET", v, path, None).await;
        (s, b)
    }
    /// First user matching a filter, as the shared type.
    async fn find(&self, filter: &str) -> Option<User> {
        let q = format!("Users?filter={}", urlencode(filter));
        let (s, b) = self.get(V2, &q).await;
        assert_eq!(s, 200, "{b}");
        b["Resources"].as_array().unwrap().first().map(|u| User::from_value(u.clone()).unwrap())
    }
    /// An ordinary active member (not owner, bot or guest).
    async fn plain_user(&self, skip: usize) -> User {
        let (_, b) = self.get(V2, "Users?count=200").await;
        let owner = self.emu.primary_owner_id();
        let bots = self.emu.bot_ids();
        b["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| User::from_value(u.clone()).unwrap())
            .filter(|u| u.is_active() && !u.is_guest() && u.id() != owner && !bots.iter().any(|b| b == u.id()))
            .nth(skip)
            .unwrap()
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn v2_code(b: &Value) -> &str {
    assert_eq!(b["schemas"][0], urn::V2_ERROR, "{b}");
    b["detail"].as_str().unwrap()
}

fn v1_desc(b: &Value) -> &str {
    b["Errors"]["description"].as_str().unwrap_or_else(|| panic!("not a v1 error: {b}"))
}

#[tokio::test]
async fn auth_cases() {
    let t = start(20).await;
    // missing header
    let r = t.http.get(t.url(V1, "Users")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let b: Value = r.json().await.unwrap();
    assert_eq!(v1_desc(&b), "missing_authentication");
    assert_eq!(b["Errors"]["code"], 401);
    let r = t.http.get(t.url(V2, "Users")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(v2_code(&r.json().await.unwrap()), "missing_authentication");
    // wrong token: v1 401 invalid_authentication, v2 400 with a v1-shaped body
    let r = t.http.get(t.url(V1, "Users")).bearer_auth("xoxp-wrong").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(v1_desc(&r.json().await.unwrap()), "invalid_authentication");
    let r = t.http.get(t.url(V2, "Users")).bearer_auth("xoxp-wrong").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(v1_desc(&b), "unsupported_version");
    assert_eq!(b["Errors"]["code"], 400);
    // ServiceProviderConfig(s) answers a bad token
    for (v, p) in [(V1, "ServiceProviderConfigs"), (V2, "ServiceProviderConfigs"), (V2, "ServiceProviderConfig")] {
        let r = t.http.get(t.url(v, p)).bearer_auth("dummy").send().await.unwrap();
        assert_eq!(r.status(), 200, "{p}");
        let b: Value = r.json().await.unwrap();
        assert!(b["authenticationSchemes"].is_array());
    }
    // good token works; ResourceTypes is v2-only
    assert_eq!(t.get(V2, "ResourceTypes").await.0, 200);
    assert_eq!(t.get(V1, "ResourceTypes").await.0, 404);
    assert_eq!(t.get(V1, "Schemas/Users").await.0, 200);
    t.emu.shutdown().await;
}

#[tokio::test]
async fn pagination_totals_and_gaps() {
    let t = start(2500).await;
    assert_eq!(t.emu.user_count(), 2500);
    let mut seen = HashSet::new();
    let mut start = 1;
    loop {
        let (s, b) = t.get(V2, &format!("Users?startIndex={start}&count=1000")).await;
        assert_eq!(s, 200);
        assert_eq!(b["schemas"][0], urn::V2_LIST);
        assert_eq!(b["totalResults"], 2500);
        assert_eq!(b["startIndex"], start);
        let rows = b["Resources"].as_array().unwrap();
        assert_eq!(b["itemsPerPage"], rows.len());
        if rows.is_empty() {
            break;
        }
        for r in rows {
            assert!(seen.insert(r["id"].as_str().unwrap().to_string()), "duplicate {}", r["id"]);
        }
        start += rows.len();
    }
    assert_eq!(seen.len(), 2500);
    // count over 1000 is capped; default 10; count=0 gives totals only; startIndex<1 is 1
    let (_, b) = t.get(V2, "Users?count=5000").await;
    assert_eq!(b["itemsPerPage"], 1000);
    let (_, b) = t.get(V2, "Users").await;
    assert_eq!(b["itemsPerPage"], 10);
    let (_, b) = t.get(V2, "Users?count=0").await;
    assert_eq!((b["totalResults"].as_u64(), b["Resources"].as_array().unwrap().len()), (Some(2500), 0));
    let (_, b0) = t.get(V2, "Users?startIndex=0&count=1").await;
    let (_, b1) = t.get(V2, "Users?startIndex=1&count=1").await;
    assert_eq!(b0["Resources"][0]["id"], b1["Resources"][0]["id"]);
    assert_eq!(b0["startIndex"], 1);
    let (_, b) = t.get(V2, "Users?startIndex=2496&count=10").await;
    assert_eq!(b["itemsPerPage"], 5);
    // v1 list shape
    let (_, b) = t.get(V1, "Users?count=2").await;
    assert_eq!(b["schemas"][0], urn::V1_CORE);
    assert_eq!(b["Resources"][0]["schemas"][0], urn::V1_CORE);
    t.emu.shutdown().await;
}

#[tokio::test]
async fn filters() {
    let t = start(300).await;
    let u = t.plain_user(3).await;
    let name = u.user_name.clone().unwrap();
    let email = u.primary_email().unwrap().to_string();
    let hit = t.find(&format!("userName eq \"{}\"", name.to_uppercase())).await.unwrap();
    assert_eq!(hit.id(), u.id());
    assert_eq!(t.find(&format!("email eq \"{email}\"")).await.unwrap().id(), u.id());
    assert_eq!(t.find(&format!("emails.value eq \"{}\"", email.to_uppercase())).await.unwrap().id(), u.id());
    // hostile value: one literal, matches nothing
    let (s, b) = t.get(V2, &format!("Users?filter={}", urlencode(r#"email eq "\" or userName pr \"""#))).await;
    assert_eq!(s, 200);
    assert_eq!(b["totalResults"], 0);
    // or / and / parentheses
    let other = t.plain_user(4).await;
    let f = format!("(userName eq \"{name}\" or userName eq \"{}\") and active eq true", other.user_name.clone().unwrap());
    let (_, b) = t.get(V2, &format!("Users?filter={}", urlencode(&f))).await;
    assert_eq!(b["totalResults"], 2);
    // deactivated users are listed and filterable
    let (_, b) = t.get(V2, &format!("Users?filter={}&count=0", urlencode("active eq false"))).await;
    assert!(b["totalResults"].as_u64().unwrap() > 0);
    let (_, b) = t.get(V1, &format!("Users?filter={}&count=0", urlencode("restricted eq \"1\""))).await;
    assert!(b["totalResults"].as_u64().unwrap() > 0);
    // errors
    let (s, b) = t.get(V1, "Users?filter=foo").await;
    assert_eq!(s, 400);
    assert_eq!(v1_desc(&b), "no_filters (is_aggregate_call=1)");
    let (s, b) = t.get(V2, &format!("Users?filter={}", urlencode("shoeSize eq \"9\""))).await;
    assert_eq!(s, 400);
    assert_eq!(v2_code(&b), "invalid_query");
    let (s, b) = t.get(V2, &format!("Users?filter={}", urlencode("userName  eq \"x\""))).await;
    assert_eq!((s, v2_code(&b)), (400, "incomplete_filter"));
    // groups by displayName
    let (_, b) = t.get(V2, &format!("Groups?filter={}", urlencode("displayName eq \"ENG-ONCALL\""))).await;
    assert_eq!(b["totalResults"], 1);
    assert_eq!(b["Resources"][0]["displayName"], "eng-oncall");
    t.emu.shutdown().await;
}

#[tokio::test]
async fn create_and_uniqueness() {
    let t = start(50).await;
    // A manager must be a Slack user (reference §3; the emulator refuses one that names nobody).
    let boss = t.plain_user(3).await;
    let boss = boss.id().to_string();
    let body = |un: &str, em: &str| {
        json!({"schemas":[urn::V2_USER, urn::V2_ENTERPRISE],"userName":un,
        "name":{"givenName":"Jane","familyName":"Doe"},"emails":[{"value":em,"type":"work","primary":true}],
        urn::V2_ENTERPRISE:{"department":"R&D","manager":{"managerId":boss.as_str()}}})
    };
    let (s, b, _) = t.call("POST", V2, "Users", Some(body("Jane Doe!", "jane.doe@new.example"))).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["userName"], "jane_doe_");
    assert_eq!(b["nickName"], "jane_doe_");
    assert_eq!(b["displayName"], "jane_doe_");
    assert!(b["userType"].is_null() && b.get("userType").is_some());
    assert_eq!(b["groups"], json!([]));
    assert_eq!(b["active"], true);
    let id = b["id"].as_str().unwrap().to_string();
    assert!(id.starts_with('W') && id.len() == 11);
    assert!(b["meta"]["created"].as_str().unwrap().ends_with("+00:00"));
    assert!(b["meta"]["location"].as_str().unwrap().ends_with(&format!("/scim/v2/Users/{id}")));
    let u = User::from_value(b).unwrap();
    assert_eq!(u.department(), Some("R&D"));
    assert_eq!(u.manager_id(), Some(boss.as_str()));
    // readable by id on both versions
    let (s, b) = t.get(V1, &format!("Users/{id}")).await;
    assert_eq!(s, 200);
    assert!(b.get(urn::V1_ENTERPRISE).is_some(), "{b}");
    // email from userName: local part
    let (s, b, _) = t.call("POST", V1, "Users", Some(body("Mail.Person@x.example", "mail.person@x.example"))).await;
    assert_eq!((s, b["userName"].as_str()), (201, Some("mail.person")));
    // conflicts
    let (s, b, _) = t.call("POST", V2, "Users", Some(body("someone", "JANE.DOE@new.example"))).await;
    assert_eq!((s, v2_code(&b)), (409, "email_taken"));
    let (s, b, _) = t.call("POST", V1, "Users", Some(body("JANE DOE!", "other@new.example"))).await;
    assert_eq!(s, 409);
    assert!(v1_desc(&b).starts_with("username_taken"));
    let long = "abcdefghijklmnopqrstuv";
    let (s, b, _) = t.call("POST", V1, "Users", Some(body(long, "long@new.example"))).await;
    assert_eq!((s, v1_desc(&b).to_string()), (400, format!("long_username (user={long})")));
    let (s, b, _) = t.call("POST", V2, "Users", Some(body(long, "long@new.example"))).await;
    assert_eq!((s, v2_code(&b)), (400, "username_too_long"));
    let (s, b, _) = t.call("POST", V2, "Users", Some(json!({"userName":"x","emails":[{"value":"x@y.example"}]}))).await;
    assert_eq!((s, v2_code(&b)), (400, "missing_schema_element"));
    let (s, b, _) = t.call("POST", V2, "Users", Some(json!({"schemas":[urn::V2_USER],"userName":"x","emails":[{"value":"nope"}]}))).await;
    assert_eq!((s, v2_code(&b)), (400, "email_invalid"));
    t.emu.shutdown().await;
}

#[tokio::test]
async fn delete_deactivates_and_protects() {
    let t = start(50).await;
    let u = t.plain_user(0).await;
    let path = format!("Users/{}", u.id());
    for _ in 0..3 {
        let (s, b, _) = t.call("DELETE", V2, &path, None).await;
        assert_eq!((s, b), (204, Value::Null));
    }
    let (s, b) = t.get(V2, &path).await;
    assert_eq!((s, b["active"].as_bool()), (200, Some(false)));
    let hit = t.find(&format!("userName eq \"{}\"", u.user_name.clone().unwrap())).await.unwrap();
    assert_eq!(hit.active, Some(false));
    let u2 = t.plain_user(0).await;
    let (s, _, _) = t.call("DELETE", V1, &format!("Users/{}", u2.id()), None).await;
    assert_eq!(s, 200);
    let (s, b, _) = t.call("DELETE", V2, &format!("Users/{}", t.emu.primary_owner_id()), None).await;
    assert_eq!((s, v2_code(&b)), (400, "cannot_disable_primary_owner"));
    let bot = t.emu.bot_ids()[0].clone();
    let (s, b, _) = t.call("DELETE", V1, &format!("Users/{bot}"), None).await;
    assert_eq!((s, v1_desc(&b)), (400, "cannot_disable_bot_user_with_scim"));
    let (s, b, _) = t.call("DELETE", V2, "Users/WNOSUCHUSER", None).await;
    assert_eq!((s, v2_code(&b)), (404, "no_such_user"));
    // reactivate via PATCH
    let (s, b, _) = t
        .call("PATCH", V2, &path, Some(json!({"schemas":[urn::V2_PATCH],"Operations":[{"op":"replace","path":"active","value":true}]})))
        .await;
    assert_eq!((s, b["active"].as_bool()), (200, Some(true)));
    t.emu.shutdown().await;
}

#[tokio::test]
async fn patch_and_put() {
    let t = start(50).await;
    let u = t.plain_user(1).await;
    let path = format!("Users/{}", u.id());
    let boss = t.plain_user(2).await.id().to_string();
    let ops = json!({"schemas":[urn::V2_PATCH],"Operations":[
        {"op":"replace","path":"title","value":"Chief Tester"},
        {"op":"replace","path":"name.familyName","value":"Newname"},
        {"op":"replace","path":format!("{}.manager.managerId", urn::V2_ENTERPRISE),"value":boss},
        {"op":"add","path":"emails","value":[{"value":"alt@acme-corp.example","primary":false}]},
        {"op":"replace","value":{"displayName":"Tester"}}]});
    let (s, b, _) = t.call("PATCH", V2, &path, Some(ops)).await;
    assert_eq!(s, 200, "{b}");
    let p = User::from_value(b).unwrap();
    assert_eq!(p.title.as_deref(), Some("Chief Tester"));
    assert_eq!(p.name.as_ref().unwrap().family_name.as_deref(), Some("Newname"));
    assert_eq!(p.manager_id(), Some(boss.as_str()));
    assert_eq!(p.emails.as_ref().unwrap().len(), 2);
    assert_eq!(p.display_name.as_deref(), Some("Tester"));
    assert_eq!(p.department(), u.department(), "enterprise siblings kept");
    // v1 partial resource: " " clears, operation delete removes an email
    let v1 = json!({"schemas":[urn::V1_CORE],"title":" ","emails":[{"value":"alt@acme-corp.example","operation":"delete"}]});
    let (s, b, _) = t.call("PATCH", V1, &path, Some(v1)).await;
    assert_eq!(s, 200, "{b}");
    let p = User::from_value(b).unwrap();
    assert_eq!(p.title, None);
    assert_eq!(p.emails.as_ref().unwrap().len(), 1);
    // PUT is a full replace; omitted active means false
    let put = json!({"schemas":[urn::V2_USER],"userName":"put.user","nickName":"put.user",
        "emails":[{"value":"put.user@acme-corp.example","primary":true}]});
    let (s, b, _) = t.call("PUT", V2, &path, Some(put)).await;
    assert_eq!(s, 200, "{b}");
    let p = User::from_value(b).unwrap();
    assert_eq!(p.user_name.as_deref(), Some("put.user"));
    assert_eq!(p.title, None);
    assert_eq!(p.enterprise, None);
    assert_eq!(p.active, Some(false));
    assert_eq!(p.id(), u.id());
    let (s, b, _) = t.call("PUT", V2, &path, Some(json!({"schemas":[urn::V2_USER],"userName":"x"}))).await;
    assert_eq!((s, v2_code(&b)), (400, "email_empty"));
    // the old email is free again, the new one is indexed
    assert!(t.find(&format!("email eq \"{}\"", u.primary_email().unwrap())).await.is_none());
    assert_eq!(t.find("email eq \"put.user@acme-corp.example\"").await.unwrap().id(), u.id());
    t.emu.shutdown().await;
}

#[tokio::test]
async fn group_membership() {
    let t = start(60).await;
    let a = t.plain_user(0).await;
    let b = t.plain_user(1).await;
    let c = t.plain_user(2).await;
    let (s, g, _) =
        t.call("POST", V2, "Groups", Some(json!({"schemas":[urn::V2_GROUP],"displayName":"test-team","members":[{"value":a.id()}]}))).await;
    assert_eq!(s, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    assert!(gid.starts_with('S'));
    let gpath = format!("Groups/{gid}");
    let (s, _, _) = t.call("POST", V2, "Groups", Some(json!({"schemas":[urn::V2_GROUP],"displayName":"TEST-team"}))).await;
    assert_eq!(s, 409);
    let patch = |ops: Value| json!({"schemas":[urn::V2_PATCH],"Operations":ops});
    let (s, g, _) =
        t.call("PATCH", V2, &gpath, Some(patch(json!([{"op":"add","path":"members","value":[{"value":b.id()},{"value":c.id()}]}])))).await;
    assert_eq!((s, g["members"].as_array().unwrap().len()), (200, 3));
    // user's groups attribute follows
    let (_, ub) = t.get(V2, &format!("Users/{}", b.id())).await;
    assert!(ub["groups"].as_array().unwrap().iter().any(|x| x["value"] == gid.as_str() && x["display"] == "test-team"), "{ub}");
    // quoted and unquoted filter paths
    let (_, g, _) =
        t.call("PATCH", V2, &gpath, Some(patch(json!([{"op":"remove","path":format!("members[value eq \"{}\"]", a.id())}])))).await;
    assert_eq!(g["members"].as_array().unwrap().len(), 2);
    let (_, g, _) = t.call("PATCH", V2, &gpath, Some(patch(json!([{"op":"remove","path":format!("members[value eq {}]", b.id())}])))).await;
    let ids: Vec<&str> = g["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![c.id()]);
    let (_, ub) = t.get(V2, &format!("Users/{}", b.id())).await;
    assert!(!ub["groups"].as_array().unwrap().iter().any(|x| x["value"] == gid.as_str()));
    // v1 mixed add/remove -> 204 without body
    let (s, body, _) = t
        .call(
            "PATCH",
            V1,
            &gpath,
            Some(json!({"schemas":[urn::V1_CORE],"members":[{"value":a.id()},{"value":c.id(),"operation":"delete"}]})),
        )
        .await;
    assert_eq!((s, body), (204, Value::Null));
    let (_, g) = t.get(V2, &gpath).await;
    assert_eq!(g["members"], json!([{"value": a.id(), "display": a.label()}]));
    // unknown member
    let (s, e, _) =
        t.call("PATCH", V2, &gpath, Some(patch(json!([{"op":"add","path":"members","value":[{"value":"WNOSUCH0001"}]}])))).await;
    assert_eq!((s, v2_code(&e)), (400, "no_such_group_members"));
    // rename via PATCH, then rename-only PUT empties the group
    let (_, g, _) = t.call("PATCH", V2, &gpath, Some(patch(json!([{"op":"replace","path":"displayName","value":"renamed-team"}])))).await;
    assert_eq!(g["displayName"], "renamed-team");
    let (s, g, _) = t.call("PUT", V2, &gpath, Some(json!({"schemas":[urn::V2_GROUP],"displayName":"put-team"}))).await;
    assert_eq!((s, g["members"].clone(), g["displayName"].clone()), (200, json!([]), json!("put-team")));
    let (s, _, _) = t.call("DELETE", V2, &gpath, None).await;
    assert_eq!(s, 204);
    let (s, e) = t.get(V2, &gpath).await;
    assert_eq!((s, v2_code(&e)), (404, "no_such_group"));
    t.emu.shutdown().await;
}

#[tokio::test]
async fn rate_limit_429_with_retry_after() {
    let t = start(30).await;
    let u = t.plain_user(0).await;
    let path = format!("Users/{}", u.id());
    let body = json!({"schemas":[urn::V2_PATCH],"Operations":[{"op":"replace","path":"title","value":"x"}]});
    // Off: no limit
    for _ in 0..25 {
        assert_eq!(t.call("PATCH", V2, &path, Some(body.clone())).await.0, 200);
    }
    // Slack at 1/10: PATCH /Users burst floor(20*0.1) = 2, then 18/min -> ~3.3 s to wait.
    t.emu.set_rate_limit(RateLimitMode::Slack { scale: 0.1 });
    assert_eq!(t.call("PATCH", V2, &path, Some(body.clone())).await.0, 200);
    assert_eq!(t.call("PATCH", V2, &path, Some(body.clone())).await.0, 200);
    let (s, b, h) = t.call("PATCH", V2, &path, Some(body.clone())).await;
    assert_eq!((s, v2_code(&b)), (429, "too_many_requests"));
    let ra: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3..=4).contains(&ra), "{ra}");
    // reads have their own budget
    assert_eq!(t.get(V2, &path).await.0, 200);
    let (s, b, h) = t.call("PATCH", V1, &path, Some(json!({"schemas":[urn::V1_CORE],"title":"y"}))).await;
    assert_eq!((s, v1_desc(&b)), (429, "too_many_requests"));
    assert!(h.contains_key("retry-after"));
    assert_eq!(t.emu.stats().rate_limited, 2);
    t.emu.set_rate_limit(RateLimitMode::Off);
    assert_eq!(t.call("PATCH", V2, &path, Some(body)).await.0, 200);
    t.emu.shutdown().await;
}

#[tokio::test]
async fn object_lock_429() {
    let t = start(30).await;
    let u = t.plain_user(0).await;
    let other = t.plain_user(1).await;
    t.emu.set_latency(Duration::from_millis(400));
    t.emu.reset_stats();
    let body = json!({"schemas":[urn::V2_PATCH],"Operations":[{"op":"replace","path":"title","value":"locked"}]});
    let (http, url, tok, b1) = (t.http.clone(), t.url(V2, &format!("Users/{}", u.id())), t.emu.token().to_string(), body.clone());
    let first = tokio::spawn(async move { http.patch(url).bearer_auth(tok).json(&b1).send().await.unwrap().status().as_u16() });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (s, b, h) = t.call("PATCH", V2, &format!("Users/{}", u.id()), Some(body.clone())).await;
    assert_eq!((s, v2_code(&b)), (429, "resource_locked"));
    assert_eq!(h["retry-after"], "1");
    assert_eq!(first.await.unwrap(), 200);
    // writes to different objects do not collide; sequential writes to one object are fine
    let (pu, po) = (format!("Users/{}", u.id()), format!("Users/{}", other.id()));
    let (a, b2) = tokio::join!(t.call("PATCH", V2, &pu, Some(body.clone())), t.call("PATCH", V2, &po, Some(body.clone())));
    assert_eq!((a.0, b2.0), (200, 200));
    let st = t.emu.stats();
    assert_eq!(st.lock_conflicts, 1);
    assert_eq!(st.max_concurrent_writes_per_object, 2);
    assert!(st.log.iter().any(|&(_, _, s)| s == 429));
    t.emu.shutdown().await;
}

#[tokio::test]
async fn injected_503_and_reset() {
    let t = start(30).await;
    let u = t.plain_user(0).await;
    t.emu.set_faults(Faults { p503: 1.0, ..Default::default() });
    let (s, b) = t.get(V2, "Users?count=1").await;
    assert_eq!((s, v2_code(&b)), (503, "service_unavailable"));
    t.emu.set_faults(Faults { reset: 1.0, ..Default::default() });
    let body = json!({"schemas":[urn::V2_PATCH],"Operations":[{"op":"replace","path":"title","value":"after reset"}]});
    let r = t.http.patch(t.url(V2, &format!("Users/{}", u.id()))).bearer_auth(t.emu.token()).json(&body).send().await;
    assert!(r.is_err(), "a reset must not produce an HTTP response: {r:?}");
    t.emu.set_faults(Faults::default());
    // the write happened although no answer came (ambiguous failure)
    let (s, b) = t.get(V2, &format!("Users/{}", u.id())).await;
    assert_eq!((s, b["title"].as_str()), (200, Some("after reset")));
    let st = t.emu.stats();
    assert_eq!((st.injected_503, st.injected_resets), (1, 1));
    assert!(st.log.iter().any(|&(_, _, s)| s == 0));
    // slow: adds slow_delay
    t.emu.set_faults(Faults { slow: 1.0, slow_delay: Duration::from_millis(300), ..Default::default() });
    let t0 = std::time::Instant::now();
    assert_eq!(t.get(V2, "Users?count=1").await.0, 200);
    assert!(t0.elapsed() >= Duration::from_millis(300));
    t.emu.shutdown().await;
}
