//! The terminal sanitiser and the JSON escaper (`scim::sanitize`) on arbitrary text: the output
//! holds no ESC, no C0/C1 control (beyond the line breaks and tabs a mode keeps), no bidi control
//! and no invisible character; cleaning is idempotent; the JSON escaper loses nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim::sanitize::{self, clean, clean_keep_lines, clean_lines, excerpt, is_bidi_control, is_clean, is_invisible, quoted_excerpt};

fn raw(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || is_invisible(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let s = s.as_ref();
    let modes: [(fn(&str) -> String, &[char]); 3] = [(clean, &[]), (clean_lines, &['\n']), (clean_keep_lines, &['\t', '\n', '\r'])];
    for (f, kept) in modes {
        let once = f(s);
        assert_eq!(f(&once), once, "not idempotent on {s:?}");
        if let Some(c) = once.chars().find(|&c| raw(c) && !kept.contains(&c)) {
            panic!("{:?} left in {once:?} (from {s:?})", c);
        }
    }
    assert!(is_clean(&clean(s)), "clean() output is not is_clean: {s:?}");
    if is_clean(s) {
        assert_eq!(clean(s), s, "clean() changed text is_clean() accepts: {s:?}");
    }
    for n in [0usize, 1, 7, 80] {
        let e = excerpt(s, n);
        assert!(!e.chars().any(raw), "{e:?}");
        assert!(e.chars().count() <= n + " (18446744073709551615 bytes in all)…".chars().count(), "{e:?}");
        let q = quoted_excerpt(s, n);
        assert!(!q.chars().any(raw), "{q:?}");
    }
    let v = serde_json::json!({ "v": s, s: [s] });
    for out in [sanitize::to_json_string(&v), {
        let mut b = Vec::new();
        sanitize::write_json_pretty(&mut b, &v).unwrap();
        String::from_utf8(b).unwrap()
    }] {
        if let Some(c) = out.chars().find(|&c| raw(c) && c != '\n') {
            panic!("{c:?} written raw in JSON {out:?}");
        }
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back, v, "the JSON escaper lost data");
    }
});
