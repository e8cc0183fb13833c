//! Counted nouns and numbers for what people read: `1 member`, `2 members`, `12,345`.

/// `n` and the noun, plural unless `n` is 1 (`count(1, "operation")` = `1 operation`).
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// `n` with a comma between each group of three digits (`12345` = `12,345`).
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_is_singular() {
        assert_eq!(super::count(1, "member"), "1 member");
        assert_eq!(super::count(0, "member"), "0 members");
        assert_eq!(super::count(12, "operation"), "12 operations");
    }
}
