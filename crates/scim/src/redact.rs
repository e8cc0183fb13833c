//! The secrets this process holds (the SCIM token, a directory password sent in a create), kept
//! so that any text can be scrubbed of them, whatever their shape.
//!
//! Every [`Secret`](crate::Secret) registers itself when it is made; the client also registers
//! a password it sends. The client scrubs each response body before parsing it, so a server that
//! echoes the token in an error message (or in a user's title) cannot get it into an error, the
//! journal, a report or the terminal; the journal, the report store and the headless error
//! printer call [`redact`] once more on what they store or show.

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

/// `text` with every registered secret replaced by [`REDACTED`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let all = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    if !all.iter().any(|k| text.contains(k.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for k in all.iter() {
        if out.contains(k.as_str()) {
            out = out.replace(k.as_str(), REDACTED);
        }
    }
    Cow::Owned(out)
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
    match out {
        Some(v) => Cow::Owned(v),
        None => Cow::Borrowed(bytes),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, tail) = needle.split_first()?;
    let mut from = 0;
    while let Some(p) = hay[from..].iter().position(|&b| b == first) {
        let i = from + p;
        if hay.len() - i < needle.len() {
            return None;
        }
        if &hay[i + 1..i + needle.len()] == tail {
            return Some(i);
        }
        from = i + 1;
    }
    None
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
}
