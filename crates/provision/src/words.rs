//! Counted nouns for what people read: `1 member`, `2 members`.

/// `n` and the noun, plural unless `n` is 1 (`count(1, "operation")` = `1 operation`).
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
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
