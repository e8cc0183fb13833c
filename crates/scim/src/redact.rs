//! The secrets this process holds (the SCIM token, a directory password sent in a create), kept
//! so that any text can be scrubbed of them, whatever their shape.
//!
//! Every [`Secret`](crate::Secret) registers itself when it is made; the client also registers
//! a password it sends. The client scrubs each response body before parsing it, so a server that
//! echoes the token in an error message (or in a user's title) cannot get it into an error, the
//! journal, a report or the terminal; the journal, the report store and the headless error
//! printer call [`redact`] once more on what they store or show.
//!
//! A secret is found in its raw form and in any JSON-escaped form (`\u0074ok`, `tok\/x`, a
//! surrogate pair for a character beyond the BMP, each character raw or escaped as it may be),
//! so a server that echoes the token JSON-escaped gets `[redacted]` into the decoded text too:
//! what is redacted is what a JSON reader would decode, not only the bytes as sent.

use std::borrow::Cow;
use std::sync::RwLock;

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Shorter strings are not registered: scrubbing them would mangle ordinary text.
pub const MIN_SECRET_LEN: usize = 8;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remember a secret for [`redact`]. Idempotent; secrets shorter than [`MIN_SECRET_LEN`] are
/// ignored.
pub fn register(secret: &str) {
    let s = secret.trim();
    if s.len() < MIN_SECRET_LEN {
        return;
    }
    let mut all = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !all.iter().any(|k| k == s) {
        all.push(s.to_string());
        // Longest first, so a secret that contains another is replaced whole.
        all.sort_by_key(|k| std::cmp::Reverse(k.len()));
    }
}

/// `text` with every registered secret replaced by [`REDACTED`], raw or JSON-escaped.
pub fn redact(text: &str) -> Cow<'_, str> {
    match redact_bytes(text.as_bytes()) {
        Cow::Borrowed(_) => Cow::Borrowed(text),
        // Whole UTF-8 sequences were replaced by ASCII: still UTF-8.
        Cow::Owned(v) => Cow::Owned(String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())),
    }
}

/// As [`redact`], on raw bytes (a response body before it is parsed).
pub fn redact_bytes(bytes: &[u8]) -> Cow<'_, [u8]> {
    let all = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out: Option<Vec<u8>> = None;
    for k in all.iter() {
        let k = k.as_bytes();
        let cur: &[u8] = out.as_deref().unwrap_or(bytes);
        if find(cur, k).is_none() {
            continue;
        }
        let mut next = Vec::with_capacity(cur.len());
        let mut rest = cur;
        while let Some(i) = find(rest, k) {
            next.extend_from_slice(&rest[..i]);
            next.extend_from_slice(REDACTED.as_bytes());
            rest = &rest[i + k.len()..];
        }
        next.extend_from_slice(rest);
        out = Some(next);
    }
    // JSON escapes: only where there is a backslash at all (most bodies have none).
    if out.as_deref().unwrap_or(bytes).contains(&b'\\') {
        for k in all.iter() {
            let cur: &[u8] = out.as_deref().unwrap_or(bytes);
            if let Some(v) = replace_escaped(cur, k) {
                out = Some(v);
            }
        }
    }
    match out {
        Some(v) => Cow::Owned(v),
        None => Cow::Borrowed(bytes),
    }
}

/// `hay` with every JSON-escaped rendering of `secret` replaced, or None when there is none.
fn replace_escaped(hay: &[u8], secret: &str) -> Option<Vec<u8>> {
    let first = *secret.as_bytes().first()?;
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut i = 0;
    // Only where the secret's first byte or a backslash (an escape of its first character) is.
    while let Some(at) = memchr::memchr2(first, b'\\', &hay[i..]) {
        i += at;
        if let Some(len) = match_escaped(&hay[i..], secret) {
            let o = out.get_or_insert_with(|| Vec::with_capacity(hay.len()));
            o.extend_from_slice(&hay[copied..i]);
            o.extend_from_slice(REDACTED.as_bytes());
            i += len;
            copied = i;
        } else {
            i += 1;
        }
    }
    let mut o = out?;
    o.extend_from_slice(&hay[copied..]);
    Some(o)
}

/// The length of `secret` at the start of `hay`, each character raw or JSON-escaped.
fn match_escaped(hay: &[u8], secret: &str) -> Option<usize> {
    let mut i = 0;
    for c in secret.chars() {
        let mut buf = [0u8; 4];
        let raw = c.encode_utf8(&mut buf).as_bytes();
        if hay[i..].starts_with(raw) {
            i += raw.len();
            continue;
        }
        if hay.get(i) != Some(&b'\\') {
            return None;
        }
        let (d, len) = decode_escape(&hay[i..])?;
        if d != c {
            return None;
        }
        i += len;
    }
    Some(i)
}

/// The character a JSON escape at the start of `h` (which starts with a backslash) stands for,
/// and its length in bytes.
fn decode_escape(h: &[u8]) -> Option<(char, usize)> {
    let hex4 = |b: &[u8]| -> Option<u32> { b.iter().try_fold(0u32, |n, &d| Some(n << 4 | (d as char).to_digit(16)?)) };
    let simple = match *h.get(1)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let u1 = hex4(h.get(2..6)?)?;
            if !(0xD800..0xDC00).contains(&u1) {
                return Some((char::from_u32(u1)?, 6));
            }
            if h.get(6..8)? != b"\\u" {
                return None;
            }
            let u2 = hex4(h.get(8..12)?)?;
            if !(0xDC00..0xE000).contains(&u2) {
                return None;
            }
            return Some((char::from_u32(0x10000 + ((u1 - 0xD800) << 10) + (u2 - 0xDC00))?, 12));
        }
        _ => return None,
    };
    Some((simple, 2))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_of_any_shape_are_scrubbed() {
        register("s3cr3t-token-of-any-shape");
        register("short");
        assert_eq!(redact("echo s3cr3t-token-of-any-shape back"), "echo [redacted] back");
        assert_eq!(redact("a short word"), "a short word");
        assert!(matches!(redact("nothing here"), Cow::Borrowed(_)));
        let b = redact_bytes(br#"{"detail":"bad token s3cr3t-token-of-any-shape, s3cr3t-token-of-any-shape"}"#);
        assert_eq!(&*b, br#"{"detail":"bad token [redacted], [redacted]"}"#);
        assert_eq!(&*redact_bytes(b"s3cr3t-token-of-any-shap"), b"s3cr3t-token-of-any-shap");
    }

    #[test]
    fn json_escaped_secrets_are_scrubbed_as_they_decode() {
        let secret = "esc/ap\u{e9}d-t\u{f6}ken-\u{1f600}-9";
        register(secret);
        let every: String = secret.encode_utf16().map(|u| format!("\\u{u:04x}")).collect();
        let upper = every.to_uppercase().replace("\\U", "\\u");
        let slashed = secret.replace('/', "\\/");
        let mixed = "e\\u0073c\\/ap\\u00e9d-t\\u00f6ken-\\ud83d\\ude00-9".to_string();
        for form in [every.as_str(), upper.as_str(), slashed.as_str(), mixed.as_str()] {
            let body = format!(r#"{{"detail":"bad token {form} given, {form}"}}"#);
            let out = redact_bytes(body.as_bytes());
            let out = std::str::from_utf8(&out).unwrap();
            assert_eq!(out, r#"{"detail":"bad token [redacted] given, [redacted]"}"#, "{form}");
            // What a JSON reader decodes holds no secret either.
            let v: serde_json::Value = serde_json::from_str(out).unwrap();
            assert!(!v["detail"].as_str().unwrap().contains(secret));
            assert_eq!(redact(&body), out);
        }
        // Escaped text that is not the secret is left alone, byte for byte.
        let other = r#"{"detail":"caf\u00e9 \/ \u0065sc\/ap"}"#;
        assert!(matches!(redact_bytes(other.as_bytes()), Cow::Borrowed(_)));
    }
}
