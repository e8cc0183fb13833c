//! `cargo bench --bench redact`: what scrubbing the token from every answer costs
//! (`scim::redact::redact_bytes`, run on each response body before it is parsed), on a list page
//! of 1,000 users as Slack writes it (UTF-8 as is, no backslash: the raw search only) and as a
//! server that escapes every non-ASCII character writes it (`\u00e9`, as Python's `json.dumps`
//! does: the raw search and the JSON-escaped one). Prints `name: value` lines; the two are
//! measured side by side in one run, and their ratio is the cost of finding escaped secrets.
//! `REDACT_BENCH_ROUNDS` changes the rounds (default 200).

use std::time::Instant;

use scimitar::scim::redact::{redact_bytes, register};

fn page(escaped: bool) -> Vec<u8> {
    let mut s = String::from(r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1000,"Resources":["#);
    for i in 0..1000 {
        let (name, family) =
            if escaped { ("Ren\\u00e9e Z\\u00f6e M\\u00fcller", "Nguy\\u1ec5n") } else { ("Renée Zöe Müller", "Nguyễn") };
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"W{i:010}","userName":"user{i}","displayName":"{name}","name":{{"givenName":"{name}","familyName":"{family}"}},"title":"Senior Engineer, Platform","active":true,"emails":[{{"value":"user{i}@acme-corp.example","primary":true,"type":"work"}}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{{"department":"Engineering","manager":{{"value":"W0000000001"}}}}}}"#
        ));
    }
    s.push_str("]}");
    s.into_bytes()
}

fn main() {
    let rounds: usize = std::env::var("REDACT_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    register("xoxp-1234567890-bench-token-abcdef");
    register("a-directory-password-9");
    let (plain, escaped) = (page(false), page(true));
    assert!(!plain.contains(&b'\\') && escaped.contains(&b'\\'));
    let time = |body: &[u8]| {
        let t = Instant::now();
        let mut n = 0;
        for _ in 0..rounds {
            n += redact_bytes(std::hint::black_box(body)).len();
        }
        std::hint::black_box(n);
        let secs = t.elapsed().as_secs_f64();
        (body.len() as f64 * rounds as f64) / secs / 1e6
    };
    let p = time(&plain);
    let e = time(&escaped);
    println!("redact_page_bytes: {}", plain.len());
    println!("redact_plain_mb_per_s: {p:.0}");
    println!("redact_escaped_mb_per_s: {e:.0}");
    println!("redact_escaped_over_plain_time: {:.2}", p / e);
}
